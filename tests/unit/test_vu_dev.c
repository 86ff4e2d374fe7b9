/* SPDX-License-Identifier: MIT */
/*
 * test_vu_dev.c: the dispatcher (vu_dev_handle_msg), the handlers and the
 * ring state machine, driven the way a front-end drives them: one message
 * at a time, replies read back from the other end of a socketpair.
 *
 * Guest memory is one 1 MiB memfd at gpa 0, uva UVA.  Ring i of the full
 * set-up lives at uva UVA + i * 64 KiB (desc), + 16 KiB (avail),
 * + 32 KiB (used), size 256, base 7.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "control/backend/vu_dev.h"
#include "control/wire/vu_msg.h"
#include "test_util.h"

#define NVRINGS (2 * TU_MAX_QUEUE_PAIRS)
#define MEM_SIZE 0x100000u
#define UVA 0x7f1200000000ull
#define RING_SIZE 256u
#define RING_BASE 7u
#define VERSION VU_VERSION
#define NEED_REPLY (VU_VERSION | VU_FLAG_NEED_REPLY)
#define REPLY_FLAGS (VU_VERSION | VU_FLAG_REPLY)

struct fx {
	struct vu_dev dev;
	int sv[2];         /* sv[0]: the back-end's end; sv[1]: front-end */
	int memfd;         /* the test's own fd of guest memory */
	int base_fds;      /* open fds once the fixture is up */
	unsigned pauses, resumes;
};

static int whole_file_fds; /* open fds before the first test */

static void on_pause(struct vu_dev *dev, void *ctx)
{
	struct fx *f = ctx;

	(void)dev;
	f->pauses++;
}

static void on_resume(struct vu_dev *dev, void *ctx)
{
	struct fx *f = ctx;

	(void)dev;
	f->resumes++;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct vu_dev_cfg cfg = tu_dev_cfg();

	if (!f || vu_dev_init(&f->dev, &cfg) != 0)
		return -1;
	f->dev.ops = (struct vu_dev_ops){.pause = on_pause,
					 .resume = on_resume, .ctx = f};
	tu_socketpair(f->sv);
	f->memfd = tu_memfd(MEM_SIZE);
	f->base_fds = tu_count_fds();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	vu_dev_fini(&f->dev);
	tu_close_pair(f->sv);
	close(f->memfd);
	free(f);
	return 0;
}

/* Messages ------------------------------------------------------------ */

static int req(struct fx *f, uint32_t request, uint32_t flags,
	       const void *payload, uint32_t size, int *fds, int nfds)
{
	struct vu_msg m;

	tu_msg(&m, request, flags, payload, size);
	return vu_dev_handle_msg(&f->dev, f->sv[0], &m, fds, nfds);
}

static int req_u64(struct fx *f, uint32_t request, uint32_t flags,
		   uint64_t v)
{
	return req(f, request, flags, &v, sizeof(v), NULL, 0);
}

static int req_state(struct fx *f, uint32_t request, uint32_t index,
		     uint32_t num)
{
	struct vu_vring_state s = {.index = index, .num = num};

	return req(f, request, VERSION, &s, sizeof(s), NULL, 0);
}

/* Read the one reply the last request produced. */
static void get_reply(struct fx *f, struct vu_msg *r)
{
	struct vu_rx rx;

	vu_rx_init(&rx);
	assert_int_equal(vu_rx_read(&rx, f->sv[1]), 1);
	assert_int_equal(rx.nfds, 0);
	memcpy(r, &rx.msg, sizeof(struct vu_hdr) + rx.msg.hdr.size);
	assert_true(tu_sock_empty(f->sv[1]));
}

static void assert_no_reply(struct fx *f)
{
	assert_true(tu_sock_empty(f->sv[1]));
}

/* A REPLY_ACK answer to request: returns its u64. */
static uint64_t get_ack(struct fx *f, uint32_t request)
{
	struct vu_msg r;

	get_reply(f, &r);
	assert_int_equal(r.hdr.request, request);
	assert_int_equal(r.hdr.flags, REPLY_FLAGS);
	assert_int_equal(r.hdr.size, sizeof(uint64_t));
	return r.payload.u64;
}

static int dup_fd(int fd)
{
	int d = dup(fd);

	assert_true(d >= 0);
	return d;
}

/* Flows ---------------------------------------------------------------- */

/* GET_FEATURES, SET_FEATURES, and with bit 30 the protocol features. */
static void negotiate(struct fx *f, uint64_t features, uint64_t pfeatures)
{
	struct vu_msg r;

	assert_int_equal(req(f, VU_REQ_GET_FEATURES, VERSION, NULL, 0, NULL,
			     0), 0);
	get_reply(f, &r);
	assert_int_equal(req_u64(f, VU_REQ_SET_FEATURES, VERSION, features),
			 0);
	if (features & BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES)) {
		assert_int_equal(req(f, VU_REQ_GET_PROTOCOL_FEATURES, VERSION,
				     NULL, 0, NULL, 0), 0);
		get_reply(f, &r);
		assert_int_equal(req_u64(f, VU_REQ_SET_PROTOCOL_FEATURES,
					 VERSION, pfeatures), 0);
	}
	assert_int_equal(req(f, VU_REQ_SET_OWNER, VERSION, NULL, 0, NULL, 0),
			 0);
	assert_no_reply(f);
}

static void negotiate_all(struct fx *f)
{
	negotiate(f, TU_FEATURES, TU_PROTOCOL_FEATURES);
}

static int set_mem(struct fx *f, uint64_t uva)
{
	struct vu_mem_table t = {.nregions = 1};
	int fd = dup_fd(f->memfd);

	t.regions[0] = (struct vu_mem_region){
		.guest_phys_addr = 0, .memory_size = MEM_SIZE,
		.userspace_addr = uva, .mmap_offset = 0};
	return req(f, VU_REQ_SET_MEM_TABLE, VERSION, &t, 8 + 32, &fd, 1);
}

static struct vu_vring_addr ring_addr(uint32_t i)
{
	uint64_t at = UVA + (uint64_t)i * 0x10000;

	return (struct vu_vring_addr){.index = i, .desc_user_addr = at,
				      .avail_user_addr = at + 0x4000,
				      .used_user_addr = at + 0x8000};
}

static int set_addr(struct fx *f, const struct vu_vring_addr *a)
{
	return req(f, VU_REQ_SET_VRING_ADDR, VERSION, a, sizeof(*a), NULL, 0);
}

static int kick(struct fx *f, uint32_t i, int fd)
{
	uint64_t v = i | (fd < 0 ? VU_VRING_NOFD_MASK : 0);

	return req(f, VU_REQ_SET_VRING_KICK, VERSION, &v, sizeof(v),
		   fd < 0 ? NULL : &fd, fd < 0 ? 0 : 1);
}

/* The used index of the split ring at a, as the guest memory holds it
 * (a ring starts there: vu_ring.c); nothing when a is not mapped. */
static void set_used_idx(struct fx *f, const struct vu_vring_addr *a,
			 uint16_t idx)
{
	uint8_t *u = (uint8_t *)gmem_uva_to_hva(f->dev.mem.table,
						a->used_user_addr, 4);

	if (u)
		memcpy(u + 2, &idx, sizeof(idx));   /* vring_used.idx */
}

/* Num, base, addr, the used index at the base (a consistent ring), kick
 * (with an eventfd, returned), call (no fd). */
static int ring_setup(struct fx *f, uint32_t i)
{
	struct vu_vring_addr a = ring_addr(i);
	int efd = eventfd(0, EFD_CLOEXEC);

	assert_true(efd >= 0);
	assert_int_equal(req_state(f, VU_REQ_SET_VRING_NUM, i, RING_SIZE), 0);
	assert_int_equal(req_state(f, VU_REQ_SET_VRING_BASE, i, RING_BASE), 0);
	assert_int_equal(set_addr(f, &a), 0);
	set_used_idx(f, &a, RING_BASE);
	assert_int_equal(kick(f, i, dup_fd(efd)), 0);
	assert_int_equal(req_u64(f, VU_REQ_SET_VRING_CALL, VERSION,
				 i | VU_VRING_NOFD_MASK), 0);
	assert_no_reply(f);
	return efd;
}

/* Tests ------------------------------------------------------------------ */

static void test_get_features_reply_carries_offered_features(void **state)
{
	struct fx *f = *state;
	struct vu_msg r;

	assert_int_equal(req(f, VU_REQ_GET_FEATURES, VERSION, NULL, 0, NULL,
			     0), 0);
	get_reply(f, &r);
	assert_int_equal(r.hdr.request, VU_REQ_GET_FEATURES);
	assert_int_equal(r.hdr.flags, REPLY_FLAGS);
	assert_int_equal(r.hdr.size, sizeof(uint64_t));
	assert_int_equal(r.payload.u64, TU_FEATURES);
	/* need_reply on a request with a reply body: still one reply. */
	assert_int_equal(req(f, VU_REQ_GET_FEATURES, NEED_REPLY, NULL, 0,
			     NULL, 0), 0);
	get_reply(f, &r);
	assert_int_equal(r.payload.u64, TU_FEATURES);
	assert_int_equal(req(f, VU_REQ_GET_PROTOCOL_FEATURES, VERSION, NULL,
			     0, NULL, 0), 0);
	get_reply(f, &r);
	assert_int_equal(r.hdr.request, VU_REQ_GET_PROTOCOL_FEATURES);
	assert_int_equal(r.hdr.flags, REPLY_FLAGS);
	assert_int_equal(r.payload.u64, TU_PROTOCOL_FEATURES);
}

