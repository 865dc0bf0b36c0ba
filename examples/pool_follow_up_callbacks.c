/*
 * Follow-up tasks issued by hand or from a result callback.
 *
 * A port of the tutorial on follow-up tasks with multiprocessing's
 * ThreadPool. Ten first-round tasks each draw a random value, sleep that
 * long and return (identifier, value); each value above 0.5 gets a
 * follow-up task. The tutorial's two programs:
 *
 *   manual     imap_unordered() results, follow-ups by apply_async():
 *              weft_map + weft_as_completed, follow-ups by weft_submit.
 *   map_async  map_async(callback=...), the callback issues the
 *              follow-ups once every first-round task is done:
 *              weft_map + weft_when_all + weft_future_on_done.
 *
 * and the per-task form it sketches, apply_async(callback=...):
 *
 *   apply_async  weft_submit + weft_future_on_done on each task.
 *
 * Python runs these callbacks on the pool's result-handler thread; weft
 * runs them on the thread that completed the future (a worker), which
 * may submit: follow-ups submitted by a worker are accepted while the
 * pool drains, so close() + join() (shutdown with WAIT) waits for them.
 *
 * usage: pool_follow_up_callbacks [manual | map_async | apply_async]
 */
#include "example_util.h"

#define TASKS 10

struct first_round {
	unsigned identifier;
	double value;
};

struct second_round {
	unsigned identifier;
	double result, value;
};

/* task executed in a worker thread */
static void *task2(void *arg)
{
	struct second_round *t = arg;
	/* generate a random number */
	t->value = random_value(2, t->identifier);
	/* block for a moment */
	sleep_scaled(t->value);
	/* report result */
	char r[32], v[32];
	printf(">>%u with %s, generated %s\n", t->identifier,
	       pyfloat(r, t->result), pyfloat(v, t->value));
	/* return result */
	return t;
}

/* task executed in a worker thread */
static void *task1(void *arg)
{
	struct first_round *t = arg;
	/* generate a random number */
	t->value = random_value(1, t->identifier);
	/* block for a moment */
	sleep_scaled(t->value);
	/* report result */
	char v[32];
	printf(">%u generated %s\n", t->identifier, pyfloat(v, t->value));
	/* return result */
	return t;
}

struct run {
	weft_pool *pool;
	struct first_round first[TASKS];
	struct second_round second[TASKS];
	void *items[TASKS];
	weft_future *futures[TASKS];
};

static void run_init(struct run *run)
{
	/* create and configure the thread pool: one thread per CPU */
	run->pool = make_pool(0, "pool");
	for (unsigned i = 0; i < TASKS; i++) {
		run->first[i].identifier = i;
		run->items[i] = &run->first[i];
	}
}

/* Checks one first-round result; issues its follow-up if it needs one. */
static void handle(struct run *run, const struct first_round *r)
{
	/* check result */
	if (r->value > 0.5) {
		/* issue a follow-up task */
		struct second_round *s = &run->second[r->identifier];
		s->identifier = r->identifier;
		s->result = r->value;
		check(weft_submit(run->pool, task2, s, NULL), "weft_submit");
	}
}

static void run_finish(struct run *run)
{
	for (unsigned i = 0; i < TASKS; i++)
		weft_future_release(run->futures[i]);
	/* close the pool and wait for all issued tasks to complete */
	check(weft_pool_shutdown(run->pool, WEFT_SHUTDOWN_WAIT),
	      "weft_pool_shutdown");
	check(weft_pool_destroy(run->pool), "weft_pool_destroy");
	/* all done */
	printf("All done.\n");
}

static void manual(void)
{
	struct run run;
	run_init(&run);
	/* issue tasks to the thread pool and handle results as they come */
	check(weft_map(run.pool, task1, run.items, TASKS, run.futures),
	      "weft_map");
	weft_as_completed *it;
	check(weft_as_completed_create(run.futures, TASKS, WEFT_FOREVER, &it),
	      "weft_as_completed_create");
	weft_future *f;
	int more;
	while ((more = weft_as_completed_next(it, &f)) == 1) {
		void *result;
		check(weft_future_get(f, &result), "weft_future_get");
		handle(&run, result);
	}
	check(more, "weft_as_completed_next");
	weft_as_completed_destroy(it);
	run_finish(&run);
}

/* handle results of all the tasks (on the thread that finished the last
 * of them) */
static void result_callback(weft_future *all, void *ctx)
{
	struct run *run = ctx;
	(void)all;
	/* unpack the results, in the order the tasks were issued */
	for (unsigned i = 0; i < TASKS; i++) {
		void *result;
		check(weft_future_get(run->futures[i], &result),
		      "weft_future_get");
		handle(run, result);
	}
}

static void map_async(void)
{
	struct run run;
	run_init(&run);
	/* issue tasks asynchronously to the thread pool */
	weft_future *result;
	check(weft_map(run.pool, task1, run.items, TASKS, run.futures),
	      "weft_map");
	check(weft_when_all(run.futures, TASKS, &result), "weft_when_all");
	check(weft_future_on_done(result, result_callback, &run),
	      "weft_future_on_done");
	/* wait for issued tasks to complete */
	check(weft_future_wait(result, WEFT_FOREVER), "weft_future_wait");
	weft_future_release(result);
	run_finish(&run);
}

/* handle the result of one task; also its error_callback */
static void one_result_callback(weft_future *f, void *ctx)
{
	struct run *run = ctx;
	void *result;
	int err = weft_future_get(f, &result);
	if (err) {
		printf("Task failed: %s\n", weft_strerror(err));
		return;
	}
	handle(run, result);
}

static void apply_async(void)
{
	struct run run;
	run_init(&run);
	for (unsigned i = 0; i < TASKS; i++) {
		/* issue a task with a result callback */
		check(weft_submit(run.pool, task1, run.items[i],
				  &run.futures[i]),
		      "weft_submit");
		check(weft_future_on_done(run.futures[i], one_result_callback,
					  &run),
		      "weft_future_on_done");
	}
	/* wait for the first-round tasks; their callbacks issue the rest */
	check(weft_wait(run.futures, TASKS, WEFT_ALL_COMPLETED, WEFT_FOREVER),
	      "weft_wait");
	run_finish(&run);
}

int main(int argc, char **argv)
{
	example_init();
	int ran = 0;
	if (want(argc, argv, "manual",
		 "follow-ups issued as imap_unordered() results arrive")) {
		manual();
		ran++;
	}
	if (want(argc, argv, "map_async",
		 "follow-ups issued by a map_async() result callback")) {
		map_async();
		ran++;
	}
	if (want(argc, argv, "apply_async",
		 "follow-ups issued by each apply_async() callback")) {
		apply_async();
		ran++;
	}
	if (!ran) {
		fprintf(stderr,
			"usage: %s [manual | map_async | apply_async]\n",
			argv[0]);
		return 2;
	}
	return 0;
}
