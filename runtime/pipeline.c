/*
 * Pipelines: items flow through stages on the pool's workers, with
 * back-pressure, per-stage concurrency bounds and ordering.
 *
 * Every item inside the pipeline (pushed, not yet popped) has a slot in
 * one table; queues link slots, so moving an item on never allocates and
 * never fails. Push grows the table and pop frees the slot; the only
 * steps that can fail for memory are push's (the table, and a runner
 * task when none is left). An unordered stage's queue and the
 * unordered output are FIFO lists. An ORDERED stage's queue and the
 * ordered output also index their items by push sequence: the items that
 * can wait there have sequence numbers in [next, next_push_seq), a span no
 * wider than the items inside, so sequence modulo the table size gives
 * each its own slot, and taking "the next in push order" is one look.
 *
 * Runner tasks do the work. A runner takes a batch from the latest stage
 * that has an item it may start (a free slot under the stage's bound; for
 * an ORDERED stage, the next sequence), runs the stage function on each
 * item one after the other (so a stage works on as many items at once as
 * it has runners, which its bound caps), moves them on, and looks again;
 * it ends when it finds nothing. Runners are capped at one per worker,
 * and at most one waits to start: push, and a runner that leaves work
 * behind, start another when there is work, room under the cap and none
 * waiting. No item is ever stranded: an item becomes startable only when
 * pushed (push starts a runner if none is left) or when a runner moves
 * it on or frees a stage slot (that runner looks again before it ends).
 * A runner that cannot start another (no memory) simply carries the
 * work itself.
 *
 * Failed items skip the later stage functions but still take their turn
 * in ORDERED stages, so no stage waits for an item that never comes.
 *
 * One mutex guards the bookkeeping; stage functions run outside it, one
 * lock round per batch. Waiting (push for space, pop for output, destroy
 * for the runners to end) uses events, signalled only when the awaited
 * condition turns true, so it never polls and helps on workers.
 *
 * If the pool cancels a runner task (shutdown with CANCEL_PENDING), the
 * pipeline is aborted: from then on no stage function starts on a new
 * batch, and every item leaves through pop as -ECANCELED (items that had
 * passed every stage keep their result).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "future/event.h"
#include "future/futex.h"
#include "runtime/alloc.h"
#include "runtime/internal.h"

/* Most items a runner takes at once: one lock round per batch. */
#define BATCH 32u
/* No item: the end of a list, an empty slot of an ordered queue. */
#define NIL UINT32_MAX

struct item {
	void *value;
	uint64_t seq;  /* push order */
	int err;       /* 0, or why the item failed */
	uint32_t next; /* in a FIFO list or the free list */
};

struct queue {
	uint32_t head, tail; /* FIFO: the list; head NIL when empty */
	uint32_t *at;        /* ordered: room slots; the item of sequence q
			      * at q % room, or NIL */
	uint64_t next;       /* ordered: the sequence taken next */
	size_t len;          /* items in the queue */
	bool ordered;
};

struct stage {
	weft_stage_fn fn;
	void *ctx;
	char *name;
	unsigned bound;   /* items worked on at once; 0: no bound */
	unsigned running; /* runners holding a batch of this stage */
	struct queue in;
};

struct weft_pipeline {
	weft_pool *pool;
	pthread_mutex_t lock;
	/* Everything below is guarded by lock. */
	size_t capacity, count; /* count: pushed, not yet popped */
	struct item *items;     /* room slots: 0, or a power of two >= count */
	size_t room;
	uint32_t free;          /* the free slots' list */
	uint32_t *at_block;     /* the ordered queues' at arrays */
	bool closed, destroying, aborted;
	uint64_t next_push_seq;
	struct stage *stages;
	unsigned nstages;
	struct queue out;
	unsigned runners;       /* runner tasks that will look for work */
	unsigned waiting;       /* of those, the ones not started yet */
	size_t tasks;           /* runner tasks whose end callback has
				 * not run */
	struct weft__event space, output, idle;
};

/* An item in a runner's hands: its slot, and the stage's input and
 * outcome, copied out so that the stage function runs without the lock
 * (push may move the table meanwhile). */
