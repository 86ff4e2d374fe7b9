/* SPDX-License-Identifier: MIT */
/*
 * vu_front_req.h: one typed call per front-end request of the vhost-user
 * spec that vu_front.h does not already cover with a higher-level call
 * (QEMU docs/interop/vhost-user.rst, "Front-end message types", ids
 * 1..43; the spec defines no later id).  Where each request is in the
 * library:
 *
 *   1 GET_FEATURES, 2 SET_FEATURES, 3 SET_OWNER, 15/16 GET/SET_PROTOCOL_
 *   FEATURES, 17 GET_QUEUE_NUM, 36 GET_MAX_MEM_SLOTS     vu_front.h (nego)
 *   5 SET_MEM_TABLE, 6 SET_LOG_BASE, 37/38 ADD/REM_MEM_REG vu_front.h (mem)
 *   11 GET_VRING_BASE (vu_front_vring_stop), 14 SET_VRING_ERR,
 *   18 SET_VRING_ENABLE                                  vu_front.h (rings)
 *   21 SET_BACKEND_REQ_FD                                vu_front_backend.h
 *   every other id                                       here
 *
 * The library never withholds a request because a feature was not
 * negotiated: it drives any back-end, and a back-end must refuse what it
 * did not offer.  Conventions of vu_front.h hold: 0 or a negative errno
 * (the reason in vu_front_why()); requests without a reply body get
 * need_reply and their ack checked when REPLY_ACK was acked; requests
 * whose reply is a u64 status decode it like an ack (0: success,
 * 2..4095: that errno, else -EIO).  Fds passed in stay the caller's;
 * fds returned are the caller's to close.
 */
#ifndef VHOSTD_VU_FRONT_REQ_H
#define VHOSTD_VU_FRONT_REQ_H

#include <stdbool.h>
#include <stdint.h>

#include "vu_front.h"
#include "vu_front_backend.h"

/* 4 RESET_OWNER (deprecated by the spec; still a request). */
int vu_front_reset_owner(struct vu_front *f);

/* 7 SET_LOG_FD: eventfd the back-end signals when it logged. */
int vu_front_set_log_fd(struct vu_front *f, int fd);

/* 8 SET_VRING_NUM, 10 SET_VRING_BASE: vring state (index, num). */
int vu_front_set_vring_num(struct vu_front *f, uint32_t idx, uint32_t num);
int vu_front_set_vring_base(struct vu_front *f, uint32_t idx, uint32_t base);

/* 9 SET_VRING_ADDR as given (addresses are our user addresses; flags
 * bit VHOST_VRING_F_LOG asks for used-ring logging). */
int vu_front_set_vring_addr(struct vu_front *f,
			    const struct vu_vring_addr *addr);

/* 12 SET_VRING_KICK, 13 SET_VRING_CALL: fd < 0 sends the no-fd flag
 * (polling). */
int vu_front_set_vring_kick(struct vu_front *f, uint32_t idx, int fd);
int vu_front_set_vring_call(struct vu_front *f, uint32_t idx, int fd);

/* 19 SEND_RARP: the guest's MAC in the first 6 bytes of the u64. */
int vu_front_send_rarp(struct vu_front *f, const uint8_t mac[6]);

/* 20 NET_SET_MTU. */
int vu_front_net_set_mtu(struct vu_front *f, uint64_t mtu);

/* 22 IOTLB_MSG (update or invalidate); the reply is a u64 status. */
int vu_front_iotlb_msg(struct vu_front *f, const struct vu_iotlb *msg);

/* 23 SET_VRING_ENDIAN: big = false little endian, true big endian. */
int vu_front_set_vring_endian(struct vu_front *f, uint32_t idx, bool big);

/*
 * 24 GET_CONFIG: size bytes (<= VU_MAX_CONFIG_SIZE) at offset into buf.
 * The reply must echo offset and size with the same payload size; an
 * empty reply is the back-end's error (-EIO).
 */
int vu_front_get_config(struct vu_front *f, uint32_t offset, uint32_t size,
			uint32_t flags, void *buf);

/* 25 SET_CONFIG: flags VU_CONFIG_FLAG_WRITABLE or _MIGRATION. */
int vu_front_set_config(struct vu_front *f, uint32_t offset, uint32_t size,
			uint32_t flags, const void *buf);

/*
 * 26 CREATE_CRYPTO_SESSION: the spec leaves the "crypto session
 * description" to the crypto device (QEMU: an i64 session id followed by
 * the session parameters), so desc is len opaque bytes (>= 8); the reply
 * has the same size and carries the session id in its first 8 bytes
 * (negative: the back-end's failure, -EIO).
 */
int vu_front_create_crypto_session(struct vu_front *f, const void *desc,
				   uint32_t len, int64_t *session_id);

/* 27 CLOSE_CRYPTO_SESSION. */
int vu_front_close_crypto_session(struct vu_front *f, uint64_t session_id);

/*
 * 28 POSTCOPY_ADVISE: *ufd gets the back-end's userfaultfd.  29
 * POSTCOPY_LISTEN: from then on SET_MEM_TABLE expects the back-end's
 * region bases back and acknowledges them (spec, SET_MEM_TABLE).  30
 * POSTCOPY_END: u64 status.
 */
int vu_front_postcopy_advise(struct vu_front *f, int *ufd);
int vu_front_postcopy_listen(struct vu_front *f);
int vu_front_postcopy_end(struct vu_front *f);

/* 31 GET_INFLIGHT_FD: *out and *fd get the back-end's inflight buffer
 * for num_queues rings of queue_size. */
int vu_front_get_inflight_fd(struct vu_front *f, uint16_t num_queues,
			     uint16_t queue_size, struct vu_inflight *out,
			     int *fd);
/* 32 SET_INFLIGHT_FD. */
int vu_front_set_inflight_fd(struct vu_front *f, const struct vu_inflight *in,
			     int fd);

/* 33 GPU_SET_SOCKET. */
int vu_front_gpu_set_socket(struct vu_front *f, int fd);

/* 34 RESET_DEVICE. */
int vu_front_reset_device(struct vu_front *f);

/* 35 VRING_KICK (in-band kick; state.num 0). */
int vu_front_vring_kick_inband(struct vu_front *f, uint32_t idx);

/* 39 SET_STATUS, 40 GET_STATUS: the virtio device status byte. */
int vu_front_set_status(struct vu_front *f, uint8_t status);
int vu_front_get_status(struct vu_front *f, uint8_t *status);

/* 41 GET_SHARED_OBJECT: *fd gets the dma-buf of uuid; a reply without
 * an fd is the back-end's "not found" (-ENOENT). */
int vu_front_get_shared_object(struct vu_front *f, const uint8_t uuid[16],
			       int *fd);

/*
 * 42 SET_DEVICE_STATE_FD with direction (VU_TRANSFER_SAVE/LOAD), phase
 * and our end of the transfer channel.  *backend_fd gets the back-end's
 * own channel end when it returns one (else -1): the caller must then
 * use it instead of fd.  u64 reply: bits 0-7 error, bit 8 no fd.
 */
int vu_front_set_device_state_fd(struct vu_front *f, uint32_t direction,
				 uint32_t phase, int fd, int *backend_fd);

/* 43 CHECK_DEVICE_STATE: u64 status. */
int vu_front_check_device_state(struct vu_front *f);

#endif
