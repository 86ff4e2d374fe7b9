/* SPDX-License-Identifier: MIT */
#include "vnet.h"

#include <stddef.h>

#include <errno.h>
#include <string.h>

#include "csum.h"
#include "log.h"
#include "offload.h"
#include "prefetch.h"

#define TAG "vnet"

static const char *const drop_text[VNET_DROP_MAX] = {
#define VNET_X_TEXT(name, text) [VNET_DROP_##name] = text,
	VNET_DROPS(VNET_X_TEXT)
#undef VNET_X_TEXT
};

const char *vnet_drop_text(enum vnet_drop d)
{
	return d < VNET_DROP_MAX ? drop_text[d] : "?";
}

static const struct virtio_net_hdr none;   /* a header with no offload */

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
		/* memmove: the guest may post a receive buffer that overlaps
		 * the transmit buffer being copied into it (both are its
		 * memory); memcpy on overlapping ranges is undefined.  glibc's
		 * memcpy and memmove are one routine on x86_64. */
		memmove(ds->p + d->off, from, n);
		vq_log_write(dq, ds->gpa + d->off, n);
		if ((d->off += n) == ds->len) {
			d->seg++;
			d->off = 0;
		}
		done += n;
	}
	return done;
}

/*
 * Does the receive buffer at g already hold header hdr (12 bytes)?  Then
 * it is not written: a guest that keeps its header in a cache line of its
 * own (DPDK's virtio PMD: at the end of the mbuf's headroom) reads that line
 * again when it re-sends the buffer, and finds it clean.  Written every
 * time, the testpmd loop ran 1.28-1.40x slower.  The guest may change the
 * bytes meanwhile; they are its own buffer's, read here only to compare.
 */
static inline bool hdr_same(const uint8_t *g, const uint8_t *hdr)
{
	uint64_t a, b;
	uint32_t c, d;

	memcpy(&a, g, 8);
	memcpy(&b, hdr, 8);
	memcpy(&c, g + 8, 4);
	memcpy(&d, hdr + 8, 4);
	return a == b && c == d;
}

/*
 * Copy n <= 32 bytes with two fixed-size moves each (inlined, no call),
 * overlapping in the middle, never past dst + n: the receiver's header and
 * the frame bytes vhostd rewrote are 10..24 bytes in the common cases.
 * Nothing past n is written, not even for a moment: the guest may read
 * its buffer at any time, and pre holds stack bytes past plen.
 */
static inline void copy_small(uint8_t *dst, const uint8_t *src, uint32_t n)
{
	if (n >= 16) {
		memcpy(dst, src, 16);
		memcpy(dst + n - 16, src + n - 16, 16);
	} else if (n >= 12) {
		/* 12: a header alone, or a reflected frame's MACs, each
		 * written into pre as 8 + 4 bytes: loads of the same widths
		 * take the values from those stores (see place_copy). */
		memcpy(dst, src, 8);
		memcpy(dst + 8, src + 8, 4);
		memcpy(dst + n - 4, src + n - 4, 4);
	} else if (n >= 8) {
		memcpy(dst, src, 8);
		memcpy(dst + n - 8, src + n - 8, 8);
	} else if (n >= 4) {
		memcpy(dst, src, 4);
		memcpy(dst + n - 4, src + n - 4, 4);
	} else {
		for (uint32_t i = 0; i < n; i++)
			dst[i] = src[i];
	}
}

/* Do [a, a + alen) and [b, b + blen) share a byte?  (Guest memory: the
 * guest may post a receive buffer over the frame it sends.) */
static inline bool overlap(const uint8_t *a, uint32_t alen, const uint8_t *b,
			   uint32_t blen)
{
	uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;

	return x < y + blen && y < x + alen;
}

/* The common case of place_copy(): the packet fits the first segment of
 * one receive chain and its body is in one segment of the sender's chain.
 * false: not that case, nothing written. */
static inline bool place_flat(struct vnet_path *p, const struct vq_chain *tx,
			      const struct vnet_pkt *pk,
			      const struct vq_chain *rx)
{
	const struct vq_seg *d = &rx->seg[0], *s = &tx->seg[0];
	uint32_t total = pk->plen + pk->body_len;

	if (d->len < total || pk->body_off > s->len ||
	    s->len - pk->body_off < pk->body_len)
		return false;
	const uint8_t *body = s->p + pk->body_off;
	/* The receiver's header is left alone when the buffer already holds
	 * it (see hdr_same); then the frame bytes vhostd rewrote. */
	uint32_t done = p->dst_hdr_len;
	if (done != sizeof(struct virtio_net_hdr) || !hdr_same(d->p, pk->pre))
		done = 0;
	uint32_t n = pk->plen - done;   /* plen >= dst_hdr_len >= done */
	if (likely(!overlap(d->p, total, body, pk->body_len))) {
		if (likely(n <= 32))
			copy_small(d->p + done, pk->pre + done, n);
		else
			memcpy(d->p + done, pk->pre + done, n);
		memcpy(d->p + pk->plen, body, pk->body_len);
	} else {
		/* The receive buffer overlaps the body (both are the guest's
		 * memory): move the body first (memmove), then pre, a
		 * snapshot taken before any write, exactly n bytes.  Right
		 * under any overlap. */
		memmove(d->p + pk->plen, body, pk->body_len);
		memcpy(d->p + done, pk->pre + done, n);
	}
	vq_log_write(p->dst, d->gpa, total);
	vq_used(p->dst, rx, total);
	return true;
}

