/* SPDX-License-Identifier: MIT */
/*
 * The front-end library's back-end request channel
 * (control/frontend/vu_front_backend.h) against a fake back-end: a
 * listening socket the library connects to, which then plays the
 * back-end's side of the channel by hand.  Every message the spec
 * defines is served with the reply it asks for; every malformed one is
 * refused without reaching a callback.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control/frontend/vu_front.h"
#include "control/frontend/vu_front_backend.h"
#include "control/wire/vu_msg.h"
#include "control/wire/vu_sock.h"

#define IO_MS 2000

struct fx {
	struct vu_front *f;
	int peer;          /* the fake back-end's end of the main socket */
	int chan;          /* its end of the back-end channel */
	char dir[64], path[128];
	/* what the callbacks saw */
	int calls, last_idx, last_fd, ret;
	struct vu_iotlb iotlb;
	uint8_t uuid[16];
};

static int cb_config(void *arg)
{
	struct fx *x = arg;
	x->calls++;
	return x->ret;
}

static int cb_iotlb(void *arg, const struct vu_iotlb *m)
{
	struct fx *x = arg;
	x->calls++;
	x->iotlb = *m;
	return x->ret;
}

static int cb_notifier(void *arg, uint32_t idx, int fd, uint64_t size,
		       uint64_t offset)
{
	struct fx *x = arg;
	(void)size; (void)offset;
	x->calls++;
	x->last_idx = (int)idx;
	x->last_fd = fd;
	return x->ret;
}

static int cb_call(void *arg, uint32_t idx)
{
	struct fx *x = arg;
	x->calls++;
	x->last_idx = (int)idx;
	return x->ret;
}

static int cb_lookup(void *arg, const uint8_t uuid[16], int *fd)
{
	struct fx *x = arg;
	x->calls++;
	memcpy(x->uuid, uuid, 16);
	*fd = eventfd(0, EFD_CLOEXEC);
	x->last_fd = *fd;
	return x->ret;
}

static const struct vu_front_backend_ops ops = {
	.iotlb = cb_iotlb, .config_change = cb_config,
	.host_notifier = cb_notifier, .vring_call = cb_call,
	.shared_lookup = cb_lookup,
	/* vring_err, shared_add, shared_remove: none (refused) */
};

/* Read one request from the library on the fake back-end's side. */
static void peer_read(struct fx *x, uint32_t want, int *fds, int *nfds)
{
	struct vu_msg m;
	assert_int_equal(vu_msg_recv(x->peer, &m, fds, nfds), 1);
	assert_int_equal(m.hdr.request, want);
}

/* Connect, ack features and protocol features, open the channel. */
static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	int fds[VU_MAX_FDS], n = 0;

	snprintf(x->dir, sizeof(x->dir), "/tmp/vu-front-bk.XXXXXX");
	if (!mkdtemp(x->dir))
		return -1;
	snprintf(x->path, sizeof(x->path), "%s/be.sock", x->dir);
	int l = vu_sock_listen(x->path);
	if (l < 0 || vu_front_connect(&x->f, x->path, 1000, IO_MS) < 0)
		return -1;
	x->peer = accept(l, NULL, NULL);
	close(l);
	/* No REPLY_ACK yet when these go out: nothing to answer. */
	assert_int_equal(vu_front_set_features(x->f,
		BIT_ULL(VIRTIO_F_IOMMU_PLATFORM) |
		BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES)), 0);
	assert_int_equal(vu_front_set_protocol_features(x->f,
		BIT_ULL(VU_PROTOCOL_F_REPLY_ACK) |
		BIT_ULL(VU_PROTOCOL_F_BACKEND_REQ) |
		BIT_ULL(VU_PROTOCOL_F_CONFIG) |
		BIT_ULL(VU_PROTOCOL_F_HOST_NOTIFIER) |
		BIT_ULL(VU_PROTOCOL_F_BACKEND_SEND_FD) |
		BIT_ULL(VU_PROTOCOL_F_INBAND_NOTIFICATIONS) |
		BIT_ULL(VU_PROTOCOL_F_SHARED_OBJECT)), 0);
	/* SET_BACKEND_REQ_FD waits for its ack: queue it first. */
	struct vu_msg ack = {.hdr = {VU_REQ_SET_BACKEND_REQ_FD,
				     VU_VERSION | VU_FLAG_REPLY, 8}};
	assert_int_equal(vu_msg_send(x->peer, &ack, NULL, 0), 0);
	assert_int_equal(vu_front_backend_open(x->f, &ops, x), 0);
	peer_read(x, VU_REQ_SET_FEATURES, fds, &n);
	peer_read(x, VU_REQ_SET_PROTOCOL_FEATURES, fds, &n);
	peer_read(x, VU_REQ_SET_BACKEND_REQ_FD, fds, &n);
	assert_int_equal(n, 1);
	x->chan = fds[0];
	x->last_fd = -1;
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;
	vu_front_close(x->f);
	close(x->peer);
	if (x->chan >= 0)
		close(x->chan);
	if (x->last_fd >= 0)
		close(x->last_fd);
	unlink(x->path);
	rmdir(x->dir);
	free(x);
	return 0;
}

