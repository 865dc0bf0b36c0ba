/*
 * Futures: completion, cancellation, listeners (callbacks and
 * continuations), and the public calls on a single future. The ordering
 * contract is in future.h.
 */
#include "future/future.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>

#include "future/futex.h"

/* What this thread is running, innermost first: one frame per task or
 * continuation body (nested when a worker helps while it waits) and one
 * with no task per callback, where weft_fail() has no effect. A task's
 * frame holds the code its weft_fail() call left. The frames live on the
 * C stack; the chain is thread-local, so no synchronisation. */
struct exec_frame {
	struct weft_future *task; /* NULL: a callback */
	int fail;
	struct exec_frame *prev;
};
static WEFT__TLS struct exec_frame *tls_frame;

void *weft_fail(int err)
{
	if (tls_frame && tls_frame->task)
		tls_frame->fail = err > 0 ? err : EINVAL;
	return NULL;
}

bool weft__running_here(const struct weft_future *f)
{
	/* Only a running body can be on a stack; the walk is for those. */
	if (weft_future_state(f) != WEFT_RUNNING)
		return false;
	for (const struct exec_frame *e = tls_frame; e; e = e->prev)
		if (e->task == f)
			return true;
	return false;
}

static void run_callback(weft_callback cb, struct weft_future *f, void *ctx)
{
	struct exec_frame frame = {NULL, 0, tls_frame};
	tls_frame = &frame;
	cb(f, ctx);
	tls_frame = frame.prev;
}

void weft__unref(struct weft_future *f)
{
	/* (R1) acq_rel: the release orders this holder's uses before the
	 * decrement; the acquire of the last decrement sees every other
	 * holder's uses before the object is freed. */
	if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) == 1)
		weft__task_free(f);
}

/* Delivers the listeners of a future that just became final: callbacks
 * run here, oldest first; continuations are scheduled. */
static void deliver_one(struct weft_future *f, struct weft_future *n)
{
	/* relaxed: the kind bits are immutable and were published by
	 * (L1)/(L2). */
	uint32_t kind = atomic_load_explicit(&n->state, memory_order_relaxed);
	if (kind & WEFT__KIND_CALLBACK) {
		run_callback(n->u.cb, f, n->arg);
		weft__unref(n);
	} else {
		weft__schedule_ready(n);
	}
}

static void deliver(struct weft_future *f)
{
	/* (L2) acq_rel: acquire pairs with every registrant's (L1) so the
	 * nodes' contents are visible; release pairs with the acquire of a
	 * registrant that finds CLOSED, so it sees the final state. */
	struct weft_future *n = atomic_exchange_explicit(
		&f->listeners, WEFT__CLOSED, memory_order_acq_rel);
	struct weft_future *early = NULL, *rest = NULL;

	/* The stack is newest first: reversing it onto two lists gives each
	 * list oldest first. */
	while (n) {
		struct weft_future *next = n->link.next;
		/* relaxed: as in deliver_one. */
		struct weft_future **list =
			atomic_load_explicit(&n->state, memory_order_relaxed) &
					WEFT__EARLY ?
				&early :
				&rest;
		n->link.next = *list;
		*list = n;
		n = next;
	}
	for (struct weft_future *l = early; l; l = n) {
		n = l->link.next;
		deliver_one(f, l);
	}
	for (struct weft_future *l = rest; l; l = n) {
		n = l->link.next;
		deliver_one(f, l);
	}
}

/* After the final-state RMW that returned old. The listeners go first,
 * then the futex wake: a thread asleep on f that is woken here finds the
 * combinators that watch f (as_completed, when_any) already told, and so
 * does a user's callback on f, as the combinators' nodes are EARLY. A
 * thread that reads the state is not so ordered: the RMW published it
 * before deliver() runs, so a wait that returns without sleeping (it
 * checks the state first, and spins outside the pool) can act on f's
 * completion before any listener has been told. */
static void completed(struct weft_future *f, uint32_t old)
{
	if (old & WEFT__LISTENERS)
		deliver(f);
	if (old & WEFT__WAITERS)
		weft__futex_wake_consumers(&f->state);
}

