/*
 * The workloads' shared code (see kernels.h).
 */
#include "kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

long fib_seq(long n)
{
	return n < 2 ? n : fib_seq(n - 1) + fib_seq(n - 2);
}

long long fib_tasks(long n)
{
	long long a = 0, b = 1; /* fib(0), fib(1) */

	for (long i = 0; i < n; i++) {
		long long c = a + b;
		a = b;
		b = c;
	}
	return b - 1; /* fib(n + 1) - 1 calls have n >= 2 */
}

void fib_report(const struct bench_opts *o, int run, double seconds,
		long result)
{
	long long a = 0, b = 1; /* fib(n), iteratively */

	for (long i = 0; i < o->n; i++) {
		long long c = a + b;
		a = b;
		b = c;
	}
	bench_check(o, result, a);
	if (run == 0)
		return;
	if (!o->baseline) {
		bench_timed(o, run, seconds, result);
		return;
	}
	double t0 = bench_now();
	long r = fib_seq(o->n);
	double seq = bench_now() - t0;
	bench_check(o, r, a);
	double tasks = (double)fib_tasks(o->n);
	bench_line(o, run,
		   "seconds=%.6f result=%ld seq_seconds=%.6f overhead_ns=%.2f",
		   seconds, result, seq,
		   (seconds * o->threads - seq) / tasks * 1e9);
}

long nq_seq(const struct nq_board *b)
{
	if (b->row == b->n)
		return 1;
	long count = 0;
	for (uint32_t free = nq_free(b); free; free &= free - 1) {
		struct nq_board c = nq_place(b, free & -free);
		count += nq_seq(&c);
	}
	return count;
}

long long nq_solutions(int n)
{
	static const long long known[] = {
		0, 1, 0, 0, 2, 10, 4, 40, 92, 352, 724, 2680, 14200, 73712,
		365596, 2279184, 14772512,
	};

	return n >= 1 && n <= 16 ? known[n] : -1;
}

/* The named trees (nodes, depth):
 *   geo-quick    446,512   10    geo  24,618,448    12
 *   bin-quick    484,286  785    bin  27,950,891  7874
 * The full-size ones take 2-10 s sequentially on a 2020s x86 core (about
 * 130 ns a node), the quick ones under a tenth of a second. */
static const struct uts_tree trees[] = {
	/* name, kind, b, depth, root children, q, m, seed, work */
	{ "geo-quick", UTS_GEOMETRIC, 4.0, 10, 4, 0, 0, 2, 32 },
	{ "geo", UTS_GEOMETRIC, 4.0, 12, 4, 0, 0, 3, 32 },
	{ "bin-quick", UTS_BINOMIAL, 0, 0, 200, 0.19998, 5, 4, 32 },
	{ "bin", UTS_BINOMIAL, 0, 0, 2000, 0.19998, 5, 3, 32 },
};

const struct uts_tree *uts_find(const char *name)
{
	for (size_t i = 0; name && i < sizeof(trees) / sizeof(trees[0]); i++)
		if (strcmp(trees[i].name, name) == 0)
			return &trees[i];
	return NULL;
}

struct uts_node uts_root(const struct uts_tree *t)
{
	struct uts_node r = { bench_mix(t->seed), 0 };
	return r;
}

int uts_children(const struct uts_tree *t, const struct uts_node *nd)
{
	uint64_t h = nd->state;

	for (int i = 0; i < t->work; i++)
		h = bench_mix(h);
	double u = (double)(h >> 11) * 0x1.0p-53; /* [0, 1) */
	if (nd->depth == 0)
		return t->root_children;
	if (t->kind == UTS_GEOMETRIC) {
		if (nd->depth >= t->depth)
			return 0;
		/* P(k) = p (1 - p)^k, mean (1 - p) / p = b */
		double p = 1.0 / (1.0 + t->b);
		double k = floor(log(1.0 - u) / log(1.0 - p));
		return k > UTS_MAX_CHILDREN ? UTS_MAX_CHILDREN : (int)k;
	}
	return u < t->q ? t->m : 0;
}

long uts_seq(const struct uts_tree *t, const struct uts_node *nd)
{
	long count = 1;
	int k = uts_children(t, nd);

	for (int i = 0; i < k; i++) {
		struct uts_node c = uts_child(nd, i);
		count += uts_seq(t, &c);
	}
	return count;
}

long long skynet_seq(long long num, long long size)
{
	if (size == 1)
		return num;
	long long sum = 0, step = size / 10;
	for (int i = 0; i < 10; i++)
		sum += skynet_seq(num + i * step, step);
	return sum;
}

long long skynet_sum(long long leaves)
{
	return leaves * (leaves - 1) / 2;
}

void mm_leaf(const double *a, const double *b, double *c, long ld)
{
	for (long i = 0; i < MM_LEAF; i++) {
		double *ci = c + i * ld;
		for (long k = 0; k < MM_LEAF; k++) {
			double aik = a[i * ld + k];
			const double *bk = b + k * ld;
			for (long j = 0; j < MM_LEAF; j++)
				ci[j] += aik * bk[j];
		}
	}
}

void mm_seq(const double *a, const double *b, double *c, long n, long ld)
{
	if (n <= MM_LEAF) {
		mm_leaf(a, b, c, ld);
		return;
	}
	long h = n / 2;
	const double *a01 = a + h, *a10 = a + h * ld, *a11 = a10 + h;
	const double *b01 = b + h, *b10 = b + h * ld, *b11 = b10 + h;
	double *c01 = c + h, *c10 = c + h * ld, *c11 = c10 + h;

	mm_seq(a, b, c, h, ld);
	mm_seq(a, b01, c01, h, ld);
	mm_seq(a10, b, c10, h, ld);
	mm_seq(a10, b01, c11, h, ld);
	mm_seq(a01, b10, c, h, ld);
	mm_seq(a01, b11, c01, h, ld);
	mm_seq(a11, b10, c10, h, ld);
	mm_seq(a11, b11, c11, h, ld);
}

void mm_alloc(long n, double **a, double **b, double **c)
{
	size_t bytes = (size_t)n * (size_t)n * sizeof(double);

	if (n < MM_LEAF || (n & (n - 1)) ||
	    posix_memalign((void **)a, 64, bytes) ||
	    posix_memalign((void **)b, 64, bytes) ||
	    posix_memalign((void **)c, 64, bytes))
		bench_die("matmul: n must be a power of two >= 64 (or no memory)");
	for (long i = 0; i < n * n; i++) {
		(*a)[i] = (double)(i % 4);
		(*b)[i] = (double)((i / 3) % 3);
	}
	mm_reset(*c, n);
}

void mm_reset(double *c, long n)
{
	memset(c, 0, (size_t)n * (size_t)n * sizeof(double));
}

long long mm_checksum(const double *c, long n)
{
	double s = 0;

	for (long i = 0; i < n * n; i++)
		s += c[i];
	return (long long)s;
}

void mm_free(double *a, double *b, double *c)
{
	free(a);
	free(b);
	free(c);
}

uint64_t pipe_expected(long n)
{
	uint64_t sum = 0;

	for (long i = 0; i < n; i++)
		sum += pipe_stage(pipe_stage(pipe_stage((uint64_t)i,
							PIPE_ROUNDS),
					     PIPE_ROUNDS),
				  PIPE_ROUNDS);
	return sum;
}