/*
 * Copy one packet into the n receive chains at rx: first pk->pre (the
 * receiver's header, then any frame bytes vhostd rewrote), then
 * pk->body_len bytes of the sender's chain from pk->body_off; either may
 * span mergeable buffers.  The body is copied first and pre last: pre is
 * a snapshot, the body guest memory that the receive buffers may overlap
 * (the guest owns both), and written first pre could overwrite body bytes
 * before they are read.  Every byte written is then the frame's or the
 * header's, whatever the guest aliases.
 */
static void place_copy(struct vnet_path *p, const struct vq_chain *tx,
		       struct vnet_pkt *pk, const struct vq_chain *rx, int n)
{
	struct vq *dq = p->dst;
	uint32_t total = pk->plen + pk->body_len, off = 0;

	if (p->dst_hdr_len >= sizeof(struct virtio_net_hdr)) {
		/* num_buffers (bytes 10-11, little endian) goes in with bytes
		 * 8-9 as one 4-byte store.  A 2-byte store there made the
		 * 4-byte load of hdr_same() (and copy_small()'s) miss store
		 * forwarding: such a load waits until the store reaches the
		 * cache, behind every store before it, the previous frames'
		 * copies into receive buffers still waiting for their lines.
		 * That wait was 90% of place_copy() in a 64 B receive. */
		uint32_t w;
		_Static_assert(offsetof(struct virtio_net_hdr, num_buffers) == 10,
			       "num_buffers is bytes 10-11");
		memcpy(&w, pk->pre + 8, 4);
		w = (w & 0xffffu) | (uint32_t)n << 16;
		/* Else GCC narrows the store to the 2 bytes that changed. */
		__asm__("" : "+r"(w));
		memcpy(pk->pre + 8, &w, 4);
	}
	if (likely(n == 1 && place_flat(p, tx, pk, rx)))
		return;
	struct cursor s, d;
	cur_init(&s, tx, pk->body_off);
	for (int i = 0; i < n; off += MIN(total - off, rx[i].len), i++) {
		uint32_t room = MIN(total - off, rx[i].len);
		if (off + room <= pk->plen)
			continue;
		uint32_t skip = pk->plen > off ? pk->plen - off : 0;
		cur_init(&d, &rx[i], skip);
		copy_out(dq, &d, &s, NULL, room - skip);
	}
	off = 0;
	for (int i = 0; i < n && off < pk->plen; i++) {
		uint32_t put = MIN(pk->plen - off, rx[i].len);
		cur_init(&d, &rx[i], 0);
		off += copy_out(dq, &d, NULL, pk->pre + off, put);
	}
	off = 0;
	for (int i = 0; i < n; i++) {
		uint32_t room = MIN(total - off, rx[i].len);
		vq_used(dq, &rx[i], room);
		off += room;
	}
}

/* Reserve buffers for pk and place it now.  Returns 0 or the drop
 * reason + 1. */
static int place(struct vnet_path *p, const struct vq_chain *tx,
		 struct vnet_pkt *pk)
{
	int n = vq_reserve(p->dst, pk->plen + pk->body_len, p->rx,
			   VNET_MAX_RX_CHAINS);

	if (n <= 0)
		return 1 + (n < 0 ? VNET_DROP_RX_BROKEN : VNET_DROP_NO_RX_BUF);
	place_copy(p, tx, pk, p->rx, n);
	return 0;
}

/* Swap destination and source MAC in the frame head at f (12 bytes). */
static inline void mac_swap(uint8_t *f)
{
	/* In registers, as one 8-byte and one 4-byte load and store (little
	 * endian, vring.h): the frame head was just written into pre that way,
	 * and narrower or straddling loads would miss store forwarding (see
	 * place_copy). */
	uint64_t x, d, s;
	uint32_t y;

	memcpy(&x, f, 8);          /* dst[0..5], src[0..1] */
	memcpy(&y, f + 8, 4);      /* src[2..5] */
	d = x & 0xffffffffffffull;
	s = x >> 48 | (uint64_t)y << 16;
	x = s | d << 48;
	y = (uint32_t)(d >> 16);
	memcpy(f, &x, 8);
	memcpy(f + 8, &y, 4);
}

/*
 * Start pk for a frame of len bytes: the receiver's header h (num_buffers
 * is set by place()), then the first head bytes of the frame (at least 12
 * for --reflect, MACs swapped), the rest from the sender's chain.
 */
