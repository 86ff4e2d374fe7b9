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
 * A mapping stays valid only while the front-end leaves its file alone: a
 * file truncated after it was mapped turns every access beyond the new
 * end into SIGBUS.  A file the front-end sealed against shrinking
 * (F_SEAL_SHRINK; QEMU's memfd backend does by default) cannot be; every
 * other mapping (and a sealed hugetlbfs one, whose pages can still be
 * punched out and fail to come back) is registered with vu_sigbus.h, which
 * on such a fault puts zero pages in its place and records the address in
 * the map's `lost` owner; the daemon then fails the device (vu_port.h).
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

#include "../../datapath/gmem.h"
#include "../wire/vu_proto.h"
#include "vu_sigbus.h"

/* Slots advertised by GET_MAX_MEM_SLOTS (same as QEMU's libvhost-user). */
#define VU_MEM_MAX_SLOTS 509u

/* vu_sigbus entries one device may hold at once: every slot, a new
 * SET_MEM_TABLE mapped before the old one goes, and two dirty logs (the
 * new one is mapped before the old one goes). */
#define VU_MEM_GUARDS_PER_DEV (VU_MEM_MAX_SLOTS + VU_MEM_TABLE_MAX_REGIONS + 2u)

/* One mapping of a front-end's file: a guest region's or the dirty log's. */
struct vu_mem_file {
	void *base;                /* what we mmap()ed; NULL: nothing */
	size_t len;
	uint8_t *hva;              /* base + (offset - aligned offset) */
	uint64_t offset;           /* of hva in the file */
	uint64_t page_size;        /* backing page size (4 KiB or huge) */
	bool hugetlb;
	bool sealed;               /* F_SEAL_SHRINK: the file cannot shrink */
	int guard;                 /* vu_sigbus entry, -1: none */
	dev_t dev;                 /* the file */
	ino_t ino;
};

struct vu_mem_map {
	struct vu_mem_region reg;  /* as the front-end described it */
	void *map_base;            /* what we mmap()ed */
	size_t map_len;
	uint8_t *hva;              /* map_base + (offset - aligned offset) */
	uint64_t page_size;        /* backing page size (4 KiB or huge) */
	bool hugetlb;
	dev_t dev;                 /* the backing file */
	ino_t ino;
	bool sealed;               /* its file cannot shrink (F_SEAL_SHRINK) */
	int guard;                 /* vu_sigbus entry, -1: none */
	uint32_t adds;             /* ADD_MEM_REGs of it not yet removed */
};

struct vu_mem {
	struct vu_mem_map *maps;   /* sorted by guest_phys_addr */
	uint32_t n;
	struct gmem *table;        /* what the datapath translates with */
	const char *owner;         /* device name for log lines */
	struct vu_sigbus_owner lost; /* a fault in one of the device's
				      * mappings (regions or dirty log) */
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

/*
 * Map [off, off + size) of fd (a regular file; kept open by the caller)
 * shared and writable for m's device; what names it in log lines ("dirty
 * log").  Refused with one log line naming the values: size 0 or off +
 * size wrapping (-EINVAL), a bad fd (-EBADF), a file that is not a regular
 * one or shorter than off + size (-EINVAL), a hugetlbfs off not aligned to
 * its page (-EINVAL), no vu_sigbus entry left for a file that can shrink
 * (-ENOSPC), mmap's errno.  An unsealed file is registered with
 * vu_sigbus before the call returns, with m->lost as its owner.
 */
int vu_mem_map_file(struct vu_mem *m, const char *what, int fd, uint64_t off,
		    uint64_t size, struct vu_mem_file *out);

/* Unregister and unmap (nothing if f->base is NULL). */
void vu_mem_unmap_file(struct vu_mem_file *f);

/* How f is protected, for log lines: "sealed against shrinking", ... */
const char *vu_mem_file_guard_text(const struct vu_mem_file *f);

/*
 * The mapping of m (or log, which may be NULL) holding addr, as text for
 * the log line that fails the device: "region gpa 0x0-0xffff (file offset
 * 0x0): page at gpa 0x5000 gone".  Always writes buf.
 */
void vu_mem_lost_text(const struct vu_mem *m, const struct vu_mem_file *log,
		      uintptr_t addr, char *buf, size_t n);

#endif
