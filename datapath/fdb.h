/* SPDX-License-Identifier: MIT */
/*
 * fdb.h: a learning bridge's forwarding table: (MAC, VLAN) -> member.
 *
 * Fixed size, set-associative: FDB_WAYS entries per bucket (two cache
 * lines), buckets a power of two, all allocated by fdb_init() on the
 * control thread.  The fast path never allocates: a key that finds its
 * bucket full of live entries is not learned (counted as table_full).
 *
 * One writer: the worker that polls every path of the bridge learns,
 * looks up and ages (fdb_sweep(), a few buckets per pass).  Other threads
 * only read (fdb_dump(): each entry is two 64-bit words, written value
 * first and key last, re-read by the reader until the key stands still),
 * except while no worker can touch the table (the bridge's paths are
 * unpublished): then the control thread may flush it (fdb_flush_member()).
 *
 * Time is seconds on a clock the control thread advances
 * (fdb_set_now()): the worker reads one relaxed word, no system call.  An
 * entry older than the aging time is dead for lookups at once and removed
 * (and counted aged) by the sweep.
 */
#ifndef VHOSTD_FDB_H
#define VHOSTD_FDB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "compiler.h"

#define FDB_WAYS 8
#define FDB_MEMBERS_MAX 64       /* member ids 0..63 */
#define FDB_SIZE_DEFAULT 8192    /* entries */
#define FDB_AGING_DEFAULT 300    /* seconds */
#define FDB_AGING_MAX 1000000u   /* seconds (11.5 days) */
#define FDB_MAC_LIMIT_DEFAULT 1024

/* Counters (single writer: the worker). */
#define FDB_COUNTERS(X)                                                   \
	X(LEARNED, "MACs learned")                                        \
	X(MOVED, "MACs that showed up on another member")                  \
	X(AGED, "entries removed by aging")                                \
	X(LIMIT, "MACs not learned: their member is at its MAC limit")     \
	X(TABLE_FULL, "MACs not learned: their bucket is full")

enum fdb_counter {
#define FDB_X_ENUM(name, text) FDB_##name,
	FDB_COUNTERS(FDB_X_ENUM)
#undef FDB_X_ENUM
	FDB_COUNTER_MAX
};

const char *fdb_counter_name(enum fdb_counter c);   /* "learned", ... */

struct fdb_entry {
	/* key: MAC in bits 0-47, VLAN in 48-59, bit 63 set when in use;
	 * val: member in bits 0-15, last seen (seconds) in bits 32-63. */
	_Atomic uint64_t key, val;
};

struct fdb {
	struct fdb_entry *e;          /* nbuckets * FDB_WAYS */
	uint32_t nbuckets;            /* power of two */
	uint32_t aging;               /* seconds */
	uint32_t mac_limit;           /* per member, 0: none */
	_Atomic uint32_t now;         /* seconds, set by the control thread */
	uint32_t sweep_at;            /* next bucket to sweep (worker) */
	/* Moves on every change of an entry (learned, moved, removed,
	 * flushed): a lookup's answer stays right while gen and now stand
	 * still (bridge.c caches the last one per member). */
	uint32_t gen;
	uint32_t macs[FDB_MEMBERS_MAX]; /* entries per member (worker) */
	uint64_t stats[FDB_COUNTER_MAX];
};

/* size entries (rounded up to whole buckets, a power of two).  0,
 * -EINVAL (size 0 or over 1 << 24, aging 0 or over FDB_AGING_MAX),
 * -ENOMEM. */
int fdb_init(struct fdb *t, uint32_t size, uint32_t aging,
	     uint32_t mac_limit);
void fdb_fini(struct fdb *t);

static inline void fdb_set_now(struct fdb *t, uint32_t now)
{
	atomic_store_explicit(&t->now, now, memory_order_relaxed);
}

/* Worker: mac (6 bytes, a station's: unicast) was seen on member m in
 * vlan.  Learns, refreshes or moves it, or counts why not.  True when
 * the table has it on m, seen now, afterwards. */
bool fdb_learn(struct fdb *t, const uint8_t *mac, uint16_t vlan, uint16_t m);

static inline uint32_t fdb_now(const struct fdb *t)
{
	return atomic_load_explicit(&t->now, memory_order_relaxed);
}

/* Worker: the member mac is on in vlan, or -1 (unknown or aged). */
int fdb_lookup(const struct fdb *t, const uint8_t *mac, uint16_t vlan);

/* Worker: remove the aged entries of the next n buckets. */
void fdb_sweep(struct fdb *t, uint32_t n);

/* While no worker touches t: forget every MAC of member m. */
void fdb_flush_member(struct fdb *t, uint16_t m);

/* Any thread: call fn for each live entry (age in seconds).  Entries
 * learned or removed meanwhile may or may not be seen. */
typedef void (*fdb_dump_fn)(void *arg, const uint8_t mac[6], uint16_t vlan,
			    uint16_t member, uint32_t age);
void fdb_dump(const struct fdb *t, fdb_dump_fn fn, void *arg);

#endif
