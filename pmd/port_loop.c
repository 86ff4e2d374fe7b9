/* SPDX-License-Identifier: MIT */
/*
 * port_loop.c: the loop test port, a wire looped back on itself.
 *
 *   --port NAME=loop:[queues=N][,offloads][,node=N]
 *
 * Every frame transmitted on queue i is received on queue i, in order,
 * header and all.  A guest linked to it gets its own frames back through
 * the port code paths the NIC ports use (no kernel, no hardware), which is
 * what the tests want.  With "offloads" the port takes checksum and TSO
 * offloads on transmit and hands them on as received (a virtual wire);
 * without, the datapath completes them in software before transmit.
 * "node=N" makes it claim to sit on NUMA node N, as a NIC would (tests of
 * placement; its buffers are where the kernel put them).
 *
 * Each queue is a single-producer single-consumer ring of fixed slots: the
 * worker polling the transmit side owns prod*, the worker polling the
 * receive side owns cons*, each on its own cache line; one release store
 * per flush publishes a side's progress to the other.  No locks, no
 * allocation after open.
 */
#include <errno.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../datapath/log.h"
#include "port_types.h"

#define TAG "loop"
#define LOOP_SLOTS 256
#define LOOP_SLOT_PLAIN 9728               /* header + 9216-byte jumbo */
#define LOOP_SLOT_TSO (12 + 65536 + 512)   /* header + a 64 KiB GSO frame */

struct loop_q {
	/* Transmit side (the worker that polls the path into the port). */
	_Atomic uint32_t prod;         /* published: frames [cons, prod) */
	uint32_t prod_next;            /* reserved up to */
	uint32_t prod_done;            /* given to used() up to */
	uint64_t tx_packets, tx_bytes, tx_full, tx_too_big;
	/* Receive side (the worker that polls the path out of the port). */
	_Atomic uint32_t cons cache_aligned; /* published: slots free again */
	uint32_t cons_next;            /* dequeued up to */
	uint32_t cons_done;            /* given back by used() up to */
	uint64_t rx_packets, rx_bytes;
	/* Read-only after open. */
	uint8_t *buf cache_aligned;    /* LOOP_SLOTS * slot */
	uint32_t slot;
	uint32_t len[LOOP_SLOTS];      /* bytes in each slot, header included */
} cache_aligned;

struct loop_port {
	struct port port;
	struct loop_q *q;              /* nqueues */
	size_t map_len;                /* per queue */
};

static inline uint8_t *slot_ptr(const struct loop_q *q, uint32_t i)
{
	return q->buf + (size_t)(i % LOOP_SLOTS) * q->slot;
}

/* Transmit side ---------------------------------------------------- */

static int loop_reserve(void *arg, uint32_t len, struct vq_chain *c,
			uint16_t max)
{
	struct loop_q *q = arg;
	uint32_t cons = atomic_load_explicit(&q->cons, memory_order_acquire);

	(void)max;
	if (len > q->slot) {
		STAT_INC(q->tx_too_big);
		return 0;
	}
	if (q->prod_next - cons >= LOOP_SLOTS) {
		STAT_INC(q->tx_full);
		return 0;
	}
	c->head = (uint16_t)(q->prod_next % LOOP_SLOTS);
	c->nseg = 1;
	c->ndesc = 1;
	c->len = q->slot;
	c->seg[0] = (struct vq_seg){.p = slot_ptr(q, q->prod_next),
				    .len = q->slot};
	q->prod_next++;
	return 1;
}

static void loop_unreserve(void *arg, const struct vq_chain *c, uint16_t n)
{
	struct loop_q *q = arg;

	(void)c;
	q->prod_next -= n;
}

/* Chains are used in the order they were reserved (vnet's contract). */
static void loop_tx_used(void *arg, const struct vq_chain *c, uint32_t len)
{
	struct loop_q *q = arg;

	q->len[c->head] = len;
	q->prod_done++;
	STAT_INC(q->tx_packets);
	STAT_ADD(q->tx_bytes, len - sizeof(struct virtio_net_hdr));
}

static void loop_tx_flush(void *arg)
{
	struct loop_q *q = arg;

	atomic_store_explicit(&q->prod, q->prod_done, memory_order_release);
}

/* Receive side ----------------------------------------------------- */

static uint16_t loop_dequeue(void *arg, struct vq_chain *c, uint16_t n)
{
	struct loop_q *q = arg;
	uint32_t prod = atomic_load_explicit(&q->prod, memory_order_acquire);
	uint16_t k = 0;

	for (; k < n && q->cons_next != prod; k++, q->cons_next++) {
		uint32_t i = q->cons_next % LOOP_SLOTS;
		c[k].head = (uint16_t)i;
		c[k].nseg = 1;
		c[k].ndesc = 1;
		c[k].len = q->len[i];
		c[k].seg[0] = (struct vq_seg){.p = slot_ptr(q, i),
					      .len = q->len[i]};
	}
	return k;
}

/* The last n dequeued go back: dequeued in order, none used yet. */
static void loop_undequeue(void *arg, const struct vq_chain *c, uint16_t n)
{
	struct loop_q *q = arg;

	(void)c;
	q->cons_next -= n;
}

static void loop_rx_used(void *arg, const struct vq_chain *c, uint32_t len)
{
	struct loop_q *q = arg;

	(void)len;
	q->cons_done++;
	STAT_INC(q->rx_packets);
	STAT_ADD(q->rx_bytes, c->len - sizeof(struct virtio_net_hdr));
}

