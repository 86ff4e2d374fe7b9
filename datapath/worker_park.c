/* SPDX-License-Identifier: MIT */
/*
 * worker_park.c: idle workers (--idle, wk_idle.h): naps, and parking in
 * epoll on the wake-up fds of the items of their poll list.
 *
 * The epoll set.  One epoll fd per worker for its life, holding its wake
 * eventfd (written by every wk_publish) and, for the list published last,
 * a duplicate of each item's wake fds.  The control thread rebuilds the
 * set before it stores a new list (epoll_ctl is safe while the worker
 * sleeps in epoll_wait); duplicates make the registrations the worker's
 * own: a device that closes or replaces its kick fd (SET_VRING_KICK, a
 * reset) touches a number the worker never registered, and no fd number
 * reused elsewhere can ever sit in the set.  Fds are edge-triggered and
 * never read: every eventfd write is a new edge, and nobody else reads a
 * kick fd, so nothing has to be drained (a worker never blocks in read).
 *
 * Parking, against publishing.  The worker arms its list's items (guest
 * notifications on, one more look at the rings), sets parked (seq_cst),
 * loads the list again and blocks only if it is still the one it armed.
 * wk_publish stores the new list (seq_cst exchange) before it reads
 * parked.  In the one total order of these four, either the worker's
 * second load sees the new list (it does not block) or the control
 * thread sees parked, and then the worker has finished with the old list:
 * arming happened before parked was set, and after parked is cleared it
 * loads the list afresh (the new one, or a later one).  So a parked
 * worker is quiescent; wk_publish also writes the wake fd, so the worker
 * comes back at once to poll the new list.
 */
#include "worker_park.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define TAG "wk"

struct wk_idle wk_idle_cfg;   /* zero: poll */

void wk_idle_set(enum wk_idle_mode mode, uint32_t max_us)
{
	wk_idle_init(&wk_idle_cfg, mode, max_us);
}

void wk_park_open(struct worker *w)
{
	w->epfd = w->wakefd = -1;
	if (wk_idle_cfg.mode != WK_IDLE_WAIT)
		return;
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET};
	if (w->epfd >= 0 && w->wakefd >= 0 &&
	    epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wakefd, &ev) == 0)
		return;
	LOG_ERR(TAG, "worker %u: no epoll set for --idle wait (%s): it naps "
		"instead of parking", w->id, strerror(errno));
	wk_park_close(w);
}

static void reg_clear(struct worker *w)
{
	for (uint32_t i = 0; i < w->nreg; i++) {
		(void)epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->reg[i], NULL);
		close(w->reg[i]);
	}
	w->nreg = 0;
}

void wk_park_close(struct worker *w)
{
	if (w->epfd >= 0)
		reg_clear(w);
	free(w->reg);
	w->reg = NULL;
	w->reg_cap = 0;
	if (w->epfd >= 0)
		close(w->epfd);
	if (w->wakefd >= 0)
		close(w->wakefd);
	w->epfd = w->wakefd = -1;
}

/* Register a duplicate of fd in w's set.  false: it could not be. */
static bool reg_add(struct worker *w, int fd)
{
	if (w->nreg == w->reg_cap) {
		uint32_t cap = w->reg_cap ? 2 * w->reg_cap : 16;
		int *r = realloc(w->reg, cap * sizeof(*r));
		if (!r)
			return false;
		w->reg = r;
		w->reg_cap = cap;
	}
	int d = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET};
	if (d < 0)
		return false;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, d, &ev) < 0) {
		close(d);
		return false;
	}
	w->reg[w->nreg++] = d;
	return true;
}

void wk_wake_sync(struct worker *w, struct wk_list *list)
{
	/* A worker that never ran has no epoll set (its fields may be
	 * zero, not -1). */
	bool ok = w->running && w->epfd >= 0 && (!list || list->wake);

	if (ok)
		reg_clear(w);
	for (uint32_t i = 0; ok && list && i < list->n; i++) {
		const struct wk_wake *wk = &list->wake[i];
		if (!wk->arm || wk->nfd > WK_WAKE_MAX) {
			ok = false;
			break;
		}
		for (uint8_t k = 0; ok && k < wk->nfd; k++)
			if (!reg_add(w, wk->fd[k])) {
				VLOG_RL(VLOG_LVL_ERR, TAG, "worker %u: cannot "
					"watch wake-up fd %d (%s): it naps "
					"instead of parking", w->id, wk->fd[k],
					strerror(errno));
				ok = false;
			}
	}
	if (!ok && w->running && w->epfd >= 0)
		reg_clear(w);   /* never park on part of the sources */
	if (list)
		list->parkable = ok;
}

void wk_wake(struct worker *w)
{
	if (w->running && w->wakefd >= 0)
		(void)eventfd_write(w->wakefd, 1);
}

static void nap(struct worker *w, uint32_t us)
{
	struct timespec ts = {0, (long)us * 1000};

	STAT_INC(w->stats.naps);
	/* EINTR (the interrupt signal) just ends the nap early. */
	(void)nanosleep(&ts, NULL);
}

/* Arm or disarm every item of l (NULL: none); true: one has work. */
static bool arm_all(struct wk_list *l, bool on)
{
	bool work = false;

	for (uint32_t i = 0; l && l->wake && i < l->n; i++)
		if (l->wake[i].arm && l->wake[i].arm(l->items[i].ctx, on))
			work = true;
	return work;
}

static void park(struct worker *w)
{
	struct wk_list *l = atomic_load_explicit(&w->list,
						 memory_order_acquire);
	struct epoll_event ev[4];

	if (!arm_all(l, true)) {
		atomic_store(&w->parked, true);
		if (atomic_load(&w->list) == l &&
		    !atomic_load_explicit(&w->stop, memory_order_relaxed)) {
			STAT_INC(w->stats.parks);
			/* A kick, a publish (wake fd), the interrupt signal
			 * (EINTR) or the timeout: all mean "poll again". */
			if (epoll_wait(w->epfd, ev, 4, WK_IDLE_PARK_MS) == 0)
				STAT_INC(w->stats.park_timeouts);
		}
		atomic_store(&w->parked, false);
	}
	/* Never the list armed above: it may be gone (see the top). */
	(void)arm_all(atomic_load_explicit(&w->list, memory_order_acquire),
		      false);
}

bool wk_idle_after(struct worker *w, struct wk_idle *s, uint32_t moved)
{
	struct wk_list *l = atomic_load_explicit(&w->list,
						 memory_order_acquire);
	bool parkable = w->epfd >= 0 && (!l || l->parkable);
	uint32_t us = 0;

	switch (wk_idle_step(s, moved, parkable, &us)) {
	case WK_IDLE_NAP:
		nap(w, us);
		return true;
	case WK_IDLE_PARK:
		park(w);
		return true;
	case WK_IDLE_RUN:
		break;
	}
	return false;
}
