/* SPDX-License-Identifier: MIT */
/*
 * vu_metrics.h: the --metrics HTTP server: GET /metrics, served with
 * libmicrohttpd on the control thread's event loop (never from a worker).
 *
 * MHD runs in its external-epoll mode: its epoll fd is one watch of the
 * control loop, and a timerfd set from MHD_get_timeout() another, so the
 * page is built on the control thread, between two control requests, from
 * the ports as they are at that moment.  Nothing here blocks: MHD reads and
 * writes as sockets allow.  What a client can do is bounded: at most
 * VU_METRICS_MAX_CONNS connections (VU_METRICS_MAX_PER_IP from one
 * address), each closed after VU_METRICS_IDLE_S seconds without progress;
 * a request line and headers of at most VU_METRICS_MEM bytes; only GET and
 * HEAD of /metrics (405 for other methods, 404 for other paths).
 */
#ifndef VHOSTD_VU_METRICS_H
#define VHOSTD_VU_METRICS_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>

#include "../wire/vu_loop.h"

#define VU_METRICS_MAX_CONNS 32
#define VU_METRICS_MAX_PER_IP 16
#define VU_METRICS_IDLE_S 5
#define VU_METRICS_MEM (16 * 1024)
#define VU_METRICS_ADDR_MAX 80

/* Writes the page (Prometheus text) to out; the control thread's. */
typedef void (*vu_metrics_page_fn)(FILE *out, void *arg);

struct vu_metrics;

/*
 * Parse "IPV4:PORT" or "[IPV6]:PORT" (numeric address, port 0..65535; 0
 * picks a free one) into sa/len.  0, or -EINVAL with why (a sentence).
 * Names are refused: the operator says exactly where the page is served.
 */
int vu_metrics_addr_parse(const char *s, struct sockaddr_storage *sa,
			  socklen_t *len, char *why, size_t why_len);

/* True when this build has the server (libmicrohttpd at configure time). */
bool vu_metrics_available(void);

/*
 * Listen on sa and serve page(arg) on the loop.  One log line says where
 * (with the port chosen for port 0).  0, or a negative errno after a log
 * line saying why (address not local, port in use, ...).
 */
int vu_metrics_start(struct vu_metrics **out, struct vu_loop *loop,
		     const struct sockaddr *sa, socklen_t len,
		     vu_metrics_page_fn page, void *arg);

/* Close every connection and the socket.  NULL is fine. */
void vu_metrics_stop(struct vu_metrics *m);

/*
 * The server is a module (vhostd-metrics.so, found as pmd/port_mod.h says):
 * libmicrohttpd and what it loads (GnuTLS and eight more libraries, whose
 * constructors cost ~3 ms) are loaded by a vhostd with --metrics only.
 * vu_metrics_mod.c loads it on the first vu_metrics_start().
 */
struct vu_metrics_module {
	const char *abi;              /* VU_METRICS_MODULE_ABI */
	int (*start)(struct vu_metrics **out, struct vu_loop *loop,
		     const struct sockaddr *sa, socklen_t len,
		     vu_metrics_page_fn page, void *arg);
	void (*stop)(struct vu_metrics *m);
};

#define VU_METRICS_MODULE_ABI "vhostd-metrics-module-1 " VHOSTD_VERSION

#endif
