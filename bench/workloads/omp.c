/*
 * The workloads as OpenMP tasks, built twice: by gcc (libgomp) and by
 * clang (libomp). The recursive ones run inside `parallel` + `single`
 * with THREADS threads; every child but the last is a `task`, the last
 * runs in place, then `taskwait`. No cutoffs (no if/final clauses): the
 * same task graph as every other implementation.
 *
 * OpenMP has no way for a thread outside the team to hand it work, so
 * external submit, round trip and the pipeline are not measured here.
 */
#include <omp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels.h"

#if defined(__clang__)
#define IMPL "omp-clang"
#else
#define IMPL "omp-gcc"
#endif

static long fib_task(long n)
{
	long a, b;

	if (n < 2)
		return n;
#pragma omp task shared(a) firstprivate(n)
	a = fib_task(n - 1);
	b = fib_task(n - 2);
#pragma omp taskwait
	return a + b;
}

static void fib(const struct bench_opts *o)
{
	for (int r = o->first; r <= o->runs; r++) {
		long v = 0;
		double t0 = bench_now();
#pragma omp parallel num_threads(o->threads)
#pragma omp single
		v = fib_task(o->n);
		fib_report(o, r, bench_now() - t0, v);
	}
}

static long nq_task(const struct nq_board *b)
{
	struct nq_board kids[32];
	long counts[32];
	int k = 0;

	if (b->row == b->n)
		return 1;
	for (uint32_t free = nq_free(b); free; free &= free - 1)
		kids[k++] = nq_place(b, free & -free);
	if (k == 0)
		return 0;
	for (int i = 0; i < k - 1; i++) {
#pragma omp task shared(kids, counts) firstprivate(i)
		counts[i] = nq_task(&kids[i]);
	}
	long count = nq_task(&kids[k - 1]);
#pragma omp taskwait
	for (int i = 0; i < k - 1; i++)
		count += counts[i];
	return count;
}

static void nqueens(const struct bench_opts *o)
{
	for (int r = o->first; r <= o->runs; r++) {
		struct nq_board b = nq_empty((int)o->n);
		long v = 0;
		double t0 = bench_now();
#pragma omp parallel num_threads(o->threads)
#pragma omp single
		v = nq_task(&b);
		double t = bench_now() - t0;
		bench_check(o, v, nq_solutions((int)o->n));
		bench_timed(o, r, t, v);
	}
}

static const struct uts_tree *tree;

static long uts_task(const struct uts_node *nd)
{
	struct uts_node kids[UTS_BATCH];
	long counts[UTS_BATCH];
	long count = 1;
	int left = uts_children(tree, nd);

	for (int i = 0; left > 0;) { /* UTS_BATCH at a time */
		int k = left < UTS_BATCH ? left : UTS_BATCH;
		for (int j = 0; j < k; j++)
			kids[j] = uts_child(nd, i + j);
		for (int j = 0; j < k - 1; j++) {
#pragma omp task shared(kids, counts) firstprivate(j)
			counts[j] = uts_task(&kids[j]);
		}
		count += uts_task(&kids[k - 1]);
#pragma omp taskwait
		for (int j = 0; j < k - 1; j++)
			count += counts[j];
		i += k;
		left -= k;
	}
	return count;
}

static void uts(const struct bench_opts *o)
{
	tree = uts_find(o->shape);
	if (!tree)
		bench_die("uts: unknown tree (-s)");
	for (int r = o->first; r <= o->runs; r++) {
		struct uts_node root = uts_root(tree);
		long v = 0;
		double t0 = bench_now();
#pragma omp parallel num_threads(o->threads)
#pragma omp single
		v = uts_task(&root);
		bench_timed(o, r, bench_now() - t0, v);
	}
}

static long long sky_task(long long num, long long size)
{
	long long sums[9], step = size / 10;

	if (size == 1)
		return num;
	for (int i = 0; i < 9; i++) {
#pragma omp task shared(sums) firstprivate(i)
		sums[i] = sky_task(num + i * step, step);
	}
	long long sum = sky_task(num + 9 * step, step);
#pragma omp taskwait
	for (int i = 0; i < 9; i++)
		sum += sums[i];
	return sum;
}

