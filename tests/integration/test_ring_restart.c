/* SPDX-License-Identifier: MIT */
/*
 * test_ring_restart.c: a ring stopped mid-stream (GET_VRING_BASE) and
 * started again (SET_VRING_BASE with what GET_VRING_BASE returned) carries
 * on exactly where it stood, on packed rings and, as the twin, on split
 * rings.
 *
 * One guest on a --reflect port streams NFRAMES numbered frames of every
 * length through vhostd and back, at most a window (what its RX ring
 * holds) in flight, so no drop is legitimate.  Every 750 to 2250 frames
 * (a fixed pseudo-random schedule), right after a burst posted without
 * waiting for it:
 *
 *   1. GET_VRING_BASE of the TX ring (ring 1); every used buffer reaped,
 *      the base must be where the driver's used position is: vhostd keeps
 *      nothing in flight, so for a packed ring avail position/wrap and
 *      used position/wrap both equal the driver's used position and wrap
 *      counter; for a split ring the avail index equals the buffers used.
 *   2. More frames posted into the stopped TX ring: 10 ms later none of
 *      them was taken and nothing more arrived.
 *   3. GET_VRING_BASE of the RX ring (ring 0), checked the same way.
 *   4. Both started again with the bases returned, RX first, and the
 *      stream goes on.
 *
 * TX is stopped first and started last because vhostd stops one ring at
 * a time: a TX ring running while its RX ring is stopped is still served
 * and what it carries is dropped (DST_DOWN), as a wire would.  Every
 * frame must come back exactly once, in order, intact (sequence number
 * and contents), the drivers must never see a used buffer out of order,
 * and vhostd's counters must account for every frame with no drop.
 *
 * Packed: ring sizes that are not powers of two (TX 97, RX 61) and TX
 * chains of one or two descriptors, so stops land at every position and
 * with both wrap counters, and chains straddle the end of the ring; plus
 * stops placed on purpose at position 0 (after an odd and an even number
 * of laps: a base of 0x00000000, whose upper half of 0 vhostd reads as
 * "used = avail", and 0x80008000) and at the last position with a chain
 * across the end posted into the stopped ring.  Split: rings of 128 (TX
 * chains of two descriptors) and 64, and NFRAMES beyond 65536, so the
 * 16-bit indices wrap between stops.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "guest_util.h"
#include "packed_drv.h"

#define NFRAMES 70000u
#define STOP_EVERY 1500u        /* frames between stops, on average */
#define STALL_MS 10

static struct tdaemon td;      /* port g, --reflect g */

/* ---- one guest, either ring format --------------------------------- */

struct rg {
	bool packed;
	struct vu_front *f;
	struct vu_drv *d;           /* split */
	struct pd p;                /* packed */
	uint32_t window;            /* frames in flight at most */
	uint32_t sent, got;         /* frames posted, frames back */
	uint32_t bad;               /* frames back wrong */
	uint32_t rng;
	uint32_t stops;             /* TX stops ... */
	uint32_t stops_untaken;     /* ... with frames not taken yet */
	uint32_t posted_stopped;    /* frames posted into a stopped ring */
};

static const uint8_t MAC_G[6] = {0x52, 0x54, 0, 0, 0, 0x01};
static const uint8_t MAC_X[6] = {0x52, 0x54, 0, 0, 0, 0x02};

static uint32_t frame_len(uint32_t seq)
{
	return 60 + (seq * 131u) % (PD_FRAME_MAX - 60 + 1);
}

/* Frame seq as sent: to MAC_X from MAC_G; vhostd swaps the two. */
static void fill(uint8_t *f, uint32_t seq)
{
	uint32_t len = frame_len(seq);

	memcpy(f, MAC_X, 6);
	memcpy(f + 6, MAC_G, 6);
	f[12] = 0x88;                /* local experimental ethertype */
	f[13] = 0xb5;
	memcpy(f + 14, &seq, 4);
	for (uint32_t k = 18; k < len; k++)
		f[k] = (uint8_t)(k * 7 + seq);
}

