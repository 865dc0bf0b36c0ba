/*
 * The worker: its scheduling loop, stealing, searching, parking, running
 * a task, and helping while it waits on a future. The parking and gate
 * protocols are described in internal.h.
 *
 * Loop: own deque (LIFO) -> own injection queue (first, every
 * INJECT_EVERY local tasks, so external work is never starved) -> random
 * victims' deques and injection queues -> search for spin_ns -> park.
 * Each turn reports an RCU quiescent state; a worker is RCU-offline while
 * it sleeps.
 */
#include <errno.h>
#include <limits.h>
#include <time.h>
#include <unistd.h>

#include <sys/prctl.h>

#include <urcu/urcu-qsbr.h>

#include "future/futex.h"
#include "future/tsan.h"
#include "runtime/internal.h"
#include "runtime/probes.h"
#include "runtime/trace.h"

#define INJECT_EVERY 61u
/* A searching worker yields its CPU this often. */
#define SEARCH_YIELD_NS 5000
#define STEAL_RETRIES 4
/* A worker that waits on a future with nothing to run sleeps at most this
 * long before it looks at the queues again: work injected into its queue
 * while it sleeps does not wake it (only parked workers are woken). */
#define HELP_SLEEP_NS 1000000

static WEFT__TLS struct weft__worker *tls_self;

struct weft__worker *weft__self(void)
{
	return tls_self;
}

int weft_worker_index(void)
{
	return tls_self ? (int)tls_self->index : -1;
}

weft_pool *weft_current_pool(void)
{
	return tls_self ? tls_self->pool : NULL;
}

/*
 * Waking.
 */

static void wake(weft_pool *p, int n)
{
	WEFT__PROBE2(wake, p, weft__probe_reg(n));
	/* (N2) seq_cst: the epoch change makes a sleeper's futex wait (on
	 * the key it read at (P2)) fail or wake; ordered after (N1). */
	atomic_fetch_add_explicit(&p->epoch, 1, memory_order_seq_cst);
	weft__futex_wake(&p->epoch, n);
}

void weft__notify(weft_pool *p)
{
	/* (N1) seq_cst fence: orders the caller's publication of a task
	 * before the load of idle below; pairs with (P1), the sleeper's
	 * seq_cst RMW before its re-check. Litmus: submitter "publish; F;
	 * r1 = idle", sleeper "idle += SLEEPER; r2 = queues": r1 missing the
	 * sleeper and r2 missing the task cannot both happen. */
	weft__fence_seq_cst();
	/* relaxed: ordered by the fence (N1) above. */
	uint32_t idle = atomic_load_explicit(&p->idle, memory_order_relaxed);
	if (idle >= WEFT__IDLE_SLEEPER && !(idle & (WEFT__IDLE_SLEEPER - 1)))
		wake(p, 1);
}

void weft__wake_all(weft_pool *p)
{
	wake(p, INT_MAX);
}

/*
 * Finding work.
 */

static uint64_t next_random(struct weft__worker *w)
{
	/* xorshift64 */
	uint64_t x = w->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return w->rng = x;
}

static struct weft_future *pop_injected(struct weft__worker *w,
					struct weft__worker *from)
{
	struct weft_future *t = weft__inject_pop(from);
	if (t) {
		weft__count(&w->stats.injected);
		weft__count(&w->stats.submitted);
	}
	return t;
}

static struct weft_future *steal_from(struct weft__worker *w,
				      struct weft__worker *v)
{
	if (v == w->avoid) {
		if (weft__now_ns() < w->avoid_until)
			return pop_injected(w, v);
		w->avoid = NULL;
	}
	for (int i = 0; i < STEAL_RETRIES; i++) {
		void *x;
		weft__count(&w->stats.steal_attempts);
		enum weft__steal_result r = weft__deque_steal(&v->deque, &x);
		if (r == WEFT__STEAL_OK) {
			weft__count(&w->stats.stolen);
			w->stolen_from = v;
			WEFT__PROBE4(steal, w->pool, w->index, x, v->index);
			weft__trace_note(w, WEFT__EV_STEAL, x, v->index);
			return x;
		}
		if (r == WEFT__STEAL_EMPTY)
			break;
	}
	return pop_injected(w, v);
}

