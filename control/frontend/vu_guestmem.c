/* SPDX-License-Identifier: MIT */
#include "vu_guestmem.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../datapath/compiler.h"

static int gm_create_file(const struct vu_guestmem_opts *o)
{
	unsigned int seal = o->seal ? MFD_ALLOW_SEALING : 0;
	char path[PATH_MAX];
	int fd;

	switch (o->backing) {
	case VU_GUESTMEM_MEMFD:
		return memfd_create("vhostd-guest", MFD_CLOEXEC | seal);
	case VU_GUESTMEM_MEMFD_HUGE:
		return memfd_create("vhostd-guest",
				    MFD_CLOEXEC | MFD_HUGETLB | seal);
	case VU_GUESTMEM_HUGETLBFS:
		if (!o->hugetlbfs_dir) {
			errno = EINVAL;
			return -1;
		}
		if (snprintf(path, sizeof(path), "%s/vhostd-guest-XXXXXX",
			     o->hugetlbfs_dir) >= (int)sizeof(path)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		fd = mkostemp(path, O_CLOEXEC);
		if (fd >= 0)
			unlink(path); /* lives on while mapped or open */
		return fd;
	}
	errno = EINVAL;
	return -1;
}

/*
 * Open a backing file; *page gets its page size (st_blksize is the huge
 * page size on hugetlbfs, memfd huge pages included) and *size is rounded
 * up to a multiple of mult pages before the file is sized.
 */
static int gm_open(const struct vu_guestmem_opts *o, uint64_t *size,
		   uint64_t mult, uint64_t *page)
{
	struct stat st;
	int fd = gm_create_file(o);

	if (fd < 0)
		return -errno;
	int err = fstat(fd, &st) < 0 ? -errno : 0;

	if (!err && (st.st_blksize <= 0 || st.st_blksize > (1 << 30) ||
		     !is_pow2_u32((uint32_t)st.st_blksize)))
		err = -EINVAL;
	if (!err && (*size == 0 || *size > (1ULL << 46)))
		err = -EINVAL; /* 64 TiB: far beyond any test */
	if (err) {
		close(fd);
		return err;
	}
	*page = (uint64_t)st.st_blksize;
	uint64_t unit = *page * mult; /* mult need not be a power of two */
	*size = (*size + unit - 1) / unit * unit;
	int seals = F_SEAL_SHRINK | F_SEAL_GROW;
	if (ftruncate(fd, (off_t)*size) < 0 ||
	    (o->seal && fcntl(fd, F_ADD_SEALS, seals) < 0)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int gm_overlaps(const struct vu_guestmem *gm, uint64_t gpa,
		       uint64_t size)
{
	for (uint32_t i = 0; i < gm->nslots; i++) {
		const struct vu_guestmem_region *r = &gm->regions[i];
		if (r->in_use && gpa < r->gpa + r->size && r->gpa < gpa + size)
			return 1;
	}
	return 0;
}

static int gm_free_slot(const struct vu_guestmem *gm)
{
	for (uint32_t i = 0; i < VU_GUESTMEM_MAX_REGIONS; i++)
		if (!gm->regions[i].in_use)
			return (int)i;
	return -ENOSPC;
}

/* Map [off, off + size) of fd (which the region takes over) into slot. */
static int gm_map(struct vu_guestmem *gm, uint32_t slot, int fd,
		  uint64_t off, uint64_t size, uint64_t gpa)
{
	struct vu_guestmem_region *r = &gm->regions[slot];
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		       (off_t)off);

	if (p == MAP_FAILED) {
		int err = -errno;
		close(fd);
		return err;
	}
	*r = (struct vu_guestmem_region){
		.gpa = gpa, .size = size, .mmap_offset = off,
		.uva = p, .fd = fd, .in_use = 1,
	};
	if (slot >= gm->nslots)
		gm->nslots = slot + 1;
	return 0;
}

int vu_guestmem_init(struct vu_guestmem *gm, const struct vu_guestmem_opts *o)
{
	uint64_t total = o->size, page;
	uint32_t n = o->nregions ? o->nregions : 1;
	int fd, ret = 0;

	memset(gm, 0, sizeof(*gm));
	if (n > VU_MEM_TABLE_MAX_REGIONS)
		return -EINVAL;
	fd = gm_open(o, &total, n, &page);
	if (fd < 0)
		return fd;
	gm->page_size = page;
	uint64_t slice = total / n;
	uint64_t step = slice + align_up_u64(o->gpa_gap, page);
	if (o->gpa_base & (page - 1) || o->gpa_base + step * n < o->gpa_base) {
		close(fd);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < n && ret == 0; i++) {
		int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (dfd < 0)
			ret = -errno;
		else
			ret = gm_map(gm, i, dfd, slice * i, slice,
				     o->gpa_base + step * i);
	}
	close(fd);
	if (ret)
		vu_guestmem_fini(gm);
	return ret;
}

int vu_guestmem_add_region(struct vu_guestmem *gm,
			   const struct vu_guestmem_opts *o,
			   uint64_t gpa, uint64_t size)
{
	uint64_t page;
	int slot = gm_free_slot(gm);

	if (slot < 0)
		return slot;
	int fd = gm_open(o, &size, 1, &page);
	if (fd < 0)
		return fd;
	int err = 0;
	if (gpa & (page - 1) || gpa + size < gpa)
		err = -EINVAL;
	else if (gm_overlaps(gm, gpa, size))
		err = -EEXIST;
	if (err) {
		close(fd);
		return err;
	}
	if (gm->page_size == 0)
		gm->page_size = page;
	int ret = gm_map(gm, (uint32_t)slot, fd, 0, size, gpa);
	return ret ? ret : slot;
}

int vu_guestmem_remove_region(struct vu_guestmem *gm, uint32_t slot)
{
	struct vu_guestmem_region *r;

	if (slot >= gm->nslots || !gm->regions[slot].in_use)
		return -ENOENT;
	r = &gm->regions[slot];
	munmap(r->uva, r->size);
	close(r->fd);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	return 0;
}

const struct vu_guestmem_region *
vu_guestmem_region(const struct vu_guestmem *gm, uint32_t slot)
{
	if (slot >= gm->nslots || !gm->regions[slot].in_use)
		return NULL;
	return &gm->regions[slot];
}

int vu_guestmem_describe(const struct vu_guestmem *gm, uint32_t slot,
			 struct vu_mem_region *out)
{
	const struct vu_guestmem_region *r = vu_guestmem_region(gm, slot);

	if (!r)
		return -ENOENT;
	out->guest_phys_addr = r->gpa;
	out->memory_size = r->size;
	out->userspace_addr = (uint64_t)(uintptr_t)r->uva;
	out->mmap_offset = r->mmap_offset;
	return 0;
}

void *vu_guestmem_alloc(struct vu_guestmem *gm, uint64_t size, uint64_t align,
			uint64_t *gpa)
{
	if (size == 0 || align == 0 || align > gm->page_size ||
	    (align & (align - 1)))
		return NULL;
	for (; gm->cur < gm->nslots; gm->cur++, gm->off = 0) {
		struct vu_guestmem_region *r = &gm->regions[gm->cur];
		uint64_t start = align_up_u64(gm->off, align);
		if (!r->in_use || start > r->size || size > r->size - start)
			continue;
		gm->off = start + size;
		memset(r->uva + start, 0, size);
		if (gpa)
			*gpa = r->gpa + start;
		return r->uva + start;
	}
	return NULL;
}

void *vu_guestmem_gpa_to_ptr(const struct vu_guestmem *gm, uint64_t gpa,
			     uint64_t len)
{
	for (uint32_t i = 0; i < gm->nslots; i++) {
		const struct vu_guestmem_region *r = &gm->regions[i];
		if (r->in_use && gpa >= r->gpa && len <= r->size &&
		    gpa - r->gpa <= r->size - len)
			return r->uva + (gpa - r->gpa);
	}
	return NULL;
}

int vu_guestmem_ptr_to_gpa(const struct vu_guestmem *gm, const void *p,
			   uint64_t *gpa)
{
	uintptr_t a = (uintptr_t)p;

	for (uint32_t i = 0; i < gm->nslots; i++) {
		const struct vu_guestmem_region *r = &gm->regions[i];
		uintptr_t base = (uintptr_t)r->uva;
		if (r->in_use && a >= base && a - base < r->size) {
			*gpa = r->gpa + (a - base);
			return 0;
		}
	}
	return -EFAULT;
}

void vu_guestmem_fini(struct vu_guestmem *gm)
{
	for (uint32_t i = 0; i < gm->nslots; i++)
		if (gm->regions[i].in_use)
			vu_guestmem_remove_region(gm, i);
	memset(gm, 0, sizeof(*gm));
}
