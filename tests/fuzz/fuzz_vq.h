/* SPDX-License-Identifier: MIT */
/*
 * fuzz_vq.h: the virtqueue consumer (datapath/vq*.c) over a fuzzed guest
 * memory image; fuzz_vq_split.c and fuzz_vq_packed.c include it with
 * FUZZ_VQ_PACKED 0 or 1.
 *
 * Guest memory, each region its own heap block of exactly its size, so
 * that ASan sees any byte read or written outside it:
 *   A  gpa 0x10000, 16 KiB: desc ring at +0, avail (packed: driver event)
 *      at +0x800, used (packed: device event) at +0xa00, buffers after
 *   B  gpa 0x14000, 4 KiB: adjacent to A in gpa, not in host memory
 *   C  the last 4 KiB of the address space (ranges that would wrap)
 * Input: an 8-byte header (ring size, negotiated features, queue
 * direction, SET_VRING_BASE values), a count and then 4-byte operations
 * (dequeue, reserve, used, unreserve, flush, prefetch, a guest write
 * between two calls, re-initialisation), then the memory image: A from
 * its first byte, then B.  The harness keeps every contract of vq.h (used
 * in the order taken, unreserve only of the last reservation) and checks
 * what the datapath relies on: every segment inside guest memory at the
 * host address of its gpa, chain length the sum of its segments, counts
 * in range, a broken queue hands out nothing.
 */
#ifndef VHOSTD_FUZZ_VQ_H
#define VHOSTD_FUZZ_VQ_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "datapath/vq.h"
#include "fuzz.h"

#define A_GPA 0x10000ull
#define A_SIZE 0x4000u
#define B_GPA (A_GPA + A_SIZE)
#define B_SIZE 0x1000u
#define C_GPA (0ull - 0x1000)
#define C_SIZE 0x1000u
#define DESC_OFF 0x0u
#define AVAIL_OFF 0x800u
#define USED_OFF 0xa00u
#define MAX_QSIZE 128u
#define MAX_OPS 64u
#define MAX_OUT 256u     /* chains taken and not yet used */

static int call_fd = -1, err_fd = -1;
static uint8_t log_bits[16];   /* pages 0..127: A and B, not C */

static struct {
	uint8_t *a, *b, *c;
	struct gmem *mem;
	struct dirty_log log;
	struct vq vq;
	struct vq_cfg cfg;
	struct vq_chain out[MAX_OUT];
	unsigned nout, first;      /* out[first..nout): taken, not used */
	unsigned last_rsv;         /* chains of the last reserve() */
	unsigned last_rsv_at;      /* where they start in out[] */
	volatile uint8_t sink;
} g;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	err_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	/* Broken queues log (rate-limited): keep the fuzzer's output clean;
	 * sanitizer reports go to fd 2 all the same. */
	FILE *null = fopen("/dev/null", "w");
	if (null)
		stderr = null;
	return 0;
}

static void drain(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0)
		return;   /* nothing signalled */
}

static const struct gmem_region *region_of(const uint8_t *p, uint32_t len)
{
	for (uint32_t i = 0; i < g.mem->n; i++) {
		const struct gmem_region *r = &g.mem->r[i];
		if (p >= r->hva && p < r->hva + r->size &&
		    len <= r->size - (uint64_t)(p - r->hva))
			return r;
	}
	return NULL;
}

/* What every chain handed out must be; its bytes are touched so that ASan
 * checks them too. */
static void check_chain(const struct vq_chain *c, bool writable)
{
	uint64_t sum = 0;

	if (c->nseg == 0 || c->nseg > VQ_MAX_SEGS)
		abort();
	for (uint16_t s = 0; s < c->nseg; s++) {
		const struct vq_seg *seg = &c->seg[s];
		const struct gmem_region *r = region_of(seg->p, seg->len);
		if (!r || seg->gpa != r->gpa + (uint64_t)(seg->p - r->hva))
			abort();
		sum += seg->len;
		if (writable)
			memset(seg->p, 0x5a, seg->len);
		else
			for (uint32_t i = 0; i < seg->len; i += 64)
				g.sink ^= seg->p[i];
		if (seg->len)
			g.sink ^= seg->p[seg->len - 1];
	}
	if (sum != c->len)
		abort();
#if FUZZ_VQ_PACKED
	if (c->ndesc == 0 || c->ndesc > g.vq.size)
		abort();
#else
	if (c->head >= g.vq.size)
		abort();
#endif
}

