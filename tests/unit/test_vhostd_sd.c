/* SPDX-License-Identifier: MIT */
/*
 * test_vhostd_sd.c: libsystemd from its module, vhostd-systemd.so
 * (control/daemon/vhostd_sd.h).  The module tells a service manager (a
 * datagram socket here, as NOTIFY_SOCKET names it) a state and passes it
 * an fd; a missing module and modules from another build, without the
 * symbol or without the functions are refused with the reason; a vhostd
 * that cannot load it says so once and every call fails cleanly.
 * Arguments: the module and the fixtures' directory (sd_mod_fixture.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control/daemon/vhostd_sd.h"

static const char *mod_path, *dir;

/* A service manager's notification socket (abstract), NOTIFY_SOCKET set
 * to it. */
static int manager(void)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	char env[108];

	assert_true(s >= 0);
	int len = snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1,
			   "vhostd-sd-test-%d", (int)getpid());
	assert_int_equal(bind(s, (struct sockaddr *)&a,
			      (socklen_t)(offsetof(struct sockaddr_un,
						   sun_path) + 1 + len)), 0);
	snprintf(env, sizeof(env), "@%s", a.sun_path + 1);
	setenv("NOTIFY_SOCKET", env, 1);
	return s;
}

/* One datagram into buf; *fd: the fd it carried, or -1. */
static void receive(int s, char *buf, size_t n, int *fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {buf, n - 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1,
			   .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	ssize_t r = recvmsg(s, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	assert_true(r >= 0);
	buf[r] = 0;
	*fd = -1;
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	if (c && c->cmsg_type == SCM_RIGHTS)
		memcpy(fd, CMSG_DATA(c), sizeof(int));
}

static void test_module_tells_the_manager(void **state)
{
	char buf[256];
	int s = manager(), fd;

	(void)state;
	vhostd_sd_set_path(mod_path);
	assert_true(vhostd_sd_notify("READY=1\nSTATUS=2 port(s)") > 0);
	receive(s, buf, sizeof(buf), &fd);
	assert_string_equal(buf, "READY=1\nSTATUS=2 port(s)");
	assert_int_equal(fd, -1);

	/* An fd to keep: the manager gets the same eventfd. */
	int e = eventfd(0, EFD_CLOEXEC);
	assert_true(vhostd_sd_notify_fd("FDSTORE=1\nFDNAME=p/f1", e) > 0);
	receive(s, buf, sizeof(buf), &fd);
	assert_string_equal(buf, "FDSTORE=1\nFDNAME=p/f1");
	assert_true(fd >= 0);
	assert_int_equal(eventfd_write(fd, 7), 0);
	eventfd_t v;
	assert_int_equal(eventfd_read(e, &v), 0);
	assert_int_equal(v, 7);
	close(fd);
	close(e);
	close(s);
}

static void test_bad_modules_refused_with_reason(void **state)
{
	static const struct {
		const char *file, *why;
	} cases[] = {
		{"no-such-module.so", "cannot load"},
		{"sd-mod-fixture-0.so", "from another vhostd build"},
		{"sd-mod-fixture-1.so", "no vhostd_systemd_module"},
		{"sd-mod-fixture-2.so", "from another vhostd build"},
	};
	char path[4096], why[4096];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, cases[i].file);
		why[0] = 0;
		assert_null(vhostd_sd_open(path, why, sizeof(why)));
		assert_non_null(strstr(why, cases[i].why));
		assert_non_null(strstr(why, path));
	}
	assert_non_null(vhostd_sd_open(mod_path, why, sizeof(why)));
}

/* In a child (the module is looked for once per process): calls fail
 * with -ENOENT, one log line says why. */
static void test_missing_module_said_once(void **state)
{
	int p[2];
	char log[4096] = "";
	size_t got = 0;

	(void)state;
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[1], 2);
		close(p[0]);
		vhostd_sd_set_path("/nonexistent/vhostd-systemd.so");
		bool ok = vhostd_sd_notify("READY=1") == -ENOENT &&
			  vhostd_sd_notify_fd("FDSTORE=1", 0) == -ENOENT;
		_exit(ok ? 0 : 1);
	}
	close(p[1]);
	for (ssize_t r; (r = read(p[0], log + got,
				  sizeof(log) - 1 - got)) > 0;)
		got += (size_t)r;
	log[got] = 0;
	close(p[0]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	char *first = strstr(log, "libsystemd: ");
	assert_non_null(first);
	assert_non_null(strstr(first, "/nonexistent/vhostd-systemd.so"));
	assert_null(strstr(first + 1, "libsystemd: "));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_module_said_once),
		cmocka_unit_test(test_bad_modules_refused_with_reason),
		cmocka_unit_test(test_module_tells_the_manager),
	};

	if (argc != 3) {
		fprintf(stderr, "usage: %s MODULE FIXTURE_DIR\n", argv[0]);
		return 2;
	}
	mod_path = argv[1];
	dir = argv[2];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
