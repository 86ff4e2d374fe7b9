/* SPDX-License-Identifier: MIT */
/* datapath/bridge: VLAN parsing, ingress VLANs, flood decisions, known
 * unicast, hairpin, tag changes, queue choice by flow hash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "datapath/bridge.h"
#include "datapath/spread.h"

#define NQ 4
static struct vnet_dst dsts[BR_MEMBERS_MAX][NQ];

/* Member i: access port on vlan (0: untagged) or trunk (list), nq queues. */
static void member(struct bridge *br, uint16_t i, const char *trunk,
		   uint16_t vlan, uint32_t nq)
{
	struct br_member *m = &br->m[i];

	m->used = true;
	if (trunk)
		assert_int_equal(br_vlan_parse_trunk(trunk, &m->vlan), 0);
	else
		m->vlan = (struct br_vlan){.vlan = vlan};
	m->nq = nq;
	m->q = dsts[i];
}

static struct bridge *new_bridge(void)
{
	static struct bridge br;

	assert_int_equal(br_init(&br, 1024, 300, 0), 0);
	return &br;
}

/* A frame to dst from src, tagged with vid when vid >= 0. */
static uint32_t frame(uint8_t *f, const uint8_t *dst, const uint8_t *src,
		      int vid)
{
	memset(f, 0, 64);
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	if (vid >= 0) {
		put_be16(f + 12, 0x8100);
		put_be16(f + 14, (uint32_t)vid);
		put_be16(f + 16, 0x0800);
	} else {
		put_be16(f + 12, 0x0800);
	}
	return 64;
}

static const uint8_t M1[6] = {2, 0, 0, 0, 0, 1}, M2[6] = {2, 0, 0, 0, 0, 2},
		     M3[6] = {2, 0, 0, 0, 0, 3}, BC[6] = {255, 255, 255, 255, 255, 255},
		     MC[6] = {0x01, 0x00, 0x5e, 0, 0, 1};

static void test_vlan_parse(void **state)
{
	struct br_vlan v;
	char buf[64];

	(void)state;
	assert_int_equal(br_vlan_parse_access("10", &v), 0);
	assert_false(v.trunk);
	assert_int_equal(v.vlan, 10);
	assert_int_equal(br_vlan_parse_trunk("10,20-22,4094", &v), 0);
	assert_true(br_vlan_has(&v, 10) && br_vlan_has(&v, 21) &&
		    br_vlan_has(&v, 4094));
	assert_false(br_vlan_has(&v, 11) || br_vlan_has(&v, 23) ||
		     br_vlan_has(&v, 0));
	br_vlan_format(&v, buf, sizeof(buf));
	assert_string_equal(buf, "trunk=10,20-22,4094");
	static const char *const bad[] = {"", "0", "4095", "-1", "10-5", "1,",
		",1", "1,,2", "abc", "10x", "99999", "1-", "00010000", "1 2"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(br_vlan_parse_trunk(bad[i], &v), -EINVAL);
		if (!strchr(bad[i], ','))
			assert_int_equal(br_vlan_parse_access(bad[i], &v),
					 -EINVAL);
	}
}

static void test_unknown_unicast_floods_to_others_not_ingress(void **state)
{
	struct bridge *br = new_bridge();
	struct br_verdict v;
	uint8_t f[64];

	(void)state;
	member(br, 0, NULL, 0, 1);
	member(br, 1, NULL, 0, 1);
	member(br, 2, NULL, 0, 1);
	assert_int_equal(br_input(br, 0, f, frame(f, M2, M1, -1), &v), 2);
	assert_int_equal(v.out[0], 1);
	assert_int_equal(v.out[1], 2);
	assert_int_equal(br->stats.flooded, 1);
	br_fini(br);
}

static void test_broadcast_and_multicast_flood(void **state)
{
	struct bridge *br = new_bridge();
	struct br_verdict v;
	uint8_t f[64];

	(void)state;
	member(br, 0, NULL, 0, 1);
	member(br, 1, NULL, 0, 1);
	member(br, 2, NULL, 0, 1);
	/* Even once a group address was "seen" as a source (it is not
	 * learned: dropped), it floods. */
	assert_int_equal(br_input(br, 1, f, frame(f, BC, M2, -1), &v), 2);
	assert_int_equal(br_input(br, 1, f, frame(f, MC, M2, -1), &v), 2);
	assert_int_equal(br_input(br, 1, f, frame(f, M1, MC, -1), &v), 0);
	assert_int_equal(br->stats.drops[BR_DROP_SRC_MCAST], 1);
	assert_int_equal(br->stats.flooded, 2);
	br_fini(br);
}

