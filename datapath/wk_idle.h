/* SPDX-License-Identifier: MIT */
/*
 * wk_idle.h: what a worker does when its passes find little or nothing to
 * do (--idle).  A pure state machine, stepped once per pass with the
 * packets the pass moved; the worker (worker.c, worker_park.c) carries out
 * what it returns.  No clock, no system call: the unit tests step it.
 *
 *   poll   the pass loop never stops (a core at 100%, the lowest latency);
 *   sleep  OVS's pmd-sleep-max: after a pass in which fewer than
 *          WK_IDLE_BUSY packets moved, sleep; the sleep grows by 1 us per
 *          such pass up to MAX_US, and is back to 0 after any pass that
 *          moved WK_IDLE_BUSY or more (OVS resets per rx queue that gave
 *          half a burst; here per pass, which resets at least as often);
 *   wait   the same back-off up to WK_IDLE_WAIT_BACKOFF_US, then, after
 *          WK_IDLE_QUIET more passes that moved nothing, park: guest
 *          notifications on, one more look at the rings, block until a
 *          kick, a new poll list or WK_IDLE_PARK_MS; then notifications
 *          off and polling from the start.  A worker whose list has an
 *          item without a wake-up source (a NIC queue, a ring without a
 *          kick fd) cannot park: it keeps the back-off's longest sleep.
 *
 * Under load (WK_IDLE_BUSY or more packets per pass) a step is one
 * compare and two stores: the fast path stays the poll loop.
 */
#ifndef VHOSTD_WK_IDLE_H
#define VHOSTD_WK_IDLE_H

#include <stdbool.h>
#include <stdint.h>

#include "compiler.h"

enum wk_idle_mode { WK_IDLE_POLL, WK_IDLE_SLEEP, WK_IDLE_WAIT };

/* Half a burst (VNET_BURST 32), as OVS's PMD_SLEEP_THRESH is half of its
 * NETDEV_MAX_BURST: a pass that moved this many is busy. */
#define WK_IDLE_BUSY 16u
/* --idle sleep=MAX_US: 1..10000 (OVS caps pmd-sleep-max at its RCU
 * quiesce interval, 10 ms; longer sleeps would also hold the control
 * thread's quiesce waits). */
#define WK_IDLE_SLEEP_MAX_US 10000u
/* wait: the back-off before parking; 1 + 2 + ... + 50 us, about 1.3 ms of
 * sleeps (more with the wake-up cost of each), is the quiet period. */
#define WK_IDLE_WAIT_BACKOFF_US 50u
/* wait: empty passes at the longest back-off before parking. */
#define WK_IDLE_QUIET 8u
/* wait: the longest park.  A kick or a new list ends it at once; the
 * bound is for a guest that never kicks although asked to (a broken or
 * hostile driver): its traffic still moves, one pass a second, and the
 * cost is one wake-up a second. */
#define WK_IDLE_PARK_MS 1000

struct wk_idle {
	enum wk_idle_mode mode;
	uint32_t max_us;     /* longest sleep */
	uint32_t sleep_us;   /* the next sleep (0: none) */
	uint32_t quiet;      /* empty passes at max_us (wait) */
};

enum wk_idle_act {
	WK_IDLE_RUN,         /* next pass now */
	WK_IDLE_NAP,         /* sleep *us, then the next pass */
	WK_IDLE_PARK,        /* park (wait mode) */
};

/* Set s up for mode; max_us: sleep's MAX_US (ignored otherwise). */
void wk_idle_init(struct wk_idle *s, enum wk_idle_mode mode, uint32_t max_us);

/* After a pass that moved `moved` packets: what next.  parkable: every
 * item of the worker's list has a wake-up source.  *us: the sleep for
 * WK_IDLE_NAP. */
/* The fast path: a pass that moved WK_IDLE_BUSY or more resets the
 * back-off and means "next pass now" (true). */
static inline bool wk_idle_busy(struct wk_idle *s, uint64_t moved)
{
	if (likely(moved >= WK_IDLE_BUSY)) {
		s->sleep_us = 0;
		s->quiet = 0;
		return true;
	}
	return false;
}

static inline enum wk_idle_act wk_idle_step(struct wk_idle *s,
					    uint32_t moved, bool parkable,
					    uint32_t *us)
{
	if (wk_idle_busy(s, moved))
		return WK_IDLE_RUN;
	if (s->mode == WK_IDLE_POLL)
		return WK_IDLE_RUN;
	if (s->mode == WK_IDLE_WAIT && moved == 0 && s->sleep_us == s->max_us &&
	    ++s->quiet >= WK_IDLE_QUIET && parkable) {
		s->sleep_us = 0;
		s->quiet = 0;
		return WK_IDLE_PARK;
	}
	if (moved != 0)
		s->quiet = 0;
	*us = s->sleep_us;
	if (s->sleep_us < s->max_us)
		s->sleep_us++;
	return *us ? WK_IDLE_NAP : WK_IDLE_RUN;
}

/*
 * Parse an --idle argument: "poll", "wait" or "sleep=MAX_US" (1..
 * WK_IDLE_SLEEP_MAX_US).  0, or -EINVAL with *why saying what is wrong.
 */
int wk_idle_parse(const char *arg, enum wk_idle_mode *mode, uint32_t *max_us,
		  const char **why);

/* "poll", "sleep" or "wait". */
const char *wk_idle_name(enum wk_idle_mode mode);

#endif
