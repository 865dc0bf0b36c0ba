/*
 * weft: a lock-free work-stealing task runtime with futures.
 *
 * Conventions (all functions):
 *  - Functions that can fail return int: 0 (or a documented non-negative
 *    value) on success, a negative errno on failure. They never set errno,
 *    never print, never exit or abort on bad input.
 *  - -ENOMEM means nothing was queued, nothing leaked, and the caller still
 *    owns everything it passed.
 *  - Timeouts are int64_t nanoseconds relative to the call; WEFT_FOREVER
 *    waits forever and 0 only polls.
 *  - Every function is thread-safe unless its comment says otherwise.
 *  - Memory order: everything a thread wrote before weft_submit() (or
 *    weft_future_then()) happens-before the task body; the task body
 *    happens-before any weft_future_get()/wait() that sees it done, and
 *    before its callbacks and continuations run.
 */
#ifndef WEFT_H
#define WEFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(WEFT_BUILDING)
#define WEFT_API __attribute__((visibility("default")))
#else
#define WEFT_API
#endif

#define WEFT_FOREVER ((int64_t)-1)

/* Names any code the library returns ("-EINVAL: invalid argument", ...).
 * Any thread; the string is static. */
WEFT_API const char *weft_strerror(int err);

/* ------------------------------------------------------------------ */
/* Pool                                                                 */

typedef struct weft_pool weft_pool;

typedef struct weft_config {
	size_t size;       /* set by weft_config_init; lets the struct grow */
	/* 0: the CPUs this process may run on (its affinity mask when the
	 * pool is created), capped by its cgroup v2 CPU quota (cpu.max of
	 * its cgroup and of each ancestor under /sys/fs/cgroup, quota /
	 * period rounded up; "max" is no cap), at least 1. At most
	 * WEFT_MAX_WORKERS. A thread outside the pool that keeps submitting
	 * small tasks also needs a CPU: on few CPUs, one worker fewer can be
	 * faster (bench/RESULTS.md) */
	unsigned workers;
	const char *name;  /* thread-name prefix, default "weft": "weft-0", ...;
			    * copied by weft_pool_create (at most 10 bytes are
			    * used, so names fit the kernel's 15) */
	int64_t spin_ns;   /* how long an idle worker searches before parking;
			    * < 0: the default (50 us) */
	bool pin;          /* pin worker i to CPU i mod ncpu */
	/* Called on each worker thread as it starts / before it exits, with
	 * its index and hook_ctx. May be NULL. They may not submit to or
	 * wait on this pool. Workers run with a timer slack of 1 us
	 * (PR_SET_TIMERSLACK: their pauses last microseconds), which tasks
	 * and the threads they create inherit; on_worker_start runs after
	 * it is set and may change it. */
	void (*on_worker_start)(unsigned index, void *ctx);
	void (*on_worker_stop)(unsigned index, void *ctx);
	void *hook_ctx;
	/* Collect weft_stats.sched_latency and busy_ns. Off by default: it
	 * reads CLOCK_MONOTONIC three times per task (when the task becomes
	 * ready, when it starts and when it ends), which costs more than a
	 * small task itself (bench/RESULTS.md, "Observability"). WEFT_TRACE
	 * turns it on for every pool. A build configured with -Dtrace=false
	 * ignores it. */
	bool timing;
	/* Admission control for threads outside the pool. 0: unbounded.
	 * Otherwise a new submission from a thread that is not one of the
	 * pool's workers (weft_submit, weft_map, weft_future_then on a done
	 * future) returns -EAGAIN while max_queued tasks that entered that
	 * way (the injection path) wait to start: nothing is queued and the
	 * caller keeps what it passed. Work the pool's own tasks submit, and
	 * continuations that become ready, are never refused (they count
	 * while they wait in the injection path, so a refusal may follow
	 * them). The bound is exact: the count is one shared word that
	 * outside submitters and the workers that take their tasks update,
	 * only when max_queued is set. */
	size_t max_queued;
	/* Worker stack size in bytes; 0: the system's default. Otherwise
	 * from WEFT_MIN_STACK_SIZE to WEFT_MAX_STACK_SIZE (else -EINVAL),
	 * rounded up to whole pages. */
	size_t stack_size;
} weft_config;

#define WEFT_MIN_STACK_SIZE ((size_t)64 << 10)
#define WEFT_MAX_STACK_SIZE ((size_t)1 << 30)

