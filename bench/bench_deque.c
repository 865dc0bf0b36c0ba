/*
 * Deque microbenchmark.
 *
 *  1. Owner push+take pairs, one thread: push `depth` items, take them
 *     all, repeat; ns per pair. A plain array stack is the sequential
 *     baseline.
 *  2. Steals under contention: one owner pushes (keeping at most DEPTH
 *     items in the deque, never taking) while 1 to 3 thieves steal until
 *     every item is gone; wall-clock ns per successful steal, and steal
 *     attempts per success with the share of RETRY and EMPTY results.
 *
 * Each figure is the median of REPS runs, with the min-max range. On a
 * machine with fewer CPUs than threads, table 2 measures oversubscription
 * too: read it together with the parallelism line printed first.
 */
#include "deque/deque.h"

#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "parallelism.h"

#define REPS 7
#define PAIRS (UINT64_C(1) << 22)    /* push+take pairs per run */
#define STEALS (UINT64_C(1) << 20)   /* items stolen per run */
#define DEPTH 1024                   /* owner's limit in table 2 */
#define MAX_THIEVES 3

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

struct stats {
	double median, min, max;
};

static struct stats summarize(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
	return (struct stats){ v[n / 2], v[0], v[n - 1] };
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench_deque: %s failed: %d\n", what, err);
	exit(1);
}

/* ------------------------------------------------------------------ */
/* 1. push+take, one thread                                             */

/* Keeps the compiler from dropping the baseline's work (one thread). */
static volatile uintptr_t sink;

static double pairs_deque(struct weft__deque *d, uint64_t depth)
{
	uint64_t rounds = PAIRS / depth;
	uintptr_t sum = 0;
	double t0 = now_s();

	for (uint64_t r = 0; r < rounds; r++) {
		for (uint64_t i = 0; i < depth; i++)
			if (weft__deque_push(d, (void *)(uintptr_t)(i + 1)))
				die("push", -1);
		for (uint64_t i = 0; i < depth; i++)
			sum += (uintptr_t)weft__deque_take(d);
	}
	double t = now_s() - t0;
	sink = sum;
	return t * 1e9 / (double)(rounds * depth);
}

static double pairs_array(void **a, uint64_t depth)
{
	uint64_t rounds = PAIRS / depth;
	uintptr_t sum = 0;
	double t0 = now_s();

	for (uint64_t r = 0; r < rounds; r++) {
		uint64_t n = 0;

		for (uint64_t i = 0; i < depth; i++)
			a[n++] = (void *)(uintptr_t)(i + 1);
		/* Keep the compiler from folding the stack away. */
		__asm__ __volatile__("" : : "r"(a) : "memory");
		while (n)
			sum += (uintptr_t)a[--n];
	}
	double t = now_s() - t0;
	sink = sum;
	return t * 1e9 / (double)(rounds * depth);
}

static void table_pairs(void)
{
	static const uint64_t depths[] = {1, 16, 256, 4096, 65536};
	double v[REPS];

	printf("\nowner push+take pairs, one thread (%" PRIu64
	       " pairs per run)\n", PAIRS);
	printf("  %-22s %10s %16s\n", "", "ns/pair", "min-max");
	for (size_t k = 0; k < sizeof(depths) / sizeof(depths[0]); k++) {
		struct weft__deque d;
		int err = weft__deque_init(&d, 2, WEFT__RECLAIM_AT_DESTROY);

		if (err)
			die("init", err);
		pairs_deque(&d, depths[k]); /* warm up and grow */
		for (int r = 0; r < REPS; r++)
			v[r] = pairs_deque(&d, depths[k]);
		struct stats s = summarize(v, REPS);
		char label[32];
		snprintf(label, sizeof(label), "deque, depth %" PRIu64,
			 depths[k]);
		printf("  %-22s %10.2f %8.2f-%-7.2f\n", label, s.median, s.min,
		       s.max);
		weft__deque_destroy(&d);
	}

	void **a = malloc(4096 * sizeof(*a));
	if (!a)
		die("malloc", -1);
	pairs_array(a, 4096);
	for (int r = 0; r < REPS; r++)
		v[r] = pairs_array(a, 4096);
	struct stats s = summarize(v, REPS);
	printf("  %-22s %10.2f %8.2f-%-7.2f\n", "plain array, 4096", s.median,
	       s.min, s.max);
	free(a);
}

/* ------------------------------------------------------------------ */
/* 2. steals under contention                                           */

struct thief {
	pthread_t tid;
	uint64_t ok, retry, empty;
};

static struct weft__deque sd;
static struct thief thieves[MAX_THIEVES];
/* Set by the owner when it has pushed everything (release); read by
 * thieves after an EMPTY steal (acquire), to stop once the deque is empty
 * for good. */
