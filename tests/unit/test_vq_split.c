/* SPDX-License-Identifier: MIT */
/*
 * test_vq_split.c: the device side of the split virtqueue (datapath/vq.c,
 * datapath/vq_split.c) against a small simulated driver.
 *
 * Guest memory: three regions described by a hand-built struct gmem.
 *
 *   gpa 0x100000  r0 (1 MiB)  desc | avail | used | indirect tables | buffers
 *   gpa 0x200000  r1 (1 MiB)  adjacent in gpa, not in the host mapping
 *   gpa 2^32      big (3 GiB) PROT_NONE: only translated, never touched
 *   gpa 0 and 2^64 - 4 KiB: one page each, PROT_NONE, so that a range
 *                 wrapping the address space would find memory again
 *
 * Host layout: [guard][r0][guard][r1][guard], guards filled with 0xa5, and
 * every 2 KiB buffer in r0 is followed by 64 guard bytes of 0xee: a write
 * outside guest memory or outside a buffer is seen, not just survived.
 * Hostile tests also compare the whole mapping before and after: taking
 * chains never writes anything.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "datapath/vq.h"
#include "datapath/worker.h"
#include "vq_guest.h"

#define QSIZE 256u
#define DESC_GPA R0_GPA
#define AVAIL_GPA (R0_GPA + 0x1000)
#define USED_GPA (R0_GPA + 0x2f00)   /* crosses a page: 0x102, 0x103 */

#define F_NEXT VRING_DESC_F_NEXT
#define F_WRITE VRING_DESC_F_WRITE
#define F_INDIRECT VRING_DESC_F_INDIRECT

struct opts {
	bool tx, indirect, event_idx, mrg, log, log_used, in_order;
	uint16_t last_avail;   /* also the driver's avail idx and used idx */
};

static struct {
	VQ_GUEST_FIELDS;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t avail_idx;   /* the driver's */
} g;

#include "vq_guest_fns.h"

/* ---- simulated guest ---------------------------------------------- */

static void set_desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	g.desc[i] = (struct vring_desc){addr, len, flags, next};
}

/* Entry i of an indirect table at gpa tbl. */
static void put_idesc(uint64_t tbl, uint16_t i, uint64_t addr, uint32_t len,
		      uint16_t flags, uint16_t next)
{
	struct vring_desc d = {addr, len, flags, next};

	guest_write(tbl + 16u * i, &d, sizeof(d));
}

/* Make head available (2.7.13: entry, barrier, idx). */
static void post(uint16_t head)
{
	g.avail->ring[g.avail_idx & (QSIZE - 1)] = head;
	g.avail_idx++;
	__atomic_store_n(&g.avail->idx, g.avail_idx, __ATOMIC_RELEASE);
}

/* Buffer direction the current queue expects. */
static uint16_t dirf(void)
{
	return g.vq.tx ? 0 : F_WRITE;
}

/* Descriptor d alone -> buffer k, len bytes, posted. */
static void post_simple(uint16_t d, unsigned k, uint32_t len)
{
	set_desc(d, buf(k), len, dirf(), 0);
	post(d);
}

static uint16_t used_idx(void)
{
	return __atomic_load_n(&g.used->idx, __ATOMIC_ACQUIRE);
}

/* ---- set-up and checks ---------------------------------------------- */

static void guest_up(struct opts o)
{
	vq_guest_mem_up();
	g.desc = hva(DESC_GPA);
	g.avail = hva(AVAIL_GPA);
	g.used = hva(USED_GPA);
	g.avail_idx = o.last_avail;
	g.avail->idx = o.last_avail;
	g.used->idx = o.last_avail;
	struct vq_cfg c = {
		.index = 3, .dev_name = "unit0",
		.desc = g.desc, .avail = g.avail, .used = g.used,
		.size = QSIZE, .last_avail = o.last_avail,
		.event_idx = o.event_idx, .indirect = o.indirect,
		.mrg_rxbuf = o.mrg, .tx = o.tx, .mem = g.mem,
		.log = o.log ? &g.log : NULL, .used_gpa = USED_GPA,
		.log_used = o.log_used, .in_order = o.in_order,
		.call_fd = g.call_fd, .err_fd = g.err_fd,
	};
	vq_init(&g.vq, &c);
}

/* A one-descriptor chain: head, buffer k, len. */
static void assert_simple_chain(const struct vq_chain *c, uint16_t head,
				unsigned k, uint32_t len)
{
	assert_int_equal(c->head, head);
	assert_int_equal(c->nseg, 1);
	assert_int_equal(c->len, len);
	assert_seg(&c->seg[0], buf(k), len);
}

static uint16_t dq(uint16_t n)
{
	return vq_split_dequeue(&g.vq, g.chains, n);
}

static int rsv(uint32_t len, uint16_t max)
{
	return vq_split_reserve(&g.vq, len, g.chains, max);
}

/* ---- the log line --------------------------------------------------- */

/* Runs first: the rate limit of the call site is shared by every test. */
static void test_broken_queue_logs_one_line_naming_queue_and_value(void **st)
{
	char text[1024];
	int saved = dup(STDERR_FILENO);
	int mfd = memfd_create("vq-log", MFD_CLOEXEC);

	(void)st;
	assert_true(saved >= 0 && mfd >= 0);
	guest_up((struct opts){.tx = true});
	post(300);
	fflush(stderr);
	assert_true(dup2(mfd, STDERR_FILENO) >= 0);
	uint16_t n = dq(8);
	vq_set_broken(&g.vq, VQ_ERR_DESC_LOOP, 1);   /* second: silent */
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	assert_int_equal(n, 0);
	ssize_t len = pread(mfd, text, sizeof(text) - 1, 0);
	close(mfd);
	assert_true(len > 0);
	text[len] = '\0';
	assert_non_null(strstr(text, "unit0: queue 3 broken: head index out "
				     "of range (value 300)\n"));
	assert_ptr_equal(strchr(text, '\n'), text + len - 1);   /* one line */
	guest_down();
}

/* ---- hostile rings: the harness ------------------------------------- */

#define H_INDIRECT 1u   /* negotiate VIRTIO_F_INDIRECT_DESC */
#define H_JUMP 2u       /* the fault is in avail->idx: nothing is taken */
#define NONE VQ_ERR_MAX /* rule does not apply to this direction */

/*
 * One direction.  Two good chains first (desc 100 and 101, buffers of 100
 * bytes of 0x5a / 0x5b), then what build() posts.  Chain A is taken alone
 * and returned with used() (still in the shadow); chain B is taken by the
 * call that meets the fault (TX: same dequeue, which returns 1; RX: its own
 * reserve, then the next one returns -1).  Afterwards: the queue is broken
 * for reason e (counted once, err_fd signalled once), B is intact and
 * readable, nothing anywhere in the mapping changed (A's shadowed used
 * entry is dropped, not published), and the broken queue is never touched
 * again.
 */
static void hostile_dir(void (*build)(void), enum vq_error e, unsigned flags,
			bool tx)
{
	const bool jump = flags & H_JUMP;

	guest_up((struct opts){.tx = tx, .indirect = flags & H_INDIRECT});
	memset(hva(buf(100)), 0x5a, 100);
	memset(hva(buf(101)), 0x5b, 100);
	post_simple(100, 100, 100);
	post_simple(101, 101, 100);
	if (!jump) {
		assert_int_equal(tx ? dq(1) : rsv(100, 1), 1);
		assert_simple_chain(&g.chains[0], 100, 100, 100);
		vq_split_used(&g.vq, 100, tx ? 0 : 100);
	}
	build();
	snap_take();
	if (tx) {
		assert_int_equal(dq(8), jump ? 0 : 1);
	} else {
		if (!jump)
			assert_int_equal(rsv(100, 1), 1);
		assert_int_equal(vq_split_reserve(&g.vq, 100, &g.chains[1], 1),
				 -1);
	}
	assert_true(g.vq.broken);
	assert_only_error(e);
	assert_int_equal(efd_take(g.err_fd), 1);
	if (!jump) {   /* taken before the fault: valid, readable */
		assert_simple_chain(&g.chains[0], 101, 101, 100);
		for (unsigned i = 0; i < 100; i++)
			assert_int_equal(g.chains[0].seg[0].p[i], 0x5b);
	}
	/* Never touched again: flush, more work posted, more used. */
	vq_split_flush(&g.vq);
	assert_unchanged();
	post_simple(5, 5, 100);
	snap_take();
	assert_int_equal(dq(8), 0);
	assert_int_equal(rsv(100, 1), -1);
	vq_split_used(&g.vq, 101, 0);
	vq_split_flush(&g.vq);
	assert_unchanged();
	assert_int_equal(used_idx(), 0);
	assert_only_error(e);
	assert_int_equal(efd_take(g.err_fd), 0);
	assert_int_equal(efd_take(g.call_fd), 0);
	guest_down();
}

