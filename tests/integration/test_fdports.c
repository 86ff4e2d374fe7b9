/* SPDX-License-Identifier: MIT */
/*
 * Integration test: ports on passed sockets (vhost-fd:, issue 21).
 *
 * One vhostd with --control and --config.  The test speaks the control
 * protocol itself (one JSON line, fds as SCM_RIGHTS) to send what
 * vhostctl never would:
 *   - refusals: no fd, two fds, a regular file, a UDP socket, a unix
 *     datagram socket, an unconnected unix stream socket, six fds (more
 *     than a request may carry: MSG_CTRUNC), an fd with a verb that takes
 *     none, set-port-fd of a port that is not a vhost-fd: one.  Each
 *     answered with its reason, vhostd's fd count unchanged, vhostd
 *     still serving (show);
 *   - a socketpair: one end to vhostd, the other a front-end (the
 *     front-end library) that negotiates; closed: the port is "detached";
 *     set-port-fd with a new pair: connected and negotiating again;
 *   - a listening socket passed: a front-end connects to its path;
 *   - 1000 add-port/negotiate/del-port cycles: the fd count unchanged;
 *   - a cold start from the --config file: the fd port comes back
 *     "detached" and takes a socket through set-port-fd;
 *   - --port NAME=vhost-fd:N with an inherited socket served; a file or
 *     a UDP socket as N (or as --fd=N) stops vhostd at start, saying why.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "control/frontend/vu_front.h"
#include "vhostd_proc.h"

#define CYCLES 1000
#define FEATURES (BIT_ULL(VIRTIO_F_VERSION_1) |                            \
		  BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES))

static const char *vhostd_bin;
static char dir[64], ctl[96], conf[128], logpath[128], lsock[96];
static struct vhostd_proc proc;

/* One request with fds; the reply (static buffer) or NULL. */
static const char *request(const char *line, const int *fds, int nfds)
{
	static char reply[8192];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * 8)];
	} cm;
	char buf[512];
	size_t len = (size_t)snprintf(buf, sizeof(buf), "%s\n", line);
	struct iovec iov = {buf, len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", ctl);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return NULL;
	if (nfds) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	if (sendmsg(s, &mh, MSG_NOSIGNAL) != (ssize_t)len) {
		close(s);
		return NULL;
	}
	size_t off = 0;
	for (ssize_t n; off < sizeof(reply) - 1 &&
	     (n = read(s, reply + off, sizeof(reply) - 1 - off)) > 0;)
		off += (size_t)n;
	reply[off] = '\0';
	close(s);
	return reply;
}

/* The request is refused with a reason containing want. */
static void refused(const char *line, const int *fds, int nfds,
		    const char *want)
{
	const char *r = request(line, fds, nfds);

	assert_non_null(r);
	if (!strstr(r, "\"ok\":false") || !strstr(r, want))
		fail_msg("'%s': %s (wanted a refusal with '%s')", line, r, want);
}

static void ok(const char *line, const int *fds, int nfds)
{
	const char *r = request(line, fds, nfds);

	assert_non_null(r);
	if (!strstr(r, "\"ok\":true"))
		fail_msg("'%s': %s", line, r);
}

/* show: port name's state is state. */
static bool port_state(const char *name, const char *state)
{
	char want[128];
	const char *r = request("{\"cmd\":\"show\"}", NULL, 0);

	snprintf(want, sizeof(want), "\"name\":\"%s\"", name);
	const char *p = r ? strstr(r, want) : NULL;
	const char *st = p ? strstr(p, "\"state\":\"") : NULL;
	return st && !strncmp(st + 9, state, strlen(state)) &&
	       st[9 + strlen(state)] == '"';
}

static bool wait_state(const char *name, const char *state)
{
	for (int i = 0; i < 300; i++) {
		if (port_state(name, state))
			return true;
		msleep(10);
	}
	return false;
}

/* A front-end on sv[1] that negotiates, as a guest's VMM would. */
static void negotiate(int fd)
{
	struct vu_front *f;

	assert_int_equal(vu_front_new(&f, fd, 3000), 0);
	if (vu_front_negotiate(f, FEATURES, 0))
		fail_msg("negotiation on a passed socket: %s", vu_front_why(f));
	vu_front_close(f);
}

static void start(void)
{
	char *args[] = {"--control", ctl, "--config", conf, "--bridge", "br0",
			"--cores", "1", "--log-level", "info", NULL};

	assert_int_equal(vhostd_start(&proc, vhostd_bin, logpath, args), 0);
	assert_true(wait_path(ctl, 5000));
	msleep(50);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vhostd-fdports-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(ctl, sizeof(ctl), "%s/ctl", dir);
	snprintf(conf, sizeof(conf), "%s/vhostd.json", dir);
	snprintf(logpath, sizeof(logpath), "%s/vhostd.log", dir);
	snprintf(lsock, sizeof(lsock), "%s/listen.sock", dir);
	start();
	return 0;
}

