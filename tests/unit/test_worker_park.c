/* SPDX-License-Identifier: MIT */
/*
 * Workers with --idle wait (datapath/worker_park.c): parking on wake-up
 * fds, and how publish, quiesce, the watchdog and stop treat a parked
 * worker.  Waits are bounded loops on counters, never timing asserts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "datapath/worker.h"

struct item {
	_Atomic uint64_t polls, arms, disarms, abandons;
	_Atomic bool work;       /* arm() reports work pending */
	_Atomic uint32_t moved;  /* poll() returns this */
	uint64_t canary;
};

#define CANARY 0x5afe5afe5afe5afeull

static uint32_t item_poll(void *ctx)
{
	struct item *it = ctx;

	assert_true(it->canary == CANARY);   /* ASan: never a freed item */
	atomic_fetch_add(&it->polls, 1);
	return atomic_load(&it->moved);
}

static bool item_arm(void *ctx, bool on)
{
	struct item *it = ctx;

	assert_true(it->canary == CANARY);
	atomic_fetch_add(on ? &it->arms : &it->disarms, 1);
	return on && atomic_load(&it->work);
}

static void item_abandon(void *ctx)
{
	atomic_fetch_add(&((struct item *)ctx)->abandons, 1);
}

static struct item *item_new(void)
{
	struct item *it = calloc(1, sizeof(*it));

	assert_non_null(it);
	it->canary = CANARY;
	return it;
}

/* A list of one item; fd < -1: no wake-up source at all (arm NULL). */
static struct wk_list *list_of(struct item *it, int fd)
{
	struct wk_list *l = wk_list_new(1);

