/*
 * Pools: configuration, creation errors, worker threads (names, hooks,
 * identity), several pools at once, destruction, statistics, strerror.
 */
#include <dirent.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

TestSuite(pool, .fini = unit_leak_check);

Test(pool, config_init_defaults)
{
	weft_config cfg;
	memset(&cfg, 0xA5, sizeof(cfg));
	weft_config_init(&cfg);
	cr_assert_eq(cfg.size, sizeof(weft_config));
	cr_assert_eq(cfg.workers, 0);
	cr_assert_not_null(cfg.name);
	cr_assert_str_eq(cfg.name, "weft");
	cr_assert_eq(cfg.spin_ns, 50000, "default spin is 50 us, got %lld",
		     (long long)cfg.spin_ns);
	cr_assert_eq(cfg.pin, false);
	cr_assert_null(cfg.on_worker_start);
	cr_assert_null(cfg.on_worker_stop);
	cr_assert_null(cfg.hook_ctx);
}

Test(pool, create_null_out)
{
	weft_config cfg;
	weft_config_init(&cfg);
	cr_assert_eq(weft_pool_create(NULL, &cfg), -EINVAL);
	cr_assert_eq(weft_pool_create(NULL, NULL), -EINVAL);
}

static void expect_create_einval(const weft_config *cfg, const char *what)
{
	weft_pool *sentinel = (weft_pool *)(uintptr_t)0x1234;
	weft_pool *p = sentinel;
	cr_expect_eq(weft_pool_create(&p, cfg), -EINVAL, "%s", what);
	cr_expect_eq(p, sentinel, "%s: *out must stay untouched", what);
}

Test(pool, create_bad_size)
{
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.size = 0;
	expect_create_einval(&cfg, "size 0");
	cfg.size = sizeof(cfg) - 1;
	expect_create_einval(&cfg, "size one byte short");
	cfg.size = offsetof(weft_config, hook_ctx);
	expect_create_einval(&cfg, "size of an older, smaller struct");
}

Test(pool, create_too_many_workers)
{
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = WEFT_MAX_WORKERS + 1;
	expect_create_einval(&cfg, "WEFT_MAX_WORKERS + 1");
	cfg.workers = UINT_MAX;
	expect_create_einval(&cfg, "UINT_MAX workers");
}

Test(pool, create_spin_too_large)
{
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.spin_ns = INT64_MAX;
	expect_create_einval(&cfg, "spin_ns INT64_MAX");
	cfg.spin_ns = (int64_t)3600 * 1000000000;
	expect_create_einval(&cfg, "spin_ns one hour");
}

Test(pool, create_negative_spin_is_default)
{
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = 1;
	cfg.spin_ns = -1;
	weft_pool *p = NULL;
	cr_assert_eq(weft_pool_create(&p, &cfg), 0);
	_Atomic int n = 0;
	weft_future *f;
	cr_assert_eq(weft_submit(p, unit_count_task, &n, &f), 0);
	cr_assert_eq(weft_future_get(f, NULL), 0);
	weft_future_release(f);
	cr_assert_eq(weft_pool_destroy(p), 0);
	cr_assert_eq(n, 1);
}

static unsigned cpu_count(void)
{
	cpu_set_t set;
	cr_assert_eq(sched_getaffinity(0, sizeof(set), &set), 0);
	return (unsigned)CPU_COUNT(&set);
}

