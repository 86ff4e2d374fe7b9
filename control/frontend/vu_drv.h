/* SPDX-License-Identifier: MIT */
/*
 * vu_drv.h: the driver side of split rings for one virtio-net queue pair,
 * on top of the front-end library (vu_front.h).
 *
 * A front-end without a VM still has to play the guest's virtio-net
 * driver to move packets: post TX frames, keep the RX ring full of
 * writable buffers, reap what the device used.  vu_drv does that for
 * queue pair i, i.e. vhost-user rings 2i (the guest's receive queue, the
 * device writes into it) and 2i+1 (the guest's transmit queue).
 *
 *          generator                          back-end (device)
 *   tx_reserve/tx_commit --> ring 2i+1 (TX) --> reads frames
 *   rx_poll callback    <--  ring 2i   (RX) <-- writes frames
 *
 * Memory: every buffer is allocated once, at vu_drv_create(), from the
 * front-end's guest memory (vu_guestmem_alloc; it stays allocated until
 * vu_front_close()).  Host-side state (free lists, in-flight maps) is
 * malloc'ed there too.  Nothing allocates per packet.
 *
 * TX: slot s holds a virtio-net header (zero: no offloads, num_buffers 0)
 * followed by up to opts.tx_frame_max frame bytes.  One descriptor per
 * packet (header and frame), or with opts.tx_chain two (header, frame) to
 * exercise chains; descriptor heads come from a free list and return to
 * it when the device marks them used.  The slot of a head never changes,
 * so a caller may pre-fill frame templates once (vu_drv_tx_slot_frame).
 *
 * RX: buffer b is descriptor b (device-writable, rx_buf_size bytes), all
 * posted at create time and re-posted as soon as the frame in it was
 * handed over.  With VIRTIO_NET_F_MRG_RXBUF a frame spans num_buffers used
 * entries; without it num_buffers is ignored (taken as 1: some devices
 * leave it unset, and the virtio TC's "Ignore num_buffers when unused"
 * has drivers do so).
 *
 * Ordering (virtio 1.x 2.7.13): descriptors and ring entries are written,
 * then avail->idx with a release store; then a full barrier before
 * used->flags / avail_event are read to decide the kick.  used->idx is
 * read with an acquire load before any used entry or buffer.
 *
 * Notifications: the driver polls.  Used-buffer notifications (calls) are
 * suppressed unless opts.rx_notify: VRING_AVAIL_F_NO_INTERRUPT, or with
 * EVENT_IDX a used_event kept 32768 entries ahead of what was reaped (the
 * device is at most a ring ahead, so it never reaches it; the TX ring
 * never asks for calls).  Kicks go out only when the
 * device asks: VRING_USED_F_NO_NOTIFY clear, or with EVENT_IDX when the new
 * avail idx passed avail_event (virtio 1.x 2.7.10).
 *
 * Trust: the device is what is being tested.  Used ids, lengths, indices
 * and num_buffers are checked; a device that breaks the ring (id out of
 * range or not in flight, used idx running ahead, a num_buffers of 0 or
 * beyond what is in flight) marks the driver broken: one log line, the
 * reason counted, every later call a no-op.  Smaller faults (a length
 * shorter than the header or longer than the buffer, more segments than
 * VU_DRV_RX_MAX_SEGS) drop the frame, count the reason and rx_dropped.
 *
 * One struct vu_drv per queue pair; not thread safe; one thread drives
 * it.  The rings must have been set up (vu_front_setup_queues or
 * vu_front_vring_setup of both rings) before vu_drv_create(), and a new
 * vu_drv is needed after the rings are set up again; not after they were
 * stopped and restarted where they stood (vu_front_vring_restart): the
 * rings and the driver's state carry on.
 */
#ifndef VHOSTD_VU_DRV_H
#define VHOSTD_VU_DRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../datapath/vring.h"
#include "vu_front.h"

struct vu_drv;

#define VU_DRV_FRAME_MAX   2048u  /* TX frame bytes per slot (default) */
#define VU_DRV_TX_FRAME_MAX 65550u /* largest: a 64 KiB GSO frame + L2 */
#define VU_DRV_BURST_MAX   64u    /* slots per tx_reserve */
#define VU_DRV_RX_MAX_SEGS 64u    /* buffers per received frame */

