/* SPDX-License-Identifier: MIT */
/* vu_front_xact.c: one request, its reply or REPLY_ACK ack. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../../datapath/log.h"
#include "vu_front_priv.h"
#include "../wire/vu_msg.h"

int vu_front_ack_to_errno(uint64_t ack)
{
	if (ack == 0)
		return 0;
	/* vhostd acks with a positive errno; DPDK and libvhost-user with 1. */
	if (ack >= 2 && ack < 4096)
		return -(int)ack;
	return -EIO;
}

int vu_front_fail(struct vu_front *f, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->why, sizeof(f->why), fmt, ap);
	va_end(ap);
	LOG_WARN(VU_FRONT_LOG_TAG, "%s", f->why);
	return err;
}

const char *vu_front_why(const struct vu_front *f)
{
	return f->why;
}

static int front_send(struct vu_front *f, uint32_t req, uint32_t flags,
		      const void *payload, uint32_t size, const int *fds,
		      int nfds)
{
	struct vu_msg msg;

	if (size > sizeof(msg.payload))
		return -EINVAL;
	msg.hdr = (struct vu_hdr){
		.request = req, .flags = VU_VERSION | flags, .size = size,
	};
	if (size)
		memcpy(&msg.payload, payload, size);
	int ret = vu_msg_send(f->sock, &msg, fds, nfds);
	if (ret < 0)
		return vu_front_fail(f, ret, "sending %s failed: %s",
				     vu_request_name(req), strerror(-ret));
	return ret;
}

/* Receive the reply to req; size < 0: any payload size.  Fds go to
 * rfds/nrfds, or are closed (with a warning) when rfds is NULL. */
static int front_recv_fds(struct vu_front *f, uint32_t req,
			  struct vu_msg *msg, int64_t size, int *rfds,
			  int *nrfds)
{
	int fds[VU_MAX_FDS], nfds = 0;
	int ret = vu_msg_recv(f->sock, msg, fds, &nfds);

	if (nrfds)
		*nrfds = 0;
	if (ret < 0)
		return vu_front_fail(f, ret, "no reply to %s: %s",
				     vu_request_name(req), strerror(-ret));
	if (nfds > 0 && !rfds) {
		LOG_WARN(VU_FRONT_LOG_TAG, "reply to %s carried %d fds, closed",
			 vu_request_name(req), nfds);
		vu_close_fds(fds, nfds);
	}
	if (!(msg->hdr.flags & VU_FLAG_REPLY) || msg->hdr.request != req ||
	    (size >= 0 && msg->hdr.size != size)) {
		if (rfds)
			vu_close_fds(fds, nfds);
		return vu_front_fail(f, -EPROTO,
			"bad reply to %s: request %u flags 0x%x size %u, "
			"want request %u, reply flag, size %lld",
			vu_request_name(req), msg->hdr.request,
			msg->hdr.flags, msg->hdr.size, req, (long long)size);
	}
	if (rfds) {
		memcpy(rfds, fds, sizeof(int) * (size_t)nfds);
		*nrfds = nfds;
	}
	return 0;
}

static int front_recv(struct vu_front *f, uint32_t req, struct vu_msg *msg,
		      int64_t size)
{
	return front_recv_fds(f, req, msg, size, NULL, NULL);
}

int vu_front_xact_full(struct vu_front *f, uint32_t req, uint32_t flags,
		       const void *payload, uint32_t size, const int *fds,
		       int nfds, struct vu_msg *reply, int *rfds, int *nrfds)
{
	int ret = front_send(f, req, flags, payload, size, fds, nfds);

	if (nrfds)
		*nrfds = 0;
	return ret < 0 ? ret : front_recv_fds(f, req, reply, -1, rfds, nrfds);
}

int vu_front_xact_u64(struct vu_front *f, uint32_t req, const void *payload,
		      uint32_t size, const int *fds, int nfds,
		      uint64_t *status, int *rfds, int *nrfds)
{
	bool ack = vu_front_has_protocol(f, VU_PROTOCOL_F_REPLY_ACK);
	struct vu_msg reply;
	int n = 0;
	int ret = vu_front_xact_full(f, req, ack ? VU_FLAG_NEED_REPLY : 0,
				     payload, size, fds, nfds, &reply, rfds,
				     &n);

	if (nrfds)
		*nrfds = n;
	if (ret < 0)
		return ret;
	if (reply.hdr.size != sizeof(uint64_t)) {
		if (rfds)
			vu_close_fds(rfds, n);
		if (nrfds)
			*nrfds = 0;
		return vu_front_fail(f, -EPROTO, "reply to %s has %u bytes, "
				     "want a u64", vu_request_name(req),
				     reply.hdr.size);
	}
	if (status)
		*status = reply.payload.u64;
	ret = vu_front_ack_to_errno(reply.payload.u64);
	if (ret < 0)
		return vu_front_fail(f, ret, "back-end refused %s: status %llu",
				     vu_request_name(req),
				     (unsigned long long)reply.payload.u64);
	return 0;
}

int vu_front_xact(struct vu_front *f, uint32_t req, const void *payload,
		  uint32_t size, const int *fds, int nfds)
{
	bool ack = vu_front_has_protocol(f, VU_PROTOCOL_F_REPLY_ACK);
	struct vu_msg reply;
	int ret;

	ret = front_send(f, req, ack ? VU_FLAG_NEED_REPLY : 0, payload, size,
			 fds, nfds);
	if (ret < 0 || !ack)
		return ret;
	ret = front_recv(f, req, &reply, sizeof(uint64_t));
	if (ret < 0)
		return ret;
	ret = vu_front_ack_to_errno(reply.payload.u64);
	if (ret < 0)
		return vu_front_fail(f, ret, "back-end refused %s: ack %llu",
				     vu_request_name(req),
				     (unsigned long long)reply.payload.u64);
	return ret;
}

int vu_front_xact_reply(struct vu_front *f, uint32_t req, const void *payload,
			uint32_t size, const int *fds, int nfds, void *reply,
			uint32_t reply_size)
{
	struct vu_msg msg;
	int ret;

	if (reply_size > sizeof(msg.payload))
		return -EINVAL;
	ret = front_send(f, req, 0, payload, size, fds, nfds);
	if (ret < 0)
		return ret;
	ret = front_recv(f, req, &msg, reply_size);
	if (ret < 0)
		return ret;
	memcpy(reply, &msg.payload, reply_size);
	return 0;
}

int vu_front_xact_msg(struct vu_front *f, uint32_t req, const void *payload,
		      uint32_t size, const int *fds, int nfds,
		      struct vu_msg *reply)
{
	int ret = front_send(f, req, 0, payload, size, fds, nfds);

	return ret < 0 ? ret : front_recv(f, req, reply, -1);
}
