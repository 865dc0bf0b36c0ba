/*
 * The CPython bugs weft must not have, each as a test of weft's own
 * behaviour:
 *
 *   cpython#92001 (also #87893, #109934): a future cancelled by cancel()
 *     or by shutdown(cancel_futures=True) is done, yet wait() reports it
 *     not done and as_completed() hangs on it.
 *   cpython#83371: a callback that misbehaves kills the thread that runs
 *     callbacks, and later get()/join() hang. In weft, callbacks that
 *     cancel, submit, register callbacks, poll other futures, or call
 *     weft_fail() must leave the pool running and lose nothing.
 *   cpython#101586: imap() consumes its input without bound. A pipeline's
 *     capacity must bound the items inside it, so a fast producer blocks.
 */
#include "unit.h"

UNIT_SUITE(cpython, .timeout = 240);

/*
 * cpython#92001
 */

struct bg_wait {
	weft_future **fs;
	size_t n;
	enum weft_return_when when;
	int rc;
	atomic_int done;
	pthread_t t;
};

static void *bg_wait_main(void *arg)
{
	struct bg_wait *w = arg;
	w->rc = weft_wait(w->fs, w->n, w->when, 10000 * MS);
	atomic_store(&w->done, 1);
	return NULL;
}

static void bg_wait_start(struct bg_wait *w, weft_future **fs, size_t n,
			  enum weft_return_when when)
{
	w->fs = fs;
	w->n = n;
	w->when = when;
	w->rc = 1;
	atomic_init(&w->done, 0);
	cr_assert_eq(pthread_create(&w->t, NULL, bg_wait_main, w), 0);
}

struct bg_iter {
	weft_future **fs;
	size_t n;
	int yielded, cancelled, rc;
	atomic_int done;
	pthread_t t;
};

static void *bg_iter_main(void *arg)
{
	struct bg_iter *b = arg;
	weft_as_completed *it;
	b->rc = weft_as_completed_create(b->fs, b->n, 10000 * MS, &it);
	if (b->rc) {
		atomic_store(&b->done, 1);
		return NULL;
	}
	weft_future *out;
	while ((b->rc = weft_as_completed_next(it, &out)) == 1) {
		b->yielded++;
		b->cancelled += weft_future_state(out) == WEFT_CANCELLED;
	}
	weft_as_completed_destroy(it);
	atomic_store(&b->done, 1);
	return NULL;
}

static void bg_iter_start(struct bg_iter *b, weft_future **fs, size_t n)
{
	b->fs = fs;
	b->n = n;
	b->yielded = b->cancelled = 0;
	b->rc = 1;
	atomic_init(&b->done, 0);
	cr_assert_eq(pthread_create(&b->t, NULL, bg_iter_main, b), 0);
}

Test(cpython, gh92001_cancelled_before_wait_and_as_completed)
{
	enum { N = 8 };
	struct blocked b;
	blocked_start(&b);
	struct job j[N] = {0};
	weft_future *fs[N];
	for (int i = 0; i < N; i++) {
		fs[i] = blocked_pending(&b, &j[i]);
		cr_expect(weft_future_cancel(fs[i]));
	}
	cr_expect_eq(weft_wait(fs, N, WEFT_ALL_COMPLETED, 0), 0,
		     "cancelled futures reported not done");
	cr_expect_eq(weft_wait(fs, N, WEFT_FIRST_COMPLETED, 0), 0);
	cr_expect_eq(weft_wait(fs, N, WEFT_FIRST_FAILED, 0), 0);
	weft_as_completed *it;
	cr_assert_eq(weft_as_completed_create(fs, N, 0, &it), 0);
	weft_future *out;
	for (int i = 0; i < N; i++)
		cr_expect_eq(weft_as_completed_next(it, &out), 1);
	cr_expect_eq(weft_as_completed_next(it, &out), 0);
	weft_as_completed_destroy(it);
	blocked_stop(&b);
	release_all(fs, N);
}

