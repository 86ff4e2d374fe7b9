/* SPDX-License-Identifier: MIT */
#include "vhostd_dp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../datapath/log.h"
#include "../../datapath/vq_pos.h"
#include "../backend/vu_ring.h"
#include "vhostd_bridge.h"

#define TAG "dp"

static bool has(const struct vu_dev *d, int bit)
{
	return d->features & BIT_ULL(bit);
}

/* Build vq i of port p from the ring's control state (device paused). */
static bool vq_build(struct dp_port *p, uint32_t i)
{
	struct vu_dev *d = p->dev;
	const struct vu_vring *vr = &d->vr[i];

	/* Ready: started, and its size and areas checked for the layout
	 * (RING_PACKED, EVENT_IDX) the features give now, built below. */
	if (!vu_vring_ready(d, i))
		return false;
	bool logging = has(d, VHOST_F_LOG_ALL) && d->log.base;
	bool packed = has(d, VIRTIO_F_RING_PACKED);
	/* Packed: SET_VRING_BASE's encoding (vu_ring.c), split: the index. */
	uint16_t at = (uint16_t)(packed ? (vr->base & 0x7fff) : vr->base);
	uint16_t used_at = (uint16_t)((vr->base >> 16) & 0x7fff);
	if (packed && (at >= vr->num || used_at >= vr->num)) {
		LOG_ERR(TAG, "%s: ring %u: packed base 0x%x is outside the ring "
			"(size %u); not started", d->name, i, vr->base, vr->num);
		return false;
	}
	struct vq_cfg c = {
		.index = i, .dev_name = d->name, .packed = packed,
		.desc = vr->desc, .avail = vr->avail, .used = vr->used,
		.size = (uint16_t)vr->num, .last_avail = at,
		.avail_wrap = (vr->base >> 15) & 1, .used_idx = used_at,
		.used_wrap = vr->base >> 31, .desc_gpa = vr->desc_gpa,
		.event_idx = has(d, VIRTIO_RING_F_EVENT_IDX),
		.indirect = has(d, VIRTIO_RING_F_INDIRECT_DESC),
		.mrg_rxbuf = has(d, VIRTIO_NET_F_MRG_RXBUF),
		.in_order = has(d, VIRTIO_F_IN_ORDER),
		.tx = i & 1, .mem = d->mem.table,
		.log = logging ? &d->log : NULL, .used_gpa = vr->used_gpa,
		.log_used = vr->addr.flags & BIT_ULL(VHOST_VRING_F_LOG),
		.call_fd = vr->call_fd, .err_fd = vr->err_fd,
		.pos = packed && d->pos ? &d->pos[i] : NULL,
	};
	/* Counters live as long as the daemon: keep them across rebuilds. */
	struct vq *vq = dp_vq(p, i);
	struct vq_stats keep = vq->stats;
	vq_init(vq, &c);
	vq->stats = keep;
	return true;
}

/* What a port is, whichever kind: a guest (dev) or a NIC port (nic). */
static uint32_t nrings(const struct dp_port *p)
{
	return p->nic ? 2 * p->nic->nqueues : p->dev ? p->dev->nvrings : 0;
}

static bool ring_enabled(const struct dp_port *p, uint32_t i)
{
	return p->nic ? true : p->dev->vr[i].enabled;
}

static uint32_t hdr_len(const struct dp_port *p)
{
	return p->nic ? sizeof(struct virtio_net_hdr) :
	       vu_dev_vnet_hdr_len(p->dev);
}

/* Offloads p's frames may ask for (as a sender). */
static struct ofl_caps snd_caps(const struct dp_port *p)
{
	if (p->nic)
		return p->nic->rx_caps;
	return (struct ofl_caps){has(p->dev, VIRTIO_NET_F_CSUM),
				 has(p->dev, VIRTIO_NET_F_HOST_TSO4),
				 has(p->dev, VIRTIO_NET_F_HOST_TSO6), false};
}

/* Offloads p takes (as a receiver). */
static struct ofl_caps rcv_caps(const struct dp_port *p)
{
	if (p->nic)
		return p->nic->tx_caps;
	return (struct ofl_caps){has(p->dev, VIRTIO_NET_F_GUEST_CSUM),
				 has(p->dev, VIRTIO_NET_F_GUEST_TSO4),
				 has(p->dev, VIRTIO_NET_F_GUEST_TSO6), false};
}

