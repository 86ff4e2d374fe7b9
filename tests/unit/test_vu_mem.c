/* SPDX-License-Identifier: MIT */
/*
 * test_vu_mem.c: the guest memory map (control/backend/vu_mem.c) and the datapath's
 * translation (datapath/gmem.h), with memfd-backed "guest RAM".
 *
 * The guest layout used throughout (R1 starts at a file offset that is not
 * page aligned, R2 leaves a hole after R1):
 *
 *   gpa 0x000000  R0  64 KiB  file A offset 0       uva 0x7f0000000000
 *   gpa 0x010000  R1  64 KiB  file B offset 0x1800  uva 0x7f0000100000
 *   gpa 0x020000  -- hole --
 *   gpa 0x100000  R2  32 KiB  file C offset 0       uva 0x7f0000200000
 *
 * The test keeps its own fd of each file and hands vu_mem a dup(), so it can
 * check through pread() that a translated pointer lands on the right byte
 * of the right file, and cut the file under the mapping (ftruncate) to
 * test the SIGBUS handler (control/backend/vu_sigbus.h, installed once in main()).
 * Each test ends by checking that every fd handed over was closed and every
 * mapping released.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control/backend/vu_mem.h"
#include "control/backend/vu_sigbus.h"
#include "datapath/dirty_log.h"
#include "test_util.h"

#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC 0x958458f6
#endif

#define NREG 3
#define UVA0 0x7f0000000000ull

static const struct vu_mem_region layout[NREG] = {
	{.guest_phys_addr = 0x000000, .memory_size = 0x10000,
	 .userspace_addr = UVA0, .mmap_offset = 0},
	{.guest_phys_addr = 0x010000, .memory_size = 0x10000,
	 .userspace_addr = UVA0 + 0x100000, .mmap_offset = 0x1800},
	{.guest_phys_addr = 0x100000, .memory_size = 0x8000,
	 .userspace_addr = UVA0 + 0x200000, .mmap_offset = 0},
};
static const size_t file_size[NREG] = {0x10000, 0x12000, 0x8000};

struct fx {
	struct vu_mem m;
	int fd[NREG];     /* the test's own fd of each backing file */
	int base_fds;     /* open fds before the test */
	int base_maps;    /* mappings of test memfds before the test */
};

/* Mappings of our memfds in /proc/self/maps. */
static int count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "memfd:vhostd-unit"))
			n++;
	fclose(f);
	return n;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->base_fds = tu_count_fds();
	f->base_maps = count_maps();
	vu_mem_init(&f->m, "test");
	for (int i = 0; i < NREG; i++)
		f->fd[i] = tu_memfd(file_size[i]);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	vu_mem_clear(&f->m);
	for (int i = 0; i < NREG; i++)
		close(f->fd[i]);
	free(f);
	return 0;
}

/* Every fd handed to vu_mem closed, every mapping it made released (and
 * unregistered from the SIGBUS handler). */
static void assert_nothing_leaked(struct fx *f)
{
	vu_mem_clear(&f->m);
	assert_int_equal(tu_count_fds(), f->base_fds + NREG);
	assert_int_equal(count_maps(), f->base_maps);
	assert_int_equal(vu_sigbus_count(), 0);
}

static int dup_of(struct fx *f, int i)
{
	int d = dup(f->fd[i]);

	assert_true(d >= 0);
	return d;
}

static void set_layout(struct fx *f)
{
	/* Out of order on purpose: the table must come out sorted. */
	struct vu_mem_region regs[NREG] = {layout[2], layout[0], layout[1]};
	int fds[NREG] = {dup_of(f, 2), dup_of(f, 0), dup_of(f, 1)};

	assert_int_equal(vu_mem_set_table(&f->m, regs, fds, NREG), 0);
	assert_non_null(f->m.table);
	assert_int_equal(f->m.table->n, NREG);
}

static uint8_t *hva(struct fx *f, uint64_t gpa, uint64_t len)
{
	uint32_t hint = 0;

	return gmem_gpa_to_hva(f->m.table, gpa, len, &hint);
}

/* The byte at gpa is the byte at file offset off of region i's file. */
static void assert_backed_by(struct fx *f, uint64_t gpa, int i, uint64_t off)
{
	uint8_t *p = hva(f, gpa, 1), v = 0;

	assert_non_null(p);
	*p = (uint8_t)(gpa * 7 + 1);
	assert_int_equal(pread(f->fd[i], &v, 1, (off_t)off), 1);
	assert_int_equal(v, (uint8_t)(gpa * 7 + 1));
}

static void test_table_maps_each_region_at_its_file_offset(void **state)
{
	struct fx *f = *state;

	set_layout(f);
	for (uint32_t i = 0; i < NREG; i++) {
		const struct gmem_region *r = &f->m.table->r[i];
		assert_int_equal(r->gpa, layout[i].guest_phys_addr);
		assert_int_equal(r->size, layout[i].memory_size);
		assert_int_equal(r->uva, layout[i].userspace_addr);
		uint64_t g = layout[i].guest_phys_addr;
		uint64_t o = layout[i].mmap_offset;
		uint64_t last = layout[i].memory_size - 1;
		assert_backed_by(f, g, (int)i, o);
		assert_backed_by(f, g + 0x123, (int)i, o + 0x123);
		assert_backed_by(f, g + last, (int)i, o + last);
	}
	assert_nothing_leaked(f);
}

