/* SPDX-License-Identifier: MIT */
#include "vu_table.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "../wire/vu_msg.h"

#define MEMTAB_MIN 8u
#define MEMTAB_MAX (8u + VU_MEM_TABLE_MAX_REGIONS * 32u)
#define CFG_MIN VU_CONFIG_HDR_SIZE
#define CFG_MAX (VU_CONFIG_HDR_SIZE + VU_MAX_CONFIG_SIZE)

#define Q VU_R_QUIESCE
#define RS VU_R_RING_ST
#define RU VU_R_RING_U64
#define PF(b) VU_PROTOCOL_F_##b

/* Served requests: id, handler, size min/max, fds min/max, reply, protocol
 * feature, flags.  The spec's "request payload" gives the sizes. */
#define ROW(id, h, smin, smax, fmin, fmax, rep, pf, fl)                     \
	[VU_REQ_##id] = {"VHOST_USER_" #id, vu_h_##h, smin, smax, fmin,     \
			 fmax, rep, pf, fl, NULL}
/* Requests vhostd refuses, with the reason. */
#define NOT(id, why)                                                         \
	[VU_REQ_##id] = {"VHOST_USER_" #id, NULL, 0, VU_PAYLOAD_MAX, 0,     \
			 VU_MAX_FDS, 0, VU_NO_PF, 0, why}

