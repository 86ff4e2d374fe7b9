/* SPDX-License-Identifier: MIT */
/*
 * test_dpdk_ring.c: a guest linked to a DPDK port through a real vhostd.
 *
 * The port is DPDK's net_ring0: a ring per queue that its transmit side
 * fills and its receive side empties, so what the guest sends through the
 * port comes back to it, through every mbuf code path of pmd/port_dpdk.c
 * (one copy guest -> mbuf, the ring, one copy mbuf -> guest).  Checked:
 *   - frames of every size come back intact and in order, and the port's
 *     counters (portq and ethdev lines) account for each;
 *   - frames larger than one mbuf travel as multi-segment mbufs;
 *   - net_ring takes no offload: a partial checksum is completed and a
 *     TSO frame cut into segments in software before the ring, and come
 *     back as plain frames with valid checksums;
 *   - the ethdev line says link=up;
 *   - a chain of aliased descriptors 2^32 - 64 bytes long is dropped as
 *     too big before the port (its segment count once wrapped to 0 and an
 *     uninitialised mbuf pointer was sent), and the port carries on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "guest_util.h"
#include "big_chain.h"

#define NFRAMES 200u
#define MSS 500u
#define PAYLOAD 1800u            /* 4 segments: 500 500 500 300 */

static struct tdaemon td;       /* port g (td.sock[0]) linked to r */
static struct guest g;

static const uint64_t BASE = BIT_ULL(VIRTIO_F_VERSION_1) |
	BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES) |
	BIT_ULL(VIRTIO_NET_F_MRG_RXBUF);

static int test_teardown(void **state)
{
	(void)state;
	guest_down(&g);
	return 0;
}

/* Counter key summed over port r's record lines ("portq": one per
 * queue, "ethdev": one), from `vhostctl stats`; *has set when a line also
 * holds text. */
static uint64_t stat_has(const char *record, const char *key,
			 const char *text, bool *has)
{
	char cmd[300], line[2048], want[64], k[64];
	uint64_t v = 0;

	snprintf(cmd, sizeof(cmd), "%s %s stats", td.ctl_bin, td.ctl);
	snprintf(want, sizeof(want), "%s port=r ", record);
	snprintf(k, sizeof(k), " %s=", key);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		char *at = strstr(line, k);
		if (strncmp(line, want, strlen(want)) != 0)
			continue;
		if (at)
			v += strtoull(at + strlen(k), NULL, 10);
		if (text && has && strstr(line, text))
			*has = true;
	}
	pclose(p);
	return v;
}

static uint64_t port_stat(const char *record, const char *key)
{
	return stat_has(record, key, NULL, NULL);
}

static void fill(uint8_t *f, uint32_t len, unsigned i)
{
	memset(f, 0xff, 6);
	memcpy(f + 6, (uint8_t[]){0x52, 0x54, 0, 0, 0, 7}, 6);
	f[12] = 0x88;                    /* local experimental ethertype */
	f[13] = 0xb5;
	for (uint32_t k = 14; k < len; k++)
		f[k] = (uint8_t)(k * 13 + i * 5);
}

/* n frames of len(i) bytes out through the port and back, each intact
 * and in order. */
static void round_trip(unsigned n, uint32_t (*len)(unsigned))
{
	static uint8_t f[4096];
	unsigned got = 0;

	for (unsigned i = 0; i < n; i += MAX_RX) {
		unsigned b = n - i < MAX_RX ? n - i : MAX_RX;
		for (unsigned k = 0; k < b; k++) {
			fill(f, len(i + k), i + k);
			send_frame(&g, f, len(i + k),
				   &(struct virtio_net_hdr){0});
		}
		assert_int_equal(recv_frames(&g, b), b);
		for (unsigned k = 0; k < b; k++, got++) {
			fill(f, len(got), got);
			assert_int_equal(rxf[k].len, len(got));
			assert_memory_equal(rxf[k].data, f, rxf[k].len);
			assert_int_equal(rxf[k].hdr.flags, 0);
		}
	}
}

static uint32_t any_size(unsigned i)
{
	return 60 + (i * 131) % (1514 - 60 + 1);
}

