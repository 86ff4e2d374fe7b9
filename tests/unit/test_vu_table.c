/* SPDX-License-Identifier: MIT */
/*
 * test_vu_table.c: the request table and vu_validate() (control/backend/vu_table.c),
 * against a device fresh from vu_dev_init() (2 queue pairs: rings 0..3).
 * State the checks depend on (negotiated features, a memory table) is set
 * directly on the device: the handlers are tested in test_vu_dev.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control/backend/vu_table.h"
#include "test_util.h"

#define NVRINGS (2 * TU_MAX_QUEUE_PAIRS)

struct fx {
	struct vu_dev dev;
	struct vu_msg msg;
	char why[256];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct vu_dev_cfg cfg = tu_dev_cfg();

	if (!f || vu_dev_init(&f->dev, &cfg) != 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	vu_dev_fini(&f->dev);
	free(f);
	return 0;
}

/* What the front-end negotiates in the normal flow. */
static void negotiated(struct fx *f)
{
	f->dev.features = TU_FEATURES;
	f->dev.features_set = true;
	f->dev.protocol_features = TU_PROTOCOL_FEATURES;
}

static int validate(struct fx *f, int nfds)
{
	f->why[0] = '\0';
	return vu_validate(&f->dev, &f->msg, nfds, f->why, sizeof(f->why));
}

static int check(struct fx *f, uint32_t req, uint32_t flags, uint32_t size,
		 int nfds)
{
	tu_msg(&f->msg, req, flags, NULL, size);
	return validate(f, nfds);
}

static int check_state(struct fx *f, uint32_t req, uint32_t index,
		       uint32_t num)
{
	tu_msg_state(&f->msg, req, VU_VERSION, index, num);
	return validate(f, 0);
}

static int check_u64(struct fx *f, uint32_t req, uint64_t v, int nfds)
{
	tu_msg_u64(&f->msg, req, VU_VERSION, v);
	return validate(f, nfds);
}

static void test_every_request_id_1_to_43_has_a_row(void **state)
{
	(void)state;
	for (uint32_t id = 1; id <= 43; id++) {
		const struct vu_rule *r = vu_rule_get(id);
		assert_non_null(r);
		/* The row is the one for that id. */
		assert_string_equal(r->name, vu_request_name(id));
	}
}

static void test_ids_outside_1_to_43_have_no_row(void **state)
{
	(void)state;
	assert_null(vu_rule_get(0));
	assert_null(vu_rule_get(44));
	assert_null(vu_rule_get(1000));
	assert_null(vu_rule_get(UINT32_MAX));
}

static void test_well_formed_requests_pass(void **state)
{
	struct fx *f = *state;

	negotiated(f);
	assert_int_equal(check(f, VU_REQ_GET_FEATURES, VU_VERSION, 0, 0), 0);
	assert_int_equal(check(f, VU_REQ_GET_FEATURES,
			       VU_VERSION | VU_FLAG_NEED_REPLY, 0, 0), 0);
	assert_int_equal(check_u64(f, VU_REQ_SET_FEATURES, 0, 0), 0);
	assert_int_equal(check_state(f, VU_REQ_SET_VRING_NUM, NVRINGS - 1,
				     256), 0);
	assert_int_equal(check_u64(f, VU_REQ_SET_VRING_KICK, NVRINGS - 1, 1),
			 0);
	assert_int_equal(check_u64(f, VU_REQ_SET_VRING_CALL,
				   VU_VRING_NOFD_MASK | 0, 0), 0);
	assert_int_equal(check(f, VU_REQ_SET_MEM_TABLE, VU_VERSION, 8 + 2 * 32,
			       2), 0);
	assert_int_equal(check(f, VU_REQ_ADD_MEM_REG, VU_VERSION, 40, 1), 0);
	assert_int_equal(check(f, VU_REQ_REM_MEM_REG, VU_VERSION, 40, 0), 0);
	assert_int_equal(check(f, VU_REQ_GET_CONFIG, VU_VERSION, 12 + 12, 0),
			 0);
}