static void hostile(void (*build)(void), enum vq_error tx_err,
		    enum vq_error rx_err, unsigned flags)
{
	if (tx_err != NONE)
		hostile_dir(build, tx_err, flags, true);
	if (rx_err != NONE)
		hostile_dir(build, rx_err, flags, false);
}

/* ---- hostile rings: what the guest posts ---------------------------- */

static void build_desc_loop(void)
{
	set_desc(1, buf(1), 100, dirf() | F_NEXT, 2);
	set_desc(2, buf(2), 100, dirf() | F_NEXT, 1);
	post(1);
}

static void build_desc_loop_in_indirect(void)
{
	put_idesc(itbl(0), 0, buf(1), 100, dirf() | F_NEXT, 1);
	put_idesc(itbl(0), 1, buf(2), 100, dirf() | F_NEXT, 2);
	put_idesc(itbl(0), 2, buf(3), 100, dirf() | F_NEXT, 0);
	set_desc(1, itbl(0), 3 * 16, F_INDIRECT, 0);
	post(1);
}

static void build_next_out_of_range(void)
{
	set_desc(1, buf(1), 100, dirf() | F_NEXT, QSIZE);
	post(1);
}

/* next = 2 is a valid ring index but outside the 2-entry table. */
static void build_next_out_of_indirect_table(void)
{
	put_idesc(itbl(0), 0, buf(1), 100, dirf() | F_NEXT, 2);
	put_idesc(itbl(0), 1, buf(2), 100, dirf(), 0);
	set_desc(1, itbl(0), 2 * 16, F_INDIRECT, 0);
	post(1);
}

static void indirect_of_len(uint32_t len)
{
	for (uint16_t i = 0; i < 8; i++)
		put_idesc(itbl(0), i, buf(1 + i), 100, dirf() | F_NEXT,
			  (uint16_t)(i + 1));
	put_idesc(itbl(0), 8, buf(9), 100, dirf(), 0);
	set_desc(1, itbl(0), len, F_INDIRECT, 0);
	post(1);
}

static void build_indirect_len_zero(void)
{
	indirect_of_len(0);
}

static void build_indirect_len_not_multiple_of_16(void)
{
	indirect_of_len(9 * 16 + 8);
}

static void build_indirect_len_more_entries_than_ring(void)
{
	indirect_of_len((QSIZE + 1) * 16);
}

static void build_indirect_len_huge(void)
{
	indirect_of_len(0xfffffff0u);
}

static void build_indirect_nested(void)
{
	put_idesc(itbl(1), 0, buf(2), 100, dirf(), 0);
	put_idesc(itbl(0), 0, itbl(1), 16, F_INDIRECT, 0);
	set_desc(1, itbl(0), 16, F_INDIRECT, 0);
	post(1);
}

static void build_indirect_with_next(void)
{
	put_idesc(itbl(0), 0, buf(1), 100, dirf(), 0);
	set_desc(1, itbl(0), 16, F_INDIRECT | F_NEXT, 2);
	set_desc(2, buf(2), 100, dirf(), 0);
	post(1);
}

static void build_valid_indirect(void)
{
	put_idesc(itbl(0), 0, buf(1), 100, dirf(), 0);
	set_desc(1, itbl(0), 16, F_INDIRECT, 0);
	post(1);
}

static void build_indirect_table_outside_memory(void)
{
	set_desc(1, HOLE_GPA, 2 * 16, F_INDIRECT, 0);
	post(1);
}

/* Entry 0 is guest memory, entry 1 is past the end of r1. */
static void build_indirect_table_straddling_region_end(void)
{
	put_idesc(R1_END - 16, 0, buf(1), 100, dirf(), 0);
	set_desc(1, R1_END - 16, 2 * 16, F_INDIRECT, 0);
	post(1);
}

static void build_buffer_outside_memory(void)
{
	set_desc(1, HOLE_GPA, 100, dirf(), 0);
	post(1);
}

static void build_buffer_in_hole_after_region(void)
{
	set_desc(1, R1_END + 0x1000, 100, dirf(), 0);
	post(1);
}

static void build_buffer_straddling_end_of_last_region(void)
{
	set_desc(1, BIG_GPA + BIG_SIZE - 10, 100, dirf(), 0);
	post(1);
}

static void build_buffer_straddling_region_into_hole(void)
{
	set_desc(1, R1_END - 10, 100, dirf(), 0);
	post(1);
}

/* From the region at the top of the address space into the one at 0. */
static void build_buffer_address_wraps(void)
{
	set_desc(1, TOP_GPA + 0x1000 - 10, 100, dirf(), 0);
	post(1);
}

static void build_indirect_table_wrapping_address_space(void)
{
	set_desc(1, TOP_GPA + 0x1000 - 16, 2 * 16, F_INDIRECT, 0);
	post(1);
}

/* 3 GiB + 1 GiB of valid (big) guest memory: 2^32 bytes. */
static void build_len_overflow(void)
{
	set_desc(1, BIG_GPA, 0xc0000000u, dirf() | F_NEXT, 2);
	set_desc(2, BIG_GPA, 0x40000000u, dirf(), 0);
	post(1);
}

static void build_zero_len(void)
{
	set_desc(1, buf(1), 100, dirf() | F_NEXT, 2);
	set_desc(2, buf(2), 0, dirf(), 0);
	post(1);
}

static void build_zero_len_in_indirect(void)
{
	put_idesc(itbl(0), 0, buf(1), 0, dirf(), 0);
	set_desc(1, itbl(0), 16, F_INDIRECT, 0);
	post(1);
}

/* 11 bytes over three descriptors. */
static void build_short_hdr(void)
{
	set_desc(1, buf(1), 4, dirf() | F_NEXT, 2);
	set_desc(2, buf(2), 4, dirf() | F_NEXT, 3);
	set_desc(3, buf(3), 3, dirf(), 0);
	post(1);
}

/* The driver claims size + 1 entries (one more than fits). */
static void build_avail_jump(void)
{
	__atomic_store_n(&g.avail->idx, (uint16_t)(g.vq.last_avail + QSIZE + 1),
			 __ATOMIC_RELEASE);
}

static void build_head_out_of_range(void)
{
	post(QSIZE);
}

static void build_head_ffff(void)
{
	post(0xffff);
}

static void build_wrong_dir(void)
{
	set_desc(1, buf(1), 100, dirf() ^ F_WRITE, 0);
	post(1);
}

static void build_writable_before_readable(void)
{
	set_desc(1, buf(1), 100, F_WRITE | F_NEXT, 2);
	set_desc(2, buf(2), 100, 0, 0);
	post(1);
}

static void build_writable_before_readable_in_indirect(void)
{
	put_idesc(itbl(0), 0, buf(1), 100, F_WRITE | F_NEXT, 1);
	put_idesc(itbl(0), 1, buf(2), 100, 0, 0);
	set_desc(1, itbl(0), 2 * 16, F_INDIRECT, 0);
	post(1);
}

/* 65 descriptors of one segment each. */
static void build_too_many_descriptors(void)
{
	for (uint16_t i = 1; i <= VQ_MAX_SEGS + 1; i++)
		set_desc(i, buf(i), 20, dirf() | (i <= VQ_MAX_SEGS ? F_NEXT : 0),
			 (uint16_t)(i + 1));
	post(1);
}

/* 33 descriptors, each straddling r0/r1: 66 segments. */
static void build_too_many_segments_straddling(void)
{
	for (uint16_t i = 1; i <= 33; i++)
		set_desc(i, R1_GPA - 10, 20, dirf() | (i < 33 ? F_NEXT : 0),
			 (uint16_t)(i + 1));
	post(1);
}

/* ---- hostile rings: one test per rule -------------------------------- */

