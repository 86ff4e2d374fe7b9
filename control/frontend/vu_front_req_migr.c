/* SPDX-License-Identifier: MIT */
/* vu_front_req_migr.c: postcopy, inflight tracking, shared objects and
 * device state transfer: the requests that hand fds back to us. */
#include <errno.h>
#include <string.h>

#include "vu_front_priv.h"
#include "vu_front_req.h"
#include "../wire/vu_msg.h"

/* SET_DEVICE_STATE_FD's u64 reply: bits 0-7 error, bit 8 no fd. */
#define STATE_ERR_MASK  0xffu
#define STATE_NOFD      (1u << 8)

int vu_front_postcopy_advise(struct vu_front *f, int *ufd)
{
	struct vu_msg r;
	int fds[VU_MAX_FDS], n = 0;
	int ret = vu_front_xact_full(f, VU_REQ_POSTCOPY_ADVISE, 0, NULL, 0,
				     NULL, 0, &r, fds, &n);

	if (ret < 0)
		return ret;
	/* QEMU takes an empty reply with the userfaultfd attached. */
	if (n != 1) {
		vu_close_fds(fds, n);
		return vu_front_fail(f, n ? -EPROTO : -EIO, "POSTCOPY_ADVISE "
				     "answered with %d fds (%u bytes), want "
				     "the userfaultfd", n, r.hdr.size);
	}
	*ufd = fds[0];
	return 0;
}

int vu_front_postcopy_listen(struct vu_front *f)
{
	int ret = vu_front_xact(f, VU_REQ_POSTCOPY_LISTEN, NULL, 0, NULL, 0);

	if (ret == 0)
		f->postcopy_listening = true;
	return ret;
}

int vu_front_postcopy_end(struct vu_front *f)
{
	int ret = vu_front_xact_u64(f, VU_REQ_POSTCOPY_END, NULL, 0, NULL, 0,
				    NULL, NULL, NULL);

	if (ret == 0)
		f->postcopy_listening = false;
	return ret;
}

int vu_front_get_inflight_fd(struct vu_front *f, uint16_t num_queues,
			     uint16_t queue_size, struct vu_inflight *out,
			     int *fd)
{
	struct vu_inflight in = {.num_queues = num_queues,
				 .queue_size = queue_size};
	struct vu_msg r;
	int fds[VU_MAX_FDS], n = 0;
	int ret = vu_front_xact_full(f, VU_REQ_GET_INFLIGHT_FD, 0, &in,
				     sizeof(in), NULL, 0, &r, fds, &n);

	if (ret < 0)
		return ret;
	if (r.hdr.size != sizeof(in) || n > 1 ||
	    (n == 0) != (r.payload.inflight.mmap_size == 0)) {
		vu_close_fds(fds, n);
		return vu_front_fail(f, -EPROTO, "GET_INFLIGHT_FD answered "
				     "with %u bytes, %d fds, mmap_size %llu",
				     r.hdr.size, n, (unsigned long long)
				     r.payload.inflight.mmap_size);
	}
	*out = r.payload.inflight;
	*fd = n ? fds[0] : -1;
	return 0;
}

int vu_front_set_inflight_fd(struct vu_front *f, const struct vu_inflight *in,
			     int fd)
{
	return vu_front_xact(f, VU_REQ_SET_INFLIGHT_FD, in, sizeof(*in), &fd,
			     1);
}

int vu_front_get_shared_object(struct vu_front *f, const uint8_t uuid[16],
			       int *fd)
{
	struct vu_shared s;
	struct vu_msg r;
	int fds[VU_MAX_FDS], n = 0;

	memcpy(s.uuid, uuid, sizeof(s.uuid));
	int ret = vu_front_xact_full(f, VU_REQ_GET_SHARED_OBJECT, 0, &s,
				     sizeof(s), NULL, 0, &r, fds, &n);
	if (ret < 0)
		return ret;
	if (n != 1) {
		vu_close_fds(fds, n);
		return vu_front_fail(f, n ? -EPROTO : -ENOENT,
				     "GET_SHARED_OBJECT answered with %d fds",
				     n);
	}
	*fd = fds[0];
	return 0;
}

int vu_front_set_device_state_fd(struct vu_front *f, uint32_t direction,
				 uint32_t phase, int fd, int *backend_fd)
{
	struct vu_transfer_state t = {.direction = direction, .phase = phase};
	bool ack = vu_front_has_protocol(f, VU_PROTOCOL_F_REPLY_ACK);
	struct vu_msg r;
	int fds[VU_MAX_FDS], n = 0;
	int ret = vu_front_xact_full(f, VU_REQ_SET_DEVICE_STATE_FD,
				     ack ? VU_FLAG_NEED_REPLY : 0, &t,
				     sizeof(t), &fd, 1, &r, fds, &n);

	*backend_fd = -1;
	if (ret < 0)
		return ret;
	uint64_t st = r.payload.u64;
	bool nofd = st & STATE_NOFD;
	if (r.hdr.size != sizeof(st) || (st & STATE_ERR_MASK) || (st >> 9) ||
	    nofd != (n == 0) || n > 1) {
		vu_close_fds(fds, n);
		bool refused = r.hdr.size == sizeof(st) && (st & STATE_ERR_MASK);
		return vu_front_fail(f, refused ? vu_front_ack_to_errno(
				     st & STATE_ERR_MASK) : -EPROTO,
				     "SET_DEVICE_STATE_FD answered %u bytes, "
				     "0x%llx, with %d fds", r.hdr.size,
				     (unsigned long long)st, n);
	}
	*backend_fd = n ? fds[0] : -1;
	return 0;
}

int vu_front_check_device_state(struct vu_front *f)
{
	return vu_front_xact_u64(f, VU_REQ_CHECK_DEVICE_STATE, NULL, 0, NULL,
				 0, NULL, NULL, NULL);
}
