/* SPDX-License-Identifier: MIT */
/*
 * port_dpdk.c: a DPDK ethdev as a port: a PCI NIC or any vdev.
 *
 *   --port NAME=dpdk:DEVARGS[,queues=N]      (dpdk_args.h)
 *
 * The first dpdk port starts DPDK's EAL (dpdk_eal.h), every port probes
 * its device (rte_dev_probe) and drives queue pairs 0..N-1 of it with
 * mbufs from one mempool on the device's NUMA socket.
 *
 * One copy per packet and direction, guest buffer <-> mbuf data: the vq
 * chains handed to the datapath point into mbufs, the 12-byte virtio-net
 * header in the first mbuf's headroom, right before the frame.
 *  - transmit (vqs[2i], the datapath's "RX" side): reserve() takes mbufs
 *    for a frame (a chain of several when the device takes multi-segment
 *    frames), used() sets their lengths and maps the header's offloads to
 *    the mbuf (tx_offload()), flush() sends the burst; what the device
 *    does not take is dropped and counted;
 *  - receive (vqs[2i + 1], the "TX" side): dequeue() receives a burst
 *    and writes each frame's header into its headroom (DATA_VALID when
 *    the device checked the L4 checksum), used() and flush() free them.
 * Each side of a queue pair is used by the one worker that polls it; the
 * two sides share nothing but the device and the mempool (both made for
 * concurrent use).
 */
#define ALLOW_EXPERIMENTAL_API   /* rte_devargs_reset() */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "../datapath/log.h"
#include "../datapath/vnet.h"
#include "dpdk_args.h"
#include "dpdk_eal.h"
#include "dpdk_offload.h"
#include "port_mod.h"
#include "port_types.h"

#define TAG "dpdk"
#define HDR ((uint32_t)sizeof(struct virtio_net_hdr))
#define DPDK_RX_DESC 1024
#define DPDK_TX_DESC 1024
#define DPDK_RES_MAX 64     /* transmit chains reserved, not yet used */
#define DPDK_PEND_MAX 64    /* frames queued for one tx burst */
#define DPDK_RX_BURST VNET_BURST
#define DPDK_CACHE 256      /* mempool per-lcore cache */
#define DPDK_QUEUE_SLACK 2048 /* mbufs per queue beyond its descriptors */

/* Counters: one X-macro list each, for the enum and the stats keys. */
#define TXQ_COUNTERS(X)                                                     \
	X(tx_packets) X(tx_bytes) X(tx_dropped) X(tx_nombuf)           \
	X(tx_too_big) X(tx_bad_offload) X(tx_csum_hw) X(tx_csum_sw)         \
	X(tx_tso)
#define RXQ_COUNTERS(X)                                                     \
	X(rx_packets) X(rx_bytes) X(rx_csum_good) X(rx_csum_bad)            \
	X(rx_dropped_segs) X(rx_dropped_headroom)

#define X_ENUM(n) C_##n,
enum { TXQ_COUNTERS(X_ENUM) TXC_MAX };
enum { RXQ_COUNTERS(X_ENUM) RXC_MAX };
#undef X_ENUM
#define X_NAME(n) #n,
static const char *const txc_name[] = {TXQ_COUNTERS(X_NAME)};
static const char *const rxc_name[] = {RXQ_COUNTERS(X_NAME)};
#undef X_NAME

struct dpdk_txq {
	uint16_t port_id, qid;
	uint16_t max_segs;          /* mbufs per frame (1: no MULTI_SEGS) */
	uint32_t seg_room;          /* frame bytes one mbuf holds */
	struct rte_mempool *mp;
	struct ofl_caps caps;       /* offloads given to the device */
	uint32_t res_head, res_tail; /* reserved: res[head..tail) */
	uint16_t npend;
	struct rte_mbuf *res[DPDK_RES_MAX];
	struct rte_mbuf *pend[DPDK_PEND_MAX];
	uint64_t c[TXC_MAX];
} cache_aligned;

struct dpdk_rxq {
	uint16_t port_id, qid;
	bool valid;                 /* RX checksum offload on */
	uint16_t ndone;
	struct rte_mbuf *held[DPDK_RX_BURST];  /* by chain head */
	struct rte_mbuf *done[DPDK_RX_BURST];
	uint64_t c[RXC_MAX];
} cache_aligned;

