/*
 * Futures over many futures: weft_when_all, weft_when_any, weft_wait.
 *
 * A join owns an output future and registers one callback on each input
 * (each distinct input for when_any and weft_wait's FIRST_* conditions).
 * The callbacks count completions and resolve the output when the join's
 * condition holds, so no thread blocks (weft_wait then waits on the
 * output like on any future; with ALL_COMPLETED it waits for each input
 * in turn instead). Every node is allocated before the first callback is
 * registered, so -ENOMEM leaves nothing behind.
 *
 * READ this first: the ordering contract.
 *   remaining  inputs not yet completed; each callback decrements it with
 *              acq_rel (J1), so the one that reaches zero sees the others'
 *              completions before it resolves the output
 *   fired      set once by exchange (J2): whoever sets it resolves the
 *              output (first completion, first failure)
 *   live       callbacks not yet run; the last one (acq_rel, J3) frees the
 *              join and drops its reference on the output
 */
#include <errno.h>
#include <stdlib.h>

#include "future/future.h"
#include "future/futex.h"
#include "runtime/alloc.h"

enum join_mode { JOIN_ALL, JOIN_ANY, JOIN_FIRST_FAILED };

struct join;

struct join_slot {
	struct join *join;
	size_t index; /* the input's first index in the caller's array */
};

struct join {
	struct weft_future *out; /* holds a reference until live reaches 0 */
	enum join_mode mode;
	_Atomic size_t remaining; /* see (J1) */
	_Atomic bool fired;       /* see (J2) */
	_Atomic size_t live;      /* see (J3) */
	struct join_slot slots[];
};

static void fire(struct join *j, size_t index)
{
	/* Only when_any's result is an index; when_all's is NULL. */
	void *result = j->mode == JOIN_ANY ? (void *)(intptr_t)index : NULL;
	/* (J2) relaxed: only the atomicity of the exchange matters; the
	 * resolution publishes with its own release (C1). */
	if (!atomic_exchange_explicit(&j->fired, true, memory_order_relaxed))
		weft__future_resolve(j->out, WEFT_SUCCEEDED, result);
}

static void join_callback(weft_future *f, void *ctx)
{
	struct join_slot *slot = ctx;
	struct join *j = slot->join;

	if (j->mode == JOIN_ANY ||
	    (j->mode == JOIN_FIRST_FAILED &&
	     weft_future_state(f) == WEFT_FAILED)) {
		fire(j, slot->index);
	} else {
		/* (J1) acq_rel: the last decrement sees every input done. */
		if (atomic_fetch_sub_explicit(&j->remaining, 1,
					      memory_order_acq_rel) == 1)
			fire(j, slot->index);
	}
	/* (J3) acq_rel: the last callback frees the join after every other
	 * callback's use of it. */
	if (atomic_fetch_sub_explicit(&j->live, 1, memory_order_acq_rel) ==
	    1) {
		weft__unref(j->out);
		weft__free(j);
	}
}

static int cmp_ptr_index(const void *a, const void *b)
{
	const struct join_slot *x = a, *y = b; /* join holds the pointer */
	uintptr_t px = (uintptr_t)x->join, py = (uintptr_t)y->join;
	if (px != py)
		return px < py ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return (x > y) - (x < y);
}

/* Fills order[] with the first index of each distinct future, in index
 * order, and returns their number. scratch holds n slots. */
static size_t distinct(weft_future *const *fs, size_t n,
		       struct join_slot *scratch, size_t *order)
{
	for (size_t i = 0; i < n; i++)
		scratch[i] = (struct join_slot){ (struct join *)fs[i], i };
	qsort(scratch, n, sizeof(*scratch), cmp_ptr_index);
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (i == 0 || scratch[i].join != scratch[i - 1].join)
			order[m++] = scratch[i].index;
	/* Back to index order, so callbacks register in the caller's order. */
	qsort(order, m, sizeof(*order), cmp_size);
	return m;
}

