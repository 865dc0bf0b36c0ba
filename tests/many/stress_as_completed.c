/*
 * as_completed / wait stress: many futures completing concurrently on 2
 * workers while an iterator runs on an outside thread, with random
 * cancellations from another thread, random failures, duplicates in the
 * input, follow-up futures added while iterating, and weft_wait callers
 * on the same futures.
 *
 * Checked: each distinct future is yielded exactly once and is done when
 * yielded; next() ends with 0 (or, in deadline rounds, -ETIMEDOUT on
 * every call from then on); a future whose cancel returned true is
 * CANCELLED and its task never ran, every other task ran exactly once;
 * wait(ALL) returns with every future done, wait(FIRST_COMPLETED) with
 * one done, wait(FIRST_FAILED) with one failed or all done. In deadline
 * rounds the iterator is destroyed with futures pending (the ASan build
 * checks that nothing leaks).
 */
#include "harness.h"

#include <weft.h>

struct rec {
	weft_future *f;
	_Atomic int ran;
	_Atomic int yielded;
	_Atomic bool cancel_ok;
	bool fail;
	uint32_t work;
};

struct round {
	weft_pool *p;
	struct rec *recs;
	size_t n, cap; /* n grows with follow-ups, up to cap */
	/* Pointer -> record, open addressing (the iterator's thread only,
	 * after the canceller and waiters got their copy of the array). */
	struct rec **table;
	size_t table_cap;
	h_rng rng;
};

static void *task_fn(void *arg)
{
	struct rec *r = arg;
	atomic_fetch_add(&r->ran, 1);
	if (r->work % 16 == 0)
		sched_yield();
	else
		h_spin_ns(r->work % 4000);
	return r->fail ? weft_fail(EIO) : arg;
}

static size_t slot_of(const struct round *rd, const void *f)
{
	uint64_t x = (uint64_t)(uintptr_t)f * 0x9E3779B97F4A7C15ull;
	return (size_t)(x >> 20) & (rd->table_cap - 1);
}

static void table_put(struct round *rd, struct rec *r)
{
	size_t i = slot_of(rd, r->f);
	while (rd->table[i])
		i = (i + 1) & (rd->table_cap - 1);
	rd->table[i] = r;
}

static struct rec *table_get(const struct round *rd, const void *f)
{
	size_t i = slot_of(rd, f);
	while (rd->table[i]) {
		if (rd->table[i]->f == f)
			return rd->table[i];
		i = (i + 1) & (rd->table_cap - 1);
	}
	return NULL;
}

static bool submit_rec(struct round *rd, size_t i)
{
	struct rec *r = &rd->recs[i];
	r->fail = h_below(&rd->rng, 10) == 0;
	r->work = (uint32_t)h_next(&rd->rng);
	int rc = weft_submit(rd->p, task_fn, r, &r->f);
	if (rc) {
		H_CHECK(false, "weft_submit: %d", rc);
		return false;
	}
	table_put(rd, r);
	return true;
}

/* Cancels random futures of the initial set while the iterator runs. */
struct canceller {
	struct rec *recs;
	size_t n;
	h_rng rng;
	size_t tried, ok;
	pthread_t t;
};

static void *canceller_main(void *arg)
{
	struct canceller *c = arg;
	for (size_t k = 0; k < c->n / 3; k++) {
		struct rec *r = &c->recs[h_below(&c->rng, c->n)];
		c->tried++;
		if (weft_future_cancel(r->f)) {
			atomic_store(&r->cancel_ok, true);
			c->ok++;
		}
		if (h_below(&c->rng, 8) == 0)
			sched_yield();
	}
	return NULL;
}

