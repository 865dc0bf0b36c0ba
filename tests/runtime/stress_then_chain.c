/*
 * Long continuation chains. A chain of 1,000,000 weft_future_then links
 * (100,000 under TSan) is attached to a head that is held back by a flag;
 * every handle but the last is released, then the head is let go. Each
 * link checks its antecedent's value and adds one: the last value must be
 * the chain's length, every link must run exactly once on a worker, and
 * the stack must stay small (the program runs on default 8 MiB stacks; a
 * recursive delivery would overflow long before the end).
 * Then two chains of WEFT_THEN_ON_SUCCESS links: one whose head is
 * cancelled (every link ends CANCELLED, none runs), one where a link in
 * the middle fails (the links after it end FAILED with its code, none
 * runs). Callbacks on every link check that each completes exactly once.
 */
#include "harness.h"
#include "weft.h"

static uint64_t length;
static _Atomic uint8_t *ran;       /* per link: fn calls */
static _Atomic uint8_t *callbacks; /* per link: on_done calls */
static _Atomic uint8_t *final;     /* per link: state seen by on_done */
static uint64_t fail_at = UINT64_MAX;
static _Atomic uint64_t errors, off_worker;
static _Thread_local uintptr_t stack_base;
static _Atomic uintptr_t max_stack;
static _Atomic int gate_open;

static void on_start(unsigned index, void *ctx)
{
	(void)index;
	(void)ctx;
	char here;
	stack_base = (uintptr_t)&here;
}

static void note_stack(void)
{
	char here;
	uintptr_t used = stack_base > (uintptr_t)&here
				 ? stack_base - (uintptr_t)&here
				 : 0;
	uintptr_t m = atomic_load_explicit(&max_stack, memory_order_relaxed);
	while (used > m &&
	       !atomic_compare_exchange_weak_explicit(&max_stack, &m, used,
						      memory_order_relaxed,
						      memory_order_relaxed))
		;
}

static void *gate_task(void *arg)
{
	while (!atomic_load(&gate_open))
		harness_sleep_ns(100000);
	return arg;
}

/* Link i expects value i from its antecedent and returns i + 1. */
static void *link_fn(weft_future *a, void *ctx)
{
	uint64_t i = (uint64_t)(uintptr_t)ctx;
	void *r = NULL;
	if (weft_future_get(a, &r) || r != (void *)(uintptr_t)i)
		atomic_fetch_add_explicit(&errors, 1, memory_order_relaxed);
	if (weft_worker_index() < 0)
		atomic_fetch_add_explicit(&off_worker, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&ran[i], 1, memory_order_relaxed);
	note_stack();
	if (i == fail_at)
		return weft_fail(EIO);
	return (void *)(uintptr_t)(i + 1);
}

static void on_done(weft_future *f, void *ctx)
{
	uint64_t i = (uint64_t)(uintptr_t)ctx;
	atomic_store_explicit(&final[i], (uint8_t)weft_future_state(f),
			      memory_order_relaxed);
	atomic_fetch_add_explicit(&callbacks[i], 1, memory_order_relaxed);
}

static weft_pool *make_pool(unsigned workers)
{
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = workers;
	cfg.name = "chain";
	cfg.on_worker_start = on_start;
	weft_pool *p = NULL;
	if (!CHECK_RC(weft_pool_create(&p, &cfg), 0))
		exit(harness_report());
	return p;
}

static void reset(void)
{
	for (uint64_t i = 0; i < length; i++) {
		atomic_store_explicit(&ran[i], 0, memory_order_relaxed);
		atomic_store_explicit(&callbacks[i], 0, memory_order_relaxed);
		atomic_store_explicit(&final[i], 0, memory_order_relaxed);
	}
	atomic_store(&errors, 0);
	atomic_store(&off_worker, 0);
	atomic_store(&max_stack, 0);
	atomic_store(&gate_open, 0);
}

/* Attaches length links to head (consumed) and returns the last one. */
static weft_future *build(weft_future *head, unsigned flags, bool with_cb)
{
	weft_future *prev = head;
	uint64_t errs = 0;
	for (uint64_t i = 0; i < length; i++) {
		weft_future *c;
		if (weft_future_then(prev, link_fn, (void *)(uintptr_t)i, flags,
				     &c)) {
			errs++;
			break;
		}
		if (with_cb &&
		    weft_future_on_done(c, on_done, (void *)(uintptr_t)i))
			errs++;
		weft_future_release(prev);
		prev = c;
	}
	CHECK_EQ(errs, 0);
	return prev;
}

