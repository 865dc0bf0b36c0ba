#!/usr/bin/env bash
# Builds the libFuzzer target tests/fuzz/fuzz_api (clang, ASan+UBSan,
# -Dfuzz=true) in build-fuzz/ and runs it, starting from the seed corpus
# tests/fuzz/corpus/ (left untouched: new inputs go to build-fuzz/corpus).
#
#   tools/fuzz.sh [LIMIT] [libFuzzer flags...]
#
# LIMIT: a number of executions (1000000) or a time (60s, 10m, 1h);
# default 60s. FUZZ_JOBS=n runs n processes in parallel, each with its
# share of an execution limit (default 1). A finding is saved as
# build-fuzz/crash-* (replay: build-fuzz/tests/fuzz/fuzz_api FILE).
# The last line is
#   fuzz: OK|FAILED execs N in S s (R/s), cov C, ft F, corpus K, findings N
# and the exit status is 0 iff no finding.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=build-fuzz
limit=${1:-60s}
[ $# -gt 0 ] && shift
jobs=${FUZZ_JOBS:-1}

case "$limit" in
*h) lim=(-max_total_time=$((${limit%h} * 3600))) ;;
*m) lim=(-max_total_time=$((${limit%m} * 60))) ;;
*s) lim=(-max_total_time=${limit%s}) ;;
*[!0-9]* | "") echo "usage: $0 [EXECS|SECONDSs|MINUTESm|HOURSh] [flags]" >&2; exit 2 ;;
*) lim=(-runs=$(((limit + jobs - 1) / jobs))) ;;
esac

tools/deps.sh test || exit 1
if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" --buildtype=debugoptimized \
		-Db_sanitize=address,undefined -Db_lundef=false -Db_lto=false \
		-Dfuzz=true \
		-Dwerror=true >"$build.setup.log" 2>&1 ||
		{ cat "$build.setup.log"; exit 1; }
fi
ninja -C "$build" tests/fuzz/fuzz_api >"$build.build.log" 2>&1 ||
	{ tail -n 40 "$build.build.log"; exit 1; }

mkdir -p "$build/corpus"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
t0=$(date +%s)
pids=()
for j in $(seq 1 "$jobs"); do
	(cd "$build" && exec tests/fuzz/fuzz_api "${lim[@]}" -max_len=192 \
		-print_final_stats=1 -artifact_prefix="$root/$build/" \
		-seed=$((t0 + j)) "$@" corpus "$root/tests/fuzz/corpus") \
		>"$build/fuzz-$j.log" 2>&1 &
	pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do
	wait "$pid" || failed=$((failed + 1))
done
secs=$(($(date +%s) - t0))

execs=0
cov=0
ft=0
for j in $(seq 1 "$jobs"); do
	log=$build/fuzz-$j.log
	n=$(awk -F: '/^stat::number_of_executed_units/ {print $NF+0}' "$log")
	execs=$((execs + ${n:-0}))
	# The last status line: "#N DONE cov: C ft: F corp: K/..."
	line=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
	c=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$line")
	f=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$line")
	[ "${c:-0}" -gt "$cov" ] && cov=$c
	[ "${f:-0}" -gt "$ft" ] && ft=$f
	if grep -qE 'ERROR: libFuzzer|ERROR: AddressSanitizer|runtime error|model disagreement' "$log"; then
		grep -B2 -A40 -m1 -E 'disagreement|ERROR: |runtime error' "$log"
	fi
done
corpus=$(find "$build/corpus" -type f | wc -l)
verdict=OK
[ "$failed" -eq 0 ] || verdict=FAILED
echo "fuzz: $verdict execs $execs in $secs s ($((execs / (secs > 0 ? secs : 1)))/s)," \
	"cov $cov, ft $ft, corpus $corpus, findings $failed"
[ "$failed" -eq 0 ]
