/* SPDX-License-Identifier: MIT */
/*
 * Integration test: a hostile guest against vhostd's packed rings
 * (VIRTIO_F_RING_PACKED, virtio 1.x 2.8), daemon level.  The split-ring
 * cases are in test_hostile_dp.c; this is the same harness:
 *
 * One vhostd for the whole run:
 *   --port a=vhost:A,queues=2 --port b=vhost:B --reflect a --reflect b
 *   --cores N --log-level info
 * Device b (one queue pair, packed rings) is attached once and stays up:
 * the bystander.  Device a is attached afresh for each case (memfd guest
 * memory in two contiguous regions, both queue pairs on packed rings, an
 * error eventfd per ring), every pair must reflect traffic, then ONE ring
 * of a turns hostile (hostile_packed.h).  An RX ring is read only when a
 * packet arrives for it: one frame goes out on the same pair's TX ring.
 * Then, for a hostile case:
 *   (a) the log has exactly one new error line, "a: queue N broken:
 *       REASON (value ...)", REASON being vq_error_text();
 *   (b) that ring's error eventfd fires, exactly once; no other ring's does;
 *   (c) the other queue pair of a and b's pair still reflect traffic, every
 *       frame compared byte for byte (MACs swapped);
 *   (d) the daemon is alive (and wrote no sanitizer report).
 * A legal case (LEGAL) must keep working: the chains the guest posted are
 * used where the spec says (their used descriptors checked), the frame
 * comes back byte for byte, the pair reflects afterwards, and nothing is
 * logged or signalled.
 *
 * Races (the driver rewriting a descriptor right after publishing it):
 * vhostd reads each descriptor once, so every frame it takes is either
 * the old or the new descriptor, never a mix.  The guest publishes up to
 * RACE_ROUNDS frames, each followed at once by rewrites that end on the
 * new value; each round must end in one of: the frame reflected exactly as
 * the old (or, where both are legal, the new) descriptor says, or the
 * queue broken for the new value's reason (then the case is a hostile
 * one, checked as above).
 *
 * Section numbers are those of virtio 1.2 (2.8 Packed Virtqueues).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>

#include "control/frontend/vu_front.h"
#include "datapath/vq.h"
#include "hostile_packed.h"
#include "packed_drv.h"
#include "vhostd_proc.h"

#define IO_MS 3000
#define WAIT_MS 3000           /* for anything the daemon should do now */
#define QUIET_MS 100           /* to see that the daemon does nothing */
#define RING 256u
#define PAIRS_A 2u
#define FRAMES 16u             /* per reflect check */
#define RACE_ROUNDS 64u
#define FEATURES (BIT_ULL(VIRTIO_F_VERSION_1) | BIT_ULL(VIRTIO_NET_F_MQ) |  \
		  BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES) |                \
		  BIT_ULL(VIRTIO_F_RING_PACKED) |                          \
		  BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC))

/* Expected outcome of one direction of a case. */
#define NONE  ((int)VQ_ERR_MAX)      /* case does not apply */
#define LEGAL ((int)VQ_ERR_MAX + 1)  /* legal input: nothing may break */

struct hcase;
typedef void build_fn(struct hp *h);
/* Races: write descriptor field(s) of slot e the new way (new_val) or
 * back the old way. */
typedef void flip_fn(struct hp *h, struct vring_packed_desc *e, bool new_val);

struct hcase {
	const char *name;
	build_fn *build;
	build_fn *fix;          /* not NULL: the build is not available yet;
				 * fix makes it so (legal cases) */
	int tx_err, rx_err;     /* enum vq_error, NONE or LEGAL */
	uint16_t lead;          /* not 0: the hostile chain starts this many
				 * slots before the end of the ring */
	uint64_t feat_off;      /* features not negotiated for this case */
	flip_fn *flip;          /* a race case */
	bool new_legal;         /* race: the new value is legal too */
};

struct run {
	const struct hcase *c;
	bool tx;
	uint32_t pair;
	int err;
	char name[112];
};

struct dev {
	struct vu_front *f;
	struct pd d[PAIRS_A];
	uint32_t npairs;
	int errfd[2 * PAIRS_A];
};

static const char *vhostd_bin;
static char dir[64], sock_a[128], sock_b[128], logpath[128];
static struct vhostd_proc proc;
static struct dev a, b;
static uint32_t tag_seq;
static unsigned breaks_expected;

/* What a legal case's guest posted, for the checks. */
static struct {
	uint32_t tag;                /* of the frames a TX build wrote */
	uint32_t n;
	uint32_t seq[HP_MAX_USED], len[HP_MAX_USED];
	/* RX builds: where the frame must land (header first). */
	unsigned nseg;
	uint64_t gpa[8];
	uint32_t seglen[8];
} want;

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

/* vq_set_broken()'s log line is rate limited per call site (10 lines per
 * coarse second, every queue of the daemon): at most 8 breaks a second. */
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

/* Lines of the log from byte off on that contain s1 (and s2 if not NULL);
 * the first one is copied to first (if not NULL). */
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

static uint32_t frame_len(uint32_t seq)
{
	return 60u + (seq * 97u) % (PD_FRAME_MAX - 59u);
}

/* Frames expected back: the k-th has sequence seq[k] and length len[k]. */
struct rx_check {
	uint32_t tag, n, got;
	const uint32_t *seq, *len;   /* NULL: k and frame_len(k) */
	uint32_t bad;
	char why[160];
};

static void on_rx(void *arg, const uint8_t *f, uint32_t len)
{
	static uint8_t w[PD_FRAME_MAX];
	struct rx_check *c = arg;
	uint32_t k = c->got++;

	if (k >= c->n) {
		if (c->bad++ == 0)
			snprintf(c->why, sizeof(c->why), "frame %u of %u "
				 "expected", k + 1, c->n);
		return;
	}
	uint32_t seq = c->seq ? c->seq[k] : k;
	uint32_t wl = c->len ? c->len[k] : frame_len(k);
	make_frame(w, wl, c->tag, seq, true);
	if (len != wl || memcmp(f, w, wl) != 0) {
		if (c->bad++ == 0) {
			uint32_t at = 0;
			while (at < len && at < wl && f[at] == w[at])
				at++;
			snprintf(c->why, sizeof(c->why), "frame %u: len %u "
				 "(want %u), first difference at byte %u", k,
				 len, wl, at);
		}
	}
}

