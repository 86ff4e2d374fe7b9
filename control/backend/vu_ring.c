/* SPDX-License-Identifier: MIT */
#include "vu_ring.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../datapath/log.h"
#include "../../datapath/vring.h"
#include "vu_table.h"

#define TAG "vu"

/* virtio 1.x 2.7 (split virtqueues): part sizes and alignments. */
#define DESC_SIZE 16u
#define AVAIL_SIZE(n) (6u + 2u * (uint64_t)(n))  /* incl. used_event */
#define USED_SIZE(n) (6u + 8u * (uint64_t)(n))   /* incl. avail_event */
/* virtio 1.x 2.8 (packed virtqueues): the driver and device areas. */
#define EVENT_SIZE 4u

static bool packed(const struct vu_dev *d)
{
	return d->features & BIT_ULL(VIRTIO_F_RING_PACKED);
}

static uint64_t layout(const struct vu_dev *d)
{
	return d->features & VU_RING_LAYOUT_FEATURES;
}

void vu_vring_reset(struct vu_vring *vr)
{
	int *fds[] = {&vr->kick_fd, &vr->call_fd, &vr->err_fd};

	for (unsigned i = 0; i < ARRAY_SIZE(fds); i++)
		if (*fds[i] >= 0)
			close(*fds[i]);
	memset(vr, 0, sizeof(*vr));
	vr->kick_fd = vr->call_fd = vr->err_fd = -1;
}

bool vu_vring_ready(const struct vu_dev *d, uint32_t i)
{
	const struct vu_vring *vr = &d->vr[i];

	/* Translated for another layout than the one in force: stale. */
	return vr->started && !vr->broken && vr->num && vr->desc &&
	       vr->avail && vr->used && vr->layout == layout(d);
}

/* The size rule of the layout in force.  virtio 1.x 2.7: a split queue's
 * size is a power of 2, at most 32768.  Packed (2.8): "Packed virtqueues
 * support up to 2^15 entries each" and "The Queue Size value does not
 * have to be a power of 2". */
static int size_ok(const struct vu_dev *d, uint32_t i, uint32_t num,
		   const char *why)
{
	bool pk = packed(d);

	if (num >= 1 && num <= VU_VRING_MAX_SIZE && (pk || is_pow2_u32(num)))
		return 0;
	LOG_ERR(TAG, "%s: ring %u size %u: must be %sin 1..%u for a %s ring "
		"(%s)", d->name, i, num, pk ? "" : "a power of two ",
		VU_VRING_MAX_SIZE, pk ? "packed" : "split", why);
	return -EINVAL;
}

/* Alignments of the layout in force: split (2.7) desc 16, avail 2, used 4;
 * packed (2.8.10) descriptor ring 16, driver and device areas 4. */
static int align_ok(const struct vu_dev *d, uint32_t i, const char *why)
{
	const struct vu_vring_addr *a = &d->vr[i].addr;
	uint64_t avail_align = packed(d) ? 4 : 2;

	if (!(a->desc_user_addr & 15) &&
	    !(a->avail_user_addr & (avail_align - 1)) &&
	    !(a->used_user_addr & 3))
		return 0;
	LOG_ERR(TAG, "%s: ring %u: misaligned desc 0x%" PRIx64 "/16 avail 0x%"
		PRIx64 "/%" PRIu64 " used 0x%" PRIx64 "/4 for a %s ring (%s)",
		d->name, i, a->desc_user_addr, a->avail_user_addr, avail_align,
		a->used_user_addr, packed(d) ? "packed" : "split", why);
	return -EINVAL;
}

/* Fill desc/avail/used from addr for the layout in force; 0, or -EFAULT
 * with one log line. */
