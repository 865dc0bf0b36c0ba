/*
 * Lint fixture (not compiled): tools/check-atomics.sh must reject this
 * file and name the fence and the relaxed store below.
 */
#include <stdatomic.h>

static _Atomic int flag;
static int data;

void bad_fence(void)
{
	data = 1;

	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&flag, 1,
			      memory_order_relaxed);
}