static void test_learned_unicast_goes_to_one_member(void **state)
{
	struct bridge *br = new_bridge();
	struct br_verdict v;
	uint8_t f[64];

	(void)state;
	member(br, 0, NULL, 0, 1);
	member(br, 1, NULL, 0, 1);
	member(br, 2, NULL, 0, 1);
	br_input(br, 1, f, frame(f, BC, M2, -1), &v);    /* M2 on 1 */
	assert_int_equal(br_input(br, 0, f, frame(f, M2, M1, -1), &v), 1);
	assert_int_equal(v.out[0], 1);
	assert_int_equal(br_input(br, 1, f, frame(f, M1, M2, -1), &v), 1);
	assert_int_equal(v.out[0], 0);
	assert_int_equal(br->stats.forwarded, 2);
	assert_int_equal(br->stats.flooded, 1);
	/* M2 moves to member 2: frames follow it. */
	br_input(br, 2, f, frame(f, M1, M2, -1), &v);
	assert_int_equal(br->fdb.stats[FDB_MOVED], 1);
	assert_int_equal(br_input(br, 0, f, frame(f, M2, M1, -1), &v), 1);
	assert_int_equal(v.out[0], 2);
	br_fini(br);
}

static void test_never_back_to_ingress(void **state)
{
	struct bridge *br = new_bridge();
	struct br_verdict v;
	uint8_t f[64];

	(void)state;
	member(br, 0, NULL, 0, 1);
	member(br, 1, NULL, 0, 1);
	br_input(br, 0, f, frame(f, BC, M1, -1), &v);    /* M1 on 0 */
	br_input(br, 0, f, frame(f, BC, M3, -1), &v);    /* M3 on 0 */
	assert_int_equal(br_input(br, 0, f, frame(f, M3, M1, -1), &v), 0);
	assert_int_equal(br->stats.drops[BR_DROP_HAIRPIN], 1);
	/* Alone in its VLAN: a flood has nowhere to go. */
	member(br, 2, NULL, 7, 1);
	assert_int_equal(br_input(br, 2, f, frame(f, BC, M2, -1), &v), 0);
	assert_int_equal(br->stats.drops[BR_DROP_NO_MEMBER], 1);
	br_fini(br);
}

static void test_vlans_keep_apart(void **state)
{
	struct bridge *br = new_bridge();
	struct br_verdict v;
	uint8_t f[64];

	(void)state;
	member(br, 0, NULL, 10, 1);
	member(br, 1, NULL, 20, 1);
	member(br, 2, NULL, 10, 1);
	member(br, 3, NULL, 0, 1);           /* untagged domain */
	member(br, 4, "20,30", 0, 1);
	assert_int_equal(br_input(br, 0, f, frame(f, BC, M1, -1), &v), 1);
	assert_int_equal(v.out[0], 2);
	assert_int_equal(v.vid, 10);
	/* M1 learned in VLAN 10 only: from VLAN 20 it is unknown. */
	assert_int_equal(br_input(br, 1, f, frame(f, M1, M2, -1), &v), 1);
	assert_int_equal(v.out[0], 4);
	assert_int_equal(v.vid, 20);
	/* The trunk's VLAN 20 frame reaches the VLAN 20 access port. */
	assert_int_equal(br_input(br, 4, f, frame(f, M2, M3, 20), &v), 1);
	assert_int_equal(v.out[0], 1);
	assert_true(v.tagged);
	assert_int_equal(br_vlan_op(br, 1, &v), VNET_VLAN_POP);
	/* and access -> trunk pushes, access -> access keeps */
	assert_int_equal(br_input(br, 1, f, frame(f, M3, M2, -1), &v), 1);
	assert_int_equal(v.out[0], 4);
	assert_int_equal(br_vlan_op(br, 4, &v), VNET_VLAN_PUSH);
	br_input(br, 0, f, frame(f, BC, M1, -1), &v);
	assert_int_equal(br_vlan_op(br, 2, &v), VNET_VLAN_KEEP);
	br_fini(br);
}