#define WEFT_MAX_WORKERS 1024u

/* Fills *cfg with the defaults and sets cfg->size. Any thread. */
WEFT_API void weft_config_init(weft_config *cfg);

/* Creates a pool and starts its workers. cfg may be NULL (defaults); it is
 * borrowed for the call only. *out receives the pool.
 * Errors: -EINVAL (out NULL, cfg->size too small or not set by
 * weft_config_init, workers > WEFT_MAX_WORKERS, spin_ns absurd, stack_size
 * not 0 and outside [WEFT_MIN_STACK_SIZE, WEFT_MAX_STACK_SIZE]), -ENOMEM,
 * -EAGAIN (a worker thread could not be created); on error nothing is left
 * behind and *out is untouched. Any thread. */
WEFT_API int weft_pool_create(weft_pool **out, const weft_config *cfg);

#define WEFT_SHUTDOWN_WAIT 1u           /* block until drained and exited */
#define WEFT_SHUTDOWN_CANCEL_PENDING 2u /* cancel every not-started task */

/* Starts shutdown. After it starts, weft_submit() (and weft_future_then()
 * on a done future, and weft_map()) from a thread that is not one of this
 * pool's workers returns -ESHUTDOWN; work created by running tasks is still
 * accepted while the pool drains, so follow-up chains finish.
 * WEFT_SHUTDOWN_CANCEL_PENDING: every task that has not started, queued now
 * or later, completes as WEFT_CANCELLED (its callbacks still run) and never
 * starts. Tasks submitted from outside the workers and still queued are
 * cancelled before the call returns; tasks in a worker's own deque are
 * cancelled as that worker reaches them (with WEFT_SHUTDOWN_WAIT, before
 * the call returns).
 * WEFT_SHUTDOWN_WAIT: returns once every task, including work spawned while
 * draining, is done and the workers exited.
 * Idempotent; a later call may add flags.
 * Errors: -EINVAL (p NULL or unknown flags), -EDEADLK (WAIT from one of
 * p's own workers; the other flags still take effect). Any thread. */
WEFT_API int weft_pool_shutdown(weft_pool *p, unsigned flags);

/* shutdown(WAIT), join, free. Futures the caller still holds stay valid
 * until released. p is consumed. p NULL: returns 0.
 * Errors: -EDEADLK when called from one of p's own workers (nothing is
 * freed). Any other thread. */
WEFT_API int weft_pool_destroy(weft_pool *p);

/* The number of workers. p borrowed; 0 if p is NULL. Any thread. */
WEFT_API unsigned weft_pool_workers(const weft_pool *p);

/* 0..n-1 on a worker thread (of any pool), -1 elsewhere. */
WEFT_API int weft_worker_index(void);

/* The pool whose worker is calling, or NULL off worker threads. */
WEFT_API weft_pool *weft_current_pool(void);

/* ------------------------------------------------------------------ */
/* Tasks and futures                                                    */

typedef struct weft_future weft_future;
typedef void *(*weft_fn)(void *arg);

enum weft_state {
	WEFT_PENDING,
	WEFT_RUNNING,
	WEFT_SUCCEEDED,
	WEFT_FAILED,
	WEFT_CANCELLED,
};

/* Runs fn(arg) on p. On one of p's workers the task goes onto that
 * worker's own deque; elsewhere it enters through the injection path and
 * wakes a parked worker if needed. *out receives a new reference (release
 * it with weft_future_release); out NULL submits a detached task.
 * Errors: -EINVAL (p or fn NULL), -ESHUTDOWN (shutdown started and the
 * caller is not one of p's workers), -EAGAIN (the caller is not one of p's
 * workers and weft_config.max_queued of its tasks wait to start; nothing
 * was queued), -ENOMEM. Any thread. */
WEFT_API int weft_submit(weft_pool *p, weft_fn fn, void *arg,
			 weft_future **out);

/* Called inside a task or continuation: `return weft_fail(EIO);` makes it
 * complete as WEFT_FAILED with that code (err > 0; a non-positive err is
 * taken as EINVAL). Returns NULL. Elsewhere it has no effect. */
WEFT_API void *weft_fail(int err);

/* Waits until f is done. Returns 0 with *result (which may be NULL) for a
 * succeeded task, -err for a failed one, -ECANCELED for a cancelled one.
 * On a worker it runs other tasks while it waits; elsewhere it spins
 * briefly, then sleeps on the future's futex word. result may be NULL.
 * Errors: -EINVAL (f NULL), -EDEADLK (called from inside f's own task).
 * f borrowed. Any thread. */