bool weft__future_start(struct weft_future *f)
{
	/* relaxed: the queue that handed f over published its contents; the
	 * race with cancel needs only the atomicity of the CAS below. */
	uint32_t s = atomic_load_explicit(&f->state, memory_order_relaxed);
	while (weft__state_of(s) == WEFT_PENDING) {
		/* relaxed: as above; PENDING -> RUNNING publishes nothing. */
		if (atomic_compare_exchange_weak_explicit(
			    &f->state, &s, s - WEFT_PENDING + WEFT_RUNNING,
			    memory_order_relaxed, memory_order_relaxed))
			return true;
	}
	return false;
}

void weft__future_finish(struct weft_future *f, unsigned final, void *result)
{
	f->result = result;
	/* (C1) release: publishes result and the task body's writes; pairs
	 * with the waiters' acquire loads (C2). Only the runner writes the
	 * state bits while RUNNING, so adding the difference is exact and
	 * keeps the WAITERS bit. */
	uint32_t old = atomic_fetch_add_explicit(
		&f->state, final - WEFT_RUNNING, memory_order_release);
	completed(f, old);
}

bool weft__future_cancel(struct weft_future *f)
{
	/* relaxed: a snapshot to start the CAS loop from. */
	uint32_t s = atomic_load_explicit(&f->state, memory_order_relaxed);
	for (;;) {
		unsigned st = weft__state_of(s);
		if (st == WEFT_CANCELLED)
			return true;
		if (st != WEFT_PENDING)
			return false;
		/* (C1) release: the cancellation is a final state; pairs with
		 * (C2) like a completion. */
		if (atomic_compare_exchange_weak_explicit(
			    &f->state, &s,
			    (s & ~WEFT__STATE_MASK) | WEFT_CANCELLED,
			    memory_order_release, memory_order_relaxed))
			break;
	}
	completed(f, s);
	return true;
}

unsigned weft__future_execute(struct weft_future *f, void **result,
			      bool *ran)
{
	/* relaxed: the kind bits are immutable. */
	uint32_t kind = atomic_load_explicit(&f->state, memory_order_relaxed);
	struct exec_frame frame = {f, 0, tls_frame};
	void *r;

	if (kind & WEFT__KIND_THEN) {
		struct weft_future *a = f->antecedent;
		/* (C2) acquire: pairs with the antecedent's (C1), so its
		 * result is visible here and to fn. */
		uint32_t as = atomic_load_explicit(&a->state,
						   memory_order_acquire);
		if ((kind & WEFT__ON_SUCCESS) &&
		    weft__state_of(as) != WEFT_SUCCEEDED) {
			/* A cancelled future's result is never read: it may
			 * still hold its ready stamp (runtime/trace.h). */
			*result = weft__state_of(as) == WEFT_FAILED ? a->result
								  : NULL;
			*ran = false;
			return weft__state_of(as);
		}
		tls_frame = &frame;
		r = f->u.then_fn(a, f->arg);
	} else {
		tls_frame = &frame;
		r = f->u.fn(f->arg);
	}
	tls_frame = frame.prev;
	*ran = true;
	unsigned final = WEFT_SUCCEEDED;
	if (frame.fail) {
		final = WEFT_FAILED;
		r = (void *)(intptr_t)frame.fail;
	}
	*result = r;
	return final;
}

void weft__future_retire(struct weft_future *f)
{
	/* relaxed: the kind bits are immutable. */
	if (atomic_load_explicit(&f->state, memory_order_relaxed) &
	    WEFT__KIND_THEN)
		weft__unref(f->antecedent);
	weft__unref(f);
}

void weft__external_spin_start(struct weft__spin *spin, int64_t deadline_ns)
{
	int64_t spin_until = weft__now_ns() + WEFT__EXTERNAL_SPIN_NS;
	if (deadline_ns >= 0 && deadline_ns < spin_until)
		spin_until = deadline_ns;
	weft__spin_start(spin, spin_until, WEFT__SPIN_YIELD_NS,
			 WEFT__SPIN_YIELD_NS);
}

