/*
 * Submission and scheduling: where a new task or a ready continuation goes.
 * On one of the pool's workers: that worker's own deque. Elsewhere: the
 * injection path. A continuation that becomes ready after the pool has
 * exited can never run, so it completes as cancelled.
 */
#include <errno.h>

#include "runtime/internal.h"
#include "runtime/probes.h"
#include "runtime/trace.h"

static void push_local(struct weft__worker *w, struct weft_future *t)
{
	weft__stamp_ready(w->pool, t, 0);
	WEFT__PROBE4(submit, w->pool, w->index, t, t->u.fn);
	/* A deque that cannot grow (no memory) leaves the task in the
	 * worker's own injection queue, which needs no allocation. */
	if (weft__deque_push(&w->deque, t))
		weft__inject_counted(w, t);
	weft__count(&w->stats.submitted);
	/* The full notify protocol, fence included: a task pushed here may
	 * be the one another task of this worker blocks on outside weft, so
	 * a sleeper must not miss it. */
	weft__notify(w->pool);
}

int weft_submit(weft_pool *p, weft_fn fn, void *arg, weft_future **out)
{
	if (!p || !fn)
		return -EINVAL;
	struct weft_future *t = weft__task_alloc(p);
	if (!t)
		return -ENOMEM;
	weft__future_init(t, p, 0, out ? 2 : 1);
	t->u.fn = fn;
	t->arg = arg;
	struct weft__worker *w = weft__self_in(p);
	if (w) {
		push_local(w, t);
	} else {
		int err = weft__inject_external(p, t, true);
		if (err) {
			weft__task_free(t);
			return err;
		}
	}
	if (out)
		*out = t;
	return 0;
}

/* Continuations orphaned by an exited pool, cancelled by an explicit
 * work list so a long chain does not recurse. Thread-local. */
static WEFT__TLS struct weft_future *tls_orphans;
static WEFT__TLS bool tls_cancelling_orphans;

static void cancel_orphan(struct weft_future *c)
{
	c->link.next = tls_orphans;
	tls_orphans = c;
	if (tls_cancelling_orphans)
		return;
	tls_cancelling_orphans = true;
	while (tls_orphans) {
		c = tls_orphans;
		tls_orphans = c->link.next;
		/* Counted first: whoever sees c cancelled sees it counted. */
		weft__count_shared(&c->pool->offworker.submitted);
		weft__count_shared(&c->pool->offworker.cancelled);
		weft__future_cancel(c);
		weft__future_retire(c);
	}
	tls_cancelling_orphans = false;
}

void weft__schedule_ready(struct weft_future *c)
{
	struct weft__worker *w = weft__self_in(c->pool);
	if (w)
		push_local(w, c);
	else if (weft__inject_external(c->pool, c, false))
		cancel_orphan(c);
}

int weft__schedule_new(struct weft_future *c)
{
	struct weft__worker *w = weft__self_in(c->pool);
	if (w) {
		push_local(w, c);
		return 0;
	}
	return weft__inject_external(c->pool, c, true);
}
