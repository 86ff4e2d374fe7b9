/* SPDX-License-Identifier: MIT */
/*
 * test_restart.c: vhostd restarted under traffic, by SIGTERM and by
 * kill -9, with a front-end that outlives it (issue 20, parts 1, 3, 4).
 *
 * The front-end plays QEMU with a listening chardev (vhostd's port is
 * ",client"): it keeps the guest memory and the rings, and the guest's
 * driver keeps running while vhostd is gone.  When vhostd's connection
 * closes it does what QEMU does (vhost_virtqueue_stop: GET_VRING_BASE
 * fails, virtio_queue_restore_last_avail_idx): each split ring restarts
 * where the used index in guest memory says (next avail = used idx).  For
 * a packed ring QEMU keeps the used position itself; here the driver
 * reaps every used descriptor first and its used position is the base.
 * The next vhostd connects, the front-end negotiates again, sends the
 * memory table and starts every ring there.
 *
 * One guest on a --reflect port streams numbered frames of every length
 * (at most what its RX ring holds in flight, so no drop is legitimate);
 * every few hundred frames, right after a burst posted without waiting,
 * vhostd gets SIGTERM or SIGKILL (alternately), the front-end waits for
 * the connection to close, starts a new vhostd and carries on.  Checked:
 *
 *   - the driver never sees a used entry it did not post or out of
 *     order, a used index running ahead, a bad num_buffers (vu_drv and
 *     packed_drv.h break on any of them);
 *   - frames come back in order, intact, never twice;
 *   - SIGTERM loses nothing (vhostd finishes the pass and publishes its
 *     used entries before the connection closes: every frame sent comes
 *     back); kill -9 loses at most what was in flight (counted).
 *
 * Split rings with and without MRG_RXBUF (512-byte receive buffers: a
 * frame spans up to 4) and EVENT_IDX, and packed rings.  Prints, per
 * case, the outage from the signal to the first frame back (median and
 * max): the front-end's own reconnect work included, vhostd's start-up
 * and connect above all.  VHOSTD_RESTARTS=N sets the restarts per case
 * (default 10).  And a packed ring restarted from a stale position (what
 * QEMU sends) is refused; split rings restarted from stale bases resume at
 * the used index.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <poll.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "guest_util.h"
#include "packed_drv.h"

#define RESTARTS_DEFAULT 10
#define BETWEEN_MIN 200u        /* frames streamed between restarts */
#define BETWEEN_SPAN 800u
#define MAX_RESTARTS 10000

static const char *vhostd_bin, *vhostctl_bin;
static char dir[64], sock_path[128], log_path[160], ctl_path[160];

static const uint8_t MAC_G[6] = {0x52, 0x54, 0, 0, 0, 0x01};
static const uint8_t MAC_X[6] = {0x52, 0x54, 0, 0, 0, 0x02};