static const struct vu_rule rules[VU_REQ_MAX] = {
	ROW(GET_FEATURES, get_features, 0, 0, 0, 0, 1, VU_NO_PF, 0),
	ROW(SET_FEATURES, set_features, 8, 8, 0, 0, 0, VU_NO_PF, Q),
	ROW(SET_OWNER, set_owner, 0, 0, 0, 0, 0, VU_NO_PF, 0),
	ROW(RESET_OWNER, reset_owner, 0, 0, 0, 0, 0, VU_NO_PF, Q),
	ROW(SET_MEM_TABLE, set_mem_table, MEMTAB_MIN, MEMTAB_MAX, 0,
	    VU_MEM_TABLE_MAX_REGIONS, 0, VU_NO_PF, Q),
	ROW(SET_LOG_BASE, set_log_base, 16, 16, 1, 1, 1, PF(LOG_SHMFD), Q),
	ROW(SET_LOG_FD, set_log_fd, 0, 0, 1, 1, 0, VU_NO_PF, Q),
	ROW(SET_VRING_NUM, set_vring_num, 8, 8, 0, 0, 0, VU_NO_PF, Q | RS),
	ROW(SET_VRING_ADDR, set_vring_addr, 40, 40, 0, 0, 0, VU_NO_PF,
	    Q | RS | VU_R_NEED_MEM),
	ROW(SET_VRING_BASE, set_vring_base, 8, 8, 0, 0, 0, VU_NO_PF, Q | RS),
	ROW(GET_VRING_BASE, get_vring_base, 8, 8, 0, 0, 1, VU_NO_PF, Q | RS),
	ROW(SET_VRING_KICK, set_vring_kick, 8, 8, 0, 1, 0, VU_NO_PF, Q | RU),
	ROW(SET_VRING_CALL, set_vring_call, 8, 8, 0, 1, 0, VU_NO_PF, Q | RU),
	ROW(SET_VRING_ERR, set_vring_err, 8, 8, 0, 1, 0, VU_NO_PF, Q | RU),
	ROW(GET_PROTOCOL_FEATURES, get_protocol_features, 0, 0, 0, 0, 1,
	    VU_NO_PF, VU_R_PF_OFFER),
	ROW(SET_PROTOCOL_FEATURES, set_protocol_features, 8, 8, 0, 0, 0,
	    VU_NO_PF, VU_R_PF_OFFER),
	ROW(GET_QUEUE_NUM, get_queue_num, 0, 0, 0, 0, 1, PF(MQ), 0),
	ROW(SET_VRING_ENABLE, set_vring_enable, 8, 8, 0, 0, 0, VU_NO_PF,
	    Q | RS | VU_R_PF_ACKED),
	ROW(SEND_RARP, send_rarp, 8, 8, 0, 0, 0, PF(RARP), Q),
	ROW(NET_SET_MTU, net_set_mtu, 8, 8, 0, 0, 0, PF(MTU), 0),
	ROW(SET_BACKEND_REQ_FD, set_backend_req_fd, 0, 0, 1, 1, 0,
	    PF(BACKEND_REQ), 0),
	NOT(IOTLB_MSG, "needs VIRTIO_F_IOMMU_PLATFORM, which vhostd does not "
	    "offer"),
	NOT(SET_VRING_ENDIAN, "needs CROSS_ENDIAN (legacy big-endian guests), "
	    "which vhostd does not offer"),
	ROW(GET_CONFIG, get_config, CFG_MIN, CFG_MAX, 0, 0, 1, PF(CONFIG), 0),
	ROW(SET_CONFIG, set_config, CFG_MIN, CFG_MAX, 0, 0, 0, PF(CONFIG), 0),
	NOT(CREATE_CRYPTO_SESSION, "is a crypto device request; this is a "
	    "net device"),
	NOT(CLOSE_CRYPTO_SESSION, "is a crypto device request; this is a net "
	    "device"),
	NOT(POSTCOPY_ADVISE, "needs PAGEFAULT (postcopy), which vhostd does "
	    "not offer"),
	NOT(POSTCOPY_LISTEN, "needs PAGEFAULT (postcopy), which vhostd does "
	    "not offer"),
	NOT(POSTCOPY_END, "needs PAGEFAULT (postcopy), which vhostd does not "
	    "offer"),
	NOT(GET_INFLIGHT_FD, "needs INFLIGHT_SHMFD, which vhostd does not "
	    "offer (it completes buffers in order)"),
	NOT(SET_INFLIGHT_FD, "needs INFLIGHT_SHMFD, which vhostd does not "
	    "offer (it completes buffers in order)"),
	NOT(GPU_SET_SOCKET, "is a GPU device request; this is a net device"),
	ROW(RESET_DEVICE, reset_device, 0, 0, 0, 0, 0, PF(RESET_DEVICE), Q),
	NOT(VRING_KICK, "needs INBAND_NOTIFICATIONS, which vhostd does not "
	    "offer"),
	ROW(GET_MAX_MEM_SLOTS, get_max_mem_slots, 0, 0, 0, 0, 1,
	    PF(CONFIGURE_MEM_SLOTS), 0),
	ROW(ADD_MEM_REG, add_mem_reg, 40, 40, 1, 1, 0, PF(CONFIGURE_MEM_SLOTS),
	    Q),
	/* Spec: no fd SHOULD be passed; one MAY be accepted and closed. */
	ROW(REM_MEM_REG, rem_mem_reg, 40, 40, 0, 1, 0, PF(CONFIGURE_MEM_SLOTS),
	    Q),
	ROW(SET_STATUS, set_status, 8, 8, 0, 0, 0, PF(STATUS), 0),
	ROW(GET_STATUS, get_status, 0, 0, 0, 0, 1, PF(STATUS), 0),
	NOT(GET_SHARED_OBJECT, "needs SHARED_OBJECT, which vhostd does not "
	    "offer"),
	NOT(SET_DEVICE_STATE_FD, "needs DEVICE_STATE, which vhostd does not "
	    "offer (virtio-net state lives in the rings)"),
	NOT(CHECK_DEVICE_STATE, "needs DEVICE_STATE, which vhostd does not "
	    "offer"),
};

const struct vu_rule *vu_rule_get(uint32_t req)
{
	if (req == 0 || req >= VU_REQ_MAX || rules[req].name == NULL)
		return NULL;
	return &rules[req];
}

static const char *const pf_names[] = {
	"MQ", "LOG_SHMFD", "RARP", "REPLY_ACK", "MTU", "BACKEND_REQ",
	"CROSS_ENDIAN", "CRYPTO_SESSION", "PAGEFAULT", "CONFIG",
	"BACKEND_SEND_FD", "HOST_NOTIFIER", "INFLIGHT_SHMFD", "RESET_DEVICE",
	"INBAND_NOTIFICATIONS", "CONFIGURE_MEM_SLOTS", "STATUS",
};

