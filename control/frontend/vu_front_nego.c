/* SPDX-License-Identifier: MIT */
/* vu_front_nego.c: owner, features, protocol features, queue num. */
#include <errno.h>

#include "../../datapath/log.h"
#include "vu_front_priv.h"

static int front_get_u64(struct vu_front *f, uint32_t req, uint64_t *val)
{
	return vu_front_xact_reply(f, req, NULL, 0, NULL, 0, val,
				   sizeof(*val));
}

static int front_set_u64(struct vu_front *f, uint32_t req, uint64_t val)
{
	return vu_front_xact(f, req, &val, sizeof(val), NULL, 0);
}

int vu_front_set_owner(struct vu_front *f)
{
	return vu_front_xact(f, VU_REQ_SET_OWNER, NULL, 0, NULL, 0);
}

int vu_front_get_features(struct vu_front *f, uint64_t *offered)
{
	int ret = front_get_u64(f, VU_REQ_GET_FEATURES, &f->features_offered);

	if (ret == 0 && offered)
		*offered = f->features_offered;
	return ret;
}

int vu_front_set_features(struct vu_front *f, uint64_t features)
{
	int ret = front_set_u64(f, VU_REQ_SET_FEATURES, features);

	if (ret == 0)
		f->features_acked = features;
	return ret;
}

int vu_front_get_protocol_features(struct vu_front *f, uint64_t *offered)
{
	int ret = front_get_u64(f, VU_REQ_GET_PROTOCOL_FEATURES,
				&f->protocol_offered);

	if (ret == 0 && offered)
		*offered = f->protocol_offered;
	return ret;
}

int vu_front_set_protocol_features(struct vu_front *f, uint64_t features)
{
	int ret = front_set_u64(f, VU_REQ_SET_PROTOCOL_FEATURES, features);

	if (ret == 0)
		f->protocol_acked = features;
	return ret;
}

int vu_front_get_queue_num(struct vu_front *f, uint64_t *num)
{
	int ret = front_get_u64(f, VU_REQ_GET_QUEUE_NUM, &f->queue_num);

	if (ret == 0 && num)
		*num = f->queue_num;
	return ret;
}

int vu_front_get_max_mem_slots(struct vu_front *f, uint64_t *slots)
{
	int ret = front_get_u64(f, VU_REQ_GET_MAX_MEM_SLOTS,
				&f->max_mem_slots);

	if (ret == 0 && slots)
		*slots = f->max_mem_slots;
	return ret;
}

/* GET/SET_PROTOCOL_FEATURES, then the queries the acked set allows. */
static int front_protocol(struct vu_front *f, uint64_t wanted)
{
	uint64_t offered;
	int ret = vu_front_get_protocol_features(f, &offered);

	if (ret == 0)
		ret = vu_front_set_protocol_features(f, wanted & offered);
	if (ret == 0 && vu_front_has_protocol(f, VU_PROTOCOL_F_MQ))
		ret = vu_front_get_queue_num(f, NULL);
	if (ret == 0 &&
	    vu_front_has_protocol(f, VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS))
		ret = vu_front_get_max_mem_slots(f, NULL);
	return ret;
}

int vu_front_negotiate(struct vu_front *f, uint64_t features,
		       uint64_t protocol_features)
{
	uint64_t offered;
	int ret = vu_front_set_owner(f);

	if (ret == 0)
		ret = vu_front_get_features(f, &offered);
	if (ret < 0)
		return ret;
	features &= offered;
	if (features & BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES)) {
		ret = front_protocol(f, protocol_features);
		if (ret < 0)
			return ret;
	}
	ret = vu_front_set_features(f, features);
	if (ret == 0)
		LOG_DEBUG(VU_FRONT_LOG_TAG,
			  "features 0x%llx of 0x%llx, protocol 0x%llx of "
			  "0x%llx, queues %llu",
			  (unsigned long long)features,
			  (unsigned long long)offered,
			  (unsigned long long)f->protocol_acked,
			  (unsigned long long)f->protocol_offered,
			  (unsigned long long)f->queue_num);
	return ret;
}