static void test_set_features_unoffered_bit_closes_connection(void **state)
{
	struct fx *f = *state;

	assert_true(req_u64(f, VU_REQ_SET_FEATURES, VERSION,
			    BIT_ULL(VIRTIO_F_VERSION_1) |
			    BIT_ULL(VIRTIO_NET_F_CSUM)) < 0);
	assert_no_reply(f);
	assert_false(f->dev.features_set);
	assert_int_equal(f->dev.features, 0);
	assert_int_equal(f->dev.refusals, 1);
}

static void test_refusal_acked_with_errno_under_reply_ack(void **state)
{
	struct fx *f = *state;

	negotiate_all(f);
	assert_int_equal(req_u64(f, VU_REQ_SET_FEATURES, NEED_REPLY,
				 TU_FEATURES | BIT_ULL(VIRTIO_NET_F_CSUM)), 0);
	assert_int_equal(get_ack(f, VU_REQ_SET_FEATURES), EINVAL);
	assert_int_equal(f->dev.features, TU_FEATURES);
	/* A refusal by the table is acked the same way. */
	assert_int_equal(req(f, 44, NEED_REPLY, NULL, 0, NULL, 0), 0);
	assert_int_equal(get_ack(f, 44), ENOSYS);
	assert_int_equal(req(f, VU_REQ_POSTCOPY_ADVISE, NEED_REPLY, NULL, 0,
			     NULL, 0), 0);
	assert_int_equal(get_ack(f, VU_REQ_POSTCOPY_ADVISE), ENOTSUP);
	assert_int_equal(f->dev.refusals, 3);
}

static void test_success_acked_with_zero_under_reply_ack(void **state)
{
	struct fx *f = *state;

	negotiate_all(f);
	assert_int_equal(req_state(f, VU_REQ_SET_VRING_NUM, 0, 64), 0);
	assert_no_reply(f);                     /* no need_reply, no ack */
	struct vu_vring_state s = {.index = 1, .num = 128};
	assert_int_equal(req(f, VU_REQ_SET_VRING_NUM, NEED_REPLY, &s,
			     sizeof(s), NULL, 0), 0);
	assert_int_equal(get_ack(f, VU_REQ_SET_VRING_NUM), 0);
	assert_int_equal(f->dev.vr[1].num, 128);
}

static void test_set_features_without_bit_30_enables_every_ring(void **state)
{
	struct fx *f = *state;

	negotiate(f, BIT_ULL(VIRTIO_F_VERSION_1) | BIT_ULL(VIRTIO_NET_F_MAC),
		  0);
	for (uint32_t i = 0; i < NVRINGS; i++)
		assert_true(f->dev.vr[i].enabled);
	/* ... and SET_VRING_ENABLE is not part of that protocol. */
	assert_true(req_state(f, VU_REQ_SET_VRING_ENABLE, 0, 0) < 0);
	assert_true(f->dev.vr[0].enabled);
}

static void test_with_bit_30_rings_disabled_until_set_vring_enable(
	void **state)
{
	struct fx *f = *state;

	negotiate_all(f);
	for (uint32_t i = 0; i < NVRINGS; i++)
		assert_false(f->dev.vr[i].enabled);
	assert_int_equal(req_state(f, VU_REQ_SET_VRING_ENABLE, 1, 1), 0);
	for (uint32_t i = 0; i < NVRINGS; i++)
		assert_int_equal(f->dev.vr[i].enabled, i == 1);
	assert_int_equal(req_state(f, VU_REQ_SET_VRING_ENABLE, 1, 0), 0);
	assert_false(f->dev.vr[1].enabled);
	assert_no_reply(f);
}

static void test_set_vring_enable_value_2_refused(void **state)
{
	struct fx *f = *state;

	negotiate_all(f);
	assert_true(req_state(f, VU_REQ_SET_VRING_ENABLE, 0, 2) < 0);
	assert_false(f->dev.vr[0].enabled);
	assert_int_equal(req_state(f, VU_REQ_SET_VRING_ENABLE, 0, 1), 0);
	assert_true(req_state(f, VU_REQ_SET_VRING_ENABLE, 0, UINT32_MAX) < 0);
	assert_true(f->dev.vr[0].enabled);      /* unchanged by the refusal */
}

static void test_vring_num_is_power_of_two_at_most_32768(void **state)
{
	struct fx *f = *state;
	static const uint32_t bad[] = {0, 3, 255, 32769, 65536, UINT32_MAX};

	negotiate_all(f);
	assert_int_equal(req_state(f, VU_REQ_SET_VRING_NUM, 0, 256), 0);
	assert_int_equal(f->dev.vr[0].num, 256);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_true(req_state(f, VU_REQ_SET_VRING_NUM, 0, bad[i]) < 0);
		assert_int_equal(f->dev.vr[0].num, 256);
	}
	assert_int_equal(req_state(f, VU_REQ_SET_VRING_NUM, 0, 32768), 0);
	assert_int_equal(f->dev.vr[0].num, 32768);
	assert_int_equal(req_state(f, VU_REQ_SET_VRING_NUM, 0, 1), 0);
	assert_int_equal(f->dev.vr[0].num, 1);
}

static void test_vring_size_and_base_change_while_started_refused(
	void **state)
{
	struct fx *f = *state;

	negotiate_all(f);
	assert_int_equal(set_mem(f, UVA), 0);
	int efd = ring_setup(f, 0);
	assert_true(vu_vring_ready(&f->dev, 0));
	assert_true(req_state(f, VU_REQ_SET_VRING_NUM, 0, 128) < 0);
	assert_int_equal(f->dev.vr[0].num, RING_SIZE);
	assert_true(req_state(f, VU_REQ_SET_VRING_BASE, 0, 0) < 0);
	assert_int_equal(f->dev.vr[0].base, RING_BASE);
	assert_true(vu_vring_ready(&f->dev, 0));
	/* Stopped by GET_VRING_BASE, it may change again. */
	struct vu_msg r;
	assert_int_equal(req_state(f, VU_REQ_GET_VRING_BASE, 0, 0), 0);
	get_reply(f, &r);
	assert_int_equal(req_state(f, VU_REQ_SET_VRING_NUM, 0, 128), 0);
	assert_int_equal(f->dev.vr[0].num, 128);
	close(efd);
}

static void assert_addr_refused(struct fx *f, const struct vu_vring_addr *a)
{
	assert_true(set_addr(f, a) < 0);
	assert_false(f->dev.vr[a->index].addr_set);
	assert_null(f->dev.vr[a->index].desc);
}

static void test_vring_addr_misaligned_refused_ring_not_ready(void **state)
{
	struct fx *f = *state;
	struct vu_vring_addr a;

	negotiate_all(f);
	assert_int_equal(set_mem(f, UVA), 0);
	assert_int_equal(req_state(f, VU_REQ_SET_VRING_NUM, 0, RING_SIZE), 0);
	a = ring_addr(0);
	a.desc_user_addr += 8;          /* virtio: 16-byte aligned */
	assert_addr_refused(f, &a);
	a = ring_addr(0);
	a.avail_user_addr += 1;         /* 2-byte aligned */
	assert_addr_refused(f, &a);
	a = ring_addr(0);
	a.used_user_addr += 2;          /* 4-byte aligned */
	assert_addr_refused(f, &a);
	a = ring_addr(0);
	a.flags = 1u << 1;              /* only VHOST_VRING_F_LOG exists */
	assert_addr_refused(f, &a);
	assert_int_equal(kick(f, 0, -1), 0);
	assert_true(f->dev.vr[0].started);
	assert_false(vu_vring_ready(&f->dev, 0));
}

static void test_vring_addr_outside_guest_memory_refused_ring_not_ready(
	void **state)
{
	struct fx *f = *state;
	struct vu_vring_addr a;

	negotiate_all(f);
	assert_int_equal(set_mem(f, UVA), 0);
	assert_int_equal(req_state(f, VU_REQ_SET_VRING_NUM, 0, RING_SIZE), 0);
	a = ring_addr(0);
	a.desc_user_addr = UVA + MEM_SIZE - 0x800; /* 4 KiB table, 2 in */
	assert_addr_refused(f, &a);
	a = ring_addr(0);
	a.used_user_addr = UVA + MEM_SIZE;          /* just past the end */
	assert_addr_refused(f, &a);
	a = ring_addr(0);
	a.avail_user_addr = UVA - 0x1000;           /* just before */
	assert_addr_refused(f, &a);
	a = ring_addr(0);
	a.desc_user_addr = 0x4000;                  /* a gpa, not a uva */
	assert_addr_refused(f, &a);
	assert_int_equal(kick(f, 0, -1), 0);
	assert_false(vu_vring_ready(&f->dev, 0));
	/* A good address after the refusals makes it ready. */
	a = ring_addr(0);
	assert_int_equal(set_addr(f, &a), 0);
	assert_true(vu_vring_ready(&f->dev, 0));
}

