/*
 * What the Criterion tests of tests/many share: pools, gated jobs whose
 * completion order the test decides, futures held PENDING behind a busy
 * worker, and actions run later from a helper thread.
 *
 * Criterion runs every test in its own process, so each test makes its
 * own pools and must leave nothing behind (the ASan build checks leaks).
 */
#ifndef WEFT_TESTS_MANY_UNIT_H
#define WEFT_TESTS_MANY_UNIT_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <criterion/criterion.h>

#include <weft.h>

#define MS 1000000LL /* nanoseconds */

/*
 * Leaks. Criterion runs each test in a child process whose exit-time
 * LeakSanitizer report it ignores, so under ASan every suite's .fini runs
 * a leak check after each test and aborts on a leak: the LSan report and
 * Criterion's "crashed during its setup or teardown" name the test, and
 * the executable fails. (An assertion in .fini is not counted, and
 * Criterion loses a child's stderr with --tap, so these tests use the
 * exit code.)
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

/* The exit-time check would only see Criterion's runner, which leaks a
 * little of its own, and children whose report Criterion ignores. */
const char *__lsan_default_options(void)
{
	return "leak_check_at_exit=0";
}

static inline void unit_leak_check(void)
{
	if (__lsan_do_recoverable_leak_check()) {
		fprintf(stderr, "LEAK: test %s leaked memory (report above)\n",
			criterion_current_test->name);
		abort();
	}
}
#else
static inline void unit_leak_check(void)
{
}
#endif

/* A suite whose tests must leave nothing behind. */
#define UNIT_SUITE(name, ...)                                                 \
	TestSuite(name, .fini = unit_leak_check, __VA_ARGS__)

static inline int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void sleep_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static inline void sleep_ms(long ms)
{
	sleep_us(ms * 1000);
}

static inline weft_pool *make_pool(unsigned workers)
{
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = workers;
	weft_pool *p = NULL;
	cr_assert_eq(weft_pool_create(&p, &cfg), 0);
	return p;
}

/*
 * A gate: closed until opened. Jobs wait on it with a short sleep loop
 * (simple, and visible to every sanitizer).
 */
struct gate {
	atomic_int open;
};

static inline void gate_open(struct gate *g)
{
	atomic_store(&g->open, 1);
}

static inline void gate_wait(struct gate *g)
{
	while (!atomic_load(&g->open))
		sleep_us(50);
}

/*
 * A job: waits for its gate (if any), then succeeds with result or fails
 * with fail. started/ran count its runs.
 */
struct job {
	struct gate *gate;
	int fail;
	void *result;
	atomic_int started, ran;
};

static inline void *job_fn(void *arg)
{
	struct job *j = arg;
	atomic_fetch_add(&j->started, 1);
	if (j->gate)
		gate_wait(j->gate);
	int fail = j->fail;
	void *result = j->result;
	/* The test may reuse j once ran moves: nothing reads it after. */
	atomic_fetch_add(&j->ran, 1);
	return fail ? weft_fail(fail) : result;
}

static inline weft_future *submit_job(weft_pool *p, struct job *j)
{
	weft_future *f = NULL;
	cr_assert_eq(weft_submit(p, job_fn, j, &f), 0);
	return f;
}

/* Waits (bounded, so a bug fails the test instead of hanging it) until f
 * is done. */
static inline void await_done(weft_future *f)
{
	cr_assert_eq(weft_future_wait(f, 10000 * MS), 0,
		     "a future did not complete within 10 s");
}

static inline void await_started(struct job *j)
{
	int64_t until = now_ns() + 10000 * MS;
	while (!atomic_load(&j->started)) {
		cr_assert_lt(now_ns(), until, "a job did not start in 10 s");
		sleep_us(50);
	}
}

/* A future already done with the given outcome (fail 0: succeeded with
 * result). */
static inline weft_future *done_future(weft_pool *p, struct job *j)
{
	weft_future *f = submit_job(p, j);
	await_done(f);
	return f;
}

/*
 * A busy pool: one worker, held by a blocker job until blocked_stop().
 * Tasks submitted to it stay PENDING, so they can be cancelled, and they
 * complete only by cancellation (or after blocked_stop).
 */
struct blocked {
	weft_pool *p;
	struct gate gate;
	struct job blocker;
	weft_future *f;
};

static inline void blocked_start(struct blocked *b)
{
	atomic_init(&b->gate.open, 0);
	b->blocker = (struct job){.gate = &b->gate};
	b->p = make_pool(1);
	b->f = submit_job(b->p, &b->blocker);
	await_started(&b->blocker);
}

static inline weft_future *blocked_pending(struct blocked *b, struct job *j)
{
	weft_future *f = submit_job(b->p, j);
	cr_assert_eq(weft_future_state(f), WEFT_PENDING);
	return f;
}

static inline void blocked_stop(struct blocked *b)
{
	gate_open(&b->gate);
	cr_assert_eq(weft_pool_destroy(b->p), 0);
	weft_future_release(b->f);
}

/*
 * An action run from a helper thread after a delay.
 */
struct later {
	pthread_t thread;
	long delay_ms;
	void (*fn)(void *);
	void *arg;
};

static inline void *later_main(void *arg)
{
	struct later *l = arg;
	sleep_ms(l->delay_ms);
	l->fn(l->arg);
	return NULL;
}

static inline void later_start(struct later *l, long delay_ms,
			       void (*fn)(void *), void *arg)
{
	l->delay_ms = delay_ms;
	l->fn = fn;
	l->arg = arg;
	cr_assert_eq(pthread_create(&l->thread, NULL, later_main, l), 0);
}

static inline void later_join(struct later *l)
{
	pthread_join(l->thread, NULL);
}

static inline void later_open_gate(void *arg)
{
	gate_open(arg);
}

static inline void later_cancel(void *arg)
{
	weft_future_cancel(arg);
}

static inline void release_all(weft_future **fs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		weft_future_release(fs[i]);
}

#endif
