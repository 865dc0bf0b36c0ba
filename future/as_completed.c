/*
 * as_completed: yields each distinct future of a set once, those already
 * done at create first, then in completion order.
 *
 * Each future that is not done gets a callback that moves its entry onto
 * a wait-free queue (liburcu wfcqueue: any thread enqueues; the
 * iterator's thread is the only dequeuer) and signals an event; next()
 * dequeues, or waits on the event. No polling, and a cancelled future
 * completes like any other (CPython's as_completed hangs on those).
 *
 * READ this first: the ordering contract.
 *   refs (A1)  one for the iterator, one per callback not yet run; acq_rel
 *              so the last holder frees after every other use. A callback
 *              that runs after destroy finds its entry freed with the
 *              iterator by whoever drops the last reference.
 *   queue      the enqueue's full barrier publishes the entry; the event
 *              (E1)/(E2) orders the wake-up.
 */
#include <errno.h>
#include <string.h>

#include <urcu/wfcqueue.h>

#include "future/event.h"
#include "future/future.h"
#include "future/futex.h"
#include "future/tsan.h"
#include "runtime/alloc.h"

struct entry {
	struct cds_wfcq_node node; /* first: an entry is its node */
	struct weft_future *f; /* a reference, dropped when yielded */
	struct weft_as_completed *it;
	struct weft_future *cb; /* until attached: its callback node, or
				 * NULL if f was done already */
};

struct weft_as_completed {
	struct __cds_wfcq_head head; /* done entries, in completion order */
	struct cds_wfcq_tail tail;
	struct weft__event ready;
	_Atomic size_t refs; /* see (A1) */
	/* The rest belongs to the iterator's thread. */
	size_t total, yielded;
	int64_t deadline;
	bool timed_out;
	struct entry *block;      /* create's entries, freed with it; add's
				   * entries are allocated one by one */
	size_t block_len;
	struct weft_future **set; /* open addressing, for duplicates */
	size_t set_cap;           /* a power of two, > 1.5 * total */
};

static void entry_free(struct weft_as_completed *it, struct entry *e)
{
	weft__unref(e->f);
	if (e < it->block || e >= it->block + it->block_len)
		weft__free(e);
}

static void iterator_free(struct weft_as_completed *it)
{
	struct cds_wfcq_node *node;
	/* Nobody enqueues any more: every callback has run. */
	while ((node = __cds_wfcq_dequeue_nonblocking(&it->head, &it->tail)) &&
	       node != CDS_WFCQ_WOULDBLOCK) {
		struct entry *e = (struct entry *)(void *)node;
		weft__tsan_acquire(e);
		entry_free(it, e);
	}
	weft__free(it->block);
	weft__free(it->set);
	weft__free(it);
}

static void unref_iterator(struct weft_as_completed *it)
{
	/* (A1) acq_rel: see the contract above. */
	if (atomic_fetch_sub_explicit(&it->refs, 1, memory_order_acq_rel) == 1)
		iterator_free(it);
}

static void enqueue_done(struct entry *e)
{
	struct weft_as_completed *it = e->it;
	cds_wfcq_node_init(&e->node);
	weft__tsan_release(e);
	/* Only a queue that was empty can have the iterator asleep on it:
	 * it sleeps only after seeing the queue empty, and the enqueue that
	 * ends that emptiness is the one that signals. */
	if (!cds_wfcq_enqueue(&it->head, &it->tail, &e->node))
		weft__event_signal(&it->ready);
}

static void on_complete(weft_future *f, void *ctx)
{
	struct entry *e = ctx;
	struct weft_as_completed *it = e->it;
	(void)f;
	enqueue_done(e);
	unref_iterator(it);
}

static size_t hash_ptr(const void *p, size_t cap)
{
	uint64_t x = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ull;
	return (size_t)(x >> 32) & (cap - 1);
}

/* Inserts f; false if it was already in the set. */
static bool set_insert(struct weft_as_completed *it, struct weft_future *f)
{
	size_t i = hash_ptr(f, it->set_cap);
	while (it->set[i]) {
		if (it->set[i] == f)
			return false;
		i = (i + 1) & (it->set_cap - 1);
	}
	it->set[i] = f;
	return true;
}

static bool set_contains(const struct weft_as_completed *it,
			 const struct weft_future *f)
{
	size_t i = hash_ptr(f, it->set_cap);
	while (it->set[i]) {
		if (it->set[i] == f)
			return true;
		i = (i + 1) & (it->set_cap - 1);
	}
	return false;
}

/* Makes room for `more` futures. */
static int set_reserve(struct weft_as_completed *it, size_t more)
{
	size_t need = (it->total + more) * 3 / 2 + 2, cap = it->set_cap;
	if (cap > need)
		return 0;
	while (cap <= need)
		cap = cap ? cap * 2 : 16;
	struct weft_future **old = it->set;
	size_t old_cap = it->set_cap;
	it->set = weft__malloc(cap * sizeof(*it->set));
	if (!it->set) {
		it->set = old;
		return -ENOMEM;
	}
	memset(it->set, 0, cap * sizeof(*it->set));
	it->set_cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i])
			set_insert(it, old[i]);
	weft__free(old);
	return 0;
}