#define HOSTILE_TEST(name, build, tx_err, rx_err, flags)                   \
	static void name(void **st)                                         \
	{                                                                   \
		(void)st;                                                   \
		hostile(build, tx_err, rx_err, flags);                      \
	}

HOSTILE_TEST(test_desc_loop_marks_queue_broken, build_desc_loop,
	     VQ_ERR_DESC_LOOP, VQ_ERR_DESC_LOOP, 0)
HOSTILE_TEST(test_desc_loop_in_indirect_table_marks_queue_broken,
	     build_desc_loop_in_indirect, VQ_ERR_DESC_LOOP, VQ_ERR_DESC_LOOP,
	     H_INDIRECT)
HOSTILE_TEST(test_next_out_of_range_marks_queue_broken,
	     build_next_out_of_range, VQ_ERR_NEXT_RANGE, VQ_ERR_NEXT_RANGE, 0)
HOSTILE_TEST(test_next_outside_indirect_table_marks_queue_broken,
	     build_next_out_of_indirect_table, VQ_ERR_NEXT_RANGE,
	     VQ_ERR_NEXT_RANGE, H_INDIRECT)
HOSTILE_TEST(test_indirect_len_zero_marks_queue_broken,
	     build_indirect_len_zero, VQ_ERR_INDIRECT_LEN,
	     VQ_ERR_INDIRECT_LEN, H_INDIRECT)
HOSTILE_TEST(test_indirect_len_not_multiple_of_16_marks_queue_broken,
	     build_indirect_len_not_multiple_of_16, VQ_ERR_INDIRECT_LEN,
	     VQ_ERR_INDIRECT_LEN, H_INDIRECT)
HOSTILE_TEST(test_indirect_table_larger_than_ring_marks_queue_broken,
	     build_indirect_len_more_entries_than_ring, VQ_ERR_INDIRECT_LEN,
	     VQ_ERR_INDIRECT_LEN, H_INDIRECT)
HOSTILE_TEST(test_indirect_len_huge_marks_queue_broken,
	     build_indirect_len_huge, VQ_ERR_INDIRECT_LEN, VQ_ERR_INDIRECT_LEN,
	     H_INDIRECT)
HOSTILE_TEST(test_indirect_nested_marks_queue_broken, build_indirect_nested,
	     VQ_ERR_INDIRECT_NESTED, VQ_ERR_INDIRECT_NESTED, H_INDIRECT)
HOSTILE_TEST(test_indirect_with_next_marks_queue_broken,
	     build_indirect_with_next, VQ_ERR_INDIRECT_NEXT,
	     VQ_ERR_INDIRECT_NEXT, H_INDIRECT)
HOSTILE_TEST(test_indirect_not_negotiated_marks_queue_broken,
	     build_valid_indirect, VQ_ERR_INDIRECT_OFF, VQ_ERR_INDIRECT_OFF, 0)
HOSTILE_TEST(test_indirect_table_outside_guest_memory_marks_queue_broken,
	     build_indirect_table_outside_memory, VQ_ERR_ADDR, VQ_ERR_ADDR,
	     H_INDIRECT)
HOSTILE_TEST(test_indirect_table_straddling_region_end_marks_queue_broken,
	     build_indirect_table_straddling_region_end, VQ_ERR_ADDR,
	     VQ_ERR_ADDR, H_INDIRECT)
HOSTILE_TEST(test_buffer_outside_guest_memory_marks_queue_broken,
	     build_buffer_outside_memory, VQ_ERR_ADDR, VQ_ERR_ADDR, 0)
HOSTILE_TEST(test_buffer_in_hole_after_region_marks_queue_broken,
	     build_buffer_in_hole_after_region, VQ_ERR_ADDR, VQ_ERR_ADDR, 0)
HOSTILE_TEST(test_buffer_straddling_end_of_last_region_marks_queue_broken,
	     build_buffer_straddling_end_of_last_region, VQ_ERR_ADDR,
	     VQ_ERR_ADDR, 0)
HOSTILE_TEST(test_buffer_straddling_region_into_hole_marks_queue_broken,
	     build_buffer_straddling_region_into_hole, VQ_ERR_ADDR, VQ_ERR_ADDR,
	     0)
HOSTILE_TEST(test_buffer_address_wrapping_marks_queue_broken,
	     build_buffer_address_wraps, VQ_ERR_ADDR, VQ_ERR_ADDR, 0)
HOSTILE_TEST(test_indirect_table_wrapping_address_marks_queue_broken,
	     build_indirect_table_wrapping_address_space, VQ_ERR_ADDR,
	     VQ_ERR_ADDR, H_INDIRECT)
HOSTILE_TEST(test_len_overflow_marks_queue_broken, build_len_overflow,
	     VQ_ERR_LEN_OVERFLOW, VQ_ERR_LEN_OVERFLOW, 0)
HOSTILE_TEST(test_zero_len_buffer_marks_queue_broken, build_zero_len,
	     VQ_ERR_ZERO_LEN, VQ_ERR_ZERO_LEN, 0)
HOSTILE_TEST(test_zero_len_buffer_in_indirect_table_marks_queue_broken,
	     build_zero_len_in_indirect, VQ_ERR_ZERO_LEN, VQ_ERR_ZERO_LEN,
	     H_INDIRECT)
/* RX: an 11-byte chain is only too small for a packet (see the RX tests). */
HOSTILE_TEST(test_tx_chain_shorter_than_net_header_marks_queue_broken,
	     build_short_hdr, VQ_ERR_SHORT_HDR, NONE, 0)
HOSTILE_TEST(test_avail_idx_jump_marks_queue_broken, build_avail_jump,
	     VQ_ERR_AVAIL_JUMP, VQ_ERR_AVAIL_JUMP, H_JUMP)
HOSTILE_TEST(test_head_out_of_range_marks_queue_broken,
	     build_head_out_of_range, VQ_ERR_HEAD_RANGE, VQ_ERR_HEAD_RANGE, 0)
HOSTILE_TEST(test_head_ffff_marks_queue_broken, build_head_ffff,
	     VQ_ERR_HEAD_RANGE, VQ_ERR_HEAD_RANGE, 0)
HOSTILE_TEST(test_wrong_direction_marks_queue_broken, build_wrong_dir,
	     VQ_ERR_WRONG_DIR, VQ_ERR_WRONG_DIR, 0)
HOSTILE_TEST(test_writable_before_readable_marks_queue_broken,
	     build_writable_before_readable, VQ_ERR_WRONG_DIR,
	     VQ_ERR_WRITE_ORDER, 0)
HOSTILE_TEST(test_writable_before_readable_in_indirect_marks_queue_broken,
	     build_writable_before_readable_in_indirect, VQ_ERR_WRONG_DIR,
	     VQ_ERR_WRITE_ORDER, H_INDIRECT)
HOSTILE_TEST(test_too_many_descriptors_marks_queue_broken,
	     build_too_many_descriptors, VQ_ERR_TOO_MANY_SEGS,
	     VQ_ERR_TOO_MANY_SEGS, 0)
HOSTILE_TEST(test_too_many_segments_from_straddling_marks_queue_broken,
	     build_too_many_segments_straddling, VQ_ERR_TOO_MANY_SEGS,
	     VQ_ERR_TOO_MANY_SEGS, 0)

/* ---- hostile: read once ---------------------------------------------- */

/* After dequeue the guest rewrites the chain (a loop, a zero length, an
 * address outside memory): what was validated is what the caller has. */
static void test_guest_rewriting_descriptors_after_read_changes_nothing(
	void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true});
	set_desc(0, buf(0), 100, F_NEXT, 1);
	set_desc(1, buf(1), 200, 0, 0);
	post(0);
	assert_int_equal(dq(4), 1);
	set_desc(1, HOLE_GPA, 0, F_NEXT | F_WRITE, 0);   /* loop to 0 */
	set_desc(0, HOLE_GPA, 0, F_NEXT, 1);
	g.avail->ring[0] = QSIZE + 7;
	const struct vq_chain *c = &g.chains[0];
	assert_int_equal(c->head, 0);
	assert_int_equal(c->nseg, 2);
	assert_int_equal(c->len, 300);
	assert_seg(&c->seg[0], buf(0), 100);
	assert_seg(&c->seg[1], buf(1), 200);
	vq_split_used(&g.vq, c->head, 0);
	vq_split_flush(&g.vq);
	assert_int_equal(used_idx(), 1);
	assert_int_equal(g.used->ring[0].id, 0);
	assert_healthy();
	guest_down();
}

