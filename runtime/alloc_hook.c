/*
 * The allocation hook (see runtime/alloc_hook.h). Built only with
 * -Dalloc_hook=true.
 *
 * All words are relaxed atomics: they are counters and settings, read and
 * written by any thread; nothing is published through them.
 */
#include "runtime/alloc_hook.h"

#include <errno.h>
#include <stdatomic.h>

#include "runtime/alloc.h"

static _Atomic uint64_t attempts, failures, thread_attempts, thread_failures;
static _Atomic int64_t live;
static _Atomic uint64_t fail_at, thread_fail_at;
static _Atomic bool fail_persistent;
static _Atomic unsigned fail_permille;
static _Atomic uint64_t fail_seed;

static uint64_t mix64(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

void weft__alloc_hook_reset(void)
{
	atomic_store_explicit(&fail_at, 0, memory_order_relaxed);
	atomic_store_explicit(&fail_permille, 0, memory_order_relaxed);
	atomic_store_explicit(&thread_fail_at, 0, memory_order_relaxed);
	atomic_store_explicit(&attempts, 0, memory_order_relaxed);
	atomic_store_explicit(&failures, 0, memory_order_relaxed);
	atomic_store_explicit(&thread_attempts, 0, memory_order_relaxed);
	atomic_store_explicit(&thread_failures, 0, memory_order_relaxed);
}

void weft__alloc_fail_at(uint64_t k, bool persistent)
{
	atomic_store_explicit(&fail_persistent, persistent,
			      memory_order_relaxed);
	atomic_store_explicit(&fail_at, k, memory_order_relaxed);
}

void weft__alloc_fail_rate(unsigned permille, uint64_t seed)
{
	atomic_store_explicit(&fail_seed, seed, memory_order_relaxed);
	atomic_store_explicit(&fail_permille, permille, memory_order_relaxed);
}

void weft__thread_fail_at(uint64_t k)
{
	atomic_store_explicit(&thread_fail_at, k, memory_order_relaxed);
}

void weft__alloc_counts(struct weft__alloc_counts *out)
{
	out->attempts = atomic_load_explicit(&attempts, memory_order_relaxed);
	out->failures = atomic_load_explicit(&failures, memory_order_relaxed);
	out->live = atomic_load_explicit(&live, memory_order_relaxed);
	out->thread_attempts =
		atomic_load_explicit(&thread_attempts, memory_order_relaxed);
	out->thread_failures =
		atomic_load_explicit(&thread_failures, memory_order_relaxed);
}

bool weft__alloc_hook_fails(void)
{
	uint64_t n = atomic_fetch_add_explicit(&attempts, 1,
					       memory_order_relaxed) + 1;
	uint64_t k = atomic_load_explicit(&fail_at, memory_order_relaxed);
	bool fail = k && (n == k ||
			  (n > k && atomic_load_explicit(&fail_persistent,
							 memory_order_relaxed)));
	unsigned pm = atomic_load_explicit(&fail_permille, memory_order_relaxed);
	if (!fail && pm) {
		uint64_t seed =
			atomic_load_explicit(&fail_seed, memory_order_relaxed);
		fail = mix64(seed ^ mix64(n)) % 1000 < pm;
	}
	if (fail)
		atomic_fetch_add_explicit(&failures, 1, memory_order_relaxed);
	return fail;
}

void weft__alloc_hook_live(int delta)
{
	atomic_fetch_add_explicit(&live, delta, memory_order_relaxed);
}

int weft__alloc_hook_thread_create(pthread_t *thread, void *(*fn)(void *),
				   void *arg)
{
	uint64_t n = atomic_fetch_add_explicit(&thread_attempts, 1,
					       memory_order_relaxed) + 1;
	if (n == atomic_load_explicit(&thread_fail_at, memory_order_relaxed)) {
		atomic_fetch_add_explicit(&thread_failures, 1,
					  memory_order_relaxed);
		return EAGAIN;
	}
	return pthread_create(thread, NULL, fn, arg);
}