/* Poll d until c has every frame and nothing is left on TX (or WAIT_MS). */
static void wait_frames(struct pd *d, struct rx_check *c, const char *who)
{
	int64_t end = now_ms() + WAIT_MS;

	while ((c->got < c->n || d->tx.nout != 0) && now_ms() < end) {
		unsigned n = pd_rx_poll(d, on_rx, c);
		n += pd_tx_reclaim(d);
		if (n == 0)
			usleep(100);
	}
	pd_rx_poll(d, on_rx, c);   /* anything beyond? */
	if (d->broken)
		fail_msg("%s: the front-end's driver saw a broken ring: %s",
			 who, d->why);
	if (c->bad)
		fail_msg("%s: %u bad frames; %s", who, c->bad, c->why);
	if (c->got != c->n || d->tx.nout != 0)
		fail_msg("%s: %u of %u frames came back, %u TX in flight", who,
			 c->got, c->n, d->tx.nout);
}

/* Send n frames on d (ndesc descriptors each, 0: 1 and 2 in turn), all
 * must come back reflected, byte for byte. */
static void reflect_n(struct pd *d, uint32_t n, unsigned ndesc,
		      const char *who)
{
	static uint8_t f[PD_FRAME_MAX];
	struct rx_check c = {.tag = ++tag_seq, .n = n};
	uint32_t sent = 0;
	int64_t end = now_ms() + WAIT_MS + n;

	while (sent < n && now_ms() < end) {
		uint32_t len = frame_len(sent);
		make_frame(f, len, c.tag, sent, false);
		if (pd_tx(d, f, len, ndesc ? ndesc : 1 + sent % 2)) {
			sent++;
			continue;
		}
		if (pd_rx_poll(d, on_rx, &c) == 0)
			usleep(50);
	}
	if (sent != n)
		fail_msg("%s: only %u of %u frames could be sent", who, sent, n);
	wait_frames(d, &c, who);
}

static void reflect_ok(struct pd *d, const char *who)
{
	reflect_n(d, FRAMES, 0, who);
}

/* Move the device's position on ring tx/rx of d to slot target, with
 * frames of one descriptor. */
static void advance_to(struct pd *d, bool tx, uint16_t target)
{
	const struct pd_ring *r = tx ? &d->tx : &d->rx;
	uint32_t n = (uint32_t)(target + r->num - r->used_pos) % r->num;

	if (n)
		reflect_n(d, n, 1, "advance");
	assert_int_equal(r->used_pos, target);
}

/* ---- devices ------------------------------------------------------------- */

static void dev_up(struct dev *v, const char *path, uint32_t npairs,
		   uint64_t features)
{
	/* Two regions, back to back in guest memory: a buffer may cross. */
	struct vu_guestmem_opts mo = {.size = 16 << 20, .nregions = 2};

	memset(v, 0, sizeof(*v));
	v->npairs = npairs;
	assert_int_equal(vu_front_connect(&v->f, path, 3000, IO_MS), 0);
	assert_int_equal(vu_front_negotiate(v->f, features,
					    VU_FRONT_PROTOCOL_DEFAULT), 0);
	assert_int_equal(vu_front_features_acked(v->f), features);
	assert_int_equal(vu_front_mem_init(v->f, &mo), 0);
	assert_int_equal(vu_front_set_mem_table(v->f), 0);
	for (uint32_t i = 0; i < 2 * npairs; i++) {
		v->errfd[i] = efd_new();
		assert_int_equal(vu_front_set_vring_err(v->f, i, v->errfd[i]),
				 0);
		assert_int_equal(vu_front_vring_setup(v->f, i, RING), 0);
	}
	for (uint32_t p = 0; p < npairs; p++)
		assert_int_equal(pd_create(&v->d[p], v->f, p), 0);
}

static void dev_down(struct dev *v)
{
	for (uint32_t p = 0; p < v->npairs; p++)
		pd_destroy(&v->d[p]);
	vu_front_close(v->f);
	for (uint32_t i = 0; i < 2 * v->npairs; i++)
		close(v->errfd[i]);
	memset(v, 0, sizeof(*v));
}

/* Detach a and wait until vhostd has reset it (a new connection made
 * before that would be turned away as a second front-end). */
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

/* ---- what the guest posts --------------------------------------------- */

#define TRIG_LEN 200u          /* the frame sent towards an RX ring */
#define ID 7u                  /* buffer id of a chain the device uses */

/* TX builds: the next frame of the case (want.tag), with its virtio-net
 * header, spread over n segments; the frame is what they hold beyond
 * the header. */
static void put_frame(struct hp *h, unsigned n, const uint64_t *gpa,
		      const uint32_t *len)
{
	static uint8_t buf[PD_HDR + PD_FRAME_MAX];
	uint32_t total = 0, off = 0, k = want.n++;

	for (unsigned i = 0; i < n; i++)
		total += len[i];
	want.seq[k] = k;
	want.len[k] = total - PD_HDR;
	memset(buf, 0, PD_HDR);
	make_frame(buf + PD_HDR, want.len[k], want.tag, k, false);
	for (unsigned i = 0; i < n; i++) {
		assert_true(hp_copy(h, gpa[i], buf + off, len[i], true));
		off += len[i];
	}
}

/* RX builds: the frame sent towards the ring lands in these segments. */
static void want_rx(unsigned n, const uint64_t *gpa, const uint32_t *len)
{
	want.nseg = n;
	for (unsigned i = 0; i < n; i++) {
		want.gpa[i] = gpa[i];
		want.seglen[i] = len[i];
	}
}

/*
 * A legal chain of n descriptors at slots h->taken..: buffers gpa[i] of
 * len[i] bytes; the first descriptor's flags are first_flags when not 0
 * (AVAIL/USED included), NEXT on all but the last, the buffer id ID on
 * the last one (2.8.6: "Buffer ID is included in the last descriptor in
 * the list"), id0 on the others.
 */
static void legal_chain(struct hp *h, unsigned n, const uint64_t *gpa,
			const uint32_t *len, uint16_t first_flags,
			uint16_t id0)
{
	uint16_t k0 = h->taken;

	if (h->tx)
		put_frame(h, n, gpa, len);
	else
		want_rx(n, gpa, len);
	for (unsigned i = 0; i < n; i++) {
		uint16_t fl = (uint16_t)(hp_dir(h) |
					 (i + 1 < n ? HPF_NEXT : 0));
		uint16_t id = (uint16_t)(i + 1 < n ? id0 : ID);
		if (i == 0 && first_flags)
			hp_desc_raw(h, k0, gpa[0], len[0],
				    (uint16_t)(fl | first_flags), id);
		else
			hp_desc(h, k0 + i, gpa[i], len[i], fl, id);
	}
	hp_expect(h, ID, (uint16_t)n);
}

