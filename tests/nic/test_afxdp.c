/* SPDX-License-Identifier: MIT */
/*
 * test_afxdp.c: the AF_XDP port on a real veth, frame by frame.
 *
 *   guest (vu_drv) <-> vhostd --port g=vhost --port n=afxdp:NEAR
 *                  <-> NEAR ==veth== FAR (network namespace NS)
 *
 * afxdp_veth.sh makes the veth pair and the namespace, then runs this:
 *   test_afxdp VHOSTD VHOSTCTL NS NEAR FAR QUEUES
 * Frames of every size go from the guest out of the wire, captured in NS
 * with a packet socket, and from NS into the wire to the guest; each is
 * checked byte for byte and in order, and the port's counters account for
 * them.  UDP from NS's kernel stack arrives with the partial checksum
 * veth hands AF_XDP, completed or marked (test_kernel_udp_checksum_*).
 * A guest chain of 2^32 - 64 bytes is dropped before the port.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include "datapath/csum.h"
#include "guest_util.h"
#include "big_chain.h"

#define NFRAMES 300u
#define BATCH 32u
#define ETHERTYPE_TEST 0x88b5   /* local experimental */
#define FRAME_MAX 1514u

static struct tdaemon td;
static struct guest g;
static struct vu_drv *drv[2];   /* g's queue pairs (g.d is drv[0]) */
static const char *ns, *near_if, *far_if;
static unsigned queues;
static int psock = -1;          /* packet socket on FAR, inside NS */
static int far_ifindex;

static const uint64_t FEATURES = BIT_ULL(VIRTIO_F_VERSION_1) |
	BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES);
static const uint8_t guest_mac[6] = {0x52, 0x54, 0x00, 0x00, 0x00, 0x01};

/* Run fn(arg) with the calling thread in namespace ns (sockets it makes
 * stay there). */
static int in_ns(int (*fn)(void *), void *arg)
{
	char path[128];
	int self = open("/proc/self/ns/net", O_RDONLY), there, r;

	snprintf(path, sizeof(path), "/var/run/netns/%s", ns);
	there = open(path, O_RDONLY);
	assert_true(self >= 0 && there >= 0);
	assert_int_equal(setns(there, CLONE_NEWNET), 0);
	r = fn(arg);
	assert_int_equal(setns(self, CLONE_NEWNET), 0);
	close(self);
	close(there);
	return r;
}

static int open_packet_socket(void *arg)
{
	int s = socket(AF_PACKET, SOCK_RAW, htons(ETHERTYPE_TEST));
	int big = 8 << 20;

	(void)arg;
	far_ifindex = (int)if_nametoindex(far_if);
	struct sockaddr_ll a = {.sll_family = AF_PACKET,
				.sll_protocol = htons(ETHERTYPE_TEST),
				.sll_ifindex = far_ifindex};
	assert_true(s >= 0 && far_ifindex > 0);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	return s;
}

static uint32_t frame_len(unsigned i)
{
	return 60 + (i * 131) % (FRAME_MAX - 60 + 1);
}

static void fill(uint8_t *f, uint32_t len, unsigned i, uint8_t from)
{
	memset(f, 0xff, 6);
	memcpy(f + 6, guest_mac, 6);
	f[11] = from;
	f[12] = ETHERTYPE_TEST >> 8;
	f[13] = ETHERTYPE_TEST & 0xff;
	for (uint32_t k = 14; k < len; k++)
		f[k] = (uint8_t)(k + i * 7 + from);
}

/* The next frame of ours FAR received (outgoing copies skipped), or 0. */
static ssize_t wire_recv(uint8_t *buf, size_t len)
{
	struct pollfd p = {.fd = psock, .events = POLLIN};

	while (poll(&p, 1, IO_MS) == 1) {
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(psock, buf, len, 0,
				     (struct sockaddr *)&from, &fl);
		if (n > 0 && from.sll_pkttype != PACKET_OUTGOING)
			return n;
	}
	return 0;
}

static void wire_send(const uint8_t *f, uint32_t len)
{
	struct sockaddr_ll a = {.sll_family = AF_PACKET,
				.sll_ifindex = far_ifindex, .sll_halen = 6};

	memcpy(a.sll_addr, f, 6);
	assert_int_equal(sendto(psock, f, len, 0, (struct sockaddr *)&a,
				sizeof(a)), (ssize_t)len);
}

