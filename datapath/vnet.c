/* SPDX-License-Identifier: MIT */
#include "vnet.h"

#include <errno.h>
#include <string.h>

static const char *const drop_text[VNET_DROP_MAX] = {
#define VNET_X_TEXT(name, text) [VNET_DROP_##name] = text,
	VNET_DROPS(VNET_X_TEXT)
#undef VNET_X_TEXT
};

const char *vnet_drop_text(enum vnet_drop d)
{
	return d < VNET_DROP_MAX ? drop_text[d] : "?";
}

/* A position inside a chain's segments. */
struct cursor {
	const struct vq_chain *c;
	uint16_t seg;
	uint32_t off;
};

static inline void cur_init(struct cursor *k, const struct vq_chain *c,
			    uint32_t skip)
{
	k->c = c;
	k->seg = 0;
	k->off = 0;
	while (k->seg < c->nseg && skip >= c->seg[k->seg].len - k->off) {
		skip -= c->seg[k->seg].len - k->off;
		k->seg++;
		k->off = 0;
	}
	k->off += skip;
}

/* Copy up to len bytes from src cursor (or from buf when src is NULL) into
 * dst cursor; logs the writes.  Returns bytes copied. */
static inline uint32_t copy_out(struct vq *dq, struct cursor *d,
				struct cursor *s, const uint8_t *buf,
				uint32_t len)
{
	uint32_t done = 0;

	while (done < len && d->seg < d->c->nseg) {
		const struct vq_seg *ds = &d->c->seg[d->seg];
		uint32_t n = MIN(len - done, ds->len - d->off);
		const uint8_t *from = buf ? buf + done : NULL;
		if (s) {
			if (s->seg >= s->c->nseg)
				break;
			const struct vq_seg *ss = &s->c->seg[s->seg];
			n = MIN(n, ss->len - s->off);
			from = ss->p + s->off;
			if ((s->off += n) == ss->len) {
				s->seg++;
				s->off = 0;
			}
		}
		memcpy(ds->p + d->off, from, n);
		vq_log_write(dq, ds->gpa + d->off, n);
		if ((d->off += n) == ds->len) {
			d->seg++;
			d->off = 0;
		}
		done += n;
	}
	return done;
}

/* Read len bytes at offset off of chain c into buf (for the MAC swap). */
static uint32_t peek(const struct vq_chain *c, uint32_t off, uint8_t *buf,
		     uint32_t len)
{
	struct cursor k;
	uint32_t done = 0;

	cur_init(&k, c, off);
	while (done < len && k.seg < c->nseg) {
		uint32_t n = MIN(len - done, c->seg[k.seg].len - k.off);
		memcpy(buf + done, c->seg[k.seg].p + k.off, n);
		done += n;
		k.seg++;
		k.off = 0;
	}
	return done;
}

/*
 * Place one frame (len bytes after the sender's header) into the RX queue:
 * first a prefix (the receiver's header and, for reflect, the swapped MACs),
 * then the rest of the frame; either may span several mergeable buffers.
 * Returns 0 or the drop reason + 1.
 */
static int place(struct vnet_path *p, const struct vq_chain *tx,
		 uint32_t len)
{
	struct vq *dq = p->dst;
	uint32_t left = p->dst_hdr_len + len;
	int n = vq_split_reserve(dq, left, p->rx, VNET_MAX_RX_CHAINS);

	if (n <= 0)
		return 1 + (n < 0 ? VNET_DROP_RX_BROKEN : VNET_DROP_NO_RX_BUF);
	struct virtio_net_hdr h = {.num_buffers = (uint16_t)n};
	uint8_t pre[sizeof(h) + 12];
	uint32_t plen = p->dst_hdr_len, skip = 0, pre_off = 0;

	memcpy(pre, &h, plen);
	if (p->reflect && len >= 12 &&
	    peek(tx, p->src_hdr_len, pre + plen + 6, 6) == 6 &&
	    peek(tx, p->src_hdr_len + 6, pre + plen, 6) == 6) {
		plen += 12;
		skip = 12;
	}
	struct cursor s, d;
	cur_init(&s, tx, p->src_hdr_len + skip);
	for (int i = 0; i < n; i++) {
		uint32_t room = MIN(left, p->rx[i].len), put = 0;
		cur_init(&d, &p->rx[i], 0);
		if (pre_off < plen) {
			put = copy_out(dq, &d, NULL, pre + pre_off,
				       MIN(plen - pre_off, room));
			pre_off += put;
		}
		put += copy_out(dq, &d, &s, NULL, room - put);
		vq_split_used(dq, p->rx[i].head, put);
		left -= put;
	}
	return 0;
}