/* One buffer of the ring's direction (TX: header and 100 bytes; RX room
 * for the whole frame). */
static void legal_one(struct hp *h, uint16_t first_flags)
{
	uint64_t g = hp_buf(h, 1);
	uint32_t l = h->tx ? PD_HDR + 100 : HP_BUF_SIZE;

	legal_chain(h, 1, &g, &l, first_flags, ID);
}

/* The head made available properly (the fix of the cases below). */
static void fix_head(struct hp *h)
{
	bool w;
	struct vring_packed_desc *e = &h->r->desc[hp_slot(h, 0, &w)];

	h->head_flags = (uint16_t)((e->flags & ~(HPF_AVAIL | HPF_USED)) |
				   hp_avail_bits(w));
	hp_publish(h);
}

/*
 * Legal, the device waits: "To mark a descriptor as available, the driver
 * sets the VIRTQ_DESC_F_AVAIL bit in Flags to match the internal Driver
 * Ring Wrap Counter.  It also sets the VIRTQ_DESC_F_USED bit to match the
 * inverse value" (2.8.1), and "A device MUST NOT use a descriptor unless
 * it observes the VIRTQ_DESC_F_AVAIL bit in its flags being changed"
 * (2.8.15).  A head whose bits are those of the other lap is not
 * available: to the device it is a slot the driver has not written yet,
 * which no device can tell from a lie.  Nothing is taken, nothing breaks;
 * once the bits are right the chain is taken.
 */
static void build_head_of_the_other_lap(struct hp *h)
{
	legal_one(h, hp_avail_bits(!h->wrap));
}

/* Legal, the device waits: AVAIL = USED is how a used descriptor looks
 * ("To mark a descriptor as used, the device sets the VIRTQ_DESC_F_USED
 * bit in Flags to match the internal Device Ring Wrap Counter. It also
 * sets the VIRTQ_DESC_F_AVAIL bit to match the same value", 2.8.1): a head
 * in that pattern is not available, in either lap. */
static void build_head_in_the_used_pattern(struct hp *h)
{
	legal_one(h, h->wrap ? HPF_AVAIL | HPF_USED : HPF_USED);
}

static void build_head_in_the_used_pattern_of_the_last_lap(struct hp *h)
{
	legal_one(h, h->wrap ? HPF_USED : HPF_AVAIL | HPF_USED);
}

/* Legal: a chain of three that starts in the last slot and goes on in
 * slots 0 and 1 of the next lap, their AVAIL/USED bits flipped: "The
 * driver changes the value of this counter each time it makes available
 * the last descriptor in the ring" (2.8.1), and "After reaching the end
 * of the ring, the next descriptor is placed at the head of the ring"
 * (2.8). */
static void build_chain_across_the_wrap(struct hp *h)
{
	uint64_t g[3] = {hp_buf(h, 1), hp_buf(h, 2), hp_buf(h, 3)};
	uint32_t l[3] = {PD_HDR + 40, 100, 88};

	if (!h->tx)
		l[0] = l[1] = l[2] = 100;
	legal_chain(h, 3, g, l, 0, ID);
}

/* Legal: the ids of all but the last descriptor of a chain mean nothing
 * ("Buffer ID is included in the last descriptor in the list", 2.8.6):
 * 0xffff there is ignored. */
static void build_id_out_of_range_before_the_last_descriptor(struct hp *h)
{
	uint64_t g[2] = {hp_buf(h, 1), hp_buf(h, 2)};
	uint32_t l[2] = {PD_HDR + 50, 100};

	if (!h->tx)
		l[0] = l[1] = 120;
	legal_chain(h, 2, g, l, 0, 0xffff);
}

/* Legal: a table of three entries that carry NEXT and ids.  "The
 * VIRTQ_DESC_F_WRITE flags bit is the only valid flag for descriptors in
 * the indirect table. Others are reserved and are ignored by the device.
 * Buffer ID is also reserved and is ignored by the device." (2.8.7) */
static void build_indirect_entries_with_next_and_ids(struct hp *h)
{
	uint64_t g[3] = {hp_buf(h, 1), hp_buf(h, 2), hp_buf(h, 3)};
	uint32_t l[3] = {PD_HDR + 20, 100, 100};
	uint64_t tbl = hp_tbl(h, 0);

	if (h->tx)
		put_frame(h, 3, g, l);
	else
		want_rx(3, g, l);
	for (uint16_t i = 0; i < 3; i++)
		hp_idesc(h, tbl, i, g[i], l[i], hp_dir(h) | HPF_NEXT,
			 (uint16_t)(0xfff0 + i));
	hp_desc(h, 0, tbl, 3 * 16, HPF_INDIRECT, ID);
	hp_expect(h, ID, 1);
}

/* Legal: guest memory is two regions back to back; a buffer across their
 * boundary is all guest memory ("Element Address" and "Element Length"
 * describe one buffer, 2.8.4; how the guest's memory is cut into regions
 * is the VMM's business). */
static void build_buffer_across_two_regions(struct hp *h)
{
	uint64_t g = h->region0_end - 50;
	uint32_t l = h->tx ? PD_HDR + 150 : HP_BUF_SIZE;

	legal_chain(h, 1, &g, &l, 0, ID);
}

/* Legal for the device: one buffer (same address, same id) made available
 * twice, in two slots.  Ids are the driver's ("Get the next free buffer id
 * value", 2.8.21.1); the device uses descriptors in ring order ("The
 * device MUST start processing driver descriptors in the order in which
 * they appear in the ring", 2.8.12) and echoes the id, so it uses both
 * and only the guest's own bookkeeping suffers. */
static void build_same_buffer_made_available_twice(struct hp *h)
{
	uint64_t g = hp_buf(h, 1);
	uint32_t l = PD_HDR + 100;

	legal_chain(h, 1, &g, &l, 0, ID);
	hp_desc(h, 1, g, l, hp_dir(h), ID);
	hp_expect(h, ID, 1);
	want.seq[1] = want.seq[0];
	want.len[1] = want.len[0];
	want.n = 2;
}

/* ---- hostile builds --------------------------------------------------- */

