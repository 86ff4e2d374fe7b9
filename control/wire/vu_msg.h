/* SPDX-License-Identifier: MIT */
/*
 * vu_msg.h: vhost-user message framing over a unix stream socket.
 *
 * Receiving is incremental so that one slow or half-dead front-end can never
 * block the control thread: vu_rx_read() is called whenever the socket is
 * readable and returns a whole message only when header and payload are in.
 * It reads exactly the bytes of the current message, never into the next
 * one, so the fds the sender attached to a message always stay with it.
 */
#ifndef VHOSTD_VU_MSG_H
#define VHOSTD_VU_MSG_H

#include <stddef.h>

#include "vu_proto.h"

struct vu_rx {
	struct vu_msg msg;
	size_t have;            /* bytes of header + payload received */
	int fds[VU_MAX_FDS];
	int nfds;
};

void vu_rx_init(struct vu_rx *rx);

/*
 * Read from sock (blocking or not).  Returns 1 when rx->msg holds a whole
 * message (its fds in rx->fds, owned by the caller from then on), 0 when the
 * socket has no more data yet, or a negative errno:
 *   -ECONNRESET peer closed (clean EOF or mid-message),
 *   -EPROTO     framing error: version bits not 1, size > VU_PAYLOAD_MAX,
 *               or more fds than VU_MAX_FDS (they were closed),
 *   other       recvmsg() failure.
 * On error every fd received so far is closed.  After a returned message,
 * call vu_rx_init() before reading the next one.
 */
int vu_rx_read(struct vu_rx *rx, int sock);

/* Close every fd in rx (used when a message is dropped). */
void vu_rx_close_fds(struct vu_rx *rx);

/*
 * Send header + hdr.size payload bytes with nfds fds attached to the first
 * byte.  Retries on EINTR and partial writes; on a non-blocking socket that
 * stays full it fails with -EAGAIN.  Never raises SIGPIPE.
 */
int vu_msg_send(int sock, const struct vu_msg *msg, const int *fds, int nfds);

/*
 * The back-end's send (replies, back-end channel): like vu_msg_send()
 * without fds, but never waits, whatever O_NONBLOCK says on the socket
 * (the front-end owns that flag: it may hand over a blocking socket, as
 * with --fd or SET_BACKEND_REQ_FD, and then stop reading).  -EAGAIN when
 * the peer has not read enough to take the whole message; part of it may
 * have gone out, so the caller must drop the connection.
 */
int vu_msg_send_nowait(int sock, const struct vu_msg *msg);

/* Blocking receive of one message (front-end side).  Same returns as
 * vu_rx_read() except that 0 never happens. */
int vu_msg_recv(int sock, struct vu_msg *msg, int *fds, int *nfds);

void vu_close_fds(int *fds, int nfds);

#endif
