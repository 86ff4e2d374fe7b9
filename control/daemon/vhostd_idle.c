/* SPDX-License-Identifier: MIT */
/*
 * vhostd_idle.c: the wake-up sources of a queue pair's path, for --idle
 * wait (worker.h: struct wk_wake).
 *
 * A path is woken by its guest's kick eventfd on the TX ring it takes
 * from (a source path: also the RX ring it fills), or by its NIC port's
 * receive queue when the port type has a wake-up fd (AF_XDP: the socket,
 * vq_port_ops.wake_fd).  A DPDK or loop queue has none, nor has a ring
 * set up without a kick fd (the front-end's "polling" flag): a worker
 * with such an item never parks, it naps (wk_idle.h).
 */
#include "vhostd_dp.h"

/* Add the wake-up fd of ring i of p to wk: a guest's kick fd, a NIC
 * port queue's wake_fd(); false: it has none. */
static bool add_kick(struct wk_wake *wk, const struct dp_port *p, uint32_t i)
{
	int fd = -1;

	if (p->nic) {
		const struct vq *vq = dp_vq(p, i);
		if (vq->port && vq->port->wake_fd && vq->port->pending)
			fd = vq->port->wake_fd(vq->port_q);
	} else if (p->dev && i < p->dev->nvrings) {
		fd = p->dev->vr[i].kick_fd;
	}
	if (fd < 0 || wk->nfd == WK_WAKE_MAX)
		return false;
	wk->fd[wk->nfd++] = fd;
	return true;
}

struct wk_wake dp_wake(const struct dp_port *p, const struct dp_qp *q,
		       uint32_t qp)
{
	struct wk_wake wk = {.arm = NULL, .nfd = 0, .fd = {-1, -1}};
	struct wk_wake none = wk;
	const struct vnet_path *path = &q->path;

	if (path->src && !add_kick(&wk, p, 2 * qp + 1))
		return none;
	/* A source fills its own guest's RX ring (dst is p's). */
	if (p->source && path->dst && !add_kick(&wk, p, 2 * qp))
		return none;
	wk.arm = vnet_path_arm;
	return wk;
}