WEFT_API int weft_future_get(weft_future *f, void **result);

/* Waits until f is done or timeout_ns passes. Returns 0 once done,
 * -ETIMEDOUT. On a worker it runs other tasks while it waits.
 * Errors: -EINVAL (f NULL or timeout_ns < -1), -EDEADLK (from inside f's
 * own task). f borrowed. Any thread. */
WEFT_API int weft_future_wait(weft_future *f, int64_t timeout_ns);

/* A snapshot of f's state; WEFT_CANCELLED... are final. f NULL: PENDING. */
WEFT_API enum weft_state weft_future_state(const weft_future *f);

/* True once f succeeded, failed or was cancelled. f NULL: false. */
WEFT_API bool weft_future_done(const weft_future *f);

/* Cancels f if it has not started. Returns true if f is cancelled (now or
 * before), false if it is running or finished (or f is NULL). Cancelling
 * wakes every waiter and runs f's callbacks on the calling thread, and its
 * continuations see a cancelled antecedent. Any thread. */
WEFT_API bool weft_future_cancel(weft_future *f);

/* Adds / drops a reference. Releasing never cancels the task. The runtime
 * never frees results. NULL is ignored. Any thread. */
WEFT_API void weft_future_retain(weft_future *f);
WEFT_API void weft_future_release(weft_future *f);

/* ------------------------------------------------------------------ */
/* Callbacks and continuations                                          */

typedef void (*weft_callback)(weft_future *f, void *ctx);
typedef void *(*weft_then_fn)(weft_future *antecedent, void *ctx);

/* cb(f, ctx) runs exactly once when f completes in any way, on the thread
 * that completed (or cancelled) it; the callbacks registered before f
 * completed run in registration order. If f is already done, cb runs at
 * once on the calling thread (possibly while the completing thread is still
 * running the earlier callbacks, as in Python). Callbacks must
 * be short and must not block; they may submit, cancel, register callbacks
 * and continuations, and read f (borrowed, valid during the call).
 * Errors: -EINVAL (f or cb NULL), -ENOMEM (cb will not run). Any thread. */
WEFT_API int weft_future_on_done(weft_future *f, weft_callback cb, void *ctx);

#define WEFT_THEN_ON_SUCCESS 1u

/* A continuation: a task that runs fn(f, ctx) on f's pool once f completes
 * in any way. When f completes on worker W the continuation goes onto W's
 * deque; when f completes off the workers (or is already done) it enters
 * through the injection path. fn gets f borrowed; it may read its state
 * and result. With WEFT_THEN_ON_SUCCESS, a failed or cancelled f passes
 * its outcome (the same error, or the cancellation) to the continuation's
 * future without running fn. *out receives a new reference to the
 * continuation's future; out NULL makes it detached. Chains of any length
 * run in bounded stack. The continuation holds a reference to f until it
 * has run. f's pool must still exist (not destroyed): the continuation
 * runs there.
 * Errors: -EINVAL (f or fn NULL, unknown flags, or f has no pool),
 * -ESHUTDOWN (f is done, its pool is shut down and the caller is not one of
 * its workers), -EAGAIN (f is done, the caller is not one of its workers
 * and the pool's weft_config.max_queued is reached), -ENOMEM. Any
 * thread. */
WEFT_API int weft_future_then(weft_future *f, weft_then_fn fn, void *ctx,
			      unsigned flags, weft_future **out);

/* ------------------------------------------------------------------ */
/* Many futures                                                         */

enum weft_return_when {
	WEFT_FIRST_COMPLETED, /* any future done (cancelled counts) */
	WEFT_FIRST_FAILED,    /* any future FAILED, or all done */
	WEFT_ALL_COMPLETED,   /* all done */
};

/* Python's wait(): returns 0 once the condition holds, -ETIMEDOUT if it
 * did not by the deadline; read each future's state for the done and
 * not-done sets. Duplicates count once; cancelled futures count as
 * completed; WEFT_FIRST_FAILED ignores cancellations. n == 0 returns 0.
 * It never polls. WEFT_ALL_COMPLETED waits for each future in turn and
 * allocates nothing; the other conditions register a callback on each
 * distinct future that is not yet done (a 64-byte node each, freed when
 * that future completes). On a worker it runs other tasks while it
 * waits. fs and its futures are borrowed.
 * Errors: -EINVAL (fs NULL with n > 0, a NULL entry, unknown when,
 * timeout_ns < -1), -EDEADLK (called inside the task of a future it
 * waits for, when the condition cannot hold before that task ends: with
 * WEFT_ALL_COMPLETED, or when every future not done is such a one),
 * -ENOMEM (not with WEFT_ALL_COMPLETED). Any thread. */
