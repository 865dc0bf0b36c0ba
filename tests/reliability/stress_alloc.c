/*
 * Allocation failure: a 1,000-task scenario (callbacks, continuations,
 * when_all/when_any/wait, as_completed, map/gather, detached tasks,
 * children submitted by tasks, a two-stage pipeline) run
 *
 *   1. once per k, failing the k-th allocation only, for every k until a
 *      run makes fewer than k allocations (the sweep);
 *   2. once per k again, failing the k-th allocation and every later one
 *      (the persistent sweep; WEFT_ALLOC_PERSISTENT_STRIDE=n tries every
 *      n-th k, 0 skips it);
 *   3. WEFT_ALLOC_RUNS times (default 10,000) with each allocation failing
 *      with probability 1% (WEFT_ALLOC_PERMILLE), 1 or 2 workers and a
 *      random way to shut down.
 *
 * Every public call must return 0 (or its documented non-error result)
 * or -ENOMEM; every accepted task must run exactly once, or be cancelled
 * (by its submitter, by shutdown(CANCEL_PENDING), or as the
 * ON_SUCCESS continuation of a cancelled future), or fail with the error
 * its body reported (or its antecedent's); every registered callback
 * must run exactly once; every pushed pipeline item must come out of
 * pop exactly once; nothing may hang (30 s watchdog per run). After each
 * run the hook's count of live blocks must be back where it started
 * (LeakSanitizer checks the rest at exit in an ASan build).
 *
 * The faults must be real: the hook must count the scenario's
 * allocations, each sweep's first run and the random runs as a whole must
 * have allocations failed, and a run with a failed allocation must see a
 * call return -ENOMEM. A hook that injects nothing fails this program.
 *
 * Each run happens on a fresh thread, so the thread's task-object cache
 * starts empty (runs are repeatable) and is freed when it exits.
 *
 * WEFT_SEED replays everything; a failing run prints how to replay it
 * alone: WEFT_ALLOC_ONE=<k> (add WEFT_ALLOC_ONE_PERSISTENT=1) for a sweep
 * run, WEFT_RUN_SEED=<seed> for a random one.
 */
#include "harness.h"
#include "runtime/alloc_hook.h"
#include "weft.h"

#define TASKS 400       /* tasks submitted from outside */
#define MAP_N 100       /* tasks of weft_map */
#define PIPE_ITEMS 100  /* items pushed through the pipeline */
#define GROUP 10        /* inputs of each when_all / when_any / wait */
#define AC_SET 20       /* futures given to as_completed_create */
#define AC_ADD 5        /* futures added to it later */
#define MAX_UNITS 4096

enum kind { K_GATE, K_TASK, K_DETACHED, K_CHILD, K_LINK, K_MAP, K_ALL,
	    K_ANY };

/* One future the scenario made, or tried to make. */
struct unit {
	uint8_t kind;
	bool will_fail, on_success, user_cancelled;
	uint8_t spawns;             /* children its body submits */
	_Atomic bool accepted;
	int32_t antecedent;         /* a link's, else -1 */
	weft_future *f;             /* the handle, released at the end */
	_Atomic uint32_t ran;       /* body calls */
	_Atomic uint32_t cbs;       /* on_done calls */
	_Atomic uint32_t cb_want;   /* on_done registrations that returned 0 */
};

/* The current run. Tasks reach it through this global. */
static struct {
	uint64_t seed;
	bool random;           /* random failures (not a sweep run) */
	unsigned workers;
	unsigned shutdown_mode; /* 0 destroy, 1 CANCEL_PENDING, 2 no flags */
	struct harness_rng rng; /* the scenario thread's */
	struct unit units[MAX_UNITS];
	_Atomic uint32_t nunits;
	_Atomic int gate_entered, gate_open;
	bool held;             /* the gate holds the only worker */
	_Atomic uint64_t errors;
	bool cancel_pending;    /* shutdown(CANCEL_PENDING) was called */
	bool gather_cancelled;  /* gather may have cancelled map tasks */
	/* Pipeline items: how often each came out, and how. */
	_Atomic uint32_t item_stage1[PIPE_ITEMS], item_stage2[PIPE_ITEMS];
	uint32_t item_popped[PIPE_ITEMS];
	bool item_pushed[PIPE_ITEMS];
	unsigned nstages;
	/* Figures of the run. */
	uint64_t accepted, enomem, succeeded, failed, cancelled;
} R;