#define VU_DRV_RX_HEADROOM_MAX 256

struct vu_drv_opts {
	uint32_t pair;          /* queue pair: rings 2 * pair, 2 * pair + 1 */
	bool tx_chain;          /* TX: two descriptors (header, frame) */
	/* RX buffer bytes including the virtio-net header; 0: header +
	 * VU_DRV_FRAME_MAX.  Without MRG_RXBUF virtio 1.x 5.1.6.3.1 says it
	 * SHOULD be >= 1526; with it, each buffer MUST hold the header. */
	uint32_t rx_buf_size;
	/* Bytes left unused before each RX buffer, up to
	 * VU_DRV_RX_HEADROOM_MAX: CACHE_LINE - 12 puts the header at the
	 * end of a cache line of its own and the frame at the next line, as
	 * DPDK's virtio PMD posts its mbufs.  0: header and frame share the
	 * buffer's first line (Linux's layout). */
	uint32_t rx_headroom;
	bool rx_notify;         /* ask for used-buffer notifications */
	/* TX frame bytes per slot, up to VU_DRV_TX_FRAME_MAX (GSO frames);
	 * 0: VU_DRV_FRAME_MAX. */
	uint32_t tx_frame_max;
};

/* Why a used entry was refused: counter index + text. */
#define VU_DRV_ERRORS(X)                                                    \
	X(USED_IDX_JUMP, "used idx ran ahead of the buffers in flight")     \
	X(USED_ID_RANGE, "used id out of range")                            \
	X(USED_ID_IDLE, "used id not in flight")                            \
	X(USED_ORDER, "used id out of order with IN_ORDER negotiated")      \
	X(RX_SHORT, "rx used len shorter than the virtio-net header")       \
	X(RX_LONG, "rx used len beyond the buffer")                         \
	X(RX_NUM_BUFFERS, "rx num_buffers 0 or beyond what is in flight")   \
	X(RX_TOO_MANY_SEGS, "rx frame in more than VU_DRV_RX_MAX_SEGS buffers")

enum vu_drv_error {
#define VU_DRV_ERR_ENUM(name, text) VU_DRV_ERR_##name,
	VU_DRV_ERRORS(VU_DRV_ERR_ENUM)
#undef VU_DRV_ERR_ENUM
	VU_DRV_ERR_COUNT
};

/* Text of error e ("?" when out of range). */
const char *vu_drv_error_str(unsigned int e);

struct vu_drv_stats {
	uint64_t tx_packets, tx_bytes;  /* posted; bytes of frames only */
	uint64_t tx_full;               /* times the TX ring ran full: a
					 * reserve got fewer slots than asked
					 * after one that got them all */
	uint64_t tx_kicks, rx_kicks;    /* notifications we sent */
	uint64_t rx_packets, rx_bytes;  /* frames handed over (no header) */
	uint64_t rx_buffers;            /* used RX entries reaped */
	uint64_t rx_dropped;            /* frames refused, see errors[] */
	uint64_t errors[VU_DRV_ERR_COUNT];
};

/*
 * Create the driver for opts->pair of f (split rings: -EINVAL when
 * VIRTIO_F_RING_PACKED was acked): allocate the TX slots and RX
 * buffers in f's guest memory, write the descriptor tables, post every RX
 * buffer (kicking ring 2 * pair if the device wants it) and set the
 * notification suppression fields.  Reads the acked features of f
 * (MRG_RXBUF, EVENT_IDX, VERSION_1 for the header size).  Returns 0 and
 * *out, -EINVAL (bad options, a ring not set up, rx_buf_size too small
 * for a header and an Ethernet header), -ENOMEM (guest or host memory).
 */
int vu_drv_create(struct vu_drv **out, struct vu_front *f,
		  const struct vu_drv_opts *opts);

/* Free the host-side state (guest memory stays with f).  Accepts NULL. */
void vu_drv_destroy(struct vu_drv *d);

/* True once the device broke a ring (see the errors counters). */
bool vu_drv_broken(const struct vu_drv *d);

/* Counters so far. */
void vu_drv_stats(const struct vu_drv *d, struct vu_drv_stats *out);

