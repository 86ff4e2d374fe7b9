/* SPDX-License-Identifier: MIT */
/*
 * vhostd_place.c: where each queue pair's state lives and which worker
 * polls it (see vhostd_dp.h for the rules, numa/place.h for the choice).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../../datapath/log.h"
#include "vhostd_bridge.h"
#include "vhostd_dp.h"

#define TAG "place"

struct dp_qp *dp_qp_new(struct dp *dp, struct dp_port *p, uint32_t qp,
		       int node)
{
	bool huge;
	struct dp_qp *q = numa_slab_alloc(&dp->slab, node, &huge);

	if (!q)
		return NULL;
	q->node = node;
	q->huge = huge;
	q->worker = q->ring_node = q->mem_node = q->nic_node = -1;
	p->qps[qp] = q;
	return q;
}

int dp_qps_ensure(struct dp *dp, struct dp_port *p)
{
	struct vu_dev *d = p->dev;
	int err = 0;

	for (uint32_t qp = 0; qp < dp_npairs(p); qp++) {
		/* The TX ring first: what the guest sends is read there. */
		int node = NUMA_NODE_UNKNOWN;
		bool ready = false;
		for (int k = 1; k >= 0; k--) {
			uint32_t i = 2 * qp + (uint32_t)k;
			if (!vu_vring_ready(d, i))
				continue;
			ready = true;
			if (node < 0)
				node = numa_addr_node(d->vr[i].desc);
		}
		if (!ready) {   /* stopped, or reset: its memory is gone */
			if (p->qps[qp])
				p->qps[qp]->ring_node = NUMA_NODE_UNKNOWN;
			continue;
		}
		if (!p->qps[qp] && !dp_qp_new(dp, p, qp, node)) {
			err = -ENOMEM;
			continue;
		}
		p->qps[qp]->ring_node = node;
	}
	return err;
}

/* The guest memory and NIC nodes path qp of p touches. */
static void path_nodes(struct dp *dp, struct dp_port *p, uint32_t qp)
{
	struct dp_qp *q = p->qps[qp];
	struct dp_port *t = dp_target(dp, p);
	bool t_has = t && qp < dp_npairs(t) && t->qps[qp];

	q->mem_node = p->dev ? q->ring_node :
		      t_has && t->dev ? t->qps[qp]->ring_node : -1;
	q->nic_node = p->nic ? p->nic->numa_node :
		      t_has && t->nic ? t->nic->numa_node : -1;
	if (q->mem_node >= 0 && q->nic_node >= 0 &&
	    q->mem_node != q->nic_node && !p->cross_logged) {
		p->cross_logged = true;   /* once for the pair of ports */
		if (t)
			t->cross_logged = true;
		LOG_WARN(TAG, "%s: guest memory on node %d, NIC %s on node %d: "
			 "the copy stays on node %d (every packet crosses "
			 "nodes on the NIC side)", dp_port_name(p->dev ? p : t),
			 q->mem_node, dp_port_name(p->nic ? p : t),
			 q->nic_node, q->mem_node);
	}
}

/* Move block qp of p to node (it is not published). */
static int rehome(struct dp *dp, struct dp_port *p, uint32_t qp, int node)
{
	struct dp_qp *old = p->qps[qp];
	bool huge;

	if (old->node == node)
		return 0;
	struct dp_qp *q = numa_slab_alloc(&dp->slab, node, &huge);
	if (!q) {
		LOG_WARN(TAG, "%s: queue pair %u: no memory on node %d: its "
			 "state stays on node %d", dp_port_name(p), qp, node,
			 old->node);
		return -ENOMEM;
	}
	memcpy(q, old, sizeof(*q));   /* counters and all */
	q->node = node;
	q->huge = huge;
	p->qps[qp] = q;
	numa_slab_free(&dp->slab, old);
	return 0;
}

int dp_settle(struct dp *dp, struct dp_port *p)
{
	int err = 0;

	for (uint32_t qp = 0; qp < dp_npairs(p); qp++) {
		struct dp_qp *q = p->qps[qp];
		if (!q)
			continue;
		path_nodes(dp, p, qp);
		int node = numa_place_node(q->mem_node, q->nic_node);
		if (node >= 0 && rehome(dp, p, qp, node) < 0)
			err = -ENOMEM;
	}
	return err;
}

int dp_group_worker(const struct dp *dp, const struct dp_port *p)
{
	bool spreads = false;

	/* A bridge's: each member's receiving queues and the bridge's
	 * table have one writer. */
	if (p->bridge >= 0)
		return dp_bridge_worker(dp, p->bridge);
	for (uint32_t qp = 0; qp < dp_npairs(p); qp++)
		spreads |= p->qps[qp] && p->qps[qp]->path.pick != NULL;
	for (uint32_t qp = 0; spreads && qp < dp_npairs(p); qp++)
		if (p->qps[qp] && p->qps[qp]->worker >= 0)
			return p->qps[qp]->worker;
	return -1;
}

