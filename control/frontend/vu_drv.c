/* SPDX-License-Identifier: MIT */
/*
 * vu_drv.c: the driver side of split rings for one virtio-net queue pair
 * (see vu_drv.h for the contract).  Spec references are to virtio 1.x,
 * "Split Virtqueues" (2.7) and the network device (5.1).
 */
#include "vu_drv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../datapath/compiler.h"
#include "../../datapath/log.h"

#define DRV_TAG "drv"
#define ETH_HLEN_MIN 14u
#define RX_BUF_MAX   (12u + VU_DRV_TX_FRAME_MAX) /* a GSO frame, unmerged */
/* With EVENT_IDX and calls suppressed, used_event is kept this far
 * ahead of the entries reaped.  The device cannot be more than a ring
 * (<= 32768 entries, 2.7: "The maximum Queue Size value is 32768") ahead
 * of them, so it never writes that entry.  (One behind what was reaped
 * looks as good but races: the device publishes used idx, we reap and
 * store used_event = idx - 1, then the device checks its window [old,
 * idx) and finds used_event inside: a call.) */
#define EVENT_AHEAD  0x8000u

/* One split ring as this driver drives it. */
struct drv_ring {
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t *used_event;      /* our field, at the end of avail */
	uint16_t *avail_event;     /* the device's, at the end of used */
	uint8_t *buf;              /* slots / buffers, stride bytes each */
	uint64_t buf_gpa;
	uint8_t *inflight;         /* per descriptor id: posted, not used */
	uint16_t *posted;          /* head at each avail position (& mask) */
	uint32_t vring;            /* vhost-user ring index */
	uint32_t stride;
	uint16_t num, mask;
	uint16_t avail_idx;        /* next avail entry we write */
	uint16_t published;        /* last value stored to avail->idx */
	uint16_t last_used;        /* next used entry we read */
	uint32_t outstanding;      /* heads posted and not yet used */
};

struct vu_drv {
	struct drv_ring rx, tx;
	uint32_t tx_frame_max;
	struct vu_front *f;
	uint32_t pair;
	uint32_t hdr_len;
	uint32_t rx_buf_size;
	uint32_t tx_per_slot;      /* descriptors per TX packet: 1 or 2 */
	uint32_t tx_nslots;
	bool mrg, event_idx, rx_notify;
	bool in_order;             /* IN_ORDER: used ids must follow posted */
	bool broken;
	bool tx_was_full;          /* the last reserve fell short */
	uint16_t *rx_ids;          /* buffers of the frame being taken */
	uint16_t *tx_free;         /* stack of free TX heads */
	uint32_t tx_nfree;
	uint32_t tx_nres;
	uint16_t tx_res[VU_DRV_BURST_MAX];
	struct vu_drv_stats st;
	struct vu_drv_rx_pkt pkt;  /* handed to the RX callback */
};

static const char *const drv_error_str[VU_DRV_ERR_COUNT] = {
#define VU_DRV_ERR_STR(name, text) [VU_DRV_ERR_##name] = text,
	VU_DRV_ERRORS(VU_DRV_ERR_STR)
#undef VU_DRV_ERR_STR
};

const char *vu_drv_error_str(unsigned int e)
{
	return e < VU_DRV_ERR_COUNT ? drv_error_str[e] : "?";
}

/* The device broke ring r: count why, log once, stop everything. */
static void drv_break(struct vu_drv *d, const struct drv_ring *r,
		      enum vu_drv_error e, uint32_t v1, uint32_t v2)
{
	d->st.errors[e]++;
	if (d->broken)
		return;
	d->broken = true;
	VLOG(VLOG_LVL_WARN, DRV_TAG,
	     "queue pair %u ring %u broken: %s (value %u, ring state %u; "
	     "last used %u, %u in flight, ring size %u)", d->pair, r->vring,
	     drv_error_str[e], v1, v2, r->last_used, r->outstanding, r->num);
}

