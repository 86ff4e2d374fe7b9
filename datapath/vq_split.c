/* SPDX-License-Identifier: MIT */
/*
 * vq_split.c: device side of the split virtqueue (virtio 1.x 2.7).
 *
 *   guest (driver)                          vhostd (device, this file)
 *   desc[] + avail->ring[] + avail->idx --> dequeue (TX) / reserve (RX)
 *                                             read once, validate, translate
 *   used->ring[] + used->idx          <-- used() into the shadow, flush()
 *   call eventfd                      <-- flush(): at most one write
 *
 * Choices where the spec or the contract in vq.h leaves room:
 *  - Chain length: a direct chain may hold at most 'size' descriptors
 *    (2.7.5.3.1: "A driver MUST NOT create a descriptor chain longer than
 *    the Queue Size"); longer means a loop: DESC_LOOP.  An indirect table
 *    holds len / 16 entries, len a non-zero multiple of 16 and at most
 *    'size' entries (same rule; otherwise INDIRECT_LEN), and the chain in
 *    it is bounded by its own entry count (DESC_LOOP).  A direct prefix
 *    followed by one indirect descriptor is accepted (2.7.5.3.2: the
 *    device "MUST handle the case of zero or more normal chained
 *    descriptors followed by a single descriptor" with INDIRECT).
 *  - INDIRECT without VIRTIO_F_INDIRECT_DESC negotiated (2.7.5.3.1:
 *    driver "MUST NOT") is INDIRECT_OFF, with the descriptor's flags as
 *    the value.  The WRITE flag of the descriptor that points to a table is
 *    ignored (2.7.5.3.2: the device "MUST ignore" it).
 *  - Directions: virtio-net queues are one-way (5.1.6: TX buffers are
 *    device-readable, RX buffers device-writable), so mixed chains are not
 *    taken.  TX: any writable descriptor is WRONG_DIR.  RX: a readable
 *    first descriptor is WRONG_DIR; a readable one after writable ones is
 *    WRITE_ORDER (2.7.4.2: writable elements MUST come after readable).
 *  - A chain needing more than VQ_MAX_SEGS segments is TOO_MANY_SEGS and
 *    breaks the queue (2.7.4.1: the device "MAY have a reasonable limit of
 *    descriptors it will allow in a chain").  The walk still finishes
 *    (bounded as above), so a loop is reported as DESC_LOOP, not as this.
 *  - An indirect table straddling two regions is read entry by entry
 *    through gmem_gpa_contig() (16 bytes at a time, no table copy, no
 *    allocation); the whole table must be guest memory (ADDR otherwise).
 *    The common case, a table inside one region, is read in place.
 *  - Read once: descriptors are memcpy'd into a local copy followed by a
 *    compiler barrier, so the compiler can never re-load a field from
 *    guest memory after it was checked (the kernel's READ_ONCE, without
 *    requiring indirect tables to be aligned).  Avail entries and indices
 *    are single 16-bit atomic loads.
 *  - Statistics: TX packets/bytes are counted when a chain is taken (TX
 *    chains are never given back); RX packets when reserve() places one
 *    (unreserve() undoes one reserve()), RX bytes when used() reports
 *    them.  reserve() returning 0 counts ring_full, both when no chain is
 *    available and when the chains available cannot hold len (without
 *    MRG_RXBUF: the next chain is too small; with it: 'max' chains or the
 *    ring ran out first).  The caller then drops the packet or retries it
 *    later; the buffers stay for smaller packets.
 *  - A broken queue is never read or written again: dequeue() returns 0,
 *    reserve() -1, used() and flush() drop their entries.
 */
#include "vq_priv.h"
#include "prefetch.h"

#include <string.h>

/* Where the descriptors of the walk come from. */
struct vq_walk {
	const uint8_t *tbl;   /* host pointer of the table, NULL: by gpa */
	uint64_t gpa;         /* indirect table that straddles regions */
	uint32_t n;           /* entries: next below it, chain no longer */
	bool indirect;
};

static inline uint16_t vq_avail_head(const struct vq *vq, uint16_t pos)
{
	return __atomic_load_n(&vq->avail->ring[pos & vq->mask],
			       __ATOMIC_RELAXED);
}

/* Entries the driver made available; the acquire orders every later read
 * of the avail ring and of descriptors after the index (2.7.13). */
