/* SPDX-License-Identifier: MIT */
/*
 * test_vq_packed.c: the device side of the packed virtqueue
 * (datapath/vq_packed.c, through the format-neutral calls of vq.h) against
 * a small simulated driver that follows virtio 1.x 2.8: descriptors
 * written, the first one's flags last with a release store, used
 * descriptors found by polling the next used slot and skipping by the
 * chain length of the buffer id.
 *
 * Guest memory: the same shape as test_vq_split.c.
 *
 *   gpa 0x100000  r0 (1 MiB)  desc ring | driver area | device area |
 *                             indirect tables | buffers
 *   gpa 0x200000  r1 (1 MiB)  adjacent in gpa, not in the host mapping
 *   gpa 2^32      big (3 GiB) PROT_NONE: only translated, never touched
 *   gpa 0 and 2^64 - 4 KiB: one page each, PROT_NONE
 *
 * The ring has 200 entries: not a power of two (2.8 "The Queue Size value
 * does not have to be a power of 2").  Guards of 0xa5 around the regions
 * and of 0xee after every buffer; hostile tests compare the whole mapping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "datapath/vq.h"
#include "datapath/vq_pos.h"
#include "vq_guest.h"

#define QSIZE 200u
#define DESC_GPA (R0_GPA + 0x800)    /* 3200 bytes: pages 0x100, 0x101 */
#define DRIVER_GPA (R0_GPA + 0x2000)
#define DEVICE_GPA (R0_GPA + 0x3000)

#define F_NEXT VRING_DESC_F_NEXT
#define F_WRITE VRING_DESC_F_WRITE
#define F_INDIRECT VRING_DESC_F_INDIRECT
#define F_AVAIL VRING_PACKED_DESC_F_AVAIL
#define F_USED VRING_PACKED_DESC_F_USED

struct opts {
	bool tx, indirect, event_idx, mrg, log, log_used, in_order;
	uint16_t start;       /* ring position of both sides */
	bool wrap0;           /* start with both wrap counters at 0 */
	struct vq_pos *pos;   /* its position slot (vq_pos.h) */
};

static struct {
	VQ_GUEST_FIELDS;
	struct vring_packed_desc *desc;
	struct vring_packed_event *drv, *dev;
	uint16_t avail_pos, used_pos;   /* the driver's */
	bool avail_wrap, used_wrap;
	uint16_t sgs[QSIZE];            /* descriptors per buffer id */
} g;

#include "vq_guest_fns.h"

/* ---- simulated guest ---------------------------------------------- */

/* Entry i of an indirect table at gpa tbl (id: garbage, ignored). */
static void put_idesc(uint64_t tbl, uint16_t i, uint64_t addr, uint32_t len,
		      uint16_t flags)
{
	struct vring_packed_desc d = {addr, len, 0xdead, flags};

	guest_write(tbl + 16u * i, &d, sizeof(d));
}

/* One element of a chain the driver posts. */
struct el {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;      /* NEXT / WRITE / INDIRECT */
	bool bad_wrap;       /* AVAIL/USED bits of the other wrap counter */
};

static uint16_t avail_bits(bool wrap)
{
	return wrap ? F_AVAIL : F_USED;
}

static void step(uint16_t *pos, bool *wrap, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (++*pos == QSIZE) {
			*pos = 0;
			*wrap = !*wrap;
		}
}

/*
 * Make a chain of n elements available with buffer id (in every
 * descriptor; the device must use the last one's: earlier ones get
 * id ^ 0x5555).  NEXT is set by the caller.  The first descriptor's flags
 * are stored last, with release (2.8.21).
 */
static void post_chain(uint16_t id, unsigned n, const struct el *e)
{
	uint16_t pos = g.avail_pos, first = pos, first_flags = 0;
	bool w = g.avail_wrap;

	for (unsigned i = 0; i < n; i++) {
		struct vring_packed_desc *d = &g.desc[pos];
		uint16_t f = (uint16_t)(e[i].flags |
					avail_bits(e[i].bad_wrap ? !w : w));
		d->addr = e[i].addr;
		d->len = e[i].len;
		d->id = i + 1 == n ? id : (uint16_t)(id ^ 0x5555);
		if (i == 0)
			first_flags = f;
		else
			d->flags = f;
		step(&pos, &w, 1);
	}
	__atomic_store_n(&g.desc[first].flags, first_flags, __ATOMIC_RELEASE);
	g.avail_pos = pos;
	g.avail_wrap = w;
	if (id < QSIZE)
		g.sgs[id] = (uint16_t)n;
}

static uint16_t dirf(void)
{
	return g.vq.tx ? 0 : F_WRITE;
}

/* Buffer k, len bytes, alone, as buffer id. */
static void post_simple(uint16_t id, unsigned k, uint32_t len)
{
	post_chain(id, 1, &(struct el){buf(k), len, dirf(), false});
}

/* One descriptor pointing to the table at tbl of len bytes. */
static void post_indirect(uint16_t id, uint64_t tbl, uint32_t len)
{
	post_chain(id, 1, &(struct el){tbl, len, F_INDIRECT, false});
}

/* The next used buffer, as a driver finds it; false when none. */
static bool get_used(uint16_t *id, uint32_t *len, uint16_t *flags)
{
	struct vring_packed_desc *d = &g.desc[g.used_pos];
	uint16_t f = __atomic_load_n(&d->flags, __ATOMIC_ACQUIRE);

	if (!!(f & F_AVAIL) != g.used_wrap || !!(f & F_USED) != g.used_wrap)
		return false;
	*id = d->id;
	*len = d->len;
	*flags = f;
	assert_true(*id < QSIZE);
	step(&g.used_pos, &g.used_wrap, g.sgs[*id]);
	return true;
}

static void expect_used(uint16_t id, uint32_t len)
{
	uint16_t i, f;
	uint32_t l;
	bool w = g.used_wrap;

	assert_true(get_used(&i, &l, &f));
	assert_int_equal(i, id);
	assert_int_equal(l, len);
	assert_int_equal(f & (F_AVAIL | F_USED), w ? F_AVAIL | F_USED : 0);
	assert_int_equal(!!(f & F_WRITE), len != 0);
}

static void expect_no_used(void)
{
	uint16_t i, f;
	uint32_t l;

	assert_false(get_used(&i, &l, &f));
}

/* ---- set-up and checks ---------------------------------------------- */

static void guest_up(struct opts o)
{
	vq_guest_mem_up();
	g.desc = hva(DESC_GPA);
	g.drv = hva(DRIVER_GPA);
	g.dev = hva(DEVICE_GPA);
	g.avail_pos = g.used_pos = o.start;
	g.avail_wrap = g.used_wrap = !o.wrap0;
	/* A history that leads to (start, wrap): slots before start were
	 * used in this lap, the others in the previous one (a zeroed ring
	 * for slot 0, wrap 1). */
	for (unsigned i = 0; i < QSIZE; i++) {
		bool w = i < o.start ? g.used_wrap : !g.used_wrap;
		g.desc[i].flags = w ? F_AVAIL | F_USED : 0;
	}
	memset(g.sgs, 0, sizeof(g.sgs));
	struct vq_cfg c = {
		.index = 5, .dev_name = "unit1", .packed = true,
		.pdesc = g.desc, .driver = g.drv, .device = g.dev,
		.size = QSIZE, .last_avail = o.start, .avail_wrap = !o.wrap0,
		.used_idx = o.start, .used_wrap = !o.wrap0,
		.desc_gpa = DESC_GPA,
		.event_idx = o.event_idx, .indirect = o.indirect,
		.mrg_rxbuf = o.mrg, .in_order = o.in_order, .tx = o.tx,
		.mem = g.mem,
		.log = o.log ? &g.log : NULL, .used_gpa = DEVICE_GPA,
		.log_used = o.log_used,
		.call_fd = g.call_fd, .err_fd = g.err_fd, .pos = o.pos,
	};
	vq_init(&g.vq, &c);
}

