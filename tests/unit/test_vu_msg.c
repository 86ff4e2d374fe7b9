/* SPDX-License-Identifier: MIT */
/*
 * test_vu_msg.c: the vhost-user framing codec (control/wire/vu_msg.c) over a real
 * AF_UNIX stream socketpair.  Every test counts /proc/self/fd before and
 * after, so "the fds were closed" is proven, not assumed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "control/wire/vu_msg.h"
#include "test_util.h"

#define HDR_SIZE ((uint32_t)sizeof(struct vu_hdr))

/* A request on the wire: header then size payload bytes of pattern. */
static void build(struct vu_msg *m, uint32_t req, uint32_t flags,
		  uint32_t size)
{
	tu_msg(m, req, flags, NULL, size);
	for (uint32_t i = 0; i < size; i++)
		m->payload.raw[i] = (uint8_t)(0xa0 + i);
}

static void test_whole_message_arrives_with_its_fds(void **state)
{
	int base = tu_count_fds();
	int sv[2], fds[2] = {tu_memfd(4096), tu_memfd(4096)};
	struct vu_msg m;
	struct vu_rx rx;

	(void)state;
	tu_socketpair(sv);
	build(&m, VU_REQ_SET_MEM_TABLE, VU_VERSION, 40);
	assert_int_equal(vu_msg_send(sv[1], &m, fds, 2), 0);

	vu_rx_init(&rx);
	assert_int_equal(vu_rx_read(&rx, sv[0]), 1);
	assert_int_equal(rx.msg.hdr.request, VU_REQ_SET_MEM_TABLE);
	assert_int_equal(rx.msg.hdr.flags, VU_VERSION);
	assert_int_equal(rx.msg.hdr.size, 40);
	assert_memory_equal(rx.msg.payload.raw, m.payload.raw, 40);
	assert_int_equal(rx.nfds, 2);
	assert_true(tu_same_file(rx.fds[0], fds[0]));
	assert_true(tu_same_file(rx.fds[1], fds[1]));
	vu_rx_close_fds(&rx);
	/* Nothing more: the next read returns 0 without blocking. */
	vu_rx_init(&rx);
	assert_int_equal(vu_rx_read(&rx, sv[0]), 0);

	close(fds[0]);
	close(fds[1]);
	tu_close_pair(sv);
	assert_int_equal(tu_count_fds(), base);
}

static void test_zero_size_message_is_complete_after_header(void **state)
{
	int sv[2];
	struct vu_msg m;
	struct vu_rx rx;

	(void)state;
	tu_socketpair(sv);
	build(&m, VU_REQ_GET_FEATURES, VU_VERSION, 0);
	assert_int_equal(vu_msg_send(sv[1], &m, NULL, 0), 0);
	vu_rx_init(&rx);
	assert_int_equal(vu_rx_read(&rx, sv[0]), 1);
	assert_int_equal(rx.msg.hdr.request, VU_REQ_GET_FEATURES);
	assert_int_equal(rx.msg.hdr.size, 0);
	assert_int_equal(rx.nfds, 0);
	tu_close_pair(sv);
}

/* The socket stays blocking: vu_rx_read() itself must never wait.  An
 * alarm turns a hang into a failure. */
static void test_pieces_return_0_until_message_complete(void **state)
{
	int base = tu_count_fds();
	int sv[2], fd = tu_memfd(4096);
	struct vu_msg m;
	struct vu_rx rx;
	const uint8_t *w = (const uint8_t *)&m;

	(void)state;
	tu_socketpair(sv);
	build(&m, VU_REQ_SET_VRING_KICK, VU_VERSION, 8);
	alarm(10);
	vu_rx_init(&rx);
	assert_int_equal(vu_rx_read(&rx, sv[0]), 0); /* nothing sent yet */

	tu_send_raw(sv[1], w, 5, &fd, 1);              /* part of the header */
	assert_int_equal(vu_rx_read(&rx, sv[0]), 0);
	assert_int_equal(rx.have, 5);
	assert_int_equal(rx.nfds, 1);

	tu_send_raw(sv[1], w + 5, HDR_SIZE - 5, NULL, 0); /* header done */
	assert_int_equal(vu_rx_read(&rx, sv[0]), 0);
	assert_int_equal(rx.have, HDR_SIZE);

	tu_send_raw(sv[1], w + HDR_SIZE, 3, NULL, 0);  /* some payload */
	assert_int_equal(vu_rx_read(&rx, sv[0]), 0);
	assert_int_equal(rx.have, HDR_SIZE + 3);

	tu_send_raw(sv[1], w + HDR_SIZE + 3, 5, NULL, 0); /* the rest */
	assert_int_equal(vu_rx_read(&rx, sv[0]), 1);
	alarm(0);
	assert_int_equal(rx.msg.hdr.request, VU_REQ_SET_VRING_KICK);
	assert_memory_equal(rx.msg.payload.raw, m.payload.raw, 8);
	assert_int_equal(rx.nfds, 1);
	assert_true(tu_same_file(rx.fds[0], fd));

	vu_rx_close_fds(&rx);
	close(fd);
	tu_close_pair(sv);
	assert_int_equal(tu_count_fds(), base);
}