static volatile int flip_stop;

/* The guest rewrites desc 0 field by field, as fast as it can, between
 * (buffer 0, 100 bytes) and (buffer 1, 2000 bytes); every torn mix of the
 * two is a valid descriptor too. */
static void *flipper(void *arg)
{
	struct vring_desc *d = arg;

	while (!__atomic_load_n(&flip_stop, __ATOMIC_RELAXED)) {
		__atomic_store_n(&d->addr, buf(0), __ATOMIC_RELAXED);
		__atomic_store_n(&d->len, 100, __ATOMIC_RELAXED);
		__atomic_store_n(&d->addr, buf(1), __ATOMIC_RELAXED);
		__atomic_store_n(&d->len, 2000, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Probabilistic companion of the test above: while the descriptor changes
 * under the device, every chain taken is one consistent copy (the length
 * summed is the length translated) of a value the guest really wrote.  A
 * planted double fetch of len is caught in roughly one run out of five;
 * the guarantee itself is by construction (vq_read_desc()). */
static void test_guest_rewriting_descriptor_during_read_is_read_once(
	void **st)
{
	pthread_t t;

	(void)st;
	guest_up((struct opts){.tx = true});
	g.avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	set_desc(0, buf(0), 100, 0, 0);
	flip_stop = 0;
	assert_int_equal(pthread_create(&t, NULL, flipper, &g.desc[0]), 0);
	for (unsigned i = 0; i < 200000; i++) {
		post(0);
		assert_int_equal(dq(1), 1);
		const struct vq_seg *s = &g.chains[0].seg[0];
		assert_int_equal(g.chains[0].nseg, 1);
		assert_int_equal(g.chains[0].len, s->len);
		assert_true(s->gpa == buf(0) || s->gpa == buf(1));
		assert_true(s->len == 100 || s->len == 2000);
		assert_ptr_equal(s->p, hva(s->gpa));
		vq_split_used(&g.vq, 0, 0);
		vq_split_flush(&g.vq);
	}
	__atomic_store_n(&flip_stop, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	assert_healthy();
	guest_down();
}

/* ---- TX: happy paths ------------------------------------------------- */

static void test_single_descriptor_chain_is_taken(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true});
	post_simple(7, 3, 1514);
	assert_int_equal(dq(8), 1);
	assert_simple_chain(&g.chains[0], 7, 3, 1514);
	assert_int_equal(g.vq.last_avail, 1);
	assert_int_equal(g.vq.stats.packets, 1);
	assert_int_equal(g.vq.stats.bytes, 1514);
	assert_int_equal(dq(8), 0);
	assert_healthy();
	guest_down();
}

static void test_chain_of_three_descriptors_gives_three_segments(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true});
	set_desc(4, buf(4), 100, F_NEXT, 9);
	set_desc(9, buf(9), 200, F_NEXT, 2);
	set_desc(2, buf(2), 300, 0, 0);
	post(4);
	assert_int_equal(dq(8), 1);
	const struct vq_chain *c = &g.chains[0];
	assert_int_equal(c->head, 4);
	assert_int_equal(c->nseg, 3);
	assert_int_equal(c->len, 600);
	assert_seg(&c->seg[0], buf(4), 100);
	assert_seg(&c->seg[1], buf(9), 200);
	assert_seg(&c->seg[2], buf(2), 300);
	assert_healthy();
	guest_down();
}

/* 5.1.6.2: the 12-byte header may sit in a descriptor of its own. */
static void test_header_in_its_own_descriptor_is_taken(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true});
	set_desc(0, buf(0), 12, F_NEXT, 1);
	set_desc(1, buf(1), 1514, 0, 0);
	post(0);
	assert_int_equal(dq(8), 1);
	assert_int_equal(g.chains[0].nseg, 2);
	assert_int_equal(g.chains[0].len, 1526);
	assert_seg(&g.chains[0].seg[0], buf(0), 12);
	assert_seg(&g.chains[0].seg[1], buf(1), 1514);
	assert_healthy();
	guest_down();
}

/* Exactly the header is enough. */
static void test_tx_chain_of_exactly_net_header_is_taken(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true});
	post_simple(0, 0, 12);
	assert_int_equal(dq(8), 1);
	assert_simple_chain(&g.chains[0], 0, 0, 12);
	assert_healthy();
	guest_down();
}

static void indirect_table_gives_its_descriptors(bool tx)
{
	guest_up((struct opts){.tx = tx, .indirect = true});
	put_idesc(itbl(2), 0, buf(1), 100, dirf() | F_NEXT, 2);
	put_idesc(itbl(2), 2, buf(2), 200, dirf() | F_NEXT, 1);
	put_idesc(itbl(2), 1, buf(3), 300, dirf(), 0);
	/* 2.7.5.3.2: the WRITE flag of the table's descriptor is ignored. */
	set_desc(5, itbl(2), 3 * 16, F_INDIRECT | (tx ? F_WRITE : 0), 0);
	post(5);
	assert_int_equal(tx ? dq(8) : rsv(600, 1), 1);
	const struct vq_chain *c = &g.chains[0];
	assert_int_equal(c->head, 5);
	assert_int_equal(c->nseg, 3);
	assert_int_equal(c->len, 600);
	assert_seg(&c->seg[0], buf(1), 100);
	assert_seg(&c->seg[1], buf(2), 200);
	assert_seg(&c->seg[2], buf(3), 300);
	assert_healthy();
	guest_down();
}

static void test_indirect_table_gives_its_descriptors(void **st)
{
	(void)st;
	indirect_table_gives_its_descriptors(true);
	indirect_table_gives_its_descriptors(false);
}

/* 2.7.5.3.2: "zero or more normal chained descriptors followed by a
 * single descriptor with INDIRECT" is one chain. */
static void test_direct_descriptors_then_indirect_table_are_one_chain(
	void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true, .indirect = true});
	put_idesc(itbl(0), 0, buf(1), 100, F_NEXT, 1);
	put_idesc(itbl(0), 1, buf(2), 200, 0, 0);
	set_desc(0, buf(0), 12, F_NEXT, 1);
	set_desc(1, itbl(0), 2 * 16, F_INDIRECT, 0);
	post(0);
	assert_int_equal(dq(8), 1);
	const struct vq_chain *c = &g.chains[0];
	assert_int_equal(c->nseg, 3);
	assert_int_equal(c->len, 312);
	assert_seg(&c->seg[0], buf(0), 12);
	assert_seg(&c->seg[1], buf(1), 100);
	assert_seg(&c->seg[2], buf(2), 200);
	assert_healthy();
	guest_down();
}

/* A table across r0/r1, one entry itself split between them. */
static void test_indirect_table_straddling_two_regions_is_read(void **st)
{
	const uint64_t t = R1_GPA - 40;   /* entry 2 straddles */

	(void)st;
	guest_up((struct opts){.tx = true, .indirect = true});
	for (uint16_t i = 0; i < 4; i++)
		put_idesc(t, i, buf(i), 50u + i, i < 3 ? F_NEXT : 0,
			  (uint16_t)(i + 1));
	set_desc(0, t, 4 * 16, F_INDIRECT, 0);
	post(0);
	snap_take();
	assert_int_equal(dq(8), 1);
	assert_unchanged();
	assert_int_equal(g.chains[0].nseg, 4);
	assert_int_equal(g.chains[0].len, 50 + 51 + 52 + 53);
	for (uint16_t i = 0; i < 4; i++)
		assert_seg(&g.chains[0].seg[i], buf(i), 50u + i);
	assert_healthy();
	guest_down();
}

static void test_buffer_straddling_two_regions_gives_two_segments(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true});
	set_desc(0, R1_GPA - 100, 300, 0, 0);
	post(0);
	assert_int_equal(dq(8), 1);
	const struct vq_chain *c = &g.chains[0];
	assert_int_equal(c->nseg, 2);
	assert_int_equal(c->len, 300);
	assert_seg(&c->seg[0], R1_GPA - 100, 100);
	assert_ptr_equal(c->seg[0].p, g.r0 + R_SIZE - 100);
	assert_seg(&c->seg[1], R1_GPA, 200);
	assert_ptr_equal(c->seg[1].p, g.r1);
	assert_healthy();
	guest_down();
}

