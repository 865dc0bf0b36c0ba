/*
 * liburcu 0.13's queues synchronise with inline assembly that
 * ThreadSanitizer cannot see. A WEFT_TSAN build tells it about the
 * happens-before edge every enqueue/dequeue pair provides; other builds
 * compile these to nothing.
 */
#ifndef WEFT_FUTURE_TSAN_H
#define WEFT_FUTURE_TSAN_H

#ifdef WEFT_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define weft__tsan_release(addr) __tsan_release(addr)
#define weft__tsan_acquire(addr) __tsan_acquire(addr)
#else
#define weft__tsan_release(addr) ((void)(addr))
#define weft__tsan_acquire(addr) ((void)(addr))
#endif

#endif
