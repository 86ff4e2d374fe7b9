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

#include <stdbool.h>
#include <stdint.h>

#include "offload.h"
#include "vq.h"

#define VNET_BURST 32
#define VNET_MAX_RX_CHAINS 32   /* mergeable buffers per packet */
#define VNET_SOURCE_MIN 60      /* --source frame sizes, FCS excluded */
#define VNET_SOURCE_MAX 9216

/* Every drop increments exactly one of these. */
#define VNET_DROPS(X)                                                       \
	X(NO_PEER, "port is not linked (or is a source): TX discarded")     \
	X(DST_DOWN, "receiving queue not ready or disabled")                \
	X(NO_RX_BUF, "no receive buffer for the packet")                    \
	X(RX_BROKEN, "receiving queue broke while placing the packet")     \
	X(BAD_OFFLOAD, "offload fields invalid or not negotiated")           \
	X(OFFLOAD_UNSUPP, "offload vhostd cannot complete in software")     \
	X(ANNOUNCE, "RARP announcement with no receiving queue")

enum vnet_drop {
#define VNET_X_ENUM(name, text) VNET_DROP_##name,
	VNET_DROPS(VNET_X_ENUM)
#undef VNET_X_ENUM
	VNET_DROP_MAX
};

const char *vnet_drop_text(enum vnet_drop d);

/* One packet on its way to the receiver: pre (receiver's header, then any
 * frame bytes vhostd rewrote), then a range of the sender's chain. */
struct vnet_pkt {
	uint32_t plen;
	uint32_t body_off, body_len;
	uint8_t pre[sizeof(struct virtio_net_hdr) + OFL_HDR_MAX];
};

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
	enum vnet_drop dst_none; /* why dst is NULL: NO_PEER or DST_DOWN */
	struct ofl_caps snd, rcv; /* offloads the sender / receiver took */
	bool reflect;            /* swap source and destination MAC */
	struct vnet_path_stats stats;
	struct vq_chain tx[VNET_BURST];
	/* Receive chains reserved for the packets of one burst (a packet
	 * is reserved only while fewer than VNET_BURST are in use). */
	struct vq_chain rx[VNET_BURST + VNET_MAX_RX_CHAINS];
} cache_aligned;

/* Poll function for a worker item: one burst; returns the packets it
 * processed (taken off the TX ring: forwarded or dropped). */
uint32_t vnet_path_poll(void *ctx);

/* Poll function for a source path: discards the guest's TX (src may be
 * NULL) and places up to one burst of the source frame into dst. */
uint32_t vnet_source_poll(void *ctx);

#endif