/*
 * The ring parts are accessed with atomics at their host addresses, so the
 * virtio alignments (2.7: desc 16, avail 2, used 4) must hold there, not
 * only for the uvas: a region whose mmap_offset and userspace_addr disagree
 * modulo 16 shifts every ring in it.  Found by fuzz-vu-msg (UBSan:
 * misaligned struct vring_used in vq_init).
 */
static void test_ring_misaligned_in_host_memory_refused_ring_not_ready(
	void **state)
{
	struct fx *f = *state;
	struct vu_mem_table t = {.nregions = 1};
	int fd = dup_fd(f->memfd);

	negotiate_all(f);
	t.regions[0] = (struct vu_mem_region){
		.guest_phys_addr = 0, .memory_size = MEM_SIZE - 0x1000,
		.userspace_addr = UVA, .mmap_offset = 1};
	assert_int_equal(req(f, VU_REQ_SET_MEM_TABLE, VERSION, &t, 8 + 32,
			     &fd, 1), 0);
	assert_int_equal(req_state(f, VU_REQ_SET_VRING_NUM, 0, RING_SIZE), 0);
	struct vu_vring_addr a = ring_addr(0);   /* uvas aligned */
	assert_addr_refused(f, &a);
	assert_int_equal(kick(f, 0, -1), 0);
	assert_false(vu_vring_ready(&f->dev, 0));
}

static void test_full_ring_setup_makes_ring_ready(void **state)
{
	struct fx *f = *state;

	negotiate_all(f);
	assert_int_equal(set_mem(f, UVA), 0);
	for (uint32_t i = 0; i < NVRINGS; i++)
		assert_false(vu_vring_ready(&f->dev, i));
	int efd = ring_setup(f, 1);
	const struct vu_vring *vr = &f->dev.vr[1];
	assert_true(vu_vring_ready(&f->dev, 1));
	assert_false(vu_vring_ready(&f->dev, 0));
	assert_false(vu_vring_ready(&f->dev, 2));
	assert_int_equal(vr->num, RING_SIZE);
	assert_int_equal(vr->base, RING_BASE);
	assert_true(tu_same_file(vr->kick_fd, efd));
	assert_int_equal(vr->call_fd, -1);
	/* The ring parts point into guest memory where the uvas say. */
	const uint8_t *g = gmem_uva_to_hva(f->dev.mem.table, UVA, 1);
	assert_non_null(g);
	assert_ptr_equal(vr->desc, g + 0x10000);
	assert_ptr_equal(vr->avail, g + 0x14000);
	assert_ptr_equal(vr->used, g + 0x18000);
	assert_int_equal(vr->used_gpa, 0x18000);
	close(efd);
}

static void test_ring_translation_follows_memory_table(void **state)
{
	struct fx *f = *state;

	negotiate_all(f);
	assert_int_equal(set_mem(f, UVA), 0);
	int efd = ring_setup(f, 0);
	assert_true(vu_vring_ready(&f->dev, 0));
	/* Same memory announced at another uva: the ring's uvas are gone. */
	assert_int_equal(set_mem(f, UVA + 0x10000000), 0);
	assert_false(vu_vring_ready(&f->dev, 0));
	assert_int_equal(set_mem(f, UVA), 0);
	assert_true(vu_vring_ready(&f->dev, 0));
	close(efd);
}

static void test_kick_nofd_flag_with_fd_attached_refused_fd_closed(
	void **state)
{
	struct fx *f = *state;
	int efd = eventfd(0, EFD_CLOEXEC);

	assert_true(efd >= 0);
	negotiate_all(f);
	int d = dup_fd(efd);
	uint64_t v = 0 | VU_VRING_NOFD_MASK;
	assert_true(req(f, VU_REQ_SET_VRING_KICK, VERSION, &v, sizeof(v), &d,
			1) < 0);
	assert_false(tu_fd_is_open(d));
	assert_false(f->dev.vr[0].started);
	assert_int_equal(f->dev.vr[0].kick_fd, -1);
	/* The opposite mismatch: no flag, no fd. */
	v = 0;
	assert_true(req(f, VU_REQ_SET_VRING_KICK, VERSION, &v, sizeof(v), NULL,
			0) < 0);
	assert_false(f->dev.vr[0].started);
	/* Same rule for CALL and ERR. */
	d = dup_fd(efd);
	v = 1 | VU_VRING_NOFD_MASK;
	assert_true(req(f, VU_REQ_SET_VRING_CALL, VERSION, &v, sizeof(v), &d,
			1) < 0);
	assert_false(tu_fd_is_open(d));
	d = dup_fd(efd);
	assert_true(req(f, VU_REQ_SET_VRING_ERR, VERSION, &v, sizeof(v), &d,
			1) < 0);
	assert_false(tu_fd_is_open(d));
	close(efd);
	assert_int_equal(tu_count_fds(), f->base_fds);
}

static void test_get_vring_base_returns_base_and_stops_ring(void **state)
{
	struct fx *f = *state;
	struct vu_msg r;

	negotiate_all(f);
	assert_int_equal(set_mem(f, UVA), 0);
	int efd = ring_setup(f, 3);
	assert_true(vu_vring_ready(&f->dev, 3));
	assert_int_equal(tu_count_fds(), f->base_fds + 2); /* efd + its dup */
	assert_int_equal(req_state(f, VU_REQ_GET_VRING_BASE, 3, 0), 0);
	get_reply(f, &r);
	assert_int_equal(r.hdr.request, VU_REQ_GET_VRING_BASE);
	assert_int_equal(r.hdr.flags, REPLY_FLAGS);
	assert_int_equal(r.hdr.size, sizeof(struct vu_vring_state));
	assert_int_equal(r.payload.state.index, 3);
	assert_int_equal(r.payload.state.num, RING_BASE);
	assert_false(f->dev.vr[3].started);
	assert_false(vu_vring_ready(&f->dev, 3));
	assert_int_equal(f->dev.vr[3].kick_fd, -1);
	assert_int_equal(tu_count_fds(), f->base_fds + 1); /* dup closed */
	close(efd);
}

/* Packed rings: any size 1..32768, 4-byte driver and device areas of 4
 * bytes each, and the vhost-user base encoding (bits 0-14 avail index,
 * 15 avail wrap, 16-30 used index, 31 used wrap). */
static void test_packed_ring_size_addr_and_base(void **state)
{
	struct fx *f = *state;
	struct vu_vring *vr = &f->dev.vr[0];
	struct vu_vring_addr a;
	struct vu_msg r;

	f->dev.cfg.features |= BIT_ULL(VIRTIO_F_RING_PACKED);
	negotiate(f, TU_FEATURES | BIT_ULL(VIRTIO_F_RING_PACKED),
		  TU_PROTOCOL_FEATURES);
	assert_int_equal(set_mem(f, UVA), 0);
	assert_true(req_state(f, VU_REQ_SET_VRING_NUM, 0, 0) < 0);
	assert_true(req_state(f, VU_REQ_SET_VRING_NUM, 0, 32769) < 0);
	assert_int_equal(req_state(f, VU_REQ_SET_VRING_NUM, 0, 32768), 0);
	assert_int_equal(req_state(f, VU_REQ_SET_VRING_NUM, 0, 1), 0);
	assert_int_equal(req_state(f, VU_REQ_SET_VRING_NUM, 0, 200), 0);
	assert_int_equal(vr->num, 200);
	/* DPDK virtio-user's fresh ring: only the avail half, used = avail */
	assert_int_equal(req_state(f, VU_REQ_SET_VRING_BASE, 0, 0x8000), 0);
	assert_int_equal(vr->base, 0x80008000u);
	/* QEMU: both halves, taken as sent */
	assert_int_equal(req_state(f, VU_REQ_SET_VRING_BASE, 0,
				   5u | (1u << 15) | (3u << 16)), 0);
	assert_int_equal(vr->base, 5u | (1u << 15) | (3u << 16));
	/* a position outside the ring is refused, the base kept */
	assert_true(req_state(f, VU_REQ_SET_VRING_BASE, 0, 200u | (1u << 15)) <
		    0);
	assert_true(req_state(f, VU_REQ_SET_VRING_BASE, 0,
			      1u | (250u << 16)) < 0);
	assert_int_equal(vr->base, 5u | (1u << 15) | (3u << 16));
	/* areas: 4-byte aligned (a split avail ring needs 2 only) */
	a = ring_addr(0);
	a.avail_user_addr += 2;
	assert_addr_refused(f, &a);
	a = ring_addr(0);
	a.used_user_addr = UVA + MEM_SIZE;       /* just past the end */
	assert_addr_refused(f, &a);
	a = ring_addr(0);
	a.used_user_addr = UVA + MEM_SIZE - 4;   /* the last 4 bytes: fine */
	a.desc_user_addr = UVA + MEM_SIZE - 16 * 200;
	assert_int_equal(set_addr(f, &a), 0);
	a = ring_addr(0);
	assert_int_equal(set_addr(f, &a), 0);
	assert_int_equal(kick(f, 0, -1), 0);
	assert_true(vu_vring_ready(&f->dev, 0));
	assert_int_equal(vr->desc_gpa, 0);
	assert_int_equal(vr->used_gpa, 0x8000);
	/* GET_VRING_BASE hands the encoding back */
	assert_int_equal(req_state(f, VU_REQ_GET_VRING_BASE, 0, 0), 0);
	get_reply(f, &r);
	assert_int_equal(r.payload.state.num, 5u | (1u << 15) | (3u << 16));
	assert_false(vr->started);
}

