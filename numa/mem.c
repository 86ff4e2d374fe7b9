/* SPDX-License-Identifier: MIT */
#include "mem.h"

#include <errno.h>
#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../datapath/compiler.h"
#include "../datapath/log.h"

#define TAG "numa"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

int numa_addr_node(const void *p)
{
	int node = -1;

	/* In our page tables first: the kernel reports no node otherwise. */
	(void)*(const volatile uint8_t *)p;
	if (get_mempolicy(&node, NULL, 0, (void *)p,
			  MPOL_F_NODE | MPOL_F_ADDR) < 0 ||
	    node < 0 || node >= NUMA_NODES_MAX)
		return NUMA_NODE_UNKNOWN;
	return node;
}

uint64_t numa_range_nodes(const void *p, size_t len, size_t page,
			  uint32_t samples, uint32_t *seen)
{
	uintptr_t base = (uintptr_t)p & ~(uintptr_t)(page - 1);
	size_t pages = ((uintptr_t)p + len - base + page - 1) / page;
	uint64_t mask = 0;

	*seen = 0;
	if (!len || !samples)
		return 0;
	if (samples > pages)
		samples = (uint32_t)pages;
	for (uint32_t i = 0; i < samples; i++) {
		uint8_t *pg = (uint8_t *)(base + (pages * i / samples) * page);
		unsigned char vec[1] = {0};
		/* One byte of vec per 4 KiB page: ask for the first only. */
		if (mincore(pg, 1, vec) < 0 || !(vec[0] & 1))
			continue;
		int node = numa_addr_node(pg);
		if (node == NUMA_NODE_UNKNOWN)
			continue;
		mask |= 1ull << node;
		(*seen)++;
	}
	return mask;
}

const char *numa_mask_fmt(uint64_t mask, char *buf, size_t len)
{
	size_t at = 0;

	snprintf(buf, len, "-");
	for (int k = 0; k < 64; k++) {
		if (!(mask & (1ull << k)))
			continue;
		int n = snprintf(buf + at, len - at, "%s%d", at ? "," : "", k);
		if (n < 0 || (size_t)n >= len - at)
			break;
		at += (size_t)n;
	}
	return buf;
}

int numa_mask_node(uint64_t mask)
{
	if (!mask || (mask & (mask - 1)))
		return NUMA_NODE_UNKNOWN;
	return __builtin_ctzll(mask);
}

void numa_slab_init(struct numa_slab *s, size_t obj,
		    const struct numa_topo *topo)
{
	memset(s, 0, sizeof(*s));
	s->obj = (obj + CACHE_LINE - 1) & ~(size_t)(CACHE_LINE - 1);
	s->topo = topo;
}



/* mbind [p, p + len) to node (0 <= node < NUMA_NODES_MAX). */
static int bind_to(void *p, size_t len, int node, int mode, unsigned flags)
{
	unsigned long mask[NUMA_NODES_MAX / (8 * sizeof(unsigned long))] = {0};

	mask[node / (8 * sizeof(unsigned long))] |=
		1ul << (node % (8 * sizeof(unsigned long)));
	return mbind(p, len, mode, mask, NUMA_NODES_MAX + 1, flags) < 0 ?
	       -errno : 0;
}

int numa_mem_move(void *p, size_t len, int node)
{
	if (node < 0 || node >= NUMA_NODES_MAX)
		return -EINVAL;
	int err = bind_to(p, len, node, MPOL_PREFERRED, MPOL_MF_MOVE);
	if (err) {
		LOG_DEBUG(TAG, "cannot move %zu bytes to node %d: %s", len,
			  node, strerror(-err));
		return err;
	}
	return 0;
}

/* NUMA_CHUNK bytes of hugepages on node, populated now (a hugepage fault
 * that finds none would be SIGBUS later), or NULL. */
static void *map_huge(int node)
{
	void *m = mmap(NULL, NUMA_CHUNK, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);

	if (m == MAP_FAILED)
		return NULL;
	if ((node >= 0 && bind_to(m, NUMA_CHUNK, node, MPOL_BIND, 0) < 0) ||
	    madvise(m, NUMA_CHUNK, MADV_POPULATE_WRITE) < 0) {
		munmap(m, NUMA_CHUNK);
		return NULL;
	}
	return m;
}

