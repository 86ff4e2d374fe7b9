/* SPDX-License-Identifier: MIT */
/* vu_front_req_dev.c: device requests: owner reset, log fd, RARP, MTU,
 * IOTLB, config space, crypto sessions, GPU socket, reset, status. */
#include <errno.h>
#include <string.h>

#include "vu_front_priv.h"
#include "vu_front_req.h"

static int set_u64(struct vu_front *f, uint32_t req, uint64_t v)
{
	return vu_front_xact(f, req, &v, sizeof(v), NULL, 0);
}

int vu_front_reset_owner(struct vu_front *f)
{
	return vu_front_xact(f, VU_REQ_RESET_OWNER, NULL, 0, NULL, 0);
}

int vu_front_set_log_fd(struct vu_front *f, int fd)
{
	return vu_front_xact(f, VU_REQ_SET_LOG_FD, NULL, 0, &fd, 1);
}

int vu_front_send_rarp(struct vu_front *f, const uint8_t mac[6])
{
	uint64_t v = 0;

	memcpy(&v, mac, 6);
	return set_u64(f, VU_REQ_SEND_RARP, v);
}

int vu_front_net_set_mtu(struct vu_front *f, uint64_t mtu)
{
	return set_u64(f, VU_REQ_NET_SET_MTU, mtu);
}

int vu_front_iotlb_msg(struct vu_front *f, const struct vu_iotlb *msg)
{
	return vu_front_xact_u64(f, VU_REQ_IOTLB_MSG, msg, sizeof(*msg), NULL,
				 0, NULL, NULL, NULL);
}

int vu_front_get_config(struct vu_front *f, uint32_t offset, uint32_t size,
			uint32_t flags, void *buf)
{
	struct vu_config c = {.offset = offset, .size = size, .flags = flags};
	struct vu_msg r;

	if (size > VU_MAX_CONFIG_SIZE)
		return -EINVAL;
	uint32_t len = VU_CONFIG_HDR_SIZE + size;
	int ret = vu_front_xact_full(f, VU_REQ_GET_CONFIG, 0, &c, len, NULL, 0,
				     &r, NULL, NULL);
	if (ret < 0)
		return ret;
	if (r.hdr.size == 0)
		return vu_front_fail(f, -EIO, "back-end refused GET_CONFIG "
				     "offset %u size %u (empty reply)", offset,
				     size);
	if (r.hdr.size != len || r.payload.config.offset != offset ||
	    r.payload.config.size != size)
		return vu_front_fail(f, -EPROTO, "GET_CONFIG offset %u size %u "
				     "answered with %u bytes, offset %u size "
				     "%u", offset, size, r.hdr.size,
				     r.payload.config.offset,
				     r.payload.config.size);
	memcpy(buf, r.payload.config.region, size);
	return 0;
}

int vu_front_set_config(struct vu_front *f, uint32_t offset, uint32_t size,
			uint32_t flags, const void *buf)
{
	struct vu_config c = {.offset = offset, .size = size, .flags = flags};

	if (size > VU_MAX_CONFIG_SIZE)
		return -EINVAL;
	if (size)
		memcpy(c.region, buf, size);
	return vu_front_xact(f, VU_REQ_SET_CONFIG, &c,
			     VU_CONFIG_HDR_SIZE + size, NULL, 0);
}

int vu_front_create_crypto_session(struct vu_front *f, const void *desc,
				   uint32_t len, int64_t *session_id)
{
	struct vu_msg r;
	int64_t id;

	if (len < sizeof(id) || len > VU_PAYLOAD_MAX)
		return -EINVAL;
	int ret = vu_front_xact_full(f, VU_REQ_CREATE_CRYPTO_SESSION, 0, desc,
				     len, NULL, 0, &r, NULL, NULL);
	if (ret < 0)
		return ret;
	if (r.hdr.size != len)
		return vu_front_fail(f, -EPROTO, "CREATE_CRYPTO_SESSION "
				     "answered with %u bytes, want %u",
				     r.hdr.size, len);
	memcpy(&id, r.payload.raw, sizeof(id));
	if (id < 0)
		return vu_front_fail(f, -EIO, "back-end refused "
				     "CREATE_CRYPTO_SESSION: session id %lld",
				     (long long)id);
	if (session_id)
		*session_id = id;
	return 0;
}

int vu_front_close_crypto_session(struct vu_front *f, uint64_t session_id)
{
	return set_u64(f, VU_REQ_CLOSE_CRYPTO_SESSION, session_id);
}

int vu_front_gpu_set_socket(struct vu_front *f, int fd)
{
	return vu_front_xact(f, VU_REQ_GPU_SET_SOCKET, NULL, 0, &fd, 1);
}

int vu_front_reset_device(struct vu_front *f)
{
	return vu_front_xact(f, VU_REQ_RESET_DEVICE, NULL, 0, NULL, 0);
}

int vu_front_set_status(struct vu_front *f, uint8_t status)
{
	return set_u64(f, VU_REQ_SET_STATUS, status);
}

int vu_front_get_status(struct vu_front *f, uint8_t *status)
{
	uint64_t v;
	int ret = vu_front_xact_reply(f, VU_REQ_GET_STATUS, NULL, 0, NULL, 0,
				      &v, sizeof(v));

	if (ret < 0)
		return ret;
	if (v > 0xff)
		return vu_front_fail(f, -EPROTO, "GET_STATUS answered 0x%llx, "
				     "not a status byte",
				     (unsigned long long)v);
	if (status)
		*status = (uint8_t)v;
	return 0;
}