/*
 * The longest frame p takes as a receiver without GSO (header excluded;
 * vnet.h: vnet_path.frame_max):
 *  - a NIC port: its own (port.h: frame_max, per type);
 *  - a guest that negotiated VIRTIO_NET_F_MTU and no GUEST_TSO4/6: its MTU
 *    (virtio 1.1 5.1.4.1: the driver uses at most mtu) and an Ethernet
 *    header with one VLAN tag;
 *  - any other guest: VNET_FRAME_MAX.  Its posted buffers are then the
 *    limit (a frame they cannot hold is NO_RX_BUF): with GUEST_TSO4/6 or
 *    MRG_RXBUF a guest takes 64 KiB frames (5.1.6.3.1: such buffers).
 */
static uint32_t frame_max(const struct dp_port *p)
{
	if (p->nic)
		return MIN(p->nic->frame_max, VNET_FRAME_MAX);
	if (has(p->dev, VIRTIO_NET_F_MTU) && p->dev->mtu &&
	    !has(p->dev, VIRTIO_NET_F_GUEST_TSO4) &&
	    !has(p->dev, VIRTIO_NET_F_GUEST_TSO6))
		return MIN(p->dev->mtu + VNET_L2_MAX, VNET_FRAME_MAX);
	return VNET_FRAME_MAX;
}

const char *dp_port_name(const struct dp_port *p)
{
	return p->nic ? p->nic->name : p->dev ? p->dev->name : "?";
}

/* The port whose RX queues port p feeds (its guest's TX, or the source),
 * or NULL (discard). */
struct dp_port *dp_target(const struct dp *dp, const struct dp_port *p)
{
	/* &dp->ports[...]: p itself, without the const. */
	if (p->reflect || p->source)
		return &dp->ports[p - dp->ports];
	if (p->peer < 0)
		return NULL;
	/* A peer not attached yet (a restart's first device is resumed
	 * before its peer joins: dp_attach) is no target until it is. */
	struct dp_port *t = &dp->ports[p->peer];
	return t->dev || t->nic ? t : NULL;
}

/* A front-end stops a device one ring at a time (GET_VRING_BASE; QEMU
 * starts with RX).  From the first stop on, nothing more is taken from the
 * device's TX rings: what its guest sent stays in the ring, counted in the
 * base the front-end reads, for whichever back-end runs the rings next
 * (after a migration, a restart), instead of being taken and dropped for
 * want of a receiving ring. */
static bool stopping(const struct dp_port *p)
{
	for (uint32_t i = 0; p->dev && i < p->dev->nvrings; i++)
		if (p->dev->vr[i].stopped)
			return true;
	return false;
}

/*
 * TX ring i is taken from only when it is started and enabled.  The spec
 * says a started but disabled TX ring is processed and its frames
 * discarded, but a front-end always starts a ring before it enables it
 * (QEMU: SET_VRING_KICK, then SET_VRING_ENABLE), and after a back-end
 * restart the guest's TX ring is full of frames posted during the outage:
 * discarding them there lost up to a ring of frames on every restart.
 * Left on the ring, they go when the ring is enabled (DPDK's vhost does
 * not touch a disabled ring either); a source port's TX is discarded
 * anyway.
 */
static bool tx_polled(const struct dp_port *p, uint32_t i)
{
	return p->vq_live[i] && (p->source || ring_enabled(p, i));
}

/* A path may be polled when its TX queue is live (or, for a source, its RX
 * queue), neither its own port nor the port it delivers to is paused (a
 * paused port is off limits) and its own device is not being stopped. */
bool dp_path_live(struct dp *dp, struct dp_port *p, uint32_t qp)
{
	struct dp_port *t = dp_target(dp, p);

	if (p->bridge >= 0 && !dp_bridge_steady(dp, p->bridge))
		return false;
	return p->qps[qp] && !p->paused && (!t || !t->paused) && !p->stopping &&
	       !p->held && (!t || !t->held) &&
	       (tx_polled(p, 2 * qp + 1) || (p->source && p->vq_live[2 * qp]));
}

bool dp_rx_dst(const struct dp_port *t, uint32_t qp, struct vnet_dst *d)
{
	uint32_t rx = 2 * qp;

	if (rx >= nrings(t) || !t->vq_live[rx] || !ring_enabled(t, rx))
		return false;
	*d = (struct vnet_dst){dp_vq(t, rx), hdr_len(t), frame_max(t),
			       rcv_caps(t)};
	return true;
}

