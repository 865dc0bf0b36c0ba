/*
 * Tasks and futures: submit, weft_fail, get and wait (errors, timeouts,
 * self-waits), states, cancellation, references.
 */
#include <limits.h>
#include <string.h>

#include "unit.h"

TestSuite(future, .fini = unit_leak_check);

/*
 * Submit.
 */

Test(future, submit_bad_args, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(1);
	weft_future *sentinel = (weft_future *)(uintptr_t)0x5678;
	weft_future *f = sentinel;
	cr_expect_eq(weft_submit(NULL, unit_identity, NULL, &f), -EINVAL);
	cr_expect_eq(f, sentinel);
	cr_expect_eq(weft_submit(p, NULL, NULL, &f), -EINVAL);
	cr_expect_eq(f, sentinel);
	cr_expect_eq(weft_submit(NULL, NULL, NULL, NULL), -EINVAL);
	cr_expect_eq(weft_submit(p, NULL, NULL, NULL), -EINVAL);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(future, submit_and_get, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(2);
	weft_future *f;
	int x = 5;
	cr_assert_eq(weft_submit(p, unit_identity, &x, &f), 0);
	cr_assert_not_null(f);
	void *r = NULL;
	cr_expect_eq(weft_future_get(f, &r), 0);
	cr_expect_eq(r, &x);
	cr_expect_eq(weft_future_state(f), WEFT_SUCCEEDED);
	cr_expect(weft_future_done(f));
	/* get again, and with a NULL result pointer. */
	r = NULL;
	cr_expect_eq(weft_future_get(f, &r), 0);
	cr_expect_eq(r, &x);
	cr_expect_eq(weft_future_get(f, NULL), 0);
	weft_future_release(f);

	/* A NULL result is a result. */
	cr_assert_eq(weft_submit(p, unit_identity, NULL, &f), 0);
	r = &x;
	cr_expect_eq(weft_future_get(f, &r), 0);
	cr_expect_null(r);
	weft_future_release(f);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

struct handoff {
	int before;   /* written before submit, read by the task */
	int seen;     /* the task's copy */
	int after;    /* written by the task, read after get */
};

static void *handoff_task(void *arg)
{
	struct handoff *h = arg;
	h->seen = h->before;
	h->after = h->before * 2;
	return NULL;
}

Test(future, submit_orders_memory, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(2);
	static struct handoff h[256];
	weft_future *f[256];
	for (int i = 0; i < 256; i++) {
		h[i].before = i + 1;
		cr_assert_eq(weft_submit(p, handoff_task, &h[i], &f[i]), 0);
	}
	for (int i = 0; i < 256; i++) {
		cr_assert_eq(weft_future_get(f[i], NULL), 0);
		cr_expect_eq(h[i].seen, i + 1);
		cr_expect_eq(h[i].after, 2 * (i + 1));
		weft_future_release(f[i]);
	}
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(future, detached_submit, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(2);
	_Atomic int n = 0;
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(weft_submit(p, unit_count_task, &n, NULL), 0);
	cr_assert(unit_wait_for(&n, 1000));
	cr_assert_eq(weft_pool_destroy(p), 0);
	cr_expect_eq(n, 1000);
}

/*
 * weft_fail.
 */

static void *fail_with(void *arg)
{
	void *r = weft_fail((int)(intptr_t)arg);
	return r ? (void *)(uintptr_t)0xBAD : NULL;
}

Test(future, fail_sets_failed, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(2);
	const int codes[] = {EIO, EPERM, ENOENT, ECANCELED, ETIMEDOUT, 4095};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		weft_future *f;
		cr_assert_eq(weft_submit(p, fail_with,
					 (void *)(intptr_t)codes[i], &f),
			     0);
		void *r = (void *)(uintptr_t)1;
		cr_expect_eq(weft_future_get(f, &r), -codes[i], "code %d",
			     codes[i]);
		cr_expect_eq(r, (void *)(uintptr_t)1,
			     "get must not write *result for a failed task");
		cr_expect_eq(weft_future_state(f), WEFT_FAILED);
		cr_expect(weft_future_done(f));
		cr_expect_eq(weft_future_wait(f, 0), 0);
		cr_expect(!weft_future_cancel(f));
		weft_future_release(f);
	}
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(future, fail_non_positive_is_einval, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(1);
	const int codes[] = {0, -1, -EIO, INT_MIN};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		weft_future *f;
		cr_assert_eq(weft_submit(p, fail_with,
					 (void *)(intptr_t)codes[i], &f),
			     0);
		cr_expect_eq(weft_future_get(f, NULL), -EINVAL, "code %d",
			     codes[i]);
		cr_expect_eq(weft_future_state(f), WEFT_FAILED);
		weft_future_release(f);
	}
	cr_assert_eq(weft_pool_destroy(p), 0);
}

static void fail_in_hook(unsigned index, void *ctx)
{
	(void)index;
	*(void **)ctx = weft_fail(EIO);
}

Test(future, fail_outside_task_has_no_effect, .timeout = UNIT_TIMEOUT)
{
	/* On a thread that is not a worker. */
	cr_expect_null(weft_fail(EIO));
	cr_expect_null(weft_fail(0));

	/* On a worker, outside any task (in its start hook). */
	void *hook_ret = (void *)(uintptr_t)1;
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = 1;
	cfg.on_worker_start = fail_in_hook;
	cfg.hook_ctx = &hook_ret;
	weft_pool *p;
	cr_assert_eq(weft_pool_create(&p, &cfg), 0);
	weft_future *f;
	cr_assert_eq(weft_submit(p, unit_identity, &cfg, &f), 0);
	void *r;
	cr_expect_eq(weft_future_get(f, &r), 0);
	cr_expect_eq(r, &cfg);
	cr_expect_eq(weft_future_state(f), WEFT_SUCCEEDED);
	weft_future_release(f);
	cr_assert_eq(weft_pool_destroy(p), 0);
	cr_expect_null(hook_ret);

	/* A failure does not leak into the next task on the same worker. */
	p = unit_pool(1);
	weft_future *bad, *good;
	cr_assert_eq(weft_submit(p, fail_with, (void *)(intptr_t)EIO, &bad), 0);
	cr_assert_eq(weft_submit(p, unit_identity, NULL, &good), 0);
	cr_expect_eq(weft_future_get(bad, NULL), -EIO);
	cr_expect_eq(weft_future_get(good, NULL), 0);
	weft_future_release(bad);
	weft_future_release(good);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/* A task that fails after waiting on a child that succeeds: the child's
 * outcome must not clear or set the parent's. */
struct nested_fail {
	weft_pool *p;
	int child_rc;
};

static void *parent_fails_around_child(void *arg)
{
	struct nested_fail *n = arg;
	weft_future *c;
	if (weft_submit(n->p, fail_with, (void *)(intptr_t)EPERM, &c))
		return NULL;
	n->child_rc = weft_future_get(c, NULL);
	weft_future_release(c);
	return weft_fail(EIO);
}

static void *parent_succeeds_around_child(void *arg)
{
	struct nested_fail *n = arg;
	weft_future *c;
	if (weft_submit(n->p, fail_with, (void *)(intptr_t)EPERM, &c))
		return NULL;
	n->child_rc = weft_future_get(c, NULL);
	weft_future_release(c);
	return arg;
}

Test(future, fail_is_per_task_when_nested, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(1);
	struct nested_fail a = {p, 0}, b = {p, 0};
	weft_future *fa, *fb;
	cr_assert_eq(weft_submit(p, parent_fails_around_child, &a, &fa), 0);
	cr_assert_eq(weft_submit(p, parent_succeeds_around_child, &b, &fb), 0);
	cr_expect_eq(weft_future_get(fa, NULL), -EIO);
	cr_expect_eq(a.child_rc, -EPERM);
	void *r;
	cr_expect_eq(weft_future_get(fb, &r), 0);
	cr_expect_eq(r, &b);
	cr_expect_eq(b.child_rc, -EPERM);
	weft_future_release(fa);
	weft_future_release(fb);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/*
 * get and wait.
 */

Test(future, get_wait_bad_args, .timeout = UNIT_TIMEOUT)
{
	void *r = (void *)(uintptr_t)3;
	cr_expect_eq(weft_future_get(NULL, &r), -EINVAL);
	cr_expect_eq(weft_future_get(NULL, NULL), -EINVAL);
	cr_expect_eq(r, (void *)(uintptr_t)3);
	cr_expect_eq(weft_future_wait(NULL, 0), -EINVAL);
	cr_expect_eq(weft_future_wait(NULL, WEFT_FOREVER), -EINVAL);

	weft_pool *p = unit_pool(1);
	struct unit_gate g = {0};
	weft_future *f = unit_block(p, &g);
	cr_expect_eq(weft_future_wait(f, -2), -EINVAL);
	cr_expect_eq(weft_future_wait(f, INT64_MIN), -EINVAL);
	unit_open(&g);
	cr_expect_eq(weft_future_get(f, NULL), 0);
	/* Also on a done future. */
	cr_expect_eq(weft_future_wait(f, -2), -EINVAL);
	weft_future_release(f);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(future, wait_zero_polls, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(1);
	struct unit_gate g = {0};
	weft_future *f = unit_block(p, &g);
	int64_t t0 = unit_now_ns();
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(weft_future_wait(f, 0), -ETIMEDOUT);
	int64_t dt = unit_now_ns() - t0;
	/* A poll returns at once; the bound is loose (a loaded machine can
	 * stall the thread) but fails polls that sleep or block. */
	cr_expect_lt(dt, 2000000000, "1000 polls took %lld ns", (long long)dt);
	unit_open(&g);
	cr_expect_eq(weft_future_wait(f, WEFT_FOREVER), 0);
	cr_expect_eq(weft_future_wait(f, 0), 0);
	weft_future_release(f);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(future, wait_times_out_not_early, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(1);
	struct unit_gate g = {0};
	weft_future *f = unit_block(p, &g);
	const int64_t timeouts[] = {1, 1000, 100000, 1000000, 5000000,
				    20000000};
	for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
		int64_t t0 = unit_now_ns();
		int rc = weft_future_wait(f, timeouts[i]);
		int64_t dt = unit_now_ns() - t0;
		cr_expect_eq(rc, -ETIMEDOUT);
		cr_expect_geq(dt, timeouts[i], "timeout %lld returned after %lld",
			      (long long)timeouts[i], (long long)dt);
		cr_expect_lt(dt, timeouts[i] + 2000000000);
	}
	cr_expect_eq(weft_future_state(f), WEFT_RUNNING);
	unit_open(&g);
	cr_expect_eq(weft_future_wait(f, 5000000000), 0);
	weft_future_release(f);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

static void *sleep_then_return(void *arg)
{
	unit_sleep_us(20000);
	return arg;
}

Test(future, wait_returns_when_done, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(1);
	weft_future *f;
	cr_assert_eq(weft_submit(p, sleep_then_return, &p, &f), 0);
	int64_t t0 = unit_now_ns();
	cr_expect_eq(weft_future_wait(f, 5000000000), 0);
	cr_expect_lt(unit_now_ns() - t0, 4000000000);
	cr_expect(weft_future_done(f));
	weft_future_release(f);
	cr_assert_eq(weft_submit(p, sleep_then_return, &p, &f), 0);
	cr_expect_eq(weft_future_wait(f, WEFT_FOREVER), 0);
	weft_future_release(f);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/* The task waits for its own handle, then waits on itself. */
struct self_wait {
	_Atomic(weft_future *) self;
	int get_rc, wait_rc, poll_rc, timed_rc;
};

static void *wait_on_self(void *arg)
{
	struct self_wait *s = arg;
	weft_future *me;
	int64_t end = unit_now_ns() + 5000000000;
	while (!(me = atomic_load(&s->self)) && unit_now_ns() < end)
		unit_sleep_us(50);
	if (!me)
		return NULL;
	void *r;
	s->get_rc = weft_future_get(me, &r);
	s->wait_rc = weft_future_wait(me, WEFT_FOREVER);
	s->poll_rc = weft_future_wait(me, 0);
	s->timed_rc = weft_future_wait(me, 1000000);
	return arg;
}

Test(future, get_self_is_edeadlk, .timeout = UNIT_TIMEOUT)
{
	for (unsigned workers = 1; workers <= 2; workers++) {
		weft_pool *p = unit_pool(workers);
		struct self_wait s = {.get_rc = 0};
		weft_future *f;
		cr_assert_eq(weft_submit(p, wait_on_self, &s, &f), 0);
		atomic_store(&s.self, f);
		void *r;
		cr_assert_eq(weft_future_get(f, &r), 0);
		cr_expect_eq(r, &s);
		cr_expect_eq(s.get_rc, -EDEADLK);
		cr_expect_eq(s.wait_rc, -EDEADLK);
		cr_expect_eq(s.poll_rc, -EDEADLK);
		cr_expect_eq(s.timed_rc, -EDEADLK);
		weft_future_release(f);
		cr_assert_eq(weft_pool_destroy(p), 0);
	}
}

/* With one worker, a parent that waits on a child runs the children it
 * queued, nested in its own wait. A child that then waits on the parent
 * waits on a task suspended beneath it on the same thread: that is a wait
 * from inside the parent's own task. */
struct ancestor {
	_Atomic(weft_future *) parent;
	enum weft_state parent_state;
	int get_rc, wait_rc;
};

static void *wait_on_ancestor(void *arg)
{
	struct ancestor *a = arg;
	weft_future *p;
	int64_t end = unit_now_ns() + 5000000000;
	while (!(p = atomic_load(&a->parent)) && unit_now_ns() < end)
		unit_sleep_us(50);
	if (!p)
		return NULL;
	a->parent_state = weft_future_state(p);
	a->wait_rc = weft_future_wait(p, 100000000);
	a->get_rc = weft_future_get(p, NULL);
	return arg;
}

static void *parent_of_waiter(void *arg)
{
	weft_pool *p = weft_current_pool();
	weft_future *leaf, *child;
	if (weft_submit(p, unit_identity, NULL, &leaf))
		return NULL;
	/* Queued last, so the helping worker takes it first (LIFO). */
	if (weft_submit(p, wait_on_ancestor, arg, &child)) {
		weft_future_release(leaf);
		return NULL;
	}
	weft_future_get(leaf, NULL);
	weft_future_get(child, NULL);
	weft_future_release(leaf);
	weft_future_release(child);
	return arg;
}

Test(future, wait_on_ancestor_is_edeadlk, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(1);
	struct ancestor a = {.get_rc = 1, .wait_rc = 1};
	weft_future *f;
	cr_assert_eq(weft_submit(p, parent_of_waiter, &a, &f), 0);
	atomic_store(&a.parent, f);
	void *r;
	cr_assert_eq(weft_future_get(f, &r), 0);
	cr_expect_eq(r, &a);
	/* One worker and the parent still running: the child ran nested
	 * in the parent's wait. */
	cr_assert_eq(a.parent_state, WEFT_RUNNING);
	cr_expect_eq(a.wait_rc, -EDEADLK);
	cr_expect_eq(a.get_rc, -EDEADLK);
	weft_future_release(f);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/* On a worker, get runs other tasks while it waits: with one worker, a
 * parent that waits on its child would otherwise never finish. */
static void *child_value(void *arg)
{
	return (void *)((uintptr_t)arg + 1);
}

static void *parent_waits_for_child(void *arg)
{
	weft_future *c;
	if (weft_submit(weft_current_pool(), child_value, arg, &c))
		return NULL;
	void *r = NULL;
	int rc = weft_future_get(c, &r);
	weft_future_release(c);
	return rc ? NULL : r;
}

Test(future, get_on_worker_helps, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(1);
	weft_future *f;
	cr_assert_eq(weft_submit(p, parent_waits_for_child, (void *)41, &f),
		     0);
	void *r;
	cr_expect_eq(weft_future_get(f, &r), 0);
	cr_expect_eq(r, (void *)42);
	weft_future_release(f);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/* A worker's timed wait on a future that another pool holds back. */
struct timed_on_worker {
	weft_future *target;
	int rc;
	int64_t elapsed;
};

static void *timed_wait_task(void *arg)
{
	struct timed_on_worker *t = arg;
	int64_t t0 = unit_now_ns();
	t->rc = weft_future_wait(t->target, 20000000);
	t->elapsed = unit_now_ns() - t0;
	return arg;
}

Test(future, timed_wait_on_worker, .timeout = UNIT_TIMEOUT)
{
	weft_pool *a = unit_pool(1), *b = unit_pool(1);
	struct unit_gate g = {0};
	weft_future *blocked = unit_block(b, &g);
	struct timed_on_worker t = {blocked, 1, 0};
	weft_future *f;
	cr_assert_eq(weft_submit(a, timed_wait_task, &t, &f), 0);
	cr_assert_eq(weft_future_get(f, NULL), 0);
	cr_expect_eq(t.rc, -ETIMEDOUT);
	cr_expect_geq(t.elapsed, 20000000, "returned after %lld ns",
		      (long long)t.elapsed);
	unit_open(&g);
	weft_future_release(f);
	weft_future_release(blocked);
	cr_assert_eq(weft_pool_destroy(a), 0);
	cr_assert_eq(weft_pool_destroy(b), 0);
}

/*
 * States.
 */

Test(future, state_transitions, .timeout = UNIT_TIMEOUT)
{
	cr_expect_eq(weft_future_state(NULL), WEFT_PENDING);
	cr_expect(!weft_future_done(NULL));

	weft_pool *p = unit_pool(1);
	struct unit_gate g = {.result = (void *)(uintptr_t)11};
	weft_future *first = unit_block(p, &g);
	cr_expect_eq(weft_future_state(first), WEFT_RUNNING);
	cr_expect(!weft_future_done(first));

	struct unit_gate g2 = {.result = (void *)(uintptr_t)22};
	weft_future *second;
	cr_assert_eq(weft_submit(p, unit_gate_task, &g2, &second), 0);
	cr_expect_eq(weft_future_state(second), WEFT_PENDING);
	cr_expect(!weft_future_done(second));

	unit_open(&g);
	cr_assert(unit_wait_for(&g2.entered, 1));
	cr_expect_eq(weft_future_wait(first, 5000000000), 0);
	cr_expect_eq(weft_future_state(first), WEFT_SUCCEEDED);
	cr_expect(weft_future_done(first));
	cr_expect_eq(weft_future_state(second), WEFT_RUNNING);
	unit_open(&g2);
	void *r;
	cr_expect_eq(weft_future_get(second, &r), 0);
	cr_expect_eq(r, (void *)(uintptr_t)22);
	cr_expect_eq(weft_future_state(second), WEFT_SUCCEEDED);
	weft_future_release(first);
	weft_future_release(second);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/*
 * Cancellation.
 */

Test(future, cancel_pending, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(1);
	struct unit_gate g = {0};
	weft_future *blocker = unit_block(p, &g);
	_Atomic int ran = 0;
	weft_future *f;
	cr_assert_eq(weft_submit(p, unit_count_task, &ran, &f), 0);
	cr_expect_eq(weft_future_state(f), WEFT_PENDING);
	cr_expect(weft_future_cancel(f));
	cr_expect_eq(weft_future_state(f), WEFT_CANCELLED);
	cr_expect(weft_future_done(f));
	void *r = (void *)(uintptr_t)1;
	cr_expect_eq(weft_future_get(f, &r), -ECANCELED);
	cr_expect_eq(r, (void *)(uintptr_t)1);
	cr_expect_eq(weft_future_wait(f, 0), 0);
	cr_expect_eq(weft_future_wait(f, WEFT_FOREVER), 0);
	cr_expect(weft_future_cancel(f), "cancelling again is still true");

	/* Running and finished tasks cannot be cancelled. */
	cr_expect(!weft_future_cancel(blocker));
	cr_expect_eq(weft_future_state(blocker), WEFT_RUNNING);
	unit_open(&g);
	cr_expect_eq(weft_future_get(blocker, NULL), 0);
	cr_expect(!weft_future_cancel(blocker));
	cr_expect_eq(weft_future_state(blocker), WEFT_SUCCEEDED);

	cr_expect(!weft_future_cancel(NULL));

	cr_assert_eq(weft_pool_destroy(p), 0);
	cr_expect_eq(ran, 0, "a cancelled task must never run");
	cr_expect_eq(weft_future_state(f), WEFT_CANCELLED);
	weft_future_release(f);
	weft_future_release(blocker);
}

Test(future, cancel_failed_is_false, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(1);
	weft_future *f;
	cr_assert_eq(weft_submit(p, fail_with, (void *)(intptr_t)EIO, &f), 0);
	cr_expect_eq(weft_future_get(f, NULL), -EIO);
	cr_expect(!weft_future_cancel(f));
	cr_expect_eq(weft_future_state(f), WEFT_FAILED);
	weft_future_release(f);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

struct waiter {
	pthread_t thread;
	weft_future *f;
	int mode; /* 0: get, 1: wait forever, 2: wait 10 s */
	_Atomic int started, done;
	int rc;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	atomic_store(&w->started, 1);
	if (w->mode == 0)
		w->rc = weft_future_get(w->f, NULL);
	else
		w->rc = weft_future_wait(w->f, w->mode == 1 ? WEFT_FOREVER
							    : 10000000000);
	atomic_store(&w->done, 1);
	return NULL;
}

Test(future, cancel_wakes_waiters, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(1);
	struct unit_gate g = {0};
	weft_future *blocker = unit_block(p, &g);
	weft_future *f;
	cr_assert_eq(weft_submit(p, unit_identity, NULL, &f), 0);
	struct waiter w[6];
	memset(w, 0, sizeof(w));
	for (int i = 0; i < 6; i++) {
		w[i].f = f;
		w[i].mode = i % 3;
		cr_assert_eq(pthread_create(&w[i].thread, NULL, waiter_main,
					    &w[i]),
			     0);
	}
	for (int i = 0; i < 6; i++)
		cr_assert(unit_wait_for(&w[i].started, 1));
	/* Give them time to go to sleep on the futex word. */
	unit_sleep_us(50000);
	for (int i = 0; i < 6; i++)
		cr_expect_eq(w[i].done, 0, "waiter %d returned early", i);
	int64_t t0 = unit_now_ns();
	cr_expect(weft_future_cancel(f));
	for (int i = 0; i < 6; i++) {
		cr_expect(unit_wait_for(&w[i].done, 1),
			  "waiter %d was not woken by cancel", i);
		pthread_join(w[i].thread, NULL);
		cr_expect_eq(w[i].rc, w[i].mode == 0 ? -ECANCELED : 0,
			     "waiter %d (mode %d)", i, w[i].mode);
	}
	cr_expect_lt(unit_now_ns() - t0, 2000000000);
	unit_open(&g);
	weft_future_release(f);
	weft_future_release(blocker);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(future, completion_wakes_waiters, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(1);
	struct unit_gate g = {.result = &g};
	weft_future *f = unit_block(p, &g);
	struct waiter w[6];
	memset(w, 0, sizeof(w));
	for (int i = 0; i < 6; i++) {
		w[i].f = f;
		w[i].mode = i % 3;
		cr_assert_eq(pthread_create(&w[i].thread, NULL, waiter_main,
					    &w[i]),
			     0);
	}
	for (int i = 0; i < 6; i++)
		cr_assert(unit_wait_for(&w[i].started, 1));
	unit_sleep_us(50000);
	unit_open(&g);
	for (int i = 0; i < 6; i++) {
		cr_expect(unit_wait_for(&w[i].done, 1), "waiter %d", i);
		pthread_join(w[i].thread, NULL);
		cr_expect_eq(w[i].rc, 0);
	}
	weft_future_release(f);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/* A task cancelled while queued behind a blocker is skipped: the worker
 * discards it and goes on with the rest. */
Test(future, cancelled_tasks_are_skipped, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(1);
	struct unit_gate g = {0};
	weft_future *blocker = unit_block(p, &g);
	_Atomic int ran[64];
	weft_future *f[64];
	for (int i = 0; i < 64; i++) {
		atomic_init(&ran[i], 0);
		cr_assert_eq(weft_submit(p, unit_count_task, &ran[i], &f[i]),
			     0);
	}
	for (int i = 0; i < 64; i += 2)
		cr_expect(weft_future_cancel(f[i]));
	unit_open(&g);
	for (int i = 0; i < 64; i++) {
		int rc = weft_future_get(f[i], NULL);
		cr_expect_eq(rc, i % 2 ? 0 : -ECANCELED);
		cr_expect_eq(ran[i], i % 2);
		weft_future_release(f[i]);
	}
	weft_future_release(blocker);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/*
 * References.
 */

Test(future, release_never_cancels, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(1);
	struct unit_gate g = {0};
	weft_future *blocker = unit_block(p, &g);
	_Atomic int ran = 0;
	weft_future *f;
	cr_assert_eq(weft_submit(p, unit_count_task, &ran, &f), 0);
	weft_future_release(f); /* pending, last user handle */
	weft_future_release(blocker); /* running */
	unit_open(&g);
	cr_expect(unit_wait_for(&ran, 1), "a released task must still run");
	cr_assert_eq(weft_pool_destroy(p), 0);
	cr_expect_eq(ran, 1);
}

/* Each retain is one more release before the future goes. The pool is
 * destroyed first, so the handles are the future's only references: a
 * retain that took none would let a release free it while a handle is
 * still held, and the next get would read a free object (a report in an
 * ASan build, where free objects are poisoned). */
Test(future, retain_release, .timeout = UNIT_TIMEOUT)
{
	weft_future_retain(NULL);
	weft_future_release(NULL);

	weft_pool *p = unit_pool(1);
	weft_future *f;
	cr_assert_eq(weft_submit(p, unit_identity, &p, &f), 0);
	cr_assert_eq(weft_pool_destroy(p), 0);
	weft_future_retain(f);
	weft_future_retain(f);
	weft_future_release(f);
	void *r;
	cr_expect_eq(weft_future_get(f, &r), 0);
	weft_future_release(f);
	cr_expect_eq(weft_future_get(f, &r), 0);
	cr_expect_eq(r, &p);
	weft_future_release(f);
}