static inline bool vq_avail_count(struct vq *vq, uint16_t *count)
{
	uint16_t idx = __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE);
	uint16_t n = (uint16_t)(idx - vq->last_avail);

	if (unlikely(n > vq->size))
		return vq_fail(vq, VQ_ERR_AVAIL_JUMP, n);
	vq->avail_seen = idx;
	*count = n;
	return true;
}

/* The used entries the next n used() calls write: 8 per cache line, lines
 * the driver's core read last. */
static inline void vq_prefetch_used(const struct vq *vq, uint16_t n)
{
	uint16_t pos = (uint16_t)(vq->used_idx + vq->nshadow);

	for (uint16_t i = 0; i < n; i += 8)
		prefetch_w(&vq->used->ring[(uint16_t)(pos + i) & vq->mask]);
	prefetch_w(&vq->used->ring[(uint16_t)(pos + n - 1) & vq->mask]);
}

/* d (at index idx of the current table) points to an indirect table:
 * check it and make it the walk's table. */
static bool vq_enter_indirect(struct vq *vq, struct vq_walk *w,
			      const struct vring_desc *d, uint32_t idx)
{
	if (unlikely(w->indirect))
		return vq_fail(vq, VQ_ERR_INDIRECT_NESTED, idx);
	if (unlikely(!vq_indirect_table(vq, d->addr, d->len, d->flags, idx,
					&w->tbl)))
		return false;
	w->gpa = d->addr;
	w->n = d->len / VQ_DESC_BYTES;   /* constant: a shift */
	w->indirect = true;
	return true;
}

/* Read, validate and translate the chain at head into c.  false: the
 * queue is broken (c is then garbage and not handed out). */
static bool vq_take_chain(struct vq *vq, uint16_t head, struct vq_chain *c)
{
	struct vq_walk w = {.tbl = (const uint8_t *)vq->desc, .n = vq->size};
	struct vq_sum s = {0, 0};
	struct vring_desc d;
	uint32_t idx = head, walked = 0;

	if (unlikely(head >= vq->size))
		return vq_fail(vq, VQ_ERR_HEAD_RANGE, head);
	c->head = head;
	for (;;) {
		if (unlikely(walked++ == w.n))
			return vq_fail(vq, VQ_ERR_DESC_LOOP, w.n);
		if (unlikely(!vq_read_table_desc(vq, w.tbl, w.gpa, idx, &d)))
			return false;
		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (unlikely(!vq_enter_indirect(vq, &w, &d, idx)))
				return false;
			idx = 0;
			walked = 0;
			continue;
		}
		if (unlikely(!vq_take_buf(vq, c, &s, d.addr, d.len, d.flags,
					  idx)))
			return false;
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		if (unlikely(d.next >= w.n))
			return vq_fail(vq, VQ_ERR_NEXT_RANGE, d.next);
		idx = d.next;
	}
	return vq_finish_chain(vq, c, &s);
}

uint16_t vq_split_dequeue(struct vq *vq, struct vq_chain *chains, uint16_t n)
{
	uint16_t avail, i, head, next_head = 0;
	uint64_t bytes = 0;

	if (unlikely(vq->broken) || n == 0 || !vq_avail_count(vq, &avail))
		return 0;
	n = MIN(n, avail);
	if (n == 0)
		return 0;
	vq_prefetch_used(vq, n);
	/* The heads' descriptor lines, all loaded before the first is used
	 * (see touch()).  Only a hint: each entry is read again, once, to
	 * be used. */
	for (i = 0; i < n; i++)
		touch(&vq->desc[vq_avail_head(vq, vq->last_avail + i) &
				vq->mask]);
	head = vq_avail_head(vq, vq->last_avail);
	for (i = 0; i < n; i++) {
		if (i + 1 < n)
			next_head = vq_avail_head(vq, vq->last_avail + 1);
		if (unlikely(!vq_take_chain(vq, head, &chains[i])))
			break;
		bytes += chains[i].len;
		vq->last_avail++;
		head = next_head;
	}
	STAT_ADD(vq->stats.packets, i);
	STAT_ADD(vq->stats.bytes, bytes);
	return i;
}

