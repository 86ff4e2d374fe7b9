/* SPDX-License-Identifier: MIT */
/*
 * packed_drv.h: a small driver for one virtio-net queue pair on packed
 * rings (virtio 1.x 2.8), for integration tests (vu_drv, control/frontend/vu_drv.h,
 * drives split rings only).  The rings must have been set up by the
 * front-end library with VIRTIO_F_RING_PACKED acked (vu_front_vring_setup).
 *
 * TX: a frame of up to PD_FRAME_MAX bytes behind a zero virtio-net header
 * (PD_HDR bytes: VERSION_1), in one descriptor (header and frame) or two
 * (header, frame), so that chains can straddle the end of the ring.  RX:
 * one device-writable descriptor of PD_RX_BUF bytes per buffer (no
 * MRG_RXBUF: one buffer per frame), all posted at create time, each posted
 * again as soon as its frame was handed over.  pd_create_rx() changes
 * that: smaller buffers, each one chain of 1 or 2 descriptors (its two
 * halves), and with MRG_RXBUF negotiated a frame spread over the number
 * of buffers its header's num_buffers says (gathered before it is handed
 * over).
 *
 * Buffer ids go round robin, 0 .. size-1, and buffer id's memory is slot
 * id.  vhostd uses buffers in the order they were made available (one
 * used descriptor per buffer), and the driver checks it: a used id other
 * than the oldest outstanding one breaks the driver (pd.broken, pd.why).
 *
 * Making a chain available (2.8.6, 2.8.21): every descriptor gets
 * AVAIL = the driver's wrap counter at its slot and USED = the inverse;
 * the first descriptor's flags are stored last, with a release store.
 * Finding used buffers (2.8.4): the device overwrites the first slot of a
 * chain with AVAIL = USED = the wrap counter the driver expects at its
 * used position, which then moves by the chain's length (flipping the
 * counter at the end of the ring).  Used-buffer notifications are
 * disabled in the driver area (the driver polls); a kick goes out only
 * when the device area asks for one (vhostd never does: it polls).
 *
 * Positions live in host memory and the rings' memory is never reset, so
 * the driver carries on after its rings were stopped (GET_VRING_BASE) and
 * started again where they stood (vu_front_vring_restart).
 */
#ifndef VHOSTD_TEST_PACKED_DRV_H
#define VHOSTD_TEST_PACKED_DRV_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/frontend/vu_front.h"
#include "datapath/vring.h"

#define PD_HDR 12u
#define PD_FRAME_MAX 1514u
#define PD_RX_BUF (PD_HDR + PD_FRAME_MAX)
#define PD_STRIDE 1536u          /* bytes per buffer slot */

struct pd_ring {
	uint32_t vring;              /* vhost-user ring index */
	struct vring_packed_desc *desc;
	struct vring_packed_event *drv, *dev;
	uint16_t num;
	uint16_t avail_pos, used_pos;  /* next slot to post / to find used */
	bool avail_wrap, used_wrap;
	uint32_t next_id;            /* round robin, mod num */
	uint32_t free;               /* descriptors not outstanding */
	uint32_t nout;               /* buffers outstanding */
	uint32_t oldest;             /* id of the oldest outstanding one */
	uint8_t *ndesc;              /* chain length of each id */
	uint8_t *buf;                /* num slots of PD_STRIDE bytes */
	uint64_t buf_gpa;
	uint64_t used_total;         /* buffers used since create */
};

struct pd {
	struct vu_front *f;
	struct pd_ring rx, tx;
	uint32_t rx_buf;             /* bytes per RX buffer */
	unsigned rx_ndesc;           /* descriptors per RX buffer: 1 or 2 */
	bool mrg;                    /* MRG_RXBUF: num_buffers counts */
	uint8_t frame[PD_FRAME_MAX]; /* a frame being gathered (mrg) */
	uint32_t frame_len;
	uint16_t frame_left;         /* buffers of it still to come */
	bool broken;
	char why[160];
};

/* The vhost-user encoding of a packed ring position (GET/SET_VRING_BASE):
 * avail position | avail wrap << 15 | used position << 16 | used wrap <<
 * 31, here with both halves the same. */
static inline uint32_t pd_base(uint16_t pos, bool wrap)
{
	uint32_t half = pos | (uint32_t)wrap << 15;

	return half | half << 16;
}

/* Where the device must stand on ring r once every used buffer was
 * reaped: vhostd keeps no buffer in flight across a stop, so its avail
 * and used positions are both the driver's used position. */
static inline uint32_t pd_ring_base(const struct pd_ring *r)
{
	return pd_base(r->used_pos, r->used_wrap);
}

