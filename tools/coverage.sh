#!/usr/bin/env bash
# Line coverage of deque/, future/ and runtime/ by the tests: builds with
# gcc --coverage (and the allocation hook, so the allocation-failure
# tests run) in build-coverage/, runs every unit and stress test at a
# small scale, and prints gcovr's table for the three directories. The
# hook itself (runtime/alloc_hook.c) is test code, not library code, and
# is left out of the figure.
#
#   tools/coverage.sh [MIN_PERCENT]
#
# WEFT_STRESS_SCALE (default 0.1) scales the stress programs; the last
# line is "coverage: N.N% lines (deque/ future/ runtime/)" and the exit
# status is 0 iff it is at least MIN_PERCENT (default 90).
set -uo pipefail
cd "$(dirname "$0")/.."
min=${1:-90}
build=build-coverage

tools/deps.sh test || exit 1
if ! command -v gcovr >/dev/null; then
	sudo=""
	[ "$(id -u)" = 0 ] || sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq gcovr >/dev/null
fi

rm -rf "$build"
CC=gcc meson setup "$build" --buildtype=debug -Db_coverage=true -Db_lto=false \
	-Dalloc_hook=true >"$build.setup.log" 2>&1 ||
	{ cat "$build.setup.log"; exit 1; }
ninja -C "$build" >"$build.build.log" 2>&1 ||
	{ tail -n 40 "$build.build.log"; exit 1; }
# The allocation sweeps at full length (every k), the random part short.
WEFT_STRESS_SCALE=${WEFT_STRESS_SCALE:-0.1} WEFT_ALLOC_RUNS=${WEFT_ALLOC_RUNS:-500} \
	meson test -C "$build" --suite unit --suite stress --num-processes 2 \
	--timeout-multiplier 3 >"$build.test.log" 2>&1
tests_rc=$?
grep -E '^(Ok|Fail|Timeout):' "$build.test.log"
[ "$tests_rc" -eq 0 ] || echo "coverage: some tests failed (see $build.test.log)"

report=$(gcovr -r . --object-directory "$build" \
	--filter 'deque/' --filter 'future/' --filter 'runtime/' \
	--exclude 'runtime/alloc_hook\.c$' \
	--exclude-unreachable-branches --print-summary 2>/dev/null)
echo "$report" | sed -n '/^---/,$p'
pct=$(sed -nE 's/^lines: ([0-9.]+)%.*/\1/p' <<<"$report")
echo "coverage: ${pct:-0}% lines (deque/ future/ runtime/)"
awk -v p="${pct:-0}" -v m="$min" 'BEGIN { exit !(p >= m) }' && [ "$tests_rc" -eq 0 ]
