/*
 * Shutdown under load: 5,000 seeded runs (500 under TSan). Each
 * run: a pool of 1-4 workers, 4 outside threads submitting 0-500 tasks
 * each with 0-3 continuations (some WEFT_THEN_ON_SUCCESS), some tasks
 * cancelled by their submitter, some failing, tasks spawning children
 * (with continuations, sometimes waited on) from their workers, and
 * items pushed into a pipeline of 1-2 stages (random bounds and order)
 * that a fifth thread pops; at a random point the main thread shuts the
 * pool down with WAIT, CANCEL_PENDING, both, or neither followed by
 * destroy.
 *
 * Every future that was accepted (its submit/then returned 0) must
 * complete exactly once (one on_done call) as SUCCEEDED, FAILED or
 * CANCELLED; its body runs at most once, and it ran XOR it was cancelled
 * (an ON_SUCCESS continuation whose antecedent failed completes FAILED
 * without running). Without CANCEL_PENDING only the submitters'
 * cancellations (and what they propagate to) may end CANCELLED. Outside
 * submissions fail with -ESHUTDOWN only once shutdown has started, and
 * always once it has returned; a worker's submissions are always
 * accepted. After shutdown(WAIT) returns, nothing runs any more. The
 * pool's statistics must agree with the futures (and the pipeline's
 * tasks). Every pushed item (push returned 0; otherwise -ESHUTDOWN, only
 * once shutdown has started) comes out of pop exactly once, transformed
 * by each stage, failed by the stage that failed it, or (only with
 * CANCEL_PENDING) cancelled; each stage runs at most once per item;
 * pop ends with 0 once the pipeline is closed and drained.
 *
 * WEFT_SEED replays the whole sequence; a failing run prints its own
 * seed, and WEFT_RUN_SEED=<seed> (with WEFT_RUNS=<n> repeats) replays
 * just that run. The watchdog allows 30 s per run. WEFT_SOAK_SECONDS=<n>
 * runs for n seconds instead of a number of runs (tools/soak.sh).
 */
#include "harness.h"
#include "weft.h"

#define SUBMITTERS 4
#define MAX_TASKS_PER_SUBMITTER 500
#define MAX_LINKS 3
/* One submission in PUSH_ONE_IN is a pipeline push instead. */
#define PUSH_ONE_IN 4

enum kind { TASK, LINK, CHILD, CHILD_LINK };

struct slot {
	_Atomic uint32_t ran;  /* body or fn calls */
	_Atomic uint32_t done; /* on_done calls */
	_Atomic uint8_t state; /* the state on_done saw */
	/* Written by the creating thread before the future exists, read
	 * after destroy (ordered by the pool's and the threads' joins). */
	uint8_t kind;
	bool on_success, will_fail;
	int32_t antecedent; /* slot of a link's antecedent, else -1 */
	/* Written by the creating thread after its call returned. */
	bool accepted, user_cancelled;
};

/* A pipeline item, by its id (its value before the stages). */
struct item {
	_Atomic uint32_t stage[2]; /* stage function calls */
	_Atomic uint32_t popped;
	_Atomic int pop_rc;
	_Atomic uintptr_t pop_value;
	bool pushed;               /* written by its pusher */
};

/* The current run. Workers reach it through this global. */
static struct {
	uint64_t seed;
	weft_pool *p;
	struct slot *slots;
	uint32_t cap;
	_Atomic uint32_t next;
	_Atomic uint32_t accepted;
	_Atomic uint32_t submitters_done;
	_Atomic int shutdown_started, shutdown_returned;
	_Atomic int cancel_returned; /* shutdown(CANCEL_PENDING) returned */
	_Atomic uint64_t late_starts; /* bodies started after that */
	_Atomic uint64_t errors, overflow;
	_Atomic uint64_t rejected_submits, rejected_thens;
	_Atomic int64_t max_reject_ns;
	/* The pipeline. */
	weft_pipeline *pl;
	unsigned nstages;
	struct item *items;
	uint32_t items_cap;
	_Atomic uint32_t next_item;
	_Atomic uint64_t pushed, rejected_pushes, stage_calls;
	_Atomic uint64_t popped_ok, popped_failed, popped_cancelled;
} R;

