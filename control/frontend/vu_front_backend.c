/* SPDX-License-Identifier: MIT */
/* vu_front_backend.c: the back-end request channel (SET_BACKEND_REQ_FD):
 * receive, check, hand to callbacks, reply. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "../../datapath/log.h"
#include "vu_front_priv.h"
#include "../wire/vu_msg.h"

#define NO_BIT (-1)

/* What each back-end message may be: payload size, fds at most, the
 * protocol feature and the virtio feature it needs. */
struct backend_rule {
	uint32_t size;
	int max_fds;
	int proto_bit;
	int virtio_bit;
};

static const struct backend_rule rules[VU_BACKEND_MAX] = {
	[VU_BACKEND_IOTLB_MSG] = {sizeof(struct vu_iotlb), 0, NO_BIT,
				  VIRTIO_F_IOMMU_PLATFORM},
	[VU_BACKEND_CONFIG_CHANGE_MSG] = {0, 0, VU_PROTOCOL_F_CONFIG, NO_BIT},
	[VU_BACKEND_VRING_HOST_NOTIFIER_MSG] = {sizeof(struct vu_vring_area),
						1, VU_PROTOCOL_F_HOST_NOTIFIER,
						NO_BIT},
	[VU_BACKEND_VRING_CALL] = {sizeof(struct vu_vring_state), 0,
				   VU_PROTOCOL_F_INBAND_NOTIFICATIONS, NO_BIT},
	[VU_BACKEND_VRING_ERR] = {sizeof(struct vu_vring_state), 0,
				  VU_PROTOCOL_F_INBAND_NOTIFICATIONS, NO_BIT},
	[VU_BACKEND_SHARED_OBJECT_ADD] = {sizeof(struct vu_shared), 0,
					  VU_PROTOCOL_F_SHARED_OBJECT, NO_BIT},
	[VU_BACKEND_SHARED_OBJECT_REMOVE] = {sizeof(struct vu_shared), 0,
					     VU_PROTOCOL_F_SHARED_OBJECT,
					     NO_BIT},
	[VU_BACKEND_SHARED_OBJECT_LOOKUP] = {sizeof(struct vu_shared), 0,
					     VU_PROTOCOL_F_SHARED_OBJECT,
					     NO_BIT},
};

int vu_front_set_backend_req_fd(struct vu_front *f, int fd)
{
	return vu_front_xact(f, VU_REQ_SET_BACKEND_REQ_FD, NULL, 0, &fd, 1);
}

int vu_front_backend_open(struct vu_front *f,
			  const struct vu_front_backend_ops *ops, void *arg)
{
	int sv[2];

	if (f->backend_fd >= 0)
		return -EBUSY;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	/* Our reads and replies are bounded like the main socket's. */
	struct timeval tv = {.tv_sec = f->io_timeout_ms / 1000,
			     .tv_usec = (f->io_timeout_ms % 1000) * 1000};
	if (setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
		int err = -errno;
		close(sv[0]);
		close(sv[1]);
		return err;
	}
	int ret = vu_front_set_backend_req_fd(f, sv[1]);
	close(sv[1]);
	if (ret < 0) {
		close(sv[0]);
		return ret;
	}
	f->backend_fd = sv[0];
	f->backend_ops = ops ? *ops : (struct vu_front_backend_ops){0};
	f->backend_arg = arg;
	return 0;
}

int vu_front_backend_fd(const struct vu_front *f)
{
	return f->backend_fd;
}

void vu_front_backend_close(struct vu_front *f)
{
	if (f->backend_fd >= 0)
		close(f->backend_fd);
	f->backend_fd = -1;
}

/* The check of m (with nfds fds) against its rule and what was acked:
 * 0 or a negative errno with the reason recorded. */
