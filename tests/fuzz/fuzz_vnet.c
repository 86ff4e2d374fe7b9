/* SPDX-License-Identifier: MIT */
/*
 * fuzz_vnet.c: virtio-net forwarding (datapath/vnet.c) with the offload
 * checks, software checksum and segmentation (datapath/offload.c, csum.h)
 * between two split rings the harness builds as a well-behaved guest
 * would: the packets, their virtio-net headers, how they are cut into
 * descriptors, the receive buffers and both sides' negotiated offloads
 * come from the input.
 *
 * Input: 6 bytes of set-up (sender's and receiver's offloads, header
 * lengths, mergeable buffers, --reflect, no receiver, receive buffers that
 * alias the sender's, two-descriptor receive chains, EVENT_IDX; the number
 * and size of receive buffers), then packets: a 16-bit length, a byte
 * saying how it is cut into descriptors, and the bytes (virtio-net header
 * first).  Guest memory is one heap block of exactly its size (ASan sees
 * anything outside it); every receive buffer is followed by guard bytes
 * that must still be there afterwards, every used entry must lie
 * within the buffer it names, and (no offloads, no aliasing, all
 * delivered) each buffer must hold exactly the frame that was sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datapath/vnet.h"
#include "fuzz.h"

#define QSIZE 64u
#define GPA 0x100000ull
#define RINGS 4096u          /* both rings: see layout() */
#define MAX_PKTS 16u
#define MAX_RX 64u
#define GUARD 16u
#define GUARD_BYTE 0xee

static struct {
	uint8_t *m;
	size_t len;
	struct gmem *mem;
	struct vq src, dst;
	struct vnet_path path;
	uint32_t rx_off, rx_sz, nrx;
	bool rx2;
	uint32_t pk_at[MAX_PKTS], pk_len[MAX_PKTS];   /* posted packets */
	bool all_plain;          /* no packet asks for an offload */
} g;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	FILE *null = fopen("/dev/null", "w");   /* rate-limited drop logs */
	if (null)
		stderr = null;
	return 0;
}

/* Ring k (0: sender's TX, 1: receiver's RX) at 2 KiB k: desc, avail at
 * +1 KiB, used at +1.25 KiB. */
static struct vring_desc *desc(unsigned k)
{
	return (struct vring_desc *)(g.m + 2048 * k);
}

static struct vring_avail *avail(unsigned k)
{
	return (struct vring_avail *)(g.m + 2048 * k + 1024);
}

static struct vring_used *used(unsigned k)
{
	return (struct vring_used *)(g.m + 2048 * k + 1280);
}

static void ring_up(struct vq *vq, unsigned k, bool tx, bool mrg, bool ev)
{
	struct vq_cfg c = {
		.index = k, .dev_name = "fuzz", .desc = desc(k),
		.avail = avail(k), .used = used(k), .size = QSIZE,
		.event_idx = ev, .mrg_rxbuf = mrg, .tx = tx, .mem = g.mem,
		.used_gpa = GPA + 2048 * k + 1280, .call_fd = -1,
		.err_fd = -1,
	};
	vq_init(vq, &c);
}

/* Post the packets of the input on ring 0, data from RINGS on. */
static unsigned post_tx(struct fz *f, const uint8_t *pk, size_t pklen)
{
	struct fz p = {pk, pklen};
	uint32_t at = RINGS;
	unsigned d = 0, n = 0;

	(void)f;
	while (p.left >= 3 && n < MAX_PKTS) {
		uint32_t len = fz_u16(&p), cut = fz_u8(&p);
		len = (uint32_t)MIN(len, p.left);
		if (len == 0)
			break;
		fz_bytes(&p, g.m + at, len);
		g.pk_at[n] = at;
		g.pk_len[n] = len;
		if (len < 2 || g.m[at] || g.m[at + 1])   /* flags, gso_type */
			g.all_plain = false;
		unsigned nseg = 1 + (cut & 3);
		uint32_t first = (cut >> 2) ? (cut >> 2) : 1, off = 0;
		avail(0)->ring[n++] = (uint16_t)d;
		for (unsigned s = 0; s < nseg && off < len; s++) {
			uint32_t l = s + 1 == nseg ? len - off :
				     s == 0 ? MIN(first, len - off) :
				     (len - off + 1) / 2;
			desc(0)[d] = (struct vring_desc){GPA + at + off, l, 0,
							 (uint16_t)(d + 1)};
			off += l;
			if (off < len && s + 1 < nseg)
				desc(0)[d].flags = VRING_DESC_F_NEXT;
			d++;
		}
		at += len;
	}
	avail(0)->idx = (uint16_t)n;
	return n;
}

/* nrx receive buffers of rx_sz bytes (two descriptors each with rx2),
 * each followed by GUARD bytes; with alias, over the sender's data. */
static void post_rx(void)
{
	for (uint32_t i = 0; i < g.nrx; i++) {
		uint64_t gpa = GPA + g.rx_off + i * (g.rx_sz + GUARD);
		uint32_t half = g.rx2 ? g.rx_sz / 2 : g.rx_sz;
		desc(1)[i] = (struct vring_desc){gpa, half, VRING_DESC_F_WRITE,
						 (uint16_t)(QSIZE / 2 + i)};
		if (g.rx2 && half < g.rx_sz) {
			desc(1)[i].flags |= VRING_DESC_F_NEXT;
			desc(1)[QSIZE / 2 + i] = (struct vring_desc){
				gpa + half, g.rx_sz - half,
				VRING_DESC_F_WRITE, 0};
		}
		avail(1)->ring[i] = (uint16_t)i;
		memset(g.m + g.rx_off + i * (g.rx_sz + GUARD) + g.rx_sz,
		       GUARD_BYTE, GUARD);
	}
	avail(1)->idx = (uint16_t)g.nrx;
}

