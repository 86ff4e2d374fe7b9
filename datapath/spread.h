/* SPDX-License-Identifier: MIT */
/*
 * spread.h: frames towards a port with fewer receiving queues than the
 * sender has queue pairs.  A sender's queue pair i goes to the receiver's
 * queue pair i while the receiver has it enabled; the others are spread
 * over the receiver's enabled queues by a flow hash (one flow stays on one
 * queue, so its frames stay in order), never dropped for want of a queue.
 * The paths that then share a receiving queue are polled by one worker
 * (the daemon's placement), so each queue keeps one writer.
 */
#ifndef VHOSTD_SPREAD_H
#define VHOSTD_SPREAD_H

#include <stdint.h>

#include "vnet.h"

/* A hash of frame f's flow: its MACs, and IPv4/IPv6 addresses and TCP/UDP
 * ports behind at most one VLAN tag; reads at most len bytes. */
uint32_t flow_hash(const uint8_t *f, uint32_t len);

/* The receiver's enabled queues (control-owned; changed only while no
 * path using it is published). */
struct spread {
	uint32_t nq;
	struct vnet_dst *q;
};

/* vnet_pick_fn for a path whose ctx is a struct spread (nq >= 1): one
 * destination, q[flow_hash % nq]; and its pass function (nothing). */
uint32_t spread_pick(void *ctx, const struct vnet_path *p, const uint8_t *f,
		     uint32_t flen, uint32_t len, struct vnet_to *to);
void spread_pass(void *ctx);

#endif
