/* SPDX-License-Identifier: MIT */
/*
 * topo.h: the host's NUMA topology, read once at start-up.
 *
 * Nodes, the online cores of each, and the hugepages of each node by page
 * size (total and free, from sysfs).  The default source is libnuma for
 * nodes and cores plus sysfs for what libnuma does not know (online cores,
 * hugepages); a host without NUMA support is one node 0 holding every
 * online core.  The source is injectable: numa_topo_load() with a sysfs
 * root other than "/sys" reads a directory tree of the same shape
 * (devices/system/cpu/{possible,online}, devices/system/node/nodeN/cpulist,
 * devices/system/node/nodeN/hugepages/hugepages-SIZEkB/{nr,free}_hugepages)
 * so that tests describe 2- or 4-node hosts; vhostd takes one from the
 * environment variable VHOSTD_NUMA_SYSFS (tests only).
 *
 * A topology is plain data: tests may also fill one in directly.
 */
#ifndef VHOSTD_NUMA_TOPO_H
#define VHOSTD_NUMA_TOPO_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NUMA_NODES_MAX 64     /* node ids 0..63 */
#define NUMA_HP_SIZES 4       /* hugepage sizes per node */

struct numa_hp {
	uint64_t size_kb;     /* 2048, 1048576 */
	uint64_t total, free;
};

struct numa_node {
	bool present;
	cpu_set_t cpus;       /* the node's online cores */
	uint32_t nhp;
	struct numa_hp hp[NUMA_HP_SIZES];
};

struct numa_topo {
	uint32_t nnodes;      /* highest present node id + 1 */
	cpu_set_t possible;   /* cores that exist */
	cpu_set_t online;
	bool from_libnuma;    /* false: a sysfs tree, or no NUMA support */
	struct numa_node node[NUMA_NODES_MAX];
};

/* Read the topology: sysfs_root NULL = libnuma and /sys; anything else a
 * tree as described above.  0 or -errno (logged). */
int numa_topo_load(struct numa_topo *t, const char *sysfs_root);

/* The process's topology: loaded on first use from VHOSTD_NUMA_SYSFS if
 * set, else from libnuma; never NULL (a failed load is one node 0 with
 * every core this process may run on, and says so in the log).  Control
 * thread only. */
const struct numa_topo *numa_topo_get(void);

/* Node of cpu, or -1 when no node holds it. */
int numa_topo_cpu_node(const struct numa_topo *t, int cpu);

/* Number of present nodes. */
uint32_t numa_topo_nodes(const struct numa_topo *t);

/* Free hugepages of size_kb on node (0 when none or unknown). */
uint64_t numa_topo_huge_free(const struct numa_topo *t, int node,
			     uint64_t size_kb);

/* Log one line with the node count and one per node (info level). */
void numa_topo_log(const struct numa_topo *t);

/* "0-3,8": parse a kernel cpulist into out.  0 or -EINVAL. */
int numa_cpulist_parse(const char *s, cpu_set_t *out);

/* Format set as a cpulist ("0-3,8"; "none" when empty) into buf. */
const char *numa_cpulist_fmt(const cpu_set_t *set, char *buf, size_t len);

#endif