int weft__future_wait_final(struct weft_future *f, int64_t deadline_ns)
{
	if (!weft__on_worker()) {
		struct weft__spin spin;
		weft__external_spin_start(&spin, deadline_ns);
		while (!weft_future_done(f) && weft__spin_again(&spin))
			;
	}
	return weft__future_block_final(f, deadline_ns);
}

int weft__future_block_final(struct weft_future *f, int64_t deadline_ns)
{
	for (;;) {
		/* (C2) acquire: pairs with (C1). */
		uint32_t s = atomic_load_explicit(&f->state,
						  memory_order_acquire);
		if (weft__is_final(s))
			return 0;
		if (weft__help_once())
			continue;
		if (deadline_ns >= 0 && weft__now_ns() >= deadline_ns)
			return -ETIMEDOUT;
		/* Announce the sleeper before sleeping: the completer's RMW
		 * (C1) then sees WAITERS and wakes, or this CAS fails because
		 * the state moved and the loop re-checks. */
		/* relaxed: setting WAITERS publishes nothing; a failed CAS
		 * sends the loop back to the (C2) load. */
		if (!(s & WEFT__WAITERS) &&
		    !atomic_compare_exchange_strong_explicit(
			    &f->state, &s, s | WEFT__WAITERS,
			    memory_order_relaxed, memory_order_relaxed))
			continue;
		weft__block(&f->state, s | WEFT__WAITERS, deadline_ns);
	}
}

void weft__future_resolve(struct weft_future *f, unsigned final,
			  void *result)
{
	/* relaxed: a snapshot to start the CAS from. */
	uint32_t s = atomic_load_explicit(&f->state, memory_order_relaxed);
	f->result = result;
	do {
		if (weft__state_of(s) != WEFT_PENDING)
			return; /* cancelled by a user: result is never read */
		/* (C1) release: publishes result; pairs with (C2). */
	} while (!atomic_compare_exchange_weak_explicit(
		&f->state, &s, (s & ~WEFT__STATE_MASK) | final,
		memory_order_release, memory_order_relaxed));
	completed(f, s);
}

int weft__take_fail(void)
{
	if (!tls_frame || !tls_frame->task)
		return 0;
	int err = tls_frame->fail;
	tls_frame->fail = 0;
	return err;
}

/* Pushes node n onto f's listener stack. False if f is already complete
 * (its state is final, or the stack is CLOSED); n is then untouched.
 * The state is checked first because the completer closes the stack only
 * after its final-state RMW: a caller that has seen f done (get, wait,
 * state) must get "runs at once, on the calling thread" and the
 * -ESHUTDOWN check of a new submission, not a node left for the
 * completer to run later on its own thread. */
static bool listener_push(struct weft_future *f, struct weft_future *n)
{
	/* (C2) acquire: if f is final, pairs with (C1) so the caller sees
	 * f's result. */
	uint32_t s = atomic_load_explicit(&f->state, memory_order_acquire);
	while (!(s & WEFT__LISTENERS)) {
		if (weft__is_final(s))
			return false;
		/* (L0) acquire: on failure s may be final, as above. Setting
		 * the bit publishes nothing: (L1) publishes the node. */
		if (atomic_compare_exchange_weak_explicit(
			    &f->state, &s, s | WEFT__LISTENERS,
			    memory_order_acquire, memory_order_acquire))
			break;
	}
	if (weft__is_final(s))
		return false; /* done: the caller runs n itself, at once */
	/* acquire: if this reads CLOSED, pairs with (L2) so the caller sees
	 * f's final state and result. */
	struct weft_future *head =
		atomic_load_explicit(&f->listeners, memory_order_acquire);
	do {
		if (head == WEFT__CLOSED)
			return false;
		n->link.next = head;
		/* (L1) release: publishes n's contents to the completer's
		 * (L2); acquire on failure for the same reason as above. */
	} while (!atomic_compare_exchange_weak_explicit(
		&f->listeners, &head, n, memory_order_release,
		memory_order_acquire));
	return true;
}

/*
 * The public calls.
 */

