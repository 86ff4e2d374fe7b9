/* SPDX-License-Identifier: MIT */
/*
 * Integration test: a hostile guest against vhostd's datapath, daemon level.
 *
 * One vhostd for the whole run:
 *   --port a=vhost:A,queues=2 --port b=vhost:B --reflect a --reflect b
 *   --cores N --log-level info
 * Device b (one queue pair) is attached once and stays up through every
 * case: the bystander.  Device a is attached afresh for each case (memfd
 * guest memory, both queue pairs, an error eventfd per ring given with
 * SET_VRING_ERR), every pair of a and b must reflect traffic, then ONE ring
 * of a turns hostile (hostile_ring.h) and is kicked (an RX ring is read
 * only when a packet arrives for it: one frame goes out on the same pair's
 * TX ring).  Then:
 *   (a) the log has exactly one new error line, "a: queue N broken:
 *       REASON (value ...)", REASON being vq_error_text() (VQ_ERRORS);
 *   (b) that ring's error eventfd fires, exactly once; no other ring's does;
 *   (c) the other queue pair of a and b's pair still reflect traffic, every
 *       frame compared byte for byte (MACs swapped);
 *   (d) the daemon is alive (and wrote no sanitizer report).
 * A broken ring stays broken until it is set up again, so a is detached
 * (and the detach awaited in the log) before the next case.
 *
 * The same rules are tested on one vq in tests/unit/test_vq_split.c; here
 * they go through the whole daemon: the vhost-user control plane, the
 * pause/resume of the datapath, the worker, the vnet path of each pair.
 *
 * Legal but unusual input is in the same table (expected LEGAL): mergeable
 * RX buffers of 16 bytes, a frame spread over up to 20 of them; an RX
 * buffer overlapping the TX buffer whose packet lands in it.  The ring
 * must keep working and nothing may be logged or signalled; the frame
 * that lands on its own TX buffer must arrive byte for byte.
 *
 * Two more cases: a front-end that makes a ring's call or error eventfd
 * blocking and full (see "eventfds the front-end makes blocking").
 *
 * Cases alternate between queue pair 0 and 1, so every ring of a turns
 * hostile at some point.  Each break is a new log line from the same
 * rate-limited call site; rate_budget() keeps the test under its limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>

#include "control/frontend/vu_drv.h"
#include "control/frontend/vu_front.h"
#include "datapath/vq.h"
#include "hostile_ring.h"
#include "vhostd_proc.h"

#define IO_MS 3000
#define WAIT_MS 3000           /* for anything the daemon should do now */
#define RING 256u
#define PAIRS_A 2u
#define FRAMES 16u             /* per reflect check */
#define FRAME_LEN_MAX 1514u
#define OVERLAP_SHIFT 8u       /* rx buffer this far into the tx buffer */
#define TINY_FRAME_MAX 300u    /* 12 + 300 bytes in 16 B buffers: 20 of them */
#define FEATURES (VU_FRONT_FEATURES_DEFAULT |                              \
		  BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC))

/* Expected outcome of one direction of a case. */
#define NONE  ((int)VQ_ERR_MAX)      /* case does not apply */
#define LEGAL ((int)VQ_ERR_MAX + 1)  /* legal input: nothing may break */

typedef void build_fn(struct hring *h);

struct hcase {
	const char *name;
	build_fn *build;        /* NULL: only traffic (LEGAL cases) */
	int tx_err, rx_err;     /* enum vq_error, NONE or LEGAL */
	uint32_t rx_buf;        /* RX buffer bytes of the target pair, 0:
				 * vu_drv's default (header + 2048) */
};

/* One direction of one case, on one queue pair of a. */
struct run {
	const struct hcase *c;
	bool tx;
	uint32_t pair;
	int err;
	char name[80];
};

/* One attached front-end: its driver per pair and error eventfd per ring. */
struct dev {
	struct vu_front *f;
	struct vu_drv *d[PAIRS_A];
	uint32_t npairs;
	uint32_t max_len[PAIRS_A];  /* largest frame the pair's RX takes */
	int errfd[2 * PAIRS_A];
};

static const char *vhostd_bin;
static char dir[64], sock_a[128], sock_b[128], logpath[128];
static struct vhostd_proc proc;
static struct dev a, b;   /* a: per case; b: the whole run */
static int idle_fds;
static uint32_t tag_seq;
static unsigned breaks_expected;

/* ---- small helpers ---------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t coarse_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec;
}

/*
 * vq_set_broken()'s log line is rate limited per call site (VLOG_RL: 10
 * lines per CLOCK_MONOTONIC_COARSE second, shared by every queue of the
 * daemon).  Cases run faster than that, so they keep to 8 breaks per
 * second: a break that slips into the next second still leaves room.
 */
