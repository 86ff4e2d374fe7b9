/* SPDX-License-Identifier: MIT */
/*
 * dpdk_eal.c: DPDK's EAL for vhostd's dpdk ports: its command line, its
 * log lines, the worker threads joining it, its clean-up (dpdk_eal.h).
 */
#include "dpdk_eal.h"

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_log.h>

#include "../datapath/log.h"
#include "../datapath/worker.h"
#include "dpdk_args.h"
#include "port.h"

#define TAG "dpdk"
#define HUGE_FREE "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"

static int refs;
static bool done;          /* cleaned up: the EAL cannot start again */
static bool nohuge;
static FILE *log_stream;
static char runtime_dir[512];  /* the EAL's, removed at clean-up */

/* ---- DPDK's log lines, one vhostd log line each ------------------- */

static char log_line[1024];
static size_t log_len;

static enum vlog_level level_of(int rte_level)
{
	if (rte_level <= (int)RTE_LOG_ERR)
		return VLOG_LVL_ERR;
	if (rte_level == (int)RTE_LOG_WARNING)
		return VLOG_LVL_WARN;
	return rte_level == (int)RTE_LOG_DEBUG ? VLOG_LVL_DEBUG :
						VLOG_LVL_INFO;
}

/* fopencookie write: DPDK formats into the stream; whole lines go out
 * (the FILE lock serialises writers). */
static ssize_t log_write(void *cookie, const char *buf, size_t n)
{
	(void)cookie;
	for (size_t i = 0; i < n; i++) {
		bool eol = buf[i] == '\n';
		if (!eol)
			log_line[log_len++] = buf[i];
		if (eol || log_len == sizeof(log_line) - 1) {
			log_line[log_len] = '\0';
			if (log_len)
				VLOG(level_of(rte_log_cur_msg_loglevel()), TAG,
				     "%s", log_line);
			log_len = 0;
		}
	}
	return (ssize_t)n;
}

static int log_open(void)
{
	log_stream = fopencookie(NULL, "w", (cookie_io_functions_t){
					 .write = log_write});
	if (!log_stream)
		return -errno;
	setvbuf(log_stream, NULL, _IOLBF, 0);
	return rte_openlog_stream(log_stream);
}

static void log_close(void)
{
	rte_openlog_stream(NULL);
	if (log_stream)
		fclose(log_stream);
	log_stream = NULL;
}

/* ---- worker threads join and leave -------------------------------- */

static void worker_join(void *arg)
{
	(void)arg;
	if (rte_thread_register() < 0)
		VLOG_RL(VLOG_LVL_WARN, TAG, "a worker could not join the EAL "
			"(%s): its mempool accesses go without a cache",
			rte_strerror(rte_errno));
	else
		LOG_DEBUG(TAG, "worker thread joined the EAL as lcore %u "
			  "(socket %u)", rte_lcore_id(), rte_socket_id());
}

static void worker_leave(void *arg)
{
	(void)arg;
	rte_thread_unregister();
}

/* ---- the EAL's command line --------------------------------------- */

struct eal_args {
	int argc;
	char *argv[64];
	char store[4096];
	size_t used;
};

static void PRINTF_FMT(2, 3) arg_add(struct eal_args *a, const char *fmt, ...)
{
	va_list ap;
	size_t room = sizeof(a->store) - a->used;

	if (a->argc == (int)ARRAY_SIZE(a->argv) - 1)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(a->store + a->used, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		return;
	a->argv[a->argc++] = a->store + a->used;
	a->used += (size_t)n + 1;
}

/* "0-3,6": the CPUs in s. */
static void cpu_list(const cpu_set_t *s, char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = '\0';
	for (int c = 0; c < CPU_SETSIZE && at < len; c++) {
		if (!CPU_ISSET(c, s))
			continue;
		int e = c;
		while (e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, s))
			e++;
		at += (size_t)snprintf(buf + at, len - at, "%s%d", at ? "," : "",
				       c);
		if (e > c && at < len)
			at += (size_t)snprintf(buf + at, len - at, "-%d", e);
		c = e;
	}
}

static long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* NUMA nodes this host has (1 when it cannot tell). */
static int numa_nodes(void)
{
	DIR *d = opendir("/sys/devices/system/node");
	int n = 0;

	if (!d)
		return 1;
	for (struct dirent *e; (e = readdir(d));)
		if (strncmp(e->d_name, "node", 4) == 0 &&
		    e->d_name[4] >= '0' && e->d_name[4] <= '9')
			n++;
	closedir(d);
	return n ? n : 1;
}

/* Hugepages when enough 2 MiB pages are free (and vhostd may use
 * them: root), else --no-huge. */
static void args_memory(struct eal_args *a)
{
	long free_pages = read_long(HUGE_FREE);
	char limit[256] = "";

	nohuge = free_pages < DPDK_EAL_MIN_FREE_PAGES || geteuid() != 0;
	if (nohuge) {
		LOG_WARN(TAG, "%ld free 2 MiB hugepages (%d wanted)%s: the EAL "
			 "runs on %d MiB of ordinary memory (--no-huge)",
			 free_pages < 0 ? 0 : free_pages,
			 DPDK_EAL_MIN_FREE_PAGES,
			 geteuid() ? ", not root" : "", DPDK_EAL_NOHUGE_MB);
		arg_add(a, "--no-huge");
		arg_add(a, "-m");
		arg_add(a, "%d", DPDK_EAL_NOHUGE_MB);
		return;
	}
	for (int i = 0, n = numa_nodes(); i < n && strlen(limit) < 200; i++)
		snprintf(limit + strlen(limit), sizeof(limit) - strlen(limit),
			 "%s%d", i ? "," : "", DPDK_EAL_SOCKET_LIMIT_MB);
	arg_add(a, "--socket-limit=%s", limit);
}

