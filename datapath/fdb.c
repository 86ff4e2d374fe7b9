/* SPDX-License-Identifier: MIT */
#include "fdb.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define KEY_USED (1ull << 63)
#define VAL_MEMBER(v) ((uint16_t)((v) & 0xffff))
#define VAL_SEEN(v) ((uint32_t)((v) >> 32))

static const char *const counter_name[FDB_COUNTER_MAX] = {
	[FDB_LEARNED] = "learned", [FDB_MOVED] = "moved", [FDB_AGED] = "aged",
	[FDB_LIMIT] = "limit", [FDB_TABLE_FULL] = "table_full",
};

const char *fdb_counter_name(enum fdb_counter c)
{
	return c < FDB_COUNTER_MAX ? counter_name[c] : "?";
}

int fdb_init(struct fdb *t, uint32_t size, uint32_t aging,
	     uint32_t mac_limit)
{
	memset(t, 0, sizeof(*t));
	if (size == 0 || size > (1u << 24) || aging == 0 ||
	    aging > FDB_AGING_MAX)
		return -EINVAL;
	uint32_t nb = 1;
	while (nb * FDB_WAYS < size)
		nb <<= 1;
	t->e = aligned_alloc(CACHE_LINE, (size_t)nb * FDB_WAYS * sizeof(*t->e));
	if (!t->e)
		return -ENOMEM;
	memset(t->e, 0, (size_t)nb * FDB_WAYS * sizeof(*t->e));
	t->nbuckets = nb;
	t->aging = aging;
	t->mac_limit = mac_limit;
	return 0;
}

void fdb_fini(struct fdb *t)
{
	free(t->e);
	t->e = NULL;
}

static inline uint64_t make_key(const uint8_t *mac, uint16_t vlan)
{
	uint64_t k = 0;

	for (int i = 5; i >= 0; i--)
		k = k << 8 | mac[i];
	return k | (uint64_t)(vlan & 0xfff) << 48 | KEY_USED;
}

static inline struct fdb_entry *bucket(const struct fdb *t, uint64_t key)
{
	/* Fibonacci hashing: the MAC's low bytes are often sequential. */
	uint64_t h = key * 0x9e3779b97f4a7c15ull;

	return &t->e[((uint32_t)(h >> 40) & (t->nbuckets - 1)) * FDB_WAYS];
}

static inline uint64_t ld(const _Atomic uint64_t *a)
{
	return atomic_load_explicit(a, memory_order_relaxed);
}

static inline void st(_Atomic uint64_t *a, uint64_t v)
{
	atomic_store_explicit(a, v, memory_order_relaxed);
}

static inline uint32_t now(const struct fdb *t)
{
	return atomic_load_explicit(&t->now, memory_order_relaxed);
}

static inline bool expired(const struct fdb *t, uint64_t val, uint32_t at)
{
	return at - VAL_SEEN(val) > t->aging;
}

/* Remove entry e (the worker's): its member counts one MAC less. */
static void drop_entry(struct fdb *t, struct fdb_entry *e, uint64_t val)
{
	uint16_t m = VAL_MEMBER(val);

	st(&e->key, 0);
	t->gen++;
	if (m < FDB_MEMBERS_MAX && t->macs[m])
		t->macs[m]--;
}

/* Value first, key last (release): a reader that sees the key sees a
 * value written with or after it. */
static void put_entry(struct fdb *t, struct fdb_entry *e, uint64_t key,
		      uint16_t m, uint32_t at)
{
	t->gen++;
	st(&e->val, (uint64_t)at << 32 | m);
	atomic_store_explicit(&e->key, key, memory_order_release);
}

static bool at_limit(const struct fdb *t, uint16_t m)
{
	return t->mac_limit && t->macs[m] >= t->mac_limit;
}

/* A known MAC seen on member m: refresh, or move it.  True when it is on
 * m afterwards. */