static int translate(struct vu_dev *d, uint32_t i, const char *why)
{
	struct vu_vring *vr = &d->vr[i];
	const struct vu_vring_addr *a = &vr->addr;
	const struct gmem *t = d->mem.table;
	bool pk = packed(d);
	/* Packed: avail_user_addr is the driver area, used_user_addr the
	 * device area. */
	void *desc = gmem_uva_to_hva(t, a->desc_user_addr,
				     DESC_SIZE * (uint64_t)vr->num);
	void *avail = gmem_uva_to_hva(t, a->avail_user_addr,
				      pk ? EVENT_SIZE : AVAIL_SIZE(vr->num));
	void *used = gmem_uva_to_hva(t, a->used_user_addr,
				     pk ? EVENT_SIZE : USED_SIZE(vr->num));
	if (!desc || !avail || !used) {
		LOG_ERR(TAG, "%s: ring %u (size %u): %s at 0x%" PRIx64
			" is outside guest memory (%s)", d->name, i, vr->num,
			!desc ? (pk ? "descriptor ring" : "descriptor table") :
			!avail ? (pk ? "driver area" : "avail ring") :
			pk ? "device area" : "used ring",
			!desc ? a->desc_user_addr :
			!avail ? a->avail_user_addr : a->used_user_addr, why);
		return -EFAULT;
	}
	/* The alignments of virtio 1.x 2.7 / 2.8 must hold where vhostd
	 * accesses the parts (atomically): a region whose mmap_offset and
	 * userspace_addr differ modulo 16 moves aligned uvas off them. */
	uintptr_t a_mask = pk ? 3 : 1;
	if (((uintptr_t)desc & 15) || ((uintptr_t)avail & a_mask) ||
	    ((uintptr_t)used & 3)) {
		LOG_ERR(TAG, "%s: ring %u: parts misaligned in host memory "
			"(desc %p, %s %p, %s %p): region offset and address "
			"disagree", d->name, i, desc, pk ? "driver" : "avail",
			avail, pk ? "device" : "used", used);
		return -EFAULT;
	}
	vr->desc = desc;
	vr->avail = avail;
	vr->used = used;
	vr->used_gpa = (a->flags & BIT_ULL(VHOST_VRING_F_LOG)) ?
		       a->log_guest_addr : gmem_uva_to_gpa(t, a->used_user_addr);
	vr->desc_gpa = gmem_uva_to_gpa(t, a->desc_user_addr);
	return 0;
}

/*
 * The one check of ring i against the layout in force (d->features): its
 * size rule, its areas' alignments, and its areas' extents in guest
 * memory, which it translates.  What is not set yet is checked when it
 * is.  Every path that makes a ring usable goes through here, and the
 * result is stamped with the layout it holds for (vu_vring_ready() takes
 * nothing else).  0, or -EINVAL / -EFAULT with one log line ending in
 * (why); the ring is then left without a translation.
 */
static int vring_check(struct vu_dev *d, uint32_t i, const char *why)
{
	struct vu_vring *vr = &d->vr[i];
	int err = 0;

	vr->desc = vr->avail = vr->used = NULL;
	vr->layout = layout(d);
	if (vr->num)
		err = size_ok(d, i, vr->num, why);
	if (!err && vr->addr_set)
		err = align_ok(d, i, why);
	if (!err && vr->addr_set && vr->num)
		err = translate(d, i, why);
	return err;
}

void vu_rings_retranslate(struct vu_dev *d)
{
	for (uint32_t i = 0; i < d->nvrings; i++)
		(void)vring_check(d, i, "ring not usable");
}

int vu_rings_check_features(struct vu_dev *d, uint64_t v)
{
	uint64_t changed = (d->features ^ v) & ~BIT_ULL(VHOST_F_LOG_ALL);

	if (!changed)
		return 0;
	for (uint32_t i = 0; i < d->nvrings; i++) {
		if (!d->vr[i].started)
			continue;
		LOG_ERR(TAG, "%s: SET_FEATURES 0x%" PRIx64 " refused: ring %u "
			"is started and bits 0x%" PRIx64 " would change from "
			"0x%" PRIx64 " (only VHOST_F_LOG_ALL may change on a "
			"started ring; stop the rings first)", d->name, v, i,
			changed, d->features);
		return -EBUSY;
	}
	return 0;
}

static int refuse_started(struct vu_dev *d, const char *req, uint32_t i)
{
	LOG_ERR(TAG, "%s: %s on ring %u while it is started (send "
		"GET_VRING_BASE first)", d->name, req, i);
	return -EBUSY;
}