struct work {
	uint32_t slot;
	int err;
	void *value;
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

/*
 * The table and the queues. All under lock.
 */

static struct queue *queue_of(weft_pipeline *pl, unsigned i)
{
	return i < pl->nstages ? &pl->stages[i].in : &pl->out;
}

static size_t seq_index(const weft_pipeline *pl, uint64_t seq)
{
	return (size_t)(seq & (pl->room - 1));
}

static void queue_put(weft_pipeline *pl, struct queue *q, uint32_t i)
{
	if (q->ordered) {
		q->at[seq_index(pl, pl->items[i].seq)] = i;
	} else {
		pl->items[i].next = NIL;
		if (q->head == NIL)
			q->head = i;
		else
			pl->items[q->tail].next = i;
		q->tail = i;
	}
	q->len++;
}

/* True if q has an item to take now: the oldest, or the next sequence
 * (the only one that can sit in that slot, by the span argument above). */
static bool queue_ready(const weft_pipeline *pl, const struct queue *q)
{
	return q->len && (!q->ordered || q->at[seq_index(pl, q->next)] != NIL);
}

/* Only when queue_ready. */
static uint32_t queue_take(weft_pipeline *pl, struct queue *q)
{
	uint32_t i;
	if (q->ordered) {
		uint32_t *slot = &q->at[seq_index(pl, q->next++)];
		i = *slot;
		*slot = NIL;
	} else {
		i = q->head;
		q->head = pl->items[i].next;
	}
	q->len--;
	return i;
}

/* Grows the table, if full, to hold one more item: 0 or -ENOMEM. */
static int make_room(weft_pipeline *pl)
{
	if (pl->count < pl->room)
		return 0;
	if (pl->room > NIL / 2)
		return -ENOMEM; /* slot numbers must stay below NIL */
	size_t room = pl->room ? 2 * pl->room : 16, nordered = 0;
	for (unsigned q = 0; q <= pl->nstages; q++)
		nordered += queue_of(pl, q)->ordered;
	/* The at arrays first: the table's realloc cannot be undone. */
	uint32_t *at = NULL;
	if (nordered && !(at = weft__malloc(nordered * room * sizeof(*at))))
		return -ENOMEM;
	struct item *items = weft__realloc(pl->items, room * sizeof(*items));
	if (!items) {
		weft__free(at);
		return -ENOMEM;
	}
	pl->items = items;
	uint32_t *fill = at;
	for (unsigned q = 0; q <= pl->nstages; q++) {
		struct queue *qu = queue_of(pl, q);
		if (!qu->ordered)
			continue;
		memset(fill, 0xff, room * sizeof(*fill)); /* all NIL */
		for (size_t k = 0; qu->at && k < pl->room; k++)
			if (qu->at[k] != NIL)
				fill[items[qu->at[k]].seq & (room - 1)] =
					qu->at[k];
		qu->at = fill;
		fill += room;
	}
	weft__free(pl->at_block);
	pl->at_block = at;
	/* The table was full: the new slots make the whole free list. */
	for (size_t i = pl->room; i < room; i++)
		items[i].next = i + 1 < room ? (uint32_t)(i + 1) : NIL;
	pl->free = (uint32_t)pl->room;
	pl->room = room;
	return 0;
}

/* Item i leaves the stages; wakes pop if it makes the output ready. */
static void output_put(weft_pipeline *pl, uint32_t i)
{
	bool was_ready = queue_ready(pl, &pl->out);
	queue_put(pl, &pl->out, i);
	if (!was_ready && queue_ready(pl, &pl->out))
		weft__event_signal(&pl->output);
}

static void output_cancelled(weft_pipeline *pl, uint32_t i)
{
	if (!pl->items[i].err)
		pl->items[i].err = ECANCELED;
	output_put(pl, i);
}

/* Sends every item waiting in q to the output, as -ECANCELED unless it
 * failed already. */
static void flush_cancelled(weft_pipeline *pl, struct queue *q)
{
	for (size_t k = 0; q->ordered && q->len; k++) {
		uint32_t *slot = &q->at[seq_index(pl, q->next + k)];
		if (*slot != NIL) {
			output_cancelled(pl, *slot);
			*slot = NIL;
			q->len--;
		}
	}
	while (q->len)
		output_cancelled(pl, queue_take(pl, q));
}

/*
 * Runners.
 */

/* Under lock: the latest stage with an item a runner may start, or -1. */
static int stage_with_work(const weft_pipeline *pl)
{
	if (pl->destroying || pl->aborted)
		return -1;
	for (unsigned s = pl->nstages; s-- > 0;) {
		const struct stage *st = &pl->stages[s];
		if ((!st->bound || st->running < st->bound) &&
		    queue_ready(pl, &st->in))
			return (int)s;
	}
	return -1;
}

/* Under lock: true if another runner would help: there is work, no
 * runner is about to start, and the pool has a worker for one more. */
static bool want_runner(const weft_pipeline *pl)
{
	return !pl->waiting && pl->runners < pl->pool->nworkers &&
	       stage_with_work(pl) >= 0;
}

static void *runner(void *arg);
static void runner_end(weft_future *f, void *ctx);

/* Under lock: submits a runner task, and prepares its end callback in
 * *started for attach() to register once the lock is released (the
 * callback takes the lock, and runs at once if the task has already
 * finished or been cancelled). 0, -ENOMEM or -ESHUTDOWN (nothing done). */
static int start_runner(weft_pipeline *pl, struct weft_future **started)
{
	struct weft_future *node = weft__callback_new(runner_end, pl, 0);
	if (!node)
		return -ENOMEM;
	weft_future *f;
	int err = weft_submit(pl->pool, runner, pl, &f);
	if (err) {
		weft__task_free(node);
		return err;
	}
	pl->runners++;
	pl->waiting++;
	pl->tasks++;
	node->antecedent = f;
	*started = node;
	return 0;
}

/* Not under lock: registers the end callback start_runner prepared. */
static void attach(struct weft_future *node)
{
	if (!node)
		return;
	struct weft_future *f = node->antecedent;
	node->antecedent = NULL;
	weft__callback_attach(f, node);
	weft_future_release(f);
}

/* Under lock: a batch from st, in push order for an ORDERED stage; for
 * the others an even share of the queue among the runners the stage may
 * have, so a short queue still spreads over the workers. */
static unsigned take_batch(weft_pipeline *pl, struct stage *st,
			   struct work *batch)
{
	size_t want = BATCH;
	if (!st->in.ordered) {
		unsigned share = pl->pool->nworkers;
		if (st->bound && st->bound < share)
			share = st->bound;
		size_t even = (st->in.len + share - 1) / share;
		if (even < want)
			want = even;
	}
	unsigned k = 0;
	while (k < want && queue_ready(pl, &st->in)) {
		uint32_t i = queue_take(pl, &st->in);
		batch[k++] = (struct work){ .slot = i,
					    .err = pl->items[i].err,
					    .value = pl->items[i].value };
	}
	return k;
}

/* Not under lock: runs st's function on each item that has not failed. */
static void run_batch(weft_pipeline *pl, const struct stage *st,
		      struct work *batch, unsigned k)
{
	weft_pipeline *saved = tls_in_stage;
	tls_in_stage = pl;
	for (unsigned i = 0; i < k; i++) {
		struct work *w = &batch[i];
		if (w->err)
			continue; /* failed before: skips fn, keeps its turn */
		void *r = st->fn(w->value, st->ctx);
		int err = weft__take_fail();
		if (err)
			w->err = err; /* value stays what the stage was given */
		else
			w->value = r;
	}
	tls_in_stage = saved;
}

/* Under lock: the batch has been through stage next - 1. */
static void move_on(weft_pipeline *pl, unsigned next, const struct work *batch,
		    unsigned k)
{
	if (pl->destroying)
		return; /* dropped */
	for (unsigned n = 0; n < k; n++) {
		uint32_t i = batch[n].slot;
		pl->items[i].value = batch[n].value;
		pl->items[i].err = batch[n].err;
		if (next == pl->nstages)
			output_put(pl, i);
		else if (pl->aborted)
			output_cancelled(pl, i);
		else
			queue_put(pl, &pl->stages[next].in, i);
	}
}

static void *runner(void *arg)
{
	weft_pipeline *pl = arg;
	struct work batch[BATCH];
	struct weft_future *started = NULL;
	int s;
	lock(pl);
	pl->waiting--;
	while ((s = stage_with_work(pl)) >= 0) {
		struct stage *st = &pl->stages[s];
		unsigned k = take_batch(pl, st, batch);
		st->running++;
		if (want_runner(pl))
			(void)start_runner(pl, &started); /* else: carry on */
		unlock(pl);
		attach(started);
		started = NULL;
		run_batch(pl, st, batch, k);
		lock(pl);
		st->running--;
		move_on(pl, (unsigned)s + 1, batch, k);
	}
	pl->runners--;
	unlock(pl);
	return NULL;
}

/* Under lock: a runner task was cancelled, so the pool is shutting down
 * with CANCEL_PENDING: the pipeline is aborted. */
static void abort_pipeline(weft_pipeline *pl)
{
	pl->aborted = true;
	if (pl->destroying)
		return;
	for (unsigned i = 0; i < pl->nstages; i++)
		flush_cancelled(pl, &pl->stages[i].in);
	weft__event_signal(&pl->space); /* a waiting push fails now */
}

/* Runs once per runner task, after its body, or instead of it when the
 * pool cancelled it. The task's end for the pipeline: destroy waits for
 * tasks to reach zero. */
static void runner_end(weft_future *f, void *ctx)
{
	weft_pipeline *pl = ctx;
	lock(pl);
	if (weft_future_state(f) == WEFT_CANCELLED) {
		pl->waiting--;
		pl->runners--;
		abort_pipeline(pl);
	}
	if (--pl->tasks == 0)
		weft__event_signal(&pl->idle);
	unlock(pl);
}

/*
 * The public calls.
 */

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
	pl->out.head = NIL;
	pl->out.ordered = flags & WEFT_PIPELINE_ORDERED;
	/* Adaptive: the lock is held for a few dozen instructions, so a
	 * contender spins briefly instead of sleeping in the kernel. */
	pthread_mutexattr_t attr;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
	pthread_mutex_init(&pl->lock, &attr);
	pthread_mutexattr_destroy(&attr);
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
			s->in.head = NIL;
			s->in.ordered = flags & WEFT_STAGE_ORDERED;
			s->bound = s->in.ordered ? 1 : concurrency;
			/* A push that failed may have made room, without
			 * this stage's at array: drop it (it is empty). */
			weft__free(pl->items);
			weft__free(pl->at_block);
			pl->items = NULL;
			pl->at_block = NULL;
			pl->room = 0;
		}
	}
	unlock(pl);
	if (err)
		weft__free(copy);
	return err;
}