/* A split ring starts at the used index in guest memory: a base behind
 * it (stale) or ahead of it is replaced, with a warning. */
static void test_split_ring_starts_at_the_used_index(void **state)
{
	struct fx *f = *state;
	struct vu_vring_addr a = ring_addr(1);
	int efd = eventfd(0, EFD_CLOEXEC);

	assert_true(efd >= 0);
	negotiate_all(f);
	assert_int_equal(set_mem(f, UVA), 0);
	for (int k = 0; k < 3; k++) {
		uint16_t base = (uint16_t[]){7, 40, 65535}[k];
		uint16_t used = (uint16_t[]){7, 12, 3}[k];
		assert_int_equal(req_state(f, VU_REQ_SET_VRING_NUM, 1,
					   RING_SIZE), 0);
		assert_int_equal(req_state(f, VU_REQ_SET_VRING_BASE, 1, base),
				 0);
		assert_int_equal(set_addr(f, &a), 0);
		set_used_idx(f, &a, used);
		assert_int_equal(kick(f, 1, dup_fd(efd)), 0);
		assert_true(f->dev.vr[1].started);
		assert_int_equal(f->dev.vr[1].base, used);
		assert_int_equal(req_state(f, VU_REQ_GET_VRING_BASE, 1, 0), 0);
		struct vu_msg r;
		get_reply(f, &r);
		assert_int_equal(r.payload.state.num, used);
	}
	close(efd);
}

/* Without RING_PACKED negotiated nothing changes for split rings. */
static void test_split_ring_base_is_a_16_bit_index(void **state)
{
	struct fx *f = *state;

	f->dev.cfg.features |= BIT_ULL(VIRTIO_F_RING_PACKED);
	negotiate_all(f);
	assert_int_equal(req_state(f, VU_REQ_SET_VRING_NUM, 0, 256), 0);
	assert_true(req_state(f, VU_REQ_SET_VRING_NUM, 0, 200) < 0);
	assert_int_equal(req_state(f, VU_REQ_SET_VRING_BASE, 0, 0x8000), 0);
	assert_int_equal(f->dev.vr[0].base, 0x8000);
	assert_true(req_state(f, VU_REQ_SET_VRING_BASE, 0, 0x10000) < 0);
}

/* Ring layout and SET_FEATURES ------------------------------------------ */

/* Offer what the test negotiates beyond TU_FEATURES, then negotiate. */
static void negotiate_with(struct fx *f, uint64_t extra)
{
	f->dev.cfg.features |= extra;
	negotiate(f, TU_FEATURES | extra, TU_PROTOCOL_FEATURES);
}

/* SET_FEATURES v with need_reply: the ack. */
static uint64_t set_features_acked(struct fx *f, uint64_t v)
{
	assert_int_equal(req_u64(f, VU_REQ_SET_FEATURES, NEED_REPLY, v), 0);
	return get_ack(f, VU_REQ_SET_FEATURES);
}

/* SET_VRING_KICK (no fd) with need_reply: the ack. */
static uint64_t kick_acked(struct fx *f, uint32_t i)
{
	uint64_t v = i | VU_VRING_NOFD_MASK;

	assert_int_equal(req(f, VU_REQ_SET_VRING_KICK, NEED_REPLY, &v,
			     sizeof(v), NULL, 0), 0);
	return get_ack(f, VU_REQ_SET_VRING_KICK);
}

/* Ring 0 of num entries at ring_addr(0), except its used ring (packed:
 * device area) in the last 4 bytes of guest memory; not started. */
static void ring0_used_at_end(struct fx *f, uint32_t num)
{
	struct vu_vring_addr a = ring_addr(0);

	a.used_user_addr = UVA + MEM_SIZE - 4;
	assert_int_equal(req_state(f, VU_REQ_SET_VRING_NUM, 0, num), 0);
	assert_int_equal(req_state(f, VU_REQ_SET_VRING_BASE, 0, 0x8000), 0);
	assert_int_equal(set_addr(f, &a), 0);
}

/* The case: a started packed ring whose 4-byte device area ends
 * guest memory would, as a split ring, have a used ring of 6 + 8 * 256
 * bytes there.  The layout of a started ring is fixed. */
static void test_set_features_flipping_packed_on_started_ring_is_refused(
	void **state)
{
	struct fx *f = *state;
	const uint64_t pk = TU_FEATURES | BIT_ULL(VIRTIO_F_RING_PACKED);

	negotiate_with(f, BIT_ULL(VIRTIO_F_RING_PACKED));
	assert_int_equal(set_mem(f, UVA), 0);
	ring0_used_at_end(f, 256);
	assert_int_equal(kick(f, 0, -1), 0);
	void *used = f->dev.vr[0].used;
	assert_non_null(used);
	assert_true(vu_vring_ready(&f->dev, 0));
	/* With REPLY_ACK: an error ack, nothing changed. */
	assert_int_equal(set_features_acked(f, TU_FEATURES), EBUSY);
	assert_int_equal(f->dev.features, pk);
	assert_true(vu_vring_ready(&f->dev, 0));
	assert_ptr_equal(f->dev.vr[0].used, used);
	/* Without: the connection is closed. */
	assert_true(req_u64(f, VU_REQ_SET_FEATURES, VERSION, TU_FEATURES) < 0);
	assert_no_reply(f);
	assert_int_equal(f->dev.features, pk);
	assert_int_equal(f->dev.refusals, 2);
	/* The same features again (QEMU re-sends them) are fine. */
	assert_int_equal(set_features_acked(f, pk), 0);
	assert_true(vu_vring_ready(&f->dev, 0));
}

static void test_set_features_flipping_event_idx_on_started_ring_is_refused(
	void **state)
{
	struct fx *f = *state;
	const uint64_t ev = BIT_ULL(VIRTIO_RING_F_EVENT_IDX);

	negotiate_with(f, ev);
	assert_int_equal(set_mem(f, UVA), 0);
	int efd = ring_setup(f, 0);
	assert_int_equal(set_features_acked(f, TU_FEATURES), EBUSY);
	assert_int_equal(f->dev.features, TU_FEATURES | ev);
	/* Stopped, the rings may take another layout; started again, the
	 * other way round is refused too. */
	struct vu_msg r;
	assert_int_equal(req_state(f, VU_REQ_GET_VRING_BASE, 0, 0), 0);
	get_reply(f, &r);
	assert_int_equal(set_features_acked(f, TU_FEATURES), 0);
	assert_int_equal(kick(f, 0, -1), 0);
	assert_true(vu_vring_ready(&f->dev, 0));
	assert_int_equal(set_features_acked(f, TU_FEATURES | ev), EBUSY);
	assert_int_equal(f->dev.features, TU_FEATURES);
	close(efd);
}

/* virtio 1.x 3.1.1: features are fixed once the driver runs; a change
 * needs a device reset, around which front-ends stop the rings.  Only
 * vhost's own VHOST_F_LOG_ALL is switched on a running device. */
static void test_set_features_changing_any_virtio_bit_on_started_ring_is_refused(
	void **state)
{
	struct fx *f = *state;
	static const unsigned bits[] = {VIRTIO_NET_F_MTU, VIRTIO_NET_F_MQ,
					VIRTIO_F_VERSION_1,
					VHOST_USER_F_PROTOCOL_FEATURES};

	negotiate_all(f);
	assert_int_equal(set_mem(f, UVA), 0);
	int efd = ring_setup(f, 3);
	for (unsigned i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		assert_int_equal(set_features_acked(f, TU_FEATURES &
						    ~BIT_ULL(bits[i])), EBUSY);
		assert_int_equal(f->dev.features, TU_FEATURES);
	}
	assert_true(vu_vring_ready(&f->dev, 3));
	close(efd);
}

/* QEMU's vhost_dev_set_log(): SET_FEATURES with LOG_ALL set, and later
 * cleared, while the rings run (live migration). */
static void test_set_features_toggling_log_all_on_started_ring_is_accepted(
	void **state)
{
	struct fx *f = *state;
	const uint64_t nolog = TU_FEATURES & ~BIT_ULL(VHOST_F_LOG_ALL);

	negotiate(f, nolog, TU_PROTOCOL_FEATURES);
	assert_int_equal(set_mem(f, UVA), 0);
	int efd = ring_setup(f, 0);
	assert_int_equal(set_features_acked(f, TU_FEATURES), 0);
	assert_int_equal(f->dev.features, TU_FEATURES);
	assert_true(vu_vring_ready(&f->dev, 0));
	assert_int_equal(set_features_acked(f, nolog), 0);
	assert_int_equal(f->dev.features, nolog);
	assert_true(vu_vring_ready(&f->dev, 0));
	close(efd);
}

