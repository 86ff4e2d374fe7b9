/* SPDX-License-Identifier: MIT */
/* dpdk_offload.c: virtio-net header -> DPDK transmit offloads
 * (dpdk_offload.h). */
#include "dpdk_offload.h"

#include <string.h>

#include <rte_ip.h>

#include "../datapath/compiler.h"

#define ETH_P_IPV4 0x0800
#define ETH_P_IPV6 0x86dd
#define ETH_P_8021Q 0x8100
#define PROTO_TCP 6
#define PROTO_UDP 17

/* Where a frame's headers are, as DPDK wants them. */
struct l234 {
	uint32_t l2, l3, l4;   /* lengths */
	bool v6, tcp;
};

/* L2 and L3 of the frame at f (have bytes): false unless IPv4/IPv6
 * (one VLAN tag at most) with L4 at csum_start. */
static bool parse_l23(const uint8_t *f, uint32_t have, uint32_t start,
		      struct l234 *o, uint8_t *proto)
{
	uint32_t l2 = 14, type;

	if (have < 18)
		return false;
	type = get_be16(f + 12);
	if (type == ETH_P_8021Q) {
		l2 = 18;
		type = get_be16(f + 16);
	}
	if (type != ETH_P_IPV4 && type != ETH_P_IPV6)
		return false;
	o->v6 = type == ETH_P_IPV6;
	o->l2 = l2;
	o->l3 = start - l2;
	if (start < l2 + (o->v6 ? 40u : 20u) || start > have)
		return false;
	if (!o->v6) {
		*proto = f[l2 + 9];
		return f[l2] >> 4 == 4 && (f[l2] & 0xfu) * 4u == o->l3;
	}
	/* IPv6 without extension headers only: with them, DPDK's
	 * pseudo-header (rte_ipv6_phdr_cksum) would count their bytes. */
	*proto = f[l2 + 6];
	return f[l2] >> 4 == 6 && o->l3 == 40;
}

/* The frame's headers for offload: false when the device cannot be
 * told (not TCP/UDP at csum_start, or not all in have bytes). */
static bool parse(const uint8_t *f, uint32_t have,
		  const struct virtio_net_hdr *h, struct l234 *o)
{
	uint32_t start = h->csum_start;
	uint8_t proto;

	if (!parse_l23(f, have, start, o, &proto))
		return false;
	if (h->csum_offset == 16 && proto == PROTO_TCP) {
		if (start + 20 > have)
			return false;
		o->l4 = (f[start + 12] >> 4) * 4u;
		o->tcp = true;
		return o->l4 >= 20 && start + o->l4 <= have;
	}
	if (h->csum_offset == 6 && proto == PROTO_UDP) {
		o->l4 = 8;
		o->tcp = false;
		return start + 8 <= have;
	}
	return false;
}

/* Write n bytes at frame offset off of m's segments. */
static void mbuf_write(struct rte_mbuf *m, uint32_t off, const void *src,
		       uint32_t n)
{
	const uint8_t *s = src;

	for (; m && n; m = m->next) {
		if (off >= m->data_len) {
			off -= m->data_len;
			continue;
		}
		uint32_t k = MIN(n, (uint32_t)m->data_len - off);
		memcpy(rte_pktmbuf_mtod_offset(m, uint8_t *, off), s, k);
		s += k;
		n -= k;
		off = 0;
	}
}

static enum dpdk_ofl sw_csum(struct rte_mbuf *m, const struct vq_chain *c,
			     uint32_t hdr_len, const struct virtio_net_hdr *h)
{
	uint16_t v = ofl_csum_complete(h, m->pkt_len, c, hdr_len);

	mbuf_write(m, (uint32_t)h->csum_start + h->csum_offset, &v, 2);
	return DPDK_OFL_SW_CSUM;
}

/* Set m's fields for hardware checksum (and TSO when tso). */
static void set_hw(struct rte_mbuf *m, const struct l234 *o,
		   const struct virtio_net_hdr *h, bool tso)
{
	uint8_t *l3 = rte_pktmbuf_mtod_offset(m, uint8_t *, o->l2);
	uint64_t fl = o->v6 ? RTE_MBUF_F_TX_IPV6 : RTE_MBUF_F_TX_IPV4;
	uint16_t ph;

	fl |= o->tcp ? RTE_MBUF_F_TX_TCP_CKSUM : RTE_MBUF_F_TX_UDP_CKSUM;
	if (tso) {
		fl |= RTE_MBUF_F_TX_TCP_SEG;
		if (!o->v6)
			fl |= RTE_MBUF_F_TX_IP_CKSUM;
		m->tso_segsz = h->gso_size;
	}
	m->l2_len = o->l2;
	m->l3_len = o->l3;
	m->l4_len = o->l4;
	m->ol_flags |= fl;
	if (tso && !o->v6)
		((struct rte_ipv4_hdr *)l3)->hdr_checksum = 0;
	ph = o->v6 ? rte_ipv6_phdr_cksum((const struct rte_ipv6_hdr *)l3, fl) :
		     rte_ipv4_phdr_cksum((const struct rte_ipv4_hdr *)l3, fl);
	memcpy(l3 + o->l3 + h->csum_offset, &ph, 2);
}

enum dpdk_ofl dpdk_ofl_tx(struct rte_mbuf *m, const struct vq_chain *c,
			  uint32_t hdr_len, const struct virtio_net_hdr *h,
			  const struct ofl_caps *caps)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t end = (uint32_t)h->csum_start + h->csum_offset + 2;
	bool needs = h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM;
	bool gso = h->gso_type != VIRTIO_NET_HDR_GSO_NONE;
	struct l234 o;

	if (!needs)   /* GSO without NEEDS_CSUM is no valid header */
		return gso ? DPDK_OFL_BAD : DPDK_OFL_NONE;
	if (end > m->pkt_len)
		return DPDK_OFL_BAD;
	bool known = parse(f, m->data_len, h, &o);
	if (gso) {
		bool v6 = h->gso_type == VIRTIO_NET_HDR_GSO_TCPV6;
		if (!known || !o.tcp || o.v6 != v6 || h->gso_size == 0 ||
		    (h->gso_type != VIRTIO_NET_HDR_GSO_TCPV4 && !v6) ||
		    !(v6 ? caps->tso6 : caps->tso4))
			return DPDK_OFL_BAD;
		uint32_t hlen = o.l2 + o.l3 + o.l4;
		if (m->pkt_len - hlen > h->gso_size) {
			set_hw(m, &o, h, true);
			return DPDK_OFL_TSO;
		}
	}
	if (!known || !caps->csum)
		return sw_csum(m, c, hdr_len, h);
	set_hw(m, &o, h, false);
	return DPDK_OFL_HW_CSUM;
}
