/* SPDX-License-Identifier: MIT */
/*
 * vu_front_resume.c: a front-end that outlives its back-end, as QEMU does
 * with a listening chardev (-chardev socket,server=on): the guest and its
 * rings carry on while the back-end restarts, and the new back-end is
 * given the rings where the old one left them.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../datapath/log.h"
#include "../../datapath/vring.h"
#include "vu_front_priv.h"
#include "vu_front_backend.h"
#include "../wire/vu_sock.h"

int vu_front_listen(const char *path)
{
	return vu_sock_listen(path);
}

/* Wait up to timeout_ms for a connection on lfd and accept it (blocking,
 * close-on-exec): the socket or a negative errno. */
static int accept_one(int lfd, int timeout_ms)
{
	struct pollfd p = {.fd = lfd, .events = POLLIN};
	int n;

	do
		n = poll(&p, 1, timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ETIMEDOUT;
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int vu_front_accept_on(struct vu_front **out, int lfd, int timeout_ms,
		       int io_timeout_ms)
{
	int fd = accept_one(lfd, timeout_ms);

	if (fd < 0) {
		LOG_WARN(VU_FRONT_LOG_TAG, "no back-end connected: %s",
			 strerror(-fd));
		return fd;
	}
	return vu_front_new(out, fd, io_timeout_ms);
}

int vu_front_reaccept(struct vu_front *f, int lfd, int timeout_ms)
{
	struct vu_front *n;
	int ret = vu_front_accept_on(&n, lfd, timeout_ms, f->io_timeout_ms);

	if (ret < 0)
		return ret;
	/* A new back-end knows nothing: negotiate again from scratch; the
	 * old one's channel went with it. */
	vu_front_backend_close(f);
	if (f->sock >= 0)
		close(f->sock);
	f->sock = n->sock;
	n->sock = -1;
	vu_front_close(n);
	f->features_offered = f->features_acked = 0;
	f->protocol_offered = f->protocol_acked = 0;
	f->queue_num = f->max_mem_slots = 0;
	f->postcopy_listening = false;
	for (uint32_t i = 0; i < VU_FRONT_MAX_VRINGS; i++)
		f->vrings[i].started = f->vrings[i].enabled = false;
	return 0;
}

int vu_front_split_used_idx(const struct vu_front *f, uint32_t idx)
{
	const struct vu_front_vring *vr;

	if (idx >= VU_FRONT_MAX_VRINGS)
		return -EINVAL;
	vr = &f->vrings[idx];
	if (!vr->num || vr->packed)
		return -EINVAL;
	/* The back-end is gone: nothing moves it; acquire anyway, the used
	 * entries before it are the driver's to read. */
	return __atomic_load_n(&((const struct vring_used *)vr->used)->idx,
			       __ATOMIC_ACQUIRE);
}