/* The port's counter KEY on NIC queue pair q (vhostctl's portq lines). */
static uint64_t port_stat(unsigned q, const char *key)
{
	char cmd[300], line[2048], want[64], k[64];
	uint64_t v = UINT64_MAX;

	snprintf(cmd, sizeof(cmd), "%s %s stats", td.ctl_bin, td.ctl);
	snprintf(want, sizeof(want), "portq port=n queue=%u ", q);
	snprintf(k, sizeof(k), " %s=", key);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p))
		if (strncmp(line, want, strlen(want)) == 0 && strstr(line, k))
			v = strtoull(strstr(line, k) + strlen(k), NULL, 10);
	pclose(p);
	return v;
}

/* ---- guest side receive: our frames only (NS's stack talks too) ---- */

struct got {
	unsigned n;
	uint32_t len[BATCH];
	uint8_t data[BATCH][FRAME_MAX];
	struct virtio_net_hdr hdr[BATCH];
	uint16_t want_type;
};

static void on_rx_ours(void *arg, const struct vu_drv_rx_pkt *pkt)
{
	struct got *r = arg;
	uint8_t head[14];

	if (r->n == BATCH || vu_drv_rx_copy(pkt, 0, head, 14) != 14 ||
	    (head[12] << 8 | head[13]) != r->want_type)
		return;
	r->hdr[r->n] = pkt->hdr;
	r->len[r->n] = (uint32_t)vu_drv_rx_copy(pkt, 0, r->data[r->n],
						FRAME_MAX);
	r->n++;
}

static unsigned guest_recv(struct got *r, unsigned n, uint16_t type)
{
	r->n = 0;
	r->want_type = type;
	for (int ms = 0; r->n < n && ms < IO_MS; ms++) {
		unsigned got = 0;
		for (unsigned i = 0; i < queues; i++)
			got += vu_drv_rx_poll(drv[i], 64, on_rx_ours, r);
		if (!got)
			msleep(1);
	}
	return r->n;
}

/* The guest with one queue pair per NIC queue, and vhostd polling its
 * rings (frames from the wire before that have nowhere to go). */
static void guest_live(uint64_t features)
{
	struct vu_guestmem_opts mo = {.size = 32u << 20, .nregions = 1,
				      .backing = VU_GUESTMEM_MEMFD};

	if (queues > 1)
		features |= BIT_ULL(VIRTIO_NET_F_MQ);
	assert_int_equal(vu_front_connect(&g.f, td.sock[0], IO_MS, IO_MS), 0);
	assert_int_equal(vu_front_negotiate(g.f, features,
					    VU_FRONT_PROTOCOL_DEFAULT), 0);
	assert_int_equal(vu_front_mem_init(g.f, &mo), 0);
	assert_int_equal(vu_front_set_mem_table(g.f), 0);
	assert_int_equal(vu_front_setup_queues(g.f, queues, 256), 0);
	for (unsigned i = 0; i < queues; i++)
		assert_int_equal(vu_drv_create(&drv[i], g.f,
				 &(struct vu_drv_opts){.pair = i}), 0);
	g.d = drv[0];
	for (int ms = 0; ms < IO_MS; ms += 10) {
		unsigned live = 0;
		for (unsigned r = 0; r < 2 * queues; r++)
			live += tdaemon_stat(&td, "g", (int)r, "live") == 1;
		if (live == 2 * queues)
			return;
		msleep(10);
	}
	fail_msg("vhostd never started the guest's rings");
}

/* A chain of 2^32 - 64 bytes (big_chain.h) from a guest without a driver:
 * dropped as too big before the port (the path's drop_too_big), nothing
 * transmitted, nothing refused by the port itself. */
static void test_4gib_chain_is_dropped_before_the_port(void **state)
{
	struct vu_guestmem_opts mo = {.size = 256u << 20, .nregions = 1,
				      .backing = VU_GUESTMEM_MEMFD};

	(void)state;
	uint64_t tx = port_stat(0, "tx_packets");
	uint64_t big = port_stat(0, "tx_too_big");
	uint64_t drops = tdaemon_stat(&td, "g", 1, "drop_too_big");
	uint64_t features = FEATURES | (queues > 1 ? BIT_ULL(VIRTIO_NET_F_MQ) :
					0);
	assert_int_equal(vu_front_connect(&g.f, td.sock[0], IO_MS, IO_MS), 0);
	assert_int_equal(vu_front_negotiate(g.f, features,
					    VU_FRONT_PROTOCOL_DEFAULT), 0);
	assert_int_equal(vu_front_mem_init(g.f, &mo), 0);
	assert_int_equal(vu_front_set_mem_table(g.f), 0);
	assert_int_equal(vu_front_setup_queues(g.f, queues, 256), 0);
	uint16_t want = big_chain_post(g.f, 1);
	assert_true(big_chain_used(g.f, 1, want, IO_MS));
	assert_int_equal(tdaemon_stat(&td, "g", 1, "drop_too_big"), drops + 1);
	assert_int_equal(port_stat(0, "tx_packets"), tx);
	assert_int_equal(port_stat(0, "tx_too_big"), big);
}

