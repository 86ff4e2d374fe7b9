/* SPDX-License-Identifier: MIT */
/*
 * afxdp_sock.c: one NIC queue's UMEM and AF_XDP socket (libxdp's xsk API).
 *
 * The UMEM is AFXDP_FRAMES frames of AFXDP_FRAME bytes, on 2 MiB
 * hugepages when free ones exist (else normal pages, said in the log),
 * placed on the NIC's NUMA node when it has one (mbind before the kernel
 * pins the pages at XDP_UMEM_REG).  The socket binds with
 * XDP_USE_NEED_WAKEUP and the copy mode asked for: XDP_ZEROCOPY, XDP_COPY,
 * or neither, in which case the kernel tries zero-copy and falls back to
 * copy by itself; XDP_OPTIONS tells which it got.  libxdp loads its
 * default AF_XDP program through its dispatcher with the first socket of
 * an interface and adds each socket to that program's map.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_link.h>

#include "../datapath/log.h"
#include "../numa/mem.h"
#include "afxdp.h"

#define TAG "afxdp"
#define BUSY_POLL_USECS 20
#define BUSY_POLL_BUDGET 64

/* Prefer node for [p, p + len): the kernel still takes another node's
 * memory when node has none left, where a strict bind would fail the
 * registration (or, for hugepages, fault). */
static void umem_place(void *p, size_t len, int node, const char *name)
{
	int err = node < 0 ? 0 : numa_mem_move(p, len, node);

	if (err)
		LOG_INFO(TAG, "%s: cannot place the UMEM on node %d (%s): "
			 "left to the kernel", name, node, strerror(-err));
}

/* Map q's UMEM area: hugepages if the kernel can reserve them. */
static int umem_map(struct afxdp_q *q, int node, const char *name)
{
	size_t len = (size_t)AFXDP_FRAMES * AFXDP_FRAME;
	int flags = MAP_PRIVATE | MAP_ANONYMOUS;
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, flags | MAP_HUGETLB,
		       -1, 0);

	q->area_huge = m != MAP_FAILED;
	if (!q->area_huge) {
		LOG_WARN(TAG, "%s: queue %u: no %zu MiB of free hugepages for "
			 "the UMEM (%s): normal pages", name, q->queue_id,
			 len >> 20, strerror(errno));
		m = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);
	}
	if (m == MAP_FAILED) {
		int err = -errno;
		LOG_ERR(TAG, "%s: queue %u: cannot map a %zu MiB UMEM: %s",
			name, q->queue_id, len >> 20, strerror(-err));
		return err;
	}
	umem_place(m, len, node, name);
	q->area = m;
	q->area_len = len;
	return 0;
}

#define BUSY_RETRIES 20
#define BUSY_RETRY_US 50000

/* A failed xsk_socket__create() leaves the UMEM's fill and completion
 * rings mapped (libxdp keeps them for a retry) and xsk_umem__delete()
 * does not unmap them: do it here. */
static void umem_rings_unmap(struct afxdp_q *q)
{
	struct xdp_mmap_offsets off;
	socklen_t optlen = sizeof(off);
	int fd = xsk_umem__fd(q->umem);

	if (getsockopt(fd, SOL_XDP, XDP_MMAP_OFFSETS, &off, &optlen) < 0 ||
	    optlen != sizeof(off))
		return;
	munmap((uint8_t *)q->fill.ring - off.fr.desc,
	       off.fr.desc + AFXDP_RING * sizeof(uint64_t));
	munmap((uint8_t *)q->comp.ring - off.cr.desc,
	       off.cr.desc + AFXDP_RING * sizeof(uint64_t));
}

static int umem_create(struct afxdp_q *q, const char *name)
{
	struct xsk_umem_config uc = {
		.fill_size = AFXDP_RING, .comp_size = AFXDP_RING,
		.frame_size = AFXDP_FRAME, .frame_headroom = AFXDP_HEADROOM,
	};
	int err = xsk_umem__create(&q->umem, q->area, q->area_len, &q->fill,
				   &q->comp, &uc);

	if (err) {
		q->umem = NULL;
		LOG_ERR(TAG, "%s: queue %u: cannot register the UMEM: %s%s",
			name, q->queue_id, strerror(-err), err == -EPERM ?
			" (AF_XDP needs CAP_NET_RAW, CAP_BPF and CAP_NET_ADMIN: "
			"run as root)" : "");
	}
	return err;
}

static uint16_t bind_flags(enum afxdp_copy_mode m)
{
	return XDP_USE_NEED_WAKEUP | (m == AFXDP_MODE_ZEROCOPY ? XDP_ZEROCOPY :
				      m == AFXDP_MODE_COPY ? XDP_COPY : 0);
}

