/* SPDX-License-Identifier: MIT */
/*
 * Integration tests: a real vhostd process driven through the front-end
 * library over real unix sockets.  Two server-mode devices (dev0, dev1) run
 * in one daemon for the whole group; every hostile message goes to dev0 and
 * must end in an error ack or a closed connection with one log line, while
 * dev1 keeps serving and the daemon leaks no fd.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "control/frontend/vu_front.h"
#include "vhostd_proc.h"

#define IO_MS 3000

static const char *vhostd_bin;
static char dir[64], sock0[128], sock1[128], logpath[128];
static struct vhostd_proc proc;
static int idle_fds;

static int group_setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vhostd-it.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(sock0, sizeof(sock0), "%s/dev0.sock", dir);
	snprintf(sock1, sizeof(sock1), "%s/dev1.sock", dir);
	snprintf(logpath, sizeof(logpath), "%s/vhostd.log", dir);
	char p0[160], p1[160];
	snprintf(p0, sizeof(p0), "dev0=vhost:%s,queues=4", sock0);
	snprintf(p1, sizeof(p1), "dev1=vhost:%s", sock1);
	char *args[] = {"--port", p0, "--port", p1, "--link", "dev0=dev1",
			NULL};
	if (vhostd_start(&proc, vhostd_bin, logpath, args) < 0 ||
	    !wait_path(sock0, 5000) || !wait_path(sock1, 5000))
		return -1;
	/* The sockets exist before vhostd is done starting (workers, the
	 * watchdog's timer): count its fds once it says it runs. */
	for (int i = 0; i < 500 && !log_has(logpath, " port(s), features ",
					    NULL); i++)
		msleep(10);
	idle_fds = count_fds(proc.pid);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	int rc = vhostd_stop(&proc);
	struct stat st;
	bool sock_left = stat(sock0, &st) == 0 || stat(sock1, &st) == 0;
	if (rc != 0 || sock_left) {
		fprintf(stderr, "vhostd exit %d, sockets left %d; log %s\n", rc,
			sock_left, logpath);
		return -1;
	}
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Connected, negotiated (REPLY_ACK on), 16 MiB of memfd guest memory. */
static struct vu_front *fresh(const char *path, uint64_t proto)
{
	struct vu_front *f = NULL;
	struct vu_guestmem_opts mo = {.size = 16 << 20, .nregions = 1};

	assert_int_equal(vu_front_connect(&f, path, 3000, IO_MS), 0);
	assert_int_equal(vu_front_negotiate(f, VU_FRONT_FEATURES_DEFAULT |
					    BIT_ULL(VIRTIO_NET_F_MTU), proto), 0);
	assert_int_equal(vu_front_mem_init(f, &mo), 0);
	return f;
}

static struct vu_front *fresh_ack(void)
{
	return fresh(sock0, VU_FRONT_PROTOCOL_DEFAULT |
		     BIT_ULL(VU_PROTOCOL_F_MTU) | BIT_ULL(VU_PROTOCOL_F_STATUS));
}

/* The back-end still answers a well-formed request on this connection. */
static void assert_alive(struct vu_front *f)
{
	uint64_t offered;

	assert_int_equal(vu_front_get_features(f, &offered), 0);
	assert_true(offered & BIT_ULL(VIRTIO_F_VERSION_1));
}

/* Send with need_reply; the ack must be non-zero, the link must live. */
static void expect_nack(struct vu_front *f, uint32_t req, const void *pl,
			uint32_t size, const int *fds, int nfds)
{
	struct vu_hdr h = {req, VU_VERSION | VU_FLAG_NEED_REPLY, size};
	struct vu_msg r;

	assert_int_equal(vu_front_raw_send(f, &h, pl, size, fds, nfds), 0);
	assert_int_equal(vu_front_raw_recv(f, &r, IO_MS, NULL, NULL), 1);
	assert_int_equal(r.hdr.request, req);
	assert_int_equal(r.hdr.flags, VU_VERSION | VU_FLAG_REPLY);
	assert_int_equal(r.hdr.size, 8);
	assert_true(r.payload.u64 != 0);
	assert_alive(f);
}

