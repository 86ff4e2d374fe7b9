/* SPDX-License-Identifier: MIT */
/*
 * vq_packed.c: device side of the packed virtqueue (virtio 1.x 2.8,
 * VIRTIO_F_RING_PACKED).
 *
 *   guest (driver)                          vhostd (device, this file)
 *   desc[] flags AVAIL/USED (wrap)    --> dequeue (TX) / reserve (RX)
 *                                             read once, validate, translate
 *   desc[] overwritten with used ones <-- used() into the shadow, flush()
 *   driver area (event suppression)   --> flush(): at most one call
 *   device area                       <-- DISABLE, once (vhostd polls)
 *
 * The choices of vq_split.c hold here too (chain and segment limits, read
 * once, whole-range translation, one-way directions, statistics, a broken
 * queue is never touched again).  What is particular to the packed ring:
 *
 *  - Availability: a descriptor is available when its AVAIL bit equals the
 *    device's avail wrap counter and its USED bit differs ("Driver and
 *    Device Ring Wrap Counters").  The first descriptor of a chain is tested with one acquire load of its
 *    flags; the whole descriptor is then copied once and the copy is used
 *    (its AVAIL/USED bits are not looked at again).
 *  - Chains: consecutive ring slots, wrapping at the end with the wrap
 *    counter flipped; the buffer id is the one of the last descriptor.
 *    Every later descriptor of a chain must be available with the wrap bits
 *    of its slot, otherwise the queue breaks (CHAIN_AVAIL), it does not
 *    wait: "A driver MUST NOT make the first descriptor in the list
 *    available before all subsequent descriptors comprising the list are
 *    made available" (Scatter-Gather Support), so a chain whose head is visible and whose tail is
 *    not is a driver bug, not a race.
 *  - A chain of more than 'size' descriptors is DESC_LOOP ("A driver
 *    MUST NOT create a descriptor list longer than the Queue Size").
 *  - Buffer ids must be below the ring size (HEAD_RANGE): at most 'size'
 *    buffers are ever outstanding and every known driver numbers them
 *    0..size-1; vhostd only echoes ids, so this is a sanity check.
 *  - Indirect (Indirect Flag: Scatter-Gather Support): the descriptor pointing to a table must be
 *    alone: INDIRECT with NEXT is INDIRECT_NEXT, INDIRECT after a NEXT
 *    descriptor is INDIRECT_CHAINED ("A driver MUST NOT write direct
 *    descriptors with DESC_F_INDIRECT set in a scatter-gather list linked
 *    by VIRTQ_DESC_F_NEXT").  The table holds len / 16 consecutive entries
 *    (len a non-zero multiple of 16, at most 'size' entries: INDIRECT_LEN)
 *    and all of them are the buffer: "The VIRTQ_DESC_F_WRITE flags bit is
 *    the only valid flag for descriptors in the indirect table. Others are
 *    reserved and are ignored by the device", so NEXT and the id in a
 *    table entry are ignored.  One exception, on purpose: INDIRECT in a
 *    table entry breaks the queue (INDIRECT_NESTED), as on the split ring,
 *    rather than treating a table pointer as a data buffer; a driver
 *    "MUST NOT set any flags except DESC_F_WRITE within an indirect
 *    descriptor", so no conforming driver is refused.  INDIRECT without
 *    VIRTIO_F_INDIRECT_DESC is INDIRECT_OFF.
 *  - Used descriptors (Next Flag: Descriptor Chaining): one per buffer, id and len written,
 *    flags AVAIL = USED = the used wrap counter, WRITE when len != 0; the
 *    position moves by the chain's descriptor count.  A flush writes every
 *    entry but the first, then the first descriptor's flags with a release
 *    store, so the driver, which polls only its next used slot, sees the
 *    batch at once (as "Multi-buffer requests" asks of the first one).
 *  - Order: buffers are used in the order they were taken (vnet returns
 *    TX chains in dequeue order and RX chains in reserve order), so each
 *    used descriptor overwrites the first slot of its own chain and never a
 *    slot not yet read.  With VIRTIO_F_IN_ORDER a transmit ring's flush
 *    writes one used descriptor for its whole batch (the last buffer's id,
 *    at the batch's first slot) and skips forward, as the in-order section
 *    allows; receive rings keep one per buffer (each has its length).
 *  - Notifications (Driver and Device Event Suppression): the driver area's flags: ENABLE
 *    notifies, DISABLE does not, DESC (with EVENT_IDX) notifies when the
 *    used position passed (off, wrap) since the last flush; DESC without
 *    EVENT_IDX and the reserved value 3 are taken as ENABLE (an extra call
 *    is harmless, a missing one hangs the driver).
 *  - A driver that marks slots available again before vhostd used them
 *    (more than 'size' descriptors outstanding) only corrupts its own
 *    ring: every read and write stays inside the descriptor ring.
 */