Test(cpython, gh92001_cancel_wakes_waiters_and_as_completed)
{
	enum { N = 6 };
	struct blocked b;
	blocked_start(&b);
	struct job j[N] = {0};
	weft_future *fs[N];
	for (int i = 0; i < N; i++)
		fs[i] = blocked_pending(&b, &j[i]);
	struct bg_wait all, first, failed;
	struct bg_iter iter;
	bg_wait_start(&all, fs, N, WEFT_ALL_COMPLETED);
	bg_wait_start(&first, fs, N, WEFT_FIRST_COMPLETED);
	bg_wait_start(&failed, fs, N, WEFT_FIRST_FAILED);
	bg_iter_start(&iter, fs, N);
	sleep_ms(30); /* let them block */
	cr_expect(weft_future_cancel(fs[3]));
	pthread_join(first.t, NULL);
	cr_expect_eq(first.rc, 0);
	for (int i = 0; i < N; i++)
		if (i != 3)
			cr_expect(weft_future_cancel(fs[i]));
	pthread_join(all.t, NULL);
	pthread_join(failed.t, NULL);
	pthread_join(iter.t, NULL);
	cr_expect_eq(all.rc, 0, "wait(ALL) did not see the cancellations");
	cr_expect_eq(failed.rc, 0);
	cr_expect_eq(iter.rc, 0, "as_completed ended with %d", iter.rc);
	cr_expect_eq(iter.yielded, N);
	cr_expect_eq(iter.cancelled, N);
	/* The worker is still held: only the cancellations completed them. */
	cr_expect_eq(weft_future_state(b.f), WEFT_RUNNING);
	blocked_stop(&b);
	release_all(fs, N);
}

/* Follow-up work queued after shutdown(CANCEL_PENDING) started is
 * cancelled too, and its waiters wake. */
struct late_spawner {
	weft_pool *p;
	struct gate *go;
	weft_future *follow[4];
	atomic_int spawned;
};

static void *nop_fn(void *arg)
{
	return arg;
}

static void *late_spawner_fn(void *arg)
{
	struct late_spawner *ls = arg;
	gate_wait(ls->go);
	for (int i = 0; i < 4; i++)
		if (weft_submit(ls->p, nop_fn, NULL, &ls->follow[i]))
			return weft_fail(EFAULT);
	atomic_store(&ls->spawned, 1);
	return NULL;
}

Test(cpython, gh92001_shutdown_cancel_pending_wakes_waiters)
{
	enum { N = 20 };
	weft_pool *p = make_pool(1);
	struct gate go = {0};
	struct late_spawner ls = {.p = p, .go = &go};
	weft_future *holder;
	cr_assert_eq(weft_submit(p, late_spawner_fn, &ls, &holder), 0);
	while (weft_future_state(holder) != WEFT_RUNNING)
		sleep_us(50);
	struct job j[N] = {0};
	weft_future *fs[N];
	for (int i = 0; i < N; i++)
		fs[i] = submit_job(p, &j[i]);

	struct bg_wait all, first;
	struct bg_iter iter;
	bg_wait_start(&all, fs, N, WEFT_ALL_COMPLETED);
	bg_wait_start(&first, fs, N, WEFT_FIRST_COMPLETED);
	bg_iter_start(&iter, fs, N);
	sleep_ms(30);
	cr_assert_eq(weft_pool_shutdown(p, WEFT_SHUTDOWN_CANCEL_PENDING), 0);
	/* The only worker is still held, so nothing ran: the waiters wake
	 * on the cancellations alone. */
	pthread_join(all.t, NULL);
	pthread_join(first.t, NULL);
	pthread_join(iter.t, NULL);
	cr_expect_eq(all.rc, 0, "wait(ALL) hung on futures cancelled by "
				"shutdown");
	cr_expect_eq(first.rc, 0);
	cr_expect_eq(iter.rc, 0);
	cr_expect_eq(iter.yielded, N);
	cr_expect_eq(iter.cancelled, N);
	for (int i = 0; i < N; i++)
		cr_expect_eq(weft_future_state(fs[i]), WEFT_CANCELLED);
	cr_expect_eq(weft_future_state(holder), WEFT_RUNNING);

	/* Work queued by the running task after the shutdown. */
	gate_open(&go);
	while (!atomic_load(&ls.spawned) && !weft_future_done(holder))
		sleep_us(50);
	cr_assert_eq(weft_future_get(holder, NULL), 0);
	struct bg_wait late;
	struct bg_iter late_iter;
	bg_wait_start(&late, ls.follow, 4, WEFT_ALL_COMPLETED);
	bg_iter_start(&late_iter, ls.follow, 4);
	pthread_join(late.t, NULL);
	pthread_join(late_iter.t, NULL);
	cr_expect_eq(late.rc, 0);
	cr_expect_eq(late_iter.rc, 0);
	cr_expect_eq(late_iter.yielded, 4);
	for (int i = 0; i < 4; i++)
		cr_expect_eq(weft_future_state(ls.follow[i]), WEFT_CANCELLED);
	cr_expect_eq(weft_pool_destroy(p), 0);
	for (int i = 0; i < N; i++)
		cr_expect_eq(atomic_load(&j[i].ran), 0);
	release_all(ls.follow, 4);
	release_all(fs, N);
	weft_future_release(holder);
}

