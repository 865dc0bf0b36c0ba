/*
 * Deque stress: exactly-once delivery and ordering under contention.
 *
 * One owner pushes and takes in a 2:1 ratio (chunks of 2m pushes followed
 * by m takes, m random in 1..8) while THIEVES thieves steal. The deque
 * starts at capacity 2. An eighth of the way in, the owner pushes a burst
 * of BURST items without taking while the thieves keep stealing at full
 * speed. Thieves that keep up with the owner (they may, under sanitizers)
 * keep the deque small, so if the buffer has fewer than BURST slots after
 * that, the thieves slow down (sleep between steals) and the owner keeps
 * pushing until it has: the deque grows at least log2(BURST) - 1 = 19
 * times. At the end the owner drains the deque.
 *
 * Item i is the pointer value i + 1. Checked:
 *  - every item is taken (by the owner or a thief) exactly once: a
 *    per-item counter must end at exactly 1;
 *  - each thief sees strictly increasing items: the deque holds items in
 *    increasing order from top to bottom (pushes append ever larger items
 *    at the bottom; take and steal remove at the ends), and each steal
 *    claims a larger index than the thief's previous one;
 *  - the owner's first take after a push returns the item just pushed, or
 *    NULL (a thief stole it as the last element); consecutive takes with no
 *    push between them return strictly decreasing items, and once a take
 *    returns NULL the rest of the chunk returns NULL (only the owner adds);
 *  - the deque grew at least 19 times, and is empty at the end.
 *
 * It runs in both reclaim modes. In WEFT__RECLAIM_QSBR mode every thread
 * registers with liburcu-qsbr, thieves report a quiescent state between
 * steals (never inside one), the owner every few chunks, so retired
 * buffers are really freed while thieves run. (With only ~19 grows a
 * premature free is unlikely to be caught here; deque_regrow repeats the
 * grows thousands of times for that.)
 *
 * Under ThreadSanitizer only WEFT__RECLAIM_AT_DESTROY runs: liburcu 0.13
 * synchronizes with inline asm that TSan cannot see, so QSBR mode would
 * report false races on the freed buffers.
 *
 * Usage: deque_stress [at_destroy|qsbr]   (default: both modes)
 */
#include "deque/deque.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <urcu/urcu-qsbr.h>

#include "stress.h"

#define THIEVES 3
#define BURST (INT64_C(1) << 20)
#define MAX_CHUNK 8 /* m: a chunk is 2m pushes then m takes */

struct thief {
	pthread_t tid;
	struct run *run;
	unsigned id;
	uint64_t stolen, retries, empties;
	uint64_t order_bad, bad_items;
	uint64_t first_bad_prev, first_bad; /* first order violation seen */
};

struct run {
	struct weft__deque d;
	enum weft__deque_reclaim reclaim;
	uint64_t items;
	uint64_t burst_at;  /* item number at which the burst starts */
	int64_t burst_min;  /* pushes without taking, and slots to reach */
	/* Set by the owner while it extends the burst, cleared after it;
	 * read by thieves (relaxed, both: it only changes their pace). */
	_Atomic bool throttle;
	/* Per-item counters: incremented by whoever takes the item, owner or
	 * thief (relaxed: only the final value matters, read by the main
	 * thread after joining everyone). */
	_Atomic uint8_t *taken;
	/* Set by the owner once it pushed everything and drained the deque
	 * (release); read by thieves (acquire) when a steal finds it empty,
	 * to know they may stop. */
	_Atomic bool done;
	/* Owner's figures. */
	uint64_t owner_taken, grows, burst_len, throttled, push_failed;
	int64_t max_cap;
	uint64_t order_bad, bad_items;
	struct thief thieves[THIEVES];
};

static const char *mode_name(enum weft__deque_reclaim m)
{
	return m == WEFT__RECLAIM_QSBR ? "qsbr" : "at_destroy";
}

static int64_t capacity(struct weft__deque *d)
{
	/* relaxed: called by the owner, the only writer of buf. */
	return atomic_load_explicit(&d->buf, memory_order_relaxed)->mask + 1;
}

