#!/usr/bin/env bash
# Soak: runs every stress program in a loop for DURATION, with background
# CPU noise, while one long-lived process (the shutdown race: pools,
# futures, continuations and pipelines created and destroyed without
# end) runs beside them and its RSS is sampled. Prints a summary.
#
#   tools/soak.sh DURATION [LOG]
#
# DURATION: seconds, or with a unit: 90s, 10m, 1h. LOG: where the full
# log goes (default build-soak/soak.log). Environment:
#   WEFT_STRESS_SCALE  the stress programs' size scale (default 1)
#   SOAK_NOISE         stress-ng arguments for the noise
#                      (default "--cpu 1 --cpu-load 50"; "none" for none)
#   SOAK_BUILD         the build directory (default build-soak, release)
#   SOAK_SAMPLE        seconds between RSS samples (default 10)
#
# An anomaly is a program that exits non-zero, reports a failed check,
# hangs (its watchdog fires, or it outlives a 15-minute timeout) or prints
# a sanitizer report. RSS: each program's peak RSS per iteration, and the
# long-lived process's RSS sampled over time (after the first tenth of the
# soak, the warm-up); flat means the median of the second half of the
# samples is at most 10% (or 1 MB) above the first half's. The last line is
#   soak: OK|FAILED iterations N runs N anomalies N rss flat|GROWING
# and the exit status is 0 iff OK.
set -uo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: $0 DURATION[s|m|h] [LOG]" >&2; exit 2; }
[ $# -ge 1 ] || usage
case "$1" in
*h) duration=$((${1%h} * 3600)) ;;
*m) duration=$((${1%m} * 60)) ;;
*s) duration=${1%s} ;;
*) duration=$1 ;;
esac
[[ "$duration" =~ ^[0-9]+$ ]] && [ "$duration" -gt 0 ] || usage
build=${SOAK_BUILD:-build-soak}
log=${2:-$build/soak.log}
scale=${WEFT_STRESS_SCALE:-1}
noise=${SOAK_NOISE:---cpu 1 --cpu-load 50}
sample=${SOAK_SAMPLE:-10}