/*
 * cpython#83371
 */

struct rowdy {
	weft_pool *p;       /* keeps running */
	weft_future *victims[3]; /* pending, cancelled by the callback */
	weft_future *pending;    /* polled with timeout 0 */
	weft_future *done;       /* read, and registered on */
	weft_future *later;      /* registered on; completes later */
	/* What the callback saw and did. */
	atomic_int runs, cancels_ok, submits_ok, polls_ok, at_once,
		late_cb, then_ok, spawned_ran, joins_ok, finished;
};

static void *spawned_fn(void *arg)
{
	struct rowdy *r = arg;
	atomic_fetch_add(&r->spawned_ran, 1);
	return NULL;
}

static void at_once_cb(weft_future *f, void *ctx)
{
	struct rowdy *r = ctx;
	(void)f;
	atomic_fetch_add(&r->at_once, 1);
}

static void late_cb(weft_future *f, void *ctx)
{
	struct rowdy *r = ctx;
	(void)f;
	atomic_fetch_add(&r->late_cb, 1);
}

static void *then_fn(weft_future *a, void *ctx)
{
	struct rowdy *r = ctx;
	if (weft_future_done(a))
		atomic_fetch_add(&r->then_ok, 1);
	return NULL;
}

/* Everything a callback is allowed to do, at once. */
static void rowdy_cb(weft_future *f, void *ctx)
{
	struct rowdy *r = ctx;
	(void)f;
	atomic_fetch_add(&r->runs, 1);
	for (int i = 0; i < 3; i++)
		if (weft_future_cancel(r->victims[i]))
			atomic_fetch_add(&r->cancels_ok, 1);
	for (int i = 0; i < 4; i++)
		if (weft_submit(r->p, spawned_fn, r, NULL) == 0)
			atomic_fetch_add(&r->submits_ok, 1);
	int before = atomic_load(&r->at_once);
	weft_future_on_done(r->done, at_once_cb, r);
	if (atomic_load(&r->at_once) == before + 1)
		atomic_fetch_add(&r->polls_ok, 1);
	weft_future_on_done(r->later, late_cb, r);
	if (weft_future_wait(r->pending, 0) == -ETIMEDOUT)
		atomic_fetch_add(&r->polls_ok, 1);
	weft_future *two[2] = {r->pending, r->done};
	if (weft_wait(two, 2, WEFT_ALL_COMPLETED, 0) == -ETIMEDOUT)
		atomic_fetch_add(&r->polls_ok, 1);
	if (weft_wait(two, 2, WEFT_FIRST_COMPLETED, 0) == 0)
		atomic_fetch_add(&r->polls_ok, 1);
	void *res = NULL;
	if (weft_future_get(r->done, &res) == 0 && res == (void *)r)
		atomic_fetch_add(&r->polls_ok, 1);
	if (weft_future_then(r->done, then_fn, r, 0, NULL) == 0)
		atomic_fetch_add(&r->submits_ok, 1);
	weft_future *all;
	if (weft_when_all(two, 2, &all) == 0) {
		atomic_fetch_add(&r->joins_ok, 1);
		weft_future_release(all);
	}
	weft_as_completed *it;
	if (weft_as_completed_create(two, 2, 0, &it) == 0) {
		weft_future *out;
		if (weft_as_completed_next(it, &out) == 1 && out == r->done &&
		    weft_as_completed_next(it, &out) == -ETIMEDOUT)
			atomic_fetch_add(&r->joins_ok, 1);
		weft_as_completed_destroy(it);
	}
	atomic_fetch_add(&r->finished, 1);
}

static void rowdy_setup(struct rowdy *r, weft_pool *p, struct blocked *b,
			struct job *jobs, struct job *done_job)
{
	memset(r, 0, sizeof(*r));
	r->p = p;
	for (int i = 0; i < 3; i++)
		r->victims[i] = blocked_pending(b, &jobs[i]);
	r->pending = blocked_pending(b, &jobs[3]);
	r->later = blocked_pending(b, &jobs[4]);
	*done_job = (struct job){.result = r};
	r->done = done_future(p, done_job);
}

