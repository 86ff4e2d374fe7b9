/* SPDX-License-Identifier: MIT */
#include "worker.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "log.h"
#include "worker_park.h"

#define TAG "wk"

struct wk_list *wk_list_new(uint32_t n)
{
	/* The wake-up sources after the items (both 8-byte aligned). */
	struct wk_list *l = calloc(1, sizeof(*l) + n * sizeof(l->items[0]) +
				   n * sizeof(struct wk_wake));

	if (l) {
		l->n = n;
		l->wake = (struct wk_wake *)(void *)&l->items[n];
	}
	return l;
}

/*
 * One pass over the list: the unit between two quiescent points.  t0 is
 * the TSC when the previous pass ended; returns the TSC now (and in
 * *moved_out the packets it moved).  The TSC is read once per item (once
 * per pass over an empty list): the cycles between two reads go to the
 * item in between when it moved packets, and the whole pass, from the end
 * of the one before, to the worker's busy cycles when any item moved
 * packets, else to its idle cycles.  So busy plus idle is all the time the
 * worker ran (its naps and parks too, wk_main), and a one-item pass reads
 * the TSC once, as it did before per-item counting; a poll that moves a
 * burst costs thousands of cycles, a TSC read about twenty.
 */
static inline uint64_t wk_pass(struct worker *w, uint64_t t0,
			       uint64_t *moved_out)
{
	struct wk_list *l = atomic_load_explicit(&w->list,
						 memory_order_acquire);
	uint64_t t = t0, moved = 0;

	for (uint32_t i = 0; l && i < l->n; i++) {
		const struct wk_item *it = &l->items[i];
		atomic_store_explicit(&w->busy, it, memory_order_relaxed);
		uint32_t n = it->poll(it->ctx);
		uint64_t t1 = wk_cycles();
		if (n && it->stats) {
			if (unlikely(!it->stats->first))
				STAT_SET(it->stats->first, t1);
			STAT_ADD(it->stats->packets, n);
			STAT_ADD(it->stats->cycles, t1 - t);
		}
		moved += n;
		t = t1;
	}
	if (l)
		atomic_store_explicit(&w->busy, NULL, memory_order_relaxed);
	if (!l || !l->n)
		t = wk_cycles();
	if (moved) {
		STAT_ADD(w->stats.packets, moved);
		STAT_ADD(w->stats.busy_cycles, t - t0);
	} else {
		STAT_ADD(w->stats.idle_cycles, t - t0);
	}
	STAT_INC(w->stats.passes);
	/* Release: everything this pass did happens before the epoch the
	 * control plane waits for. */
	atomic_fetch_add_explicit(&w->epoch, 1, memory_order_release);
	*moved_out = moved;
	return t;
}

/* Thread hooks: written by the control thread before workers start (the
 * thread start orders them before every read). */
static struct {
	wk_hook_fn start, stop;
	void *arg;
} hooks[WK_HOOKS_MAX];
static uint32_t nhooks;

int wk_hook_add(wk_hook_fn start, wk_hook_fn stop, void *arg)
{
	if (nhooks == WK_HOOKS_MAX)
		return -ENOSPC;
	hooks[nhooks].start = start;
	hooks[nhooks].stop = stop;
	hooks[nhooks].arg = arg;
	nhooks++;
	return 0;
}

void wk_hook_remove(wk_hook_fn start, wk_hook_fn stop, void *arg)
{
	for (uint32_t i = 0; i < nhooks; i++) {
		if (hooks[i].start != start || hooks[i].stop != stop ||
		    hooks[i].arg != arg)
			continue;
		memmove(&hooks[i], &hooks[i + 1],
			(nhooks - i - 1) * sizeof(hooks[0]));
		nhooks--;
		return;
	}
}

/* The interrupt signal's handler: its delivery is the point. */
static void wk_on_interrupt(int sig)
{
	(void)sig;
}

static pthread_once_t wk_signal_once = PTHREAD_ONCE_INIT;
static bool wk_signal_ok;

/* Without SA_RESTART: a system call the signal interrupts returns EINTR
 * instead of sleeping again. */
static void wk_signal_install(void)
{
	struct sigaction sa = {.sa_handler = wk_on_interrupt};

	sigemptyset(&sa.sa_mask);
	if (sigaction(WK_INTERRUPT_SIGNAL, &sa, NULL) < 0) {
		LOG_ERR(TAG, "cannot install the worker interrupt (signal %d): "
			"%s; a worker asleep in a system call stays there",
			WK_INTERRUPT_SIGNAL, strerror(errno));
		return;
	}
	wk_signal_ok = true;
}