int vu_h_set_vring_num(struct vu_dev *d, const struct vu_msg *m, int *fds,
		       int nfds, struct vu_msg *reply)
{
	uint32_t i = m->payload.state.index, num = m->payload.state.num;
	struct vu_vring *vr = &d->vr[i];

	(void)fds; (void)nfds; (void)reply;
	if (vr->started)
		return refuse_started(d, "SET_VRING_NUM", i);
	int err = size_ok(d, i, num, "SET_VRING_NUM refused");
	if (err)
		return err;
	uint32_t old = vr->num;
	vr->num = num;
	err = vring_check(d, i, "SET_VRING_NUM refused");
	if (err) {
		vr->num = old;
		(void)vring_check(d, i, "ring not usable");
	}
	return err;
}

int vu_h_set_vring_addr(struct vu_dev *d, const struct vu_msg *m, int *fds,
			int nfds, struct vu_msg *reply)
{
	const struct vu_vring_addr *a = &m->payload.addr;
	uint32_t i = a->index;
	struct vu_vring *vr = &d->vr[i];

	(void)fds; (void)nfds; (void)reply;
	if (a->flags & ~BIT_ULL(VHOST_VRING_F_LOG)) {
		LOG_ERR(TAG, "%s: SET_VRING_ADDR ring %u: unknown flags 0x%x",
			d->name, i, a->flags);
		return -EINVAL;
	}
	struct vu_vring_addr old = vr->addr;
	bool old_set = vr->addr_set;
	vr->addr = *a;
	vr->addr_set = true;
	int err = vring_check(d, i, "SET_VRING_ADDR refused");
	if (err) {
		vr->addr = old;
		vr->addr_set = old_set;
		(void)vring_check(d, i, "ring not usable");
	}
	return err;
}

/*
 * vhost-user "Vring descriptor indices for packed virtqueues": bits 0-14
 * the next avail position, bit 15 the driver (avail) wrap counter, bits
 * 16-30 the next used position, bit 31 the device (used) wrap counter.
 * DPDK's virtio-user sends only the lower half for a fresh ring (0x8000)
 * and DPDK's back-end ignores the upper half ("Set used index to same
 * value as available one, as their values should be the same since ring
 * processing was stopped at get time"); QEMU sends both.  So an upper half
 * of 0 means "used = avail" (vhostd never keeps buffers in flight across a
 * stop, so the two are equal whenever it reports them), any other value
 * is taken as sent.  Positions must be inside the ring when its size is
 * known (vq_build checks again when the ring starts).
 */
static int set_packed_base(struct vu_dev *d, uint32_t i, uint32_t num)
{
	uint32_t n = d->vr[i].num;

	if ((num >> 16) == 0)
		num |= num << 16;
	if (n && ((num & 0x7fff) >= n || ((num >> 16) & 0x7fff) >= n)) {
		LOG_ERR(TAG, "%s: SET_VRING_BASE ring %u: packed base 0x%x has "
			"a position outside the ring (size %u)", d->name, i,
			num, n);
		return -EINVAL;
	}
	d->vr[i].base = num;
	return 0;
}

int vu_h_set_vring_base(struct vu_dev *d, const struct vu_msg *m, int *fds,
			int nfds, struct vu_msg *reply)
{
	uint32_t i = m->payload.state.index, num = m->payload.state.num;

	(void)fds; (void)nfds; (void)reply;
	if (d->vr[i].started)
		return refuse_started(d, "SET_VRING_BASE", i);
	if (packed(d))
		return set_packed_base(d, i, num);
	if (num > 0xffff) { /* split ring: a 16-bit avail index */
		LOG_ERR(TAG, "%s: SET_VRING_BASE ring %u: base %u is not a "
			"16-bit index", d->name, i, num);
		return -EINVAL;
	}
	d->vr[i].base = num;
	return 0;
}

int vu_h_get_vring_base(struct vu_dev *d, const struct vu_msg *m, int *fds,
			int nfds, struct vu_msg *reply)
{
	uint32_t i = m->payload.state.index;
	struct vu_vring *vr = &d->vr[i];

	(void)fds; (void)nfds;
	/* Stops the ring (the datapath is paused around this call, so base
	 * is final).  Like libvhost-user and DPDK, drop kick and call: the
	 * front-end sends new ones when it starts the ring again. */
	vr->started = false;
	vr->stopped = true;
	vr->kick_set = false;
	if (vr->kick_fd >= 0)
		close(vr->kick_fd);
	if (vr->call_fd >= 0)
		close(vr->call_fd);
	vr->kick_fd = vr->call_fd = -1;
	reply->payload.state.index = i;
	reply->payload.state.num = vr->base;
	return (int)sizeof(reply->payload.state);
}

