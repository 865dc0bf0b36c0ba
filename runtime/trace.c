/*
 * Trace sessions: starting and ending a pool's trace, the per-worker
 * buffers' life, WEFT_TRACE and WEFT_TRACE_EVENTS. The buffers' ordering
 * contract is in runtime/trace.h; the file format in trace_json.c.
 *
 * A pool has at most one session, under trace_lock. Starting one:
 * allocate the buffers, publish each to its worker (T3), then set
 * WEFT__OBSERVE_TRACE. Ending one: clear the bit and unpublish the
 * buffers under the lock (a new session may start at once, with new
 * buffers), then, outside the lock, read each buffer's head (T2), write
 * the file, and free the buffers one grace period later. The grace
 * period is waited outside trace_lock because a task may itself call
 * weft_trace_start on a worker, which would then hold the grace period
 * up while it waits for the lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/urcu-qsbr.h>

#include "runtime/alloc.h"
#include "runtime/trace.h"

#ifndef WEFT_NO_TRACE

void weft__trace_put(struct weft__worker *w,
		     const struct weft__trace_event *e)
{
	/* (T4) acquire: pairs with (T3), so the buffer's capacity and head
	 * are seen initialised. Loaded anew for each event: see trace.h. */
	struct weft__trace_buf *b =
		atomic_load_explicit(&w->trace, memory_order_acquire);
	if (!b)
		return;
	/* relaxed: only this worker writes head. */
	uint64_t h = atomic_load_explicit(&b->head, memory_order_relaxed);
	if (h < b->capacity)
		b->ev[h] = *e;
	else if (h == b->capacity)
		b->full_ts = e->ts;
	/* (T1) release: the slot (or full_ts) is written before head counts
	 * it; pairs with (T2) in end_session. */
	atomic_store_explicit(&b->head, h + 1, memory_order_release);
}

/* WEFT_TRACE_EVENTS: the events per buffer, or 0 if it is set and not a
 * number in range. */
static uint64_t events_per_buffer(void)
{
	const char *s = getenv("WEFT_TRACE_EVENTS");
	if (!s || !*s)
		return WEFT__TRACE_EVENTS_DEFAULT;
	char *end;
	errno = 0;
	unsigned long long n = strtoull(s, &end, 10);
	if (errno || *end || s[0] == '-' || n < 1 ||
	    n > WEFT__TRACE_EVENTS_MAX)
		return 0;
	return n;
}

static void free_session(weft_pool *p, struct weft__trace_session *s)
{
	for (unsigned i = 0; i < p->nworkers; i++)
		weft__free(s->bufs[i]);
	weft__free(s->env_path);
	weft__free(s);
}

static struct weft__trace_session *new_session(weft_pool *p,
					       uint64_t capacity)
{
	size_t size = sizeof(struct weft__trace_session) +
		      p->nworkers * sizeof(struct weft__trace_buf *);
	struct weft__trace_session *s = weft__malloc(size);
	if (!s)
		return NULL;
	memset(s, 0, size);
	s->capacity = capacity;
	for (unsigned i = 0; i < p->nworkers; i++) {
		/* Not zeroed: the kernel provides the slots' pages as they
		 * are first written. */
		struct weft__trace_buf *b = weft__malloc(
			sizeof(*b) + capacity * sizeof(struct weft__trace_event));
		if (!b) {
			free_session(p, s);
			return NULL;
		}
		/* relaxed: not shared until published (T3). */
		atomic_init(&b->head, 0);
		b->capacity = capacity;
		b->full_ts = 0;
		s->bufs[i] = b;
	}
	return s;
}

/* Under trace_lock: makes s the running session. */
static void publish(weft_pool *p, struct weft__trace_session *s)
{
	weft_pool_stats(p, &s->stats_at_start);
	s->start_ns = weft__now_ns();
	for (unsigned i = 0; i < p->nworkers; i++)
		/* (T3) release: the buffer is initialised before a worker
		 * can load it; pairs with (T4). */
		atomic_store_explicit(&p->workers[i].trace, s->bufs[i],
				      memory_order_release);
	uint32_t timing = weft__observe(p) & WEFT__OBSERVE_TIMING;
	/* relaxed: only trace_lock's holder writes the TRACE bit; workers
	 * that see it late record a little less (trace.h). */
	atomic_store_explicit(&p->observe, timing | WEFT__OBSERVE_TRACE,
			      memory_order_relaxed);
	p->trace_session = s;
}

