/*
 * Injection: how tasks from threads that are not the pool's workers enter
 * it. Each worker owns a wait-free multi-producer queue (liburcu wfcqueue);
 * producers never touch a deque. Dequeuers (the owner, thieves, the
 * shutdown drain) take the queue's try-lock and use only the non-blocking
 * dequeue, which never sleeps behind a preempted producer. The gate
 * protocol is in internal.h.
 */
#include <errno.h>

#include "runtime/internal.h"
#include "runtime/probes.h"
#include "runtime/trace.h"
#include "future/tsan.h"

void weft__inject(struct weft__worker *target, struct weft_future *t)
{
	cds_wfcq_node_init(&t->link.qnode);
	weft__tsan_release(t);
	/* cds_wfcq_enqueue issues a full barrier before its exchange: the
	 * task's contents are published to the dequeuer. */
	cds_wfcq_enqueue(&target->inject_head, &target->inject_tail,
			 &t->link.qnode);
}

bool weft__inject_empty(struct weft__worker *w)
{
	return cds_wfcq_empty(&w->inject_head, &w->inject_tail);
}

struct weft_future *weft__inject_pop(struct weft__worker *w)
{
	if (weft__inject_empty(w))
		return NULL;
	/* acquire: pairs with the release store that unlocks, so dequeuers
	 * are mutually excluded. */
	if (atomic_exchange_explicit(&w->inject_lock, true,
				     memory_order_acquire))
		return NULL;
	struct cds_wfcq_node *node = __cds_wfcq_dequeue_nonblocking(
		&w->inject_head, &w->inject_tail);
	/* release: pairs with the acquire exchange above. */
	atomic_store_explicit(&w->inject_lock, false, memory_order_release);
	/* WOULDBLOCK: a producer is between its exchange and its link
	 * store. The queue is not empty, so nobody parks on it; try later. */
	if (!node || node == CDS_WFCQ_WOULDBLOCK)
		return NULL;
	struct weft_future *t = weft__from_qnode(node);
	weft__tsan_acquire(t);
	if (w->pool->max_queued)
		/* relaxed: see queued in internal.h. */
		atomic_fetch_sub_explicit(&w->pool->queued, 1,
					  memory_order_relaxed);
	return t;
}

void weft__inject_counted(struct weft__worker *target, struct weft_future *t)
{
	if (target->pool->max_queued)
		/* relaxed: see queued in internal.h. */
		atomic_fetch_add_explicit(&target->pool->queued, 1,
					  memory_order_relaxed);
	weft__inject(target, t);
}

/* Reserves a place for a new outside submission under max_queued: false
 * (nothing reserved) if max_queued tasks already wait. */
static bool admit(weft_pool *p)
{
	/* relaxed: see queued in internal.h. */
	size_t q = atomic_fetch_add_explicit(&p->queued, 1,
					     memory_order_relaxed);
	if (q < p->max_queued)
		return true;
	/* relaxed: as above. */
	atomic_fetch_sub_explicit(&p->queued, 1, memory_order_relaxed);
	return false;
}

/* Round-robin over the workers, per submitting thread. */
static WEFT__TLS unsigned tls_next_target;

int weft__inject_external(weft_pool *p, struct weft_future *t, bool user)
{
	/* (G1) relaxed: only the atomicity of the RMW matters; it is ordered
	 * against (G3) by the gate word's modification order. */
	uint64_t g = atomic_fetch_add_explicit(&p->gate, WEFT__GATE_ONE,
					       memory_order_relaxed);
	int err = 0;
	if ((g & WEFT__GATE_EXITED) || (user && (g & WEFT__GATE_SHUTDOWN)))
		err = -ESHUTDOWN;
	else if (p->max_queued && user && !admit(p))
		err = -EAGAIN;
	else if (p->max_queued && !user)
		/* relaxed: a ready continuation is never refused, but counts
		 * (see queued in internal.h). */
		atomic_fetch_add_explicit(&p->queued, 1, memory_order_relaxed);
	if (err) {
		/* (G2) release: as below, though nothing was enqueued. */
		g = atomic_fetch_sub_explicit(&p->gate, WEFT__GATE_ONE,
					      memory_order_release);
		/* The last idle worker may have failed (G3) because of this
		 * count: wake the workers so one tries again. */
		if ((g & WEFT__GATE_SHUTDOWN) && !(g & WEFT__GATE_EXITED))
			weft__wake_all(p);
		return err;
	}
	weft__stamp_ready(p, t, WEFT__STAMP_EXTERNAL);
	WEFT__PROBE4(submit, p, weft__probe_reg(-1), t, t->u.fn);
	weft__inject(&p->workers[tls_next_target++ % p->nworkers], t);
	/* (G2) release: the enqueue above happens-before the (G3) CAS that
	 * reads this count, so the exiting worker's re-check finds it. */
	atomic_fetch_sub_explicit(&p->gate, WEFT__GATE_ONE,
				  memory_order_release);
	weft__notify(p);
	return 0;
}

bool weft__takes_work(const weft_pool *p)
{
	/* relaxed: a snapshot. A caller ordered after shutdown by other
	 * means sees SHUTDOWN by coherence; one that races with it may see
	 * either, as a submit racing with it may be taken or refused. */
	uint64_t g = atomic_load_explicit(&p->gate, memory_order_relaxed);
	if (g & WEFT__GATE_EXITED)
		return false;
	return !(g & WEFT__GATE_SHUTDOWN) || weft__self_in(p);
}
