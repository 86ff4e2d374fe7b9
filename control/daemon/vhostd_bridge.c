/* SPDX-License-Identifier: MIT */
/*
 * vhostd_bridge.c: the daemon's bridges (vhostd_bridge.h): which ports are
 * members, their receiving queues as the bridge's worker sees them, the
 * clock that ages the tables, and the counters as text.
 */
#include "vhostd_bridge.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../datapath/log.h"
#include "vhostd_dp.h"

#define TAG "bridge"

struct dp_bridge {
	bool used;
	bool changing;             /* members change: paths unpublished */
	char name[DP_BRIDGE_NAME_MAX];
	uint32_t members;
	int port[BR_MEMBERS_MAX];  /* member id -> port index, -1 */
	struct bridge *br;
};

static uint32_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)ts.tv_sec;
}

static int find(const struct dp *dp, const char *name)
{
	for (int i = 0; dp->bridges && i < DP_BRIDGES_MAX; i++)
		if (dp->bridges[i].used && strcmp(dp->bridges[i].name, name) == 0)
			return i;
	return -ENOENT;
}

static bool name_ok(const char *name)
{
	size_t n = strlen(name);

	return n && n < DP_BRIDGE_NAME_MAX &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		      "0123456789_-.") == n;
}

int dp_bridge_add(struct dp *dp, const char *name,
		  const struct dp_bridge_cfg *cfg)
{
	uint32_t aging = cfg->aging ? cfg->aging : FDB_AGING_DEFAULT;
	uint32_t limit = cfg->mac_limit ? cfg->mac_limit : FDB_MAC_LIMIT_DEFAULT;
	uint32_t size = cfg->fdb_size ? cfg->fdb_size : FDB_SIZE_DEFAULT;

	if (!name_ok(name) || aging > FDB_AGING_MAX)
		return -EINVAL;
	if (find(dp, name) >= 0)
		return -EEXIST;
	if (!dp->bridges)
		dp->bridges = calloc(DP_BRIDGES_MAX, sizeof(dp->bridges[0]));
	if (!dp->bridges)
		return -ENOMEM;
	int b = 0;
	while (b < DP_BRIDGES_MAX && dp->bridges[b].used)
		b++;
	if (b == DP_BRIDGES_MAX)
		return -ENOSPC;
	struct dp_bridge *x = &dp->bridges[b];
	x->br = aligned_alloc(CACHE_LINE, sizeof(*x->br));
	if (!x->br)
		return -ENOMEM;
	int err = br_init(x->br, size, aging, limit);
	if (err) {
		free(x->br);
		x->br = NULL;
		return err;
	}
	fdb_set_now(&x->br->fdb, now_s());
	x->used = true;
	x->changing = false;
	x->members = 0;
	snprintf(x->name, sizeof(x->name), "%s", name);
	for (int m = 0; m < BR_MEMBERS_MAX; m++)
		x->port[m] = -1;
	LOG_INFO(TAG, "%s: bridge added (aging %u s, mac-limit %u per port, "
		 "%u fdb entries)", name, aging, limit,
		 x->br->fdb.nbuckets * FDB_WAYS);
	return 0;
}

int dp_bridge_del(struct dp *dp, const char *name)
{
	int b = find(dp, name);

	if (b < 0)
		return b;
	struct dp_bridge *x = &dp->bridges[b];
	if (x->members)
		return -EBUSY;
	br_fini(x->br);
	free(x->br);
	memset(x, 0, sizeof(*x));
	LOG_INFO(TAG, "%s: bridge deleted", name);
	return 0;
}

bool dp_bridge_steady(const struct dp *dp, int b)
{
	const struct dp_bridge *x = &dp->bridges[b];

	if (x->changing)
		return false;
	for (int m = 0; m < BR_MEMBERS_MAX; m++)
		if (x->port[m] >= 0 && dp->ports[x->port[m]].paused)
			return false;
	return true;
}

void dp_bridge_refresh(struct dp *dp, int b)
{
	struct dp_bridge *x = &dp->bridges[b];

	for (int m = 0; m < BR_MEMBERS_MAX; m++) {
		struct br_member *bm = &x->br->m[m];
		if (x->port[m] < 0)
			continue;
		const struct dp_port *t = &dp->ports[x->port[m]];
		bm->nq = 0;
		for (uint32_t qp = 0; qp < dp_npairs(t); qp++)
			if (t->qps[qp] && dp_rx_dst(t, qp, &bm->q[bm->nq]))
				bm->nq++;
	}
	for (int m = 0; m < BR_MEMBERS_MAX; m++) {
		if (x->port[m] < 0)
			continue;
		struct dp_port *t = &dp->ports[x->port[m]];
		for (uint32_t qp = 0; qp < dp_npairs(t); qp++)
			dp_path_refresh(dp, t, qp);
	}
}

