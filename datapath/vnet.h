/* SPDX-License-Identifier: MIT */
/*
 * vnet.h: virtio-net forwarding between two virtqueues.
 *
 * A path moves packets from a guest's TX queue to a guest's RX queue (the
 * same guest for --reflect, the peer for --link), copying each packet
 * exactly once, guest buffer to guest buffer, with no staging buffer.  The
 * virtio-net header is rewritten for the receiver: num_buffers, and the
 * offload fields pass through when the receiver negotiated the offload;
 * otherwise vhostd completes the checksum or segments the frame in software
 * (datapath/offload.h).  A source path feeds a guest's RX queue from a
 * fixed frame instead (a benchmark and test port).  A path is polled by
 * exactly one worker, and each vq belongs to exactly one path, so nothing
 * here is shared.
 */
#ifndef VHOSTD_VNET_H
#define VHOSTD_VNET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "offload.h"
#include "vq.h"

#define VNET_BURST 32
#define VNET_MAX_RX_CHAINS 32   /* mergeable buffers per packet */
#define VNET_SOURCE_MIN 60      /* --source frame sizes, FCS excluded */
#define VNET_SOURCE_MAX 9216

/*
 * The longest frame (virtio-net header excluded) any receiver takes: a
 * 64 KiB GSO frame, i.e. the largest IP datagram (RFC 791 / RFC 8200: a
 * 16-bit total/payload length, 65535) behind an Ethernet header and one
 * VLAN tag (14 + 4).  A receiver's own limit (vnet_path.frame_max) is at
 * most this; a longer frame is dropped as TOO_BIG before any length
 * arithmetic, so every length sum after it fits 32 bits many times over.
 */
#define VNET_FRAME_MAX (65535u + 14u + 4u)
/* Ethernet header and one VLAN tag on top of an MTU. */
#define VNET_L2_MAX (14u + 4u)

/*
 * Work bound of one pass of a path: software segments (each a header
 * rewrite, a checksum and a copy).  A frame of at most VNET_FRAME_MAX cut
 * at gso_size >= OFL_GSO_SIZE_MIN (88) has at most 745 segments, so one
 * frame always fits; a later frame of the burst that does not is given
 * back to its ring for the next pass (nothing taken is lost).
 */
#define VNET_PASS_SEGS 1024u

/* Every drop increments exactly one of these. */
#define VNET_DROPS(X)                                                       \
	X(NO_PEER, "port is not linked (or is a source): TX discarded")     \
	X(DST_DOWN, "receiving queue not ready or disabled")                \
	X(NO_RX_BUF, "no receive buffer for the packet")                    \
	X(RX_BROKEN, "receiving queue broke while placing the packet")     \
	X(BAD_OFFLOAD, "offload fields invalid or not negotiated")           \
	X(OFFLOAD_UNSUPP, "offload vhostd cannot complete in software")     \
	X(ANNOUNCE, "RARP announcement with no receiving queue")             \
	X(TOO_BIG, "frame longer than the receiver takes")                  \
	X(GSO_SIZE, "gso_size below 88 or too many segments")               \
	X(ABANDONED, "path abandoned: it held its worker too long")

enum vnet_drop {
#define VNET_X_ENUM(name, text) VNET_DROP_##name,
	VNET_DROPS(VNET_X_ENUM)
#undef VNET_X_ENUM
	VNET_DROP_MAX
};

const char *vnet_drop_text(enum vnet_drop d);

/* What happens to a frame's 802.1Q tag on its way (a bridge's access and
 * trunk ports): kept as it is, pushed behind the MACs, or popped. */
enum vnet_vlan_op { VNET_VLAN_KEEP, VNET_VLAN_PUSH, VNET_VLAN_POP };
#define VNET_VLAN_LEN 4u

/* One packet on its way to the receiver: pre (receiver's header, then any
 * frame bytes vhostd rewrote), then a range of the sender's chain. */
struct vnet_pkt {
	uint32_t plen;
	uint32_t body_off, body_len;
	uint8_t pre[sizeof(struct virtio_net_hdr) + OFL_HDR_MAX + VNET_VLAN_LEN];
};

