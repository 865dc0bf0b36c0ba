/*
 * The shared harness of the runtime stress programs (plain main()
 * programs, not Criterion): seed, size scale, per-thread PRNG, watchdog,
 * CHECK counters and the final report line.
 *
 *   WEFT_SEED=<n>          replays a run (decimal or 0x hex); otherwise
 *                          the seed comes from the clock and is printed.
 *   WEFT_STRESS_SCALE=<f>  multiplies every size (default 1.0).
 *
 * Every program prints its figures, its seed, and ends with exactly one
 * line "N passed, N failed"; it exits 0 iff nothing failed. The watchdog
 * prints what it was waiting for and _exit(1)s, so a hang is a failure and
 * not a CI timeout.
 *
 * Header-only: include it from exactly one translation unit per program.
 */
#ifndef WEFT_TESTS_RUNTIME_HARNESS_H
#define WEFT_TESTS_RUNTIME_HARNESS_H

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
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
#define HARNESS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HARNESS_TSAN 1
#endif
#endif
#ifndef HARNESS_TSAN
#define HARNESS_TSAN 0
#endif

#if defined(__SANITIZE_ADDRESS__)
#define HARNESS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HARNESS_ASAN 1
#endif
#endif
#ifndef HARNESS_ASAN
#define HARNESS_ASAN 0
#endif

/* At most this many failed checks are printed; all are counted. */
#define HARNESS_MAX_PRINTED 50

/* The harness state. Written by harness_init() before any other thread
 * starts (seed, scale, name); the counters are atomics. */
static struct {
	const char *name;
	uint64_t seed;
	double scale;
	_Atomic uint64_t passed, failed, printed;
	/* The watchdog: deadline in CLOCK_MONOTONIC ns (0: disarmed), and
	 * what the program is doing (a static string and a number). */
	_Atomic int64_t deadline;
	_Atomic(const char *) what;
	_Atomic uint64_t what_arg;
	pthread_t watchdog;
} harness;

static inline int64_t harness_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void harness_sleep_ns(int64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * PRNG: splitmix64 seeds a per-thread xorshift64* stream, so every thread
 * draws its own reproducible sequence from (seed, stream).
 */

struct harness_rng {
	uint64_t s;
};

static inline uint64_t harness_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static inline void harness_rng_init(struct harness_rng *r, uint64_t seed,
				    uint64_t stream)
{
	uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ull);
	r->s = harness_splitmix64(&x);
	if (!r->s)
		r->s = 1;
}

