/* SPDX-License-Identifier: MIT */
/*
 * dirty_log.h: live-migration dirty page log (vhost-user spec, "Migration").
 *
 * The log is a bitmap shared with the front-end, one bit per VHOST_LOG_PAGE
 * (4 KiB) of guest-physical address space:
 *     page = addr / VHOST_LOG_PAGE;  log[page / 8] |= 1 << page % 8
 * The spec asks for atomic operations because the front-end reads and
 * clears it concurrently.  Pages beyond the log size are not marked
 * (the front-end sized the log to cover every guest address it knows).
 */
#ifndef VHOSTD_DIRTY_LOG_H
#define VHOSTD_DIRTY_LOG_H

#include <stdint.h>

#include "compiler.h"

#define DIRTY_LOG_PAGE 0x1000u

struct dirty_log {
	uint8_t *base;   /* NULL when no log is set */
	uint64_t size;   /* bytes of bitmap */
};

/* Mark every page touched by [gpa, gpa + len).  Returns the number of
 * pages that fell outside the log (0 normally). */
static inline uint64_t dirty_log_mark(const struct dirty_log *log,
				      uint64_t gpa, uint64_t len)
{
	if (log->base == NULL || len == 0)
		return 0;
	uint64_t first = gpa / DIRTY_LOG_PAGE;
	uint64_t last = (gpa + (len - 1)) / DIRTY_LOG_PAGE;
	uint64_t missed = 0;

	if (gpa + (len - 1) < gpa) /* wraps: clamp to the address space */
		last = UINT64_MAX / DIRTY_LOG_PAGE;
	for (uint64_t p = first; p <= last; p++) {
		if (unlikely(p / 8 >= log->size)) {
			missed += last - p + 1;
			break;
		}
		__atomic_fetch_or(&log->base[p / 8], (uint8_t)(1u << (p % 8)),
				  __ATOMIC_RELAXED);
	}
	return missed;
}

#endif
