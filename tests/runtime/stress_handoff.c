/*
 * Future handoffs: one thread completes (or cancels) a future, others
 * wait on it.
 *
 * A. Bulk: 4 outside threads submit batches of short tasks and wait on
 *    them in random order; most waits find the task still running.
 * B. Many waiters: each round one future, 4 threads waiting on it (get,
 *    wait forever, wait with a long timeout, or polling), completed by a
 *    worker after a random delay or cancelled by the coordinator.
 *    A + B: at least 1,000,000 handoffs (100,000 under TSan).
 * C. Timed waits: 100,000 waits (10,000 under TSan) with random 0-2 ms
 *    timeouts on a future that cannot complete, from 16 threads under a
 *    SIGUSR1 storm (each thread well over 1,000 signals/s), plus some from
 *    workers; none may return before its deadline (CLOCK_MONOTONIC) or
 *    return anything but -ETIMEDOUT.
 * The watchdog turns a lost wake-up into a failure.
 */
#include <signal.h>

#include "harness.h"
#include "weft.h"

static weft_pool *pool;  /* 2 workers: runs the tasks */
static weft_pool *stuck; /* 1 worker, held by a gate: futures stay pending */
static _Atomic int gate_open;

static void *gate_task(void *arg)
{
	while (!atomic_load(&gate_open))
		harness_sleep_ns(1000000);
	return arg;
}

static void spin_ns(int64_t ns)
{
	int64_t end = harness_now_ns() + ns;
	while (harness_now_ns() < end)
		;
}

/* arg: value << 16 | spin in units of 100 ns. */
static void *work(void *arg)
{
	uintptr_t v = (uintptr_t)arg;
	spin_ns((int64_t)(v & 0xFFFF) * 100);
	return (void *)(v >> 16);
}

/*
 * A. Bulk handoffs.
 */

#define BATCH 32

struct bulk {
	pthread_t thread;
	struct harness_rng rng;
	uint64_t count, waited, not_done, errors;
};

static void *bulk_main(void *arg)
{
	struct bulk *b = arg;
	weft_future *f[BATCH];
	uintptr_t want[BATCH];
	unsigned order[BATCH];
	uint64_t done = 0;
	while (done < b->count) {
		unsigned n = 1 + (unsigned)harness_rng_below(&b->rng, BATCH);
		if (n > b->count - done)
			n = (unsigned)(b->count - done);
		for (unsigned i = 0; i < n; i++) {
			want[i] = (uintptr_t)harness_rng_below(&b->rng, 1u << 20);
			uintptr_t spin = (uintptr_t)harness_rng_below(&b->rng, 21);
			if (weft_submit(pool, work,
					(void *)(want[i] << 16 | spin), &f[i])) {
				b->errors++;
				f[i] = NULL;
			}
			order[i] = i;
		}
		for (unsigned i = n; i > 1; i--) {
			unsigned j = (unsigned)harness_rng_below(&b->rng, i);
			unsigned t = order[i - 1];
			order[i - 1] = order[j];
			order[j] = t;
		}
		for (unsigned k = 0; k < n; k++) {
			unsigned i = order[k];
			if (!f[i])
				continue;
			b->not_done += !weft_future_done(f[i]);
			void *r = NULL;
			if (weft_future_get(f[i], &r) || r != (void *)want[i])
				b->errors++;
			b->waited++;
			weft_future_release(f[i]);
		}
		done += n;
	}
	return NULL;
}

static uint64_t phase_bulk(uint64_t n)
{
	struct bulk b[4];
	int64_t t0 = harness_now_ns();
	harness_watchdog_arm(HARNESS_TSAN ? 600 : 120, "bulk handoffs", 0);
	for (unsigned i = 0; i < 4; i++) {
		memset(&b[i], 0, sizeof(b[i]));
		harness_rng_init(&b[i].rng, harness.seed, 100 + i);
		b[i].count = n * (i + 1) / 4 - n * i / 4;
		if (pthread_create(&b[i].thread, NULL, bulk_main, &b[i]))
			exit(2);
	}
	uint64_t waited = 0, not_done = 0, errors = 0;
	for (unsigned i = 0; i < 4; i++) {
		pthread_join(b[i].thread, NULL);
		waited += b[i].waited;
		not_done += b[i].not_done;
		errors += b[i].errors;
	}
	harness_watchdog_disarm();
	int64_t dt = harness_now_ns() - t0;
	printf("  A: %" PRIu64 " handoffs from 4 threads in %.2f s (%.0f/s); "
	       "%" PRIu64 " found the task not yet done\n",
	       waited, dt / 1e9, waited / (dt / 1e9), not_done);
	CHECK_EQ(waited, n);
	CHECK_EQ(errors, 0);
	return waited;
}

