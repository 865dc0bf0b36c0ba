#include "future/event.h"

#include <errno.h>
#include <limits.h>

#include "future/future.h"
#include "future/futex.h"

#define SLEEPING 1u

void weft__event_signal(struct weft__event *ev)
{
	/* (E1) release: publishes the condition the caller made true; pairs
	 * with (E2). */
	uint32_t old = atomic_fetch_add_explicit(&ev->word, 2,
						 memory_order_release);
	if (old & SLEEPING) {
		/* relaxed: a sleeper that sets the bit again afterwards sees
		 * the word change and re-checks. */
		atomic_fetch_and_explicit(&ev->word, ~SLEEPING,
					  memory_order_relaxed);
		weft__futex_wake(&ev->word, INT_MAX);
	}
}

int weft__event_wait(struct weft__event *ev, bool (*ready)(void *ctx),
		     void *ctx, int64_t deadline_ns)
{
	for (;;) {
		/* (E2) acquire: pairs with (E1); the condition is read
		 * after it. */
		uint32_t v = atomic_load_explicit(&ev->word,
						  memory_order_acquire);
		if (ready(ctx))
			return 0;
		if (weft__help_once())
			continue;
		if (deadline_ns >= 0 && weft__now_ns() >= deadline_ns)
			return -ETIMEDOUT;
		/* relaxed: the CAS only announces the sleeper; a failure
		 * means a signal came, and the loop re-checks with (E2). */
		if (!(v & SLEEPING) &&
		    !atomic_compare_exchange_strong_explicit(
			    &ev->word, &v, v | SLEEPING, memory_order_relaxed,
			    memory_order_relaxed))
			continue;
		weft__block(&ev->word, v | SLEEPING, deadline_ns);
	}
}