/* A frame back: must be the next one, whole, MACs swapped. */
static void check_frame(struct rg *g, const uint8_t *f, uint32_t len)
{
	static uint8_t want[PD_FRAME_MAX];
	uint32_t seq = g->got;

	fill(want, seq);
	memcpy(want, MAC_G, 6);
	memcpy(want + 6, MAC_X, 6);
	if (len != frame_len(seq) || memcmp(f, want, len) != 0) {
		uint32_t s = 0;
		if (len >= 18)
			memcpy(&s, f + 14, 4);
		if (g->bad++ < 5)
			fprintf(stderr, "frame %u: got len %u seq %u, want len "
				"%u\n", seq, len, s, frame_len(seq));
	}
	g->got++;
}

static void on_split_rx(void *arg, const struct vu_drv_rx_pkt *pkt)
{
	static uint8_t buf[PD_FRAME_MAX + 64];
	struct rg *g = arg;
	size_t n = vu_drv_rx_copy(pkt, 0, buf, sizeof(buf));

	check_frame(g, buf, (uint32_t)n);
}

static void on_packed_rx(void *arg, const uint8_t *f, uint32_t len)
{
	check_frame(arg, f, len);
}

static uint32_t next_rand(struct rg *g)
{
	g->rng = g->rng * 1103515245u + 12345u;
	return g->rng >> 8;
}

static void rg_up(struct rg *g, bool packed)
{
	struct vu_guestmem_opts mo = {.size = 16u << 20, .nregions = 1,
				      .backing = VU_GUESTMEM_MEMFD};
	uint64_t feat = BIT_ULL(VIRTIO_F_VERSION_1) |
			BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES) |
			(packed ? BIT_ULL(VIRTIO_F_RING_PACKED) : 0);

	memset(g, 0, sizeof(*g));
	g->packed = packed;
	g->rng = 20240613;
	assert_int_equal(vu_front_connect(&g->f, td.sock[0], IO_MS, IO_MS), 0);
	assert_int_equal(vu_front_negotiate(g->f, feat,
					    VU_FRONT_PROTOCOL_DEFAULT), 0);
	assert_int_equal(vu_front_features_acked(g->f), feat);
	assert_int_equal(vu_front_mem_init(g->f, &mo), 0);
	assert_int_equal(vu_front_set_mem_table(g->f), 0);
	if (packed) {
		assert_int_equal(vu_front_vring_setup(g->f, 0, 61), 0);
		assert_int_equal(vu_front_vring_setup(g->f, 1, 97), 0);
		assert_int_equal(pd_create(&g->p, g->f, 0), 0);
		g->window = 61;
	} else {
		assert_int_equal(vu_front_vring_setup(g->f, 0, 64), 0);
		assert_int_equal(vu_front_vring_setup(g->f, 1, 128), 0);
		assert_int_equal(vu_drv_create(&g->d, g->f, &(struct vu_drv_opts){
			.tx_chain = true, .rx_buf_size = 2048}), 0);
		g->window = 64;
	}
}

static void rg_down(struct rg *g)
{
	if (!g->f)
		return;
	if (g->packed)
		pd_destroy(&g->p);
	vu_drv_destroy(g->d);
	vu_front_close(g->f);
	memset(g, 0, sizeof(*g));
	msleep(20);   /* let vhostd reset the device before the next test */
}

/* Post frame g->sent in ndesc descriptors (packed; split: always two);
 * false when the TX ring is full. */
static bool rg_send(struct rg *g, unsigned ndesc)
{
	static uint8_t f[PD_FRAME_MAX];
	uint32_t len = frame_len(g->sent);

	fill(f, g->sent);
	if (g->packed) {
		if (!pd_tx(&g->p, f, len, ndesc))
			return false;
	} else {
		if (vu_drv_tx_burst(g->d, (const void *const[]){f}, &len,
				    1) != 1)
			return false;
	}
	g->sent++;
	return true;
}

