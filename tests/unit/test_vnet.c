/* SPDX-License-Identifier: MIT */
/*
 * test_vnet.c: the forwarding path (datapath/vnet.c) between two split
 * rings of one simulated guest (vq_guest.h), and towards a loop port.
 *
 *   gpa 0x100000  r0: TX ring (desc, avail, used), RX ring, 2 KiB buffers
 *   gpa 0x200000  r1: large TX frames and RX buffers (GSO)
 *   gpa 2^32      big: 3 GiB PROT_NONE, only ever translated
 *
 * Rules:
 *  - a frame longer than the receiver takes is dropped as TOO_BIG before
 *    any length arithmetic: a 4 GiB chain of aliased descriptors, towards a
 *    guest and towards a loop port; a plain frame over a guest's MTU;
 *  - whatever the guest aliases, every byte written into a receive buffer
 *    is the frame's or the header's: RX buffer on the TX buffer, on it 8
 *    bytes on, and split over two descriptors (the general copy path);
 *  - gso_size below 88 is dropped as GSO_SIZE;
 *  - one pass cuts at most VNET_PASS_SEGS segments: the rest of the burst
 *    is given back to the ring (or to a loop port) and taken on the next
 *    pass;
 *  - an abandoned path breaks its sending queue (ABANDONED) and takes
 *    nothing more.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>

#include "datapath/vnet.h"
#include "pmd/port.h"
#include "vq_guest.h"

#define QSIZE 256u
#define TX_DESC R0_GPA
#define TX_AVAIL (R0_GPA + 0x1000)
#define TX_USED (R0_GPA + 0x2000)
#define RX_DESC (R0_GPA + 0x10000)
#define RX_AVAIL (R0_GPA + 0x11000)
#define RX_USED (R0_GPA + 0x12000)
#define HDR 12u
#define F_NEXT VRING_DESC_F_NEXT
#define F_WRITE VRING_DESC_F_WRITE

struct ring {
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t avail_idx, next_desc;
};

static struct {
	VQ_GUEST_FIELDS;
	struct ring t, r;
	struct vq rxq;
} g;

/* The shared guest has helpers for ring tests this file does not need. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "vq_guest_fns.h"
#pragma GCC diagnostic pop

static struct vnet_path path;

/* ---- the simulated guest -------------------------------------------- */

static void ring_up(struct ring *rg, uint64_t desc, uint64_t avail,
		    uint64_t used, struct vq *vq, bool tx, bool mrg)
{
	rg->desc = hva(desc);
	rg->avail = hva(avail);
	rg->used = hva(used);
	rg->avail_idx = rg->next_desc = 0;
	struct vq_cfg c = {
		.index = tx ? 1 : 0, .dev_name = "unit", .desc = rg->desc,
		.avail = rg->avail, .used = rg->used, .size = QSIZE,
		.mrg_rxbuf = mrg, .tx = tx, .mem = g.mem, .used_gpa = used,
		.call_fd = g.call_fd, .err_fd = g.err_fd,
	};
	vq_init(vq, &c);
}

static void guest_up(void)
{
	vq_guest_mem_up();
	ring_up(&g.t, TX_DESC, TX_AVAIL, TX_USED, &g.vq, true, true);
	ring_up(&g.r, RX_DESC, RX_AVAIL, RX_USED, &g.rxq, false, true);
	memset(&path, 0, sizeof(path));
	path.src = &g.vq;
	path.dst = &g.rxq;
	path.src_hdr_len = path.dst_hdr_len = HDR;
	path.frame_max = VNET_FRAME_MAX;
	path.dst_none = VNET_DROP_DST_DOWN;
}

static int setup(void **st)
{
	(void)st;
	guest_up();
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	guest_down();
	return 0;
}

/* A chain of n descriptors (gpa, len each), made available. */
static void post_chain(struct ring *rg, uint16_t flags, unsigned n,
		       const uint64_t *gpa, const uint32_t *len)
{
	uint16_t head = rg->next_desc;

	for (unsigned i = 0; i < n; i++) {
		uint16_t d = (uint16_t)(rg->next_desc++ % QSIZE);
		rg->desc[d] = (struct vring_desc){
			gpa[i], len[i],
			(uint16_t)(flags | (i + 1 < n ? F_NEXT : 0)),
			(uint16_t)((d + 1) % QSIZE)};
	}
	rg->avail->ring[rg->avail_idx % QSIZE] = (uint16_t)(head % QSIZE);
	rg->avail_idx++;
	__atomic_store_n(&rg->avail->idx, rg->avail_idx, __ATOMIC_RELEASE);
}

