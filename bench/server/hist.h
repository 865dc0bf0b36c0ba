/*
 * A log-linear latency histogram, in the manner of HdrHistogram: values
 * below 128 ns are counted exactly; above, each power of two is split
 * into 64 equal buckets, so a reported percentile is within 1/64 (1.6%)
 * above the true value. Values up to 2^40 ns (18 minutes); larger ones
 * count in the last bucket. Fixed size, no allocation: recording is an
 * increment.
 */
#ifndef WEFT_BENCH_SERVER_HIST_H
#define WEFT_BENCH_SERVER_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 6                             /* 64 buckets an octave */
#define HIST_MAX_EXP 40                             /* 2^40 ns */
#define HIST_BUCKETS ((HIST_MAX_EXP - HIST_SUB_BITS + 1) << HIST_SUB_BITS)

struct hist {
	uint64_t count;
	uint64_t max;   /* exact */
	double sum;     /* for the mean */
	uint64_t bucket[HIST_BUCKETS];
};

/* Zeroes h. */
void hist_init(struct hist *h);

/* Counts one value (nanoseconds). */
void hist_record(struct hist *h, uint64_t ns);

/* The smallest value v such that at least q (0..1) of the values are
 * <= v, as the upper edge of its bucket (never below the truth), capped
 * by the exact maximum; 0 if h is empty. */
uint64_t hist_quantile(const struct hist *h, double q);

#endif
