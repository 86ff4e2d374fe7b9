/* SPDX-License-Identifier: MIT */
/*
 * vu_fdpass.h: file descriptors passed over a unix stream socket
 * (SCM_RIGHTS), as the control socket carries them with its requests, and
 * the check that one is a vhost-user socket.
 */
#ifndef VHOSTD_VU_FDPASS_H
#define VHOSTD_VU_FDPASS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Fds one control request may carry; more are refused (the kernel cuts
 * the rest off: MSG_CTRUNC). */
#define VU_FDPASS_MAX 4

/*
 * recv() that also takes the fds sent with the bytes read (close-on-exec),
 * appending them to fds[*nfds..VU_FDPASS_MAX).  Returns what recv() does
 * (bytes, 0 at end of file, -1 with errno).  *ctrunc is set when fds were
 * lost (more than the buffer holds, or past VU_FDPASS_MAX in all): the
 * request must be refused.  Fds that do not fit are closed at once.
 */
ssize_t vu_fdpass_recv(int sock, void *buf, size_t len, int *fds, int *nfds,
		       bool *ctrunc);

/* Close fds[0..n) that are >= 0 and set them to -1. */
void vu_fdpass_close(int *fds, int n);

/*
 * Is fd a unix stream socket (SO_DOMAIN AF_UNIX, SO_TYPE SOCK_STREAM)?
 * 0 with *listening set (SO_ACCEPTCONN), or -ENOTSOCK / -EAFNOSUPPORT /
 * -ESOCKTNOSUPPORT / -ENOTCONN (neither connected nor listening) /
 * -EBADF with why (one line: what it is instead).
 */
int vu_fdpass_check_stream(int fd, bool *listening, char *why, size_t n);

#endif
