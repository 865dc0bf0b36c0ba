/*
 * Pipeline stress: seeded rounds of items through 3 stages with random
 * concurrency bounds (0..4), random WEFT_STAGE_ORDERED stages, random
 * WEFT_PIPELINE_ORDERED, random failures and a random close point; then
 * rounds that destroy the pipeline at a random point while items are
 * inside.
 *
 * Checked: every pushed item comes out exactly once (per-item counters),
 * each stage ran it at most once and only until it failed, a failed item
 * comes out as -err with the value its failing stage was given, pushes
 * after close get -EPIPE, no stage ever exceeds its bound (stage
 * functions count their concurrent entries), ordered stages see items in
 * push order, ordered output pops them in push order; destroy returns
 * with no stage function running and none starting afterwards (the ASan
 * build checks that nothing leaks).
 *
 * An item's value is (id << 2) | (stages it went through), so item 0
 * enters as NULL and every stage can check what it was given.
 */
#include "harness.h"

#include <weft.h>

#define NSTAGES 3

struct stage_ctx {
	unsigned index;
	unsigned bound; /* the bound the stage must respect, 0: none */
	bool ordered;
	unsigned fail_rate; /* fails 1 in fail_rate items (0: never) */
	uint64_t fail_salt;
	/* Observed. */
	_Atomic int active, max_active;
	_Atomic long calls, bad_value, twice;
	/* Ordered stages only: the last id. A plain variable, on purpose:
	 * the pipeline must order one call before the next. */
	long last_id;
	_Atomic long order_errors;
};

struct round {
	struct stage_ctx st[NSTAGES];
	size_t n;          /* items the producer may push */
	_Atomic uint8_t *visits; /* n * NSTAGES */
	_Atomic uint8_t *out;    /* n */
	h_rng rng;
};

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xFF51AFD7ED558CCDull;
	x ^= x >> 33;
	x *= 0xC4CEB9FE1A85EC53ull;
	return x ^ (x >> 33);
}

/* Whether stage s fails item id (a pure function, so the consumer can
 * tell what must have happened). */
static bool fails_at(const struct stage_ctx *s, size_t id)
{
	return s->fail_rate && mix(id ^ s->fail_salt) % s->fail_rate == 0;
}

static int fail_code(unsigned stage)
{
	static const int codes[NSTAGES] = {EIO, ENOSPC, EDOM};
	return codes[stage];
}

static struct round *g_round;

static void *stage_fn(void *item, void *ctx)
{
	struct stage_ctx *s = ctx;
	struct round *r = g_round;
	int now = atomic_fetch_add(&s->active, 1) + 1;
	int max = atomic_load(&s->max_active);
	while (now > max &&
	       !atomic_compare_exchange_weak(&s->max_active, &max, now))
		;
	atomic_fetch_add_explicit(&s->calls, 1, memory_order_relaxed);
	uintptr_t v = (uintptr_t)item;
	size_t id = v >> 2;
	if ((v & 3) != s->index || id >= r->n) {
		atomic_fetch_add(&s->bad_value, 1);
		atomic_fetch_sub(&s->active, 1);
		return item;
	}
	if (atomic_fetch_add(&r->visits[id * NSTAGES + s->index], 1))
		atomic_fetch_add(&s->twice, 1);
	if (s->ordered) {
		if ((long)id <= s->last_id)
			atomic_fetch_add(&s->order_errors, 1);
		s->last_id = (long)id;
	}
	/* A little work, sometimes more, sometimes a yield, so items
	 * overtake each other. */
	uint64_t x = mix(id * 31 + s->index);
	if (x % 8 == 0)
		h_spin_ns((int64_t)(x >> 8) % 3000);
	else if (x % 8 == 1)
		sched_yield();
	atomic_fetch_sub(&s->active, 1);
	if (fails_at(s, id))
		return weft_fail(fail_code(s->index));
	return (void *)((id << 2) | (s->index + 1));
}

