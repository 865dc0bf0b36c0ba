/*
 * The tutorials' patterns with trivial tasks, timed: weft's side of the
 * comparison with bench_seeds.py (Python's ThreadPoolExecutor, ThreadPool
 * and queues). run.sh runs both.
 *
 * usage: bench_seeds [-n TASKS] [-r RUNS] [-w WORKERS] [-p PATTERN] [-m]
 *
 * Each pattern runs RUNS times (after one warm-up run) on TASKS tasks; a
 * task returns its argument. Prints one line per pattern:
 * "PATTERN MEDIAN MIN MAX", in nanoseconds per task. One pool serves
 * every pattern, created outside the timing, with WORKERS workers (0, the
 * default: one per CPU). -p runs only the pattern of that name. With -m,
 * a last line "peak_rss_kb N" gives the process's peak resident set (for
 * bench/run.py).
 *
 *   submit_result       weft_submit each task, then weft_future_get each
 *                       in order
 *   map                 weft_map + weft_gather
 *   as_completed        weft_submit each task, weft_future_get in
 *                       weft_as_completed order
 *   follow_up           as_completed; odd results get a follow-up task,
 *                       then weft_wait for the follow-ups (per first task)
 *   done_callback       weft_submit + weft_future_on_done; the last
 *                       callback opens a latch that main waits on
 *   map_async_follow_up weft_map + weft_when_all + weft_future_then
 *                       over chunks of ceil(n / (4 * workers)) items, the
 *                       tasks Python's map_async makes; the continuation
 *                       (the result callback) submits a follow-up task
 *                       for every odd result; main waits for the
 *                       callback, as AsyncResult.wait() does, then
 *                       weft_wait for the follow-ups (per first task)
 *   pipeline            a two-stage weft pipeline (stages bounded to five
 *                       items at once, like the tutorial's five workers a
 *                       step): push every item, close, pop every result
 *                       (per item)
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "weft.h"
#include "workloads/harness.h"

static size_t n = 20000;

static void check(int err, const char *what)
{
	if (err < 0) {
		fprintf(stderr, "bench_seeds: %s: %s\n", what,
			weft_strerror(err));
		exit(1);
	}
}

static void *task(void *arg)
{
	return arg;
}

/* Scratch arrays, allocated once. */
static weft_future **fs, **fs2;
static void **args, **results;

static void release(weft_future **f, size_t count)
{
	for (size_t i = 0; i < count; i++)
		weft_future_release(f[i]);
}

/* A one-shot latch: what Python's threading.Event does in the callback
 * patterns. */
struct latch {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool open;
};

static struct latch latch = { PTHREAD_MUTEX_INITIALIZER,
			      PTHREAD_COND_INITIALIZER, false };

static void latch_open(struct latch *l)
{
	pthread_mutex_lock(&l->lock);
	l->open = true;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->lock);
}

static void latch_wait(struct latch *l)
{
	pthread_mutex_lock(&l->lock);
	while (!l->open)
		pthread_cond_wait(&l->cond, &l->lock);
	l->open = false; /* ready for the next run */
	pthread_mutex_unlock(&l->lock);
}

static void submit_result(weft_pool *pool)
{
	for (size_t i = 0; i < n; i++)
		check(weft_submit(pool, task, args[i], &fs[i]), "weft_submit");
	for (size_t i = 0; i < n; i++) {
		void *r;
		check(weft_future_get(fs[i], &r), "weft_future_get");
	}
	release(fs, n);
}

static void map(weft_pool *pool)
{
	check(weft_map(pool, task, args, n, fs), "weft_map");
	check(weft_gather(fs, n, results, WEFT_FOREVER, NULL), "weft_gather");
	release(fs, n);
}

static void as_completed(weft_pool *pool)
{
	for (size_t i = 0; i < n; i++)
		check(weft_submit(pool, task, args[i], &fs[i]), "weft_submit");
	weft_as_completed *it;
	check(weft_as_completed_create(fs, n, WEFT_FOREVER, &it),
	      "weft_as_completed_create");
	weft_future *f;
	int more;
	while ((more = weft_as_completed_next(it, &f)) == 1) {
		void *r;
		check(weft_future_get(f, &r), "weft_future_get");
	}
	check(more, "weft_as_completed_next");
	weft_as_completed_destroy(it);
	release(fs, n);
}