static struct {
	uint64_t runs, sweep_k, persistent_k, random_runs, failures_injected;
	uint64_t accepted, enomem, succeeded, failed, cancelled;
	uint64_t pool_enomem, max_attempts;
	int64_t t_sweep, t_persistent, t_random;
} T;

static void error(const char *what, long arg)
{
	if (atomic_fetch_add(&R.errors, 1) < 8)
		fprintf(stderr, "  run seed 0x%016" PRIx64 ": %s (%ld)\n",
			R.seed, what, arg);
}

/* How often each call returned -ENOMEM, over all runs. */
#define MAX_CALLS 24
static struct {
	const char *name;
	uint64_t n;
} enomem_by_call[MAX_CALLS];

/* A call returned -ENOMEM: counts it for the run and by call. Any
 * thread (the lock orders the counts before the run's end reads them). */
static void tally(const char *call)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_lock(&lock);
	R.enomem++;
	for (int i = 0; i < MAX_CALLS; i++) {
		if (!enomem_by_call[i].name)
			enomem_by_call[i].name = call;
		if (enomem_by_call[i].name == call) {
			enomem_by_call[i].n++;
			break;
		}
	}
	pthread_mutex_unlock(&lock);
}

/* A call's return code: ok (or -ENOMEM, counted) else an error. */
static bool rc_ok(int rc, int ok, const char *call)
{
	if (rc == ok)
		return true;
	if (rc == -ENOMEM) {
		tally(call);
		return false;
	}
	error(call, rc);
	return false;
}

static struct unit *new_unit(enum kind kind, bool will_fail)
{
	uint32_t i = atomic_fetch_add(&R.nunits, 1);
	if (i >= MAX_UNITS) {
		error("out of units", (long)i);
		return NULL;
	}
	struct unit *u = &R.units[i];
	u->kind = (uint8_t)kind;
	u->will_fail = will_fail;
	u->antecedent = -1;
	return u;
}

static int32_t index_of(const struct unit *u)
{
	return (int32_t)(u - R.units);
}

static void count_cb(weft_future *f, void *ctx)
{
	struct unit *u = ctx;
	(void)f;
	atomic_fetch_add(&u->cbs, 1);
}

/* Registers count_cb on u (accepted); -ENOMEM is allowed. */
static void watch(struct unit *u)
{
	if (rc_ok(weft_future_on_done(u->f, count_cb, u), 0, "on_done"))
		atomic_fetch_add(&u->cb_want, 1);
}

static void *link_fn(weft_future *a, void *ctx)
{
	struct unit *u = ctx;
	(void)a;
	atomic_fetch_add(&u->ran, 1);
	return u->will_fail ? weft_fail(EIO) : u;
}

/* A continuation on u (accepted); returns it if it was accepted. */
static struct unit *add_link(struct unit *u, bool on_success, bool will_fail)
{
	struct unit *l = new_unit(K_LINK, will_fail);
	if (!l)
		return NULL;
	l->antecedent = index_of(u);
	l->on_success = on_success;
	if (!rc_ok(weft_future_then(u->f, link_fn, l,
				    on_success ? WEFT_THEN_ON_SUCCESS : 0,
				    &l->f),
		   0, "then"))
		return NULL;
	atomic_store(&l->accepted, true);
	watch(l);
	return l;
}

static void *body(void *arg);

/* From a task body: a child, maybe a continuation on it, maybe a nested
 * wait. A worker's submissions are accepted even during shutdown. */
