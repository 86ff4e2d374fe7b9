/* SPDX-License-Identifier: MIT */
/*
 * A frame's virtio-net header as DPDK transmit offloads
 * (pmd/dpdk_offload.h), on mbufs built on the stack (no EAL).  The
 * pseudo-header checksums are checked against an independent sum.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "pmd/dpdk_offload.h"

#define HDR 12u
#define ROOM 2048u

static uint8_t buf[2][RTE_PKTMBUF_HEADROOM + ROOM];
static struct rte_mbuf mb[2];
static struct vq_chain chain;

static const struct ofl_caps ALL = {true, true, true, false};
static const struct ofl_caps NONE = {false, false, false, false};

/* ---- frames ---------------------------------------------------------- */

static void wr16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t rd16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

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

struct frame {
	bool v6, vlan, udp, hbh;   /* hbh: IPv6 hop-by-hop header (8 B) */
	uint32_t payload;
	uint32_t l3, l4, hlen, len;
};

/* Ethernet [VLAN] IPv4|IPv6 TCP (32-byte header)|UDP + payload at f. */
static void build(uint8_t *f, struct frame *x)
{
	uint32_t at = 12, l4len = x->udp ? 8 : 32;

	memset(f, 0, 14);
	memcpy(f, (uint8_t[]){2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1}, 12);
	if (x->vlan) {
		wr16(f + at, 0x8100);
		wr16(f + at + 2, 7);
		at += 4;
	}
	wr16(f + at, x->v6 ? 0x86dd : 0x0800);
	x->l3 = at + 2;
	uint8_t *ip = f + x->l3;
	uint32_t l4total = l4len + x->payload;
	if (x->v6) {
		memset(ip, 0, 40);
		ip[0] = 0x60;
		wr16(ip + 4, l4total);
		ip[6] = x->udp ? 17 : 6;
		ip[7] = 64;
		for (int i = 0; i < 32; i++)
			ip[8 + i] = (uint8_t)(0x10 + i);
		x->l4 = x->l3 + 40;
		if (x->hbh) {   /* next header, length 0, PadN of 4 */
			memcpy(ip + 40, (uint8_t[]){ip[6], 0, 1, 4, 0, 0, 0, 0},
			       8);
			ip[6] = 0;
			wr16(ip + 4, l4total + 8);
			x->l4 += 8;
		}
	} else {
		memset(ip, 0, 20);
		ip[0] = 0x45;
		wr16(ip + 2, 20 + l4total);
		ip[8] = 64;
		ip[9] = x->udp ? 17 : 6;
		memcpy(ip + 12, (uint8_t[]){10, 0, 0, 1, 10, 0, 0, 2}, 8);
		wr16(ip + 10, (uint16_t)~fold(sum16(0, ip, 20)));
		x->l4 = x->l3 + 20;
	}
	uint8_t *l4 = f + x->l4;
	memset(l4, 0, l4len);
	wr16(l4, 40000);
	wr16(l4 + 2, 5001);
	if (x->udp) {
		wr16(l4 + 4, l4total);
	} else {
		l4[12] = 8 << 4;
		l4[13] = 0x18;
	}
	x->hlen = x->l4 + l4len;
	for (uint32_t i = 0; i < x->payload; i++)
		f[x->hlen + i] = (uint8_t)(i * 7 + 1);
	x->len = x->hlen + x->payload;
}

/* The pseudo-header sum (not complemented), with or without length. */
static uint16_t phdr(const uint8_t *f, const struct frame *x, bool len)
{
	const uint8_t *ip = f + x->l3;
	uint32_t s = x->v6 ? sum16(0, ip + 8, 32) : sum16(0, ip + 12, 8);

	s += x->udp ? 17 : 6;
	if (len)
		s += x->len - x->l4;
	return fold(s);
}

/* The frame in mb[0] (one segment, or two with split bytes in the
 * first); chain covers it as the datapath's did (header first). */
