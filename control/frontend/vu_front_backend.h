/* SPDX-License-Identifier: MIT */
/*
 * vu_front_backend.h: the back-end request channel, front-end side
 * (VHOST_USER_SET_BACKEND_REQ_FD, "Back-end message types" of the spec).
 *
 * vu_front_backend_open() makes a socket pair, hands one end to the
 * back-end with SET_BACKEND_REQ_FD and keeps the other.  The back-end's
 * messages are then read with vu_front_backend_poll(), one at a time:
 * each is checked (version, no reply flag, no unknown flag, a known id,
 * the exact payload size, the fds it may carry, the protocol feature it
 * needs) and handed to its callback; a message that fails a check, or
 * that has no callback, is refused.  Replies go back as the spec asks:
 * a u64 (0, or a positive errno for a refusal) when the back-end set
 * need_reply and REPLY_ACK was acked, and always (u64 and the fd) for
 * SHARED_OBJECT_LOOKUP.  A framing error (bad version, size beyond
 * VU_PAYLOAD_MAX, too many fds) closes the channel.
 */
#ifndef VHOSTD_VU_FRONT_BACKEND_H
#define VHOSTD_VU_FRONT_BACKEND_H

#include <stdint.h>

#include "../wire/vu_proto.h"

struct vu_front;

/*
 * Callbacks, each optional (NULL: the message is refused with
 * -EOPNOTSUPP).  Each returns 0 or a negative errno, which becomes the
 * reply's status.  arg is the one given to vu_front_backend_open().
 */
struct vu_front_backend_ops {
	/* IOTLB miss (type 1) or access failure (type 4); needs
	 * VIRTIO_F_IOMMU_PLATFORM acked. */
	int (*iotlb)(void *arg, const struct vu_iotlb *msg);
	/* The config space changed (needs CONFIG). */
	int (*config_change)(void *arg);
	/* Host notifier of ring idx: fd >= 0 (the callback owns it) with
	 * size and offset to map, or fd -1 to remove it (needs
	 * HOST_NOTIFIER; an fd also needs BACKEND_SEND_FD). */
	int (*host_notifier)(void *arg, uint32_t idx, int fd, uint64_t size,
			     uint64_t offset);
	/* In-band call / error of ring idx (needs INBAND_NOTIFICATIONS). */
	int (*vring_call)(void *arg, uint32_t idx);
	int (*vring_err)(void *arg, uint32_t idx);
	/* Shared objects (need SHARED_OBJECT).  lookup stores an fd the
	 * library sends back and then leaves to the callback's owner (it is
	 * not closed). */
	int (*shared_add)(void *arg, const uint8_t uuid[16]);
	int (*shared_remove)(void *arg, const uint8_t uuid[16]);
	int (*shared_lookup)(void *arg, const uint8_t uuid[16], int *fd);
};

/*
 * Open the channel: socketpair, SET_BACKEND_REQ_FD with the back-end's
 * end (closed here afterwards), keep ours.  ops is copied.  -EBUSY if a
 * channel is open; otherwise 0 or the request's error (the channel is
 * then closed).
 */
int vu_front_backend_open(struct vu_front *f,
			  const struct vu_front_backend_ops *ops, void *arg);

/* SET_BACKEND_REQ_FD with a caller's fd (not taken over), for tests that
 * bring their own channel. */
int vu_front_set_backend_req_fd(struct vu_front *f, int fd);

/* Our end of the channel (for poll()), or -1. */
int vu_front_backend_fd(const struct vu_front *f);

/*
 * Handle at most one back-end message, waiting up to timeout_ms for it.
 * Returns 1 (a message was handled: served or refused), 0 (none came),
 * -ENOTCONN (no channel), -ECONNRESET (the back-end closed it) or
 * -EPROTO (framing error); on the last two the channel is closed.
 */
int vu_front_backend_poll(struct vu_front *f, int timeout_ms);

/* Close our end of the channel (also done by vu_front_close()). */
void vu_front_backend_close(struct vu_front *f);

#endif