struct rs {
	bool packed;
	uint64_t features;
	int lfd;
	struct vu_front *f;
	struct vu_drv *d;           /* split */
	struct pd p;                /* packed */
	struct vhostd_proc proc;
	uint32_t window;            /* frames in flight at most */
	uint32_t sent;              /* frames posted */
	uint32_t next;              /* lowest seq that may still come */
	uint32_t got, bad, dups, lost;
	uint32_t lost_now;          /* frames skipped since the last restart */
	uint32_t rng;
	bool back;                  /* a frame came since the last restart */
	int sig;                    /* of the last restart */
	double t_sig;
	double outage[2][MAX_RESTARTS];   /* [0] SIGTERM, [1] SIGKILL */
	uint32_t nout[2];
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint32_t frame_len(uint32_t seq)
{
	return 60 + (seq * 131u) % (PD_FRAME_MAX - 60 + 1);
}

static void fill(uint8_t *f, uint32_t seq, bool swapped)
{
	uint32_t len = frame_len(seq);

	memcpy(f, swapped ? MAC_G : MAC_X, 6);
	memcpy(f + 6, swapped ? MAC_X : MAC_G, 6);
	f[12] = 0x88;                /* local experimental ethertype */
	f[13] = 0xb5;
	memcpy(f + 14, &seq, 4);
	for (uint32_t k = 18; k < len; k++)
		f[k] = (uint8_t)(k * 7 + seq);
}

/* A frame back: seq must be at least the next one; a jump is a loss. */
static void check_frame(struct rs *r, const uint8_t *f, uint32_t len)
{
	static uint8_t want[PD_FRAME_MAX];
	uint32_t seq;

	if (len < 18) {
		r->bad++;
		return;
	}
	memcpy(&seq, f + 14, 4);
	if (!r->back) {
		int k = r->sig == SIGKILL;
		r->outage[k][r->nout[k]++] = now_s() - r->t_sig;
	}
	r->back = true;
	if (seq < r->next || seq >= r->sent) {
		if (r->dups++ < 5)
			fprintf(stderr, "frame %u came back again or was never "
				"sent (next %u, sent %u)\n", seq, r->next,
				r->sent);
		return;
	}
	fill(want, seq, true);
	if (len != frame_len(seq) || memcmp(f, want, len) != 0) {
		if (r->bad++ < 5)
			fprintf(stderr, "frame %u: len %u, want %u, or bytes "
				"differ\n", seq, len, frame_len(seq));
	}
	r->lost_now += seq - r->next;
	r->next = seq + 1;
	r->got++;
}

static void on_split_rx(void *arg, const struct vu_drv_rx_pkt *pkt)
{
	static uint8_t buf[PD_FRAME_MAX + 64];

	check_frame(arg, buf, (uint32_t)vu_drv_rx_copy(pkt, 0, buf,
						       sizeof(buf)));
}

static void on_packed_rx(void *arg, const uint8_t *f, uint32_t len)
{
	check_frame(arg, f, len);
}

static uint32_t next_rand(struct rs *r)
{
	r->rng = r->rng * 1103515245u + 12345u;
	return r->rng >> 8;
}

static void rs_poll(struct rs *r)
{
	if (r->packed) {
		pd_tx_reclaim(&r->p);
		pd_rx_poll(&r->p, on_packed_rx, r);
		if (r->p.broken)
			fail_msg("packed driver broken: %s", r->p.why);
	} else {
		vu_drv_tx_reclaim(r->d);
		vu_drv_rx_poll(r->d, 64, on_split_rx, r);
		if (vu_drv_broken(r->d)) {
			struct vu_drv_stats s;
			vu_drv_stats(r->d, &s);
			for (unsigned e = 0; e < VU_DRV_ERR_COUNT; e++)
				if (s.errors[e])
					fprintf(stderr, "driver: %s\n",
						vu_drv_error_str(e));
			fail_msg("split driver broken");
		}
	}
}

static bool rs_send(struct rs *r)
{
	static uint8_t f[PD_FRAME_MAX];
	uint32_t len = frame_len(r->sent);

	if (r->sent - r->next >= r->window)
		return false;
	fill(f, r->sent, false);
	if (r->packed ? !pd_tx(&r->p, f, len, 1 + (r->sent & 1)) :
	    vu_drv_tx_burst(r->d, (const void *const[]){f}, &len, 1) != 1)
		return false;
	r->sent++;
	return true;
}

/* Poll until every frame sent came back (or was skipped: lost). */
static void rs_drain(struct rs *r)
{
	for (int ms = 0; r->next < r->sent; ms++) {
		if (ms > IO_MS)
			fail_msg("stream stuck: %u sent, %u next, %u back "
				 "(vhostd log %s)", r->sent, r->next, r->got,
				 log_path);
		rs_poll(r);
		if (r->next < r->sent)
			msleep(1);
	}
}

static void rs_stream(struct rs *r, uint32_t n)
{
	uint32_t end = r->sent + n;

	while (r->sent < end) {
		if (rs_send(r))
			continue;
		uint32_t next = r->next;
		rs_poll(r);
		if (r->next == next)
			usleep(100);
	}
	rs_drain(r);
}

static void vhostd_run(struct rs *r)
{
	char spec[200];
	char *args[] = {"--port", spec, "--reflect", "g", "--control",
			ctl_path, NULL};

	snprintf(spec, sizeof(spec), "g=vhost:%s,client", sock_path);
	unlink(ctl_path);   /* a killed vhostd leaves it */
	assert_int_equal(vhostd_start(&r->proc, vhostd_bin, log_path, args),
			 0);
}

/* Negotiate, memory table, and every ring started at its base. */
static void rs_attach(struct rs *r, const uint32_t *base)
{
	assert_int_equal(vu_front_negotiate(r->f, r->features,
					    VU_FRONT_PROTOCOL_DEFAULT), 0);
	assert_int_equal(vu_front_features_acked(r->f), r->features);
	assert_int_equal(vu_front_set_mem_table(r->f), 0);
	for (uint32_t i = 0; i < 2; i++)
		assert_int_equal(vu_front_vring_restart(r->f, i, base[i]), 0);
}

static void rs_up(struct rs *r, bool packed, uint64_t extra, uint32_t rxbuf)
{
	struct vu_guestmem_opts mo = {.size = 16u << 20, .nregions = 1,
				      .backing = VU_GUESTMEM_MEMFD};

	memset(r, 0, sizeof(*r));
	r->packed = packed;
	r->rng = 20261203;
	r->back = true;   /* outages are counted from the first restart */
	r->features = BIT_ULL(VIRTIO_F_VERSION_1) |
		      BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES) | extra |
		      (packed ? BIT_ULL(VIRTIO_F_RING_PACKED) : 0);
	snprintf(dir, sizeof(dir), "/tmp/vhostd-rs.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(sock_path, sizeof(sock_path), "%s/g.sock", dir);
	snprintf(log_path, sizeof(log_path), "%s/vhostd.log", dir);
	snprintf(ctl_path, sizeof(ctl_path), "%s/ctl.sock", dir);
	r->lfd = vu_front_listen(sock_path);
	assert_true(r->lfd >= 0);
	vhostd_run(r);
	assert_int_equal(vu_front_accept_on(&r->f, r->lfd, 5000, IO_MS), 0);
	assert_int_equal(vu_front_negotiate(r->f, r->features,
					    VU_FRONT_PROTOCOL_DEFAULT), 0);
	assert_int_equal(vu_front_mem_init(r->f, &mo), 0);
	assert_int_equal(vu_front_set_mem_table(r->f), 0);
	assert_int_equal(vu_front_setup_queues(r->f, 1, 256), 0);
	if (packed) {
		assert_int_equal(pd_create(&r->p, r->f, 0), 0);
		r->window = 128;   /* TX chains of up to two descriptors */
	} else {
		assert_int_equal(vu_drv_create(&r->d, r->f, &(struct vu_drv_opts){
			.rx_buf_size = rxbuf}), 0);
		r->window = 256 / ((PD_FRAME_MAX + 12 + rxbuf - 1) / rxbuf);
	}
}

/* Wait for vhostd's connection to close (the front-end's cue), keeping
 * the guest's driver running meanwhile. */
static void wait_closed(struct rs *r)
{
	struct pollfd p = {.fd = vu_front_sock(r->f), .events = POLLIN};
	char c;

	for (int ms = 0;; ms++) {
		if (ms > IO_MS)
			fail_msg("vhostd's connection still open");
		rs_poll(r);
		if (poll(&p, 1, 1) == 1 && recv(p.fd, &c, 1, MSG_DONTWAIT) == 0)
			return;
	}
}

/* Wait up to IO_MS for pid to exit, the guest's driver running. */
static bool wait_exit(pid_t pid, int *st)
{
	for (int ms = 0; ms < IO_MS; ms++) {
		pid_t w = waitpid(pid, st, WNOHANG);
		if (w == pid)
			return true;
		assert_int_equal(w, 0);
		msleep(1);
	}
	return false;
}

/* Signal vhostd, do what QEMU does, start a new one and reattach. */
static void rs_restart(struct rs *r, int sig)
{
	uint32_t base[2];
	int st;

	r->t_sig = now_s();
	r->sig = sig;
	assert_int_equal(kill(r->proc.pid, sig), 0);
	wait_closed(r);
	/* At once, as QEMU does on the close event (the old process may not
	 * have exited yet): no worker may move a ring after the close. */
	if (r->packed)
		rs_poll(r);   /* the driver's used position is the base */
	for (uint32_t i = 0; i < 2; i++) {
		if (r->packed) {
			base[i] = pd_ring_base(i ? &r->p.tx : &r->p.rx);
		} else {
			int u = vu_front_split_used_idx(r->f, i);
			assert_true(u >= 0);
			base[i] = (uint32_t)u;
		}
	}
	if (!wait_exit(r->proc.pid, &st)) {
		kill(r->proc.pid, SIGKILL);
		waitpid(r->proc.pid, NULL, 0);
		fail_msg("vhostd still running %d ms after signal %d; log %s",
			 IO_MS, sig, log_path);
	}
	if (sig == SIGTERM && (!WIFEXITED(st) || WEXITSTATUS(st) != 0))
		fail_msg("vhostd did not exit 0 on SIGTERM (status 0x%x); log "
			 "%s", st, log_path);
	/* The next vhostd writes its log over this one. */
	if (log_has(log_path, "Sanitizer", NULL) ||
	    log_has(log_path, "runtime error", NULL))
		fail_msg("sanitizer report in vhostd's log %s", log_path);
	rs_poll(r);   /* the driver reaps what the old vhostd used */
	vhostd_run(r);
	assert_int_equal(vu_front_reaccept(r->f, r->lfd, 5000), 0);
	rs_attach(r, base);
	r->back = false;   /* what the old vhostd used does not count */
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* vhostd's counters, on stderr (why frames went missing). */
static void show_stats(void)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "%s %s stats >&2", vhostctl_bin, ctl_path);
	if (system(cmd) != 0)
		fprintf(stderr, "(no counters: %s failed)\n", cmd);
}