static int backend_check(struct vu_front *f, const struct vu_msg *m,
			 int nfds)
{
	const struct vu_hdr *h = &m->hdr;
	const char *name = vu_backend_request_name(h->request);

	if (h->flags & ~VU_FLAGS_REQ_VALID)
		return vu_front_fail(f, -EPROTO, "back-end channel: %s with "
				     "flags 0x%x", name, h->flags);
	if (h->request == 0 || h->request >= VU_BACKEND_MAX)
		return vu_front_fail(f, -ENOSYS, "back-end channel: unknown "
				     "request %u", h->request);
	const struct backend_rule *r = &rules[h->request];
	if (h->size != r->size)
		return vu_front_fail(f, -EINVAL, "back-end channel: %s with "
				     "%u bytes, want %u", name, h->size,
				     r->size);
	if (nfds > r->max_fds)
		return vu_front_fail(f, -EINVAL, "back-end channel: %s with "
				     "%d fds, at most %d", name, nfds,
				     r->max_fds);
	if (r->proto_bit != NO_BIT && !vu_front_has_protocol(f, r->proto_bit))
		return vu_front_fail(f, -EPERM, "back-end channel: %s without "
				     "protocol feature %d acked", name,
				     r->proto_bit);
	if (r->virtio_bit != NO_BIT &&
	    !(f->features_acked & BIT_ULL(r->virtio_bit)))
		return vu_front_fail(f, -EPERM, "back-end channel: %s without "
				     "feature bit %d acked", name,
				     r->virtio_bit);
	return 0;
}

/* HOST_NOTIFIER: index and no-fd flag must agree with the fd count. */
static int host_notifier(struct vu_front *f, const struct vu_vring_area *a,
			 int *fds, int nfds)
{
	const struct vu_front_backend_ops *o = &f->backend_ops;
	bool nofd = a->u64 & VU_VRING_NOFD_MASK;

	if (a->u64 & ~(uint64_t)(VU_VRING_IDX_MASK | VU_VRING_NOFD_MASK))
		return vu_front_fail(f, -EINVAL, "back-end channel: host "
				     "notifier u64 0x%llx has unknown bits",
				     (unsigned long long)a->u64);
	if (nofd != (nfds == 0))
		return vu_front_fail(f, -EINVAL, "back-end channel: host "
				     "notifier no-fd flag %d with %d fds",
				     nofd, nfds);
	if (nfds && !vu_front_has_protocol(f, VU_PROTOCOL_F_BACKEND_SEND_FD))
		return vu_front_fail(f, -EPERM, "back-end channel: host "
				     "notifier fd without BACKEND_SEND_FD");
	if (!o->host_notifier)
		return -EOPNOTSUPP;
	int fd = nfds ? fds[0] : -1;
	fds[0] = -1; /* the callback owns it now */
	return o->host_notifier(f->backend_arg,
				(uint32_t)(a->u64 & VU_VRING_IDX_MASK), fd,
				a->size, a->offset);
}

/* In-band call/err: state.num is reserved and must be 0. */
static int inband(struct vu_front *f, const struct vu_vring_state *s,
		  int (*fn)(void *, uint32_t))
{
	if (s->num != 0)
		return vu_front_fail(f, -EINVAL, "back-end channel: in-band "
				     "notification of ring %u with num %u",
				     s->index, s->num);
	return fn ? fn(f->backend_arg, s->index) : -EOPNOTSUPP;
}

