/* SPDX-License-Identifier: MIT */
/*
 * cores.h: the worker cores named on the command line (--cores).
 *
 * A spec is a comma-separated list of
 *   N        core N
 *   N-M      cores N to M
 *   nodeN    every usable core of node N
 *   nodeN:K  K usable cores of node N, the highest-numbered first (a
 *            node's first core usually takes the host's housekeeping and
 *            interrupts), skipping cores named earlier in the spec
 * A usable core exists, is online and is one this process may run on
 * (its affinity: taskset, systemd's CPUAffinity=).  Anything else is
 * refused with a message that says which core or node and why.
 */
#ifndef VHOSTD_NUMA_CORES_H
#define VHOSTD_NUMA_CORES_H

#include <sched.h>
#include <stddef.h>

#include "topo.h"

/* Parse spec into out.  0, or -EINVAL with the reason in err. */
int numa_cores_parse(const struct numa_topo *t, const cpu_set_t *allowed,
		     const char *spec, cpu_set_t *out, char *err,
		     size_t errlen);

#endif
