/* SPDX-License-Identifier: MIT */
/*
 * vhostd_opts.h: vhostd's command line.
 *
 * The contract scripts rely on (options may be added, never changed):
 *   --port NAME=vhost:PATH[,client][,queues=N][,mac=MAC][,mtu=N]
 *   --port NAME=vhost-fd:N[,queues=N][,mac=MAC][,mtu=N]  (inherited fd N)
 *   --port NAME=TYPE:ARGS   (a NIC port, pmd/port.h: afxdp, dpdk, loop)
 *   --link A=B   --reflect NAME   --cores LIST   --log-level LEVEL
 *   --help   --version   --print-capabilities
 *   --source NAME=SIZE   --control PATH   --print-placement
 *   --metrics ADDR:PORT
 *   --config FILE
 *   --bridge NAME[,aging=S][,mac-limit=N]
 *   --port NAME=SPEC,bridge=BR[,vlan=N|,trunk=N,M-K]  (any port type)
 *   --socket-mode MODE   --socket-group GROUP
 *   --control-mode MODE  --control-group GROUP
 *   --idle poll|sleep=MAX_US|wait
 * plus the vhost-user back-end conventions --socket-path=PATH and --fd=N
 * (a port named "vhost0"), and --no-feature NAME to switch one off.
 */
#ifndef VHOSTD_OPTS_H
#define VHOSTD_OPTS_H

#include <sched.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "../../datapath/bridge.h"
#include "../../datapath/log.h"
#include "vhostd_bridge.h"
#include "../wire/vu_perm.h"
#include "../../datapath/wk_idle.h"

#define VHOSTD_MAX_PORTS 64
#define VHOSTD_NAME_MAX 32
/* --idle's default: wait parks idle cores (perf/README.md, "Idle
 * cores": the same rate as poll under load). */
#define VHOSTD_IDLE_DEFAULT WK_IDLE_WAIT

/* A guest (vhost-user) or a NIC port of a pmd/ type. */
enum port_kind { PORT_VHOST, PORT_NIC };

struct port_opt {
	char name[VHOSTD_NAME_MAX];
	enum port_kind kind;
	char nic_type[16];      /* PORT_NIC: "afxdp", "dpdk", "loop" */
	char nic_args[256];     /* PORT_NIC: what follows "TYPE:" */
	char path[108];
	bool client;
	int fd;                 /* --fd, vhost-fd:N: the socket, else -1 */
	bool fd_port;           /* vhost-fd: (or --fd): passed sockets only */
	uint32_t queues;        /* queue pairs offered */
	uint8_t mac[6];
	uint16_t mtu;
	int peer;               /* index of the linked port, -1 */
	bool reflect;
	uint32_t source_len;    /* --source: frame size, 0 = not a source */
	char bridge[DP_BRIDGE_NAME_MAX]; /* bridge=BR, "" = none */
	struct br_vlan vlan;    /* vlan=N or trunk=LIST (zero: untagged) */
};

/* --bridge NAME[,aging=S][,mac-limit=N] */
struct bridge_opt {
	char name[DP_BRIDGE_NAME_MAX];
	struct dp_bridge_cfg cfg;
};

struct vhostd_opts {
	struct port_opt ports[VHOSTD_MAX_PORTS];  /* first; only [0, nports)
						   * is set (vhostd_opts_parse) */
	int nports;
	struct bridge_opt bridges[DP_BRIDGES_MAX];
	int nbridges;
	cpu_set_t cores;
	int ncores;
	enum vlog_level log_level;
	bool log_time;          /* --log-time */
	char control_path[108]; /* --control, "" = none */
	char config_path[256];  /* --config, "" = none */
	uint64_t features;      /* virtio/vhost feature bits offered */
	uint64_t protocol_features;
	bool help, version, print_capabilities;
	bool print_placement;   /* --print-placement */
	bool metrics;           /* --metrics ADDR:PORT, parsed into: */
	struct sockaddr_storage metrics_sa;
	socklen_t metrics_len;
	/* Who may connect: every vhost-user socket vhostd listens on (and
	 * directories it creates for them), and the control socket. */
	struct vu_sock_perm sock_perm;
	struct vu_sock_perm ctl_perm;
	bool ctl_mode_set;      /* --control-mode given */
	enum wk_idle_mode idle; /* --idle */
	uint32_t idle_us;       /* --idle sleep=MAX_US */
};

/* Parse argv into o.  0 on success; -EINVAL after printing one line to
 * stderr that names the offending argument. */
int vhostd_opts_parse(struct vhostd_opts *o, int argc, char **argv);

void vhostd_usage(FILE *out);

/* One port from NAME and SPEC (what follows "NAME=" in --port), into p
 * (standalone: no link, no check against other ports).  0, or -EINVAL
 * after writing one line naming the offending value to err (NULL:
 * stderr). */
int vhostd_port_parse(struct port_opt *p, const char *name, const char *spec,
		      FILE *err);

/* vhostd_opts_bridge.c.  Each returns 0, or -EINVAL after one line on
 * stderr (vhostd_port_parse(): its stream).  --bridge SPEC into o; a port's arguments: takes bridge=,
 * vlan= and trunk= out of args (in place) into bridge and vlan; every
 * port's bridge=BR names a --bridge. */
int opts_bridge_parse(struct vhostd_opts *o, char *spec);
int opts_port_bridge(char *args, char *bridge, struct br_vlan *vlan);
int opts_bridges_check(const struct vhostd_opts *o);
/* Where refusals go now: stderr, or vhostd_port_parse()'s stream. */
FILE *vhostd_opts_err(void);

/* A vhost-fd:N port from the command line: N must be an open AF_UNIX
 * stream socket, connected or listening.  0 or -EINVAL after one line on
 * stderr. */
int vhostd_port_fd_check(const struct port_opt *p);

/* The features vhostd offers before any --no-feature. */
uint64_t vhostd_default_features(void);
uint64_t vhostd_default_protocol_features(void);

#endif