static void spawn_child(struct unit *parent, unsigned nth)
{
	uint64_t d = (uint64_t)index_of(parent) * 0x9E3779B97F4A7C15ull ^
		     R.seed ^ nth;
	d = harness_splitmix64(&d);
	struct unit *c = new_unit(K_CHILD, d % 8 == 0);
	if (!c)
		return;
	if (!rc_ok(weft_submit(weft_current_pool(), body, c, &c->f), 0,
		   "a worker's submit"))
		return;
	atomic_store(&c->accepted, true);
	watch(c);
	if ((d >> 8) % 2)
		add_link(c, (d >> 16) % 2, (d >> 24) % 8 == 0);
	if ((d >> 32) % 4 == 0) {
		int rc = weft_future_get(c->f, NULL);
		if (rc != 0 && rc != -EIO && rc != -ECANCELED)
			error("a nested get", rc);
	}
}

static void *body(void *arg)
{
	struct unit *u = arg;
	atomic_fetch_add(&u->ran, 1);
	for (unsigned k = 0; k < u->spawns; k++)
		spawn_child(u, k);
	return u->will_fail ? weft_fail(EIO) : u;
}

static void *gate_body(void *arg)
{
	struct unit *u = arg;
	atomic_fetch_add(&u->ran, 1);
	atomic_store(&R.gate_entered, 1);
	int64_t end = harness_now_ns() + 20000000000;
	while (!atomic_load(&R.gate_open)) {
		if (harness_now_ns() > end) {
			error("the gate was never opened", 0);
			break;
		}
		harness_sleep_ns(20000);
	}
	return u;
}

/*
 * The pipeline: stage 1 fails every 10th item with EIO and adds 1000;
 * stage 2 (ordered, or at most 2 at once) adds 1000000.
 */

static void *stage1(void *item, void *ctx)
{
	uintptr_t v = (uintptr_t)item;
	(void)ctx;
	atomic_fetch_add(&R.item_stage1[v % 1000], 1);
	if (v % 10 == 3)
		return weft_fail(EIO);
	return (void *)(v + 1000);
}

static void *stage2(void *item, void *ctx)
{
	uintptr_t v = (uintptr_t)item;
	(void)ctx;
	atomic_fetch_add(&R.item_stage2[v % 1000], 1);
	return (void *)(v + 1000000);
}

/* Pops everything; checks each item. */
static void drain_pipeline(weft_pipeline *pl)
{
	for (;;) {
		void *item = NULL;
		int rc = weft_pipeline_pop(pl, &item, WEFT_FOREVER);
		if (rc == 0)
			return;
		uintptr_t v = (uintptr_t)item;
		unsigned id = (unsigned)(v % 1000);
		if (id >= PIPE_ITEMS || !R.item_pushed[id]) {
			error("pop returned an item never pushed", (long)v);
			continue;
		}
		R.item_popped[id]++;
		uintptr_t want = id;
		int want_rc = 1;
		if (R.nstages >= 1) {
			if (id % 10 == 3)
				want_rc = -EIO; /* value: what stage 1 got */
			else
				want += 1000;
		}
		if (R.nstages >= 2 && want_rc == 1)
			want += 1000000;
		if (rc == -ECANCELED && R.cancel_pending)
			continue; /* aborted by CANCEL_PENDING */
		if (rc != want_rc || v != want)
			error("pop: wrong outcome (item id)", (long)id);
	}
}

/* True if u may have been cancelled without anyone cancelling it. */
static bool cancel_excused(const struct unit *u)
{
	if (R.cancel_pending || u->user_cancelled)
		return true;
	if (u->kind == K_MAP && R.gather_cancelled)
		return true;
	return false;
}