/*
 * B. Several waiters per future.
 */

#define WAITERS 4

static pthread_barrier_t round_start, round_end;
static struct {
	weft_future *f;
	uintptr_t value;
	bool cancel;
	bool last;
} slot;

struct waiter {
	pthread_t thread;
	struct harness_rng rng;
	uint64_t waits, errors, modes[4];
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	for (;;) {
		pthread_barrier_wait(&round_start);
		if (slot.last)
			return NULL;
		weft_future *f = slot.f;
		unsigned mode = (unsigned)harness_rng_below(&w->rng, 4);
		w->modes[mode]++;
		int rc;
		void *r = NULL;
		switch (mode) {
		case 0:
			rc = weft_future_get(f, &r);
			break;
		case 1:
			rc = weft_future_wait(f, WEFT_FOREVER);
			break;
		case 2:
			rc = weft_future_wait(f, 30000000000);
			break;
		default:
			while ((rc = weft_future_wait(f, 0)) == -ETIMEDOUT)
				sched_yield();
			break;
		}
		if (rc == 0 && mode != 0)
			rc = weft_future_get(f, &r);
		if (slot.cancel ? rc != -ECANCELED
				: rc != 0 || r != (void *)slot.value)
			w->errors++;
		w->waits++;
		weft_future_release(f);
		pthread_barrier_wait(&round_end);
	}
}

static uint64_t phase_waiters(uint64_t rounds)
{
	struct waiter w[WAITERS];
	struct harness_rng rng;
	harness_rng_init(&rng, harness.seed, 200);
	pthread_barrier_init(&round_start, NULL, WAITERS + 1);
	pthread_barrier_init(&round_end, NULL, WAITERS + 1);
	for (unsigned i = 0; i < WAITERS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		harness_rng_init(&w[i].rng, harness.seed, 300 + i);
		if (pthread_create(&w[i].thread, NULL, waiter_main, &w[i]))
			exit(2);
	}
	uint64_t cancelled = 0, errors = 0;
	int64_t t0 = harness_now_ns();
	for (uint64_t r = 0; r < rounds; r++) {
		harness_watchdog_arm(HARNESS_TSAN ? 60 : 10,
				     "a round of 4 waiters on one future", r);
		slot.cancel = harness_rng_below(&rng, 4) == 0;
		slot.value = (uintptr_t)(r & 0xFFFFF);
		uintptr_t spin = (uintptr_t)harness_rng_below(&rng, 201);
		int64_t delay = (int64_t)harness_rng_below(&rng, 20001);
		weft_future *f;
		if (weft_submit(slot.cancel ? stuck : pool, work,
				(void *)(slot.value << 16 | spin), &f)) {
			errors++;
			continue;
		}
		for (unsigned i = 0; i < WAITERS; i++)
			weft_future_retain(f);
		slot.f = f;
		pthread_barrier_wait(&round_start);
		if (slot.cancel) {
			spin_ns(delay);
			if (!weft_future_cancel(f))
				errors++;
			cancelled++;
		}
		pthread_barrier_wait(&round_end);
		weft_future_release(f);
	}
	slot.last = true;
	pthread_barrier_wait(&round_start);
	uint64_t waits = 0, modes[4] = {0, 0, 0, 0};
	for (unsigned i = 0; i < WAITERS; i++) {
		pthread_join(w[i].thread, NULL);
		waits += w[i].waits;
		errors += w[i].errors;
		for (int m = 0; m < 4; m++)
			modes[m] += w[i].modes[m];
	}
	harness_watchdog_disarm();
	pthread_barrier_destroy(&round_start);
	pthread_barrier_destroy(&round_end);
	int64_t dt = harness_now_ns() - t0;
	printf("  B: %" PRIu64 " rounds x %d waiters = %" PRIu64
	       " handoffs in %.2f s; %" PRIu64 " rounds cancelled; waits by "
	       "get/forever/timed/poll: %" PRIu64 "/%" PRIu64 "/%" PRIu64
	       "/%" PRIu64 "\n",
	       rounds, WAITERS, waits, dt / 1e9, cancelled, modes[0], modes[1],
	       modes[2], modes[3]);
	CHECK_EQ(waits, rounds * WAITERS);
	CHECK_EQ(errors, 0);
	return waits;
}

