/* SPDX-License-Identifier: MIT */
/*
 * test_util.h: helpers shared by the cmocka unit tests (static inline, no
 * library): memfd-backed guest memory, fd counting through /proc/self/fd,
 * socketpairs, raw sends with SCM_RIGHTS and message building.
 *
 * Include after <cmocka.h>; the helpers fail the running test on a broken
 * environment (no memfd, no socketpair) rather than returning errors.
 */
#ifndef VHOSTD_TEST_UTIL_H
#define VHOSTD_TEST_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control/backend/vu_dev.h"
#include "control/wire/vu_proto.h"

/* Number of open fds of this process (the directory's own fd included,
 * which is the same on every call, so counts compare). */
static inline int tu_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static inline bool tu_fd_is_open(int fd)
{
	return fd >= 0 && fcntl(fd, F_GETFD) >= 0;
}

/* Same open file description target: same device and inode. */
static inline bool tu_same_file(int a, int b)
{
	struct stat sa, sb;

	if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0)
		return false;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* A memfd of size bytes, zero filled. */
static inline int tu_memfd(size_t size)
{
	int fd = memfd_create("vhostd-unit", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

/* Blocking AF_UNIX stream pair. */
static inline void tu_socketpair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
}

static inline void tu_close_pair(int sv[2])
{
	close(sv[0]);
	close(sv[1]);
	sv[0] = sv[1] = -1;
}

/* One sendmsg() of len bytes with nfds (up to 16) fds attached; asserts
 * that all of it went out. */
#define TU_MAX_RAW_FDS 16
static inline void tu_send_raw(int sock, const void *buf, size_t len,
			       const int *fds, int nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * TU_MAX_RAW_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = (void *)(uintptr_t)buf, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	assert_true(nfds >= 0 && nfds <= TU_MAX_RAW_FDS);
	if (nfds > 0) {
		memset(ctl.buf, 0, sizeof(ctl.buf));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	assert_int_equal(sendmsg(sock, &mh, MSG_NOSIGNAL), (ssize_t)len);
}

/* Nothing waiting to be read on sock (no reply was sent). */
static inline bool tu_sock_empty(int sock)
{
	char c;
	ssize_t n = recv(sock, &c, 1, MSG_PEEK | MSG_DONTWAIT);

	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* A request header and size bytes of payload (payload may be NULL: zeros). */
static inline void tu_msg(struct vu_msg *m, uint32_t req, uint32_t flags,
			  const void *payload, uint32_t size)
{
	memset(m, 0, sizeof(*m));
	m->hdr.request = req;
	m->hdr.flags = flags;
	m->hdr.size = size;
	if (payload && size)
		memcpy(m->payload.raw, payload, size);
}

static inline void tu_msg_u64(struct vu_msg *m, uint32_t req, uint32_t flags,
			      uint64_t v)
{
	tu_msg(m, req, flags, &v, sizeof(v));
}

static inline void tu_msg_state(struct vu_msg *m, uint32_t req,
				uint32_t flags, uint32_t index, uint32_t num)
{
	struct vu_vring_state s = {.index = index, .num = num};

	tu_msg(m, req, flags, &s, sizeof(s));
}

/* The device configuration the control-plane tests use. */
#define TU_FEATURES                                                        \
	(BIT_ULL(VIRTIO_F_VERSION_1) |                                     \
	 BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES) |                         \
	 BIT_ULL(VIRTIO_NET_F_MQ) | BIT_ULL(VIRTIO_NET_F_MTU) |            \
	 BIT_ULL(VIRTIO_NET_F_MAC) | BIT_ULL(VIRTIO_NET_F_STATUS) |        \
	 BIT_ULL(VHOST_F_LOG_ALL))
#define TU_PROTOCOL_FEATURES                                               \
	(BIT_ULL(VU_PROTOCOL_F_MQ) | BIT_ULL(VU_PROTOCOL_F_LOG_SHMFD) |    \
	 BIT_ULL(VU_PROTOCOL_F_RARP) | BIT_ULL(VU_PROTOCOL_F_REPLY_ACK) |  \
	 BIT_ULL(VU_PROTOCOL_F_MTU) | BIT_ULL(VU_PROTOCOL_F_BACKEND_REQ) | \
	 BIT_ULL(VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS) |                      \
	 BIT_ULL(VU_PROTOCOL_F_STATUS) | BIT_ULL(VU_PROTOCOL_F_CONFIG) |   \
	 BIT_ULL(VU_PROTOCOL_F_RESET_DEVICE))
#define TU_MAX_QUEUE_PAIRS 2u
#define TU_MTU 1500u
#define TU_MAC {0x52, 0x54, 0x00, 0x12, 0x34, 0x56}

static inline struct vu_dev_cfg tu_dev_cfg(void)
{
	return (struct vu_dev_cfg){
		.name = "unit0",
		.max_queue_pairs = TU_MAX_QUEUE_PAIRS,
		.features = TU_FEATURES,
		.protocol_features = TU_PROTOCOL_FEATURES,
		.mac = TU_MAC,
		.mtu = TU_MTU,
	};
}

#endif
