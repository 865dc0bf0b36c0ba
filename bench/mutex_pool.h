/*
 * A textbook thread pool, the honest baseline: what a C programmer writes
 * in an afternoon with pthreads, and what weft has to beat to be worth a
 * dependency.
 *
 *  - One shared queue of tasks, one mutex over it, one condition variable
 *    that idle workers sleep on; submit locks, appends, unlocks and
 *    signals one worker. Idle workers take the oldest task (FIFO).
 *  - One heap-allocated task per submit, which is also its future: result,
 *    done flag, its own mutex and condition variable (like the shared
 *    state of C++'s std::future), and a reference count (task + owner).
 *  - mp_get() off the pool sleeps on the future's condition variable. On
 *    one of the pool's threads it first runs queued tasks while the future
 *    is pending (help-while-waiting, as in "C++ Concurrency in Action",
 *    section 9.1, "tasks that wait for other tasks"), so recursive
 *    workloads cannot deadlock the pool; with the queue empty it sleeps on
 *    the condition variable. A helping waiter takes the newest task, not
 *    the oldest: helping in FIFO order runs the oldest (largest) subtrees
 *    nested inside each wait, and fib(25) overflowed an 8 MB stack that
 *    way; the newest task is usually the waiter's own child, which keeps
 *    the nesting near the depth of the task tree.
 *
 * Nothing in it is lock-free or clever on purpose.
 */
#ifndef WEFT_BENCH_MUTEX_POOL_H
#define WEFT_BENCH_MUTEX_POOL_H

typedef void *(*mp_fn)(void *arg);

struct mp_pool;
struct mp_future;

/* Starts a pool of `threads` workers. Returns 0 or a negative errno. */
int mp_pool_create(struct mp_pool **out, unsigned threads);

/* Runs every queued task, stops the workers and frees the pool. Not from
 * one of its own workers. */
void mp_pool_destroy(struct mp_pool *p);

/* Queues fn(arg). *out receives the future (release it with
 * mp_release); out NULL submits a detached task. Returns 0 or -ENOMEM.
 * Any thread. */
int mp_submit(struct mp_pool *p, mp_fn fn, void *arg, struct mp_future **out);

/* Waits for f and returns its result. Any thread. */
void *mp_get(struct mp_future *f);

/* Drops the caller's reference to f. */
void mp_release(struct mp_future *f);

#endif
