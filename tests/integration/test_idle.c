/* SPDX-License-Identifier: MIT */
/*
 * test_idle.c: vhostd --idle wait with guests attached.
 *
 * An idle guest costs (almost) no CPU: vhostd's worker parks in epoll on
 * the guests' kick eventfds.  Traffic after a quiet spell is delivered,
 * woken by the guest's kick (split and packed rings, EVENT_IDX on and
 * off), nothing lost.  Hostile front-ends: a guest that never kicks
 * (its frames still move, bounded by the longest park), a kick fd
 * replaced while the worker is parked (SET_VRING_KICK), a ring without a
 * kick fd (the worker naps instead of parking), a kick storm; the other
 * guest on the same worker never notices.
 *
 * Timing here is a generous bound on "it blocks" and "the kick woke it",
 * not a benchmark (perf/bench_idle.sh measures).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>

#include "guest_util.h"
#include "packed_drv.h"

static struct tdaemon td;   /* ports a and b, each reflecting */

/* Woken by its kick: far below the longest park (WK_IDLE_PARK_MS, 1 s). */
#define KICK_WAKE_MS 500
#define QUIET_MS 300        /* several times the back-off (~1.5 ms) */

static const uint64_t BASE = BIT_ULL(VIRTIO_F_VERSION_1) |
	BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES);

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* vhostd's CPU time (user + system), in clock ticks. */
static uint64_t cpu_ticks(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long ut = 0, st = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* Fields 14 and 15, counted after the ")" that ends the name. */
	char *p = strrchr(buf, ')');
	assert_non_null(p);
	assert_int_equal(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u "
				"%*u %*u %lu %lu", &ut, &st), 2);
	return ut + st;
}

/* ---- one guest, split (vu_drv) or packed (packed_drv.h) ------------ */

struct g {
	struct vu_front *f;
	struct vu_drv *d;
	struct pd p;
	bool packed;
	unsigned got, want;     /* frames back, frames waited for */
	uint8_t rx[64][64];     /* frame k in rx[k % 64] */
};

static struct g ga, gb;

static void g_up(struct g *g, const char *sock, bool packed, bool event_idx)
{
	struct vu_guestmem_opts mo = {.size = 16u << 20, .nregions = 1,
				      .backing = VU_GUESTMEM_MEMFD};
	uint64_t feat = BASE |
		(packed ? BIT_ULL(VIRTIO_F_RING_PACKED) : 0) |
		(event_idx ? BIT_ULL(VIRTIO_RING_F_EVENT_IDX) : 0);

	memset(g, 0, sizeof(*g));
	g->packed = packed;
	assert_int_equal(vu_front_connect(&g->f, sock, IO_MS, IO_MS), 0);
	assert_int_equal(vu_front_negotiate(g->f, feat,
					    VU_FRONT_PROTOCOL_DEFAULT), 0);
	assert_int_equal(vu_front_features_acked(g->f), feat);
	assert_int_equal(vu_front_mem_init(g->f, &mo), 0);
	assert_int_equal(vu_front_set_mem_table(g->f), 0);
	if (packed) {
		assert_int_equal(vu_front_vring_setup(g->f, 0, 64), 0);
		assert_int_equal(vu_front_vring_setup(g->f, 1, 64), 0);
		assert_int_equal(pd_create(&g->p, g->f, 0), 0);
	} else {
		assert_int_equal(vu_front_setup_queues(g->f, 1, 256), 0);
		assert_int_equal(vu_drv_create(&g->d, g->f,
			&(struct vu_drv_opts){.pair = 0}), 0);
	}
}

static void g_down(struct g *g)
{
	if (!g->f)
		return;
	if (g->packed)
		pd_destroy(&g->p);
	else
		vu_drv_destroy(g->d);
	vu_front_close(g->f);
	memset(g, 0, sizeof(*g));
	msleep(20);
}

