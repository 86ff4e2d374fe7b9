/* SPDX-License-Identifier: MIT */
/*
 * vhostd_metrics.c: the metric families.  Each family is one function
 * writing its HELP/TYPE lines and its samples; the page is the list of
 * them (families[] at the end): a new family is a function and a line.
 * The values follow vhostctl stats (vhostd_stats.c) rule for rule, so that
 * both always agree.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "prom.h"
#include "vhostd_bridge.h"
#include "vhostd_metrics.h"

/* One ring of one port, as the families see it. */
struct mq {
	const struct dp_port *p;
	const struct dp_qp *q;
	const struct vq *vq;
	uint32_t ring;
	char port[64];
	char queue[12];
	const char *dir;
};

typedef void (*mq_fn)(struct prom *pm, const struct mq *m, const void *arg);

/*
 * Call fn for every ring that has state: a guest's rings of every queue
 * pair that was ever started; a NIC port's receive side (its "tx" ring:
 * what the NIC received is what the path forwards; its own counters are
 * on its vhostctl portq lines).  dirs: 1 rx, 2 tx, 3 both.
 */
static void for_each_ring(struct prom *pm, const struct dp *dp, unsigned dirs,
			  mq_fn fn, const void *arg)
{
	for (uint32_t i = 0; i < dp->nports; i++) {
		const struct dp_port *p = &dp->ports[i];
		if (!p->dev && !p->nic)
			continue;
		uint32_t n = p->nic ? 2 * p->nic->nqueues : p->dev->nvrings;
		for (uint32_t r = 0; r < n; r++) {
			bool tx = r & 1;
			if (!p->qps[r / 2] || !(dirs & (tx ? 2u : 1u)) ||
			    (p->nic && !tx))
				continue;
			struct mq m = {p, p->qps[r / 2], dp_vq(p, r), r,
				       {0}, {0}, tx ? "tx" : "rx"};
			snprintf(m.port, sizeof(m.port), "%s", dp_port_name(p));
			snprintf(m.queue, sizeof(m.queue), "%u", r / 2);
			fn(pm, &m, arg);
		}
	}
}

#define MQ_LABELS(m) \
	PROM_LABELS({"port", (m)->port}, {"queue", (m)->queue}, \
		    {"direction", (m)->dir})

/* ---- per ring: one value each ------------------------------------ */

typedef uint64_t (*mq_get)(const struct mq *m);

static void put_ring_value(struct prom *pm, const struct mq *m,
			   const void *arg)
{
	mq_get get = *(const mq_get *)arg;

	prom_u64(pm, MQ_LABELS(m), get(m));
}

static void ring_family(struct prom *pm, const struct dp *dp, unsigned dirs,
			const char *name, enum prom_type t, const char *help,
			mq_get get)
{
	prom_family(pm, name, t, help);
	for_each_ring(pm, dp, dirs, put_ring_value, &get);
}

/* A NIC port's rings count nothing themselves: its path does. */
static uint64_t get_packets(const struct mq *m)
{
	return m->p->nic ? STAT_READ(m->q->path.stats.packets) :
	       STAT_READ(m->vq->stats.packets);
}

static uint64_t get_bytes(const struct mq *m)
{
	return m->p->nic ? STAT_READ(m->q->path.stats.bytes) :
	       STAT_READ(m->vq->stats.bytes);
}

/* A source's TX is never forwarded (its path counts generated frames). */
static uint64_t get_forwarded(const struct mq *m)
{
	return m->p->source ? 0 : STAT_READ(m->q->path.stats.packets);
}

static uint64_t get_ring_full(const struct mq *m)
{
	return STAT_READ(m->vq->stats.ring_full);
}

static uint64_t get_notifications(const struct mq *m)
{
	return STAT_READ(m->vq->stats.notifications);
}

static uint64_t get_broken(const struct mq *m)
{
	return STAT_READ(m->vq->broken);
}

static uint64_t get_live(const struct mq *m)
{
	return m->p->vq_live[m->ring];
}

