/* SPDX-License-Identifier: MIT */
/* Worker threads and the publish/quiesce hand-off (datapath/worker.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "datapath/worker.h"

struct counter {
	_Atomic uint64_t polls;
	uint64_t canary;
};

#define CANARY 0x5afe5afe5afe5afeull

static uint32_t count_poll(void *ctx)
{
	struct counter *c = ctx;

	/* Under ASan a pass over a freed context is reported here. */
	assert_true(c->canary == CANARY);
	atomic_fetch_add_explicit(&c->polls, 1, memory_order_relaxed);
	return 1;
}

static struct wk_list *one_item_list(struct counter *c)
{
	struct wk_list *l = wk_list_new(1);

	assert_non_null(l);
	l->items[0] = (struct wk_item){count_poll, c, NULL, NULL};
	return l;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {0, ms * 1000000L};
	nanosleep(&ts, NULL);
}

static void test_published_list_is_polled(void **state)
{
	(void)state;
	struct worker w;
	struct counter c = {.canary = CANARY};

	assert_int_equal(wk_start(&w, 0, -1), 0);
	assert_null(wk_publish(&w, one_item_list(&c)));
	sleep_ms(20);
	assert_true(atomic_load(&c.polls) > 0);
	assert_true(w.stats.packets > 0 || atomic_load(&c.polls) > 0);
	wk_stop(&w); /* frees the published list */
}

static uint32_t three_poll(void *ctx)
{
	atomic_fetch_add_explicit(&((struct counter *)ctx)->polls, 1,
				  memory_order_relaxed);
	return 3;
}

static uint32_t idle_poll(void *ctx)
{
	atomic_fetch_add_explicit(&((struct counter *)ctx)->polls, 1,
				  memory_order_relaxed);
	return 0;
}

/* Per-item counters: an item that moves packets gets them, the cycles of
 * its polls and the TSC of its first such poll; one that moves none gets
 * nothing; the worker's busy cycles cover the items', and a pass that
 * moved nothing counts as idle. */
static void test_item_counts_its_own_packets_and_cycles(void **state)
{
	(void)state;
	struct worker w;
	struct counter busy = {.canary = CANARY}, idle = {.canary = CANARY};
	struct wk_item_stats bs = {0}, is = {0};
	struct wk_list *l = wk_list_new(2);

	assert_non_null(l);
	l->items[0] = (struct wk_item){idle_poll, &idle, NULL, &is};
	l->items[1] = (struct wk_item){three_poll, &busy, NULL, &bs};
	assert_int_equal(wk_start(&w, 0, -1), 0);
	uint64_t t0 = wk_cycles();
	assert_null(wk_publish(&w, l));
	/* The worker sets first before it adds the packets (the same
	 * thread's stores, in order on every CPU this test runs on). */
	while (!__atomic_load_n(&bs.packets, __ATOMIC_ACQUIRE))
		sleep_ms(1);
	uint64_t t1 = wk_cycles();
	while (atomic_load(&busy.polls) < 1000)
		sleep_ms(1);
	wk_stop(&w);   /* joined: every counter below is final */
	uint64_t polls = atomic_load(&busy.polls);
	assert_int_equal(bs.packets, 3 * polls);
	assert_true(bs.cycles > 0);
	/* The first moving poll, not a later one (nor the last). */
	assert_in_range(bs.first, t0, t1);
	assert_int_equal(is.packets, 0);
	assert_int_equal(is.cycles, 0);
	assert_int_equal(is.first, 0);
	assert_int_equal(w.stats.packets, bs.packets);
	assert_true(w.stats.busy_cycles >= bs.cycles);
	/* Passes over the empty list before the publish were idle. */
	assert_true(w.stats.passes >= polls);
}