/* "A driver MUST NOT make the first descriptor in the list available
 * before all subsequent descriptors comprising the list are made
 * available" (2.8.17; 2.8.6).  A head that is available and a later
 * descriptor of its list that is not is a broken driver, not a race:
 * CHAIN_AVAIL. */
static void build_later_descriptor_of_the_other_lap(struct hp *h)
{
	bool w;

	hp_slot(h, 1, &w);
	hp_desc(h, 0, hp_buf(h, 1), 100, hp_dir(h) | HPF_NEXT, 0);
	hp_desc_raw(h, 1, hp_buf(h, 2), 100,
		    (uint16_t)(hp_dir(h) | hp_avail_bits(!w)), ID);
}

static void build_later_descriptor_in_the_used_pattern(struct hp *h)
{
	bool w;

	hp_slot(h, 1, &w);
	hp_desc(h, 0, hp_buf(h, 1), 100, hp_dir(h) | HPF_NEXT, 0);
	hp_desc_raw(h, 1, hp_buf(h, 2), 100,
		    (uint16_t)(hp_dir(h) | (w ? HPF_AVAIL | HPF_USED : 0)),
		    ID);
}

/* The list goes on past the end of the ring, but the driver did not flip
 * its wrap counter (2.8.1): the descriptor in slot 0 has the old lap's
 * bits, so it is not available: CHAIN_AVAIL. */
static void build_chain_across_the_wrap_with_stale_wrap_bits(struct hp *h)
{
	hp_desc(h, 0, hp_buf(h, 1), 100, hp_dir(h) | HPF_NEXT, 0);
	hp_desc_raw(h, 1, hp_buf(h, 2), 100,
		    (uint16_t)(hp_dir(h) | hp_avail_bits(h->wrap)), ID);
}

/* "A driver MUST NOT create a descriptor list longer than the Queue
 * Size" (2.8.17): every slot available and chained, round the wrap, with
 * no end: DESC_LOOP after 'size' descriptors. */
static void build_chain_that_never_ends(struct hp *h)
{
	for (uint32_t k = 0; k < h->size; k++)
		hp_desc(h, k, hp_buf(h, k), 100, hp_dir(h) | HPF_NEXT,
			(uint16_t)k);
}

/* Buffer ids: the spec sets no range in words, but "if Queue Size is 4
 * then at most 4 buffers can be queued at any given time" (2.8.10.1), so
 * ids 0..size-1 serve every driver (the spec's own example driver asserts
 * "id < vq->size", 2.8.22), and vhostd refuses others (vq_packed.c,
 * HEAD_RANGE). */
static void build_id_equal_to_the_ring_size(struct hp *h)
{
	hp_desc(h, 0, hp_buf(h, 1), 100, hp_dir(h), h->size);
}

static void build_id_ffff_in_the_last_descriptor(struct hp *h)
{
	hp_desc(h, 0, hp_buf(h, 1), 100, hp_dir(h) | HPF_NEXT, 0);
	hp_desc(h, 1, hp_buf(h, 2), 100, hp_dir(h), 0xffff);
}

/* A table of n good entries, pointed to with length len. */
static void indirect_of_len(struct hp *h, uint16_t n, uint32_t len)
{
	for (uint16_t i = 0; i < n; i++)
		hp_idesc(h, hp_tbl(h, 0), i, hp_buf(h, 1 + i), 100, hp_dir(h),
			 0);
	hp_desc(h, 0, hp_tbl(h, 0), len, HPF_INDIRECT, ID);
}

/* "addr and len refer to the indirect table address and length in
 * bytes", the table being "struct pvirtq_desc desc[len / sizeof(struct
 * pvirtq_desc)]" (2.8.7): a length that is not a multiple of 16 or is 0
 * describes no such table, and "A driver MUST NOT create a descriptor
 * list longer than the Queue Size" (2.8.17): INDIRECT_LEN. */
static void build_indirect_len_not_a_multiple_of_16(struct hp *h)
{
	indirect_of_len(h, 3, 3 * 16 + 8);
}

static void build_indirect_len_zero(struct hp *h)
{
	indirect_of_len(h, 1, 0);
}

static void build_indirect_more_entries_than_the_ring(struct hp *h)
{
	indirect_of_len(h, 4, (h->size + 1u) * 16u);
}

/* "The driver MUST NOT set any flags except DESC_F_WRITE within an
 * indirect descriptor" (2.8.19); vhostd breaks the queue on an INDIRECT
 * entry rather than read a table as data (vq_packed.c). */
static void build_indirect_nested(struct hp *h)
{
	hp_idesc(h, hp_tbl(h, 1), 0, hp_buf(h, 2), 100, hp_dir(h), 0);
	hp_idesc(h, hp_tbl(h, 0), 0, hp_tbl(h, 1), 16, HPF_INDIRECT, 0);
	hp_desc(h, 0, hp_tbl(h, 0), 16, HPF_INDIRECT, ID);
}

/* "A driver MUST NOT set both VIRTQ_DESC_F_INDIRECT and
 * VIRTQ_DESC_F_NEXT in flags" (2.8.19). */
static void build_indirect_with_next(struct hp *h)
{
	hp_idesc(h, hp_tbl(h, 0), 0, hp_buf(h, 1), 100, hp_dir(h), 0);
	hp_desc(h, 0, hp_tbl(h, 0), 16, HPF_INDIRECT | HPF_NEXT, 0);
	hp_desc(h, 1, hp_buf(h, 2), 100, hp_dir(h), ID);
}

/* "A driver MUST NOT write direct descriptors with DESC_F_INDIRECT set in
 * a scatter-gather list linked by VIRTQ_DESC_F_NEXT" (2.8.19). */
static void build_indirect_inside_a_chain(struct hp *h)
{
	hp_idesc(h, hp_tbl(h, 0), 0, hp_buf(h, 2), 100, hp_dir(h), 0);
	hp_desc(h, 0, hp_buf(h, 1), 100, hp_dir(h) | HPF_NEXT, 0);
	hp_desc(h, 1, hp_tbl(h, 0), 16, HPF_INDIRECT, ID);
}

/* "The driver MUST NOT set the DESC_F_INDIRECT flag unless the
 * VIRTIO_F_INDIRECT_DESC feature was negotiated" (2.8.19). */
static void build_indirect_not_negotiated(struct hp *h)
{
	indirect_of_len(h, 1, 16);
}