static void fam_queue_counters(struct prom *pm, const struct dp *dp)
{
	ring_family(pm, dp, 3, "vhostd_queue_packets_total", PROM_COUNTER,
		    "Packets a guest sent (tx) or was delivered (rx)",
		    get_packets);
	ring_family(pm, dp, 3, "vhostd_queue_bytes_total", PROM_COUNTER,
		    "Bytes a guest sent (tx) or was written (rx, headers "
		    "included)", get_bytes);
	ring_family(pm, dp, 2, "vhostd_queue_forwarded_total", PROM_COUNTER,
		    "Packets forwarded from this tx ring (a TSO frame cut "
		    "into segments forwards several)", get_forwarded);
	ring_family(pm, dp, 1, "vhostd_queue_ring_full_total", PROM_COUNTER,
		    "Times a packet found no receive buffer in this rx ring",
		    get_ring_full);
	ring_family(pm, dp, 3, "vhostd_queue_notifications_total",
		    PROM_COUNTER, "Guest notifications (call eventfd writes)",
		    get_notifications);
	ring_family(pm, dp, 3, "vhostd_queue_broken", PROM_GAUGE,
		    "1 when the ring was marked broken (see "
		    "vhostd_queue_errors_total for why)", get_broken);
	ring_family(pm, dp, 3, "vhostd_queue_live", PROM_GAUGE,
		    "1 when the ring is set up and polled", get_live);
}

/* ---- per ring and reason ----------------------------------------- */

static const char *const drop_name[VNET_DROP_MAX] = {
#define X_NAME(name, text) [VNET_DROP_##name] = #name,
	VNET_DROPS(X_NAME)
#undef X_NAME
};

static const char *const err_name[VQ_ERR_MAX] = {
#define X_NAME(name, text) [VQ_ERR_##name] = #name,
	VQ_ERRORS(X_NAME)
#undef X_NAME
};

/* A reason label: the X-macro name in lower case, as vhostctl prints it. */
static void reason_label(char *buf, size_t len, const char *name)
{
	size_t i = 0;

	for (; name[i] && i + 1 < len; i++)
		buf[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ?
				name[i] - 'A' + 'a' : name[i]);
	buf[i] = '\0';
}

static void put_drops(struct prom *pm, const struct mq *m, const void *arg)
{
	char reason[32];

	(void)arg;
	for (int d = 0; d < VNET_DROP_MAX; d++) {
		reason_label(reason, sizeof(reason), drop_name[d]);
		prom_u64(pm, PROM_LABELS({"port", m->port},
					 {"queue", m->queue},
					 {"direction", m->dir},
					 {"reason", reason}),
			 STAT_READ(m->q->path.stats.drops[d]));
	}
}

/* Only the reasons that happened (as vhostctl prints them): a ring breaks
 * once, for one reason, and 19 zeros on every ring of every port would be
 * most of the page; vhostd_queue_broken is the series to alert on. */
static void put_errors(struct prom *pm, const struct mq *m, const void *arg)
{
	char reason[32];

	(void)arg;
	for (int e = 0; e < VQ_ERR_MAX; e++) {
		if (!STAT_READ(m->vq->stats.errors[e]))
			continue;
		reason_label(reason, sizeof(reason), err_name[e]);
		prom_u64(pm, PROM_LABELS({"port", m->port},
					 {"queue", m->queue},
					 {"direction", m->dir},
					 {"reason", reason}),
			 STAT_READ(m->vq->stats.errors[e]));
	}
}

static void fam_queue_reasons(struct prom *pm, const struct dp *dp)
{
	prom_family(pm, "vhostd_queue_drops_total", PROM_COUNTER,
		    "Packets taken from a tx ring and dropped, by reason");
	for_each_ring(pm, dp, 2, put_drops, NULL);
	prom_family(pm, "vhostd_queue_errors_total", PROM_COUNTER,
		    "Ring errors (the ring was marked broken), by reason; "
		    "only reasons that occurred");
	for_each_ring(pm, dp, 3, put_errors, NULL);
}

/* ---- per queue pair: the worker's cycles in its path ------------- */

/* A path is polled for its port's tx ring (a source's: its rx ring). */
static bool path_ring(const struct mq *m)
{
	return m->p->source ? !(m->ring & 1) : (m->ring & 1);
}

static void put_cycles(struct prom *pm, const struct mq *m, const void *arg)
{
	int what = *(const int *)arg;
	uint64_t cy = STAT_READ(m->q->wk.cycles);
	uint64_t pk = STAT_READ(m->q->wk.packets);

	if (!path_ring(m))
		return;
	if (what == 0)
		prom_u64(pm, MQ_LABELS(m), cy);
	else if (what == 1)
		prom_u64(pm, MQ_LABELS(m), pk);
	else if (what == 2)
		prom_double(pm, MQ_LABELS(m), pk ? (double)cy / (double)pk : 0);
	else
		prom_double(pm, MQ_LABELS(m), m->q->worker);
}