/* Normal pages preferring node (another node's when it has none left). */
static void *map_normal(int node)
{
	void *m = mmap(NULL, NUMA_CHUNK, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		return NULL;
	if (node >= 0 && bind_to(m, NUMA_CHUNK, node, MPOL_PREFERRED, 0) < 0)
		LOG_WARN(TAG, "node %d: cannot bind memory to it (%s)", node,
			 strerror(errno));
	memset(m, 0, NUMA_CHUNK);   /* fault in now, under the policy */
	return m;
}

static bool hugepages_free(const struct numa_topo *t, int node)
{
	if (node >= 0)
		return numa_topo_huge_free(t, node, NUMA_CHUNK >> 10) > 0;
	for (uint32_t id = 0; id < t->nnodes; id++)
		if (numa_topo_huge_free(t, (int)id, NUMA_CHUNK >> 10))
			return true;
	return false;
}

static void *spare_main(void *arg)
{
	struct numa_slab *s = arg;

	s->spare = map_huge(s->spare_node);
	return NULL;
}

void numa_slab_prepare(struct numa_slab *s, int node)
{
	if (node < 0 || node >= NUMA_NODES_MAX || s->spare_running ||
	    s->chunks || !hugepages_free(s->topo, node))
		return;
	s->spare_node = node;
	s->spare = NULL;
	s->spare_running = pthread_create(&s->spare_thread, NULL, spare_main,
					  s) == 0;
}

/* The prepared chunk (its thread joined), if it is node's; else NULL (and
 * a chunk for another node is kept for that node's first chunk_new()). */
static void *spare_take(struct numa_slab *s, int node)
{
	if (s->spare_running) {
		pthread_join(s->spare_thread, NULL);
		s->spare_running = false;
	}
	if (!s->spare || s->spare_node != node)
		return NULL;
	void *m = s->spare;
	s->spare = NULL;
	return m;
}

static struct numa_chunk *chunk_new(struct numa_slab *s, int node)
{
	struct numa_chunk *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->node = node;
	c->base = spare_take(s, node);
	if (!c->base && hugepages_free(s->topo, node))
		c->base = map_huge(node);
	c->huge = c->base != NULL;
	if (!c->base) {
		if (!s->pool[node + 1].warned && node >= 0)
			LOG_WARN(TAG, "no 2 MiB hugepage to be had on node "
				 "%d: per-queue state on normal pages", node);
		else if (!s->pool[node + 1].warned)
			LOG_WARN(TAG, "no 2 MiB hugepage to be had: per-queue "
				 "state on normal pages");
		s->pool[node + 1].warned = true;
		c->base = map_normal(node);
	}
	if (!c->base) {
		free(c);
		return NULL;
	}
	c->next = s->chunks;
	s->chunks = c;
	return c;
}

static struct numa_chunk *chunk_of(const struct numa_slab *s, const void *o)
{
	for (struct numa_chunk *c = s->chunks; c; c = c->next)
		if ((const uint8_t *)o >= (const uint8_t *)c->base &&
		    (const uint8_t *)o < (const uint8_t *)c->base + NUMA_CHUNK)
			return c;
	return NULL;
}

void *numa_slab_alloc(struct numa_slab *s, int node, bool *huge)
{
	if (node < NUMA_NODE_UNKNOWN || node >= NUMA_NODES_MAX)
		node = NUMA_NODE_UNKNOWN;
	typeof(s->pool[0]) *pl = &s->pool[node + 1];
	void *o = pl->free;

	if (o) {
		memcpy(&pl->free, o, sizeof(void *));
	} else {
		if (!pl->tail || pl->tail_used + s->obj > NUMA_CHUNK) {
			struct numa_chunk *c = chunk_new(s, node);
			if (!c)
				return NULL;
			pl->tail = c;
			pl->tail_used = 0;
		}
		o = (uint8_t *)pl->tail->base + pl->tail_used;
		pl->tail_used += s->obj;
	}
	memset(o, 0, s->obj);
	if (huge)
		*huge = chunk_of(s, o)->huge;
	return o;
}

void numa_slab_free(struct numa_slab *s, void *o)
{
	if (!o)
		return;
	struct numa_chunk *c = chunk_of(s, o);
	if (!c)
		return;
	typeof(s->pool[0]) *pl = &s->pool[c->node + 1];
	memcpy(o, &pl->free, sizeof(void *));
	pl->free = o;
}

void numa_slab_fini(struct numa_slab *s)
{
	(void)spare_take(s, NUMA_NODE_UNKNOWN);
	if (s->spare)
		munmap(s->spare, NUMA_CHUNK);
	s->spare = NULL;
	while (s->chunks) {
		struct numa_chunk *c = s->chunks;
		s->chunks = c->next;
		munmap(c->base, NUMA_CHUNK);
		free(c);
	}
	memset(s->pool, 0, sizeof(s->pool));
}
