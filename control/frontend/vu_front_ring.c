/* SPDX-License-Identifier: MIT */
/* vu_front_ring.c: split and packed rings in guest memory, their eventfds
 * and the SET_VRING_* / GET_VRING_BASE messages. */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../../datapath/compiler.h"
#include "../../datapath/log.h"
#include "vu_front_priv.h"
#include "vu_front_req.h"

/* virtio 1.x 2.7 (split virtqueues): part sizes and alignments.  Packed
 * (2.8): the descriptor ring as large, a 4-byte driver area (our avail)
 * and a 4-byte device area (our used), 4 aligned. */
#define DESC_SIZE(n)  (16ULL * (n))
#define AVAIL_SIZE(pk, n) ((pk) ? 4ULL : 6ULL + 2ULL * (n))
#define USED_SIZE(pk, n)  ((pk) ? 4ULL : 6ULL + 8ULL * (n))

/* A fresh packed ring: positions 0, both wrap counters 1 (vhost-user's
 * encoding of SET_VRING_BASE; QEMU sends the same). */
#define PACKED_BASE_FRESH ((1u << 15) | (1u << 31))

static bool packed(const struct vu_front *f)
{
	return f->features_acked & BIT_ULL(VIRTIO_F_RING_PACKED);
}

/* Allocate (or zero, when num and the format are unchanged) the three
 * parts of ring vr. */
