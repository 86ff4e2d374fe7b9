/* SPDX-License-Identifier: MIT */
/*
 * vq.h: one virtqueue as the datapath sees it (device side), in either
 * format: split (vq_split.c) or packed (vq_packed.c, VIRTIO_F_RING_PACKED).
 * The net logic (datapath/vnet) calls the format-neutral vq_dequeue(),
 * vq_reserve(), vq_used(), vq_flush()... below, which branch on
 * vq->packed.  A third kind is a port queue (pmd/: an AF_XDP socket, a
 * DPDK ethdev queue, a test port) dressed as a virtqueue through
 * struct vq_port_ops, so that the same net logic moves packets between a
 * guest and a NIC.  Knows nothing of Ethernet.
 *
 * Ownership: a struct vq is read and written by exactly one worker thread
 * (the control plane builds it while the datapath of its device is paused).
 * It lives on its own cache lines.  No call here allocates, locks, blocks or
 * logs without rate limiting.
 *
 * Trust: the guest is hostile.  Every descriptor is read once into local
 * memory; next, len, flags and indices are validated before use; every
 * buffer is translated through the guest memory table with whole-range
 * checks (a buffer straddling two regions becomes two segments).  A
 * violation marks the queue broken: one rate-limited log line naming the
 * queue and the offending value, the error eventfd signalled if set, the
 * reason counted; a broken queue is never touched again until the control
 * plane re-initialises it.  Nothing outside guest memory is ever read or
 * written.
 */
#ifndef VHOSTD_VQ_H
#define VHOSTD_VQ_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "compiler.h"
#include "dirty_log.h"
#include "gmem.h"
#include "vring.h"

struct vq_pos;

#define VQ_MAX_SEGS  64   /* translated segments per chain */
#define VQ_BURST_MAX 64   /* chains per dequeue/flush batch */

/* Why a queue broke or a chain was dropped: counter index + text. */
#define VQ_ERRORS(X)                                                        \
	X(HEAD_RANGE, "head index out of range")                            \
	X(NEXT_RANGE, "next index out of range")                            \
	X(DESC_LOOP, "descriptor chain longer than the ring (loop)")        \
	X(INDIRECT_LEN, "indirect table length bad")                         \
	X(INDIRECT_NESTED, "indirect descriptor inside an indirect table")   \
	X(INDIRECT_NEXT, "indirect descriptor with NEXT set")                \
	X(INDIRECT_OFF, "indirect descriptor, INDIRECT_DESC not negotiated") \
	X(ADDR, "buffer outside guest memory")                              \
	X(LEN_OVERFLOW, "chain length overflows 32 bits")                   \
	X(ZERO_LEN, "zero-length buffer")                                   \
	X(AVAIL_JUMP, "avail index moved by more than the ring size")       \
	X(WRITE_ORDER, "readable descriptor after a writable one")          \
	X(WRONG_DIR, "buffer of the wrong direction for this queue")        \
	X(SHORT_HDR, "chain shorter than the virtio-net header")            \
	X(TOO_MANY_SEGS, "chain has more segments than vhostd takes")      \
	X(CHAIN_AVAIL, "descriptor of a chain not available (packed)")      \
	X(INDIRECT_CHAINED, "indirect descriptor inside a chain (packed)")  \
	X(ABANDONED, "its work held the worker past the control plane's wait") \
	X(CALL_BLOCKED, "call eventfd blocked (front-end made it blocking and full)")

enum vq_error {
#define VQ_X_ENUM(name, text) VQ_ERR_##name,
	VQ_ERRORS(VQ_X_ENUM)
#undef VQ_X_ENUM
	VQ_ERR_MAX
};

const char *vq_error_text(enum vq_error e);

struct vq_seg {
	uint8_t *p;      /* host pointer, inside guest memory */
	uint64_t gpa;    /* for dirty logging of writes */
	uint32_t len;
};

/* One descriptor chain, read once and translated. */
struct vq_chain {
	uint16_t head;   /* id for the used ring (packed: the buffer id) */
	uint16_t nseg;
	uint32_t len;    /* sum of seg[].len */
	uint16_t ndesc;  /* packed: ring descriptors the chain took */
	struct vq_seg seg[VQ_MAX_SEGS];
};

struct vq_stats {
	uint64_t packets, bytes;
	uint64_t ring_full;        /* RX: no buffer for a packet */
	uint64_t notifications;    /* call eventfd writes */
	uint64_t errors[VQ_ERR_MAX];
};

