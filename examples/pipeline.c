/*
 * A two-step pipeline: every item goes through Task1, then Task2, then
 * back to the main thread.
 *
 * A port of the tutorial on ThreadPoolExecutor pipelines. There, each step
 * is five long-running pool tasks that loop over an input queue and
 * write to an output queue, and a None sentinel shuts the steps down
 * (racily, as the tutorial notes; its fixes are a barrier, or counting
 * the results before sending the sentinel). In weft a step is a pipeline
 * stage: each item's step is a task of its own, "five workers per step"
 * is the stage's concurrency bound, and weft_pipeline_close() ends the
 * stream with no sentinel and no race. A stage prints its "done" line
 * when its last item has passed (once per stage, not once per worker).
 *
 *   one_pool        one pool of ten threads runs both steps; main pushes
 *                   20 items, closes the pipeline and reads results until
 *                   it is drained (the tutorial's first two programs).
 *   separate_pools  one pool of five threads per step, each step a
 *                   pipeline on its pool, joined by a task that moves
 *                   items from the first to the second; main reads
 *                   exactly 20 results, then closes the input (the
 *                   tutorial's third program).
 *
 * usage: pipeline [one_pool | separate_pools]   (default: both)
 */
#include "example_util.h"

#define ITEMS 20
#define WORKERS_PER_STEP 5

struct item {
	unsigned data; /* what main pushed */
	double value1, value2;
};

/* What a step shares between its tasks. */
struct step {
	const char *done_line;
	atomic_uint finished;        /* items through this step */
	atomic_uint busy, most_busy; /* items in the step now, at most */
};

static void step_enter(struct step *s)
{
	unsigned busy = atomic_fetch_add(&s->busy, 1) + 1;
	unsigned most = atomic_load(&s->most_busy);
	while (busy > most &&
	       !atomic_compare_exchange_weak(&s->most_busy, &most, busy))
		;
}

static void step_leave(struct step *s)
{
	atomic_fetch_sub(&s->busy, 1);
	if (atomic_fetch_add(&s->finished, 1) + 1 == ITEMS)
		/* report message */
		printf("%s\n", s->done_line);
}

/* first task in the pipeline */
static void *task1(void *data, void *ctx)
{
	struct item *it = data;
	struct step *step = ctx;
	step_enter(step);
	/* generate a random value between 0 and 1 */
	it->value1 = random_value(1, it->data);
	/* block to simulate work */
	sleep_scaled(it->value1);
	/* report message */
	char v[32];
	printf("> Task1 got %u, produced %s\n", it->data,
	       pyfloat(v, it->value1));
	step_leave(step);
	/* pass the result on to the next step */
	return it;
}

/* second task in the pipeline */
static void *task2(void *data, void *ctx)
{
	struct item *it = data;
	struct step *step = ctx;
	step_enter(step);
	/* generate a random value between 0 and 1 */
	it->value2 = random_value(2, it->data);
	/* block to simulate work */
	sleep_scaled(it->value2);
	/* report message */
	char v1[32], v2[32];
	printf("> > Task2 got %s, produced %s\n", pyfloat(v1, it->value1),
	       pyfloat(v2, it->value2));
	step_leave(step);
	return it;
}

static void report_result(const struct item *it)
{
	char v[32];
	/* report the result */
	printf("Main got %s\n", pyfloat(v, it->value2));
}

static void report_steps(struct step *step1, struct step *step2)
{
	printf("[Task1 worked on at most %u items at once, Task2 on %u]\n",
	       atomic_load(&step1->most_busy), atomic_load(&step2->most_busy));
}

static weft_pipeline *make_pipeline(weft_pool *pool)
{
	weft_pipeline *pl;
	/* as roomy as the tutorial's unbounded queues need */
	check(weft_pipeline_create(pool, ITEMS, 0, &pl),
	      "weft_pipeline_create");
	return pl;
}

