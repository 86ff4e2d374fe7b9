/* SPDX-License-Identifier: MIT */
/*
 * vhostd_metrics.h: the datapath's counters as a Prometheus page (the
 * --metrics server's GET /metrics).
 *
 * Built on the control thread from the same counters vhostctl stats reads
 * (each an untorn load while the workers run; nothing is pushed by them),
 * so the page always matches the ports that exist at that moment.
 * Labels: port, queue (the queue pair index: ring 2q is its rx, ring
 * 2q + 1 its tx), direction (rx, tx: the guest's), reason, worker, core.
 * A queue pair appears once one of its rings was first started, and stays.
 */
#ifndef VHOSTD_METRICS_H
#define VHOSTD_METRICS_H

#include <stdio.h>

#include "vhostd_dp.h"

/* Write every family to f. */
void dp_metrics_write(const struct dp *dp, FILE *f);

#endif
