/*
 * Observation: the timing behind weft_stats.sched_latency and busy_ns,
 * and the trace that becomes a Chrome trace-event timeline.
 *
 * READ this first: what the hot paths pay and the ordering contract.
 *
 * observe (weft_pool, one word on the pool's read-mostly line)
 *   WEFT__OBSERVE_TIMING is set at create, before the workers start, when
 *   the pool collects timing (weft_config.timing, or WEFT_TRACE), and
 *   never changes. WEFT__OBSERVE_TRACE is set and cleared by the trace
 *   session's owner (trace.c, under trace_lock). Submitters and workers
 *   load it relaxed: a task made ready, started or stolen while the word
 *   changes is simply observed or not. With the word zero, each task pays
 *   one load and one untaken branch where it becomes ready, and where it
 *   runs one load tested on either side of the body (worker.c keeps the
 *   body's one call site inline that way); stealing, parking and waking
 *   test the same word.
 *
 * The ready stamp (in the task object's result field)
 *   An observed pool stamps each task when it becomes ready (submitted,
 *   or a continuation scheduled): CLOCK_MONOTONIC nanoseconds, with
 *   WEFT__STAMP_EXTERNAL set when it came in from outside the workers.
 *   The object has no spare room and result is free until the task runs
 *   (future/future.h): the stamp is written before the queue publishes
 *   the task and read by the worker that started it, after its start CAS
 *   and before the body runs. A task cancelled before it started keeps its
 *   stamp in result; nobody reads a cancelled future's result. 0 means
 *   not stamped (the pool was not observed when the task became ready).
 *
 * Trace buffers (one per worker per session)
 *   A worker writes only its own buffer, with plain stores and no atomic
 *   RMW: the event, then head with a release store (T1). head counts the
 *   events recorded or dropped; slots [0, min(head, capacity)) hold
 *   events, and once the buffer is full later events are only counted
 *   (nothing blocks, nothing grows). The session's owner reads head with
 *   acquire (T2, pairs with T1) and only the slots below it, so it may
 *   read while the worker goes on writing above.
 *   A worker finds its buffer through weft__worker.trace: published with
 *   a release store (T3) and loaded with acquire (T4, pairs with T3)
 *   immediately before each write, never kept across an RCU quiescent
 *   state or offline period. So once the owner has unpublished the
 *   buffers, one QSBR grace period later no worker can touch them, and
 *   they are freed (a ThreadSanitizer build, which cannot see grace
 *   periods, keeps them until the pool is destroyed).
 *   Submits from outside the pool need no buffer of their own: the
 *   worker that starts an externally submitted task records it, and the
 *   writer places that submit, at its stamp, on the pool's external
 *   track. So no lock and no atomic is added to any submit path.
 */
#ifndef WEFT_RUNTIME_TRACE_H
#define WEFT_RUNTIME_TRACE_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "future/futex.h"
#include "runtime/internal.h"

#define WEFT__OBSERVE_TIMING 1u
#define WEFT__OBSERVE_TRACE 2u

#define WEFT__STAMP_EXTERNAL (UINT64_C(1) << 63)

/* The stamp lives in a pointer-sized field. */
_Static_assert(sizeof(void *) == sizeof(uint64_t), "64-bit pointers");

enum weft__trace_kind {
	WEFT__EV_TASK = 1, /* a task body ran: a slice */
	WEFT__EV_STEAL,    /* took a task from another worker's deque */
	WEFT__EV_PARK,     /* went to sleep */
	WEFT__EV_WAKE,     /* woke up from sleep */
};

struct weft__trace_event {
	int64_t ts;       /* CLOCK_MONOTONIC ns: a body's start, or the moment */
	int64_t dur;      /* TASK: ns in the body */
	uint64_t stamp;   /* TASK: the ready stamp (0: none) */
	uintptr_t fn;     /* TASK: the task's function */
	const void *task; /* TASK, STEAL: the task object */
	uint32_t kind;    /* enum weft__trace_kind */
	uint32_t victim;  /* STEAL: the victim's index */
};

