/* SPDX-License-Identifier: MIT */
/*
 * vhostd_stats.c: the datapath's counters as text, for the control socket.
 *
 * One line per record, space-separated key=value pairs after a record type,
 * so that scripts can grep and awk it:
 *   port name=a wiring=reflect queue_pairs=1 features=0x...
 *   queue port=a ring=1 dir=tx live=1 enabled=1 broken=0 packets=.. ...
 *   worker id=0 core=1 passes=.. packets=.. busy_cycles=.. cycles_per_packet=..
 * TX rings count what the guest sent (packets, bytes), what was forwarded
 * (forwarded) and every drop by reason (drop_<reason>); RX rings count what
 * was delivered (packets, bytes written), ring_full events and guest
 * notifications (and, for a --source port, the frames generated); both
 * count ring errors by reason (error_<reason>).
 * Counters never go back to zero while vhostd runs.
 */
#include <ctype.h>
#include <inttypes.h>

#include "vhostd_bridge.h"
#include "vhostd_dp.h"

static const char *const vq_err_key[VQ_ERR_MAX] = {
#define VQ_X_KEY(name, text) [VQ_ERR_##name] = #name,
	VQ_ERRORS(VQ_X_KEY)
#undef VQ_X_KEY
};

static const char *const drop_key[VNET_DROP_MAX] = {
#define VNET_X_KEY(name, text) [VNET_DROP_##name] = #name,
	VNET_DROPS(VNET_X_KEY)
#undef VNET_X_KEY
};

/* " prefix_name=value" with the X-macro name in lower case. */
static void put_named(FILE *f, const char *prefix, const char *name,
		      uint64_t v)
{
	fprintf(f, " %s_", prefix);
	for (const char *c = name; *c; c++)
		fputc(tolower((unsigned char)*c), f);
	fprintf(f, "=%" PRIu64, v);
}

static void print_wiring(const struct dp *dp, const struct dp_port *p,
			 FILE *f)
{
	if (p->reflect)
		fprintf(f, " wiring=reflect");
	else if (p->source)
		fprintf(f, " wiring=source:%u", p->source->len);
	else if (p->bridge >= 0)
		fprintf(f, " wiring=bridge:%s",
			dp_bridge_of(dp, (uint32_t)(p - dp->ports)));
	else if (p->peer >= 0)
		fprintf(f, " wiring=link:%s", dp_port_name(&dp->ports[p->peer]));
	else
		fprintf(f, " wiring=none");
}

static void print_queue(const struct dp_port *p, uint32_t i, FILE *f)
{
	if (!p->qps[i / 2])   /* never started */
		return;
	const struct vq *vq = dp_vq(p, i);
	const struct vq_stats *s = &vq->stats;
	bool tx = i & 1;

	const struct vnet_path_stats *ps = &p->qps[i / 2]->path.stats;
	/* A NIC port's rings count nothing themselves (its own counters
	 * are on its portq lines): show what its receive side forwarded. */
	uint64_t pk = p->nic ? STAT_READ(ps->packets) : STAT_READ(s->packets);
	uint64_t by = p->nic ? STAT_READ(ps->bytes) : STAT_READ(s->bytes);

	fprintf(f, "queue port=%s ring=%u dir=%s live=%d enabled=%d "
		"broken=%d packets=%" PRIu64 " bytes=%" PRIu64,
		dp_port_name(p), i, tx ? "tx" : "rx", p->vq_live[i],
		p->nic ? 1 : p->dev->vr[i].enabled, STAT_READ(vq->broken),
		pk, by);
	if (tx) {
		/* A source's TX is never forwarded: its path counts the
		 * frames generated, shown on the RX ring. */
		fprintf(f, " forwarded=%" PRIu64,
			p->source ? 0 : STAT_READ(ps->packets));
		for (int d = 0; d < VNET_DROP_MAX; d++)
			put_named(f, "drop", drop_key[d],
				  STAT_READ(ps->drops[d]));
	} else {
		fprintf(f, " ring_full=%" PRIu64 " notifications=%" PRIu64,
			STAT_READ(s->ring_full), STAT_READ(s->notifications));
		if (p->source)
			fprintf(f, " generated=%" PRIu64,
				STAT_READ(ps->packets));
	}
	for (int e = 0; e < VQ_ERR_MAX; e++)
		if (STAT_READ(s->errors[e]))
			put_named(f, "error", vq_err_key[e],
				  STAT_READ(s->errors[e]));
	fputc('\n', f);
}

/* Rings that are live or ever counted something. */
static bool queue_seen(const struct dp_port *p, uint32_t i)
{
	if (!p->qps[i / 2])
		return false;
	const struct vq_stats *s = &dp_vq(p, i)->stats;

	return p->vq_live[i] || STAT_READ(s->packets) ||
	       STAT_READ(p->qps[i / 2]->path.stats.drops[VNET_DROP_NO_PEER]) ||
	       STAT_READ(dp_vq(p, i)->broken);
}

void dp_stats_print(const struct dp *dp, FILE *f)
{
	for (uint32_t i = 0; i < dp->nports; i++) {
		const struct dp_port *p = &dp->ports[i];
		if (p->nic) {
			port_stats(p->nic, f);
			for (uint32_t r = 1; r < 2 * p->nic->nqueues; r += 2)
				print_queue(p, r, f);
			continue;
		}
		if (!p->dev)
			continue;
		fprintf(f, "port name=%s", p->dev->name);
		print_wiring(dp, p, f);
		fprintf(f, " rings=%u features=0x%" PRIx64 "\n",
			p->dev->nvrings, p->dev->features);
		for (uint32_t r = 0; r < p->dev->nvrings; r++)
			if (queue_seen(p, r))
				print_queue(p, r, f);
	}
	dp_bridge_stats_print(dp, f);
	for (uint32_t w = 0; w < dp->nworkers; w++) {
		const struct worker *wk = &dp->workers[w];
		uint64_t pk = STAT_READ(wk->stats.packets);
		uint64_t cy = STAT_READ(wk->stats.busy_cycles);
		fprintf(f, "worker id=%u core=%d passes=%" PRIu64 " packets=%"
			PRIu64 " busy_cycles=%" PRIu64
			" cycles_per_packet=%.1f\n", wk->id, wk->core,
			STAT_READ(wk->stats.passes), pk, cy,
			pk ? (double)cy / (double)pk : 0.0);
	}
}
