/* SPDX-License-Identifier: MIT */
/*
 * test_dirty_pages.c: vhostd marks in the dirty log every guest page it
 * writes, checked page by page against the bytes that changed.
 *
 * Two guests, a --link b, start logging as QEMU does when a migration
 * begins (vhost_dev_set_log): SET_FEATURES with LOG_ALL, then
 * SET_VRING_ADDR again with VHOST_VRING_F_LOG, while the rings run.  Then,
 * round after round:
 *   1. a's TX ring is disabled (SET_VRING_ENABLE 0) and a posts frames;
 *   2. both guests' memories are copied and both logs cleared: from here
 *      on only vhostd writes guest memory;
 *   3. a's TX ring is enabled: vhostd reads a's frames, writes them into
 *      b's receive buffers (payload, virtio-net header, num_buffers), b's
 *      used ring or packed descriptors, and a's used ring or descriptors;
 *   4. once vhostd counted every frame on b, each page of each guest that
 *      differs from the copy must be marked in that guest's log.
 * Frames of 60 .. 1514 bytes land in buffers that straddle pages.  Split
 * rings with and without mergeable buffers (small buffers: one frame spans
 * several), with EVENT_IDX (avail_event), with two-descriptor TX chains;
 * packed rings with and without MRG_RXBUF, one- and two-descriptor TX.
 * Without LOG_ALL nothing is marked.
 *
 * And a live migration as QEMU runs it (run_migrate): the destination's
 * memory is a copy of the source's plus the pages the log marked when
 * both rings had stopped; it must be exactly the source's memory, and
 * the rings started there at the bases GET_VRING_BASE returned must carry
 * on, packed and split.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sys/mman.h>
#include <unistd.h>

#include "control/frontend/vu_front_req.h"
#include "guest_util.h"
#include "packed_drv.h"

#define MEM_SIZE (4u << 20)
#define PAGES (MEM_SIZE / 4096u)
#define LOG_SIZE 4096u          /* covers 128 MiB: more than MEM_SIZE */
#define ROUNDS 6u
#define RING 256u

static struct tdaemon td;   /* ports a and b, linked */

struct side {
	struct vu_front *f;
	struct vu_drv *d;         /* split */
	struct pd p;              /* packed */
	bool packed;
	int log_fd;
	uint8_t *log;
	uint8_t *snap;
};

static struct side a, b;

struct mode {
	uint64_t extra;           /* features beyond VERSION_1, PROTOCOL */
	uint32_t rx_buf;          /* split: RX buffer bytes (0: default) */
	bool tx_chain;            /* TX in two descriptors */
	bool log_all;             /* false: LOG_ALL never switched on */
	uint32_t frames;          /* per round */
};

static uint8_t *mem_base(const struct side *s)
{
	return vu_guestmem_region(vu_front_mem(s->f), 0)->uva;
}

static void side_up(struct side *s, const char *sock, const struct mode *m)
{
	uint64_t feat = BIT_ULL(VIRTIO_F_VERSION_1) |
			BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES) | m->extra;
	struct vu_guestmem_opts mo = {.size = MEM_SIZE, .nregions = 1,
				      .backing = VU_GUESTMEM_MEMFD};

	memset(s, 0, sizeof(*s));
	s->packed = m->extra & BIT_ULL(VIRTIO_F_RING_PACKED);
	assert_int_equal(vu_front_connect(&s->f, sock, IO_MS, IO_MS), 0);
	assert_int_equal(vu_front_negotiate(s->f, feat,
		VU_FRONT_PROTOCOL_DEFAULT | BIT_ULL(VU_PROTOCOL_F_LOG_SHMFD)),
		0);
	assert_int_equal(vu_front_mem_init(s->f, &mo), 0);
	assert_int_equal(vu_front_set_mem_table(s->f), 0);
	s->log_fd = memfd_create("dirty-log", MFD_CLOEXEC);
	assert_true(s->log_fd >= 0);
	assert_int_equal(ftruncate(s->log_fd, LOG_SIZE), 0);
	s->log = mmap(NULL, LOG_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      s->log_fd, 0);
	assert_true(s->log != MAP_FAILED);
	assert_int_equal(vu_front_set_log_base(s->f, s->log_fd, LOG_SIZE, 0),
			 0);
	assert_int_equal(vu_front_setup_queues(s->f, 1, RING), 0);
	if (s->packed)
		assert_int_equal(pd_create(&s->p, s->f, 0), 0);
	else
		assert_int_equal(vu_drv_create(&s->d, s->f, &(struct
			vu_drv_opts){.rx_buf_size = m->rx_buf,
			.tx_chain = m->tx_chain}), 0);
	s->snap = malloc(MEM_SIZE);
	assert_non_null(s->snap);
	if (!m->log_all)
		return;
	/* QEMU's vhost_dev_set_log(): LOG_ALL, then each ring's address
	 * again with the log flag, the rings running all along. */
	assert_int_equal(vu_front_set_features(s->f, feat |
					       BIT_ULL(VHOST_F_LOG_ALL)), 0);
	for (uint32_t i = 0; i < 2; i++) {
		const struct vu_front_vring *vr = vu_front_vring(s->f, i);
		struct vu_vring_addr ad = {
			.index = i, .flags = BIT_ULL(VHOST_VRING_F_LOG),
			.desc_user_addr = (uintptr_t)vr->desc,
			.used_user_addr = (uintptr_t)vr->used,
			.avail_user_addr = (uintptr_t)vr->avail,
			.log_guest_addr = vr->used_gpa};
		assert_int_equal(vu_front_set_vring_addr(s->f, &ad), 0);
	}
}