static inline void pd_break(struct pd *d, const char *why, uint32_t a,
			    uint32_t b)
{
	if (d->broken)
		return;
	d->broken = true;
	snprintf(d->why, sizeof(d->why), "%s (%u, %u)", why, a, b);
}

static inline void pd_advance(const struct pd_ring *r, uint16_t *pos,
			      bool *wrap)
{
	if (++*pos == r->num) {
		*pos = 0;
		*wrap = !*wrap;
	}
}

/* Make buffer id available as a chain of n descriptors (addr[k], len[k],
 * flags: VRING_DESC_F_WRITE or 0); the caller checked there is room. */
static inline void pd_post(struct pd *d, struct pd_ring *r, uint16_t id,
			   unsigned n, const uint64_t *addr,
			   const uint32_t *len, uint16_t flags)
{
	struct vring_packed_desc *first = &r->desc[r->avail_pos];
	uint16_t first_flags = 0;

	for (unsigned k = 0; k < n; k++) {
		struct vring_packed_desc *e = &r->desc[r->avail_pos];
		uint16_t fl = (uint16_t)(flags |
			(k + 1 < n ? VRING_DESC_F_NEXT : 0) |
			(r->avail_wrap ? VRING_PACKED_DESC_F_AVAIL :
					 VRING_PACKED_DESC_F_USED));
		e->addr = addr[k];
		e->len = len[k];
		e->id = id;
		if (k == 0)
			first_flags = fl;
		else
			__atomic_store_n(&e->flags, fl, __ATOMIC_RELAXED);
		pd_advance(r, &r->avail_pos, &r->avail_wrap);
	}
	__atomic_store_n(&first->flags, first_flags, __ATOMIC_RELEASE);
	r->ndesc[id] = (uint8_t)n;
	r->free -= n;
	r->nout++;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&r->dev->flags, __ATOMIC_RELAXED) !=
	    VRING_PACKED_EVENT_DISABLE)
		(void)vu_front_kick(d->f, r->vring);
}

/* The next used buffer of r: its id (and *len), or -1 when there is none
 * yet (or the driver is broken). */
static inline int pd_used(struct pd *d, struct pd_ring *r, uint32_t *len)
{
	if (d->broken || r->nout == 0)
		return -1;
	struct vring_packed_desc *e = &r->desc[r->used_pos];
	uint16_t fl = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);
	bool a = fl & VRING_PACKED_DESC_F_AVAIL;
	bool u = fl & VRING_PACKED_DESC_F_USED;

	if (a != r->used_wrap || u != r->used_wrap)
		return -1;
	uint16_t id = e->id;
	*len = e->len;
	if (id != r->oldest) {
		pd_break(d, "used id out of order", id, r->oldest);
		return -1;
	}
	for (unsigned k = 0; k < r->ndesc[id]; k++)
		pd_advance(r, &r->used_pos, &r->used_wrap);
	r->free += r->ndesc[id];
	r->nout--;
	r->oldest = (r->oldest + 1) % r->num;
	r->used_total++;
	return id;
}

static inline int pd_ring_init(struct pd *d, struct pd_ring *r,
			       uint32_t vring)
{
	const struct vu_front_vring *v = vu_front_vring(d->f, vring);

	if (!v || !v->num || !v->packed)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->vring = vring;
	r->desc = v->desc;
	r->drv = v->avail;
	r->dev = v->used;
	r->num = v->num;
	r->avail_wrap = r->used_wrap = true;   /* a fresh ring (2.8.1) */
	r->free = r->num;
	r->ndesc = calloc(r->num, 1);
	r->buf = vu_guestmem_alloc(vu_front_mem(d->f),
				   (uint64_t)r->num * PD_STRIDE, 64,
				   &r->buf_gpa);
	if (!r->ndesc || !r->buf)
		return -ENOMEM;
	/* We poll: no used-buffer notifications. */
	__atomic_store_n(&r->drv->flags, (uint16_t)VRING_PACKED_EVENT_DISABLE,
			 __ATOMIC_RELAXED);
	return 0;
}

/* Post the next RX buffer (round robin id), in rx_ndesc descriptors. */
static inline void pd_rx_post(struct pd *d)
{
	struct pd_ring *r = &d->rx;
	uint16_t id = (uint16_t)(r->next_id++ % r->num);
	uint64_t a0 = r->buf_gpa + (uint64_t)id * PD_STRIDE;
	uint32_t half = d->rx_buf / 2;
	uint64_t a[2] = {a0, a0 + half};
	uint32_t l[2] = {half, d->rx_buf - half};

	if (d->rx_ndesc == 1)
		l[0] = d->rx_buf;
	pd_post(d, r, id, d->rx_ndesc, a, l, VRING_DESC_F_WRITE);
}

