/* SPDX-License-Identifier: MIT */
#include "vu_ctl.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../datapath/log.h"
#include "../wire/vu_fdpass.h"
#include "../wire/vu_sock.h"

#define TAG "ctl"

struct ctl_client {
	int fd;                         /* -1: slot free */
	struct vu_watch *w;
	struct vu_ctl *ctl;
	char line[VU_CTL_LINE_MAX];
	size_t nline;
	bool discard;                   /* answered; reading to end of file */
	size_t discarded;
	int fds[VU_FDPASS_MAX];         /* sent with the request */
	int nfds;
	bool ctrunc;                    /* fds were lost: refuse */
	char *out;                      /* reply, sent from out_off on */
	size_t out_len, out_off;
};

struct vu_ctl {
	struct vu_loop *loop;
	int lfd;
	struct vu_watch *lw;
	char path[108];
	struct vu_ctl_cfg cfg;
	uint64_t refused;               /* callers turned away since logged */
	time_t refused_logged;
	struct ctl_client clients[VU_CTL_MAX_CLIENTS];
};

static void client_close(struct ctl_client *cl)
{
	if (cl->fd < 0)
		return;
	vu_loop_del(cl->ctl->loop, cl->w);
	close(cl->fd);
	vu_fdpass_close(cl->fds, cl->nfds);
	free(cl->out);
	memset(cl, 0, sizeof(*cl));
	cl->fd = -1;
}

static void on_client(struct vu_watch *w, uint32_t ev, void *arg);

/* After a refusal: swallow what the client still sends, up to
 * CTL_DISCARD_MAX, then close. */
#define CTL_DISCARD_MAX (1u << 20)
static void client_discard(struct ctl_client *cl)
{
	char sink[4096];
	ssize_t n = recv(cl->fd, sink, sizeof(sink), MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	cl->discarded += n > 0 ? (size_t)n : 0;
	if (n <= 0 || cl->discarded > CTL_DISCARD_MAX)
		client_close(cl);
}

/* A one-line answer to a client about to be closed: best effort, never
 * waits. */
static void reply_close(int fd, const char *msg)
{
	ssize_t r = send(fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL);
	(void)r;
}

static bool user_in_group(uid_t uid, gid_t gid)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	gid_t groups[256];
	int n = (int)ARRAY_SIZE(groups);

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) || !res)
		return false;
	if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0)
		return false;
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

bool vu_ctl_allowed(const struct vu_ctl_cfg *cfg, uid_t uid, gid_t gid)
{
	if (uid == 0 || uid == geteuid())
		return true;
	if (!cfg->group_set)
		return false;
	return gid == cfg->gid || user_in_group(uid, cfg->gid);
}

/* SO_PEERCRED of a new connection: false (and an answer) if refused. */
static bool caller_ok(struct vu_ctl *c, int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	char msg[160];

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return false;
	if (vu_ctl_allowed(&c->cfg, cr.uid, cr.gid))
		return true;
	/* Read what it sent already: closing on unread data would reset
	 * the connection, and the answer with it. */
	char sink[VU_CTL_LINE_MAX];
	ssize_t r = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
	(void)r;
	snprintf(msg, sizeof(msg), "{\"ok\":false,\"error\":\"permission "
		 "denied: uid %u gid %u may not use this socket\"}\n",
		 (unsigned)cr.uid, (unsigned)cr.gid);
	reply_close(fd, msg);
	c->refused++;
	time_t now = time(NULL);
	if (now != c->refused_logged) {
		LOG_WARN(TAG, "control socket: refused pid %d uid %u gid %u "
			 "(%llu refused since the last such line)", (int)cr.pid,
			 (unsigned)cr.uid, (unsigned)cr.gid,
			 (unsigned long long)c->refused);
		c->refused = 0;
		c->refused_logged = now;
	}
	return false;
}

/* Send what the socket takes; wait for EPOLLOUT for the rest. */
static void client_flush(struct ctl_client *cl)
{
	while (cl->out_off < cl->out_len) {
		ssize_t n = send(cl->fd, cl->out + cl->out_off,
				 cl->out_len - cl->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			vu_loop_del(cl->ctl->loop, cl->w);
			cl->w = vu_loop_add(cl->ctl->loop, cl->fd, EPOLLOUT,
					    on_client, cl);
			if (!cl->w)
				break;
			return;
		}
		if (n <= 0)
			break;
		cl->out_off += (size_t)n;
	}
	client_close(cl);
}

