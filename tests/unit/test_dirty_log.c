/* SPDX-License-Identifier: MIT */
/*
 * test_dirty_log.c: the live-migration dirty page bitmap (datapath/
 * dirty_log.h).  The bitmap under test sits between guard bytes so that a
 * write outside it is seen, not just survived.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "datapath/dirty_log.h"

#define PG DIRTY_LOG_PAGE
#define LOG_BYTES 4u            /* 32 pages: gpa 0 .. 128 KiB */
#define GUARD 16u
#define GUARD_BYTE 0xeeu

struct buf {
	uint8_t mem[GUARD + LOG_BYTES + GUARD];
	struct dirty_log log;
};

static void buf_init(struct buf *b)
{
	memset(b->mem, GUARD_BYTE, sizeof(b->mem));
	memset(b->mem + GUARD, 0, LOG_BYTES);
	b->log.base = b->mem + GUARD;
	b->log.size = LOG_BYTES;
}

static void assert_guards_intact(const struct buf *b)
{
	for (unsigned i = 0; i < GUARD; i++) {
		assert_int_equal(b->mem[i], GUARD_BYTE);
		assert_int_equal(b->mem[GUARD + LOG_BYTES + i], GUARD_BYTE);
	}
}

static int page_marked(const struct buf *b, uint64_t page)
{
	return (b->log.base[page / 8] >> (page % 8)) & 1;
}

/* The marked pages are exactly first..last. */
static void assert_marked_exactly(const struct buf *b, uint64_t first,
				  uint64_t last)
{
	for (uint64_t p = 0; p < LOG_BYTES * 8; p++)
		assert_int_equal(page_marked(b, p), p >= first && p <= last);
	assert_guards_intact(b);
}

static void assert_nothing_marked(const struct buf *b)
{
	for (unsigned i = 0; i < LOG_BYTES; i++)
		assert_int_equal(b->log.base[i], 0);
	assert_guards_intact(b);
}

static void test_one_byte_marks_its_page_only(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b);
	assert_int_equal(dirty_log_mark(&b.log, 5 * PG + 100, 1), 0);
	assert_marked_exactly(&b, 5, 5);
	assert_int_equal(b.log.base[0], 1u << 5);
}

static void test_page_boundaries_mark_only_that_page(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b);   /* first byte of page 9 */
	assert_int_equal(dirty_log_mark(&b.log, 9 * PG, 1), 0);
	assert_marked_exactly(&b, 9, 9);
	buf_init(&b);   /* last byte of page 9 */
	assert_int_equal(dirty_log_mark(&b.log, 10 * PG - 1, 1), 0);
	assert_marked_exactly(&b, 9, 9);
	buf_init(&b);   /* all of page 9, not a byte of page 10 */
	assert_int_equal(dirty_log_mark(&b.log, 9 * PG, PG), 0);
	assert_marked_exactly(&b, 9, 9);
	buf_init(&b);   /* page 0, first byte of the address space */
	assert_int_equal(dirty_log_mark(&b.log, 0, 1), 0);
	assert_marked_exactly(&b, 0, 0);
	buf_init(&b);   /* page 31, the last one the log covers */
	assert_int_equal(dirty_log_mark(&b.log, 32 * PG - 1, 1), 0);
	assert_marked_exactly(&b, 31, 31);
}

static void test_range_crossing_two_pages_marks_both(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b);   /* last byte of page 7, first of page 8 (next byte) */
	assert_int_equal(dirty_log_mark(&b.log, 8 * PG - 1, 2), 0);
	assert_marked_exactly(&b, 7, 8);
	assert_int_equal(b.log.base[0], 0x80);
	assert_int_equal(b.log.base[1], 0x01);
	buf_init(&b);   /* one page long, unaligned: two pages */
	assert_int_equal(dirty_log_mark(&b.log, 3 * PG + 1, PG), 0);
	assert_marked_exactly(&b, 3, 4);
	buf_init(&b);   /* many pages */
	assert_int_equal(dirty_log_mark(&b.log, 2 * PG + 10, 20 * PG), 0);
	assert_marked_exactly(&b, 2, 22);
}

static void test_marks_accumulate(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b);
	dirty_log_mark(&b.log, 1 * PG, 1);
	dirty_log_mark(&b.log, 3 * PG, 1);
	assert_int_equal(b.log.base[0], 0x0a);
	assert_guards_intact(&b);
}

static void test_no_log_marks_nothing(void **state)
{
	struct dirty_log none = {.base = NULL, .size = 1u << 20};
	struct buf b;

	(void)state;
	assert_int_equal(dirty_log_mark(&none, 0, 1u << 20), 0);
	buf_init(&b);
	assert_int_equal(dirty_log_mark(&b.log, 4 * PG, 0), 0); /* len 0 */
	assert_nothing_marked(&b);
}

static void test_pages_beyond_log_are_counted_not_written(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b);   /* pages 30..33: 30 and 31 in the log, 2 missed */
	assert_int_equal(dirty_log_mark(&b.log, 30 * PG, 4 * PG), 2);
	assert_marked_exactly(&b, 30, 31);
	buf_init(&b);   /* wholly beyond: pages 32..41 */
	assert_int_equal(dirty_log_mark(&b.log, 32 * PG, 10 * PG), 10);
	assert_nothing_marked(&b);
	buf_init(&b);   /* far beyond */
	assert_int_equal(dirty_log_mark(&b.log, 1ull << 40, 1), 1);
	assert_nothing_marked(&b);
}

/* gpa + len wraps past 2^64: clamped to the top of the address space,
 * nothing below gpa and nothing outside the bitmap is written. */
static void test_wrapping_range_stays_inside_bitmap(void **state)
{
	struct buf b;
	const uint64_t top = UINT64_MAX / PG;   /* last page number */

	(void)state;
	buf_init(&b);   /* from page 3 to "page 3 - 1" via 2^64 */
	assert_int_equal(dirty_log_mark(&b.log, 3 * PG, UINT64_MAX),
			 top - 32 + 1);
	assert_marked_exactly(&b, 3, 31);
	buf_init(&b);   /* starting in the last page of the address space */
	assert_int_equal(dirty_log_mark(&b.log, UINT64_MAX - 10, 100), 1);
	assert_nothing_marked(&b);
	buf_init(&b);
	assert_int_equal(dirty_log_mark(&b.log, UINT64_MAX, UINT64_MAX), 1);
	assert_nothing_marked(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_byte_marks_its_page_only),
		cmocka_unit_test(test_page_boundaries_mark_only_that_page),
		cmocka_unit_test(test_range_crossing_two_pages_marks_both),
		cmocka_unit_test(test_marks_accumulate),
		cmocka_unit_test(test_no_log_marks_nothing),
		cmocka_unit_test(test_pages_beyond_log_are_counted_not_written),
		cmocka_unit_test(test_wrapping_range_stays_inside_bitmap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