/* Checks one unit after the pool is gone. */
static void check_unit(struct unit *u)
{
	uint32_t ran = atomic_load(&u->ran);
	uint32_t cbs = atomic_load(&u->cbs), want = atomic_load(&u->cb_want);
	const char *why = NULL;
	if (!atomic_load(&u->accepted)) {
		/* weft_map's -ENOMEM cancels what it had submitted: unless
		 * the gate held the only worker, some of it may have started
		 * already. */
		if (cbs || ran > (u->kind == K_MAP && !R.held ? 1u : 0u))
			why = "a refused task ran or called back";
		goto out;
	}
	R.accepted++;
	if (cbs != want)
		why = cbs < want ? "a callback never ran" :
				   "a callback ran twice";
	if (ran > 1)
		why = "ran more than once";
	if (!u->f) {
		/* Detached: nothing to read but its run. */
		if (ran != 1 && !R.cancel_pending)
			why = "a detached task never ran";
		goto out;
	}
	enum weft_state st = weft_future_state(u->f);
	const struct unit *a = u->antecedent >= 0 ? &R.units[u->antecedent] :
						     NULL;
	enum weft_state ast = a && a->f ? weft_future_state(a->f) :
					  WEFT_PENDING;
	void *result = NULL;
	int rc = weft_future_get(u->f, &result);
	switch (st) {
	case WEFT_SUCCEEDED:
		R.succeeded++;
		if (rc != 0)
			why = "get disagrees with the state";
		else if (u->kind == K_ALL || u->kind == K_ANY)
			break;
		else if (ran != 1 || u->will_fail || result != u)
			why = "SUCCEEDED without running, or wrongly";
		break;
	case WEFT_FAILED:
		R.failed++;
		if (rc != -EIO)
			why = "FAILED with the wrong code";
		else if (!(ran == 1 && u->will_fail) &&
			 !(ran == 0 && u->on_success && ast == WEFT_FAILED))
			why = "FAILED without a cause";
		break;
	case WEFT_CANCELLED:
		R.cancelled++;
		if (rc != -ECANCELED)
			why = "get disagrees with CANCELLED";
		else if (ran)
			why = "CANCELLED after running";
		else if (!cancel_excused(u) &&
			 !(u->on_success && ast == WEFT_CANCELLED))
			why = "CANCELLED without a cause";
		break;
	default:
		why = "not done after the pool was destroyed";
	}
out:
	if (why) {
		error(why, (long)index_of(u));
		fprintf(stderr,
			"    unit %d: kind %u, antecedent %d, on_success %d, "
			"fail %d, accepted %d, user cancel %d, ran %u, "
			"callbacks %u of %u\n",
			index_of(u), u->kind, u->antecedent, u->on_success,
			u->will_fail, atomic_load(&u->accepted),
			u->user_cancelled, ran, cbs, want);
	}
}

/* A group of up to n accepted futures with handles, from units[from..]. */
static size_t pick(weft_future **fs, struct unit **us, size_t n,
		   uint32_t *from)
{
	size_t m = 0;
	uint32_t end = atomic_load(&R.nunits);
	while (m < n && *from < end) {
		struct unit *u = &R.units[(*from)++];
		if (atomic_load(&u->accepted) && u->f &&
		    (u->kind == K_TASK || u->kind == K_LINK)) {
			if (us)
				us[m] = u;
			fs[m++] = u->f;
		}
	}
	return m;
}