static int teardown(void **state)
{
	char cmd[160];

	(void)state;
	int st = vhostd_stop(&proc);
	if (st != 0)
		fprintf(stderr, "vhostd exit status %d; log in %s\n", st, dir);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (st == 0 && system(cmd) != 0)
		return -1;
	return st == 0 ? 0 : -1;
}

static void test_refusals(void **state)
{
	const char *add = "{\"cmd\":\"add-port\",\"name\":\"x\","
			  "\"spec\":\"vhost-fd:3\"}";
	int sv[2], sv2[2], six[6];

	(void)state;
	int before = count_fds(proc.pid);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv2), 0);
	int file = open("/etc/hostname", O_RDONLY);
	int udp = socket(AF_INET, SOCK_DGRAM, 0);
	int dgram = socket(AF_UNIX, SOCK_DGRAM, 0);
	int bare = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(file >= 0 && udp >= 0 && dgram >= 0 && bare >= 0);

	refused(add, NULL, 0, "0 fds passed with the request, it needs "
		"exactly 1");
	refused(add, (int[]){sv[0], sv2[0]}, 2, "2 fds passed");
	refused(add, &file, 1, "a regular file, not a socket");
	refused(add, &udp, 1, "AF_INET), not AF_UNIX");
	refused(add, &dgram, 1, "unix datagram socket");
	refused(add, &bare, 1, "neither connected nor listening");
	for (int i = 0; i < 6; i++)
		six[i] = sv[0];
	refused("{\"cmd\":\"show\"}", six, 6, "too many fds");
	refused("{\"cmd\":\"show\"}", &sv[0], 1, "it takes none");
	refused("{\"cmd\":\"add-port\",\"name\":\"y\",\"spec\":"
		"\"vhost:/tmp/nowhere.sock\"}", &sv[0], 1, "it takes none");
	refused("{\"cmd\":\"set-port-fd\",\"name\":\"nope\"}", &sv[0], 1,
		"no port 'nope'");
	refused("{\"cmd\":\"set-port-fd\",\"name\":\"nope\"}", NULL, 0,
		"needs exactly 1");
	refused("{\"cmd\":\"add-port\",\"name\":\"x\",\"spec\":"
		"\"vhost-fd:3,client\"}", &sv[0], 1, "'client' does not apply");
	refused("not json", &sv[0], 1, "not JSON");

	close(file); close(udp); close(dgram); close(bare);
	close(sv[0]); close(sv[1]); close(sv2[0]); close(sv2[1]);
	ok("{\"cmd\":\"show\"}", NULL, 0);
	assert_int_equal(count_fds(proc.pid), before);
	assert_true(vhostd_alive(&proc));
}

static void test_socketpair_lifetime(void **state)
{
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    sv), 0);
	ok("{\"cmd\":\"add-port\",\"name\":\"p1\",\"spec\":"
	   "\"vhost-fd:7,bridge=br0,queues=2\"}", &sv[0], 1);
	close(sv[0]);
	assert_true(port_state("p1", "connected"));
	negotiate(sv[1]);       /* closes it: the front-end goes away */
	assert_true(wait_state("p1", "detached"));

	/* A new socket while a front-end is attached: that one is dropped. */
	int sv2[2];
	struct vu_front *old_f;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    sv), 0);
	ok("{\"cmd\":\"set-port-fd\",\"name\":\"p1\"}", &sv[0], 1);
	close(sv[0]);
	assert_int_equal(vu_front_new(&old_f, sv[1], 3000), 0);
	assert_int_equal(vu_front_negotiate(old_f, FEATURES, 0), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    sv2), 0);
	ok("{\"cmd\":\"set-port-fd\",\"name\":\"p1\"}", &sv2[0], 1);
	close(sv2[0]);
	char c;
	assert_int_equal(read(vu_front_sock(old_f), &c, 1), 0);   /* EOF */
	vu_front_close(old_f);
	negotiate(sv2[1]);
	assert_true(wait_state("p1", "detached"));

	/* A new socket for the same port. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    sv), 0);
	ok("{\"cmd\":\"set-port-fd\",\"name\":\"p1\"}", &sv[0], 1);
	close(sv[0]);
	assert_true(port_state("p1", "connected"));
	negotiate(sv[1]);
	assert_true(wait_state("p1", "detached"));

	/* A listening socket: accepted on, the file left to its owner. */
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", lsock);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 4), 0);
	ok("{\"cmd\":\"add-port\",\"name\":\"p2\",\"spec\":\"vhost-fd:9\"}",
	   &l, 1);
	/* Made non-blocking (our copy shares the flag): accept never waits. */
	assert_true(fcntl(l, F_GETFL) & O_NONBLOCK);
	close(l);
	assert_true(port_state("p2", "listening"));
	struct vu_front *f;
	assert_int_equal(vu_front_connect(&f, lsock, 2000, 3000), 0);
	assert_int_equal(vu_front_negotiate(f, FEATURES, 0), 0);
	assert_true(wait_state("p2", "connected"));
	vu_front_close(f);
	assert_true(wait_state("p2", "listening"));
	ok("{\"cmd\":\"del-port\",\"name\":\"p2\"}", NULL, 0);
	assert_int_equal(access(lsock, F_OK), 0);   /* not vhostd's */

	/* set-port-fd of a port that is not an fd port. */
	ok("{\"cmd\":\"add-port\",\"name\":\"p3\",\"spec\":\"vhost:"
	   "/tmp/vhostd-fdports-p3.sock\"}", NULL, 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    sv), 0);
	refused("{\"cmd\":\"set-port-fd\",\"name\":\"p3\"}", &sv[0], 1,
		"not a vhost-fd: port");
	close(sv[0]); close(sv[1]);
	ok("{\"cmd\":\"del-port\",\"name\":\"p3\"}", NULL, 0);
}

