/* SPDX-License-Identifier: MIT */
/*
 * gen.c: the traffic generator core (see gen.h).
 *
 * One thread, one loop over the queue pairs: reap RX (checking and
 * timing every frame), then post one TX burst within the rate budget.
 * Frames are pre-built once in every TX slot; per frame only seq, stamp
 * and check are written.  Nothing is allocated once traffic runs.
 */
#include "gen.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define GEN_HAVE_TSC 1
#endif

#include "control/frontend/vu_drv.h"
#include "control/frontend/vu_front.h"
#include "datapath/compiler.h"

#define GEN_MAGIC   0x4e475556u       /* "VUGN" read as little endian */
#define OFF_MAGIC   42u
#define OFF_SEQ     46u
#define OFF_STAMP   54u
#define OFF_CHECK   62u
#define HEAD_LEN    64u               /* everything up to the pattern */
#define SEQ_BITS    56u
#define SEQ_MASK    ((1ULL << SEQ_BITS) - 1)
#define TAIL_LEN    8u
#define L1_OVERHEAD 20u               /* preamble + SFD 8, IFG 12 */

/* Latency histogram in ns: exact below 128, then 64 buckets per power
 * of two (at most 1/64 = 1.6 % wide). */
#define HIST_LINEAR 128u
#define HIST_SUB    64u
#define HIST_BUCKETS (HIST_LINEAR + (64u - 7u) * HIST_SUB)

struct hist {
	uint64_t n, max;
	uint64_t b[HIST_BUCKETS];
};

struct gen_pair {
	struct vu_drv *drv;
	uint32_t idx;
	uint64_t next_seq;        /* next sequence number to send */
	uint64_t win_seq;         /* first one of the window */
	uint64_t expect;          /* next one expected back */
	bool got_one;             /* a frame came back (warm-up) */
};

enum gen_phase { PH_WARMUP, PH_WINDOW, PH_DRAIN };

struct gen_ctx {
	const struct gen_opts *o;
	struct gen_result *r;
	struct gen_pair *cur;     /* pair being polled (RX callback) */
	uint64_t now;             /* clock at this poll */
	double ns_per_tick;
	enum gen_phase phase;
	uint8_t ref[GEN_MAX_SIZE];     /* the frame, seq fields zero */
	uint8_t swapped[12];           /* its MACs swapped */
	uint8_t scratch[GEN_MAX_SIZE];
	struct gen_pair pairs[GEN_MAX_PAIRS];
	struct hist h;
};

static volatile sig_atomic_t gen_stop;

static void on_signal(int sig)
{
	(void)sig;
	gen_stop = 1;
}

void gen_opts_default(struct gen_opts *o)
{
	*o = (struct gen_opts){
		.backend = "unknown", .pairs = 1, .ring = 256, .size = 64,
		.burst = 32, .duration_s = 5.0, .drain_ms = 200,
		.warmup_ms = 2000, .core = -1, .timeout_ms = 5000,
	};
}

/* Clock ------------------------------------------------------------ */

static inline uint64_t clock_ticks(void)
{
#ifdef GEN_HAVE_TSC
	return __rdtsc();
#else
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
#endif
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Nanoseconds this thread was runnable but waited for its CPU (the
 * second field of schedstat): what other work on our core cost us. */
static uint64_t run_delay_ns(void)
{
	unsigned long long run = 0, wait = 0;
	FILE *f = fopen("/proc/thread-self/schedstat", "r");

	if (!f)
		return 0;
	if (fscanf(f, "%llu %llu", &run, &wait) != 2)
		wait = 0;
	fclose(f);
	return wait;
}

static uint64_t invol_switches(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_THREAD, &ru) ? 0 : (uint64_t)ru.ru_nivcsw;
}

/* Ticks per second of clock_ticks(), measured over 100 ms. */
static double clock_hz(void)
{
#ifdef GEN_HAVE_TSC
	struct timespec nap = {.tv_nsec = 100 * 1000 * 1000};
	double s0 = mono_s();
	uint64_t t0 = clock_ticks();

	nanosleep(&nap, NULL);
	double s1 = mono_s();
	uint64_t t1 = clock_ticks();
	return (double)(t1 - t0) / (s1 - s0);
#else
	return 1e9;
#endif
}

