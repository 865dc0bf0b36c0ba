/*
 * Task objects come from a per-worker free list: no malloc and no atomic
 * operation on a worker's fast path. Objects are plain 64-byte blocks that
 * belong to no pool, so an object freed by any worker can serve any pool,
 * and futures may outlive their pool. Threads that are not workers use
 * malloc and free directly.
 */
#include <assert.h>

#include "runtime/alloc.h"
#include "runtime/internal.h"

static_assert(sizeof(struct weft_future) == 64,
	      "a task object is one cache line");

/* Enough to absorb a burst of completions without returning to malloc;
 * bounded so a worker that frees more than it allocates does not hoard. */
#define FREE_LIST_MAX 4096u

struct weft_future *weft__task_alloc(void)
{
	struct weft__worker *w = weft__self();
	if (w && w->free_list) {
		struct weft_future *t = w->free_list;
		w->free_list = t->link.next;
		w->free_count--;
		return t;
	}
	return weft__aligned_alloc(64, sizeof(struct weft_future));
}

void weft__task_free(struct weft_future *t)
{
	struct weft__worker *w = weft__self();
	if (w && w->free_count < FREE_LIST_MAX) {
		t->link.next = w->free_list;
		w->free_list = t;
		w->free_count++;
		return;
	}
	weft__free(t);
}

void weft__free_list_drain(struct weft__worker *w)
{
	while (w->free_list) {
		struct weft_future *t = w->free_list;
		w->free_list = t->link.next;
		weft__free(t);
	}
	w->free_count = 0;
}
