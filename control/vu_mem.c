/* SPDX-License-Identifier: MIT */
#include "vu_mem.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "../datapath/log.h"
#include "../numa/mem.h"

#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC 0x958458f6
#endif

#define TAG "mem"
/* Every line names the device whose memory it is about. */
#define MLOG(lvl, who, fmt, ...) LOG_##lvl(TAG, "%s: " fmt, who, ##__VA_ARGS__)

void vu_mem_init(struct vu_mem *m, const char *owner)
{
	memset(m, 0, sizeof(*m));
	m->owner = owner ? owner : "?";
}

static void unmap_one(struct vu_mem_map *mp)
{
	if (mp->map_base)
		munmap(mp->map_base, mp->map_len);
	mp->map_base = NULL;
}

static void free_maps(struct vu_mem_map *maps, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		unmap_one(&maps[i]);
	free(maps);
}

void vu_mem_clear(struct vu_mem *m)
{
	free_maps(m->maps, m->n);
	free(m->table);
	vu_mem_init(m, m->owner);
}

int vu_mem_check_region(const char *who, const struct vu_mem_region *r)
{
	uint64_t sz = r->memory_size;

	if (sz == 0) {
		MLOG(ERR, who, "region gpa 0x%" PRIx64 " has zero size",
			r->guest_phys_addr);
		return -EINVAL;
	}
	if (r->guest_phys_addr + sz < r->guest_phys_addr ||
	    r->userspace_addr + sz < r->userspace_addr ||
	    r->mmap_offset + sz < r->mmap_offset) {
		MLOG(ERR, who, "region gpa 0x%" PRIx64 " uva 0x%" PRIx64
			" offset 0x%" PRIx64 " size 0x%" PRIx64
			" wraps around the address space",
			r->guest_phys_addr, r->userspace_addr, r->mmap_offset,
			sz);
		return -EINVAL;
	}
	return 0;
}

/* Validate against the fd and mmap it; does not close fd. */
static int map_one(const char *who, const struct vu_mem_region *r, int fd,
		   struct vu_mem_map *out)
{
	struct stat st;
	struct statfs sfs;
	int err = vu_mem_check_region(who, r);

	if (err)
		return err;
	if (fd < 0 || fstat(fd, &st) < 0 || fstatfs(fd, &sfs) < 0) {
		MLOG(ERR, who, "region gpa 0x%" PRIx64 ": bad fd %d",
			r->guest_phys_addr, fd);
		return -EBADF;
	}
	if (!S_ISREG(st.st_mode)) {
		MLOG(ERR, who, "region gpa 0x%" PRIx64 ": fd is not a memory "
			"file (mode 0%o)", r->guest_phys_addr, st.st_mode);
		return -EINVAL;
	}
	if (r->mmap_offset + r->memory_size > (uint64_t)st.st_size) {
		MLOG(ERR, who, "region gpa 0x%" PRIx64 ": offset 0x%" PRIx64
			" + size 0x%" PRIx64 " is past the end of the file "
			"(0x%" PRIx64 " bytes)", r->guest_phys_addr,
			r->mmap_offset, r->memory_size, (uint64_t)st.st_size);
		return -EINVAL;
	}
	bool huge = (uint64_t)sfs.f_type == HUGETLBFS_MAGIC;
	uint64_t pg = huge ? (uint64_t)sfs.f_bsize : (uint64_t)getpagesize();
	if (huge && (r->mmap_offset & (pg - 1))) {
		MLOG(ERR, who, "region gpa 0x%" PRIx64 ": hugetlbfs offset 0x%"
			PRIx64 " is not aligned to its page size 0x%" PRIx64,
			r->guest_phys_addr, r->mmap_offset, pg);
		return -EINVAL;
	}
	uint64_t aligned = r->mmap_offset & ~(pg - 1);
	uint64_t delta = r->mmap_offset - aligned;
	uint64_t len = align_up_u64(delta + r->memory_size, pg);
	if (len < r->memory_size || len > SIZE_MAX) {
		MLOG(ERR, who, "region gpa 0x%" PRIx64 ": size 0x%" PRIx64
			" too large", r->guest_phys_addr, r->memory_size);
		return -EINVAL;
	}
	void *p = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED,
		       fd, (off_t)aligned);
	if (p == MAP_FAILED) {
		err = -errno;
		MLOG(ERR, who, "region gpa 0x%" PRIx64 ": mmap of 0x%" PRIx64
			" bytes at offset 0x%" PRIx64 " failed: %s",
			r->guest_phys_addr, len, aligned, strerror(-err));
		return err;
	}
	/* Guest memory has no place in a core dump of the daemon. */
	madvise(p, (size_t)len, MADV_DONTDUMP);
	*out = (struct vu_mem_map){
		.reg = *r, .map_base = p, .map_len = (size_t)len,
		.hva = (uint8_t *)p + delta, .page_size = pg, .hugetlb = huge,
		.dev = st.st_dev, .ino = st.st_ino, .adds = 1,
	};
	/* Where the guest put it (only pages it touched already count). */
	uint32_t seen;
	char nodes[96];
	uint64_t mask = numa_range_nodes(out->hva, (size_t)r->memory_size,
					 (size_t)pg, 64, &seen);
	MLOG(INFO, who, "mapped gpa 0x%" PRIx64 "-0x%" PRIx64 " uva 0x%" PRIx64
		 " (%s pages of %" PRIu64 " KiB, %s %s)", r->guest_phys_addr,
		 r->guest_phys_addr + r->memory_size - 1, r->userspace_addr,
		 huge ? "huge" : "normal", pg / 1024,
		 mask & (mask - 1) ? "NUMA nodes" : "NUMA node",
		 seen ? numa_mask_fmt(mask, nodes, sizeof(nodes)) :
		 "unknown, no page in use yet");
	return 0;
}

