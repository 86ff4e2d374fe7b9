/* SPDX-License-Identifier: MIT */
/*
 * port.h: ports on the far side of the datapath from a guest (pmd/): an
 * AF_XDP socket per NIC queue (afxdp), a DPDK ethdev (dpdk), and a test
 * port (loop).  A vhost-user guest is not a struct port: it lives in
 * control/ (vu_dev) and its rings are plain virtqueues.
 *
 * Each queue pair of a port is presented to the datapath as two struct vq
 * of the port kind (datapath/vq.h, struct vq_port_ops), laid out exactly as
 * a guest's rings: vqs[2i] takes frames to transmit on queue i (where a
 * guest's RX ring would be), vqs[2i + 1] hands out frames received on
 * queue i (where a guest's TX ring would be).  So the datapath's vnet paths
 * link a guest and a port with the same code that links two guests: one
 * copy per packet per direction, guest buffer <-> port buffer.
 *
 * Offloads: a port's transmit side is a receiver with tx_caps (what its
 * hardware completes: checksum, TSO); the datapath completes in software
 * what the port cannot take.  Its receive side is a sender with rx_caps
 * (valid: frames may carry DATA_VALID; csum/tso: frames may carry partial
 * checksums or GSO, as a looped wire does).
 *
 * Life cycle (control thread): port_open() at start-up (an error is fatal:
 * vhostd exits non-zero, nothing left attached), the vqs polled by workers
 * while it runs, port_close() after the workers stopped.
 */
#ifndef VHOSTD_PORT_H
#define VHOSTD_PORT_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../datapath/offload.h"
#include "../datapath/vq.h"

#define PORT_NAME_MAX 32
#define PORT_MAX_QUEUES 128

struct port_type;

struct port {
	const struct port_type *type;
	char name[PORT_NAME_MAX];
	uint32_t nqueues;           /* queue pairs */
	struct ofl_caps tx_caps;    /* offloads transmit takes (receiver) */
	struct ofl_caps rx_caps;    /* what received frames may carry */
	/* The longest frame transmit takes (virtio-net header excluded, no
	 * GSO), the port's "MTU" for the datapath (vnet_path.frame_max):
	 * loop: its slot; afxdp: a UMEM frame past the headroom (4032; the
	 * kernel refuses beyond the interface's MTU, in its own counters);
	 * dpdk: what one frame's mbufs hold (segments x data room; the
	 * device enforces its MTU itself).  Set by open(). */
	uint32_t frame_max;
	int numa_node;              /* -1: unknown */
	bool hugepages;             /* its buffers are on hugepages */
	struct vq *vqs;             /* 2 * nqueues, page-aligned, see above */
	size_t vqs_len;             /* bytes mapped for vqs */
};

struct port_type {
	const char *name;           /* "afxdp" */
	const char *usage;          /* "afxdp:IFACE[,queues=N]..." */
	/* Parse args (after "TYPE:"), set the port up, log what was set up.
	 * 0 or -errno after one log line saying what was wrong; on error
	 * nothing is left allocated or attached. */
	int (*open)(const char *name, const char *args, struct port **out);
	/* Counters as "portq port=NAME queue=I key=value..." lines, and
	 * any port-wide line.  Control thread, while workers run. */
	void (*stats)(const struct port *p, FILE *f);
	/* Tear down (workers no longer poll it). */
	void (*close)(struct port *p);
};

/* One NIC port as given on the command line (NAME=TYPE:ARGS). */
struct port_spec {
	const char *name, *type, *args;
};

/*
 * What the daemon tells the port types before the first port opens, for a
 * type with process-wide set-up done once for all its ports (DPDK's EAL
 * needs the worker cores, and whether any port is a PCI device).  The
 * caller keeps *env alive until every port is closed.
 */
struct port_env {
	cpu_set_t cores;              /* the worker cores (--cores) */
	uint32_t nspecs;
	const struct port_spec *specs; /* every NIC port, in order */
};

void port_set_env(const struct port_env *env);

/* The env set, or NULL (tests that open ports directly). */
const struct port_env *port_get_env(void);

/* Types this build has, e.g. "loop, afxdp, dpdk". */
const char *port_type_names(void);

/* The type called name, or NULL. */
const struct port_type *port_type_find(const char *name);

/* Why there is no type called name, for a message: "port type 'dpdk'
 * is not in this build (...)" for a type vhostd has but this build was
 * configured without (afxdp, dpdk), else "unknown port type 'x' (...)",
 * with the types this build has. */
const char *port_type_missing(const char *name, char *buf, size_t len);

/* Open port name of type TYPE with args ("TYPE:ARGS" split by the
 * caller).  0 or -errno (logged). */
int port_open(const char *name, const char *type, const char *args,
	      struct port **out);

void port_stats(const struct port *p, FILE *f);
void port_close(struct port *p);

/* ---- for port types ------------------------------------------------ */

/* Allocate p->vqs for n queue pairs and set p's common fields.
 * 0 or -ENOMEM. */
int port_init_common(struct port *p, const struct port_type *t,
		     const char *name, uint32_t nqueues);
void port_fini_common(struct port *p);

/*
 * Split "key=value,flag,..." args in place: calls fn(key, value, arg) per
 * item (value NULL for a bare flag).  The first item may be positional
 * (fn gets key NULL, value the item) when first_positional.  Stops at the
 * first non-zero return and returns it.
 */
int port_args(char *args, bool first_positional,
	      int (*fn)(const char *key, const char *value, void *arg),
	      void *arg);

/* Parse a decimal u32 in [lo, hi]; 0 or -EINVAL. */
int port_parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out);

#endif
