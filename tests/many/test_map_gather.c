/*
 * weft_map and weft_gather: the two halves of Python's executor.map.
 */
#include "unit.h"

UNIT_SUITE(map, .timeout = 60);
UNIT_SUITE(gather, .timeout = 60);

/* fn(arg): records the order it ran in, returns arg + 1 (as a number). */
struct ran_log {
	atomic_int next;
	atomic_int calls;
	intptr_t order[4096];
};

static struct ran_log *g_log;

static void *log_fn(void *arg)
{
	struct ran_log *l = g_log;
	int k = atomic_fetch_add(&l->next, 1);
	if (k < 4096)
		l->order[k] = (intptr_t)arg;
	atomic_fetch_add(&l->calls, 1);
	return (void *)((intptr_t)arg + 1);
}

static int null_marker;

static void *null_arg_fn(void *arg)
{
	return arg ? weft_fail(EINVAL) : &null_marker;
}

Test(map, invalid_arguments)
{
	weft_pool *p = make_pool(1);
	void *args[2] = {0};
	weft_future *out[2];
	cr_expect_eq(weft_map(NULL, log_fn, args, 2, out), -EINVAL);
	cr_expect_eq(weft_map(p, NULL, args, 2, out), -EINVAL);
	cr_expect_eq(weft_map(p, log_fn, args, 2, NULL), -EINVAL);
	/* Nothing to submit: out may be NULL. */
	cr_expect_eq(weft_map(p, log_fn, args, 0, NULL), 0);
	cr_expect_eq(weft_map(p, log_fn, NULL, 0, NULL), 0);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(map, submits_in_order_into_out)
{
	enum { N = 1000 };
	static struct ran_log log;
	g_log = &log;
	/* One worker takes tasks injected from outside first in, first
	 * out, so the run order is the submission order. */
	weft_pool *p = make_pool(1);
	static void *args[N];
	static weft_future *out[N];
	static void *results[N];
	for (intptr_t i = 0; i < N; i++)
		args[i] = (void *)(i * 3);
	cr_assert_eq(weft_map(p, log_fn, args, N, out), 0);
	size_t at = 12345;
	cr_assert_eq(weft_gather(out, N, results, WEFT_FOREVER, &at), 0);
	cr_expect_eq(at, (size_t)N);
	for (intptr_t i = 0; i < N; i++) {
		cr_expect_eq((intptr_t)results[i], i * 3 + 1,
			     "out[%ld] is not fn(args[%ld])", (long)i,
			     (long)i);
		cr_expect_eq(log.order[i], i * 3, "submitted out of order");
	}
	release_all(out, N);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(map, args_null_passes_null)
{
	enum { N = 64 };
	weft_pool *p = make_pool(2);
	weft_future *out[N];
	void *results[N];
	cr_assert_eq(weft_map(p, null_arg_fn, NULL, N, out), 0);
	cr_expect_eq(weft_gather(out, N, results, WEFT_FOREVER, NULL), 0);
	for (int i = 0; i < N; i++)
		cr_expect_eq(results[i], (void *)&null_marker);
	release_all(out, N);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(map, after_shutdown_from_outside)
{
	static struct ran_log log;
	g_log = &log;
	weft_pool *p = make_pool(2);
	cr_assert_eq(weft_pool_shutdown(p, 0), 0);
	weft_future *out[8];
	void *args[8] = {0};
	cr_expect_eq(weft_map(p, log_fn, args, 8, out), -ESHUTDOWN);
	cr_expect_eq(weft_map(p, log_fn, NULL, 1, out), -ESHUTDOWN);
	cr_assert_eq(weft_pool_destroy(p), 0);
	cr_expect_eq(atomic_load(&log.calls), 0);
}

/*
 * All or nothing: a shutdown that lands in the middle of a map makes it
 * fail, and what it had already submitted never runs. The workers are
 * held busy, so nothing can start before map returns; the stats show that
 * map had queued tasks (they come out of the queues cancelled).
 */
struct shutter {
	weft_pool *p;
	long delay_us;
	pthread_t t;
};

static void *shutter_main(void *arg)
{
	struct shutter *s = arg;
	sleep_us(s->delay_us);
	weft_pool_shutdown(s->p, 0);
	return NULL;
}

Test(map, shutdown_in_the_middle_leaves_nothing_queued, .timeout = 240)
{
	enum { N = 100000 };
	static struct ran_log log;
	g_log = &log;
	static weft_future *out[N];
	bool seen_middle = false;
	int attempt;
	for (attempt = 0; attempt < 40 && !seen_middle; attempt++) {
		atomic_store(&log.calls, 0);
		atomic_store(&log.next, 0);
		weft_pool *p = make_pool(2);
		struct gate g = {0};
		struct job hold[2] = {{.gate = &g}, {.gate = &g}};
		weft_future *hf[2] = {submit_job(p, &hold[0]),
				      submit_job(p, &hold[1])};
		await_started(&hold[0]);
		await_started(&hold[1]);

		struct shutter s = {p, 200 + attempt * 400L, 0};
		cr_assert_eq(pthread_create(&s.t, NULL, shutter_main, &s), 0);
		int rc = weft_map(p, log_fn, NULL, N, out);
		pthread_join(s.t, NULL);
		gate_open(&g);
		cr_assert_eq(weft_pool_shutdown(p, WEFT_SHUTDOWN_WAIT), 0);
		weft_stats st;
		cr_assert_eq(weft_pool_stats(p, &st), 0);
		if (rc == 0) {
			/* The shutdown came after the whole map: it all runs. */
			cr_expect_eq(atomic_load(&log.calls), N);
			for (int i = 0; i < N; i++)
				cr_expect_eq(weft_future_state(out[i]),
					     WEFT_SUCCEEDED);
			release_all(out, N);
		} else {
			cr_expect_eq(rc, -ESHUTDOWN);
			cr_expect_eq(atomic_load(&log.calls), 0,
				     "%d tasks of a failed map ran",
				     atomic_load(&log.calls));
			if (st.cancelled > 0)
				seen_middle = true;
		}
		release_all(hf, 2);
		cr_assert_eq(weft_pool_destroy(p), 0);
	}
	cr_log_info("map: a shutdown landed in the middle after %d attempts",
		    attempt);
	cr_expect(seen_middle, "no shutdown landed in the middle of a map");
}

/* Work created by running tasks is still accepted while the pool drains:
 * map from one of its workers after shutdown started. */
struct inner_map {
	weft_pool *p;
	struct gate *go;
	int rc;
	weft_future *out[4];
};

static void *inner_map_fn(void *arg)
{
	struct inner_map *m = arg;
	gate_wait(m->go);
	m->rc = weft_map(m->p, log_fn, NULL, 4, m->out);
	if (m->rc)
		return weft_fail(-m->rc);
	return weft_gather(m->out, 4, NULL, WEFT_FOREVER, NULL) ?
		       weft_fail(EPROTO) :
		       NULL;
}

Test(map, from_a_worker_during_shutdown)
{
	static struct ran_log log;
	g_log = &log;
	weft_pool *p = make_pool(2);
	struct gate go = {0};
	struct inner_map m = {.p = p, .go = &go};
	weft_future *f;
	cr_assert_eq(weft_submit(p, inner_map_fn, &m, &f), 0);
	cr_assert_eq(weft_pool_shutdown(p, 0), 0);
	gate_open(&go);
	cr_expect_eq(weft_future_get(f, NULL), 0);
	cr_expect_eq(m.rc, 0);
	cr_expect_eq(atomic_load(&log.calls), 4);
	if (m.rc == 0)
		release_all(m.out, 4);
	weft_future_release(f);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/*
 * weft_gather
 */

Test(gather, invalid_arguments)
{
	weft_pool *p = make_pool(1);
	struct job j = {0};
	weft_future *f = done_future(p, &j);
	weft_future *with_null[2] = {f, NULL};
	size_t at = 77;
	cr_expect_eq(weft_gather(NULL, 1, NULL, WEFT_FOREVER, &at), -EINVAL);
	cr_expect_eq(weft_gather(with_null, 2, NULL, WEFT_FOREVER, &at),
		     -EINVAL);
	cr_expect_eq(weft_gather(&f, 1, NULL, -2, &at), -EINVAL);
	cr_expect_eq(weft_gather(&f, 1, NULL, WEFT_FOREVER, &at), 0);
	cr_expect_eq(at, 1u);
	weft_future_release(f);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(gather, nothing_to_gather)
{
	size_t at = 99;
	cr_expect_eq(weft_gather(NULL, 0, NULL, WEFT_FOREVER, &at), 0);
	cr_expect_eq(at, 0u);
	cr_expect_eq(weft_gather(NULL, 0, NULL, 0, NULL), 0);
}

Test(gather, results_in_order)
{
	enum { N = 6 };
	weft_pool *p = make_pool(N);
	struct gate g[N] = {0};
	struct job j[N];
	weft_future *fs[N];
	void *results[N] = {0};
	for (int i = 0; i < N; i++) {
		j[i] = (struct job){.gate = &g[i], .result = &j[i]};
		fs[i] = submit_job(p, &j[i]);
	}
	/* Completing in reverse order changes nothing. */
	for (int i = N - 1; i >= 0; i--)
		gate_open(&g[i]);
	size_t at = 0;
	cr_expect_eq(weft_gather(fs, N, results, WEFT_FOREVER, &at), 0);
	cr_expect_eq(at, (size_t)N);
	for (int i = 0; i < N; i++)
		cr_expect_eq(results[i], (void *)&j[i]);
	/* results NULL and stopped_at NULL. */
	cr_expect_eq(weft_gather(fs, N, NULL, 0, NULL), 0);
	release_all(fs, N);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(gather, stops_at_the_first_failure_and_cancels_the_rest)
{
	weft_pool *p = make_pool(3);
	struct blocked b;
	blocked_start(&b);
	struct gate g_run = {0};
	struct job j0 = {.result = (void *)10}, j1 = {.result = (void *)11},
		   j2 = {.fail = EIO}, j3 = {.gate = &g_run}, j4 = {0},
		   j5 = {0}, j6 = {.result = (void *)16}, j7 = {.fail = EPERM};
	weft_future *fs[8] = {done_future(p, &j0), done_future(p, &j1),
			      done_future(p, &j2), submit_job(p, &j3),
			      blocked_pending(&b, &j4),
			      blocked_pending(&b, &j5), done_future(p, &j6),
			      done_future(p, &j7)};
	await_started(&j3);
	void *sentinel = (void *)&b, *results[8];
	for (int i = 0; i < 8; i++)
		results[i] = sentinel;
	size_t at = 0;
	cr_expect_eq(weft_gather(fs, 8, results, WEFT_FOREVER, &at), -EIO);
	cr_expect_eq(at, 2u);
	cr_expect_eq(results[0], (void *)10);
	cr_expect_eq(results[1], (void *)11);
	for (int i = 2; i < 8; i++)
		cr_expect_eq(results[i], sentinel, "results[%d] written", i);
	/* The not-started rest is cancelled; the rest is left alone. */
	cr_expect_eq(weft_future_state(fs[3]), WEFT_RUNNING);
	cr_expect_eq(weft_future_state(fs[4]), WEFT_CANCELLED);
	cr_expect_eq(weft_future_state(fs[5]), WEFT_CANCELLED);
	cr_expect_eq(weft_future_state(fs[6]), WEFT_SUCCEEDED);
	cr_expect_eq(weft_future_state(fs[7]), WEFT_FAILED);
	gate_open(&g_run);
	await_done(fs[3]);
	cr_expect_eq(weft_future_state(fs[3]), WEFT_SUCCEEDED);
	blocked_stop(&b);
	cr_expect_eq(atomic_load(&j4.ran) + atomic_load(&j5.ran), 0);
	release_all(fs, 8);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(gather, waits_in_order_before_a_later_failure)
{
	weft_pool *p = make_pool(2);
	struct gate g = {0};
	struct job j0 = {.gate = &g, .result = (void *)5},
		   j1 = {.fail = ENOENT};
	weft_future *fs[2] = {submit_job(p, &j0), done_future(p, &j1)};
	struct later l;
	later_start(&l, 40, later_open_gate, &g);
	void *results[2] = {0};
	size_t at = 0;
	/* The failure at 1 happened first, but gather reports in order:
	 * index 0's result, then the failure at 1. */
	cr_expect_eq(weft_gather(fs, 2, results, WEFT_FOREVER, &at), -ENOENT);
	cr_expect_eq(at, 1u);
	cr_expect_eq(results[0], (void *)5);
	later_join(&l);
	release_all(fs, 2);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(gather, cancellation_stops_it)
{
	weft_pool *p = make_pool(2);
	struct blocked b;
	blocked_start(&b);
	struct job j0 = {.result = (void *)1}, j1 = {0}, j2 = {0}, j3 = {0};
	weft_future *fs[4] = {done_future(p, &j0), blocked_pending(&b, &j1),
			      blocked_pending(&b, &j2),
			      blocked_pending(&b, &j3)};
	struct later l;
	later_start(&l, 30, later_cancel, fs[1]);
	void *results[4] = {0};
	size_t at = 0;
	cr_expect_eq(weft_gather(fs, 4, results, WEFT_FOREVER, &at),
		     -ECANCELED);
	cr_expect_eq(at, 1u);
	cr_expect_eq(results[0], (void *)1);
	cr_expect_eq(weft_future_state(fs[2]), WEFT_CANCELLED);
	cr_expect_eq(weft_future_state(fs[3]), WEFT_CANCELLED);
	later_join(&l);
	blocked_stop(&b);
	cr_expect_eq(atomic_load(&j2.ran) + atomic_load(&j3.ran), 0);
	release_all(fs, 4);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/* Opens a gate from a later thread and notes when. */
struct timed_gate {
	struct gate *g;
	int64_t opened_ns; /* read after later_join */
};

static void open_timed_gate(void *arg)
{
	struct timed_gate *t = arg;
	t->opened_ns = now_ns();
	gate_open(t->g);
}

Test(gather, deadline_for_the_whole_call)
{
	weft_pool *p = make_pool(3);
	struct blocked b;
	blocked_start(&b);
	struct gate g0 = {0}, g1 = {0};
	struct job j0 = {.gate = &g0, .result = (void *)7}, j1 = {.gate = &g1},
		   j2 = {0};
	weft_future *fs[3] = {submit_job(p, &j0), submit_job(p, &j1),
			      blocked_pending(&b, &j2)};
	await_started(&j1);
	/* fs[0] completes some 400 ms in, once its gate opens; fs[1] not
	 * before the end. With one deadline for the call gather returns at
	 * 1200 ms; a fresh timeout per future would start when fs[0] was
	 * done, after its gate opened, and run past that by 1200 ms. */
	struct later l;
	struct timed_gate tg = {.g = &g0};
	later_start(&l, 400, open_timed_gate, &tg);
	void *results[3] = {0};
	size_t at = 0;
	int64_t t0 = now_ns();
	cr_expect_eq(weft_gather(fs, 3, results, 1200 * MS, &at), -ETIMEDOUT);
	int64_t took = now_ns() - t0;
	later_join(&l);
	cr_expect_geq(took, 1200 * MS, "timed out before the deadline");
	cr_expect_lt(took, tg.opened_ns - t0 + 1200 * MS,
		     "the deadline ran from each future");
	cr_expect_eq(at, 1u, "stopped_at is not the first future not done");
	cr_expect_eq(results[0], (void *)7);
	cr_expect_eq(weft_future_state(fs[1]), WEFT_RUNNING);
	cr_expect_eq(weft_future_state(fs[2]), WEFT_CANCELLED,
		     "the not-started rest was not cancelled");
	gate_open(&g1);
	await_done(fs[1]);
	blocked_stop(&b);
	release_all(fs, 3);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(gather, timeout_zero_only_polls)
{
	weft_pool *p = make_pool(2);
	struct gate g = {0};
	struct job j0 = {.result = (void *)3}, j1 = {.gate = &g};
	weft_future *fs[2] = {done_future(p, &j0), submit_job(p, &j1)};
	void *results[2] = {0};
	size_t at = 0;
	cr_expect_eq(weft_gather(fs, 1, results, 0, &at), 0);
	cr_expect_eq(at, 1u);
	cr_expect_eq(results[0], (void *)3);
	await_started(&j1);
	/* Loose (a loaded machine can stall any call), but fails a gather
	 * that waits or hangs. */
	int64_t t0 = now_ns();
	cr_expect_eq(weft_gather(fs, 2, results, 0, &at), -ETIMEDOUT);
	cr_expect_lt(now_ns() - t0, 2000 * MS);
	cr_expect_eq(at, 1u);
	gate_open(&g);
	release_all(fs, 2);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/* map + gather with one failing item: the executor.map pattern. Every
 * future after the failure either ran or was cancelled, never lost. */
static void *fail_at_fn(void *arg)
{
	intptr_t i = (intptr_t)arg;
	atomic_fetch_add(&g_log->calls, 1);
	return i == 37 ? weft_fail(EDOM) : arg;
}

Test(gather, map_then_gather_with_a_failure)
{
	enum { N = 400 };
	static struct ran_log log;
	g_log = &log;
	weft_pool *p = make_pool(1);
	static void *args[N];
	static weft_future *out[N];
	static void *results[N];
	for (intptr_t i = 0; i < N; i++)
		args[i] = (void *)i;
	cr_assert_eq(weft_map(p, fail_at_fn, args, N, out), 0);
	size_t at = 0;
	cr_expect_eq(weft_gather(out, N, results, WEFT_FOREVER, &at), -EDOM);
	cr_expect_eq(at, 37u);
	for (intptr_t i = 0; i < 37; i++)
		cr_expect_eq(results[i], (void *)i);
	cr_assert_eq(weft_pool_shutdown(p, WEFT_SHUTDOWN_WAIT), 0);
	int ran = 0, cancelled = 0;
	for (int i = 0; i < N; i++) {
		enum weft_state s = weft_future_state(out[i]);
		cr_expect(s == WEFT_SUCCEEDED || s == WEFT_CANCELLED ||
				  (i == 37 && s == WEFT_FAILED),
			  "future %d in state %d", i, s);
		ran += s != WEFT_CANCELLED;
		cancelled += s == WEFT_CANCELLED;
	}
	cr_expect_eq(ran, atomic_load(&log.calls));
	cr_expect_eq(ran + cancelled, N);
	release_all(out, N);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/* On a worker, gather runs other tasks: map and gather inside a task of
 * a one-worker pool. */
static void *map_gather_fn(void *arg)
{
	weft_pool *p = arg;
	weft_future *out[16];
	void *results[16];
	if (weft_map(p, null_arg_fn, NULL, 16, out))
		return weft_fail(EFAULT);
	int rc = weft_gather(out, 16, results, WEFT_FOREVER, NULL);
	for (int i = 0; i < 16; i++)
		weft_future_release(out[i]);
	if (rc)
		return weft_fail(-rc);
	for (int i = 0; i < 16; i++)
		if (results[i] != (void *)&null_marker)
			return weft_fail(EPROTO);
	return NULL;
}

Test(gather, on_a_worker_runs_other_tasks)
{
	weft_pool *p = make_pool(1);
	weft_future *f;
	cr_assert_eq(weft_submit(p, map_gather_fn, p, &f), 0);
	cr_expect_eq(weft_future_wait(f, 10000 * MS), 0,
		     "gather on the only worker deadlocked");
	cr_expect_eq(weft_future_get(f, NULL), 0);
	weft_future_release(f);
	cr_assert_eq(weft_pool_destroy(p), 0);
}
