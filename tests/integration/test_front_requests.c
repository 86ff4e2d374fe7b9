/* SPDX-License-Identifier: MIT */
/*
 * The front-end library (control/frontend/vu_front.h, vu_front_req.h,
 * vu_front_backend.h) against a real vhostd, one typed call per request of
 * the vhost-user spec (ids 1..43): the requests vhostd serves succeed with
 * the answers its README documents; the ones it refuses come back as the
 * negative errno of its ack (or, for requests with a reply body, as a
 * closed connection), with the reason in vu_front_why(), and vhostd keeps
 * serving the next connection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/eventfd.h>
#include <sys/mman.h>

#include "control/frontend/vu_front.h"
#include "control/frontend/vu_front_req.h"
#include "vhostd_proc.h"

#define IO_MS 3000
#define MAC "52:54:00:aa:bb:cc"

static const char *vhostd_bin;
static char dir[64], sock[128], logpath[128];
static struct vhostd_proc proc;

static int group_setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vhostd-fr.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(sock, sizeof(sock), "%s/dev0.sock", dir);
	snprintf(logpath, sizeof(logpath), "%s/vhostd.log", dir);
	char p0[200];
	snprintf(p0, sizeof(p0), "dev0=vhost:%s,queues=2,mac=" MAC ",mtu=1500",
		 sock);
	char *args[] = {"--port", p0, "--reflect", "dev0", NULL};
	if (vhostd_start(&proc, vhostd_bin, logpath, args) < 0 ||
	    !wait_path(sock, 5000))
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	int rc = vhostd_stop(&proc);
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return rc == 0 && system(cmd) == 0 ? 0 : -1;
}

#define PROTO_ALL                                                          \
	(VU_FRONT_PROTOCOL_DEFAULT | BIT_ULL(VU_PROTOCOL_F_LOG_SHMFD) |     \
	 BIT_ULL(VU_PROTOCOL_F_RARP) | BIT_ULL(VU_PROTOCOL_F_MTU) |          \
	 BIT_ULL(VU_PROTOCOL_F_BACKEND_REQ) | BIT_ULL(VU_PROTOCOL_F_CONFIG) | \
	 BIT_ULL(VU_PROTOCOL_F_RESET_DEVICE) | BIT_ULL(VU_PROTOCOL_F_STATUS))

/* Connected, negotiated with every protocol feature vhostd offers, 16 MiB
 * of memfd memory in one region and its table sent. */
static struct vu_front *fresh(void)
{
	struct vu_front *f = NULL;
	struct vu_guestmem_opts mo = {.size = 16 << 20, .nregions = 1};

	assert_int_equal(vu_front_connect(&f, sock, 3000, IO_MS), 0);
	assert_int_equal(vu_front_negotiate(f, VU_FRONT_FEATURES_DEFAULT |
					    BIT_ULL(VIRTIO_NET_F_MTU) |
					    BIT_ULL(VIRTIO_NET_F_MAC) |
					    BIT_ULL(VIRTIO_NET_F_STATUS),
					    PROTO_ALL), 0);
	assert_int_equal(vu_front_protocol_acked(f), PROTO_ALL);
	assert_int_equal(vu_front_mem_init(f, &mo), 0);
	assert_int_equal(vu_front_set_mem_table(f), 0);
	return f;
}

static void assert_alive(struct vu_front *f)
{
	uint64_t v;
	assert_int_equal(vu_front_get_features(f, &v), 0);
}

static void assert_why(struct vu_front *f, const char *what)
{
	if (!strstr(vu_front_why(f), what))
		fail_msg("reason '%s' does not name %s", vu_front_why(f), what);
}

