/* SPDX-License-Identifier: MIT */
#include "vu_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "../../datapath/log.h"
#include "../../numa/mem.h"

#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC 0x958458f6
#endif

#define TAG "mem"
/* Every line names the device whose memory it is about. */
#define MLOG(lvl, who, fmt, ...) LOG_##lvl(TAG, "%s: " fmt, who, ##__VA_ARGS__)

void vu_mem_init(struct vu_mem *m, const char *owner)
{
	memset(m, 0, sizeof(*m));
	atomic_store(&m->lost.lost_addr, 0);
	m->owner = owner ? owner : "?";
}

void vu_mem_unmap_file(struct vu_mem_file *f)
{
	if (!f->base)
		return;
	vu_sigbus_del(f->guard);   /* before the address range can be reused */
	munmap(f->base, f->len);
	f->base = NULL;
	f->guard = -1;
}

/* The region's mapping as a vu_mem_file (fields shared with it). */
static struct vu_mem_file file_of(const struct vu_mem_map *mp)
{
	return (struct vu_mem_file){
		.base = mp->map_base, .len = mp->map_len, .hva = mp->hva,
		.offset = mp->reg.mmap_offset, .page_size = mp->page_size,
		.hugetlb = mp->hugetlb, .sealed = mp->sealed,
		.guard = mp->guard, .dev = mp->dev, .ino = mp->ino,
	};
}

static void unmap_one(struct vu_mem_map *mp)
{
	struct vu_mem_file f = file_of(mp);

	vu_mem_unmap_file(&f);
	mp->map_base = NULL;
	mp->guard = -1;
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

/* The fd's file: regular, and (seals first, so that a sealed file's size
 * is final when it is read) whether it can shrink. */
static int file_facts(const char *who, const char *what, int fd,
		      struct stat *st, struct statfs *sfs, bool *sealed)
{
	int seals = fd < 0 ? -1 : fcntl(fd, F_GET_SEALS);

	*sealed = seals >= 0 && (seals & F_SEAL_SHRINK);
	if (fd < 0 || fstat(fd, st) < 0 || fstatfs(fd, sfs) < 0) {
		MLOG(ERR, who, "%s: bad fd %d", what, fd);
		return -EBADF;
	}
	if (!S_ISREG(st->st_mode)) {
		MLOG(ERR, who, "%s: fd is not a memory file (mode 0%o)", what,
		     st->st_mode);
		return -EINVAL;
	}
	return 0;
}

/* Zero size, off + size wrapping, or past the end of the file. */
static int check_range(const char *who, const char *what, uint64_t off,
		       uint64_t size, uint64_t file_size)
{
	if (size == 0 || off + size < off) {
		MLOG(ERR, who, "%s: offset 0x%" PRIx64 " size 0x%" PRIx64
		     " is empty or wraps around", what, off, size);
		return -EINVAL;
	}
	if (off + size > file_size) {
		MLOG(ERR, who, "%s: offset 0x%" PRIx64 " + size 0x%" PRIx64
		     " is past the end of the file (0x%" PRIx64 " bytes)", what,
		     off, size, file_size);
		return -EINVAL;
	}
	return 0;
}

/* Register f with vu_sigbus unless its file cannot shrink.  A sealed
 * hugetlbfs file is registered too: a page punched out of it
 * (FALLOC_FL_PUNCH_HOLE is not sealed off by F_SEAL_SHRINK) comes back
 * only if a free huge page is there, and faults with SIGBUS otherwise. */
static int guard(struct vu_mem *m, const char *what, struct vu_mem_file *f)
{
	f->guard = -1;
	if (f->sealed && !f->hugetlb)
		return 0;
	int id = vu_sigbus_add(f->base, f->len, &m->lost);
	if (id == -ENOSPC) {
		MLOG(ERR, m->owner, "%s: no room left to guard a mapping of "
		     "0x%zx bytes whose file may shrink (unsealed)", what,
		     f->len);
		return id;
	}
	f->guard = id < 0 ? -1 : id;  /* -ENOSYS: no handler, as before */
	return 0;
}

int vu_mem_map_file(struct vu_mem *m, const char *what, int fd, uint64_t off,
		    uint64_t size, struct vu_mem_file *out)
{
	const char *who = m->owner;
	struct stat st;
	struct statfs sfs;
	bool sealed;
	int err = file_facts(who, what, fd, &st, &sfs, &sealed);

	if (!err)
		err = check_range(who, what, off, size, (uint64_t)st.st_size);
	if (err)
		return err;
	bool huge = (uint64_t)sfs.f_type == HUGETLBFS_MAGIC;
	uint64_t pg = huge ? (uint64_t)sfs.f_bsize : (uint64_t)getpagesize();
	if (huge && (off & (pg - 1))) {
		MLOG(ERR, who, "%s: hugetlbfs offset 0x%" PRIx64 " is not "
		     "aligned to its page size 0x%" PRIx64, what, off, pg);
		return -EINVAL;
	}
	uint64_t aligned = off & ~(pg - 1);
	uint64_t delta = off - aligned;
	uint64_t len = align_up_u64(delta + size, pg);
	if (len < size || len > SIZE_MAX) {
		MLOG(ERR, who, "%s: size 0x%" PRIx64 " too large", what, size);
		return -EINVAL;
	}
	void *p = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED,
		       fd, (off_t)aligned);
	if (p == MAP_FAILED) {
		err = -errno;
		MLOG(ERR, who, "%s: mmap of 0x%" PRIx64 " bytes at offset 0x%"
		     PRIx64 " failed: %s", what, len, aligned, strerror(-err));
		return err;
	}
	*out = (struct vu_mem_file){
		.base = p, .len = (size_t)len, .hva = (uint8_t *)p + delta,
		.offset = off, .page_size = pg, .hugetlb = huge,
		.sealed = sealed, .dev = st.st_dev, .ino = st.st_ino,
	};
	err = guard(m, what, out);   /* before anything touches it */
	if (err) {
		munmap(p, (size_t)len);
		out->base = NULL;
		return err;
	}
	/* Guest memory has no place in a core dump of the daemon. */
	madvise(p, (size_t)len, MADV_DONTDUMP);
	return 0;
}