struct dpdk_port {
	struct port port;
	uint16_t port_id;
	bool eal, probed, claimed, configured, started;
	char driver[32];
	struct rte_mempool *mp;
	struct dpdk_txq *txq;       /* nqueues */
	struct dpdk_rxq *rxq;
};

static bool claimed[RTE_MAX_ETHPORTS];  /* ethdev ports in use */

/* ---- transmit: reserve, used, flush ------------------------------- */

static int dpdk_reserve(void *arg, uint32_t len, struct vq_chain *c,
			uint16_t max)
{
	struct dpdk_txq *q = arg;
	uint32_t frame = len > HDR ? len - HDR : 0;
	/* 64 bits: a frame near 4 GiB must not round up to 0 segments.  (The
	 * datapath drops frames over port.frame_max before they get here.) */
	uint64_t nseg = frame <= q->seg_room ? 1 :
			((uint64_t)frame + q->seg_room - 1) / q->seg_room;
	struct rte_mbuf *m[VQ_MAX_SEGS];

	(void)max;
	if (unlikely(nseg > q->max_segs)) {
		STAT_INC(q->c[C_tx_too_big]);
		return 0;
	}
	if (unlikely(q->res_tail - q->res_head == DPDK_RES_MAX ||
		     rte_pktmbuf_alloc_bulk(q->mp, m, (unsigned)nseg) < 0)) {
		STAT_INC(q->c[C_tx_nombuf]);
		return 0;
	}
	c->head = (uint16_t)(q->res_tail++ % DPDK_RES_MAX);
	c->nseg = (uint16_t)nseg;
	c->ndesc = 1;
	c->len = HDR + (uint32_t)nseg * q->seg_room;
	c->seg[0] = (struct vq_seg){rte_pktmbuf_mtod(m[0], uint8_t *) - HDR,
				    0, HDR + q->seg_room};
	for (uint32_t i = 1; i < nseg; i++) {
		m[i - 1]->next = m[i];
		c->seg[i] = (struct vq_seg){rte_pktmbuf_mtod(m[i], uint8_t *),
					    0, q->seg_room};
	}
	m[0]->nb_segs = (uint16_t)nseg;
	q->res[c->head] = m[0];
	return 1;
}

static void dpdk_unreserve(void *arg, const struct vq_chain *c, uint16_t n)
{
	struct dpdk_txq *q = arg;

	(void)c;
	while (n--)
		rte_pktmbuf_free(q->res[--q->res_tail % DPDK_RES_MAX]);
}

/* Set m's segment lengths for frame bytes; free segments left empty. */
static void set_lengths(struct rte_mbuf *m, uint32_t frame, uint32_t room)
{
	struct rte_mbuf *s = m, *last = m;
	uint16_t nseg = 0;

	m->pkt_len = frame;
	do {
		s->data_len = (uint16_t)MIN(frame, room);
		frame -= s->data_len;
		last = s;
		nseg++;
		s = s->next;
	} while (s && frame);
	if (s) {
		last->next = NULL;
		rte_pktmbuf_free(s);
	}
	m->nb_segs = nseg;
}

/* Send what is pending; what the device does not take is dropped. */
static void tx_burst(struct dpdk_txq *q)
{
	uint16_t n = q->npend, sent;
	uint64_t bytes = 0;

	if (!n)
		return;
	q->npend = 0;
	uint16_t ok = rte_eth_tx_prepare(q->port_id, q->qid, q->pend, n);
	while (unlikely(ok < n)) {   /* pend[ok] is refused: drop it */
		rte_pktmbuf_free(q->pend[ok]);
		STAT_INC(q->c[C_tx_bad_offload]);
		memmove(&q->pend[ok], &q->pend[ok + 1],
			(size_t)(n - ok - 1) * sizeof(q->pend[0]));
		n--;
		ok += rte_eth_tx_prepare(q->port_id, q->qid, q->pend + ok,
					 n - ok);
	}
	for (uint16_t i = 0; i < n; i++)
		bytes += q->pend[i]->pkt_len;
	sent = rte_eth_tx_burst(q->port_id, q->qid, q->pend, n);
	for (uint16_t i = sent; i < n; i++) {
		bytes -= q->pend[i]->pkt_len;
		rte_pktmbuf_free(q->pend[i]);
	}
	STAT_ADD(q->c[C_tx_packets], sent);
	STAT_ADD(q->c[C_tx_bytes], bytes);
	if (unlikely(sent < n))
		STAT_ADD(q->c[C_tx_dropped], n - sent);
}