static void post_one(struct ring *rg, uint16_t flags, uint64_t gpa,
		     uint32_t len)
{
	post_chain(rg, flags, 1, &gpa, &len);
}

static uint16_t used_idx(const struct ring *rg)
{
	return __atomic_load_n(&rg->used->idx, __ATOMIC_ACQUIRE);
}

/* Frame byte i of frame tag: 7 bits, so that a byte of the 0xa5 stack
 * pattern (dirty_stack) can never pass for one. */
static uint8_t fbyte(unsigned tag, uint32_t i)
{
	return (uint8_t)((i * 7u + tag * 13u + 1u) & 0x7f);
}

/* Header (flags 0, num_buffers 0) and a len-byte frame at gpa. */
static void put_frame(uint64_t gpa, unsigned tag, uint32_t len)
{
	uint8_t *p = hva(gpa);

	memset(p, 0, HDR);
	for (uint32_t i = 0; i < len; i++)
		p[HDR + i] = fbyte(tag, i);
}

/* Only drops[d] is counted, n times (d == VNET_DROP_MAX: none). */
static void assert_only_drop(enum vnet_drop d, uint64_t n)
{
	for (unsigned i = 0; i < VNET_DROP_MAX; i++)
		if (path.stats.drops[i] != (i == (unsigned)d ? n : 0))
			fail_msg("drops[%s] = %llu", vnet_drop_text(i),
				 (unsigned long long)path.stats.drops[i]);
}

/* Fill a stretch of the stack below the caller with 0xa5, so that a
 * buffer vhostd does not initialise holds a known pattern. */
static __attribute__((noinline)) void dirty_stack(void)
{
	volatile uint8_t junk[16384];

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = 0xa5;
}

static uint32_t poll(void)
{
	dirty_stack();
	return vnet_path_poll(&path);
}

/* ---- a frame longer than the receiver takes -------------------------- */

/* Header and 52 frame bytes in buffer 0, then 3 GiB and 1 GiB - 128 of
 * the never-touched region, aliased: 2^32 - 64 bytes in all. */
static void post_4gib_chain(void)
{
	const uint64_t gpa[3] = {buf(0), BIG_GPA, BIG_GPA};
	const uint32_t len[3] = {64, 0xc0000000u, 0x40000000u - 128};

	put_frame(buf(0), 1, 52);
	post_chain(&g.t, 0, 3, gpa, len);
}

static void test_4gib_chain_towards_a_guest_is_dropped_as_too_big(void **st)
{
	(void)st;
	post_one(&g.r, F_WRITE, buf(1), BUF_SIZE);
	post_4gib_chain();
	snap_take();
	assert_int_equal(poll(), 1);
	assert_only_drop(VNET_DROP_TOO_BIG, 1);
	assert_int_equal(used_idx(&g.r), 0);
	assert_int_equal(used_idx(&g.t), 1);    /* given back, len 0 */
	assert_false(g.vq.broken || g.rxq.broken);
	/* Nothing written but the TX used entry and index. */
	memcpy(g.snap + GUARD + (TX_USED - R0_GPA), g.t.used, 16);
	assert_unchanged();
}

static void test_4gib_chain_towards_a_loop_port_is_dropped_as_too_big(
	void **st)
{
	(void)st;
	struct port *lp;
	char out[1024] = "";

	assert_int_equal(port_open("l", "loop", "", &lp), 0);
	path.dst = &lp->vqs[0];
	path.frame_max = lp->frame_max;
	post_4gib_chain();
	assert_int_equal(poll(), 1);
	assert_only_drop(VNET_DROP_TOO_BIG, 1);
	assert_int_equal(used_idx(&g.t), 1);
	FILE *f = fmemopen(out, sizeof(out) - 1, "w");
	assert_non_null(f);
	port_stats(lp, f);
	fclose(f);
	assert_non_null(strstr(out, " tx_packets=0 "));
	assert_non_null(strstr(out, " tx_too_big=0 "));
	port_close(lp);
}

