/* SPDX-License-Identifier: MIT */
/*
 * test_runtime_bridge.c: a bridge built while vhostd runs (issue 16 parts
 * 2-3).  vhostd starts with no port (--control, --config); vhostctl adds
 * bridge br0 and three guests on it: a and b untagged, c an access port
 * of VLAN 10.  Unicast between learned MACs reaches its one destination
 * without flooding, the VLAN keeps c apart, c is removed while a and b
 * exchange frames (they lose none; c's front-end sees its socket close)
 * and comes back (added again, a new front-end attached), and a restart
 * with nothing but --config brings back br0, a, b and c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "guest_util.h"

#define NG 3
static struct tdaemon td;
static struct guest g[NG];
static char conf[160];
static const char *const names[NG] = {"a", "b", "c"};
static const char *const extra[NG] = {",bridge=br0", ",bridge=br0",
				      ",bridge=br0,vlan=10"};

static const uint64_t FEATURES = BIT_ULL(VIRTIO_F_VERSION_1) |
	BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES) |
	BIT_ULL(VIRTIO_NET_F_MRG_RXBUF);
static const uint8_t BC[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static const uint8_t *mac(int i)
{
	static uint8_t m[NG][6];

	memcpy(m[i], (uint8_t[]){0x52, 0x54, 0, 0, 0x16, (uint8_t)i}, 6);
	return m[i];
}

/* vhostctl CTL ARGS...: its exit status. */
static int ctl(const char *fmt, ...)
{
	char args[400], cmd[700];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "%s %s %s >/dev/null", td.ctl_bin, td.ctl,
		 args);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
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
		if (!strncmp(line, "bridge name=br0 ", 16) && k)
			v = strtoull(k + strlen(want), NULL, 10);
	}
	pclose(p);
	assert_true(v != ~0ull);
	return v;
}

static void send_to(int i, const uint8_t *dst, uint8_t mark)
{
	uint8_t f[64];

	memset(f, mark, sizeof(f));
	memcpy(f, dst, 6);
	memcpy(f + 6, mac(i), 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	send_frame(&g[i], f, 60, &(struct virtio_net_hdr){0});
}

/* Frames guest i has within IO_MS (waiting for the first), or now. */
static unsigned got(int i, bool wait)
{
	nrx = 0;
	for (int ms = 0; wait && ms < IO_MS && nrx == 0; ms++)
		if (vu_drv_rx_poll(g[i].d, MAX_RX, on_rx, NULL) == 0)
			msleep(1);
	msleep(10);
	vu_drv_rx_poll(g[i].d, MAX_RX, on_rx, NULL);
	return nrx;
}

static int start_vhostd(void)
{
	char *args[] = {"--control", td.ctl, "--config", conf, NULL};

	return vhostd_start(&td.proc, td.bin, td.log, args) == 0 &&
	       wait_path(td.ctl, 5000) ? 0 : -1;
}

static void test_learned_unicast_goes_to_one_port_without_flooding(void **s)
{
	(void)s;
	send_to(0, BC, 1);               /* a learned, flooded to b only */
	assert_int_equal(got(1, true), 1);
	assert_int_equal(got(2, false), 0);
	send_to(1, BC, 2);               /* b learned */
	assert_int_equal(got(0, true), 1);
	uint64_t flooded = br_stat("flooded");
	for (int k = 0; k < 5; k++)
		send_to(0, mac(1), 3);
	nrx = 0;
	assert_int_equal(recv_frames(&g[1], 5), 5);
	assert_int_equal(got(0, false), 0);
	assert_int_equal(got(2, false), 0);
	assert_int_equal(br_stat("flooded"), flooded);
}

static void test_vlan_keeps_the_access_port_apart(void **s)
{
	(void)s;
	send_to(2, BC, 4);
	send_to(2, mac(0), 5);
	msleep(50);
	assert_int_equal(got(0, false), 0);
	assert_int_equal(got(1, false), 0);
}

static unsigned counted[NG];
static void count_rx(void *arg, const struct vu_drv_rx_pkt *pkt)
{
	(void)pkt;
	counted[(intptr_t)arg]++;
}

/* a and b send each other bursts for ms while c is removed: every frame
 * arrives. */
static void test_removing_a_port_under_traffic_loses_nothing(void **s)
{
	unsigned sent[2] = {0, 0};

	(void)s;
	memset(counted, 0, sizeof(counted));
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		msleep(100);
		_exit(ctl("del-port c"));
	}
	for (int round = 0; round < 400; round++) {
		for (int k = 0; k < 2; k++) {
			send_to(k, mac(1 - k), 6);
			sent[k]++;
			vu_drv_rx_poll(g[1 - k].d, MAX_RX, count_rx,
				       (void *)(intptr_t)(1 - k));
		}
		msleep(1);
	}
	int st;
	assert_int_equal(waitpid(child, &st, 0), child);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	for (int ms = 0; ms < IO_MS && (counted[1] < sent[0] ||
					counted[0] < sent[1]); ms++) {
		for (int k = 0; k < 2; k++)
			vu_drv_rx_poll(g[k].d, MAX_RX, count_rx,
				       (void *)(intptr_t)k);
		msleep(1);
	}
	assert_int_equal(counted[1], sent[0]);
	assert_int_equal(counted[0], sent[1]);
	/* c's front-end lost its connection; its socket file is gone. */
	uint64_t v;
	assert_true(vu_front_get_features(g[2].f, &v) < 0);
	struct stat st2;
	assert_int_not_equal(stat(td.sock[2], &st2), 0);
	assert_int_equal(ctl("del-port c"), 1);       /* no such port now */
	/* The port comes back (untagged now) and so does a front-end. */
	assert_int_equal(ctl("add-port c vhost:%s,bridge=br0", td.sock[2]), 0);
	assert_true(wait_path(td.sock[2], 5000));
	guest_down(&g[2]);
	guest_up(&g[2], td.sock[2], FEATURES);
	msleep(50);
	send_to(0, BC, 9);
	assert_int_equal(got(2, true), 1);
	assert_int_equal(got(1, true), 1);
}

