/* SPDX-License-Identifier: MIT */
/*
 * test_offload.c: checksum and TSO offloads through a real vhostd.
 *
 * One daemon: ports tx and rx linked (tx's guest sends, rx's guest
 * receives), port r reflecting, and two guests linked to loop ports.  Each test connects guests with the
 * feature sets it needs, sends frames whose virtio-net header asks for an
 * offload, and checks what arrives:
 *   - receiver negotiated the offload: the header and the bytes pass as
 *     they are;
 *   - receiver did not: vhostd completed the checksum, or cut the TSO frame
 *     into gso_size segments with correct lengths, IPv4 ids, sequence
 *     numbers, flags and checksums (verified here with an independent
 *     checksum), payload intact;
 *   - invalid offload fields: the frame is dropped and counted under the
 *     right reason (vhostctl stats), and the next frame still arrives;
 *   - a burst of 64 KiB frames with gso_size 1 is refused, and a control
 *     request about another device meanwhile answers promptly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "guest_util.h"

#define MSS 500u
#define PAYLOAD 1800u          /* 4 segments: 500 500 500 300 */

/* Ports tx -> rx linked, r reflecting: td.sock[0], [1], [2]; lp and lq
 * (td.sock[3], [4]) linked to loop ports l0 (no offloads) and l1
 * (offloads). */
static struct tdaemon td;

static const uint64_t BASE = BIT_ULL(VIRTIO_F_VERSION_1) |
	BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES) |
	BIT_ULL(VIRTIO_NET_F_MRG_RXBUF);
static const uint64_t SEND = BIT_ULL(VIRTIO_NET_F_CSUM) |
	BIT_ULL(VIRTIO_NET_F_HOST_TSO4) | BIT_ULL(VIRTIO_NET_F_HOST_TSO6);
static const uint64_t TAKE = BIT_ULL(VIRTIO_NET_F_GUEST_CSUM) |
	BIT_ULL(VIRTIO_NET_F_GUEST_TSO4) | BIT_ULL(VIRTIO_NET_F_GUEST_TSO6);

/* The guests of the running test; closed by the teardown even when an
 * assertion ended the test early, so that the next one can connect. */
static struct guest a, b;

static int test_teardown(void **state)
{
	(void)state;
	guest_down(&a);
	guest_down(&b);
	return 0;
}

/* ---- frames ---------------------------------------------------------- */

static uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t be32(const uint8_t *p) { return be16(p) << 16 | be16(p + 2); }
static void wr16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Reference one's complement sum of big-endian words (independent of
 * datapath/csum.h on purpose). */
