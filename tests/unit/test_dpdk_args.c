/* SPDX-License-Identifier: MIT */
/* A dpdk port's arguments: DPDK's devargs and vhostd's keys told apart
 * (pmd/dpdk_args.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "pmd/dpdk_args.h"

static char err[160];

static void parse_ok(const char *args, struct dpdk_args *a)
{
	err[0] = '\0';
	assert_int_equal(dpdk_args_parse(args, a, err, sizeof(err)), 0);
	assert_string_equal(err, "");
}

static void test_device_alone_is_one_queue_pair(void **state)
{
	struct dpdk_args a;

	(void)state;
	parse_ok("net_ring0", &a);
	assert_string_equal(a.devargs, "net_ring0");
	assert_string_equal(a.device, "net_ring0");
	assert_int_equal(a.queues, 1);
	assert_false(a.pci);
}

static void test_trailing_queues_is_ours_the_rest_dpdks(void **state)
{
	struct dpdk_args a;

	(void)state;
	parse_ok("net_tap0,iface=tap0,queues=4", &a);
	assert_string_equal(a.devargs, "net_tap0,iface=tap0");
	assert_string_equal(a.device, "net_tap0");
	assert_int_equal(a.queues, 4);
}

/* A driver key called queues: ours after it, or it is not ours. */
static void test_driver_queues_key_passes_to_dpdk(void **state)
{
	struct dpdk_args a;

	(void)state;
	parse_ok("net_vhost0,iface=/tmp/s,queues=2,queues=3", &a);
	assert_string_equal(a.devargs, "net_vhost0,iface=/tmp/s,queues=2");
	assert_int_equal(a.queues, 3);
	parse_ok("net_vhost0,queues=2,iface=/tmp/s", &a);
	assert_string_equal(a.devargs, "net_vhost0,queues=2,iface=/tmp/s");
	assert_int_equal(a.queues, 1);
}

static void test_bad_queue_count_is_refused(void **state)
{
	static const char *const bad[] = {
		"net_ring0,queues=0", "net_ring0,queues=129",
		"net_ring0,queues=x", "net_ring0,queues=", "net_ring0,queues=-1",
	};
	struct dpdk_args a;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(dpdk_args_parse(bad[i], &a, err, sizeof(err)),
				 -EINVAL);
		assert_non_null(strstr(err, "is not 1..128"));
	}
}

static void test_no_device_is_refused(void **state)
{
	static const char *const bad[] = {"", ",queues=2", ",iface=x"};
	struct dpdk_args a;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(dpdk_args_parse(bad[i], &a, err, sizeof(err)),
				 -EINVAL);
		assert_non_null(strstr(err, "no device named"));
	}
	assert_int_equal(dpdk_args_parse(NULL, &a, err, sizeof(err)), -EINVAL);
}

static void test_overlong_args_are_refused(void **state)
{
	char args[DPDK_DEVARGS_MAX + 10];
	struct dpdk_args a;

	(void)state;
	memset(args, 'a', sizeof(args) - 1);
	args[sizeof(args) - 1] = '\0';
	assert_int_equal(dpdk_args_parse(args, &a, err, sizeof(err)), -EINVAL);
}

static void test_pci_address_is_told_from_a_vdev(void **state)
{
	struct dpdk_args a;

	(void)state;
	parse_ok("0000:01:00.0", &a);
	assert_true(a.pci);
	parse_ok("01:00.1,rx_vec_en=0,queues=2", &a);
	assert_true(a.pci);
	assert_string_equal(a.device, "01:00.1");
	assert_string_equal(a.devargs, "01:00.1,rx_vec_en=0");
	assert_true(dpdk_is_pci("ffff:ff:1f.7"));
	assert_false(dpdk_is_pci("0000:01:00.8"));     /* function > 7 */
	assert_false(dpdk_is_pci("0000:01:20.0"));     /* device > 31 */
	assert_false(dpdk_is_pci("0000:01:00.0x"));
	assert_false(dpdk_is_pci("net_tap0"));
	assert_false(dpdk_is_pci("net_af_packet0"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_device_alone_is_one_queue_pair),
		cmocka_unit_test(test_trailing_queues_is_ours_the_rest_dpdks),
		cmocka_unit_test(test_driver_queues_key_passes_to_dpdk),
		cmocka_unit_test(test_bad_queue_count_is_refused),
		cmocka_unit_test(test_no_device_is_refused),
		cmocka_unit_test(test_overlong_args_are_refused),
		cmocka_unit_test(test_pci_address_is_told_from_a_vdev),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
