/* SPDX-License-Identifier: MIT */
/*
 * vu_state_pos.c: packed rings' positions read back from the slots the
 * previous process's workers published (datapath/vq_pos.h says how they
 * are written and why a batch cut short is completed, not redone).
 *
 * The slots are the datapath's, not the front-end's, but they come from
 * a file another process wrote: every value is checked before use, and
 * one out of range refuses the device (the reconnect path), never a read
 * or write outside the ring.  The descriptor completed is written into
 * the guest's ring, where a hostile guest can only hurt itself.
 */
#include "vu_state.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../../datapath/log.h"
#include "../../datapath/vring.h"

#define TAG "state"

static int fail(char *why, size_t n, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return err;
}

void vu_state_pos_init(struct vu_state_pos_area *a)
{
	memset(a->slot, 0, sizeof(a->slot));     /* VQ_POS_NONE */
	memset(a->pad, 0, sizeof(a->pad));
	a->version = VU_STATE_POS_VERSION;
	a->nslots = VU_STATE_MAX_RINGS;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);  /* slots before the magic */
	memcpy(a->magic, VU_STATE_POS_MAGIC, sizeof(a->magic));
}

int vu_state_pos_check(const struct vu_state_pos_area *a, char *why,
		       size_t n)
{
	static const char zero[8];

	if (!memcmp(a->magic, zero, sizeof(zero)))
		return fail(why, n, -ENODATA, "no positions area");
	if (memcmp(a->magic, VU_STATE_POS_MAGIC, sizeof(a->magic)))
		return fail(why, n, -EPROTO, "positions area: not vhostd's "
			    "(magic %.8s)", a->magic);
	if (a->version != VU_STATE_POS_VERSION)
		return fail(why, n, -EPROTO, "positions area: version %u, this "
			    "vhostd reads version %u", a->version,
			    VU_STATE_POS_VERSION);
	if (a->nslots != VU_STATE_MAX_RINGS)
		return fail(why, n, -EPROTO, "positions area: %u slots, "
			    "version %u has %u", a->nslots,
			    VU_STATE_POS_VERSION, VU_STATE_MAX_RINGS);
	return 0;
}

/* A position (pos | wrap << 15) inside a ring of size num. */
static bool pos_ok(uint32_t e, uint32_t num)
{
	return e <= 0xffff && (e & 0x7fff) < num;
}

/* Move position e (pos | wrap << 15) forward by k <= num slots. */
static uint32_t advance(uint32_t e, uint32_t k, uint32_t num)
{
	uint32_t p = (e & 0x7fff) + k, w = (e >> 15) & 1;

	if (p >= num) {
		p -= num;
		w ^= 1;
	}
	return p | w << 15;
}

/* Is the descriptor at e still available in e's lap (as the driver made
 * it available: AVAIL = wrap, USED = !wrap), i.e. not used yet? */
static bool still_avail(const struct vring_packed_desc *desc, uint32_t e)
{
	uint16_t fl = __atomic_load_n(&desc[e & 0x7fff].flags,
				      __ATOMIC_ACQUIRE);
	bool wrap = (e >> 15) & 1;

	return !!(fl & VRING_PACKED_DESC_F_AVAIL) == wrap &&
	       !!(fl & VRING_PACKED_DESC_F_USED) != wrap;
}

/* Write the used descriptor at e (id, len), its flags last or, with
 * release, after everything before. */
static void put_used(struct vu_dev *d, uint32_t i, uint32_t e, uint16_t id,
		     uint32_t len, int order)
{
	struct vu_vring *vr = &d->vr[i];
	struct vring_packed_desc *desc = vr->desc;
	uint16_t at = e & 0x7fff;
	uint16_t used = (e >> 15) & 1 ? VRING_PACKED_DESC_F_AVAIL |
					VRING_PACKED_DESC_F_USED : 0;

	desc[at].id = id;
	desc[at].len = len;
	__atomic_store_n(&desc[at].flags, (uint16_t)(used |
			 (len ? VRING_DESC_F_WRITE : 0)), order);
	if ((d->features & BIT_ULL(VHOST_F_LOG_ALL)) &&
	    (vr->addr.flags & BIT_ULL(VHOST_VRING_F_LOG)))
		(void)dirty_log_mark(&d->log, vr->desc_gpa + (uint64_t)at *
				     sizeof(*desc), sizeof(*desc));
}

/*
 * The flush of s->batch (n entries) from done was cut short: if its first
 * used descriptor is not written yet, write every other one still
 * available in its lap (the old worker wrote those before it in order),
 * then the first.  With IN_ORDER on a transmit ring the flush writes only
 * the first, with the last buffer's id and len 0 (vq_packed.c).
 */
static void complete_flush(struct vu_dev *d, uint32_t i,
			   const struct vq_pos *s, uint32_t n)
{
	const struct vring_packed_desc *desc = d->vr[i].desc;
	bool one = (d->features & BIT_ULL(VIRTIO_F_IN_ORDER)) && (i & 1);
	uint32_t num = d->vr[i].num, e = s->done;

	/* Written: the driver may have taken the batch and made new
	 * buffers available there since; nothing to do. */
	if (!still_avail(desc, s->done))
		return;
	for (uint32_t k = 1; !one && k < n; k++) {
		e = advance(e, s->batch[k - 1].ndesc, num);
		if (still_avail(desc, e))
			put_used(d, i, e, s->batch[k].id, s->batch[k].len,
				 __ATOMIC_RELAXED);
	}
	if (one)
		put_used(d, i, s->done, s->batch[n - 1].id, 0,
			 __ATOMIC_RELEASE);
	else
		put_used(d, i, s->done, s->batch[0].id, s->batch[0].len,
			 __ATOMIC_RELEASE);
	LOG_INFO(TAG, "%s: ring %u: the flush the previous vhostd was in "
		 "completed (%u used buffer(s) from %u)", d->name, i, n,
		 s->done & 0x7fff);
}

