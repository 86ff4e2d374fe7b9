/* SPDX-License-Identifier: MIT */
/*
 * test_link.c: --link between two guests through a real vhostd.
 *
 * Frames of every size go from guest a to guest b and back, each checked
 * byte for byte and in order, and vhostd's per-queue counters (vhostctl
 * stats) must account for every one.  SEND_RARP on a migrated guest's port
 * makes vhostd announce the guest's MAC to the linked guest with a RARP
 * frame, ahead of the guest's own traffic.  SIGTERM with both guests
 * attached exits cleanly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "control/frontend/vu_front_req.h"
#include "guest_util.h"

#define NFRAMES 200u

static struct tdaemon td;   /* ports a (td.sock[0]) and b, linked */
static struct guest a, b;

static const uint64_t FEATURES = BIT_ULL(VIRTIO_F_VERSION_1) |
	BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES) |
	BIT_ULL(VIRTIO_NET_F_MRG_RXBUF);

static int test_teardown(void **state)
{
	(void)state;
	guest_down(&a);
	guest_down(&b);
	return 0;
}

static uint32_t frame_len(unsigned i)
{
	return 60 + (i * 131) % (1514 - 60 + 1);
}

static void fill(uint8_t *f, uint32_t len, unsigned i, uint8_t from)
{
	memset(f, 0xff, 6);
	memcpy(f + 6, (uint8_t[]){0x52, 0x54, 0, 0, 0, from}, 6);
	f[12] = 0x88;                    /* local experimental ethertype */
	f[13] = 0xb5;
	for (uint32_t k = 14; k < len; k++)
		f[k] = (uint8_t)(k + i * 3 + from);
}

/*
 * vhostd leaves a receive buffer's header alone when it already holds the
 * bytes to write.  Every other received buffer gets a stale header put
 * back before it is re-posted (the driver read its copy already), so the
 * frames of one_way() land in buffers holding either a foreign header or,
 * after an untouched round, the right one: both must read back right.
 */
static unsigned hooked;

static void stale_header(const struct vu_drv_rx_pkt *pkt)
{
	static const struct virtio_net_hdr stale = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = 1,
		.hdr_len = 54, .gso_size = 1448, .csum_start = 34,
		.csum_offset = 16, .num_buffers = 7};

	if (hooked++ % 2 == 0)
		memcpy((uint8_t *)pkt->seg[0].data - sizeof(stale), &stale,
		       sizeof(stale));
}

static void assert_plain_header(const struct virtio_net_hdr *h,
				uint32_t len)
{
	assert_int_equal(h->flags, 0);
	assert_int_equal(h->gso_type, 0);
	assert_int_equal(h->hdr_len, 0);
	assert_int_equal(h->gso_size, 0);
	assert_int_equal(h->csum_start, 0);
	assert_int_equal(h->csum_offset, 0);
	assert_in_range(h->num_buffers, 1, len / 64 + 1);
}

/* NFRAMES frames from s to r, all received intact and in order, with
 * plain headers. */
static void one_way(struct guest *s, struct guest *r, uint8_t from)
{
	static uint8_t f[2048];
	unsigned got = 0;

	for (unsigned i = 0; i < NFRAMES; i += MAX_RX) {
		unsigned n = NFRAMES - i < MAX_RX ? NFRAMES - i : MAX_RX;
		for (unsigned k = 0; k < n; k++) {
			fill(f, frame_len(i + k), i + k, from);
			send_frame(s, f, frame_len(i + k),
				   &(struct virtio_net_hdr){0});
		}
		assert_int_equal(recv_frames(r, n), n);
		for (unsigned k = 0; k < n; k++, got++) {
			fill(f, frame_len(got), got, from);
			assert_int_equal(rxf[k].len, frame_len(got));
			assert_memory_equal(rxf[k].data, f, rxf[k].len);
			assert_plain_header(&rxf[k].hdr, rxf[k].len);
		}
	}
}