/* Per-run and total figures, for the report. */
static struct {
	uint64_t runs, modes[4], accepted, succeeded, failed, cancelled;
	uint64_t rejected_submits, rejected_thens, children, user_cancels;
	uint64_t late_starts;
	uint64_t pushed, rejected_pushes, popped_ok, popped_failed;
	uint64_t popped_cancelled;
	int64_t max_reject_ns;
} T;

static void error(const char *what, uint32_t slot)
{
	if (atomic_fetch_add(&R.errors, 1) < 5)
		fprintf(stderr, "  run seed 0x%016" PRIx64 ": %s (slot %u)\n",
			R.seed, what, slot);
}

static uint64_t decide(uint32_t i)
{
	uint64_t x = R.seed ^ ((uint64_t)i * 0x9E3779B97F4A7C15ull);
	return harness_splitmix64(&x);
}

static int32_t alloc_slot(enum kind kind, int32_t antecedent, bool on_success,
			  bool will_fail)
{
	uint32_t i = atomic_fetch_add(&R.next, 1);
	if (i >= R.cap) {
		atomic_fetch_add(&R.overflow, 1);
		return -1;
	}
	struct slot *s = &R.slots[i];
	s->kind = (uint8_t)kind;
	s->antecedent = antecedent;
	s->on_success = on_success;
	s->will_fail = will_fail;
	return (int32_t)i;
}

static void done_cb(weft_future *f, void *ctx)
{
	uint32_t i = (uint32_t)(uintptr_t)ctx;
	atomic_store(&R.slots[i].state, (uint8_t)weft_future_state(f));
	atomic_fetch_add(&R.slots[i].done, 1);
}

static void *link_fn(weft_future *a, void *ctx)
{
	(void)a;
	uint32_t i = (uint32_t)(uintptr_t)ctx;
	atomic_fetch_add(&R.slots[i].ran, 1);
	if (atomic_load(&R.cancel_returned))
		atomic_fetch_add(&R.late_starts, 1);
	if (R.slots[i].will_fail)
		return weft_fail(EIO);
	return ctx;
}

static void spin(uint64_t ns)
{
	int64_t end = harness_now_ns() + (int64_t)ns;
	while (harness_now_ns() < end)
		;
}

static void *body(void *arg);

/* From a task body: a child task, maybe a continuation on it, maybe a
 * nested wait. All of it must be accepted, shutdown or not. */
static void spawn_child(uint64_t d)
{
	int32_t c = alloc_slot(CHILD, -1, false, (d >> 20) % 8 == 0);
	if (c < 0)
		return;
	weft_future *cf;
	if (weft_submit(weft_current_pool(), body, (void *)(uintptr_t)c,
			&cf)) {
		error("a worker's submit was refused", (uint32_t)c);
		return;
	}
	R.slots[c].accepted = true;
	if (weft_future_on_done(cf, done_cb, (void *)(uintptr_t)c))
		error("on_done failed", (uint32_t)c);
	if ((d >> 24) % 2 == 0) {
		bool on_success = (d >> 28) % 2;
		int32_t l = alloc_slot(CHILD_LINK, c, on_success,
				       (d >> 32) % 8 == 0);
		weft_future *lf;
		if (l >= 0) {
			if (weft_future_then(cf, link_fn, (void *)(uintptr_t)l,
					     on_success ? WEFT_THEN_ON_SUCCESS
							: 0,
					     &lf)) {
				error("a worker's then was refused",
				      (uint32_t)l);
			} else {
				R.slots[l].accepted = true;
				if (weft_future_on_done(lf, done_cb,
							(void *)(uintptr_t)l))
					error("on_done failed", (uint32_t)l);
				weft_future_release(lf);
			}
		}
	}
	if ((d >> 36) % 4 == 0) {
		/* A nested wait; the child may be cancelled by shutdown. */
		int rc = weft_future_get(cf, NULL);
		if (rc != 0 && rc != -EIO && rc != -ECANCELED)
			error("nested get", (uint32_t)c);
	}
	weft_future_release(cf);
}