static uint32_t sum16(uint32_t s, const uint8_t *p, uint32_t len)
{
	for (uint32_t i = 0; i < len; i += 2)
		s += (uint32_t)p[i] << 8 | (i + 1 < len ? p[i + 1] : 0);
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

struct layout {
	bool v6, vlan;
	uint32_t l3, l4, hlen;
};

static const uint8_t mac_dst[6] = {0x52, 0x54, 0, 0, 0, 2};
static const uint8_t mac_src[6] = {0x52, 0x54, 0, 0, 0, 1};

/* Ethernet [VLAN] IPv4|IPv6 TCP (12 bytes of options) + payload pattern;
 * the TCP checksum field holds the pseudo-header sum (as a guest sends it
 * with NEEDS_CSUM).  Returns the frame length. */
static uint32_t build_tcp(uint8_t *f, struct layout *l, uint32_t payload,
			  uint8_t tcp_flags)
{
	uint32_t off = 12;

	memcpy(f, mac_dst, 6);
	memcpy(f + 6, mac_src, 6);
	if (l->vlan) {
		wr16(f + off, 0x8100);
		wr16(f + off + 2, 42);
		off += 4;
	}
	wr16(f + off, l->v6 ? 0x86dd : 0x0800);
	l->l3 = off + 2;
	uint8_t *ip = f + l->l3;
	uint32_t tcp_len = 32 + payload;
	if (l->v6) {
		memset(ip, 0, 40);
		ip[0] = 0x60;
		wr16(ip + 4, tcp_len);
		ip[6] = 6;
		ip[7] = 64;
		for (int i = 0; i < 16; i++) {
			ip[8 + i] = (uint8_t)(0x20 + i);
			ip[24 + i] = (uint8_t)(0x40 + i);
		}
		l->l4 = l->l3 + 40;
	} else {
		memset(ip, 0, 20);
		ip[0] = 0x45;
		wr16(ip + 2, 20 + tcp_len);
		wr16(ip + 4, 0x1234);
		wr16(ip + 6, 0x4000);
		ip[8] = 64;
		ip[9] = 6;
		memcpy(ip + 12, (uint8_t[]){10, 0, 0, 1, 10, 0, 0, 2}, 8);
		wr16(ip + 10, (uint16_t)~fold(sum16(0, ip, 20)));
		l->l4 = l->l3 + 20;
	}
	uint8_t *tcp = f + l->l4;
	memset(tcp, 0, 32);
	wr16(tcp, 40000);
	wr16(tcp + 2, 5001);
	wr16(tcp + 4, 0xfffffe00u >> 16);   /* seq 0xfffffe00: wraps */
	wr16(tcp + 6, 0xfe00);
	tcp[12] = 8 << 4;                   /* 32-byte header */
	tcp[13] = tcp_flags;
	wr16(tcp + 14, 0xffff);
	memcpy(tcp + 20, (uint8_t[]){1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2},
	       12);
	l->hlen = l->l4 + 32;
	for (uint32_t i = 0; i < payload; i++)
		f[l->hlen + i] = (uint8_t)(i * 7 + 3);
	/* Pseudo-header sum, not complemented (Linux's partial checksum). */
	uint32_t ps = l->v6 ? sum16(0, ip + 8, 32) : sum16(0, ip + 12, 8);
	wr16(tcp + 16, fold(ps + 6 + tcp_len));
	return l->hlen + payload;
}

/* Is the TCP checksum of frame f (layout l, len bytes) valid? */
static bool tcp_csum_ok(const uint8_t *f, const struct layout *l,
			uint32_t len)
{
	const uint8_t *ip = f + l->l3;
	uint32_t tcp_len = len - l->l4;
	uint32_t s = l->v6 ? sum16(0, ip + 8, 32) : sum16(0, ip + 12, 8);

	s += 6 + tcp_len;
	return fold(sum16(s, f + l->l4, tcp_len)) == 0xffff;
}

static struct virtio_net_hdr tso_hdr(const struct layout *l)
{
	return (struct virtio_net_hdr){
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.gso_type = l->v6 ? VIRTIO_NET_HDR_GSO_TCPV6 :
				    VIRTIO_NET_HDR_GSO_TCPV4,
		.hdr_len = (uint16_t)l->hlen, .gso_size = MSS,
		.csum_start = (uint16_t)l->l4, .csum_offset = 16};
}

/* Check the segments in rxf[] against the TSO frame f. */
static void check_segments(const uint8_t *f, const struct layout *l,
			   bool swapped)
{
	unsigned nseg = (PAYLOAD + MSS - 1) / MSS;

	assert_int_equal(nrx, nseg);
	for (unsigned k = 0; k < nseg; k++) {
		const uint8_t *s = rxf[k].data;
		uint32_t n = k + 1 < nseg ? MSS : PAYLOAD - k * MSS;
		assert_int_equal(rxf[k].hdr.flags, 0);
		assert_int_equal(rxf[k].hdr.gso_type, 0);
		assert_int_equal(rxf[k].len, l->hlen + n);
		assert_memory_equal(s, swapped ? mac_src : mac_dst, 6);
		assert_memory_equal(s + 6, swapped ? mac_dst : mac_src, 6);
		assert_memory_equal(s + 12, f + 12, l->l3 - 12);
		const uint8_t *ip = s + l->l3, *tcp = s + l->l4;
		if (l->v6) {
			assert_int_equal(be16(ip + 4), 32 + n);
		} else {
			assert_int_equal(be16(ip + 2), 52 + n);
			assert_int_equal(be16(ip + 4), 0x1234 + k);
			assert_int_equal(fold(sum16(0, ip, 20)), 0xffff);
		}
		assert_int_equal(be32(tcp + 4),
				 (uint32_t)(0xfffffe00u + k * MSS));
		uint8_t want = f[l->l4 + 13];
		if (k + 1 < nseg)
			want &= (uint8_t)~0x09;
		if (k > 0)
			want &= (uint8_t)~0x80;
		assert_int_equal(tcp[13], want);
		assert_true(tcp_csum_ok(s, l, rxf[k].len));
		assert_memory_equal(s + l->hlen, f + l->hlen + k * MSS, n);
	}
}

/* ---- tests ----------------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A guest with 64 TX slots for 64 KiB GSO frames and 32768 receive
 * buffers of 128 bytes (mergeable): room for 32768 small segments, so
 * that vhostd would keep cutting while the guest hands buffers back. */
static void guest_up_gso(struct guest *g, const char *sock, uint64_t features)
{
	struct vu_guestmem_opts mo = {.size = 64u << 20, .nregions = 1,
				      .backing = VU_GUESTMEM_MEMFD};
	struct vu_drv_opts o = {.pair = 0, .tx_frame_max = VU_DRV_TX_FRAME_MAX,
				.rx_buf_size = 128};

	assert_int_equal(vu_front_connect(&g->f, sock, IO_MS, IO_MS), 0);
	assert_int_equal(vu_front_negotiate(g->f, features,
					    VU_FRONT_PROTOCOL_DEFAULT), 0);
	assert_int_equal(vu_front_mem_init(g->f, &mo), 0);
	assert_int_equal(vu_front_set_mem_table(g->f), 0);
	assert_int_equal(vu_front_vring_setup(g->f, 0, 32768), 0);
	assert_int_equal(vu_front_vring_setup(g->f, 1, 64), 0);
	assert_int_equal(vu_drv_create(&g->d, g->f, &o), 0);
}

/* The hog guest hands every receive buffer straight back. */
struct rx_pump {
	struct vu_drv *d;
	_Atomic bool stop;
	uint64_t got;
};

static void *rx_pump(void *arg)
{
	struct rx_pump *r = arg;

	while (!atomic_load(&r->stop)) {
		unsigned n = vu_drv_rx_poll(r->d, 4096, NULL, NULL);
		r->got += n;
		if (n == 0)
			sched_yield();
	}
	return NULL;
}

/*
 * One burst of 64 frames of 64 KiB with gso_size 1 towards a guest that
 * cannot take TSO and returns its receive buffers at once (port r reflects
 * them to their sender): refused (gso_size below 88, Linux's smallest TCP
 * MSS) and counted, and meanwhile a control request about another device
 * (GET_VRING_BASE on tx's guest, which stops the datapath of that device
 * and waits for every worker) is answered promptly.  The bound is a
 * correctness bound (before: 1.8 s and more), not a benchmark.
 */
static void test_gso_size_1_burst_is_refused_and_control_answers(void **st)
{
	static uint8_t f[VU_DRV_TX_FRAME_MAX];
	struct layout l = {0};
	uint32_t len = build_tcp(f, &l, 65000 - 66, 0x18);
	struct virtio_net_hdr h = tso_hdr(&l);
	uint32_t lens[64];
	uint8_t *slot[64];

	(void)st;
	h.gso_size = 1;
	guest_up(&b, td.sock[0], BASE);                  /* the bystander */
	guest_up_gso(&a, td.sock[2], BASE | SEND);       /* r: reflects */
	uint64_t before = tdaemon_stat(&td, "r", 1, "drop_gso_size");
	struct rx_pump pump = {.d = a.d};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, rx_pump, &pump), 0);
	assert_int_equal(vu_drv_tx_reserve(a.d, slot, 64), 64);
	for (unsigned i = 0; i < 64; i++) {
		memcpy(slot[i], f, len);
		memcpy(vu_drv_tx_hdr(a.d, slot[i]), &h, sizeof(h));
		lens[i] = len;
	}
	assert_int_equal(vu_drv_tx_commit(a.d, lens, 64), 64);
	msleep(5);                           /* the worker is at it */
	uint32_t base;
	int64_t t0 = now_ms();
	assert_int_equal(vu_front_vring_stop(b.f, 0, &base), 0);
	int64_t took = now_ms() - t0;
	for (int ms = 0; ms < IO_MS && vu_drv_tx_inflight(a.d); ms++)
		if (!vu_drv_tx_reclaim(a.d))
			msleep(1);
	atomic_store(&pump.stop, true);
	pthread_join(t, NULL);
	assert_int_equal(tdaemon_stat(&td, "r", 1, "drop_gso_size"),
			 before + 64);
	assert_int_equal(pump.got, 0);      /* not one segment was cut */
	assert_int_equal(vu_drv_tx_inflight(a.d), 0);
	if (took >= 1000)
		fail_msg("GET_VRING_BASE of a bystander took %lld ms",
			 (long long)took);
	guest_down(&a);
	guest_down(&b);
}

