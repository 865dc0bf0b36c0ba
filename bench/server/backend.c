/*
 * The server benchmark's three backends (see backend.h).
 */
#include "backend.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutex_pool.h"
#include "weft.h"

enum kind { WEFT, MUTEX, INLINE, WEFT_CQ };

struct backend {
	enum kind kind;
	const char *name;
	weft_pool *weft;
	weft_cq *cq; /* WEFT_CQ */
	struct mp_pool *mutex;
};

int backend_start(struct backend **out, const char *name,
		  const struct backend_opts *o)
{
	struct backend *b = calloc(1, sizeof(*b));
	int err = 0;

	if (!b)
		return -ENOMEM;
	b->name = name;
	if (strcmp(name, "weft") == 0 || strcmp(name, "weft-cq") == 0) {
		weft_config cfg;
		weft_config_init(&cfg);
		cfg.workers = o->workers;
		cfg.name = "srv";
		if (o->spin_ns >= 0)
			cfg.spin_ns = o->spin_ns;
		cfg.timing = o->timing;
		b->kind = strcmp(name, "weft") == 0 ? WEFT : WEFT_CQ;
		err = weft_pool_create(&b->weft, &cfg);
		if (!err && b->kind == WEFT_CQ) {
			err = weft_cq_create(&b->cq);
			if (err)
				weft_pool_destroy(b->weft);
		}
	} else if (strcmp(name, "mutex") == 0) {
		b->kind = MUTEX;
		err = mp_pool_create(&b->mutex, o->workers);
	} else if (strcmp(name, "inline") == 0) {
		b->kind = INLINE;
	} else {
		err = -EINVAL;
	}
	if (err) {
		free(b);
		return err;
	}
	*out = b;
	return 0;
}

const char *backend_name(const struct backend *b)
{
	return b->name;
}

int backend_submit(struct backend *b, backend_fn fn, void *arg)
{
	switch (b->kind) {
	case WEFT:
		/* Detached: the task itself replies and re-arms; nobody
		 * waits on a future. */
		return weft_submit(b->weft, fn, arg, NULL);
	case MUTEX:
		return mp_submit(b->mutex, fn, arg, NULL);
	case INLINE:
		fn(arg);
		return 0;
	case WEFT_CQ: {
		weft_future *f;
		int err = weft_submit(b->weft, fn, arg, &f);
		if (err)
			return err;
		err = weft_future_post(f, b->cq, arg);
		if (err) /* the request is queued: wait rather than lose it */
			weft_future_wait(f, WEFT_FOREVER);
		weft_future_release(f);
		return err;
	}
	}
	return -EINVAL;
}

int backend_cq_fd(const struct backend *b)
{
	return b->kind == WEFT_CQ ? weft_cq_fd(b->cq) : -1;
}

void *backend_cq_pop(struct backend *b)
{
	weft_future *f;
	void *arg;
	if (b->kind != WEFT_CQ || weft_cq_pop(b->cq, &f, &arg) != 1)
		return NULL;
	weft_future_release(f);
	return arg;
}

/* With timing on, one line: the pool's schedule latency, bucket i
 * counting waits from submit to start in [2^i, 2^(i+1)) ns, and its busy
 * time:
 *   latency busy_ns=N tasks=N b<i>=N ...  (non-empty buckets only) */
static void print_latency(weft_pool *p)
{
	weft_stats st;
	if (weft_pool_stats(p, &st) != 0)
		return;
	uint64_t tasks = 0;
	for (int i = 0; i < WEFT_LATENCY_BUCKETS; i++)
		tasks += st.sched_latency[i];
	if (!tasks)
		return; /* timing was off */
	printf("latency busy_ns=%" PRIu64 " tasks=%" PRIu64, st.busy_ns,
	       tasks);
	for (int i = 0; i < WEFT_LATENCY_BUCKETS; i++)
		if (st.sched_latency[i])
			printf(" b%d=%" PRIu64, i, st.sched_latency[i]);
	printf("\n");
	fflush(stdout);
}

void backend_stop(struct backend *b)
{
	if (!b)
		return;
	/* Both destroys run every task already queued before they return,
	 * so no request is left holding a connection. */
	if (b->kind == WEFT || b->kind == WEFT_CQ) {
		weft_pool_shutdown(b->weft, WEFT_SHUTDOWN_WAIT);
		print_latency(b->weft);
		weft_pool_destroy(b->weft);
	}
	/* The replies still queued are dropped: the server is stopping. */
	while (backend_cq_pop(b))
		;
	if (b->kind == WEFT_CQ)
		weft_cq_destroy(b->cq);
	else if (b->kind == MUTEX)
		mp_pool_destroy(b->mutex);
	free(b);
}