/* Send as given; the back-end must close the connection. */
static void expect_closed(struct vu_front *f, uint32_t req, uint32_t flags,
			  const void *pl, uint32_t size, uint32_t len)
{
	struct vu_hdr h = {req, flags, size};
	struct vu_msg r;

	assert_int_equal(vu_front_raw_send(f, &h, pl, len, NULL, 0), 0);
	assert_int_equal(vu_front_raw_recv(f, &r, IO_MS, NULL, NULL),
			 -ECONNRESET);
	vu_front_close(f);
}

static void assert_logged(const char *a, const char *b)
{
	msleep(20); /* the daemon writes its line before replying; flush */
	if (!log_has(logpath, a, b))
		fail_msg("no log line with '%s' / '%s' in %s", a, b ? b : "",
			 logpath);
}

static void test_full_handshake_two_queue_pairs(void **state)
{
	(void)state;
	struct vu_front *f = fresh_ack();
	uint32_t base = 99;

	assert_true(vu_front_features_acked(f) & BIT_ULL(VIRTIO_NET_F_MQ));
	assert_int_equal(vu_front_queue_num(f), 4); /* queues=4 caps it */
	assert_int_equal(vu_front_max_mem_slots(f), 509);
	assert_int_equal(vu_front_set_mem_table(f), 0);
	assert_int_equal(vu_front_setup_queues(f, 2, 256), 0);
	for (uint32_t i = 0; i < 4; i++) {
		assert_int_equal(vu_front_vring_stop(f, i, &base), 0);
		assert_int_equal(base, 0);
	}
	assert_logged("dev0: ring 3 started", NULL);
	vu_front_close(f);
}

static void test_two_devices_negotiate_side_by_side(void **state)
{
	(void)state;
	struct vu_front *a = fresh_ack();
	struct vu_front *b = fresh(sock1, VU_FRONT_PROTOCOL_DEFAULT);

	assert_int_equal(vu_front_set_mem_table(a), 0);
	assert_int_equal(vu_front_set_mem_table(b), 0);
	assert_int_equal(vu_front_setup_queues(b, 1, 1024), 0);
	assert_int_equal(vu_front_setup_queues(a, 1, 512), 0);
	assert_int_equal(vu_front_queue_num(b), 128);
	vu_front_close(a);
	assert_int_equal(vu_front_vring_stop(b, 1, NULL), 0);
	vu_front_close(b);
}

static void test_second_frontend_is_turned_away(void **state)
{
	(void)state;
	struct vu_front *a = fresh_ack(), *b = NULL;
	struct vu_msg r;

	assert_int_equal(vu_front_connect(&b, sock0, 3000, IO_MS), 0);
	struct vu_hdr h = {VU_REQ_GET_FEATURES, VU_VERSION, 0};
	vu_front_raw_send(b, &h, NULL, 0, NULL, 0);
	assert_int_equal(vu_front_raw_recv(b, &r, IO_MS, NULL, NULL),
			 -ECONNRESET);
	vu_front_close(b);
	assert_alive(a);
	vu_front_close(a);
	assert_logged("second front-end", "turned away");
}

static void test_socket_serves_next_frontend_after_disconnect(void **state)
{
	(void)state;
	for (int i = 0; i < 3; i++) {
		struct vu_front *f = fresh_ack();
		assert_int_equal(vu_front_set_mem_table(f), 0);
		assert_int_equal(vu_front_setup_queues(f, 1, 256), 0);
		vu_front_close(f); /* no GET_VRING_BASE: vanished front-end */
	}
}