/* Counts item x as taken; false if x is not an item of this run. */
static bool record(struct run *r, void *x, uint64_t *seq)
{
	uintptr_t v = (uintptr_t)x;

	if (v == 0 || v > r->items)
		return false;
	*seq = v - 1;
	/* relaxed: see the comment on taken. */
	atomic_fetch_add_explicit(&r->taken[*seq], 1, memory_order_relaxed);
	return true;
}

static void *thief_main(void *arg)
{
	struct thief *th = arg;
	struct run *r = th->run;
	bool qsbr = r->reclaim == WEFT__RECLAIM_QSBR;
	struct stress_rng rng;
	uint64_t last = 0, seq;
	bool have_last = false;

	stress_rng_init(&rng, stress_seed(), 100 + th->id);
	if (qsbr)
		urcu_qsbr_register_thread();
	for (;;) {
		void *x = NULL;
		enum weft__steal_result res = weft__deque_steal(&r->d, &x);

		/* Between two steals, never inside one: the buffer a steal
		 * reads may be freed once this returns. */
		if (qsbr)
			urcu_qsbr_quiescent_state();
		if (res == WEFT__STEAL_OK) {
			if (!record(r, x, &seq)) {
				th->bad_items++;
				continue;
			}
			th->stolen++;
			if (have_last && seq <= last && !th->order_bad++) {
				th->first_bad_prev = last;
				th->first_bad = seq;
			}
			last = seq;
			have_last = true;
		} else if (res == WEFT__STEAL_RETRY) {
			th->retries++;
		} else {
			th->empties++;
			/* acquire: pairs with the owner's release store of
			 * done; the deque stays empty from then on. */
			if (atomic_load_explicit(&r->done,
						 memory_order_acquire))
				break;
			stress_cpu_relax();
		}
		/* Now and then a short pause, so the thieves do not move in
		 * lockstep. */
		if (stress_rng_below(&rng, 16) == 0)
			stress_spin(stress_rng_below(&rng, 64));
		/* relaxed: see throttle. */
		if (atomic_load_explicit(&r->throttle, memory_order_relaxed))
			nanosleep(&(struct timespec){ .tv_nsec = 1000 }, NULL);
	}
	if (qsbr)
		urcu_qsbr_unregister_thread();
	return NULL;
}

/* Owner: push item seq; counts grows. Returns false if the push failed. */
static bool owner_push(struct run *r, uint64_t seq, int64_t *cap)
{
	if (weft__deque_push(&r->d, (void *)(uintptr_t)(seq + 1))) {
		r->push_failed++;
		return false;
	}
	int64_t c = capacity(&r->d);
	if (c != *cap) {
		r->grows++;
		*cap = c;
		if (c > r->max_cap)
			r->max_cap = c;
	}
	return true;
}

/*
 * Owner: takes up to n items (n < 0: until empty) with no push in between.
 * just_pushed is the item pushed last (or UINT64_MAX if the last operation
 * was not a push). Checks the ordering rules in the header comment.
 */
static void owner_takes(struct run *r, int64_t n, uint64_t just_pushed)
{
	uint64_t prev = just_pushed, seq;
	bool first = true, saw_null = false;

	for (int64_t i = 0; n < 0 || i < n; i++) {
		void *x = weft__deque_take(&r->d);

		if (!x) {
			saw_null = true;
			if (n < 0)
				return;
			continue;
		}
		if (!record(r, x, &seq)) {
			r->bad_items++;
			continue;
		}
		r->owner_taken++;
		if (saw_null) {
			r->order_bad++; /* something appeared after NULL */
		} else if (first && just_pushed != UINT64_MAX) {
			if (seq != just_pushed)
				r->order_bad++;
		} else if (!first && seq >= prev) {
			r->order_bad++;
		}
		prev = seq;
		first = false;
	}
}

