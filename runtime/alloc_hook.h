/*
 * The allocation hook: a test build's control over weft's allocations and
 * worker-thread creation. Only in builds configured with
 * -Dalloc_hook=true (WEFT_ALLOC_HOOK); tests link the static library.
 *
 * Every weft__malloc / weft__aligned_alloc call is one attempt, numbered
 * from 1 since the last weft__alloc_hook_reset(), across all threads. An
 * armed hook makes chosen attempts return NULL. Every pthread_create a
 * pool makes for a worker is likewise one thread attempt.
 *
 * The setters may be called while other threads allocate; a change takes
 * effect for the attempts that follow it.
 */
#ifndef WEFT_RUNTIME_ALLOC_HOOK_H
#define WEFT_RUNTIME_ALLOC_HOOK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#ifndef WEFT_ALLOC_HOOK
#error "runtime/alloc_hook.h needs a build configured with -Dalloc_hook=true"
#endif

/* Disarms every failure and zeroes the attempt and failure counters (the
 * live count is kept). */
void weft__alloc_hook_reset(void);

/* Fails attempt number k (k >= 1, counted since the last reset) and, if
 * persistent, every attempt after it. k = 0 disarms. */
void weft__alloc_fail_at(uint64_t k, bool persistent);

/* Fails each attempt with probability permille / 1000: attempt n fails
 * iff a hash of (seed, n) says so, so a seed fails the same attempt
 * numbers every time. permille = 0 disarms. */
void weft__alloc_fail_rate(unsigned permille, uint64_t seed);

/* Fails thread attempt number k (k >= 1, counted since the last reset)
 * with EAGAIN. k = 0 disarms. */
void weft__thread_fail_at(uint64_t k);

struct weft__alloc_counts {
	uint64_t attempts;        /* allocation attempts since the reset */
	uint64_t failures;        /* of which the hook failed */
	int64_t live;             /* blocks allocated and not yet freed, ever */
	uint64_t thread_attempts; /* worker-thread creations since the reset */
	uint64_t thread_failures; /* of which the hook failed */
};

/* A snapshot of the counters. */
void weft__alloc_counts(struct weft__alloc_counts *out);

/* What runtime/pool.c calls instead of pthread_create in a hooked build. */
int weft__alloc_hook_thread_create(pthread_t *thread,
				   const pthread_attr_t *attr,
				   void *(*fn)(void *), void *arg);

#endif
