/*
 * The workloads on the textbook mutex+condvar pool (bench/mutex_pool.h),
 * the same way as on weft (weft.c): spawn every child but the last, run
 * the last in place, get the others.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels.h"
#include "mutex_pool.h"

static struct mp_pool *pool;

static struct mp_pool *pool_new(unsigned threads)
{
	struct mp_pool *p;

	if (mp_pool_create(&p, threads))
		bench_die("mp_pool_create");
	return p;
}

static struct mp_future *spawn(mp_fn fn, void *arg)
{
	struct mp_future *f;

	if (mp_submit(pool, fn, arg, &f))
		bench_die("mp_submit");
	return f;
}

static intptr_t join(struct mp_future *f)
{
	intptr_t r = (intptr_t)mp_get(f);

	mp_release(f);
	return r;
}

static intptr_t run_root(mp_fn fn, void *arg)
{
	return join(spawn(fn, arg));
}

static void *fib_task(void *arg)
{
	intptr_t n = (intptr_t)arg;

	if (n < 2)
		return arg;
	struct mp_future *f = spawn(fib_task, (void *)(n - 1));
	intptr_t b = (intptr_t)fib_task((void *)(n - 2));
	return (void *)(join(f) + b);
}

static void fib(const struct bench_opts *o)
{
	pool = pool_new(o->threads);
	for (int r = o->first; r <= o->runs; r++) {
		double t0 = bench_now();
		long v = (long)run_root(fib_task, (void *)(intptr_t)o->n);
		fib_report(o, r, bench_now() - t0, v);
	}
	mp_pool_destroy(pool);
}

static void *nq_task(void *arg)
{
	const struct nq_board *b = arg;
	struct nq_board kids[32];
	struct mp_future *fs[32];
	int k = 0;

	if (b->row == b->n)
		return (void *)1;
	for (uint32_t free = nq_free(b); free; free &= free - 1)
		kids[k++] = nq_place(b, free & -free);
	if (k == 0)
		return NULL;
	for (int i = 0; i < k - 1; i++)
		fs[i] = spawn(nq_task, &kids[i]);
	intptr_t count = (intptr_t)nq_task(&kids[k - 1]);
	for (int i = 0; i < k - 1; i++)
		count += join(fs[i]);
	return (void *)count;
}

static void nqueens(const struct bench_opts *o)
{
	pool = pool_new(o->threads);
	for (int r = o->first; r <= o->runs; r++) {
		struct nq_board b = nq_empty((int)o->n);
		double t0 = bench_now();
		long v = (long)run_root(nq_task, &b);
		double t = bench_now() - t0;
		bench_check(o, v, nq_solutions((int)o->n));
		bench_timed(o, r, t, v);
	}
	mp_pool_destroy(pool);
}

static const struct uts_tree *tree;

static void *uts_task(void *arg)
{
	const struct uts_node *nd = arg;
	struct uts_node kids[UTS_BATCH];
	struct mp_future *fs[UTS_BATCH];
	intptr_t count = 1;
	int left = uts_children(tree, nd);

	for (int i = 0; left > 0;) { /* UTS_BATCH at a time */
		int k = left < UTS_BATCH ? left : UTS_BATCH;
		for (int j = 0; j < k; j++)
			kids[j] = uts_child(nd, i + j);
		for (int j = 0; j < k - 1; j++)
			fs[j] = spawn(uts_task, &kids[j]);
		count += (intptr_t)uts_task(&kids[k - 1]);
		for (int j = 0; j < k - 1; j++)
			count += join(fs[j]);
		i += k;
		left -= k;
	}
	return (void *)count;
}

static void uts(const struct bench_opts *o)
{
	tree = uts_find(o->shape);
	if (!tree)
		bench_die("uts: unknown tree (-s)");
	pool = pool_new(o->threads);
	for (int r = o->first; r <= o->runs; r++) {
		struct uts_node root = uts_root(tree);
		double t0 = bench_now();
		long v = (long)run_root(uts_task, &root);
		bench_timed(o, r, bench_now() - t0, v);
	}
	mp_pool_destroy(pool);
}

struct sky {
	long long num, size;
};

static void *sky_task(void *arg)
{
	const struct sky *s = arg;

	if (s->size == 1)
		return (void *)(intptr_t)s->num;
	struct sky kids[10];
	struct mp_future *fs[9];
	long long step = s->size / 10;
	for (int i = 0; i < 10; i++)
		kids[i] = (struct sky){ s->num + i * step, step };
	for (int i = 0; i < 9; i++)
		fs[i] = spawn(sky_task, &kids[i]);
	intptr_t sum = (intptr_t)sky_task(&kids[9]);
	for (int i = 0; i < 9; i++)
		sum += join(fs[i]);
	return (void *)sum;
}