int vq_split_reserve(struct vq *vq, uint32_t len, struct vq_chain *chains,
		     uint16_t max)
{
	/* Entries already seen available: avail->idx, on a cache line the
	 * guest writes, is read again only when they run out or after a
	 * flush. */
	uint16_t avail = (uint16_t)(vq->avail_seen - vq->last_avail), k = 0;
	uint64_t cover = 0;

	if (unlikely(vq->broken))
		return -1;
	if (!vq->mrg_rxbuf)
		max = MIN(max, 1);
	do {
		if (k == avail && !vq_avail_count(vq, &avail))
			return -1;
		if (k == max || k == avail) { /* nothing taken */
			STAT_INC(vq->stats.ring_full);
			return 0;
		}
		uint16_t head = vq_avail_head(vq, (uint16_t)(vq->last_avail + k));
		if (unlikely(!vq_take_chain(vq, head, &chains[k])))
			return -1;
		cover += chains[k++].len;
	} while (cover < len);
	vq->last_avail += k;
	STAT_INC(vq->stats.packets);
	return k;
}

void vq_split_unreserve(struct vq *vq, uint16_t n)
{
	if (n == 0)
		return;
	vq->last_avail -= n;
	if (vq->stats.packets != 0)
		STAT_ADD(vq->stats.packets, -1);
}

void vq_split_untake(struct vq *vq, const struct vq_chain *chains, uint16_t n)
{
	uint64_t bytes = 0;

	for (uint16_t i = 0; i < n; i++)
		bytes += chains[i].len;
	vq->last_avail = (uint16_t)(vq->last_avail - n);
	STAT_ADD(vq->stats.packets, -(uint64_t)n);
	STAT_ADD(vq->stats.bytes, -bytes);
}

void vq_split_used(struct vq *vq, uint16_t head, uint32_t len)
{
	if (unlikely(vq->broken))
		return;
	vq->shadow[vq->nshadow].id = head;
	vq->shadow[vq->nshadow].len = len;
	STAT_ADD(vq->stats.bytes, len);   /* RX: bytes written; TX reports 0 */
	if (++vq->nshadow == VQ_BURST_MAX)
		vq_split_flush(vq);
}

/*
 * VIRTIO_F_IN_ORDER, transmit side (2.7.9 and "In-order use of
 * descriptors"): buffers are used in the order they were made available
 * and a transmit buffer's used length is 0, so the device "can just write
 * out a single used ring entry with the id corresponding to the head entry
 * of the descriptor chain describing the last buffer in a batch" and move
 * used->idx by the batch's size.  The entry goes where the batch begins,
 * the slot the driver reads next; the driver reads one entry (one line of
 * the front-end's core) per burst instead of one per buffer.  Receive
 * rings keep an entry per buffer: each has its length.
 */
static inline void vq_split_used_batch(struct vq *vq, uint16_t start,
				       uint16_t n)
{
	vq->used->ring[start & vq->mask] = (struct vring_used_elem){
		.id = vq->shadow[n - 1].id, .len = 0};
}

/* Dirty-log what flush wrote: n entries from used index start (one for an
 * in-order transmit batch), the index and, with EVENT_IDX, avail_event. */
static void vq_log_used(const struct vq *vq, uint16_t start, uint16_t n)
{
	const uint64_t elem = sizeof(struct vring_used_elem);
	uint64_t ring = vq->used_gpa + offsetof(struct vring_used, ring);
	uint32_t first = start & vq->mask;
	uint32_t k = MIN((uint32_t)n, (uint32_t)vq->size - first);

	vq_log_write(vq, ring + first * elem, (uint32_t)(k * elem));
	if (k < n)   /* wrapped to the start of the ring */
		vq_log_write(vq, ring, (uint32_t)((n - k) * elem));
	vq_log_write(vq, vq->used_gpa + offsetof(struct vring_used, idx),
		     sizeof(uint16_t));
	if (vq->event_idx)
		vq_log_write(vq, ring + vq->size * elem, sizeof(uint16_t));
}

/* 2.7.7.2 / 2.7.10: does the driver want a used buffer notification for
 * the entries [signalled_used, new_idx)?  Each used index is checked
 * exactly once, so "idx was equal to used_event" is seen exactly once. */
static inline bool vq_need_notify(struct vq *vq, uint16_t new_idx)
{
	if (vq->event_idx) {
		uint16_t ev = __atomic_load_n(vring_used_event(vq->avail,
							       vq->size),
					      __ATOMIC_RELAXED);
		uint16_t old = vq->signalled_used;

		vq->signalled_used = new_idx;
		return vring_need_event(ev, new_idx, old);
	}
	return !(__atomic_load_n(&vq->avail->flags, __ATOMIC_RELAXED) &
		 VRING_AVAIL_F_NO_INTERRUPT);
}