/* Histogram -------------------------------------------------------- */

static unsigned int hist_bucket(uint64_t v)
{
	if (v < HIST_LINEAR)
		return (unsigned int)v;
	unsigned int e = 63u - (unsigned int)__builtin_clzll(v); /* >= 7 */
	return HIST_LINEAR + (e - 7u) * HIST_SUB +
	       (unsigned int)((v >> (e - 6u)) & (HIST_SUB - 1));
}

/* Middle of bucket b. */
static double hist_value(unsigned int b)
{
	if (b < HIST_LINEAR)
		return b;
	unsigned int e = (b - HIST_LINEAR) / HIST_SUB + 7u;
	uint64_t sub = (b - HIST_LINEAR) % HIST_SUB;
	uint64_t lo = (HIST_SUB + sub) << (e - 6u);
	return (double)lo + (double)(1ULL << (e - 6u)) / 2.0;
}

static void hist_add(struct hist *h, uint64_t ns)
{
	h->b[hist_bucket(ns)]++;
	h->n++;
	if (ns > h->max)
		h->max = ns;
}

static double hist_pct(const struct hist *h, double q)
{
	uint64_t want = (uint64_t)((double)h->n * q), seen = 0;

	if (!h->n)
		return 0;
	if (want >= h->n)
		want = h->n - 1;
	for (unsigned int b = 0; b < HIST_BUCKETS; b++) {
		seen += h->b[b];
		if (seen > want)
			return hist_value(b);
	}
	return (double)h->max;
}

/* Frames ----------------------------------------------------------- */

static void put16be(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t ip_checksum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static inline uint16_t frame_check(uint64_t seq, uint64_t stamp)
{
	uint64_t x = seq * 0x9e3779b97f4a7c15ULL ^ stamp;

	return (uint16_t)(x ^ x >> 16 ^ x >> 32 ^ x >> 48);
}

static void build_ref(struct gen_ctx *c, uint32_t size)
{
	static const uint8_t dst[6] = {2, 0, 0, 0, 0, 2};
	static const uint8_t src[6] = {2, 0, 0, 0, 0, 1};
	uint8_t *f = c->ref, *ip = f + 14, *udp = f + 34;
	uint32_t magic = GEN_MAGIC;

	memset(f, 0, sizeof(c->ref));
	for (uint32_t i = HEAD_LEN; i < size; i++)
		f[i] = (uint8_t)(i * 7u + 1u);
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	put16be(f + 12, 0x0800);
	ip[0] = 0x45;
	put16be(ip + 2, (uint16_t)(size - 14));
	put16be(ip + 6, 0x4000);              /* DF */
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, (const uint8_t[]){10, 0, 0, 1}, 4);
	memcpy(ip + 16, (const uint8_t[]){10, 0, 0, 2}, 4);
	put16be(ip + 10, ip_checksum(ip, 20));
	put16be(udp, 1024);
	put16be(udp + 2, 1024);
	put16be(udp + 4, (uint16_t)(size - 34));
	memcpy(f + OFF_MAGIC, &magic, 4);
	memcpy(c->swapped, src, 6);
	memcpy(c->swapped + 6, dst, 6);
}

/* Check one returned frame (see gen.h); GEN_BAD_COUNT when it is good,
 * with its sequence number in *s and its send time in *stamp. */