static void test_pass_that_moves_nothing_is_idle(void **state)
{
	(void)state;
	struct worker w;
	struct counter idle = {.canary = CANARY};
	struct wk_item_stats is = {0};
	struct wk_list *l = wk_list_new(1);

	assert_non_null(l);
	l->items[0] = (struct wk_item){idle_poll, &idle, NULL, &is};
	assert_int_equal(wk_start(&w, 0, -1), 0);
	assert_null(wk_publish(&w, l));
	while (atomic_load(&idle.polls) < 1000)
		sleep_ms(1);
	free(wk_publish(&w, NULL));   /* an empty list is idle too */
	uint64_t idle0 = __atomic_load_n(&w.stats.idle_cycles, __ATOMIC_RELAXED);
	uint64_t passes0 = __atomic_load_n(&w.stats.passes, __ATOMIC_RELAXED);
	while (__atomic_load_n(&w.stats.passes, __ATOMIC_RELAXED) <
	       passes0 + 1000)
		sleep_ms(1);
	wk_stop(&w);
	assert_int_equal(w.stats.packets, 0);
	assert_int_equal(w.stats.busy_cycles, 0);
	assert_true(w.stats.idle_cycles > idle0);
	assert_int_equal(is.cycles, 0);
	assert_int_equal(is.packets, 0);
}

static void test_old_list_is_unused_once_publish_returns(void **state)
{
	(void)state;
	struct worker w;
	struct counter *c = calloc(1, sizeof(*c));

	c->canary = CANARY;
	assert_int_equal(wk_start(&w, 0, -1), 0);
	wk_publish(&w, one_item_list(c));
	sleep_ms(5);
	free(wk_publish(&w, NULL));
	uint64_t n = atomic_load(&c->polls);
	sleep_ms(20);
	assert_int_equal(atomic_load(&c->polls), n);
	free(c);
	wk_stop(&w);
}

/* Many hand-offs, each freeing the old list and its context at once: a
 * single pass over freed memory would trip the canary or ASan. */
static void test_rapid_handoffs_never_touch_freed_state(void **state)
{
	(void)state;
	struct worker w;

	assert_int_equal(wk_start(&w, 0, -1), 0);
	struct counter *prev = NULL;
	for (int i = 0; i < 2000; i++) {
		struct counter *c = calloc(1, sizeof(*c));
		c->canary = CANARY;
		free(wk_publish(&w, one_item_list(c)));
		if (prev) {
			prev->canary = 0;
			free(prev);
		}
		prev = c;
	}
	free(wk_publish(&w, NULL));
	free(prev);
	wk_stop(&w);
}

static void test_publish_to_stopped_worker_returns_at_once(void **state)
{
	(void)state;
	struct worker w = {0};
	struct counter c = {.canary = CANARY};

	atomic_init(&w.list, NULL);
	assert_null(wk_publish(&w, one_item_list(&c)));
	free(wk_publish(&w, NULL));
	assert_int_equal(atomic_load(&c.polls), 0);
}

/* A poll that never ends on its own: it waits for its abandon flag, as a
 * poll function stuck in a long burst would reach its next check. */
struct hog {
	_Atomic bool armed, entered, abandoned, inside;
	uint64_t canary;
};

static uint32_t hog_poll(void *ctx)
{
	struct hog *h = ctx;
	struct timespec ts = {0, 100000};

	assert_true(h->canary == CANARY);
	if (!atomic_load(&h->armed))
		return 0;
	atomic_store(&h->inside, true);
	atomic_store(&h->entered, true);
	while (!atomic_load(&h->abandoned))
		nanosleep(&ts, NULL);
	nanosleep(&ts, NULL);   /* the rest of the burst, after the check */
	assert_true(h->canary == CANARY);
	atomic_store(&h->inside, false);
	return 0;
}

static void hog_abandon(void *ctx)
{
	struct hog *h = ctx;

	atomic_store(&h->abandoned, true);
}

static void start_hog(struct worker *w, struct hog *h, struct counter *c)
{
	struct wk_list *l = wk_list_new(2);
	struct timespec ts = {0, 100000};

	assert_non_null(l);
	l->items[0] = (struct wk_item){count_poll, c, NULL, NULL};
	l->items[1] = (struct wk_item){hog_poll, h, hog_abandon, NULL};
	assert_int_equal(wk_start(w, 0, -1), 0);
	assert_null(wk_publish(w, l));
	atomic_store(&h->armed, true);
	while (!atomic_load(&h->entered))
		nanosleep(&ts, NULL);
}