/* The table is read from guest memory like any buffer: outside it, or
 * straddling its end, is ADDR. */
static void build_indirect_table_outside_guest_memory(struct hp *h)
{
	hp_desc(h, 0, h->mem_end + 0x10000, 16, HPF_INDIRECT, ID);
}

static void build_indirect_table_straddling_the_end(struct hp *h)
{
	hp_desc(h, 0, h->mem_end - 16, 32, HPF_INDIRECT, ID);
}

/* A zero-length element inside a table.  The spec has no word against it
 * ("The length of the element ... is stored in Element Length", 2.8.4);
 * vhostd's rule, as on split rings, is that no driver posts an empty
 * element, so one is a broken driver: ZERO_LEN. */
static void build_zero_len_in_an_indirect_table(struct hp *h)
{
	hp_idesc(h, hp_tbl(h, 0), 0, hp_buf(h, 1), 100, hp_dir(h), 0);
	hp_idesc(h, hp_tbl(h, 0), 1, hp_buf(h, 2), 0, hp_dir(h), 0);
	hp_desc(h, 0, hp_tbl(h, 0), 32, HPF_INDIRECT, ID);
}

/* "addr is a physical address" (2.8.13) of the guest: a buffer outside
 * the guest's memory, straddling its end, or wrapping the address space
 * is ADDR. */
static void build_buffer_outside_guest_memory(struct hp *h)
{
	hp_desc(h, 0, h->mem_end + 0x10000, 100, hp_dir(h), ID);
}

static void build_buffer_straddling_the_end(struct hp *h)
{
	hp_desc(h, 0, hp_buf(h, 1), 100, hp_dir(h) | HPF_NEXT, 0);
	hp_desc(h, 1, h->mem_end - 10, 100, hp_dir(h), ID);
}

static void build_buffer_wrapping_the_address_space(struct hp *h)
{
	hp_desc(h, 0, 0xffffffffffffff00ull, 0x200, hp_dir(h), ID);
}

/* ---- races: descriptors rewritten right after they were published ----- */

/*
 * Each round publishes one descriptor (TX: a frame, header and
 * RACE_OLD_LEN bytes, in race_buf), then the guest rewrites it at once,
 * ending on the new value.  "A driver MUST NOT change a descriptor after
 * changing the VIRTQ_DESC_F_AVAIL bit in its flags" (2.8.16), and "The
 * device MAY access the descriptor ... immediately" (2.8.21.1): whatever
 * the device reads at that moment is what the driver said.  vhostd reads
 * the descriptor once (DESIGN.md), so it acts on the old or the new one,
 * whole: a legal new value gives a frame of one length or the other, a
 * hostile one breaks the queue for that value's reason, nothing else.
 */
#define RACE_OLD_LEN 60u
#define RACE_NEW_LEN 200u
#define RACE_FLIPS_MAX 65536u  /* rewrites after publishing, alternating */

/* len: another legal length of the same buffer: the frame comes back
 * with one length or the other, never anything else. */
static void flip_len_legal(struct hp *h, struct vring_packed_desc *e,
			   bool new_val)
{
	(void)h;
	__atomic_store_n(&e->len, PD_HDR + (new_val ? RACE_NEW_LEN :
				      RACE_OLD_LEN), __ATOMIC_RELAXED);
}

/* len: past the end of guest memory (the buffer is its last bytes). */
static void flip_len_out(struct hp *h, struct vring_packed_desc *e,
			 bool new_val)
{
	(void)h;
	__atomic_store_n(&e->len, new_val ? HP_BUF_SIZE + 4096u :
			 PD_HDR + RACE_OLD_LEN, __ATOMIC_RELAXED);
}

static uint64_t race_buf;   /* the round's buffer: the old addr */

static void flip_addr_out(struct hp *h, struct vring_packed_desc *e,
			  bool new_val)
{
	__atomic_store_n(&e->addr, new_val ? h->mem_end + 0x10000 : race_buf,
			 __ATOMIC_RELAXED);
}

static uint16_t race_flags;  /* the flags published */

static void flip_flags_write(struct hp *h, struct vring_packed_desc *e,
			     bool new_val)
{
	(void)h;
	__atomic_store_n(&e->flags, (uint16_t)(race_flags |
			 (new_val ? HPF_WRITE : 0)), __ATOMIC_RELAXED);
}

/* NEXT: the list would go on into the next slot, which is not available:
 * CHAIN_AVAIL. */
static void flip_flags_next(struct hp *h, struct vring_packed_desc *e,
			    bool new_val)
{
	(void)h;
	__atomic_store_n(&e->flags, (uint16_t)(race_flags |
			 (new_val ? HPF_NEXT : 0)), __ATOMIC_RELAXED);
}

#define E(x) ((int)VQ_ERR_##x)
#define IND BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC)

