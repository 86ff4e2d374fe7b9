/* SPDX-License-Identifier: MIT */
/*
 * test_ring_layout.c: a front-end that changes a ring's layout under a
 * real vhostd, after the ring was checked for another one.
 *
 * One vhostd for the run: ports a and b, --reflect a --reflect b.  b is a
 * well-behaved guest for the whole run (the bystander: its frames must
 * come back reflected after every case).  a is the hostile front-end,
 * attached afresh for each case, with memory built by hand:
 *
 *   memfd of 72 KiB:  | 2 KiB | region: 64 KiB, gpa 0 | guard |
 *                     0       0x800                   0x10800  0x12000
 *
 * The region starts 2 KiB into the file, so vhostd maps the file from 0
 * up to the page after the region: the 2 KiB after the region are mapped
 * in vhostd too, and any byte it writes past the region lands in the guard
 * (filled with a pattern here) instead of faulting.  a's TX ring (ring 1)
 * is a packed ring of 128 entries whose device area is the last 4 bytes of
 * the region.  As a split ring, that area would be a used ring of
 * 6 + 8 * 128 bytes: its entries all in the guard.
 *
 * Each hostile case ends with the same checks: the guard is untouched
 * after a split TX entry was posted and kicked, the daemon is alive, b
 * still gets its frames back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "datapath/vring.h"
#include "guest_util.h"

#define FILE_SIZE 0x12000u
#define REG_OFF 0x800u           /* the region's offset in the file */
#define REG_SIZE 0x10000u        /* 64 KiB */
#define GUARD_OFF (REG_OFF + REG_SIZE)
#define GUARD_BYTE 0xa5
#define TX 1u                    /* a's TX ring */
#define NUM 128u
#define DESC_GPA 0x0u
#define DRIVER_GPA 0x1000u       /* split: the avail ring */
#define DEVICE_GPA (REG_SIZE - 4u) /* split: the used ring */
#define BUF_GPA 0x2000u
#define FRAME_LEN 60u
#define WAIT_MS 500              /* for writes that must not come */

static const uint64_t PACKED = BIT_ULL(VIRTIO_F_RING_PACKED);
static const uint64_t FEATURES = VU_FRONT_FEATURES_DEFAULT |
				 BIT_ULL(VIRTIO_F_RING_PACKED);

static struct tdaemon td;        /* ports a (td.sock[0]) and b */
static struct guest b;

/* The hostile front-end of a and the memory it built. */
struct hostile {
	struct vu_front *f;
	bool ack;                /* REPLY_ACK negotiated */
	int memfd, kick, call;
	uint8_t *file;           /* our mapping of the whole memfd */
	uint64_t uva;            /* the region's uva as announced */
};

static struct hostile h = {.memfd = -1, .kick = -1, .call = -1};

static uint8_t *gpa(uint64_t a)
{
	return h.file + REG_OFF + a;
}

static int log_lines(const char *a, const char *b2)
{
	char line[1024];
	int n = 0;
	FILE *f = fopen(td.log, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, a) && (!b2 || strstr(line, b2));
	fclose(f);
	return n;
}

/* ---- raw requests -------------------------------------------------- */

/* Send req; with REPLY_ACK, need_reply and return the ack (else 0). */
static uint64_t send_req(uint32_t req, const void *pl, uint32_t size,
			 const int *fds, int nfds)
{
	struct vu_hdr hdr = {req, VU_VERSION, size};
	struct vu_msg r;

	if (h.ack)
		hdr.flags |= VU_FLAG_NEED_REPLY;
	assert_int_equal(vu_front_raw_send(h.f, &hdr, pl, size, fds, nfds), 0);
	if (!h.ack)
		return 0;
	assert_int_equal(vu_front_raw_recv(h.f, &r, IO_MS, NULL, NULL), 1);
	assert_int_equal(r.hdr.request, req);
	assert_int_equal(r.hdr.size, sizeof(uint64_t));
	return r.payload.u64;
}

static uint64_t send_u64(uint32_t req, uint64_t v)
{
	return send_req(req, &v, sizeof(v), NULL, 0);
}

