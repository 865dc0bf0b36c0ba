/*
 * Exactly-once execution. Four outside threads submit N tasks (default
 * 1,000,000; 100,000 under TSan), mixing detached submissions with
 * handles they wait on later; tasks spawn children from their workers
 * (detached, handle released at once, or waited on in the task), and
 * children spawn grandchildren. Every task has a counter that must end at
 * exactly 1, its result must be its own id, one task in 16 fails with
 * EIO, and the pool's statistics must account for every task.
 * Runs once with 2 workers and once with 4 (oversubscribed).
 */
#include "harness.h"
#include "weft.h"

#define SUBMITTERS 4
#define WINDOW 256 /* handles an outside thread keeps before it waits */
#define MAX_DEPTH 3

static weft_pool *pool;
static _Atomic uint32_t *runs;   /* per task id */
static uint64_t capacity;        /* ids available */
static _Atomic uint64_t next_id; /* children take ids from here */
static _Atomic uint64_t child_submit_errors, child_get_errors, overflow;

/* A task's behaviour comes from its id and the seed, so a replay makes
 * the same decisions. */
static uint64_t decide(uint64_t id)
{
	uint64_t x = harness.seed ^ (id * 0x9E3779B97F4A7C15ull);
	return harness_splitmix64(&x);
}

static bool fails(uint64_t id)
{
	return (decide(id) & 15) == 3;
}

static uint64_t encode(uint64_t id, unsigned depth)
{
	return id << 2 | depth;
}

static void *task(void *arg)
{
	uint64_t v = (uint64_t)(uintptr_t)arg;
	uint64_t id = v >> 2;
	unsigned depth = v & 3;
	uint64_t d = decide(id);

	atomic_fetch_add_explicit(&runs[id], 1, memory_order_relaxed);
	/* One child in four at depth 0, fewer deeper down. */
	if (depth < MAX_DEPTH && ((d >> 8) & 3) == 0 &&
	    ((d >> 16) % (depth + 1)) == 0) {
		uint64_t cid = atomic_fetch_add_explicit(&next_id, 1,
							 memory_order_relaxed);
		if (cid >= capacity) {
			atomic_fetch_add(&overflow, 1);
		} else {
			void *carg = (void *)(uintptr_t)encode(cid, depth + 1);
			weft_future *f = NULL;
			unsigned how = (d >> 24) % 3;
			int rc = weft_submit(weft_current_pool(), task, carg,
					     how ? &f : NULL);
			if (rc) {
				atomic_fetch_add(&child_submit_errors, 1);
			} else if (how == 2) {
				void *r = NULL;
				int grc = weft_future_get(f, &r);
				int want = fails(cid) ? -EIO : 0;
				if (grc != want ||
				    (!grc && r != (void *)(uintptr_t)cid))
					atomic_fetch_add(&child_get_errors, 1);
			}
			weft_future_release(f);
		}
	}
	if (fails(id))
		return weft_fail(EIO);
	return (void *)(uintptr_t)id;
}

struct submitter {
	pthread_t thread;
	uint64_t first, count;
	struct harness_rng rng;
	uint64_t submit_errors, get_errors, waited, detached;
};

static void *submitter_main(void *arg)
{
	struct submitter *s = arg;
	weft_future *window[WINDOW];
	uint64_t ids[WINDOW];
	unsigned held = 0;

	for (uint64_t i = 0; i < s->count; i++) {
		uint64_t id = s->first + i;
		bool detached = harness_rng_chance(&s->rng, 1, 2);
		weft_future *f = NULL;
		int rc = weft_submit(pool, task, (void *)(uintptr_t)encode(id, 0),
				     detached ? NULL : &f);
		if (rc) {
			s->submit_errors++;
			continue;
		}
		if (detached) {
			s->detached++;
			continue;
		}
		if (held == WINDOW) {
			/* Wait on a random held handle. */
			unsigned k = (unsigned)harness_rng_below(&s->rng, held);
			void *r = NULL;
			int grc = weft_future_get(window[k], &r);
			int want = fails(ids[k]) ? -EIO : 0;
			if (grc != want ||
			    (!grc && r != (void *)(uintptr_t)ids[k]))
				s->get_errors++;
			s->waited++;
			weft_future_release(window[k]);
			window[k] = window[--held];
			ids[k] = ids[held];
		}
		window[held] = f;
		ids[held++] = id;
	}
	while (held) {
		held--;
		void *r = NULL;
		int grc = weft_future_get(window[held], &r);
		int want = fails(ids[held]) ? -EIO : 0;
		if (grc != want || (!grc && r != (void *)(uintptr_t)ids[held]))
			s->get_errors++;
		s->waited++;
		weft_future_release(window[held]);
	}
	return NULL;
}