static void fill(uint8_t *f, unsigned seq)
{
	memset(f, 0xff, 6);
	memcpy(f + 6, (uint8_t[]){0x52, 0x54, 0, 0, 0, 9}, 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	for (unsigned k = 14; k < 64; k++)
		f[k] = (uint8_t)(seq * 7 + k);
}

static void on_split(void *arg, const struct vu_drv_rx_pkt *pkt)
{
	struct g *g = arg;

	if (vu_drv_rx_copy(pkt, 0, g->rx[g->got % 64], 64) == 64)
		g->got++;
}

static void on_packed(void *arg, const uint8_t *f, uint32_t len)
{
	struct g *g = arg;

	if (len == 64) {
		memcpy(g->rx[g->got % 64], f, 64);
		g->got++;
	}
}

static void g_send(struct g *g, unsigned seq)
{
	uint8_t f[64];
	uint32_t len = 64;

	fill(f, seq);
	if (g->packed) {
		assert_true(pd_tx(&g->p, f, len, 1));
		return;
	}
	uint8_t *slot;
	assert_int_equal(vu_drv_tx_reserve(g->d, &slot, 1), 1);
	memcpy(slot, f, len);
	memset(vu_drv_tx_hdr(g->d, slot), 0, sizeof(struct virtio_net_hdr));
	assert_int_equal(vu_drv_tx_commit(g->d, &len, 1), 1);
}

/* Wait up to ms for the next frame back, which must be frame seq
 * (reflected: the MACs swapped); returns the ms it took, or -1. */
static int g_back(struct g *g, unsigned seq, int ms)
{
	uint64_t t0 = now_ms();
	unsigned want = ++g->want;

	while (g->got < want && now_ms() - t0 < (uint64_t)ms) {
		unsigned n = g->packed ? pd_rx_poll(&g->p, on_packed, g) :
			     vu_drv_rx_poll(g->d, 8, on_split, g);
		if (g->packed)
			pd_tx_reclaim(&g->p);
		if (n == 0)
			msleep(1);
	}
	if (g->got < want)
		return -1;
	uint8_t f[64];
	const uint8_t *r = g->rx[(want - 1) % 64];
	fill(f, seq);
	assert_memory_equal(r + 12, f + 12, 64 - 12);
	assert_memory_equal(r, f + 6, 6);   /* MACs swapped */
	return (int)(now_ms() - t0);
}

/* One frame after each of n quiet spells: all back, woken by the kick. */
static void after_quiet(struct g *g, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		msleep(QUIET_MS);
		g_send(g, i);
		int ms = g_back(g, i, IO_MS);
		assert_true(ms >= 0);
		if (ms >= KICK_WAKE_MS)
			fail_msg("frame %u back after %d ms: not woken by "
				 "its kick", i, ms);
	}
}

static int teardown(void **state)
{
	(void)state;
	g_down(&ga);
	g_down(&gb);
	return 0;
}

/* ---- tests ---------------------------------------------------------- */

static void test_idle_guests_cost_little_cpu(void **state)
{
	(void)state;
	long hz = sysconf(_SC_CLK_TCK);

	g_up(&ga, td.sock[0], false, false);
	g_up(&gb, td.sock[1], true, true);
	g_send(&ga, 0);
	assert_true(g_back(&ga, 0, IO_MS) >= 0);
	g_send(&gb, 0);
	assert_true(g_back(&gb, 0, IO_MS) >= 0);
	msleep(QUIET_MS);
	uint64_t c0 = cpu_ticks(td.proc.pid);
	msleep(2000);
	uint64_t used = cpu_ticks(td.proc.pid) - c0;
	/* A polling worker would use ~2 s; 20% of it is the bound. */
	if (used * 5 >= (uint64_t)(2 * hz))
		fail_msg("vhostd used %llu ticks (%ld/s) in 2 s idle",
			 (unsigned long long)used, hz);
	/* And traffic after that. */
	after_quiet(&ga, 1);
	after_quiet(&gb, 1);
}

static void test_split_after_idle(void **state)
{
	(void)state;
	g_up(&ga, td.sock[0], false, false);
	after_quiet(&ga, 5);
}

static void test_split_event_idx_after_idle(void **state)
{
	(void)state;
	g_up(&ga, td.sock[0], false, true);
	after_quiet(&ga, 5);
}

static void test_packed_after_idle(void **state)
{
	(void)state;
	g_up(&ga, td.sock[0], true, false);
	after_quiet(&ga, 5);
}

static void test_packed_event_idx_after_idle(void **state)
{
	(void)state;
	g_up(&ga, td.sock[0], true, true);
	after_quiet(&ga, 5);
}

/* A burst after idle: every frame back, in order (nothing lost while the
 * worker wakes). */
static void test_burst_after_idle_loses_nothing(void **state)
{
	(void)state;
	g_up(&ga, td.sock[0], false, true);
	for (int round = 0; round < 3; round++) {
		msleep(QUIET_MS);
		for (unsigned i = 0; i < 32; i++)
			g_send(&ga, i);
		for (unsigned i = 0; i < 32; i++)
			assert_true(g_back(&ga, i, IO_MS) >= 0);
	}
}

/* SET_VRING_KICK for ring idx of g: a new eventfd (or none: polling). */
static void set_kick(struct g *g, uint32_t idx, int fd)
{
	struct vu_hdr h = {VU_REQ_SET_VRING_KICK,
			   VU_VERSION | VU_FLAG_NEED_REPLY, 8};
	uint64_t payload = idx | (fd < 0 ? VU_VRING_NOFD_MASK : 0);
	struct vu_msg ack;

	assert_int_equal(vu_front_raw_send(g->f, &h, &payload, 8,
					   fd < 0 ? NULL : &fd, fd < 0 ? 0 : 1),
			 0);
	assert_int_equal(vu_front_raw_recv(g->f, &ack, IO_MS, NULL, NULL), 1);
	assert_int_equal(ack.payload.u64, 0);
}

