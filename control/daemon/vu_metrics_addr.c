/* SPDX-License-Identifier: MIT */
/*
 * vu_metrics_addr.c: --metrics ADDR:PORT, parsed with getaddrinfo (numeric
 * hosts only).  Built whether or not the server is (vu_metrics.c needs
 * libmicrohttpd), so that the option is refused alike in every build.
 */
#include "vu_metrics.h"

#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

static int refuse(char *why, size_t n, const char *s, const char *what)
{
	snprintf(why, n, "--metrics '%.*s': %s", VU_METRICS_ADDR_MAX, s, what);
	return -EINVAL;
}

/* host: what stands before the last ':' (brackets removed). */
static int split(const char *s, char *host, size_t hlen, const char **port)
{
	const char *colon = strrchr(s, ':');

	if (!colon)
		return -1;
	*port = colon + 1;
	size_t n = (size_t)(colon - s);
	if (s[0] == '[') {
		if (n < 2 || s[n - 1] != ']')
			return -1;
		s++;
		n -= 2;
	} else if (memchr(s, ':', n)) {
		return -2;   /* an IPv6 address without brackets */
	}
	if (n == 0 || n >= hlen)
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	return 0;
}

int vu_metrics_addr_parse(const char *s, struct sockaddr_storage *sa,
			  socklen_t *len, char *why, size_t why_len)
{
	char host[VU_METRICS_ADDR_MAX];
	const char *port;
	char *end;

	if (strlen(s) >= VU_METRICS_ADDR_MAX)
		return refuse(why, why_len, s, "longer than 79 bytes");
	int r = split(s, host, sizeof(host), &port);
	if (r == -2)
		return refuse(why, why_len, s, "an IPv6 address goes in "
			      "brackets: [ADDR]:PORT");
	if (r < 0)
		return refuse(why, why_len, s, "not ADDR:PORT or [ADDR]:PORT");
	errno = 0;
	unsigned long p = strtoul(port, &end, 10);
	if (!*port || *end || errno || p > 65535 || port[0] < '0' ||
	    port[0] > '9')
		return refuse(why, why_len, s, "the port is not 0..65535");

	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST,
				 .ai_socktype = SOCK_STREAM}, *ai;
	if (getaddrinfo(host, NULL, &hints, &ai) != 0)
		return refuse(why, why_len, s, "not a numeric IPv4 or IPv6 "
			      "address");
	memset(sa, 0, sizeof(*sa));
	memcpy(sa, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	if (sa->ss_family == AF_INET)
		((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)p);
	else
		((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)p);
	return 0;
}

#if !VHOSTD_HAVE_MHD
/* A build without libmicrohttpd: --metrics is refused when parsed
 * (vhostd_opts.c asks vu_metrics_available()); these are never reached. */
bool vu_metrics_available(void)
{
	return false;
}

int vu_metrics_start(struct vu_metrics **out, struct vu_loop *loop,
		     const struct sockaddr *sa, socklen_t len,
		     vu_metrics_page_fn page, void *arg)
{
	(void)out; (void)loop; (void)sa; (void)len; (void)page; (void)arg;
	return -ENOTSUP;
}

void vu_metrics_stop(struct vu_metrics *m)
{
	(void)m;
}
#endif