static uint64_t send_state(uint32_t req, uint32_t idx, uint32_t num)
{
	struct vu_vring_state s = {.index = idx, .num = num};

	return send_req(req, &s, sizeof(s), NULL, 0);
}

static uint64_t send_ring_fd(uint32_t req, uint32_t idx, int fd)
{
	uint64_t v = idx;

	return send_req(req, &v, sizeof(v), &fd, 1);
}

/* ---- the hostile front-end ------------------------------------------ */

/* Connect to a, negotiate FEATURES (packed rings), map the hand-built
 * memory (guard filled). */
static void hostile_up(bool ack)
{
	struct vu_mem_table t = {.nregions = 1};

	h.ack = ack;
	assert_int_equal(vu_front_connect(&h.f, td.sock[0], IO_MS, IO_MS), 0);
	assert_int_equal(vu_front_negotiate(h.f, FEATURES, ack ?
			 VU_FRONT_PROTOCOL_DEFAULT : 0), 0);
	assert_int_equal(vu_front_features_acked(h.f), FEATURES);
	h.memfd = memfd_create("ring-layout", MFD_CLOEXEC);
	assert_true(h.memfd >= 0);
	assert_int_equal(ftruncate(h.memfd, FILE_SIZE), 0);
	h.file = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      h.memfd, 0);
	assert_true(h.file != MAP_FAILED);
	memset(h.file + GUARD_OFF, GUARD_BYTE, FILE_SIZE - GUARD_OFF);
	h.uva = (uint64_t)(uintptr_t)gpa(0);
	t.regions[0] = (struct vu_mem_region){
		.guest_phys_addr = 0, .memory_size = REG_SIZE,
		.userspace_addr = h.uva, .mmap_offset = REG_OFF};
	assert_int_equal(send_req(VU_REQ_SET_MEM_TABLE, &t, 8 + 32, &h.memfd,
				  1), 0);
	h.kick = eventfd(0, EFD_CLOEXEC);
	h.call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(h.kick >= 0 && h.call >= 0);
}

/* Ring TX: NUM entries, base `base`, device area at the end of the
 * region.  A packed ring that starts needs a fresh ring's base, 0x80008000
 * (wrap counters 1): at wrap 0 the zeroed descriptor 0 reads as used in
 * that lap and the start is refused (a stale base).  Base 0 is avail index
 * 0 for a ring that starts as a split one. */
static void tx_ring_set(uint32_t base)
{
	struct vu_vring_addr a = {
		.index = TX, .desc_user_addr = h.uva + DESC_GPA,
		.avail_user_addr = h.uva + DRIVER_GPA,
		.used_user_addr = h.uva + DEVICE_GPA};

	assert_int_equal(send_state(VU_REQ_SET_VRING_NUM, TX, NUM), 0);
	assert_int_equal(send_state(VU_REQ_SET_VRING_BASE, TX, base), 0);
	assert_int_equal(send_req(VU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL,
				  0), 0);
}

static uint64_t tx_ring_start(void)
{
	uint64_t r = send_ring_fd(VU_REQ_SET_VRING_KICK, TX, h.kick);

	if (r)
		return r;
	assert_int_equal(send_ring_fd(VU_REQ_SET_VRING_CALL, TX, h.call), 0);
	return send_state(VU_REQ_SET_VRING_ENABLE, TX, 1);
}

/*
 * Play a split-ring driver on ring TX: one 60-byte frame (after a 12-byte
 * header) in descriptor 0, avail entry 0, avail index 1; kick.  A packed
 * ring sees nothing available there (descriptor 0's flags are 0).
 */