/* The front-end replaces the TX kick fd while the worker is parked: the
 * new one wakes it (the old one is gone from its set). */
static void test_kick_fd_replaced_while_parked(void **state)
{
	(void)state;
	g_up(&ga, td.sock[0], false, false);
	after_quiet(&ga, 1);
	msleep(QUIET_MS);
	int k2 = eventfd(0, EFD_NONBLOCK);
	set_kick(&ga, 1, k2);
	/* The driver still kicks its old fd, which vhostd closed: the frame
	 * is found only through the new one, which the test writes. */
	msleep(QUIET_MS);
	g_send(&ga, 1);
	assert_int_equal(eventfd_write(k2, 1), 0);
	int ms = g_back(&ga, 1, IO_MS);
	assert_true(ms >= 0 && ms < KICK_WAKE_MS);
	close(k2);
}

/* A guest that never kicks although asked to: its frames still move,
 * within the longest park; the other guest keeps its kick-driven wake. */
static void test_guest_that_never_kicks(void **state)
{
	(void)state;
	g_up(&ga, td.sock[0], false, false);
	g_up(&gb, td.sock[1], false, false);
	/* Ring 1's kick fd as the driver knows it now leads nowhere. */
	int dead = eventfd(0, EFD_NONBLOCK);
	assert_true(dup2(dead, vu_front_vring(ga.f, 1)->kick_fd) >= 0);
	close(dead);
	for (unsigned i = 0; i < 3; i++) {
		msleep(QUIET_MS);
		g_send(&ga, i);
		assert_true(g_back(&ga, i, IO_MS) >= 0);
	}
	after_quiet(&gb, 2);
	assert_true(vhostd_alive(&td.proc));
}

/* A ring set up without a kick fd (the front-end polls): that worker
 * cannot park, it naps, and the frames come at once. */
static void test_ring_without_kick_fd_naps(void **state)
{
	(void)state;
	g_up(&ga, td.sock[0], false, false);
	set_kick(&ga, 1, -1);
	after_quiet(&ga, 3);
}

struct storm {
	int fd;
	_Atomic bool stop;
};

static void *kick_storm(void *arg)
{
	struct storm *s = arg;

	while (!atomic_load(&s->stop))
		(void)eventfd_write(s->fd, 1);
	return NULL;
}

/* Kicks with nothing behind them, as fast as one thread writes: vhostd
 * stays up and both guests' traffic moves. */
static void test_kick_storm(void **state)
{
	(void)state;
	struct storm s = {0};
	pthread_t t;

	g_up(&ga, td.sock[0], false, false);
	g_up(&gb, td.sock[1], true, false);
	s.fd = vu_front_vring(ga.f, 1)->kick_fd;
	assert_int_equal(pthread_create(&t, NULL, kick_storm, &s), 0);
	msleep(1000);
	after_quiet(&gb, 2);
	for (unsigned i = 0; i < 3; i++) {
		g_send(&ga, i);
		assert_true(g_back(&ga, i, IO_MS) >= 0);
	}
	atomic_store(&s.stop, true);
	pthread_join(t, NULL);
	assert_true(vhostd_alive(&td.proc));
	after_quiet(&ga, 1);
}

static int group_setup(void **state)
{
	(void)state;
	return tdaemon_start(&td, (const char *const[]){"a", "b", NULL},
			     (char *const[]){"--reflect", "a", "--reflect", "b",
					     "--idle", "wait", NULL});
}

static int group_teardown(void **state)
{
	(void)state;
	return tdaemon_stop(&td);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_idle_guests_cost_little_cpu,
					  teardown),
		cmocka_unit_test_teardown(test_split_after_idle, teardown),
		cmocka_unit_test_teardown(test_split_event_idx_after_idle,
					  teardown),
		cmocka_unit_test_teardown(test_packed_after_idle, teardown),
		cmocka_unit_test_teardown(test_packed_event_idx_after_idle,
					  teardown),
		cmocka_unit_test_teardown(test_burst_after_idle_loses_nothing,
					  teardown),
		cmocka_unit_test_teardown(test_kick_fd_replaced_while_parked,
					  teardown),
		cmocka_unit_test_teardown(test_guest_that_never_kicks, teardown),
		cmocka_unit_test_teardown(test_ring_without_kick_fd_naps,
					  teardown),
		cmocka_unit_test_teardown(test_kick_storm, teardown),
	};

	if (tdaemon_args(&td, argc, argv) < 0)
		return 2;
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