static inline void pkt_start(const struct vnet_path *p,
			     const struct vq_chain *tx, uint32_t len,
			     const struct virtio_net_hdr *h, uint32_t head,
			     struct vnet_pkt *pk)
{
	uint8_t *f = pk->pre + p->dst_hdr_len;

	/* Fixed size (inlined): bytes past dst_hdr_len are frame bytes,
	 * written next. */
	memcpy(pk->pre, h, sizeof(*h));
	if (p->reflect && len >= 12)
		head = MAX(head, 12u);
	/* A tag change edits the bytes behind the MACs in pre (pkt_vlan):
	 * a bridge hands over tagged frames of at least 18 bytes, untagged
	 * ones of at least 14. */
	if (unlikely(vnet_to_op(p->vlan) != VNET_VLAN_KEEP))
		head = MAX(head, 12u + VNET_VLAN_LEN);
	head = MIN(head, len);
	if (likely(tx->seg[0].len >= p->src_hdr_len + head))
		memcpy(f, tx->seg[0].p + p->src_hdr_len, head);
	else
		head = vq_chain_read(tx, p->src_hdr_len, f, head);
	if (p->reflect && head >= 12)
		mac_swap(f);
	pk->plen = p->dst_hdr_len + head;
	pk->body_off = p->src_hdr_len + head;
	pk->body_len = len - head;
}

/* Bytes the frame gains (push) or loses (pop) towards the current dst. */
static inline int32_t vlan_delta(const struct vnet_path *p)
{
	return p->vlan_delta;
}

/* Apply the current dst's tag change to the frame head in pre (at least
 * 16 bytes of it there: pkt_start, or a segment's headers). */
static inline void pkt_vlan(const struct vnet_path *p, struct vnet_pkt *pk)
{
	if (likely(vnet_to_op(p->vlan) == VNET_VLAN_KEEP))
		return;
	uint8_t *f = pk->pre + p->dst_hdr_len;
	uint32_t head = pk->plen - p->dst_hdr_len;

	if (vnet_to_op(p->vlan) == VNET_VLAN_PUSH) {
		memmove(f + 12 + VNET_VLAN_LEN, f + 12, head - 12);
		put_be16(f + 12, 0x8100);
		put_be16(f + 14, vnet_to_tci(p->vlan));
		pk->plen += VNET_VLAN_LEN;
	} else {
		memmove(f + 12, f + 12 + VNET_VLAN_LEN,
			head - 12 - VNET_VLAN_LEN);
		pk->plen -= VNET_VLAN_LEN;
	}
}

/*
 * Plain frames of a burst are placed in two passes: buffers for all of
 * them are reserved first, each prefetched for writing, then all are
 * copied.  The receiver's buffers were last touched by the guest's core,
 * so each first write misses; reserved one packet at a time the misses
 * come one after the other, reserved together they overlap.
 */
struct plan {
	const struct vq_chain *tx;
	uint32_t len;            /* frame bytes */
	uint16_t at, n;          /* its chains: p->rx[at, at + n) */
};

struct batch {
	uint16_t n, at;          /* plans, chains of p->rx in use */
	struct plan plan[VNET_BURST];
};

static inline bool batch_full(const struct batch *b)
{
	return b->at >= VNET_BURST || b->n == VNET_BURST;
}

/* Reserve the receiver's buffers for a frame of len bytes (b not full).
 * Returns 0 or the drop reason + 1. */
static inline int batch_reserve(struct vnet_path *p, struct batch *b,
				const struct vq_chain *tx, uint32_t len)
{
	struct vq_chain *rx = p->rx + b->at;
	int k = vq_reserve(p->dst, (uint32_t)((int32_t)(p->dst_hdr_len + len) +
					      vlan_delta(p)), rx,
			   VNET_MAX_RX_CHAINS);

	if (k <= 0)
		return 1 + (k < 0 ? VNET_DROP_RX_BROKEN : VNET_DROP_NO_RX_BUF);
	/* The lines the header and the frame's head go to (up to 3; the
	 * hardware prefetcher follows a longer copy), for writing, except a
	 * line holding only header bytes (DPDK's mbuf headroom): hdr_same()
	 * mostly leaves it unwritten, and the guest reads it next (DPDK's
	 * mergeable receive path loads num_buffers from it).  Prefetched for
	 * writing, it was taken from the guest's core, which then missed on
	 * it: 28% of the guest's testpmd cycles on that one load, 180 against
	 * 125 cycles per packet forwarding 64 B frames (perf/README.md).
	 * Read, it stays shared.  Receive into a guest that never touches it
	 * (testpmd rxonly) costs vhostd some 15 cycles more per packet. */
	uint32_t want = MIN(p->dst_hdr_len + len, 128u);
	const uintptr_t line = ~(uintptr_t)(CACHE_LINE - 1);
	for (int j = 0; j < k; j++) {
		uintptr_t at = (uintptr_t)rx[j].seg[0].p;
		uintptr_t end = at + MIN(rx[j].seg[0].len, want) - 1;
		uintptr_t frame = (at + p->dst_hdr_len) & line;
		if ((at & line) != frame)
			__builtin_prefetch((const void *)at);
		for (at = frame; at <= end; at += CACHE_LINE)
			prefetch_w((const void *)at);
	}
	b->plan[b->n++] = (struct plan){tx, len, b->at, (uint16_t)k};
	b->at = (uint16_t)(b->at + k);
	return 0;
}