/* The fake back-end sends one message on the channel; the library
 * handles it. */
static void send_chan(struct fx *x, uint32_t req, uint32_t flags,
		      const void *payload, uint32_t size, int fd)
{
	struct vu_msg m = {.hdr = {req, flags, size}};
	if (size)
		memcpy(&m.payload, payload, size);
	assert_int_equal(vu_msg_send(x->chan, &m, &fd, fd >= 0 ? 1 : 0), 0);
	assert_int_equal(vu_front_backend_poll(x->f, IO_MS), 1);
}

/* The u64 reply on the channel (-1: none came); its fd to *fd. */
static long long chan_reply(struct fx *x, uint32_t req, int *fd)
{
	struct pollfd p = {.fd = x->chan, .events = POLLIN};
	struct vu_msg m;
	int fds[VU_MAX_FDS], n = 0;

	if (poll(&p, 1, 100) != 1)
		return -1;
	assert_int_equal(vu_msg_recv(x->chan, &m, fds, &n), 1);
	assert_int_equal(m.hdr.request, req);
	assert_true(m.hdr.flags & VU_FLAG_REPLY);
	assert_int_equal(m.hdr.size, 8);
	if (fd)
		*fd = n ? fds[0] : -1;
	else
		vu_close_fds(fds, n);
	return (long long)m.payload.u64;
}

#define NR (VU_VERSION | VU_FLAG_NEED_REPLY)

static void test_config_change_acked_when_asked(void **state)
{
	struct fx *x = *state;
	send_chan(x, VU_BACKEND_CONFIG_CHANGE_MSG, NR, NULL, 0, -1);
	assert_int_equal(x->calls, 1);
	assert_int_equal(chan_reply(x, VU_BACKEND_CONFIG_CHANGE_MSG, NULL), 0);
}

static void test_no_reply_without_need_reply(void **state)
{
	struct fx *x = *state;
	send_chan(x, VU_BACKEND_CONFIG_CHANGE_MSG, VU_VERSION, NULL, 0, -1);
	assert_int_equal(x->calls, 1);
	assert_int_equal(chan_reply(x, 0, NULL), -1);
}

static void test_callback_error_is_the_ack(void **state)
{
	struct fx *x = *state;
	x->ret = -ENOENT;
	send_chan(x, VU_BACKEND_CONFIG_CHANGE_MSG, NR, NULL, 0, -1);
	assert_int_equal(chan_reply(x, VU_BACKEND_CONFIG_CHANGE_MSG, NULL),
			 ENOENT);
}

static void test_iotlb_miss_reaches_callback(void **state)
{
	struct fx *x = *state;
	struct vu_iotlb m = {.iova = 0x1000, .perm = VU_IOTLB_PERM_RO,
			     .type = VU_IOTLB_MISS};
	assert_int_equal(sizeof(m), 32); /* the C struct QEMU and DPDK send */
	send_chan(x, VU_BACKEND_IOTLB_MSG, NR, &m, sizeof(m), -1);
	assert_int_equal(x->calls, 1);
	assert_int_equal(x->iotlb.iova, 0x1000);
	assert_int_equal(chan_reply(x, VU_BACKEND_IOTLB_MSG, NULL), 0);
}