/* A LIVE slot's position, checked; *base set; with apply, the flush in
 * progress completed. */
static int take_live(struct vu_dev *d, uint32_t i, const struct vq_pos *s,
		     bool apply, uint32_t *base, char *why, size_t n)
{
	const struct vu_vring *vr = &d->vr[i];
	uint32_t num = vr->num, done = s->done;
	uint32_t end = (uint32_t)(s->pending & 0xffff);
	uint64_t cnt = s->pending >> 16;     /* all 48 bits: junk refused */

	if (!pos_ok(done, num) || !pos_ok(end, num))
		return fail(why, n, -EINVAL, "ring %u: published position "
			    "0x%x / 0x%x outside the ring (size %u)", i, done,
			    end, num);
	if (end != done) {
		uint32_t e = done, total = 0;
		if (cnt == 0 || cnt > VQ_BURST_MAX)
			return fail(why, n, -EINVAL, "ring %u: flush in "
				    "progress of %llu used buffers", i,
				    (unsigned long long)cnt);
		/* Every entry a buffer of the ring; together at most the
		 * ring, ending where pending says. */
		for (uint32_t k = 0; k < cnt; k++) {
			const struct vq_packed_used *u = &s->batch[k];
			total += u->ndesc;
			if (!u->ndesc || u->id >= num || total > num)
				return fail(why, n, -EINVAL, "ring %u: flush "
					    "in progress: entry %u (id %u, %u "
					    "descriptors) impossible in a ring "
					    "of %u", i, k, u->id, u->ndesc,
					    num);
			e = advance(e, u->ndesc, num);
		}
		if (e != end)
			return fail(why, n, -EINVAL, "ring %u: flush in "
				    "progress from 0x%x ends at 0x%x, not 0x%x",
				    i, done, e, end);
		if (!vr->desc)
			return fail(why, n, -EINVAL, "ring %u: a flush to "
				    "complete but the ring is not mapped", i);
		if (apply)
			complete_flush(d, i, s, (uint32_t)cnt);
	}
	/* Taken and used at the same place: what the old worker had taken
	 * beyond it is taken again. */
	*base = end | end << 16;
	return 0;
}

/* Check ring i's slot; with apply, take its position. */
static int take_ring(struct vu_dev *d, uint32_t i, const struct vq_pos *slot,
		     bool apply, char *why, size_t n)
{
	struct vu_vring *vr = &d->vr[i];
	struct vq_pos s;
	uint32_t base = 0;
	int err = 0;

	memcpy(&s, slot, sizeof(s));   /* read once */
	if (s.state != VQ_POS_NONE && s.state != VQ_POS_LIVE &&
	    s.state != VQ_POS_STOPPED)
		return fail(why, n, -EINVAL, "ring %u: position slot in an "
			    "unknown state 0x%x", i, s.state);
	bool mine = s.state != VQ_POS_NONE && s.size == vr->num && vr->num &&
		    (s.state == VQ_POS_STOPPED || s.desc_gpa == vr->desc_gpa);
	if (!mine) {
		if (!vr->started)
			return 0;   /* unused: its base stays */
		if (s.state == VQ_POS_NONE)
			return fail(why, n, -EOPNOTSUPP, "ring %u is a started "
				    "packed ring with no position published",
				    i);
		return fail(why, n, -EINVAL, "ring %u: the published position "
			    "is for another ring (size %u, descriptors at "
			    "0x%llx; this one: %u, 0x%llx)", i, s.size,
			    (unsigned long long)s.desc_gpa, vr->num,
			    (unsigned long long)vr->desc_gpa);
	}
	if (s.state == VQ_POS_STOPPED) {
		if (!pos_ok(s.base & 0xffff, vr->num) ||
		    !pos_ok(s.base >> 16, vr->num))
			return fail(why, n, -EINVAL, "ring %u: published base "
				    "0x%x outside the ring (size %u)", i,
				    s.base, vr->num);
		base = s.base;
	} else {
		err = take_live(d, i, &s, apply, &base, why, n);
	}
	if (!err && apply)
		vr->base = base;
	return err;
}

int vu_state_pos_take(struct vu_dev *d, const struct vu_state_pos_area *a,
		      char *why, size_t n)
{
	for (uint32_t i = 0; i < d->nvrings; i++) {
		if (!a) {
			if (!d->vr[i].started)
				continue;
			return fail(why, n, -EOPNOTSUPP, "ring %u is a started "
				    "packed ring: its position is not in guest "
				    "memory, the record was not written at a "
				    "planned stop and no positions were "
				    "published", i);
		}
		int err = take_ring(d, i, &a->slot[i], false, why, n);
		if (err)
			return err;
	}
	/* Every slot checked: nothing is written for a refused device. */
	for (uint32_t i = 0; a && i < d->nvrings; i++)
		(void)take_ring(d, i, &a->slot[i], true, why, n);
	return 0;
}
