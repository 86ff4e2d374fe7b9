/* SPDX-License-Identifier: MIT */
/*
 * vq.c: what every virtqueue format shares: set-up from the control plane's
 * configuration, the error reasons' texts, marking a queue broken, and
 * the slow paths both formats use.  The split ring operations are in
 * vq_split.c, the packed ones in vq_packed.c.
 */
#include "vq_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "vq_pos.h"

static const char *const vq_error_texts[VQ_ERR_MAX] = {
#define VQ_X_TEXT(name, text) [VQ_ERR_##name] = text,
	VQ_ERRORS(VQ_X_TEXT)
#undef VQ_X_TEXT
};

const char *vq_error_text(enum vq_error e)
{
	if ((unsigned)e >= VQ_ERR_MAX)
		return "unknown error";
	return vq_error_texts[e];
}

/*
 * Device-side notification suppression (virtio 1.x 2.7.10, "Available
 * Buffer Notification Suppression").  vhostd busy-polls, so it never wants
 * a kick:
 *  - without EVENT_IDX the device "MAY set flags to 1": VRING_USED_F_NO_NOTIFY;
 *  - with EVENT_IDX the device "MUST set flags to 0" and advertises
 *    avail_event instead (written here and at every flush, see
 *    vq_split_flush()).
 */
static void vq_init_used_flags(struct vq *vq, uint16_t last_avail)
{
	uint16_t flags = (uint16_t)(vq->event_idx ? 0 : VRING_USED_F_NO_NOTIFY);

	__atomic_store_n(&vq->used->flags, flags, __ATOMIC_RELAXED);
	if (vq->event_idx)
		__atomic_store_n(vring_avail_event(vq->used, vq->size),
				 (uint16_t)(last_avail - 1), __ATOMIC_RELAXED);
	if (vq->log != NULL && vq->log_used) {
		vq_log_write(vq, vq->used_gpa, sizeof(uint16_t));
		if (vq->event_idx)
			vq_log_write(vq, vq->used_gpa +
				     offsetof(struct vring_used, ring) +
				     (uint64_t)vq->size *
				     sizeof(struct vring_used_elem),
				     sizeof(uint16_t));
	}
}

/*
 * Packed ring (Driver and Device Event Suppression): the device area is write-only for the device.
 * vhostd polls, so it asks for no available buffer notification at all:
 * RING_EVENT_FLAGS_DISABLE, valid with or without EVENT_IDX, written once.
 */
static void vq_init_packed(struct vq *vq, const struct vq_cfg *cfg)
{
	vq->last_avail = cfg->last_avail;
	vq->avail_wrap = cfg->avail_wrap;
	vq->used_idx = cfg->used_idx;
	vq->used_wrap = cfg->used_wrap;
	vq->signalled_used = vq->used_idx;
	vq->signalled_wrap = vq->used_wrap;
	vq->desc_gpa = cfg->desc_gpa;
	vq->pos = cfg->pos;
	if (vq->pos)
		vq_pos_live(vq->pos, vq->size, vq->desc_gpa, vq->used_idx,
			    vq->used_wrap);
	__atomic_store_n(&vq->device->off_wrap, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&vq->device->flags,
			 (uint16_t)VRING_PACKED_EVENT_DISABLE, __ATOMIC_RELAXED);
	if (vq->log != NULL && vq->log_used)
		vq_log_write(vq, vq->used_gpa,
			     sizeof(struct vring_packed_event));
}

void vq_init(struct vq *vq, const struct vq_cfg *cfg)
{
	memset(vq, 0, sizeof(*vq));
	vq->desc = cfg->desc;
	vq->avail = cfg->avail;
	vq->used = cfg->used;
	vq->mem = cfg->mem;
	vq->size = cfg->size;
	vq->mask = (uint16_t)(cfg->size - 1);
	vq->event_idx = cfg->event_idx;
	vq->indirect = cfg->indirect;
	vq->mrg_rxbuf = cfg->mrg_rxbuf;
	vq->in_order = cfg->in_order;
	vq->tx = cfg->tx;
	vq->log = cfg->log;
	vq->used_gpa = cfg->used_gpa;
	vq->log_used = cfg->log_used;
	vq->call_fd = cfg->call_fd;
	vq->err_fd = cfg->err_fd;
	vq->index = cfg->index;
	vq->dev_name = cfg->dev_name;
	if (cfg->packed) {
		vq->packed = true;
		vq_init_packed(vq, cfg);
		return;
	}
	vq->last_avail = cfg->last_avail;
	vq->avail_seen = cfg->last_avail;
	/* The used index lives in guest memory: after a reconnect or a
	 * migration it is where the previous device left it. */
	vq->used_idx = __atomic_load_n(&cfg->used->idx, __ATOMIC_ACQUIRE);
	vq->signalled_used = vq->used_idx;
	vq_init_used_flags(vq, cfg->last_avail);
}