static const char *socket_hint(int err, const struct afxdp_args *a)
{
	switch (err) {
	case -EBUSY:
		return " (another AF_XDP socket or XDP user has this queue)";
	case -EOPNOTSUPP:
		return a->mode == AFXDP_MODE_ZEROCOPY ?
		       " (the driver has no AF_XDP zero-copy: try 'copy')" :
		       " (the driver has no XDP support)";
	case -EPERM:
	case -EACCES:
		return " (needs CAP_NET_ADMIN and CAP_BPF: run as root)";
	default:
		return "";
	}
}

static int socket_create(struct afxdp_q *q, const struct afxdp_args *a,
			 uint32_t xdp_flags)
{
	struct xsk_socket_config sc = {
		.rx_size = AFXDP_RING, .tx_size = AFXDP_RING,
		.xdp_flags = xdp_flags, .bind_flags = bind_flags(a->mode),
	};

	return xsk_socket__create(&q->xsk, a->iface, q->queue_id, q->umem,
				  &q->rx, &q->tx, &sc);
}

/* The socket, in the interface's XDP mode; a driver without native XDP
 * makes the first socket fall back to generic (skb) XDP. */
static int socket_open(struct afxdp_q *q, const struct afxdp_args *a,
		       struct afxdp_iface *ifc)
{
	int err = socket_create(q, a, ifc->xdp_flags);

	/* The kernel lets go of a closed socket's queue in a work item: for
	 * a moment after its last user exited (vhostd restarting) the queue
	 * is still busy.  Retry for up to a second (libxdp keeps the UMEM's
	 * rings for that), then say who might hold it. */
	for (int i = 0; err == -EBUSY && i < BUSY_RETRIES; i++) {
		usleep(BUSY_RETRY_US);
		err = socket_create(q, a, ifc->xdp_flags);
	}

	if (err == -EOPNOTSUPP && ifc->xdp_flags == XDP_FLAGS_DRV_MODE &&
	    !ifc->xdp_present && a->mode != AFXDP_MODE_ZEROCOPY) {
		/* Nothing of the failed attempt is bound: a fresh UMEM. */
		umem_rings_unmap(q);
		xsk_umem__delete(q->umem);
		q->umem = NULL;
		err = umem_create(q, a->name);
		if (err)
			return err;
		LOG_INFO(TAG, "%s: %s has no native XDP: generic (skb) XDP",
			 a->name, a->iface);
		ifc->xdp_flags = XDP_FLAGS_SKB_MODE;
		err = socket_create(q, a, ifc->xdp_flags);
	}
	if (err) {
		q->xsk = NULL;
		LOG_ERR(TAG, "%s: cannot open an AF_XDP socket on %s queue %u: "
			"%s%s", a->name, a->iface, q->queue_id, strerror(-err),
			socket_hint(err, a));
	}
	return err;
}

static bool socket_zerocopy(int fd)
{
	struct xdp_options o = {0};
	socklen_t len = sizeof(o);

	return getsockopt(fd, SOL_XDP, XDP_OPTIONS, &o, &len) == 0 &&
	       (o.flags & XDP_OPTIONS_ZEROCOPY);
}

int afxdp_q_open(struct afxdp_q *q, const struct afxdp_args *a,
		 struct afxdp_iface *ifc)
{
	int err = umem_map(q, ifc->numa_node, a->name);

	if (!err)
		err = umem_create(q, a->name);
	if (!err)
		err = socket_open(q, a, ifc);
	if (err) {
		afxdp_q_close(q);
		return err;
	}
	q->fd = xsk_socket__fd(q->xsk);
	q->zerocopy = socket_zerocopy(q->fd);
	afxdp_q_prime(q);
	return 0;
}

void afxdp_q_close(struct afxdp_q *q)
{
	if (q->xsk)
		xsk_socket__delete(q->xsk);
	else if (q->umem)
		umem_rings_unmap(q);
	if (q->umem)
		xsk_umem__delete(q->umem);
	if (q->area)
		munmap(q->area, q->area_len);
	q->xsk = NULL;
	q->umem = NULL;
	q->area = NULL;
	q->fd = -1;
}

int afxdp_q_busy_poll(struct afxdp_q *q, const char *name)
{
	static const struct { int opt, val; const char *what; } o[] = {
		{SO_PREFER_BUSY_POLL, 1, "SO_PREFER_BUSY_POLL"},
		{SO_BUSY_POLL, BUSY_POLL_USECS, "SO_BUSY_POLL"},
		{SO_BUSY_POLL_BUDGET, BUSY_POLL_BUDGET, "SO_BUSY_POLL_BUDGET"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(o); i++) {
		if (setsockopt(q->fd, SOL_SOCKET, o[i].opt, &o[i].val,
			       sizeof(o[i].val)) == 0)
			continue;
		int err = -errno;
		LOG_WARN(TAG, "%s: queue %u: the kernel refuses %s=%d (%s): "
			 "polling without busy-poll", name, q->queue_id,
			 o[i].what, o[i].val, strerror(-err));
		return err;
	}
	q->busy_poll = true;
	return 0;
}