static enum gen_bad check_frame(struct gen_ctx *c, const struct gen_pair *p,
				const struct vu_drv_rx_pkt *pkt, uint64_t *s,
				uint64_t *stamp)
{
	const uint32_t size = c->o->size;
	uint8_t *h = c->scratch;
	uint64_t seq;
	uint32_t magic;
	uint16_t check;

	if (pkt->len != size ||
	    vu_drv_rx_copy(pkt, 0, h, HEAD_LEN) != HEAD_LEN)
		return GEN_BAD_LEN;
	if (memcmp(h + 12, c->ref + 12, OFF_MAGIC - 12) ||
	    (memcmp(h, c->ref, 12) && memcmp(h, c->swapped, 12)))
		return GEN_BAD_HDR;
	memcpy(&magic, h + OFF_MAGIC, 4);
	memcpy(&seq, h + OFF_SEQ, 8);
	memcpy(stamp, h + OFF_STAMP, 8);
	memcpy(&check, h + OFF_CHECK, 2);
	if (magic != GEN_MAGIC)
		return GEN_BAD_MAGIC;
	if (check != frame_check(seq, *stamp))
		return GEN_BAD_CHECK;
	*s = seq & SEQ_MASK;
	if (seq >> SEQ_BITS != p->idx || *s >= p->next_seq)
		return GEN_BAD_SEQ;
	if (size > HEAD_LEN) {
		uint32_t from = c->o->verify_full ? HEAD_LEN : size - TAIL_LEN;
		if (vu_drv_rx_copy(pkt, from, h + from, size - from) !=
			    size - from ||
		    memcmp(h + from, c->ref + from, size - from))
			return GEN_BAD_PAYLOAD;
	}
	return GEN_BAD_COUNT;
}

static void on_rx(void *arg, const struct vu_drv_rx_pkt *pkt)
{
	struct gen_ctx *c = arg;
	struct gen_pair *p = c->cur;
	struct gen_result *r = c->r;
	uint64_t s = 0, stamp = 0;
	enum gen_bad why = check_frame(c, p, pkt, &s, &stamp);

	if (why == GEN_BAD_COUNT && s < p->win_seq) {
		/* Sent in the warm-up (win_seq is the maximum until its end). */
		if (c->phase == PH_WARMUP)
			r->warmup_rx++;
		else
			r->strays++;
		p->got_one = true;
		return;
	}
	if (c->phase != PH_WARMUP)
		r->rx++;
	if (c->phase == PH_WINDOW)
		r->rx_in_window++;
	if (why != GEN_BAD_COUNT) {
		r->bad++;
		r->bad_why[why]++;
		return;
	}
	if (s == p->expect) {
		p->expect++;
	} else if (s > p->expect) {
		r->gaps++;
		p->expect = s + 1;
	} else {
		r->late++;
	}
	hist_add(&c->h, c->now > stamp ?
		 (uint64_t)((double)(c->now - stamp) * c->ns_per_tick) : 0);
}

/* Post up to want frames on pair p stamped now; returns how many. */
static unsigned int tx_burst(struct gen_ctx *c, struct gen_pair *p,
			     unsigned int want, uint64_t now)
{
	uint8_t *fr[VU_DRV_BURST_MAX];
	uint32_t lens[VU_DRV_BURST_MAX];
	unsigned int n = vu_drv_tx_reserve(p->drv, fr, want);

	for (unsigned int i = 0; i < n; i++) {
		uint64_t seq = (uint64_t)p->idx << SEQ_BITS | p->next_seq++;
		uint16_t check = frame_check(seq, now);
		memcpy(fr[i] + OFF_SEQ, &seq, 8);
		memcpy(fr[i] + OFF_STAMP, &now, 8);
		memcpy(fr[i] + OFF_CHECK, &check, 2);
		lens[i] = c->o->size;
	}
	if (n && vu_drv_tx_commit(p->drv, lens, n) < 0)
		return 0; /* cannot happen: lengths are in range */
	return n;
}

static unsigned int poll_rx(struct gen_ctx *c, struct gen_pair *p)
{
	c->cur = p;
	c->now = clock_ticks();
	/* Everything that is there: a full RX ring makes the back-end drop,
	 * and that loss would be ours, not its. */
	return vu_drv_rx_poll(p->drv, c->o->ring, on_rx, c);
}

static bool any_broken(const struct gen_ctx *c)
{
	for (uint32_t i = 0; i < c->o->pairs; i++)
		if (vu_drv_broken(c->pairs[i].drv))
			return true;
	return false;
}