static void *owner_main(void *arg)
{
	struct run *r = arg;
	bool qsbr = r->reclaim == WEFT__RECLAIM_QSBR;
	struct stress_rng rng;
	uint64_t seq = 0, chunks = 0;
	int64_t cap = capacity(&r->d);
	bool burst_done = false;

	stress_rng_init(&rng, stress_seed(), 1);
	if (qsbr)
		urcu_qsbr_register_thread();
	r->max_cap = cap;
	while (seq < r->items) {
		if (!burst_done && seq >= r->burst_at) {
			stress_phase("burst");
			uint64_t start = seq;
			while (seq < r->items &&
			       (int64_t)(seq - start) < r->burst_min) {
				if (!owner_push(r, seq, &cap))
					goto out;
				seq++;
			}
			uint64_t mid = seq;
			if (cap < r->burst_min) {
				stress_phase("burst, thieves throttled");
				/* relaxed: see throttle. */
				atomic_store_explicit(&r->throttle, true,
						      memory_order_relaxed);
			}
			while (seq < r->items && cap < r->burst_min) {
				if (!owner_push(r, seq, &cap))
					goto out;
				seq++;
			}
			/* relaxed: see throttle. */
			atomic_store_explicit(&r->throttle, false,
					      memory_order_relaxed);
			r->burst_len = seq - start;
			r->throttled = seq - mid;
			burst_done = true;
			stress_phase("push 2 : take 1");
			continue;
		}
		uint64_t m = 1 + stress_rng_below(&rng, MAX_CHUNK);
		uint64_t pushed = 0;
		for (; pushed < 2 * m && seq < r->items; pushed++) {
			if (!owner_push(r, seq, &cap))
				goto out;
			seq++;
		}
		owner_takes(r, (int64_t)m, pushed ? seq - 1 : UINT64_MAX);
		/* Outside any steal or take: lets grace periods end, so
		 * call_rcu frees retired buffers while the thieves run. */
		if (qsbr && ++chunks % 64 == 0)
			urcu_qsbr_quiescent_state();
	}
out:
	stress_phase("drain");
	owner_takes(r, -1, UINT64_MAX);
	/* release: pairs with the thieves' acquire load of done. */
	atomic_store_explicit(&r->done, true, memory_order_release);
	if (qsbr)
		urcu_qsbr_unregister_thread();
	return NULL;
}