static void test_client_mode_connects_and_reconnects(void **state)
{
	(void)state;
	char path[160], spec[200], log2[160];
	struct vhostd_proc p2;

	snprintf(path, sizeof(path), "%s/client.sock", dir);
	snprintf(spec, sizeof(spec), "c0=vhost:%s,client", path);
	snprintf(log2, sizeof(log2), "%s/vhostd-client.log", dir);
	char *args[] = {"--port", spec, NULL};
	assert_int_equal(vhostd_start(&p2, vhostd_bin, log2, args), 0);
	for (int round = 0; round < 2; round++) {
		struct vu_front *f = NULL;
		struct vu_guestmem_opts mo = {.size = 8 << 20, .nregions = 2};
		assert_int_equal(vu_front_accept(&f, path, 8000, IO_MS), 0);
		assert_int_equal(vu_front_negotiate(f, VU_FRONT_FEATURES_DEFAULT,
						    VU_FRONT_PROTOCOL_DEFAULT), 0);
		assert_int_equal(vu_front_mem_init(f, &mo), 0);
		assert_int_equal(vu_front_set_mem_table(f), 0);
		assert_int_equal(vu_front_setup_queues(f, 1, 256), 0);
		vu_front_close(f);
	}
	assert_int_equal(vhostd_stop(&p2), 0);
	assert_true(log_has(log2, "c0: front-end connected", NULL));
}

static void test_hugetlbfs_guest_memory_is_mapped(void **state)
{
	(void)state;
	struct vu_front *f = NULL;
	struct vu_guestmem_opts mo = {.size = 8 << 20, .nregions = 2,
				      .backing = VU_GUESTMEM_MEMFD_HUGE};

	assert_int_equal(vu_front_connect(&f, sock0, 3000, IO_MS), 0);
	assert_int_equal(vu_front_negotiate(f, VU_FRONT_FEATURES_DEFAULT,
					    VU_FRONT_PROTOCOL_DEFAULT), 0);
	if (vu_front_mem_init(f, &mo) != 0) {
		vu_front_close(f);
		skip(); /* no free 2 MiB pages on this host */
	}
	assert_int_equal(vu_front_set_mem_table(f), 0);
	assert_int_equal(vu_front_setup_queues(f, 1, 256), 0);
	assert_int_equal(vu_front_vring_stop(f, 0, NULL), 0);
	assert_logged("dev0", "huge pages of 2048 KiB");
	vu_front_close(f);
}

/* REM_MEM_REG of the region a started ring lives in: accepted (the front-end
 * owns its memory), the mapping goes, and the ring stops being usable
 * instead of pointing into unmapped memory. */
static void test_removing_a_ring_region_unmaps_it_safely(void **state)
{
	(void)state;
	struct vu_front *f = fresh_ack();
	uint32_t base;

	assert_int_equal(vu_front_add_mem_reg(f, 0), 0);
	assert_int_equal(vu_front_setup_queues(f, 1, 256), 0);
	assert_int_equal(vu_front_rem_mem_reg(f, 0), 0);
	assert_logged("dev0: ring 0 (size 256): descriptor table",
		      "outside guest memory");
	assert_int_equal(vu_front_vring_stop(f, 0, &base), 0);
	assert_int_equal(base, 0);
	assert_int_equal(vu_front_add_mem_reg(f, 0), 0); /* and back */
	assert_alive(f);
	vu_front_close(f);
}

/* Hostile input ---------------------------------------------------- */

static void test_short_payload_is_nacked(void **state)
{
	(void)state;
	struct vu_front *f = fresh_ack();
	uint32_t four = 1;

	expect_nack(f, VU_REQ_SET_FEATURES, &four, 4, NULL, 0);
	assert_logged("VHOST_USER_SET_FEATURES: payload size 4", NULL);
	vu_front_close(f);
}

static void test_wrong_size_without_reply_ack_closes(void **state)
{
	(void)state;
	struct vu_front *f = fresh(sock0, 0);
	uint8_t pl[16] = {0};

	expect_closed(f, VU_REQ_SET_VRING_NUM, VU_VERSION, pl, 16, 16);
	assert_logged("VHOST_USER_SET_VRING_NUM: payload size 16", NULL);
}

