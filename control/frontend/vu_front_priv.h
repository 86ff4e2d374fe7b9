/* SPDX-License-Identifier: MIT */
/*
 * vu_front_priv.h: state and message core shared by the vu_front*.c files.
 * Not for users of the library (they include vu_front.h).
 */
#ifndef VHOSTD_VU_FRONT_PRIV_H
#define VHOSTD_VU_FRONT_PRIV_H

#include "vu_front.h"
#include "vu_front_backend.h"
#include "../wire/vu_proto.h"

#define VU_FRONT_LOG_TAG "front"

struct vu_front {
	int sock;
	int io_timeout_ms;
	uint64_t features_offered;
	uint64_t features_acked;
	uint64_t protocol_offered;
	uint64_t protocol_acked;
	uint64_t queue_num;
	uint64_t max_mem_slots;
	bool mem_ready;
	struct vu_guestmem mem;
	struct vu_front_vring vrings[VU_FRONT_MAX_VRINGS];
	bool postcopy_listening;   /* POSTCOPY_LISTEN sent: SET_MEM_TABLE and
				    * ADD_MEM_REG get the bases back */
	char why[192];             /* reason of the last failure */
	/* Back-end channel (vu_front_backend.c): our end, or -1. */
	int backend_fd;
	struct vu_front_backend_ops backend_ops;
	void *backend_arg;
};

/* Wrap connected socket fd (taken over, also on failure) in *out, with
 * io_timeout_ms on its sends and receives. */
int vu_front_new(struct vu_front **out, int fd, int io_timeout_ms);

/* Record and log the reason of a failure; returns err. */
int vu_front_fail(struct vu_front *f, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Send request req with header flags (VU_FLAG_NEED_REPLY or 0) and read
 * one reply, which must carry the reply flag and the same id (-EPROTO
 * otherwise); its size is the caller's to check.  Fds that come with it
 * go to rfds/nrfds (capacity VU_MAX_FDS, the caller closes them), or are
 * closed when rfds is NULL.
 */
int vu_front_xact_full(struct vu_front *f, uint32_t req, uint32_t flags,
		       const void *payload, uint32_t size, const int *fds,
		       int nfds, struct vu_msg *reply, int *rfds, int *nrfds);

/*
 * For requests whose reply is a u64 status (IOTLB_MSG, POSTCOPY_END,
 * CHECK_DEVICE_STATE, ...): sent with need_reply when REPLY_ACK was
 * acked (the spec: no change for requests that have a reply), the u64
 * decoded like an ack.  Reply fds as in vu_front_xact_full(); *status
 * (may be NULL) gets the raw u64.
 */
int vu_front_xact_u64(struct vu_front *f, uint32_t req, const void *payload,
		      uint32_t size, const int *fds, int nfds,
		      uint64_t *status, int *rfds, int *nrfds);

/*
 * Send request req (payload of size bytes, fds attached) that has no reply
 * body.  With REPLY_ACK acked, need_reply is set and the ack is awaited
 * and decoded as described in vu_front.h.
 */
int vu_front_xact(struct vu_front *f, uint32_t req, const void *payload,
		  uint32_t size, const int *fds, int nfds);

/*
 * Send request req and read its reply body, which must carry the reply
 * flag, the same request id and exactly reply_size bytes (-EPROTO
 * otherwise).  Fds that come with the reply are closed.
 */
int vu_front_xact_reply(struct vu_front *f, uint32_t req, const void *payload,
			uint32_t size, const int *fds, int nfds, void *reply,
			uint32_t reply_size);

/* Like vu_front_xact_reply() but any reply size is accepted; the whole
 * reply (header and payload) lands in *reply. */
int vu_front_xact_msg(struct vu_front *f, uint32_t req, const void *payload,
		      uint32_t size, const int *fds, int nfds,
		      struct vu_msg *reply);

/* Decode a REPLY_ACK u64: 0, -ack for 2..4095, -EIO otherwise. */
int vu_front_ack_to_errno(uint64_t ack);

#endif