static void side_down(struct side *s)
{
	if (!s->f)
		return;
	if (s->packed)
		pd_destroy(&s->p);
	else
		vu_drv_destroy(s->d);
	vu_front_close(s->f);
	munmap(s->log, LOG_SIZE);
	close(s->log_fd);
	free(s->snap);
	memset(s, 0, sizeof(*s));
	msleep(20);
}

static int case_teardown(void **state)
{
	(void)state;
	side_down(&a);
	side_down(&b);
	return 0;
}

static uint32_t frame_len(unsigned i)
{
	return 60 + (i * 397) % (1514 - 60 + 1);
}

static void fill(uint8_t *f, uint32_t len, unsigned i)
{
	memcpy(f, (uint8_t[]){0x52, 0x54, 0, 0, 0, 0xb}, 6);
	memcpy(f + 6, (uint8_t[]){0x52, 0x54, 0, 0, 0, 0xa}, 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	for (uint32_t k = 14; k < len; k++)
		f[k] = (uint8_t)(k * 7 + i);
}

static void post(struct side *s, unsigned i, bool chain)
{
	uint8_t f[1514];
	uint32_t len = frame_len(i);

	fill(f, len, i);
	if (s->packed) {
		assert_true(pd_tx(&s->p, f, len, chain ? 2 : 1));
		return;
	}
	uint8_t *slot;
	assert_int_equal(vu_drv_tx_reserve(s->d, &slot, 1), 1);
	memcpy(slot, f, len);
	assert_int_equal(vu_drv_tx_commit(s->d, &len, 1), 1);
}

static void snapshot(struct side *s)
{
	memcpy(s->snap, mem_base(s), MEM_SIZE);
	memset(s->log, 0, LOG_SIZE);
}

static bool marked(const struct side *s, uint32_t page)
{
	return __atomic_load_n(&s->log[page / 8], __ATOMIC_RELAXED) >>
	       (page % 8) & 1;
}

/* Pages that changed since the snapshot; fails on one not in the log. */
static unsigned check_pages(const struct side *s, const char *who)
{
	const uint8_t *m = mem_base(s);
	unsigned changed = 0;

	for (uint32_t p = 0; p < PAGES; p++) {
		if (memcmp(m + p * 4096u, s->snap + p * 4096u, 4096) == 0)
			continue;
		changed++;
		if (!marked(s, p)) {
			fprintf(stderr, "%s: page %u (gpa 0x%x) written by "
				"vhostd, not in the dirty log\n", who, p,
				p * 4096u);
			fail();
		}
	}
	return changed;
}

static unsigned count_marked(const struct side *s)
{
	unsigned n = 0;

	for (uint32_t p = 0; p < LOG_SIZE * 8; p++)
		n += marked(s, p);
	return n;
}

static unsigned got;

static void on_pd_rx(void *arg, const uint8_t *frame, uint32_t len)
{
	uint8_t f[1514];

	(void)arg;
	fill(f, frame_len(got), got);
	assert_int_equal(len, frame_len(got));
	assert_memory_equal(frame, f, len);
	got++;
}

static void on_drv_rx(void *arg, const struct vu_drv_rx_pkt *pkt)
{
	uint8_t f[1514], r[1514];

	(void)arg;
	fill(f, frame_len(got), got);
	assert_int_equal(vu_drv_rx_copy(pkt, 0, r, sizeof(r)),
			 frame_len(got));
	assert_memory_equal(r, f, frame_len(got));
	got++;
}

/* b takes every frame vhostd delivered, checked in order. */
static void drain_b(unsigned want)
{
	for (int ms = 0; got < want && ms < IO_MS; ms++) {
		unsigned n = b.packed ? pd_rx_poll(&b.p, on_pd_rx, NULL) :
			     (unsigned)vu_drv_rx_poll(b.d, 64, on_drv_rx,
						      NULL);
		if (n == 0)
			msleep(1);
	}
	assert_int_equal(got, want);
	if (a.packed)
		pd_tx_reclaim(&a.p);
	else
		vu_drv_tx_reclaim(a.d);
}

static void run(const struct mode *m)
{
	unsigned changed_a = 0, changed_b = 0, sent = 0;

	side_up(&a, td.sock[0], m);
	side_up(&b, td.sock[1], m);
	got = 0;
	for (unsigned r = 0; r < ROUNDS; r++) {
		uint64_t rx0 = tdaemon_stat(&td, "b", 0, "packets");

		assert_int_equal(vu_front_vring_enable(a.f, 1, false), 0);
		msleep(5);   /* the worker sees the ring disabled */
		for (unsigned k = 0; k < m->frames; k++)
			post(&a, sent + k, m->tx_chain);
		snapshot(&a);
		snapshot(&b);
		assert_int_equal(vu_front_vring_enable(a.f, 1, true), 0);
		for (int ms = 0; ms < IO_MS && tdaemon_stat(&td, "b", 0,
		     "packets") < rx0 + m->frames; ms += 10)
			msleep(10);
		msleep(20);  /* a's used entries are written too by now */
		if (m->log_all) {
			changed_a += check_pages(&a, "a");
			changed_b += check_pages(&b, "b");
		} else {
			assert_int_equal(count_marked(&a), 0);
			assert_int_equal(count_marked(&b), 0);
		}
		sent += m->frames;
		drain_b(sent);
	}
	if (m->log_all) {
		/* Something was written: the test is not vacuous. */
		assert_true(changed_a >= ROUNDS);
		assert_true(changed_b >= ROUNDS * 2);
	}
	print_message("frames %u, pages written: a %u, b %u\n", sent,
		      changed_a, changed_b);
}

#define MRG BIT_ULL(VIRTIO_NET_F_MRG_RXBUF)
#define PACKED BIT_ULL(VIRTIO_F_RING_PACKED)

static void test_split(void **state)
{
	(void)state;
	run(&(struct mode){.log_all = true, .frames = 100});
}

static void test_split_mergeable_small_buffers(void **state)
{
	(void)state;
	run(&(struct mode){.extra = MRG, .rx_buf = 300, .log_all = true,
			   .frames = 40});
}

static void test_split_event_idx_chained_tx(void **state)
{
	(void)state;
	run(&(struct mode){.extra = MRG | BIT_ULL(VIRTIO_RING_F_EVENT_IDX),
			   .tx_chain = true, .log_all = true, .frames = 100});
}

static void test_packed(void **state)
{
	(void)state;
	run(&(struct mode){.extra = PACKED, .log_all = true, .frames = 100});
}

static void test_packed_mergeable_chained_tx(void **state)
{
	(void)state;
	run(&(struct mode){.extra = PACKED | MRG, .tx_chain = true,
			   .log_all = true, .frames = 100});
}

static void test_no_log_all_marks_nothing(void **state)
{
	(void)state;
	run(&(struct mode){.extra = MRG, .frames = 50});
}

/* ---- a live migration of b, with the log as the only record ---------- */

/* Frames carry their number in bytes 14..17. */
static void fill_seq(uint8_t *f, uint32_t len, uint32_t seq)
{
	fill(f, len, seq);
	memcpy(f + 14, &seq, sizeof(seq));
}

/* A receiver's check: numbers only grow (a frame sent while the ring was
 * stopped may be dropped, never delivered late or twice) and every byte
 * is the sender's.  in_range counts the frames numbered from `from` on. */
struct seqrx {
	uint32_t next, from, in_range;
};

static void seq_check(struct seqrx *r, const uint8_t *frame, uint32_t len)
{
	uint8_t f[1514];
	uint32_t seq;

	assert_true(len >= 18 && len <= sizeof(f));
	memcpy(&seq, frame + 14, sizeof(seq));
	if (seq < r->next)
		fail_msg("frame %u delivered again or out of order (next is "
			 "%u)", seq, r->next);
	assert_int_equal(len, frame_len(seq));
	fill_seq(f, len, seq);
	assert_memory_equal(frame, f, len);
	r->next = seq + 1;
	r->in_range += seq >= r->from;
}

static void on_pd_seq(void *arg, const uint8_t *frame, uint32_t len)
{
	seq_check(arg, frame, len);
}

static void on_drv_seq(void *arg, const struct vu_drv_rx_pkt *pkt)
{
	uint8_t f[1514];

	seq_check(arg, f, (uint32_t)vu_drv_rx_copy(pkt, 0, f, sizeof(f)));
}

static void assert_driver_ok(const struct side *s, const char *who)
{
	if (s->packed && s->p.broken)
		fail_msg("%s: the driver saw a bad used buffer: %s", who,
			 s->p.why);
}

static unsigned rx_poll(struct side *s, struct seqrx *r)
{
	unsigned n = s->packed ? pd_rx_poll(&s->p, on_pd_seq, r) :
		     vu_drv_rx_poll(s->d, 64, on_drv_seq, r);

	assert_driver_ok(s, "receiver");
	return n;
}

static void tx_reclaim(struct side *s)
{
	if (s->packed)
		pd_tx_reclaim(&s->p);
	else
		vu_drv_tx_reclaim(s->d);
	assert_driver_ok(s, "sender");
}

/* Post frame seq from s; false when its TX ring is full. */
static bool try_send(struct side *s, uint32_t seq, bool chain)
{
	uint8_t f[1514], *slot;
	uint32_t len = frame_len(seq);

	fill_seq(f, len, seq);
	if (s->packed)
		return pd_tx(&s->p, f, len, chain ? 2 : 1);
	if (vu_drv_tx_reserve(s->d, &slot, 1) != 1)
		return false;
	memcpy(slot, f, len);
	return vu_drv_tx_commit(s->d, &len, 1) == 1;
}

/* n frames from `from` to `to`, all of them delivered in order: at most
 * half the receiving ring in flight, so that none may be dropped. */
static void stream(struct side *from, struct side *to, uint32_t n,
		   uint32_t *seq, struct seqrx *r, bool chain)
{
	uint32_t sent = 0;

	r->from = *seq;
	r->in_range = 0;
	for (int idle = 0; r->in_range < n && idle < IO_MS;) {
		if (sent < n && sent - r->in_range < RING / 2 &&
		    try_send(from, *seq, chain)) {
			(*seq)++;
			sent++;
			continue;
		}
		tx_reclaim(from);
		if (rx_poll(to, r) == 0) {
			msleep(1);
			idle++;
		}
	}
	assert_int_equal(r->in_range, n);
}

static uint64_t features_of(const struct mode *m)
{
	return BIT_ULL(VIRTIO_F_VERSION_1) |
	       BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES) | m->extra;
}

