/*
 * Callbacks (weft_future_on_done) and continuations (weft_future_then).
 */
#include <string.h>

#include "unit.h"

TestSuite(on_done, .fini = unit_leak_check);
TestSuite(then, .fini = unit_leak_check);

static void *fail_eio(void *arg)
{
	(void)arg;
	return weft_fail(EIO);
}

/*
 * on_done.
 */

struct cb_log {
	_Atomic int n;
	int order[16];
	int index_seen[16];
	pthread_t thread[16];
	weft_future *arg_seen[16];
	enum weft_state state_seen[16];
};

struct cb_ctx {
	struct cb_log *log;
	int id;
};

static void log_cb(weft_future *f, void *ctx)
{
	struct cb_ctx *c = ctx;
	int k = atomic_fetch_add(&c->log->n, 1);
	if (k >= 16)
		return;
	c->log->order[k] = c->id;
	c->log->index_seen[k] = weft_worker_index();
	c->log->thread[k] = pthread_self();
	c->log->arg_seen[k] = f;
	c->log->state_seen[k] = weft_future_state(f);
}

Test(on_done, bad_args, .timeout = UNIT_TIMEOUT)
{
	struct cb_log log = {0};
	struct cb_ctx c = {&log, 0};
	cr_expect_eq(weft_future_on_done(NULL, log_cb, &c), -EINVAL);
	weft_pool *p = unit_pool(1);
	weft_future *f;
	cr_assert_eq(weft_submit(p, unit_identity, NULL, &f), 0);
	cr_expect_eq(weft_future_on_done(f, NULL, &c), -EINVAL);
	cr_expect_eq(weft_future_get(f, NULL), 0);
	cr_expect_eq(weft_future_on_done(f, NULL, &c), -EINVAL);
	cr_expect_eq(weft_future_on_done(NULL, NULL, NULL), -EINVAL);
	cr_expect_eq(log.n, 0);
	weft_future_release(f);
	cr_assert_eq(weft_pool_destroy(p), 0);
	cr_expect_eq(log.n, 0);
}

Test(on_done, registration_order_on_completing_worker,
     .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(1);
	struct unit_gate g = {0};
	weft_future *blocker = unit_block(p, &g);
	weft_future *f;
	cr_assert_eq(weft_submit(p, unit_identity, NULL, &f), 0);
	static struct cb_log log;
	struct cb_ctx c[8];
	for (int i = 0; i < 8; i++) {
		c[i] = (struct cb_ctx){&log, i};
		cr_assert_eq(weft_future_on_done(f, log_cb, &c[i]), 0);
	}
	cr_expect_eq(log.n, 0, "callbacks ran before completion");
	unit_open(&g);
	cr_assert_eq(weft_future_get(f, NULL), 0);
	/* get may return before the completer has run every callback. */
	cr_assert(unit_wait_for(&log.n, 8));
	cr_assert_eq(weft_pool_destroy(p), 0);
	cr_expect_eq(log.n, 8, "each callback exactly once");
	for (int i = 0; i < 8; i++) {
		cr_expect_eq(log.order[i], i, "callback %d ran at %d",
			     log.order[i], i);
		cr_expect_eq(log.index_seen[i], 0,
			     "callbacks run on the completing worker");
		cr_expect_eq(log.arg_seen[i], f);
		cr_expect_eq(log.state_seen[i], WEFT_SUCCEEDED);
	}
	weft_future_release(f);
	weft_future_release(blocker);
}

Test(on_done, already_done_runs_at_once, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(2);
	weft_future *f;
	cr_assert_eq(weft_submit(p, fail_eio, NULL, &f), 0);
	cr_expect_eq(weft_future_get(f, NULL), -EIO);
	static struct cb_log log;
	struct cb_ctx c[3] = {{&log, 0}, {&log, 1}, {&log, 2}};
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(weft_future_on_done(f, log_cb, &c[i]), 0);
		cr_expect_eq(log.n, i + 1, "ran at once");
		cr_expect(pthread_equal(log.thread[i], pthread_self()),
			  "runs on the caller's thread");
		cr_expect_eq(log.index_seen[i], -1);
		cr_expect_eq(log.state_seen[i], WEFT_FAILED);
		cr_expect_eq(log.order[i], i);
	}
	cr_assert_eq(weft_pool_destroy(p), 0);
	weft_future_release(f);
	cr_expect_eq(log.n, 3, "exactly once");
}