static void *body(void *arg)
{
	uint32_t i = (uint32_t)(uintptr_t)arg;
	struct slot *s = &R.slots[i];
	atomic_fetch_add(&s->ran, 1);
	if (atomic_load(&R.cancel_returned))
		atomic_fetch_add(&R.late_starts, 1);
	uint64_t d = decide(i);
	spin((d & 7) * 250);
	if (s->kind == TASK && (d >> 8) % 6 == 0)
		spawn_child(d);
	if (s->will_fail)
		return weft_fail(EIO);
	return arg;
}

/* -ESHUTDOWN is right only once shutdown has started: the flag is set
 * just before the call, so it becomes visible at once, or at worst very
 * soon. */
static bool shutdown_seen(void)
{
	int64_t end = harness_now_ns() + 1000000000;
	while (!atomic_load(&R.shutdown_started))
		if (harness_now_ns() > end)
			return false;
	return true;
}

/*
 * The pipeline: stage 1 fails one item in 8 (EIO) and adds 1 << 20;
 * stage 2 adds 1 << 21. Item ids stay below 1 << 20.
 */

static void *stage_fn(void *item, void *ctx)
{
	uintptr_t v = (uintptr_t)item;
	unsigned k = (unsigned)(uintptr_t)ctx;
	uint32_t id = (uint32_t)(v & ((1u << 20) - 1));
	if (id < R.items_cap)
		atomic_fetch_add(&R.items[id].stage[k], 1);
	atomic_fetch_add(&R.stage_calls, 1);
	if (k == 0 && decide(id ^ 0x5a5a5a5au) % 8 == 0)
		return weft_fail(EIO);
	return (void *)(v + ((uintptr_t)1 << (20 + k)));
}

static void *consumer_main(void *arg)
{
	(void)arg;
	for (;;) {
		void *item = NULL;
		int rc = weft_pipeline_pop(R.pl, &item, WEFT_FOREVER);
		if (rc == 0)
			return NULL;
		uintptr_t v = (uintptr_t)item;
		uint32_t id = (uint32_t)(v & ((1u << 20) - 1));
		if (id >= R.items_cap) {
			error("pop returned a stranger", id);
			continue;
		}
		struct item *it = &R.items[id];
		atomic_store(&it->pop_rc, rc);
		atomic_store(&it->pop_value, v);
		atomic_fetch_add(&it->popped, 1);
	}
}

/* What pop must have returned for a pushed item. */
static uint64_t check_items(bool cancel_pending)
{
	uint64_t bad = 0;
	uint32_t used = atomic_load(&R.next_item);
	if (used > R.items_cap)
		used = R.items_cap;
	for (uint32_t id = 0; id < used; id++) {
		struct item *it = &R.items[id];
		uint32_t popped = atomic_load(&it->popped);
		uint32_t s0 = atomic_load(&it->stage[0]);
		uint32_t s1 = atomic_load(&it->stage[1]);
		int rc = atomic_load(&it->pop_rc);
		uintptr_t v = atomic_load(&it->pop_value);
		bool fails = R.nstages >= 1 &&
			     decide(id ^ 0x5a5a5a5au) % 8 == 0;
		uintptr_t want = id;
		if (R.nstages >= 1 && !fails)
			want += (uintptr_t)1 << 20;
		if (R.nstages >= 2 && !fails)
			want += (uintptr_t)1 << 21;
		const char *why = NULL;
		if (!it->pushed) {
			if (popped || s0 || s1)
				why = "a refused item went through";
		} else if (popped != 1) {
			why = popped ? "popped more than once" : "never popped";
		} else if (s0 > 1 || s1 > 1) {
			why = "a stage ran twice on one item";
		} else if (rc == -ECANCELED) {
			atomic_fetch_add(&R.popped_cancelled, 1);
			if (!cancel_pending)
				why = "cancelled without CANCEL_PENDING";
		} else if (rc == 1) {
			atomic_fetch_add(&R.popped_ok, 1);
			if (fails || v != want || s0 != (R.nstages >= 1) ||
			    s1 != (R.nstages >= 2))
				why = "came out wrong";
		} else if (rc == -EIO) {
			atomic_fetch_add(&R.popped_failed, 1);
			if (!fails || v != want || s0 != 1 || s1)
				why = "failed wrongly";
		} else {
			why = "pop returned an unexpected code";
		}
		if (why) {
			bad++;
			if (bad <= 5)
				fprintf(stderr,
					"  run seed 0x%016" PRIx64
					": item %u (pushed %d, %u stages): "
					"popped %u, rc %d, value %#lx (want "
					"%#lx), stage calls %u/%u: %s\n",
					R.seed, id, it->pushed, R.nstages,
					popped, rc, (unsigned long)v,
					(unsigned long)want, s0, s1, why);
		}
	}
	return bad;
}

