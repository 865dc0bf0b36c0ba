/*
 * Completion queues: finished futures handed to an event loop through an
 * eventfd it polls.
 *
 * READ this first: the ordering contract.
 *
 * Entries. weft_future_post allocates a callback node (future.c) that
 * carries the post: u.cb is deliver(), arg the node itself, antecedent the
 * posted future (the post's own reference), result the tag. The node goes
 * onto f's listener stack, or, if f is already done, straight to
 * deliver() on the posting thread. deliver() enqueues the node's link on
 * the cq's wfcqueue: wait-free for any number of deliverers at once, no
 * lock. The node holds two references: one that the listener delivery
 * drops after deliver() returns (deliver() drops it itself on the direct
 * path) and one that weft_cq_pop drops once it has read the entry.
 *
 * The wake-up handshake. cds_wfcq_enqueue returns false when the queue was
 * empty before: exactly one deliverer per empty -> non-empty turn sees
 * that, the "starter", and it writes the eventfd after its enqueue. Only
 * pop reads (drains) the eventfd, and only after it found the queue empty;
 * it then re-checks the queue. Invariant (W): while the queue is not
 * empty, the eventfd is readable or the starter of the current non-empty
 * turn has yet to write it. Proof sketch: a drain consumes a starter's
 * write only if that write came before the drain; the starter enqueued
 * before it wrote, and the write and the read synchronise in the kernel
 * (the eventfd's lock), so the re-check after the drain sees the queue
 * non-empty. Pop then either empties the queue or writes the eventfd
 * itself before it returns (re-arm). Pop never drains otherwise, so (W)
 * holds at every return, and no wake-up is lost. The converse is not
 * exact: a starter whose entry was popped before its write leaves the fd
 * readable over an empty queue until the next pop that returns 0, which
 * drains it.
 *
 * The payload. The wfcqueue's enqueue issues a full barrier before its
 * exchange and the dequeue reads the node after it (liburcu's contract),
 * so the tag and future written before the enqueue are visible to pop; a
 * WEFT_TSAN build tells ThreadSanitizer (future/tsan.h, 1). The future's
 * result is ordered by its own contract (future.h, (C1)/(C2)): deliver()
 * runs after the completion's release RMW on the completing thread, or
 * after the poster's acquire load saw it final.
 *
 * Counting posts. Each post adds one to unpopped, which pop takes back
 * with the entry (Q2), and one to delivering, which the deliverer takes
 * back after its last use of the cq (Q1). weft_cq_destroy refuses while
 * unpopped is not zero (Q3). At zero every entry was popped, so every
 * deliverer is past its enqueue and owes at most its eventfd write and
 * its (Q1): destroy waits for delivering to reach zero (Q4), a bounded
 * wait, instead of reporting -EBUSY for a post the caller has already
 * popped. (Q3) and (Q4) acquire, pairing with (Q2) and (Q1): every
 * popper's and deliverer's last use of the cq happens-before the free.
 *
 * Synchronisation table (what may run at once on one cq):
 *   post  with post, pop, fd, a delivery: yes
 *   pop   with pop: no (a second one returns -EBUSY, see consumer)
 *   destroy with anything: no (the caller orders it after every other
 *         call; deliveries in flight are seen through the counts)
 */
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <urcu/wfcqueue.h>

#include "future/future.h"
#include "future/tsan.h"

struct weft_cq {
	/* Any deliverer enqueues (wait-free); the popper that holds consumer
	 * dequeues. */
	struct __cds_wfcq_head head;
	_Alignas(64) struct cds_wfcq_tail tail;
	/* Posts not yet popped, and posts whose deliverer may still use the
	 * cq (see Counting posts above). Posters add (relaxed: the poster
	 * owns the cq for its call); poppers subtract from unpopped (Q2),
	 * deliverers from delivering (Q1), with release; destroy reads both
	 * (Q3, Q4). */
	_Alignas(64) _Atomic uint64_t unpopped;
	_Atomic uint64_t delivering;
	/* The popper's try-lock: the wfcqueue's dequeue needs one dequeuer
	 * at a time. Taken and dropped by pop only. */
	_Atomic bool consumer;
	int efd; /* immutable */
};

static void efd_write(int efd)
{
	uint64_t one = 1;
	/* Cannot fail but with EAGAIN at a count of 2^64 - 2, which (W)
	 * does not need: the fd is readable then. */
	ssize_t r = write(efd, &one, sizeof(one));
	(void)r;
}

static void efd_drain(int efd)
{
	uint64_t v;
	/* EAGAIN: nothing to drain. */
	ssize_t r = read(efd, &v, sizeof(v));
	(void)r;
}