static void follow_up(weft_pool *pool)
{
	for (size_t i = 0; i < n; i++)
		check(weft_submit(pool, task, args[i], &fs[i]), "weft_submit");
	weft_as_completed *it;
	check(weft_as_completed_create(fs, n, WEFT_FOREVER, &it),
	      "weft_as_completed_create");
	size_t m = 0;
	weft_future *f;
	int more;
	while ((more = weft_as_completed_next(it, &f)) == 1) {
		void *r;
		check(weft_future_get(f, &r), "weft_future_get");
		if ((uintptr_t)r % 2)
			check(weft_submit(pool, task, r, &fs2[m++]),
			      "weft_submit");
	}
	check(more, "weft_as_completed_next");
	weft_as_completed_destroy(it);
	check(weft_wait(fs2, m, WEFT_ALL_COMPLETED, WEFT_FOREVER), "weft_wait");
	release(fs, n);
	release(fs2, m);
}

/* The callbacks' counter, on a cache line of its own: the workers write
 * it for every task, and main reads the scratch pointers above for every
 * submit. Sharing a line cost main a miss per task. */
static struct {
	_Alignas(64) atomic_size_t count;
} callbacks_run;

static void custom_callback(weft_future *f, void *ctx)
{
	void *r;
	(void)ctx;
	check(weft_future_get(f, &r), "weft_future_get");
	if (atomic_fetch_add(&callbacks_run.count, 1) + 1 == n)
		latch_open(&latch);
}

static void done_callback(weft_pool *pool)
{
	atomic_store(&callbacks_run.count, 0);
	for (size_t i = 0; i < n; i++) {
		weft_future *f;
		check(weft_submit(pool, task, args[i], &f), "weft_submit");
		check(weft_future_on_done(f, custom_callback, NULL),
		      "weft_future_on_done");
		weft_future_release(f);
	}
	latch_wait(&latch);
}

/* map_async runs the items in chunks, as ThreadPool.map_async does:
 * ceil(n / (4 * threads)) items a task, threads being the pool's size
 * (Python's ThreadPool() has one per CPU, as weft's default pool). */
struct chunk {
	size_t first, count;
};

static struct chunk *chunks; /* n each: enough for any chunk count */
static weft_future **chunk_fs;
static void **chunk_args;

static void *run_chunk(void *arg)
{
	const struct chunk *c = arg;
	for (size_t i = c->first; i < c->first + c->count; i++)
		results[i] = task(args[i]);
	return NULL;
}

/* The result callback of the ThreadPool tutorial: a follow-up task for
 * every odd result (the tutorial's is for values above 0.5). It returns
 * how many it submitted, into fs2. */
static void *issue_follow_ups(weft_future *all, void *ctx)
{
	(void)all;
	weft_pool *pool = ctx;
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if ((uintptr_t)results[i] % 2)
			check(weft_submit(pool, task, results[i], &fs2[m++]),
			      "weft_submit");
	return (void *)m;
}

static void map_async_follow_up(weft_pool *pool)
{
	unsigned threads = weft_pool_workers(pool);
	size_t size = (n + 4 * threads - 1) / (4 * threads), m = 0;
	for (size_t first = 0; first < n; first += size, m++)
		chunks[m] = (struct chunk){ first, n - first < size ?
							   n - first :
							   size };
	for (size_t k = 0; k < m; k++)
		chunk_args[k] = &chunks[k];
	weft_future *all, *done;
	check(weft_map(pool, run_chunk, chunk_args, m, chunk_fs), "weft_map");
	check(weft_when_all(chunk_fs, m, &all), "weft_when_all");
	check(weft_future_then(all, issue_follow_ups, pool, 0, &done),
	      "weft_future_then");
	void *follow_ups;
	check(weft_future_get(done, &follow_ups), "weft_future_get");
	if ((size_t)follow_ups != n / 2) {
		fprintf(stderr, "bench_seeds: map_async: %zu follow-ups\n",
			(size_t)follow_ups);
		exit(1);
	}
	check(weft_wait(fs2, n / 2, WEFT_ALL_COMPLETED, WEFT_FOREVER),
	      "weft_wait");
	release(fs2, n / 2);
	weft_future_release(done);
	weft_future_release(all);
	release(chunk_fs, m);
}