	assert_non_null(l);
	l->items[0] = (struct wk_item){item_poll, it, item_abandon, NULL};
	if (fd >= -1)
		l->wake[0] = (struct wk_wake){item_arm, fd >= 0, {fd, -1}};
	return l;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Wait (at most 10 s) until *c > v; true when it got there. */
static bool wait_above(_Atomic uint64_t *c, uint64_t v)
{
	for (int i = 0; i < 10000; i++) {
		if (atomic_load(c) > v)
			return true;
		sleep_ms(1);
	}
	return false;
}

static bool wait_parked(struct worker *w)
{
	for (int i = 0; i < 10000; i++) {
		if (atomic_load(&w->parked))
			return true;
		sleep_ms(1);
	}
	return false;
}

static uint64_t parks_of(struct worker *w)
{
	return __atomic_load_n(&w->stats.parks, __ATOMIC_RELAXED);
}

/*
 * Parked means its passes stopped: over 50 ms in one park (parked at both
 * ends, no park counted in between) neither the epoch nor the item's polls
 * move.  The first park may end at once (the wake-up edge of the publish
 * that brought the list), and parked is set a moment before the park is
 * counted (hence the last look 20 ms on), so a window that straddles
 * either is tried again.
 */
static bool parked_quietly(struct worker *w, struct item *it)
{
	for (int i = 0; i < 20; i++) {
		if (!wait_parked(w))
			return false;
		uint64_t n = parks_of(w), e = atomic_load(&w->epoch);
		uint64_t p = atomic_load(&it->polls);
		sleep_ms(50);
		uint64_t e2 = atomic_load(&w->epoch);
		uint64_t p2 = atomic_load(&it->polls);
		sleep_ms(20);   /* a park begun before e2 is counted by now */
		if (n == 0 || !atomic_load(&w->parked) || parks_of(w) != n)
			continue;
		assert_int_equal(e2, e);
		assert_int_equal(p2, p);
		return true;
	}
	return false;
}

static int setup(void **state)
{
	(void)state;
	wk_idle_set(WK_IDLE_WAIT, 0);
	return 0;
}

static void test_quiet_worker_arms_its_items_and_parks(void **state)
{
	(void)state;
	struct worker w;
	struct item *it = item_new();
	int efd = eventfd(0, EFD_NONBLOCK);

	assert_int_equal(wk_start(&w, 0, -1), 0);
	assert_null(wk_publish(&w, list_of(it, efd)));
	assert_true(wait_parked(&w));
	assert_true(atomic_load(&it->arms) > 0);
	assert_true(parked_quietly(&w, it));
	wk_stop(&w);   /* out of the park at once */
	close(efd);
	free(it);
}

static void test_kick_wakes_a_parked_worker_and_disarms(void **state)
{
	(void)state;
	struct worker w;
	struct item *it = item_new();
	int efd = eventfd(0, EFD_NONBLOCK);

	assert_int_equal(wk_start(&w, 0, -1), 0);
	assert_null(wk_publish(&w, list_of(it, efd)));
	for (int round = 0; round < 5; round++) {
		assert_true(wait_parked(&w));
		uint64_t p = atomic_load(&it->polls);
		uint64_t d = atomic_load(&it->disarms);
		assert_int_equal(eventfd_write(efd, 1), 0);
		assert_true(wait_above(&it->polls, p));
		assert_true(atomic_load(&it->disarms) > d);
	}
	wk_stop(&w);
	close(efd);
	free(it);
}

/* The race: work that came before notifications were on. */
static void test_work_found_when_arming_prevents_the_park(void **state)
{
	(void)state;
	struct worker w;
	struct item *it = item_new();
	int efd = eventfd(0, EFD_NONBLOCK);

	atomic_store(&it->work, true);
	assert_int_equal(wk_start(&w, 0, -1), 0);
	assert_null(wk_publish(&w, list_of(it, efd)));
	assert_true(wait_above(&it->arms, 20));
	assert_int_equal(w.stats.parks, 0);
	/* Every arm was undone. */
	free(wk_publish(&w, NULL));
	assert_true(atomic_load(&it->disarms) >= atomic_load(&it->arms));
	wk_stop(&w);
	close(efd);
	free(it);
}

/* An item with no wake-up source (a NIC queue): the worker naps. */
static void test_item_without_wake_source_never_parks(void **state)
{
	(void)state;
	struct worker w;
	struct item *it = item_new();

	assert_int_equal(wk_start(&w, 0, -1), 0);
	assert_null(wk_publish(&w, list_of(it, -2)));
	while (w.stats.naps < 2000)
		sleep_ms(1);
	assert_int_equal(w.stats.parks, 0);
	assert_int_equal(atomic_load(&it->arms), 0);
	wk_stop(&w);
	free(it);
}

/* A bad wake fd (closed, not pollable): refused, the worker naps. */
static void test_unusable_wake_fd_means_no_park(void **state)
{
	(void)state;
	struct worker w;
	struct item *it = item_new();
	int efd = eventfd(0, 0);

	close(efd);   /* now a number that is not open */
	assert_int_equal(wk_start(&w, 0, -1), 0);
	struct wk_list *l = list_of(it, efd);
	assert_null(wk_publish(&w, l));
	assert_false(l->parkable);
	while (w.stats.naps < 2000)
		sleep_ms(1);
	assert_int_equal(w.stats.parks, 0);
	wk_stop(&w);
	free(it);
}

/* Publishing to a parked worker returns, wakes it onto the new list, and
 * the old list (freed at once) is never touched again. */
static void test_parked_worker_is_quiescent_and_publish_wakes_it(void **state)
{
	(void)state;
	struct worker w;
	int efd = eventfd(0, EFD_NONBLOCK);

	assert_int_equal(wk_start(&w, 0, -1), 0);
	for (int round = 0; round < 20; round++) {
		struct item *a = item_new(), *b = item_new();
		assert_null(wk_publish(&w, list_of(a, efd)));
		assert_true(wait_parked(&w));
		struct wk_list *old = wk_publish(&w, list_of(b, efd));
		assert_non_null(old);
		free(old);
		free(a);           /* ASan: a use after this is reported */
		assert_true(wait_above(&b->polls, 0));
		free(wk_publish(&w, NULL));
		free(b);
	}
	wk_stop(&w);
	close(efd);
}

/* Rapid publishes racing the worker's own park/unpark. */
static void test_publish_racing_parks_never_touches_freed_items(void **state)
{
	(void)state;
	struct worker w;
	int efd = eventfd(0, EFD_NONBLOCK);

	assert_int_equal(wk_start(&w, 0, -1), 0);
	struct item *cur = item_new();
	assert_null(wk_publish(&w, list_of(cur, efd)));
	for (int i = 0; i < 3000; i++) {
		struct item *next = item_new();
		free(wk_publish(&w, list_of(next, efd)));
		free(cur);
		cur = next;
		if (i % 7 == 0)
			(void)eventfd_write(efd, 1);
		if (i % 100 == 0)
			sleep_ms(2);   /* long enough to park now and then */
	}
	free(wk_publish(&w, NULL));
	free(cur);
	wk_stop(&w);
	close(efd);
}

/* The watchdog and quiesce never interrupt, report or abandon a parked
 * worker, however long it stays parked. */
static void test_watchdog_leaves_a_parked_worker_alone(void **state)
{
	(void)state;
	struct worker w;
	struct item *it = item_new();
	int efd = eventfd(0, EFD_NONBLOCK);

	assert_int_equal(wk_start(&w, 0, -1), 0);
	assert_null(wk_publish(&w, list_of(it, efd)));
	assert_true(wait_parked(&w));
	/* Well past WK_QUIESCE_TIMEOUT_MS, called as the control loop does. */
	for (int i = 0; i < 8; i++) {
		wk_watch(&w);
		sleep_ms(WK_INTERRUPT_MS);
	}
	assert_int_equal(wk_quiesce(&w), 0);
	assert_int_equal(atomic_load(&it->abandons), 0);
	assert_false(w.wd.said);
	wk_stop(&w);
	close(efd);
	free(it);
}

/* The device replaces its kick fd while the worker is parked (the
 * control plane closes the old one and publishes the path again with the
 * new one): the old fd's number means nothing any more, the new one
 * wakes the worker. */
static void test_kick_fd_replaced_while_parked(void **state)
{
	(void)state;
	struct worker w;
	struct item *it = item_new();
	int old_fd = eventfd(0, EFD_NONBLOCK);

	assert_int_equal(wk_start(&w, 0, -1), 0);
	assert_null(wk_publish(&w, list_of(it, old_fd)));
	assert_true(wait_parked(&w));
	close(old_fd);
	int new_fd = eventfd(0, EFD_NONBLOCK);
	free(wk_publish(&w, list_of(it, new_fd)));
	assert_true(wait_parked(&w));
	uint64_t p = atomic_load(&it->polls);
	assert_int_equal(eventfd_write(new_fd, 1), 0);
	assert_true(wait_above(&it->polls, p));
	wk_stop(&w);
	close(new_fd);
	free(it);
}

/* Nothing to poll: the worker parks on its wake fd alone. */
static void test_worker_with_no_list_parks(void **state)
{
	(void)state;
	struct worker w;

	assert_int_equal(wk_start(&w, 0, -1), 0);
	assert_true(wait_parked(&w));
	wk_stop(&w);
}

/* Busy: the fast path never naps nor parks. */
static void test_busy_worker_never_naps(void **state)
{
	(void)state;
	struct worker w;
	struct item *it = item_new();
	int efd = eventfd(0, EFD_NONBLOCK);

	atomic_store(&it->moved, 32);
	assert_int_equal(wk_start(&w, 0, -1), 0);
	assert_null(wk_publish(&w, list_of(it, efd)));
	/* Before its list came it had nothing to do: count from here. */
	assert_true(wait_above(&it->polls, 1000));
	uint64_t naps = w.stats.naps, parks = w.stats.parks;
	uint64_t p = atomic_load(&it->polls);
	assert_true(wait_above(&it->polls, p + 100000));
	assert_int_equal(w.stats.naps, naps);
	assert_int_equal(w.stats.parks, parks);
	assert_int_equal(atomic_load(&it->arms), 0);
	wk_stop(&w);
	close(efd);
	free(it);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quiet_worker_arms_its_items_and_parks),
		cmocka_unit_test(test_kick_wakes_a_parked_worker_and_disarms),
		cmocka_unit_test(test_work_found_when_arming_prevents_the_park),
		cmocka_unit_test(test_item_without_wake_source_never_parks),
		cmocka_unit_test(test_unusable_wake_fd_means_no_park),
		cmocka_unit_test(test_parked_worker_is_quiescent_and_publish_wakes_it),
		cmocka_unit_test(test_publish_racing_parks_never_touches_freed_items),
		cmocka_unit_test(test_watchdog_leaves_a_parked_worker_alone),
		cmocka_unit_test(test_kick_fd_replaced_while_parked),
		cmocka_unit_test(test_worker_with_no_list_parks),
		cmocka_unit_test(test_busy_worker_never_naps),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