static void guest_gone(void)
{
	for (unsigned i = 1; i < queues; i++)
		if (drv[i])
			vu_drv_destroy(drv[i]);
	memset(drv, 0, sizeof(drv));
	guest_down(&g);
}

/* ---- the tests ------------------------------------------------------ */

static void test_guest_to_wire(void **state)
{
	static uint8_t f[FRAME_MAX], got[FRAME_MAX + 64];
	uint64_t tx0 = port_stat(0, "tx_packets");

	(void)state;
	guest_live(FEATURES);
	for (unsigned i = 0; i < NFRAMES; i += BATCH) {
		unsigned n = MIN(BATCH, NFRAMES - i);
		for (unsigned k = 0; k < n; k++) {
			fill(f, frame_len(i + k), i + k, 1);
			send_frame(&g, f, frame_len(i + k),
				   &(struct virtio_net_hdr){0});
		}
		for (unsigned k = 0; k < n; k++) {
			fill(f, frame_len(i + k), i + k, 1);
			ssize_t len = wire_recv(got, sizeof(got));
			assert_int_equal(len, frame_len(i + k));
			assert_memory_equal(got, f, (size_t)len);
		}
	}
	assert_int_equal(port_stat(0, "tx_packets"), tx0 + NFRAMES);
	assert_int_equal(port_stat(0, "tx_invalid_descs"), 0);
}

static void test_wire_to_guest(void **state)
{
	static uint8_t f[FRAME_MAX];
	static struct got r;
	uint64_t rx0 = 0;

	(void)state;
	guest_live(FEATURES);
	for (unsigned q = 0; q < queues; q++)
		rx0 += port_stat(q, "rx_packets");
	for (unsigned i = 0; i < NFRAMES; i += BATCH) {
		unsigned n = MIN(BATCH, NFRAMES - i);
		for (unsigned k = 0; k < n; k++) {
			fill(f, frame_len(i + k), i + k, 2);
			wire_send(f, frame_len(i + k));
		}
		assert_int_equal(guest_recv(&r, n, ETHERTYPE_TEST), n);
		for (unsigned k = 0; k < n; k++) {
			fill(f, frame_len(i + k), i + k, 2);
			assert_int_equal(r.len[k], frame_len(i + k));
			assert_memory_equal(r.data[k], f, r.len[k]);
			assert_int_equal(r.hdr[k].flags, 0);
			assert_int_equal(r.hdr[k].gso_type, 0);
		}
	}
	uint64_t rx1 = 0;
	for (unsigned q = 0; q < queues; q++)
		rx1 += port_stat(q, "rx_packets");
	assert_true(rx1 >= rx0 + NFRAMES);   /* and NS's own chatter */
	assert_int_equal(port_stat(0, "rx_invalid_descs"), 0);
}

/* One datagram to the guest from a new socket (a new source port). */
static int send_udp(void *arg)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(9)};
	uint8_t payload[200];
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	(void)arg;
	assert_true(s >= 0);
	for (unsigned i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 13);
	inet_pton(AF_INET, "10.77.0.1", &a.sin_addr);   /* the guest */
	assert_int_equal(sendto(s, payload, sizeof(payload), 0,
				(struct sockaddr *)&a, sizeof(a)),
			 (ssize_t)sizeof(payload));
	close(s);
	return 0;
}

/* The UDP checksum of an IPv4 frame f folds to 0xffff when complete. */
static uint16_t udp4_fold(const uint8_t *f, uint32_t len)
{
	const uint8_t *ip = f + 14, *udp = ip + (ip[0] & 15) * 4;
	uint32_t ulen = get_be16(udp + 4);
	uint64_t sum = csum_bytes(0, ip + 12, 8);

	assert_true(udp + ulen <= f + len);
	sum += csum_be16(17) + csum_be16((uint16_t)ulen);
	return csum_fold(csum_bytes(sum, udp, ulen));
}

