/*
 * The workloads' shared definitions: what each one computes, its
 * sequential code, and the pieces every implementation reuses (the UTS
 * tree's shape, the matmul leaf kernel, the pipeline's stage work), so
 * that the implementations differ only in how they run tasks.
 */
#ifndef WEFT_BENCH_KERNELS_H
#define WEFT_BENCH_KERNELS_H

#include <stdint.h>

#include "harness.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A 64-bit mixing function (the splitmix64 finalizer): the trees' random
 * numbers and the pipeline's stage work. */
static inline uint64_t bench_mix(uint64_t x)
{
	x += UINT64_C(0x9e3779b97f4a7c15);
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

/* fib(n) with no cutoff: every call above the leaves spawns fib(n-1) as a
 * task and computes fib(n-2) itself. */
long fib_seq(long n);
long long fib_tasks(long n); /* tasks spawned by fib(n): fib(n+1) - 1 */

/* Checks and prints run r of a fib implementation; with -b it also times
 * fib_seq(n) right after and prints overhead_ns = (seconds * threads -
 * sequential) / tasks. */
void fib_report(const struct bench_opts *o, int run, double seconds,
		long result);

/* nqueens: the number of ways to put n queens on an n x n board. A task
 * per partial board; each spawns one child per safe square of the next
 * row. Boards are bit masks. */
struct nq_board {
	int n, row;
	uint32_t cols, diag1, diag2; /* attacked squares of the next row */
};

static inline struct nq_board nq_empty(int n)
{
	struct nq_board b = { n, 0, 0, 0, 0 };
	return b;
}

/* The safe squares of b's next row, as bits. */
static inline uint32_t nq_free(const struct nq_board *b)
{
	return ~(b->cols | b->diag1 | b->diag2) & ((UINT32_C(1) << b->n) - 1);
}

static inline struct nq_board nq_place(const struct nq_board *b,
				       uint32_t bit)
{
	struct nq_board c = { b->n, b->row + 1, b->cols | bit,
			      (b->diag1 | bit) << 1, (b->diag2 | bit) >> 1 };
	return c;
}

long nq_seq(const struct nq_board *b);
long long nq_solutions(int n); /* known counts, 1 <= n <= 16; -1 else */

/* UTS-style unbalanced trees (after Olivier et al., LCPC 2006): a node's
 * number of children is drawn from its own 64-bit state, and a child's
 * state is a hash of its parent's and its index, so the tree is the same
 * on every run and every implementation while its shape is unknown until
 * explored. Each node does `work` rounds of bench_mix before deciding
 * (UTS's granularity). Two shapes:
 *   geometric: each node has a geometrically distributed number of
 *     children with mean b, up to depth `depth` (like UTS T1L);
 *   binomial: the root has root_children children; every other node has
 *     m children with probability q, else none (like UTS T3L: long, thin,
 *     unpredictable subtrees).
 * The named trees are in kernels.c. */
enum uts_kind { UTS_GEOMETRIC, UTS_BINOMIAL };

struct uts_tree {
	const char *name;
	enum uts_kind kind;
	double b;          /* geometric: expected children */
	int depth;         /* geometric: no children at this depth */
	int root_children; /* binomial */
	double q;          /* binomial: probability of m children */
	int m;
	uint64_t seed;
	int work;          /* bench_mix rounds per node */
};

struct uts_node {
	uint64_t state;
	int depth;
};

#define UTS_MAX_CHILDREN 64 /* geometric draws are capped here */
#define UTS_BATCH 8 /* the parallel versions spawn at most this many
		     * children at a time (and wait for them before the
		     * next batch), which keeps their stack frames small:
		     * the binomial tree is thousands of levels deep */

const struct uts_tree *uts_find(const char *name); /* NULL if unknown */
struct uts_node uts_root(const struct uts_tree *t);
int uts_children(const struct uts_tree *t, const struct uts_node *nd);

static inline struct uts_node uts_child(const struct uts_node *nd, int i)
{
	struct uts_node c = {
		bench_mix(nd->state ^ (UINT64_C(0x2545f4914f6cdd1d) *
				       (uint64_t)(i + 1))),
		nd->depth + 1
	};
	return c;
}

long uts_seq(const struct uts_tree *t, const struct uts_node *nd);

/* skynet: a 10-ary tree of tasks over [num, num + size); each leaf
 * returns its number. skynet(0, 1000000) = 499999500000. */
long long skynet_seq(long long num, long long size);
long long skynet_sum(long long leaves);

/* Recursive blocked matmul, C += A * B, n x n row-major doubles with
 * leading dimension ld: split each matrix into quadrants, run the four
 * products that write different quadrants of C in parallel, wait, then the
 * other four; blocks of MM_LEAF run the leaf kernel. n is a power of two.
 * Entries are small integers, so every order of additions gives the same
 * exact sum. */
#define MM_LEAF 64
void mm_leaf(const double *a, const double *b, double *c, long ld);
void mm_seq(const double *a, const double *b, double *c, long n, long ld);
/* Allocates A, B (filled) and C (zeros); mm_reset zeroes C. */
void mm_alloc(long n, double **a, double **b, double **c);
void mm_reset(double *c, long n);
long long mm_checksum(const double *c, long n);
void mm_free(double *a, double *b, double *c);

/* The pipeline's per-stage work on an item: `rounds` of bench_mix. */
static inline uint64_t pipe_stage(uint64_t x, int rounds)
{
	for (int i = 0; i < rounds; i++)
		x = bench_mix(x);
	return x;
}
#define PIPE_ROUNDS 20   /* per stage */
#define PIPE_CAPACITY 64 /* items in flight at most */
/* The sum of every item 0..n-1 after the three stages. */
uint64_t pipe_expected(long n);

#ifdef __cplusplus
}
#endif

#endif