static void test_frames_come_back_intact(void **state)
{
	(void)state;
	uint64_t tx = port_stat("portq", "tx_packets");
	uint64_t rx = port_stat("portq", "rx_packets");
	uint64_t op = port_stat("ethdev", "opackets");

	guest_up(&g, td.sock[0], BASE);
	round_trip(NFRAMES, any_size);
	assert_int_equal(port_stat("portq", "tx_packets"), tx + NFRAMES);
	assert_int_equal(port_stat("portq", "rx_packets"), rx + NFRAMES);
	assert_int_equal(port_stat("ethdev", "opackets"), op + NFRAMES);
	assert_int_equal(port_stat("portq", "tx_dropped"), 0);
	bool up = false;
	assert_int_equal(stat_has("ethdev", "ipackets", " link=up ", &up),
			 port_stat("ethdev", "opackets"));
	assert_true(up);
}

/* 2049..4000 bytes: two mbufs each (2048 bytes of data room). */
static uint32_t two_mbufs(unsigned i)
{
	return 2049 + (i * 97) % (4000 - 2049 + 1);
}

static void test_large_frames_span_mbufs(void **state)
{
	(void)state;
	uint64_t big = port_stat("portq", "tx_too_big");

	guest_up_opts(&g, td.sock[0], BASE, VU_FRONT_PROTOCOL_DEFAULT,
		      &(struct vu_drv_opts){.tx_frame_max = 4096});
	round_trip(64, two_mbufs);
	assert_int_equal(port_stat("portq", "tx_too_big"), big);
}

/* ---- a 4 GiB chain ------------------------------------------------ */

/* A chain of 2^32 - 64 bytes (big_chain.h): vhostd must drop it as too big
 * (the path's drop_too_big) without a byte reaching the port. */
static void test_4gib_chain_is_dropped_before_the_port(void **state)
{
	struct vu_guestmem_opts mo = {.size = 256u << 20, .nregions = 1,
				      .backing = VU_GUESTMEM_MEMFD};

	(void)state;
	uint64_t tx = port_stat("portq", "tx_packets");
	uint64_t op = port_stat("ethdev", "opackets");
	uint64_t drops = tdaemon_stat(&td, "g", 1, "drop_too_big");
	assert_int_equal(vu_front_connect(&g.f, td.sock[0], IO_MS, IO_MS), 0);
	assert_int_equal(vu_front_negotiate(g.f, BASE,
					    VU_FRONT_PROTOCOL_DEFAULT), 0);
	assert_int_equal(vu_front_mem_init(g.f, &mo), 0);
	assert_int_equal(vu_front_set_mem_table(g.f), 0);
	assert_int_equal(vu_front_setup_queues(g.f, 1, 256), 0);
	uint16_t want = big_chain_post(g.f, 1);
	assert_true(big_chain_used(g.f, 1, want, IO_MS));
	assert_int_equal(tdaemon_stat(&td, "g", 1, "drop_too_big"), drops + 1);
	assert_int_equal(port_stat("portq", "tx_packets"), tx);
	assert_int_equal(port_stat("ethdev", "opackets"), op);
	guest_down(&g);
	/* The port carries on. */
	guest_up(&g, td.sock[0], BASE);
	round_trip(8, any_size);
}

/* ---- offloads, done in software before the ring --------------------- */

