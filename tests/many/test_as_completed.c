/*
 * weft_as_completed_*: Python's as_completed(fs, timeout), with add().
 */
#include "unit.h"

UNIT_SUITE(as_completed, .timeout = 60);

/* Takes the next future, which must be want. */
static void expect_next(weft_as_completed *it, weft_future *want)
{
	weft_future *got = NULL;
	int rc = weft_as_completed_next(it, &got);
	cr_expect_eq(rc, 1, "next returned %d (%s)", rc, weft_strerror(rc));
	cr_expect_eq(got, want, "yielded out of order");
}

static void expect_exhausted(weft_as_completed *it)
{
	weft_future *got = NULL;
	cr_expect_eq(weft_as_completed_next(it, &got), 0);
	cr_expect_eq(weft_as_completed_next(it, &got), 0);
}

Test(as_completed, invalid_arguments)
{
	weft_pool *p = make_pool(1);
	struct job j = {0};
	weft_future *f = done_future(p, &j);
	weft_future *with_null[2] = {f, NULL};
	weft_as_completed *it = (weft_as_completed *)&j;

	cr_expect_eq(weft_as_completed_create(&f, 1, WEFT_FOREVER, NULL),
		     -EINVAL);
	cr_expect_eq(weft_as_completed_create(NULL, 1, WEFT_FOREVER, &it),
		     -EINVAL);
	cr_expect_eq(weft_as_completed_create(with_null, 2, WEFT_FOREVER, &it),
		     -EINVAL);
	cr_expect_eq(weft_as_completed_create(&f, 1, -2, &it), -EINVAL);
	cr_expect_eq(it, (weft_as_completed *)&j, "*out written on an error");

	cr_assert_eq(weft_as_completed_create(&f, 1, WEFT_FOREVER, &it), 0);
	weft_future *out;
	cr_expect_eq(weft_as_completed_add(NULL, f), -EINVAL);
	cr_expect_eq(weft_as_completed_add(it, NULL), -EINVAL);
	cr_expect_eq(weft_as_completed_next(NULL, &out), -EINVAL);
	cr_expect_eq(weft_as_completed_next(it, NULL), -EINVAL);
	/* The iterator still works. */
	expect_next(it, f);
	expect_exhausted(it);
	weft_as_completed_destroy(it);
	weft_as_completed_destroy(NULL);
	weft_future_release(f);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(as_completed, empty_set)
{
	weft_as_completed *it;
	cr_assert_eq(weft_as_completed_create(NULL, 0, WEFT_FOREVER, &it), 0);
	expect_exhausted(it);
	weft_as_completed_destroy(it);

	/* With a deadline that passed: still 0, nothing is pending. */
	cr_assert_eq(weft_as_completed_create(NULL, 0, 0, &it), 0);
	sleep_ms(2);
	expect_exhausted(it);
	weft_as_completed_destroy(it);
}

Test(as_completed, already_done_first_then_completion_order)
{
	weft_pool *p = make_pool(4);
	struct gate g0 = {0}, g2 = {0};
	struct job j0 = {.gate = &g0}, j1 = {0}, j2 = {.gate = &g2},
		   j3 = {.fail = EIO};
	weft_future *fs[4] = {submit_job(p, &j0), done_future(p, &j1),
			      submit_job(p, &j2), done_future(p, &j3)};
	weft_as_completed *it;
	cr_assert_eq(weft_as_completed_create(fs, 4, WEFT_FOREVER, &it), 0);
	/* Completed after create, before the first next: still after the
	 * ones done at create. */
	gate_open(&g2);
	await_done(fs[2]);

	weft_future *a = NULL, *b = NULL;
	cr_assert_eq(weft_as_completed_next(it, &a), 1);
	cr_assert_eq(weft_as_completed_next(it, &b), 1);
	cr_expect((a == fs[1] && b == fs[3]) || (a == fs[3] && b == fs[1]),
		  "the futures done at create did not come first");
	expect_next(it, fs[2]);
	gate_open(&g0);
	expect_next(it, fs[0]);
	expect_exhausted(it);
	weft_as_completed_destroy(it);
	release_all(fs, 4);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/*
 * "Told": a callback registered on f after the iterator was created runs
 * after the iterator's own callback on f (the runtime's EARLY callbacks
 * first, then registration order). Once it has run, the iterator has
 * queued f. Waiting for f to be done is not enough: the final state is
 * published before any callback runs, so a waiter that spins can return
 * before f is queued, and a task it then lets finish can be queued first.
 */
struct told {
	atomic_bool up;
};

static void tell(weft_future *f, void *ctx)
{
	struct told *t = ctx;
	(void)f;
	/* release: pairs with the acquire in told_wait, so the iterator's
	 * enqueue (an earlier callback on this thread) happens before
	 * whatever the waiter does next. */
	atomic_store_explicit(&t->up, true, memory_order_release);
}

/* Waits up to timeout_ns for t; true if it came up. */
static bool told_wait(struct told *t, int64_t timeout_ns)
{
	int64_t until = now_ns() + timeout_ns;
	/* acquire: pairs with the release in tell. */
	while (!atomic_load_explicit(&t->up, memory_order_acquire)) {
		if (now_ns() > until)
			return false;
		sleep_us(50);
	}
	return true;
}

Test(as_completed, completion_order_of_gated_tasks)
{
	enum { N = 6 };
	static const int order[N] = {2, 0, 5, 3, 1, 4};
	weft_pool *p = make_pool(N);
	struct gate g[N] = {0};
	struct job j[N];
	struct told t[N] = {0};
	weft_future *fs[N];
	for (int i = 0; i < N; i++) {
		j[i] = (struct job){.gate = &g[i], .fail = i == 3 ? EIO : 0};
		fs[i] = submit_job(p, &j[i]);
	}
	weft_as_completed *it;
	cr_assert_eq(weft_as_completed_create(fs, N, WEFT_FOREVER, &it), 0);
	for (int i = 0; i < N; i++)
		cr_assert_eq(weft_future_on_done(fs[i], tell, &t[i]), 0);
	/* Each future is queued before the next one's task may finish. */
	for (int k = 0; k < N; k++) {
		gate_open(&g[order[k]]);
		cr_assert(told_wait(&t[order[k]], 10000 * MS),
			  "future %d was not done within 10 s", order[k]);
	}
	for (int k = 0; k < N; k++)
		expect_next(it, fs[order[k]]);
	expect_exhausted(it);
	weft_as_completed_destroy(it);
	release_all(fs, N);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/*
 * Completion order behind a slow callback: the iterator's callback on a
 * future runs before the callbacks the user registered on it, even those
 * registered first. Here the first callback the user registered on f0
 * opens f1's gate and returns only once f1 is done and told: an iterator
 * whose callback on f0 ran after it would queue f1 first.
 */
struct slow {
	struct gate *g1;
	struct told f1_told;
};

static void slow_cb(weft_future *f, void *ctx)
{
	struct slow *s = ctx;
	(void)f;
	gate_open(s->g1);
	/* Bounded: the test checks afterwards that f1 was told. */
	told_wait(&s->f1_told, 10000 * MS);
}

Test(as_completed, completion_order_behind_a_slow_callback)
{
	weft_pool *p = make_pool(2);
	struct gate g0 = {0}, g1 = {0};
	struct job j0 = {.gate = &g0}, j1 = {.gate = &g1};
	struct slow s = {.g1 = &g1};
	weft_future *fs[2] = {submit_job(p, &j0), submit_job(p, &j1)};
	/* Each job holds its own worker, so j1 can finish while slow_cb
	 * holds j0's. */
	await_started(&j0);
	await_started(&j1);
	cr_assert_eq(weft_future_on_done(fs[0], slow_cb, &s), 0);
	weft_as_completed *it;
	cr_assert_eq(weft_as_completed_create(fs, 2, WEFT_FOREVER, &it), 0);
	cr_assert_eq(weft_future_on_done(fs[1], tell, &s.f1_told), 0);
	gate_open(&g0);
	expect_next(it, fs[0]);
	expect_next(it, fs[1]);
	expect_exhausted(it);
	/* slow_cb gave up waiting for f1 if this fails. */
	cr_expect(told_wait(&s.f1_told, 10000 * MS),
		  "f1 was not told within 10 s");
	weft_as_completed_destroy(it);
	release_all(fs, 2);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/* The iterator blocks in next() while a helper completes the futures
 * one at a time in a known order. */
struct releaser {
	struct gate *g;
	weft_future **fs;
	const int *order;
	int n;
	pthread_t t;
};

static void *releaser_main(void *arg)
{
	struct releaser *r = arg;
	for (int k = 0; k < r->n; k++) {
		sleep_ms(5);
		gate_open(&r->g[r->order[k]]);
		weft_future_wait(r->fs[r->order[k]], WEFT_FOREVER);
	}
	return NULL;
}

Test(as_completed, next_waits_for_completions)
{
	enum { N = 5 };
	static const int order[N] = {4, 1, 3, 0, 2};
	weft_pool *p = make_pool(N);
	struct gate g[N] = {0};
	struct job j[N];
	weft_future *fs[N];
	for (int i = 0; i < N; i++) {
		j[i] = (struct job){.gate = &g[i]};
		fs[i] = submit_job(p, &j[i]);
	}
	weft_as_completed *it;
	cr_assert_eq(weft_as_completed_create(fs, N, 10000 * MS, &it), 0);
	struct releaser r = {g, fs, order, N, 0};
	cr_assert_eq(pthread_create(&r.t, NULL, releaser_main, &r), 0);
	for (int k = 0; k < N; k++) {
		expect_next(it, fs[order[k]]);
		cr_expect(weft_future_done(fs[order[k]]));
	}
	expect_exhausted(it);
	pthread_join(r.t, NULL);
	weft_as_completed_destroy(it);
	release_all(fs, N);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(as_completed, cancellation_order)
{
	enum { N = 5 };
	static const int order[N] = {3, 1, 0, 4, 2};
	struct blocked b;
	blocked_start(&b);
	struct job j[N] = {0};
	weft_future *fs[N];
	for (int i = 0; i < N; i++)
		fs[i] = blocked_pending(&b, &j[i]);
	weft_as_completed *it;
	cr_assert_eq(weft_as_completed_create(fs, N, WEFT_FOREVER, &it), 0);
	for (int k = 0; k < N; k++)
		cr_expect(weft_future_cancel(fs[order[k]]));
	for (int k = 0; k < N; k++) {
		expect_next(it, fs[order[k]]);
		cr_expect_eq(weft_future_state(fs[order[k]]), WEFT_CANCELLED);
	}
	expect_exhausted(it);
	weft_as_completed_destroy(it);
	blocked_stop(&b);
	release_all(fs, N);
}

Test(as_completed, each_distinct_future_once)
{
	weft_pool *p = make_pool(2);
	struct gate g = {0};
	struct job ja = {0}, jb = {.gate = &g}, jc = {0};
	weft_future *a = done_future(p, &ja), *b = submit_job(p, &jb),
		    *c = done_future(p, &jc);
	weft_future *fs[7] = {a, b, a, c, b, b, a};
	weft_as_completed *it;
	cr_assert_eq(weft_as_completed_create(fs, 7, WEFT_FOREVER, &it), 0);
	gate_open(&g);
	int seen_a = 0, seen_b = 0, seen_c = 0;
	weft_future *out;
	int rc;
	while ((rc = weft_as_completed_next(it, &out)) == 1) {
		seen_a += out == a;
		seen_b += out == b;
		seen_c += out == c;
	}
	cr_expect_eq(rc, 0);
	cr_expect_eq(seen_a, 1);
	cr_expect_eq(seen_b, 1);
	cr_expect_eq(seen_c, 1);
	weft_as_completed_destroy(it);
	weft_future_release(a);
	weft_future_release(b);
	weft_future_release(c);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(as_completed, deadline_measured_from_create)
{
	weft_pool *p = make_pool(2);
	struct gate g = {0};
	struct job jp = {.gate = &g};
	weft_future *pend = submit_job(p, &jp);
	weft_as_completed *it;

	/* next() after the deadline passed does not wait a fresh timeout,
	 * which would last at least the whole timeout (next() never times
	 * out early: timeout_not_before_the_deadline). */
	cr_assert_eq(weft_as_completed_create(&pend, 1, 1000 * MS, &it), 0);
	sleep_ms(1050);
	weft_future *out = NULL;
	int64_t t0 = now_ns();
	cr_expect_eq(weft_as_completed_next(it, &out), -ETIMEDOUT);
	cr_expect_lt(now_ns() - t0, 1000 * MS,
		     "next() waited as if the deadline ran from the call");
	/* ... and on every later call, even once the future is done. */
	cr_expect_eq(weft_as_completed_next(it, &out), -ETIMEDOUT);
	gate_open(&g);
	await_done(pend);
	cr_expect_eq(weft_as_completed_next(it, &out), -ETIMEDOUT);
	weft_as_completed_destroy(it);
	weft_future_release(pend);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(as_completed, timeout_not_before_the_deadline)
{
	weft_pool *p = make_pool(1);
	struct gate g = {0};
	struct job jp = {.gate = &g};
	weft_future *pend = submit_job(p, &jp), *out;
	static const int64_t timeouts[] = {1 * MS, 30 * MS, 90 * MS};
	for (int k = 0; k < 3; k++) {
		weft_as_completed *it;
		int64_t t0 = now_ns();
		cr_assert_eq(weft_as_completed_create(&pend, 1, timeouts[k],
						      &it),
			     0);
		cr_expect_eq(weft_as_completed_next(it, &out), -ETIMEDOUT);
		cr_expect_geq(now_ns() - t0, timeouts[k],
			      "timed out before the deadline");
		weft_as_completed_destroy(it);
	}
	gate_open(&g);
	weft_future_release(pend);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(as_completed, done_futures_come_out_even_after_the_deadline)
{
	weft_pool *p = make_pool(2);
	struct gate g = {0};
	struct job jd = {0}, jp = {.gate = &g};
	weft_future *fs[2] = {submit_job(p, &jp), done_future(p, &jd)};
	weft_as_completed *it;

	/* Python yields the finished futures before it looks at the clock. */
	cr_assert_eq(weft_as_completed_create(fs, 2, 20 * MS, &it), 0);
	sleep_ms(40);
	expect_next(it, fs[1]);
	weft_future *out;
	cr_expect_eq(weft_as_completed_next(it, &out), -ETIMEDOUT);
	weft_as_completed_destroy(it);

	/* Timeout 0 only polls: the bound is loose (a loaded machine can
	 * stall any call) but fails a next() that waits or hangs. */
	cr_assert_eq(weft_as_completed_create(fs, 2, 0, &it), 0);
	expect_next(it, fs[1]);
	int64_t t0 = now_ns();
	cr_expect_eq(weft_as_completed_next(it, &out), -ETIMEDOUT);
	cr_expect_lt(now_ns() - t0, 2000 * MS);
	weft_as_completed_destroy(it);

	/* Every future yielded: 0, deadline or not. */
	cr_assert_eq(weft_as_completed_create(fs + 1, 1, 1 * MS, &it), 0);
	sleep_ms(5);
	expect_next(it, fs[1]);
	expect_exhausted(it);
	weft_as_completed_destroy(it);

	/* A future that completes before the deadline is yielded. */
	cr_assert_eq(weft_as_completed_create(fs, 1, 10000 * MS, &it), 0);
	struct later l;
	later_start(&l, 30, later_open_gate, &g);
	expect_next(it, fs[0]);
	expect_exhausted(it);
	later_join(&l);
	weft_as_completed_destroy(it);

	release_all(fs, 2);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/*
 * add(): follow-up tasks join the set while iterating.
 */
struct chain {
	int depth;
};

static void *step_fn(void *arg)
{
	return arg;
}

Test(as_completed, add_follow_up_tasks_while_iterating)
{
	weft_pool *p = make_pool(2);
	enum { N = 8, MAX_DEPTH = 3 };
	/* Each yielded future at depth d < MAX_DEPTH adds two follow-ups at
	 * depth d + 1, as a crawler adds the links it found. */
	static struct chain nodes[N * 16];
	static weft_future *all[N * 16];
	size_t made = 0;
	for (int i = 0; i < N; i++) {
		nodes[made].depth = 0;
		cr_assert_eq(weft_submit(p, step_fn, &nodes[made], &all[made]),
			     0);
		made++;
	}
	weft_as_completed *it;
	cr_assert_eq(weft_as_completed_create(all, made, 10000 * MS, &it), 0);
	size_t yielded = 0;
	weft_future *out;
	int rc;
	while ((rc = weft_as_completed_next(it, &out)) == 1) {
		yielded++;
		void *r;
		cr_assert_eq(weft_future_get(out, &r), 0);
		struct chain *c = r;
		if (c->depth >= MAX_DEPTH)
			continue;
		for (int k = 0; k < 2; k++) {
			cr_assert_lt(made, N * 16);
			nodes[made].depth = c->depth + 1;
			cr_assert_eq(weft_submit(p, step_fn, &nodes[made],
						 &all[made]),
				     0);
			cr_expect_eq(weft_as_completed_add(it, all[made]), 0);
			made++;
		}
		/* Adding what is already in the set changes nothing. */
		cr_expect_eq(weft_as_completed_add(it, out), 0);
		cr_expect_eq(weft_as_completed_add(it, all[made - 1]), 0);
	}
	cr_expect_eq(rc, 0);
	cr_expect_eq(made, (size_t)N * 15);
	cr_expect_eq(yielded, made, "yielded %zu of %zu", yielded, made);
	weft_as_completed_destroy(it);
	release_all(all, made);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(as_completed, add_duplicates_and_done_futures)
{
	weft_pool *p = make_pool(2);
	struct gate g = {0};
	struct job ja = {0}, jb = {.gate = &g}, jc = {0};
	weft_future *a = done_future(p, &ja), *b = submit_job(p, &jb);
	weft_as_completed *it;
	cr_assert_eq(weft_as_completed_create(&a, 1, WEFT_FOREVER, &it), 0);
	cr_expect_eq(weft_as_completed_add(it, a), 0); /* in the set */
	cr_expect_eq(weft_as_completed_add(it, b), 0);
	cr_expect_eq(weft_as_completed_add(it, b), 0); /* pending, twice */
	expect_next(it, a);
	cr_expect_eq(weft_as_completed_add(it, a), 0); /* already yielded */
	gate_open(&g);
	expect_next(it, b);
	expect_exhausted(it);
	/* After the set was exhausted, an added future is yielded. */
	weft_future *c = done_future(p, &jc);
	cr_expect_eq(weft_as_completed_add(it, c), 0);
	expect_next(it, c);
	cr_expect_eq(weft_as_completed_add(it, b), 0);
	expect_exhausted(it);
	weft_as_completed_destroy(it);
	weft_future_release(a);
	weft_future_release(b);
	weft_future_release(c);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(as_completed, add_grows_past_the_initial_table)
{
	enum { N = 3000 };
	weft_pool *p = make_pool(2);
	static weft_future *fs[N];
	weft_as_completed *it;
	cr_assert_eq(weft_as_completed_create(NULL, 0, WEFT_FOREVER, &it), 0);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(weft_submit(p, step_fn, NULL, &fs[i]), 0);
		cr_assert_eq(weft_as_completed_add(it, fs[i]), 0);
		if (i % 7 == 0) /* re-adding an earlier one is ignored */
			cr_assert_eq(weft_as_completed_add(it, fs[i / 2]), 0);
	}
	static unsigned char seen[N];
	weft_future *out;
	int rc, count = 0;
	while ((rc = weft_as_completed_next(it, &out)) == 1) {
		for (int i = 0; i < N; i++)
			if (fs[i] == out) {
				seen[i]++;
				break;
			}
		count++;
	}
	cr_expect_eq(rc, 0);
	cr_expect_eq(count, N);
	for (int i = 0; i < N; i++)
		cr_expect_eq(seen[i], 1, "future %d yielded %d times", i,
			     seen[i]);
	weft_as_completed_destroy(it);
	release_all(fs, N);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/*
 * destroy at any point: pending futures are neither cancelled nor
 * leaked (the ASan build checks the leak).
 */
Test(as_completed, destroy_at_any_point)
{
	weft_pool *p = make_pool(4);
	for (int when = 0; when < 5; when++) {
		struct gate g0 = {0}, g = {0};
		struct job j[4], d = {0};
		weft_future *fs[5];
		fs[4] = done_future(p, &d);
		for (int i = 0; i < 4; i++) {
			j[i] = (struct job){.gate = i ? &g : &g0};
			fs[i] = submit_job(p, &j[i]);
		}
		weft_as_completed *it;
		cr_assert_eq(weft_as_completed_create(fs, 5, when == 4 ? 1 * MS :
							       WEFT_FOREVER,
						      &it),
			     0);
		weft_future *out;
		if (when >= 1) /* the done one yielded */
			cr_expect_eq(weft_as_completed_next(it, &out), 1);
		if (when == 2) { /* a completed one not yet yielded */
			gate_open(&g0);
			await_done(fs[0]);
		}
		if (when == 3) /* a follow-up added */
			cr_expect_eq(weft_as_completed_add(it, fs[3]), 0);
		if (when == 4) /* after a time-out */
			cr_expect_eq(weft_as_completed_next(it, &out),
				     -ETIMEDOUT);
		if (when % 2) {
			/* The caller drops its futures first: the iterator's
			 * own references keep them alive. */
			release_all(fs, 5);
			weft_as_completed_destroy(it);
		} else {
			weft_as_completed_destroy(it);
		}
		cr_expect_eq(atomic_load(&j[1].ran), 0,
			     "destroy waited for a pending future");
		gate_open(&g0);
		gate_open(&g);
		if (!(when % 2)) {
			for (int i = 0; i < 4; i++)
				await_done(fs[i]);
			cr_expect_eq(weft_future_state(fs[1]), WEFT_SUCCEEDED,
				     "destroy cancelled a pending future");
			release_all(fs, 5);
		}
		/* The tasks read j and g: let them end before the next
		 * round reuses the stack. */
		for (int i = 0; i < 4; i++)
			while (!atomic_load(&j[i].ran))
				sleep_us(100);
	}
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(as_completed, destroy_with_cancelled_and_pending)
{
	struct blocked b;
	blocked_start(&b);
	struct job j[6] = {0};
	weft_future *fs[6];
	for (int i = 0; i < 6; i++)
		fs[i] = blocked_pending(&b, &j[i]);
	weft_as_completed *it;
	cr_assert_eq(weft_as_completed_create(fs, 6, WEFT_FOREVER, &it), 0);
	cr_expect(weft_future_cancel(fs[4]));
	expect_next(it, fs[4]);
	cr_expect(weft_future_cancel(fs[1]));
	weft_as_completed_destroy(it);
	cr_expect(weft_future_cancel(fs[0]));
	blocked_stop(&b); /* the rest run now */
	cr_expect_eq(weft_future_state(fs[2]), WEFT_SUCCEEDED);
	release_all(fs, 6);
}

/* On a worker, next() runs other tasks while it waits. */
struct gatherer {
	weft_pool *p;
	atomic_int count;
};

static void *count_fn(void *arg)
{
	struct gatherer *g = arg;
	atomic_fetch_add(&g->count, 1);
	return NULL;
}

static void *iterate_fn(void *arg)
{
	struct gatherer *g = arg;
	weft_future *fs[32];
	for (int i = 0; i < 32; i++)
		if (weft_submit(g->p, count_fn, g, &fs[i]))
			return weft_fail(EFAULT);
	weft_as_completed *it;
	if (weft_as_completed_create(fs, 32, WEFT_FOREVER, &it))
		return weft_fail(EFAULT);
	int n = 0;
	weft_future *out;
	while (weft_as_completed_next(it, &out) == 1)
		n++;
	weft_as_completed_destroy(it);
	for (int i = 0; i < 32; i++)
		weft_future_release(fs[i]);
	return n == 32 ? NULL : weft_fail(EPROTO);
}

Test(as_completed, on_a_worker_runs_other_tasks)
{
	weft_pool *p = make_pool(1);
	struct gatherer g = {.p = p};
	weft_future *f;
	cr_assert_eq(weft_submit(p, iterate_fn, &g, &f), 0);
	cr_expect_eq(weft_future_wait(f, 10000 * MS), 0,
		     "as_completed on the only worker deadlocked");
	cr_expect_eq(weft_future_get(f, NULL), 0);
	cr_expect_eq(atomic_load(&g.count), 32);
	weft_future_release(f);
	cr_assert_eq(weft_pool_destroy(p), 0);
}
