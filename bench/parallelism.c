/*
 * The parallelism probe (see parallelism.h).
 */
#include "parallelism.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define TRIALS 3
#define MAX_LOOPS 256

/* Keeps the compiler from deleting the loops. Written by each loop thread
 * once at its end (relaxed: nobody reads it for ordering). */
static _Atomic uint64_t sink;

/* Set by run_together() once every loop thread exists (release); the
 * threads spin on it (acquire) so they start together. */
static _Atomic bool go;

struct loop {
	pthread_t tid;
	uint64_t iters;
	double secs;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A dependent chain of multiply-xorshift steps: pure CPU, no memory. */
static double busy(uint64_t iters)
{
	uint64_t x = iters;
	double t0 = now_s();

	for (uint64_t i = 0; i < iters; i++) {
		x = x * UINT64_C(6364136223846793005) +
		    UINT64_C(1442695040888963407);
		x ^= x >> 29;
	}
	double t = now_s() - t0;
	/* relaxed: see sink. */
	atomic_fetch_add_explicit(&sink, x, memory_order_relaxed);
	return t;
}

static void *loop_main(void *arg)
{
	struct loop *l = arg;

	/* acquire: pairs with the release store of go in run_together(). */
	while (!atomic_load_explicit(&go, memory_order_acquire))
		sched_yield();
	l->secs = busy(l->iters);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Seconds per loop when k run at once: the mean of their times. */
static int run_together(unsigned k, uint64_t iters, double *secs)
{
	static struct loop loops[MAX_LOOPS];
	unsigned started = 0;
	int err = 0;

	/* relaxed: no loop thread exists yet. */
	atomic_store_explicit(&go, false, memory_order_relaxed);
	for (; started < k; started++) {
		loops[started].iters = iters;
		err = pthread_create(&loops[started].tid, NULL, loop_main,
				     &loops[started]);
		if (err)
			break;
	}
	/* release: starts the loops; pairs with the acquire load in
	 * loop_main(). */
	atomic_store_explicit(&go, true, memory_order_release);
	double sum = 0;
	for (unsigned i = 0; i < started; i++) {
		pthread_join(loops[i].tid, NULL);
		sum += loops[i].secs;
	}
	if (err)
		return -err;
	*secs = sum / k;
	return 0;
}

int bench_parallelism_measure(struct bench_parallelism *p)
{
	cpu_set_t set;
	unsigned cpus = 1;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		cpus = (unsigned)CPU_COUNT(&set);
	if (cpus < 1)
		cpus = 1;
	unsigned k = cpus < 2 ? 2 : cpus > MAX_LOOPS ? MAX_LOOPS : cpus;

	/* Calibrate: about 0.1 s per loop alone. */
	uint64_t iters = 1u << 20;
	double t;
	while ((t = busy(iters)) < 0.05)
		iters *= 2;
	iters = (uint64_t)((double)iters * 0.1 / t);

	double ratios[TRIALS];
	for (int i = 0; i < TRIALS; i++) {
		double alone = busy(iters), together;
		int err = run_together(k, iters, &together);

		if (err)
			return err;
		ratios[i] = alone / together;
	}
	qsort(ratios, TRIALS, sizeof(ratios[0]), cmp_double);
	p->cpus = cpus;
	p->loops = k;
	p->ratio = ratios[TRIALS / 2];
	p->parallelism = k * p->ratio > k ? k : k * p->ratio;
	return 0;
}

void bench_parallelism_print(const struct bench_parallelism *p)
{
	static const char *const words[] = {
		"zero", "one", "two", "three", "four", "five", "six", "seven",
		"eight",
	};
	char num[16];
	const char *n = num;

	if (p->loops < sizeof(words) / sizeof(words[0]))
		n = words[p->loops];
	else
		snprintf(num, sizeof(num), "%u", p->loops);
	printf("parallelism: %.2f of %u CPU%s (%s busy loops ran at %.2fx the "
	       "speed of one)\n", p->parallelism, p->cpus,
	       p->cpus == 1 ? "" : "s", n, p->ratio);
}