static void test_gpa_range_inside_one_region_translates(void **state)
{
	struct fx *f = *state;

	set_layout(f);
	uint8_t *r1 = hva(f, 0x10000, 1);
	assert_non_null(r1);
	assert_ptr_equal(hva(f, 0x10100, 0x200), r1 + 0x100);
	assert_ptr_equal(hva(f, 0x10000, 0x10000), r1);        /* all of R1 */
	assert_ptr_equal(hva(f, 0x1ffff, 1), r1 + 0xffff);     /* last byte */
	assert_ptr_equal(hva(f, 0x1ffff, 0), r1 + 0xffff);
	/* A stale hint pointing at another region does not mislead. */
	uint32_t hint = 2;
	assert_ptr_equal(gmem_gpa_to_hva(f->m.table, 0x10100, 4, &hint),
			 r1 + 0x100);
	assert_int_equal(hint, 1);
	assert_nothing_leaked(f);
}

static void test_gpa_range_one_byte_past_region_end_is_null(void **state)
{
	struct fx *f = *state;

	set_layout(f);
	assert_null(hva(f, 0x100000, 0x8001));  /* R2, hole after it */
	assert_null(hva(f, 0x107fff, 2));
	assert_null(hva(f, 0x10000, 0x10001));
	/* R0 ends where R1 starts: one pointer cannot cover both mappings. */
	assert_null(hva(f, 0xffff, 2));
	assert_null(hva(f, 0x0, 0x10001));
	assert_nothing_leaked(f);
}

static void test_gpa_len_overflowing_address_space_is_null(void **state)
{
	struct fx *f = *state;

	set_layout(f);
	assert_null(hva(f, 0x10, UINT64_MAX));
	assert_null(hva(f, 0x10, UINT64_MAX - 0xf));  /* gpa + len == 2^64 */
	assert_null(hva(f, 0x10, UINT64_MAX - 0xe));  /* wraps to 1 */
	assert_null(hva(f, 0x107fff, UINT64_MAX));
	assert_null(hva(f, UINT64_MAX, 2));
	assert_nothing_leaked(f);
}

static void test_gpa_in_hole_or_outside_is_null(void **state)
{
	struct fx *f = *state;
	static const uint64_t holes[] = {0x20000, 0x80000, 0xfffff, 0x108000,
					 0x1000000, UINT64_MAX};

	set_layout(f);
	for (unsigned i = 0; i < sizeof(holes) / sizeof(holes[0]); i++) {
		for (uint32_t hint = 0; hint < NREG; hint++) {
			uint32_t h = hint;
			uint64_t c = 0;
			assert_null(gmem_gpa_to_hva(f->m.table, holes[i], 1,
						    &h));
			assert_null(gmem_gpa_contig(f->m.table, holes[i], 1,
						    &c, &h));
		}
	}
	assert_null(gmem_gpa_to_hva(NULL, 0, 1, &(uint32_t){0}));
	assert_nothing_leaked(f);
}

static void test_gpa_contig_splits_buffer_across_adjacent_regions(
	void **state)
{
	struct fx *f = *state;
	uint32_t hint = 0;
	uint64_t c = 0;

	set_layout(f);
	/* 0x200 bytes from 0xff00: 0x100 in R0, 0x100 in R1. */
	uint8_t *p = gmem_gpa_contig(f->m.table, 0xff00, 0x200, &c, &hint);
	assert_ptr_equal(p, hva(f, 0xff00, 1));
	assert_int_equal(c, 0x100);
	uint8_t *q = gmem_gpa_contig(f->m.table, 0xff00 + c, 0x200 - c, &c,
				     &hint);
	assert_ptr_equal(q, hva(f, 0x10000, 1));
	assert_int_equal(c, 0x100);
	/* Writing through both pieces lands in both files. */
	memset(p, 0x5a, 0x100);
	memset(q, 0xa5, 0x100);
	uint8_t b[2];
	assert_int_equal(pread(f->fd[0], &b[0], 1, 0xffff), 1);
	assert_int_equal(pread(f->fd[1], &b[1], 1, 0x1800), 1);
	assert_int_equal(b[0], 0x5a);
	assert_int_equal(b[1], 0xa5);
	/* Inside one region: all of it; running into the hole: the part
	 * before it, then NULL. */
	assert_non_null(gmem_gpa_contig(f->m.table, 0x100, 0x40, &c, &hint));
	assert_int_equal(c, 0x40);
	assert_non_null(gmem_gpa_contig(f->m.table, 0x107f00, 0x200, &c,
					&hint));
	assert_int_equal(c, 0x100);
	assert_null(gmem_gpa_contig(f->m.table, 0x108000, 0x100, &c, &hint));
	assert_nothing_leaked(f);
}

static void test_uva_translates_with_range_check(void **state)
{
	struct fx *f = *state;
	const struct gmem *t;
	uint64_t u1 = layout[1].userspace_addr;

	set_layout(f);
	t = f->m.table;
	assert_ptr_equal(gmem_uva_to_hva(t, u1 + 0x40, 0x100),
			 hva(f, 0x10040, 1));
	assert_ptr_equal(gmem_uva_to_hva(t, u1, 0x10000), hva(f, 0x10000, 1));
	assert_null(gmem_uva_to_hva(t, u1, 0x10001));
	assert_null(gmem_uva_to_hva(t, u1 + 0xffff, 2));
	assert_null(gmem_uva_to_hva(t, u1 + 0x10000, 1));
	assert_null(gmem_uva_to_hva(t, u1 - 1, 1));
	assert_null(gmem_uva_to_hva(t, u1 + 0x10, UINT64_MAX));
	assert_null(gmem_uva_to_hva(NULL, u1, 1));
	assert_int_equal(gmem_uva_to_gpa(t, u1 + 0x40), 0x10040);
	assert_int_equal(gmem_uva_to_gpa(t, layout[2].userspace_addr + 0x7fff),
			 0x107fff);
	assert_int_equal(gmem_uva_to_gpa(t, u1 + 0x10000), UINT64_MAX);
	assert_nothing_leaked(f);
}

