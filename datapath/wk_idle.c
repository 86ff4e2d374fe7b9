/* SPDX-License-Identifier: MIT */
#include "wk_idle.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void wk_idle_init(struct wk_idle *s, enum wk_idle_mode mode, uint32_t max_us)
{
	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->max_us = mode == WK_IDLE_SLEEP ? max_us :
		    mode == WK_IDLE_WAIT ? WK_IDLE_WAIT_BACKOFF_US : 0;
}

int wk_idle_parse(const char *arg, enum wk_idle_mode *mode, uint32_t *max_us,
		  const char **why)
{
	*why = "use poll, wait or sleep=MAX_US";
	if (!arg)
		return -EINVAL;
	if (strcmp(arg, "poll") == 0 || strcmp(arg, "wait") == 0) {
		*mode = arg[0] == 'p' ? WK_IDLE_POLL : WK_IDLE_WAIT;
		*max_us = 0;
		return 0;
	}
	if (strncmp(arg, "sleep=", 6) != 0)
		return -EINVAL;
	const char *v = arg + 6;
	char *end;
	*why = "MAX_US must be a number of microseconds, 1..10000";
	/* Digits only: strtoul would take a sign or leading spaces. */
	if (*v < '0' || *v > '9')
		return -EINVAL;
	errno = 0;
	unsigned long us = strtoul(v, &end, 10);
	if (errno || *end || us < 1 || us > WK_IDLE_SLEEP_MAX_US)
		return -EINVAL;
	*mode = WK_IDLE_SLEEP;
	*max_us = (uint32_t)us;
	return 0;
}

const char *wk_idle_name(enum wk_idle_mode mode)
{
	return mode == WK_IDLE_SLEEP ? "sleep" :
	       mode == WK_IDLE_WAIT ? "wait" : "poll";
}