static void *step(void *item, void *ctx)
{
	(void)ctx;
	return (void *)((uintptr_t)item + 1);
}

static void pipeline(weft_pool *pool)
{
	weft_pipeline *pl;
	check(weft_pipeline_create(pool, n, 0, &pl), "weft_pipeline_create");
	check(weft_pipeline_stage(pl, "task1", step, NULL, 5, 0),
	      "weft_pipeline_stage");
	check(weft_pipeline_stage(pl, "task2", step, NULL, 5, 0),
	      "weft_pipeline_stage");
	for (size_t i = 0; i < n; i++)
		check(weft_pipeline_push(pl, args[i], WEFT_FOREVER),
		      "weft_pipeline_push");
	check(weft_pipeline_close(pl), "weft_pipeline_close");
	size_t got = 0;
	void *item;
	int r;
	while ((r = weft_pipeline_pop(pl, &item, WEFT_FOREVER)) == 1)
		got++;
	check(r, "weft_pipeline_pop");
	if (got != n) {
		fprintf(stderr, "bench_seeds: pipeline: %zu of %zu items\n",
			got, n);
		exit(1);
	}
	check(weft_pipeline_destroy(pl), "weft_pipeline_destroy");
}

static const struct {
	const char *name;
	void (*fn)(weft_pool *);
} patterns[] = {
	{ "submit_result", submit_result },
	{ "map", map },
	{ "as_completed", as_completed },
	{ "follow_up", follow_up },
	{ "done_callback", done_callback },
	{ "map_async_follow_up", map_async_follow_up },
	{ "pipeline", pipeline },
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int runs = 5, opt;
	unsigned workers = 0;
	bool rss = false;
	const char *only = NULL;
	while ((opt = getopt(argc, argv, "n:r:w:p:m")) != -1) {
		switch (opt) {
		case 'n':
			n = (size_t)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			runs = atoi(optarg);
			break;
		case 'w':
			workers = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'p':
			only = optarg;
			break;
		case 'm':
			rss = true;
			break;
		default:
			fprintf(stderr,
				"usage: %s [-n TASKS] [-r RUNS] [-w WORKERS] "
				"[-p PATTERN] [-m]\n", argv[0]);
			return 2;
		}
	}
	if (n < 1 || runs < 1) {
		fprintf(stderr, "bench_seeds: -n and -r must be positive\n");
		return 2;
	}
	fs = calloc(n, sizeof(*fs));
	fs2 = calloc(n, sizeof(*fs2));
	args = calloc(n, sizeof(*args));
	results = calloc(n, sizeof(*results));
	chunks = calloc(n, sizeof(*chunks));
	chunk_fs = calloc(n, sizeof(*chunk_fs));
	chunk_args = calloc(n, sizeof(*chunk_args));
	double *times = calloc((size_t)runs, sizeof(*times));
	if (!fs || !fs2 || !args || !results || !times) {
		fprintf(stderr, "bench_seeds: out of memory\n");
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		args[i] = (void *)(uintptr_t)i;

	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = workers;
	weft_pool *pool;
	check(weft_pool_create(&pool, &cfg), "weft_pool_create");
	for (size_t p = 0; p < sizeof(patterns) / sizeof(patterns[0]); p++) {
		if (only && strcmp(only, patterns[p].name))
			continue;
		patterns[p].fn(pool); /* warm-up */
		for (int r = 0; r < runs; r++) {
			double start = bench_now();
			patterns[p].fn(pool);
			times[r] = (bench_now() - start) * 1e9 / (double)n;
		}
		qsort(times, (size_t)runs, sizeof(*times), cmp_double);
		double median = runs % 2 ? times[runs / 2] :
			(times[runs / 2 - 1] + times[runs / 2]) / 2;
		printf("%s %.1f %.1f %.1f\n", patterns[p].name, median,
		       times[0], times[runs - 1]);
		fflush(stdout);
	}
	check(weft_pool_destroy(pool), "weft_pool_destroy");
	if (rss)
		printf("peak_rss_kb %ld\n", bench_peak_rss_kb());
	free(fs);
	free(fs2);
	free(args);
	free(results);
	free(chunks);
	free(chunk_fs);
	free(chunk_args);
	free(times);
	return 0;
}
