/* SPDX-License-Identifier: MIT */
#include "vu_port.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "../../datapath/log.h"
#include "../wire/vu_fdpass.h"
#include "../wire/vu_sock.h"

#define TAG "port"
/* Messages handled per wake-up, so one chatty front-end cannot starve the
 * other devices on the control thread (epoll is level-triggered). */
#define MSGS_PER_WAKEUP 64

static void try_connect(struct vu_port *p);
static void schedule_reconnect(struct vu_port *p, uint32_t ms);

static const struct vu_port_hooks *hooks;

void vu_port_set_hooks(const struct vu_port_hooks *h)
{
	hooks = h;
}

static void drop_conn_as(struct vu_port *p, const char *why, bool stopping)
{
	if (p->cfd < 0)
		return;
	if (hooks && hooks->gone)
		hooks->gone(p, stopping);
	LOG_INFO(TAG, "%s: front-end %s; device reset", p->dev.name, why);
	vu_loop_del(p->loop, p->cw);
	p->cw = NULL;
	/* The device first: once the socket closes, the front-end reads the
	 * rings' positions (QEMU takes the used index as the next avail one)
	 * and no worker may move them after that. */
	vu_dev_disconnect(&p->dev);
	close(p->cfd);
	p->cfd = -1;
	vu_rx_close_fds(&p->rx);
	vu_rx_init(&p->rx);
	p->disconnects++;
}

static void drop_conn(struct vu_port *p, const char *why)
{
	drop_conn_as(p, why, false);
}

void vu_port_drop(struct vu_port *p, const char *why)
{
	drop_conn(p, why);
	if (p->client)
		schedule_reconnect(p, VU_PORT_BACKOFF_MIN_MS);
}

static void on_timer(struct vu_watch *w, uint32_t ev, void *arg)
{
	struct vu_port *p = arg;

	(void)ev;
	vu_loop_timer_del(p->loop, w);
	p->timer = NULL;
	try_connect(p);
}

static void schedule_reconnect(struct vu_port *p, uint32_t ms)
{
	if (p->timer)
		return;
	p->timer = vu_loop_timer(p->loop, ms, on_timer, p);
	if (!p->timer)
		LOG_ERR(TAG, "%s: cannot arm the reconnect timer: %s",
			p->dev.name, strerror(errno));
}

/* A request was handled, its answer not sent yet (vu_dev.h). */
static void handled(void *arg)
{
	if (hooks && hooks->after)
		hooks->after(arg);
}

static void on_conn(struct vu_watch *w, uint32_t ev, void *arg)
{
	struct vu_port *p = arg;
	int r = 0;

	(void)w;
	for (int n = 0; n < MSGS_PER_WAKEUP; n++) {
		r = vu_rx_read(&p->rx, p->cfd);
		if (r <= 0)
			break;
		if (hooks && hooks->before)
			hooks->before(p, &p->rx.msg, p->rx.fds, p->rx.nfds);
		r = vu_dev_handle_msg(&p->dev, p->cfd, &p->rx.msg, p->rx.fds,
				      p->rx.nfds);
		p->rx.nfds = 0; /* consumed by the device */
		vu_rx_init(&p->rx);
		if (r < 0)
			break;
	}
	if (r == 0 && !(ev & (EPOLLHUP | EPOLLERR)))
		return;
	if (r == -EPROTO)
		LOG_ERR(TAG, "%s: malformed message header (bad version bits, "
			"size over %u or too many fds); closing", p->dev.name,
			VU_PAYLOAD_MAX);
	drop_conn(p, r == -ECONNRESET || r == 0 ? "disconnected" :
		     "closed after a protocol error");
	if (vu_port_detached(p))
		LOG_INFO(TAG, "%s: detached: its passed socket is closed; "
			 "set-port-fd gives it another", p->dev.name);
	if (p->client)
		schedule_reconnect(p, VU_PORT_BACKOFF_MIN_MS);
}