static uint8_t *put(struct frame *x, uint32_t split)
{
	static uint8_t f[ROOM * 2];

	build(f, x);
	memset(mb, 0, sizeof(mb));
	for (int i = 0; i < 2; i++) {
		mb[i].buf_addr = buf[i];
		mb[i].buf_len = sizeof(buf[i]);
		mb[i].data_off = RTE_PKTMBUF_HEADROOM;
		mb[i].nb_segs = 1;
	}
	uint32_t first = split ? split : x->len;
	memcpy(buf[0] + RTE_PKTMBUF_HEADROOM, f, first);
	memset(buf[0] + RTE_PKTMBUF_HEADROOM - HDR, 0, HDR);
	mb[0].data_len = (uint16_t)first;
	mb[0].pkt_len = x->len;
	chain = (struct vq_chain){.nseg = 1, .len = HDR + first};
	chain.seg[0] = (struct vq_seg){buf[0] + RTE_PKTMBUF_HEADROOM - HDR, 0,
				       HDR + first};
	if (split) {
		memcpy(buf[1] + RTE_PKTMBUF_HEADROOM, f + split, x->len - split);
		mb[1].data_len = (uint16_t)(x->len - split);
		mb[0].next = &mb[1];
		mb[0].nb_segs = 2;
		chain.nseg = 2;
		chain.len += x->len - split;
		chain.seg[1] = (struct vq_seg){buf[1] + RTE_PKTMBUF_HEADROOM, 0,
					       x->len - split};
	}
	return buf[0] + RTE_PKTMBUF_HEADROOM;
}

static struct virtio_net_hdr csum_hdr(const struct frame *x)
{
	return (struct virtio_net_hdr){
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.csum_start = (uint16_t)x->l4,
		.csum_offset = x->udp ? 6 : 16};
}

static struct virtio_net_hdr gso_hdr(const struct frame *x, uint16_t mss)
{
	struct virtio_net_hdr h = csum_hdr(x);

	h.gso_type = x->v6 ? VIRTIO_NET_HDR_GSO_TCPV6 :
			     VIRTIO_NET_HDR_GSO_TCPV4;
	h.gso_size = mss;
	h.hdr_len = (uint16_t)x->hlen;
	return h;
}

static uint32_t l4_field(const uint8_t *f, const struct frame *x)
{
	return rd16(f + x->l4 + (x->udp ? 6 : 16));
}

/* ---- checksum offload ---------------------------------------------- */

static void test_tcp4_checksum_goes_to_the_device(void **state)
{
	struct frame x = {.payload = 1000};
	uint8_t *f = put(&x, 0);
	struct virtio_net_hdr h = csum_hdr(&x);

	(void)state;
	assert_int_equal(dpdk_ofl_tx(&mb[0], &chain, HDR, &h, &ALL),
			 DPDK_OFL_HW_CSUM);
	assert_int_equal(mb[0].ol_flags,
			 RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_CKSUM);
	assert_int_equal(mb[0].l2_len, 14);
	assert_int_equal(mb[0].l3_len, 20);
	assert_int_equal(mb[0].l4_len, 32);
	assert_int_equal(l4_field(f, &x), phdr(f, &x, true));
	assert_int_equal(fold(sum16(0, f + x.l3, 20)), 0xffff); /* kept */
}

static void test_udp6_checksum_goes_to_the_device(void **state)
{
	struct frame x = {.v6 = true, .udp = true, .payload = 333};
	uint8_t *f = put(&x, 0);
	struct virtio_net_hdr h = csum_hdr(&x);

	(void)state;
	assert_int_equal(dpdk_ofl_tx(&mb[0], &chain, HDR, &h, &ALL),
			 DPDK_OFL_HW_CSUM);
	assert_int_equal(mb[0].ol_flags,
			 RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_UDP_CKSUM);
	assert_int_equal(mb[0].l3_len, 40);
	assert_int_equal(mb[0].l4_len, 8);
	assert_int_equal(l4_field(f, &x), phdr(f, &x, true));
}

static void test_vlan_tag_counts_in_l2_len(void **state)
{
	struct frame x = {.vlan = true, .payload = 100};
	put(&x, 0);
	struct virtio_net_hdr h = csum_hdr(&x);

	(void)state;
	assert_int_equal(dpdk_ofl_tx(&mb[0], &chain, HDR, &h, &ALL),
			 DPDK_OFL_HW_CSUM);
	assert_int_equal(mb[0].l2_len, 18);
}

/* ---- TSO ---------------------------------------------------------------- */