static void test_unknown_request_id_is_enosys(void **state)
{
	struct fx *f = *state;
	static const uint32_t ids[] = {0, 44, 1000, UINT32_MAX};

	negotiated(f);
	for (unsigned i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		assert_int_equal(check(f, ids[i], VU_VERSION, 0, 0), -ENOSYS);
		assert_non_null(strstr(f->why, "unknown request"));
	}
}

static void test_unsupported_request_is_enotsup_naming_it(void **state)
{
	struct fx *f = *state;
	static const uint32_t ids[] = {
		VU_REQ_IOTLB_MSG, VU_REQ_SET_VRING_ENDIAN,
		VU_REQ_CREATE_CRYPTO_SESSION, VU_REQ_POSTCOPY_ADVISE,
		VU_REQ_POSTCOPY_LISTEN, VU_REQ_POSTCOPY_END,
		VU_REQ_GET_INFLIGHT_FD, VU_REQ_SET_INFLIGHT_FD,
		VU_REQ_GPU_SET_SOCKET, VU_REQ_VRING_KICK,
		VU_REQ_GET_SHARED_OBJECT, VU_REQ_SET_DEVICE_STATE_FD,
		VU_REQ_CHECK_DEVICE_STATE,
	};

	negotiated(f);
	for (unsigned i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		const struct vu_rule *r = vu_rule_get(ids[i]);
		assert_non_null(r);
		assert_null(r->handler);
		assert_int_equal(check(f, ids[i], VU_VERSION, 8, 0), -ENOTSUP);
		assert_non_null(strstr(f->why, vu_request_name(ids[i])));
		assert_non_null(strstr(f->why, r->why_not));
	}
}

static void test_reply_flag_in_request_is_eproto(void **state)
{
	struct fx *f = *state;

	negotiated(f);
	assert_int_equal(check(f, VU_REQ_GET_FEATURES,
			       VU_VERSION | VU_FLAG_REPLY, 0, 0), -EPROTO);
	assert_int_equal(check_u64(f, VU_REQ_SET_FEATURES, 0, 0), 0);
	f->msg.hdr.flags |= VU_FLAG_REPLY;
	assert_int_equal(validate(f, 0), -EPROTO);
}

static void test_unknown_flag_bits_are_eproto(void **state)
{
	struct fx *f = *state;
	static const uint32_t bad[] = {1u << 4, 1u << 5, 1u << 16, 1u << 31};

	negotiated(f);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(check(f, VU_REQ_GET_FEATURES,
				       VU_VERSION | bad[i], 0, 0), -EPROTO);
	/* Checked before the id: an unknown id with bad flags is EPROTO. */
	assert_int_equal(check(f, 1000, VU_VERSION | (1u << 7), 0, 0), -EPROTO);
}

static void test_short_payload_refused(void **state)
{
	struct fx *f = *state;

	negotiated(f);
	assert_int_equal(check(f, VU_REQ_SET_FEATURES, VU_VERSION, 4, 0),
			 -EINVAL);
	assert_non_null(strstr(f->why, "payload size 4"));
	assert_int_equal(check(f, VU_REQ_SET_VRING_ADDR, VU_VERSION, 39, 0),
			 -EINVAL);
	assert_int_equal(check(f, VU_REQ_SET_MEM_TABLE, VU_VERSION, 7, 0),
			 -EINVAL);
	assert_int_equal(check(f, VU_REQ_GET_CONFIG, VU_VERSION, 11, 0),
			 -EINVAL);
	assert_int_equal(check(f, VU_REQ_ADD_MEM_REG, VU_VERSION, 32, 1),
			 -EINVAL);
}