static weft_pool *make_pool(h_rng *rng)
{
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = 1 + (unsigned)h_below(rng, 4);
	weft_pool *p = NULL;
	int rc = weft_pool_create(&p, &cfg);
	H_CHECK(rc == 0, "weft_pool_create: %d", rc);
	return rc ? NULL : p;
}

/* Random stages for a round: bounds 0..4, some ordered, some failing. */
static weft_pipeline *make_pipeline(weft_pool *p, struct round *r,
				    size_t capacity, unsigned pflags,
				    bool failures)
{
	weft_pipeline *pl = NULL;
	int rc = weft_pipeline_create(p, capacity, pflags, &pl);
	H_CHECK(rc == 0, "weft_pipeline_create: %d", rc);
	if (rc)
		return NULL;
	for (unsigned s = 0; s < NSTAGES; s++) {
		struct stage_ctx *st = &r->st[s];
		memset(st, 0, sizeof(*st));
		st->index = s;
		unsigned conc = (unsigned)h_below(&r->rng, 5);
		st->ordered = h_below(&r->rng, 3) == 0;
		st->bound = st->ordered ? 1 : conc;
		st->last_id = -1;
		st->fail_rate = failures && h_below(&r->rng, 2) ?
					8 + (unsigned)h_below(&r->rng, 120) :
					0;
		st->fail_salt = h_next(&r->rng);
		static const char *names[NSTAGES] = {"parse", "work", "emit"};
		rc = weft_pipeline_stage(pl, names[s], stage_fn, st, conc,
					 st->ordered ? WEFT_STAGE_ORDERED : 0);
		H_CHECK(rc == 0, "weft_pipeline_stage: %d", rc);
	}
	return pl;
}

static bool round_alloc(struct round *r, size_t n)
{
	r->n = n;
	r->visits = calloc(n * NSTAGES, 1);
	r->out = calloc(n, 1);
	return r->visits && r->out;
}

static void round_free(struct round *r)
{
	free(r->visits);
	free(r->out);
}

static void check_bounds(struct round *r, const char *what, int round)
{
	for (unsigned s = 0; s < NSTAGES; s++) {
		struct stage_ctx *st = &r->st[s];
		int max = atomic_load(&st->max_active);
		H_CHECK(!st->bound || max <= (int)st->bound,
			"%s %d: stage %u ran %d items at once, bound %u", what,
			round, s, max, st->bound);
		H_CHECK(atomic_load(&st->bad_value) == 0,
			"%s %d: stage %u got %ld values of another stage",
			what, round, s, atomic_load(&st->bad_value));
		H_CHECK(atomic_load(&st->twice) == 0,
			"%s %d: stage %u ran %ld items twice", what, round, s,
			atomic_load(&st->twice));
		H_CHECK(atomic_load(&st->order_errors) == 0,
			"%s %d: ordered stage %u saw %ld items out of order",
			what, round, s, atomic_load(&st->order_errors));
	}
}

/*
 * Flow rounds.
 */

struct producer {
	weft_pipeline *pl;
	size_t close_at; /* items pushed before close */
	size_t extra;    /* pushes tried after close */
	h_rng rng;
	size_t pushed, epipe, other;
	pthread_t t;
};

static void produce(struct producer *pr)
{
	for (size_t i = 0; i < pr->close_at; i++) {
		void *item = (void *)(uintptr_t)(i << 2);
		int rc;
		if (h_below(&pr->rng, 4) == 0) {
			/* Short timeouts; retried, so nothing is lost. */
			while ((rc = weft_pipeline_push(
					pr->pl, item,
					(int64_t)h_below(&pr->rng, 20000))) ==
			       -ETIMEDOUT)
				;
		} else {
			rc = weft_pipeline_push(pr->pl, item, WEFT_FOREVER);
		}
		if (rc == 0)
			pr->pushed++;
		else
			pr->other++;
	}
	weft_pipeline_close(pr->pl);
	for (size_t i = 0; i < pr->extra; i++) {
		size_t id = pr->close_at + i;
		int rc = weft_pipeline_push(pr->pl, (void *)(uintptr_t)(id << 2),
					    i % 2 ? 0 : WEFT_FOREVER);
		if (rc == -EPIPE)
			pr->epipe++;
		else
			pr->other++;
	}
}

