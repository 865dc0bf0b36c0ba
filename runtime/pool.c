/*
 * Pools: configuration, creation, shutdown, destruction, introspection.
 * A pool owns its workers; there is no global runtime state.
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <urcu/urcu-qsbr.h>

#include "runtime/alloc.h"
#include "runtime/internal.h"
#include "runtime/trace.h"
#ifdef WEFT_ALLOC_HOOK
#include "runtime/alloc_hook.h"
#endif

#define DEFAULT_SPIN_NS 50000
#define MAX_SPIN_NS 1000000000
#define INITIAL_DEQUE_CAPACITY 256

#ifdef WEFT_TSAN
/* liburcu 0.13's grace periods are invisible to ThreadSanitizer. */
#define DEQUE_RECLAIM WEFT__RECLAIM_AT_DESTROY
#else
#define DEQUE_RECLAIM WEFT__RECLAIM_QSBR
#endif

void weft_config_init(weft_config *cfg)
{
	if (!cfg)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->size = sizeof(*cfg);
	cfg->name = "weft";
	cfg->spin_ns = DEFAULT_SPIN_NS;
}

static int apply_config(weft_pool *p, const weft_config *cfg)
{
	weft_config defaults;
	if (!cfg) {
		weft_config_init(&defaults);
		cfg = &defaults;
	}
	if (cfg->size < sizeof(weft_config) || cfg->workers > WEFT_MAX_WORKERS ||
	    cfg->spin_ns > MAX_SPIN_NS)
		return -EINVAL;
	if (cfg->stack_size && (cfg->stack_size < WEFT_MIN_STACK_SIZE ||
				cfg->stack_size > WEFT_MAX_STACK_SIZE))
		return -EINVAL;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	p->stack_size = (cfg->stack_size + page - 1) / page * page;
	p->max_queued = cfg->max_queued;
	p->nworkers = cfg->workers ? cfg->workers : weft__default_workers();
	if (p->nworkers > WEFT_MAX_WORKERS)
		p->nworkers = WEFT_MAX_WORKERS;
	p->spin_ns = cfg->spin_ns < 0 ? DEFAULT_SPIN_NS : cfg->spin_ns;
	p->pin = cfg->pin;
	p->on_worker_start = cfg->on_worker_start;
	p->on_worker_stop = cfg->on_worker_stop;
	p->hook_ctx = cfg->hook_ctx;
	snprintf(p->name, sizeof(p->name), "%s",
		 cfg->name && cfg->name[0] ? cfg->name : "weft");
	return 0;
}

static void free_workers(weft_pool *p, unsigned initialised)
{
	for (unsigned i = 0; i < initialised; i++)
		weft__deque_destroy(&p->workers[i].deque);
	weft__free(p->workers);
}

static int init_workers(weft_pool *p)
{
	p->workers = weft__aligned_alloc(64, p->nworkers * sizeof(*p->workers));
	if (!p->workers)
		return -ENOMEM;
	memset(p->workers, 0, p->nworkers * sizeof(*p->workers));
	for (unsigned i = 0; i < p->nworkers; i++) {
		struct weft__worker *w = &p->workers[i];
		int err = weft__deque_init(&w->deque, INITIAL_DEQUE_CAPACITY,
					   DEQUE_RECLAIM);
		if (err) {
			free_workers(p, i);
			return err;
		}
		__cds_wfcq_init(&w->inject_head, &w->inject_tail);
		/* relaxed: not shared until the threads start. */
		atomic_init(&w->inject_lock, false);
		/* relaxed: as above. */
		atomic_init(&w->trace, NULL);
		/* relaxed: as above. */
		atomic_init(&w->tid, 0);
		w->pool = p;
		w->index = i;
		w->rng = 0x9E3779B97F4A7C15ull * (i + 1);
	}
	return 0;
}

static void *worker_thread(void *arg)
{
	struct weft__worker *w = arg;
	weft_pool *p = w->pool;
	char name[16];

	snprintf(name, sizeof(name), "%s-%u", p->name, w->index);
	pthread_setname_np(pthread_self(), name);
	if (p->pin) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(w->index % weft__affinity_cpus(), &set);
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	return weft__worker_main(w);
}