/* A refused SET_MEM_TABLE: error, previous map still in force (same table,
 * same translations), fds closed, nothing left mapped. */
static void assert_set_refused(struct fx *f, const struct vu_mem_region *bad,
			       int err)
{
	struct gmem *before = f->m.table;
	uint8_t *p = before ? hva(f, 0x10000, 1) : NULL;
	struct vu_mem_region regs[2] = {layout[0], *bad};
	int fds[2] = {dup_of(f, 0), dup_of(f, 1)};
	int nfds = tu_count_fds();

	assert_int_equal(vu_mem_set_table(&f->m, regs, fds, 2), err);
	assert_int_equal(tu_count_fds(), nfds - 2);
	assert_false(tu_fd_is_open(fds[0]));
	assert_false(tu_fd_is_open(fds[1]));
	assert_ptr_equal(f->m.table, before);
	if (before)
		assert_ptr_equal(hva(f, 0x10000, 1), p);
}

/* The same region through ADD_MEM_REG. */
static void assert_add_refused(struct fx *f, const struct vu_mem_region *bad,
			       int err)
{
	struct gmem *before = f->m.table;
	uint32_t n = f->m.n;
	int fd = dup_of(f, 1);
	int nfds = tu_count_fds();

	assert_int_equal(vu_mem_add(&f->m, bad, fd), err);
	assert_int_equal(tu_count_fds(), nfds - 1);
	assert_ptr_equal(f->m.table, before);
	assert_int_equal(f->m.n, n);
}

static void refused_both_ways(struct fx *f, const struct vu_mem_region *bad)
{
	assert_set_refused(f, bad, -EINVAL);     /* on an empty map */
	assert_null(f->m.table);
	assert_add_refused(f, bad, -EINVAL);
	set_layout(f);
	assert_set_refused(f, bad, -EINVAL);     /* on a map in force */
	assert_add_refused(f, bad, -EINVAL);
	assert_int_equal(f->m.n, NREG);
	assert_nothing_leaked(f);
}

static void test_zero_size_region_refused(void **state)
{
	struct vu_mem_region r = {.guest_phys_addr = 0x200000,
				  .memory_size = 0, .userspace_addr = 0x1000};

	refused_both_ways(*state, &r);
}

static void test_gpa_plus_size_wrap_refused(void **state)
{
	struct vu_mem_region r = {.guest_phys_addr = UINT64_MAX - 0xfff,
				  .memory_size = 0x2000,
				  .userspace_addr = 0x1000};

	refused_both_ways(*state, &r);
}

static void test_uva_plus_size_wrap_refused(void **state)
{
	struct vu_mem_region r = {.guest_phys_addr = 0x200000,
				  .memory_size = 0x2000,
				  .userspace_addr = UINT64_MAX - 0xfff};

	refused_both_ways(*state, &r);
}

/* offset + size wraps to a small number that would pass the file size
 * check on its own. */
static void test_offset_plus_size_wrap_refused(void **state)
{
	struct vu_mem_region r = {.guest_phys_addr = 0x200000,
				  .memory_size = 0x2000,
				  .userspace_addr = 0x1000,
				  .mmap_offset = UINT64_MAX - 0xfff};

	refused_both_ways(*state, &r);
}

static void test_offset_past_end_of_file_refused(void **state)
{
	struct fx *f = *state;
	/* File B is 0x12000 bytes. */
	struct vu_mem_region r = {.guest_phys_addr = 0x200000,
				  .memory_size = 0x1000,
				  .userspace_addr = 0x1000,
				  .mmap_offset = 0x12000};

	refused_both_ways(f, &r);
	r.mmap_offset = 0x11001;       /* last byte one past the end */
	refused_both_ways(f, &r);
	r.mmap_offset = 0x100000000ull;
	refused_both_ways(f, &r);
}

/* bad overlaps R0: refused in a SET_MEM_TABLE next to R0, and as an
 * ADD_MEM_REG against the map in force. */
static void assert_overlap_refused(struct fx *f,
				   const struct vu_mem_region *bad)
{
	set_layout(f);
	assert_set_refused(f, bad, -EINVAL);
	assert_add_refused(f, bad, -EINVAL);
	assert_int_equal(f->m.n, NREG);
	assert_backed_by(f, 0x0, 0, 0);
	assert_backed_by(f, 0x10000, 1, 0x1800);
	assert_nothing_leaked(f);
}

static void test_overlapping_regions_refused_map_unchanged(void **state)
{
	struct fx *f = *state;
	struct vu_mem_region r = {.userspace_addr = 0x1000};

	/* Tail of R0 (and head of R1). */
	r.guest_phys_addr = 0xf000;
	r.memory_size = 0x2000;
	assert_overlap_refused(f, &r);
	/* Same start as R0, shorter. */
	r.guest_phys_addr = 0;
	r.memory_size = 0x1000;
	assert_overlap_refused(f, &r);
	/* Starts inside R0, ends inside R1. */
	r.guest_phys_addr = 0x8000;
	r.memory_size = 0x10000;
	assert_overlap_refused(f, &r);
	/* Adjacent to R1's end is fine. */
	set_layout(f);
	r = (struct vu_mem_region){.guest_phys_addr = 0x20000,
				   .memory_size = 0x1000,
				   .userspace_addr = 0x1000};
	assert_int_equal(vu_mem_add(&f->m, &r, dup_of(f, 1)), 0);
	assert_int_equal(f->m.n, NREG + 1);
	assert_null(hva(f, 0x1ffff, 2));
	assert_backed_by(f, 0x20000, 1, 0);
	assert_nothing_leaked(f);
}

