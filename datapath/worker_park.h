/* SPDX-License-Identifier: MIT */
/*
 * worker_park.h: private to worker.c and worker_park.c: a worker's idle
 * behaviour (wk_idle.h) and its wake-up fds.
 */
#ifndef VHOSTD_WORKER_PARK_H
#define VHOSTD_WORKER_PARK_H

#include "worker.h"

/* The mode wk_idle_set() chose (read by wk_start and the workers). */
extern struct wk_idle wk_idle_cfg;

/* Control thread, in wk_start(): the epoll fd and wake eventfd of a
 * worker that may park (w->epfd = w->wakefd = -1 otherwise, and on
 * failure, logged: that worker then naps instead).  */
void wk_park_open(struct worker *w);

/* Control thread, after the worker stopped: close what wk_park_open and
 * wk_wake_sync opened. */
void wk_park_close(struct worker *w);

/* Control thread, before list is published to w: register list's wake
 * fds in w's epoll set (in place of the previous list's) and set
 * list->parkable.  May allocate. */
void wk_wake_sync(struct worker *w, struct wk_list *list);

/* Control thread: wake w if it is parked (or about to park). */
void wk_wake(struct worker *w);

/* Worker thread: what its idle state says after a pass that moved
 * `moved` packets (nap, park or nothing).  true: it napped or parked. */
bool wk_idle_after(struct worker *w, struct wk_idle *s, uint32_t moved);

#endif
