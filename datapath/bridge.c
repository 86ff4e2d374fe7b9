/* SPDX-License-Identifier: MIT */
#include "bridge.h"
#include "spread.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const drop_name[BR_DROP_MAX] = {
	[BR_DROP_RUNT] = "runt", [BR_DROP_SRC_MCAST] = "src_mcast",
	[BR_DROP_VLAN] = "vlan", [BR_DROP_HAIRPIN] = "hairpin",
	[BR_DROP_NO_MEMBER] = "no_member",
};

const char *br_drop_name(enum br_drop d)
{
	return d < BR_DROP_MAX ? drop_name[d] : "?";
}

int br_init(struct bridge *br, uint32_t fdb_size, uint32_t aging,
	    uint32_t mac_limit)
{
	memset(br, 0, sizeof(*br));
	return fdb_init(&br->fdb, fdb_size, aging, mac_limit);
}

void br_fini(struct bridge *br)
{
	fdb_fini(&br->fdb);
}

/* A VLAN id 1..4094 at s; *end past its digits.  -1 when not one. */
static int vid_at(const char *s, const char **end)
{
	uint32_t v = 0;
	const char *c = s;

	while (*c >= '0' && *c <= '9' && c - s < 5)
		v = v * 10 + (uint32_t)(*c++ - '0');
	*end = c;
	return c == s || (*c >= '0' && *c <= '9') || v < 1 || v > BR_VLAN_MAX ?
	       -1 : (int)v;
}

int br_vlan_parse_access(const char *s, struct br_vlan *v)
{
	const char *end;
	int vid = vid_at(s, &end);

	if (vid < 0 || *end)
		return -EINVAL;
	memset(v, 0, sizeof(*v));
	v->vlan = (uint16_t)vid;
	return 0;
}

int br_vlan_parse_trunk(const char *s, struct br_vlan *v)
{
	struct br_vlan t;

	memset(&t, 0, sizeof(t));
	t.trunk = true;
	for (;;) {
		const char *end;
		int lo = vid_at(s, &end), hi = lo;
		if (lo < 0)
			return -EINVAL;
		if (*end == '-') {
			hi = vid_at(end + 1, &end);
			if (hi < lo)
				return -EINVAL;
		}
		for (int i = lo; i <= hi; i++)
			t.allowed[i / 64] |= 1ull << (i % 64);
		if (!*end)
			break;
		if (*end != ',')
			return -EINVAL;
		s = end + 1;
	}
	*v = t;
	return 0;
}

void br_vlan_format(const struct br_vlan *v, char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = '\0';
	if (!v->trunk) {
		if (v->vlan)
			snprintf(buf, len, "vlan=%u", v->vlan);
		return;
	}
	at = (size_t)snprintf(buf, len, "trunk=");
	for (int i = 1; i <= BR_VLAN_MAX && at < len; i++) {
		if (!br_vlan_has(v, (uint16_t)i))
			continue;
		int j = i;
		while (j < BR_VLAN_MAX && br_vlan_has(v, (uint16_t)(j + 1)))
			j++;
		at += (size_t)(j > i ?
			snprintf(buf + at, len - at, "%s%d-%d",
				 buf[at - 1] == '=' ? "" : ",", i, j) :
			snprintf(buf + at, len - at, "%s%d",
				 buf[at - 1] == '=' ? "" : ",", i));
		i = j;
	}
}

static inline uint32_t drop(struct bridge *br, enum br_drop d)
{
	STAT_INC(br->stats.drops[d]);
	return 0;
}

/* The VLAN frame f (len >= 14) is in on member m, and whether it came
 * tagged; -1: not allowed there. */
static inline int ingress_vlan(const struct br_member *m, const uint8_t *f,
			       uint32_t len, bool *tagged)
{
	*tagged = get_be16(f + 12) == BR_ETH_VLAN;
	if (!m->vlan.trunk)
		return *tagged ? -1 : m->vlan.vlan;
	if (!*tagged || len < 18)
		return -1;
	uint16_t vid = (uint16_t)(get_be16(f + 14) & 0xfff);
	return br_vlan_has(&m->vlan, vid) ? vid : -1;
}

/* Every member but in that carries vid and has a queue up. */
static uint32_t flood(struct bridge *br, uint16_t in, struct br_verdict *v)
{
	v->n = 0;
	for (uint16_t i = 0; i < BR_MEMBERS_MAX; i++) {
		const struct br_member *m = &br->m[i];
		if (i != in && m->used && m->nq && br_vlan_has(&m->vlan, v->vid))
			v->out[v->n++] = (uint8_t)i;
	}
	if (!v->n)
		return drop(br, BR_DROP_NO_MEMBER);
	STAT_INC(br->stats.flooded);
	return v->n;
}

static inline bool mac_eq(const uint8_t *a, const uint8_t *b)
{
	uint32_t x, y;
	uint16_t p, q;

	memcpy(&x, a, 4);
	memcpy(&y, b, 4);
	memcpy(&p, a + 4, 2);
	memcpy(&q, b + 4, 2);
	return x == y && p == q;
}

/* The cache holds only while the table and its clock have not moved. */
static inline void cache_check(struct br_cache *c, const struct fdb *t)
{
	uint32_t at = fdb_now(t);

	if (c->gen != t->gen || c->now != at) {
		c->src_ok = c->dst_ok = false;
		c->gen = t->gen;
		c->now = at;
	}
}

/* Learn the source, unless this member's last learn was the same MAC in
 * the same VLAN with the table unchanged since (then it is there, on
 * this member, seen this second). */
