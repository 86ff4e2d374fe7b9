/* SPDX-License-Identifier: MIT */
/*
 * vq_pos.h: where a packed ring stands, published for the next process
 * (a restart through the fd store after kill -9: control/daemon/
 * vhostd_fdstore.h, control/backend/vu_state.h).
 *
 * A split ring's position is in guest memory (the used index); a packed
 * ring's is not: the device writes only the first descriptor of each
 * chain, and a scan cannot tell where the device stopped.  So each packed
 * ring has one slot, a cache line of a shared memfd that only the worker
 * polling the ring writes while the ring is live (the control thread
 * writes it only while no worker polls the ring: vq_init, vq_pos_stopped).
 * Buffers are used in the order they were taken, so one position says it
 * all: the next process takes from and uses at the used position, and
 * whatever the old worker had taken but not used is taken again (TX
 * frames sent at most once more, RX buffers filled afresh: what was in
 * flight).
 *
 * A flush writes a batch of used descriptors, the first one's flags last
 * (vq_packed.c).  Around it the worker stores:
 *
 *   batch[] = the flush's used entries (id, descriptors, len)   (begin)
 *   pending = end of the batch | entries << 16                  (begin)
 *   ... the batch's used descriptors in order, the first one's flags last
 *   done    = end of the batch                                  (end)
 *
 * A process killed at any instruction leaves one of three states:
 * done == pending's end (no batch in progress: the position is done; the
 * descriptors of a batch not begun are untouched), or pending ahead of
 * done with the first descriptor not written yet (any prefix of the
 * batch's other used descriptors may be: a redo would read those as not
 * available, and stopping at the first one would leave the rest for good),
 * or with it written (then all are).  In both of the latter the batch's
 * frames are complete (vnet flushes only after every copy), so the next
 * process completes the batch: if the first descriptor at done is still
 * available in done's lap, it writes every used descriptor of batch[]
 * still available in its lap, then the first one; then it takes pending
 * (vu_state_pos.c).  If the first one was written, the driver may have
 * taken the batch and posted new buffers there: nothing is written.
 *
 * Ordering: the stores need only program order.  The next process reads
 * the slot after the old one is dead; a killed thread stops at an
 * instruction boundary and every store it retired reaches memory, none
 * after it.  So compiler barriers keep the order.  The cost on the fast
 * path: with a slot, a copy of the flush's used entries (8 bytes each,
 * read from the shadow just written) and two plain stores, all to lines
 * only this worker writes; without one (no fd store), a predictable
 * branch on a line the flush reads anyway.
 *
 * Encoding of a position: pos | wrap << 15 (as in SET_VRING_BASE).
 */
#ifndef VHOSTD_VQ_POS_H
#define VHOSTD_VQ_POS_H

#include <stdint.h>

#include "vq.h"

/* struct vq_pos.state (words unlikely in junk) */
#define VQ_POS_NONE    0u
#define VQ_POS_LIVE    0x4556494cu   /* "LIVE": polled by a worker */
#define VQ_POS_STOPPED 0x504f5453u   /* "STOP": not polled; base below */

struct vq_pos {
	/* The control thread's, while no worker polls the ring. */
	uint32_t state;
	uint32_t size;             /* the ring's size */
	uint64_t desc_gpa;         /* LIVE: its descriptor ring */
	uint32_t base;             /* STOPPED: its SET/GET_VRING_BASE value */
	/* The worker's, while LIVE. */
	uint32_t done;             /* used position after the last flush */
	uint64_t pending;          /* bits 0-15: the end of the flush in
				    * progress; 16-31: its used entries */
	struct vq_packed_used batch[VQ_BURST_MAX] cache_aligned;
} cache_aligned;

_Static_assert(sizeof(struct vq_pos) ==
	       CACHE_LINE + VQ_BURST_MAX * sizeof(struct vq_packed_used),
	       "a line, then the batch");

static inline uint16_t vq_pos_enc(uint16_t pos, bool wrap)
{
	return (uint16_t)(pos | (uint16_t)wrap << VRING_PACKED_WRAP_SHIFT);
}

/* A flush of vq->nshadow (1..VQ_BURST_MAX) used entries begins: publish
 * them and where they end (vq_packed_flush_in_order writes one used
 * descriptor for them all: the next process knows it from the features). */
static inline void vq_pos_begin(struct vq *vq)
{
	struct vq_pos *s = vq->pos;

	if (likely(s == NULL))
		return;
	uint32_t p = vq->used_idx, n = vq->nshadow;
	bool wrap = vq->used_wrap;
	for (uint32_t i = 0; i < n; i++) {
		s->batch[i] = vq->pshadow[i];
		p += vq->pshadow[i].ndesc;
		if (p >= vq->size) {
			p -= vq->size;
			wrap = !wrap;
		}
	}
	/* After the batch (release), before any used descriptor. */
	__atomic_store_n(&s->pending, vq_pos_enc((uint16_t)p, wrap) |
			 (uint64_t)n << 16, __ATOMIC_RELEASE);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

/* The flush's used descriptors are written and vq->used_idx/used_wrap
 * moved past them. */
static inline void vq_pos_end(struct vq *vq)
{
	struct vq_pos *s = vq->pos;

	if (likely(s == NULL))
		return;
	/* After the first descriptor's flags (a release store: nothing
	 * before it moves after this one). */
	__atomic_store_n(&s->done, vq_pos_enc(vq->used_idx, vq->used_wrap),
			 __ATOMIC_RELEASE);
}

/* The control thread: the ring is polled from (used_idx, used_wrap) on
 * (vq_init, before the worker sees the ring). */
static inline void vq_pos_live(struct vq_pos *s, uint16_t size,
			       uint64_t desc_gpa, uint16_t used_idx,
			       bool used_wrap)
{
	uint16_t e = vq_pos_enc(used_idx, used_wrap);

	/* Not LIVE while half written: a process killed in between leaves
	 * a slot the next one does not use (that device reconnects). */
	__atomic_store_n(&s->state, VQ_POS_NONE, __ATOMIC_RELAXED);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	s->done = e;
	s->pending = e;
	s->size = size;
	s->desc_gpa = desc_gpa;
	s->base = 0;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&s->state, VQ_POS_LIVE, __ATOMIC_RELEASE);
}

/* The control thread: no worker polls the ring; base is where it stands
 * (vu_vring.base, exact: saved when the ring's worker was paused, or set
 * by the front-end). */
static inline void vq_pos_stopped(struct vq_pos *s, uint32_t size,
				  uint32_t base)
{
	__atomic_store_n(&s->state, VQ_POS_NONE, __ATOMIC_RELAXED);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	s->size = size;
	s->base = base;
	s->desc_gpa = 0;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&s->state, VQ_POS_STOPPED, __ATOMIC_RELEASE);
}

#endif