/* Copy every reserved frame; returns how many were delivered. */
static inline uint32_t batch_commit(struct vnet_path *p, struct batch *b)
{
	uint32_t n = b->n;
	uint64_t bytes = 0;
	struct vnet_pkt pk;

	b->n = b->at = 0;
	if (unlikely(p->dst->broken)) {   /* broke reserving a later one */
		STAT_ADD(p->stats.drops[VNET_DROP_RX_BROKEN], n);
		return 0;
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct plan *pl = &b->plan[i];
		pkt_start(p, pl->tx, pl->len, &none, 0, &pk);
		pkt_vlan(p, &pk);
		place_copy(p, pl->tx, &pk, p->rx + pl->at, pl->n);
		bytes += pl->len;
	}
	STAT_ADD(p->stats.bytes, bytes);
	return n;
}

static inline bool abandoned(const struct vnet_path *p)
{
	return atomic_load_explicit(&p->abandon, memory_order_relaxed);
}

/* Cut a GSO frame into segments for a receiver that cannot take it.
 * Returns the segments delivered; the rest are counted as drops. */
static uint32_t segment(struct vnet_path *p, const struct vq_chain *tx,
			const struct ofl_tso *t, struct vnet_pkt *pk)
{
	uint8_t *f = pk->pre + p->dst_hdr_len;

	p->seg_left -= MIN(p->seg_left, t->nseg);
	for (uint32_t k = 0; k < t->nseg; k++) {
		if (unlikely((k & 63) == 63 && abandoned(p))) {
			STAT_ADD(p->stats.drops[VNET_DROP_ABANDONED],
				 t->nseg - k);
			return k;
		}
		memcpy(pk->pre, &none, p->dst_hdr_len);
		uint32_t n = ofl_tso_segment(t, k, f, tx, p->src_hdr_len);
		if (p->reflect)
			mac_swap(f);
		pk->plen = p->dst_hdr_len + t->hlen;
		pk->body_off = p->src_hdr_len + t->hlen + k * t->mss;
		pk->body_len = n;
		pkt_vlan(p, pk);
		int drop = place(p, tx, pk);
		if (drop) {
			STAT_ADD(p->stats.drops[drop - 1], t->nseg - k);
			return k;
		}
		STAT_ADD(p->stats.bytes, t->hlen + n);
	}
	return t->nseg;
}

/* The first frame of a burst always fits a pass: no burst is given back
 * whole, so a path always moves. */
_Static_assert(OFL_GSO_SEGS_MAX <= VNET_PASS_SEGS,
	       "a refused-or-fitting GSO frame fits one pass");

/* OFL_SEGMENT: cut tx now, or (the pass has done its share of segments:
 * VNET_PASS_SEGS) give it and the rest of the burst back for the next
 * pass.  The first frame of a burst always fits the share. */
static uint32_t segment_or_defer(struct vnet_path *p,
				 const struct vq_chain *tx,
				 const struct ofl_tso *t, struct vnet_pkt *pk)
{
	if (unlikely(t->nseg > p->seg_left) && vq_can_untake(p->src) &&
	    !p->no_defer) {
		p->ntx = (uint16_t)(tx - p->tx);
		return 0;
	}
	return segment(p, tx, t, pk);
}

/* Place pk; count it delivered (1) or dropped (0). */
static inline uint32_t deliver(struct vnet_path *p, const struct vq_chain *tx,
			       struct vnet_pkt *pk, uint32_t len)
{
	int drop = place(p, tx, pk);

	if (likely(!drop)) {
		STAT_ADD(p->stats.bytes, len);
		return 1;
	}
	STAT_INC(p->stats.drops[drop - 1]);
	return 0;
}

/* The sender, for a log line (forward() runs only with a source). */
static const char *src_name(const struct vnet_path *p)
{
	return p->src->dev_name ? p->src->dev_name : "?";
}

/* OFL_PASS through a tag change: the receiver's partial checksum starts
 * that many bytes later or earlier.  A csum_start inside the MACs and tag
 * of a frame that loses its tag is refused. */
