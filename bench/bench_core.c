/*
 * The runtime core's benchmarks: spawn+get overhead (fib), external
 * submission, round trip (parked and hot), continuation chains, idle CPU.
 * Each figure is the median of several runs, with min-max.
 *
 * usage: bench_core [quick]
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <semaphore.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench/parallelism.h"
#include "weft.h"

static int reps = 5;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

struct summary {
	double median, min, max;
};

static struct summary summarize(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return (struct summary){ v[n / 2], v[0], v[n - 1] };
}

static void row(const char *name, struct summary s, const char *unit)
{
	printf("| %-44s | %10.2f | %10.2f - %-10.2f | %-8s |\n", name,
	       s.median, s.min, s.max, unit);
}

static weft_pool *make_pool(unsigned workers, int64_t spin_ns)
{
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = workers;
	if (spin_ns >= 0)
		cfg.spin_ns = spin_ns;
	weft_pool *p;
	if (weft_pool_create(&p, &cfg)) {
		fprintf(stderr, "pool_create failed\n");
		exit(1);
	}
	return p;
}

/*
 * fib: spawn+get overhead per task.
 */

static weft_pool *fib_pool;

static long fib_seq(long n)
{
	return n < 2 ? n : fib_seq(n - 1) + fib_seq(n - 2);
}

static void *fib_task(void *arg)
{
	long n = (long)(intptr_t)arg;
	if (n < 2)
		return arg;
	weft_future *f;
	if (weft_submit(fib_pool, fib_task, (void *)(intptr_t)(n - 1), &f))
		abort();
	long b = (long)(intptr_t)fib_task((void *)(intptr_t)(n - 2));
	void *a;
	weft_future_get(f, &a);
	weft_future_release(f);
	return (void *)(intptr_t)((long)(intptr_t)a + b);
}

/* Number of spawned tasks in fib(n): one per internal node. */
static double fib_tasks(long n)
{
	double a = 0, b = 0; /* tasks(0), tasks(1) */
	for (long i = 2; i <= n; i++) {
		double c = a + b + 1;
		a = b;
		b = c;
	}
	return n < 2 ? 0 : b;
}

static double time_fib_seq(long n)
{
	double t0 = now_s();
	volatile long r = fib_seq(n);
	(void)r;
	return now_s() - t0;
}

static double time_fib_weft(unsigned workers, long n)
{
	fib_pool = make_pool(workers, -1);
	weft_future *f;
	double t0 = now_s();
	weft_submit(fib_pool, fib_task, (void *)(intptr_t)n, &f);
	void *r;
	weft_future_get(f, &r);
	double t = now_s() - t0;
	if ((long)(intptr_t)r != fib_seq(n)) {
		fprintf(stderr, "fib: wrong result\n");
		exit(1);
	}
	weft_future_release(f);
	weft_pool_destroy(fib_pool);
	return t;
}

static void bench_fib(long n)
{
	double seq[16], w1[16], w2[16], ov1[16], ov2[16];
	double tasks = fib_tasks(n);
	for (int i = 0; i < reps; i++) {
		seq[i] = time_fib_seq(n);
		w1[i] = time_fib_weft(1, n);
		w2[i] = time_fib_weft(2, n);
		ov1[i] = (w1[i] - seq[i]) / tasks * 1e9;
		ov2[i] = (w2[i] * 2 - seq[i]) / tasks * 1e9;
	}
	char name[64];
	snprintf(name, sizeof(name), "fib(%ld) sequential", n);
	row(name, summarize(seq, reps), "s");
	snprintf(name, sizeof(name), "fib(%ld) 1 worker", n);
	row(name, summarize(w1, reps), "s");
	snprintf(name, sizeof(name), "fib(%ld) 2 workers", n);
	row(name, summarize(w2, reps), "s");
	row("fib overhead per task, 1 worker", summarize(ov1, reps), "ns");
	row("fib overhead per task, 2 workers (x2 cores)", summarize(ov2, reps),
	    "ns");
	double sp[16];
	for (int i = 0; i < reps; i++)
		sp[i] = w1[i] / w2[i];
	row("fib speedup 2 workers vs 1", summarize(sp, reps), "x");
}

/*
 * External submission of detached tasks.
 */

static atomic_long counter;
static long counter_target;
/* Posted by the task that brings a count to its target, so the main
 * thread sleeps instead of polling a line the tasks write. */
static sem_t all_done;

static void *count_task(void *arg)
{
	(void)arg;
	if (atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed) + 1 ==
	    counter_target)
		sem_post(&all_done);
	return NULL;
}

static void bench_external(long n)
{
	double sub[16], all[16];
	for (int i = 0; i < reps; i++) {
		weft_pool *p = make_pool(2, -1);
		atomic_store(&counter, 0);
		counter_target = n;
		double t0 = now_s();
		for (long k = 0; k < n; k++)
			if (weft_submit(p, count_task, NULL, NULL))
				abort();
		double t1 = now_s();
		sem_wait(&all_done);
		double t2 = now_s();
		sub[i] = (t1 - t0) / (double)n * 1e9;
		all[i] = (t2 - t0) / (double)n * 1e9;
		weft_pool_destroy(p);
	}
	row("external submit, per task (submit loop)", summarize(sub, reps),
	    "ns");
	row("external submit, per task (until all ran)", summarize(all, reps),
	    "ns");
}