static void test_iotlb_update_from_backend_refused(void **state)
{
	struct fx *x = *state;
	struct vu_iotlb m = {.iova = 0x1000, .type = VU_IOTLB_UPDATE};
	send_chan(x, VU_BACKEND_IOTLB_MSG, NR, &m, sizeof(m), -1);
	assert_int_equal(x->calls, 0);
	assert_int_equal(chan_reply(x, VU_BACKEND_IOTLB_MSG, NULL), EINVAL);
}

static void test_iotlb_without_iommu_platform_refused(void **state)
{
	struct fx *x = *state;
	struct vu_iotlb m = {.iova = 0x1000, .type = VU_IOTLB_MISS};
	struct vu_msg ack = {.hdr = {VU_REQ_SET_FEATURES,
				     VU_VERSION | VU_FLAG_REPLY, 8}};
	int fds[VU_MAX_FDS], n = 0;

	/* Features acked again, without VIRTIO_F_IOMMU_PLATFORM. */
	assert_int_equal(vu_msg_send(x->peer, &ack, NULL, 0), 0);
	assert_int_equal(vu_front_set_features(x->f,
		BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES)), 0);
	peer_read(x, VU_REQ_SET_FEATURES, fds, &n);
	send_chan(x, VU_BACKEND_IOTLB_MSG, NR, &m, sizeof(m), -1);
	assert_int_equal(x->calls, 0);
	assert_int_equal(chan_reply(x, VU_BACKEND_IOTLB_MSG, NULL), EPERM);
}

static void test_wrong_size_refused(void **state)
{
	struct fx *x = *state;
	uint64_t junk = 0;
	send_chan(x, VU_BACKEND_CONFIG_CHANGE_MSG, NR, &junk, 8, -1);
	assert_int_equal(x->calls, 0);
	assert_int_equal(chan_reply(x, VU_BACKEND_CONFIG_CHANGE_MSG, NULL),
			 EINVAL);
	assert_non_null(strstr(vu_front_why(x->f), "with 8 bytes"));
}

static void test_unknown_request_refused(void **state)
{
	struct fx *x = *state;
	send_chan(x, 42, NR, NULL, 0, -1);
	assert_int_equal(chan_reply(x, 42, NULL), ENOSYS);
}

static void test_reply_flag_in_request_refused(void **state)
{
	struct fx *x = *state;
	send_chan(x, VU_BACKEND_CONFIG_CHANGE_MSG, NR | VU_FLAG_REPLY, NULL, 0,
		  -1);
	assert_int_equal(x->calls, 0);
	assert_int_equal(chan_reply(x, VU_BACKEND_CONFIG_CHANGE_MSG, NULL),
			 EPROTO);
}

static void test_fd_where_none_allowed_refused_and_closed(void **state)
{
	struct fx *x = *state;
	int efd = eventfd(0, EFD_CLOEXEC);
	send_chan(x, VU_BACKEND_CONFIG_CHANGE_MSG, NR, NULL, 0, efd);
	close(efd);
	assert_int_equal(x->calls, 0);
	assert_int_equal(chan_reply(x, VU_BACKEND_CONFIG_CHANGE_MSG, NULL),
			 EINVAL);
}

static void test_host_notifier_hands_over_fd(void **state)
{
	struct fx *x = *state;
	struct vu_vring_area a = {.u64 = 3, .size = 4096, .offset = 0};
	int efd = eventfd(0, EFD_CLOEXEC);
	send_chan(x, VU_BACKEND_VRING_HOST_NOTIFIER_MSG, NR, &a, sizeof(a),
		  efd);
	close(efd);
	assert_int_equal(x->calls, 1);
	assert_int_equal(x->last_idx, 3);
	assert_true(x->last_fd >= 0);
	assert_int_equal(chan_reply(x, VU_BACKEND_VRING_HOST_NOTIFIER_MSG,
				    NULL), 0);
}

