/* SPDX-License-Identifier: MIT */
/*
 * Guest kicks on and off (vq_kick, for --idle wait), split and packed,
 * with and without EVENT_IDX: what the driver reads to decide a kick, and
 * the one more look at the ring that closes the race with a buffer made
 * available just before notifications were on.  The driver's side is the
 * spec's rule (virtio 1.x 2.7.10, 2.8.10), written out here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "datapath/vq.h"

#define QSIZE 8u

static union {
	uint8_t bytes[8192];
	uint64_t align;
} mem;
static struct vq vq;

static struct vring_desc *desc(void) { return (void *)mem.bytes; }
static struct vring_avail *avail(void) { return (void *)(mem.bytes + 1024); }
static struct vring_used *used(void) { return (void *)(mem.bytes + 2048); }
static struct vring_packed_event *drv_area(void)
{
	return (void *)(mem.bytes + 1024);
}
static struct vring_packed_event *dev_area(void)
{
	return (void *)(mem.bytes + 2048);
}

static void up(bool packed, bool event_idx, uint16_t base)
{
	memset(&mem, 0, sizeof(mem));
	struct vq_cfg c = {
		.dev_name = "t", .packed = packed, .size = QSIZE,
		.last_avail = packed ? 0 : base, .avail_wrap = true,
		.used_wrap = true, .event_idx = event_idx, .tx = true,
		.call_fd = -1, .err_fd = -1,
	};
	if (packed) {
		c.pdesc = (void *)desc();
		c.driver = drv_area();
		c.device = dev_area();
	} else {
		c.desc = desc();
		c.avail = avail();
		c.used = used();
		avail()->idx = base;
		used()->idx = base;
	}
	vq_init(&vq, &c);
}

/* The split driver's rule after it moved avail->idx from old to new. */
static bool driver_kicks(uint16_t old, uint16_t new_idx)
{
	if (vq.event_idx)
		return vring_need_event(*vring_avail_event(used(), QSIZE),
					new_idx, old);
	return !(used()->flags & VRING_USED_F_NO_NOTIFY);
}

static void split_on_off(bool event_idx, uint16_t base)
{
	up(false, event_idx, base);
	/* vhostd polls: by default the driver never kicks. */
	assert_false(driver_kicks(base, (uint16_t)(base + 1)));
	assert_false(vq_kick(&vq, true));    /* nothing available yet */
	assert_true(driver_kicks(base, (uint16_t)(base + 1)));
	assert_false(vq_kick(&vq, false));
	assert_false(driver_kicks(base, (uint16_t)(base + 1)));
}

static void test_split_kicks_on_and_off(void **state)
{
	(void)state;
	split_on_off(false, 0);
	split_on_off(false, 65535);
}

static void test_split_event_idx_kicks_on_and_off(void **state)
{
	(void)state;
	split_on_off(true, 0);
	split_on_off(true, 65535);   /* avail_event wraps with the index */
	split_on_off(true, 1234);
}

/* A buffer the driver made available before it could see notifications
 * on (so it did not kick): the look after arming finds it. */
static void test_split_buffer_before_arming_is_found(void **state)
{
	(void)state;
	for (int ev = 0; ev < 2; ev++) {
		up(false, ev, 100);
		avail()->ring[100 % QSIZE] = 0;
		avail()->idx = 101;
		assert_true(vq_kick(&vq, true));
		assert_false(vq_kick(&vq, false));
	}
}

/* Hostile: an index far ahead is still "work": the next dequeue breaks
 * the ring with its reason; arming itself never breaks nor trusts it. */
static void test_split_jumping_index_is_work_not_a_break(void **state)
{
	(void)state;
	up(false, false, 0);
	avail()->idx = 40000;
	assert_true(vq_kick(&vq, true));
	assert_false(vq.broken);
}

static void test_broken_queue_is_not_touched(void **state)
{
	(void)state;
	up(false, false, 0);
	vq.broken = true;
	avail()->idx = 3;
	uint16_t flags = used()->flags;
	assert_false(vq_kick(&vq, true));
	assert_int_equal(used()->flags, flags);
}

static void test_packed_kicks_on_and_off(void **state)
{
	(void)state;
	for (int ev = 0; ev < 2; ev++) {
		up(true, ev, 0);
		assert_int_equal(dev_area()->flags, VRING_PACKED_EVENT_DISABLE);
		assert_false(vq_kick(&vq, true));
		assert_int_equal(dev_area()->flags, VRING_PACKED_EVENT_ENABLE);
		assert_false(vq_kick(&vq, false));
		assert_int_equal(dev_area()->flags, VRING_PACKED_EVENT_DISABLE);
	}
}

static void test_packed_buffer_before_arming_is_found(void **state)
{
	(void)state;
	struct vring_packed_desc *d = (void *)desc();

	up(true, false, 0);
	/* Wrap counter 1: AVAIL set, USED clear. */
	d[0].flags = VRING_PACKED_DESC_F_AVAIL;
	assert_true(vq_kick(&vq, true));
	/* A used-looking descriptor (both bits equal) is not available. */
	d[0].flags = VRING_PACKED_DESC_F_AVAIL | VRING_PACKED_DESC_F_USED;
	assert_false(vq_kick(&vq, true));
}

/* A port queue has no ring to write: never touched; without pending()
 * it is never work, with it (AF_XDP) it is what pending() says, and only
 * when turning on. */
static bool port_has_work;
static unsigned port_looks;

static bool port_pending(void *q)
{
	(void)q;
	port_looks++;
	return port_has_work;
}

static void test_port_queue_is_not_touched(void **state)
{
	(void)state;
	static const struct vq_port_ops none = {.dequeue = NULL};
	static const struct vq_port_ops look = {.pending = port_pending};
	struct vq p;

	vq_init_port(&p, &none, NULL, true, "port", 0);
	assert_false(vq_kick(&p, true));
	assert_false(vq_kick(&p, false));
	vq_init_port(&p, &look, NULL, true, "port", 0);
	port_has_work = false;
	assert_false(vq_kick(&p, true));
	port_has_work = true;
	assert_true(vq_kick(&p, true));
	unsigned n = port_looks;
	assert_false(vq_kick(&p, false));
	assert_int_equal(port_looks, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_kicks_on_and_off),
		cmocka_unit_test(test_split_event_idx_kicks_on_and_off),
		cmocka_unit_test(test_split_buffer_before_arming_is_found),
		cmocka_unit_test(test_split_jumping_index_is_work_not_a_break),
		cmocka_unit_test(test_broken_queue_is_not_touched),
		cmocka_unit_test(test_packed_kicks_on_and_off),
		cmocka_unit_test(test_packed_buffer_before_arming_is_found),
		cmocka_unit_test(test_port_queue_is_not_touched),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
