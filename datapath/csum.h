/* SPDX-License-Identifier: MIT */
/*
 * csum.h: the Internet checksum (RFC 1071) over memory and over chains.
 *
 * Sums are kept in memory byte order ("raw"): a 16-bit field read from a
 * packet with memcpy is added as it is, and a finished checksum is stored
 * back with memcpy.  Numbers that are not in a packet (lengths, protocol in
 * a pseudo-header) are added through csum_be16().  Pieces of one byte
 * stream may be summed separately: a piece that starts at an odd offset of
 * the stream is byte-rotated (csum_add_at), as one's complement sums allow.
 */
#ifndef VHOSTD_CSUM_H
#define VHOSTD_CSUM_H

#include <stdint.h>
#include <string.h>

#include "vq.h"

/* Sum len bytes at p into sum (raw order; 64-bit accumulator). */
static inline uint64_t csum_bytes(uint64_t sum, const uint8_t *p,
				  uint32_t len)
{
	uint32_t w;
	uint16_t h;

	while (len >= 4) {
		memcpy(&w, p, 4);
		sum += w;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		memcpy(&h, p, 2);
		sum += h;
		p += 2;
		len -= 2;
	}
	if (len) {   /* trailing byte: the first byte of a 16-bit word */
		uint8_t b[2] = {p[0], 0};
		memcpy(&h, b, 2);
		sum += h;
	}
	return sum;
}

static inline uint16_t csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Add a piece's sum that starts at stream offset off. */
static inline uint64_t csum_add_at(uint64_t sum, uint64_t piece, uint32_t off)
{
	uint16_t f = csum_fold(piece);

	if (off & 1)
		f = (uint16_t)(f << 8 | f >> 8);
	return sum + f;
}

/* A big-endian 16-bit number (pseudo-header length, protocol) as raw. */
static inline uint64_t csum_be16(uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	uint16_t h;

	memcpy(&h, b, 2);
	return h;
}

/* The checksum to store: complement of the folded sum. */
static inline uint16_t csum_finish(uint64_t sum)
{
	return (uint16_t)~csum_fold(sum);
}

/* Sum len bytes of chain c from byte offset off (the caller checked that
 * off + len <= c->len); the sum is aligned as if the range began at an even
 * stream offset. */
uint64_t csum_chain(const struct vq_chain *c, uint32_t off, uint32_t len);

#endif