/* Set up ----------------------------------------------------------- */

static int pin(int core)
{
	cpu_set_t set;

	if (core < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(core, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0) {
		int err = -errno;
		fprintf(stderr, "vu-gen: cannot pin to core %d: %s\n", core,
			strerror(-err));
		return err;
	}
	return 0;
}

uint64_t gen_mem_bytes(const struct gen_opts *o)
{
	uint64_t n = o->ring, rx = o->rx_buf ? o->rx_buf : 12 + GEN_MAX_SIZE;
	uint64_t per_pair = 2 * (26 * n + 3 * CACHE_LINE) +
			    n * align_up_u64(12 + VU_DRV_FRAME_MAX, CACHE_LINE) +
			    n * align_up_u64(rx, CACHE_LINE);

	if (o->mem_mb)
		return (uint64_t)o->mem_mb << 20;
	return align_up_u64(o->pairs * per_pair + (1u << 20), 1u << 20);
}

static int negotiate(struct vu_front *f, const struct gen_opts *o,
		     struct gen_result *r)
{
	uint64_t want = BIT_ULL(VIRTIO_F_VERSION_1) |
			BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES);
	static const struct {
		unsigned int bit;
		const char *name;
	} need[] = {
		{VIRTIO_F_VERSION_1, "VERSION_1"},
		{VIRTIO_NET_F_MRG_RXBUF, "MRG_RXBUF"},
		{VIRTIO_RING_F_EVENT_IDX, "EVENT_IDX"},
		{VIRTIO_NET_F_MQ, "MQ"},
	};

	if (o->mrg_rxbuf)
		want |= BIT_ULL(VIRTIO_NET_F_MRG_RXBUF);
	if (o->event_idx)
		want |= BIT_ULL(VIRTIO_RING_F_EVENT_IDX);
	if (o->pairs > 1)
		want |= BIT_ULL(VIRTIO_NET_F_MQ);
	int err = vu_front_negotiate(f, want, VU_FRONT_PROTOCOL_DEFAULT);
	if (err) {
		fprintf(stderr, "vu-gen: negotiation failed: %s\n",
			strerror(-err));
		return err;
	}
	r->features = vu_front_features_acked(f);
	for (size_t i = 0; i < ARRAY_SIZE(need); i++) {
		if ((want & BIT_ULL(need[i].bit)) &&
		    !(r->features & BIT_ULL(need[i].bit))) {
			fprintf(stderr, "vu-gen: the back-end does not offer "
				"%s (offered 0x%llx)\n", need[i].name,
				(unsigned long long)
					vu_front_features_offered(f));
			return -ENOTSUP;
		}
	}
	if (o->pairs > 1 && vu_front_queue_num(f) < o->pairs) {
		fprintf(stderr, "vu-gen: %u queue pairs asked, the back-end "
			"has %llu\n", o->pairs,
			(unsigned long long)vu_front_queue_num(f));
		return -ENOTSUP;
	}
	return 0;
}

static int setup(struct gen_ctx *c, struct vu_front **fp)
{
	const struct gen_opts *o = c->o;
	struct vu_guestmem_opts mo = {
		.size = gen_mem_bytes(o), .nregions = 1,
		.backing = o->huge ? VU_GUESTMEM_MEMFD_HUGE : VU_GUESTMEM_MEMFD,
	};
	struct vu_front *f = NULL;
	const char *step = "connect";
	int err;

	err = o->server ? vu_front_accept(&f, o->socket, o->timeout_ms,
					  o->timeout_ms) :
			  vu_front_connect(&f, o->socket, o->timeout_ms,
					   o->timeout_ms);
	if (err) {
		fprintf(stderr, "vu-gen: %s %s: %s\n",
			o->server ? "accept on" : "connect to", o->socket,
			strerror(-err));
		return err;
	}
	*fp = f;
	err = negotiate(f, o, c->r);
	if (err)
		return err;
	step = "guest memory";
	err = vu_front_mem_init(f, &mo);
	if (!err) {
		step = "SET_MEM_TABLE";
		err = vu_front_set_mem_table(f);
	}
	if (!err) {
		step = "ring set-up";
		err = vu_front_setup_queues(f, o->pairs, o->ring);
	}
	for (uint32_t i = 0; !err && i < o->pairs; i++) {
		struct vu_drv_opts d = {.pair = i, .tx_chain = o->tx_chain,
					.rx_buf_size = o->rx_buf};
		step = "driver";
		c->pairs[i].idx = i;
		err = vu_drv_create(&c->pairs[i].drv, f, &d);
	}
	if (err)
		fprintf(stderr, "vu-gen: %s failed: %s\n", step,
			strerror(-err));
	return err;
}