#include "vq_priv.h"
#include "prefetch.h"
#include "vq_pos.h"

#include <string.h>

#define VQ_USED_FLAGS (VRING_PACKED_DESC_F_AVAIL | VRING_PACKED_DESC_F_USED)

static inline bool vq_is_avail(uint16_t flags, bool wrap)
{
	return !!(flags & VRING_PACKED_DESC_F_AVAIL) == wrap &&
	       !!(flags & VRING_PACKED_DESC_F_USED) != wrap;
}

/* Is the descriptor at (pos, wrap) available?  The acquire orders every
 * later read of the chain after its flags ("The driver MUST perform a
 * suitable memory barrier before the flags update"). */
static inline bool vq_head_avail(const struct vq *vq, uint16_t pos, bool wrap)
{
	return vq_is_avail(__atomic_load_n(&vq->pdesc[pos].flags,
					   __ATOMIC_ACQUIRE), wrap);
}

/* A ring position and its wrap counter as one number in [0, 2 * size):
 * the laps go wrap 1, wrap 0, wrap 1..., so this grows modulo 2 * size. */
static inline uint32_t vq_lin(const struct vq *vq, uint32_t pos, bool wrap)
{
	return (pos + (wrap ? 0u : vq->size)) % (2u * vq->size);
}

static inline void vq_unlin(const struct vq *vq, uint32_t l, uint16_t *pos,
			    bool *wrap)
{
	*wrap = l < vq->size;
	*pos = (uint16_t)(*wrap ? l : l - vq->size);
}

/* Move (pos, wrap) forward by n <= size slots. */
static inline void vq_advance(const struct vq *vq, uint16_t *pos, bool *wrap,
			      uint32_t n)
{
	uint32_t p = (uint32_t)*pos + n;

	if (p >= vq->size) {
		p -= vq->size;
		*wrap = !*wrap;
	}
	*pos = (uint16_t)p;
}

/* d (at position at, alone in its chain) points to an indirect table:
 * every entry of the table joins the chain. */
static bool vq_take_indirect(struct vq *vq, struct vq_chain *c,
			     struct vq_sum *s,
			     const struct vring_packed_desc *d, uint16_t at)
{
	const uint8_t *tbl;

	if (unlikely(!vq_indirect_table(vq, d->addr, d->len, d->flags, at,
					&tbl)))
		return false;
	uint32_t n = d->len / VQ_DESC_BYTES;
	for (uint32_t i = 0; i < n; i++) {
		struct vring_packed_desc e;
		if (unlikely(!vq_read_table_desc(vq, tbl, d->addr, i, &e)))
			return false;
		if (unlikely(e.flags & VRING_DESC_F_INDIRECT))
			return vq_fail(vq, VQ_ERR_INDIRECT_NESTED, i);
		if (unlikely(!vq_take_buf(vq, c, s, e.addr, e.len, e.flags, i)))
			return false;
	}
	return true;
}

