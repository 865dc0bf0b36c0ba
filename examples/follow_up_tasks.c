/*
 * Follow-up tasks: the result of a first-round task decides whether a
 * second task runs.
 *
 * A port of the tutorial "How to Submit a Follow-up Task to a
 * ThreadPoolExecutor in Python". Ten first-round tasks each draw a random
 * value, sleep that long and return it; each value above 0.5 gets a
 * follow-up task, which draws a second value and sleeps that long. The
 * tutorial's program reads the results with as_completed(), and it
 * sketches the same over executor.map(); weft can also chain the
 * follow-up onto its first task as a continuation.
 *
 * usage: follow_up_tasks [as_completed | map | then]   (default: all)
 */
#include "example_util.h"

#define TASKS 10

struct first_round {
	unsigned id;
	double value;
};

struct second_round {
	unsigned id;
	double value1, value2;
};

/* mock task that works for a moment */
static void *task1(void *arg)
{
	struct first_round *t = arg;
	t->value = random_value(1, t->id);
	sleep_scaled(t->value);
	char v[32];
	printf("Task 1: %s\n", pyfloat(v, t->value));
	return t;
}

/* mock task that works for a moment */
static void *task2(void *arg)
{
	struct second_round *t = arg;
	t->value2 = random_value(2, t->id);
	sleep_scaled(t->value2);
	char v1[32], v2[32];
	printf("Task 2: value1=%s, value2=%s\n", pyfloat(v1, t->value1),
	       pyfloat(v2, t->value2));
	return t;
}

/* Submits task2 for a first-round result that asks for it. */
static void maybe_follow_up(weft_pool *executor,
			    const struct first_round *result,
			    struct second_round *second)
{
	/* check if we should trigger a follow-up task */
	if (result->value > 0.5) {
		second->id = result->id;
		second->value1 = result->value;
		check(weft_submit(executor, task2, second, NULL),
		      "weft_submit");
	}
}

/* The tutorial's program: follow-ups decided as results complete. */
static void with_as_completed(void)
{
	struct first_round first[TASKS];
	struct second_round second[TASKS];
	weft_future *futures1[TASKS];

	/* start the thread pool */
	weft_pool *executor = make_pool(5, "executor");
	/* send in the first tasks */
	for (unsigned i = 0; i < TASKS; i++) {
		first[i].id = i;
		check(weft_submit(executor, task1, &first[i], &futures1[i]),
		      "weft_submit");
	}
	/* process results in the order they are completed */
	weft_as_completed *it;
	check(weft_as_completed_create(futures1, TASKS, WEFT_FOREVER, &it),
	      "weft_as_completed_create");
	weft_future *future1;
	int more;
	while ((more = weft_as_completed_next(it, &future1)) == 1) {
		/* get the result */
		void *result;
		check(weft_future_get(future1, &result), "weft_future_get");
		struct first_round *r = result;
		maybe_follow_up(executor, r, &second[r->id]);
	}
	check(more, "weft_as_completed_next");
	weft_as_completed_destroy(it);
	for (unsigned i = 0; i < TASKS; i++)
		weft_future_release(futures1[i]);
	/* wait for all follow-up tasks to complete */
	check(weft_pool_destroy(executor), "weft_pool_destroy");
}

/* The tutorial's sketch over executor.map(): results in submission
 * order, each waited for in turn. */
static void with_map(void)
{
	struct first_round first[TASKS];
	struct second_round second[TASKS];
	void *items[TASKS];
	weft_future *futures1[TASKS];

	weft_pool *executor = make_pool(5, "executor");
	for (unsigned i = 0; i < TASKS; i++) {
		first[i].id = i;
		items[i] = &first[i];
	}
	check(weft_map(executor, task1, items, TASKS, futures1), "weft_map");
	/* process the results from first-round tasks */
	for (unsigned i = 0; i < TASKS; i++) {
		void *result;
		check(weft_future_get(futures1[i], &result),
		      "weft_future_get");
		maybe_follow_up(executor, result, &second[i]);
		weft_future_release(futures1[i]);
	}
	check(weft_pool_destroy(executor), "weft_pool_destroy");
}

/* The continuation: it reads the first task's result and runs the
 * follow-up right there when the result asks for one. */
static void *follow_up(weft_future *done, void *ctx)
{
	void *result;
	/* WEFT_THEN_ON_SUCCESS: done succeeded, get() returns at once. */
	check(weft_future_get(done, &result), "weft_future_get");
	const struct first_round *r = result;
	if (r->value <= 0.5)
		return NULL;
	struct second_round *second = ctx;
	second->id = r->id;
	second->value1 = r->value;
	return task2(second);
}

/* Each first task carries its own follow-up: nobody has to watch the
 * results, and the follow-up starts on the worker that finished the first
 * task. */
static void with_then(void)
{
	struct first_round first[TASKS];
	struct second_round second[TASKS];

	weft_pool *executor = make_pool(5, "executor");
	for (unsigned i = 0; i < TASKS; i++) {
		weft_future *future1;
		first[i].id = i;
		check(weft_submit(executor, task1, &first[i], &future1),
		      "weft_submit");
		check(weft_future_then(future1, follow_up, &second[i],
				       WEFT_THEN_ON_SUCCESS, NULL),
		      "weft_future_then");
		weft_future_release(future1);
	}
	/* the pool drains the continuations before it goes */
	check(weft_pool_destroy(executor), "weft_pool_destroy");
}

int main(int argc, char **argv)
{
	example_init();
	int ran = 0;
	if (want(argc, argv, "as_completed", "follow-ups as results complete")) {
		with_as_completed();
		ran++;
	}
	if (want(argc, argv, "map", "follow-ups over executor.map()")) {
		with_map();
		ran++;
	}
	if (want(argc, argv, "then", "follow-ups as continuations")) {
		with_then();
		ran++;
	}
	if (!ran) {
		fprintf(stderr, "usage: %s [as_completed | map | then]\n",
			argv[0]);
		return 2;
	}
	return 0;
}
