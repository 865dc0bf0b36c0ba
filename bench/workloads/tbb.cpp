/*
 * The workloads on oneTBB, as its documentation writes them: recursive
 * workloads with a tbb::task_group per node (run every child but the last,
 * compute the last in place, wait) inside a task_arena of THREADS threads
 * that the main thread joins; work from outside the arena with
 * task_arena::enqueue into an arena of THREADS workers that the main
 * thread does not join (like weft's pool, it only submits and waits).
 */
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <tbb/global_control.h>
#include <tbb/parallel_pipeline.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>

#include "kernels.h"

namespace {

long fib_task(long n)
{
	if (n < 2)
		return n;
	long a = 0;
	tbb::task_group g;
	g.run([&] { a = fib_task(n - 1); });
	long b = fib_task(n - 2);
	g.wait();
	return a + b;
}

void fib(const bench_opts *o)
{
	tbb::task_arena arena((int)o->threads);
	for (int r = o->first; r <= o->runs; r++) {
		long v = 0;
		double t0 = bench_now();
		arena.execute([&] { v = fib_task(o->n); });
		fib_report(o, r, bench_now() - t0, v);
	}
}

long nq_task(const nq_board *b)
{
	nq_board kids[32];
	long counts[32];
	int k = 0;

	if (b->row == b->n)
		return 1;
	for (uint32_t free = nq_free(b); free; free &= free - 1)
		kids[k++] = nq_place(b, free & -free);
	if (k == 0)
		return 0;
	tbb::task_group g;
	for (int i = 0; i < k - 1; i++)
		g.run([&, i] { counts[i] = nq_task(&kids[i]); });
	long count = nq_task(&kids[k - 1]);
	g.wait();
	for (int i = 0; i < k - 1; i++)
		count += counts[i];
	return count;
}

void nqueens(const bench_opts *o)
{
	tbb::task_arena arena((int)o->threads);
	for (int r = o->first; r <= o->runs; r++) {
		nq_board b = nq_empty((int)o->n);
		long v = 0;
		double t0 = bench_now();
		arena.execute([&] { v = nq_task(&b); });
		double t = bench_now() - t0;
		bench_check(o, v, nq_solutions((int)o->n));
		bench_timed(o, r, t, v);
	}
}

const uts_tree *tree;

long uts_task(const uts_node *nd)
{
	uts_node kids[UTS_BATCH];
	long counts[UTS_BATCH];
	long count = 1;
	int left = uts_children(tree, nd);

	for (int i = 0; left > 0;) { // UTS_BATCH at a time
		int k = left < UTS_BATCH ? left : UTS_BATCH;
		for (int j = 0; j < k; j++)
			kids[j] = uts_child(nd, i + j);
		tbb::task_group g;
		for (int j = 0; j < k - 1; j++)
			g.run([&, j] { counts[j] = uts_task(&kids[j]); });
		count += uts_task(&kids[k - 1]);
		g.wait();
		for (int j = 0; j < k - 1; j++)
			count += counts[j];
		i += k;
		left -= k;
	}
	return count;
}

void uts(const bench_opts *o)
{
	tree = uts_find(o->shape);
	if (!tree)
		bench_die("uts: unknown tree (-s)");
	tbb::task_arena arena((int)o->threads);
	for (int r = o->first; r <= o->runs; r++) {
		uts_node root = uts_root(tree);
		long v = 0;
		double t0 = bench_now();
		arena.execute([&] { v = uts_task(&root); });
		bench_timed(o, r, bench_now() - t0, v);
	}
}

long long sky_task(long long num, long long size)
{
	if (size == 1)
		return num;
	long long sums[9], step = size / 10;
	tbb::task_group g;
	for (int i = 0; i < 9; i++)
		g.run([&, i] { sums[i] = sky_task(num + i * step, step); });
	long long sum = sky_task(num + 9 * step, step);
	g.wait();
	for (int i = 0; i < 9; i++)
		sum += sums[i];
	return sum;
}

void skynet(const bench_opts *o)
{
	tbb::task_arena arena((int)o->threads);
	for (int r = o->first; r <= o->runs; r++) {
		long long v = 0;
		double t0 = bench_now();
		arena.execute([&] { v = sky_task(0, o->n); });
		double t = bench_now() - t0;
		bench_check(o, v, skynet_sum(o->n));
		bench_timed(o, r, t, v);
	}
}

void mm_task(const double *a, const double *b, double *c, long n, long ld)
{
	if (n <= MM_LEAF) {
		mm_leaf(a, b, c, ld);
		return;
	}
	long h = n / 2;
	const double *a01 = a + h, *a10 = a + h * ld, *a11 = a10 + h;
	const double *b01 = b + h, *b10 = b + h * ld, *b11 = b10 + h;
	double *c01 = c + h, *c10 = c + h * ld, *c11 = c10 + h;
	tbb::task_group g;

	g.run([=] { mm_task(a, b, c, h, ld); });
	g.run([=] { mm_task(a, b01, c01, h, ld); });
	g.run([=] { mm_task(a10, b, c10, h, ld); });
	mm_task(a10, b01, c11, h, ld);
	g.wait();
	g.run([=] { mm_task(a01, b10, c, h, ld); });
	g.run([=] { mm_task(a01, b11, c01, h, ld); });
	g.run([=] { mm_task(a11, b10, c10, h, ld); });
	mm_task(a11, b11, c11, h, ld);
	g.wait();
}

void matmul(const bench_opts *o)
{
	double *a, *b, *c;

	mm_alloc(o->n, &a, &b, &c);
	tbb::task_arena arena((int)o->threads);
	for (int r = o->first; r <= o->runs; r++) {
		mm_reset(c, o->n);
		double t0 = bench_now();
		arena.execute([&] { mm_task(a, b, c, o->n, o->n); });
		bench_timed(o, r, bench_now() - t0, mm_checksum(c, o->n));
	}
	mm_free(a, b, c);
}

std::atomic<long> left;
bench_latch latch;

void count_task()
{
	// relaxed: a counter; the latch orders the end.
	if (left.fetch_sub(1, std::memory_order_relaxed) == 1)
		bench_latch_open(&latch);
}

// An arena of THREADS workers that serve enqueued work; the main thread
// never joins it.
struct workers_arena : tbb::task_arena {
	explicit workers_arena(unsigned threads)
		: tbb::task_arena((int)threads, 0)
	{
	}
};

void external(const bench_opts *o)
{
	bench_latch_init(&latch);
	workers_arena arena(o->threads);
	for (int r = o->first; r <= o->runs; r++) {
		// relaxed: published to the tasks by enqueue.
		left.store(o->n, std::memory_order_relaxed);
		double t0 = bench_now();
		for (long i = 0; i < o->n; i++)
			arena.enqueue(count_task);
		double t1 = bench_now();
		bench_latch_wait(&latch);
		double t2 = bench_now();
		if (r > 0)
			bench_line(o, r, "ns_per_task=%.2f submit_ns=%.2f",
				   (t2 - t0) / (double)o->n * 1e9,
				   (t1 - t0) / (double)o->n * 1e9);
	}
	bench_latch_destroy(&latch);
}

// Waits until done is 1 the way weft_future_get waits outside a pool:
// spin for up to 20 us, then sleep on a futex (C++20 atomic wait).
void spin_then_wait(std::atomic<int> &done)
{
	double until = bench_now() + 20e-6;

	// acquire (all loads): pairs with the release store in the task.
	while (done.load(std::memory_order_acquire) == 0 && bench_now() < until)
		for (int i = 0; i < 32; i++)
			bench_cpu_relax();
	done.wait(0, std::memory_order_acquire);
}

// Round trip: enqueue one task, wait for it (spin_then_wait).
void round_trip(const bench_opts *o)
{
	long warm = o->n / 10;
	std::vector<double> lat((size_t)o->n);
	std::atomic<int> done{ 0 };
	workers_arena arena(o->threads);

	for (long i = -warm; i < o->n; i++) {
		if (o->pause_us)
			bench_sleep((double)o->pause_us * 1e-6);
		double t0 = bench_now();
		// relaxed: the enqueue publishes it.
		done.store(0, std::memory_order_relaxed);
		arena.enqueue([&done] {
			// release: pairs with the acquire wait below.
			done.store(1, std::memory_order_release);
			done.notify_one();
		});
		spin_then_wait(done);
		if (i >= 0)
			lat[(size_t)i] = bench_now() - t0;
	}
	bench_latencies(o, lat.data(), o->n);
}

void chain_task(tbb::task_group &g)
{
	// relaxed: each hop is ordered after the previous one by run().
	if (left.fetch_sub(1, std::memory_order_relaxed) > 1)
		g.run([&g] { chain_task(g); });
}

void chain(const bench_opts *o)
{
	tbb::task_arena arena((int)o->threads);
	for (int r = o->first; r <= o->runs; r++) {
		// relaxed: published by run().
		left.store(o->n, std::memory_order_relaxed);
		double t0 = bench_now();
		arena.execute([] {
			tbb::task_group g;
			g.run([&g] { chain_task(g); });
			g.wait();
		});
		if (r > 0)
			bench_line(o, r, "ns_per_hop=%.2f",
				   (bench_now() - t0) / (double)o->n * 1e9);
	}
}

void idle(const bench_opts *o)
{
	bench_latch_init(&latch);
	{
		workers_arena arena(o->threads);
		// relaxed: published to the tasks by enqueue.
		left.store(1000, std::memory_order_relaxed);
		for (int i = 0; i < 1000; i++)
			arena.enqueue(count_task);
		bench_latch_wait(&latch);
		bench_sleep(0.1);
		double c0 = bench_cpu_s(), t0 = bench_now();
		bench_sleep(o->window_s);
		double idle_pct = (bench_cpu_s() - c0) / (bench_now() - t0) *
				  100;
		c0 = bench_cpu_s();
		t0 = bench_now();
		while (bench_now() - t0 < o->window_s) {
			arena.enqueue([] {});
			bench_sleep(1e-3);
		}
		double trickle_pct = (bench_cpu_s() - c0) /
				     (bench_now() - t0) * 100;
		bench_line(o, 1, "idle_pct=%.3f trickle_pct=%.3f", idle_pct,
			   trickle_pct);
	}
	bench_latch_destroy(&latch);
}

// tbb::parallel_pipeline with the same three stages; the input and output
// filters are the main thread's push and pop loop of the other versions.
void pipeline(const bench_opts *o)
{
	uint64_t want = pipe_expected(o->n);
	tbb::task_arena arena((int)o->threads);

	for (int r = o->first; r <= o->runs; r++) {
		uint64_t sum = 0;
		long next = 0;
		auto stage = [](uint64_t x) {
			return pipe_stage(x, PIPE_ROUNDS);
		};
		double t0 = bench_now();
		arena.execute([&] {
			tbb::parallel_pipeline(PIPE_CAPACITY,
				tbb::make_filter<void, uint64_t>(
					tbb::filter_mode::serial_in_order,
					[&](tbb::flow_control &fc) -> uint64_t {
						if (next == o->n)
							fc.stop();
						return (uint64_t)next++;
					}) &
				tbb::make_filter<uint64_t, uint64_t>(
					tbb::filter_mode::parallel, stage) &
				tbb::make_filter<uint64_t, uint64_t>(
					tbb::filter_mode::parallel, stage) &
				tbb::make_filter<uint64_t, uint64_t>(
					tbb::filter_mode::parallel, stage) &
				tbb::make_filter<uint64_t, void>(
					tbb::filter_mode::serial_out_of_order,
					[&](uint64_t x) { sum += x; }));
		});
		double t = bench_now() - t0;
		bench_check(o, (long long)sum, (long long)want);
		if (r > 0)
			bench_line(o, r, "ns_per_item=%.2f result=%llu",
				   t / (double)o->n * 1e9,
				   (unsigned long long)sum);
	}
}

const bench_workload workloads[] = {
	{ "fib", fib },
	{ "nqueens", nqueens },
	{ "uts", uts },
	{ "skynet", skynet },
	{ "matmul", matmul },
	{ "external", external },
	{ "roundtrip", round_trip },
	{ "chain", chain },
	{ "idle", idle },
	{ "pipeline", pipeline },
};

} // namespace

int main(int argc, char **argv)
{
	// THREADS workers for the enqueue arenas: the global limit counts
	// the main thread too. The option parser reads -t again.
	unsigned threads = 0;
	for (int i = 1; i + 1 < argc; i++)
		if (argv[i][0] == '-' && argv[i][1] == 't' && !argv[i][2])
			threads = (unsigned)std::strtoul(argv[i + 1], nullptr,
							 10);
	if (threads == 0)
		threads = (unsigned)tbb::this_task_arena::max_concurrency();
	tbb::global_control limit(
		tbb::global_control::max_allowed_parallelism, threads + 1);
	// The binomial UTS tree is thousands of tasks deep, and oneTBB's
	// workers have 4 MB stacks by default: too little for it.
	tbb::global_control stack(tbb::global_control::thread_stack_size,
				  64u << 20);
	return bench_main(argc, argv, "tbb", workloads,
			  (int)(sizeof(workloads) / sizeof(workloads[0])));
}
