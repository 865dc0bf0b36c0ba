/*
 * What the ported tutorials share: Python's random() and sleep(), a tick
 * clock for showing completion order, Python-like number printing, and
 * error checks. Only the public header is used.
 *
 * Randomness: every random value is a pure function of the run's seed and
 * of the task that draws it (a kind and an index), so a seed reproduces
 * every value and every sleep whatever thread runs the task. The seed is
 * WEFT_EXAMPLE_SEED when set, otherwise it comes from the clock and the
 * process id; it is printed on stderr.
 *
 * Time: one second of the tutorials is TUTORIAL_SECOND_MS milliseconds
 * here, so sleep(random()) becomes a sleep of 0 to 50 ms.
 */
#ifndef EXAMPLE_UTIL_H
#define EXAMPLE_UTIL_H

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "weft.h"

#define TUTORIAL_SECOND_MS 50.0

static inline uint64_t *example_seed_slot(void)
{
	static uint64_t seed;
	return &seed;
}

/* splitmix64's finaliser: a good 64-bit mix. */
static inline uint64_t example_mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

/* Call first in main(): picks the seed and makes stdout line buffered, so
 * lines come out in the order the threads print them even into a pipe. */
static inline void example_init(void)
{
	const char *env = getenv("WEFT_EXAMPLE_SEED");
	uint64_t seed;
	if (env && *env) {
		seed = strtoull(env, NULL, 0);
	} else {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		seed = example_mix((uint64_t)ts.tv_sec * 1000000000u +
				   (uint64_t)ts.tv_nsec) ^
		       (uint64_t)getpid();
		seed %= 1000000000u; /* short enough to type back */
	}
	*example_seed_slot() = seed;
	setvbuf(stdout, NULL, _IOLBF, 0);
	fprintf(stderr, "seed %" PRIu64 " (WEFT_EXAMPLE_SEED=%" PRIu64
		" repeats this run)\n", seed, seed);
}

/* Python's random() as drawn by task `index` of kind `kind`: a value in
 * [0, 1) with 53 random bits. */
static inline double random_value(unsigned kind, unsigned index)
{
	uint64_t key = ((uint64_t)kind << 32) | index;
	uint64_t x = example_mix(*example_seed_slot() ^ example_mix(key));
	return (double)(x >> 11) * 0x1.0p-53;
}

/* Python's sleep(seconds), scaled: a tutorial second lasts
 * TUTORIAL_SECOND_MS milliseconds. */
static inline void sleep_scaled(double seconds)
{
	double ns = seconds * TUTORIAL_SECOND_MS * 1e6;
	struct timespec ts = { (time_t)(ns / 1e9),
			       (long)(ns - (double)(time_t)(ns / 1e9) * 1e9) };
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* A tutorial's timeout in seconds, scaled, in nanoseconds. */
static inline int64_t scaled_ns(double seconds)
{
	return (int64_t)(seconds * TUTORIAL_SECOND_MS * 1e6);
}

static inline double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* A clock that every thread advances: each call returns the next tick.
 * Ticks order events across threads exactly, which wall-clock times taken
 * a few nanoseconds apart cannot. */
static inline uint64_t tick(void)
{
	static _Atomic uint64_t clock;
	return atomic_fetch_add(&clock, 1) + 1;
}

/* Formats v the way Python's repr() does: the shortest decimal that reads
 * back as the same double. buf holds at least 32 bytes. */
static inline const char *pyfloat(char *buf, double v)
{
	for (int digits = 1; digits <= 17; digits++) {
		snprintf(buf, 32, "%.*g", digits, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	return buf;
}

/* Examples stop at the first error, naming the call that failed. */
static inline void check(int err, const char *what)
{
	if (err < 0) {
		fprintf(stderr, "%s: %s\n", what, weft_strerror(err));
		exit(1);
	}
}

/* A pool of `workers` threads (0: one per CPU), named like the tutorial's
 * thread pool. */
static inline weft_pool *make_pool(unsigned workers, const char *name)
{
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = workers;
	cfg.name = name;
	weft_pool *pool;
	check(weft_pool_create(&pool, &cfg), "weft_pool_create");
	return pool;
}

/* True if the program's only argument is absent or names this pattern;
 * prints the pattern's header when it runs. */
static inline bool want(int argc, char **argv, const char *pattern,
			const char *title)
{
	if (argc > 1 && strcmp(argv[1], pattern) != 0)
		return false;
	printf("== %s: %s ==\n", pattern, title);
	return true;
}

#endif
