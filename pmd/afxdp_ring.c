/* SPDX-License-Identifier: MIT */
/*
 * afxdp_ring.c: one AF_XDP queue behind the vq interface (vq_port_ops).
 *
 *   receive side:  kernel RX ring --dequeue--> worker --used/flush--> fill
 *   transmit side: free list --reserve--> worker --used/flush--> TX ring
 *                  completion ring --reclaim--> free list
 *
 * Chains carry their UMEM frame index in head.  Rings are sized so that
 * every frame of a side fits its rings at once (AFXDP_RING each), so a
 * reservation on the fill or TX ring never fails.  With
 * XDP_USE_NEED_WAKEUP the kernel says when it needs a system call: TX is
 * kicked with sendto() only when the TX ring's flag is up, the fill side
 * woken with recvfrom() only when the fill ring's is (or on every empty
 * poll with busy-poll, which is what drives the driver then).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "../datapath/log.h"
#include "afxdp.h"

#define TAG "afxdp"

/* A copy-mode sendto() sends at most 32 frames (the kernel's TX batch) and
 * says EAGAIN when more wait: kicks per flush, a bound on the work. */
#define TX_KICKS_MAX (AFXDP_RING / 32 + 1)

static inline uint64_t frame_addr(uint32_t frame)
{
	return (uint64_t)frame * AFXDP_FRAME;
}

/* Receive side ---------------------------------------------------- */