static void tso_segmented(bool v6, bool vlan)
{
	struct layout l = {.v6 = v6, .vlan = vlan};
	static uint8_t f[2048];
	uint32_t len = build_tcp(f, &l, PAYLOAD, 0x80 | 0x18 | 0x01);
	struct virtio_net_hdr h = tso_hdr(&l);

	guest_up(&a, td.sock[0], BASE | SEND | TAKE);
	guest_up(&b, td.sock[1], BASE);
	send_frame(&a, f, len, &h);
	recv_frames(&b, 4);
	check_segments(f, &l, false);
	guest_down(&a);
	guest_down(&b);
}

static void test_tso4_segmented(void **state)
{
	(void)state;
	tso_segmented(false, false);
}

static void test_tso6_vlan_segmented(void **state)
{
	(void)state;
	tso_segmented(true, true);
}

/* Sender and receiver both negotiated TSO: one frame, header as sent. */
static void test_tso_passthrough(void **state)
{
	struct layout l = {0};
	static uint8_t f[2048];
	uint32_t len = build_tcp(f, &l, PAYLOAD, 0x18);
	struct virtio_net_hdr h = tso_hdr(&l);

	(void)state;
	guest_up(&a, td.sock[0], BASE | SEND);
	guest_up(&b, td.sock[1], BASE | TAKE);
	send_frame(&a, f, len, &h);
	assert_int_equal(recv_frames(&b, 1), 1);
	assert_int_equal(rxf[0].len, len);
	assert_memory_equal(rxf[0].data, f, len);
	assert_int_equal(rxf[0].hdr.flags, h.flags);
	assert_int_equal(rxf[0].hdr.gso_type, h.gso_type);
	assert_int_equal(rxf[0].hdr.gso_size, h.gso_size);
	assert_int_equal(rxf[0].hdr.csum_start, h.csum_start);
	assert_int_equal(rxf[0].hdr.csum_offset, h.csum_offset);
	guest_down(&a);
	guest_down(&b);
}