static void scenario(void)
{
	struct harness_rng *rng = &R.rng;
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = R.workers;
	cfg.name = "oom";
	weft_pool *const sentinel = (weft_pool *)(uintptr_t)0x5eed;
	weft_pool *p = sentinel;
	for (int tries = 0;; tries++) {
		int rc = weft_pool_create(&p, &cfg);
		if (rc == 0)
			break;
		if (p != sentinel)
			error("a failed pool_create wrote *out", rc);
		if (rc != -ENOMEM) {
			error("pool_create", rc);
			return;
		}
		tally("pool_create");
		if (!R.random || tries == 10) {
			T.pool_enomem++;
			return;
		}
	}

	/* Hold the worker (one-worker runs) so the outside calls below find
	 * every task pending: the allocation sequence repeats from run to
	 * run. */
	struct unit *gate = new_unit(K_GATE, false);
	if (rc_ok(weft_submit(p, gate_body, gate, &gate->f), 0, "submit")) {
		atomic_store(&gate->accepted, true);
		while (!atomic_load(&R.gate_entered))
			harness_sleep_ns(10000);
		R.held = R.workers == 1;
	}

	/* Tasks with callbacks and continuation chains; some cancelled,
	 * some detached, some spawning children. */
	for (unsigned i = 0; i < TASKS; i++) {
		bool detached = harness_rng_chance(rng, 1, 10);
		struct unit *u = new_unit(detached ? K_DETACHED : K_TASK,
					  harness_rng_chance(rng, 1, 8));
		if (!u)
			break;
		/* The first tasks the worker runs spawn children while its
		 * cache of task objects is still empty: worker-side
		 * allocations that reach malloc. */
		u->spawns = i < 8 ? 3 : harness_rng_chance(rng, 1, 12);
		if (!rc_ok(weft_submit(p, body, u, detached ? NULL : &u->f), 0,
			   "submit"))
			continue;
		atomic_store(&u->accepted, true);
		if (detached)
			continue;
		watch(u);
		if (harness_rng_chance(rng, 1, 16))
			u->user_cancelled = weft_future_cancel(u->f);
		unsigned links = (unsigned)harness_rng_below(rng, 3);
		struct unit *prev = u;
		for (unsigned k = 0; k < links && prev; k++)
			prev = add_link(prev, harness_rng_chance(rng, 1, 2),
					harness_rng_chance(rng, 1, 8));
	}

	/* Combinators over the tasks, and continuations on their outputs. */
	uint32_t from = 1;
	weft_future *fs[AC_SET + AC_ADD];
	struct unit *us[AC_SET + AC_ADD];
	for (unsigned g = 0; g < 8; g++) {
		size_t m = pick(fs, NULL, GROUP, &from);
		if (!m)
			break;
		struct unit *j = new_unit(g % 2 ? K_ANY : K_ALL, false);
		if (!j)
			break;
		int rc = g % 2 ? weft_when_any(fs, m, &j->f) :
				 weft_when_all(fs, m, &j->f);
		if (rc_ok(rc, 0, g % 2 ? "when_any" : "when_all")) {
			atomic_store(&j->accepted, true);
			watch(j);
			add_link(j, harness_rng_chance(rng, 1, 2), false);
		}
		/* Nothing is done yet unless cancelled: -ETIMEDOUT or 0. */
		rc = weft_wait(fs, m, WEFT_FIRST_COMPLETED, 1000000);
		if (rc == -ENOMEM)
			tally("wait");
		else if (rc != 0 && rc != -ETIMEDOUT)
			error("weft_wait", rc);
	}
	size_t nac = pick(fs, us, AC_SET, &from);
	weft_as_completed *ac = NULL;
	size_t ac_members = 0;
	if (rc_ok(weft_as_completed_create(fs, nac, WEFT_FOREVER, &ac), 0,
		  "as_completed_create")) {
		ac_members = nac;
		size_t more = pick(fs + nac, us + nac, AC_ADD, &from);
		for (size_t k = 0; k < more; k++) {
			weft_future *f = fs[nac + k];
			if (!rc_ok(weft_as_completed_add(ac, f), 0,
				   "as_completed_add"))
				continue;
			us[ac_members] = us[nac + k];
			fs[ac_members++] = f;
			/* Again: a duplicate is ignored, allocating nothing. */
			if (weft_as_completed_add(ac, f) != 0)
				error("as_completed_add of a duplicate", 0);
		}
	}

	/* map, then gather below. */
	void *args[MAP_N];
	weft_future *mapped[MAP_N];
	struct unit *mus[MAP_N];
	bool map_ok = false;
	size_t nm = 0;
	for (; nm < MAP_N; nm++) {
		mus[nm] = new_unit(K_MAP, false);
		if (!mus[nm])
			break;
		args[nm] = mus[nm];
	}
	if (nm == MAP_N &&
	    rc_ok(weft_map(p, body, args, MAP_N, mapped), 0, "map")) {
		map_ok = true;
		for (size_t k = 0; k < MAP_N; k++) {
			mus[k]->f = mapped[k];
			atomic_store(&mus[k]->accepted, true);
			if (k % 4 == 0)
				watch(mus[k]);
		}
	}

	/* A pipeline of up to two stages; every item is pushed at once
	 * (capacity leaves room), while the worker is held. */
	weft_pipeline *pl = NULL;
	unsigned plflags = harness_rng_chance(rng, 1, 2) ? WEFT_PIPELINE_ORDERED
							 : 0;
	if (rc_ok(weft_pipeline_create(p, PIPE_ITEMS + 1, plflags, &pl), 0,
		  "pipeline_create")) {
		if (rc_ok(weft_pipeline_stage(pl, "one", stage1, NULL, 0, 0), 0,
			  "pipeline_stage")) {
			R.nstages = 1;
			bool ordered = harness_rng_chance(rng, 1, 2);
			if (rc_ok(weft_pipeline_stage(
					  pl, ordered ? "two, ordered" : "two",
					  stage2, NULL, 2,
					  ordered ? WEFT_STAGE_ORDERED : 0),
				  0, "pipeline_stage"))
				R.nstages = 2;
		}
		for (uintptr_t id = 0; id < PIPE_ITEMS; id++)
			R.item_pushed[id] = rc_ok(
				weft_pipeline_push(pl, (void *)id, WEFT_FOREVER),
				0, "pipeline_push");
		weft_pipeline_close(pl);
	}

	/* Let the pool go, maybe shutting it down first. */
	if (R.shutdown_mode == 1) {
		R.cancel_pending = true;
		if (weft_pool_shutdown(p, WEFT_SHUTDOWN_CANCEL_PENDING))
			error("shutdown(CANCEL_PENDING)", 0);
	} else if (R.shutdown_mode == 2) {
		if (weft_pool_shutdown(p, 0))
			error("shutdown(0)", 0);
	}
	atomic_store(&R.gate_open, 1);

	if (ac) {
		size_t yielded = 0;
		weft_future *y;
		int rc;
		while ((rc = weft_as_completed_next(ac, &y)) == 1) {
			size_t k = 0;
			while (k < ac_members && fs[k] != y)
				k++;
			if (k == ac_members)
				error("as_completed yielded a stranger", 0);
			else if (!weft_future_done(y))
				error("as_completed yielded a pending future",
				      (long)k);
			else
				fs[k] = NULL; /* yielded once */
			yielded++;
		}
		if (rc != 0 || yielded != ac_members)
			error("as_completed: wrong count or end",
			      (long)yielded);
		weft_as_completed_destroy(ac);
	}
	if (map_ok) {
		void *results[MAP_N];
		size_t at = 0;
		int rc = weft_gather(mapped, MAP_N, results, WEFT_FOREVER, &at);
		if (rc == -ECANCELED && at < MAP_N) {
			/* A cancelled task stops gather, which cancels the
			 * later ones. */
			R.gather_cancelled = true;
			if (!R.cancel_pending)
				error("gather found a cancelled map task",
				      (long)at);
		} else if (rc != 0 || at != MAP_N) {
			error("gather", rc);
		} else {
			for (size_t k = 0; k < MAP_N; k++)
				if (results[k] != mus[k])
					error("gather: wrong result", (long)k);
		}
	}
	if (pl) {
		drain_pipeline(pl);
		if (weft_pipeline_destroy(pl))
			error("pipeline_destroy", 0);
	}
	if (weft_pool_destroy(p))
		error("pool_destroy", 0);

	uint32_t n = atomic_load(&R.nunits);
	for (uint32_t i = 0; i < n && i < MAX_UNITS; i++)
		check_unit(&R.units[i]);
	for (unsigned id = 0; id < PIPE_ITEMS; id++) {
		unsigned want = R.item_pushed[id] ? 1 : 0;
		if (R.item_popped[id] != want)
			error("a pipeline item popped other than once",
			      (long)id);
		if (atomic_load(&R.item_stage1[id]) > want ||
		    atomic_load(&R.item_stage2[id]) > want)
			error("a stage ran twice on an item", (long)id);
	}
	for (uint32_t i = 0; i < n && i < MAX_UNITS; i++)
		weft_future_release(R.units[i].f);
}

