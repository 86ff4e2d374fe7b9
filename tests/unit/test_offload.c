/* SPDX-License-Identifier: MIT */
/*
 * test_offload.c: ofl_classify()'s rules for frames that ask for no work
 * (datapath/offload.h); segmentation and checksum completion are covered
 * end to end by integration-offload.  DATA_VALID reaches a receiver only
 * from a sender that may set it (a port whose hardware checked the sum)
 * and only when the receiver took GUEST_CSUM; a guest's TX header must not
 * carry it (virtio 1.x 5.1.6.2.1) and it is cleared.  A GSO frame with a
 * gso_size below Linux's smallest TCP MSS (88), or of more segments than
 * OFL_GSO_SEGS_MAX, is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "datapath/offload.h"

static enum ofl_action classify(uint8_t flags, struct ofl_caps snd,
				struct ofl_caps rcv)
{
	struct virtio_net_hdr h = {.flags = flags};
	struct ofl_tso t;

	return ofl_classify(&h, 60, &snd, &rcv, NULL, 12, &t);
}

static const struct ofl_caps NONE = {false, false, false, false};
static const struct ofl_caps PORT_VALID = {false, false, false, true};
static const struct ofl_caps GUEST_CSUM = {true, false, false, false};

static void test_no_flags_is_plain(void **st)
{
	(void)st;
	assert_int_equal(classify(0, PORT_VALID, GUEST_CSUM), OFL_PLAIN);
	assert_int_equal(classify(0, NONE, NONE), OFL_PLAIN);
}

static void test_data_valid_from_a_port_to_guest_csum_passes(void **st)
{
	(void)st;
	assert_int_equal(classify(VIRTIO_NET_HDR_F_DATA_VALID, PORT_VALID,
				  GUEST_CSUM), OFL_PASS);
}

static void test_data_valid_to_a_receiver_without_guest_csum_is_cleared(
	void **st)
{
	(void)st;
	assert_int_equal(classify(VIRTIO_NET_HDR_F_DATA_VALID, PORT_VALID,
				  NONE), OFL_PLAIN);
}

static void test_data_valid_from_a_guest_is_cleared(void **st)
{
	(void)st;
	assert_int_equal(classify(VIRTIO_NET_HDR_F_DATA_VALID, GUEST_CSUM,
				  GUEST_CSUM), OFL_PLAIN);
}

/* A TSO4 frame of len bytes with gso_size mss, asked of a receiver that
 * takes TSO (so nothing but the refusal keeps it from passing). */
static enum ofl_action classify_gso(uint32_t len, uint16_t mss)
{
	static const struct ofl_caps tso = {true, true, false, false};
	struct virtio_net_hdr h = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = mss,
		.csum_start = 34, .csum_offset = 16};
	struct ofl_tso t;

	return ofl_classify(&h, len, &tso, &tso, NULL, 12, &t);
}

/* Linux's TCP_MIN_MSS is 88: a smaller gso_size is refused, whoever would
 * cut the frame. */
static void test_gso_size_below_88_is_refused(void **st)
{
	(void)st;
	assert_int_equal(classify_gso(65000, 1), OFL_GSO_REFUSED);
	assert_int_equal(classify_gso(65000, OFL_GSO_SIZE_MIN - 1),
			 OFL_GSO_REFUSED);
	assert_int_equal(classify_gso(65000, OFL_GSO_SIZE_MIN), OFL_PASS);
}

/* More segments than OFL_GSO_SEGS_MAX (only a frame longer than 64 KiB
 * has them at gso_size 88) is refused too. */
static void test_gso_frame_of_too_many_segments_is_refused(void **st)
{
	(void)st;
	assert_int_equal(classify_gso(OFL_GSO_SEGS_MAX * 88u, 88),
			 OFL_GSO_REFUSED);
	assert_int_equal(classify_gso(OFL_GSO_SEGS_MAX * 88u - 1, 88),
			 OFL_PASS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_flags_is_plain),
		cmocka_unit_test(
			test_data_valid_from_a_port_to_guest_csum_passes),
		cmocka_unit_test(
		  test_data_valid_to_a_receiver_without_guest_csum_is_cleared),
		cmocka_unit_test(test_data_valid_from_a_guest_is_cleared),
		cmocka_unit_test(test_gso_size_below_88_is_refused),
		cmocka_unit_test(test_gso_frame_of_too_many_segments_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