void dp_bridge_path(struct dp *dp, const struct dp_port *p,
		    struct vnet_path *path, uint32_t qp)
{
	path->pick = NULL;
	path->repeat = NULL;
	path->hint = NULL;
	path->vlan = vnet_to_vlan(VNET_VLAN_KEEP, 0);
	/* A started but disabled TX ring is processed and discarded (the
	 * plain path does that: no pick, no dst). */
	if (p->bridge < 0 || !path->src ||
	    (p->dev && !p->dev->vr[2 * qp + 1].enabled))
		return;
	struct dp_bridge *x = &dp->bridges[p->bridge];
	path->pick = br_pick;
	path->pass = br_pass;
	path->repeat = br_repeat;
	path->hint = br_hint;
	path->pick_ctx = x->br;
	path->pick_in = p->member;
	path->qp = (uint16_t)qp;
	path->dst = NULL;   /* set per frame */
}

int dp_bridge_worker(const struct dp *dp, int b)
{
	const struct dp_bridge *x = &dp->bridges[b];

	for (int m = 0; m < BR_MEMBERS_MAX; m++) {
		if (x->port[m] < 0)
			continue;
		const struct dp_port *t = &dp->ports[x->port[m]];
		for (uint32_t qp = 0; qp < dp_npairs(t); qp++)
			if (t->qps[qp] && t->qps[qp]->worker >= 0)
				return t->qps[qp]->worker;
	}
	return -1;
}

/* Take bridge b's paths off the workers (they wait in their rings), so
 * that its members and tables may change. */
static void hold(struct dp *dp, int b)
{
	dp->bridges[b].changing = true;
	/* Before dp_start() nothing is published, and other ports' paths
	 * are not set up yet: nothing to take off. */
	if (dp->started && dp_publish(dp) < 0)
		LOG_ERR(TAG, "%s: out of memory publishing poll lists",
			dp->bridges[b].name);
}

static int release(struct dp *dp, int b)
{
	dp_bridge_refresh(dp, b);
	dp->bridges[b].changing = false;
	return dp->started ? dp_publish(dp) : 0;
}