static int attach_conn(struct vu_port *p, int fd)
{
	p->cfd = fd;
	vu_rx_init(&p->rx);
	p->cw = vu_loop_add(p->loop, fd, EPOLLIN, on_conn, p);
	if (!p->cw) {
		p->cfd = -1;    /* fd stays the caller's */
		return -errno;
	}
	p->connects++;
	LOG_INFO(TAG, "%s: front-end connected on %s", p->dev.name, p->path);
	return 0;
}

static void on_accept(struct vu_watch *w, uint32_t ev, void *arg)
{
	struct vu_port *p = arg;

	(void)w; (void)ev;
	int fd = vu_sock_accept(p->lfd);
	if (fd < 0)
		return;
	if (p->cfd >= 0) {
		LOG_WARN(TAG, "%s: a second front-end connected to %s while one "
			 "is attached; turned away", p->dev.name, p->path);
		close(fd);
		p->turned_away++;
		return;
	}
	if (attach_conn(p, fd) < 0) {
		LOG_ERR(TAG, "%s: cannot watch the new connection",
			p->dev.name);
		close(fd);
	}
}

static void try_connect(struct vu_port *p)
{
	int fd = vu_sock_connect(p->path);
	int err = fd >= 0 ? attach_conn(p, fd) : fd;

	if (err < 0 && fd >= 0)
		close(fd);
	if (err == 0) {
		p->backoff_ms = VU_PORT_BACKOFF_MIN_MS;
		p->warned_unreachable = false;
		return;
	}
	if (!p->warned_unreachable)
		LOG_WARN(TAG, "%s: no front-end listening on %s (%s); retrying "
			 "with back-off", p->dev.name, p->path,
			 strerror(-err));
	p->warned_unreachable = true;
	schedule_reconnect(p, p->backoff_ms);
	p->backoff_ms = p->backoff_ms * 2 > VU_PORT_BACKOFF_MAX_MS ?
			VU_PORT_BACKOFF_MAX_MS : p->backoff_ms * 2;
}

/* Take over what the previous process left: no bind, no connect. */
static int adopt(struct vu_port *p, const struct vu_port_restore *r)
{
	if (r->lfd >= 0) {
		p->lfd = r->lfd;
		/* A passed listening socket is not vhostd's file: never
		 * unlinked. */
		p->created_socket = !p->fd_port;
		p->lw = vu_loop_add(p->loop, p->lfd, EPOLLIN, on_accept, p);
		if (!p->lw) {
			int err = -errno;
			if (r->cfd >= 0)
				close(r->cfd);
			vu_port_stop(p);
			return err;
		}
		LOG_INFO(TAG, "%s: listening on %s (socket kept across the "
			 "restart)", p->dev.name, p->path);
	}
	if (r->cfd >= 0 && attach_conn(p, r->cfd) < 0) {
		close(r->cfd);          /* attach_conn leaves it to us */
		vu_port_stop(p);
		return -ENOMEM;
	}
	if (r->cfd < 0 && p->client)
		try_connect(p);
	return 0;
}

