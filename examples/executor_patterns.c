/*
 * The common ThreadPoolExecutor usage patterns, in weft.
 *
 * A port of the notebook on ThreadPoolExecutor patterns. Each task sleeps
 * for a random moment and returns (or prints) its name.
 *
 *   map            executor.map() over two lists: weft_map + weft_gather;
 *                  results in submission order.
 *   as_completed   submit() and as_completed(): weft_submit +
 *                  weft_as_completed_*; results in completion order.
 *   sequential     submit() and result() in submission order.
 *   callbacks      two add_done_callback()s per future:
 *                  weft_future_on_done, run in registration order.
 *   wait_all       submit() and wait for all: weft_wait(ALL_COMPLETED).
 *   wait_first     wait(FIRST_COMPLETED), then shutdown(wait=False,
 *                  cancel_futures=True): weft_wait + weft_pool_shutdown.
 *   wait_first_cancel
 *                  the same with fewer workers than tasks, so the
 *                  shutdown has queued tasks to cancel.
 *
 * To let a reader (or a test) check the order claims, the as_completed
 * lines carry ticks of a clock shared by all threads: "[ticks 14-16]"
 * means the task returned at tick 14 and the main thread, looking at every
 * future each time as_completed() yields one, first saw it done at tick
 * 16.
 *
 * usage: executor_patterns [PATTERN]   (default: all, in this order)
 */
#include "example_util.h"

#define TASKS 10

struct job {
	unsigned name;
	unsigned kind;     /* which pattern, for the random values */
	atomic_int *started; /* counts task bodies that began, or NULL */
	bool ran;          /* the body ran (read once the pool is gone) */
	uint64_t returned; /* tick as the body returned */
	uint64_t seen;     /* tick when a done callback saw it */
};

static void jobs_init(struct job *jobs, unsigned n, unsigned kind)
{
	memset(jobs, 0, n * sizeof(*jobs));
	for (unsigned i = 0; i < n; i++) {
		jobs[i].name = i;
		jobs[i].kind = kind;
	}
}

/* task(name): sleep for less than a second, return the name */
static void *task(void *arg)
{
	struct job *j = arg;
	if (j->started)
		atomic_fetch_add(j->started, 1);
	j->ran = true;
	sleep_scaled(random_value(j->kind, j->name));
	j->returned = tick();
	return j;
}

static unsigned name_of(weft_future *f)
{
	void *result;
	check(weft_future_get(f, &result), "weft_future_get");
	return ((struct job *)result)->name;
}

static void submit_all(weft_pool *executor, struct job *jobs,
		       weft_future **futures, weft_fn fn)
{
	for (unsigned i = 0; i < TASKS; i++)
		check(weft_submit(executor, fn, &jobs[i], &futures[i]),
		      "weft_submit");
}

static void release_all(weft_future **futures, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		weft_future_release(futures[i]);
}

/* Map and wait. */

struct pair {
	const char *value1, *value2;
	unsigned index;
};

static void *pair_task(void *arg)
{
	struct pair *p = arg;
	/* sleep for less than a second */
	sleep_scaled(random_value(1, p->index));
	return p;
}

static void map_and_wait(void)
{
	static const char *const ones[] = { "1", "2", "3" };
	static const char *const letters[] = { "a", "b", "c" };
	struct pair pairs[3];
	void *items[3], *results[3];
	weft_future *futures[3];

	for (unsigned i = 0; i < 3; i++) {
		pairs[i] = (struct pair){ ones[i], letters[i], i };
		items[i] = &pairs[i];
	}
	/* start the thread pool (default size: one thread per CPU) */
	weft_pool *executor = make_pool(0, "executor");
	/* submit all tasks, then take the results in order */
	check(weft_map(executor, pair_task, items, 3, futures), "weft_map");
	check(weft_gather(futures, 3, results, WEFT_FOREVER, NULL),
	      "weft_gather");
	for (unsigned i = 0; i < 3; i++) {
		const struct pair *p = results[i];
		printf("('%s', '%s')\n", p->value1, p->value2);
	}
	release_all(futures, 3);
	check(weft_pool_destroy(executor), "weft_pool_destroy");
}

