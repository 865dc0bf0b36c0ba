/*
 * The textbook pool (see mutex_pool.h).
 */
#include "mutex_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

struct mp_future {
	struct mp_future *next, *prev; /* in the pool's queue */
	mp_fn fn;
	void *arg;
	void *result;
	struct mp_pool *pool;
	pthread_mutex_t lock; /* over done and result */
	pthread_cond_t cond;  /* broadcast when done */
	bool done;
	_Atomic int refs;     /* the queue/worker, and the owner if any */
};

struct mp_pool {
	pthread_mutex_t lock; /* over everything below */
	pthread_cond_t work;  /* signalled when a task is queued or at stop */
	struct mp_future *head, *tail;
	bool stop;
	unsigned threads;
	pthread_t tids[];
};

/* Workers' stacks: helping nests a task's frames inside every wait, and
 * the binomial UTS tree is thousands of tasks deep; nqueens(13) overflowed
 * 64 MiB. Only the pages touched are resident. */
#define MP_STACK_SIZE ((size_t)512 << 20)

/* The pool whose worker this thread is, or NULL. */
static _Thread_local struct mp_pool *self;

static void release(struct mp_future *f)
{
	/* acq_rel: the last owner sees every write of the others before it
	 * frees (the usual reference-count pairing). */
	if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) == 1) {
		pthread_cond_destroy(&f->cond);
		pthread_mutex_destroy(&f->lock);
		free(f);
	}
}

static void run(struct mp_future *f)
{
	void *r = f->fn(f->arg);

	pthread_mutex_lock(&f->lock);
	f->result = r;
	f->done = true;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	release(f);
}

/* Takes the oldest queued task; the caller holds p->lock. */
static struct mp_future *pop_oldest(struct mp_pool *p)
{
	struct mp_future *f = p->head;

	if (f) {
		p->head = f->next;
		if (p->head)
			p->head->prev = NULL;
		else
			p->tail = NULL;
	}
	return f;
}

/* Takes the newest queued task; the caller holds p->lock. */
static struct mp_future *pop_newest(struct mp_pool *p)
{
	struct mp_future *f = p->tail;

	if (f) {
		p->tail = f->prev;
		if (p->tail)
			p->tail->next = NULL;
		else
			p->head = NULL;
	}
	return f;
}

static void *worker(void *arg)
{
	struct mp_pool *p = arg;

	self = p;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct mp_future *f = pop_oldest(p);
		if (f) {
			pthread_mutex_unlock(&p->lock);
			run(f);
			pthread_mutex_lock(&p->lock);
		} else if (p->stop) {
			break;
		} else {
			pthread_cond_wait(&p->work, &p->lock);
		}
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int mp_pool_create(struct mp_pool **out, unsigned threads)
{
	struct mp_pool *p = calloc(1, sizeof(*p) + threads * sizeof(pthread_t));

	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, MP_STACK_SIZE);
	for (p->threads = 0; p->threads < threads; p->threads++) {
		int err = pthread_create(&p->tids[p->threads], &attr, worker,
					 p);
		if (err) {
			pthread_attr_destroy(&attr);
			mp_pool_destroy(p);
			return -err;
		}
	}
	pthread_attr_destroy(&attr);
	*out = p;
	return 0;
}

void mp_pool_destroy(struct mp_pool *p)
{
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->threads; i++)
		pthread_join(p->tids[i], NULL);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

int mp_submit(struct mp_pool *p, mp_fn fn, void *arg, struct mp_future **out)
{
	struct mp_future *f = malloc(sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->next = NULL;
	f->fn = fn;
	f->arg = arg;
	f->result = NULL;
	f->pool = p;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	f->done = false;
	/* not shared yet: p->lock publishes it to the worker. */
	atomic_init(&f->refs, out ? 2 : 1);
	if (out)
		*out = f;
	pthread_mutex_lock(&p->lock);
	f->prev = p->tail;
	if (p->tail)
		p->tail->next = f;
	else
		p->head = f;
	p->tail = f;
	pthread_mutex_unlock(&p->lock);
	pthread_cond_signal(&p->work);
	return 0;
}

static bool is_done(struct mp_future *f)
{
	pthread_mutex_lock(&f->lock);
	bool done = f->done;
	pthread_mutex_unlock(&f->lock);
	return done;
}

void *mp_get(struct mp_future *f)
{
	struct mp_pool *p = f->pool;

	/* On a worker: help while the future is pending. */
	while (self == p && !is_done(f)) {
		pthread_mutex_lock(&p->lock);
		struct mp_future *t = pop_newest(p);
		pthread_mutex_unlock(&p->lock);
		if (!t)
			break;
		run(t);
	}
	pthread_mutex_lock(&f->lock);
	while (!f->done)
		pthread_cond_wait(&f->cond, &f->lock);
	void *r = f->result;
	pthread_mutex_unlock(&f->lock);
	return r;
}

void mp_release(struct mp_future *f)
{
	release(f);
}
