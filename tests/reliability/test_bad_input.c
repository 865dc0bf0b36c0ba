/*
 * Bad input for every public function, in one table: NULL pointers, zero
 * and out-of-range sizes, flags and timeouts, each with the error weft.h
 * documents (and no effect). Then the cases a server meets at run time:
 * waiting on one's own future from inside its task (every waiting call),
 * shutdown and destroy from callbacks, and every call on a pool after
 * shutdown. The tests in tests/runtime and tests/many check many of these
 * one by one; this file is the complete list.
 */
#include <limits.h>
#include <string.h>

#include "unit.h"

TestSuite(bad_input, .fini = unit_leak_check);

/* What the table's calls work on: a one-worker pool held by a gate, a
 * done future, a pending one (behind the gate), a pipeline and an
 * iterator; and a free pool for pipelines that must run their items. */
static struct {
	weft_pool *p, *free;
	weft_future *done, *pending, *nopool;
	struct unit_gate gate;
	weft_future *gate_f;
	weft_pipeline *pl;
	weft_as_completed *it;
} E;

static void *twice(void *arg)
{
	return (void *)((uintptr_t)arg * 2);
}

static void *then_fn(weft_future *a, void *ctx)
{
	(void)a;
	return ctx;
}

static void *stage_fn(void *item, void *ctx)
{
	(void)ctx;
	return item;
}

static void cb_fn(weft_future *f, void *ctx)
{
	(void)f;
	atomic_fetch_add((_Atomic int *)ctx, 1);
}

static void env_up(void)
{
	memset(&E, 0, sizeof(E));
	E.p = unit_pool(1);
	E.free = unit_pool(1);
	cr_assert_eq(weft_submit(E.p, twice, (void *)1, &E.done), 0);
	cr_assert_eq(weft_future_wait(E.done, WEFT_FOREVER), 0);
	E.gate_f = unit_block(E.p, &E.gate);
	cr_assert_eq(weft_submit(E.p, twice, (void *)2, &E.pending), 0);
	/* when_all of nothing: done, and no pool. */
	cr_assert_eq(weft_when_all(NULL, 0, &E.nopool), 0);
	cr_assert_eq(weft_pipeline_create(E.p, 4, 0, &E.pl), 0);
	cr_assert_eq(weft_as_completed_create(&E.done, 1, 0, &E.it), 0);
}

static void env_down(void)
{
	weft_as_completed_destroy(E.it);
	unit_open(&E.gate);
	cr_assert_eq(weft_pipeline_destroy(E.pl), 0);
	cr_assert_eq(weft_future_get(E.pending, NULL), 0);
	weft_future_release(E.pending);
	weft_future_release(E.gate_f);
	weft_future_release(E.done);
	weft_future_release(E.nopool);
	cr_assert_eq(weft_pool_destroy(E.p), 0);
	cr_assert_eq(weft_pool_destroy(E.free), 0);
}

/* One row: a call with bad input and the code it must return. */
struct row {
	const char *call;
	int want;
};

static weft_future *const null_entry[2] = {NULL, NULL};
#define FS (&E.done)
#define BADT ((int64_t)-2)
static weft_pool *const POOL_SENTINEL = (weft_pool *)(uintptr_t)0x7001;

/* weft_pool_create with one field of the configuration changed. */
enum cfg_field { CFG_SIZE, CFG_WORKERS, CFG_SPIN };
static int create_with(enum cfg_field field, int64_t v)
{
	weft_config cfg;
	weft_config_init(&cfg);
	if (field == CFG_SIZE)
		cfg.size = (size_t)v;
	else if (field == CFG_WORKERS)
		cfg.workers = (unsigned)v;
	else
		cfg.spin_ns = v;
	weft_pool *p = POOL_SENTINEL;
	int rc = weft_pool_create(&p, &cfg);
	if (rc == 0)
		weft_pool_destroy(p);
	return rc;
}

static int stats_null(void)
{
	weft_stats st;
	return weft_pool_stats(NULL, &st);
}

static int pipeline_create_into(weft_pool *p, size_t cap, unsigned flags)
{
	weft_pipeline *pl = NULL;
	int rc = weft_pipeline_create(p, cap, flags, &pl);
	if (rc == 0)
		weft_pipeline_destroy(pl);
	return rc;
}