/* Not started yet, the ring follows the new layout: its packed areas are
 * checked again as a split ring's, and SET_VRING_KICK refuses to start a
 * ring whose used ring would run past the end of guest memory. */
static void test_packed_areas_checked_as_split_ring_when_ring_starts(
	void **state)
{
	struct fx *f = *state;

	negotiate_with(f, BIT_ULL(VIRTIO_F_RING_PACKED));
	assert_int_equal(set_mem(f, UVA), 0);
	ring0_used_at_end(f, 256);
	assert_non_null(f->dev.vr[0].used);
	assert_int_equal(set_features_acked(f, TU_FEATURES), 0);
	assert_null(f->dev.vr[0].used);          /* no stale translation */
	assert_int_equal(kick_acked(f, 0), EFAULT);
	assert_false(f->dev.vr[0].started);
	assert_false(vu_vring_ready(&f->dev, 0));
	/* A used ring that fits makes the split ring start. */
	struct vu_vring_addr a = ring_addr(0);
	assert_int_equal(set_addr(f, &a), 0);
	assert_int_equal(kick_acked(f, 0), 0);
	assert_true(vu_vring_ready(&f->dev, 0));
}

/* virtio 1.x 2.7: a split ring's size is a power of 2; packed (2.8) need
 * not be.  A packed ring of 200 entries never starts as a split ring. */
static void test_packed_size_no_power_of_two_never_starts_as_split_ring(
	void **state)
{
	struct fx *f = *state;

	negotiate_with(f, BIT_ULL(VIRTIO_F_RING_PACKED));
	assert_int_equal(set_mem(f, UVA), 0);
	struct vu_vring_addr a = ring_addr(0);
	assert_int_equal(req_state(f, VU_REQ_SET_VRING_NUM, 0, 200), 0);
	assert_int_equal(set_addr(f, &a), 0);
	assert_int_equal(set_features_acked(f, TU_FEATURES), 0);
	assert_null(f->dev.vr[0].desc);
	assert_int_equal(kick_acked(f, 0), EINVAL);
	assert_false(f->dev.vr[0].started);
	assert_false(vu_vring_ready(&f->dev, 0));
}

/* The other way: a split ring's avail ring is 2-byte aligned, a packed
 * ring's driver area 4-byte aligned (virtio 1.x 2.8.10). */
static void test_split_avail_alignment_checked_as_packed_when_ring_starts(
	void **state)
{
	struct fx *f = *state;
	const uint64_t pk = TU_FEATURES | BIT_ULL(VIRTIO_F_RING_PACKED);

	f->dev.cfg.features |= BIT_ULL(VIRTIO_F_RING_PACKED);
	negotiate_all(f);
	assert_int_equal(set_mem(f, UVA), 0);
	struct vu_vring_addr a = ring_addr(0);
	a.avail_user_addr += 2;
	assert_int_equal(req_state(f, VU_REQ_SET_VRING_NUM, 0, 256), 0);
	assert_int_equal(set_addr(f, &a), 0);
	assert_int_equal(set_features_acked(f, pk), 0);
	assert_null(f->dev.vr[0].avail);
	assert_int_equal(kick_acked(f, 0), EINVAL);
	assert_false(vu_vring_ready(&f->dev, 0));
}

static int get_config(struct fx *f, uint32_t offset, uint32_t size,
		      struct vu_msg *r)
{
	struct vu_config c = {.offset = offset, .size = size};
	uint32_t len = VU_CONFIG_HDR_SIZE + (size <= VU_MAX_CONFIG_SIZE ?
					     size : 0);
	int ret = req(f, VU_REQ_GET_CONFIG, VERSION, &c, len, NULL, 0);

	get_reply(f, r);
	assert_int_equal(r->hdr.request, VU_REQ_GET_CONFIG);
	assert_int_equal(r->hdr.flags, REPLY_FLAGS);
	return ret;
}

static void test_get_config_returns_virtio_net_config(void **state)
{
	struct fx *f = *state;
	struct vu_msg r;
	/* mac, status = LINK_UP, max_virtqueue_pairs = 2, mtu = 1500 (le) */
	static const uint8_t want[12] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
					 0x01, 0x00, 0x02, 0x00, 0xdc, 0x05};

	negotiate_all(f);
	assert_int_equal(get_config(f, 0, 12, &r), 0);
	assert_int_equal(r.hdr.size, VU_CONFIG_HDR_SIZE + 12);
	assert_int_equal(r.payload.config.offset, 0);
	assert_int_equal(r.payload.config.size, 12);
	assert_memory_equal(r.payload.config.region, want, 12);
	/* A window: max_virtqueue_pairs and mtu only. */
	assert_int_equal(get_config(f, 8, 4, &r), 0);
	assert_int_equal(r.payload.config.offset, 8);
	assert_int_equal(r.payload.config.size, 4);
	assert_memory_equal(r.payload.config.region, want + 8, 4);
	/* Past the fields, inside the 256 bytes: zeros. */
	assert_int_equal(get_config(f, 12, 16, &r), 0);
	for (unsigned i = 0; i < 16; i++)
		assert_int_equal(r.payload.config.region[i], 0);
}

static void test_get_config_past_256_bytes_replies_empty(void **state)
{
	struct fx *f = *state;
	struct vu_msg r;

	negotiate_all(f);
	assert_int_equal(get_config(f, 250, 10, &r), 0);
	assert_int_equal(r.hdr.size, 0);
	assert_int_equal(get_config(f, 257, 0, &r), 0);
	assert_int_equal(r.hdr.size, 0);
	assert_int_equal(get_config(f, UINT32_MAX, 8, &r), 0);
	assert_int_equal(r.hdr.size, 0);
	/* size claims more than the payload carries */
	struct vu_config c = {.offset = 0, .size = 64};
	assert_int_equal(req(f, VU_REQ_GET_CONFIG, VERSION, &c,
			     VU_CONFIG_HDR_SIZE + 8, NULL, 0), 0);
	get_reply(f, &r);
	assert_int_equal(r.hdr.size, 0);
	/* the last byte exactly is fine */
	assert_int_equal(get_config(f, 255, 1, &r), 0);
	assert_int_equal(r.hdr.size, VU_CONFIG_HDR_SIZE + 1);
}

static void test_set_config_without_migration_flag_refused(void **state)
{
	struct fx *f = *state;
	static const uint8_t mac[6] = {0x02, 0, 0, 0, 0, 0x99};
	struct vu_config c = {.offset = 0, .size = 6,
			      .flags = VU_CONFIG_FLAG_WRITABLE};
	const uint8_t orig[6] = TU_MAC;

	negotiate_all(f);
	memcpy(c.region, mac, 6);
	assert_true(req(f, VU_REQ_SET_CONFIG, VERSION, &c,
			VU_CONFIG_HDR_SIZE + 6, NULL, 0) < 0);
	assert_memory_equal(f->dev.mac, orig, 6);
	/* With the migration flag the same write is taken. */
	c.flags = VU_CONFIG_FLAG_MIGRATION;
	assert_int_equal(req(f, VU_REQ_SET_CONFIG, VERSION, &c,
			     VU_CONFIG_HDR_SIZE + 6, NULL, 0), 0);
	assert_memory_equal(f->dev.mac, mac, 6);
	assert_no_reply(f);
}

/* SET_CONFIG (migration flag) of the 12 bytes with the given fields. */
static int set_config_all(struct fx *f, const uint8_t mac[6], uint16_t status,
			  uint16_t pairs, uint16_t mtu)
{
	struct vu_config c = {.offset = 0, .size = 12,
			      .flags = VU_CONFIG_FLAG_MIGRATION};
	uint16_t v[3] = {status, pairs, mtu};

	memcpy(c.region, mac, 6);
	memcpy(c.region + 6, v, sizeof(v)); /* little-endian host */
	return req(f, VU_REQ_SET_CONFIG, NEED_REPLY, &c,
		   VU_CONFIG_HDR_SIZE + 12, NULL, 0);
}

static void assert_config_is(struct fx *f, const uint8_t want[12])
{
	struct vu_msg r;

	assert_int_equal(get_config(f, 0, 12, &r), 0);
	assert_int_equal(r.hdr.size, VU_CONFIG_HDR_SIZE + 12);
	assert_memory_equal(r.payload.config.region, want, 12);
}

/* A refused SET_CONFIG changes no field: everything is checked before
 * anything is written. */
