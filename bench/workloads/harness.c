/*
 * The benchmark programs' shared harness (see harness.h).
 */
#include "harness.h"

#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double bench_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

void bench_sleep(double s)
{
	struct timespec ts;

	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0)
		;
}

long bench_peak_rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static unsigned cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return (unsigned)CPU_COUNT(&set);
	return 1;
}

static void usage(const char *prog, const char *impl,
		  const struct bench_workload *w, int count)
{
	fprintf(stderr,
		"usage: %s WORKLOAD [-n SIZE] [-s SHAPE] [-t THREADS] "
		"[-r RUNS] [-p PAUSE_US] [-w WINDOW_S] [-b] [-c]\n"
		"workloads (%s):", prog, impl);
	for (int i = 0; i < count; i++)
		fprintf(stderr, " %s", w[i].name);
	fprintf(stderr, "\n");
}

int bench_main(int argc, char **argv, const char *impl,
	       const struct bench_workload *w, int count)
{
	struct bench_opts o;
	int opt;

	memset(&o, 0, sizeof(o));
	o.impl = impl;
	o.threads = cpus();
	o.runs = 3;
	o.window_s = 1.0;
	if (argc < 2) {
		usage(argv[0], impl, w, count);
		return 2;
	}
	o.workload = argv[1];
	optind = 2;
	while ((opt = getopt(argc, argv, "n:s:t:r:p:w:bc")) != -1) {
		switch (opt) {
		case 'n':
			o.n = strtol(optarg, NULL, 10);
			break;
		case 's':
			o.shape = optarg;
			break;
		case 't':
			o.threads = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			o.runs = atoi(optarg);
			break;
		case 'p':
			o.pause_us = strtol(optarg, NULL, 10);
			break;
		case 'w':
			o.window_s = strtod(optarg, NULL);
			break;
		case 'b':
			o.baseline = true;
			break;
		case 'c':
			o.first = 1;
			break;
		default:
			usage(argv[0], impl, w, count);
			return 2;
		}
	}
	if (o.threads < 1 || o.runs < 1 || o.n < 0 || o.pause_us < 0 ||
	    o.window_s <= 0) {
		usage(argv[0], impl, w, count);
		return 2;
	}
	for (int i = 0; i < count; i++) {
		if (strcmp(w[i].name, o.workload) == 0) {
			w[i].run(&o);
			printf("rss peak_rss_kb=%ld\n", bench_peak_rss_kb());
			return 0;
		}
	}
	fprintf(stderr, "%s: no workload %s\n", argv[0], o.workload);
	usage(argv[0], impl, w, count);
	return 2;
}

void bench_line(const struct bench_opts *o, int run, const char *fmt, ...)
{
	va_list ap;

	printf("%s impl=%s threads=%u n=%ld", o->workload, o->impl, o->threads,
	       o->n);
	if (o->shape)
		printf(" shape=%s", o->shape);
	printf(" run=%d ", run);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

void bench_timed(const struct bench_opts *o, int run, double seconds,
		 long long result)
{
	if (run > 0)
		bench_line(o, run, "seconds=%.6f result=%lld", seconds, result);
}

void bench_check(const struct bench_opts *o, long long got, long long want)
{
	if (got != want) {
		fprintf(stderr, "%s %s: wrong result %lld, expected %lld\n",
			o->workload, o->impl, got, want);
		exit(1);
	}
}

void bench_die(const char *what)
{
	fprintf(stderr, "benchmark failed: %s\n", what);
	exit(1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

void bench_latencies(const struct bench_opts *o, double *v, long count)
{
	qsort(v, (size_t)count, sizeof(*v), cmp_double);
	bench_line(o, 1, "p50_us=%.3f p99_us=%.3f p999_us=%.3f trips=%ld",
		   v[count / 2] * 1e6, v[count * 99 / 100] * 1e6,
		   v[count * 999 / 1000] * 1e6, count);
}

void bench_latch_init(struct bench_latch *l)
{
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->cond, NULL);
	l->open = false;
}

void bench_latch_open(struct bench_latch *l)
{
	pthread_mutex_lock(&l->lock);
	l->open = true;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->lock);
}

void bench_latch_wait(struct bench_latch *l)
{
	pthread_mutex_lock(&l->lock);
	while (!l->open)
		pthread_cond_wait(&l->cond, &l->lock);
	l->open = false;
	pthread_mutex_unlock(&l->lock);
}

void bench_latch_destroy(struct bench_latch *l)
{
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->lock);
}