/* The header's offloads onto m; false: m cannot be sent. */
static bool tx_offload(struct dpdk_txq *q, struct rte_mbuf *m,
		       const struct vq_chain *c, const struct virtio_net_hdr *h)
{
	switch (dpdk_ofl_tx(m, c, HDR, h, &q->caps)) {
	case DPDK_OFL_NONE:
		return true;
	case DPDK_OFL_HW_CSUM:
		STAT_INC(q->c[C_tx_csum_hw]);
		return true;
	case DPDK_OFL_TSO:
		STAT_INC(q->c[C_tx_tso]);
		return true;
	case DPDK_OFL_SW_CSUM:
		STAT_INC(q->c[C_tx_csum_sw]);
		return true;
	default:
		return false;
	}
}

static void dpdk_tx_used(void *arg, const struct vq_chain *c, uint32_t len)
{
	struct dpdk_txq *q = arg;
	struct rte_mbuf *m = q->res[c->head];
	struct virtio_net_hdr h;

	q->res_head++;
	set_lengths(m, len > HDR ? len - HDR : 0, q->seg_room);
	memcpy(&h, rte_pktmbuf_mtod(m, uint8_t *) - HDR, HDR);
	if (unlikely(h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM || h.gso_type) &&
	    !tx_offload(q, m, c, &h)) {
		rte_pktmbuf_free(m);
		STAT_INC(q->c[C_tx_bad_offload]);
		return;
	}
	q->pend[q->npend++] = m;
	if (q->npend == DPDK_PEND_MAX)
		tx_burst(q);
}

static void dpdk_tx_flush(void *arg)
{
	tx_burst(arg);
}

/* ---- receive: dequeue, used, flush -------------------------------- */

/* Chain c over m, its header written into m's headroom.  false: m
 * cannot be handed out (counted). */
static bool rx_chain(struct dpdk_rxq *q, struct rte_mbuf *m,
		     struct vq_chain *c)
{
	struct virtio_net_hdr h = {0};
	uint64_t l4 = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;

	if (unlikely(rte_pktmbuf_headroom(m) < HDR)) {
		STAT_INC(q->c[C_rx_dropped_headroom]);
		return false;
	}
	if (unlikely(m->nb_segs > VQ_MAX_SEGS)) {
		STAT_INC(q->c[C_rx_dropped_segs]);
		return false;
	}
	if (q->valid && l4 == RTE_MBUF_F_RX_L4_CKSUM_GOOD) {
		h.flags = VIRTIO_NET_HDR_F_DATA_VALID;
		STAT_INC(q->c[C_rx_csum_good]);
	} else if (l4 == RTE_MBUF_F_RX_L4_CKSUM_BAD) {
		STAT_INC(q->c[C_rx_csum_bad]);   /* the guest decides */
	}
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *) - HDR;
	memcpy(p, &h, HDR);
	c->nseg = 0;
	c->ndesc = 1;
	c->len = HDR + m->pkt_len;
	c->seg[c->nseg++] = (struct vq_seg){p, 0, HDR + m->data_len};
	for (struct rte_mbuf *s = m->next; s; s = s->next)
		c->seg[c->nseg++] = (struct vq_seg){
			rte_pktmbuf_mtod(s, uint8_t *), 0, s->data_len};
	return true;
}

static uint16_t dpdk_dequeue(void *arg, struct vq_chain *c, uint16_t n)
{
	struct dpdk_rxq *q = arg;
	struct rte_mbuf *m[DPDK_RX_BURST];
	uint16_t got, k = 0;

	got = rte_eth_rx_burst(q->port_id, q->qid, m, MIN(n, DPDK_RX_BURST));
	for (uint16_t i = 0; i < got; i++) {
		if (unlikely(!rx_chain(q, m[i], &c[k]))) {
			rte_pktmbuf_free(m[i]);
			continue;
		}
		c[k].head = k;
		q->held[k++] = m[i];
	}
	return k;
}