/*
 * A --link path whose queue pair the peer t does not have enabled: spread
 * its frames over t's enabled receiving queues (spread.h) rather than drop
 * them.  t's queue k is then written by p's path k and by these, so all of
 * p's paths go to one worker (dp_group_worker).
 */
static void link_spread(struct dp_port *p, const struct dp_port *t,
			struct vnet_path *path, uint32_t qp)
{
	struct spread *s = &p->spread;

	if (!s->q)
		s->q = calloc(dp_npairs(t) ? dp_npairs(t) : 1, sizeof(*s->q));
	if (!s->q)
		return;   /* out of memory: dropped as DST_DOWN */
	s->nq = 0;
	for (uint32_t k = 0; k < dp_npairs(t); k++)
		if (t->qps[k] && dp_rx_dst(t, k, &s->q[s->nq]))
			s->nq++;
	if (!s->nq)
		return;
	path->pick = spread_pick;
	path->pass = spread_pass;
	path->repeat = NULL;     /* a flow hash reads past what repeats */
	path->hint = NULL;
	path->pick_ctx = s;
	path->qp = (uint16_t)qp;
}

/* Set path qp of p from the rings' state; it must not be published. */
void dp_path_refresh(struct dp *dp, struct dp_port *p, uint32_t qp)
{
	if (!p->qps[qp])
		return;
	struct vnet_path *path = &p->qps[qp]->path;
	struct dp_port *t = dp_target(dp, p);
	uint32_t rx = 2 * qp;
	bool feed = p->source || ring_enabled(p, rx + 1);

	path->src = tx_polled(p, rx + 1) ? dp_vq(p, rx + 1) : NULL;
	path->dst = NULL;
	path->dst_none = t ? VNET_DROP_DST_DOWN : VNET_DROP_NO_PEER;
	if (feed && t && rx < nrings(t) && t->vq_live[rx] &&
	    ring_enabled(t, rx))
		path->dst = dp_vq(t, rx);
	path->source = p->source;
	path->snd = snd_caps(p);
	path->rcv = t ? rcv_caps(t) : (struct ofl_caps){0, 0, 0, 0};
	path->src_hdr_len = hdr_len(p);
	path->dst_hdr_len = t ? hdr_len(t) : 0;
	path->frame_max = t ? frame_max(t) : VNET_FRAME_MAX;
	path->reflect = p->reflect;
	dp_bridge_path(dp, p, path, qp);
	if (!path->pick && !path->dst && feed && path->src && p->peer >= 0 && t)
		link_spread(p, t, path, qp);
	/* Not published: no worker reads it now. */
	atomic_store_explicit(&path->abandon, false, memory_order_relaxed);
}

uint32_t dp_npairs(const struct dp_port *p)
{
	return nrings(p) / 2;
}

/* A path's poll function. */
static wk_poll_fn poll_fn(const struct dp_port *p, const struct vnet_path *path)
{
	return p->source ? vnet_source_poll :
	       path->pick ? vnet_pick_poll : vnet_path_poll;
}

/* Place what changed and give every worker a new list of its paths. */
int dp_publish(struct dp *dp)
{
	/* Before dp_start() no worker has a list: nothing to replace. */
	if (dp->halted || !dp->started)
		return 0;
	bool changed = dp_place(dp);
	struct wk_list **lists = calloc(dp->nworkers, sizeof(*lists));

	if (!lists)
		return -ENOMEM;
	for (uint32_t w = 0; w < dp->nworkers; w++) {
		lists[w] = wk_list_new(dp->pw[w].load);
		if (!lists[w]) {
			while (w--)
				free(lists[w]);
			free(lists);
			return -ENOMEM;
		}
		lists[w]->n = 0;
	}
	for (uint32_t i = 0; i < dp->nports; i++) {
		struct dp_port *p = &dp->ports[i];
		for (uint32_t qp = 0; qp < dp_npairs(p); qp++) {
			struct dp_qp *q = p->qps[qp];
			if (!q || q->worker < 0)
				continue;
			struct wk_list *l = lists[q->worker];
			l->wake[l->n] = dp_wake(p, q, qp);
			l->items[l->n++] = (struct wk_item){
				poll_fn(p, &q->path), &q->path, vnet_path_abandon,
				&q->wk};
		}
	}
	for (uint32_t w = 0; w < dp->nworkers; w++)
		free(wk_publish(&dp->workers[w], lists[w]));
	free(lists);
	if (changed && dp->placement_out)
		dp_placement_changed(dp);
	return 0;
}

