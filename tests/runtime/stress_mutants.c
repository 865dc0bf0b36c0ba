/*
 * Checks aimed at mutations of tools/mutations.txt that the rest of the
 * suite let survive (tests/MUTATIONS.md).
 *
 * 1. visibility (every build; the kill comes from the TSan build): a task
 *    writes plain memory and returns; an outside thread that spins on
 *    weft_future_done() and weft_future_state() reads that memory as soon
 *    as they say done, without any other call into weft. Only the acquire
 *    load in weft_future_state (C2) orders those reads after the task's
 *    writes, so with it relaxed (mutation state-load-relaxed)
 *    ThreadSanitizer reports a data race. Without TSan it checks the
 *    values.
 * 2. full deque (builds with -Dalloc_hook=true): a task on the only
 *    worker submits more children than its deque holds (256) while every
 *    allocation fails, so the deque cannot grow and the children past
 *    256 go to the worker's injection queue (runtime/submit.c). Every
 *    child must run: with them dropped instead (mutation
 *    push-full-drops-task) the wait for them times out. The worker's free
 *    list is filled first, so the children's task objects need no
 *    allocation.
 *
 * Plain main() on tests/runtime/harness.h: prints its seed and ends with
 * "N passed, N failed".
 */
#include <sched.h>

#include "harness.h"
#include "weft.h"

#ifdef WEFT_ALLOC_HOOK
#include "runtime/alloc_hook.h"
#endif

/*
 * 1. A task's writes, seen by a thread that polls the state.
 */

struct payload {
	uint64_t a, b;
	char text[24];
};

static void *write_payload(void *arg)
{
	struct payload *p = arg;
	p->a = 0x1234567887654321ull;
	p->b = p->a ^ 0xffffffffull;
	memcpy(p->text, "written by the task", 20);
	return p;
}

static void visibility(void)
{
	uint64_t rounds = harness_size(20000, 2000, 100);
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = 2;
	weft_pool *pool;
	if (!CHECK_RC(weft_pool_create(&pool, &cfg), 0))
		return;
	struct payload *p = calloc(1, sizeof(*p));
	uint64_t bad = 0;
	harness_watchdog_arm(120, "visibility rounds", rounds);
	for (uint64_t i = 0; i < rounds; i++) {
		memset(p, 0, sizeof(*p));
		weft_future *f;
		if (!CHECK_RC(weft_submit(pool, write_payload, p, &f), 0))
			break;
		/* Odd rounds poll weft_future_state, even ones
		 * weft_future_done: both are the same acquire load. */
		if (i & 1) {
			while (weft_future_state(f) != WEFT_SUCCEEDED)
				sched_yield();
		} else {
			while (!weft_future_done(f))
				sched_yield();
		}
		/* Read before any other call into weft (release included),
		 * so nothing but the poll above orders these reads. */
		if (p->a != 0x1234567887654321ull ||
		    p->b != (p->a ^ 0xffffffffull) ||
		    memcmp(p->text, "written by the task", 20) != 0)
			bad++;
		weft_future_release(f);
	}
	harness_watchdog_disarm();
	CHECKF(bad == 0, "%" PRIu64 " of %" PRIu64 " rounds read the task's "
	       "writes incomplete after seeing it done", bad, rounds);
	printf("visibility: %" PRIu64 " rounds, the task's writes seen by "
	       "the polling thread\n", rounds);
	free(p);
	CHECK_RC(weft_pool_destroy(pool), 0);
}

/*
 * 2. A full deque that cannot grow.
 */

#ifdef WEFT_ALLOC_HOOK

#define PREWARM 2048
#define CHILDREN 600 /* more than the deque's initial 256 */
#define CHILD_WAIT_NS 10000000000ll

static _Atomic uint64_t prewarm_ran, children_ran;
static _Atomic int gate;

static void *prewarm_task(void *arg)
{
	(void)arg;
	atomic_fetch_add_explicit(&prewarm_ran, 1, memory_order_relaxed);
	return NULL;
}

static void *child(void *arg)
{
	(void)arg;
	atomic_fetch_add_explicit(&children_ran, 1, memory_order_relaxed);
	return NULL;
}