static void test_add_beyond_max_slots_is_enospc(void **state)
{
	struct fx *f = *state;
	int small = tu_memfd(4096);
	struct vu_mem_region r = {.memory_size = 0x1000,
				  .userspace_addr = 0x100000000ull};

	for (uint32_t i = 0; i < VU_MEM_MAX_SLOTS; i++) {
		int d = dup(small);
		assert_true(d >= 0);
		r.guest_phys_addr = (uint64_t)i * 0x2000;
		r.userspace_addr = 0x100000000ull + (uint64_t)i * 0x2000;
		assert_int_equal(vu_mem_add(&f->m, &r, d), 0);
	}
	assert_int_equal(f->m.n, VU_MEM_MAX_SLOTS);
	struct gmem *before = f->m.table;
	int d = dup(small);
	int n = tu_count_fds();
	r.guest_phys_addr = (uint64_t)VU_MEM_MAX_SLOTS * 0x2000;
	assert_int_equal(vu_mem_add(&f->m, &r, d), -ENOSPC);
	assert_int_equal(tu_count_fds(), n - 1);
	assert_int_equal(f->m.n, VU_MEM_MAX_SLOTS);
	assert_ptr_equal(f->m.table, before);
	assert_null(hva(f, r.guest_phys_addr, 1));
	/* All slots translate; they share one file page. */
	uint8_t *first = hva(f, 0, 0x1000);
	uint8_t *last = hva(f, (uint64_t)(VU_MEM_MAX_SLOTS - 1) * 0x2000,
			    0x1000);
	assert_non_null(first);
	assert_non_null(last);
	*first = 0x77;
	assert_int_equal(*last, 0x77);
	close(small);
	assert_nothing_leaked(f);
}

static void test_remove_unknown_region_is_enoent(void **state)
{
	struct fx *f = *state;
	struct vu_mem_region r = layout[1];

	assert_int_equal(vu_mem_remove(&f->m, &r), -ENOENT); /* empty map */
	set_layout(f);
	struct gmem *before = f->m.table;
	r.memory_size = 0x8000;                 /* gpa and uva match */
	assert_int_equal(vu_mem_remove(&f->m, &r), -ENOENT);
	r = layout[1];
	r.userspace_addr += 0x1000;             /* gpa and size match */
	assert_int_equal(vu_mem_remove(&f->m, &r), -ENOENT);
	r = layout[1];
	r.guest_phys_addr = 0x200000;
	assert_int_equal(vu_mem_remove(&f->m, &r), -ENOENT);
	assert_ptr_equal(f->m.table, before);
	assert_int_equal(f->m.n, NREG);
	assert_non_null(hva(f, 0x10000, 0x10000));
	assert_nothing_leaked(f);
}

static void test_remove_middle_region_keeps_others_translatable(void **state)
{
	struct fx *f = *state;
	int maps_before = count_maps();

	for (int i = 0; i < NREG; i++)
		assert_int_equal(vu_mem_add(&f->m, &layout[i], dup_of(f, i)), 0);
	assert_int_equal(count_maps(), maps_before + NREG);
	struct vu_mem_region r = layout[1];
	r.mmap_offset = 0xdead000;              /* ignored, as the spec says */
	assert_int_equal(vu_mem_remove(&f->m, &r), 0);
	assert_int_equal(f->m.n, NREG - 1);
	assert_int_equal(f->m.table->n, NREG - 1);
	assert_int_equal(count_maps(), maps_before + NREG - 1); /* unmapped */
	assert_null(hva(f, 0x10000, 1));
	assert_null(hva(f, 0x1ffff, 1));
	assert_backed_by(f, 0x0, 0, 0);
	assert_backed_by(f, 0xffff, 0, 0xffff);
	assert_backed_by(f, 0x100000, 2, 0);
	assert_backed_by(f, 0x107fff, 2, 0x7fff);
	assert_null(gmem_uva_to_hva(f->m.table, layout[1].userspace_addr, 1));
	/* Removing it again: gone. */
	assert_int_equal(vu_mem_remove(&f->m, &layout[1]), -ENOENT);
	/* Remove the rest: no table left. */
	assert_int_equal(vu_mem_remove(&f->m, &layout[0]), 0);
	assert_int_equal(vu_mem_remove(&f->m, &layout[2]), 0);
	assert_int_equal(f->m.n, 0);
	assert_null(f->m.table);
	assert_int_equal(count_maps(), maps_before);
	assert_nothing_leaked(f);
}

/* QEMU up to 7.2 sends every region once per queue pair: the same region
 * from the same file again is counted, not mapped again, and needs as many
 * removals. */
