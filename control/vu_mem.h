/* SPDX-License-Identifier: MIT */
/*
 * vu_mem.h: the guest memory map of one vhost-user device.
 *
 * Owns the mmap()s of the regions the front-end sends (SET_MEM_TABLE,
 * ADD_MEM_REG, REM_MEM_REG) and the immutable translation table
 * (datapath/gmem.h) the datapath reads.  Callers must have quiesced the
 * datapath of the device before any call that changes the map: the old
 * table and mappings are released inside the call.
 *
 * Every region is validated before anything is mapped: non-zero size, no
 * wrap-around of gpa + size, uva + size or offset + size, offset + size
 * inside the file, hugetlbfs offsets aligned to the huge page size, no
 * overlap in guest-physical space, at most VU_MEM_MAX_SLOTS regions.
 * Changes are all or nothing: on error the previous map stays in force.
 *
 * One exception to "no overlap": an ADD_MEM_REG of a region already mapped
 * with the very same numbers from the same file is counted, not mapped
 * again, and it then takes as many REM_MEM_REG to unmap it.  QEMU up to
 * 7.2 has one vhost device per queue pair and each sends every region
 * (QEMU 8.0 sends them once per connection).
 */
#ifndef VHOSTD_VU_MEM_H
#define VHOSTD_VU_MEM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../datapath/gmem.h"
#include "vu_proto.h"

/* Slots advertised by GET_MAX_MEM_SLOTS (same as QEMU's libvhost-user). */
#define VU_MEM_MAX_SLOTS 509u

struct vu_mem_map {
	struct vu_mem_region reg;  /* as the front-end described it */
	void *map_base;            /* what we mmap()ed */
	size_t map_len;
	uint8_t *hva;              /* map_base + (offset - aligned offset) */
	uint64_t page_size;        /* backing page size (4 KiB or huge) */
	bool hugetlb;
	dev_t dev;                 /* the backing file */
	ino_t ino;
	uint32_t adds;             /* ADD_MEM_REGs of it not yet removed */
};

struct vu_mem {
	struct vu_mem_map *maps;   /* sorted by guest_phys_addr */
	uint32_t n;
	struct gmem *table;        /* what the datapath translates with */
	const char *owner;         /* device name for log lines */
};

/* owner names the device in log lines; it must outlive m. */
void vu_mem_init(struct vu_mem *m, const char *owner);

/* Unmap everything (device reset, disconnect). */
void vu_mem_clear(struct vu_mem *m);

/* Replace the whole map (SET_MEM_TABLE).  fds[i] backs regs[i]; the fds are
 * always consumed (closed), on success and on error. */
int vu_mem_set_table(struct vu_mem *m, const struct vu_mem_region *regs,
		     const int *fds, uint32_t n);

/* Add one region (ADD_MEM_REG); fd is always consumed.  A region already
 * mapped with the same gpa, size, uva, offset and file is only counted. */
int vu_mem_add(struct vu_mem *m, const struct vu_mem_region *reg, int fd);

/* Remove the region with this gpa, uva and size (REM_MEM_REG; the mmap
 * offset is ignored, as the spec says); one added several times is only
 * uncounted until the last.  -ENOENT if there is none. */
int vu_mem_remove(struct vu_mem *m, const struct vu_mem_region *reg);

/* Check a region's numbers alone (no fd): 0 or -EINVAL with a log line. */
int vu_mem_check_region(const char *who, const struct vu_mem_region *reg);

#endif