static int refuse(char *why, size_t len, int err, const char *fmt, ...)
	PRINTF_FMT(4, 5);
static int refuse(char *why, size_t len, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return err;
}

/* Ring index carried by the payload, per the row's flags. */
static int check_ring(const struct vu_dev *dev, const struct vu_rule *r,
		      const struct vu_msg *msg, char *why, size_t len)
{
	uint64_t idx;

	if (r->flags & VU_R_RING_U64) {
		uint64_t v = msg->payload.u64;
		if (v & ~(uint64_t)(VU_VRING_IDX_MASK | VU_VRING_NOFD_MASK))
			return refuse(why, len, -EINVAL, "%s: payload 0x%llx "
				      "has bits other than index and no-fd set",
				      r->name, (unsigned long long)v);
		idx = v & VU_VRING_IDX_MASK;
	} else {
		idx = msg->payload.state.index;
	}
	if (idx >= dev->nvrings)
		return refuse(why, len, -ERANGE, "%s: vring index %llu out of "
			      "range (device has %u rings)", r->name,
			      (unsigned long long)idx, dev->nvrings);
	return 0;
}

int vu_validate(const struct vu_dev *dev, const struct vu_msg *msg, int nfds,
		char *why, size_t len)
{
	const struct vu_hdr *h = &msg->hdr;
	const struct vu_rule *r = vu_rule_get(h->request);

	if (h->flags & ~VU_FLAGS_REQ_VALID)
		return refuse(why, len, -EPROTO, "request %u (%s): flags 0x%x "
			      "have bits a request may not carry",
			      h->request, vu_request_name(h->request), h->flags);
	if (!r)
		return refuse(why, len, -ENOSYS, "unknown request id %u "
			      "(size %u)", h->request, h->size);
	if (!r->handler)
		return refuse(why, len, -ENOTSUP, "%s (%u) %s", r->name,
			      h->request, r->why_not);
	if (h->size < r->size_min || h->size > r->size_max)
		return refuse(why, len, -EINVAL, "%s: payload size %u, expected "
			      "%u..%u", r->name, h->size, r->size_min,
			      r->size_max);
	if (nfds < r->fds_min || nfds > r->fds_max)
		return refuse(why, len, -EINVAL, "%s: %d fds attached, expected "
			      "%u..%u", r->name, nfds, r->fds_min, r->fds_max);
	if ((r->flags & (VU_R_PF_OFFER | VU_R_PF_ACKED)) &&
	    !(dev->cfg.features & BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES)))
		return refuse(why, len, -EPERM, "%s: PROTOCOL_FEATURES is not "
			      "offered", r->name);
	/* QEMU sends SET_VRING_ENABLE when the device is realized, before
	 * SET_FEATURES (hw/net/virtio-net.c peer_attach): refuse it only once
	 * the front-end acked features without PROTOCOL_FEATURES. */
	if ((r->flags & VU_R_PF_ACKED) && dev->features_set &&
	    !(dev->features & BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES)))
		return refuse(why, len, -EPERM, "%s: PROTOCOL_FEATURES was not "
			      "negotiated (features 0x%llx)", r->name,
			      (unsigned long long)dev->features);
	if (r->proto_bit != VU_NO_PF &&
	    !(dev->protocol_features & BIT_ULL(r->proto_bit)))
		return refuse(why, len, -EPERM, "%s: protocol feature %s (bit "
			      "%d) was not negotiated", r->name,
			      pf_names[r->proto_bit], r->proto_bit);
	if (r->flags & (VU_R_RING_ST | VU_R_RING_U64)) {
		int err = check_ring(dev, r, msg, why, len);
		if (err)
			return err;
	}
	if ((r->flags & VU_R_NEED_MEM) && dev->mem.table == NULL)
		return refuse(why, len, -EINVAL, "%s before any memory table "
			      "(SET_MEM_TABLE/ADD_MEM_REG)", r->name);
	return 0;
}