void vq_split_flush(struct vq *vq)
{
	uint16_t n = vq->nshadow, start = vq->used_idx;
	uint16_t new_idx = (uint16_t)(start + n);

	/* The next reserve() reads avail->idx again: once per burst keeps
	 * what the guest posted (or broke) in view without a load of its
	 * cache line per packet. */
	vq->avail_seen = vq->last_avail;
	if (unlikely(vq->broken))
		vq->nshadow = 0;
	if (n == 0 || unlikely(vq->broken))
		return;
	if (vq->in_order && vq->tx)
		vq_split_used_batch(vq, start, n);
	else
		for (uint16_t i = 0; i < n; i++)
			vq->used->ring[(uint16_t)(start + i) & vq->mask] =
				vq->shadow[i];
	/* Kick suppression with EVENT_IDX: avail_event = last_avail - 1 is
	 * always behind the driver's old avail idx, so vring_need_event()
	 * on the driver side stays false: vhostd polls and never needs a
	 * kick (without EVENT_IDX, used->flags has NO_NOTIFY from init). */
	if (vq->event_idx)
		__atomic_store_n(vring_avail_event(vq->used, vq->size),
				 (uint16_t)(vq->last_avail - 1),
				 __ATOMIC_RELAXED);
	/* 2.7.8: entries (and len) before the index, one store. */
	__atomic_store_n(&vq->used->idx, new_idx, __ATOMIC_RELEASE);
	vq->used_idx = new_idx;
	vq->nshadow = 0;
	if (vq->log != NULL && vq->log_used)
		vq_log_used(vq, start, vq->in_order && vq->tx ? 1 : n);
	/* The index must be visible before used_event / flags are read,
	 * or a driver re-enabling interrupts just now is missed. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vq_need_notify(vq, new_idx))
		vq_notify(vq);
}

void vq_split_prefetch(struct vq *vq, uint16_t n)
{
	uint16_t avail;

	if (unlikely(vq->broken) || !vq_avail_count(vq, &avail))
		return;
	n = MIN(n, avail);
	if (n != 0)
		vq_prefetch_used(vq, n);
	for (uint16_t i = 0; i < n; i++) {
		/* A hint only: the entry is read again, once and for real,
		 * when its chain is taken; masked, it stays in the table. */
		uint16_t h = vq_avail_head(vq, (uint16_t)(vq->last_avail + i));
		__builtin_prefetch(&vq->desc[h & vq->mask]);
	}
}

/*
 * Available buffer notifications (2.7.10) on or off, for a worker that
 * parks (--idle wait).  On: without EVENT_IDX clear NO_NOTIFY; with it
 * avail_event = last_avail, so the driver kicks when it makes the next
 * buffer available (2.7.10.1: it kicks when the new idx passes
 * avail_event).  Off: back to what vq_init and every flush write.  The
 * full fence orders the store before the load of avail->idx, against the
 * driver's store of idx before its load of flags/avail_event: one of the
 * two sides sees the other.
 */
bool vq_split_kick(struct vq *vq, bool on)
{
	if (vq->event_idx) {
		uint16_t ev = on ? vq->last_avail : (uint16_t)(vq->last_avail - 1);
		__atomic_store_n(vring_avail_event(vq->used, vq->size), ev,
				 __ATOMIC_RELAXED);
		if (vq->log != NULL && vq->log_used)
			vq_log_write(vq, vq->used_gpa +
				     offsetof(struct vring_used, ring) +
				     (uint64_t)vq->size *
				     sizeof(struct vring_used_elem),
				     sizeof(uint16_t));
	} else {
		__atomic_store_n(&vq->used->flags, (uint16_t)(on ? 0 :
				 VRING_USED_F_NO_NOTIFY), __ATOMIC_RELAXED);
		if (vq->log != NULL && vq->log_used)
			vq_log_write(vq, vq->used_gpa, sizeof(uint16_t));
	}
	if (!on)
		return false;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	/* Any difference is work (a bad index breaks the ring at the next
	 * dequeue, not here). */
	return __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE) !=
	       vq->last_avail;
}
