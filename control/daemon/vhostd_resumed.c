/* SPDX-License-Identifier: MIT */
/*
 * vhostd_resumed.c: after a restart through the fd store, say when each
 * rebuilt device moves frames again.  The rebuild itself is silent for
 * the front-end; this line is what an operator (and the restart tests)
 * read to know how long the guests' traffic stood still.  The counters
 * are polled every millisecond from the control thread, for at most a
 * second per device.  The time is the worker's own: the TSC it read after
 * the first poll of the device's paths that moved frames (wk_pass), so a
 * control thread that runs late (it may share a core with a busy worker)
 * notices late but does not measure late.
 */
#include "vhostd_sw.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "../../datapath/log.h"
#include "vhostd_dp.h"

#define TAG "fdstore"
#define RESUMED_TICK_MS 1
#define RESUMED_GIVE_UP_NS 1000000000ull

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Frames the port's rings moved since this process started them. */
static uint64_t port_packets(const struct dp_port *p)
{
	uint64_t n = 0;

	if (!p->dev)
		return 0;
	for (uint32_t r = 0; r < p->dev->nvrings; r++)
		if (p->qps[r / 2])
			n += STAT_READ(dp_vq(p, r)->stats.packets);
	return n;
}

/* The worker's TSC at the end of the first poll that moved frames from
 * the port's guest, or 0 (none yet, or it only receives). */
static uint64_t first_tsc(const struct dp_port *p)
{
	uint64_t first = 0;

	if (!p->dev)
		return 0;
	for (uint32_t q = 0; q < p->dev->nvrings / 2; q++) {
		uint64_t t = p->qps[q] ? STAT_READ(p->qps[q]->wk.first) : 0;
		if (t && (!first || t < first))
			first = t;
	}
	return first;
}

/* Nanoseconds between the worker's TSC reading tsc and now (now_tsc,
 * now_ns), at the rate the TSC ran since the rebuild: no calibration. */
static uint64_t tsc_lag_ns(const struct sw_port *sp, uint64_t tsc,
			   uint64_t now_tsc, uint64_t now_ns)
{
	if (!tsc || tsc >= now_tsc || now_tsc <= sp->rebuilt_tsc)
		return 0;
	double ns_per_tick = (double)(now_ns - sp->rebuilt_ns) /
			     (double)(now_tsc - sp->rebuilt_tsc);
	return (uint64_t)((double)(now_tsc - tsc) * ns_per_tick);
}

static void say_moving(const struct sw_port *sp, uint64_t ns, uint64_t lag)
{
	LOG_INFO(TAG, "%s: frames moving again %" PRIu64 ".%" PRIu64 " ms "
		 "after the device was rebuilt (the first %" PRIu64 " us "
		 "before this line)", sp->opt.name, ns / 1000000,
		 ns / 100000 % 10, lag / 1000);
}

/* true: this port is still waiting for its first frame. */
static bool check_port(struct sw *s, int i, uint64_t now_tsc, uint64_t now)
{
	struct sw_port *sp = &s->ports[i];
	const struct dp_port *p = &s->dp->ports[i];

	if (!sp->used || !sp->rebuilt_ns)
		return false;
	uint64_t ns = now - sp->rebuilt_ns;
	if (port_packets(p)) {
		/* Frames only towards the guest: the moment they were seen. */
		uint64_t lag = tsc_lag_ns(sp, first_tsc(p), now_tsc, now);
		say_moving(sp, lag < ns ? ns - lag : 0, lag < ns ? lag : ns);
	} else if (ns >= RESUMED_GIVE_UP_NS) {
		LOG_INFO(TAG, "%s: no frame in the first second after the "
			 "device was rebuilt (its guest sends nothing)",
			 sp->opt.name);
	} else {
		return true;
	}
	sp->rebuilt_ns = 0;
	return false;
}

static void tick(struct vu_watch *w, uint32_t ev, void *arg)
{
	struct sw *s = arg;
	uint64_t now_tsc = wk_cycles();
	uint64_t now = mono_ns();
	bool waiting = false;

	(void)w; (void)ev;
	for (int i = 0; i < s->nslots; i++)
		waiting |= check_port(s, i, now_tsc, now);
	if (!waiting) {
		vu_loop_timer_del(s->loop, s->resumed_timer);
		s->resumed_timer = NULL;
		void (*fn)(void *) = s->resumed_fn;
		s->resumed_fn = NULL;
		if (fn)
			fn(s->resumed_arg);
	}
}

bool sw_when_resumed(struct sw *s, void (*fn)(void *arg), void *arg)
{
	if (!s->resumed_timer)
		return false;
	s->resumed_fn = fn;
	s->resumed_arg = arg;
	return true;
}

void sw_resumed_watch(struct sw *s, int i)
{
	s->ports[i].rebuilt_tsc = wk_cycles();
	s->ports[i].rebuilt_ns = mono_ns();
	if (s->resumed_timer)
		return;
	s->resumed_timer = vu_loop_every(s->loop, RESUMED_TICK_MS, tick, s);
	if (!s->resumed_timer) {
		LOG_WARN(TAG, "%s: cannot watch for its first frames after the "
			 "rebuild: %s", s->ports[i].opt.name, strerror(errno));
		s->ports[i].rebuilt_ns = 0;
	}
}

void sw_resumed_stop(struct sw *s)
{
	if (s->resumed_timer)
		vu_loop_timer_del(s->loop, s->resumed_timer);
	s->resumed_timer = NULL;
	s->resumed_fn = NULL;
	for (int i = 0; i < s->nslots; i++)
		s->ports[i].rebuilt_ns = 0;
}