static struct weft_future *steal(struct weft__worker *w)
{
	weft_pool *p = w->pool;
	unsigned n = p->nworkers;
	if (n == 1)
		return NULL;
	unsigned start = (unsigned)(next_random(w) % n);
	for (unsigned i = 0; i < n; i++) {
		struct weft__worker *v = &p->workers[(start + i) % n];
		if (v == w)
			continue;
		struct weft_future *t = steal_from(w, v);
		if (t)
			return t;
	}
	return NULL;
}

static struct weft_future *find_work(struct weft__worker *w)
{
	struct weft_future *t;
	if (++w->local_run >= INJECT_EVERY) {
		w->local_run = 0;
		t = pop_injected(w, w);
		if (t)
			return t;
	}
	t = weft__deque_take(&w->deque);
	if (t)
		return t;
	t = pop_injected(w, w);
	if (t)
		return t;
	return steal(w);
}

/* Conservative: true if any queue of the pool may hold a task. */
static bool pool_has_work(weft_pool *p)
{
	for (unsigned i = 0; i < p->nworkers; i++) {
		struct weft__worker *v = &p->workers[i];
		if (weft__deque_size(&v->deque) > 0 || !weft__inject_empty(v))
			return true;
	}
	return false;
}

/*
 * Running.
 */

/* An observed pool (runtime/trace.h): around a started task's body,
 * its schedule latency and busy time with timing, its slice when traced.
 * Out of line, so that the body's one call site stays on the fast path
 * (inlined there), with the observation as a call on either side. */
struct observed_run {
	uint64_t stamp; /* the ready stamp */
	uintptr_t fn;
	int64_t start;
};

static __attribute__((noinline)) void
observe_begin(struct weft__worker *w, struct weft_future *t, uint32_t observe,
	      struct observed_run *o)
{
	/* result holds the stamp until t finishes. */
	o->stamp = (uint64_t)(uintptr_t)t->result;
	o->fn = (uintptr_t)t->u.fn;
	o->start = weft__now_ns();
	if (observe & WEFT__OBSERVE_TIMING) {
		int64_t ready = (int64_t)(o->stamp & ~WEFT__STAMP_EXTERNAL);
		weft__count(&w->timing.sched_latency[weft__latency_bucket(
			o->stamp ? o->start - ready : 0)]);
		w->run_depth++;
	}
}

static __attribute__((noinline)) void
observe_end(struct weft__worker *w, struct weft_future *t, uint32_t observe,
	    const struct observed_run *o, bool ran)
{
	int64_t end = weft__now_ns();
	if ((observe & WEFT__OBSERVE_TIMING) && --w->run_depth == 0) {
		_Atomic uint64_t *busy = &w->timing.busy_ns;
		/* relaxed: only this worker writes its timing. */
		atomic_store_explicit(
			busy,
			atomic_load_explicit(busy, memory_order_relaxed) +
				(uint64_t)(end - o->start),
			memory_order_relaxed);
	}
	if (ran && (observe & WEFT__OBSERVE_TRACE)) {
		struct weft__trace_event e = {.ts = o->start,
					      .dur = end - o->start,
					      .stamp = o->stamp,
					      .fn = o->fn,
					      .task = t,
					      .kind = WEFT__EV_TASK};
		weft__trace_put(w, &e);
	}
}

void weft__run(struct weft__worker *w, struct weft_future *t)
{
	weft_pool *p = w->pool;
	/* relaxed: see cancel_pending in internal.h. */
	if (atomic_load_explicit(&p->cancel_pending, memory_order_relaxed))
		weft__future_cancel(t);
	if (!weft__future_start(t)) {
		weft__count(&w->stats.cancelled);
		weft__future_retire(t);
		return;
	}
	WEFT__PROBE4(start, p, w->index, t, t->u.fn);
	void *result;
	bool ran;
	/* Read once: the same value decides both calls (TIMING never
	 * changes, so run_depth stays balanced). */
	uint32_t observe = weft__observe(p);
	struct observed_run o;
	if (__builtin_expect(observe != 0, 0))
		observe_begin(w, t, observe, &o);
	unsigned final = weft__future_execute(t, &result, &ran);
	if (__builtin_expect(observe != 0, 0))
		observe_end(w, t, observe, &o, ran);
	if (ran)
		weft__count(&w->stats.executed);
	if (final == WEFT_FAILED)
		weft__count(&w->stats.failed);
	else if (final == WEFT_CANCELLED)
		weft__count(&w->stats.cancelled);
	weft__future_finish(t, final, result);
	WEFT__PROBE4(finish, p, w->index, t, final);
	weft__future_retire(t);
}