static void teardown(struct gen_ctx *c, struct vu_front *f)
{
	struct vu_drv_stats st;

	for (uint32_t i = 0; i < c->o->pairs; i++) {
		struct vu_drv *d = c->pairs[i].drv;
		if (!d)
			continue;
		vu_drv_stats(d, &st);
		c->r->tx_full += st.tx_full;
		c->r->tx_kicks += st.tx_kicks;
		c->r->rx_kicks += st.rx_kicks;
		c->r->rx_dropped += st.rx_dropped;
		for (unsigned int e = 0; e < VU_DRV_ERR_COUNT; e++) {
			c->r->drv_errors += st.errors[e];
			if (st.errors[e])
				fprintf(stderr, "vu-gen: pair %u: %llu x %s\n",
					i, (unsigned long long)st.errors[e],
					vu_drv_error_str(e));
		}
		c->r->broken |= vu_drv_broken(d);
		vu_drv_destroy(d);
		c->pairs[i].drv = NULL;
	}
	if (!f)
		return;
	/* Calls the back-end sent although we asked for none (eventfd
	 * counters; each write adds its value, 1 for every back-end). */
	for (uint32_t i = 0; i < 2 * c->o->pairs; i++) {
		const struct vu_front_vring *vr = vu_front_vring(f, i);
		uint64_t n;
		if (vr && vr->call_fd >= 0 &&
		    read(vr->call_fd, &n, sizeof(n)) == sizeof(n))
			c->r->calls += n;
	}
	/* Stop the rings the way a VMM does (GET_VRING_BASE). */
	for (uint32_t i = 0; i < 2 * c->o->pairs; i++) {
		const struct vu_front_vring *vr = vu_front_vring(f, i);
		if (vr && vr->started)
			vu_front_vring_stop(f, i, NULL);
	}
	vu_front_close(f);
}

/* Phases ----------------------------------------------------------- */

/* One burst per pair, then wait until every pair returned a frame. */
static void warmup(struct gen_ctx *c)
{
	const struct gen_opts *o = c->o;
	double end = mono_s() + o->warmup_ms / 1e3;
	bool all = false;

	c->phase = PH_WARMUP;
	for (uint32_t i = 0; i < o->pairs; i++) {
		c->pairs[i].win_seq = UINT64_MAX;
		tx_burst(c, &c->pairs[i], o->burst, clock_ticks());
	}
	while (!all && !gen_stop && !any_broken(c) && mono_s() < end) {
		all = true;
		for (uint32_t i = 0; i < o->pairs; i++) {
			poll_rx(c, &c->pairs[i]);
			vu_drv_tx_reclaim(c->pairs[i].drv);
			all &= c->pairs[i].got_one;
		}
	}
	for (uint32_t i = 0; i < o->pairs; i++) {
		struct gen_pair *p = &c->pairs[i];
		if (!p->got_one)
			fprintf(stderr, "vu-gen: no frame came back on queue "
				"pair %u within %u ms; measuring anyway\n", i,
				o->warmup_ms);
		p->win_seq = p->expect = p->next_seq;
	}
}