/* frame_max 1518: a guest with MTU 1500. */
static void test_plain_frame_over_the_mtu_is_dropped_as_too_big(void **st)
{
	(void)st;
	path.frame_max = 1500 + VNET_L2_MAX;
	post_one(&g.r, F_WRITE, buf(1), BUF_SIZE);
	post_one(&g.r, F_WRITE, buf(2), BUF_SIZE);
	put_frame(buf(3), 3, 1519);
	post_one(&g.t, 0, buf(3), HDR + 1519);
	put_frame(buf(4), 4, 1518);
	post_one(&g.t, 0, buf(4), HDR + 1518);
	assert_int_equal(poll(), 2);
	assert_only_drop(VNET_DROP_TOO_BIG, 1);
	assert_int_equal(path.stats.packets, 1);
	assert_int_equal(used_idx(&g.r), 1);
	assert_int_equal(g.r.used->ring[0].id, 0);
	assert_int_equal(g.r.used->ring[0].len, HDR + 1518);
}

/* ---- TSO frames --------------------------------------------------- */

/* An IPv4/TCP GSO frame of len bytes at p: header asks for TSO4 with
 * gso_size mss and a partial checksum. */
static void gso_frame_at(uint8_t *p, uint32_t len, uint16_t mss)
{
	uint8_t *f = p + HDR, *ip = f + 14, *tcp = ip + 20;

	memset(p, 0, HDR + 54);
	struct virtio_net_hdr h = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .hdr_len = 54,
		.gso_size = mss, .csum_start = 34, .csum_offset = 16};
	memcpy(p, &h, sizeof(h));
	memset(f, 0x02, 12);
	f[12] = 0x08;
	ip[0] = 0x45;
	ip[2] = (uint8_t)((len - 14) >> 8);
	ip[3] = (uint8_t)(len - 14);
	ip[8] = 64;
	ip[9] = 6;
	tcp[12] = 0x50;
	for (uint32_t i = 54; i < len; i++)
		f[i] = fbyte(9, i);
}

static void put_gso_frame(uint64_t gpa, uint32_t len, uint16_t mss)
{
	gso_frame_at(hva(gpa), len, mss);
}

static void tso_sender(void)
{
	path.snd = (struct ofl_caps){.csum = true, .tso4 = true};
}

static void test_gso_size_below_88_is_dropped(void **st)
{
	(void)st;
	tso_sender();
	post_one(&g.r, F_WRITE, buf(1), BUF_SIZE);
	put_gso_frame(R1_GPA, 65000, 1);
	post_one(&g.t, 0, R1_GPA, HDR + 65000);
	put_gso_frame(R1_GPA + 0x10000, 65000, 87);
	post_one(&g.t, 0, R1_GPA + 0x10000, HDR + 65000);
	assert_int_equal(poll(), 2);
	assert_only_drop(VNET_DROP_GSO_SIZE, 2);
	assert_int_equal(used_idx(&g.r), 0);
	assert_int_equal(used_idx(&g.t), 2);
}

/* The largest GSO frame passes to a receiver that takes TSO, even over
 * its MTU; one byte more is too big. */
static void test_gso_frame_up_to_64k_passes_one_more_is_too_big(void **st)
{
	(void)st;
	tso_sender();
	path.rcv = (struct ofl_caps){.csum = true, .tso4 = true};
	path.frame_max = 1500 + VNET_L2_MAX;
	post_one(&g.r, F_WRITE, R1_GPA + 0x40000, 0x20000);
	put_gso_frame(R1_GPA, VNET_FRAME_MAX, 1448);
	post_one(&g.t, 0, R1_GPA, HDR + VNET_FRAME_MAX);
	put_gso_frame(R1_GPA + 0x20000, VNET_FRAME_MAX + 1, 1448);
	post_one(&g.t, 0, R1_GPA + 0x20000, HDR + VNET_FRAME_MAX + 1);
	assert_int_equal(poll(), 2);
	assert_only_drop(VNET_DROP_TOO_BIG, 1);
	assert_int_equal(used_idx(&g.r), 1);
	assert_int_equal(g.r.used->ring[0].len, HDR + VNET_FRAME_MAX);
}

/* Two frames of 600 segments each: one pass cuts the first (the second
 * would pass VNET_PASS_SEGS) and gives the second back; the next pass
 * takes it.  No receive buffers: every segment is counted as a drop. */