static void rowdy_check(struct rowdy *r, int runs)
{
	cr_expect_eq(atomic_load(&r->runs), runs);
	cr_expect_eq(atomic_load(&r->cancels_ok), 3 * runs);
	cr_expect_eq(atomic_load(&r->submits_ok), 5 * runs);
	cr_expect_eq(atomic_load(&r->polls_ok), 5 * runs);
	cr_expect_eq(atomic_load(&r->joins_ok), 2 * runs);
	for (int i = 0; i < 3; i++)
		cr_expect_eq(weft_future_state(r->victims[i]), WEFT_CANCELLED);
}

static void rowdy_teardown(struct rowdy *r)
{
	release_all(r->victims, 3);
	weft_future_release(r->pending);
	weft_future_release(r->later);
	weft_future_release(r->done);
}

/* The pool still runs a burst of tasks, all of them. */
static void expect_pool_alive(weft_pool *p)
{
	enum { N = 1000 };
	static weft_future *fs[N];
	for (int i = 0; i < N; i++)
		cr_assert_eq(weft_submit(p, nop_fn, (void *)(intptr_t)i, &fs[i]),
			     0);
	cr_expect_eq(weft_wait(fs, N, WEFT_ALL_COMPLETED, 10000 * MS), 0,
		     "the pool stopped running tasks after the callbacks");
	for (int i = 0; i < N; i++) {
		void *r = NULL;
		cr_expect_eq(weft_future_get(fs[i], &r), 0);
		cr_expect_eq(r, (void *)(intptr_t)i);
	}
	release_all(fs, N);
}

static void wait_count(atomic_int *c, int want)
{
	int64_t until = now_ns() + 10000 * MS;
	while (atomic_load(c) < want && now_ns() < until)
		sleep_us(100);
	cr_expect_eq(atomic_load(c), want);
}