static void test_same_region_added_twice_is_counted(void **state)
{
	struct fx *f = *state;

	set_layout(f);
	int maps = count_maps();
	struct gmem *before = f->m.table;
	int fd = dup_of(f, 1);
	assert_int_equal(vu_mem_add(&f->m, &layout[1], fd), 0);
	assert_false(tu_fd_is_open(fd));
	assert_int_equal(f->m.n, NREG);
	assert_ptr_equal(f->m.table, before);
	assert_int_equal(count_maps(), maps);
	assert_backed_by(f, 0x10000, 1, 0x1800);
	/* First removal: still there; second: gone; third: unknown. */
	assert_int_equal(vu_mem_remove(&f->m, &layout[1]), 0);
	assert_int_equal(f->m.n, NREG);
	assert_backed_by(f, 0x10000, 1, 0x1800);
	assert_int_equal(vu_mem_remove(&f->m, &layout[1]), 0);
	assert_int_equal(f->m.n, NREG - 1);
	assert_null(hva(f, 0x10000, 1));
	assert_int_equal(count_maps(), maps - 1);
	assert_int_equal(vu_mem_remove(&f->m, &layout[1]), -ENOENT);
	assert_nothing_leaked(f);
}

/* The same numbers from another file, or at another offset of the same
 * file, are an overlap like any other. */
static void test_same_numbers_other_backing_refused(void **state)
{
	struct fx *f = *state;
	struct vu_mem_region r = layout[0];

	set_layout(f);
	assert_add_refused(f, &r, -EINVAL);     /* file B, R0 is file A */
	r = layout[1];
	r.mmap_offset = 0x1000;                 /* R1 is at 0x1800 */
	assert_add_refused(f, &r, -EINVAL);     /* file B */
	assert_backed_by(f, 0x0, 0, 0);
	assert_backed_by(f, 0x10000, 1, 0x1800);
	assert_nothing_leaked(f);
}

/* set_table consumes all n fds even when region k fails: the ones before
 * k (already mapped), k, and the ones after k (never looked at). */
static void test_fds_consumed_on_success_and_on_failure(void **state)
{
	struct fx *f = *state;
	struct vu_mem_region regs[NREG] = {layout[0], layout[1], layout[2]};
	int fds[NREG];

	for (int i = 0; i < NREG; i++)
		fds[i] = dup_of(f, i);
	regs[1].memory_size = 0;
	assert_int_equal(vu_mem_set_table(&f->m, regs, fds, NREG), -EINVAL);
	assert_int_equal(tu_count_fds(), f->base_fds + NREG);
	assert_int_equal(count_maps(), f->base_maps);
	assert_null(f->m.table);

	set_layout(f);
	assert_int_equal(tu_count_fds(), f->base_fds + NREG);
	assert_int_equal(count_maps(), f->base_maps + NREG);
	/* A new table replaces the old one: the old mappings go. */
	set_layout(f);
	assert_int_equal(count_maps(), f->base_maps + NREG);
	/* An empty table (n = 0) is a valid table with no region. */
	assert_int_equal(vu_mem_set_table(&f->m, NULL, NULL, 0), 0);
	assert_non_null(f->m.table);
	assert_int_equal(f->m.table->n, 0);
	assert_null(hva(f, 0, 1));
	assert_int_equal(count_maps(), f->base_maps);
	assert_nothing_leaked(f);
}

static void test_non_regular_fd_refused(void **state)
{
	struct fx *f = *state;
	int p[2];
	struct vu_mem_region r = {.guest_phys_addr = 0x200000,
				  .memory_size = 0x1000,
				  .userspace_addr = 0x1000};

	set_layout(f);
	struct gmem *before = f->m.table;
	assert_int_equal(pipe(p), 0);
	int n = tu_count_fds();
	assert_int_equal(vu_mem_add(&f->m, &r, p[0]), -EINVAL);
	assert_int_equal(tu_count_fds(), n - 1);
	assert_false(tu_fd_is_open(p[0]));
	struct vu_mem_region regs[1] = {r};
	assert_int_equal(vu_mem_set_table(&f->m, regs, &p[1], 1), -EINVAL);
	assert_int_equal(tu_count_fds(), n - 2);
	/* A bad fd number. */
	assert_int_equal(vu_mem_add(&f->m, &r, -1), -EBADF);
	assert_ptr_equal(f->m.table, before);
	assert_int_equal(f->m.n, NREG);
	assert_nothing_leaked(f);
}

/* Free huge pages of size kib, from sysfs; 0 if unknown. */
static long free_hugepages(unsigned long kib)
{
	char path[128];
	long n = 0;

	snprintf(path, sizeof(path),
		 "/sys/kernel/mm/hugepages/hugepages-%lukB/free_hugepages", kib);
	FILE *fp = fopen(path, "r");
	if (!fp)
		return 0;
	if (fscanf(fp, "%ld", &n) != 1)
		n = 0;
	fclose(fp);
	return n;
}

static void test_hugetlbfs_offset_not_huge_page_aligned_refused(void **state)
{
	struct fx *f = *state;
	struct statfs sfs;
	char path[128];

	if (statfs("/dev/hugepages", &sfs) != 0 ||
	    (uint64_t)sfs.f_type != HUGETLBFS_MAGIC ||
	    free_hugepages((unsigned long)sfs.f_bsize / 1024) < 1) {
		fprintf(stderr, "no hugetlbfs with free pages at "
			"/dev/hugepages: skipped\n");
		skip();
	}
	uint64_t hp = (uint64_t)sfs.f_bsize;
	snprintf(path, sizeof(path), "/dev/hugepages/vhostd-unit-%d",
		 (int)getpid());
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(ftruncate(fd, (off_t)(2 * hp)), 0);

	struct vu_mem_region r = {.guest_phys_addr = 0x200000,
				  .memory_size = 0x1000,
				  .userspace_addr = 0x1000,
				  .mmap_offset = 0x1000};
	int n = tu_count_fds();
	int d = dup(fd);
	assert_int_equal(vu_mem_add(&f->m, &r, d), -EINVAL);
	assert_int_equal(tu_count_fds(), n);
	assert_null(f->m.table);
	r.mmap_offset = hp / 2;
	assert_int_equal(vu_mem_add(&f->m, &r, dup(fd)), -EINVAL);
	/* Aligned: accepted, and the map knows it is huge. */
	r.mmap_offset = hp;
	r.memory_size = hp;
	assert_int_equal(vu_mem_add(&f->m, &r, dup(fd)), 0);
	assert_true(f->m.maps[0].hugetlb);
	assert_int_equal(f->m.maps[0].page_size, hp);
	close(fd);
	assert_nothing_leaked(f);
}

