/* SPDX-License-Identifier: MIT */
/*
 * vu_port.h: a vhost-user port: one device on one socket, in server mode
 * (vhostd listens; one front-end at a time, later ones are turned away) or
 * client mode (vhostd connects and reconnects with back-off, 100 ms doubling
 * to 5 s).  A front-end that goes away resets the device; the port then
 * waits for (server) or looks for (client) the next one.
 *
 * A port may also be served on a socket passed in (--fd, vhost-fd:): a
 * connected one is served as it is (no listening, no reconnect: when its
 * front-end closes it the port is "detached" until vu_port_set_fd() gives
 * it another), a listening one is accepted on like a server port's own
 * (the socket file, if any, is not vhostd's: never unlinked; the socket
 * is made non-blocking, for the passer's copy too).
 */
#ifndef VHOSTD_VU_PORT_H
#define VHOSTD_VU_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include "vu_dev.h"
#include "../wire/vu_loop.h"
#include "../wire/vu_msg.h"
#include "../wire/vu_perm.h"

#define VU_PORT_BACKOFF_MIN_MS 100u
#define VU_PORT_BACKOFF_MAX_MS 5000u

/* Sockets a previous vhostd left in the service manager's fd store
 * (vhostd_fdstore.h): taken over instead of listening / connecting. */
struct vu_port_restore {
	int lfd;       /* the listening socket (server), -1: none */
	int cfd;       /* the front-end's connection, -1: none */
};

struct vu_port_cfg {
	struct vu_dev_cfg dev;
	const char *path;
	bool client;
	int fd;        /* >= 0: a passed AF_UNIX stream socket, connected
			* or listening (--fd, vhost-fd:); the port owns it
			* once vu_port_start() succeeded */
	bool fd_port;  /* served on passed fds only (fd -1: detached) */
	const struct vu_sock_perm *perm; /* the listening socket's mode and
					  * group, and its missing
					  * directories'; NULL: as created */
	const struct vu_port_restore *restore; /* NULL: a fresh start */
};

struct vu_port {
	struct vu_dev dev;
	char path[108];
	bool client;
	bool created_socket;         /* we bound path: unlink it at stop */
	bool fd_port;                /* passed fds only: detached when none */
	struct vu_loop *loop;
	int lfd, cfd;                /* listener (server), connection */
	struct vu_watch *lw, *cw, *timer;
	struct vu_rx rx;
	uint32_t backoff_ms;
	bool warned_unreachable;
	uint64_t connects, disconnects, turned_away;
};

/* Set the port up and start listening / connecting.  0 or -errno (with a
 * log line naming the path). */
int vu_port_start(struct vu_port *p, struct vu_loop *loop,
		  const struct vu_port_cfg *cfg);

/*
 * An fd port's new socket (connected or listening, checked by the caller
 * to be an AF_UNIX stream socket): the front-end attached now, if any, is
 * dropped (device reset) and the old sockets closed.  0 (the port owns
 * fd) or -errno (fd still the caller's).
 */
int vu_port_set_fd(struct vu_port *p, int fd);

/* An fd port whose front-end went away and that has no new fd yet. */
static inline bool vu_port_detached(const struct vu_port *p)
{
	return p->fd_port && p->cfd < 0 && p->lfd < 0;
}

/*
 * Watchers of every port's connection (one set for the process; NULL
 * members are skipped): before() sees each complete message before the
 * device handles it (its fds still open), after() once it was handled and
 * before its reply or ack is sent (a record written there is current
 * before the front-end can act on the answer), gone() when the connection
 * is dropped (stopping:
 * vu_port_stop(), vhostd going away or the port removed).
 */
struct vu_port_hooks {
	void (*before)(struct vu_port *p, const struct vu_msg *m,
		       const int *fds, int nfds);
	void (*after)(struct vu_port *p);
	void (*gone)(struct vu_port *p, bool stopping);
};
void vu_port_set_hooks(const struct vu_port_hooks *h);

/* Drop the front-end as after a protocol error (why: for the log line);
 * a client port reconnects. */
void vu_port_drop(struct vu_port *p, const char *why);

/* Drop the front-end, close sockets, remove the socket file we created. */
void vu_port_stop(struct vu_port *p);

/*
 * After vu_sigbus.h's eventfd fired: if a mapping of this device's memory
 * was lost (its file shrank), log one error line naming the device and the
 * mapping and fail the device like any protocol violation: the connection
 * is closed and the device reset (rings stopped, memory unmapped); a
 * client port reconnects.  Other devices are untouched.
 */
void vu_port_check_memory(struct vu_port *p);

#endif
