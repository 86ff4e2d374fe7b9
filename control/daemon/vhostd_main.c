/* SPDX-License-Identifier: MIT */
/*
 * vhostd_main.c: the daemon.  Parses the command line, merges it with the
 * --config file into the switch (vhostd_sw.h), starts every port on the
 * control thread's event loop and runs until SIGTERM or SIGINT, then
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
#include "vhostd_api.h"
#include "vhostd_bridge.h"
#include "vhostd_conf.h"
#include "vhostd_dp.h"
#include "vhostd_fdstore.h"
#include "vhostd_metrics.h"
#include "vhostd_notify.h"
#include "vhostd_opts.h"
#include "vhostd_sw.h"
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
	struct sw sw;              /* the ports, bridges and links */
	struct vhostd_api api;
	struct dp dp;
	struct vu_ctl *ctl;
	struct vu_metrics *metrics;
	int sigfd;
};

/* --control: the runtime API (vhostd_api.h). */
static int start_control(struct daemon *d)
{
	struct vu_ctl_cfg cfg = {
		.path = d->opts.control_path, .fn = vhostd_api_handle,
		.arg = &d->api,
		/* --control-group: the socket file's group, and who may ask. */
		.group_set = d->opts.ctl_perm.gid != VU_PERM_GID_KEEP,
		.gid = d->opts.ctl_perm.gid,
	};

	const char *path = d->opts.control_path;
	int err;

	if (!path[0])
		return 0;
	d->api = (struct vhostd_api){.sw = &d->sw, .dp = &d->dp};
	err = vu_perm_mkdirs(path, &d->opts.ctl_perm);
	if (!err)
		err = vu_ctl_start(&d->ctl, d->loop, &cfg);
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
	fdstore_stopping();
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
	sw_check_memory(&d->sw);
}

/* Before any guest memory is mapped; the handler covers every thread. */
static int setup_sigbus(struct daemon *d)
{
	/* Ports come and go: room for every slot. */
	uint32_t cap = (uint32_t)VHOSTD_MAX_PORTS * VU_MEM_GUARDS_PER_DEV;
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
	fdstore_last_records();
	/* Handing over to the next process: what it needs is in the store
	 * and recorded, and taking the ports down one by one (about 0.5 ms
	 * each) only delays it; the kernel closes and unmaps the rest.  A
	 * NIC port is stopped as always (its XDP program or DPDK port must
	 * not outlive vhostd). */
	if (fdstore_handing_over() && !sw_has_nic(&d->sw)) {
		dp_log_stats(&d->dp);
		LOG_INFO(TAG, "every device handed over to the service "
			 "manager's fd store: exiting");
		fflush(stderr);
		_exit(0);
	}
	sw_stop(&d->sw);       /* unlinked, detached, closed: port by port */
	dp_fini(&d->dp);
	port_set_env(NULL);
	vu_perm_rmdirs();       /* after every socket in them is gone */
	if (d->sigfd >= 0)
		close(d->sigfd);
	vu_loop_free(d->loop);
}

/* The command line and the --config file into the switch (recorded; a
 * clash is an error).  0 or -EINVAL after one line on stderr. */
static int load_switch(struct daemon *d)
{
	struct vhostd_conf *c = calloc(1, sizeof(*c));
	char why[400] = "";
	int err = c ? 0 : -ENOMEM;

	sw_init(&d->sw, &d->opts, d->loop, &d->dp, d->opts.config_path);
	if (!err && d->opts.config_path[0])
		err = vhostd_conf_load(d->opts.config_path, c, why, sizeof(why));
	if (!err)
		err = sw_load(&d->sw, d->opts.config_path[0] ? c : NULL, why,
			      sizeof(why));
	if (err && why[0])
		fprintf(stderr, "vhostd: %s\n", why);
	free(c);
	return err;
}

/* Everything listens and forwards: tell the service manager. */
static void ready(void *arg)
{
	const struct daemon *d = arg;
	char status[64];

	snprintf(status, sizeof(status), "%d port(s)", d->opts.nports);
	vhostd_notify_ready(status);
}

static void ready_resumed(void *arg)
{
	LOG_INFO(TAG, "every rebuilt device moves frames again (or had a "
		 "second to): READY=1");
	ready(arg);
}

int main(int argc, char **argv)
{
	/* Zero-filled (.bss), not initialised data: the 470 KiB are mapped
	 * from no file and only the pages vhostd writes are ever faulted in
	 * (sw_init). */
	static struct daemon d;
	int err;

	d.sigfd = -1;
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
	/* With --control or --config, ports may all come later. */
	if (d.opts.nports == 0 && !d.opts.control_path[0] &&
	    !d.opts.config_path[0]) {
		fprintf(stderr, "vhostd: no ports given (--port NAME=vhost:PATH "
			"or NAME=TYPE:ARGS, or --control/--config; see "
			"--help)\n");
		return 2;
	}
	vlog_set_level(d.opts.log_level);
	vlog_use_journal(vlog_journal_stream());
	vlog_use_time(d.opts.log_time);
	/* Sockets and directories are born private; --socket-mode and
	 * --control-mode open them up, nothing else does. */
	umask(077);
	wk_idle_set(d.opts.idle, d.opts.idle_us);
	const struct numa_topo *topo = numa_topo_get();
	numa_topo_log(topo);
	d.loop = vu_loop_new();
	if (!d.loop)
		return 1;
	if (load_switch(&d) < 0) {
		vu_loop_free(d.loop);
		return 2;
	}
	err = setup_signals(&d);
	if (!err)
		err = setup_sigbus(&d);
	if (!err)
		err = fdstore_init();
	if (!err)
		err = sw_open_nics(&d.sw);
	if (!err)
		err = dp_init(&d.dp, &d.opts.cores, VHOSTD_MAX_PORTS, topo);
	if (!err && d.opts.print_placement)
		d.dp.placement_out = stdout;
	/* Every fd of vhostd's own before the ports' sockets appear: a
	 * front-end (a test counting vhostd's fds) sees the daemon whole. */
	if (!err)
		err = start_watchdog(&d);
	if (!err)
		err = sw_run(&d.sw);
	if (!err)
		fdstore_running();
	if (!err)
		err = start_control(&d);
	if (!err)
		err = start_metrics(&d);
	if (!err) {
		LOG_INFO(TAG, "vhostd %s: %d port(s), features 0x%llx, protocol "
			 "features 0x%llx", VHOSTD_VERSION, d.opts.nports,
			 (unsigned long long)d.opts.features,
			 (unsigned long long)d.opts.protocol_features);
		/* After a restart through the fd store, the guests' frames
		 * first: READY=1 loads libsystemd (vhostd_sd.h), whose
		 * mappings would slow the worker's first passes. */
		if (!sw_when_resumed(&d.sw, ready_resumed, &d))
			ready(&d);
		err = vu_loop_run(d.loop);
	}
	stop_all(&d);
	if (err) {
		LOG_ERR(TAG, "exiting: %s", strerror(-err));
		return 1;
	}
	return 0;
}
