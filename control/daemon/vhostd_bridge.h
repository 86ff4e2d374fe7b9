/* SPDX-License-Identifier: MIT */
/*
 * vhostd_bridge.h: the daemon's bridges: create and delete them, attach and
 * detach ports, read their forwarding tables and counters.  The command
 * line (--bridge, --port ...,bridge=BR) and the runtime control API call
 * these, on the control thread only.
 *
 * A bridge's paths (every queue pair of every member) are polled by one
 * worker, so each receiving queue of a member has one writer and the
 * forwarding table one writer (datapath/fdb.h).  A change to a bridge's
 * members or to the queues of one of them (a guest's rings set up again)
 * unpublishes the bridge's paths, waits for the worker's quiescent point,
 * changes what it must and publishes them again: the other members' frames
 * wait in their rings meanwhile (microseconds), none is lost.
 *
 * Errors: 0 or a negative errno, and nothing changed:
 *   -EINVAL  bad name (1-31 of [A-Za-z0-9_.-]) or bad configuration
 *   -EEXIST  a bridge of that name exists
 *   -ENOENT  no such bridge, or the port is on no bridge
 *   -ENOSPC  DP_BRIDGES_MAX bridges, or BR_MEMBERS_MAX members
 *   -EBUSY   the bridge has members (delete), the port is wired already
 *            (linked, reflecting, a source, or on a bridge)
 *   -ENOMEM
 */
#ifndef VHOSTD_BRIDGE_H_
#define VHOSTD_BRIDGE_H_

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../../datapath/bridge.h"

struct dp;

#define DP_BRIDGES_MAX 16
#define DP_BRIDGE_NAME_MAX 32

struct dp_bridge_cfg {
	uint32_t aging;        /* seconds, 1..FDB_AGING_MAX; 0: 300 */
	uint32_t mac_limit;    /* MACs learned per member; 0: 1024 */
	uint32_t fdb_size;     /* entries; 0: FDB_SIZE_DEFAULT */
};

/* Add bridge name (no members). */
int dp_bridge_add(struct dp *dp, const char *name,
		  const struct dp_bridge_cfg *cfg);

/* Delete bridge name; it must have no members (-EBUSY). */
int dp_bridge_del(struct dp *dp, const char *name);

/* Port index (dp->ports[port]) becomes a member of bridge name with VLAN
 * mode v.  Its frames are bridged from its next queue set-up on (at once
 * for a port whose queues run). */
int dp_bridge_attach(struct dp *dp, uint32_t port, const char *name,
		     const struct br_vlan *v);

/* Port index leaves its bridge; its MACs are forgotten.  Its frames are
 * discarded (as for an unwired port) until it is wired again. */
int dp_bridge_detach(struct dp *dp, uint32_t port);

/* The bridge of port index (its name), or NULL. */
const char *dp_bridge_of(const struct dp *dp, uint32_t port);

/* Bridge name's settings (as given, defaults filled in: what a config
 * file writes back).  0 or -ENOENT. */
int dp_bridge_get_cfg(const struct dp *dp, const char *name,
		      struct dp_bridge_cfg *out);

/* Port index's VLAN mode on its bridge.  0 or -ENOENT (on no bridge). */
int dp_bridge_port_vlan(const struct dp *dp, uint32_t port,
			struct br_vlan *out);

/* Bridge i (0..DP_BRIDGES_MAX-1): its name, NULL when slot i is free. */
const char *dp_bridge_name(const struct dp *dp, uint32_t i);

/* Every live entry of bridge name's table: fn(arg, mac, vlan, port name,
 * age in seconds).  0 or -ENOENT. */
typedef void (*dp_fdb_fn)(void *arg, const uint8_t mac[6], uint16_t vlan,
			  const char *port, uint32_t age);
int dp_bridge_fdb(const struct dp *dp, const char *name, dp_fdb_fn fn,
		  void *arg);

/* Bridge name's counters: learned, moved, aged, limit, table_full
 * (fdb.h), flooded, forwarded and drops by reason (bridge.h).  0 or
 * -ENOENT. */
struct dp_bridge_stats {
	uint32_t members, macs;
	uint64_t fdb[FDB_COUNTER_MAX];
	struct br_stats br;
};
int dp_bridge_stats(const struct dp *dp, const char *name,
		    struct dp_bridge_stats *out);

/* For `vhostctl CTL stats`: one line per bridge,
 *   bridge name=BR members=N macs=N learned=.. moved=.. aged=.. limit=..
 *     table_full=.. flooded=.. forwarded=.. drop_runt=.. drop_src_mcast=..
 *     drop_vlan=.. drop_hairpin=.. drop_no_member=..
 */
void dp_bridge_stats_print(const struct dp *dp, FILE *f);

/* Control loop, every WK_INTERRUPT_MS: advance the bridges' clocks. */
void dp_bridge_tick(struct dp *dp);

/* Internal to the daemon's datapath (vhostd_dp.c). */
struct dp_port;
struct vnet_path;
/* May bridge b's paths be polled (no member paused, no change under
 * way)? */
bool dp_bridge_steady(const struct dp *dp, int b);
/* Rebuild bridge b's view of its members' receiving queues and refresh
 * every member's paths (none published). */
void dp_bridge_refresh(struct dp *dp, int b);
/* Make path (queue pair qp of p) a bridge path if p is on a bridge. */
void dp_bridge_path(struct dp *dp, const struct dp_port *p,
		    struct vnet_path *path, uint32_t qp);
/* The worker polling bridge b's paths, or -1 (for placement). */
int dp_bridge_worker(const struct dp *dp, int b);
void dp_bridge_fini(struct dp *dp);

#endif
