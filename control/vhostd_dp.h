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
 * pairs instead feed its guest RX from a fixed frame and discard its TX.  Paths are spread round-robin
 * over the workers.  The device's vu_dev_ops point here: pause() publishes
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

#include "../datapath/vnet.h"
#include "../datapath/worker.h"
#include "../pmd/port.h"
#include "vu_dev.h"

struct dp_port {
	struct vu_dev *dev;        /* a guest, or NULL */
	struct port *nic;          /* a NIC port (pmd/), or NULL */
	int peer;                  /* port index, -1 */
	bool reflect;
	bool paused;
	bool stopping;             /* a ring of dev was stopped (GET_VRING_BASE)
				    * and not started again */
	struct vq *vqs;            /* one per ring (a NIC port: its vqs) */
	bool *vq_live;             /* vqs[i] was set up by the last resume */
	struct vnet_path *paths;   /* one per queue pair */
	struct vnet_source *source; /* --source: the frame, else NULL */
	struct vnet_source rarp;   /* SEND_RARP's frame, while announced */
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
	struct dp_port *ports;
	uint32_t nports;
};

/* Start one worker per core in cores.  0 or -errno. */
int dp_init(struct dp *dp, const cpu_set_t *cores, uint32_t nports);

/* Attach port i (its device must outlive dp); sets dev->ops. */
int dp_attach(struct dp *dp, uint32_t i, struct vu_dev *dev,
	      const struct dp_wiring *w);

/* Attach NIC port i (opened by the caller, closed after dp_fini()). */
int dp_attach_port(struct dp *dp, uint32_t i, struct port *nic,
		   const struct dp_wiring *w);

/* Once every port is attached: publish the paths that are live already
 * (a NIC port's).  0 or -ENOMEM. */
int dp_start(struct dp *dp);

/* A port's name, whichever its kind. */
const char *dp_port_name(const struct dp_port *p);

/* Print every port's per-queue counters and every worker's (control
 * thread; counters are read while workers run, each one untorn). */
void dp_stats_print(const struct dp *dp, FILE *f);

/* Stop the workers and free everything. */
void dp_fini(struct dp *dp);

#endif