/* ---- files that shrink under a mapping (vu_sigbus.h) ------------------ */

/* Entries of the handler's registry in this process (main installs it). */
#define SIGBUS_CAP 1024u

/* cmocka puts its own SIGBUS handler in place around each test: ours back
 * in front of it (a fault outside the registry then fails the test). */
static void rearm(void)
{
	assert_int_equal(vu_sigbus_install(SIGBUS_CAP), 0);
}

/* A memfd of size bytes sealed against shrinking and growing (QEMU's
 * memory-backend-memfd with its default seal=on). */
static int sealed_memfd(size_t size)
{
	int fd = memfd_create("vhostd-unit", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW),
			 0);
	return fd;
}

static uint8_t peek(const uint8_t *p)
{
	return *(const volatile uint8_t *)p;
}

/* The handler ran for p: it reads zeros, the eventfd is readable, the
 * owner has p's address (once). */
static void assert_lost_at(struct vu_mem *m, const uint8_t *p)
{
	struct pollfd pfd = {.fd = vu_sigbus_eventfd(), .events = POLLIN};

	assert_int_equal(peek(p), 0);
	assert_int_equal(poll(&pfd, 1, 0), 1);
	vu_sigbus_drain();
	assert_int_equal(poll(&pfd, 1, 0), 0);
	assert_int_equal(vu_sigbus_take(&m->lost), (uintptr_t)p);
	assert_int_equal(vu_sigbus_take(&m->lost), 0);
}

static void test_region_of_unsealed_file_is_guarded(void **state)
{
	struct fx *f = *state;

	set_layout(f);
	assert_int_equal(vu_sigbus_count(), NREG);
	for (uint32_t i = 0; i < NREG; i++) {
		assert_false(f->m.maps[i].sealed);
		assert_true(f->m.maps[i].guard >= 0);
	}
	assert_nothing_leaked(f);
}

static void test_region_of_file_sealed_against_shrinking_is_not_guarded(
	void **state)
{
	struct fx *f = *state;
	int fd = sealed_memfd(0x10000);
	uint8_t v = 0;

	assert_int_equal(vu_mem_add(&f->m, &layout[0], dup(fd)), 0);
	assert_true(f->m.maps[0].sealed);
	assert_int_equal(f->m.maps[0].guard, -1);
	assert_int_equal(vu_sigbus_count(), 0);
	assert_int_equal(ftruncate(fd, 0), -1);      /* the seal holds */
	assert_int_equal(errno, EPERM);
	*hva(f, 0x123, 1) = 0x42;                    /* and it works */
	assert_int_equal(pread(fd, &v, 1, 0x123), 1);
	assert_int_equal(v, 0x42);
	close(fd);
	assert_nothing_leaked(f);
}

static void test_region_cut_to_zero_reads_zeros_and_is_reported(void **state)
{
	struct fx *f = *state;
	char text[256];

	rearm();
	set_layout(f);
	uint8_t *p = hva(f, 0x10123, 1);             /* R1, file B */
	*p = 0x5a;
	assert_int_equal(ftruncate(f->fd[1], 0), 0);
	assert_lost_at(&f->m, p);
	*p = 7;                  /* private memory now, writable too */
	assert_int_equal(peek(p), 7);
	assert_backed_by(f, 0x0, 0, 0);              /* the others stay */
	assert_backed_by(f, 0x100000, 2, 0);
	vu_mem_lost_text(&f->m, NULL, (uintptr_t)p, text, sizeof(text));
	assert_string_equal(text, "region gpa 0x10000-0x1ffff (file offset "
			    "0x1800, not sealed: guarded): page at gpa "
			    "0x10000 gone");
	assert_nothing_leaked(f);
}

/* One page gone is the whole mapping gone: the half the file still holds
 * reads zeros too (the device is failed anyway). */
static void test_region_cut_to_half_is_lost_as_a_whole(void **state)
{
	struct fx *f = *state;
	uint8_t v = 0;

	rearm();
	set_layout(f);
	uint8_t *low = hva(f, 0x100, 1), *high = hva(f, 0x9000, 1); /* R0 */
	*low = 0x33;
	assert_int_equal(ftruncate(f->fd[0], 0x8000), 0);
	assert_lost_at(&f->m, high);
	assert_int_equal(peek(low), 0);
	assert_int_equal(pread(f->fd[0], &v, 1, 0x100), 1);
	assert_int_equal(v, 0x33);
	assert_nothing_leaked(f);
}

