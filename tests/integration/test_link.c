/* SPDX-License-Identifier: MIT */
/*
 * test_link.c: --link between two guests through a real vhostd.
 *
 * Frames of every size go from guest a to guest b and back, each checked
 * byte for byte and in order, and vhostd's per-queue counters (vhostctl
 * stats) must account for every one.  SEND_RARP on a migrated guest's port
 * makes vhostd announce the guest's MAC to the linked guest with a RARP
 * frame, ahead of the guest's own traffic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "guest_util.h"

#define NFRAMES 200u

static const char *vhostd_bin, *vhostctl_bin;
static char dir[64], sock_a[128], sock_b[128], ctl[128], logpath[128];
static struct vhostd_proc proc;
static struct guest a, b;

static const uint64_t FEATURES = BIT_ULL(VIRTIO_F_VERSION_1) |
	BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES) |
	BIT_ULL(VIRTIO_NET_F_MRG_RXBUF);

static int test_teardown(void **state)
{
	(void)state;
	guest_down(&a);
	guest_down(&b);
	return 0;
}

static uint32_t frame_len(unsigned i)
{
	return 60 + (i * 131) % (1514 - 60 + 1);
}

static void fill(uint8_t *f, uint32_t len, unsigned i, uint8_t from)
{
	memset(f, 0xff, 6);
	memcpy(f + 6, (uint8_t[]){0x52, 0x54, 0, 0, 0, from}, 6);
	f[12] = 0x88;                    /* local experimental ethertype */
	f[13] = 0xb5;
	for (uint32_t k = 14; k < len; k++)
		f[k] = (uint8_t)(k + i * 3 + from);
}

/* NFRAMES frames from s to r, all received intact and in order. */
static void one_way(struct guest *s, struct guest *r, uint8_t from)
{
	static uint8_t f[2048];
	unsigned got = 0;

	for (unsigned i = 0; i < NFRAMES; i += MAX_RX) {
		unsigned n = NFRAMES - i < MAX_RX ? NFRAMES - i : MAX_RX;
		for (unsigned k = 0; k < n; k++) {
			fill(f, frame_len(i + k), i + k, from);
			send_frame(s, f, frame_len(i + k),
				   &(struct virtio_net_hdr){0});
		}
		assert_int_equal(recv_frames(r, n), n);
		for (unsigned k = 0; k < n; k++, got++) {
			fill(f, frame_len(got), got, from);
			assert_int_equal(rxf[k].len, frame_len(got));
			assert_memory_equal(rxf[k].data, f, rxf[k].len);
		}
	}
}

static void test_both_ways(void **state)
{
	uint64_t fw_a, fw_b, rx_a, rx_b;

	(void)state;
	fw_a = stat_of(vhostctl_bin, ctl, "a", 1, "forwarded");
	fw_b = stat_of(vhostctl_bin, ctl, "b", 1, "forwarded");
	rx_a = stat_of(vhostctl_bin, ctl, "a", 0, "packets");
	rx_b = stat_of(vhostctl_bin, ctl, "b", 0, "packets");
	guest_up(&a, sock_a, FEATURES);
	guest_up(&b, sock_b, FEATURES);
	one_way(&a, &b, 1);
	one_way(&b, &a, 2);
	assert_int_equal(stat_of(vhostctl_bin, ctl, "a", 1, "forwarded"),
			 fw_a + NFRAMES);
	assert_int_equal(stat_of(vhostctl_bin, ctl, "b", 1, "forwarded"),
			 fw_b + NFRAMES);
	assert_int_equal(stat_of(vhostctl_bin, ctl, "b", 0, "packets"),
			 rx_b + NFRAMES);
	assert_int_equal(stat_of(vhostctl_bin, ctl, "a", 0, "packets"),
			 rx_a + NFRAMES);
}

static void test_rarp_announce(void **state)
{
	static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0xab, 0xcd, 0xef};
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	struct vu_hdr h = {VU_REQ_SEND_RARP, VU_VERSION | VU_FLAG_NEED_REPLY,
			   8};
	struct vu_msg ack;
	uint64_t payload = 0;
	static uint8_t f[64];

	(void)state;
	memcpy(&payload, mac, 6);
	guest_up_proto(&a, sock_a, FEATURES, VU_FRONT_PROTOCOL_DEFAULT |
		       BIT_ULL(VU_PROTOCOL_F_RARP));
	guest_up(&b, sock_b, FEATURES);
	assert_int_equal(vu_front_raw_send(a.f, &h, &payload, 8, NULL, 0), 0);
	/* The ack: vhostd has queued the announcement. */
	assert_int_equal(vu_front_raw_recv(a.f, &ack, IO_MS, NULL, NULL), 1);
	assert_int_equal(ack.payload.u64, 0);
	fill(f, 60, 0, 1);
	send_frame(&a, f, 60, &(struct virtio_net_hdr){0});
	assert_int_equal(recv_frames(&b, 2), 2);
	const uint8_t *r = rxf[0].data;
	assert_int_equal(rxf[0].len, 60);
	assert_memory_equal(r, bcast, 6);
	assert_memory_equal(r + 6, mac, 6);
	assert_int_equal(r[12] << 8 | r[13], 0x8035);   /* RARP */
	assert_int_equal(r[20] << 8 | r[21], 3);        /* request reverse */
	assert_memory_equal(r + 22, mac, 6);            /* sender MAC */
	assert_memory_equal(r + 32, mac, 6);            /* target MAC */
	assert_memory_equal(rxf[1].data, f, 60);        /* then the traffic */
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vhostd-link.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(sock_a, sizeof(sock_a), "%s/a.sock", dir);
	snprintf(sock_b, sizeof(sock_b), "%s/b.sock", dir);
	snprintf(ctl, sizeof(ctl), "%s/ctl.sock", dir);
	snprintf(logpath, sizeof(logpath), "%s/vhostd.log", dir);
	char pa[160], pb[160];
	snprintf(pa, sizeof(pa), "a=vhost:%s", sock_a);
	snprintf(pb, sizeof(pb), "b=vhost:%s", sock_b);
	char *args[] = {"--port", pa, "--port", pb, "--link", "a=b",
			"--control", ctl, NULL};
	if (vhostd_start(&proc, vhostd_bin, logpath, args) < 0 ||
	    !wait_path(sock_a, 5000) || !wait_path(sock_b, 5000) ||
	    !wait_path(ctl, 5000))
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[200];

	(void)state;
	if (vhostd_stop(&proc) != 0) {
		fprintf(stderr, "vhostd did not exit 0; log %s\n", logpath);
		return -1;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_both_ways, test_teardown),
		cmocka_unit_test_teardown(test_rarp_announce, test_teardown),
	};

	if (argc < 3) {
		fprintf(stderr, "usage: %s VHOSTD VHOSTCTL\n", argv[0]);
		return 2;
	}
	vhostd_bin = argv[1];
	vhostctl_bin = argv[2];
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