int weft_cq_create(weft_cq **out)
{
	if (!out)
		return -EINVAL;
	weft_cq *cq = aligned_alloc(64, sizeof(*cq));
	if (!cq)
		return -ENOMEM;
	cq->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (cq->efd < 0) {
		int err = -errno;
		free(cq);
		return err;
	}
	__cds_wfcq_init(&cq->head, &cq->tail);
	/* relaxed (both): cq is not shared until *out is handed over. */
	atomic_init(&cq->unpopped, 0);
	atomic_init(&cq->delivering, 0);
	atomic_init(&cq->consumer, false);
	*out = cq;
	return 0;
}

int weft_cq_fd(const weft_cq *cq)
{
	return cq ? cq->efd : -EINVAL;
}

/* The node's callback: f is done; queue the entry. ctx is the node. */
static void deliver(weft_future *f, void *ctx)
{
	struct weft_future *n = ctx;
	weft_cq *cq = n->cq;
	(void)f;
	cds_wfcq_node_init(&n->link.qnode);
	weft__tsan_release(n);
	/* Full barrier before the exchange (liburcu): the entry's fields are
	 * published to pop. false: this enqueue turned the queue non-empty,
	 * so this thread is the starter and owes the write (W). */
	if (!cds_wfcq_enqueue(&cq->head, &cq->tail, &n->link.qnode))
		efd_write(cq->efd);
	/* (Q1) release: this deliverer's uses of cq (the enqueue, the
	 * write) happen-before a destroy that reads zero (Q4). */
	atomic_fetch_sub_explicit(&cq->delivering, 1, memory_order_release);
}

int weft_future_post(weft_future *f, weft_cq *cq, void *tag)
{
	if (!f || !cq)
		return -EINVAL;
	struct weft_future *n = weft__callback_new(deliver, NULL, 0);
	if (!n)
		return -ENOMEM;
	n->arg = n;
	n->cq = cq;
	n->antecedent = f;
	n->result = tag;
	weft__ref(f);
	/* The second reference: pop's (see Entries). */
	weft__ref(n);
	/* relaxed: the caller owns cq for this call; destroy is ordered after
	 * it by the caller, and the deliverer's (Q1) publishes its uses. */
	atomic_fetch_add_explicit(&cq->unpopped, 1, memory_order_relaxed);
	/* relaxed: as above. */
	atomic_fetch_add_explicit(&cq->delivering, 1, memory_order_relaxed);
	if (!weft__callback_push(f, n)) {
		/* f is done: deliver here and drop the delivery's reference,
		 * as the listener delivery would. */
		deliver(f, n);
		weft__unref(n);
	}
	return 0;
}

int weft_cq_pop(weft_cq *cq, weft_future **f, void **tag)
{
	if (!cq || !f)
		return -EINVAL;
	/* acquire: pairs with the release store below of the previous
	 * popper, so dequeuers are mutually excluded. */
	if (atomic_exchange_explicit(&cq->consumer, true, memory_order_acquire))
		return -EBUSY;
	struct cds_wfcq_node *node;
	bool drained = false;
	for (;;) {
		node = __cds_wfcq_dequeue_nonblocking(&cq->head, &cq->tail);
		if (node && node != CDS_WFCQ_WOULDBLOCK)
			break;
		if (node == CDS_WFCQ_WOULDBLOCK || drained)
			break;
		/* Empty: drain, then re-check (W). */
		efd_drain(cq->efd);
		drained = true;
	}
	/* A drain in this call may have taken the write that announced what
	 * is still queued: re-arm so (W) holds. WOULDBLOCK (an enqueue
	 * between its exchange and its link) counts as queued. */
	if (drained && !cds_wfcq_empty(&cq->head, &cq->tail))
		efd_write(cq->efd);
	/* release: pairs with the acquire exchange above. */
	atomic_store_explicit(&cq->consumer, false, memory_order_release);
	if (!node || node == CDS_WFCQ_WOULDBLOCK)
		return 0;
	struct weft_future *n = weft__from_qnode(node);
	weft__tsan_acquire(n);
	*f = n->antecedent;
	if (tag)
		*tag = n->result;
	weft__unref(n);
	/* (Q2) release: this pop's uses of cq happen-before a destroy that
	 * reads zero (Q3). */
	atomic_fetch_sub_explicit(&cq->unpopped, 1, memory_order_release);
	return 1;
}

int weft_cq_destroy(weft_cq *cq)
{
	if (!cq)
		return 0;
	/* (Q3) acquire: pairs with every (Q2). */
	if (atomic_load_explicit(&cq->unpopped, memory_order_acquire))
		return -EBUSY;
	/* (Q4) acquire: pairs with every (Q1). Each deliverer still counted
	 * is past its enqueue (its entry was popped): a few instructions and
	 * one write from done, unless it is preempted, hence the yield. */
	while (atomic_load_explicit(&cq->delivering, memory_order_acquire))
		sched_yield();
	close(cq->efd);
	free(cq);
	return 0;
}
