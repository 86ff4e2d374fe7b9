/* SPDX-License-Identifier: MIT */
/* vu_front_raw.c: unchecked messages for hostile-input tests. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "vu_front_priv.h"
#include "../wire/vu_msg.h"

/* Skip n sent bytes in iov (advances base/len, may empty entries). */
static void iov_advance(struct iovec *iov, int cnt, size_t n)
{
	for (int i = 0; i < cnt && n > 0; i++) {
		size_t k = n < iov[i].iov_len ? n : iov[i].iov_len;
		iov[i].iov_base = (uint8_t *)iov[i].iov_base + k;
		iov[i].iov_len -= k;
		n -= k;
	}
}

int vu_front_raw_send(struct vu_front *f, const struct vu_hdr *hdr,
		      const void *payload, size_t len, const int *fds,
		      int nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VU_FRONT_RAW_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov[2] = {
		{.iov_base = (void *)hdr, .iov_len = sizeof(*hdr)},
		{.iov_base = (void *)payload, .iov_len = len},
	};
	size_t left = iov[0].iov_len + iov[1].iov_len;
	bool first = true;

	if (nfds < 0 || nfds > VU_FRONT_RAW_MAX_FDS || (nfds && !fds) ||
	    (len && !payload))
		return -EINVAL;
	while (left > 0) {
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
		if (first && nfds > 0) {
			size_t bytes = sizeof(int) * (size_t)nfds;
			memset(ctl.buf, 0, sizeof(ctl.buf));
			mh.msg_control = ctl.buf;
			mh.msg_controllen = CMSG_SPACE(bytes);
			struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(bytes);
			memcpy(CMSG_DATA(c), fds, bytes);
		}
		ssize_t n = sendmsg(f->sock, &mh, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		first = false;
		left -= (size_t)n;
		iov_advance(iov, 2, (size_t)n);
	}
	return 0;
}

int vu_front_raw_recv(struct vu_front *f, struct vu_msg *msg, int timeout_ms,
		      int *fds, int *nfds)
{
	struct pollfd p = {.fd = f->sock, .events = POLLIN};
	int n;

	do {
		n = poll(&p, 1, timeout_ms < 0 ? 0 : timeout_ms);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ETIMEDOUT;
	/* The rest of a started message is bounded by SO_RCVTIMEO. */
	if (fds && nfds)
		return vu_msg_recv(f->sock, msg, fds, nfds);
	return vu_msg_recv(f->sock, msg, NULL, NULL);
}