static void test_oversized_payload_refused(void **state)
{
	struct fx *f = *state;

	negotiated(f);
	assert_int_equal(check(f, VU_REQ_SET_FEATURES, VU_VERSION, 16, 0),
			 -EINVAL);
	assert_int_equal(check(f, VU_REQ_SET_MEM_TABLE, VU_VERSION,
			       8 + 9 * 32, 8), -EINVAL);
	assert_int_equal(check(f, VU_REQ_GET_CONFIG, VU_VERSION,
			       12 + 256 + 1, 0), -EINVAL);
	assert_int_equal(check(f, VU_REQ_SET_CONFIG, VU_VERSION,
			       VU_PAYLOAD_MAX, 0), -EINVAL);
}

static void test_payload_size_wrong_for_request_refused(void **state)
{
	struct fx *f = *state;

	negotiated(f);
	/* A u64 where nothing is expected, nothing where a u64 is. */
	assert_int_equal(check(f, VU_REQ_GET_FEATURES, VU_VERSION, 8, 0),
			 -EINVAL);
	assert_int_equal(check(f, VU_REQ_SET_OWNER, VU_VERSION, 8, 0),
			 -EINVAL);
	assert_int_equal(check(f, VU_REQ_SET_VRING_KICK, VU_VERSION, 0, 1),
			 -EINVAL);
	/* A vring state (8) where a vring address (40) is expected. */
	assert_int_equal(check(f, VU_REQ_SET_VRING_ADDR, VU_VERSION, 8, 0),
			 -EINVAL);
	assert_int_equal(check(f, VU_REQ_SET_LOG_BASE, VU_VERSION, 8, 1),
			 -EINVAL);
}

static void test_missing_fd_refused(void **state)
{
	struct fx *f = *state;

	negotiated(f);
	assert_int_equal(check(f, VU_REQ_ADD_MEM_REG, VU_VERSION, 40, 0),
			 -EINVAL);
	assert_non_null(strstr(f->why, "0 fds"));
	assert_int_equal(check(f, VU_REQ_SET_LOG_FD, VU_VERSION, 0, 0),
			 -EINVAL);
	assert_int_equal(check(f, VU_REQ_SET_LOG_BASE, VU_VERSION, 16, 0),
			 -EINVAL);
	assert_int_equal(check(f, VU_REQ_SET_BACKEND_REQ_FD, VU_VERSION, 0, 0),
			 -EINVAL);
}

static void test_extra_fd_refused(void **state)
{
	struct fx *f = *state;

	negotiated(f);
	assert_int_equal(check(f, VU_REQ_GET_FEATURES, VU_VERSION, 0, 1),
			 -EINVAL);
	assert_int_equal(check_u64(f, VU_REQ_SET_VRING_KICK, 0, 2), -EINVAL);
	assert_int_equal(check(f, VU_REQ_ADD_MEM_REG, VU_VERSION, 40, 2),
			 -EINVAL);
	assert_int_equal(check(f, VU_REQ_SET_MEM_TABLE, VU_VERSION, 8 + 32,
			       VU_MEM_TABLE_MAX_REGIONS + 1), -EINVAL);
	assert_int_equal(check_state(f, VU_REQ_SET_VRING_NUM, 0, 256), 0);
	assert_int_equal(validate(f, 1), -EINVAL);
}

static void test_vring_state_index_out_of_range_is_erange(void **state)
{
	struct fx *f = *state;
	static const uint32_t reqs[] = {VU_REQ_SET_VRING_NUM,
					VU_REQ_SET_VRING_BASE,
					VU_REQ_GET_VRING_BASE,
					VU_REQ_SET_VRING_ENABLE};

	negotiated(f);
	for (unsigned i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		assert_int_equal(check_state(f, reqs[i], NVRINGS - 1, 1), 0);
		assert_int_equal(check_state(f, reqs[i], NVRINGS, 1), -ERANGE);
		assert_non_null(strstr(f->why, "vring index 4"));
		assert_int_equal(check_state(f, reqs[i], 0x100, 1), -ERANGE);
		assert_int_equal(check_state(f, reqs[i], UINT32_MAX, 1),
				 -ERANGE);
	}
}

