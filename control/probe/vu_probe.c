/* SPDX-License-Identifier: MIT */
/*
 * vu_probe.c: vu-probe SOCKET, a conformance probe for vhost-user-net
 * back-ends (see probe.h and control/README.md).  Exit status: 0 every
 * verdict ok or refused as documented, 1 a bad verdict, 2 no back-end or
 * a bad command line.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../datapath/log.h"
#include "probe.h"

#define WANT_FEATURES                                                       \
	(BIT_ULL(VIRTIO_F_VERSION_1) | BIT_ULL(VIRTIO_NET_F_MRG_RXBUF) |    \
	 BIT_ULL(VIRTIO_NET_F_MQ) | BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES) | \
	 BIT_ULL(VIRTIO_NET_F_MTU) | BIT_ULL(VIRTIO_NET_F_MAC) |            \
	 BIT_ULL(VIRTIO_NET_F_STATUS))
#define WANT_PROTOCOL                                                       \
	(BIT_ULL(VU_PROTOCOL_F_MQ) | BIT_ULL(VU_PROTOCOL_F_LOG_SHMFD) |     \
	 BIT_ULL(VU_PROTOCOL_F_RARP) | BIT_ULL(VU_PROTOCOL_F_REPLY_ACK) |   \
	 BIT_ULL(VU_PROTOCOL_F_MTU) | BIT_ULL(VU_PROTOCOL_F_BACKEND_REQ) |  \
	 BIT_ULL(VU_PROTOCOL_F_CONFIG) |                                     \
	 BIT_ULL(VU_PROTOCOL_F_RESET_DEVICE) |                               \
	 BIT_ULL(VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS) |                        \
	 BIT_ULL(VU_PROTOCOL_F_STATUS))

static void usage(FILE *out)
{
	fprintf(out,
"usage: vu-probe [options] SOCKET\n"
"Connect to the vhost-user-net back-end listening on SOCKET, negotiate,\n"
"print its features by name, exercise what it offers, send requests it\n"
"did not negotiate and malformed ones, and print one row per check:\n"
"request, check, expected, answered, verdict (ok, refused as documented,\n"
"wrong answer, hang, disconnect, crash).  Exit 1 on a bad verdict.\n"
"  --listen          listen on SOCKET for a back-end in client mode\n"
"  --pid PID         the back-end's pid: a crash is seen when it dies\n"
"  --reflect         the back-end sends frames back: check one frame\n"
"  --hugetlbfs DIR   also share memory from a hugetlbfs mount\n"
"  --timeout MS      wait this long for each answer (default 1000)\n"
"  --connect-timeout MS  for each connection (default 5000)\n"
"  --json            print the results as JSON instead\n"
"  --verbose         the library's log lines on stderr\n");
}

static int parse(struct probe_opts *o, int argc, char **argv, bool *verbose)
{
	static const struct option opts[] = {
		{"listen", no_argument, NULL, 'l'},
		{"pid", required_argument, NULL, 'p'},
		{"reflect", no_argument, NULL, 'r'},
		{"hugetlbfs", required_argument, NULL, 'H'},
		{"timeout", required_argument, NULL, 't'},
		{"connect-timeout", required_argument, NULL, 'c'},
		{"json", no_argument, NULL, 'j'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	char *end;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		long v = 0;
		if (c == 'p' || c == 't' || c == 'c') {
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || v <= 0 || v > 0x7fffffff) {
				fprintf(stderr, "vu-probe: bad number '%s'\n",
					optarg);
				return -EINVAL;
			}
		}
		switch (c) {
		case 'l': o->listen = true; break;
		case 'p': o->pid = (pid_t)v; break;
		case 'r': o->reflect = true; break;
		case 'H': o->hugetlbfs = optarg; break;
		case 't': o->timeout_ms = (int)v; break;
		case 'c': o->connect_ms = (int)v; break;
		case 'j': o->json = true; break;
		case 'v': *verbose = true; break;
		case 'h': usage(stdout); exit(0);
		default: return -EINVAL;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "vu-probe: one SOCKET expected\n");
		return -EINVAL;
	}
	o->path = argv[optind];
	return 0;
}

/* Every check, in an order where each leaves the next a clean slate. */
static void run_checks(struct probe *p)
{
	void (*const steps[])(struct probe *) = {
		probe_memory, probe_rings, probe_reflect, probe_device,
		probe_reset, probe_mem_slots, probe_packed, probe_hugetlbfs,
		probe_not_negotiated, probe_malformed,
	};

	probe_negotiation(p);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		if (p->dead)
			break;
		steps[i](p);
	}
	probe_close(p);
	/* The last word: is it still there? */
	if (!p->dead && probe_need(p, PL_NEGOTIATED) < 0)
		p->dead = true;
	if (p->dead || probe_pid_dead(p))
		probe_record(p, "(back-end)", "alive at the end", "alive",
			     PV_CRASH, "%s", probe_pid_dead(p) ?
			     "its pid is gone" : "no new connection");
	probe_close(p);
}

int main(int argc, char **argv)
{
	static struct probe p; /* large: the results */
	bool verbose = false;
	int ret;

	signal(SIGPIPE, SIG_IGN);
	p.o.timeout_ms = 1000;
	p.o.connect_ms = 5000;
	if (parse(&p.o, argc, argv, &verbose) < 0) {
		usage(stderr);
		return 2;
	}
	vlog_set_level(verbose ? VLOG_LVL_DEBUG : VLOG_LVL_ERR);
	p.want_features = WANT_FEATURES;
	p.want_protocol = WANT_PROTOCOL;
	ret = p.o.listen ? vu_front_accept(&p.f, p.o.path, p.o.connect_ms,
					   p.o.timeout_ms)
			 : vu_front_connect(&p.f, p.o.path, p.o.connect_ms,
					    p.o.timeout_ms);
	if (ret < 0) {
		fprintf(stderr, "vu-probe: no back-end on %s: %s\n", p.o.path,
			strerror(-ret));
		return 2;
	}
	p.sessions = 1;
	run_checks(&p);
	if (p.o.json) {
		if (probe_print_json(&p) < 0)
			return 2;
	} else {
		probe_print_features(&p);
		probe_print_table(&p);
	}
	uint32_t n[PV_CRASH + 1] = {0}, bad = 0;
	for (uint32_t i = 0; i < p.nres; i++) {
		n[p.res[i].verdict]++;
		bad += probe_verdict_bad(p.res[i].verdict);
	}
	fprintf(p.o.json ? stderr : stdout,
		"%u checks: %u ok, %u refused as documented, %u wrong answer, "
		"%u hang, %u disconnect, %u crash (%u sessions)\n", p.nres,
		n[PV_OK], n[PV_REFUSED], n[PV_WRONG], n[PV_HANG],
		n[PV_DISCONNECT], n[PV_CRASH], p.sessions);
	return bad ? 1 : 0;
}