/* RX: writing a packet through the segments lands exactly in the guest
 * buffer, on both sides of the region boundary, and nowhere else. */
static void test_rx_write_through_straddling_segments_stays_inside(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = false});
	set_desc(0, R1_GPA - 100, 300, F_WRITE, 0);
	post(0);
	assert_int_equal(rsv(300, 1), 1);
	uint8_t v = 1;
	for (uint16_t s = 0; s < g.chains[0].nseg; s++)
		for (uint32_t i = 0; i < g.chains[0].seg[s].len; i++)
			g.chains[0].seg[s].p[i] = v++;
	for (uint32_t i = 0; i < 300; i++)
		assert_int_equal(*(uint8_t *)hva(R1_GPA - 100 + i),
				 (uint8_t)(i + 1));
	assert_int_equal(*(uint8_t *)hva(R1_GPA - 101), 0);
	assert_int_equal(*(uint8_t *)hva(R1_GPA + 200), 0);
	vq_split_used(&g.vq, 0, 300);
	vq_split_flush(&g.vq);
	assert_int_equal(g.used->ring[0].len, 300);
	assert_healthy();
	guest_down();   /* checks the guard between r0 and r1 */
}

static void test_chain_of_64_segments_is_taken(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true});
	for (uint16_t i = 0; i < VQ_MAX_SEGS; i++)
		set_desc(i, buf(i), 20, i + 1 < VQ_MAX_SEGS ? F_NEXT : 0,
			 (uint16_t)(i + 1));
	post(0);
	assert_int_equal(dq(8), 1);
	assert_int_equal(g.chains[0].nseg, VQ_MAX_SEGS);
	assert_int_equal(g.chains[0].len, 20 * VQ_MAX_SEGS);
	for (uint16_t i = 0; i < VQ_MAX_SEGS; i++)
		assert_seg(&g.chains[0].seg[i], buf(i), 20);
	assert_healthy();
	guest_down();
}

static void test_dequeue_takes_at_most_n(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true});
	for (uint16_t i = 0; i < 5; i++)
		post_simple(i, i, 60);
	assert_int_equal(dq(0), 0);
	assert_int_equal(dq(3), 3);
	assert_int_equal(g.chains[2].head, 2);
	assert_int_equal(dq(8), 2);
	assert_int_equal(g.chains[0].head, 3);
	assert_int_equal(g.chains[1].head, 4);
	assert_int_equal(dq(8), 0);
	assert_int_equal(g.vq.stats.packets, 5);
	assert_healthy();
	guest_down();
}

/* A ring holding exactly 'size' chains is full, not a jump. */
static void test_full_ring_of_size_chains_is_taken(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true});
	for (uint16_t i = 0; i < QSIZE; i++)
		post_simple(i, i, 60);
	for (unsigned b = 0; b < QSIZE / VQ_BURST_MAX; b++) {
		assert_int_equal(dq(VQ_BURST_MAX), VQ_BURST_MAX);
		assert_int_equal(g.chains[0].head, b * VQ_BURST_MAX);
	}
	assert_int_equal(dq(VQ_BURST_MAX), 0);
	assert_healthy();
	guest_down();
}

/* 64 chains, returned in one burst: the shadow publishes itself when it
 * is full (one index store, one notification), flush has nothing left. */
static void test_batch_of_64_chains_then_used_ring_contents(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true});
	for (uint16_t i = 0; i < 64; i++)
		post_simple(i, i, 100u + i);
	assert_int_equal(dq(VQ_BURST_MAX), 64);
	for (uint16_t i = 0; i < 64; i++)
		assert_simple_chain(&g.chains[i], i, i, 100u + i);
	for (uint16_t i = 0; i < 63; i++)
		vq_split_used(&g.vq, g.chains[i].head, 0);
	assert_int_equal(used_idx(), 0);
	vq_split_used(&g.vq, g.chains[63].head, 0);
	assert_int_equal(used_idx(), 64);
	assert_int_equal(efd_take(g.call_fd), 1);
	vq_split_flush(&g.vq);
	assert_int_equal(efd_take(g.call_fd), 0);
	assert_int_equal(used_idx(), 64);
	for (uint16_t i = 0; i < 64; i++) {
		assert_int_equal(g.used->ring[i].id, i);
		assert_int_equal(g.used->ring[i].len, 0);
	}
	assert_int_equal(g.vq.stats.notifications, 1);
	assert_healthy();
	guest_down();
}

/* Entries are published in the order used() was called, out of order
 * with respect to the heads, with their lengths. */
static void test_used_ring_and_idx_after_flush(void **st)
{
	static const uint16_t heads[] = {9, 3, 200};
	static const uint32_t lens[] = {1500, 60, 9000};

	(void)st;
	guest_up((struct opts){.tx = false, .last_avail = 10});
	snap_take();
	for (unsigned i = 0; i < 3; i++)
		vq_split_used(&g.vq, heads[i], lens[i]);
	assert_unchanged();   /* nothing before flush */
	vq_split_flush(&g.vq);
	assert_int_equal(used_idx(), 13);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(g.used->ring[10 + i].id, heads[i]);
		assert_int_equal(g.used->ring[10 + i].len, lens[i]);
	}
	assert_int_equal(g.used->ring[13].id, 0);
	assert_int_equal(g.vq.stats.bytes, 1500 + 60 + 9000);
	guest_down();
}

static void test_init_reads_used_idx_from_ring(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true, .last_avail = 1234});
	assert_int_equal(g.vq.used_idx, 1234);
	assert_int_equal(g.vq.last_avail, 1234);
	post_simple(1, 1, 80);
	assert_int_equal(dq(8), 1);
	vq_split_used(&g.vq, 1, 0);
	vq_split_flush(&g.vq);
	assert_int_equal(used_idx(), 1235);
	assert_int_equal(g.used->ring[1234 & (QSIZE - 1)].id, 1);
	assert_healthy();
	guest_down();
}

/* 16-bit avail and used indices wrap (2.7.13.3: "wraps naturally at
 * 65536"): 70000 packets in bursts of 32, starting near the top. */
static void test_indices_wrap_after_70000_packets(void **st)
{
	uint16_t start = 65000, total = 0;

	(void)st;
	guest_up((struct opts){.tx = true, .last_avail = start});
	g.avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	for (unsigned done = 0; done < 70000; done += 32) {
		for (uint16_t i = 0; i < 32; i++)
			post_simple(i, i, 64);
		assert_int_equal(dq(32), 32);
		for (uint16_t i = 0; i < 32; i++) {
			assert_int_equal(g.chains[i].head, i);
			vq_split_used(&g.vq, g.chains[i].head, 0);
		}
		vq_split_flush(&g.vq);
		total = (uint16_t)(total + 32);
		assert_int_equal(used_idx(), (uint16_t)(start + total));
		assert_int_equal(g.used->ring[(uint16_t)(start + total - 1) &
					      (QSIZE - 1)].id, 31);
	}
	assert_int_equal(g.vq.last_avail, g.avail_idx);
	assert_int_equal(g.vq.stats.packets, 70016);
	assert_int_equal(efd_take(g.call_fd), 0);
	assert_healthy();
	guest_down();
}

/* ---- RX -------------------------------------------------------------- */

static void test_rx_without_mrg_takes_exactly_one_chain(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = false});
	post_simple(0, 0, 2000);
	post_simple(1, 1, 2000);
	assert_int_equal(rsv(100, VQ_BURST_MAX), 1);
	assert_simple_chain(&g.chains[0], 0, 0, 2000);
	assert_int_equal(g.vq.last_avail, 1);
	assert_int_equal(g.vq.stats.packets, 1);
	assert_healthy();
	guest_down();
}

/* Without MRG_RXBUF a too small chain cannot take the packet: 0, nothing
 * taken, ring_full counted; the chain stays for a smaller packet. */
static void test_rx_without_mrg_too_small_chain_places_nothing(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = false});
	post_simple(0, 0, 1000);
	post_simple(1, 1, 2000);
	snap_take();
	assert_int_equal(rsv(1500, VQ_BURST_MAX), 0);
	assert_unchanged();
	assert_int_equal(g.vq.last_avail, 0);
	assert_int_equal(g.vq.stats.ring_full, 1);
	assert_int_equal(rsv(500, 1), 1);
	assert_simple_chain(&g.chains[0], 0, 0, 1000);
	assert_int_equal(rsv(1500, 1), 1);
	assert_simple_chain(&g.chains[0], 1, 1, 2000);
	assert_healthy();
	guest_down();
}