static void dpdk_rx_used(void *arg, const struct vq_chain *c, uint32_t len)
{
	struct dpdk_rxq *q = arg;

	(void)len;
	q->done[q->ndone++] = q->held[c->head];
	STAT_INC(q->c[C_rx_packets]);
	STAT_ADD(q->c[C_rx_bytes], c->len - HDR);
}

static void dpdk_rx_flush(void *arg)
{
	struct dpdk_rxq *q = arg;

	rte_pktmbuf_free_bulk(q->done, q->ndone);
	q->ndone = 0;
}

static const struct vq_port_ops dpdk_tx_ops = {
	.reserve = dpdk_reserve, .unreserve = dpdk_unreserve,
	.used = dpdk_tx_used, .flush = dpdk_tx_flush,
};
static const struct vq_port_ops dpdk_rx_ops = {
	.dequeue = dpdk_dequeue, .used = dpdk_rx_used, .flush = dpdk_rx_flush,
};

/* ---- set up: the device ------------------------------------------- */

/* The ethdev port of device name (as DPDK names it: a PCI address gets
 * its domain).  0 or -ENODEV. */
static int find_ethdev(const char *name, bool pci, uint16_t *id)
{
	char full[RTE_DEV_NAME_MAX_LEN + 8];

	if (rte_eth_dev_get_port_by_name(name, id) == 0)
		return 0;
	if (!pci || strchr(name, ':') != strrchr(name, ':'))
		return -ENODEV;
	snprintf(full, sizeof(full), "0000:%s", name);
	return rte_eth_dev_get_port_by_name(full, id) == 0 ? 0 : -ENODEV;
}

/* Probe the device of a (rte_dev_probe: a vdev is created, a PCI device
 * attached; one the EAL attached at start is found) and claim its
 * ethdev.  0 or -errno after one log line. */
static int dev_probe(struct dpdk_port *dp, const struct dpdk_args *a)
{
	const char *name = dp->port.name;
	struct rte_devargs da;
	char dev[RTE_DEV_NAME_MAX_LEN];
	int rc = rte_devargs_parse(&da, a->devargs);

	if (rc < 0) {
		LOG_ERR(TAG, "%s: DPDK does not take device '%s': no bus knows "
			"it (a PCI address, or a vdev driver this DPDK has, "
			"e.g. net_tap0, net_ring0, net_pcap0, net_af_packet0)",
			name, a->device);
		return -EINVAL;
	}
	snprintf(dev, sizeof(dev), "%s", da.name);
	rte_devargs_reset(&da);
	rc = rte_dev_probe(a->devargs);
	if (rc < 0 && rc != -EEXIST) {
		/* -1 is no errno: the driver failed (EPERM would mislead). */
		LOG_ERR(TAG, "%s: DPDK cannot probe '%s': %s (DPDK's lines "
			"above say more)", name, a->devargs, rc == -1 ?
			"its driver refused it" : strerror(-rc));
		return rc == -1 ? -EINVAL : rc;
	}
	dp->probed = rc == 0;
	if (find_ethdev(dev, a->pci, &dp->port_id) < 0) {
		LOG_ERR(TAG, "%s: '%s' is no ethdev (device %s has no network "
			"port, or did not probe)", name, a->devargs, dev);
		return -ENODEV;
	}
	if (claimed[dp->port_id]) {
		LOG_ERR(TAG, "%s: device %s is another port's already", name,
			dev);
		return -EBUSY;
	}
	claimed[dp->port_id] = dp->claimed = true;
	return 0;
}

/* Drivers that claim more than they do (found by vhostd's tests). */
static const struct {
	const char *driver;
	uint64_t tx_off;         /* transmit offloads not to use */
	const char *why;
} quirks[] = {
	{"net_tap", RTE_ETH_TX_OFFLOAD_TCP_TSO,
	 "its TSO (DPDK 22.11) refuses a frame whose segments exceed the "
	 "MTU counting the Ethernet header, i.e. every full-size TCP "
	 "segment, and then the rest of its burst"},
};