/*
 * What QEMU does to the source and the destination of a live migration,
 * with b migrating and a its peer, and the dirty log as the only record
 * of what vhostd wrote into b's memory:
 *   1. a and b stream to each other, past the ends of their rings;
 *   2. b posts frames into its disabled TX ring, then its memory is
 *      copied and its log cleared (the bulk pass); b's driver, its
 *      "vCPU", does nothing more until the destination runs;
 *   3. b's TX ring is enabled, a sends to b, and while vhostd moves
 *      frames both ways b's rings are stopped, RX first (GET_VRING_BASE);
 *   4. the final sync: the destination's image is the copy plus every
 *      page the log marks;
 *   5. a keeps sending for a while: then every page of b must still be
 *      the image's (vhostd wrote nothing after it answered, and logged
 *      everything before);
 *   6. the destination: b's memory becomes the image, LOG_ALL goes, the
 *      rings start at the bases GET_VRING_BASE returned;
 *   7. b's driver carries on: the frames vhostd placed before the stop
 *      are read in order, b's frames left in its TX ring go out, and
 *      both ways stream again.  No used buffer out of order or twice
 *      (the drivers check), no frame twice, none lost in 7.
 */
static void run_migrate(const struct mode *m)
{
	struct seqrx at_a = {0, 0, 0}, at_b = {0, 0, 0};
	uint32_t seq_a = 0, seq_b = 1u << 20, base[2], differ = 0;
	uint8_t *image = malloc(MEM_SIZE);

	assert_non_null(image);
	side_up(&a, td.sock[0], m);
	side_up(&b, td.sock[1], m);
	stream(&a, &b, 600, &seq_a, &at_b, false);
	stream(&b, &a, 600, &seq_b, &at_a, m->tx_chain);

	assert_int_equal(vu_front_vring_enable(b.f, 1, false), 0);
	msleep(5);   /* the worker sees the ring disabled */
	for (unsigned k = 0; k < 40; k++)
		assert_true(try_send(&b, seq_b++, m->tx_chain));
	snapshot(&b);

	assert_int_equal(vu_front_vring_enable(b.f, 1, true), 0);
	for (unsigned k = 0; k < m->frames; k++) {
		if (try_send(&a, seq_a, false))
			seq_a++;
		if (k == m->frames / 2)
			assert_int_equal(vu_front_vring_stop(b.f, 0, &base[0]),
					 0);
	}
	assert_int_equal(vu_front_vring_stop(b.f, 1, &base[1]), 0);

	memcpy(image, b.snap, MEM_SIZE);
	for (uint32_t p = 0; p < PAGES; p++)
		if (marked(&b, p))
			memcpy(image + p * 4096u, mem_base(&b) + p * 4096u,
			       4096);

	for (unsigned k = 0; k < 50; k++) {
		tx_reclaim(&a);
		if (try_send(&a, seq_a, false))
			seq_a++;
		rx_poll(&a, &at_a);
	}
	msleep(30);
	for (uint32_t p = 0; p < PAGES; p++) {
		if (!memcmp(mem_base(&b) + p * 4096u, image + p * 4096u, 4096))
			continue;
		fprintf(stderr, "b: page %u (gpa 0x%x) is not what the "
			"destination got: vhostd wrote it after GET_VRING_BASE "
			"or without logging it\n", p, p * 4096u);
		differ++;
	}
	assert_int_equal(differ, 0);

	memcpy(mem_base(&b), image, MEM_SIZE);
	assert_int_equal(vu_front_set_features(b.f, features_of(m)), 0);
	assert_int_equal(vu_front_vring_restart(b.f, 0, base[0]), 0);
	assert_int_equal(vu_front_vring_restart(b.f, 1, base[1]), 0);
	stream(&a, &b, 600, &seq_a, &at_b, false);
	stream(&b, &a, 600, &seq_b, &at_a, m->tx_chain);
	assert_int_equal(at_a.next, seq_b);
	print_message("bases 0x%08x 0x%08x; a got %u of b's frames in order, "
		      "b %u of a's\n", base[0], base[1], at_a.next - (1u << 20),
		      at_b.next);
	free(image);
}

