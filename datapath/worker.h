/* SPDX-License-Identifier: MIT */
/*
 * worker.h: poll-mode worker threads and the control -> worker hand-off.
 *
 * A worker is one thread pinned to one core, running forever over its poll
 * list: an immutable array of (poll function, context) items.  The control
 * plane never edits a list in place: it builds a new one, publishes it with
 * wk_publish() (one atomic pointer store) and gets the old one back only
 * once the worker has passed a quiescent point, i.e. finished the pass that
 * might still have used it.  Quiescent points are counted by a per-worker
 * epoch that the worker bumps after every pass.  Workers never block, never
 * allocate, never take a lock.
 *
 * A poll function processes one burst and returns the packets it handled
 * (forwarded or dropped: the unit of the cycles/packet figure); it
 * must leave nothing half done across passes (no pending used entries), so
 * that everything it owns is consistent at every quiescent point.
 */
#ifndef VHOSTD_WORKER_H
#define VHOSTD_WORKER_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "compiler.h"
#include "wk_idle.h"

typedef uint32_t (*wk_poll_fn)(void *ctx);
/* Called by the control thread, while the worker may be inside poll(ctx):
 * must only set a flag that poll() reads at its next cheap check and then
 * returns promptly (see wk_quiesce). */
typedef void (*wk_abandon_fn)(void *ctx);
/* Called by the worker before it parks (on = true): turn on the guest
 * notifications that announce work for ctx, then look once more and
 * return true when there is work already (a buffer made available
 * before the notifications were on would never be kicked); and after it
 * woke (on = false): notifications off again. */
typedef bool (*wk_arm_fn)(void *ctx, bool on);

/*
 * An item's own counters.  They belong to what the item polls (a path),
 * not to the list: lists are rebuilt on every change, these live as long
 * as the thing they count.  Written by the polling worker only (STAT_ADD),
 * read untorn by anyone (STAT_READ).
 */
struct wk_item_stats {
	uint64_t cycles;         /* TSC cycles in polls that moved packets */
	uint64_t packets;        /* what those polls returned */
	uint64_t first;          /* TSC at the end of the first such poll,
				  * 0 before: when frames moved again after a
				  * restart (control/daemon/vhostd_resumed.c) */
};

struct wk_item {
	wk_poll_fn poll;
	void *ctx;
	wk_abandon_fn abandon;   /* NULL: the item cannot be abandoned */
	struct wk_item_stats *stats; /* NULL: not counted per item */
};

/* An item's wake-up sources, for --idle wait: arm NULL means none, and a
 * worker with such an item never parks.  fd: nfd eventfds that become
 * readable when the item has work (guest kicks), owned by the caller; the
 * worker registers duplicates of them. */
#define WK_WAKE_MAX 2
struct wk_wake {
	wk_arm_fn arm;
	uint8_t nfd;
	int fd[WK_WAKE_MAX];
};

struct wk_list {
	uint32_t n;
	bool parkable;           /* set by wk_publish(): every item can wake
				  * the worker */
	struct wk_wake *wake;    /* wake[i]: items[i]'s (zero: none) */
	struct wk_item items[];
};

struct wk_stats {
	uint64_t passes;
	uint64_t packets;
	/* TSC cycles of passes that moved packets, and of those that moved
	 * none (with the naps and parks after them, --idle), each pass from
	 * the end of the one before: together, all the worker's time. */
	uint64_t busy_cycles;
	uint64_t idle_cycles;
	uint64_t naps, parks;   /* idle sleeps and parks (--idle) */
	uint64_t park_timeouts; /* parks that ended by WK_IDLE_PARK_MS */
};

struct worker {
	_Atomic(struct wk_list *) list;  /* read by the worker every pass */
	_Atomic uint64_t epoch;          /* bumped after every pass */
	_Atomic bool stop;
	/* The item the worker is polling now (NULL between items): read by
	 * the control thread only when a wait timed out.  One relaxed store
	 * per item and pass, on this line the worker owns. */
	_Atomic(const struct wk_item *) busy;
	/* Parked (--idle wait): holds nothing of any list; seq_cst against
	 * the list store in wk_publish() (worker_park.c says why). */
	_Atomic bool parked;
	struct wk_stats stats;           /* written by the worker only */
	/* Cold, control plane. */
	int epfd, wakefd;                /* -1: this worker never parks */
	int *reg;                        /* duplicated wake fds in epfd */
	uint32_t nreg, reg_cap;
	pthread_t thread;
	int core;                        /* -1: not pinned (tests) */
	bool running;
	uint32_t id;
	struct {                         /* wk_watch()'s view of the epoch */
		uint64_t epoch;          /* last seen */
		uint64_t since_ms;       /* when it was first seen */
		uint64_t cpu0_ns;        /* the worker's CPU time then */
		bool said, abandoned;    /* for this epoch */
	} wd;
} cache_aligned;

/*
 * How long the control thread waits for a worker's quiescent point before
 * it abandons the item the worker is in.  A pass is bounded by design
 * (datapath/vnet.h: VNET_PASS_SEGS per path and pass, gso_size >= 88,
 * frames <= 64 KiB), so a healthy pass ends in well under a millisecond;
 * 250 ms is far beyond that even on a loaded host, and short enough that
 * the control thread, which serves every device's handshake, stays
 * responsive: front-ends wait seconds for a reply before they give up.
 */