/* Serve a checked message; *out_fd gets LOOKUP's fd. */
static int backend_serve(struct vu_front *f, const struct vu_msg *m,
			 int *fds, int nfds, int *out_fd)
{
	const struct vu_front_backend_ops *o = &f->backend_ops;
	union vu_payload pl; /* an aligned copy: struct vu_msg is packed */
	const union vu_payload *p = &pl;
	void *a = f->backend_arg;

	memcpy(&pl, &m->payload, m->hdr.size); /* size checked exactly */

	switch (m->hdr.request) {
	case VU_BACKEND_IOTLB_MSG:
		if (p->iotlb.type != VU_IOTLB_MISS &&
		    p->iotlb.type != VU_IOTLB_ACCESS_FAIL)
			return vu_front_fail(f, -EINVAL, "back-end channel: "
					     "IOTLB message type %u (want miss "
					     "or access fail)", p->iotlb.type);
		return o->iotlb ? o->iotlb(a, &p->iotlb) : -EOPNOTSUPP;
	case VU_BACKEND_CONFIG_CHANGE_MSG:
		return o->config_change ? o->config_change(a) : -EOPNOTSUPP;
	case VU_BACKEND_VRING_HOST_NOTIFIER_MSG:
		return host_notifier(f, &p->area, fds, nfds);
	case VU_BACKEND_VRING_CALL:
		return inband(f, &p->state, o->vring_call);
	case VU_BACKEND_VRING_ERR:
		return inband(f, &p->state, o->vring_err);
	case VU_BACKEND_SHARED_OBJECT_ADD:
		return o->shared_add ? o->shared_add(a, p->shared.uuid)
				     : -EOPNOTSUPP;
	case VU_BACKEND_SHARED_OBJECT_REMOVE:
		return o->shared_remove ? o->shared_remove(a, p->shared.uuid)
					: -EOPNOTSUPP;
	default: /* LOOKUP: backend_check() let only known ids through */
		return o->shared_lookup ? o->shared_lookup(a, p->shared.uuid,
							   out_fd)
					: -EOPNOTSUPP;
	}
}

/* The reply the spec asks for, if any: a u64 status, plus LOOKUP's fd. */
static int backend_reply(struct vu_front *f, const struct vu_msg *m, int err,
			 int fd)
{
	bool lookup = m->hdr.request == VU_BACKEND_SHARED_OBJECT_LOOKUP;
	struct vu_msg r = {.hdr = {.request = m->hdr.request,
				   .flags = VU_VERSION | VU_FLAG_REPLY,
				   .size = sizeof(uint64_t)}};

	if (!lookup && !((m->hdr.flags & VU_FLAG_NEED_REPLY) &&
			 vu_front_has_protocol(f, VU_PROTOCOL_F_REPLY_ACK)))
		return 0;
	r.payload.u64 = err < 0 ? (uint64_t)-err : 0;
	bool send_fd = lookup && err == 0 && fd >= 0;
	int ret = vu_msg_send(f->backend_fd, &r, &fd, send_fd ? 1 : 0);
	if (ret < 0)
		return vu_front_fail(f, ret, "back-end channel: cannot reply "
				     "to %s: %s",
				     vu_backend_request_name(m->hdr.request),
				     strerror(-ret));
	return 0;
}

int vu_front_backend_poll(struct vu_front *f, int timeout_ms)
{
	struct pollfd p = {.fd = f->backend_fd, .events = POLLIN};
	struct vu_msg m;
	int fds[VU_MAX_FDS], nfds = 0, out_fd = -1, n;

	if (f->backend_fd < 0)
		return -ENOTCONN;
	do {
		n = poll(&p, 1, timeout_ms < 0 ? 0 : timeout_ms);
	} while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n < 0 ? -errno : 0;
	n = vu_msg_recv(f->backend_fd, &m, fds, &nfds);
	if (n < 0) {
		vu_front_backend_close(f);
		return vu_front_fail(f, n, "back-end channel closed: %s",
				     strerror(-n));
	}
	int err = backend_check(f, &m, nfds);
	if (err == 0)
		err = backend_serve(f, &m, fds, nfds, &out_fd);
	vu_close_fds(fds, nfds);
	if (err < 0)
		LOG_WARN(VU_FRONT_LOG_TAG, "back-end channel: %s refused: %s",
			 vu_backend_request_name(m.hdr.request),
			 strerror(-err));
	int ret = backend_reply(f, &m, err, out_fd);
	if (ret < 0) {
		vu_front_backend_close(f);
		return ret;
	}
	return 1;
}
