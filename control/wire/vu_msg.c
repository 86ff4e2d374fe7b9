/* SPDX-License-Identifier: MIT */
#include "vu_msg.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../datapath/compiler.h"

static const char *const request_names[VU_REQ_MAX] = {
#define VU_X_NAME(name, id) [id] = "VHOST_USER_" #name,
	VU_REQUEST_IDS(VU_X_NAME)
#undef VU_X_NAME
};

const char *vu_request_name(uint32_t req)
{
	if (req < VU_REQ_MAX && request_names[req])
		return request_names[req];
	return "UNKNOWN";
}

static const char *const backend_names[VU_BACKEND_MAX] = {
#define VU_X_BNAME(name, id) [id] = "VHOST_USER_BACKEND_" #name,
	VU_BACKEND_REQUEST_IDS(VU_X_BNAME)
#undef VU_X_BNAME
};

const char *vu_backend_request_name(uint32_t req)
{
	if (req < VU_BACKEND_MAX && backend_names[req])
		return backend_names[req];
	return "UNKNOWN";
}

void vu_close_fds(int *fds, int nfds)
{
	for (int i = 0; i < nfds; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

void vu_rx_init(struct vu_rx *rx)
{
	rx->have = 0;
	rx->nfds = 0;
	rx->msg.hdr.size = 0;
}

void vu_rx_close_fds(struct vu_rx *rx)
{
	vu_close_fds(rx->fds, rx->nfds);
	rx->nfds = 0;
}

/* Collect SCM_RIGHTS fds; returns -EPROTO if they do not fit. */
static int rx_take_fds(struct vu_rx *rx, struct msghdr *mh)
{
	int err = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *p = (int *)(void *)CMSG_DATA(c);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, &p[i], sizeof(fd));
			if (rx->nfds < VU_MAX_FDS) {
				rx->fds[rx->nfds++] = fd;
			} else {
				close(fd);
				err = -EPROTO;
			}
		}
	}
	if (mh->msg_flags & MSG_CTRUNC)
		err = -EPROTO; /* the kernel already dropped the excess */
	return err;
}

static size_t rx_want(const struct vu_rx *rx)
{
	if (rx->have < sizeof(struct vu_hdr))
		return sizeof(struct vu_hdr) - rx->have;
	return sizeof(struct vu_hdr) + rx->msg.hdr.size - rx->have;
}

static int rx_fail(struct vu_rx *rx, int err)
{
	vu_rx_close_fds(rx);
	return err;
}

int vu_rx_read(struct vu_rx *rx, int sock)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VU_MAX_FDS)];
		struct cmsghdr align;
	} ctl;

	for (;;) {
		size_t want = rx_want(rx);
		if (want == 0 && rx->have >= sizeof(struct vu_hdr))
			return 1;

		struct iovec iov = {
			.iov_base = (uint8_t *)&rx->msg + rx->have,
			.iov_len = want,
		};
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
		};
		ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return rx_fail(rx, -errno);
		}
		int err = rx_take_fds(rx, &mh);
		if (err)
			return rx_fail(rx, err);
		if (n == 0)
			return rx_fail(rx, -ECONNRESET);
		rx->have += (size_t)n;
		if (rx->have == sizeof(struct vu_hdr)) {
			const struct vu_hdr *h = &rx->msg.hdr;
			if ((h->flags & VU_VERSION_MASK) != VU_VERSION ||
			    h->size > VU_PAYLOAD_MAX)
				return rx_fail(rx, -EPROTO);
		}
	}
}

static int msg_send(int sock, const struct vu_msg *msg, const int *fds,
		    int nfds, int flags)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VU_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	size_t total = sizeof(struct vu_hdr) + msg->hdr.size;
	size_t off = 0;

	if (nfds < 0 || nfds > VU_MAX_FDS || msg->hdr.size > VU_PAYLOAD_MAX)
		return -EINVAL;
	while (off < total) {
		struct iovec iov = {
			.iov_base = (uint8_t *)msg + off, .iov_len = total - off,
		};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
		if (off == 0 && nfds > 0) {
			memset(ctl.buf, 0, sizeof(ctl.buf));
			mh.msg_control = ctl.buf;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
			struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
			memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
		}
		ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL | flags);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (size_t)n;
	}
	return 0;
}

int vu_msg_send(int sock, const struct vu_msg *msg, const int *fds, int nfds)
{
	return msg_send(sock, msg, fds, nfds, 0);
}

int vu_msg_send_nowait(int sock, const struct vu_msg *msg)
{
	return msg_send(sock, msg, NULL, 0, MSG_DONTWAIT);
}

int vu_msg_recv(int sock, struct vu_msg *msg, int *fds, int *nfds)
{
	struct vu_rx rx;
	int r;

	vu_rx_init(&rx);
	for (;;) {
		r = vu_rx_read(&rx, sock);
		if (r != 0)
			break;
		/* Blocking use: wait for more data. */
		char c;
		ssize_t p = recv(sock, &c, 1, MSG_PEEK);
		if (p == 0) {
			vu_rx_close_fds(&rx);
			return -ECONNRESET;
		}
		if (p < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			vu_rx_close_fds(&rx);
			return -ETIMEDOUT; /* SO_RCVTIMEO expired */
		}
		if (p < 0 && errno != EINTR) {
			vu_rx_close_fds(&rx);
			return -errno;
		}
	}
	if (r < 0)
		return r;
	memcpy(msg, &rx.msg, sizeof(struct vu_hdr) + rx.msg.hdr.size);
	if (fds && nfds) {
		memcpy(fds, rx.fds, sizeof(int) * (size_t)rx.nfds);
		*nfds = rx.nfds;
	} else {
		vu_rx_close_fds(&rx);
	}
	return 1;
}