static const struct hcase cases[] = {
	/* wrap-counter lies */
	{"head available for the other lap waits",
	 build_head_of_the_other_lap, fix_head, LEGAL, LEGAL, 0, 0, NULL, 0},
	{"head in the used pattern waits", build_head_in_the_used_pattern,
	 fix_head, LEGAL, LEGAL, 0, 0, NULL, 0},
	{"head in the last lap's used pattern waits",
	 build_head_in_the_used_pattern_of_the_last_lap, fix_head, LEGAL,
	 LEGAL, 0, 0, NULL, 0},
	{"later descriptor of a chain available for the other lap",
	 build_later_descriptor_of_the_other_lap, NULL, E(CHAIN_AVAIL),
	 E(CHAIN_AVAIL), 0, 0, NULL, 0},
	{"later descriptor of a chain in the used pattern",
	 build_later_descriptor_in_the_used_pattern, NULL, E(CHAIN_AVAIL),
	 E(CHAIN_AVAIL), 0, 0, NULL, 0},
	{"same buffer made available twice",
	 build_same_buffer_made_available_twice, NULL, LEGAL, NONE, 0, 0,
	 NULL, 0},
	/* chains across the wrap */
	{"chain across the end of the ring", build_chain_across_the_wrap,
	 NULL, LEGAL, LEGAL, 1, 0, NULL, 0},
	{"chain across the end of the ring with stale wrap bits",
	 build_chain_across_the_wrap_with_stale_wrap_bits, NULL,
	 E(CHAIN_AVAIL), E(CHAIN_AVAIL), 1, 0, NULL, 0},
	{"chain that never ends", build_chain_that_never_ends, NULL,
	 E(DESC_LOOP), E(DESC_LOOP), 3, 0, NULL, 0},
	/* buffer ids */
	{"buffer id equal to the ring size", build_id_equal_to_the_ring_size,
	 NULL, E(HEAD_RANGE), E(HEAD_RANGE), 0, 0, NULL, 0},
	{"buffer id 0xffff in the last descriptor",
	 build_id_ffff_in_the_last_descriptor, NULL, E(HEAD_RANGE),
	 E(HEAD_RANGE), 0, 0, NULL, 0},
	{"buffer id out of range before the last descriptor is ignored",
	 build_id_out_of_range_before_the_last_descriptor, NULL, LEGAL,
	 LEGAL, 0, 0, NULL, 0},
	/* indirect tables */
	{"indirect length not a multiple of 16",
	 build_indirect_len_not_a_multiple_of_16, NULL, E(INDIRECT_LEN),
	 E(INDIRECT_LEN), 0, 0, NULL, 0},
	{"indirect length zero", build_indirect_len_zero, NULL,
	 E(INDIRECT_LEN), E(INDIRECT_LEN), 0, 0, NULL, 0},
	{"indirect table with more entries than the ring",
	 build_indirect_more_entries_than_the_ring, NULL, E(INDIRECT_LEN),
	 E(INDIRECT_LEN), 0, 0, NULL, 0},
	{"nested indirect", build_indirect_nested, NULL, E(INDIRECT_NESTED),
	 E(INDIRECT_NESTED), 0, 0, NULL, 0},
	{"indirect with next", build_indirect_with_next, NULL,
	 E(INDIRECT_NEXT), E(INDIRECT_NEXT), 0, 0, NULL, 0},
	{"indirect descriptor inside a chain", build_indirect_inside_a_chain,
	 NULL, E(INDIRECT_CHAINED), E(INDIRECT_CHAINED), 0, 0, NULL, 0},
	{"indirect without INDIRECT_DESC", build_indirect_not_negotiated,
	 NULL, E(INDIRECT_OFF), E(INDIRECT_OFF), 0, IND, NULL, 0},
	{"indirect table outside guest memory",
	 build_indirect_table_outside_guest_memory, NULL, E(ADDR), E(ADDR),
	 0, 0, NULL, 0},
	{"indirect table straddling the end of guest memory",
	 build_indirect_table_straddling_the_end, NULL, E(ADDR), E(ADDR), 0,
	 0, NULL, 0},
	{"zero-length buffer in an indirect table",
	 build_zero_len_in_an_indirect_table, NULL, E(ZERO_LEN), E(ZERO_LEN),
	 0, 0, NULL, 0},
	{"indirect entries with next and ids are ignored",
	 build_indirect_entries_with_next_and_ids, NULL, LEGAL, LEGAL, 0, 0,
	 NULL, 0},
	/* addresses */
	{"buffer outside guest memory", build_buffer_outside_guest_memory,
	 NULL, E(ADDR), E(ADDR), 0, 0, NULL, 0},
	{"buffer straddling the end of guest memory",
	 build_buffer_straddling_the_end, NULL, E(ADDR), E(ADDR), 0, 0, NULL,
	 0},
	{"buffer wrapping the address space",
	 build_buffer_wrapping_the_address_space, NULL, E(ADDR), E(ADDR), 0,
	 0, NULL, 0},
	{"buffer across two regions", build_buffer_across_two_regions, NULL,
	 LEGAL, LEGAL, 0, 0, NULL, 0},
	/* flags, len, addr rewritten right after publishing */
	{"len rewritten after publishing, both legal", NULL, NULL, LEGAL,
	 NONE, 0, 0, flip_len_legal, true},
	{"len rewritten after publishing to past guest memory", NULL, NULL,
	 E(ADDR), NONE, 0, 0, flip_len_out, false},
	{"addr rewritten after publishing to outside guest memory", NULL,
	 NULL, E(ADDR), E(ADDR), 0, 0, flip_addr_out, false},
	{"flags rewritten after publishing to writable", NULL, NULL,
	 E(WRONG_DIR), NONE, 0, 0, flip_flags_write, false},
	{"flags rewritten after publishing to next", NULL, NULL,
	 E(CHAIN_AVAIL), NONE, 0, 0, flip_flags_next, false},
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))
#define MAX_RUNS (2 * NCASES)

/* ---- running a case ----------------------------------------------------- */

static uint32_t trig_tag, trig_seq;

/* The frame that makes vhostd read an RX ring: one on the pair's TX. */
static void send_trigger(struct pd *d)
{
	static uint8_t f[TRIG_LEN];

	make_frame(f, TRIG_LEN, trig_tag, ++trig_seq, false);
	assert_true(pd_tx(d, f, TRIG_LEN, 1));
}

/* Wait until every TX buffer of d was used (a frame taken, maybe
 * dropped). */
static void wait_tx_done(struct pd *d)
{
	int64_t end = now_ms() + WAIT_MS;

	while (d->tx.nout != 0 && now_ms() < end)
		if (!pd_tx_reclaim(d))
			usleep(100);
	assert_int_equal(d->tx.nout, 0);
}

static void no_rx_frame(struct pd *d, const char *who)
{
	struct rx_check c = {.tag = 0, .n = 0};

	pd_rx_poll(d, on_rx, &c);
	if (c.got != 0)
		fail_msg("%s: %u frames arrived", who, c.got);
}

/* Legal case: every chain the guest posted was used where it began, and
 * the frame made it through (TX: reflected; RX: in the guest's buffers). */
static void check_legal(struct hp *h, struct pd *d)
{
	uint32_t len = 0;
	int64_t end = now_ms() + WAIT_MS;

	for (unsigned i = 0; i < h->nused; i++) {
		while (!hp_is_used(h, i, &len) && now_ms() < end)
			usleep(100);
		if (!hp_is_used(h, i, &len))
			fail_msg("chain %u (slot %u, id %u) was not used", i,
				 h->used[i].slot, h->used[i].id);
	}
	if (h->tx) {
		struct rx_check c = {.tag = want.tag, .n = want.n,
				     .seq = want.seq, .len = want.len};
		wait_frames(d, &c, "legal tx chain reflected");
	} else {
		static uint8_t got[PD_HDR + TRIG_LEN], w[TRIG_LEN];
		uint32_t at = 0;
		assert_int_equal(len, PD_HDR + TRIG_LEN);
		for (unsigned s = 0; s < want.nseg && at < len; s++) {
			uint32_t n = MIN(want.seglen[s], len - at);
			assert_true(hp_copy(h, want.gpa[s], got + at, n,
					    false));
			at += n;
		}
		assert_int_equal(at, len);
		make_frame(w, TRIG_LEN, trig_tag, trig_seq, true);
		assert_memory_equal(got + PD_HDR, w, TRIG_LEN);
		wait_tx_done(d);
	}
	hp_resync(h);
}