struct submitter {
	pthread_t thread;
	struct harness_rng rng;
	unsigned count;
	uint64_t user_cancels;
};

static void note_reject(int64_t t0)
{
	int64_t dt = harness_now_ns() - t0;
	int64_t m = atomic_load(&R.max_reject_ns);
	while (dt > m && !atomic_compare_exchange_weak(&R.max_reject_ns, &m, dt))
		;
}

static void submit_chain(struct submitter *s, weft_future *f, int32_t first)
{
	unsigned links = (unsigned)harness_rng_below(&s->rng, MAX_LINKS + 1);
	int32_t prev = first;
	for (unsigned k = 0; k < links; k++) {
		bool on_success = harness_rng_chance(&s->rng, 1, 2);
		int32_t l = alloc_slot(LINK, prev, on_success,
				       harness_rng_chance(&s->rng, 1, 8));
		if (l < 0)
			break;
		weft_future *c;
		int64_t t0 = harness_now_ns();
		int rc = weft_future_then(f, link_fn, (void *)(uintptr_t)l,
					  on_success ? WEFT_THEN_ON_SUCCESS : 0,
					  &c);
		if (rc == -ESHUTDOWN) {
			note_reject(t0);
			atomic_fetch_add(&R.rejected_thens, 1);
			if (!shutdown_seen())
				error("then -ESHUTDOWN before shutdown",
				      (uint32_t)l);
			if (!weft_future_done(f))
				error("then -ESHUTDOWN on a pending future",
				      (uint32_t)l);
			break;
		}
		if (rc) {
			error("then failed", (uint32_t)l);
			break;
		}
		R.slots[l].accepted = true;
		atomic_fetch_add(&R.accepted, 1);
		if (weft_future_on_done(c, done_cb, (void *)(uintptr_t)l))
			error("on_done failed", (uint32_t)l);
		weft_future_release(f);
		f = c;
		prev = l;
	}
	weft_future_release(f);
}

/* Pushes the next item from an outside thread. */
static void push_item(void)
{
	uint32_t id = atomic_fetch_add(&R.next_item, 1);
	if (id >= R.items_cap) {
		atomic_fetch_add(&R.overflow, 1);
		return;
	}
	bool after = atomic_load(&R.shutdown_returned);
	int64_t t0 = harness_now_ns();
	int rc = weft_pipeline_push(R.pl, (void *)(uintptr_t)id, WEFT_FOREVER);
	if (rc == -ESHUTDOWN) {
		note_reject(t0);
		atomic_fetch_add(&R.rejected_pushes, 1);
		if (!shutdown_seen())
			error("push -ESHUTDOWN before shutdown", id);
		return;
	}
	if (rc) {
		error("push failed", id);
		return;
	}
	if (after)
		error("push accepted after shutdown returned", id);
	R.items[id].pushed = true;
	atomic_fetch_add(&R.pushed, 1);
}

