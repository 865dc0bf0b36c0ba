#!/usr/bin/env bash
# The benchmark command: installs what is missing (the peers too), builds
# weft in release mode with its benchmarks in build-bench/, and runs the
# suite (bench/run.py): the machine's parallelism first, then one table
# per workload comparing weft with oneTBB, OpenMP (gcc and clang), a
# mutex+condvar pool, Python and sequential C.
#
# usage: tools/bench.sh [quick|full] [bench/run.py options]
#   quick (the default) takes under 2 minutes on 2 cores; full runs the
#   real sizes and prints its estimated length first. Options such as
#   --only fib,chain or --publish go to bench/run.py (see bench/README.md).
# Results go to results/<date>-<mode>/ (CSV, SVG charts, report.md).
# Then, in the same mode, the server benchmark (bench/server/run.py: weft,
# the mutex pool and inline behind an HTTP server under open-loop load;
# about 2 minutes in quick mode); its results go to
# results/<date>-server-<mode>/. Options for bench/run.py that pick part of
# the suite (--only, --list) leave it out, and so does WEFT_BENCH_SERVER=0.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-quick}
[ $# -gt 0 ] && shift

tools/deps.sh bench
if [ -f build-bench/build.ninja ]; then
	# Again, so that peers installed since the last run are found.
	meson setup --reconfigure build-bench >build-bench.setup.log 2>&1 ||
		{ cat build-bench.setup.log; exit 1; }
else
	meson setup build-bench --buildtype=release -Dbenchmarks=true \
		>build-bench.setup.log 2>&1 || { cat build-bench.setup.log; exit 1; }
fi
ninja -C build-bench >build-bench.build.log 2>&1 ||
	{ tail -n 40 build-bench.build.log; exit 1; }
server=${WEFT_BENCH_SERVER:-1}
for arg in "$@"; do
	case "$arg" in --only* | --list) server=0 ;; esac
done
rc=0
/usr/bin/python3 bench/run.py "$mode" --build build-bench "$@" || rc=$?
if [ "$server" = 1 ]; then
	echo
	/usr/bin/python3 bench/server/run.py "$mode" --build build-bench || rc=$?
fi
exit $rc