static void wr16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Reference one's complement sum of big-endian words. */
static uint32_t sum16(uint32_t s, const uint8_t *p, uint32_t len)
{
	for (uint32_t i = 0; i < len; i += 2)
		s += (uint32_t)p[i] << 8 | (i + 1 < len ? p[i + 1] : 0);
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* Ethernet IPv4 TCP (20-byte header) + payload; the TCP checksum holds
 * the pseudo-header sum, as a guest sends it with NEEDS_CSUM.  L4 at 34,
 * headers 54 bytes. */
static uint32_t build_tcp(uint8_t *f, uint32_t payload)
{
	uint8_t *ip = f + 14, *tcp = f + 34;
	uint32_t tcp_len = 20 + payload;

	memcpy(f, (uint8_t[]){0x52, 0x54, 0, 0, 0, 8}, 6);
	memcpy(f + 6, (uint8_t[]){0x52, 0x54, 0, 0, 0, 7}, 6);
	wr16(f + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	wr16(ip + 2, 20 + tcp_len);
	wr16(ip + 4, 0x4321);
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, (uint8_t[]){10, 1, 0, 1, 10, 1, 0, 2}, 8);
	wr16(ip + 10, (uint16_t)~fold(sum16(0, ip, 20)));
	memset(tcp, 0, 20);
	wr16(tcp, 40000);
	wr16(tcp + 2, 5001);
	wr16(tcp + 6, 1000);
	tcp[12] = 5 << 4;
	tcp[13] = 0x18;                    /* PSH ACK */
	wr16(tcp + 14, 0xffff);
	for (uint32_t i = 0; i < payload; i++)
		f[54 + i] = (uint8_t)(i * 11 + 1);
	wr16(tcp + 16, fold(sum16(0, ip + 12, 8) + 6 + tcp_len));
	return 54 + payload;
}

static bool tcp_csum_ok(const uint8_t *f, uint32_t len)
{
	uint32_t tcp_len = len - 34;
	uint32_t s = sum16(0, f + 26, 8) + 6 + tcp_len;

	return fold(sum16(s, f + 34, tcp_len)) == 0xffff;
}

static void test_partial_checksum_completed_in_software(void **state)
{
	static uint8_t f[2048];
	struct virtio_net_hdr h = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				   .csum_start = 34, .csum_offset = 16};
	uint32_t len = build_tcp(f, 1000);

	(void)state;
	guest_up(&g, td.sock[0], BASE | BIT_ULL(VIRTIO_NET_F_CSUM) |
		 BIT_ULL(VIRTIO_NET_F_GUEST_CSUM));
	send_frame(&g, f, len, &h);
	assert_int_equal(recv_frames(&g, 1), 1);
	assert_int_equal(rxf[0].len, len);
	assert_int_equal(rxf[0].hdr.flags, 0);   /* net_ring checks nothing */
	assert_true(tcp_csum_ok(rxf[0].data, len));
	assert_memory_equal(rxf[0].data + 54, f + 54, 1000);
	assert_int_equal(port_stat("portq", "tx_csum_hw"), 0);
}

static void test_tso_frame_cut_in_software(void **state)
{
	static uint8_t f[2048];
	struct virtio_net_hdr h = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				   .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
				   .hdr_len = 54, .gso_size = MSS,
				   .csum_start = 34, .csum_offset = 16};
	uint32_t len = build_tcp(f, PAYLOAD);
	unsigned nseg = (PAYLOAD + MSS - 1) / MSS;

	(void)state;
	guest_up(&g, td.sock[0], BASE | BIT_ULL(VIRTIO_NET_F_CSUM) |
		 BIT_ULL(VIRTIO_NET_F_HOST_TSO4));
	send_frame(&g, f, len, &h);
	assert_int_equal(recv_frames(&g, nseg), nseg);
	for (unsigned k = 0; k < nseg; k++) {
		uint32_t n = k + 1 < nseg ? MSS : PAYLOAD - k * MSS;
		assert_int_equal(rxf[k].len, 54 + n);
		assert_int_equal(rxf[k].hdr.gso_type, 0);
		assert_true(tcp_csum_ok(rxf[k].data, 54 + n));
		assert_memory_equal(rxf[k].data + 54, f + 54 + k * MSS, n);
	}
	assert_int_equal(port_stat("portq", "tx_tso"), 0);
}

static int group_setup(void **state)
{
	(void)state;
	return tdaemon_start(&td, (const char *const[]){"g", NULL},
			     (char *const[]){"--port", "r=dpdk:net_ring0",
					     "--link", "g=r", NULL});
}

static int group_teardown(void **state)
{
	(void)state;
	return tdaemon_stop(&td);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_frames_come_back_intact,
					  test_teardown),
		cmocka_unit_test_teardown(test_large_frames_span_mbufs,
					  test_teardown),
		cmocka_unit_test_teardown(
			test_4gib_chain_is_dropped_before_the_port,
			test_teardown),
		cmocka_unit_test_teardown(
			test_partial_checksum_completed_in_software,
			test_teardown),
		cmocka_unit_test_teardown(test_tso_frame_cut_in_software,
					  test_teardown),
	};

	if (tdaemon_args(&td, argc, argv) < 0)
		return 2;
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
