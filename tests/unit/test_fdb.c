/* SPDX-License-Identifier: MIT */
/* datapath/fdb: learning, moves, aging, the per-member limit, a full
 * table, flushing, the dump. */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "datapath/fdb.h"

static const uint8_t A[6] = {0x02, 0, 0, 0, 0, 0xa};
static const uint8_t B[6] = {0x02, 0, 0, 0, 0, 0xb};

static void mac_n(uint32_t n, uint8_t mac[6])
{
	mac[0] = 0x02;
	mac[1] = 0x42;
	mac[2] = (uint8_t)(n >> 24);
	mac[3] = (uint8_t)(n >> 16);
	mac[4] = (uint8_t)(n >> 8);
	mac[5] = (uint8_t)n;
}

static void test_learn_then_lookup(void **state)
{
	struct fdb t;

	(void)state;
	assert_int_equal(fdb_init(&t, 64, 300, 0), 0);
	assert_int_equal(fdb_lookup(&t, A, 0), -1);
	fdb_learn(&t, A, 0, 3);
	assert_int_equal(fdb_lookup(&t, A, 0), 3);
	fdb_learn(&t, A, 0, 3);   /* seen again: no second entry */
	assert_int_equal(t.stats[FDB_LEARNED], 1);
	assert_int_equal(t.macs[3], 1);
	assert_int_equal(fdb_lookup(&t, B, 0), -1);
	fdb_fini(&t);
}

static void test_vlan_is_part_of_the_key(void **state)
{
	struct fdb t;

	(void)state;
	assert_int_equal(fdb_init(&t, 64, 300, 0), 0);
	fdb_learn(&t, A, 10, 1);
	fdb_learn(&t, A, 20, 2);
	assert_int_equal(fdb_lookup(&t, A, 10), 1);
	assert_int_equal(fdb_lookup(&t, A, 20), 2);
	assert_int_equal(fdb_lookup(&t, A, 30), -1);
	fdb_fini(&t);
}

static void test_mac_on_another_member_moves(void **state)
{
	struct fdb t;

	(void)state;
	assert_int_equal(fdb_init(&t, 64, 300, 0), 0);
	fdb_learn(&t, A, 0, 1);
	fdb_learn(&t, A, 0, 2);
	assert_int_equal(fdb_lookup(&t, A, 0), 2);
	assert_int_equal(t.stats[FDB_MOVED], 1);
	assert_int_equal(t.macs[1], 0);
	assert_int_equal(t.macs[2], 1);
	fdb_fini(&t);
}

static void test_aging_forgets_and_counts(void **state)
{
	struct fdb t;

	(void)state;
	assert_int_equal(fdb_init(&t, 64, 10, 0), 0);
	fdb_set_now(&t, 100);
	fdb_learn(&t, A, 0, 1);
	fdb_set_now(&t, 110);                 /* exactly the aging time */
	assert_int_equal(fdb_lookup(&t, A, 0), 1);
	fdb_set_now(&t, 111);                 /* older: dead for lookups */
	assert_int_equal(fdb_lookup(&t, A, 0), -1);
	fdb_sweep(&t, t.nbuckets);            /* removed and counted */
	assert_int_equal(t.stats[FDB_AGED], 1);
	assert_int_equal(t.macs[1], 0);
	fdb_sweep(&t, t.nbuckets);
	assert_int_equal(t.stats[FDB_AGED], 1);
	fdb_fini(&t);
}

static void test_traffic_keeps_an_entry_alive(void **state)
{
	struct fdb t;

	(void)state;
	assert_int_equal(fdb_init(&t, 64, 10, 0), 0);
	for (uint32_t s = 0; s < 100; s += 5) {
		fdb_set_now(&t, s);
		fdb_learn(&t, A, 0, 1);
		fdb_sweep(&t, t.nbuckets);
	}
	assert_int_equal(fdb_lookup(&t, A, 0), 1);
	assert_int_equal(t.stats[FDB_AGED], 0);
	fdb_fini(&t);
}

static void test_member_at_limit_learns_nothing_more(void **state)
{
	struct fdb t;
	uint8_t mac[6];

	(void)state;
	assert_int_equal(fdb_init(&t, 1024, 300, 4), 0);
	for (uint32_t i = 0; i < 10; i++) {
		mac_n(i, mac);
		fdb_learn(&t, mac, 0, 1);
	}
	assert_int_equal(t.macs[1], 4);
	assert_int_equal(t.stats[FDB_LEARNED], 4);
	assert_int_equal(t.stats[FDB_LIMIT], 6);
	mac_n(9, mac);
	assert_int_equal(fdb_lookup(&t, mac, 0), -1);
	/* Another member is not limited by member 1's MACs. */
	fdb_learn(&t, mac, 0, 2);
	assert_int_equal(fdb_lookup(&t, mac, 0), 2);
	fdb_fini(&t);
}

static void test_move_to_full_member_forgets(void **state)
{
	struct fdb t;

	(void)state;
	assert_int_equal(fdb_init(&t, 64, 300, 1), 0);
	fdb_learn(&t, B, 0, 2);               /* member 2 full */
	fdb_learn(&t, A, 0, 1);
	fdb_learn(&t, A, 0, 2);               /* A moves there: refused */
	assert_int_equal(fdb_lookup(&t, A, 0), -1);
	assert_int_equal(t.macs[1], 0);
	assert_int_equal(t.macs[2], 1);
	assert_int_equal(t.stats[FDB_LIMIT], 1);
	fdb_fini(&t);
}

