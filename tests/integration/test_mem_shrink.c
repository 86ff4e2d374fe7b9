/* SPDX-License-Identifier: MIT */
/*
 * Integration test: a front-end that shrinks the files behind its memory.
 *
 * One vhostd for the whole run:
 *   --port a=vhost:A --port b=vhost:B --reflect a --reflect b
 *   --cores N --log-level info
 * Device b is attached once and reflects traffic through every case: the
 * bystander.  Device a is attached afresh for each case.  The rules:
 *
 *  - A guest region or a dirty log whose file is shorter than offset +
 *    size is refused when it is mapped (SET_MEM_TABLE, ADD_MEM_REG,
 *    SET_LOG_BASE), with one error line naming the sizes.
 *  - A memory or dirty-log file truncated (to 0, or below the mapping's
 *    second half) while a's traffic runs: vhostd stays alive, logs one
 *    error line "a: guest memory lost: ..." naming the mapping and closes
 *    a's connection; b reflects every frame of every round meanwhile and
 *    no error line names b; a then comes back (new connection, new
 *    memory) and reflects again.
 *  - Memory sealed against shrinking (F_SEAL_SHRINK, what QEMU's memfd
 *    backend does by default) is accepted, logged as sealed, and works;
 *    the front-end cannot truncate it.
 *
 * The test process must not touch a's memory once it has cut the file (it
 * would take the SIGBUS itself): after the cut only eventfds and the
 * socket of a are used.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>

#include "control/frontend/vu_drv.h"
#include "control/frontend/vu_front.h"
#include "vhostd_proc.h"

#define IO_MS 3000
#define WAIT_MS 3000           /* for anything the daemon should do now */
#define RING 256u
#define FRAMES 16u             /* per reflect check */
#define FRAME_LEN_MAX 1514u
#define MEM_SIZE (16ull << 20)
#define ROUNDS_AFTER 8         /* b rounds at least, after a's cut */
#define FEATURES (VU_FRONT_FEATURES_DEFAULT |                              \
		  BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC))
#define LOG_FEATURES (FEATURES | BIT_ULL(VHOST_F_LOG_ALL))
#define LOG_PROTOCOL (VU_FRONT_PROTOCOL_DEFAULT |                          \
		      BIT_ULL(VU_PROTOCOL_F_LOG_SHMFD))

/* How a is attached. */
struct up {
	uint32_t nregions;      /* of MEM_SIZE together; 0: 1 */
	bool add_mem_reg;       /* ADD_MEM_REG per region, not SET_MEM_TABLE */
	bool seal;              /* memfd sealed against shrinking */
	uint64_t pad;           /* bytes taken before the rings and buffers */
	int log_fd;             /* >= 0: LOG_ALL and SET_LOG_BASE with it */
	uint64_t log_off;
};

struct dev {
	struct vu_front *f;
	struct vu_drv *d;
};

static const char *vhostd_bin;
static char dir[64], sock_a[128], sock_b[128], logpath[128];
static struct vhostd_proc proc;
static struct dev a, b;
static int idle_fds;
static uint32_t tag_seq;

/* ---- small helpers ---------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/* Lines of the log from byte off on containing s1 (and s2 if not NULL);
 * the first is copied to first (if not NULL). */
static int log_count(long off, const char *s1, const char *s2, char *first,
		     size_t first_len)
{
	char line[1024];
	int n = 0;
	FILE *f = fopen(logpath, "r");

	if (!f)
		return -1;
	if (fseek(f, off, SEEK_SET) != 0) {
		fclose(f);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, s1) && (!s2 || strstr(line, s2))) {
			if (n++ == 0 && first)
				snprintf(first, first_len, "%s", line);
		}
	}
	fclose(f);
	return n;
}

