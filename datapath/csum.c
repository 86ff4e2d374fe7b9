/* SPDX-License-Identifier: MIT */
#include "csum.h"

uint64_t csum_chain(const struct vq_chain *c, uint32_t off, uint32_t len)
{
	uint64_t sum = 0;
	uint32_t pos = 0;   /* offset in the range being summed */

	for (uint16_t s = 0; s < c->nseg && len; s++) {
		uint32_t sl = c->seg[s].len;
		if (off >= sl) {
			off -= sl;
			continue;
		}
		uint32_t n = MIN(len, sl - off);
		sum = csum_add_at(sum, csum_bytes(0, c->seg[s].p + off, n), pos);
		pos += n;
		len -= n;
		off = 0;
	}
	return sum;
}