WEFT_API int weft_wait(weft_future *const *fs, size_t n,
		       enum weft_return_when when, int64_t timeout_ns);

/* A future that succeeds (result NULL) when every input has completed in
 * any way; read the inputs for their outcomes. Built on callbacks: no
 * thread blocks. *out is a new reference. Its pool (for
 * weft_future_then) is the first input's; with n == 0 it is already
 * succeeded and has no pool. Cancelling it does not cancel the inputs.
 * fs and its futures are borrowed.
 * Errors: -EINVAL (out NULL, fs NULL with n > 0, a NULL entry), -ENOMEM.
 * Any thread. */
WEFT_API int weft_when_all(weft_future *const *fs, size_t n,
			   weft_future **out);

/* A future that succeeds when the first input completes in any way; its
 * result is that input's index, (void *)(intptr_t)i (the lowest index of
 * a future listed twice). Like weft_when_all otherwise, except that
 * n == 0 is -EINVAL (nothing could ever complete it). */
WEFT_API int weft_when_any(weft_future *const *fs, size_t n,
			   weft_future **out);

typedef struct weft_as_completed weft_as_completed;

/* Python's as_completed(fs, timeout): yields each distinct future once,
 * those already done at create first, then in completion order. The
 * deadline is measured from this call (WEFT_FOREVER: none). The iterator
 * holds a reference to each future until it yields it; yielded futures
 * are the caller's own (borrowed, not new references).
 * Errors: -EINVAL (out NULL, fs NULL with n > 0, a NULL entry,
 * timeout_ns < -1), -ENOMEM. Any thread; the iterator itself is used by
 * one thread at a time. */
WEFT_API int weft_as_completed_create(weft_future *const *fs, size_t n,
				      int64_t timeout_ns,
				      weft_as_completed **out);

/* Adds f to the set while iterating (follow-up tasks). A future already
 * in the set is ignored (returns 0). f borrowed.
 * Errors: -EINVAL (NULL), -ENOMEM. The iterator's thread only. */
WEFT_API int weft_as_completed_add(weft_as_completed *it, weft_future *f);

/* Returns 1 with *out (a future of the set, borrowed), 0 when every
 * future has been yielded, -ETIMEDOUT once the deadline has passed with
 * futures still pending (and on every later call). On a worker it runs
 * other tasks while it waits. Errors: -EINVAL (NULL). The iterator's
 * thread only. */
WEFT_API int weft_as_completed_next(weft_as_completed *it, weft_future **out);

/* Frees the iterator (any point; pending futures are not cancelled). NULL
 * is ignored. The iterator's thread only. */
WEFT_API void weft_as_completed_destroy(weft_as_completed *it);

/* Python's executor.map(): submits fn(args[i]) in order into out[i] (new
 * references). All or nothing: on failure nothing it submitted stays
 * queued (what it submitted is cancelled and released) and out[] holds
 * nothing valid. args may be NULL (every argument NULL).
 * Errors: -EINVAL (p, fn or out NULL with n > 0), -ESHUTDOWN, -EAGAIN
 * (off the workers, weft_config.max_queued was reached partway: nothing
 * stays queued, as above), -ENOMEM. Any thread. */
WEFT_API int weft_map(weft_pool *p, weft_fn fn, void *const *args, size_t n,
		      weft_future **out);

/* Waits for fs in order and fills results[i] (results may be NULL). Stops
 * at the first failed or cancelled future, returning its code (-err or
 * -ECANCELED) with its index in *stopped_at, or at the deadline
 * (-ETIMEDOUT, *stopped_at the first future not done), measured from this
 * call; then cancels every later future that has not started, as Python's
 * map does when its iterator is abandoned. Returns 0 (and *stopped_at =
 * n) when all succeeded. stopped_at may be NULL. fs borrowed.
 * Errors: -EINVAL (fs NULL with n > 0, a NULL entry, timeout_ns < -1),
 * -EDEADLK (it reached a future not done whose task is the caller's own,
 * index in *stopped_at; the later ones are cancelled as above).
 * Any thread; on a worker it runs other tasks while it waits. */