/* Under trace_lock: stops the running session and returns it. */
static struct weft__trace_session *unpublish(weft_pool *p)
{
	struct weft__trace_session *s = p->trace_session;
	uint32_t timing = weft__observe(p) & WEFT__OBSERVE_TIMING;
	/* relaxed: as in publish. */
	atomic_store_explicit(&p->observe, timing, memory_order_relaxed);
	for (unsigned i = 0; i < p->nworkers; i++)
		/* relaxed: a worker that still loads the old buffer may use
		 * it until its next quiescent state, which the grace period
		 * before the free waits for (trace.h). */
		atomic_store_explicit(&p->workers[i].trace, NULL,
				      memory_order_relaxed);
	p->trace_session = NULL;
	return s;
}

/* Reads the heads of an unpublished session (T2) and what the pool
 * counted since it started. heads has one entry per worker. */
static void snapshot(weft_pool *p, const struct weft__trace_session *s,
		     uint64_t *heads, struct weft__trace_snapshot *snap)
{
	snap->pool = p;
	snap->s = s;
	snap->heads = heads;
	snap->end_ns = weft__now_ns();
	for (unsigned i = 0; i < p->nworkers; i++)
		/* (T2) acquire: pairs with (T1); the slots below the head
		 * read here are complete. */
		heads[i] = atomic_load_explicit(&s->bufs[i]->head,
						memory_order_acquire);
	weft_stats *d = &snap->stats;
	const weft_stats *a = &s->stats_at_start;
	weft_pool_stats(p, d);
	d->submitted -= a->submitted;
	d->executed -= a->executed;
	d->stolen -= a->stolen;
	d->steal_attempts -= a->steal_attempts;
	d->injected -= a->injected;
	d->parks -= a->parks;
	d->wakeups -= a->wakeups;
	d->cancelled -= a->cancelled;
	d->failed -= a->failed;
	for (unsigned i = 0; i < WEFT_LATENCY_BUCKETS; i++)
		d->sched_latency[i] -= a->sched_latency[i];
	d->busy_ns -= a->busy_ns;
}

/* Frees an unpublished session once no worker can be using its buffers:
 * after a grace period, or (ThreadSanitizer builds) at the pool's end. */
static void reclaim(weft_pool *p, struct weft__trace_session *s)
{
#ifdef WEFT_TSAN
	pthread_mutex_lock(&p->trace_lock);
	s->retired_next = p->trace_retired;
	p->trace_retired = s;
	pthread_mutex_unlock(&p->trace_lock);
#else
	/* A worker (of any pool) waits offline, as in join_workers: it is
	 * a reader the grace period would otherwise wait for. */
	bool rcu_online = weft__self() != NULL;
	if (rcu_online)
		urcu_qsbr_thread_offline();
	urcu_qsbr_synchronize_rcu();
	if (rcu_online)
		urcu_qsbr_thread_online();
	free_session(p, s);
#endif
}

/* heads for a snapshot: on the stack for small pools. */
#define STACK_HEADS 64

int weft_trace_start(weft_pool *p)
{
	if (!p)
		return -EINVAL;
	int saved_errno = errno;
	uint64_t capacity = events_per_buffer();
	errno = saved_errno;
	if (!capacity)
		return -EINVAL;
	pthread_mutex_lock(&p->trace_lock);
	int err = -EALREADY;
	if (!p->trace_session) {
		struct weft__trace_session *s = new_session(p, capacity);
		err = -ENOMEM;
		if (s) {
			publish(p, s);
			err = 0;
		}
	}
	pthread_mutex_unlock(&p->trace_lock);
	return err;
}