/* -a for every dpdk port that is a PCI device, with its devargs (the
 * EAL probes it at start; the port's own probe then finds it there),
 * else --no-pci. */
static void args_devices(struct eal_args *a)
{
	const struct port_env *env = port_get_env();
	struct dpdk_args da;
	char err[128];
	bool pci = false;

	for (uint32_t i = 0; env && i < env->nspecs; i++) {
		const struct port_spec *s = &env->specs[i];
		if (strcmp(s->type, "dpdk") != 0 ||
		    dpdk_args_parse(s->args, &da, err, sizeof(err)) < 0 ||
		    !da.pci)
			continue;   /* a bad one fails when its port opens */
		arg_add(a, "-a");
		arg_add(a, "%s", da.devargs);
		pci = true;
	}
	if (!pci)
		arg_add(a, "--no-pci");
}

static void args_build(struct eal_args *a)
{
	const struct port_env *env = port_get_env();
	cpu_set_t ctl;
	char cpus[512];

	arg_add(a, "vhostd");
	arg_add(a, "--file-prefix=vhostd-%d", (int)getpid());
	arg_add(a, "--no-telemetry");
	/* lcore 0, the main lcore, is the control thread where it runs
	 * now: the EAL pins it to exactly these CPUs, i.e. leaves it be. */
	if (sched_getaffinity(0, sizeof(ctl), &ctl) < 0)
		CPU_ZERO(&ctl);
	if (CPU_COUNT(&ctl) == 0)
		CPU_SET(0, &ctl);
	cpu_list(&ctl, cpus, sizeof(cpus));
	arg_add(a, "--lcores=0@(%s)", cpus);
	arg_add(a, "--log-level=*:%s",
		vlog_level_cur >= VLOG_LVL_DEBUG ? "info" : "error");
	args_memory(a);
	/* No shared files: --in-memory (--no-huge has no hugepage files, and
	 * the EAL refuses the two together: --no-shconf then). */
	arg_add(a, nohuge ? "--no-shconf" : "--in-memory");
	args_devices(a);
	if (env) {
		cpu_list(&env->cores, cpus, sizeof(cpus));
		LOG_DEBUG(TAG, "vhostd's workers (cores %s) join the EAL as "
			  "they start", cpus);
	}
	a->argv[a->argc] = NULL;
}

/* Where the EAL makes its runtime directory (with --file-prefix), to
 * remove it should its start fail. */
static void guess_runtime_dir(void)
{
	const char *base = "/var/run";

	if (geteuid() != 0)
		base = getenv("XDG_RUNTIME_DIR") ? getenv("XDG_RUNTIME_DIR") :
						   "/tmp";
	snprintf(runtime_dir, sizeof(runtime_dir), "%s/dpdk/vhostd-%d", base,
		 (int)getpid());
}

static void eal_stop(void)
{
	wk_hook_remove(worker_join, worker_leave, NULL);
	if (rte_eal_cleanup() < 0)
		LOG_WARN(TAG, "rte_eal_cleanup: %s", rte_strerror(rte_errno));
	log_close();
	done = true;
	/* --in-memory leaves it empty, and DPDK does not remove it. */
	if (rmdir(runtime_dir) < 0 && errno != ENOENT)
		LOG_WARN(TAG, "cannot remove the EAL's directory %s: %s",
			 runtime_dir, strerror(errno));
	LOG_DEBUG(TAG, "EAL cleaned up");
}

static int eal_start(void)
{
	struct eal_args a = {.argc = 0};
	char line[1024] = "";
	int err;

	if (done) {
		LOG_ERR(TAG, "the EAL was cleaned up already: DPDK cannot "
			"start twice in one process");
		return -EALREADY;
	}
	args_build(&a);
	for (int i = 0; i < a.argc && strlen(line) < 900; i++)
		snprintf(line + strlen(line), sizeof(line) - strlen(line),
			 "%s%s", i ? " " : "", a.argv[i]);
	err = log_open();
	if (err)
		return err;
	guess_runtime_dir();
	if (rte_eal_init(a.argc, a.argv) < 0) {
		err = rte_errno ? -rte_errno : -EIO;
		LOG_ERR(TAG, "cannot start DPDK's EAL (%s): %s", line,
			rte_strerror(-err));
		log_close();
		(void)rmdir(runtime_dir);
		return err;
	}
	snprintf(runtime_dir, sizeof(runtime_dir), "%s",
		 rte_eal_get_runtime_dir());
	err = wk_hook_add(worker_join, worker_leave, NULL);
	if (err) {
		LOG_ERR(TAG, "no room for the EAL's worker thread hook");
		eal_stop();
		return err;
	}
	LOG_INFO(TAG, "EAL started: %s", line);
	return 0;
}

int dpdk_eal_get(void)
{
	if (refs == 0) {
		int err = eal_start();
		if (err)
			return err;
	}
	refs++;
	return 0;
}

void dpdk_eal_put(void)
{
	if (refs > 0 && --refs == 0)
		eal_stop();
}

bool dpdk_eal_hugepages(void)
{
	return !nohuge;
}