/* Reap used TX buffers and received frames. */
static void rg_poll(struct rg *g)
{
	if (g->packed) {
		pd_tx_reclaim(&g->p);
		pd_rx_poll(&g->p, on_packed_rx, g);
	} else {
		vu_drv_tx_reclaim(g->d);
		vu_drv_rx_poll(g->d, 64, on_split_rx, g);
	}
}

static bool rg_broken(struct rg *g)
{
	if (g->packed && g->p.broken)
		fprintf(stderr, "packed driver broken: %s\n", g->p.why);
	return g->packed ? g->p.broken : vu_drv_broken(g->d);
}

/* Frames posted on TX and not used yet. */
static uint32_t rg_tx_inflight(struct rg *g)
{
	return g->packed ? g->p.tx.nout : vu_drv_tx_inflight(g->d);
}

/* Where vhostd must say ring `ring` stands, every used buffer reaped. */
static uint32_t rg_expect_base(struct rg *g, uint32_t ring)
{
	struct vu_drv_stats s;

	if (g->packed)
		return pd_ring_base(ring ? &g->p.tx : &g->p.rx);
	vu_drv_stats(g->d, &s);
	return ring ? (uint16_t)(s.tx_packets - vu_drv_tx_inflight(g->d)) :
		      (uint16_t)s.rx_buffers;
}

/* Nothing came back in this poll: after ~IO_MS of that, fail. */
static void rg_stuck(struct rg *g, uint32_t *stuck)
{
	if (++*stuck % 64 == 0)
		msleep(1);
	if (*stuck > 64u * IO_MS)
		fail_msg("stream stuck: %u frames sent, %u back, %u on TX",
			 g->sent, g->got, rg_tx_inflight(g));
}

/* Send n more frames (one descriptor each, or two every ndesc2-th on a
 * packed ring on average), receiving meanwhile, the window respected. */
static void rg_stream(struct rg *g, uint32_t n, uint32_t ndesc2)
{
	uint32_t end = g->sent + n, stuck = 0;
	unsigned nd = 0;

	while (g->sent < end) {
		if (!nd)
			nd = ndesc2 && next_rand(g) % ndesc2 == 0 ? 2 : 1;
		if (g->sent - g->got < g->window && rg_send(g, nd)) {
			nd = 0;
			continue;
		}
		uint32_t got = g->got;
		rg_poll(g);
		assert_false(rg_broken(g));
		if (g->got == got)
			rg_stuck(g, &stuck);
		else
			stuck = 0;
	}
}

/* Receive until every frame sent came back (or ~IO_MS). */
static void rg_drain(struct rg *g)
{
	for (int ms = 0; g->got < g->sent && ms < IO_MS; ms++) {
		rg_poll(g);
		if (g->got < g->sent)
			msleep(1);
	}
	rg_poll(g);
	assert_false(rg_broken(g));
	assert_int_equal(g->got, g->sent);
}

/* GET_VRING_BASE of ring `ring`: the base returned must be where the
 * driver stands once every used buffer is reaped. */
static uint32_t rg_stop(struct rg *g, uint32_t ring)
{
	uint32_t base = 0xdeadbeef;

	assert_int_equal(vu_front_vring_stop(g->f, ring, &base), 0);
	rg_poll(g);
	assert_false(rg_broken(g));
	if (base != rg_expect_base(g, ring))
		fail_msg("%s ring %u stopped at base 0x%08x, the driver stands "
			 "at 0x%08x (frame %u sent, %u back)",
			 g->packed ? "packed" : "split", ring, base,
			 rg_expect_base(g, ring), g->sent, g->got);
	return base;
}

/*
 * Steps 1 to 4 of the file comment, with `more` frames posted into the
 * stopped TX ring (two descriptors each when two is set, packed).
 * Returns the TX base.
 */
