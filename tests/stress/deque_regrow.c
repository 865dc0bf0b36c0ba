/*
 * Deque stress: buffer reclamation under many grows.
 *
 * deque_stress grows one deque about 19 times, so a buffer freed too early
 * has few chances to be read. Here the owner builds a fresh deque at
 * capacity 2 every cycle and pushes a seeded burst of 2^8 to 2^13 items
 * into it while THIEVES thieves steal, then drains it; that is about ten
 * grows per cycle, each retiring a buffer that a thief may be reading
 * (thieves stealing from a small deque are often between their load of
 * buf and their slot read when the owner swaps buffers).
 *
 * Cycles alternate between the two reclaim modes. In WEFT__RECLAIM_QSBR
 * mode every thread is a registered QSBR thread; thieves report a
 * quiescent state between steals, the owner between pushes, so call_rcu
 * frees retired buffers during the cycle. A buffer freed before every
 * thief that may read it has passed a quiescent state shows up as a
 * heap-use-after-free in an ASan build. Every item must be taken exactly
 * once per cycle.
 *
 * Under ThreadSanitizer only WEFT__RECLAIM_AT_DESTROY runs (liburcu 0.13's
 * asm atomics are invisible to TSan).
 */
#include "deque/deque.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <urcu/urcu-qsbr.h>

#include "stress.h"

#define THIEVES 3
#define MIN_SHIFT 8
#define MAX_SHIFT 13
#define MAX_ITEMS (1u << MAX_SHIFT)

struct thief {
	pthread_t tid;
	unsigned id;
	uint64_t stolen, retries, bad_items;
};

static struct weft__deque d;
static struct stress_barrier start, end;
/* Written by the owner before the start barrier, read by the thieves
 * after it (the barrier orders them). */
static enum weft__deque_reclaim mode;
static bool stop;
static unsigned n_items;
/* Set by the owner once it has pushed and drained this cycle's items
 * (release); read by thieves after an EMPTY steal (acquire). Reset by the
 * owner between the end and start barriers. */
static _Atomic bool drained;
/* Per-item counters of this cycle (relaxed: read and reset by the owner
 * after the end barrier). */
static _Atomic uint8_t taken[MAX_ITEMS];
static struct thief thieves[THIEVES];

static bool record(void *x)
{
	uintptr_t v = (uintptr_t)x;

	if (v == 0 || v > n_items)
		return false;
	/* relaxed: see taken. */
	atomic_fetch_add_explicit(&taken[v - 1], 1, memory_order_relaxed);
	return true;
}

/* A thief whose steal found the deque empty: may it stop? */
static bool is_drained(void)
{
	/* acquire: pairs with the owner's release store of drained; nothing
	 * is pushed after it. */
	return atomic_load_explicit(&drained, memory_order_acquire);
}

static void *thief_main(void *arg)
{
	struct thief *th = arg;
	bool registered = false;

	for (;;) {
		stress_barrier_wait(&start);
		if (stop)
			break;
		bool qsbr = mode == WEFT__RECLAIM_QSBR;
		if (qsbr && !registered) {
			urcu_qsbr_register_thread();
			registered = true;
		}
		if (qsbr)
			urcu_qsbr_thread_online();
		for (;;) {
			void *x = NULL;
			enum weft__steal_result res = weft__deque_steal(&d, &x);

			/* Between steals only. */
			if (qsbr)
				urcu_qsbr_quiescent_state();
			if (res == WEFT__STEAL_OK) {
				if (record(x))
					th->stolen++;
				else
					th->bad_items++;
			} else if (res == WEFT__STEAL_RETRY) {
				th->retries++;
			} else if (is_drained()) {
				break;
			}
		}
		/* Offline while the owner checks and rebuilds the deque, so
		 * grace periods need not wait for this thread. */
		if (qsbr)
			urcu_qsbr_thread_offline();
		stress_barrier_wait(&end);
	}
	if (registered)
		urcu_qsbr_unregister_thread();
	return NULL;
}