#define WK_QUIESCE_TIMEOUT_MS 250

/*
 * A worker can also be stuck in a system call: a front-end can clear
 * O_NONBLOCK on its copy of a ring's call or error eventfd (the flag
 * belongs to the open file both share) and fill the counter, and the
 * worker's write() then sleeps until someone reads.  An eventfd write
 * sleeps interruptibly, so a signal gets it out: every wait of the control
 * thread for a worker (wk_quiesce, wk_settle, wk_watch) sends one to the
 * worker every WK_INTERRUPT_MS while the epoch stands still.  The signal
 * (WK_INTERRUPT_SIGNAL, SIGRTMIN + 7: nothing else in vhostd, glibc (which
 * keeps the two below SIGRTMIN), DPDK's EAL or the sanitizers uses the
 * real-time signals) has a handler that does nothing, installed without
 * SA_RESTART by the first wk_start(): a sleeping system call returns
 * EINTR, any other is not disturbed.  Workers run with it unblocked;
 * other threads never receive it.
 */
#define WK_INTERRUPT_MS 100
#define WK_INTERRUPT_SIGNAL (SIGRTMIN + 7)

/* Allocate an empty list of capacity n (n items to fill, list->n = n;
 * their wake[] zero: no wake-up sources).  One block: free() frees it.
 * Control plane only.  NULL on allocation failure. */
struct wk_list *wk_list_new(uint32_t n);

/* How every worker started from now on behaves when idle (wk_idle.h;
 * default poll).  Control thread, before wk_start(). */
void wk_idle_set(enum wk_idle_mode mode, uint32_t max_us);

/* Start worker id on core (pinned; core -1 = unpinned).  0 or -errno. */
int wk_start(struct worker *w, uint32_t id, int core);

/* Stop and join; frees the published list. */
void wk_stop(struct worker *w);

/*
 * Publish list (NULL = nothing to poll) and return the previous one once no
 * pass can still be using it; the caller frees it (free()).  Waits for one
 * quiescent point of a running worker (microseconds when it is busy
 * polling); returns at once for a worker that is not running or had no
 * list (no pass can be in an item of none).  When the
 * worker does not get there within WK_QUIESCE_TIMEOUT_MS, the item it is
 * in is abandoned (wk_quiesce) and publish waits for that item to return,
 * which it does at its next check: publish never returns while the worker
 * may still use the old list or anything the caller frees after it.
 */
struct wk_list *wk_publish(struct worker *w, struct wk_list *list);

/*
 * Wait until w has passed a quiescent point after this call: 0, or
 * -ETIMEDOUT after WK_QUIESCE_TIMEOUT_MS, once the item the worker is
 * polling has been abandoned (its abandon(ctx) called, one log line).
 * After -ETIMEDOUT the worker may still be inside that item: nothing it
 * may touch may be freed until a later wait returns 0 (wk_settle).
 */
int wk_quiesce(struct worker *w);

/* Send w the interrupt signal (above) if it runs: a system call it
 * sleeps in returns EINTR.  Harmless to a worker that does not sleep. */
void wk_interrupt(struct worker *w);

/*
 * The watchdog, for the control thread to call about every
 * WK_INTERRUPT_MS, busy or idle: a running worker whose epoch has not
 * moved for WK_QUIESCE_TIMEOUT_MS is interrupted at every call (one log
 * line per stall), so a worker asleep in a system call gets out even when
 * no control request waits for it.  Its busy item is abandoned, as
 * wk_quiesce does, only when the worker also used WK_QUIESCE_TIMEOUT_MS of
 * CPU time in that one epoch: a worker the host did not schedule, however
 * long, is never abandoned, one that spins in an item is.
 */
void wk_watch(struct worker *w);

/* After wk_quiesce() timed out: wait for the quiescent point, however
 * long (the abandoned item returns at its next check, within one burst;
 * a line is logged each second it does not).  Returns at once when w is
 * not running. */
void wk_settle(struct worker *w);

/*
 * Thread hooks: start(arg) runs in every worker thread as it starts,
 * before its first pass, and stop(arg) (may be NULL) as it leaves, after
 * its last.  For libraries that must know the threads using them (pmd/'s
 * DPDK ports register each worker with DPDK's EAL, so that its mempool
 * caches work); the datapath knows nothing of them.  Control thread only,
 * before the workers start (a worker started earlier never runs a hook
 * added later); at most WK_HOOKS_MAX.  0 or -ENOSPC.
 */
#define WK_HOOKS_MAX 4
typedef void (*wk_hook_fn)(void *arg);
int wk_hook_add(wk_hook_fn start, wk_hook_fn stop, void *arg);

/* Remove the hook added with these arguments (no worker may be running). */
void wk_hook_remove(wk_hook_fn start, wk_hook_fn stop, void *arg);

static inline uint64_t wk_cycles(void)
{
#if defined(__x86_64__)
	return __builtin_ia32_rdtsc();
#else
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
#endif
}

#endif
