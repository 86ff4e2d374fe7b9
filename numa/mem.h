/* SPDX-License-Identifier: MIT */
/*
 * mem.h: where memory lives, and memory placed on a node.
 *
 * numa_addr_node() asks the kernel (get_mempolicy MPOL_F_NODE|MPOL_F_ADDR)
 * which node holds a mapped page, after reading a byte of it so that the
 * page is in this process's page tables.  Only call it on pages that are
 * known to be populated (a vring the guest wrote): reading a hole of a
 * shared file allocates a page there.  numa_range_nodes() samples a whole
 * mapping without that side effect: it looks only at pages mincore() says
 * are resident.
 *
 * A numa_slab hands out fixed-size, zeroed, cache-aligned objects on a
 * given node, carved from 2 MiB chunks: a hugepage bound to the node when
 * the node has a free one, else normal pages bound to it (with a warning,
 * once per node).  Objects are never returned to the kernel, only reused;
 * the slab serves per-queue state, whose count is bounded.  Control
 * thread only.
 */
#ifndef VHOSTD_NUMA_MEM_H
#define VHOSTD_NUMA_MEM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "topo.h"

#define NUMA_NODE_UNKNOWN (-1)

/* Node of the page holding p, or NUMA_NODE_UNKNOWN. */
int numa_addr_node(const void *p);

/* Node mask (bit k: node k) of the resident pages among up to `samples`
 * pages spread evenly over [p, p + len) (page: the mapping's page size).
 * *seen gets how many sampled pages were resident. */
uint64_t numa_range_nodes(const void *p, size_t len, size_t page,
			  uint32_t samples, uint32_t *seen);

/* "0", "0,1" or "-" (empty mask) into buf. */
const char *numa_mask_fmt(uint64_t mask, char *buf, size_t len);

/* The one node of mask, or NUMA_NODE_UNKNOWN (empty or several). */
int numa_mask_node(uint64_t mask);

/* Prefer node for the pages of [p, p + len) (page-aligned), moving those
 * already there.  0 or -errno (logged at debug level). */
int numa_mem_move(void *p, size_t len, int node);

#define NUMA_CHUNK (2u << 20)

struct numa_chunk {
	struct numa_chunk *next;   /* the slab's chunks, for numa_slab_fini */
	void *base;                /* NUMA_CHUNK bytes */
	int node;
	bool huge;
};

struct numa_slab {
	size_t obj;                /* object size, cache-line multiple */
	const struct numa_topo *topo;
	struct numa_chunk *chunks;
	/* Per node (index node + 1: 0 is "no node"): free objects, linked
	 * through their first word, and the unused tail of the last chunk. */
	struct {
		void *free;
		struct numa_chunk *tail;
		size_t tail_used;
		bool warned;
	} pool[NUMA_NODES_MAX + 1];
	/* numa_slab_prepare(): a hugepage chunk being mapped by a helper
	 * thread for node spare_node, taken by the first chunk_new() there. */
	pthread_t spare_thread;
	bool spare_running;
	int spare_node;
	void *spare;
};

/* obj: object size (at most NUMA_CHUNK).  topo: for free hugepages. */
void numa_slab_init(struct numa_slab *s, size_t obj,
		    const struct numa_topo *topo);

/*
 * A zeroed object on node (NUMA_NODE_UNKNOWN: wherever the kernel puts
 * it); *huge (may be NULL) tells whether it sits on a hugepage.  NULL when
 * out of memory.
 */
void *numa_slab_alloc(struct numa_slab *s, int node, bool *huge);

/*
 * Start mapping a hugepage chunk for node on a helper thread (when node
 * has a free hugepage): the kernel clears its 2 MiB while the caller goes
 * on, and the first object allocated for node later takes it (a chunk
 * faulted in there costs 0.3-1 ms on a virtualised host, on a restart's
 * path).  Once, before any allocation; NUMA_NODE_UNKNOWN does nothing.
 */
void numa_slab_prepare(struct numa_slab *s, int node);

/* Give o back (to the pool of the node it was allocated for). */
void numa_slab_free(struct numa_slab *s, void *o);

/* Unmap every chunk (no object may be in use). */
void numa_slab_fini(struct numa_slab *s);

#endif