/*
 * C. Timed waits under a signal storm.
 */

#define TIMED_THREADS 16

static _Atomic uint64_t signals;
static _Atomic int storm_stop;
static weft_future *never; /* queued behind stuck's gate */

static void on_sigusr1(int sig)
{
	(void)sig;
	atomic_fetch_add_explicit(&signals, 1, memory_order_relaxed);
}

struct timed {
	pthread_t thread;
	_Atomic int finished; /* the storm leaves it alone from then on */
	struct harness_rng rng;
	uint64_t count, early, wrong_rc;
	int64_t max_late, sum_late, worst_early;
};

static void timed_wait_once(struct timed *t)
{
	int64_t timeout = (int64_t)harness_rng_below(&t->rng, 2000001);
	int64_t t0 = harness_now_ns();
	int rc = weft_future_wait(never, timeout);
	int64_t dt = harness_now_ns() - t0;
	if (rc != -ETIMEDOUT)
		t->wrong_rc++;
	if (dt < timeout) {
		t->early++;
		if (timeout - dt > t->worst_early)
			t->worst_early = timeout - dt;
	} else {
		t->sum_late += dt - timeout;
		if (dt - timeout > t->max_late)
			t->max_late = dt - timeout;
	}
}

static void *timed_main(void *arg)
{
	struct timed *t = arg;
	for (uint64_t i = 0; i < t->count; i++)
		timed_wait_once(t);
	atomic_store(&t->finished, 1);
	return NULL;
}

/* The same from a worker: it helps (finds nothing) and sleeps in slices
 * up to the deadline. */
static void *timed_task(void *arg)
{
	timed_wait_once(arg);
	return NULL;
}

struct storm {
	pthread_t thread;
	struct timed *targets;
};

static void *storm_main(void *arg)
{
	struct storm *s = arg;
	while (!atomic_load(&storm_stop)) {
		for (unsigned i = 0; i < TIMED_THREADS; i++)
			if (!atomic_load(&s->targets[i].finished))
				pthread_kill(s->targets[i].thread, SIGUSR1);
		harness_sleep_ns(500000);
	}
	return NULL;
}

