/* SPDX-License-Identifier: MIT */
/*
 * test_bridge.c: a learning bridge in a real vhostd, five guests:
 *   a, b, c  untagged members of br0 (mac-limit=4)
 *   d        access port of VLAN 10
 *   e        trunk of VLANs 10 and 20
 * Broadcast floods to every other member of the VLAN; once both ends are
 * learned unicast reaches its one destination and nobody else (the
 * bridge's counters say so); VLANs keep a-c away from d and e, and d's
 * frames reach e tagged and e's reach d untagged; a MAC that shows up on
 * another port moves; a port over its MAC limit learns no more; a RARP
 * announcement (SEND_RARP) is flooded and teaches the bridge the MAC.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "guest_util.h"

#define NG 5
static struct tdaemon td;
static struct guest g[NG];
static const char *const names[NG] = {"a", "b", "c", "d", "e"};
static const char *const extra[NG] = {",bridge=br0", ",bridge=br0",
	",bridge=br0", ",bridge=br0,vlan=10", ",bridge=br0,trunk=10,20"};

static const uint64_t FEATURES = BIT_ULL(VIRTIO_F_VERSION_1) |
	BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES) |
	BIT_ULL(VIRTIO_NET_F_MRG_RXBUF);

static const uint8_t BC[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static void mac(uint8_t *m, uint8_t n)
{
	memcpy(m, (uint8_t[]){0x52, 0x54, 0, 0, 0x42, n}, 6);
}

/* A 60-byte frame dst <- src (tagged with vid when vid > 0). */
static uint32_t frame(uint8_t *f, const uint8_t *dst, const uint8_t *src,
		      int vid, uint8_t mark)
{
	uint32_t at = 12;

	memset(f, mark, 64);
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	if (vid > 0) {
		f[at++] = 0x81;
		f[at++] = 0;
		f[at++] = (uint8_t)(vid >> 8);
		f[at++] = (uint8_t)vid;
	}
	f[at++] = 0x88;
	f[at++] = 0xb5;
	return 60;
}

static void send(int i, const uint8_t *f, uint32_t len)
{
	send_frame(&g[i], f, len, &(struct virtio_net_hdr){0});
}

/* Frames guest i has now: waits up to IO_MS for the first (the host may
 * be busy), then 5 ms for more. */
static unsigned got_within(int i, int wait_ms)
{
	nrx = 0;
	for (int ms = 0; ms < wait_ms && nrx == 0; ms++)
		if (vu_drv_rx_poll(g[i].d, MAX_RX, on_rx, NULL) == 0)
			msleep(1);
	msleep(5);
	vu_drv_rx_poll(g[i].d, MAX_RX, on_rx, NULL);
	return nrx;
}

static unsigned got(int i)
{
	return got_within(i, IO_MS);
}

/* Guest i got nothing: checked after the frame went where it should
 * (the same pass of vhostd's worker places every copy). */
static unsigned none(int i)
{
	return got_within(i, 20) == 0;
}

/* key of the "bridge name=br0" line of vhostctl stats. */
static uint64_t br_stat(const char *key)
{
	char cmd[300], line[2048], want[64];
	uint64_t v = ~0ull;

	snprintf(cmd, sizeof(cmd), "%s %s stats", td.ctl_bin, td.ctl);
	snprintf(want, sizeof(want), " %s=", key);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		char *k = strstr(line, want);
		if (strncmp(line, "bridge name=br0 ", 16) == 0 && k)
			v = strtoull(k + strlen(want), NULL, 10);
	}
	pclose(p);
	assert_true(v != ~0ull);
	return v;
}