/* A pipeline that already took an item, or is closed: stage is -EBUSY. */
static int stage_after(bool push)
{
	weft_pipeline *pl;
	if (weft_pipeline_create(E.free, 2, 0, &pl))
		return 1;
	int rc = push ? weft_pipeline_push(pl, NULL, 0) :
			weft_pipeline_close(pl);
	if (rc == 0)
		rc = weft_pipeline_stage(pl, "late", stage_fn, NULL, 0, 0);
	weft_pipeline_destroy(pl);
	return rc;
}

/* push on a closed pipeline is -EPIPE; on a full one -ETIMEDOUT. */
static int push_when(bool closed)
{
	weft_pipeline *pl;
	if (weft_pipeline_create(E.free, 1, 0, &pl))
		return 1;
	int rc = closed ? weft_pipeline_close(pl) :
			  weft_pipeline_push(pl, NULL, 0);
	if (rc == 0)
		rc = weft_pipeline_push(pl, NULL, closed ? WEFT_FOREVER : 0);
	weft_pipeline_destroy(pl);
	return rc;
}

static int as_completed_into(weft_future *const *fs, size_t n, int64_t t,
			     bool out)
{
	weft_as_completed *it = NULL;
	int rc = weft_as_completed_create(fs, n, t, out ? &it : NULL);
	weft_as_completed_destroy(it);
	return rc;
}

static int join_into(bool any, weft_future *const *fs, size_t n, bool out)
{
	weft_future *o = NULL;
	int rc = any ? weft_when_any(fs, n, out ? &o : NULL) :
		       weft_when_all(fs, n, out ? &o : NULL);
	weft_future_release(o);
	return rc;
}

static int then_with(weft_future *f, weft_then_fn fn, unsigned flags)
{
	weft_future *o = NULL;
	int rc = weft_future_then(f, fn, NULL, flags, &o);
	weft_future_release(o);
	return rc;
}

static int map_with(weft_pool *p, weft_fn fn, size_t n, bool out)
{
	weft_future *o[2] = {NULL, NULL};
	int rc = weft_map(p, fn, NULL, n, out ? o : NULL);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		weft_future_wait(o[i], WEFT_FOREVER);
		weft_future_release(o[i]);
	}
	return rc;
}

static _Atomic int cb_calls;
static weft_future *fout;
static void *vout;
static size_t zout;