static uint32_t forward_pass_vlan(struct vnet_path *p,
				  const struct vq_chain *tx, uint32_t len,
				  const struct virtio_net_hdr *h)
{
	struct virtio_net_hdr h2 = *h;
	struct vnet_pkt pk;
	int32_t d = vlan_delta(p);

	if (h2.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (d < 0 && h2.csum_start < 12 + VNET_VLAN_LEN) {
			STAT_INC(p->stats.drops[VNET_DROP_BAD_OFFLOAD]);
			return 0;
		}
		h2.csum_start = (uint16_t)(h2.csum_start + d);
	}
	if (h2.hdr_len)
		h2.hdr_len = (uint16_t)(h2.hdr_len + d);
	pkt_start(p, tx, len, &h2, 0, &pk);
	pkt_vlan(p, &pk);
	return deliver(p, tx, &pk, len);
}

/* A frame whose header asks for an offload (kept out of the fast path). */
static __attribute__((noinline)) uint32_t
forward_offload(struct vnet_path *p, const struct vq_chain *tx, uint32_t len,
		const struct virtio_net_hdr *h)
{
	struct vnet_pkt pk;
	struct ofl_tso t;
	enum vnet_drop drop;
	uint16_t c;

	switch (ofl_classify(h, len, &p->snd, &p->rcv, tx, p->src_hdr_len,
			     &t)) {
	case OFL_PLAIN:
		pkt_start(p, tx, len, &none, 0, &pk);
		pkt_vlan(p, &pk);
		return deliver(p, tx, &pk, len);
	case OFL_PASS:
		if (unlikely(vnet_to_op(p->vlan) != VNET_VLAN_KEEP))
			return forward_pass_vlan(p, tx, len, h);
		pkt_start(p, tx, len, h, 0, &pk);
		return deliver(p, tx, &pk, len);
	case OFL_CSUM:
		pkt_start(p, tx, len, &none, h->csum_start + h->csum_offset + 2u,
			  &pk);
		c = ofl_csum_complete(h, len, tx, p->src_hdr_len);
		memcpy(pk.pre + p->dst_hdr_len + h->csum_start + h->csum_offset,
		       &c, 2);
		pkt_vlan(p, &pk);
		return deliver(p, tx, &pk, len);
	case OFL_SEGMENT:
		if (unlikely(t.hlen + t.mss > p->frame_max)) {
			VLOG_RL(VLOG_LVL_WARN, TAG, "%s queue %u: segments of "
				"%u + %u bytes (gso_size %u) exceed the "
				"receiver's %u: dropped", src_name(p),
				p->src->index, t.hlen, t.mss, h->gso_size,
				p->frame_max);
			drop = VNET_DROP_TOO_BIG;
			break;
		}
		return segment_or_defer(p, tx, &t, &pk);
	case OFL_GSO_REFUSED:
		VLOG_RL(VLOG_LVL_WARN, TAG, "%s queue %u: GSO frame of %u "
			"bytes with gso_size %u refused (at least %u, at most "
			"%u segments): dropped", src_name(p), p->src->index,
			len, h->gso_size, OFL_GSO_SIZE_MIN, OFL_GSO_SEGS_MAX);
		drop = VNET_DROP_GSO_SIZE;
		break;
	case OFL_BAD:
		drop = VNET_DROP_BAD_OFFLOAD;
		break;
	default:
		drop = VNET_DROP_OFFLOAD_UNSUPP;
		break;
	}
	STAT_INC(p->stats.drops[drop]);
	return 0;
}

/* A frame longer than the receiver's MTU: too big unless it is a GSO
 * frame of at most VNET_FRAME_MAX (cut to size or passed to a receiver
 * that takes TSO; forward_offload() decides). */
static __attribute__((noinline)) bool too_big(const struct vnet_path *p,
					      const struct virtio_net_hdr *h,
					      uint32_t len)
{
	if (h->gso_type != VIRTIO_NET_HDR_GSO_NONE && len <= VNET_FRAME_MAX)
		return false;
	VLOG_RL(VLOG_LVL_WARN, TAG, "%s queue %u: frame of %u bytes (gso_type "
		"%u) longer than the receiver takes (%u): dropped",
		src_name(p), p->src->index, len, h->gso_type, p->frame_max);
	return true;
}

/* Take one frame of the burst: plain frames join the batch, a frame asking
 * for an offload is placed at once (after the batch, to keep the order).
 * Returns the packets delivered now (segments count each). */
