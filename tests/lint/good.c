/*
 * Lint fixture (not compiled): every use of an order or a fence has its
 * own comment, so tools/check-atomics.sh must accept this file, with or
 * without --strict.
 */
#include <stdatomic.h>

static _Atomic int flag;
static _Atomic long ctr;

void good(void)
{
	long old = 0;

	/* release: pairs with the reader's acquire load of flag. */
	atomic_store_explicit(&flag, 1, memory_order_release);

	atomic_fetch_add_explicit(&ctr, 1, memory_order_relaxed); // a counter

	/* seq_cst fence: orders the store above before the load below;
	 * pairs with the fence in the other thread. */
	atomic_thread_fence(memory_order_seq_cst);

	/* A call split over lines: the comment above its first line covers
	 * the order on the last line. */
	atomic_compare_exchange_strong_explicit(
		&ctr, &old, 1,
		memory_order_acq_rel,
		memory_order_relaxed);

	const char *s = "atomic_load(&flag) and memory_order_seq_cst";
	(void)s;
	/* memory_order_relaxed in a comment is not code. */
}