/* A receiving queue, and what a path must know of its port to write it
 * (the fields vnet_path holds for its one dst). */
struct vnet_dst {
	struct vq *vq;
	uint32_t hdr_len, frame_max;
	struct ofl_caps rcv;
};

/*
 * Where one frame goes, for a path with per-packet destinations.  The tag
 * change is one word (vnet_to_vlan()), stored whole by the chooser and
 * loaded whole by the path right after the call: a byte and a 16-bit
 * field stored apart and compared as one 32-bit load could not take the
 * value from the stores in flight and waited for both to reach the cache
 * (a fifth of vnet_pick_poll's cycles).
 */
struct vnet_to {
	const struct vnet_dst *d;
	uint32_t vlan;           /* vnet_to_vlan(op, tag) */
};

static inline uint32_t vnet_to_vlan(enum vnet_vlan_op op, uint16_t tci)
{
	return (uint32_t)op | (uint32_t)tci << 16;
}

static inline enum vnet_vlan_op vnet_to_op(uint32_t vlan)
{
	return (enum vnet_vlan_op)(vlan & 0xff);
}

/* VNET_VLAN_PUSH: the tag pushed. */
static inline uint16_t vnet_to_tci(uint32_t vlan)
{
	return (uint16_t)(vlan >> 16);
}
#define VNET_TO_MAX 64

struct vnet_path;
/*
 * A path's destination chooser (a bridge): frame f of len bytes, the
 * first flen (min(len, VNET_PICK_HEAD)) readable at f, from p's sending
 * queue.  Fills to[] and returns how many (0: dropped, counted by the
 * chooser).  pass(ctx) is called once per poll, for upkeep (aging).
 */
#define VNET_PICK_HEAD 64u
typedef uint32_t (*vnet_pick_fn)(void *ctx, const struct vnet_path *p,
				 const uint8_t *f, uint32_t flen, uint32_t len,
				 struct vnet_to *to);
typedef void (*vnet_pass_fn)(void *ctx);
/*
 * A chooser's guess, once a burst is taken, of the receiving queue its
 * frames go to (the one the sender's last frame went to), or NULL: the
 * path starts loading that queue's descriptors with the burst's frames,
 * as vnet_path_poll does for its one destination, instead of after the
 * first frame's answer.  A wrong guess costs the loads.
 */
typedef struct vq *(*vnet_hint_fn)(void *ctx, const struct vnet_path *p);
/*
 * A chooser that answers one destination may add VNET_PICK_SAME to it:
 * "a frame that follows from this sender with the same first
 * VNET_PICK_SAME_BYTES bytes, and at least VNET_PICK_SAME_MIN long, goes
 * the same way".  The path then gives such frames (until one differs, in
 * the same pass) that destination without asking again, and at the pass's
 * end tells the chooser how many with repeat(ctx, n), for its counters.
 * A burst is mostly one flow: one decision for all of it.
 */
#define VNET_PICK_SAME (1u << 31)
#define VNET_PICK_SAME_BYTES 16u   /* both MACs, TPID or type, TCI */
#define VNET_PICK_SAME_MIN 18u     /* a tagged frame's header */
typedef void (*vnet_repeat_fn)(void *ctx, uint32_t n);

struct vnet_path_stats {
	uint64_t packets, bytes;
	uint64_t drops[VNET_DROP_MAX];
};

/* A traffic source: one frame, placed into the guest's RX queue over and
 * over (benchmarks: DPDK's "rxonly" test needs a back-end that transmits).
 * The chain is a single segment over hdr + frame, so place() copies from it
 * exactly as from a guest TX chain: still one copy per packet. */
struct vnet_source {
	uint32_t len;                    /* frame bytes, header excluded */
	struct vq_chain chain;           /* one segment: buf */
	uint8_t buf[sizeof(struct virtio_net_hdr) + VNET_SOURCE_MAX];
};

/* Fill s with a len-byte IPv4/UDP broadcast frame (valid checksums) for a
 * guest whose TX header is hdr_len bytes.  -EINVAL for a bad len. */