static struct dp_port *port_of(struct dp *dp, const struct vu_dev *d)
{
	for (uint32_t i = 0; i < dp->nports; i++)
		if (dp->ports[i].dev == d)
			return &dp->ports[i];
	return NULL;
}

static void dp_pause(struct vu_dev *d, void *ctx)
{
	struct dp *dp = ctx;
	struct dp_port *p = port_of(dp, d);

	if (!p || p->paused)
		return;
	p->paused = true;
	if (dp_publish(dp) < 0) { /* cannot build lists: take every path off */
		LOG_ERR(TAG, "%s: out of memory pausing; datapath halted",
			d->name);
		for (uint32_t w = 0; w < dp->nworkers; w++)
			free(wk_publish(&dp->workers[w], NULL));
	}
	/* Quiescent: no worker touches p.  Save where each ring stands. */
	for (uint32_t i = 0; i < d->nvrings; i++) {
		if (!p->vq_live[i])
			continue;
		struct vq *vq = dp_vq(p, i);
		if (d->vr[i].started)
			d->vr[i].base = vq->packed ? vq_packed_base(vq) :
					vq->last_avail;
		if (vq->broken)
			d->vr[i].broken = true;
		p->vq_live[i] = false;
	}
}

/* SEND_RARP: the frame goes where the guest's own traffic goes, ahead of
 * it, on queue pair 0 (the path is not published: p is paused). */
static void queue_announce(struct dp *dp, struct dp_port *p)
{
	struct vu_dev *d = p->dev;
	uint8_t frame[64];
	struct dp_port *t = dp_target(dp, p);

	if (!d->rarp_pending)
		return;
	if ((!t && p->bridge < 0) || t == p) {
		d->rarp_pending = false;
		LOG_INFO(TAG, "%s: RARP announcement not sent: the port is not "
			 "linked to another guest or on a bridge", d->name);
		return;
	}
	/* A migration's destination QEMU may announce before it started the
	 * rings: the announcement waits for the resume that starts queue
	 * pair 0's TX path (a device reset drops it). */
	if (d->nvrings < 2 || !p->qps[0] || !p->vq_live[1])
		return;
	d->rarp_pending = false;
	uint32_t len = vu_rarp_build(d->rarp_mac, frame);
	if (vnet_source_set(&p->rarp, frame, len, vu_dev_vnet_hdr_len(d)) == 0)
		p->qps[0]->path.announce = &p->rarp;
}

/*
 * Ring i's position slot (vq_pos.h) after a resume: a live packed ring's
 * worker keeps it (vq_init wrote it); any other ring's says its base.  A
 * ring with no size whose slot this process never wrote with one is left
 * alone: its slot already holds no size (a fresh area is all VQ_POS_NONE,
 * and every resume leaves every sizeless ring's slot sizeless, so a new
 * process inherits slots that are), and a slot without a size is nobody's
 * (vu_state_pos.c).  A guest that uses 1 of 128 queue pairs would
 * otherwise have 254 slots, 37 pages of the state memfd, written on
 * every resume: 0.2-0.5 ms per device on a restart's path here.
 */
static void pos_publish(struct dp_port *p, uint32_t i)
{
	const struct vu_vring *vr = &p->dev->vr[i];
	uint64_t *w = &p->pos_sized[i / 64], bit = 1ull << (i % 64);

	if (p->vq_live[i] && dp_vq(p, i)->pos) {
		*w |= bit;
		return;
	}
	if (!vr->num && !vr->started && !(*w & bit))
		return;
	vq_pos_stopped(&p->dev->pos[i], vr->num, vr->base);
	*w = vr->num ? *w | bit : *w & ~bit;
}

