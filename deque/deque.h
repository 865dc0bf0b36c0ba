/*
 * The Chase-Lev work-stealing deque (Lê, Pop, Cohen, Zappa Nardelli,
 * PPoPP 2013), with the fixes the published code needs.
 *
 * READ this first: the ordering contract.
 *
 * One owner thread pushes and takes at the bottom; any number of thieves
 * steal at the top. Items are non-NULL pointers.
 *
 *   push (owner)   if full by top_seen: top_seen = top (acquire);
 *                  slot[b] = x; publish; bottom = b + 1
 *   take (owner)   if top >= bottom: empty; bottom = b - 1; (D1) ;
 *                  t = top; if t == b: CAS top
 *   steal (thief)  t = top; (D2) ; b = bottom; x = slot[t]; CAS top
 *
 * (P) Publication. push writes the slot, then publishes it with a release
 *     fence before the relaxed store of bottom; a thief's acquire load of
 *     bottom (S1) pairs with it, so the thief sees the slot and everything
 *     the owner wrote before push. ThreadSanitizer does not model fences,
 *     so a WEFT_TSAN build publishes with a release store of bottom instead;
 *     on x86-64 both are the same plain store. This is the only place where
 *     the two builds differ.
 *
 * (D) The Dekker pair. take stores bottom and then loads top; steal loads
 *     top and then loads bottom. Both pairs are seq_cst operations, so they
 *     sit in the single total order S, and the litmus
 *         owner: bottom = b-1; r1 = top    thief: r2 = top; r3 = bottom
 *     cannot end with the owner missing the thief's top and the thief
 *     missing the owner's bottom: both cannot claim the last element. This
 *     is the paper's two seq_cst fences written as seq_cst accesses, which
 *     C11 gives the same guarantee for, which ThreadSanitizer can see, and
 *     which costs no fence on the steal side on x86-64. The seq_cst CAS on
 *     top settles the remaining tie on the last element.
 *
 * Pitfalls handled (research/reliability.md §1):
 *  - indices are int64_t: take on a fresh deque computes b = -1 < t = 0
 *    and reports empty instead of wrapping;
 *  - push reloads the buffer after growing (the paper's lost-item bug);
 *  - slots are _Atomic(void *) and steal reads its slot before the CAS;
 *  - take restores bottom = b + 1 on both outcomes of the last-element CAS;
 *  - steal re-reads the buffer pointer before its CAS and reports RETRY if
 *    the owner grew the deque in between (crossbeam's one-load check);
 *  - a retired buffer is never freed while a thief may still read it: it is
 *    kept until the deque is destroyed, or handed to liburcu's QSBR
 *    call_rcu when every thief is a registered QSBR reader.
 */
#ifndef WEFT_DEQUE_H
#define WEFT_DEQUE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <urcu/urcu-qsbr.h> /* struct rcu_head, urcu_qsbr_call_rcu */

enum weft__steal_result {
	WEFT__STEAL_OK,    /* *out holds the stolen item */
	WEFT__STEAL_EMPTY, /* the deque was empty */
	WEFT__STEAL_RETRY, /* lost a race with another thief or the owner */
};

enum weft__deque_reclaim {
	/* Retired buffers are kept until weft__deque_destroy(). Thieves may
	 * be any threads. Doubling keeps the retired total below the live
	 * buffer's size. */
	WEFT__RECLAIM_AT_DESTROY,
	/* Retired buffers go to urcu_qsbr_call_rcu(). The owner and every
	 * thief must be registered QSBR threads, online while they push or
	 * steal, and must not report a quiescent state inside a steal. */
	WEFT__RECLAIM_QSBR,
};

struct weft__deque_buf {
	int64_t mask;                       /* capacity - 1; capacity a power of 2 */
	struct weft__deque_buf *retired;    /* owner only: older retired buffers */
	struct rcu_head rcu;                /* for WEFT__RECLAIM_QSBR */
	_Atomic(void *) slots[];            /* written by the owner only (push,
					     * grow copy); read by the owner and
					     * by thieves; see (P) for ordering */
};

