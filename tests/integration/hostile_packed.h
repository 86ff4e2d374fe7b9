/* SPDX-License-Identifier: MIT */
/*
 * hostile_packed.h: play a misbehaving virtio driver on one packed ring
 * (virtio 1.x 2.8) that packed_drv.h's well-behaved driver owned until now.
 *
 * The well-behaved driver must be quiescent first: on a TX ring every
 * posted buffer used and reaped (the device's next slot is then the
 * driver's avail position); an RX ring is kept full, every reserved buffer
 * was used and reaped, so the device's next slot is the driver's used
 * position and every slot from there on holds an available buffer.  From
 * there hp_* writes descriptors of its choice into the slots the device
 * reads next (slot k counts from the device's position, crossing the end
 * of the ring with the wrap counter flipped, 2.8.1), the first one's flags
 * last (2.8.6: "The driver always makes the first descriptor in the list
 * available after the rest of the list has been written out").
 *
 * An RX ring's slots are already available: rewriting them is safe while
 * no packet travels towards that ring (the device reads an RX ring only
 * to place a packet).
 *
 * hp_expect() records where a used descriptor must appear for a chain the
 * device is to take (legal cases); hp_resync() hands the ring back to the
 * well-behaved driver afterwards, as if it had posted and reaped those
 * chains itself.
 */
#ifndef VHOSTD_TEST_HOSTILE_PACKED_H
#define VHOSTD_TEST_HOSTILE_PACKED_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "control/frontend/vu_front.h"
#include "datapath/vring.h"
#include "packed_drv.h"

#define HP_NBUF 300u          /* valid scratch buffers */
#define HP_BUF_SIZE 256u
#define HP_NTBL 4u            /* indirect tables of 4 KiB */
#define HP_TBL_SIZE 4096u
#define HP_MAX_USED 4u

#define HPF_NEXT VRING_DESC_F_NEXT
#define HPF_WRITE VRING_DESC_F_WRITE
#define HPF_INDIRECT VRING_DESC_F_INDIRECT
#define HPF_AVAIL VRING_PACKED_DESC_F_AVAIL
#define HPF_USED VRING_PACKED_DESC_F_USED

struct hp_used {
	uint16_t slot, id;
	bool wrap;
};

struct hp {
	struct pd *d;
	struct pd_ring *r;
	struct vu_guestmem *mem;
	uint16_t size;
	uint16_t pos;          /* the device's next slot */
	bool wrap;             /* and its avail wrap counter */
	bool tx;
	uint64_t mem_end;      /* first gpa after the highest region */
	uint64_t region0_end;  /* first gpa after region 0 */
	uint64_t buf_gpa, tbl_gpa;
	uint16_t head_flags;   /* slot 0's flags, stored by hp_publish() */
	struct vring_packed_desc head;  /* what slot 0 was given */
	/* Legal cases: the used descriptors the device must write, in
	 * order, and the slots the chains took in all. */
	struct hp_used used[HP_MAX_USED];
	unsigned nused;
	uint16_t taken;
};

static inline int hp_init(struct hp *h, struct pd *d, bool tx)
{
	memset(h, 0, sizeof(*h));
	h->d = d;
	h->r = tx ? &d->tx : &d->rx;
	h->mem = vu_front_mem(d->f);
	h->size = h->r->num;
	h->tx = tx;
	if (tx && h->r->nout != 0)
		return -EBUSY;
	h->pos = h->r->used_pos;
	h->wrap = h->r->used_wrap;
	for (uint32_t s = 0; s < h->mem->nslots; s++) {
		const struct vu_guestmem_region *g =
			vu_guestmem_region(h->mem, s);
		if (g && g->gpa + g->size > h->mem_end)
			h->mem_end = g->gpa + g->size;
		if (g && s == 0)
			h->region0_end = g->gpa + g->size;
	}
	if (!vu_guestmem_alloc(h->mem, HP_NBUF * HP_BUF_SIZE, 64,
			       &h->buf_gpa) ||
	    !vu_guestmem_alloc(h->mem, HP_NTBL * HP_TBL_SIZE, 16,
			       &h->tbl_gpa))
		return -ENOMEM;
	return 0;
}

/* Flags of a buffer in the direction the ring expects. */
static inline uint16_t hp_dir(const struct hp *h)
{
	return h->tx ? 0 : HPF_WRITE;
}

static inline uint64_t hp_buf(const struct hp *h, unsigned k)
{
	return h->buf_gpa + (uint64_t)(k % HP_NBUF) * HP_BUF_SIZE;
}

static inline uint64_t hp_tbl(const struct hp *h, unsigned k)
{
	return h->tbl_gpa + (uint64_t)(k % HP_NTBL) * HP_TBL_SIZE;
}

static inline void *hp_ptr(const struct hp *h, uint64_t gpa, uint64_t len)
{
	return vu_guestmem_gpa_to_ptr(h->mem, gpa, len);
}

/* Copy len bytes between buf and guest memory at gpa (to_guest: into
 * it), across the boundary of regions 0 and 1.  false: not all of it is
 * guest memory. */