static void post_split_tx_and_kick(void)
{
	struct vring_desc d = {BUF_GPA, 12 + FRAME_LEN, 0, 0};
	struct vring_avail *av = (struct vring_avail *)gpa(DRIVER_GPA);
	uint8_t *buf = gpa(BUF_GPA);
	uint64_t one = 1;

	memset(buf, 0, 12);
	memset(buf + 12, 0xff, 6);
	memcpy(buf + 18, (uint8_t[]){0x52, 0x54, 0, 0, 0, 0xaa}, 6);
	buf[24] = 0x88;
	buf[25] = 0xb5;
	memcpy(gpa(DESC_GPA), &d, sizeof(d));
	__atomic_store_n(&av->ring[0], 0, __ATOMIC_RELAXED);
	__atomic_store_n(&av->idx, 1, __ATOMIC_RELEASE);
	assert_int_equal(write(h.kick, &one, sizeof(one)), 8);
}

/* Bytes of the guard that are no longer the pattern, after waiting
 * WAIT_MS for any to change. */
static unsigned guard_changed(void)
{
	unsigned n = 0;

	for (int ms = 0; n == 0 && ms < WAIT_MS; ms += 5) {
		msleep(5);
		for (uint32_t i = GUARD_OFF; i < FILE_SIZE; i++)
			n += h.file[i] != GUARD_BYTE;
	}
	return n;
}