static void test_rx_without_buffers_counts_ring_full(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = false, .mrg = true});
	assert_int_equal(rsv(100, 8), 0);
	assert_int_equal(g.vq.stats.ring_full, 1);
	assert_int_equal(g.vq.stats.packets, 0);
	assert_healthy();
	guest_down();
}

static void test_mrg_rx_takes_three_chains_for_big_packet(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = false, .mrg = true});
	for (uint16_t i = 0; i < 5; i++)
		post_simple(i, i, 1000);
	assert_int_equal(rsv(2500, VQ_BURST_MAX), 3);
	for (uint16_t i = 0; i < 3; i++)
		assert_simple_chain(&g.chains[i], i, i, 1000);
	assert_int_equal(g.vq.last_avail, 3);
	assert_int_equal(g.vq.stats.packets, 1);
	vq_split_used(&g.vq, 0, 1000);
	vq_split_used(&g.vq, 1, 1000);
	vq_split_used(&g.vq, 2, 500);
	vq_split_flush(&g.vq);
	assert_int_equal(used_idx(), 3);
	assert_int_equal(g.used->ring[2].id, 2);
	assert_int_equal(g.used->ring[2].len, 500);
	assert_int_equal(g.vq.stats.bytes, 2500);
	assert_healthy();
	guest_down();
}

/* Not enough buffers yet: everything goes back, then more arrive. */
static void test_mrg_rx_ring_running_out_gives_everything_back(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = false, .mrg = true});
	post_simple(0, 0, 1000);
	post_simple(1, 1, 1000);
	assert_int_equal(rsv(2500, VQ_BURST_MAX), 0);
	assert_int_equal(g.vq.last_avail, 0);
	assert_int_equal(g.vq.stats.ring_full, 1);
	assert_int_equal(rsv(2500, 2), 0);   /* max reached first */
	assert_int_equal(g.vq.stats.ring_full, 2);
	post_simple(2, 2, 1000);
	assert_int_equal(rsv(2500, VQ_BURST_MAX), 3);
	assert_int_equal(g.chains[2].head, 2);
	assert_healthy();
	guest_down();
}

/* Tiny mergeable buffers (virtio 5.1.6.3.1 asks for at least the header
 * per buffer): a full frame does not fit in max chains, so nothing is
 * taken or written; small amounts still fit. */
static void test_mrg_rx_tiny_buffers_place_nothing(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = false, .mrg = true});
	for (uint16_t i = 0; i < 200; i++) {
		set_desc(i, buf(i), 1, F_WRITE, 0);
		post(i);
	}
	snap_take();
	assert_int_equal(rsv(1514 + 12, VQ_BURST_MAX), 0);
	assert_unchanged();
	assert_int_equal(g.vq.last_avail, 0);
	assert_int_equal(g.vq.stats.ring_full, 1);
	assert_int_equal(rsv(20, VQ_BURST_MAX), 20);
	for (uint16_t i = 0; i < 20; i++)
		assert_simple_chain(&g.chains[i], i, i, 1);
	assert_healthy();
	guest_down();
}

static void test_unreserve_gives_chains_back(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = false, .mrg = true});
	for (uint16_t i = 0; i < 4; i++)
		post_simple(i, i, 1000);
	assert_int_equal(rsv(2500, VQ_BURST_MAX), 3);
	vq_split_unreserve(&g.vq, 3);
	assert_int_equal(g.vq.last_avail, 0);
	assert_int_equal(g.vq.stats.packets, 0);
	assert_int_equal(rsv(2500, VQ_BURST_MAX), 3);
	for (uint16_t i = 0; i < 3; i++)
		assert_simple_chain(&g.chains[i], i, i, 1000);
	assert_int_equal(g.vq.stats.packets, 1);
	assert_healthy();
	guest_down();
}

/* ---- notifications ---------------------------------------------------- */

/* Post, take and return n TX chains, then flush once. */
static void round_trip(uint16_t n)
{
	for (uint16_t i = 0; i < n; i++)
		post_simple(i, i, 64);
	assert_int_equal(dq(n), n);
	for (uint16_t i = 0; i < n; i++)
		vq_split_used(&g.vq, g.chains[i].head, 0);
	vq_split_flush(&g.vq);
}

static void test_flush_notifies_once_per_flush(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true});
	round_trip(3);
	assert_int_equal(efd_take(g.call_fd), 1);
	round_trip(5);
	assert_int_equal(efd_take(g.call_fd), 1);
	assert_int_equal(g.vq.stats.notifications, 2);
	guest_down();
}

static void test_no_interrupt_flag_suppresses_notification(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true});
	g.avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	round_trip(3);
	assert_int_equal(used_idx(), 3);
	assert_int_equal(efd_take(g.call_fd), 0);
	assert_int_equal(g.vq.stats.notifications, 0);
	guest_down();
}

/* 2.7.10: notify when the used idx passes used_event: exactly once. */
static void test_event_idx_notifies_only_when_used_event_is_passed(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true, .event_idx = true});
	*vring_used_event(g.avail, QSIZE) = 5;
	round_trip(3);                              /* 0..2 */
	assert_int_equal(efd_take(g.call_fd), 0);
	round_trip(5);                              /* 3..7: 5 passed */
	assert_int_equal(efd_take(g.call_fd), 1);
	round_trip(2);                              /* 8..9 */
	assert_int_equal(efd_take(g.call_fd), 0);
	*vring_used_event(g.avail, QSIZE) = 10;     /* re-armed */
	round_trip(1);                              /* 10 */
	assert_int_equal(efd_take(g.call_fd), 1);
	assert_int_equal(g.vq.stats.notifications, 2);
	guest_down();
}

/* 2.7.10: with EVENT_IDX the device MUST ignore the flags' lower bit. */
static void test_event_idx_ignores_no_interrupt_flag(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true, .event_idx = true});
	g.avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	*vring_used_event(g.avail, QSIZE) = 0;
	round_trip(1);
	assert_int_equal(efd_take(g.call_fd), 1);
	guest_down();
}

static void test_flush_without_entries_writes_and_notifies_nothing(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true, .event_idx = true});
	snap_take();
	vq_split_flush(&g.vq);
	assert_unchanged();
	assert_int_equal(efd_take(g.call_fd), 0);
	guest_down();
}

/* ---- kick suppression -------------------------------------------------- */

static void test_init_sets_no_notify_without_event_idx(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true});
	assert_int_equal(g.used->flags, VRING_USED_F_NO_NOTIFY);
	guest_down();
}

/* With EVENT_IDX, flags is 0 (2.7.10: MUST) and avail_event trails
 * last_avail by one: whatever the driver posts, vring_need_event() on
 * its side says "no kick". */
static void test_event_idx_avail_event_means_driver_never_kicks(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true, .event_idx = true,
			       .last_avail = 100});
	assert_int_equal(g.used->flags, 0);
	assert_int_equal(*vring_avail_event(g.used, QSIZE), 99);
	round_trip(5);
	uint16_t ev = *vring_avail_event(g.used, QSIZE);
	assert_int_equal(ev, 104);
	for (uint16_t k = 1; k <= QSIZE; k++)
		assert_false(vring_need_event(ev, (uint16_t)(g.avail_idx + k),
					      g.avail_idx));
	guest_down();
}

/* ---- dirty log --------------------------------------------------------- */

static bool page_marked(uint64_t page)
{
	return (g.logbits[page / 8] >> (page % 8)) & 1;
}

static void assert_pages_marked(uint64_t a, uint64_t b)
{
	for (uint64_t p = 0; p < LOG_BYTES * 8; p++)
		assert_int_equal(page_marked(p), p == a || p == b);
}

#define USED_PAGE (USED_GPA / DIRTY_LOG_PAGE)            /* 0x102 */
#define USED_END_PAGE (USED_PAGE + 1)                    /* 0x103 */