static void test_refused_set_config_changes_no_field(void **state)
{
	struct fx *f = *state;
	static const uint8_t mac[6] = {0x02, 0, 0, 0, 0, 0x77};
	/* TU_MAC, status LINK_UP, 2 queue pairs, mtu 1500 (le) */
	static const uint8_t orig[12] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
					 0x01, 0x00, 0x02, 0x00, 0xdc, 0x05};
	static const uint8_t taken[12] = {0x02, 0, 0, 0, 0, 0x77,
					  0x00, 0x00, 0x02, 0x00, 0x28, 0x23};

	negotiate_all(f);
	assert_int_equal(set_config_all(f, mac, 0, TU_MAX_QUEUE_PAIRS, 0), 0);
	assert_int_equal(get_ack(f, VU_REQ_SET_CONFIG), EINVAL); /* mtu 0 */
	assert_config_is(f, orig);
	assert_int_equal(set_config_all(f, mac, 0, 0xffff, 1500), 0);
	assert_int_equal(get_ack(f, VU_REQ_SET_CONFIG), EINVAL);
	assert_config_is(f, orig);
	/* Only the MTU, and it is bad: still nothing. */
	struct vu_config c = {.offset = 10, .size = 2,
			      .flags = VU_CONFIG_FLAG_MIGRATION};
	assert_int_equal(req(f, VU_REQ_SET_CONFIG, NEED_REPLY, &c,
			     VU_CONFIG_HDR_SIZE + 2, NULL, 0), 0);
	assert_int_equal(get_ack(f, VU_REQ_SET_CONFIG), EINVAL);
	assert_config_is(f, orig);
	/* A good one is taken whole. */
	assert_int_equal(set_config_all(f, mac, 0, TU_MAX_QUEUE_PAIRS, 9000),
			 0);
	assert_int_equal(get_ack(f, VU_REQ_SET_CONFIG), 0);
	assert_config_is(f, taken);
}

static void test_net_set_mtu_refused_without_virtio_net_f_mtu(void **state)
{
	struct fx *f = *state;

	negotiate(f, TU_FEATURES & ~BIT_ULL(VIRTIO_NET_F_MTU),
		  TU_PROTOCOL_FEATURES);
	assert_true(req_u64(f, VU_REQ_NET_SET_MTU, VERSION, 1500) < 0);
	assert_int_equal(f->dev.mtu, TU_MTU);
	assert_true(req_u64(f, VU_REQ_NET_SET_MTU, VERSION, 9000) < 0);
	assert_int_equal(f->dev.mtu, TU_MTU);
}

/* QEMU may send SET_PROTOCOL_FEATURES before SET_FEATURES; NET_SET_MTU
 * needs VIRTIO_NET_F_MTU acked, so it is refused until then. */
static void test_net_set_mtu_before_set_features_is_refused(void **state)
{
	struct fx *f = *state;

	assert_int_equal(req_u64(f, VU_REQ_SET_PROTOCOL_FEATURES, VERSION,
				 TU_PROTOCOL_FEATURES), 0);
	assert_int_equal(req_u64(f, VU_REQ_NET_SET_MTU, NEED_REPLY, 9000), 0);
	assert_int_equal(get_ack(f, VU_REQ_NET_SET_MTU), EPERM);
	assert_int_equal(f->dev.mtu, TU_MTU);
	assert_false(f->dev.features_set);
}

static void test_net_set_mtu_is_68_to_65535(void **state)
{
	struct fx *f = *state;

	negotiate_all(f);
	assert_true(req_u64(f, VU_REQ_NET_SET_MTU, VERSION, 67) < 0);
	assert_int_equal(f->dev.mtu, TU_MTU);
	assert_true(req_u64(f, VU_REQ_NET_SET_MTU, VERSION, 65536) < 0);
	assert_true(req_u64(f, VU_REQ_NET_SET_MTU, VERSION,
			    (1ull << 32) | 1500) < 0);
	assert_int_equal(f->dev.mtu, TU_MTU);
	assert_int_equal(req_u64(f, VU_REQ_NET_SET_MTU, VERSION, 68), 0);
	assert_int_equal(f->dev.mtu, 68);
	assert_int_equal(req_u64(f, VU_REQ_NET_SET_MTU, VERSION, 1500), 0);
	assert_int_equal(f->dev.mtu, 1500);
}

static void test_send_rarp_records_mac_and_frame_is_rarp(void **state)
{
	struct fx *f = *state;
	static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0xab, 0xcd, 0xef};
	uint64_t v = 0;
	uint8_t frame[64];

	negotiate_all(f);
	assert_false(f->dev.rarp_pending);
	memcpy(&v, mac, 6);
	assert_int_equal(req_u64(f, VU_REQ_SEND_RARP, VERSION, v), 0);
	assert_no_reply(f);
	assert_true(f->dev.rarp_pending);
	assert_memory_equal(f->dev.rarp_mac, mac, 6);

	memset(frame, 0xcc, sizeof(frame));
	assert_int_equal(vu_rarp_build(f->dev.rarp_mac, frame), 60);
	for (int i = 0; i < 6; i++)
		assert_int_equal(frame[i], 0xff);           /* broadcast */
	assert_memory_equal(frame + 6, mac, 6);             /* source */
	assert_int_equal(frame[12], 0x80);                  /* ethertype */
	assert_int_equal(frame[13], 0x35);
	assert_int_equal(frame[14] << 8 | frame[15], 1);    /* htype */
	assert_int_equal(frame[16] << 8 | frame[17], 0x0800);
	assert_int_equal(frame[18], 6);
	assert_int_equal(frame[19], 4);
	assert_int_equal(frame[20] << 8 | frame[21], 3);    /* opcode */
	assert_memory_equal(frame + 22, mac, 6);            /* sha */
	assert_memory_equal(frame + 32, mac, 6);            /* tha */
	for (int i = 42; i < 60; i++)
		assert_int_equal(frame[i], 0);              /* padding */
	for (int i = 60; i < 64; i++)
		assert_int_equal(frame[i], 0xcc);           /* not written */
}

static void test_quiesced_requests_pause_and_resume_datapath(void **state)
{
	struct fx *f = *state;
	struct vu_msg r;

	assert_int_equal(req(f, VU_REQ_GET_FEATURES, VERSION, NULL, 0, NULL,
			     0), 0);
	get_reply(f, &r);
	assert_int_equal(f->pauses, 0);
	assert_int_equal(req_u64(f, VU_REQ_SET_FEATURES, VERSION, TU_FEATURES),
			 0);
	assert_int_equal(f->pauses, 1);
	assert_int_equal(f->resumes, 1);
	/* Refused by the table: the datapath is not touched. */
	assert_true(req_state(f, VU_REQ_SET_VRING_NUM, NVRINGS, 256) < 0);
	assert_int_equal(f->pauses, 1);
	/* Refused by the handler: paused and resumed, never left paused. */
	assert_true(req_state(f, VU_REQ_SET_VRING_NUM, 0, 3) < 0);
	assert_int_equal(f->pauses, 2);
	assert_int_equal(f->resumes, 2);
}

static void test_reset_device_clears_rings_and_memory_keeps_session(
	void **state)
{
	struct fx *f = *state;
	int bsv[2];

	negotiate_all(f);
	tu_socketpair(bsv);
	int d = dup_fd(bsv[1]);
	assert_int_equal(req(f, VU_REQ_SET_BACKEND_REQ_FD, VERSION, NULL, 0, &d,
			     1), 0);
	assert_int_equal(set_mem(f, UVA), 0);
	int efd = ring_setup(f, 0);
	assert_int_equal(req_state(f, VU_REQ_SET_VRING_ENABLE, 0, 1), 0);
	assert_true(vu_vring_ready(&f->dev, 0));

	assert_int_equal(req(f, VU_REQ_RESET_DEVICE, VERSION, NULL, 0, NULL,
			     0), 0);
	assert_no_reply(f);
	for (uint32_t i = 0; i < NVRINGS; i++) {
		const struct vu_vring *vr = &f->dev.vr[i];
		assert_false(vu_vring_ready(&f->dev, i));
		assert_false(vr->started);
		assert_false(vr->enabled);
		assert_false(vr->addr_set);
		assert_int_equal(vr->num, 0);
		assert_int_equal(vr->base, 0);
		assert_int_equal(vr->kick_fd, -1);
	}
	assert_null(f->dev.mem.table);
	assert_int_equal(f->dev.mem.n, 0);
	assert_false(f->dev.features_set);
	assert_int_equal(f->dev.features, 0);
	/* Kept: the protocol features, ownership, the back-end channel. */
	assert_int_equal(f->dev.protocol_features, TU_PROTOCOL_FEATURES);
	assert_true(f->dev.owner);
	assert_true(tu_same_file(f->dev.backend_fd, bsv[1]));
	/* kick's dup closed; efd, the pair and the backend dup remain. */
	assert_int_equal(tu_count_fds(), f->base_fds + 1 + 2 + 1);
	/* Protocol-gated requests still work without renegotiating them. */
	assert_int_equal(req(f, VU_REQ_GET_QUEUE_NUM, VERSION, NULL, 0, NULL,
			     0), 0);
	struct vu_msg r;
	get_reply(f, &r);
	assert_int_equal(r.payload.u64, TU_MAX_QUEUE_PAIRS);
	close(efd);
	tu_close_pair(bsv);
}