uint32_t vnet_path_poll(void *ctx)
{
	struct vnet_path *p = ctx;
	uint16_t n = vq_split_dequeue(p->src, p->tx, VNET_BURST);
	uint32_t moved = 0;

	if (n == 0)
		return 0;
	for (uint16_t i = 0; i < n; i++) {
		const struct vq_chain *tx = &p->tx[i];
		uint32_t len = tx->len - p->src_hdr_len; /* >= 0: SHORT_HDR */
		int drop = !p->dst ? 1 + (int)p->dst_none :
			   p->dst->broken ? 1 + VNET_DROP_DST_DOWN :
			   place(p, tx, len);
		if (drop) {
			STAT_INC(p->stats.drops[drop - 1]);
		} else {
			moved++;
			STAT_ADD(p->stats.bytes, len);
		}
		vq_split_used(p->src, tx->head, 0);
	}
	STAT_ADD(p->stats.packets, moved);
	vq_split_flush(p->src);
	if (p->dst && moved)
		vq_split_flush(p->dst);
	return n;
}

/* Internet checksum of an IPv4 header (RFC 1071). */
static uint16_t ip_csum(const uint8_t *h, uint32_t len)
{
	uint32_t sum = 0;

	for (uint32_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(h[i] << 8 | h[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

int vnet_source_init(struct vnet_source *s, uint32_t len, uint32_t hdr_len)
{
	static const uint8_t eth[14] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff,     /* broadcast */
		0x02, 'v', 'h', 'o', 's', 't',          /* locally administered */
		0x08, 0x00,
	};

	if (len < VNET_SOURCE_MIN || len > VNET_SOURCE_MAX ||
	    hdr_len > sizeof(struct virtio_net_hdr))
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	uint8_t *f = s->buf + hdr_len, *ip = f + 14, *udp = ip + 20;
	memcpy(f, eth, sizeof(eth));
	ip[0] = 0x45;                       /* IPv4, 20-byte header */
	put16(ip + 2, len - 14);
	put16(ip + 6, 0x4000);              /* DF */
	ip[8] = 64;                         /* TTL */
	ip[9] = 17;                         /* UDP */
	memcpy(ip + 12, (uint8_t[]){10, 255, 0, 1}, 4);
	memset(ip + 16, 0xff, 4);
	put16(ip + 10, ip_csum(ip, 20));
	put16(udp, 9);                      /* discard port, both ends */
	put16(udp + 2, 9);
	put16(udp + 4, len - 34);           /* UDP checksum 0: none (IPv4) */
	s->len = len;
	s->chain = (struct vq_chain){.head = 0, .nseg = 1, .len = hdr_len + len};
	s->chain.seg[0] = (struct vq_seg){.p = s->buf, .len = hdr_len + len};
	return 0;
}

uint32_t vnet_source_poll(void *ctx)
{
	struct vnet_path *p = ctx;
	uint16_t n = p->src ? vq_split_dequeue(p->src, p->tx, VNET_BURST) : 0;
	uint32_t moved = 0;

	if (n) {
		for (uint16_t i = 0; i < n; i++)
			vq_split_used(p->src, p->tx[i].head, 0);
		STAT_ADD(p->stats.drops[VNET_DROP_NO_PEER], n);
		vq_split_flush(p->src);
	}
	if (!p->dst || p->dst->broken)
		return n;
	/* A full ring is not a drop here: the source simply waits. */
	while (moved < VNET_BURST && place(p, &p->source->chain,
					   p->source->len) == 0)
		moved++;
	if (moved) {
		STAT_ADD(p->stats.packets, moved);
		STAT_ADD(p->stats.bytes, (uint64_t)moved * p->source->len);
		vq_split_flush(p->dst);
	}
	return n + moved;
}