static void rs_run(struct rs *r, const char *name)
{
	const char *env = getenv("VHOSTD_RESTARTS");
	int n = env ? atoi(env) : RESTARTS_DEFAULT;
	uint32_t lost_kill = 0, max_lost = 0, nterm = 0, nkill = 0;

	if (n < 2 || n > MAX_RESTARTS)
		n = RESTARTS_DEFAULT;
	rs_stream(r, BETWEEN_MIN);
	for (int i = 0; i < n; i++) {
		int sig = i % 2 ? SIGKILL : SIGTERM;
		/* A burst posted without receiving: the signal finds some of
		 * it taken and some not. */
		uint32_t burst = 1 + next_rand(r) % 64;
		for (uint32_t k = 0; k < burst && rs_send(r); k++)
			;
		rs_restart(r, sig);
		r->lost_now = 0;
		rs_stream(r, BETWEEN_MIN + next_rand(r) % BETWEEN_SPAN);
		if (sig == SIGTERM && r->lost_now) {
			show_stats();
			fail_msg("%s: restart %d (SIGTERM) lost %u frames", name,
				 i, r->lost_now);
		}
		if (sig == SIGTERM)
			nterm++;
		else
			nkill++;
		lost_kill += r->lost_now;
		if (r->lost_now > max_lost)
			max_lost = r->lost_now;
	}
	assert_int_equal(r->dups, 0);
	assert_int_equal(r->bad, 0);
	assert_int_equal(r->nout[0], nterm);
	assert_int_equal(r->nout[1], nkill);
	for (int k = 0; k < 2; k++)
		qsort(r->outage[k], r->nout[k], sizeof(double), cmp_d);
	print_message("%s: %u frames; %u SIGTERM restarts: 0 lost, signal to "
		      "first frame back median %.1f ms, max %.1f ms; %u kill -9: "
		      "%u frames lost (at most %u in one), median %.1f ms, max "
		      "%.1f ms\n", name, r->sent, nterm,
		      r->outage[0][nterm / 2] * 1e3,
		      r->outage[0][nterm - 1] * 1e3, nkill, lost_kill, max_lost,
		      r->outage[1][nkill / 2] * 1e3,
		      r->outage[1][nkill - 1] * 1e3);
}