WEFT_API int weft_gather(weft_future *const *fs, size_t n, void **results,
			 int64_t timeout_ns, size_t *stopped_at);

/* ------------------------------------------------------------------ */
/* Completion queues                                                    */

/*
 * A completion queue hands finished futures to an event loop: post a
 * future with a tag, poll weft_cq_fd (EPOLLIN) in the loop, and when it is
 * readable pop until pop returns 0. Entries come out in the order they
 * were queued (when their futures completed, not when they were posted).
 * The fd is readable while entries wait; it may also stay readable for a
 * moment after the last entry was popped, until a pop that returns 0,
 * which clears it. A pop that returns 0 never leaves entries waiting
 * behind a cleared fd: no wake-up is lost.
 */
typedef struct weft_cq weft_cq;

/* Creates an empty queue with its eventfd (EFD_NONBLOCK | EFD_CLOEXEC).
 * Errors: -EINVAL (out NULL), -ENOMEM, and eventfd's -EMFILE, -ENFILE,
 * -ENODEV; *out is untouched on error. Any thread. */
WEFT_API int weft_cq_create(weft_cq **out);

/* The queue's eventfd, owned by cq (never close or read it; it stays
 * valid until weft_cq_destroy). Errors: -EINVAL (cq NULL). Any thread. */
WEFT_API int weft_cq_fd(const weft_cq *cq);

/* Queues (f, tag) on cq when f completes in any way (at once if it is
 * already done). The post takes its own reference on f, which pop hands
 * to the caller: the caller's reference stays its own. tag is opaque (may
 * be NULL). A future may be posted any number of times, to any queues.
 * Many threads may post at once, without a lock.
 * Errors: -EINVAL (f or cq NULL), -ENOMEM (nothing is posted). Any thread,
 * callbacks included. */
WEFT_API int weft_future_post(weft_future *f, weft_cq *cq, void *tag);

/* Takes the oldest entry without blocking: returns 1 with *f (a reference
 * that is now the caller's: release it) and *tag (tag may be NULL), or 0
 * when none waits (an entry whose future is completing at that moment may
 * come on the next pop, and the fd says so).
 * Errors: -EINVAL (cq or f NULL), -EBUSY (another pop on cq is in
 * progress: pops are for one thread at a time). Any thread. */
WEFT_API int weft_cq_pop(weft_cq *cq, weft_future **f, void **tag);

/* Closes the fd and frees cq. Returns -EBUSY, freeing nothing, while a
 * post is pending: posted and not yet popped (its future may not be done,
 * or its entry waits in the queue). Pop every entry first. Once every
 * post was popped it succeeds, after waiting (briefly) for a thread that
 * queued an entry to finish with cq. No other call on cq may be in
 * progress or follow a successful destroy, and every post call must have
 * returned. NULL: 0. Any thread. */
WEFT_API int weft_cq_destroy(weft_cq *cq);

/* ------------------------------------------------------------------ */
/* Pipelines                                                            */

typedef struct weft_pipeline weft_pipeline;
typedef void *(*weft_stage_fn)(void *item, void *ctx);

#define WEFT_PIPELINE_ORDERED 1u /* pop returns items in push order */
#define WEFT_STAGE_ORDERED 1u    /* the stage takes items one at a time,
				  * in push order */

/* A pipeline of stages running on p: items (opaque pointers; NULL is a
 * valid item) flow through the stages in order. Stage functions run in
 * tasks on the pool (no thread per stage): at most one per worker, each
 * taking batches of up to 32 waiting items of one stage at a time, so a
 * stage works on at most min(concurrency, workers) items at once; items
 * are not allocated one by one. capacity (> 0) bounds the items inside
 * the pipeline: pushed and not yet popped; the pipeline's memory grows
 * with the most items it has held at once (about 24 bytes each, plus 4
 * per ordered stage or output).
 * Errors: -EINVAL (p or out NULL, capacity 0, unknown flags), -ENOMEM.
 * Any thread. */
WEFT_API int weft_pipeline_create(weft_pool *p, size_t capacity,
				  unsigned flags, weft_pipeline **out);