static void test_oversized_payload_closes(void **state)
{
	(void)state;
	struct vu_front *f = fresh_ack();

	expect_closed(f, VU_REQ_SET_FEATURES, VU_VERSION, NULL, 1u << 20, 0);
	assert_logged("malformed message header", NULL);
}

static void test_bad_version_bits_close(void **state)
{
	(void)state;
	struct vu_front *f = fresh_ack();

	expect_closed(f, VU_REQ_GET_FEATURES, 0x2, NULL, 0, 0);
}

static void test_reply_flag_in_request_is_refused(void **state)
{
	(void)state;
	struct vu_front *f = fresh_ack();

	expect_closed(f, VU_REQ_GET_FEATURES, VU_VERSION | VU_FLAG_REPLY, NULL,
		      0, 0);
	assert_logged("bits a request may not carry", NULL);
}

static void test_unknown_request_id_is_nacked_by_name(void **state)
{
	(void)state;
	struct vu_front *f = fresh_ack();

	expect_nack(f, 99, NULL, 0, NULL, 0);
	assert_logged("unknown request id 99", NULL);
	expect_nack(f, VU_REQ_GET_INFLIGHT_FD, NULL, 0, NULL, 0);
	assert_logged("VHOST_USER_GET_INFLIGHT_FD (31)", "not offer");
	vu_front_close(f);
}

static void test_missing_and_extra_fds_are_refused_and_closed(void **state)
{
	(void)state;
	struct vu_front *f = fresh_ack();
	uint64_t kick0 = 0;
	int fds[3];

	for (int i = 0; i < 3; i++)
		fds[i] = memfd_create("extra", MFD_CLOEXEC);
	expect_nack(f, VU_REQ_SET_VRING_KICK, &kick0, 8, NULL, 0);
	assert_logged("SET_VRING_KICK ring 0: no-fd flag 0 but 0 fds", NULL);
	expect_nack(f, VU_REQ_SET_OWNER, NULL, 0, fds, 3);
	assert_logged("VHOST_USER_SET_OWNER: 3 fds attached", NULL);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	vu_front_close(f);
}

static void test_vring_index_out_of_range_is_nacked(void **state)
{
	(void)state;
	struct vu_front *f = fresh_ack();
	struct vu_vring_state st = {.index = 8, .num = 256};
	uint64_t call = 200 | VU_VRING_NOFD_MASK;

	expect_nack(f, VU_REQ_SET_VRING_NUM, &st, 8, NULL, 0);
	assert_logged("vring index 8 out of range (device has 8 rings)", NULL);
	expect_nack(f, VU_REQ_SET_VRING_CALL, &call, 8, NULL, 0);
	vu_front_close(f);
}

static void test_bad_ring_sizes_are_nacked(void **state)
{
	(void)state;
	struct vu_front *f = fresh_ack();
	uint32_t sizes[] = {0, 1000, 65536};

	for (unsigned i = 0; i < 3; i++) {
		struct vu_vring_state st = {.index = 0, .num = sizes[i]};
		expect_nack(f, VU_REQ_SET_VRING_NUM, &st, 8, NULL, 0);
	}
	assert_logged("size 65536: must be a power of two", NULL);
	vu_front_close(f);
}