static void assert_simple_chain(const struct vq_chain *c, uint16_t id,
				unsigned k, uint32_t len)
{
	assert_int_equal(c->head, id);
	assert_int_equal(c->ndesc, 1);
	assert_int_equal(c->nseg, 1);
	assert_int_equal(c->len, len);
	assert_seg(&c->seg[0], buf(k), len);
}

static uint16_t dq(uint16_t n)
{
	return vq_dequeue(&g.vq, g.chains, n);
}

static int rsv(uint32_t len, uint16_t max)
{
	return vq_reserve(&g.vq, len, g.chains, max);
}

/* Hand chains [0, n) back as used (len each) and flush. */
static void use_all(uint16_t n, uint32_t len)
{
	for (uint16_t i = 0; i < n; i++)
		vq_used(&g.vq, &g.chains[i], len);
	vq_flush(&g.vq);
}

/* ---- hostile rings: the harness ------------------------------------- */

#define H_INDIRECT 1u   /* negotiate VIRTIO_F_INDIRECT_DESC */
#define H_ALONE 2u      /* no good chains first: the fault is the head */
#define H_END 4u        /* start at the last slot: the chain wraps */
#define NONE VQ_ERR_MAX

/*
 * One direction.  Two good chains first (ids 100 and 101, buffers of 100
 * bytes of 0x5a / 0x5b), then what build() posts.  Chain A is taken alone
 * and returned with used() (still in the shadow); chain B is taken by the
 * call that meets the fault.  Afterwards: broken for reason e (counted
 * once, err_fd once), B intact, nothing anywhere in the mapping changed
 * (A's used descriptor is dropped, not written), and the broken queue is
 * never touched again.
 */
