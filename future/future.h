/*
 * The task object. A task and its future are one 64-byte object: the pool
 * runs it, users hold references to it, and other tasks wait on it.
 *
 * READ this first: the ordering contract.
 *
 * state (the futex word)
 *   bits 0-2  the enum weft_state value
 *   bit  3    WAITERS: someone may sleep in futex_wait on this word
 *   bits 4-6  the kind and flags; written before the object is shared,
 *             never changed after
 *   bit  7    LISTENERS: a listener was (or is being) registered, so the
 *             completer must close and deliver the listener stack
 *   bit  8    EARLY (callback nodes only; immutable)
 *   Transitions: PENDING -> RUNNING (the runner's CAS), PENDING ->
 *   CANCELLED (cancel's CAS), RUNNING -> final (the runner's fetch_add, the
 *   only writer while RUNNING). A final state never changes.
 *   (C1) The transition to a final state is a release RMW; waiters load
 *   state with acquire (C2) and so see the result and everything the task
 *   body wrote. The completer issues FUTEX_WAKE only if the RMW saw
 *   WAITERS, and it still holds a reference then, so the word outlives the
 *   wake.
 *
 * listeners (a Treiber stack of callback nodes and continuations)
 *   A registrant first sets LISTENERS in state unless state is final (L0),
 *   so a completion that does not see LISTENERS in its final-state RMW
 *   skips the stack: no listener can be added after it. A completion that
 *   sees it closes the stack; a push that loses that race finds CLOSED.
 *   Registration CASes a node in with release (L1); completion exchanges
 *   the stack for CLOSED with acq_rel (L2), so it sees every node's
 *   contents and a registrant that finds CLOSED sees the final state and
 *   result (the exchange comes after the final-state RMW). Completion runs
 *   the EARLY nodes, then the others, each oldest first, so callbacks run
 *   in registration order; then it wakes the futex sleepers. A
 *   registrant that finds CLOSED runs its callback itself, at once.
 *
 * refs
 *   One reference per user handle, one for the queue (or listener list)
 *   the task sits in until it has run or been discarded, one per
 *   continuation that reads it as its antecedent. Increment relaxed (a
 *   holder already keeps the object alive); decrement acq_rel (R1), so the
 *   thread that frees sees every other holder's last use.
 */
#ifndef WEFT_FUTURE_H
#define WEFT_FUTURE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <urcu/wfcqueue.h>

#include "weft.h"

/* Thread-local storage with the initial-exec model: one load off the
 * thread pointer, no __tls_get_addr call, in the shared library too. */
#define WEFT__TLS __attribute__((tls_model("initial-exec"))) _Thread_local

#define WEFT__STATE_MASK 7u
#define WEFT__WAITERS 8u
/* Kinds (immutable bits). A plain task has none of them. */
#define WEFT__KIND_THEN 16u     /* a continuation: antecedent is set */
#define WEFT__KIND_CALLBACK 32u /* an on_done node, never scheduled */
#define WEFT__ON_SUCCESS 64u    /* with KIND_THEN: WEFT_THEN_ON_SUCCESS */
#define WEFT__LISTENERS 128u
/* With KIND_CALLBACK: a combinator's watcher (as_completed, when_*, wait),
 * delivered before the user's callbacks, as Python notifies its waiters
 * before it runs done callbacks. */
#define WEFT__EARLY 256u

/* The sentinel that closes a completed future's listener stack. */
#define WEFT__CLOSED ((struct weft_future *)(uintptr_t)1)

struct weft_future {
	/* The futex word; see the contract above. Written by the runner, by
	 * cancellers (CAS) and by waiters (CAS of WAITERS); read by anyone
	 * holding a reference. */
	_Atomic uint32_t state;
	/* Written and read by every reference holder (R1). */
	_Atomic uint32_t refs;
	union {
		weft_fn fn;            /* plain task */
		weft_then_fn then_fn;  /* KIND_THEN */
		weft_callback cb;      /* KIND_CALLBACK */
	} u;
	void *arg;                     /* fn's argument or ctx; immutable */
	/* The result, or the error code of a failed task as an intptr_t.
	 * Written by the runner before (C1); read after (C2) or (L2), and
	 * only for a SUCCEEDED or FAILED future. Until the task runs, an
	 * observed pool keeps the task's ready stamp here
	 * (runtime/trace.h). */
	void *result;
	/* The listener stack; see (L1), (L2). Written by registrants (CAS)
	 * and the completer (exchange); read by both. */
	_Atomic(struct weft_future *) listeners;
	union {
		weft_pool *pool;       /* immutable; NULL for callback nodes */
		/* A completion-queue post's node (future/cq.c): its queue. */
		weft_cq *cq;
	};
	/* KIND_THEN: the future it follows (holds a reference on it).
	 * KIND_CALLBACK: unused. A free object on a worker's list: the
	 * object two places down that list, a prefetch hint only
	 * (runtime/task_alloc.c). */
	struct weft_future *antecedent;
	/* One link, used by whichever single list the object is on: an
	 * injection queue, a listener stack, a free list. */
	union {
		struct cds_wfcq_node qnode;
		struct weft_future *next;
	} link;
};

/* The object whose injection-queue link is n. */
static inline struct weft_future *weft__from_qnode(struct cds_wfcq_node *n)
{
	return (struct weft_future *)(void *)((char *)n -
					      offsetof(struct weft_future,
						       link.qnode));
}

static inline unsigned weft__state_of(uint32_t s)
{
	return s & WEFT__STATE_MASK;
}

static inline bool weft__is_final(uint32_t s)
{
	return weft__state_of(s) >= WEFT_SUCCEEDED;
}