/* Offloads to switch on: what vhostd uses and the device has. */
static void choose_offloads(const char *name,
			    const struct rte_eth_dev_info *info,
			    struct rte_eth_conf *conf)
{
	uint64_t tx = RTE_ETH_TX_OFFLOAD_MULTI_SEGS |
		      RTE_ETH_TX_OFFLOAD_IPV4_CKSUM |
		      RTE_ETH_TX_OFFLOAD_TCP_CKSUM |
		      RTE_ETH_TX_OFFLOAD_UDP_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_TSO;
	uint64_t rx = RTE_ETH_RX_OFFLOAD_TCP_CKSUM |
		      RTE_ETH_RX_OFFLOAD_UDP_CKSUM | RTE_ETH_RX_OFFLOAD_SCATTER;

	for (size_t i = 0; i < ARRAY_SIZE(quirks); i++) {
		if (strcmp(info->driver_name, quirks[i].driver) != 0 ||
		    !(info->tx_offload_capa & tx & quirks[i].tx_off))
			continue;
		tx &= ~quirks[i].tx_off;
		LOG_INFO(TAG, "%s: %s transmit offloads 0x%" PRIx64 " not used: "
			 "%s", name, quirks[i].driver, quirks[i].tx_off,
			 quirks[i].why);
	}
	conf->txmode.offloads = info->tx_offload_capa & tx;
	conf->rxmode.offloads = info->rx_offload_capa & rx;
}

/* What the port tells the datapath, from the offloads switched on. */
static void set_caps(struct dpdk_port *dp, const struct rte_eth_conf *conf)
{
	uint64_t tx = conf->txmode.offloads, rx = conf->rxmode.offloads;
	uint64_t l4 = RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
	uint64_t tso = RTE_ETH_TX_OFFLOAD_TCP_TSO | RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	bool csum = (tx & l4) == l4;

	dp->port.tx_caps = (struct ofl_caps){
		.csum = csum,
		.tso4 = csum && (tx & tso) == tso &&
			(tx & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM),
		.tso6 = csum && (tx & tso) == tso,
	};
	dp->port.rx_caps = (struct ofl_caps){
		.valid = (rx & (RTE_ETH_RX_OFFLOAD_TCP_CKSUM |
				RTE_ETH_RX_OFFLOAD_UDP_CKSUM)) ==
			 (RTE_ETH_RX_OFFLOAD_TCP_CKSUM |
			  RTE_ETH_RX_OFFLOAD_UDP_CKSUM),
	};
}

static int dev_configure(struct dpdk_port *dp, struct rte_eth_dev_info *info,
			 struct rte_eth_conf *conf)
{
	uint32_t nq = dp->port.nqueues;
	int rc = rte_eth_dev_info_get(dp->port_id, info);

	if (rc < 0) {
		LOG_ERR(TAG, "%s: no device info: %s", dp->port.name,
			strerror(-rc));
		return rc;
	}
	snprintf(dp->driver, sizeof(dp->driver), "%s", info->driver_name);
	if (nq > info->max_rx_queues || nq > info->max_tx_queues) {
		LOG_ERR(TAG, "%s: %s takes at most %u queue pair(s), not %u "
			"(queues=N)", dp->port.name, dp->driver,
			MIN(info->max_rx_queues, info->max_tx_queues), nq);
		return -EINVAL;
	}
	memset(conf, 0, sizeof(*conf));
	choose_offloads(dp->port.name, info, conf);
	if (nq > 1 && (info->flow_type_rss_offloads & RTE_ETH_RSS_IP)) {
		conf->rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf->rx_adv_conf.rss_conf.rss_hf =
			info->flow_type_rss_offloads &
			(RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP);
	}
	rc = rte_eth_dev_configure(dp->port_id, (uint16_t)nq, (uint16_t)nq,
				   conf);
	if (rc < 0) {
		LOG_ERR(TAG, "%s: %s refuses %u queue pair(s) with offloads "
			"tx 0x%" PRIx64 " rx 0x%" PRIx64 ": %s", dp->port.name,
			dp->driver, nq, conf->txmode.offloads,
			conf->rxmode.offloads, strerror(-rc));
		return rc;
	}
	dp->configured = true;
	set_caps(dp, conf);
	return 0;
}

