/* SPDX-License-Identifier: MIT */
/*
 * afxdp_csum.c: partial checksums in frames a virtual interface received.
 *
 * A Linux stack sending through a veth (or another software device with
 * checksum offload) leaves TCP and UDP checksums to the "hardware"
 * (CHECKSUM_PARTIAL): the checksum field holds only the folded
 * pseudo-header sum and the skb says where the checksum goes.  veth hands
 * the skb to its peer unchanged, and XDP on the peer (native or generic)
 * sees the bytes without that note, so AF_XDP frames from a veth peer's
 * stack carry checksums no receiver accepts (tests/nic: test_afxdp's
 * test_kernel_udp_checksum).  Nothing in AF_XDP says which frames these
 * are, but the field says it: it equals the pseudo-header sum.  Such a
 * frame goes to the datapath as NEEDS_CSUM (csum_start, csum_offset), as
 * a guest's partial checksum would, and the datapath passes it to a guest
 * that takes GUEST_CSUM or completes it in software.
 *
 * A complete checksum can equal the pseudo-header sum only when the sum
 * of the rest is zero, and completing it then writes the same value again,
 * so a frame that was already right stays right.  Only a corrupted frame
 * whose field happens to hold that value would be wrongly "completed".
 */
#include <string.h>

#include "../datapath/csum.h"
#include "afxdp.h"

#define ETH_P_IPV4 0x0800
#define ETH_P_IPV6 0x86dd
#define ETH_P_VLAN 0x8100

/* Where the L4 header starts, its length and the pseudo-header sum (raw
 * order) of an unfragmented IPv4/IPv6 packet at f + l3; false if none. */
static bool l3_parse(const uint8_t *f, uint32_t len, uint32_t l3,
		     uint16_t type, uint32_t *l4, uint32_t *l4len,
		     uint8_t *proto, uint64_t *sum)
{
	const uint8_t *ip = f + l3;

	if (type == ETH_P_IPV4) {
		uint32_t ihl = (ip[0] & 15u) * 4, tot;
		if (len < l3 + 20 || ip[0] >> 4 != 4 || ihl < 20 ||
		    (get_be16(ip + 6) & 0x3fff))   /* MF or an offset */
			return false;
		tot = get_be16(ip + 2);
		if (tot < ihl || l3 + tot > len)
			return false;
		*proto = ip[9];
		*l4 = l3 + ihl;
		*l4len = tot - ihl;
		*sum = csum_bytes(0, ip + 12, 8);
		return true;
	}
	if (type == ETH_P_IPV6 && len >= l3 + 40 && ip[0] >> 4 == 6) {
		*proto = ip[6];          /* no extension headers taken */
		*l4 = l3 + 40;
		*l4len = get_be16(ip + 4);
		*sum = csum_bytes(0, ip + 8, 32);
		return *l4 + *l4len <= len;
	}
	return false;
}

bool afxdp_csum_partial(const uint8_t *f, uint32_t len,
			struct virtio_net_hdr *h)
{
	uint32_t l3 = 14, l4, l4len, off;
	uint16_t type, field;
	uint8_t proto;
	uint64_t sum;

	if (len < 18)
		return false;
	type = (uint16_t)get_be16(f + 12);
	if (type == ETH_P_VLAN) {
		type = (uint16_t)get_be16(f + 16);
		l3 = 18;
	}
	if (!l3_parse(f, len, l3, type, &l4, &l4len, &proto, &sum))
		return false;
	off = proto == 6 ? 16 : proto == 17 ? 6 : 0;
	if (!off || l4len < (proto == 6 ? 20u : 8u))
		return false;
	sum += csum_be16(proto) + csum_be16((uint16_t)l4len);
	memcpy(&field, f + l4 + off, 2);
	if (field != csum_fold(sum))
		return false;
	h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h->csum_start = (uint16_t)l4;
	h->csum_offset = (uint16_t)off;
	return true;
}
