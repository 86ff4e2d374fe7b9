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
	};

	if (tdaemon_args(&td, argc, argv) < 0)
		return 2;
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