/* Submit and use as completed. */

/* Only to show the order (see the top of the file): the tick at which
 * this thread first saw each task done. */
static void mark_seen(struct job *jobs, weft_future *const *futures)
{
	for (unsigned i = 0; i < TASKS; i++)
		if (!jobs[i].seen && weft_future_done(futures[i]))
			jobs[i].seen = tick();
}

static void submit_as_completed(void)
{
	struct job jobs[TASKS];
	weft_future *futures[TASKS];

	jobs_init(jobs, TASKS, 2);
	/* start the thread pool */
	weft_pool *executor = make_pool(10, "executor");
	/* submit tasks and collect futures */
	submit_all(executor, jobs, futures, task);
	/* process task results as they are available */
	weft_as_completed *it;
	check(weft_as_completed_create(futures, TASKS, WEFT_FOREVER, &it),
	      "weft_as_completed_create");
	printf("(as_completed() called at tick %" PRIu64 ")\n", tick());
	mark_seen(jobs, futures);
	weft_future *future;
	int more;
	while ((more = weft_as_completed_next(it, &future)) == 1) {
		/* retrieve the result */
		void *result;
		check(weft_future_get(future, &result), "weft_future_get");
		const struct job *j = result;
		mark_seen(jobs, futures);
		printf("%u  [ticks %" PRIu64 "-%" PRIu64 "]\n", j->name,
		       j->returned, j->seen);
	}
	check(more, "weft_as_completed_next");
	weft_as_completed_destroy(it);
	release_all(futures, TASKS);
	check(weft_pool_destroy(executor), "weft_pool_destroy");
}

/* Submit and use sequentially. */

static void submit_sequential(void)
{
	struct job jobs[TASKS];
	weft_future *futures[TASKS];

	jobs_init(jobs, TASKS, 3);
	weft_pool *executor = make_pool(10, "executor");
	/* submit tasks and collect futures */
	submit_all(executor, jobs, futures, task);
	/* process task results in the order they were submitted */
	for (unsigned i = 0; i < TASKS; i++)
		printf("%u\n", name_of(futures[i]));
	release_all(futures, TASKS);
	check(weft_pool_destroy(executor), "weft_pool_destroy");
}

/* Submit and use callbacks. */

/* custom callback function called on tasks when they complete */
static void custom_callback(weft_future *future, void *ctx)
{
	(void)ctx;
	printf("The future object %u is acted upon\n", name_of(future));
}

static void custom_callback2(weft_future *future, void *ctx)
{
	(void)ctx;
	printf("The future object %u is acted upon, again\n",
	       name_of(future));
}

static void submit_callbacks(void)
{
	struct job jobs[TASKS];
	weft_future *futures[TASKS];

	jobs_init(jobs, TASKS, 4);
	weft_pool *executor = make_pool(10, "executor");
	/* submit tasks and collect futures */
	submit_all(executor, jobs, futures, task);
	/* register the callbacks on all tasks */
	for (unsigned i = 0; i < TASKS; i++) {
		check(weft_future_on_done(futures[i], custom_callback, NULL),
		      "weft_future_on_done");
		/* second callback */
		check(weft_future_on_done(futures[i], custom_callback2, NULL),
		      "weft_future_on_done");
	}
	release_all(futures, TASKS);
	check(weft_pool_destroy(executor), "weft_pool_destroy");
}

/* Submit and wait for all. */

static void *print_task(void *arg)
{
	struct job *j = arg;
	sleep_scaled(random_value(j->kind, j->name));
	/* display the result, rather than return it */
	printf("%u\n", j->name);
	return NULL;
}

