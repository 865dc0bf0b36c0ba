/*
 * weft_when_all / weft_when_any: futures over futures, completed from
 * callbacks.
 */
#include "unit.h"

UNIT_SUITE(when, .timeout = 60);

static void *nothing_then(weft_future *a, void *ctx)
{
	(void)a;
	(void)ctx;
	return NULL;
}

Test(when, invalid_arguments)
{
	weft_pool *p = make_pool(1);
	struct job j = {0};
	weft_future *f = done_future(p, &j);
	weft_future *with_null[2] = {f, NULL};
	weft_future *out = (weft_future *)&j; /* must stay untouched */

	cr_expect_eq(weft_when_all(&f, 1, NULL), -EINVAL);
	cr_expect_eq(weft_when_all(NULL, 1, &out), -EINVAL);
	cr_expect_eq(weft_when_all(with_null, 2, &out), -EINVAL);
	cr_expect_eq(weft_when_any(&f, 1, NULL), -EINVAL);
	cr_expect_eq(weft_when_any(NULL, 1, &out), -EINVAL);
	cr_expect_eq(weft_when_any(with_null, 2, &out), -EINVAL);
	/* n == 0: nothing could ever complete a when_any. */
	cr_expect_eq(weft_when_any(NULL, 0, &out), -EINVAL);
	cr_expect_eq(weft_when_any(&f, 0, &out), -EINVAL);
	cr_expect_eq(out, (weft_future *)&j, "*out written on an error");
	weft_future_release(f);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(when, when_all_of_nothing_is_already_succeeded)
{
	weft_future *out = NULL, *dummy = NULL;
	cr_assert_eq(weft_when_all(NULL, 0, &out), 0);
	cr_assert_not_null(out);
	cr_expect_eq(weft_future_state(out), WEFT_SUCCEEDED);
	void *r = &r;
	cr_expect_eq(weft_future_get(out, &r), 0);
	cr_expect_null(r);
	/* It has no pool, so no continuation can run on it. */
	weft_future *c = NULL;
	cr_expect_eq(weft_future_then(out, nothing_then, NULL, 0, &c),
		     -EINVAL);
	cr_expect_null(c);
	weft_future_release(out);

	cr_assert_eq(weft_when_all(&dummy, 0, &out), 0);
	cr_expect(weft_future_done(out));
	weft_future_release(out);
}

Test(when, when_all_completes_when_every_input_has)
{
	weft_pool *p = make_pool(4);
	struct gate g[3] = {0};
	struct job j[3] = {{.gate = &g[0]},
			   {.gate = &g[1], .fail = EIO},
			   {.gate = &g[2]}};
	weft_future *fs[3], *all;
	for (int i = 0; i < 3; i++)
		fs[i] = submit_job(p, &j[i]);
	cr_assert_eq(weft_when_all(fs, 3, &all), 0);
	cr_expect_eq(weft_future_state(all), WEFT_PENDING);
	gate_open(&g[1]); /* a failure does not complete it early */
	await_done(fs[1]);
	gate_open(&g[0]);
	await_done(fs[0]);
	sleep_ms(10);
	cr_expect_eq(weft_future_state(all), WEFT_PENDING);
	gate_open(&g[2]);
	await_done(all);
	cr_expect(weft_future_done(fs[2]));
	void *r = &r;
	cr_expect_eq(weft_future_get(all, &r), 0);
	cr_expect_null(r, "when_all's result is NULL");
	weft_future_release(all);
	release_all(fs, 3);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/*
 * No thread blocks: the inputs sit behind a busy worker, so only a
 * cancellation can complete them; the output is done as soon as the last
 * cancel returns, on the cancelling thread, with no other thread's help.
 */
struct seen {
	atomic_int calls;
	atomic_int worker; /* weft_worker_index() of the completing thread */
	pthread_t thread;
	atomic_int done_inputs; /* inputs done when the callback ran */
	weft_future **inputs;
	int n;
};

static void record_cb(weft_future *f, void *ctx)
{
	struct seen *s = ctx;
	(void)f;
	int d = 0;
	for (int i = 0; i < s->n; i++)
		d += weft_future_done(s->inputs[i]);
	atomic_store(&s->done_inputs, d);
	atomic_store(&s->worker, weft_worker_index());
	s->thread = pthread_self();
	atomic_fetch_add(&s->calls, 1);
}

Test(when, completed_by_callbacks_on_the_completing_thread)
{
	struct blocked b;
	blocked_start(&b);
	struct job j[3] = {0};
	weft_future *fs[3];
	for (int i = 0; i < 3; i++)
		fs[i] = blocked_pending(&b, &j[i]);
	weft_future *all, *any;
	cr_assert_eq(weft_when_all(fs, 3, &all), 0);
	cr_assert_eq(weft_when_any(fs, 3, &any), 0);
	struct seen sa = {.inputs = fs, .n = 3}, sn = {.inputs = fs, .n = 3};
	cr_assert_eq(weft_future_on_done(all, record_cb, &sa), 0);
	cr_assert_eq(weft_future_on_done(any, record_cb, &sn), 0);

	cr_expect(weft_future_cancel(fs[2]));
	cr_expect(weft_future_done(any), "when_any not done after the "
					 "first input completed");
	cr_expect_eq(atomic_load(&sn.calls), 1);
	cr_expect(pthread_equal(sn.thread, pthread_self()));
	void *r;
	cr_expect_eq(weft_future_get(any, &r), 0);
	cr_expect_eq((intptr_t)r, 2);

	cr_expect(weft_future_cancel(fs[0]));
	cr_expect_not(weft_future_done(all));
	cr_expect(weft_future_cancel(fs[1]));
	cr_expect(weft_future_done(all), "when_all not done after the last "
					 "input completed");
	cr_expect_eq(atomic_load(&sa.calls), 1);
	cr_expect_eq(atomic_load(&sa.done_inputs), 3);
	cr_expect(pthread_equal(sa.thread, pthread_self()));
	cr_expect_eq(weft_future_state(all), WEFT_SUCCEEDED,
		     "cancelled inputs complete when_all normally");
	blocked_stop(&b);
	weft_future_release(all);
	weft_future_release(any);
	release_all(fs, 3);
}

Test(when, completes_on_the_worker_that_completes_the_last_input)
{
	weft_pool *p = make_pool(2);
	struct gate g = {0};
	struct job j[4];
	weft_future *fs[4], *all;
	for (int i = 0; i < 4; i++) {
		j[i] = (struct job){.gate = &g};
		fs[i] = submit_job(p, &j[i]);
	}
	cr_assert_eq(weft_when_all(fs, 4, &all), 0);
	struct seen s = {.inputs = fs, .n = 4};
	atomic_init(&s.worker, -2);
	cr_assert_eq(weft_future_on_done(all, record_cb, &s), 0);
	gate_open(&g);
	await_done(all);
	/* on_done of a pending future runs on the completing thread, which
	 * is the worker that finished the last input. */
	for (int64_t until = now_ns() + 5000 * MS;
	     !atomic_load(&s.calls) && now_ns() < until;)
		sleep_us(100);
	cr_expect_eq(atomic_load(&s.calls), 1);
	cr_expect_geq(atomic_load(&s.worker), 0,
		      "when_all completed off the workers");
	cr_expect_eq(atomic_load(&s.done_inputs), 4);
	weft_future_release(all);
	release_all(fs, 4);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/* A task builds a when_all over tasks of its own one-worker pool and a
 * continuation on it, then returns: nothing waits, everything runs. */
struct fanout {
	weft_pool *p;
	atomic_int leaves, joined;
};

static void *leaf_fn(void *arg)
{
	struct fanout *fo = arg;
	atomic_fetch_add(&fo->leaves, 1);
	return NULL;
}

static void *joined_then(weft_future *a, void *ctx)
{
	struct fanout *fo = ctx;
	(void)a;
	atomic_store(&fo->joined, atomic_load(&fo->leaves));
	return NULL;
}

static void *fanout_fn(void *arg)
{
	struct fanout *fo = arg;
	weft_future *fs[16], *all;
	for (int i = 0; i < 16; i++)
		if (weft_submit(fo->p, leaf_fn, fo, &fs[i]))
			return weft_fail(EFAULT);
	if (weft_when_all(fs, 16, &all))
		return weft_fail(EFAULT);
	weft_future *c;
	int err = weft_future_then(all, joined_then, fo, 0, &c);
	weft_future_release(all);
	for (int i = 0; i < 16; i++)
		weft_future_release(fs[i]);
	return err ? weft_fail(-err) : c;
}

Test(when, no_thread_blocks_on_a_one_worker_pool)
{
	weft_pool *p = make_pool(1);
	struct fanout fo = {.p = p};
	weft_future *f, *c = NULL;
	cr_assert_eq(weft_submit(p, fanout_fn, &fo, &f), 0);
	cr_assert_eq(weft_future_get(f, (void **)&c), 0);
	cr_assert_not_null(c);
	await_done(c);
	cr_expect_eq(atomic_load(&fo.joined), 16);
	weft_future_release(c);
	weft_future_release(f);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(when, when_any_result_is_the_index)
{
	weft_pool *p = make_pool(4);
	struct gate g[3] = {0};
	struct job j[3];
	weft_future *fs[3], *any;
	for (int i = 0; i < 3; i++) {
		j[i] = (struct job){.gate = &g[i]};
		fs[i] = submit_job(p, &j[i]);
	}
	cr_assert_eq(weft_when_any(fs, 3, &any), 0);
	sleep_ms(10);
	cr_expect_eq(weft_future_state(any), WEFT_PENDING);
	gate_open(&g[1]);
	await_done(any);
	void *r = NULL;
	cr_expect_eq(weft_future_get(any, &r), 0);
	cr_expect_eq((intptr_t)r, 1);
	/* Later completions change nothing. */
	gate_open(&g[0]);
	gate_open(&g[2]);
	await_done(fs[0]);
	await_done(fs[2]);
	cr_expect_eq(weft_future_get(any, &r), 0);
	cr_expect_eq((intptr_t)r, 1);
	weft_future_release(any);

	/* Already done at creation. */
	struct gate gp = {0};
	struct job jp = {.gate = &gp};
	weft_future *pend = submit_job(p, &jp);
	weft_future *mix[2] = {pend, fs[2]};
	cr_assert_eq(weft_when_any(mix, 2, &any), 0);
	cr_expect(weft_future_done(any));
	cr_expect_eq(weft_future_get(any, &r), 0);
	cr_expect_eq((intptr_t)r, 1);
	weft_future_release(any);

	/* Several already done: one of them. */
	weft_future *two[3] = {pend, fs[0], fs[2]};
	cr_assert_eq(weft_when_any(two, 3, &any), 0);
	cr_expect_eq(weft_future_get(any, &r), 0);
	cr_expect((intptr_t)r == 1 || (intptr_t)r == 2);
	weft_future_release(any);

	gate_open(&gp);
	weft_future_release(pend);
	release_all(fs, 3);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/* "The first input to complete": f0 is observed done before f1 is even
 * released, while f0's completer is still in a (20 ms) callback the user
 * registered before when_any's. */
static void slow_cb(weft_future *f, void *ctx)
{
	(void)f;
	(void)ctx;
	for (int64_t until = now_ns() + 20 * MS; now_ns() < until;)
		;
}

Test(when, when_any_index_behind_a_slow_callback)
{
	weft_pool *p = make_pool(2);
	struct gate g0 = {0}, g1 = {0};
	struct job j0 = {.gate = &g0}, j1 = {.gate = &g1};
	weft_future *fs[2] = {submit_job(p, &j0), submit_job(p, &j1)}, *any;
	cr_assert_eq(weft_future_on_done(fs[0], slow_cb, NULL), 0);
	cr_assert_eq(weft_when_any(fs, 2, &any), 0);
	gate_open(&g0);
	await_done(fs[0]);
	gate_open(&g1);
	await_done(fs[1]);
	void *r = NULL;
	cr_expect_eq(weft_future_get(any, &r), 0);
	cr_expect_eq((intptr_t)r, 0, "when_any named input %ld, which "
				     "completed second",
		     (long)(intptr_t)r);
	weft_future_release(any);
	release_all(fs, 2);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(when, when_any_duplicates_report_the_lowest_index)
{
	struct blocked b;
	blocked_start(&b);
	struct job ja = {0}, jb = {0};
	weft_future *a = blocked_pending(&b, &ja), *bb = blocked_pending(&b, &jb);
	weft_future *fs[4] = {bb, a, bb, a}, *any, *all;
	cr_assert_eq(weft_when_any(fs, 4, &any), 0);
	cr_assert_eq(weft_when_all(fs, 4, &all), 0);
	cr_expect(weft_future_cancel(a));
	void *r = NULL;
	cr_expect_eq(weft_future_get(any, &r), 0);
	cr_expect_eq((intptr_t)r, 1);
	cr_expect_not(weft_future_done(all));
	cr_expect(weft_future_cancel(bb));
	cr_expect(weft_future_done(all), "a future listed twice was waited "
					 "for twice");
	weft_future_release(any);
	weft_future_release(all);

	/* Already done, listed twice. */
	weft_future *dd[3] = {a, bb, a};
	cr_assert_eq(weft_when_any(dd, 3, &any), 0);
	cr_expect_eq(weft_future_get(any, &r), 0);
	cr_expect((intptr_t)r == 0 || (intptr_t)r == 1);
	weft_future_release(any);
	cr_assert_eq(weft_when_all(dd, 3, &all), 0);
	cr_expect(weft_future_done(all));
	weft_future_release(all);

	blocked_stop(&b);
	weft_future_release(a);
	weft_future_release(bb);
}

Test(when, outcome_of_inputs_is_irrelevant)
{
	weft_pool *p = make_pool(2);
	struct blocked b;
	blocked_start(&b);
	struct job bad = {.fail = EIO}, cj = {0};
	weft_future *failed = done_future(p, &bad);
	weft_future *cancelled = blocked_pending(&b, &cj);
	cr_expect(weft_future_cancel(cancelled));

	weft_future *one[1] = {failed}, *out;
	void *r = NULL;
	cr_assert_eq(weft_when_any(one, 1, &out), 0);
	cr_expect_eq(weft_future_get(out, &r), 0, "a failed input fails "
						   "when_any");
	cr_expect_eq((intptr_t)r, 0);
	weft_future_release(out);
	cr_assert_eq(weft_when_all(one, 1, &out), 0);
	cr_expect_eq(weft_future_get(out, NULL), 0);
	weft_future_release(out);

	one[0] = cancelled;
	cr_assert_eq(weft_when_any(one, 1, &out), 0);
	cr_expect_eq(weft_future_get(out, NULL), 0, "a cancelled input "
						    "cancels when_any");
	weft_future_release(out);
	cr_assert_eq(weft_when_all(one, 1, &out), 0);
	cr_expect_eq(weft_future_get(out, NULL), 0);
	weft_future_release(out);

	/* Failing while the combinators wait. */
	struct gate g = {0};
	struct job late = {.gate = &g, .fail = EPIPE};
	weft_future *lf = submit_job(p, &late), *any, *all;
	cr_assert_eq(weft_when_any(&lf, 1, &any), 0);
	cr_assert_eq(weft_when_all(&lf, 1, &all), 0);
	gate_open(&g);
	await_done(all);
	await_done(any);
	cr_expect_eq(weft_future_state(any), WEFT_SUCCEEDED);
	cr_expect_eq(weft_future_state(all), WEFT_SUCCEEDED);
	cr_expect_eq(weft_future_get(lf, NULL), -EPIPE);

	weft_future_release(any);
	weft_future_release(all);
	weft_future_release(lf);
	weft_future_release(failed);
	weft_future_release(cancelled);
	blocked_stop(&b);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/* then() on the combinator's future runs on the first input's pool. */
static void *pool_then(weft_future *a, void *ctx)
{
	(void)a;
	(void)ctx;
	return weft_current_pool();
}

static void expect_then_pool(weft_future *out, weft_pool *want)
{
	weft_future *c;
	cr_assert_eq(weft_future_then(out, pool_then, NULL, 0, &c), 0);
	void *r = NULL;
	cr_expect_eq(weft_future_get(c, &r), 0);
	cr_expect_eq(r, (void *)want, "the continuation ran on another pool");
	weft_future_release(c);
}

Test(when, then_runs_on_the_first_inputs_pool)
{
	weft_pool *p1 = make_pool(1), *p2 = make_pool(2);
	struct gate g1 = {0}, g2 = {0};
	struct job j1 = {.gate = &g1}, j2 = {.gate = &g2};
	weft_future *a = submit_job(p1, &j1), *b = submit_job(p2, &j2);
	weft_future *ab[2] = {a, b}, *ba[2] = {b, a};
	weft_future *all_ab, *all_ba, *any_ab, *any_ba;
	cr_assert_eq(weft_when_all(ab, 2, &all_ab), 0);
	cr_assert_eq(weft_when_all(ba, 2, &all_ba), 0);
	cr_assert_eq(weft_when_any(ab, 2, &any_ab), 0);
	cr_assert_eq(weft_when_any(ba, 2, &any_ba), 0);

	/* Registered while pending; b (p2) completes first, a last. */
	weft_future *c_all_ab, *c_any_ab;
	cr_assert_eq(weft_future_then(all_ab, pool_then, NULL, 0, &c_all_ab),
		     0);
	cr_assert_eq(weft_future_then(any_ab, pool_then, NULL, 0, &c_any_ab),
		     0);
	gate_open(&g2);
	await_done(b);
	gate_open(&g1);
	await_done(a);
	void *r = NULL;
	cr_expect_eq(weft_future_get(c_all_ab, &r), 0);
	cr_expect_eq(r, (void *)p1);
	cr_expect_eq(weft_future_get(c_any_ab, &r), 0);
	cr_expect_eq(r, (void *)p1);
	weft_future_release(c_all_ab);
	weft_future_release(c_any_ab);

	/* Registered once done. */
	expect_then_pool(all_ab, p1);
	expect_then_pool(any_ab, p1);
	expect_then_pool(all_ba, p2);
	expect_then_pool(any_ba, p2);

	weft_future_release(all_ab);
	weft_future_release(all_ba);
	weft_future_release(any_ab);
	weft_future_release(any_ba);
	weft_future_release(a);
	weft_future_release(b);
	cr_assert_eq(weft_pool_destroy(p1), 0);
	cr_assert_eq(weft_pool_destroy(p2), 0);
}

Test(when, cancelling_the_output_leaves_the_inputs_alone)
{
	struct blocked b;
	blocked_start(&b);
	struct job j[2] = {0};
	weft_future *fs[2] = {blocked_pending(&b, &j[0]),
			      blocked_pending(&b, &j[1])};
	weft_future *all, *any;
	cr_assert_eq(weft_when_all(fs, 2, &all), 0);
	cr_assert_eq(weft_when_any(fs, 2, &any), 0);
	cr_expect(weft_future_cancel(all));
	cr_expect(weft_future_cancel(any));
	cr_expect_eq(weft_future_state(fs[0]), WEFT_PENDING);
	cr_expect_eq(weft_future_state(fs[1]), WEFT_PENDING);
	blocked_stop(&b); /* the inputs run now */
	cr_expect_eq(weft_future_state(fs[0]), WEFT_SUCCEEDED);
	cr_expect_eq(weft_future_state(fs[1]), WEFT_SUCCEEDED);
	cr_expect_eq(weft_future_state(all), WEFT_CANCELLED);
	cr_expect_eq(weft_future_state(any), WEFT_CANCELLED);
	cr_expect_eq(weft_future_get(all, NULL), -ECANCELED);
	weft_future_release(all);
	weft_future_release(any);
	release_all(fs, 2);
}

/* The caller may release the output before the inputs complete. */
Test(when, released_early_leaves_nothing_behind)
{
	weft_pool *p = make_pool(2);
	struct gate g = {0};
	struct job j[8];
	weft_future *fs[8];
	for (int i = 0; i < 8; i++) {
		j[i] = (struct job){.gate = &g, .fail = i % 3 ? 0 : EIO};
		fs[i] = submit_job(p, &j[i]);
	}
	for (int k = 0; k < 10; k++) {
		weft_future *out;
		cr_assert_eq(weft_when_all(fs, 8, &out), 0);
		weft_future_release(out);
		cr_assert_eq(weft_when_any(fs + k % 8, 8 - k % 8, &out), 0);
		weft_future_release(out);
	}
	gate_open(&g);
	release_all(fs, 8);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/* Many inputs completing concurrently: when_all completes once, after
 * the last; when_any once, with an index of a done input. */
static void all_cb(weft_future *f, void *ctx)
{
	struct seen *s = ctx;
	(void)f;
	int d = 0;
	for (int i = 0; i < s->n; i++)
		d += weft_future_done(s->inputs[i]);
	atomic_store(&s->done_inputs, d);
	atomic_fetch_add(&s->calls, 1);
}

static void *tiny_fn(void *arg)
{
	return arg;
}

Test(when, many_inputs_complete_concurrently)
{
	enum { N = 2000 };
	weft_pool *p = make_pool(2);
	static weft_future *fs[N];
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < N; i++)
			cr_assert_eq(weft_submit(p, tiny_fn, NULL, &fs[i]), 0);
		weft_future *all, *any;
		cr_assert_eq(weft_when_all(fs, N, &all), 0);
		cr_assert_eq(weft_when_any(fs, N, &any), 0);
		struct seen s = {.inputs = fs, .n = N};
		cr_assert_eq(weft_future_on_done(all, all_cb, &s), 0);
		await_done(all);
		void *r;
		cr_expect_eq(weft_future_get(any, &r), 0);
		cr_expect(weft_future_done(fs[(intptr_t)r]));
		for (int64_t until = now_ns() + 5000 * MS;
		     !atomic_load(&s.calls) && now_ns() < until;)
			sleep_us(100);
		cr_expect_eq(atomic_load(&s.calls), 1);
		cr_expect_eq(atomic_load(&s.done_inputs), N,
			     "when_all completed before all its inputs");
		weft_future_release(all);
		weft_future_release(any);
		release_all(fs, N);
	}
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/*
 * Futures outlive their pool: combining the futures of a destroyed pool
 * works. The combinators run on a fresh thread, whose allocation cache is
 * empty, so any use of the dead pool to refill it would be caught by ASan.
 */
struct after_destroy {
	weft_future **fs;
	int n;
	int all_rc, any_rc, wait_rc, gather_rc, iter_count;
	void *all_result, *any_result;
};

static void *after_destroy_main(void *arg)
{
	struct after_destroy *a = arg;
	weft_future *all = NULL, *any = NULL;
	a->all_rc = weft_when_all(a->fs, (size_t)a->n, &all);
	a->any_rc = weft_when_any(a->fs, (size_t)a->n, &any);
	if (!a->all_rc)
		a->all_rc = weft_future_get(all, &a->all_result);
	if (!a->any_rc)
		a->any_rc = weft_future_get(any, &a->any_result);
	weft_future_release(all);
	weft_future_release(any);
	a->wait_rc = weft_wait(a->fs, (size_t)a->n, WEFT_ALL_COMPLETED,
			       WEFT_FOREVER);
	a->gather_rc = weft_gather(a->fs, (size_t)a->n, NULL, 0, NULL);
	weft_as_completed *it;
	if (weft_as_completed_create(a->fs, (size_t)a->n, 0, &it) == 0) {
		weft_future *out;
		while (weft_as_completed_next(it, &out) == 1)
			a->iter_count++;
		weft_as_completed_destroy(it);
	}
	return NULL;
}

Test(when, inputs_outlive_their_pool)
{
	weft_pool *p = make_pool(2);
	weft_future *fs[6];
	for (int i = 0; i < 6; i++)
		cr_assert_eq(weft_submit(p, tiny_fn, NULL, &fs[i]), 0);
	cr_assert_eq(weft_pool_destroy(p), 0);
	struct after_destroy a = {.fs = fs, .n = 6, .all_result = &a};
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, after_destroy_main, &a), 0);
	pthread_join(t, NULL);
	cr_expect_eq(a.all_rc, 0);
	cr_expect_null(a.all_result);
	cr_expect_eq(a.any_rc, 0);
	cr_expect_lt((intptr_t)a.any_result, 6);
	cr_expect_eq(a.wait_rc, 0);
	cr_expect_eq(a.gather_rc, 0);
	cr_expect_eq(a.iter_count, 6);
	release_all(fs, 6);
}
