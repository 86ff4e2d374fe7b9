/* SPDX-License-Identifier: MIT */
/*
 * vu-idle-lat: the latency of the first frame after a quiet spell, through
 * a back-end that sends every frame back (vhostd --reflect).
 *
 * It plays one guest (split rings, one queue pair, memfd memory): COUNT
 * times, it stays silent for QUIET ms (no frame, no kick, its RX ring full
 * of buffers), then sends one 64-byte frame and spins on its RX ring until
 * the frame is back; the time from just before the TX commit (which kicks
 * if the back-end asked for kicks) to the frame's arrival is one sample.
 * Prints p50, p90, p99 and the largest, in microseconds, and one RESULT
 * line.
 * With --count 1 --quiet-ms N it is also a guest that stays attached and
 * idle for N ms (perf/bench_idle.sh measures vhostd's CPU meanwhile).
 *
 * Exit 0 when every frame came back within 2 s, 1 otherwise, 2 on bad
 * usage.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control/frontend/vu_drv.h"
#include "control/frontend/vu_front.h"
#include "control/frontend/vu_guestmem.h"
#include "control/wire/vu_proto.h"
#include "datapath/log.h"

#define LAT_MAX 100000u
#define BACK_MS 2000

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void on_rx(void *arg, const struct vu_drv_rx_pkt *pkt)
{
	(void)pkt;
	(*(unsigned *)arg)++;
}

/* One quiet spell, one frame; the sample in ns, or 0: it never came. */
static uint64_t one(struct vu_drv *d, unsigned quiet_ms, unsigned seq)
{
	uint8_t *slot;
	uint32_t len = 60;
	unsigned got = 0;

	sleep_ms(quiet_ms);
	if (vu_drv_tx_reserve(d, &slot, 1) != 1)
		return 0;
	memset(slot, 0xff, 6);                         /* broadcast */
	memcpy(slot + 6, (uint8_t[]){0x52, 0x54, 0, 0, 0, 1}, 6);
	slot[12] = 0x88;                               /* local experimental */
	slot[13] = 0xb5;
	memset(slot + 14, (int)(seq & 0xff), len - 14);
	memset(vu_drv_tx_hdr(d, slot), 0, sizeof(struct virtio_net_hdr));
	uint64_t t0 = now_ns();
	if (vu_drv_tx_commit(d, &len, 1) != 1)
		return 0;
	while (got == 0 && now_ns() - t0 < BACK_MS * 1000000ull)
		(void)vu_drv_rx_poll(d, 1, on_rx, &got);
	return got ? now_ns() - t0 : 0;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: vu-idle-lat [--quiet-ms N] [--count K] "
		"[--event-idx] [--core C] [--label L] SOCKET\n"
		"  --quiet-ms N   silence before each frame (default 100)\n"
		"  --count K      frames (default 50, at most %u)\n"
		"  --event-idx    negotiate VIRTIO_RING_F_EVENT_IDX\n"
		"  --core C       pin to CPU C\n"
		"  --label L      label for the RESULT line\n", LAT_MAX);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"quiet-ms", required_argument, NULL, 'q'},
		{"count", required_argument, NULL, 'n'},
		{"event-idx", no_argument, NULL, 'e'},
		{"core", required_argument, NULL, 'c'},
		{"label", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	unsigned quiet = 100, count = 50;
	int core = -1, c;
	const char *label = "-";
	uint64_t features = BIT_ULL(VIRTIO_F_VERSION_1) |
			    BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES);

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		char *end = NULL;
		switch (c) {
		case 'q': quiet = (unsigned)strtoul(optarg, &end, 10); break;
		case 'n': count = (unsigned)strtoul(optarg, &end, 10); break;
		case 'c': core = (int)strtol(optarg, &end, 10); break;
		case 'e': features |= BIT_ULL(VIRTIO_RING_F_EVENT_IDX); break;
		case 'l': label = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (end && (*end || end == optarg)) {
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1 || count == 0 || count > LAT_MAX ||
	    quiet > 3600000) {
		usage(stderr);
		return 2;
	}
	vlog_set_level(VLOG_LVL_WARN);
	if (core >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(core, &set);
		(void)sched_setaffinity(0, sizeof(set), &set);
	}
	struct vu_front *f;
	struct vu_drv *d;
	struct vu_guestmem_opts mo = {.size = 16u << 20, .nregions = 1,
				      .backing = VU_GUESTMEM_MEMFD};
	if (vu_front_connect(&f, argv[optind], 5000, 5000) < 0 ||
	    vu_front_negotiate(f, features, VU_FRONT_PROTOCOL_DEFAULT) < 0 ||
	    vu_front_mem_init(f, &mo) < 0 || vu_front_set_mem_table(f) < 0 ||
	    vu_front_setup_queues(f, 1, 256) < 0 ||
	    vu_drv_create(&d, f, &(struct vu_drv_opts){.pair = 0}) < 0) {
		fprintf(stderr, "vu-idle-lat: cannot set up a guest on %s\n",
			argv[optind]);
		return 1;
	}
	uint64_t *lat = calloc(count, sizeof(*lat));
	unsigned lost = 0;
	for (unsigned i = 0; lat && i < count; i++)
		if ((lat[i] = one(d, quiet, i)) == 0)
			lost++;
	if (!lat)
		return 1;
	qsort(lat, count, sizeof(*lat), cmp_u64);
	/* Lost frames sort first (0): percentiles over those that came. */
	uint64_t *ok = lat + lost;
	unsigned n = count - lost;
	double p50 = n ? ok[n / 2] / 1e3 : 0, p90 = n ? ok[(n * 9) / 10] / 1e3 : 0;
	double p99 = n ? ok[(n * 99) / 100] / 1e3 : 0, mx = n ? ok[n - 1] / 1e3 : 0;
	printf("first frame after %u ms quiet: p50 %.1f us, p90 %.1f us, p99 "
	       "%.1f us, max %.1f us (%u frames, %u lost)\n", quiet, p50, p90,
	       p99, mx, count, lost);
	printf("RESULT label=%s quiet_ms=%u count=%u lost=%u p50_us=%.1f "
	       "p90_us=%.1f p99_us=%.1f max_us=%.1f\n", label, quiet, count,
	       lost, p50, p90, p99, mx);
	free(lat);
	vu_drv_destroy(d);
	vu_front_close(f);
	return lost ? 1 : 0;
}