static void test_dirty_log_cut_reads_zeros_and_is_reported(void **state)
{
	struct fx *f = *state;
	struct vu_mem_file lf;
	char text[256];
	uint8_t v = 0;
	int fd = tu_memfd(0x2000);

	rearm();
	assert_int_equal(vu_mem_map_file(&f->m, "dirty log", fd, 0x1000,
					 0x1000, &lf), 0);
	assert_true(lf.guard >= 0);
	struct dirty_log log = {.base = lf.hva, .size = 0x1000};
	assert_int_equal(dirty_log_mark(&log, 10 * DIRTY_LOG_PAGE, 1), 0);
	assert_int_equal(pread(fd, &v, 1, 0x1001), 1);
	assert_int_equal(v, 1u << 2);
	assert_int_equal(ftruncate(fd, 0x1000), 0);  /* the log's page */
	/* Page 20: bit 4 of byte 2, set again in the zero page. */
	assert_int_equal(dirty_log_mark(&log, 20 * DIRTY_LOG_PAGE, 1), 0);
	assert_int_equal(vu_sigbus_take(&f->m.lost), (uintptr_t)lf.hva + 2);
	vu_sigbus_drain();
	assert_int_equal(peek(lf.hva + 1), 0);       /* page 10's bit: gone */
	assert_int_equal(peek(lf.hva + 2), 1u << 4);
	vu_mem_lost_text(&f->m, &lf, (uintptr_t)lf.hva + 2, text,
			 sizeof(text));
	assert_string_equal(text, "dirty log (file offset 0x1000, not sealed: "
			    "guarded): page at byte 0x0 gone");
	vu_mem_unmap_file(&lf);
	close(fd);
	assert_nothing_leaked(f);
}

static void test_dirty_log_past_end_of_file_refused(void **state)
{
	struct fx *f = *state;
	struct vu_mem_file lf;
	int fd = tu_memfd(0x2000);
	int n = tu_count_fds();

	assert_int_equal(vu_mem_map_file(&f->m, "dirty log", fd, 0x1800,
					 0x1000, &lf), -EINVAL);
	assert_int_equal(vu_mem_map_file(&f->m, "dirty log", fd, 0, 0x2001,
					 &lf), -EINVAL);
	assert_int_equal(vu_mem_map_file(&f->m, "dirty log", fd, 0x2000, 1,
					 &lf), -EINVAL);
	assert_int_equal(vu_mem_map_file(&f->m, "dirty log", fd,
					 UINT64_MAX - 0xfff, 0x2000, &lf),
			 -EINVAL);                   /* offset + size wraps */
	assert_int_equal(vu_mem_map_file(&f->m, "dirty log", fd, 0, 0, &lf),
			 -EINVAL);
	assert_int_equal(tu_count_fds(), n);         /* still the caller's */
	assert_int_equal(vu_mem_map_file(&f->m, "dirty log", fd, 0x1000,
					 0x1000, &lf), 0);
	vu_mem_unmap_file(&lf);
	close(fd);
	assert_nothing_leaked(f);
}

/* A memfd of size bytes on 2 MiB pages, sealed against shrinking if
 * asked; skips the test when the host has fewer than 2 such pages free. */
static int huge_memfd(size_t size, bool seal)
{
	unsigned int flags = MFD_CLOEXEC | MFD_HUGETLB |
			     (seal ? MFD_ALLOW_SEALING : 0);
	int fd = free_hugepages(2048) >= 2 ?
		 memfd_create("vhostd-unit", flags) : -1;

	if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
		fprintf(stderr, "no 2 MiB huge pages free: skipped\n");
		if (fd >= 0)
			close(fd);
		skip();
	}
	if (seal)
		assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
	return fd;
}

#define HUGE_REGION(sz) {.guest_phys_addr = 0x200000, .memory_size = (sz), \
			 .userspace_addr = UVA0 + 0x400000}

/* F_SEAL_SHRINK keeps the file's size, not its huge pages (a hole punched
 * into it faults with SIGBUS when no free page is left to fill it). */
static void test_hugetlbfs_region_sealed_against_shrinking_stays_guarded(
	void **state)
{
	struct fx *f = *state;
	struct vu_mem_region r = HUGE_REGION(0x200000);
	int fd = huge_memfd(0x200000, true);

	assert_int_equal(vu_mem_add(&f->m, &r, dup(fd)), 0);
	assert_true(f->m.maps[0].hugetlb);
	assert_true(f->m.maps[0].sealed);
	assert_true(f->m.maps[0].guard >= 0);
	close(fd);
	assert_nothing_leaked(f);
}

/* Zero pages of 4 KiB in place of the huge ones, and the mapping of 2
 * huge pages still goes with one munmap. */
static void test_hugetlbfs_region_cut_reads_zeros_and_is_reported(
	void **state)
{
	struct fx *f = *state;
	struct vu_mem_region r = HUGE_REGION(0x400000);
	int fd = huge_memfd(0x400000, false);

	rearm();
	assert_int_equal(vu_mem_add(&f->m, &r, dup(fd)), 0);
	uint8_t *p = hva(f, 0x200000 + 0x300000, 1);
	*p = 0x5a;
	assert_int_equal(ftruncate(fd, 0x200000), 0);
	assert_lost_at(&f->m, p);
	close(fd);
	assert_nothing_leaked(f);
}

/* fn() in a child with the handler in front of the default action: its
 * exit status, or 128 + the signal that ended it. */
static int child_status(int (*fn)(void))
{
	int st;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		/* Nothing of cmocka's in the child: a fault outside the
		 * registry meets the default action. */
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0)
			dup2(null, 2);
		signal(SIGBUS, SIG_DFL);
		_exit(vu_sigbus_install(SIGBUS_CAP) == 0 ? fn() : 4);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
}