/* What the control plane hands over (vu_vring + device features). */
struct vq_cfg {
	uint32_t index;            /* ring index in the device, for logs */
	const char *dev_name;
	bool packed;               /* VIRTIO_F_RING_PACKED */
	/* Split: desc, avail, used.  Packed: pdesc (desc ring), driver
	 * (driver event suppression area), device (device area). */
	union { struct vring_desc *desc; struct vring_packed_desc *pdesc; };
	union { struct vring_avail *avail; struct vring_packed_event *driver; };
	union { struct vring_used *used; struct vring_packed_event *device; };
	uint16_t size;             /* split: power of two; packed: 1..32768 */
	uint16_t last_avail;       /* SET_VRING_BASE (packed: a position) */
	/* Packed only: the rest of SET_VRING_BASE (split reads used->idx). */
	bool avail_wrap, used_wrap;
	uint16_t used_idx;
	uint64_t desc_gpa;         /* packed: desc ring gpa, when logging */
	bool event_idx, indirect, mrg_rxbuf;
	bool in_order;             /* VIRTIO_F_IN_ORDER (TX: one used entry
				    * or descriptor per flush) */
	bool tx;                   /* guest TX (readable) vs RX (writable) */
	const struct gmem *mem;
	const struct dirty_log *log; /* NULL: no logging (LOG_ALL off) */
	uint64_t used_gpa;         /* used ring (packed: device area) gpa */
	bool log_used;
	int call_fd, err_fd;       /* -1: none */
	struct vq_pos *pos;        /* packed: its slot (vq_pos.h), or NULL */
};

/*
 * A port queue behind the vq interface (vq->port non-NULL).  The port
 * plays the guest's part with a 12-byte virtio-net header in front of each
 * frame, in the buffer's headroom:
 *  - a port's receive queue is the "TX" side: dequeue() hands out received
 *    frames as chains whose first 12 bytes are a header the port wrote
 *    (flags DATA_VALID when the hardware checked the checksum, else 0),
 *    used() gives a frame back once copied (len 0), flush() returns the
 *    given-back buffers to the hardware (refill);
 *  - a port's transmit queue is the "RX" side: reserve(len) hands out one
 *    frame buffer of at least len bytes (header included; segments may
 *    chain), used(c, len) queues it for transmission with len bytes
 *    written (the header first: the port maps its offload fields to the
 *    hardware's, see ofl_caps), unreserve() returns unused buffers, and
 *    flush() transmits what was queued.
 * Chains' head fields are the port's own buffer ids.  Segments point at
 * port memory (no gpa: port queues never log).  The calls run on the one
 * worker that polls the queue: no locks, no allocation, no blocking.
 */
struct vq_port_ops {
	uint16_t (*dequeue)(void *q, struct vq_chain *chains, uint16_t n);
	int (*reserve)(void *q, uint32_t len, struct vq_chain *chains,
		       uint16_t max);
	void (*unreserve)(void *q, const struct vq_chain *chains, uint16_t n);
	void (*used)(void *q, const struct vq_chain *c, uint32_t len);
	void (*flush)(void *q);
	/* Optional (receive side): give back the last n chains dequeued and
	 * not used; the next dequeue hands them out again. */
	void (*undequeue)(void *q, const struct vq_chain *chains, uint16_t n);
	/* Optional (receive side), for a worker that parks (--idle wait):
	 * an fd that polls readable when frames arrive (the control thread
	 * registers it), and one more look before parking: true when frames
	 * are waiting (it may wake the kernel's side, as dequeue does).  A
	 * port without both cannot wake a worker. */
	int (*wake_fd)(void *q);
	bool (*pending)(void *q);
};

/* A used buffer waiting for a packed flush. */
struct vq_packed_used {
	uint16_t id;
	uint16_t ndesc;
	uint32_t len;
};

struct vq {
	/* Hot, read-mostly. */
	union { struct vring_desc *desc; struct vring_packed_desc *pdesc; };
	union { struct vring_avail *avail; struct vring_packed_event *driver; };
	union { struct vring_used *used; struct vring_packed_event *device; };
	const struct gmem *mem;
	const struct vq_port_ops *port; /* non-NULL: a port queue (port_q) */
	void *port_q;
	uint16_t size, mask;       /* mask: split only */
	bool event_idx, indirect, mrg_rxbuf, tx, broken, packed, in_order;
	/* Hot, written by the worker.  Packed: last_avail, used_idx and
	 * signalled_used are ring positions (0..size-1), each with its wrap
	 * counter. */
	uint16_t last_avail;       /* next avail entry to take */
	uint16_t avail_seen;       /* avail->idx when last read (split) */
	uint16_t used_idx;         /* next used entry (shadow of used->idx) */
	uint16_t signalled_used;   /* used idx at the last flush (EVENT_IDX) */
	bool avail_wrap, used_wrap, signalled_wrap;   /* packed */
	uint16_t nshadow;
	uint32_t mem_hint;
	union {
		struct vring_used_elem shadow[VQ_BURST_MAX];
		struct vq_packed_used pshadow[VQ_BURST_MAX];
	};
	/* Cold. */
	const struct dirty_log *log;
	uint64_t used_gpa;
	uint64_t desc_gpa;         /* packed */
	bool log_used;
	int call_fd, err_fd;
	uint32_t index;
	const char *dev_name;
	struct vq_pos *pos;        /* packed: position published (vq_pos.h) */
	struct vq_stats stats;
} cache_aligned;