static void test_vring_addr_index_out_of_range_is_erange(void **state)
{
	struct fx *f = *state;
	struct vu_vring_addr a = {.index = NVRINGS};
	int fd = tu_memfd(4096);
	struct vu_mem_region reg = {.guest_phys_addr = 0, .memory_size = 4096,
				    .userspace_addr = 0x10000};

	negotiated(f);
	assert_int_equal(vu_mem_add(&f->dev.mem, &reg, fd), 0);
	tu_msg(&f->msg, VU_REQ_SET_VRING_ADDR, VU_VERSION, &a, sizeof(a));
	assert_int_equal(validate(f, 0), -ERANGE);
	a.index = NVRINGS - 1;
	tu_msg(&f->msg, VU_REQ_SET_VRING_ADDR, VU_VERSION, &a, sizeof(a));
	assert_int_equal(validate(f, 0), 0);
}

static void test_vring_u64_index_out_of_range_is_erange(void **state)
{
	struct fx *f = *state;
	static const uint32_t reqs[] = {VU_REQ_SET_VRING_KICK,
					VU_REQ_SET_VRING_CALL,
					VU_REQ_SET_VRING_ERR};

	negotiated(f);
	for (unsigned i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		assert_int_equal(check_u64(f, reqs[i], NVRINGS - 1, 1), 0);
		assert_int_equal(check_u64(f, reqs[i], NVRINGS, 1), -ERANGE);
		assert_int_equal(check_u64(f, reqs[i],
					   NVRINGS | VU_VRING_NOFD_MASK, 0),
				 -ERANGE);
		assert_int_equal(check_u64(f, reqs[i], 0xff, 1), -ERANGE);
	}
}

/* Index 0 with a bit above the no-fd flag: a front-end that meant ring
 * 0x100 must not be served as ring 0. */
static void test_vring_u64_stray_high_bits_refused(void **state)
{
	struct fx *f = *state;
	static const uint64_t bad[] = {1u << 9, 0x1000u, 1ull << 32,
				       1ull << 63, 0x200 | VU_VRING_NOFD_MASK};

	negotiated(f);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(check_u64(f, VU_REQ_SET_VRING_CALL, bad[i],
					   (bad[i] & VU_VRING_NOFD_MASK) ? 0 : 1),
				 -EINVAL);
		assert_non_null(strstr(f->why, "bits other than"));
	}
}

static void test_protocol_gated_requests_refused_before_set_protocol_features(
	void **state)
{
	struct fx *f = *state;
	static const struct {
		uint32_t req, size;
		int nfds;
	} gated[] = {
		{VU_REQ_GET_QUEUE_NUM, 0, 0},
		{VU_REQ_SET_LOG_BASE, 16, 1},
		{VU_REQ_SEND_RARP, 8, 0},
		{VU_REQ_NET_SET_MTU, 8, 0},
		{VU_REQ_SET_BACKEND_REQ_FD, 0, 1},
		{VU_REQ_GET_CONFIG, 12 + 12, 0},
		{VU_REQ_SET_CONFIG, 12 + 12, 0},
		{VU_REQ_RESET_DEVICE, 0, 0},
		{VU_REQ_GET_MAX_MEM_SLOTS, 0, 0},
		{VU_REQ_ADD_MEM_REG, 40, 1},
		{VU_REQ_REM_MEM_REG, 40, 0},
		{VU_REQ_SET_STATUS, 8, 0},
		{VU_REQ_GET_STATUS, 0, 0},
	};

	/* PROTOCOL_FEATURES acked in SET_FEATURES, SET_PROTOCOL_FEATURES not
	 * sent yet. */
	f->dev.features = TU_FEATURES;
	f->dev.features_set = true;
	for (unsigned i = 0; i < sizeof(gated) / sizeof(gated[0]); i++) {
		assert_int_equal(check(f, gated[i].req, VU_VERSION,
				       gated[i].size, gated[i].nfds), -EPERM);
		assert_non_null(strstr(f->why, "was not negotiated"));
		assert_non_null(strstr(f->why, vu_request_name(gated[i].req)));
	}
	/* The same requests pass once SET_PROTOCOL_FEATURES acked them. */
	f->dev.protocol_features = TU_PROTOCOL_FEATURES;
	for (unsigned i = 0; i < sizeof(gated) / sizeof(gated[0]); i++)
		assert_int_equal(check(f, gated[i].req, VU_VERSION,
				       gated[i].size, gated[i].nfds), 0);
}