/*
 * Round trip: an external thread submits one tiny task and waits for it.
 */

static void *noop_task(void *arg)
{
	return arg;
}

static void bench_round_trip(const char *label, int64_t spin_ns,
			     long trips, long pause_us)
{
	weft_pool *p = make_pool(2, spin_ns);
	double *lat = malloc((size_t)trips * sizeof(*lat));
	struct timespec pause = { 0, pause_us * 1000 };
	for (long i = 0; i < trips + trips / 10; i++) {
		if (pause_us)
			nanosleep(&pause, NULL);
		double t0 = now_s();
		weft_future *f;
		weft_submit(p, noop_task, NULL, &f);
		weft_future_get(f, NULL);
		double t = now_s() - t0;
		weft_future_release(f);
		if (i >= trips / 10) /* warm-up dropped */
			lat[i - trips / 10] = t * 1e6;
	}
	qsort(lat, (size_t)trips, sizeof(*lat), cmp_double);
	printf("| %-44s | %10.2f | %10.2f | %10.2f | us (p50 p99 p99.9), "
	       "%ld trips |\n",
	       label, lat[trips / 2], lat[trips * 99 / 100],
	       lat[trips * 999 / 1000], trips);
	free(lat);
	weft_pool_destroy(p);
}

/*
 * Chain: each task submits the next.
 */

static weft_pool *chain_pool;
static atomic_long chain_left;

static void *chain_task(void *arg)
{
	(void)arg;
	if (atomic_fetch_sub_explicit(&chain_left, 1, memory_order_relaxed) > 1)
		weft_submit(chain_pool, chain_task, NULL, NULL);
	else
		sem_post(&all_done);
	return NULL;
}

static void *then_step(weft_future *a, void *ctx)
{
	(void)a;
	(void)ctx;
	return NULL;
}

static void bench_chain(unsigned workers, long n)
{
	double v[16], th[16];
	for (int i = 0; i < reps; i++) {
		chain_pool = make_pool(workers, -1);
		atomic_store(&chain_left, n);
		double t0 = now_s();
		weft_submit(chain_pool, chain_task, NULL, NULL);
		sem_wait(&all_done);
		v[i] = (now_s() - t0) / (double)n * 1e9;

		/* A then-chain of n links built before its head runs. */
		weft_future *head, *f, *g;
		weft_submit(chain_pool, noop_task, NULL, &head);
		weft_future_wait(head, WEFT_FOREVER);
		f = head;
		weft_future_retain(f);
		weft_future **all = malloc((size_t)n * sizeof(*all));
		t0 = now_s();
		for (long k = 0; k < n; k++) {
			weft_future_then(f, then_step, NULL, 0, &g);
			weft_future_release(f);
			f = g;
		}
		weft_future_get(f, NULL);
		th[i] = (now_s() - t0) / (double)n * 1e9;
		weft_future_release(f);
		weft_future_release(head);
		free(all);
		weft_pool_destroy(chain_pool);
	}
	char name[64];
	snprintf(name, sizeof(name), "chain of submits, %u worker%s, per hop",
		 workers, workers > 1 ? "s" : "");
	row(name, summarize(v, reps), "ns");
	snprintf(name, sizeof(name), "then chain (done head), %u worker%s",
		 workers, workers > 1 ? "s" : "");
	row(name, summarize(th, reps), "ns");
}

/*
 * Idle CPU: the pool's CPU time over 1 s after its spin window.
 */

static double process_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static void bench_idle(void)
{
	weft_pool *p = make_pool(2, -1);
	weft_future *f;
	weft_submit(p, noop_task, NULL, &f);
	weft_future_get(f, NULL);
	weft_future_release(f);
	struct timespec settle = { 0, 100 * 1000 * 1000 };
	nanosleep(&settle, NULL);
	double c0 = process_cpu_s(), t0 = now_s();
	struct timespec one = { 1, 0 };
	nanosleep(&one, NULL);
	double pct = (process_cpu_s() - c0) / (now_s() - t0) * 100;
	printf("| %-44s | %10.3f | %-23s | %-8s |\n",
	       "idle pool CPU over 1 s (2 workers)", pct, "", "% core");
	weft_pool_destroy(p);
}

int main(int argc, char **argv)
{
	bool quick = argc > 1 && strcmp(argv[1], "quick") == 0;
	reps = quick ? 3 : 7;
	sem_init(&all_done, 0, 0);
	struct bench_parallelism par;
	if (bench_parallelism_measure(&par) == 0)
		bench_parallelism_print(&par);
	printf("| %-44s | %10s | %-23s | %-8s |\n", "figure", "median",
	       "min - max", "unit");
	printf("|---|---|---|---|\n");
	bench_fib(quick ? 27 : 30);
	bench_external(1000000);
	bench_chain(1, 1000000);
	bench_chain(2, 1000000);
	bench_round_trip("round trip, parked (50 us pause)", -1,
			 quick ? 2000 : 20000, 50);
	bench_round_trip("round trip, hot (no pause)", -1,
			 quick ? 20000 : 200000, 0);
	bench_idle();
	return 0;
}
