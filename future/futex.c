#include "future/futex.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "future/tsan.h"
#include "weft.h"

#ifdef WEFT_TSAN
_Atomic unsigned weft__tsan_fence_word;
#endif

int weft__futex_wait(_Atomic uint32_t *word, uint32_t expected,
		     int64_t deadline_ns)
{
	struct timespec ts, *tsp = NULL;
	if (deadline_ns >= 0) {
		ts.tv_sec = deadline_ns / 1000000000;
		ts.tv_nsec = deadline_ns % 1000000000;
		tsp = &ts;
	}
	/* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so a
	 * retry after EINTR or a spurious wake keeps the same deadline. */
	long r = syscall(SYS_futex, (void *)(uintptr_t)word,
			 FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, expected, tsp,
			 NULL, FUTEX_BITSET_MATCH_ANY);
	if (r == 0)
		return 0;
	switch (errno) {
	case EAGAIN:
	case EINTR:
	case ETIMEDOUT:
		return -errno;
	default:
		/* EINVAL (a deadline already normalised) or EFAULT cannot
		 * happen with the words weft passes; report a spurious wake
		 * and let the caller re-check. */
		return 0;
	}
}

int weft__futex_wake(_Atomic uint32_t *word, int n)
{
	/* Private futexes are keyed by address only: a wake on a word whose
	 * object was just freed at most causes a spurious wake elsewhere.
	 * weft still keeps a reference across every wake. */
	long woken = syscall(SYS_futex, (void *)(uintptr_t)word,
			     FUTEX_WAKE | FUTEX_PRIVATE_FLAG, n, NULL, NULL, 0);
	return woken > 0 ? (int)woken : 0;
}

void weft__futex_wake_consumers(_Atomic uint32_t *word)
{
	if (weft__futex_wake(word, INT_MAX) > 0)
		sched_yield();
}

int64_t weft__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void weft__spin_start(struct weft__spin *s, int64_t until, int64_t first_ns,
		      int64_t every_ns)
{
	s->now = weft__now_ns();
	s->until = until;
	s->next_yield = s->now + first_ns;
	s->every = every_ns;
}

bool weft__spin_yield_due(struct weft__spin *s)
{
	for (int i = 0; i < 16; i++)
		weft__cpu_relax();
	s->now = weft__now_ns();
	return s->now >= s->next_yield;
}

void weft__spin_yield(struct weft__spin *s)
{
	sched_yield();
	s->now = weft__now_ns();
	s->next_yield = s->now + s->every;
}

bool weft__spin_again(struct weft__spin *s)
{
	if (weft__spin_yield_due(s))
		weft__spin_yield(s);
	return weft__spin_before_deadline(s);
}

int64_t weft__deadline(int64_t timeout_ns)
{
	if (timeout_ns < 0)
		return -1;
	int64_t now = weft__now_ns();
	if (timeout_ns > INT64_MAX - now)
		return -1;
	return now + timeout_ns;
}