static void test_pass_segments_are_bounded_the_rest_waits(void **st)
{
	(void)st;
	const uint32_t len = 54 + 600 * 88;

	_Static_assert(2 * 600 > VNET_PASS_SEGS && 600 <= VNET_PASS_SEGS,
		       "two frames do not fit one pass, one does");
	tso_sender();
	put_gso_frame(R1_GPA, len, 88);
	post_one(&g.t, 0, R1_GPA, HDR + len);
	put_gso_frame(R1_GPA + 0x10000, len, 88);
	post_one(&g.t, 0, R1_GPA + 0x10000, HDR + len);
	assert_int_equal(poll(), 1);
	assert_int_equal(used_idx(&g.t), 1);
	assert_only_drop(VNET_DROP_NO_RX_BUF, 600);
	assert_int_equal(g.vq.stats.packets, 1);
	assert_int_equal(poll(), 1);
	assert_int_equal(used_idx(&g.t), 2);
	assert_only_drop(VNET_DROP_NO_RX_BUF, 1200);
	assert_int_equal(g.vq.stats.packets, 2);
	assert_int_equal(poll(), 0);
	assert_false(g.vq.broken);
}

/* The same from a loop port with offloads (a wire that carries GSO
 * frames): the second frame goes back to the port (its undequeue). */
static void test_pass_budget_gives_frames_back_to_a_port(void **st)
{
	(void)st;
	const uint32_t len = 54 + 600 * 88;
	struct port *lp;
	struct vq_chain c;

	assert_int_equal(port_open("l", "loop", "offloads", &lp), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(vq_reserve(&lp->vqs[0], HDR + len, &c, 1), 1);
		gso_frame_at(c.seg[0].p, len, 88);
		vq_used(&lp->vqs[0], &c, HDR + len);
	}
	vq_flush(&lp->vqs[0]);
	path.src = &lp->vqs[1];
	path.snd = lp->rx_caps;
	assert_int_equal(poll(), 1);
	assert_only_drop(VNET_DROP_NO_RX_BUF, 600);
	assert_int_equal(poll(), 1);
	assert_only_drop(VNET_DROP_NO_RX_BUF, 1200);
	assert_int_equal(poll(), 0);
	port_close(lp);
}

static void test_abandoned_path_breaks_its_tx_queue(void **st)
{
	(void)st;
	put_frame(buf(3), 3, 60);
	post_one(&g.t, 0, buf(3), HDR + 60);
	vnet_path_abandon(&path);
	assert_int_equal(poll(), 0);
	assert_true(g.vq.broken);
	assert_only_error(VQ_ERR_ABANDONED);
	assert_int_equal(efd_take(g.err_fd), 1);
	assert_int_equal(used_idx(&g.t), 0);
	assert_int_equal(poll(), 0);
}

/* ---- receive buffers over the frame being sent ------------------------ */

static const uint32_t sizes[] = {14, 19, 20, 31, 32, 44, 60, 64, 100, 1000,
				 1514};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

/* Frame byte i as it must arrive: with path.reflect the MACs (bytes 0..5
 * and 6..11) swap places. */
static uint8_t want_byte(unsigned tag, uint32_t i)
{
	if (path.reflect && i < 12)
		return fbyte(tag, i < 6 ? i + 6 : i - 6);
	return fbyte(tag, i);
}

/* The frame (tag, len) as delivered at rx: header with num_buffers 1,
 * then every frame byte. */
static void assert_delivered(const uint8_t *rx, unsigned tag, uint32_t len)
{
	struct virtio_net_hdr h;

	memcpy(&h, rx, HDR);
	assert_int_equal(h.flags, 0);
	assert_int_equal(h.gso_type, 0);
	assert_int_equal(h.num_buffers, 1);
	for (uint32_t i = 0; i < len; i++)
		if (rx[HDR + i] != want_byte(tag, i))
			fail_msg("frame of %u bytes: byte %u is 0x%02x, sent "
				 "0x%02x", len, i, rx[HDR + i],
				 want_byte(tag, i));
}

/* Every frame byte delivered at rx is a frame byte (7 bits), and the
 * header is the one vhostd built: nothing else was written. */