static void rx_wakeup(struct afxdp_q *q)
{
	STAT_INC(q->rx_wakeups);
	(void)recvfrom(q->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
}

static uint16_t rx_dequeue(void *arg, struct vq_chain *c, uint16_t n)
{
	struct afxdp_q *q = arg;
	uint32_t idx, got = xsk_ring_cons__peek(&q->rx, n, &idx);

	if (!got) {
		if (q->busy_poll || xsk_ring_prod__needs_wakeup(&q->fill))
			rx_wakeup(q);
		return 0;
	}
	for (uint32_t k = 0; k < got; k++) {
		const struct xdp_desc *d = xsk_ring_cons__rx_desc(&q->rx, idx + k);
		uint64_t addr = xsk_umem__add_offset_to_addr(d->addr);
		uint8_t *p = q->area + addr - AFXDP_VHDR;
		/* The kernel put the frame in one of our receive frames,
		 * past the UMEM headroom: room for the header before it.
		 * No offload, checksum unchecked, unless partial. */
		memset(p, 0, AFXDP_VHDR);
		if (q->csum_partial &&
		    afxdp_csum_partial(p + AFXDP_VHDR, d->len,
				       (struct virtio_net_hdr *)(void *)p))
			STAT_INC(q->rx_csum_partial);
		c[k].head = (uint16_t)(addr / AFXDP_FRAME);
		c[k].nseg = 1;
		c[k].ndesc = 1;
		c[k].len = d->len + AFXDP_VHDR;
		c[k].seg[0] = (struct vq_seg){.p = p, .len = c[k].len};
	}
	/* Descriptors are read: the slots go back now, the frames when
	 * used() returns them. */
	xsk_ring_cons__release(&q->rx, got);
	return (uint16_t)got;
}

static void rx_used(void *arg, const struct vq_chain *c, uint32_t len)
{
	struct afxdp_q *q = arg;
	uint32_t idx = 0;

	(void)len;
	/* Never fails: the fill ring holds every receive frame. */
	(void)xsk_ring_prod__reserve(&q->fill, 1, &idx);
	*xsk_ring_prod__fill_addr(&q->fill, idx) = frame_addr(c->head);
	q->fill_pending++;
	STAT_INC(q->rx_packets);
	STAT_ADD(q->rx_bytes, c->len - AFXDP_VHDR);
}

static void rx_flush(void *arg)
{
	struct afxdp_q *q = arg;

	if (!q->fill_pending)
		return;
	xsk_ring_prod__submit(&q->fill, q->fill_pending);
	q->fill_pending = 0;
	if (xsk_ring_prod__needs_wakeup(&q->fill))
		rx_wakeup(q);
}

/* Transmit side --------------------------------------------------- */

/* Take the frames the kernel has finished sending back. */
static void tx_reclaim(struct afxdp_q *q)
{
	uint32_t idx, n = xsk_ring_cons__peek(&q->comp, AFXDP_TX_FRAMES, &idx);

	for (uint32_t k = 0; k < n; k++) {
		uint64_t a = *xsk_ring_cons__comp_addr(&q->comp, idx + k);
		q->free[q->nfree++] = (uint16_t)(a / AFXDP_FRAME);
	}
	if (n)
		xsk_ring_cons__release(&q->comp, n);
}

static void tx_kick(struct afxdp_q *q)
{
	for (uint32_t i = 0; i < TX_KICKS_MAX; i++) {
		STAT_INC(q->tx_kicks);
		if (sendto(q->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) >= 0)
			return;
		if (errno == EAGAIN)   /* copy mode: more than one batch */
			continue;
		/* EBUSY, ENOBUFS: the device is busy, frames stay queued
		 * and go with the next kick; ENETDOWN: the link went. */
		STAT_INC(q->tx_kick_errors);
		VLOG_RL(VLOG_LVL_WARN, TAG, "queue %u: TX kick: %s",
			q->queue_id, strerror(errno));
		return;
	}
}

static int tx_reserve(void *arg, uint32_t len, struct vq_chain *c,
		      uint16_t max)
{
	struct afxdp_q *q = arg;

	(void)max;
	if (unlikely(len > AFXDP_VHDR + AFXDP_TX_MAX)) {
		STAT_INC(q->tx_too_big);
		return 0;
	}
	if (unlikely(!q->nfree)) {
		tx_reclaim(q);
		if (!q->nfree && xsk_ring_prod__needs_wakeup(&q->tx)) {
			tx_kick(q);   /* frames stuck in the ring: push them */
			tx_reclaim(q);
		}
		if (!q->nfree) {
			STAT_INC(q->tx_no_frame);
			return 0;
		}
	}
	uint32_t f = q->free[--q->nfree];
	uint8_t *p = q->area + frame_addr(f) + AFXDP_HEADROOM - AFXDP_VHDR;
	c->head = (uint16_t)f;
	c->nseg = 1;
	c->ndesc = 1;
	c->len = AFXDP_VHDR + AFXDP_TX_MAX;
	c->seg[0] = (struct vq_seg){.p = p, .len = c->len};
	return 1;
}

static void tx_unreserve(void *arg, const struct vq_chain *c, uint16_t n)
{
	struct afxdp_q *q = arg;

	while (n--)
		q->free[q->nfree++] = c[n].head;
}

static void tx_used(void *arg, const struct vq_chain *c, uint32_t len)
{
	struct afxdp_q *q = arg;
	uint32_t idx = 0;

	if (unlikely(len <= AFXDP_VHDR)) {   /* nothing to send */
		q->free[q->nfree++] = c->head;
		return;
	}
	/* Never fails: the TX ring holds every transmit frame. */
	(void)xsk_ring_prod__reserve(&q->tx, 1, &idx);
	struct xdp_desc *d = xsk_ring_prod__tx_desc(&q->tx, idx);
	d->addr = frame_addr(c->head) + AFXDP_HEADROOM;
	d->len = len - AFXDP_VHDR;
	d->options = 0;
	q->tx_pending++;
	STAT_INC(q->tx_packets);
	STAT_ADD(q->tx_bytes, len - AFXDP_VHDR);
}

static void tx_flush(void *arg)
{
	struct afxdp_q *q = arg;

	if (q->tx_pending) {
		xsk_ring_prod__submit(&q->tx, q->tx_pending);
		q->tx_pending = 0;
		if (xsk_ring_prod__needs_wakeup(&q->tx))
			tx_kick(q);
	}
	tx_reclaim(q);
}

/* --idle wait: the socket polls readable when its RX ring has frames. */
static int rx_wake_fd(void *arg)
{
	return ((struct afxdp_q *)arg)->fd;
}

/* One more look before the worker parks; a fill ring that asks for a
 * wake-up gets it, or the kernel would hold frames back while we wait. */
static bool rx_pending(void *arg)
{
	struct afxdp_q *q = arg;

	if (xsk_cons_nb_avail(&q->rx, 1))
		return true;
	if (xsk_ring_prod__needs_wakeup(&q->fill))
		rx_wakeup(q);
	return xsk_cons_nb_avail(&q->rx, 1) != 0;
}

/* Only the receive side dequeues and only the transmit side reserves. */
const struct vq_port_ops afxdp_rx_ops = {
	.dequeue = rx_dequeue, .used = rx_used, .flush = rx_flush,
	.wake_fd = rx_wake_fd, .pending = rx_pending,
};
const struct vq_port_ops afxdp_tx_ops = {
	.reserve = tx_reserve, .unreserve = tx_unreserve,
	.used = tx_used, .flush = tx_flush,
};

void afxdp_q_prime(struct afxdp_q *q)
{
	uint32_t idx = 0;

	(void)xsk_ring_prod__reserve(&q->fill, AFXDP_RX_FRAMES, &idx);
	for (uint32_t f = 0; f < AFXDP_RX_FRAMES; f++)
		*xsk_ring_prod__fill_addr(&q->fill, idx + f) = frame_addr(f);
	xsk_ring_prod__submit(&q->fill, AFXDP_RX_FRAMES);
	q->nfree = 0;
	for (uint32_t f = AFXDP_FRAMES; f > AFXDP_RX_FRAMES; f--)
		q->free[q->nfree++] = (uint16_t)(f - 1);
}
