/* SPDX-License-Identifier: MIT */
/*
 * log.h: the one logging facility of vhostd.
 *
 * Every line carries a level and a component tag ("vu", "mem", "vq", ...).
 * Control-plane code logs with VLOG(); datapath code must use VLOG_RL(),
 * which is rate limited per call site so that a hostile guest cannot flood
 * the log or slow a worker.  Output goes to stderr, one line per call:
 *
 *   [ts=TIME] level=LEVEL comp=TAG [suppressed=N] message
 *
 * key=value fields first (logfmt), then the message as written (a rate
 * limited site says how many of its lines it dropped since its last one).
 * When stderr is journald's stream (JOURNAL_STREAM names it, as systemd
 * sets it for a service), each line starts with the syslog priority
 * "<N>", which journald turns into the entry's PRIORITY.
 */
#ifndef VHOSTD_LOG_H
#define VHOSTD_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "compiler.h"

enum vlog_level {
	VLOG_LVL_ERR = 0,
	VLOG_LVL_WARN,
	VLOG_LVL_INFO,
	VLOG_LVL_DEBUG,
};

extern int vlog_level_cur;

/* Set the threshold; lines above it are dropped cheaply. */
void vlog_set_level(enum vlog_level lvl);

/* Parse "err|warn|info|debug" (or 0..3). Returns 0 or -EINVAL. */
int vlog_parse_level(const char *s, enum vlog_level *out);

void vlog_emit(enum vlog_level lvl, const char *tag, const char *fmt, ...)
	PRINTF_FMT(3, 4);

/* The same for a rate-limited site that dropped `suppressed` lines. */
void vlog_emit_rl(enum vlog_level lvl, const char *tag, uint32_t suppressed,
		  const char *fmt, ...) PRINTF_FMT(4, 5);

/* Is stderr journald's stream?  JOURNAL_STREAM is "DEV:INODE" of the
 * stream systemd connected; a child whose stderr went elsewhere must not
 * use "<N>" prefixes, so the pair is compared with fstat(2). */
bool vlog_journal_stream(void);

/* Prefix lines with their syslog priority "<N>" (journald) or not. */
void vlog_use_journal(bool on);

/* Start each line with "ts=YYYY-MM-DDTHH:MM:SS.uuuuuuZ" (UTC; --log-time),
 * except on journald's stream, which stamps entries itself. */
void vlog_use_time(bool on);

/*
 * Token bucket per call site: at most VLOG_RL_BURST lines, refilled once per
 * second.  Returns 1 when the caller may log.  Lock free (workers call it).
 */
#define VLOG_RL_BURST 10
struct vlog_rl {
	_Atomic uint64_t window;   /* second in which the bucket was refilled */
	_Atomic uint32_t used;
	_Atomic uint32_t dropped;  /* lines refused, not yet reported */
};
int vlog_rl_allow(struct vlog_rl *rl, uint32_t *suppressed);

/* The same at second `now`: the clock is the caller's (tests). */
int vlog_rl_allow_at(struct vlog_rl *rl, uint64_t now, uint32_t *suppressed);

#define VLOG(lvl, tag, ...)                                                  \
	do {                                                                 \
		if ((int)(lvl) <= vlog_level_cur)                            \
			vlog_emit((lvl), (tag), __VA_ARGS__);                \
	} while (0)

#define VLOG_RL(lvl, tag, ...)                                               \
	do {                                                                 \
		static struct vlog_rl vlog_rl_site_;                         \
		uint32_t vlog_rl_sup_;                                       \
		if ((int)(lvl) <= vlog_level_cur &&                          \
		    vlog_rl_allow(&vlog_rl_site_, &vlog_rl_sup_))            \
			vlog_emit_rl((lvl), (tag), vlog_rl_sup_,             \
				     __VA_ARGS__);                           \
	} while (0)

#define LOG_ERR(tag, ...)   VLOG(VLOG_LVL_ERR, tag, __VA_ARGS__)
#define LOG_WARN(tag, ...)  VLOG(VLOG_LVL_WARN, tag, __VA_ARGS__)
#define LOG_INFO(tag, ...)  VLOG(VLOG_LVL_INFO, tag, __VA_ARGS__)
#define LOG_DEBUG(tag, ...) VLOG(VLOG_LVL_DEBUG, tag, __VA_ARGS__)

#endif