/* Everything one future needs, allocated before anything is shared:
 * 0 or -ENOMEM. */
static int prepare(struct weft_as_completed *it, struct weft_future *f,
		   struct entry *e)
{
	e->it = it;
	e->f = f;
	e->cb = NULL;
	if (!weft_future_done(f)) {
		e->cb = weft__callback_new(on_complete, e, WEFT__EARLY);
		if (!e->cb)
			return -ENOMEM;
	}
	return 0;
}

/* Adds a prepared entry: an already done future goes straight to the
 * queue, the others get their callback, which holds one of the
 * iterator's references, taken by the caller. */
static void commit(struct weft_as_completed *it, struct entry *e)
{
	struct weft_future *cb = e->cb;
	weft__ref(e->f);
	it->total++;
	if (!cb) {
		enqueue_done(e);
		return;
	}
	e->cb = NULL;
	weft__callback_attach(e->f, cb);
}

static void take_refs(struct weft_as_completed *it, size_t callbacks)
{
	/* relaxed: the references are handed to the callbacks, which drop
	 * them with (A1). */
	atomic_fetch_add_explicit(&it->refs, callbacks, memory_order_relaxed);
}

int weft_as_completed_create(weft_future *const *fs, size_t n,
			     int64_t timeout_ns, weft_as_completed **out)
{
	if (!out || (n && !fs) || timeout_ns < WEFT_FOREVER)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!fs[i])
			return -EINVAL;
	int64_t deadline = weft__deadline(timeout_ns);
	struct weft_as_completed *it = weft__malloc(sizeof(*it));
	struct entry *block = weft__malloc((n ? n : 1) * sizeof(*block));
	if (!it || !block) {
		weft__free(it);
		weft__free(block);
		return -ENOMEM;
	}
	memset(it, 0, sizeof(*it));
	__cds_wfcq_init(&it->head, &it->tail);
	weft__event_init(&it->ready);
	/* relaxed: not shared yet. */
	atomic_init(&it->refs, 1);
	it->deadline = deadline;
	it->block = block;
	int err = set_reserve(it, n);
	/* One entry per distinct future (the set skips duplicates). */
	size_t m = 0, callbacks = 0;
	for (size_t i = 0; !err && i < n; i++) {
		if (!set_insert(it, fs[i]))
			continue;
		err = prepare(it, fs[i], &block[m]);
		callbacks += block[m++].cb != NULL;
	}
	if (err) {
		while (m--)
			if (block[m].cb)
				weft__task_free(block[m].cb);
		iterator_free(it);
		return err;
	}
	it->block_len = m;
	take_refs(it, callbacks);
	/* Already done first, in the caller's order; then the others. */
	for (size_t k = 0; k < m; k++)
		if (!block[k].cb)
			commit(it, &block[k]);
	for (size_t k = 0; k < m; k++)
		if (block[k].cb)
			commit(it, &block[k]);
	*out = it;
	return 0;
}

int weft_as_completed_add(weft_as_completed *it, weft_future *f)
{
	if (!it || !f)
		return -EINVAL;
	if (it->set_cap && set_contains(it, f))
		return 0;
	struct entry *e = weft__malloc(sizeof(*e));
	int err = e ? set_reserve(it, 1) : -ENOMEM;
	if (!err)
		err = prepare(it, f, e);
	if (err) {
		weft__free(e);
		return err;
	}
	set_insert(it, f);
	if (e->cb)
		take_refs(it, 1);
	commit(it, e);
	return 0;
}

static bool queue_ready(void *ctx)
{
	struct weft_as_completed *it = ctx;
	return !cds_wfcq_empty(&it->head, &it->tail);
}

int weft_as_completed_next(weft_as_completed *it, weft_future **out)
{
	if (!it || !out)
		return -EINVAL;
	if (it->yielded == it->total)
		return 0;
	if (it->timed_out)
		return -ETIMEDOUT;
	for (;;) {
		struct cds_wfcq_node *node =
			__cds_wfcq_dequeue_nonblocking(&it->head, &it->tail);
		if (node == CDS_WFCQ_WOULDBLOCK) {
			/* An enqueuer is between its two steps. */
			weft__cpu_relax();
			continue;
		}
		if (node) {
			struct entry *e = (struct entry *)(void *)node;
			weft__tsan_acquire(e);
			*out = e->f;
			/* The caller holds its own reference to e->f. */
			entry_free(it, e);
			it->yielded++;
			return 1;
		}
		if (weft__event_wait(&it->ready, queue_ready, it,
				     it->deadline)) {
			it->timed_out = true;
			return -ETIMEDOUT;
		}
	}
}

void weft_as_completed_destroy(weft_as_completed *it)
{
	if (it)
		unref_iterator(it);
}