static void *wk_main(void *arg)
{
	struct worker *w = arg;
	uint32_t n = nhooks;
	sigset_t set;

	/* Whatever the creating thread blocks, a worker takes its interrupt. */
	sigemptyset(&set);
	sigaddset(&set, WK_INTERRUPT_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	/* Named by itself: naming it from another thread goes through
	 * /proc/self/task/TID/comm, and the /proc entries that leaves behind
	 * are what the kernel must invalidate when vhostd is reaped, racing
	 * with this thread's own exit (the supervisor spun 4-8 ms there in
	 * sched traces of restarts). */
	char name[16];
	snprintf(name, sizeof(name), "vhostd-wk%u", w->id);
	(void)prctl(PR_SET_NAME, name);

	struct wk_idle idle = wk_idle_cfg;
	/* Naps of a few microseconds: the default timer slack (50 us) would
	 * make every one of them 50 us longer (OVS sets 1 us as well). */
	if (idle.mode != WK_IDLE_POLL)
		(void)prctl(PR_SET_TIMERSLACK, 1000UL);
	for (uint32_t i = 0; i < n; i++)
		hooks[i].start(hooks[i].arg);
	/* Passes follow each other: each starts when the last one ended.
	 * Anything done between two passes (waiting) must take a new start
	 * time, or it is counted in the next pass: a nap or a park (--idle)
	 * is idle time, so busy plus idle stays all of the worker's time. */
	uint64_t t = wk_cycles();
	while (!atomic_load_explicit(&w->stop, memory_order_relaxed)) {
		uint64_t moved;
		t = wk_pass(w, t, &moved);
		/* Always with poll, and under load with the others: these
		 * tests and nothing more. */
		if (idle.mode == WK_IDLE_POLL || wk_idle_busy(&idle, moved))
			continue;
		/* Fewer than WK_IDLE_BUSY packets: fits 32 bits. */
		if (wk_idle_after(w, &idle, (uint32_t)moved)) {
			uint64_t t1 = wk_cycles();
			STAT_ADD(w->stats.idle_cycles, t1 - t);
			t = t1;
		}
	}
	for (uint32_t i = n; i-- > 0;)
		if (hooks[i].stop)
			hooks[i].stop(hooks[i].arg);
	return NULL;
}

int wk_start(struct worker *w, uint32_t id, int core)
{
	pthread_attr_t attr;
	int err;

	pthread_once(&wk_signal_once, wk_signal_install);
	memset(w, 0, sizeof(*w));
	w->id = id;
	w->core = core;
	wk_park_open(w);
	pthread_attr_init(&attr);
	if (core >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(core, &set);
		pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	}
	err = pthread_create(&w->thread, &attr, wk_main, w);
	pthread_attr_destroy(&attr);
	if (err) {
		wk_park_close(w);
		LOG_ERR(TAG, "worker %u: cannot start on core %d: %s", id, core,
			strerror(err));
		return -err;
	}
	w->running = true;
	LOG_INFO(TAG, "worker %u polling on core %d (idle: %s)", id, core,
		 wk_idle_name(w->epfd >= 0 ? WK_IDLE_WAIT :
			      wk_idle_cfg.mode == WK_IDLE_WAIT ? WK_IDLE_SLEEP :
			      wk_idle_cfg.mode));
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void wk_interrupt(struct worker *w)
{
	if (w->running && wk_signal_ok)
		pthread_kill(w->thread, WK_INTERRUPT_SIGNAL);
}

/* Wait until the epoch moves past e0 or the clock reaches deadline_ms;
 * the worker is interrupted every WK_INTERRUPT_MS meanwhile.  true: it
 * moved. */
static bool wk_wait_epoch(struct worker *w, uint64_t e0, uint64_t deadline_ms)
{
	struct timespec ts = {0, 1000};
	uint64_t kick_ms = 0;

	for (uint32_t spins = 0;; spins++) {
		/* Parked: quiescent until it wakes (worker_park.c). */
		if (atomic_load_explicit(&w->epoch, memory_order_acquire) != e0 ||
		    atomic_load(&w->parked))
			return true;
		/* The clock is read every 64 sleeps (>= 64 us). */
		if ((spins & 63) == 63) {
			uint64_t now = now_ms();
			if (kick_ms == 0) {
				kick_ms = now + WK_INTERRUPT_MS;
			} else if (now >= kick_ms) {
				wk_interrupt(w);
				kick_ms = now + WK_INTERRUPT_MS;
			}
			if (now >= deadline_ms)
				return false;
		}
		nanosleep(&ts, NULL);
	}
}

/* The item w is in, told to stop (the wait for w timed out): one line. */
static void wk_abandon_busy(struct worker *w, uint64_t ms)
{
	/* The item is in a list the control thread has not freed: the one
	 * being replaced (publish frees it only after wk_settle) or the
	 * current one. */
	const struct wk_item *it = atomic_load_explicit(&w->busy,
							memory_order_relaxed);
	VLOG_RL(VLOG_LVL_ERR, TAG, "worker %u: no quiescent point after %"
		PRIu64 " ms; abandoning the item it polls (%s)", w->id, ms,
		it && it->abandon ? "it is told to stop" :
		it ? "it cannot be abandoned" : "between items");
	if (it && it->abandon)
		it->abandon(it->ctx);
}

int wk_quiesce(struct worker *w)
{
	if (!w->running)
		return 0;
	uint64_t e0 = atomic_load_explicit(&w->epoch, memory_order_acquire);

	/* The pass running now may have loaded the old list; once the epoch
	 * moves, that pass is over and the next one loads the new list. */
	if (wk_wait_epoch(w, e0, now_ms() + WK_QUIESCE_TIMEOUT_MS))
		return 0;
	wk_abandon_busy(w, WK_QUIESCE_TIMEOUT_MS);
	wk_interrupt(w);   /* out of a system call, to see the flag */
	return -ETIMEDOUT;
}

void wk_settle(struct worker *w)
{
	if (!w->running)
		return;
	uint64_t e0 = atomic_load_explicit(&w->epoch, memory_order_acquire);

	/* Unbounded on purpose: whatever the caller frees next (the old list,
	 * a queue pair, guest memory) may be in use until the worker passes
	 * its quiescent point, and a worker never blocks: the abandoned item
	 * returns at its next check, one burst away, and a system call it
	 * sleeps in returns at the interrupt sent every WK_INTERRUPT_MS. */
	for (uint32_t s = 1; !wk_wait_epoch(w, e0, now_ms() + 1000); s++)
		LOG_ERR(TAG, "worker %u: still no quiescent point after %u s",
			w->id, s);
}

/* CPU time w has used, in ns (0 when the clock cannot be read: then only
 * the wall clock counts). */
static uint64_t wk_cpu_ns(const struct worker *w)
{
	clockid_t id;
	struct timespec ts;

	if (pthread_getcpuclockid(w->thread, &id) != 0 ||
	    clock_gettime(id, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void wk_watch(struct worker *w)
{
	if (!w->running)
		return;
	uint64_t e = atomic_load_explicit(&w->epoch, memory_order_acquire);
	uint64_t now = now_ms();

	/* A parked worker is idle, not stuck: its epoch may stand still for
	 * as long as the guests are quiet. */
	if (e != w->wd.epoch || w->wd.since_ms == 0 || atomic_load(&w->parked)) {
		w->wd.epoch = e;
		w->wd.since_ms = now;
		w->wd.cpu0_ns = wk_cpu_ns(w);
		w->wd.said = w->wd.abandoned = false;
		return;
	}
	uint64_t stalled = now - w->wd.since_ms;
	if (stalled < WK_QUIESCE_TIMEOUT_MS)
		return;
	uint64_t cpu = wk_cpu_ns(w);
	uint64_t ran_ms = cpu && w->wd.cpu0_ns ?
		(cpu - w->wd.cpu0_ns) / 1000000u : stalled;
	if (!w->wd.said) {
		w->wd.said = true;
		/* A warning: the host may simply not have run it; what it
		 * was stuck in says its own error (a queue broken). */
		VLOG_RL(VLOG_LVL_WARN, TAG, "worker %u: no quiescent point for %"
			PRIu64 " ms (it ran %" PRIu64 " ms of them); interrupting "
			"it", w->id, stalled, ran_ms);
	}
	/* A worker the host did not run never reaches WK_QUIESCE_TIMEOUT_MS
	 * of CPU time in one epoch, so it is only interrupted (harmless). */
	if (!w->wd.abandoned && ran_ms >= WK_QUIESCE_TIMEOUT_MS) {
		w->wd.abandoned = true;
		wk_abandon_busy(w, stalled);
	}
	wk_interrupt(w);
}

struct wk_list *wk_publish(struct worker *w, struct wk_list *list)
{
	wk_wake_sync(w, list);
	/* seq_cst: against the worker's parked flag (worker_park.c). */
	struct wk_list *old = atomic_exchange(&w->list, list);
	wk_wake(w);
	/* No list before: no pass can be in any item, nothing to wait for
	 * (a restart's first publish is on the guests' clock). */
	if (old && wk_quiesce(w) < 0)
		wk_settle(w);
	return old;
}

void wk_stop(struct worker *w)
{
	if (w->running) {
		atomic_store(&w->stop, true);
		wk_wake(w);   /* out of a park: it looks at stop first */
		pthread_join(w->thread, NULL);
		w->running = false;
		wk_park_close(w);
		if (wk_idle_cfg.mode != WK_IDLE_POLL)
			LOG_INFO(TAG, "worker %u: idle: %llu naps, %llu parks "
				 "(%llu ended by the %d ms bound)", w->id,
				 (unsigned long long)w->stats.naps,
				 (unsigned long long)w->stats.parks,
				 (unsigned long long)w->stats.park_timeouts,
				 WK_IDLE_PARK_MS);
	}
	free(atomic_exchange(&w->list, NULL));
}