static void test_set_vring_enable_refused_once_acked_without_bit_30(
	void **state)
{
	struct fx *f = *state;

	/* Before SET_FEATURES it is accepted: QEMU enables queue pair 0 when
	 * the device is realized, before any guest driver negotiates. */
	assert_int_equal(check_state(f, VU_REQ_SET_VRING_ENABLE, 0, 1), 0);
	/* Acked without bit 30 (the front-end chose the legacy "all rings
	 * enabled" mode): refused. */
	f->dev.features = BIT_ULL(VIRTIO_F_VERSION_1);
	f->dev.features_set = true;
	f->dev.protocol_features = TU_PROTOCOL_FEATURES;
	assert_int_equal(check_state(f, VU_REQ_SET_VRING_ENABLE, 0, 1), -EPERM);
	assert_non_null(strstr(f->why, "PROTOCOL_FEATURES was not negotiated"));
	f->dev.features |= BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES);
	assert_int_equal(check_state(f, VU_REQ_SET_VRING_ENABLE, 0, 1), 0);
	/* Never accepted when bit 30 is not even offered. */
	f->dev.features_set = false;
	f->dev.cfg.features &= ~BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES);
	assert_int_equal(check_state(f, VU_REQ_SET_VRING_ENABLE, 0, 1), -EPERM);
	assert_non_null(strstr(f->why, "is not offered"));
}

static void test_protocol_feature_requests_refused_when_not_offered(
	void **state)
{
	struct fx *f = *state;

	f->dev.cfg.features &= ~BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES);
	assert_int_equal(check(f, VU_REQ_GET_PROTOCOL_FEATURES, VU_VERSION, 0,
			       0), -EPERM);
	assert_int_equal(check_u64(f, VU_REQ_SET_PROTOCOL_FEATURES, 0, 0),
			 -EPERM);
	f->dev.cfg.features |= BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES);
	assert_int_equal(check(f, VU_REQ_GET_PROTOCOL_FEATURES, VU_VERSION, 0,
			       0), 0);
}

static void test_set_vring_addr_refused_before_memory_table(void **state)
{
	struct fx *f = *state;
	struct vu_vring_addr a = {.index = 0};

	negotiated(f);
	tu_msg(&f->msg, VU_REQ_SET_VRING_ADDR, VU_VERSION, &a, sizeof(a));
	assert_int_equal(validate(f, 0), -EINVAL);
	assert_non_null(strstr(f->why, "before any memory table"));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_every_request_id_1_to_43_has_a_row),
		T(test_ids_outside_1_to_43_have_no_row),
		T(test_well_formed_requests_pass),
		T(test_unknown_request_id_is_enosys),
		T(test_unsupported_request_is_enotsup_naming_it),
		T(test_reply_flag_in_request_is_eproto),
		T(test_unknown_flag_bits_are_eproto),
		T(test_short_payload_refused),
		T(test_oversized_payload_refused),
		T(test_payload_size_wrong_for_request_refused),
		T(test_missing_fd_refused),
		T(test_extra_fd_refused),
		T(test_vring_state_index_out_of_range_is_erange),
		T(test_vring_addr_index_out_of_range_is_erange),
		T(test_vring_u64_index_out_of_range_is_erange),
		T(test_vring_u64_stray_high_bits_refused),
		T(test_protocol_gated_requests_refused_before_set_protocol_features),
		T(test_set_vring_enable_refused_once_acked_without_bit_30),
		T(test_protocol_feature_requests_refused_when_not_offered),
		T(test_set_vring_addr_refused_before_memory_table),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
