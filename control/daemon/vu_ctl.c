/* SPDX-License-Identifier: MIT */
#include "vu_ctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../datapath/log.h"
#include "../wire/vu_sock.h"

#define TAG "ctl"

struct ctl_client {
	int fd;                         /* -1: slot free */
	struct vu_watch *w;
	struct vu_ctl *ctl;
	char line[VU_CTL_LINE_MAX];
	size_t nline;
	char *out;                      /* reply, sent from out_off on */
	size_t out_len, out_off;
};

struct vu_ctl {
	struct vu_loop *loop;
	int lfd;
	struct vu_watch *lw;
	char path[108];
	const struct vu_ctl_cmd *cmds;
	int ncmds;
	struct ctl_client clients[VU_CTL_MAX_CLIENTS];
};

static void client_close(struct ctl_client *cl)
{
	if (cl->fd < 0)
		return;
	vu_loop_del(cl->ctl->loop, cl->w);
	close(cl->fd);
	free(cl->out);
	memset(cl, 0, sizeof(*cl));
	cl->fd = -1;
}

static void run_command(struct vu_ctl *c, const char *cmd, FILE *out)
{
	for (int i = 0; i < c->ncmds; i++)
		if (strcmp(cmd, c->cmds[i].name) == 0) {
			c->cmds[i].fn(out, c->cmds[i].arg);
			return;
		}
	fprintf(out, "error: unknown command '%s'; commands:\n", cmd);
	for (int i = 0; i < c->ncmds; i++)
		fprintf(out, "  %-10s %s\n", c->cmds[i].name, c->cmds[i].help);
}

static void on_client(struct vu_watch *w, uint32_t ev, void *arg);

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
	LOG_DEBUG(TAG, "command '%s'", cl->line);
	run_command(cl->ctl, cl->line, out);
	fclose(out);
	client_flush(cl);
}

static void on_client(struct vu_watch *w, uint32_t ev, void *arg)
{
	struct ctl_client *cl = arg;

	(void)w;
	if (cl->out) {                  /* writing the reply */
		if (ev & (EPOLLERR | EPOLLHUP))
			client_close(cl);
		else
			client_flush(cl);
		return;
	}
	ssize_t n = recv(cl->fd, cl->line + cl->nline,
			 sizeof(cl->line) - 1 - cl->nline, MSG_DONTWAIT);
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
		LOG_WARN(TAG, "control client sent %zu bytes without a "
			 "newline: closed", cl->nline);
		client_close(cl);
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
		static const char busy[] = "error: busy, try again\n";
		ssize_t r = send(fd, busy, sizeof(busy) - 1,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		(void)r;
		close(fd);
	}
	LOG_WARN(TAG, "%d control clients already connected: one turned away",
		 VU_CTL_MAX_CLIENTS);
}

int vu_ctl_start(struct vu_ctl **out, struct vu_loop *loop, const char *path,
		 const struct vu_ctl_cmd *cmds, int ncmds)
{
	struct vu_ctl *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	for (int i = 0; i < VU_CTL_MAX_CLIENTS; i++)
		c->clients[i].fd = -1;
	c->loop = loop;
	c->cmds = cmds;
	c->ncmds = ncmds;
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