static void mem_up(struct fz *f)
{
	g.a = calloc(1, A_SIZE);
	g.b = calloc(1, B_SIZE);
	g.c = calloc(1, C_SIZE);
	g.mem = malloc(sizeof(*g.mem) + 3 * sizeof(g.mem->r[0]));
	if (!g.a || !g.b || !g.c || !g.mem)
		abort();
	g.mem->n = 3;
	g.mem->r[0] = (struct gmem_region){A_GPA, A_SIZE, 0x7000000000, g.a};
	g.mem->r[1] = (struct gmem_region){B_GPA, B_SIZE, 0x7100000000, g.b};
	g.mem->r[2] = (struct gmem_region){C_GPA, C_SIZE, 0x7200000000, g.c};
	fz_bytes(f, g.a, A_SIZE);
	fz_bytes(f, g.b, B_SIZE);
	memset(log_bits, 0, sizeof(log_bits));
	g.log = (struct dirty_log){log_bits, sizeof(log_bits)};
}

static void mem_down(void)
{
	free(g.a);
	free(g.b);
	free(g.c);
	free(g.mem);
}

static void cfg_up(struct fz *f)
{
	uint8_t size = fz_u8(f), fl = fz_u8(f), fl2 = fz_u8(f);
	uint16_t last_avail = fz_u16(f), used_idx = fz_u16(f);
	uint16_t qsize;

#if FUZZ_VQ_PACKED
	qsize = (uint16_t)(size % MAX_QSIZE + 1);   /* 1..32768: any */
	last_avail %= qsize;   /* the control plane refuses the rest */
	used_idx %= qsize;
#else
	qsize = (uint16_t)(1u << (size % 8));   /* powers of two to 128 */
	/* Split: the device reads used->idx; used_idx is only the ring's. */
	memcpy(g.a + USED_OFF + 2, &used_idx, 2);
#endif
	g.cfg = (struct vq_cfg){
		.index = 1, .dev_name = "fuzz", .packed = FUZZ_VQ_PACKED,
		.desc = (void *)(g.a + DESC_OFF),
		.avail = (void *)(g.a + AVAIL_OFF),
		.used = (void *)(g.a + USED_OFF),
		.size = qsize, .last_avail = last_avail,
		.avail_wrap = fl2 & 1, .used_wrap = (fl2 >> 1) & 1,
		.used_idx = used_idx, .desc_gpa = A_GPA + DESC_OFF,
		.event_idx = fl & 1, .indirect = (fl >> 1) & 1,
		.mrg_rxbuf = (fl >> 2) & 1, .in_order = (fl >> 3) & 1,
		.tx = (fl >> 4) & 1, .mem = g.mem,
		.log = (fl >> 5) & 1 ? &g.log : NULL,
		.used_gpa = A_GPA + USED_OFF, .log_used = (fl >> 6) & 1,
		.call_fd = (fl >> 7) ? call_fd : -1,
		.err_fd = (fl2 >> 2) & 1 ? err_fd : -1,
	};
	vq_init(&g.vq, &g.cfg);
	g.nout = g.first = g.last_rsv = 0;
}

static uint16_t vq_deq(uint16_t n)
{
	return FUZZ_VQ_PACKED ? vq_packed_dequeue(&g.vq, &g.out[g.nout], n) :
				vq_split_dequeue(&g.vq, &g.out[g.nout], n);
}

static int vq_rsv(uint32_t len, uint16_t max)
{
	return FUZZ_VQ_PACKED ?
	       vq_packed_reserve(&g.vq, len, &g.out[g.nout], max) :
	       vq_split_reserve(&g.vq, len, &g.out[g.nout], max);
}

static void op_dequeue(uint8_t a)
{
	uint16_t n = (uint16_t)(a % VQ_BURST_MAX + 1);
	bool broken = g.vq.broken;

	if (!g.vq.tx || g.nout + n > MAX_OUT)
		return;
	uint16_t got = vq_deq(n);
	if (got > n || (broken && got))
		abort();
	for (uint16_t i = 0; i < got; i++)
		check_chain(&g.out[g.nout + i], false);
	g.nout += got;
	g.last_rsv = 0;
}

