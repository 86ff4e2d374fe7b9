/* SPDX-License-Identifier: MIT */
/*
 * vq_guest.h: the simulated guest memory the virtqueue unit tests share
 * (test_vq_split.c, test_vq_packed.c): two 1 MiB regions r0 and r1 with
 * guard pages around them, a 3 GiB PROT_NONE region (addresses that must
 * never be touched), a page at 0 and one at the top of the address space;
 * NBUF buffers with guard bytes after each; a snapshot of the whole
 * mapping, eventfds, a dirty log, and the checks every test makes.
 *
 * Use: include this, declare the test's state as
 *     static struct { VQ_GUEST_FIELDS; ...ring-specific fields... } g;
 * then include vq_guest_fns.h (the functions, on g).  The includer
 * defines its ring layout (QSIZE, ring gpas below ITBL_GPA) and its own
 * guest_up(), which calls vq_guest_mem_up() first.
 */
#ifndef VHOSTD_TEST_VQ_GUEST_H
#define VHOSTD_TEST_VQ_GUEST_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "datapath/vq.h"

#define R_SIZE 0x100000ull
#define R0_GPA 0x100000ull
#define R1_GPA (R0_GPA + R_SIZE)
#define R1_END (R1_GPA + R_SIZE)
#define BIG_GPA 0x100000000ull
#define BIG_SIZE 0xc0000000ull
#define ITBL_GPA (R0_GPA + 0x4000)   /* indirect tables, 4 KiB apart */
#define BUF_GPA (R0_GPA + 0x20000)
#define BUF_SIZE 2048u
#define BUF_STRIDE (BUF_SIZE + 64u)
#define NBUF 256u
#define TOP_GPA (0ull - 0x1000)      /* last page of the address space */
#define HOLE_GPA 0x50000ull          /* below r0: not guest memory */
#define GUARD 4096u
#define GUARD_BYTE 0xa5
#define BUF_GUARD_BYTE 0xee
#define LOG_BYTES 128u               /* 1024 pages: gpa 0 .. 4 MiB */
#define HOST_LEN (3 * GUARD + 2 * R_SIZE)

#define VQ_GUEST_FIELDS                                                     \
	uint8_t *host, *r0, *r1, *big, *edge, *snap;                        \
	struct gmem *mem;                                                   \
	int call_fd, err_fd;                                                \
	uint8_t logbits[LOG_BYTES];                                         \
	struct dirty_log log;                                               \
	struct vq vq;                                                       \
	struct vq_chain chains[VQ_BURST_MAX]

#endif