static void *submitter_main(void *arg)
{
	struct submitter *s = arg;
	for (unsigned j = 0; j < s->count; j++) {
		if (harness_rng_chance(&s->rng, 1, PUSH_ONE_IN)) {
			push_item();
			continue;
		}
		bool after = atomic_load(&R.shutdown_returned);
		int32_t i = alloc_slot(TASK, -1, false,
				       harness_rng_chance(&s->rng, 1, 8));
		if (i < 0)
			break;
		weft_future *f;
		int64_t t0 = harness_now_ns();
		int rc = weft_submit(R.p, body, (void *)(uintptr_t)i, &f);
		if (rc == -ESHUTDOWN) {
			note_reject(t0);
			atomic_fetch_add(&R.rejected_submits, 1);
			if (!shutdown_seen())
				error("submit -ESHUTDOWN before shutdown",
				      (uint32_t)i);
			continue;
		}
		if (rc) {
			error("submit failed", (uint32_t)i);
			continue;
		}
		if (after)
			error("submit accepted after shutdown returned",
			      (uint32_t)i);
		R.slots[i].accepted = true;
		atomic_fetch_add(&R.accepted, 1);
		if (weft_future_on_done(f, done_cb, (void *)(uintptr_t)i))
			error("on_done failed", (uint32_t)i);
		if (harness_rng_chance(&s->rng, 1, 16) &&
		    weft_future_cancel(f)) {
			R.slots[i].user_cancelled = true;
			s->user_cancels++;
		}
		submit_chain(s, f, i);
	}
	atomic_fetch_add(&R.submitters_done, 1);
	return NULL;
}

static const char *mode_name(unsigned mode)
{
	static const char *names[] = {"WAIT", "CANCEL_PENDING",
				      "WAIT|CANCEL_PENDING", "none+destroy"};
	return names[mode];
}

/* Checks one finished run's slots. Returns the number of problems. */
static uint64_t check_slots(uint32_t used, bool cancel_pending,
			    uint64_t *succeeded, uint64_t *failed,
			    uint64_t *cancelled, uint64_t *ran_total)
{
	uint64_t bad = 0;
	*succeeded = *failed = *cancelled = *ran_total = 0;
	for (uint32_t i = 0; i < used; i++) {
		struct slot *s = &R.slots[i];
		uint32_t ran = atomic_load(&s->ran), done = atomic_load(&s->done);
		unsigned st = atomic_load(&s->state);
		*ran_total += ran;
		const char *why = NULL;
		if (!s->accepted) {
			if (ran || done)
				why = "a refused future ran or completed";
		} else if (done != 1) {
			why = done ? "completed more than once"
				   : "never completed";
		} else if (ran > 1) {
			why = "ran more than once";
		} else if (ran && s->on_success &&
			   atomic_load(&R.slots[s->antecedent].state) !=
				   WEFT_SUCCEEDED) {
			why = "an ON_SUCCESS continuation ran after its "
			      "antecedent failed or was cancelled";
		} else if (st == WEFT_SUCCEEDED) {
			++*succeeded;
			if (ran != 1 || s->will_fail)
				why = "SUCCEEDED without running or while "
				      "failing";
		} else if (st == WEFT_FAILED) {
			++*failed;
			bool propagated =
				ran == 0 && s->on_success && s->antecedent >= 0 &&
				atomic_load(&R.slots[s->antecedent].state) ==
					WEFT_FAILED;
			if (!((ran == 1 && s->will_fail) || propagated))
				why = "FAILED without a cause";
		} else if (st == WEFT_CANCELLED) {
			++*cancelled;
			bool propagated =
				s->on_success && s->antecedent >= 0 &&
				atomic_load(&R.slots[s->antecedent].state) ==
					WEFT_CANCELLED;
			if (ran)
				why = "CANCELLED after running";
			else if (!cancel_pending && !s->user_cancelled &&
				 !propagated)
				why = "CANCELLED without CANCEL_PENDING or a "
				      "cancel";
		} else {
			why = "completed in a non-final state";
		}
		if (why) {
			bad++;
			if (bad <= 5)
				fprintf(stderr,
					"  run seed 0x%016" PRIx64
					": slot %u (kind %u, antecedent %d, "
					"on_success %d, fail %d, accepted %d, "
					"cancelled by user %d): ran %u, "
					"completed %u, state %u: %s\n",
					R.seed, i, s->kind, s->antecedent,
					s->on_success, s->will_fail, s->accepted,
					s->user_cancelled, ran, done, st, why);
		}
	}
	return bad;
}

