/*
 * The cross-CPU probe (see crosscpu.h).
 */
#include "crosscpu.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ITEMS 20000
#define PASSES 64

static uint64_t array[ITEMS];

/* Whose turn it is: even, the writer's; odd, the reader's. Each side
 * waits for its turn (acquire) and passes it on (release), so the array's
 * contents go with the turn. */
static _Atomic unsigned turn;

struct side {
	int cpu;
	double us[PASSES];
	int err;
};

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static void write_pass(unsigned pass)
{
	for (unsigned i = 0; i < ITEMS; i++)
		array[i] = i + pass;
	/* Keeps the stores: the array is read by the other side. */
	__asm__ volatile("" ::: "memory");
}

static uint64_t read_pass(void)
{
	uint64_t sum = 0;
	for (unsigned i = 0; i < ITEMS; i++)
		sum += array[i];
	return sum;
}

static int pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return -pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void wait_turn(unsigned want)
{
	/* acquire: pairs with the release store of the other side. */
	while (atomic_load_explicit(&turn, memory_order_acquire) != want)
		sched_yield();
}

/* The writer's passes, on the calling thread. */
static void run_writer(struct side *s)
{
	for (unsigned p = 0; p < PASSES; p++) {
		wait_turn(2 * p);
		double t = now_us();
		write_pass(p);
		s->us[p] = now_us() - t;
		/* release: hands the written array to the reader; pairs with
		 * its acquire in wait_turn. */
		atomic_store_explicit(&turn, 2 * p + 1, memory_order_release);
	}
}

static void *reader_main(void *arg)
{
	struct side *s = arg;
	s->err = pin(s->cpu);
	for (unsigned p = 0; p < PASSES; p++) {
		wait_turn(2 * p + 1);
		double t = now_us();
		uint64_t sum = read_pass();
		s->us[p] = now_us() - t;
		if (sum != (uint64_t)ITEMS * (ITEMS - 1) / 2 +
				   (uint64_t)ITEMS * p)
			s->err = -EIO;
		/* release: hands the array back to the writer; pairs with
		 * its acquire in wait_turn. */
		atomic_store_explicit(&turn, 2 * p + 2, memory_order_release);
	}
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v)
{
	qsort(v, PASSES, sizeof(v[0]), cmp_double);
	return v[PASSES / 2];
}

int bench_crosscpu_measure(struct bench_crosscpu *c)
{
	cpu_set_t set;
	int cpus[2], found = 0;

	c->measured = false;
	if (sched_getaffinity(0, sizeof(set), &set))
		return 0;
	for (int cpu = 0; cpu < CPU_SETSIZE && found < 2; cpu++)
		if (CPU_ISSET(cpu, &set))
			cpus[found++] = cpu;
	if (found < 2)
		return 0;

	/* This thread writes, pinned to the first CPU (its mask restored
	 * after); a new thread reads, pinned to the second. */
	static struct side writer, reader;
	writer = (struct side){ .cpu = cpus[0] };
	reader = (struct side){ .cpu = cpus[1] };
	/* relaxed: no other thread exists yet. */
	atomic_store_explicit(&turn, 0, memory_order_relaxed);
	pthread_t r;
	int err = pthread_create(&r, NULL, reader_main, &reader);
	if (err)
		return -err;
	writer.err = pin(writer.cpu);
	run_writer(&writer);
	pthread_join(r, NULL);
	sched_setaffinity(0, sizeof(set), &set);
	if (writer.err || reader.err)
		return writer.err ? writer.err : reader.err;
	c->write_us = median(writer.us);
	c->read_us = median(reader.us);

	/* The same passes on this thread alone, after one to warm up. */
	double wl[PASSES], rl[PASSES];
	write_pass(0);
	for (unsigned p = 0; p < PASSES; p++) {
		double t = now_us();
		write_pass(p);
		wl[p] = now_us() - t;
		t = now_us();
		uint64_t sum = read_pass();
		rl[p] = now_us() - t;
		if (sum == 0)
			return -EIO;
	}
	c->write_local_us = median(wl);
	c->read_local_us = median(rl);
	c->measured = true;
	return 0;
}

void bench_crosscpu_print(const struct bench_crosscpu *c)
{
	if (!c->measured) {
		printf("cross-CPU: not measured (fewer than two CPUs)\n");
		return;
	}
	printf("cross-CPU: %u KB written after the other CPU read it %.1f us "
	       "(%.1f us on one CPU), read after the other CPU wrote it "
	       "%.1f us (%.1f us)\n",
	       (unsigned)(sizeof(array) / 1000), c->write_us,
	       c->write_local_us, c->read_us, c->read_local_us);
}