/* Runs a task stolen from another worker's deque, and leaves that worker
 * alone for a while after TINY_RUN tiny tasks in a row from it. A worker
 * that pushes many tiny tasks (a callback that submits a follow-up per
 * result) had a thief take each one as soon as it was pushed: every push
 * and every steal then moved the deque's lines and the task between the
 * CPUs, and both ran several times slower than the owner alone (10,000
 * follow-ups: 0.13 ms pushed alone, 0.35-0.95 ms against the thief). Left
 * alone, the owner pushes and then runs them from its own deque; the
 * thief still comes back every AVOID_NS, so tiny tasks behind an owner
 * that blocks keep running, and once it sees that the owner has neither
 * run, pushed nor taken a task since its last pause (blocked outside
 * weft), it takes them without pausing. The time includes the helping a
 * task does while it waits, so a stolen task that spawns and waits is
 * not tiny.
 *
 * If the victim finished no task of its own during the run, it is inside
 * one task that keeps pushing, and the thief sleeps through the pause
 * (search) instead of spinning: a thread woken meanwhile (the one waiting
 * for those tasks) can then have this CPU rather than queue behind the
 * pusher. A victim that runs tiny tasks itself (a thin tree) is left
 * alone with a spin only: sleeping there lost a tenth of uts-bin. */
#define TINY_NS 1000
#define TINY_RUN 4
#define AVOID_NS 20000

static void run_stolen(struct weft__worker *w, struct weft_future *t)
{
	struct weft__worker *v = w->stolen_from;
	int64_t start = weft__now_ns();
	weft__run(w, t);
	int64_t end = weft__now_ns();
	if (end - start >= TINY_NS) {
		w->tiny_run = 0;
		return;
	}
	/* In a row: from the same victim, each soon after the last. */
	if (v != w->tiny_victim || start - w->tiny_last > AVOID_NS)
		w->tiny_run = 0;
	w->tiny_victim = v;
	w->tiny_last = end;
	/* relaxed: a snapshot of the victim's own counter; it only tells
	 * whether the victim finished a task meanwhile. */
	uint64_t executed = atomic_load_explicit(&v->stats.executed,
						 memory_order_relaxed);
	if (w->tiny_run++ == 0)
		w->tiny_victim_executed = executed;
	if (w->tiny_run < TINY_RUN)
		return;
	w->tiny_run = 0;
	/* A victim that has neither run a task nor pushed or taken one since
	 * the last pause is not racing this thief: it is blocked, and only
	 * thieves can run what its deque holds, so take them all. */
	int64_t bottom = weft__deque_bottom(&v->deque);
	bool blocked = v == w->paused && executed == w->paused_executed &&
		       bottom == w->paused_bottom;
	w->paused = v;
	w->paused_executed = executed;
	w->paused_bottom = bottom;
	if (blocked)
		return;
	w->avoid = v;
	w->avoid_until = end + AVOID_NS;
	w->avoid_nap = executed == w->tiny_victim_executed;
}

/*
 * Searching and parking.
 */

static uint32_t idle_add(weft_pool *p, uint32_t delta)
{
	/* (P1) seq_cst: moving between searching, sleeping and working is
	 * ordered against (N1) in notify; see internal.h. */
	uint32_t idle = atomic_fetch_add_explicit(&p->idle, delta,
						  memory_order_seq_cst);
	/* (P1) seq_cst fence: the callers' re-checks of the queues are
	 * plain or relaxed loads; the fence orders them after the RMW above
	 * and pairs with (N1), the submitter's fence, Dekker style. On
	 * x86-64 the locked RMW already is one; C11 asks for the fence. */
	weft__fence_seq_cst();
	return idle + delta;
}

/* Becomes a searcher unless half the workers, or two, already search
 * (never more than the pool has). Two, not one: with a single searcher a
 * burst of tasks reaches a second worker only through a wake-up, which
 * costs more than a short burst itself (12-24 us on a 2-CPU VM), so a
 * small pool ran short bursts on one worker. */
static bool begin_search(weft_pool *p)
{
	unsigned cap = p->nworkers / 2 > 2 ? p->nworkers / 2 : 2;
	if (cap > p->nworkers)
		cap = p->nworkers;
	/* relaxed: a snapshot to start the CAS from. */
	uint32_t idle = atomic_load_explicit(&p->idle, memory_order_relaxed);
	do {
		if ((idle & (WEFT__IDLE_SLEEPER - 1)) >= cap)
			return false;
		/* (P1) seq_cst: as in idle_add. */
	} while (!atomic_compare_exchange_weak_explicit(
		&p->idle, &idle, idle + WEFT__IDLE_SEARCHING,
		memory_order_seq_cst, memory_order_relaxed));
	return true;
}

