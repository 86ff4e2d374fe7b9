/* SPDX-License-Identifier: MIT */
/*
 * vq_priv.h: what the split (vq_split.c) and packed (vq_packed.c) ring code
 * share: taking one buffer into a chain (direction, length and whole-range
 * translation checks), finishing a chain, the slow guest-memory paths and
 * the call eventfd.  Private to the datapath's virtqueue code.
 */
#ifndef VHOSTD_VQ_PRIV_H
#define VHOSTD_VQ_PRIV_H

#include "vq.h"

#define VQ_DESC_BYTES ((uint32_t)sizeof(struct vring_desc))   /* 16 */
#define VQ_NET_HDR_LEN ((uint32_t)sizeof(struct virtio_net_hdr)) /* 12 */

_Static_assert(sizeof(struct vring_desc) == 16, "virtio 2.7.5: 16 bytes");
_Static_assert(sizeof(struct vring_packed_desc) == 16, "virtio 2.8.13");
_Static_assert(sizeof(struct virtio_net_hdr) == 12, "virtio 5.1.6, VERSION_1");

/* What a chain walk has summed so far. */
struct vq_sum {
	uint64_t total;       /* bytes */
	uint32_t nsegs;       /* segments needed, may exceed VQ_MAX_SEGS */
};

static inline bool vq_fail(struct vq *vq, enum vq_error e, uint64_t value)
{
	vq_set_broken(vq, e, value);
	return false;
}

/* Copy len bytes of guest memory at gpa, across regions (slow path). */
bool vq_read_gpa(struct vq *vq, uint64_t gpa, void *dst, uint32_t len);

/* Is every byte of [gpa, gpa + len) guest memory?  len > 0, no wrap. */
bool vq_range_is_guest(struct vq *vq, uint64_t gpa, uint64_t len);

/*
 * A descriptor (addr, len, flags; at: its index, for the log) points to an
 * indirect table: check what both ring formats require of it (the feature
 * negotiated, no NEXT, len a non-zero multiple of 16 of at most 'size'
 * entries, all of it guest memory) and find it.  *tbl: the table in host
 * memory, or NULL when it straddles regions (read it with
 * vq_read_table_desc() by gpa).  false: the queue is broken.
 */
bool vq_indirect_table(struct vq *vq, uint64_t addr, uint32_t len,
		       uint16_t flags, uint32_t at, const uint8_t **tbl);

/* Entry i of a descriptor table (tbl, or by gpa when tbl is NULL), read
 * once into d (16 bytes, either ring format).  false: the queue broke. */
static inline bool vq_read_table_desc(struct vq *vq, const uint8_t *tbl,
				      uint64_t gpa, uint32_t i, void *d)
{
	if (likely(tbl != NULL)) {
		memcpy(d, tbl + (size_t)i * VQ_DESC_BYTES, VQ_DESC_BYTES);
	} else {
		gpa += (uint64_t)i * VQ_DESC_BYTES;
		if (unlikely(!vq_read_gpa(vq, gpa, d, VQ_DESC_BYTES)))
			return vq_fail(vq, VQ_ERR_ADDR, gpa);
	}
	/* The guest may rewrite the descriptor now: from here on only the
	 * copy is used, and the compiler may not re-load it from the ring. */
	__asm__ volatile("" ::: "memory");
	return true;
}

/* Write the call eventfd (no-op without one) and count it. */
void vq_notify(struct vq *vq);

/* Translate [gpa, gpa + len) into segments (more than one when the
 * buffer straddles regions). */
static inline bool vq_add_buf(struct vq *vq, struct vq_chain *c,
			      struct vq_sum *s, uint64_t gpa, uint32_t len)
{
	if (unlikely(gpa + (len - 1) < gpa))
		return vq_fail(vq, VQ_ERR_ADDR, gpa);
	do {
		uint64_t contig;
		uint8_t *p = gmem_gpa_contig(vq->mem, gpa, len, &contig,
					     &vq->mem_hint);
		if (unlikely(p == NULL))
			return vq_fail(vq, VQ_ERR_ADDR, gpa);
		if (likely(s->nsegs < VQ_MAX_SEGS))
			c->seg[s->nsegs] = (struct vq_seg){
				.p = p, .gpa = gpa, .len = (uint32_t)contig};
		s->nsegs++;
		gpa += contig;
		len -= (uint32_t)contig;
	} while (len != 0);
	return true;
}

/* One buffer descriptor (not INDIRECT; addr, len, flags from the read-once
 * copy, idx for the log line) joins the chain. */
static inline bool vq_take_buf(struct vq *vq, struct vq_chain *c,
			       struct vq_sum *s, uint64_t addr, uint32_t len,
			       uint16_t flags, uint32_t idx)
{
	if (vq->tx) {
		if (unlikely(flags & VRING_DESC_F_WRITE))
			return vq_fail(vq, VQ_ERR_WRONG_DIR, flags);
	} else if (unlikely(!(flags & VRING_DESC_F_WRITE))) {
		/* Every RX buffer taken so far was writable. */
		if (s->nsegs != 0)
			return vq_fail(vq, VQ_ERR_WRITE_ORDER, idx);
		return vq_fail(vq, VQ_ERR_WRONG_DIR, flags);
	}
	if (unlikely(len == 0))
		return vq_fail(vq, VQ_ERR_ZERO_LEN, idx);
	s->total += len;
	if (unlikely(s->total > UINT32_MAX))
		return vq_fail(vq, VQ_ERR_LEN_OVERFLOW, s->total);
	return vq_add_buf(vq, c, s, addr, len);
}

static inline bool vq_finish_chain(struct vq *vq, struct vq_chain *c,
				   const struct vq_sum *s)
{
	if (unlikely(s->nsegs > VQ_MAX_SEGS))
		return vq_fail(vq, VQ_ERR_TOO_MANY_SEGS, s->nsegs);
	c->nseg = (uint16_t)s->nsegs;
	c->len = (uint32_t)s->total;
	if (vq->tx) {
		if (unlikely(c->len < VQ_NET_HDR_LEN))
			return vq_fail(vq, VQ_ERR_SHORT_HDR, c->len);
		/* The caller reads it.  vnet's tx_touch() loads the line
		 * again for the whole burst; without this earlier hint the
		 * packed 64 B loop measured 0.82-1.01x of the tree with it
		 * (two session-8 A/B runs, six rows). */
		__builtin_prefetch(c->seg[0].p);
	}
	return true;
}

#endif
