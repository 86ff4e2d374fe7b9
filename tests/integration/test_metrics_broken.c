/* SPDX-License-Identifier: MIT */
/*
 * Integration test: a broken ring as the --metrics page shows it.
 *
 * vhostd --port a=vhost:A --reflect a --metrics 127.0.0.1:0; a front-end
 * sets up one queue pair and its TX ring turns hostile (a descriptor loop,
 * hostile_ring.h).  Once the ring's error eventfd fired, GET /metrics must
 * say so on that ring and only there:
 *   vhostd_queue_broken{port="a",queue="0",direction="tx"} 1
 *   vhostd_queue_errors_total{...,direction="tx",reason="desc_loop"} 1
 *   vhostd_queue_broken{port="a",queue="0",direction="rx"} 0
 * and the port is still running (its RX ring is live).  The page's syntax is
 * checked with the official parser in metrics.py; here the lines are
 * compared as text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "control/frontend/vu_front.h"
#include "hostile_ring.h"
#include "vhostd_proc.h"

#define IO_MS 3000
#define RING 256u

static const char *vhostd_bin;
static char dir[64], sock_a[128], logpath[128];
static struct vhostd_proc proc;
static int http_port;

/* GET path over HTTP/1.0: the whole response, NUL-terminated (caller
 * frees), or NULL. */
static char *http_get(const char *path)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)http_port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {IO_MS / 1000, 0};
	char req[128];
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_non_null(buf);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n\r\n", path);
	assert_int_equal(send(fd, req, (size_t)n, 0), n);
	for (ssize_t r; (r = recv(fd, buf + len, cap - len - 1, 0)) > 0;) {
		len += (size_t)r;
		if (len + 1 == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

/* The page has this exact sample line. */
static void assert_line(const char *page, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = strstr(page, line); p; p = strstr(p + 1, line))
		if ((p == page || p[-1] == '\n') && p[n] == '\n')
			return;
	fail_msg("no line '%s' in the page", line);
}

static void test_broken_ring_shows_on_its_queue_only(void **state)
{
	(void)state;
	struct vu_guestmem_opts mo = {.size = 16 << 20, .nregions = 1};
	struct vu_front *f;
	struct hring h;
	int errfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	assert_true(errfd >= 0);
	assert_int_equal(vu_front_connect(&f, sock_a, 3000, IO_MS), 0);
	assert_int_equal(vu_front_negotiate(f, VU_FRONT_FEATURES_DEFAULT,
					    VU_FRONT_PROTOCOL_DEFAULT), 0);
	assert_int_equal(vu_front_mem_init(f, &mo), 0);
	assert_int_equal(vu_front_set_mem_table(f), 0);
	assert_int_equal(vu_front_set_vring_err(f, 1, errfd), 0);
	for (uint32_t i = 0; i < 2; i++)
		assert_int_equal(vu_front_vring_setup(f, i, RING), 0);

	/* Before: running, nothing broken. */
	char *page = http_get("/metrics");
	assert_non_null(strstr(page, "HTTP/1.1 200"));
	assert_line(page, "vhostd_port_guest_state{port=\"a\",state=\"running\"}"
		    " 1");
	assert_line(page, "vhostd_queue_broken{port=\"a\",queue=\"0\","
		    "direction=\"tx\"} 0");
	assert_null(strstr(page, "vhostd_queue_errors_total{"));
	free(page);

	/* desc 1 -> desc 2 -> desc 1 ... on the TX ring. */
	assert_int_equal(hring_init(&h, f, 1), 0);
	hring_desc(&h, 1, hring_buf(&h, 1), 100, hring_dir(&h) | HF_NEXT, 2);
	hring_desc(&h, 2, hring_buf(&h, 2), 100, hring_dir(&h) | HF_NEXT, 1);
	hring_post(&h, 1);
	assert_int_equal(vu_front_kick(f, 1), 0);
	struct pollfd pfd = {.fd = errfd, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, IO_MS), 1);

	page = http_get("/metrics");
	assert_line(page, "vhostd_queue_broken{port=\"a\",queue=\"0\","
		    "direction=\"tx\"} 1");
	assert_line(page, "vhostd_queue_errors_total{port=\"a\",queue=\"0\","
		    "direction=\"tx\",reason=\"desc_loop\"} 1");
	assert_line(page, "vhostd_queue_broken{port=\"a\",queue=\"0\","
		    "direction=\"rx\"} 0");
	assert_line(page, "vhostd_queue_live{port=\"a\",queue=\"0\","
		    "direction=\"rx\"} 1");
	assert_line(page, "vhostd_port_guest_state{port=\"a\",state=\"running\"}"
		    " 1");
	/* Exactly one error sample: the one above. */
	const char *e = strstr(page, "\nvhostd_queue_errors_total{");
	assert_non_null(e);
	assert_null(strstr(e + 1, "\nvhostd_queue_errors_total{"));
	free(page);

	vu_front_close(f);
	close(errfd);
	assert_true(vhostd_alive(&proc));
}

static int group_setup(void **state)
{
	(void)state;
	cpu_set_t cpus;
	char cores[16], line[256];
	int last = 0;

	snprintf(dir, sizeof(dir), "/tmp/vhostd-mbroken.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(sock_a, sizeof(sock_a), "%s/a.sock", dir);
	snprintf(logpath, sizeof(logpath), "%s/vhostd.log", dir);
	if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0)
		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &cpus))
				last = c;
	snprintf(cores, sizeof(cores), "%d", last);
	char port_a[160];
	snprintf(port_a, sizeof(port_a), "a=vhost:%s", sock_a);
	char *const args[] = {"--port", port_a, "--reflect", "a", "--cores",
			      cores, "--metrics", "127.0.0.1:0", NULL};
	if (vhostd_start(&proc, vhostd_bin, logpath, args) < 0 ||
	    !wait_path(sock_a, 5000))
		return -1;
	/* The port it picked, from its log line. */
	for (int i = 0; i < 500 && !http_port; i++) {
		FILE *lf = fopen(logpath, "r");
		while (lf && fgets(line, sizeof(line), lf)) {
			const char *s = strstr(line, "serving http://127.0.0.1:");
			if (s)
				http_port = atoi(s + strlen("serving "
							    "http://127.0.0.1:"));
		}
		if (lf)
			fclose(lf);
		msleep(10);
	}
	return http_port ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	int rc = vhostd_stop(&proc);
	bool clean = !log_has(logpath, "Sanitizer", NULL) &&
		     !log_has(logpath, "runtime error", NULL);

	if (rc != 0 || !clean)
		fprintf(stderr, "vhostd exit %d; log %s\n", rc, logpath);
	else {
		unlink(logpath);
		rmdir(dir);
	}
	return rc == 0 && clean ? 0 : -1;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_broken_ring_shows_on_its_queue_only),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s VHOSTD\n", argv[0]);
		return 2;
	}
	vhostd_bin = argv[1];
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
