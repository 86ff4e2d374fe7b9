/* SPDX-License-Identifier: MIT */
/*
 * vhostd_main.c: the daemon.  Parses the command line, starts every port on
 * the control thread's event loop and runs until SIGTERM or SIGINT, then
 * detaches every front-end and removes the sockets it created.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../datapath/log.h"
#include "vhostd_bridge.h"
#include "vhostd_dp.h"
#include "vhostd_metrics.h"
#include "vhostd_notify.h"
#include "vhostd_opts.h"
#include "vu_ctl.h"
#include "vu_metrics.h"
#include "../wire/vu_loop.h"
#include "../wire/vu_perm.h"
#include "../backend/vu_port.h"
#include "../backend/vu_sigbus.h"

#define TAG "main"

struct daemon {
	struct vhostd_opts opts;
	struct vu_loop *loop;
	struct vu_port *ports;     /* [i]: a vhost port's, by option index */
	struct port **nics;        /* [i]: a NIC port's, by option index */
	struct port_spec *specs;   /* the NIC ports, for port_set_env() */
	struct port_env env;
	bool *vhost_started;       /* [i]: ports[i] to be stopped */
	int nports_started;
	struct dp dp;
	struct vu_ctl *ctl;
	struct vu_metrics *metrics;
	int sigfd;
};

static void cmd_stats(FILE *out, void *arg)
{
	dp_stats_print(arg, out);
}

static void cmd_placement(FILE *out, void *arg)
{
	dp_placement_print(arg, out);
}

static void cmd_version(FILE *out, void *arg)
{
	(void)arg;
	fprintf(out, "vhostd %s\n", VHOSTD_VERSION);
}

/* --control: the runtime API.  Commands are kept by reference. */
static int start_control(struct daemon *d)
{
	static struct vu_ctl_cmd cmds[] = {
		{"stats", "per-queue and per-worker counters", cmd_stats, NULL},
		{"version", "vhostd's version", cmd_version, NULL},
		{"placement", "per queue pair: worker core and NUMA nodes",
		 cmd_placement, NULL},
	};

	const char *path = d->opts.control_path;
	int err;

	if (!path[0])
		return 0;
	cmds[0].arg = &d->dp;
	cmds[2].arg = &d->dp;
	err = vu_perm_mkdirs(path, &d->opts.ctl_perm);
	if (!err)
		err = vu_ctl_start(&d->ctl, d->loop, path, cmds,
				   (int)ARRAY_SIZE(cmds));
	else
		LOG_ERR(TAG, "control socket %s: cannot create its directory: "
			"%s", path, strerror(-err));
	/* Born 0700 under vhostd's umask: this only opens it up. */
	if (!err && (err = vu_perm_apply(path, &d->opts.ctl_perm)))
		LOG_ERR(TAG, "control socket %s: cannot set its mode/group: %s",
			path, strerror(-err));
	return err;
}

static void metrics_page(FILE *out, void *arg)
{
	dp_metrics_write(arg, out);
}

/* --metrics: the Prometheus page, served on the control loop. */
static int start_metrics(struct daemon *d)
{
	if (!d->opts.metrics)
		return 0;
	return vu_metrics_start(&d->metrics, d->loop,
				(const struct sockaddr *)&d->opts.metrics_sa,
				d->opts.metrics_len, metrics_page, &d->dp);
}

/* vhost-user.json @VHostUserBackendCapabilities: a union on "type" whose
 * "net" branch has no member (only gpu, input and block list features). */
static void print_capabilities(void)
{
	printf("{\n  \"type\": \"net\"\n}\n");
}

/* vhost-user.rst, back-end program conventions: with --print-capabilities
 * "other options and arguments should be ignored". */
static bool wants_capabilities(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--print-capabilities") == 0)
			return true;
	return false;
}

static void on_signal(struct vu_watch *w, uint32_t ev, void *arg)
{
	struct daemon *d = arg;
	struct signalfd_siginfo si;

	(void)w; (void)ev;
	if (read(d->sigfd, &si, sizeof(si)) != sizeof(si))
		return;
	unsigned signo = si.ssi_signo;
	LOG_INFO(TAG, "signal %u: stopping", signo);
	vu_loop_stop(d->loop);
}

static int setup_signals(struct daemon *d)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	d->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (d->sigfd < 0)
		return -errno;
	if (!vu_loop_add(d->loop, d->sigfd, EPOLLIN, on_signal, d))
		return -errno;
	return 0;
}

/* A front-end's file shrank under a mapping (vu_sigbus.h): fail the
 * devices whose memory was lost. */
