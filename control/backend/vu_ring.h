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
 *
 * A ring is checked (size rule, alignments, areas inside guest memory)
 * for the layout the acked features give, each time one of its inputs
 * changes and again when it starts (SET_VRING_KICK); a started ring's
 * layout cannot change (vu_rings_check_features()).
 */
#ifndef VHOSTD_VU_RING_H
#define VHOSTD_VU_RING_H

#include "vu_dev.h"

/*
 * Acked feature bits that decide a ring's layout: which areas it has, how
 * large and how aligned they are and which sizes it may take
 * (RING_PACKED), and whether the device reads used_event and writes
 * avail_event (EVENT_IDX).  A ring's checks hold for the layout they were
 * made for (struct vu_vring.layout).
 */
#define VU_RING_LAYOUT_FEATURES                                            \
	(BIT_ULL(VIRTIO_F_RING_PACKED) | BIT_ULL(VIRTIO_RING_F_EVENT_IDX))

/* Check and translate every ring again for the memory table and the
 * layout in force (after either changed); a ring that does not fit is
 * left without a translation (not ready), with one log line. */
void vu_rings_retranslate(struct vu_dev *dev);

/*
 * May SET_FEATURES features be taken with the rings as they are?  While
 * any ring is started, only VHOST_F_LOG_ALL may change (QEMU switches it
 * for live migration, vhost_dev_set_log()).  Every other bit is fixed
 * for a running driver (virtio 1.x 3.1.1: features are negotiated before
 * DRIVER_OK; changing them takes a device reset, around which front-ends
 * stop the rings), and RING_PACKED and EVENT_IDX change the memory the
 * started ring's areas take, checked for the old layout.  0, or -EBUSY
 * with one log line naming the old and new bits.
 */
int vu_rings_check_features(struct vu_dev *dev, uint64_t features);

/* Close a ring's fds and return it to "stopped, disabled, unset". */
void vu_vring_reset(struct vu_vring *vr);

#endif