/* The call, and the code weft.h documents for it. */
#define ROWS(X)                                                               \
	/* Pool */                                                            \
	X(weft_pool_create(NULL, NULL), -EINVAL)                              \
	X(create_with(CFG_SIZE, 0), -EINVAL)                                  \
	X(create_with(CFG_SIZE, sizeof(weft_config) - 1), -EINVAL)            \
	X(create_with(CFG_WORKERS, WEFT_MAX_WORKERS + 1), -EINVAL)            \
	X(create_with(CFG_WORKERS, UINT_MAX), -EINVAL)                        \
	X(create_with(CFG_SPIN, INT64_MAX), -EINVAL)                          \
	X(create_with(CFG_SPIN, -5), 0) /* < 0: the default */                \
	X(create_with(CFG_WORKERS, 1), 0)                                     \
	X(weft_pool_shutdown(NULL, 0), -EINVAL)                               \
	X(weft_pool_shutdown(NULL, WEFT_SHUTDOWN_WAIT), -EINVAL)              \
	X(weft_pool_shutdown(E.p, 4), -EINVAL)                                \
	X(weft_pool_shutdown(E.p, ~0u), -EINVAL)                              \
	X(weft_pool_destroy(NULL), 0)                                         \
	X(stats_null(), -EINVAL)                                              \
	X(weft_pool_stats(E.p, NULL), -EINVAL)                                \
	/* Tasks and futures */                                               \
	X(weft_submit(NULL, twice, NULL, &fout), -EINVAL)                     \
	X(weft_submit(NULL, twice, NULL, NULL), -EINVAL)                      \
	X(weft_submit(E.p, NULL, NULL, &fout), -EINVAL)                       \
	X(weft_future_get(NULL, &vout), -EINVAL)                              \
	X(weft_future_get(NULL, NULL), -EINVAL)                               \
	X(weft_future_wait(NULL, 0), -EINVAL)                                 \
	X(weft_future_wait(E.done, BADT), -EINVAL)                            \
	X(weft_future_wait(E.pending, INT64_MIN), -EINVAL)                    \
	X(weft_future_wait(E.pending, 0), -ETIMEDOUT)                         \
	X(weft_future_wait(E.pending, 1000), -ETIMEDOUT)                      \
	/* Callbacks and continuations */                                     \
	X(weft_future_on_done(NULL, cb_fn, &cb_calls), -EINVAL)               \
	X(weft_future_on_done(E.done, NULL, NULL), -EINVAL)                   \
	X(then_with(NULL, then_fn, 0), -EINVAL)                               \
	X(then_with(E.done, NULL, 0), -EINVAL)                                \
	X(then_with(E.done, then_fn, 2), -EINVAL)                             \
	X(then_with(E.done, then_fn, ~0u), -EINVAL)                           \
	X(then_with(E.nopool, then_fn, 0), -EINVAL) /* no pool */             \
	/* weft_wait */                                                       \
	X(weft_wait(NULL, 1, WEFT_ALL_COMPLETED, 0), -EINVAL)                 \
	X(weft_wait(null_entry, 2, WEFT_ALL_COMPLETED, 0), -EINVAL)           \
	X(weft_wait(FS, 1, (enum weft_return_when)3, 0), -EINVAL)             \
	X(weft_wait(FS, 1, (enum weft_return_when)-1, 0), -EINVAL)            \
	X(weft_wait(FS, 1, WEFT_ALL_COMPLETED, BADT), -EINVAL)                \
	X(weft_wait(NULL, 0, WEFT_ALL_COMPLETED, 0), 0) /* n == 0 */          \
	X(weft_wait(&E.pending, 1, WEFT_FIRST_COMPLETED, 0), -ETIMEDOUT)      \
	/* when_all, when_any */                                              \
	X(join_into(false, FS, 1, false), -EINVAL)                            \
	X(join_into(false, NULL, 1, true), -EINVAL)                           \
	X(join_into(false, null_entry, 2, true), -EINVAL)                     \
	X(join_into(false, NULL, 0, true), 0)                                 \
	X(join_into(true, FS, 1, false), -EINVAL)                             \
	X(join_into(true, NULL, 1, true), -EINVAL)                            \
	X(join_into(true, null_entry, 2, true), -EINVAL)                      \
	X(join_into(true, FS, 0, true), -EINVAL) /* nothing to complete it */ \
	/* as_completed */                                                    \
	X(as_completed_into(FS, 1, 0, false), -EINVAL)                        \
	X(as_completed_into(NULL, 1, 0, true), -EINVAL)                       \
	X(as_completed_into(null_entry, 2, 0, true), -EINVAL)                 \
	X(as_completed_into(FS, 1, BADT, true), -EINVAL)                      \
	X(as_completed_into(NULL, 0, 0, true), 0)                             \
	X(weft_as_completed_add(NULL, E.done), -EINVAL)                       \
	X(weft_as_completed_add(E.it, NULL), -EINVAL)                         \
	X(weft_as_completed_add(E.it, E.done), 0) /* a duplicate */           \
	X(weft_as_completed_next(NULL, &fout), -EINVAL)                       \
	X(weft_as_completed_next(E.it, NULL), -EINVAL)                        \
	/* map, gather */                                                     \
	X(map_with(NULL, twice, 1, true), -EINVAL)                            \
	X(map_with(E.p, NULL, 1, true), -EINVAL)                              \
	X(map_with(E.p, twice, 2, false), -EINVAL)                            \
	X(map_with(E.p, twice, 0, false), 0) /* n == 0: out unused */         \
	X(weft_gather(NULL, 1, NULL, 0, &zout), -EINVAL)                      \
	X(weft_gather(null_entry, 2, NULL, 0, &zout), -EINVAL)                \
	X(weft_gather(FS, 1, NULL, BADT, &zout), -EINVAL)                     \
	X(weft_gather(NULL, 0, NULL, 0, NULL), 0)                             \
	/* Pipelines */                                                       \
	X(pipeline_create_into(NULL, 1, 0), -EINVAL)                          \
	X(pipeline_create_into(E.p, 0, 0), -EINVAL)                           \
	X(pipeline_create_into(E.p, 1, 2), -EINVAL)                           \
	X(pipeline_create_into(E.p, 1, ~0u), -EINVAL)                         \
	X(pipeline_create_into(E.p, SIZE_MAX, 0), 0)                          \
	X(weft_pipeline_create(E.p, 1, 0, NULL), -EINVAL)                     \
	X(weft_pipeline_stage(NULL, "s", stage_fn, NULL, 0, 0), -EINVAL)      \
	X(weft_pipeline_stage(E.pl, "s", NULL, NULL, 0, 0), -EINVAL)          \
	X(weft_pipeline_stage(E.pl, "s", stage_fn, NULL, 0, 2), -EINVAL)      \
	X(stage_after(true), -EBUSY)                                          \
	X(stage_after(false), -EBUSY)                                         \
	X(weft_pipeline_push(NULL, NULL, 0), -EINVAL)                         \
	X(weft_pipeline_push(E.pl, NULL, BADT), -EINVAL)                      \
	X(push_when(true), -EPIPE)                                            \
	X(push_when(false), -ETIMEDOUT)                                       \
	X(weft_pipeline_close(NULL), -EINVAL)                                 \
	X(weft_pipeline_pop(NULL, &vout, 0), -EINVAL)                         \
	X(weft_pipeline_pop(E.pl, NULL, 0), -EINVAL)                          \
	X(weft_pipeline_pop(E.pl, &vout, BADT), -EINVAL)                      \
	X(weft_pipeline_pop(E.pl, &vout, 0), -ETIMEDOUT)                      \
	X(weft_pipeline_destroy(NULL), 0)