/* Mbufs for every descriptor of every queue, what each side of a queue
 * may hold between bursts (DPDK_QUEUE_SLACK: reserved and pending
 * frames; a TSO frame takes up to 33 mbufs), and the per-lcore caches
 * of the workers and the control thread. */
static uint32_t pool_size(uint32_t nq, uint16_t rxd, uint16_t txd)
{
	const struct port_env *env = port_get_env();
	uint32_t lcores = (env ? (uint32_t)CPU_COUNT(&env->cores) : 1) + 1;

	return nq * (rxd + txd + DPDK_QUEUE_SLACK) +
	       lcores * DPDK_CACHE * 3 / 2;
}

static int make_pool(struct dpdk_port *dp, int socket, uint16_t rxd,
		     uint16_t txd)
{
	char pname[RTE_MEMPOOL_NAMESIZE];
	uint32_t n = pool_size(dp->port.nqueues, rxd, txd);

	snprintf(pname, sizeof(pname), "vhostd_p%u", dp->port_id);
	dp->mp = rte_pktmbuf_pool_create(pname, n, DPDK_CACHE, 0,
					 RTE_MBUF_DEFAULT_BUF_SIZE, socket);
	if (!dp->mp) {
		LOG_ERR(TAG, "%s: no mempool of %u mbufs on socket %d: %s",
			dp->port.name, n, socket, rte_strerror(rte_errno));
		return -rte_errno ? -rte_errno : -ENOMEM;
	}
	return 0;
}

static int queues_setup(struct dpdk_port *dp, int socket, uint16_t rxd,
			uint16_t txd)
{
	for (uint16_t q = 0; q < dp->port.nqueues; q++) {
		int rc = rte_eth_rx_queue_setup(dp->port_id, q, rxd,
						(unsigned)socket, NULL, dp->mp);
		if (rc == 0)
			rc = rte_eth_tx_queue_setup(dp->port_id, q, txd,
						    (unsigned)socket, NULL);
		if (rc < 0) {
			LOG_ERR(TAG, "%s: queue %u of %s cannot be set up "
				"(%u rx / %u tx descriptors): %s",
				dp->port.name, q, dp->driver, rxd, txd,
				strerror(-rc));
			return rc;
		}
	}
	return 0;
}

static int dev_start(struct dpdk_port *dp)
{
	int rc = rte_eth_dev_start(dp->port_id);

	if (rc < 0) {
		LOG_ERR(TAG, "%s: %s does not start: %s", dp->port.name,
			dp->driver, strerror(-rc));
		return rc;
	}
	dp->started = true;
	/* Frames for the guests' MACs, whatever the device's own is. */
	rc = rte_eth_promiscuous_enable(dp->port_id);
	if (rc < 0 && rc != -ENOTSUP)
		LOG_WARN(TAG, "%s: promiscuous mode refused: %s",
			 dp->port.name, strerror(-rc));
	return 0;
}

/* ---- set up: the queues as vqs ------------------------------------ */

/* Mbufs one transmitted frame may take. */
static uint16_t tx_max_segs(const struct rte_eth_dev_info *info,
			    const struct rte_eth_conf *conf)
{
	uint16_t n = VQ_MAX_SEGS;

	if (!(conf->txmode.offloads & RTE_ETH_TX_OFFLOAD_MULTI_SEGS))
		return 1;
	if (info->tx_desc_lim.nb_seg_max && info->tx_desc_lim.nb_seg_max < n)
		n = info->tx_desc_lim.nb_seg_max;
	return n;
}