/* Legal case whose head is not available yet: the device takes nothing
 * (TX: no frame; RX: the frame sent to it is dropped), then fix. */
static void check_waits(const struct run *r, struct hp *h, struct pd *d)
{
	struct vring_packed_desc now;

	msleep(QUIET_MS);
	if (!r->tx)
		wait_tx_done(d);
	/* The device would have written id, len and flags (the used pattern
	 * alone may be what the guest wrote). */
	memcpy(&now, &h->r->desc[h->pos], sizeof(now));
	assert_memory_equal(&now, &h->head, sizeof(now));
	if (r->tx) /* (on RX, that head is what the driver would reap) */
		no_rx_frame(d, "head not available");
	r->c->fix(h);
	if (!r->tx)
		send_trigger(d);
}

/* Race rounds: *broke set when the queue broke (round given back). */
struct race_check {
	uint32_t tag, seq, got, old_len, new_len;
	unsigned n_old, n_new, bad;
};

static void on_race_rx(void *arg, const uint8_t *f, uint32_t len)
{
	static uint8_t w[PD_FRAME_MAX];
	struct race_check *c = arg;

	c->got++;
	if (len != c->old_len && len != c->new_len) {
		c->bad++;
		return;
	}
	make_frame(w, len, c->tag, c->seq, true);
	if (memcmp(f, w, len) != 0)
		c->bad++;
	else if (len == c->old_len)
		c->n_old++;
	else
		c->n_new++;
}

/* TX: publish a frame, rewrite the descriptor at once (ending on the new
 * value), see which one vhostd took. */
static bool race_tx_round(const struct run *r, struct hp *h, struct pd *d,
			  int errfd, uint32_t round, struct race_check *c)
{
	static uint8_t buf[PD_HDR + RACE_NEW_LEN];

	hp_rebase(h);
	struct vring_packed_desc *e = &h->r->desc[h->pos];
	race_buf = r->c->flip == flip_len_out ? h->mem_end - HP_BUF_SIZE :
						hp_buf(h, round);
	c->seq = round;
	memset(buf, 0, PD_HDR);
	make_frame(buf + PD_HDR, RACE_NEW_LEN, c->tag, round, false);
	memcpy(hp_ptr(h, race_buf, sizeof(buf)), buf, sizeof(buf));
	e->addr = race_buf;
	e->len = PD_HDR + RACE_OLD_LEN;
	e->id = ID;
	race_flags = hp_avail_bits(h->wrap);
	__atomic_store_n(&e->flags, race_flags, __ATOMIC_RELEASE);
	/* The worker polls on another core: it reads the descriptor while
	 * this loop runs (old or new, about evenly) or after it (new).  The
	 * loop is long in early rounds (a pass of the worker takes a few
	 * microseconds, more under ASan), and shorter round after round. */
	uint32_t flips = RACE_FLIPS_MAX >> (round % 16);
	for (uint32_t i = 0; i < flips; i++)
		r->c->flip(h, e, i % 2 == 0);
	r->c->flip(h, e, true);

	uint32_t got = c->got;
	int64_t end = now_ms() + WAIT_MS;
	while (c->got == got && now_ms() < end) {
		if (efd_wait(errfd, 0)) {
			no_rx_frame(d, "race round that broke the queue");
			return true;
		}
		if (pd_rx_poll(d, on_race_rx, c) == 0)
			usleep(50);
	}
	if (c->got != got + 1)
		fail_msg("round %u: %u frames back, want 1", round,
			 c->got - got);
	hp_expect(h, ID, 1);
	hp_resync(h);
	return false;
}

struct flipper {
	struct vring_packed_desc *e;
	uint64_t old_addr, new_addr;
	bool stop;
	pthread_t t;
};

