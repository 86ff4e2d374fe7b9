/* SPDX-License-Identifier: MIT */
/*
 * vhostd-gen: vhostd's main job on an embedded default.  It starts a vhostd
 * of its own (port gen0 reflecting, one worker on the last CPU), plays the
 * VM with the built-in generator (perf/gen.h) over memfd guest memory (on
 * 2 MiB pages when the host has free ones) on the first CPU, and reports Mpps, loss, latency and the cycles per packet
 * vhostd's worker spent (from the line vhostd logs when it stops).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gen.h"

struct main_opts {
	char vhostd[PATH_MAX];
	struct gen_opts gen;
};

/* vhostd next to us in the build tree (perf/ -> control/vhostd). */
static void default_vhostd(char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	self[n > 0 ? n : 0] = '\0';
	snprintf(out, len, "%s/../control/vhostd", dirname(self));
}

/* First and last CPU we may use: generator and vhostd's worker. */
static void pick_cores(int *gen_core, int *wk_core)
{
	cpu_set_t set;

	*gen_core = *wk_core = -1;
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set)) {
			if (*gen_core < 0)
				*gen_core = c;
			*wk_core = c;
		}
}

static int parse(int argc, char **argv, struct main_opts *o)
{
	static const struct option lo[] = {
		{"vhostd", required_argument, NULL, 'v'},
		{"queues", required_argument, NULL, 'q'},
		{"size", required_argument, NULL, 's'},
		{"duration", required_argument, NULL, 'd'},
		{"mrg-rxbuf", no_argument, NULL, 'm'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	int c;

	gen_opts_default(&o->gen);
	o->gen.backend = "vhostd";
	o->gen.duration_s = 3;
	default_vhostd(o->vhostd, sizeof(o->vhostd));
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'v': snprintf(o->vhostd, sizeof(o->vhostd), "%s", optarg);
			  break;
		case 'q': o->gen.pairs = (uint32_t)atoi(optarg); break;
		case 's': o->gen.size = (uint32_t)atoi(optarg); break;
		case 'd': o->gen.duration_s = atof(optarg); break;
		case 'm': o->gen.mrg_rxbuf = true; break;
		default:
			printf("usage: vhostd-gen [--vhostd PATH] [--queues N] "
			       "[--size BYTES] [--duration S] [--mrg-rxbuf]\n");
			return c == 'h' ? 1 : -1;
		}
	}
	if (o->gen.pairs < 1 || o->gen.pairs > GEN_MAX_PAIRS ||
	    o->gen.size < GEN_MIN_SIZE || o->gen.size > GEN_MAX_SIZE ||
	    o->gen.duration_s <= 0) {
		fprintf(stderr, "vhostd-gen: --queues 1..%u, --size %u..%u, "
			"--duration > 0\n", GEN_MAX_PAIRS, GEN_MIN_SIZE,
			GEN_MAX_SIZE);
		return -1;
	}
	return 0;
}

static pid_t start_vhostd(const char *bin, const char *sock, int core,
			  const char *logpath)
{
	char port[PATH_MAX + 16], cores[16];
	pid_t pid = fork();

	snprintf(port, sizeof(port), "gen0=vhost:%s", sock);
	snprintf(cores, sizeof(cores), "%d", core);
	if (pid == 0) {
		int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0)
			dup2(fd, STDERR_FILENO);
		execl(bin, bin, "--port", port, "--reflect", "gen0", "--cores",
		      cores, (char *)NULL);
		fprintf(stderr, "vhostd-gen: cannot run %s: %s\n", bin,
			strerror(errno));
		_exit(127);
	}
	return pid;
}

/* vhostd's worker line: "... N packets, C busy cycles, X cycles/packet". */
static double read_cycles_per_packet(const char *logpath)
{
	char line[512];
	double cpp = -1;
	FILE *f = fopen(logpath, "r");

	while (f && fgets(line, sizeof(line), f)) {
		char *p = strstr(line, " cycles/packet");
		if (p) {
			while (p > line && p[-1] != ' ')
				p--;
			cpp = atof(p);
		}
	}
	if (f)
		fclose(f);
	return cpp;
}

/* Free 2 MiB huge pages (HugePages_Free when that is the default size). */
static long free_hugepages_2m(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long n = 0, kb = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "HugePages_Free: %ld", &n);
		sscanf(line, "Hugepagesize: %ld kB", &kb);
	}
	fclose(f);
	return kb == 2048 ? n : 0;
}

int main(int argc, char **argv)
{
	struct main_opts o;
	struct gen_result r;
	char dir[] = "/tmp/vhostd-gen.XXXXXX", sock[PATH_MAX], logp[PATH_MAX];
	int status = 0, wk_core;

	int p = parse(argc, argv, &o);
	if (p)
		return p > 0 ? 0 : 2;
	if (!mkdtemp(dir))
		return 1;
	snprintf(sock, sizeof(sock), "%s/gen0.sock", dir);
	snprintf(logp, sizeof(logp), "%s/vhostd.log", dir);
	pick_cores(&o.gen.core, &wk_core);
	o.gen.socket = sock;
	/* Guest memory on 2 MiB pages when the host has them free (as a VM's
	 * would be on a tuned host): 4 KiB pages put a TLB miss on most
	 * buffer accesses of both sides. */
	uint64_t pages = (gen_mem_bytes(&o.gen) + (2u << 20) - 1) >> 21;
	o.gen.huge = free_hugepages_2m() >= (long)pages;
	printf("guest memory: memfd on %s\n", o.gen.huge ? "2 MiB huge pages" :
	       "4 KiB pages (no free 2 MiB huge pages: see deploy/README.md)");
	pid_t pid = start_vhostd(o.vhostd, sock, wk_core, logp);
	if (pid < 0)
		return 1;
	int err = gen_run(&o.gen, &r);
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	if (err == 0) {
		gen_report(stdout, &o.gen, &r);
		double cpp = read_cycles_per_packet(logp);
		printf("vhostd: %.2f Mpps reflected (%u B, %u queue pair(s), "
		       "worker on core %d), %.1f cycles/packet\n", r.rx_mpps,
		       o.gen.size, o.gen.pairs, wk_core, cpp);
	} else {
		fprintf(stderr, "vhostd-gen: generator failed: %s (vhostd log: "
			"%s)\n", strerror(-err), logp);
	}
	bool ok = err == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
		  r.bad == 0 && !r.broken;
	if (ok) {
		unlink(logp);
		unlink(sock);
		rmdir(dir);
	}
	return ok ? 0 : 1;
}