static int queues_init(struct dpdk_port *dp,
		       const struct rte_eth_dev_info *info,
		       const struct rte_eth_conf *conf)
{
	uint32_t nq = dp->port.nqueues;

	dp->txq = aligned_alloc(CACHE_LINE, nq * sizeof(*dp->txq));
	dp->rxq = aligned_alloc(CACHE_LINE, nq * sizeof(*dp->rxq));
	if (!dp->txq || !dp->rxq)
		return -ENOMEM;
	memset(dp->txq, 0, nq * sizeof(*dp->txq));
	memset(dp->rxq, 0, nq * sizeof(*dp->rxq));
	/* The port's frame_max (port.h): what one frame's mbufs hold. */
	uint64_t holds = (uint64_t)tx_max_segs(info, conf) *
			 (rte_pktmbuf_data_room_size(dp->mp) -
			  RTE_PKTMBUF_HEADROOM);
	dp->port.frame_max = (uint32_t)MIN(holds, (uint64_t)VNET_FRAME_MAX);
	for (uint16_t i = 0; i < nq; i++) {
		struct dpdk_txq *t = &dp->txq[i];
		struct dpdk_rxq *r = &dp->rxq[i];
		*t = (struct dpdk_txq){
			.port_id = dp->port_id, .qid = i,
			.max_segs = tx_max_segs(info, conf),
			.seg_room = rte_pktmbuf_data_room_size(dp->mp) -
				    RTE_PKTMBUF_HEADROOM,
			.mp = dp->mp, .caps = dp->port.tx_caps,
		};
		*r = (struct dpdk_rxq){.port_id = dp->port_id, .qid = i,
				       .valid = dp->port.rx_caps.valid};
		vq_init_port(&dp->port.vqs[2 * i], &dpdk_tx_ops, t, false,
			     dp->port.name, 2u * i);
		vq_init_port(&dp->port.vqs[2 * i + 1], &dpdk_rx_ops, r, true,
			     dp->port.name, 2u * i + 1);
	}
	return 0;
}

static int dev_setup(struct dpdk_port *dp)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	uint16_t rxd = DPDK_RX_DESC, txd = DPDK_TX_DESC;
	int socket = rte_eth_dev_socket_id(dp->port_id);
	int err = dev_configure(dp, &info, &conf);

	dp->port.numa_node = socket >= 0 ? socket : -1;
	dp->port.hugepages = dpdk_eal_hugepages();
	if (!err) {
		err = rte_eth_dev_adjust_nb_rx_tx_desc(dp->port_id, &rxd, &txd);
		if (err)
			LOG_ERR(TAG, "%s: descriptor counts: %s", dp->port.name,
				strerror(-err));
	}
	if (!err)
		err = make_pool(dp, socket, rxd, txd);
	if (!err)
		err = queues_setup(dp, socket, rxd, txd);
	if (!err)
		err = queues_init(dp, &info, &conf);
	return err ? err : dev_start(dp);
}

/* ---- open, close, statistics -------------------------------------- */

static void link_text(uint16_t id, char *buf, size_t len)
{
	struct rte_eth_link l;

	memset(&l, 0, sizeof(l));
	if (rte_eth_link_get_nowait(id, &l) < 0) {
		snprintf(buf, len, "link=unknown");
		return;
	}
	snprintf(buf, len, "link=%s speed_mbps=%u duplex=%s",
		 l.link_status ? "up" : "down",
		 l.link_speed == RTE_ETH_SPEED_NUM_UNKNOWN ? 0 : l.link_speed,
		 l.link_duplex ? "full" : "half");
}

static void dpdk_close(struct port *p)
{
	struct dpdk_port *dp = (struct dpdk_port *)p;
	struct rte_eth_dev_info info = {0};

	for (uint32_t i = 0; dp->txq && i < p->nqueues; i++) {
		struct dpdk_txq *t = &dp->txq[i];
		rte_pktmbuf_free_bulk(t->pend, t->npend);
		while (t->res_head != t->res_tail)
			rte_pktmbuf_free(t->res[t->res_head++ % DPDK_RES_MAX]);
		rte_pktmbuf_free_bulk(dp->rxq[i].done, dp->rxq[i].ndone);
	}
	if (dp->claimed && rte_eth_dev_info_get(dp->port_id, &info) < 0)
		info.device = NULL;
	if (dp->started)
		(void)rte_eth_dev_stop(dp->port_id);
	if (dp->claimed)
		(void)rte_eth_dev_close(dp->port_id);
	if (dp->probed && info.device)   /* hot-plugged by us: unplug */
		(void)rte_dev_remove(info.device);
	if (dp->claimed)
		claimed[dp->port_id] = false;
	rte_mempool_free(dp->mp);
	free(dp->txq);
	free(dp->rxq);
	port_fini_common(p);
	if (dp->eal)
		dpdk_eal_put();
	free(dp);
}