/* A worker stuck in one item: the wait ends with -ETIMEDOUT, and that item,
 * not its neighbour, was told to give up. */
static void test_quiesce_times_out_and_abandons_the_item_in_progress(
	void **state)
{
	(void)state;
	struct worker w;
	struct hog h = {.canary = CANARY};
	struct counter c = {.canary = CANARY};

	start_hog(&w, &h, &c);
	assert_int_equal(wk_quiesce(&w), -ETIMEDOUT);
	assert_true(atomic_load(&h.abandoned));
	wk_settle(&w);
	assert_int_equal(wk_quiesce(&w), 0);   /* it gave up: passes again */
	wk_stop(&w);
}

/* publish over a stuck item returns the old list only once the worker
 * has left it: the list and the item's context can be freed at once. */
static void test_publish_returns_the_old_list_only_after_the_abandoned_item(
	void **state)
{
	(void)state;
	struct worker w;
	struct hog *h = calloc(1, sizeof(*h));
	struct counter c = {.canary = CANARY};

	assert_non_null(h);
	h->canary = CANARY;
	start_hog(&w, h, &c);
	free(wk_publish(&w, one_item_list(&c)));
	assert_true(atomic_load(&h->abandoned));
	assert_false(atomic_load(&h->inside));
	h->canary = 0;
	free(h);
	assert_int_equal(wk_quiesce(&w), 0);
	wk_stop(&w);
}

/* ---- the watchdog (wk_watch) -------------------------------------------- */

/* Call the watchdog every 10 ms until *flag is set. */
static void watch_until(struct worker *w, _Atomic bool *flag)
{
	while (!atomic_load(flag)) {
		wk_watch(w);
		sleep_ms(10);
	}
}

/* One write to an eventfd a front-end made blocking and full. */
struct sleeper {
	_Atomic bool armed, entered, returned;
	int fd, err;
};

static uint32_t sleeper_poll(void *ctx)
{
	struct sleeper *s = ctx;

	if (!atomic_load(&s->armed) || atomic_load(&s->returned))
		return 0;
	atomic_store(&s->entered, true);
	if (write(s->fd, &(uint64_t){1}, sizeof(uint64_t)) < 0)
		s->err = errno;
	atomic_store(&s->returned, true);
	return 0;
}

/* No control request waits for the worker: the watchdog alone gets it
 * out of the write (EINTR), and its neighbour is polled again. */
static void test_watchdog_interrupts_a_worker_asleep_in_a_system_call(
	void **state)
{
	(void)state;
	struct worker w;
	struct counter c = {.canary = CANARY};
	struct sleeper s = {.fd = eventfd(0, EFD_CLOEXEC)};
	struct wk_list *l = wk_list_new(2);

	assert_true(s.fd >= 0 && l != NULL);
	assert_int_equal(write(s.fd, &(uint64_t){0xfffffffffffffffeull},
			       sizeof(uint64_t)), sizeof(uint64_t));
	l->items[0] = (struct wk_item){count_poll, &c, NULL, NULL};
	l->items[1] = (struct wk_item){sleeper_poll, &s, NULL, NULL};
	assert_int_equal(wk_start(&w, 0, -1), 0);
	assert_null(wk_publish(&w, l));
	atomic_store(&s.armed, true);
	while (!atomic_load(&s.entered))
		sleep_ms(1);
	watch_until(&w, &s.returned);
	assert_int_equal(s.err, EINTR);
	uint64_t n = atomic_load(&c.polls);
	assert_int_equal(wk_quiesce(&w), 0);
	assert_int_equal(wk_quiesce(&w), 0);
	assert_true(atomic_load(&c.polls) > n);
	wk_stop(&w);
	close(s.fd);
}

/* A hog that spins (uses its CPU) until told to stop. */
static uint32_t spin_poll(void *ctx)
{
	struct hog *h = ctx;

	if (!atomic_load(&h->armed))
		return 0;
	atomic_store(&h->entered, true);
	while (!atomic_load(&h->abandoned))
		;
	return 0;
}