tools/deps.sh test || exit 1
need=()
command -v stress-ng >/dev/null || need+=(stress-ng)
[ -x /usr/bin/time ] || need+=(time)
if ((${#need[@]})); then
	echo "installing: ${need[*]}"
	sudo=""
	[ "$(id -u)" = 0 ] || sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" --buildtype=release >"$build.setup.log" 2>&1 ||
		{ cat "$build.setup.log"; exit 1; }
fi
ninja -C "$build" >"$build.build.log" 2>&1 || { tail -n 40 "$build.build.log"; exit 1; }
mapfile -t progs < <(find "$build/tests" -maxdepth 2 -type f -perm -u+x \
	-name 'stress_*' | sort)
[ ${#progs[@]} -gt 0 ] || { echo "no stress programs in $build"; exit 1; }
resident=$build/tests/runtime/stress_runtime_shutdown_race

mkdir -p "$(dirname "$log")"
work=$(mktemp -d)
: >"$log"
say() { echo "$*" | tee -a "$log"; }

start=$(date +%s)
end=$((start + duration))
say "soak: $(date -u +%Y-%m-%dT%H:%M:%SZ) for ${duration}s, scale $scale," \
	"noise '${noise}', ${#progs[@]} programs, $(nproc) CPUs, $(uname -r)"
say "soak: commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"

pids=()
if [ "$noise" != none ]; then
	# shellcheck disable=SC2086
	stress-ng $noise --timeout "$((duration + 60))s" --quiet &
	pids+=($!)
fi
# The long-lived process: its own runs until the soak ends.
WEFT_SOAK_SECONDS=$duration "$resident" >"$work/resident.out" 2>&1 &
resident_pid=$!
(
	while kill -0 "$resident_pid" 2>/dev/null; do
		rss=$(awk '/^VmRSS/ {print $2}' "/proc/$resident_pid/status" 2>/dev/null)
		[ -n "$rss" ] && echo "rss t=$(($(date +%s) - start)) kb=$rss" >>"$work/rss"
		sleep "$sample"
	done
) &
pids+=($!)
cleanup() {
	kill "${pids[@]}" "$resident_pid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

iter=0
runs=0
anomalies=0
while [ "$(date +%s)" -lt "$end" ]; do
	iter=$((iter + 1))
	for prog in "${progs[@]}"; do
		[ "$(date +%s)" -lt "$end" ] || break
		name=$(basename "$prog")
		WEFT_STRESS_SCALE=$scale /usr/bin/time -f "%M %e" -o "$work/time" \
			timeout 900 "$prog" >"$work/out" 2>&1
		rc=$?
		read -r rss secs <"$work/time" 2>/dev/null || { rss=0; secs=0; }
		result=$(tail -n 1 "$work/out")
		seed=$(grep -m1 -oE 'WEFT_SEED=(0x)?[0-9a-f]+' "$work/out")
		runs=$((runs + 1))
		status=ok
		if [ "$rc" -ne 0 ] || ! [[ "$result" =~ ^[0-9]+\ passed,\ 0\ failed$ ]] ||
			grep -qE 'WATCHDOG|Sanitizer|runtime error' "$work/out"; then
			status=ANOMALY
			anomalies=$((anomalies + 1))
			cp "$work/out" "$log.anomaly-$iter-$name"
		fi
		say "run iter=$iter prog=$name status=$status rc=$rc rss_kb=$rss secs=$secs $seed result='$result'"
	done
done

# The long-lived process ends on its own at the deadline.
wait "$resident_pid"
resident_rc=$?
resident_result=$(tail -n 1 "$work/resident.out")
status=ok
if [ "$resident_rc" -ne 0 ] || ! [[ "$resident_result" =~ ^[0-9]+\ passed,\ 0\ failed$ ]]; then
	status=ANOMALY
	anomalies=$((anomalies + 1))
	cp "$work/resident.out" "$log.anomaly-resident"
fi
say "resident prog=$(basename "$resident") status=$status rc=$resident_rc result='$resident_result'"
grep -E '^  ' "$work/resident.out" | sed 's/^/resident: /' | tee -a "$log"
cat "$work/rss" >>"$log" 2>/dev/null

# RSS trend: the median of the second half of the samples against the
# first half's (each program's peak RSS from its second iteration on; the
# long-lived process's RSS after the warm-up). Growing: more than 10% and
# more than 1 MB (a few-MB process's allocator warm-up is not a trend).
# A program needs at least four samples: each is a fresh process with its
# own seed, and one whose peak depends on timing (deque_stress's buffer
# doubles once more in some runs: 28 or 44 MB) would otherwise pass for a
# trend on two.
flat=$(awk -v warm=$((duration / 10)) '
	function median(a, lo, hi,   i, j, t, n, b) {
		n = 0;
		for (i = lo; i <= hi; i++) b[++n] = a[i];
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
			if (b[j] < b[i]) { t = b[i]; b[i] = b[j]; b[j] = t; }
		return b[int((n + 1) / 2)];
	}
	function verdict(name, n, a, least,   i, lo, hi, m1, m2, g, grow) {
		if (n < least) { printf "rss %s: %d sample(s), no trend\n", name, n; return 0; }
		lo = hi = a[1];
		for (i = 2; i <= n; i++) { if (a[i] < lo) lo = a[i]; if (a[i] > hi) hi = a[i]; }
		m1 = median(a, 1, int(n / 2)); m2 = median(a, int(n / 2) + 1, n);
		g = (m2 - m1) * 100 / m1;
		grow = g > 10 && m2 - m1 > 1024;
		printf "rss %s: %d samples, %d-%d kB, median %d kB then %d kB (%+.1f%%)%s\n",
			name, n, lo, hi, m1, m2, g, (grow ? " GROWING" : "");
		return grow;
	}
	/^run / {
		split($2, it, "="); split($3, pr, "="); split($6, rs, "=");
		if (it[2] + 0 >= 2 && rs[2] + 0 > 0) { n[pr[2]]++; v[pr[2], n[pr[2]]] = rs[2] + 0; }
	}
	/^rss t=/ {
		split($2, tt, "="); split($3, kb, "=");
		if (tt[2] + 0 >= warm) { rn++; r[rn] = kb[2] + 0; }
	}
	END {
		bad = 0;
		for (p in n) { delete a; for (i = 1; i <= n[p]; i++) a[i] = v[p, i]; bad += verdict(p, n[p], a, 4); }
		delete a; for (i = 1; i <= rn; i++) a[i] = r[i];
		bad += verdict("long-lived process, after warm-up", rn, a, 2);
		print bad ? "GROWING" : "flat";
	}' "$log")
echo "$flat" | sed '$d' | tee -a "$log"
rss_verdict=$(echo "$flat" | tail -n 1)

elapsed=$(($(date +%s) - start))
verdict=OK
[ "$anomalies" -eq 0 ] && [ "$rss_verdict" = flat ] || verdict=FAILED
say "soak: $verdict iterations $iter runs $runs anomalies $anomalies rss $rss_verdict elapsed ${elapsed}s"
[ "$verdict" = OK ]
