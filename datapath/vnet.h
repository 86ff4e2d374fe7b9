/* SPDX-License-Identifier: MIT */
/*
 * vnet.h: virtio-net forwarding between two virtqueues.
 *
 * A path moves packets from a guest's TX queue to a guest's RX queue (the
 * same guest for --reflect, the peer for --link), copying each packet
 * exactly once, guest buffer to guest buffer, with no staging buffer.  The
 * virtio-net header is rewritten for the receiver (num_buffers; offload
 * fields only travel when both sides negotiated them, which vhostd does not
 * offer yet, so they are zeroed).  A path is polled by exactly one worker,
 * and each vq belongs to exactly one path, so nothing here is shared.
 */
#ifndef VHOSTD_VNET_H
#define VHOSTD_VNET_H

#include <stdbool.h>
#include <stdint.h>

#include "vq.h"

#define VNET_BURST 32
#define VNET_MAX_RX_CHAINS 32   /* mergeable buffers per packet */

/* Every drop increments exactly one of these. */
#define VNET_DROPS(X)                                                       \
	X(DST_DOWN, "receiving queue not ready or disabled")                \
	X(NO_RX_BUF, "no receive buffer for the packet")                    \
	X(RX_BROKEN, "receiving queue broke while placing the packet")

enum vnet_drop {
#define VNET_X_ENUM(name, text) VNET_DROP_##name,
	VNET_DROPS(VNET_X_ENUM)
#undef VNET_X_ENUM
	VNET_DROP_MAX
};

const char *vnet_drop_text(enum vnet_drop d);

struct vnet_path_stats {
	uint64_t packets, bytes;
	uint64_t drops[VNET_DROP_MAX];
};

struct vnet_path {
	struct vq *src;          /* guest TX */
	struct vq *dst;          /* guest RX; NULL: discard (spec: a started
				  * but disabled TX ring is processed and its
				  * packets dropped) */
	uint32_t src_hdr_len, dst_hdr_len;
	bool reflect;            /* swap source and destination MAC */
	struct vnet_path_stats stats;
	struct vq_chain tx[VNET_BURST];
	struct vq_chain rx[VNET_MAX_RX_CHAINS];
} cache_aligned;

/* Poll function for a worker item: one burst, returns packets moved. */
uint32_t vnet_path_poll(void *ctx);

#endif