int weft_trace_stop(weft_pool *p, const char *path)
{
	if (!p)
		return -EINVAL;
	uint64_t stack_heads[STACK_HEADS];
	uint64_t *heads = stack_heads;
	if (path && p->nworkers > STACK_HEADS) {
		heads = weft__malloc(p->nworkers * sizeof(*heads));
		if (!heads)
			return -ENOMEM;
	}
	int saved_errno = errno;
	FILE *f = NULL;
	pthread_mutex_lock(&p->trace_lock);
	int err = p->trace_session ? 0 : -ENODATA;
	if (!err && path) {
		f = fopen(path, "w");
		if (!f)
			err = -errno;
	}
	struct weft__trace_session *s = err ? NULL : unpublish(p);
	pthread_mutex_unlock(&p->trace_lock);
	if (s && f) {
		struct weft__trace_snapshot snap;
		snapshot(p, s, heads, &snap);
		err = weft__trace_write_file(f, &snap);
		if (fclose(f) && !err)
			err = -errno;
	}
	if (heads != stack_heads)
		weft__free(heads);
	if (s)
		reclaim(p, s);
	errno = saved_errno;
	return err;
}

void weft__trace_pool_init(weft_pool *p, bool timing)
{
	/* The last trace_id handed out: every pool_create adds to it. */
	static _Atomic unsigned next_id;
	/* relaxed: only distinct numbers are needed. */
	p->trace_id = atomic_fetch_add_explicit(&next_id, 1,
						memory_order_relaxed) + 1;
	pthread_mutex_init(&p->trace_lock, NULL);
	p->trace_session = NULL;
	p->trace_retired = NULL;
	int saved_errno = errno;
	const char *path = getenv("WEFT_TRACE");
	bool env = path && *path;
	/* relaxed: nothing is shared until the workers start. */
	atomic_init(&p->observe, timing || env ? WEFT__OBSERVE_TIMING : 0);
	if (!env)
		return;
	uint64_t capacity = events_per_buffer();
	errno = saved_errno;
	struct weft__trace_session *s =
		new_session(p, capacity ? capacity : WEFT__TRACE_EVENTS_DEFAULT);
	if (!s)
		return;
	size_t n = strlen(path) + 1;
	s->env_path = weft__malloc(n);
	if (!s->env_path) {
		free_session(p, s);
		return;
	}
	memcpy(s->env_path, path, n);
	publish(p, s);
}

void weft__trace_pool_fini(weft_pool *p, bool write)
{
	/* The workers have exited: no grace period is needed. */
	struct weft__trace_session *s = p->trace_session;
	if (s) {
		unpublish(p);
		if (s->env_path && write) {
			uint64_t stack_heads[STACK_HEADS];
			uint64_t *heads = p->nworkers > STACK_HEADS
						  ? weft__malloc(p->nworkers *
								 sizeof(*heads))
						  : stack_heads;
			if (heads) {
				struct weft__trace_snapshot snap;
				snapshot(p, s, heads, &snap);
				int saved_errno = errno;
				weft__trace_write_env(s->env_path, &snap);
				errno = saved_errno;
			}
			if (heads != stack_heads)
				weft__free(heads);
		}
		free_session(p, s);
	}
	while ((s = p->trace_retired)) {
		p->trace_retired = s->retired_next;
		free_session(p, s);
	}
	pthread_mutex_destroy(&p->trace_lock);
}

#else /* WEFT_NO_TRACE: tracing compiled out */

void weft__trace_put(struct weft__worker *w,
		     const struct weft__trace_event *e)
{
	(void)w;
	(void)e;
}

int weft_trace_start(weft_pool *p)
{
	return p ? -ENOTSUP : -EINVAL;
}

int weft_trace_stop(weft_pool *p, const char *path)
{
	(void)path;
	return p ? -ENOTSUP : -EINVAL;
}

void weft__trace_pool_init(weft_pool *p, bool timing)
{
	(void)timing;
	p->trace_id = 0;
	/* relaxed: nothing is shared until the workers start. */
	atomic_init(&p->observe, 0);
}

void weft__trace_pool_fini(weft_pool *p, bool write)
{
	(void)p;
	(void)write;
}

#endif
