/*
 * The trace file: Chrome trace-event JSON, as ui.perfetto.dev and
 * chrome://tracing read it.
 *
 *   {"displayTimeUnit":"ns","otherData":{...},"traceEvents":[
 *   event,
 *   ...
 *   ]}
 *
 * Each pool is a "process" (pid: the pool's trace_id) named "weft pool N
 * (name)"; each worker a "thread" (tid: its kernel thread id) named like
 * the thread, plus one thread for the external submits (EXTERNAL_TID,
 * above any kernel thread id). Times are microseconds with three
 * decimals, converted from CLOCK_MONOTONIC nanoseconds with integer
 * arithmetic, so nested slices stay nested.
 *
 * traceEvents comes last so that the WEFT_TRACE file, which every pool
 * of the process shares, takes another pool's events by overwriting its
 * closing "\n]}\n". The process-wide state for that is under env_lock;
 * pools write the file only when they are destroyed.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "runtime/alloc.h"
#include "runtime/trace.h"

#ifndef WEFT_NO_TRACE

/* Above PID_MAX_LIMIT (2^22): no kernel thread id. */
#define EXTERNAL_TID (1 << 30)

/*
 * Strings.
 */

static void put_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* Prints ns as microseconds with three decimals. */
static void put_us(FILE *f, int64_t ns)
{
	if (ns < 0) {
		fputc('-', f);
		ns = -ns;
	}
	fprintf(f, "%" PRId64 ".%03d", ns / 1000, (int)(ns % 1000));
}

/*
 * Function names (trace_symbols.c), cached per file written: a trace
 * names few functions.
 */

#define NAME_MAX_LEN 256
#define CACHE_SLOTS 512u

struct name_cache {
	uintptr_t key[CACHE_SLOTS];
	char name[CACHE_SLOTS][NAME_MAX_LEN];
};

/* The name of fn; cache may be NULL (no memory for it). */
static const char *fn_name(struct name_cache *cache, uintptr_t fn,
			   char *scratch)
{
	if (!cache) {
		weft__trace_fn_name(fn, scratch, NAME_MAX_LEN);
		return scratch;
	}
	unsigned i = (unsigned)((fn >> 4) * 0x9E3779B1u) % CACHE_SLOTS;
	for (unsigned probe = 0; probe < CACHE_SLOTS; probe++) {
		unsigned j = (i + probe) % CACHE_SLOTS;
		if (cache->key[j] == fn)
			return cache->name[j];
		if (!cache->key[j]) {
			cache->key[j] = fn;
			weft__trace_fn_name(fn, cache->name[j], NAME_MAX_LEN);
			return cache->name[j];
		}
	}
	weft__trace_fn_name(fn, scratch, NAME_MAX_LEN);
	return scratch;
}

/*
 * Events.
 */

struct writer {
	FILE *f;
	bool first; /* no event written to the file yet */
	unsigned pid;
	struct name_cache *names;
	char scratch[NAME_MAX_LEN];
};

/* Starts an event: the separator, then {"ph":...,"pid":...,"tid":... */
static void begin(struct writer *wr, const char *ph, int tid)
{
	if (!wr->first)
		fputs(",\n", wr->f);
	wr->first = false;
	fprintf(wr->f, "{\"ph\":\"%s\",\"pid\":%u,\"tid\":%d", ph, wr->pid,
		tid);
}

static void metadata(struct writer *wr, int tid, const char *what,
		     const char *name, long sort_index)
{
	begin(wr, "M", tid);
	fprintf(wr->f, ",\"name\":\"%s_name\",\"args\":{\"name\":", what);
	put_json_string(wr->f, name);
	fputs("}}", wr->f);
	begin(wr, "M", tid);
	fprintf(wr->f,
		",\"name\":\"%s_sort_index\",\"args\":{\"sort_index\":%ld}}",
		what, sort_index);
}

/* An instant event: scope "t" (its track) or "p" (the whole pool). */
static void instant(struct writer *wr, int tid, char scope, int64_t ts,
		    const char *name)
{
	begin(wr, "i", tid);
	fprintf(wr->f, ",\"s\":\"%c\",\"ts\":", scope);
	put_us(wr->f, ts);
	fputs(",\"name\":", wr->f);
	put_json_string(wr->f, name);
}