/*
 * A datagram from NS's kernel stack: the stack leaves the UDP checksum to
 * veth's "hardware" (CHECKSUM_PARTIAL: only the pseudo-header sum in the
 * field) and veth passes the skb on as it is, so AF_XDP on NEAR gets a
 * frame no receiver would accept.  The port marks it NEEDS_CSUM; a guest
 * without GUEST_CSUM gets it completed by the datapath...
 */
#define NUDP 16u

static void test_kernel_udp_checksum_completed(void **state)
{
	static struct got r;

	(void)state;
	guest_live(FEATURES);
	for (unsigned i = 0; i < NUDP; i++)
		in_ns(send_udp, NULL);
	assert_int_equal(guest_recv(&r, NUDP, 0x0800), NUDP);
	for (unsigned i = 0; i < NUDP; i++) {
		assert_int_equal(r.hdr[i].flags, 0);
		assert_int_equal(udp4_fold(r.data[i], r.len[i]), 0xffff);
	}
}

/* ...and one with GUEST_CSUM gets the partial checksum, marked. */
static void test_kernel_udp_checksum_passed(void **state)
{
	static struct got r;

	(void)state;
	guest_live(FEATURES | BIT_ULL(VIRTIO_NET_F_GUEST_CSUM));
	for (unsigned i = 0; i < NUDP; i++)
		in_ns(send_udp, NULL);
	assert_int_equal(guest_recv(&r, NUDP, 0x0800), NUDP);
	for (unsigned i = 0; i < NUDP; i++) {
		assert_int_equal(r.hdr[i].flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
		assert_int_equal(r.hdr[i].csum_start, 14 + 20);
		assert_int_equal(r.hdr[i].csum_offset, 6);
		assert_int_not_equal(udp4_fold(r.data[i], r.len[i]), 0xffff);
	}
}

/* Every NIC queue has its socket and its counters. */
static void test_every_queue_counted(void **state)
{
	(void)state;
	for (unsigned q = 0; q < queues; q++) {
		assert_int_not_equal(port_stat(q, "rx_packets"), UINT64_MAX);
		assert_int_not_equal(port_stat(q, "rx_fill_ring_empty_descs"),
				     UINT64_MAX);
	}
	assert_int_equal(port_stat(queues, "rx_packets"), UINT64_MAX);
	/* 2 x NUDP flows went to the guest: some on every queue. */
	for (unsigned q = 0; q < queues; q++)
		assert_true(port_stat(q, "rx_packets") > 0);
}

static int group_setup(void **state)
{
	static char spec[96];

	(void)state;
	snprintf(spec, sizeof(spec), "n=afxdp:%s,queues=%u", near_if, queues);
	if (tdaemon_start(&td, (const char *const[]){"g", NULL},
			  (char *const[]){"--port", spec, "--link", "g=n",
					  NULL}) < 0)
		return -1;
	psock = in_ns(open_packet_socket, NULL);
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[300];

	(void)state;
	close(psock);
	if (getenv("AFXDP_TEST_STATS")) {   /* debugging: the counters */
		snprintf(cmd, sizeof(cmd), "%s %s stats", td.ctl_bin, td.ctl);
		(void)!system(cmd);
	}
	return tdaemon_stop(&td);
}

static int test_teardown(void **state)
{
	(void)state;
	guest_gone();
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_guest_to_wire, test_teardown),
		cmocka_unit_test_teardown(test_wire_to_guest, test_teardown),
		cmocka_unit_test_teardown(
			test_4gib_chain_is_dropped_before_the_port,
			test_teardown),
		cmocka_unit_test_teardown(test_kernel_udp_checksum_completed,
					  test_teardown),
		cmocka_unit_test_teardown(test_kernel_udp_checksum_passed,
					  test_teardown),
		cmocka_unit_test(test_every_queue_counted),
	};

	if (argc < 7 || tdaemon_args(&td, argc, argv) < 0) {
		fprintf(stderr, "usage: %s VHOSTD VHOSTCTL NS NEAR FAR QUEUES\n",
			argv[0]);
		return 2;
	}
	(void)recv_frames;   /* guest_util's: our frames need a filter, */
	(void)guest_up;      /* our guest one pair per NIC queue */
	/* A packet socket sends on the queue of the CPU it runs on: one CPU,
	 * one queue, frames in order. */
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	sched_setaffinity(0, sizeof(one), &one);
	ns = argv[3];
	near_if = argv[4];
	far_if = argv[5];
	queues = (unsigned)atoi(argv[6]);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
