/*
 * Helpers shared by the runtime's Criterion tests: pools of a given size,
 * gates that hold a worker busy until the test opens them, and polling with
 * a deadline (a test fails instead of hanging; Criterion's per-test timeout
 * is the last resort).
 */
#ifndef WEFT_TESTS_RUNTIME_UNIT_H
#define WEFT_TESTS_RUNTIME_UNIT_H

#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "weft.h"

#define UNIT_TIMEOUT 20

/*
 * Under AddressSanitizer, every suite's fini checks for leaks: Criterion
 * runs each test in its own process and ignores LeakSanitizer's report
 * at exit, and an assertion in fini does not count, so a leak aborts.
 */
#if defined(__SANITIZE_ADDRESS__)
#define UNIT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNIT_ASAN 1
#endif
#endif

#ifdef UNIT_ASAN
#include <sanitizer/lsan_interface.h>
#include <stdio.h>
#include <stdlib.h>

/* Clears the stack the test's frames used, so stale pointers there do
 * not hide a leak from the conservative scan. */
__attribute__((noinline)) static void unit_scrub_stack(void)
{
	volatile char buf[256 * 1024];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = 0;
}

static inline void unit_leak_check(void)
{
	unit_scrub_stack();
	if (__lsan_do_recoverable_leak_check()) {
		fprintf(stderr, "the test leaked memory (report above)\n");
		abort();
	}
}
#else
static inline void unit_leak_check(void)
{
}
#endif

static inline int64_t unit_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void unit_sleep_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static inline weft_pool *unit_pool(unsigned workers)
{
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = workers;
	weft_pool *p = NULL;
	int rc = weft_pool_create(&p, &cfg);
	cr_assert_eq(rc, 0, "weft_pool_create: %d", rc);
	cr_assert_not_null(p);
	return p;
}

/* Polls flag until it is at least want, for at most 5 s. */
static inline bool unit_wait_for(_Atomic int *flag, int want)
{
	int64_t end = unit_now_ns() + 5000000000;
	while (atomic_load(flag) < want) {
		if (unit_now_ns() > end)
			return false;
		unit_sleep_us(50);
	}
	return true;
}

/*
 * A gate: gate_task enters (entered = 1), waits until the test opens the
 * gate, and returns arg's result. Submitted to a 1-worker pool it keeps
 * every other task of that pool queued.
 */
struct unit_gate {
	_Atomic int entered;
	_Atomic int open;
	void *result;
};

static inline void *unit_gate_task(void *arg)
{
	struct unit_gate *g = arg;
	atomic_store(&g->entered, 1);
	int64_t end = unit_now_ns() + 10000000000;
	while (!atomic_load(&g->open) && unit_now_ns() < end)
		unit_sleep_us(50);
	return g->result;
}

/* Submits a gate task and waits until a worker runs it. */
static inline weft_future *unit_block(weft_pool *p, struct unit_gate *g)
{
	weft_future *f = NULL;
	cr_assert_eq(weft_submit(p, unit_gate_task, g, &f), 0);
	cr_assert(unit_wait_for(&g->entered, 1), "the gate task never ran");
	return f;
}

static inline void unit_open(struct unit_gate *g)
{
	atomic_store(&g->open, 1);
}

/* A task that counts its runs in *(_Atomic int *)arg and returns arg. */
static inline void *unit_count_task(void *arg)
{
	atomic_fetch_add((_Atomic int *)arg, 1);
	return arg;
}

/* A task that returns its argument. */
static inline void *unit_identity(void *arg)
{
	return arg;
}

#endif