static void phase_timed(uint64_t n, uint64_t on_workers)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigusr1;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: interrupted futex waits return */
	sigaction(SIGUSR1, &sa, NULL);

	CHECK_RC(weft_submit(stuck, work, NULL, &never), 0);
	struct timed t[TIMED_THREADS];
	int64_t t0 = harness_now_ns();
	harness_watchdog_arm(HARNESS_TSAN ? 600 : 120, "timed waits", 0);
	for (unsigned i = 0; i < TIMED_THREADS; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		harness_rng_init(&t[i].rng, harness.seed, 400 + i);
		t[i].count = n * (i + 1) / TIMED_THREADS - n * i / TIMED_THREADS;
		if (pthread_create(&t[i].thread, NULL, timed_main, &t[i]))
			exit(2);
	}
	struct storm s = {.targets = t};
	if (pthread_create(&s.thread, NULL, storm_main, &s))
		exit(2);

	/* Worker-side timed waits, on the running pool. */
	struct timed wt;
	memset(&wt, 0, sizeof(wt));
	harness_rng_init(&wt.rng, harness.seed, 500);
	uint64_t submit_errors = 0;
	for (uint64_t i = 0; i < on_workers; i++) {
		weft_future *f;
		if (weft_submit(pool, timed_task, &wt, &f)) {
			submit_errors++;
			continue;
		}
		/* One at a time: wt is not shared between workers. */
		if (weft_future_get(f, NULL))
			submit_errors++;
		weft_future_release(f);
	}

	/* Stop the storm before joining: a joined thread must not be
	 * signalled. */
	for (unsigned i = 0; i < TIMED_THREADS; i++)
		while (!atomic_load(&t[i].finished))
			harness_sleep_ns(1000000);
	atomic_store(&storm_stop, 1);
	pthread_join(s.thread, NULL);
	uint64_t early = 0, wrong = 0, count = 0;
	int64_t max_late = 0, sum_late = 0, worst_early = 0;
	for (unsigned i = 0; i < TIMED_THREADS; i++) {
		pthread_join(t[i].thread, NULL);
		count += t[i].count;
		early += t[i].early;
		wrong += t[i].wrong_rc;
		sum_late += t[i].sum_late;
		if (t[i].max_late > max_late)
			max_late = t[i].max_late;
		if (t[i].worst_early > worst_early)
			worst_early = t[i].worst_early;
	}
	harness_watchdog_disarm();
	int64_t dt = harness_now_ns() - t0;
	printf("  C: %" PRIu64 " timed waits (0-2 ms) from %d threads in "
	       "%.2f s under %" PRIu64 " SIGUSR1; early %" PRIu64
	       " (worst %.1f us), wrong result %" PRIu64
	       ", lateness mean %.1f us max %.1f us\n",
	       count, TIMED_THREADS, dt / 1e9, atomic_load(&signals), early,
	       worst_early / 1e3, wrong,
	       count ? (double)sum_late / (double)(count - early) / 1e3 : 0.0,
	       max_late / 1e3);
	printf("  C: %" PRIu64 " timed waits on workers: early %" PRIu64
	       ", wrong result %" PRIu64 ", lateness mean %.1f us max %.1f "
	       "us\n",
	       on_workers, wt.early, wt.wrong_rc,
	       on_workers ? (double)wt.sum_late /
				    (double)(on_workers - wt.early) / 1e3
			  : 0.0,
	       wt.max_late / 1e3);
	CHECK_EQ(count, n);
	CHECK_EQ(early, 0);
	CHECK_EQ(wrong, 0);
	CHECK_EQ(wt.early, 0);
	CHECK_EQ(wt.wrong_rc, 0);
	CHECK_EQ(submit_errors, 0);
	CHECK(atomic_load(&signals) > 0);
	CHECK_EQ(weft_future_state(never), WEFT_PENDING);
}

int main(void)
{
	harness_init("handoff");
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = 2;
	cfg.name = "handoff";
	if (!CHECK_RC(weft_pool_create(&pool, &cfg), 0))
		return harness_report();
	cfg.workers = 1;
	cfg.name = "stuck";
	if (!CHECK_RC(weft_pool_create(&stuck, &cfg), 0))
		return harness_report();
	weft_future *gate;
	CHECK_RC(weft_submit(stuck, gate_task, NULL, &gate), 0);

	uint64_t handoffs = harness_size(1000000, 100000, 1000);
	uint64_t rounds = harness_size(25000, 2500, 10);
	uint64_t bulk = handoffs > rounds * WAITERS ? handoffs - rounds * WAITERS
						    : 0;
	uint64_t total = phase_bulk(bulk);
	total += phase_waiters(rounds);
	printf("  A+B: %" PRIu64 " handoffs\n", total);
	CHECK(total >= handoffs);

	phase_timed(harness_size(100000, 10000, 100),
		    harness_size(2000, 200, 10));

	/* Let the stuck pool go: the never-completing future runs now. */
	atomic_store(&gate_open, 1);
	harness_watchdog_arm(30, "destroying the pools", 0);
	CHECK_RC(weft_future_get(gate, NULL), 0);
	CHECK_RC(weft_future_get(never, NULL), 0);
	weft_future_release(gate);
	weft_future_release(never);
	CHECK_RC(weft_pool_destroy(stuck), 0);
	CHECK_RC(weft_pool_destroy(pool), 0);
	harness_watchdog_disarm();
	return harness_report();
}