enum weft_state weft_future_state(const weft_future *f)
{
	if (!f)
		return WEFT_PENDING;
	/* (C2) acquire: pairs with (C1); a caller that sees a final state
	 * also sees the task body's writes. */
	return (enum weft_state)weft__state_of(
		atomic_load_explicit(&f->state, memory_order_acquire));
}

bool weft_future_done(const weft_future *f)
{
	return weft_future_state(f) >= WEFT_SUCCEEDED;
}

bool weft_future_cancel(weft_future *f)
{
	return f ? weft__future_cancel(f) : false;
}

void weft_future_retain(weft_future *f)
{
	if (f)
		weft__ref(f);
}

void weft_future_release(weft_future *f)
{
	if (f)
		weft__unref(f);
}

int weft_future_wait(weft_future *f, int64_t timeout_ns)
{
	if (!f || timeout_ns < WEFT_FOREVER)
		return -EINVAL;
	enum weft_state st = weft_future_state(f);
	if (st >= WEFT_SUCCEEDED)
		return 0;
	if (st == WEFT_RUNNING && weft__running_here(f))
		return -EDEADLK;
	if (timeout_ns == 0)
		return -ETIMEDOUT;
	return weft__future_wait_final(f, weft__deadline(timeout_ns));
}

int weft_future_get(weft_future *f, void **result)
{
	if (!f)
		return -EINVAL;
	int err = weft_future_wait(f, WEFT_FOREVER);
	if (err)
		return err;
	/* (C2) acquire: pairs with (C1); result is read after it. */
	uint32_t s = atomic_load_explicit(&f->state, memory_order_acquire);
	switch (weft__state_of(s)) {
	case WEFT_SUCCEEDED:
		if (result)
			*result = f->result;
		return 0;
	case WEFT_FAILED:
		return -(int)(intptr_t)f->result;
	default:
		return -ECANCELED;
	}
}

struct weft_future *weft__callback_new(weft_callback cb, void *ctx,
				      uint32_t flags)
{
	/* No pool: the future it watches may outlive its pool. */
	struct weft_future *n = weft__task_alloc(NULL);
	if (n) {
		weft__future_init(n, NULL, WEFT__KIND_CALLBACK | flags, 1);
		n->u.cb = cb;
		n->arg = ctx;
	}
	return n;
}

void weft__callback_attach(struct weft_future *f, struct weft_future *n)
{
	if (!listener_push(f, n)) {
		weft_callback cb = n->u.cb;
		void *ctx = n->arg;
		weft__task_free(n);
		run_callback(cb, f, ctx);
	}
}

bool weft__callback_push(struct weft_future *f, struct weft_future *n)
{
	return listener_push(f, n);
}

int weft_future_on_done(weft_future *f, weft_callback cb, void *ctx)
{
	if (!f || !cb)
		return -EINVAL;
	struct weft_future *n = weft__callback_new(cb, ctx, 0);
	if (!n)
		return -ENOMEM;
	weft__callback_attach(f, n);
	return 0;
}

int weft_future_then(weft_future *f, weft_then_fn fn, void *ctx,
		     unsigned flags, weft_future **out)
{
	if (!f || !fn || (flags & ~WEFT_THEN_ON_SUCCESS) || !f->pool)
		return -EINVAL;
	struct weft_future *c = weft__task_alloc(f->pool);
	if (!c)
		return -ENOMEM;
	uint32_t kind = WEFT__KIND_THEN |
			(flags & WEFT_THEN_ON_SUCCESS ? WEFT__ON_SUCCESS : 0);
	/* One reference for the listener stack (then the queue), one for
	 * the caller's handle. */
	weft__future_init(c, f->pool, kind, out ? 2 : 1);
	c->u.then_fn = fn;
	c->arg = ctx;
	c->antecedent = f;
	weft__ref(f);
	if (!listener_push(f, c)) {
		int err = weft__schedule_new(c);
		if (err) {
			weft__unref(f);
			weft__task_free(c);
			return err;
		}
	}
	if (out)
		*out = c;
	return 0;
}