static void chain_succeeds(void)
{
	reset();
	weft_pool *p = make_pool(2);
	weft_future *head;
	CHECK_RC(weft_submit(p, gate_task, (void *)(uintptr_t)0, &head), 0);
	harness_watchdog_arm(HARNESS_TSAN ? 600 : 120, "building the chain", 0);
	int64_t t0 = harness_now_ns();
	weft_future *last = build(head, 0, false);
	int64_t t1 = harness_now_ns();
	CHECK_EQ(weft_future_state(last), WEFT_PENDING);
	atomic_store(&gate_open, 1);
	harness_watchdog_arm(HARNESS_TSAN ? 600 : 120, "running the chain", 0);
	void *r = NULL;
	CHECK_RC(weft_future_get(last, &r), 0);
	int64_t t2 = harness_now_ns();
	weft_future_release(last);
	CHECK_RC(weft_pool_shutdown(p, WEFT_SHUTDOWN_WAIT), 0);
	harness_watchdog_disarm();
	weft_stats st;
	CHECK_RC(weft_pool_stats(p, &st), 0);
	CHECK_RC(weft_pool_destroy(p), 0);

	uint64_t once = 0, other = 0;
	for (uint64_t i = 0; i < length; i++) {
		uint8_t n = atomic_load_explicit(&ran[i], memory_order_relaxed);
		once += n == 1;
		other += n != 1;
	}
	printf("  chain of %" PRIu64 ": attached in %.3f s, ran in %.3f s "
	       "(%.0f links/s), value %" PRIuPTR ", ran once %" PRIu64
	       ", stack %.1f KiB\n",
	       length, (t1 - t0) / 1e9, (t2 - t1) / 1e9,
	       length / ((t2 - t1) / 1e9), (uintptr_t)r, once,
	       atomic_load(&max_stack) / 1024.0);
	printf("  chain of %" PRIu64 ": stats submitted %" PRIu64
	       " executed %" PRIu64 " injected %" PRIu64 " stolen %" PRIu64
	       "\n",
	       length, st.submitted, st.executed, st.injected, st.stolen);
	CHECK_EQ((uintptr_t)r, length);
	CHECK_EQ(once, length);
	CHECK_EQ(other, 0);
	CHECK_EQ(atomic_load(&errors), 0);
	CHECK_EQ(atomic_load(&off_worker), 0);
	CHECK_EQ(st.executed, length + 1);
	CHECK_EQ(st.submitted, length + 1);
	/* Each link became ready on a worker: it went onto that worker's
	 * deque, never through injection. */
	CHECK_EQ(st.injected, 1);
	CHECKF(atomic_load(&max_stack) < 64 * 1024, "stack %zu bytes",
	       (size_t)atomic_load(&max_stack));
}

