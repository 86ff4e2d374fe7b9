/* SPDX-License-Identifier: MIT */
/*
 * vu_guestmem.h: "guest" memory for the front-end library (vu_front).
 *
 * A front-end without a VM still has to share memory with the back-end:
 * this module creates it as shared file mappings (memfd, memfd with
 * MFD_HUGETLB, or a file in a hugetlbfs mount), describes it as regions
 * (guest physical address, size, our user address, mmap offset, fd) as
 * SET_MEM_TABLE and ADD_MEM_REG need them, and hands out ring and buffer
 * memory with a bump allocator.  The uva of a region is the address of
 * our own mapping, so pointers returned here are directly usable.
 *
 * Every region owns its fd and its mapping; vu_guestmem_fini() releases
 * them all.  Not thread safe.
 */
#ifndef VHOSTD_VU_GUESTMEM_H
#define VHOSTD_VU_GUESTMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../wire/vu_proto.h"

/* Enough for ADD_MEM_REG up to vhostd's 509 slots and one beyond
 * (vu-probe fills a back-end's slots). */
#define VU_GUESTMEM_MAX_REGIONS 512

enum vu_guestmem_backing {
	VU_GUESTMEM_MEMFD = 0,     /* memfd_create(), normal pages */
	VU_GUESTMEM_MEMFD_HUGE,    /* memfd_create(MFD_HUGETLB) */
	VU_GUESTMEM_HUGETLBFS,     /* unlinked file in opts.hugetlbfs_dir */
};

struct vu_guestmem_opts {
	uint64_t size;             /* total bytes; rounded up to the page */
	uint32_t nregions;         /* split into this many regions, 1..8 */
	uint64_t gpa_base;         /* guest address of region 0 */
	uint64_t gpa_gap;          /* hole between consecutive regions */
	enum vu_guestmem_backing backing;
	const char *hugetlbfs_dir; /* for VU_GUESTMEM_HUGETLBFS */
	/* memfd backings: seal the file against shrinking and growing once
	 * it is sized (F_SEAL_SHRINK | F_SEAL_GROW, what QEMU's
	 * memory-backend-memfd does with seal=on, its default). */
	bool seal;
};

struct vu_guestmem_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t mmap_offset;      /* offset of the region in fd */
	uint8_t *uva;              /* our mapping of [mmap_offset, +size) */
	int fd;                    /* owned */
	int in_use;                /* slot holds a region */
};

struct vu_guestmem {
	struct vu_guestmem_region regions[VU_GUESTMEM_MAX_REGIONS];
	uint32_t nslots;           /* slots [0, nslots) were ever used */
	uint64_t page_size;        /* of the backing (4 KiB or huge) */
	/* Bump allocator: next free byte in regions[cur]. */
	uint32_t cur;
	uint64_t off;
};

/*
 * Create the memory described by o: one file of o->size bytes (rounded up
 * so that it splits into o->nregions page aligned slices) whose slices
 * become the regions; region i maps the file at mmap_offset i * slice, so
 * regions beyond the first exercise a back-end's handling of non-zero mmap
 * offsets.  Region i starts at guest address gpa_base + i * (slice +
 * gpa_gap).  Each region owns its own dup() of the fd.  Returns 0, -EINVAL
 * (nregions > 8, size 0, gpa_base not page aligned), or the errno of
 * memfd_create/mkostemp/ftruncate/mmap (-ENOMEM, -EINVAL typically when no
 * huge pages are reserved).  On failure nothing is left allocated.
 */
int vu_guestmem_init(struct vu_guestmem *gm, const struct vu_guestmem_opts *o);

/*
 * Add one region of size bytes at guest address gpa, backed by a new file
 * of the same kind as at init (opts gives backing and hugetlbfs_dir; its
 * size fields are ignored).  Returns the region slot (>= 0), -ENOSPC when
 * all slots are taken, -EEXIST when gpa overlaps a region, or an errno.
 */
int vu_guestmem_add_region(struct vu_guestmem *gm,
			   const struct vu_guestmem_opts *o,
			   uint64_t gpa, uint64_t size);

/* Unmap and close region slot; -ENOENT if the slot is empty. */
int vu_guestmem_remove_region(struct vu_guestmem *gm, uint32_t slot);

/* Region in slot, or NULL if the slot is empty or out of range. */
const struct vu_guestmem_region *
vu_guestmem_region(const struct vu_guestmem *gm, uint32_t slot);

/* The wire description of slot (uva = our mapping address). */
int vu_guestmem_describe(const struct vu_guestmem *gm, uint32_t slot,
			 struct vu_mem_region *out);

/*
 * Bump-allocate size bytes aligned to align (a power of two, <= page
 * size) from the regions in slot order; an allocation never straddles two
 * regions.  The memory is zeroed.  Returns our pointer and stores the guest
 * address in *gpa (may be NULL), or returns NULL when nothing fits.
 */
void *vu_guestmem_alloc(struct vu_guestmem *gm, uint64_t size, uint64_t align,
			uint64_t *gpa);

/* Pointer for guest range [gpa, gpa + len) inside one region, or NULL. */
void *vu_guestmem_gpa_to_ptr(const struct vu_guestmem *gm, uint64_t gpa,
			     uint64_t len);

/* Guest address of our pointer p; -EFAULT if p is not guest memory. */
int vu_guestmem_ptr_to_gpa(const struct vu_guestmem *gm, const void *p,
			   uint64_t *gpa);

/* Unmap and close everything; gm can be inited again afterwards. */
void vu_guestmem_fini(struct vu_guestmem *gm);

#endif
