/* SPDX-License-Identifier: MIT */
/*
 * test_vnet_pick.c: vnet_pick_poll (datapath/vnet.c), a path whose frames
 * each go where a chooser says, between split rings of one simulated guest
 * (vq_guest.h): a TX ring and two RX rings.
 *
 * Rules:
 *  - every destination the chooser names gets the frame, byte for byte,
 *    and every receiving queue written is flushed (its used index moves);
 *  - a pushed tag lands behind the MACs, a popped one is gone, the rest of
 *    the frame follows unchanged, whatever the chain's segments;
 *  - a partial checksum passed through a tag change starts 4 bytes later
 *    (push) or earlier (pop); one that starts inside the MACs and tag of a
 *    frame losing its tag is dropped as BAD_OFFLOAD; one completed in
 *    software is right at its new place;
 *  - a frame that fits the receiver's MTU only without the tag pushed
 *    towards it is dropped as TOO_BIG;
 *  - a chooser that names nobody drops the frame (no path counter: the
 *    chooser counts it) and the sender's buffer still goes back;
 *  - a chooser's guess of the receiving queue (hint) is asked once per
 *    burst taken, and a wrong guess changes nothing delivered.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "datapath/csum.h"
#include "datapath/vnet.h"
#include "vq_guest.h"

#define QSIZE 256u
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
	struct ring t, r[2];
	struct vq rxq[2];
} g;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "vq_guest_fns.h"
#pragma GCC diagnostic pop

static struct vnet_path path;
static struct vnet_dst dst[2];
static struct vnet_to choice[2];
static uint32_t nchoice;
static uint32_t same_flag;      /* VNET_PICK_SAME or 0, added to the answer */
static uint32_t npicks, nrepeats;

static uint32_t chooser(void *ctx, const struct vnet_path *p, const uint8_t *f,
			uint32_t flen, uint32_t len, struct vnet_to *to)
{
	(void)ctx; (void)p; (void)f; (void)flen; (void)len;
	npicks++;
	for (uint32_t i = 0; i < nchoice; i++)
		to[i] = choice[i];
	return nchoice | same_flag;
}

static void repeat_fn(void *ctx, uint32_t n)
{
	(void)ctx;
	nrepeats += n;
}

static void pass_fn(void *ctx)
{
	(void)ctx;
}

static struct vq *hinted;       /* what hint_fn answers */
static uint32_t nhints;

static struct vq *hint_fn(void *ctx, const struct vnet_path *p)
{
	(void)ctx; (void)p;
	nhints++;
	return hinted;
}

static void ring_up(struct ring *rg, uint64_t at, struct vq *vq, bool tx)
{
	rg->desc = hva(at);
	rg->avail = hva(at + 0x1000);
	rg->used = hva(at + 0x2000);
	rg->avail_idx = rg->next_desc = 0;
	struct vq_cfg c = {
		.index = tx ? 1 : 0, .dev_name = "unit", .desc = rg->desc,
		.avail = rg->avail, .used = rg->used, .size = QSIZE,
		.mrg_rxbuf = true, .tx = tx, .mem = g.mem,
		.used_gpa = at + 0x2000, .call_fd = g.call_fd,
		.err_fd = g.err_fd,
	};
	vq_init(vq, &c);
}

static int setup(void **st)
{
	(void)st;
	vq_guest_mem_up();
	ring_up(&g.t, R0_GPA, &g.vq, true);
	ring_up(&g.r[0], R0_GPA + 0x10000, &g.rxq[0], false);
	ring_up(&g.r[1], R0_GPA + 0xc0000, &g.rxq[1], false);
	memset(&path, 0, sizeof(path));
	path.src = &g.vq;
	path.src_hdr_len = HDR;
	path.frame_max = VNET_FRAME_MAX;
	path.dst_none = VNET_DROP_DST_DOWN;
	path.pick = chooser;
	path.pass = pass_fn;
	path.repeat = repeat_fn;
	same_flag = npicks = nrepeats = nhints = 0;
	hinted = NULL;
	path.snd = (struct ofl_caps){.csum = true};
	for (int i = 0; i < 2; i++)
		dst[i] = (struct vnet_dst){&g.rxq[i], HDR, VNET_FRAME_MAX,
					   {.csum = true}};
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	guest_down();
	return 0;
}

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

static uint16_t used_idx(const struct ring *rg)
{
	return __atomic_load_n(&rg->used->idx, __ATOMIC_ACQUIRE);
}

/* Receive buffers: RX ring r gets buffers 100 + 50 r .. */
static void post_rx(int r, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t gpa = buf(100 + 50 * (unsigned)r + i);
		uint32_t len = BUF_SIZE;
		memset(hva(gpa), 0xee, BUF_SIZE);
		post_chain(&g.r[r], F_WRITE, 1, &gpa, &len);
	}
}