int main(void)
{
	struct stress_rng rng;
	uint64_t cycles, grows = 0, items = 0, owner_taken = 0;
	uint64_t bad_cycles = 0, bad_items = 0, init_failed = 0;
	uint64_t push_failed = 0, first_bad = UINT64_MAX;
	uint64_t per_mode[2] = {0};
	int err;

	stress_init("deque_regrow", STRESS_DEFAULT(300, 600));
	cycles = stress_scaled(STRESS_DEFAULT(10000, 4000));
	stress_rng_init(&rng, stress_seed(), 1);
	stress_barrier_init(&start, THIEVES + 1);
	stress_barrier_init(&end, THIEVES + 1);
	if (!STRESS_TSAN) {
		/* Online only while it pushes in QSBR mode. */
		urcu_qsbr_register_thread();
		urcu_qsbr_thread_offline();
	}
	for (unsigned i = 0; i < THIEVES; i++) {
		thieves[i].id = i;
		err = pthread_create(&thieves[i].tid, NULL, thief_main,
				     &thieves[i]);
		if (err) {
			fprintf(stderr, "pthread_create: %d\n", err);
			exit(2);
		}
	}

	stress_phase("cycles");
	uint64_t t0 = stress_now_ns();
	for (uint64_t c = 0; c < cycles; c++) {
		mode = STRESS_TSAN || c % 2 ? WEFT__RECLAIM_AT_DESTROY
					    : WEFT__RECLAIM_QSBR;
		bool qsbr = mode == WEFT__RECLAIM_QSBR;
		n_items = 1u << (MIN_SHIFT +
				 stress_rng_below(&rng,
						  MAX_SHIFT - MIN_SHIFT + 1));
		if (weft__deque_init(&d, 2, mode)) {
			init_failed++;
			break;
		}
		/* relaxed: the thieves read it only after the start
		 * barrier. */
		atomic_store_explicit(&drained, false, memory_order_relaxed);
		if (qsbr)
			urcu_qsbr_thread_online();
		stress_barrier_wait(&start);

		/* relaxed: the owner is the only writer of buf. */
		struct weft__deque_buf *buf =
			atomic_load_explicit(&d.buf, memory_order_relaxed);
		for (unsigned i = 0; i < n_items; i++) {
			if (weft__deque_push(&d, (void *)(uintptr_t)(i + 1))) {
				push_failed++;
				break;
			}
			/* relaxed: as above. */
			struct weft__deque_buf *now =
				atomic_load_explicit(&d.buf,
						     memory_order_relaxed);
			if (now != buf) {
				grows++;
				buf = now;
			}
			if (qsbr && i % 64 == 63)
				urcu_qsbr_quiescent_state();
		}
		void *x;
		while ((x = weft__deque_take(&d))) {
			if (record(x))
				owner_taken++;
			else
				bad_items++;
		}
		/* release: pairs with the thieves' acquire load; nothing is
		 * pushed after this. */
		atomic_store_explicit(&drained, true, memory_order_release);
		if (qsbr)
			urcu_qsbr_thread_offline();
		stress_barrier_wait(&end);

		bool ok = weft__deque_size(&d) == 0;
		for (unsigned i = 0; i < n_items; i++) {
			/* relaxed: see taken; the end barrier ordered the
			 * thieves' increments before this. */
			if (atomic_exchange_explicit(&taken[i], 0,
						     memory_order_relaxed) != 1)
				ok = false;
		}
		if (!ok && !bad_cycles++)
			first_bad = c;
		items += n_items;
		per_mode[qsbr]++;
		weft__deque_destroy(&d);
	}
	double secs = (double)(stress_now_ns() - t0) / 1e9;
	stop = true;
	stress_barrier_wait(&start);
	for (unsigned i = 0; i < THIEVES; i++)
		pthread_join(thieves[i].tid, NULL);
	if (!STRESS_TSAN) {
		/* From an offline thread, after every call_rcu: waits until
		 * every retired buffer has been freed. */
		urcu_qsbr_barrier();
		urcu_qsbr_unregister_thread();
	}

	stress_phase("check");
	uint64_t stolen = 0, retries = 0;
	for (unsigned i = 0; i < THIEVES; i++) {
		stolen += thieves[i].stolen;
		retries += thieves[i].retries;
		bad_items += thieves[i].bad_items;
	}
	printf("deque_regrow: cycles=%" PRIu64 " (at_destroy %" PRIu64
	       ", qsbr %" PRIu64 ") items=%" PRIu64 " grows=%" PRIu64
	       " owner_took=%" PRIu64 " stolen=%" PRIu64 " steal_retry=%" PRIu64
	       " time=%.2fs\n",
	       cycles, per_mode[0], per_mode[1], items, grows, owner_taken,
	       stolen, retries, secs);
	STRESS_CHECK(init_failed == 0 && push_failed == 0,
		     "init failed %" PRIu64 " times, push %" PRIu64 " times",
		     init_failed, push_failed);
	STRESS_CHECK(bad_cycles == 0,
		     "%" PRIu64 " cycles did not take every item exactly once "
		     "(first: cycle %" PRIu64 ")", bad_cycles, first_bad);
	STRESS_CHECK(bad_items == 0, "%" PRIu64 " values that are no item",
		     bad_items);
	STRESS_CHECK(owner_taken + stolen == items,
		     "owner took %" PRIu64 " + thieves stole %" PRIu64
		     " != %" PRIu64 " items", owner_taken, stolen, items);
	return stress_finish();
}