const char *vu_mem_file_guard_text(const struct vu_mem_file *f)
{
	if (!f->sealed)
		return f->guard >= 0 ? "not sealed: guarded" : "not sealed";
	return f->guard >= 0 ? "sealed against shrinking, guarded (hugetlbfs)" :
	       "sealed against shrinking";
}

/*
 * Where the guest put a region: the nodes of the pages it touched
 * already (numa_range_nodes).  A host with one node has the answer
 * without asking: each sampled page costs a page fault and two system
 * calls, together 2 ms per region on a virtualised host, and a device
 * rebuilt from the fd store maps its memory on the path of a restart.
 */
static uint64_t region_nodes(const void *hva, size_t len, size_t page,
			     uint32_t *seen)
{
	const struct numa_topo *t = numa_topo_get();

	if (numa_topo_nodes(t) == 1)
		for (uint32_t id = 0; id < t->nnodes; id++)
			if (t->node[id].present) {
				*seen = 1;
				return 1ull << id;
			}
	return numa_range_nodes(hva, len, page, 64, seen);
}

/* Validate against the fd and mmap it; does not close fd. */
static int map_one(struct vu_mem *m, const struct vu_mem_region *r, int fd,
		   struct vu_mem_map *out)
{
	const char *who = m->owner;
	struct vu_mem_file f;
	char what[48];
	int err = vu_mem_check_region(who, r);

	if (err)
		return err;
	snprintf(what, sizeof(what), "region gpa 0x%" PRIx64,
		 r->guest_phys_addr);
	err = vu_mem_map_file(m, what, fd, r->mmap_offset, r->memory_size, &f);
	if (err)
		return err;
	*out = (struct vu_mem_map){
		.reg = *r, .map_base = f.base, .map_len = f.len, .hva = f.hva,
		.page_size = f.page_size, .hugetlb = f.hugetlb, .dev = f.dev,
		.ino = f.ino, .sealed = f.sealed, .guard = f.guard, .adds = 1,
	};
	uint32_t seen;
	char nodes[96];
	uint64_t mask = region_nodes(out->hva, (size_t)r->memory_size,
				     (size_t)f.page_size, &seen);
	MLOG(INFO, who, "mapped gpa 0x%" PRIx64 "-0x%" PRIx64 " uva 0x%" PRIx64
		 " (%s pages of %" PRIu64 " KiB, %s %s; file %s)",
		 r->guest_phys_addr, r->guest_phys_addr + r->memory_size - 1,
		 r->userspace_addr, f.hugetlb ? "huge" : "normal",
		 f.page_size / 1024,
		 mask & (mask - 1) ? "NUMA nodes" : "NUMA node",
		 seen ? numa_mask_fmt(mask, nodes, sizeof(nodes)) :
		 "unknown, no page in use yet", vu_mem_file_guard_text(&f));
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
		err = map_one(m, &regs[done], fds[done], &maps[done]);
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
	err = maps ? map_one(m, reg, fd, &maps[m->n]) : -ENOMEM;
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

/* True when addr is inside f's mapping. */
static bool holds(const struct vu_mem_file *f, uintptr_t addr)
{
	return f->base && addr - (uintptr_t)f->base < f->len;
}

void vu_mem_lost_text(const struct vu_mem *m, const struct vu_mem_file *log,
		      uintptr_t addr, char *buf, size_t n)
{
	for (uint32_t i = 0; i < m->n; i++) {
		const struct vu_mem_map *mp = &m->maps[i];
		struct vu_mem_file f = file_of(mp);
		if (!holds(&f, addr))
			continue;
		const struct vu_mem_region *r = &mp->reg;
		uintptr_t hva = (uintptr_t)mp->hva;
		uint64_t at = r->guest_phys_addr +
			      (addr > hva ? (uint64_t)(addr - hva) : 0);
		snprintf(buf, n, "region gpa 0x%" PRIx64 "-0x%" PRIx64 " (file "
			 "offset 0x%" PRIx64 ", %s): page at gpa 0x%" PRIx64
			 " gone", r->guest_phys_addr,
			 r->guest_phys_addr + r->memory_size - 1,
			 r->mmap_offset, vu_mem_file_guard_text(&f),
			 at & ~(uint64_t)0xfff);
		return;
	}
	if (log && holds(log, addr)) {
		uintptr_t hva = (uintptr_t)log->hva;
		snprintf(buf, n, "dirty log (file offset 0x%" PRIx64 ", %s): "
			 "page at byte 0x%" PRIx64 " gone", log->offset,
			 vu_mem_file_guard_text(log),
			 (uint64_t)(addr > hva ? addr - hva : 0) &
			 ~(uint64_t)0xfff);
		return;
	}
	snprintf(buf, n, "a mapping released since (address 0x%" PRIxPTR ")",
		 addr);
}
