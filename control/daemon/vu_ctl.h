/* SPDX-License-Identifier: MIT */
/*
 * vu_ctl.h: the control socket (--control PATH): the transport of
 * vhostd's runtime API (vhostd_api.c speaks the protocol over it).
 *
 * A unix stream socket served on the control thread's loop.  A client
 * sends one request line; the handler writes the reply and the connection
 * is closed once it is sent, so end of file also marks the end of the
 * reply.  Nothing here blocks: slow clients are written to as their
 * socket drains, at most VU_CTL_MAX_CLIENTS are served at once (more are
 * told {"ok":false,"error":"busy..."}), and a request longer than
 * VU_CTL_LINE_MAX bytes is refused the same way and the connection closed.
 *
 * A request may carry file descriptors (SCM_RIGHTS on any of its bytes):
 * they are handed to the handler with the line.  More than VU_FDPASS_MAX,
 * or a control message the kernel had to cut (MSG_CTRUNC), refuses the
 * request before it is parsed; fds that arrive with a refused request,
 * or with bytes after its newline, are closed at once.
 *
 * Who may ask (SO_PEERCRED, read when the connection is accepted): root,
 * vhostd's own effective user, and, when a group is given, a process whose
 * effective group is it or whose user is a member of it.  Anyone else gets
 * one error line naming their uid and gid, and is logged (at most once a
 * second, with the number refused since).
 */
#ifndef VHOSTD_VU_CTL_H
#define VHOSTD_VU_CTL_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "../wire/vu_loop.h"

#define VU_CTL_MAX_CLIENTS 16
#define VU_CTL_LINE_MAX 4096

/* Answer one request (line: NUL-terminated, newline stripped) on out.
 * fds[0..nfds): the fds sent with it (SCM_RIGHTS, at most VU_FDPASS_MAX,
 * close-on-exec); the handler keeps one by setting its entry to -1, and
 * vu_ctl closes every other once the handler returns. */
typedef void (*vu_ctl_fn)(const char *line, int *fds, int nfds, FILE *out,
			  void *arg);

struct vu_ctl_cfg {
	const char *path;
	vu_ctl_fn fn;
	void *arg;
	bool group_set;         /* members of gid may ask too */
	gid_t gid;
};

struct vu_ctl;

/* Listen on cfg->path (a stale socket file is replaced) and serve it.
 * 0 or a negative errno. */
int vu_ctl_start(struct vu_ctl **out, struct vu_loop *loop,
		 const struct vu_ctl_cfg *cfg);

/* Close every client and the socket, remove the socket file. */
void vu_ctl_stop(struct vu_ctl *c);

/* Whether a caller with these credentials may use the socket (exposed for
 * the unit test). */
bool vu_ctl_allowed(const struct vu_ctl_cfg *cfg, uid_t uid, gid_t gid);

#endif