int dp_bridge_attach(struct dp *dp, uint32_t port, const char *name,
		     const struct br_vlan *v)
{
	int b = find(dp, name);

	if (b < 0)
		return b;
	if (port >= dp->nports)
		return -ENOENT;
	struct dp_port *p = &dp->ports[port];
	struct dp_bridge *x = &dp->bridges[b];
	if (p->bridge >= 0 || p->peer >= 0 || p->reflect || p->source)
		return -EBUSY;
	if (v->trunk ? false : v->vlan > BR_VLAN_MAX)
		return -EINVAL;
	int m = 0;
	while (m < BR_MEMBERS_MAX && x->port[m] >= 0)
		m++;
	if (m == BR_MEMBERS_MAX)
		return -ENOSPC;
	uint32_t nq = dp_npairs(p);
	struct vnet_dst *q = calloc(nq ? nq : 1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	/* A member from here on: none of p's paths is published while the
	 * bridge is held (a NIC port's, never set up before dp_start(), in
	 * particular). */
	p->bridge = b;
	p->member = (uint16_t)m;
	x->port[m] = (int)port;
	x->members++;
	hold(dp, b);
	fdb_flush_member(&x->br->fdb, (uint16_t)m);
	x->br->m[m] = (struct br_member){.used = true, .vlan = *v, .q = q};
	char vs[64];
	br_vlan_format(v, vs, sizeof(vs));
	LOG_INFO(TAG, "%s: %s attached%s%s", name, dp_port_name(p),
		 vs[0] ? ", " : "", vs);
	return release(dp, b);
}

int dp_bridge_detach(struct dp *dp, uint32_t port)
{
	if (port >= dp->nports || dp->ports[port].bridge < 0)
		return -ENOENT;
	struct dp_port *p = &dp->ports[port];
	int b = p->bridge;
	struct dp_bridge *x = &dp->bridges[b];
	uint16_t m = p->member;

	hold(dp, b);
	fdb_flush_member(&x->br->fdb, m);
	free(x->br->m[m].q);
	memset(&x->br->m[m], 0, sizeof(x->br->m[m]));
	x->port[m] = -1;
	x->members--;
	p->bridge = -1;
	for (uint32_t qp = 0; qp < dp_npairs(p); qp++)
		dp_path_refresh(dp, p, qp);
	LOG_INFO(TAG, "%s: %s detached", x->name, dp_port_name(p));
	return release(dp, b);
}

const char *dp_bridge_of(const struct dp *dp, uint32_t port)
{
	if (port >= dp->nports || dp->ports[port].bridge < 0)
		return NULL;
	return dp->bridges[dp->ports[port].bridge].name;
}

int dp_bridge_get_cfg(const struct dp *dp, const char *name,
		      struct dp_bridge_cfg *out)
{
	int b = find(dp, name);

	if (b < 0)
		return b;
	const struct fdb *t = &dp->bridges[b].br->fdb;
	*out = (struct dp_bridge_cfg){t->aging, t->mac_limit,
				      t->nbuckets * FDB_WAYS};
	return 0;
}

int dp_bridge_port_vlan(const struct dp *dp, uint32_t port,
			struct br_vlan *out)
{
	if (port >= dp->nports || dp->ports[port].bridge < 0)
		return -ENOENT;
	const struct dp_port *p = &dp->ports[port];
	*out = dp->bridges[p->bridge].br->m[p->member].vlan;
	return 0;
}

const char *dp_bridge_name(const struct dp *dp, uint32_t i)
{
	return dp->bridges && i < DP_BRIDGES_MAX && dp->bridges[i].used ?
	       dp->bridges[i].name : NULL;
}

struct fdb_walk {
	const struct dp *dp;
	const struct dp_bridge *x;
	dp_fdb_fn fn;
	void *arg;
};

static void on_entry(void *arg, const uint8_t mac[6], uint16_t vlan,
		     uint16_t member, uint32_t age)
{
	struct fdb_walk *w = arg;
	int port = member < BR_MEMBERS_MAX ? w->x->port[member] : -1;

	w->fn(w->arg, mac, vlan,
	      port >= 0 ? dp_port_name(&w->dp->ports[port]) : "?", age);
}

int dp_bridge_fdb(const struct dp *dp, const char *name, dp_fdb_fn fn,
		  void *arg)
{
	int b = find(dp, name);

	if (b < 0)
		return b;
	struct fdb_walk w = {dp, &dp->bridges[b], fn, arg};
	fdb_dump(&dp->bridges[b].br->fdb, on_entry, &w);
	return 0;
}

int dp_bridge_stats(const struct dp *dp, const char *name,
		    struct dp_bridge_stats *out)
{
	int b = find(dp, name);

	if (b < 0)
		return b;
	const struct bridge *br = dp->bridges[b].br;
	memset(out, 0, sizeof(*out));
	out->members = dp->bridges[b].members;
	for (int m = 0; m < BR_MEMBERS_MAX; m++)
		out->macs += STAT_READ(br->fdb.macs[m]);
	for (int c = 0; c < FDB_COUNTER_MAX; c++)
		out->fdb[c] = STAT_READ(br->fdb.stats[c]);
	out->br.flooded = STAT_READ(br->stats.flooded);
	out->br.forwarded = STAT_READ(br->stats.forwarded);
	for (int d = 0; d < BR_DROP_MAX; d++)
		out->br.drops[d] = STAT_READ(br->stats.drops[d]);
	return 0;
}

void dp_bridge_stats_print(const struct dp *dp, FILE *f)
{
	struct dp_bridge_stats s;

	for (uint32_t b = 0; b < DP_BRIDGES_MAX; b++) {
		const char *name = dp_bridge_name(dp, b);
		if (!name || dp_bridge_stats(dp, name, &s) < 0)
			continue;
		fprintf(f, "bridge name=%s members=%u macs=%u", name,
			s.members, s.macs);
		for (int c = 0; c < FDB_COUNTER_MAX; c++)
			fprintf(f, " %s=%" PRIu64, fdb_counter_name(c), s.fdb[c]);
		fprintf(f, " flooded=%" PRIu64 " forwarded=%" PRIu64,
			s.br.flooded, s.br.forwarded);
		for (int d = 0; d < BR_DROP_MAX; d++)
			fprintf(f, " drop_%s=%" PRIu64, br_drop_name(d),
				s.br.drops[d]);
		fputc('\n', f);
	}
}

void dp_bridge_tick(struct dp *dp)
{
	uint32_t now = now_s();

	for (int b = 0; dp->bridges && b < DP_BRIDGES_MAX; b++)
		if (dp->bridges[b].used)
			fdb_set_now(&dp->bridges[b].br->fdb, now);
}

void dp_bridge_fini(struct dp *dp)
{
	for (int b = 0; dp->bridges && b < DP_BRIDGES_MAX; b++) {
		struct dp_bridge *x = &dp->bridges[b];
		if (!x->used)
			continue;
		for (int m = 0; m < BR_MEMBERS_MAX; m++)
			free(x->br->m[m].q);
		br_fini(x->br);
		free(x->br);
	}
	free(dp->bridges);
	dp->bridges = NULL;
}
