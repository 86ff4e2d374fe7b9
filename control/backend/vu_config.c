/* SPDX-License-Identifier: MIT */
/*
 * vu_config.c: the virtio-net device configuration space (virtio 1.x
 * 5.1.4) served through GET_CONFIG / SET_CONFIG:
 *     u8 mac[6]; le16 status; le16 max_virtqueue_pairs; le16 mtu;
 * Bytes past these fields read as zero.
 */
#include <errno.h>
#include <string.h>

#include "../../datapath/log.h"
#include "vu_table.h"

#define TAG "vu"
#define NET_CFG_LEN 12u

static void cfg_encode(const struct vu_dev *d, uint8_t *b)
{
	memcpy(b, d->mac, 6);
	uint16_t v[3] = {d->link_status, (uint16_t)d->cfg.max_queue_pairs,
			 d->mtu};
	memcpy(b + 6, v, sizeof(v)); /* x86/arm hosts: little endian */
}

static bool cfg_range_ok(const struct vu_msg *m)
{
	const struct vu_config *c = &m->payload.config;

	return c->size <= m->hdr.size - VU_CONFIG_HDR_SIZE &&
	       c->offset <= VU_MAX_CONFIG_SIZE &&
	       c->size <= VU_MAX_CONFIG_SIZE - c->offset;
}

int vu_h_get_config(struct vu_dev *d, const struct vu_msg *m, int *fds,
		    int nfds, struct vu_msg *reply)
{
	const struct vu_config *c = &m->payload.config;
	uint8_t space[VU_MAX_CONFIG_SIZE] = {0};

	(void)fds; (void)nfds;
	if (!cfg_range_ok(m)) {
		LOG_ERR(TAG, "%s: GET_CONFIG offset %u size %u does not fit "
			"the %u-byte config space or the %u-byte payload",
			d->name, c->offset, c->size, VU_MAX_CONFIG_SIZE,
			m->hdr.size);
		return 0; /* spec: an empty payload reports the error */
	}
	cfg_encode(d, space);
	memset(&reply->payload.config, 0, m->hdr.size);
	reply->payload.config.offset = c->offset;
	reply->payload.config.size = c->size;
	reply->payload.config.flags = c->flags;
	memcpy(reply->payload.config.region, space + c->offset, c->size);
	return (int)m->hdr.size;
}

int vu_h_set_config(struct vu_dev *d, const struct vu_msg *m, int *fds,
		    int nfds, struct vu_msg *reply)
{
	const struct vu_config *c = &m->payload.config;
	uint8_t space[VU_MAX_CONFIG_SIZE] = {0};

	(void)fds; (void)nfds; (void)reply;
	/* Spec: back-ends MUST NOT accept SET_CONFIG for read-only fields
	 * unless the migration flag is set; every virtio-net field is
	 * read-only for a VERSION_1 driver. */
	if (c->flags != VU_CONFIG_FLAG_MIGRATION) {
		LOG_ERR(TAG, "%s: SET_CONFIG offset %u size %u flags %u: "
			"virtio-net config is read-only (only the migration "
			"flag may write it)", d->name, c->offset, c->size,
			c->flags);
		return -EPERM;
	}
	if (!cfg_range_ok(m) || c->offset + c->size > NET_CFG_LEN) {
		LOG_ERR(TAG, "%s: SET_CONFIG offset %u size %u is outside the "
			"%u bytes vhostd serves", d->name, c->offset, c->size,
			NET_CFG_LEN);
		return -EINVAL;
	}
	/* The whole space as it would be, checked before any field of the
	 * device changes: a refused request changes nothing. */
	cfg_encode(d, space);
	memcpy(space + c->offset, c->region, c->size);
	uint16_t v[3];
	memcpy(v, space + 6, sizeof(v));
	/* virtio 1.x 5.1.4: max_virtqueue_pairs is the device's own (vhostd
	 * serves a fixed number); 5.1.4.1: the MTU is at least 68. */
	if (v[1] != d->cfg.max_queue_pairs || v[2] < 68) {
		LOG_ERR(TAG, "%s: SET_CONFIG max_virtqueue_pairs %u (have %u) "
			"or mtu %u not acceptable", d->name, v[1],
			d->cfg.max_queue_pairs, v[2]);
		return -EINVAL;
	}
	memcpy(d->mac, space, 6);
	d->link_status = v[0];
	d->mtu = v[2];
	return 0;
}