static inline bool hp_copy(const struct hp *h, uint64_t gpa, void *buf,
			   uint32_t len, bool to_guest)
{
	uint8_t *b = buf;

	while (len) {
		uint32_t n = len;
		if (gpa < h->region0_end && gpa + n > h->region0_end)
			n = (uint32_t)(h->region0_end - gpa);
		uint8_t *p = hp_ptr(h, gpa, n);
		if (!p)
			return false;
		if (to_guest)
			memcpy(p, b, n);
		else
			memcpy(b, p, n);
		gpa += n;
		b += n;
		len -= n;
	}
	return true;
}

/* Slot k from the device's position, and the wrap counter of its lap. */
static inline uint16_t hp_slot(const struct hp *h, uint32_t k, bool *wrap)
{
	uint32_t p = h->pos + k % h->size;
	bool w = h->wrap;

	if (p >= h->size) {
		p -= h->size;
		w = !w;
	}
	if (wrap)
		*wrap = w;
	return (uint16_t)p;
}

/* AVAIL/USED bits that make a descriptor available in lap wrap (2.8.1). */
static inline uint16_t hp_avail_bits(bool wrap)
{
	return wrap ? HPF_AVAIL : HPF_USED;
}

/* Slot k gets (addr, len, id) and flags as given, AVAIL/USED included. */
static inline void hp_desc_raw(struct hp *h, uint32_t k, uint64_t addr,
			       uint32_t len, uint16_t flags, uint16_t id)
{
	struct vring_packed_desc *e = &h->r->desc[hp_slot(h, k, NULL)];

	e->addr = addr;
	e->len = len;
	e->id = id;
	if (k == 0) {
		h->head_flags = flags;
		h->head = (struct vring_packed_desc){addr, len, id, flags};
	}
	else
		__atomic_store_n(&e->flags, flags, __ATOMIC_RELAXED);
}

/* Slot k, made available in its own lap (flags without AVAIL/USED). */
static inline void hp_desc(struct hp *h, uint32_t k, uint64_t addr,
			   uint32_t len, uint16_t flags, uint16_t id)
{
	bool w;

	hp_slot(h, k, &w);
	hp_desc_raw(h, k, addr, len, (uint16_t)(flags | hp_avail_bits(w)),
		    id);
}

/* Store slot 0's flags: the chain(s) written become visible. */
static inline void hp_publish(struct hp *h)
{
	__atomic_store_n(&h->r->desc[h->pos].flags, h->head_flags,
			 __ATOMIC_RELEASE);
}

/* Entry i of the indirect table at guest address tbl. */
static inline void hp_idesc(struct hp *h, uint64_t tbl, uint16_t i,
			    uint64_t addr, uint32_t len, uint16_t flags,
			    uint16_t id)
{
	struct vring_packed_desc e = {addr, len, id, flags};
	void *p = hp_ptr(h, tbl + 16u * i, sizeof(e));

	if (p)
		memcpy(p, &e, sizeof(e));
}

/* A chain of ndesc slots with buffer id was written at slot h->taken: the
 * device must write its used descriptor there (legal cases). */
static inline void hp_expect(struct hp *h, uint16_t id, uint16_t ndesc)
{
	struct hp_used *u = &h->used[h->nused++];

	u->slot = hp_slot(h, h->taken, &u->wrap);
	u->id = id;
	h->taken = (uint16_t)(h->taken + ndesc);
}

/* Has the device written expected used descriptor i?  *len: its len. */
static inline bool hp_is_used(const struct hp *h, unsigned i, uint32_t *len)
{
	const struct hp_used *u = &h->used[i];
	const struct vring_packed_desc *e = &h->r->desc[u->slot];
	uint16_t fl = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);
	bool a = fl & HPF_AVAIL, us = fl & HPF_USED;

	if (a != u->wrap || us != u->wrap || e->id != u->id)
		return false;
	*len = e->len;
	return true;
}

/* Start again from wherever the well-behaved driver's ring stands now. */
static inline void hp_rebase(struct hp *h)
{
	h->pos = h->r->used_pos;
	h->wrap = h->r->used_wrap;
	h->taken = 0;
	h->nused = 0;
}

/*
 * Give the ring back to the well-behaved driver once every expected chain
 * was used: the slots they took count as posted and reaped.  TX: nothing
 * is outstanding afterwards.  RX: the well-behaved buffers those slots
 * held are forgotten and as many fresh ones posted, so the ring is full
 * again.
 */
static inline void hp_resync(struct hp *h)
{
	struct pd_ring *r = h->r;

	for (uint16_t k = 0; k < h->taken; k++) {
		pd_advance(r, &r->used_pos, &r->used_wrap);
		if (h->tx) {
			pd_advance(r, &r->avail_pos, &r->avail_wrap);
		} else {
			r->free++;
			r->nout--;
			r->oldest = (r->oldest + 1) % r->num;
		}
	}
	if (h->tx) {
		r->oldest = r->next_id % r->num;
	} else {
		while (r->free)
			pd_rx_post(h->d);
	}
	h->taken = 0;
	h->nused = 0;
}

#endif