static void test_full_table_counts_and_keeps_old(void **state)
{
	struct fdb t;
	uint8_t mac[6];
	uint32_t n = 5000;

	(void)state;
	assert_int_equal(fdb_init(&t, 64, 300, 0), 0);   /* 8 buckets */
	for (uint32_t i = 0; i < n; i++) {
		mac_n(i, mac);
		fdb_learn(&t, mac, 0, (uint16_t)(i % 4));
	}
	assert_int_equal(t.stats[FDB_LEARNED], 64);
	assert_int_equal(t.stats[FDB_TABLE_FULL], n - 64);
	uint32_t found = 0;
	for (uint32_t i = 0; i < n; i++) {
		mac_n(i, mac);
		if (fdb_lookup(&t, mac, 0) == (int)(i % 4))
			found++;
	}
	assert_int_equal(found, 64);
	fdb_fini(&t);
}

static void test_aged_entry_is_reused_when_bucket_full(void **state)
{
	struct fdb t;
	uint8_t mac[6];

	(void)state;
	assert_int_equal(fdb_init(&t, FDB_WAYS, 10, 0), 0);   /* 1 bucket */
	for (uint32_t i = 0; i < FDB_WAYS; i++) {
		mac_n(i, mac);
		fdb_learn(&t, mac, 0, 1);
	}
	fdb_learn(&t, A, 0, 1);
	assert_int_equal(t.stats[FDB_TABLE_FULL], 1);
	fdb_set_now(&t, 50);
	fdb_learn(&t, A, 0, 1);                /* no sweep ran yet */
	assert_int_equal(fdb_lookup(&t, A, 0), 1);
	assert_int_equal(t.stats[FDB_AGED], 1);
	fdb_fini(&t);
}

static void test_flush_member(void **state)
{
	struct fdb t;

	(void)state;
	assert_int_equal(fdb_init(&t, 64, 300, 0), 0);
	fdb_learn(&t, A, 0, 1);
	fdb_learn(&t, B, 0, 2);
	fdb_flush_member(&t, 1);
	assert_int_equal(fdb_lookup(&t, A, 0), -1);
	assert_int_equal(fdb_lookup(&t, B, 0), 2);
	assert_int_equal(t.macs[1], 0);
	fdb_fini(&t);
}

struct seen { uint32_t n; uint16_t vlan, member; uint32_t age; uint8_t mac[6]; };

static void on_entry(void *arg, const uint8_t mac[6], uint16_t vlan,
		     uint16_t member, uint32_t age)
{
	struct seen *s = arg;

	s->n++;
	memcpy(s->mac, mac, 6);
	s->vlan = vlan;
	s->member = member;
	s->age = age;
}

static void test_dump_gives_mac_vlan_member_age(void **state)
{
	struct fdb t;
	struct seen s = {0};

	(void)state;
	assert_int_equal(fdb_init(&t, 64, 300, 0), 0);
	fdb_set_now(&t, 1000);
	fdb_learn(&t, A, 4094, 7);
	fdb_set_now(&t, 1042);
	fdb_dump(&t, on_entry, &s);
	assert_int_equal(s.n, 1);
	assert_memory_equal(s.mac, A, 6);
	assert_int_equal(s.vlan, 4094);
	assert_int_equal(s.member, 7);
	assert_int_equal(s.age, 42);
	fdb_fini(&t);
}

static void test_bad_config_refused(void **state)
{
	struct fdb t;

	(void)state;
	assert_int_equal(fdb_init(&t, 0, 300, 0), -EINVAL);
	assert_int_equal(fdb_init(&t, 64, 0, 0), -EINVAL);
	assert_int_equal(fdb_init(&t, 64, FDB_AGING_MAX + 1, 0), -EINVAL);
	assert_int_equal(fdb_init(&t, (1u << 24) + 1, 300, 0), -EINVAL);
	/* A member id out of range is ignored, not written past macs[]. */
	assert_int_equal(fdb_init(&t, 64, 300, 0), 0);
	fdb_learn(&t, A, 0, FDB_MEMBERS_MAX);
	assert_int_equal(fdb_lookup(&t, A, 0), -1);
	fdb_fini(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_learn_then_lookup),
		cmocka_unit_test(test_vlan_is_part_of_the_key),
		cmocka_unit_test(test_mac_on_another_member_moves),
		cmocka_unit_test(test_aging_forgets_and_counts),
		cmocka_unit_test(test_traffic_keeps_an_entry_alive),
		cmocka_unit_test(test_member_at_limit_learns_nothing_more),
		cmocka_unit_test(test_move_to_full_member_forgets),
		cmocka_unit_test(test_full_table_counts_and_keeps_old),
		cmocka_unit_test(test_aged_entry_is_reused_when_bucket_full),
		cmocka_unit_test(test_flush_member),
		cmocka_unit_test(test_dump_gives_mac_vlan_member_age),
		cmocka_unit_test(test_bad_config_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
