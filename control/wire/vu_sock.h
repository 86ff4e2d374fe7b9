/* SPDX-License-Identifier: MIT */
/*
 * vu_sock.h: unix stream sockets for vhost-user (server and client side).
 */
#ifndef VHOSTD_VU_SOCK_H
#define VHOSTD_VU_SOCK_H

/*
 * Listen on path (non-blocking, close-on-exec).  A stale socket file left by
 * a dead process is replaced; a socket somebody still listens on, or any
 * other kind of file, is refused (-EADDRINUSE / -EEXIST).  Returns the fd or
 * a negative errno.
 */
int vu_sock_listen(const char *path);

/* The same, giving the socket file perm's mode and group before it
 * listens (perm NULL: as created).  A failure to set them is returned
 * and the socket file removed. */
struct vu_sock_perm;
int vu_sock_listen_perm(const char *path, const struct vu_sock_perm *perm);

/* Connect to path; the socket returned is non-blocking.  A negative errno
 * (-ENOENT, -ECONNREFUSED when nobody listens, -EAGAIN when the listener's
 * backlog is full) means "try again later". */
int vu_sock_connect(const char *path);

/* Accept one connection, non-blocking and close-on-exec. */
int vu_sock_accept(int lfd);

#endif
