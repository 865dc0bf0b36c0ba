/*
 * The request's work (see work.h).
 */
#include "work.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int work_parse(const char *s, struct work_profile *out, const char **why)
{
	static const struct work_profile named[] = {
		{ "light", 3.0, 0.0, 0.0 },
		{ "heavy", 50.0, 0.0, 0.0 },
		{ "mix", 3.0, 1000.0, 0.01 },
	};

	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		if (strcmp(s, named[i].name) == 0) {
			*out = named[i];
			return 0;
		}
	}
	char *end;
	double us = strtod(s, &end);
	if (end == s || *end != '\0' || !isfinite(us) || us < 0 ||
	    us > 1e6) {
		*why = "expected light, heavy, mix or a number of microseconds "
		       "from 0 to 1000000";
		return -1;
	}
	*out = (struct work_profile){ "custom", us, 0.0, 0.0 };
	return 0;
}

uint64_t work_spin(uint64_t iters, uint64_t seed)
{
	uint64_t x = seed | 1;

	/* Each step depends on the last (a multiply, an add, a shift and a
	 * xor), so the CPU cannot overlap them and the compiler cannot
	 * shorten the chain: the time is proportional to iters. */
	for (uint64_t i = 0; i < iters; i++) {
		x = x * 6364136223846793005u + 1442695040888963407u;
		x ^= x >> 29;
	}
	return x;
}

/* Where calibration's results go, so that the loop is not dropped. */
static volatile uint64_t calibrate_sink;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

double work_calibrate(void)
{
	/* 15 runs of ~2 ms each; the fastest is the CPU's speed when it is
	 * not shared. */
	enum { RUNS = 15 };
	const uint64_t iters = 1000000;
	double best = INFINITY;

	for (int r = 0; r < RUNS; r++) {
		double t0 = now_ns();
		calibrate_sink = work_spin(iters, (uint64_t)r + 1);
		double t = now_ns() - t0;
		if (t > 0 && t < best)
			best = t;
	}
	return (double)iters / (best / 1e3);
}
