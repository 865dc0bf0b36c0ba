/*
 * Task objects: 64-byte blocks that belong to no pool, so an object freed
 * anywhere can serve any pool, and futures may outlive their pool.
 *
 * Free objects move in batches of BATCH. A batch is a list linked through
 * link.next; its first object also holds the batch's last in arg and the
 * next batch in result, so a batch moves without walking it. Surplus
 * batches meet in their pool's spare stack, which any thread pushes with
 * one CAS and a thread out of objects takes whole with one exchange
 * (pop-all, so no ABA) before it falls back to malloc:
 *  - workers keep a private free list (no malloc and no atomic operation
 *    on their fast path); one whose list overflows pushes a batch;
 *  - threads that are not workers keep a thread-local cache of whole
 *    batches plus one partial batch, refilled from the spare stack of the
 *    pool they submit to. So when an outside thread submits and the
 *    workers free, objects flow back to it;
 *  - the other way round (tasks submit, an outside thread releases their
 *    futures last), an outside thread that allocates from a pool pushes
 *    there the whole batches its frees formed since its last allocation,
 *    beyond the first THREAD_CACHE_KEEP objects it holds; a worker whose
 *    list runs empty takes them. Only a call that names the pool may
 *    touch it: a future may outlive its pool, so a release never does.
 *    (A thread that submits bursts itself takes its batches back when its
 *    cache runs empty: one exchange.)
 * Objects allocated without a pool (callback nodes, joins) come from an
 * outside thread's cache or malloc and may end in a worker's list, so
 * more may reach a spare stack than its pool's threads take: a batch
 * that would take it past SPARE_MAX_BATCHES is freed instead.
 *
 * In AddressSanitizer builds a free object is poisoned wherever it waits
 * (a worker's list, a thread's cache, a spare stack), all but its list
 * fields (see poison_free), so a use after the last release is a report
 * rather than a read of stale contents.
 */
#include <assert.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "runtime/alloc.h"
#include "runtime/internal.h"

#if defined(__SANITIZE_ADDRESS__)
#define WEFT__POISON_FREE 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT__POISON_FREE 1
#endif
#endif

#ifdef WEFT__POISON_FREE
#include <sanitizer/asan_interface.h>
#define POISON(addr, size) ASAN_POISON_MEMORY_REGION(addr, size)
#define UNPOISON(addr, size) ASAN_UNPOISON_MEMORY_REGION(addr, size)
#else
#define POISON(addr, size) ((void)(addr), (void)(size))
#define UNPOISON(addr, size) ((void)(addr), (void)(size))
#endif

static_assert(sizeof(struct weft_future) == 64,
	      "a task object is one cache line");

#define WORKER_CACHE_MAX 1024u /* a worker's list; past it, hand a batch */
#define BATCH 256u             /* objects per handed batch */
/* An outside thread's cache; past it, free. Large enough for a burst of
 * submits whose futures the same thread then releases (a map over tens
 * of thousands of items): below that, every object of the burst went
 * through aligned_alloc and free, which cost more than the rest of
 * submit, get and release together. At most 2 MiB a thread, freed when
 * the thread exits. */
#define THREAD_CACHE_MAX 32768u
/* What an outside thread keeps for itself when it hands objects back. */
#define THREAD_CACHE_KEEP 1024u
/* A pool's spare stack; past it, free (4 MiB, two outside caches' worth:
 * an outside thread that submits n tasks with a callback each allocates
 * 2n objects a round, and with 20,000 tasks the 2 MiB cap sent 7,000 of
 * them a round through malloc, and workers' frees through free: 16% of
 * the submitting thread's time). */
#define SPARE_MAX_BATCHES (2 * THREAD_CACHE_MAX / BATCH)

static void *alloc_block(void)
{
	return weft__aligned_alloc(64, sizeof(struct weft_future));
}

/* The last object of a batch, kept in its first object's arg. */
static struct weft_future *batch_last(struct weft_future *batch)
{
	UNPOISON(&batch->arg, sizeof(batch->arg));
	struct weft_future *last = batch->arg;
	POISON(&batch->arg, sizeof(batch->arg));
	return last;
}

/* Makes batch..last, linked through link.next, a batch followed by next. */
static void set_batch(struct weft_future *batch, struct weft_future *last,
		      struct weft_future *next)
{
	UNPOISON(&batch->arg, sizeof(batch->arg));
	batch->arg = last;
	POISON(&batch->arg, sizeof(batch->arg));
	batch->result = next;
}

/* An object leaves the free lists for a caller. */
static struct weft_future *hand_out(struct weft_future *t)
{
	UNPOISON(t, sizeof(*t));
	return t;
}

