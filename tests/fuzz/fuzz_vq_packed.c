/* SPDX-License-Identifier: MIT */
/* fuzz_vq_packed.c: the packed ring consumer (fuzz_vq.h). */
#define FUZZ_VQ_PACKED 1
#include "fuzz_vq.h"