static void hostile_dir(void (*build)(void), enum vq_error e, unsigned flags,
			bool tx)
{
	const bool alone = flags & H_ALONE;

	guest_up((struct opts){.tx = tx, .indirect = flags & H_INDIRECT,
			       .start = flags & H_END ? QSIZE - 1 : 0});
	if (!alone) {
		memset(hva(buf(100)), 0x5a, 100);
		memset(hva(buf(101)), 0x5b, 100);
		post_simple(100, 100, 100);
		post_simple(101, 101, 100);
		assert_int_equal(tx ? dq(1) : rsv(100, 1), 1);
		assert_simple_chain(&g.chains[0], 100, 100, 100);
		vq_used(&g.vq, &g.chains[0], tx ? 0 : 100);
	}
	build();
	snap_take();
	if (tx) {
		assert_int_equal(dq(8), alone ? 0 : 1);
	} else {
		if (!alone)
			assert_int_equal(rsv(100, 1), 1);
		assert_int_equal(vq_reserve(&g.vq, 100, &g.chains[1], 1), -1);
	}
	assert_true(g.vq.broken);
	assert_only_error(e);
	assert_int_equal(efd_take(g.err_fd), 1);
	if (!alone) {
		assert_simple_chain(&g.chains[0], 101, 101, 100);
		for (unsigned i = 0; i < 100; i++)
			assert_int_equal(g.chains[0].seg[0].p[i], 0x5b);
	}
	vq_flush(&g.vq);
	assert_unchanged();
	post_simple(5, 5, 100);
	snap_take();
	assert_int_equal(dq(8), 0);
	assert_int_equal(rsv(100, 1), -1);
	vq_used(&g.vq, &g.chains[0], 0);
	vq_flush(&g.vq);
	assert_unchanged();
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

static void build_id_out_of_range(void)
{
	post_simple(QSIZE, 1, 100);
}

static void build_id_ffff(void)
{
	post_simple(0xffff, 1, 100);
}

/* The id is in the last descriptor: a good id in the first is not it. */
static void build_id_out_of_range_in_last_descriptor(void)
{
	post_chain(QSIZE + 5, 2, (struct el[]){
		{buf(1), 100, dirf() | F_NEXT, false},
		{buf(2), 100, dirf(), false}});
}

/* Every slot of the ring available, each with NEXT: a list longer than
 * the ring (H_ALONE: the whole ring is this chain). */
static void build_chain_longer_than_ring(void)
{
	for (unsigned i = 0; i < QSIZE; i++)
		g.desc[i] = (struct vring_packed_desc){
			buf(i % NBUF), 20, 1, (uint16_t)(dirf() | F_NEXT |
							  avail_bits(true))};
	g.sgs[1] = QSIZE;
}

static void build_later_descriptor_not_available(void)
{
	post_chain(1, 3, (struct el[]){
		{buf(1), 100, dirf() | F_NEXT, false},
		{buf(2), 100, dirf() | F_NEXT, false},
		{buf(3), 100, dirf(), true}});
}

/* The later descriptor is a used one (AVAIL == USED). */
static void build_later_descriptor_marked_used(void)
{
	post_chain(1, 2, (struct el[]){
		{buf(1), 100, dirf() | F_NEXT, false},
		{buf(2), 100, dirf(), false}});
	uint16_t p = (uint16_t)((g.avail_pos + QSIZE - 1) % QSIZE);
	g.desc[p].flags |= F_AVAIL | F_USED;
}

/* H_END: slot QSIZE-1 with wrap 1, then slot 0 still with the bits of
 * wrap 1 (the driver forgot to flip its counter). */
static void build_chain_across_wrap_with_stale_wrap_bits(void)
{
	post_chain(1, 2, (struct el[]){
		{buf(1), 100, dirf() | F_NEXT, false},
		{buf(2), 100, dirf(), true}});
}

static void indirect_of_len(uint32_t len)
{
	for (uint16_t i = 0; i < 9; i++)
		put_idesc(itbl(0), i, buf(1 + i), 100, dirf());
	post_indirect(1, itbl(0), len);
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
	put_idesc(itbl(1), 0, buf(2), 100, dirf());
	put_idesc(itbl(0), 0, itbl(1), 16, F_INDIRECT);
	post_indirect(1, itbl(0), 16);
}

static void build_indirect_with_next(void)
{
	put_idesc(itbl(0), 0, buf(1), 100, dirf());
	post_chain(1, 2, (struct el[]){
		{itbl(0), 16, F_INDIRECT | F_NEXT, false},
		{buf(2), 100, dirf(), false}});
}

/* A direct descriptor, then one pointing to a table, in one list. */
static void build_indirect_after_direct(void)
{
	put_idesc(itbl(0), 0, buf(1), 100, dirf());
	post_chain(1, 2, (struct el[]){
		{buf(2), 100, dirf() | F_NEXT, false},
		{itbl(0), 16, F_INDIRECT, false}});
}

static void build_valid_indirect(void)
{
	put_idesc(itbl(0), 0, buf(1), 100, dirf());
	post_indirect(1, itbl(0), 16);
}

static void build_indirect_table_outside_memory(void)
{
	post_indirect(1, HOLE_GPA, 2 * 16);
}

static void build_indirect_table_straddling_region_end(void)
{
	put_idesc(R1_END - 16, 0, buf(1), 100, dirf());
	post_indirect(1, R1_END - 16, 2 * 16);
}

static void build_indirect_table_wrapping_address_space(void)
{
	post_indirect(1, TOP_GPA + 0x1000 - 16, 2 * 16);
}

static void build_zero_len_in_indirect(void)
{
	put_idesc(itbl(0), 0, buf(1), 100, dirf());
	put_idesc(itbl(0), 1, buf(2), 0, dirf());
	post_indirect(1, itbl(0), 2 * 16);
}

static void build_writable_before_readable_in_indirect(void)
{
	put_idesc(itbl(0), 0, buf(1), 100, F_WRITE);
	put_idesc(itbl(0), 1, buf(2), 100, 0);
	post_indirect(1, itbl(0), 2 * 16);
}

static void one_buffer(uint64_t addr, uint32_t len)
{
	post_chain(1, 1, &(struct el){addr, len, dirf(), false});
}

static void build_buffer_outside_memory(void)
{
	one_buffer(HOLE_GPA, 100);
}

static void build_buffer_in_hole_after_region(void)
{
	one_buffer(R1_END + 0x1000, 100);
}

static void build_buffer_straddling_end_of_last_region(void)
{
	one_buffer(BIG_GPA + BIG_SIZE - 10, 100);
}

static void build_buffer_straddling_region_into_hole(void)
{
	one_buffer(R1_END - 10, 100);
}

static void build_buffer_address_wraps(void)
{
	one_buffer(TOP_GPA + 0x1000 - 10, 100);
}

static void build_len_overflow(void)
{
	post_chain(1, 2, (struct el[]){
		{BIG_GPA, 0xc0000000u, dirf() | F_NEXT, false},
		{BIG_GPA, 0x40000000u, dirf(), false}});
}

static void build_zero_len(void)
{
	post_chain(1, 2, (struct el[]){
		{buf(1), 100, dirf() | F_NEXT, false},
		{buf(2), 0, dirf(), false}});
}

static void build_short_hdr(void)
{
	post_chain(1, 3, (struct el[]){
		{buf(1), 4, dirf() | F_NEXT, false},
		{buf(2), 4, dirf() | F_NEXT, false},
		{buf(3), 3, dirf(), false}});
}

static void build_wrong_dir(void)
{
	one_buffer(buf(1), 100);
	uint16_t p = (uint16_t)((g.avail_pos + QSIZE - 1) % QSIZE);
	g.desc[p].flags ^= F_WRITE;
}

static void build_writable_before_readable(void)
{
	post_chain(1, 2, (struct el[]){
		{buf(1), 100, F_WRITE | F_NEXT, false},
		{buf(2), 100, 0, false}});
}

static void build_too_many_descriptors(void)
{
	struct el e[VQ_MAX_SEGS + 1];

	for (unsigned i = 0; i <= VQ_MAX_SEGS; i++)
		e[i] = (struct el){buf(1 + i), 20,
				   (uint16_t)(dirf() |
					      (i < VQ_MAX_SEGS ? F_NEXT : 0)),
				   false};
	post_chain(1, VQ_MAX_SEGS + 1, e);
}

static void build_too_many_segments_straddling(void)
{
	struct el e[33];

	for (unsigned i = 0; i < 33; i++)
		e[i] = (struct el){R1_GPA - 10, 20,
				   (uint16_t)(dirf() | (i < 32 ? F_NEXT : 0)),
				   false};
	post_chain(1, 33, e);
}

/* ---- hostile rings: one test per rule -------------------------------- */

#define HOSTILE_TEST(name, build, tx_err, rx_err, flags)                   \
	static void name(void **st)                                         \
	{                                                                   \
		(void)st;                                                   \
		hostile(build, tx_err, rx_err, flags);                      \
	}

HOSTILE_TEST(test_id_out_of_range_marks_queue_broken, build_id_out_of_range,
	     VQ_ERR_HEAD_RANGE, VQ_ERR_HEAD_RANGE, 0)
HOSTILE_TEST(test_id_ffff_marks_queue_broken, build_id_ffff,
	     VQ_ERR_HEAD_RANGE, VQ_ERR_HEAD_RANGE, 0)
HOSTILE_TEST(test_id_of_last_descriptor_out_of_range_marks_queue_broken,
	     build_id_out_of_range_in_last_descriptor, VQ_ERR_HEAD_RANGE,
	     VQ_ERR_HEAD_RANGE, 0)
HOSTILE_TEST(test_chain_longer_than_ring_marks_queue_broken,
	     build_chain_longer_than_ring, VQ_ERR_DESC_LOOP, VQ_ERR_DESC_LOOP,
	     H_ALONE)
HOSTILE_TEST(test_later_descriptor_not_available_marks_queue_broken,
	     build_later_descriptor_not_available, VQ_ERR_CHAIN_AVAIL,
	     VQ_ERR_CHAIN_AVAIL, 0)
HOSTILE_TEST(test_later_descriptor_marked_used_marks_queue_broken,
	     build_later_descriptor_marked_used, VQ_ERR_CHAIN_AVAIL,
	     VQ_ERR_CHAIN_AVAIL, 0)
HOSTILE_TEST(test_chain_across_wrap_with_stale_wrap_bits_marks_broken,
	     build_chain_across_wrap_with_stale_wrap_bits, VQ_ERR_CHAIN_AVAIL,
	     VQ_ERR_CHAIN_AVAIL, H_ALONE | H_END)
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
HOSTILE_TEST(test_indirect_after_direct_descriptor_marks_queue_broken,
	     build_indirect_after_direct, VQ_ERR_INDIRECT_CHAINED,
	     VQ_ERR_INDIRECT_CHAINED, H_INDIRECT)
HOSTILE_TEST(test_indirect_not_negotiated_marks_queue_broken,
	     build_valid_indirect, VQ_ERR_INDIRECT_OFF, VQ_ERR_INDIRECT_OFF, 0)
HOSTILE_TEST(test_indirect_table_outside_guest_memory_marks_queue_broken,
	     build_indirect_table_outside_memory, VQ_ERR_ADDR, VQ_ERR_ADDR,
	     H_INDIRECT)
HOSTILE_TEST(test_indirect_table_straddling_region_end_marks_queue_broken,
	     build_indirect_table_straddling_region_end, VQ_ERR_ADDR,
	     VQ_ERR_ADDR, H_INDIRECT)
HOSTILE_TEST(test_indirect_table_wrapping_address_marks_queue_broken,
	     build_indirect_table_wrapping_address_space, VQ_ERR_ADDR,
	     VQ_ERR_ADDR, H_INDIRECT)
HOSTILE_TEST(test_zero_len_buffer_in_indirect_table_marks_queue_broken,
	     build_zero_len_in_indirect, VQ_ERR_ZERO_LEN, VQ_ERR_ZERO_LEN,
	     H_INDIRECT)
HOSTILE_TEST(test_writable_before_readable_in_indirect_marks_queue_broken,
	     build_writable_before_readable_in_indirect, VQ_ERR_WRONG_DIR,
	     VQ_ERR_WRITE_ORDER, H_INDIRECT)
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
HOSTILE_TEST(test_len_overflow_marks_queue_broken, build_len_overflow,
	     VQ_ERR_LEN_OVERFLOW, VQ_ERR_LEN_OVERFLOW, 0)
HOSTILE_TEST(test_zero_len_buffer_marks_queue_broken, build_zero_len,
	     VQ_ERR_ZERO_LEN, VQ_ERR_ZERO_LEN, 0)
HOSTILE_TEST(test_tx_chain_shorter_than_net_header_marks_queue_broken,
	     build_short_hdr, VQ_ERR_SHORT_HDR, NONE, 0)
HOSTILE_TEST(test_wrong_direction_marks_queue_broken, build_wrong_dir,
	     VQ_ERR_WRONG_DIR, VQ_ERR_WRONG_DIR, 0)
HOSTILE_TEST(test_writable_before_readable_marks_queue_broken,
	     build_writable_before_readable, VQ_ERR_WRONG_DIR,
	     VQ_ERR_WRITE_ORDER, 0)
HOSTILE_TEST(test_too_many_descriptors_marks_queue_broken,
	     build_too_many_descriptors, VQ_ERR_TOO_MANY_SEGS,
	     VQ_ERR_TOO_MANY_SEGS, 0)
HOSTILE_TEST(test_too_many_segments_from_straddling_marks_queue_broken,
	     build_too_many_segments_straddling, VQ_ERR_TOO_MANY_SEGS,
	     VQ_ERR_TOO_MANY_SEGS, 0)

/* ---- hostile: read once ---------------------------------------------- */

/* After dequeue the guest rewrites the chain: what was validated is what
 * the caller has. */
static void test_guest_rewriting_descriptors_after_read_changes_nothing(
	void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true});
	post_chain(9, 2, (struct el[]){
		{buf(0), 100, F_NEXT, false},
		{buf(1), 200, 0, false}});
	assert_int_equal(dq(4), 1);
	g.desc[0] = (struct vring_packed_desc){HOLE_GPA, 0, 0xffff,
					       F_NEXT | F_WRITE};
	g.desc[1] = (struct vring_packed_desc){HOLE_GPA, 0, 0xffff, F_NEXT};
	const struct vq_chain *c = &g.chains[0];
	assert_int_equal(c->head, 9);
	assert_int_equal(c->ndesc, 2);
	assert_int_equal(c->nseg, 2);
	assert_int_equal(c->len, 300);
	assert_seg(&c->seg[0], buf(0), 100);
	assert_seg(&c->seg[1], buf(1), 200);
	use_all(1, 0);
	assert_int_equal(g.desc[0].id, 9);
	assert_healthy();
	guest_down();
}