static void test_flood_then_learned_unicast(void **state)
{
	uint8_t f[64], A[6], B[6];

	(void)state;
	mac(A, 1);
	mac(B, 2);
	uint64_t fl = br_stat("flooded"), fw = br_stat("forwarded");
	send(0, f, frame(f, BC, A, 0, 1));       /* a: broadcast */
	assert_int_equal(got(1), 1);
	assert_memory_equal(rxf[0].data, f, 60);
	assert_int_equal(got(2), 1);
	assert_true(none(0));             /* never back to a */
	assert_true(none(3));             /* other VLANs: nothing */
	assert_true(none(4));
	send(1, f, frame(f, A, B, 0, 2));        /* b -> A: learned */
	assert_int_equal(got(0), 1);
	assert_memory_equal(rxf[0].data, f, 60);
	assert_true(none(2));
	send(0, f, frame(f, B, A, 0, 3));        /* a -> B: learned */
	assert_int_equal(got(1), 1);
	assert_true(none(2));
	assert_int_equal(br_stat("flooded"), fl + 1);
	assert_int_equal(br_stat("forwarded"), fw + 2);
	assert_true(br_stat("learned") >= 2);
}

static void test_vlan_access_and_trunk(void **state)
{
	uint8_t f[64], D[6], E[6], want[64];

	(void)state;
	mac(D, 4);
	mac(E, 5);
	send(3, f, frame(f, BC, D, 0, 4));       /* d: VLAN 10, untagged */
	assert_int_equal(got(4), 1);             /* e gets it tagged 10 */
	frame(want, BC, D, 10, 4);
	assert_int_equal(rxf[0].len, 64);
	assert_memory_equal(rxf[0].data, want, 64);
	for (int i = 0; i < 3; i++)
		assert_true(none(i));
	uint64_t vl = br_stat("drop_vlan");
	send(4, f, frame(f, D, E, 10, 5));       /* e -> D in VLAN 10 */
	assert_int_equal(got(3), 1);             /* d gets it untagged */
	assert_int_equal(rxf[0].len, 56);
	assert_memory_equal(rxf[0].data, f, 12);
	assert_memory_equal(rxf[0].data + 12, f + 16, 44);
	send(4, f, frame(f, BC, E, 20, 6));      /* VLAN 20: nobody else */
	send(4, f, frame(f, BC, E, 30, 7));      /* VLAN 30: not e's */
	send(3, f, frame(f, BC, D, 10, 8));      /* tagged on access */
	msleep(100);
	for (int i = 0; i < NG; i++)
		assert_true(none(i));
	assert_int_equal(br_stat("drop_vlan"), vl + 2);
}

static void test_mac_moves(void **state)
{
	uint8_t f[64], X[6], A[6];

	(void)state;
	mac(X, 9);
	mac(A, 1);
	send(0, f, frame(f, BC, X, 0, 9));       /* X on a */
	assert_int_equal(got(1), 1);
	assert_int_equal(got(2), 1);
	uint64_t mv = br_stat("moved");
	send(2, f, frame(f, A, X, 0, 10));       /* X now on c */
	assert_int_equal(got(0), 1);
	assert_int_equal(br_stat("moved"), mv + 1);
	send(1, f, frame(f, X, A, 0, 11));       /* to X: only c */
	assert_int_equal(got(2), 1);
	assert_true(none(0));
}

static void test_mac_limit(void **state)
{
	uint8_t f[64], M[6];

	(void)state;
	uint64_t lim = br_stat("limit");
	for (uint8_t n = 100; n < 110; n++) {    /* 10 MACs from b, limit 4 */
		mac(M, n);
		send(1, f, frame(f, BC, M, 0, n));
		assert_int_equal(got(0), 1);
		assert_int_equal(got(2), 1);
	}
	assert_true(br_stat("limit") >= lim + 6);
	/* A MAC over the limit is unknown: frames to it flood. */
	uint64_t fl = br_stat("flooded");
	send(0, f, frame(f, M, (uint8_t[]){0x52, 0x54, 0, 0, 0x42, 1}, 0, 1));
	assert_int_equal(got(1), 1);
	assert_int_equal(got(2), 1);
	assert_int_equal(br_stat("flooded"), fl + 1);
}

