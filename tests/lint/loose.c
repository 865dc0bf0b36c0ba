/*
 * Lint fixture (not compiled): the second store has no comment of its own,
 * but the first one's comment is within 3 lines. tools/check-atomics.sh
 * accepts it; with --strict it must name line 14.
 */
#include <stdatomic.h>

static _Atomic int a, b;

void loose(void)
{
	/* relaxed: a statistic. */
	atomic_store_explicit(&a, 1, memory_order_relaxed);
	atomic_store_explicit(&b, 1, memory_order_release);
}