static void *scenario_thread(void *arg)
{
	(void)arg;
	scenario();
	return NULL;
}

/* One run on a fresh thread. Returns the allocation attempts it made and
 * sets *failures to how many the hook failed. */
static uint64_t one_run(const char *what, uint64_t index, uint64_t seed,
			uint64_t fail_k, bool persistent, unsigned permille,
			uint64_t *failures)
{
	uint64_t failed_before = harness_failed();
	memset(&R, 0, sizeof(R));
	R.seed = seed;
	harness_rng_init(&R.rng, seed, 0);
	R.random = permille != 0;
	R.workers = 1;
	if (R.random) {
		struct harness_rng r;
		harness_rng_init(&r, seed, 1);
		R.workers = 1 + (unsigned)harness_rng_below(&r, 2);
		R.shutdown_mode = (unsigned)harness_rng_below(&r, 3);
	}
	harness_watchdog_arm(30, what, index);

	struct weft__alloc_counts c0, c1;
	weft__alloc_hook_reset();
	weft__alloc_counts(&c0);
	if (fail_k)
		weft__alloc_fail_at(fail_k, persistent);
	if (permille)
		weft__alloc_fail_rate(permille, seed);
	pthread_t t;
	if (pthread_create(&t, NULL, scenario_thread, NULL)) {
		fprintf(stderr, "cannot start a thread\n");
		exit(2);
	}
	pthread_join(t, NULL);
	weft__alloc_counts(&c1);
	weft__alloc_hook_reset();
	harness_watchdog_disarm();

	CHECKF(c1.live == c0.live,
	       "%" PRId64 " blocks leaked (%s %" PRIu64 ", seed 0x%016" PRIx64
	       ")",
	       c1.live - c0.live, what, index, seed);
	CHECK_EQ(atomic_load(&R.errors), 0);
	/* Each allocation weft makes serves a call that reports its failure,
	 * so a fault the hook injected must come back as -ENOMEM. */
	CHECKF(!c1.failures || R.enomem,
	       "the hook failed %" PRIu64 " allocations, no call returned "
	       "-ENOMEM (%s %" PRIu64 ", seed 0x%016" PRIx64 ")",
	       c1.failures, what, index, seed);
	T.accepted += R.accepted;
	T.enomem += R.enomem;
	T.succeeded += R.succeeded;
	T.failed += R.failed;
	T.cancelled += R.cancelled;
	T.failures_injected += c1.failures;
	if (c1.attempts > T.max_attempts)
		T.max_attempts = c1.attempts;
	if (harness_failed() != failed_before) {
		if (permille)
			fprintf(stderr,
				"  %s %" PRIu64 " FAILED; replay it with "
				"WEFT_RUN_SEED=0x%016" PRIx64 "\n",
				what, index, seed);
		else
			fprintf(stderr,
				"  %s k=%" PRIu64 " FAILED; replay it with "
				"WEFT_ALLOC_ONE=%" PRIu64 "%s WEFT_SEED=0x%016" PRIx64
				"\n",
				what, fail_k, fail_k,
				persistent ? " WEFT_ALLOC_ONE_PERSISTENT=1" : "",
				harness.seed);
	}
	*failures = c1.failures;
	return c1.attempts;
}