/* A frame of len bytes (tagged with vid when vid > 0) behind header h, in
 * buffer k; sent as one descriptor, or cut in two at cut (> 0). */
static void send_frame(unsigned k, const uint8_t *f, uint32_t len,
		       const struct virtio_net_hdr *h, uint32_t cut)
{
	uint8_t *p = hva(buf(k));

	memcpy(p, h, HDR);
	memcpy(p + HDR, f, len);
	if (!cut) {
		uint64_t gpa = buf(k);
		uint32_t l = HDR + len;
		post_chain(&g.t, 0, 1, &gpa, &l);
		return;
	}
	const uint64_t gpa[2] = {buf(k), buf(k) + HDR + cut};
	const uint32_t l[2] = {HDR + cut, len - cut};
	post_chain(&g.t, 0, 2, gpa, l);
}

static uint32_t make(uint8_t *f, uint32_t len, int vid)
{
	for (uint32_t i = 0; i < len; i++)
		f[i] = (uint8_t)(i * 7 + 3);
	f[0] = 0x02;               /* unicast */
	if (vid > 0) {
		put_be16(f + 12, 0x8100);
		put_be16(f + 14, (uint32_t)vid);
	}
	return len;
}

/* What RX ring r's used entry u says and its buffer holds. */
static const uint8_t *got(int r, uint16_t u, uint32_t *len)
{
	struct vring_used_elem e = g.r[r].used->ring[u % QSIZE];
	uint64_t gpa = g.r[r].desc[e.id].addr;

	*len = e.len;
	return hva(gpa);
}

static void test_each_destination_gets_the_frame(void **st)
{
	uint8_t f[200];
	uint32_t len;

	(void)st;
	post_rx(0, 4);
	post_rx(1, 4);
	make(f, 200, 0);
	choice[0] = (struct vnet_to){&dst[0], vnet_to_vlan(VNET_VLAN_KEEP, 0)};
	choice[1] = (struct vnet_to){&dst[1], vnet_to_vlan(VNET_VLAN_KEEP, 0)};
	nchoice = 2;
	send_frame(0, f, 200, &(struct virtio_net_hdr){0}, 0);
	send_frame(1, f, 200, &(struct virtio_net_hdr){0}, 100);
	assert_int_equal(vnet_pick_poll(&path), 2);
	assert_int_equal(path.stats.packets, 4);
	for (int r = 0; r < 2; r++) {
		assert_int_equal(used_idx(&g.r[r]), 2);
		for (uint16_t u = 0; u < 2; u++) {
			const uint8_t *p = got(r, u, &len);
			assert_int_equal(len, HDR + 200);
			assert_memory_equal(p + HDR, f, 200);
		}
	}
	assert_int_equal(used_idx(&g.t), 2);
}

/* Frames of every cut through the head get the tag pushed / popped. */
static void test_tag_pushed_and_popped(void **st)
{
	uint8_t f[100], want[104];
	uint32_t len;
	uint16_t u = 0;

	(void)st;
	post_rx(0, 40);
	nchoice = 1;
	for (uint32_t cut = 0; cut < 20; cut++, u += 2) {
		/* push VLAN 42 */
		make(f, 60, 0);
		choice[0] = (struct vnet_to){&dst[0], vnet_to_vlan(VNET_VLAN_PUSH, 42)};
		send_frame(0, f, 60, &(struct virtio_net_hdr){0}, cut);
		assert_int_equal(vnet_pick_poll(&path), 1);
		memcpy(want, f, 12);
		put_be16(want + 12, 0x8100);
		put_be16(want + 14, 42);
		memcpy(want + 16, f + 12, 48);
		const uint8_t *p = got(0, u, &len);
		assert_int_equal(len, HDR + 64);
		assert_memory_equal(p + HDR, want, 64);
		assert_int_equal(p[HDR + 64], 0xee);   /* nothing past it */
		/* pop */
		make(f, 64, 42);
		choice[0] = (struct vnet_to){&dst[0], vnet_to_vlan(VNET_VLAN_POP, 0)};
		send_frame(1, f, 64, &(struct virtio_net_hdr){0}, cut);
		assert_int_equal(vnet_pick_poll(&path), 1);
		memcpy(want, f, 12);
		memcpy(want + 12, f + 16, 48);
		p = got(0, (uint16_t)(u + 1), &len);
		assert_int_equal(len, HDR + 60);
		assert_memory_equal(p + HDR, want, 60);
	}
	assert_int_equal(used_idx(&g.r[0]), 40);
}

static const struct virtio_net_hdr partial = {
	.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34,
	.csum_offset = 6};