/* A partial checksum: completed for a receiver without GUEST_CSUM, passed
 * on to one with it. */
static void test_csum(void **state)
{
	static uint8_t f[2048];
	struct layout l = {0};
	uint32_t len = build_tcp(f, &l, 301, 0x18);   /* odd length */
	struct virtio_net_hdr h = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.csum_start = (uint16_t)l.l4, .csum_offset = 16};

	(void)state;
	for (int take = 0; take < 2; take++) {
			guest_up(&a, td.sock[0], BASE | BIT_ULL(VIRTIO_NET_F_CSUM));
		guest_up(&b, td.sock[1], BASE | (take ? TAKE : 0));
		send_frame(&a, f, len, &h);
		assert_int_equal(recv_frames(&b, 1), 1);
		assert_int_equal(rxf[0].len, len);
		if (take) {
			assert_int_equal(rxf[0].hdr.flags, h.flags);
			assert_memory_equal(rxf[0].data, f, len);
		} else {
			assert_int_equal(rxf[0].hdr.flags, 0);
			assert_true(tcp_csum_ok(rxf[0].data, &l, len));
			assert_memory_equal(rxf[0].data, f, l.l4 + 16);
			assert_memory_equal(rxf[0].data + l.l4 + 18,
					    f + l.l4 + 18, len - l.l4 - 18);
		}
		guest_down(&a);
		guest_down(&b);
	}
}

