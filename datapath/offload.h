/* SPDX-License-Identifier: MIT */
/*
 * offload.h: virtio-net offloads between a sender and a receiver.
 *
 * A sender that negotiated CSUM (HOST_TSO4/6) may hand over frames with a
 * partial checksum (NEEDS_CSUM, csum_start/csum_offset) or TCP frames larger
 * than the MTU to be segmented (gso_type, gso_size).  When the receiver
 * negotiated the matching GUEST_CSUM (GUEST_TSO4/6), the header travels as
 * it is; when it did not, vhostd does the work in software: it completes the
 * checksum, or cuts the frame into gso_size segments with their own IPv4/
 * IPv6 and TCP headers and full checksums.  Either way each byte is still
 * copied once: the rewritten headers go to the receiver from a small local
 * buffer and the payload straight from the sender's buffers.
 *
 * Trust: the header and the frame's headers are read once into local
 * memory and validated; offsets that lie outside the frame, offloads the
 * sender did not negotiate, and GSO frames that are not plain TCP over IPv4
 * or IPv6 (optionally one VLAN tag) are refused with a reason.
 */
#ifndef VHOSTD_OFFLOAD_H
#define VHOSTD_OFFLOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "vq.h"
#include "vring.h"

#define OFL_HDR_MAX 192   /* Ethernet + VLAN + IPv4/IPv6 + TCP with options */

/*
 * Linux's smallest TCP MSS (include/net/tcp.h: TCP_MIN_MSS 88, "Minimal
 * accepted MSS"): no stack sends a GSO frame cut smaller, and a gso_size
 * of 1 would turn one 64 KiB frame into 64k segments.  A GSO frame of
 * more segments than OFL_GSO_SEGS_MAX is refused as well (a 64 KiB frame
 * at gso_size 88 has 745): no receiver or segmenter is asked for more.
 */
#define OFL_GSO_SIZE_MIN 88u
#define OFL_GSO_SEGS_MAX 1024u

/* What each side negotiated. */
struct ofl_caps {
	bool csum;      /* sender: CSUM;     receiver: GUEST_CSUM */
	bool tso4;      /* sender: HOST_TSO4; receiver: GUEST_TSO4 */
	bool tso6;      /* sender: HOST_TSO6; receiver: GUEST_TSO6 */
	bool valid;     /* sender: a port whose frames may carry DATA_VALID
			 * (checked by its hardware); passed on to a
			 * receiver with GUEST_CSUM, else cleared */
};

enum ofl_action {
	OFL_PLAIN,      /* nothing to do: header zeroed for the receiver */
	OFL_PASS,       /* receiver takes the offload: header passed on */
	OFL_CSUM,       /* complete the checksum in software */
	OFL_SEGMENT,    /* segment in software (TSO) */
	OFL_BAD,        /* offload fields invalid or not negotiated */
	OFL_UNSUPP,     /* GSO frame vhostd cannot segment */
	OFL_GSO_REFUSED, /* gso_size below OFL_GSO_SIZE_MIN, or more segments
			  * than OFL_GSO_SEGS_MAX */
};

/* A GSO frame's headers, parsed for segmentation. */
struct ofl_tso {
	uint8_t hdr[OFL_HDR_MAX];   /* L2..L4 headers, copied once */
	uint32_t hlen;              /* bytes of hdr in use */
	uint32_t l3, l4;            /* offsets of the IP and TCP headers */
	bool v6;
	uint32_t payload;           /* bytes after hlen */
	uint32_t mss;               /* gso_size */
	uint32_t nseg;
};

/*
 * Decide what a frame needs.  h is the sender's header (read once); len the
 * frame's length (header excluded); tx the sender's chain with the frame at
 * byte hdr_len.  For OFL_SEGMENT, t is filled.
 */
enum ofl_action ofl_classify(const struct virtio_net_hdr *h, uint32_t len,
			     const struct ofl_caps *snd,
			     const struct ofl_caps *rcv,
			     const struct vq_chain *tx, uint32_t hdr_len,
			     struct ofl_tso *t);

/*
 * OFL_CSUM: the checksum of the frame from csum_start to its end, with the
 * sender's partial value in place, as the receiver must see it (0 is sent
 * as 0xffff, as Linux does).
 */
uint16_t ofl_csum_complete(const struct virtio_net_hdr *h, uint32_t len,
			   const struct vq_chain *tx, uint32_t hdr_len);

/*
 * OFL_SEGMENT: write segment k's headers to out (t->hlen bytes) with
 * lengths, IPv4 id, TCP sequence number, flags and the full TCP checksum
 * (over the payload in tx) set.  Returns the payload bytes of segment k;
 * its payload starts at hdr_len + t->hlen + k * t->mss in tx.
 */
uint32_t ofl_tso_segment(const struct ofl_tso *t, uint32_t k, uint8_t *out,
			 const struct vq_chain *tx, uint32_t hdr_len);

#endif