/* The caller holds a reference and wants another one for someone else. */
static inline void weft__ref(struct weft_future *f)
{
	/* relaxed: the caller's own reference keeps f alive (R1 contract). */
	atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
}

/* Drops a reference; frees f with the last one. */
void weft__unref(struct weft_future *f);

/* Initialises a fresh object (not yet shared) of the given kind bits. */
static inline void weft__future_init(struct weft_future *f, weft_pool *p,
				     uint32_t kind, uint32_t refs)
{
	/* relaxed (all three): f is not shared yet; whoever shares it does so
	 * with a release operation (queue publication or (L1)). */
	atomic_init(&f->state, WEFT_PENDING | kind);
	atomic_init(&f->refs, refs);
	atomic_init(&f->listeners, NULL);
	f->pool = p;
	f->antecedent = NULL;
	f->result = NULL;
}

/*
 * Completion, for the runtime.
 */

/* The runner moves f from PENDING to RUNNING. False if f was cancelled
 * first (the runner then only drops its reference). */
bool weft__future_start(struct weft_future *f);

/* The runner completes f (RUNNING) as final (SUCCEEDED, FAILED with
 * result holding the code, or CANCELLED), wakes its waiters and delivers
 * its listeners. The caller holds a reference. */
void weft__future_finish(struct weft_future *f, unsigned final, void *result);

/* Cancels a PENDING f (any kind); the caller holds a reference. */
bool weft__future_cancel(struct weft_future *f);

/* Runs a plain task or continuation the runner has started: returns the
 * final state and sets *result; *ran tells whether fn ran (an ON_SUCCESS
 * continuation passes a failure on without running it). */
unsigned weft__future_execute(struct weft_future *f, void **result,
			      bool *ran);

/* Drops the reference of the queue that held f, after f ran or was found
 * cancelled; a continuation also drops its antecedent. */
void weft__future_retire(struct weft_future *f);

/* Waits until f is final or the CLOCK_MONOTONIC deadline (ns, < 0: none)
 * passes: 0 or -ETIMEDOUT. On a worker it runs other tasks while it
 * waits; elsewhere it spins briefly, then sleeps on f's futex word. */
int weft__future_wait_final(struct weft_future *f, int64_t deadline_ns);

/* weft__future_wait_final without the spin: on a worker it runs other
 * tasks while it waits; elsewhere it sleeps on f's futex word at once. */
int weft__future_block_final(struct weft_future *f, int64_t deadline_ns);

/* Starts the spin of a thread that is not a worker, before it sleeps on a
 * future: WEFT__EXTERNAL_SPIN_NS from now, or until deadline_ns (ns,
 * < 0: none) if that comes first. */
struct weft__spin;
void weft__external_spin_start(struct weft__spin *spin, int64_t deadline_ns);

/* Completes a future that is not a task (a combinator's) as final with
 * result, unless it was cancelled first. One resolver per future. */
void weft__future_resolve(struct weft_future *f, unsigned final,
			  void *result);

/* A callback node for cb(f, ctx), or NULL (no memory). flags: 0, or
 * WEFT__EARLY for the runtime's own watchers. */
struct weft_future *weft__callback_new(weft_callback cb, void *ctx,
				      uint32_t flags);
/* Registers a node from weft__callback_new on f; if f is already done the
 * callback runs now, on the calling thread. Never fails. */
void weft__callback_attach(struct weft_future *f, struct weft_future *n);
/* Pushes a node from weft__callback_new onto f's listeners: true, or
 * false if f is already done, with n untouched for the caller to deliver
 * itself (the caller then sees f's result). For callbacks whose ctx is
 * the node itself, which weft__callback_attach frees before it runs. */
bool weft__callback_push(struct weft_future *f, struct weft_future *n);

/* True if f's body is on this thread's stack (the caller runs inside f's
 * task or continuation, maybe nested while it helps): waiting for f would
 * wait for this very thread. */
bool weft__running_here(const struct weft_future *f);

/* The code weft_fail() left for the item the caller just ran inside the
 * current task, which it clears (pipelines run one stage function per
 * item inside one task). 0 if none. */
int weft__take_fail(void);

/*
 * The narrow interface future/ needs from the runtime (runtime/ implements
 * it).
 */

/* A fresh 64-byte object, or NULL. Any thread; p (may be NULL) is the
 * pool the object is for, which an outside thread may take spare objects
 * from and hand its own surplus to: pass NULL unless p is alive. */
struct weft_future *weft__task_alloc(weft_pool *p);
/* Returns an object whose last reference is gone. Any thread. */
void weft__task_free(struct weft_future *f);
/* Schedules a continuation whose antecedent has completed. Never fails:
 * if the pool can no longer run it, it is cancelled. Any thread. */
void weft__schedule_ready(struct weft_future *c);
/* Schedules a continuation registered on an already-done antecedent, as a
 * new submission from the calling thread: 0, or -ESHUTDOWN when the
 * caller is not one of the pool's workers and the pool is shut down. */
int weft__schedule_new(struct weft_future *c);
/* On a worker: finds one task and runs it (true), or finds none (false).
 * Elsewhere: false. Waiting code calls it so that a worker that waits
 * keeps the pool going. */
bool weft__help_once(void);
/* Sleeps on a futex word while it holds expected, until woken or the
 * CLOCK_MONOTONIC deadline (ns, < 0: none). A worker sleeps RCU-offline
 * and at most 1 ms at a time (work injected into its queue does not wake
 * it). Returns like weft__futex_wait; callers re-check and loop. */
int weft__block(_Atomic uint32_t *word, uint32_t expected,
		int64_t deadline_ns);
/* True on a worker thread of any pool. */
bool weft__on_worker(void);

#endif