/* Every k from 1 (stepping by stride) until a run makes fewer than k
 * allocations. Returns the number of runs. */
static uint64_t sweep(const char *what, bool persistent, uint64_t stride)
{
	uint64_t runs = 0, failures;
	for (uint64_t k = 1;; k += stride) {
		one_run(what, k, harness.seed, k, persistent, 0, &failures);
		runs++;
		if (!failures)
			return runs;
	}
}

int main(void)
{
	harness_init("alloc_fail");
	bool set;
	uint64_t one = harness_env_u64("WEFT_ALLOC_ONE", 0, &set);
	uint64_t failures;
	if (set) {
		bool persistent =
			harness_env_u64("WEFT_ALLOC_ONE_PERSISTENT", 0, NULL);
		uint64_t n = one_run("the replayed run", one, harness.seed, one,
				     persistent, 0, &failures);
		printf("  k=%" PRIu64 "%s: %" PRIu64 " allocations, %" PRIu64
		       " failed\n",
		       one, persistent ? " (persistent)" : "", n, failures);
		return harness_report();
	}
	uint64_t run_seed = harness_env_u64("WEFT_RUN_SEED", 0, &set);
	unsigned permille =
		(unsigned)harness_env_u64("WEFT_ALLOC_PERMILLE", 10, NULL);
	if (set) {
		uint64_t n = one_run("the replayed run", 0, run_seed, 0, false,
				     permille, &failures);
		printf("  %" PRIu64 " allocations, %" PRIu64 " failed\n", n,
		       failures);
		return harness_report();
	}

	/* A run with no failure: how many allocations the scenario makes. */
	uint64_t base = one_run("the run without failures", 0, harness.seed, 0,
				false, 0, &failures);
	CHECKF(base > 0 && failures == 0,
	       "the hook counted %" PRIu64 " allocations, failed %" PRIu64,
	       base, failures);
	printf("  the scenario makes %" PRIu64 " allocations: %" PRIu64
	       " futures (tasks, continuations, combinators) and %d pipeline "
	       "items\n",
	       base, T.accepted, PIPE_ITEMS);

	int64_t t0 = harness_now_ns();
	T.sweep_k = sweep("a sweep run", false, 1);
	T.t_sweep = harness_now_ns() - t0;
	/* The sweep ends at the first run the hook failed nothing in. */
	CHECKF(T.sweep_k > 1, "the sweep's first run failed no allocation");
	printf("  sweep: failed the k-th allocation for k = 1..%" PRIu64
	       " in %.1f s\n",
	       T.sweep_k - 1, T.t_sweep / 1e9);
	fflush(stdout);

	uint64_t stride = harness_env_u64("WEFT_ALLOC_PERSISTENT_STRIDE", 1,
					  NULL);
	if (stride) {
		t0 = harness_now_ns();
		T.persistent_k = sweep("a persistent sweep run", true, stride);
		T.t_persistent = harness_now_ns() - t0;
		CHECKF(T.persistent_k > 1,
		       "the persistent sweep's first run failed no allocation");
		printf("  persistent sweep: failed every allocation from the "
		       "k-th on, %" PRIu64 " runs (stride %" PRIu64
		       ") in %.1f s\n",
		       T.persistent_k, stride, T.t_persistent / 1e9);
		fflush(stdout);
	}

	uint64_t runs = harness_env_u64("WEFT_ALLOC_RUNS",
					harness_size(10000, 1000, 1), NULL);
	t0 = harness_now_ns();
	uint64_t injected_before = T.failures_injected;
	for (uint64_t i = 0; i < runs; i++) {
		uint64_t x = harness.seed ^ (i * 0xD1B54A32D192ED03ull);
		one_run("a random run", i, harness_splitmix64(&x), 0, false,
			permille, &failures);
		T.random_runs++;
	}
	T.t_random = harness_now_ns() - t0;
	CHECKF(!runs || !permille || T.failures_injected > injected_before,
	       "%" PRIu64 " random runs failed no allocation", runs);
	CHECKF(T.failures_injected > 0 && T.enomem > 0,
	       "%" PRIu64 " allocations failed, %" PRIu64 " calls returned "
	       "-ENOMEM", T.failures_injected, T.enomem);
	printf("  random: %" PRIu64 " runs failing %u per mille of "
	       "allocations in %.1f s\n",
	       T.random_runs, permille, T.t_random / 1e9);
	printf("  allocations failed in all: %" PRIu64 "; calls that returned "
	       "-ENOMEM: %" PRIu64 "; pool_create gave up: %" PRIu64 "\n",
	       T.failures_injected, T.enomem, T.pool_enomem);
	printf("  -ENOMEM by call:");
	for (int i = 0; i < MAX_CALLS && enomem_by_call[i].name; i++)
		printf("%s %s %" PRIu64, i ? "," : "", enomem_by_call[i].name,
		       enomem_by_call[i].n);
	printf("\n");
	printf("  accepted futures %" PRIu64 ": succeeded %" PRIu64
	       ", failed %" PRIu64 ", cancelled %" PRIu64 "\n",
	       T.accepted, T.succeeded, T.failed, T.cancelled);
	return harness_report();
}
