/*
 * The workloads on weft, written as a user would: the public header, one
 * pool per program (created before the timing, like the peers' thread
 * teams), futures for every task that has a result.
 *
 * Recursive workloads spawn every child but the last with weft_submit,
 * run the last one in place, then weft_future_get the others (which on a
 * worker runs other tasks while it waits).
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels.h"
#include "weft.h"

static weft_pool *pool;

/* WEFT_BENCH_STATS=1: print the pool's counters at the end, and collect
 * the schedule-latency histogram and busy time for them (which costs
 * clock reads per task: not for timed comparisons). */
static bool bench_stats(void)
{
	const char *env = getenv("WEFT_BENCH_STATS");
	return env && *env == '1';
}

static weft_pool *pool_new(unsigned workers)
{
	weft_config cfg;
	weft_pool *p;

	weft_config_init(&cfg);
	cfg.workers = workers;
	cfg.timing = bench_stats();
	if (weft_pool_create(&p, &cfg))
		bench_die("weft_pool_create");
	return p;
}

/* Prints the non-empty latency buckets: "[2^i ns] count" pairs. */
static void print_latency(const weft_stats *st)
{
	fprintf(stderr, "weft sched_latency (log2 ns: tasks):");
	for (int i = 0; i < WEFT_LATENCY_BUCKETS; i++)
		if (st->sched_latency[i])
			fprintf(stderr, " %d:%llu", i,
				(unsigned long long)st->sched_latency[i]);
	fprintf(stderr, "; busy_ns %llu\n", (unsigned long long)st->busy_ns);
}

/* Destroys the pool; with WEFT_BENCH_STATS=1 in the environment, prints
 * its counters to stderr first. */
static void pool_end(weft_pool *p)
{
	weft_stats st;

	if (bench_stats() && weft_pool_stats(p, &st) == 0) {
		print_latency(&st);
		fprintf(stderr,
			"weft stats: submitted %llu executed %llu stolen %llu "
			"steal_attempts %llu injected %llu parks %llu "
			"wakeups %llu\n",
			(unsigned long long)st.submitted,
			(unsigned long long)st.executed,
			(unsigned long long)st.stolen,
			(unsigned long long)st.steal_attempts,
			(unsigned long long)st.injected,
			(unsigned long long)st.parks,
			(unsigned long long)st.wakeups);
	}
	if (weft_pool_destroy(p))
		bench_die("weft_pool_destroy");
}

static weft_future *spawn(weft_fn fn, void *arg)
{
	weft_future *f;

	if (weft_submit(pool, fn, arg, &f))
		bench_die("weft_submit");
	return f;
}

static intptr_t join(weft_future *f)
{
	void *r;

	if (weft_future_get(f, &r))
		bench_die("weft_future_get");
	weft_future_release(f);
	return (intptr_t)r;
}

/* Runs fn(arg) as a task from the main thread and returns its result. */
static intptr_t run_root(weft_fn fn, void *arg)
{
	return join(spawn(fn, arg));
}

static void *fib_task(void *arg)
{
	intptr_t n = (intptr_t)arg;

	if (n < 2)
		return arg;
	weft_future *f = spawn(fib_task, (void *)(n - 1));
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
	pool_end(pool);
}

static void *nq_task(void *arg)
{
	const struct nq_board *b = arg;
	struct nq_board kids[32];
	weft_future *fs[32];
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
	pool_end(pool);
}

static const struct uts_tree *tree;

static void *uts_task(void *arg)
{
	const struct uts_node *nd = arg;
	struct uts_node kids[UTS_BATCH];
	weft_future *fs[UTS_BATCH];
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
	pool_end(pool);
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
	weft_future *fs[9];
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
	pool_end(pool);
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
	/* Two phases of four products; each writes its own quadrant of C. */
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
		weft_future *fs[3];
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
	pool_end(pool);
	mm_free(a, b, c);
}

/* external, chain, idle: tasks count down; the last one opens the latch
 * that the main thread sleeps on. */
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
		/* relaxed: published to the tasks by weft_submit. */
		atomic_store_explicit(&left, o->n, memory_order_relaxed);
		double t0 = bench_now();
		for (long i = 0; i < o->n; i++)
			if (weft_submit(pool, count_task, NULL, NULL))
				bench_die("weft_submit");
		double t1 = bench_now();
		bench_latch_wait(&latch);
		double t2 = bench_now();
		if (r > 0)
			bench_line(o, r, "ns_per_task=%.2f submit_ns=%.2f",
				   (t2 - t0) / (double)o->n * 1e9,
				   (t1 - t0) / (double)o->n * 1e9);
	}
	pool_end(pool);
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
	pool_end(pool);
	bench_latencies(o, lat, o->n);
	free(lat);
}