static int cmp_gpa(const void *a, const void *b)
{
	const struct vu_mem_map *x = a, *y = b;

	if (x->reg.guest_phys_addr != y->reg.guest_phys_addr)
		return x->reg.guest_phys_addr < y->reg.guest_phys_addr ? -1 : 1;
	return 0;
}

/* maps must be sorted; refuses any guest-physical overlap. */
static int check_overlap(const char *who, const struct vu_mem_map *maps,
			 uint32_t n)
{
	for (uint32_t i = 1; i < n; i++) {
		const struct vu_mem_region *a = &maps[i - 1].reg;
		const struct vu_mem_region *b = &maps[i].reg;
		if (a->guest_phys_addr + a->memory_size > b->guest_phys_addr) {
			MLOG(ERR, who, "regions overlap: gpa 0x%" PRIx64 "+0x%"
				PRIx64 " and gpa 0x%" PRIx64 "+0x%" PRIx64,
				a->guest_phys_addr, a->memory_size,
				b->guest_phys_addr, b->memory_size);
			return -EINVAL;
		}
	}
	return 0;
}

static struct gmem *build_table(const struct vu_mem_map *maps, uint32_t n)
{
	struct gmem *t = malloc(sizeof(*t) + n * sizeof(t->r[0]));

	if (!t)
		return NULL;
	t->n = n;
	for (uint32_t i = 0; i < n; i++)
		t->r[i] = (struct gmem_region){
			.gpa = maps[i].reg.guest_phys_addr,
			.size = maps[i].reg.memory_size,
			.uva = maps[i].reg.userspace_addr,
			.hva = maps[i].hva,
		};
	return t;
}

/*
 * Sort, check and build the table for maps[0..n), then make it the device's
 * map.  On success the previous array is returned in *old (its mappings are
 * the caller's to keep or unmap); on error nothing changed.
 */
static int install(struct vu_mem *m, struct vu_mem_map *maps, uint32_t n,
		   struct vu_mem_map **old, uint32_t *old_n)
{
	qsort(maps, n, sizeof(*maps), cmp_gpa);
	int err = check_overlap(m->owner, maps, n);
	if (err)
		return err;
	struct gmem *t = build_table(maps, n);
	if (!t)
		return -ENOMEM;
	*old = m->maps;
	*old_n = m->n;
	free(m->table);
	m->maps = maps;
	m->n = n;
	m->table = t;
	return 0;
}

int vu_mem_set_table(struct vu_mem *m, const struct vu_mem_region *regs,
		     const int *fds, uint32_t n)
{
	struct vu_mem_map *maps = calloc(n ? n : 1, sizeof(*maps));
	struct vu_mem_map *old;
	uint32_t old_n, done = 0;
	int err = maps ? 0 : -ENOMEM;

	for (; !err && done < n; done++) {
		err = map_one(m->owner, &regs[done], fds[done], &maps[done]);
		if (err)
			break;
	}
	for (uint32_t i = 0; i < n; i++)
		close(fds[i]);
	if (!err)
		err = install(m, maps, n, &old, &old_n);
	if (err) {
		free_maps(maps, done);
		return err;
	}
	free_maps(old, old_n);
	return 0;
}