/* 1-3, 15-17, 36: what vu_front_negotiate() does, step by step. */
static void test_negotiation_requests(void **state)
{
	(void)state;
	struct vu_front *f = NULL;
	uint64_t v;

	assert_int_equal(vu_front_connect(&f, sock, 3000, IO_MS), 0);
	assert_int_equal(vu_front_set_owner(f), 0);
	assert_int_equal(vu_front_get_features(f, &v), 0);
	assert_true(v & BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES));
	assert_int_equal(vu_front_get_protocol_features(f, &v), 0);
	assert_int_equal(v & PROTO_ALL, PROTO_ALL);
	assert_int_equal(vu_front_set_protocol_features(f, PROTO_ALL), 0);
	assert_int_equal(vu_front_get_queue_num(f, &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(vu_front_get_max_mem_slots(f, &v), 0);
	assert_int_equal(v, 509);
	assert_int_equal(vu_front_set_features(f, VU_FRONT_FEATURES_DEFAULT),
			 0);
	vu_front_close(f);
}

/* 4-14, 18: rings by the single requests, then stop and restart. */
static void test_ring_requests(void **state)
{
	(void)state;
	struct vu_front *f = fresh();
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	uint32_t base = 7;

	assert_int_equal(vu_front_vring_setup(f, 0, 256), 0);
	const struct vu_front_vring *vr = vu_front_vring(f, 0);
	struct vu_vring_addr a = {
		.index = 0, .desc_user_addr = (uintptr_t)vr->desc,
		.used_user_addr = (uintptr_t)vr->used,
		.avail_user_addr = (uintptr_t)vr->avail,
	};
	assert_int_equal(vu_front_vring_stop(f, 0, &base), 0);
	assert_int_equal(base, 0);
	assert_int_equal(vu_front_set_vring_num(f, 0, 256), 0);
	assert_int_equal(vu_front_set_vring_base(f, 0, 0), 0);
	assert_int_equal(vu_front_set_vring_addr(f, &a), 0);
	assert_int_equal(vu_front_set_vring_kick(f, 0, efd), 0);
	assert_int_equal(vu_front_set_vring_call(f, 0, -1), 0); /* polling */
	assert_int_equal(vu_front_set_vring_err(f, 0, efd), 0);
	assert_int_equal(vu_front_vring_enable(f, 0, true), 0);
	assert_int_equal(vu_front_set_log_fd(f, efd), 0);
	/* A ring index beyond the device's rings: refused by the ack. */
	assert_int_equal(vu_front_set_vring_num(f, 4, 256), -ERANGE);
	assert_why(f, "VHOST_USER_SET_VRING_NUM");
	assert_int_equal(vu_front_reset_owner(f), 0);
	assert_alive(f);
	close(efd);
	vu_front_close(f);
}

/* 19-21, 24-25, 34, 39-40: device requests. */
static void test_device_requests(void **state)
{
	(void)state;
	struct vu_front *f = fresh();
	static const uint8_t mac[6] = {0x52, 0x54, 0, 0xaa, 0xbb, 0xcc};
	uint8_t cfg[12], st = 0;

	assert_int_equal(vu_front_setup_queues(f, 1, 256), 0);
	assert_int_equal(vu_front_send_rarp(f, mac), 0);
	assert_int_equal(vu_front_net_set_mtu(f, 1500), 0);
	assert_int_equal(vu_front_net_set_mtu(f, 10), -EINVAL);
	assert_int_equal(vu_front_get_config(f, 0, sizeof(cfg), 0, cfg), 0);
	assert_memory_equal(cfg, mac, 6);
	/* The MAC is read-only but for migration. */
	assert_true(vu_front_set_config(f, 0, 6, VU_CONFIG_FLAG_WRITABLE,
					mac) < 0);
	assert_why(f, "SET_CONFIG");
	assert_int_equal(vu_front_set_config(f, 0, 6,
					     VU_CONFIG_FLAG_MIGRATION, mac),
			 0);
	assert_int_equal(vu_front_set_status(f, 0x0f), 0);
	assert_int_equal(vu_front_get_status(f, &st), 0);
	assert_int_equal(st, 0x0f);
	assert_int_equal(vu_front_backend_open(f, NULL, NULL), 0);
	assert_true(vu_front_backend_fd(f) >= 0);
	assert_int_equal(vu_front_backend_poll(f, 50), 0); /* nothing sent */
	assert_int_equal(vu_front_reset_device(f), 0);
	assert_int_equal(vu_front_get_status(f, &st), 0);
	assert_int_equal(st, 0);
	vu_front_close(f);
}

/* 5 (mem table), 6 (log base), 37-38: memory requests. */
static void test_memory_requests(void **state)
{
	(void)state;
	struct vu_front *f = fresh();
	struct vu_guestmem_opts mo = {.backing = VU_GUESTMEM_MEMFD};
	int slot = vu_guestmem_add_region(vu_front_mem(f), &mo, 1ULL << 32,
					  1 << 20);
	int log = memfd_create("log", MFD_CLOEXEC);

	assert_true(slot > 0);
	assert_int_equal(vu_front_add_mem_reg(f, (uint32_t)slot), 0);
	assert_int_equal(vu_front_rem_mem_reg(f, (uint32_t)slot), 0);
	assert_int_equal(vu_front_rem_mem_reg(f, (uint32_t)slot), -ENOENT);
	assert_int_equal(ftruncate(log, 1 << 20), 0);
	assert_int_equal(vu_front_set_log_base(f, log, 1 << 20, 0), 0);
	close(log);
	vu_front_close(f);
}

/* The requests vhostd refuses by name: each comes back as vhostd's ack,
 * EOPNOTSUPP, and the connection stays. */
static void test_refused_requests_give_errno(void **state)
{
	(void)state;
	struct vu_front *f = fresh();
	int efd = eventfd(0, EFD_CLOEXEC);
	int bfd = 0;
	struct vu_iotlb m = {.type = VU_IOTLB_UPDATE, .size = 4096};
	struct vu_inflight in = {.mmap_size = 4096};

	assert_int_equal(vu_front_iotlb_msg(f, &m), -EOPNOTSUPP);
	assert_why(f, "VHOST_USER_IOTLB_MSG");
	assert_int_equal(vu_front_set_vring_endian(f, 0, false), -EOPNOTSUPP);
	assert_int_equal(vu_front_close_crypto_session(f, 1), -EOPNOTSUPP);
	assert_int_equal(vu_front_postcopy_listen(f), -EOPNOTSUPP);
	assert_int_equal(vu_front_postcopy_end(f), -EOPNOTSUPP);
	assert_int_equal(vu_front_set_inflight_fd(f, &in, efd), -EOPNOTSUPP);
	assert_int_equal(vu_front_gpu_set_socket(f, efd), -EOPNOTSUPP);
	assert_int_equal(vu_front_vring_kick_inband(f, 0), -EOPNOTSUPP);
	assert_int_equal(vu_front_set_device_state_fd(f, VU_TRANSFER_SAVE,
		VU_TRANSFER_PHASE_STOPPED, efd, &bfd), -EOPNOTSUPP);
	assert_int_equal(bfd, -1);
	assert_why(f, "SET_DEVICE_STATE_FD");
	assert_int_equal(vu_front_check_device_state(f), -EOPNOTSUPP);
	assert_alive(f);
	close(efd);
	vu_front_close(f);
}

/* Refused requests with a reply body: vhostd closes the connection (its
 * refusal policy), the next connection is served. */
static void test_refused_reply_requests_close(void **state)
{
	(void)state;
	static const uint8_t uuid[16] = {1};
	uint8_t desc[64] = {0};
	struct vu_inflight in;
	int64_t id;

	for (int i = 0; i < 4; i++) {
		struct vu_front *f = fresh();
		int fd = -1, rc;
		switch (i) {
		case 0: rc = vu_front_create_crypto_session(f, desc,
					sizeof(desc), &id); break;
		case 1: rc = vu_front_postcopy_advise(f, &fd); break;
		case 2: rc = vu_front_get_inflight_fd(f, 2, 256, &in, &fd);
			break;
		default: rc = vu_front_get_shared_object(f, uuid, &fd); break;
		}
		assert_int_equal(rc, -ECONNRESET);
		assert_int_equal(fd, -1);
		vu_front_close(f);
	}
	struct vu_front *f = fresh();
	assert_alive(f);
	vu_front_close(f);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_negotiation_requests),
		cmocka_unit_test(test_ring_requests),
		cmocka_unit_test(test_device_requests),
		cmocka_unit_test(test_memory_requests),
		cmocka_unit_test(test_refused_requests_give_errno),
		cmocka_unit_test(test_refused_reply_requests_close),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s VHOSTD\n", argv[0]);
		return 2;
	}
	vhostd_bin = argv[1];
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