/* Nothing written past a receive buffer; used entries within theirs. */
static void check_rx(bool alias)
{
	uint16_t n = used(1)->idx;

	if (n > g.nrx)
		abort();
	for (uint16_t i = 0; i < n; i++) {
		const struct vring_used_elem *e = &used(1)->ring[i];
		if (e->id >= g.nrx || e->len > g.rx_sz)
			abort();
	}
	for (uint32_t i = 0; i < g.nrx && !alias; i++) {
		const uint8_t *gd = g.m + g.rx_off + i * (g.rx_sz + GUARD) +
				    g.rx_sz;
		for (unsigned k = 0; k < GUARD; k++)
			if (gd[k] != GUARD_BYTE)
				abort();
	}
}

/* Plain packets, all delivered, one buffer each: buffer e->id holds a
 * zero header (num_buffers 1) and then exactly the frame that was sent. */
static void check_plain_copies(unsigned npk)
{
	const struct vnet_path *p = &g.path;

	if (!g.all_plain || p->reflect || !p->dst || g.dst.mrg_rxbuf ||
	    used(1)->idx != npk)
		return;
	for (unsigned k = 0; k < npk; k++) {
		const struct vring_used_elem *e = &used(1)->ring[k];
		const uint8_t *rx = g.m + g.rx_off + e->id * (g.rx_sz + GUARD);
		const uint8_t *tx = g.m + g.pk_at[k] + p->src_hdr_len;
		uint32_t flen = g.pk_len[k] - p->src_hdr_len;
		static const uint8_t zero[10];
		uint16_t nb = 1;
		if (e->len != p->dst_hdr_len + flen ||
		    memcmp(rx, zero, sizeof(zero)) != 0 ||
		    (p->dst_hdr_len == 12 && memcmp(rx + 10, &nb, 2) != 0) ||
		    memcmp(rx + p->dst_hdr_len, tx, flen) != 0) {
			fprintf(stdout, "packet %u: delivered bytes differ "
				"from the frame sent\n", k);
			fflush(stdout);
			abort();
		}
	}
}

static struct ofl_caps caps(uint8_t b)
{
	return (struct ofl_caps){b & 1, (b >> 1) & 1, (b >> 2) & 1,
				 (b >> 3) & 1};
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	uint8_t snd = fz_u8(&f), rcv = fz_u8(&f), fl = fz_u8(&f);
	uint8_t nrx = fz_u8(&f);
	uint16_t rxsz = fz_u16(&f);
	bool alias = (fl >> 5) & 1;

	g.nrx = nrx % (QSIZE / 2) + 1;
	g.rx_sz = 14u + rxsz % 4096;
	g.rx2 = (fl >> 6) & 1;
	uint32_t tx_bytes = (uint32_t)f.left;
	g.rx_off = alias ? RINGS : (RINGS + tx_bytes + 15) & ~15u;
	g.len = MAX((size_t)RINGS + tx_bytes,
		    (size_t)g.rx_off + g.nrx * (g.rx_sz + GUARD));
	g.m = calloc(1, g.len);
	g.mem = malloc(sizeof(*g.mem) + sizeof(g.mem->r[0]));
	if (!g.m || !g.mem)
		abort();
	g.mem->n = 1;
	g.mem->r[0] = (struct gmem_region){GPA, g.len, 0x7000000000, g.m};

	g.all_plain = !alias;
	post_rx();   /* first: with alias, the packets overwrite the guards */
	unsigned npk = post_tx(&f, f.p, f.left);
	bool ev = fl >> 7;
	ring_up(&g.src, 0, true, false, ev);
	ring_up(&g.dst, 1, false, (fl >> 1) & 1, ev);
	memset(&g.path, 0, sizeof(g.path));
	g.path.src = &g.src;
	g.path.dst = (fl >> 4) & 1 ? NULL : &g.dst;
	g.path.dst_none = VNET_DROP_DST_DOWN;
	g.path.src_hdr_len = fl & 1 ? 12 : 10;
	g.path.dst_hdr_len = (fl & 6) ? 12 : 10;
	g.path.snd = caps(snd);
	g.path.rcv = caps(rcv);
	g.path.reflect = (fl >> 3) & 1;
	/* The receiver's largest frame: a 1500-byte MTU (rcv bit 4; plain
	 * frames past it are dropped, so the byte-for-byte check is off) or
	 * no MTU (VNET_FRAME_MAX). */
	g.path.frame_max = (rcv >> 4) & 1 ? 1500u + 18u : VNET_FRAME_MAX;
	if ((rcv >> 4) & 1)
		g.all_plain = false;

	unsigned taken = 0;
	for (int i = 0; i < 4; i++)
		taken += vnet_path_poll(&g.path);
	if (taken > npk || (!g.src.broken && taken != npk) ||
	    used(0)->idx != (g.src.broken ? used(0)->idx : npk))
		abort();
	check_rx(alias);
	check_plain_copies(npk);
	free(g.m);
	free(g.mem);
	return 0;
}