/* SEND_RARP on a (after a migration): the announcement is flooded to the
 * other members of a's VLAN and the bridge learns the MAC on a. */
static void test_rarp_announce_floods_and_teaches(void **state)
{
	static const uint8_t mac_r[6] = {0x52, 0x54, 0x00, 0xab, 0xcd, 0xef};
	struct vu_hdr h = {VU_REQ_SEND_RARP, VU_VERSION | VU_FLAG_NEED_REPLY,
			   8};
	struct vu_msg ack;
	uint64_t payload = 0;
	uint8_t f[64], B[6];

	(void)state;
	mac(B, 2);
	memcpy(&payload, mac_r, 6);
	assert_int_equal(vu_front_raw_send(g[0].f, &h, &payload, 8, NULL, 0),
			 0);
	assert_int_equal(vu_front_raw_recv(g[0].f, &ack, IO_MS, NULL, NULL), 1);
	assert_int_equal(ack.payload.u64, 0);
	for (int i = 1; i < 3; i++) {
		assert_int_equal(got(i), 1);
		assert_memory_equal(rxf[0].data, BC, 6);
		assert_memory_equal(rxf[0].data + 6, mac_r, 6);
		assert_int_equal(rxf[0].data[12] << 8 | rxf[0].data[13],
				 0x8035);
	}
	assert_true(none(3));
	send(1, f, frame(f, mac_r, B, 0, 12));   /* to the MAC: only a */
	assert_int_equal(got(0), 1);
	assert_true(none(2));
}

static int group_setup(void **state)
{
	char spec[NG][200], *args[32];
	int n = 0;

	(void)state;
	snprintf(td.dir, sizeof(td.dir), "/tmp/vhostd-it.XXXXXX");
	if (!mkdtemp(td.dir))
		return -1;
	snprintf(td.ctl, sizeof(td.ctl), "%s/ctl.sock", td.dir);
	snprintf(td.log, sizeof(td.log), "%s/vhostd.log", td.dir);
	args[n++] = "--bridge";
	args[n++] = "br0,mac-limit=4";
	/* A NIC port (a loop, unwired) given before the bridged ports: its
	 * path must not be polled before the datapath starts. */
	args[n++] = "--port";
	args[n++] = "z=loop:";
	for (int i = 0; i < NG; i++) {
		snprintf(td.sock[i], sizeof(td.sock[i]), "%s/%s.sock", td.dir,
			 names[i]);
		snprintf(spec[i], sizeof(spec[i]), "%s=vhost:%s%s", names[i],
			 td.sock[i], extra[i]);
		args[n++] = "--port";
		args[n++] = spec[i];
	}
	args[n++] = "--control";
	args[n++] = td.ctl;
	args[n] = NULL;
	if (vhostd_start(&td.proc, td.bin, td.log, args) < 0)
		return -1;
	for (int i = 0; i < NG; i++)
		if (!wait_path(td.sock[i], 5000))
			return -1;
	if (!wait_path(td.ctl, 5000))
		return -1;
	guest_up_proto(&g[0], td.sock[0], FEATURES, VU_FRONT_PROTOCOL_DEFAULT |
		       BIT_ULL(VU_PROTOCOL_F_RARP));
	for (int i = 1; i < NG; i++)
		guest_up(&g[i], td.sock[i], FEATURES);
	msleep(50);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	for (int i = 0; i < NG; i++)
		guest_down(&g[i]);
	return tdaemon_stop(&td);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flood_then_learned_unicast),
		cmocka_unit_test(test_vlan_access_and_trunk),
		cmocka_unit_test(test_mac_moves),
		cmocka_unit_test(test_mac_limit),
		cmocka_unit_test(test_rarp_announce_floods_and_teaches),
	};

	if (tdaemon_args(&td, argc, argv) < 0)
		return 2;
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
