/* SPDX-License-Identifier: MIT */
/*
 * vhostd_dp_rt.c: the datapath changed while it forwards: links made and
 * undone, ports added and removed (vhostd_dp.h).
 *
 * The one rule: a path is only ever changed or freed while no worker can
 * be in it.  The ports a change touches are "held" (dp_path_live() is
 * false for their paths and for every path into them), the lists are
 * published without them (dp_publish waits for each worker's quiescent
 * point), the change is made, the paths are rebuilt from the rings, and
 * the lists are published again.  Ports the change does not touch keep
 * their paths published the whole time: their workers only see a new
 * list with the same items.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../datapath/log.h"
#include "vhostd_dp.h"

#define TAG "dp"

/* Free p's spread (p's paths are not published). */
static void spread_forget(struct dp_port *p)
{
	free(p->spread.q);
	p->spread.q = NULL;
	p->spread.nq = 0;
}

/* Hold ports ids[0..n) (-1 entries skipped) and publish without them. */
static int hold(struct dp *dp, const int *ids, int n)
{
	for (int k = 0; k < n; k++)
		if (ids[k] >= 0)
			dp->ports[ids[k]].held = true;
	return dp_publish(dp);
}

/* Rebuild the held ports' paths, release them and publish. */
static int release(struct dp *dp, const int *ids, int n)
{
	for (int k = 0; k < n; k++) {
		if (ids[k] < 0)
			continue;
		struct dp_port *p = &dp->ports[ids[k]];
		(void)dp_settle(dp, p);
		for (uint32_t qp = 0; qp < dp_npairs(p); qp++)
			dp_path_refresh(dp, p, qp);
		p->held = false;
	}
	return dp_publish(dp);
}

int dp_link(struct dp *dp, uint32_t a, int b)
{
	struct dp_port *pa = &dp->ports[a];
	int ids[3] = {(int)a, pa->peer, b};
	int err = hold(dp, ids, 3);

	/* A spread (vhostd_dp.c: link_spread) is sized for the peer it was
	 * made for: the held ports' go, rebuilt for the new peer. */
	for (int k = 0; k < 3; k++)
		if (ids[k] >= 0)
			spread_forget(&dp->ports[ids[k]]);
	if (pa->peer >= 0)
		dp->ports[pa->peer].peer = -1;
	pa->peer = b;
	if (b >= 0)
		dp->ports[b].peer = (int)a;
	int err2 = release(dp, ids, 3);
	return err ? err : err2;
}

int dp_port_live(struct dp *dp, uint32_t i)
{
	int ids[1] = {(int)i};

	return release(dp, ids, 1);
}

void dp_detach(struct dp *dp, uint32_t i)
{
	struct dp_port *p = &dp->ports[i];
	int ids[1] = {(int)i};

	if (hold(dp, ids, 1) < 0)   /* no lists: take every path off */
		for (uint32_t w = 0; w < dp->nworkers; w++)
			free(wk_publish(&dp->workers[w], NULL));
	/* No worker is in any of p's paths now, nor will be again. */
	for (uint32_t qp = 0; p->qps && qp < dp_npairs(p); qp++)
		if (p->qps[qp])
			numa_slab_free(&dp->slab, p->qps[qp]);
	free(p->qps);
	free(p->vq_live);
	free(p->source);
	spread_forget(p);
	if (p->dev)
		p->dev->ops = (struct vu_dev_ops){0};
	memset(p, 0, sizeof(*p));
	p->peer = -1;
	p->bridge = -1;
	if (dp_publish(dp) < 0)
		LOG_ERR(TAG, "out of memory republishing after a port removal");
}