static void window(struct gen_ctx *c)
{
	const struct gen_opts *o = c->o;
	struct gen_result *r = c->r;
	uint64_t t0 = clock_ticks(), sent = 0, skipped = 0;
	uint64_t t_end = t0 + (uint64_t)(o->duration_s * r->tsc_hz);
	double per_tick = o->rate_mpps * 1e6 / r->tsc_hz;
	double s0 = mono_s();
	uint64_t delay0 = run_delay_ns(), csw0 = invol_switches();

	c->phase = PH_WINDOW;
	while (!gen_stop) {
		uint64_t now = clock_ticks();
		if (now >= t_end)
			break;
		for (uint32_t i = 0; i < o->pairs; i++) {
			struct gen_pair *p = &c->pairs[i];
			unsigned int want = o->burst, got;
			got = poll_rx(c, p);
			vu_drv_tx_reclaim(p->drv);
			uint32_t busy = vu_drv_tx_inflight(p->drv);
			if (busy + want > r->tx_inflight)
				want = busy < r->tx_inflight ?
				       r->tx_inflight - busy : 0;
			busy = (uint32_t)(p->next_seq - p->expect);
			if (o->window && busy + want > o->window)
				want = busy < o->window ? o->window - busy : 0;
			/* A fresh stamp: reaping RX may have taken a while. */
			now = clock_ticks();
			if (per_tick > 0) {
				/* Token bucket of at most one ring: after a
				 * stall we do not flood the back-end to catch
				 * up (tx_mpps shows the rate reached). */
				uint64_t allowed = 1 + (uint64_t)(
					(double)(now - t0) * per_tick) - skipped;
				if (allowed > sent + o->ring) {
					skipped += allowed - sent - o->ring;
					allowed = sent + o->ring;
				}
				want = allowed > sent ?
				       (unsigned int)MIN(allowed - sent,
							 (uint64_t)want) :
				       0;
			}
			if (want)
				want = tx_burst(c, p, want, now);
			sent += want;
			r->loops++;
			r->idle_loops += !got && !want;
		}
		if (unlikely(any_broken(c)))
			break;
	}
	r->secs = mono_s() - s0;
	r->tx = sent;
	r->wait_ms = (double)(run_delay_ns() - delay0) / 1e6;
	r->invol_csw = invol_switches() - csw0;
}

static void drain(struct gen_ctx *c)
{
	double end = mono_s() + c->o->drain_ms / 1e3;

	c->phase = PH_DRAIN;
	while (c->r->rx < c->r->tx && !any_broken(c) && mono_s() < end) {
		for (uint32_t i = 0; i < c->o->pairs; i++) {
			poll_rx(c, &c->pairs[i]);
			vu_drv_tx_reclaim(c->pairs[i].drv);
		}
	}
}

static void results(struct gen_ctx *c)
{
	struct gen_result *r = c->r;
	double secs = r->secs > 0 ? r->secs : 1;

	r->loss = (int64_t)r->tx - (int64_t)r->rx;
	r->tx_mpps = (double)r->tx / secs / 1e6;
	r->rx_mpps = (double)r->rx_in_window / secs / 1e6;
	r->rx_gbps = r->rx_mpps * c->o->size * 8 / 1e3;
	r->rx_gbps_l1 = r->rx_mpps * (c->o->size + L1_OVERHEAD) * 8 / 1e3;
	r->lat_n = c->h.n;
	r->p50_us = hist_pct(&c->h, 0.50) / 1e3;
	r->p99_us = hist_pct(&c->h, 0.99) / 1e3;
	r->p999_us = hist_pct(&c->h, 0.999) / 1e3;
	r->max_us = (double)c->h.max / 1e3;
}

/* See gen_opts.tx_inflight. */
static uint32_t inflight_limit(const struct gen_opts *o, uint32_t hdr_len)
{
	uint32_t rx_buf = o->rx_buf ? o->rx_buf : hdr_len + VU_DRV_FRAME_MAX;
	uint32_t per_frame = (hdr_len + o->size + rx_buf - 1) / rx_buf;
	/* Between two RX polls the back-end can fill RX with what was on TX
	 * plus what we sent since: two limits' worth.  A merged frame may
	 * also be half published (the device flushes used entries in
	 * batches), holding up to per_frame - 1 buffers we cannot re-post
	 * yet. */
	uint32_t frames = !o->mrg_rxbuf ? o->ring :
			  o->ring > per_frame ?
			  (o->ring - per_frame + 1) / per_frame : 1;

	if (o->tx_inflight)
		return o->tx_inflight;
	if (frames > 2 * o->burst)
		return frames - 2 * o->burst;
	return MAX(frames / 2, 1u);
}