/* --reflect: segments come back to the sender with the MACs swapped. */
static void test_tso_reflected(void **state)
{
	struct layout l = {0};
	static uint8_t f[2048];
	uint32_t len = build_tcp(f, &l, PAYLOAD, 0x10);
	struct virtio_net_hdr h = tso_hdr(&l);

	(void)state;
	guest_up(&a, td.sock[2], BASE | SEND);
	send_frame(&a, f, len, &h);
	recv_frames(&a, 4);
	check_segments(f, &l, true);
	guest_down(&a);
}

/*
 * Through a NIC port (pmd/: the loop test port, a wire looped back): a
 * port without offloads gets the TSO frame segmented in software on its
 * way in (and the segments come back unchanged); a port with offloads
 * (a virtual wire) carries the GSO frame as it is, which reaches a guest
 * with GUEST_TSO in one piece and one without it segmented on the way out.
 */
static void test_port_tso(void **state)
{
	struct layout l = {0};
	static uint8_t f[2048];
	uint32_t len = build_tcp(f, &l, PAYLOAD, 0x80 | 0x18 | 0x01);
	struct virtio_net_hdr h = tso_hdr(&l);

	(void)state;
	guest_up(&a, td.sock[3], BASE | SEND | TAKE);   /* lp: loop, plain */
	send_frame(&a, f, len, &h);
	recv_frames(&a, 4);
	check_segments(f, &l, false);
	guest_down(&a);

	guest_up(&a, td.sock[4], BASE | SEND | TAKE);   /* lq: loop, offloads */
	send_frame(&a, f, len, &h);
	assert_int_equal(recv_frames(&a, 1), 1);
	assert_int_equal(rxf[0].len, len);
	assert_memory_equal(rxf[0].data, f, len);
	assert_int_equal(rxf[0].hdr.gso_type, h.gso_type);
	assert_int_equal(rxf[0].hdr.gso_size, h.gso_size);
	guest_down(&a);

	guest_up(&a, td.sock[4], BASE | SEND);
	send_frame(&a, f, len, &h);
	recv_frames(&a, 4);
	check_segments(f, &l, false);
	guest_down(&a);
}

