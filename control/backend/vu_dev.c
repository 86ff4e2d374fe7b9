/* SPDX-License-Identifier: MIT */
#include "vu_dev.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../datapath/log.h"
#include "../wire/vu_msg.h"
#include "vu_ring.h"
#include "vu_table.h"

#define TAG "vu"

int vu_dev_init(struct vu_dev *d, const struct vu_dev_cfg *cfg)
{
	if (cfg->max_queue_pairs == 0 ||
	    cfg->max_queue_pairs > VU_MAX_QUEUE_PAIRS)
		return -EINVAL;
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", cfg->name ? cfg->name : "?");
	d->cfg = *cfg;
	d->cfg.name = d->name;
	d->nvrings = 2 * cfg->max_queue_pairs;
	d->vr = calloc(d->nvrings, sizeof(d->vr[0]));
	if (!d->vr)
		return -ENOMEM;
	/* calloc() leaves the ring fds at 0, which vu_vring_reset() would
	 * close as its own (fd 0: stdin or another device's socket). */
	for (uint32_t i = 0; i < d->nvrings; i++)
		d->vr[i].kick_fd = d->vr[i].call_fd = d->vr[i].err_fd = -1;
	d->log_fd = d->backend_fd = -1;
	vu_mem_init(&d->mem, d->name);
	vu_dev_reset_state(d, true);
	return 0;
}

void vu_dev_fini(struct vu_dev *d)
{
	if (!d->vr)
		return;
	vu_dev_reset_state(d, true);
	free(d->vr);
	d->vr = NULL;
}

void vu_dev_unmap_log(struct vu_dev *d)
{
	vu_mem_unmap_file(&d->log_file);
	d->log.base = NULL;
	d->log.size = 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void vu_dev_reset_state(struct vu_dev *d, bool forget_session)
{
	for (uint32_t i = 0; i < d->nvrings; i++)
		vu_vring_reset(&d->vr[i]);
	vu_mem_clear(&d->mem);
	vu_dev_unmap_log(d);
	close_fd(&d->log_fd);
	d->features = 0;
	d->features_set = false;
	d->status = 0;
	d->mtu = d->cfg.mtu;
	memcpy(d->mac, d->cfg.mac, 6);
	d->link_status = VIRTIO_NET_S_LINK_UP;
	d->rarp_pending = false;
	if (forget_session) {
		d->owner = false;
		d->protocol_features = 0;
		close_fd(&d->backend_fd);
	}
}

static void dp_pause(struct vu_dev *d)
{
	if (d->ops.pause)
		d->ops.pause(d, d->ops.ctx);
}

static void dp_resume(struct vu_dev *d)
{
	if (d->ops.resume)
		d->ops.resume(d, d->ops.ctx);
}

void vu_dev_disconnect(struct vu_dev *d)
{
	dp_pause(d);
	vu_dev_reset_state(d, true);
	dp_resume(d);
}

static int send_reply(const struct vu_dev *d, int sock,
		      const struct vu_msg *req, struct vu_msg *rep, uint32_t size)
{
	rep->hdr.request = req->hdr.request;
	rep->hdr.flags = VU_VERSION | VU_FLAG_REPLY;
	rep->hdr.size = size;
	int err = vu_msg_send_nowait(sock, rep);
	if (err < 0)
		LOG_ERR(TAG, "%s: cannot send the %u-byte reply to %s (%u): "
			"%s (front-end not reading?); closing", d->name, size,
			vu_request_name(req->hdr.request), req->hdr.request,
			strerror(-err));
	return err;
}

/*
 * Outcome of a request, per the spec's REPLY_ACK section: requests with a
 * reply body always get it (a failed one closes the connection: there is
 * no way to say "error" in a GET_FEATURES reply); otherwise need_reply gets
 * a u64, 0 or a positive errno; a failure nobody asked to hear about closes
 * the connection, so the front-end cannot go on believing it succeeded.
 */
int vu_dev_handle_msg(struct vu_dev *d, int sock, struct vu_msg *msg,
		      int *fds, int nfds)
{
	const struct vu_rule *r = vu_rule_get(msg->hdr.request);
	struct vu_msg reply;
	char why[256];
	int ret;

	d->msgs++;
	LOG_DEBUG(TAG, "%s: %s (%u) size %u flags 0x%x fds %d", d->name,
		  vu_request_name(msg->hdr.request), msg->hdr.request,
		  msg->hdr.size, msg->hdr.flags, nfds);
	ret = vu_validate(d, msg, nfds, why, sizeof(why));
	if (ret < 0) {
		LOG_ERR(TAG, "%s: refused: %s", d->name, why);
	} else {
		bool q = r->flags & VU_R_QUIESCE;
		if (q)
			dp_pause(d);
		ret = r->handler(d, msg, fds, nfds, &reply);
		if (q)
			dp_resume(d);
	}
	vu_close_fds(fds, nfds);
	if (ret < 0)
		d->refusals++;
	if (d->handled)
		d->handled(d->handled_arg);

	bool has_body = r && r->handler && r->reply;
	if (has_body && ret >= 0)
		return send_reply(d, sock, msg, &reply, (uint32_t)ret);
	if (!has_body && (msg->hdr.flags & VU_FLAG_NEED_REPLY)) {
		reply.payload.u64 = ret < 0 ? (uint64_t)-ret : 0;
		int err = send_reply(d, sock, msg, &reply, sizeof(uint64_t));
		return err < 0 ? err : 0;
	}
	return ret < 0 ? ret : 0;
}

uint32_t vu_dev_vnet_hdr_len(const struct vu_dev *d)
{
	/* virtio 1.x 5.1.6: 12 bytes with VERSION_1 or MRG_RXBUF, else 10. */
	if (d->features & (BIT_ULL(VIRTIO_F_VERSION_1) |
			   BIT_ULL(VIRTIO_NET_F_MRG_RXBUF)))
		return 12;
	return 10;
}

int vu_dev_notify_config_change(struct vu_dev *d)
{
	struct vu_msg m = {.hdr = {.request = VU_BACKEND_CONFIG_CHANGE_MSG,
				   .flags = VU_VERSION, .size = 0}};

	if (d->backend_fd < 0 ||
	    !(d->protocol_features & BIT_ULL(VU_PROTOCOL_F_BACKEND_REQ)) ||
	    !(d->protocol_features & BIT_ULL(VU_PROTOCOL_F_CONFIG)))
		return -ENOTCONN;
	int err = vu_msg_send_nowait(d->backend_fd, &m);
	if (err < 0) {
		LOG_ERR(TAG, "%s: back-end channel (fd %d): cannot send "
			"CONFIG_CHANGE_MSG: %s (front-end not reading?); channel "
			"dropped", d->name, d->backend_fd, strerror(-err));
		close_fd(&d->backend_fd);
	}
	return err;
}
