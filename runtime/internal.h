/*
 * The pool and its workers: the structures runtime/ shares between its
 * files.
 *
 * READ this first: the ordering contract of the pool-wide words.
 *
 * gate (submissions from outside the workers)
 *   bit 0  SHUTDOWN: no new external submissions
 *   bit 1  EXITED: the pool drained and its workers exit; nothing may be
 *          injected any more
 *   bits 2+ the number of injections in flight
 *   An injector adds one in-flight count with acquire (G1), checks the
 *   bits, enqueues, and drops the count with release (G2). The last idle
 *   worker sets EXITED with an acq_rel CAS that requires no injection in
 *   flight (G3), so every injection either finished its enqueue before
 *   (G3), and the worker's re-check after (G3) finds it, or sees EXITED.
 *
 * idle (parking), searching in bits 0-15, sleepers in bits 16-31
 *   A worker that runs out of work becomes a searcher (if fewer than half
 *   the workers search), then a sleeper: it moves its count from searching
 *   to sleepers (P1), reads the epoch (P2), re-checks every queue, and
 *   sleeps on epoch only if they are all empty. A submitter publishes its
 *   task, then (N1) fences, reads idle, and wakes one sleeper (bump epoch,
 *   FUTEX_WAKE 1) only if nobody searches. The fence and the seq_cst RMW
 *   (P1) order "publish; read idle" against "announce; re-check", so either
 *   the submitter sees the sleeper (and the epoch bump makes its futex
 *   wait fail or wakes it) or the sleeper's re-check sees the task: no lost
 *   wake-up. A searcher that finds work and was the last searcher wakes
 *   one more sleeper, so a burst ramps up one worker at a time with no
 *   thundering herd. A searcher that yields its CPU while sleepers exist,
 *   or sleeps out a pause after tiny steals (worker.c, run_stolen), stops
 *   counting as one until it returns, leaving as a finder does:
 *   otherwise submitters would count on a searcher that is off its CPU.
 */
#ifndef WEFT_RUNTIME_INTERNAL_H
#define WEFT_RUNTIME_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <urcu/wfcqueue.h>

#include "deque/deque.h"
#include "future/future.h"
#include "weft.h"

#define WEFT__GATE_SHUTDOWN 1u
#define WEFT__GATE_EXITED 2u
#define WEFT__GATE_ONE 4u

#define WEFT__IDLE_SEARCHING 1u
#define WEFT__IDLE_SLEEPER (1u << 16)

/* Per-worker counters: written by their worker only (relaxed load + store,
 * no RMW), read by weft_pool_stats (relaxed; a snapshot). */
struct weft__counters {
	_Atomic uint64_t submitted, executed, stolen, steal_attempts, injected,
		parks, wakeups, cancelled, failed;
};

/* Per-worker timing (weft_config.timing, runtime/trace.h): written by
 * its worker only (relaxed load + store, no RMW), read by
 * weft_pool_stats (relaxed; a snapshot). */
struct weft__timing {
	_Atomic uint64_t sched_latency[WEFT_LATENCY_BUCKETS];
	_Atomic uint64_t busy_ns;
};

struct weft__trace_buf;
struct weft__trace_session;

struct weft__worker {
	struct weft__deque deque;
	/* The injection queue: any thread enqueues (wait-free); dequeuers
	 * hold inject_lock. */
	_Alignas(64) struct __cds_wfcq_head inject_head;
	_Alignas(64) struct cds_wfcq_tail inject_tail;
	/* Taken with try-lock semantics by whoever dequeues from this
	 * worker's injection queue (the owner, thieves, the shutdown drain):
	 * the wfcq dequeue needs mutual exclusion among dequeuers. */
	_Alignas(64) _Atomic bool inject_lock;
	/* The rest is written by the owner only. */
	weft_pool *pool;
	unsigned index;
	unsigned local_run;             /* tasks since the last inject check */
	bool woken;                     /* parked and woken since its last search */
	uint64_t rng;                   /* victim selection */
	/* Tiny steals (worker.c, run_stolen): the victim of the task in hand
	 * if it was stolen from a deque; the victim of the last tiny ones,
	 * how many in a row, when the last ended and the victim's executed
	 * count after the first; the victim, executed count and deque
	 * bottom at the last pause; a victim left alone until avoid_until,
	 * and whether to sleep meanwhile. */
	struct weft__worker *stolen_from, *tiny_victim, *avoid, *paused;
	unsigned tiny_run;
	int64_t tiny_last;
	uint64_t tiny_victim_executed, paused_executed;
	int64_t paused_bottom;
	int64_t avoid_until;
	bool avoid_nap;
	struct weft_future *free_list;  /* cached task objects */
	unsigned free_count;
	pthread_t thread;
	bool started;
	/* Timing: how many task bodies are on this worker's stack (kept
	 * only when the pool collects timing). Owner only. */
	unsigned run_depth;
	/* This worker's trace buffer, NULL unless the pool is traced (see
	 * runtime/trace.h, T3 and T4). Written by the thread that starts or
	 * ends a trace; read by the owner. */
	_Atomic(struct weft__trace_buf *) trace;
	/* The worker's kernel thread id, for the trace's tracks: written
	 * once by the worker as it starts, read by trace writers (relaxed: a
	 * single value; 0 until then). */
	_Atomic int tid;
	struct weft__counters stats;
	struct weft__timing timing;
};

