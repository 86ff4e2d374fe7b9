/* SPDX-License-Identifier: MIT */
/*
 * prefetch.h: bringing in a cache line for writing, or for reading now.
 *
 * The datapath writes lines the guest's core touched last: receive buffers
 * (the guest read the frame), used ring entries and packed descriptors.  A
 * plain prefetch brings such a line in shared, and the store that follows
 * still waits for the other core to give its copy up; with the stores of a
 * burst queued behind it, that wait was most of an RX enqueue's time.
 * PREFETCHW asks for the line owned.
 *
 * GCC turns __builtin_prefetch(p, 1) into PREFETCHW only when built for a
 * CPU that has it (-march), and vhostd is built for generic x86-64, so the
 * instruction is issued here, after a CPUID check at start-up: every
 * AMD64 CPU and Intel's since Broadwell have PRFCHW.
 */
#ifndef VHOSTD_PREFETCH_H
#define VHOSTD_PREFETCH_H

#include <stdbool.h>

#include "compiler.h"

/* CPUID says PREFETCHW exists (set before main()). */
extern bool cpu_prefetchw;

static inline void prefetch_w(const void *p)
{
#if defined(__x86_64__)
	if (likely(cpu_prefetchw)) {
		__asm__ volatile("prefetchw %0" : : "m"(*(const char *)p));
		return;
	}
#endif
	__builtin_prefetch(p, 1);
}

/*
 * Load a byte of the line at p now; the value is not used.  For lines the
 * guest's core wrote last that are about to be read: on the AMD EPYC VM
 * vhostd is measured on, a prefetcht0 of such a line (issued a whole burst
 * ahead) left the later load's stall where it was, while a burst of these
 * loads in a tight loop, nothing else between them, overlapped the misses
 * (perf/results/bench_touch_ab.txt).  In a loop with more work per
 * iteration a waiting load would hold up retirement: use prefetches there.
 */
static inline void touch(const void *p)
{
	(void)*(const volatile uint8_t *)p;
}

#endif