struct parent_report {
	uint64_t submitted, enomem, waited, timed_out, other;
};

/* On the pool's only worker: submits CHILDREN children onto its own
 * deque, then waits for each (running them itself). */
static void *parent(void *arg)
{
	struct parent_report *r = arg;
	while (!atomic_load_explicit(&gate, memory_order_acquire))
		sched_yield();
	weft_pool *pool = weft_current_pool();
	static weft_future *fs[CHILDREN];
	for (size_t i = 0; i < CHILDREN; i++) {
		int rc = weft_submit(pool, child, NULL, &fs[i]);
		if (rc == 0)
			fs[r->submitted++] = fs[i];
		else if (rc == -ENOMEM)
			r->enomem++;
		else
			r->other++;
	}
	for (size_t i = 0; i < r->submitted; i++) {
		/* After one timeout the rest are only looked at. */
		int rc = weft_future_wait(fs[i],
					  r->timed_out ? 0 : CHILD_WAIT_NS);
		if (rc == 0)
			r->waited++;
		else if (rc == -ETIMEDOUT)
			r->timed_out++;
		else
			r->other++;
		if (rc != -ETIMEDOUT)
			weft_future_release(fs[i]);
		/* A child that never ran keeps its future (and our
		 * reference): the check below fails anyway. */
	}
	return NULL;
}

static void full_deque(void)
{
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = 1;
	weft_pool *pool;
	if (!CHECK_RC(weft_pool_create(&pool, &cfg), 0))
		return;
	harness_watchdog_arm(60, "full deque: prewarm", PREWARM);
	/* Task objects freed on the worker stay in its free list (or its
	 * pool's spare stack), where the children find them. */
	for (int i = 0; i < PREWARM; i++)
		CHECK_RC(weft_submit(pool, prewarm_task, NULL, NULL), 0);
	while (atomic_load_explicit(&prewarm_ran, memory_order_relaxed) <
	       PREWARM)
		harness_sleep_ns(1000000);

	struct parent_report r = {0};
	weft_future *pf;
	if (!CHECK_RC(weft_submit(pool, parent, &r, &pf), 0))
		return;
	/* From here on every allocation fails: the deque cannot grow. */
	weft__alloc_hook_reset();
	weft__alloc_fail_at(1, true);
	atomic_store_explicit(&gate, 1, memory_order_release);
	harness_watchdog_arm(120, "full deque: parent", CHILDREN);
	int rc = weft_future_wait(pf, WEFT_FOREVER);
	weft__alloc_fail_at(0, false);
	struct weft__alloc_counts counts;
	weft__alloc_counts(&counts);
	harness_watchdog_disarm();
	CHECK_RC(rc, 0);
	/* The children past the deque's 256 slots were pushed while it
	 * could not grow. */
	CHECKF(r.submitted > 256, "only %" PRIu64 " children submitted "
	       "(%" PRIu64 " -ENOMEM): the deque never filled", r.submitted,
	       r.enomem);
	CHECKF(counts.failures > 0, "the allocation hook failed nothing: "
	       "the deque's growth was not refused");
	CHECKF(r.waited == r.submitted && r.timed_out == 0 && r.other == 0,
	       "%" PRIu64 " children submitted, %" PRIu64 " done, %" PRIu64
	       " timed out, %" PRIu64 " other errors", r.submitted, r.waited,
	       r.timed_out, r.other);
	CHECK_EQ(atomic_load_explicit(&children_ran, memory_order_relaxed),
		 r.submitted);
	printf("full deque: %" PRIu64 " children pushed by the only worker "
	       "with growth refused (%" PRIu64 " allocations failed), %" PRIu64
	       " ran\n", r.submitted, counts.failures,
	       atomic_load_explicit(&children_ran, memory_order_relaxed));
	weft_future_release(pf);
	CHECK_RC(weft_pool_destroy(pool), 0);
}

#endif

int main(void)
{
	harness_init("stress_mutants");
	visibility();
#ifdef WEFT_ALLOC_HOOK
	full_deque();
#endif
	return harness_report();
}