/* pthread_create for a worker, with the pool's stack size; a hooked
 * build may make it fail. Returns 0 or a positive errno. */
static int start_thread(struct weft__worker *w)
{
	pthread_attr_t attr;
	int err = pthread_attr_init(&attr);
	if (err)
		return err;
	if (w->pool->stack_size)
		err = pthread_attr_setstacksize(&attr, w->pool->stack_size);
	if (!err)
#ifdef WEFT_ALLOC_HOOK
		err = weft__alloc_hook_thread_create(&w->thread, &attr,
						     worker_thread, w);
#else
		err = pthread_create(&w->thread, &attr, worker_thread, w);
#endif
	pthread_attr_destroy(&attr);
	return err;
}

static void join_workers(weft_pool *p)
{
	/* A worker of another pool may wait here: it must not hold up RCU
	 * grace periods (its own pool's reclamation) while it blocks. */
	bool rcu_online = weft__self() != NULL;
	if (rcu_online)
		urcu_qsbr_thread_offline();
	pthread_mutex_lock(&p->join_lock);
	if (!p->joined) {
		for (unsigned i = 0; i < p->nworkers; i++)
			if (p->workers[i].started)
				pthread_join(p->workers[i].thread, NULL);
		p->joined = true;
	}
	pthread_mutex_unlock(&p->join_lock);
	if (rcu_online)
		urcu_qsbr_thread_online();
}

int weft_pool_create(weft_pool **out, const weft_config *cfg)
{
	if (!out)
		return -EINVAL;
	weft_pool *p = weft__aligned_alloc(64, sizeof(*p));
	if (!p)
		return -ENOMEM;
	memset(p, 0, sizeof(*p));
	int err = apply_config(p, cfg);
	if (!err)
		err = init_workers(p);
	if (err) {
		weft__free(p);
		return err;
	}
	/* relaxed (all): nothing is shared until pthread_create, which
	 * orders these stores before the workers start. */
	atomic_init(&p->gate, 0);
	atomic_init(&p->queued, 0);
	atomic_init(&p->cancel_pending, false);
	atomic_init(&p->idle, 0);
	atomic_init(&p->epoch, 0);
	atomic_init(&p->spare, NULL);
	atomic_init(&p->spare_batches, 0);
	pthread_mutex_init(&p->join_lock, NULL);
	weft__trace_pool_init(p, cfg && cfg->timing);

	for (unsigned i = 0; i < p->nworkers; i++) {
		struct weft__worker *w = &p->workers[i];
		err = -start_thread(w);
		if (err) {
			/* No task exists yet: close the gate at once and let
			 * the started workers leave. */
			/* relaxed: the workers re-read the gate after the
			 * wake below (seq_cst epoch bump). */
			atomic_store_explicit(&p->gate,
					      WEFT__GATE_SHUTDOWN |
						      WEFT__GATE_EXITED,
					      memory_order_relaxed);
			weft__wake_all(p);
			join_workers(p);
			pthread_mutex_destroy(&p->join_lock);
			weft__trace_pool_fini(p, false);
			free_workers(p, p->nworkers);
			weft__free(p);
			return err;
		}
		w->started = true;
	}
	*out = p;
	return 0;
}

/* Cancels every task waiting in the injection queues (the workers cancel
 * what they find in their deques). */
static void cancel_injected(weft_pool *p)
{
	bool again = true;
	while (again) {
		again = false;
		for (unsigned i = 0; i < p->nworkers; i++) {
			struct weft_future *t;
			while ((t = weft__inject_pop(&p->workers[i]))) {
				/* Counted first: whoever sees t cancelled sees
				 * it counted. */
				weft__count_shared(&p->offworker.submitted);
				weft__count_shared(&p->offworker.injected);
				weft__count_shared(&p->offworker.cancelled);
				weft__future_cancel(t);
				weft__future_retire(t);
				again = true;
			}
		}
	}
}