static void test_wrong_tags_dropped(void **state)
{
	struct bridge *br = new_bridge();
	struct br_verdict v;
	uint8_t f[64];

	(void)state;
	member(br, 0, NULL, 10, 1);
	member(br, 1, "20", 0, 1);
	member(br, 2, NULL, 0, 1);
	/* tagged on an access port, untagged or unlisted on a trunk */
	assert_int_equal(br_input(br, 0, f, frame(f, BC, M1, 10), &v), 0);
	assert_int_equal(br_input(br, 2, f, frame(f, BC, M1, 0), &v), 0);
	assert_int_equal(br_input(br, 1, f, frame(f, BC, M1, -1), &v), 0);
	assert_int_equal(br_input(br, 1, f, frame(f, BC, M1, 30), &v), 0);
	assert_int_equal(br->stats.drops[BR_DROP_VLAN], 4);
	/* runts: shorter than a header, a tag cut short */
	assert_int_equal(br_input(br, 2, f, 13, &v), 0);
	frame(f, BC, M1, 20);
	assert_int_equal(br_input(br, 1, f, 16, &v), 0);
	assert_int_equal(br->stats.drops[BR_DROP_RUNT], 2);
	assert_int_equal(br->fdb.stats[FDB_LEARNED], 0);
	br_fini(br);
}

static void test_down_member_is_skipped(void **state)
{
	struct bridge *br = new_bridge();
	struct br_verdict v;
	uint8_t f[64];

	(void)state;
	member(br, 0, NULL, 0, 1);
	member(br, 1, NULL, 0, 1);
	member(br, 2, NULL, 0, 0);          /* no queue up */
	br_input(br, 2, f, frame(f, BC, M3, -1), &v);
	assert_int_equal(v.n, 2);
	/* M3 is learned on 2, but 2 is down: the frame floods. */
	assert_int_equal(br_input(br, 0, f, frame(f, M3, M1, -1), &v), 1);
	assert_int_equal(v.out[0], 1);
	br_fini(br);
}

/* The per-member cache of the last learn and lookup never answers for a
 * table that changed: moves, aging, and MACs over the limit. */
static void test_cached_answers_follow_the_table(void **state)
{
	struct bridge *br = new_bridge();
	struct br_verdict v;
	uint8_t f[64];

	(void)state;
	member(br, 0, NULL, 0, 1);
	member(br, 1, NULL, 0, 1);
	member(br, 2, NULL, 0, 1);
	/* M1 from 0, then from 1, then from 0 again: two moves. */
	for (int i = 0; i < 3; i++)
		br_input(br, 0, f, frame(f, BC, M1, -1), &v);
	br_input(br, 1, f, frame(f, BC, M1, -1), &v);
	br_input(br, 0, f, frame(f, BC, M1, -1), &v);
	assert_int_equal(br->fdb.stats[FDB_MOVED], 2);
	assert_int_equal(br->fdb.stats[FDB_LEARNED], 1);
	assert_int_equal(fdb_lookup(&br->fdb, M1, 0), 0);
	/* 2 sends to M2 (on 1) twice, the second from the cache; then M2
	 * moves to 0 and 2's frames follow it. */
	br_input(br, 1, f, frame(f, BC, M2, -1), &v);
	assert_int_equal(br_input(br, 2, f, frame(f, M2, M3, -1), &v), 1);
	assert_int_equal(v.out[0], 1);
	assert_int_equal(br_input(br, 2, f, frame(f, M2, M3, -1), &v), 1);
	assert_int_equal(v.out[0], 1);
	br_input(br, 0, f, frame(f, BC, M2, -1), &v);     /* M2 now on 0 */
	assert_int_equal(br_input(br, 2, f, frame(f, M2, M3, -1), &v), 1);
	assert_int_equal(v.out[0], 0);
	/* Aging: the cached destination is not used past the aging time. */
	fdb_set_now(&br->fdb, 1000);
	assert_int_equal(br_input(br, 2, f, frame(f, M2, M3, -1), &v), 2);
	br_fini(br);
}

static void test_limit_counted_per_frame(void **state)
{
	struct bridge *br = new_bridge();
	struct br_verdict v;
	uint8_t f[64];

	(void)state;
	br_fini(br);
	assert_int_equal(br_init(br, 1024, 300, 1), 0);
	member(br, 0, NULL, 0, 1);
	member(br, 1, NULL, 0, 1);
	br_input(br, 0, f, frame(f, BC, M1, -1), &v);
	for (int i = 0; i < 3; i++)
		br_input(br, 0, f, frame(f, BC, M2, -1), &v);
	assert_int_equal(br->fdb.stats[FDB_LIMIT], 3);
	assert_int_equal(fdb_lookup(&br->fdb, M2, 0), -1);
	br_fini(br);
}

/* br_pick answers VNET_PICK_SAME only where the frames that follow with
 * the same addresses and tag must go the same way: a learned destination,
 * the sender's queue (no flow hash), a learned source; br_repeat counts
 * those frames as forwarded. */