static void *cancel_from_thread(void *arg)
{
	weft_future_cancel(arg);
	return NULL;
}

Test(on_done, cancel_runs_callbacks_on_cancelling_thread,
     .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(1);
	struct unit_gate g = {0};
	weft_future *blocker = unit_block(p, &g);
	weft_future *f;
	cr_assert_eq(weft_submit(p, unit_identity, NULL, &f), 0);
	static struct cb_log log;
	struct cb_ctx c[4];
	for (int i = 0; i < 4; i++) {
		c[i] = (struct cb_ctx){&log, i};
		cr_assert_eq(weft_future_on_done(f, log_cb, &c[i]), 0);
	}
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, cancel_from_thread, f), 0);
	pthread_join(t, NULL);
	/* The cancel returned, so its callbacks have run. */
	cr_expect_eq(log.n, 4);
	for (int i = 0; i < 4; i++) {
		cr_expect_eq(log.order[i], i);
		cr_expect(pthread_equal(log.thread[i], t),
			  "callback %d not on the cancelling thread", i);
		cr_expect_eq(log.state_seen[i], WEFT_CANCELLED);
	}
	/* Cancelling again runs nothing again. */
	cr_expect(weft_future_cancel(f));
	unit_open(&g);
	cr_assert_eq(weft_pool_destroy(p), 0);
	cr_expect_eq(log.n, 4);
	weft_future_release(f);
	weft_future_release(blocker);
}

/* weft_fail in a callback has no effect, also when the callback runs on
 * a thread that is in the middle of a task: at once from on_done inside
 * the task, or delivered by a nested task that completes while the task
 * waits. */
static void fail_cb(weft_future *f, void *ctx)
{
	(void)f;
	*(void **)ctx = weft_fail(EIO);
}

static void *task_with_failing_callbacks(void *arg)
{
	weft_pool *p = weft_current_pool();
	weft_future *done, *nested;
	if (weft_submit(p, unit_identity, NULL, &done))
		return NULL;
	weft_future_get(done, NULL);
	weft_future_on_done(done, fail_cb, arg); /* runs here, at once */
	weft_future_release(done);
	if (weft_submit(p, unit_identity, NULL, &nested))
		return NULL;
	weft_future_on_done(nested, fail_cb, arg); /* runs when it ends */
	weft_future_get(nested, NULL); /* one worker: runs it nested */
	weft_future_release(nested);
	return arg;
}