static inline uint32_t forward(struct vnet_path *p, struct batch *b,
			       const struct vq_chain *tx)
{
	struct virtio_net_hdr h = none;
	uint32_t len = tx->len - p->src_hdr_len; /* >= 0: SHORT_HDR */
	uint32_t moved = 0;
	int drop;

	if (unlikely(!p->dst || p->dst->broken)) {
		STAT_INC(p->stats.drops[p->dst ? VNET_DROP_DST_DOWN :
					p->dst_none]);
		return 0;
	}
	/* The header is read once: one fixed-size copy when the first
	 * segment holds 12 bytes (the common case; with a 10-byte legacy
	 * header the last 2 are frame bytes and never used). */
	if (likely(tx->seg[0].len >= sizeof(h)))
		memcpy(&h, tx->seg[0].p, sizeof(h));
	else
		vq_chain_read(tx, 0, (uint8_t *)&h, MIN(p->src_hdr_len,
							 sizeof(h)));
	/* One compare for every frame: frame_max is the receiver's MTU;
	 * only a GSO frame may be longer (up to VNET_FRAME_MAX). */
	if (unlikely(len > p->frame_max) && too_big(p, &h, len)) {
		STAT_INC(p->stats.drops[VNET_DROP_TOO_BIG]);
		return 0;
	}
	if (unlikely(h.flags | h.gso_type)) {
		h.num_buffers = 0;
		moved = batch_commit(p, b);
		return moved + forward_offload(p, tx, len, &h);
	}
	if (batch_full(b))
		moved = batch_commit(p, b);
	drop = batch_reserve(p, b, tx, len);
	if (unlikely(drop))
		STAT_INC(p->stats.drops[drop - 1]);
	return moved;
}

/* Send the pending announcement (migration: the guest's MAC, on behalf of
 * the guest) ahead of its traffic; retried while dst has no room. */
static void announce(struct vnet_path *p)
{
	const struct vnet_source *a = p->announce;
	struct vnet_pkt pk;

	if (!p->dst || p->dst->broken) {
		STAT_INC(p->stats.drops[VNET_DROP_ANNOUNCE]);
		p->announce = NULL;
		return;
	}
	pkt_start(p, &a->chain, a->len, &none, 0, &pk);
	if (place(p, &a->chain, &pk))
		return;
	STAT_INC(p->stats.packets);
	STAT_ADD(p->stats.bytes, a->len);
	vq_flush(p->dst);
	p->announce = NULL;
}

/*
 * Load the sender's header line and the first line of its frame, for every
 * chain of the burst, before any is used (see touch()): the guest's core
 * wrote them last, and read one packet at a time the misses would come one
 * after the other.  A DPDK guest keeps the header in a line of its own.
 */
static inline void tx_touch(const struct vnet_path *p, uint16_t n)
{
	const uintptr_t line = ~(uintptr_t)(CACHE_LINE - 1);

	for (uint16_t i = 0; i < n; i++) {
		const struct vq_chain *c = &p->tx[i];
		const uint8_t *h = c->seg[0].p, *f = h + p->src_hdr_len;
		touch(h);
		if (c->seg[0].len <= p->src_hdr_len)
			f = c->nseg > 1 ? c->seg[1].p : h;
		if (((uintptr_t)f & line) != ((uintptr_t)h & line))
			touch(f);
	}
}

/* The control thread gave up waiting for this path (vnet_path_abandon):
 * break the sending queue (one log line, its error eventfd) and do
 * nothing more until the path is set up again. */
static __attribute__((noinline)) uint32_t give_up(struct vnet_path *p)
{
	if (p->src && !p->src->broken)
		vq_set_broken(p->src, VQ_ERR_ABANDONED, 0);
	return 0;
}

void vnet_path_abandon(void *ctx)
{
	struct vnet_path *p = ctx;

	atomic_store_explicit(&p->abandon, true, memory_order_relaxed);
}

uint32_t vnet_path_poll(void *ctx)
{
	struct vnet_path *p = ctx;
	struct batch b;   /* no initialiser: it would zero all the plans */

	if (unlikely(abandoned(p)))
		return give_up(p);
	b.n = b.at = 0;
	if (unlikely(p->announce != NULL))
		announce(p);
	uint16_t n = vq_dequeue(p->src, p->tx, VNET_BURST);
	uint32_t moved = 0;

	if (n == 0)
		return 0;
	if (p->dst) {   /* without one nothing is read: all are dropped */
		tx_touch(p, n);
		vq_prefetch(p->dst, n);
	}
	/* segment_or_defer() may end the burst early (ntx). */
	p->ntx = n;
	p->seg_left = VNET_PASS_SEGS;
	for (uint16_t i = 0; i < p->ntx; i++)
		moved += forward(p, &b, &p->tx[i]);
	if (b.n)
		moved += batch_commit(p, &b);
	if (unlikely(p->ntx < n)) {   /* the rest waits for the next pass */
		vq_untake(p->src, &p->tx[p->ntx], (uint16_t)(n - p->ntx));
		n = p->ntx;
	}
	/* The sender's buffers go back only now: every copy is done. */
	for (uint16_t i = 0; i < n; i++)
		vq_used(p->src, &p->tx[i], 0);
	STAT_ADD(p->stats.packets, moved);
	vq_flush(p->src);
	if (p->dst && moved)
		vq_flush(p->dst);
	return n;
}

/* The receiving queues a pick pass wrote, each flushed once at its end
 * (earlier when more than fit here). */
struct touched {
	uint32_t n;
	struct vq *vq[VNET_TO_MAX];
};