static void test_same_answer_only_for_learned_unicast(void **state)
{
	struct bridge *br = new_bridge();
	struct vnet_path p;
	struct vnet_to to[VNET_TO_MAX];
	uint8_t f[64];

	(void)state;
	memset(&p, 0, sizeof(p));
	member(br, 0, NULL, 0, 1);
	member(br, 1, NULL, 0, 1);
	member(br, 2, NULL, 0, 1);
	/* Broadcast, and unicast to an unknown MAC: flooded, asked each time. */
	assert_int_equal(br_pick(br, &p, f, 64, frame(f, BC, M1, -1), to), 2);
	assert_int_equal(br_pick(br, &p, f, 64, frame(f, M3, M1, -1), to), 2);
	/* M2 learned on member 1: one destination, the same for what follows. */
	p.pick_in = 1;
	br_pick(br, &p, f, 64, frame(f, BC, M2, -1), to);
	p.pick_in = 0;
	assert_int_equal(br_pick(br, &p, f, 64, frame(f, M2, M1, -1), to),
			 1 | VNET_PICK_SAME);
	assert_ptr_equal(to[0].d, &dsts[1][0]);
	uint64_t fwd = br->stats.forwarded;
	br_repeat(br, 31);
	assert_int_equal(br->stats.forwarded, fwd + 31);
	/* The sender's queue pair above the receiver's count: spread by flow
	 * hash, which reads past the addresses. */
	p.qp = 2;
	assert_int_equal(br_pick(br, &p, f, 64, frame(f, M2, M1, -1), to), 1);
	p.qp = 0;
	/* A source over the member's MAC limit is not learned (and counted
	 * per frame): asked each time. */
	br_fini(br);
	assert_int_equal(br_init(br, 1024, 300, 1), 0);
	member(br, 0, NULL, 0, 1);
	member(br, 1, NULL, 0, 1);
	p.pick_in = 1;
	br_pick(br, &p, f, 64, frame(f, BC, M2, -1), to);
	p.pick_in = 0;
	br_pick(br, &p, f, 64, frame(f, BC, M1, -1), to);   /* the one MAC */
	assert_int_equal(br_pick(br, &p, f, 64, frame(f, M2, M3, -1), to), 1);
	br_fini(br);
}

/* br_hint guesses the queue the sender's last looked-up destination takes
 * its queue pair on, and only while that answer would stand: nothing
 * before a lookup, after an unknown one, once the table or its clock
 * moved, above the receiver's queues, or with the receiver gone. */
static void test_hint_follows_the_standing_answer(void **state)
{
	static struct vq q[2][NQ];
	struct bridge *br = new_bridge();
	struct vnet_path p;
	struct vnet_to to[VNET_TO_MAX];
	uint8_t f[64];

	(void)state;
	memset(&p, 0, sizeof(p));
	member(br, 0, NULL, 0, 2);
	member(br, 1, NULL, 0, 2);
	for (int i = 0; i < 2; i++)
		for (int k = 0; k < NQ; k++)
			dsts[i][k].vq = &q[i][k];
	assert_null(br_hint(br, &p));
	br_pick(br, &p, f, 64, frame(f, M2, M1, -1), to);   /* unknown */
	assert_null(br_hint(br, &p));
	p.pick_in = 1;
	br_pick(br, &p, f, 64, frame(f, BC, M2, -1), to);   /* M2 on 1 */
	p.pick_in = 0;
	br_pick(br, &p, f, 64, frame(f, M2, M1, -1), to);
	assert_ptr_equal(br_hint(br, &p), &q[1][0]);
	p.qp = 1;
	assert_ptr_equal(br_hint(br, &p), &q[1][1]);
	p.qp = 2;                                  /* member 1 has 2 queues */
	assert_null(br_hint(br, &p));
	p.qp = 0;
	p.pick_in = 1;                             /* the table changes */
	br_pick(br, &p, f, 64, frame(f, BC, M3, -1), to);
	p.pick_in = 0;
	assert_null(br_hint(br, &p));
	br_pick(br, &p, f, 64, frame(f, M2, M1, -1), to);
	assert_ptr_equal(br_hint(br, &p), &q[1][0]);
	atomic_store(&br->fdb.now, fdb_now(&br->fdb) + 1);   /* a second on */
	assert_null(br_hint(br, &p));
	br_pick(br, &p, f, 64, frame(f, M2, M1, -1), to);
	assert_ptr_equal(br_hint(br, &p), &q[1][0]);
	br->m[1].used = false;                     /* the receiver leaves */
	assert_null(br_hint(br, &p));
	memset(dsts, 0, sizeof(dsts));
	br_fini(br);
}

