/*
 * Pipelines: items flow through stages, each stage step a task on the
 * pool, with back-pressure, per-stage concurrency bounds and ordering.
 *
 * Every pushed item gets a node and one task. A task carries its item
 * through as many stages as it can: at each stage the item is admitted
 * (a free slot under the stage's bound, and its turn if the stage is
 * ORDERED) and the task runs the stage function, or the item is parked in
 * the stage's waiting list. A task that frees a slot picks the next
 * waiter and spawns a task for it (or, without memory for one, carries it
 * itself afterwards). Failed items skip the later stage functions but
 * still take their turn in ORDERED stages, so no stage waits for an item
 * that will never come. The output is a list, reordered by push sequence
 * for WEFT_PIPELINE_ORDERED.
 *
 * One mutex guards the pipeline's bookkeeping; stage functions run
 * outside it. Waiting (push for space, pop for output, destroy for the
 * tasks to end) uses events, so it never polls and helps on workers.
 *
 * If the pool cancels an item's task (shutdown with CANCEL_PENDING), the
 * pipeline is aborted: from then on every item leaves through pop as
 * -ECANCELED without running further stage functions.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "future/event.h"
#include "future/futex.h"
#include "runtime/alloc.h"
#include "runtime/internal.h"

struct item {
	struct item *next; /* in a waiting list, the output, a to-do list */
	void *value;
	uint64_t seq;      /* push order */
	int err;           /* 0, or why the item failed */
	unsigned stage;    /* where it is; == nstages once through */
	bool admitted;     /* holds a slot of its stage */
	weft_pipeline *pl;
};

struct stage {
	weft_stage_fn fn;
	void *ctx;
	char *name;
	unsigned bound;   /* 0: none */
	bool ordered;
	unsigned running; /* items admitted */
	uint64_t next_seq; /* ordered: whose turn it is */
	struct item *waiting, *waiting_tail;
};

struct weft_pipeline {
	weft_pool *pool;
	pthread_mutex_t lock;
	/* Everything below is guarded by lock. */
	size_t capacity, count; /* count: pushed, not yet popped */
	bool ordered_output, closed, destroying, aborted;
	uint64_t next_push_seq, next_out_seq;
	struct stage *stages;
	unsigned nstages;
	struct item *out, *out_tail; /* ready for pop */
	struct item *reorder;        /* ordered output: sorted by seq */
	size_t tasks;                /* item tasks not yet ended */
	struct weft__event space, output, idle;
};

/* The pipeline whose stage function the calling thread runs, if any. */
static WEFT__TLS weft_pipeline *tls_in_stage;

static void lock(weft_pipeline *pl)
{
	pthread_mutex_lock(&pl->lock);
}

static void unlock(weft_pipeline *pl)
{
	pthread_mutex_unlock(&pl->lock);
}

static void list_append(struct item **head, struct item **tail,
			struct item *it)
{
	it->next = NULL;
	if (*head)
		(*tail)->next = it;
	else
		*head = it;
	*tail = it;
}

/* Under lock. */
static void deliver(weft_pipeline *pl, struct item *it)
{
	if (pl->destroying) {
		pl->count--;
		weft__free(it);
		return;
	}
	if (!pl->ordered_output) {
		list_append(&pl->out, &pl->out_tail, it);
	} else {
		struct item **p = &pl->reorder;
		while (*p && (*p)->seq < it->seq)
			p = &(*p)->next;
		it->next = *p;
		*p = it;
		while (pl->reorder && pl->reorder->seq == pl->next_out_seq) {
			struct item *r = pl->reorder;
			pl->reorder = r->next;
			list_append(&pl->out, &pl->out_tail, r);
			pl->next_out_seq++;
		}
	}
	weft__event_signal(&pl->output);
}

/* Under lock: removes and returns the waiter of st that may go next. */
static struct item *take_waiter(struct stage *st)
{
	struct item **p = &st->waiting, *prev = NULL;
	if (!st->ordered && st->bound && st->running >= st->bound)
		return NULL;
	while (*p && st->ordered && (*p)->seq != st->next_seq) {
		prev = *p;
		p = &(*p)->next;
	}
	struct item *w = *p;
	if (w) {
		*p = w->next;
		if (st->waiting_tail == w)
			st->waiting_tail = prev;
	}
	return w;
}

