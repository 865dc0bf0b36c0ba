/*
 * Tracing while the pools work: two pools (one collecting timing), each
 * fed by an outside thread with tasks that spawn and wait for children
 * (so workers steal, and park between bursts), while a controller thread
 * starts and stops traces on both over and over: ending them to a file,
 * discarding them, from outside and from inside the pools' own tasks,
 * with buffers small enough to fill. The trace buffers are written by
 * the workers while the controller reads and frees them, which is what a
 * ThreadSanitizer build checks here.
 * The outside threads submit their tasks in passes until the controller
 * is done. Checks: every task ran once per pass with the right result,
 * every start
 * and stop returned what its state allows, and the timed pool's latency
 * buckets sum to its tasks started.
 */
#include <unistd.h>

#include "harness.h"
#include "weft.h"

#define POOLS 2

struct item {
	weft_pool *p;
	uint32_t index;
	_Atomic uint32_t *runs;
};

static void *child(void *arg)
{
	return (void *)((uintptr_t)arg + 1);
}

static _Atomic uint64_t wrong;

static void *task(void *arg)
{
	struct item *it = arg;
	atomic_fetch_add_explicit(&it->runs[it->index], 1,
				  memory_order_relaxed);
	if (it->index % 4 == 0) {
		weft_future *f;
		void *r = NULL;
		if (weft_submit(it->p, child, (void *)(uintptr_t)it->index,
				&f) ||
		    weft_future_get(f, &r) ||
		    (uintptr_t)r != (uintptr_t)it->index + 1)
			atomic_fetch_add(&wrong, 1);
		weft_future_release(f);
	}
	return NULL;
}

struct feeder {
	weft_pool *p;
	uint64_t n;
	struct item *items;
	_Atomic uint32_t *runs;
	uint64_t seed;
	_Atomic bool *done;
	uint32_t passes;
	int errors;
};

static void *feed(void *arg)
{
	struct feeder *fd = arg;
	struct harness_rng rng;
	harness_rng_init(&rng, fd->seed, 1);
	for (uint64_t i = 0; i < fd->n; i++)
		fd->items[i] = (struct item){fd->p, (uint32_t)i, fd->runs};
	do {
		for (uint64_t i = 0; i < fd->n; i++) {
			if (weft_submit(fd->p, task, &fd->items[i], NULL))
				fd->errors++;
			if (harness_rng_chance(&rng, 1, 500))
				harness_sleep_ns((int64_t)harness_rng_below(
					&rng, 300000));
		}
		fd->passes++;
	} while (!atomic_load(fd->done));
	return NULL;
}

static void *stop_inside(void *arg)
{
	return (void *)(intptr_t)weft_trace_stop(arg, NULL);
}

struct control {
	weft_pool *pools[POOLS];
	uint64_t rounds;
	uint64_t seed;
	const char *path;
	_Atomic bool done;
	uint64_t written, errors;
};

static void *controller(void *arg)
{
	struct control *c = arg;
	struct harness_rng rng;
	harness_rng_init(&rng, c->seed, 2);
	for (uint64_t r = 0; r < c->rounds; r++) {
		unsigned k = (unsigned)harness_rng_below(&rng, POOLS);
		weft_pool *p = c->pools[k];
		if (weft_trace_start(p) != 0)
			c->errors++;
		harness_sleep_ns((int64_t)harness_rng_below(&rng, 2000000));
		int rc;
		switch (harness_rng_below(&rng, 3)) {
		case 0:
			rc = weft_trace_stop(p, c->path);
			c->written += rc == 0;
			break;
		case 1:
			rc = weft_trace_stop(p, NULL);
			break;
		default: {
			weft_future *f;
			void *res = (void *)(intptr_t)-1;
			rc = weft_submit(p, stop_inside, p, &f);
			if (!rc) {
				rc = weft_future_get(f, &res);
				weft_future_release(f);
			}
			if (!rc)
				rc = (int)(intptr_t)res;
			break;
		}
		}
		if (rc != 0)
			c->errors++;
		if (weft_trace_stop(p, NULL) != -ENODATA)
			c->errors++;
	}
	atomic_store(&c->done, true);
	return NULL;
}

int main(void)
{
	harness_init("trace");
	uint64_t n = harness_size(20000, 2000, 100);
	uint64_t rounds = harness_size(300, 40, 5);
	/* Small buffers: they fill in most rounds. */
	setenv("WEFT_TRACE_EVENTS", "256", 1);
	char path[256];
	const char *dir = getenv("TMPDIR");
	snprintf(path, sizeof(path), "%s/weft-stress-trace-%d.json",
		 dir && *dir ? dir : "/tmp", (int)getpid());

	struct control c = {.rounds = rounds, .seed = harness.seed,
			    .path = path};
	struct feeder fd[POOLS];
	_Atomic uint32_t *runs[POOLS];
	for (unsigned k = 0; k < POOLS; k++) {
		weft_config cfg;
		weft_config_init(&cfg);
		cfg.workers = 2 + k;
		cfg.spin_ns = 2000;
		cfg.timing = k == 0;
		cfg.name = k ? "trb" : "tra";
		if (!CHECK_RC(weft_pool_create(&c.pools[k], &cfg), 0))
			return harness_report();
		runs[k] = calloc(n, sizeof(*runs[k]));
		fd[k] = (struct feeder){c.pools[k], n,
					calloc(n, sizeof(struct item)),
					runs[k], harness.seed + k, &c.done,
					0, 0};
		if (!runs[k] || !fd[k].items)
			return 2;
	}
	harness_watchdog_arm(HARNESS_TSAN ? 600 : 240, "the trace rounds", 0);
	pthread_t feeders[POOLS], ctl;
	for (unsigned k = 0; k < POOLS; k++)
		pthread_create(&feeders[k], NULL, feed, &fd[k]);
	pthread_create(&ctl, NULL, controller, &c);
	pthread_join(ctl, NULL);
	for (unsigned k = 0; k < POOLS; k++)
		pthread_join(feeders[k], NULL);

	for (unsigned k = 0; k < POOLS; k++) {
		/* Every detached task has run once the pool is drained. */
		CHECK_RC(weft_pool_shutdown(c.pools[k], WEFT_SHUTDOWN_WAIT), 0);
		weft_stats s;
		CHECK_RC(weft_pool_stats(c.pools[k], &s), 0);
		uint64_t bad = 0;
		for (uint64_t i = 0; i < n; i++)
			bad += atomic_load(&runs[k][i]) != fd[k].passes;
		CHECKF(bad == 0, "pool %u: %" PRIu64 " tasks did not run "
		       "once per pass", k, bad);
		CHECK_EQ(fd[k].errors, 0);
		uint64_t started = 0;
		for (unsigned i = 0; i < WEFT_LATENCY_BUCKETS; i++)
			started += s.sched_latency[i];
		if (k == 0)
			CHECK_EQ(started, s.executed);
		else
			CHECK_EQ(started, 0);
		printf("  pool %u: %" PRIu32 " passes of %" PRIu64 " tasks, "
		       "%" PRIu64 " executed, %" PRIu64 " stolen, %" PRIu64
		       " parks\n",
		       k, fd[k].passes, n, s.executed, s.stolen, s.parks);
		CHECK_RC(weft_pool_destroy(c.pools[k]), 0);
		free(runs[k]);
		free(fd[k].items);
	}
	harness_watchdog_disarm();
	unlink(path);
	printf("  %" PRIu64 " trace rounds, %" PRIu64 " files written\n",
	       rounds, c.written);
	CHECK_EQ(c.errors, 0);
	CHECK_EQ(atomic_load(&wrong), 0);
	return harness_report();
}