static int valid_inputs(weft_future *const *fs, size_t n)
{
	if (n && !fs)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!fs[i])
			return -EINVAL;
	return 0;
}

static int join_create(weft_future *const *fs, size_t n, enum join_mode mode,
		       weft_future **out)
{
	int err = -ENOMEM;
	size_t m = 0;
	struct weft_future **nodes = NULL;
	struct join *j = NULL;
	struct weft_future *o = NULL;
	/* when_all needs no deduplication: a future listed twice gets two
	 * callbacks, and remaining counts both. when_any reports the lowest
	 * index of the first future to complete, so there (and in
	 * weft_wait's FIRST_* conditions, which share this code) a future
	 * gets one callback. */
	bool dedup = mode != JOIN_ALL;
	struct join_slot *scratch =
		dedup ? weft__malloc((n ? n : 1) * sizeof(*scratch)) : NULL;
	size_t *order = weft__malloc((n ? n : 1) * sizeof(*order));
	if ((dedup && !scratch) || !order)
		goto fail;
	if (dedup) {
		m = distinct(fs, n, scratch, order);
	} else {
		for (m = 0; m < n; m++)
			order[m] = m;
	}
	j = weft__malloc(sizeof(*j) + m * sizeof(j->slots[0]));
	nodes = weft__malloc((m ? m : 1) * sizeof(*nodes));
	/* No pool for the allocations: the inputs may outlive theirs. */
	o = weft__task_alloc(NULL);
	if (!j || !nodes || !o)
		goto fail;
	for (size_t k = 0; k < m; k++) {
		j->slots[k] = (struct join_slot){ j, order[k] };
		nodes[k] = weft__callback_new(join_callback, &j->slots[k],
					      WEFT__EARLY);
		if (!nodes[k]) {
			while (k--)
				weft__task_free(nodes[k]);
			goto fail;
		}
	}
	/* One reference for the caller, one for the join. */
	weft__future_init(o, n ? fs[0]->pool : NULL, 0, 2);
	j->out = o;
	j->mode = mode;
	/* relaxed (all three): published to the callbacks by their
	 * registration (L1) or run on this thread. */
	atomic_init(&j->remaining, m);
	atomic_init(&j->fired, false);
	atomic_init(&j->live, m);
	*out = o;
	if (m == 0) {
		weft__future_resolve(o, WEFT_SUCCEEDED, NULL);
		weft__unref(o);
		weft__free(j);
	}
	for (size_t k = 0; k < m; k++)
		weft__callback_attach(fs[order[k]], nodes[k]);
	weft__free(nodes);
	weft__free(scratch);
	weft__free(order);
	return 0;
fail:
	if (o)
		weft__task_free(o);
	weft__free(nodes);
	weft__free(j);
	weft__free(scratch);
	weft__free(order);
	return err;
}

int weft_when_all(weft_future *const *fs, size_t n, weft_future **out)
{
	if (!out || valid_inputs(fs, n))
		return -EINVAL;
	return join_create(fs, n, JOIN_ALL, out);
}

int weft_when_any(weft_future *const *fs, size_t n, weft_future **out)
{
	if (!out || !n || valid_inputs(fs, n))
		return -EINVAL;
	return join_create(fs, n, JOIN_ANY, out);
}

/* Whether the condition already holds. */
static bool wait_satisfied(weft_future *const *fs, size_t n,
			   enum weft_return_when when)
{
	size_t done = 0;
	for (size_t i = 0; i < n; i++) {
		enum weft_state s = weft_future_state(fs[i]);
		if (s == WEFT_FAILED && when == WEFT_FIRST_FAILED)
			return true;
		if (s >= WEFT_SUCCEEDED) {
			if (when == WEFT_FIRST_COMPLETED)
				return true;
			done++;
		}
	}
	return done == n;
}