static void run_mode(enum weft__deque_reclaim mode, uint64_t items)
{
	struct run *r = calloc(1, sizeof(*r));
	const char *name = mode_name(mode);
	int err;

	if (!r) {
		STRESS_CHECK(0, "out of memory");
		return;
	}
	r->reclaim = mode;
	r->items = items;
	r->burst_at = items / 8;
	r->burst_min = BURST;
	while (r->burst_min > 2 && (uint64_t)r->burst_min > items / 2)
		r->burst_min /= 2;
	r->taken = calloc(items, sizeof(r->taken[0]));
	err = weft__deque_init(&r->d, 2, mode);
	STRESS_CHECK(err == 0 && r->taken, "%s: init: %d", name, err);
	if (err || !r->taken) {
		free(r->taken);
		free(r);
		return;
	}
	atomic_init(&r->done, false);
	atomic_init(&r->throttle, false);

	stress_phase("push 2 : take 1");
	uint64_t t0 = stress_now_ns();
	pthread_t owner;
	err = pthread_create(&owner, NULL, owner_main, r);
	STRESS_CHECK(err == 0, "pthread_create: %d", err);
	if (err)
		exit(2);
	for (unsigned i = 0; i < THIEVES; i++) {
		r->thieves[i].run = r;
		r->thieves[i].id = i;
		err = pthread_create(&r->thieves[i].tid, NULL, thief_main,
				     &r->thieves[i]);
		STRESS_CHECK(err == 0, "pthread_create: %d", err);
		if (err)
			exit(2);
	}
	pthread_join(owner, NULL);
	for (unsigned i = 0; i < THIEVES; i++)
		pthread_join(r->thieves[i].tid, NULL);
	double secs = (double)(stress_now_ns() - t0) / 1e9;

	stress_phase("check");
	uint64_t stolen = 0, retries = 0, empties = 0;
	uint64_t bad_items = r->bad_items;
	char per_thief[128] = "";
	for (unsigned i = 0; i < THIEVES; i++) {
		struct thief *th = &r->thieves[i];
		size_t len = strlen(per_thief);

		stolen += th->stolen;
		retries += th->retries;
		empties += th->empties;
		bad_items += th->bad_items;
		snprintf(per_thief + len, sizeof(per_thief) - len, "%s%" PRIu64,
			 i ? "/" : "", th->stolen);
		STRESS_CHECK(th->order_bad == 0,
			     "%s: thief %u saw %" PRIu64 " out-of-order items "
			     "(first: %" PRIu64 " after %" PRIu64 ")",
			     name, i, th->order_bad, th->first_bad,
			     th->first_bad_prev);
	}
	printf("%s: reclaim=%s items=%" PRIu64 " grows=%" PRIu64
	       " max_capacity=%" PRId64 " burst=%" PRIu64 " (throttled %" PRIu64
	       ") owner_took=%" PRIu64
	       " stolen=%" PRIu64 " (%s) steal_retry=%" PRIu64
	       " steal_empty=%" PRIu64 " time=%.2fs (%.0f ns/item)\n",
	       "deque_stress", name, items, r->grows, r->max_cap, r->burst_len,
	       r->throttled, r->owner_taken, stolen, per_thief, retries,
	       empties, secs, secs * 1e9 / (double)items);

	uint64_t zero = 0, multi = 0, first_wrong = UINT64_MAX;
	for (uint64_t i = 0; i < items; i++) {
		/* relaxed: every thread has been joined. */
		uint8_t c = atomic_load_explicit(&r->taken[i],
						 memory_order_relaxed);
		if (c == 1)
			continue;
		if (c == 0)
			zero++;
		else
			multi++;
		if (first_wrong == UINT64_MAX)
			first_wrong = i;
	}
	STRESS_CHECK(zero == 0 && multi == 0,
		     "%s: %" PRIu64 " items never taken, %" PRIu64
		     " taken more than once (first: item %" PRIu64 ")",
		     name, zero, multi, first_wrong);
	STRESS_CHECK(r->owner_taken + stolen == items,
		     "%s: owner took %" PRIu64 " + thieves stole %" PRIu64
		     " != %" PRIu64 " items", name, r->owner_taken, stolen,
		     items);
	STRESS_CHECK(bad_items == 0, "%s: %" PRIu64 " values that are no item",
		     name, bad_items);
	STRESS_CHECK(r->order_bad == 0,
		     "%s: %" PRIu64 " owner takes out of order", name,
		     r->order_bad);
	STRESS_CHECK(r->push_failed == 0, "%s: push failed", name);
	/* From capacity 2 to burst_min slots takes log2(burst_min) - 1
	 * doublings. */
	uint64_t want = 0;
	for (int64_t c = 2; c < r->burst_min; c *= 2)
		want++;
	STRESS_CHECK(r->grows >= want && r->max_cap >= r->burst_min,
		     "%s: grew %" PRIu64 " times to %" PRId64
		     " slots; want >= %" PRIu64 " times, %" PRId64 " slots",
		     name, r->grows, r->max_cap, want, r->burst_min);
	void *x = NULL;
	STRESS_CHECK(weft__deque_size(&r->d) == 0 &&
		     weft__deque_steal(&r->d, &x) == WEFT__STEAL_EMPTY &&
		     weft__deque_take(&r->d) == NULL,
		     "%s: deque not empty at the end", name);

	if (mode == WEFT__RECLAIM_QSBR)
		/* From this unregistered thread: waits until every buffer
		 * handed to call_rcu has been freed. */
		urcu_qsbr_barrier();
	weft__deque_destroy(&r->d);
	free(r->taken);
	free(r);
}

int main(int argc, char **argv)
{
	bool at_destroy = true, qsbr = !STRESS_TSAN;

	if (argc > 1) {
		at_destroy = !strcmp(argv[1], "at_destroy");
		qsbr = !strcmp(argv[1], "qsbr");
		if (argc > 2 || (!at_destroy && !qsbr)) {
			fprintf(stderr, "usage: %s [at_destroy|qsbr]\n",
				argv[0]);
			return 2;
		}
		if (qsbr && STRESS_TSAN) {
			fprintf(stderr, "%s: no qsbr mode under "
				"ThreadSanitizer (see the header comment)\n",
				argv[0]);
			return 2;
		}
	}
	stress_init("deque_stress", STRESS_DEFAULT(300, 600));
	uint64_t items = stress_scaled(STRESS_DEFAULT(10000000, 5000000));
	if (at_destroy)
		run_mode(WEFT__RECLAIM_AT_DESTROY, items);
	if (qsbr)
		run_mode(WEFT__RECLAIM_QSBR, items);
	return stress_finish();
}