/* "alive", or how vhostd ended (it is reaped the first time). */
static const char *daemon_state(void)
{
	static char state[64] = "alive";
	int st;

	if (proc.pid > 0 && waitpid(proc.pid, &st, WNOHANG) == proc.pid) {
		proc.pid = 0;
		if (WIFSIGNALED(st))
			snprintf(state, sizeof(state), "killed by signal %d "
				 "(%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
		else
			snprintf(state, sizeof(state), "exited with %d",
				 WEXITSTATUS(st));
	}
	return state;
}

static void assert_daemon_ok(void)
{
	if (strcmp(daemon_state(), "alive") != 0)
		fail_msg("vhostd %s; log %s", daemon_state(), logpath);
	if (log_count(0, "runtime error", NULL, NULL, 0) != 0 ||
	    log_count(0, "Sanitizer", NULL, NULL, 0) != 0)
		fail_msg("sanitizer report in %s", logpath);
}

/* Exactly one error line since off with both fragments. */
static void assert_one_error(long off, const char *s1, const char *s2)
{
	char line[1024];
	int n = log_count(off, "level=err ", s1, line, sizeof(line));

	if (n != 1 || (s2 && !strstr(line, s2)))
		fail_msg("want one error line with '%s' and '%s'; got %d, "
			 "first: %s", s1, s2 ? s2 : "", n, n ? line : "-");
}

static int memfd_of(uint64_t size)
{
	int fd = memfd_create("vhostd-test-log", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

/* ---- traffic ---------------------------------------------------------- */

static const uint8_t mac_dst[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t mac_src[6] = {0x02, 0, 0, 0, 0, 0x02};

static void make_frame(uint8_t *f, uint32_t len, uint32_t tag, uint32_t seq,
		       bool reflected)
{
	memcpy(f, reflected ? mac_src : mac_dst, 6);
	memcpy(f + 6, reflected ? mac_dst : mac_src, 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	memcpy(f + 14, &tag, 4);
	memcpy(f + 18, &seq, 4);
	for (uint32_t i = 22; i < len; i++)
		f[i] = (uint8_t)(tag * 7u + seq * 13u + i);
}

static uint32_t frame_len(uint32_t seq)
{
	return 60u + (seq * 97u) % (FRAME_LEN_MAX - 59u);
}

/* One burst of FRAMES frames: what came back of it. */
struct burst {
	uint32_t tag, got, bad;
	char why[160];
};

static void on_rx(void *arg, const struct vu_drv_rx_pkt *pkt)
{
	struct burst *c = arg;
	static uint8_t got[VU_DRV_FRAME_MAX], want[VU_DRV_FRAME_MAX];
	uint32_t seq = c->got++;

	if (seq >= FRAMES) {
		if (c->bad++ == 0)
			snprintf(c->why, sizeof(c->why), "frame %u of %u",
				 seq + 1, FRAMES);
		return;
	}
	uint32_t len = frame_len(seq);
	make_frame(want, len, c->tag, seq, true);
	size_t n = vu_drv_rx_copy(pkt, 0, got, sizeof(got));
	if ((pkt->len != len || n != len || memcmp(got, want, len) != 0) &&
	    c->bad++ == 0)
		snprintf(c->why, sizeof(c->why), "frame %u: len %u, want %u",
			 seq, pkt->len, len);
}

static void burst_send(struct vu_drv *d, struct burst *c)
{
	static uint8_t frames[FRAMES][VU_DRV_FRAME_MAX];
	const void *fp[FRAMES];
	uint32_t lens[FRAMES];

	*c = (struct burst){.tag = ++tag_seq};
	for (uint32_t i = 0; i < FRAMES; i++) {
		lens[i] = frame_len(i);
		make_frame(frames[i], lens[i], c->tag, i, false);
		fp[i] = frames[i];
	}
	assert_int_equal(vu_drv_tx_burst(d, fp, lens, FRAMES), FRAMES);
}

/* Every frame of the burst back, reflected, and every TX slot reclaimed. */
static void burst_collect(struct vu_drv *d, struct burst *c, const char *who)
{
	int64_t end = now_ms() + WAIT_MS;

	while ((c->got < FRAMES || vu_drv_tx_inflight(d) != 0) &&
	       now_ms() < end) {
		unsigned n = vu_drv_rx_poll(d, 64, on_rx, c);
		n += vu_drv_tx_reclaim(d);
		if (n == 0)
			usleep(100);
	}
	vu_drv_rx_poll(d, 64, on_rx, c);
	if (vu_drv_broken(d))
		fail_msg("%s: the front-end's driver saw a broken ring", who);
	if (c->bad)
		fail_msg("%s: %u bad frames; %s", who, c->bad, c->why);
	if (c->got != FRAMES || vu_drv_tx_inflight(d) != 0)
		fail_msg("%s: %u of %u frames came back, %u TX in flight; "
			 "vhostd %s; log %s", who, c->got, FRAMES,
			 vu_drv_tx_inflight(d), daemon_state(), logpath);
}

static void reflect_ok(struct vu_drv *d, const char *who)
{
	struct burst c;

	burst_send(d, &c);
	burst_collect(d, &c, who);
}

/* ---- devices ---------------------------------------------------------- */

/* Connect and negotiate; with a log, LOG_ALL and LOG_SHMFD. */
static void dev_connect(struct dev *v, const char *path, bool log)
{
	uint64_t feat = log ? LOG_FEATURES : FEATURES;

	memset(v, 0, sizeof(*v));
	assert_int_equal(vu_front_connect(&v->f, path, 3000, IO_MS), 0);
	assert_int_equal(vu_front_negotiate(v->f, feat, log ? LOG_PROTOCOL :
					    VU_FRONT_PROTOCOL_DEFAULT), 0);
	assert_int_equal(vu_front_features_acked(v->f), feat);
}

static void dev_mem(struct dev *v, const struct up *o)
{
	struct vu_guestmem_opts mo = {.size = MEM_SIZE,
				      .nregions = o->nregions ? o->nregions : 1,
				      .seal = o->seal};

	assert_int_equal(vu_front_mem_init(v->f, &mo), 0);
}

/* Attach v as o says, one queue pair of RING entries, and its driver. */
static void dev_up(struct dev *v, const char *path, const struct up *o)
{
	dev_connect(v, path, o->log_fd >= 0);
	dev_mem(v, o);
	if (o->add_mem_reg)
		for (uint32_t i = 0; i < (o->nregions ? o->nregions : 1); i++)
			assert_int_equal(vu_front_add_mem_reg(v->f, i), 0);
	else
		assert_int_equal(vu_front_set_mem_table(v->f), 0);
	if (o->log_fd >= 0)
		assert_int_equal(vu_front_set_log_base(v->f, o->log_fd, 4096,
						       o->log_off), 0);
	if (o->pad)
		assert_non_null(vu_guestmem_alloc(vu_front_mem(v->f), o->pad,
						  4096, NULL));
	assert_int_equal(vu_front_setup_queues(v->f, 1, RING), 0);
	struct vu_drv_opts dopt = {.pair = 0};
	assert_int_equal(vu_drv_create(&v->d, v->f, &dopt), 0);
}

static void dev_down(struct dev *v)
{
	vu_drv_destroy(v->d);
	vu_front_close(v->f);
	memset(v, 0, sizeof(*v));
}

static int a_attached(void)
{
	return log_count(0, " a: front-end connected", NULL, NULL, 0) -
	       log_count(0, " a: front-end ", "; device reset", NULL, 0);
}

/* Detach a (if attached) and wait until vhostd has reset it: a new
 * connection made before that would be turned away. */
static int case_teardown(void **state)
{
	(void)state;
	if (a.f)
		dev_down(&a);
	int64_t end = now_ms() + WAIT_MS;
	while (a_attached() != 0 && now_ms() < end)
		msleep(2);
	if (a_attached() != 0) {
		fprintf(stderr, "vhostd did not detach a; log %s\n", logpath);
		return -1;
	}
	return 0;
}

/* The region fd of slot i of v's memory (the test's own). */
static int region_fd(struct dev *v, uint32_t i)
{
	const struct vu_guestmem_region *r =
		vu_guestmem_region(vu_front_mem(v->f), i);

	assert_non_null(r);
	return r->fd;
}

/* ---- refused at map time ---------------------------------------------- */

/* Two regions of 8 MiB from one file at offsets 0 and 8 MiB; the file cut
 * to 12 MiB: region 1's offset + size is 4 MiB past its end. */
static void cut_second_region(struct dev *v)
{
	struct up o = {.nregions = 2, .log_fd = -1};

	dev_connect(v, sock_a, false);
	dev_mem(v, &o);
	assert_int_equal(ftruncate(region_fd(v, 1), 12 << 20), 0);
}

static void assert_short_region_refused(long off)
{
	assert_one_error(off, " a: region gpa 0x", "offset 0x800000 + size "
			 "0x800000 is past the end of the file (0xc00000 "
			 "bytes)");
	assert_daemon_ok();
	reflect_ok(b.d, "b");
}

static void test_region_past_end_of_file_refused_by_set_mem_table(
	void **state)
{
	(void)state;
	cut_second_region(&a);
	long off = file_size(logpath);
	assert_int_equal(vu_front_set_mem_table(a.f), -EINVAL);
	assert_short_region_refused(off);
}

static void test_region_past_end_of_file_refused_by_add_mem_reg(void **state)
{
	(void)state;
	cut_second_region(&a);
	assert_int_equal(vu_front_add_mem_reg(a.f, 0), 0);
	long off = file_size(logpath);
	assert_int_equal(vu_front_add_mem_reg(a.f, 1), -EINVAL);
	assert_short_region_refused(off);
}

static void test_dirty_log_past_end_of_file_refused_by_set_log_base(
	void **state)
{
	(void)state;
	struct up o = {.log_fd = -1};
	int fd = memfd_of(4096);

	dev_connect(&a, sock_a, true);
	dev_mem(&a, &o);
	assert_int_equal(vu_front_set_mem_table(a.f), 0);
	long off = file_size(logpath);
	/* A reply was asked for: the refusal closes the connection. */
	assert_true(vu_front_set_log_base(a.f, fd, 4096, 4096) < 0);
	close(fd);
	assert_one_error(off, " a: dirty log: offset 0x1000 + size 0x1000 is "
			 "past the end of the file (0x1000 bytes)", NULL);
	assert_daemon_ok();
	reflect_ok(b.d, "b");
}

/* ---- cut after mapping ------------------------------------------------ */

/*
 * Attach a as o says, check both devices reflect, then with a burst of
 * each in flight cut the file (a's memory or its dirty log) to size and
 * make vhostd touch it.  b must reflect every frame of that burst and of
 * ROUNDS_AFTER more while vhostd fails a (one error line with want, a's
 * socket closed); then a comes back.
 */
static void cut_while_running(const struct up *o, bool cut_log,
			      off_t size, const char *want)
{
	struct burst cb;
	struct vu_msg msg;
	char who[64];

	dev_up(&a, sock_a, o);
	reflect_ok(a.d, "a before");
	reflect_ok(b.d, "b before");
	long off = file_size(logpath);

	struct burst ca;
	burst_send(b.d, &cb);
	burst_send(a.d, &ca);
	int fd = cut_log ? o->log_fd : region_fd(&a, 0);
	assert_int_equal(ftruncate(fd, size), 0);
	/* The burst may be through already: touch the cut file again.  Any
	 * look at a's rings reads cut memory; the dirty log is written when
	 * a frame lands in a's RX ring (a's memory is intact: send one). */
	if (cut_log)
		burst_send(a.d, &ca);
	assert_int_equal(vu_front_kick(a.f, 1), 0);
	burst_collect(b.d, &cb, "b while a is cut");

	int closed = 0, rounds = 0;
	int64_t end = now_ms() + WAIT_MS;
	while ((!closed || rounds < ROUNDS_AFTER) && now_ms() < end) {
		snprintf(who, sizeof(who), "b round %d after the cut", rounds);
		reflect_ok(b.d, who);
		rounds++;
		if (!closed)
			closed = vu_front_raw_recv(a.f, &msg, 0, NULL, NULL) ==
				 -ECONNRESET;
	}
	if (!closed)
		fail_msg("a's connection still open %d ms after its file was "
			 "cut; log %s", WAIT_MS, logpath);
	assert_one_error(off, " a: guest memory lost: ", want);
	if (log_count(off, "level=err ", " b: ", NULL, 0) != 0)
		fail_msg("an error line names b; log %s", logpath);
	assert_daemon_ok();

	/* The front-end may come back, with memory that stays put. */
	dev_down(&a);
	assert_int_equal(case_teardown(NULL), 0);
	struct up fresh = {.log_fd = -1};
	dev_up(&a, sock_a, &fresh);
	reflect_ok(a.d, "a back");
	reflect_ok(b.d, "b at the end");
	assert_daemon_ok();
}

static void test_memory_file_cut_to_zero_fails_only_its_device(void **state)
{
	(void)state;
	struct up o = {.log_fd = -1};

	cut_while_running(&o, false, 0, "region gpa 0x0-0xffffff");
}

/* The rings and buffers are in the second half: 12 MiB are taken first. */
static void test_memory_file_cut_to_half_fails_only_its_device(void **state)
{
	(void)state;
	struct up o = {.log_fd = -1, .pad = 12 << 20};

	cut_while_running(&o, false, (off_t)(MEM_SIZE / 2),
			  "region gpa 0x0-0xffffff");
}

static void test_added_region_file_cut_to_zero_fails_only_its_device(
	void **state)
{
	(void)state;
	struct up o = {.log_fd = -1, .add_mem_reg = true};

	cut_while_running(&o, false, 0, "region gpa 0x0-0xffffff");
}

static void test_dirty_log_file_cut_to_zero_fails_only_its_device(
	void **state)
{
	(void)state;
	struct up o = {.log_fd = memfd_of(4096)};

	cut_while_running(&o, true, 0, "dirty log");
	close(o.log_fd);
}

/* The log at 64 KiB into a 128 KiB file; the file cut to 64 KiB. */
static void test_dirty_log_file_cut_to_half_fails_only_its_device(
	void **state)
{
	(void)state;
	struct up o = {.log_fd = memfd_of(128 << 10), .log_off = 64 << 10};

	cut_while_running(&o, true, 64 << 10, "dirty log");
	close(o.log_fd);
}

/* ---- sealed ----------------------------------------------------------- */

static void test_memory_sealed_against_shrinking_is_accepted_and_works(
	void **state)
{
	(void)state;
	struct up o = {.log_fd = -1, .seal = true};
	long off = file_size(logpath);

	dev_up(&a, sock_a, &o);
	assert_int_equal(log_count(off, " a: mapped gpa 0x0-0xffffff",
				   "sealed against shrinking", NULL, 0), 1);
	assert_int_equal(ftruncate(region_fd(&a, 0), 0), -1);
	assert_int_equal(errno, EPERM);
	reflect_ok(a.d, "a sealed");
	reflect_ok(b.d, "b");
	assert_int_equal(log_count(off, "level=err ", NULL, NULL, 0), 0);
	assert_daemon_ok();
}

/* ---- the daemon and the bystander ------------------------------------- */

static int group_setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vhostd-shrink.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(sock_a, sizeof(sock_a), "%s/a.sock", dir);
	snprintf(sock_b, sizeof(sock_b), "%s/b.sock", dir);
	snprintf(logpath, sizeof(logpath), "%s/vhostd.log", dir);
	char pa[200], pb[200], core[16];
	cpu_set_t cs;
	int last = 0;
	if (sched_getaffinity(0, sizeof(cs), &cs) == 0)
		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &cs))
				last = c;
	snprintf(core, sizeof(core), "%d", last);
	snprintf(pa, sizeof(pa), "a=vhost:%s", sock_a);
	snprintf(pb, sizeof(pb), "b=vhost:%s", sock_b);
	char *args[] = {"--port", pa, "--port", pb, "--reflect", "a",
			"--reflect", "b", "--cores", core, "--log-level",
			"info", NULL};
	if (vhostd_start(&proc, vhostd_bin, logpath, args) < 0 ||
	    !wait_path(sock_a, 5000) || !wait_path(sock_b, 5000))
		return -1;
	idle_fds = count_fds(proc.pid);
	struct up o = {.log_fd = -1};
	dev_up(&b, sock_b, &o);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	int rc = 0;

	if (b.f)
		dev_down(&b);
	int n = -1;
	for (int i = 0; i < 100 && n != idle_fds; i++) {
		msleep(20);
		n = count_fds(proc.pid);
	}
	if (n != idle_fds) {
		fprintf(stderr, "vhostd holds %d fds, %d when idle\n", n,
			idle_fds);
		rc = -1;
	}
	int st = vhostd_stop(&proc);
	if (st != 0 || log_count(0, "runtime error", NULL, NULL, 0) != 0 ||
	    log_count(0, "Sanitizer", NULL, NULL, 0) != 0) {
		fprintf(stderr, "vhostd exit %d or a sanitizer report\n", st);
		rc = -1;
	}
	if (rc != 0) {
		fprintf(stderr, "log kept: %s\n", logpath);
		return -1;
	}
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
#define T(f) cmocka_unit_test_teardown(f, case_teardown)
	const struct CMUnitTest tests[] = {
		T(test_region_past_end_of_file_refused_by_set_mem_table),
		T(test_region_past_end_of_file_refused_by_add_mem_reg),
		T(test_dirty_log_past_end_of_file_refused_by_set_log_base),
		T(test_memory_file_cut_to_zero_fails_only_its_device),
		T(test_memory_file_cut_to_half_fails_only_its_device),
		T(test_added_region_file_cut_to_zero_fails_only_its_device),
		T(test_dirty_log_file_cut_to_zero_fails_only_its_device),
		T(test_dirty_log_file_cut_to_half_fails_only_its_device),
		T(test_memory_sealed_against_shrinking_is_accepted_and_works),
	};
#undef T

	if (argc < 2) {
		fprintf(stderr, "usage: %s PATH-TO-VHOSTD [TEST-PATTERN]\n",
			argv[0]);
		return 2;
	}
	vhostd_bin = argv[1];
	if (argc > 2)
		cmocka_set_test_filter(argv[2]);
	return cmocka_run_group_tests_name("mem-shrink", tests, group_setup,
					   group_teardown);
}
