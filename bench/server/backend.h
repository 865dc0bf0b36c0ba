/*
 * Where the server benchmark's IO thread hands a request: one interface,
 * three backends.
 *
 *   weft    a weft pool; each request is a detached weft_submit task
 *   mutex   the textbook mutex+condvar pool of bench/mutex_pool.h, each
 *           request a detached mp_submit task
 *   inline  no pool: the IO thread runs the request itself
 *   weft-cq a weft pool whose tasks only compute: each future is posted
 *           to a completion queue whose eventfd the IO thread polls, and
 *           the IO thread writes the reply (backend_cq_fd, backend_cq_pop)
 *
 * Every backend runs the same function on the same argument; only how it
 * gets to a thread differs. That is what the benchmark compares.
 */
#ifndef WEFT_BENCH_SERVER_BACKEND_H
#define WEFT_BENCH_SERVER_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

typedef void *(*backend_fn)(void *arg);

struct backend_opts {
	unsigned workers; /* pool threads (ignored by inline) */
	int64_t spin_ns;  /* weft only: weft_config.spin_ns, < 0 = default */
	bool timing;      /* weft only: weft_config.timing, and a "latency"
			   * line on stdout at stop (see backend_stop) */
};

struct backend;

/* Parses a name (weft, mutex, inline) and starts that backend. Returns 0,
 * -EINVAL for an unknown name, or the pool's negative errno. */
int backend_start(struct backend **out, const char *name,
		  const struct backend_opts *o);

/* The backend's name, as given to backend_start. */
const char *backend_name(const struct backend *b);

/* Runs fn(arg) on the backend: queued for a pool thread, or called right
 * here by inline. Returns 0, or a negative errno if it could not be queued
 * (then fn was not called and the caller still owns arg). IO thread. */
int backend_submit(struct backend *b, backend_fn fn, void *arg);

/* weft-cq: the completion queue's eventfd, for the IO thread's epoll set;
 * -1 for the other backends. */
int backend_cq_fd(const struct backend *b);

/* weft-cq: the arg of a finished request, or NULL when none waits. IO
 * thread. */
void *backend_cq_pop(struct backend *b);

/* Waits for every submitted request to finish, stops the threads and
 * frees b. b NULL: nothing. */
void backend_stop(struct backend *b);

#endif