/* Under lock: why a push cannot be taken, however much space there is:
 * -EPIPE, -ESHUTDOWN, or 0. A push is refused when the pool would refuse
 * a task from this thread (even if a running runner could carry the
 * item), and once the pool cancelled one of the pipeline's. */
static int refusal(const weft_pipeline *pl)
{
	if (pl->closed)
		return -EPIPE;
	if (pl->aborted || !weft__takes_work(pl->pool))
		return -ESHUTDOWN;
	return 0;
}

/* Under lock, with space and no refusal: takes item in, with a runner to
 * carry it if none is left. */
static int accept(weft_pipeline *pl, void *item, struct weft_future **started)
{
	int err = make_room(pl);
	if (!err && pl->nstages && !pl->runners)
		err = start_runner(pl, started);
	if (err)
		return err;
	uint32_t i = pl->free;
	pl->free = pl->items[i].next;
	pl->items[i] = (struct item){ .value = item,
				      .seq = pl->next_push_seq++ };
	pl->count++;
	if (!pl->nstages) {
		output_put(pl, i);
		return 0;
	}
	queue_put(pl, &pl->stages[0].in, i);
	if (!*started && want_runner(pl))
		(void)start_runner(pl, started); /* else: the others carry it */
	return 0;
}

static bool has_space(void *ctx)
{
	weft_pipeline *pl = ctx;
	lock(pl);
	bool r = refusal(pl) || pl->count < pl->capacity;
	unlock(pl);
	return r;
}

