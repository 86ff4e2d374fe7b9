/* SPDX-License-Identifier: MIT */
/*
 * bridge.h: a learning bridge: its members, their VLANs, and where each
 * frame goes.
 *
 * A member is an access port (one VLAN; its frames carry no tag: the tag
 * is pushed when a frame leaves through a trunk and popped when it comes
 * from one) or a trunk (a set of VLANs, every frame tagged).  Decisions:
 *  - the ingress VLAN: an access member's own; a trunk's from the tag,
 *    which must be one of its VLANs.  A tagged frame on an access port,
 *    and an untagged frame on a trunk, are dropped (no native VLAN: a
 *    frame never crosses VLANs by accident);
 *  - the source MAC is learned on (MAC, VLAN) (fdb.h);
 *  - a known unicast destination on another member in the VLAN gets the
 *    frame; one learned on the ingress member is dropped (never sent back
 *    where it came from); broadcast, multicast and unknown unicast go to
 *    every other member of the VLAN (flooded).
 * Every drop increments exactly one counter of BR_DROPS.
 *
 * Threads: the members and VLANs are set by the control thread while no
 * worker polls any path of the bridge (its paths are unpublished); then
 * the bridge's one worker reads them.  fdb.h says who writes the table.
 */
#ifndef VHOSTD_BRIDGE_H
#define VHOSTD_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fdb.h"
#include "vnet.h"

#define BR_MEMBERS_MAX FDB_MEMBERS_MAX
#define BR_VLAN_MAX 4094          /* IEEE 802.1Q: 1..4094 */
#define BR_ETH_VLAN 0x8100u

#define BR_DROPS(X)                                                         \
	X(RUNT, "frame shorter than its Ethernet (and VLAN) header")        \
	X(SRC_MCAST, "source MAC is multicast or broadcast")                \
	X(VLAN, "VLAN not allowed on the ingress member (tagged on an "     \
	  "access port, untagged or not listed on a trunk)")                 \
	X(HAIRPIN, "destination learned on the ingress member")             \
	X(NO_MEMBER, "no other member in the VLAN to flood to")

enum br_drop {
#define BR_X_ENUM(name, text) BR_DROP_##name,
	BR_DROPS(BR_X_ENUM)
#undef BR_X_ENUM
	BR_DROP_MAX
};

const char *br_drop_name(enum br_drop d);   /* "runt", ... */

/* A member's VLAN mode (also what the command line and the API give). */
struct br_vlan {
	bool trunk;
	uint16_t vlan;               /* access: 0 = untagged domain, or 1..4094 */
	uint64_t allowed[64];        /* trunk: bit v of word v / 64 */
};

/* Parse "N" (access, 1..4094) or a trunk list "N,M-K,..." into v.  0 or
 * -EINVAL (empty, a VLAN outside 1..4094, a range K < M, junk). */
int br_vlan_parse_access(const char *s, struct br_vlan *v);
int br_vlan_parse_trunk(const char *s, struct br_vlan *v);
/* Format v as "vlan=N", "trunk=N,M-K" or "" (untagged) into buf. */
void br_vlan_format(const struct br_vlan *v, char *buf, size_t len);

static inline bool br_vlan_has(const struct br_vlan *v, uint16_t vid)
{
	return v->trunk ? (vid <= BR_VLAN_MAX &&
			   (v->allowed[vid / 64] >> (vid % 64)) & 1) :
			  vid == v->vlan;
}

/*
 * The last learn and lookup of one member's frames (the worker's): a
 * burst from one guest is mostly one source and one destination, and
 * while the table's generation and clock stand still (fdb.h) the answers
 * stand too, so the table is not searched again.
 */
struct br_cache {
	uint32_t gen, now;           /* of the table, when cached */
	bool src_ok, dst_ok;
	uint16_t src_vid, dst_vid;
	int16_t dst_out;             /* fdb_lookup()'s answer */
	uint8_t src[6], dst[6];
};

/* One member as the datapath sees it. */
struct br_member {
	bool used;
	struct br_cache cache;       /* the worker's; zeroed on attach */
	struct br_vlan vlan;
	/* Its receiving queues that take frames now (enabled and live),
	 * nq of them (0: the member is down, skipped when flooding).  A
	 * frame from the sender's queue pair i goes to queue i when i < nq,
	 * else to queue (flow hash % nq): never dropped for want of
	 * queues. */
	uint32_t nq;
	struct vnet_dst *q;          /* control-owned array */
};

struct br_stats {
	uint64_t flooded;            /* frames flooded (once per frame) */
	uint64_t forwarded;          /* frames to one known destination */
	uint64_t drops[BR_DROP_MAX];
};

struct bridge {
	struct fdb fdb;
	struct br_member m[BR_MEMBERS_MAX];
	struct br_stats stats;       /* the worker's */
	uint32_t sweep_sec;          /* the table's second of the last sweep */
	uint32_t sweep_left;         /* buckets of that sweep still to do */
} cache_aligned;   /* allocated with aligned_alloc: a size of whole lines */

/* 0, or fdb_init()'s error. */
int br_init(struct bridge *br, uint32_t fdb_size, uint32_t aging,
	    uint32_t mac_limit);
void br_fini(struct bridge *br);

/* Where a frame goes: the VLAN it is in, whether it came tagged, and the
 * members (ids) to deliver it to. */
struct br_verdict {
	uint16_t vid;
	bool tagged;
	bool known;                  /* out[0]: the learned destination */
	uint16_t n;
	uint8_t out[BR_MEMBERS_MAX];
};

/*
 * Worker: frame f (len bytes, at least the first 18 readable when len is
 * that long) came from member in.  Learns its source and fills v.
 * Returns v->n (>= 1), or 0 when the frame is dropped (counted).
 */
uint32_t br_input(struct bridge *br, uint16_t in, const uint8_t *f,
		  uint32_t len, struct br_verdict *v);

/* vnet_repeat_fn: n more frames went where br_pick() sent the one before
 * them (VNET_PICK_SAME): counted as forwarded. */
void br_repeat(void *ctx, uint32_t n);

/* How the frame's tag changes on its way out through member out. */
static inline enum vnet_vlan_op br_vlan_op(const struct bridge *br,
					   uint16_t out,
					   const struct br_verdict *v)
{
	bool trunk = br->m[out].vlan.trunk;

	if (v->tagged == trunk)
		return VNET_VLAN_KEEP;
	return trunk ? VNET_VLAN_PUSH : VNET_VLAN_POP;
}

/* vnet_path's chooser (vnet.h: vnet_pick_fn) and upkeep for a member's
 * path: ctx is the bridge, p->pick_in the member, p->qp its queue pair. */
uint32_t br_pick(void *ctx, const struct vnet_path *p, const uint8_t *f,
		 uint32_t flen, uint32_t len, struct vnet_to *to);
void br_pass(void *ctx);
/* vnet_hint_fn: the queue the member's last looked-up destination takes
 * the sender's queue pair's frames on, while its cache holds; else NULL. */
struct vq *br_hint(void *ctx, const struct vnet_path *p);

#endif
