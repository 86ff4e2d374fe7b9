/* SPDX-License-Identifier: MIT */
/*
 * vu-tap: a guest made of a kernel tap device.  Connects to a vhost-user
 * back-end as its front-end (control/frontend/vu_front.h), drives the rings with
 * vu_drv, and moves frames between them and a tap device: what the kernel
 * sends out of the tap goes onto the TX ring, what the back-end puts on the
 * RX ring is written into the tap.  So the tap's network stack (run it in
 * a namespace) is the guest's: ping, TCP, offloads, all real.
 *
 *   vu-tap --socket SOCK --tap NAME [--queues N] [--ring N] [--offloads]
 *          [--mrg] [--timeout-ms N]
 *
 * --offloads negotiates CSUM, GUEST_CSUM, HOST_TSO4/6 and GUEST_TSO4/6 and
 * lets the kernel hand the tap partial checksums and 64 KiB TCP frames
 * (TUNSETOFFLOAD), which travel as the virtio-net header says; without it
 * every frame is complete.  --queues N opens N tap queues (IFF_MULTI_QUEUE)
 * on N queue pairs.  Prints "vu-tap: ready" once the rings run, then
 * forwards until SIGTERM/SIGINT and prints its counters.  A test tool: it
 * polls with a short sleep when idle, it does not aim at speed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../../control/frontend/vu_drv.h"
#include "../../control/frontend/vu_front.h"

#define MAX_QUEUES 8
#define BURST 32
#define HDR_LEN 12

struct opts {
	const char *socket, *tap;
	uint32_t queues, ring;
	bool offloads, mrg;
	int timeout_ms;
};

struct queue {
	int fd;
	struct vu_drv *drv;
	uint64_t to_ring, to_tap, tap_write_errors;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: vu-tap --socket SOCK --tap NAME [--queues N] "
		"[--ring N] [--offloads] [--mrg] [--timeout-ms N]\n");
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"socket", required_argument, NULL, 's'},
		{"tap", required_argument, NULL, 't'},
		{"queues", required_argument, NULL, 'q'},
		{"ring", required_argument, NULL, 'r'},
		{"offloads", no_argument, NULL, 'o'},
		{"mrg", no_argument, NULL, 'm'},
		{"timeout-ms", required_argument, NULL, 'T'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	*o = (struct opts){.queues = 1, .ring = 256, .timeout_ms = 5000};
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 's': o->socket = optarg; break;
		case 't': o->tap = optarg; break;
		case 'q': o->queues = (uint32_t)atoi(optarg); break;
		case 'r': o->ring = (uint32_t)atoi(optarg); break;
		case 'o': o->offloads = true; break;
		case 'm': o->mrg = true; break;
		case 'T': o->timeout_ms = atoi(optarg); break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -EINVAL;
		}
	}
	if (!o->socket || !o->tap || strlen(o->tap) >= IFNAMSIZ ||
	    o->queues < 1 || o->queues > MAX_QUEUES || o->ring < 2 ||
	    o->ring > 32768 || (o->ring & (o->ring - 1))) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

/* One queue of tap o->tap, non-blocking, with a 12-byte virtio-net
 * header on every frame. */
static int tap_open(const struct opts *o)
{
	struct ifreq ifr = {0};
	int hdr = HDR_LEN, fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	unsigned int ofl = o->offloads ? TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 :
			   0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", o->tap);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR |
			(o->queues > 1 ? IFF_MULTI_QUEUE : 0);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 ||
	    ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 ||
	    ioctl(fd, TUNSETOFFLOAD, ofl) < 0 ||
	    fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static uint64_t features(const struct opts *o)
{
	uint64_t f = BIT_ULL(VIRTIO_F_VERSION_1) |
		     BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES);

	if (o->queues > 1)
		f |= BIT_ULL(VIRTIO_NET_F_MQ);
	if (o->mrg)
		f |= BIT_ULL(VIRTIO_NET_F_MRG_RXBUF);
	if (o->offloads)
		f |= BIT_ULL(VIRTIO_NET_F_CSUM) |
		     BIT_ULL(VIRTIO_NET_F_GUEST_CSUM) |
		     BIT_ULL(VIRTIO_NET_F_HOST_TSO4) |
		     BIT_ULL(VIRTIO_NET_F_HOST_TSO6) |
		     BIT_ULL(VIRTIO_NET_F_GUEST_TSO4) |
		     BIT_ULL(VIRTIO_NET_F_GUEST_TSO6);
	return f;
}

/* Sizes: TX slots take a whole GSO frame with offloads; RX buffers hold
 * one (without MRG_RXBUF the spec wants 65562-byte buffers for GUEST_TSO)
 * or are 2 KiB mergeable ones. */
static uint32_t tx_frame(const struct opts *o)
{
	return o->offloads ? VU_DRV_TX_FRAME_MAX : VU_DRV_FRAME_MAX;
}

static uint32_t rx_buf(const struct opts *o)
{
	if (o->mrg)
		return 2048;
	return HDR_LEN + (o->offloads ? VU_DRV_TX_FRAME_MAX : VU_DRV_FRAME_MAX);
}

