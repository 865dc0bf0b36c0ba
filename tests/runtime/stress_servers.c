/*
 * A server's use of the pool under ThreadSanitizer, with exactly-once
 * accounting.
 *
 * cq: outside threads submit tasks and post their futures; the tasks post
 * children they spawn, from the workers; callbacks post the futures they
 * watch. An epoll loop pops. Every post must come out exactly once, with
 * its future done; the loop never waits out its timeout while posts are
 * outstanding (a lost wake-up); at the end pop returns 0 and the fd is not
 * readable.
 *
 * max_queued: outside threads submit under a small bound and retry on
 * -EAGAIN, while tasks spawn children (never refused). Every accepted
 * task runs exactly once, refused ones never, and a refused submit leaves
 * *out untouched.
 */
#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "harness.h"
#include "weft.h"

#define POSTERS 3
#define SPAWNERS 2

static weft_pool *pool;
static weft_cq *cq;
static uint64_t n_posts;               /* tags 0 .. 3 * n_posts - 1 */
static _Atomic uint32_t *popped;       /* per tag */
static _Atomic uint64_t next_tag, post_errors;

static uint64_t take_tag(void)
{
	return atomic_fetch_add_explicit(&next_tag, 1, memory_order_relaxed);
}

static void post(weft_future *f, uint64_t tag)
{
	if (weft_future_post(f, cq, (void *)(uintptr_t)tag))
		atomic_fetch_add_explicit(&post_errors, 1,
					  memory_order_relaxed);
}

static void *leaf(void *arg)
{
	return arg;
}

/* A callback posts the future it watches. */
static void post_on_done(weft_future *f, void *ctx)
{
	post(f, (uint64_t)(uintptr_t)ctx);
}

/* Runs on a worker: spawns a child and posts it from here. */
static void *parent(void *arg)
{
	weft_future *c = NULL;
	if (weft_submit(weft_current_pool(), leaf, arg, &c) == 0) {
		post(c, take_tag());
		weft_future_release(c);
	} else {
		atomic_fetch_add_explicit(&post_errors, 1,
					  memory_order_relaxed);
	}
	return arg;
}

static void *poster_main(void *arg)
{
	struct harness_rng rng;
	harness_rng_init(&rng, harness.seed, (uint64_t)(uintptr_t)arg);
	for (uint64_t i = 0; i < n_posts; i++) {
		weft_future *f = NULL;
		if (weft_submit(pool, parent, NULL, &f)) {
			atomic_fetch_add_explicit(&post_errors, 3,
						  memory_order_relaxed);
			continue;
		}
		post(f, take_tag());
		if (weft_future_on_done(f, post_on_done,
					(void *)(uintptr_t)take_tag()))
			atomic_fetch_add_explicit(&post_errors, 1,
						  memory_order_relaxed);
		if (harness_rng_chance(&rng, 1, 64))
			sched_yield();
		weft_future_release(f);
	}
	return NULL;
}

static bool fd_readable(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	return poll(&pfd, 1, 0) == 1;
}

static void run_cq(unsigned workers, uint64_t n)
{
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = workers;
	CHECK_RC(weft_pool_create(&pool, &cfg), 0);
	CHECK_RC(weft_cq_create(&cq), 0);
	n_posts = n;
	uint64_t total = 3 * n * POSTERS;
	popped = calloc(total, sizeof(*popped));
	atomic_store_explicit(&next_tag, 0, memory_order_relaxed);
	int fd = weft_cq_fd(cq);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN};
	CHECK_RC(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);

	pthread_t t[POSTERS];
	for (uintptr_t i = 0; i < POSTERS; i++)
		CHECK_RC(pthread_create(&t[i], NULL, poster_main, (void *)i), 0);
	harness_watchdog_arm(HARNESS_TSAN ? 600 : 120, "popping", workers);
	uint64_t got = 0, dup = 0, not_done = 0, bad_tag = 0, timeouts = 0;
	while (got + atomic_load_explicit(&post_errors, memory_order_relaxed) <
	       total) {
		/* 2 s without a wake-up while posts are outstanding: lost. */
		int k = epoll_wait(ep, &ev, 1, 2000);
		if (k == 0) {
			timeouts++;
			if (timeouts > 2)
				break;
		}
		weft_future *f;
		void *tag;
		while (weft_cq_pop(cq, &f, &tag) == 1) {
			uint64_t i = (uint64_t)(uintptr_t)tag;
			if (i >= total) {
				bad_tag++;
			} else if (atomic_fetch_add_explicit(
					   &popped[i], 1,
					   memory_order_relaxed)) {
				dup++;
			}
			not_done += !weft_future_done(f);
			weft_future_release(f);
			got++;
		}
	}
	for (int i = 0; i < POSTERS; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ(timeouts, 0);
	CHECK_EQ(dup, 0);
	CHECK_EQ(bad_tag, 0);
	CHECK_EQ(not_done, 0);
	CHECK_EQ(atomic_load_explicit(&post_errors, memory_order_relaxed), 0);
	CHECK_EQ(got, total);
	uint64_t missing = 0;
	for (uint64_t i = 0; i < total; i++)
		missing += atomic_load_explicit(&popped[i],
						memory_order_relaxed) != 1;
	CHECK_EQ(missing, 0);
	weft_future *f;
	CHECK_RC(weft_cq_pop(cq, &f, NULL), 0);
	CHECK(!fd_readable(fd));
	CHECK_RC(weft_cq_destroy(cq), 0);
	CHECK_RC(weft_pool_destroy(pool), 0);
	close(ep);
	free(popped);
	harness_watchdog_disarm();
	printf("cq: %u workers, %" PRIu64 " posts popped once each\n", workers,
	       got);
}

