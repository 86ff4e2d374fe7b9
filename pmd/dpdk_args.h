/* SPDX-License-Identifier: MIT */
/*
 * dpdk_args.h: what a dpdk port's arguments say.
 *
 *   --port NAME=dpdk:DEVARGS[,queues=N]
 *
 * DEVARGS is a DPDK device string, itself comma-separated: a PCI address
 * ("0000:01:00.0", "01:00.0") or a vdev ("net_tap0,iface=tap0",
 * "net_ring0", "net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap"), each with
 * the driver's own key=value arguments.  vhostd's own keys come last:
 * trailing items whose key is one of vhostd's (queues) are vhostd's,
 * everything before them is handed to DPDK untouched.  So a driver
 * argument that happens to be called "queues" (net_vhost has one) is
 * passed to DPDK by giving vhostd's after it:
 * "net_vhost0,iface=/tmp/s,queues=2,queues=2".
 */
#ifndef VHOSTD_DPDK_ARGS_H
#define VHOSTD_DPDK_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#define DPDK_DEVARGS_MAX 256

struct dpdk_args {
	char devargs[DPDK_DEVARGS_MAX]; /* for rte_dev_probe() */
	char device[DPDK_DEVARGS_MAX];  /* its first item: the device */
	uint32_t queues;                /* queue pairs, default 1 */
	bool pci;                       /* device is a PCI address */
};

/* Split args into a.  0, or -EINVAL with err (len bytes) saying why. */
int dpdk_args_parse(const char *args, struct dpdk_args *a, char *err,
		    uint32_t len);

/* id ("0000:01:00.0" or "01:00.0") is a PCI address. */
bool dpdk_is_pci(const char *id);

#endif
