/*
 * Pipelines: stages as pool tasks, back-pressure, bounds, ordering,
 * failures, destroy.
 *
 * Items are small numbers cast to pointers, so a stage can transform
 * them and the test can tell which stage gave which value.
 */
#include "unit.h"

UNIT_SUITE(pipeline, .timeout = 60);

#define V(x) ((void *)(intptr_t)(x))
#define N_OF(p) ((intptr_t)(p))

/* What a stage does and what it saw. */
struct stage {
	intptr_t add;          /* returns item + add */
	intptr_t fail_mod;     /* fails items with item % fail_mod == 0 */
	int fail_code;
	long delay_us;         /* sleeps this long (0: not at all) */
	bool vary_delay;       /* ... times (item % 7) / 6 */
	struct gate *gate;     /* waits for it, if set */
	bool check_order;      /* items must come strictly increasing */
	weft_pipeline *destroy_me; /* calls destroy on it from inside */
	/* Observed. */
	atomic_int calls, active, max_active, order_errors, destroy_rc;
	atomic_intptr_t last;
	atomic_int seen_null;
	intptr_t log[4096]; /* the items, in call order */
};

static void stage_init(struct stage *s)
{
	memset(s, 0, sizeof(*s));
	atomic_init(&s->last, INTPTR_MIN);
	atomic_init(&s->destroy_rc, 1);
}

static void *stage_fn(void *item, void *ctx)
{
	struct stage *s = ctx;
	int now = atomic_fetch_add(&s->active, 1) + 1;
	int max = atomic_load(&s->max_active);
	while (now > max &&
	       !atomic_compare_exchange_weak(&s->max_active, &max, now))
		;
	int k = atomic_fetch_add(&s->calls, 1);
	intptr_t v = N_OF(item);
	if (k < 4096)
		s->log[k] = v;
	if (!item)
		atomic_fetch_add(&s->seen_null, 1);
	if (s->check_order) {
		intptr_t last = atomic_exchange(&s->last, v);
		if (v <= last)
			atomic_fetch_add(&s->order_errors, 1);
	}
	if (s->gate)
		gate_wait(s->gate);
	if (s->delay_us)
		sleep_us(s->vary_delay ? s->delay_us * (v % 7) / 6 : s->delay_us);
	if (s->destroy_me)
		atomic_store(&s->destroy_rc, weft_pipeline_destroy(s->destroy_me));
	atomic_fetch_sub(&s->active, 1);
	if (s->fail_mod && v % s->fail_mod == 0)
		return weft_fail(s->fail_code);
	return V(v + s->add);
}

static weft_pipeline *make_pipeline(weft_pool *p, size_t capacity,
				    unsigned flags)
{
	weft_pipeline *pl = NULL;
	cr_assert_eq(weft_pipeline_create(p, capacity, flags, &pl), 0);
	cr_assert_not_null(pl);
	return pl;
}

static void add_stage(weft_pipeline *pl, struct stage *s, unsigned conc,
		      unsigned flags)
{
	cr_assert_eq(weft_pipeline_stage(pl, "stage", stage_fn, s, conc, flags),
		     0);
}

/* Pops one item within 10 s: the return code, *item. */
static int pop10(weft_pipeline *pl, void **item)
{
	int rc = weft_pipeline_pop(pl, item, 10000 * MS);
	cr_assert_neq(rc, -ETIMEDOUT, "pop waited 10 s");
	return rc;
}

static void wait_calls(struct stage *s, int n)
{
	int64_t until = now_ns() + 10000 * MS;
	while (atomic_load(&s->calls) < n) {
		cr_assert_lt(now_ns(), until, "the stage was not called");
		sleep_us(100);
	}
}

