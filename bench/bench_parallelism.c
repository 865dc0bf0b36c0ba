/*
 * Prints the machine's real parallelism (parallelism.h) and what moving
 * memory between two CPUs costs (crosscpu.h): the first lines of every
 * benchmark report.
 */
#include <stdio.h>

#include "crosscpu.h"
#include "parallelism.h"

int main(void)
{
	struct bench_parallelism par;
	int err = bench_parallelism_measure(&par);

	if (err) {
		fprintf(stderr, "bench_parallelism: error %d\n", err);
		return 1;
	}
	bench_parallelism_print(&par);
	struct bench_crosscpu cross;
	err = bench_crosscpu_measure(&cross);
	if (err) {
		fprintf(stderr, "bench_parallelism: cross-CPU probe: error %d\n",
			err);
		return 1;
	}
	bench_crosscpu_print(&cross);
	return 0;
}