int weft_pool_shutdown(weft_pool *p, unsigned flags)
{
	if (!p || (flags & ~(WEFT_SHUTDOWN_WAIT | WEFT_SHUTDOWN_CANCEL_PENDING)))
		return -EINVAL;
	if (flags & WEFT_SHUTDOWN_CANCEL_PENDING)
		/* relaxed: see cancel_pending in internal.h. */
		atomic_store_explicit(&p->cancel_pending, true,
				      memory_order_relaxed);
	/* relaxed: the flag's effect on injectors needs only the atomicity
	 * of the gate word (G1); the wake below orders it for workers. */
	atomic_fetch_or_explicit(&p->gate, WEFT__GATE_SHUTDOWN,
				 memory_order_relaxed);
	if ((flags & WEFT_SHUTDOWN_CANCEL_PENDING) && !weft__self_in(p))
		cancel_injected(p);
	weft__wake_all(p);
	if (!(flags & WEFT_SHUTDOWN_WAIT))
		return 0;
	if (weft__self_in(p))
		return -EDEADLK;
	join_workers(p);
	return 0;
}

int weft_pool_destroy(weft_pool *p)
{
	if (!p)
		return 0;
	if (weft__self_in(p))
		return -EDEADLK;
	weft_pool_shutdown(p, WEFT_SHUTDOWN_WAIT);
	/* Retired deque buffers handed to call_rcu are freed before the
	 * pool's memory goes. Never called on a worker (checked above). */
#ifndef WEFT_TSAN
	urcu_qsbr_barrier();
#endif
	pthread_mutex_destroy(&p->join_lock);
	weft__trace_pool_fini(p, true);
	weft__spare_drain(p);
	free_workers(p, p->nworkers);
	weft__free(p);
	return 0;
}

unsigned weft_pool_workers(const weft_pool *p)
{
	return p ? p->nworkers : 0;
}

static void add_counters(weft_stats *out, const struct weft__counters *c)
{
	/* relaxed (all): a snapshot of counters each written by one worker,
	 * or added to with relaxed RMWs. */
#define SUM(field)                                                            \
	out->field += atomic_load_explicit(&c->field, memory_order_relaxed)
	SUM(submitted);
	SUM(executed);
	SUM(stolen);
	SUM(steal_attempts);
	SUM(injected);
	SUM(parks);
	SUM(wakeups);
	SUM(cancelled);
	SUM(failed);
#undef SUM
}

static void add_timing(weft_stats *out, const struct weft__timing *t)
{
	/* relaxed (all): a snapshot of counters each written by one
	 * worker. */
	for (unsigned i = 0; i < WEFT_LATENCY_BUCKETS; i++)
		out->sched_latency[i] += atomic_load_explicit(
			&t->sched_latency[i], memory_order_relaxed);
	/* relaxed: as above. */
	out->busy_ns +=
		atomic_load_explicit(&t->busy_ns, memory_order_relaxed);
}

int weft_pool_stats(const weft_pool *p, weft_stats *out)
{
	if (!p || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < p->nworkers; i++) {
		add_counters(out, &p->workers[i].stats);
		add_timing(out, &p->workers[i].timing);
	}
	add_counters(out, &p->offworker);
	return 0;
}

const char *weft_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case -EINVAL:
		return "invalid argument";
	case -ENOMEM:
		return "out of memory";
	case -ESHUTDOWN:
		return "the pool is shut down";
	case -ETIMEDOUT:
		return "timed out";
	case -ECANCELED:
		return "the future was cancelled";
	case -EDEADLK:
		return "the call would wait for itself";
	case -EPIPE:
		return "the pipeline is closed";
	case -EAGAIN:
		return "resource temporarily unavailable";
	case -EALREADY:
		return "already in progress (the pool is already traced)";
	case -ENODATA:
		return "nothing to end (the pool is not traced)";
	case -ENOTSUP:
		return "not supported by this build";
	}
	const char *s = err < 0 && err > INT_MIN ? strerrordesc_np(-err) : NULL;
	return s ? s : "unknown error";
}
