/* SPDX-License-Identifier: MIT */
/*
 * test_vu_fdpass.c: fds passed over a unix stream socket
 * (control/wire/vu_fdpass.h): what the vhost-user socket check accepts
 * (connected and listening AF_UNIX stream sockets) and refuses (a file,
 * a pipe, AF_INET, a datagram or seqpacket socket, an unconnected one, a
 * closed fd), and receiving: fds with the bytes, across several reads,
 * and more than a request may carry (cut: flagged, every fd closed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control/wire/vu_fdpass.h"

static int check(int fd, bool *listening)
{
	char why[160] = "";
	int err = vu_fdpass_check_stream(fd, listening, why, sizeof(why));

	if (err)
		assert_true(why[0] != '\0');    /* a refusal says why */
	return err;
}

static void test_accepts_stream_sockets(void **state)
{
	int sv[2];
	bool listening = true;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(check(sv[0], &listening), 0);
	assert_false(listening);
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr sa = {.sa_family = AF_UNIX};
	/* An address of the family alone: an abstract name of the kernel's. */
	assert_int_equal(bind(l, &sa, sizeof(sa_family_t)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(check(l, &listening), 0);
	assert_true(listening);
	close(l); close(sv[0]); close(sv[1]);
}

static void test_refuses_others(void **state)
{
	int p[2], sv[2];
	bool listening;

	(void)state;
	int f = open("/proc/self/status", O_RDONLY);
	assert_int_equal(check(f, &listening), -ENOTSOCK);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(check(p[0], &listening), -ENOTSOCK);
	int in = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(check(in, &listening), -EAFNOSUPPORT);
	int udp = socket(AF_INET, SOCK_DGRAM, 0);
	assert_int_equal(check(udp, &listening), -EAFNOSUPPORT);
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
	assert_int_equal(check(sv[0], &listening), -ESOCKTNOSUPPORT);
	close(sv[0]); close(sv[1]);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_int_equal(check(sv[0], &listening), -ESOCKTNOSUPPORT);
	close(sv[0]); close(sv[1]);
	int bare = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(check(bare, &listening), -ENOTCONN);
	close(bare);
	assert_int_equal(check(bare, &listening), -EBADF);
	close(f); close(p[0]); close(p[1]); close(in); close(udp);
}

static void send_fds(int s, const char *bytes, const int *fds, int n)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * 8)];
	} cm;
	struct iovec iov = {(void *)bytes, strlen(bytes)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	if (n) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)n);
	}
	assert_int_equal(sendmsg(s, &mh, 0), (ssize_t)strlen(bytes));
}

static int open_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

static bool is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static void test_recv(void **state)
{
	int sv[2], fds[VU_FDPASS_MAX], nfds = 0;
	bool ctrunc = false;
	char buf[64];

	(void)state;
	int before = open_fds();
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	int a = open("/dev/null", O_RDONLY), b = dup(a);
	send_fds(sv[0], "one", &a, 1);
	assert_int_equal(vu_fdpass_recv(sv[1], buf, 3, fds, &nfds, &ctrunc),
			 3);
	send_fds(sv[0], "two", &b, 1);
	assert_int_equal(vu_fdpass_recv(sv[1], buf, 3, fds, &nfds, &ctrunc),
			 3);
	assert_int_equal(nfds, 2);
	assert_false(ctrunc);
	assert_true(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	int kept = fds[1];
	vu_fdpass_close(fds, nfds);
	assert_int_equal(fds[0], -1);
	assert_false(is_open(kept));

	/* Six in one message: more than the buffer holds. */
	int six[6];
	for (int i = 0; i < 6; i++)
		six[i] = a;
	nfds = 0;
	send_fds(sv[0], "x", six, 6);
	assert_int_equal(vu_fdpass_recv(sv[1], buf, 1, fds, &nfds, &ctrunc),
			 1);
	assert_true(ctrunc);
	assert_true(nfds <= VU_FDPASS_MAX);
	vu_fdpass_close(fds, nfds);

	/* Two messages of three: the fifth and sixth do not fit. */
	nfds = 0;
	ctrunc = false;
	send_fds(sv[0], "y", six, 3);
	send_fds(sv[0], "z", six, 3);
	assert_int_equal(vu_fdpass_recv(sv[1], buf, 1, fds, &nfds, &ctrunc),
			 1);
	assert_int_equal(vu_fdpass_recv(sv[1], buf, 1, fds, &nfds, &ctrunc),
			 1);
	assert_true(ctrunc);
	assert_int_equal(nfds, VU_FDPASS_MAX);
	vu_fdpass_close(fds, nfds);

	close(a); close(b); close(sv[0]); close(sv[1]);
	assert_int_equal(open_fds(), before);   /* every received fd closed */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts_stream_sockets),
		cmocka_unit_test(test_refuses_others),
		cmocka_unit_test(test_recv),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