static int ring_alloc(struct vu_front *f, struct vu_front_vring *vr,
		      uint32_t num)
{
	bool pk = packed(f);

	if (vr->desc && vr->num == num && vr->packed == pk) {
		memset(vr->desc, 0, DESC_SIZE(num));
		memset(vr->avail, 0, AVAIL_SIZE(pk, num));
		memset(vr->used, 0, USED_SIZE(pk, num));
		return 0;
	}
	vr->desc = vu_guestmem_alloc(&f->mem, DESC_SIZE(num), 16,
				     &vr->desc_gpa);
	vr->avail = vu_guestmem_alloc(&f->mem, AVAIL_SIZE(pk, num), pk ? 4 : 2,
				      &vr->avail_gpa);
	vr->used = vu_guestmem_alloc(&f->mem, USED_SIZE(pk, num), 4,
				     &vr->used_gpa);
	if (!vr->desc || !vr->avail || !vr->used) {
		vr->desc = vr->avail = vr->used = NULL;
		vr->num = 0;
		return -ENOMEM;
	}
	vr->num = (uint16_t)num; /* 32768 fits; the wire carries num itself */
	vr->packed = pk;
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Fresh kick and call eventfds (the old ones are closed). */
static int ring_eventfds(struct vu_front_vring *vr)
{
	close_fd(&vr->kick_fd);
	close_fd(&vr->call_fd);
	vr->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	vr->call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (vr->kick_fd < 0 || vr->call_fd < 0) {
		int err = -errno;
		close_fd(&vr->kick_fd);
		close_fd(&vr->call_fd);
		return err;
	}
	return 0;
}

static int ring_state(struct vu_front *f, uint32_t req, uint32_t idx,
		      uint32_t num)
{
	struct vu_vring_state s = {.index = idx, .num = num};

	return vu_front_xact(f, req, &s, sizeof(s), NULL, 0);
}

static int ring_addr(struct vu_front *f, uint32_t idx,
		     const struct vu_front_vring *vr)
{
	struct vu_vring_addr a = {
		.index = idx,
		.flags = 0,
		.desc_user_addr = (uint64_t)(uintptr_t)vr->desc,
		.used_user_addr = (uint64_t)(uintptr_t)vr->used,
		.avail_user_addr = (uint64_t)(uintptr_t)vr->avail,
		.log_guest_addr = vr->used_gpa,
	};

	return vu_front_xact(f, VU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
}

static int ring_fd(struct vu_front *f, uint32_t req, uint32_t idx, int fd)
{
	uint64_t v = idx & VU_VRING_IDX_MASK;

	if (fd < 0)
		v |= VU_VRING_NOFD_MASK;
	return vu_front_xact(f, req, &v, sizeof(v), &fd, fd < 0 ? 0 : 1);
}

/* Fresh eventfds, then every message that starts ring idx at base. */
static int ring_start(struct vu_front *f, uint32_t idx, uint32_t base)
{
	struct vu_front_vring *vr = &f->vrings[idx];
	int ret = ring_eventfds(vr);

	if (ret == 0)
		ret = ring_state(f, VU_REQ_SET_VRING_NUM, idx, vr->num);
	if (ret == 0)
		ret = ring_state(f, VU_REQ_SET_VRING_BASE, idx, base);
	if (ret == 0)
		ret = ring_addr(f, idx, vr);
	if (ret == 0)
		ret = ring_fd(f, VU_REQ_SET_VRING_KICK, idx, vr->kick_fd);
	if (ret == 0)
		ret = ring_fd(f, VU_REQ_SET_VRING_CALL, idx, vr->call_fd);
	if (ret == 0 && (f->features_acked &
			 BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES)))
		ret = vu_front_vring_enable(f, idx, true);
	vr->started = ret == 0;
	return ret;
}

int vu_front_vring_setup(struct vu_front *f, uint32_t idx, uint32_t num)
{
	if (idx >= VU_FRONT_MAX_VRINGS || num == 0 ||
	    num > VU_VRING_MAX_SIZE || (!packed(f) && !is_pow2_u32(num)))
		return -EINVAL;
	if (!f->mem_ready)
		return -ENOMEM;
	int ret = ring_alloc(f, &f->vrings[idx], num);
	if (ret == 0)
		ret = ring_start(f, idx, packed(f) ? PACKED_BASE_FRESH : 0);
	return ret;
}

int vu_front_vring_restart(struct vu_front *f, uint32_t idx, uint32_t base)
{
	if (idx >= VU_FRONT_MAX_VRINGS || !f->vrings[idx].num)
		return -EINVAL;
	if (f->vrings[idx].started)
		return -EBUSY;
	return ring_start(f, idx, base);
}

int vu_front_setup_queues(struct vu_front *f, uint32_t pairs, uint32_t num)
{
	if (pairs == 0 || pairs > VU_FRONT_MAX_VRINGS / 2)
		return -EINVAL;
	for (uint32_t i = 0; i < 2 * pairs; i++) {
		int ret = vu_front_vring_setup(f, i, num);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int vu_front_vring_enable(struct vu_front *f, uint32_t idx, bool enable)
{
	if (idx >= VU_FRONT_MAX_VRINGS)
		return -EINVAL;
	if (!(f->features_acked & BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES)))
		return -EOPNOTSUPP;
	int ret = ring_state(f, VU_REQ_SET_VRING_ENABLE, idx, enable);
	if (ret == 0)
		f->vrings[idx].enabled = enable;
	return ret;
}

int vu_front_vring_stop(struct vu_front *f, uint32_t idx, uint32_t *base)
{
	struct vu_vring_state s = {.index = idx, .num = 0}, r;

	if (idx >= VU_FRONT_MAX_VRINGS)
		return -EINVAL;
	int ret = vu_front_xact_reply(f, VU_REQ_GET_VRING_BASE, &s, sizeof(s),
				      NULL, 0, &r, sizeof(r));
	if (ret < 0)
		return ret;
	if (r.index != idx) {
		LOG_WARN(VU_FRONT_LOG_TAG,
			 "GET_VRING_BASE for ring %u answered for ring %u",
			 idx, r.index);
		return -EPROTO;
	}
	f->vrings[idx].started = false;
	if (base)
		*base = r.num;
	return 0;
}

/* The single ring requests (vu_front_req.h), for tests and tools. */
int vu_front_set_vring_num(struct vu_front *f, uint32_t idx, uint32_t num)
{
	return ring_state(f, VU_REQ_SET_VRING_NUM, idx, num);
}

int vu_front_set_vring_base(struct vu_front *f, uint32_t idx, uint32_t base)
{
	return ring_state(f, VU_REQ_SET_VRING_BASE, idx, base);
}

int vu_front_set_vring_endian(struct vu_front *f, uint32_t idx, bool big)
{
	return ring_state(f, VU_REQ_SET_VRING_ENDIAN, idx, big ? 1 : 0);
}

int vu_front_vring_kick_inband(struct vu_front *f, uint32_t idx)
{
	return ring_state(f, VU_REQ_VRING_KICK, idx, 0);
}

int vu_front_set_vring_addr(struct vu_front *f,
			    const struct vu_vring_addr *addr)
{
	return vu_front_xact(f, VU_REQ_SET_VRING_ADDR, addr, sizeof(*addr),
			     NULL, 0);
}

int vu_front_set_vring_kick(struct vu_front *f, uint32_t idx, int fd)
{
	return ring_fd(f, VU_REQ_SET_VRING_KICK, idx, fd);
}

int vu_front_set_vring_call(struct vu_front *f, uint32_t idx, int fd)
{
	return ring_fd(f, VU_REQ_SET_VRING_CALL, idx, fd);
}

int vu_front_set_vring_err(struct vu_front *f, uint32_t idx, int fd)
{
	if (idx >= VU_FRONT_MAX_VRINGS)
		return -EINVAL;
	return ring_fd(f, VU_REQ_SET_VRING_ERR, idx, fd);
}

const struct vu_front_vring *vu_front_vring(const struct vu_front *f,
					    uint32_t idx)
{
	return idx < VU_FRONT_MAX_VRINGS ? &f->vrings[idx] : NULL;
}

int vu_front_kick(struct vu_front *f, uint32_t idx)
{
	uint64_t one = 1;

	if (idx >= VU_FRONT_MAX_VRINGS || f->vrings[idx].kick_fd < 0)
		return -EBADF;
	if (write(f->vrings[idx].kick_fd, &one, sizeof(one)) < 0 &&
	    errno != EAGAIN)
		return -errno; /* EAGAIN: counter saturated, still signalled */
	return 0;
}
