/*
 * Unit tests for the Chase-Lev deque, one thread: the sequential contract
 * (owner LIFO, thieves FIFO, growth, empty cases, bad arguments) and random
 * operation sequences checked against a reference model. The concurrent
 * behaviour is covered by tests/stress/deque_*.c.
 *
 * Every test must free what it allocated: under AddressSanitizer the
 * suite's fini runs a leak check after each test (tests/runtime/unit.h).
 */
#include "deque/deque.h"

#include <errno.h>
#include <stdint.h>

#include <criterion/criterion.h>
#include <urcu/urcu-qsbr.h>

#include "../runtime/unit.h"  /* unit_leak_check only */
#include "../stress/stress.h" /* struct stress_rng only (header inline) */

TestSuite(deque, .fini = unit_leak_check);

/* Item i is the pointer value i + 1, so no item is NULL. */
static void *item(uint64_t i)
{
	return (void *)(uintptr_t)(i + 1);
}

static uint64_t seq_of(void *x)
{
	return (uint64_t)(uintptr_t)x - 1;
}

/* The tests read the deque's fields directly. */
static int64_t top_of(struct weft__deque *d)
{
	/* relaxed: one thread. */
	return atomic_load_explicit(&d->top, memory_order_relaxed);
}

static int64_t bottom_of(struct weft__deque *d)
{
	/* relaxed: one thread. */
	return atomic_load_explicit(&d->bottom, memory_order_relaxed);
}

static int64_t cap_of(struct weft__deque *d)
{
	/* relaxed: one thread. */
	return atomic_load_explicit(&d->buf, memory_order_relaxed)->mask + 1;
}

static void init_ok(struct weft__deque *d, int64_t capacity)
{
	int err = weft__deque_init(d, capacity, WEFT__RECLAIM_AT_DESTROY);

	cr_assert_eq(err, 0, "init(%lld): %d", (long long)capacity, err);
}

static void push_ok(struct weft__deque *d, uint64_t i)
{
	int err = weft__deque_push(d, item(i));

	cr_assert_eq(err, 0, "push(%llu): %d", (unsigned long long)i, err);
}

static uint64_t steal_ok(struct weft__deque *d)
{
	void *x = NULL;
	enum weft__steal_result res = weft__deque_steal(d, &x);

	cr_assert_eq(res, WEFT__STEAL_OK, "steal: %d", (int)res);
	cr_assert_not_null(x);
	return seq_of(x);
}

static uint64_t take_ok(struct weft__deque *d)
{
	void *x = weft__deque_take(d);

	cr_assert_not_null(x, "take returned NULL");
	return seq_of(x);
}

static void assert_empty(struct weft__deque *d)
{
	void *x = item(12345);

	cr_assert_eq(weft__deque_size(d), 0);
	cr_assert_eq(weft__deque_steal(d, &x), WEFT__STEAL_EMPTY);
	cr_assert_eq(x, item(12345), "an empty steal wrote *out");
	cr_assert_null(weft__deque_take(d));
	cr_assert_eq(weft__deque_size(d), 0);
}

Test(deque, init_rounds_capacity_up)
{
	static const int64_t in[] = {1, 2, 3, 4, 5, 1000, 1024, 1025};
	static const int64_t out[] = {2, 2, 4, 4, 8, 1024, 1024, 2048};
	struct weft__deque d;

	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		init_ok(&d, in[i]);
		cr_expect_eq(cap_of(&d), out[i], "capacity %lld -> %lld",
			     (long long)in[i], (long long)cap_of(&d));
		cr_expect_eq(top_of(&d), 0);
		cr_expect_eq(bottom_of(&d), 0);
		weft__deque_destroy(&d);
	}
}

Test(deque, init_bad_arguments)
{
	struct weft__deque d;

	cr_expect_eq(weft__deque_init(NULL, 16, WEFT__RECLAIM_AT_DESTROY),
		     -EINVAL);
	cr_expect_eq(weft__deque_init(&d, 0, WEFT__RECLAIM_AT_DESTROY),
		     -EINVAL);
	cr_expect_eq(weft__deque_init(&d, -1, WEFT__RECLAIM_AT_DESTROY),
		     -EINVAL);
	cr_expect_eq(weft__deque_init(&d, INT64_MIN, WEFT__RECLAIM_QSBR),
		     -EINVAL);
	cr_expect_eq(weft__deque_init(&d, (INT64_C(1) << 40) + 1,
				      WEFT__RECLAIM_AT_DESTROY), -EINVAL);
	cr_expect_eq(weft__deque_init(&d, INT64_MAX, WEFT__RECLAIM_AT_DESTROY),
		     -EINVAL);
	cr_expect_eq(weft__deque_init(&d, 16, (enum weft__deque_reclaim)2),
		     -EINVAL);
	cr_expect_eq(weft__deque_init(&d, 16, (enum weft__deque_reclaim)-1),
		     -EINVAL);
}

