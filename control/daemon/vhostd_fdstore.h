/* SPDX-License-Identifier: MIT */
/*
 * vhostd_fdstore.h: restarts the front-ends do not notice, through the
 * service manager's file-descriptor store (systemd: FDSTORE=1 with FDNAME=,
 * FileDescriptorStoreMax= in the unit; sd_pid_notify_with_fds(3),
 * sd_listen_fds_with_names(3)).
 *
 * Every fd a vhost-user port must not lose is kept in the store under a
 * name: "PORT/listen" (its listening socket), "PORT/state" (a memfd holding
 * the device's negotiated state, vu_state.h, rewritten by the control
 * thread before and after each request), "PORT/fN" (the connection, each
 * memory region's file, the dirty log, the kick/call/err eventfds, the log
 * eventfd, the back-end channel; N is a number the state refers to).  An fd
 * the device drops is removed (FDSTOREREMOVE=1).
 *
 * Started with LISTEN_FDS, vhostd takes those fds back: the port listens on
 * the same socket and keeps the same connection, the device is rebuilt from
 * its state (vu_state_apply) and a request that was being handled is
 * handled again and answered.  A state that cannot be read or applied is
 * refused with one log line, and that device takes the reconnect path (its
 * connection closed).  Only with NOTIFY_SOCKET and FDSTORE (a positive
 * number: systemd 254 and later set it from FileDescriptorStoreMax=,
 * vhostd@.service sets it for older ones) is anything stored; otherwise
 * nothing changes.
 */
#ifndef VHOSTD_FDSTORE_H
#define VHOSTD_FDSTORE_H

#include <stdbool.h>

#include "../backend/vu_port.h"

/* Read LISTEN_FDS/LISTEN_FDNAMES (once, before any port starts) and, with
 * NOTIFY_SOCKET and FDSTORE, watch every port.  0 or -errno. */
int fdstore_init(void);

/* The sockets kept for port name, if any: true and r filled (each fd then
 * belongs to the caller). */
bool fdstore_take(const char *name, struct vu_port_restore *r);

/* p started (fresh or with fdstore_take's sockets): rebuild its device
 * from the kept state, store its listening socket and state memfd.
 * true: the device was rebuilt (no word to the front-end). */
bool fdstore_port_started(struct vu_port *p);

/* p was given another socket (set-port-fd): its listening socket, if it
 * has one now, replaces the stored one (a connection is stored with the
 * device's state at its first request). */
void fdstore_port_listener(struct vu_port *p);

/* Once the datapath runs: rebuilt devices' rings are polled again, kept
 * fds no port took are removed from the store. */
void fdstore_running(void);

/* vhostd is exiting: leave every stored fd in the store and every socket
 * file in place for the next process. */
void fdstore_stopping(void);

/* The datapath halted on the way out (a planned stop): record where
 * every ring stands, exactly, in a record (for packed rings the
 * datapath's slots say the same: vq_pos.h). */
void fdstore_last_records(void);

/* true once fdstore_stopping() ran with a store: the next process takes
 * over every stored fd. */
bool fdstore_handing_over(void);

#endif