static volatile int flip_stop;

/* The guest rewrites the address and length of every odd slot, as fast as
 * it can, between (buffer 0, 100 bytes) and (buffer 1, 2000 bytes); every
 * torn mix of the two is a valid descriptor too. */
static void *flipper(void *arg)
{
	struct vring_packed_desc *ring = arg;

	while (!__atomic_load_n(&flip_stop, __ATOMIC_RELAXED)) {
		for (unsigned i = 1; i < QSIZE; i += 2) {
			struct vring_packed_desc *d = &ring[i];
			__atomic_store_n(&d->addr, buf(0), __ATOMIC_RELAXED);
			__atomic_store_n(&d->len, 100, __ATOMIC_RELAXED);
			__atomic_store_n(&d->addr, buf(1), __ATOMIC_RELAXED);
			__atomic_store_n(&d->len, 2000, __ATOMIC_RELAXED);
		}
	}
	return NULL;
}

/* Chains of two: the second descriptor (an odd slot) changes under the
 * device; each chain taken is one consistent copy (summed length ==
 * translated length) of values the guest really wrote. */
static void test_guest_rewriting_descriptor_during_read_is_read_once(
	void **st)
{
	pthread_t t;

	(void)st;
	guest_up((struct opts){.tx = true});
	g.drv->flags = VRING_PACKED_EVENT_DISABLE;
	flip_stop = 0;
	assert_int_equal(pthread_create(&t, NULL, flipper, g.desc), 0);
	for (unsigned i = 0; i < 50000; i++) {
		post_chain(0, 2, (struct el[]){
			{buf(2), 50, F_NEXT, false},
			{buf(0), 100, 0, false}});
		assert_int_equal(dq(1), 1);
		const struct vq_chain *c = &g.chains[0];
		assert_int_equal(c->nseg, 2);
		assert_int_equal(c->ndesc, 2);
		assert_int_equal(c->len, 50 + c->seg[1].len);
		assert_true(c->seg[1].gpa == buf(0) || c->seg[1].gpa == buf(1));
		assert_true(c->seg[1].len == 100 || c->seg[1].len == 2000);
		assert_ptr_equal(c->seg[1].p, hva(c->seg[1].gpa));
		use_all(1, 0);
		uint16_t id, f;
		uint32_t l;
		assert_true(get_used(&id, &l, &f));
	}
	__atomic_store_n(&flip_stop, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	assert_healthy();
	guest_down();
}

/* ---- TX: happy paths ------------------------------------------------- */

static void test_nothing_available_takes_nothing(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true});
	/* a zeroed ring: AVAIL == USED == 0 is not available with wrap 1 */
	assert_int_equal(dq(8), 0);
	assert_int_equal(g.vq.stats.packets, 0);
	assert_healthy();
	guest_down();
}

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
	assert_healthy();
	guest_down();
}

static void test_chain_of_three_takes_the_last_descriptors_id(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true});
	post_chain(42, 3, (struct el[]){
		{buf(1), 12, F_NEXT, false},
		{buf(2), 100, F_NEXT, false},
		{buf(3), 1000, 0, false}});
	assert_int_equal(dq(8), 1);
	const struct vq_chain *c = &g.chains[0];
	assert_int_equal(c->head, 42);
	assert_int_equal(c->ndesc, 3);
	assert_int_equal(c->nseg, 3);
	assert_int_equal(c->len, 1112);
	assert_seg(&c->seg[0], buf(1), 12);
	assert_seg(&c->seg[1], buf(2), 100);
	assert_seg(&c->seg[2], buf(3), 1000);
	/* used: one descriptor, in the chain's first slot, position + 3 */
	use_all(1, 0);
	assert_int_equal(g.vq.used_idx, 3);
	expect_used(42, 0);
	expect_no_used();
	assert_healthy();
	guest_down();
}

static void test_chain_across_the_end_of_the_ring_is_taken(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true, .start = QSIZE - 2});
	post_chain(3, 4, (struct el[]){
		{buf(1), 100, F_NEXT, false},
		{buf(2), 100, F_NEXT, false},
		{buf(3), 100, F_NEXT, false},
		{buf(4), 100, 0, false}});
	post_simple(4, 5, 60);
	assert_int_equal(dq(8), 2);
	assert_int_equal(g.chains[0].head, 3);
	assert_int_equal(g.chains[0].ndesc, 4);
	assert_int_equal(g.chains[0].len, 400);
	assert_simple_chain(&g.chains[1], 4, 5, 60);
	assert_int_equal(g.vq.last_avail, 3);
	assert_false(g.vq.avail_wrap);
	use_all(2, 0);
	assert_int_equal(g.vq.used_idx, 3);
	assert_false(g.vq.used_wrap);
	expect_used(3, 0);          /* slot QSIZE - 2, wrap 1 */
	expect_used(4, 0);          /* slot 2, wrap 0 */
	expect_no_used();
	assert_healthy();
	guest_down();
}

/* Table entries are consecutive; NEXT and the id in them are ignored
 * (2.8: "Others are reserved and are ignored by the device"). */
static void test_indirect_table_gives_its_descriptors(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true, .indirect = true});
	put_idesc(itbl(0), 0, buf(1), 12, 0);
	put_idesc(itbl(0), 1, buf(2), 500, F_NEXT);
	put_idesc(itbl(0), 2, buf(3), 700, 0);
	post_indirect(11, itbl(0), 3 * 16);
	assert_int_equal(dq(8), 1);
	const struct vq_chain *c = &g.chains[0];
	assert_int_equal(c->head, 11);
	assert_int_equal(c->ndesc, 1);
	assert_int_equal(c->nseg, 3);
	assert_int_equal(c->len, 1212);
	assert_seg(&c->seg[0], buf(1), 12);
	assert_seg(&c->seg[1], buf(2), 500);
	assert_seg(&c->seg[2], buf(3), 700);
	use_all(1, 0);
	assert_int_equal(g.vq.used_idx, 1);
	expect_used(11, 0);
	assert_healthy();
	guest_down();
}

static void test_indirect_table_straddling_two_regions_is_read(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true, .indirect = true});
	uint64_t tbl = R1_GPA - 24;   /* entry 1 straddles r0/r1 */
	put_idesc(tbl, 0, buf(1), 100, 0);
	put_idesc(tbl, 1, buf(2), 200, 0);
	put_idesc(tbl, 2, buf(3), 300, 0);
	post_indirect(2, tbl, 3 * 16);
	assert_int_equal(dq(8), 1);
	assert_int_equal(g.chains[0].nseg, 3);
	assert_int_equal(g.chains[0].len, 600);
	assert_seg(&g.chains[0].seg[1], buf(2), 200);
	assert_healthy();
	guest_down();
}

static void test_buffer_straddling_two_regions_gives_two_segments(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true});
	post_chain(1, 1, &(struct el){R1_GPA - 100, 300, 0, false});
	assert_int_equal(dq(8), 1);
	assert_int_equal(g.chains[0].nseg, 2);
	assert_int_equal(g.chains[0].ndesc, 1);
	assert_seg(&g.chains[0].seg[0], R1_GPA - 100, 100);
	assert_seg(&g.chains[0].seg[1], R1_GPA, 200);
	assert_healthy();
	guest_down();
}