static void *chain_task(void *arg)
{
	(void)arg;
	/* relaxed: each hop is ordered after the previous one by
	 * weft_submit. */
	if (atomic_fetch_sub_explicit(&left, 1, memory_order_relaxed) > 1) {
		if (weft_submit(pool, chain_task, NULL, NULL))
			bench_die("weft_submit");
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
		/* relaxed: published to the first hop by weft_submit. */
		atomic_store_explicit(&left, o->n, memory_order_relaxed);
		double t0 = bench_now();
		if (weft_submit(pool, chain_task, NULL, NULL))
			bench_die("weft_submit");
		bench_latch_wait(&latch);
		if (r > 0)
			bench_line(o, r, "ns_per_hop=%.2f",
				   (bench_now() - t0) / (double)o->n * 1e9);
	}
	pool_end(pool);
	bench_latch_destroy(&latch);
}

static void *then_step(weft_future *antecedent, void *ctx)
{
	(void)antecedent;
	return ctx;
}

/* A chain of continuations: the main thread attaches n weft_future_then
 * links, each to the previous link's future, while the pool runs them;
 * then it waits for the last. */
static void chain_then(const struct bench_opts *o)
{
	pool = pool_new(o->threads);
	for (int r = o->first; r <= o->runs; r++) {
		weft_future *f = spawn(noop_task, NULL), *g;
		double t0 = bench_now();
		for (long k = 0; k < o->n; k++) {
			if (weft_future_then(f, then_step, NULL, 0, &g))
				bench_die("weft_future_then");
			weft_future_release(f);
			f = g;
		}
		join(f);
		if (r > 0)
			bench_line(o, r, "ns_per_hop=%.2f",
				   (bench_now() - t0) / (double)o->n * 1e9);
	}
	pool_end(pool);
}

static void idle(const struct bench_opts *o)
{
	bench_latch_init(&latch);
	pool = pool_new(o->threads);
	/* A burst of work, then nothing: CPU while idle. */
	/* relaxed: published to the tasks by weft_submit. */
	atomic_store_explicit(&left, 1000, memory_order_relaxed);
	for (int i = 0; i < 1000; i++)
		if (weft_submit(pool, count_task, NULL, NULL))
			bench_die("weft_submit");
	bench_latch_wait(&latch);
	bench_sleep(0.1);
	double c0 = bench_cpu_s(), t0 = bench_now();
	bench_sleep(o->window_s);
	double idle_pct = (bench_cpu_s() - c0) / (bench_now() - t0) * 100;
	/* One tiny task every millisecond. */
	c0 = bench_cpu_s();
	t0 = bench_now();
	while (bench_now() - t0 < o->window_s) {
		if (weft_submit(pool, noop_task, NULL, NULL))
			bench_die("weft_submit");
		bench_sleep(1e-3);
	}
	double trickle_pct = (bench_cpu_s() - c0) / (bench_now() - t0) * 100;
	pool_end(pool);
	bench_latch_destroy(&latch);
	bench_line(o, 1, "idle_pct=%.3f trickle_pct=%.3f", idle_pct,
		   trickle_pct);
}

static void *stage(void *item, void *ctx)
{
	(void)ctx;
	return (void *)(uintptr_t)pipe_stage((uintptr_t)item, PIPE_ROUNDS);
}

/* A three-stage pipeline: the main thread pushes n items (keeping at most
 * PIPE_CAPACITY inside) and pops and sums the results. */
static void pipeline(const struct bench_opts *o)
{
	uint64_t want = pipe_expected(o->n);

	pool = pool_new(o->threads);
	for (int r = o->first; r <= o->runs; r++) {
		weft_pipeline *pl;
		uint64_t sum = 0;
		long pushed = 0, popped = 0;
		void *item;
		int got;
		double t0 = bench_now();
		if (weft_pipeline_create(pool, PIPE_CAPACITY, 0, &pl))
			bench_die("weft_pipeline_create");
		for (int s = 0; s < 3; s++)
			if (weft_pipeline_stage(pl, NULL, stage, NULL, 0, 0))
				bench_die("weft_pipeline_stage");
		for (; pushed < o->n; pushed++) {
			if (pushed - popped == PIPE_CAPACITY) {
				if (weft_pipeline_pop(pl, &item,
						      WEFT_FOREVER) != 1)
					bench_die("weft_pipeline_pop");
				sum += (uintptr_t)item;
				popped++;
			}
			if (weft_pipeline_push(pl, (void *)(uintptr_t)pushed,
					       WEFT_FOREVER))
				bench_die("weft_pipeline_push");
		}
		weft_pipeline_close(pl);
		while ((got = weft_pipeline_pop(pl, &item, WEFT_FOREVER)) == 1)
			sum += (uintptr_t)item;
		if (got < 0 || weft_pipeline_destroy(pl))
			bench_die("weft_pipeline_pop");
		double t = bench_now() - t0;
		bench_check(o, (long long)sum, (long long)want);
		if (r > 0)
			bench_line(o, r, "ns_per_item=%.2f result=%llu",
				   t / (double)o->n * 1e9,
				   (unsigned long long)sum);
	}
	pool_end(pool);
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
	{ "chain-then", chain_then },
	{ "idle", idle },
	{ "pipeline", pipeline },
};

int main(int argc, char **argv)
{
	return bench_main(argc, argv, "weft", workloads,
			  (int)(sizeof(workloads) / sizeof(workloads[0])));
}