static uint32_t rg_stop_restart(struct rg *g, uint32_t more, bool two,
				bool rx_first)
{
	/* QEMU stops RX first: from then on vhostd must take nothing from
	 * TX (it could only drop it), so the TX base still counts it. */
	uint32_t brx = rx_first ? rg_stop(g, 0) : 0;
	uint32_t btx = rx_first ? 0 : rg_stop(g, 1);
	uint32_t inflight = rg_tx_inflight(g), got = g->got;

	g->stops++;
	g->stops_untaken += inflight != 0;

	/* Everything taken before the stop is back already (vhostd copies
	 * and completes both rings in one pass, and the stop waits for it);
	 * what it did not take stays posted. */
	for (uint32_t i = 0; i < more && g->sent - g->got < g->window; i++)
		if (rg_send(g, two ? 2 : 1)) {
			inflight++;
			g->posted_stopped++;
		}
	msleep(STALL_MS);
	rg_poll(g);
	assert_int_equal(rg_tx_inflight(g), inflight);
	assert_int_equal(g->got, got);
	if (rx_first)
		btx = rg_stop(g, 1);
	else
		brx = rg_stop(g, 0);
	assert_int_equal(vu_front_vring_restart(g->f, 0, brx), 0);
	assert_int_equal(vu_front_vring_restart(g->f, 1, btx), 0);
	return btx;
}

/* Send single-descriptor frames until the TX ring's next position is
 * pos, then wait for every frame to come back. */
static void rg_tx_to(struct rg *g, uint16_t pos)
{
	uint32_t stuck = 0;

	while (g->p.tx.avail_pos != pos) {
		if (g->sent - g->got < g->window && rg_send(g, 1))
			continue;
		uint32_t got = g->got;
		rg_poll(g);
		assert_false(rg_broken(g));
		if (g->got == got)
			rg_stuck(g, &stuck);
		else
			stuck = 0;
	}
	rg_drain(g);
}

/* vhostd's counters for port g: every frame taken, reflected, delivered. */
static void assert_counters(uint64_t tx0, uint64_t fw0, uint64_t rx0,
			    uint32_t n)
{
	static const char *const drops[] = {
		"drop_no_peer", "drop_dst_down", "drop_no_rx_buf",
		"drop_rx_broken"};

	assert_int_equal(tdaemon_stat(&td, "g", 1, "packets"), tx0 + n);
	assert_int_equal(tdaemon_stat(&td, "g", 1, "forwarded"), fw0 + n);
	assert_int_equal(tdaemon_stat(&td, "g", 0, "packets"), rx0 + n);
	for (unsigned i = 0; i < sizeof(drops) / sizeof(drops[0]); i++)
		assert_int_equal(tdaemon_stat(&td, "g", 1, drops[i]), 0);
}

/* The stream with a stop and restart every STOP_EVERY frames or so. */
static void stream_with_stops(struct rg *g, uint32_t ndesc2)
{
	while (g->sent < NFRAMES) {
		uint32_t n = STOP_EVERY / 2 + next_rand(g) % STOP_EVERY;
		if (n > NFRAMES - g->sent)
			n = NFRAMES - g->sent;
		rg_stream(g, n, ndesc2);
		/* A burst without receiving: the stop finds some of it
		 * taken and some not. */
		uint32_t burst = next_rand(g) % 16;
		uint32_t more = next_rand(g) % 4;
		bool two = next_rand(g) & 1;
		for (uint32_t i = 0; i < burst &&
		     g->sent - g->got < g->window; i++)
			rg_send(g, 1);
		rg_stop_restart(g, more, two, next_rand(g) & 1);
	}
	rg_drain(g);
	print_message("%s: %u frames, %u stops and restarts (%u with frames "
		      "on TX not taken yet), %u frames posted into the stopped "
		      "TX ring\n", g->packed ? "packed" : "split", g->sent,
		      g->stops, g->stops_untaken, g->posted_stopped);
}

/* ---- tests ------------------------------------------------------- */

static struct rg g;