/* An object enters a free list with its list fields set. All of it but
 * the two fields that chain free objects (link.next, and result in a
 * batch's first object) is poisoned: LeakSanitizer does not scan poisoned
 * memory, and follows those two to the objects the lists hold. */
static void poison_free(struct weft_future *t)
{
	POISON(t, offsetof(struct weft_future, result));
	POISON(&t->listeners, offsetof(struct weft_future, link) -
				      offsetof(struct weft_future, listeners));
}

static void free_block(struct weft_future *t)
{
	UNPOISON(t, sizeof(*t));
	weft__free(t);
}

/*
 * Outside threads' caches, freed at thread exit.
 */

struct thread_cache {
	struct weft_future *part;      /* a partial batch: part_n objects */
	struct weft_future *part_last; /* its oldest object */
	unsigned part_n;
	struct weft_future *full;      /* whole batches, linked by result */
	unsigned full_n;
	unsigned freed_n; /* of which formed by frees, on top, since the
			   * last hand-back */
	bool registered; /* thread_cache_exit will run at thread exit */
};

static WEFT__TLS struct thread_cache tls_cache;
/* Process-wide, created once: the key whose destructor empties a thread's
 * cache when the thread exits. */
static pthread_key_t cache_key;
static bool cache_key_ok;
static pthread_once_t cache_key_once = PTHREAD_ONCE_INIT;

static void free_chain(struct weft_future *t)
{
	while (t) {
		struct weft_future *next = t->link.next;
		free_block(t);
		t = next;
	}
}

static void free_batches(struct weft_future *batch)
{
	while (batch) {
		struct weft_future *next = batch->result;
		free_chain(batch);
		batch = next;
	}
}

static void thread_cache_exit(void *unused)
{
	(void)unused;
	free_chain(tls_cache.part);
	free_batches(tls_cache.full);
	tls_cache.part = tls_cache.full = NULL;
	tls_cache.part_n = tls_cache.full_n = tls_cache.freed_n = 0;
}

static void cache_key_create(void)
{
	/* The key only triggers thread_cache_exit; its value is a marker. */
	cache_key_ok = pthread_key_create(&cache_key, thread_cache_exit) == 0;
}

/* Before the first object enters this thread's cache. */
static void thread_cache_register(void)
{
	if (tls_cache.registered)
		return;
	pthread_once(&cache_key_once, cache_key_create);
	tls_cache.registered =
		cache_key_ok && pthread_setspecific(cache_key, &tls_cache) == 0;
}

/* Takes p's whole spare stack, a list of batches, or NULL. */
static struct weft_future *take_spare(weft_pool *p)
{
	/* relaxed: skip the exchange when there is nothing to take. */
	if (!atomic_load_explicit(&p->spare, memory_order_relaxed))
		return NULL;
	/* acquire: pairs with the release CAS in push_batch, so the batches'
	 * links are visible. */
	struct weft_future *batches =
		atomic_exchange_explicit(&p->spare, NULL, memory_order_acquire);
	/* relaxed: a count for the cap in push_batch, not an ordering. */
	atomic_exchange_explicit(&p->spare_batches, 0, memory_order_relaxed);
	return batches;
}

/* Prepends the batches to the list at *head; returns how many objects. */
static unsigned splice_batches(struct weft_future *batch,
			       struct weft_future **head)
{
	unsigned count = 0;
	while (batch) {
		struct weft_future *next_batch = batch->result;
		batch_last(batch)->link.next = *head;
		*head = batch;
		count += BATCH;
		batch = next_batch;
	}
	return count;
}

/* Takes p's spare batches as this thread's whole batches (it has none). */
static void refill_from_spare(weft_pool *p)
{
	struct weft_future *batch = take_spare(p);
	if (!batch)
		return;
	thread_cache_register();
	tls_cache.full = batch;
	for (; batch; batch = batch->result)
		tls_cache.full_n++;
}

/* Pushes the batch first..last onto p's spare stack, or frees it if the
 * stack is full (any thread). */
static void push_batch(weft_pool *p, struct weft_future *first,
		       struct weft_future *last)
{
	/* relaxed: the count only bounds the stack (see take_spare). */
	if (atomic_fetch_add_explicit(&p->spare_batches, 1,
				      memory_order_relaxed) >=
	    SPARE_MAX_BATCHES) {
		/* relaxed: as above. */
		atomic_fetch_sub_explicit(&p->spare_batches, 1,
					  memory_order_relaxed);
		free_chain(first);
		return;
	}
	/* relaxed: a snapshot to start the CAS from. */
	struct weft_future *top =
		atomic_load_explicit(&p->spare, memory_order_relaxed);
	do
		set_batch(first, last, top);
	/* release: publishes the batch's links to the exchange in
	 * take_spare. Push-only CAS: no ABA. */
	while (!atomic_compare_exchange_weak_explicit(&p->spare, &top, first,
						      memory_order_release,
						      memory_order_relaxed));
}