Test(pool, default_workers_is_cpu_count)
{
	weft_pool *p = NULL;
	cr_assert_eq(weft_pool_create(&p, NULL), 0);
	cr_expect_eq(weft_pool_workers(p), cpu_count());
	cr_assert_eq(weft_pool_destroy(p), 0);

	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = 0;
	cr_assert_eq(weft_pool_create(&p, &cfg), 0);
	cr_expect_eq(weft_pool_workers(p), cpu_count());
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(pool, explicit_worker_count)
{
	weft_pool *p = unit_pool(3);
	cr_expect_eq(weft_pool_workers(p), 3);
	cr_assert_eq(weft_pool_destroy(p), 0);
	p = unit_pool(1);
	cr_expect_eq(weft_pool_workers(p), 1);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

Test(pool, workers_of_null)
{
	cr_assert_eq(weft_pool_workers(NULL), 0);
}

/*
 * Stealing.
 */

struct pusher {
	weft_pool *pool;
	_Atomic int ran;
	int tiny;
};

static void *tiny_task(void *arg)
{
	struct pusher *s = arg;
	atomic_fetch_add(&s->ran, 1);
	return NULL;
}

/* Pushes tiny tasks onto its worker's deque, then blocks outside weft
 * (no helping) until they have all run: only the other worker can run
 * them, by stealing them. */
static void *push_then_block(void *arg)
{
	struct pusher *s = arg;
	for (int i = 0; i < s->tiny; i++)
		if (weft_submit(s->pool, tiny_task, s, NULL))
			return weft_fail(ENOMEM);
	while (atomic_load(&s->ran) < s->tiny)
		sched_yield();
	return NULL;
}

/* A thief that takes many tiny tasks in a row from one worker leaves it
 * alone for a while (worker.c, run_stolen): it must still come back, or
 * tasks behind a worker that blocks outside weft would never run. */
Test(pool, tiny_tasks_behind_a_blocked_worker_run, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(2);
	struct pusher s = {.pool = p, .tiny = 5000};
	weft_future *f;
	cr_assert_eq(weft_submit(p, push_then_block, &s, &f), 0);
	cr_assert_eq(weft_future_get(f, NULL), 0);
	cr_expect_eq(atomic_load(&s.ran), s.tiny);
	weft_stats st;
	cr_assert_eq(weft_pool_stats(p, &st), 0);
	cr_expect_geq(st.stolen, (uint64_t)s.tiny, "stolen %llu",
		      (unsigned long long)st.stolen);
	weft_future_release(f);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/*
 * Worker threads: names, hooks, identity.
 */

#define HOOK_MAX 8

struct hook_log {
	_Atomic int starts[HOOK_MAX], stops[HOOK_MAX];
	_Atomic int bad_index;
	char names[HOOK_MAX][16];
	pthread_t start_thread[HOOK_MAX], stop_thread[HOOK_MAX];
	int index_in_start[HOOK_MAX], index_in_stop[HOOK_MAX];
	weft_pool *pool_in_start[HOOK_MAX];
};

static void on_start(unsigned i, void *ctx)
{
	struct hook_log *log = ctx;
	if (i >= HOOK_MAX) {
		atomic_fetch_add(&log->bad_index, 1);
		return;
	}
	pthread_getname_np(pthread_self(), log->names[i],
			   sizeof(log->names[i]));
	log->start_thread[i] = pthread_self();
	log->index_in_start[i] = weft_worker_index();
	log->pool_in_start[i] = weft_current_pool();
	atomic_fetch_add(&log->starts[i], 1);
}

static void on_stop(unsigned i, void *ctx)
{
	struct hook_log *log = ctx;
	if (i >= HOOK_MAX) {
		atomic_fetch_add(&log->bad_index, 1);
		return;
	}
	log->stop_thread[i] = pthread_self();
	log->index_in_stop[i] = weft_worker_index();
	atomic_fetch_add(&log->stops[i], 1);
}

static weft_pool *hooked_pool(unsigned n, const char *name,
			      struct hook_log *log)
{
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = n;
	cfg.name = name;
	cfg.on_worker_start = on_start;
	cfg.on_worker_stop = on_stop;
	cfg.hook_ctx = log;
	weft_pool *p = NULL;
	cr_assert_eq(weft_pool_create(&p, &cfg), 0);
	return p;
}

static void wait_started(struct hook_log *log, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		cr_assert(unit_wait_for(&log->starts[i], 1),
			  "worker %u never started", i);
}

Test(pool, hooks_once_per_worker, .timeout = UNIT_TIMEOUT)
{
	static struct hook_log log;
	weft_pool *p = hooked_pool(4, NULL, &log);
	wait_started(&log, 4);
	cr_assert_eq(weft_pool_destroy(p), 0);
	/* destroy joined the workers: every stop hook has run. */
	cr_expect_eq(log.bad_index, 0);
	for (unsigned i = 0; i < 4; i++) {
		cr_expect_eq(log.starts[i], 1, "start hook of worker %u", i);
		cr_expect_eq(log.stops[i], 1, "stop hook of worker %u", i);
		cr_expect_eq(log.index_in_start[i], (int)i);
		cr_expect_eq(log.index_in_stop[i], (int)i);
		cr_expect_eq(log.pool_in_start[i], p);
		cr_expect(pthread_equal(log.start_thread[i],
					log.stop_thread[i]),
			  "worker %u: hooks on different threads", i);
		for (unsigned j = 0; j < i; j++)
			cr_expect(!pthread_equal(log.start_thread[i],
						 log.start_thread[j]),
				  "workers %u and %u share a thread", j, i);
	}
	for (unsigned i = 4; i < HOOK_MAX; i++)
		cr_expect_eq(log.starts[i] + log.stops[i], 0);
}

/* Counts the threads of this process whose name is in want[0..n). */
static unsigned count_named_threads(const char *const *want, unsigned n,
				    bool *seen)
{
	DIR *d = opendir("/proc/self/task");
	cr_assert_not_null(d);
	struct dirent *e;
	unsigned found = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[300], comm[32] = "";
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm",
			 e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = 0;
		fclose(f);
		for (unsigned i = 0; i < n; i++)
			if (!strcmp(comm, want[i])) {
				seen[i] = true;
				found++;
			}
	}
	closedir(d);
	return found;
}

Test(pool, thread_names, .timeout = UNIT_TIMEOUT)
{
	static struct hook_log log;
	weft_pool *p = hooked_pool(3, "tpool", &log);
	wait_started(&log, 3);
	const char *want[] = {"tpool-0", "tpool-1", "tpool-2"};
	for (unsigned i = 0; i < 3; i++)
		cr_expect_str_eq(log.names[i], want[i]);
	bool seen[3] = {false, false, false};
	cr_expect_eq(count_named_threads(want, 3, seen), 3);
	for (unsigned i = 0; i < 3; i++)
		cr_expect(seen[i], "/proc/self/task has no thread %s", want[i]);
	cr_assert_eq(weft_pool_destroy(p), 0);
	cr_expect_eq(count_named_threads(want, 3, seen), 0,
		     "worker threads outlived destroy");
}

Test(pool, thread_names_default_and_truncated, .timeout = UNIT_TIMEOUT)
{
	static struct hook_log log1, log2, log3;
	weft_pool *p = hooked_pool(2, NULL, &log1);
	wait_started(&log1, 2);
	cr_expect_str_eq(log1.names[0], "weft-0");
	cr_expect_str_eq(log1.names[1], "weft-1");
	cr_assert_eq(weft_pool_destroy(p), 0);

	p = hooked_pool(1, "", &log2);
	wait_started(&log2, 1);
	cr_expect_str_eq(log2.names[0], "weft-0");
	cr_assert_eq(weft_pool_destroy(p), 0);

	/* At most 10 bytes of the prefix are used; the name is copied. */
	char name[] = "abcdefghijklmnopqrstuvwxyz";
	p = hooked_pool(1, name, &log3);
	memset(name, 'X', sizeof(name) - 1);
	wait_started(&log3, 1);
	cr_expect_str_eq(log3.names[0], "abcdefghij-0");
	cr_assert_eq(weft_pool_destroy(p), 0);
}

struct whoami {
	weft_pool *pool;
	int index;
	unsigned workers;
};

static void *whoami_task(void *arg)
{
	struct whoami *w = arg;
	w->pool = weft_current_pool();
	w->index = weft_worker_index();
	w->workers = weft_pool_workers(w->pool);
	return arg;
}

Test(pool, worker_identity, .timeout = UNIT_TIMEOUT)
{
	cr_expect_eq(weft_worker_index(), -1);
	cr_expect_null(weft_current_pool());
	weft_pool *p = unit_pool(2);
	cr_expect_eq(weft_worker_index(), -1);
	cr_expect_null(weft_current_pool());
	struct whoami w[16];
	weft_future *f[16];
	for (int i = 0; i < 16; i++) {
		w[i].index = -2;
		cr_assert_eq(weft_submit(p, whoami_task, &w[i], &f[i]), 0);
	}
	for (int i = 0; i < 16; i++) {
		cr_assert_eq(weft_future_get(f[i], NULL), 0);
		cr_expect_eq(w[i].pool, p);
		cr_expect(w[i].index >= 0 && w[i].index < 2, "index %d",
			  w[i].index);
		cr_expect_eq(w[i].workers, 2);
		weft_future_release(f[i]);
	}
	cr_assert_eq(weft_pool_destroy(p), 0);
	cr_expect_eq(weft_worker_index(), -1);
	cr_expect_null(weft_current_pool());
}

/* Runs in pool a, submits to pool b and waits: the worker of a must see
 * itself as a's and the task in b must see b. */
struct cross {
	weft_pool *b;
	struct whoami inner;
	struct whoami outer_before, outer_after;
	int rc;
};

static void *cross_task(void *arg)
{
	struct cross *c = arg;
	whoami_task(&c->outer_before);
	weft_future *f;
	c->rc = weft_submit(c->b, whoami_task, &c->inner, &f);
	if (c->rc)
		return NULL;
	c->rc = weft_future_get(f, NULL);
	weft_future_release(f);
	whoami_task(&c->outer_after);
	return c;
}

Test(pool, several_pools, .timeout = UNIT_TIMEOUT)
{
	weft_pool *a = unit_pool(1), *b = unit_pool(2), *c = unit_pool(3);
	cr_expect_neq(a, b);
	cr_expect_neq(b, c);
	cr_expect_eq(weft_pool_workers(a), 1);
	cr_expect_eq(weft_pool_workers(b), 2);
	cr_expect_eq(weft_pool_workers(c), 3);

	weft_pool *pools[3] = {a, b, c};
	struct whoami w[3][8];
	weft_future *f[3][8];
	for (int k = 0; k < 3; k++)
		for (int i = 0; i < 8; i++)
			cr_assert_eq(weft_submit(pools[k], whoami_task,
						 &w[k][i], &f[k][i]),
				     0);
	for (int k = 0; k < 3; k++)
		for (int i = 0; i < 8; i++) {
			cr_assert_eq(weft_future_get(f[k][i], NULL), 0);
			cr_expect_eq(w[k][i].pool, pools[k]);
			cr_expect(w[k][i].index >= 0 &&
				  (unsigned)w[k][i].index <
					  weft_pool_workers(pools[k]));
			weft_future_release(f[k][i]);
		}

	struct cross x = {.b = c};
	weft_future *xf;
	cr_assert_eq(weft_submit(a, cross_task, &x, &xf), 0);
	void *r;
	cr_assert_eq(weft_future_get(xf, &r), 0);
	cr_expect_eq(r, &x);
	cr_expect_eq(x.rc, 0);
	cr_expect_eq(x.outer_before.pool, a);
	cr_expect_eq(x.outer_after.pool, a);
	cr_expect_eq(x.outer_after.index, 0);
	cr_expect_eq(x.inner.pool, c);
	weft_future_release(xf);

	/* Destroying one pool leaves the others working. */
	cr_assert_eq(weft_pool_destroy(b), 0);
	_Atomic int n = 0;
	cr_assert_eq(weft_submit(a, unit_count_task, &n, &f[0][0]), 0);
	cr_assert_eq(weft_submit(c, unit_count_task, &n, &f[0][1]), 0);
	cr_expect_eq(weft_future_get(f[0][0], NULL), 0);
	cr_expect_eq(weft_future_get(f[0][1], NULL), 0);
	cr_expect_eq(n, 2);
	weft_future_release(f[0][0]);
	weft_future_release(f[0][1]);
	cr_assert_eq(weft_pool_destroy(a), 0);
	cr_assert_eq(weft_pool_destroy(c), 0);
}

/*
 * Destruction.
 */

Test(pool, destroy_null)
{
	cr_assert_eq(weft_pool_destroy(NULL), 0);
}

static void *destroy_own_pool(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)weft_pool_destroy(weft_current_pool());
}

Test(pool, destroy_from_worker_is_edeadlk, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(2);
	weft_future *f;
	cr_assert_eq(weft_submit(p, destroy_own_pool, NULL, &f), 0);
	void *r;
	cr_assert_eq(weft_future_get(f, &r), 0);
	cr_expect_eq((int)(intptr_t)r, -EDEADLK);
	weft_future_release(f);
	/* Nothing was freed: the pool still works. */
	_Atomic int n = 0;
	cr_assert_eq(weft_submit(p, unit_count_task, &n, &f), 0);
	cr_expect_eq(weft_future_get(f, NULL), 0);
	cr_expect_eq(n, 1);
	weft_future_release(f);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

static void *destroy_other_pool(void *arg)
{
	return (void *)(intptr_t)weft_pool_destroy(arg);
}

Test(pool, destroy_from_other_pools_worker, .timeout = UNIT_TIMEOUT)
{
	weft_pool *a = unit_pool(1), *b = unit_pool(2);
	weft_future *f;
	cr_assert_eq(weft_submit(a, destroy_other_pool, b, &f), 0);
	void *r;
	cr_assert_eq(weft_future_get(f, &r), 0);
	cr_expect_eq((int)(intptr_t)r, 0);
	weft_future_release(f);
	cr_assert_eq(weft_pool_destroy(a), 0);
}

static void *finish_late(void *arg)
{
	unit_sleep_us(20000);
	atomic_store((_Atomic int *)arg, 1);
	return arg;
}

Test(pool, destroy_waits_for_queued_work, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(1);
	_Atomic int late = 0, n = 0;
	cr_assert_eq(weft_submit(p, finish_late, &late, NULL), 0);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(weft_submit(p, unit_count_task, &n, NULL), 0);
	cr_assert_eq(weft_pool_destroy(p), 0);
	cr_expect_eq(late, 1);
	cr_expect_eq(n, 100);
}

/*
 * Futures outlive their pool.
 */

static void *fail_eio(void *arg)
{
	(void)arg;
	return weft_fail(EIO);
}

static void count_cb(weft_future *f, void *ctx)
{
	(void)f;
	atomic_fetch_add((_Atomic int *)ctx, 1);
}

Test(pool, futures_valid_after_destroy, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(1);
	struct unit_gate g = {.result = (void *)(uintptr_t)7};
	weft_future *blocker = unit_block(p, &g);
	weft_future *ok, *bad, *cancelled;
	cr_assert_eq(weft_submit(p, unit_identity, (void *)(uintptr_t)99, &ok),
		     0);
	cr_assert_eq(weft_submit(p, fail_eio, NULL, &bad), 0);
	cr_assert_eq(weft_submit(p, unit_identity, NULL, &cancelled), 0);
	cr_assert(weft_future_cancel(cancelled));
	unit_open(&g);
	cr_assert_eq(weft_pool_destroy(p), 0);

	void *r = NULL;
	cr_expect_eq(weft_future_state(blocker), WEFT_SUCCEEDED);
	cr_expect_eq(weft_future_get(blocker, &r), 0);
	cr_expect_eq(r, (void *)(uintptr_t)7);
	cr_expect_eq(weft_future_state(ok), WEFT_SUCCEEDED);
	cr_expect_eq(weft_future_get(ok, &r), 0);
	cr_expect_eq(r, (void *)(uintptr_t)99);
	cr_expect_eq(weft_future_state(bad), WEFT_FAILED);
	cr_expect_eq(weft_future_get(bad, &r), -EIO);
	cr_expect_eq(weft_future_state(cancelled), WEFT_CANCELLED);
	cr_expect_eq(weft_future_get(cancelled, NULL), -ECANCELED);
	cr_expect(weft_future_done(ok));
	cr_expect_eq(weft_future_wait(ok, 0), 0);
	cr_expect_eq(weft_future_wait(bad, WEFT_FOREVER), 0);
	cr_expect(!weft_future_cancel(ok));
	cr_expect(weft_future_cancel(cancelled));

	/* A callback on a done future runs at once, pool or no pool. */
	_Atomic int calls = 0;
	cr_expect_eq(weft_future_on_done(ok, count_cb, &calls), 0);
	cr_expect_eq(calls, 1);

	weft_future_retain(ok);
	weft_future_release(ok);
	cr_expect_eq(weft_future_get(ok, &r), 0);
	weft_future_release(ok);
	weft_future_release(bad);
	weft_future_release(cancelled);
	weft_future_release(blocker);
}

/*
 * Statistics.
 */

Test(pool, stats_null_args)
{
	weft_stats st;
	cr_assert_eq(weft_pool_stats(NULL, &st), -EINVAL);
	weft_pool *p = unit_pool(1);
	cr_assert_eq(weft_pool_stats(p, NULL), -EINVAL);
	cr_assert_eq(weft_pool_stats(p, &st), 0);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

struct spawner {
	weft_pool *p;
	_Atomic int *count;
	int children;
};

static void *spawn_children(void *arg)
{
	struct spawner *s = arg;
	for (int i = 0; i < s->children; i++)
		if (weft_submit(s->p, unit_count_task, s->count, NULL))
			return weft_fail(EPROTO);
	return NULL;
}

/* 1 worker, deterministic: every counter can be predicted. */
Test(pool, stats_add_up, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(1);
	weft_stats st;
	cr_assert_eq(weft_pool_stats(p, &st), 0);
	cr_expect_eq(st.executed + st.submitted + st.injected + st.cancelled +
			     st.failed + st.stolen,
		     0);

	struct unit_gate g = {0};
	weft_future *blocker = unit_block(p, &g);

	enum { OK = 40, FAIL = 7, CANCEL = 13, CHILDREN = 25 };
	_Atomic int ran = 0, child_ran = 0;
	weft_future *ok[OK], *bad[FAIL], *cancel[CANCEL], *spawner;
	for (int i = 0; i < OK; i++)
		cr_assert_eq(weft_submit(p, unit_count_task, &ran, &ok[i]), 0);
	for (int i = 0; i < FAIL; i++)
		cr_assert_eq(weft_submit(p, fail_eio, NULL, &bad[i]), 0);
	for (int i = 0; i < CANCEL; i++)
		cr_assert_eq(weft_submit(p, unit_count_task, &ran, &cancel[i]),
			     0);
	struct spawner s = {p, &child_ran, CHILDREN};
	cr_assert_eq(weft_submit(p, spawn_children, &s, &spawner), 0);
	for (int i = 0; i < CANCEL; i++)
		cr_assert(weft_future_cancel(cancel[i]));
	unit_open(&g);
	cr_assert_eq(weft_future_get(spawner, NULL), 0);
	cr_assert_eq(weft_pool_shutdown(p, WEFT_SHUTDOWN_WAIT), 0);
	cr_assert_eq(weft_pool_stats(p, &st), 0);

	uint64_t external = 1 + OK + FAIL + CANCEL + 1;
	uint64_t bodies = 1 + OK + FAIL + 1 + CHILDREN;
	cr_expect_eq(ran, OK);
	cr_expect_eq(child_ran, CHILDREN);
	cr_expect_eq(st.injected, external, "injected %llu",
		     (unsigned long long)st.injected);
	cr_expect_eq(st.submitted, external + CHILDREN, "submitted %llu",
		     (unsigned long long)st.submitted);
	cr_expect_eq(st.executed, bodies, "executed %llu",
		     (unsigned long long)st.executed);
	cr_expect_eq(st.failed, FAIL, "failed %llu",
		     (unsigned long long)st.failed);
	cr_expect_eq(st.cancelled, CANCEL, "cancelled %llu",
		     (unsigned long long)st.cancelled);
	cr_expect_eq(st.stolen, 0);
	cr_expect_eq(st.steal_attempts, 0, "one worker has no victim");

	for (int i = 0; i < OK; i++)
		weft_future_release(ok[i]);
	for (int i = 0; i < FAIL; i++)
		weft_future_release(bad[i]);
	for (int i = 0; i < CANCEL; i++)
		weft_future_release(cancel[i]);
	weft_future_release(spawner);
	weft_future_release(blocker);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/* Several workers: the totals still add up, whoever ran what. */
Test(pool, stats_add_up_many_workers, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(3);
	enum { N = 2000, SPAWNERS = 20, CHILDREN = 50 };
	_Atomic int ran = 0;
	struct spawner s = {p, &ran, CHILDREN};
	for (int i = 0; i < N; i++)
		cr_assert_eq(weft_submit(p, i % 10 ? unit_count_task : fail_eio,
					 &ran, NULL),
			     0);
	for (int i = 0; i < SPAWNERS; i++)
		cr_assert_eq(weft_submit(p, spawn_children, &s, NULL), 0);
	cr_assert_eq(weft_pool_shutdown(p, WEFT_SHUTDOWN_WAIT), 0);
	weft_stats st;
	cr_assert_eq(weft_pool_stats(p, &st), 0);
	cr_expect_eq(ran, N - N / 10 + SPAWNERS * CHILDREN);
	cr_expect_eq(st.injected, N + SPAWNERS);
	cr_expect_eq(st.submitted, N + SPAWNERS + SPAWNERS * CHILDREN);
	cr_expect_eq(st.executed, N + SPAWNERS + SPAWNERS * CHILDREN);
	cr_expect_eq(st.failed, N / 10);
	cr_expect_eq(st.cancelled, 0);
	cr_expect_leq(st.stolen, st.steal_attempts);
	cr_expect_leq(st.wakeups, st.parks);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/*
 * weft_strerror.
 */

Test(pool, strerror_names_every_code)
{
	const int codes[] = {0,           -EINVAL,  -ENOMEM, -ESHUTDOWN,
			     -ETIMEDOUT,  -ECANCELED, -EDEADLK, -EPIPE,
			     -EAGAIN};
	const size_t n = sizeof(codes) / sizeof(codes[0]);
	for (size_t i = 0; i < n; i++) {
		const char *s = weft_strerror(codes[i]);
		cr_assert_not_null(s, "code %d", codes[i]);
		cr_expect_gt(strlen(s), 0, "code %d", codes[i]);
		for (size_t j = 0; j < i; j++)
			cr_expect_str_neq(s, weft_strerror(codes[j]),
					  "codes %d and %d share a name",
					  codes[i], codes[j]);
	}
	/* Codes weft does not return, even absurd ones, still get a name. */
	const int others[] = {-EIO, -EPERM, 1, EINVAL, 12345, -12345, INT_MAX,
			      INT_MIN, -INT_MAX};
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		const char *s = weft_strerror(others[i]);
		cr_assert_not_null(s, "code %d", others[i]);
		cr_expect_gt(strlen(s), 0, "code %d", others[i]);
	}
	/* A task's own code comes back as -err from get; it has a name. */
	cr_expect_str_neq(weft_strerror(-EIO), weft_strerror(-EINVAL));
}