static struct rs g;

static int teardown(void **state)
{
	char cmd[100];

	(void)state;
	if (g.proc.pid > 0) {
		kill(g.proc.pid, SIGKILL);
		waitpid(g.proc.pid, NULL, 0);
	}
	if (g.packed)
		pd_destroy(&g.p);
	vu_drv_destroy(g.d);
	vu_front_close(g.f);
	if (g.lfd > 0)
		close(g.lfd);
	if (getenv("VHOSTD_KEEP"))
		return 0;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return -1;
	memset(&g, 0, sizeof(g));
	return 0;
}

static void test_split_mrg_restarts_lose_nothing_on_sigterm(void **state)
{
	(void)state;
	rs_up(&g, false, BIT_ULL(VIRTIO_NET_F_MRG_RXBUF) |
	      BIT_ULL(VIRTIO_RING_F_EVENT_IDX), 512);
	rs_run(&g, "split, mergeable, event-idx");
}

static void test_split_restarts_lose_nothing_on_sigterm(void **state)
{
	(void)state;
	rs_up(&g, false, 0, 2048);
	rs_run(&g, "split");
}

static void test_packed_restarts_lose_nothing_on_sigterm(void **state)
{
	(void)state;
	rs_up(&g, true, 0, 0);
	rs_run(&g, "packed");
}