static void test_chain_of_64_segments_is_taken(void **st)
{
	struct el e[VQ_MAX_SEGS];

	(void)st;
	guest_up((struct opts){.tx = true});
	for (unsigned i = 0; i < VQ_MAX_SEGS; i++)
		e[i] = (struct el){buf(i), 20,
				   i + 1 < VQ_MAX_SEGS ? F_NEXT : 0, false};
	post_chain(0, VQ_MAX_SEGS, e);
	assert_int_equal(dq(8), 1);
	assert_int_equal(g.chains[0].nseg, VQ_MAX_SEGS);
	assert_int_equal(g.chains[0].ndesc, VQ_MAX_SEGS);
	assert_healthy();
	guest_down();
}

static void test_dequeue_takes_at_most_n(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true});
	for (uint16_t i = 0; i < 10; i++)
		post_simple(i, i, 60);
	assert_int_equal(dq(4), 4);
	assert_int_equal(g.chains[3].head, 3);
	assert_int_equal(dq(64), 6);
	assert_int_equal(g.chains[0].head, 4);
	assert_int_equal(dq(64), 0);
	assert_healthy();
	guest_down();
}

/* Chains dequeued but not used can be given back (a pass that ran out of
 * budget): the next dequeue takes the same chains again, across the end
 * of the ring, and the counters count each once. */
static void test_untaken_chains_are_taken_again(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true, .start = QSIZE - 3});
	post_simple(1, 1, 60);
	post_chain(2, 3, (struct el[]){
		{buf(2), 100, F_NEXT, false},
		{buf(3), 100, F_NEXT, false},
		{buf(4), 100, 0, false}});
	post_simple(3, 5, 70);
	assert_int_equal(dq(8), 3);
	assert_int_equal(g.vq.last_avail, 2);
	assert_false(g.vq.avail_wrap);
	vq_packed_untake(&g.vq, &g.chains[1], 2);
	assert_int_equal(g.vq.last_avail, QSIZE - 2);
	assert_true(g.vq.avail_wrap);
	assert_int_equal(g.vq.stats.packets, 1);
	assert_int_equal(g.vq.stats.bytes, 60);
	assert_int_equal(dq(8), 2);
	assert_int_equal(g.chains[0].head, 2);
	assert_int_equal(g.chains[0].ndesc, 3);
	assert_int_equal(g.chains[0].len, 300);
	assert_simple_chain(&g.chains[1], 3, 5, 70);
	assert_int_equal(g.vq.stats.packets, 3);
	assert_int_equal(g.vq.stats.bytes, 430);
	assert_healthy();
	guest_down();
}

/* Used descriptors of a batch: one per buffer, at the first slot of each
 * chain, in the order the buffers were taken. */
static void test_batch_used_descriptors_contents(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = false});
	post_simple(20, 1, 1000);
	post_chain(21, 2, (struct el[]){
		{buf(2), 500, F_WRITE | F_NEXT, false},
		{buf(3), 500, F_WRITE, false}});
	post_simple(22, 4, 1000);
	for (int i = 0; i < 3; i++)
		assert_int_equal(vq_reserve(&g.vq, 100, &g.chains[i], 1), 1);
	vq_used(&g.vq, &g.chains[0], 60);
	vq_used(&g.vq, &g.chains[1], 0);   /* nothing written: no WRITE */
	vq_used(&g.vq, &g.chains[2], 1000);
	expect_no_used();                  /* shadowed until the flush */
	vq_flush(&g.vq);
	assert_int_equal(g.desc[0].id, 20);
	assert_int_equal(g.desc[1].id, 21);
	assert_int_equal(g.desc[3].id, 22);
	expect_used(20, 60);
	expect_used(21, 0);
	expect_used(22, 1000);
	expect_no_used();
	assert_int_equal(g.vq.used_idx, 4);
	assert_healthy();
	guest_down();
}

/*
 * IN_ORDER on a transmit ring: a flush writes one used descriptor, where
 * its batch began, with the last buffer's id (len 0); the slots of the
 * other buffers are left as the driver posted them, and the next flush
 * writes where the batch ended.  The batch crosses the end of the ring.
 */
static void test_in_order_tx_flush_writes_one_descriptor(void **st)
{
	struct vring_packed_desc before[3];
	const uint16_t last = QSIZE - 1;

	(void)st;
	guest_up((struct opts){.tx = true, .in_order = true,
			       .start = QSIZE - 2});
	post_simple(20, 1, 100);
	post_chain(21, 2, (struct el[]){{buf(2), 50, F_NEXT, false},
					{buf(3), 50, 0, false}});
	post_simple(22, 4, 100);
	memcpy(&before[0], &g.desc[last], sizeof(before[0]));
	memcpy(&before[1], &g.desc[0], 2 * sizeof(before[0]));
	assert_int_equal(dq(3), 3);
	for (int i = 0; i < 3; i++)
		vq_used(&g.vq, &g.chains[i], 0);
	vq_flush(&g.vq);
	expect_used(22, 0);                /* at QSIZE - 2, the old lap's */
	assert_memory_equal(&g.desc[last], &before[0], sizeof(before[0]));
	assert_memory_equal(&g.desc[0], &before[1], 2 * sizeof(before[0]));
	assert_int_equal(g.vq.used_idx, 2);
	assert_int_equal(g.vq.used_wrap, !g.used_wrap);
	/* The driver skips the batch: 4 descriptors from where it began. */
	g.used_pos = 2;
	g.used_wrap = !g.used_wrap;
	post_simple(23, 5, 100);
	assert_int_equal(dq(1), 1);
	vq_used(&g.vq, &g.chains[0], 0);
	vq_flush(&g.vq);
	expect_used(23, 0);
	expect_no_used();
	assert_healthy();
	guest_down();
}

/* IN_ORDER on a receive ring: every buffer's used length counts, so each
 * still gets its used descriptor. */
static void test_in_order_rx_flush_writes_every_descriptor(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = false, .in_order = true});
	post_simple(20, 1, 1000);
	post_simple(21, 2, 1000);
	for (int i = 0; i < 2; i++)
		assert_int_equal(vq_reserve(&g.vq, 100, &g.chains[i], 1), 1);
	vq_used(&g.vq, &g.chains[0], 60);
	vq_used(&g.vq, &g.chains[1], 70);
	vq_flush(&g.vq);
	expect_used(20, 60);
	expect_used(21, 70);
	expect_no_used();
	assert_healthy();
	guest_down();
}

/* Many laps of the ring with chains of 1..3 descriptors: both wrap
 * counters flip at the right slot, the driver finds every buffer. */
static void test_many_laps_of_the_ring_keep_both_sides_in_step(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true});
	g.drv->flags = VRING_PACKED_EVENT_DISABLE;
	for (unsigned i = 0; i < 20000; i++) {
		unsigned n = 1 + i % 3;
		struct el e[3];
		for (unsigned k = 0; k < n; k++)
			e[k] = (struct el){buf(k), 20,
					   k + 1 < n ? F_NEXT : 0, false};
		post_chain((uint16_t)(i % QSIZE), n, e);
		if (i % 7 == 6 || n == 3) {
			uint16_t got = dq(64);
			assert_true(got >= 1);
			use_all(got, 0);
			for (uint16_t k = 0; k < got; k++) {
				uint16_t id, f;
				uint32_t l;
				assert_true(get_used(&id, &l, &f));
				assert_int_equal(id, g.chains[k].head);
			}
			expect_no_used();
		}
	}
	use_all(dq(64), 0);   /* what the last rounds posted */
	for (;;) {
		uint16_t id, f;
		uint32_t l;
		if (!get_used(&id, &l, &f))
			break;
	}
	assert_int_equal(g.vq.last_avail, g.avail_pos);
	assert_int_equal(g.vq.avail_wrap, g.avail_wrap);
	assert_int_equal(g.vq.used_idx, g.used_pos);
	assert_int_equal(g.vq.used_wrap, g.used_wrap);
	assert_healthy();
	guest_down();
}

static volatile int spy_stop, spy_running;

/* Spin politely: on a loaded machine (CI) the other thread needs the CPU
 * this one would burn. */
static void spin_pause(void)
{
	static unsigned n;

	if (++n % 64 == 0)
		sched_yield();
	else
		__builtin_ia32_pause();
}
static volatile unsigned spy_seen, spy_torn;
#define SPY_ROUNDS 500

