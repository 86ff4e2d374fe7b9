/* SPDX-License-Identifier: MIT */
/*
 * test_vhostd_bridge.c: the daemon's bridge API (control/daemon/
 * vhostd_bridge.h) on a real struct dp with one worker and two ports
 * that have no rings yet: every call's error contract (a bad request
 * changes nothing), attach/detach bookkeeping, the settings read back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <cmocka.h>

#include "control/daemon/vhostd_bridge.h"
#include "control/daemon/vhostd_dp.h"

static struct dp dp;

static int setup(void **st)
{
	cpu_set_t cores;

	(void)st;
	CPU_ZERO(&cores);
	CPU_SET(sched_getcpu(), &cores);
	if (dp_init(&dp, &cores, 3, numa_topo_get()) < 0)
		return -1;
	/* Ports without a device or NIC: a bare index, as a runtime
	 * add-port sees before its front-end comes. */
	for (uint32_t i = 0; i < 3; i++) {
		dp.ports[i].peer = -1;
		dp.ports[i].bridge = -1;
	}
	dp.nports = 3;          /* taken, as dp_attach() leaves them */
	dp.ports[2].reflect = true;
	return dp_start(&dp);
}

static int teardown(void **st)
{
	(void)st;
	dp_fini(&dp);
	return 0;
}

static void test_add_and_delete(void **st)
{
	struct dp_bridge_cfg c;

	(void)st;
	assert_int_equal(dp_bridge_add(&dp, "br0", &(struct dp_bridge_cfg){0}),
			 0);
	assert_int_equal(dp_bridge_add(&dp, "br0", &(struct dp_bridge_cfg){0}),
			 -EEXIST);
	assert_int_equal(dp_bridge_get_cfg(&dp, "br0", &c), 0);
	assert_int_equal(c.aging, FDB_AGING_DEFAULT);
	assert_int_equal(c.mac_limit, FDB_MAC_LIMIT_DEFAULT);
	assert_int_equal(c.fdb_size, FDB_SIZE_DEFAULT);
	assert_string_equal(dp_bridge_name(&dp, 0), "br0");
	assert_int_equal(dp_bridge_del(&dp, "br0"), 0);
	assert_null(dp_bridge_name(&dp, 0));
	assert_int_equal(dp_bridge_del(&dp, "br0"), -ENOENT);
	assert_int_equal(dp_bridge_get_cfg(&dp, "br0", &c), -ENOENT);
}

static void test_bad_requests_refused(void **st)
{
	char name[40];

	(void)st;
	static const char *const bad[] = {"", "a/b", "a b",
		"0123456789012345678901234567890123"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(dp_bridge_add(&dp, bad[i],
					       &(struct dp_bridge_cfg){0}),
				 -EINVAL);
	assert_int_equal(dp_bridge_add(&dp, "x", &(struct dp_bridge_cfg){
			 .aging = FDB_AGING_MAX + 1}), -EINVAL);
	for (int i = 0; i < DP_BRIDGES_MAX; i++) {
		snprintf(name, sizeof(name), "b%d", i);
		assert_int_equal(dp_bridge_add(&dp, name,
					       &(struct dp_bridge_cfg){0}), 0);
	}
	assert_int_equal(dp_bridge_add(&dp, "one-more",
				       &(struct dp_bridge_cfg){0}), -ENOSPC);
	for (int i = 0; i < DP_BRIDGES_MAX; i++) {
		snprintf(name, sizeof(name), "b%d", i);
		assert_int_equal(dp_bridge_del(&dp, name), 0);
	}
}

static void test_attach_detach(void **st)
{
	struct br_vlan v, got;
	struct dp_bridge_stats s;

	(void)st;
	assert_int_equal(dp_bridge_add(&dp, "br0", &(struct dp_bridge_cfg){
			 .aging = 30, .mac_limit = 8}), 0);
	assert_int_equal(br_vlan_parse_trunk("10,20-30", &v), 0);
	assert_int_equal(dp_bridge_attach(&dp, 0, "nope", &v), -ENOENT);
	assert_int_equal(dp_bridge_attach(&dp, 3, "br0", &v), -ENOENT);
	assert_int_equal(dp_bridge_attach(&dp, 2, "br0", &v), -EBUSY);
	assert_int_equal(dp_bridge_attach(&dp, 0, "br0", &v), 0);
	assert_int_equal(dp_bridge_attach(&dp, 0, "br0", &v), -EBUSY);
	assert_string_equal(dp_bridge_of(&dp, 0), "br0");
	assert_null(dp_bridge_of(&dp, 1));
	assert_int_equal(dp_bridge_port_vlan(&dp, 0, &got), 0);
	assert_memory_equal(&got, &v, sizeof(v));
	assert_int_equal(dp_bridge_port_vlan(&dp, 1, &got), -ENOENT);
	assert_int_equal(dp_bridge_attach(&dp, 1, "br0",
					  &(struct br_vlan){.vlan = 4095}),
			 -EINVAL);
	assert_null(dp_bridge_of(&dp, 1));
	assert_int_equal(dp_bridge_attach(&dp, 1, "br0",
					  &(struct br_vlan){.vlan = 10}), 0);
	assert_int_equal(dp_bridge_stats(&dp, "br0", &s), 0);
	assert_int_equal(s.members, 2);
	assert_int_equal(dp_bridge_del(&dp, "br0"), -EBUSY);
	assert_int_equal(dp_bridge_detach(&dp, 0), 0);
	assert_int_equal(dp_bridge_detach(&dp, 0), -ENOENT);
	assert_int_equal(dp_bridge_detach(&dp, 7), -ENOENT);
	assert_int_equal(dp_bridge_detach(&dp, 1), 0);
	assert_int_equal(dp_bridge_stats(&dp, "br0", &s), 0);
	assert_int_equal(s.members, 0);
	assert_int_equal(dp_bridge_del(&dp, "br0"), 0);
	assert_int_equal(dp_bridge_stats(&dp, "br0", &s), -ENOENT);
}

/* A slot past the room dp_init() made is refused before anything of the
 * device or NIC is looked at, and the taken slots stay as they were. */
static void test_attach_past_the_slots_refused(void **st)
{
	struct vu_dev dev;
	struct dp_wiring w = {.peer = -1};

	(void)st;
	memset(&dev, 0, sizeof(dev));
	assert_int_equal(dp_attach(&dp, 3, &dev, &w), -ENOSPC);
	assert_int_equal(dp_attach(&dp, UINT32_MAX, &dev, &w), -ENOSPC);
	assert_int_equal(dp_attach_port(&dp, 3, NULL, &w), -ENOSPC);
	assert_int_equal(dp.nports, 3);
	assert_null(dev.ops.pause);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_and_delete),
		cmocka_unit_test(test_bad_requests_refused),
		cmocka_unit_test(test_attach_detach),
		cmocka_unit_test(test_attach_past_the_slots_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