/* b's frames still come back (MACs swapped by --reflect). */
static void assert_bystander_ok(void)
{
	static const struct virtio_net_hdr nh = {0};
	uint8_t f[128];

	memset(f, 0xff, 6);
	memcpy(f + 6, (uint8_t[]){0x52, 0x54, 0, 0, 0, 0xbb}, 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	for (uint32_t i = 14; i < sizeof(f); i++)
		f[i] = (uint8_t)i;
	send_frame(&b, f, sizeof(f), &nh);
	assert_int_equal(recv_frames(&b, 1), 1);
	assert_int_equal(rxf[0].len, sizeof(f));
	assert_memory_equal(rxf[0].data, f + 6, 6);
	assert_memory_equal(rxf[0].data + 6, f, 6);
	assert_memory_equal(rxf[0].data + 12, f + 12, sizeof(f) - 12);
}

static void assert_daemon_ok(void)
{
	if (!vhostd_alive(&td.proc))
		fail_msg("vhostd died; log %s", td.log);
	if (log_lines("runtime error", NULL) || log_lines("Sanitizer", NULL))
		fail_msg("sanitizer report in %s", td.log);
}

/* Close a's front-end and wait until vhostd has reset the device (a new
 * front-end before that would be turned away). */
static int hostile_teardown(void **state)
{
	(void)state;
	if (!h.f)
		return 0;
	vu_front_close(h.f);
	for (int ms = 0; ms < IO_MS &&
	     log_lines("a: front-end", "; device reset") !=
	     log_lines("a: front-end connected", NULL); ms += 2)
		msleep(2);
	munmap(h.file, FILE_SIZE);
	close(h.memfd);
	close(h.kick);
	close(h.call);
	h = (struct hostile){.memfd = -1, .kick = -1, .call = -1};
	return 0;
}

/* The case, in full: a started packed ring, SET_FEATURES without
 * RING_PACKED, then split-ring traffic. */
static void flip_packed_on_started_ring(bool ack)
{
	char old[32], new[32];

	snprintf(old, sizeof(old), "0x%" PRIx64, FEATURES);
	snprintf(new, sizeof(new), "0x%" PRIx64, FEATURES & ~PACKED);
	int lines = log_lines("a: SET_FEATURES", "ring 1 is started");
	int named = log_lines(old, new);
	hostile_up(ack);
	tx_ring_set(0x80008000u);
	assert_int_equal(tx_ring_start(), 0);
	uint64_t r = send_u64(VU_REQ_SET_FEATURES, FEATURES & ~PACKED);
	post_split_tx_and_kick();
	unsigned bad = guard_changed();
	if (bad)
		fail_msg("%u bytes written past the end of a's region", bad);
	if (ack) {
		assert_int_equal(r, EBUSY);
		uint64_t offered;
		assert_int_equal(vu_front_get_features(h.f, &offered), 0);
	} else {
		struct vu_msg m;
		assert_int_equal(vu_front_raw_recv(h.f, &m, IO_MS, NULL, NULL),
				 -ECONNRESET);
	}
	msleep(20); /* the line is written before the reply; flushed */
	assert_int_equal(log_lines("a: SET_FEATURES", "ring 1 is started"),
			 lines + 1);
	assert_int_equal(log_lines(old, new), named + 1);
	assert_daemon_ok();
	assert_bystander_ok();
}

/* ---- the tests -------------------------------------------------------- */

static void test_flipping_packed_on_started_ring_is_nacked_with_reply_ack(
	void **state)
{
	(void)state;
	flip_packed_on_started_ring(true);
}

static void test_flipping_packed_on_started_ring_closes_without_reply_ack(
	void **state)
{
	(void)state;
	flip_packed_on_started_ring(false);
}

/* Not started yet, the flip is taken, and the ring is checked as a split
 * ring when it starts: SET_VRING_KICK is refused, nothing is written. */
static void test_packed_areas_checked_as_split_ring_when_ring_starts(
	void **state)
{
	(void)state;
	const char *l1 = "a: ring 1 (size 128): used ring";
	const char *l2 = "outside guest memory (SET_VRING_KICK refused)";
	int lines = log_lines(l1, l2);

	hostile_up(true);
	tx_ring_set(0);
	assert_int_equal(send_u64(VU_REQ_SET_FEATURES, FEATURES & ~PACKED), 0);
	uint64_t r = tx_ring_start();
	post_split_tx_and_kick();
	unsigned bad = guard_changed();
	if (bad)
		fail_msg("%u bytes written past the end of a's region", bad);
	assert_int_equal(r, EFAULT);
	msleep(20);
	assert_int_equal(log_lines(l1, l2), lines + 1);
	assert_daemon_ok();
	assert_bystander_ok();
}

/* QEMU's vhost_dev_set_log(): LOG_ALL on and off while the rings run.
 * Accepted, and a's traffic keeps flowing. */
static void test_log_all_toggle_on_started_rings_is_accepted(void **state)
{
	(void)state;
	struct guest a = {0};
	const uint64_t log = BIT_ULL(VHOST_F_LOG_ALL);
	int refused = log_lines("a: SET_FEATURES", "refused");

	guest_up(&a, td.sock[0], VU_FRONT_FEATURES_DEFAULT);
	for (int round = 0; round < 2; round++) {
		uint64_t v = VU_FRONT_FEATURES_DEFAULT | (round ? 0 : log);
		assert_int_equal(vu_front_set_features(a.f, v), 0);
		uint8_t f[64] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52,
				 0x54, 0, 0, 0, 0xcc, 0x88, 0xb5};
		send_frame(&a, f, sizeof(f), &(struct virtio_net_hdr){0});
		assert_int_equal(recv_frames(&a, 1), 1);
		assert_int_equal(rxf[0].len, sizeof(f));
	}
	assert_int_equal(log_lines("a: SET_FEATURES", "refused"), refused);
	guest_down(&a);
	assert_daemon_ok();
	assert_bystander_ok();
}

static int group_setup(void **state)
{
	(void)state;
	static const char *const ports[] = {"a", "b", NULL};
	static char *const wiring[] = {"--reflect", "a", "--reflect", "b",
				       NULL};

	if (tdaemon_start(&td, ports, wiring) < 0)
		return -1;
	guest_up(&b, td.sock[1], VU_FRONT_FEATURES_DEFAULT);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	guest_down(&b);
	if (log_lines("runtime error", NULL) || log_lines("Sanitizer", NULL)) {
		fprintf(stderr, "sanitizer report; log %s\n", td.log);
		return -1;
	}
	return tdaemon_stop(&td);
}

int main(int argc, char **argv)
{
#define T(f) cmocka_unit_test_teardown(f, hostile_teardown)
	const struct CMUnitTest tests[] = {
		T(test_flipping_packed_on_started_ring_is_nacked_with_reply_ack),
		T(test_flipping_packed_on_started_ring_closes_without_reply_ack),
		T(test_packed_areas_checked_as_split_ring_when_ring_starts),
		T(test_log_all_toggle_on_started_rings_is_accepted),
	};
#undef T

	if (tdaemon_args(&td, argc, argv) < 0)
		return 2;
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
