/* SPDX-License-Identifier: MIT */
/*
 * test_listen_fds.c: the fds a service manager passes at start
 * (control/daemon/vhostd_listen_fds.h), read as sd_listen_fds(3) says.
 * Passed fds are taken with their names and made close-on-exec; fds meant
 * for another process are left alone; every malformed variable, a name
 * count that differs from the fd count and a passed fd that is not open
 * are refused; the variables never outlive the call.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "control/daemon/vhostd_listen_fds.h"

#define FIRST VHOSTD_LISTEN_FDS_START

/* fds FIRST .. FIRST + n - 1 open (without close-on-exec), the next one
 * closed. */
static void open_fds(int n)
{
	for (int i = 0; i < n; i++) {
		int e = eventfd(0, 0);
		assert_true(e >= 0);
		if (e != FIRST + i) {
			assert_int_equal(dup2(e, FIRST + i), FIRST + i);
			close(e);
		}
	}
	close(FIRST + n);
}

static void close_fds(int n)
{
	for (int i = 0; i < n; i++)
		close(FIRST + i);
}

static void set_env(const char *pid, const char *fds, const char *names)
{
	char self[32];

	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (pid && !strcmp(pid, "self")) {
		snprintf(self, sizeof(self), "%d", (int)getpid());
		pid = self;
	}
	if (pid)
		setenv("LISTEN_PID", pid, 1);
	if (fds)
		setenv("LISTEN_FDS", fds, 1);
	if (names)
		setenv("LISTEN_FDNAMES", names, 1);
}

static void assert_env_gone(void)
{
	assert_null(getenv("LISTEN_PID"));
	assert_null(getenv("LISTEN_FDS"));
	assert_null(getenv("LISTEN_FDNAMES"));
}

static void free_names(char **names, int n)
{
	for (int i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

static void test_nothing_passed(void **state)
{
	char **names = (char **)1;

	(void)state;
	set_env(NULL, NULL, NULL);
	assert_int_equal(vhostd_listen_fds(&names), 0);
	assert_null(names);
	set_env("self", NULL, "a");           /* ours, but no LISTEN_FDS */
	assert_int_equal(vhostd_listen_fds(&names), 0);
	assert_env_gone();
	set_env("self", "0", NULL);
	assert_int_equal(vhostd_listen_fds(&names), 0);
	assert_null(names);
	assert_env_gone();
}

static void test_fds_with_names_taken_cloexec(void **state)
{
	char **names;

	(void)state;
	open_fds(3);
	set_env("self", "3", "a/listen:a/state:");
	assert_int_equal(vhostd_listen_fds(&names), 3);
	assert_string_equal(names[0], "a/listen");
	assert_string_equal(names[1], "a/state");
	assert_string_equal(names[2], "");    /* empty: matches nothing */
	for (int i = 0; i < 3; i++)
		assert_true(fcntl(FIRST + i, F_GETFD) & FD_CLOEXEC);
	assert_env_gone();
	free_names(names, 3);
	close_fds(3);
}

static void test_no_names_means_unknown(void **state)
{
	char **names;

	(void)state;
	open_fds(2);
	set_env("self", "2", NULL);
	assert_int_equal(vhostd_listen_fds(&names), 2);
	assert_string_equal(names[0], "unknown");
	assert_string_equal(names[1], "unknown");
	free_names(names, 2);
	close_fds(2);
}

/* Meant for another process (a child that inherited them): untouched. */
static void test_other_pid_left_alone(void **state)
{
	char **names, pid[32];

	(void)state;
	open_fds(1);
	snprintf(pid, sizeof(pid), "%d", (int)getpid() + 1);
	set_env(pid, "1", "x");
	assert_int_equal(vhostd_listen_fds(&names), 0);
	assert_null(names);
	assert_false(fcntl(FIRST, F_GETFD) & FD_CLOEXEC);
	assert_env_gone();
	close_fds(1);
}

static void test_malformed_numbers_refused(void **state)
{
	/* Last: out of range for a pid (past INT_MAX), then for a count
	 * (fd 3 + count past INT_MAX). */
	static const char *bad[] = {
		"", "x", "1x", "-1", "+1", " 1", "1 ", "0x1",
		"99999999999999999999", "2147483648", "2147483645",
	};
	const size_t n = sizeof(bad) / sizeof(bad[0]);
	char **names;

	(void)state;
	open_fds(1);
	for (size_t i = 0; i < n; i++) {
		if (i != n - 1) {
			set_env(bad[i], "1", NULL);     /* LISTEN_PID */
			assert_int_equal(vhostd_listen_fds(&names), -EINVAL);
			assert_null(names);
			assert_env_gone();
		}
		set_env("self", bad[i], NULL);      /* LISTEN_FDS */
		assert_int_equal(vhostd_listen_fds(&names), -EINVAL);
		assert_null(names);
		assert_env_gone();
	}
	close_fds(1);
}

static void test_name_count_must_match(void **state)
{
	static const char *bad[] = {"a", "a:b:c", "", "::"};
	char **names;

	(void)state;
	open_fds(2);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		set_env("self", "2", bad[i]);
		assert_int_equal(vhostd_listen_fds(&names), -EINVAL);
		assert_null(names);
		assert_env_gone();
	}
	close_fds(2);
}

/* More fds announced than are open: refused before any allocation
 * sized by the count (the largest count too). */
static void test_fd_not_open_refused(void **state)
{
	char **names;

	(void)state;
	open_fds(2);
	set_env("self", "3", "a:b:c");
	assert_int_equal(vhostd_listen_fds(&names), -EBADF);
	assert_null(names);
	set_env("self", "2147483644", NULL);
	assert_int_equal(vhostd_listen_fds(&names), -EBADF);
	assert_null(names);
	assert_env_gone();
	close_fds(2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_passed),
		cmocka_unit_test(test_fds_with_names_taken_cloexec),
		cmocka_unit_test(test_no_names_means_unknown),
		cmocka_unit_test(test_other_pid_left_alone),
		cmocka_unit_test(test_malformed_numbers_refused),
		cmocka_unit_test(test_name_count_must_match),
		cmocka_unit_test(test_fd_not_open_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