static void log_opened(const struct dpdk_port *dp, const struct dpdk_args *a)
{
	const struct ofl_caps *t = &dp->port.tx_caps;
	uint16_t mtu = 0;
	char link[96];

	(void)rte_eth_dev_get_mtu(dp->port_id, &mtu);
	link_text(dp->port_id, link, sizeof(link));
	LOG_INFO(TAG, "%s: %s (driver %s, ethdev %u), %u queue pair(s), "
		 "socket %d, mbufs on %s, mtu %u, frames up to %u bytes, %s; "
		 "transmit offloads: csum %s, tso4 %s, tso6 %s (else done in "
		 "software); receive checksum %s", dp->port.name, a->devargs,
		 dp->driver, dp->port_id, dp->port.nqueues,
		 dp->port.numa_node,
		 dp->port.hugepages ? "hugepages" : "ordinary pages", mtu,
		 dp->port.frame_max, link,
		 t->csum ? "on" : "off", t->tso4 ? "on" : "off",
		 t->tso6 ? "on" : "off",
		 dp->port.rx_caps.valid ? "checked" : "not checked");
}

static int dpdk_open(const char *name, const char *args, struct port **out)
{
	struct dpdk_args a;
	char why[160];
	int err;

	if (dpdk_args_parse(args, &a, why, sizeof(why)) < 0) {
		LOG_ERR(TAG, "%s: bad dpdk port arguments '%s': %s (%s)", name,
			args ? args : "", why, port_dpdk_type.usage);
		return -EINVAL;
	}
	struct dpdk_port *dp = calloc(1, sizeof(*dp));
	if (!dp)
		return -ENOMEM;
	err = port_init_common(&dp->port, &port_dpdk_type, name, a.queues);
	if (!err) {
		err = dpdk_eal_get();
		dp->eal = err == 0;
	}
	if (!err)
		err = dev_probe(dp, &a);
	if (!err)
		err = dev_setup(dp);
	if (err) {
		dpdk_close(&dp->port);
		return err;
	}
	log_opened(dp, &a);
	*out = &dp->port;
	return 0;
}

static void put_counters(FILE *f, const char *const *names, uint32_t n,
			 const uint64_t *c)
{
	for (uint32_t i = 0; i < n; i++)
		fprintf(f, " %s=%" PRIu64, names[i], STAT_READ(c[i]));
}

static void dpdk_stats(const struct port *p, FILE *f)
{
	const struct dpdk_port *dp = (const struct dpdk_port *)p;
	struct rte_eth_stats s;
	char link[96];

	memset(&s, 0, sizeof(s));
	(void)rte_eth_stats_get(dp->port_id, &s);
	link_text(dp->port_id, link, sizeof(link));
	fprintf(f, "ethdev port=%s id=%u driver=%s %s ipackets=%" PRIu64
		" opackets=%" PRIu64 " ibytes=%" PRIu64 " obytes=%" PRIu64
		" imissed=%" PRIu64 " ierrors=%" PRIu64 " oerrors=%" PRIu64
		" rx_nombuf=%" PRIu64 "\n", p->name, dp->port_id, dp->driver,
		link, s.ipackets, s.opackets, s.ibytes, s.obytes, s.imissed,
		s.ierrors, s.oerrors, s.rx_nombuf);
	for (uint32_t i = 0; i < p->nqueues; i++) {
		fprintf(f, "portq port=%s queue=%u", p->name, i);
		put_counters(f, txc_name, TXC_MAX, dp->txq[i].c);
		put_counters(f, rxc_name, RXC_MAX, dp->rxq[i].c);
		fputc('\n', f);
	}
}

const struct port_type port_dpdk_type = {
	.name = "dpdk",
	.usage = "dpdk:DEVARGS[,queues=N]",
	.open = dpdk_open,
	.stats = dpdk_stats,
	.close = dpdk_close,
};

/* What vhostd's loader looks for in vhostd-dpdk.so (port_mod.h). */
const struct port_module vhostd_port_module = {
	.abi = PORT_MODULE_ABI,
	.port_size = sizeof(struct port),
	.vq_size = sizeof(struct vq),
	.type = &port_dpdk_type,
};