static void op_reserve(uint8_t a, uint16_t b)
{
	uint16_t max = (uint16_t)(a % 32 + 1);
	uint32_t len = (uint32_t)b << (a >> 5);   /* up to 8 MiB */
	bool broken = g.vq.broken;

	if (g.vq.tx || g.nout + max > MAX_OUT)
		return;
	int got = vq_rsv(len, max);
	if (got < -1 || got > max || (got == -1 && !g.vq.broken) ||
	    (broken && got != -1) || (!g.vq.mrg_rxbuf && got > 1))
		abort();
	if (got <= 0)
		return;
	uint64_t cover = 0;
	for (int i = 0; i < got; i++) {
		check_chain(&g.out[g.nout + i], true);
		cover += g.out[g.nout + i].len;
	}
	if (cover < len)
		abort();
	g.last_rsv = (unsigned)got;
	g.last_rsv_at = g.nout;
	g.nout += (unsigned)got;
}

/* Return the oldest n taken chains (RX: with part of their length). */
static void op_used(uint8_t a, uint16_t b)
{
	for (unsigned n = a % 8 + 1; n && g.first < g.nout; n--) {
		const struct vq_chain *c = &g.out[g.first++];
		uint32_t len = g.vq.tx ? 0 : MIN(c->len, b);
		if (FUZZ_VQ_PACKED)
			vq_packed_used(&g.vq, c, len);
		else
			vq_split_used(&g.vq, c->head, len);
	}
	if (g.first > g.last_rsv_at)
		g.last_rsv = 0;   /* part of it is used: not given back */
}

static void op_unreserve(void)
{
	if (!g.last_rsv)
		return;
	if (FUZZ_VQ_PACKED)
		vq_packed_unreserve(&g.vq, &g.out[g.last_rsv_at],
				    (uint16_t)g.last_rsv);
	else
		vq_split_unreserve(&g.vq, (uint16_t)g.last_rsv);
	g.nout = g.last_rsv_at;
	g.last_rsv = 0;
}

static void op_flush(void)
{
	if (FUZZ_VQ_PACKED)
		vq_packed_flush(&g.vq);
	else
		vq_split_flush(&g.vq);
	if (g.first == g.nout)
		g.first = g.nout = 0;   /* everything returned: reuse out[] */
	drain(call_fd);
	drain(err_fd);
}

static void op_prefetch(uint8_t a)
{
	if (FUZZ_VQ_PACKED)
		vq_packed_prefetch(&g.vq, (uint16_t)(a % VQ_BURST_MAX + 1));
	else
		vq_split_prefetch(&g.vq, (uint16_t)(a % VQ_BURST_MAX + 1));
}

/* The guest changes a byte under vhostd's feet (flags, idx, a next). */
static void op_guest_write(uint8_t a, uint16_t b)
{
	uint32_t off = ((uint32_t)a << 8 | (b & 0xff)) % (A_SIZE + B_SIZE);
	uint8_t v = (uint8_t)(b >> 8);

	if (off < A_SIZE)
		g.a[off] = v;
	else
		g.b[off - A_SIZE] = v;
}

static void run_op(const uint8_t op[4])
{
	uint16_t b = (uint16_t)(op[2] | op[3] << 8);

	switch (op[0] % 8) {
	case 0: op_dequeue(op[1]); break;
	case 1: op_reserve(op[1], b); break;
	case 2: op_used(op[1], b); break;
	case 3: op_unreserve(); break;
	case 4: op_flush(); break;
	case 5: op_prefetch(op[1]); break;
	case 6: op_guest_write(op[1], b); break;
	default:   /* the control plane pauses and rebuilds the queue */
		vq_init(&g.vq, &g.cfg);
		g.nout = g.first = g.last_rsv = 0;
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	uint8_t hdr[7], ops[MAX_OPS][4];

	fz_bytes(&f, hdr, sizeof(hdr));
	unsigned nops = fz_u8(&f) % (MAX_OPS + 1);
	fz_bytes(&f, ops, nops * 4u);
	mem_up(&f);
	struct fz h = {hdr, sizeof(hdr)};
	cfg_up(&h);
	for (unsigned i = 0; i < nops; i++)
		run_op(ops[i]);
	op_flush();
	mem_down();
	return 0;
}

#endif