int vu_port_start(struct vu_port *p, struct vu_loop *loop,
		  const struct vu_port_cfg *cfg)
{
	memset(p, 0, sizeof(*p));
	p->lfd = p->cfd = -1;
	p->loop = loop;
	p->client = cfg->client;
	p->backoff_ms = VU_PORT_BACKOFF_MIN_MS;
	if (strlen(cfg->path) >= sizeof(p->path)) {
		LOG_ERR(TAG, "%s: socket path too long: %s", cfg->dev.name,
			cfg->path);
		return -ENAMETOOLONG;
	}
	strcpy(p->path, cfg->path);
	int err = vu_dev_init(&p->dev, &cfg->dev);
	if (err)
		return err;
	p->dev.handled = handled;
	p->dev.handled_arg = p;
	p->fd_port = cfg->fd_port || cfg->fd >= 0;
	if (cfg->restore)       /* a passed socket too: as it was */
		return adopt(p, cfg->restore);
	if (p->fd_port) {
		err = cfg->fd >= 0 ? vu_port_set_fd(p, cfg->fd) : 0;
		if (err)
			vu_dev_fini(&p->dev);
		else if (cfg->fd < 0)
			LOG_INFO(TAG, "%s: detached until set-port-fd gives it "
				 "a socket", p->dev.name);
		return err;
	}
	if (p->client) {
		try_connect(p);
		return 0;
	}
	err = cfg->perm ? vu_perm_mkdirs(p->path, cfg->perm) : 0;
	if (err) {
		LOG_ERR(TAG, "%s: cannot create the directory of %s: %s",
			p->dev.name, p->path, strerror(-err));
		vu_dev_fini(&p->dev);
		return err;
	}
	p->lfd = vu_sock_listen_perm(p->path, cfg->perm);
	if (p->lfd < 0) {
		err = p->lfd;
		LOG_ERR(TAG, "%s: cannot listen on %s: %s", p->dev.name, p->path,
			err == -EADDRINUSE ? "another process serves it" :
			err == -EEXIST ? "a file that is not a socket is there" :
			err == -EPERM && cfg->perm ? "cannot give the socket "
			"its group (vhostd is not a member)" :
			strerror(-err));
		vu_dev_fini(&p->dev);
		return err;
	}
	p->created_socket = true;
	p->lw = vu_loop_add(loop, p->lfd, EPOLLIN, on_accept, p);
	if (!p->lw) {
		err = -errno;
		vu_port_stop(p);
		return err;
	}
	LOG_INFO(TAG, "%s: listening on %s", p->dev.name, p->path);
	return 0;
}

int vu_port_set_fd(struct vu_port *p, int fd)
{
	char why[128];
	bool listening;
	int err = vu_fdpass_check_stream(fd, &listening, why, sizeof(why));

	if (err) {
		LOG_ERR(TAG, "%s: %s", p->dev.name, why);
		return err;
	}
	drop_conn(p, "replaced by a new passed socket");
	if (p->lw)
		vu_loop_del(p->loop, p->lw);
	p->lw = NULL;
	if (p->lfd >= 0)
		close(p->lfd);
	p->lfd = -1;
	if (!listening)
		return attach_conn(p, fd);
	/* accept4() must never wait (a client gone between the wake-up and
	 * the accept): the passer's copy shares the flag. */
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	p->lw = vu_loop_add(p->loop, fd, EPOLLIN, on_accept, p);
	if (!p->lw)
		return -errno;
	p->lfd = fd;
	LOG_INFO(TAG, "%s: accepting on a passed listening socket",
		 p->dev.name);
	return 0;
}

void vu_port_check_memory(struct vu_port *p)
{
	uintptr_t addr = vu_sigbus_take(&p->dev.mem.lost);
	char what[256];

	if (!addr)
		return;
	vu_mem_lost_text(&p->dev.mem, &p->dev.log_file, addr, what,
			 sizeof(what));
	LOG_ERR(TAG, "%s: guest memory lost: %s (the front-end shrank the file "
		"or no huge page was left for it); device failed", p->dev.name,
		what);
	drop_conn(p, "dropped: its memory was lost");
	if (p->client)
		schedule_reconnect(p, VU_PORT_BACKOFF_MIN_MS);
}

void vu_port_stop(struct vu_port *p)
{
	if (p->cfd < 0 && hooks && hooks->gone)
		hooks->gone(p, true);
	drop_conn_as(p, "detached (port removed or vhostd stopping)", true);
	if (p->timer)
		vu_loop_timer_del(p->loop, p->timer);
	p->timer = NULL;
	if (p->lw)
		vu_loop_del(p->loop, p->lw);
	p->lw = NULL;
	if (p->lfd >= 0)
		close(p->lfd);
	p->lfd = -1;
	if (p->created_socket)
		unlink(p->path);
	p->created_socket = false;
	vu_dev_fini(&p->dev);
}
