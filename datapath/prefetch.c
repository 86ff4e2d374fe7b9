/* SPDX-License-Identifier: MIT */
#include "prefetch.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

bool cpu_prefetchw;

__attribute__((constructor)) static void prefetch_detect(void)
{
#if defined(__x86_64__)
	unsigned int a, b, c, d;

	if (__get_cpuid(0x80000001, &a, &b, &c, &d))
		cpu_prefetchw = (c & bit_PRFCHW) != 0;
#endif
}