#define ROW_FN(expr, want) +1
enum { NROWS = 0 ROWS(ROW_FN) };
#undef ROW_FN

static int run_row(size_t i)
{
	size_t k = 0;
#define ROW_CALL(expr, want)                                                  \
	if (k++ == i)                                                         \
		return (expr);
	ROWS(ROW_CALL)
#undef ROW_CALL
	return INT_MIN;
}

static const struct row rows[NROWS] = {
#define ROW_DEF(expr, want) {#expr, want},
	ROWS(ROW_DEF)
#undef ROW_DEF
};

Test(bad_input, every_function_every_documented_error, .timeout = UNIT_TIMEOUT)
{
	env_up();
	size_t bad = 0;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int got = run_row(i);
		if (got != rows[i].want) {
			bad++;
			cr_log_error("%s: got %d (%s), want %d (%s)",
				     rows[i].call, got, weft_strerror(got),
				     rows[i].want, weft_strerror(rows[i].want));
		}
	}
	cr_expect_eq(bad, 0, "%zu of %zu rows returned the wrong code", bad,
		     sizeof(rows) / sizeof(rows[0]));
	/* The rejected calls had no effect: the pending task is still
	 * pending and runs once the gate opens; the pipeline still works. */
	cr_expect_eq(weft_future_state(E.pending), WEFT_PENDING);
	cr_expect_eq(weft_pipeline_push(E.pl, (void *)5, 0), 0);
	env_down();
}

Test(bad_input, out_untouched_on_error, .timeout = UNIT_TIMEOUT)
{
	env_up();
	weft_future *const fs = (weft_future *)(uintptr_t)0x7002;
	weft_future *o = fs;
	cr_expect_eq(weft_submit(NULL, twice, NULL, &o), -EINVAL);
	cr_expect_eq(weft_future_then(E.done, then_fn, NULL, 4, &o), -EINVAL);
	cr_expect_eq(weft_when_all(null_entry, 2, &o), -EINVAL);
	cr_expect_eq(weft_when_any(FS, 0, &o), -EINVAL);
	cr_expect_eq(o, fs);
	weft_as_completed *it = (weft_as_completed *)(uintptr_t)0x7003;
	cr_expect_eq(weft_as_completed_create(null_entry, 1, 0, &it), -EINVAL);
	cr_expect_eq(it, (weft_as_completed *)(uintptr_t)0x7003);
	weft_pipeline *pl = (weft_pipeline *)(uintptr_t)0x7004;
	cr_expect_eq(weft_pipeline_create(E.p, 0, 0, &pl), -EINVAL);
	cr_expect_eq(pl, (weft_pipeline *)(uintptr_t)0x7004);
	weft_pool *p = POOL_SENTINEL;
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = WEFT_MAX_WORKERS + 1;
	cr_expect_eq(weft_pool_create(&p, &cfg), -EINVAL);
	cr_expect_eq(p, POOL_SENTINEL);
	env_down();
}