Test(deque, destroy_null_is_a_no_op)
{
	weft__deque_destroy(NULL);
}

Test(deque, take_on_fresh_deque)
{
	struct weft__deque d;

	init_ok(&d, 2);
	for (int i = 0; i < 3; i++) {
		cr_assert_null(weft__deque_take(&d));
		/* The paper's size_t indices would leave bottom at SIZE_MAX
		 * here (reliability.md §1, pitfall 3). */
		cr_assert_eq(bottom_of(&d), 0, "bottom = %lld",
			     (long long)bottom_of(&d));
		cr_assert_eq(top_of(&d), 0);
		cr_assert_eq(weft__deque_size(&d), 0);
	}
	/* Still usable afterwards. */
	push_ok(&d, 7);
	cr_assert_eq(take_ok(&d), 7);
	assert_empty(&d);
	weft__deque_destroy(&d);
}

Test(deque, steal_on_empty_deque)
{
	struct weft__deque d;

	init_ok(&d, 4);
	assert_empty(&d);
	push_ok(&d, 1);
	cr_assert_eq(take_ok(&d), 1);
	assert_empty(&d);
	/* The last-element take moved top and restored bottom. */
	cr_assert_eq(top_of(&d), 1);
	cr_assert_eq(bottom_of(&d), 1);
	push_ok(&d, 2);
	cr_assert_eq(steal_ok(&d), 2);
	assert_empty(&d);
	cr_assert_eq(top_of(&d), 2);
	cr_assert_eq(bottom_of(&d), 2);
	weft__deque_destroy(&d);
}

Test(deque, owner_is_lifo)
{
	struct weft__deque d;

	init_ok(&d, 128);
	for (uint64_t i = 0; i < 100; i++)
		push_ok(&d, i);
	cr_assert_eq(weft__deque_size(&d), 100);
	for (uint64_t i = 100; i-- > 0;)
		cr_assert_eq(take_ok(&d), i);
	assert_empty(&d);
	weft__deque_destroy(&d);
}

Test(deque, thieves_are_fifo)
{
	struct weft__deque d;

	init_ok(&d, 128);
	for (uint64_t i = 0; i < 100; i++)
		push_ok(&d, i);
	for (uint64_t i = 0; i < 100; i++) {
		cr_assert_eq(steal_ok(&d), i);
		cr_assert_eq(weft__deque_size(&d), (int64_t)(99 - i));
	}
	assert_empty(&d);
	weft__deque_destroy(&d);
}

Test(deque, last_element_by_take_then_steal)
{
	struct weft__deque d;

	init_ok(&d, 2);
	push_ok(&d, 0);
	push_ok(&d, 1);
	cr_assert_eq(steal_ok(&d), 0);
	/* top == bottom - 1: take goes through the CAS path and must
	 * restore bottom afterwards. */
	cr_assert_eq(take_ok(&d), 1);
	cr_assert_eq(top_of(&d), 2);
	cr_assert_eq(bottom_of(&d), 2);
	assert_empty(&d);
	weft__deque_destroy(&d);
}

#define GROW_N 5000

Test(deque, grows_from_2_and_keeps_order_for_take)
{
	struct weft__deque d;

	init_ok(&d, 2);
	for (uint64_t i = 0; i < GROW_N; i++) {
		push_ok(&d, i);
		cr_assert_geq(cap_of(&d), (int64_t)i + 1);
	}
	cr_assert_eq(cap_of(&d), 8192);
	cr_assert_eq(weft__deque_size(&d), GROW_N);
	for (uint64_t i = GROW_N; i-- > 0;)
		cr_assert_eq(take_ok(&d), i);
	assert_empty(&d);
	weft__deque_destroy(&d);
}

Test(deque, grows_from_2_and_keeps_order_for_steal)
{
	struct weft__deque d;

	init_ok(&d, 2);
	for (uint64_t i = 0; i < GROW_N; i++)
		push_ok(&d, i);
	cr_assert_eq(cap_of(&d), 8192);
	for (uint64_t i = 0; i < GROW_N; i++)
		cr_assert_eq(steal_ok(&d), i);
	assert_empty(&d);
	weft__deque_destroy(&d);
}

/* Growth while top is not a multiple of the capacity: the live range wraps
 * around the old buffer and must land at the same indices in the new one. */
Test(deque, grows_with_wrapped_live_range)
{
	struct weft__deque d;
	uint64_t next_steal = 0, n = 0;

	init_ok(&d, 2);
	for (int round = 0; round < 12; round++) {
		for (int k = 0; k < 3 + round * 100; k++)
			push_ok(&d, n++);
		for (int k = 0; k < 1 + round * 37; k++)
			cr_assert_eq(steal_ok(&d), next_steal++);
	}
	for (uint64_t i = n; i-- > next_steal;)
		cr_assert_eq(take_ok(&d), i);
	assert_empty(&d);
	weft__deque_destroy(&d);
}