/* Invalid offload fields: dropped with a reason, the link keeps working. */
static void test_bad_offloads(void **state)
{
	static uint8_t f[2048], udp[2048], cut[2048], frag[2048];
	struct layout l = {0}, lu = {0}, lc = {0}, lf = {0};
	uint32_t len = build_tcp(f, &l, 400, 0x18);
	uint32_t ulen = build_tcp(udp, &lu, 400, 0x18);
	uint32_t clen = build_tcp(cut, &lc, 8, 0x18);
	uint32_t flen = build_tcp(frag, &lf, 400, 0x18);
	const struct {
		struct virtio_net_hdr h;
		const uint8_t *frame;
		uint32_t len;
		const char *reason;
	} bad[] = {
		/* checksum position beyond the frame */
		{{.flags = 1, .csum_start = 100, .csum_offset = 0xff00}, f,
		 len, "drop_bad_offload"},
		/* UFO: not offered */
		{{.flags = 1, .gso_type = VIRTIO_NET_HDR_GSO_UDP,
		  .gso_size = 100, .csum_start = 34, .csum_offset = 6}, f,
		 len, "drop_bad_offload"},
		/* ECN: not offered */
		{{.flags = 1, .gso_type = 0x81, .gso_size = 100,
		  .csum_start = 34, .csum_offset = 16}, f, len,
		 "drop_bad_offload"},
		/* gso_size 0 */
		{{.flags = 1, .gso_type = 1, .csum_start = 34,
		  .csum_offset = 16}, f, len, "drop_bad_offload"},
		/* TSO of a frame that is not TCP */
		{{.flags = 1, .gso_type = 1, .gso_size = 100,
		  .csum_start = 34, .csum_offset = 16}, udp, ulen,
		 "drop_offload_unsupp"},
		/* TSO whose TCP header claims more bytes than the frame has */
		{{.flags = 1, .gso_type = 1, .gso_size = 100, .csum_start = 34,
		  .csum_offset = 16}, cut, clen, "drop_offload_unsupp"},
		/* TSO of an IPv4 fragment */
		{{.flags = 1, .gso_type = 1, .gso_size = 100,
		  .csum_start = 34, .csum_offset = 16}, frag, flen,
		 "drop_offload_unsupp"},
	};
	struct virtio_net_hdr plain = {0};

	(void)state;
	udp[lu.l3 + 9] = 17;      /* IPv4 protocol UDP */
	cut[lc.l4 + 12] = 15 << 4; /* 60-byte TCP header, 40 in the frame */
	frag[lf.l3 + 6] = 0x20;   /* more fragments */
	guest_up(&a, td.sock[0], BASE | SEND);
	guest_up(&b, td.sock[1], BASE);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t before = tdaemon_stat(&td, "tx", 1, bad[i].reason);
		send_frame(&a, bad[i].frame, bad[i].len, &bad[i].h);
		send_frame(&a, f, len, &plain);
		assert_int_equal(recv_frames(&b, 1), 1);  /* only the plain */
		assert_int_equal(rxf[0].len, len);
		assert_int_equal(tdaemon_stat(&td, "tx", 1, bad[i].reason), before + 1);
	}
	guest_down(&a);
	guest_down(&b);
	/* A sender that did not negotiate CSUM may not ask for it. */
	guest_up(&a, td.sock[0], BASE);
	guest_up(&b, td.sock[1], BASE | TAKE);
	uint64_t before = tdaemon_stat(&td, "tx", 1, "drop_bad_offload");
	struct virtio_net_hdr h = {.flags = 1, .csum_start = (uint16_t)l.l4,
				   .csum_offset = 16};
	send_frame(&a, f, len, &h);
	send_frame(&a, f, len, &plain);
	assert_int_equal(recv_frames(&b, 1), 1);
	assert_int_equal(tdaemon_stat(&td, "tx", 1, "drop_bad_offload"), before + 1);
	guest_down(&a);
	guest_down(&b);
}

static int group_setup(void **state)
{
	(void)state;
	return tdaemon_start(&td, (const char *const[]){"tx", "rx", "r", "lp",
							"lq", NULL},
			     (char *const[]){"--link", "tx=rx", "--reflect", "r",
					     "--port", "l0=loop:", "--port",
					     "l1=loop:offloads", "--link",
					     "lp=l0", "--link", "lq=l1", NULL});
}

static int group_teardown(void **state)
{
	(void)state;
	return tdaemon_stop(&td);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_tso4_segmented, test_teardown),
		cmocka_unit_test_teardown(test_tso6_vlan_segmented, test_teardown),
		cmocka_unit_test_teardown(test_tso_passthrough, test_teardown),
		cmocka_unit_test_teardown(test_csum, test_teardown),
		cmocka_unit_test_teardown(test_tso_reflected, test_teardown),
		cmocka_unit_test_teardown(test_port_tso, test_teardown),
		cmocka_unit_test_teardown(test_bad_offloads, test_teardown),
		cmocka_unit_test_teardown(
		    test_gso_size_1_burst_is_refused_and_control_answers,
		    test_teardown),
	};

	if (tdaemon_args(&td, argc, argv) < 0)
		return 2;
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
