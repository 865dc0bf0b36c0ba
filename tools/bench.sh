#!/usr/bin/env bash
# Installs what is missing, builds weft in release mode with its
# benchmarks, and runs them. Usage: tools/bench.sh [quick|full]
# Tables go to stdout and to results/.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-quick}

tools/deps.sh bench
if [ ! -f build-bench/build.ninja ]; then
	meson setup build-bench --buildtype=release -Dbenchmarks=true >/dev/null
fi
ninja -C build-bench >/dev/null
mkdir -p results
stamp=$(date -u +%Y-%m-%dT%H:%MZ)
for b in bench_deque bench_core; do
	echo "=== $b ($mode, $stamp)"
	build-bench/bench/$b "$mode" | tee "results/$b.txt"
done
