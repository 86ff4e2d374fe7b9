/* SPDX-License-Identifier: MIT */
/*
 * port_afxdp.c: the AF_XDP port, a NIC's queues through AF_XDP sockets.
 *
 *   --port NAME=afxdp:IFACE[,queues=N][,start-queue=Q][,zerocopy|copy]
 *                          [,busy-poll]
 *
 * Queue pair i is NIC queue Q + i with its own socket and UMEM (see
 * afxdp.h for the frame layout and who owns what).  Zero-copy when asked
 * for ("zerocopy": refused if the driver cannot), copy when asked for
 * ("copy"), else zero-copy when the driver has it and copy when not; the
 * log says which.  AF_XDP carries no offload metadata: tx_caps are all
 * false, so the datapath completes checksums and cuts TSO frames before
 * they reach the port, and received frames come with no checksum verdict
 * (the guest checks them).  The one exception: on a virtual interface
 * (veth) frames from the peer's stack may hold partial checksums, which go
 * on as NEEDS_CSUM (rx_caps.csum; afxdp_csum.c).
 *
 * Start-up failures (no such interface, link down, queue beyond the
 * channels, no permission, someone else's XDP program, bad arguments) are
 * one log line and an error; nothing stays attached.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/if_link.h>

#include "../datapath/log.h"
#include "afxdp.h"
#include "port_mod.h"
#include "port_types.h"

#define TAG "afxdp"

struct afxdp_port {
	struct port port;
	struct afxdp_args args;
	struct afxdp_iface ifc;
	struct afxdp_q *q;             /* nqueues */
};

/* Set up ----------------------------------------------------------- */

static int bad_arg(const struct afxdp_args *a, const char *key,
		   const char *value, const char *why)
{
	LOG_ERR(TAG, "%s: bad afxdp port argument '%s%s%s'%s (%s)", a->name,
		key ? key : "", key && value ? "=" : "", value ? value : "",
		why, port_afxdp_type.usage);
	return -EINVAL;
}

static int afxdp_arg(const char *key, const char *value, void *arg)
{
	struct afxdp_args *a = arg;

	if (!key) {   /* the interface */
		if (!*value || strlen(value) >= sizeof(a->iface))
			return bad_arg(a, NULL, value, ": not an interface name");
		strcpy(a->iface, value);
		return 0;
	}
	if (strcmp(key, "queues") == 0 &&
	    port_parse_u32(value, 1, PORT_MAX_QUEUES, &a->queues) == 0)
		return 0;
	if (strcmp(key, "start-queue") == 0 &&
	    port_parse_u32(value, 0, 65535, &a->start_queue) == 0)
		return 0;
	if (value)
		return bad_arg(a, key, value, "");
	enum afxdp_copy_mode m = strcmp(key, "zerocopy") == 0 ?
				 AFXDP_MODE_ZEROCOPY :
				 strcmp(key, "copy") == 0 ? AFXDP_MODE_COPY :
				 AFXDP_MODE_AUTO;
	if (m != AFXDP_MODE_AUTO) {
		if (a->mode != AFXDP_MODE_AUTO && a->mode != m)
			return bad_arg(a, key, NULL,
				       ": zerocopy and copy exclude each other");
		a->mode = m;
		return 0;
	}
	if (strcmp(key, "busy-poll") == 0) {
		a->busy_poll = true;
		return 0;
	}
	return bad_arg(a, key, NULL, "");
}

static int parse_args(const char *name, const char *args,
		      struct afxdp_args *a)
{
	char *copy = strdup(args ? args : "");
	int err;

	*a = (struct afxdp_args){.name = name, .queues = 1};
	if (!copy)
		return -ENOMEM;
	err = port_args(copy, true, afxdp_arg, a);
	free(copy);
	if (!err && !a->iface[0]) {
		LOG_ERR(TAG, "%s: no interface given (%s)", name,
			port_afxdp_type.usage);
		err = -EINVAL;
	}
	return err;
}

static void afxdp_close(struct port *p)
{
	struct afxdp_port *xp = (struct afxdp_port *)p;

	for (uint32_t i = 0; xp->q && i < p->nqueues; i++)
		afxdp_q_close(&xp->q[i]);
	free(xp->q);
	port_fini_common(p);
	free(xp);
}

/* Open queue pair i: its socket, then its two vqs. */
static int open_queue(struct afxdp_port *xp, uint32_t i)
{
	struct afxdp_q *q = &xp->q[i];
	int err;

	q->queue_id = xp->args.start_queue + i;
	q->csum_partial = xp->ifc.virtual_dev;
	err = afxdp_q_open(q, &xp->args, &xp->ifc);
	if (err)
		return err;
	if (xp->args.busy_poll)
		(void)afxdp_q_busy_poll(q, xp->port.name);
	vq_init_port(&xp->port.vqs[2 * i], &afxdp_tx_ops, q, false,
		     xp->port.name, 2 * i);
	vq_init_port(&xp->port.vqs[2 * i + 1], &afxdp_rx_ops, q, true,
		     xp->port.name, 2 * i + 1);
	return 0;
}

static void log_open(const struct afxdp_port *xp)
{
	const struct afxdp_args *a = &xp->args;
	const struct afxdp_q *q = &xp->q[0];

	LOG_INFO(TAG, "%s: AF_XDP on %s queues %u..%u, %s XDP %s, %s mode%s, "
		 "UMEM %zu MiB per queue on %s pages, NUMA node %d%s",
		 a->name, a->iface, a->start_queue,
		 a->start_queue + a->queues - 1,
		 xp->ifc.xdp_flags == XDP_FLAGS_SKB_MODE ? "generic (skb)" :
		 "native", afxdp_iface_dispatched(&xp->ifc) ?
		 "in libxdp's dispatcher" : "alone (libxdp could not use its "
		 "dispatcher: --log-level debug says why)", q->zerocopy ? "zero-copy" : "copy",
		 a->mode == AFXDP_MODE_AUTO && !q->zerocopy ?
		 " (the driver has no zero-copy)" : "", q->area_len >> 20,
		 xp->port.hugepages ? "2 MiB huge" : "normal",
		 xp->port.numa_node, q->busy_poll ? ", busy-poll" : "");
}