/* Both ways with receive buffers headroom bytes into their lines. */
static void both_ways(uint32_t headroom)
{
	const struct vu_drv_opts o = {.rx_headroom = headroom};
	uint64_t fw_a, fw_b, rx_a, rx_b;

	fw_a = tdaemon_stat(&td, "a", 1, "forwarded");
	fw_b = tdaemon_stat(&td, "b", 1, "forwarded");
	rx_a = tdaemon_stat(&td, "a", 0, "packets");
	rx_b = tdaemon_stat(&td, "b", 0, "packets");
	guest_up_opts(&a, td.sock[0], FEATURES, VU_FRONT_PROTOCOL_DEFAULT, &o);
	guest_up_opts(&b, td.sock[1], FEATURES, VU_FRONT_PROTOCOL_DEFAULT, &o);
	hooked = 0;
	rx_hook = stale_header;
	one_way(&a, &b, 1);
	one_way(&b, &a, 2);
	rx_hook = NULL;
	assert_int_equal(tdaemon_stat(&td, "a", 1, "forwarded"),
			 fw_a + NFRAMES);
	assert_int_equal(tdaemon_stat(&td, "b", 1, "forwarded"),
			 fw_b + NFRAMES);
	assert_int_equal(tdaemon_stat(&td, "b", 0, "packets"),
			 rx_b + NFRAMES);
	assert_int_equal(tdaemon_stat(&td, "a", 0, "packets"),
			 rx_a + NFRAMES);
}

/* The header shares the frame's first line (Linux's layout): vhostd
 * writes that line anyway, and prefetches it for writing. */
static void test_both_ways(void **state)
{
	(void)state;
	both_ways(0);
}

/* The header at the end of a line of its own, the frame from the next
 * (DPDK's mbufs): vhostd only reads that line unless the header differs.
 * In both layouts each buffer a frame lands in holds either a foreign
 * header (the hook's) or the right one already. */
static void test_both_ways_header_alone(void **state)
{
	(void)state;
	both_ways(64 - 12);
}

/* With IN_ORDER both guests' drivers check that every used id follows
 * the order its buffer was made available (vu_drv breaks otherwise);
 * small receive buffers make most frames span several. */
static void test_both_ways_in_order(void **state)
{
	uint64_t f = FEATURES | BIT_ULL(VIRTIO_F_IN_ORDER);

	(void)state;
	guest_up_opts(&a, td.sock[0], f, VU_FRONT_PROTOCOL_DEFAULT,
		      &(struct vu_drv_opts){.rx_buf_size = 256});
	guest_up(&b, td.sock[1], f);
	one_way(&a, &b, 1);
	one_way(&b, &a, 2);
	assert_false(vu_drv_broken(a.d));
	assert_false(vu_drv_broken(b.d));
}

static void test_rarp_announce(void **state)
{
	static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0xab, 0xcd, 0xef};
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	struct vu_hdr h = {VU_REQ_SEND_RARP, VU_VERSION | VU_FLAG_NEED_REPLY,
			   8};
	struct vu_msg ack;
	uint64_t payload = 0;
	static uint8_t f[64];

	(void)state;
	memcpy(&payload, mac, 6);
	guest_up_proto(&a, td.sock[0], FEATURES, VU_FRONT_PROTOCOL_DEFAULT |
		       BIT_ULL(VU_PROTOCOL_F_RARP));
	guest_up(&b, td.sock[1], FEATURES);
	assert_int_equal(vu_front_raw_send(a.f, &h, &payload, 8, NULL, 0), 0);
	/* The ack: vhostd has queued the announcement. */
	assert_int_equal(vu_front_raw_recv(a.f, &ack, IO_MS, NULL, NULL), 1);
	assert_int_equal(ack.payload.u64, 0);
	fill(f, 60, 0, 1);
	send_frame(&a, f, 60, &(struct virtio_net_hdr){0});
	assert_int_equal(recv_frames(&b, 2), 2);
	const uint8_t *r = rxf[0].data;
	assert_int_equal(rxf[0].len, 60);
	assert_memory_equal(r, bcast, 6);
	assert_memory_equal(r + 6, mac, 6);
	assert_int_equal(r[12] << 8 | r[13], 0x8035);   /* RARP */
	assert_int_equal(r[20] << 8 | r[21], 3);        /* request reverse */
	assert_memory_equal(r + 22, mac, 6);            /* sender MAC */
	assert_memory_equal(r + 32, mac, 6);            /* target MAC */
	assert_memory_equal(rxf[1].data, f, 60);        /* then the traffic */
}

