/* SPDX-License-Identifier: MIT */
/*
 * vhostd-gen: the built-in traffic generator and vhostd's main job on an
 * embedded default.  It starts a vhostd of its own (reflecting port gen0),
 * plays the VMM over a unix socket with memfd "guest" memory, and reports
 * what it measured.  Until the datapath exists it measures the control
 * plane: a complete handshake (negotiation, memory table, every ring of N
 * queue pairs set up, started and stopped again).
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "control/vu_front.h"

struct gen_opts {
	char vhostd[PATH_MAX];
	uint32_t queues, ring, mem_mb;
	bool huge;
};

static const char *const feature_names[64] = {
	[VIRTIO_NET_F_CSUM] = "CSUM", [VIRTIO_NET_F_MTU] = "MTU",
	[VIRTIO_NET_F_MAC] = "MAC", [VIRTIO_NET_F_MRG_RXBUF] = "MRG_RXBUF",
	[VIRTIO_NET_F_STATUS] = "STATUS", [VIRTIO_NET_F_MQ] = "MQ",
	[VHOST_F_LOG_ALL] = "LOG_ALL",
	[VIRTIO_RING_F_INDIRECT_DESC] = "INDIRECT_DESC",
	[VIRTIO_RING_F_EVENT_IDX] = "EVENT_IDX",
	[VHOST_USER_F_PROTOCOL_FEATURES] = "PROTOCOL_FEATURES",
	[VIRTIO_F_VERSION_1] = "VERSION_1",
	[VIRTIO_F_RING_PACKED] = "RING_PACKED", [VIRTIO_F_IN_ORDER] = "IN_ORDER",
};
static const char *const protocol_names[64] = {
	"MQ", "LOG_SHMFD", "RARP", "REPLY_ACK", "MTU", "BACKEND_REQ",
	"CROSS_ENDIAN", "CRYPTO_SESSION", "PAGEFAULT", "CONFIG",
	"BACKEND_SEND_FD", "HOST_NOTIFIER", "INFLIGHT_SHMFD", "RESET_DEVICE",
	"INBAND_NOTIFICATIONS", "CONFIGURE_MEM_SLOTS", "STATUS",
};

static void print_bits(const char *what, uint64_t v,
		       const char *const names[64])
{
	printf("  %-18s 0x%09llx:", what, (unsigned long long)v);
	for (int b = 0; b < 64; b++)
		if (v & BIT_ULL(b))
			printf(" %s", names[b] ? names[b] : "?");
	printf("\n");
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* vhostd next to us in the build tree (perf/ -> control/vhostd). */
static void default_vhostd(char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	self[n > 0 ? n : 0] = '\0';
	snprintf(out, len, "%s/../control/vhostd", dirname(self));
}

static int parse(int argc, char **argv, struct gen_opts *o)
{
	static const struct option lo[] = {
		{"vhostd", required_argument, NULL, 'v'},
		{"queues", required_argument, NULL, 'q'},
		{"ring", required_argument, NULL, 'r'},
		{"mem-mb", required_argument, NULL, 'm'},
		{"hugepages", no_argument, NULL, 'H'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	int c;

	*o = (struct gen_opts){.queues = 1, .ring = 256, .mem_mb = 64};
	default_vhostd(o->vhostd, sizeof(o->vhostd));
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'v': snprintf(o->vhostd, sizeof(o->vhostd), "%s", optarg);
			  break;
		case 'q': o->queues = (uint32_t)atoi(optarg); break;
		case 'r': o->ring = (uint32_t)atoi(optarg); break;
		case 'm': o->mem_mb = (uint32_t)atoi(optarg); break;
		case 'H': o->huge = true; break;
		default:
			printf("usage: vhostd-gen [--vhostd PATH] [--queues N] "
			       "[--ring N] [--mem-mb N] [--hugepages]\n");
			return c == 'h' ? 1 : -1;
		}
	}
	if (o->queues < 1 || o->queues > 128 || o->mem_mb < 4) {
		fprintf(stderr, "vhostd-gen: --queues 1..128, --mem-mb >= 4\n");
		return -1;
	}
	return 0;
}