/* Set vq up from cfg; used_idx is read from the ring (spec: the device
 * reads the used index from memory).  Never fails: a bad cfg is the control
 * plane's bug. */
void vq_init(struct vq *vq, const struct vq_cfg *cfg);

/*
 * TX: take up to n available chains of readable buffers.  Returns how many
 * were taken (0 when none are available or the queue is broken).  Each
 * taken chain must be returned with vq_split_used() (len 0 for TX).
 */
uint16_t vq_split_dequeue(struct vq *vq, struct vq_chain *chains, uint16_t n);

/*
 * RX: take writable buffers for one packet of len bytes (virtio-net header
 * included).  Without MRG_RXBUF one chain must hold it all; with it, up to
 * max chains are taken until len is covered.  Returns the number of chains
 * taken (>= 1), 0 when the available buffers cannot hold the packet yet
 * (nothing is taken; stats.ring_full counts it), or -1 when the queue broke.
 */
int vq_split_reserve(struct vq *vq, uint32_t len, struct vq_chain *chains,
		     uint16_t max);

/* Start loading the descriptors of the next n available chains (RX, ahead
 * of a burst of reserve() calls); reads avail->idx.  No effect on what the
 * queue hands out. */
void vq_split_prefetch(struct vq *vq, uint16_t n);

/* Give back the last n chains taken but not used (RX, copy not done). */
void vq_split_unreserve(struct vq *vq, uint16_t n);

/* Queue a used entry (head, bytes written) in the shadow; flushes itself
 * when the shadow is full. */
void vq_split_used(struct vq *vq, uint16_t head, uint32_t len);

/*
 * Publish the shadow used entries with one release store of used->idx,
 * log the dirty pages (used ring; written buffers are logged by the caller
 * with vq_log_write()), then notify the guest through the call eventfd if
 * it asked to be (EVENT_IDX used_event, else VRING_AVAIL_F_NO_INTERRUPT).
 * At most one notification per call.
 */
void vq_split_flush(struct vq *vq);

/*
 * The packed ring (vq_packed.c): same contracts as the split calls above,
 * with these differences.  Chains carry their buffer id in head and the
 * ring descriptors they took in ndesc; used() takes the chain (the used
 * descriptor goes where the chain began, and the ring position moves by
 * ndesc); unreserve() takes the chains it gives back (their ndesc).
 */
uint16_t vq_packed_dequeue(struct vq *vq, struct vq_chain *chains, uint16_t n);
int vq_packed_reserve(struct vq *vq, uint32_t len, struct vq_chain *chains,
		      uint16_t max);
void vq_packed_prefetch(struct vq *vq, uint16_t n);
void vq_packed_unreserve(struct vq *vq, const struct vq_chain *chains,
			 uint16_t n);
void vq_packed_used(struct vq *vq, const struct vq_chain *c, uint32_t len);
void vq_packed_flush(struct vq *vq);

/* TX: give back the last n chains dequeued and not used (chains: those
 * n, in order); the next dequeue reads and validates them afresh. */
void vq_split_untake(struct vq *vq, const struct vq_chain *chains, uint16_t n);
void vq_packed_untake(struct vq *vq, const struct vq_chain *chains,
		      uint16_t n);

/* SET/GET_VRING_BASE of a packed ring (vhost-user): bits 0-14 the next
 * avail position, bit 15 the avail wrap counter, bits 16-30 the next used
 * position, bit 31 the used wrap counter. */
static inline uint32_t vq_packed_base(const struct vq *vq)
{
	return (uint32_t)vq->last_avail |
	       ((uint32_t)vq->avail_wrap << VRING_PACKED_WRAP_SHIFT) |
	       ((uint32_t)vq->used_idx << 16) |
	       ((uint32_t)vq->used_wrap << (16 + VRING_PACKED_WRAP_SHIFT));
}

/* Set vq up as port queue q (tx: the port's receive side, which sends
 * towards the guest, is tx = true as for a guest's TX ring).  name and
 * index are for logs and statistics. */
