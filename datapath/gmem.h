/* SPDX-License-Identifier: MIT */
/*
 * gmem.h: guest memory translation for the datapath.
 *
 * A struct gmem is an immutable table of the guest's memory regions, sorted
 * by guest-physical address and non-overlapping, each already mapped into
 * vhostd (control/backend/vu_mem.c builds, publishes and frees it).  Every lookup
 * checks the whole range [addr, addr + len) with overflow-safe arithmetic:
 * a range that is not entirely inside one region is never translated.
 */
#ifndef VHOSTD_GMEM_H
#define VHOSTD_GMEM_H

#include <stddef.h>
#include <stdint.h>

#include "compiler.h"

struct gmem_region {
	uint64_t gpa;   /* guest-physical start */
	uint64_t size;  /* bytes, > 0 */
	uint64_t uva;   /* front-end (VMM) virtual start */
	uint8_t *hva;   /* vhostd's mapping of gpa */
};

struct gmem {
	uint32_t n;
	struct gmem_region r[];
};

/* Index of the region holding gpa, or -1.  *hint is a last-hit cache owned
 * by the caller (one per queue, so workers never share it). */
static inline int gmem_find(const struct gmem *m, uint64_t gpa, uint32_t *hint)
{
	uint32_t h = *hint;

	if (likely(h < m->n && gpa - m->r[h].gpa < m->r[h].size))
		return (int)h;
	uint32_t lo = 0, hi = m->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct gmem_region *r = &m->r[mid];
		if (gpa < r->gpa)
			hi = mid;
		else if (gpa - r->gpa >= r->size)
			lo = mid + 1;
		else {
			*hint = mid;
			return (int)mid;
		}
	}
	return -1;
}

/*
 * Host pointer for guest range [gpa, gpa + len), or NULL when any byte of it
 * lies outside the region holding gpa.  len 0 only checks gpa itself.
 */
static inline void *gmem_gpa_to_hva(const struct gmem *m, uint64_t gpa,
				    uint64_t len, uint32_t *hint)
{
	if (unlikely(m == NULL))
		return NULL;
	int i = gmem_find(m, gpa, hint);
	if (unlikely(i < 0))
		return NULL;
	const struct gmem_region *r = &m->r[i];
	uint64_t off = gpa - r->gpa;
	if (unlikely(len > r->size - off))
		return NULL;
	return r->hva + off;
}

/*
 * For buffers that may straddle regions: host pointer for gpa and, in
 * *contig, how many of the len bytes from gpa are contiguous there
 * (1..len).  NULL when gpa is not guest memory.  Callers loop.
 */
static inline void *gmem_gpa_contig(const struct gmem *m, uint64_t gpa,
				    uint64_t len, uint64_t *contig,
				    uint32_t *hint)
{
	if (unlikely(m == NULL))
		return NULL;
	int i = gmem_find(m, gpa, hint);
	if (unlikely(i < 0))
		return NULL;
	const struct gmem_region *r = &m->r[i];
	uint64_t off = gpa - r->gpa;
	*contig = MIN(len, r->size - off);
	return r->hva + off;
}

/* Front-end virtual address range -> host pointer (control plane: rings). */
static inline void *gmem_uva_to_hva(const struct gmem *m, uint64_t uva,
				    uint64_t len)
{
	if (m == NULL)
		return NULL;
	for (uint32_t i = 0; i < m->n; i++) {
		const struct gmem_region *r = &m->r[i];
		uint64_t off = uva - r->uva;
		if (uva >= r->uva && off < r->size && len <= r->size - off)
			return r->hva + off;
	}
	return NULL;
}

/* Guest-physical address of a front-end virtual address (for dirty logging
 * of rings given by uva), or UINT64_MAX. */
static inline uint64_t gmem_uva_to_gpa(const struct gmem *m, uint64_t uva)
{
	if (m == NULL)
		return UINT64_MAX;
	for (uint32_t i = 0; i < m->n; i++) {
		const struct gmem_region *r = &m->r[i];
		if (uva >= r->uva && uva - r->uva < r->size)
			return r->gpa + (uva - r->uva);
	}
	return UINT64_MAX;
}

#endif
