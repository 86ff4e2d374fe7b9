/* SPDX-License-Identifier: MIT */
/*
 * vu_table.h: the request table.  One row per front-end request id 1..43:
 * payload size bounds, fds accepted, whether a reply is always sent, the
 * protocol feature that must have been negotiated, and flags.  vu_validate()
 * applies a row before any handler runs, so handlers see well-formed input.
 * A row without a handler is refused by name.
 */
#ifndef VHOSTD_VU_TABLE_H
#define VHOSTD_VU_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "vu_dev.h"

/* Row flags. */
#define VU_R_QUIESCE   (1u << 0) /* pause the device's datapath around it */
#define VU_R_RING_ST   (1u << 1) /* payload starts with a u32 ring index */
#define VU_R_RING_U64  (1u << 2) /* u64: bits 0-7 ring index, bit 8 no-fd */
#define VU_R_NEED_MEM  (1u << 3) /* a memory table must be in place */
#define VU_R_PF_OFFER  (1u << 4) /* PROTOCOL_FEATURES must be offered */
#define VU_R_PF_ACKED  (1u << 5) /* PROTOCOL_FEATURES offered, and acked
                                  * once SET_FEATURES came */

#define VU_NO_PF (-1)

/* A handler fills reply->payload and returns its size (> 0), 0 for "done,
 * nothing to send", or a negative errno.  It sets every fd it keeps to -1
 * in fds; the dispatcher closes the rest. */
typedef int (*vu_handler_fn)(struct vu_dev *dev, const struct vu_msg *msg,
			     int *fds, int nfds, struct vu_msg *reply);

struct vu_rule {
	const char *name;
	vu_handler_fn handler;     /* NULL: refused, see why_not */
	uint32_t size_min, size_max;
	uint8_t fds_min, fds_max;
	uint8_t reply;             /* 1: a reply payload is always sent */
	int8_t proto_bit;          /* required protocol feature or VU_NO_PF */
	uint16_t flags;
	const char *why_not;       /* reason a request is not served */
};

/* The row for request id req, or NULL for ids outside 1..43. */
const struct vu_rule *vu_rule_get(uint32_t req);

/*
 * Check msg (with nfds fds) against its row and the device state.  Returns 0
 * or a negative errno with a one-line reason in why (naming the values).
 */
int vu_validate(const struct vu_dev *dev, const struct vu_msg *msg, int nfds,
		char *why, size_t why_len);

/* Handlers (vu_handlers.c). */
#define VU_X_DECL(n) int vu_h_##n(struct vu_dev *, const struct vu_msg *, \
				   int *, int, struct vu_msg *);
VU_X_DECL(get_features) VU_X_DECL(set_features) VU_X_DECL(set_owner)
VU_X_DECL(reset_owner) VU_X_DECL(set_mem_table) VU_X_DECL(set_log_base)
VU_X_DECL(set_log_fd) VU_X_DECL(set_vring_num) VU_X_DECL(set_vring_addr)
VU_X_DECL(set_vring_base) VU_X_DECL(get_vring_base)
VU_X_DECL(set_vring_kick) VU_X_DECL(set_vring_call)
VU_X_DECL(set_vring_err) VU_X_DECL(get_protocol_features)
VU_X_DECL(set_protocol_features) VU_X_DECL(get_queue_num)
VU_X_DECL(set_vring_enable) VU_X_DECL(send_rarp) VU_X_DECL(net_set_mtu)
VU_X_DECL(set_backend_req_fd) VU_X_DECL(get_config) VU_X_DECL(set_config)
VU_X_DECL(reset_device) VU_X_DECL(get_max_mem_slots)
VU_X_DECL(add_mem_reg) VU_X_DECL(rem_mem_reg) VU_X_DECL(set_status)
VU_X_DECL(get_status)
#undef VU_X_DECL

#endif
