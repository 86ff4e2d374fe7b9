/* SPDX-License-Identifier: MIT */
/*
 * vu-gen: traffic generator against any vhost-user back-end (vhostd,
 * DPDK's net_vhost, ...), playing the VM's virtio-net driver.  See gen.h
 * for the frame format and what is checked, --help for the options.
 *
 * Exit 0 when the run completed (read the RESULT line for loss and bad
 * frames), 1 when it could not run (bad values included) or the back-end
 * broke a ring, 2 on bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datapath/log.h"
#include "gen.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vu-gen [options] SOCKET\n"
		"  --server          listen on SOCKET, accept a client back-end\n"
		"  --backend NAME    label for the RESULT line\n"
		"  --queues N        queue pairs (default 1)\n"
		"  --ring N          ring size (default 256)\n"
		"  --size N          frame bytes without FCS, 64..2048 "
		"(default 64)\n"
		"  --burst N         frames per TX burst, 1..64 (default 32)\n"
		"  --duration S      measuring window in seconds (default 5)\n"
		"  --rate-mpps R     TX limit over all queue pairs "
		"(default: none)\n"
		"  --drain-ms N      wait for stragglers after the window "
		"(default 200)\n"
		"  --warmup-ms N     wait at most this for a first frame back "
		"(default 2000)\n"
		"  --mrg-rxbuf       negotiate VIRTIO_NET_F_MRG_RXBUF\n"
		"  --event-idx       negotiate VIRTIO_RING_F_EVENT_IDX\n"
		"  --tx-chain        TX frames as 2 descriptors (header, frame)\n"
		"  --rx-buf N        RX buffer bytes incl. the 12 B header "
		"(default 2060)\n"
		"  --verify-full     compare every payload byte (default: the "
		"headers and the last 8)\n"
		"  --core N          pin to CPU N\n"
		"  --mem-mb N        guest memory (default: what it needs)\n"
		"  --hugepages       guest memory from memfd MFD_HUGETLB\n"
		"  --timeout MS      connect and per-message timeout "
		"(default 5000)\n"
		"  --tx-inflight N   most frames on a TX ring (default: what RX "
		"can take back\n"
		"                    besides 2 bursts; 'max': the whole ring)\n"
		"  --window N        at most N frames sent and not back yet, per "
		"pair\n"
		"                    (lossless checks through a back-end that "
		"queues)\n"
		"  --log-level L     err|warn|info|debug (default warn)\n");
}

static int parse_num(const char *s, double max, double *out)
{
	char *end;

	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || end == s || v < 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse(int argc, char **argv, struct gen_opts *o)
{
	static const struct option lo[] = {
		{"server", no_argument, NULL, 'S'},
		{"backend", required_argument, NULL, 'b'},
		{"queues", required_argument, NULL, 'q'},
		{"ring", required_argument, NULL, 'r'},
		{"size", required_argument, NULL, 's'},
		{"burst", required_argument, NULL, 'B'},
		{"duration", required_argument, NULL, 'd'},
		{"rate-mpps", required_argument, NULL, 'R'},
		{"drain-ms", required_argument, NULL, 'D'},
		{"warmup-ms", required_argument, NULL, 'W'},
		{"mrg-rxbuf", no_argument, NULL, 'M'},
		{"event-idx", no_argument, NULL, 'E'},
		{"tx-chain", no_argument, NULL, 'C'},
		{"rx-buf", required_argument, NULL, 'x'},
		{"verify-full", no_argument, NULL, 'V'},
		{"core", required_argument, NULL, 'c'},
		{"mem-mb", required_argument, NULL, 'm'},
		{"hugepages", no_argument, NULL, 'H'},
		{"timeout", required_argument, NULL, 't'},
		{"tx-inflight", required_argument, NULL, 'I'},
		{"window", required_argument, NULL, 'w'},
		{"log-level", required_argument, NULL, 'L'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	enum vlog_level lvl = VLOG_LVL_WARN;
	double v = 0;
	int c;

	gen_opts_default(o);
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (strchr("qrsBdRDWxcmtw", c) && parse_num(optarg, 1e9, &v)) {
			fprintf(stderr, "vu-gen: bad number '%s'\n", optarg);
			return -1;
		}
		switch (c) {
		case 'S': o->server = true; break;
		case 'b': o->backend = optarg; break;
		case 'q': o->pairs = (uint32_t)v; break;
		case 'r': o->ring = (uint32_t)v; break;
		case 's': o->size = (uint32_t)v; break;
		case 'B': o->burst = (uint32_t)v; break;
		case 'd': o->duration_s = v; break;
		case 'R': o->rate_mpps = v; break;
		case 'D': o->drain_ms = (uint32_t)v; break;
		case 'W': o->warmup_ms = (uint32_t)v; break;
		case 'M': o->mrg_rxbuf = true; break;
		case 'E': o->event_idx = true; break;
		case 'C': o->tx_chain = true; break;
		case 'x': o->rx_buf = (uint32_t)v; break;
		case 'V': o->verify_full = true; break;
		case 'c': o->core = (int)v; break;
		case 'm': o->mem_mb = (uint32_t)v; break;
		case 'H': o->huge = true; break;
		case 't': o->timeout_ms = (int)v; break;
		case 'w': o->window = (uint32_t)v; break;
		case 'I':
			if (!strcmp(optarg, "max")) {
				o->tx_inflight = UINT32_MAX;
			} else if (parse_num(optarg, 65536, &v) || v < 1) {
				fprintf(stderr, "vu-gen: bad --tx-inflight '%s'\n",
					optarg);
				return -1;
			} else {
				o->tx_inflight = (uint32_t)v;
			}
			break;
		case 'L':
			if (vlog_parse_level(optarg, &lvl) < 0) {
				fprintf(stderr, "vu-gen: bad log level '%s'\n",
					optarg);
				return -1;
			}
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -1;
		}
	}
	vlog_set_level(lvl);
	if (optind != argc - 1) {
		usage(stderr);
		return -1;
	}
	o->socket = argv[optind];
	return 0;
}

int main(int argc, char **argv)
{
	struct gen_opts o;
	struct gen_result r;

	int p = parse(argc, argv, &o);
	if (p)
		return p > 0 ? 0 : 2;
	int err = gen_run(&o, &r);
	if (r.secs > 0)
		gen_report(stdout, &o, &r);
	if (err) {
		fprintf(stderr, "vu-gen: run failed: %s\n", strerror(-err));
		return 1;
	}
	return 0;
}