/*
 * Read, validate and translate the chain starting at (*pos, *wrap), whose
 * first descriptor the caller saw available, into c.  On success *pos and
 * *wrap move past the chain; false: the queue is broken.
 */
static bool vq_take_chain(struct vq *vq, uint16_t *pos, bool *wrap,
			  struct vq_chain *c)
{
	struct vq_sum s = {0, 0};
	struct vring_packed_desc d;
	uint16_t p = *pos;
	bool w = *wrap;
	uint32_t n = 0;

	for (;;) {
		if (unlikely(n == vq->size))
			return vq_fail(vq, VQ_ERR_DESC_LOOP, n);
		memcpy(&d, &vq->pdesc[p], sizeof(d));
		/* The guest may rewrite the descriptor now: only the copy is
		 * used, and the compiler may not re-load it from the ring. */
		__asm__ volatile("" ::: "memory");
		if (n != 0 && unlikely(!vq_is_avail(d.flags, w)))
			return vq_fail(vq, VQ_ERR_CHAIN_AVAIL, p);
		uint16_t at = p;
		n++;
		vq_advance(vq, &p, &w, 1);
		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (unlikely(n != 1))
				return vq_fail(vq, VQ_ERR_INDIRECT_CHAINED, at);
			if (unlikely(!vq_take_indirect(vq, c, &s, &d, at)))
				return false;
			break;
		}
		if (unlikely(!vq_take_buf(vq, c, &s, d.addr, d.len, d.flags,
					  at)))
			return false;
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
	}
	if (unlikely(d.id >= vq->size))
		return vq_fail(vq, VQ_ERR_HEAD_RANGE, d.id);
	c->head = d.id;
	c->ndesc = (uint16_t)n;
	if (unlikely(!vq_finish_chain(vq, c, &s)))
		return false;
	*pos = p;
	*wrap = w;
	return true;
}

uint16_t vq_packed_dequeue(struct vq *vq, struct vq_chain *chains, uint16_t n)
{
	uint64_t bytes = 0;
	uint16_t i;

	if (unlikely(vq->broken))
		return 0;
	for (i = 0; i < n; i++) {
		if (!vq_head_avail(vq, vq->last_avail, vq->avail_wrap))
			break;
		if (unlikely(!vq_take_chain(vq, &vq->last_avail,
					    &vq->avail_wrap, &chains[i])))
			break;
		bytes += chains[i].len;
	}
	STAT_ADD(vq->stats.packets, i);
	STAT_ADD(vq->stats.bytes, bytes);
	return i;
}

int vq_packed_reserve(struct vq *vq, uint32_t len, struct vq_chain *chains,
		      uint16_t max)
{
	uint16_t pos = vq->last_avail, k = 0;
	bool wrap = vq->avail_wrap;
	uint64_t cover = 0;

	if (unlikely(vq->broken))
		return -1;
	if (!vq->mrg_rxbuf)
		max = MIN(max, 1);
	do {
		if (k == max || !vq_head_avail(vq, pos, wrap)) {
			STAT_INC(vq->stats.ring_full);   /* nothing taken */
			return 0;
		}
		if (unlikely(!vq_take_chain(vq, &pos, &wrap, &chains[k])))
			return -1;
		cover += chains[k++].len;
	} while (cover < len);
	vq->last_avail = pos;
	vq->avail_wrap = wrap;
	STAT_INC(vq->stats.packets);
	return k;
}

void vq_packed_unreserve(struct vq *vq, const struct vq_chain *chains,
			 uint16_t n)
{
	uint32_t m = 2u * vq->size, back = 0;

	if (n == 0)
		return;
	for (uint16_t i = 0; i < n; i++)
		back += chains[i].ndesc;
	uint32_t l = vq_lin(vq, vq->last_avail, vq->avail_wrap);
	vq_unlin(vq, (l + m - back % m) % m, &vq->last_avail, &vq->avail_wrap);
	if (vq->stats.packets != 0)
		STAT_ADD(vq->stats.packets, -1);
}

