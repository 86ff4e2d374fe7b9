/* SPDX-License-Identifier: MIT */
/*
 * big_chain.h: a guest TX chain of 2^32 - 64 bytes made of aliased
 * descriptors, for the tests that a frame longer than any receiver takes
 * is dropped before it reaches a port (tests/nic/).
 *
 * The guest's memory must hold 128 MiB more than its rings and buffers
 * (256 MiB is plenty); the ring must be set up, vhostd polling it, and no
 * driver (vu_drv) posting on it: the chain takes descriptors 0..32.
 *
 *   desc 0:      header (zero) and 52 frame bytes
 *   desc 1..31:  the same 128 MiB of guest memory, aliased
 *   desc 32:     128 MiB - 128 of it
 */
#ifndef VHOSTD_TEST_BIG_CHAIN_H
#define VHOSTD_TEST_BIG_CHAIN_H

#include <stdint.h>
#include <string.h>

#include "control/frontend/vu_front.h"
#include "datapath/vring.h"

#define BIG_CHAIN_PART (1u << 27)

/* Post the chain on ring idx of f and kick; returns the used index the
 * device reaches once it has taken the chain. */
static inline uint16_t big_chain_post(struct vu_front *f, uint32_t idx)
{
	struct vu_guestmem *mem = vu_front_mem(f);
	const struct vu_front_vring *vr = vu_front_vring(f, idx);
	struct vring_desc *desc = vr->desc;
	struct vring_avail *avail = vr->avail;
	uint64_t hdr_gpa, big_gpa;
	uint8_t *h = vu_guestmem_alloc(mem, 64, 64, &hdr_gpa);

	assert_non_null(h);
	assert_non_null(vu_guestmem_alloc(mem, BIG_CHAIN_PART, 4096, &big_gpa));
	memset(h, 0, 12);
	for (unsigned i = 12; i < 64; i++)
		h[i] = (uint8_t)i;
	desc[0] = (struct vring_desc){hdr_gpa, 64, VRING_DESC_F_NEXT, 1};
	for (uint16_t i = 1; i <= 32; i++)
		desc[i] = (struct vring_desc){
			big_gpa, i < 32 ? BIG_CHAIN_PART : BIG_CHAIN_PART - 128,
			(uint16_t)(i < 32 ? VRING_DESC_F_NEXT : 0),
			(uint16_t)(i + 1)};
	uint16_t at = avail->idx;
	avail->ring[at % vr->num] = 0;
	__atomic_store_n(&avail->idx, (uint16_t)(at + 1), __ATOMIC_RELEASE);
	assert_int_equal(vu_front_kick(f, idx), 0);
	return (uint16_t)(at + 1);
}

/* Wait (up to ms) until the device's used index on ring idx is want. */
static inline bool big_chain_used(struct vu_front *f, uint32_t idx,
				  uint16_t want, int ms)
{
	const struct vring_used *used = vu_front_vring(f, idx)->used;

	for (; ms > 0; ms--) {
		if (__atomic_load_n(&used->idx, __ATOMIC_ACQUIRE) == want)
			return true;
		msleep(1);
	}
	return __atomic_load_n(&used->idx, __ATOMIC_ACQUIRE) == want;
}

#endif