static inline uint64_t harness_rng_next(struct harness_rng *r)
{
	uint64_t x = r->s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	r->s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/* In [0, n) (the modulo bias is irrelevant here); n > 0. */
static inline uint64_t harness_rng_below(struct harness_rng *r, uint64_t n)
{
	return harness_rng_next(r) % n;
}

/* True with probability num/den. */
static inline bool harness_rng_chance(struct harness_rng *r, uint64_t num,
				      uint64_t den)
{
	return harness_rng_below(r, den) < num;
}

/*
 * Checks. Thread-safe. In hot loops count errors locally and CHECK once.
 */

static inline bool harness_check(bool ok, const char *file, int line,
				 const char *expr, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static inline bool harness_check(bool ok, const char *file, int line,
				 const char *expr, const char *fmt, ...)
{
	if (ok) {
		atomic_fetch_add_explicit(&harness.passed, 1,
					  memory_order_relaxed);
		return true;
	}
	atomic_fetch_add_explicit(&harness.failed, 1, memory_order_relaxed);
	if (atomic_fetch_add_explicit(&harness.printed, 1,
				      memory_order_relaxed) <
	    HARNESS_MAX_PRINTED) {
		char msg[512] = "";
		if (fmt) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(msg, sizeof(msg), fmt, ap);
			va_end(ap);
		}
		fprintf(stderr, "%s:%d: CHECK failed: %s%s%s (seed=0x%016" PRIx64
				")\n",
			file, line, expr, msg[0] ? ": " : "", msg,
			harness.seed);
	}
	return false;
}

static inline bool harness_check_eq(uint64_t a, uint64_t b, const char *file,
				    int line, const char *expr)
{
	return harness_check(a == b, file, line, expr,
			     "%" PRIu64 " != %" PRIu64, a, b);
}

static inline bool harness_check_rc(int rc, int want, const char *file,
				    int line, const char *expr)
{
	return harness_check(rc == want, file, line, expr, "got %d, want %d",
			     rc, want);
}

/* Each argument is evaluated exactly once. */
#define CHECK(cond) harness_check(!!(cond), __FILE__, __LINE__, #cond, NULL)
#define CHECKF(cond, ...)                                                     \
	harness_check(!!(cond), __FILE__, __LINE__, #cond, __VA_ARGS__)
#define CHECK_EQ(a, b)                                                        \
	harness_check_eq((uint64_t)(a), (uint64_t)(b), __FILE__, __LINE__,    \
			 #a " == " #b)
#define CHECK_RC(rc, want)                                                    \
	harness_check_rc((int)(rc), (int)(want), __FILE__, __LINE__,          \
			 #rc " == " #want)

static inline uint64_t harness_failed(void)
{
	return atomic_load_explicit(&harness.failed, memory_order_relaxed);
}

/* Prints the final line; returns the exit status. */
static inline int harness_report(void)
{
	uint64_t p = atomic_load_explicit(&harness.passed, memory_order_relaxed);
	uint64_t f = atomic_load_explicit(&harness.failed, memory_order_relaxed);
	printf("%s: seed=0x%016" PRIx64 "\n", harness.name, harness.seed);
	printf("%" PRIu64 " passed, %" PRIu64 " failed\n", p, f);
	fflush(stdout);
	return f ? 1 : 0;
}

/*
 * Watchdog.
 */

/* Arms (or re-arms) the watchdog: if it is not re-armed or disarmed within
 * seconds, the program reports what (and arg) and exits with status 1. */
static inline void harness_watchdog_arm(double seconds, const char *what,
					uint64_t arg)
{
	atomic_store_explicit(&harness.what, what, memory_order_relaxed);
	atomic_store_explicit(&harness.what_arg, arg, memory_order_relaxed);
	atomic_store_explicit(&harness.deadline,
			      harness_now_ns() + (int64_t)(seconds * 1e9),
			      memory_order_relaxed);
}

static inline void harness_watchdog_disarm(void)
{
	atomic_store_explicit(&harness.deadline, 0, memory_order_relaxed);
}

static inline void *harness_watchdog_main(void *arg)
{
	(void)arg;
	for (;;) {
		harness_sleep_ns(50000000);
		int64_t d = atomic_load_explicit(&harness.deadline,
						 memory_order_relaxed);
		if (!d || harness_now_ns() < d)
			continue;
		const char *what =
			atomic_load_explicit(&harness.what, memory_order_relaxed);
		fprintf(stderr,
			"%s: WATCHDOG: no progress in time while %s (%" PRIu64
			"); seed=0x%016" PRIx64 "\n",
			harness.name, what ? what : "running",
			atomic_load_explicit(&harness.what_arg,
					     memory_order_relaxed),
			harness.seed);
		fprintf(stdout, "%" PRIu64 " passed, %" PRIu64 " failed\n",
			atomic_load_explicit(&harness.passed,
					     memory_order_relaxed),
			atomic_load_explicit(&harness.failed,
					     memory_order_relaxed) + 1);
		fflush(stdout);
		fflush(stderr);
		_exit(1);
	}
	return NULL;
}

/*
 * Setup.
 */

static inline uint64_t harness_env_u64(const char *var, uint64_t dflt,
				       bool *set)
{
	const char *s = getenv(var);
	if (set)
		*set = false;
	if (!s || !*s)
		return dflt;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end) {
		fprintf(stderr, "%s: ignoring malformed %s=%s\n", harness.name,
			var, s);
		return dflt;
	}
	if (set)
		*set = true;
	return v;
}

/* Reads the seed and scale, prints them, starts the watchdog (disarmed).
 * Call first, from main, before starting any thread. */
static inline void harness_init(const char *name)
{
	harness.name = name;
	bool set;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t t = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	t ^= (uint64_t)getpid() << 32;
	uint64_t mix = t;
	harness.seed = harness_env_u64("WEFT_SEED", harness_splitmix64(&mix),
				       &set);
	harness.scale = 1.0;
	const char *sc = getenv("WEFT_STRESS_SCALE");
	if (sc && *sc) {
		char *end;
		double v = strtod(sc, &end);
		if (*end || !(v > 0) || v > 1e6)
			fprintf(stderr, "%s: ignoring malformed "
					"WEFT_STRESS_SCALE=%s\n",
				name, sc);
		else
			harness.scale = v;
	}
	printf("%s: seed=0x%016" PRIx64 " (%s; replay with WEFT_SEED=0x%016" PRIx64
	       ") scale=%g%s\n",
	       name, harness.seed, set ? "from WEFT_SEED" : "from the clock",
	       harness.seed, harness.scale,
	       HARNESS_TSAN ? " tsan" : (HARNESS_ASAN ? " asan" : ""));
	fflush(stdout);
	if (pthread_create(&harness.watchdog, NULL, harness_watchdog_main,
			   NULL)) {
		fprintf(stderr, "%s: cannot start the watchdog\n", name);
		exit(2);
	}
	pthread_detach(harness.watchdog);
}

/* A size: the default (or the TSan default in a TSan build) times the
 * scale, at least min. */
static inline uint64_t harness_size(uint64_t dflt, uint64_t tsan_dflt,
				    uint64_t min)
{
	double v = (double)(HARNESS_TSAN ? tsan_dflt : dflt) * harness.scale;
	uint64_t n = v < 1.0 ? 0 : (uint64_t)v;
	return n < min ? min : n;
}

#endif
