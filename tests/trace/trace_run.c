/*
 * Work for check_trace.py to trace: it runs one of the modes below and
 * prints, per pool, "pool NAME executed=N stolen=N injected=N" as
 * weft_pool_stats reads them once the pool's work is done (before the
 * pool is destroyed), and "result ok" if every task computed what it
 * should. Public API only.
 *
 *   fib N        one pool "tra" of two workers: fib(N) by nested
 *                submit + get; a task that pushes 8 children and waits
 *                for them without helping (so the other worker must
 *                steal them); a pause (so the workers park); then 200
 *                tasks submitted from outside (so one wakes), with a
 *                continuation on each tenth
 *   two N        two pools "tra" and "trb", alive at once, each running
 *                the fib mode's work from its own thread
 *   api N A B    as two, but traced from code: weft_trace_start on both,
 *                the work, then weft_trace_stop to files A and B; prints
 *                "stop 0 0" with the two return codes
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "weft.h"

struct fib_arg {
	weft_pool *p;
	int n;
	long result;
};

static void *fib_task(void *arg)
{
	struct fib_arg *a = arg;
	if (a->n < 2) {
		a->result = a->n;
		return NULL;
	}
	struct fib_arg x = {a->p, a->n - 1, 0}, y = {a->p, a->n - 2, 0};
	weft_future *f;
	if (weft_submit(a->p, fib_task, &x, &f))
		abort();
	fib_task(&y);
	if (weft_future_get(f, NULL))
		abort();
	weft_future_release(f);
	a->result = x.result + y.result;
	return NULL;
}

static long fib_seq(int n)
{
	return n < 2 ? n : fib_seq(n - 1) + fib_seq(n - 2);
}

static void *square(void *arg)
{
	uintptr_t x = (uintptr_t)arg;
	return (void *)(x * x);
}

static void *plus_one(weft_future *a, void *ctx)
{
	(void)ctx;
	void *r;
	if (weft_future_get(a, &r))
		abort();
	return (void *)((uintptr_t)r + 1);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

#define EXTERNAL 200
#define BAIT 8

static void *count_run(void *arg)
{
	atomic_fetch_add((_Atomic int *)arg, 1);
	return NULL;
}

/* Pushes BAIT children on its worker's deque and waits for them outside
 * weft (no helping): only a thief can run them. */
static void *bait(void *arg)
{
	weft_pool *p = arg;
	_Atomic int ran = 0;
	for (int i = 0; i < BAIT; i++)
		if (weft_submit(p, count_run, &ran, NULL))
			return (void *)1;
	for (int i = 0; atomic_load(&ran) < BAIT; i++) {
		if (i > 100000)
			return (void *)1; /* 10 s: no thief came */
		struct timespec ts = {0, 100000};
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* The fib mode's work on p: true if every result is right. */
static bool work(weft_pool *p, int n)
{
	struct fib_arg root = {p, n, 0};
	weft_future *f;
	if (weft_submit(p, fib_task, &root, &f))
		return false;
	bool ok = weft_future_get(f, NULL) == 0 && root.result == fib_seq(n);
	weft_future_release(f);
	void *r = NULL;
	if (weft_submit(p, bait, p, &f))
		return false;
	ok = ok && weft_future_get(f, &r) == 0 && r == NULL;
	weft_future_release(f);
	/* Longer than a worker's search (spin_ns): the workers park. */
	sleep_ms(20);
	weft_future *fs[EXTERNAL], *cs[EXTERNAL / 10];
	for (uintptr_t i = 0; i < EXTERNAL; i++)
		if (weft_submit(p, square, (void *)i, &fs[i]))
			return false;
	for (unsigned i = 0; i < EXTERNAL / 10; i++)
		if (weft_future_then(fs[i * 10], plus_one, NULL, 0, &cs[i]))
			return false;
	for (uintptr_t i = 0; i < EXTERNAL; i++) {
		ok = ok && weft_future_get(fs[i], &r) == 0 &&
		     (uintptr_t)r == i * i;
		if (i % 10 == 0) {
			ok = ok && weft_future_get(cs[i / 10], &r) == 0 &&
			     (uintptr_t)r == i * i + 1;
			weft_future_release(cs[i / 10]);
		}
		weft_future_release(fs[i]);
	}
	return ok;
}

static weft_pool *pool(const char *name)
{
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = 2;
	cfg.name = name;
	weft_pool *p;
	int err = weft_pool_create(&p, &cfg);
	if (err) {
		fprintf(stderr, "weft_pool_create: %s\n", weft_strerror(err));
		exit(1);
	}
	return p;
}

static void report(weft_pool *p, const char *name)
{
	weft_stats s;
	weft_pool_stats(p, &s);
	printf("pool %s executed=%llu stolen=%llu injected=%llu\n", name,
	       (unsigned long long)s.executed, (unsigned long long)s.stolen,
	       (unsigned long long)s.injected);
}

struct job {
	weft_pool *p;
	int n;
	bool ok;
};

static void *job_thread(void *arg)
{
	struct job *j = arg;
	j->ok = work(j->p, j->n);
	return NULL;
}

/* Runs the work on two pools at once, each from its own thread. */
static bool two(weft_pool *a, weft_pool *b, int n)
{
	struct job ja = {a, n, false}, jb = {b, n, false};
	pthread_t ta, tb;
	if (pthread_create(&ta, NULL, job_thread, &ja) ||
	    pthread_create(&tb, NULL, job_thread, &jb))
		abort();
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	return ja.ok && jb.ok;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s fib|two|api N [A B]\n", argv[0]);
		return 2;
	}
	const char *mode = argv[1];
	int n = atoi(argv[2]);
	bool ok;
	if (!strcmp(mode, "fib")) {
		weft_pool *p = pool("tra");
		ok = work(p, n);
		report(p, "tra");
		weft_pool_destroy(p);
	} else if (!strcmp(mode, "two") || (!strcmp(mode, "api") && argc == 5)) {
		bool api = !strcmp(mode, "api");
		weft_pool *a = pool("tra"), *b = pool("trb");
		if (api && (weft_trace_start(a) || weft_trace_start(b))) {
			fprintf(stderr, "weft_trace_start failed\n");
			return 1;
		}
		ok = two(a, b, n);
		report(a, "tra");
		report(b, "trb");
		if (api)
			printf("stop %d %d\n", weft_trace_stop(a, argv[3]),
			       weft_trace_stop(b, argv[4]));
		weft_pool_destroy(a);
		weft_pool_destroy(b);
	} else {
		fprintf(stderr, "unknown mode %s\n", mode);
		return 2;
	}
	printf("result %s\n", ok ? "ok" : "WRONG");
	return ok ? 0 : 1;
}
