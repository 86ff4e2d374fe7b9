/* SPDX-License-Identifier: MIT */
/*
 * test_fdstore.c: vhostd restarted under traffic through the service
 * manager's fd store (issue 20 part 2; vhostd_fdstore.h), with a
 * front-end for which any disconnect is fatal.
 *
 * The test is the service manager (fdstore_sup.h: NOTIFY_SOCKET with
 * SCM_RIGHTS in, LISTEN_FDS/LISTEN_FDNAMES from fd 3 out) and the
 * front-end (it listens, vhostd's port is ",client").  One guest on a
 * --reflect port streams numbered frames (test_restart.c's stream, copied:
 * the same checks); every few hundred frames, after a burst posted
 * without waiting, vhostd gets SIGTERM or SIGKILL (alternately) from a
 * child 0-2 ms later while the guest keeps streaming, so that the signal
 * lands anywhere in vhostd's work; the supervisor starts the next one
 * with the stored fds.  The front-end does
 * nothing: it never negotiates again, and fails the test if its
 * connection closes or a new one arrives.  Checked: no id the guest did
 * not post, nothing twice, frames intact and in order, SIGTERM loses
 * nothing, kill -9 at most what was in flight; the new vhostd logs that it
 * rebuilt the device.  Prints the outage from the signal to the first
 * frame back (median, max).  VHOSTD_RESTARTS=N (default 10).
 *
 * A packed ring has no position in guest memory: SIGTERM records it with
 * the workers halted, and the workers publish it at every flush in the
 * state memfd's positions area (datapath/vq_pos.h), so packed restarts go
 * unnoticed after kill -9 too (mergeable receive buffers of two
 * descriptors or not; transmit chains of one and two), and a receive
 * flush cut short by the kill (made on purpose) is completed by the next
 * vhostd: its frames arrive once.  A corrupt
 * positions area or state memfd is refused from the store with a log
 * line and takes the reconnect path (its connection closes); junk in the
 * store is removed; a request in flight is answered.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "guest_util.h"
#include "packed_drv.h"
#include "fdstore_sup.h"
#include "control/backend/vu_state.h"

#define RESTARTS_DEFAULT 10
#define BETWEEN_MIN 200u        /* frames streamed between restarts */
#define BETWEEN_SPAN 800u
#define MAX_RESTARTS 10000

static const char *vhostd_bin, *vhostctl_bin;
static char dir[64], sock_path[128], log_path[160], ctl_path[160],
	    notify_path[160];
static struct sup sup;
static bool server_mode;        /* vhostd listens, the front-end connects */

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
	uint32_t rebuilt;            /* restarts the log says were seamless */
	uint32_t window;            /* frames in flight at most */
	uint32_t sent;              /* frames posted */
	uint32_t next;              /* lowest seq that may still come */
	uint32_t got, bad, dups, lost;
	uint32_t lost_now;          /* frames skipped since the last restart */
	uint32_t rng;
	bool back;                  /* a frame came since the last restart */
	int sig;                    /* of the last restart */
	double t_sig;
	double t_spawn;             /* the next vhostd started */
	double from_start[MAX_RESTARTS];   /* its start to the first frame */
	uint32_t nstart;
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
		r->from_start[r->nstart++] = now_s() - r->t_spawn;
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
	double moved = now_s();

	while (r->sent < end) {
		if (rs_send(r)) {
			moved = now_s();
			continue;
		}
		uint32_t next = r->next;
		rs_poll(r);
		if (r->next != next)
			moved = now_s();
		else if (now_s() - moved > IO_MS / 1e3)
			fail_msg("stream stuck: %u sent, %u next (vhostd log "
				 "%s)", r->sent, r->next, log_path);
		else
			usleep(100);
	}
	rs_drain(r);
}


/* Lines of path holding what (vhostd appends: one log per test). */
#define READY_LINE "moves frames again (or had a second to): READY=1"

static int log_count(const char *path, const char *what)
{
	char line[1024];
	int n = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, what) != NULL;
	fclose(f);
	return n;
}

static char *const *vhostd_args(void)
{
	static char spec[200];
	static char *args[] = {"--port", spec, "--reflect", "g", "--control",
			       ctl_path, NULL};

	snprintf(spec, sizeof(spec), "g=vhost:%s%s", sock_path,
		 server_mode ? "" : ",client");
	unlink(ctl_path);   /* a killed vhostd leaves it */
	return args;
}

