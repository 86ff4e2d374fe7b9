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
		for (uint32_t i = 0; i < l->n; i++)
			moved += l->items[i].poll(l->items[i].ctx);
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

void wk_quiesce(struct worker *w)
{
	if (!w->running)
		return;
	uint64_t e0 = atomic_load_explicit(&w->epoch, memory_order_acquire);
	struct timespec ts = {0, 1000};

	/* The pass running now may have loaded the old list; once the epoch
	 * moves, that pass is over and the next one loads the new list. */
	while (atomic_load_explicit(&w->epoch, memory_order_acquire) == e0)
		nanosleep(&ts, NULL);
}

struct wk_list *wk_publish(struct worker *w, struct wk_list *list)
{
	struct wk_list *old = atomic_exchange_explicit(&w->list, list,
						       memory_order_acq_rel);
	wk_quiesce(w);
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