/* Under lock: moves it forward as far as it goes without running a stage
 * function. True if it is now admitted and its stage function must run.
 * Waiters that become eligible on the way go onto *todo. */
static bool advance(weft_pipeline *pl, struct item *it, struct item **todo)
{
	for (;;) {
		if (it->stage == pl->nstages) {
			deliver(pl, it);
			return false;
		}
		struct stage *st = &pl->stages[it->stage];
		if (st->ordered && it->seq != st->next_seq) {
			list_append(&st->waiting, &st->waiting_tail, it);
			return false;
		}
		if (pl->aborted && !it->err)
			it->err = ECANCELED;
		if (it->err) {
			/* Skips fn, keeps its turn. It may have been handed a
			 * free slot (a waiter taken when the pipeline was
			 * aborted): pass the slot, or the turn, on. */
			it->stage++;
			if (st->ordered)
				st->next_seq++;
			struct item *w = take_waiter(st);
			if (w) {
				w->next = *todo;
				*todo = w;
			}
			continue;
		}
		if (st->bound && st->running >= st->bound) {
			list_append(&st->waiting, &st->waiting_tail, it);
			return false;
		}
		st->running++;
		it->admitted = true;
		return true;
	}
}

/* Under lock: it leaves its stage with the stage function's outcome. The
 * next waiter of that stage, if any may go, goes onto *todo. */
static void leave_stage(weft_pipeline *pl, struct item *it, void *result,
			int err, struct item **todo)
{
	struct stage *st = &pl->stages[it->stage];
	st->running--;
	if (st->ordered)
		st->next_seq++;
	if (err)
		it->err = err; /* value stays what the stage was given */
	else
		it->value = result;
	it->admitted = false;
	it->stage++;
	struct item *w = take_waiter(st);
	if (w) {
		w->next = *todo;
		*todo = w;
	}
}

static void item_task_done(weft_future *f, void *ctx);
static void *item_task(void *arg);

/* Under lock: submits a task for it and prepares its completion callback,
 * which attach_pending() registers once the lock is released (the
 * callback takes the lock, and runs at once if the task was already
 * cancelled). A prepared node holds its task in antecedent and links to
 * the next through link.next. 0, -ENOMEM or -ESHUTDOWN (nothing done). */
static int spawn(weft_pipeline *pl, struct item *it,
		 struct weft_future **pending)
{
	struct weft_future *node =
		weft__callback_new(item_task_done, pl, 0);
	if (!node)
		return -ENOMEM;
	weft_future *f;
	int err = weft_submit(pl->pool, item_task, it, &f);
	if (err) {
		weft__task_free(node);
		return err;
	}
	pl->tasks++;
	node->antecedent = f;
	node->link.next = *pending;
	*pending = node;
	return 0;
}

/* Not under lock. */
static void attach_pending(struct weft_future *pending)
{
	while (pending) {
		struct weft_future *node = pending, *f = node->antecedent;
		pending = node->link.next;
		node->antecedent = NULL;
		weft__callback_attach(f, node);
		weft_future_release(f);
	}
}

/* Under lock: carries every item on todo forward. With run (a task), it
 * runs the admitted items' stage functions, unlocking around them, and
 * hands other eligible items to new tasks; it returns their callbacks to
 * attach. Without run (a callback, which must not run user code), admitted
 * items fail as cancelled. */