/* Bytes of the virtio-net header in use (12 with VERSION_1 or
 * MRG_RXBUF, 10 otherwise). */
uint32_t vu_drv_hdr_len(const struct vu_drv *d);

/* TX ------------------------------------------------------------------ */

/* Number of TX slots: the ring size, half of it with tx_chain. */
uint32_t vu_drv_tx_nslots(const struct vu_drv *d);

/* Frame area (tx_frame_max bytes) of TX slot s < nslots, for
 * pre-filling templates; NULL when s is out of range. */
uint8_t *vu_drv_tx_slot_frame(struct vu_drv *d, uint32_t s);

/* The virtio-net header (vu_drv_hdr_len() bytes) in front of a frame area
 * from vu_drv_tx_reserve() or vu_drv_tx_slot_frame(): zero unless the
 * caller writes offload fields there, and left as written afterwards. */
static inline struct virtio_net_hdr *vu_drv_tx_hdr(const struct vu_drv *d,
						   uint8_t *frame)
{
	return (struct virtio_net_hdr *)(void *)(frame - vu_drv_hdr_len(d));
}

/*
 * Reclaim used TX descriptors, then take up to n (<= VU_DRV_BURST_MAX)
 * free slots; frames[i] gets the frame area of each (tx_frame_max
 * bytes, whatever was last written there).  Returns how many (0 when the
 * ring is full or broken; see tx_full).  The caller
 * writes the frames and must call vu_drv_tx_commit() before the next
 * reserve.
 */
unsigned int vu_drv_tx_reserve(struct vu_drv *d, uint8_t **frames,
			       unsigned int n);

/*
 * Post the first k reserved slots as frames of lens[i] bytes (1 ..
 * tx_frame_max), in order, give back the other reserved slots, publish
 * the avail idx once and kick if the device wants it.  Returns k, or
 * -EINVAL (k beyond what was reserved, a length out of range: nothing is
 * posted and every reserved slot is given back).
 */
int vu_drv_tx_commit(struct vu_drv *d, const uint32_t *lens, unsigned int k);

/*
 * Convenience: reserve, copy frames[i] (lens[i] bytes each) and commit.
 * Returns the number posted (fewer than n when the ring is full), or
 * -EINVAL for a length out of range.
 */
int vu_drv_tx_burst(struct vu_drv *d, const void *const *frames,
		    const uint32_t *lens, unsigned int n);

/* Reap used TX entries now; returns how many slots came back. */
unsigned int vu_drv_tx_reclaim(struct vu_drv *d);

/* Slots posted and not yet given back by the device. */
uint32_t vu_drv_tx_inflight(const struct vu_drv *d);

/* RX ------------------------------------------------------------------ */

struct vu_drv_rx_seg {
	const uint8_t *data;
	uint32_t len;
};

/* One received frame, valid only during the callback. */
struct vu_drv_rx_pkt {
	struct virtio_net_hdr hdr;      /* read once; num_buffers as used */
	uint32_t len;                   /* frame bytes, header excluded */
	uint32_t nsegs;                 /* 1 unless mergeable */
	struct vu_drv_rx_seg seg[VU_DRV_RX_MAX_SEGS];
};

typedef void vu_drv_rx_fn(void *arg, const struct vu_drv_rx_pkt *pkt);

/*
 * Reap up to max frames from the RX used ring (fewer when the device has
 * not published all buffers of a mergeable frame yet), hand each to
 * fn(arg, pkt) (fn may be NULL: count and drop), re-post their buffers
 * and publish the avail idx once (kicking if the device wants it), then
 * move used_event with EVENT_IDX.  Returns the frames taken off the
 * ring: handed over, or dropped (counted in rx_dropped and errors[]).
 * With rx_notify, poll once more after a call: the device may have
 * published before it saw the new used_event.
 */
unsigned int vu_drv_rx_poll(struct vu_drv *d, unsigned int max,
			    vu_drv_rx_fn *fn, void *arg);

/* Copy up to len bytes of pkt's frame from offset off into dst (across
 * segments); returns the bytes copied. */
size_t vu_drv_rx_copy(const struct vu_drv_rx_pkt *pkt, size_t off, void *dst,
		      size_t len);

#endif
