#!/usr/bin/env bash
# The tutorials' patterns side by side: weft (bench_seeds) against the
# Python originals (bench_seeds.py, Debian's python3), with trivial tasks
# and no sleeps. Prints the machine's parallelism first, then one table:
# per pattern, ns per task for each side as the median of the
# invocations' medians with the min-max over all their runs, and the
# ratio Python/weft.
#
# usage: bench/seeds/run.sh [BENCH_SEEDS [ROUNDS]]
#   BENCH_SEEDS  the built bench_seeds; by default it is built in
#                build-bench/ (meson setup -Dbenchmarks=true)
#   ROUNDS       invocations of each program, interleaved (default 3)
# environment:
#   TASKS    tasks per run (default 20000)
#   RUNS     timed runs per invocation (default 5)
#   WORKERS  weft's workers (default 0: one per CPU)
#   PYTHON   the interpreter (default /usr/bin/python3)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bench=${1:-}
rounds=${2:-3}
tasks=${TASKS:-20000}
runs=${RUNS:-5}
workers=${WORKERS:-0}
python=${PYTHON:-/usr/bin/python3}

if [ -z "$bench" ]; then
	if [ ! -f "$root/build-bench/build.ninja" ]; then
		meson setup "$root/build-bench" "$root" --buildtype=release \
			-Dbenchmarks=true >/dev/null
	fi
	ninja -C "$root/build-bench" bench/seeds/bench_seeds bench/bench_parallelism \
		>/dev/null
	bench=$root/build-bench/bench/seeds/bench_seeds
fi

# The machine's parallelism and cross-CPU cost: bench_parallelism when it
# was built beside bench_seeds; otherwise a shell probe of the
# parallelism alone (one CPU-bound loop alone, then one per CPU, at least
# two, at once; parallelism is how many loops' worth of speed the machine
# gave).
probe=$(dirname "$bench")/../bench_parallelism
busy_loop() {
	awk 'BEGIN { for (i = 0; i < 20000000; i++) s += i * i; }'
}
now_ns() {
	date +%s%N
}
cpus=$(nproc)
if [ -x "$probe" ]; then
	"$probe"
else
	loops=$((cpus < 2 ? 2 : cpus))
	alone=
	for try in 1 2; do # the faster of two: the first may start cold
		start=$(now_ns)
		busy_loop
		t=$(($(now_ns) - start))
		if [ -z "$alone" ] || [ "$t" -lt "$alone" ]; then
			alone=$t
		fi
	done
	start=$(now_ns)
	pids=()
	for ((i = 0; i < loops; i++)); do
		busy_loop &
		pids+=($!)
	done
	wait "${pids[@]}"
	together=$(($(now_ns) - start))
	awk -v a="$alone" -v t="$together" -v k="$loops" -v c="$cpus" 'BEGIN {
		ratio = a / t
		p = k * ratio
		if (p > k) p = k
		printf "parallelism: %.2f of %d CPUs (%d busy loops ran at %.2fx the speed of one)\n", p, c, k, ratio
	}'
fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for ((r = 1; r <= rounds; r++)); do
	"$bench" -n "$tasks" -r "$runs" -w "$workers" >"$out/weft.$r"
	"$python" "$here/bench_seeds.py" -n "$tasks" -r "$runs" >"$out/python.$r"
done

pyver=$("$python" -c 'import platform; print(platform.python_version())')
if [ "$workers" = 0 ]; then
	wdesc="$cpus workers (one per CPU)"
else
	wdesc="$workers workers"
fi
echo "tasks: $tasks per run; $runs timed runs per invocation; $rounds invocations of each, interleaved"
echo "weft: $wdesc; Python $pyver: the tutorials' pool sizes"
echo
# Lines "pattern median min max", tagged by side; patterns keep the
# order the programs print them in.
for ((r = 1; r <= rounds; r++)); do
	sed 's/^/weft /' "$out/weft.$r"
	sed 's/^/python /' "$out/python.$r"
done | awk '
function median(list,    v, m, i, j, t) {
	m = split(list, v, " ")
	for (i = 2; i <= m; i++)
		for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) {
			t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
		}
	return m % 2 ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
}
{
	side = $1; p = $2
	if (!(p in seen)) { seen[p] = 1; order[++np] = p }
	k = side SUBSEP p
	meds[k] = meds[k] " " $3
	if (!(k in lo) || $4 + 0 < lo[k]) lo[k] = $4 + 0
	if (!(k in hi) || $5 + 0 > hi[k]) hi[k] = $5 + 0
}
END {
	printf "| %-19s | %-28s | %-28s | %-11s |\n", "pattern", \
		"weft ns/task (min-max)", "Python ns/task (min-max)", \
		"Python/weft"
	printf "|%s|%s|%s|%s|\n", "---------------------", \
		"------------------------------", \
		"------------------------------", "-------------"
	for (i = 1; i <= np; i++) {
		p = order[i]
		w = median(meds["weft" SUBSEP p])
		y = median(meds["python" SUBSEP p])
		printf "| %-19s | %9.1f (%.1f-%.1f)%*s | %9.1f (%.1f-%.1f)%*s | %10.2fx |\n", \
			p, w, lo["weft" SUBSEP p], hi["weft" SUBSEP p], \
			pad(w, lo["weft" SUBSEP p], hi["weft" SUBSEP p]), "", \
			y, lo["python" SUBSEP p], hi["python" SUBSEP p], \
			pad(y, lo["python" SUBSEP p], hi["python" SUBSEP p]), "", \
			y / w
	}
}
function pad(m, a, b,    s) {
	s = sprintf("%9.1f (%.1f-%.1f)", m, a, b)
	return length(s) < 28 ? 28 - length(s) : 0
}'