static _Atomic bool pushed_all;
/* Counts thieves ready to start (release increments, acquire wait; see
 * run_steals()). */
static _Atomic unsigned ready;
/* Set by the owner once every thread is ready (release); spun on by the
 * thieves (acquire). */
static _Atomic bool go;

static void *thief_main(void *arg)
{
	struct thief *th = arg;

	/* release: publishes this thread's start to the owner; pairs with
	 * its acquire load of ready. */
	atomic_fetch_add_explicit(&ready, 1, memory_order_release);
	/* acquire: pairs with the owner's release store of go. */
	while (!atomic_load_explicit(&go, memory_order_acquire))
		cpu_relax();
	for (;;) {
		void *x;

		switch (weft__deque_steal(&sd, &x)) {
		case WEFT__STEAL_OK:
			th->ok++;
			break;
		case WEFT__STEAL_RETRY:
			th->retry++;
			break;
		case WEFT__STEAL_EMPTY:
			th->empty++;
			/* acquire: pairs with the owner's release store of
			 * pushed_all; nothing is pushed after it. */
			if (atomic_load_explicit(&pushed_all,
						 memory_order_acquire))
				return NULL;
			cpu_relax();
			break;
		}
	}
}

/* One run with n thieves: returns wall ns per successful steal and adds
 * the thieves' outcome counts to *ok, *retry and *empty. */
static double run_steals(unsigned n, uint64_t *ok, uint64_t *retry,
			 uint64_t *empty)
{
	int err = weft__deque_init(&sd, DEPTH, WEFT__RECLAIM_AT_DESTROY);

	if (err)
		die("init", err);
	/* relaxed (these three stores): the thieves do not exist yet, and
	 * pthread_create orders the stores before them. */
	atomic_store_explicit(&pushed_all, false, memory_order_relaxed);
	/* relaxed: as above. */
	atomic_store_explicit(&ready, 0, memory_order_relaxed);
	/* relaxed: as above. */
	atomic_store_explicit(&go, false, memory_order_relaxed);
	for (unsigned i = 0; i < n; i++) {
		thieves[i] = (struct thief){ 0 };
		err = pthread_create(&thieves[i].tid, NULL, thief_main,
				     &thieves[i]);
		if (err)
			die("pthread_create", err);
	}
	/* acquire: pairs with each thief's release increment. */
	while (atomic_load_explicit(&ready, memory_order_acquire) < n)
		sched_yield();

	double t0 = now_s();
	/* release: starts the thieves; pairs with their acquire spin. */
	atomic_store_explicit(&go, true, memory_order_release);
	for (uint64_t i = 0; i < STEALS; i++) {
		while (weft__deque_size(&sd) >= DEPTH)
			cpu_relax();
		if (weft__deque_push(&sd, (void *)(uintptr_t)(i + 1)))
			die("push", -1);
	}
	/* release: pairs with the thieves' acquire load after EMPTY. */
	atomic_store_explicit(&pushed_all, true, memory_order_release);
	for (unsigned i = 0; i < n; i++) {
		pthread_join(thieves[i].tid, NULL);
		*ok += thieves[i].ok;
		*retry += thieves[i].retry;
		*empty += thieves[i].empty;
	}
	double t = now_s() - t0;
	weft__deque_destroy(&sd);
	return t * 1e9 / (double)STEALS;
}

static void table_steals(void)
{
	double v[REPS];

	printf("\nsteals under contention: 1 owner pushing (at most %d "
	       "queued), n thieves (%" PRIu64 " steals per run)\n", DEPTH,
	       STEALS);
	printf("  %-10s %10s %16s %16s %8s %8s\n", "thieves", "ns/steal",
	       "min-max", "attempts/steal", "retry", "empty");
	for (unsigned n = 1; n <= MAX_THIEVES; n++) {
		uint64_t ok = 0, retry = 0, empty = 0;

		for (int r = 0; r < REPS; r++)
			v[r] = run_steals(n, &ok, &retry, &empty);
		struct stats s = summarize(v, REPS);
		double attempts = (double)(ok + retry + empty);
		if (ok != STEALS * REPS)
			die("steal count", (int)(ok - STEALS * REPS));
		printf("  %-10u %10.1f %7.1f-%-8.1f %16.2f %7.1f%% %7.1f%%\n",
		       n, s.median, s.min, s.max, attempts / (double)ok,
		       100.0 * (double)retry / attempts,
		       100.0 * (double)empty / attempts);
	}
}

int main(void)
{
	struct bench_parallelism p;
	int err = bench_parallelism_measure(&p);

	if (err)
		die("parallelism probe", err);
	bench_parallelism_print(&p);
	printf("deque benchmark: median of %d runs (min-max)\n", REPS);
	table_pairs();
	table_steals();
	return 0;
}
