/* SPDX-License-Identifier: MIT */
/* vu_front.c: front-end connection (connect / accept), close, getters. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../../datapath/log.h"
#include "vu_front_priv.h"
#include "../wire/vu_sock.h"

#define FRONT_RETRY_MS 10

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
			      .tv_nsec = (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

static int front_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (!path || strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

static int front_set_timeouts(int fd, int ms)
{
	struct timeval tv = {.tv_sec = ms / 1000,
			     .tv_usec = (ms % 1000) * 1000};

	if (ms <= 0)
		return -EINVAL;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	return 0;
}

int vu_front_new(struct vu_front **out, int fd, int io_timeout_ms)
{
	struct vu_front *f = calloc(1, sizeof(*f));
	int ret = front_set_timeouts(fd, io_timeout_ms);

	if (!f || ret < 0) {
		free(f);
		close(fd);
		return f ? ret : -ENOMEM;
	}
	f->sock = fd;
	f->io_timeout_ms = io_timeout_ms;
	f->backend_fd = -1;
	for (uint32_t i = 0; i < VU_FRONT_MAX_VRINGS; i++)
		f->vrings[i].kick_fd = f->vrings[i].call_fd = -1;
	*out = f;
	return 0;
}

/* One connect attempt; returns the socket or a negative errno. */
static int front_try_connect(const struct sockaddr_un *sa, int io_timeout_ms)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	/* SO_SNDTIMEO also bounds connect() to a full backlog. */
	int ret = front_set_timeouts(fd, io_timeout_ms);
	if (ret == 0 && connect(fd, (const struct sockaddr *)sa,
				sizeof(*sa)) < 0)
		ret = -errno;
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd;
}

int vu_front_connect(struct vu_front **out, const char *path,
		     int connect_timeout_ms, int io_timeout_ms)
{
	struct sockaddr_un sa;
	int64_t deadline = now_ms() + connect_timeout_ms;
	int fd, ret = front_addr(&sa, path);

	if (ret < 0)
		return ret;
	for (;;) {
		fd = front_try_connect(&sa, io_timeout_ms);
		if (fd >= 0)
			return vu_front_new(out, fd, io_timeout_ms);
		if (fd != -ENOENT && fd != -ECONNREFUSED && fd != -EAGAIN)
			return fd;
		if (now_ms() >= deadline) {
			LOG_WARN(VU_FRONT_LOG_TAG,
				 "%s: no back-end after %d ms", path,
				 connect_timeout_ms);
			return -ETIMEDOUT;
		}
		sleep_ms(FRONT_RETRY_MS);
	}
}

/* Wait up to timeout_ms for fd to become readable: 0, -ETIMEDOUT, errno. */
static int front_wait_readable(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int64_t deadline = now_ms() + timeout_ms;

	for (;;) {
		int64_t left = deadline - now_ms();
		int n = poll(&p, 1, left > 0 ? (int)left : 0);
		if (n > 0)
			return 0;
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

int vu_front_accept(struct vu_front **out, const char *path,
		    int accept_timeout_ms, int io_timeout_ms)
{
	int lfd = vu_sock_listen(path);
	int fd;

	if (lfd < 0)
		return lfd;
	fd = front_wait_readable(lfd, accept_timeout_ms);
	if (fd == 0) {
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			fd = -errno;
	}
	close(lfd);
	unlink(path);
	if (fd < 0) {
		LOG_WARN(VU_FRONT_LOG_TAG, "%s: no back-end connected: %s",
			 path, strerror(-fd));
		return fd;
	}
	return vu_front_new(out, fd, io_timeout_ms);
}

void vu_front_close(struct vu_front *f)
{
	if (!f)
		return;
	for (uint32_t i = 0; i < VU_FRONT_MAX_VRINGS; i++) {
		if (f->vrings[i].kick_fd >= 0)
			close(f->vrings[i].kick_fd);
		if (f->vrings[i].call_fd >= 0)
			close(f->vrings[i].call_fd);
	}
	vu_front_backend_close(f);
	if (f->mem_ready)
		vu_guestmem_fini(&f->mem);
	if (f->sock >= 0)
		close(f->sock);
	free(f);
}

int vu_front_sock(const struct vu_front *f)
{
	return f->sock;
}

uint64_t vu_front_features_offered(const struct vu_front *f)
{
	return f->features_offered;
}

uint64_t vu_front_features_acked(const struct vu_front *f)
{
	return f->features_acked;
}

uint64_t vu_front_protocol_offered(const struct vu_front *f)
{
	return f->protocol_offered;
}

uint64_t vu_front_protocol_acked(const struct vu_front *f)
{
	return f->protocol_acked;
}

uint64_t vu_front_queue_num(const struct vu_front *f)
{
	return f->queue_num;
}

uint64_t vu_front_max_mem_slots(const struct vu_front *f)
{
	return f->max_mem_slots;
}

bool vu_front_has_protocol(const struct vu_front *f, unsigned int bit)
{
	return bit < 64 && (f->protocol_acked & BIT_ULL(bit));
}