Test(pipeline, create_errors)
{
	weft_pool *p = make_pool(1);
	weft_pipeline *pl = (weft_pipeline *)&p;
	cr_expect_eq(weft_pipeline_create(NULL, 4, 0, &pl), -EINVAL);
	cr_expect_eq(weft_pipeline_create(p, 4, 0, NULL), -EINVAL);
	cr_expect_eq(weft_pipeline_create(p, 0, 0, &pl), -EINVAL);
	cr_expect_eq(weft_pipeline_create(p, 4, 2, &pl), -EINVAL);
	cr_expect_eq(weft_pipeline_create(p, 4, WEFT_PIPELINE_ORDERED | 4, &pl),
		     -EINVAL);
	cr_expect_eq(weft_pipeline_create(p, 4, ~0u, &pl), -EINVAL);
	cr_expect_eq(pl, (weft_pipeline *)&p, "*out written on an error");
	cr_expect_eq(weft_pipeline_create(p, 1, 0, &pl), 0);
	cr_expect_eq(weft_pipeline_destroy(pl), 0);
	cr_expect_eq(weft_pipeline_create(p, SIZE_MAX, WEFT_PIPELINE_ORDERED,
					  &pl),
		     0);
	cr_expect_eq(weft_pipeline_destroy(pl), 0);
	cr_expect_eq(weft_pipeline_destroy(NULL), 0);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(pipeline, stage_errors)
{
	weft_pool *p = make_pool(1);
	weft_pipeline *pl = make_pipeline(p, 4, 0);
	struct stage a, b;
	stage_init(&a);
	stage_init(&b);
	a.add = 10;
	b.add = 100;
	cr_expect_eq(weft_pipeline_stage(NULL, "x", stage_fn, &a, 0, 0),
		     -EINVAL);
	cr_expect_eq(weft_pipeline_stage(pl, "x", NULL, &a, 0, 0), -EINVAL);
	cr_expect_eq(weft_pipeline_stage(pl, "x", stage_fn, &a, 0, 2),
		     -EINVAL);
	cr_expect_eq(weft_pipeline_stage(pl, "x", stage_fn, &a, 0, ~0u),
		     -EINVAL);
	/* name NULL and ctx NULL are fine; so is any concurrency. */
	cr_expect_eq(weft_pipeline_stage(pl, NULL, stage_fn, &a, 7, 0), 0);
	cr_expect_eq(weft_pipeline_push(pl, V(1), WEFT_FOREVER), 0);
	cr_expect_eq(weft_pipeline_stage(pl, "late", stage_fn, &b, 0, 0),
		     -EBUSY);
	cr_expect_eq(weft_pipeline_stage(pl, "late", stage_fn, &b, 0,
					 WEFT_STAGE_ORDERED),
		     -EBUSY);
	void *item;
	cr_expect_eq(pop10(pl, &item), 1);
	cr_expect_eq(item, V(11), "a stage refused with -EBUSY ran");
	cr_expect_eq(atomic_load(&b.calls), 0);
	cr_expect_eq(weft_pipeline_destroy(pl), 0);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(pipeline, push_pop_close)
{
	weft_pool *p = make_pool(2);
	weft_pipeline *pl = make_pipeline(p, 8, 0);
	struct stage s;
	stage_init(&s);
	s.add = 1;
	add_stage(pl, &s, 0, 0);
	void *item = NULL;

	cr_expect_eq(weft_pipeline_push(NULL, V(1), 0), -EINVAL);
	cr_expect_eq(weft_pipeline_push(pl, V(1), -2), -EINVAL);
	cr_expect_eq(weft_pipeline_pop(NULL, &item, 0), -EINVAL);
	cr_expect_eq(weft_pipeline_pop(pl, NULL, 0), -EINVAL);
	cr_expect_eq(weft_pipeline_pop(pl, &item, -2), -EINVAL);
	cr_expect_eq(weft_pipeline_close(NULL), -EINVAL);

	/* Empty and open: pop times out, not before its deadline. */
	cr_expect_eq(weft_pipeline_pop(pl, &item, 0), -ETIMEDOUT);
	int64_t t0 = now_ns();
	cr_expect_eq(weft_pipeline_pop(pl, &item, 50 * MS), -ETIMEDOUT);
	cr_expect_geq(now_ns() - t0, 50 * MS);

	for (int i = 0; i < 5; i++)
		cr_expect_eq(weft_pipeline_push(pl, V(i * 10), 0), 0);
	cr_expect_eq(weft_pipeline_close(pl), 0);
	cr_expect_eq(weft_pipeline_close(pl), 0); /* idempotent */
	cr_expect_eq(weft_pipeline_push(pl, V(99), WEFT_FOREVER), -EPIPE);
	cr_expect_eq(weft_pipeline_push(pl, V(99), 0), -EPIPE);
	int seen[5] = {0};
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(pop10(pl, &item), 1);
		intptr_t v = N_OF(item) - 1;
		cr_assert(v >= 0 && v % 10 == 0 && v < 50, "popped %ld",
			  (long)N_OF(item));
		seen[v / 10]++;
	}
	for (int i = 0; i < 5; i++)
		cr_expect_eq(seen[i], 1);
	/* Closed and drained: 0, at once, every time. */
	cr_expect_eq(weft_pipeline_pop(pl, &item, WEFT_FOREVER), 0);
	cr_expect_eq(weft_pipeline_pop(pl, &item, 0), 0);
	cr_expect_eq(atomic_load(&s.calls), 5, "a push refused with -EPIPE "
					       "reached a stage");
	cr_expect_eq(weft_pipeline_destroy(pl), 0);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

struct popper {
	weft_pipeline *pl;
	int rc;
	void *item;
	int64_t took;
	pthread_t t;
};

static void *popper_main(void *arg)
{
	struct popper *pp = arg;
	int64_t t0 = now_ns();
	pp->rc = weft_pipeline_pop(pp->pl, &pp->item, 10000 * MS);
	pp->took = now_ns() - t0;
	return NULL;
}

Test(pipeline, close_wakes_a_waiting_pop)
{
	weft_pool *p = make_pool(1);
	weft_pipeline *pl = make_pipeline(p, 4, 0);
	struct popper pp = {.pl = pl, .rc = 7};
	cr_assert_eq(pthread_create(&pp.t, NULL, popper_main, &pp), 0);
	sleep_ms(30);
	cr_expect_eq(weft_pipeline_close(pl), 0);
	pthread_join(pp.t, NULL);
	cr_expect_eq(pp.rc, 0);
	cr_expect_lt(pp.took, 5000 * MS);
	cr_expect_eq(weft_pipeline_destroy(pl), 0);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(pipeline, without_stages_items_pass_through)
{
	weft_pool *p = make_pool(1);
	weft_pipeline *pl = make_pipeline(p, 4, WEFT_PIPELINE_ORDERED);
	void *item;
	for (int i = 1; i <= 3; i++)
		cr_expect_eq(weft_pipeline_push(pl, V(i), WEFT_FOREVER), 0);
	weft_pipeline_close(pl);
	for (int i = 1; i <= 3; i++) {
		cr_expect_eq(pop10(pl, &item), 1);
		cr_expect_eq(item, V(i));
	}
	cr_expect_eq(pop10(pl, &item), 0);
	cr_expect_eq(weft_pipeline_destroy(pl), 0);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(pipeline, null_items_flow_through)
{
	weft_pool *p = make_pool(2);
	weft_pipeline *pl = make_pipeline(p, 16, 0);
	struct stage s[3];
	for (int i = 0; i < 3; i++) {
		stage_init(&s[i]);
		add_stage(pl, &s[i], 0, i == 1 ? WEFT_STAGE_ORDERED : 0);
	}
	for (int i = 0; i < 10; i++)
		cr_expect_eq(weft_pipeline_push(pl, NULL, WEFT_FOREVER), 0);
	void *item = &item;
	for (int i = 0; i < 10; i++) {
		cr_expect_eq(pop10(pl, &item), 1);
		cr_expect_null(item);
	}
	for (int i = 0; i < 3; i++)
		cr_expect_eq(atomic_load(&s[i].seen_null), 10);
	cr_expect_eq(weft_pipeline_destroy(pl), 0);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(pipeline, stages_in_order_transform)
{
	weft_pool *p = make_pool(2);
	weft_pipeline *pl = make_pipeline(p, 16, WEFT_PIPELINE_ORDERED);
	struct stage s[3];
	static const intptr_t adds[3] = {1000, 20000, 300000};
	for (int i = 0; i < 3; i++) {
		stage_init(&s[i]);
		s[i].add = adds[i];
		add_stage(pl, &s[i], 0, 0);
	}
	for (int i = 0; i < 100; i++) {
		cr_assert_eq(weft_pipeline_push(pl, V(i), WEFT_FOREVER), 0);
		void *item;
		cr_assert_eq(pop10(pl, &item), 1);
		cr_expect_eq(item, V(i + 321000));
	}
	/* Stage k saw the output of stage k - 1. */
	for (int k = 0; k < 100; k++) {
		cr_expect_lt(s[1].log[k], 20000);
		cr_expect_geq(s[1].log[k], 1000);
		cr_expect_geq(s[2].log[k], 21000);
	}
	cr_expect_eq(weft_pipeline_destroy(pl), 0);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/*
 * A failing stage: the item leaves through pop with -err and the value
 * that stage was given, and skips the later stages.
 */
static void run_failures(unsigned pflags, unsigned sflags)
{
	enum { N = 200 };
	weft_pool *p = make_pool(3);
	weft_pipeline *pl = make_pipeline(p, 8, pflags);
	struct stage s[3];
	for (int i = 0; i < 3; i++)
		stage_init(&s[i]);
	s[0].add = 1;               /* item i -> i + 1 */
	s[1].fail_mod = 5;          /* fails i + 1 = 0 mod 5 */
	s[1].fail_code = EIO;
	s[1].add = 10000;
	s[2].add = 100000;
	s[2].check_order = sflags & WEFT_STAGE_ORDERED;
	add_stage(pl, &s[0], 2, 0);
	add_stage(pl, &s[1], 0, 0);
	add_stage(pl, &s[2], 0, sflags);

	int ok = 0, failed = 0, order_errors = 0;
	intptr_t last = -1;
	static int seen[N];
	memset(seen, 0, sizeof(seen));
	int pushed = 0, popped = 0;
	while (popped < N) {
		/* Keep the pipeline busy without a second thread. */
		while (pushed < N &&
		       weft_pipeline_push(pl, V(pushed), 0) == 0)
			pushed++;
		void *item = NULL;
		int rc = pop10(pl, &item);
		popped++;
		intptr_t v = N_OF(item), orig;
		if (rc == 1) {
			orig = v - 110001;
			ok++;
		} else {
			cr_expect_eq(rc, -EIO);
			/* The value stage 1 was given: i + 1. */
			orig = v - 1;
			cr_expect_eq(v % 5, 0, "failed item %ld", (long)v);
			failed++;
		}
		cr_assert(orig >= 0 && orig < N, "popped %ld (rc %d)",
			  (long)v, rc);
		seen[orig]++;
		if (orig <= last)
			order_errors++;
		last = orig;
	}
	cr_expect_eq(failed, N / 5);
	cr_expect_eq(ok, N - N / 5);
	for (int i = 0; i < N; i++)
		cr_expect_eq(seen[i], 1, "item %d came out %d times", i,
			     seen[i]);
	if (pflags & WEFT_PIPELINE_ORDERED)
		cr_expect_eq(order_errors, 0, "pop out of push order");
	cr_expect_eq(atomic_load(&s[2].calls), N - N / 5,
		     "failed items reached the stage after the failure");
	for (int k = 0; k < N - N / 5; k++)
		cr_expect_neq((s[2].log[k] - 10000) % 5, 0);
	cr_expect_eq(atomic_load(&s[2].order_errors), 0);
	weft_pipeline_close(pl);
	void *item;
	cr_expect_eq(pop10(pl, &item), 0);
	cr_expect_eq(weft_pipeline_destroy(pl), 0);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(pipeline, failed_items_unordered)
{
	run_failures(0, 0);
}

Test(pipeline, failed_items_ordered_output)
{
	run_failures(WEFT_PIPELINE_ORDERED, 0);
}

Test(pipeline, failed_items_before_an_ordered_stage)
{
	run_failures(WEFT_PIPELINE_ORDERED, WEFT_STAGE_ORDERED);
	run_failures(0, WEFT_STAGE_ORDERED);
}

/* A producer thread: pushes 0..n-1, then closes. */
struct producer {
	weft_pipeline *pl;
	int n;
	int errors;
	pthread_t t;
};

static void *producer_main(void *arg)
{
	struct producer *pr = arg;
	for (int i = 0; i < pr->n; i++)
		if (weft_pipeline_push(pr->pl, V(i), WEFT_FOREVER))
			pr->errors++;
	weft_pipeline_close(pr->pl);
	return NULL;
}

static void start_producer(struct producer *pr, weft_pipeline *pl, int n)
{
	*pr = (struct producer){.pl = pl, .n = n};
	cr_assert_eq(pthread_create(&pr->t, NULL, producer_main, pr), 0);
}

/* Pops until closed and drained; returns how many came out and whether
 * they came in push order (values v - offset). */
static int drain(weft_pipeline *pl, intptr_t offset, int n, int *seen,
		 bool *in_order)
{
	int count = 0;
	intptr_t last = -1;
	*in_order = true;
	void *item;
	int rc;
	while ((rc = pop10(pl, &item)) == 1) {
		intptr_t v = N_OF(item) - offset;
		cr_assert(v >= 0 && v < n, "popped %ld", (long)v);
		seen[v]++;
		if (v != last + 1)
			*in_order = false;
		last = v;
		count++;
	}
	cr_expect_eq(rc, 0);
	return count;
}

Test(pipeline, ordered_output_under_random_delays)
{
	enum { N = 600 };
	weft_pool *p = make_pool(4);
	weft_pipeline *pl = make_pipeline(p, 32, WEFT_PIPELINE_ORDERED);
	struct stage s[2];
	stage_init(&s[0]);
	stage_init(&s[1]);
	s[0].delay_us = 300;
	s[0].vary_delay = true;
	s[1].delay_us = 200;
	s[1].vary_delay = true;
	s[1].add = 1;
	add_stage(pl, &s[0], 0, 0);
	add_stage(pl, &s[1], 3, 0);
	struct producer pr;
	start_producer(&pr, pl, N);
	static int seen[N];
	bool in_order;
	cr_expect_eq(drain(pl, 1, N, seen, &in_order), N);
	cr_expect(in_order, "WEFT_PIPELINE_ORDERED popped out of order");
	pthread_join(pr.t, NULL);
	cr_expect_eq(pr.errors, 0);
	for (int i = 0; i < N; i++)
		cr_expect_eq(seen[i], 1);
	/* The delays overlapped: the unordered stage ran items at once. */
	cr_expect_geq(atomic_load(&s[0].max_active), 2);
	cr_expect_eq(weft_pipeline_destroy(pl), 0);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(pipeline, unordered_output_each_item_once)
{
	enum { N = 600 };
	weft_pool *p = make_pool(4);
	weft_pipeline *pl = make_pipeline(p, 32, 0);
	struct stage s;
	stage_init(&s);
	s.delay_us = 300;
	s.vary_delay = true;
	add_stage(pl, &s, 0, 0);
	struct producer pr;
	start_producer(&pr, pl, N);
	static int seen[N];
	bool in_order;
	cr_expect_eq(drain(pl, 0, N, seen, &in_order), N);
	pthread_join(pr.t, NULL);
	for (int i = 0; i < N; i++)
		cr_expect_eq(seen[i], 1);
	cr_expect_eq(weft_pipeline_destroy(pl), 0);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/* WEFT_STAGE_ORDERED after an unordered, concurrent stage: one item at
 * a time, in push order. */
static void run_ordered_stage(unsigned conc_arg)
{
	enum { N = 500 };
	weft_pool *p = make_pool(4);
	weft_pipeline *pl = make_pipeline(p, 64, 0);
	struct stage s[3];
	for (int i = 0; i < 3; i++)
		stage_init(&s[i]);
	s[0].delay_us = 400;
	s[0].vary_delay = true;
	s[1].check_order = true;
	s[1].delay_us = 20;
	s[2].delay_us = 100;
	s[2].vary_delay = true;
	add_stage(pl, &s[0], 0, 0);
	add_stage(pl, &s[1], conc_arg, WEFT_STAGE_ORDERED);
	add_stage(pl, &s[2], 0, 0);
	struct producer pr;
	start_producer(&pr, pl, N);
	static int seen[N];
	memset(seen, 0, sizeof(seen));
	bool in_order;
	cr_expect_eq(drain(pl, 0, N, seen, &in_order), N);
	pthread_join(pr.t, NULL);
	cr_expect_geq(atomic_load(&s[0].max_active), 2,
		      "the stage before the ordered one never ran items "
		      "concurrently: the test proves nothing");
	cr_expect_eq(atomic_load(&s[1].max_active), 1,
		     "an ordered stage took %d items at once",
		     atomic_load(&s[1].max_active));
	cr_expect_eq(atomic_load(&s[1].order_errors), 0);
	cr_expect_eq(atomic_load(&s[1].calls), N);
	for (int k = 0; k < N; k++)
		cr_expect_eq(s[1].log[k], k, "ordered stage call %d got %ld", k,
			     (long)s[1].log[k]);
	cr_expect_eq(weft_pipeline_destroy(pl), 0);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(pipeline, ordered_stage_after_a_concurrent_one)
{
	run_ordered_stage(0);
}

Test(pipeline, ordered_stage_ignores_its_concurrency)
{
	run_ordered_stage(4);
}

Test(pipeline, concurrency_bound_respected)
{
	enum { N = 60 };
	static const unsigned bounds[] = {1, 2, 3};
	for (int b = 0; b < 3; b++) {
		weft_pool *p = make_pool(4);
		weft_pipeline *pl = make_pipeline(p, 64, 0);
		struct stage s, t;
		stage_init(&s);
		stage_init(&t);
		s.delay_us = 2000;
		t.delay_us = 500;
		add_stage(pl, &s, bounds[b], 0);
		add_stage(pl, &t, 1, 0);
		struct producer pr;
		start_producer(&pr, pl, N);
		static int seen[N];
		memset(seen, 0, sizeof(seen));
		bool in_order;
		cr_expect_eq(drain(pl, 0, N, seen, &in_order), N);
		pthread_join(pr.t, NULL);
		cr_expect_eq(atomic_load(&s.max_active), (int)bounds[b],
			     "bound %u, max %d at once", bounds[b],
			     atomic_load(&s.max_active));
		cr_expect_eq(atomic_load(&t.max_active), 1);
		cr_expect_eq(weft_pipeline_destroy(pl), 0);
		cr_assert_eq(weft_pool_destroy(p), 0);
	}
}

/*
 * Back-pressure: push waits while capacity items are inside.
 */
struct pusher {
	weft_pipeline *pl;
	void *item;
	int64_t timeout;
	atomic_int done;
	int rc;
	pthread_t t;
};

static void *pusher_main(void *arg)
{
	struct pusher *pu = arg;
	pu->rc = weft_pipeline_push(pu->pl, pu->item, pu->timeout);
	atomic_store(&pu->done, 1);
	return NULL;
}

static void start_pusher(struct pusher *pu, weft_pipeline *pl, void *item,
			 int64_t timeout)
{
	pu->pl = pl;
	pu->item = item;
	pu->timeout = timeout;
	atomic_init(&pu->done, 0);
	pu->rc = 1;
	cr_assert_eq(pthread_create(&pu->t, NULL, pusher_main, pu), 0);
}

Test(pipeline, capacity_back_pressure)
{
	weft_pool *p = make_pool(2);
	weft_pipeline *pl = make_pipeline(p, 4, 0);
	struct stage s;
	stage_init(&s);
	add_stage(pl, &s, 0, 0);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(weft_pipeline_push(pl, V(i), WEFT_FOREVER), 0);
	wait_calls(&s, 4);
	/* Full, although every item is through its stages. */
	cr_expect_eq(weft_pipeline_push(pl, V(100), 0), -ETIMEDOUT);
	int64_t t0 = now_ns();
	cr_expect_eq(weft_pipeline_push(pl, V(101), 40 * MS), -ETIMEDOUT);
	cr_expect_geq(now_ns() - t0, 40 * MS);

	/* A blocked push goes through once an item is popped. */
	struct pusher pu;
	start_pusher(&pu, pl, V(4), WEFT_FOREVER);
	sleep_ms(50);
	cr_expect_eq(atomic_load(&pu.done), 0, "push did not wait for space");
	void *item;
	cr_expect_eq(pop10(pl, &item), 1);
	pthread_join(pu.t, NULL);
	cr_expect_eq(pu.rc, 0);

	/* A blocked push fails with -EPIPE when the pipeline closes. */
	start_pusher(&pu, pl, V(5), WEFT_FOREVER);
	sleep_ms(30);
	cr_expect_eq(atomic_load(&pu.done), 0);
	weft_pipeline_close(pl);
	pthread_join(pu.t, NULL);
	cr_expect_eq(pu.rc, -EPIPE);

	/* What timed out or was refused never entered. */
	int count = 1;
	int rc;
	while ((rc = pop10(pl, &item)) == 1) {
		cr_expect_lt(N_OF(item), 5, "item %ld entered",
			     (long)N_OF(item));
		count++;
	}
	cr_expect_eq(rc, 0);
	cr_expect_eq(count, 5);
	cr_expect_eq(atomic_load(&s.calls), 5);
	cr_expect_eq(weft_pipeline_destroy(pl), 0);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(pipeline, capacity_counts_items_inside_stages)
{
	weft_pool *p = make_pool(4);
	weft_pipeline *pl = make_pipeline(p, 3, 0);
	struct gate g = {0};
	struct stage s;
	stage_init(&s);
	s.gate = &g;
	add_stage(pl, &s, 0, 0);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(weft_pipeline_push(pl, V(i), WEFT_FOREVER), 0);
	wait_calls(&s, 3);
	/* Nothing is ready to pop, yet the pipeline is full. */
	cr_expect_eq(weft_pipeline_push(pl, V(3), 20 * MS), -ETIMEDOUT);
	void *item;
	cr_expect_eq(weft_pipeline_pop(pl, &item, 0), -ETIMEDOUT);
	gate_open(&g);
	cr_expect_eq(pop10(pl, &item), 1);
	cr_expect_eq(weft_pipeline_push(pl, V(3), 10000 * MS), 0);
	weft_pipeline_close(pl);
	int count = 1;
	while (pop10(pl, &item) == 1)
		count++;
	cr_expect_eq(count, 4);
	cr_expect_eq(weft_pipeline_destroy(pl), 0);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/*
 * A task that pushes into a full pipeline on a one-worker pool whose
 * stage tasks need that same worker: push helps run them instead of
 * blocking the only worker.
 */
struct worker_producer {
	weft_pipeline *pl;
	int n;
	int errors;
};

static void *worker_producer_fn(void *arg)
{
	struct worker_producer *wp = arg;
	for (int i = 0; i < wp->n; i++)
		if (weft_pipeline_push(wp->pl, V(i), WEFT_FOREVER))
			wp->errors++;
	weft_pipeline_close(wp->pl);
	return NULL;
}

Test(pipeline, push_on_a_worker_helps)
{
	enum { N = 300 };
	weft_pool *p = make_pool(1);
	weft_pipeline *pl = make_pipeline(p, 2, WEFT_PIPELINE_ORDERED);
	struct stage s[2];
	stage_init(&s[0]);
	stage_init(&s[1]);
	s[1].add = 1;
	add_stage(pl, &s[0], 1, 0);
	add_stage(pl, &s[1], 0, WEFT_STAGE_ORDERED);
	struct worker_producer wp = {.pl = pl, .n = N};
	weft_future *f;
	cr_assert_eq(weft_submit(p, worker_producer_fn, &wp, &f), 0);
	static int seen[N];
	bool in_order;
	cr_expect_eq(drain(pl, 1, N, seen, &in_order), N);
	cr_expect(in_order);
	cr_expect_eq(weft_future_wait(f, 10000 * MS), 0);
	cr_expect_eq(wp.errors, 0);
	weft_future_release(f);
	cr_expect_eq(weft_pipeline_destroy(pl), 0);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/* The same from the other end: a task pops, on the only worker, items
 * whose stage tasks need that worker. */
struct worker_consumer {
	weft_pipeline *pl;
	int count, errors;
};

static void *worker_consumer_fn(void *arg)
{
	struct worker_consumer *wc = arg;
	void *item;
	int rc;
	while ((rc = weft_pipeline_pop(wc->pl, &item, WEFT_FOREVER)) == 1)
		wc->count++;
	if (rc)
		wc->errors++;
	return NULL;
}

Test(pipeline, pop_on_a_worker_helps)
{
	enum { N = 200 };
	weft_pool *p = make_pool(1);
	weft_pipeline *pl = make_pipeline(p, 4, 0);
	struct stage s;
	stage_init(&s);
	add_stage(pl, &s, 0, 0);
	struct worker_consumer wc = {.pl = pl};
	weft_future *f;
	cr_assert_eq(weft_submit(p, worker_consumer_fn, &wc, &f), 0);
	for (int i = 0; i < N; i++)
		cr_assert_eq(weft_pipeline_push(pl, V(i), 10000 * MS), 0,
			     "push %d waited 10 s", i);
	weft_pipeline_close(pl);
	cr_expect_eq(weft_future_wait(f, 10000 * MS), 0);
	cr_expect_eq(wc.count, N);
	cr_expect_eq(wc.errors, 0);
	weft_future_release(f);
	cr_expect_eq(weft_pipeline_destroy(pl), 0);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/*
 * destroy at any point, without leak (ASan) or hang.
 */
Test(pipeline, destroy_before_any_push)
{
	weft_pool *p = make_pool(1);
	weft_pipeline *pl = make_pipeline(p, 4, 0);
	cr_expect_eq(weft_pipeline_destroy(pl), 0);
	pl = make_pipeline(p, 4, WEFT_PIPELINE_ORDERED);
	struct stage s;
	stage_init(&s);
	cr_assert_eq(weft_pipeline_stage(pl, "named", stage_fn, &s, 2,
					 WEFT_STAGE_ORDERED),
		     0);
	add_stage(pl, &s, 0, 0);
	cr_expect_eq(weft_pipeline_destroy(pl), 0);
	pl = make_pipeline(p, 4, 0);
	add_stage(pl, &s, 0, 0);
	weft_pipeline_close(pl);
	cr_expect_eq(weft_pipeline_destroy(pl), 0);
	cr_expect_eq(atomic_load(&s.calls), 0);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(pipeline, destroy_with_items_waiting_to_be_popped)
{
	weft_pool *p = make_pool(2);
	for (unsigned flags = 0; flags < 2; flags++) {
		weft_pipeline *pl = make_pipeline(p, 16, flags);
		struct stage s;
		stage_init(&s);
		add_stage(pl, &s, 0, 0);
		for (int i = 0; i < 10; i++)
			cr_assert_eq(weft_pipeline_push(pl, V(i), 0), 0);
		wait_calls(&s, 10);
		void *item;
		cr_expect_eq(pop10(pl, &item), 1);
		cr_expect_eq(weft_pipeline_destroy(pl), 0);
	}
	cr_assert_eq(weft_pool_destroy(p), 0);
}

struct destroyer {
	weft_pipeline *pl;
	atomic_int done;
	int rc;
	pthread_t t;
};

static void *destroyer_main(void *arg)
{
	struct destroyer *d = arg;
	d->rc = weft_pipeline_destroy(d->pl);
	atomic_store(&d->done, 1);
	return NULL;
}

Test(pipeline, destroy_waits_for_running_stage_functions)
{
	weft_pool *p = make_pool(4);
	weft_pipeline *pl = make_pipeline(p, 32, WEFT_PIPELINE_ORDERED);
	struct gate g = {0};
	struct stage s[3];
	for (int i = 0; i < 3; i++)
		stage_init(&s[i]);
	s[0].gate = &g;
	add_stage(pl, &s[0], 2, 0);                  /* 2 run, the rest wait */
	add_stage(pl, &s[1], 0, WEFT_STAGE_ORDERED);
	add_stage(pl, &s[2], 0, 0);
	for (int i = 0; i < 12; i++)
		cr_assert_eq(weft_pipeline_push(pl, V(i), 0), 0);
	wait_calls(&s[0], 2);
	struct destroyer d = {.pl = pl, .rc = 1};
	atomic_init(&d.done, 0);
	cr_assert_eq(pthread_create(&d.t, NULL, destroyer_main, &d), 0);
	sleep_ms(50);
	cr_expect_eq(atomic_load(&d.done), 0,
		     "destroy returned while a stage function ran");
	gate_open(&g);
	pthread_join(d.t, NULL);
	cr_expect_eq(d.rc, 0);
	/* Once destroy returned, no stage function runs or starts. */
	int c0 = atomic_load(&s[0].calls), c1 = atomic_load(&s[1].calls),
	    c2 = atomic_load(&s[2].calls);
	for (int i = 0; i < 3; i++)
		cr_expect_eq(atomic_load(&s[i].active), 0);
	sleep_ms(30);
	cr_expect_eq(atomic_load(&s[0].calls), c0);
	cr_expect_eq(atomic_load(&s[1].calls), c1);
	cr_expect_eq(atomic_load(&s[2].calls), c2);
	cr_expect_leq(c0, 12);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(pipeline, destroy_at_random_points_while_busy)
{
	weft_pool *p = make_pool(3);
	for (int round = 0; round < 40; round++) {
		weft_pipeline *pl = make_pipeline(p, 8 + round % 5,
						  round % 2 ?
							  WEFT_PIPELINE_ORDERED :
							  0);
		struct stage s[3];
		for (int i = 0; i < 3; i++) {
			stage_init(&s[i]);
			s[i].delay_us = 50 * (i + 1);
			s[i].vary_delay = true;
			s[i].fail_mod = i == 1 ? 7 : 0;
			s[i].fail_code = EIO;
		}
		add_stage(pl, &s[0], round % 3, 0);
		add_stage(pl, &s[1], 1, round % 4 == 0 ? WEFT_STAGE_ORDERED : 0);
		add_stage(pl, &s[2], 0, round % 3 == 0 ? WEFT_STAGE_ORDERED : 0);
		int pushes = round % 8;
		for (int i = 0; i < pushes; i++)
			cr_assert_eq(weft_pipeline_push(pl, V(i + 1), 0), 0);
		void *item;
		if (round % 5 == 0 && pushes)
			pop10(pl, &item);
		if (round % 6 == 0)
			weft_pipeline_close(pl);
		sleep_us(round * 37 % 400);
		cr_expect_eq(weft_pipeline_destroy(pl), 0);
		for (int i = 0; i < 3; i++)
			cr_expect_eq(atomic_load(&s[i].active), 0);
	}
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/* destroy on the only worker, with item tasks queued behind it on that
 * worker: it runs them while it waits instead of deadlocking. */
struct late_destroy {
	weft_pipeline *pl;
	struct gate *go;
	int rc;
};

static void *late_destroy_fn(void *arg)
{
	struct late_destroy *ld = arg;
	gate_wait(ld->go);
	ld->rc = weft_pipeline_destroy(ld->pl);
	return NULL;
}

Test(pipeline, destroy_on_the_only_worker)
{
	weft_pool *p = make_pool(1);
	weft_pipeline *pl = make_pipeline(p, 16, WEFT_PIPELINE_ORDERED);
	struct stage s[2];
	stage_init(&s[0]);
	stage_init(&s[1]);
	add_stage(pl, &s[0], 1, 0);
	add_stage(pl, &s[1], 0, WEFT_STAGE_ORDERED);
	struct gate go = {0};
	struct late_destroy ld = {.pl = pl, .go = &go, .rc = 1};
	weft_future *f;
	cr_assert_eq(weft_submit(p, late_destroy_fn, &ld, &f), 0);
	while (weft_future_state(f) != WEFT_RUNNING)
		sleep_us(50);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(weft_pipeline_push(pl, V(i), 0), 0);
	gate_open(&go);
	cr_expect_eq(weft_future_wait(f, 10000 * MS), 0,
		     "destroy on the only worker deadlocked");
	cr_expect_eq(ld.rc, 0);
	weft_future_release(f);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(pipeline, destroy_from_inside_a_stage_is_edeadlk)
{
	weft_pool *p = make_pool(2);
	weft_pipeline *pl = make_pipeline(p, 4, 0);
	struct stage s[2];
	stage_init(&s[0]);
	stage_init(&s[1]);
	s[0].destroy_me = pl;
	s[1].add = 5;
	add_stage(pl, &s[0], 0, 0);
	add_stage(pl, &s[1], 0, 0);
	cr_assert_eq(weft_pipeline_push(pl, V(1), WEFT_FOREVER), 0);
	void *item;
	cr_expect_eq(pop10(pl, &item), 1);
	cr_expect_eq(item, V(6), "the pipeline broke after -EDEADLK");
	cr_expect_eq(atomic_load(&s[0].destroy_rc), -EDEADLK);
	s[0].destroy_me = NULL;
	cr_expect_eq(weft_pipeline_destroy(pl), 0);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(pipeline, push_after_pool_shutdown)
{
	weft_pool *p = make_pool(1);
	weft_pipeline *pl = make_pipeline(p, 4, 0);
	struct stage s;
	stage_init(&s);
	add_stage(pl, &s, 0, 0);
	cr_assert_eq(weft_pipeline_push(pl, V(1), 0), 0);
	void *item;
	cr_expect_eq(pop10(pl, &item), 1);
	cr_assert_eq(weft_pool_shutdown(p, 0), 0);
	cr_expect_eq(weft_pipeline_push(pl, V(2), 0), -ESHUTDOWN);
	weft_pipeline_close(pl);
	cr_expect_eq(pop10(pl, &item), 0);
	cr_expect_eq(weft_pipeline_destroy(pl), 0);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/* The pool cancels the pipeline's pending tasks: every item still comes
 * out once (done, or -ECANCELED), and pop ends. */
Test(pipeline, pool_cancel_pending_drains)
{
	weft_pool *p = make_pool(1);
	struct gate g = {0};
	struct job hold = {.gate = &g};
	weft_future *hf = submit_job(p, &hold);
	await_started(&hold);
	weft_pipeline *pl = make_pipeline(p, 16, WEFT_PIPELINE_ORDERED);
	struct stage s[2];
	stage_init(&s[0]);
	stage_init(&s[1]);
	add_stage(pl, &s[0], 1, 0);
	add_stage(pl, &s[1], 0, WEFT_STAGE_ORDERED);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(weft_pipeline_push(pl, V(i), 0), 0);
	cr_assert_eq(weft_pool_shutdown(p, WEFT_SHUTDOWN_CANCEL_PENDING), 0);
	gate_open(&g);
	weft_pipeline_close(pl);
	int out = 0, rc;
	void *item;
	intptr_t last = -1;
	while ((rc = pop10(pl, &item)) != 0) {
		cr_expect(rc == 1 || rc == -ECANCELED, "pop returned %d", rc);
		cr_expect_gt(N_OF(item), last);
		last = N_OF(item);
		out++;
	}
	cr_expect_eq(out, 10);
	cr_expect_eq(weft_pipeline_destroy(pl), 0);
	weft_future_release(hf);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/* A push waiting for space fails with -ESHUTDOWN when the pool cancels the
 * pipeline's work: nobody would ever make space by popping work that is
 * cancelled anyway. */
Test(pipeline, pool_cancel_pending_fails_a_waiting_push)
{
	weft_pool *p = make_pool(1);
	struct gate g = {0};
	struct job hold = {.gate = &g};
	weft_future *hf = submit_job(p, &hold);
	await_started(&hold);
	weft_pipeline *pl = make_pipeline(p, 1, 0);
	struct stage s;
	stage_init(&s);
	add_stage(pl, &s, 0, 0);
	cr_assert_eq(weft_pipeline_push(pl, V(1), 0), 0);
	struct pusher pu;
	start_pusher(&pu, pl, V(2), WEFT_FOREVER);
	sleep_ms(30);
	cr_expect_eq(atomic_load(&pu.done), 0, "push did not wait for space");
	cr_assert_eq(weft_pool_shutdown(p, WEFT_SHUTDOWN_CANCEL_PENDING), 0);
	pthread_join(pu.t, NULL);
	cr_expect_eq(pu.rc, -ESHUTDOWN);
	gate_open(&g);
	weft_pipeline_close(pl);
	void *item;
	cr_expect_eq(pop10(pl, &item), -ECANCELED);
	cr_expect_eq(N_OF(item), 1);
	cr_expect_eq(pop10(pl, &item), 0);
	cr_expect_eq(atomic_load(&s.calls), 0);
	cr_expect_eq(weft_pipeline_destroy(pl), 0);
	weft_future_release(hf);
	cr_assert_eq(weft_pool_destroy(p), 0);
}
