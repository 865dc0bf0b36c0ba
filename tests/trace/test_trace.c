/*
 * Timing and tracing from code: weft_stats.sched_latency and busy_ns
 * (plausibility: the buckets sum to the tasks started, a task held back
 * about 1.5 ms lands in its bucket, a task that spins 1 ms adds at least
 * 1 ms of busy time, a waiting task's helping counts once), and
 * weft_trace_start / weft_trace_stop with every error they document.
 * What the trace files hold is checked by check_trace.py.
 *
 * Built with -DTEST_NO_TRACE in a -Dtrace=false build, where only the
 * "compiled out" cases run.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"

#ifdef WEFT_ALLOC_HOOK
#include "runtime/alloc_hook.h"
#endif

TestSuite(timing, .fini = unit_leak_check, .timeout = 60);
TestSuite(trace_api, .fini = unit_leak_check, .timeout = 60);

static weft_pool *timed_pool(unsigned workers, bool timing)
{
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = workers;
	cfg.timing = timing;
	weft_pool *p = NULL;
	cr_assert_eq(weft_pool_create(&p, &cfg), 0);
	return p;
}

static uint64_t bucket_sum(const weft_stats *s)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < WEFT_LATENCY_BUCKETS; i++)
		n += s->sched_latency[i];
	return n;
}

__attribute__((unused)) static unsigned bucket_of(int64_t ns)
{
	unsigned b = 0;
	while (b + 1 < WEFT_LATENCY_BUCKETS && ns >= ((int64_t)2 << b))
		b++;
	return b;
}

__attribute__((unused)) static void spin_ns(int64_t ns)
{
	int64_t end = unit_now_ns() + ns;
	while (unit_now_ns() < end)
		;
}

struct fib {
	weft_pool *p;
	int n;
	long r;
};

static void *fib_task(void *arg)
{
	struct fib *a = arg;
	if (a->n < 2) {
		a->r = a->n;
		return NULL;
	}
	struct fib x = {a->p, a->n - 1, 0}, y = {a->p, a->n - 2, 0};
	weft_future *f;
	cr_assert_eq(weft_submit(a->p, fib_task, &x, &f), 0);
	fib_task(&y);
	cr_assert_eq(weft_future_get(f, NULL), 0);
	weft_future_release(f);
	a->r = x.r + y.r;
	return NULL;
}

static void *next_fn(weft_future *a, void *ctx)
{
	(void)a;
	return ctx;
}

__attribute__((unused)) static void *fail_task(void *arg)
{
	(void)arg;
	return weft_fail(EIO);
}

/* Tasks of every kind: nested submits from workers, external submits,
 * continuations. */
static void mixed_work(weft_pool *p)
{
	struct fib root = {p, 14, 0};
	weft_future *f, *fs[300], *cs[30];
	cr_assert_eq(weft_submit(p, fib_task, &root, &f), 0);
	for (uintptr_t i = 0; i < 300; i++)
		cr_assert_eq(weft_submit(p, unit_identity, (void *)i, &fs[i]),
			     0);
	for (int i = 0; i < 30; i++)
		cr_assert_eq(weft_future_then(fs[i * 10], next_fn, NULL, 0,
					      &cs[i]),
			     0);
	cr_assert_eq(weft_future_get(f, NULL), 0);
	cr_assert_eq(root.r, 377);
	weft_future_release(f);
	for (int i = 0; i < 300; i++) {
		cr_assert_eq(weft_future_get(fs[i], NULL), 0);
		weft_future_release(fs[i]);
	}
	for (int i = 0; i < 30; i++) {
		cr_assert_eq(weft_future_get(cs[i], NULL), 0);
		weft_future_release(cs[i]);
	}
}

#ifndef TEST_NO_TRACE