static void test_watchdog_abandons_an_item_that_spins(void **state)
{
	(void)state;
	struct worker w;
	struct hog h = {.canary = CANARY};
	struct wk_list *l = wk_list_new(1);

	assert_non_null(l);
	l->items[0] = (struct wk_item){spin_poll, &h, hog_abandon, NULL};
	assert_int_equal(wk_start(&w, 0, -1), 0);
	assert_null(wk_publish(&w, l));
	atomic_store(&h.armed, true);
	while (!atomic_load(&h.entered))
		sleep_ms(1);
	watch_until(&w, &h.abandoned);
	wk_settle(&w);
	wk_stop(&w);
}

/* hog_poll sleeps, as a worker the host does not run: it uses no CPU
 * time, so the watchdog interrupts it (its nanosleep returns early and
 * it sleeps again) but never abandons it, however long it waits. */
static void test_watchdog_never_abandons_a_worker_that_does_not_run(
	void **state)
{
	(void)state;
	struct worker w;
	struct hog h = {.canary = CANARY};
	struct counter c = {.canary = CANARY};

	start_hog(&w, &h, &c);
	for (int i = 0; i < 4 * WK_QUIESCE_TIMEOUT_MS / 10; i++) {
		wk_watch(&w);
		sleep_ms(10);
	}
	assert_false(atomic_load(&h.abandoned));
	assert_true(atomic_load(&h.inside));
	atomic_store(&h.abandoned, true);   /* let it go */
	wk_settle(&w);
	wk_stop(&w);
}

/* What the hooks saw: which thread, and in what order. */
struct hook_log {
	pthread_t started_in, stopped_in;
	uint64_t polls_at_start, polls_at_stop;
	struct counter *c;
	int calls;
};

static void hook_start(void *arg)
{
	struct hook_log *h = arg;

	h->started_in = pthread_self();
	sleep_ms(10);   /* a pass running alongside would poll meanwhile */
	h->polls_at_start = atomic_load(&h->c->polls);
	h->calls++;
}

static void hook_stop(void *arg)
{
	struct hook_log *h = arg;

	h->stopped_in = pthread_self();
	h->polls_at_stop = atomic_load(&h->c->polls);
	h->calls++;
}

/* start runs in the worker before its first pass, stop after its last. */
static void test_hooks_run_in_the_worker_around_its_passes(void **state)
{
	(void)state;
	struct worker w;
	struct counter c = {.canary = CANARY};
	struct hook_log h = {.c = &c};

	assert_int_equal(wk_hook_add(hook_start, hook_stop, &h), 0);
	assert_int_equal(wk_start(&w, 0, -1), 0);
	assert_null(wk_publish(&w, one_item_list(&c)));
	sleep_ms(20);
	pthread_t tid = w.thread;
	wk_stop(&w);
	wk_hook_remove(hook_start, hook_stop, &h);
	assert_int_equal(h.calls, 2);
	assert_true(pthread_equal(h.started_in, tid));
	assert_true(pthread_equal(h.stopped_in, tid));
	assert_int_equal(h.polls_at_start, 0);
	assert_true(h.polls_at_stop > 0);
	assert_int_equal(h.polls_at_stop, atomic_load(&c.polls));
}

static char name_seen[16];
static _Atomic bool name_read;

static void hook_read_name(void *arg)
{
	(void)arg;
	(void)prctl(PR_GET_NAME, name_seen);
	atomic_store(&name_read, true);
}

static void hook_nothing(void *arg)
{
	(void)arg;
}

/* The worker names itself before its first pass (from inside: naming it
 * from the control thread goes through /proc/self/task/TID/comm), and
 * the thread that started it keeps its own name. */