/* true: vq is new in this pass. */
static bool touch_dst(struct touched *t, struct vq *vq)
{
	for (uint32_t i = 0; i < t->n; i++)
		if (t->vq[i] == vq)
			return false;
	if (t->n == VNET_TO_MAX) {
		vq_flush(t->vq[0]);
		t->vq[0] = vq;
		return true;
	}
	t->vq[t->n++] = vq;
	return true;
}

/* Make to the path's current destination (what was batched for the one
 * before is placed first). */
static inline uint32_t set_dst(struct vnet_path *p, struct batch *b,
			       const struct vnet_to *to, struct touched *t,
			       uint16_t left)
{
	const struct vnet_dst *d = to->d;
	uint32_t moved = 0;

	if (p->dst == d->vq && p->vlan == to->vlan)
		return 0;
	if (b->n)
		moved = batch_commit(p, b);
	p->dst = d->vq;
	p->dst_hdr_len = d->hdr_len;
	p->rcv = d->rcv;
	enum vnet_vlan_op op = vnet_to_op(to->vlan);
	p->vlan = to->vlan;
	p->vlan_delta = (int8_t)(op == VNET_VLAN_PUSH ? 4 :
				 op == VNET_VLAN_POP ? -4 : 0);
	/* The frame_max compare (forward) is on the frame as sent: a
	 * pushed tag must still fit the receiver. */
	p->frame_max = d->frame_max - (op == VNET_VLAN_PUSH ?
				       VNET_VLAN_LEN : 0);
	/* The first frame of the pass towards d: start loading its next
	 * descriptors for the frames that may follow (vnet_path_poll does
	 * it for its one dst). */
	if (touch_dst(t, d->vq))
		vq_prefetch(d->vq, left);
	return moved;
}

/* The first bytes of tx's frame, readable at the pointer returned (the
 * chain's, or a copy in buf when its first segment holds fewer). */
static const uint8_t *frame_head(const struct vnet_path *p,
				 const struct vq_chain *tx, uint32_t len,
				 uint8_t *buf, uint32_t *flen)
{
	*flen = MIN(len, VNET_PICK_HEAD);
	if (likely(tx->seg[0].len >= p->src_hdr_len + *flen))
		return tx->seg[0].p + p->src_hdr_len;
	*flen = vq_chain_read(tx, p->src_hdr_len, buf, *flen);
	return buf;
}

/* The pending announcement (SEND_RARP) through the chooser: the bridge
 * learns the guest's MAC on its new port and floods the frame.  Tried
 * once: a destination without room misses it (counted NO_RX_BUF). */
static __attribute__((noinline)) void pick_announce(struct vnet_path *p,
						    struct touched *t)
{
	const struct vnet_source *a = p->announce;
	struct vnet_to to[VNET_TO_MAX];
	struct batch b;
	struct vnet_pkt pk;

	b.n = b.at = 0;
	p->announce = NULL;
	uint32_t k = p->pick(p->pick_ctx, p, a->buf + p->src_hdr_len,
			     MIN(a->len, VNET_PICK_HEAD), a->len, to) &
		     ~VNET_PICK_SAME;
	for (uint32_t j = 0; j < k; j++) {
		set_dst(p, &b, &to[j], t, 1);
		pkt_start(p, &a->chain, a->len, &none, 0, &pk);
		pkt_vlan(p, &pk);
		STAT_ADD(p->stats.packets, deliver(p, &a->chain, &pk, a->len));
	}
}

/* Does frame f (flen bytes readable) go where the frame whose first
 * bytes are in same went (see VNET_PICK_SAME)? */
static inline bool same_way(const uint8_t *f, uint32_t flen,
			    const uint64_t *same)
{
	uint64_t a[2];

	if (flen < VNET_PICK_SAME_MIN)
		return false;
	memcpy(a, f, sizeof(a));
	return ((a[0] ^ same[0]) | (a[1] ^ same[1])) == 0;
}