Test(timing, off_by_default)
{
	weft_pool *p = timed_pool(2, false);
	mixed_work(p);
	weft_stats s;
	cr_assert_eq(weft_pool_stats(p, &s), 0);
	cr_assert_gt(s.executed, 0);
	cr_assert_eq(bucket_sum(&s), 0);
	cr_assert_eq(s.busy_ns, 0);
	for (unsigned i = 0; i < 8; i++)
		cr_assert_eq(s.reserved[i], 0);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(timing, buckets_sum_to_tasks_started)
{
	weft_pool *p = timed_pool(2, true);
	mixed_work(p);
	weft_stats s;
	cr_assert_eq(weft_pool_stats(p, &s), 0);
	cr_assert_gt(s.executed, 600);
	cr_assert_eq(bucket_sum(&s), s.executed, "buckets %llu, executed %llu",
		     (unsigned long long)bucket_sum(&s),
		     (unsigned long long)s.executed);
	cr_assert_gt(s.busy_ns, 0);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/* A WEFT_THEN_ON_SUCCESS continuation of a failed task starts without
 * running: counted in the buckets, not in executed. */
Test(timing, a_passed_on_failure_counts_as_started)
{
	weft_pool *p = timed_pool(1, true);
	weft_future *f, *c;
	cr_assert_eq(weft_submit(p, fail_task, NULL, &f), 0);
	cr_assert_eq(weft_future_then(f, next_fn, NULL, WEFT_THEN_ON_SUCCESS,
				      &c),
		     0);
	cr_assert_eq(weft_future_get(c, NULL), -EIO);
	weft_stats s;
	cr_assert_eq(weft_pool_stats(p, &s), 0);
	cr_assert_eq(s.executed, 1);
	cr_assert_eq(bucket_sum(&s), 2);
	weft_future_release(f);
	weft_future_release(c);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

struct stamped {
	int64_t started;
};

static void *note_start(void *arg)
{
	((struct stamped *)arg)->started = unit_now_ns();
	return NULL;
}

/* A task queued behind a gate for about 1.5 ms: its wait is in bucket 20
 * ([2^20, 2^21) ns) on a quiet machine, and in any case in the bucket of
 * a wait between the two bounds measured around it. */
Test(timing, a_held_back_task_lands_in_its_bucket)
{
	weft_pool *p = timed_pool(1, true);
	struct unit_gate gate = {0};
	weft_future *g = unit_block(p, &gate);
	weft_stats before, after;
	cr_assert_eq(weft_pool_stats(p, &before), 0);
	struct stamped st = {0};
	weft_future *f;
	int64_t t0 = unit_now_ns();
	cr_assert_eq(weft_submit(p, note_start, &st, &f), 0);
	int64_t t1 = unit_now_ns();
	while (unit_now_ns() < t0 + 1500000)
		unit_sleep_us(100);
	unit_open(&gate);
	cr_assert_eq(weft_future_get(f, NULL), 0);
	cr_assert_eq(weft_pool_stats(p, &after), 0);
	int hit = -1;
	for (unsigned i = 0; i < WEFT_LATENCY_BUCKETS; i++) {
		uint64_t d = after.sched_latency[i] - before.sched_latency[i];
		cr_assert_leq(d, 1, "bucket %u grew by %llu", i,
			      (unsigned long long)d);
		if (d)
			hit = (int)i;
	}
	unsigned lo = bucket_of(st.started - t1), hi = bucket_of(st.started - t0);
	cr_assert(hit >= (int)lo && hit <= (int)hi,
		  "bucket %d, the wait was within buckets %u..%u", hit, lo, hi);
	cr_assert_geq(hit, 20, "a wait of 1.5 ms or more is in bucket 20+");
	cr_assert_eq(weft_future_get(g, NULL), 0);
	weft_future_release(g);
	weft_future_release(f);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

static void *spin_1ms(void *arg)
{
	(void)arg;
	spin_ns(1000000);
	return NULL;
}

Test(timing, a_task_that_spins_1ms_is_1ms_busy)
{
	weft_pool *p = timed_pool(1, true);
	weft_future *f;
	cr_assert_eq(weft_submit(p, spin_1ms, NULL, &f), 0);
	cr_assert_eq(weft_future_get(f, NULL), 0);
	weft_stats s;
	cr_assert_eq(weft_pool_stats(p, &s), 0);
	cr_assert_geq(s.busy_ns, 1000000, "busy_ns %llu",
		      (unsigned long long)s.busy_ns);
	weft_future_release(f);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/* The parent spins 1 ms, then waits for a child that spins 1 ms (run by
 * the parent's worker while it waits: one worker). Busy time counts the
 * child once, inside the parent: at least 2 ms, at most the wall time. */
static void *parent_task(void *arg)
{
	weft_pool *p = arg;
	spin_ns(1000000);
	weft_future *f;
	cr_assert_eq(weft_submit(p, spin_1ms, NULL, &f), 0);
	cr_assert_eq(weft_future_get(f, NULL), 0);
	weft_future_release(f);
	return NULL;
}

Test(timing, helping_counts_once)
{
	weft_pool *p = timed_pool(1, true);
	weft_future *f;
	int64_t t0 = unit_now_ns();
	cr_assert_eq(weft_submit(p, parent_task, p, &f), 0);
	cr_assert_eq(weft_future_get(f, NULL), 0);
	int64_t wall = unit_now_ns() - t0;
	weft_stats s;
	cr_assert_eq(weft_pool_stats(p, &s), 0);
	cr_assert_geq(s.busy_ns, 2000000);
	cr_assert_leq(s.busy_ns, (uint64_t)wall, "busy %llu > wall %lld",
		      (unsigned long long)s.busy_ns, (long long)wall);
	cr_assert_eq(bucket_sum(&s), 2);
	weft_future_release(f);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/*
 * weft_trace_start / weft_trace_stop.
 */

static char *tmp_path(const char *name)
{
	static char path[256];
	const char *dir = getenv("TMPDIR");
	snprintf(path, sizeof(path), "%s/weft-test-%d-%s",
		 dir && *dir ? dir : "/tmp", (int)getpid(), name);
	return path;
}

static long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) ? -1 : (long)st.st_size;
}

Test(trace_api, bad_input)
{
	cr_assert_eq(weft_trace_start(NULL), -EINVAL);
	cr_assert_eq(weft_trace_stop(NULL, "/tmp/x.json"), -EINVAL);
	cr_assert_eq(weft_trace_stop(NULL, NULL), -EINVAL);
	weft_pool *p = unit_pool(2);
	cr_assert_eq(weft_trace_stop(p, NULL), -ENODATA);
	cr_assert_eq(weft_trace_stop(p, tmp_path("never.json")), -ENODATA);
	cr_assert_eq(file_size(tmp_path("never.json")), -1);
	cr_assert_eq(weft_trace_start(p), 0);
	cr_assert_eq(weft_trace_start(p), -EALREADY);
	cr_assert_eq(weft_trace_stop(p, NULL), 0);
	cr_assert_eq(weft_trace_stop(p, NULL), -ENODATA);
	cr_assert_str_neq(weft_strerror(-EALREADY), "unknown error");
	cr_assert_str_neq(weft_strerror(-ENODATA), "unknown error");
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(trace_api, a_path_that_cannot_be_created_keeps_the_trace)
{
	weft_pool *p = unit_pool(2);
	cr_assert_eq(weft_trace_start(p), 0);
	mixed_work(p);
	errno = 0;
	cr_assert_eq(weft_trace_stop(p, "/nonexistent-weft-dir/t.json"),
		     -ENOENT);
	cr_assert_eq(errno, 0, "the library set errno");
	cr_assert_eq(weft_trace_stop(p, "/"), -EISDIR);
	cr_assert_eq(weft_trace_start(p), -EALREADY, "the trace ended");
	const char *path = tmp_path("ok.json");
	cr_assert_eq(weft_trace_stop(p, path), 0);
	cr_assert_gt(file_size(path), 100);
	unlink(path);
	cr_assert_eq(weft_trace_stop(p, path), -ENODATA);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(trace_api, a_write_that_fails_ends_the_trace)
{
	if (access("/dev/full", W_OK))
		cr_skip_test("no /dev/full");
	weft_pool *p = unit_pool(2);
	cr_assert_eq(weft_trace_start(p), 0);
	mixed_work(p);
	cr_assert_eq(weft_trace_stop(p, "/dev/full"), -ENOSPC);
	cr_assert_eq(weft_trace_stop(p, NULL), -ENODATA);
	/* The pool works on, and can be traced again. */
	cr_assert_eq(weft_trace_start(p), 0);
	mixed_work(p);
	cr_assert_eq(weft_trace_stop(p, NULL), 0);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(trace_api, events_per_buffer_from_the_environment)
{
	weft_pool *p = unit_pool(1);
	const char *bad[] = {"0", "abc", "-5", "12x", "268435457",
			     "99999999999999999999999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("WEFT_TRACE_EVENTS", bad[i], 1);
		cr_assert_eq(weft_trace_start(p), -EINVAL, "%s", bad[i]);
	}
	setenv("WEFT_TRACE_EVENTS", "16", 1);
	cr_assert_eq(weft_trace_start(p), 0);
	mixed_work(p);
	const char *path = tmp_path("small.json");
	cr_assert_eq(weft_trace_stop(p, path), 0);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f);
	char buf[4096];
	bool full = false;
	while (fgets(buf, sizeof(buf), f))
		full = full || strstr(buf, "\"trace buffer full\"");
	fclose(f);
	unlink(path);
	cr_assert(full, "16 events per worker did not fill");
	unsetenv("WEFT_TRACE_EVENTS");
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/* Started and stopped many times while the work runs, from outside and
 * from inside the pool's own tasks. */
static void *stop_from_task(void *arg)
{
	return (void *)(intptr_t)weft_trace_stop(arg, NULL);
}

static void *start_from_task(void *arg)
{
	return (void *)(intptr_t)weft_trace_start(arg);
}

Test(trace_api, start_and_stop_from_tasks_and_outside)
{
	weft_pool *p = unit_pool(2);
	for (int round = 0; round < 10; round++) {
		void *r;
		weft_future *f;
		cr_assert_eq(weft_submit(p, start_from_task, p, &f), 0);
		cr_assert_eq(weft_future_get(f, &r), 0);
		cr_assert_eq((intptr_t)r, 0);
		weft_future_release(f);
		mixed_work(p);
		if (round % 2) {
			cr_assert_eq(weft_trace_stop(p, NULL), 0);
			continue;
		}
		cr_assert_eq(weft_submit(p, stop_from_task, p, &f), 0);
		cr_assert_eq(weft_future_get(f, &r), 0);
		cr_assert_eq((intptr_t)r, 0);
		weft_future_release(f);
	}
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/* A pool destroyed while traced from code: the trace is discarded. */
Test(trace_api, destroy_discards_a_running_trace)
{
	weft_pool *p = unit_pool(2);
	cr_assert_eq(weft_trace_start(p), 0);
	mixed_work(p);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

#ifdef WEFT_ALLOC_HOOK
/* Every allocation weft_trace_start makes failed in turn: -ENOMEM,
 * nothing left allocated, and the next start works. */
Test(trace_api, out_of_memory)
{
	weft_pool *p = unit_pool(2);
	struct weft__alloc_counts c0, c1;
	weft__alloc_counts(&c0);
	for (uint64_t k = 1;; k++) {
		weft__alloc_hook_reset();
		weft__alloc_fail_at(k, false);
		int err = weft_trace_start(p);
		weft__alloc_hook_reset();
		if (!err) {
			cr_assert_eq(weft_trace_stop(p, NULL), 0);
			break;
		}
		cr_assert_eq(err, -ENOMEM);
		weft__alloc_counts(&c1);
		cr_assert_eq(c1.live, c0.live, "attempt %llu leaked",
			     (unsigned long long)k);
		cr_assert_eq(weft_trace_start(p), 0);
		cr_assert_eq(weft_trace_stop(p, NULL), 0);
	}
	cr_assert_eq(weft_pool_destroy(p), 0);
}
#endif

#else /* TEST_NO_TRACE */

Test(trace_api, compiled_out)
{
	cr_assert_eq(weft_trace_start(NULL), -EINVAL);
	weft_pool *p = timed_pool(2, true);
	cr_assert_eq(weft_trace_start(p), -ENOTSUP);
	cr_assert_eq(weft_trace_stop(p, "/tmp/x.json"), -ENOTSUP);
	mixed_work(p);
	weft_stats s;
	cr_assert_eq(weft_pool_stats(p, &s), 0);
	cr_assert_eq(bucket_sum(&s), 0);
	cr_assert_eq(s.busy_ns, 0);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

#endif
