/* SPDX-License-Identifier: MIT */
/*
 * place.h: which worker polls a queue pair.
 *
 * A queue pair belongs on the node of the memory it touches: the guest's
 * rings and buffers (or, for a NIC port not linked to a guest, the NIC's
 * node).  It goes to the least-loaded worker whose core is on that node;
 * when no worker core is on it (or the node is unknown), to the
 * least-loaded worker of all, and the caller is told it crossed nodes.
 * Ties go to the lowest worker index, so placement is deterministic.
 * Pure functions over plain data: the unit tests drive them with 2- and
 * 4-node hosts.
 */
#ifndef VHOSTD_NUMA_PLACE_H
#define VHOSTD_NUMA_PLACE_H

#include <stdbool.h>
#include <stdint.h>

struct place_worker {
	int node;          /* node of the worker's core, -1 unknown */
	uint32_t load;     /* queue pairs it polls now */
};

/* Index of the worker for a queue pair on node; *remote (may be NULL) is
 * set when no worker is on a known node.  n must be > 0. */
uint32_t numa_place_pick(const struct place_worker *w, uint32_t n, int node,
			 bool *remote);

/* The node a queue pair's state and polling belong to: its guest's
 * memory node when known, else its NIC's, else -1. */
static inline int numa_place_node(int guest_node, int nic_node)
{
	return guest_node >= 0 ? guest_node : nic_node >= 0 ? nic_node : -1;
}

#endif