static void loop_rx_flush(void *arg)
{
	struct loop_q *q = arg;

	atomic_store_explicit(&q->cons, q->cons_done, memory_order_release);
}

/* Only the receive side dequeues and only the transmit side reserves:
 * each vq gets the half it needs, the other half never called. */
static const struct vq_port_ops loop_tx_ops = {
	.reserve = loop_reserve, .unreserve = loop_unreserve,
	.used = loop_tx_used, .flush = loop_tx_flush,
};
static const struct vq_port_ops loop_rx_ops = {
	.dequeue = loop_dequeue, .used = loop_rx_used, .flush = loop_rx_flush,
	.undequeue = loop_undequeue,
};

/* Set up ----------------------------------------------------------- */

struct loop_args {
	const char *name;
	uint32_t queues, size;
	bool offloads;
	int node;                 /* node=N: the NUMA node it claims, tests */
};

static int loop_arg(const char *key, const char *value, void *arg)
{
	struct loop_args *a = arg;

	if (key && !value && strcmp(key, "offloads") == 0) {
		a->offloads = true;
		return 0;
	}
	if (key && strcmp(key, "queues") == 0 &&
	    port_parse_u32(value, 1, PORT_MAX_QUEUES, &a->queues) == 0)
		return 0;
	uint32_t node;
	if (key && strcmp(key, "node") == 0 &&
	    port_parse_u32(value, 0, 63, &node) == 0) {
		a->node = (int)node;
		return 0;
	}
	LOG_ERR(TAG, "%s: bad loop port argument '%s%s%s' (%s)", a->name,
		key ? key : "", value ? "=" : "", value ? value : "",
		port_loop_type.usage);
	return -EINVAL;
}

static void loop_close(struct port *p)
{
	struct loop_port *lp = (struct loop_port *)p;

	for (uint32_t i = 0; lp->q && i < p->nqueues; i++)
		if (lp->q[i].buf)
			munmap(lp->q[i].buf, lp->map_len);
	free(lp->q);
	port_fini_common(p);
	free(lp);
}

static int loop_open(const char *name, const char *args, struct port **out)
{
	struct loop_args a = {.name = name, .queues = 1, .node = -1};
	char *copy = strdup(args ? args : "");
	struct loop_port *lp = calloc(1, sizeof(*lp));
	int err = copy && lp ? port_args(copy, false, loop_arg, &a) : -ENOMEM;

	free(copy);
	if (!err)
		err = port_init_common(&lp->port, &port_loop_type, name,
				       a.queues);
	if (!err) {
		lp->q = aligned_alloc(CACHE_LINE, a.queues * sizeof(*lp->q));
		err = lp->q ? 0 : -ENOMEM;
	}
	if (err) {
		if (lp)
			loop_close(&lp->port);
		return err;
	}
	memset(lp->q, 0, a.queues * sizeof(*lp->q));
	lp->port.numa_node = a.node;
	uint32_t slot = a.offloads ? LOOP_SLOT_TSO : LOOP_SLOT_PLAIN;
	lp->map_len = (size_t)LOOP_SLOTS * slot;
	for (uint32_t i = 0; i < a.queues; i++) {
		struct loop_q *q = &lp->q[i];
		void *m = mmap(NULL, lp->map_len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED) {
			err = -errno;
			LOG_ERR(TAG, "%s: cannot map %zu bytes of buffers: %s",
				name, lp->map_len, strerror(-err));
			loop_close(&lp->port);
			return err;
		}
		q->buf = m;
		q->slot = slot;
		vq_init_port(&lp->port.vqs[2 * i], &loop_tx_ops, q, false, name,
			     2 * i);
		vq_init_port(&lp->port.vqs[2 * i + 1], &loop_rx_ops, q, true,
			     name, 2 * i + 1);
	}
	struct ofl_caps caps = {a.offloads, a.offloads, a.offloads, false};
	lp->port.tx_caps = lp->port.rx_caps = caps;
	lp->port.frame_max = slot - (uint32_t)sizeof(struct virtio_net_hdr);
	LOG_INFO(TAG, "%s: loop port, %u queue pair(s), offloads %s", name,
		 a.queues, a.offloads ? "passed through" : "done in software");
	*out = &lp->port;
	return 0;
}

static void loop_stats(const struct port *p, FILE *f)
{
	const struct loop_port *lp = (const struct loop_port *)p;

	for (uint32_t i = 0; i < p->nqueues; i++) {
		const struct loop_q *q = &lp->q[i];
		fprintf(f, "portq port=%s queue=%u tx_packets=%" PRIu64
			" tx_bytes=%" PRIu64 " tx_full=%" PRIu64
			" tx_too_big=%" PRIu64 " rx_packets=%" PRIu64
			" rx_bytes=%" PRIu64 "\n", p->name, i,
			STAT_READ(q->tx_packets), STAT_READ(q->tx_bytes),
			STAT_READ(q->tx_full), STAT_READ(q->tx_too_big),
			STAT_READ(q->rx_packets), STAT_READ(q->rx_bytes));
	}
}

const struct port_type port_loop_type = {
	.name = "loop",
	.usage = "loop:[queues=N][,offloads][,node=N]",
	.open = loop_open,
	.stats = loop_stats,
	.close = loop_close,
};