Test(bad_input, functions_without_an_error_code, .timeout = UNIT_TIMEOUT)
{
	/* NULL is harmless where there is no code to return. */
	weft_config_init(NULL);
	cr_expect_eq(weft_pool_workers(NULL), 0);
	cr_expect_eq(weft_worker_index(), -1);
	cr_expect_null(weft_current_pool());
	cr_expect_eq(weft_future_state(NULL), WEFT_PENDING);
	cr_expect_not(weft_future_done(NULL));
	cr_expect_not(weft_future_cancel(NULL));
	weft_future_retain(NULL);
	weft_future_release(NULL);
	weft_as_completed_destroy(NULL);
	cr_expect_null(weft_fail(EIO), "weft_fail outside a task");
	cr_expect_null(weft_fail(0));
	cr_expect_null(weft_fail(-1));
	/* weft_strerror names every int. */
	const int codes[] = {0, -EINVAL, -ENOMEM, -ESHUTDOWN, -ETIMEDOUT,
			     -ECANCELED, -EDEADLK, -EPIPE, -EAGAIN, -EBUSY,
			     -EIO, 1, EINVAL, -4095, -100000, INT_MIN,
			     INT_MAX, INT_MIN + 1};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		const char *s = weft_strerror(codes[i]);
		cr_expect(s && *s, "weft_strerror(%d)", codes[i]);
	}
}

/*
 * Waiting on one's own future from inside its task: every call that
 * waits returns -EDEADLK at once instead of waiting for itself.
 */

struct self_wait {
	_Atomic(weft_future *) self;
	weft_future *other; /* pending behind the gate (2-worker pool) */
	int wait_rc, wait0_rc, timed_rc, get_rc;
	int all_rc, any_rc, failed_rc, any_other_rc, all_done_rc;
	int gather_rc, gather_other_rc;
	size_t stopped_at, stopped_other;
	enum weft_state other_state;
};

static void *wait_on_self(void *arg)
{
	struct self_wait *s = arg;
	weft_future *f;
	int64_t end = unit_now_ns() + 5000000000;
	while (!(f = atomic_load(&s->self)) && unit_now_ns() < end)
		unit_sleep_us(50);
	if (!f)
		return NULL;
	s->wait_rc = weft_future_wait(f, WEFT_FOREVER);
	s->wait0_rc = weft_future_wait(f, 0);
	s->timed_rc = weft_future_wait(f, 1000000);
	s->get_rc = weft_future_get(f, NULL);
	weft_future *self_and_other[2] = {f, s->other};
	weft_future *self_twice[2] = {f, f};
	s->all_rc = weft_wait(self_and_other, 2, WEFT_ALL_COMPLETED,
			      WEFT_FOREVER);
	s->any_rc = weft_wait(self_twice, 2, WEFT_FIRST_COMPLETED, 1000000);
	s->failed_rc = weft_wait(&f, 1, WEFT_FIRST_FAILED, WEFT_FOREVER);
	/* Another future may still complete: a plain timeout. */
	s->any_other_rc = weft_wait(self_and_other, 2, WEFT_FIRST_COMPLETED,
				    1000000);
	s->gather_rc = weft_gather(&f, 1, NULL, WEFT_FOREVER, &s->stopped_at);
	/* Stopped at its own future, gather cancels the later ones. */
	s->gather_other_rc = weft_gather(self_and_other, 2, NULL, WEFT_FOREVER,
					 &s->stopped_other);
	s->other_state = weft_future_state(s->other);
	return arg;
}