static void skynet(const struct bench_opts *o)
{
	pool = pool_new(o->threads);
	for (int r = o->first; r <= o->runs; r++) {
		struct sky root = { 0, o->n };
		double t0 = bench_now();
		long long v = (long long)run_root(sky_task, &root);
		double t = bench_now() - t0;
		bench_check(o, v, skynet_sum(o->n));
		bench_timed(o, r, t, v);
	}
	mp_pool_destroy(pool);
}

struct mm {
	const double *a, *b;
	double *c;
	long n, ld;
};

static void *mm_task(void *arg)
{
	const struct mm *m = arg;

	if (m->n <= MM_LEAF) {
		mm_leaf(m->a, m->b, m->c, m->ld);
		return NULL;
	}
	long h = m->n / 2, ld = m->ld;
	const double *a = m->a, *b = m->b;
	double *c = m->c;
	struct mm q[2][4] = {
		{ { a, b, c, h, ld },
		  { a, b + h, c + h, h, ld },
		  { a + h * ld, b, c + h * ld, h, ld },
		  { a + h * ld, b + h, c + h * ld + h, h, ld } },
		{ { a + h, b + h * ld, c, h, ld },
		  { a + h, b + h * ld + h, c + h, h, ld },
		  { a + h * ld + h, b + h * ld, c + h * ld, h, ld },
		  { a + h * ld + h, b + h * ld + h, c + h * ld + h, h, ld } },
	};
	for (int phase = 0; phase < 2; phase++) {
		struct mp_future *fs[3];
		for (int i = 0; i < 3; i++)
			fs[i] = spawn(mm_task, &q[phase][i]);
		mm_task(&q[phase][3]);
		for (int i = 0; i < 3; i++)
			join(fs[i]);
	}
	return NULL;
}

static void matmul(const struct bench_opts *o)
{
	double *a, *b, *c;

	mm_alloc(o->n, &a, &b, &c);
	pool = pool_new(o->threads);
	for (int r = o->first; r <= o->runs; r++) {
		struct mm root = { a, b, c, o->n, o->n };
		mm_reset(c, o->n);
		double t0 = bench_now();
		run_root(mm_task, &root);
		bench_timed(o, r, bench_now() - t0, mm_checksum(c, o->n));
	}
	mp_pool_destroy(pool);
	mm_free(a, b, c);
}

static _Atomic long left;
static struct bench_latch latch;

static void *count_task(void *arg)
{
	(void)arg;
	/* relaxed: a counter; the latch orders the end. */
	if (atomic_fetch_sub_explicit(&left, 1, memory_order_relaxed) == 1)
		bench_latch_open(&latch);
	return NULL;
}

static void external(const struct bench_opts *o)
{
	bench_latch_init(&latch);
	pool = pool_new(o->threads);
	for (int r = o->first; r <= o->runs; r++) {
		/* relaxed: published to the tasks by the pool's mutex. */
		atomic_store_explicit(&left, o->n, memory_order_relaxed);
		double t0 = bench_now();
		for (long i = 0; i < o->n; i++)
			if (mp_submit(pool, count_task, NULL, NULL))
				bench_die("mp_submit");
		double t1 = bench_now();
		bench_latch_wait(&latch);
		double t2 = bench_now();
		if (r > 0)
			bench_line(o, r, "ns_per_task=%.2f submit_ns=%.2f",
				   (t2 - t0) / (double)o->n * 1e9,
				   (t1 - t0) / (double)o->n * 1e9);
	}
	mp_pool_destroy(pool);
	bench_latch_destroy(&latch);
}

static void *noop_task(void *arg)
{
	return arg;
}

static void round_trip(const struct bench_opts *o)
{
	long warm = o->n / 10;
	double *lat = malloc((size_t)o->n * sizeof(*lat));

	if (!lat)
		bench_die("malloc");
	pool = pool_new(o->threads);
	for (long i = -warm; i < o->n; i++) {
		if (o->pause_us)
			bench_sleep((double)o->pause_us * 1e-6);
		double t0 = bench_now();
		join(spawn(noop_task, NULL));
		if (i >= 0)
			lat[i] = bench_now() - t0;
	}
	mp_pool_destroy(pool);
	bench_latencies(o, lat, o->n);
	free(lat);
}

static void *chain_task(void *arg)
{
	(void)arg;
	/* relaxed: each hop is ordered after the previous one by the
	 * pool's mutex. */
	if (atomic_fetch_sub_explicit(&left, 1, memory_order_relaxed) > 1) {
		if (mp_submit(pool, chain_task, NULL, NULL))
			bench_die("mp_submit");
	} else {
		bench_latch_open(&latch);
	}
	return NULL;
}

