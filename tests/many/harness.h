/*
 * What the stress programs of tests/many share: the seed, the size scale,
 * a small PRNG, check counters, the watchdog and the report line.
 *
 *   WEFT_SEED=<n>          replays a run (decimal or 0x...); without it
 *                          the seed comes from the clock. It is printed.
 *   WEFT_STRESS_SCALE=<f>  multiplies every size (default 1).
 *
 * A program prints its figures and its seed and ends with exactly one
 * line "N passed, N failed"; it exits 0 iff nothing failed. A watchdog
 * thread turns a hang (no progress for a while) into that line with one
 * more failure and _exit(1).
 *
 * Header-only, for one translation unit per program.
 */
#ifndef WEFT_TESTS_MANY_HARNESS_H
#define WEFT_TESTS_MANY_HARNESS_H

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_THREAD__)
#define H_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define H_TSAN 1
#endif
#endif
#ifndef H_TSAN
#define H_TSAN 0
#endif

/* Failed checks printed in full; the rest are only counted. */
#define H_MAX_REPORTS 40

static struct {
	const char *prog;
	uint64_t seed;
	double scale;
	_Atomic uint64_t passed, failed, reported;
	/* The watchdog: progress ticks, how long they may stall, and what
	 * the program was doing last (for the message). */
	_Atomic uint64_t progress;
	int64_t stall_ns;
	_Atomic(const char *) phase;
	_Atomic long phase_arg;
	_Atomic bool done;
	pthread_t watchdog;
} h;

static inline int64_t h_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void h_sleep_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Busy work of about ns nanoseconds (a slow stage, a slow task). */
static inline void h_spin_ns(int64_t ns)
{
	int64_t until = h_now_ns() + ns;
	while (h_now_ns() < until)
		;
}

/* xorshift64*, seeded through splitmix64 from (seed, stream), so every
 * round and every thread draws its own replayable sequence. */
typedef struct {
	uint64_t s;
} h_rng;

static inline h_rng h_rng_make(uint64_t seed, uint64_t stream)
{
	uint64_t z = seed + 0x9E3779B97F4A7C15ull * (stream + 1);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	z ^= z >> 31;
	return (h_rng){z ? z : 1};
}

static inline uint64_t h_next(h_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545F4914F6CDD1Dull;
}

/* Uniform in [0, n); n > 0. */
static inline uint64_t h_below(h_rng *r, uint64_t n)
{
	return h_next(r) % n;
}

/* A size scaled by WEFT_STRESS_SCALE, at least min. */
static inline size_t h_scaled(double base, size_t min)
{
	double v = base * h.scale;
	return v < (double)min ? min : (size_t)v;
}

static inline void h_tick(void)
{
	atomic_fetch_add_explicit(&h.progress, 1, memory_order_relaxed);
}

static inline void h_phase(const char *what, long arg)
{
	atomic_store(&h.phase_arg, arg);
	atomic_store(&h.phase, what);
	h_tick();
}

static void h_report_line(uint64_t extra_failed)
{
	printf("%" PRIu64 " passed, %" PRIu64 " failed\n",
	       atomic_load(&h.passed), atomic_load(&h.failed) + extra_failed);
	fflush(stdout);
}

static void *h_watchdog_main(void *arg)
{
	(void)arg;
	uint64_t last = atomic_load(&h.progress);
	int64_t since = h_now_ns();
	while (!atomic_load(&h.done)) {
		h_sleep_us(100000);
		uint64_t now_progress = atomic_load(&h.progress);
		if (now_progress != last) {
			last = now_progress;
			since = h_now_ns();
			continue;
		}
		if (h_now_ns() - since > h.stall_ns) {
			printf("%s: HANG: no progress for %.0f s in %s (%ld); "
			       "seed 0x%" PRIx64 "\n",
			       h.prog, (double)h.stall_ns / 1e9,
			       atomic_load(&h.phase), atomic_load(&h.phase_arg),
			       h.seed);
			h_report_line(1);
			_exit(1);
		}
	}
	return NULL;
}

static void h_init(const char *prog)
{
	h.prog = prog;
	const char *s = getenv("WEFT_SEED");
	if (s && *s) {
		h.seed = strtoull(s, NULL, 0);
	} else {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		h.seed = (uint64_t)ts.tv_sec * 1000003u ^
			 (uint64_t)ts.tv_nsec ^ (uint64_t)getpid() << 32;
	}
	h.scale = 1.0;
	const char *sc = getenv("WEFT_STRESS_SCALE");
	if (sc && *sc) {
		double v = strtod(sc, NULL);
		if (v > 0)
			h.scale = v;
	}
	/* Sanitizers slow everything down; no round stalls this long. */
	h.stall_ns = (int64_t)60 * 1000000000;
	atomic_store(&h.phase, "start");
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("%s: seed 0x%" PRIx64 " (replay with WEFT_SEED=0x%" PRIx64
	       "), scale %.3g%s\n",
	       prog, h.seed, h.seed, h.scale, H_TSAN ? ", tsan sizes" : "");
	if (pthread_create(&h.watchdog, NULL, h_watchdog_main, NULL)) {
		printf("%s: cannot start the watchdog\n", prog);
		h_report_line(1);
		exit(1);
	}
}

__attribute__((format(printf, 2, 3))) static void h_check(bool ok,
							   const char *fmt,
							   ...)
{
	if (ok) {
		atomic_fetch_add_explicit(&h.passed, 1, memory_order_relaxed);
		return;
	}
	atomic_fetch_add(&h.failed, 1);
	if (atomic_fetch_add(&h.reported, 1) >= H_MAX_REPORTS)
		return;
	va_list ap;
	va_start(ap, fmt);
	flockfile(stdout);
	printf("FAIL: ");
	vprintf(fmt, ap);
	printf(" (seed 0x%" PRIx64 ")\n", h.seed);
	funlockfile(stdout);
	va_end(ap);
}

/* Checks that count once however many items they cover. */
#define H_CHECK(cond, ...) h_check((cond), __VA_ARGS__)

/* Stops the watchdog, prints the report line and returns the exit code. */
static int h_finish(void)
{
	atomic_store(&h.done, true);
	pthread_join(h.watchdog, NULL);
	h_report_line(0);
	return atomic_load(&h.failed) ? 1 : 0;
}

#endif
