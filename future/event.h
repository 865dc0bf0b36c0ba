/*
 * An event: a futex word that lets a thread wait, without polling, for a
 * condition that other threads make true (an item in a queue, space in a
 * pipeline, a future in an as_completed set).
 *
 * READ this first. word = 2 * signals | SLEEPING.
 *   A signaller makes the condition true, then (E1) adds 2 with release,
 *   and wakes every sleeper only if SLEEPING was set.
 *   A waiter (E2) loads word with acquire, checks the condition, sets
 *   SLEEPING with a CAS on the value it loaded, and sleeps while word
 *   still holds that value. A signal that lands after the load makes the
 *   CAS or the futex wait fail, so the waiter re-checks: no lost wake-up.
 */
#ifndef WEFT_EVENT_H
#define WEFT_EVENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct weft__event {
	/* Written by signallers (fetch_add, fetch_and) and waiters (CAS);
	 * read by waiters and the futex. */
	_Atomic uint32_t word;
};

static inline void weft__event_init(struct weft__event *ev)
{
	/* relaxed: the event is not shared yet. */
	atomic_init(&ev->word, 0);
}

/* After making the condition true. Any thread. */
void weft__event_signal(struct weft__event *ev);

/* Waits until ready(ctx) is true or the CLOCK_MONOTONIC deadline (ns,
 * < 0: none) passes: 0 or -ETIMEDOUT. On a worker it runs other tasks
 * while it waits. */
int weft__event_wait(struct weft__event *ev, bool (*ready)(void *ctx),
		     void *ctx, int64_t deadline_ns);

#endif