Test(on_done, fail_in_callback_has_no_effect, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(1);
	void *cb_ret = (void *)(uintptr_t)1;
	weft_future *f;
	cr_assert_eq(weft_submit(p, task_with_failing_callbacks, &cb_ret, &f),
		     0);
	void *r;
	cr_expect_eq(weft_future_get(f, &r), 0);
	cr_expect_eq(r, &cb_ret);
	cr_expect_eq(weft_future_state(f), WEFT_SUCCEEDED);
	cr_expect_null(cb_ret);
	weft_future_release(f);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/* Callbacks may submit, cancel and register more callbacks. */
struct cb_chain {
	weft_pool *p;
	weft_future *to_cancel;
	weft_future *submitted;
	int submit_rc, nested_rc;
	bool cancelled;
	_Atomic int nested_runs;
};

static void nested_cb(weft_future *f, void *ctx)
{
	(void)f;
	atomic_fetch_add(&((struct cb_chain *)ctx)->nested_runs, 1);
}

static void busy_cb(weft_future *f, void *ctx)
{
	struct cb_chain *c = ctx;
	c->submit_rc = weft_submit(c->p, unit_identity, c, &c->submitted);
	c->cancelled = weft_future_cancel(c->to_cancel);
	/* f is done: this runs at once, inside this callback. */
	c->nested_rc = weft_future_on_done(f, nested_cb, c);
}

Test(on_done, callbacks_may_submit_cancel_register, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(1);
	struct unit_gate g = {0};
	weft_future *blocker = unit_block(p, &g);
	struct cb_chain c = {.p = p};
	weft_future *f;
	cr_assert_eq(weft_submit(p, unit_identity, NULL, &f), 0);
	cr_assert_eq(weft_submit(p, unit_identity, NULL, &c.to_cancel), 0);
	cr_assert_eq(weft_future_on_done(f, busy_cb, &c), 0);
	unit_open(&g);
	cr_assert(unit_wait_for(&c.nested_runs, 1));
	cr_expect_eq(c.submit_rc, 0);
	cr_expect_eq(c.nested_rc, 0);
	cr_expect(c.cancelled, "to_cancel was queued after f: still pending");
	cr_expect_eq(weft_future_get(c.to_cancel, NULL), -ECANCELED);
	void *r;
	cr_expect_eq(weft_future_get(c.submitted, &r), 0);
	cr_expect_eq(r, &c);
	cr_assert_eq(weft_pool_destroy(p), 0);
	cr_expect_eq(c.nested_runs, 1);
	weft_future_release(c.submitted);
	weft_future_release(c.to_cancel);
	weft_future_release(f);
	weft_future_release(blocker);
}

/*
 * then.
 */

struct then_rec {
	_Atomic int runs;
	int index;
	weft_pool *pool;
	weft_future *antecedent;
	enum weft_state ante_state;
	int ante_rc;
	void *ante_result;
	void *ctx;
};

static void *record_then(weft_future *a, void *ctx)
{
	struct then_rec *r = ctx;
	r->index = weft_worker_index();
	r->pool = weft_current_pool();
	r->antecedent = a;
	r->ante_state = weft_future_state(a);
	r->ante_result = NULL;
	r->ante_rc = weft_future_get(a, &r->ante_result);
	r->ctx = ctx;
	atomic_fetch_add(&r->runs, 1);
	return (void *)((uintptr_t)r->ante_result + 1);
}

Test(then, bad_args, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(1);
	weft_future *f;
	cr_assert_eq(weft_submit(p, unit_identity, NULL, &f), 0);
	struct then_rec rec = {0};
	weft_future *sentinel = (weft_future *)(uintptr_t)0x77;
	weft_future *c = sentinel;
	cr_expect_eq(weft_future_then(NULL, record_then, &rec, 0, &c),
		     -EINVAL);
	cr_expect_eq(weft_future_then(f, NULL, &rec, 0, &c), -EINVAL);
	cr_expect_eq(weft_future_then(f, record_then, &rec, 2, &c), -EINVAL);
	cr_expect_eq(weft_future_then(f, record_then, &rec,
				      WEFT_THEN_ON_SUCCESS | 0x100, &c),
		     -EINVAL);
	cr_expect_eq(weft_future_then(f, record_then, &rec, ~0u, NULL),
		     -EINVAL);
	cr_expect_eq(c, sentinel);
	cr_expect_eq(weft_future_get(f, NULL), 0);
	cr_expect_eq(weft_future_then(f, record_then, &rec, 4, &c), -EINVAL);
	cr_expect_eq(c, sentinel);
	cr_assert_eq(weft_pool_destroy(p), 0);
	cr_expect_eq(rec.runs, 0);
	weft_future_release(f);
}

Test(then, runs_after_antecedent_on_worker, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(2);
	struct unit_gate g = {.result = (void *)(uintptr_t)41};
	weft_future *a = unit_block(p, &g);
	struct then_rec rec = {0};
	weft_future *c;
	cr_assert_eq(weft_future_then(a, record_then, &rec, 0, &c), 0);
	unit_sleep_us(10000);
	cr_expect_eq(rec.runs, 0, "ran before its antecedent completed");
	cr_expect_eq(weft_future_state(c), WEFT_PENDING);
	unit_open(&g);
	void *r;
	cr_assert_eq(weft_future_get(c, &r), 0);
	cr_expect_eq(r, (void *)(uintptr_t)42);
	cr_expect_eq(rec.runs, 1);
	cr_expect_eq(rec.antecedent, a);
	cr_expect_eq(rec.ante_state, WEFT_SUCCEEDED);
	cr_expect_eq(rec.ante_rc, 0);
	cr_expect_eq(rec.ante_result, (void *)(uintptr_t)41);
	cr_expect_eq(rec.ctx, &rec);
	cr_expect(rec.index >= 0 && rec.index < 2, "index %d", rec.index);
	cr_expect_eq(rec.pool, p);
	cr_expect_eq(weft_future_state(c), WEFT_SUCCEEDED);
	weft_future_release(c);
	weft_future_release(a);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(then, on_done_future_still_runs, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(2);
	weft_future *a;
	cr_assert_eq(weft_submit(p, unit_identity, (void *)(uintptr_t)9, &a),
		     0);
	cr_assert_eq(weft_future_get(a, NULL), 0);
	struct then_rec rec = {0};
	weft_future *c;
	cr_assert_eq(weft_future_then(a, record_then, &rec, 0, &c), 0);
	void *r;
	cr_assert_eq(weft_future_get(c, &r), 0);
	cr_expect_eq(r, (void *)(uintptr_t)10);
	cr_expect_eq(rec.runs, 1);
	cr_expect(rec.index >= 0, "a continuation runs on a worker");
	cr_expect_eq(rec.pool, p);
	/* And with ON_SUCCESS on a done, succeeded future. */
	struct then_rec rec2 = {0};
	weft_future *c2;
	cr_assert_eq(weft_future_then(a, record_then, &rec2,
				      WEFT_THEN_ON_SUCCESS, &c2),
		     0);
	cr_assert_eq(weft_future_get(c2, &r), 0);
	cr_expect_eq(r, (void *)(uintptr_t)10);
	cr_expect(rec2.index >= 0);
	weft_future_release(c);
	weft_future_release(c2);
	weft_future_release(a);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(then, on_success_failed_antecedent, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(1);
	struct unit_gate g = {0};
	weft_future *blocker = unit_block(p, &g);
	weft_future *a;
	cr_assert_eq(weft_submit(p, fail_eio, NULL, &a), 0);
	struct then_rec skipped = {0}, pending_skip = {0};
	weft_future *c, *c2;
	cr_assert_eq(weft_future_then(a, record_then, &pending_skip,
				      WEFT_THEN_ON_SUCCESS, &c),
		     0);
	unit_open(&g);
	void *r = (void *)(uintptr_t)5;
	cr_expect_eq(weft_future_get(c, &r), -EIO);
	cr_expect_eq(r, (void *)(uintptr_t)5);
	cr_expect_eq(weft_future_state(c), WEFT_FAILED);
	/* Registered after the failure, too. */
	cr_assert_eq(weft_future_then(a, record_then, &skipped,
				      WEFT_THEN_ON_SUCCESS, &c2),
		     0);
	cr_expect_eq(weft_future_get(c2, NULL), -EIO);
	cr_expect_eq(weft_future_state(c2), WEFT_FAILED);
	cr_assert_eq(weft_pool_destroy(p), 0);
	cr_expect_eq(pending_skip.runs, 0, "fn must not run");
	cr_expect_eq(skipped.runs, 0, "fn must not run");
	weft_future_release(c);
	weft_future_release(c2);
	weft_future_release(a);
	weft_future_release(blocker);
}

Test(then, on_success_cancelled_antecedent, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(1);
	struct unit_gate g = {0};
	weft_future *blocker = unit_block(p, &g);
	weft_future *a;
	cr_assert_eq(weft_submit(p, unit_identity, NULL, &a), 0);
	struct then_rec rec = {0}, rec2 = {0};
	weft_future *c, *c2;
	cr_assert_eq(weft_future_then(a, record_then, &rec,
				      WEFT_THEN_ON_SUCCESS, &c),
		     0);
	cr_expect(weft_future_cancel(a));
	cr_assert_eq(weft_future_then(a, record_then, &rec2,
				      WEFT_THEN_ON_SUCCESS, &c2),
		     0);
	/* The continuations are tasks: they need the worker. */
	unit_open(&g);
	cr_expect_eq(weft_future_get(c, NULL), -ECANCELED);
	cr_expect_eq(weft_future_state(c), WEFT_CANCELLED);
	cr_expect_eq(weft_future_get(c2, NULL), -ECANCELED);
	cr_expect_eq(weft_future_state(c2), WEFT_CANCELLED);
	cr_assert_eq(weft_pool_destroy(p), 0);
	cr_expect_eq(rec.runs, 0);
	cr_expect_eq(rec2.runs, 0);
	weft_future_release(c);
	weft_future_release(c2);
	weft_future_release(a);
	weft_future_release(blocker);
}

Test(then, without_flag_sees_failure_and_cancel, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(1);
	struct unit_gate g = {0};
	weft_future *blocker = unit_block(p, &g);
	weft_future *bad, *cancelled;
	cr_assert_eq(weft_submit(p, fail_eio, NULL, &bad), 0);
	cr_assert_eq(weft_submit(p, unit_identity, NULL, &cancelled), 0);
	struct then_rec rb = {0}, rc = {0};
	weft_future *cb, *cc;
	cr_assert_eq(weft_future_then(bad, record_then, &rb, 0, &cb), 0);
	cr_assert_eq(weft_future_then(cancelled, record_then, &rc, 0, &cc), 0);
	cr_expect(weft_future_cancel(cancelled));
	unit_open(&g);
	void *r;
	cr_expect_eq(weft_future_get(cb, &r), 0);
	cr_expect_eq(r, (void *)(uintptr_t)1);
	cr_expect_eq(rb.runs, 1);
	cr_expect_eq(rb.ante_state, WEFT_FAILED);
	cr_expect_eq(rb.ante_rc, -EIO);
	cr_expect_eq(weft_future_get(cc, &r), 0);
	cr_expect_eq(rc.runs, 1);
	cr_expect_eq(rc.ante_state, WEFT_CANCELLED);
	cr_expect_eq(rc.ante_rc, -ECANCELED);
	cr_expect(rc.index >= 0);
	weft_future_release(cb);
	weft_future_release(cc);
	weft_future_release(bad);
	weft_future_release(cancelled);
	weft_future_release(blocker);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

static void *then_fail(weft_future *a, void *ctx)
{
	(void)a;
	return weft_fail((int)(intptr_t)ctx);
}

static void *then_add(weft_future *a, void *ctx)
{
	void *r = NULL;
	if (weft_future_get(a, &r))
		return weft_fail(EPROTO);
	return (void *)((uintptr_t)r + (uintptr_t)ctx);
}

Test(then, continuation_can_fail, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(2);
	weft_future *a, *c1, *c2, *c3;
	cr_assert_eq(weft_submit(p, unit_identity, (void *)(uintptr_t)1, &a),
		     0);
	cr_assert_eq(weft_future_then(a, then_fail, (void *)(intptr_t)EPERM,
				      0, &c1),
		     0);
	cr_assert_eq(weft_future_then(c1, then_add, (void *)(uintptr_t)1,
				      WEFT_THEN_ON_SUCCESS, &c2),
		     0);
	cr_assert_eq(weft_future_then(c2, then_add, (void *)(uintptr_t)1,
				      WEFT_THEN_ON_SUCCESS, &c3),
		     0);
	cr_expect_eq(weft_future_get(c3, NULL), -EPERM);
	cr_expect_eq(weft_future_get(c2, NULL), -EPERM);
	cr_expect_eq(weft_future_get(c1, NULL), -EPERM);
	cr_expect_eq(weft_future_state(c1), WEFT_FAILED);
	cr_expect_eq(weft_future_state(c3), WEFT_FAILED);
	weft_future_release(a);
	weft_future_release(c1);
	weft_future_release(c2);
	weft_future_release(c3);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(then, detached_and_several_on_one_future, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(2);
	struct unit_gate g = {.result = (void *)(uintptr_t)100};
	weft_future *a = unit_block(p, &g);
	static struct then_rec rec[10];
	weft_future *c[5];
	for (int i = 0; i < 5; i++)
		cr_assert_eq(weft_future_then(a, record_then, &rec[i], 0,
					      &c[i]),
			     0);
	for (int i = 5; i < 10; i++)
		cr_assert_eq(weft_future_then(a, record_then, &rec[i],
					      WEFT_THEN_ON_SUCCESS, NULL),
			     0);
	unit_open(&g);
	for (int i = 0; i < 5; i++) {
		void *r;
		cr_expect_eq(weft_future_get(c[i], &r), 0);
		cr_expect_eq(r, (void *)(uintptr_t)101);
		weft_future_release(c[i]);
	}
	for (int i = 5; i < 10; i++)
		cr_expect(unit_wait_for(&rec[i].runs, 1));
	weft_future_release(a);
	cr_assert_eq(weft_pool_destroy(p), 0);
	for (int i = 0; i < 10; i++)
		cr_expect_eq(rec[i].runs, 1, "continuation %d", i);
}

/* The continuation keeps its antecedent alive: the user's handles may all
 * be gone before it runs. With one worker, the antecedent's runner drops
 * the queue's reference before it takes the continuation from its deque,
 * so without the continuation's own reference the antecedent is free when
 * the continuation reads it (a report in an ASan build, where free
 * objects are poisoned). */
Test(then, holds_its_antecedent, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(1);
	struct unit_gate g = {0};
	weft_future *blocker = unit_block(p, &g);
	weft_future *a, *c;
	cr_assert_eq(weft_submit(p, unit_identity, (void *)(uintptr_t)7, &a),
		     0);
	struct then_rec rec = {0};
	cr_assert_eq(weft_future_then(a, record_then, &rec, 0, &c), 0);
	weft_future_release(a);
	unit_open(&g);
	void *r;
	cr_expect_eq(weft_future_get(c, &r), 0);
	cr_expect_eq(r, (void *)(uintptr_t)8);
	cr_expect_eq(rec.ante_result, (void *)(uintptr_t)7);
	weft_future_release(c);
	weft_future_release(blocker);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/* A pending continuation can be cancelled: fn never runs, its own
 * continuations see a cancelled antecedent, and its antecedent's later
 * completion changes nothing. */
Test(then, cancel_pending_continuation, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(1);
	struct unit_gate g = {.result = (void *)(uintptr_t)1};
	weft_future *a = unit_block(p, &g);
	struct then_rec r1 = {0}, r2 = {0}, r3 = {0};
	weft_future *c1, *c2, *c3;
	cr_assert_eq(weft_future_then(a, record_then, &r1, 0, &c1), 0);
	cr_assert_eq(weft_future_then(c1, record_then, &r2, 0, &c2), 0);
	cr_assert_eq(weft_future_then(c1, record_then, &r3,
				      WEFT_THEN_ON_SUCCESS, &c3),
		     0);
	cr_expect(weft_future_cancel(c1));
	cr_expect_eq(weft_future_state(c1), WEFT_CANCELLED);
	cr_expect_eq(weft_future_state(a), WEFT_RUNNING);
	unit_open(&g);
	cr_expect_eq(weft_future_get(c2, NULL), 0);
	cr_expect_eq(r2.ante_state, WEFT_CANCELLED);
	cr_expect_eq(r2.ante_rc, -ECANCELED);
	cr_expect_eq(weft_future_get(c3, NULL), -ECANCELED);
	cr_expect_eq(weft_future_get(a, NULL), 0);
	cr_assert_eq(weft_pool_destroy(p), 0);
	cr_expect_eq(r1.runs, 0);
	cr_expect_eq(r2.runs, 1);
	cr_expect_eq(r3.runs, 0);
	cr_expect_eq(weft_future_state(c1), WEFT_CANCELLED);
	weft_future_release(a);
	weft_future_release(c1);
	weft_future_release(c2);
	weft_future_release(c3);
}

/* A continuation waiting on its own future is a self-wait. */
struct self_then {
	_Atomic(weft_future *) self;
	int rc;
};

static void *then_wait_self(weft_future *a, void *ctx)
{
	(void)a;
	struct self_then *s = ctx;
	weft_future *me;
	int64_t end = unit_now_ns() + 5000000000;
	while (!(me = atomic_load(&s->self)) && unit_now_ns() < end)
		unit_sleep_us(50);
	s->rc = me ? weft_future_get(me, NULL) : 1;
	return NULL;
}

Test(then, get_self_in_continuation_is_edeadlk, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(1);
	weft_future *a, *c;
	cr_assert_eq(weft_submit(p, unit_identity, NULL, &a), 0);
	struct self_then s = {.rc = 0};
	cr_assert_eq(weft_future_then(a, then_wait_self, &s, 0, &c), 0);
	atomic_store(&s.self, c);
	cr_expect_eq(weft_future_get(c, NULL), 0);
	cr_expect_eq(s.rc, -EDEADLK);
	weft_future_release(a);
	weft_future_release(c);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/* A chain registered on a pending head runs in order once the head runs;
 * each link adds one. */
Test(then, chain_in_order, .timeout = UNIT_TIMEOUT)
{
	enum { LINKS = 10000 };
	weft_pool *p = unit_pool(2);
	struct unit_gate g = {.result = (void *)(uintptr_t)0};
	weft_future *head = unit_block(p, &g);
	weft_future *prev = head, *last = NULL;
	weft_future_retain(head);
	for (int i = 0; i < LINKS; i++) {
		weft_future *c;
		cr_assert_eq(weft_future_then(prev, then_add,
					      (void *)(uintptr_t)1,
					      WEFT_THEN_ON_SUCCESS, &c),
			     0);
		weft_future_release(prev);
		prev = c;
	}
	last = prev;
	unit_open(&g);
	void *r;
	cr_expect_eq(weft_future_get(last, &r), 0);
	cr_expect_eq(r, (void *)(uintptr_t)LINKS);
	weft_future_release(last);
	weft_future_release(head);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/* A continuation registered from a callback on a done future. */
struct cb_then {
	int rc;
	weft_future *c;
	struct then_rec rec;
	_Atomic int cb_done;
};

static void then_from_cb(weft_future *f, void *ctx)
{
	struct cb_then *t = ctx;
	t->rc = weft_future_then(f, record_then, &t->rec, 0, &t->c);
	atomic_store(&t->cb_done, 1);
}

Test(then, registered_from_callback, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(2);
	weft_future *a;
	struct cb_then t = {.rc = 1};
	cr_assert_eq(weft_submit(p, unit_identity, (void *)(uintptr_t)3, &a),
		     0);
	cr_assert_eq(weft_future_on_done(a, then_from_cb, &t), 0);
	cr_assert_eq(weft_future_get(a, NULL), 0);
	cr_assert(unit_wait_for(&t.cb_done, 1));
	cr_expect_eq(t.rc, 0);
	void *r;
	cr_expect_eq(weft_future_get(t.c, &r), 0);
	cr_expect_eq(r, (void *)(uintptr_t)4);
	weft_future_release(t.c);
	weft_future_release(a);
	cr_assert_eq(weft_pool_destroy(p), 0);
}
