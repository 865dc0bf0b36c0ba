/*
 * weft_wait: Python's wait(fs, timeout, return_when).
 */
#include "unit.h"

UNIT_SUITE(wait, .timeout = 60);

Test(wait, n_zero_returns_at_once)
{
	weft_future *one = NULL;
	cr_expect_eq(weft_wait(NULL, 0, WEFT_FIRST_COMPLETED, WEFT_FOREVER), 0);
	cr_expect_eq(weft_wait(NULL, 0, WEFT_FIRST_FAILED, WEFT_FOREVER), 0);
	cr_expect_eq(weft_wait(NULL, 0, WEFT_ALL_COMPLETED, WEFT_FOREVER), 0);
	cr_expect_eq(weft_wait(&one, 0, WEFT_ALL_COMPLETED, 0), 0);
}

Test(wait, invalid_arguments)
{
	weft_pool *p = make_pool(1);
	struct job j = {0};
	weft_future *f = done_future(p, &j);
	weft_future *with_null[3] = {f, NULL, f};

	cr_expect_eq(weft_wait(NULL, 1, WEFT_ALL_COMPLETED, 0), -EINVAL);
	cr_expect_eq(weft_wait(with_null, 3, WEFT_ALL_COMPLETED, WEFT_FOREVER),
		     -EINVAL);
	cr_expect_eq(weft_wait(with_null, 3, WEFT_FIRST_COMPLETED, 0),
		     -EINVAL);
	cr_expect_eq(weft_wait(&f, 1, (enum weft_return_when)3, WEFT_FOREVER),
		     -EINVAL);
	cr_expect_eq(weft_wait(&f, 1, (enum weft_return_when)-1, 0), -EINVAL);
	cr_expect_eq(weft_wait(&f, 1, (enum weft_return_when)1000, 0),
		     -EINVAL);
	cr_expect_eq(weft_wait(&f, 1, WEFT_ALL_COMPLETED, -2), -EINVAL);
	cr_expect_eq(weft_wait(&f, 1, WEFT_ALL_COMPLETED, INT64_MIN), -EINVAL);
	/* The same call with valid arguments succeeds. */
	cr_expect_eq(weft_wait(&f, 1, WEFT_ALL_COMPLETED, 0), 0);
	weft_future_release(f);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(wait, first_completed)
{
	weft_pool *p = make_pool(2);
	struct gate g0 = {0}, g1 = {0};
	struct job j0 = {.gate = &g0}, j1 = {.gate = &g1};
	weft_future *fs[2] = {submit_job(p, &j0), submit_job(p, &j1)};

	cr_expect_eq(weft_wait(fs, 2, WEFT_FIRST_COMPLETED, 0), -ETIMEDOUT);
	struct later l;
	later_start(&l, 30, later_open_gate, &g1);
	cr_expect_eq(weft_wait(fs, 2, WEFT_FIRST_COMPLETED, 10000 * MS), 0);
	cr_expect(weft_future_done(fs[1]));
	cr_expect_not(weft_future_done(fs[0]),
		      "only the released job may be done");
	/* Already satisfied: returns at once, even with timeout 0. */
	cr_expect_eq(weft_wait(fs, 2, WEFT_FIRST_COMPLETED, 0), 0);
	later_join(&l);
	gate_open(&g0);
	release_all(fs, 2);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(wait, first_completed_counts_failure_and_cancellation)
{
	struct blocked b;
	blocked_start(&b);
	struct job j[2] = {0};
	weft_future *fs[2] = {blocked_pending(&b, &j[0]),
			      blocked_pending(&b, &j[1])};
	struct later l;
	later_start(&l, 30, later_cancel, fs[0]);
	cr_expect_eq(weft_wait(fs, 2, WEFT_FIRST_COMPLETED, 10000 * MS), 0);
	cr_expect_eq(weft_future_state(fs[0]), WEFT_CANCELLED);
	cr_expect_eq(weft_future_state(fs[1]), WEFT_PENDING);
	later_join(&l);
	blocked_stop(&b);
	release_all(fs, 2);

	weft_pool *p = make_pool(2);
	struct gate g = {0};
	struct job pend = {.gate = &g}, bad = {.fail = EIO};
	weft_future *gs[2] = {submit_job(p, &pend), done_future(p, &bad)};
	cr_expect_eq(weft_wait(gs, 2, WEFT_FIRST_COMPLETED, 0), 0);
	gate_open(&g);
	release_all(gs, 2);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(wait, first_failed_returns_at_a_failure)
{
	weft_pool *p = make_pool(3);
	struct gate g_ok = {0}, g_bad = {0};
	struct job ok = {.gate = &g_ok}, bad = {.gate = &g_bad, .fail = EIO};
	weft_future *fs[2] = {submit_job(p, &ok), submit_job(p, &bad)};

	cr_expect_eq(weft_wait(fs, 2, WEFT_FIRST_FAILED, 0), -ETIMEDOUT);
	struct later l;
	later_start(&l, 30, later_open_gate, &g_bad);
	cr_expect_eq(weft_wait(fs, 2, WEFT_FIRST_FAILED, 10000 * MS), 0);
	cr_expect_eq(weft_future_state(fs[1]), WEFT_FAILED);
	cr_expect_not(weft_future_done(fs[0]));
	later_join(&l);
	gate_open(&g_ok);
	release_all(fs, 2);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(wait, first_failed_ignores_success_and_cancellation)
{
	weft_pool *p = make_pool(2);
	struct blocked b;
	blocked_start(&b);
	struct gate g = {0};
	struct job ok = {0}, pend = {.gate = &g}, cj = {0};
	weft_future *fs[3] = {done_future(p, &ok), submit_job(p, &pend),
			      blocked_pending(&b, &cj)};
	cr_expect(weft_future_cancel(fs[2]));

	/* A success and a cancellation, one still running: not yet. */
	cr_expect_eq(weft_wait(fs, 3, WEFT_FIRST_FAILED, 0), -ETIMEDOUT);
	int64_t t0 = now_ns();
	cr_expect_eq(weft_wait(fs, 3, WEFT_FIRST_FAILED, 50 * MS), -ETIMEDOUT);
	cr_expect_geq(now_ns() - t0, 50 * MS);

	/* A cancellation while it waits does not end the wait either. */
	struct job cj2 = {0};
	weft_future *hs[2] = {submit_job(p, &(struct job){0}),
			      blocked_pending(&b, &cj2)};
	await_done(hs[0]);
	weft_future *ws[2] = {fs[1], hs[1]};
	struct later l;
	later_start(&l, 20, later_cancel, hs[1]);
	t0 = now_ns();
	cr_expect_eq(weft_wait(ws, 2, WEFT_FIRST_FAILED, 150 * MS),
		     -ETIMEDOUT);
	cr_expect_geq(now_ns() - t0, 150 * MS);
	cr_expect_eq(weft_future_state(hs[1]), WEFT_CANCELLED);
	later_join(&l);

	/* All done, none failed: returns. */
	struct later l2;
	later_start(&l2, 30, later_open_gate, &g);
	cr_expect_eq(weft_wait(fs, 3, WEFT_FIRST_FAILED, 10000 * MS), 0);
	cr_expect(weft_future_done(fs[1]));
	later_join(&l2);
	cr_expect_eq(weft_wait(fs, 3, WEFT_FIRST_FAILED, 0), 0);

	blocked_stop(&b);
	release_all(fs, 3);
	release_all(hs, 2);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(wait, first_failed_with_an_already_failed_future)
{
	weft_pool *p = make_pool(2);
	struct gate g = {0};
	struct job pend = {.gate = &g}, bad = {.fail = ENOSPC};
	weft_future *fs[2] = {submit_job(p, &pend), done_future(p, &bad)};
	cr_expect_eq(weft_wait(fs, 2, WEFT_FIRST_FAILED, 0), 0);
	cr_expect_eq(weft_wait(fs, 2, WEFT_FIRST_FAILED, WEFT_FOREVER), 0);
	cr_expect_not(weft_future_done(fs[0]));
	gate_open(&g);
	release_all(fs, 2);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(wait, all_completed_waits_for_every_future)
{
	weft_pool *p = make_pool(4);
	struct gate g[3] = {0};
	struct job j[3] = {{.gate = &g[0]},
			   {.gate = &g[1], .fail = EIO},
			   {.gate = &g[2]}};
	weft_future *fs[3];
	for (int i = 0; i < 3; i++)
		fs[i] = submit_job(p, &j[i]);

	gate_open(&g[0]);
	gate_open(&g[1]);
	await_done(fs[0]);
	await_done(fs[1]);
	cr_expect_eq(weft_wait(fs, 3, WEFT_ALL_COMPLETED, 0), -ETIMEDOUT);
	cr_expect_eq(weft_wait(fs, 3, WEFT_ALL_COMPLETED, 20 * MS), -ETIMEDOUT);
	struct later l;
	later_start(&l, 30, later_open_gate, &g[2]);
	cr_expect_eq(weft_wait(fs, 3, WEFT_ALL_COMPLETED, WEFT_FOREVER), 0);
	for (int i = 0; i < 3; i++)
		cr_expect(weft_future_done(fs[i]));
	later_join(&l);
	release_all(fs, 3);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(wait, all_completed_mixed_outcomes_and_cancelled)
{
	weft_pool *p = make_pool(2);
	struct blocked b;
	blocked_start(&b);
	struct job ok = {.result = &ok}, bad = {.fail = EPERM}, c1 = {0},
		   c2 = {0};
	weft_future *fs[4] = {done_future(p, &ok), done_future(p, &bad),
			      blocked_pending(&b, &c1),
			      blocked_pending(&b, &c2)};
	cr_expect(weft_future_cancel(fs[2]));
	cr_expect_eq(weft_wait(fs, 4, WEFT_ALL_COMPLETED, 0), -ETIMEDOUT);
	struct later l;
	later_start(&l, 30, later_cancel, fs[3]);
	cr_expect_eq(weft_wait(fs, 4, WEFT_ALL_COMPLETED, 10000 * MS), 0);
	cr_expect_eq(weft_future_state(fs[3]), WEFT_CANCELLED);
	later_join(&l);
	blocked_stop(&b);
	cr_expect_eq(atomic_load(&c1.ran) + atomic_load(&c2.ran), 0);
	release_all(fs, 4);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(wait, timeout_not_before_the_deadline)
{
	weft_pool *p = make_pool(1);
	struct gate g = {0};
	struct job j = {.gate = &g};
	weft_future *f = submit_job(p, &j);
	static const enum weft_return_when whens[] = {
		WEFT_FIRST_COMPLETED, WEFT_FIRST_FAILED, WEFT_ALL_COMPLETED};
	static const int64_t timeouts[] = {1 * MS, 20 * MS, 80 * MS};
	for (int w = 0; w < 3; w++) {
		for (int t = 0; t < 3; t++) {
			int64_t t0 = now_ns();
			cr_expect_eq(weft_wait(&f, 1, whens[w], timeouts[t]),
				     -ETIMEDOUT);
			int64_t took = now_ns() - t0;
			cr_expect_geq(took, timeouts[t],
				      "when %d returned after %lld ns, "
				      "before its %lld ns timeout",
				      w, (long long)took,
				      (long long)timeouts[t]);
		}
	}
	gate_open(&g);
	weft_future_release(f);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(wait, timeout_zero_only_polls)
{
	weft_pool *p = make_pool(1);
	struct gate g = {0};
	struct job j = {.gate = &g}, d = {0};
	weft_future *fs[2] = {submit_job(p, &j), NULL};
	int64_t t0 = now_ns();
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(weft_wait(fs, 1, WEFT_ALL_COMPLETED, 0),
			     -ETIMEDOUT);
	/* 1000 polls: far below one sleep or spin period each. */
	cr_expect_lt(now_ns() - t0, 1000 * MS);
	gate_open(&g);
	await_done(fs[0]);
	fs[1] = done_future(p, &d);
	cr_expect_eq(weft_wait(fs, 2, WEFT_ALL_COMPLETED, 0), 0);
	release_all(fs, 2);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(wait, duplicates_count_once)
{
	weft_pool *p = make_pool(3);
	struct gate ga = {0}, gb = {0};
	struct job ja = {.gate = &ga}, jb = {.gate = &gb};
	weft_future *a = submit_job(p, &ja), *b = submit_job(p, &jb);

	/* Both pending when the wait starts: the waiting path (callbacks)
	 * must count a future listed three times once. */
	weft_future *fs[5] = {a, b, a, a, b};
	struct later la, lb;
	later_start(&la, 20, later_open_gate, &ga);
	later_start(&lb, 40, later_open_gate, &gb);
	cr_expect_eq(weft_wait(fs, 5, WEFT_ALL_COMPLETED, 10000 * MS), 0);
	cr_expect(weft_future_done(a) && weft_future_done(b));
	later_join(&la);
	later_join(&lb);

	/* Already done, listed twice. */
	weft_future *twice[2] = {a, a};
	cr_expect_eq(weft_wait(twice, 2, WEFT_ALL_COMPLETED, 0), 0);

	/* One done future listed twice does not stand for two. */
	struct gate gc = {0};
	struct job jc = {.gate = &gc};
	weft_future *c = submit_job(p, &jc);
	weft_future *ac[3] = {a, a, c};
	cr_expect_eq(weft_wait(ac, 3, WEFT_ALL_COMPLETED, 0), -ETIMEDOUT);
	cr_expect_eq(weft_wait(ac, 3, WEFT_ALL_COMPLETED, 20 * MS),
		     -ETIMEDOUT);

	/* A pending future listed twice with FIRST_FAILED, then success. */
	weft_future *cc[2] = {c, c};
	struct later lc;
	later_start(&lc, 20, later_open_gate, &gc);
	cr_expect_eq(weft_wait(cc, 2, WEFT_FIRST_FAILED, 10000 * MS), 0);
	cr_expect_eq(weft_wait(cc, 2, WEFT_FIRST_COMPLETED, 0), 0);
	later_join(&lc);

	weft_future_release(a);
	weft_future_release(b);
	weft_future_release(c);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(wait, duplicates_cancelled_while_waiting)
{
	struct blocked b;
	blocked_start(&b);
	struct job j = {0};
	weft_future *f = blocked_pending(&b, &j);
	weft_future *fs[3] = {f, f, f};
	struct later l;
	later_start(&l, 20, later_cancel, f);
	cr_expect_eq(weft_wait(fs, 3, WEFT_ALL_COMPLETED, 10000 * MS), 0);
	cr_expect_eq(weft_future_state(f), WEFT_CANCELLED);
	later_join(&l);
	blocked_stop(&b);
	weft_future_release(f);
}

/* A wait that timed out leaves callbacks on its futures; they are freed
 * when the futures complete (the ASan build checks the leak). */
Test(wait, timed_out_wait_leaves_nothing_behind)
{
	weft_pool *p = make_pool(2);
	struct gate g = {0};
	struct job j[4];
	weft_future *fs[4];
	for (int i = 0; i < 4; i++) {
		j[i] = (struct job){.gate = &g};
		fs[i] = submit_job(p, &j[i]);
	}
	for (int k = 0; k < 20; k++)
		cr_expect_eq(weft_wait(fs, 4, (enum weft_return_when)(k % 3),
				       1 * MS),
			     -ETIMEDOUT);
	/* The caller may drop its futures before they complete. */
	release_all(fs, 4);
	gate_open(&g);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/*
 * On a worker, wait runs other tasks: a task on a one-worker pool that
 * waits for tasks it submitted to the same pool must not deadlock.
 */
struct nested {
	weft_pool *p;
	enum weft_return_when when;
	atomic_int inner_ran;
};

static void *inner_fn(void *arg)
{
	struct nested *n = arg;
	atomic_fetch_add(&n->inner_ran, 1);
	return NULL;
}

static void *outer_fn(void *arg)
{
	struct nested *n = arg;
	weft_future *fs[8];
	int ok = 0;
	for (int i = 0; i < 8; i++)
		if (weft_submit(n->p, inner_fn, n, &fs[i]))
			return weft_fail(EFAULT);
	if (weft_wait(fs, 8, n->when, WEFT_FOREVER) == 0)
		ok = 1;
	int done = 0;
	for (int i = 0; i < 8; i++) {
		done += weft_future_done(fs[i]);
		weft_future_release(fs[i]);
	}
	if (!ok || done < 1 || (n->when == WEFT_ALL_COMPLETED && done != 8))
		return weft_fail(EPROTO);
	return NULL;
}

Test(wait, on_a_worker_runs_other_tasks)
{
	weft_pool *p = make_pool(1);
	static const enum weft_return_when whens[] = {
		WEFT_ALL_COMPLETED, WEFT_FIRST_COMPLETED, WEFT_FIRST_FAILED};
	for (int w = 0; w < 3; w++) {
		struct nested n = {.p = p, .when = whens[w]};
		weft_future *f;
		cr_assert_eq(weft_submit(p, outer_fn, &n, &f), 0);
		cr_expect_eq(weft_future_wait(f, 10000 * MS), 0,
			     "a waiting worker did not run the tasks it "
			     "waited for");
		cr_expect_eq(weft_future_get(f, NULL), 0);
		weft_future_release(f);
		/* Let the rest run before n goes out of scope. */
		while (atomic_load(&n.inner_ran) < 8)
			sleep_us(100);
	}
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/* Many concurrent waiters on the same futures all wake. */
struct waiter {
	weft_future **fs;
	size_t n;
	enum weft_return_when when;
	int rc;
	pthread_t t;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	w->rc = weft_wait(w->fs, w->n, w->when, 10000 * MS);
	return NULL;
}

Test(wait, several_waiters_all_wake)
{
	weft_pool *p = make_pool(2);
	struct gate g = {0};
	struct job j[3] = {{.gate = &g}, {.gate = &g}, {.gate = &g}};
	weft_future *fs[3];
	for (int i = 0; i < 3; i++)
		fs[i] = submit_job(p, &j[i]);
	struct waiter w[6];
	for (int i = 0; i < 6; i++) {
		w[i] = (struct waiter){.fs = fs, .n = 3, .rc = -1,
				       .when = (enum weft_return_when)(i % 3)};
		cr_assert_eq(pthread_create(&w[i].t, NULL, waiter_main, &w[i]),
			     0);
	}
	sleep_ms(30);
	gate_open(&g);
	for (int i = 0; i < 6; i++) {
		pthread_join(w[i].t, NULL);
		cr_expect_eq(w[i].rc, 0, "waiter %d", i);
	}
	release_all(fs, 3);
	cr_assert_eq(weft_pool_destroy(p), 0);
}
