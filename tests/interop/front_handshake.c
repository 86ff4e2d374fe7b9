/* SPDX-License-Identifier: MIT */
/*
 * front_handshake: drive a vhost-user back-end through the whole
 * front-end handshake with the vu_front library, the way QEMU starts a
 * virtio-net device: negotiate, SET_MEM_TABLE, set up every ring of N
 * queue pairs, then stop each ring with GET_VRING_BASE.
 *
 *   front_handshake [options] SOCKET [QUEUE_PAIRS]
 *
 * Exit 0 when every step succeeded, 1 otherwise (the failing step and its
 * errno are printed), 2 on bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control/frontend/vu_front.h"
#include "datapath/log.h"

struct hs_opts {
	const char *path;
	uint32_t pairs;
	uint32_t ring_size;
	uint32_t regions;
	uint64_t mem_mb;
	int server;          /* listen and accept the back-end */
	int timeout_ms;
	int hold_ms;         /* rings stay up this long before the stop */
	struct vu_guestmem_opts mem;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: front_handshake [options] SOCKET [QUEUE_PAIRS]\n"
		"  --mem-mb N      guest memory size (default 64)\n"
		"  --regions N     split it into N regions (default 1, max 8)\n"
		"  --ring N        ring size (default 256)\n"
		"  --server        listen on SOCKET, accept the back-end\n"
		"  --timeout MS    connect/accept and per-message timeout\n"
		"                  (default 5000)\n"
		"  --hold MS       keep the rings up before stopping them\n"
		"  --huge          memfd with MFD_HUGETLB\n"
		"  --hugetlbfs DIR back the memory with a file in DIR\n"
		"  --debug         library debug log\n");
}

