/*
 * The allocation hook (see runtime/alloc_hook.h). Built only with
 * -Dalloc_hook=true.
 *
 * Every word here is a counter or a setting, read and written by any
 * thread; nothing is published through them, so every access is relaxed
 * and goes through the three helpers below.
 */
#include "runtime/alloc_hook.h"

#include <errno.h>
#include <stdatomic.h>

#include "runtime/alloc.h"

static _Atomic uint64_t attempts, failures, thread_attempts, thread_failures;
static _Atomic uint64_t live; /* wraps below zero as int64_t */
static _Atomic uint64_t fail_at, fail_persistent, fail_permille, fail_seed;
static _Atomic uint64_t thread_fail_at;

static uint64_t get(_Atomic uint64_t *w)
{
	/* relaxed: a counter or a setting (see the top of the file). */
	return atomic_load_explicit(w, memory_order_relaxed);
}

static void set(_Atomic uint64_t *w, uint64_t v)
{
	/* relaxed: as in get(). */
	atomic_store_explicit(w, v, memory_order_relaxed);
}

/* Returns the new value. */
static uint64_t add(_Atomic uint64_t *w, uint64_t v)
{
	/* relaxed: as in get(); the RMW keeps every attempt's number
	 * distinct. */
	return atomic_fetch_add_explicit(w, v, memory_order_relaxed) + v;
}

static uint64_t mix64(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

void weft__alloc_hook_reset(void)
{
	set(&fail_at, 0);
	set(&fail_permille, 0);
	set(&thread_fail_at, 0);
	set(&attempts, 0);
	set(&failures, 0);
	set(&thread_attempts, 0);
	set(&thread_failures, 0);
}

void weft__alloc_fail_at(uint64_t k, bool persistent)
{
	set(&fail_persistent, persistent);
	set(&fail_at, k);
}

void weft__alloc_fail_rate(unsigned permille, uint64_t seed)
{
	set(&fail_seed, seed);
	set(&fail_permille, permille);
}

void weft__thread_fail_at(uint64_t k)
{
	set(&thread_fail_at, k);
}

void weft__alloc_counts(struct weft__alloc_counts *out)
{
	out->attempts = get(&attempts);
	out->failures = get(&failures);
	out->live = (int64_t)get(&live);
	out->thread_attempts = get(&thread_attempts);
	out->thread_failures = get(&thread_failures);
}

bool weft__alloc_hook_fails(void)
{
	uint64_t n = add(&attempts, 1);
	uint64_t k = get(&fail_at);
	bool fail = k && (n == k || (n > k && get(&fail_persistent)));
	uint64_t pm = get(&fail_permille);
	if (!fail && pm)
		fail = mix64(get(&fail_seed) ^ mix64(n)) % 1000 < pm;
	if (fail)
		add(&failures, 1);
	return fail;
}

void weft__alloc_hook_live(int delta)
{
	add(&live, (uint64_t)(int64_t)delta);
}

int weft__alloc_hook_thread_create(pthread_t *thread,
				   const pthread_attr_t *attr,
				   void *(*fn)(void *), void *arg)
{
	if (add(&thread_attempts, 1) == get(&thread_fail_at)) {
		add(&thread_failures, 1);
		return EAGAIN;
	}
	return pthread_create(thread, attr, fn, arg);
}