static void test_fewer_queues_spread_by_flow(void **state)
{
	struct bridge *br = new_bridge();
	struct vnet_path p;
	struct vnet_to to[VNET_TO_MAX];
	uint8_t f[64];
	bool used[2] = {false, false};

	(void)state;
	memset(&p, 0, sizeof(p));
	member(br, 0, NULL, 0, 4);
	member(br, 1, NULL, 0, 2);
	p.pick_in = 0;
	/* Queue pairs under the receiver's count keep their index. */
	p.qp = 1;
	assert_int_equal(br_pick(br, &p, f, 64, frame(f, BC, M1, -1), to), 1);
	assert_ptr_equal(to[0].d, &dsts[1][1]);
	/* Above it: by flow hash, the same flow always on one queue, and
	 * different flows over both. */
	p.qp = 3;
	for (uint32_t flow = 0; flow < 64; flow++) {
		frame(f, BC, M1, -1);
		f[14] = 0x45;
		put_be32(f + 14 + 12, 0x0a000001);
		put_be32(f + 14 + 16, 0x0a000100 + flow);
		f[14 + 9] = 17;
		put_be16(f + 34, 1000);
		put_be16(f + 36, 2000);
		assert_int_equal(br_pick(br, &p, f, 64, 64, to), 1);
		const struct vnet_dst *first = to[0].d;
		assert_int_equal(br_pick(br, &p, f, 64, 64, to), 1);
		assert_ptr_equal(to[0].d, first);
		assert_true(first == &dsts[1][0] || first == &dsts[1][1]);
		used[first - &dsts[1][0]] = true;
	}
	assert_true(used[0] && used[1]);
	br_fini(br);
}

static void test_flow_hash_short_frames_safe(void **state)
{
	uint8_t f[64] = {0};

	(void)state;
	/* lengths that end inside each header: no read past len (ASan) */
	put_be16(f + 12, 0x8100);
	put_be16(f + 16, 0x86dd);
	for (uint32_t len = 0; len <= 64; len++) {
		uint8_t *g = malloc(len ? len : 1);
		memcpy(g, f, len);
		(void)flow_hash(g, len);
		free(g);
	}
}

/* Aging through br_pass: one sweep of the table per second of its clock,
 * a bucket per pass, and none while the clock stands still. */
static void test_pass_sweeps_once_a_second(void **state)
{
	struct bridge *br = new_bridge();
	struct br_verdict v;
	uint8_t f[64];

	(void)state;
	member(br, 0, NULL, 0, 1);
	member(br, 1, NULL, 0, 1);
	fdb_set_now(&br->fdb, 1);
	br_input(br, 0, f, frame(f, M2, M1, -1), &v);   /* M1 learned at 1 */
	for (uint32_t i = 0; i < br->fdb.nbuckets; i++)
		br_pass(br);
	assert_int_equal(br->sweep_left, 0);
	fdb_set_now(&br->fdb, 302);                      /* aged (300 s) */
	assert_int_equal(fdb_lookup(&br->fdb, M1, 0), -1);
	br_pass(br);
	assert_int_equal(br->sweep_left, br->fdb.nbuckets - 1);
	for (uint32_t i = 1; i < br->fdb.nbuckets; i++)
		br_pass(br);
	assert_int_equal(br->fdb.stats[FDB_AGED], 1);
	assert_int_equal(br->sweep_left, 0);
	br_pass(br);                                     /* same second */
	assert_int_equal(br->sweep_left, 0);
	br_fini(br);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vlan_parse),
		cmocka_unit_test(test_unknown_unicast_floods_to_others_not_ingress),
		cmocka_unit_test(test_broadcast_and_multicast_flood),
		cmocka_unit_test(test_learned_unicast_goes_to_one_member),
		cmocka_unit_test(test_never_back_to_ingress),
		cmocka_unit_test(test_vlans_keep_apart),
		cmocka_unit_test(test_wrong_tags_dropped),
		cmocka_unit_test(test_down_member_is_skipped),
		cmocka_unit_test(test_cached_answers_follow_the_table),
		cmocka_unit_test(test_limit_counted_per_frame),
		cmocka_unit_test(test_same_answer_only_for_learned_unicast),
		cmocka_unit_test(test_hint_follows_the_standing_answer),
		cmocka_unit_test(test_fewer_queues_spread_by_flow),
		cmocka_unit_test(test_flow_hash_short_frames_safe),
		cmocka_unit_test(test_pass_sweeps_once_a_second),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