/* Appends a stage: fn(item, ctx) returns the item for the next stage;
 * `return weft_fail(err);` fails the item, which then skips the later
 * stages and leaves through pop with -err. concurrency bounds how many
 * items the stage works on at once (0: no bound); a WEFT_STAGE_ORDERED
 * stage works on one at a time whatever concurrency says. name is copied
 * (may be NULL). Stages are added before the first push.
 * Errors: -EINVAL (pl or fn NULL, unknown flags), -EBUSY (items were
 * already pushed, or the pipeline is closed), -ENOMEM. Any thread. */
WEFT_API int weft_pipeline_stage(weft_pipeline *pl, const char *name,
				 weft_stage_fn fn, void *ctx,
				 unsigned concurrency, unsigned flags);

/* Pushes item. Waits while the pipeline holds capacity items
 * (back-pressure); on a worker it runs other tasks instead of blocking.
 * Returns 0, -ETIMEDOUT (not pushed), -EPIPE after close.
 * Errors: -EINVAL (pl NULL, timeout_ns < -1), -ESHUTDOWN (the pool no
 * longer takes work from this thread, or it cancelled the pipeline's work
 * with WEFT_SHUTDOWN_CANCEL_PENDING), -ENOMEM. -EPIPE and -ESHUTDOWN come
 * first, full or not: a push that can never succeed does not wait.
 * Any thread. */
WEFT_API int weft_pipeline_push(weft_pipeline *pl, void *item,
				int64_t timeout_ns);

/* No more pushes: later ones return -EPIPE; pop returns 0 once the items
 * inside have all been popped. Idempotent. Errors: -EINVAL. */
WEFT_API int weft_pipeline_close(weft_pipeline *pl);

/* Takes the next item out: 1 with *item, 0 when closed and drained,
 * -ETIMEDOUT. An item whose stage failed comes out as -err with *item the
 * value that stage was given; once the pool has cancelled the pipeline's
 * work (shutdown with WEFT_SHUTDOWN_CANCEL_PENDING), the items that had
 * not been through every stage come out as -ECANCELED with the value
 * their next stage would have been given. Order: completion order, or
 * push order with WEFT_PIPELINE_ORDERED. On a worker it runs other tasks
 * while it waits.
 * Errors: -EINVAL (pl or item NULL, timeout_ns < -1). Any thread. */
WEFT_API int weft_pipeline_pop(weft_pipeline *pl, void **item,
			       int64_t timeout_ns);

/* Closes the pipeline, drops the items inside (the runtime never frees
 * items), waits for its tasks to end (the stage functions already running
 * return; a task still queued ends when a worker reaches it), and frees
 * it. Any point of the pipeline's life, but no other call on pl may be in
 * progress or follow. NULL: 0. Not from inside one of its own stage
 * functions (-EDEADLK). Any thread. */
WEFT_API int weft_pipeline_destroy(weft_pipeline *pl);

/* ------------------------------------------------------------------ */
/* Introspection                                                        */

/* sched_latency's buckets: bucket i counts waits in [2^i, 2^(i+1)) ns. */
#define WEFT_LATENCY_BUCKETS 40

typedef struct weft_stats {
	uint64_t submitted;      /* tasks and continuations accepted */
	uint64_t executed;       /* task bodies run */
	uint64_t stolen;         /* tasks taken from another worker's deque */
	uint64_t steal_attempts; /* steal calls on other workers' deques */
	uint64_t injected;       /* tasks that came in from outside a worker */
	uint64_t parks;          /* times a worker went to sleep */
	uint64_t wakeups;        /* times a worker was woken to look for work */
	uint64_t cancelled;      /* tasks that completed as cancelled */
	uint64_t failed;         /* tasks that completed as failed */
	/* Schedule latency, collected when the pool has weft_config.timing
	 * (else all zero): how long each task waited from becoming ready
	 * (submitted, or a continuation whose antecedent completed) until a
	 * worker started it. Bucket i counts waits in [2^i, 2^(i+1)) ns;
	 * bucket 0 also counts waits under 1 ns, and the last bucket every
	 * wait of 2^(WEFT_LATENCY_BUCKETS-1) ns (about nine minutes) or
	 * more. Every task that starts is counted once, so the buckets sum
	 * to the tasks started: executed, plus the WEFT_THEN_ON_SUCCESS
	 * continuations that passed a failure on without running (a task
	 * cancelled before it started is not counted). */
	uint64_t sched_latency[WEFT_LATENCY_BUCKETS];
	/* Nanoseconds the workers spent in task bodies (weft_config.timing,
	 * else 0), measured around the outermost task on a worker's stack:
	 * the tasks a waiting task runs while it helps, and the time it
	 * sleeps, count once, as that task's. Added as each task ends. */
	uint64_t busy_ns;
	/* Zero. Fields added later take these slots, so the size of
	 * weft_stats and the offset of every field stay as they are: a
	 * program built against this header keeps working with a later
	 * library, and sees zero here. */
	uint64_t reserved[8];
} weft_stats;

