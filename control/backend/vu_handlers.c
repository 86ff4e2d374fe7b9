/* SPDX-License-Identifier: MIT */
/*
 * vu_handlers.c: one function per served request.  vu_validate() has
 * already checked payload size, fd count, negotiated protocol features and
 * ring index; handlers check the values only they understand and log one
 * line naming the request and the offending values when they refuse.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../datapath/log.h"
#include "vu_ring.h"
#include "vu_table.h"

#define TAG "vu"

static int reply_u64(struct vu_msg *reply, uint64_t v)
{
	reply->payload.u64 = v;
	return (int)sizeof(uint64_t);
}

/* Take fds[i] out of the dispatcher's hands (it closes what is left). */
static int keep_fd(int *fds, int i)
{
	int fd = fds[i];

	fds[i] = -1;
	return fd;
}

static void replace_fd(int *slot, int fd)
{
	if (*slot >= 0)
		close(*slot);
	*slot = fd;
}

int vu_h_get_features(struct vu_dev *d, const struct vu_msg *m, int *fds,
		      int nfds, struct vu_msg *reply)
{
	(void)m; (void)fds; (void)nfds;
	return reply_u64(reply, d->cfg.features);
}

int vu_h_set_features(struct vu_dev *d, const struct vu_msg *m, int *fds,
		      int nfds, struct vu_msg *reply)
{
	uint64_t v = m->payload.u64;

	(void)fds; (void)nfds; (void)reply;
	if (v & ~d->cfg.features) {
		LOG_ERR(TAG, "%s: SET_FEATURES 0x%" PRIx64 " acks bits 0x%" PRIx64
			" that were not offered (offered 0x%" PRIx64 ")", d->name,
			v, v & ~d->cfg.features, d->cfg.features);
		return -EINVAL;
	}
	int err = vu_rings_check_features(d, v);
	if (err)
		return err;
	uint64_t layout_changed = (d->features ^ v) & VU_RING_LAYOUT_FEATURES;
	d->features = v;
	d->features_set = true;
	/* No ring is started: rings set up so far follow the new layout. */
	if (layout_changed)
		vu_rings_retranslate(d);
	/* Spec, "Ring states": without PROTOCOL_FEATURES all rings are
	 * enabled at once. */
	if (!(v & BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES)))
		for (uint32_t i = 0; i < d->nvrings; i++)
			d->vr[i].enabled = true;
	LOG_INFO(TAG, "%s: features 0x%" PRIx64 " negotiated", d->name, v);
	return 0;
}

int vu_h_set_owner(struct vu_dev *d, const struct vu_msg *m, int *fds,
		   int nfds, struct vu_msg *reply)
{
	(void)m; (void)fds; (void)nfds; (void)reply;
	d->owner = true;
	return 0;
}

/* Deprecated; the spec recommends "use it to disable all rings". */
int vu_h_reset_owner(struct vu_dev *d, const struct vu_msg *m, int *fds,
		     int nfds, struct vu_msg *reply)
{
	(void)m; (void)fds; (void)nfds; (void)reply;
	for (uint32_t i = 0; i < d->nvrings; i++) {
		d->vr[i].enabled = false;
		d->vr[i].started = false;
	}
	return 0;
}

int vu_h_reset_device(struct vu_dev *d, const struct vu_msg *m, int *fds,
		      int nfds, struct vu_msg *reply)
{
	(void)m; (void)fds; (void)nfds; (void)reply;
	vu_dev_reset_state(d, false);
	LOG_INFO(TAG, "%s: device reset by the front-end", d->name);
	return 0;
}

int vu_h_set_mem_table(struct vu_dev *d, const struct vu_msg *m, int *fds,
		       int nfds, struct vu_msg *reply)
{
	const struct vu_mem_table *t = &m->payload.mem;
	struct vu_mem_region regs[VU_MEM_TABLE_MAX_REGIONS];

	(void)reply;
	if (t->nregions > VU_MEM_TABLE_MAX_REGIONS ||
	    m->hdr.size != 8u + t->nregions * sizeof(regs[0]) ||
	    (uint32_t)nfds != t->nregions) {
		LOG_ERR(TAG, "%s: SET_MEM_TABLE with %u regions, payload %u "
			"bytes and %d fds (at most %u regions, one fd each)",
			d->name, t->nregions, m->hdr.size, nfds,
			VU_MEM_TABLE_MAX_REGIONS);
		return -EINVAL;
	}
	memcpy(regs, t->regions, t->nregions * sizeof(regs[0]));
	int err = vu_mem_set_table(&d->mem, regs, fds, t->nregions);
	for (int i = 0; i < nfds; i++)
		fds[i] = -1; /* consumed either way */
	if (err)
		return err;
	vu_rings_retranslate(d);
	return 0;
}

int vu_h_add_mem_reg(struct vu_dev *d, const struct vu_msg *m, int *fds,
		     int nfds, struct vu_msg *reply)
{
	(void)nfds; (void)reply;
	int err = vu_mem_add(&d->mem, &m->payload.memreg.region,
			     keep_fd(fds, 0));
	if (err)
		return err;
	vu_rings_retranslate(d);
	return 0;
}

int vu_h_rem_mem_reg(struct vu_dev *d, const struct vu_msg *m, int *fds,
		     int nfds, struct vu_msg *reply)
{
	(void)fds; (void)nfds; (void)reply; /* a stray fd is closed for us */
	int err = vu_mem_remove(&d->mem, &m->payload.memreg.region);
	if (err)
		return err;
	vu_rings_retranslate(d);
	return 0;
}

