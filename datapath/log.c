/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int vlog_level_cur = VLOG_LVL_INFO;
static bool vlog_journal;
static bool vlog_time;

static const char *const level_names[] = {"err", "warn", "info", "debug"};
/* syslog(3) priorities: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG. */
static const int level_prio[] = {3, 4, 6, 7};

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

bool vlog_journal_stream(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char tail;

	if (!env || sscanf(env, "%llu:%llu%c", &dev, &ino, &tail) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

void vlog_use_journal(bool on)
{
	vlog_journal = on;
}

void vlog_use_time(bool on)
{
	vlog_time = on;
}

/* "ts=2026-12-03T14:50:00.123456Z " at buf (UTC, microseconds). */
static int time_field(char *buf, size_t n)
{
	struct timespec ts;
	struct tm tm;
	char day[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	if (!gmtime_r(&ts.tv_sec, &tm) ||
	    !strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm))
		return 0;
	return snprintf(buf, n, "ts=%s.%06ldZ ", day, ts.tv_nsec / 1000);
}

static void vlog_vemit(enum vlog_level lvl, const char *tag,
		       uint32_t suppressed, const char *fmt, va_list ap)
{
	char buf[512];
	int n;

	if (vlog_journal)
		n = snprintf(buf, sizeof(buf), "<%d>", level_prio[lvl]);
	else if (vlog_time)
		n = time_field(buf, sizeof(buf));
	else
		n = 0;
	n += snprintf(buf + n, sizeof(buf) - (size_t)n, "level=%s comp=%s ",
		      level_names[lvl], tag);
	if (suppressed)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n,
			      "suppressed=%u ", suppressed);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return;
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	/* One line per call: a message's own newlines would start lines
	 * that have no fields (and no priority). */
	for (char *c = buf + n; *c; c++)
		if (*c == '\n')
			*c = ' ';
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

void vlog_emit(enum vlog_level lvl, const char *tag, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog_vemit(lvl, tag, 0, fmt, ap);
	va_end(ap);
}

void vlog_emit_rl(enum vlog_level lvl, const char *tag, uint32_t suppressed,
		  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog_vemit(lvl, tag, suppressed, fmt, ap);
	va_end(ap);
}

int vlog_rl_allow_at(struct vlog_rl *rl, uint64_t now, uint32_t *suppressed)
{
	uint64_t win = atomic_load_explicit(&rl->window, memory_order_relaxed);

	/* The thread that opens a new second refills the bucket and carries
	 * what the old one refused over to the next line logged. */
	if (win != now &&
	    atomic_compare_exchange_strong(&rl->window, &win, now)) {
		uint32_t used = atomic_exchange_explicit(&rl->used, 0,
							 memory_order_relaxed);
		if (used > VLOG_RL_BURST)
			atomic_fetch_add_explicit(&rl->dropped,
						  used - VLOG_RL_BURST,
						  memory_order_relaxed);
	}
	if (atomic_fetch_add_explicit(&rl->used, 1, memory_order_relaxed) >=
	    VLOG_RL_BURST)
		return 0;
	*suppressed = atomic_exchange_explicit(&rl->dropped, 0,
					       memory_order_relaxed);
	return 1;
}

int vlog_rl_allow(struct vlog_rl *rl, uint32_t *suppressed)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return vlog_rl_allow_at(rl, (uint64_t)ts.tv_sec, suppressed);
}