static void test_back_to_back_messages_keep_their_own_fds(void **state)
{
	int base = tu_count_fds();
	int sv[2], a = tu_memfd(4096), b = tu_memfd(8192), c = tu_memfd(4096);
	struct vu_msg m1, m2, m3;
	struct vu_rx rx;

	(void)state;
	tu_socketpair(sv);
	/* no fds, then one fd, then a different fd: all queued before the
	 * first read. */
	build(&m1, VU_REQ_SET_VRING_NUM, VU_VERSION, 8);
	build(&m2, VU_REQ_SET_VRING_KICK, VU_VERSION, 8);
	build(&m3, VU_REQ_SET_VRING_CALL, VU_VERSION, 8);
	assert_int_equal(vu_msg_send(sv[1], &m1, NULL, 0), 0);
	int two[2] = {a, b};
	assert_int_equal(vu_msg_send(sv[1], &m2, two, 2), 0);
	assert_int_equal(vu_msg_send(sv[1], &m3, &c, 1), 0);

	vu_rx_init(&rx);
	assert_int_equal(vu_rx_read(&rx, sv[0]), 1);
	assert_int_equal(rx.msg.hdr.request, VU_REQ_SET_VRING_NUM);
	assert_int_equal(rx.nfds, 0);

	vu_rx_init(&rx);
	assert_int_equal(vu_rx_read(&rx, sv[0]), 1);
	assert_int_equal(rx.msg.hdr.request, VU_REQ_SET_VRING_KICK);
	assert_int_equal(rx.nfds, 2);
	assert_true(tu_same_file(rx.fds[0], a));
	assert_true(tu_same_file(rx.fds[1], b));
	vu_rx_close_fds(&rx);

	vu_rx_init(&rx);
	assert_int_equal(vu_rx_read(&rx, sv[0]), 1);
	assert_int_equal(rx.msg.hdr.request, VU_REQ_SET_VRING_CALL);
	assert_int_equal(rx.nfds, 1);
	assert_true(tu_same_file(rx.fds[0], c));
	vu_rx_close_fds(&rx);

	close(a);
	close(b);
	close(c);
	tu_close_pair(sv);
	assert_int_equal(tu_count_fds(), base);
}

static void test_bad_version_bits_are_eproto(void **state)
{
	static const uint32_t bad[] = {0, 2, 3, VU_FLAG_REPLY,
				       2 | VU_FLAG_NEED_REPLY};
	int base = tu_count_fds();

	(void)state;
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int sv[2], fd = tu_memfd(4096);
		struct vu_msg m;
		struct vu_rx rx;

		tu_socketpair(sv);
		build(&m, VU_REQ_SET_VRING_NUM, bad[i], 8);
		tu_send_raw(sv[1], &m, HDR_SIZE + 8, &fd, 1);
		close(fd);
		vu_rx_init(&rx);
		assert_int_equal(vu_rx_read(&rx, sv[0]), -EPROTO);
		assert_int_equal(rx.nfds, 0);
		tu_close_pair(sv);
	}
	assert_int_equal(tu_count_fds(), base);
}

static void test_size_over_payload_max_is_eproto(void **state)
{
	int base = tu_count_fds();
	int sv[2], fd = tu_memfd(4096);
	struct vu_hdr h = {.request = VU_REQ_SET_MEM_TABLE,
			   .flags = VU_VERSION, .size = VU_PAYLOAD_MAX + 1};
	struct vu_rx rx;

	(void)state;
	tu_socketpair(sv);
	tu_send_raw(sv[1], &h, sizeof(h), &fd, 1);
	close(fd);
	vu_rx_init(&rx);
	assert_int_equal(vu_rx_read(&rx, sv[0]), -EPROTO);
	tu_close_pair(sv);

	/* A size field of 0xffffffff must not be taken as a length either. */
	tu_socketpair(sv);
	h.size = UINT32_MAX;
	tu_send_raw(sv[1], &h, sizeof(h), NULL, 0);
	vu_rx_init(&rx);
	assert_int_equal(vu_rx_read(&rx, sv[0]), -EPROTO);
	tu_close_pair(sv);
	assert_int_equal(tu_count_fds(), base);
}

static void test_size_of_payload_max_is_accepted(void **state)
{
	int sv[2];
	struct vu_msg m;
	struct vu_rx rx;

	(void)state;
	tu_socketpair(sv);
	build(&m, VU_REQ_SET_CONFIG, VU_VERSION, VU_PAYLOAD_MAX);
	assert_int_equal(vu_msg_send(sv[1], &m, NULL, 0), 0);
	vu_rx_init(&rx);
	assert_int_equal(vu_rx_read(&rx, sv[0]), 1);
	assert_int_equal(rx.msg.hdr.size, VU_PAYLOAD_MAX);
	assert_memory_equal(rx.msg.payload.raw, m.payload.raw, VU_PAYLOAD_MAX);
	tu_close_pair(sv);
}

