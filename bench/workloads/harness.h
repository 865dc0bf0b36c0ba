/*
 * What every benchmark program shares: options, timing, the output line,
 * a latch, CPU time. Used from C and from C++ (the oneTBB program).
 *
 * A program is one implementation (seq, weft, mutex, omp, tbb) that knows
 * several workloads; bench_main() picks the workload named by the first
 * argument and runs it:
 *
 *   bench_IMPL WORKLOAD [-n SIZE] [-s SHAPE] [-t THREADS] [-r RUNS]
 *                       [-p PAUSE_US] [-w WINDOW_S] [-b] [-c]
 *
 * Timed workloads run once untimed (warm-up: threads started, memory
 * touched; -c skips it, for workloads that take seconds) and then RUNS
 * times; each timed run prints one line of key=value pairs, e.g.
 *
 *   fib impl=weft threads=2 n=30 run=1 seconds=0.01234 result=832040
 *
 * The runner (bench/run.py) reads the keys it knows and ignores the rest.
 */
#ifndef WEFT_BENCH_HARNESS_H
#define WEFT_BENCH_HARNESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct bench_opts {
	const char *impl;     /* set by bench_main: "weft", "tbb", ... */
	const char *workload; /* the first argument */
	long n;               /* -n: the size (meaning depends on workload) */
	const char *shape;    /* -s: a named tree for uts (see kernels.h) */
	unsigned threads;     /* -t: worker threads; default one per CPU */
	int runs;             /* -r: timed runs after the warm-up */
	int first;            /* the first run: 0 (the warm-up), 1 with -c */
	long pause_us;        /* -p: round trip: pause between trips */
	double window_s;      /* -w: idle: length of each measured window */
	bool baseline;        /* -b: fib: also time the sequential code in
			       * each run and print overhead_ns per task */
};

struct bench_workload {
	const char *name;
	void (*run)(const struct bench_opts *o);
};

/* Parses the arguments, finds the workload, runs it; returns the exit
 * status (2 on bad usage or an unknown workload). */
int bench_main(int argc, char **argv, const char *impl,
	       const struct bench_workload *w, int count);

/* Seconds on CLOCK_MONOTONIC. */
double bench_now(void);

/* User + system CPU seconds of this process so far. */
double bench_cpu_s(void);

/* The process's peak resident set (VmHWM), in KiB; 0 if unknown. It is
 * printed as the last line, "rss peak_rss_kb=N". (The runner cannot take
 * it from wait4: a child's ru_maxrss includes the memory of the process
 * that forked it, before exec.) */
long bench_peak_rss_kb(void);

/* A spin-wait hint to the CPU. */
static inline void bench_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* Sleeps for s seconds. */
void bench_sleep(double s);

/* Prints "WORKLOAD impl=IMPL threads=T n=N run=R " followed by fmt. */
void bench_line(const struct bench_opts *o, int run, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The common case: prints seconds= and result= for run r (r == 0 is the
 * warm-up and prints nothing). */
void bench_timed(const struct bench_opts *o, int run, double seconds,
		 long long result);

/* Aborts the program with a message when a workload computed a result
 * other than the expected one. */
void bench_check(const struct bench_opts *o, long long got, long long want);

/* Exits with a message: an implementation call failed. */
void bench_die(const char *what) __attribute__((noreturn));

/* Latencies: sorts v and prints p50_us, p99_us, p999_us (v in seconds). */
void bench_latencies(const struct bench_opts *o, double *v, long count);

/* A one-shot event: opened once by any thread, waited for by one. */
struct bench_latch {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool open;
};
void bench_latch_init(struct bench_latch *l);
void bench_latch_open(struct bench_latch *l);
void bench_latch_wait(struct bench_latch *l); /* and closes it again */
void bench_latch_destroy(struct bench_latch *l);

#ifdef __cplusplus
}
#endif

#endif
