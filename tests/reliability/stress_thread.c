/*
 * A worker thread that cannot be created: for pools of 1 to 4 workers and
 * every k, the k-th pthread_create of weft_pool_create fails (EAGAIN).
 * The call must return -EAGAIN, leave *out untouched, and leave nothing
 * behind: the workers it had started have exited (the process's thread
 * count is back), and every block it allocated is freed (the hook's live
 * count is back; LeakSanitizer checks at exit in an ASan build). The same
 * runs then fail an allocation of weft_pool_create instead (-ENOMEM), and
 * finally a pool created after all that must work.
 *
 * The faults must be real: every failure the hook reports having injected
 * must come back from weft_pool_create as -EAGAIN or -ENOMEM, a creation
 * whose thread was to fail must not succeed, and every pool size must see
 * at least one failed allocation. A hook that injects nothing fails this
 * program.
 *
 * Each combination runs WEFT_THREAD_ROUNDS times (default 20).
 */
#include <dirent.h>
#include <stdio.h>
#include <unistd.h>
#include <string.h>

#include "harness.h"
#include "runtime/alloc_hook.h"
#include "weft.h"

/* Threads named like a pool's workers ("weft-N"). A joined thread can
 * stay listed in /proc for a moment while the kernel reaps it, so the
 * count is retried for up to 200 ms until it is at most `most`. */
static unsigned count_workers_once(void)
{
	unsigned n = 0;
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[300], comm[32] = "";
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm",
			 e->d_name);
		FILE *f = fopen(path, "r");
		if (f) {
			if (!fgets(comm, sizeof(comm), f))
				comm[0] = 0;
			fclose(f);
		}
		n += strncmp(comm, "weft-", 5) == 0;
	}
	closedir(d);
	return n;
}

static unsigned thread_count_at_most(unsigned most)
{
	unsigned n = count_workers_once();
	for (int i = 0; i < 200 && n > most; i++) {
		usleep(1000);
		n = count_workers_once();
	}
	return n;
}

static _Atomic int starts, stops;

static void on_start(unsigned index, void *ctx)
{
	(void)index;
	(void)ctx;
	atomic_fetch_add(&starts, 1);
}

static void on_stop(unsigned index, void *ctx)
{
	(void)index;
	(void)ctx;
	atomic_fetch_add(&stops, 1);
}

static void *twice(void *arg)
{
	return (void *)((uintptr_t)arg * 2);
}

/* What the hook injected, summed over every failed_create. */
static uint64_t injected_thread_failures, injected_alloc_failures;

/* One weft_pool_create with the k-th thread creation (thread) or the k-th
 * allocation failing. Returns its rc. */