static void chain(const struct bench_opts *o)
{
	bench_latch_init(&latch);
	pool = pool_new(o->threads);
	for (int r = o->first; r <= o->runs; r++) {
		/* relaxed: published to the first hop by the pool's mutex. */
		atomic_store_explicit(&left, o->n, memory_order_relaxed);
		double t0 = bench_now();
		if (mp_submit(pool, chain_task, NULL, NULL))
			bench_die("mp_submit");
		bench_latch_wait(&latch);
		if (r > 0)
			bench_line(o, r, "ns_per_hop=%.2f",
				   (bench_now() - t0) / (double)o->n * 1e9);
	}
	mp_pool_destroy(pool);
	bench_latch_destroy(&latch);
}

static void idle(const struct bench_opts *o)
{
	bench_latch_init(&latch);
	pool = pool_new(o->threads);
	/* relaxed: published to the tasks by the pool's mutex. */
	atomic_store_explicit(&left, 1000, memory_order_relaxed);
	for (int i = 0; i < 1000; i++)
		if (mp_submit(pool, count_task, NULL, NULL))
			bench_die("mp_submit");
	bench_latch_wait(&latch);
	bench_sleep(0.1);
	double c0 = bench_cpu_s(), t0 = bench_now();
	bench_sleep(o->window_s);
	double idle_pct = (bench_cpu_s() - c0) / (bench_now() - t0) * 100;
	c0 = bench_cpu_s();
	t0 = bench_now();
	while (bench_now() - t0 < o->window_s) {
		if (mp_submit(pool, noop_task, NULL, NULL))
			bench_die("mp_submit");
		bench_sleep(1e-3);
	}
	double trickle_pct = (bench_cpu_s() - c0) / (bench_now() - t0) * 100;
	mp_pool_destroy(pool);
	bench_latch_destroy(&latch);
	bench_line(o, 1, "idle_pct=%.3f trickle_pct=%.3f", idle_pct,
		   trickle_pct);
}

/* The pipeline on a plain pool: each stage step of an item is a task that
 * submits the item's next step; the last step puts the item on an output
 * queue (mutex + condvar) that the main thread pops. */
struct pipe_out {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t sum;
	long count; /* items done, not yet popped */
};

static struct pipe_out out = { PTHREAD_MUTEX_INITIALIZER,
			       PTHREAD_COND_INITIALIZER, 0, 0 };

static void *stage3(void *arg)
{
	uint64_t x = pipe_stage((uintptr_t)arg, PIPE_ROUNDS);

	pthread_mutex_lock(&out.lock);
	out.sum += x;
	out.count++;
	pthread_cond_signal(&out.cond);
	pthread_mutex_unlock(&out.lock);
	return NULL;
}

static void *stage2(void *arg)
{
	uint64_t x = pipe_stage((uintptr_t)arg, PIPE_ROUNDS);

	if (mp_submit(pool, stage3, (void *)(uintptr_t)x, NULL))
		bench_die("mp_submit");
	return NULL;
}

static void *stage1(void *arg)
{
	uint64_t x = pipe_stage((uintptr_t)arg, PIPE_ROUNDS);

	if (mp_submit(pool, stage2, (void *)(uintptr_t)x, NULL))
		bench_die("mp_submit");
	return NULL;
}

/* Waits for at least one finished item and takes them all. */
static long pipe_pop(void)
{
	pthread_mutex_lock(&out.lock);
	while (out.count == 0)
		pthread_cond_wait(&out.cond, &out.lock);
	long got = out.count;
	out.count = 0;
	pthread_mutex_unlock(&out.lock);
	return got;
}

static void pipeline(const struct bench_opts *o)
{
	uint64_t want = pipe_expected(o->n);

	pool = pool_new(o->threads);
	for (int r = o->first; r <= o->runs; r++) {
		long pushed = 0, popped = 0;
		out.sum = 0;
		double t0 = bench_now();
		for (; pushed < o->n; pushed++) {
			if (pushed - popped == PIPE_CAPACITY)
				popped += pipe_pop();
			if (mp_submit(pool, stage1, (void *)(uintptr_t)pushed,
				      NULL))
				bench_die("mp_submit");
		}
		while (popped < o->n)
			popped += pipe_pop();
		double t = bench_now() - t0;
		bench_check(o, (long long)out.sum, (long long)want);
		if (r > 0)
			bench_line(o, r, "ns_per_item=%.2f result=%llu",
				   t / (double)o->n * 1e9,
				   (unsigned long long)out.sum);
	}
	mp_pool_destroy(pool);
}

static const struct bench_workload workloads[] = {
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

int main(int argc, char **argv)
{
	return bench_main(argc, argv, "mutex", workloads,
			  (int)(sizeof(workloads) / sizeof(workloads[0])));
}
