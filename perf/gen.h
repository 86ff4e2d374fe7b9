/* SPDX-License-Identifier: MIT */
/*
 * gen.h: the traffic generator core behind vu-gen.
 *
 * It plays a VM's virtio-net driver against any vhost-user back-end
 * (vu_front for the protocol, vu_drv for the rings): connect, negotiate,
 * share memfd "guest" memory, set up N queue pairs, then for a fixed time
 * fill every TX ring with UDP frames as fast as allowed while draining
 * every RX ring, on one thread.
 *
 * Frame (size bytes as carried in the ring; virtio carries no FCS):
 *   0  Ethernet  02:00:00:00:00:02 <- 02:00:00:00:00:01, IPv4
 *   14 IPv4      10.0.0.1 -> 10.0.0.2, UDP, DF, TTL 64, header checksum
 *   34 UDP       1024 -> 1024, checksum 0 (none, legal for IPv4)
 *   42 magic     u32 "VUGN"
 *   46 seq       u64: pair index in the top 8 bits, sequence below
 *   54 stamp     u64 TSC (or CLOCK_MONOTONIC ns without a TSC) at send
 *   62 check     u16 over seq and stamp
 *   64 pattern   byte i of the frame is (i * 7 + 1) & 0xff, to size
 *
 * Every returned frame is checked: length, the 30 header bytes after the
 * MACs, the MACs as sent or swapped (macswap), magic, check, that the seq
 * was sent on this pair, and the last 8 pattern bytes (all of them with
 * verify_full).  A frame failing any check counts as bad; latency comes
 * from good frames only.
 */
#ifndef VHOSTD_PERF_GEN_H
#define VHOSTD_PERF_GEN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define GEN_MIN_SIZE 64u
#define GEN_MAX_SIZE 2048u
#define GEN_MAX_PAIRS 64u

struct gen_opts {
	const char *socket;       /* vhost-user socket path */
	bool server;              /* listen and accept a client back-end */
	const char *backend;      /* label for the RESULT line */
	uint32_t pairs;           /* queue pairs */
	uint32_t ring;            /* ring size */
	uint32_t size;            /* frame bytes, GEN_MIN_SIZE..MAX */
	uint32_t burst;           /* frames per TX burst, 1..64 */
	double duration_s;        /* measuring window */
	double rate_mpps;         /* TX limit over all pairs; 0: none */
	uint32_t drain_ms;        /* wait for stragglers after the window */
	uint32_t warmup_ms;       /* wait this long at most for a first
				   * frame back before the window */
	bool mrg_rxbuf, event_idx, tx_chain, verify_full;
	uint32_t rx_buf;          /* RX buffer bytes incl. header; 0: auto */
	int core;                 /* pin to this CPU; -1: no pinning */
	uint32_t mem_mb;          /* guest memory; 0: computed */
	bool huge;                /* memfd with MFD_HUGETLB */
	int timeout_ms;           /* connect and per-message timeout */
	/* Most frames posted on a TX ring and not yet given back by the
	 * device.  What the device takes from TX goes to RX: with more on
	 * TX than RX can hold besides what is already there, a pause of
	 * ours makes the back-end drop on RX, which would be our loss, not
	 * its.  0: the RX ring's capacity in frames less two bursts;
	 * UINT32_MAX: no limit (the TX ring). */
	uint32_t tx_inflight;
	/* Non-zero: also at most this many frames sent and not yet back,
	 * per pair.  For lossless checks through a back-end that holds
	 * frames of its own (a port with a queue, like the loop port):
	 * tx_inflight bounds only what is on our TX ring. */
	uint32_t window;
};

/* Defaults: 1 pair, ring 256, 64 B, burst 32, 5 s, 200 ms drain,
 * automatic tx_inflight. */
void gen_opts_default(struct gen_opts *o);

/* Bytes of guest memory a run with o maps (a multiple of 1 MiB). */
uint64_t gen_mem_bytes(const struct gen_opts *o);

enum gen_bad {
	GEN_BAD_LEN, GEN_BAD_HDR, GEN_BAD_MAGIC, GEN_BAD_CHECK, GEN_BAD_SEQ,
	GEN_BAD_PAYLOAD, GEN_BAD_COUNT
};

struct gen_result {
	uint64_t features;        /* acked */
	double secs;              /* measured window */
	double tsc_hz;
	uint64_t tx, rx;          /* window frames sent; of those, received
				   * (window + drain), good or bad */
	uint64_t rx_in_window;    /* received during the window */
	uint64_t bad, bad_why[GEN_BAD_COUNT];
	uint64_t late;            /* seq below one seen before (reordered
				   * or duplicated) */
	uint64_t gaps;            /* seq jumped forward */
	uint64_t strays;          /* warm-up frames that came back late */
	uint64_t warmup_rx;       /* warm-up frames back in time */
	int64_t loss;             /* tx - rx */
	double tx_mpps, rx_mpps;  /* window frames / window seconds */
	double rx_gbps;           /* rx_mpps * size * 8 */
	double rx_gbps_l1;        /* rx_mpps * (size + 20) * 8 */
	uint64_t lat_n;
	double p50_us, p99_us, p999_us, max_us;
	/* Summed over the queue pairs' drivers. */
	uint64_t tx_full, tx_kicks, rx_kicks, rx_dropped, drv_errors;
	uint64_t calls;           /* used-buffer notifications received */
	uint32_t tx_inflight;     /* the limit in force */
	uint64_t loops;           /* window loop iterations (per pair) */
	uint64_t idle_loops;      /* of those, nothing reaped and nothing
				   * sent: the generator waited for the
				   * back-end (or the rate) */
	double wait_ms;           /* window time runnable but not running
				   * (other work on our core) */
	uint64_t invol_csw;       /* involuntary context switches then */
	bool broken;
};

/*
 * Run one measurement as o says; progress and errors go to stderr.
 * Returns 0 with *r filled in (even if frames were lost or bad), or a
 * negative errno when the run could not happen (connect, negotiation,
 * memory, a driver broken by the back-end: r is filled in as far as it
 * got then, r->broken set).
 */
int gen_run(const struct gen_opts *o, struct gen_result *r);

/* Human-readable report, then one "RESULT key=value ..." line. */
void gen_report(FILE *out, const struct gen_opts *o,
		const struct gen_result *r);

#endif