static bool has_sleepers(weft_pool *p)
{
	/* relaxed: a snapshot. Should a worker become a sleeper after this
	 * load, the yielding searcher still searches again after its yield,
	 * and the new sleeper re-checks every queue before it sleeps. */
	return atomic_load_explicit(&p->idle, memory_order_relaxed) >=
	       WEFT__IDLE_SLEEPER;
}

/* A searcher found work. If it was the last searcher and more work is
 * queued, it wakes a sleeper to search in its place: a burst ramps the pool
 * up one worker at a time. With nothing more queued it wakes nobody, so a
 * lone task's latency does not pay for a second wake-up. A task queued
 * after the check below is covered by its submitter's notify, which now
 * sees no searcher. */
static void end_search(weft_pool *p)
{
	uint32_t idle = idle_add(p, -WEFT__IDLE_SEARCHING);
	if (!(idle & (WEFT__IDLE_SLEEPER - 1)) && idle >= WEFT__IDLE_SLEEPER &&
	    pool_has_work(p))
		wake(p, 1);
}

/* Sleeps until the absolute CLOCK_MONOTONIC time ns. */
static void sleep_until(int64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000),
			      (long)(ns % 1000000000)};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

/* Searches for spin_ns. Returns a task (no longer searching), or NULL
 * (*searching says whether it still counts as a searcher). */
static struct weft_future *search(struct weft__worker *w, bool *searching)
{
	weft_pool *p = w->pool;
	/* A searcher must not keep a thread that waits for this CPU waiting.
	 * A waiter that this worker's completion woke from its futex is
	 * covered by the yield in weft__futex_wake_consumers. A worker just
	 * woken from parking was most likely queued on its waker's CPU, where
	 * the waker may now spin on the task's result: its first search that
	 * finds nothing yields at once. Otherwise the first yield waits
	 * SEARCH_YIELD_NS: a hot pool's next task usually comes sooner, and a
	 * yield costs a system call even with nothing else to run. */
	struct weft__spin spin;
	weft__spin_start(&spin, weft__now_ns() + p->spin_ns,
			 w->woken ? 0 : SEARCH_YIELD_NS, SEARCH_YIELD_NS);
	for (;;) {
		struct weft_future *t = find_work(w);
		if (t) {
			end_search(p);
			*searching = false;
			return t;
		}
		/* The wake-up's first search usually finds the task that
		 * caused it: the yield is due in the search after that one. */
		w->woken = false;
		if (weft__spin_yield_due(&spin)) {
			/* A searcher is not one while it yields: the thread
			 * it yields to may keep this CPU for a whole time
			 * slice (milliseconds), and a submitter that sees a
			 * searcher wakes nobody. With two CPUs, a searcher
			 * queued behind a submitting thread left the other
			 * CPU idle for 1-3 ms while 20,000 tasks queued up.
			 * end_search wakes a sleeper for work that came in
			 * meanwhile, as when a search ends. With no sleeper
			 * there is nobody to wake: the searcher keeps its
			 * place and spares the pool-wide word two RMWs.
			 * A pause that run_stolen asked to sleep through is
			 * slept out before the yield, and always off the
			 * search: a worker may park meanwhile. */
			bool nap = w->avoid && w->avoid_nap &&
				   spin.now < w->avoid_until;
			bool step_down = nap || has_sleepers(p);
			if (step_down)
				end_search(p);
			if (nap)
				sleep_until(w->avoid_until);
			weft__spin_yield(&spin);
			if (step_down && !begin_search(p)) {
				*searching = false;
				return NULL;
			}
		}
		if (!weft__spin_before_deadline(&spin))
			return NULL;
	}
}

/* The last idle worker of a shut-down pool closes the gate (G3). True if
 * the pool has exited. */
static bool try_exit(weft_pool *p, uint32_t idle)
{
	/* (G3) acquire: pairs with (G2), so injections that finished are
	 * visible to the re-check that follows. */
	uint64_t g = atomic_load_explicit(&p->gate, memory_order_acquire);
	if (g & WEFT__GATE_EXITED)
		return true;
	if (!(g & WEFT__GATE_SHUTDOWN) || g >= WEFT__GATE_ONE ||
	    (idle >> 16) != p->nworkers)
		return false;
	/* (G3) acq_rel: succeeds only with no injection in flight; acquire
	 * as above, release so workers that see EXITED see the rest. */
	return atomic_compare_exchange_strong_explicit(
		&p->gate, &g, g | WEFT__GATE_EXITED, memory_order_acq_rel,
		memory_order_acquire);
}

