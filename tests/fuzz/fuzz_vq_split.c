/* SPDX-License-Identifier: MIT */
/* fuzz_vq_split.c: the split ring consumer (fuzz_vq.h). */
#define FUZZ_VQ_PACKED 0
#include "fuzz_vq.h"