/* Place path qp of p on a worker. */
static void place_one(struct dp *dp, struct dp_port *p, uint32_t qp)
{
	struct dp_qp *q = p->qps[qp];
	int node = numa_place_node(q->mem_node, q->nic_node);
	bool remote;
	uint32_t w = numa_place_pick(dp->pw, dp->nworkers, node, &remote);
	/* Paths that write the same receiving queues on one worker. */
	int bw = dp_group_worker(dp, p);

	if (bw >= 0) {
		w = (uint32_t)bw;
		remote = false;
	}

	q->worker = (int)w;
	dp->pw[w].load++;
	if (remote)
		LOG_INFO(TAG, "%s: queue pair %u: no worker core on node %d: "
			 "polled from core %d (node %d)", dp_port_name(p), qp,
			 node, dp->workers[w].core, dp->pw[w].node);
}

bool dp_place(struct dp *dp)
{
	bool changed = false;

	for (uint32_t w = 0; w < dp->nworkers; w++)
		dp->pw[w].load = 0;
	for (uint32_t i = 0; i < dp->nports; i++) {
		struct dp_port *p = &dp->ports[i];
		for (uint32_t qp = 0; qp < dp_npairs(p); qp++) {
			struct dp_qp *q = p->qps[qp];
			if (!q)
				continue;
			if (!dp_path_live(dp, p, qp) && q->worker >= 0) {
				q->worker = -1;
				changed = true;
			} else if (q->worker >= 0) {
				dp->pw[q->worker].load++;
			}
		}
	}
	for (uint32_t i = 0; i < dp->nports; i++) {
		struct dp_port *p = &dp->ports[i];
		for (uint32_t qp = 0; qp < dp_npairs(p); qp++)
			if (dp_path_live(dp, p, qp) && p->qps[qp]->worker < 0) {
				place_one(dp, p, qp);
				changed = true;
			}
	}
	return changed;
}

static const char *node_str(int node, char *buf, size_t len)
{
	if (node < 0)
		return "-";
	snprintf(buf, len, "%d", node);
	return buf;
}

/* yes / no / mixed: are the guest's memory regions on hugepages? */
static const char *guest_huge(const struct vu_dev *d)
{
	uint32_t huge = 0, n = d ? d->mem.n : 0;

	for (uint32_t i = 0; i < n; i++)
		huge += d->mem.maps[i].hugetlb;
	return !n ? "-" : huge == n ? "yes" : huge ? "mixed" : "no";
}

/* The table: every started queue pair, or (placed_only) those polled. */
static void print_table(const struct dp *dp, FILE *f, bool placed_only)
{
	for (uint32_t i = 0; i < dp->nports; i++) {
		struct dp_port *p = &dp->ports[i];
		struct dp_port *t = dp_target(dp, p);
		const struct vu_dev *g = p->dev ? p->dev : t ? t->dev : NULL;
		const struct port *nic = p->nic ? p->nic : t ? t->nic : NULL;
		for (uint32_t qp = 0; qp < dp_npairs(p); qp++) {
			const struct dp_qp *q = p->qps[qp];
			if (!q || (placed_only && q->worker < 0))
				continue;
			char w[16], c[16], cn[16], mn[16], nn[16], sn[16];
			int wk = q->worker;
			fprintf(f, "placement port=%s qp=%u worker=%s core=%s "
				"core_node=%s mem_node=%s nic_node=%s "
				"state_node=%s state_huge=%s guest_huge=%s "
				"nic_huge=%s\n", dp_port_name(p), qp,
				node_str(wk, w, sizeof(w)),
				node_str(wk < 0 ? -1 : dp->workers[wk].core,
					 c, sizeof(c)),
				node_str(wk < 0 ? -1 : dp->pw[wk].node,
					 cn, sizeof(cn)),
				node_str(q->mem_node, mn, sizeof(mn)),
				node_str(q->nic_node, nn, sizeof(nn)),
				node_str(q->node, sn, sizeof(sn)),
				q->huge ? "yes" : "no", guest_huge(g),
				!nic ? "-" : nic->hugepages ? "yes" : "no");
		}
	}
}

void dp_placement_print(const struct dp *dp, FILE *f)
{
	print_table(dp, f, false);
}

void dp_placement_changed(struct dp *dp)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	if (!m)
		return;
	print_table(dp, m, true);
	if (fclose(m) == 0 && len && (!dp->placement_last ||
				     strcmp(buf, dp->placement_last) != 0)) {
		fputs(buf, dp->placement_out);
		fflush(dp->placement_out);
		free(dp->placement_last);
		dp->placement_last = buf;
		return;
	}
	free(buf);
}