static void dp_resume(struct vu_dev *d, void *ctx)
{
	struct dp *dp = ctx;
	struct dp_port *p = port_of(dp, d);

	if (!p || !p->paused)
		return;
	if (dp->halted) {       /* nothing is polled again: touch no path */
		p->paused = false;
		return;
	}
	/* Each started queue pair's state on the node of its rings. */
	if (dp_qps_ensure(dp, p) < 0)
		LOG_ERR(TAG, "%s: out of memory for queue state: some queue "
			"pairs stay stopped", d->name);
	for (uint32_t i = 0; i < d->nvrings; i++) {
		p->vq_live[i] = p->qps[i / 2] && vq_build(p, i);
		if (d->pos)
			pos_publish(p, i);
	}
	p->stopping = stopping(p);
	/* The source frame carries a header of this guest's length. */
	if (p->source)
		(void)vnet_source_init(p->source, p->source->len,
				       vu_dev_vnet_hdr_len(d));
	queue_announce(dp, p);
	/* Only paths touching p change, and none of them is published: move
	 * their state to the node of p's memory, then point them at it. */
	for (uint32_t i = 0; i < dp->nports; i++) {
		struct dp_port *q = &dp->ports[i];
		if (q == p || dp_target(dp, q) == p)
			(void)dp_settle(dp, q);
	}
	for (uint32_t i = 0; i < dp->nports; i++) {
		struct dp_port *q = &dp->ports[i];
		if (q == p || dp_target(dp, q) == p)
			for (uint32_t qp = 0; qp < dp_npairs(q); qp++)
				dp_path_refresh(dp, q, qp);
	}
	/* p's bridge: every member's view of p's queues (none of its
	 * paths is published while p is paused). */
	if (p->bridge >= 0)
		dp_bridge_refresh(dp, p->bridge);
	p->paused = false;
	if (dp_publish(dp) < 0)
		LOG_ERR(TAG, "%s: out of memory resuming the datapath", d->name);
}

int dp_init(struct dp *dp, const cpu_set_t *cores, uint32_t nports,
	    const struct numa_topo *topo)
{
	memset(dp, 0, sizeof(*dp));
	numa_slab_init(&dp->slab, sizeof(struct dp_qp), topo);
	dp->nworkers = (uint32_t)CPU_COUNT(cores);
	dp->workers = aligned_alloc(CACHE_LINE,
				    dp->nworkers * sizeof(dp->workers[0]));
	dp->pw = calloc(dp->nworkers, sizeof(dp->pw[0]));
	dp->ports = calloc(nports, sizeof(dp->ports[0]));
	if (!dp->workers || !dp->pw || !dp->ports || dp->nworkers == 0)
		return -ENOMEM;
	dp->cap = nports;
	uint32_t w = 0;
	for (int c = 0; c < CPU_SETSIZE && w < dp->nworkers; c++) {
		if (!CPU_ISSET(c, cores))
			continue;
		dp->pw[w].node = numa_topo_cpu_node(topo, c);
		/* Most queues' state lands on the first worker's node. */
		if (w == 0)
			numa_slab_prepare(&dp->slab, dp->pw[0].node);
		int err = wk_start(&dp->workers[w], w, c);
		if (err) {
			dp->nworkers = w;
			return err;
		}
		w++;
	}
	return 0;
}

/* p's queue pair table; a NIC port's blocks too, on its node (a guest's
 * come as its rings start: dp_qps_ensure). */
static int qps_alloc(struct dp *dp, struct dp_port *p)
{
	uint32_t n = dp_npairs(p);

	p->qps = calloc(n ? n : 1, sizeof(p->qps[0]));
	if (!p->qps)
		return -ENOMEM;
	for (uint32_t qp = 0; p->nic && qp < n; qp++)
		if (!dp_qp_new(dp, p, qp, p->nic->numa_node))
			return -ENOMEM;
	return 0;
}

/*
 * Slot i, about to be attached, or NULL past the cap slots dp_init()
 * made room for.  Slots are taken from the bottom
 * (vhostd_sw.c) and the ones above the highest taken are never touched: a
 * struct dp_port is 10 KiB (its RARP frame inside), so wiring all 64 free
 * slots at start cost 64 page faults, 0.8 ms of a restart on a virtualised
 * host, and every loop over them as many again.
 */
static struct dp_port *slot_take(struct dp *dp, uint32_t i)
{
	if (i >= dp->cap)
		return NULL;
	for (; dp->nports <= i; dp->nports++) {  /* free slots: unwired */
		dp->ports[dp->nports].peer = -1;
		dp->ports[dp->nports].bridge = -1;
	}
	return &dp->ports[i];
}

/* What every port gets, once p->dev or p->nic is set: its wiring, ring
 * states, queue pair table and source frame. */