static void skynet(const struct bench_opts *o)
{
	for (int r = o->first; r <= o->runs; r++) {
		long long v = 0;
		double t0 = bench_now();
#pragma omp parallel num_threads(o->threads)
#pragma omp single
		v = sky_task(0, o->n);
		double t = bench_now() - t0;
		bench_check(o, v, skynet_sum(o->n));
		bench_timed(o, r, t, v);
	}
}

static void mm_task(const double *a, const double *b, double *c, long n,
		    long ld)
{
	if (n <= MM_LEAF) {
		mm_leaf(a, b, c, ld);
		return;
	}
	long h = n / 2;
	const double *a01 = a + h, *a10 = a + h * ld, *a11 = a10 + h;
	const double *b01 = b + h, *b10 = b + h * ld, *b11 = b10 + h;
	double *c01 = c + h, *c10 = c + h * ld, *c11 = c10 + h;

#pragma omp task
	mm_task(a, b, c, h, ld);
#pragma omp task
	mm_task(a, b01, c01, h, ld);
#pragma omp task
	mm_task(a10, b, c10, h, ld);
	mm_task(a10, b01, c11, h, ld);
#pragma omp taskwait
#pragma omp task
	mm_task(a01, b10, c, h, ld);
#pragma omp task
	mm_task(a01, b11, c01, h, ld);
#pragma omp task
	mm_task(a11, b10, c10, h, ld);
	mm_task(a11, b11, c11, h, ld);
#pragma omp taskwait
}

static void matmul(const struct bench_opts *o)
{
	double *a, *b, *c;

	mm_alloc(o->n, &a, &b, &c);
	for (int r = o->first; r <= o->runs; r++) {
		mm_reset(c, o->n);
		double t0 = bench_now();
#pragma omp parallel num_threads(o->threads)
#pragma omp single
		mm_task(a, b, c, o->n, o->n);
		bench_timed(o, r, bench_now() - t0, mm_checksum(c, o->n));
	}
	mm_free(a, b, c);
}

static _Atomic long left;

/* Each hop creates the next as a task; the region's closing barrier
 * waits for the last. */
static void chain_task(void)
{
	/* relaxed: each hop is ordered after the previous by the task
	 * creation. */
	if (atomic_fetch_sub_explicit(&left, 1, memory_order_relaxed) > 1) {
#pragma omp task
		chain_task();
	}
}

static void chain(const struct bench_opts *o)
{
	for (int r = o->first; r <= o->runs; r++) {
		/* relaxed: published to the team by the parallel region. */
		atomic_store_explicit(&left, o->n, memory_order_relaxed);
		double t0 = bench_now();
#pragma omp parallel num_threads(o->threads)
#pragma omp single
		{
#pragma omp task
			chain_task();
		}
		if (r > 0)
			bench_line(o, r, "ns_per_hop=%.2f",
				   (bench_now() - t0) / (double)o->n * 1e9);
	}
}

/* A burst of tasks, then the team is left alone: CPU while idle (what the
 * runtime's default wait policy does after a parallel region). OpenMP
 * cannot be handed one task from outside, so there is no trickle. */
static void idle(const struct bench_opts *o)
{
	long sink = 0;

#pragma omp parallel num_threads(o->threads)
#pragma omp single
	for (int i = 0; i < 1000; i++) {
#pragma omp task shared(sink)
		{
#pragma omp atomic
			sink++;
		}
	}
	if (sink != 1000)
		bench_die("omp idle: lost tasks");
	bench_sleep(0.1);
	double c0 = bench_cpu_s(), t0 = bench_now();
	bench_sleep(o->window_s);
	double idle_pct = (bench_cpu_s() - c0) / (bench_now() - t0) * 100;
	bench_line(o, 1, "idle_pct=%.3f", idle_pct);
}

static const struct bench_workload workloads[] = {
	{ "fib", fib },
	{ "nqueens", nqueens },
	{ "uts", uts },
	{ "skynet", skynet },
	{ "matmul", matmul },
	{ "chain", chain },
	{ "idle", idle },
};

int main(int argc, char **argv)
{
	return bench_main(argc, argv, IMPL, workloads,
			  (int)(sizeof(workloads) / sizeof(workloads[0])));
}