struct weft__deque {
	/* Written by thieves (CAS in steal) and by the owner (CAS in take on
	 * the last element); read by both. Only grows. */
	_Alignas(64) _Atomic int64_t top;
	/* Written by the owner only (push, take); read by thieves. */
	_Alignas(64) _Atomic int64_t bottom;
	/* Owner only: a value top had, at most the current one (top only
	 * grows). push checks for room against it and re-reads top only when
	 * it says full: a thief's CAS on top moves top's line to the thief,
	 * and a push that read it every time paid that miss per task while a
	 * thief was stealing. */
	int64_t top_seen;
	/* Written by the owner only (grow, release store); read by thieves
	 * (acquire) and the owner (relaxed: it wrote it). */
	_Atomic(struct weft__deque_buf *) buf;
	struct weft__deque_buf *retired;    /* owner only */
	enum weft__deque_reclaim reclaim;
};

/* Any thread, before the deque is shared. capacity is rounded up to a power
 * of two (at least 2). Returns 0, -EINVAL, -ENOMEM. */
int weft__deque_init(struct weft__deque *d, int64_t capacity,
		     enum weft__deque_reclaim reclaim);

/* After every owner and thief is done with it. Frees every buffer. */
void weft__deque_destroy(struct weft__deque *d);

/* Owner only: doubles the buffer. Returns 0 or -ENOMEM (nothing changed). */
int weft__deque_grow(struct weft__deque *d, int64_t top, int64_t bottom);

/* Owner only. Returns 0, or -ENOMEM when the deque was full and could not
 * grow (the item was not pushed). */
static inline int weft__deque_push(struct weft__deque *d, void *item)
{
	/* relaxed: only the owner writes bottom. */
	int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
	int64_t t = d->top_seen;
	/* relaxed: only the owner writes buf. */
	struct weft__deque_buf *a =
		atomic_load_explicit(&d->buf, memory_order_relaxed);

	if (b - t > a->mask) {
		/* acquire: pairs with the seq_cst CAS on top in steal (S3)
		 * and take, so a slot a thief has read is not overwritten
		 * before that read. A slot is reused only when the element
		 * it held is below a top read here; with top_seen that read
		 * happened at an earlier push, which is before this one (or
		 * top_seen is still the initial 0). */
		t = atomic_load_explicit(&d->top, memory_order_acquire);
		d->top_seen = t;
	}
	if (b - t > a->mask) {
		int err = weft__deque_grow(d, t, b);
		if (err)
			return err;
		/* relaxed: the owner reloads the buffer it just stored (the
		 * paper's bug was to keep the old one). */
		a = atomic_load_explicit(&d->buf, memory_order_relaxed);
	}
	/* relaxed: published by (P) below. */
	atomic_store_explicit(&a->slots[b & a->mask], item, memory_order_relaxed);
#ifdef WEFT_TSAN
	/* (P) release: publishes the slot; pairs with (S1) in steal. */
	atomic_store_explicit(&d->bottom, b + 1, memory_order_release);
#else
	/* (P) release fence: orders the slot store above before the bottom
	 * store below; pairs with the acquire load of bottom (S1) in steal. */
	atomic_thread_fence(memory_order_release);
	/* relaxed: ordered by the fence (P) just above. */
	atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
#endif
	return 0;
}