static void test_restart_restores_the_bridge_from_config(void **s)
{
	(void)s;
	for (int i = 0; i < NG; i++)
		guest_down(&g[i]);
	assert_int_equal(vhostd_stop(&td.proc), 0);
	assert_int_equal(start_vhostd(), 0);
	assert_true(wait_path(td.sock[0], 5000));
	assert_true(wait_path(td.sock[1], 5000));
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "%s --json %s show | grep -q "
		 "'\"bridges\":\\[{\"name\":\"br0\",\"aging\":60,"
		 "\"mac_limit\":1024,\"origin\":\"config\",\"ports\":"
		 "\\[\"a\",\"b\",\"c\"\\]}\\]'", td.ctl_bin, td.ctl);
	assert_int_equal(system(cmd), 0);
	guest_up(&g[0], td.sock[0], FEATURES);
	guest_up(&g[1], td.sock[1], FEATURES);
	msleep(50);
	send_to(1, BC, 7);
	assert_int_equal(got(0, true), 1);
	send_to(0, mac(1), 8);
	assert_int_equal(got(1, true), 1);
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(td.dir, sizeof(td.dir), "/tmp/vhostd-rtb.XXXXXX");
	if (!mkdtemp(td.dir))
		return -1;
	snprintf(td.ctl, sizeof(td.ctl), "%s/ctl.sock", td.dir);
	snprintf(td.log, sizeof(td.log), "%s/vhostd.log", td.dir);
	snprintf(conf, sizeof(conf), "%s/vhostd.json", td.dir);
	if (start_vhostd() < 0 || ctl("add-bridge br0 aging=60") != 0)
		return -1;
	for (int i = 0; i < NG; i++) {
		snprintf(td.sock[i], sizeof(td.sock[i]), "%s/%s.sock", td.dir,
			 names[i]);
		if (ctl("add-port %s vhost:%s%s", names[i], td.sock[i],
			extra[i]) != 0 || !wait_path(td.sock[i], 5000))
			return -1;
	}
	for (int i = 0; i < NG; i++)
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
		cmocka_unit_test(
			test_learned_unicast_goes_to_one_port_without_flooding),
		cmocka_unit_test(test_vlan_keeps_the_access_port_apart),
		cmocka_unit_test(
			test_removing_a_port_under_traffic_loses_nothing),
		cmocka_unit_test(test_restart_restores_the_bridge_from_config),
	};

	if (tdaemon_args(&td, argc, argv) < 0)
		return 2;
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
