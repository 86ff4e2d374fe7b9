/* SPDX-License-Identifier: MIT */
/*
 * vu_dev.h: one vhost-user device (a virtio-net back-end on one socket).
 *
 * vu_dev_handle_msg() is the single entry point for front-end messages: it
 * validates against the request table (vu_table.h), pauses the datapath of
 * this device for requests that change what the datapath reads, runs the
 * handler, replies (explicit reply or REPLY_ACK) and closes every fd the
 * handler did not keep.  The device never touches any other device.
 */
#ifndef VHOSTD_VU_DEV_H
#define VHOSTD_VU_DEV_H

#include <stdbool.h>
#include <stdint.h>

#include "../../datapath/dirty_log.h"
#include "vu_mem.h"
#include "../wire/vu_proto.h"

/* Per ring control state (the datapath gets its own view from it). */
struct vu_vring {
	uint32_t num;                  /* ring size; 0 = not set */
	struct vu_vring_addr addr;     /* as sent by the front-end */
	bool addr_set;
	uint32_t base;                 /* split: next avail index to process;
					* packed: avail idx | wrap << 15 |
					* used idx << 16 | wrap << 31 */
	int kick_fd, call_fd, err_fd;  /* -1 = none */
	bool kick_set;                 /* SET_VRING_KICK seen (fd or polling) */
	bool started;                  /* spec "started": kick set, not stopped */
	bool stopped;                  /* GET_VRING_BASE stopped it, not started
					* again: the device is being stopped */
	bool enabled;                  /* SET_VRING_ENABLE / no protocol feats */
	bool broken;                   /* hostile ring: log once, stop it */
	/* Translations of addr through the memory table (NULL if invalid). */
	void *desc, *avail, *used;
	uint64_t used_gpa;             /* for dirty logging of the used ring
					* (packed: of the device area) */
	uint64_t desc_gpa;             /* packed: the descriptor ring's */
	uint64_t layout;               /* VU_RING_LAYOUT_FEATURES bits the
					* checks and translation above hold
					* for (vu_ring.c) */
};

struct vu_dev;

/*
 * How the device tells the datapath what changed.  pause() returns only once
 * no worker touches this device any more; resume() republishes the device's
 * ready rings.  Both may be NULL (no datapath attached).
 */
struct vu_dev_ops {
	void (*pause)(struct vu_dev *dev, void *ctx);
	void (*resume)(struct vu_dev *dev, void *ctx);
	void *ctx;
};

/* What a device offers; fixed for the life of the process so that a
 * reconnecting front-end always sees the same set. */
struct vu_dev_cfg {
	const char *name;
	uint32_t max_queue_pairs;      /* 1..VU_MAX_QUEUE_PAIRS */
	uint64_t features;             /* virtio + vhost feature bits offered */
	uint64_t protocol_features;    /* protocol feature bits offered */
	uint8_t mac[6];
	uint16_t mtu;                  /* 68..65535 */
};

struct vu_dev {
	char name[64];
	struct vu_dev_cfg cfg;
	uint32_t nvrings;              /* 2 * max_queue_pairs */

	uint64_t features;             /* acked by SET_FEATURES */
	bool features_set;
	uint64_t protocol_features;    /* acked by SET_PROTOCOL_FEATURES */
	bool owner;
	uint8_t status;                /* virtio device status (SET_STATUS) */
	uint16_t mtu;                  /* NET_SET_MTU or cfg.mtu */
	uint8_t mac[6];
	uint16_t link_status;          /* VIRTIO_NET_S_LINK_UP or 0 */

	struct vu_mem mem;
	struct dirty_log log;          /* SET_LOG_BASE mapping: */
	struct vu_mem_file log_file;   /* its file (vu_mem.h) */
	int log_fd;                    /* SET_LOG_FD eventfd, -1 = none */
	int backend_fd;                /* SET_BACKEND_REQ_FD socket, -1 = none */

	uint8_t rarp_mac[6];           /* SEND_RARP: announce this MAC */
	bool rarp_pending;

	struct vu_vring *vr;           /* nvrings entries */
	/* nvrings slots where the datapath publishes each packed ring's
	 * position (datapath/vq_pos.h), or NULL: kept by the fd store. */
	struct vq_pos *pos;
	struct vu_dev_ops ops;
	/* Called once a request has been handled, before its reply or ack
	 * is sent (NULL: none): whoever keeps a record of the device's state
	 * (the fd store) has it before the front-end can act on the answer. */
	void (*handled)(void *arg);
	void *handled_arg;
	uint64_t msgs, refusals;       /* counters for stats and tests */
};

/* Allocate rings for cfg; cfg is copied.  0 or -errno. */
int vu_dev_init(struct vu_dev *dev, const struct vu_dev_cfg *cfg);
void vu_dev_fini(struct vu_dev *dev);

/*
 * Handle one front-end message.  fds (nfds of them) are always consumed.
 * Returns 0 to keep the connection or a negative errno when it must be
 * closed (protocol violation without REPLY_ACK, failed send, ...); the
 * caller then calls vu_dev_disconnect().
 */
int vu_dev_handle_msg(struct vu_dev *dev, int sock, struct vu_msg *msg,
		      int *fds, int nfds);

/* Front-end gone: stop everything, unmap, forget the session. */
void vu_dev_disconnect(struct vu_dev *dev);

/* Back to the state of a fresh connection: rings, memory, log, features,
 * status.  forget_session also drops ownership, protocol features and the
 * back-end channel (disconnect); RESET_DEVICE keeps them (spec: "the
 * back-end retains ownership of the device"). */
void vu_dev_reset_state(struct vu_dev *dev, bool forget_session);

void vu_dev_unmap_log(struct vu_dev *dev);

/* True when the datapath may process ring i: started, sized, and its areas
 * checked and translated for the ring layout the acked features give now. */
bool vu_vring_ready(const struct vu_dev *dev, uint32_t i);

/* Virtio-net header length for the negotiated features (virtio 1.x 5.1.6). */
uint32_t vu_dev_vnet_hdr_len(const struct vu_dev *dev);

/* Send VHOST_USER_BACKEND_CONFIG_CHANGE_MSG if the channel and CONFIG are
 * negotiated (link status changes).  Never waits: a front-end that does
 * not read its channel gets it closed (-EAGAIN).  0, -ENOTCONN or -errno;
 * on -errno the channel is gone. */
int vu_dev_notify_config_change(struct vu_dev *dev);

/* Build the 60-byte RARP announcement for mac into buf (>= 60 bytes).
 * Returns the frame length. */
uint32_t vu_rarp_build(const uint8_t mac[6], uint8_t *buf);

#endif
