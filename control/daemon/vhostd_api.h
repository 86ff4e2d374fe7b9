/* SPDX-License-Identifier: MIT */
/*
 * vhostd_api.h: the runtime API spoken on the control socket (vu_ctl.h).
 *
 * One JSON object per line each way.  A request names its verb in "cmd"
 * and carries its arguments as members:
 *   {"cmd":"show"}  {"cmd":"stats"}  {"cmd":"placement"}  {"cmd":"version"}
 *   {"cmd":"help"}
 *   {"cmd":"add-bridge","name":"br0"[,"aging":S][,"mac_limit":N]}
 *   {"cmd":"del-bridge","name":"br0"}
 *   {"cmd":"add-port","name":"vm1","spec":"vhost:/run/vm1.sock,bridge=br0"}
 *   {"cmd":"add-port","name":"vm2","spec":"vhost-fd:5,bridge=br0"} + 1 fd
 *   {"cmd":"set-port-fd","name":"vm2"} + 1 fd
 *   {"cmd":"del-port","name":"vm1"}
 *   {"cmd":"link","a":"vm1","b":"vm2"}   {"cmd":"unlink","name":"vm1"}
 *   {"cmd":"fdb","bridge":"br0"}         {"cmd":"log-level","level":"debug"}
 * The reply is {"ok":true, ...} or {"ok":false,"error":"one line"}.  A
 * request that is not a JSON object, has an unknown verb, a missing or
 * extra member or one of the wrong type is refused and changes nothing.
 * fds travel as SCM_RIGHTS with the request's bytes: a vhost-fd: port's
 * socket (connected or listening, AF_UNIX SOCK_STREAM; the N in its spec
 * is the sender's number, only recorded).  A request with more or fewer
 * fds than it needs, or one of another type, is refused and keeps none
 * (vhostd_api_fd.c).
 * Changes go through sw_apply() (vhostd_sw.h), the one way to change the
 * switch.
 *
 * "stats" and "placement" answer {"ok":true,"records":[...]}: each record
 * is one line of the text form (vhostd_stats.c, dp_placement_print) as an
 * object, its type under "type", integers as numbers, other values as
 * strings, in the text's order.
 */
#ifndef VHOSTD_API_H
#define VHOSTD_API_H

#include <stdio.h>

#include "vhostd_sw.h"

#include <json-c/json.h>

struct vhostd_api {
	struct sw *sw;
	struct dp *dp;
	int *fds;               /* the request being answered: its fds */
	int nfds;
};

/* vu_ctl_fn: answer one request line (arg: struct vhostd_api). */
void vhostd_api_handle(const char *line, int *fds, int nfds, FILE *out,
		       void *arg);

/* vhostd_api_fd.c: the request's fds, counted for verb and checked.  0
 * or -errno with why filled. */
int vhostd_api_fds_check(struct vhostd_api *a, const char *verb,
			 json_object *req, char *why, size_t n);
/* The set-port-fd verb. */
int vhostd_api_set_port_fd(struct vhostd_api *a, json_object *req,
			   json_object *rep, char *why, size_t n);

#endif