static void test_flush_logs_used_ring_pages_when_logging(void **st)
{
	(void)st;
	/* init: used->flags */
	guest_up((struct opts){.tx = true, .log = true, .log_used = true});
	assert_pages_marked(USED_PAGE, USED_PAGE);
	memset(g.logbits, 0, sizeof(g.logbits));
	round_trip(3);   /* idx and entries 0..2: first page only */
	assert_pages_marked(USED_PAGE, USED_PAGE);
	guest_down();
	/* EVENT_IDX: avail_event sits on the second page */
	guest_up((struct opts){.tx = true, .event_idx = true, .log = true,
			       .log_used = true});
	memset(g.logbits, 0, sizeof(g.logbits));
	round_trip(3);
	assert_pages_marked(USED_PAGE, USED_END_PAGE);
	guest_down();
	/* entries 250..255 (second page) and 0..3 (first page) */
	guest_up((struct opts){.tx = true, .log = true, .log_used = true,
			       .last_avail = 250});
	memset(g.logbits, 0, sizeof(g.logbits));
	round_trip(10);
	assert_pages_marked(USED_PAGE, USED_END_PAGE);
	guest_down();
}

/*
 * IN_ORDER on a transmit ring: a flush writes one used entry, at the slot
 * where its batch begins, with the id of the batch's last buffer (len 0),
 * and moves used->idx by the whole batch; the slots of the other buffers
 * keep what was there, and only the written entry is logged (entries 30
 * and 31 are on the first page, 32 on: the batch 30..34 would mark both).
 * The next flush writes where the batch ended.
 */
static void test_in_order_tx_flush_writes_one_entry(void **st)
{
	const struct vring_used_elem old = {0xabab, 0xcdcd};

	(void)st;
	guest_up((struct opts){.tx = true, .in_order = true, .log = true,
			       .log_used = true, .last_avail = 30});
	for (uint16_t i = 0; i < QSIZE; i++)
		g.used->ring[i] = old;
	post_simple(7, 1, 100);
	set_desc(8, buf(2), 50, F_NEXT, 9);
	set_desc(9, buf(3), 50, 0, 0);
	post(8);
	post_simple(10, 4, 100);
	post_simple(11, 5, 100);
	post_simple(12, 6, 100);
	memset(g.logbits, 0, sizeof(g.logbits));
	assert_int_equal(dq(5), 5);
	for (uint16_t i = 0; i < 5; i++)
		vq_split_used(&g.vq, g.chains[i].head, 0);
	vq_split_flush(&g.vq);
	assert_int_equal(used_idx(), 35);
	assert_int_equal(g.used->ring[30].id, 12);
	assert_int_equal(g.used->ring[30].len, 0);
	for (uint16_t i = 31; i < 35; i++)
		assert_memory_equal(&g.used->ring[i], &old, sizeof(old));
	assert_pages_marked(USED_PAGE, USED_PAGE);
	post_simple(13, 7, 100);
	assert_int_equal(dq(1), 1);
	vq_split_used(&g.vq, g.chains[0].head, 0);
	vq_split_flush(&g.vq);
	assert_int_equal(used_idx(), 36);
	assert_int_equal(g.used->ring[35].id, 13);
	assert_healthy();
	guest_down();
}

/* IN_ORDER on a receive ring: each buffer's length counts, so each gets
 * its own entry. */
static void test_in_order_rx_flush_writes_every_entry(void **st)
{
	(void)st;
	guest_up((struct opts){.in_order = true});
	post_simple(20, 1, 1000);
	post_simple(21, 2, 1000);
	for (int i = 0; i < 2; i++)
		assert_int_equal(vq_split_reserve(&g.vq, 100, &g.chains[i], 1),
				 1);
	vq_split_used(&g.vq, g.chains[0].head, 60);
	vq_split_used(&g.vq, g.chains[1].head, 70);
	vq_split_flush(&g.vq);
	assert_int_equal(used_idx(), 2);
	assert_int_equal(g.used->ring[0].id, 20);
	assert_int_equal(g.used->ring[0].len, 60);
	assert_int_equal(g.used->ring[1].id, 21);
	assert_int_equal(g.used->ring[1].len, 70);
	assert_healthy();
	guest_down();
}

static void test_flush_logs_nothing_without_log_used(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true, .event_idx = true, .log = true});
	round_trip(3);
	for (unsigned i = 0; i < LOG_BYTES; i++)
		assert_int_equal(g.logbits[i], 0);
	guest_down();
}

/* ---- vq.c -------------------------------------------------------------- */

static void test_error_text_names_every_reason(void **st)
{
	(void)st;
	for (unsigned i = 0; i < VQ_ERR_MAX; i++) {
		const char *t = vq_error_text((enum vq_error)i);
		assert_non_null(t);
		assert_true(t[0] != '\0');
		for (unsigned j = 0; j < i; j++)
			assert_string_not_equal(t,
				vq_error_text((enum vq_error)j));
	}
	assert_string_equal(vq_error_text(VQ_ERR_MAX), "unknown error");
}

static void test_set_broken_counts_and_signals_once(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true});
	vq_set_broken(&g.vq, VQ_ERR_ADDR, 0x1234);
	vq_set_broken(&g.vq, VQ_ERR_DESC_LOOP, 1);
	assert_true(g.vq.broken);
	assert_only_error(VQ_ERR_ADDR);
	assert_int_equal(efd_take(g.err_fd), 1);
	guest_down();
}

static void test_set_broken_without_err_fd_only_counts(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true});
	g.vq.err_fd = -1;
	vq_set_broken(&g.vq, VQ_ERR_ZERO_LEN, 3);
	assert_only_error(VQ_ERR_ZERO_LEN);
	assert_int_equal(efd_take(g.err_fd), 0);
	guest_down();
}

/* ---- eventfds a front-end made blocking and full ---------------------- */

/*
 * O_NONBLOCK belongs to the open file, which the front-end shares: it can
 * clear it after SET_VRING_CALL/ERR and fill the counter, so that a write
 * sleeps until someone reads.  These tests run the ring on a real worker
 * and rely on the control thread's waits (wk_quiesce, wk_settle) to get it
 * out: before they interrupted the worker, wk_settle waited forever.
 */

/* An eventfd in blocking mode whose counter cannot take another 1. */
static int full_blocking_eventfd(void)
{
	int fd = eventfd(0, EFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, &(uint64_t){0xfffffffffffffffeull},
			       sizeof(uint64_t)), sizeof(uint64_t));
	return fd;
}

static _Atomic uint64_t neighbour_polls;

static uint32_t neighbour_poll(void *ctx)
{
	(void)ctx;
	atomic_fetch_add_explicit(&neighbour_polls, 1, memory_order_relaxed);
	return 1;
}

/* One TX round trip per pass (the worker plays the guest too), flushed
 * with a notification.  No assertion here: this runs on the worker. */
static uint32_t round_trip_poll(void *ctx)
{
	(void)ctx;
	post_simple(0, 0, 64);
	if (dq(1) == 1)
		vq_split_used(&g.vq, g.chains[0].head, 0);
	vq_split_flush(&g.vq);
	return 1;
}

/* A head out of range every pass: the queue breaks, its error eventfd is
 * written. */
static uint32_t hostile_poll(void *ctx)
{
	(void)ctx;
	post(300);
	(void)dq(1);
	return 1;
}

/* Start a worker on [neighbour, poll] and wait until it has made two
 * whole passes, however long a write held it. */
static void run_on_worker(struct worker *w, wk_poll_fn poll)
{
	struct wk_list *l = wk_list_new(2);

	assert_non_null(l);
	l->items[0] = (struct wk_item){neighbour_poll, NULL, NULL, NULL};
	l->items[1] = (struct wk_item){poll, NULL, NULL, NULL};
	assert_int_equal(wk_start(w, 0, -1), 0);
	assert_null(wk_publish(w, l));
	for (int i = 0; i < 2; i++)
		if (wk_quiesce(w) < 0)
			wk_settle(w);
}

/* The neighbour is polled again: the worker is not stuck.  Then stop. */
static void assert_worker_goes_on(struct worker *w)
{
	uint64_t n = atomic_load(&neighbour_polls);

	for (int i = 0; i < 2; i++)
		if (wk_quiesce(w) < 0)
			wk_settle(w);
	assert_true(atomic_load(&neighbour_polls) > n);
	free(wk_publish(w, NULL));
	wk_stop(w);
}

