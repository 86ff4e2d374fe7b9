/* SPDX-License-Identifier: MIT */
/* The idle state machine (datapath/wk_idle.h): back-off, park, --idle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>

#include "datapath/wk_idle.h"

static enum wk_idle_act step(struct wk_idle *s, uint32_t moved, bool parkable,
			     uint32_t *us)
{
	*us = UINT32_MAX;
	return wk_idle_step(s, moved, parkable, us);
}

static void test_poll_never_sleeps_nor_parks(void **state)
{
	(void)state;
	struct wk_idle s;
	uint32_t us;

	wk_idle_init(&s, WK_IDLE_POLL, 0);
	for (int i = 0; i < 100000; i++)
		assert_int_equal(step(&s, 0, true, &us), WK_IDLE_RUN);
}

/* OVS pmd-sleep-max: 0, 1, 2, ... us, then MAX_US for ever. */
static void test_sleep_backs_off_one_us_per_quiet_pass_up_to_max(void **state)
{
	(void)state;
	struct wk_idle s;
	uint32_t us;

	wk_idle_init(&s, WK_IDLE_SLEEP, 20);
	assert_int_equal(step(&s, 0, true, &us), WK_IDLE_RUN);  /* 0 us */
	for (uint32_t want = 1; want <= 20; want++) {
		assert_int_equal(step(&s, 0, true, &us), WK_IDLE_NAP);
		assert_int_equal(us, want);
	}
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(step(&s, 0, true, &us), WK_IDLE_NAP);
		assert_int_equal(us, 20);
	}
}

static void test_sleep_resets_after_half_a_burst(void **state)
{
	(void)state;
	struct wk_idle s;
	uint32_t us;

	wk_idle_init(&s, WK_IDLE_SLEEP, 10);
	for (int i = 0; i < 30; i++)
		(void)step(&s, 0, true, &us);
	assert_int_equal(step(&s, WK_IDLE_BUSY, true, &us), WK_IDLE_RUN);
	assert_int_equal(step(&s, 0, true, &us), WK_IDLE_RUN);  /* 0 again */
	assert_int_equal(step(&s, 0, true, &us), WK_IDLE_NAP);
	assert_int_equal(us, 1);
}

/* Fewer than half a burst is low load: the back-off goes on (OVS). */
static void test_sleep_keeps_backing_off_under_low_load(void **state)
{
	(void)state;
	struct wk_idle s;
	uint32_t us;

	wk_idle_init(&s, WK_IDLE_SLEEP, 5);
	for (int i = 0; i < 10; i++)
		(void)step(&s, WK_IDLE_BUSY - 1, true, &us);
	assert_int_equal(step(&s, 1, true, &us), WK_IDLE_NAP);
	assert_int_equal(us, 5);
}

/* Steps of a quiet wait worker until it parks (bounded). */
static int passes_to_park(struct wk_idle *s)
{
	uint32_t us;

	for (int i = 1; i < 100000; i++)
		if (step(s, 0, true, &us) == WK_IDLE_PARK)
			return i;
	return -1;
}

static void test_wait_backs_off_then_parks(void **state)
{
	(void)state;
	struct wk_idle s;
	uint32_t us, slept = 0;

	wk_idle_init(&s, WK_IDLE_WAIT, 12345);   /* max_us is sleep's only */
	for (;;) {
		enum wk_idle_act a = step(&s, 0, true, &us);
		if (a == WK_IDLE_PARK)
			break;
		if (a == WK_IDLE_NAP) {
			assert_true(us <= WK_IDLE_WAIT_BACKOFF_US);
			slept += us;
		}
	}
	/* The whole back-off came first (1 .. max - 1 us), then quiet passes
	 * at its longest sleep: the WK_IDLE_QUIET-th parks. */
	uint32_t m = WK_IDLE_WAIT_BACKOFF_US;
	assert_int_equal(slept, (m - 1) * m / 2 + (WK_IDLE_QUIET - 1) * m);
}

static void test_wait_starts_from_poll_after_a_park(void **state)
{
	(void)state;
	struct wk_idle s;
	uint32_t us;

	wk_idle_init(&s, WK_IDLE_WAIT, 0);
	int first = passes_to_park(&s);
	assert_true(first > 0);
	/* Woken: no sleep on the next pass, the same way to the next park. */
	assert_int_equal(step(&s, 0, true, &us), WK_IDLE_RUN);
	assert_int_equal(passes_to_park(&s), first - 1);
}