int weft_pipeline_push(weft_pipeline *pl, void *item, int64_t timeout_ns)
{
	if (!pl || timeout_ns < WEFT_FOREVER)
		return -EINVAL;
	int64_t deadline = weft__deadline(timeout_ns);
	lock(pl);
	int err;
	while (!(err = refusal(pl)) && pl->count >= pl->capacity) {
		unlock(pl);
		err = timeout_ns == 0 ? -ETIMEDOUT :
			  weft__event_wait(&pl->space, has_space, pl,
					   deadline);
		if (err)
			return err;
		lock(pl);
	}
	struct weft_future *started = NULL;
	if (!err)
		err = accept(pl, item, &started);
	unlock(pl);
	attach(started);
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
	bool r = queue_ready(pl, &pl->out) || (pl->closed && !pl->count);
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
		if (queue_ready(pl, &pl->out)) {
			uint32_t i = queue_take(pl, &pl->out);
			void *value = pl->items[i].value;
			int err = pl->items[i].err;
			pl->items[i].next = pl->free;
			pl->free = i;
			if (pl->count-- == pl->capacity)
				weft__event_signal(&pl->space);
			if (pl->closed && !pl->count)
				weft__event_signal(&pl->output); /* drained */
			unlock(pl);
			*item = value;
			return err ? -err : 1;
		}
		bool drained = pl->closed && !pl->count;
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

int weft_pipeline_destroy(weft_pipeline *pl)
{
	if (!pl)
		return 0;
	if (tls_in_stage == pl)
		return -EDEADLK;
	lock(pl);
	/* Runners start nothing more and drop the batches they hold. */
	pl->closed = true;
	pl->destroying = true;
	unlock(pl);
	weft__event_wait(&pl->idle, no_tasks, pl, -1);
	for (unsigned i = 0; i < pl->nstages; i++)
		weft__free(pl->stages[i].name);
	weft__free(pl->stages);
	weft__free(pl->items);
	weft__free(pl->at_block);
	pthread_mutex_destroy(&pl->lock);
	weft__free(pl);
	return 0;
}