static void test_packed_migration(void **state)
{
	(void)state;
	run_migrate(&(struct mode){.extra = PACKED | MRG, .tx_chain = true,
				   .log_all = true, .frames = 200});
}

static void test_split_migration(void **state)
{
	(void)state;
	run_migrate(&(struct mode){.extra = MRG |
				   BIT_ULL(VIRTIO_RING_F_EVENT_IDX),
				   .tx_chain = true, .log_all = true,
				   .frames = 200});
}

static int group_setup(void **state)
{
	(void)state;
	return tdaemon_start(&td, (const char *const[]){"a", "b", NULL},
			     (char *const[]){"--link", "a=b", NULL});
}

static int group_teardown(void **state)
{
	(void)state;
	return tdaemon_stop(&td);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_split, case_teardown),
		cmocka_unit_test_teardown(test_split_mergeable_small_buffers,
					  case_teardown),
		cmocka_unit_test_teardown(test_split_event_idx_chained_tx,
					  case_teardown),
		cmocka_unit_test_teardown(test_packed, case_teardown),
		cmocka_unit_test_teardown(test_packed_mergeable_chained_tx,
					  case_teardown),
		cmocka_unit_test_teardown(test_no_log_all_marks_nothing,
					  case_teardown),
		cmocka_unit_test_teardown(test_packed_migration,
					  case_teardown),
		cmocka_unit_test_teardown(test_split_migration,
					  case_teardown),
	};

	if (tdaemon_args(&td, argc, argv) < 0)
		return 2;
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