static void assert_only_frame_bytes(const uint8_t *rx, uint32_t len)
{
	struct virtio_net_hdr h;

	memcpy(&h, rx, HDR);
	assert_int_equal(h.num_buffers, 1);
	for (uint32_t i = 0; i < len; i++)
		if (rx[HDR + i] & 0x80)
			fail_msg("frame of %u bytes: byte %u is 0x%02x, no "
				 "frame byte", len, i, rx[HDR + i]);
}

/* Each frame in its own buffer, the receive buffer posted at the same
 * memory plus shift, split at cut bytes (0: one descriptor).  exact: the
 * frame arrives as sent; else only its bytes arrive (a receive buffer
 * split across descriptors ahead of the frame it overlaps is copied piece
 * by piece, and a piece may read bytes an earlier piece wrote: still the
 * frame's). */
static void aliased_round(uint32_t shift, uint32_t cut, bool exact)
{
	for (unsigned i = 0; i < NSIZES; i++) {
		uint64_t b = buf(10 + i);
		uint32_t room = BUF_SIZE - shift;
		put_frame(b, i, sizes[i]);
		post_one(&g.t, 0, b, HDR + sizes[i]);
		if (cut) {
			const uint64_t gpa[2] = {b + shift, b + shift + cut};
			const uint32_t len[2] = {cut, room - cut};
			post_chain(&g.r, F_WRITE, 2, gpa, len);
		} else {
			post_one(&g.r, F_WRITE, b + shift, room);
		}
	}
	assert_int_equal(poll(), NSIZES);
	assert_only_drop(VNET_DROP_MAX, 0);
	assert_int_equal(used_idx(&g.r), NSIZES);
	for (unsigned i = 0; i < NSIZES; i++) {
		assert_int_equal(g.r.used->ring[i].len, HDR + sizes[i]);
		const uint8_t *rx = (uint8_t *)hva(buf(10 + i)) + shift;
		if (exact)
			assert_delivered(rx, i, sizes[i]);
		else
			assert_only_frame_bytes(rx, sizes[i]);
	}
	assert_healthy();
}

static void test_rx_buffer_on_the_tx_buffer_gets_exactly_the_frame(void **st)
{
	(void)st;
	aliased_round(0, 0, true);
}

static void test_rx_buffer_8_bytes_into_the_tx_buffer_gets_the_frame(
	void **st)
{
	(void)st;
	aliased_round(8, 0, true);
}

/* --reflect: vhostd rewrites the first 12 frame bytes (pre is 24 bytes). */
static void test_reflected_frame_on_its_tx_buffer_arrives_exactly(void **st)
{
	(void)st;
	path.reflect = true;
	aliased_round(0, 0, true);
}

static void test_reflected_frame_8_bytes_into_its_tx_buffer_arrives_exactly(
	void **st)
{
	(void)st;
	path.reflect = true;
	aliased_round(8, 0, true);
}

static void test_split_rx_buffer_on_the_tx_buffer_gets_exactly_the_frame(
	void **st)
{
	(void)st;
	aliased_round(0, 16, true);
}

static void test_split_rx_buffer_into_the_tx_buffer_gets_only_frame_bytes(
	void **st)
{
	(void)st;
	aliased_round(8, 16, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_4gib_chain_towards_a_guest_is_dropped_as_too_big),
		T(test_4gib_chain_towards_a_loop_port_is_dropped_as_too_big),
		T(test_plain_frame_over_the_mtu_is_dropped_as_too_big),
		T(test_gso_size_below_88_is_dropped),
		T(test_gso_frame_up_to_64k_passes_one_more_is_too_big),
		T(test_pass_segments_are_bounded_the_rest_waits),
		T(test_pass_budget_gives_frames_back_to_a_port),
		T(test_abandoned_path_breaks_its_tx_queue),
		T(test_rx_buffer_on_the_tx_buffer_gets_exactly_the_frame),
		T(test_rx_buffer_8_bytes_into_the_tx_buffer_gets_the_frame),
		T(test_reflected_frame_on_its_tx_buffer_arrives_exactly),
		T(test_reflected_frame_8_bytes_into_its_tx_buffer_arrives_exactly),
		T(test_split_rx_buffer_on_the_tx_buffer_gets_exactly_the_frame),
		T(test_split_rx_buffer_into_the_tx_buffer_gets_only_frame_bytes),
#undef T
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
