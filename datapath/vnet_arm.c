/* SPDX-License-Identifier: MIT */
/*
 * vnet_arm.c: a path's wake-up sources for a worker that parks (--idle
 * wait, worker.h: wk_arm_fn).  A path gets work from its sending guest's
 * TX ring (a kick); a source path also from its guest's RX ring (new
 * receive buffers to fill).  Its receiving ring needs none: a frame with
 * no receive buffer is dropped (NO_RX_BUF), it never waits in the TX ring.
 */
#include "vnet.h"

bool vnet_path_arm(void *ctx, bool on)
{
	struct vnet_path *p = ctx;
	bool work = false;

	if (p->src)
		work |= vq_kick(p->src, on);
	if (p->source && p->dst)
		work |= vq_kick(p->dst, on);
	/* Work that needs no guest: an announcement to place, or the
	 * control thread waiting for the path to give up. */
	return on && (work || p->announce != NULL ||
		      atomic_load_explicit(&p->abandon, memory_order_relaxed));
}