/* The driver's view while the device flushes batches of 4 one-descriptor
 * buffers at slots 0..3: whenever slot 0 is used, slots 1..3 must be too. */
static void *spy(void *arg)
{
	(void)arg;
	__atomic_store_n(&spy_running, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&spy_stop, __ATOMIC_RELAXED)) {
		uint16_t f0 = __atomic_load_n(&g.desc[0].flags,
					      __ATOMIC_ACQUIRE);
		if (!(f0 & F_USED)) {
			spin_pause();
			continue;
		}
		spy_seen++;
		for (int i = 1; i < 4; i++)
			if (!(__atomic_load_n(&g.desc[i].flags,
					      __ATOMIC_RELAXED) & F_USED))
				spy_torn++;
		/* Make the four available again (wrap stays 1: test only). */
		for (int i = 3; i >= 0; i--)
			__atomic_store_n(&g.desc[i].flags, F_AVAIL,
					 __ATOMIC_RELEASE);
		__atomic_store_n(&spy_stop, 2, __ATOMIC_RELEASE);
	}
	return NULL;
}

/* The first descriptor's flags are written last (release): a driver that
 * sees the first used never finds a later one of the batch unwritten. */
static void test_flush_writes_first_descriptor_flags_last(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true});
	g.drv->flags = VRING_PACKED_EVENT_DISABLE;
	spy_seen = spy_torn = 0;
	for (unsigned r = 0; r < SPY_ROUNDS; r++) {
		for (uint16_t i = 0; i < 4; i++) {
			g.desc[i] = (struct vring_packed_desc){buf(i), 60, i,
							       F_AVAIL};
		}
		vq_init(&g.vq, &(struct vq_cfg){
			.packed = true, .pdesc = g.desc, .driver = g.drv,
			.device = g.dev, .size = QSIZE, .avail_wrap = true,
			.used_wrap = true, .tx = true, .mem = g.mem,
			.call_fd = -1, .err_fd = g.err_fd});
		assert_int_equal(dq(4), 4);
		spy_stop = 0;
		spy_running = 0;
		pthread_t t;
		assert_int_equal(pthread_create(&t, NULL, spy, NULL), 0);
		while (!__atomic_load_n(&spy_running, __ATOMIC_ACQUIRE))
			sched_yield();
		use_all(4, 0);
		while (__atomic_load_n(&spy_stop, __ATOMIC_ACQUIRE) != 2)
			sched_yield();
		pthread_join(t, NULL);
	}
	assert_int_equal(spy_seen, SPY_ROUNDS);
	assert_int_equal(spy_torn, 0);
	assert_healthy();
	guest_down();
}

static void test_init_disables_kicks_in_the_device_area(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true});
	assert_int_equal(g.dev->flags, VRING_PACKED_EVENT_DISABLE);
	assert_int_equal(g.dev->off_wrap, 0);
	guest_down();
	guest_up((struct opts){.tx = true, .event_idx = true});
	assert_int_equal(g.dev->flags, VRING_PACKED_EVENT_DISABLE);
	guest_down();
}

static void test_init_takes_positions_and_wrap_counters(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true, .start = 57, .wrap0 = true});
	assert_int_equal(g.vq.last_avail, 57);
	assert_false(g.vq.avail_wrap);
	post_simple(3, 3, 60);
	assert_int_equal(dq(8), 1);
	use_all(1, 0);
	expect_used(3, 0);
	/* GET_VRING_BASE encoding: 58 | 0 << 15 | 58 << 16 | 0 << 31 */
	assert_int_equal(vq_packed_base(&g.vq), 58u | (58u << 16));
	guest_down();
}

/*
 * The position published for a restart (vq_pos.h): vq_init makes the
 * slot LIVE at the start position; each flush leaves done at the new
 * used position, pending at the same place with the number of used
 * entries, and the entries (id, descriptors, len) in batch -- what the
 * next process completes a flush cut short with.  Chains of 1 and 2
 * descriptors, across the end of the ring.
 */
static void test_flush_publishes_its_position(void **st)
{
	static struct vq_pos slot;
	uint16_t lap1 = 1u << 15;

	(void)st;
	memset(&slot, 0xee, sizeof(slot));
	guest_up((struct opts){.tx = false, .start = QSIZE - 2,
			       .pos = &slot});
	assert_int_equal(slot.state, VQ_POS_LIVE);
	assert_int_equal(slot.size, QSIZE);
	assert_int_equal(slot.desc_gpa, DESC_GPA);
	assert_int_equal(slot.done, (QSIZE - 2) | lap1);
	assert_int_equal(slot.pending, (QSIZE - 2) | lap1);
	post_simple(20, 1, 1000);
	post_chain(21, 2, (struct el[]){
		{buf(2), 500, F_WRITE | F_NEXT, false},
		{buf(3), 500, F_WRITE, false}});
	post_simple(22, 4, 1000);
	for (int i = 0; i < 3; i++)
		assert_int_equal(vq_reserve(&g.vq, 100, &g.chains[i], 1), 1);
	vq_used(&g.vq, &g.chains[0], 60);
	vq_used(&g.vq, &g.chains[1], 70);
	vq_used(&g.vq, &g.chains[2], 80);
	assert_int_equal(slot.done, (QSIZE - 2) | lap1);   /* not yet */
	vq_flush(&g.vq);
	/* 4 descriptors from QSIZE - 2 in lap 1: 2 in lap 0. */
	assert_int_equal(slot.done, 2);
	assert_int_equal(slot.pending, 2 | 3u << 16);
	const struct vq_packed_used want[] = {{20, 1, 60}, {21, 2, 70},
					      {22, 1, 80}};
	assert_memory_equal(slot.batch, want, sizeof(want));
	expect_used(20, 60);
	expect_used(21, 70);
	expect_used(22, 80);
	assert_int_equal(slot.state, VQ_POS_LIVE);
	assert_healthy();
	guest_down();

	/* In order on a transmit ring: the one used entry is the last
	 * buffer's, len 0. */
	guest_up((struct opts){.tx = true, .in_order = true, .pos = &slot});
	assert_int_equal(slot.done, lap1);
	post_simple(30, 1, 100);
	post_chain(31, 2, (struct el[]){{buf(2), 50, F_NEXT, false},
					{buf(3), 50, 0, false}});
	assert_int_equal(dq(2), 2);
	use_all(2, 0);
	assert_int_equal(slot.done, 3 | lap1);
	assert_int_equal(slot.pending, 3 | lap1 | 2u << 16);
	assert_int_equal(slot.batch[1].id, 31);
	expect_used(31, 0);
	assert_healthy();
	guest_down();
}

static void test_vring_base_encoding_round_trips(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true, .start = QSIZE - 1});
	post_chain(1, 3, (struct el[]){
		{buf(1), 100, F_NEXT, false},
		{buf(2), 100, F_NEXT, false},
		{buf(3), 100, 0, false}});
	assert_int_equal(dq(8), 1);
	/* taken, not used yet: avail (2, wrap 0), used (199, wrap 1) */
	assert_int_equal(vq_packed_base(&g.vq),
			 2u | ((QSIZE - 1u) << 16) | (1u << 31));
	use_all(1, 0);
	uint32_t base = vq_packed_base(&g.vq);
	assert_int_equal(base, 2u | (2u << 16));
	/* a new device from that base carries on where this one stopped */
	struct vq_cfg c = {
		.packed = true, .pdesc = g.desc, .driver = g.drv,
		.device = g.dev, .size = QSIZE, .last_avail = (uint16_t)(base & 0x7fff),
		.avail_wrap = (base >> 15) & 1,
		.used_idx = (uint16_t)((base >> 16) & 0x7fff),
		.used_wrap = base >> 31, .tx = true, .mem = g.mem,
		.call_fd = g.call_fd, .err_fd = g.err_fd};
	vq_init(&g.vq, &c);
	assert_int_equal(vq_packed_base(&g.vq), base);
	post_simple(4, 4, 60);
	assert_int_equal(dq(8), 1);
	use_all(1, 0);
	expect_used(1, 0);
	expect_used(4, 0);
	guest_down();
}