int vnet_source_init(struct vnet_source *s, uint32_t len, uint32_t hdr_len);

/* Make s carry frame (len bytes) behind a zero header of hdr_len bytes.
 * -EINVAL for a bad len. */
int vnet_source_set(struct vnet_source *s, const uint8_t *frame,
		    uint32_t len, uint32_t hdr_len);

struct vnet_path {
	struct vq *src;          /* guest TX */
	struct vq *dst;          /* guest RX; NULL: discard (spec: a started
				  * but disabled TX ring is processed and its
				  * packets dropped) */
	const struct vnet_source *source; /* non-NULL: TX is discarded and
				  * dst is fed from the source */
	const struct vnet_source *announce; /* one frame to send to dst before
				  * anything else (SEND_RARP); the worker
				  * clears it once placed or dropped */
	uint32_t src_hdr_len, dst_hdr_len;
	/* The longest frame (header excluded) dst takes without GSO, at most
	 * VNET_FRAME_MAX: a guest's MTU or a port's (port.h: frame_max).
	 * A GSO frame may be up to VNET_FRAME_MAX when dst takes TSO or it
	 * is cut into segments that fit. */
	uint32_t frame_max;
	enum vnet_drop dst_none; /* why dst is NULL: NO_PEER or DST_DOWN */
	struct ofl_caps snd, rcv; /* offloads the sender / receiver took */
	bool reflect;            /* swap source and destination MAC */
	/* vnet_pick_poll(): the chooser, its context, and the sender's
	 * member id and queue pair for it. */
	vnet_pick_fn pick;
	vnet_pass_fn pass;
	vnet_repeat_fn repeat;   /* with a pick that answers VNET_PICK_SAME */
	vnet_hint_fn hint;       /* NULL: no guess */
	void *pick_ctx;
	uint16_t pick_in, qp;
	/* The tag change towards the current dst, vnet_to_vlan(op, tag)
	 * (KEEP outside a bridge), and the bytes it adds to a frame (+4,
	 * -4, 0). */
	uint32_t vlan;
	int8_t vlan_delta;
	bool no_defer;           /* a GSO frame may not wait for the next
				  * pass (it went to another dst already) */
	/* Set by the control thread (vnet_path_abandon()) when this path held
	 * its worker past WK_QUIESCE_TIMEOUT_MS; read once per burst (and
	 * per 64 segments); cleared when the control plane sets the path up
	 * again. */
	_Atomic bool abandon;
	uint16_t ntx;            /* chains of the burst still to forward */
	uint32_t seg_left;       /* segments this pass may still cut */
	struct vnet_path_stats stats;
	struct vq_chain tx[VNET_BURST];
	/* Receive chains reserved for the packets of one burst (a packet
	 * is reserved only while fewer than VNET_BURST are in use). */
	struct vq_chain rx[VNET_BURST + VNET_MAX_RX_CHAINS];
} cache_aligned;

/* Poll function for a worker item: one burst; returns the packets it
 * processed (taken off the TX ring: forwarded or dropped). */
uint32_t vnet_path_poll(void *ctx);

/* Poll function for a path with per-packet destinations (p->pick): each
 * frame is copied straight into the receive buffers of each destination
 * the chooser names, one copy per destination, with that receiver's
 * header and offloads (as vnet_path_poll) and the tag change it says.
 * Every receiving queue written is flushed once, at the end of the pass. */
uint32_t vnet_pick_poll(void *ctx);

/* Poll function for a source path: discards the guest's TX (src may be
 * NULL) and places up to one burst of the source frame into dst. */
uint32_t vnet_source_poll(void *ctx);

/* Abandon function for a worker item (worker.h, wk_abandon_fn): from the
 * control thread, while the path may be polled.  The path stops at its
 * next check, marks its sending queue broken (ABANDONED) and does nothing
 * more until it is set up again. */
void vnet_path_abandon(void *ctx);

/* Arm function for a worker item (worker.h, wk_arm_fn; vnet_arm.c): guest
 * kicks on the path's TX ring (and a source path's RX ring) on or off;
 * on: true when the path has work already. */
bool vnet_path_arm(void *ctx, bool on);

#endif
