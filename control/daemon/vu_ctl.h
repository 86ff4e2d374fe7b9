/* SPDX-License-Identifier: MIT */
/*
 * vu_ctl.h: the control socket (--control PATH), vhostd's runtime API.
 *
 * A unix stream socket served on the control thread's loop.  A client sends
 * one command line ("stats\n"); vhostd writes the command's output and
 * closes the connection, so end of file marks the end of the reply.  An
 * unknown command gets "error: ..." and the list of commands.  Nothing here
 * blocks: slow clients are written to as their socket drains, a client that
 * sends more than a line's worth without a newline is cut off, and at most
 * VU_CTL_MAX_CLIENTS are served at once (more are told "error: busy").
 */
#ifndef VHOSTD_VU_CTL_H
#define VHOSTD_VU_CTL_H

#include <stdio.h>

#include "../wire/vu_loop.h"

#define VU_CTL_MAX_CLIENTS 16
#define VU_CTL_LINE_MAX 256

typedef void (*vu_ctl_fn)(FILE *out, void *arg);

struct vu_ctl_cmd {
	const char *name;
	const char *help;
	vu_ctl_fn fn;
	void *arg;
};

struct vu_ctl;

/* Listen on path (a stale socket file is replaced) and serve cmds (kept by
 * reference, ncmds entries).  0 or a negative errno. */
int vu_ctl_start(struct vu_ctl **out, struct vu_loop *loop, const char *path,
		 const struct vu_ctl_cmd *cmds, int ncmds);

/* Close every client and the socket, remove the socket file. */
void vu_ctl_stop(struct vu_ctl *c);

#endif