void vq_packed_untake(struct vq *vq, const struct vq_chain *chains,
		      uint16_t n)
{
	uint32_t m = 2u * vq->size, back = 0;
	uint64_t bytes = 0;

	for (uint16_t i = 0; i < n; i++) {
		back += chains[i].ndesc;
		bytes += chains[i].len;
	}
	uint32_t l = vq_lin(vq, vq->last_avail, vq->avail_wrap);
	vq_unlin(vq, (l + m - back % m) % m, &vq->last_avail, &vq->avail_wrap);
	STAT_ADD(vq->stats.packets, -(uint64_t)n);
	STAT_ADD(vq->stats.bytes, -bytes);
}

void vq_packed_used(struct vq *vq, const struct vq_chain *c, uint32_t len)
{
	if (unlikely(vq->broken))
		return;
	vq->pshadow[vq->nshadow] = (struct vq_packed_used){
		.id = c->head, .ndesc = c->ndesc, .len = len};
	STAT_ADD(vq->stats.bytes, len);   /* RX: bytes written; TX reports 0 */
	if (++vq->nshadow == VQ_BURST_MAX)
		vq_packed_flush(vq);
}

/* Dirty-log the n used descriptors flush wrote from (pos, wrap) (with
 * IN_ORDER on TX it wrote only the first: the rest is marked anyway). */
static void vq_log_used_packed(const struct vq *vq, uint16_t pos, bool wrap,
			       uint16_t n)
{
	for (uint16_t i = 0; i < n; i++) {
		vq_log_write(vq, vq->desc_gpa + (uint64_t)pos * VQ_DESC_BYTES,
			     VQ_DESC_BYTES);
		vq_advance(vq, &pos, &wrap, vq->pshadow[i].ndesc);
	}
}

/* Event suppression: does the driver want a used buffer notification for the slots
 * [signalled, used)?  Each slot is looked at by exactly one flush. */
static inline bool vq_need_notify(struct vq *vq)
{
	uint32_t m = 2u * vq->size;
	uint32_t old = vq_lin(vq, vq->signalled_used, vq->signalled_wrap);
	uint32_t now = vq_lin(vq, vq->used_idx, vq->used_wrap);
	uint16_t flags = __atomic_load_n(&vq->driver->flags, __ATOMIC_ACQUIRE) &
			 VRING_PACKED_EVENT_MASK;

	vq->signalled_used = vq->used_idx;
	vq->signalled_wrap = vq->used_wrap;
	if (flags == VRING_PACKED_EVENT_DISABLE)
		return false;
	if (flags != VRING_PACKED_EVENT_DESC || !vq->event_idx)
		return true;
	uint16_t ow = __atomic_load_n(&vq->driver->off_wrap, __ATOMIC_RELAXED);
	uint32_t ev = vq_lin(vq, ow & 0x7fffu, ow >> VRING_PACKED_WRAP_SHIFT);
	/* The event slot is in [old, now), modulo 2 * size. */
	return (now + 2 * m - ev - 1) % m < (now + m - old) % m;
}

/* After the used descriptors of a flush are written (or skipped): log,
 * move the used position past them, notify if the driver wants it. */
