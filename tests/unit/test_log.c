/* SPDX-License-Identifier: MIT */
/*
 * test_log.c: the logging facility (datapath/log.h): key=value fields,
 * journald priorities only when stderr is the journal's stream, one line
 * per call, and the per-site rate limit that reports what it dropped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "datapath/log.h"

/* stderr goes to a temporary file while a test runs. */
static FILE *cap;
static int saved_stderr = -1;

static int capture(void **state)
{
	(void)state;
	cap = tmpfile();
	if (!cap)
		return -1;
	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	return dup2(fileno(cap), STDERR_FILENO) < 0 ? -1 : 0;
}

static int restore(void **state)
{
	(void)state;
	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	fclose(cap);
	unsetenv("JOURNAL_STREAM");
	vlog_use_journal(false);
	vlog_use_time(false);
	vlog_set_level(VLOG_LVL_INFO);
	return 0;
}

/* Everything logged so far. */
static const char *captured(void)
{
	static char buf[8192];

	fflush(stderr);
	size_t n = (size_t)pread(fileno(cap), buf, sizeof(buf) - 1, 0);
	buf[n < sizeof(buf) ? n : 0] = '\0';
	return buf;
}

static void test_line_has_level_and_component_fields(void **state)
{
	(void)state;
	LOG_WARN("port", "vm0: front-end %s", "disconnected");
	LOG_ERR("vq", "vm0: queue %d broken", 1);
	assert_string_equal(captured(),
		"level=warn comp=port vm0: front-end disconnected\n"
		"level=err comp=vq vm0: queue 1 broken\n");
}

static void test_level_threshold_drops_lines(void **state)
{
	(void)state;
	vlog_set_level(VLOG_LVL_WARN);
	LOG_INFO("main", "not shown");
	LOG_DEBUG("main", "not shown");
	LOG_WARN("main", "shown");
	assert_string_equal(captured(), "level=warn comp=main shown\n");
}

static void test_newline_in_message_stays_one_line(void **state)
{
	(void)state;
	LOG_ERR("ctl", "a\nb\n");
	assert_string_equal(captured(), "level=err comp=ctl a b \n");
}

static void test_long_message_cut_to_one_line(void **state)
{
	char big[2000];

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	LOG_ERR("ctl", "%s", big);
	const char *out = captured();
	assert_int_equal(strncmp(out, "level=err comp=ctl xxx", 22), 0);
	assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
}

static void test_journal_priorities(void **state)
{
	(void)state;
	vlog_use_journal(true);
	vlog_set_level(VLOG_LVL_DEBUG);
	LOG_ERR("t", "e");
	LOG_WARN("t", "w");
	LOG_INFO("t", "i");
	LOG_DEBUG("t", "d");
	assert_string_equal(captured(),
		"<3>level=err comp=t e\n<4>level=warn comp=t w\n"
		"<6>level=info comp=t i\n<7>level=debug comp=t d\n");
}

/* --log-time: the line starts with the UTC time to the microsecond,
 * taken between the two clock readings around the call. */
static void test_time_field_first(void **state)
{
	char before[32], after[32], got[32];
	time_t t0, t1;

	(void)state;
	vlog_use_time(true);
	t0 = time(NULL);
	LOG_WARN("t", "x");
	t1 = time(NULL);
	strftime(before, sizeof(before), "%Y-%m-%dT%H:%M:%S", gmtime(&t0));
	strftime(after, sizeof(after), "%Y-%m-%dT%H:%M:%S", gmtime(&t1));
	const char *out = captured();
	assert_int_equal(strncmp(out, "ts=", 3), 0);
	memcpy(got, out + 3, 19);
	got[19] = '\0';
	assert_true(strcmp(got, before) >= 0 && strcmp(got, after) <= 0);
	for (int i = 23; i < 29; i++)
		assert_true(out[i] >= '0' && out[i] <= '9');
	assert_int_equal(out[22], '.');
	assert_string_equal(out + 29, "Z level=warn comp=t x\n");
}

