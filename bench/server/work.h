/*
 * The work a request does in the server benchmark: a calibrated busy loop,
 * so that a request costs a known amount of CPU whatever backend runs it
 * (sleeping would cost no CPU and hide the scheduler's cost).
 *
 * A profile says how long requests compute: every request `base_us`, or
 * with probability `long_fraction` `long_us` instead (the mix: 1% of
 * 1 ms requests among ~3 us ones). The server draws each request's length
 * on its IO thread from a fixed-seed sequence, so every backend sees the
 * same sequence of lengths in the same order.
 */
#ifndef WEFT_BENCH_SERVER_WORK_H
#define WEFT_BENCH_SERVER_WORK_H

#include <stdint.h>

struct work_profile {
	const char *name;     /* "light", "heavy", "mix" or "custom" */
	double base_us;       /* a usual request */
	double long_us;       /* a long request (0: none) */
	double long_fraction; /* share of long requests, in [0, 1] */
};

/* Parses "light" (~3 us), "heavy" (~50 us), "mix" (3 us, 1% of 1000 us)
 * or a number of microseconds ("20", "0.5"; at most 1e6). Returns 0, or
 * -1 with *why set to a static message. */
int work_parse(const char *s, struct work_profile *out, const char **why);

/* Loop iterations per microsecond on this CPU: the fastest of several
 * short timed runs, so a run that was preempted (on a shared machine)
 * does not make the work shorter than asked. Takes about 30 ms. */
double work_calibrate(void);

/* Spins for `iters` iterations of a dependent integer chain seeded by
 * `seed` and returns its result (which the caller must use, so that the
 * compiler cannot drop the loop). */
uint64_t work_spin(uint64_t iters, uint64_t seed);

#endif