static void test_cycles(void **state)
{
	int sv[2], before = -1;

	(void)state;
	for (int i = 0; i < CYCLES; i++) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC,
					    0, sv), 0);
		ok("{\"cmd\":\"add-port\",\"name\":\"c\",\"spec\":"
		   "\"vhost-fd:5,bridge=br0\"}", &sv[0], 1);
		close(sv[0]);
		negotiate(sv[1]);
		ok("{\"cmd\":\"del-port\",\"name\":\"c\"}", NULL, 0);
		if (i == 0)
			before = count_fds(proc.pid);
	}
	int after = count_fds(proc.pid);
	printf("fd ports: %d add/negotiate/del cycles, vhostd fds %d after "
	       "the first, %d after the last\n", CYCLES, before, after);
	assert_int_equal(after, before);
}

/* The file holds p1 as vhost-fd:...: a cold start brings it back
 * detached, waiting for its socket. */
static void test_cold_start(void **state)
{
	int sv[2];

	(void)state;
	assert_int_equal(vhostd_stop(&proc), 0);
	start();
	assert_true(wait_state("p1", "detached"));
	assert_true(log_has(logpath, "p1: detached until set-port-fd", ""));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    sv), 0);
	ok("{\"cmd\":\"set-port-fd\",\"name\":\"p1\"}", &sv[0], 1);
	close(sv[0]);
	negotiate(sv[1]);
	assert_true(wait_state("p1", "detached"));
}

/* vhostd with args: its exit status (it must not start). */
static int start_fails(char **args, const char *want)
{
	struct vhostd_proc p;
	char log2[160];
	int st;

	snprintf(log2, sizeof(log2), "%s/refused.log", dir);
	assert_int_equal(vhostd_start(&p, vhostd_bin, log2, args), 0);
	assert_int_equal(waitpid(p.pid, &st, 0), p.pid);
	if (!log_has(log2, want, ""))
		fail_msg("vhostd's refusal does not say '%s'", want);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_cmdline(void **state)
{
	int sv[2];
	char spec[64], fdarg[32];

	(void)state;
	assert_int_equal(vhostd_stop(&proc), 0);
	int file = open("/etc/hostname", O_RDONLY);
	int udp = socket(AF_INET, SOCK_DGRAM, 0);
	snprintf(spec, sizeof(spec), "i=vhost-fd:%d", file);
	assert_int_equal(start_fails((char *[]){"--port", spec, NULL},
				     "a regular file, not a socket"), 2);
	snprintf(fdarg, sizeof(fdarg), "--fd=%d", udp);
	assert_int_equal(start_fails((char *[]){fdarg, NULL},
				     "not AF_UNIX"), 2);
	snprintf(spec, sizeof(spec), "i=vhost-fd:%d", 900);
	assert_int_equal(start_fails((char *[]){"--port", spec, NULL},
				     "fd is not open"), 2);
	close(file);
	close(udp);

	/* An inherited socketpair end (no close-on-exec); the other end
	 * stays ours alone. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(fcntl(sv[1], F_SETFD, FD_CLOEXEC), 0);
	snprintf(spec, sizeof(spec), "i=vhost-fd:%d,bridge=br0", sv[0]);
	char *args[] = {"--port", spec, "--control", ctl, "--bridge", "br0",
			"--cores", "1", NULL};
	assert_int_equal(vhostd_start(&proc, vhostd_bin, logpath, args), 0);
	close(sv[0]);
	assert_true(wait_path(ctl, 5000));
	assert_true(wait_state("i", "connected"));
	negotiate(sv[1]);
	assert_true(wait_state("i", "detached"));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_socketpair_lifetime),
		cmocka_unit_test(test_cycles),
		cmocka_unit_test(test_cold_start),
		cmocka_unit_test(test_cmdline),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s VHOSTD\n", argv[0]);
		return 2;
	}
	vhostd_bin = argv[1];
	return cmocka_run_group_tests(tests, setup, teardown);
}
