/*
 * A small harness for the plain-main() stress programs in tests/stress/.
 *
 * A program calls stress_init() first and returns stress_finish() from
 * main(). In between it may use:
 *  - stress_scaled(n): n multiplied by WEFT_STRESS_SCALE (a float, default
 *    1.0), at least 1 (meson test --setup=soak sets 10).
 *  - stress_seed(): WEFT_SEED from the environment, or one derived from the
 *    clock. stress_init() prints it as "seed=N", so a failed run can be
 *    replayed with WEFT_SEED=N (the seeded choices repeat; the thread
 *    interleaving does not).
 *  - struct stress_rng: splitmix64, one per thread, seeded from the seed and
 *    a stream number.
 *  - a watchdog thread: if stress_finish() is not reached within the
 *    timeout given to stress_init() (times max(1, scale); the environment
 *    variable WEFT_STRESS_TIMEOUT, in seconds, overrides it), it prints the
 *    phase set by stress_phase() and the seed, and calls _exit(1).
 *  - STRESS_CHECK(cond, fmt, ...): one check. It counts as passed or
 *    failed; a failure prints file:line and the message. Any thread.
 *  - struct stress_barrier: a spinning barrier (yields after a while, so
 *    it stays usable with more threads than CPUs).
 * stress_finish() prints "N passed, N failed" and returns the exit status:
 * 0 if and only if no check failed.
 *
 * STRESS_TSAN is 1 in a ThreadSanitizer build; STRESS_DEFAULT(normal, tsan)
 * picks the smaller default sizes there.
 */
#ifndef WEFT_TESTS_STRESS_H
#define WEFT_TESTS_STRESS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#if defined(__SANITIZE_THREAD__) || defined(WEFT_TSAN)
#define STRESS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define STRESS_TSAN 1
#endif
#endif
#ifndef STRESS_TSAN
#define STRESS_TSAN 0
#endif

#define STRESS_DEFAULT(normal, tsan) (STRESS_TSAN ? (tsan) : (normal))

/* Prints the program name, seed and scale, and starts the watchdog. */
void stress_init(const char *name, double timeout_s);

/* Stops the watchdog, prints "N passed, N failed", returns 0 or 1. */
int stress_finish(void);

double stress_scale(void);
uint64_t stress_scaled(uint64_t n);
uint64_t stress_seed(void);

/* Names what the program is doing, for the watchdog's message. The string
 * must outlive the program (a literal). Any thread. */
void stress_phase(const char *what);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t stress_now_ns(void);

void stress_check(bool ok, const char *file, int line, const char *expr,
		  const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

#define STRESS_CHECK(cond, ...) \
	stress_check(!!(cond), __FILE__, __LINE__, #cond, __VA_ARGS__)

/* splitmix64 (Steele, Lea, Flood, OOPSLA 2014): one add and three
 * xor-shift-multiply steps per number; any seed is fine. */
struct stress_rng {
	uint64_t s;
};

static inline uint64_t stress_mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* stream: a different number per thread or per use. */
static inline void stress_rng_init(struct stress_rng *r, uint64_t seed,
				   uint64_t stream)
{
	r->s = stress_mix64(seed ^ stress_mix64(stream + 1));
}

static inline uint64_t stress_rng_next(struct stress_rng *r)
{
	r->s += UINT64_C(0x9e3779b97f4a7c15);
	return stress_mix64(r->s);
}

/* In [0, n), n > 0; the modulo bias is negligible for test choices. */
static inline uint64_t stress_rng_below(struct stress_rng *r, uint64_t n)
{
	return stress_rng_next(r) % n;
}

static inline void stress_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

/* Spins n pause instructions: a small, seeded delay to vary interleavings. */
static inline void stress_spin(uint64_t n)
{
	while (n--)
		stress_cpu_relax();
}

struct stress_barrier {
	/* Arrivals in the current phase. Every participant increments it
	 * (acq_rel); the last one resets it (relaxed) before opening. */
	_Atomic unsigned arrived;
	/* The phase number. Written by the last arrival (release); spun on
	 * by the others (acquire). */
	_Atomic unsigned phase;
	unsigned n; /* participants; set by stress_barrier_init() */
};

/* Before any thread uses the barrier. */
void stress_barrier_init(struct stress_barrier *b, unsigned n);

/* Returns once all n participants have called it. Everything a
 * participant did before the call happens-before everything any
 * participant does after it returns. */
void stress_barrier_wait(struct stress_barrier *b);

#endif