static void test_disconnect_forgets_everything(void **state)
{
	struct fx *f = *state;
	int bsv[2];

	negotiate_all(f);
	tu_socketpair(bsv);
	int d = dup_fd(bsv[1]);
	assert_int_equal(req(f, VU_REQ_SET_BACKEND_REQ_FD, VERSION, NULL, 0, &d,
			     1), 0);
	d = dup_fd(bsv[1]);
	assert_int_equal(req(f, VU_REQ_SET_LOG_FD, VERSION, NULL, 0, &d, 1), 0);
	assert_int_equal(set_mem(f, UVA), 0);
	int efd = ring_setup(f, 0);
	d = efd; /* the err eventfd */
	uint64_t v = 1;
	assert_int_equal(req(f, VU_REQ_SET_VRING_ERR, VERSION, &v, sizeof(v),
			     &d, 1), 0);
	assert_int_equal(req_u64(f, VU_REQ_NET_SET_MTU, VERSION, 9000), 0);
	assert_int_equal(req_u64(f, VU_REQ_SET_STATUS, VERSION, 0x0f), 0);
	tu_close_pair(bsv);

	vu_dev_disconnect(&f->dev);
	assert_false(f->dev.owner);
	assert_false(f->dev.features_set);
	assert_int_equal(f->dev.features, 0);
	assert_int_equal(f->dev.protocol_features, 0);
	assert_int_equal(f->dev.status, 0);
	assert_int_equal(f->dev.mtu, TU_MTU);
	assert_int_equal(f->dev.backend_fd, -1);
	assert_int_equal(f->dev.log_fd, -1);
	assert_null(f->dev.mem.table);
	for (uint32_t i = 0; i < NVRINGS; i++) {
		assert_false(vu_vring_ready(&f->dev, i));
		assert_int_equal(f->dev.vr[i].num, 0);
		assert_int_equal(f->dev.vr[i].kick_fd, -1);
		assert_int_equal(f->dev.vr[i].err_fd, -1);
	}
	/* Every fd the device held is closed. */
	assert_int_equal(tu_count_fds(), f->base_fds);
	/* A new session has to negotiate again. */
	assert_true(req(f, VU_REQ_GET_QUEUE_NUM, VERSION, NULL, 0, NULL, 0) <
		    0);
	assert_no_reply(f);
}

/* vu_dev_init()/fini() close only fds the device owns.  fd 0 is made to
 * exist first, so that closing "fd 0 of a zeroed ring" would show. */
static void test_init_and_fini_close_no_foreign_fd(void **state)
{
	struct vu_dev_cfg cfg = tu_dev_cfg();
	struct vu_dev *d = calloc(1, sizeof(*d));
	int n = tu_count_fds();

	(void)state;
	assert_non_null(d);
	assert_true(tu_fd_is_open(0));
	assert_int_equal(vu_dev_init(d, &cfg), 0);
	assert_true(tu_fd_is_open(0));
	for (uint32_t i = 0; i < d->nvrings; i++) {
		assert_int_equal(d->vr[i].kick_fd, -1);
		assert_int_equal(d->vr[i].call_fd, -1);
		assert_int_equal(d->vr[i].err_fd, -1);
	}
	assert_int_equal(d->log_fd, -1);
	assert_int_equal(d->backend_fd, -1);
	vu_dev_fini(d);
	assert_true(tu_fd_is_open(0));
	assert_int_equal(tu_count_fds(), n);
	free(d);
}

static void test_set_mem_table_fd_count_mismatch_refused_fds_closed(
	void **state)
{
	struct fx *f = *state;
	struct vu_mem_table t = {.nregions = 2};
	int fds[3];

	negotiate_all(f);
	for (int i = 0; i < 2; i++)
		t.regions[i] = (struct vu_mem_region){
			.guest_phys_addr = (uint64_t)i * 0x10000,
			.memory_size = 0x10000,
			.userspace_addr = UVA + (uint64_t)i * 0x10000,
			.mmap_offset = (uint64_t)i * 0x10000};
	/* One fd for two regions, then three. */
	fds[0] = dup_fd(f->memfd);
	assert_true(req(f, VU_REQ_SET_MEM_TABLE, VERSION, &t, 8 + 2 * 32, fds,
			1) < 0);
	for (int i = 0; i < 3; i++)
		fds[i] = dup_fd(f->memfd);
	assert_true(req(f, VU_REQ_SET_MEM_TABLE, VERSION, &t, 8 + 2 * 32, fds,
			3) < 0);
	/* nregions and payload size disagree. */
	for (int i = 0; i < 2; i++)
		fds[i] = dup_fd(f->memfd);
	assert_true(req(f, VU_REQ_SET_MEM_TABLE, VERSION, &t, 8 + 3 * 32, fds,
			2) < 0);
	assert_null(f->dev.mem.table);
	assert_int_equal(tu_count_fds(), f->base_fds);
	/* The well-formed one. */
	for (int i = 0; i < 2; i++)
		fds[i] = dup_fd(f->memfd);
	assert_int_equal(req(f, VU_REQ_SET_MEM_TABLE, VERSION, &t, 8 + 2 * 32,
			     fds, 2), 0);
	assert_non_null(f->dev.mem.table);
	assert_int_equal(f->dev.mem.table->n, 2);
	assert_int_equal(tu_count_fds(), f->base_fds);
}

static void test_set_log_base_maps_log_and_replies_zero(void **state)
{
	struct fx *f = *state;
	struct vu_log lg = {.mmap_size = 0x800, .mmap_offset = 0x1800};
	struct vu_msg r;
	uint8_t byte = 0;

	negotiate_all(f);
	int d = dup_fd(f->memfd);
	assert_int_equal(req(f, VU_REQ_SET_LOG_BASE, VERSION, &lg, sizeof(lg),
			     &d, 1), 0);
	get_reply(f, &r);
	assert_int_equal(r.hdr.request, VU_REQ_SET_LOG_BASE);
	assert_int_equal(r.hdr.size, sizeof(uint64_t));
	assert_int_equal(r.payload.u64, 0);
	assert_int_equal(f->dev.log.size, 0x800);
	/* Page 10 of the guest is bit 2 of byte 1 at file offset 0x1800. */
	assert_int_equal(dirty_log_mark(&f->dev.log, 10 * VHOST_LOG_PAGE, 1),
			 0);
	assert_int_equal(pread(f->memfd, &byte, 1, 0x1801), 1);
	assert_int_equal(byte, 1u << 2);
	/* A log that does not fit the file: refused, connection closed. */
	lg.mmap_offset = MEM_SIZE - 0x400;
	d = dup_fd(f->memfd);
	assert_true(req(f, VU_REQ_SET_LOG_BASE, VERSION, &lg, sizeof(lg), &d,
			1) < 0);
	assert_no_reply(f);
	assert_int_equal(f->dev.log.size, 0x800);   /* the old log stays */
	vu_dev_disconnect(&f->dev);
	assert_null(f->dev.log.base);
	assert_int_equal(tu_count_fds(), f->base_fds);
}

/* Hostile front-end: fds and sockets that could block ------------------- */

/* Fill sock's send side until the kernel says EAGAIN: the peer never reads. */
static void fill_until_eagain(int sock)
{
	char buf[4096] = {0};

	for (;;) {
		ssize_t n = send(sock, buf, sizeof(buf),
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
			return;
		}
	}
}

/* Spec, SET_VRING_KICK/CALL/ERR: "Set the event file descriptor ...";
 * vhostd writes call and err from a worker, so anything else is refused. */
static void test_ring_fd_that_is_not_an_eventfd_is_refused_and_closed(
	void **state)
{
	struct fx *f = *state;
	static const uint32_t reqs[] = {VU_REQ_SET_VRING_KICK,
					VU_REQ_SET_VRING_CALL,
					VU_REQ_SET_VRING_ERR};
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	negotiate_all(f);
	assert_int_equal(set_mem(f, UVA), 0);
	assert_int_equal(req_state(f, VU_REQ_SET_VRING_NUM, 1, RING_SIZE), 0);
	struct vu_vring_addr a = ring_addr(1);
	assert_int_equal(set_addr(f, &a), 0);
	for (unsigned k = 0; k < 3; k++) {
		/* A pipe's write end and a memfd: neither is an eventfd. */
		int bad[2] = {p[1], f->memfd};
		for (unsigned b = 0; b < 2; b++) {
			int d = dup_fd(bad[b]);
			uint64_t v = 1;
			assert_int_equal(req(f, reqs[k], NEED_REPLY, &v,
					     sizeof(v), &d, 1), 0);
			assert_int_equal(get_ack(f, reqs[k]), EINVAL);
			assert_false(tu_fd_is_open(d));
		}
	}
	assert_false(f->dev.vr[1].started);
	assert_int_equal(f->dev.vr[1].kick_fd, -1);
	assert_int_equal(f->dev.vr[1].call_fd, -1);
	assert_int_equal(f->dev.vr[1].err_fd, -1);
	close(p[0]);
	close(p[1]);
	assert_int_equal(tu_count_fds(), f->base_fds);
}

