/* SPDX-License-Identifier: MIT */
/*
 * vu_ring.h: the per-ring state machine (spec "Ring states").
 *
 * A ring is stopped and disabled at first.  SET_VRING_KICK starts it (vhostd
 * busy-polls, so the kick fd only tells us the front-end is done setting the
 * ring up; libvhost-user and DPDK start rings at the same point);
 * GET_VRING_BASE stops it and returns the next avail index.
 * SET_VRING_ENABLE enables or disables it; without PROTOCOL_FEATURES
 * SET_FEATURES enables every ring.  Size and base may only change while
 * the ring is stopped; addresses may change on a started ring (QEMU sends
 * SET_VRING_ADDR again to switch used-ring logging on for migration), with
 * the datapath paused around it like every ring request.
 */
#ifndef VHOSTD_VU_RING_H
#define VHOSTD_VU_RING_H

#include "vu_dev.h"

/* Translate every ring again after the memory table changed. */
void vu_rings_retranslate(struct vu_dev *dev);

/* Close a ring's fds and return it to "stopped, disabled, unset". */
void vu_vring_reset(struct vu_vring *vr);

#endif