static void *producer_main(void *arg)
{
	produce(arg);
	return NULL;
}

static void *producer_task(void *arg)
{
	produce(arg);
	return NULL;
}

static size_t g_total_popped;

static void flow_round(int round, size_t n)
{
	struct round r;
	memset(&r, 0, sizeof(r));
	r.rng = h_rng_make(h.seed, 1000 + (uint64_t)round);
	if (!round_alloc(&r, n)) {
		H_CHECK(false, "flow %d: out of memory", round);
		round_free(&r);
		return;
	}
	g_round = &r;
	weft_pool *p = make_pool(&r.rng);
	if (!p) {
		round_free(&r);
		return;
	}
	size_t capacity = 1 + h_below(&r.rng, 64);
	unsigned pflags = h_below(&r.rng, 2) ? WEFT_PIPELINE_ORDERED : 0;
	bool failures = h_below(&r.rng, 3) != 0;
	weft_pipeline *pl = make_pipeline(p, &r, capacity, pflags, failures);
	if (!pl) {
		H_CHECK(weft_pool_destroy(p) == 0, "flow %d: pool destroy",
			round);
		round_free(&r);
		return;
	}
	struct producer pr = {.pl = pl, .rng = h_rng_make(h.seed, 2000 + (uint64_t)round)};
	/* The close point: somewhere in the second half. */
	pr.close_at = n / 2 + h_below(&r.rng, n / 2 + 1);
	if (pr.close_at > n - 4)
		pr.close_at = n - 4;
	pr.extra = n - pr.close_at;
	if (pr.extra > 4)
		pr.extra = 4;
	/* The producer is an outside thread, or (sometimes) a task on the
	 * pool itself, which must help instead of blocking its worker. */
	bool on_worker = h_below(&r.rng, 4) == 0;
	weft_future *pf = NULL;
	int rc;
	if (on_worker)
		rc = weft_submit(p, producer_task, &pr, &pf);
	else
		rc = pthread_create(&pr.t, NULL, producer_main, &pr) ? -EAGAIN : 0;
	H_CHECK(rc == 0, "flow %d: cannot start the producer: %d", round, rc);
	printf("flow %d: %u workers, capacity %zu, %s output, close after "
	       "%zu, producer %s, stages",
	       round, weft_pool_workers(p), capacity,
	       pflags ? "ordered" : "unordered", pr.close_at,
	       on_worker ? "on a worker" : "outside");
	for (unsigned s = 0; s < NSTAGES; s++)
		printf(" [%s%u%s]", r.st[s].ordered ? "ordered " : "bound ",
		       r.st[s].bound,
		       r.st[s].fail_rate ? ", failing" : "");
	printf("\n");
	h_phase("flow round", round);

	size_t popped = 0, ok = 0, failed = 0, bad = 0, order_errors = 0;
	long last = -1;
	void *item;
	while (rc == 0) {
		int prc = weft_pipeline_pop(pl, &item, 30000000000LL);
		if (prc == 0)
			break;
		if (prc == -ETIMEDOUT) {
			H_CHECK(false, "flow %d: pop waited 30 s", round);
			break;
		}
		h_tick();
		uintptr_t v = (uintptr_t)item;
		size_t id = v >> 2;
		unsigned at = (unsigned)(v & 3);
		if (id >= n) {
			bad++;
			continue;
		}
		popped++;
		if (atomic_fetch_add(&r.out[id], 1))
			bad++;
		if (pflags) {
			if ((long)id != last + 1)
				order_errors++;
			last = (long)id;
		}
		if (prc == 1) {
			ok++;
			if (at != NSTAGES)
				bad++;
			for (unsigned s = 0; s < NSTAGES; s++)
				if (fails_at(&r.st[s], id))
					bad++;
		} else {
			failed++;
			/* -err of the first failing stage, with the value
			 * that stage was given. */
			if (at >= NSTAGES || prc != -fail_code(at) ||
			    !fails_at(&r.st[at], id))
				bad++;
			for (unsigned s = 0; s < at; s++)
				if (fails_at(&r.st[s], id))
					bad++;
		}
	}
	if (on_worker) {
		H_CHECK(weft_future_wait(pf, 30000000000LL) == 0,
			"flow %d: the producer task did not end", round);
		weft_future_release(pf);
	} else if (rc == 0) {
		pthread_join(pr.t, NULL);
	}
	H_CHECK(pr.pushed == pr.close_at && pr.other == 0,
		"flow %d: %zu of %zu pushes succeeded, %zu unexpected codes",
		round, pr.pushed, pr.close_at, pr.other);
	H_CHECK(pr.epipe == pr.extra, "flow %d: %zu of %zu pushes after close "
				      "got -EPIPE",
		round, pr.epipe, pr.extra);
	H_CHECK(popped == pr.pushed, "flow %d: %zu pushed, %zu popped", round,
		pr.pushed, popped);
	H_CHECK(bad == 0, "flow %d: %zu items came out wrong", round, bad);
	H_CHECK(order_errors == 0,
		"flow %d: ordered output popped %zu items out of order", round,
		order_errors);
	size_t missing = 0, visit_errors = 0;
	for (size_t id = 0; id < n; id++) {
		bool pushed = id < pr.close_at;
		if (pushed && atomic_load(&r.out[id]) != 1)
			missing++;
		if (!pushed && atomic_load(&r.out[id]))
			visit_errors++;
		/* Each stage ran the item once, up to the one that failed
		 * it; none after. */
		bool gone = !pushed;
		for (unsigned s = 0; s < NSTAGES; s++) {
			unsigned vis = atomic_load(&r.visits[id * NSTAGES + s]);
			if (vis != (gone ? 0u : 1u))
				visit_errors++;
			if (fails_at(&r.st[s], id))
				gone = true;
		}
	}
	H_CHECK(missing == 0, "flow %d: %zu items not out exactly once", round,
		missing);
	H_CHECK(visit_errors == 0,
		"flow %d: %zu wrong stage visits (per-item counters)", round,
		visit_errors);
	check_bounds(&r, "flow", round);
	printf("flow %d: %zu out (%zu ok, %zu failed), max at once per "
	       "stage %d/%d/%d\n",
	       round, popped, ok, failed, atomic_load(&r.st[0].max_active),
	       atomic_load(&r.st[1].max_active),
	       atomic_load(&r.st[2].max_active));
	g_total_popped += popped;
	H_CHECK(weft_pipeline_destroy(pl) == 0, "flow %d: destroy", round);
	H_CHECK(weft_pool_destroy(p) == 0, "flow %d: pool destroy", round);
	g_round = NULL;
	round_free(&r);
}