struct weft__trace_buf {
	/* Events recorded or dropped: written by the owning worker only
	 * (relaxed load, release store T1); read by the session's owner
	 * (acquire, T2). */
	_Atomic uint64_t head;
	uint64_t capacity;
	/* When the first event was dropped: written by the owning worker
	 * before the T1 store that takes head past capacity. */
	int64_t full_ts;
	struct weft__trace_event ev[];
};

/* The events a buffer holds when WEFT_TRACE_EVENTS is not set, and the
 * bounds it must be within. */
#define WEFT__TRACE_EVENTS_DEFAULT (UINT64_C(1) << 20)
#define WEFT__TRACE_EVENTS_MAX (UINT64_C(1) << 28)

/* The observation bits of p; 0 in a build without tracing. */
static inline uint32_t weft__observe(const weft_pool *p)
{
#ifdef WEFT_NO_TRACE
	(void)p;
	return 0;
#else
	/* relaxed: see observe above. */
	return atomic_load_explicit(&p->observe, memory_order_relaxed);
#endif
}

/* Stamps t, which is becoming ready on p and is not yet in a queue. */
static inline void weft__stamp_ready(const weft_pool *p, struct weft_future *t,
				     uint64_t external)
{
	if (__builtin_expect(weft__observe(p) != 0, 0))
		t->result = (void *)(uintptr_t)((uint64_t)weft__now_ns() |
						external);
}

/* Appends e to w's trace buffer if the pool is traced. Worker w only. */
void weft__trace_put(struct weft__worker *w,
		     const struct weft__trace_event *e);

/* Records a steal, park or wake on w's buffer if p is traced. */
static inline void weft__trace_note(struct weft__worker *w, uint32_t kind,
				    const void *task, uint32_t victim)
{
	if (__builtin_expect(weft__observe(w->pool) & WEFT__OBSERVE_TRACE,
			     0)) {
		struct weft__trace_event e = {.ts = weft__now_ns(),
					      .task = task,
					      .kind = kind,
					      .victim = victim};
		weft__trace_put(w, &e);
	}
}

/* The sched_latency bucket of a wait of ns nanoseconds. */
static inline unsigned weft__latency_bucket(int64_t ns)
{
	if (ns <= 1)
		return 0;
	unsigned b = 63u - (unsigned)__builtin_clzll((unsigned long long)ns);
	return b < WEFT_LATENCY_BUCKETS ? b : WEFT_LATENCY_BUCKETS - 1;
}

/*
 * Sessions (trace.c), for pool.c.
 */

/* At create, before the workers start: sets observe from cfg and, with
 * WEFT_TRACE set, starts the session that is written at destroy. Never
 * fails: a session that cannot start leaves the pool untraced. */
void weft__trace_pool_init(weft_pool *p, bool timing);
/* At destroy, after the workers have exited: writes a WEFT_TRACE session
 * still running (if write: not for a pool whose create failed), frees
 * every buffer. */
void weft__trace_pool_fini(weft_pool *p, bool write);

/*
 * The writer (trace_json.c), for trace.c.
 */

struct weft__trace_session {
	uint64_t capacity;       /* events per buffer */
	int64_t start_ns;
	weft_stats stats_at_start;
	char *env_path;          /* a WEFT_TRACE session: its file; else NULL */
	struct weft__trace_session *retired_next; /* trace.c's retired list */
	struct weft__trace_buf *bufs[]; /* one per worker */
};

/* What the writer needs of a session that has ended: its buffers, the
 * heads read at its end (T2), and what the pool counted meanwhile. */
struct weft__trace_snapshot {
	const weft_pool *pool;
	const struct weft__trace_session *s;
	const uint64_t *heads;
	int64_t end_ns;
	weft_stats stats; /* the counters' growth during the session */
};

/* The name of the function at fn (trace_symbols.c): its symbol, from
 * dladdr or the object file's symbol table, else "file+0xoffset", else
 * the address. */
void weft__trace_fn_name(uintptr_t fn, char *out, size_t n);

/* Writes a whole trace file for one session to f: 0 or -errno. */
int weft__trace_write_file(FILE *f, const struct weft__trace_snapshot *snap);
/* Adds one session to the WEFT_TRACE file at path, which every pool of
 * the process shares (see trace_json.c). Failures are silent. */
void weft__trace_write_env(const char *path,
			   const struct weft__trace_snapshot *snap);

#endif