static void on_mem_lost(struct vu_watch *w, uint32_t ev, void *arg)
{
	struct daemon *d = arg;

	(void)w; (void)ev;
	vu_sigbus_drain();
	for (int i = 0; i < d->nports_started; i++)
		if (d->vhost_started[i])
			vu_port_check_memory(&d->ports[i]);
}

/* Before any guest memory is mapped; the handler covers every thread. */
static int setup_sigbus(struct daemon *d)
{
	uint32_t cap = (uint32_t)d->opts.nports * VU_MEM_GUARDS_PER_DEV;
	int err = vu_sigbus_install(cap);

	if (err == -EPERM) {    /* only a sanitizer's option does that */
		LOG_WARN(TAG, "a sanitizer keeps its own SIGBUS handler "
			 "(ASAN_OPTIONS allow_user_segv_handler=0): a "
			 "front-end that shrinks its memory file will crash "
			 "vhostd");
		return 0;
	}
	if (err) {
		LOG_ERR(TAG, "cannot install the SIGBUS handler: %s",
			strerror(-err));
		return err;
	}
	if (!vu_loop_add(d->loop, vu_sigbus_eventfd(), EPOLLIN, on_mem_lost, d))
		return -errno;
	return 0;
}

static void on_watchdog(struct vu_watch *w, uint32_t ev, void *arg)
{
	(void)w; (void)ev;
	dp_watch(arg);
}

/* A worker stuck in one pass (a system call a front-end made block, a
 * guest's endless work) is found even when no control request waits for
 * it: every guest polled by that worker depends on it. */
static int start_watchdog(struct daemon *d)
{
	if (!vu_loop_every(d->loop, WK_INTERRUPT_MS, on_watchdog, &d->dp))
		return -errno;
	return 0;
}

static void fill_port_cfg(const struct vhostd_opts *o, const struct port_opt *po,
			  struct vu_port_cfg *pc)
{
	memset(pc, 0, sizeof(*pc));
	pc->dev.name = po->name;
	pc->dev.max_queue_pairs = po->queues;
	pc->dev.features = o->features;
	pc->dev.protocol_features = o->protocol_features;
	memcpy(pc->dev.mac, po->mac, 6);
	pc->dev.mtu = po->mtu;
	pc->path = po->path;
	pc->client = po->client;
	pc->fd = po->fd;
	pc->perm = &o->sock_perm;
}

/*
 * The NIC ports open before the workers start: a port type may have
 * process-wide set-up that every worker thread must see as it starts (DPDK:
 * the EAL, which each worker joins through a worker.h thread hook).  Each
 * type is first told every port and the worker cores (port_set_env).
 */
static int open_nics(struct daemon *d)
{
	d->nics = calloc((size_t)d->opts.nports, sizeof(d->nics[0]));
	d->specs = calloc((size_t)d->opts.nports, sizeof(d->specs[0]));
	if (!d->nics || !d->specs)
		return -ENOMEM;
	d->env.cores = d->opts.cores;
	d->env.specs = d->specs;
	for (int i = 0; i < d->opts.nports; i++) {
		const struct port_opt *po = &d->opts.ports[i];
		if (po->kind == PORT_NIC)
			d->specs[d->env.nspecs++] = (struct port_spec){
				po->name, po->nic_type, po->nic_args};
	}
	port_set_env(&d->env);
	for (int i = 0; i < d->opts.nports; i++) {
		const struct port_opt *po = &d->opts.ports[i];
		if (po->kind != PORT_NIC)
			continue;
		int err = port_open(po->name, po->nic_type, po->nic_args,
				    &d->nics[i]);
		if (err)
			return err;
	}
	return 0;
}

/* Port i: a vhost-user port on the event loop, or a NIC port (open). */
static int start_port(struct daemon *d, int i)
{
	const struct port_opt *po = &d->opts.ports[i];
	struct dp_wiring w = {po->peer, po->reflect, po->source_len};
	struct vu_port_cfg pc;
	int err;

	if (po->kind == PORT_NIC) {
		err = dp_attach_port(&d->dp, (uint32_t)i, d->nics[i], &w);
	} else {
		fill_port_cfg(&d->opts, po, &pc);
		err = vu_port_start(&d->ports[i], d->loop, &pc);
		if (err)
			return err;
		d->vhost_started[i] = true;
		err = dp_attach(&d->dp, (uint32_t)i, &d->ports[i].dev, &w);
	}
	if (!err && po->bridge[0])
		err = dp_bridge_attach(&d->dp, (uint32_t)i, po->bridge,
				       &po->vlan);
	return err;
}

