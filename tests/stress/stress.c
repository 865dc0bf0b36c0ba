/*
 * The stress harness (see stress.h): environment, seed, watchdog, checks,
 * spinning barrier.
 */
#include "stress.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Failure messages printed before the harness only counts them. */
#define MAX_REPORTED 50

static const char *prog = "stress";
static double scale = 1.0;
static uint64_t seed;

/* Written by any thread that checks (relaxed: plain counters, read by
 * stress_finish() after the threads were joined). */
static _Atomic unsigned long n_passed, n_failed;
/* Written by stress_phase() in any thread (release: the string literal is
 * constant anyway); read by the watchdog (acquire) to name the phase. */
static _Atomic(const char *) cur_phase = "start";

/* The watchdog sleeps on wd_cond until wd_stop or the deadline. */
static pthread_t wd_thread;
static pthread_mutex_t wd_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wd_cond;
static bool wd_stop;
static bool wd_started;
static double wd_timeout_s;

static void die(const char *what, int err)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(err));
	exit(2);
}

uint64_t stress_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *watchdog_main(void *arg)
{
	struct timespec deadline;
	int err = 0;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += (time_t)wd_timeout_s;
	deadline.tv_nsec += (long)((wd_timeout_s - (double)(time_t)wd_timeout_s)
				   * 1e9);
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&wd_lock);
	while (!wd_stop && err != ETIMEDOUT)
		err = pthread_cond_timedwait(&wd_cond, &wd_lock, &deadline);
	bool stopped = wd_stop;
	pthread_mutex_unlock(&wd_lock);
	if (stopped)
		return NULL;
	/* acquire: pairs with the release store in stress_phase(). */
	const char *phase = atomic_load_explicit(&cur_phase,
						 memory_order_acquire);
	fprintf(stderr,
		"%s: watchdog: no result after %g s, phase '%s'; "
		"replay with WEFT_SEED=%" PRIu64 "\n",
		prog, wd_timeout_s, phase, seed);
	fflush(stdout);
	_exit(1);
}

static double env_double(const char *name, double dflt)
{
	const char *s = getenv(name);
	char *end;

	if (!s || !*s)
		return dflt;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || !(v > 0)) {
		fprintf(stderr, "%s: bad %s='%s'\n", prog, name, s);
		exit(2);
	}
	return v;
}

void stress_init(const char *name, double timeout_s)
{
	const char *s;
	int err;

	prog = name;
	/* Line buffering: the watchdog's _exit() must not lose printed
	 * figures when stdout is a pipe (as under meson test). */
	setvbuf(stdout, NULL, _IOLBF, 0);

	scale = env_double("WEFT_STRESS_SCALE", 1.0);
	s = getenv("WEFT_SEED");
	if (s && *s) {
		char *end;

		errno = 0;
		seed = strtoull(s, &end, 0);
		if (errno || *end) {
			fprintf(stderr, "%s: bad WEFT_SEED='%s'\n", prog, s);
			exit(2);
		}
	} else {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		seed = stress_mix64((uint64_t)ts.tv_sec * 1000000000u ^
				    (uint64_t)ts.tv_nsec ^
				    ((uint64_t)getpid() << 32));
		/* Keep it short enough to retype. */
		seed %= UINT64_C(1000000000000);
	}
	wd_timeout_s = env_double("WEFT_STRESS_TIMEOUT",
				  timeout_s * (scale > 1 ? scale : 1));
	printf("%s: seed=%" PRIu64 " scale=%g timeout=%gs%s "
	       "(replay with WEFT_SEED=%" PRIu64 ")\n",
	       prog, seed, scale, wd_timeout_s,
	       STRESS_TSAN ? " tsan" : "", seed);

	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&wd_cond, &attr);
	pthread_condattr_destroy(&attr);
	err = pthread_create(&wd_thread, NULL, watchdog_main, NULL);
	if (err)
		die("pthread_create(watchdog)", err);
	wd_started = true;
}

int stress_finish(void)
{
	if (wd_started) {
		pthread_mutex_lock(&wd_lock);
		wd_stop = true;
		pthread_cond_signal(&wd_cond);
		pthread_mutex_unlock(&wd_lock);
		pthread_join(wd_thread, NULL);
		wd_started = false;
	}
	/* relaxed: every checking thread has been joined. */
	unsigned long p = atomic_load_explicit(&n_passed, memory_order_relaxed);
	/* relaxed: as above. */
	unsigned long f = atomic_load_explicit(&n_failed, memory_order_relaxed);
	if (f)
		printf("%s: FAILED; replay with WEFT_SEED=%" PRIu64 "\n",
		       prog, seed);
	printf("%lu passed, %lu failed\n", p, f);
	fflush(stdout);
	return f ? 1 : 0;
}

double stress_scale(void)
{
	return scale;
}

uint64_t stress_scaled(uint64_t n)
{
	double v = (double)n * scale;

	return v < 1 ? 1 : (uint64_t)v;
}

uint64_t stress_seed(void)
{
	return seed;
}

void stress_phase(const char *what)
{
	/* release: pairs with the acquire load in watchdog_main(). */
	atomic_store_explicit(&cur_phase, what, memory_order_release);
}

void stress_check(bool ok, const char *file, int line, const char *expr,
		  const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		/* relaxed: a counter, read after the threads are joined. */
		atomic_fetch_add_explicit(&n_passed, 1, memory_order_relaxed);
		return;
	}
	/* relaxed: as above; the value only limits the messages. */
	unsigned long n = atomic_fetch_add_explicit(&n_failed, 1,
						    memory_order_relaxed);
	if (n > MAX_REPORTED)
		return;
	if (n == MAX_REPORTED) {
		fprintf(stdout, "%s: more failures; not printing them\n",
			prog);
		return;
	}
	/* One call per line keeps lines from threads whole. */
	char msg[512];
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stdout, "%s:%d: check failed: %s: %s\n", file, line, expr,
		msg);
}

void stress_barrier_init(struct stress_barrier *b, unsigned n)
{
	atomic_init(&b->arrived, 0);
	atomic_init(&b->phase, 0);
	b->n = n;
}

void stress_barrier_wait(struct stress_barrier *b)
{
	/* relaxed: the phase cannot move on before this thread arrives, and
	 * this thread saw the current value when it left the previous wait
	 * (or it is the initial value). */
	unsigned phase = atomic_load_explicit(&b->phase, memory_order_relaxed);
	/* acq_rel: release publishes this thread's work to the last arrival
	 * (the increments form one release sequence); acquire lets the last
	 * arrival see everyone's work before it opens the barrier. */
	if (atomic_fetch_add_explicit(&b->arrived, 1, memory_order_acq_rel) ==
	    b->n - 1) {
		/* relaxed: ordered before the opening store below. */
		atomic_store_explicit(&b->arrived, 0, memory_order_relaxed);
		/* release: opens the barrier; pairs with the acquire load in
		 * the spin below, passing on everything the last arrival
		 * acquired. */
		atomic_store_explicit(&b->phase, phase + 1,
				      memory_order_release);
		return;
	}
	for (unsigned spins = 0;; spins++) {
		/* acquire: pairs with the opening release store above. */
		if (atomic_load_explicit(&b->phase, memory_order_acquire) !=
		    phase)
			return;
		if (spins < 64)
			stress_cpu_relax();
		else
			sched_yield();
	}
}