/* The driver of queue pair `pair` of f, RX buffers of rx_buf bytes
 * (PD_HDR + 1 .. PD_RX_BUF) in chains of rx_ndesc (1 or 2) descriptors,
 * mrg: MRG_RXBUF negotiated; every RX buffer posted. */
static inline int pd_create_rx(struct pd *d, struct vu_front *f,
			       uint32_t pair, uint32_t rx_buf,
			       unsigned rx_ndesc, bool mrg)
{
	int ret;

	memset(d, 0, sizeof(*d));
	if (rx_buf <= PD_HDR || rx_buf > PD_RX_BUF || !rx_ndesc ||
	    rx_ndesc > 2 || (!mrg && rx_buf < PD_RX_BUF))
		return -EINVAL;
	d->f = f;
	d->rx_buf = rx_buf;
	d->rx_ndesc = rx_ndesc;
	d->mrg = mrg;
	ret = pd_ring_init(d, &d->rx, 2 * pair);
	if (ret == 0)
		ret = pd_ring_init(d, &d->tx, 2 * pair + 1);
	if (ret)
		return ret;
	while (d->rx.free >= rx_ndesc)
		pd_rx_post(d);
	return 0;
}

/* The driver of queue pair `pair` of f; every RX buffer posted. */
static inline int pd_create(struct pd *d, struct vu_front *f, uint32_t pair)
{
	return pd_create_rx(d, f, pair, PD_RX_BUF, 1, false);
}

static inline void pd_destroy(struct pd *d)
{
	free(d->rx.ndesc);
	free(d->tx.ndesc);
	d->rx.ndesc = d->tx.ndesc = NULL;
}

/* Reap used TX buffers; returns how many. */
static inline unsigned pd_tx_reclaim(struct pd *d)
{
	uint32_t len;
	unsigned n = 0;

	while (pd_used(d, &d->tx, &len) >= 0)
		n++;
	return n;
}

/* Post frame (len bytes, 1..PD_FRAME_MAX) in ndesc (1 or 2) descriptors.
 * false when the TX ring has no room. */
static inline bool pd_tx(struct pd *d, const uint8_t *frame, uint32_t len,
			 unsigned ndesc)
{
	struct pd_ring *r = &d->tx;

	pd_tx_reclaim(d);
	if (d->broken || r->free < ndesc || r->nout == r->num)
		return false;
	uint16_t id = (uint16_t)(r->next_id++ % r->num);
	uint8_t *slot = r->buf + (size_t)id * PD_STRIDE;
	uint64_t gpa = r->buf_gpa + (uint64_t)id * PD_STRIDE;
	memset(slot, 0, PD_HDR);
	memcpy(slot + PD_HDR, frame, len);
	uint64_t a[2] = {gpa, gpa + PD_HDR};
	uint32_t l[2] = {PD_HDR, len};
	if (ndesc == 1)
		l[0] = PD_HDR + len;
	pd_post(d, r, id, ndesc, a, l, 0);
	return true;
}

/* Hand every received frame to fn(arg, frame, len) and post its buffer
 * again; returns how many. */
static inline unsigned pd_rx_poll(struct pd *d,
				  void (*fn)(void *, const uint8_t *,
					     uint32_t),
				  void *arg)
{
	struct pd_ring *r = &d->rx;
	unsigned n = 0;
	uint32_t len;
	int id;

	while ((id = pd_used(d, r, &len)) >= 0) {
		const uint8_t *b = r->buf + (size_t)id * PD_STRIDE;
		bool first = d->frame_left == 0;
		if ((first && len < PD_HDR) || len > d->rx_buf) {
			pd_break(d, "rx used len out of range", len, d->rx_buf);
			break;
		}
		if (!d->mrg) {
			fn(arg, b + PD_HDR, len - PD_HDR);
			pd_rx_post(d);
			n++;
			continue;
		}
		if (first) {   /* virtio_net_hdr_mrg_rxbuf.num_buffers */
			uint16_t nb = (uint16_t)(b[10] | b[11] << 8);
			if (nb == 0 || nb > r->num) {
				pd_break(d, "rx num_buffers", nb, r->num);
				break;
			}
			d->frame_left = nb;
			d->frame_len = 0;
			b += PD_HDR;
			len -= PD_HDR;
		}
		if (d->frame_len + len > sizeof(d->frame)) {
			pd_break(d, "rx frame too long", d->frame_len + len,
				 sizeof(d->frame));
			break;
		}
		memcpy(d->frame + d->frame_len, b, len);
		d->frame_len += len;
		pd_rx_post(d);
		if (--d->frame_left == 0) {
			fn(arg, d->frame, d->frame_len);
			n++;
		}
	}
	return n;
}

#endif