/* Called with no work found. Returns a task, or NULL when the worker must
 * exit. */
static struct weft_future *idle_loop(struct weft__worker *w)
{
	weft_pool *p = w->pool;
	bool searching = begin_search(p);

	for (;;) {
		if (searching) {
			struct weft_future *t = search(w, &searching);
			if (t)
				return t;
		}
		uint32_t idle = idle_add(p, WEFT__IDLE_SLEEPER -
						    (searching ? 1u : 0u));
		/* (P2) seq_cst: the key is read after (P1). A notifier
		 * either saw this sleeper and bumps epoch after this load
		 * (the futex wait then fails or is woken), or the re-check
		 * below sees its task. */
		uint32_t key = atomic_load_explicit(&p->epoch,
						    memory_order_seq_cst);
		bool exiting = try_exit(p, idle);
		if (pool_has_work(p)) {
			if (exiting)
				weft__wake_all(p);
			idle_add(p, WEFT__IDLE_SEARCHING - WEFT__IDLE_SLEEPER);
			searching = true;
			continue;
		}
		if (exiting) {
			weft__wake_all(p);
			idle_add(p, -WEFT__IDLE_SLEEPER);
			return NULL;
		}
		weft__count(&w->stats.parks);
		WEFT__PROBE2(park, p, w->index);
		weft__trace_note(w, WEFT__EV_PARK, NULL, 0);
		urcu_qsbr_thread_offline();
		/* relaxed: a changed epoch is re-checked by the next turn. */
		while (atomic_load_explicit(&p->epoch, memory_order_relaxed) ==
		       key)
			weft__futex_wait(&p->epoch, key, -1);
		urcu_qsbr_thread_online();
		WEFT__PROBE2(unpark, p, w->index);
		weft__trace_note(w, WEFT__EV_WAKE, NULL, 0);
		w->woken = true;
		weft__count(&w->stats.wakeups);
		idle_add(p, WEFT__IDLE_SEARCHING - WEFT__IDLE_SLEEPER);
		searching = true;
	}
}

void *weft__worker_main(void *arg)
{
	struct weft__worker *w = arg;
	weft_pool *p = w->pool;

	tls_self = w;
	/* relaxed: see tid in internal.h. */
	atomic_store_explicit(&w->tid, (int)gettid(), memory_order_relaxed);
	/* Its naps (search) last microseconds: the default 50 us of timer
	 * slack would stretch them several times over. */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);
	urcu_qsbr_register_thread();
	if (p->on_worker_start)
		p->on_worker_start(w->index, p->hook_ctx);
	for (;;) {
		urcu_qsbr_quiescent_state();
		w->stolen_from = NULL;
		struct weft_future *t = find_work(w);
		if (!t)
			t = idle_loop(w);
		if (!t)
			break;
		if (w->stolen_from) {
			run_stolen(w, t);
		} else {
			w->tiny_run = 0;
			weft__run(w, t);
		}
	}
	if (p->on_worker_stop)
		p->on_worker_stop(w->index, p->hook_ctx);
	weft__free_list_drain(w);
	tls_self = NULL;
	urcu_qsbr_unregister_thread();
	return NULL;
}

/*
 * Waiting (the narrow interface future/ uses).
 */

bool weft__on_worker(void)
{
	return tls_self != NULL;
}

bool weft__help_once(void)
{
	struct weft__worker *w = tls_self;
	if (!w)
		return false;
	/* A worker that waits for a result steals from anyone: the tiny
	 * tasks it would leave alone may be what it waits for. */
	w->avoid = NULL;
	struct weft_future *t = find_work(w);
	if (!t)
		return false;
	weft__run(w, t);
	return true;
}

int weft__block(_Atomic uint32_t *word, uint32_t expected,
		int64_t deadline_ns)
{
	if (!tls_self)
		return weft__futex_wait(word, expected, deadline_ns);
	int64_t until = weft__now_ns() + HELP_SLEEP_NS;
	if (deadline_ns >= 0 && deadline_ns < until)
		until = deadline_ns;
	urcu_qsbr_thread_offline();
	int r = weft__futex_wait(word, expected, until);
	urcu_qsbr_thread_online();
	return r;
}