Test(cpython, gh83371_callback_on_a_worker)
{
	weft_pool *p = make_pool(2);
	struct blocked b;
	blocked_start(&b);
	struct job jobs[5] = {0}, dj;
	struct rowdy r;
	rowdy_setup(&r, p, &b, jobs, &dj);
	struct gate g = {0};
	struct job tj = {.gate = &g};
	weft_future *trigger = submit_job(p, &tj);
	cr_assert_eq(weft_future_on_done(trigger, rowdy_cb, &r), 0);
	gate_open(&g); /* completes on a worker, which runs rowdy_cb */
	await_done(trigger);
	wait_count(&r.finished, 1);
	rowdy_check(&r, 1);
	wait_count(&r.spawned_ran, 4);
	wait_count(&r.then_ok, 1);
	expect_pool_alive(p);
	blocked_stop(&b);
	wait_count(&r.late_cb, 1);
	weft_future_release(trigger);
	rowdy_teardown(&r);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(cpython, gh83371_callback_on_a_cancelling_thread)
{
	weft_pool *p = make_pool(2);
	struct blocked b;
	blocked_start(&b);
	struct job jobs[5] = {0}, dj, tj = {0};
	struct rowdy r;
	rowdy_setup(&r, p, &b, jobs, &dj);
	weft_future *trigger = blocked_pending(&b, &tj);
	cr_assert_eq(weft_future_on_done(trigger, rowdy_cb, &r), 0);
	cr_expect(weft_future_cancel(trigger)); /* runs rowdy_cb here */
	cr_expect_eq(atomic_load(&r.runs), 1);
	rowdy_check(&r, 1);
	wait_count(&r.spawned_ran, 4);
	wait_count(&r.then_ok, 1);
	expect_pool_alive(p);
	blocked_stop(&b);
	wait_count(&r.late_cb, 1);
	weft_future_release(trigger);
	rowdy_teardown(&r);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/* Many callbacks at once, from both workers, each submitting work and
 * registering more callbacks: nothing is lost. */
struct swarm {
	weft_pool *p;
	atomic_int cb, spawned, chained;
};

static void *swarm_leaf(void *arg)
{
	struct swarm *s = arg;
	atomic_fetch_add(&s->spawned, 1);
	return NULL;
}

static void swarm_chain_cb(weft_future *f, void *ctx)
{
	struct swarm *s = ctx;
	(void)f;
	atomic_fetch_add(&s->chained, 1);
}

static void swarm_cb(weft_future *f, void *ctx)
{
	struct swarm *s = ctx;
	atomic_fetch_add(&s->cb, 1);
	weft_future *g;
	if (weft_submit(s->p, swarm_leaf, s, &g) == 0) {
		weft_future_on_done(g, swarm_chain_cb, s);
		weft_future_release(g);
	}
	weft_future_on_done(f, swarm_chain_cb, s); /* f is done: at once */
	(void)weft_future_wait(f, 0);
}

Test(cpython, gh83371_many_callbacks_nothing_lost)
{
	enum { N = 5000 };
	weft_pool *p = make_pool(2);
	struct swarm s = {.p = p};
	static weft_future *fs[N];
	for (int i = 0; i < N; i++) {
		cr_assert_eq(weft_submit(p, nop_fn, NULL, &fs[i]), 0);
		cr_assert_eq(weft_future_on_done(fs[i], swarm_cb, &s), 0);
	}
	cr_expect_eq(weft_wait(fs, N, WEFT_ALL_COMPLETED, 10000 * MS), 0);
	wait_count(&s.cb, N);
	wait_count(&s.spawned, N);
	wait_count(&s.chained, 2 * N);
	expect_pool_alive(p);
	release_all(fs, N);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/*
 * weft_fail() outside a task "has no effect": called from a callback, it
 * must not change the outcome of any task, including a task that was
 * running the callback's future because it helped while it waited.
 */
static void failing_cb(weft_future *f, void *ctx)
{
	(void)f;
	(void)ctx;
	(void)weft_fail(EIO);
}

struct helper_task {
	weft_pool *p;
	int inner_rc;
};

static void *helping_fn(void *arg)
{
	struct helper_task *h = arg;
	weft_future *inner;
	if (weft_submit(h->p, nop_fn, NULL, &inner))
		return weft_fail(EFAULT);
	weft_future_on_done(inner, failing_cb, NULL);
	/* One worker: waiting runs inner here, and its callback with it. */
	h->inner_rc = weft_future_get(inner, NULL);
	weft_future_release(inner);
	return (void *)h;
}

/* A task cancels a future: its callbacks run inside the task's body. */
static void *cancelling_fn(void *arg)
{
	weft_future_cancel(arg);
	return arg;
}

Test(cpython, gh83371_weft_fail_in_a_callback_changes_nothing)
{
	weft_pool *p = make_pool(1);
	/* Top level: the callback runs on the worker after its task. */
	weft_future *f;
	cr_assert_eq(weft_submit(p, nop_fn, NULL, &f), 0);
	cr_assert_eq(weft_future_on_done(f, failing_cb, NULL), 0);
	cr_expect_eq(weft_future_get(f, NULL), 0);
	weft_future_release(f);

	/* Nested: the callback runs while another task waits. */
	struct helper_task h = {.p = p, .inner_rc = 1};
	cr_assert_eq(weft_submit(p, helping_fn, &h, &f), 0);
	void *r = NULL;
	int rc = weft_future_get(f, &r);
	cr_expect_eq(rc, 0,
		     "a task failed with %d because a callback it ran while "
		     "waiting called weft_fail()",
		     rc);
	cr_expect_eq(h.inner_rc, 0);
	weft_future_release(f);

	/* Cancelled by a task: the callback runs inside that task. */
	struct blocked b;
	blocked_start(&b);
	struct job vj = {0};
	weft_future *victim = blocked_pending(&b, &vj);
	cr_assert_eq(weft_future_on_done(victim, failing_cb, NULL), 0);
	cr_assert_eq(weft_submit(p, cancelling_fn, victim, &f), 0);
	rc = weft_future_get(f, &r);
	cr_expect_eq(rc, 0, "a task failed with %d because it cancelled a "
			    "future whose callback called weft_fail()",
		     rc);
	cr_expect_eq(weft_future_state(victim), WEFT_CANCELLED);
	weft_future_release(f);
	blocked_stop(&b);
	weft_future_release(victim);
	expect_pool_alive(p);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/*
 * cpython#101586: 1,000,000 items through a slow stage with capacity 16.
 *
 * The test counts, with one producer and one consumer:
 *   entering  before each push      pushed    after each push returned 0
 *   popping   before each pop       popped    after each pop returned 1
 * At any time, items inside (pushed, not popped) lie between
 *   low  = pushed - popping   (a pop started may not have taken one yet)
 *   high = entering - popped  (at most 2 more than inside: the push in
 *                              progress, the pop not yet counted)
 * Reading pushed before popping, and entering before popped, keeps each
 * sample on its side of the true count. low > capacity proves the bound
 * broken; high <= capacity + 2 is what a correct bound allows; high
 * reaching capacity shows the pipeline did fill. The stage samples on
 * every call, the producer after every push.
 */
struct flow {
	weft_pipeline *pl;
	long n;
	atomic_long entering, pushed, popping, popped;
	atomic_long max_low, max_high, stage_calls, waits;
};

static void raise_max(atomic_long *max, long v)
{
	long m = atomic_load(max);
	while (v > m && !atomic_compare_exchange_weak(max, &m, v))
		;
}

static void note_inside(struct flow *fl)
{
	long pushed = atomic_load(&fl->pushed);
	long low = pushed - atomic_load(&fl->popping);
	long entering = atomic_load(&fl->entering);
	long high = entering - atomic_load(&fl->popped);
	raise_max(&fl->max_low, low);
	raise_max(&fl->max_high, high);
}

static void *slow_stage(void *item, void *ctx)
{
	struct flow *fl = ctx;
	note_inside(fl);
	atomic_fetch_add_explicit(&fl->stage_calls, 1, memory_order_relaxed);
	/* Slow: about a microsecond of work per item. */
	for (int64_t until = now_ns() + 1000; now_ns() < until;)
		;
	return item;
}

static void *flow_producer(void *arg)
{
	struct flow *fl = arg;
	for (long i = 0; i < fl->n; i++) {
		atomic_fetch_add(&fl->entering, 1);
		int rc = weft_pipeline_push(fl->pl, (void *)(intptr_t)i, 0);
		if (rc == -ETIMEDOUT) {
			/* Full: the producer waits here, not a buffer. */
			atomic_fetch_add_explicit(&fl->waits, 1,
						  memory_order_relaxed);
			rc = weft_pipeline_push(fl->pl, (void *)(intptr_t)i,
						WEFT_FOREVER);
		}
		if (rc)
			break;
		atomic_fetch_add(&fl->pushed, 1);
		note_inside(fl);
	}
	weft_pipeline_close(fl->pl);
	return NULL;
}

Test(cpython, gh101586_capacity_bounds_memory, .timeout = 600)
{
	enum { CAP = 16 };
	weft_pool *p = make_pool(2);
	struct flow fl = {.n = 1000000};
	cr_assert_eq(weft_pipeline_create(p, CAP, 0, &fl.pl), 0);
	cr_assert_eq(weft_pipeline_stage(fl.pl, "slow", slow_stage, &fl, 0, 0),
		     0);
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, flow_producer, &fl), 0);
	void *item;
	int rc;
	long count = 0, sum_ok = 1;
	static unsigned char seen[1000000];
	for (;;) {
		atomic_fetch_add(&fl.popping, 1);
		rc = weft_pipeline_pop(fl.pl, &item, 10000 * MS);
		if (rc != 1)
			break;
		atomic_fetch_add(&fl.popped, 1);
		intptr_t v = (intptr_t)item;
		if (v < 0 || v >= fl.n || seen[v]++)
			sum_ok = 0;
		count++;
	}
	pthread_join(t, NULL);
	cr_expect_eq(rc, 0, "pop ended with %d", rc);
	cr_expect_eq(count, fl.n);
	cr_expect(sum_ok, "an item came out twice or was invented");
	long low = atomic_load(&fl.max_low), high = atomic_load(&fl.max_high);
	cr_log_info("gh101586: %ld items; inside at most: proven %ld, bound "
		    "%ld (capacity %d); producer blocked %ld times",
		    count, low, high, CAP, atomic_load(&fl.waits));
	cr_expect_leq(low, CAP, "at least %ld items inside a pipeline of "
				"capacity %d",
		      low, CAP);
	cr_expect_leq(high, CAP + 2, "up to %ld items inside a pipeline of "
				     "capacity %d",
		      high, CAP);
	cr_expect_geq(high, CAP, "the pipeline never filled: the test proves "
				 "nothing");
	cr_expect_gt(atomic_load(&fl.waits), 0, "the producer never waited");
	cr_expect_eq(atomic_load(&fl.stage_calls), fl.n);
	cr_expect_eq(weft_pipeline_destroy(fl.pl), 0);
	cr_assert_eq(weft_pool_destroy(p), 0);
}
