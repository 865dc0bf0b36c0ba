/*
 * Futex waits and wakes on a 32-bit atomic word, and the monotonic clock
 * the deadlines use. Private futexes only: the words never leave the
 * process.
 */
#ifndef WEFT_FUTEX_H
#define WEFT_FUTEX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Sleeps while *word == expected, until woken or until the absolute
 * CLOCK_MONOTONIC deadline (ns; < 0: none). Returns 0 (woken, or
 * spuriously), -EAGAIN (*word != expected), -EINTR, -ETIMEDOUT. The caller
 * re-reads the word and loops: any return may be spurious. */
int weft__futex_wait(_Atomic uint32_t *word, uint32_t expected,
		     int64_t deadline_ns);

/* Wakes up to n sleepers on word; returns how many it woke. */
int weft__futex_wake(_Atomic uint32_t *word, int n);

/* Wakes every thread waiting for a result the caller has just published
 * on word (a future's completion, an event). If it woke one, the caller
 * gives up its CPU once: the kernel tends to queue a woken thread on its
 * waker's CPU, where the waker, whose part is done, would keep the
 * result's consumer waiting. Submitters waking a parked worker call
 * weft__futex_wake instead: they are producers with more to do (a
 * server's IO thread amid a batch of requests), and whoever then waits for
 * the task's result yields as it spins (weft__spin_again). */
void weft__futex_wake_consumers(_Atomic uint32_t *word);

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t weft__now_ns(void);

/* The absolute deadline for a relative timeout: -1 for WEFT_FOREVER. */
int64_t weft__deadline(int64_t timeout_ns);

/* How long a thread that is not a worker spins on a future or an event
 * before it sleeps on the futex word: a little more than a parked
 * worker's wake-up, so a wait that ends soon (a short task, the next item
 * of a busy pipeline) costs no sleep and no second futex round trip.
 * Workers run other tasks instead. */
#define WEFT__EXTERNAL_SPIN_NS 20000

/* A bounded spin that gives its CPU away (sched_yield) now and then, so
 * that it does not keep a thread that needs this CPU waiting. Outside
 * threads spinning on a future or an event yield every
 * WEFT__SPIN_YIELD_NS: one that never yielded kept the workers sharing its
 * CPU from running the very task it waited for (on one CPU with two
 * workers, each submit+get cost the whole 20 us spin: 26 us a round trip,
 * 1.3 us/item in a pipeline against 0.4 with yields). Not at once: a wait
 * that ends within the first interval (a hot round trip) pays no system
 * call, and a yield costs about 0.6 us even with nothing else to run.
 * Searching workers use their own intervals (runtime/worker.c). */
#define WEFT__SPIN_YIELD_NS 2000

struct weft__spin {
	int64_t until, next_yield, every;
	int64_t now; /* the clock at the last round */
};

/* Starts a spin that lasts until the absolute CLOCK_MONOTONIC deadline
 * until, yields first after first_ns (0: at the first round), then every
 * every_ns. */
void weft__spin_start(struct weft__spin *s, int64_t until, int64_t first_ns,
		      int64_t every_ns);

/* One round of the spin: a few pause hints, and a yield when one is due.
 * False once the deadline has passed. */
bool weft__spin_again(struct weft__spin *s);

/* weft__spin_again in parts, for a caller that acts around its yields:
 * spin_yield_due is the round's pause hints and says whether a yield is
 * due; spin_yield gives the CPU away and starts the next interval;
 * spin_before_deadline says whether the deadline is still ahead (as of
 * the round's clock). */
bool weft__spin_yield_due(struct weft__spin *s);
void weft__spin_yield(struct weft__spin *s);

static inline bool weft__spin_before_deadline(const struct weft__spin *s)
{
	return s->now < s->until;
}

/* One spin-wait hint to the CPU. */
static inline void weft__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

#endif
