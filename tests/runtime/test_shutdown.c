/*
 * Shutdown: flags, the gate for outside submitters, draining (work from
 * running tasks is still accepted), CANCEL_PENDING, self-deadlock.
 */
#include <string.h>

#include "unit.h"

TestSuite(shutdown, .fini = unit_leak_check);

static void count_cb(weft_future *f, void *ctx)
{
	(void)f;
	atomic_fetch_add((_Atomic int *)ctx, 1);
}

Test(shutdown, bad_args, .timeout = UNIT_TIMEOUT)
{
	cr_expect_eq(weft_pool_shutdown(NULL, 0), -EINVAL);
	cr_expect_eq(weft_pool_shutdown(NULL, WEFT_SHUTDOWN_WAIT), -EINVAL);
	weft_pool *p = unit_pool(1);
	cr_expect_eq(weft_pool_shutdown(p, 4), -EINVAL);
	cr_expect_eq(weft_pool_shutdown(p, WEFT_SHUTDOWN_WAIT | 8), -EINVAL);
	cr_expect_eq(weft_pool_shutdown(p, ~0u), -EINVAL);
	/* A rejected call starts nothing. */
	weft_future *f;
	cr_expect_eq(weft_submit(p, unit_identity, NULL, &f), 0);
	cr_expect_eq(weft_future_get(f, NULL), 0);
	weft_future_release(f);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(shutdown, submit_from_outside_fails, .timeout = UNIT_TIMEOUT)
{
	const unsigned flags[] = {0, WEFT_SHUTDOWN_WAIT,
				  WEFT_SHUTDOWN_CANCEL_PENDING,
				  WEFT_SHUTDOWN_WAIT |
					  WEFT_SHUTDOWN_CANCEL_PENDING};
	for (int i = 0; i < 4; i++) {
		weft_pool *p = unit_pool(2);
		cr_assert_eq(weft_pool_shutdown(p, flags[i]), 0);
		weft_future *sentinel = (weft_future *)(uintptr_t)0x99;
		weft_future *f = sentinel;
		_Atomic int n = 0;
		cr_expect_eq(weft_submit(p, unit_count_task, &n, &f),
			     -ESHUTDOWN, "flags %u", flags[i]);
		cr_expect_eq(f, sentinel);
		cr_expect_eq(weft_submit(p, unit_count_task, &n, NULL),
			     -ESHUTDOWN);
		/* Argument errors still come first. */
		cr_expect_eq(weft_submit(p, NULL, NULL, NULL), -EINVAL);
		cr_assert_eq(weft_pool_destroy(p), 0);
		cr_expect_eq(n, 0);
	}
}

/* Runs behind a gate, then submits a child from its worker after the
 * pool started shutting down. */
struct drainer {
	struct unit_gate gate;
	int submit_rc, then_rc, shutdown_rc;
	_Atomic int child_ran, then_ran;
	weft_future *child;
};

static void *child_task(void *arg)
{
	atomic_fetch_add(&((struct drainer *)arg)->child_ran, 1);
	return arg;
}

static void *then_task(weft_future *a, void *ctx)
{
	(void)a;
	atomic_fetch_add(&((struct drainer *)ctx)->then_ran, 1);
	return ctx;
}

static void *drain_task(void *arg)
{
	struct drainer *d = arg;
	unit_gate_task(&d->gate);
	d->submit_rc = weft_submit(weft_current_pool(), child_task, d,
				   &d->child);
	if (d->submit_rc)
		return NULL;
	/* The child is probably still pending; wait for it so that the
	 * next then() finds it done. */
	weft_future_get(d->child, NULL);
	d->then_rc = weft_future_then(d->child, then_task, d, 0, NULL);
	weft_future_release(d->child);
	return arg;
}

Test(shutdown, worker_submits_while_draining, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(1);
	static struct drainer d;
	weft_future *f;
	cr_assert_eq(weft_submit(p, drain_task, &d, &f), 0);
	cr_assert(unit_wait_for(&d.gate.entered, 1));
	cr_assert_eq(weft_pool_shutdown(p, 0), 0);
	cr_expect_eq(weft_submit(p, unit_identity, NULL, NULL), -ESHUTDOWN);
	unit_open(&d.gate);
	cr_assert_eq(weft_pool_destroy(p), 0);
	cr_expect_eq(d.submit_rc, 0, "a worker's submit while draining");
	cr_expect_eq(d.then_rc, 0, "a worker's then on a done future");
	cr_expect_eq(d.child_ran, 1);
	cr_expect_eq(d.then_ran, 1);
	cr_expect_eq(weft_future_state(f), WEFT_SUCCEEDED);
	weft_future_release(f);
}

static void *add_one(weft_future *a, void *ctx)
{
	(void)ctx;
	void *r = NULL;
	if (weft_future_get(a, &r))
		return weft_fail(EPROTO);
	return (void *)((uintptr_t)r + 1);
}

Test(shutdown, chains_finish_during_drain, .timeout = UNIT_TIMEOUT)
{
	for (unsigned workers = 1; workers <= 3; workers++) {
		weft_pool *p = unit_pool(workers);
		struct unit_gate g = {.result = (void *)(uintptr_t)0};
		weft_future *head = unit_block(p, &g);
		weft_future *prev = head;
		weft_future_retain(head);
		for (int i = 0; i < 50; i++) {
			weft_future *c;
			cr_assert_eq(weft_future_then(prev, add_one, NULL, 0,
						      &c),
				     0);
			weft_future_release(prev);
			prev = c;
		}
		cr_assert_eq(weft_pool_shutdown(p, 0), 0);
		/* On a pending future, then from outside is still accepted
		 * after shutdown: the chain is work of a running task. */
		for (int i = 0; i < 50; i++) {
			weft_future *c;
			cr_assert_eq(weft_future_then(prev, add_one, NULL,
						      WEFT_THEN_ON_SUCCESS,
						      &c),
				     0, "link %d", i);
			weft_future_release(prev);
			prev = c;
		}
		unit_open(&g);
		cr_assert_eq(weft_pool_shutdown(p, WEFT_SHUTDOWN_WAIT), 0);
		cr_expect(weft_future_done(prev),
			  "shutdown(WAIT) returned before the chain ended");
		void *r;
		cr_expect_eq(weft_future_get(prev, &r), 0);
		cr_expect_eq(r, (void *)(uintptr_t)100);
		weft_future_release(prev);
		weft_future_release(head);
		cr_assert_eq(weft_pool_destroy(p), 0);
	}
}

Test(shutdown, then_on_done_future_from_outside, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(2);
	weft_future *a;
	cr_assert_eq(weft_submit(p, unit_identity, NULL, &a), 0);
	cr_assert_eq(weft_future_get(a, NULL), 0);
	cr_assert_eq(weft_pool_shutdown(p, 0), 0);
	weft_future *sentinel = (weft_future *)(uintptr_t)0x42;
	weft_future *c = sentinel;
	cr_expect_eq(weft_future_then(a, add_one, NULL, 0, &c), -ESHUTDOWN);
	cr_expect_eq(c, sentinel);
	cr_expect_eq(weft_future_then(a, add_one, NULL, WEFT_THEN_ON_SUCCESS,
				      NULL),
		     -ESHUTDOWN);
	/* on_done needs no pool: it still runs at once. */
	_Atomic int calls = 0;
	cr_expect_eq(weft_future_on_done(a, count_cb, &calls), 0);
	cr_expect_eq(calls, 1);
	cr_assert_eq(weft_pool_destroy(p), 0);
	weft_future_release(a);
}

struct self_shutdown {
	unsigned flags;
	int rc;
	_Atomic int after_ran;
};

static void *shutdown_self(void *arg)
{
	struct self_shutdown *s = arg;
	s->rc = weft_pool_shutdown(weft_current_pool(), s->flags);
	return arg;
}

Test(shutdown, wait_from_worker_is_edeadlk, .timeout = UNIT_TIMEOUT)
{
	/* WAIT alone: EDEADLK, and shutdown has still started. */
	weft_pool *p = unit_pool(2);
	struct self_shutdown s = {.flags = WEFT_SHUTDOWN_WAIT};
	weft_future *f;
	cr_assert_eq(weft_submit(p, shutdown_self, &s, &f), 0);
	cr_assert_eq(weft_future_get(f, NULL), 0);
	cr_expect_eq(s.rc, -EDEADLK);
	cr_expect_eq(weft_submit(p, unit_identity, NULL, NULL), -ESHUTDOWN);
	weft_future_release(f);
	cr_assert_eq(weft_pool_destroy(p), 0);

	/* WAIT | CANCEL_PENDING: EDEADLK, and queued work is cancelled. */
	p = unit_pool(1);
	struct self_shutdown s2 = {.flags = WEFT_SHUTDOWN_WAIT |
					    WEFT_SHUTDOWN_CANCEL_PENDING};
	_Atomic int ran = 0;
	weft_future *later;
	cr_assert_eq(weft_submit(p, shutdown_self, &s2, &f), 0);
	cr_assert_eq(weft_submit(p, unit_count_task, &ran, &later), 0);
	cr_assert_eq(weft_future_get(f, NULL), 0);
	cr_expect_eq(s2.rc, -EDEADLK);
	cr_expect_eq(weft_future_get(later, NULL), -ECANCELED);
	cr_assert_eq(weft_pool_destroy(p), 0);
	cr_expect_eq(ran, 0);
	weft_future_release(f);
	weft_future_release(later);

	/* Without WAIT, from a worker: fine. */
	p = unit_pool(1);
	struct self_shutdown s3 = {.flags = 0};
	cr_assert_eq(weft_submit(p, shutdown_self, &s3, &f), 0);
	cr_assert_eq(weft_future_get(f, NULL), 0);
	cr_expect_eq(s3.rc, 0);
	weft_future_release(f);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

static void *shutdown_other(void *arg)
{
	return (void *)(intptr_t)weft_pool_shutdown(arg, WEFT_SHUTDOWN_WAIT);
}

Test(shutdown, wait_from_other_pools_worker, .timeout = UNIT_TIMEOUT)
{
	weft_pool *a = unit_pool(1), *b = unit_pool(2);
	weft_future *f;
	cr_assert_eq(weft_submit(a, shutdown_other, b, &f), 0);
	void *r;
	cr_assert_eq(weft_future_get(f, &r), 0);
	cr_expect_eq((int)(intptr_t)r, 0);
	weft_future_release(f);
	cr_assert_eq(weft_pool_destroy(b), 0);
	cr_assert_eq(weft_pool_destroy(a), 0);
}

struct stop_log {
	_Atomic int stops;
};

static void count_stop(unsigned index, void *ctx)
{
	(void)index;
	atomic_fetch_add(&((struct stop_log *)ctx)->stops, 1);
}

Test(shutdown, idempotent_and_flags_add_up, .timeout = UNIT_TIMEOUT)
{
	static struct stop_log log;
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = 1;
	cfg.on_worker_stop = count_stop;
	cfg.hook_ctx = &log;
	weft_pool *p;
	cr_assert_eq(weft_pool_create(&p, &cfg), 0);
	struct unit_gate g = {0};
	weft_future *blocker = unit_block(p, &g);
	enum { N = 50 };
	_Atomic int ran = 0, callbacks = 0;
	weft_future *f[N];
	for (int i = 0; i < N; i++) {
		cr_assert_eq(weft_submit(p, unit_count_task, &ran, &f[i]), 0);
		cr_assert_eq(weft_future_on_done(f[i], count_cb, &callbacks),
			     0);
	}
	cr_expect_eq(weft_pool_shutdown(p, 0), 0);
	cr_expect_eq(weft_pool_shutdown(p, 0), 0);
	for (int i = 0; i < N; i++)
		cr_expect_eq(weft_future_state(f[i]), WEFT_PENDING);
	/* A later call adds CANCEL_PENDING. */
	cr_expect_eq(weft_pool_shutdown(p, WEFT_SHUTDOWN_CANCEL_PENDING), 0);
	for (int i = 0; i < N; i++)
		cr_expect_eq(weft_future_state(f[i]), WEFT_CANCELLED,
			     "task %d", i);
	cr_expect_eq(callbacks, N);
	cr_expect_eq(weft_pool_shutdown(p, WEFT_SHUTDOWN_CANCEL_PENDING), 0);
	cr_expect_eq(log.stops, 0, "workers exited with a task running");
	unit_open(&g);
	/* And WAIT: when it returns the workers have exited. */
	cr_expect_eq(weft_pool_shutdown(p, WEFT_SHUTDOWN_WAIT), 0);
	cr_expect_eq(log.stops, 1);
	cr_expect_eq(weft_future_state(blocker), WEFT_SUCCEEDED);
	cr_expect_eq(weft_pool_shutdown(p, WEFT_SHUTDOWN_WAIT), 0);
	cr_expect_eq(weft_pool_shutdown(p, WEFT_SHUTDOWN_WAIT |
						   WEFT_SHUTDOWN_CANCEL_PENDING),
		     0);
	cr_assert_eq(weft_pool_destroy(p), 0);
	cr_expect_eq(ran, 0);
	cr_expect_eq(callbacks, N);
	for (int i = 0; i < N; i++)
		weft_future_release(f[i]);
	weft_future_release(blocker);
}

struct cancel_log {
	_Atomic int calls;
	_Atomic int wrong_thread;
	_Atomic int wrong_state;
	pthread_t expected;
};

static void cancel_cb(weft_future *f, void *ctx)
{
	struct cancel_log *log = ctx;
	if (!pthread_equal(pthread_self(), log->expected))
		atomic_fetch_add(&log->wrong_thread, 1);
	if (weft_future_state(f) != WEFT_CANCELLED)
		atomic_fetch_add(&log->wrong_state, 1);
	atomic_fetch_add(&log->calls, 1);
}

/* 1 worker blocked, 100 tasks queued from outside: shutdown(CANCEL_PENDING)
 * cancels all of them before it returns, on the calling thread. */
Test(shutdown, cancel_pending_injected, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(1);
	struct unit_gate g = {.result = &g};
	weft_future *blocker = unit_block(p, &g);
	enum { N = 100 };
	static struct cancel_log log;
	log.expected = pthread_self();
	_Atomic int ran = 0;
	weft_future *f[N];
	for (int i = 0; i < N; i++) {
		cr_assert_eq(weft_submit(p, unit_count_task, &ran, &f[i]), 0);
		cr_assert_eq(weft_future_on_done(f[i], cancel_cb, &log), 0);
	}
	cr_assert_eq(weft_pool_shutdown(p, WEFT_SHUTDOWN_CANCEL_PENDING), 0);
	cr_expect_eq(log.calls, N, "callbacks ran before shutdown returned");
	cr_expect_eq(log.wrong_thread, 0);
	cr_expect_eq(log.wrong_state, 0);
	for (int i = 0; i < N; i++) {
		cr_expect_eq(weft_future_state(f[i]), WEFT_CANCELLED,
			     "task %d", i);
		cr_expect_eq(weft_future_get(f[i], NULL), -ECANCELED);
	}
	cr_expect_eq(weft_future_state(blocker), WEFT_RUNNING,
		     "a running task is not cancelled");
	unit_open(&g);
	void *r;
	cr_expect_eq(weft_future_get(blocker, &r), 0);
	cr_expect_eq(r, &g);
	cr_assert_eq(weft_pool_destroy(p), 0);
	cr_expect_eq(ran, 0);
	cr_expect_eq(log.calls, N);
	for (int i = 0; i < N; i++)
		weft_future_release(f[i]);
	weft_future_release(blocker);
}

/* Tasks in the blocked worker's own deque (submitted by the running task)
 * and continuations registered on them: the worker cancels them as it
 * reaches them once unblocked (weft.h), so none of them runs and every
 * callback does. */
struct spawner {
	struct unit_gate gate;
	_Atomic int ran;
	_Atomic int then_ran;
	_Atomic int callbacks;
	weft_future *f[100];
	weft_future *c[100];
	int rc;
	_Atomic int spawned;
};

static void spawned_cb(weft_future *f, void *ctx)
{
	struct spawner *s = ctx;
	if (weft_future_state(f) == WEFT_CANCELLED)
		atomic_fetch_add(&s->callbacks, 1);
}

static void *spawned_then(weft_future *a, void *ctx)
{
	(void)a;
	atomic_fetch_add(&((struct spawner *)ctx)->then_ran, 1);
	return NULL;
}

static void *spawn_then_block(void *arg)
{
	struct spawner *s = arg;
	weft_pool *p = weft_current_pool();
	for (int i = 0; i < 100 && !s->rc; i++) {
		s->rc = weft_submit(p, unit_count_task, &s->ran, &s->f[i]);
		if (!s->rc)
			s->rc = weft_future_on_done(s->f[i], spawned_cb, s);
		if (!s->rc)
			s->rc = weft_future_then(s->f[i], spawned_then, s, 0,
						 &s->c[i]);
	}
	atomic_store(&s->spawned, 1);
	return unit_gate_task(&s->gate);
}

Test(shutdown, cancel_pending_in_worker_deque, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(1);
	static struct spawner s;
	weft_future *f;
	cr_assert_eq(weft_submit(p, spawn_then_block, &s, &f), 0);
	cr_assert(unit_wait_for(&s.gate.entered, 1));
	cr_assert_eq(s.rc, 0);
	cr_assert_eq(weft_pool_shutdown(p, WEFT_SHUTDOWN_CANCEL_PENDING), 0);
	unit_open(&s.gate);
	cr_assert_eq(weft_pool_destroy(p), 0);
	cr_expect_eq(s.ran, 0, "%d queued tasks ran after CANCEL_PENDING",
		     s.ran);
	cr_expect_eq(s.then_ran, 0);
	cr_expect_eq(s.callbacks, 100);
	for (int i = 0; i < 100; i++) {
		cr_expect_eq(weft_future_state(s.f[i]), WEFT_CANCELLED);
		cr_expect_eq(weft_future_state(s.c[i]), WEFT_CANCELLED);
		weft_future_release(s.f[i]);
		weft_future_release(s.c[i]);
	}
	cr_expect_eq(weft_future_state(f), WEFT_SUCCEEDED);
	weft_future_release(f);
}

/* CANCEL_PENDING applies to tasks queued later, too: a running task's
 * submission is accepted and completes as cancelled. */
struct late {
	struct unit_gate gate;
	int rc;
	weft_future *child;
	_Atomic int child_ran;
};

static void *submit_after_gate(void *arg)
{
	struct late *l = arg;
	unit_gate_task(&l->gate);
	l->rc = weft_submit(weft_current_pool(), unit_count_task,
			    &l->child_ran, &l->child);
	return arg;
}

Test(shutdown, cancel_pending_applies_later, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(2);
	static struct late l;
	weft_future *f;
	cr_assert_eq(weft_submit(p, submit_after_gate, &l, &f), 0);
	cr_assert(unit_wait_for(&l.gate.entered, 1));
	cr_assert_eq(weft_pool_shutdown(p, WEFT_SHUTDOWN_CANCEL_PENDING), 0);
	unit_open(&l.gate);
	cr_assert_eq(weft_future_get(f, NULL), 0);
	cr_assert_eq(l.rc, 0, "a worker's submit is accepted while draining");
	cr_expect_eq(weft_future_get(l.child, NULL), -ECANCELED);
	cr_assert_eq(weft_pool_destroy(p), 0);
	cr_expect_eq(l.child_ran, 0);
	weft_future_release(l.child);
	weft_future_release(f);
}

Test(shutdown, wait_drains_everything, .timeout = UNIT_TIMEOUT)
{
	static struct stop_log log;
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = 3;
	cfg.on_worker_stop = count_stop;
	cfg.hook_ctx = &log;
	weft_pool *p;
	cr_assert_eq(weft_pool_create(&p, &cfg), 0);
	_Atomic int n = 0;
	for (int i = 0; i < 5000; i++)
		cr_assert_eq(weft_submit(p, unit_count_task, &n, NULL), 0);
	cr_assert_eq(weft_pool_shutdown(p, WEFT_SHUTDOWN_WAIT), 0);
	cr_expect_eq(n, 5000);
	cr_expect_eq(log.stops, 3);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/* The stats count tasks that shutdown(CANCEL_PENDING) cancelled. */
Test(shutdown, stats_count_shutdown_cancellations, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(1);
	struct unit_gate g = {0};
	weft_future *blocker = unit_block(p, &g);
	for (int i = 0; i < 30; i++)
		cr_assert_eq(weft_submit(p, unit_identity, NULL, NULL), 0);
	cr_assert_eq(weft_pool_shutdown(p, WEFT_SHUTDOWN_CANCEL_PENDING), 0);
	unit_open(&g);
	cr_assert_eq(weft_pool_shutdown(p, WEFT_SHUTDOWN_WAIT), 0);
	weft_stats st;
	cr_assert_eq(weft_pool_stats(p, &st), 0);
	cr_expect_eq(st.executed, 1);
	cr_expect_eq(st.cancelled, 30, "cancelled %llu",
		     (unsigned long long)st.cancelled);
	cr_expect_eq(st.submitted, 31, "submitted %llu",
		     (unsigned long long)st.submitted);
	weft_future_release(blocker);
	cr_assert_eq(weft_pool_destroy(p), 0);
}