static void vhostd_run(struct rs *r)
{
	pid_t pid = sup_spawn(&sup, vhostd_bin, log_path, vhostd_args());

	assert_true(pid > 0);
	r->proc.pid = pid;
	snprintf(r->proc.log, sizeof(r->proc.log), "%s", log_path);
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
	snprintf(dir, sizeof(dir), "/tmp/vhostd-fs.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(sock_path, sizeof(sock_path), "%s/g.sock", dir);
	snprintf(log_path, sizeof(log_path), "%s/vhostd.log", dir);
	snprintf(ctl_path, sizeof(ctl_path), "%s/ctl.sock", dir);
	snprintf(notify_path, sizeof(notify_path), "%s/notify", dir);
	assert_int_equal(sup_init(&sup, notify_path), 0);
	r->lfd = server_mode ? -1 : vu_front_listen(sock_path);
	assert_true(server_mode || r->lfd >= 0);
	vhostd_run(r);
	if (server_mode)
		assert_int_equal(vu_front_connect(&r->f, sock_path, 5000,
						  IO_MS), 0);
	else
		assert_int_equal(vu_front_accept_on(&r->f, r->lfd, 5000,
						    IO_MS), 0);
	assert_int_equal(vu_front_negotiate(r->f, r->features,
					    VU_FRONT_PROTOCOL_DEFAULT), 0);
	assert_int_equal(vu_front_mem_init(r->f, &mo), 0);
	assert_int_equal(vu_front_set_mem_table(r->f), 0);
	assert_int_equal(vu_front_setup_queues(r->f, 1, 256), 0);
	if (packed && (extra & BIT_ULL(VIRTIO_NET_F_MRG_RXBUF))) {
		/* 512-byte receive buffers of two descriptors: a frame
		 * takes up to 3 of the 128 buffers. */
		assert_int_equal(pd_create_rx(&r->p, r->f, 0, rxbuf, 2, true),
				 0);
		r->window = 128 / ((PD_FRAME_MAX + 12 + rxbuf - 1) / rxbuf);
	} else if (packed) {
		assert_int_equal(pd_create(&r->p, r->f, 0), 0);
		r->window = 128;   /* TX chains of up to two descriptors */
	} else {
		assert_int_equal(vu_drv_create(&r->d, r->f, &(struct vu_drv_opts){
			.rx_buf_size = rxbuf}), 0);
		r->window = 256 / ((PD_FRAME_MAX + 12 + rxbuf - 1) / rxbuf);
	}
}

/* Any disconnect is fatal: the connection open, no new one waiting. */
static bool front_closed(struct rs *r)
{
	struct pollfd p[2] = {{.fd = vu_front_sock(r->f), .events = POLLIN},
			      {.fd = r->lfd, .events = POLLIN}};
	char c;

	if (poll(p, 2, 0) < 0)
		return true;
	if ((p[0].revents & (POLLIN | POLLHUP)) &&
	    recv(p[0].fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) == 0)
		return true;
	return p[1].revents & POLLIN;   /* a vhostd connecting again */
}

/* Wait up to IO_MS for pid to exit, the guest's driver running. */
static bool wait_exit(struct rs *r, int *st)
{
	int pfd = sup_pidfd(r->proc.pid);
	bool done = false;

	for (int ms = 0; ms < IO_MS && !done; ms++) {
		pid_t w = waitpid(r->proc.pid, st, WNOHANG);
		done = w == r->proc.pid;
		assert_true(done || w == 0);
		if (done)
			break;
		rs_poll(r);
		/* Woken at its exit, as a service manager is. */
		(void)poll(&(struct pollfd){.fd = pfd, .events = POLLIN}, 1,
			   1);
	}
	if (pfd >= 0)
		close(pfd);
	return done;
}

/* Wait up to IO_MS for pid to exit, the guest streaming meanwhile. */
static bool stream_until_exit(struct rs *r, int *st)
{
	for (double end = now_s() + IO_MS / 1e3; now_s() < end;) {
		pid_t w = waitpid(r->proc.pid, st, WNOHANG);
		if (w == r->proc.pid)
			return true;
		assert_int_equal(w, 0);
		for (int k = 0; k < 8 && rs_send(r); k++)
			;
		rs_poll(r);
		usleep(50);
	}
	return false;
}

/* sig for vhostd from a child, after us microseconds: meanwhile this
 * process keeps the guest streaming, so the signal lands anywhere in
 * vhostd's work (a copy, a flush, a park).  The child writes the time it
 * sent it on fd. */
static pid_t signal_later(pid_t pid, int sig, uint32_t us, int fd)
{
	pid_t k = fork();

	if (k == 0) {
		usleep(us);
		double t = now_s();
		kill(pid, sig);
		_exit(write(fd, &t, sizeof(t)) == sizeof(t) ? 0 : 1);
	}
	return k;
}

/* Signal vhostd, let the supervisor start the next one with the store. */
static void rs_restart(struct rs *r, int sig)
{
	int st, ks, pfd[2];

	r->sig = sig;
	sup_drain(&sup);
	assert_int_equal(pipe(pfd), 0);
	pid_t k = signal_later(r->proc.pid, sig, next_rand(r) % 2000, pfd[1]);
	assert_true(k > 0);
	close(pfd[1]);
	bool gone = stream_until_exit(r, &st);
	assert_int_equal(waitpid(k, &ks, 0), k);
	assert_int_equal(read(pfd[0], &r->t_sig, sizeof(r->t_sig)),
			 sizeof(r->t_sig));
	close(pfd[0]);
	if (!gone) {
		kill(r->proc.pid, SIGKILL);
		waitpid(r->proc.pid, NULL, 0);
		fail_msg("vhostd still running %d ms after signal %d; log %s",
			 IO_MS, sig, log_path);
	}
	if (sig == SIGTERM && (!WIFEXITED(st) || WEXITSTATUS(st) != 0))
		fail_msg("vhostd did not exit 0 on SIGTERM (status 0x%x); log "
			 "%s", st, log_path);
	sup_drain(&sup);   /* what it sent before it died */
	if (front_closed(r))
		fail_msg("the front-end saw a disconnect (signal %d); log %s",
			 sig, log_path);
	r->t_spawn = now_s();
	vhostd_run(r);
	r->back = false;   /* what the old vhostd used does not count */
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void rs_stream_checked(struct rs *r, uint32_t n)
{
	rs_stream(r, n);
	sup_drain(&sup);
	if (front_closed(r))
		fail_msg("the front-end saw a disconnect; log %s", log_path);
}

/*
 * READY=1 follows a restart's first frames: the line saying so is the
 * n-th, written after the n-th "frames moving again" line (the control
 * thread writes both, in that order), and the manager has had `told`
 * READY=1 in all.
 */
static void rs_ready_after_frames(int n, unsigned told)
{
	for (int ms = 0; ms < IO_MS && (log_count(log_path, READY_LINE) < n ||
					sup.ready < told); ms++) {
		msleep(1);
		sup_drain(&sup);
	}
	if (log_count(log_path, READY_LINE) != n || sup.ready != told)
		fail_msg("restart %d: READY=1 not told once (%u in all); log %s",
			 n, sup.ready, log_path);
	if (log_count(log_path, "frames moving again") +
	    log_count(log_path, "no frame in the first second") < n)
		fail_msg("restart %d: READY=1 before the frames; log %s", n,
			 log_path);
}

static void rs_run(struct rs *r, const char *name)
{
	const char *env = getenv("VHOSTD_RESTARTS");
	int n = env ? atoi(env) : RESTARTS_DEFAULT;
	uint32_t lost_kill = 0, max_lost = 0, nterm = 0, nkill = 0;

	if (n < 2 || n > MAX_RESTARTS)
		n = RESTARTS_DEFAULT;
	rs_stream_checked(r, BETWEEN_MIN);
	for (int i = 0; i < n; i++) {
		int sig = i % 2 ? SIGKILL : SIGTERM;
		uint32_t burst = 1 + next_rand(r) % 64;
		for (uint32_t k = 0; k < burst && rs_send(r); k++)
			;
		rs_restart(r, sig);
		r->lost_now = 0;
		rs_stream_checked(r, BETWEEN_MIN + next_rand(r) % BETWEEN_SPAN);
		if (log_count(log_path, "device rebuilt from the stored "
			      "state") != i + 1)
			fail_msg("%s: restart %d: no rebuild in %s", name, i,
				 log_path);
		/* vhostd looks at the counters once a millisecond. */
		for (int ms = 0; ms < 100 && log_count(log_path, "frames "
				"moving again") != i + 1; ms++)
			msleep(1);
		if (log_count(log_path, "frames moving again") != i + 1)
			fail_msg("%s: restart %d: no 'frames moving again' "
				 "line in %s", name, i, log_path);
		rs_ready_after_frames(i + 1, i + 2);
		if (sig == SIGTERM && r->lost_now)
			fail_msg("%s: restart %d (SIGTERM) lost %u frames", name,
				 i, r->lost_now);
		if (r->lost_now > r->window)
			fail_msg("%s: restart %d lost %u frames, more than "
				 "were in flight (%u)", name, i, r->lost_now,
				 r->window);
		if (sig == SIGTERM)
			nterm++;
		else
			nkill++;
		lost_kill += r->lost_now;
		if (r->lost_now > max_lost)
			max_lost = r->lost_now;
	}
	if (log_has(log_path, "Sanitizer", NULL) ||
	    log_has(log_path, "runtime error", NULL))
		fail_msg("sanitizer report in vhostd's log %s", log_path);
	if (r->packed)
		print_message("%s: %d flush(es) cut short by kill -9 completed "
			      "by the next vhostd\n", name,
			      log_count(log_path, "flush the previous vhostd "
					"was in completed"));
	assert_int_equal(r->dups, 0);
	assert_int_equal(r->bad, 0);
	assert_int_equal(r->nout[0], nterm);
	assert_int_equal(r->nout[1], nkill);
	uint32_t nk = nkill ? nkill : 1;   /* SIGTERM only: print 0 */
	if (!nkill)
		r->outage[1][0] = 0;
	for (int k = 0; k < 2; k++)
		qsort(r->outage[k], r->nout[k], sizeof(double), cmp_d);
	qsort(r->from_start, r->nstart, sizeof(double), cmp_d);
	print_message("%s: the new vhostd's exec to the first frame back: "
		      "median %.1f ms, max %.1f ms\n", name,
		      r->from_start[r->nstart / 2] * 1e3,
		      r->from_start[r->nstart - 1] * 1e3);
	print_message("%s: %u frames, 0 disconnects; %u SIGTERM restarts: 0 "
		      "lost, signal to first frame back median %.1f ms, max "
		      "%.1f ms; %u kill -9: %u frames lost (at most %u in one), "
		      "median %.1f ms, max %.1f ms; store: %u fds stored, %u "
		      "removed, %d held\n", name, r->sent, nterm,
		      r->outage[0][nterm / 2] * 1e3,
		      r->outage[0][nterm - 1] * 1e3, nkill, lost_kill, max_lost,
		      r->outage[1][nk / 2] * 1e3,
		      r->outage[1][nk - 1] * 1e3, sup.stored, sup.removed,
		      sup.n);
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
	for (int i = 0; i < sup.n; i++)
		close(sup.e[i].fd);
	close(sup.sock);
	memset(&sup, 0, sizeof(sup));
	server_mode = false;
	if (getenv("VHOSTD_KEEP"))
		return 0;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return -1;
	memset(&g, 0, sizeof(g));
	return 0;
}

static void test_split_mrg_restarts_unnoticed(void **state)
{
	(void)state;
	rs_up(&g, false, BIT_ULL(VIRTIO_NET_F_MRG_RXBUF) |
	      BIT_ULL(VIRTIO_RING_F_EVENT_IDX), 512);
	rs_run(&g, "split mergeable, event idx");
}

static void test_split_restarts_unnoticed(void **state)
{
	(void)state;
	rs_up(&g, false, 0, 2048);
	rs_run(&g, "split");
}

/* vhostd listens: the listening socket is kept too, and still answers
 * (a second front-end is turned away: the first one is attached). */
static void test_server_mode_restarts_unnoticed(void **state)
{
	struct vu_front *f2 = NULL;

	(void)state;
	server_mode = true;
	rs_up(&g, false, 0, 2048);
	rs_run(&g, "split, vhostd listening");
	assert_int_equal(vu_front_connect(&f2, sock_path, 1000, IO_MS), 0);
	for (int ms = 0; ms < IO_MS && !log_has(log_path, "a second "
						"front-end connected", NULL); ms++)
		msleep(1);
	assert_true(log_has(log_path, "a second front-end connected", NULL));
	vu_front_close(f2);
}

static bool sup_has(const char *name)
{
	for (int i = 0; i < sup.n; i++)
		if (!strcmp(sup.e[i].name, name))
			return true;
	return false;
}

/* Fds in the store that vhostd did not put there (another port's, ids
 * out of range, no name it knows): left alone by the rebuild, then
 * removed from the store. */
static void test_junk_in_store_removed(void **state)
{
	const char *junk[] = {"g/f999999", "g/f4294967296", "g/fx", "g/f",
			      "nosuch/state", "garbage", "g/state2"};
	int st;

	(void)state;
	rs_up(&g, false, 0, 2048);
	rs_stream_checked(&g, BETWEEN_MIN);
	kill(g.proc.pid, SIGKILL);
	assert_true(wait_exit(&g, &st));
	sup_drain(&sup);
	for (unsigned i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		sup_add(&sup, junk[i], eventfd(0, EFD_CLOEXEC));
	vhostd_run(&g);
	g.back = true;
	rs_stream_checked(&g, BETWEEN_MIN);
	assert_int_equal(log_count(log_path, "device rebuilt"), 1);
	for (unsigned i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		if (sup_has(junk[i]))
			fail_msg("%s still in the store", junk[i]);
	assert_int_equal(g.dups, 0);
	assert_int_equal(g.bad, 0);
}

/* Wait for the front-end's connection to close (the reconnect path). */
static void wait_closed(struct rs *r)
{
	for (int ms = 0; ms < IO_MS; ms++) {
		sup_drain(&sup);
		if (front_closed(r))
			return;
		msleep(1);
	}
	fail_msg("the connection stayed open; log %s", log_path);
}

/* Packed rings: SIGTERM records each position with the workers done;
 * after kill -9 the positions the workers published are taken. */
static void test_packed_restarts_unnoticed(void **state)
{
	(void)state;
	rs_up(&g, true, 0, 2048);
	rs_run(&g, "packed");
}

static void test_packed_mrg_restarts_unnoticed(void **state)
{
	(void)state;
	rs_up(&g, true, BIT_ULL(VIRTIO_NET_F_MRG_RXBUF) |
	      BIT_ULL(VIRTIO_RING_F_EVENT_IDX), 512);
	rs_run(&g, "packed mergeable, event idx");
}

/* The state memfd of the last (killed) vhostd. */
static int state_fd(void)
{
	for (int i = 0; i < sup.n; i++)
		if (strstr(sup.e[i].name, "/state"))
			return sup.e[i].fd;
	fail_msg("no state memfd in the store");
	return -1;
}

/* Packed, streaming, then kill -9; corrupt() spoils the positions area
 * of the state memfd; the next vhostd must refuse the device with why
 * in its log and take the reconnect path, then serve a new front-end. */
static void packed_positions_refused(void (*corrupt)(int fd), const char *why)
{
	struct vu_front *f2 = NULL;
	int st;

	rs_up(&g, true, 0, 2048);
	rs_stream_checked(&g, BETWEEN_MIN);
	kill(g.proc.pid, SIGKILL);
	assert_true(wait_exit(&g, &st));
	sup_drain(&sup);
	corrupt(state_fd());
	vhostd_run(&g);
	wait_closed(&g);
	if (!log_has(log_path, why, NULL))
		fail_msg("no \"%s\" in %s", why, log_path);
	assert_true(log_has(log_path, "its front-end must reconnect", NULL));
	assert_int_equal(log_count(log_path, "device rebuilt"), 0);
	if (log_has(log_path, "Sanitizer", NULL) ||
	    log_has(log_path, "runtime error", NULL))
		fail_msg("sanitizer report in vhostd's log %s", log_path);
	assert_int_equal(vu_front_accept_on(&f2, g.lfd, 5000, IO_MS), 0);
	assert_int_equal(vu_front_negotiate(f2, g.features,
					    VU_FRONT_PROTOCOL_DEFAULT), 0);
	vu_front_close(f2);
}

static off_t slot_at(uint32_t ring)
{
	return (off_t)(vu_state_pos_offset() +
		       offsetof(struct vu_state_pos_area, slot) +
		       ring * sizeof(struct vq_pos));
}

/*
 * A kill -9 in the middle of a receive flush, made on purpose: after the
 * kill, the test plays the old worker cut short.  Three more frames of
 * the stream "reflected" into the next three receive buffers, the RX
 * ring's slot saying a flush of those three is in progress (the batch
 * and its end: datapath/vq_pos.h), and of its used descriptors only the
 * second written (vq_packed.c writes them in order, the first one last).
 * The next vhostd must complete it: all three frames arrive, once, in
 * order, and the stream goes on (a redo from the start would find the
 * second used and stall; completing only the first would leave the
 * driver waiting on the third).
 */
static void test_packed_flush_cut_short_completed(void **state)
{
	static uint8_t f[PD_FRAME_MAX];
	static struct vq_pos slot;
	struct pd_ring *rx = &g.p.rx;
	uint16_t pos;
	bool wrap;
	int st, sfd;

	(void)state;
	rs_up(&g, true, 0, 2048);
	rs_stream_checked(&g, BETWEEN_MIN);   /* drained: nothing in flight */
	kill(g.proc.pid, SIGKILL);
	assert_true(wait_exit(&g, &st));
	sup_drain(&sup);
	sfd = state_fd();
	assert_int_equal(pread(sfd, &slot, sizeof(slot), slot_at(0)),
			 sizeof(slot));
	pos = rx->used_pos;
	wrap = rx->used_wrap;
	uint16_t at = (uint16_t)(pos | wrap << 15);
	assert_int_equal(slot.state, VQ_POS_LIVE);
	assert_int_equal(slot.done, at);
	assert_int_equal(slot.pending & 0xffff, at);   /* no flush going on */
	for (uint32_t k = 0; k < 3; k++) {
		struct vring_packed_desc *d = &rx->desc[pos];
		uint32_t seq = g.sent + k;
		uint16_t id = d->id;           /* as posted: one descriptor */
		assert_int_equal(id, (rx->oldest + k) % rx->num);
		fill(f, seq, true);
		uint8_t *b = rx->buf + (size_t)id * PD_STRIDE;
		memset(b, 0, PD_HDR);
		memcpy(b + PD_HDR, f, frame_len(seq));
		slot.batch[k] = (struct vq_packed_used){id, 1,
			PD_HDR + frame_len(seq)};
		if (k == 1) {
			d->id = id;
			d->len = slot.batch[k].len;
			__atomic_store_n(&d->flags, (uint16_t)(VRING_DESC_F_WRITE |
				(wrap ? VRING_PACKED_DESC_F_AVAIL |
					VRING_PACKED_DESC_F_USED : 0)),
				__ATOMIC_RELEASE);
		}
		pd_advance(rx, &pos, &wrap);
	}
	slot.pending = (uint16_t)(pos | wrap << 15) | 3u << 16;
	assert_int_equal(pwrite(sfd, &slot, sizeof(slot), slot_at(0)),
			 sizeof(slot));
	g.sent += 3;                           /* the guest "sent" them */
	vhostd_run(&g);
	g.back = true;   /* not a timed restart */
	rs_drain(&g);
	assert_int_equal(g.next, g.sent);
	assert_true(log_has(log_path, "flush the previous vhostd was in "
			    "completed", NULL));
	rs_stream_checked(&g, BETWEEN_MIN);
	assert_int_equal(log_count(log_path, "device rebuilt"), 1);
	assert_int_equal(g.dups, 0);
	assert_int_equal(g.bad, 0);
	assert_int_equal(g.lost_now, 0);
}

/* TX ring's slot: a used position past the end of the ring. */
static void bad_position(int fd)
{
	uint32_t done = 0xffff;

	assert_int_equal(pwrite(fd, &done, 4, slot_at(1) +
				(off_t)offsetof(struct vq_pos, done)), 4);
}

/* RX ring's slot: a state nobody writes. */
static void bad_state(int fd)
{
	uint32_t junk = 0x6b6b6b6b;

	assert_int_equal(pwrite(fd, &junk, 4, slot_at(0)), 4);
}

/* The area's header: not vhostd's; the device's packed rings have no
 * position. */
static void bad_header(int fd)
{
	assert_int_equal(pwrite(fd, "kkkkkkkk", 8,
				(off_t)vu_state_pos_offset()), 8);
}

static void test_packed_bad_position_refused(void **state)
{
	(void)state;
	packed_positions_refused(bad_position, "ring 1: published position "
				 "0xffff");
}

static void test_packed_bad_slot_state_refused(void **state)
{
	(void)state;
	packed_positions_refused(bad_state, "ring 0: position slot in an "
				 "unknown state");
}

static void test_packed_bad_positions_header_refused(void **state)
{
	(void)state;
	packed_positions_refused(bad_header, "positions area: not vhostd's");
	assert_true(log_has(log_path, "no positions were published", NULL));
}

/* The state memfd overwritten with junk: refused, reconnect path. */
static void test_corrupt_state_refused(void **state)
{
	int st;
	char junk[4096];

	(void)state;
	rs_up(&g, false, 0, 2048);
	rs_stream_checked(&g, BETWEEN_MIN);
	kill(g.proc.pid, SIGKILL);
	assert_true(wait_exit(&g, &st));
	sup_drain(&sup);
	memset(junk, 0x6b, sizeof(junk));
	for (int i = 0; i < sup.n; i++)
		if (strstr(sup.e[i].name, "/state")) {
			assert_int_equal(pwrite(sup.e[i].fd, junk, sizeof(junk),
						0), sizeof(junk));
			/* Both slots (the second after the first's header
			 * and body). */
			off_t second = (off_t)(32 + sizeof(struct vu_state));
			assert_int_equal(pwrite(sup.e[i].fd, junk, sizeof(junk),
						second), sizeof(junk));
		}
	vhostd_run(&g);
	wait_closed(&g);
	assert_true(log_has(log_path, "not a vhostd device state", NULL));
	assert_true(log_has(log_path, "its front-end must reconnect", NULL));
	/* And it serves the front-end's next connection: the reconnect
	 * path, fresh. */
	struct vu_front *f2 = NULL;
	assert_int_equal(vu_front_accept_on(&f2, g.lfd, 5000, IO_MS), 0);
	assert_int_equal(vu_front_negotiate(f2, g.features,
					    VU_FRONT_PROTOCOL_DEFAULT), 0);
	vu_front_close(f2);
}

/* The connection the stored state names taken out of the store (a
 * manager that lost it): refused with its reason, reconnect path. */
static void test_missing_connection_refused(void **state)
{
	int st;

	(void)state;
	rs_up(&g, false, 0, 2048);
	rs_stream_checked(&g, BETWEEN_MIN);
	kill(g.proc.pid, SIGKILL);
	assert_true(wait_exit(&g, &st));
	sup_drain(&sup);
	char name[sizeof(sup.e[0].name)] = "";
	for (int i = 0; i < sup.n && !name[0]; i++) {
		int on = 1;
		socklen_t len = sizeof(on);
		if (getsockopt(sup.e[i].fd, SOL_SOCKET, SO_ACCEPTCONN, &on,
			       &len) == 0 && !on)
			snprintf(name, sizeof(name), "%s", sup.e[i].name);
	}
	assert_true(name[0] != '\0');
	sup_remove(&sup, name);    /* the front-end sees it close now */
	wait_closed(&g);
	vhostd_run(&g);
	const char *said = "names a connection that is not in the store";
	for (int ms = 0; ms < IO_MS && !log_has(log_path, said, NULL); ms++)
		msleep(1);
	assert_true(log_has(log_path, said, NULL));
	assert_true(log_has(log_path, "its front-end must reconnect", NULL));
	struct vu_front *f2 = NULL;
	assert_int_equal(vu_front_accept_on(&f2, g.lfd, 5000, IO_MS), 0);
	assert_int_equal(vu_front_negotiate(f2, g.features,
					    VU_FRONT_PROTOCOL_DEFAULT), 0);
	vu_front_close(f2);
}

/* Killed while handling GET_FEATURES (the record says so, as before()
 * writes it): the next vhostd answers it, the front-end gets its reply
 * and traffic goes on. */
static void test_request_in_flight_answered(void **state)
{
	static struct vu_state st;
	struct vu_msg rep;
	uint64_t seq = 0;
	char why[256];
	int wst, sfd = -1;

	(void)state;
	rs_up(&g, false, 0, 2048);
	rs_stream_checked(&g, BETWEEN_MIN);
	kill(g.proc.pid, SIGKILL);
	assert_true(wait_exit(&g, &wst));
	sup_drain(&sup);
	for (int i = 0; i < sup.n; i++)
		if (strstr(sup.e[i].name, "/state"))
			sfd = sup.e[i].fd;
	assert_true(sfd >= 0);
	assert_int_equal(vu_state_get(sfd, &st, &seq, why, sizeof(why)), 0);
	memset(&st.req, 0, sizeof(st.req));
	st.req.request = VU_REQ_GET_FEATURES;
	st.req.flags = VU_VERSION;
	assert_int_equal(vu_state_put(sfd, &st, seq + 1), 0);
	vhostd_run(&g);
	struct pollfd p = {.fd = vu_front_sock(g.f), .events = POLLIN};
	assert_int_equal(poll(&p, 1, IO_MS), 1);
	assert_int_equal(recv(p.fd, &rep, sizeof(rep.hdr) + 8, 0),
			 sizeof(rep.hdr) + 8);
	assert_int_equal(rep.hdr.request, VU_REQ_GET_FEATURES);
	assert_int_equal(rep.hdr.flags, VU_VERSION | VU_FLAG_REPLY);
	assert_int_equal(rep.hdr.size, 8);
	assert_true(rep.payload.u64 & BIT_ULL(VIRTIO_F_VERSION_1));
	assert_true(log_has(log_path, "handled again", NULL));
	g.back = true;   /* not a restart under traffic: no outage counted */
	rs_stream_checked(&g, BETWEEN_MIN);
	assert_int_equal(g.dups, 0);
	assert_int_equal(g.bad, 0);
}

/* A guest that sends nothing after the restart: READY=1 waits for its
 * second (the first start's came at once), then follows the line that
 * says no frame came. */
static void test_idle_guest_ready_after_its_second(void **state)
{
	int wst;

	(void)state;
	rs_up(&g, false, 0, 2048);
	rs_stream_checked(&g, BETWEEN_MIN);
	for (int ms = 0; ms < IO_MS && sup.ready < 1; ms++) {
		msleep(1);
		sup_drain(&sup);
	}
	assert_int_equal(sup.ready, 1);
	kill(g.proc.pid, SIGKILL);
	assert_true(wait_exit(&g, &wst));
	sup_drain(&sup);
	vhostd_run(&g);
	for (int ms = 0; ms < IO_MS && !log_has(log_path, "device rebuilt "
						"from the stored state", NULL);
	     ms++)
		msleep(1);
	double t0 = now_s();
	while (now_s() - t0 < 0.8) {
		msleep(10);
		sup_drain(&sup);
		assert_int_equal(sup.ready, 1);
	}
	rs_ready_after_frames(1, 2);
	assert_true(log_has(log_path, "no frame in the first second", NULL));
	g.back = true;   /* not a restart under traffic: no outage counted */
	rs_stream_checked(&g, BETWEEN_MIN);
	assert_int_equal(g.dups, 0);
	assert_int_equal(g.bad, 0);
}

/* vhostctl CTL add-port g vhost-fd:7, its fd 7 being fd. */
static void add_fd_port(int fd)
{
	int st;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		if (dup2(fd, 7) < 0)
			_exit(126);
		execl(vhostctl_bin, vhostctl_bin, ctl_path, "add-port", "g",
		      "vhost-fd:7", (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/*
 * A port on a passed socket (vhostctl add-port NAME vhost-fd:N): its
 * connection goes into the store like any other, so a vhostd killed with
 * -9 comes back serving the same connection, device rebuilt, where the
 * config file alone would bring the port back detached.
 */
static void test_fd_port_kept_in_store(void **state)
{
	static char conf[160];
	char *args[] = {"--control", ctl_path, "--config", conf, NULL};
	struct vu_guestmem_opts mo = {.size = 16u << 20, .nregions = 1,
				      .backing = VU_GUESTMEM_MEMFD};
	uint64_t offered = 0;
	int sv[2], st;

	(void)state;
	memset(&g, 0, sizeof(g));
	g.lfd = -1;
	snprintf(dir, sizeof(dir), "/tmp/vhostd-fs.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(log_path, sizeof(log_path), "%s/vhostd.log", dir);
	snprintf(ctl_path, sizeof(ctl_path), "%s/ctl.sock", dir);
	snprintf(conf, sizeof(conf), "%s/vhostd.json", dir);
	snprintf(notify_path, sizeof(notify_path), "%s/notify", dir);
	assert_int_equal(sup_init(&sup, notify_path), 0);
	g.proc.pid = sup_spawn(&sup, vhostd_bin, log_path, args);
	assert_true(g.proc.pid > 0 && wait_path(ctl_path, 5000));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    sv), 0);
	add_fd_port(sv[1]);
	close(sv[1]);
	assert_int_equal(vu_front_new(&g.f, sv[0], IO_MS), 0);
	assert_int_equal(vu_front_negotiate(g.f, BIT_ULL(VIRTIO_F_VERSION_1) |
		BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES),
		VU_FRONT_PROTOCOL_DEFAULT), 0);
	assert_int_equal(vu_front_mem_init(g.f, &mo), 0);
	assert_int_equal(vu_front_set_mem_table(g.f), 0);
	assert_int_equal(vu_front_setup_queues(g.f, 1, 256), 0);
	kill(g.proc.pid, SIGKILL);
	assert_int_equal(waitpid(g.proc.pid, &st, 0), g.proc.pid);
	sup_drain(&sup);
	unlink(ctl_path);
	g.proc.pid = sup_spawn(&sup, vhostd_bin, log_path, args);
	assert_true(g.proc.pid > 0 && wait_path(ctl_path, 5000));
	for (int ms = 0; ms < IO_MS && !log_count(log_path, "device rebuilt");
	     ms++)
		msleep(1);
	assert_int_equal(log_count(log_path, "device rebuilt"), 1);
	/* The same connection, answered by the new vhostd. */
	assert_int_equal(vu_front_get_features(g.f, &offered), 0);
	assert_true(offered & BIT_ULL(VIRTIO_F_VERSION_1));
	assert_int_equal(log_count(log_path, "detached until set-port-fd"),
			 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_split_mrg_restarts_unnoticed,
					  teardown),
		cmocka_unit_test_teardown(test_split_restarts_unnoticed,
					  teardown),
		cmocka_unit_test_teardown(test_packed_restarts_unnoticed,
					  teardown),
		cmocka_unit_test_teardown(test_packed_mrg_restarts_unnoticed,
					  teardown),
		cmocka_unit_test_teardown(test_packed_flush_cut_short_completed,
					  teardown),
		cmocka_unit_test_teardown(test_packed_bad_position_refused,
					  teardown),
		cmocka_unit_test_teardown(test_packed_bad_slot_state_refused,
					  teardown),
		cmocka_unit_test_teardown(
			test_packed_bad_positions_header_refused, teardown),
		cmocka_unit_test_teardown(test_missing_connection_refused,
					  teardown),
		cmocka_unit_test_teardown(test_corrupt_state_refused,
					  teardown),
		cmocka_unit_test_teardown(test_request_in_flight_answered,
					  teardown),
		cmocka_unit_test_teardown(test_server_mode_restarts_unnoticed,
					  teardown),
		cmocka_unit_test_teardown(test_junk_in_store_removed,
					  teardown),
		cmocka_unit_test_teardown(test_idle_guest_ready_after_its_second,
					  teardown),
		cmocka_unit_test_teardown(test_fd_port_kept_in_store,
					  teardown),
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
