/* SPDX-License-Identifier: MIT */
/*
 * vhostd_dp.h: the daemon's datapath: worker threads, and the forwarding
 * paths between its vhost-user devices, kept in step with device state.
 *
 * Every port gets one vnet path per queue pair: its guest TX queue to the
 * guest RX queue of its peer (--link) or of itself (--reflect); a device
 * with neither discards what its guest sends.  A NIC port (pmd/port.h)
 * shows the same rings (its receive side where a guest's TX ring is, its
 * transmit side where the RX ring is), so it takes part in the same paths;
 * it is never paused.  A --source device's queue
 * pairs instead feed its guest RX from a fixed frame and discard its TX.
 *
 * Placement (vhostd_place.c, numa/place.h): each queue pair's state (its
 * path and a guest's two vqs, struct dp_qp) is one block on the NUMA node
 * of the guest memory its rings live in (a NIC port not linked to a
 * guest: the NIC's node), on a hugepage when the node has one free; its
 * path is polled by the least-loaded worker whose core is on that node.
 * A path keeps its worker while it is published: it is placed when it
 * becomes live and unplaced when it stops being live, so no two workers
 * ever poll one path.  A device's resume (after a memory table change,
 * too) places its paths afresh.
 *
 * The device's vu_dev_ops point here: pause() publishes
 * poll lists without any path that touches the device and waits until no
 * worker can still be in one (then saves each ring's next avail index for
 * GET_VRING_BASE); resume() rebuilds the device's queues from the rings'
 * control state and publishes lists with every ready path again.
 */
#ifndef VHOSTD_DP_H
#define VHOSTD_DP_H

#include <sched.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../datapath/spread.h"
#include "../../datapath/vnet.h"
#include "../../datapath/worker.h"
#include "../../numa/mem.h"
#include "../../numa/place.h"
#include "../../numa/topo.h"
#include "../../pmd/port.h"
#include "../backend/vu_dev.h"

/* One queue pair's datapath state, in one block on its node. */
struct dp_qp {
	struct vnet_path path;
	struct vq vq[2];           /* a guest's rings 2i, 2i + 1 (a NIC
				    * port's are its own: port->vqs) */
	int node;                  /* node the block was allocated for */
	bool huge;                 /* the block is on a hugepage */
	int worker;                /* polling worker, -1: not placed */
	int ring_node;             /* a guest's: node of its rings, -1 */
	int mem_node, nic_node;    /* the path's guest memory and NIC */
	struct wk_item_stats wk;   /* the worker's cycles in path polls */
};

struct dp_port {
	struct vu_dev *dev;        /* a guest, or NULL */
	struct port *nic;          /* a NIC port (pmd/), or NULL */
	int peer;                  /* port index, -1 */
	bool reflect;
	bool paused;
	bool held;                 /* being rewired or removed (vhostd_dp_rt.c):
				    * none of its paths, nor any into it, is
				    * published */
	bool stopping;             /* a ring of dev was stopped (GET_VRING_BASE)
				    * and not started again */
	struct dp_qp **qps;        /* one per queue pair; NULL until one of its
				    * rings is first started */
	bool *vq_live;             /* ring i was set up by the last resume */
	bool cross_logged;         /* guest and NIC on different nodes: said */
	struct vnet_source *source; /* --source: the frame, else NULL */
	struct vnet_source rarp;   /* SEND_RARP's frame, while announced */
	struct spread spread;      /* --link to fewer queues: the peer's
				    * enabled receiving queues (spread.h) */
	int bridge;                /* vhostd_bridge.h: its bridge, -1 */
	uint16_t member;           /* its member id there */
	/* Rings whose packed-position slot (dev->pos) this process wrote
	 * with a size: the only stopped rings without a size whose slot a
	 * resume must clear (vhostd_dp.c: pos_publish). */
	uint64_t pos_sized[2 * VU_MAX_QUEUE_PAIRS / 64];
};

/* What a port is wired to (at most one of these). */
struct dp_wiring {
	int peer;                  /* --link: port index, else -1 */
	bool reflect;              /* --reflect */
	uint32_t source_len;       /* --source: frame bytes, else 0 */
};

struct dp {
	struct worker *workers;
	uint32_t nworkers;
	struct place_worker *pw;   /* per worker: its core's node, its load */
	struct dp_port *ports;     /* cap slots, zero until first taken */
	uint32_t nports;           /* slots [0, nports) taken at least once:
				    * every loop over the ports stops there */
	uint32_t cap;              /* slots dp_init() made room for */
	struct numa_slab slab;     /* struct dp_qp blocks */
	bool halted;               /* dp_halt(): nothing is polled again */
	FILE *placement_out;       /* --print-placement: print changes here */
	char *placement_last;      /* what was printed there last */
	struct dp_bridge *bridges; /* vhostd_bridge.c: DP_BRIDGES_MAX */
	bool started;              /* dp_start() ran: paths are set up */
};

/* Ring i of port p (a guest's, or a NIC port's). */
static inline struct vq *dp_vq(const struct dp_port *p, uint32_t i)
{
	return p->nic ? &p->nic->vqs[i] : &p->qps[i / 2]->vq[i & 1];
}

/* Start one worker per core in cores; room for nports port slots.  0 or
 * -errno. */
int dp_init(struct dp *dp, const cpu_set_t *cores, uint32_t nports,
	    const struct numa_topo *topo);