/* ---- RX ---------------------------------------------------------------- */

static void test_rx_without_mrg_takes_exactly_one_chain(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = false});
	post_simple(1, 1, 1000);
	post_simple(2, 2, 1000);
	assert_int_equal(rsv(1500, 8), 0);   /* one chain cannot hold it */
	assert_int_equal(g.vq.stats.ring_full, 1);
	assert_int_equal(rsv(900, 8), 1);
	assert_simple_chain(&g.chains[0], 1, 1, 1000);
	assert_int_equal(g.vq.last_avail, 1);
	assert_healthy();
	guest_down();
}

static void test_rx_without_buffers_counts_ring_full(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = false});
	assert_int_equal(rsv(100, 8), 0);
	assert_int_equal(g.vq.stats.ring_full, 1);
	assert_healthy();
	guest_down();
}

static void test_mrg_rx_takes_three_chains_across_the_wrap(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = false, .mrg = true, .start = QSIZE - 1});
	post_simple(1, 1, 1000);
	post_chain(2, 2, (struct el[]){
		{buf(2), 500, F_WRITE | F_NEXT, false},
		{buf(3), 500, F_WRITE, false}});
	post_simple(3, 4, 1000);
	post_simple(4, 5, 1000);
	assert_int_equal(rsv(2500, 8), 3);
	assert_int_equal(g.chains[0].head, 1);
	assert_int_equal(g.chains[1].head, 2);
	assert_int_equal(g.chains[1].ndesc, 2);
	assert_int_equal(g.chains[2].head, 3);
	assert_int_equal(g.vq.last_avail, 3);
	assert_false(g.vq.avail_wrap);
	use_all(3, 1000);
	expect_used(1, 1000);
	expect_used(2, 1000);
	expect_used(3, 1000);
	expect_no_used();
	assert_int_equal(g.vq.stats.packets, 1);
	assert_int_equal(g.vq.stats.bytes, 3000);
	assert_healthy();
	guest_down();
}

static void test_mrg_rx_ring_running_out_takes_nothing(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = false, .mrg = true});
	post_simple(1, 1, 1000);
	post_simple(2, 2, 1000);
	assert_int_equal(rsv(2500, 8), 0);
	assert_int_equal(g.vq.last_avail, 0);
	assert_int_equal(g.vq.stats.ring_full, 1);
	assert_int_equal(rsv(2500, 1), 0);   /* max reached first */
	post_simple(3, 3, 1000);
	assert_int_equal(rsv(2500, 8), 3);
	assert_healthy();
	guest_down();
}

static void test_unreserve_gives_chains_back_across_the_wrap(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = false, .mrg = true, .start = QSIZE - 1});
	post_chain(1, 2, (struct el[]){
		{buf(1), 500, F_WRITE | F_NEXT, false},
		{buf(2), 500, F_WRITE, false}});
	post_simple(2, 3, 1000);
	assert_int_equal(rsv(1500, 8), 2);
	assert_int_equal(g.vq.last_avail, 2);
	assert_false(g.vq.avail_wrap);
	vq_unreserve(&g.vq, g.chains, 2);
	assert_int_equal(g.vq.last_avail, QSIZE - 1);
	assert_true(g.vq.avail_wrap);
	assert_int_equal(g.vq.stats.packets, 0);
	assert_int_equal(rsv(1500, 8), 2);   /* the same chains again */
	assert_int_equal(g.chains[0].head, 1);
	assert_int_equal(g.chains[1].head, 2);
	assert_healthy();
	guest_down();
}

static void test_rx_write_through_straddling_segments_stays_inside(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = false});
	post_chain(1, 1, &(struct el){R1_GPA - 100, 300, F_WRITE, false});
	assert_int_equal(rsv(300, 1), 1);
	assert_int_equal(g.chains[0].nseg, 2);
	for (uint16_t s = 0; s < 2; s++)
		memset(g.chains[0].seg[s].p, 0x77, g.chains[0].seg[s].len);
	use_all(1, 300);
	expect_used(1, 300);
	assert_guards();
	guest_down();
}

/* ---- notifications ------------------------------------------------------ */

static void round_trip(uint16_t n)
{
	for (uint16_t i = 0; i < n; i++)
		post_simple(i, i, 60);
	assert_int_equal(dq(64), n);
	use_all(n, 0);
	for (uint16_t i = 0; i < n; i++)
		expect_used(i, 0);
}

static void test_enable_notifies_once_per_flush(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true});
	round_trip(5);
	assert_int_equal(efd_take(g.call_fd), 1);
	assert_int_equal(g.vq.stats.notifications, 1);
	guest_down();
}

static void test_disable_suppresses_notification(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true, .event_idx = true});
	g.drv->flags = VRING_PACKED_EVENT_DISABLE;
	round_trip(5);
	assert_int_equal(efd_take(g.call_fd), 0);
	guest_down();
}

static void test_flush_without_entries_writes_and_notifies_nothing(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true});
	snap_take();
	vq_flush(&g.vq);
	assert_unchanged();
	assert_int_equal(efd_take(g.call_fd), 0);
	guest_down();
}

static void set_event(uint16_t off, bool wrap)
{
	g.drv->off_wrap = (uint16_t)(off | (wrap ? 0x8000 : 0));
	g.drv->flags = VRING_PACKED_EVENT_DESC;
}

/* DESC: a call only when the used position passes (off, wrap). */
static void test_desc_event_notifies_only_when_passed(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true, .event_idx = true});
	set_event(6, true);
	round_trip(3);            /* slots 0..2 */
	assert_int_equal(efd_take(g.call_fd), 0);
	round_trip(3);            /* 3..5 */
	assert_int_equal(efd_take(g.call_fd), 0);
	round_trip(1);            /* 6: passed */
	assert_int_equal(efd_take(g.call_fd), 1);
	round_trip(3);            /* 7..9: already passed */
	assert_int_equal(efd_take(g.call_fd), 0);
	set_event(9, true);       /* behind: not until the next lap */
	round_trip(3);
	assert_int_equal(efd_take(g.call_fd), 0);
	guest_down();
}

/* The event's wrap counter tells the laps apart. */
static void test_desc_event_with_the_other_wrap_waits_a_lap(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true, .event_idx = true,
			       .start = QSIZE - 10});
	set_event(5, false);      /* slot 5 of the next lap */
	round_trip(10);           /* QSIZE-10 .. QSIZE-1, wrap 1 */
	assert_int_equal(efd_take(g.call_fd), 0);
	round_trip(5);            /* 0..4, wrap 0 */
	assert_int_equal(efd_take(g.call_fd), 0);
	round_trip(1);            /* 5, wrap 0 */
	assert_int_equal(efd_take(g.call_fd), 1);
	guest_down();
	/* the same offset with wrap 1 is the slot passed a lap ago */
	guest_up((struct opts){.tx = true, .event_idx = true,
			       .start = QSIZE - 10});
	set_event(5, true);
	round_trip(10);
	round_trip(6);
	assert_int_equal(efd_take(g.call_fd), 0);
	guest_down();
}

/* One chain of several descriptors passes an event inside it. */
static void test_desc_event_inside_a_chain_notifies(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true, .event_idx = true});
	set_event(1, true);
	post_chain(0, 3, (struct el[]){
		{buf(1), 20, F_NEXT, false},
		{buf(2), 20, F_NEXT, false},
		{buf(3), 20, 0, false}});
	assert_int_equal(dq(8), 1);
	use_all(1, 0);
	assert_int_equal(efd_take(g.call_fd), 1);
	guest_down();
}

static void test_desc_without_event_idx_notifies(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true});
	set_event(100, true);
	round_trip(1);
	assert_int_equal(efd_take(g.call_fd), 1);
	guest_down();
}

/* ---- dirty log ------------------------------------------------------------ */

