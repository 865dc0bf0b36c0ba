/*
 * A libFuzzer target: the bytes are a program of public calls (submit,
 * then, on_done, cancel, waits, when_all/when_any, as_completed, map,
 * gather, pipeline push/pop/close, shutdown, bad arguments) on a
 * one-worker pool, checked against a sequential reference model.
 *
 * Every task and continuation body is held at a gate until the program
 * opens it (or was created open), so the worker does nothing the model
 * cannot follow. After each call the driver waits until the pool is
 * quiescent: the worker is held in a closed gate, or has nothing left to
 * do and every completion has been delivered (callbacks run, combinators
 * resolved). Then every future's real state must equal the model's. The
 * worker's one free choice, which runnable task it starts next, is
 * observed (a PENDING -> RUNNING move) and checked against the model's
 * runnable set; completions that happen between two observations carry
 * the same step number, and order checks (when_any's index,
 * as_completed's order) accept any future of the earliest step.
 *
 * Any disagreement prints the program so far and aborts (a finding).
 * At the end of every input the pool is drained and destroyed, and
 * everything left is checked: every future final, every callback run
 * once, every pushed item popped once, nothing leaked (LeakSanitizer).
 *
 * Build: meson setup build-fuzz -Dfuzz=true (clang); see tools/fuzz.sh.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "future/futex.h"
#include "weft.h"

#define MAXE 24        /* futures an input may create */
#define MAXIN 4        /* inputs of a combinator, members of a wait */
#define MAXITEMS 32    /* pipeline items an input may push */
#define SETTLE_NS 10000000000LL /* longer than this is a hang */

enum kind { E_TASK, E_THEN, E_ALL, E_ANY };

struct entry {
	weft_future *f;
	int kind;
	bool will_fail;       /* TASK/THEN: its body fails with EIO */
	bool on_success;      /* THEN */
	int ante;             /* THEN: the antecedent's entry */
	int in[MAXIN], nin;   /* ALL/ANY: inputs (entries; may repeat) */
	/* The model (saved and restored whole while reconciling). */
	struct mstate {
		unsigned state;
		bool scheduled;      /* TASK/THEN: queued (or running) */
		bool doomed;         /* TASK/THEN: CANCEL_PENDING cancels it */
		bool user_cancelled; /* by cancel() or gather() */
		bool started;        /* seen RUNNING, or finished by its body */
		bool sync;           /* completed inside the current call */
		uint32_t step;       /* when it became final */
	} m;
	unsigned cb_want;
	/* Shared with the worker. */
	_Atomic uint32_t gate; /* 0 closed, 1 open */
	_Atomic uint32_t ran;
	_Atomic uint32_t cb_got;
	/* A callback of the driver's own, registered at creation: callbacks
	 * run after the runtime's watchers (as_completed, when_*), so once
	 * it has run, the future's completion is fully delivered. */
	_Atomic uint32_t delivered;
};

struct item {
	bool pushed, popped;
	uint32_t seq;
};

static struct {
	const uint8_t *data;
	size_t size, pos;
	weft_pool *p;
	struct entry e[MAXE];
	int n;
	uint32_t step;
	bool shutdown, cancel_pending;
	/* as_completed */
	weft_as_completed *it;
	int ac_mem[MAXE], ac_nmem;
	bool ac_yielded[MAXE];
	uint32_t ac_step[MAXE];  /* when it was queued (init: creation) */
	int ac_init[MAXE], ac_ninit, ac_init_pos;
	bool ac_deadline0, ac_timed_out;
	/* pipeline */
	weft_pipeline *pl;
	size_t capacity;
	unsigned nstages;
	bool pl_ordered, closed;
	struct item items[MAXITEMS];
	uint32_t npushed, npopped;
	/* the trace of this input, for findings */
	char trace[8192];
	size_t tlen;
} M;

/*
 * Findings.
 */