static pid_t start_vhostd(const struct gen_opts *o, const char *sock)
{
	char port[PATH_MAX + 16];
	snprintf(port, sizeof(port), "gen0=vhost:%s", sock);
	pid_t pid = fork();

	if (pid == 0) {
		execl(o->vhostd, o->vhostd, "--port", port, "--reflect", "gen0",
		      "--log-level", "warn", (char *)NULL);
		fprintf(stderr, "vhostd-gen: cannot run %s: %s\n", o->vhostd,
			strerror(errno));
		_exit(127);
	}
	return pid;
}

static int handshake(struct vu_front *f, const struct gen_opts *o)
{
	struct vu_guestmem_opts mo = {
		.size = (uint64_t)o->mem_mb << 20, .nregions = 1,
		.backing = o->huge ? VU_GUESTMEM_MEMFD_HUGE : VU_GUESTMEM_MEMFD,
	};
	int err = vu_front_negotiate(f, ~0ULL, ~0ULL);

	if (!err)
		err = vu_front_mem_init(f, &mo);
	if (!err)
		err = vu_front_set_mem_table(f);
	if (!err)
		err = vu_front_setup_queues(f, o->queues, o->ring);
	for (uint32_t i = 0; !err && i < 2 * o->queues; i++) {
		uint32_t base;
		err = vu_front_vring_stop(f, i, &base);
		if (!err && base != 0)
			err = -EPROTO;
	}
	return err;
}

static int run(const struct gen_opts *o, const char *sock, pid_t pid)
{
	struct vu_front *f = NULL;
	int err = vu_front_connect(&f, sock, 5000, 5000);

	if (err) {
		fprintf(stderr, "vhostd-gen: cannot reach vhostd: %s\n",
			strerror(-err));
		return err;
	}
	double t0 = now_ms();
	err = handshake(f, o);
	double t1 = now_ms();
	if (err) {
		fprintf(stderr, "vhostd-gen: handshake failed: %s\n",
			strerror(-err));
		vu_front_close(f);
		return err;
	}
	printf("vhostd-gen: vhostd (pid %d) on %s\n", (int)pid, sock);
	print_bits("features offered", vu_front_features_offered(f),
		   feature_names);
	print_bits("features acked", vu_front_features_acked(f), feature_names);
	print_bits("protocol acked", vu_front_protocol_acked(f),
		   protocol_names);
	printf("  queue pairs        %u of %llu offered, ring size %u\n",
	       o->queues, (unsigned long long)vu_front_queue_num(f), o->ring);
	printf("  guest memory       %u MiB %s, memory slots %llu\n",
	       o->mem_mb, o->huge ? "memfd hugetlb" : "memfd",
	       (unsigned long long)vu_front_max_mem_slots(f));
	printf("  handshake          complete in %.2f ms: negotiated, memory "
	       "mapped, %u rings started and stopped\n", t1 - t0,
	       2 * o->queues);
	printf("  traffic            none yet: this vhostd has no datapath; "
	       "Mpps and cycles/packet come with it\n");
	vu_front_close(f);
	return 0;
}

int main(int argc, char **argv)
{
	struct gen_opts o;
	char dir[] = "/tmp/vhostd-gen.XXXXXX", sock[PATH_MAX];
	int status = 0;

	int p = parse(argc, argv, &o);
	if (p)
		return p > 0 ? 0 : 2;
	if (!mkdtemp(dir))
		return 1;
	snprintf(sock, sizeof(sock), "%s/gen0.sock", dir);
	pid_t pid = start_vhostd(&o, sock);
	if (pid < 0)
		return 1;
	int err = run(&o, sock, pid);
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	rmdir(dir);
	if (!err && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		fprintf(stderr, "vhostd-gen: vhostd exited badly\n");
		return 1;
	}
	return err ? 1 : 0;
}