static void test_ring_outside_guest_memory_is_nacked(void **state)
{
	(void)state;
	struct vu_front *f = fresh_ack();
	struct vu_vring_state st = {.index = 0, .num = 256};
	struct vu_hdr h = {VU_REQ_SET_VRING_NUM,
			   VU_VERSION | VU_FLAG_NEED_REPLY, 8};
	struct vu_msg rep;

	assert_int_equal(vu_front_set_mem_table(f), 0);
	assert_int_equal(vu_front_raw_send(f, &h, &st, 8, NULL, 0), 0);
	assert_int_equal(vu_front_raw_recv(f, &rep, IO_MS, NULL, NULL), 1);
	assert_int_equal(rep.payload.u64, 0);
	const struct vu_guestmem_region *r = &vu_front_mem(f)->regions[0];
	uint64_t uva = (uint64_t)(uintptr_t)r->uva;
	/* A 256-entry table is 4 KiB: starting 4 KiB - 16 before the end of
	 * the region, its last entry lies outside guest memory. */
	struct vu_vring_addr a = {
		.index = 0, .desc_user_addr = uva + r->size - 4096 + 16,
		.avail_user_addr = uva, .used_user_addr = uva + 8192,
	};
	expect_nack(f, VU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
	assert_logged("descriptor table at 0x", "outside guest memory");
	vu_front_close(f);
}

static void test_vring_addr_before_mem_table_is_nacked(void **state)
{
	(void)state;
	struct vu_front *f = fresh_ack();
	struct vu_vring_addr a = {.index = 1};

	expect_nack(f, VU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
	assert_logged("SET_VRING_ADDR before any memory table", NULL);
	vu_front_close(f);
}

/* One region of a memfd of file_size bytes, sent with SET_MEM_TABLE. */
static void nack_region(struct vu_front *f, struct vu_mem_region *regs,
			uint32_t n, uint64_t file_size)
{
	struct vu_mem_table t = {.nregions = n};
	int fds[VU_MEM_TABLE_MAX_REGIONS];

	for (uint32_t i = 0; i < n; i++) {
		fds[i] = memfd_create("g", MFD_CLOEXEC);
		assert_int_equal(ftruncate(fds[i], (off_t)file_size), 0);
		t.regions[i] = regs[i];
	}
	expect_nack(f, VU_REQ_SET_MEM_TABLE, &t, 8 + 32 * n, fds, (int)n);
	for (uint32_t i = 0; i < n; i++)
		close(fds[i]);
}

static void test_bad_memory_regions_are_nacked(void **state)
{
	(void)state;
	struct vu_front *f = fresh_ack();
	const uint64_t M = 1 << 20;
	struct vu_mem_region overlap[2] = {
		{0, 2 * M, 0x10000000, 0}, {M, 2 * M, 0x20000000, 0}};
	struct vu_mem_region wrap = {UINT64_MAX - M + 1, 2 * M, 0x1000, 0};
	struct vu_mem_region zero = {0, 0, 0x1000, 0};
	struct vu_mem_region past = {0, 2 * M, 0x1000, 3 * M};

	nack_region(f, overlap, 2, 4 * M);
	assert_logged("regions overlap", NULL);
	nack_region(f, &wrap, 1, 4 * M);
	assert_logged("wraps around the address space", NULL);
	nack_region(f, &zero, 1, 4 * M);
	assert_logged("has zero size", NULL);
	nack_region(f, &past, 1, 4 * M);
	assert_logged("past the end of the file", NULL);
	vu_front_close(f);
}

static void test_more_regions_than_slots_are_refused(void **state)
{
	(void)state;
	struct vu_front *f = fresh_ack();
	int fd = memfd_create("slots", MFD_CLOEXEC);
	uint8_t nine[8 + 9 * 32] = {0};

	assert_int_equal(ftruncate(fd, 510 * 4096), 0);
	*(uint32_t *)nine = 9; /* SET_MEM_TABLE takes at most 8 */
	expect_nack(f, VU_REQ_SET_MEM_TABLE, nine, sizeof(nine), NULL, 0);
	for (uint64_t i = 0; i <= 509; i++) {
		struct vu_mem_single s = {.region = {i * 8192, 4096,
					  0x40000000 + i * 8192, i * 4096}};
		struct vu_hdr h = {VU_REQ_ADD_MEM_REG,
				   VU_VERSION | VU_FLAG_NEED_REPLY, sizeof(s)};
		struct vu_msg r;
		assert_int_equal(vu_front_raw_send(f, &h, &s, sizeof(s), &fd, 1),
				 0);
		assert_int_equal(vu_front_raw_recv(f, &r, IO_MS, NULL, NULL), 1);
		if (i < 509)
			assert_int_equal(r.payload.u64, 0);
		else
			assert_int_equal(r.payload.u64, ENOSPC);
	}
	assert_logged("ADD_MEM_REG: all 509 slots in use", NULL);
	close(fd);
	vu_front_close(f);
}

static void test_wrong_state_requests_are_refused(void **state)
{
	(void)state;
	struct vu_front *f = NULL;
	uint64_t bogus = BIT_ULL(19);
	struct vu_msg r;

	/* Protocol features acked that were never offered. */
	f = fresh_ack();
	expect_nack(f, VU_REQ_SET_PROTOCOL_FEATURES, &bogus, 8, NULL, 0);
	assert_logged("SET_PROTOCOL_FEATURES 0x80000 acks bits", NULL);
	vu_front_close(f);
	/* GET_QUEUE_NUM without MQ negotiated: a reply request, so closed. */
	assert_int_equal(vu_front_connect(&f, sock0, 3000, IO_MS), 0);
	struct vu_hdr h = {VU_REQ_GET_QUEUE_NUM, VU_VERSION, 0};
	vu_front_raw_send(f, &h, NULL, 0, NULL, 0);
	assert_int_equal(vu_front_raw_recv(f, &r, IO_MS, NULL, NULL),
			 -ECONNRESET);
	assert_logged("protocol feature MQ (bit 0) was not negotiated", NULL);
	vu_front_close(f);
}

static void test_frontend_vanishing_mid_message_is_survived(void **state)
{
	(void)state;
	struct vu_front *f = fresh_ack();
	int fd = memfd_create("half", MFD_CLOEXEC);
	struct vu_hdr h = {VU_REQ_SET_MEM_TABLE, VU_VERSION, 40};

	/* Header and 10 of 40 payload bytes, with an fd, then gone. */
	assert_int_equal(vu_front_raw_send(f, &h, "0123456789", 10, &fd, 1), 0);
	close(fd);
	vu_front_close(f);
	f = fresh_ack(); /* half a header this time */
	int s = vu_front_sock(f);
	assert_int_equal(write(s, "\x05\x00\x00", 3), 3);
	vu_front_close(f);
	f = fresh_ack();
	assert_alive(f);
	vu_front_close(f);
}

/* Send GET_FEATURES on s and never read a reply, until s takes no more
 * for 500 ms (the daemon stopped reading) or breaks (it hung up). */
static void flood_without_reading(int s)
{
	struct vu_hdr h = {VU_REQ_GET_FEATURES, VU_VERSION, 0};

	for (;;) {
		ssize_t n = send(s, &h, sizeof(h), MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == (ssize_t)sizeof(h))
			continue;
		if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			return;
		struct pollfd p = {.fd = s, .events = POLLOUT};
		if (poll(&p, 1, 500) <= 0 || (p.revents & (POLLERR | POLLHUP)))
			return;
	}
}

/*
 * --fd hands vhostd a connected socket the front-end created, blocking or
 * not.  A front-end that floods requests and never reads the replies must
 * lose its connection, not stop the control thread: another device in the
 * same daemon still completes a handshake.
 */
static struct vhostd_proc d2; /* the --fd daemon */

/* Stop the --fd daemon also when its test failed (it may hang). */
static int stop_d2(void **state)
{
	(void)state;
	if (d2.pid > 0) {
		kill(d2.pid, SIGKILL);
		waitpid(d2.pid, NULL, 0);
		d2.pid = 0;
	}
	return 0;
}

static void test_blocking_fd_frontend_that_never_reads_stalls_no_device(
	void **state)
{
	(void)state;
	char sock2[160], log2[160], fdarg[32], port[200];
	int sv[2];

	snprintf(sock2, sizeof(sock2), "%s/other.sock", dir);
	snprintf(log2, sizeof(log2), "%s/vhostd-fd.log", dir);
	/* sv[1] (blocking, inherited) is the daemon's end. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(fcntl(sv[0], F_SETFD, FD_CLOEXEC), 0);
	snprintf(fdarg, sizeof(fdarg), "--fd=%d", sv[1]);
	snprintf(port, sizeof(port), "other=vhost:%s", sock2);
	char *args[] = {fdarg, "--port", port, NULL};
	assert_int_equal(vhostd_start(&d2, vhostd_bin, log2, args), 0);
	close(sv[1]);
	assert_true(wait_path(sock2, 5000));

	flood_without_reading(sv[0]);
	struct vu_front *f = NULL;
	assert_int_equal(vu_front_connect(&f, sock2, 3000, IO_MS), 0);
	uint64_t offered = 0;
	assert_int_equal(vu_front_get_features(f, &offered), 0);
	assert_true(offered & BIT_ULL(VIRTIO_F_VERSION_1));
	vu_front_close(f);
	msleep(20);
	assert_true(log_has(log2, "cannot send the", "front-end not reading"));
	assert_true(vhostd_alive(&d2));
	close(sv[0]);
	assert_int_equal(vhostd_stop(&d2), 0);
}

/* Runs last: after every hostile test the daemon holds exactly the fds it
 * held idle, and the other device still works. */
static void test_daemon_kept_serving_and_leaked_no_fd(void **state)
{
	(void)state;
	struct vu_front *b = fresh(sock1, VU_FRONT_PROTOCOL_DEFAULT);

	assert_int_equal(vu_front_set_mem_table(b), 0);
	assert_int_equal(vu_front_setup_queues(b, 1, 256), 0);
	vu_front_close(b);
	int n = -1;
	for (int i = 0; i < 100 && n != idle_fds; i++) {
		msleep(20);
		n = count_fds(proc.pid);
	}
	assert_int_equal(n, idle_fds);
	assert_true(vhostd_alive(&proc));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_handshake_two_queue_pairs),
		cmocka_unit_test(test_two_devices_negotiate_side_by_side),
		cmocka_unit_test(test_second_frontend_is_turned_away),
		cmocka_unit_test(test_socket_serves_next_frontend_after_disconnect),
		cmocka_unit_test(test_client_mode_connects_and_reconnects),
		cmocka_unit_test(test_hugetlbfs_guest_memory_is_mapped),
		cmocka_unit_test(test_removing_a_ring_region_unmaps_it_safely),
		cmocka_unit_test(test_short_payload_is_nacked),
		cmocka_unit_test(test_wrong_size_without_reply_ack_closes),
		cmocka_unit_test(test_oversized_payload_closes),
		cmocka_unit_test(test_bad_version_bits_close),
		cmocka_unit_test(test_reply_flag_in_request_is_refused),
		cmocka_unit_test(test_unknown_request_id_is_nacked_by_name),
		cmocka_unit_test(test_missing_and_extra_fds_are_refused_and_closed),
		cmocka_unit_test(test_vring_index_out_of_range_is_nacked),
		cmocka_unit_test(test_bad_ring_sizes_are_nacked),
		cmocka_unit_test(test_ring_outside_guest_memory_is_nacked),
		cmocka_unit_test(test_vring_addr_before_mem_table_is_nacked),
		cmocka_unit_test(test_bad_memory_regions_are_nacked),
		cmocka_unit_test(test_more_regions_than_slots_are_refused),
		cmocka_unit_test(test_wrong_state_requests_are_refused),
		cmocka_unit_test(test_frontend_vanishing_mid_message_is_survived),
		cmocka_unit_test_teardown(
			test_blocking_fd_frontend_that_never_reads_stalls_no_device,
			stop_d2),
		cmocka_unit_test(test_daemon_kept_serving_and_leaked_no_fd),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s PATH-TO-VHOSTD\n", argv[0]);
		return 2;
	}
	vhostd_bin = argv[1];
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