/* journald stamps its entries: no ts= field on its stream. */
static void test_no_time_field_on_journal(void **state)
{
	(void)state;
	vlog_use_time(true);
	vlog_use_journal(true);
	LOG_WARN("t", "w");
	assert_string_equal(captured(), "<4>level=warn comp=t w\n");
}

/* JOURNAL_STREAM counts only when it names stderr itself. */
static void test_journal_stream_detected_by_inode(void **state)
{
	struct stat st;
	char v[64];

	(void)state;
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	unsetenv("JOURNAL_STREAM");
	assert_false(vlog_journal_stream());
	snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", v, 1);
	assert_true(vlog_journal_stream());
	/* A parent's journal stream, stderr redirected since. */
	snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", v, 1);
	assert_false(vlog_journal_stream());
	static const char *const bad[] = {"", ":", "1", "1:", "x:y", "1:2:3",
					  "1:2x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("JOURNAL_STREAM", bad[i], 1);
		assert_false(vlog_journal_stream());
	}
}

static void test_rate_limit_burst_then_refused(void **state)
{
	struct vlog_rl rl = {0};
	uint32_t sup = 99;
	int allowed = 0;

	(void)state;
	for (int i = 0; i < 100; i++)
		allowed += vlog_rl_allow_at(&rl, 5, &sup);
	assert_int_equal(allowed, VLOG_RL_BURST);
	assert_int_equal(sup, 0);
}

static void test_rate_limit_reports_dropped_lines(void **state)
{
	struct vlog_rl rl = {0};
	uint32_t sup = 0;

	(void)state;
	for (int i = 0; i < VLOG_RL_BURST + 37; i++)
		vlog_rl_allow_at(&rl, 5, &sup);
	/* The next second: the first line carries the count, once. */
	assert_true(vlog_rl_allow_at(&rl, 6, &sup));
	assert_int_equal(sup, 37);
	assert_true(vlog_rl_allow_at(&rl, 6, &sup));
	assert_int_equal(sup, 0);
	/* A quiet site reports nothing. */
	assert_true(vlog_rl_allow_at(&rl, 9, &sup));
	assert_int_equal(sup, 0);
}

static void test_rate_limited_line_has_suppressed_field(void **state)
{
	(void)state;
	vlog_emit_rl(VLOG_LVL_WARN, "vnet", 12, "vm0: %s", "drop");
	vlog_emit_rl(VLOG_LVL_WARN, "vnet", 0, "vm0: %s", "drop");
	assert_string_equal(captured(),
		"level=warn comp=vnet suppressed=12 vm0: drop\n"
		"level=warn comp=vnet vm0: drop\n");
}

/* The VLOG_RL site: at most VLOG_RL_BURST lines however many calls
 * (all in one second unless the clock ticks over during the loop, in
 * which case the next second's bucket lets at most a burst more). */
static void test_rate_limited_site_bounded(void **state)
{
	(void)state;
	for (int i = 0; i < 1000; i++)
		VLOG_RL(VLOG_LVL_WARN, "vq", "hostile %d", i);
	const char *out = captured();
	int lines = 0;
	for (const char *c = out; *c; c++)
		lines += *c == '\n';
	assert_true(lines >= VLOG_RL_BURST && lines <= 2 * VLOG_RL_BURST);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, capture, restore)
	const struct CMUnitTest tests[] = {
		T(test_line_has_level_and_component_fields),
		T(test_level_threshold_drops_lines),
		T(test_newline_in_message_stays_one_line),
		T(test_long_message_cut_to_one_line),
		T(test_journal_priorities),
		T(test_time_field_first),
		T(test_no_time_field_on_journal),
		T(test_journal_stream_detected_by_inode),
		T(test_rate_limit_burst_then_refused),
		T(test_rate_limit_reports_dropped_lines),
		T(test_rate_limited_line_has_suppressed_field),
		T(test_rate_limited_site_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