static struct weft_future *carry(weft_pipeline *pl, struct item *todo,
				 bool run)
{
	struct weft_future *pending = NULL;
	while (todo) {
		struct item *it = todo;
		todo = it->next;
		if (pl->destroying) {
			if (it->admitted)
				pl->stages[it->stage].running--;
			pl->count--;
			weft__free(it);
			continue;
		}
		if (!it->admitted && !advance(pl, it, &todo))
			continue;
		/* Admitted. Hand the other items to new tasks, for
		 * parallelism; without memory for one, carry it here. */
		while (run && todo && spawn(pl, todo, &pending) == 0)
			todo = todo->next;
		if (!run || pl->aborted) {
			leave_stage(pl, it, NULL, ECANCELED, &todo);
		} else {
			struct stage *st = &pl->stages[it->stage];
			unlock(pl);
			attach_pending(pending);
			pending = NULL;
			weft_pipeline *saved = tls_in_stage;
			tls_in_stage = pl;
			void *r = st->fn(it->value, st->ctx);
			int err = weft__take_fail();
			tls_in_stage = saved;
			lock(pl);
			leave_stage(pl, it, r, err, &todo);
		}
		it->next = todo;
		todo = it;
	}
	return pending;
}

static void *item_task(void *arg)
{
	struct item *it = arg;
	weft_pipeline *pl = it->pl;
	lock(pl);
	it->next = NULL;
	struct weft_future *pending = carry(pl, it, true);
	unlock(pl);
	attach_pending(pending);
	return NULL;
}

/* Runs once per item task, after its body, or instead of it when the pool
 * cancelled it. The task's end for the pipeline: destroy waits for tasks
 * to reach zero. The item may be gone unless the task was cancelled, so
 * only then is it read (it is the task's argument). */
static void item_task_done(weft_future *f, void *ctx)
{
	weft_pipeline *pl = ctx;
	lock(pl);
	if (weft_future_state(f) == WEFT_CANCELLED) {
		struct item *it = f->arg;
		pl->aborted = true;
		it->next = NULL;
		carry(pl, it, false);
	}
	pl->tasks--;
	weft__event_signal(&pl->idle);
	unlock(pl);
}

static struct item *item_new(weft_pipeline *pl, void *value)
{
	struct item *it = weft__malloc(sizeof(*it));
	if (it) {
		memset(it, 0, sizeof(*it));
		it->value = value;
		it->pl = pl;
	}
	return it;
}

int weft_pipeline_create(weft_pool *p, size_t capacity, unsigned flags,
			 weft_pipeline **out)
{
	if (!p || !out || !capacity || (flags & ~WEFT_PIPELINE_ORDERED))
		return -EINVAL;
	weft_pipeline *pl = weft__malloc(sizeof(*pl));
	if (!pl)
		return -ENOMEM;
	memset(pl, 0, sizeof(*pl));
	pl->pool = p;
	pl->capacity = capacity;
	pl->ordered_output = flags & WEFT_PIPELINE_ORDERED;
	pthread_mutex_init(&pl->lock, NULL);
	weft__event_init(&pl->space);
	weft__event_init(&pl->output);
	weft__event_init(&pl->idle);
	*out = pl;
	return 0;
}

int weft_pipeline_stage(weft_pipeline *pl, const char *name, weft_stage_fn fn,
			void *ctx, unsigned concurrency, unsigned flags)
{
	if (!pl || !fn || (flags & ~WEFT_STAGE_ORDERED))
		return -EINVAL;
	char *copy = NULL;
	if (name) {
		size_t len = strlen(name) + 1;
		copy = weft__malloc(len);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, name, len);
	}
	lock(pl);
	int err = 0;
	if (pl->next_push_seq || pl->closed) {
		err = -EBUSY;
	} else {
		struct stage *s = weft__malloc((pl->nstages + 1) * sizeof(*s));
		if (!s) {
			err = -ENOMEM;
		} else {
			if (pl->nstages)
				memcpy(s, pl->stages,
				       pl->nstages * sizeof(*s));
			weft__free(pl->stages);
			pl->stages = s;
			s += pl->nstages++;
			memset(s, 0, sizeof(*s));
			s->fn = fn;
			s->ctx = ctx;
			s->name = copy;
			s->ordered = flags & WEFT_STAGE_ORDERED;
			s->bound = s->ordered ? 1 : concurrency;
		}
	}
	unlock(pl);
	if (err)
		weft__free(copy);
	return err;
}