/*
 * max_queued.
 */

static _Atomic uint32_t *runs;         /* per task id */
static _Atomic uint64_t next_id, refused, inside_refused, accepted;
static uint64_t n_ids;

static void *counted(void *arg)
{
	uint64_t id = (uint64_t)(uintptr_t)arg;
	atomic_fetch_add_explicit(&runs[id], 1, memory_order_relaxed);
	/* One in four spawns a child from the pool: never refused. */
	if ((id & 3) == 0) {
		uint64_t cid = atomic_fetch_add_explicit(&next_id, 1,
							 memory_order_relaxed);
		if (cid < n_ids) {
			if (weft_submit(weft_current_pool(), counted,
					(void *)(uintptr_t)cid, NULL))
				atomic_fetch_add_explicit(&inside_refused, 1,
							  memory_order_relaxed);
			else
				atomic_fetch_add_explicit(
					&accepted, 1, memory_order_relaxed);
		}
	}
	return NULL;
}

static void *spawner_main(void *arg)
{
	(void)arg;
	for (;;) {
		uint64_t id = atomic_fetch_add_explicit(&next_id, 1,
							memory_order_relaxed);
		if (id >= n_ids)
			return NULL;
		for (;;) {
			weft_future *out = (weft_future *)&out;
			bool keep = id & 1;
			int rc = weft_submit(pool, counted,
					     (void *)(uintptr_t)id,
					     keep ? &out : NULL);
			if (rc == 0) {
				atomic_fetch_add_explicit(
					&accepted, 1, memory_order_relaxed);
				if (keep)
					weft_future_release(out);
				break;
			}
			CHECK_RC(rc, -EAGAIN);
			CHECK(out == (weft_future *)&out);
			atomic_fetch_add_explicit(&refused, 1,
						  memory_order_relaxed);
			sched_yield();
		}
	}
}

static void run_admission(unsigned workers, uint64_t n)
{
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = workers;
	cfg.max_queued = 8;
	CHECK_RC(weft_pool_create(&pool, &cfg), 0);
	n_ids = n;
	runs = calloc(n, sizeof(*runs));
	atomic_store_explicit(&next_id, 0, memory_order_relaxed);
	atomic_store_explicit(&accepted, 0, memory_order_relaxed);
	atomic_store_explicit(&refused, 0, memory_order_relaxed);
	harness_watchdog_arm(HARNESS_TSAN ? 600 : 120, "admission", workers);
	pthread_t t[SPAWNERS];
	for (int i = 0; i < SPAWNERS; i++)
		CHECK_RC(pthread_create(&t[i], NULL, spawner_main, NULL), 0);
	for (int i = 0; i < SPAWNERS; i++)
		pthread_join(t[i], NULL);
	CHECK_RC(weft_pool_destroy(pool), 0);
	harness_watchdog_disarm();
	uint64_t once = 0, twice = 0;
	for (uint64_t i = 0; i < n; i++) {
		uint32_t r = atomic_load_explicit(&runs[i],
						  memory_order_relaxed);
		once += r == 1;
		twice += r > 1;
	}
	CHECK_EQ(twice, 0);
	CHECK_EQ(inside_refused, 0);
	/* Every id was accepted once (outside after retries, or inside). */
	CHECK_EQ(once, atomic_load_explicit(&accepted, memory_order_relaxed));
	CHECK_EQ(once, n);
	printf("max_queued: %u workers, %" PRIu64 " tasks, %" PRIu64
	       " refusals retried\n",
	       workers, n,
	       atomic_load_explicit(&refused, memory_order_relaxed));
	free(runs);
}

int main(void)
{
	harness_init("servers");
	uint64_t n = harness_size(50000, 5000, 100);
	run_cq(2, n);
	run_cq(4, n / 2);
	run_admission(2, n * 2);
	run_admission(4, n);
	return harness_report();
}