static int failed_create(unsigned workers, uint64_t k, bool thread)
{
	unsigned threads0 = thread_count_at_most(0);
	struct weft__alloc_counts c0, c1;
	weft__alloc_hook_reset();
	weft__alloc_counts(&c0);
	if (thread)
		weft__thread_fail_at(k);
	else
		weft__alloc_fail_at(k, false);
	atomic_store(&starts, 0);
	atomic_store(&stops, 0);

	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = workers;
	cfg.on_worker_start = on_start;
	cfg.on_worker_stop = on_stop;
	weft_pool *const sentinel = (weft_pool *)(uintptr_t)0xbad;
	weft_pool *p = sentinel;
	int rc = weft_pool_create(&p, &cfg);
	weft__alloc_counts(&c1);
	weft__alloc_hook_reset();
	const char *what = thread ? "thread creations" : "allocations";
	uint64_t tried = thread ? c1.thread_attempts : c1.attempts;
	uint64_t failed = thread ? c1.thread_failures : c1.failures;
	if (thread)
		injected_thread_failures += failed;
	else
		injected_alloc_failures += failed;
	if (rc == 0) {
		/* Success is right only if k was past the last attempt: never
		 * for a thread, as k <= workers and a pool starts them all. */
		CHECKF(!thread && failed == 0 && tried < k,
		       "created with k=%" PRIu64 " (%u workers): %" PRIu64
		       " %s counted, %" PRIu64 " failed by the hook",
		       k, workers, tried, what, failed);
		CHECK_RC(weft_pool_destroy(p), 0);
		return rc;
	}
	CHECK_RC(rc, thread ? -EAGAIN : -ENOMEM);
	/* The failure is the one the hook injected, and only that one. */
	CHECKF(failed == 1 && tried >= k,
	       "%" PRIu64 " of %" PRIu64 " %s failed by the hook (%u workers, "
	       "k=%" PRIu64 ")",
	       failed, tried, what, workers, k);
	CHECKF(p == sentinel, "*out written by a failed create (%u workers, "
			      "k=%" PRIu64 ")", workers, k);
	CHECKF(c1.live == c0.live,
	       "%" PRId64 " blocks left behind (%u workers, k=%" PRIu64 ")",
	       c1.live - c0.live, workers, k);
	unsigned threads1 = thread_count_at_most(threads0);
	CHECKF(threads1 == threads0,
	       "%u threads left behind (%u workers, k=%" PRIu64 ")",
	       threads1 - threads0, workers, k);
	CHECKF(atomic_load(&starts) == atomic_load(&stops),
	       "%d workers started, %d stopped", atomic_load(&starts),
	       atomic_load(&stops));
	if (thread)
		CHECKF(atomic_load(&starts) <= (int)k - 1,
		       "%d workers started before thread %" PRIu64 " failed",
		       atomic_load(&starts), k);
	return rc;
}

int main(void)
{
	harness_init("thread_fail");
	uint64_t rounds = harness_env_u64("WEFT_THREAD_ROUNDS", 20, NULL);
	/* Creations that returned -EAGAIN / -ENOMEM. */
	uint64_t thread_failures = 0, alloc_failures = 0;
	harness_watchdog_arm(120, "failing pool creations", 0);
	for (uint64_t r = 0; r < rounds; r++) {
		for (unsigned workers = 1; workers <= 4; workers++) {
			for (uint64_t k = 1; k <= workers; k++)
				thread_failures +=
					failed_create(workers, k, true) ==
					-EAGAIN;
			/* The k-th allocation, until k is past the last. */
			uint64_t k = 1;
			int rc;
			while ((rc = failed_create(workers, k, false)) != 0) {
				alloc_failures += rc == -ENOMEM;
				k++;
			}
			CHECKF(k > 1, "no allocation of a %u-worker "
				      "weft_pool_create was failed",
			       workers);
		}
	}
	harness_watchdog_disarm();

	/* Every injected fault was seen at the API, and each creation whose
	 * thread was to fail saw one (1 + 2 + 3 + 4 per round). */
	CHECK_EQ(thread_failures, rounds * 10);
	CHECK_EQ(injected_thread_failures, thread_failures);
	CHECKF(alloc_failures > 0, "no creation returned -ENOMEM");
	CHECK_EQ(injected_alloc_failures, alloc_failures);

	/* The process is still fine: a pool works. */
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = 2;
	weft_pool *p = NULL;
	if (CHECK_RC(weft_pool_create(&p, &cfg), 0)) {
		weft_future *f;
		void *r = NULL;
		CHECK_RC(weft_submit(p, twice, (void *)21, &f), 0);
		CHECK_RC(weft_future_get(f, &r), 0);
		CHECK_EQ((uintptr_t)r, 42);
		weft_future_release(f);
		CHECK_RC(weft_pool_destroy(p), 0);
	}
	printf("  %" PRIu64 " creations failed by a thread (-EAGAIN), %" PRIu64
	       " by an allocation (-ENOMEM), over %" PRIu64 " rounds\n",
	       thread_failures, alloc_failures, rounds);
	return harness_report();
}