int vu_h_get_max_mem_slots(struct vu_dev *d, const struct vu_msg *m,
			   int *fds, int nfds, struct vu_msg *reply)
{
	(void)d; (void)m; (void)fds; (void)nfds;
	return reply_u64(reply, VU_MEM_MAX_SLOTS);
}

int vu_h_set_log_base(struct vu_dev *d, const struct vu_msg *m, int *fds,
		      int nfds, struct vu_msg *reply)
{
	uint64_t size = m->payload.log.mmap_size;
	struct vu_mem_file f;

	(void)nfds;
	/* Same checks as a guest region (vu_mem.h): the file holds offset +
	 * size, and one that can shrink later is guarded. */
	int err = vu_mem_map_file(&d->mem, "dirty log", fds[0],
				  m->payload.log.mmap_offset, size, &f);
	if (err)
		return err;
	vu_dev_unmap_log(d);
	d->log_file = f;
	d->log.base = f.hva;
	d->log.size = size;
	LOG_INFO(TAG, "%s: dirty log of %" PRIu64 " bytes set (file %s)",
		 d->name, size, vu_mem_file_guard_text(&f));
	/* Spec: a reply is expected when LOG_SHMFD is negotiated. */
	return reply_u64(reply, 0);
}

int vu_h_set_log_fd(struct vu_dev *d, const struct vu_msg *m, int *fds,
		    int nfds, struct vu_msg *reply)
{
	(void)m; (void)nfds; (void)reply;
	replace_fd(&d->log_fd, keep_fd(fds, 0));
	return 0;
}

int vu_h_get_protocol_features(struct vu_dev *d, const struct vu_msg *m,
			       int *fds, int nfds, struct vu_msg *reply)
{
	(void)m; (void)fds; (void)nfds;
	return reply_u64(reply, d->cfg.protocol_features);
}

int vu_h_set_protocol_features(struct vu_dev *d, const struct vu_msg *m,
			       int *fds, int nfds, struct vu_msg *reply)
{
	uint64_t v = m->payload.u64;

	(void)fds; (void)nfds; (void)reply;
	if (v & ~d->cfg.protocol_features) {
		LOG_ERR(TAG, "%s: SET_PROTOCOL_FEATURES 0x%" PRIx64 " acks bits "
			"0x%" PRIx64 " that were not offered (offered 0x%" PRIx64
			")", d->name, v, v & ~d->cfg.protocol_features,
			d->cfg.protocol_features);
		return -EINVAL;
	}
	d->protocol_features = v;
	return 0;
}

int vu_h_get_queue_num(struct vu_dev *d, const struct vu_msg *m, int *fds,
		       int nfds, struct vu_msg *reply)
{
	(void)m; (void)fds; (void)nfds;
	return reply_u64(reply, d->cfg.max_queue_pairs);
}

int vu_h_send_rarp(struct vu_dev *d, const struct vu_msg *m, int *fds,
		   int nfds, struct vu_msg *reply)
{
	(void)fds; (void)nfds; (void)reply;
	memcpy(d->rarp_mac, &m->payload.u64, 6);
	d->rarp_pending = true;
	LOG_INFO(TAG, "%s: RARP announcement queued for %02x:%02x:%02x:%02x:"
		 "%02x:%02x", d->name, d->rarp_mac[0], d->rarp_mac[1],
		 d->rarp_mac[2], d->rarp_mac[3], d->rarp_mac[4], d->rarp_mac[5]);
	return 0;
}

int vu_h_net_set_mtu(struct vu_dev *d, const struct vu_msg *m, int *fds,
		     int nfds, struct vu_msg *reply)
{
	uint64_t mtu = m->payload.u64;

	(void)fds; (void)nfds; (void)reply;
	if (!(d->features & BIT_ULL(VIRTIO_NET_F_MTU))) {
		LOG_ERR(TAG, "%s: NET_SET_MTU %" PRIu64 " but VIRTIO_NET_F_MTU "
			"was not negotiated", d->name, mtu);
		return -EPERM;
	}
	/* virtio 1.x 5.1.4.1: the MTU is at least 68 and fits a u16. */
	if (mtu < 68 || mtu > 65535) {
		LOG_ERR(TAG, "%s: NET_SET_MTU %" PRIu64 " outside 68..65535",
			d->name, mtu);
		return -EINVAL;
	}
	d->mtu = (uint16_t)mtu;
	return 0;
}

int vu_h_set_backend_req_fd(struct vu_dev *d, const struct vu_msg *m,
			    int *fds, int nfds, struct vu_msg *reply)
{
	struct stat st;

	(void)m; (void)nfds; (void)reply;
	if (fstat(fds[0], &st) < 0 || !S_ISSOCK(st.st_mode)) {
		LOG_ERR(TAG, "%s: SET_BACKEND_REQ_FD: fd is not a socket",
			d->name);
		return -EINVAL;
	}
	replace_fd(&d->backend_fd, keep_fd(fds, 0));
	return 0;
}

int vu_h_set_status(struct vu_dev *d, const struct vu_msg *m, int *fds,
		    int nfds, struct vu_msg *reply)
{
	(void)fds; (void)nfds; (void)reply;
	if (m->payload.u64 > 0xff) {
		LOG_ERR(TAG, "%s: SET_STATUS 0x%" PRIx64 " is not a status byte",
			d->name, (uint64_t)m->payload.u64);
		return -EINVAL;
	}
	d->status = (uint8_t)m->payload.u64;
	return 0;
}

int vu_h_get_status(struct vu_dev *d, const struct vu_msg *m, int *fds,
		    int nfds, struct vu_msg *reply)
{
	(void)m; (void)fds; (void)nfds;
	return reply_u64(reply, d->status);
}