static void *flipper_main(void *arg)
{
	struct flipper *fl = arg;

	while (!__atomic_load_n(&fl->stop, __ATOMIC_RELAXED)) {
		__atomic_store_n(&fl->e->addr, fl->new_addr, __ATOMIC_RELAXED);
		__atomic_store_n(&fl->e->addr, fl->old_addr, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* RX: the next RX buffer's address flips between the driver's buffer and
 * outside guest memory while a frame travels towards it (a second thread:
 * the descriptor was published long ago). */
static bool race_rx_round(struct hp *h, struct pd *d, int errfd,
			  uint32_t round, struct race_check *c)
{
	struct flipper fl = {.e = &h->r->desc[h->r->used_pos]};
	uint32_t len;
	bool broke = false;

	hp_rebase(h);
	hp_expect(h, h->r->oldest, 1);
	fl.old_addr = fl.e->addr;
	fl.new_addr = h->mem_end + 0x10000;
	static uint8_t f[TRIG_LEN];
	make_frame(f, TRIG_LEN, trig_tag, ++trig_seq, false);
	assert_int_equal(pthread_create(&fl.t, NULL, flipper_main, &fl), 0);
	/* No assertion may leave while the flipper runs. */
	bool sent = pd_tx(d, f, TRIG_LEN, 1);
	int64_t end = now_ms() + WAIT_MS;
	while (sent && now_ms() < end && !hp_is_used(h, 0, &len) &&
	       !(broke = efd_wait(errfd, 0)))
		usleep(50);
	__atomic_store_n(&fl.stop, true, __ATOMIC_RELAXED);
	pthread_join(fl.t, NULL);
	__atomic_store_n(&fl.e->addr, fl.old_addr, __ATOMIC_RELAXED);
	assert_true(sent);
	if (broke) {
		wait_tx_done(d);
		no_rx_frame(d, "race round that broke the queue");
		return true;
	}
	struct rx_check rc = {.tag = trig_tag, .n = 1, .seq = &trig_seq,
			      .len = (const uint32_t[]){TRIG_LEN}};
	wait_frames(d, &rc, "race round");
	c->n_old++;
	(void)round;
	return false;
}

/* Returns true when the queue broke (in the last round run). */
static bool run_race(const struct run *r, struct hp *h, struct pd *d,
		     int errfd)
{
	struct race_check c = {.tag = ++tag_seq,
			       .old_len = RACE_OLD_LEN,
			       .new_len = r->c->new_legal ? RACE_NEW_LEN : 0};
	uint32_t round;
	bool broke = false;

	if (!r->c->new_legal)
		rate_budget();
	for (round = 0; round < RACE_ROUNDS && !broke; round++)
		broke = r->tx ? race_tx_round(r, h, d, errfd, round, &c) :
				race_rx_round(h, d, errfd, round, &c);
	if (c.bad)
		fail_msg("%u frames matched neither descriptor", c.bad);
	print_message("race: %u old, %u new%s%u\n", c.n_old, c.n_new,
		      broke ? ", broke in round " : ", rounds ", round);
	return broke;
}

static void run_case(void **state)
{
	const struct run *r = *state;
	const struct hcase *c = r->c;
	const uint32_t ring = 2 * r->pair + (r->tx ? 1 : 0);
	const uint32_t other = 1 - r->pair;
	char who[64], line[1024], wantl[256];
	struct hp h;
	int err = r->err;

	dev_up(&a, sock_a, PAIRS_A, FEATURES & ~c->feat_off);
	struct pd *d = &a.d[r->pair];
	for (uint32_t p = 0; p < PAIRS_A; p++) {
		snprintf(who, sizeof(who), "a pair %u before", p);
		reflect_ok(&a.d[p], who);
	}
	reflect_ok(&b.d[0], "b before");
	if (c->lead)
		advance_to(d, r->tx, (uint16_t)(RING - c->lead));

	long off = file_size(logpath);
	memset(&want, 0, sizeof(want));
	want.tag = ++tag_seq;
	trig_tag = ++tag_seq;
	assert_int_equal(hp_init(&h, d, r->tx), 0);
	if (c->flip) {
		if (!run_race(r, &h, d, a.errfd[ring]))
			err = LEGAL;
	} else {
		if (err != LEGAL)
			rate_budget();
		c->build(&h);
		hp_publish(&h);
		assert_int_equal(vu_front_kick(a.f, ring), 0);
		if (!r->tx)
			send_trigger(d);
		if (err == LEGAL) {
			if (c->fix)
				check_waits(r, &h, d);
			check_legal(&h, d);
		} else if (!efd_wait(a.errfd[ring], WAIT_MS)) {
			fail_msg("error eventfd of ring %u not signalled; "
				 "log %s", ring, logpath);
		} else if (!r->tx) {
			/* The pair's TX ring still runs: the frame was taken
			 * and dropped, not left there. */
			wait_tx_done(d);
			no_rx_frame(d, "broken rx ring");
		}
	}
	if (err != LEGAL)
		breaks_expected++;

	/* (c) the other pair of a and b's pair still reflect. */
	snprintf(who, sizeof(who), "a pair %u after", other);
	reflect_ok(&a.d[other], who);
	reflect_ok(&b.d[0], "b after");
	if (err == LEGAL)
		reflect_ok(d, "a target pair after");

	/* (b) the hostile ring's error eventfd fired once, no other did. */
	assert_int_equal(efd_take(a.errfd[ring]), err == LEGAL ? 0 : 1);
	for (uint32_t i = 0; i < 2 * PAIRS_A; i++)
		if (i != ring && efd_take(a.errfd[i]) != 0)
			fail_msg("ring %u's error eventfd fired too", i);
	for (uint32_t i = 0; i < 2; i++)
		if (efd_take(b.errfd[i]) != 0)
			fail_msg("b ring %u's error eventfd fired", i);

	/* (a) exactly one error line, naming the queue and the reason. */
	int nerr = log_count(off, "level=err ", NULL, line, sizeof(line));
	int nbroken = log_count(off, " broken", NULL, NULL, 0);
	if (err == LEGAL) {
		if (nerr != 0 || nbroken != 0)
			fail_msg("legal input logged %d error lines: %s", nerr,
				 line);
	} else {
		snprintf(wantl, sizeof(wantl), " a: queue %u broken: %s "
			 "(value ", ring, vq_error_text((enum vq_error)err));
		if (nerr != 1 || nbroken != 1 || !strstr(line, wantl))
			fail_msg("want one line with '%s'; got %d error lines "
				 "(%d 'broken'), first: %s", wantl, nerr,
				 nbroken, nerr ? line : "-");
	}

	/* (d) */
	assert_daemon_ok();
}

/* ---- the daemon and the bystander ---------------------------------------- */

static int group_setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vhostd-hpk.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(sock_a, sizeof(sock_a), "%s/a.sock", dir);
	snprintf(sock_b, sizeof(sock_b), "%s/b.sock", dir);
	snprintf(logpath, sizeof(logpath), "%s/vhostd.log", dir);
	char pa[160], pb[160], core[16];
	/* The worker on the last CPU we may use; this process anywhere. */
	cpu_set_t cs;
	int last = 0;
	CPU_ZERO(&cs);
	if (sched_getaffinity(0, sizeof(cs), &cs) == 0)
		for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
			if (CPU_ISSET(cpu, &cs))
				last = cpu;
	snprintf(core, sizeof(core), "%d", last);
	snprintf(pa, sizeof(pa), "a=vhost:%s,queues=%u", sock_a, PAIRS_A);
	snprintf(pb, sizeof(pb), "b=vhost:%s", sock_b);
	char *args[] = {"--port", pa, "--port", pb, "--reflect", "a",
			"--reflect", "b", "--cores", core, "--log-level",
			"info", NULL};
	if (vhostd_start(&proc, vhostd_bin, logpath, args) < 0 ||
	    !wait_path(sock_a, 5000) || !wait_path(sock_b, 5000))
		return -1;
	/* This process keeps off the worker's CPU (when there is another),
	 * so that the races really run side by side with the worker. */
	CPU_CLR(last, &cs);
	if (CPU_COUNT(&cs) > 0)
		(void)sched_setaffinity(0, sizeof(cs), &cs);
	dev_up(&b, sock_b, 1, FEATURES);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	int rc = 0;

	if (b.f)
		dev_down(&b);
	int nb = log_count(0, " broken: ", NULL, NULL, 0);
	if (nb != (int)breaks_expected) {
		fprintf(stderr, "%d 'broken' lines, %u expected\n", nb,
			breaks_expected);
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
	return _cmocka_run_group_tests("hostile-packed", tests, n,
				       group_setup, group_teardown);
}
