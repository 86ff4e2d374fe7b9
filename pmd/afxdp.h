/* SPDX-License-Identifier: MIT */
/*
 * afxdp.h: the AF_XDP port's parts (pmd/port_afxdp.c and its helpers).
 *
 *   port_afxdp.c   arguments, open/close, statistics: the port type
 *   afxdp_ring.c   the datapath: vq_port_ops for the receive and the
 *                  transmit side of one queue
 *   afxdp_sock.c   one queue's UMEM (hugepages, NUMA) and AF_XDP socket
 *   afxdp_iface.c  the interface: existence, link, channels, NUMA node,
 *                  who else has an XDP program on it
 *   afxdp_csum.c   partial checksums from a veth peer's stack
 *
 * One AF_XDP socket per NIC queue, each with its own UMEM of AFXDP_FRAMES
 * frames of AFXDP_FRAME bytes.  The first AFXDP_RX_FRAMES frames belong to
 * the receive side (they cycle through the fill ring, the kernel's RX ring
 * and the worker's hands), the rest to the transmit side (a free list, the
 * TX ring, the completion ring).  Neither side ever touches the other's
 * frames, rings or counters, so the two sides of one queue may be polled
 * by different workers with nothing shared but the socket's fd.
 *
 * Frame layout (both sides), AFXDP_HEADROOM bytes of UMEM headroom:
 *
 *   chunk: [ headroom ... | 12-byte virtio-net header ][ frame ...    ]
 *          0          HEADROOM - 12                  HEADROOM (TX) or
 *                                      HEADROOM + XDP_PACKET_HEADROOM (RX)
 *
 * The UMEM headroom lies before the kernel's data_hard_start, so no XDP
 * program can move a received frame into it: the 12 bytes before every
 * frame are always ours for the header (the vq_port_ops contract).
 */
#ifndef VHOSTD_AFXDP_H
#define VHOSTD_AFXDP_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include <xdp/xsk.h>

#include "../datapath/compiler.h"
#include "../datapath/vring.h"
#include "port.h"

#define AFXDP_FRAME 4096u            /* UMEM chunk */
#define AFXDP_HEADROOM 64u           /* UMEM headroom, >= the 12-byte header */
#define AFXDP_RING 2048u             /* every ring: fill, comp, rx, tx */
#define AFXDP_RX_FRAMES AFXDP_RING   /* frames 0..RX-1: the receive side */
#define AFXDP_TX_FRAMES AFXDP_RING   /* the rest: the transmit side */
#define AFXDP_FRAMES (AFXDP_RX_FRAMES + AFXDP_TX_FRAMES)
#define AFXDP_VHDR ((uint32_t)sizeof(struct virtio_net_hdr))
/* The largest frame the transmit side takes (header not counted). */
#define AFXDP_TX_MAX (AFXDP_FRAME - AFXDP_HEADROOM)

_Static_assert(AFXDP_HEADROOM >= sizeof(struct virtio_net_hdr),
	       "the virtio-net header goes in the UMEM headroom");
_Static_assert(AFXDP_FRAMES <= 65536, "frame indices are chain heads");

enum afxdp_copy_mode { AFXDP_MODE_AUTO, AFXDP_MODE_ZEROCOPY, AFXDP_MODE_COPY };

/* What the user asked for (--port NAME=afxdp:...). */
struct afxdp_args {
	const char *name;
	char iface[IF_NAMESIZE];
	uint32_t queues, start_queue;
	enum afxdp_copy_mode mode;
	bool busy_poll;
};

/* One NIC queue: its socket, UMEM and both sides' state. */
struct afxdp_q {
	/* Receive side (the worker polling the path out of the port). */
	struct xsk_ring_cons rx;
	struct xsk_ring_prod fill;
	uint32_t fill_pending;         /* given back, not yet submitted */
	uint64_t rx_packets, rx_bytes, rx_wakeups, rx_csum_partial;
	/* Transmit side (the worker polling the path into the port). */
	struct xsk_ring_prod tx cache_aligned;
	struct xsk_ring_cons comp;
	uint32_t tx_pending;           /* descriptors not yet submitted */
	uint32_t nfree;                /* free[0, nfree): frame indices */
	uint64_t tx_packets, tx_bytes, tx_no_frame, tx_too_big;
	uint64_t tx_kicks, tx_kick_errors;
	uint16_t free[AFXDP_TX_FRAMES];
	/* Read-only after open. */
	uint8_t *area cache_aligned;   /* the UMEM */
	size_t area_len;
	bool area_huge;
	int fd;                        /* the AF_XDP socket */
	uint32_t queue_id;
	bool busy_poll, zerocopy;
	bool csum_partial;             /* look for partial checksums */
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
} cache_aligned;

/* What afxdp_iface_probe() found out about the interface. */
struct afxdp_iface {
	int ifindex;
	uint32_t channels;             /* usable queues: min(rx, tx) */
	int numa_node;                 /* -1: none (a veth) */
	bool virtual_dev;              /* no device (veth...): its peer's
					* stack may send partial checksums */
	bool xdp_present;              /* XDP was there: keep its mode */
	uint32_t xdp_flags;            /* attach mode for libxdp */
};

/* ---- afxdp_ring.c -------------------------------------------------- */
extern const struct vq_port_ops afxdp_rx_ops, afxdp_tx_ops;

/* Hand the receive side's frames to the fill ring and the transmit
 * side's to its free list (open, before any worker polls). */
void afxdp_q_prime(struct afxdp_q *q);

/* ---- afxdp_csum.c -------------------------------------------------- */
/* If frame f (len bytes) is TCP or UDP over IPv4 or IPv6 (one VLAN tag at
 * most, no IPv6 extension headers, not a fragment) whose checksum field
 * holds only the pseudo-header sum, set h's NEEDS_CSUM, csum_start and
 * csum_offset and return true. */
bool afxdp_csum_partial(const uint8_t *f, uint32_t len,
			struct virtio_net_hdr *h);

/* ---- afxdp_sock.c -------------------------------------------------- */
/* Create q's UMEM (on ifc's NUMA node when it has one) and its socket on
 * queue q->queue_id, then prime the rings.  A driver without native XDP
 * turns ifc->xdp_flags to generic mode.  0 or -errno, logged; on error
 * nothing of q is left. */
int afxdp_q_open(struct afxdp_q *q, const struct afxdp_args *a,
		 struct afxdp_iface *ifc);
void afxdp_q_close(struct afxdp_q *q);

/* Turn on busy polling for q's socket; 0 or -errno (logged). */
int afxdp_q_busy_poll(struct afxdp_q *q, const char *name);

/* ---- afxdp_iface.c ------------------------------------------------- */
/* Route libxdp's and libbpf's messages to our log (debug level) and make
 * sure libxdp can use its dispatcher (a bpffs).  Once, before any port. */
void afxdp_libs_init(void);

/* Check the interface for a.  0 or -errno after one log line. */
int afxdp_iface_probe(const struct afxdp_args *a, struct afxdp_iface *ifc);

/* Whether libxdp's program sits in its dispatcher (other XDP programs
 * can run next to it) rather than alone on the interface. */
bool afxdp_iface_dispatched(const struct afxdp_iface *ifc);

#endif