static void fam_queue_cycles(struct prom *pm, const struct dp *dp)
{
	static const int cycles = 0, packets = 1, cpp = 2, worker = 3;

	prom_family(pm, "vhostd_queue_cycles_total", PROM_COUNTER,
		    "TSC cycles its worker spent polling this queue's path "
		    "in polls that moved packets");
	for_each_ring(pm, dp, 3, put_cycles, &cycles);
	prom_family(pm, "vhostd_queue_polled_packets_total", PROM_COUNTER,
		    "Packets those polls moved (forwarded or dropped)");
	for_each_ring(pm, dp, 3, put_cycles, &packets);
	prom_family(pm, "vhostd_queue_cycles_per_packet", PROM_GAUGE,
		    "vhostd_queue_cycles_total / "
		    "vhostd_queue_polled_packets_total since start");
	for_each_ring(pm, dp, 3, put_cycles, &cpp);
	prom_family(pm, "vhostd_queue_worker", PROM_GAUGE,
		    "The worker polling this queue's path (-1: none now)");
	for_each_ring(pm, dp, 3, put_cycles, &worker);
}

/* ---- per worker -------------------------------------------------- */

static void fam_workers(struct prom *pm, const struct dp *dp)
{
	static const struct {
		const char *name, *help;
		enum prom_type type;
		int what;
	} fams[] = {
		{"vhostd_worker_passes_total", "Passes over the poll list",
		 PROM_COUNTER, 0},
		{"vhostd_worker_packets_total", "Packets moved (forwarded or "
		 "dropped)", PROM_COUNTER, 1},
		{"vhostd_worker_busy_cycles_total", "TSC cycles in passes that "
		 "moved packets", PROM_COUNTER, 2},
		{"vhostd_worker_idle_cycles_total", "TSC cycles in passes that "
		 "moved none, and asleep (--idle)", PROM_COUNTER, 3},
		{"vhostd_worker_cycles_per_packet", "Busy cycles per packet "
		 "since start", PROM_GAUGE, 4},
	};

	for (size_t f = 0; f < ARRAY_SIZE(fams); f++) {
		prom_family(pm, fams[f].name, fams[f].type, fams[f].help);
		for (uint32_t w = 0; w < dp->nworkers; w++) {
			const struct wk_stats *s = &dp->workers[w].stats;
			char id[12], core[12];
			snprintf(id, sizeof(id), "%u", dp->workers[w].id);
			snprintf(core, sizeof(core), "%d", dp->workers[w].core);
			uint64_t v[] = {STAT_READ(s->passes),
					STAT_READ(s->packets),
					STAT_READ(s->busy_cycles),
					STAT_READ(s->idle_cycles)};
			if (fams[f].what < 4)
				prom_u64(pm, PROM_LABELS({"worker", id},
							 {"core", core}),
					 v[fams[f].what]);
			else
				prom_double(pm, PROM_LABELS({"worker", id},
							    {"core", core}),
					    v[1] ? (double)v[2] / (double)v[1]
						 : 0);
		}
	}
}

/* ---- per port ---------------------------------------------------- */

/* A guest port's state, from what its front-end did so far. */
static const char *const guest_states[] = {
	"detached",     /* no front-end owns the device */
	"negotiating",  /* owned, no ring polled */
	"running",      /* a ring is polled */
	"stopping",     /* the front-end stopped a ring (GET_VRING_BASE) */
};

static int guest_state(const struct dp_port *p)
{
	if (!p->dev->owner)
		return 0;
	if (p->stopping)
		return 3;
	for (uint32_t r = 0; r < p->dev->nvrings; r++)
		if (p->vq_live[r])
			return 2;
	return 1;
}

