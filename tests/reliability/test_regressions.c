/*
 * Deterministic reproductions of the library bugs the reliability tests
 * (allocation sweep, shutdown races, fuzzing) found, one test each, named
 * after what went wrong.
 */
#include <string.h>

#include "unit.h"

TestSuite(regressions, .fini = unit_leak_check);

/*
 * Pipelines: items waiting for a slot of a bounded stage when the pool
 * cancels one of the pipeline's tasks (shutdown(CANCEL_PENDING)) must
 * still come out of pop (as -ECANCELED). An earlier design left such an
 * item in the stage's waiting list for ever, so pop after close waited
 * for ever. Here item 1 holds the bounded second stage; items 2 and 3,
 * through the first, wait for it; the runner started for them is queued
 * behind busy workers and cancelled.
 */

struct held_stage {
	_Atomic int entered; /* stage calls that started */
	_Atomic int release; /* item 1's call returns once this is set */
};

static void *held_fn(void *item, void *ctx)
{
	struct held_stage *h = ctx;
	atomic_fetch_add(&h->entered, 1);
	if ((uintptr_t)item == 1) {
		int64_t end = unit_now_ns() + 10000000000;
		while (!atomic_load(&h->release) && unit_now_ns() < end)
			unit_sleep_us(50);
	}
	return item;
}

static void *pass_fn(void *item, void *ctx)
{
	(void)ctx;
	return item;
}

Test(regressions, aborted_pipeline_releases_bounded_stage_waiters,
     .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(2);
	struct held_stage h = {0};
	weft_pipeline *pl;
	cr_assert_eq(weft_pipeline_create(p, 16, 0, &pl), 0);
	cr_assert_eq(weft_pipeline_stage(pl, "pass", pass_fn, NULL, 0, 0), 0);
	cr_assert_eq(weft_pipeline_stage(pl, "bounded", held_fn, &h, 1, 0), 0);

	/* Item 1 holds the second stage's only slot on one worker, a gate
	 * task holds the other. */
	cr_assert_eq(weft_pipeline_push(pl, (void *)1, 0), 0);
	_Atomic int *entered = &h.entered;
	cr_assert(unit_wait_for(entered, 1));
	struct unit_gate g = {.result = NULL};
	weft_future *gf = unit_block(p, &g);
	/* Items 2 and 3 get a runner that no worker can start: shutdown
	 * cancels it, and the pipeline aborts. */
	cr_assert_eq(weft_pipeline_push(pl, (void *)2, 0), 0);
	cr_assert_eq(weft_pipeline_push(pl, (void *)3, 0), 0);
	cr_assert_eq(weft_pool_shutdown(p, WEFT_SHUTDOWN_CANCEL_PENDING), 0);
	atomic_store(&h.release, 1);
	unit_open(&g);
	cr_assert_eq(weft_pipeline_close(pl), 0);

	/* Every item comes out: 1 through the stages, the others
	 * cancelled. */
	int seen[4] = {0}, cancelled = 0;
	for (int k = 0; k < 3; k++) {
		void *item = NULL;
		int rc = weft_pipeline_pop(pl, &item, 2000000000);
		cr_assert(rc == 1 || rc == -ECANCELED,
			  "pop %d returned %d (an item was stranded)", k, rc);
		cr_assert((uintptr_t)item >= 1 && (uintptr_t)item <= 3);
		cr_expect_eq(rc == 1, (uintptr_t)item == 1,
			     "item %d: pop returned %d", (int)(uintptr_t)item,
			     rc);
		seen[(uintptr_t)item]++;
		cancelled += rc == -ECANCELED;
	}
	void *item;
	cr_expect_eq(weft_pipeline_pop(pl, &item, 0), 0);
	for (int k = 1; k <= 3; k++)
		cr_expect_eq(seen[k], 1, "item %d popped %d times", k, seen[k]);
	cr_expect_eq(cancelled, 2);
	cr_assert_eq(weft_pipeline_destroy(pl), 0);
	weft_future_release(gf);
	cr_assert_eq(weft_pool_destroy(p), 0);
}
