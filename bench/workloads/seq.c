/*
 * The sequential baselines: the recursive workloads as plain C calls, no
 * tasks. Every parallel figure in a table is read against these.
 */
#include <stdio.h>

#include "kernels.h"

static void fib(const struct bench_opts *o)
{
	for (int r = o->first; r <= o->runs; r++) {
		double t0 = bench_now();
		long v = fib_seq(o->n);
		bench_timed(o, r, bench_now() - t0, v);
	}
}

static void nqueens(const struct bench_opts *o)
{
	for (int r = o->first; r <= o->runs; r++) {
		struct nq_board b = nq_empty((int)o->n);
		double t0 = bench_now();
		long v = nq_seq(&b);
		double t = bench_now() - t0;
		bench_check(o, v, nq_solutions((int)o->n));
		bench_timed(o, r, t, v);
	}
}

static void uts(const struct bench_opts *o)
{
	const struct uts_tree *tree = uts_find(o->shape);

	if (!tree)
		bench_die("uts: unknown tree (-s)");
	for (int r = o->first; r <= o->runs; r++) {
		struct uts_node root = uts_root(tree);
		double t0 = bench_now();
		long v = uts_seq(tree, &root);
		bench_timed(o, r, bench_now() - t0, v);
	}
}

static void skynet(const struct bench_opts *o)
{
	for (int r = o->first; r <= o->runs; r++) {
		double t0 = bench_now();
		long long v = skynet_seq(0, o->n);
		double t = bench_now() - t0;
		bench_check(o, v, skynet_sum(o->n));
		bench_timed(o, r, t, v);
	}
}

static void matmul(const struct bench_opts *o)
{
	double *a, *b, *c;

	mm_alloc(o->n, &a, &b, &c);
	for (int r = o->first; r <= o->runs; r++) {
		mm_reset(c, o->n);
		double t0 = bench_now();
		mm_seq(a, b, c, o->n, o->n);
		bench_timed(o, r, bench_now() - t0, mm_checksum(c, o->n));
	}
	mm_free(a, b, c);
}

static const struct bench_workload workloads[] = {
	{ "fib", fib },
	{ "nqueens", nqueens },
	{ "uts", uts },
	{ "skynet", skynet },
	{ "matmul", matmul },
};

int main(int argc, char **argv)
{
	return bench_main(argc, argv, "seq", workloads,
			  (int)(sizeof(workloads) / sizeof(workloads[0])));
}
