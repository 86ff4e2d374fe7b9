/* SPDX-License-Identifier: MIT */
#include "worker.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define TAG "wk"

struct wk_list *wk_list_new(uint32_t n)
{
	struct wk_list *l = calloc(1, sizeof(*l) + n * sizeof(l->items[0]));

	if (l)
		l->n = n;
	return l;
}

/* One pass over the list: the unit between two quiescent points. */
static inline void wk_pass(struct worker *w)
{
	struct wk_list *l = atomic_load_explicit(&w->list,
						 memory_order_acquire);
	if (l) {
		uint64_t t0 = wk_cycles(), moved = 0;
		for (uint32_t i = 0; i < l->n; i++) {
			atomic_store_explicit(&w->busy, &l->items[i],
					      memory_order_relaxed);
			moved += l->items[i].poll(l->items[i].ctx);
		}
		atomic_store_explicit(&w->busy, NULL, memory_order_relaxed);
		if (moved) {
			STAT_ADD(w->stats.packets, moved);
			STAT_ADD(w->stats.busy_cycles, wk_cycles() - t0);
		}
	}
	STAT_INC(w->stats.passes);
	/* Release: everything this pass did happens before the epoch the
	 * control plane waits for. */
	atomic_fetch_add_explicit(&w->epoch, 1, memory_order_release);
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

static void *wk_main(void *arg)
{
	struct worker *w = arg;
	uint32_t n = nhooks;

	for (uint32_t i = 0; i < n; i++)
		hooks[i].start(hooks[i].arg);
	while (!atomic_load_explicit(&w->stop, memory_order_relaxed))
		wk_pass(w);
	for (uint32_t i = n; i-- > 0;)
		if (hooks[i].stop)
			hooks[i].stop(hooks[i].arg);
	return NULL;
}

int wk_start(struct worker *w, uint32_t id, int core)
{
	pthread_attr_t attr;
	int err;

	memset(w, 0, sizeof(*w));
	w->id = id;
	w->core = core;
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
		LOG_ERR(TAG, "worker %u: cannot start on core %d: %s", id, core,
			strerror(err));
		return -err;
	}
	char name[16];
	snprintf(name, sizeof(name), "vhostd-wk%u", id);
	pthread_setname_np(w->thread, name);
	w->running = true;
	LOG_INFO(TAG, "worker %u polling on core %d", id, core);
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Wait until the epoch moves past e0 or the clock reaches deadline_ms
 * (0: no deadline).  true: it moved. */
static bool wk_wait_epoch(struct worker *w, uint64_t e0, uint64_t deadline_ms)
{
	struct timespec ts = {0, 1000};

	for (uint32_t spins = 0;; spins++) {
		if (atomic_load_explicit(&w->epoch, memory_order_acquire) != e0)
			return true;
		/* The clock is read every 64 sleeps (>= 64 us). */
		if (deadline_ms && (spins & 63) == 63 && now_ms() >= deadline_ms)
			return false;
		nanosleep(&ts, NULL);
	}
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
	/* The item is in a list the control thread has not freed: the one
	 * being replaced (publish frees it only after wk_settle) or the
	 * current one. */
	const struct wk_item *it = atomic_load_explicit(&w->busy,
							memory_order_relaxed);
	LOG_ERR(TAG, "worker %u: no quiescent point after %u ms; abandoning "
		"the item it polls (%s)", w->id, WK_QUIESCE_TIMEOUT_MS,
		it && it->abandon ? "it is told to stop" :
		it ? "it cannot be abandoned" : "between items");
	if (it && it->abandon)
		it->abandon(it->ctx);
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
	 * returns at its next check, one burst away. */
	for (uint32_t s = 1; !wk_wait_epoch(w, e0, now_ms() + 1000); s++)
		LOG_ERR(TAG, "worker %u: still no quiescent point after %u s",
			w->id, s);
}

struct wk_list *wk_publish(struct worker *w, struct wk_list *list)
{
	struct wk_list *old = atomic_exchange_explicit(&w->list, list,
						       memory_order_acq_rel);
	if (wk_quiesce(w) < 0)
		wk_settle(w);
	return old;
}

void wk_stop(struct worker *w)
{
	if (w->running) {
		atomic_store_explicit(&w->stop, true, memory_order_relaxed);
		pthread_join(w->thread, NULL);
		w->running = false;
	}
	free(atomic_exchange(&w->list, NULL));
}