uint32_t vnet_pick_poll(void *ctx)
{
	struct vnet_path *p = ctx;
	struct batch b;   /* no initialiser: it would zero all the plans */
	struct touched t;
	struct vnet_to to[VNET_TO_MAX];
	uint8_t head[VNET_PICK_HEAD];
	uint64_t same[VNET_PICK_SAME_BYTES / 8] = {0, 0};
	bool have_same = false;
	uint32_t moved = 0, repeats = 0;

	if (unlikely(abandoned(p)))
		return give_up(p);
	p->pass(p->pick_ctx);
	t.n = 0;
	p->dst = NULL;   /* every dst of this pass gets into t, flushed */
	if (unlikely(p->announce != NULL)) {
		pick_announce(p, &t);
		for (uint32_t i = 0; i < t.n; i++)
			vq_flush(t.vq[i]);
		t.n = 0;
		p->dst = NULL;
	}
	uint16_t n = vq_dequeue(p->src, p->tx, VNET_BURST);
	if (n == 0)
		return 0;
	b.n = b.at = 0;
	tx_touch(p, n);
	if (p->hint) {
		struct vq *h = p->hint(p->pick_ctx, p);
		if (h && touch_dst(&t, h))
			vq_prefetch(h, n);
	}
	p->ntx = n;
	p->seg_left = VNET_PASS_SEGS;
	for (uint16_t i = 0; i < p->ntx; i++) {
		const struct vq_chain *tx = &p->tx[i];
		uint32_t len = tx->len - p->src_hdr_len, flen;
		const uint8_t *f = frame_head(p, tx, len, head, &flen);
		/* to[0] still holds the answer for the frame in same. */
		bool again = have_same && same_way(f, flen, same);
		uint32_t k = 1;
		if (!again) {
			k = p->pick(p->pick_ctx, p, f, flen, len, to);
			have_same = k == (1 | VNET_PICK_SAME) &&
				    flen >= VNET_PICK_SAME_MIN;
			if (have_same)
				memcpy(same, f, sizeof(same));
			k &= ~VNET_PICK_SAME;
		}
		/* A GSO frame may wait for the next pass only before any
		 * copy of it was placed. */
		for (uint32_t j = 0; j < k && p->ntx > i; j++) {
			moved += set_dst(p, &b, &to[j], &t,
					 (uint16_t)(p->ntx - i));
			p->no_defer = j > 0;
			moved += forward(p, &b, tx);
		}
		repeats += again && p->ntx > i;   /* not left for later */
	}
	if (b.n)
		moved += batch_commit(p, &b);
	if (repeats && p->repeat)
		p->repeat(p->pick_ctx, repeats);
	if (unlikely(p->ntx < n)) {   /* the rest waits for the next pass */
		vq_untake(p->src, &p->tx[p->ntx], (uint16_t)(n - p->ntx));
		n = p->ntx;
	}
	for (uint16_t i = 0; i < n; i++)
		vq_used(p->src, &p->tx[i], 0);
	STAT_ADD(p->stats.packets, moved);
	vq_flush(p->src);
	for (uint32_t i = 0; i < t.n; i++)
		vq_flush(t.vq[i]);
	return n;
}

/* s->buf holds hdr_len header bytes and the frame: point the chain at it. */
static void source_chain(struct vnet_source *s, uint32_t len,
			 uint32_t hdr_len)
{
	s->len = len;
	s->chain = (struct vq_chain){.head = 0, .nseg = 1, .len = hdr_len + len};
	s->chain.seg[0] = (struct vq_seg){.p = s->buf, .len = hdr_len + len};
}

int vnet_source_set(struct vnet_source *s, const uint8_t *frame,
		    uint32_t len, uint32_t hdr_len)
{
	if (len == 0 || len > VNET_SOURCE_MAX ||
	    hdr_len > sizeof(struct virtio_net_hdr))
		return -EINVAL;
	memset(s->buf, 0, hdr_len);
	memcpy(s->buf + hdr_len, frame, len);
	source_chain(s, len, hdr_len);
	return 0;
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
	put_be16(ip + 2, len - 14);
	put_be16(ip + 6, 0x4000);           /* DF */
	ip[8] = 64;                         /* TTL */
	ip[9] = 17;                         /* UDP */
	memcpy(ip + 12, (uint8_t[]){10, 255, 0, 1}, 4);
	memset(ip + 16, 0xff, 4);
	uint16_t c = csum_finish(csum_bytes(0, ip, 20));
	memcpy(ip + 10, &c, 2);
	put_be16(udp, 9);                   /* discard port, both ends */
	put_be16(udp + 2, 9);
	put_be16(udp + 4, len - 34);        /* UDP checksum 0: none (IPv4) */
	source_chain(s, len, hdr_len);
	return 0;
}

uint32_t vnet_source_poll(void *ctx)
{
	struct vnet_path *p = ctx;

	if (unlikely(abandoned(p)))
		return give_up(p);
	uint16_t n = p->src ? vq_dequeue(p->src, p->tx, VNET_BURST) : 0;
	uint32_t moved = 0;

	if (n) {
		for (uint16_t i = 0; i < n; i++)
			vq_used(p->src, &p->tx[i], 0);
		STAT_ADD(p->stats.drops[VNET_DROP_NO_PEER], n);
		vq_flush(p->src);
	}
	if (!p->dst || p->dst->broken)
		return n;
	/* A full ring is not a drop here: the source simply waits. */
	struct batch b;   /* no initialiser: it would zero all the plans */
	const struct vnet_source *src = p->source;

	b.n = b.at = 0;
	vq_prefetch(p->dst, VNET_BURST);
	while (!batch_full(&b) && !batch_reserve(p, &b, &src->chain, src->len))
		;
	moved = batch_commit(p, &b);
	if (moved) {
		STAT_ADD(p->stats.packets, moved);
		vq_flush(p->dst);
	}
	return n + moved;
}
