/* SPDX-License-Identifier: MIT */
/*
 * test_afxdp_csum.c: the AF_XDP port recognises the partial checksums a
 * veth peer's stack leaves in TCP/UDP frames (pmd/afxdp_csum.c), and only
 * those.  Frames and sums are built here with a plain big-endian
 * reference, independent of datapath/csum.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "pmd/afxdp.h"

/* Ones' complement sum of big-endian 16-bit words, folded. */
static uint16_t ref_sum(uint32_t s, const uint8_t *p, uint32_t len)
{
	for (uint32_t i = 0; i < len; i += 2)
		s += (uint32_t)p[i] << 8 | (i + 1 < len ? p[i + 1] : 0);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static void be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

struct frame {
	uint8_t b[512];
	uint32_t len, l4, field;   /* field: offset of the L4 checksum */
	uint16_t pseudo;           /* folded pseudo-header sum */
};

/* Ethernet (VLAN-tagged if vlan), IPv4 or IPv6, TCP (6) or UDP (17)
 * with plen payload bytes; the checksum field left 0. */
static void build(struct frame *f, bool v6, bool vlan, uint8_t proto,
		  uint32_t plen)
{
	uint32_t l3 = vlan ? 18 : 14, l4len = (proto == 6 ? 20 : 8) + plen;
	uint8_t *ip = f->b + l3, ph[40];

	memset(f, 0, sizeof(*f));
	memset(f->b, 0xaa, 12);
	if (vlan) {
		be16(f->b + 12, 0x8100);
		be16(f->b + 14, 42);
	}
	be16(f->b + l3 - 2, v6 ? 0x86dd : 0x0800);
	if (v6) {
		ip[0] = 0x60;
		be16(ip + 4, (uint16_t)l4len);
		ip[6] = proto;
		ip[7] = 64;
		for (int i = 0; i < 32; i++)
			ip[8 + i] = (uint8_t)(0x20 + i * 7);
		f->l4 = l3 + 40;
		memcpy(ph, ip + 8, 32);
		memset(ph + 32, 0, 8);
		be16(ph + 34, (uint16_t)l4len);
		ph[39] = proto;
		f->pseudo = ref_sum(0, ph, 40);
	} else {
		ip[0] = 0x45;
		be16(ip + 2, (uint16_t)(20 + l4len));
		ip[8] = 64;
		ip[9] = proto;
		memcpy(ip + 12, (uint8_t[]){10, 78, 0, 2, 10, 78, 0, 1}, 8);
		f->l4 = l3 + 20;
		memcpy(ph, ip + 12, 8);
		ph[8] = 0;
		ph[9] = proto;
		be16(ph + 10, (uint16_t)l4len);
		f->pseudo = ref_sum(0, ph, 12);
	}
	uint8_t *l4 = f->b + f->l4;
	be16(l4, 40000);
	be16(l4 + 2, 5001);
	if (proto == 17)
		be16(l4 + 4, (uint16_t)l4len);
	else
		l4[12] = 5 << 4;
	for (uint32_t i = 0; i < plen; i++)
		l4[(proto == 6 ? 20 : 8) + i] = (uint8_t)(i * 31 + 7);
	f->field = f->l4 + (proto == 6 ? 16 : 6);
	f->len = f->l4 + l4len;
}

/* What a stack under CHECKSUM_PARTIAL leaves: the pseudo-header sum. */
static void make_partial(struct frame *f)
{
	be16(f->b + f->field, f->pseudo);
}

static void make_complete(struct frame *f)
{
	be16(f->b + f->field, 0);
	uint16_t c = (uint16_t)~ref_sum(f->pseudo, f->b + f->l4,
					 f->len - f->l4);
	be16(f->b + f->field, c ? c : 0xffff);
}

static void expect_partial(struct frame *f, uint16_t off)
{
	struct virtio_net_hdr h = {0};

	assert_true(afxdp_csum_partial(f->b, f->len, &h));
	assert_int_equal(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(h.csum_start, f->l4);
	assert_int_equal(h.csum_offset, off);
	assert_int_equal(h.gso_type, 0);
}

static void expect_none(struct frame *f)
{
	struct virtio_net_hdr h = {0};

	assert_false(afxdp_csum_partial(f->b, f->len, &h));
	assert_int_equal(h.flags, 0);
}

static void test_partial_udp4_marked(void **state)
{
	struct frame f;

	(void)state;
	build(&f, false, false, 17, 100);
	make_partial(&f);
	expect_partial(&f, 6);
}

static void test_partial_tcp4_marked(void **state)
{
	struct frame f;

	(void)state;
	build(&f, false, false, 6, 61);
	make_partial(&f);
	expect_partial(&f, 16);
}

static void test_partial_tcp6_and_udp6_marked(void **state)
{
	struct frame f;

	(void)state;
	build(&f, true, false, 6, 150);
	make_partial(&f);
	expect_partial(&f, 16);
	build(&f, true, false, 17, 3);
	make_partial(&f);
	expect_partial(&f, 6);
}

static void test_partial_behind_vlan_tag_marked(void **state)
{
	struct frame f;

	(void)state;
	build(&f, false, true, 17, 40);
	make_partial(&f);
	expect_partial(&f, 6);
}

/* Short frames are padded to 60 bytes: the IP length bounds the packet. */
static void test_partial_padded_frame_marked(void **state)
{
	struct frame f;

	(void)state;
	build(&f, false, false, 17, 2);
	make_partial(&f);
	f.len = 60;
	expect_partial(&f, 6);
}

static void test_complete_checksums_untouched(void **state)
{
	struct frame f;

	(void)state;
	for (uint32_t n = 0; n < 64; n++) {
		build(&f, n & 1, n & 2, n & 4 ? 6 : 17, 10 + n * 5);
		make_complete(&f);
		expect_none(&f);
	}
}

static void test_udp4_without_checksum_untouched(void **state)
{
	struct frame f;

	(void)state;
	build(&f, false, false, 17, 20);   /* field 0: "no checksum" */
	expect_none(&f);
}

static void test_fragments_untouched(void **state)
{
	struct frame f;

	(void)state;
	build(&f, false, false, 17, 100);
	make_partial(&f);
	be16(f.b + 14 + 6, 0x2000);        /* more fragments */
	expect_none(&f);
	be16(f.b + 14 + 6, 0x0010);        /* a later fragment */
	expect_none(&f);
}

static void test_other_protocols_and_bad_lengths_untouched(void **state)
{
	struct frame f;

	(void)state;
	build(&f, false, false, 1, 30);    /* ICMP */
	expect_none(&f);
	build(&f, false, false, 17, 100);
	make_partial(&f);
	f.len -= 1;                        /* IP length beyond the frame */
	expect_none(&f);
	build(&f, true, false, 6, 100);
	make_partial(&f);
	f.b[14 + 6] = 0;                   /* IPv6 hop-by-hop: not taken */
	expect_none(&f);
	build(&f, false, false, 6, 0);
	make_partial(&f);
	f.b[14] = 0x44;                    /* IHL 4: bad */
	expect_none(&f);
	f.len = 17;
	expect_none(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_partial_udp4_marked),
		cmocka_unit_test(test_partial_tcp4_marked),
		cmocka_unit_test(test_partial_tcp6_and_udp6_marked),
		cmocka_unit_test(test_partial_behind_vlan_tag_marked),
		cmocka_unit_test(test_partial_padded_frame_marked),
		cmocka_unit_test(test_complete_checksums_untouched),
		cmocka_unit_test(test_udp4_without_checksum_untouched),
		cmocka_unit_test(test_fragments_untouched),
		cmocka_unit_test(test_other_protocols_and_bad_lengths_untouched),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