/* Attach port i (its device must outlive dp); sets dev->ops.  -ENOSPC:
 * i is past the slots dp_init() made room for. */
int dp_attach(struct dp *dp, uint32_t i, struct vu_dev *dev,
	      const struct dp_wiring *w);

/* Attach NIC port i (opened by the caller, closed after dp_fini());
 * -ENOSPC as dp_attach(). */
int dp_attach_port(struct dp *dp, uint32_t i, struct port *nic,
		   const struct dp_wiring *w);

/* Once every port is attached: publish the paths that are live already
 * (a NIC port's).  0 or -ENOMEM. */
int dp_start(struct dp *dp);

/* The workers' watchdog (worker.h, wk_watch): the control loop calls it
 * every WK_INTERRUPT_MS, busy or idle. */
void dp_watch(struct dp *dp);

/* A port's name, whichever its kind. */
const char *dp_port_name(const struct dp_port *p);

/* Print every port's per-queue counters and every worker's (control
 * thread; counters are read while workers run, each one untorn). */
void dp_stats_print(const struct dp *dp, FILE *f);

/* One "placement" line per started queue pair of every port (control
 * thread):
 *   placement port=NAME qp=N worker=W core=C core_node=CN mem_node=MN
 *     nic_node=NN state_node=SN state_huge=yes|no guest_huge=yes|no|mixed
 *     nic_huge=yes|no
 * mem_node: the node of the guest memory its rings are in; nic_node: the
 * NIC's it touches; state_node: where its state was allocated; "-" for
 * unknown or none (worker=- : not polled now). */
void dp_placement_print(const struct dp *dp, FILE *f);

/* --print-placement: print the polled queue pairs' lines to
 * dp->placement_out if they differ from what was printed last. */
void dp_placement_changed(struct dp *dp);

/*
 * A planned stop, before any front-end's connection closes: take every
 * path off every worker and wait until each has finished its pass (every
 * used entry of what it took published, every guest notified: worker.h),
 * then nothing is polled again and no port's state is read for another
 * port's sake (devices may be torn down in any order).  A front-end that
 * sees its connection close after this reads ring positions that no
 * worker moves any more.
 */
void dp_halt(struct dp *dp);

/* Stop the workers and free everything. */
void dp_fini(struct dp *dp);

/* One line per worker: packets moved and cycles per packet. */
void dp_log_stats(const struct dp *dp);

/*
 * Changes while the workers run (vhostd_dp_rt.c), control thread only.
 * Each takes the paths it changes off the workers' lists first (waiting
 * for their quiescent points), so no worker ever sees a half-changed path
 * or a freed ring; paths of other ports stay published throughout.
 */
/* Link ports a and b (both unlinked, neither reflecting nor a source);
 * b = -1: unlink a from its peer.  0 or -ENOMEM. */
int dp_link(struct dp *dp, uint32_t a, int b);
/* A NIC port attached after dp_start(): publish its live paths. */
int dp_port_live(struct dp *dp, uint32_t i);
/* Forget port i, linked to nothing and on no bridge: its paths leave the
 * workers, its queue state is freed, a guest's device loses its datapath
 * hooks (the caller stops it afterwards: vu_port_stop) and a NIC port is
 * closed by the caller afterwards.  The slot is free again. */
void dp_detach(struct dp *dp, uint32_t i);

/* Internal to vhostd_dp.c, vhostd_dp_rt.c and vhostd_place.c. */
uint32_t dp_npairs(const struct dp_port *p);
struct dp_port *dp_target(const struct dp *dp, const struct dp_port *p);
bool dp_path_live(struct dp *dp, struct dp_port *p, uint32_t qp);
/* A zeroed, unplaced block for queue pair qp of p, on node (set in
 * p->qps[qp]); NULL when out of memory. */
struct dp_qp *dp_qp_new(struct dp *dp, struct dp_port *p, uint32_t qp,
		       int node);
/* A block, on the node of its rings, for each queue pair of guest p with a
 * ready ring (p paused); notes that node.  0 or -ENOMEM. */
int dp_qps_ensure(struct dp *dp, struct dp_port *p);
/* Move port p's queue pair blocks to the nodes of their paths (none of
 * them published).  0 or -ENOMEM (a block that cannot move stays). */
int dp_settle(struct dp *dp, struct dp_port *p);
/* Unplace what is no longer live, place what became live; true when
 * anything changed (before publishing the lists). */
bool dp_place(struct dp *dp);
/* Set path qp of p from the rings' state (not published). */
void dp_path_refresh(struct dp *dp, struct dp_port *p, uint32_t qp);
/* Give every worker a new list of its paths.  0 or -ENOMEM. */
int dp_publish(struct dp *dp);
/* The worker p's paths must share (a bridge's, or p's own when its --link
 * spreads over fewer queues), or -1: any. */
int dp_group_worker(const struct dp *dp, const struct dp_port *p);
/* Receiving queue qp of port t as a destination; false when it takes no
 * frames now (not live, or disabled). */
bool dp_rx_dst(const struct dp_port *t, uint32_t qp, struct vnet_dst *d);
/* The wake-up sources of the path of queue pair qp (block q) of p
 * (vhostd_idle.c). */
struct wk_wake dp_wake(const struct dp_port *p, const struct dp_qp *q,
		       uint32_t qp);

#endif
