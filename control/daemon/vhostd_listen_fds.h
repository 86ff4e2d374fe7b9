/* SPDX-License-Identifier: MIT */
/*
 * vhostd_listen_fds.h: the fds a service manager passed at start, read as
 * sd_listen_fds(3) documents: LISTEN_PID (ours, else they are not ours),
 * LISTEN_FDS (how many, from fd 3 on), LISTEN_FDNAMES (their names,
 * colon-separated).
 *
 * Read here rather than with libsystemd's sd_listen_fds_with_names(): a
 * restart through the fd store reads them before any device is rebuilt,
 * and loading libsystemd (vhostd_sd.h) then would put about 2 ms into the
 * guests' outage on a slow host.  The environment is the service
 * manager's, not a front-end's, but it is still checked to the letter:
 * numbers are whole decimal numbers in range, every fd is open, the names
 * are as many as the fds.
 */
#ifndef VHOSTD_LISTEN_FDS_H
#define VHOSTD_LISTEN_FDS_H

#define VHOSTD_LISTEN_FDS_START 3

/*
 * The passed fds: their number n (fds 3 .. 3 + n - 1, now close-on-exec)
 * and *names (n malloc'd strings in a malloc'd array, "unknown" without
 * LISTEN_FDNAMES; NULL when n is 0).  0 when nothing was passed to this
 * process; -EINVAL for a malformed variable, -EBADF when a passed fd is
 * not open, -ENOMEM.  The three variables are removed from the
 * environment in every case (a child never inherits them).
 */
int vhostd_listen_fds(char ***names);

#endif