static void vq_packed_flush_end(struct vq *vq, uint16_t pos, bool wrap)
{
	if (vq->log != NULL && vq->log_used)
		vq_log_used_packed(vq, vq->used_idx, vq->used_wrap, vq->nshadow);
	vq->used_idx = pos;
	vq->used_wrap = wrap;
	vq->nshadow = 0;
	vq_pos_end(vq);      /* published for the next process */
	/* The flags must be visible before the driver area is read, or a
	 * driver re-enabling notifications just now is missed. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vq_need_notify(vq))
		vq_notify(vq);
}

/*
 * VIRTIO_F_IN_ORDER, transmit side (2.8.20, in-order use of descriptors):
 * the buffers were used in the order they were made available, and their
 * used lengths are all 0, so one used descriptor says it all: written
 * where the batch begins, with the buffer id of the last buffer; the
 * device then skips forward over the batch's descriptors.  The driver
 * reads one descriptor per batch instead of one per buffer.
 */
static void vq_packed_flush_in_order(struct vq *vq)
{
	uint16_t pos = vq->used_idx;
	bool wrap = vq->used_wrap;
	struct vring_packed_desc *d = &vq->pdesc[pos];
	uint16_t f = wrap ? VQ_USED_FLAGS : 0;

	d->id = vq->pshadow[vq->nshadow - 1].id;
	d->len = 0;
	for (uint16_t i = 0; i < vq->nshadow; i++)
		vq_advance(vq, &pos, &wrap, vq->pshadow[i].ndesc);
	__atomic_store_n(&d->flags, f, __ATOMIC_RELEASE);
	vq_packed_flush_end(vq, pos, wrap);
}

void vq_packed_flush(struct vq *vq)
{
	uint16_t n = vq->nshadow, pos = vq->used_idx, first_flags = 0;
	bool wrap = vq->used_wrap;
	struct vring_packed_desc *first = NULL;

	if (unlikely(vq->broken))
		vq->nshadow = 0;
	if (n == 0 || unlikely(vq->broken))
		return;
	vq_pos_begin(vq);    /* before any used descriptor is written */
	if (vq->in_order && vq->tx) {
		vq_packed_flush_in_order(vq);
		return;
	}
	for (uint16_t i = 0; i < n; i++) {
		const struct vq_packed_used *u = &vq->pshadow[i];
		struct vring_packed_desc *d = &vq->pdesc[pos];
		uint16_t f = (uint16_t)((wrap ? VQ_USED_FLAGS : 0) |
					(u->len ? VRING_DESC_F_WRITE : 0));

		d->id = u->id;
		d->len = u->len;
		if (i == 0) {
			first = d;
			first_flags = f;
		} else {
			__atomic_store_n(&d->flags, f, __ATOMIC_RELAXED);
		}
		vq_advance(vq, &pos, &wrap, u->ndesc);
	}
	/* Every other entry (and this one's id and len) before the first
	 * descriptor's flags: the driver sees the whole batch at once. */
	__atomic_store_n(&first->flags, first_flags, __ATOMIC_RELEASE);
	vq_packed_flush_end(vq, pos, wrap);
}

void vq_packed_prefetch(struct vq *vq, uint16_t n)
{
	uint32_t pos = vq->last_avail;

	if (unlikely(vq->broken) || n == 0)
		return;
	n = MIN(n, vq->size);
	/* Four descriptors per cache line; a hint only, nothing is read.
	 * For writing: the device reads these descriptors and then writes
	 * the used ones in place, in the same burst. */
	for (uint16_t i = 0; i < n; i += 4) {
		prefetch_w(&vq->pdesc[pos]);
		pos += 4;
		if (pos >= vq->size)
			pos -= vq->size;
	}
	/* The last one's line, when pos did not start on a line. */
	pos = vq->last_avail + n - 1;
	prefetch_w(&vq->pdesc[pos >= vq->size ? pos - vq->size : pos]);
}

/*
 * Available buffer notifications on or off (--idle wait): the device area
 * (Driver and Device Event Suppression) says ENABLE, valid with or without
 * EVENT_IDX, or DISABLE as vq_init wrote it.  Then, as for a split ring,
 * a full fence and one more look at the next descriptor.
 */
bool vq_packed_kick(struct vq *vq, bool on)
{
	__atomic_store_n(&vq->device->flags, (uint16_t)(on ?
			 VRING_PACKED_EVENT_ENABLE : VRING_PACKED_EVENT_DISABLE),
			 __ATOMIC_RELAXED);
	if (vq->log != NULL && vq->log_used)
		vq_log_write(vq, vq->used_gpa,
			     sizeof(struct vring_packed_event));
	if (!on)
		return false;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return vq_head_avail(vq, vq->last_avail, vq->avail_wrap);
}