static void test_worker_names_itself(void **state)
{
	(void)state;
	struct worker w;
	char before[16] = "", after[16] = "";

	(void)prctl(PR_GET_NAME, before);
	memset(name_seen, 0, sizeof(name_seen));
	atomic_store(&name_read, false);
	assert_int_equal(wk_hook_add(hook_read_name, hook_nothing, NULL), 0);
	assert_int_equal(wk_start(&w, 7, -1), 0);
	for (int i = 0; i < 1000 && !atomic_load(&name_read); i++)
		sleep_ms(1);
	wk_stop(&w);    /* joined: name_seen is read after the worker */
	wk_hook_remove(hook_read_name, hook_nothing, NULL);
	(void)prctl(PR_GET_NAME, after);
	assert_string_equal(name_seen, "vhostd-wk7");
	assert_string_equal(after, before);
}

static void test_removed_hook_is_not_run(void **state)
{
	(void)state;
	struct worker w;
	struct counter c = {.canary = CANARY};
	struct hook_log h = {.c = &c};

	assert_int_equal(wk_hook_add(hook_start, NULL, &h), 0);
	wk_hook_remove(hook_start, NULL, &h);
	assert_int_equal(wk_start(&w, 0, -1), 0);
	sleep_ms(5);
	wk_stop(&w);
	assert_int_equal(h.calls, 0);
}

static void hold_start(void *arg)
{
	_Atomic bool *go = arg;

	while (!atomic_load(go))
		sleep_ms(1);
}

/* The first publish to a worker that had no list returns at once, even
 * while the worker makes no pass (here: held in its start hook); it used
 * to wait for a quiescent point that this worker never reached. */
static void test_first_publish_waits_for_no_pass(void **state)
{
	(void)state;
	struct worker w;
	struct counter c = {.canary = CANARY};
	_Atomic bool go = false;

	assert_int_equal(wk_hook_add(hold_start, NULL, &go), 0);
	assert_int_equal(wk_start(&w, 0, -1), 0);
	assert_null(wk_publish(&w, one_item_list(&c)));
	assert_int_equal(atomic_load(&w.epoch), 0);
	assert_int_equal(atomic_load(&c.polls), 0);
	atomic_store(&go, true);
	while (atomic_load(&c.polls) == 0)
		sleep_ms(1);
	/* A list now: the next publish waits for its pass as always. */
	free(wk_publish(&w, NULL));
	uint64_t p = atomic_load(&c.polls);
	sleep_ms(5);
	assert_int_equal(atomic_load(&c.polls), p);
	wk_stop(&w);
	wk_hook_remove(hold_start, NULL, &go);
}

static void test_hook_table_is_bounded(void **state)
{
	(void)state;
	struct hook_log h[WK_HOOKS_MAX + 1];

	for (int i = 0; i < WK_HOOKS_MAX; i++)
		assert_int_equal(wk_hook_add(hook_start, NULL, &h[i]), 0);
	assert_int_equal(wk_hook_add(hook_start, NULL, &h[WK_HOOKS_MAX]),
			 -ENOSPC);
	for (int i = 0; i < WK_HOOKS_MAX; i++)
		wk_hook_remove(hook_start, NULL, &h[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_published_list_is_polled),
		cmocka_unit_test(test_worker_names_itself),
		cmocka_unit_test(test_item_counts_its_own_packets_and_cycles),
		cmocka_unit_test(test_pass_that_moves_nothing_is_idle),
		cmocka_unit_test(test_old_list_is_unused_once_publish_returns),
		cmocka_unit_test(test_rapid_handoffs_never_touch_freed_state),
		cmocka_unit_test(test_publish_to_stopped_worker_returns_at_once),
		cmocka_unit_test(
		    test_quiesce_times_out_and_abandons_the_item_in_progress),
		cmocka_unit_test(
		    test_publish_returns_the_old_list_only_after_the_abandoned_item),
		cmocka_unit_test(
		    test_watchdog_interrupts_a_worker_asleep_in_a_system_call),
		cmocka_unit_test(test_watchdog_abandons_an_item_that_spins),
		cmocka_unit_test(
		    test_watchdog_never_abandons_a_worker_that_does_not_run),
		cmocka_unit_test(test_hooks_run_in_the_worker_around_its_passes),
		cmocka_unit_test(test_removed_hook_is_not_run),
		cmocka_unit_test(test_hook_table_is_bounded),
		cmocka_unit_test(test_first_publish_waits_for_no_pass),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