static void one_pool(void)
{
	struct item items[ITEMS];
	struct step step1 = { .done_line = "> Task1 done" };
	struct step step2 = { .done_line = "> > Task2 done" };

	/* create the thread pool */
	weft_pool *tpe = make_pool(2 * WORKERS_PER_STEP, "tpe");
	/* the two steps, five at a time each */
	weft_pipeline *pipeline = make_pipeline(tpe);
	check(weft_pipeline_stage(pipeline, "task1", task1, &step1,
				  WORKERS_PER_STEP, 0),
	      "weft_pipeline_stage");
	check(weft_pipeline_stage(pipeline, "task2", task2, &step2,
				  WORKERS_PER_STEP, 0),
	      "weft_pipeline_stage");
	/* push work into task 1 */
	for (unsigned i = 0; i < ITEMS; i++) {
		items[i].data = i;
		check(weft_pipeline_push(pipeline, &items[i], WEFT_FOREVER),
		      "weft_pipeline_push");
	}
	/* signal that there is no more work */
	check(weft_pipeline_close(pipeline), "weft_pipeline_close");
	/* consume results until the pipeline is drained */
	void *data;
	int got;
	while ((got = weft_pipeline_pop(pipeline, &data, WEFT_FOREVER)) == 1)
		report_result(data);
	check(got, "weft_pipeline_pop");
	/* report a message */
	printf("Main all done\n");
	check(weft_pipeline_destroy(pipeline), "weft_pipeline_destroy");
	check(weft_pool_destroy(tpe), "weft_pool_destroy");
	report_steps(&step1, &step2);
}

/* The queue between the two steps: moves items out of the first step's
 * pipeline into the second's, and closes the second once the first is
 * drained. While it waits for an item it runs the second step's tasks. */
struct link {
	weft_pipeline *from, *to;
};

static void *connect_steps(void *arg)
{
	struct link *link = arg;
	void *data;
	int got;
	while ((got = weft_pipeline_pop(link->from, &data, WEFT_FOREVER)) == 1)
		check(weft_pipeline_push(link->to, data, WEFT_FOREVER),
		      "weft_pipeline_push");
	check(got, "weft_pipeline_pop");
	check(weft_pipeline_close(link->to), "weft_pipeline_close");
	return NULL;
}

static void separate_pools(void)
{
	struct item items[ITEMS];
	struct step step1 = { .done_line = "> Task1 done" };
	struct step step2 = { .done_line = "> > Task2 done" };

	/* create the task 1 thread pool and its step */
	weft_pool *tpe1 = make_pool(WORKERS_PER_STEP, "tpe1");
	weft_pipeline *step1_pipeline = make_pipeline(tpe1);
	check(weft_pipeline_stage(step1_pipeline, "task1", task1, &step1,
				  WORKERS_PER_STEP, 0),
	      "weft_pipeline_stage");
	/* create the task 2 thread pool and its step */
	weft_pool *tpe2 = make_pool(WORKERS_PER_STEP, "tpe2");
	weft_pipeline *step2_pipeline = make_pipeline(tpe2);
	check(weft_pipeline_stage(step2_pipeline, "task2", task2, &step2,
				  WORKERS_PER_STEP, 0),
	      "weft_pipeline_stage");
	/* connect the output of step 1 to the input of step 2 */
	struct link link = { step1_pipeline, step2_pipeline };
	weft_future *connector;
	check(weft_submit(tpe2, connect_steps, &link, &connector),
	      "weft_submit");
	/* push work into task 1 */
	for (unsigned i = 0; i < ITEMS; i++) {
		items[i].data = i;
		check(weft_pipeline_push(step1_pipeline, &items[i],
					 WEFT_FOREVER),
		      "weft_pipeline_push");
	}
	/* consume the results we know are coming */
	for (unsigned i = 0; i < ITEMS; i++) {
		void *data;
		int got = weft_pipeline_pop(step2_pipeline, &data,
					    WEFT_FOREVER);
		check(got, "weft_pipeline_pop");
		if (got == 0)
			break;
		report_result(data);
	}
	/* signal that there is no more work */
	check(weft_pipeline_close(step1_pipeline), "weft_pipeline_close");
	/* report a message */
	printf("Main all done\n");
	/* shutdown the steps and the thread pools */
	check(weft_future_get(connector, NULL), "weft_future_get");
	weft_future_release(connector);
	check(weft_pipeline_destroy(step1_pipeline), "weft_pipeline_destroy");
	check(weft_pipeline_destroy(step2_pipeline), "weft_pipeline_destroy");
	check(weft_pool_destroy(tpe1), "weft_pool_destroy");
	check(weft_pool_destroy(tpe2), "weft_pool_destroy");
	report_steps(&step1, &step2);
}

int main(int argc, char **argv)
{
	example_init();
	int ran = 0;
	if (want(argc, argv, "one_pool", "a pipeline on one thread pool")) {
		one_pool();
		ran++;
	}
	if (want(argc, argv, "separate_pools",
		 "a pipeline with a thread pool per step")) {
		separate_pools();
		ran++;
	}
	if (!ran) {
		fprintf(stderr, "usage: %s [one_pool | separate_pools]\n",
			argv[0]);
		return 2;
	}
	return 0;
}
