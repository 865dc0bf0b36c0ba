/*
 * Chase-Lev deque: the cold paths (init, growth, destruction). The ordering
 * contract and the hot paths are in deque.h.
 */
#include "deque/deque.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>


#include "runtime/alloc.h"

static struct weft__deque_buf *buf_new(int64_t capacity)
{
	struct weft__deque_buf *a = weft__malloc(
		sizeof(*a) + (size_t)capacity * sizeof(a->slots[0]));
	if (!a)
		return NULL;
	a->mask = capacity - 1;
	a->retired = NULL;
	return a;
}

int weft__deque_init(struct weft__deque *d, int64_t capacity,
		     enum weft__deque_reclaim reclaim)
{
	if (!d || capacity < 1 || capacity > (INT64_C(1) << 40) ||
	    (reclaim != WEFT__RECLAIM_AT_DESTROY &&
	     reclaim != WEFT__RECLAIM_QSBR))
		return -EINVAL;
	int64_t cap = 2;
	while (cap < capacity)
		cap <<= 1;
	struct weft__deque_buf *a = buf_new(cap);
	if (!a)
		return -ENOMEM;
	/* relaxed (all four): the deque is not shared yet; whoever shares it
	 * publishes it with its own release operation. */
	atomic_init(&d->top, 0);
	atomic_init(&d->bottom, 0);
	d->top_seen = 0;
	atomic_init(&d->buf, a);
	d->retired = NULL;
	d->reclaim = reclaim;
	return 0;
}

static void buf_free_rcu(struct rcu_head *head)
{
	/* The buffer that embeds head. Not caa_container_of(): its casts
	 * (away from const, char * to the struct) fail clang's -Wcast-qual
	 * and -Wcast-align, which gcc does not apply inside system-header
	 * macros. */
	weft__free((char *)head - offsetof(struct weft__deque_buf, rcu));
}

int weft__deque_grow(struct weft__deque *d, int64_t top, int64_t bottom)
{
	/* relaxed: only the owner writes buf. */
	struct weft__deque_buf *old =
		atomic_load_explicit(&d->buf, memory_order_relaxed);
	int64_t cap = (old->mask + 1) * 2;
	if (cap > (INT64_C(1) << 40))
		return -ENOMEM;
	struct weft__deque_buf *a = buf_new(cap);
	if (!a)
		return -ENOMEM;
	/* Copy the live range. Indices map to slots by mask, so every item
	 * keeps its index and thieves' CASes on top stay valid. */
	for (int64_t i = top; i < bottom; i++)
		/* relaxed (load and store): the owner wrote these slots; the
		 * new buffer is published by the release store below. */
		atomic_store_explicit(
			&a->slots[i & a->mask],
			atomic_load_explicit(&old->slots[i & old->mask],
					     memory_order_relaxed),
			memory_order_relaxed);
	/* release: publishes the copied slots; pairs with (S2), the acquire
	 * load of buf in steal. */
	atomic_store_explicit(&d->buf, a, memory_order_release);
	if (d->reclaim == WEFT__RECLAIM_QSBR) {
		urcu_qsbr_call_rcu(&old->rcu, buf_free_rcu);
	} else {
		old->retired = d->retired;
		d->retired = old;
	}
	return 0;
}

void weft__deque_destroy(struct weft__deque *d)
{
	if (!d)
		return;
	/* relaxed: every owner and thief is done (caller's contract). */
	weft__free(atomic_load_explicit(&d->buf, memory_order_relaxed));
	while (d->retired) {
		struct weft__deque_buf *next = d->retired->retired;
		weft__free(d->retired);
		d->retired = next;
	}
}