static inline void learn(struct bridge *br, uint16_t in, const uint8_t *mac,
			 uint16_t vid)
{
	struct br_cache *c = &br->m[in].cache;

	cache_check(c, &br->fdb);
	if (c->src_ok && c->src_vid == vid && mac_eq(c->src, mac))
		return;
	bool on = fdb_learn(&br->fdb, mac, vid, in);
	/* The learn may have changed the table: start the cache afresh. */
	cache_check(c, &br->fdb);
	c->src_ok = on;
	c->src_vid = vid;
	memcpy(c->src, mac, 6);
}

static inline int lookup(struct bridge *br, uint16_t in, const uint8_t *mac,
			 uint16_t vid)
{
	struct br_cache *c = &br->m[in].cache;

	/* learn() ran just before: the cache is current. */
	if (c->dst_ok && c->dst_vid == vid && mac_eq(c->dst, mac))
		return c->dst_out;
	int out = fdb_lookup(&br->fdb, mac, vid);
	c->dst_ok = true;
	c->dst_vid = vid;
	c->dst_out = (int16_t)out;
	memcpy(c->dst, mac, 6);
	return out;
}

/* br_input(), inlined into br_pick(): one call per frame, not two. */
static inline __attribute__((always_inline)) uint32_t
decide(struct bridge *br, uint16_t in, const uint8_t *f, uint32_t len,
       struct br_verdict *v)
{
	const struct br_member *m = &br->m[in];

	v->known = false;

	if (unlikely(len < 14))
		return drop(br, BR_DROP_RUNT);
	int vid = ingress_vlan(m, f, len, &v->tagged);
	if (unlikely(vid < 0))
		return drop(br, v->tagged && len < 18 ? BR_DROP_RUNT :
			    BR_DROP_VLAN);
	v->vid = (uint16_t)vid;
	if (unlikely(f[6] & 1))   /* group bit: no station sends from it */
		return drop(br, BR_DROP_SRC_MCAST);
	learn(br, in, f + 6, v->vid);
	if (f[0] & 1)             /* broadcast, multicast */
		return flood(br, in, v);
	int out = lookup(br, in, f, v->vid);
	if (out < 0 || !br->m[out].used || !br->m[out].nq ||
	    !br_vlan_has(&br->m[out].vlan, v->vid))
		return flood(br, in, v);   /* unknown (or down) unicast */
	if (unlikely(out == in))
		return drop(br, BR_DROP_HAIRPIN);
	v->n = 1;
	v->out[0] = (uint8_t)out;
	v->known = true;
	STAT_INC(br->stats.forwarded);
	return 1;
}

uint32_t br_input(struct bridge *br, uint16_t in, const uint8_t *f,
		  uint32_t len, struct br_verdict *v)
{
	return decide(br, in, f, len, v);
}

uint32_t br_pick(void *ctx, const struct vnet_path *p, const uint8_t *f,
		 uint32_t flen, uint32_t len, struct vnet_to *to)
{
	struct bridge *br = ctx;
	struct br_verdict v;
	uint32_t n = decide(br, p->pick_in, f, MIN(flen, len), &v);
	uint32_t hash = 0;
	bool hashed = false;

	for (uint32_t i = 0; i < n; i++) {
		const struct br_member *m = &br->m[v.out[i]];
		uint32_t q = p->qp;
		if (q >= m->nq) {   /* fewer queues there: spread by flow */
			if (!hashed)
				hash = flow_hash(f, flen);
			hashed = true;
			q = hash % m->nq;
		}
		to[i] = (struct vnet_to){&m->q[q],
			vnet_to_vlan(br_vlan_op(br, v.out[i], &v), v.vid)};
	}
	/* The same answer for the frames that follow with the same
	 * addresses and tag: a learned destination, on the queue of the
	 * sender's pair (not one by flow hash, which reads further), and a
	 * source learned (one over the MAC limit is counted per frame). */
	if (v.known && !hashed && br->m[p->pick_in].cache.src_ok)
		return n | VNET_PICK_SAME;
	return n;
}

struct vq *br_hint(void *ctx, const struct vnet_path *p)
{
	const struct bridge *br = ctx;
	const struct br_cache *c = &br->m[p->pick_in].cache;

	/* As lookup() would answer now (decide() checks the same). */
	if (!c->dst_ok || c->dst_out < 0 || c->gen != br->fdb.gen ||
	    c->now != fdb_now(&br->fdb))
		return NULL;
	const struct br_member *m = &br->m[c->dst_out];
	if (!m->used || p->qp >= m->nq)
		return NULL;
	return m->q[p->qp].vq;
}

void br_repeat(void *ctx, uint32_t n)
{
	struct bridge *br = ctx;

	STAT_ADD(br->stats.forwarded, n);
}

/*
 * Aging: one sweep of the whole table per second of the table's clock, a
 * bucket per pass from the tick on.  A lookup never returns an expired
 * entry (fdb.c), so the sweep only frees entries and counts them, and
 * once a second is as exact as the clock.  A bucket every pass, as
 * before, was a cache miss per pass (2-3% of a loaded worker's samples)
 * for a table swept hundreds of times a second.
 */
void br_pass(void *ctx)
{
	struct bridge *br = ctx;
	uint32_t at = fdb_now(&br->fdb);

	if (unlikely(at != br->sweep_sec)) {
		br->sweep_sec = at;
		br->sweep_left = br->fdb.nbuckets;
	}
	if (br->sweep_left) {
		br->sweep_left--;
		fdb_sweep(&br->fdb, 1);
	}
}
