/* SPDX-License-Identifier: MIT */
/*
 * dpdk_offload.h: a frame's virtio-net header as DPDK transmit offloads.
 *
 * A sender's NEEDS_CSUM (csum_start, csum_offset) and GSO (gso_type,
 * gso_size) become mbuf fields: l2_len, l3_len, l4_len, tso_segsz, and
 * ol_flags RTE_MBUF_F_TX_IPV4/IPV6, TCP_CKSUM/UDP_CKSUM, IP_CKSUM and
 * TCP_SEG for TSO; the L4 checksum field gets the pseudo-header checksum
 * DPDK asks for (rte_ipv4_phdr_cksum()/rte_ipv6_phdr_cksum(): without the
 * length for TSO) and, for IPv4 TSO, the IP checksum field 0.  Only what
 * caps says the device takes is handed to it: a checksum it cannot take,
 * or one not on TCP/UDP over IPv4 or IPv6 without extension headers (one
 * VLAN tag at most) with every header in the first mbuf, is completed
 * here in software; a GSO frame it cannot take is refused (the datapath never hands one over unless caps
 * says tso4/tso6).  A GSO frame whose payload fits one segment goes as a
 * plain checksum offload.
 *
 * Trust: the header and the frame come from a guest; offsets are checked
 * against the frame before anything is read or written.
 */
#ifndef VHOSTD_DPDK_OFFLOAD_H
#define VHOSTD_DPDK_OFFLOAD_H

#include <rte_mbuf.h>

#include "../datapath/offload.h"
#include "../datapath/vq.h"

enum dpdk_ofl {
	DPDK_OFL_NONE,      /* the header asks for nothing */
	DPDK_OFL_HW_CSUM,   /* the device completes the checksum */
	DPDK_OFL_TSO,       /* the device segments (and checksums) */
	DPDK_OFL_SW_CSUM,   /* completed here */
	DPDK_OFL_BAD,       /* cannot be sent: drop */
};

/*
 * Map header h of the frame in m (m's lengths set; the frame is also
 * chain c from byte hdr_len, for the software checksum) to m's offload
 * fields, for a device that takes caps.
 */
enum dpdk_ofl dpdk_ofl_tx(struct rte_mbuf *m, const struct vq_chain *c,
			  uint32_t hdr_len, const struct virtio_net_hdr *h,
			  const struct ofl_caps *caps);

#endif
