/* SPDX-License-Identifier: MIT */
#include "vu_fdpass.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

void vu_fdpass_close(int *fds, int n)
{
	for (int i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

ssize_t vu_fdpass_recv(int sock, void *buf, size_t len, int *fds, int *nfds,
		       bool *ctrunc)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * VU_FDPASS_MAX)];
	} cm;
	struct iovec iov = {buf, len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = cm.b,
			    .msg_controllen = sizeof(cm.b)};
	ssize_t r = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	if (r < 0)
		return r;
	if (mh.msg_flags & MSG_CTRUNC)
		*ctrunc = true;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c;
	     c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (*nfds < VU_FDPASS_MAX) {
				fds[(*nfds)++] = fd;
			} else {
				close(fd);
				*ctrunc = true;
			}
		}
	}
	return r;
}

int vu_fdpass_check_stream(int fd, bool *listening, char *why, size_t n)
{
	struct stat st;
	int dom, type, acc;
	socklen_t len = sizeof(int);

	if (fstat(fd, &st) < 0)
		return snprintf(why, n, "fd is not open"), -EBADF;
	if (!S_ISSOCK(st.st_mode))
		return snprintf(why, n, "fd is %s, not a socket",
				S_ISREG(st.st_mode) ? "a regular file" :
				S_ISDIR(st.st_mode) ? "a directory" :
				S_ISFIFO(st.st_mode) ? "a pipe" :
				S_ISCHR(st.st_mode) ? "a character device" :
				"not a socket"), -ENOTSOCK;
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &len) < 0)
		return snprintf(why, n, "fd: SO_DOMAIN: %s", strerror(errno)),
		       -ENOTSOCK;
	if (dom != AF_UNIX)
		return snprintf(why, n, "fd is a socket of family %d (%s), not "
				"AF_UNIX", dom, dom == AF_INET ? "AF_INET" :
				dom == AF_INET6 ? "AF_INET6" :
				dom == AF_NETLINK ? "AF_NETLINK" : "other"),
		       -EAFNOSUPPORT;
	len = sizeof(int);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
	    type != SOCK_STREAM)
		return snprintf(why, n, "fd is a unix %s socket, not "
				"SOCK_STREAM", type == SOCK_DGRAM ? "datagram" :
				type == SOCK_SEQPACKET ? "seqpacket" : "non-stream"),
		       -ESOCKTNOSUPPORT;
	len = sizeof(int);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) < 0)
		return snprintf(why, n, "fd: SO_ACCEPTCONN: %s",
				strerror(errno)), -ENOTSOCK;
	*listening = acc != 0;
	struct sockaddr_storage sa;
	len = sizeof(sa);
	if (!acc && getpeername(fd, (struct sockaddr *)&sa, &len) < 0)
		return snprintf(why, n, "fd is a unix stream socket neither "
				"connected nor listening"), -ENOTCONN;
	return 0;
}