static int parse_u32(const char *s, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || end == s || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int parse_opt(int c, const char *arg, struct hs_opts *o)
{
	uint32_t v = 0;

	if (strchr("mrntH", c) && parse_u32(arg, 1u << 20, &v) < 0)
		return -1;
	switch (c) {
	case 'm':
		o->mem_mb = v;
		return v ? 0 : -1;
	case 'r':
		o->regions = v;
		return v && v <= VU_MEM_TABLE_MAX_REGIONS ? 0 : -1;
	case 'n':
		o->ring_size = v;
		return 0; /* the library refuses sizes that are no power of 2 */
	case 't':
		o->timeout_ms = (int)v;
		return v ? 0 : -1;
	case 'H':
		o->hold_ms = (int)v;
		return 0;
	case 's':
		o->server = 1;
		return 0;
	case 'g':
		o->mem.backing = VU_GUESTMEM_MEMFD_HUGE;
		return 0;
	case 'G':
		o->mem.backing = VU_GUESTMEM_HUGETLBFS;
		o->mem.hugetlbfs_dir = arg;
		return 0;
	case 'd':
		vlog_set_level(VLOG_LVL_DEBUG);
		return 0;
	}
	return -1;
}

static int parse_args(int argc, char **argv, struct hs_opts *o)
{
	static const struct option lo[] = {
		{"mem-mb", required_argument, NULL, 'm'},
		{"regions", required_argument, NULL, 'r'},
		{"ring", required_argument, NULL, 'n'},
		{"server", no_argument, NULL, 's'},
		{"timeout", required_argument, NULL, 't'},
		{"hold", required_argument, NULL, 'H'},
		{"huge", no_argument, NULL, 'g'},
		{"hugetlbfs", required_argument, NULL, 'G'},
		{"debug", no_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	*o = (struct hs_opts){.pairs = 1, .ring_size = 256, .regions = 1,
			      .mem_mb = 64, .timeout_ms = 5000};
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			exit(0);
		}
		if (parse_opt(c, optarg, o) < 0)
			return -1;
	}
	if (optind >= argc || argc - optind > 2)
		return -1;
	o->path = argv[optind];
	if (argc - optind == 2 &&
	    (parse_u32(argv[optind + 1], VU_MAX_QUEUE_PAIRS, &o->pairs) ||
	     !o->pairs))
		return -1;
	o->mem.size = o->mem_mb << 20;
	o->mem.nregions = o->regions;
	o->mem.gpa_base = 0;
	return 0;
}

static int step(const char *what, int ret)
{
	if (ret < 0)
		fprintf(stderr, "front_handshake: %s failed: %s (%d)\n", what,
			strerror(-ret), ret);
	return ret;
}

static int open_front(const struct hs_opts *o, struct vu_front **f)
{
	if (o->server)
		return step("accept",
			    vu_front_accept(f, o->path, o->timeout_ms,
					    o->timeout_ms));
	return step("connect",
		    vu_front_connect(f, o->path, o->timeout_ms, o->timeout_ms));
}

/* Negotiate and check that the back-end can serve o->pairs pairs. */
static int negotiate(struct vu_front *f, const struct hs_opts *o)
{
	int ret = step("negotiate",
		       vu_front_negotiate(f, VU_FRONT_FEATURES_DEFAULT,
					  VU_FRONT_PROTOCOL_DEFAULT));
	if (ret < 0)
		return ret;
	printf("features: offered 0x%016" PRIx64 " acked 0x%016" PRIx64 "\n",
	       vu_front_features_offered(f), vu_front_features_acked(f));
	printf("protocol: offered 0x%016" PRIx64 " acked 0x%016" PRIx64 "\n",
	       vu_front_protocol_offered(f), vu_front_protocol_acked(f));
	printf("queue num %" PRIu64 ", max mem slots %" PRIu64 "\n",
	       vu_front_queue_num(f), vu_front_max_mem_slots(f));
	uint64_t avail = vu_front_has_protocol(f, VU_PROTOCOL_F_MQ)
				 ? vu_front_queue_num(f) : 1;
	if (o->pairs > avail) {
		fprintf(stderr, "front_handshake: %u queue pairs wanted, "
			"back-end serves %" PRIu64 "\n", o->pairs, avail);
		return -ERANGE;
	}
	return 0;
}

static int share_memory(struct vu_front *f, const struct hs_opts *o)
{
	int ret = step("guest memory", vu_front_mem_init(f, &o->mem));

	if (ret == 0)
		ret = step("SET_MEM_TABLE", vu_front_set_mem_table(f));
	if (ret == 0)
		printf("memory: %" PRIu64 " MiB in %u region(s)\n", o->mem_mb,
		       o->regions);
	return ret;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
			      .tv_nsec = (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

static int rings_up_and_down(struct vu_front *f, const struct hs_opts *o)
{
	int ret = step("ring setup",
		       vu_front_setup_queues(f, o->pairs, o->ring_size));

	if (ret < 0)
		return ret;
	printf("rings: %u set up, size %u\n", 2 * o->pairs, o->ring_size);
	if (o->hold_ms)
		sleep_ms(o->hold_ms);
	for (uint32_t i = 0; i < 2 * o->pairs; i++) {
		uint32_t base = 0;
		ret = step("GET_VRING_BASE", vu_front_vring_stop(f, i, &base));
		if (ret < 0)
			return ret;
		printf("ring %u: stopped, base %u\n", i, base);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct hs_opts o;
	struct vu_front *f = NULL;
	int ret;

	if (parse_args(argc, argv, &o) < 0) {
		usage(stderr);
		return 2;
	}
	ret = open_front(&o, &f);
	if (ret == 0)
		ret = negotiate(f, &o);
	if (ret == 0)
		ret = share_memory(f, &o);
	if (ret == 0)
		ret = rings_up_and_down(f, &o);
	vu_front_close(f);
	if (ret < 0)
		return 1;
	printf("OK: %u queue pair(s) negotiated, set up and stopped\n",
	       o.pairs);
	return 0;
}