static void open_fds(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		fds[i] = tu_memfd(4096);
}

static void close_all(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

/* VU_MAX_FDS + 1 in one piece: the kernel truncates, we see MSG_CTRUNC. */
static void test_too_many_fds_in_one_piece_eproto_all_closed(void **state)
{
	int base = tu_count_fds();
	int sv[2], fds[VU_MAX_FDS + 1];
	struct vu_msg m;
	struct vu_rx rx;

	(void)state;
	tu_socketpair(sv);
	open_fds(fds, VU_MAX_FDS + 1);
	build(&m, VU_REQ_SET_MEM_TABLE, VU_VERSION, 8);
	tu_send_raw(sv[1], &m, HDR_SIZE + 8, fds, VU_MAX_FDS + 1);
	close_all(fds, VU_MAX_FDS + 1);
	vu_rx_init(&rx);
	assert_int_equal(vu_rx_read(&rx, sv[0]), -EPROTO);
	assert_int_equal(rx.nfds, 0);
	tu_close_pair(sv);
	assert_int_equal(tu_count_fds(), base);
}

/* 5 fds with the header, 5 more with the payload: 10 > VU_MAX_FDS. */
static void test_too_many_fds_across_pieces_eproto_all_closed(void **state)
{
	int base = tu_count_fds();
	int sv[2], fds[10];
	struct vu_msg m;
	struct vu_rx rx;

	(void)state;
	tu_socketpair(sv);
	open_fds(fds, 10);
	build(&m, VU_REQ_SET_MEM_TABLE, VU_VERSION, 8);
	tu_send_raw(sv[1], &m, HDR_SIZE, fds, 5);
	vu_rx_init(&rx);
	assert_int_equal(vu_rx_read(&rx, sv[0]), 0);
	assert_int_equal(rx.nfds, 5);
	tu_send_raw(sv[1], m.payload.raw, 8, fds + 5, 5);
	close_all(fds, 10);
	assert_int_equal(vu_rx_read(&rx, sv[0]), -EPROTO);
	assert_int_equal(rx.nfds, 0);
	tu_close_pair(sv);
	assert_int_equal(tu_count_fds(), base);
}

static void test_peer_close_mid_header_econnreset_fds_closed(void **state)
{
	int base = tu_count_fds();
	int sv[2], fds[2];
	struct vu_msg m;
	struct vu_rx rx;

	(void)state;
	tu_socketpair(sv);
	open_fds(fds, 2);
	build(&m, VU_REQ_SET_VRING_KICK, VU_VERSION, 8);
	tu_send_raw(sv[1], &m, 7, fds, 2);
	close_all(fds, 2);
	close(sv[1]);
	vu_rx_init(&rx);
	assert_int_equal(vu_rx_read(&rx, sv[0]), -ECONNRESET);
	assert_int_equal(rx.nfds, 0);
	close(sv[0]);
	assert_int_equal(tu_count_fds(), base);
}

static void test_peer_close_mid_payload_econnreset_fds_closed(void **state)
{
	int base = tu_count_fds();
	int sv[2], fds[3];
	struct vu_msg m;
	struct vu_rx rx;

	(void)state;
	tu_socketpair(sv);
	open_fds(fds, 3);
	build(&m, VU_REQ_SET_MEM_TABLE, VU_VERSION, 72);
	tu_send_raw(sv[1], &m, HDR_SIZE + 20, fds, 3);
	close_all(fds, 3);
	vu_rx_init(&rx);
	assert_int_equal(vu_rx_read(&rx, sv[0]), 0); /* still waiting */
	assert_int_equal(rx.nfds, 3);
	close(sv[1]);
	assert_int_equal(vu_rx_read(&rx, sv[0]), -ECONNRESET);
	assert_int_equal(rx.nfds, 0);
	close(sv[0]);
	assert_int_equal(tu_count_fds(), base);
}

static void test_peer_close_between_messages_econnreset(void **state)
{
	int sv[2];
	struct vu_rx rx;

	(void)state;
	tu_socketpair(sv);
	close(sv[1]);
	vu_rx_init(&rx);
	assert_int_equal(vu_rx_read(&rx, sv[0]), -ECONNRESET);
	close(sv[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_message_arrives_with_its_fds),
		cmocka_unit_test(test_zero_size_message_is_complete_after_header),
		cmocka_unit_test(test_pieces_return_0_until_message_complete),
		cmocka_unit_test(test_back_to_back_messages_keep_their_own_fds),
		cmocka_unit_test(test_bad_version_bits_are_eproto),
		cmocka_unit_test(test_size_over_payload_max_is_eproto),
		cmocka_unit_test(test_size_of_payload_max_is_accepted),
		cmocka_unit_test(test_too_many_fds_in_one_piece_eproto_all_closed),
		cmocka_unit_test(test_too_many_fds_across_pieces_eproto_all_closed),
		cmocka_unit_test(test_peer_close_mid_header_econnreset_fds_closed),
		cmocka_unit_test(test_peer_close_mid_payload_econnreset_fds_closed),
		cmocka_unit_test(test_peer_close_between_messages_econnreset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