static int worker_tid(const struct weft__worker *w)
{
	/* relaxed: a single value written once (internal.h). */
	int tid = atomic_load_explicit(&w->tid, memory_order_relaxed);
	return tid ? tid : EXTERNAL_TID + 1 + (int)w->index;
}

static void worker_name(const weft_pool *p, unsigned index, char *out,
			size_t n)
{
	snprintf(out, n, "%s-%u", p->name, index);
}

static void task_event(struct writer *wr, int tid, const char *worker,
		       const struct weft__trace_event *e)
{
	const char *name = fn_name(wr->names, e->fn, wr->scratch);
	begin(wr, "X", tid);
	fputs(",\"cat\":\"task\",\"ts\":", wr->f);
	put_us(wr->f, e->ts);
	fputs(",\"dur\":", wr->f);
	put_us(wr->f, e->dur);
	fputs(",\"name\":", wr->f);
	put_json_string(wr->f, name);
	fprintf(wr->f, ",\"args\":{\"task\":\"%p\"", e->task);
	uint64_t ready = e->stamp & ~WEFT__STAMP_EXTERNAL;
	if (e->stamp) {
		int64_t wait = e->ts - (int64_t)ready;
		fputs(",\"wait_us\":", wr->f);
		put_us(wr->f, wait > 0 ? wait : 0);
	}
	fputs("}}", wr->f);
	if (!(e->stamp & WEFT__STAMP_EXTERNAL))
		return;
	/* The submit, on the pool's external track at its own time. */
	instant(wr, EXTERNAL_TID, 't', (int64_t)ready, "submit");
	fputs(",\"cat\":\"submit\",\"args\":{\"fn\":", wr->f);
	put_json_string(wr->f, name);
	fprintf(wr->f, ",\"task\":\"%p\",\"started_on\":", e->task);
	put_json_string(wr->f, worker);
	fputs("}}", wr->f);
}

static void other_event(struct writer *wr, const weft_pool *p, int tid,
			const struct weft__trace_event *e)
{
	switch (e->kind) {
	case WEFT__EV_STEAL: {
		char victim[32];
		worker_name(p, e->victim, victim, sizeof(victim));
		instant(wr, tid, 't', e->ts, "steal");
		fputs(",\"cat\":\"steal\",\"args\":{\"victim\":", wr->f);
		put_json_string(wr->f, victim);
		fprintf(wr->f, ",\"task\":\"%p\"}}", e->task);
		break;
	}
	case WEFT__EV_PARK:
		instant(wr, tid, 't', e->ts, "park");
		fputs(",\"cat\":\"park\"}", wr->f);
		break;
	case WEFT__EV_WAKE:
		instant(wr, tid, 't', e->ts, "wake");
		fputs(",\"cat\":\"wake\"}", wr->f);
		break;
	}
}

static void worker_events(struct writer *wr,
			  const struct weft__trace_snapshot *snap,
			  unsigned index, uint64_t *dropped)
{
	const weft_pool *p = snap->pool;
	const struct weft__trace_buf *b = snap->s->bufs[index];
	uint64_t head = snap->heads[index];
	uint64_t n = head < b->capacity ? head : b->capacity;
	int tid = worker_tid(&p->workers[index]);
	char name[32];
	worker_name(p, index, name, sizeof(name));
	metadata(wr, tid, "thread", name, (long)index);
	for (uint64_t i = 0; i < n; i++) {
		const struct weft__trace_event *e = &b->ev[i];
		if (e->kind == WEFT__EV_TASK)
			task_event(wr, tid, name, e);
		else
			other_event(wr, p, tid, e);
	}
	if (head > b->capacity) {
		*dropped += head - b->capacity;
		instant(wr, tid, 't', b->full_ts, "trace buffer full");
		fprintf(wr->f,
			",\"cat\":\"trace\",\"args\":{\"dropped\":%" PRIu64
			"}}",
			head - b->capacity);
	}
}

