/*
 * weft_wait(ALL_COMPLETED) stress: sets of futures that complete in
 * order, in reverse order, from both ends towards the middle, or at
 * random, while a thread that is not a worker (or, in some rounds, a
 * task on a worker) waits for all of them. A waiter that is not a worker
 * spins for a while and then sleeps on futures it picks from the middle
 * of the pending range, and every future may complete while it picks:
 * the sets are small and the tasks short, so most rounds reach that phase
 * just as the last futures complete.
 *
 * Checked: the wait returns 0 with every future done and every task run
 * exactly once; with a short timeout it returns 0 only with every future
 * done, otherwise -ETIMEDOUT.
 */
#include "harness.h"

#include <weft.h>

#define MAX_SET 96

struct item {
	_Atomic int ran;
	int64_t work_ns;
};

static struct item items[MAX_SET];
static weft_future *fs[MAX_SET];

static void *run_task(void *arg)
{
	struct item *it = arg;
	h_spin_ns(it->work_ns);
	atomic_fetch_add(&it->ran, 1);
	return arg;
}

static void *run_step(weft_future *before, void *arg)
{
	(void)before;
	return run_task(arg);
}

enum order { RANDOM, FORWARD, BACKWARD, BOTH_ENDS, ORDERS };

static const char *const order_names[ORDERS] = {"random", "forward",
						"backward", "both ends"};

static void check_ok(int err, const char *what)
{
	H_CHECK(err == 0, "%s: %d", what, err);
	if (err)
		exit(h_finish());
}

/* A chain over items[from], items[from + step], ... (count of them): the
 * first is a task, each next one a continuation of the one before, so
 * they complete in that order. */
static void submit_chain(weft_pool *p, size_t from, long step, size_t count)
{
	size_t i = from;
	check_ok(weft_submit(p, run_task, &items[i], &fs[i]), "weft_submit");
	for (size_t k = 1; k < count; k++) {
		size_t next = (size_t)((long)i + step);
		check_ok(weft_future_then(fs[i], run_step, &items[next], 0,
					  &fs[next]),
			 "weft_future_then");
		i = next;
	}
}

static void submit_set(weft_pool *p, size_t n, enum order order, h_rng *rng)
{
	for (size_t i = 0; i < n; i++) {
		atomic_store(&items[i].ran, 0);
		/* Up to 3 us each: a set takes about as long as the
		 * waiter's spin, so both of its phases see completions. */
		items[i].work_ns = (int64_t)h_below(rng, 3000);
	}
	switch (order) {
	case RANDOM:
		for (size_t i = 0; i < n; i++)
			check_ok(weft_submit(p, run_task, &items[i], &fs[i]),
				 "weft_submit");
		break;
	case FORWARD:
		submit_chain(p, 0, 1, n);
		break;
	case BACKWARD:
		submit_chain(p, n - 1, -1, n);
		break;
	case BOTH_ENDS:
		submit_chain(p, 0, 1, (n + 1) / 2);
		if (n > 1)
			submit_chain(p, n - 1, -1, n / 2);
		break;
	default:
		break;
	}
}

/* The checks after a wait that returned err. */
static void check_set(size_t n, int err, bool timed)
{
	size_t done = 0;
	for (size_t i = 0; i < n; i++)
		done += weft_future_done(fs[i]);
	if (err == 0)
		H_CHECK(done == n, "wait returned 0 with %zu of %zu done", done,
			n);
	else
		H_CHECK(timed && err == -ETIMEDOUT,
			"wait returned %d (timeout %s)", err,
			timed ? "set" : "none");
}

struct nested {
	size_t n;
	int err;
};

/* A task that waits for the set from a worker. */
static void *wait_on_worker(void *arg)
{
	struct nested *w = arg;
	w->err = weft_wait(fs, w->n, WEFT_ALL_COMPLETED, WEFT_FOREVER);
	return NULL;
}

static void run_round(weft_pool *p, h_rng *rng, int round)
{
	size_t n = 1 + (size_t)h_below(rng, MAX_SET);
	enum order order = (enum order)h_below(rng, ORDERS);
	unsigned how = (unsigned)h_below(rng, 8);
	h_phase(order_names[order], round);
	submit_set(p, n, order, rng);
	if (how == 0) {
		/* From a worker: it helps instead of sleeping. */
		struct nested w = {n, -1};
		weft_future *f;
		check_ok(weft_submit(p, wait_on_worker, &w, &f), "weft_submit");
		check_ok(weft_future_wait(f, WEFT_FOREVER), "weft_future_wait");
		weft_future_release(f);
		check_set(n, w.err, false);
	} else if (how == 1) {
		/* A timeout that usually passes before the set is done. */
		int err = weft_wait(fs, n, WEFT_ALL_COMPLETED,
				    (int64_t)h_below(rng, 20000));
		check_set(n, err, true);
		check_ok(weft_wait(fs, n, WEFT_ALL_COMPLETED, WEFT_FOREVER),
			 "weft_wait");
	} else {
		int err = weft_wait(fs, n, WEFT_ALL_COMPLETED, WEFT_FOREVER);
		check_set(n, err, false);
	}
	size_t wrong = 0;
	for (size_t i = 0; i < n; i++)
		wrong += atomic_load(&items[i].ran) != 1;
	H_CHECK(wrong == 0, "round %d (%s, %zu futures): %zu tasks not run "
		"exactly once", round, order_names[order], n, wrong);
	for (size_t i = 0; i < n; i++)
		weft_future_release(fs[i]);
}

int main(void)
{
	h_init("stress_many_wait_all");
	int rounds = (int)h_scaled(H_TSAN ? 1500 : 20000, 10);
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = 2;
	weft_pool *p;
	check_ok(weft_pool_create(&p, &cfg), "weft_pool_create");
	h_rng rng = h_rng_make(h.seed, 0);
	int64_t t0 = h_now_ns();
	for (int r = 0; r < rounds; r++)
		run_round(p, &rng, r);
	check_ok(weft_pool_destroy(p), "weft_pool_destroy");
	printf("%d rounds, %.2f s\n", rounds,
	       (double)(h_now_ns() - t0) / 1e9);
	return h_finish();
}