/* Called when the condition does not hold yet: whether it can only hold
 * once a future whose body is on this thread's stack completes, so that
 * waiting would wait for itself. With ALL_COMPLETED, any such future not
 * done; otherwise, every future not done is one. */
static bool wait_would_deadlock(weft_future *const *fs, size_t n,
				enum weft_return_when when)
{
	bool own = false, other = false;
	for (size_t i = 0; i < n; i++) {
		if (weft_future_done(fs[i]))
			continue;
		if (weft__running_here(fs[i]))
			own = true;
		else
			other = true;
	}
	return when == WEFT_ALL_COMPLETED ? own : own && !other;
}

/* The future to sleep on while fs[first..last] of fs[0..n) remain (both
 * were pending when looked at): where the completions from the front
 * (first futures done so far) and from the back (n - 1 - last) should
 * meet, going by how far each has come; the middle when neither has
 * moved. Sleeping on the first pending future woke the waiter for nearly
 * every completion when they come in order (a thief taking them one by
 * one from the top of a deque); on the middle, about log2(n) times when
 * they come from one end (a worker running its own deque from the
 * bottom); where the fronts meet, about once. */
static size_t sleep_target(weft_future *const *fs, size_t n, size_t first,
			   size_t last)
{
	size_t front = first, back = n - 1 - last, j;
	if (front + back == 0)
		j = first + (last - first) / 2;
	else
		j = first + (size_t)((double)(last - first) * (double)front /
				     (double)(front + back));
	/* Bounded by last: any future may complete meanwhile. */
	while (j < last && weft_future_done(fs[j]))
		j++;
	return j;
}

/* ALL_COMPLETED: every future must complete, so there is no join to build
 * and nothing to allocate. A thread that is not a worker first spins on
 * the futures in order, one spin for the whole call: a spin per future
 * kept it spinning as long as the futures kept completing (700 us for
 * 10,000 follow-ups), and on two CPUs that held the CPU of a worker whose
 * deque held most of them, so the other worker had to steal them one by
 * one. Then it sleeps on futures chosen by sleep_target. A worker helps,
 * in order. */
static int wait_all(weft_future *const *fs, size_t n, int64_t deadline)
{
	bool worker = weft__on_worker(), spinning = !worker;
	size_t first = 0, last = n - 1;
	struct weft__spin spin;
	if (spinning)
		weft__external_spin_start(&spin, deadline);
	for (;;) {
		while (first < n && weft_future_done(fs[first]))
			first++;
		if (first == n)
			return 0;
		if (spinning && (spinning = weft__spin_again(&spin)))
			continue;
		/* Bounded by first: it may have completed meanwhile. */
		while (last > first && weft_future_done(fs[last]))
			last--;
		int err = weft__future_block_final(
			fs[worker ? first : sleep_target(fs, n, first, last)],
			deadline);
		if (err)
			return err;
	}
}

int weft_wait(weft_future *const *fs, size_t n, enum weft_return_when when,
	      int64_t timeout_ns)
{
	if (valid_inputs(fs, n) || timeout_ns < WEFT_FOREVER ||
	    (when != WEFT_FIRST_COMPLETED && when != WEFT_FIRST_FAILED &&
	     when != WEFT_ALL_COMPLETED))
		return -EINVAL;
	if (wait_satisfied(fs, n, when))
		return 0;
	if (wait_would_deadlock(fs, n, when))
		return -EDEADLK;
	if (timeout_ns == 0)
		return -ETIMEDOUT;
	int64_t deadline = weft__deadline(timeout_ns);
	if (when == WEFT_ALL_COMPLETED)
		return wait_all(fs, n, deadline);
	weft_future *o;
	int err = join_create(fs, n,
			      when == WEFT_FIRST_COMPLETED ? JOIN_ANY :
							     JOIN_FIRST_FAILED,
			      &o);
	if (err)
		return err;
	err = weft__future_wait_final(o, deadline);
	weft__unref(o);
	return err;
}