static void test_call_fd_made_blocking_and_full_breaks_queue_not_worker(
	void **st)
{
	struct worker w;
	int hfd = full_blocking_eventfd();

	(void)st;
	guest_up((struct opts){.tx = true});
	g.vq.call_fd = hfd;
	run_on_worker(&w, round_trip_poll);
	assert_true(g.vq.broken);
	assert_only_error(VQ_ERR_CALL_BLOCKED);
	assert_int_equal(g.vq.call_fd, -1);       /* never written again */
	assert_int_equal(efd_take(g.err_fd), 1);  /* the front-end is told */
	assert_worker_goes_on(&w);
	assert_int_equal(efd_take(hfd), 0xfffffffffffffffeull);
	close(hfd);
	guest_down();
}

static void test_err_fd_made_blocking_and_full_does_not_hold_the_worker(
	void **st)
{
	struct worker w;
	int hfd = full_blocking_eventfd();

	(void)st;
	guest_up((struct opts){.tx = true});
	g.vq.err_fd = hfd;
	run_on_worker(&w, hostile_poll);
	assert_true(g.vq.broken);
	assert_only_error(VQ_ERR_HEAD_RANGE);
	assert_int_equal(g.vq.err_fd, -1);
	assert_worker_goes_on(&w);
	assert_int_equal(efd_take(hfd), 0xfffffffffffffffeull);
	close(hfd);
	guest_down();
}

/* Non-blocking and full (the fd as vhostd set it): the counter is not
 * zero, the guest sees it; the write's EAGAIN is no error. */
static void test_full_nonblocking_call_fd_is_no_error(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true});
	assert_int_equal(write(g.call_fd, &(uint64_t){0xfffffffffffffffeull},
			       sizeof(uint64_t)), sizeof(uint64_t));
	round_trip(2);
	assert_healthy();
	assert_int_equal(g.vq.call_fd, g.call_fd);
	assert_int_equal(efd_take(g.call_fd), 0xfffffffffffffffeull);
	round_trip(2);
	assert_int_equal(efd_take(g.call_fd), 1);
	guest_down();
}

/* ---- main ------------------------------------------------------------- */

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_broken_queue_logs_one_line_naming_queue_and_value),
		/* hostile, TX and RX */
		cmocka_unit_test(test_desc_loop_marks_queue_broken),
		cmocka_unit_test(
			test_desc_loop_in_indirect_table_marks_queue_broken),
		cmocka_unit_test(test_next_out_of_range_marks_queue_broken),
		cmocka_unit_test(
			test_next_outside_indirect_table_marks_queue_broken),
		cmocka_unit_test(test_indirect_len_zero_marks_queue_broken),
		cmocka_unit_test(
			test_indirect_len_not_multiple_of_16_marks_queue_broken),
		cmocka_unit_test(
			test_indirect_table_larger_than_ring_marks_queue_broken),
		cmocka_unit_test(test_indirect_len_huge_marks_queue_broken),
		cmocka_unit_test(test_indirect_nested_marks_queue_broken),
		cmocka_unit_test(test_indirect_with_next_marks_queue_broken),
		cmocka_unit_test(test_indirect_not_negotiated_marks_queue_broken),
		cmocka_unit_test(
		    test_indirect_table_outside_guest_memory_marks_queue_broken),
		cmocka_unit_test(
		    test_indirect_table_straddling_region_end_marks_queue_broken),
		cmocka_unit_test(
			test_buffer_outside_guest_memory_marks_queue_broken),
		cmocka_unit_test(
			test_buffer_in_hole_after_region_marks_queue_broken),
		cmocka_unit_test(
		    test_buffer_straddling_end_of_last_region_marks_queue_broken),
		cmocka_unit_test(
		    test_buffer_straddling_region_into_hole_marks_queue_broken),
		cmocka_unit_test(
			test_buffer_address_wrapping_marks_queue_broken),
		cmocka_unit_test(
			test_indirect_table_wrapping_address_marks_queue_broken),
		cmocka_unit_test(test_len_overflow_marks_queue_broken),
		cmocka_unit_test(test_zero_len_buffer_marks_queue_broken),
		cmocka_unit_test(
		    test_zero_len_buffer_in_indirect_table_marks_queue_broken),
		cmocka_unit_test(
		    test_tx_chain_shorter_than_net_header_marks_queue_broken),
		cmocka_unit_test(test_avail_idx_jump_marks_queue_broken),
		cmocka_unit_test(test_head_out_of_range_marks_queue_broken),
		cmocka_unit_test(test_head_ffff_marks_queue_broken),
		cmocka_unit_test(test_wrong_direction_marks_queue_broken),
		cmocka_unit_test(
			test_writable_before_readable_marks_queue_broken),
		cmocka_unit_test(
		    test_writable_before_readable_in_indirect_marks_queue_broken),
		cmocka_unit_test(test_too_many_descriptors_marks_queue_broken),
		cmocka_unit_test(
		    test_too_many_segments_from_straddling_marks_queue_broken),
		cmocka_unit_test(
		    test_guest_rewriting_descriptors_after_read_changes_nothing),
		cmocka_unit_test(
			test_guest_rewriting_descriptor_during_read_is_read_once),
		/* TX */
		cmocka_unit_test(test_single_descriptor_chain_is_taken),
		cmocka_unit_test(
			test_chain_of_three_descriptors_gives_three_segments),
		cmocka_unit_test(test_header_in_its_own_descriptor_is_taken),
		cmocka_unit_test(test_tx_chain_of_exactly_net_header_is_taken),
		cmocka_unit_test(test_indirect_table_gives_its_descriptors),
		cmocka_unit_test(
		    test_direct_descriptors_then_indirect_table_are_one_chain),
		cmocka_unit_test(
			test_indirect_table_straddling_two_regions_is_read),
		cmocka_unit_test(
			test_buffer_straddling_two_regions_gives_two_segments),
		cmocka_unit_test(
			test_rx_write_through_straddling_segments_stays_inside),
		cmocka_unit_test(test_chain_of_64_segments_is_taken),
		cmocka_unit_test(test_dequeue_takes_at_most_n),
		cmocka_unit_test(test_full_ring_of_size_chains_is_taken),
		cmocka_unit_test(test_batch_of_64_chains_then_used_ring_contents),
		cmocka_unit_test(test_used_ring_and_idx_after_flush),
		cmocka_unit_test(test_init_reads_used_idx_from_ring),
		cmocka_unit_test(test_indices_wrap_after_70000_packets),
		/* RX */
		cmocka_unit_test(test_rx_without_mrg_takes_exactly_one_chain),
		cmocka_unit_test(
			test_rx_without_mrg_too_small_chain_places_nothing),
		cmocka_unit_test(test_rx_without_buffers_counts_ring_full),
		cmocka_unit_test(test_mrg_rx_takes_three_chains_for_big_packet),
		cmocka_unit_test(
			test_mrg_rx_ring_running_out_gives_everything_back),
		cmocka_unit_test(test_mrg_rx_tiny_buffers_place_nothing),
		cmocka_unit_test(test_unreserve_gives_chains_back),
		/* notifications and kicks */
		cmocka_unit_test(test_flush_notifies_once_per_flush),
		cmocka_unit_test(test_no_interrupt_flag_suppresses_notification),
		cmocka_unit_test(
			test_event_idx_notifies_only_when_used_event_is_passed),
		cmocka_unit_test(test_event_idx_ignores_no_interrupt_flag),
		cmocka_unit_test(
			test_flush_without_entries_writes_and_notifies_nothing),
		cmocka_unit_test(test_init_sets_no_notify_without_event_idx),
		cmocka_unit_test(
			test_event_idx_avail_event_means_driver_never_kicks),
		/* dirty log */
		cmocka_unit_test(test_flush_logs_used_ring_pages_when_logging),
		cmocka_unit_test(test_flush_logs_nothing_without_log_used),
		cmocka_unit_test(test_in_order_tx_flush_writes_one_entry),
		cmocka_unit_test(test_in_order_rx_flush_writes_every_entry),
		/* vq.c */
		cmocka_unit_test(test_error_text_names_every_reason),
		cmocka_unit_test(test_set_broken_counts_and_signals_once),
		cmocka_unit_test(test_set_broken_without_err_fd_only_counts),
		cmocka_unit_test(
		    test_call_fd_made_blocking_and_full_breaks_queue_not_worker),
		cmocka_unit_test(
		    test_err_fd_made_blocking_and_full_does_not_hold_the_worker),
		cmocka_unit_test(test_full_nonblocking_call_fd_is_no_error),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
