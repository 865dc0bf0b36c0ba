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
		weft__futex_wake_consumers(&ev->word);
	}
}

/* Spins while the word still holds v (no signal since), until `until`. */
static void spin_on(struct weft__event *ev, uint32_t v, int64_t until)
{
	struct weft__spin spin;
	weft__spin_start(&spin, until, WEFT__SPIN_YIELD_NS,
			 WEFT__SPIN_YIELD_NS);
	/* relaxed: a change only sends the caller back to (E2). */
	while ((atomic_load_explicit(&ev->word, memory_order_relaxed) |
		SLEEPING) == (v | SLEEPING) &&
	       weft__spin_again(&spin))
		;
}

int weft__event_wait(struct weft__event *ev, bool (*ready)(void *ctx),
		     void *ctx, int64_t deadline_ns)
{
	int64_t spin_until = -1;
	for (;;) {
		/* (E2) acquire: pairs with (E1); the condition is read
		 * after it. */
		uint32_t v = atomic_load_explicit(&ev->word,
						  memory_order_acquire);
		if (ready(ctx))
			return 0;
		if (weft__help_once())
			continue;
		int64_t now = weft__now_ns();
		if (deadline_ns >= 0 && now >= deadline_ns)
			return -ETIMEDOUT;
		/* Workers help (above) instead of spinning. */
		if (spin_until < 0 && !weft__on_worker())
			spin_until = now + WEFT__EXTERNAL_SPIN_NS;
		if (now < spin_until) {
			spin_on(ev, v, deadline_ns >= 0 &&
					       deadline_ns < spin_until ?
				       deadline_ns : spin_until);
			continue;
		}
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