Test(bad_input, waiting_on_ones_own_future_is_edeadlk,
     .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(2);
	struct unit_gate g = {.result = NULL};
	weft_future *gf = unit_block(p, &g);
	/* The gate holds one worker; the other runs the test task. The
	 * other future is a continuation of the gate: pending until the
	 * test opens it. */
	struct self_wait s = {.other = NULL};
	cr_assert_eq(weft_future_then(gf, then_fn, NULL, 0, &s.other), 0);
	weft_future *f;
	cr_assert_eq(weft_submit(p, wait_on_self, &s, &f), 0);
	atomic_store(&s.self, f);
	void *r = NULL;
	cr_assert_eq(weft_future_get(f, &r), 0);
	cr_expect_eq(r, &s);
	cr_expect_eq(s.wait_rc, -EDEADLK);
	cr_expect_eq(s.wait0_rc, -EDEADLK);
	cr_expect_eq(s.timed_rc, -EDEADLK);
	cr_expect_eq(s.get_rc, -EDEADLK);
	cr_expect_eq(s.all_rc, -EDEADLK, "weft_wait(ALL_COMPLETED): %d",
		     s.all_rc);
	cr_expect_eq(s.any_rc, -EDEADLK, "weft_wait(FIRST_COMPLETED): %d",
		     s.any_rc);
	cr_expect_eq(s.failed_rc, -EDEADLK, "weft_wait(FIRST_FAILED): %d",
		     s.failed_rc);
	cr_expect_eq(s.any_other_rc, -ETIMEDOUT);
	cr_expect_eq(s.gather_rc, -EDEADLK, "weft_gather: %d", s.gather_rc);
	cr_expect_eq(s.stopped_at, 0);
	cr_expect_eq(s.gather_other_rc, -EDEADLK);
	cr_expect_eq(s.stopped_other, 0);
	cr_expect_eq(s.other_state, WEFT_CANCELLED);
	unit_open(&g);
	cr_expect_eq(weft_future_get(s.other, NULL), -ECANCELED);
	weft_future_release(s.other);
	weft_future_release(gf);
	weft_future_release(f);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/* The same from a continuation on its own future. */
static void *then_waits_on_self(weft_future *a, void *ctx)
{
	(void)a;
	struct self_wait *s = ctx;
	weft_future *f;
	int64_t end = unit_now_ns() + 5000000000;
	while (!(f = atomic_load(&s->self)) && unit_now_ns() < end)
		unit_sleep_us(50);
	if (!f)
		return NULL;
	s->wait_rc = weft_future_wait(f, WEFT_FOREVER);
	s->all_rc = weft_wait(&f, 1, WEFT_ALL_COMPLETED, WEFT_FOREVER);
	s->gather_rc = weft_gather(&f, 1, NULL, WEFT_FOREVER, &s->stopped_at);
	return ctx;
}

Test(bad_input, continuation_waiting_on_itself_is_edeadlk,
     .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(1);
	struct self_wait s = {.other = NULL};
	weft_future *a, *c;
	cr_assert_eq(weft_submit(p, twice, NULL, &a), 0);
	cr_assert_eq(weft_future_then(a, then_waits_on_self, &s, 0, &c), 0);
	atomic_store(&s.self, c);
	cr_assert_eq(weft_future_get(c, NULL), 0);
	cr_expect_eq(s.wait_rc, -EDEADLK);
	cr_expect_eq(s.all_rc, -EDEADLK);
	cr_expect_eq(s.gather_rc, -EDEADLK);
	weft_future_release(a);
	weft_future_release(c);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/*
 * Shutdown and destroy from callbacks. A callback runs on the thread
 * that completed the future: a worker (shutdown(WAIT) and destroy are
 * -EDEADLK there, the other flags still apply) or an outside thread that
 * cancelled it (shutdown(WAIT) waits for the drain like anywhere else).
 */

struct cb_shutdown {
	weft_pool *p;
	unsigned flags;
	_Atomic int rc, destroy_rc, calls;
	_Atomic int on_worker;
};

static void shutdown_cb(weft_future *f, void *ctx)
{
	(void)f;
	struct cb_shutdown *c = ctx;
	atomic_store(&c->on_worker, weft_current_pool() == c->p);
	atomic_store(&c->rc, weft_pool_shutdown(c->p, c->flags));
	atomic_store(&c->destroy_rc,
		     weft_current_pool() == c->p ? weft_pool_destroy(c->p) : 1);
	atomic_fetch_add(&c->calls, 1);
}

Test(bad_input, shutdown_from_a_callback_on_a_worker, .timeout = UNIT_TIMEOUT)
{
	const unsigned flags[] = {0, WEFT_SHUTDOWN_WAIT,
				  WEFT_SHUTDOWN_CANCEL_PENDING,
				  WEFT_SHUTDOWN_WAIT |
					  WEFT_SHUTDOWN_CANCEL_PENDING};
	for (size_t i = 0; i < 4; i++) {
		weft_pool *p = unit_pool(1);
		struct cb_shutdown c = {.p = p, .flags = flags[i]};
		struct unit_gate g = {.result = NULL};
		weft_future *gf = unit_block(p, &g);
		weft_future *queued;
		_Atomic int ran = 0;
		cr_assert_eq(weft_submit(p, unit_count_task, &ran, &queued),
			     0);
		cr_assert_eq(weft_future_on_done(gf, shutdown_cb, &c), 0);
		unit_open(&g);
		cr_assert(weft_future_wait(queued, 5000000000) == 0);
		cr_expect_eq(c.calls, 1);
		cr_expect(c.on_worker);
		cr_expect_eq(c.rc, flags[i] & WEFT_SHUTDOWN_WAIT ? -EDEADLK : 0,
			     "flags %u: %d", flags[i], c.rc);
		cr_expect_eq(c.destroy_rc, -EDEADLK);
		/* The shutdown took effect: outside submissions fail, and
		 * CANCEL_PENDING cancelled the queued task. */
		cr_expect_eq(weft_submit(p, twice, NULL, NULL), -ESHUTDOWN);
		cr_expect_eq(weft_future_state(queued),
			     flags[i] & WEFT_SHUTDOWN_CANCEL_PENDING ?
				     WEFT_CANCELLED :
				     WEFT_SUCCEEDED);
		cr_expect_eq(ran, flags[i] & WEFT_SHUTDOWN_CANCEL_PENDING ? 0
									  : 1);
		weft_future_release(queued);
		weft_future_release(gf);
		cr_assert_eq(weft_pool_destroy(p), 0);
	}
}

Test(bad_input, shutdown_wait_from_a_callback_off_the_workers,
     .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(2);
	struct cb_shutdown c = {.p = p, .flags = WEFT_SHUTDOWN_WAIT};
	struct unit_gate g = {.result = NULL};
	weft_future *gf = unit_block(p, &g);
	weft_future *victim;
	cr_assert_eq(weft_future_then(gf, then_fn, NULL, 0, &victim), 0);
	cr_assert_eq(weft_future_on_done(victim, shutdown_cb, &c), 0);
	/* Cancelling on this thread runs the callback here; its
	 * shutdown(WAIT) waits for the gate, so open it from a thread. */
	unit_open(&g);
	bool cancelled = weft_future_cancel(victim);
	cr_assert_eq(weft_future_wait(victim, 5000000000), 0);
	cr_assert(unit_wait_for(&c.calls, 1));
	if (cancelled)
		cr_expect_not(c.on_worker);
	cr_expect_eq(c.rc, c.on_worker ? -EDEADLK : 0);
	cr_expect_eq(weft_future_state(gf), WEFT_SUCCEEDED);
	weft_future_release(victim);
	weft_future_release(gf);
	cr_assert_eq(weft_pool_destroy(p), 0);
}

/*
 * Every call on a pool after shutdown.
 */

static void *gated_then(weft_future *a, void *ctx)
{
	(void)a;
	return ctx;
}

Test(bad_input, every_call_after_shutdown, .timeout = UNIT_TIMEOUT)
{
	weft_pool *p = unit_pool(1);
	weft_pool *other = unit_pool(1);
	struct unit_gate og = {.result = NULL};
	weft_future *in_other = unit_block(other, &og);
	weft_future *done, *join;
	cr_assert_eq(weft_submit(p, twice, (void *)3, &done), 0);
	cr_assert_eq(weft_future_wait(done, WEFT_FOREVER), 0);
	/* A future of p that stays pending after p has exited: it waits
	 * for a task of the other pool. */
	weft_future *both[2] = {done, in_other};
	cr_assert_eq(weft_when_all(both, 2, &join), 0);
	weft_pipeline *pl;
	cr_assert_eq(weft_pipeline_create(p, 2, 0, &pl), 0);

	cr_assert_eq(weft_pool_shutdown(p, WEFT_SHUTDOWN_WAIT), 0);

	weft_future *f = NULL;
	void *args[2] = {NULL, NULL};
	weft_future *out[2];
	_Atomic int calls = 0;
	cr_expect_eq(weft_submit(p, twice, NULL, &f), -ESHUTDOWN);
	cr_expect_eq(weft_submit(p, twice, NULL, NULL), -ESHUTDOWN);
	cr_expect_eq(weft_map(p, twice, args, 2, out), -ESHUTDOWN);
	cr_expect_eq(weft_future_then(done, then_fn, NULL, 0, &f), -ESHUTDOWN);
	cr_expect_eq(weft_pipeline_push(pl, NULL, 0), -ESHUTDOWN);
	cr_expect_eq(weft_pipeline_stage(pl, "late", stage_fn, NULL, 0, 0), 0);
	cr_expect_eq(weft_pipeline_close(pl), 0);
	void *item;
	cr_expect_eq(weft_pipeline_pop(pl, &item, 0), 0);
	cr_expect_eq(weft_pipeline_destroy(pl), 0);
	/* Calls that do not need the pool still work. */
	cr_expect_eq(weft_future_on_done(done, cb_fn, &calls), 0);
	cr_expect_eq(calls, 1);
	void *r;
	cr_expect_eq(weft_future_get(done, &r), 0);
	cr_expect_eq(r, (void *)6);
	cr_expect_eq(weft_wait(&done, 1, WEFT_ALL_COMPLETED, 0), 0);
	weft_future *any;
	cr_expect_eq(weft_when_any(&done, 1, &any), 0);
	cr_expect(weft_future_done(any));
	weft_future_release(any);
	size_t at;
	cr_expect_eq(weft_gather(&done, 1, NULL, 0, &at), 0);
	weft_as_completed *it;
	cr_expect_eq(weft_as_completed_create(&done, 1, 0, &it), 0);
	cr_expect_eq(weft_as_completed_next(it, &f), 1);
	cr_expect_eq(f, done);
	cr_expect_eq(weft_as_completed_next(it, &f), 0);
	weft_as_completed_destroy(it);
	weft_stats st;
	cr_expect_eq(weft_pool_stats(p, &st), 0);
	cr_expect_eq(st.executed, 1);
	cr_expect_eq(weft_pool_shutdown(p, WEFT_SHUTDOWN_WAIT |
						   WEFT_SHUTDOWN_CANCEL_PENDING),
		     0, "shutdown is idempotent");
	cr_expect_eq(weft_pool_workers(p), 1);

	/* A continuation registered on the pending future of the exited
	 * pool is accepted; it can never run there, so it completes as
	 * cancelled once its antecedent completes. */
	weft_future *orphan;
	cr_expect_eq(weft_future_then(join, gated_then, NULL, 0, &orphan), 0);
	cr_expect_eq(weft_future_on_done(orphan, cb_fn, &calls), 0);
	unit_open(&og);
	cr_expect_eq(weft_future_wait(orphan, 5000000000), 0);
	cr_expect_eq(weft_future_state(join), WEFT_SUCCEEDED);
	cr_expect_eq(weft_future_state(orphan), WEFT_CANCELLED);
	cr_expect_eq(calls, 2);
	cr_expect_eq(weft_pool_stats(p, &st), 0);
	cr_expect_eq(st.cancelled, 1, "the orphan counts as cancelled");

	weft_future_release(orphan);
	weft_future_release(join);
	weft_future_release(done);
	weft_future_release(in_other);
	cr_assert_eq(weft_pool_destroy(p), 0);
	cr_assert_eq(weft_pool_destroy(other), 0);
}