static void one_run(uint64_t index, uint64_t seed)
{
	uint64_t failed_before = harness_failed();
	struct harness_rng rng;
	harness_rng_init(&rng, seed, 0);
	unsigned workers = 1 + (unsigned)harness_rng_below(&rng, 4);
	unsigned mode = (unsigned)harness_rng_below(&rng, 4);
	unsigned per[SUBMITTERS], total = 0;
	for (unsigned i = 0; i < SUBMITTERS; i++) {
		per[i] = (unsigned)harness_rng_below(&rng,
						     MAX_TASKS_PER_SUBMITTER + 1);
		total += per[i];
	}
	unsigned point = (unsigned)harness_rng_below(&rng, total + 1);
	bool stats_check = mode == 0 || mode == 2 ||
			   harness_rng_chance(&rng, 1, 2);

	memset(&R, 0, sizeof(R));
	R.seed = seed;
	R.cap = total * (2 + MAX_LINKS + 2) + 64;
	R.slots = calloc(R.cap, sizeof(*R.slots));
	if (!R.slots) {
		CHECKF(false, "out of memory");
		return;
	}
	R.items_cap = total + 1;
	R.items = calloc(R.items_cap, sizeof(*R.items));
	if (!R.items) {
		CHECKF(false, "out of memory");
		free(R.slots);
		return;
	}
	harness_watchdog_arm(30, "a shutdown run (WEFT_RUN_SEED in parentheses)",
			     seed);

	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = workers;
	cfg.name = "race";
	cfg.spin_ns = (int64_t)harness_rng_below(&rng, 3) * 20000;
	if (!CHECK_RC(weft_pool_create(&R.p, &cfg), 0)) {
		free(R.slots);
		free(R.items);
		return;
	}
	/* The pipeline: 1-2 stages, each unbounded, bounded or ordered. */
	size_t capacity = 1 + harness_rng_below(&rng, 64);
	unsigned plflags = harness_rng_chance(&rng, 1, 2) ? WEFT_PIPELINE_ORDERED
							  : 0;
	CHECK_RC(weft_pipeline_create(R.p, capacity, plflags, &R.pl), 0);
	R.nstages = 1 + (unsigned)harness_rng_below(&rng, 2);
	for (unsigned k = 0; k < R.nstages; k++) {
		unsigned form = (unsigned)harness_rng_below(&rng, 3);
		CHECK_RC(weft_pipeline_stage(R.pl, k ? "two" : "one", stage_fn,
					     (void *)(uintptr_t)k,
					     form == 1 ? 2 : 0,
					     form == 2 ? WEFT_STAGE_ORDERED : 0),
			 0);
	}
	pthread_t consumer;
	if (pthread_create(&consumer, NULL, consumer_main, NULL))
		exit(2);
	struct submitter s[SUBMITTERS];
	for (unsigned i = 0; i < SUBMITTERS; i++) {
		memset(&s[i], 0, sizeof(s[i]));
		s[i].count = per[i];
		harness_rng_init(&s[i].rng, seed, 1 + i);
		if (pthread_create(&s[i].thread, NULL, submitter_main, &s[i]))
			exit(2);
	}
	while (atomic_load(&R.accepted) < point &&
	       atomic_load(&R.submitters_done) < SUBMITTERS)
		sched_yield();

	static const unsigned flags[] = {
		WEFT_SHUTDOWN_WAIT, WEFT_SHUTDOWN_CANCEL_PENDING,
		WEFT_SHUTDOWN_WAIT | WEFT_SHUTDOWN_CANCEL_PENDING, 0};
	atomic_store(&R.shutdown_started, 1);
	int rc = weft_pool_shutdown(R.p, flags[mode]);
	atomic_store(&R.shutdown_returned, 1);
	if (flags[mode] & WEFT_SHUTDOWN_CANCEL_PENDING)
		atomic_store(&R.cancel_returned, 1);
	CHECK_RC(rc, 0);
	uint64_t ran_at_wait = 0, stage_calls_at_wait = 0;
	if (flags[mode] & WEFT_SHUTDOWN_WAIT) {
		for (uint32_t i = 0; i < R.cap; i++)
			ran_at_wait += atomic_load(&R.slots[i].ran);
		stage_calls_at_wait = atomic_load(&R.stage_calls);
	}

	for (unsigned i = 0; i < SUBMITTERS; i++) {
		pthread_join(s[i].thread, NULL);
		T.user_cancels += s[i].user_cancels;
	}
	/* No more pushes: the consumer pops what is left, then 0. */
	CHECK_RC(weft_pipeline_close(R.pl), 0);
	pthread_join(consumer, NULL);
	CHECK_RC(weft_pipeline_destroy(R.pl), 0);
	weft_stats st;
	bool have_stats = false;
	if (stats_check) {
		CHECK_RC(weft_pool_shutdown(R.p, WEFT_SHUTDOWN_WAIT), 0);
		have_stats = CHECK_RC(weft_pool_stats(R.p, &st), 0);
	}
	CHECK_RC(weft_pool_destroy(R.p), 0);
	harness_watchdog_disarm();

	uint32_t used = atomic_load(&R.next);
	if (used > R.cap)
		used = R.cap;
	uint64_t succeeded, failed, cancelled, ran_total;
	uint64_t bad = check_slots(used, flags[mode] & WEFT_SHUTDOWN_CANCEL_PENDING,
				   &succeeded, &failed, &cancelled, &ran_total);
	uint64_t accepted_slots = succeeded + failed + cancelled;
	CHECK_EQ(bad, 0);
	CHECK_EQ(check_items(flags[mode] & WEFT_SHUTDOWN_CANCEL_PENDING), 0);
	CHECK_EQ(atomic_load(&R.errors), 0);
	CHECK_EQ(atomic_load(&R.overflow), 0);
	/* A worker may have taken a task and checked for CANCEL_PENDING
	 * just before the call: at most one such task per worker may still
	 * start after it returned. */
	uint64_t late = atomic_load(&R.late_starts);
	CHECKF(late <= workers,
	       "%" PRIu64 " bodies started after shutdown(CANCEL_PENDING) "
	       "returned (%u workers)",
	       late, workers);
	T.late_starts += late;
	if (flags[mode] & WEFT_SHUTDOWN_WAIT) {
		CHECKF(ran_total == ran_at_wait,
		       "%" PRIu64 " bodies ran after shutdown(WAIT) returned",
		       ran_total - ran_at_wait);
		CHECKF(atomic_load(&R.stage_calls) == stage_calls_at_wait,
		       "%" PRIu64 " stage calls after shutdown(WAIT) returned",
		       atomic_load(&R.stage_calls) - stage_calls_at_wait);
	}
	if (have_stats) {
		/* The pipeline adds its own runner tasks: at least one if
		 * an item was pushed; they never fail (a stage's weft_fail
		 * fails the item) but may be cancelled. */
		uint64_t pushed = atomic_load(&R.pushed);
		CHECKF(st.submitted >= accepted_slots + (pushed > 0),
		       "submitted %" PRIu64 ", futures %" PRIu64
		       ", pushed items %" PRIu64,
		       st.submitted, accepted_slots, pushed);
		uint64_t pipeline_tasks = st.submitted - accepted_slots;
		CHECK_EQ(st.failed, failed);
		CHECKF(st.cancelled >= cancelled &&
			       st.cancelled - cancelled <= pipeline_tasks,
		       "cancelled %" PRIu64 ", futures cancelled %" PRIu64
		       ", pipeline tasks %" PRIu64,
		       st.cancelled, cancelled, pipeline_tasks);
		CHECKF(st.executed >= ran_total &&
			       st.executed <= accepted_slots + pipeline_tasks,
		       "executed %" PRIu64 ", bodies run %" PRIu64
		       ", accepted %" PRIu64 " + %" PRIu64,
		       st.executed, ran_total, accepted_slots, pipeline_tasks);
	}

	T.runs++;
	T.modes[mode]++;
	T.accepted += accepted_slots;
	T.succeeded += succeeded;
	T.failed += failed;
	T.cancelled += cancelled;
	T.rejected_submits += atomic_load(&R.rejected_submits);
	T.rejected_thens += atomic_load(&R.rejected_thens);
	T.pushed += atomic_load(&R.pushed);
	T.rejected_pushes += atomic_load(&R.rejected_pushes);
	T.popped_ok += atomic_load(&R.popped_ok);
	T.popped_failed += atomic_load(&R.popped_failed);
	T.popped_cancelled += atomic_load(&R.popped_cancelled);
	if (atomic_load(&R.max_reject_ns) > T.max_reject_ns)
		T.max_reject_ns = atomic_load(&R.max_reject_ns);
	for (uint32_t i = 0; i < used; i++)
		T.children += R.slots[i].kind == CHILD && R.slots[i].accepted;
	if (harness_failed() != failed_before)
		fprintf(stderr,
			"  run %" PRIu64 " FAILED: seed 0x%016" PRIx64
			" (%u workers, %s, %u tasks, shutdown after %u); "
			"replay it with WEFT_RUN_SEED=0x%016" PRIx64 "\n",
			index, seed, workers, mode_name(mode), total, point,
			seed);
	free(R.slots);
	R.slots = NULL;
	free(R.items);
	R.items = NULL;
}