static void tracef(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void tracef(const char *fmt, ...)
{
	if (M.tlen >= sizeof(M.trace) - 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(M.trace + M.tlen, sizeof(M.trace) - M.tlen, fmt, ap);
	va_end(ap);
	if (k > 0)
		M.tlen += (size_t)k;
	if (M.tlen > sizeof(M.trace) - 1)
		M.tlen = sizeof(M.trace) - 1;
}

static void finding(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void finding(const char *fmt, ...)
{
	fprintf(stderr, "\n=== weft model disagreement: ");
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n=== the program so far (step %u):\n%s\n", M.step,
		M.trace);
	for (int i = 0; i < M.n; i++) {
		struct entry *e = &M.e[i];
		fprintf(stderr,
			"  e%d: kind %d ante %d on_success %d fail %d | model "
			"%u sched %d doomed %d step %u cb %u | real %d ran %u "
			"cb %u gate %u\n",
			i, e->kind, e->ante, e->on_success, e->will_fail,
			e->m.state, e->m.scheduled, e->m.doomed, e->m.step, e->cb_want,
			weft_future_state(e->f), atomic_load(&e->ran),
			atomic_load(&e->cb_got), atomic_load(&e->gate));
	}
	abort();
}

#define EXPECT_RC(call, want)                                                 \
	do {                                                                  \
		int rc_ = (call);                                             \
		int want_ = (want);                                           \
		if (rc_ != want_)                                             \
			finding("%s returned %d, the model says %d", #call,   \
				rc_, want_);                                  \
	} while (0)

/*
 * Input bytes.
 */

static unsigned byte(void)
{
	return M.pos < M.size ? M.data[M.pos++] : 0;
}

/* An existing entry chosen by the next byte, or -1 if there is none. */
static int pick(void)
{
	unsigned b = byte();
	return M.n ? (int)(b % (unsigned)M.n) : -1;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Between two looks at the pool: yield at first, then sleep a little. */
static void pause_briefly(unsigned round)
{
	if (round < 64) {
		sched_yield();
		return;
	}
	struct timespec ts = {0, 20000};
	nanosleep(&ts, NULL);
}

/*
 * The bodies: held at their gate.
 */

static void *held(struct entry *e)
{
	atomic_fetch_add(&e->ran, 1);
	int64_t end = now_ns() + SETTLE_NS;
	while (!atomic_load(&e->gate)) {
		if (now_ns() > end) {
			fprintf(stderr, "a gate stayed closed\n");
			abort();
		}
		weft__futex_wait(&e->gate, 0, now_ns() + 1000000);
	}
	return e->will_fail ? weft_fail(EIO) : (void *)(e - M.e + 100);
}

static void *task_fn(void *arg)
{
	return held(arg);
}

static void *then_fn(weft_future *a, void *ctx)
{
	struct entry *e = ctx;
	if (a != M.e[e->ante].f)
		finding("a continuation got the wrong antecedent");
	return held(e);
}

static void open_gate(struct entry *e)
{
	atomic_store(&e->gate, 1);
	weft__futex_wake(&e->gate, 1);
}

static void count_cb(weft_future *f, void *ctx)
{
	struct entry *e = ctx;
	if (f != e->f)
		finding("a callback got the wrong future");
	atomic_fetch_add(&e->cb_got, 1);
}

static void delivered_cb(weft_future *f, void *ctx)
{
	struct entry *e = ctx;
	if (f != e->f)
		finding("a callback got the wrong future");
	atomic_fetch_add(&e->delivered, 1);
}

/* After a call created e->f. */
static void track(struct entry *e)
{
	EXPECT_RC(weft_future_on_done(e->f, delivered_cb, e), 0);
}

/*
 * The model.
 */

static bool is_final(unsigned s)
{
	return s >= WEFT_SUCCEEDED;
}

static bool final_e(int i)
{
	return is_final(M.e[i].m.state);
}

/* TASK/THEN pending and queued: the worker will start it, cancel it, or
 * pass its antecedent's failure on. */
static bool work_pending(const struct entry *e)
{
	return (e->kind == E_TASK || e->kind == E_THEN) &&
	       e->m.state == WEFT_PENDING && e->m.scheduled;
}

/* A pending THEN that completes without running: ON_SUCCESS after an
 * antecedent that did not succeed. */
static bool passes_on(const struct entry *e)
{
	return e->kind == E_THEN && e->on_success && final_e(e->ante) &&
	       M.e[e->ante].m.state != WEFT_SUCCEEDED;
}

/* Whether a combinator's condition holds. */
static bool join_holds(const struct entry *e)
{
	int done = 0;
	for (int k = 0; k < e->nin; k++)
		done += final_e(e->in[k]);
	return e->kind == E_ALL ? done == e->nin : done > 0;
}

static struct entry *new_entry(int kind)
{
	if (M.n >= MAXE)
		return NULL;
	struct entry *e = &M.e[M.n++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->ante = -1;
	e->m.state = WEFT_PENDING;
	return e;
}

/* f became final in the model (the caller checked reality). Schedules
 * the continuations it releases. */
static void model_final(int i, unsigned state)
{
	struct entry *e = &M.e[i];
	e->m.state = state;
	e->m.step = M.step;
	for (int k = 0; k < M.n; k++) {
		struct entry *c = &M.e[k];
		if (c->kind == E_THEN && c->ante == i && c->m.state == WEFT_PENDING)
			c->m.scheduled = true;
	}
}

/* The one entry the model has RUNNING, or -1. */
static int running(void)
{
	for (int i = 0; i < M.n; i++)
		if (M.e[i].m.state == WEFT_RUNNING)
			return i;
	return -1;
}

/* Compares a snapshot of reality with the model and applies the legal
 * moves it shows; on a disagreement writes why and returns false (the
 * model may then be half updated).
 *
 * The snapshot reads the futures newest first: a combinator, or a
 * continuation, completes (or starts) only after the futures it follows
 * did, so reading it first never shows it ahead of them. The model then
 * takes the moves oldest first, so those futures are up to date when it
 * looks at what follows them. */
static bool reconcile_try(char *why, size_t len)
{
	unsigned real_of[MAXE];
	for (int i = M.n - 1; i >= 0; i--)
		real_of[i] = (unsigned)weft_future_state(M.e[i].f);
#define DISAGREE(...)                                                         \
	do {                                                                  \
		snprintf(why, len, __VA_ARGS__);                              \
		return false;                                                 \
	} while (0)
	for (int i = 0; i < M.n; i++) {
		struct entry *e = &M.e[i];
		unsigned real = real_of[i];
		if (atomic_load(&e->ran) > 1)
			DISAGREE("e%d ran twice", i);
		if (real == e->m.state)
			continue;
		if (is_final(e->m.state))
			DISAGREE("e%d was final (%u) and is now %u", i,
				 e->m.state, real);
		if (e->m.state == WEFT_RUNNING) {
			if (!is_final(real))
				DISAGREE("e%d went from RUNNING to %u", i, real);
			if (!atomic_load(&e->gate))
				DISAGREE("e%d finished behind a closed gate", i);
			unsigned want = e->will_fail ? WEFT_FAILED
						     : WEFT_SUCCEEDED;
			if (real != want)
				DISAGREE("e%d finished %u, not %u", i, real,
					 want);
			model_final(i, real);
			continue;
		}
		/* PENDING in the model. */
		if (e->kind == E_ALL || e->kind == E_ANY) {
			if (real != WEFT_SUCCEEDED || !join_holds(e))
				DISAGREE("combinator e%d became %u (condition "
					 "%d)",
					 i, real, join_holds(e));
			if (e->kind == E_ANY) {
				void *r = NULL;
				weft_future_get(e->f, &r);
				intptr_t k = (intptr_t)r;
				if (k < 0 || k >= e->nin || !final_e(e->in[k]) ||
				    M.e[e->in[k]].m.step != M.step)
					DISAGREE("when_any e%d says input %ld "
						 "came first",
						 i, (long)k);
				for (int j = 0; j < k; j++)
					if (e->in[j] == e->in[k])
						DISAGREE("when_any e%d: not "
							 "the lowest index",
							 i);
			}
			model_final(i, real);
			continue;
		}
		if (!work_pending(e))
			DISAGREE("e%d (not queued) became %u", i, real);
		if (e->m.doomed) {
			if (real != WEFT_CANCELLED)
				DISAGREE("e%d, cancelled by shutdown, became "
					 "%u",
					 i, real);
			model_final(i, real);
		} else if (passes_on(e)) {
			if (real != M.e[e->ante].m.state)
				DISAGREE("e%d passed on %u, not its "
					 "antecedent's %u",
					 i, real, M.e[e->ante].m.state);
			model_final(i, real);
		} else if (real == WEFT_RUNNING) {
			e->m.state = WEFT_RUNNING; /* at most one: below */
			e->m.started = true;
		} else if (atomic_load(&e->gate)) {
			/* Started and finished between two looks. */
			unsigned want = e->will_fail ? WEFT_FAILED
						     : WEFT_SUCCEEDED;
			if (real != want)
				DISAGREE("e%d finished %u, not %u", i, real,
					 want);
			e->m.started = true;
			model_final(i, real);
		} else {
			DISAGREE("e%d became %u behind a closed gate", i, real);
		}
	}
	int nrunning = 0;
	for (int i = 0; i < M.n; i++)
		nrunning += M.e[i].m.state == WEFT_RUNNING;
	if (nrunning > 1)
		DISAGREE("%d tasks run at once on the only worker", nrunning);
#undef DISAGREE
	return true;
}

/* reconcile_try, again on a fresh snapshot before a disagreement counts:
 * a snapshot of several words is not atomic. */
static void reconcile(void)
{
	struct mstate saved[MAXE];
	char why[256];
	for (int attempt = 0;; attempt++) {
		for (int i = 0; i < M.n; i++)
			saved[i] = M.e[i].m;
		if (reconcile_try(why, sizeof(why)))
			return;
		for (int i = 0; i < M.n; i++)
			M.e[i].m = saved[i];
		if (attempt == 20)
			finding("%s", why);
		pause_briefly(64);
	}
}

/* Quiescent: the worker is held at a closed gate, or has nothing to do;
 * either way every completion so far has been delivered. */
static bool quiescent(void)
{
	int r = running();
	bool held = r >= 0 && !atomic_load(&M.e[r].gate);
	for (int i = 0; i < M.n; i++) {
		struct entry *e = &M.e[i];
		unsigned got = atomic_load(&e->cb_got);
		if (got > e->cb_want)
			finding("e%d: %u callbacks of %u", i, got, e->cb_want);
		unsigned d = atomic_load(&e->delivered);
		if (d > 1)
			finding("e%d: a callback ran %u times", i, d);
		if (is_final(e->m.state) && !d)
			return false;
		/* A callback on a future the model still has pending: the
		 * model lags (callbacks run after the final state is set);
		 * the next reconcile catches up. */
		if (is_final(e->m.state) ? got != e->cb_want : got != 0)
			return false;
		if ((e->kind == E_ALL || e->kind == E_ANY) &&
		    e->m.state == WEFT_PENDING && join_holds(e))
			return false;
		if (!held && (work_pending(e) || e->m.state == WEFT_RUNNING))
			return false;
	}
	return true;
}

static void settle(void)
{
	int64_t end = now_ns() + SETTLE_NS;
	for (unsigned round = 0;; round++) {
		reconcile();
		if (quiescent())
			return;
		if (now_ns() > end)
			finding("no quiescence after %lld s (a hang)",
				SETTLE_NS / 1000000000);
		pause_briefly(round);
	}
}

/* A completion on this thread (a cancel) resolves the combinators that
 * watch the future inside the call, in turn: so does the model. */
static void resolve_joins_now(void)
{
	for (bool changed = true; changed;) {
		changed = false;
		for (int i = 0; i < M.n; i++) {
			struct entry *e = &M.e[i];
			if ((e->kind == E_ALL || e->kind == E_ANY) &&
			    e->m.state == WEFT_PENDING && join_holds(e)) {
				model_final(i, WEFT_SUCCEEDED);
				e->m.sync = true;
				changed = true;
			}
		}
	}
}

/* Cancels entry i as weft_future_cancel does (the call was made). */
static bool model_cancel(int i)
{
	struct entry *e = &M.e[i];
	if (e->m.state == WEFT_CANCELLED)
		return true;
	if (e->m.state != WEFT_PENDING)
		return false;
	e->m.user_cancelled = true;
	e->m.sync = true;
	model_final(i, WEFT_CANCELLED);
	resolve_joins_now();
	return true;
}

/* Checks, right after a call that cancelled on this thread, that the
 * cancellations, the combinators they resolved and all their callbacks
 * happened inside the call. */
static void check_sync(void)
{
	for (int i = 0; i < M.n; i++) {
		struct entry *e = &M.e[i];
		if (!e->m.sync)
			continue;
		e->m.sync = false;
		if ((unsigned)weft_future_state(e->f) != e->m.state)
			finding("e%d is %d on return, not %u", i,
				weft_future_state(e->f), e->m.state);
		if (atomic_load(&e->cb_got) != e->cb_want)
			finding("e%d's callbacks did not run inside the call",
				i);
		if (e->kind == E_ANY && e->m.state == WEFT_SUCCEEDED) {
			void *r = NULL;
			weft_future_get(e->f, &r);
			intptr_t k = (intptr_t)r;
			if (k < 0 || k >= e->nin || !final_e(e->in[k]) ||
			    M.e[e->in[k]].m.step != M.step)
				finding("when_any e%d says input %ld came "
					"first",
					i, (long)k);
		}
	}
}

/*
 * The operations.
 */

static void op_submit(void)
{
	unsigned b = byte();
	struct entry *e = new_entry(E_TASK);
	if (!e)
		return;
	e->will_fail = b & 1;
	if (b & 2)
		atomic_store(&e->gate, 1); /* runs straight through */
	tracef("e%d = submit(fail %d, open %d)\n", M.n - 1, e->will_fail,
	       (b & 2) != 0);
	int rc = weft_submit(M.p, task_fn, e, &e->f);
	EXPECT_RC(rc, M.shutdown ? -ESHUTDOWN : 0);
	if (rc) {
		M.n--;
		return;
	}
	e->m.scheduled = true;
	e->m.doomed = M.cancel_pending;
	track(e);
}

/* A combinator's pool is its first input's; when_all of nothing has
 * none (weft_future_then refuses it). */
static bool has_pool(int i)
{
	while (M.e[i].kind == E_ALL || M.e[i].kind == E_ANY) {
		if (!M.e[i].nin)
			return false;
		i = M.e[i].in[0];
	}
	return true;
}

static void op_then(void)
{
	int a = pick();
	unsigned b = byte();
	if (a < 0)
		return;
	struct entry *e = new_entry(E_THEN);
	if (!e)
		return;
	e->ante = a;
	e->on_success = b & 1;
	e->will_fail = b & 2;
	if (b & 4)
		atomic_store(&e->gate, 1);
	tracef("e%d = then(e%d, on_success %d, fail %d, open %d)\n", M.n - 1,
	       a, e->on_success, e->will_fail, (b & 4) != 0);
	int want = 0;
	if (!has_pool(a))
		want = -EINVAL;
	else if (final_e(a) && M.shutdown)
		want = -ESHUTDOWN;
	int rc = weft_future_then(M.e[a].f, then_fn, e,
				  e->on_success ? WEFT_THEN_ON_SUCCESS : 0,
				  &e->f);
	EXPECT_RC(rc, want);
	if (rc) {
		M.n--;
		return;
	}
	e->m.scheduled = final_e(a);
	e->m.doomed = M.cancel_pending;
	track(e);
}

static void op_on_done(void)
{
	int i = pick();
	if (i < 0)
		return;
	struct entry *e = &M.e[i];
	tracef("on_done(e%d)\n", i);
	unsigned before = atomic_load(&e->cb_got);
	EXPECT_RC(weft_future_on_done(e->f, count_cb, e), 0);
	e->cb_want++;
	/* On a done future it runs at once, here. */
	if (final_e(i) && atomic_load(&e->cb_got) != before + 1)
		finding("on_done on done e%d did not run at once", i);
}

static void op_cancel(void)
{
	int i = pick();
	if (i < 0)
		return;
	tracef("cancel(e%d)\n", i);
	bool got = weft_future_cancel(M.e[i].f);
	bool want = model_cancel(i);
	if (got != want)
		finding("cancel(e%d) returned %d, the model says %d", i, got,
			want);
	check_sync();
}

static void op_open(void)
{
	int i = pick();
	if (i < 0)
		return;
	tracef("open(e%d)\n", i);
	open_gate(&M.e[i]);
}

static int expected_get(int i, void **want_result)
{
	struct entry *e = &M.e[i];
	*want_result = NULL;
	switch (e->m.state) {
	case WEFT_SUCCEEDED:
		if (e->kind == E_TASK || e->kind == E_THEN)
			*want_result = (void *)(intptr_t)(i + 100);
		return 0;
	case WEFT_FAILED:
		return -EIO;
	default:
		return -ECANCELED;
	}
}

static void op_wait_one(void)
{
	int i = pick();
	unsigned b = byte();
	if (i < 0)
		return;
	struct entry *e = &M.e[i];
	tracef("wait(e%d, mode %u)\n", i, b % 3);
	switch (b % 3) {
	case 0:
		EXPECT_RC(weft_future_wait(e->f, 0),
			  final_e(i) ? 0 : -ETIMEDOUT);
		break;
	case 1:
		EXPECT_RC(weft_future_wait(e->f, 100000),
			  final_e(i) ? 0 : -ETIMEDOUT);
		break;
	default:
		if (final_e(i)) {
			void *want, *got = NULL;
			int rc = expected_get(i, &want);
			EXPECT_RC(weft_future_get(e->f, &got), rc);
			if (rc == 0 && e->kind != E_ANY && got != want)
				finding("get(e%d) result %p, want %p", i, got,
					want);
		}
	}
}

/* Up to MAXIN entries (repeats allowed), from a mask byte and picks. */
static int pick_set(int *in)
{
	unsigned n = byte() % (MAXIN + 1);
	int m = 0;
	for (unsigned k = 0; k < n; k++) {
		int i = pick();
		if (i >= 0)
			in[m++] = i;
	}
	return m;
}

static void op_wait_many(void)
{
	int in[MAXIN];
	int n = pick_set(in);
	unsigned b = byte();
	enum weft_return_when when = (enum weft_return_when)(b % 3);
	weft_future *fs[MAXIN];
	int done = 0, failed = 0;
	for (int k = 0; k < n; k++) {
		fs[k] = M.e[in[k]].f;
		done += final_e(in[k]);
		failed += M.e[in[k]].m.state == WEFT_FAILED;
	}
	bool holds = when == WEFT_ALL_COMPLETED ? done == n :
		     when == WEFT_FIRST_COMPLETED ? done > 0 || n == 0 :
						    failed > 0 || done == n;
	tracef("weft_wait(%d futures, when %d)\n", n, when);
	EXPECT_RC(weft_wait(fs, (size_t)n, when, (b & 4) ? 100000 : 0),
		  holds ? 0 : -ETIMEDOUT);
}

static void op_join(bool any)
{
	int in[MAXIN];
	int n = pick_set(in);
	weft_future *fs[MAXIN];
	for (int k = 0; k < n; k++)
		fs[k] = M.e[in[k]].f;
	if (any && n == 0) {
		weft_future *o = NULL;
		tracef("when_any(nothing)\n");
		EXPECT_RC(weft_when_any(fs, 0, &o), -EINVAL);
		return;
	}
	struct entry *e = new_entry(any ? E_ANY : E_ALL);
	if (!e)
		return;
	memcpy(e->in, in, sizeof(in));
	e->nin = n;
	tracef("e%d = %s(%d inputs)\n", M.n - 1, any ? "when_any" : "when_all",
	       n);
	EXPECT_RC(any ? weft_when_any(fs, (size_t)n, &e->f) :
			weft_when_all(fs, (size_t)n, &e->f),
		  0);
	if (join_holds(e)) {
		/* Resolved inside the call. */
		if (weft_future_state(e->f) != WEFT_SUCCEEDED)
			finding("a satisfied combinator is pending");
		if (any) {
			void *r = NULL;
			weft_future_get(e->f, &r);
			int first = 0;
			while (!final_e(in[first]))
				first++;
			if ((intptr_t)r != first)
				finding("when_any of done futures: index %ld, "
					"want %d",
					(long)(intptr_t)r, first);
		}
		model_final(M.n - 1, WEFT_SUCCEEDED);
	}
	track(e);
}

static bool ac_member(int i)
{
	for (int k = 0; k < M.ac_nmem; k++)
		if (M.ac_mem[k] == i)
			return true;
	return false;
}

static void ac_destroy(void)
{
	weft_as_completed_destroy(M.it);
	M.it = NULL;
	M.ac_nmem = M.ac_ninit = M.ac_init_pos = 0;
	M.ac_timed_out = false;
}

static void op_ac_create(void)
{
	int in[MAXIN];
	int n = pick_set(in);
	unsigned b = byte();
	if (M.it)
		ac_destroy();
	weft_future *fs[MAXIN];
	for (int k = 0; k < n; k++)
		fs[k] = M.e[in[k]].f;
	M.ac_deadline0 = b & 1;
	tracef("as_completed_create(%d futures, deadline %s)\n", n,
	       M.ac_deadline0 ? "0" : "none");
	EXPECT_RC(weft_as_completed_create(fs, (size_t)n,
					   M.ac_deadline0 ? 0 : WEFT_FOREVER,
					   &M.it),
		  0);
	for (int k = 0; k < n; k++) {
		int i = in[k];
		if (ac_member(i))
			continue;
		M.ac_yielded[i] = false;
		M.ac_step[i] = 0;
		M.ac_mem[M.ac_nmem++] = i;
		if (final_e(i))
			M.ac_init[M.ac_ninit++] = i;
	}
}

static void op_ac_add(void)
{
	int i = pick();
	if (i < 0 || !M.it)
		return;
	tracef("as_completed_add(e%d)\n", i);
	EXPECT_RC(weft_as_completed_add(M.it, M.e[i].f), 0);
	if (ac_member(i))
		return;
	M.ac_yielded[i] = false;
	M.ac_mem[M.ac_nmem++] = i;
	M.ac_step[i] = M.step; /* if done now, it is queued now */
}

/* When member i was queued: its step, unless it was added done. */
static uint32_t ac_queued(int i)
{
	uint32_t s = M.e[i].m.step;
	return M.ac_step[i] > s ? M.ac_step[i] : s;
}

static void ac_next(bool may_block)
{
	int avail = -1, pending = 0, left = 0;
	for (int k = 0; k < M.ac_nmem; k++) {
		int i = M.ac_mem[k];
		if (M.ac_yielded[i])
			continue;
		left++;
		if (!final_e(i))
			pending++;
		else if (avail < 0 || ac_queued(i) < ac_queued(avail))
			avail = i;
	}
	weft_future *f = NULL;
	if (!left) {
		EXPECT_RC(weft_as_completed_next(M.it, &f), 0);
		return;
	}
	if (M.ac_timed_out) {
		EXPECT_RC(weft_as_completed_next(M.it, &f), -ETIMEDOUT);
		return;
	}
	if (avail < 0) {
		if (!M.ac_deadline0 && !may_block)
			return; /* it would wait for a completion */
		if (M.ac_deadline0) {
			EXPECT_RC(weft_as_completed_next(M.it, &f), -ETIMEDOUT);
			M.ac_timed_out = true;
			return;
		}
	}
	EXPECT_RC(weft_as_completed_next(M.it, &f), 1);
	int got = -1;
	for (int k = 0; k < M.ac_nmem; k++)
		if (M.e[M.ac_mem[k]].f == f)
			got = M.ac_mem[k];
	if (got < 0 || M.ac_yielded[got] || !final_e(got))
		finding("as_completed yielded e%d (not a member, twice, or "
			"pending)",
			got);
	if (M.ac_init_pos < M.ac_ninit) {
		if (got != M.ac_init[M.ac_init_pos])
			finding("as_completed yielded e%d before e%d, done at "
				"create",
				got, M.ac_init[M.ac_init_pos]);
		M.ac_init_pos++;
	} else if (ac_queued(got) != ac_queued(avail)) {
		finding("as_completed yielded e%d (step %u) before e%d (step "
			"%u)",
			got, ac_queued(got), avail, ac_queued(avail));
	}
	M.ac_yielded[got] = true;
}

static void op_ac_next(void)
{
	if (!M.it)
		return;
	tracef("as_completed_next\n");
	ac_next(false);
}

static void op_map(void)
{
	unsigned b = byte();
	unsigned n = 1 + b % 4;
	if (M.n + (int)n > MAXE)
		return;
	void *args[4];
	weft_future *out[4];
	int first = M.n;
	for (unsigned k = 0; k < n; k++) {
		struct entry *e = new_entry(E_TASK);
		e->will_fail = (b >> (2 + k)) & 1;
		atomic_store(&e->gate, 1);
		args[k] = e;
	}
	tracef("e%d.. = map(%u)\n", first, n);
	int rc = weft_map(M.p, task_fn, args, n, out);
	EXPECT_RC(rc, M.shutdown ? -ESHUTDOWN : 0);
	if (rc) {
		M.n = first;
		return;
	}
	for (unsigned k = 0; k < n; k++) {
		M.e[first + (int)k].f = out[k];
		M.e[first + (int)k].m.scheduled = true;
		M.e[first + (int)k].m.doomed = M.cancel_pending;
		track(&M.e[first + (int)k]);
	}
}

static void op_gather(void)
{
	int in[MAXIN];
	int n = pick_set(in);
	weft_future *fs[MAXIN];
	for (int k = 0; k < n; k++)
		fs[k] = M.e[in[k]].f;
	/* The model: in order, stop at the first not done (cancel it and
	 * the rest), or failed/cancelled (cancel the rest). */
	int want = 0, at = n, cancel_from = n;
	for (int k = 0; k < n; k++) {
		if (!final_e(in[k])) {
			want = -ETIMEDOUT;
			at = cancel_from = k;
			break;
		}
		void *r;
		int rc = expected_get(in[k], &r);
		if (rc) {
			want = rc;
			at = k;
			cancel_from = k + 1;
			break;
		}
	}
	tracef("gather(%d futures)\n", n);
	size_t got_at = 99;
	void *results[MAXIN];
	EXPECT_RC(weft_gather(fs, (size_t)n, results, 0, &got_at), want);
	if (got_at != (size_t)at)
		finding("gather stopped at %zu, the model says %d", got_at, at);
	for (int k = cancel_from; k < n; k++)
		model_cancel(in[k]);
	check_sync();
}

static void push_item(unsigned v)
{
	v %= MAXITEMS;
	tracef("push(%u)\n", v);
	int want = M.closed			  ? -EPIPE :
		   M.shutdown			  ? -ESHUTDOWN :
		   M.npushed - M.npopped >= M.capacity ? -ETIMEDOUT :
							    0;
	if (want == 0 && M.items[v].pushed)
		return; /* each value once */
	EXPECT_RC(weft_pipeline_push(M.pl, (void *)(uintptr_t)v, 0), want);
	if (want == 0) {
		M.items[v].pushed = true;
		M.items[v].seq = M.npushed++;
	}
}

static void op_push(void)
{
	push_item(byte());
}

/* Checks one popped item against the model. */
static void check_pop(int rc, void *item)
{
	uintptr_t v = (uintptr_t)item;
	unsigned id = (unsigned)(v % 1000);
	if (id >= MAXITEMS || !M.items[id].pushed || M.items[id].popped)
		finding("pop returned %lu (rc %d): never pushed, or twice",
			(unsigned long)v, rc);
	if (M.pl_ordered) {
		for (unsigned k = 0; k < MAXITEMS; k++)
			if (M.items[k].pushed && !M.items[k].popped &&
			    M.items[k].seq < M.items[id].seq)
				finding("ordered pop returned %u before %u", id,
					k);
	}
	bool fails = M.nstages > 0 && id % 5 == 0;
	uintptr_t want = fails ? id : id + 1000u * M.nstages;
	if (rc == -ECANCELED) {
		if (!M.cancel_pending || v % 1000 != id || v / 1000 > M.nstages)
			finding("pop: item %u cancelled (value %lu)", id,
				(unsigned long)v);
	} else if (rc != (fails ? -EIO : 1) || v != want) {
		finding("pop: item %u came out as %d/%lu, want %d/%lu", id, rc,
			(unsigned long)v, fails ? -EIO : 1,
			(unsigned long)want);
	}
	M.items[id].popped = true;
	M.npopped++;
}

static void op_pop(void)
{
	tracef("pop\n");
	void *item = NULL;
	int r = running();
	bool worker_free = r < 0 || atomic_load(&M.e[r].gate);
	if (M.npushed == M.npopped) {
		EXPECT_RC(weft_pipeline_pop(M.pl, &item, 0),
			  M.closed ? 0 : -ETIMEDOUT);
		return;
	}
	/* With the worker free every item comes through; behind a closed
	 * gate it may or may not have. */
	int rc = weft_pipeline_pop(M.pl, &item, worker_free ? SETTLE_NS : 0);
	if (rc == -ETIMEDOUT) {
		if (worker_free)
			finding("pop timed out with the worker free");
		return;
	}
	check_pop(rc, item);
}

static void op_close(void)
{
	tracef("close\n");
	EXPECT_RC(weft_pipeline_close(M.pl), 0);
	M.closed = true;
}

static void open_all(void)
{
	for (int i = 0; i < M.n; i++)
		open_gate(&M.e[i]);
}

static void op_shutdown(void)
{
	unsigned b = byte();
	unsigned flags = b & 3;
	tracef("shutdown(%u)\n", flags);
	if (flags & WEFT_SHUTDOWN_CANCEL_PENDING) {
		M.cancel_pending = true;
		for (int i = 0; i < M.n; i++) {
			struct entry *e = &M.e[i];
			if ((e->kind == E_TASK || e->kind == E_THEN) &&
			    e->m.state == WEFT_PENDING)
				e->m.doomed = true;
		}
	}
	M.shutdown = true;
	if (flags & WEFT_SHUTDOWN_WAIT) {
		/* WAIT waits for every task, so the gates must open, but
		 * only once CANCEL_PENDING has taken effect: a first call
		 * without WAIT, then the gates, then the call again (a later
		 * call may add flags). */
		if (flags & WEFT_SHUTDOWN_CANCEL_PENDING)
			EXPECT_RC(weft_pool_shutdown(
					  M.p, WEFT_SHUTDOWN_CANCEL_PENDING),
				  0);
		open_all();
	}
	EXPECT_RC(weft_pool_shutdown(M.p, flags), 0);
}

/* Calls with bad arguments: the documented error, and no effect. */
static void op_bad(void)
{
	unsigned b = byte();
	int i = pick();
	weft_future *f = i >= 0 ? M.e[i].f : NULL;
	weft_future *o = NULL;
	void *item;
	tracef("bad(%u)\n", b % 10);
	switch (b % 10) {
	case 0:
		EXPECT_RC(weft_submit(M.p, NULL, NULL, &o), -EINVAL);
		break;
	case 1:
		if (f)
			EXPECT_RC(weft_future_then(f, then_fn, NULL, 2, &o),
				  -EINVAL);
		break;
	case 2:
		if (f)
			EXPECT_RC(weft_future_wait(f, -2), -EINVAL);
		break;
	case 3:
		EXPECT_RC(weft_wait(&f, f ? 1 : 0, (enum weft_return_when)7, 0),
			  -EINVAL);
		break;
	case 4:
		EXPECT_RC(weft_pipeline_pop(M.pl, &item, -5), -EINVAL);
		break;
	case 5:
		EXPECT_RC(weft_pipeline_stage(M.pl, "late", NULL, NULL, 0, 0),
			  -EINVAL);
		break;
	case 6:
		EXPECT_RC(weft_pool_shutdown(M.p, 8), -EINVAL);
		break;
	case 7:
		if (f)
			EXPECT_RC(weft_future_on_done(f, NULL, NULL), -EINVAL);
		break;
	case 8:
		EXPECT_RC(weft_gather(&f, 1, NULL, -3, NULL), -EINVAL);
		break;
	default:
		if (f && M.it)
			EXPECT_RC(weft_as_completed_add(M.it, NULL), -EINVAL);
	}
	if (o)
		finding("a rejected call wrote *out");
}

/*
 * The pipeline's stage: adds 1000; fails every fifth item at the first
 * stage.
 */
static void *stage_fn(void *item, void *ctx)
{
	uintptr_t v = (uintptr_t)item;
	if (ctx == NULL && v % 5 == 0)
		return weft_fail(EIO);
	return (void *)(v + 1000);
}

static void setup(void)
{
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = 1;
	cfg.name = "fuzz";
	cfg.spin_ns = 0;
	if (weft_pool_create(&M.p, &cfg))
		finding("pool_create failed");
	unsigned b = byte();
	M.capacity = 1 + (b & 3);
	M.pl_ordered = b & 4;
	M.nstages = (b >> 3) % 3;
	tracef("pipeline(capacity %zu, ordered %d, %u stages, b=%u)\n",
	       M.capacity, M.pl_ordered, M.nstages, b);
	EXPECT_RC(weft_pipeline_create(M.p, M.capacity,
				       M.pl_ordered ? WEFT_PIPELINE_ORDERED : 0,
				       &M.pl),
		  0);
	for (unsigned k = 0; k < M.nstages; k++) {
		/* 0: unbounded, 1: ordered, 2: one at a time */
		unsigned form = (b >> (5 + 2 * k)) % 3;
		EXPECT_RC(weft_pipeline_stage(M.pl, NULL, stage_fn,
					      k ? (void *)1 : NULL,
					      form == 2 ? 1 : 0,
					      form == 1 ? WEFT_STAGE_ORDERED : 0),
			  0);
	}
}

static void teardown(void)
{
	tracef("teardown\n");
	M.step++;
	open_all();
	EXPECT_RC(weft_pool_shutdown(M.p, WEFT_SHUTDOWN_WAIT), 0);
	M.shutdown = true;
	settle();
	for (int i = 0; i < M.n; i++) {
		struct entry *e = &M.e[i];
		if (!final_e(i))
			finding("e%d is not final after the drain", i);
		bool by_body = (e->kind == E_TASK || e->kind == E_THEN) &&
			       !e->m.user_cancelled && !e->m.doomed &&
			       !passes_on(e);
		if (atomic_load(&e->ran) != (by_body ? 1u : 0u) &&
		    !(e->m.doomed && e->m.started))
			finding("e%d ran %u times", i, atomic_load(&e->ran));
		void *want, *got = NULL;
		int rc = expected_get(i, &want);
		EXPECT_RC(weft_future_get(e->f, &got), rc);
	}
	if (M.it) {
		/* Everything is done: next yields the rest, then 0 (or keeps
		 * saying -ETIMEDOUT once it has). */
		for (;;) {
			int left = 0;
			for (int k = 0; k < M.ac_nmem; k++)
				left += !M.ac_yielded[M.ac_mem[k]];
			bool last = !left || M.ac_timed_out;
			ac_next(true);
			if (last)
				break;
		}
		ac_destroy();
	}
	EXPECT_RC(weft_pipeline_close(M.pl), 0);
	M.closed = true;
	while (M.npopped < M.npushed) {
		void *item = NULL;
		int rc = weft_pipeline_pop(M.pl, &item, 0);
		if (rc == 0 || rc == -ETIMEDOUT)
			finding("pop returned %d with %u items inside", rc,
				M.npushed - M.npopped);
		check_pop(rc, item);
	}
	void *item;
	EXPECT_RC(weft_pipeline_pop(M.pl, &item, 0), 0);
	EXPECT_RC(weft_pipeline_destroy(M.pl), 0);
	EXPECT_RC(weft_pool_destroy(M.p), 0);
	for (int i = 0; i < M.n; i++)
		weft_future_release(M.e[i].f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	memset(&M, 0, sizeof(M));
	M.data = data;
	M.size = size;
	setup();
	while (M.pos < M.size) {
		M.step++;
		unsigned op = byte();
		switch (op % 17) {
		case 0:
		case 1:
			op_submit();
			break;
		case 2:
			op_then();
			break;
		case 3:
			op_on_done();
			break;
		case 4:
			op_cancel();
			break;
		case 5:
		case 6:
			op_open();
			break;
		case 7:
			op_wait_one();
			break;
		case 8:
			op_wait_many();
			break;
		case 9:
			op_join(op & 32);
			break;
		case 10:
			op_ac_create();
			break;
		case 11:
			if (op & 32)
				op_ac_add();
			else
				op_ac_next();
			break;
		case 12:
			op_map();
			break;
		case 13:
			op_gather();
			break;
		case 14:
			if (op & 32)
				op_push();
			else if (op & 64)
				op_close();
			else
				op_pop();
			break;
		case 15:
			if (op & 32)
				op_shutdown();
			else
				op_push();
			break;
		default:
			op_bad();
		}
		settle();
	}
	teardown();
	return 0;
}
