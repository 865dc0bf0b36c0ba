/*
 * Deque stress: the last-element race.
 *
 * Each round the owner pushes exactly one item; then all threads meet at
 * a spinning barrier, and the owner's take races a seeded random non-empty
 * subset of the THIEVES thieves (1 to 3 of them), each after a short seeded
 * delay. A thief retries after WEFT__STEAL_RETRY until it wins or the deque
 * is empty. After a second barrier the owner checks that exactly one
 * thread got the item, that it is the right item, and that the deque is
 * empty (size 0, take NULL, steal EMPTY).
 *
 * This is the path where take's seq_cst store of bottom and load of top
 * meet steal's loads of top and bottom (the Dekker pair (D) in deque.h),
 * and the CAS on top settles the tie.
 */
#include "deque/deque.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "stress.h"

#define THIEVES 3
#define MAX_DELAY 24 /* pause instructions before racing */

struct thief {
	pthread_t tid;
	unsigned id;
	uint64_t wins, retries, empties;
};

static struct weft__deque d;
static struct stress_barrier start, end;
static uint64_t rounds;
/* Written by the owner before the start barrier, read by the thieves
 * after it (the barrier orders them). */
static unsigned round_mask;   /* which thieves race this round */
static bool stop;             /* no more rounds: thieves return */
static void *round_item;
/* Incremented by every thread that got this round's item (relaxed: the
 * owner reads it after the end barrier, which orders the increments). */
static _Atomic unsigned winners;
/* Incremented by a winner whose item was not round_item (relaxed: as
 * above). */
static _Atomic unsigned wrong_item;
static struct thief thieves[THIEVES];

static void *thief_main(void *arg)
{
	struct thief *th = arg;
	struct stress_rng rng;
	unsigned bit = 1u << th->id;

	stress_rng_init(&rng, stress_seed(), 100 + th->id);
	for (;;) {
		stress_barrier_wait(&start);
		if (stop)
			break;
		if (round_mask & bit) {
			void *x = NULL;
			enum weft__steal_result res;

			stress_spin(stress_rng_below(&rng, MAX_DELAY));
			while ((res = weft__deque_steal(&d, &x)) ==
			       WEFT__STEAL_RETRY)
				th->retries++;
			if (res == WEFT__STEAL_OK) {
				th->wins++;
				/* relaxed: see winners. */
				atomic_fetch_add_explicit(&winners, 1,
							  memory_order_relaxed);
				if (x != round_item)
					/* relaxed: see wrong_item. */
					atomic_fetch_add_explicit(
						&wrong_item, 1,
						memory_order_relaxed);
			} else {
				th->empties++;
			}
		}
		stress_barrier_wait(&end);
	}
	return NULL;
}

int main(void)
{
	struct stress_rng rng;
	uint64_t owner_wins = 0, no_winner = 0, many_winners = 0;
	uint64_t not_empty = 0, wrong = 0, push_failed = 0;
	uint64_t by_count[THIEVES + 1] = {0};
	int err;

	stress_init("deque_last", STRESS_DEFAULT(300, 600));
	/* The full count under TSan too: about 20 us a round there. */
	rounds = stress_scaled(1000000);
	stress_rng_init(&rng, stress_seed(), 1);
	err = weft__deque_init(&d, 2, WEFT__RECLAIM_AT_DESTROY);
	STRESS_CHECK(err == 0, "init: %d", err);
	if (err)
		return stress_finish();
	stress_barrier_init(&start, THIEVES + 1);
	stress_barrier_init(&end, THIEVES + 1);
	for (unsigned i = 0; i < THIEVES; i++) {
		thieves[i].id = i;
		err = pthread_create(&thieves[i].tid, NULL, thief_main,
				     &thieves[i]);
		if (err) {
			fprintf(stderr, "pthread_create: %d\n", err);
			exit(2);
		}
	}

	stress_phase("rounds");
	uint64_t t0 = stress_now_ns();
	for (uint64_t r = 0; r < rounds; r++) {
		round_mask = 1 + (unsigned)stress_rng_below(&rng,
							  (1u << THIEVES) - 1);
		round_item = (void *)(uintptr_t)(r + 1);
		if (weft__deque_push(&d, round_item)) {
			push_failed++;
			break;
		}
		uint64_t delay = stress_rng_below(&rng, MAX_DELAY);

		stress_barrier_wait(&start);
		stress_spin(delay);
		void *x = weft__deque_take(&d);
		if (x) {
			owner_wins++;
			/* relaxed: see winners. */
			atomic_fetch_add_explicit(&winners, 1,
						  memory_order_relaxed);
			if (x != round_item)
				/* relaxed: see wrong_item. */
				atomic_fetch_add_explicit(&wrong_item, 1,
							  memory_order_relaxed);
		}
		stress_barrier_wait(&end);

		/* relaxed: the end barrier ordered every increment before
		 * this; the thieves touch it only after the next start. */
		unsigned w = atomic_exchange_explicit(&winners, 0,
						      memory_order_relaxed);
		if (w == 0)
			no_winner++;
		else if (w > 1)
			many_winners++;
		/* relaxed: as above. */
		wrong += atomic_exchange_explicit(&wrong_item, 0,
						  memory_order_relaxed);
		void *y = NULL;
		if (weft__deque_size(&d) != 0 ||
		    weft__deque_steal(&d, &y) != WEFT__STEAL_EMPTY ||
		    weft__deque_take(&d) != NULL)
			not_empty++;
		by_count[__builtin_popcount(round_mask)]++;
	}
	double secs = (double)(stress_now_ns() - t0) / 1e9;
	stop = true;
	stress_barrier_wait(&start);
	for (unsigned i = 0; i < THIEVES; i++)
		pthread_join(thieves[i].tid, NULL);

	stress_phase("check");
	uint64_t thief_wins = 0, retries = 0, empties = 0;
	for (unsigned i = 0; i < THIEVES; i++) {
		thief_wins += thieves[i].wins;
		retries += thieves[i].retries;
		empties += thieves[i].empties;
	}
	printf("deque_last: rounds=%" PRIu64 " (1/2/3 thieves: %" PRIu64
	       "/%" PRIu64 "/%" PRIu64 ") owner_won=%" PRIu64
	       " thieves_won=%" PRIu64 " (%" PRIu64 "/%" PRIu64 "/%" PRIu64
	       ") steal_retry=%" PRIu64 " steal_empty=%" PRIu64
	       " time=%.2fs (%.2f us/round)\n",
	       rounds, by_count[1], by_count[2], by_count[3], owner_wins,
	       thief_wins, thieves[0].wins, thieves[1].wins, thieves[2].wins,
	       retries, empties, secs, secs * 1e6 / (double)rounds);

	STRESS_CHECK(push_failed == 0, "push failed");
	STRESS_CHECK(no_winner == 0, "%" PRIu64 " rounds lost the item",
		     no_winner);
	STRESS_CHECK(many_winners == 0,
		     "%" PRIu64 " rounds delivered the item more than once",
		     many_winners);
	STRESS_CHECK(wrong == 0, "%" PRIu64 " wins returned the wrong item",
		     wrong);
	STRESS_CHECK(not_empty == 0,
		     "%" PRIu64 " rounds left the deque non-empty", not_empty);
	STRESS_CHECK(owner_wins + thief_wins == rounds,
		     "%" PRIu64 " + %" PRIu64 " wins for %" PRIu64 " rounds",
		     owner_wins, thief_wins, rounds);
	weft__deque_destroy(&d);
	return stress_finish();
}
