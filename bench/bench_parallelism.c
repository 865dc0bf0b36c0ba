/*
 * Prints the machine's real parallelism (parallelism.h): the first line of
 * every benchmark report.
 */
#include <stdio.h>

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
	return 0;
}