static bool is_eventfd(int fd)
{
	char path[40], target[32];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	return strcmp(target, "anon_inode:[eventfd]") == 0;
}

/*
 * The spec's SET_VRING_KICK/CALL/ERR: "Set the event file descriptor".
 * Workers write call and err (datapath/vq.c): anything but an eventfd
 * (a pipe, a socket nobody reads, a file) could block them or grow
 * without bound, and so can a blocking eventfd whose counter the
 * front-end holds at 0xfffffffffffffffe (eventfd(2): a write that would
 * overflow it blocks).  So: eventfds only (told by their /proc/self/fd
 * link), and non-blocking; QEMU and DPDK create them EFD_NONBLOCK anyway.
 * O_NONBLOCK lives in the open file description, which the front-end
 * shares: it can clear the flag again through its own copy, so this
 * check alone does not make a worker's write() safe: the control thread
 * interrupts a worker stuck in one (datapath/worker.h, WK_INTERRUPT_MS)
 * and that ring breaks (datapath/vq.c, CALL_BLOCKED).
 */
static int ring_fd_ok(struct vu_dev *d, const char *req, uint32_t i, int fd)
{
	if (!is_eventfd(fd)) {
		LOG_ERR(TAG, "%s: %s ring %u: fd %d is not an eventfd", d->name,
			req, i, fd);
		return -EINVAL;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (!(fl & O_NONBLOCK) &&
		       fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)) {
		int err = -errno;
		LOG_ERR(TAG, "%s: %s ring %u: cannot make eventfd %d "
			"non-blocking: %s", d->name, req, i, fd, strerror(-err));
		return err;
	}
	return 0;
}

/* KICK/CALL/ERR: the fd is there exactly when the no-fd flag is clear. */
static int take_ring_fd(struct vu_dev *d, const char *req,
			const struct vu_msg *m, int *fds, int nfds, int *slot)
{
	bool nofd = m->payload.u64 & VU_VRING_NOFD_MASK;
	uint32_t i = m->payload.u64 & VU_VRING_IDX_MASK;

	if (nofd != (nfds == 0)) {
		LOG_ERR(TAG, "%s: %s ring %u: no-fd flag %d but %d fds attached",
			d->name, req, i, nofd, nfds);
		return -EINVAL;
	}
	if (!nofd) {
		int err = ring_fd_ok(d, req, i, fds[0]);
		if (err)
			return err;
	}
	if (*slot >= 0)
		close(*slot);
	*slot = nofd ? -1 : fds[0];
	if (!nofd)
		fds[0] = -1;
	return 0;
}

/*
 * A packed ring must start where the device stopped.  The descriptor at
 * the avail position then holds what the driver made available in this
 * lap (AVAIL == wrap, USED != wrap), or what is left from the lap before:
 * a used head (both flags != wrap) or a chain's tail descriptor as the
 * driver wrote it (AVAIL != wrap, USED == wrap; the device writes used
 * heads only).  Both flags == wrap is what the device writes when it uses
 * a buffer in this lap: the base is behind where the device stood, i.e.
 * stale.  QEMU sends one after its back-end went away (it keeps no packed
 * ring position then: virtio_queue_packed_restore_last_avail_idx() does
 * nothing); serving it would hand the guest ids it does not have in
 * flight ("id N is not a head").  Refused, with the reason.  A stale base
 * whose descriptor was rewritten by later laps cannot be told from a good
 * one.
 */
static int packed_base_current(struct vu_dev *d, uint32_t i)
{
	const struct vu_vring *vr = &d->vr[i];

	if (!vr->desc)
		return 0;
	uint16_t pos = vr->base & 0x7fff;
	bool wrap = vr->base & 0x8000;
	const struct vring_packed_desc *e =
		(const struct vring_packed_desc *)vr->desc + pos;
	uint16_t fl = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);

	if (!!(fl & VRING_PACKED_DESC_F_USED) != wrap ||
	    !!(fl & VRING_PACKED_DESC_F_AVAIL) != wrap)
		return 0;
	LOG_ERR(TAG, "%s: SET_VRING_KICK refused: ring %u base 0x%x is stale: "
		"the descriptor at position %u (flags 0x%x) was already used "
		"in lap %u (the front-end lost the packed ring's position, as "
		"QEMU does when its back-end restarts; use split rings there)",
		d->name, i, vr->base, pos, fl, wrap);
	return -EINVAL;
}