void vq_init_port(struct vq *vq, const struct vq_port_ops *ops, void *q,
		  bool tx, const char *name, uint32_t index)
{
	memset(vq, 0, sizeof(*vq));
	vq->port = ops;
	vq->port_q = q;
	vq->tx = tx;
	vq->call_fd = vq->err_fd = -1;
	vq->dev_name = name;
	vq->index = index;
}

/*
 * Once per queue life: the first reason wins, later calls (there should be
 * none: every operation checks broken first) change nothing, so errors[]
 * holds exactly one count per broken queue.
 */
void vq_set_broken(struct vq *vq, enum vq_error e, uint64_t value)
{
	if (vq->broken)
		return;
	__atomic_store_n(&vq->broken, true, __ATOMIC_RELAXED); /* stats read it */
	if ((unsigned)e < VQ_ERR_MAX)
		STAT_INC(vq->stats.errors[e]);
	VLOG_RL(VLOG_LVL_ERR, "vq", "%s: queue %" PRIu32 " broken: %s (value %"
		PRIu64 ")", vq->dev_name ? vq->dev_name : "?", vq->index,
		vq_error_text(e), value);
	if (vq->err_fd >= 0 && write(vq->err_fd, &(uint64_t){1},
				     sizeof(uint64_t)) < 0 && errno == EINTR) {
		/* See vq_notify(): the front-end made it blocking and full,
		 * and the worker was interrupted out of the write. */
		VLOG_RL(VLOG_LVL_ERR, "vq", "%s: queue %" PRIu32 ": error "
			"eventfd %d blocked (front-end made it blocking and "
			"full): no longer signalled",
			vq->dev_name ? vq->dev_name : "?", vq->index,
			vq->err_fd);
		vq->err_fd = -1;
	}
}

bool vq_read_gpa(struct vq *vq, uint64_t gpa, void *dst, uint32_t len)
{
	uint8_t *d = dst;

	while (len != 0) {
		uint64_t contig;
		const uint8_t *p = gmem_gpa_contig(vq->mem, gpa, len, &contig,
						   &vq->mem_hint);
		if (p == NULL)
			return false;
		memcpy(d, p, contig);
		d += contig;
		gpa += contig;
		len -= (uint32_t)contig;
	}
	return true;
}

bool vq_indirect_table(struct vq *vq, uint64_t addr, uint32_t len,
		       uint16_t flags, uint32_t at, const uint8_t **tbl)
{
	if (unlikely(!vq->indirect))
		return vq_fail(vq, VQ_ERR_INDIRECT_OFF, flags);
	if (unlikely(flags & VRING_DESC_F_NEXT))
		return vq_fail(vq, VQ_ERR_INDIRECT_NEXT, at);
	if (unlikely(len == 0 || (len & (VQ_DESC_BYTES - 1)) != 0 ||
		     len / VQ_DESC_BYTES > vq->size))
		return vq_fail(vq, VQ_ERR_INDIRECT_LEN, len);
	if (unlikely(addr + (len - 1) < addr))
		return vq_fail(vq, VQ_ERR_ADDR, addr);
	*tbl = gmem_gpa_to_hva(vq->mem, addr, len, &vq->mem_hint);
	if (unlikely(*tbl == NULL) && !vq_range_is_guest(vq, addr, len))
		return vq_fail(vq, VQ_ERR_ADDR, addr);
	return true;
}

bool vq_range_is_guest(struct vq *vq, uint64_t gpa, uint64_t len)
{
	while (len != 0) {
		uint64_t contig;
		if (gmem_gpa_contig(vq->mem, gpa, len, &contig,
				    &vq->mem_hint) == NULL)
			return false;
		gpa += contig;
		len -= contig;
	}
	return true;
}

/*
 * A write to an eventfd fails only when the counter would pass
 * 0xfffffffffffffffe.  The control plane made the fd non-blocking
 * (vu_ring.c), so that is EAGAIN: the counter is not zero, the guest's
 * wait sees it, nothing is lost.  But O_NONBLOCK belongs to the open file,
 * which the front-end shares: one that clears it and fills the counter
 * makes the write sleep until someone reads, i.e. forever, with every
 * queue this worker polls.  The control thread interrupts a worker whose
 * epoch stands still (worker.h, WK_INTERRUPT_MS): the write returns EINTR,
 * and this queue is broken and never written to again.
 */
static void vq_call_failed(struct vq *vq)
{
	if (errno != EINTR)
		return;
	int fd = vq->call_fd;

	vq->call_fd = -1;
	vq_set_broken(vq, VQ_ERR_CALL_BLOCKED, (uint64_t)fd);
}

void vq_notify(struct vq *vq)
{
	if (vq->call_fd < 0)
		return;
	if (unlikely(write(vq->call_fd, &(uint64_t){1}, sizeof(uint64_t)) < 0))
		vq_call_failed(vq);
	STAT_INC(vq->stats.notifications);
}