/* The region mapped with exactly reg's numbers from fd's file, or NULL. */
static struct vu_mem_map *find_same(struct vu_mem *m,
				    const struct vu_mem_region *reg, int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return NULL;
	for (uint32_t i = 0; i < m->n; i++) {
		struct vu_mem_map *mp = &m->maps[i];
		if (mp->reg.guest_phys_addr == reg->guest_phys_addr &&
		    mp->reg.memory_size == reg->memory_size &&
		    mp->reg.userspace_addr == reg->userspace_addr &&
		    mp->reg.mmap_offset == reg->mmap_offset &&
		    mp->dev == st.st_dev && mp->ino == st.st_ino)
			return mp;
	}
	return NULL;
}

int vu_mem_add(struct vu_mem *m, const struct vu_mem_region *reg, int fd)
{
	struct vu_mem_map *maps, *old;
	uint32_t old_n;
	int err;

	/* QEMU up to 7.2 sends each region once per queue pair (vu_mem.h). */
	struct vu_mem_map *same = find_same(m, reg, fd);
	if (same) {
		close(fd);
		same->adds++;
		MLOG(INFO, m->owner, "region gpa 0x%" PRIx64 " size 0x%" PRIx64
		     " added again from the same file: kept (%u adds)",
		     reg->guest_phys_addr, reg->memory_size, same->adds);
		return 0;
	}
	if (m->n >= VU_MEM_MAX_SLOTS) {
		MLOG(ERR, m->owner, "ADD_MEM_REG: all %u slots in use",
		     VU_MEM_MAX_SLOTS);
		close(fd);
		return -ENOSPC;
	}
	maps = malloc((m->n + 1) * sizeof(*maps));
	err = maps ? map_one(m->owner, reg, fd, &maps[m->n]) : -ENOMEM;
	close(fd);
	if (err) {
		free(maps);
		return err;
	}
	if (m->n)
		memcpy(maps, m->maps, m->n * sizeof(*maps));
	struct vu_mem_map added = maps[m->n];
	err = install(m, maps, m->n + 1, &old, &old_n);
	if (err) {
		unmap_one(&added);
		free(maps);
		return err;
	}
	free(old); /* its mappings live on in the new array */
	return 0;
}

int vu_mem_remove(struct vu_mem *m, const struct vu_mem_region *reg)
{
	for (uint32_t i = 0; i < m->n; i++) {
		const struct vu_mem_region *r = &m->maps[i].reg;
		if (r->guest_phys_addr != reg->guest_phys_addr ||
		    r->userspace_addr != reg->userspace_addr ||
		    r->memory_size != reg->memory_size)
			continue;
		if (m->maps[i].adds > 1) {   /* added more than once */
			m->maps[i].adds--;
			MLOG(INFO, m->owner, "region gpa 0x%" PRIx64 " size 0x%"
			     PRIx64 " removed once, still mapped (%u adds left)",
			     reg->guest_phys_addr, reg->memory_size,
			     m->maps[i].adds);
			return 0;
		}
		struct gmem *t = NULL;
		if (m->n > 1) {
			struct vu_mem_map tmp = m->maps[i];
			memmove(&m->maps[i], &m->maps[i + 1],
				(m->n - i - 1) * sizeof(m->maps[0]));
			t = build_table(m->maps, m->n - 1);
			if (!t) { /* put it back: nothing changed */
				memmove(&m->maps[i + 1], &m->maps[i],
					(m->n - i - 1) * sizeof(m->maps[0]));
				m->maps[i] = tmp;
				return -ENOMEM;
			}
			unmap_one(&tmp);
		} else {
			unmap_one(&m->maps[0]);
		}
		m->n--;
		free(m->table);
		m->table = t;
		MLOG(INFO, m->owner, "removed region gpa 0x%" PRIx64 " size 0x%" PRIx64,
			 reg->guest_phys_addr, reg->memory_size);
		return 0;
	}
	MLOG(ERR, m->owner, "REM_MEM_REG: no region gpa 0x%" PRIx64 " uva 0x%" PRIx64
		" size 0x%" PRIx64, reg->guest_phys_addr, reg->userspace_addr,
		reg->memory_size);
	return -ENOENT;
}