int main(void)
{
	harness_init("shutdown_race");
	bool one;
	uint64_t run_seed = harness_env_u64("WEFT_RUN_SEED", 0, &one);
	uint64_t runs = one ? harness_env_u64("WEFT_RUNS", 1, NULL)
			    : harness_size(5000, 500, 10);
	/* tools/soak.sh: keep going for this many seconds instead. */
	uint64_t soak_s = harness_env_u64("WEFT_SOAK_SECONDS", 0, NULL);
	int64_t t0 = harness_now_ns();
	if (soak_s)
		runs = UINT64_MAX;
	for (uint64_t i = 0; i < runs; i++) {
		if (soak_s && harness_now_ns() - t0 >= (int64_t)soak_s * 1000000000)
			break;
		uint64_t x = harness.seed ^ (i * 0xD1B54A32D192ED03ull);
		one_run(i, one ? run_seed : harness_splitmix64(&x));
	}
	double dt = (harness_now_ns() - t0) / 1e9;
	printf("  %" PRIu64 " runs in %.2f s (%.1f ms each); shutdown modes "
	       "WAIT/CANCEL_PENDING/both/none+destroy: %" PRIu64 "/%" PRIu64
	       "/%" PRIu64 "/%" PRIu64 "\n",
	       T.runs, dt, T.runs ? dt * 1e3 / T.runs : 0.0, T.modes[0],
	       T.modes[1], T.modes[2], T.modes[3]);
	printf("  accepted futures %" PRIu64 " (%" PRIu64 " children): "
	       "succeeded %" PRIu64 ", failed %" PRIu64 ", cancelled %" PRIu64
	       " (%" PRIu64 " by their submitter)\n",
	       T.accepted, T.children, T.succeeded, T.failed, T.cancelled,
	       T.user_cancels);
	printf("  refused after shutdown: %" PRIu64 " submits, %" PRIu64
	       " thens; slowest refusal %.1f us; bodies started after "
	       "shutdown(CANCEL_PENDING) returned: %" PRIu64 "\n",
	       T.rejected_submits, T.rejected_thens, T.max_reject_ns / 1e3,
	       T.late_starts);
	printf("  pipeline items pushed %" PRIu64 " (%" PRIu64 " refused after "
	       "shutdown): popped %" PRIu64 " through, %" PRIu64 " failed, %" PRIu64
	       " cancelled\n",
	       T.pushed, T.rejected_pushes, T.popped_ok, T.popped_failed,
	       T.popped_cancelled);
	return harness_report();
}