static bool relearn(struct fdb *t, struct fdb_entry *e, uint64_t key,
		    uint64_t val, uint16_t m, uint32_t at)
{
	uint16_t old = VAL_MEMBER(val);

	if (old == m && !expired(t, val, at)) {
		/* Only when the second changes: no store per frame. */
		if (VAL_SEEN(val) != at)
			st(&e->val, (uint64_t)at << 32 | m);
		return true;
	}
	drop_entry(t, e, val);
	if (expired(t, val, at)) {
		STAT_INC(t->stats[FDB_AGED]);
	} else if (at_limit(t, m)) {   /* moved to a member that is full */
		STAT_INC(t->stats[FDB_LIMIT]);
		return false;
	} else {
		STAT_INC(t->stats[FDB_MOVED]);
		t->macs[m]++;
		put_entry(t, e, key, m, at);
		return true;
	}
	if (at_limit(t, m)) {
		STAT_INC(t->stats[FDB_LIMIT]);
		return false;
	}
	STAT_INC(t->stats[FDB_LEARNED]);
	t->macs[m]++;
	put_entry(t, e, key, m, at);
	return true;
}

bool fdb_learn(struct fdb *t, const uint8_t *mac, uint16_t vlan, uint16_t m)
{
	uint64_t key = make_key(mac, vlan);
	struct fdb_entry *b = bucket(t, key), *free_e = NULL;
	uint32_t at = now(t);

	if (unlikely(m >= FDB_MEMBERS_MAX))
		return false;
	for (uint32_t w = 0; w < FDB_WAYS; w++) {
		uint64_t k = ld(&b[w].key);
		if (k == key)
			return relearn(t, &b[w], key, ld(&b[w].val), m, at);
		if (!free_e && !k)
			free_e = &b[w];
	}
	if (at_limit(t, m)) {
		STAT_INC(t->stats[FDB_LIMIT]);
		return false;
	}
	for (uint32_t w = 0; !free_e && w < FDB_WAYS; w++) {
		uint64_t v = ld(&b[w].val);
		if (expired(t, v, at)) {   /* reuse an aged entry now */
			drop_entry(t, &b[w], v);
			STAT_INC(t->stats[FDB_AGED]);
			free_e = &b[w];
		}
	}
	if (!free_e) {
		STAT_INC(t->stats[FDB_TABLE_FULL]);
		return false;
	}
	STAT_INC(t->stats[FDB_LEARNED]);
	t->macs[m]++;
	put_entry(t, free_e, key, m, at);
	return true;
}

int fdb_lookup(const struct fdb *t, const uint8_t *mac, uint16_t vlan)
{
	uint64_t key = make_key(mac, vlan);
	const struct fdb_entry *b = bucket(t, key);

	for (uint32_t w = 0; w < FDB_WAYS; w++) {
		if (ld(&b[w].key) != key)
			continue;
		uint64_t v = ld(&b[w].val);
		return expired(t, v, now(t)) ? -1 : VAL_MEMBER(v);
	}
	return -1;
}

void fdb_sweep(struct fdb *t, uint32_t n)
{
	uint32_t at = now(t);

	for (uint32_t i = 0; i < n && i < t->nbuckets; i++) {
		struct fdb_entry *b = &t->e[t->sweep_at * FDB_WAYS];
		t->sweep_at = (t->sweep_at + 1) & (t->nbuckets - 1);
		for (uint32_t w = 0; w < FDB_WAYS; w++) {
			uint64_t v = ld(&b[w].val);
			if (ld(&b[w].key) && expired(t, v, at)) {
				drop_entry(t, &b[w], v);
				STAT_INC(t->stats[FDB_AGED]);
			}
		}
	}
}

void fdb_flush_member(struct fdb *t, uint16_t m)
{
	for (uint32_t i = 0; i < t->nbuckets * FDB_WAYS; i++) {
		uint64_t v = ld(&t->e[i].val);
		if (ld(&t->e[i].key) && VAL_MEMBER(v) == m)
			st(&t->e[i].key, 0);
	}
	t->gen++;
	if (m < FDB_MEMBERS_MAX)
		t->macs[m] = 0;
}

void fdb_dump(const struct fdb *t, fdb_dump_fn fn, void *arg)
{
	uint32_t at = now(t);

	for (uint32_t i = 0; i < t->nbuckets * FDB_WAYS; i++) {
		uint64_t k, v;
		do {   /* the worker may rewrite the entry meanwhile */
			k = atomic_load_explicit(&t->e[i].key,
						 memory_order_acquire);
			v = ld(&t->e[i].val);
		} while (k != ld(&t->e[i].key));
		if (!k || expired(t, v, at))
			continue;
		uint8_t mac[6];
		for (int b = 0; b < 6; b++)
			mac[b] = (uint8_t)(k >> (8 * b));
		fn(arg, mac, (uint16_t)((k >> 48) & 0xfff), VAL_MEMBER(v),
		   at - VAL_SEEN(v));
	}
}
