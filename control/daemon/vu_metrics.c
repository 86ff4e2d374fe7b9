/* SPDX-License-Identifier: MIT */
/*
 * vu_metrics.c: the --metrics server (vu_metrics.h) over libmicrohttpd,
 * in MHD's external-epoll mode on the control loop.  Built as the module
 * vhostd-metrics.so: vu_metrics_mod.c calls it through the table at the
 * end.
 */
#include "vu_metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "../../datapath/log.h"
#include "prom.h"

#define TAG "metrics"

struct vu_metrics {
	struct MHD_Daemon *mhd;
	struct vu_loop *loop;
	struct vu_watch *ew, *tw;  /* MHD's epoll fd, the timer */
	int tfd;                   /* timerfd: MHD's next deadline */
	vu_metrics_page_fn page;
	void *arg;
};

static void srv_stop(struct vu_metrics *m);

/* MHD's own complaints (a client's bad request, a reset): rate-limited,
 * since any client can cause them. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[256];

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	VLOG_RL(VLOG_LVL_WARN, TAG, "http: %s", line);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int code,
			     const char *text, char *body, size_t len)
{
	struct MHD_Response *r;

	if (body)
		r = MHD_create_response_from_buffer_with_free_callback(
			len, body, free);
	else if (text)
		r = MHD_create_response_from_buffer(strlen(text),
						    (void *)text,
						    MHD_RESPMEM_PERSISTENT);
	else
		r = NULL;
	if (!r) {
		free(body);
		return MHD_NO;   /* MHD closes the connection */
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				body ? PROM_CONTENT_TYPE :
				"text/plain; charset=utf-8");
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	enum MHD_Result ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

/* The page, built now on the control thread. */
static enum MHD_Result serve_page(struct vu_metrics *m,
				  struct MHD_Connection *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
			     "out of memory\n", NULL, 0);
	m->page(f, m->arg);
	if (fclose(f) != 0 || !buf) {
		free(buf);
		return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
			     "out of memory\n", NULL, 0);
	}
	return reply(c, MHD_HTTP_OK, NULL, buf, len);
}

/* Answered on the first call, before any body is read: nothing here takes
 * a body, and MHD closes a connection whose body was not read. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_len, void **req)
{
	(void)version; (void)upload; (void)upload_len; (void)req;
	if (strcmp(url, "/metrics") != 0)
		return reply(c, MHD_HTTP_NOT_FOUND,
			     "not found: try /metrics\n", NULL, 0);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED,
			     "method not allowed: GET or HEAD\n", NULL, 0);
	return serve_page(cls, c);
}

/* After every MHD_run: wake up again when MHD wants to (a connection's
 * idle timeout; 0 when it has work pending without a new event). */
static void arm(struct vu_metrics *m)
{
	MHD_UNSIGNED_LONG_LONG ms;
	struct itimerspec its = {{0, 0}, {0, 0}};

	if (MHD_get_timeout(m->mhd, &ms) == MHD_YES) {
		its.it_value.tv_sec = (time_t)(ms / 1000);
		its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L + 1;
	}
	timerfd_settime(m->tfd, 0, &its, NULL);
}

static void on_ready(struct vu_watch *w, uint32_t ev, void *arg)
{
	struct vu_metrics *m = arg;
	uint64_t expired;

	(void)ev;
	if (w == m->tw && read(m->tfd, &expired, sizeof(expired)) < 0)
		expired = 0;
	MHD_run(m->mhd);
	arm(m);
}

/* "ADDR:PORT" or "[ADDR]:PORT" for the log. */
static void sa_str(const struct sockaddr_storage *sa, char *buf, size_t n)
{
	char host[INET6_ADDRSTRLEN] = "?";
	bool v4 = sa->ss_family == AF_INET;
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

	inet_ntop(sa->ss_family, v4 ? (const void *)&s4->sin_addr :
		  (const void *)&s6->sin6_addr, host, sizeof(host));
	snprintf(buf, n, v4 ? "%s:%u" : "[%s]:%u", host,
		 ntohs(v4 ? s4->sin_port : s6->sin6_port));
}

/* Our own listening socket, so that a refusal says exactly why; where:
 * the address bound (the port chosen for port 0). */
static int listen_on(const struct sockaddr *sa, socklen_t len, char *where,
		     size_t wlen)
{
	struct sockaddr_storage got;
	socklen_t glen = sizeof(got);
	int one = 1, fd = socket(sa->sa_family,
				 SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sa->sa_family == AF_INET6)   /* [::] means IPv6 only, as written */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, sa, len) < 0 || listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&got, &glen) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	sa_str(&got, where, wlen);
	return fd;
}

static int start_mhd(struct vu_metrics *m, int fd, bool v6)
{
	unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
			     (v6 ? MHD_USE_IPv6 : 0);

	m->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, m,
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)VU_METRICS_MAX_CONNS,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		(unsigned int)VU_METRICS_MAX_PER_IP,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)VU_METRICS_IDLE_S,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)VU_METRICS_MEM,
		MHD_OPTION_END);
	if (!m->mhd)
		return -EINVAL;
	const union MHD_DaemonInfo *info =
		MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info)
		return -EINVAL;
	m->ew = vu_loop_add(m->loop, info->epoll_fd, EPOLLIN, on_ready, m);
	m->tw = vu_loop_add(m->loop, m->tfd, EPOLLIN, on_ready, m);
	return m->ew && m->tw ? 0 : -errno;
}

static int srv_start(struct vu_metrics **out, struct vu_loop *loop,
		     const struct sockaddr *sa, socklen_t len,
		     vu_metrics_page_fn page, void *arg)
{
	struct vu_metrics *m = calloc(1, sizeof(*m));
	char where[INET6_ADDRSTRLEN + 16];
	int fd, err;

	if (!m)
		return -ENOMEM;
	*m = (struct vu_metrics){.loop = loop, .page = page, .arg = arg};
	m->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	sa_str((const struct sockaddr_storage *)sa, where, sizeof(where));
	fd = m->tfd < 0 ? -errno : listen_on(sa, len, where, sizeof(where));
	if (fd < 0) {
		err = fd;
		LOG_ERR(TAG, "--metrics: cannot listen on %s: %s", where,
			strerror(-err));
		if (fd >= 0)
			close(fd);
		srv_stop(m);
		return err;
	}
	err = start_mhd(m, fd, sa->sa_family == AF_INET6);
	if (err) {
		LOG_ERR(TAG, "--metrics: cannot start the HTTP server on %s",
			where);
		if (!m->mhd)
			close(fd);
		srv_stop(m);
		return err;
	}
	LOG_INFO(TAG, "serving http://%s/metrics", where);
	*out = m;
	return 0;
}

static void srv_stop(struct vu_metrics *m)
{
	if (!m)
		return;
	vu_loop_del(m->loop, m->ew);
	vu_loop_del(m->loop, m->tw);
	if (m->mhd)
		MHD_stop_daemon(m->mhd);   /* closes the listening socket */
	if (m->tfd >= 0)
		close(m->tfd);
	free(m);
}

const struct vu_metrics_module vhostd_metrics_module = {
	.abi = VU_METRICS_MODULE_ABI,
	.start = srv_start,
	.stop = srv_stop,
};
