/* SPDX-License-Identifier: MIT */
#include "spread.h"

static inline uint32_t mix(uint32_t h, uint32_t v)
{
	h ^= v;
	h *= 0x01000193u;   /* FNV-1a's prime, per 32-bit word */
	return h ^ (h >> 15);
}

uint32_t flow_hash(const uint8_t *f, uint32_t len)
{
	uint32_t h = 0x811c9dc5u, l3 = 14;

	if (len < 14)
		return h;
	for (uint32_t i = 0; i < 12; i += 4)
		h = mix(h, get_be32(f + i));
	uint32_t type = get_be16(f + 12);
	if (type == 0x8100u && len >= 18) {
		type = get_be16(f + 16);
		l3 = 18;
	}
	uint32_t l4 = 0, proto = 0;
	if (type == 0x0800 && len >= l3 + 20) {
		h = mix(mix(h, get_be32(f + l3 + 12)), get_be32(f + l3 + 16));
		proto = f[l3 + 9];
		/* not a fragment after the first: its ports are payload */
		if ((get_be16(f + l3 + 6) & 0x1fff) == 0)
			l4 = l3 + (f[l3] & 0xfu) * 4u;
	} else if (type == 0x86dd && len >= l3 + 40) {
		for (uint32_t i = 8; i < 40; i += 4)
			h = mix(h, get_be32(f + l3 + i));
		proto = f[l3 + 6];
		l4 = l3 + 40;
	}
	if (l4 && (proto == 6 || proto == 17) && len >= l4 + 4)
		h = mix(h, get_be32(f + l4));
	return h;
}

uint32_t spread_pick(void *ctx, const struct vnet_path *p, const uint8_t *f,
		     uint32_t flen, uint32_t len, struct vnet_to *to)
{
	const struct spread *s = ctx;

	(void)p;
	(void)len;
	to[0] = (struct vnet_to){&s->q[flow_hash(f, flen) % s->nq],
				 vnet_to_vlan(VNET_VLAN_KEEP, 0)};
	return 1;
}

void spread_pass(void *ctx)
{
	(void)ctx;
}