static void test_host_notifier_nofd_flag_with_fd_refused(void **state)
{
	struct fx *x = *state;
	struct vu_vring_area a = {.u64 = 3 | VU_VRING_NOFD_MASK};
	int efd = eventfd(0, EFD_CLOEXEC);
	send_chan(x, VU_BACKEND_VRING_HOST_NOTIFIER_MSG, NR, &a, sizeof(a),
		  efd);
	close(efd);
	assert_int_equal(x->calls, 0);
	assert_int_equal(chan_reply(x, VU_BACKEND_VRING_HOST_NOTIFIER_MSG,
				    NULL), EINVAL);
}

static void test_inband_call_reserved_num_refused(void **state)
{
	struct fx *x = *state;
	struct vu_vring_state s = {.index = 1, .num = 0};
	send_chan(x, VU_BACKEND_VRING_CALL, NR, &s, sizeof(s), -1);
	assert_int_equal(x->calls, 1);
	assert_int_equal(chan_reply(x, VU_BACKEND_VRING_CALL, NULL), 0);
	s.num = 7;
	send_chan(x, VU_BACKEND_VRING_CALL, NR, &s, sizeof(s), -1);
	assert_int_equal(x->calls, 1);
	assert_int_equal(chan_reply(x, VU_BACKEND_VRING_CALL, NULL), EINVAL);
}

static void test_missing_callback_refused(void **state)
{
	struct fx *x = *state;
	struct vu_vring_state s = {.index = 1};
	send_chan(x, VU_BACKEND_VRING_ERR, NR, &s, sizeof(s), -1);
	assert_int_equal(chan_reply(x, VU_BACKEND_VRING_ERR, NULL), EOPNOTSUPP);
}

static void test_lookup_always_replied_with_fd(void **state)
{
	struct fx *x = *state;
	struct vu_shared s = {.uuid = {9, 8, 7}};
	int fd = -1;
	/* No need_reply: the spec's reply is "dmabuf fd and u64" anyway. */
	send_chan(x, VU_BACKEND_SHARED_OBJECT_LOOKUP, VU_VERSION, &s,
		  sizeof(s), -1);
	assert_int_equal(x->uuid[0], 9);
	assert_int_equal(chan_reply(x, VU_BACKEND_SHARED_OBJECT_LOOKUP, &fd),
			 0);
	assert_true(fd >= 0);
	close(fd);
}

static void test_backend_hangup_closes_channel(void **state)
{
	struct fx *x = *state;
	close(x->chan);
	x->chan = -1;
	assert_int_equal(vu_front_backend_poll(x->f, IO_MS), -ECONNRESET);
	assert_int_equal(vu_front_backend_fd(x->f), -1);
	assert_int_equal(vu_front_backend_poll(x->f, 0), -ENOTCONN);
}

static void test_oversized_frame_closes_channel(void **state)
{
	struct fx *x = *state;
	struct vu_hdr h = {VU_BACKEND_CONFIG_CHANGE_MSG, VU_VERSION,
			   VU_PAYLOAD_MAX + 1};
	assert_int_equal(write(x->chan, &h, sizeof(h)), (ssize_t)sizeof(h));
	assert_int_equal(vu_front_backend_poll(x->f, IO_MS), -EPROTO);
	assert_int_equal(vu_front_backend_fd(x->f), -1);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_config_change_acked_when_asked),
		T(test_no_reply_without_need_reply),
		T(test_callback_error_is_the_ack),
		T(test_iotlb_miss_reaches_callback),
		T(test_iotlb_update_from_backend_refused),
		T(test_iotlb_without_iommu_platform_refused),
		T(test_wrong_size_refused),
		T(test_unknown_request_refused),
		T(test_reply_flag_in_request_refused),
		T(test_fd_where_none_allowed_refused_and_closed),
		T(test_host_notifier_hands_over_fd),
		T(test_host_notifier_nofd_flag_with_fd_refused),
		T(test_inband_call_reserved_num_refused),
		T(test_missing_callback_refused),
		T(test_lookup_always_replied_with_fd),
		T(test_backend_hangup_closes_channel),
		T(test_oversized_frame_closes_channel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
