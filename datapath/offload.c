/* SPDX-License-Identifier: MIT */
#include "offload.h"

#include "csum.h"
#include "compiler.h"

#define ETH_P_IPV4 0x0800
#define ETH_P_IPV6 0x86dd
#define ETH_P_8021Q 0x8100
#define IPPROTO_TCP_ 6

/* Find the IP and TCP headers of a GSO frame; false when it is not plain
 * TCP over IPv4/IPv6 (one VLAN tag at most) with its headers in hdr. */
static bool tso_parse(struct ofl_tso *t, uint32_t have, bool v6)
{
	uint32_t l3 = 14, type = get_be16(t->hdr + 12);

	if (type == ETH_P_8021Q) {
		l3 = 18;
		type = get_be16(t->hdr + 16);
	}
	if (l3 + 40 > have)
		return false;
	if (!v6) {
		uint32_t ihl = (t->hdr[l3] & 0xf) * 4u;
		if (type != ETH_P_IPV4 || t->hdr[l3] >> 4 != 4 || ihl < 20 ||
		    t->hdr[l3 + 9] != IPPROTO_TCP_ ||
		    (get_be16(t->hdr + l3 + 6) & 0x3fff))   /* a fragment */
			return false;
		t->l4 = l3 + ihl;
	} else {
		if (type != ETH_P_IPV6 || t->hdr[l3] >> 4 != 6 ||
		    t->hdr[l3 + 6] != IPPROTO_TCP_)     /* no ext. headers */
			return false;
		t->l4 = l3 + 40;
	}
	if (t->l4 + 20 > have)
		return false;
	t->hlen = t->l4 + (t->hdr[t->l4 + 12] >> 4) * 4u;
	t->l3 = l3;
	t->v6 = v6;
	return t->hlen >= t->l4 + 20 && t->hlen <= have;
}

static enum ofl_action classify_gso(const struct virtio_net_hdr *h,
				    uint32_t len, const struct ofl_caps *snd,
				    const struct ofl_caps *rcv,
				    const struct vq_chain *tx,
				    uint32_t hdr_len, struct ofl_tso *t)
{
	bool v6 = h->gso_type == VIRTIO_NET_HDR_GSO_TCPV6;
	bool needs = h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM;

	if (h->gso_type != VIRTIO_NET_HDR_GSO_TCPV4 && !v6)
		return OFL_BAD;            /* UDP, ECN: not offered */
	if (!(v6 ? snd->tso6 : snd->tso4) || h->gso_size == 0)
		return OFL_BAD;
	/* Whoever cuts it, vhostd or the receiver: bounded work per frame. */
	if (h->gso_size < OFL_GSO_SIZE_MIN ||
	    len / h->gso_size >= OFL_GSO_SEGS_MAX)
		return OFL_GSO_REFUSED;
	if (needs && rcv->csum && (v6 ? rcv->tso6 : rcv->tso4))
		return OFL_PASS;
	uint32_t have = MIN(len, (uint32_t)OFL_HDR_MAX);
	if (vq_chain_read(tx, hdr_len, t->hdr, have) != have ||
	    !tso_parse(t, have, v6))
		return OFL_UNSUPP;
	t->payload = len - t->hlen;
	t->mss = h->gso_size;
	t->nseg = t->payload ? (t->payload + t->mss - 1) / t->mss : 1;
	return OFL_SEGMENT;
}

enum ofl_action ofl_classify(const struct virtio_net_hdr *h, uint32_t len,
			     const struct ofl_caps *snd,
			     const struct ofl_caps *rcv,
			     const struct vq_chain *tx, uint32_t hdr_len,
			     struct ofl_tso *t)
{
	bool needs = h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM;

	if (h->gso_type == VIRTIO_NET_HDR_GSO_NONE && !needs)
		return (h->flags & VIRTIO_NET_HDR_F_DATA_VALID) && snd->valid &&
		       rcv->csum ? OFL_PASS : OFL_PLAIN;
	if (needs) {
		uint32_t end = (uint32_t)h->csum_start + h->csum_offset + 2;
		if (!snd->csum || end > len)
			return OFL_BAD;
		if (h->gso_type == VIRTIO_NET_HDR_GSO_NONE)
			return rcv->csum ? OFL_PASS :
			       end <= OFL_HDR_MAX ? OFL_CSUM : OFL_UNSUPP;
	}
	return classify_gso(h, len, snd, rcv, tx, hdr_len, t);
}

uint16_t ofl_csum_complete(const struct virtio_net_hdr *h, uint32_t len,
			   const struct vq_chain *tx, uint32_t hdr_len)
{
	uint16_t c = csum_finish(csum_chain(tx, hdr_len + h->csum_start,
					    len - h->csum_start));

	return c ? c : 0xffff;
}

uint32_t ofl_tso_segment(const struct ofl_tso *t, uint32_t k, uint8_t *out,
			 const struct vq_chain *tx, uint32_t hdr_len)
{
	uint32_t off = k * t->mss, n = MIN(t->mss, t->payload - off);
	uint32_t tcp_len = t->hlen - t->l4 + n;
	uint8_t *ip = out + t->l3, *tcp = out + t->l4;
	uint64_t sum;
	uint16_t c;

	memcpy(out, t->hdr, t->hlen);
	if (t->v6) {
		put_be16(ip + 4, tcp_len);
		sum = csum_bytes(0, ip + 8, 32);
	} else {
		put_be16(ip + 2, t->l4 - t->l3 + tcp_len);
		put_be16(ip + 4, get_be16(ip + 4) + k);
		put_be16(ip + 10, 0);
		c = csum_finish(csum_bytes(0, ip, t->l4 - t->l3));
		memcpy(ip + 10, &c, 2);
		sum = csum_bytes(0, ip + 12, 8);
	}
	put_be32(tcp + 4, get_be32(tcp + 4) + off);
	if (k + 1 < t->nseg)
		tcp[13] &= (uint8_t)~0x09;      /* FIN, PSH: last segment only */
	if (k > 0)
		tcp[13] &= (uint8_t)~0x80;      /* CWR: first segment only */
	put_be16(tcp + 16, 0);
	sum += csum_be16(IPPROTO_TCP_) + csum_be16((uint16_t)tcp_len) +
	       csum_be16((uint16_t)(tcp_len >> 16));
	sum += csum_bytes(0, tcp, t->hlen - t->l4);
	sum = csum_add_at(sum, csum_chain(tx, hdr_len + t->hlen + off, n),
			  t->hlen - t->l4);
	c = csum_finish(sum);
	memcpy(tcp + 16, &c, 2);
	return n;
}