struct weft_pool {
	/* Read-mostly: written before the workers start (or once). */
	unsigned nworkers;
	struct weft__worker *workers;
	int64_t spin_ns;
	/* Set once by shutdown(CANCEL_PENDING); read by workers before they
	 * start a task (relaxed: a task that slips past a concurrent shutdown
	 * had not been cancelled yet, which is allowed). Kept on this
	 * read-mostly line, away from the words submitters write. */
	_Atomic bool cancel_pending;
	/* What the pool observes (WEFT__OBSERVE_* in runtime/trace.h, which
	 * states its contract): read per task by submitters and workers, so
	 * it lives on this read-mostly line; written at create and when a
	 * trace starts or ends. */
	_Atomic uint32_t observe;
	/* Counted off the workers, where no per-worker counter may be
	 * written: tasks that shutdown(CANCEL_PENDING) took out of the
	 * injection queues, and continuations cancelled because the pool had
	 * exited. Any thread adds with weft__count_shared; weft_pool_stats
	 * reads. Cold: on this read-mostly line. */
	struct weft__counters offworker;
	bool pin;
	/* weft_config.max_queued (0: unbounded) and stack_size; set at
	 * create. */
	size_t max_queued;
	size_t stack_size;
	void (*on_worker_start)(unsigned index, void *ctx);
	void (*on_worker_stop)(unsigned index, void *ctx);
	void *hook_ctx;
	char name[11];
	/* See the contract above. Written by submitters and shutdown. */
	_Alignas(64) _Atomic uint64_t gate;
	/* Admission (weft_config.max_queued; untouched when it is 0): the
	 * tasks in the injection queues. Every enqueue adds one first: an
	 * outside submitter's reservation (fetch_add, taken back at once if
	 * it went over the bound), a ready continuation's, a worker's deque
	 * overflow's; every successful dequeue subtracts one. So it never
	 * loses or double-counts a task, and counts at most the tasks queued
	 * plus the reservations in flight. All relaxed: it publishes nothing
	 * (the queue does), only its value matters. On the gate's line: the
	 * outside submitters already write that one. */
	_Atomic size_t queued;
	/* See the contract above. */
	_Alignas(64) _Atomic uint32_t idle;
	/* The parking futex word; bumped by notifiers and at exit. */
	_Atomic uint32_t epoch;
	/* Spare task objects: a stack of batches. Any thread pushes a batch
	 * (CAS); a thread out of objects takes it whole (exchange). See
	 * task_alloc.c. */
	_Alignas(64) _Atomic(struct weft_future *) spare;
	/* About how many batches spare holds: pushers add one (relaxed);
	 * the thread that takes the stack resets it (relaxed exchange). A
	 * push racing that take may go uncounted until the next take. */
	_Atomic uint32_t spare_batches;
	pthread_mutex_t join_lock;
	bool joined;                    /* under join_lock */
	/* Tracing (runtime/trace.c), cold. trace_id numbers the pool in
	 * trace files (set at create); the running session and the
	 * sessions whose buffers wait for the pool's end (ThreadSanitizer
	 * builds) are under trace_lock. */
	unsigned trace_id;
	pthread_mutex_t trace_lock;
	struct weft__trace_session *trace_session;
	struct weft__trace_session *trace_retired;
};

/* The worker the calling thread is, or NULL. */
struct weft__worker *weft__self(void);

/* The calling thread's worker if it belongs to p, else NULL. */
static inline struct weft__worker *weft__self_in(const weft_pool *p)
{
	struct weft__worker *w = weft__self();
	return w && w->pool == p ? w : NULL;
}

static inline void weft__count(_Atomic uint64_t *c)
{
	/* relaxed: only the owning worker writes its counters; readers take
	 * a snapshot. */
	atomic_store_explicit(
		c, atomic_load_explicit(c, memory_order_relaxed) + 1,
		memory_order_relaxed);
}

/* For counters that any thread may add to (the pool's offworker ones). */
static inline void weft__count_shared(_Atomic uint64_t *c)
{
	/* relaxed: only the total matters; readers take a snapshot. */
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* worker.c */
void *weft__worker_main(void *arg);
void weft__notify(weft_pool *p);
void weft__wake_all(weft_pool *p);
void weft__run(struct weft__worker *w, struct weft_future *t);

/* inject.c */
void weft__inject(struct weft__worker *target, struct weft_future *t);
/* weft__inject of a task not counted in queued yet: counts it first. */
void weft__inject_counted(struct weft__worker *target, struct weft_future *t);
struct weft_future *weft__inject_pop(struct weft__worker *w);
bool weft__inject_empty(struct weft__worker *w);
int weft__inject_external(weft_pool *p, struct weft_future *t, bool user);
/* True if a weft_submit from the calling thread would be taken now: a
 * snapshot, which a concurrent shutdown may make stale at once. */
bool weft__takes_work(const weft_pool *p);

/* cpus.c */
/* The CPUs in the calling thread's affinity mask (at least 1). */
unsigned weft__affinity_cpus(void);
/* cpus capped by the cgroup v2 CPU quota of the calling process, reading
 * root/proc/self/cgroup and root/sys/fs/cgroup/... (root "" in
 * production; tests pass a directory of fixture files). */
unsigned weft__cpu_quota_cap(const char *root, unsigned cpus);
/* The worker count of weft_config.workers = 0. */
unsigned weft__default_workers(void);

/* task_alloc.c */
void weft__free_list_drain(struct weft__worker *w);
void weft__spare_drain(weft_pool *p);

#endif
