/* SPDX-License-Identifier: MIT */
/*
 * vu_loop.h: the control thread's event loop (one epoll set).
 *
 * Watches fds with a callback each; one-shot and periodic timers are timerfd
 * watches.  Callbacks run on the control thread only and may add or delete
 * watches (including their own) while the loop runs.
 */
#ifndef VHOSTD_VU_LOOP_H
#define VHOSTD_VU_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct vu_loop;
struct vu_watch;

typedef void (*vu_watch_fn)(struct vu_watch *w, uint32_t events, void *arg);

struct vu_loop *vu_loop_new(void);
/* Frees the loop and every watch still registered (their fds stay open). */
void vu_loop_free(struct vu_loop *loop);

/* Watch fd for EPOLLIN-style events.  Returns the watch or NULL (errno). */
struct vu_watch *vu_loop_add(struct vu_loop *loop, int fd, uint32_t events,
			     vu_watch_fn fn, void *arg);
/* Stop watching; the fd is not closed.  Safe inside any callback. */
void vu_loop_del(struct vu_loop *loop, struct vu_watch *w);

/* One-shot timer firing after ms milliseconds.  Free it with
 * vu_loop_timer_del() (also after it fired). */
struct vu_watch *vu_loop_timer(struct vu_loop *loop, uint64_t ms,
			       vu_watch_fn fn, void *arg);
void vu_loop_timer_del(struct vu_loop *loop, struct vu_watch *w);
/* Periodic timer: fn every ms milliseconds (expirations missed while the
 * loop was busy count as one) until vu_loop_timer_del(). */
struct vu_watch *vu_loop_every(struct vu_loop *loop, uint64_t ms,
			       vu_watch_fn fn, void *arg);

int vu_watch_fd(const struct vu_watch *w);

/* Run until vu_loop_stop(); returns 0 or a negative errno. */
int vu_loop_run(struct vu_loop *loop);
void vu_loop_stop(struct vu_loop *loop);

#endif
