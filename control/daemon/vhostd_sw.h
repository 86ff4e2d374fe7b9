/* SPDX-License-Identifier: MIT */
/*
 * vhostd_sw.h: the switch, and the one way to change it.
 *
 * The command line, the --config file and the control socket all build a
 * struct sw_req and hand it to sw_apply() on the control thread.  A
 * request is checked whole before anything changes: a refused one leaves
 * the switch as it was and says why in one line.
 *
 * Ports live in VHOSTD_MAX_PORTS preallocated slots (a slot's index is its
 * index in the datapath, vhostd_dp.h).  Before sw_run() requests are only
 * recorded (the NIC ports must all be known before the workers start:
 * pmd/port.h, port_set_env); sw_run() opens and starts what was recorded;
 * from then on every applied request takes effect at once, through the
 * datapath's hold/publish hand-off (vhostd_dp_rt.c), without touching the
 * paths of other ports.
 *
 * vhost-fd: ports are served on sockets passed in: inherited (command
 * line) or sent with the control request (SCM_RIGHTS).  One from the
 * --config file has none: it starts detached, as one whose front-end
 * closed its socket, until SW_SET_PORT_FD gives it one.
 *
 * Removing a port unlinks it, takes its paths off the workers, then closes
 * its front-end's connection (the front-end sees its socket close and may
 * come back once the port is added again) or its NIC.
 *
 * With --config, the switch's runtime part (what did not come from the
 * command line) is written back after every applied runtime change
 * (vhostd_conf.h).
 *
 * Bridges are created and deleted through vhostd_bridge.h; membership and
 * VLAN mode come with each port's spec (bridge=BR[,vlan=N|,trunk=...]).
 * Removing a port takes it off its bridge first (its MACs forgotten).
 */
#ifndef VHOSTD_SW_H
#define VHOSTD_SW_H

#include <stdbool.h>
#include <stddef.h>

#include "vhostd_conf.h"
#include "vhostd_dp.h"
#include "vhostd_opts.h"
#include "../backend/vu_port.h"

#define SW_MAX_BRIDGES CONF_MAX_BRIDGES

enum sw_op {
	SW_ADD_BRIDGE, SW_DEL_BRIDGE, SW_ADD_PORT, SW_DEL_PORT, SW_LINK,
	SW_UNLINK, SW_SET_PORT_FD,
};

/* Where a request comes from: decides what is written to --config. */
enum sw_origin { SW_CMDLINE, SW_CONFIG, SW_RUNTIME };

struct sw_req {
	enum sw_op op;
	enum sw_origin origin;
	const char *name;               /* bridge or port; link: A */
	const char *spec;               /* add-port: what follows NAME= */
	const struct port_opt *opt;     /* add-port from the command line:
					 * parsed already (--reflect, --fd...) */
	const char *peer;               /* link: B */
	uint32_t aging, mac_limit;      /* add-bridge: 0 = default */
	int *fd;                        /* add-port vhost-fd:, set-port-fd:
					 * the socket passed with the request
					 * (checked: an AF_UNIX stream socket);
					 * set to -1 once the switch keeps it,
					 * else still the caller's */
};

struct sw_port {
	bool used;
	enum sw_origin origin;
	struct port_opt opt;            /* peer: slot index, -1 */
	char spec[CONF_SPEC_MAX];       /* as given ("" from --fd etc.) */
	bool cli_link;                  /* its link came from the command line */
	struct vu_port vu;              /* a guest's (kind PORT_VHOST) */
	bool vu_started;
	struct port *nic;               /* a NIC port, once open */
	bool attached;                  /* in the datapath */
	bool bridged;                   /* a member of its bridge */
	uint64_t rebuilt_ns;            /* rebuilt from the fd store, no
					 * frame seen since (vhostd_resumed.c) */
	uint64_t rebuilt_tsc;           /* the TSC then */
};

struct sw_bridge {
	bool used;
	enum sw_origin origin;
	char name[VHOSTD_NAME_MAX];
	uint32_t aging, mac_limit;
};

struct sw {
	const struct vhostd_opts *opts; /* features, cores */
	struct vu_loop *loop;
	struct dp *dp;
	const char *config_path;        /* NULL: nothing written */
	bool running;                   /* sw_run() done */
	struct vu_watch *resumed_timer; /* vhostd_resumed.c */
	void (*resumed_fn)(void *arg);  /* sw_when_resumed() */
	void *resumed_arg;
	struct sw_bridge bridges[SW_MAX_BRIDGES];
	struct port_spec nic_specs[VHOSTD_MAX_PORTS];
	struct port_env env;
	/* Slots [0, nslots) have been taken at least once (from the bottom);
	 * every loop over the ports stops there, and a slot is zeroed when
	 * first taken, so the 6 KiB slots never used are never touched. */
	int nslots;
	struct sw_port ports[VHOSTD_MAX_PORTS];   /* last: see sw_init() */
};

void sw_init(struct sw *s, const struct vhostd_opts *o, struct vu_loop *loop,
	     struct dp *dp, const char *config_path);

/* Apply r.  0, or a negative errno with why (one line) filled and
 * nothing changed.  After sw_run(), a change is saved to --config; a
 * save that fails is logged and noted in why with 0 returned (the change
 * stands). */
int sw_apply(struct sw *s, const struct sw_req *r, char *why, size_t n);

/* Every command-line port and link, then the config file's bridges,
 * ports and links, recorded (not started); a clash is an error. */
int sw_load(struct sw *s, const struct vhostd_conf *c, char *why, size_t n);

/* Open the recorded NIC ports, then (the caller starts the workers in
 * between: dp_init) start everything: sw_open_nics() before dp_init(),
 * sw_run() after. */
int sw_open_nics(struct sw *s);
int sw_run(struct sw *s);

/* Remove every port (unlinked first), as del-port does; then the caller
 * may dp_fini(). */
void sw_stop(struct sw *s);

/* Is any port a NIC port (DPDK, AF_XDP: state outside the process that
 * only its stop removes)? */
bool sw_has_nic(const struct sw *s);

/* Port slot i was rebuilt from the fd store: log when its rings move
 * frames again (vhostd_resumed.c).  sw_resumed_stop() ends the watch. */
void sw_resumed_watch(struct sw *s, int i);
void sw_resumed_stop(struct sw *s);

/* Call fn(arg) once, from the loop, when every port being watched has
 * moved frames again (or its watch gave up, a second on).  false: none is
 * watched, fn is not called (the caller goes on at once).  The watch
 * ending with sw_resumed_stop() never calls it. */
bool sw_when_resumed(struct sw *s, void (*fn)(void *arg), void *arg);

/* The runtime part of the switch, as --config holds it. */
void sw_to_conf(const struct sw *s, struct vhostd_conf *c);

/* Lookups for the API: slot of a port or bridge by name, -1. */
int sw_port_find(const struct sw *s, const char *name);
int sw_bridge_find(const struct sw *s, const char *name);

/* After vu_sigbus.h's eventfd fired: every started guest checks. */
void sw_check_memory(struct sw *s);

#endif