static void run(unsigned workers, uint64_t n)
{
	capacity = 2 * n + 1024;
	runs = calloc(capacity, sizeof(*runs));
	if (!runs) {
		CHECKF(false, "out of memory");
		return;
	}
	atomic_store(&next_id, n);
	atomic_store(&child_submit_errors, 0);
	atomic_store(&child_get_errors, 0);
	atomic_store(&overflow, 0);

	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = workers;
	cfg.name = "once";
	CHECK_RC(weft_pool_create(&pool, &cfg), 0);

	harness_watchdog_arm(HARNESS_TSAN ? 600 : 120, "submitting tasks",
			     workers);
	int64_t t0 = harness_now_ns();
	struct submitter s[SUBMITTERS];
	for (unsigned i = 0; i < SUBMITTERS; i++) {
		memset(&s[i], 0, sizeof(s[i]));
		s[i].first = n * i / SUBMITTERS;
		s[i].count = n * (i + 1) / SUBMITTERS - s[i].first;
		harness_rng_init(&s[i].rng, harness.seed, workers * 16 + i);
		if (pthread_create(&s[i].thread, NULL, submitter_main, &s[i])) {
			fprintf(stderr, "pthread_create failed\n");
			exit(2);
		}
	}
	uint64_t submit_errors = 0, get_errors = 0, waited = 0, detached = 0;
	for (unsigned i = 0; i < SUBMITTERS; i++) {
		pthread_join(s[i].thread, NULL);
		submit_errors += s[i].submit_errors;
		get_errors += s[i].get_errors;
		waited += s[i].waited;
		detached += s[i].detached;
	}
	harness_watchdog_arm(HARNESS_TSAN ? 600 : 120, "draining", workers);
	CHECK_RC(weft_pool_shutdown(pool, WEFT_SHUTDOWN_WAIT), 0);
	int64_t dt = harness_now_ns() - t0;
	harness_watchdog_disarm();

	uint64_t total = atomic_load(&next_id);
	if (total > capacity)
		total = capacity;
	uint64_t zero = 0, once = 0, more = 0, should_fail = 0;
	for (uint64_t id = 0; id < capacity; id++) {
		uint32_t r = atomic_load_explicit(&runs[id],
						  memory_order_relaxed);
		if (id >= total) {
			more += r != 0;
			continue;
		}
		zero += r == 0;
		once += r == 1;
		more += r > 1;
		should_fail += fails(id);
	}
	weft_stats st;
	CHECK_RC(weft_pool_stats(pool, &st), 0);
	CHECK_RC(weft_pool_destroy(pool), 0);

	printf("  %u workers: %" PRIu64 " outside tasks (%" PRIu64
	       " detached, %" PRIu64 " waited on), %" PRIu64
	       " spawned by tasks, %.2f s, %.0f tasks/s\n",
	       workers, n, detached, waited, total - n, dt / 1e9,
	       total / (dt / 1e9));
	printf("  %u workers: ran once %" PRIu64 ", never %" PRIu64
	       ", more than once %" PRIu64 "\n",
	       workers, once, zero, more);
	printf("  %u workers: stats submitted %" PRIu64 " executed %" PRIu64
	       " injected %" PRIu64 " failed %" PRIu64 " cancelled %" PRIu64
	       " stolen %" PRIu64 "/%" PRIu64 " attempts, parks %" PRIu64
	       " wakeups %" PRIu64 "\n",
	       workers, st.submitted, st.executed, st.injected, st.failed,
	       st.cancelled, st.stolen, st.steal_attempts, st.parks,
	       st.wakeups);

	CHECK_EQ(submit_errors, 0);
	CHECK_EQ(get_errors, 0);
	CHECK_EQ(atomic_load(&child_submit_errors), 0);
	CHECK_EQ(atomic_load(&child_get_errors), 0);
	CHECK_EQ(atomic_load(&overflow), 0);
	CHECK_EQ(zero, 0);
	CHECK_EQ(more, 0);
	CHECK_EQ(once, total);
	CHECK_EQ(st.executed, total);
	CHECK_EQ(st.submitted, total);
	CHECK_EQ(st.injected, n);
	CHECK_EQ(st.failed, should_fail);
	CHECK_EQ(st.cancelled, 0);
	CHECK(st.stolen <= st.steal_attempts);
	free(runs);
}

int main(void)
{
	harness_init("exactly_once");
	uint64_t n = harness_size(1000000, 100000, 1000);
	run(2, n);
	run(4, n);
	return harness_report();
}
