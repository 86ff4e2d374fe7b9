/* SPDX-License-Identifier: MIT */
/*
 * vhostd_notify.h: telling the service manager how vhostd is doing.
 *
 * Under systemd with Type=notify, NOTIFY_SOCKET names where sd_notify(3)
 * sends (through libsystemd, vhostd_sd.h); elsewhere these calls do
 * nothing.  READY=1 goes out once every socket listens (a unit ordered
 * after vhostd@NAME finds them there); after a restart through the fd
 * store, once the rebuilt devices move frames again (main() waits with
 * sw_when_resumed()).  STOPPING=1 when a signal asks vhostd to stop.
 */
#ifndef VHOSTD_NOTIFY_H
#define VHOSTD_NOTIFY_H

/* Every port is started and every socket listens; status is a one-line
 * summary for `systemctl status`. */
void vhostd_notify_ready(const char *status);

/* vhostd is detaching its front-ends and will exit (sent only after
 * READY=1: a start that failed just exits). */
void vhostd_notify_stopping(void);

#endif