static void test_tso4_asks_for_segmentation(void **state)
{
	struct frame x = {.payload = 4000};
	uint8_t *f = put(&x, 0);
	struct virtio_net_hdr h = gso_hdr(&x, 1448);

	(void)state;
	assert_int_equal(dpdk_ofl_tx(&mb[0], &chain, HDR, &h, &ALL),
			 DPDK_OFL_TSO);
	assert_int_equal(mb[0].ol_flags,
			 RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM |
			 RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_TCP_SEG);
	assert_int_equal(mb[0].tso_segsz, 1448);
	assert_int_equal(mb[0].l4_len, 32);
	assert_int_equal(rd16(f + x.l3 + 10), 0);    /* IP checksum: 0 */
	assert_int_equal(l4_field(f, &x), phdr(f, &x, false));
}

static void test_tso6_asks_for_segmentation(void **state)
{
	struct frame x = {.v6 = true, .payload = 3000};
	uint8_t *f = put(&x, 0);
	struct virtio_net_hdr h = gso_hdr(&x, 1000);

	(void)state;
	assert_int_equal(dpdk_ofl_tx(&mb[0], &chain, HDR, &h, &ALL),
			 DPDK_OFL_TSO);
	assert_int_equal(mb[0].ol_flags,
			 RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_TCP_CKSUM |
			 RTE_MBUF_F_TX_TCP_SEG);
	assert_int_equal(mb[0].tso_segsz, 1000);
	assert_int_equal(l4_field(f, &x), phdr(f, &x, false));
}

/* One segment's worth of payload: no segmentation asked. */
static void test_gso_frame_of_one_segment_is_checksum_only(void **state)
{
	struct frame x = {.payload = 1000};
	uint8_t *f = put(&x, 0);
	struct virtio_net_hdr h = gso_hdr(&x, 1448);

	(void)state;
	assert_int_equal(dpdk_ofl_tx(&mb[0], &chain, HDR, &h, &ALL),
			 DPDK_OFL_HW_CSUM);
	assert_int_equal(mb[0].ol_flags & RTE_MBUF_F_TX_TCP_SEG, 0);
	assert_int_equal(l4_field(f, &x), phdr(f, &x, true));
}

static void test_gso_the_device_cannot_take_is_refused(void **state)
{
	struct frame x = {.v6 = true, .payload = 4000};
	put(&x, 0);
	struct virtio_net_hdr h = gso_hdr(&x, 1000);
	struct ofl_caps no6 = {true, true, false, false};

	(void)state;
	assert_int_equal(dpdk_ofl_tx(&mb[0], &chain, HDR, &h, &no6),
			 DPDK_OFL_BAD);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;     /* says v4, is v6 */
	assert_int_equal(dpdk_ofl_tx(&mb[0], &chain, HDR, &h, &ALL),
			 DPDK_OFL_BAD);
	h = gso_hdr(&x, 0);                        /* no segment size */
	assert_int_equal(dpdk_ofl_tx(&mb[0], &chain, HDR, &h, &ALL),
			 DPDK_OFL_BAD);
	h = gso_hdr(&x, 1000);
	h.flags = 0;                               /* GSO without csum */
	assert_int_equal(dpdk_ofl_tx(&mb[0], &chain, HDR, &h, &ALL),
			 DPDK_OFL_BAD);
	assert_int_equal(mb[0].ol_flags, 0);
}

/* ---- done in software ------------------------------------------------ */

static bool csum_ok(const uint8_t *f, const struct frame *x)
{
	uint32_t s = phdr(f, x, true);

	return fold(sum16(s, f + x->l4, x->len - x->l4)) == 0xffff;
}

static void test_without_csum_caps_checksum_is_completed(void **state)
{
	struct frame x = {.payload = 777};
	uint8_t *f = put(&x, 0);
	struct virtio_net_hdr h = csum_hdr(&x);

	(void)state;
	wr16(f + x.l4 + 16, phdr(f, &x, true));    /* as a guest sends it */
	assert_int_equal(dpdk_ofl_tx(&mb[0], &chain, HDR, &h, &NONE),
			 DPDK_OFL_SW_CSUM);
	assert_int_equal(mb[0].ol_flags, 0);
	assert_true(csum_ok(f, &x));
}