static void submit_wait_all(void)
{
	struct job jobs[TASKS];
	weft_future *futures[TASKS];

	jobs_init(jobs, TASKS, 5);
	weft_pool *executor = make_pool(10, "executor");
	/* submit tasks and collect futures */
	submit_all(executor, jobs, futures, print_task);
	/* wait for all tasks to complete */
	check(weft_wait(futures, TASKS, WEFT_ALL_COMPLETED, WEFT_FOREVER),
	      "weft_wait");
	release_all(futures, TASKS);
	check(weft_pool_destroy(executor), "weft_pool_destroy");
	printf("All tasks are done!\n");
}

/* Submit and wait for the first; shut down, cancelling the queued. */

static void submit_wait_first(unsigned workers)
{
	struct job jobs[TASKS];
	weft_future *futures[TASKS];
	atomic_int started = 0;

	jobs_init(jobs, TASKS, workers == TASKS ? 6 : 7);
	for (unsigned i = 0; i < TASKS; i++)
		jobs[i].started = &started;
	/* start the thread pool */
	weft_pool *executor = make_pool(workers, "executor");
	/* submit tasks and collect futures */
	submit_all(executor, jobs, futures, task);
	/* wait until any task completes first */
	check(weft_wait(futures, TASKS, WEFT_FIRST_COMPLETED, WEFT_FOREVER),
	      "weft_wait");
	/* get the result from the first task to complete */
	unsigned done = 0, first = TASKS;
	for (unsigned i = 0; i < TASKS; i++) {
		if (weft_future_done(futures[i])) {
			done++;
			if (first == TASKS)
				first = i;
		}
	}
	printf("%u\n", name_of(futures[first]));
	printf("[done: %u, not done: %u]\n", done, TASKS - done);
	/* shut down without waiting, cancelling the tasks not started */
	check(weft_pool_shutdown(executor, WEFT_SHUTDOWN_CANCEL_PENDING),
	      "weft_pool_shutdown");
	unsigned cancelled = 0;
	for (unsigned i = 0; i < TASKS; i++)
		cancelled += weft_future_state(futures[i]) == WEFT_CANCELLED;
	printf("[at shutdown: %d started, %u cancelled]\n",
	       atomic_load(&started), cancelled);
	/* unlike CPython's, weft's wait() sees cancelled futures as done */
	check(weft_wait(futures, TASKS, WEFT_ALL_COMPLETED, WEFT_FOREVER),
	      "weft_wait");
	/* the running tasks finish in the background; the pool goes once
	 * they have */
	check(weft_pool_destroy(executor), "weft_pool_destroy");
	printf("[ran:");
	for (unsigned i = 0; i < TASKS; i++)
		if (jobs[i].ran)
			printf(" %u", i);
	printf("] [cancelled:");
	for (unsigned i = 0; i < TASKS; i++)
		if (weft_future_state(futures[i]) == WEFT_CANCELLED)
			printf(" %u", i);
	printf("]\n");
	release_all(futures, TASKS);
}

int main(int argc, char **argv)
{
	example_init();
	int ran = 0;
	if (want(argc, argv, "map", "map and wait")) {
		map_and_wait();
		ran++;
	}
	if (want(argc, argv, "as_completed", "submit and use as completed")) {
		submit_as_completed();
		ran++;
	}
	if (want(argc, argv, "sequential", "submit and use sequentially")) {
		submit_sequential();
		ran++;
	}
	if (want(argc, argv, "callbacks", "submit and use callbacks")) {
		submit_callbacks();
		ran++;
	}
	if (want(argc, argv, "wait_all", "submit and wait for all")) {
		submit_wait_all();
		ran++;
	}
	if (want(argc, argv, "wait_first", "submit and wait for first")) {
		submit_wait_first(TASKS);
		ran++;
	}
	if (want(argc, argv, "wait_first_cancel",
		 "wait for first with 2 workers, cancel the queued rest")) {
		submit_wait_first(2);
		ran++;
	}
	if (!ran) {
		fprintf(stderr,
			"usage: %s [map | as_completed | sequential | "
			"callbacks | wait_all | wait_first | "
			"wait_first_cancel]\n",
			argv[0]);
		return 2;
	}
	return 0;
}
