/*
 * Results in the order the tasks complete, with and without a timeout.
 *
 * A port of the tutorial on as_completed() with the ThreadPoolExecutor.
 * Ten tasks each draw a random value, sleep ten times that long and
 * return "Task=NAME: VALUE".
 *
 *   as_completed  print each result as its task completes.
 *   timeout       the same with as_completed(timeout=0.05): the tasks
 *                 sleep longer than that, so it times out first.
 *
 * Each result line carries two ticks of a clock shared by all threads:
 * "[ticks 14-16]" means the task returned at tick 14 and the main thread,
 * looking at every future each time as_completed() yields one, first saw
 * it done at tick 16. A result
 * printed after another never completed before that other task returned,
 * except among the tasks already done when as_completed() was called.
 *
 * usage: as_completed [as_completed | timeout]   (default: both)
 */
#include "example_util.h"

#define TASKS 10

struct job {
	unsigned name, kind;
	char result[32];
	uint64_t returned, seen; /* ticks */
};

/* Only to show the order (see the top of the file): the tick at which
 * this thread first saw each task done. */
static void mark_seen(struct job *jobs, weft_future *const *futures)
{
	for (unsigned i = 0; i < TASKS; i++)
		if (!jobs[i].seen && weft_future_done(futures[i]))
			jobs[i].seen = tick();
}

/* custom task that will sleep for a variable amount of time */
static void *task(void *arg)
{
	struct job *j = arg;
	/* sleep for less than ten seconds */
	double value = random_value(j->kind, j->name);
	sleep_scaled(value * 10);
	snprintf(j->result, sizeof(j->result), "Task=%u: %.2f", j->name,
		 value);
	j->returned = tick();
	return j; /* the job, which holds the result string */
}

static void run(unsigned kind, int64_t timeout_ns)
{
	struct job jobs[TASKS];
	weft_future *futures[TASKS];

	memset(jobs, 0, sizeof(jobs));
	/* start the thread pool */
	weft_pool *executor = make_pool(10, "executor");
	/* submit tasks and collect futures */
	for (unsigned i = 0; i < TASKS; i++) {
		jobs[i].name = i;
		jobs[i].kind = kind;
		check(weft_submit(executor, task, &jobs[i], &futures[i]),
		      "weft_submit");
	}
	/* process task results as they are available */
	double start = now_ms();
	weft_as_completed *it;
	check(weft_as_completed_create(futures, TASKS, timeout_ns, &it),
	      "weft_as_completed_create");
	printf("(as_completed() called at tick %" PRIu64 ")\n", tick());
	mark_seen(jobs, futures);
	weft_future *future;
	unsigned yielded = 0;
	int more;
	while ((more = weft_as_completed_next(it, &future)) == 1) {
		/* retrieve the result */
		void *result;
		check(weft_future_get(future, &result), "weft_future_get");
		const struct job *j = result;
		mark_seen(jobs, futures);
		printf("%s  [ticks %" PRIu64 "-%" PRIu64 "]\n", j->result,
		       j->returned, j->seen);
		yielded++;
	}
	/* handle a timeout waiting for a result */
	if (more == -ETIMEDOUT)
		printf("Timed out waiting for a result  [after %.2f ms, "
		       "%u (of %u) futures unfinished]\n",
		       now_ms() - start, TASKS - yielded, TASKS);
	else
		check(more, "weft_as_completed_next");
	weft_as_completed_destroy(it);
	for (unsigned i = 0; i < TASKS; i++)
		weft_future_release(futures[i]);
	/* leaving the tutorial's with-block waits for the tasks */
	check(weft_pool_destroy(executor), "weft_pool_destroy");
}

int main(int argc, char **argv)
{
	example_init();
	int ran = 0;
	if (want(argc, argv, "as_completed",
		 "results as tasks are completed")) {
		run(1, WEFT_FOREVER);
		ran++;
	}
	if (want(argc, argv, "timeout",
		 "results as tasks are completed, with a timeout")) {
		run(2, scaled_ns(0.05));
		ran++;
	}
	if (!ran) {
		fprintf(stderr, "usage: %s [as_completed | timeout]\n",
			argv[0]);
		return 2;
	}
	return 0;
}