/* Not TCP/UDP at csum_start as the device could be told: software. */
static void test_unknown_l4_checksum_is_completed(void **state)
{
	struct frame x = {.payload = 64};
	uint8_t *f = put(&x, 0);
	struct virtio_net_hdr h = csum_hdr(&x);

	(void)state;
	h.csum_offset = 10;                        /* not TCP's 16 */
	assert_int_equal(dpdk_ofl_tx(&mb[0], &chain, HDR, &h, &ALL),
			 DPDK_OFL_SW_CSUM);
	assert_int_equal(mb[0].ol_flags, 0);
	uint32_t s = 0;
	assert_int_equal(fold(sum16(s, f + x.l4, x.len - x.l4)), 0xffff);
}

/* Headers split over two mbufs: the checksum lands in the second. */
static void test_headers_beyond_first_mbuf_done_in_software(void **state)
{
	struct frame x = {.payload = 500};
	uint8_t *f = put(&x, 40);
	struct virtio_net_hdr h = csum_hdr(&x);
	static uint8_t whole[ROOM];

	(void)state;
	/* The guest's partial value: the pseudo-header sum. */
	wr16(buf[1] + RTE_PKTMBUF_HEADROOM + x.l4 + 16 - 40,
	     phdr(f, &x, true));
	assert_int_equal(dpdk_ofl_tx(&mb[0], &chain, HDR, &h, &ALL),
			 DPDK_OFL_SW_CSUM);
	memcpy(whole, f, 40);
	memcpy(whole + 40, buf[1] + RTE_PKTMBUF_HEADROOM, x.len - 40);
	assert_true(csum_ok(whole, &x));
}

/* IPv6 extension headers: DPDK's pseudo-header would count them. */
static void test_ipv6_extension_headers_are_not_offloaded(void **state)
{
	struct frame x = {.v6 = true, .hbh = true, .payload = 3000};
	uint8_t *f = put(&x, 0);
	struct virtio_net_hdr h = csum_hdr(&x);
	uint32_t s = sum16(0, f + x.l3 + 8, 32) + 6 + (x.len - x.l4);

	(void)state;
	wr16(f + x.l4 + 16, fold(s));
	assert_int_equal(dpdk_ofl_tx(&mb[0], &chain, HDR, &h, &ALL),
			 DPDK_OFL_SW_CSUM);
	assert_int_equal(mb[0].ol_flags, 0);
	assert_int_equal(fold(sum16(s, f + x.l4, x.len - x.l4)), 0xffff);
	h = gso_hdr(&x, 1000);
	assert_int_equal(dpdk_ofl_tx(&mb[0], &chain, HDR, &h, &ALL),
			 DPDK_OFL_BAD);
}

static void test_checksum_outside_the_frame_is_refused(void **state)
{
	struct frame x = {.payload = 10};
	put(&x, 0);
	struct virtio_net_hdr h = csum_hdr(&x);

	(void)state;
	h.csum_start = (uint16_t)(x.len - 17);     /* field at len - 1 */
	assert_int_equal(dpdk_ofl_tx(&mb[0], &chain, HDR, &h, &ALL),
			 DPDK_OFL_BAD);
	h = (struct virtio_net_hdr){0};
	assert_int_equal(dpdk_ofl_tx(&mb[0], &chain, HDR, &h, &ALL),
			 DPDK_OFL_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp4_checksum_goes_to_the_device),
		cmocka_unit_test(test_udp6_checksum_goes_to_the_device),
		cmocka_unit_test(test_vlan_tag_counts_in_l2_len),
		cmocka_unit_test(test_tso4_asks_for_segmentation),
		cmocka_unit_test(test_tso6_asks_for_segmentation),
		cmocka_unit_test(test_gso_frame_of_one_segment_is_checksum_only),
		cmocka_unit_test(test_gso_the_device_cannot_take_is_refused),
		cmocka_unit_test(test_without_csum_caps_checksum_is_completed),
		cmocka_unit_test(test_unknown_l4_checksum_is_completed),
		cmocka_unit_test(
			test_headers_beyond_first_mbuf_done_in_software),
		cmocka_unit_test(test_ipv6_extension_headers_are_not_offloaded),
		cmocka_unit_test(test_checksum_outside_the_frame_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