static int check_opts(const struct gen_opts *o)
{
	if (!o->socket)
		return -EINVAL;
	if (o->size < GEN_MIN_SIZE || o->size > GEN_MAX_SIZE ||
	    o->pairs < 1 || o->pairs > GEN_MAX_PAIRS || o->burst < 1 ||
	    o->burst > VU_DRV_BURST_MAX || o->duration_s <= 0 ||
	    o->rate_mpps < 0) {
		fprintf(stderr, "vu-gen: --size %u..%u, --queues 1..%u, "
			"--burst 1..%u, --duration > 0, --rate-mpps >= 0\n",
			GEN_MIN_SIZE, GEN_MAX_SIZE, GEN_MAX_PAIRS,
			VU_DRV_BURST_MAX);
		return -EINVAL;
	}
	return 0;
}

int gen_run(const struct gen_opts *o, struct gen_result *r)
{
	struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
	struct vu_front *f = NULL;
	struct gen_ctx *c;
	int err;

	memset(r, 0, sizeof(*r));
	err = check_opts(o);
	if (!err)
		err = pin(o->core);
	if (err)
		return err;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->o = o;
	c->r = r;
	r->tsc_hz = clock_hz();
	c->ns_per_tick = 1e9 / r->tsc_hz;
	build_ref(c, o->size);
	gen_stop = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);

	err = setup(c, &f);
	if (!err) {
		r->tx_inflight = MIN(inflight_limit(o, vu_drv_hdr_len(
						c->pairs[0].drv)),
				     vu_drv_tx_nslots(c->pairs[0].drv));
		/* Every slot gets the whole frame once. */
		for (uint32_t i = 0; i < o->pairs; i++) {
			struct vu_drv *d = c->pairs[i].drv;
			for (uint32_t s = 0; s < vu_drv_tx_nslots(d); s++)
				memcpy(vu_drv_tx_slot_frame(d, s), c->ref,
				       o->size);
		}
		warmup(c);
		window(c);
		drain(c);
		results(c);
		if (any_broken(c))
			err = -EPROTO;
	}
	teardown(c, f);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	free(c);
	return err;
}