static int attach_common(struct dp *dp, struct dp_port *p,
			 const struct dp_wiring *w)
{
	p->peer = w->peer;
	p->reflect = w->reflect;
	p->bridge = -1;
	p->vq_live = calloc(nrings(p) ? nrings(p) : 1, sizeof(p->vq_live[0]));
	if (w->source_len)
		p->source = aligned_alloc(CACHE_LINE, sizeof(*p->source));
	int err = qps_alloc(dp, p);
	if (err)
		return err;
	if (!p->vq_live || (w->source_len && !p->source))
		return -ENOMEM;
	return p->source ? vnet_source_init(p->source, w->source_len,
					    sizeof(struct virtio_net_hdr)) : 0;
}

int dp_attach(struct dp *dp, uint32_t i, struct vu_dev *dev,
	      const struct dp_wiring *w)
{
	struct dp_port *p = slot_take(dp, i);

	if (!p)
		return -ENOSPC;
	p->dev = dev;
	/* Where the guest's memory is is known once its rings start. */
	int err = attach_common(dp, p, w);
	if (err)
		return err;
	dev->ops = (struct vu_dev_ops){dp_pause, dp_resume, dp};
	/* A device rebuilt from the fd store comes with its rings started,
	 * and no request will resume it: they are built now, as a resume
	 * builds them.  Before dp_start() nothing is published, so a
	 * restart's devices reach the workers with dp_start()'s one publish
	 * instead of a pause and a resume each (a wait for the workers
	 * every time). */
	for (uint32_t r = 0; r < dev->nvrings; r++)
		if (vu_vring_ready(dev, r)) {
			p->paused = true;
			dp_resume(dev, dp);
			break;
		}
	return 0;
}

/* Port i is NIC port nic: its queues are live from now on. */
int dp_attach_port(struct dp *dp, uint32_t i, struct port *nic,
		   const struct dp_wiring *w)
{
	struct dp_port *p = slot_take(dp, i);

	if (!p)
		return -ENOSPC;
	p->nic = nic;
	int err = attach_common(dp, p, w);
	for (uint32_t r = 0; !err && r < nrings(p); r++)
		p->vq_live[r] = true;
	return err;
}

int dp_start(struct dp *dp)
{
	for (uint32_t i = 0; i < dp->nports; i++)
		if (dp->ports[i].nic)
			(void)dp_settle(dp, &dp->ports[i]);
	for (uint32_t i = 0; i < dp->nports; i++)
		for (uint32_t qp = 0; qp < dp_npairs(&dp->ports[i]); qp++)
			if (!dp->ports[i].paused)
				dp_path_refresh(dp, &dp->ports[i], qp);
	dp->started = true;
	return dp_publish(dp);
}

void dp_halt(struct dp *dp)
{
	for (uint32_t w = 0; w < dp->nworkers; w++)
		free(wk_publish(&dp->workers[w], NULL));
	dp->halted = true;
}

void dp_watch(struct dp *dp)
{
	for (uint32_t w = 0; w < dp->nworkers; w++)
		wk_watch(&dp->workers[w]);
	dp_bridge_tick(dp);
}

/* One line per worker: what it moved and what each packet cost. */
static void log_worker_stats(const struct worker *w)
{
	const struct wk_stats *s = &w->stats;

	LOG_INFO(TAG, "worker %u (core %d): %llu packets, %llu busy cycles, "
		 "%.1f cycles/packet", w->id, w->core,
		 (unsigned long long)s->packets,
		 (unsigned long long)s->busy_cycles,
		 s->packets ? (double)s->busy_cycles / (double)s->packets : 0.0);
}

void dp_log_stats(const struct dp *dp)
{
	for (uint32_t w = 0; w < dp->nworkers; w++)
		log_worker_stats(&dp->workers[w]);
}

void dp_fini(struct dp *dp)
{
	for (uint32_t w = 0; w < dp->nworkers; w++) {
		wk_stop(&dp->workers[w]);
		log_worker_stats(&dp->workers[w]);
	}
	for (uint32_t i = 0; i < dp->nports; i++) {
		free(dp->ports[i].qps);
		free(dp->ports[i].vq_live);
		free(dp->ports[i].source);
		free(dp->ports[i].spread.q);
	}
	dp_bridge_fini(dp);
	numa_slab_fini(&dp->slab);
	free(dp->ports);
	free(dp->pw);
	free(dp->workers);
	free(dp->placement_last);
	memset(dp, 0, sizeof(*dp));
}
