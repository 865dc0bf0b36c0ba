/*
 * What a pool did, as a table: weft_stats with the schedule-latency
 * histogram and busy time (weft_config.timing). Two small workloads to
 * look at:
 *
 *   stats fib [N]              fib(N) by nested submit + get (default 25)
 *   stats server [N [GAP_US]]  an outside thread submits N requests
 *                              (default 20000), one every GAP_US
 *                              microseconds (default 50), sleeping in
 *                              between like a server's accept loop; each
 *                              is about 5 us of work plus a continuation
 *                              that "replies"
 *
 * Run it under WEFT_TRACE=t.json to see the same run as a timeline
 * (README, "Seeing what the pool does"). Public API only.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "weft.h"

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void check(int err, const char *what)
{
	if (err) {
		fprintf(stderr, "%s: %s\n", what, weft_strerror(err));
		exit(1);
	}
}

/*
 * The workloads.
 */

struct fib {
	weft_pool *p;
	int n;
	long r;
};

static void *fib(void *arg)
{
	struct fib *a = arg;
	if (a->n < 2) {
		a->r = a->n;
		return NULL;
	}
	struct fib x = {a->p, a->n - 1, 0}, y = {a->p, a->n - 2, 0};
	weft_future *f;
	check(weft_submit(a->p, fib, &x, &f), "weft_submit");
	fib(&y);
	check(weft_future_get(f, NULL), "weft_future_get");
	weft_future_release(f);
	a->r = x.r + y.r;
	return NULL;
}

static void run_fib(weft_pool *p, int n)
{
	struct fib root = {p, n, 0};
	weft_future *f;
	check(weft_submit(p, fib, &root, &f), "weft_submit");
	check(weft_future_get(f, NULL), "weft_future_get");
	weft_future_release(f);
	printf("fib(%d) = %ld\n", n, root.r);
}

static void spin_ns(int64_t ns)
{
	int64_t end = now_ns() + ns;
	while (now_ns() < end)
		;
}

static _Atomic long replies;

static void *handle_request(void *arg)
{
	spin_ns(5000);
	return arg;
}

static void *send_reply(weft_future *request, void *ctx)
{
	(void)request;
	(void)ctx;
	atomic_fetch_add_explicit(&replies, 1, memory_order_relaxed);
	return NULL;
}

static void sleep_until(int64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

static void run_server(weft_pool *p, long n, long gap_us)
{
	int64_t next = now_ns();
	for (long i = 0; i < n; i++) {
		sleep_until(next);
		next += gap_us * 1000;
		weft_future *f;
		check(weft_submit(p, handle_request, NULL, &f), "weft_submit");
		check(weft_future_then(f, send_reply, NULL, 0, NULL),
		      "weft_future_then");
		weft_future_release(f);
	}
	while (atomic_load_explicit(&replies, memory_order_relaxed) < n)
		sleep_until(now_ns() + 100000);
	printf("%ld requests, one every %ld us: %ld replies\n", n, gap_us,
	       (long)atomic_load(&replies));
}

/*
 * The table.
 */

/* A duration in ns as "512 ns", "1.5 us", "2 ms", "3.1 s". */
static const char *human(double ns, char *buf, size_t n)
{
	if (ns < 1e3)
		snprintf(buf, n, "%.0f ns", ns);
	else if (ns < 1e6)
		snprintf(buf, n, "%.3g us", ns / 1e3);
	else if (ns < 1e9)
		snprintf(buf, n, "%.3g ms", ns / 1e6);
	else
		snprintf(buf, n, "%.3g s", ns / 1e9);
	return buf;
}

static void print_stats(const weft_stats *s, unsigned workers,
			int64_t wall_ns)
{
	char a[32], b[32];
	printf("\n%-16s %12" PRIu64 "\n", "submitted", s->submitted);
	printf("%-16s %12" PRIu64 "\n", "executed", s->executed);
	printf("%-16s %12" PRIu64 "\n", "injected", s->injected);
	printf("%-16s %12" PRIu64 " of %" PRIu64 " attempts\n", "stolen",
	       s->stolen, s->steal_attempts);
	printf("%-16s %12" PRIu64 " (woken %" PRIu64 ")\n", "parks",
	       s->parks, s->wakeups);
	printf("%-16s %12" PRIu64 "\n", "cancelled", s->cancelled);
	printf("%-16s %12" PRIu64 "\n", "failed", s->failed);
	printf("%-16s %12s = %.0f%% of %u workers over %s\n", "busy",
	       human((double)s->busy_ns, a, sizeof(a)),
	       100.0 * (double)s->busy_ns / ((double)wall_ns * workers),
	       workers, human((double)wall_ns, b, sizeof(b)));

	uint64_t total = 0;
	int first = -1, last = -1;
	for (int i = 0; i < WEFT_LATENCY_BUCKETS; i++) {
		total += s->sched_latency[i];
		if (s->sched_latency[i]) {
			last = i;
			if (first < 0)
				first = i;
		}
	}
	printf("\nschedule latency (ready -> started), %" PRIu64 " tasks\n",
	       total);
	if (!total)
		return;
	printf("  %-22s %10s %7s %7s\n", "wait", "tasks", "%", "cum %");
	uint64_t cum = 0;
	for (int i = first; i <= last; i++) {
		uint64_t c = s->sched_latency[i];
		cum += c;
		char range[80];
		snprintf(range, sizeof(range), "[%s, %s)",
			 human(i ? (double)(1ull << i) : 0, a, sizeof(a)),
			 human((double)(2ull << i), b, sizeof(b)));
		printf("  %-22s %10" PRIu64 " %6.2f%% %6.2f%%\n", range, c,
		       100.0 * (double)c / (double)total,
		       100.0 * (double)cum / (double)total);
	}
	/* Quantiles to a bucket's resolution: each is below the bound. */
	const double q[] = {0.5, 0.99, 0.999};
	printf("  ");
	for (int k = 0; k < 3; k++) {
		cum = 0;
		int i = first;
		for (; i <= last; i++) {
			cum += s->sched_latency[i];
			if ((double)cum >= q[k] * (double)total)
				break;
		}
		printf("p%g < %s%s", q[k] * 100,
		       human((double)(2ull << i), a, sizeof(a)),
		       k < 2 ? ", " : "\n");
	}
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "fib";
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.timing = true;
	weft_pool *p;
	check(weft_pool_create(&p, &cfg), "weft_pool_create");
	int64_t t0 = now_ns();
	if (!strcmp(mode, "fib")) {
		run_fib(p, argc > 2 ? atoi(argv[2]) : 25);
	} else if (!strcmp(mode, "server")) {
		run_server(p, argc > 2 ? atol(argv[2]) : 20000,
			   argc > 3 ? atol(argv[3]) : 50);
	} else {
		fprintf(stderr, "usage: %s fib [N] | server [N [GAP_US]]\n",
			argv[0]);
		return 2;
	}
	int64_t wall = now_ns() - t0;
	weft_stats s;
	check(weft_pool_stats(p, &s), "weft_pool_stats");
	print_stats(&s, weft_pool_workers(p), wall);
	check(weft_pool_destroy(p), "weft_pool_destroy");
	return 0;
}
