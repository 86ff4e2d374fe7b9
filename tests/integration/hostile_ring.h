/* SPDX-License-Identifier: MIT */
/*
 * hostile_ring.h: play a misbehaving virtio driver on one split ring that
 * the front-end library set up (vu_front_vring), next to the well-behaved
 * driver (vu_drv) that owned it until now.
 *
 * The well-behaved driver must be quiescent first: nothing in flight on a
 * TX ring (every posted head used), and on an RX ring every reserved chain
 * used (the device's next avail entry is then used->idx).  From there
 * hring_* writes descriptors and indirect tables of its choice and puts a
 * head at the avail entry the device reads next:
 *
 *   TX ring: avail->ring[pos] = head, then avail->idx = pos + 1 (release);
 *            the device takes it on its next poll.
 *   RX ring: every entry is already published (the RX driver keeps the
 *            ring full), so avail->ring[pos] = head alone; the device
 *            reads it when the next packet for that ring arrives.
 *
 * Descriptor indices and buffers the builders use may belong to the
 * well-behaved driver's posted buffers: the ring is broken afterwards and
 * set up again before anyone relies on it.  Scratch memory (valid buffers
 * and indirect tables) comes from the front-end's guest memory.
 */
#ifndef VHOSTD_TEST_HOSTILE_RING_H
#define VHOSTD_TEST_HOSTILE_RING_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "control/frontend/vu_front.h"
#include "datapath/vring.h"

#define HRING_NBUF 80u       /* valid scratch buffers */
#define HRING_BUF_SIZE 256u
#define HRING_NTBL 4u        /* indirect tables of 4 KiB */
#define HRING_TBL_SIZE 4096u

#define HF_NEXT VRING_DESC_F_NEXT
#define HF_WRITE VRING_DESC_F_WRITE
#define HF_INDIRECT VRING_DESC_F_INDIRECT

struct hring {
	struct vu_guestmem *mem;
	struct vring_desc *desc;
	struct vring_avail *avail;
	uint16_t size;
	uint16_t pos;          /* avail entry the device takes next */
	bool tx;               /* device-readable buffers (guest TX) */
	uint64_t mem_end;      /* first gpa after the highest region */
	uint64_t buf_gpa, tbl_gpa;
	/* RX ring: guest address of the TX buffer (virtio-net header first)
	 * whose packet the device will place next; set by the caller. */
	uint64_t tx_buf_gpa;
};

/*
 * Take over ring idx of f for hostile posting; mem_end is computed from
 * f's regions, scratch is allocated.  Returns 0 or -ENOMEM.
 */
static inline int hring_init(struct hring *h, struct vu_front *f,
			     uint32_t idx)
{
	const struct vu_front_vring *vr = vu_front_vring(f, idx);
	struct vring_used *used = vr->used;

	memset(h, 0, sizeof(*h));
	h->mem = vu_front_mem(f);
	h->desc = vr->desc;
	h->avail = vr->avail;
	h->size = vr->num;
	h->tx = idx & 1;
	h->pos = h->tx ? __atomic_load_n(&h->avail->idx, __ATOMIC_ACQUIRE)
		       : __atomic_load_n(&used->idx, __ATOMIC_ACQUIRE);
	for (uint32_t s = 0; s < h->mem->nslots; s++) {
		const struct vu_guestmem_region *r =
			vu_guestmem_region(h->mem, s);
		if (r && r->gpa + r->size > h->mem_end)
			h->mem_end = r->gpa + r->size;
	}
	if (!vu_guestmem_alloc(h->mem, HRING_NBUF * HRING_BUF_SIZE, 64,
			       &h->buf_gpa) ||
	    !vu_guestmem_alloc(h->mem, HRING_NTBL * HRING_TBL_SIZE, 16,
			       &h->tbl_gpa))
		return -ENOMEM;
	return 0;
}

/* Flags of a buffer in the direction the ring expects. */
static inline uint16_t hring_dir(const struct hring *h)
{
	return h->tx ? 0 : HF_WRITE;
}

/* Guest address of valid scratch buffer k / indirect table k. */
static inline uint64_t hring_buf(const struct hring *h, unsigned k)
{
	return h->buf_gpa + (uint64_t)(k % HRING_NBUF) * HRING_BUF_SIZE;
}

static inline uint64_t hring_tbl(const struct hring *h, unsigned k)
{
	return h->tbl_gpa + (uint64_t)(k % HRING_NTBL) * HRING_TBL_SIZE;
}

/* Descriptor i of the ring's table. */
static inline void hring_desc(struct hring *h, uint16_t i, uint64_t addr,
			      uint32_t len, uint16_t flags, uint16_t next)
{
	h->desc[i % h->size] = (struct vring_desc){addr, len, flags, next};
}

/* Entry i of the indirect table at guest address tbl. */
static inline void hring_idesc(struct hring *h, uint64_t tbl, uint16_t i,
			       uint64_t addr, uint32_t len, uint16_t flags,
			       uint16_t next)
{
	struct vring_desc d = {addr, len, flags, next};
	void *p = vu_guestmem_gpa_to_ptr(h->mem, tbl + 16u * i, sizeof(d));

	if (p)
		memcpy(p, &d, sizeof(d));
}

/* RX ring: the head the well-behaved driver put where the device reads
 * next (its descriptor may be rewritten in place). */
static inline uint16_t hring_next_head(const struct hring *h)
{
	return __atomic_load_n(&h->avail->ring[h->pos & (h->size - 1)],
			       __ATOMIC_RELAXED);
}

/* Make head the next chain the device takes (2.7.13: entry, then idx). */
static inline void hring_post(struct hring *h, uint16_t head)
{
	__atomic_store_n(&h->avail->ring[h->pos & (h->size - 1)], head,
			 __ATOMIC_RELAXED);
	if (h->tx)
		__atomic_store_n(&h->avail->idx, (uint16_t)(h->pos + 1),
				 __ATOMIC_RELEASE);
}

/* Claim n entries past the device's position (n > size is a lie). */
static inline void hring_jump(struct hring *h, uint32_t n)
{
	__atomic_store_n(&h->avail->idx, (uint16_t)(h->pos + n),
			 __ATOMIC_RELEASE);
}

#endif