/* --bridge: before any port joins one. */
static int add_bridges(struct daemon *d)
{
	for (int b = 0; b < d->opts.nbridges; b++) {
		const struct bridge_opt *bo = &d->opts.bridges[b];
		int err = dp_bridge_add(&d->dp, bo->name, &bo->cfg);
		if (err) {
			LOG_ERR(TAG, "bridge %s: %s", bo->name, strerror(-err));
			return err;
		}
	}
	return 0;
}

static int start_ports(struct daemon *d)
{
	d->ports = calloc((size_t)d->opts.nports, sizeof(d->ports[0]));
	d->vhost_started = calloc((size_t)d->opts.nports, sizeof(bool));
	if (!d->ports || !d->vhost_started)
		return -ENOMEM;
	for (int i = 0; i < d->opts.nports; i++) {
		const struct port_opt *po = &d->opts.ports[i];
		int err = start_port(d, i);
		d->nports_started++;
		if (err)
			return err;
		if (po->peer >= 0)
			LOG_INFO(TAG, "%s: linked to %s", po->name,
				 d->opts.ports[po->peer].name);
		else if (po->reflect)
			LOG_INFO(TAG, "%s: reflecting", po->name);
		else if (po->source_len)
			LOG_INFO(TAG, "%s: source of %u-byte frames", po->name,
				 po->source_len);
	}
	return dp_start(&d->dp);
}

static void stop_all(struct daemon *d)
{
	vhostd_notify_stopping();
	vu_ctl_stop(d->ctl);
	vu_metrics_stop(d->metrics);
	/* Workers first: every burst finished and published before any
	 * front-end sees its connection close (it reads the rings' positions
	 * then), and no port is read on behalf of another torn down before. */
	if (d->dp.workers)
		dp_halt(&d->dp);
	for (int i = 0; i < d->nports_started; i++)
		if (d->vhost_started[i])
			vu_port_stop(&d->ports[i]);
	dp_fini(&d->dp);       /* workers stopped: NIC ports can go */
	for (int i = 0; d->nics && i < d->opts.nports; i++)
		port_close(d->nics[i]);
	port_set_env(NULL);
	free(d->ports);
	free(d->nics);
	free(d->specs);
	free(d->vhost_started);
	vu_perm_rmdirs();       /* after every socket in them is gone */
	if (d->sigfd >= 0)
		close(d->sigfd);
	vu_loop_free(d->loop);
}

int main(int argc, char **argv)
{
	static struct daemon d = {.sigfd = -1};
	int err;

	if (wants_capabilities(argc, argv)) {
		print_capabilities();
		return 0;
	}
	if (vhostd_opts_parse(&d.opts, argc, argv) < 0)
		return 2;
	if (d.opts.help) {
		vhostd_usage(stdout);
		return 0;
	}
	if (d.opts.version) {
		printf("vhostd %s\n", VHOSTD_VERSION);
		return 0;
	}
	if (d.opts.nports == 0) {
		fprintf(stderr, "vhostd: no ports given (--port NAME=vhost:PATH "
			"or NAME=TYPE:ARGS; see --help)\n");
		return 2;
	}
	vlog_set_level(d.opts.log_level);
	vlog_use_journal(vlog_journal_stream());
	/* Sockets and directories are born private; --socket-mode and
	 * --control-mode open them up, nothing else does. */
	umask(077);
	const struct numa_topo *topo = numa_topo_get();
	numa_topo_log(topo);
	d.loop = vu_loop_new();
	if (!d.loop)
		return 1;
	err = setup_signals(&d);
	if (!err)
		err = setup_sigbus(&d);
	if (!err)
		err = open_nics(&d);
	if (!err)
		err = dp_init(&d.dp, &d.opts.cores, (uint32_t)d.opts.nports,
			      topo);
	if (!err && d.opts.print_placement)
		d.dp.placement_out = stdout;
	if (!err)
		err = add_bridges(&d);
	if (!err)
		err = start_ports(&d);
	if (!err)
		err = start_watchdog(&d);
	if (!err)
		err = start_control(&d);
	if (!err)
		err = start_metrics(&d);
	if (!err) {
		LOG_INFO(TAG, "vhostd %s: %d port(s), features 0x%llx, protocol "
			 "features 0x%llx", VHOSTD_VERSION, d.opts.nports,
			 (unsigned long long)d.opts.features,
			 (unsigned long long)d.opts.protocol_features);
		char status[64];
		snprintf(status, sizeof(status), "%d port(s)", d.opts.nports);
		vhostd_notify_ready(status);
		err = vu_loop_run(d.loop);
	}
	stop_all(&d);
	if (err) {
		LOG_ERR(TAG, "exiting: %s", strerror(-err));
		return 1;
	}
	return 0;
}