void gen_report(FILE *out, const struct gen_opts *o,
		const struct gen_result *r)
{
	static const char *const why[GEN_BAD_COUNT] = {
		"len", "hdr", "magic", "check", "seq", "payload"};
	bool mrg = r->features & BIT_ULL(VIRTIO_NET_F_MRG_RXBUF);
	bool evi = r->features & BIT_ULL(VIRTIO_RING_F_EVENT_IDX);

	fprintf(out, "vu-gen: back-end %s on %s: %u queue pair(s), ring %u, "
		"%u B frames, burst %u, mrg_rxbuf %s, event_idx %s, tx %s\n",
		o->backend, o->socket, o->pairs, o->ring, o->size, o->burst,
		mrg ? "on" : "off", evi ? "on" : "off",
		o->tx_chain ? "2 descriptors/frame" : "1 descriptor/frame");
	fprintf(out, "  features acked   0x%llx, clock %.3f GHz\n",
		(unsigned long long)r->features, r->tsc_hz / 1e9);
	fprintf(out, "  tx limits        %u frames in flight per ring%s",
		r->tx_inflight,
		r->tx_inflight >= (o->tx_chain ? o->ring / 2 : o->ring) ?
		" (all TX slots)" : "");
	if (o->rate_mpps > 0)
		fprintf(out, ", %.3f Mpps", o->rate_mpps);
	fprintf(out, "\n");
	fprintf(out, "  window           %.3f s: tx %llu frames, %.3f Mpps; "
		"rx %llu frames, %.3f Mpps\n", r->secs,
		(unsigned long long)r->tx, r->tx_mpps,
		(unsigned long long)r->rx_in_window, r->rx_mpps);
	fprintf(out, "  rx throughput    %.3f Gbit/s of frame bytes (%u B, no "
		"FCS); %.3f Gbit/s adding %u B preamble+IFG per frame\n",
		r->rx_gbps, o->size, r->rx_gbps_l1, L1_OVERHEAD);
	fprintf(out, "  loss             %lld of %llu (%.4f %%) after up to "
		"%u ms drain\n", (long long)r->loss,
		(unsigned long long)r->tx,
		r->tx ? 100.0 * (double)r->loss / (double)r->tx : 0.0,
		o->drain_ms);
	fprintf(out, "  latency          p50 %.2f us, p99 %.2f us, p99.9 %.2f "
		"us, max %.2f us (%llu frames)\n", r->p50_us, r->p99_us,
		r->p999_us, r->max_us, (unsigned long long)r->lat_n);
	fprintf(out, "  integrity        bad %llu (", (unsigned long long)r->bad);
	for (int i = 0; i < GEN_BAD_COUNT; i++)
		fprintf(out, "%s%s %llu", i ? ", " : "", why[i],
			(unsigned long long)r->bad_why[i]);
	fprintf(out, "), reordered %llu, gaps %llu, warm-up %llu + %llu late\n",
		(unsigned long long)r->late, (unsigned long long)r->gaps,
		(unsigned long long)r->warmup_rx,
		(unsigned long long)r->strays);
	fprintf(out, "  driver           tx ring full %llu times, kicks tx %llu "
		"rx %llu, calls received %llu, rx dropped %llu, ring errors "
		"%llu%s\n",
		(unsigned long long)r->tx_full,
		(unsigned long long)r->tx_kicks,
		(unsigned long long)r->rx_kicks, (unsigned long long)r->calls,
		(unsigned long long)r->rx_dropped,
		(unsigned long long)r->drv_errors,
		r->broken ? " (BROKEN)" : "");
	fprintf(out, "  generator        idle (nothing to reap, nothing it may "
		"send) in %.1f %% of %llu loops\n", r->loops ?
		100.0 * (double)r->idle_loops / (double)r->loops : 0.0,
		(unsigned long long)r->loops);
	fprintf(out, "  noise            waited %.1f ms runnable but not running "
		"during the window, %llu involuntary switches\n", r->wait_ms,
		(unsigned long long)r->invol_csw);
	fprintf(out, "RESULT backend=%s size=%u pairs=%u ring=%u burst=%u "
		"mrg=%d event_idx=%d chain=%d rate_mpps=%.3f secs=%.3f "
		"tx=%llu rx=%llu tx_mpps=%.3f rx_mpps=%.3f rx_gbps=%.3f "
		"rx_gbps_l1=%.3f loss=%lld loss_pct=%.4f bad=%llu late=%llu "
		"p50_us=%.2f p99_us=%.2f p999_us=%.2f max_us=%.2f "
		"tx_full=%llu kicks=%llu calls=%llu wait_ms=%.1f "
		"tx_inflight=%u idle_pct=%.1f broken=%d\n",
		o->backend, o->size, o->pairs, o->ring, o->burst, mrg, evi,
		o->tx_chain, o->rate_mpps, r->secs, (unsigned long long)r->tx,
		(unsigned long long)r->rx, r->tx_mpps, r->rx_mpps, r->rx_gbps,
		r->rx_gbps_l1, (long long)r->loss,
		r->tx ? 100.0 * (double)r->loss / (double)r->tx : 0.0,
		(unsigned long long)r->bad, (unsigned long long)r->late,
		r->p50_us, r->p99_us, r->p999_us, r->max_us,
		(unsigned long long)r->tx_full,
		(unsigned long long)(r->tx_kicks + r->rx_kicks),
		(unsigned long long)r->calls, r->wait_ms, r->tx_inflight,
		r->loops ? 100.0 * (double)r->idle_loops / (double)r->loops :
			   0.0,
		r->broken);
}