static bool has_space(void *ctx)
{
	weft_pipeline *pl = ctx;
	lock(pl);
	bool r = pl->closed || pl->count < pl->capacity;
	unlock(pl);
	return r;
}

int weft_pipeline_push(weft_pipeline *pl, void *item, int64_t timeout_ns)
{
	if (!pl || timeout_ns < WEFT_FOREVER)
		return -EINVAL;
	int64_t deadline = weft__deadline(timeout_ns);
	struct item *it = item_new(pl, item);
	if (!it)
		return -ENOMEM;
	lock(pl);
	while (!pl->closed && pl->count >= pl->capacity) {
		unlock(pl);
		int err = timeout_ns == 0 ? -ETIMEDOUT :
			  weft__event_wait(&pl->space, has_space, pl,
					   deadline);
		if (err) {
			weft__free(it);
			return err;
		}
		lock(pl);
	}
	int err = -EPIPE;
	struct weft_future *pending = NULL;
	if (!pl->closed) {
		/* The task cannot look at the item before the unlock. */
		it->seq = pl->next_push_seq;
		err = spawn(pl, it, &pending);
		if (!err) {
			pl->next_push_seq++;
			pl->count++;
		}
	}
	unlock(pl);
	attach_pending(pending);
	if (err)
		weft__free(it);
	return err;
}

int weft_pipeline_close(weft_pipeline *pl)
{
	if (!pl)
		return -EINVAL;
	lock(pl);
	pl->closed = true;
	weft__event_signal(&pl->output);
	weft__event_signal(&pl->space);
	unlock(pl);
	return 0;
}

static bool has_output(void *ctx)
{
	weft_pipeline *pl = ctx;
	lock(pl);
	bool r = pl->out || (pl->closed && pl->count == 0);
	unlock(pl);
	return r;
}

int weft_pipeline_pop(weft_pipeline *pl, void **item, int64_t timeout_ns)
{
	if (!pl || !item || timeout_ns < WEFT_FOREVER)
		return -EINVAL;
	int64_t deadline = weft__deadline(timeout_ns);
	for (;;) {
		lock(pl);
		struct item *it = pl->out;
		if (it) {
			pl->out = it->next;
			pl->count--;
			weft__event_signal(&pl->space);
			unlock(pl);
			*item = it->value;
			int err = it->err;
			weft__free(it);
			return err ? -err : 1;
		}
		bool drained = pl->closed && pl->count == 0;
		unlock(pl);
		if (drained)
			return 0;
		int err = timeout_ns == 0 ? -ETIMEDOUT :
			  weft__event_wait(&pl->output, has_output, pl,
					   deadline);
		if (err)
			return err;
	}
}

static bool no_tasks(void *ctx)
{
	weft_pipeline *pl = ctx;
	lock(pl);
	bool r = pl->tasks == 0;
	unlock(pl);
	return r;
}

static void free_list(weft_pipeline *pl, struct item *it)
{
	while (it) {
		struct item *next = it->next;
		pl->count--;
		weft__free(it);
		it = next;
	}
}

int weft_pipeline_destroy(weft_pipeline *pl)
{
	if (!pl)
		return 0;
	if (tls_in_stage == pl)
		return -EDEADLK;
	lock(pl);
	pl->closed = true;
	pl->destroying = true;
	free_list(pl, pl->out);
	free_list(pl, pl->reorder);
	pl->out = pl->reorder = NULL;
	for (unsigned i = 0; i < pl->nstages; i++) {
		free_list(pl, pl->stages[i].waiting);
		pl->stages[i].waiting = NULL;
	}
	weft__event_signal(&pl->output);
	weft__event_signal(&pl->space);
	unlock(pl);
	/* The tasks still queued or running hold item nodes and the
	 * pipeline: they end by freeing their items. */
	weft__event_wait(&pl->idle, no_tasks, pl, -1);
	for (unsigned i = 0; i < pl->nstages; i++)
		weft__free(pl->stages[i].name);
	weft__free(pl->stages);
	pthread_mutex_destroy(&pl->lock);
	weft__free(pl);
	return 0;
}