void vq_init_port(struct vq *vq, const struct vq_port_ops *ops, void *q,
		  bool tx, const char *name, uint32_t index);

/* ---- format-neutral calls: what datapath/vnet uses ------------------ */

static inline uint16_t vq_dequeue(struct vq *vq, struct vq_chain *chains,
				  uint16_t n)
{
	if (vq->port)
		return vq->port->dequeue(vq->port_q, chains, n);
	return vq->packed ? vq_packed_dequeue(vq, chains, n) :
			    vq_split_dequeue(vq, chains, n);
}

static inline int vq_reserve(struct vq *vq, uint32_t len,
			     struct vq_chain *chains, uint16_t max)
{
	if (vq->port)
		return vq->port->reserve(vq->port_q, len, chains, max);
	return vq->packed ? vq_packed_reserve(vq, len, chains, max) :
			    vq_split_reserve(vq, len, chains, max);
}

static inline void vq_prefetch(struct vq *vq, uint16_t n)
{
	if (vq->port)
		return;
	if (vq->packed)
		vq_packed_prefetch(vq, n);
	else
		vq_split_prefetch(vq, n);
}

/* Give back the last n chains taken (chains: those n, in order). */
static inline void vq_unreserve(struct vq *vq, const struct vq_chain *chains,
				uint16_t n)
{
	if (vq->port)
		vq->port->unreserve(vq->port_q, chains, n);
	else if (vq->packed)
		vq_packed_unreserve(vq, chains, n);
	else
		vq_split_unreserve(vq, n);
}

/* Can vq_untake() give chains back to this queue? */
static inline bool vq_can_untake(const struct vq *vq)
{
	return !vq->port || vq->port->undequeue != NULL;
}

/* TX side: give back the last n chains dequeued and not used (chains:
 * those n, in order), for a later pass (vq_can_untake() first). */
static inline void vq_untake(struct vq *vq, const struct vq_chain *chains,
			     uint16_t n)
{
	if (vq->port)
		vq->port->undequeue(vq->port_q, chains, n);
	else if (vq->packed)
		vq_packed_untake(vq, chains, n);
	else
		vq_split_untake(vq, chains, n);
}

static inline void vq_used(struct vq *vq, const struct vq_chain *c,
			   uint32_t len)
{
	if (vq->port)
		vq->port->used(vq->port_q, c, len);
	else if (vq->packed)
		vq_packed_used(vq, c, len);
	else
		vq_split_used(vq, c->head, len);
}

static inline void vq_flush(struct vq *vq)
{
	if (vq->port)
		vq->port->flush(vq->port_q);
	else if (vq->packed)
		vq_packed_flush(vq);
	else
		vq_split_flush(vq);
}

/*
 * Guest kicks (available buffer notifications) on (true) or off, for a
 * worker about to park or just woken (--idle wait, worker.h: wk_arm_fn).
 * On: returns true when a buffer is available already (it may have come
 * before the guest could see notifications on).  A broken queue is not
 * touched (false); a port queue has nothing to turn on, only its
 * pending() look (vq_port_ops).
 */
bool vq_split_kick(struct vq *vq, bool on);
bool vq_packed_kick(struct vq *vq, bool on);

static inline bool vq_kick(struct vq *vq, bool on)
{
	if (vq->port)
		return on && vq->port->pending && vq->port->pending(vq->port_q);
	if (vq->broken)
		return false;
	return vq->packed ? vq_packed_kick(vq, on) : vq_split_kick(vq, on);
}

/* Copy len bytes at byte offset off of chain c into buf; returns the bytes
 * copied (fewer when the chain ends first). */
static inline uint32_t vq_chain_read(const struct vq_chain *c, uint32_t off,
				     uint8_t *buf, uint32_t len)
{
	uint32_t done = 0;

	for (uint16_t s = 0; s < c->nseg && done < len; s++) {
		if (off >= c->seg[s].len) {
			off -= c->seg[s].len;
			continue;
		}
		uint32_t n = MIN(len - done, c->seg[s].len - off);
		memcpy(buf + done, c->seg[s].p + off, n);
		done += n;
		off = 0;
	}
	return done;
}

/* Dirty-log a write of len bytes at gpa (no-op without a log). */
static inline void vq_log_write(const struct vq *vq, uint64_t gpa,
				uint32_t len)
{
	if (unlikely(vq->log != NULL))
		(void)dirty_log_mark(vq->log, gpa, len);
}

/* Mark the queue broken for reason e (value: the offending number). */
void vq_set_broken(struct vq *vq, enum vq_error e, uint64_t value);

#endif