static int setup(const struct opts *o, struct vu_front **fp, struct queue *q)
{
	uint64_t per_q = (uint64_t)o->ring * (tx_frame(o) + HDR_LEN + 64 +
					      rx_buf(o) + 64 + 64);
	struct vu_guestmem_opts mo = {
		.size = (o->queues * per_q + (4u << 20)) & ~((1ull << 20) - 1),
		.nregions = 1, .backing = VU_GUESTMEM_MEMFD,
	};
	uint64_t want = features(o);
	int err = vu_front_connect(fp, o->socket, o->timeout_ms,
				   o->timeout_ms);

	if (!err)
		err = vu_front_negotiate(*fp, want, VU_FRONT_PROTOCOL_DEFAULT);
	if (!err && (vu_front_features_acked(*fp) & want) != want) {
		fprintf(stderr, "vu-tap: back-end offers 0x%llx, we need "
			"0x%llx\n", (unsigned long long)
			vu_front_features_offered(*fp),
			(unsigned long long)want);
		return -ENOTSUP;
	}
	if (!err)
		err = vu_front_mem_init(*fp, &mo);
	if (!err)
		err = vu_front_set_mem_table(*fp);
	if (!err)
		err = vu_front_setup_queues(*fp, o->queues, o->ring);
	for (uint32_t i = 0; !err && i < o->queues; i++) {
		struct vu_drv_opts d = {.pair = i, .rx_buf_size = rx_buf(o),
					.tx_frame_max = tx_frame(o)};
		err = vu_drv_create(&q[i].drv, *fp, &d);
	}
	return err;
}

/* Frames the kernel sent out of the tap go onto the TX ring, read
 * straight into the slots (header included). */
static unsigned int tap_to_ring(struct queue *q, uint32_t frame_max)
{
	uint8_t *fr[BURST];
	uint32_t lens[BURST];
	unsigned int n = vu_drv_tx_reserve(q->drv, fr, BURST), k = 0;

	while (k < n) {
		uint8_t *h = (uint8_t *)vu_drv_tx_hdr(q->drv, fr[k]);
		ssize_t r = read(q->fd, h, HDR_LEN + frame_max);
		if (r <= HDR_LEN)
			break;
		/* The kernel writes 10 bytes and skips the other 2. */
		memset(h + 10, 0, 2);
		lens[k++] = (uint32_t)r - HDR_LEN;
	}
	if (vu_drv_tx_commit(q->drv, lens, k) < 0)
		return 0;
	q->to_ring += k;
	return k;
}

static void ring_to_tap(void *arg, const struct vu_drv_rx_pkt *p)
{
	struct queue *q = arg;
	struct iovec iov[1 + VU_DRV_RX_MAX_SEGS];
	struct virtio_net_hdr h = p->hdr;

	h.num_buffers = 0;
	iov[0] = (struct iovec){&h, HDR_LEN};
	for (uint32_t i = 0; i < p->nsegs; i++)
		iov[1 + i] = (struct iovec){(void *)p->seg[i].data,
					    p->seg[i].len};
	if (writev(q->fd, iov, (int)(1 + p->nsegs)) < 0)
		q->tap_write_errors++;
	else
		q->to_tap++;
}

static void run(const struct opts *o, struct queue *q)
{
	struct pollfd pfd[MAX_QUEUES];
	unsigned int idle = 0;

	for (uint32_t i = 0; i < o->queues; i++)
		pfd[i] = (struct pollfd){.fd = q[i].fd, .events = POLLIN};
	while (!stop) {
		unsigned int moved = 0;
		for (uint32_t i = 0; i < o->queues; i++) {
			moved += vu_drv_rx_poll(q[i].drv, BURST, ring_to_tap,
						&q[i]);
			moved += tap_to_ring(&q[i], tx_frame(o));
			vu_drv_tx_reclaim(q[i].drv);
			if (vu_drv_broken(q[i].drv)) {
				fprintf(stderr, "vu-tap: queue pair %u: the "
					"back-end broke the rings\n", i);
				return;
			}
		}
		/* Idle: wait for the tap, and look at the RX ring again
		 * within 200 us (no call is asked for). */
		if (moved)
			idle = 0;
		else if (++idle > 64 && poll(pfd, o->queues, 0) == 0)
			usleep(200);
	}
}

int main(int argc, char **argv)
{
	struct opts o;
	struct queue q[MAX_QUEUES] = {0};
	struct vu_front *f = NULL;
	int err = parse(argc, argv, &o);

	if (err)
		return 2;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	for (uint32_t i = 0; i < o.queues; i++) {
		q[i].fd = tap_open(&o);
		if (q[i].fd < 0) {
			fprintf(stderr, "vu-tap: tap %s queue %u: %s\n", o.tap,
				i, strerror(-q[i].fd));
			return 1;
		}
	}
	err = setup(&o, &f, q);
	if (err) {
		fprintf(stderr, "vu-tap: set-up with %s failed: %s\n",
			o.socket, strerror(-err));
		vu_front_close(f);
		return 1;
	}
	printf("vu-tap: ready: tap %s, %u queue pair(s), features 0x%llx\n",
	       o.tap, o.queues,
	       (unsigned long long)vu_front_features_acked(f));
	fflush(stdout);
	run(&o, q);
	for (uint32_t i = 0; i < o.queues; i++) {
		struct vu_drv_stats st;
		vu_drv_stats(q[i].drv, &st);
		printf("vu-tap: queue %u: to_ring=%llu to_tap=%llu "
		       "tap_write_errors=%llu rx_dropped=%llu broken=%d\n", i,
		       (unsigned long long)q[i].to_ring,
		       (unsigned long long)q[i].to_tap,
		       (unsigned long long)q[i].tap_write_errors,
		       (unsigned long long)st.rx_dropped,
		       vu_drv_broken(q[i].drv));
		vu_drv_destroy(q[i].drv);
		close(q[i].fd);
	}
	vu_front_close(f);
	return 0;
}