/*
 * A front-end that lost a packed ring's position (QEMU after its back-end
 * went away: it sends the base of the ring's first start again) restarts
 * the rings at position 0 of lap 1 after 50 frames.  The TX descriptor
 * there was used in that lap: vhostd refuses the ring with the reason and
 * writes nothing.  (The RX one was made available again by the driver:
 * that cannot be told from a good base.)
 */
static void test_packed_stale_base_refused(void **state)
{
	struct rs *r = &g;
	uint32_t got;
	int st;

	(void)state;
	rs_up(r, true, 0, 0);
	rs_stream(r, 50);
	got = r->got;
	assert_int_equal(kill(r->proc.pid, SIGKILL), 0);
	wait_closed(r);
	assert_true(wait_exit(r->proc.pid, &st));
	vhostd_run(r);
	assert_int_equal(vu_front_reaccept(r->f, r->lfd, 5000), 0);
	assert_int_equal(vu_front_negotiate(r->f, r->features,
					    VU_FRONT_PROTOCOL_DEFAULT), 0);
	assert_int_equal(vu_front_set_mem_table(r->f), 0);
	/* RX: the driver made the buffers there available again (lap 0),
	 * which a good base can find too: taken, and nothing comes. */
	assert_int_equal(vu_front_vring_restart(r->f, 0, 0x80008000u), 0);
	assert_int_equal(vu_front_vring_restart(r->f, 1, 0x80008000u),
			 -EINVAL);
	msleep(20);
	assert_true(log_has(log_path, "ring 1 base 0x80008000 is stale",
			    "already used in lap 1"));
	rs_poll(r);
	assert_int_equal(r->got, got);
	assert_int_equal(r->dups, 0);
	assert_true(vhostd_alive(&r->proc));
}

/*
 * A front-end that read the split rings' used indices too early (QEMU on
 * the close event while the old back-end still moved them) restarts them
 * 20 entries behind: vhostd resumes at the used index in guest memory,
 * says so, and the stream goes on with nothing used twice.
 */
static void test_split_stale_base_resumes_at_used_index(void **state)
{
	struct rs *r = &g;
	uint32_t base[2];
	int st;

	(void)state;
	rs_up(r, false, 0, 2048);
	rs_stream(r, 300);
	assert_int_equal(kill(r->proc.pid, SIGKILL), 0);
	wait_closed(r);
	assert_true(wait_exit(r->proc.pid, &st));
	for (uint32_t i = 0; i < 2; i++)
		base[i] = (uint16_t)(vu_front_split_used_idx(r->f, i) - 20);
	vhostd_run(r);
	assert_int_equal(vu_front_reaccept(r->f, r->lfd, 5000), 0);
	rs_attach(r, base);
	rs_stream(r, 1000);
	msleep(20);
	assert_true(log_has(log_path, "ring 0: base", "resuming at"));
	assert_true(log_has(log_path, "ring 1: base", "resuming at"));
	assert_int_equal(r->dups, 0);
	assert_int_equal(r->bad, 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(
			test_split_mrg_restarts_lose_nothing_on_sigterm,
			teardown),
		cmocka_unit_test_teardown(
			test_split_restarts_lose_nothing_on_sigterm, teardown),
		cmocka_unit_test_teardown(
			test_packed_restarts_lose_nothing_on_sigterm, teardown),
		cmocka_unit_test_teardown(test_packed_stale_base_refused,
					  teardown),
		cmocka_unit_test_teardown(
			test_split_stale_base_resumes_at_used_index, teardown),
	};

	if (argc < 3) {
		fprintf(stderr, "usage: %s VHOSTD VHOSTCTL\n", argv[0]);
		return 2;
	}
	vhostd_bin = argv[1];
	vhostctl_bin = argv[2];
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
