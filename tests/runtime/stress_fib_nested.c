/*
 * Nested waits: fib(25) where every call submits fib(n-1) and fib(n-2)
 * as tasks and waits on both with weft_future_get, on pools of 1, 2 and
 * 4 workers. A worker that waits runs other tasks, so even one worker
 * finishes; the watchdog turns a deadlock into a failure. Checks the
 * answer (75025), the task count, and reports how deep the nesting and
 * the stack went.
 */
#include "harness.h"
#include "weft.h"

static _Thread_local uintptr_t stack_base; /* set in the start hook */
static _Thread_local unsigned depth;
static _Atomic unsigned max_depth;
static _Atomic uintptr_t max_stack;
static _Atomic uint64_t errors;
static bool quiet; /* repeated rounds print nothing */

static void note_start(unsigned index, void *ctx)
{
	(void)index;
	(void)ctx;
	char here;
	stack_base = (uintptr_t)&here;
}

static void note_depth(void)
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
	unsigned d = atomic_load_explicit(&max_depth, memory_order_relaxed);
	while (depth > d &&
	       !atomic_compare_exchange_weak_explicit(&max_depth, &d, depth,
						      memory_order_relaxed,
						      memory_order_relaxed))
		;
}

static void *fib(void *arg)
{
	uintptr_t n = (uintptr_t)arg;
	if (n < 2)
		return arg;
	depth++;
	note_depth();
	weft_pool *p = weft_current_pool();
	weft_future *a, *b;
	void *ra = NULL, *rb = NULL;
	if (weft_submit(p, fib, (void *)(n - 1), &a)) {
		atomic_fetch_add(&errors, 1);
		depth--;
		return NULL;
	}
	if (weft_submit(p, fib, (void *)(n - 2), &b)) {
		atomic_fetch_add(&errors, 1);
		weft_future_get(a, NULL);
		weft_future_release(a);
		depth--;
		return NULL;
	}
	if (weft_future_get(a, &ra) || weft_future_get(b, &rb))
		atomic_fetch_add(&errors, 1);
	weft_future_release(a);
	weft_future_release(b);
	depth--;
	return (void *)((uintptr_t)ra + (uintptr_t)rb);
}

static uint64_t fib_seq(unsigned n)
{
	uint64_t a = 0, b = 1;
	for (unsigned i = 0; i < n; i++) {
		uint64_t t = a + b;
		a = b;
		b = t;
	}
	return a;
}

static void run(unsigned workers, unsigned n)
{
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = workers;
	cfg.name = "fib";
	cfg.on_worker_start = note_start;
	weft_pool *p;
	if (!CHECK_RC(weft_pool_create(&p, &cfg), 0))
		return;
	atomic_store(&max_depth, 0);
	atomic_store(&max_stack, 0);
	atomic_store(&errors, 0);

	harness_watchdog_arm(HARNESS_TSAN ? 600 : 60, "computing fib on workers",
			     workers);
	int64_t t0 = harness_now_ns();
	weft_future *f;
	void *r = NULL;
	CHECK_RC(weft_submit(p, fib, (void *)(uintptr_t)n, &f), 0);
	CHECK_RC(weft_future_get(f, &r), 0);
	int64_t dt = harness_now_ns() - t0;
	weft_future_release(f);
	CHECK_RC(weft_pool_shutdown(p, WEFT_SHUTDOWN_WAIT), 0);
	harness_watchdog_disarm();
	weft_stats st;
	CHECK_RC(weft_pool_stats(p, &st), 0);
	CHECK_RC(weft_pool_destroy(p), 0);

	uint64_t tasks = 2 * fib_seq(n + 1) - 1;
	if (!quiet)
		printf("  %u worker%s: fib(%u) = %" PRIuPTR " in %.3f s, %" PRIu64
	       " tasks (%.0f/s), stolen %" PRIu64 ", nested depth %u, "
	       "stack %.1f KiB\n",
	       workers, workers > 1 ? "s" : "", n, (uintptr_t)r, dt / 1e9,
	       st.executed, st.executed / (dt / 1e9), st.stolen,
	       atomic_load(&max_depth), atomic_load(&max_stack) / 1024.0);
	CHECK_EQ((uintptr_t)r, fib_seq(n));
	CHECK_EQ(st.executed, tasks);
	CHECK_EQ(st.submitted, tasks);
	CHECK_EQ(st.injected, 1);
	CHECK_EQ(st.failed, 0);
	CHECK_EQ(atomic_load(&errors), 0);
	/* Each level of nesting is a few frames; a runaway (helping that
	 * recurses without bound) would show here long before it crashed. */
	CHECKF(atomic_load(&max_stack) < 4u << 20, "stack %zu bytes",
	       (size_t)atomic_load(&max_stack));
}

int main(void)
{
	harness_init("fib_nested");
	unsigned n = harness.scale < 1.0 ? 20 : 25;
	/* One round takes tens of milliseconds: repeat it so the races
	 * between helping, stealing and parking get many chances. */
	uint64_t reps = harness_size(20, 3, 1);
	for (uint64_t i = 0; i < reps; i++) {
		if (i == 1)
			printf("  (%" PRIu64 " more rounds, printed after a "
			       "failure)\n",
			       reps - 1);
		quiet = i > 0 && !harness_failed();
		run(1, n);
		run(2, n);
		run(4, n);
	}
	return harness_report();
}