/* A pending head, cancelled: every ON_SUCCESS link ends CANCELLED. */
static void chain_cancelled(void)
{
	reset();
	weft_pool *p = make_pool(1);
	weft_future *gate, *head;
	CHECK_RC(weft_submit(p, gate_task, NULL, &gate), 0);
	CHECK_RC(weft_submit(p, gate_task, (void *)(uintptr_t)0, &head), 0);
	weft_future_retain(head);
	harness_watchdog_arm(HARNESS_TSAN ? 600 : 120,
			     "building the chain to cancel", 0);
	weft_future *last = build(head, WEFT_THEN_ON_SUCCESS, true);
	CHECK(weft_future_cancel(head));
	/* The one worker is still held: only the head is done. */
	CHECK_EQ(weft_future_state(head), WEFT_CANCELLED);
	atomic_store(&gate_open, 1);
	harness_watchdog_arm(HARNESS_TSAN ? 600 : 120,
			     "running the cancelled chain", 0);
	int64_t t0 = harness_now_ns();
	CHECK_RC(weft_future_get(last, NULL), -ECANCELED);
	int64_t dt = harness_now_ns() - t0;
	CHECK_RC(weft_pool_shutdown(p, WEFT_SHUTDOWN_WAIT), 0);
	harness_watchdog_disarm();
	weft_stats st;
	CHECK_RC(weft_pool_stats(p, &st), 0);
	CHECK_RC(weft_pool_destroy(p), 0);
	CHECK_EQ(weft_future_state(last), WEFT_CANCELLED);
	weft_future_release(last);
	weft_future_release(head);
	weft_future_release(gate);

	uint64_t runs = 0, cb_once = 0, cancelled = 0;
	for (uint64_t i = 0; i < length; i++) {
		runs += atomic_load_explicit(&ran[i], memory_order_relaxed);
		cb_once += atomic_load_explicit(&callbacks[i],
						memory_order_relaxed) == 1;
		cancelled += atomic_load_explicit(&final[i],
						  memory_order_relaxed) ==
			     WEFT_CANCELLED;
	}
	printf("  cancelled chain of %" PRIu64 ": %.3f s, links cancelled %" PRIu64
	       ", fn calls %" PRIu64 ", callbacks once %" PRIu64
	       "; stats cancelled %" PRIu64 " executed %" PRIu64 "\n",
	       length, dt / 1e9, cancelled, runs, cb_once, st.cancelled,
	       st.executed);
	CHECK_EQ(runs, 0);
	CHECK_EQ(cb_once, length);
	CHECK_EQ(cancelled, length);
	CHECK_EQ(st.cancelled, length + 1);
}

/* Link fail_at fails: the ON_SUCCESS links after it end FAILED with its
 * code and never run. */
static void chain_fails(void)
{
	reset();
	fail_at = length / 2;
	weft_pool *p = make_pool(2);
	weft_future *head;
	CHECK_RC(weft_submit(p, gate_task, (void *)(uintptr_t)0, &head), 0);
	harness_watchdog_arm(HARNESS_TSAN ? 600 : 120,
			     "building the failing chain", 0);
	weft_future *last = build(head, WEFT_THEN_ON_SUCCESS, true);
	atomic_store(&gate_open, 1);
	harness_watchdog_arm(HARNESS_TSAN ? 600 : 120,
			     "running the failing chain", 0);
	int64_t t0 = harness_now_ns();
	CHECK_RC(weft_future_get(last, NULL), -EIO);
	int64_t dt = harness_now_ns() - t0;
	CHECK_RC(weft_pool_shutdown(p, WEFT_SHUTDOWN_WAIT), 0);
	harness_watchdog_disarm();
	weft_stats st;
	CHECK_RC(weft_pool_stats(p, &st), 0);
	CHECK_RC(weft_pool_destroy(p), 0);
	weft_future_release(last);

	uint64_t bad = 0, cb_once = 0;
	for (uint64_t i = 0; i < length; i++) {
		uint8_t n = atomic_load_explicit(&ran[i], memory_order_relaxed);
		uint8_t s = atomic_load_explicit(&final[i], memory_order_relaxed);
		cb_once += atomic_load_explicit(&callbacks[i],
						memory_order_relaxed) == 1;
		if (i < fail_at)
			bad += n != 1 || s != WEFT_SUCCEEDED;
		else if (i == fail_at)
			bad += n != 1 || s != WEFT_FAILED;
		else
			bad += n != 0 || s != WEFT_FAILED;
	}
	printf("  failing chain of %" PRIu64 " (link %" PRIu64
	       " fails): %.3f s, links with a wrong outcome %" PRIu64
	       ", callbacks once %" PRIu64 "; stats failed %" PRIu64 "\n",
	       length, fail_at, dt / 1e9, bad, cb_once, st.failed);
	CHECK_EQ(bad, 0);
	CHECK_EQ(cb_once, length);
	CHECK_EQ(atomic_load(&errors), 0);
	CHECK_EQ(st.failed, length - fail_at);
	fail_at = UINT64_MAX;
}

int main(void)
{
	harness_init("then_chain");
	length = harness_size(1000000, 100000, 100);
	void *mem[3] = {calloc(length, 1), calloc(length, 1),
			calloc(length, 1)};
	ran = mem[0];
	callbacks = mem[1];
	final = mem[2];
	if (!ran || !callbacks || !final) {
		CHECKF(false, "out of memory");
		return harness_report();
	}
	chain_succeeds();
	chain_cancelled();
	chain_fails();
	for (int i = 0; i < 3; i++)
		free(mem[i]);
	return harness_report();
}