/* Owner only. Returns the newest item, or NULL when the deque is empty. */
static inline void *weft__deque_take(struct weft__deque *d)
{
	/* relaxed: only the owner writes bottom. */
	int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
	/* relaxed: top only grows and only this thread adds items, so a top
	 * at or past bottom means empty now too; the seq_cst store below (a
	 * full barrier on x86-64) is then skipped. A searching worker tries
	 * its own empty deque at every round. */
	if (atomic_load_explicit(&d->top, memory_order_relaxed) >= b)
		return NULL;
	b--;
	/* relaxed: only the owner writes buf. */
	struct weft__deque_buf *a =
		atomic_load_explicit(&d->buf, memory_order_relaxed);
	/* (D1) seq_cst: the owner's half of the Dekker pair; pairs with
	 * (D2) in steal. */
	atomic_store_explicit(&d->bottom, b, memory_order_seq_cst);
	/* (D1) seq_cst: ordered after the bottom store above in S. */
	int64_t t = atomic_load_explicit(&d->top, memory_order_seq_cst);
	void *x = NULL;

	if (t <= b) {
		/* relaxed: the owner wrote this slot itself. */
		x = atomic_load_explicit(&a->slots[b & a->mask],
					 memory_order_relaxed);
		if (t == b) {
			/* The last element: race the thieves for it.
			 * seq_cst: settles the tie with the thieves' CAS (S3). */
			if (!atomic_compare_exchange_strong_explicit(
				    &d->top, &t, t + 1, memory_order_seq_cst,
				    memory_order_relaxed))
				x = NULL;
			/* relaxed: restore bottom on both outcomes; thieves
			 * see top == bottom, i.e. empty, either way. */
			atomic_store_explicit(&d->bottom, b + 1,
					      memory_order_relaxed);
		}
	} else {
		/* relaxed: empty; undo the decrement. */
		atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
	}
	return x;
}

/* Any thread (see weft__deque_reclaim for QSBR). */
static inline enum weft__steal_result
weft__deque_steal(struct weft__deque *d, void **out)
{
	/* (D2) seq_cst: the thief's half of the Dekker pair; pairs with (D1)
	 * in take. Also acquires the CAS on top that freed older slots. */
	int64_t t = atomic_load_explicit(&d->top, memory_order_seq_cst);
	/* (S1)(D2) seq_cst (so acquire): pairs with the publication (P) in
	 * push, and follows the top load above in S. */
	int64_t b = atomic_load_explicit(&d->bottom, memory_order_seq_cst);

	if (t >= b)
		return WEFT__STEAL_EMPTY;
	/* (S2) acquire: pairs with the release store of buf in grow, so the
	 * copied slots are visible. */
	struct weft__deque_buf *a =
		atomic_load_explicit(&d->buf, memory_order_acquire);
	/* relaxed: the slot was published by (P) before the bottom we read;
	 * read it before the CAS, which lets the owner reuse it. */
	void *x = atomic_load_explicit(&a->slots[t & a->mask],
				       memory_order_relaxed);
	/* relaxed: the one-load check; if the owner swapped buffers since
	 * (S2), x may come from a stale copy, so give up and retry. */
	if (atomic_load_explicit(&d->buf, memory_order_relaxed) != a)
		return WEFT__STEAL_RETRY;
	/* (S3) seq_cst: claims index t; pairs with take's CAS and with the
	 * acquire load of top in push. */
	if (!atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1,
						     memory_order_seq_cst,
						     memory_order_relaxed))
		return WEFT__STEAL_RETRY;
	*out = x;
	return WEFT__STEAL_OK;
}

/* Any thread: a snapshot of bottom, the index past the newest item. Only
 * the owner's push and take move it, so an unchanged value over a while
 * says the owner neither pushed nor took (or as often did both). */
static inline int64_t weft__deque_bottom(struct weft__deque *d)
{
	/* relaxed: a snapshot, compared with an earlier one; it orders
	 * nothing. */
	return atomic_load_explicit(&d->bottom, memory_order_relaxed);
}

/* Any thread: a snapshot of the number of items, never negative. Exact
 * only when nobody pushes, takes or steals concurrently. */
static inline int64_t weft__deque_size(struct weft__deque *d)
{
	/* relaxed: an estimate; callers that need a decision re-check with
	 * take or steal. */
	int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
	/* relaxed: as above. */
	int64_t t = atomic_load_explicit(&d->top, memory_order_relaxed);
	return b > t ? b - t : 0;
}

#endif