/* weft_wait from another thread on the initial set. */
struct waiter {
	weft_future **fs;
	size_t n;
	enum weft_return_when when;
	int rc;
	bool ok;
	pthread_t t;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	w->rc = weft_wait(w->fs, w->n, w->when, 60000000000LL);
	size_t done = 0, failed = 0;
	for (size_t i = 0; i < w->n; i++) {
		enum weft_state s = weft_future_state(w->fs[i]);
		done += s >= WEFT_SUCCEEDED;
		failed += s == WEFT_FAILED;
	}
	switch (w->when) {
	case WEFT_ALL_COMPLETED:
		w->ok = done == w->n;
		break;
	case WEFT_FIRST_COMPLETED:
		w->ok = done > 0;
		break;
	case WEFT_FIRST_FAILED:
		w->ok = failed > 0 || done == w->n;
		break;
	}
	return NULL;
}

static size_t g_yielded_total, g_cancelled_total;

static void run_round(int round, size_t n0, bool deadline)
{
	struct round rd;
	memset(&rd, 0, sizeof(rd));
	rd.rng = h_rng_make(h.seed, (uint64_t)round);
	rd.cap = n0 + n0 / 2;
	rd.recs = calloc(rd.cap, sizeof(*rd.recs));
	rd.table_cap = 16;
	while (rd.table_cap < 2 * rd.cap)
		rd.table_cap *= 2;
	rd.table = calloc(rd.table_cap, sizeof(*rd.table));
	weft_future **fs = calloc(n0 * 2, sizeof(*fs));
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = 2;
	int rc = -ENOMEM;
	if (rd.recs && rd.table && fs)
		rc = weft_pool_create(&rd.p, &cfg);
	H_CHECK(rc == 0, "round %d: no memory or no pool: %d", round, rc);
	if (rc) {
		free(fs);
		free(rd.table);
		free(rd.recs);
		return;
	}
	h_phase(deadline ? "deadline round" : "round", round);

	/* Some futures done before create (their tasks ran), the rest
	 * racing the iterator. */
	size_t pre = h_below(&rd.rng, n0 / 4 + 1);
	for (size_t i = 0; i < n0; i++) {
		if (!submit_rec(&rd, i))
			break;
		rd.n++;
		if (i + 1 == pre)
			weft_future_wait(rd.recs[i].f, WEFT_FOREVER);
	}
	n0 = rd.n;
	/* The input, with some duplicates. */
	size_t m = 0;
	for (size_t i = 0; i < n0; i++) {
		fs[m++] = rd.recs[i].f;
		if (h_below(&rd.rng, 16) == 0)
			fs[m++] = rd.recs[h_below(&rd.rng, i + 1)].f;
	}

	struct canceller c = {.recs = rd.recs, .n = n0,
			      .rng = h_rng_make(h.seed, 100 + (uint64_t)round)};
	struct waiter w[3];
	static const enum weft_return_when whens[3] = {
		WEFT_ALL_COMPLETED, WEFT_FIRST_COMPLETED, WEFT_FIRST_FAILED};
	bool started_c = pthread_create(&c.t, NULL, canceller_main, &c) == 0;
	bool started_w[3];
	for (int k = 0; k < 3; k++) {
		w[k] = (struct waiter){.fs = fs, .n = m, .when = whens[k]};
		started_w[k] =
			pthread_create(&w[k].t, NULL, waiter_main, &w[k]) == 0;
	}

	int64_t timeout = deadline ? 200000 + (int64_t)h_below(&rd.rng, 3000000) :
				     60000000000LL;
	weft_as_completed *it;
	rc = weft_as_completed_create(fs, m, timeout, &it);
	H_CHECK(rc == 0, "round %d: create: %d", round, rc);
	size_t yielded = 0, not_done = 0, unknown = 0, twice = 0, added = 0;
	int last = 1;
	if (rc == 0) {
		weft_future *f;
		while ((last = weft_as_completed_next(it, &f)) == 1) {
			h_tick();
			yielded++;
			struct rec *r = table_get(&rd, f);
			if (!r) {
				unknown++;
				continue;
			}
			if (atomic_fetch_add(&r->yielded, 1))
				twice++;
			if (!weft_future_done(f))
				not_done++;
			/* A follow-up now and then, as a crawler adds the
			 * links it found; sometimes a duplicate too. */
			if (rd.n < rd.cap && h_below(&rd.rng, 8) == 0) {
				if (!submit_rec(&rd, rd.n))
					break;
				rc = weft_as_completed_add(it,
							   rd.recs[rd.n].f);
				if (rc)
					H_CHECK(false, "round %d: add: %d",
						round, rc);
				rd.n++;
				added++;
			}
			if (h_below(&rd.rng, 32) == 0)
				(void)weft_as_completed_add(it, f);
		}
		if (last == -ETIMEDOUT) {
			weft_future *g;
			H_CHECK(weft_as_completed_next(it, &g) == -ETIMEDOUT,
				"round %d: a later next() after -ETIMEDOUT",
				round);
		}
		/* In deadline rounds this destroys with futures pending. */
		weft_as_completed_destroy(it);
	}
	if (started_c)
		pthread_join(c.t, NULL);
	for (int k = 0; k < 3; k++) {
		if (!started_w[k])
			continue;
		pthread_join(w[k].t, NULL);
		H_CHECK(w[k].rc == 0 && w[k].ok,
			"round %d: wait(%d) returned %d, condition %s", round,
			(int)whens[k], w[k].rc, w[k].ok ? "held" : "false");
	}
	H_CHECK(deadline ? last == 0 || last == -ETIMEDOUT : last == 0,
		"round %d: next() ended with %d", round, last);
	H_CHECK(unknown == 0 && twice == 0 && not_done == 0,
		"round %d: %zu unknown, %zu yielded twice, %zu not done when "
		"yielded",
		round, unknown, twice, not_done);

	/* Every task ends (the pool keeps running) before the checks. */
	for (size_t i = 0; i < rd.n; i++)
		weft_future_wait(rd.recs[i].f, WEFT_FOREVER);
	size_t cancelled = 0, run_errors = 0, missing = 0;
	for (size_t i = 0; i < rd.n; i++) {
		struct rec *r = &rd.recs[i];
		enum weft_state s = weft_future_state(r->f);
		int ran = atomic_load(&r->ran);
		if (atomic_load(&r->cancel_ok)) {
			cancelled++;
			if (s != WEFT_CANCELLED || ran != 0)
				run_errors++;
		} else if (s == WEFT_CANCELLED || ran != 1 ||
			   s != (r->fail ? WEFT_FAILED : WEFT_SUCCEEDED)) {
			run_errors++;
		}
		if (!deadline && atomic_load(&r->yielded) != 1)
			missing++;
	}
	H_CHECK(run_errors == 0, "round %d: %zu futures in a wrong state", round,
		run_errors);
	H_CHECK(missing == 0, "round %d: %zu futures not yielded exactly once",
		round, missing);
	if (!deadline)
		H_CHECK(yielded == rd.n, "round %d: %zu yielded of %zu", round,
			yielded, rd.n);
	printf("round %d%s: %zu futures (%zu in the input, %zu added), %zu "
	       "yielded, %zu cancelled, next() ended with %d\n",
	       round, deadline ? " (deadline)" : "", rd.n, m, added, yielded,
	       cancelled, last);
	g_yielded_total += yielded;
	g_cancelled_total += cancelled;
	for (size_t i = 0; i < rd.n; i++)
		weft_future_release(rd.recs[i].f);
	H_CHECK(weft_pool_destroy(rd.p) == 0, "round %d: pool destroy",
		round);
	free(fs);
	free(rd.table);
	free(rd.recs);
}

int main(void)
{
	h_init("stress_many_as_completed");
	size_t n = h_scaled(H_TSAN ? 1500 : 8000, 16);
	int rounds = (int)h_scaled(H_TSAN ? 8 : 24, 2);
	int64_t t0 = h_now_ns();
	for (int r = 0; r < rounds; r++)
		run_round(r, n, r % 4 == 3);
	printf("%d rounds of %zu futures: %zu yielded, %zu cancelled, "
	       "%.2f s\n",
	       rounds, n, g_yielded_total, g_cancelled_total,
	       (double)(h_now_ns() - t0) / 1e9);
	return h_finish();
}