static void test_passed_partial_checksum_moves_with_the_tag(void **st)
{
	uint8_t f[100];
	uint32_t len;

	(void)st;
	post_rx(0, 2);
	nchoice = 1;
	choice[0] = (struct vnet_to){&dst[0], vnet_to_vlan(VNET_VLAN_PUSH, 7)};
	send_frame(0, f, make(f, 80, 0), &partial, 0);
	assert_int_equal(vnet_pick_poll(&path), 1);
	const struct virtio_net_hdr *h = (const void *)got(0, 0, &len);
	assert_int_equal(h->flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(h->csum_start, 38);
	assert_int_equal(h->csum_offset, 6);
	choice[0] = (struct vnet_to){&dst[0], vnet_to_vlan(VNET_VLAN_POP, 0)};
	struct virtio_net_hdr t = partial;
	t.csum_start = 38;
	send_frame(1, f, make(f, 84, 7), &t, 0);
	assert_int_equal(vnet_pick_poll(&path), 1);
	h = (const void *)got(0, 1, &len);
	assert_int_equal(h->csum_start, 34);
}

static void test_checksum_start_inside_a_popped_tag_is_bad(void **st)
{
	uint8_t f[100];
	struct virtio_net_hdr t = partial;

	(void)st;
	post_rx(0, 2);
	nchoice = 1;
	choice[0] = (struct vnet_to){&dst[0], vnet_to_vlan(VNET_VLAN_POP, 0)};
	t.csum_start = 14;
	send_frame(0, f, make(f, 84, 7), &t, 0);
	assert_int_equal(vnet_pick_poll(&path), 1);
	assert_int_equal(path.stats.drops[VNET_DROP_BAD_OFFLOAD], 1);
	assert_int_equal(used_idx(&g.r[0]), 0);
	assert_int_equal(used_idx(&g.t), 1);
}

static void test_software_checksum_lands_behind_the_pushed_tag(void **st)
{
	uint8_t f[100];
	uint32_t len;

	(void)st;
	post_rx(0, 2);
	dst[0].rcv.csum = false;          /* vhostd completes it */
	nchoice = 1;
	choice[0] = (struct vnet_to){&dst[0], vnet_to_vlan(VNET_VLAN_PUSH, 9)};
	make(f, 80, 0);
	f[34 + 6] = f[34 + 7] = 0;        /* partial sum: 0 */
	send_frame(0, f, 80, &partial, 0);
	assert_int_equal(vnet_pick_poll(&path), 1);
	const uint8_t *p = got(0, 0, &len);
	assert_int_equal(len, HDR + 84);
	/* The sum over csum_start.. (now 38..) with the checksum in
	 * place folds to all ones. */
	assert_int_equal(csum_fold(csum_bytes(0, p + HDR + 38, 84 - 38)),
			 0xffff);
	assert_int_equal(get_be16(p + HDR + 12), 0x8100);
	assert_int_equal(get_be16(p + HDR + 14), 9);
}

static void test_pushed_tag_must_fit_the_receiver(void **st)
{
	uint8_t f[1600];

	(void)st;
	post_rx(0, 2);
	dst[0].frame_max = 1500 + 18;          /* MTU 1500 */
	nchoice = 1;
	choice[0] = (struct vnet_to){&dst[0], vnet_to_vlan(VNET_VLAN_PUSH, 5)};
	send_frame(0, f, make(f, 1514, 0), &(struct virtio_net_hdr){0}, 0);
	send_frame(1, f, make(f, 1515, 0), &(struct virtio_net_hdr){0}, 0);
	assert_int_equal(vnet_pick_poll(&path), 2);
	assert_int_equal(used_idx(&g.r[0]), 1);
	assert_int_equal(path.stats.drops[VNET_DROP_TOO_BIG], 1);
}

static void test_nobody_chosen_frame_still_given_back(void **st)
{
	uint8_t f[64];

	(void)st;
	nchoice = 0;
	send_frame(0, f, make(f, 60, 0), &(struct virtio_net_hdr){0}, 0);
	assert_int_equal(vnet_pick_poll(&path), 1);
	assert_int_equal(used_idx(&g.t), 1);
	assert_int_equal(path.stats.packets, 0);
}

/* An answer with VNET_PICK_SAME holds for the frames that follow with
 * the same first 16 bytes: one call for the run, the rest counted. */
static void test_same_answer_for_the_same_addresses(void **st)
{
	uint8_t f[64];

	(void)st;
	post_rx(0, 8);
	choice[0] = (struct vnet_to){&dst[0], vnet_to_vlan(VNET_VLAN_KEEP, 0)};
	nchoice = 1;
	same_flag = VNET_PICK_SAME;
	for (unsigned k = 0; k < 6; k++)
		send_frame(k, f, make(f, 60, 0), &(struct virtio_net_hdr){0},
			   0);
	assert_int_equal(vnet_pick_poll(&path), 6);
	assert_int_equal(npicks, 1);
	assert_int_equal(nrepeats, 5);
	assert_int_equal(used_idx(&g.r[0]), 6);
	assert_int_equal(path.stats.packets, 6);
	/* The flag is the chooser's: the next pass asks again. */
	send_frame(6, f, 60, &(struct virtio_net_hdr){0}, 0);
	assert_int_equal(vnet_pick_poll(&path), 1);
	assert_int_equal(npicks, 2);
	assert_int_equal(nrepeats, 5);
}

/* A frame that differs anywhere in the first 16 bytes, one shorter than
 * a tagged header, or an answer of more than one destination: asked
 * again for every frame. */
static void test_same_answer_only_when_it_holds(void **st)
{
	uint8_t f[64];

	(void)st;
	post_rx(0, 24);
	post_rx(1, 4);
	choice[0] = (struct vnet_to){&dst[0], vnet_to_vlan(VNET_VLAN_KEEP, 0)};
	choice[1] = (struct vnet_to){&dst[1], vnet_to_vlan(VNET_VLAN_KEEP, 0)};
	nchoice = 1;
	same_flag = VNET_PICK_SAME;
	for (unsigned k = 0; k < 16; k++) {
		make(f, 60, 0);
		f[k] ^= 0x40;              /* byte k differs from the others */
		send_frame(k, f, 60, &(struct virtio_net_hdr){0}, 0);
	}
	assert_int_equal(vnet_pick_poll(&path), 16);
	assert_int_equal(npicks, 16);
	assert_int_equal(nrepeats, 0);
	/* After a full frame, ones of 17 bytes with the same first 16: too
	 * short to stand for a tagged frame. */
	send_frame(0, f, make(f, 60, 0), &(struct virtio_net_hdr){0}, 0);
	for (unsigned k = 1; k < 3; k++)
		send_frame(k, f, make(f, 17, 0), &(struct virtio_net_hdr){0},
			   0);
	assert_int_equal(vnet_pick_poll(&path), 3);
	assert_int_equal(npicks, 19);
	/* Two destinations (a flood) with the flag: not taken as one. */
	nchoice = 2;
	for (unsigned k = 0; k < 3; k++)
		send_frame(k, f, make(f, 60, 0), &(struct virtio_net_hdr){0},
			   0);
	assert_int_equal(vnet_pick_poll(&path), 3);
	assert_int_equal(npicks, 22);
	assert_int_equal(nrepeats, 0);
	assert_int_equal(used_idx(&g.r[1]), 3);
}

/* The hint is asked once per burst taken (not on an empty poll); right
 * or wrong, every frame goes where the chooser says, and a wrongly
 * hinted queue gets nothing (its used index stays). */
static void test_hint_only_loads(void **st)
{
	uint8_t f[64];

	(void)st;
	path.hint = hint_fn;
	post_rx(0, 8);
	post_rx(1, 8);
	choice[0] = (struct vnet_to){&dst[0], vnet_to_vlan(VNET_VLAN_KEEP, 0)};
	nchoice = 1;
	assert_int_equal(vnet_pick_poll(&path), 0);
	assert_int_equal(nhints, 0);
	for (int right = 0; right < 2; right++) {
		hinted = &g.rxq[right ? 0 : 1];
		for (unsigned k = 0; k < 3; k++)
			send_frame(k, f, make(f, 60, 0),
				   &(struct virtio_net_hdr){0}, 0);
		assert_int_equal(vnet_pick_poll(&path), 3);
		assert_int_equal(nhints, (uint32_t)right + 1);
		assert_int_equal(used_idx(&g.r[0]), 3 * (right + 1));
		assert_int_equal(used_idx(&g.r[1]), 0);
		for (uint16_t u = 0; u < 3; u++) {
			uint32_t len;
			const uint8_t *p = got(0, (uint16_t)(3 * right + u), &len);
			assert_int_equal(len, HDR + 60);
			assert_memory_equal(p + HDR, f, 60);
		}
	}
	assert_int_equal(path.stats.packets, 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_each_destination_gets_the_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_tag_pushed_and_popped, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_passed_partial_checksum_moves_with_the_tag, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_checksum_start_inside_a_popped_tag_is_bad, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_software_checksum_lands_behind_the_pushed_tag,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_pushed_tag_must_fit_the_receiver, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_nobody_chosen_frame_still_given_back, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_same_answer_for_the_same_addresses, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_same_answer_only_when_it_holds, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_hint_only_loads, setup, teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