static void assert_pages_marked(uint64_t first, uint64_t last)
{
	for (uint64_t p = 0; p < LOG_BYTES * 8; p++) {
		bool set = g.logbits[p / 8] & (1u << (p % 8));
		assert_int_equal(set, p >= first && p <= last);
	}
}

static void test_flush_logs_used_descriptor_pages(void **st)
{
	(void)st;
	/* init: the device area */
	guest_up((struct opts){.tx = true, .log = true, .log_used = true});
	assert_pages_marked(DEVICE_GPA >> 12, DEVICE_GPA >> 12);
	memset(g.logbits, 0, sizeof(g.logbits));
	round_trip(3);            /* slots 0..2: first page of the ring */
	assert_pages_marked(DESC_GPA >> 12, DESC_GPA >> 12);
	guest_down();
	/* slots 195..199 (second page) and 0..4 (first page) */
	guest_up((struct opts){.tx = true, .log = true, .log_used = true,
			       .start = QSIZE - 5});
	memset(g.logbits, 0, sizeof(g.logbits));
	round_trip(10);
	assert_pages_marked(DESC_GPA >> 12, (DESC_GPA >> 12) + 1);
	guest_down();
	/* no VHOST_VRING_F_LOG: nothing */
	guest_up((struct opts){.tx = true, .log = true});
	round_trip(3);
	assert_pages_marked(1, 0);
	guest_down();
}

/* ---- the format-neutral calls pick the split ring too ------------------- */

static void test_neutral_calls_on_a_split_ring(void **st)
{
	(void)st;
	guest_up((struct opts){.tx = true});
	struct vring_desc *d = hva(R0_GPA + 0x10000);
	struct vring_avail *a = hva(R0_GPA + 0x11000);
	struct vring_used *u = hva(R0_GPA + 0x12000);
	struct vq vq;
	vq_init(&vq, &(struct vq_cfg){
		.desc = d, .avail = a, .used = u, .size = 16, .tx = true,
		.mem = g.mem, .call_fd = -1, .err_fd = -1});
	assert_false(vq.packed);
	d[3] = (struct vring_desc){buf(3), 100, 0, 0};
	a->ring[0] = 3;
	__atomic_store_n(&a->idx, 1, __ATOMIC_RELEASE);
	assert_int_equal(vq_dequeue(&vq, g.chains, 8), 1);
	assert_int_equal(g.chains[0].head, 3);
	vq_used(&vq, &g.chains[0], 0);
	vq_flush(&vq);
	assert_int_equal(u->idx, 1);
	assert_int_equal(u->ring[0].id, 3);
	guest_down();
}

/* ---- main ------------------------------------------------------------- */

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* hostile, TX and RX */
		cmocka_unit_test(test_id_out_of_range_marks_queue_broken),
		cmocka_unit_test(test_id_ffff_marks_queue_broken),
		cmocka_unit_test(
		    test_id_of_last_descriptor_out_of_range_marks_queue_broken),
		cmocka_unit_test(test_chain_longer_than_ring_marks_queue_broken),
		cmocka_unit_test(
		    test_later_descriptor_not_available_marks_queue_broken),
		cmocka_unit_test(
		    test_later_descriptor_marked_used_marks_queue_broken),
		cmocka_unit_test(
		    test_chain_across_wrap_with_stale_wrap_bits_marks_broken),
		cmocka_unit_test(test_indirect_len_zero_marks_queue_broken),
		cmocka_unit_test(
		    test_indirect_len_not_multiple_of_16_marks_queue_broken),
		cmocka_unit_test(
		    test_indirect_table_larger_than_ring_marks_queue_broken),
		cmocka_unit_test(test_indirect_len_huge_marks_queue_broken),
		cmocka_unit_test(test_indirect_nested_marks_queue_broken),
		cmocka_unit_test(test_indirect_with_next_marks_queue_broken),
		cmocka_unit_test(
		    test_indirect_after_direct_descriptor_marks_queue_broken),
		cmocka_unit_test(test_indirect_not_negotiated_marks_queue_broken),
		cmocka_unit_test(
		    test_indirect_table_outside_guest_memory_marks_queue_broken),
		cmocka_unit_test(
		    test_indirect_table_straddling_region_end_marks_queue_broken),
		cmocka_unit_test(
		    test_indirect_table_wrapping_address_marks_queue_broken),
		cmocka_unit_test(
		    test_zero_len_buffer_in_indirect_table_marks_queue_broken),
		cmocka_unit_test(
		    test_writable_before_readable_in_indirect_marks_queue_broken),
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
		cmocka_unit_test(test_len_overflow_marks_queue_broken),
		cmocka_unit_test(test_zero_len_buffer_marks_queue_broken),
		cmocka_unit_test(
		    test_tx_chain_shorter_than_net_header_marks_queue_broken),
		cmocka_unit_test(test_wrong_direction_marks_queue_broken),
		cmocka_unit_test(
		    test_writable_before_readable_marks_queue_broken),
		cmocka_unit_test(test_too_many_descriptors_marks_queue_broken),
		cmocka_unit_test(
		    test_too_many_segments_from_straddling_marks_queue_broken),
		cmocka_unit_test(
		    test_guest_rewriting_descriptors_after_read_changes_nothing),
		cmocka_unit_test(
		    test_guest_rewriting_descriptor_during_read_is_read_once),
		/* TX */
		cmocka_unit_test(test_nothing_available_takes_nothing),
		cmocka_unit_test(test_single_descriptor_chain_is_taken),
		cmocka_unit_test(
		    test_chain_of_three_takes_the_last_descriptors_id),
		cmocka_unit_test(
		    test_chain_across_the_end_of_the_ring_is_taken),
		cmocka_unit_test(test_indirect_table_gives_its_descriptors),
		cmocka_unit_test(
		    test_indirect_table_straddling_two_regions_is_read),
		cmocka_unit_test(
		    test_buffer_straddling_two_regions_gives_two_segments),
		cmocka_unit_test(test_chain_of_64_segments_is_taken),
		cmocka_unit_test(test_dequeue_takes_at_most_n),
		cmocka_unit_test(test_untaken_chains_are_taken_again),
		cmocka_unit_test(test_batch_used_descriptors_contents),
		cmocka_unit_test(test_in_order_tx_flush_writes_one_descriptor),
		cmocka_unit_test(test_in_order_rx_flush_writes_every_descriptor),
		cmocka_unit_test(
		    test_many_laps_of_the_ring_keep_both_sides_in_step),
		cmocka_unit_test(test_flush_writes_first_descriptor_flags_last),
		cmocka_unit_test(test_init_disables_kicks_in_the_device_area),
		cmocka_unit_test(test_init_takes_positions_and_wrap_counters),
		cmocka_unit_test(test_vring_base_encoding_round_trips),
		cmocka_unit_test(test_flush_publishes_its_position),
		/* RX */
		cmocka_unit_test(test_rx_without_mrg_takes_exactly_one_chain),
		cmocka_unit_test(test_rx_without_buffers_counts_ring_full),
		cmocka_unit_test(
		    test_mrg_rx_takes_three_chains_across_the_wrap),
		cmocka_unit_test(test_mrg_rx_ring_running_out_takes_nothing),
		cmocka_unit_test(
		    test_unreserve_gives_chains_back_across_the_wrap),
		cmocka_unit_test(
		    test_rx_write_through_straddling_segments_stays_inside),
		/* notifications */
		cmocka_unit_test(test_enable_notifies_once_per_flush),
		cmocka_unit_test(test_disable_suppresses_notification),
		cmocka_unit_test(
		    test_flush_without_entries_writes_and_notifies_nothing),
		cmocka_unit_test(test_desc_event_notifies_only_when_passed),
		cmocka_unit_test(
		    test_desc_event_with_the_other_wrap_waits_a_lap),
		cmocka_unit_test(test_desc_event_inside_a_chain_notifies),
		cmocka_unit_test(test_desc_without_event_idx_notifies),
		/* dirty log */
		cmocka_unit_test(test_flush_logs_used_descriptor_pages),
		/* vq.h */
		cmocka_unit_test(test_neutral_calls_on_a_split_ring),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