/* A front-end's blocking eventfd whose counter it holds at the maximum
 * would make a worker's write() to it wait forever (eventfd(2)). */
static void test_ring_eventfds_are_made_nonblocking(void **state)
{
	struct fx *f = *state;
	int efd = eventfd(0, EFD_CLOEXEC);
	uint64_t v, one = 1, max = 0xfffffffffffffffeull;

	assert_true(efd >= 0);
	negotiate_all(f);
	assert_int_equal(set_mem(f, UVA), 0);
	assert_int_equal(req_state(f, VU_REQ_SET_VRING_NUM, 0, RING_SIZE), 0);
	struct vu_vring_addr a = ring_addr(0);
	assert_int_equal(set_addr(f, &a), 0);
	int d = dup_fd(efd);
	v = 0;
	assert_int_equal(req(f, VU_REQ_SET_VRING_CALL, VERSION, &v, sizeof(v),
			     &d, 1), 0);
	d = dup_fd(efd);
	assert_int_equal(req(f, VU_REQ_SET_VRING_ERR, VERSION, &v, sizeof(v),
			     &d, 1), 0);
	assert_int_equal(kick(f, 0, dup_fd(efd)), 0);
	assert_true(fcntl(efd, F_GETFL) & O_NONBLOCK);
	assert_int_equal(write(efd, &max, sizeof(max)), sizeof(max));
	assert_int_equal(write(f->dev.vr[0].call_fd, &one, sizeof(one)), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(write(f->dev.vr[0].err_fd, &one, sizeof(one)), -1);
	assert_int_equal(errno, EAGAIN);
	close(efd);
}

/* A front-end that sends requests and never reads the replies (its socket
 * may be blocking: --fd) must not stop the control thread: the reply
 * fails and the connection is closed. */
static void test_reply_to_a_frontend_that_never_reads_does_not_block(
	void **state)
{
	struct fx *f = *state;

	fill_until_eagain(f->sv[0]);
	alarm(20); /* a hang fails the test instead of stalling the suite */
	int r = req(f, VU_REQ_GET_FEATURES, VERSION, NULL, 0, NULL, 0);
	alarm(0);
	assert_int_equal(r, -EAGAIN);
	r = req_u64(f, VU_REQ_SET_FEATURES, NEED_REPLY, TU_FEATURES);
	assert_int_equal(r, -EAGAIN);
}

/* The back-end channel is the front-end's socket, blocking or not; a
 * front-end that never reads it must not hang the control thread.  The
 * channel is dropped: a half-sent message would break its framing. */
static void test_config_change_to_a_backend_channel_never_read_does_not_block(
	void **state)
{
	struct fx *f = *state;
	int bsv[2];

	negotiate_all(f);
	tu_socketpair(bsv);
	int d = dup_fd(bsv[1]);
	assert_int_equal(req(f, VU_REQ_SET_BACKEND_REQ_FD, VERSION, NULL, 0, &d,
			     1), 0);
	assert_int_equal(vu_dev_notify_config_change(&f->dev), 0);
	fill_until_eagain(bsv[1]);
	alarm(20);
	int r = vu_dev_notify_config_change(&f->dev);
	alarm(0);
	assert_int_equal(r, -EAGAIN);
	assert_int_equal(f->dev.backend_fd, -1);
	assert_int_equal(vu_dev_notify_config_change(&f->dev), -ENOTCONN);
	tu_close_pair(bsv);
	assert_int_equal(tu_count_fds(), f->base_fds);
}

/* The back-end channel is a socket; anything else is refused and closed.
 * A second channel (or log fd) replaces the first, which is closed. */
static void test_backend_req_fd_not_a_socket_refused_replacements_close_old(
	void **state)
{
	struct fx *f = *state;
	int bsv[2], csv[2];

	negotiate_all(f);
	int d = dup_fd(f->memfd);
	assert_int_equal(req(f, VU_REQ_SET_BACKEND_REQ_FD, NEED_REPLY, NULL, 0,
			     &d, 1), 0);
	assert_int_equal(get_ack(f, VU_REQ_SET_BACKEND_REQ_FD), EINVAL);
	assert_false(tu_fd_is_open(d));
	assert_int_equal(f->dev.backend_fd, -1);
	tu_socketpair(bsv);
	tu_socketpair(csv);
	d = dup_fd(bsv[1]);
	assert_int_equal(req(f, VU_REQ_SET_BACKEND_REQ_FD, VERSION, NULL, 0, &d,
			     1), 0);
	d = dup_fd(csv[1]);
	assert_int_equal(req(f, VU_REQ_SET_BACKEND_REQ_FD, VERSION, NULL, 0, &d,
			     1), 0);
	assert_true(tu_same_file(f->dev.backend_fd, csv[1]));
	int efd = eventfd(0, EFD_CLOEXEC);
	assert_true(efd >= 0);
	d = dup_fd(efd);
	assert_int_equal(req(f, VU_REQ_SET_LOG_FD, VERSION, NULL, 0, &d, 1), 0);
	d = dup_fd(efd);
	assert_int_equal(req(f, VU_REQ_SET_LOG_FD, VERSION, NULL, 0, &d, 1), 0);
	/* Held: one channel, one log fd, besides the test's own four + efd. */
	assert_int_equal(tu_count_fds(), f->base_fds + 4 + 1 + 2);
	close(efd);
	tu_close_pair(bsv);
	tu_close_pair(csv);
	vu_dev_disconnect(&f->dev);
	assert_int_equal(tu_count_fds(), f->base_fds);
}

static int whole_file_setup(void **state)
{
	(void)state;
	/* Make sure fd 0 exists (meson may start us without stdin). */
	if (!tu_fd_is_open(0) && open("/dev/null", O_RDONLY) != 0)
		return -1;
	whole_file_fds = tu_count_fds();
	return 0;
}

static void test_no_fd_leaked_over_the_whole_file(void **state)
{
	(void)state;
	assert_int_equal(tu_count_fds(), whole_file_fds);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_and_fini_close_no_foreign_fd),
		T(test_get_features_reply_carries_offered_features),
		T(test_set_features_unoffered_bit_closes_connection),
		T(test_refusal_acked_with_errno_under_reply_ack),
		T(test_success_acked_with_zero_under_reply_ack),
		T(test_set_features_without_bit_30_enables_every_ring),
		T(test_with_bit_30_rings_disabled_until_set_vring_enable),
		T(test_set_vring_enable_value_2_refused),
		T(test_vring_num_is_power_of_two_at_most_32768),
		T(test_vring_size_and_base_change_while_started_refused),
		T(test_vring_addr_misaligned_refused_ring_not_ready),
		T(test_vring_addr_outside_guest_memory_refused_ring_not_ready),
		T(test_ring_misaligned_in_host_memory_refused_ring_not_ready),
		T(test_full_ring_setup_makes_ring_ready),
		T(test_ring_translation_follows_memory_table),
		T(test_kick_nofd_flag_with_fd_attached_refused_fd_closed),
		T(test_get_vring_base_returns_base_and_stops_ring),
		T(test_packed_ring_size_addr_and_base),
		T(test_split_ring_starts_at_the_used_index),
		T(test_split_ring_base_is_a_16_bit_index),
		T(test_set_features_flipping_packed_on_started_ring_is_refused),
		T(test_set_features_flipping_event_idx_on_started_ring_is_refused),
		T(test_set_features_changing_any_virtio_bit_on_started_ring_is_refused),
		T(test_set_features_toggling_log_all_on_started_ring_is_accepted),
		T(test_packed_areas_checked_as_split_ring_when_ring_starts),
		T(test_packed_size_no_power_of_two_never_starts_as_split_ring),
		T(test_split_avail_alignment_checked_as_packed_when_ring_starts),
		T(test_get_config_returns_virtio_net_config),
		T(test_get_config_past_256_bytes_replies_empty),
		T(test_set_config_without_migration_flag_refused),
		T(test_refused_set_config_changes_no_field),
		T(test_net_set_mtu_refused_without_virtio_net_f_mtu),
		T(test_net_set_mtu_before_set_features_is_refused),
		T(test_net_set_mtu_is_68_to_65535),
		T(test_send_rarp_records_mac_and_frame_is_rarp),
		T(test_quiesced_requests_pause_and_resume_datapath),
		T(test_reset_device_clears_rings_and_memory_keeps_session),
		T(test_set_mem_table_fd_count_mismatch_refused_fds_closed),
		T(test_set_log_base_maps_log_and_replies_zero),
		T(test_disconnect_forgets_everything),
		T(test_ring_fd_that_is_not_an_eventfd_is_refused_and_closed),
		T(test_ring_eventfds_are_made_nonblocking),
		T(test_reply_to_a_frontend_that_never_reads_does_not_block),
		T(test_config_change_to_a_backend_channel_never_read_does_not_block),
		T(test_backend_req_fd_not_a_socket_refused_replacements_close_old),
		cmocka_unit_test(test_no_fd_leaked_over_the_whole_file),
	};
#undef T

	return cmocka_run_group_tests(tests, whole_file_setup, NULL);
}
