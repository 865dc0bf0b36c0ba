#!/usr/bin/env bash
# Installs what is missing, builds weft three ways and runs every test:
#   release        all tests (unit, stress, lint), warnings as errors
#   asan+ubsan     all tests, with the allocation hook (-Dalloc_hook=true),
#                  so the allocation-failure sweeps run under LeakSanitizer
#   tsan           the stress programs (Criterion cannot run under TSan)
# plus a clang build that must compile without warnings, and the short
# forms of the reliability tools (each counts as one test):
#   fuzz           tools/fuzz.sh: the libFuzzer target (clang), FUZZ_CI
#                  executions (default 20000)
#   soak           tools/soak.sh on the release build for SOAK_CI
#                  (default 60s) at WEFT_STRESS_SCALE=SOAK_CI_SCALE (0.2)
#   coverage       tools/coverage.sh: line coverage of deque/, future/,
#                  runtime/ must be at least COVERAGE_MIN% (default 90)
#   mutate         tools/mutate.py: MUTATE_CI (default 3) mutations of
#                  tools/mutations.txt drawn at random (the seed is
#                  printed), each built and tested in build-mutate/ci/;
#                  fails if any mutation of the list no longer applies to
#                  the sources or does not build. Killed or survived is
#                  reported, not judged: the full run's kill rate is in
#                  tests/MUTATIONS.md
# The last line is the total: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

tools/deps.sh test || { echo "0 passed, 1 failed"; exit 1; }

export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"

# TSan cannot map its shadow memory with more than 28 random mmap bits.
tsan_wrap=()
bits=$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 28)
if [ "$bits" -gt 28 ]; then
	sysctl -qw vm.mmap_rnd_bits=28 2>/dev/null || tsan_wrap=(setarch "$(uname -m)" -R)
fi

passed=0
failed=0

# configure DIR COMPILER ARGS...: a fresh build directory.
configure() {
	local dir=$1 compiler=$2
	shift 2
	rm -rf "$dir"
	# The C++ compiler of the same family: with LTO, gcc cannot link
	# clang's objects (the oneTBB benchmark is C++).
	local cxx=g++
	[ "$compiler" = clang ] && cxx=clang++
	CC=$compiler CXX=$cxx meson setup "$dir" -Dwerror=true "$@" \
		>"$dir.setup.log" 2>&1 ||
		{ cat "$dir.setup.log"; return 1; }
}

# run_suite NAME DIR [meson test args]: builds and tests, counts results.
run_suite() {
	local name=$1 dir=$2
	shift 2
	echo "=== $name"
	if ! ninja -C "$dir" >"$dir.build.log" 2>&1; then
		tail -n 40 "$dir.build.log"
		echo "$name: build failed"
		failed=$((failed + 1))
		return
	fi
	"${tsan_wrap[@]}" meson test -C "$dir" --print-errorlogs "$@" | tee "$dir.test.log"
	local ok fail
	ok=$(grep -E '^Ok:' "$dir.test.log" | awk '{print $2}')
	fail=$(grep -E '^(Fail|Unexpected Pass|Timeout):' "$dir.test.log" | awk '{s+=$NF} END {print s+0}')
	passed=$((passed + ${ok:-0}))
	failed=$((failed + ${fail:-0}))
	if [ -z "$ok" ]; then
		failed=$((failed + 1))
	fi
}

configure build-release gcc --buildtype=release &&
	run_suite "release (gcc)" build-release || failed=$((failed + 1))

configure build-asan gcc --buildtype=debugoptimized \
	-Db_sanitize=address,undefined -Db_lundef=false -Db_lto=false \
	-Dalloc_hook=true &&
	run_suite "asan+ubsan (gcc)" build-asan --timeout-multiplier 3 ||
	failed=$((failed + 1))

configure build-tsan gcc --buildtype=debugoptimized -Db_sanitize=thread \
	-Db_lto=false &&
	run_suite "tsan (gcc)" build-tsan --suite stress --timeout-multiplier 5 ||
	failed=$((failed + 1))

echo "=== clang build (warnings are errors)"
if configure build-clang clang --buildtype=release -Dbenchmarks=true &&
	ninja -C build-clang >build-clang.build.log 2>&1; then
	passed=$((passed + 1))
else
	tail -n 40 build-clang.build.log 2>/dev/null
	failed=$((failed + 1))
fi

# tool NAME COMMAND...: one test that passes iff COMMAND exits 0.
tool() {
	local name=$1
	shift
	echo "=== $name"
	local t0=$SECONDS
	if "$@" 2>&1 | tee "build-$name.log" | tail -n 25; [ "${PIPESTATUS[0]}" -eq 0 ]; then
		passed=$((passed + 1))
	else
		echo "$name: FAILED (build-$name.log)"
		failed=$((failed + 1))
	fi
	echo "$name: $((SECONDS - t0)) s"
}

tool fuzz tools/fuzz.sh "${FUZZ_CI:-20000}"
SOAK_BUILD=build-release WEFT_STRESS_SCALE=${SOAK_CI_SCALE:-0.2} \
	tool soak tools/soak.sh "${SOAK_CI:-60s}" build-soak-ci.log
tool coverage tools/coverage.sh "${COVERAGE_MIN:-90}"
tool mutate tools/mutate.py --sample "${MUTATE_CI:-3}" --no-baseline \
	--cap 300 --dir build-mutate/ci

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