/*
 * A migration's destination QEMU may send SEND_RARP before it sets up the
 * rings: the announcement waits for them, then goes out ahead of the
 * guest's traffic (it used to be dropped, logged as "not linked").
 */
static void test_rarp_before_rings(void **state)
{
	static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0xab, 0xcd, 0x01};
	struct vu_guestmem_opts mo = {.size = 16u << 20, .nregions = 1,
				      .backing = VU_GUESTMEM_MEMFD};
	static uint8_t f[64];

	(void)state;
	guest_up(&b, td.sock[1], FEATURES);
	uint64_t offered;

	assert_int_equal(vu_front_connect(&a.f, td.sock[0], IO_MS, IO_MS), 0);
	/* What QEMU's destination does before the VM runs: protocol
	 * features; no features, memory or ring yet. */
	assert_int_equal(vu_front_set_owner(a.f), 0);
	assert_int_equal(vu_front_get_features(a.f, &offered), 0);
	assert_int_equal(vu_front_get_protocol_features(a.f, &offered), 0);
	assert_int_equal(vu_front_set_protocol_features(a.f,
		VU_FRONT_PROTOCOL_DEFAULT | BIT_ULL(VU_PROTOCOL_F_RARP)), 0);
	assert_int_equal(vu_front_send_rarp(a.f, mac), 0);
	msleep(20);
	assert_int_equal(vu_front_set_features(a.f, FEATURES), 0);
	assert_int_equal(vu_front_mem_init(a.f, &mo), 0);
	assert_int_equal(vu_front_set_mem_table(a.f), 0);
	assert_int_equal(vu_front_setup_queues(a.f, 1, 256), 0);
	assert_int_equal(vu_drv_create(&a.d, a.f, &(struct vu_drv_opts){
		.pair = 0}), 0);
	fill(f, 60, 0, 1);
	send_frame(&a, f, 60, &(struct virtio_net_hdr){0});
	assert_int_equal(recv_frames(&b, 2), 2);
	assert_int_equal(rxf[0].len, 60);
	assert_int_equal(rxf[0].data[12] << 8 | rxf[0].data[13], 0x8035);
	assert_memory_equal(rxf[0].data + 6, mac, 6);
	assert_memory_equal(rxf[1].data, f, 60);
}

/*
 * SIGTERM while two linked guests are attached and their rings run:
 * vhostd stops the workers before any port, so tearing down port a never
 * leaves port b's paths reading a's freed rings (it used to crash, signal
 * 11, in every run).  Both guests' frames up to the signal arrived.
 */
static void test_sigterm_linked(void **state)
{
	struct tdaemon t2 = {0};   /* every member: tdaemon_start reads .bridge */

	(void)state;
	assert_int_equal(tdaemon_args(&t2, 3, (char *[]){"", (char *)td.bin,
			 (char *)td.ctl_bin}), 0);
	for (int round = 0; round < 3; round++) {
		assert_int_equal(tdaemon_start(&t2, (const char *const[]){
			"a", "b", NULL}, (char *const[]){"--link", "a=b",
			NULL}), 0);
		guest_up(&a, t2.sock[0], FEATURES);
		guest_up(&b, t2.sock[1], FEATURES);
		one_way(&a, &b, 1);
		one_way(&b, &a, 2);
		assert_int_equal(tdaemon_stop(&t2), 0);
		guest_down(&a);
		guest_down(&b);
	}
}

static int group_setup(void **state)
{
	(void)state;
	return tdaemon_start(&td, (const char *const[]){"a", "b", NULL},
			     (char *const[]){"--link", "a=b", NULL});
}

static int group_teardown(void **state)
{
	(void)state;
	return tdaemon_stop(&td);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_both_ways, test_teardown),
		cmocka_unit_test_teardown(test_both_ways_header_alone,
					  test_teardown),
		cmocka_unit_test_teardown(test_both_ways_in_order,
					  test_teardown),
		cmocka_unit_test_teardown(test_rarp_announce, test_teardown),
		cmocka_unit_test_teardown(test_rarp_before_rings,
					  test_teardown),
		cmocka_unit_test_teardown(test_sigterm_linked, test_teardown),
	};

	if (tdaemon_args(&td, argc, argv) < 0)
		return 2;
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
