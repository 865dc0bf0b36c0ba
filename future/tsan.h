/*
 * What ThreadSanitizer cannot see, in one place.
 *
 * 1. liburcu 0.13's queues synchronise with inline assembly. A WEFT_TSAN
 *    build tells TSan about the happens-before edge every enqueue/dequeue
 *    pair provides; other builds compile these to nothing.
 * 2. TSan does not model standalone fences (and gcc refuses to build them
 *    under -fsanitize=thread). weft__fence_seq_cst() is the one seq_cst
 *    fence weft uses; a WEFT_TSAN build replaces it with a seq_cst RMW on
 *    one shared word. Every such RMW is ordered with every other one and
 *    synchronises with the one before it, which gives the Dekker pairs
 *    built on the fence (runtime/internal.h) the same guarantee, visibly.
 *    (The deque's release-fence publication has its own TSan form, in
 *    deque/deque.h.)
 */
#ifndef WEFT_FUTURE_TSAN_H
#define WEFT_FUTURE_TSAN_H

#include <stdatomic.h>

#ifdef WEFT_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define weft__tsan_release(addr) __tsan_release(addr)
#define weft__tsan_acquire(addr) __tsan_acquire(addr)

/* Written and read only by weft__fence_seq_cst(), by every thread. */
extern _Atomic unsigned weft__tsan_fence_word;

static inline void weft__fence_seq_cst(void)
{
	/* seq_cst RMW: stands for the fence; see 2 above. */
	atomic_fetch_add_explicit(&weft__tsan_fence_word, 0,
				  memory_order_seq_cst);
}
#else
#define weft__tsan_release(addr) ((void)(addr))
#define weft__tsan_acquire(addr) ((void)(addr))

static inline void weft__fence_seq_cst(void)
{
	/* The fence; callers name what it pairs with. */
	atomic_thread_fence(memory_order_seq_cst);
}
#endif

#endif
