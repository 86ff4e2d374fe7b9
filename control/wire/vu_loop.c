/* SPDX-License-Identifier: MIT */
#include "vu_loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

struct vu_watch {
	int fd;
	bool dead;       /* deleted while callbacks of this round may run */
	bool timer;      /* fd is a timerfd we own */
	vu_watch_fn fn;
	void *arg;
	struct vu_watch *prev, *next; /* live list, or dead list (next) */
};

struct vu_loop {
	int epfd;
	bool stop;
	struct vu_watch *live;  /* every registered watch */
	struct vu_watch *dead;  /* deleted, freed after the current round */
};

struct vu_loop *vu_loop_new(void)
{
	struct vu_loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	return l;
}

static void reap(struct vu_loop *l)
{
	while (l->dead) {
		struct vu_watch *w = l->dead;
		l->dead = w->next;
		free(w);
	}
}

void vu_loop_free(struct vu_loop *l)
{
	if (!l)
		return;
	while (l->live)
		vu_loop_del(l, l->live);
	reap(l);
	close(l->epfd);
	free(l);
}

struct vu_watch *vu_loop_add(struct vu_loop *l, int fd, uint32_t events,
			     vu_watch_fn fn, void *arg)
{
	struct vu_watch *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	*w = (struct vu_watch){.fd = fd, .fn = fn, .arg = arg};
	struct epoll_event ev = {.events = events, .data.ptr = w};
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int e = errno;
		free(w);
		errno = e;
		return NULL;
	}
	w->next = l->live;
	if (l->live)
		l->live->prev = w;
	l->live = w;
	return w;
}

void vu_loop_del(struct vu_loop *l, struct vu_watch *w)
{
	if (!w || w->dead)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	if (w->timer)
		close(w->fd);
	w->dead = true;
	if (w->prev)
		w->prev->next = w->next;
	else
		l->live = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->prev = NULL;
	w->next = l->dead;
	l->dead = w;
}

static struct timespec ms_ts(uint64_t ms)
{
	return (struct timespec){.tv_sec = (time_t)(ms / 1000),
				 .tv_nsec = (long)(ms % 1000) * 1000000L + 1};
}

static struct vu_watch *add_timer(struct vu_loop *l, uint64_t ms,
				  bool periodic, vu_watch_fn fn, void *arg)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	struct itimerspec its = {.it_value = ms_ts(ms)};

	if (periodic)
		its.it_interval = ms_ts(ms);

	if (fd < 0)
		return NULL;
	if (timerfd_settime(fd, 0, &its, NULL) < 0) {
		close(fd);
		return NULL;
	}
	struct vu_watch *w = vu_loop_add(l, fd, EPOLLIN, fn, arg);
	if (!w) {
		close(fd);
		return NULL;
	}
	w->timer = true;
	return w;
}

struct vu_watch *vu_loop_timer(struct vu_loop *l, uint64_t ms, vu_watch_fn fn,
			       void *arg)
{
	return add_timer(l, ms, false, fn, arg);
}

struct vu_watch *vu_loop_every(struct vu_loop *l, uint64_t ms, vu_watch_fn fn,
			       void *arg)
{
	return add_timer(l, ms, true, fn, arg);
}

void vu_loop_timer_del(struct vu_loop *l, struct vu_watch *w)
{
	vu_loop_del(l, w);
}

int vu_watch_fd(const struct vu_watch *w)
{
	return w->fd;
}

void vu_loop_stop(struct vu_loop *l)
{
	l->stop = true;
}

int vu_loop_run(struct vu_loop *l)
{
	struct epoll_event evs[32];

	while (!l->stop) {
		int n = epoll_wait(l->epfd, evs, 32, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			struct vu_watch *w = evs[i].data.ptr;
			uint64_t expired;
			if (w->dead)
				continue;
			/* A periodic timer stays readable until read. */
			if (w->timer && read(w->fd, &expired,
					     sizeof(expired)) < 0)
				expired = 0;
			w->fn(w, evs[i].events, w->arg);
		}
		reap(l);
	}
	return 0;
}
