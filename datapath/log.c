/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int vlog_level_cur = VLOG_LVL_INFO;

static const char *const level_names[] = {"err", "warn", "info", "debug"};

void vlog_set_level(enum vlog_level lvl)
{
	vlog_level_cur = (int)lvl;
}

int vlog_parse_level(const char *s, enum vlog_level *out)
{
	for (unsigned i = 0; i < ARRAY_SIZE(level_names); i++) {
		if (strcmp(s, level_names[i]) == 0 ||
		    (s[0] == (char)('0' + i) && s[1] == '\0')) {
			*out = (enum vlog_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void vlog_emit(enum vlog_level lvl, const char *tag, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	n = snprintf(buf, sizeof(buf), "vhostd[%s] %s: ", level_names[lvl], tag);
	if (n < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One fputs per line keeps lines from different threads whole. */
	size_t len = strlen(buf);
	if (len < sizeof(buf) - 1) {
		buf[len] = '\n';
		buf[len + 1] = '\0';
	} else {
		buf[sizeof(buf) - 2] = '\n';
	}
	fputs(buf, stderr);
}

int vlog_rl_allow(struct vlog_rl *rl)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	uint64_t now = (uint64_t)ts.tv_sec;
	uint64_t win = atomic_load_explicit(&rl->window, memory_order_relaxed);

	if (win != now &&
	    atomic_compare_exchange_strong(&rl->window, &win, now))
		atomic_store_explicit(&rl->used, 0, memory_order_relaxed);
	return atomic_fetch_add_explicit(&rl->used, 1, memory_order_relaxed) <
	       VLOG_RL_BURST;
}