/* A whole line arrived: run it and start sending the reply. */
static void client_command(struct ctl_client *cl)
{
	FILE *out = open_memstream(&cl->out, &cl->out_len);

	cl->line[strcspn(cl->line, "\r\n")] = '\0';
	if (!out) {
		client_close(cl);
		return;
	}
	LOG_DEBUG(TAG, "request '%s' with %d fds", cl->line, cl->nfds);
	if (cl->ctrunc) {
		LOG_WARN(TAG, "control request with more than %d fds (or a "
			 "cut control message): refused", VU_FDPASS_MAX);
		fprintf(out, "{\"ok\":false,\"error\":\"too many fds passed "
			"with the request (at most %d): none kept\"}\n",
			VU_FDPASS_MAX);
	} else {
		cl->ctl->cfg.fn(cl->line, cl->fds, cl->nfds, out,
				cl->ctl->cfg.arg);
	}
	vu_fdpass_close(cl->fds, cl->nfds); /* what the handler did not keep */
	cl->nfds = 0;
	fclose(out);
	client_flush(cl);
}

static void on_client(struct vu_watch *w, uint32_t ev, void *arg)
{
	struct ctl_client *cl = arg;

	(void)w;
	if (cl->discard) {
		client_discard(cl);
		return;
	}
	if (cl->out) {                  /* writing the reply */
		if (ev & (EPOLLERR | EPOLLHUP))
			client_close(cl);
		else
			client_flush(cl);
		return;
	}
	ssize_t n = vu_fdpass_recv(cl->fd, cl->line + cl->nline,
				   sizeof(cl->line) - 1 - cl->nline, cl->fds,
				   &cl->nfds, &cl->ctrunc);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(cl);
		return;
	}
	cl->nline += (size_t)n;
	cl->line[cl->nline] = '\0';
	if (strchr(cl->line, '\n'))
		client_command(cl);
	else if (cl->nline == sizeof(cl->line) - 1) {
		static const char longline[] = "{\"ok\":false,\"error\":"
			"\"request longer than 4095 bytes\"}\n";
		LOG_WARN(TAG, "control client sent %zu bytes without a "
			 "newline: refused", cl->nline);
		reply_close(cl->fd, longline);
		/* Read the rest before closing: closing on unread data
		 * resets the connection, and the answer with it. */
		cl->discard = true;
		vu_fdpass_close(cl->fds, cl->nfds);
		cl->nfds = 0;
		shutdown(cl->fd, SHUT_WR);
	}
}


static void on_accept(struct vu_watch *w, uint32_t ev, void *arg)
{
	struct vu_ctl *c = arg;

	(void)w; (void)ev;
	for (int i = 0; i < VU_CTL_MAX_CLIENTS; i++) {
		struct ctl_client *cl = &c->clients[i];
		if (cl->fd >= 0)
			continue;
		int fd = vu_sock_accept(c->lfd);
		if (fd < 0)
			return;
		if (!caller_ok(c, fd)) {
			close(fd);
			return;
		}
		cl->fd = fd;
		cl->ctl = c;
		cl->w = vu_loop_add(c->loop, fd, EPOLLIN, on_client, cl);
		if (!cl->w)
			client_close(cl);
		return;
	}
	/* Every slot busy: turn the newcomer away rather than leave the
	 * listening socket readable (a level-triggered busy loop). */
	int fd = vu_sock_accept(c->lfd);
	if (fd >= 0) {
		reply_close(fd, "{\"ok\":false,\"error\":\"busy, try "
			    "again\"}\n");
		close(fd);
	}
	LOG_WARN(TAG, "%d control clients already connected: one turned away",
		 VU_CTL_MAX_CLIENTS);
}

int vu_ctl_start(struct vu_ctl **out, struct vu_loop *loop,
		 const struct vu_ctl_cfg *cfg)
{
	const char *path = cfg->path;
	struct vu_ctl *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	for (int i = 0; i < VU_CTL_MAX_CLIENTS; i++)
		c->clients[i].fd = -1;
	c->loop = loop;
	c->cfg = *cfg;
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->lfd = vu_sock_listen(path);
	if (c->lfd < 0) {
		int err = c->lfd;
		LOG_ERR(TAG, "control socket %s: %s", path, strerror(-err));
		free(c);
		return err;
	}
	c->lw = vu_loop_add(loop, c->lfd, EPOLLIN, on_accept, c);
	if (!c->lw) {
		int err = -errno;
		close(c->lfd);
		unlink(path);
		free(c);
		return err;
	}
	LOG_INFO(TAG, "control socket %s", path);
	*out = c;
	return 0;
}

void vu_ctl_stop(struct vu_ctl *c)
{
	if (!c)
		return;
	for (int i = 0; i < VU_CTL_MAX_CLIENTS; i++)
		client_close(&c->clients[i]);
	vu_loop_del(c->loop, c->lw);
	close(c->lfd);
	unlink(c->path);
	free(c);
}
