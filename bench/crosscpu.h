/*
 * What it costs to move memory between two CPUs, measured before a
 * benchmark beside its parallelism: on a shared VM it changes from hour to
 * hour (the host moves the virtual CPUs), and the patterns whose tasks
 * hand data from one worker to another follow it.
 *
 * Two threads pinned to the first two CPUs this process may use take
 * turns over a 160 KB array (20,000 pointers, the seed benchmarks' size):
 * one writes every element, the other then sums them, so each pass finds
 * the lines in the other CPU's cache. The same passes on one thread give
 * the local cost. Medians of 64 passes; takes a few milliseconds.
 */
#ifndef WEFT_BENCH_CROSSCPU_H
#define WEFT_BENCH_CROSSCPU_H

#include <stdbool.h>

struct bench_crosscpu {
	bool measured;             /* false with fewer than two CPUs */
	double write_us, read_us;  /* lines last held by the other CPU */
	double write_local_us, read_local_us; /* on one CPU */
};

/* Returns 0, or a negative errno if a thread could not be started. */
int bench_crosscpu_measure(struct bench_crosscpu *c);

/* Prints "cross-CPU: 160 KB written after the other CPU read it 21.6 us
 * (3.4 us on one CPU), read after the other CPU wrote it 10.8 us (4.7 us)",
 * or that it was not measured. */
void bench_crosscpu_print(const struct bench_crosscpu *c);

#endif