/*
 * Destroy rounds: items inside (queued, in stages, waiting for a slot or
 * their turn, ready to pop) when destroy comes.
 */

struct feeder {
	weft_pipeline *pl;
	h_rng rng;
	_Atomic bool stop;
	size_t pushed;
	pthread_t t;
};

static void *feeder_main(void *arg)
{
	struct feeder *f = arg;
	size_t id = 0;
	while (!atomic_load(&f->stop) && id < g_round->n) {
		int rc = weft_pipeline_push(f->pl, (void *)(uintptr_t)(id << 2),
					    (int64_t)h_below(&f->rng, 200000));
		if (rc == 0) {
			f->pushed++;
			id++;
		}
		/* Sometimes pop one, as a consumer would. */
		void *item;
		if (h_below(&f->rng, 3) == 0)
			(void)weft_pipeline_pop(f->pl, &item, 0);
	}
	return NULL;
}

static void destroy_round(int round, size_t n)
{
	struct round r;
	memset(&r, 0, sizeof(r));
	r.rng = h_rng_make(h.seed, 5000 + (uint64_t)round);
	if (!round_alloc(&r, n)) {
		H_CHECK(false, "destroy %d: out of memory", round);
		round_free(&r);
		return;
	}
	g_round = &r;
	weft_pool *p = make_pool(&r.rng);
	if (!p) {
		round_free(&r);
		return;
	}
	size_t capacity = 1 + h_below(&r.rng, 48);
	unsigned pflags = h_below(&r.rng, 2) ? WEFT_PIPELINE_ORDERED : 0;
	weft_pipeline *pl = make_pipeline(p, &r, capacity, pflags, true);
	if (!pl) {
		H_CHECK(weft_pool_destroy(p) == 0, "destroy %d: pool destroy",
			round);
		round_free(&r);
		return;
	}
	h_phase("destroy round", round);
	struct feeder f = {.pl = pl, .rng = h_rng_make(h.seed, 6000 + (uint64_t)round)};
	unsigned how = (unsigned)h_below(&r.rng, 3);
	if (how == 0) {
		/* Before any push. */
	} else if (how == 1) {
		/* Fill without popping, let some run, destroy. */
		for (size_t i = 0; i < capacity && i < n; i++)
			if (weft_pipeline_push(pl, (void *)(uintptr_t)(i << 2),
					       0) == 0)
				f.pushed++;
		h_sleep_us((long)h_below(&r.rng, 500));
	} else {
		/* A feeder pushes and pops for a random while. */
		if (pthread_create(&f.t, NULL, feeder_main, &f) == 0) {
			h_sleep_us(200 + (long)h_below(&r.rng, 3000));
			atomic_store(&f.stop, true);
			pthread_join(f.t, NULL);
		}
	}
	if (h_below(&r.rng, 4) == 0)
		weft_pipeline_close(pl);
	long calls_before[NSTAGES];
	int rc = weft_pipeline_destroy(pl);
	H_CHECK(rc == 0, "destroy %d: destroy returned %d", round, rc);
	for (unsigned s = 0; s < NSTAGES; s++) {
		H_CHECK(atomic_load(&r.st[s].active) == 0,
			"destroy %d: stage %u still running after destroy",
			round, s);
		calls_before[s] = atomic_load(&r.st[s].calls);
	}
	h_sleep_us(300);
	for (unsigned s = 0; s < NSTAGES; s++)
		H_CHECK(atomic_load(&r.st[s].calls) == calls_before[s],
			"destroy %d: stage %u ran after destroy", round, s);
	check_bounds(&r, "destroy", round);
	h_tick();
	H_CHECK(weft_pool_destroy(p) == 0, "destroy %d: pool destroy", round);
	g_round = NULL;
	round_free(&r);
}

int main(void)
{
	h_init("stress_many_pipeline");
	/* Each flow round closes somewhere in its second half, so at least
	 * half of total goes through: 120,000 items or more (about 20,000
	 * under TSan) at scale 1. */
	size_t total = h_scaled(H_TSAN ? 28000 : 240000, 64);
	int flows = 8;
	size_t per_round = total / (size_t)flows;
	if (per_round < 16)
		per_round = 16;
	int destroys = (int)h_scaled(H_TSAN ? 20 : 60, 4);
	int64_t t0 = h_now_ns();
	for (int i = 0; i < flows; i++)
		flow_round(i, per_round);
	int64_t t1 = h_now_ns();
	for (int i = 0; i < destroys; i++)
		destroy_round(i, per_round);
	int64_t t2 = h_now_ns();
	printf("%zu items out in %d flow rounds (%.2f s, %.0f items/s); "
	       "%d destroy rounds (%.2f s)\n",
	       g_total_popped, flows, (double)(t1 - t0) / 1e9,
	       (double)g_total_popped / ((double)(t1 - t0) / 1e9), destroys,
	       (double)(t2 - t1) / 1e9);
	return h_finish();
}
