/* SPDX-License-Identifier: MIT */
/*
 * compiler.h: small compiler helpers shared by every vhostd module.
 *
 * Kept free of any module's types so that control/, pmd/, numa/ and
 * datapath/ can all include it without creating a dependency.
 */
#ifndef VHOSTD_COMPILER_H
#define VHOSTD_COMPILER_H

#include <stddef.h>
#include <stdint.h>

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define CACHE_LINE 64
#define cache_aligned __attribute__((aligned(CACHE_LINE)))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define PRINTF_FMT(f, a) __attribute__((format(printf, f, a)))

/*
 * Statistics counters: written by exactly one thread (a worker), read at any
 * time by the control plane.  The single writer adds with a relaxed atomic
 * store (a plain add on x86, no lock prefix); readers use STAT_READ, so no
 * counter is ever torn and there is no data race in the C11 sense.
 */
#define STAT_ADD(c, n) \
	__atomic_store_n(&(c), (c) + (n), __ATOMIC_RELAXED)
#define STAT_INC(c) STAT_ADD(c, 1)
#define STAT_SET(c, v) __atomic_store_n(&(c), (v), __ATOMIC_RELAXED)
#define STAT_READ(c) __atomic_load_n(&(c), __ATOMIC_RELAXED)

/* Big-endian (network order) fields in packet bytes. */
static inline uint32_t get_be16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static inline uint32_t get_be32(const uint8_t *p)
{
	return get_be16(p) << 16 | get_be16(p + 2);
}

static inline void put_be16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, v >> 16);
	put_be16(p + 2, v);
}

/* x must be a power of two. */
static inline uint64_t align_up_u64(uint64_t v, uint64_t x)
{
	return (v + x - 1) & ~(x - 1);
}

static inline int is_pow2_u32(uint32_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

#endif