/*
 * A split ring resumes at the used index in guest memory.  Buffers are
 * used in order and nothing stays in flight across a stop, so the next
 * avail index to take equals the used index; the datapath reads the
 * latter from the ring (vq_init).  A base behind it is stale (a
 * front-end that read the position while the old back-end still moved
 * it): served as sent, the buffers in between would be used again, ids
 * the guest no longer has in flight ("id N is not a head").  A base ahead
 * of it would strand the buffers in between.  Either way the base is
 * replaced by the used index, with a warning (DPDK's vhost does the same).
 */
static int split_base_current(struct vu_dev *d, uint32_t i)
{
	struct vu_vring *vr = &d->vr[i];

	if (!vr->used)
		return 0;
	uint16_t u = __atomic_load_n(&((const struct vring_used *)vr->used)->idx,
				     __ATOMIC_ACQUIRE);
	if (u == (uint16_t)vr->base)
		return 0;
	LOG_WARN(TAG, "%s: ring %u: base %u but the used index in guest "
		 "memory is %u: resuming at %u (the front-end's base is "
		 "stale)", d->name, i, vr->base, u, u);
	vr->base = u;
	return 0;
}

int vu_h_set_vring_kick(struct vu_dev *d, const struct vu_msg *m, int *fds,
			int nfds, struct vu_msg *reply)
{
	uint32_t i = m->payload.u64 & VU_VRING_IDX_MASK;
	struct vu_vring *vr = &d->vr[i];

	(void)reply;
	/* The ring starts here: check it against the layout in force now,
	 * whatever SET_FEATURES said when its size and areas came. */
	int err = vring_check(d, i, "SET_VRING_KICK refused");
	if (!err)
		err = packed(d) ? packed_base_current(d, i) :
				  split_base_current(d, i);
	if (!err)
		err = take_ring_fd(d, "SET_VRING_KICK", m, fds, nfds,
				   &vr->kick_fd);
	if (err)
		return err;
	vr->kick_set = true;
	vr->started = true;
	vr->stopped = false;
	vr->broken = false;
	LOG_INFO(TAG, "%s: ring %u started (size %u, base %u, %s)", d->name,
		  i, vr->num, vr->base, vr->enabled ? "enabled" : "disabled");
	return 0;
}

int vu_h_set_vring_call(struct vu_dev *d, const struct vu_msg *m, int *fds,
			int nfds, struct vu_msg *reply)
{
	uint32_t i = m->payload.u64 & VU_VRING_IDX_MASK;

	(void)reply;
	return take_ring_fd(d, "SET_VRING_CALL", m, fds, nfds,
			    &d->vr[i].call_fd);
}

int vu_h_set_vring_err(struct vu_dev *d, const struct vu_msg *m, int *fds,
		       int nfds, struct vu_msg *reply)
{
	uint32_t i = m->payload.u64 & VU_VRING_IDX_MASK;

	(void)reply;
	return take_ring_fd(d, "SET_VRING_ERR", m, fds, nfds, &d->vr[i].err_fd);
}

int vu_h_set_vring_enable(struct vu_dev *d, const struct vu_msg *m, int *fds,
			  int nfds, struct vu_msg *reply)
{
	uint32_t i = m->payload.state.index, num = m->payload.state.num;

	(void)fds; (void)nfds; (void)reply;
	if (num > 1) {
		LOG_ERR(TAG, "%s: SET_VRING_ENABLE ring %u: value %u is not 0/1",
			d->name, i, num);
		return -EINVAL;
	}
	/* Logged on change only: QEMU enables queue pairs beyond the first
	 * when the guest asks for them (VIRTIO_NET_CTRL_MQ), well after the
	 * rings started. */
	if (d->vr[i].enabled != (num == 1))
		LOG_INFO(TAG, "%s: ring %u %s", d->name, i,
			 num ? "enabled" : "disabled");
	d->vr[i].enabled = num;
	return 0;
}