/* A page of a memfd, mapped, then cut from the file; NULL on error. */
static uint8_t *cut_page(void)
{
	int fd = memfd_create("vhostd-unit", MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, 0x1000) < 0)
		return NULL;
	uint8_t *p = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED,
			  fd, 0);
	if (p == MAP_FAILED || ftruncate(fd, 0) < 0)
		return NULL;
	close(fd);
	return p;
}

static int touch_registered(void)
{
	struct vu_sigbus_owner o = {0};
	uint8_t *p = cut_page();

	if (!p || vu_sigbus_add(p, 0x1000, &o) < 0)
		return 2;
	return peek(p) == 0 && vu_sigbus_take(&o) == (uintptr_t)p ? 0 : 3;
}

static int touch_unregistered(void)
{
	uint8_t *p = cut_page();

	return p ? peek(p) : 2;
}

static int touch_after_unregister(void)
{
	struct vu_sigbus_owner o = {0};
	uint8_t *p = cut_page();
	int id = p ? vu_sigbus_add(p, 0x1000, &o) : -1;

	if (id < 0)
		return 2;
	vu_sigbus_del(id);
	return peek(p);
}

/* The control case of the two below: registered, the process lives on. */
static void test_fault_in_registered_mapping_is_survived(void **state)
{
	(void)state;
	assert_int_equal(child_status(touch_registered), 0);
}

/* A real bug still ends the process, as SIGBUS always did. */
static void test_fault_outside_registered_mappings_still_kills(void **state)
{
	(void)state;
	assert_int_equal(child_status(touch_unregistered), 128 + SIGBUS);
}

static void test_fault_after_unregister_still_kills(void **state)
{
	(void)state;
	assert_int_equal(child_status(touch_after_unregister), 128 + SIGBUS);
}

/* With no entry left an unsealed file is refused, a sealed one is not;
 * an entry given back is taken again. */
static void test_full_registry_refuses_unsealed_region_only(void **state)
{
	struct fx *f = *state;
	struct vu_sigbus_owner o = {0};
	static int ids[SIGBUS_CAP];
	uint8_t *res = mmap(NULL, SIGBUS_CAP * 0x1000ul, PROT_NONE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uint32_t n = 0;
	int id;

	assert_true(res != MAP_FAILED);
	while ((id = vu_sigbus_add(res + n * 0x1000ul, 0x1000, &o)) >= 0)
		ids[n++] = id;
	assert_int_equal(id, -ENOSPC);
	assert_int_equal(n, SIGBUS_CAP);
	int nfds = tu_count_fds();
	assert_int_equal(vu_mem_add(&f->m, &layout[0], dup_of(f, 0)), -ENOSPC);
	assert_int_equal(tu_count_fds(), nfds);      /* fd consumed */
	assert_null(f->m.table);
	int fd = sealed_memfd(0x10000);
	assert_int_equal(vu_mem_add(&f->m, &layout[0], dup(fd)), 0);
	close(fd);
	vu_sigbus_del(ids[7]);
	assert_int_equal(vu_mem_add(&f->m, &layout[2], dup_of(f, 2)), 0);
	assert_int_equal(f->m.maps[1].guard, ids[7]);
	for (uint32_t i = 0; i < n; i++)
		if (i != 7)
			vu_sigbus_del(ids[i]);
	munmap(res, SIGBUS_CAP * 0x1000ul);
	assert_nothing_leaked(f);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_table_maps_each_region_at_its_file_offset),
		T(test_gpa_range_inside_one_region_translates),
		T(test_gpa_range_one_byte_past_region_end_is_null),
		T(test_gpa_len_overflowing_address_space_is_null),
		T(test_gpa_in_hole_or_outside_is_null),
		T(test_gpa_contig_splits_buffer_across_adjacent_regions),
		T(test_uva_translates_with_range_check),
		T(test_zero_size_region_refused),
		T(test_gpa_plus_size_wrap_refused),
		T(test_uva_plus_size_wrap_refused),
		T(test_offset_plus_size_wrap_refused),
		T(test_offset_past_end_of_file_refused),
		T(test_overlapping_regions_refused_map_unchanged),
		T(test_add_beyond_max_slots_is_enospc),
		T(test_remove_unknown_region_is_enoent),
		T(test_remove_middle_region_keeps_others_translatable),
		T(test_same_region_added_twice_is_counted),
		T(test_same_numbers_other_backing_refused),
		T(test_fds_consumed_on_success_and_on_failure),
		T(test_non_regular_fd_refused),
		T(test_hugetlbfs_offset_not_huge_page_aligned_refused),
		T(test_region_of_unsealed_file_is_guarded),
		T(test_region_of_file_sealed_against_shrinking_is_not_guarded),
		T(test_region_cut_to_zero_reads_zeros_and_is_reported),
		T(test_region_cut_to_half_is_lost_as_a_whole),
		T(test_dirty_log_cut_reads_zeros_and_is_reported),
		T(test_dirty_log_past_end_of_file_refused),
		T(test_fault_in_registered_mapping_is_survived),
		T(test_fault_outside_registered_mappings_still_kills),
		T(test_fault_after_unregister_still_kills),
		T(test_full_registry_refuses_unsealed_region_only),
		T(test_hugetlbfs_region_sealed_against_shrinking_stays_guarded),
		T(test_hugetlbfs_region_cut_reads_zeros_and_is_reported),
	};
#undef T

	/* As the daemon does at start (vhostd_main.c). */
	if (vu_sigbus_install(SIGBUS_CAP) != 0) {
		fprintf(stderr, "cannot install the SIGBUS handler\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