static void fam_ports(struct prom *pm, const struct dp *dp)
{
	prom_family(pm, "vhostd_port_info", PROM_GAUGE,
		    "1 per port: its type (vhost or a NIC port type)");
	for (uint32_t i = 0; i < dp->nports; i++) {
		const struct dp_port *p = &dp->ports[i];
		if (p->dev || p->nic)
			prom_u64(pm, PROM_LABELS({"port", dp_port_name(p)},
				 {"type", p->nic ? p->nic->type->name :
				  "vhost"}), 1);
	}
	prom_family(pm, "vhostd_port_guest_state", PROM_GAUGE,
		    "1 for the state a guest port is in: detached (no "
		    "front-end), negotiating, running (rings polled), "
		    "stopping");
	for (uint32_t i = 0; i < dp->nports; i++) {
		const struct dp_port *p = &dp->ports[i];
		if (!p->dev)
			continue;
		int st = guest_state(p);
		for (int s = 0; s < (int)ARRAY_SIZE(guest_states); s++)
			prom_u64(pm, PROM_LABELS({"port", p->dev->name},
						 {"state", guest_states[s]}),
				 s == st);
	}
	prom_family(pm, "vhostd_port_guest_status", PROM_GAUGE,
		    "The virtio device status byte the front-end set "
		    "(SET_STATUS; 0 when it did not)");
	for (uint32_t i = 0; i < dp->nports; i++)
		if (dp->ports[i].dev)
			prom_u64(pm, PROM_LABELS({"port",
						  dp->ports[i].dev->name}),
				 dp->ports[i].dev->status);
}

/* ---- per bridge -------------------------------------------------- */

/* Calls fn for every bridge with its counters (control thread). */
static void each_bridge(struct prom *pm, const struct dp *dp,
			void (*fn)(struct prom *, const char *,
				   const struct dp_bridge_stats *, int),
			int arg)
{
	struct dp_bridge_stats st;

	for (uint32_t b = 0; b < DP_BRIDGES_MAX; b++) {
		const char *name = dp_bridge_name(dp, b);
		if (name && dp_bridge_stats(dp, name, &st) == 0)
			fn(pm, name, &st, arg);
	}
}

static void br_sizes(struct prom *pm, const char *name,
		     const struct dp_bridge_stats *st, int members)
{
	prom_u64(pm, PROM_LABELS({"bridge", name}),
		 members ? st->members : st->macs);
}

static void br_fdb_events(struct prom *pm, const char *name,
			  const struct dp_bridge_stats *st, int unused)
{
	(void)unused;
	for (int c = 0; c < FDB_COUNTER_MAX; c++)
		prom_u64(pm, PROM_LABELS({"bridge", name},
					 {"event", fdb_counter_name(c)}),
			 st->fdb[c]);
}

static void br_frames(struct prom *pm, const char *name,
		      const struct dp_bridge_stats *st, int unused)
{
	(void)unused;
	prom_u64(pm, PROM_LABELS({"bridge", name}, {"how", "forwarded"}),
		 st->br.forwarded);
	prom_u64(pm, PROM_LABELS({"bridge", name}, {"how", "flooded"}),
		 st->br.flooded);
}

static void br_drops(struct prom *pm, const char *name,
		     const struct dp_bridge_stats *st, int unused)
{
	(void)unused;
	for (int d = 0; d < BR_DROP_MAX; d++)
		prom_u64(pm, PROM_LABELS({"bridge", name},
					 {"reason", br_drop_name(d)}),
			 st->br.drops[d]);
}

static void fam_bridges(struct prom *pm, const struct dp *dp)
{
	prom_family(pm, "vhostd_bridge_fdb_entries", PROM_GAUGE,
		    "MAC addresses in the bridge's forwarding table");
	each_bridge(pm, dp, br_sizes, 0);
	prom_family(pm, "vhostd_bridge_members", PROM_GAUGE,
		    "Ports attached to the bridge");
	each_bridge(pm, dp, br_sizes, 1);
	prom_family(pm, "vhostd_bridge_fdb_events_total", PROM_COUNTER,
		    "Forwarding table events: learned, moved, aged, limit "
		    "(not learned: member at its MAC limit), table_full");
	each_bridge(pm, dp, br_fdb_events, 0);
	prom_family(pm, "vhostd_bridge_frames_total", PROM_COUNTER,
		    "Frames the bridge sent to one known destination "
		    "(forwarded) or flooded (counted once per frame)");
	each_bridge(pm, dp, br_frames, 0);
	prom_family(pm, "vhostd_bridge_drops_total", PROM_COUNTER,
		    "Frames the bridge dropped, by reason");
	each_bridge(pm, dp, br_drops, 0);
}

/* The page, family by family. */
static void (*const families[])(struct prom *pm, const struct dp *dp) = {
	fam_ports,
	fam_queue_counters,
	fam_queue_reasons,
	fam_queue_cycles,
	fam_workers,
	fam_bridges,
};

void dp_metrics_write(const struct dp *dp, FILE *f)
{
	struct prom pm = {f, NULL};

	for (size_t i = 0; i < ARRAY_SIZE(families); i++)
		families[i](&pm, dp);
}
