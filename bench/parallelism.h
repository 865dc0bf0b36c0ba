/*
 * How much parallelism the machine really gives this process, measured
 * before a benchmark so its figures can be read in context: on a shared or
 * throttled host two threads may not run twice as fast as one.
 *
 * It runs one CPU-bound loop alone, then k copies at once (k = the CPUs
 * this process may use, at least 2), and compares each copy's speed with
 * the lone loop's. Parallelism is k times that ratio (at most k). Takes
 * about a second.
 */
#ifndef WEFT_BENCH_PARALLELISM_H
#define WEFT_BENCH_PARALLELISM_H

struct bench_parallelism {
	unsigned cpus;      /* CPUs in this process's affinity mask */
	unsigned loops;     /* k: busy loops run at once */
	double ratio;       /* speed of each of the k loops / speed of one */
	double parallelism; /* k * ratio, at most k */
};

/* Returns 0, or a negative errno if a thread could not be started. */
int bench_parallelism_measure(struct bench_parallelism *p);

/* Prints "parallelism: 1.93 of 2 CPUs (two busy loops ran at 0.97x the
 * speed of one)". */
void bench_parallelism_print(const struct bench_parallelism *p);

#endif