static inline uint16_t load16_acq(const uint16_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline uint16_t load16(const uint16_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline void store16(uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

/*
 * Make the entries written since the last publish visible and kick the
 * device if it asks for it.  2.7.13 "Supplying Buffers to The Device": a
 * barrier before the idx update (the release store), then "a suitable
 * memory barrier before reading flags or avail_event, to avoid missing a
 * notification" (the full fence).
 */
static void ring_publish(struct vu_drv *d, struct drv_ring *r,
			 uint64_t *kicks)
{
	uint16_t old = r->published, new_idx = r->avail_idx;
	bool kick;

	if (old == new_idx)
		return;
	__atomic_store_n(&r->avail->idx, new_idx, __ATOMIC_RELEASE);
	r->published = new_idx;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (d->event_idx)
		kick = vring_need_event(load16(r->avail_event), new_idx, old);
	else
		kick = !(load16(&r->used->flags) & VRING_USED_F_NO_NOTIFY);
	if (kick && vu_front_kick(d->f, r->vring) == 0)
		(*kicks)++;
}

/*
 * With EVENT_IDX: "notify me after entry used_event" (2.7.7).  Wanting
 * calls, that is the next entry we will read; not wanting them, an entry
 * half the index space ahead (EVENT_AHEAD).  Called after reaping.
 */
static void ring_used_event(struct drv_ring *r, bool notify)
{
	if (notify) {
		store16(r->used_event, r->last_used);
		/* The device may have published before it saw the store:
		 * the caller polls once more after waking (2.7.14 note). */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		return;
	}
	store16(r->used_event, (uint16_t)(r->last_used + EVENT_AHEAD));
}

/* Read used entry last_used + k once; check the id names a head we
 * posted.  Returns 0, or -1 with the driver broken. */
static int used_take(struct vu_drv *d, struct drv_ring *r, uint16_t k,
		     uint32_t *id, uint32_t *len)
{
	const struct vring_used_elem *e =
		&r->used->ring[(uint16_t)(r->last_used + k) & r->mask];

	*id = __atomic_load_n(&e->id, __ATOMIC_RELAXED);
	*len = __atomic_load_n(&e->len, __ATOMIC_RELAXED);
	if (unlikely(*id >= r->num)) {
		drv_break(d, r, VU_DRV_ERR_USED_ID_RANGE, *id, r->num);
		return -1;
	}
	if (unlikely(!r->inflight[*id])) {
		drv_break(d, r, VU_DRV_ERR_USED_ID_IDLE, *id,
			  (uint16_t)(r->last_used + k));
		return -1;
	}
	/* 2.7.9 (split, in order): "the device MUST use buffers in the
	 * same order in which they have been available". */
	uint16_t want = r->posted[(uint16_t)(r->last_used + k) & r->mask];
	if (unlikely(d->in_order && *id != want)) {
		drv_break(d, r, VU_DRV_ERR_USED_ORDER, *id, want);
		return -1;
	}
	return 0;
}

/*
 * IN_ORDER on the transmit ring: one used entry may stand for a batch
 * (2.7.9: the device "can just write out a single used ring entry with the
 * id corresponding to the head entry of the descriptor chain describing
 * the last buffer in a batch", at the batch's first slot, and moves
 * used->idx by the batch's size).  The entry at last_used + k names the
 * batch's last buffer: returns how many posted buffers it covers (1 when
 * the device wrote one entry per buffer), or -1 (broken) when that id is
 * none of the n - k buffers the index says are used.
 */
static int used_batch(struct vu_drv *d, struct drv_ring *r, uint16_t k,
		      uint16_t n)
{
	uint32_t id = __atomic_load_n(
		&r->used->ring[(uint16_t)(r->last_used + k) & r->mask].id,
		__ATOMIC_RELAXED);

	for (uint16_t j = k; j < n; j++)
		if (r->posted[(uint16_t)(r->last_used + j) & r->mask] == id)
			return j - k + 1;
	drv_break(d, r, VU_DRV_ERR_USED_ORDER, id,
		  r->posted[(uint16_t)(r->last_used + k) & r->mask]);
	return -1;
}

/* How many used entries are ready; -1 (broken) when the device claims
 * more than we have in flight. */
static int used_ready(struct vu_drv *d, struct drv_ring *r)
{
	uint16_t uidx = load16_acq(&r->used->idx);
	uint16_t n = (uint16_t)(uidx - r->last_used);

	if (unlikely(n > r->outstanding)) {
		drv_break(d, r, VU_DRV_ERR_USED_IDX_JUMP, uidx, r->last_used);
		return -1;
	}
	return n;
}

/* TX ------------------------------------------------------------------ */

static inline uint32_t tx_slot_of(const struct vu_drv *d, uint32_t head)
{
	return head / d->tx_per_slot;
}

static inline void tx_post(struct vu_drv *d, uint16_t head, uint32_t len)
{
	struct drv_ring *r = &d->tx;
	uint64_t gpa = r->buf_gpa + (uint64_t)tx_slot_of(d, head) * r->stride;
	struct vring_desc *desc = &r->desc[head];

	/* Whole descriptors are rewritten: the device could have scribbled
	 * over them, and 16 bytes cost no more than 4. */
	if (d->tx_per_slot == 2) {
		desc[0] = (struct vring_desc){.addr = gpa, .len = d->hdr_len,
			.flags = VRING_DESC_F_NEXT, .next = (uint16_t)(head + 1)};
		desc[1] = (struct vring_desc){.addr = gpa + d->hdr_len,
			.len = len};
	} else {
		desc[0] = (struct vring_desc){.addr = gpa,
			.len = d->hdr_len + len};
	}
	r->avail->ring[r->avail_idx & r->mask] = head;
	r->posted[r->avail_idx & r->mask] = head;
	r->avail_idx++;
	r->inflight[head] = 1;
}

unsigned int vu_drv_tx_reclaim(struct vu_drv *d)
{
	struct drv_ring *r = &d->tx;
	uint32_t id, len;

	if (d->broken)
		return 0;
	int n = used_ready(d, r);
	if (n <= 0)
		return 0;
	for (uint16_t k = 0; k < n;) {
		int b = d->in_order ? used_batch(d, r, k, (uint16_t)n) : 1;
		if (b < 0 || (b == 1 && used_take(d, r, k, &id, &len) < 0))
			return 0;
		for (int j = 0; j < b; j++) {
			if (b > 1)   /* in order: the batch's posted heads */
				id = r->posted[(uint16_t)(r->last_used + k + j) &
					       r->mask];
			r->inflight[id] = 0;
			d->tx_free[d->tx_nfree++] = (uint16_t)id;
		}
		k = (uint16_t)(k + b);
	}
	r->last_used = (uint16_t)(r->last_used + n);
	r->outstanding -= (uint32_t)n;
	if (d->event_idx)
		ring_used_event(r, false);
	return (unsigned int)n;
}

/* Give reserved heads back, newest first, so the stack is as before. */
static void tx_unreserve(struct vu_drv *d, unsigned int from)
{
	while (d->tx_nres > from)
		d->tx_free[d->tx_nfree++] = d->tx_res[--d->tx_nres];
}

unsigned int vu_drv_tx_reserve(struct vu_drv *d, uint8_t **frames,
			       unsigned int n)
{
	unsigned int k;

	tx_unreserve(d, 0); /* a reserve without commit gave up */
	if (d->broken)
		return 0;
	n = MIN(n, VU_DRV_BURST_MAX);
	if (d->tx_nfree < n)
		vu_drv_tx_reclaim(d);
	k = MIN(n, d->tx_nfree);
	if (k < n && !d->tx_was_full)
		d->st.tx_full++;
	d->tx_was_full = k < n;
	for (unsigned int i = 0; i < k; i++) {
		uint16_t head = d->tx_free[--d->tx_nfree];
		d->tx_res[i] = head;
		frames[i] = d->tx.buf +
			    (size_t)tx_slot_of(d, head) * d->tx.stride +
			    d->hdr_len;
	}
	d->tx_nres = k;
	return k;
}

int vu_drv_tx_commit(struct vu_drv *d, const uint32_t *lens, unsigned int k)
{
	uint64_t bytes = 0;

	if (k > d->tx_nres) {
		tx_unreserve(d, 0);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < k; i++) {
		if (lens[i] == 0 || lens[i] > d->tx_frame_max) {
			tx_unreserve(d, 0);
			return -EINVAL;
		}
	}
	for (unsigned int i = 0; i < k; i++) {
		tx_post(d, d->tx_res[i], lens[i]);
		bytes += lens[i];
	}
	/* Unposted heads go back; the posted ones left the reservation. */
	tx_unreserve(d, k);
	d->tx_nres = 0;
	d->tx.outstanding += k;
	d->st.tx_packets += k;
	d->st.tx_bytes += bytes;
	ring_publish(d, &d->tx, &d->st.tx_kicks);
	return (int)k;
}

int vu_drv_tx_burst(struct vu_drv *d, const void *const *frames,
		    const uint32_t *lens, unsigned int n)
{
	uint8_t *slots[VU_DRV_BURST_MAX];
	int done = 0;

	for (unsigned int i = 0; i < n; i++)
		if (lens[i] == 0 || lens[i] > d->tx_frame_max)
			return -EINVAL;
	while ((unsigned int)done < n) {
		unsigned int k = vu_drv_tx_reserve(d, slots,
						   n - (unsigned int)done);
		if (k == 0)
			break;
		for (unsigned int i = 0; i < k; i++)
			memcpy(slots[i], frames[done + (int)i],
			       lens[done + (int)i]);
		int ret = vu_drv_tx_commit(d, lens + done, k);
		if (ret < 0)
			return ret;
		done += ret;
	}
	return done;
}

uint32_t vu_drv_tx_nslots(const struct vu_drv *d)
{
	return d->tx_nslots;
}

uint8_t *vu_drv_tx_slot_frame(struct vu_drv *d, uint32_t s)
{
	if (s >= d->tx_nslots)
		return NULL;
	return d->tx.buf + (size_t)s * d->tx.stride + d->hdr_len;
}

uint32_t vu_drv_tx_inflight(const struct vu_drv *d)
{
	return d->tx.outstanding;
}

/* RX ------------------------------------------------------------------ */

static inline void rx_post(struct vu_drv *d, uint16_t id)
{
	struct drv_ring *r = &d->rx;

	r->desc[id] = (struct vring_desc){
		.addr = r->buf_gpa + (uint64_t)id * r->stride,
		.len = d->rx_buf_size, .flags = VRING_DESC_F_WRITE};
	r->avail->ring[r->avail_idx & r->mask] = id;
	r->posted[r->avail_idx & r->mask] = id;
	r->avail_idx++;
	r->inflight[id] = 1;
}

/*
 * Take the frame that starts at the next used entry (ready entries are
 * published).  Its buffers are re-posted before the callback runs: the
 * device cannot see them before ring_publish(), after it.  Returns the
 * used entries consumed, 0 when a mergeable frame is not complete yet, -1
 * when the driver broke.
 */
static int rx_frame(struct vu_drv *d, uint16_t ready, vu_drv_rx_fn *fn,
		    void *arg)
{
	struct drv_ring *r = &d->rx;
	struct vu_drv_rx_pkt *p = &d->pkt;
	uint32_t id, len, nb = 1;
	enum vu_drv_error why = VU_DRV_ERR_COUNT;

	if (used_take(d, r, 0, &id, &len) < 0)
		return -1;
	const uint8_t *b = r->buf + (size_t)id * r->stride;
	memset(&p->hdr, 0, sizeof(p->hdr));
	if (len < d->hdr_len) {
		why = VU_DRV_ERR_RX_SHORT; /* the header is not to be read */
	} else {
		memcpy(&p->hdr, b, d->hdr_len);
		/* 5.1.6.4: num_buffers counts the descriptors of a merged
		 * frame; without MRG_RXBUF one buffer (value ignored). */
		if (d->mrg)
			nb = p->hdr.num_buffers;
	}
	if (nb == 0 || nb > r->outstanding) {
		drv_break(d, r, VU_DRV_ERR_RX_NUM_BUFFERS, nb,
			  r->outstanding);
		return -1;
	}
	if (nb > ready)
		return 0; /* the rest is not published yet */
	p->len = 0;
	p->nsegs = 0;
	for (uint32_t k = 0; k < nb; k++) {
		if (k > 0 && used_take(d, r, (uint16_t)k, &id, &len) < 0)
			return -1;
		b = r->buf + (size_t)id * r->stride;
		r->inflight[id] = 0;
		uint32_t off = k == 0 ? d->hdr_len : 0;
		if (len > d->rx_buf_size) {
			why = VU_DRV_ERR_RX_LONG;
		} else if (why == VU_DRV_ERR_COUNT && len > off) {
			if (p->nsegs == VU_DRV_RX_MAX_SEGS) {
				why = VU_DRV_ERR_RX_TOO_MANY_SEGS;
			} else {
				p->seg[p->nsegs++] = (struct vu_drv_rx_seg){
					.data = b + off, .len = len - off};
				p->len += len - off;
			}
		}
		d->rx_ids[k] = (uint16_t)id;
	}
	/* Re-posted only now, so that a device returning one buffer twice
	 * within a frame finds it idle (USED_ID_IDLE). */
	for (uint32_t k = 0; k < nb; k++)
		rx_post(d, d->rx_ids[k]);
	d->st.rx_buffers += nb;
	if (why != VU_DRV_ERR_COUNT) {
		d->st.errors[why]++;
		d->st.rx_dropped++;
		VLOG_RL(VLOG_LVL_WARN, DRV_TAG,
			"queue pair %u: rx frame dropped: %s (used id %u len "
			"%u, buffer %u bytes)", d->pair, drv_error_str[why],
			id, len, d->rx_buf_size);
	} else {
		p->hdr.num_buffers = (uint16_t)nb;
		d->st.rx_packets++;
		d->st.rx_bytes += p->len;
		if (fn)
			fn(arg, p);
	}
	return (int)nb;
}

unsigned int vu_drv_rx_poll(struct vu_drv *d, unsigned int max,
			    vu_drv_rx_fn *fn, void *arg)
{
	struct drv_ring *r = &d->rx;
	unsigned int frames = 0;

	if (d->broken || max == 0)
		return 0;
	int ready = used_ready(d, r);
	if (ready <= 0)
		return 0;
	while (frames < max && ready > 0) {
		int n = rx_frame(d, (uint16_t)ready, fn, arg);
		if (n <= 0)
			break;
		r->last_used = (uint16_t)(r->last_used + n);
		ready -= n;
		frames++;
	}
	ring_publish(d, r, &d->st.rx_kicks);
	if (d->event_idx)
		ring_used_event(r, d->rx_notify);
	return frames;
}

size_t vu_drv_rx_copy(const struct vu_drv_rx_pkt *pkt, size_t off, void *dst,
		      size_t len)
{
	size_t done = 0;

	for (uint32_t i = 0; i < pkt->nsegs && done < len; i++) {
		const struct vu_drv_rx_seg *s = &pkt->seg[i];
		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		size_t n = MIN((size_t)s->len - off, len - done);
		memcpy((uint8_t *)dst + done, s->data + off, n);
		done += n;
		off = 0;
	}
	return done;
}

/* Set up ----------------------------------------------------------------- */

static int ring_init(struct vu_drv *d, struct drv_ring *r, uint32_t idx,
		     uint32_t stride, uint32_t nbufs, uint32_t lead)
{
	const struct vu_front_vring *vr = vu_front_vring(d->f, idx);
	struct vu_guestmem *mem = vu_front_mem(d->f);

	if (!vr || !vr->num || !vr->started || !mem) {
		VLOG(VLOG_LVL_WARN, DRV_TAG,
		     "queue pair %u: ring %u is not set up", d->pair, idx);
		return -EINVAL;
	}
	r->desc = vr->desc;
	r->avail = vr->avail;
	r->used = vr->used;
	if (load16(&r->avail->idx) || load16(&r->used->idx)) {
		VLOG(VLOG_LVL_WARN, DRV_TAG,
		     "queue pair %u: ring %u was used before (avail idx %u, "
		     "used idx %u); set it up again", d->pair, idx,
		     load16(&r->avail->idx), load16(&r->used->idx));
		return -EINVAL;
	}
	r->num = vr->num;
	r->mask = (uint16_t)(vr->num - 1);
	r->vring = idx;
	r->used_event = vring_used_event(r->avail, r->num);
	r->avail_event = vring_avail_event(r->used, r->num);
	r->inflight = calloc(r->num, 1);
	r->posted = calloc(r->num, sizeof(*r->posted));
	if (!r->inflight || !r->posted)
		return -ENOMEM;
	r->stride = stride;
	r->buf = vu_guestmem_alloc(mem, (uint64_t)stride * nbufs, CACHE_LINE,
				   &r->buf_gpa);
	if (!r->buf) {
		VLOG(VLOG_LVL_WARN, DRV_TAG,
		     "queue pair %u: no guest memory for %u buffers of %u "
		     "bytes (ring %u)", d->pair, nbufs, stride, idx);
		return -ENOMEM;
	}
	/* Each buffer starts lead bytes into its stride (lead + buffer
	 * <= stride). */
	r->buf += lead;
	r->buf_gpa += lead;
	return 0;
}

/* 2.7.7: with EVENT_IDX flags must be 0 and used_event speaks;
 * otherwise flags 1 asks for no calls. */
static void ring_suppress(struct vu_drv *d, struct drv_ring *r, bool notify)
{
	store16(&r->avail->flags, d->event_idx || notify ? 0 :
			VRING_AVAIL_F_NO_INTERRUPT);
	ring_used_event(r, notify);
}

int vu_drv_create(struct vu_drv **out, struct vu_front *f,
		  const struct vu_drv_opts *o)
{
	struct vu_drv *d;
	uint64_t feat;
	int ret;

	*out = NULL;
	if (!f || !o || o->pair >= VU_FRONT_MAX_VRINGS / 2)
		return -EINVAL;
	feat = vu_front_features_acked(f);
	if (feat & BIT_ULL(VIRTIO_F_RING_PACKED))
		return -EINVAL;   /* split rings only */
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->f = f;
	d->pair = o->pair;
	d->mrg = feat & BIT_ULL(VIRTIO_NET_F_MRG_RXBUF);
	d->event_idx = feat & BIT_ULL(VIRTIO_RING_F_EVENT_IDX);
	d->in_order = feat & BIT_ULL(VIRTIO_F_IN_ORDER);
	d->rx_notify = o->rx_notify;
	/* 5.1.6: the header has num_buffers with VERSION_1 or MRG_RXBUF. */
	d->hdr_len = feat & (BIT_ULL(VIRTIO_F_VERSION_1) |
			     BIT_ULL(VIRTIO_NET_F_MRG_RXBUF)) ?
		     12 : 10;
	d->rx_buf_size = o->rx_buf_size ? o->rx_buf_size :
			 d->hdr_len + VU_DRV_FRAME_MAX;
	d->tx_per_slot = o->tx_chain ? 2 : 1;
	d->tx_frame_max = o->tx_frame_max ? o->tx_frame_max : VU_DRV_FRAME_MAX;
	if (d->tx_frame_max > VU_DRV_TX_FRAME_MAX) {
		VLOG(VLOG_LVL_WARN, DRV_TAG, "queue pair %u: tx frames of %u "
		     "bytes, at most %u", o->pair, d->tx_frame_max,
		     VU_DRV_TX_FRAME_MAX);
		free(d);
		return -EINVAL;
	}
	if (o->rx_headroom > VU_DRV_RX_HEADROOM_MAX) {
		VLOG(VLOG_LVL_WARN, DRV_TAG, "queue pair %u: rx headroom of "
		     "%u bytes, at most %u", o->pair, o->rx_headroom,
		     VU_DRV_RX_HEADROOM_MAX);
		free(d);
		return -EINVAL;
	}
	if (d->rx_buf_size < d->hdr_len + (d->mrg ? 0 : ETH_HLEN_MIN) ||
	    d->rx_buf_size > RX_BUF_MAX) {
		VLOG(VLOG_LVL_WARN, DRV_TAG,
		     "queue pair %u: rx buffer of %u bytes, want %u..%u",
		     o->pair, d->rx_buf_size,
		     d->hdr_len + (d->mrg ? 0 : ETH_HLEN_MIN), RX_BUF_MAX);
		free(d);
		return -EINVAL;
	}
	const struct vu_front_vring *txr = vu_front_vring(f, 2 * o->pair + 1);
	uint32_t tx_num = txr ? txr->num : 0;
	d->tx_nslots = tx_num / d->tx_per_slot;
	ret = ring_init(d, &d->rx, 2 * o->pair,
			(uint32_t)align_up_u64(o->rx_headroom + d->rx_buf_size,
					       CACHE_LINE),
			vu_front_vring(f, 2 * o->pair)->num, o->rx_headroom);
	if (!ret)
		ret = ring_init(d, &d->tx, 2 * o->pair + 1,
				(uint32_t)align_up_u64(d->hdr_len +
						       d->tx_frame_max,
						       CACHE_LINE),
				d->tx_nslots, 0);
	if (!ret && !d->tx_nslots)
		ret = -EINVAL; /* a ring of one entry cannot hold a chain */
	if (!ret) {
		d->tx_free = calloc(d->tx_nslots, sizeof(*d->tx_free));
		d->rx_ids = calloc(d->rx.num, sizeof(*d->rx_ids));
		if (!d->tx_free || !d->rx_ids)
			ret = -ENOMEM;
	}
	if (ret) {
		vu_drv_destroy(d);
		return ret;
	}
	/* Slot 0 on top of the stack: the first packets use low heads. */
	for (uint32_t s = d->tx_nslots; s-- > 0;)
		d->tx_free[d->tx_nfree++] = (uint16_t)(s * d->tx_per_slot);
	ring_suppress(d, &d->tx, false);
	ring_suppress(d, &d->rx, d->rx_notify);
	for (uint32_t b = 0; b < d->rx.num; b++)
		rx_post(d, (uint16_t)b);
	d->rx.outstanding = d->rx.num;
	ring_publish(d, &d->rx, &d->st.rx_kicks);
	*out = d;
	return 0;
}

void vu_drv_destroy(struct vu_drv *d)
{
	if (!d)
		return;
	free(d->rx.inflight);
	free(d->tx.inflight);
	free(d->rx.posted);
	free(d->tx.posted);
	free(d->tx_free);
	free(d->rx_ids);
	free(d);
}

bool vu_drv_broken(const struct vu_drv *d)
{
	return d->broken;
}

void vu_drv_stats(const struct vu_drv *d, struct vu_drv_stats *out)
{
	*out = d->st;
}

uint32_t vu_drv_hdr_len(const struct vu_drv *d)
{
	return d->hdr_len;
}