/* WEFT__RECLAIM_QSBR: retired buffers go to call_rcu; the caller must be a
 * registered QSBR thread. */
Test(deque, grows_in_qsbr_mode)
{
	struct weft__deque d;

	urcu_qsbr_register_thread();
	cr_assert_eq(weft__deque_init(&d, 2, WEFT__RECLAIM_QSBR), 0);
	for (uint64_t i = 0; i < GROW_N; i++)
		push_ok(&d, i);
	cr_assert_eq(cap_of(&d), 8192);
	cr_assert_null(d.retired, "QSBR mode kept a retired buffer");
	for (uint64_t i = 0; i < GROW_N / 2; i++)
		cr_assert_eq(steal_ok(&d), i);
	for (uint64_t i = GROW_N; i-- > GROW_N / 2;)
		cr_assert_eq(take_ok(&d), i);
	assert_empty(&d);
	urcu_qsbr_unregister_thread();
	urcu_qsbr_barrier();
	weft__deque_destroy(&d);
}

Test(deque, size_estimate)
{
	struct weft__deque d;

	init_ok(&d, 2);
	cr_assert_eq(weft__deque_size(&d), 0);
	for (uint64_t i = 0; i < 10; i++) {
		push_ok(&d, i);
		cr_assert_eq(weft__deque_size(&d), (int64_t)i + 1);
	}
	steal_ok(&d);
	steal_ok(&d);
	cr_assert_eq(weft__deque_size(&d), 8);
	take_ok(&d);
	cr_assert_eq(weft__deque_size(&d), 7);
	while (weft__deque_take(&d))
		;
	cr_assert_eq(weft__deque_size(&d), 0);
	cr_assert_null(weft__deque_take(&d));
	cr_assert_eq(weft__deque_size(&d), 0);
	weft__deque_destroy(&d);
}

/*
 * Reference model: the items in the deque, top first, in model[head, tail).
 * Runs a seeded random mix of push, take and steal from one thread, with
 * the push probability changing every 256 operations so the deque both
 * grows and empties, and checks every result and the size.
 */
#define MODEL_OPS 20000

static void run_model(struct weft__deque *d, uint64_t seed)
{
	static uint64_t model[MODEL_OPS];
	size_t head = 0, tail = 0;
	uint64_t next = 0;
	unsigned push_pct = 50;
	struct stress_rng rng;

	stress_rng_init(&rng, seed, 0);
	for (int op = 0; op < MODEL_OPS; op++) {
		if (op % 256 == 0)
			push_pct = 20 + (unsigned)stress_rng_below(&rng, 61);
		unsigned dice = (unsigned)stress_rng_below(&rng, 100);
		if (dice < push_pct) {
			push_ok(d, next);
			model[tail++] = next++;
		} else if (dice % 2) {
			void *x = weft__deque_take(d);
			if (head == tail) {
				cr_assert_null(x, "seed %llu op %d: take",
					       (unsigned long long)seed, op);
			} else {
				cr_assert_eq(x, item(model[--tail]),
					     "seed %llu op %d: take",
					     (unsigned long long)seed, op);
			}
		} else {
			void *x = NULL;
			enum weft__steal_result res = weft__deque_steal(d, &x);
			if (head == tail) {
				cr_assert_eq(res, WEFT__STEAL_EMPTY,
					     "seed %llu op %d: steal",
					     (unsigned long long)seed, op);
			} else {
				cr_assert_eq(res, WEFT__STEAL_OK);
				cr_assert_eq(x, item(model[head++]),
					     "seed %llu op %d: steal",
					     (unsigned long long)seed, op);
			}
		}
		cr_assert_eq(weft__deque_size(d), (int64_t)(tail - head),
			     "seed %llu op %d: size",
			     (unsigned long long)seed, op);
	}
}

Test(deque, random_ops_match_model)
{
	for (uint64_t seed = 1; seed <= 20; seed++) {
		struct weft__deque d;

		init_ok(&d, 2);
		run_model(&d, seed);
		weft__deque_destroy(&d);
	}
}

/* The same sequences starting from large indices (the test sets top and
 * bottom directly): index arithmetic must not depend on 32-bit wrap or on
 * the indices' distance from 0. */
Test(deque, random_ops_match_model_at_large_indices)
{
	static const int64_t base[] = {
		(INT64_C(1) << 31) - 8, (INT64_C(1) << 32) - 8,
		INT64_C(1) << 62,
	};

	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++) {
		struct weft__deque d;

		init_ok(&d, 2);
		/* relaxed: the deque is not shared. */
		atomic_store_explicit(&d.top, base[i], memory_order_relaxed);
		/* relaxed: as above. */
		atomic_store_explicit(&d.bottom, base[i], memory_order_relaxed);
		assert_empty(&d);
		run_model(&d, 100 + i);
		cr_assert_geq(top_of(&d), base[i]);
		weft__deque_destroy(&d);
	}
}