/* Sums the per-worker counters (a snapshot while the pool runs). The
 * counters are written by their workers alone, on separate cache lines.
 * Errors: -EINVAL (p or out NULL). Any thread. */
WEFT_API int weft_pool_stats(const weft_pool *p, weft_stats *out);

/* ------------------------------------------------------------------ */
/* Tracing                                                              */

/*
 * A trace is a timeline of what the workers did, written as Chrome
 * trace-event JSON (open it in ui.perfetto.dev or chrome://tracing):
 *  - a group per pool, "weft pool N (name)", with one track per worker,
 *    named like its thread ("weft-0", ...), and a track "external
 *    submits";
 *  - on a worker's track, a slice per task body run, named after the
 *    task's function (the symbol dladdr finds; a program's own static
 *    functions need -rdynamic, else "file+0xoffset"), with the task's
 *    address and its wait from ready to start; instant events "steal"
 *    (with the victim worker), "park" (the worker goes to sleep) and
 *    "wake" (it woke up);
 *  - on "external submits", an instant event per task submitted from
 *    outside the workers, at the time of its submit (recorded by the
 *    worker that started it: a task cancelled before it started is not
 *    shown);
 *  - "trace buffer full" where a worker's buffer filled, with the count
 *    of events it dropped, and a summary event at the end with the
 *    counters' growth during the trace ("executed" equals the slices
 *    unless events were dropped) and the dropped count.
 * Timestamps are CLOCK_MONOTONIC, in microseconds with nanosecond
 * fractions, so several pools' traces line up with each other and with
 * perf.
 *
 * Each worker records into its own buffer, without locks or atomic
 * read-modify-writes; a buffer holds WEFT_TRACE_EVENTS events (read from
 * the environment when the trace starts; default 1048576, at most
 * 268435456; 48 bytes each, memory the kernel provides as it is first
 * written). A full buffer drops later events and counts them: tracing
 * never blocks and never grows. A traced task costs three clock reads
 * and one event; untraced, tracing costs a load and a predictable
 * branch where a task becomes ready, and a load tested before and after
 * the task's body where it runs (bench/RESULTS.md, "Observability").
 *
 * WEFT_TRACE=path in the environment traces every pool of the process
 * from weft_pool_create to weft_pool_destroy (and turns on
 * weft_config.timing). The pools share the one file: the first pool
 * destroyed creates it (replacing an older file), each later one adds
 * its own group, and the file is complete JSON after each. A pool never
 * destroyed is not written. The library never prints: a file that
 * cannot be written is skipped silently; to see the error, end the trace
 * with weft_trace_stop, which then writes where it says and returns it.
 * A build configured with -Dtrace=false has no tracing: the variable is
 * ignored and both calls return -ENOTSUP.
 */

/* Starts tracing p's workers. p borrowed.
 * Errors: -EINVAL (p NULL, or WEFT_TRACE_EVENTS is set but is not a
 * number from 1 to 268435456), -EALREADY (p is being traced, by an
 * earlier call or by WEFT_TRACE), -ENOMEM, -ENOTSUP. Any thread. */
WEFT_API int weft_trace_start(weft_pool *p);

/* Ends p's trace and writes it to path as a new file (replacing one
 * there), or discards it if path is NULL. It waits for every worker of
 * the process that is inside a task to reach the end of that task or a
 * wait (an RCU grace period) before it frees the buffers; so a thread
 * that running tasks spin-wait for must not call it. Ends a WEFT_TRACE
 * session too (weft_pool_destroy then writes nothing).
 * Returns 0 once written. Errors: -EINVAL (p NULL), -ENODATA (p is not
 * being traced), -ENOTSUP; path could not be created: -errno from
 * fopen (-ENOENT, -EACCES, -EISDIR, ...), and the trace goes on, so a
 * later call may name another path; writing failed: -errno (-ENOSPC,
 * -EIO, ...), and the trace has ended. Any thread. */
WEFT_API int weft_trace_stop(weft_pool *p, const char *path);

#ifdef __cplusplus
}
#endif

#endif