static void test_wait_never_parks_without_wake_sources(void **state)
{
	(void)state;
	struct wk_idle s;
	uint32_t us;

	wk_idle_init(&s, WK_IDLE_WAIT, 0);
	for (int i = 0; i < 100000; i++)
		assert_int_not_equal(step(&s, 0, false, &us), WK_IDLE_PARK);
	/* It naps at the back-off's longest instead. */
	assert_int_equal(step(&s, 0, false, &us), WK_IDLE_NAP);
	assert_int_equal(us, WK_IDLE_WAIT_BACKOFF_US);
	/* And parks once its list can wake it. */
	int n = 0;
	while (step(&s, 0, true, &us) != WK_IDLE_PARK)
		assert_true(++n < 100000);
}

/* A trickle (a packet a pass) is not quiet: no park however long. */
static void test_wait_does_not_park_while_packets_trickle(void **state)
{
	(void)state;
	struct wk_idle s;
	uint32_t us;

	wk_idle_init(&s, WK_IDLE_WAIT, 0);
	for (int i = 0; i < 100000; i++)
		assert_int_not_equal(step(&s, (uint32_t)(i % WK_IDLE_QUIET == 0),
					  true, &us), WK_IDLE_PARK);
}

static void test_busy_pass_resets_the_way_to_a_park(void **state)
{
	(void)state;
	struct wk_idle s;
	uint32_t us;

	wk_idle_init(&s, WK_IDLE_WAIT, 0);
	int full = passes_to_park(&s);
	for (int i = 0; i < full - 2; i++)
		assert_int_not_equal(step(&s, 0, true, &us), WK_IDLE_PARK);
	assert_int_equal(step(&s, 1000, true, &us), WK_IDLE_RUN);
	assert_int_equal(passes_to_park(&s), full);
}

static void test_idle_parse(void **state)
{
	(void)state;
	enum wk_idle_mode m;
	uint32_t us;
	const char *why;

	assert_int_equal(wk_idle_parse("poll", &m, &us, &why), 0);
	assert_int_equal(m, WK_IDLE_POLL);
	assert_int_equal(wk_idle_parse("wait", &m, &us, &why), 0);
	assert_int_equal(m, WK_IDLE_WAIT);
	assert_int_equal(wk_idle_parse("sleep=1", &m, &us, &why), 0);
	assert_int_equal(m, WK_IDLE_SLEEP);
	assert_int_equal(us, 1);
	assert_int_equal(wk_idle_parse("sleep=10000", &m, &us, &why), 0);
	assert_int_equal(us, 10000);
	assert_string_equal(wk_idle_name(WK_IDLE_SLEEP), "sleep");
}

/* Hostile: every malformed value is refused with a reason, nothing set. */
static void test_idle_parse_refuses_bad_values(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", "Poll", "wait=5", "sleep", "sleep=", "sleep=0",
		"sleep=10001", "sleep=-5", "sleep=+5", "sleep= 5", "sleep=5x",
		"sleep=0x10", "sleep=99999999999999999999999", "sleep=5 ",
		"poll,wait", "sleepy=5",
	};
	enum wk_idle_mode m = WK_IDLE_POLL;
	uint32_t us = 7;
	const char *why = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		assert_int_equal(wk_idle_parse(bad[i], &m, &us, &why), -EINVAL);
		assert_non_null(why);
		assert_int_equal(m, WK_IDLE_POLL);
		assert_int_equal(us, 7);
	}
	assert_int_equal(wk_idle_parse(NULL, &m, &us, &why), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_poll_never_sleeps_nor_parks),
		cmocka_unit_test(test_sleep_backs_off_one_us_per_quiet_pass_up_to_max),
		cmocka_unit_test(test_sleep_resets_after_half_a_burst),
		cmocka_unit_test(test_sleep_keeps_backing_off_under_low_load),
		cmocka_unit_test(test_wait_backs_off_then_parks),
		cmocka_unit_test(test_wait_starts_from_poll_after_a_park),
		cmocka_unit_test(test_wait_never_parks_without_wake_sources),
		cmocka_unit_test(test_wait_does_not_park_while_packets_trickle),
		cmocka_unit_test(test_busy_pass_resets_the_way_to_a_park),
		cmocka_unit_test(test_idle_parse),
		cmocka_unit_test(test_idle_parse_refuses_bad_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