static int open_queues(struct afxdp_port *xp)
{
	uint32_t n = xp->args.queues;
	int err;

	xp->q = aligned_alloc(CACHE_LINE, n * sizeof(*xp->q));
	if (!xp->q)
		return -ENOMEM;
	memset(xp->q, 0, n * sizeof(*xp->q));
	for (uint32_t i = 0; i < n; i++)
		xp->q[i].fd = -1;
	xp->port.hugepages = true;
	for (uint32_t i = 0; i < n; i++) {
		err = open_queue(xp, i);
		if (err)
			return err;
		xp->port.hugepages &= xp->q[i].area_huge;
	}
	return 0;
}

static int afxdp_open(const char *name, const char *args, struct port **out)
{
	static bool libs_ready;
	struct afxdp_port *xp = calloc(1, sizeof(*xp));
	int err;

	if (!xp)
		return -ENOMEM;
	err = parse_args(name, args, &xp->args);
	if (!libs_ready && !err) {
		afxdp_libs_init();
		libs_ready = true;
	}
	if (!err)
		err = port_init_common(&xp->port, &port_afxdp_type, name,
				       xp->args.queues);
	if (!err)
		err = afxdp_iface_probe(&xp->args, &xp->ifc);
	if (!err) {
		/* Nothing to offload to: the datapath does it all.  From a
		 * virtual device, frames may carry the peer stack's partial
		 * checksums, marked NEEDS_CSUM (afxdp_csum.c). */
		xp->port.tx_caps = xp->port.rx_caps = (struct ofl_caps){0};
		xp->port.rx_caps.csum = xp->ifc.virtual_dev;
		xp->port.numa_node = xp->ifc.numa_node;
		xp->port.frame_max = AFXDP_TX_MAX;
		err = open_queues(xp);
	}
	if (err) {
		afxdp_close(&xp->port);
		return err;
	}
	log_open(xp);
	*out = &xp->port;
	return 0;
}

/* Statistics ------------------------------------------------------- */

static void q_stats(const struct port *p, uint32_t i, const struct afxdp_q *q,
		    FILE *f)
{
	struct xdp_statistics k = {0};
	socklen_t len = sizeof(k);

	if (getsockopt(q->fd, SOL_XDP, XDP_STATISTICS, &k, &len) < 0)
		memset(&k, 0, sizeof(k));
	fprintf(f, "portq port=%s queue=%u nic_queue=%u rx_packets=%" PRIu64
		" rx_bytes=%" PRIu64 " tx_packets=%" PRIu64 " tx_bytes=%" PRIu64
		" tx_no_frame=%" PRIu64 " tx_too_big=%" PRIu64
		" rx_csum_partial=%" PRIu64 " rx_wakeups=%" PRIu64
		" tx_kicks=%" PRIu64
		" tx_kick_errors=%" PRIu64, p->name, i, q->queue_id,
		STAT_READ(q->rx_packets), STAT_READ(q->rx_bytes),
		STAT_READ(q->tx_packets), STAT_READ(q->tx_bytes),
		STAT_READ(q->tx_no_frame), STAT_READ(q->tx_too_big),
		STAT_READ(q->rx_csum_partial), STAT_READ(q->rx_wakeups),
		STAT_READ(q->tx_kicks),
		STAT_READ(q->tx_kick_errors));
	fprintf(f, " rx_dropped=%llu rx_invalid_descs=%llu "
		"tx_invalid_descs=%llu rx_ring_full=%llu "
		"rx_fill_ring_empty_descs=%llu tx_ring_empty_descs=%llu\n",
		(unsigned long long)k.rx_dropped,
		(unsigned long long)k.rx_invalid_descs,
		(unsigned long long)k.tx_invalid_descs,
		(unsigned long long)k.rx_ring_full,
		(unsigned long long)k.rx_fill_ring_empty_descs,
		(unsigned long long)k.tx_ring_empty_descs);
}

static void afxdp_stats(const struct port *p, FILE *f)
{
	const struct afxdp_port *xp = (const struct afxdp_port *)p;

	fprintf(f, "afxdp port=%s iface=%s xdp=%s zerocopy=%d busy_poll=%d\n",
		p->name, xp->args.iface,
		xp->ifc.xdp_flags == XDP_FLAGS_SKB_MODE ? "generic" : "native",
		xp->q[0].zerocopy, xp->q[0].busy_poll);
	for (uint32_t i = 0; i < p->nqueues; i++)
		q_stats(p, i, &xp->q[i], f);
}

const struct port_type port_afxdp_type = {
	.name = "afxdp",
	.usage = "afxdp:IFACE[,queues=N][,start-queue=Q][,zerocopy|copy]"
		 "[,busy-poll]",
	.open = afxdp_open,
	.stats = afxdp_stats,
	.close = afxdp_close,
};

/* What vhostd's loader looks for in vhostd-afxdp.so (port_mod.h). */
const struct port_module vhostd_port_module = {
	.abi = PORT_MODULE_ABI,
	.port_size = sizeof(struct port),
	.vq_size = sizeof(struct vq),
	.type = &port_afxdp_type,
};