/* A worker hands BATCH objects from its list to its pool's spare stack. */
static void give_batch(struct weft__worker *w)
{
	struct weft_future *first = w->free_list, *last = first;
	for (unsigned i = 1; i < BATCH; i++)
		last = last->link.next;
	w->free_list = last->link.next;
	w->free_count -= BATCH;
	last->link.next = NULL;
	push_batch(w->pool, first, last);
}

/* An outside thread allocating from p pushes there the whole batches its
 * frees formed since its last hand-back, beyond THREAD_CACHE_KEEP
 * objects. */
static void hand_back(weft_pool *p)
{
	while (tls_cache.freed_n &&
	       tls_cache.full_n > THREAD_CACHE_KEEP / BATCH) {
		struct weft_future *batch = tls_cache.full;
		tls_cache.full = batch->result;
		tls_cache.full_n--;
		tls_cache.freed_n--;
		push_batch(p, batch, batch_last(batch));
	}
	tls_cache.freed_n = 0;
}

/* A worker whose list ran empty takes its pool's spare objects, or
 * allocates. */
static struct weft_future *refill_worker(struct weft__worker *w)
{
	w->free_count += splice_batches(take_spare(w->pool), &w->free_list);
	struct weft_future *t = w->free_list;
	if (!t)
		return alloc_block();
	w->free_list = t->link.next;
	w->free_count--;
	return hand_out(t);
}

struct weft_future *weft__task_alloc(weft_pool *p)
{
	struct weft__worker *w = weft__self();
	struct weft_future *t;
	if (w) {
		t = w->free_list;
		if (t) {
			w->free_list = t->link.next;
			w->free_count--;
			return hand_out(t);
		}
		return refill_worker(w);
	}
	if (p && tls_cache.freed_n)
		hand_back(p);
	if (!tls_cache.part) {
		if (!tls_cache.full && p)
			refill_from_spare(p);
		struct weft_future *batch = tls_cache.full;
		if (!batch)
			return alloc_block();
		tls_cache.full = batch->result;
		tls_cache.full_n--;
		if (tls_cache.freed_n)
			tls_cache.freed_n--; /* the top batch came from frees */
		tls_cache.part = batch;
		tls_cache.part_last = batch_last(batch);
		tls_cache.part_n = BATCH;
	}
	t = hand_out(tls_cache.part);
	tls_cache.part = t->link.next;
	tls_cache.part_n--;
	/* The objects came from another core: start fetching the next two
	 * now rather than miss on them at the next calls. */
	__builtin_prefetch(tls_cache.part, 1);
	__builtin_prefetch(t->antecedent, 1);
	return t;
}

void weft__task_free(struct weft_future *t)
{
	struct weft__worker *w = weft__self();
	if (w) {
		t->link.next = w->free_list;
		/* The object two places down, for the prefetch in
		 * weft__task_alloc (a free object's antecedent is unused; a
		 * stale pointer is harmless: a prefetch never faults). */
		t->antecedent = t->link.next ? t->link.next->link.next : NULL;
		poison_free(t);
		w->free_list = t;
		if (++w->free_count > WORKER_CACHE_MAX)
			give_batch(w);
		return;
	}
	if (tls_cache.full_n * BATCH + tls_cache.part_n >= THREAD_CACHE_MAX) {
		weft__free(t);
		return;
	}
	thread_cache_register();
	if (!tls_cache.part)
		tls_cache.part_last = t;
	t->link.next = tls_cache.part;
	poison_free(t);
	tls_cache.part = t;
	if (++tls_cache.part_n < BATCH)
		return;
	/* The partial batch is whole: t is its first object. */
	set_batch(t, tls_cache.part_last, tls_cache.full);
	tls_cache.full = t;
	tls_cache.full_n++;
	tls_cache.freed_n++;
	tls_cache.part = NULL;
	tls_cache.part_n = 0;
}

void weft__free_list_drain(struct weft__worker *w)
{
	free_chain(w->free_list);
	w->free_list = NULL;
	w->free_count = 0;
}

void weft__spare_drain(weft_pool *p)
{
	free_batches(take_spare(p));
}