static int test_teardown(void **state)
{
	(void)state;
	rg_down(&g);
	return 0;
}

static void test_split_ring_restarts_where_it_stopped(void **state)
{
	uint64_t tx0 = tdaemon_stat(&td, "g", 1, "packets");
	uint64_t fw0 = tdaemon_stat(&td, "g", 1, "forwarded");
	uint64_t rx0 = tdaemon_stat(&td, "g", 0, "packets");

	(void)state;
	rg_up(&g, false);
	stream_with_stops(&g, 0);
	assert_int_equal(g.bad, 0);
	assert_counters(tx0, fw0, rx0, g.sent);
}

static void test_packed_ring_restarts_where_it_stopped(void **state)
{
	uint64_t tx0 = tdaemon_stat(&td, "g", 1, "packets");
	uint64_t fw0 = tdaemon_stat(&td, "g", 1, "forwarded");
	uint64_t rx0 = tdaemon_stat(&td, "g", 0, "packets");

	(void)state;
	rg_up(&g, true);
	stream_with_stops(&g, 3);
	assert_int_equal(g.bad, 0);
	assert_counters(tx0, fw0, rx0, g.sent);
}

/* Stops placed on the wrap: at position 0 after an odd number of laps
 * (base 0: both wrap counters 0), after an even one (0x80008000), and at
 * the last position with a chain across the end posted while stopped. */
static void test_packed_ring_restarts_on_the_wrap(void **state)
{
	uint64_t tx0 = tdaemon_stat(&td, "g", 1, "packets");
	uint64_t fw0 = tdaemon_stat(&td, "g", 1, "forwarded");
	uint64_t rx0 = tdaemon_stat(&td, "g", 0, "packets");
	struct pd_ring *tx = &g.p.tx;

	unsigned seen = 0;   /* wrap counters met at position 0 */

	(void)state;
	rg_up(&g, true);
	/* Each round stops at position 0 of the next lap, then streams less
	 * than a lap (up to 2 * num / 3 descriptors); rounds 0 and 2 also
	 * stop at num - 1 and post a chain across the end, so the next round
	 * finds position 0 two laps on, rounds 1 and 3 one lap on: laps L,
	 * L + 2, L + 3, L + 5, both wrap counters. */
	for (int round = 0; round < 4; round++) {
		rg_tx_to(&g, 0);
		bool wrap = tx->avail_wrap;
		seen |= 1u << wrap;
		assert_int_equal(rg_stop_restart(&g, 0, false, false),
				 pd_base(0, wrap));
		rg_stream(&g, tx->num / 3, 2);
		if (round % 2)
			continue;
		rg_tx_to(&g, (uint16_t)(tx->num - 1));
		wrap = tx->avail_wrap;
		/* The two-descriptor chain posted into the stopped ring
		 * takes slot num - 1 and slot 0 of the next lap. */
		assert_int_equal(rg_stop_restart(&g, 1, true, true),
				 pd_base((uint16_t)(tx->num - 1), wrap));
		assert_int_equal(tx->avail_pos, 1);
		assert_true(tx->avail_wrap != wrap);
		rg_drain(&g);
	}
	rg_drain(&g);
	assert_int_equal(seen, 3);
	assert_int_equal(g.bad, 0);
	assert_counters(tx0, fw0, rx0, g.sent);
}

static int group_setup(void **state)
{
	(void)state;
	return tdaemon_start(&td, (const char *const[]){"g", NULL},
			     (char *const[]){"--reflect", "g", NULL});
}

static int group_teardown(void **state)
{
	(void)state;
	return tdaemon_stop(&td);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(
			test_split_ring_restarts_where_it_stopped,
			test_teardown),
		cmocka_unit_test_teardown(
			test_packed_ring_restarts_where_it_stopped,
			test_teardown),
		cmocka_unit_test_teardown(test_packed_ring_restarts_on_the_wrap,
					  test_teardown),
	};

	if (tdaemon_args(&td, argc, argv) < 0)
		return 2;
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