static void rate_budget(void)
{
	static uint64_t win;
	static unsigned used;
	uint64_t now = coarse_sec();

	if (now != win) {
		win = now;
		used = 0;
	}
	if (used >= 8) {
		while ((now = coarse_sec()) == win)
			msleep(5);
		win = now;
		used = 0;
	}
	used++;
}

static long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/*
 * Lines of the log from byte off on that contain s1 (and s2 if not NULL);
 * the first one is copied to first (if not NULL).
 */
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

/* The daemon is running and no sanitizer complained. */
static void assert_daemon_ok(void)
{
	if (!vhostd_alive(&proc))
		fail_msg("vhostd died; log %s", logpath);
	if (log_count(0, "runtime error", NULL, NULL, 0) != 0 ||
	    log_count(0, "Sanitizer", NULL, NULL, 0) != 0)
		fail_msg("sanitizer report in %s", logpath);
}

static int efd_new(void)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

/* Counter of eventfd fd (0 when it was not signalled); resets it. */
static uint64_t efd_take(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		return 0;
	return v;
}

static bool efd_wait(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

/* ---- traffic ------------------------------------------------------------ */

static const uint8_t mac_dst[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t mac_src[6] = {0x02, 0, 0, 0, 0, 0x02};

/* Frame seq of check tag: MACs, ethertype 0x88b5, tag, seq, pattern. */
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

static uint32_t frame_len(uint32_t seq, uint32_t max)
{
	return 60u + (seq * 97u) % (max - 59u);
}

struct rx_check {
	uint32_t tag, n, got, max_len;
	uint32_t bad, max_bufs;
	char why[160];
};

static void on_rx(void *arg, const struct vu_drv_rx_pkt *pkt)
{
	struct rx_check *c = arg;
	static uint8_t got[VU_DRV_FRAME_MAX], want[VU_DRV_FRAME_MAX];
	uint32_t seq = c->got++;

	if (pkt->hdr.num_buffers > c->max_bufs)
		c->max_bufs = pkt->hdr.num_buffers;
	if (seq >= c->n) {
		if (c->bad++ == 0)
			snprintf(c->why, sizeof(c->why), "frame %u of %u "
				 "expected", seq + 1, c->n);
		return;
	}
	uint32_t len = frame_len(seq, c->max_len);
	make_frame(want, len, c->tag, seq, true);
	size_t n = vu_drv_rx_copy(pkt, 0, got, sizeof(got));
	if (pkt->len != len || n != len || memcmp(got, want, len) != 0) {
		if (c->bad++ == 0) {
			uint32_t at = 0;
			while (at < len && at < n && got[at] == want[at])
				at++;
			snprintf(c->why, sizeof(c->why), "frame %u: len %u "
				 "(want %u), first difference at byte %u",
				 seq, pkt->len, len, at);
		}
	}
}

/*
 * Send FRAMES frames on d (lengths 60..max_len), wait for all of them back,
 * reflected, and for every TX slot to be given back.  Returns the most
 * buffers one frame took (num_buffers).
 */
static uint32_t reflect_ok(struct vu_drv *d, uint32_t max_len,
			   const char *who)
{
	static uint8_t frames[FRAMES][VU_DRV_FRAME_MAX];
	const void *fp[FRAMES];
	uint32_t lens[FRAMES];
	struct rx_check c = {.tag = ++tag_seq, .n = FRAMES,
			     .max_len = max_len};

	for (uint32_t i = 0; i < FRAMES; i++) {
		lens[i] = frame_len(i, max_len);
		make_frame(frames[i], lens[i], c.tag, i, false);
		fp[i] = frames[i];
	}
	assert_int_equal(vu_drv_tx_burst(d, fp, lens, FRAMES), FRAMES);
	int64_t end = now_ms() + WAIT_MS;
	while ((c.got < FRAMES || vu_drv_tx_inflight(d) != 0) &&
	       now_ms() < end) {
		unsigned n = vu_drv_rx_poll(d, 64, on_rx, &c);
		n += vu_drv_tx_reclaim(d);
		if (n == 0)
			usleep(100);
	}
	vu_drv_rx_poll(d, 64, on_rx, &c); /* anything beyond FRAMES? */
	if (vu_drv_broken(d))
		fail_msg("%s: the front-end's driver saw a broken ring", who);
	if (c.bad)
		fail_msg("%s: %u bad frames; %s", who, c.bad, c.why);
	if (c.got != FRAMES || vu_drv_tx_inflight(d) != 0)
		fail_msg("%s: %u of %u frames came back, %u TX in flight", who,
			 c.got, FRAMES, vu_drv_tx_inflight(d));
	return c.max_bufs;
}

/*
 * The bytes between the end of each RX buffer of ring idx (buf bytes, as
 * vu_drv posted them: buffer i is descriptor i) and the next 64-byte
 * boundary, where vu_drv's next buffer starts: fill them with a pattern,
 * or count the ones that changed.
 */
static unsigned rx_pads(struct vu_front *f, uint32_t idx, uint32_t buf,
			bool fill)
{
	const struct vu_front_vring *vr = vu_front_vring(f, idx);
	const struct vring_desc *desc = vr->desc;
	uint32_t pad = ((buf + 63u) & ~63u) - buf;
	unsigned changed = 0;

	for (uint32_t i = 0; i < vr->num; i++) {
		uint8_t *p = vu_guestmem_gpa_to_ptr(vu_front_mem(f),
						    desc[i].addr + buf, pad);
		assert_non_null(p);
		for (uint32_t k = 0; k < pad; k++) {
			if (fill)
				p[k] = 0xee;
			else
				changed += p[k] != 0xee;
		}
	}
	return changed;
}

/* ---- devices ------------------------------------------------------------- */

/*
 * Attach to path: negotiate, memory, an error eventfd per ring (sent
 * before the ring is set up, QEMU's order), npairs queue pairs of RING
 * entries, a driver per pair (rx_buf[i] bytes of RX buffer, 0: default;
 * rx_notify: it asks for calls on its RX ring, else it suppresses them).
 */
static void dev_up(struct dev *v, const char *path, uint32_t npairs,
		   const uint32_t *rx_buf, bool rx_notify)
{
	struct vu_guestmem_opts mo = {.size = 16 << 20, .nregions = 1};

	memset(v, 0, sizeof(*v));
	v->npairs = npairs;
	assert_int_equal(vu_front_connect(&v->f, path, 3000, IO_MS), 0);
	assert_int_equal(vu_front_negotiate(v->f, FEATURES,
					    VU_FRONT_PROTOCOL_DEFAULT), 0);
	assert_int_equal(vu_front_features_acked(v->f), FEATURES);
	assert_int_equal(vu_front_mem_init(v->f, &mo), 0);
	assert_int_equal(vu_front_set_mem_table(v->f), 0);
	for (uint32_t i = 0; i < 2 * npairs; i++) {
		v->errfd[i] = efd_new();
		assert_int_equal(vu_front_set_vring_err(v->f, i, v->errfd[i]),
				 0);
		assert_int_equal(vu_front_vring_setup(v->f, i, RING), 0);
	}
	for (uint32_t p = 0; p < npairs; p++) {
		struct vu_drv_opts o = {.pair = p, .rx_buf_size = rx_buf[p],
					.rx_notify = rx_notify};
		assert_int_equal(vu_drv_create(&v->d[p], v->f, &o), 0);
		v->max_len[p] = rx_buf[p] && rx_buf[p] < 1024 ? TINY_FRAME_MAX :
				FRAME_LEN_MAX;
	}
}

static void dev_down(struct dev *v)
{
	for (uint32_t p = 0; p < v->npairs; p++)
		vu_drv_destroy(v->d[p]);
	vu_front_close(v->f);
	for (uint32_t i = 0; i < 2 * v->npairs; i++)
		close(v->errfd[i]);
	memset(v, 0, sizeof(*v));
}

/* Per-case teardown, also after a failure: detach a and wait until
 * vhostd has reset it (a new connection made before that would be turned
 * away as a second front-end). */
static int case_teardown(void **state)
{
	(void)state;
	if (!a.f)
		return 0;
	int before = log_count(0, " a: front-end disconnected", NULL, NULL, 0);

	dev_down(&a);
	int64_t end = now_ms() + WAIT_MS;
	while (log_count(0, " a: front-end disconnected", NULL, NULL, 0) ==
	       before && now_ms() < end)
		msleep(2);
	if (log_count(0, " a: front-end disconnected", NULL, NULL, 0) !=
	    before + 1) {
		fprintf(stderr, "vhostd did not detach a; log %s\n", logpath);
		return -1;
	}
	return 0;
}

/* ---- what the hostile guest posts ------------------------------------- */

/* desc 1 -> desc 2 -> desc 1 ... */
static void build_desc_loop(struct hring *h)
{
	hring_desc(h, 1, hring_buf(h, 1), 100, hring_dir(h) | HF_NEXT, 2);
	hring_desc(h, 2, hring_buf(h, 2), 100, hring_dir(h) | HF_NEXT, 1);
	hring_post(h, 1);
}

static void build_next_out_of_range(struct hring *h)
{
	hring_desc(h, 1, hring_buf(h, 1), 100, hring_dir(h) | HF_NEXT,
		   h->size);
	hring_post(h, 1);
}

/* A table of 9 good entries whose length says 9.5. */
static void build_indirect_bad_len(struct hring *h)
{
	for (uint16_t i = 0; i < 9; i++)
		hring_idesc(h, hring_tbl(h, 0), i, hring_buf(h, 1 + i), 100,
			    hring_dir(h) | (i < 8 ? HF_NEXT : 0),
			    (uint16_t)(i + 1));
	hring_desc(h, 1, hring_tbl(h, 0), 9 * 16 + 8, HF_INDIRECT, 0);
	hring_post(h, 1);
}

static void build_indirect_nested(struct hring *h)
{
	hring_idesc(h, hring_tbl(h, 1), 0, hring_buf(h, 2), 100, hring_dir(h),
		    0);
	hring_idesc(h, hring_tbl(h, 0), 0, hring_tbl(h, 1), 16, HF_INDIRECT,
		    0);
	hring_desc(h, 1, hring_tbl(h, 0), 16, HF_INDIRECT, 0);
	hring_post(h, 1);
}

static void build_indirect_with_next(struct hring *h)
{
	hring_idesc(h, hring_tbl(h, 0), 0, hring_buf(h, 1), 100, hring_dir(h),
		    0);
	hring_desc(h, 1, hring_tbl(h, 0), 16, HF_INDIRECT | HF_NEXT, 2);
	hring_desc(h, 2, hring_buf(h, 2), 100, hring_dir(h), 0);
	hring_post(h, 1);
}

/* 64 KiB past the end of guest memory. */
static void build_buffer_outside_memory(struct hring *h)
{
	hring_desc(h, 1, h->mem_end + 0x10000, 100, hring_dir(h), 0);
	hring_post(h, 1);
}

/* The last 10 bytes of guest memory and 90 beyond. */
static void build_buffer_straddling_end(struct hring *h)
{
	hring_desc(h, 1, hring_buf(h, 1), 100, hring_dir(h) | HF_NEXT, 2);
	hring_desc(h, 2, h->mem_end - 10, 100, hring_dir(h), 0);
	hring_post(h, 1);
}

static void build_zero_len(struct hring *h)
{
	hring_desc(h, 1, hring_buf(h, 1), 100, hring_dir(h) | HF_NEXT, 2);
	hring_desc(h, 2, hring_buf(h, 2), 0, hring_dir(h), 0);
	hring_post(h, 1);
}

/* 11 bytes over three descriptors: one short of the header. */
static void build_short_hdr(struct hring *h)
{
	hring_desc(h, 1, hring_buf(h, 1), 4, hring_dir(h) | HF_NEXT, 2);
	hring_desc(h, 2, hring_buf(h, 2), 4, hring_dir(h) | HF_NEXT, 3);
	hring_desc(h, 3, hring_buf(h, 3), 3, hring_dir(h), 0);
	hring_post(h, 1);
}

/* avail->idx claims one entry more than the ring holds. */
static void build_avail_jump(struct hring *h)
{
	hring_jump(h, h->size + 1u);
}

static void build_head_out_of_range(struct hring *h)
{
	hring_post(h, h->size);
}

/* Writable, then readable: TX sees a writable buffer, RX the order. */
static void build_writable_before_readable(struct hring *h)
{
	hring_desc(h, 1, hring_buf(h, 1), 100, HF_WRITE | HF_NEXT, 2);
	hring_desc(h, 2, hring_buf(h, 2), 100, 0, 0);
	hring_post(h, 1);
}

/* A readable buffer on the RX ring, a writable one on the TX ring. */
static void build_wrong_direction(struct hring *h)
{
	hring_desc(h, 1, hring_buf(h, 1), 100, hring_dir(h) ^ HF_WRITE, 0);
	hring_post(h, 1);
}

/* 65 descriptors: one more segment than vhostd takes (VQ_MAX_SEGS). */
static void build_too_many_segments(struct hring *h)
{
	for (uint16_t i = 1; i <= VQ_MAX_SEGS + 1; i++)
		hring_desc(h, i, hring_buf(h, i), 20,
			   hring_dir(h) | (i <= VQ_MAX_SEGS ? HF_NEXT : 0),
			   (uint16_t)(i + 1));
	hring_post(h, 1);
}

/*
 * Legal: the next RX buffer overlaps the TX buffer whose packet is placed
 * into it (OVERLAP_SHIFT bytes on), so vhostd copies guest memory onto
 * itself.  The daemon must neither break the ring nor do anything
 * undefined (memcpy with overlapping ranges is), and the frame must land
 * there exactly as sent (MACs swapped): no byte of it may come from
 * anywhere else (once, host stack bytes staged for the header did).
 */
static void build_rx_overlapping_tx(struct hring *h)
{
	uint16_t head = hring_next_head(h);
	struct virtio_net_hdr *own = vu_guestmem_gpa_to_ptr(
		h->mem, h->desc[head].addr, sizeof(*own));

	/* vu_drv reads the frame from where it put the buffer: give it a
	 * header there (one buffer), the contents stay unchecked. */
	*own = (struct virtio_net_hdr){.num_buffers = 1};
	hring_desc(h, head, h->tx_buf_gpa + OVERLAP_SHIFT, 2060, HF_WRITE, 0);
	hring_post(h, head);
}

#define E(x) ((int)VQ_ERR_##x)

static const struct hcase cases[] = {
	{"descriptor loop", build_desc_loop, E(DESC_LOOP), E(DESC_LOOP), 0},
	{"next out of range", build_next_out_of_range, E(NEXT_RANGE),
	 E(NEXT_RANGE), 0},
	{"indirect table of bad length", build_indirect_bad_len,
	 E(INDIRECT_LEN), E(INDIRECT_LEN), 0},
	{"nested indirect", build_indirect_nested, E(INDIRECT_NESTED),
	 E(INDIRECT_NESTED), 0},
	{"indirect with next", build_indirect_with_next, E(INDIRECT_NEXT),
	 E(INDIRECT_NEXT), 0},
	{"buffer outside guest memory", build_buffer_outside_memory, E(ADDR),
	 E(ADDR), 0},
	{"buffer straddling the end of guest memory",
	 build_buffer_straddling_end, E(ADDR), E(ADDR), 0},
	{"zero-length buffer", build_zero_len, E(ZERO_LEN), E(ZERO_LEN), 0},
	/* RX: 11 bytes of buffer are only too small for a packet. */
	{"chain shorter than the net header", build_short_hdr, E(SHORT_HDR),
	 NONE, 0},
	{"avail index jumps past the ring", build_avail_jump, E(AVAIL_JUMP),
	 E(AVAIL_JUMP), 0},
	{"head index out of range", build_head_out_of_range, E(HEAD_RANGE),
	 E(HEAD_RANGE), 0},
	{"writable before readable", build_writable_before_readable,
	 E(WRONG_DIR), E(WRITE_ORDER), 0},
	{"buffer of the wrong direction", build_wrong_direction, E(WRONG_DIR),
	 E(WRONG_DIR), 0},
	{"more segments than vhostd takes", build_too_many_segments,
	 E(TOO_MANY_SEGS), E(TOO_MANY_SEGS), 0},
	{"mergeable rx in 16-byte buffers", NULL, NONE, LEGAL, 16},
	{"rx buffer overlapping the tx buffer", build_rx_overlapping_tx, NONE,
	 LEGAL, 0},
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))
#define MAX_RUNS (2 * NCASES + NFD_CASES)

/* ---- the one function that runs a case --------------------------------- */

static void run_case(void **state)
{
	const struct run *r = *state;
	const uint32_t ring = 2 * r->pair + (r->tx ? 1 : 0);
	const uint32_t other = 1 - r->pair;
	uint32_t rx_buf[PAIRS_A] = {0, 0};
	char who[64], line[1024], want[256];

	rx_buf[r->pair] = r->c->rx_buf;
	dev_up(&a, sock_a, PAIRS_A, rx_buf, false);

	/* Every pair works before anything turns hostile. */
	for (uint32_t p = 0; p < PAIRS_A; p++) {
		snprintf(who, sizeof(who), "a pair %u before", p);
		reflect_ok(a.d[p], a.max_len[p], who);
	}
	reflect_ok(b.d[0], b.max_len[0], "b before");

	long off = file_size(logpath);
	struct vu_drv *d = a.d[r->pair];
	uint32_t len = 64, tag = 0;
	uint64_t tx_gpa = 0;       /* RX cases: the frame's TX buffer */
	if (r->c->build) {
		struct hring h;
		uint8_t *frame = NULL;
		if (r->err != LEGAL)
			rate_budget();
		assert_int_equal(hring_init(&h, a.f, ring), 0);
		if (!r->tx) {
			/* An RX ring is read when a packet comes for it: one
			 * frame from the pair's TX ring, reserved first so
			 * that the builder knows where it lies. */
			uint64_t gpa;
			assert_int_equal(vu_drv_tx_reserve(d, &frame, 1), 1);
			tag = ++tag_seq;
			make_frame(frame, len, tag, 0, false);
			assert_int_equal(vu_guestmem_ptr_to_gpa(
				vu_front_mem(a.f), frame, &gpa), 0);
			h.tx_buf_gpa = tx_gpa = gpa - vu_drv_hdr_len(d);
		}
		r->c->build(&h);
		assert_int_equal(vu_front_kick(a.f, ring), 0);
		if (!r->tx)
			assert_int_equal(vu_drv_tx_commit(d, &len, 1), 1);
	}
	if (r->err == LEGAL) {
		if (r->c->rx_buf) /* writes stay inside the buffers */
			rx_pads(a.f, 2 * r->pair, r->c->rx_buf, true);
		if (r->c->build && !r->tx) { /* the frame lands */
			unsigned got = 0;
			int64_t end = now_ms() + WAIT_MS;
			while ((got == 0 || vu_drv_tx_inflight(d) != 0) &&
			       now_ms() < end) {
				unsigned n = vu_drv_rx_poll(d, 64, NULL, NULL);
				got += n;
				if (n + vu_drv_tx_reclaim(d) == 0)
					usleep(100);
			}
			assert_daemon_ok();
			assert_int_equal(got, 1);
			assert_int_equal(vu_drv_tx_inflight(d), 0);
			/* vu_drv read it from the buffer it had posted; what
			 * matters is what vhostd wrote where the builder
			 * pointed the descriptor. */
			uint8_t sent[64];
			uint32_t hl = vu_drv_hdr_len(d);
			const uint8_t *at = vu_guestmem_gpa_to_ptr(
				vu_front_mem(a.f), tx_gpa + OVERLAP_SHIFT,
				hl + len);
			assert_non_null(at);
			make_frame(sent, len, tag, 0, true);
			assert_memory_equal(at + hl, sent, len);
		}
		uint32_t bufs = reflect_ok(d, a.max_len[r->pair],
					   "a target pair (legal case)");
		if (r->c->rx_buf) { /* frames did span the tiny buffers */
			uint32_t most = 0, hl = vu_drv_hdr_len(d);
			for (uint32_t i = 0; i < FRAMES; i++) {
				uint32_t l = frame_len(i, a.max_len[r->pair]);
				uint32_t k = (hl + l + r->c->rx_buf - 1) /
					     r->c->rx_buf;
				most = k > most ? k : most;
			}
			assert_int_equal(bufs, most);
		}
		assert_false(efd_wait(a.errfd[ring], 100));
	} else {
		if (!efd_wait(a.errfd[ring], WAIT_MS))
			fail_msg("error eventfd of ring %u not signalled; "
				 "log %s", ring, logpath);
		breaks_expected++;
		if (!r->tx) {
			/* The pair's TX ring still runs: the frame was taken
			 * and dropped, not left there. */
			int64_t end = now_ms() + WAIT_MS;
			while (vu_drv_tx_inflight(d) != 0 && now_ms() < end)
				if (!vu_drv_tx_reclaim(d))
					usleep(100);
			assert_int_equal(vu_drv_tx_inflight(d), 0);
			assert_int_equal(vu_drv_rx_poll(d, 64, NULL, NULL), 0);
		}
	}

	/* (c) the other pair of a and b's pair still reflect. */
	snprintf(who, sizeof(who), "a pair %u after", other);
	reflect_ok(a.d[other], a.max_len[other], who);
	reflect_ok(b.d[0], b.max_len[0], "b after");
	if (r->err == LEGAL)
		reflect_ok(d, a.max_len[r->pair], "a target pair after");
	if (r->err == LEGAL && r->c->rx_buf)
		assert_int_equal(rx_pads(a.f, 2 * r->pair, r->c->rx_buf,
					 false), 0);

	/* (b) the hostile ring's error eventfd fired once, no other did. */
	assert_int_equal(efd_take(a.errfd[ring]), r->err == LEGAL ? 0 : 1);
	for (uint32_t i = 0; i < 2 * PAIRS_A; i++)
		if (i != ring && efd_take(a.errfd[i]) != 0)
			fail_msg("ring %u's error eventfd fired too", i);
	for (uint32_t i = 0; i < 2; i++)
		if (efd_take(b.errfd[i]) != 0)
			fail_msg("b ring %u's error eventfd fired", i);

	/* (a) exactly one error line, naming the queue and the reason. */
	int nerr = log_count(off, "level=err ", NULL, line, sizeof(line));
	int nbroken = log_count(off, " broken", NULL, NULL, 0);
	if (r->err == LEGAL) {
		if (nerr != 0 || nbroken != 0)
			fail_msg("legal input logged %d error lines: %s", nerr,
				 line);
	} else {
		snprintf(want, sizeof(want), " a: queue %u broken: %s (value ",
			 ring, vq_error_text((enum vq_error)r->err));
		if (nerr != 1 || nbroken != 1 || !strstr(line, want))
			fail_msg("want one line with '%s'; got %d error lines "
				 "(%d 'broken'), first: %s", want, nerr,
				 nbroken, nerr ? line : "-");
	}

	/* (d) */
	assert_daemon_ok();
}

/* ---- eventfds the front-end makes blocking and full -------------------- */

/*
 * vhostd makes every ring eventfd non-blocking, but O_NONBLOCK belongs to
 * the open file, which the front-end shares: it can clear it again and
 * fill the counter, and vhostd's next write to it sleeps until someone
 * reads, with every guest polled by the same worker (b here).  vhostd
 * interrupts a worker stuck that way (datapath/worker.h, wk_watch): the
 * ring whose call fd it was breaks, an error fd is no longer written, and
 * b reflects again within RECOVER_MS, with no control request needed.
 */
#define RECOVER_MS 1500
#define PROMPT_MS 500
#define FULL 0xfffffffffffffffeull   /* one more 1 would overflow */

static void make_blocking_and_full(int fd)
{
	efd_take(fd);   /* still non-blocking here */
	assert_int_equal(write(fd, &(uint64_t){FULL}, sizeof(uint64_t)),
			 sizeof(uint64_t));
	int fl = fcntl(fd, F_GETFL);
	assert_true(fl >= 0);
	assert_int_equal(fcntl(fd, F_SETFL, fl & ~O_NONBLOCK), 0);
}

/* b reflects every frame by t0 + RECOVER_MS, answers GET_FEATURES within
 * PROMPT_MS, and the daemon is alive. */
static void assert_b_unaffected(int64_t t0)
{
	uint64_t offered = 0;

	reflect_ok(b.d[0], b.max_len[0], "b after a's eventfd blocked");
	int64_t took = now_ms() - t0;
	if (took > RECOVER_MS)
		fail_msg("b reflected only after %lld ms", (long long)took);
	int64_t t1 = now_ms();
	assert_int_equal(vu_front_get_features(b.f, &offered), 0);
	if (now_ms() - t1 > PROMPT_MS)
		fail_msg("GET_FEATURES on b took %lld ms",
			 (long long)(now_ms() - t1));
	assert_true(offered & BIT_ULL(VIRTIO_F_VERSION_1));
	assert_daemon_ok();
}

/* Lines since off with s1 and s2, once there is at least one (up to
 * WAIT_MS). */
static int log_wait(long off, const char *s1, const char *s2, char *line,
		    size_t len)
{
	int64_t end = now_ms() + WAIT_MS;
	int n;

	while ((n = log_count(off, s1, s2, line, len)) == 0 && now_ms() < end)
		msleep(5);
	return n;
}

static void test_call_fd_made_blocking_and_full_breaks_only_its_queue(
	void **state)
{
	const uint32_t rx_buf[PAIRS_A] = {0, 0};
	char line[1024], want[256];
	uint8_t frame[64];
	const void *fp[1] = {frame};
	uint32_t len = sizeof(frame);

	(void)state;
	dev_up(&a, sock_a, PAIRS_A, rx_buf, true);
	reflect_ok(a.d[0], a.max_len[0], "a before");
	reflect_ok(b.d[0], b.max_len[0], "b before");
	rate_budget();
	long off = file_size(logpath);
	make_blocking_and_full(vu_front_vring(a.f, 0)->call_fd);
	/* The reflected frame lands on a's RX ring: vhostd calls. */
	make_frame(frame, len, ++tag_seq, 0, false);
	assert_int_equal(vu_drv_tx_burst(a.d[0], fp, &len, 1), 1);
	/* Once the frame is on a's RX ring, the call is being written. */
	unsigned got = 0;
	int64_t t0 = now_ms(), end = t0 + WAIT_MS;
	while (got == 0 && now_ms() < end)
		if ((got = vu_drv_rx_poll(a.d[0], 64, NULL, NULL)) == 0)
			usleep(100);
	assert_int_equal(got, 1);
	t0 = now_ms();
	assert_b_unaffected(t0);
	breaks_expected++;
	snprintf(want, sizeof(want), " a: queue 0 broken: %s (value ",
		 vq_error_text(VQ_ERR_CALL_BLOCKED));
	if (log_wait(off, want, NULL, line, sizeof(line)) != 1 ||
	    log_count(off, " broken", NULL, NULL, 0) != 1)
		fail_msg("want one line with '%s', %d 'broken' lines; log %s",
			 want, log_count(off, " broken", NULL, NULL, 0),
			 logpath);
	reflect_ok(a.d[1], a.max_len[1], "a's other pair after");
	reflect_ok(b.d[0], b.max_len[0], "b after");
	for (uint32_t i = 0; i < 2 * PAIRS_A; i++)
		if (efd_take(a.errfd[i]) != (i == 0))
			fail_msg("ring %u's error eventfd: want %d", i, i == 0);
	/* vhostd's write was interrupted: nothing was added. */
	assert_int_equal(efd_take(vu_front_vring(a.f, 0)->call_fd), FULL);
	assert_daemon_ok();
}

static void test_err_fd_made_blocking_and_full_stalls_no_other_guest(
	void **state)
{
	const uint32_t rx_buf[PAIRS_A] = {0, 0};
	char line[1024], want[256];
	struct hring h;

	(void)state;
	dev_up(&a, sock_a, PAIRS_A, rx_buf, false);
	reflect_ok(a.d[0], a.max_len[0], "a before");
	reflect_ok(b.d[0], b.max_len[0], "b before");
	rate_budget();
	long off = file_size(logpath);
	make_blocking_and_full(a.errfd[1]);
	/* Ring 1 (a's TX) turns hostile: vhostd writes its error fd. */
	assert_int_equal(hring_init(&h, a.f, 1), 0);
	build_head_out_of_range(&h);
	int64_t t0 = now_ms();
	assert_int_equal(vu_front_kick(a.f, 1), 0);
	assert_b_unaffected(t0);
	breaks_expected++;
	snprintf(want, sizeof(want), " a: queue 1 broken: %s (value ",
		 vq_error_text(VQ_ERR_HEAD_RANGE));
	if (log_wait(off, want, NULL, line, sizeof(line)) != 1 ||
	    log_count(off, " broken", NULL, NULL, 0) != 1)
		fail_msg("want one line with '%s'; log %s", want, logpath);
	if (log_wait(off, " a: queue 1: error eventfd", " blocked", line,
		     sizeof(line)) != 1)
		fail_msg("want one line saying a's error eventfd blocked; "
			 "log %s", logpath);
	reflect_ok(a.d[1], a.max_len[1], "a's other pair after");
	assert_int_equal(efd_take(a.errfd[1]), FULL);
	for (uint32_t i = 0; i < 2 * PAIRS_A; i++)
		if (i != 1 && efd_take(a.errfd[i]) != 0)
			fail_msg("ring %u's error eventfd fired too", i);
	assert_daemon_ok();
}

#define NFD_CASES 2

/* ---- the daemon and the bystander ---------------------------------------- */

static int group_setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vhostd-hdp.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(sock_a, sizeof(sock_a), "%s/a.sock", dir);
	snprintf(sock_b, sizeof(sock_b), "%s/b.sock", dir);
	snprintf(logpath, sizeof(logpath), "%s/vhostd.log", dir);
	char pa[160], pb[160], core[16];
	/* The worker on the last CPU we may use; this process anywhere. */
	cpu_set_t cs;
	int last = 0;
	if (sched_getaffinity(0, sizeof(cs), &cs) == 0)
		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &cs))
				last = c;
	snprintf(core, sizeof(core), "%d", last);
	snprintf(pa, sizeof(pa), "a=vhost:%s,queues=%u", sock_a, PAIRS_A);
	snprintf(pb, sizeof(pb), "b=vhost:%s", sock_b);
	char *args[] = {"--port", pa, "--port", pb, "--reflect", "a",
			"--reflect", "b", "--cores", core, "--log-level",
			"info", NULL};
	if (vhostd_start(&proc, vhostd_bin, logpath, args) < 0 ||
	    !wait_path(sock_a, 5000) || !wait_path(sock_b, 5000))
		return -1;
	idle_fds = count_fds(proc.pid);
	const uint32_t rx_buf[1] = {0};
	dev_up(&b, sock_b, 1, rx_buf, false);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	int rc = 0;

	if (b.f)
		dev_down(&b);
	/* Every queue broke exactly once, in its own case. */
	int nb = log_count(0, " broken: ", NULL, NULL, 0);
	if (nb != (int)breaks_expected) {
		fprintf(stderr, "%d 'broken' lines, %u expected\n", nb,
			breaks_expected);
		rc = -1;
	}
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
	static struct run runs[MAX_RUNS];
	static struct CMUnitTest tests[MAX_RUNS];
	size_t n = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s PATH-TO-VHOSTD\n", argv[0]);
		return 2;
	}
	vhostd_bin = argv[1];
	/* Case i hits queue pair i % 2: every ring of a turns hostile. */
	for (size_t i = 0; i < NCASES; i++) {
		for (int tx = 1; tx >= 0; tx--) {
			int err = tx ? cases[i].tx_err : cases[i].rx_err;
			if (err == NONE)
				continue;
			struct run *r = &runs[n];
			*r = (struct run){.c = &cases[i], .tx = tx,
					  .pair = (uint32_t)(i % 2), .err = err};
			snprintf(r->name, sizeof(r->name), "%s, %s ring %u",
				 cases[i].name, tx ? "tx" : "rx",
				 2 * r->pair + (uint32_t)tx);
			tests[n] = (struct CMUnitTest){
				.name = r->name, .test_func = run_case,
				.teardown_func = case_teardown,
				.initial_state = r};
			n++;
		}
	}
	tests[n++] = (struct CMUnitTest){
		.name = "call fd made blocking and full",
		.test_func =
		    test_call_fd_made_blocking_and_full_breaks_only_its_queue,
		.teardown_func = case_teardown};
	tests[n++] = (struct CMUnitTest){
		.name = "error fd made blocking and full",
		.test_func =
		    test_err_fd_made_blocking_and_full_stalls_no_other_guest,
		.teardown_func = case_teardown};
	return _cmocka_run_group_tests("hostile-datapath", tests, n,
				       group_setup, group_teardown);
}
