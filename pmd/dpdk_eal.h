/* SPDX-License-Identifier: MIT */
/*
 * dpdk_eal.h: DPDK's Environment Abstraction Layer, set up once per vhostd
 * process for its dpdk ports (port_dpdk.c), and torn down with the last.
 *
 * How vhostd runs the EAL:
 *  - lcores: the EAL's main lcore (0) is the control thread, left on the
 *    CPUs it already runs on (so the EAL pins nothing); vhostd's own
 *    worker threads (--cores) join as they start, through a worker.h
 *    thread hook calling rte_thread_register() (each gets an lcore id,
 *    hence mempool per-lcore caches, and its NUMA socket from the core
 *    it is pinned to), and leave with rte_thread_unregister();
 *  - memory: 2 MiB hugepages when at least DPDK_EAL_MIN_FREE_PAGES are
 *    free (and vhostd runs as root), capped at DPDK_EAL_SOCKET_LIMIT_MB
 *    per NUMA node, else --no-huge (DPDK_EAL_NOHUGE_MB of ordinary
 *    memory); --in-memory (--no-shconf with --no-huge: no hugetlbfs files,
 *    no shared config, nothing of it outlives the process, and secondary
 *    processes cannot attach, which rte_thread_register() requires), with
 *    --file-prefix=vhostd-PID so several vhostd run side by side; the
 *    EAL's (empty) runtime directory is removed at clean-up;
 *  - devices: --no-pci unless some dpdk port names a PCI address, then
 *    only those addresses are allowed (-a); every device, PCI or vdev, is
 *    then probed by its port (rte_dev_probe);
 *  - logs: DPDK's lines go through vhostd's log (tag "dpdk"), errors only
 *    unless vhostd runs with --log-level debug (then DPDK's info too);
 *  - no telemetry socket.
 * Control thread only.
 */
#ifndef VHOSTD_DPDK_EAL_H
#define VHOSTD_DPDK_EAL_H

#include <stdbool.h>

#define DPDK_EAL_MIN_FREE_PAGES 32     /* 64 MiB of 2 MiB pages */
#define DPDK_EAL_SOCKET_LIMIT_MB 256   /* 128 pages */
#define DPDK_EAL_NOHUGE_MB 256

/* Take a reference on the EAL, starting it on the first.  0 or -errno
 * (logged; nothing is left behind). */
int dpdk_eal_get(void);

/* Drop a reference; the last one cleans the EAL up (rte_eal_cleanup).
 * The EAL cannot start again in this process after that. */
void dpdk_eal_put(void);

/* The EAL's memory is on hugepages (not --no-huge). */
bool dpdk_eal_hugepages(void);

#endif