static void summary(struct writer *wr, const struct weft__trace_snapshot *snap,
		    uint64_t dropped)
{
	const weft_stats *s = &snap->stats;
	instant(wr, EXTERNAL_TID, 'p', snap->end_ns, "weft trace summary");
	fprintf(wr->f,
		",\"cat\":\"trace\",\"args\":{\"workers\":%u,"
		"\"events_per_worker\":%" PRIu64 ",\"dropped\":%" PRIu64
		",\"submitted\":%" PRIu64 ",\"executed\":%" PRIu64
		",\"injected\":%" PRIu64 ",\"stolen\":%" PRIu64
		",\"parks\":%" PRIu64 ",\"wakeups\":%" PRIu64
		",\"cancelled\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"start_us\":",
		snap->pool->nworkers, snap->s->capacity, dropped, s->submitted,
		s->executed, s->injected, s->stolen, s->parks, s->wakeups,
		s->cancelled, s->failed);
	put_us(wr->f, snap->s->start_ns);
	fputs("}}", wr->f);
}

/* Writes the pool's events; wr->first says whether the file has any. */
static void pool_events(struct writer *wr,
			const struct weft__trace_snapshot *snap)
{
	const weft_pool *p = snap->pool;
	wr->pid = p->trace_id;
	wr->names = weft__malloc(sizeof(struct name_cache));
	if (wr->names)
		memset(wr->names->key, 0, sizeof(wr->names->key));
	char name[64];
	snprintf(name, sizeof(name), "weft pool %u (%s)", p->trace_id,
		 p->name);
	metadata(wr, EXTERNAL_TID, "process", name, (long)p->trace_id);
	metadata(wr, EXTERNAL_TID, "thread", "external submits", -1);
	uint64_t dropped = 0;
	for (unsigned i = 0; i < p->nworkers; i++)
		worker_events(wr, snap, i, &dropped);
	summary(wr, snap, dropped);
	weft__free(wr->names);
	wr->names = NULL;
}

static void header(FILE *f)
{
	fprintf(f,
		"{\"displayTimeUnit\":\"ns\",\"otherData\":{\"producer\":"
		"\"weft\",\"clock\":\"CLOCK_MONOTONIC\",\"pid\":%d},"
		"\"traceEvents\":[\n",
		(int)getpid());
}

#define FOOTER "\n]}\n"

/* 0, or the error the stream met. */
static int stream_error(FILE *f, int fallback)
{
	if (fflush(f) || ferror(f))
		return errno ? -errno : fallback;
	return 0;
}

int weft__trace_write_file(FILE *f, const struct weft__trace_snapshot *snap)
{
	struct writer wr = {.f = f, .first = true};
	errno = 0;
	header(f);
	pool_events(&wr, snap);
	fputs(FOOTER, f);
	return stream_error(f, -EIO);
}

/* The WEFT_TRACE file this process writes, and where its footer starts:
 * under env_lock. env_file is empty before the first pool is written. */
static pthread_mutex_t env_lock = PTHREAD_MUTEX_INITIALIZER;
static char env_file[PATH_MAX];
static long env_tail;
static bool env_has_events;

void weft__trace_write_env(const char *path,
			   const struct weft__trace_snapshot *snap)
{
	if (strlen(path) >= sizeof(env_file))
		return;
	pthread_mutex_lock(&env_lock);
	FILE *f = NULL;
	if (!strcmp(env_file, path)) {
		f = fopen(path, "r+");
		if (f && fseek(f, env_tail, SEEK_SET)) {
			fclose(f);
			f = NULL;
		}
	}
	if (!f) {
		env_file[0] = '\0';
		f = fopen(path, "w");
		if (!f)
			goto out;
		header(f);
		env_has_events = false;
	}
	struct writer wr = {.f = f, .first = !env_has_events};
	errno = 0;
	pool_events(&wr, snap);
	long tail = ftell(f);
	fputs(FOOTER, f);
	int err = stream_error(f, -EIO);
	if (fclose(f) || err || tail < 0) {
		env_file[0] = '\0';
		goto out;
	}
	snprintf(env_file, sizeof(env_file), "%s", path);
	env_tail = tail;
	env_has_events = true;
out:
	pthread_mutex_unlock(&env_lock);
}

#endif
