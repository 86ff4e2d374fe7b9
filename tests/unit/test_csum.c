/* SPDX-License-Identifier: MIT */
/*
 * test_csum.c: the Internet checksum (datapath/csum.h) against a plain
 * big-endian reference, over chains cut into segments of every parity.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>

#include "datapath/csum.h"

static uint16_t ref_sum(const uint8_t *p, uint32_t len)
{
	uint32_t s = 0;

	for (uint32_t i = 0; i < len; i += 2)
		s += (uint32_t)p[i] << 8 | (i + 1 < len ? p[i + 1] : 0);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* The raw (memory order) folded sum as a big-endian number. */
static uint16_t as_be(uint16_t raw)
{
	uint8_t b[2];

	memcpy(b, &raw, 2);
	return (uint16_t)(b[0] << 8 | b[1]);
}

static void test_bytes_every_length(void **state)
{
	uint8_t buf[300];

	(void)state;
	for (uint32_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 37 + 11);
	for (uint32_t len = 0; len <= sizeof(buf); len++)
		assert_int_equal(as_be(csum_fold(csum_bytes(0, buf, len))),
				 ref_sum(buf, len));
	memset(buf, 0xff, sizeof(buf));   /* carries all the way */
	assert_int_equal(as_be(csum_fold(csum_bytes(0, buf, 299))),
			 ref_sum(buf, 299));
}

/* Random cuts, random ranges: csum_chain == reference over the bytes. */
static void test_chain_random_cuts(void **state)
{
	static uint8_t data[4096];
	struct vq_chain c;

	(void)state;
	srand(7);
	for (uint32_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)rand();
	for (int round = 0; round < 2000; round++) {
		uint32_t pos = 0;
		c.nseg = 0;
		while (pos < sizeof(data) && c.nseg < VQ_MAX_SEGS) {
			uint32_t n = 1 + (uint32_t)rand() % 97;
			n = MIN(n, (uint32_t)sizeof(data) - pos);
			c.seg[c.nseg++] = (struct vq_seg){data + pos, 0, n};
			pos += n;
		}
		c.len = pos;
		uint32_t off = (uint32_t)rand() % pos;
		uint32_t len = (uint32_t)rand() % (pos - off + 1);
		assert_int_equal(as_be(csum_fold(csum_chain(&c, off, len))),
				 ref_sum(data + off, len));
	}
}

static void test_finish_and_be16(void **state)
{
	(void)state;
	/* RFC 1071 example words 0001 f203 f4f5 f6f7: sum ddf2, csum 220d */
	const uint8_t w[8] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
	assert_int_equal(as_be(csum_fold(csum_bytes(0, w, 8))), 0xddf2);
	assert_int_equal(as_be(csum_finish(csum_bytes(0, w, 8))), 0x220d);
	assert_int_equal(as_be(csum_fold(csum_be16(0x1234))), 0x1234);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bytes_every_length),
		cmocka_unit_test(test_chain_random_cuts),
		cmocka_unit_test(test_finish_and_be16),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
