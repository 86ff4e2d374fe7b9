/* SPDX-License-Identifier: MIT */
/*
 * test_dp_pos.c: the position slots (datapath/vq_pos.h) a device's resume
 * writes (control/daemon/vhostd_dp.c: pos_publish), on a real struct dp
 * with one worker and one guest port of 128 queue pairs whose rings are
 * never started: a ring with a size has its slot say so at every resume;
 * a ring that loses its size has its slot cleared once; a ring that never
 * had one is never written.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sched.h>
#include <string.h>
#include <cmocka.h>

#include "control/backend/vu_ring.h"
#include "control/daemon/vhostd_dp.h"
#include "datapath/vq_pos.h"

#define NRINGS (2 * VU_MAX_QUEUE_PAIRS)
#define JUNK 0xee

static struct dp dp;
static struct vu_dev dev;
static struct vq_pos slots[NRINGS];

static int setup(void **st)
{
	cpu_set_t cores;

	(void)st;
	CPU_ZERO(&cores);
	CPU_SET(sched_getcpu(), &cores);
	if (dp_init(&dp, &cores, 1, numa_topo_get()) < 0 ||
	    vu_dev_init(&dev, &(struct vu_dev_cfg){
			.name = "a", .max_queue_pairs = VU_MAX_QUEUE_PAIRS}) < 0)
		return -1;
	dev.pos = slots;
	if (dp_attach(&dp, 0, &dev, &(struct dp_wiring){.peer = -1}) < 0)
		return -1;
	return dp_start(&dp);
}

static int teardown(void **st)
{
	(void)st;
	dp_fini(&dp);
	vu_dev_fini(&dev);
	return 0;
}

/* What a quiesced request does around its handler (vu_dev.c). */
static void pause_resume(void)
{
	dev.ops.pause(&dev, dev.ops.ctx);
	dev.ops.resume(&dev, dev.ops.ctx);
}

static bool untouched(const struct vq_pos *s)
{
	const uint8_t *b = (const uint8_t *)s;

	for (size_t i = 0; i < sizeof(*s); i++)
		if (b[i] != JUNK)
			return false;
	return true;
}

static void test_only_sized_slots_are_written(void **st)
{
	(void)st;
	/* Junk no writer leaves: a slot still holding it was not written. */
	memset(slots, JUNK, sizeof(slots));
	dev.vr[4].num = 256;
	dev.vr[4].base = 7;
	pause_resume();
	assert_int_equal(slots[4].state, VQ_POS_STOPPED);
	assert_int_equal(slots[4].size, 256);
	assert_int_equal(slots[4].base, 7);
	for (uint32_t i = 0; i < NRINGS; i++)
		if (i != 4)
			assert_true(untouched(&slots[i]));

	/* The ring loses its size (a reset): its slot says so, once. */
	vu_vring_reset(&dev.vr[4]);
	pause_resume();
	assert_int_equal(slots[4].state, VQ_POS_STOPPED);
	assert_int_equal(slots[4].size, 0);
	memset(&slots[4], JUNK, sizeof(slots[4]));
	pause_resume();
	assert_true(untouched(&slots[4]));

	/* A size again: written at every resume. */
	dev.vr[4].num = 128;
	dev.vr[4].base = 9;
	pause_resume();
	assert_int_equal(slots[4].size, 128);
	assert_int_equal(slots[4].base, 9);
	memset(&slots[4], JUNK, sizeof(slots[4]));
	pause_resume();
	assert_int_equal(slots[4].state, VQ_POS_STOPPED);
	assert_int_equal(slots[4].size, 128);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_only_sized_slots_are_written),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
