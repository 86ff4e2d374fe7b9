/* SPDX-License-Identifier: MIT */
/* probe_refuse.c: every request whose feature the session did not
 * negotiate, sent anyway: the back-end must refuse it and live on. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "probe.h"
#include "../frontend/vu_front_req.h"

/* Gates: a protocol feature bit, or a virtio feature bit + 64. */
#define VF(b) (64 + (b))
#define NEVER (-1) /* not a request for a net device */

struct gated {
	const char *request;
	int gate;
	int (*send)(struct vu_front *f, int efd);
};

static int s_queue_num(struct vu_front *f, int efd)
{
	uint64_t v;
	(void)efd;
	return vu_front_get_queue_num(f, &v);
}

static int s_rarp(struct vu_front *f, int efd)
{
	static const uint8_t mac[6] = {0x52, 0x54, 0, 0, 0, 1};
	(void)efd;
	return vu_front_send_rarp(f, mac);
}

static int s_mtu(struct vu_front *f, int efd)
{
	(void)efd;
	return vu_front_net_set_mtu(f, 1500);
}

static int s_backend_req(struct vu_front *f, int efd)
{
	(void)efd;
	return vu_front_backend_open(f, NULL, NULL);
}

static int s_iotlb(struct vu_front *f, int efd)
{
	struct vu_iotlb m = {.iova = 0, .size = 4096, .uaddr = 0,
			     .perm = VU_IOTLB_PERM_RW, .type = VU_IOTLB_UPDATE};
	(void)efd;
	return vu_front_iotlb_msg(f, &m);
}

static int s_endian(struct vu_front *f, int efd)
{
	(void)efd;
	return vu_front_set_vring_endian(f, 0, false);
}

static int s_get_config(struct vu_front *f, int efd)
{
	uint8_t b[12];
	(void)efd;
	return vu_front_get_config(f, 0, sizeof(b), 0, b);
}

static int s_set_config(struct vu_front *f, int efd)
{
	uint8_t b[6] = {0x52, 0x54, 0, 0, 0, 2};
	(void)efd;
	return vu_front_set_config(f, 0, sizeof(b),
				   VU_CONFIG_FLAG_MIGRATION, b);
}

static int s_crypto_create(struct vu_front *f, int efd)
{
	uint8_t desc[64] = {0};
	int64_t id;
	(void)efd;
	return vu_front_create_crypto_session(f, desc, sizeof(desc), &id);
}

static int s_crypto_close(struct vu_front *f, int efd)
{
	(void)efd;
	return vu_front_close_crypto_session(f, 1);
}

static int s_pc_advise(struct vu_front *f, int efd)
{
	int ufd = -1;
	(void)efd;
	int rc = vu_front_postcopy_advise(f, &ufd);
	if (ufd >= 0)
		close(ufd);
	return rc;
}

static int s_pc_listen(struct vu_front *f, int efd)
{
	(void)efd;
	return vu_front_postcopy_listen(f);
}

static int s_pc_end(struct vu_front *f, int efd)
{
	(void)efd;
	return vu_front_postcopy_end(f);
}

static int s_get_inflight(struct vu_front *f, int efd)
{
	struct vu_inflight in;
	int fd = -1;
	(void)efd;
	int rc = vu_front_get_inflight_fd(f, 2, 256, &in, &fd);
	if (fd >= 0)
		close(fd);
	return rc;
}

static int s_set_inflight(struct vu_front *f, int efd)
{
	struct vu_inflight in = {.mmap_size = 4096, .num_queues = 2,
				 .queue_size = 256};
	return vu_front_set_inflight_fd(f, &in, efd);
}

static int s_gpu(struct vu_front *f, int efd)
{
	return vu_front_gpu_set_socket(f, efd);
}

static int s_reset(struct vu_front *f, int efd)
{
	(void)efd;
	return vu_front_reset_device(f);
}

static int s_kick(struct vu_front *f, int efd)
{
	(void)efd;
	return vu_front_vring_kick_inband(f, 0);
}

static int s_slots(struct vu_front *f, int efd)
{
	uint64_t v;
	(void)efd;
	return vu_front_get_max_mem_slots(f, &v);
}

static int s_set_status(struct vu_front *f, int efd)
{
	(void)efd;
	return vu_front_set_status(f, 1);
}

static int s_get_status(struct vu_front *f, int efd)
{
	uint8_t st;
	(void)efd;
	return vu_front_get_status(f, &st);
}

static int s_shared(struct vu_front *f, int efd)
{
	static const uint8_t uuid[16] = {1, 2, 3, 4};
	int fd = -1;
	(void)efd;
	int rc = vu_front_get_shared_object(f, uuid, &fd);
	if (fd >= 0)
		close(fd);
	return rc;
}

static int s_state_fd(struct vu_front *f, int efd)
{
	int bfd = -1;
	int rc = vu_front_set_device_state_fd(f, VU_TRANSFER_SAVE,
					      VU_TRANSFER_PHASE_STOPPED, efd,
					      &bfd);
	if (bfd >= 0)
		close(bfd);
	return rc;
}

static int s_check_state(struct vu_front *f, int efd)
{
	(void)efd;
	return vu_front_check_device_state(f);
}

static const struct gated gated[] = {
	{"GET_QUEUE_NUM", VU_PROTOCOL_F_MQ, s_queue_num},
	{"SEND_RARP", VU_PROTOCOL_F_RARP, s_rarp},
	{"NET_SET_MTU", VU_PROTOCOL_F_MTU, s_mtu},
	{"SET_BACKEND_REQ_FD", VU_PROTOCOL_F_BACKEND_REQ, s_backend_req},
	{"IOTLB_MSG", VF(VIRTIO_F_IOMMU_PLATFORM), s_iotlb},
	{"SET_VRING_ENDIAN", VU_PROTOCOL_F_CROSS_ENDIAN, s_endian},
	{"GET_CONFIG", VU_PROTOCOL_F_CONFIG, s_get_config},
	{"SET_CONFIG", VU_PROTOCOL_F_CONFIG, s_set_config},
	{"CREATE_CRYPTO_SESSION", VU_PROTOCOL_F_CRYPTO_SESSION,
	 s_crypto_create},
	{"CLOSE_CRYPTO_SESSION", VU_PROTOCOL_F_CRYPTO_SESSION,
	 s_crypto_close},
	{"POSTCOPY_ADVISE", VU_PROTOCOL_F_PAGEFAULT, s_pc_advise},
	{"POSTCOPY_LISTEN", VU_PROTOCOL_F_PAGEFAULT, s_pc_listen},
	{"POSTCOPY_END", VU_PROTOCOL_F_PAGEFAULT, s_pc_end},
	{"GET_INFLIGHT_FD", VU_PROTOCOL_F_INFLIGHT_SHMFD, s_get_inflight},
	{"SET_INFLIGHT_FD", VU_PROTOCOL_F_INFLIGHT_SHMFD, s_set_inflight},
	{"GPU_SET_SOCKET", NEVER, s_gpu},
	{"RESET_DEVICE", VU_PROTOCOL_F_RESET_DEVICE, s_reset},
	{"VRING_KICK", VU_PROTOCOL_F_INBAND_NOTIFICATIONS, s_kick},
	{"GET_MAX_MEM_SLOTS", VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS, s_slots},
	{"SET_STATUS", VU_PROTOCOL_F_STATUS, s_set_status},
	{"GET_STATUS", VU_PROTOCOL_F_STATUS, s_get_status},
	{"GET_SHARED_OBJECT", VU_PROTOCOL_F_SHARED_OBJECT, s_shared},
	{"SET_DEVICE_STATE_FD", VU_PROTOCOL_F_DEVICE_STATE, s_state_fd},
	{"CHECK_DEVICE_STATE", VU_PROTOCOL_F_DEVICE_STATE, s_check_state},
};

static bool gate_open(const struct probe *p, int gate)
{
	if (gate == NEVER)
		return false;
	if (gate >= 64)
		return vu_front_features_acked(p->f) & BIT_ULL(gate - 64);
	return vu_front_has_protocol(p->f, (unsigned int)gate);
}

static const char *gate_name(int gate, char *buf, size_t len)
{
	if (gate == NEVER)
		snprintf(buf, len, "not a net device request");
	else if (gate >= 64)
		snprintf(buf, len, "feature bit %d not acked", gate - 64);
	else
		snprintf(buf, len, "protocol bit %d not acked", gate);
	return buf;
}

/* ADD/REM_MEM_REG without CONFIGURE_MEM_SLOTS: the library will not send
 * them (it needs the slot protocol), so they go raw, with a memfd. */
static void mem_reg_raw(struct probe *p)
{
	static const char *const names[] = {"ADD_MEM_REG", "REM_MEM_REG"};
	static const uint32_t ids[] = {VU_REQ_ADD_MEM_REG, VU_REQ_REM_MEM_REG};
	struct vu_mem_single m = {.region = {.guest_phys_addr = 1ULL << 32,
					     .memory_size = 1 << 20,
					     .userspace_addr = 1ULL << 40}};

	for (int i = 0; i < 2; i++) {
		if (p->dead || probe_need(p, PL_MEMORY) < 0 ||
		    vu_front_has_protocol(p->f,
					  VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS))
			return;
		probe_send_bad(p, &(struct bad){names[i],
			"protocol bit 15 not acked", ids[i], VU_VERSION, &m,
			sizeof(m), sizeof(m), i == 0 ? 1 : 0, false, true});
	}
}

void probe_not_negotiated(struct probe *p)
{
	char check[64];

	for (size_t i = 0; i < sizeof(gated) / sizeof(gated[0]); i++) {
		const struct gated *g = &gated[i];
		if (probe_need(p, PL_MEMORY) < 0)
			return;
		if (gate_open(p, g->gate))
			continue;
		int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		int rc = g->send(p->f, efd);
		close(efd);
		enum probe_verdict v = probe_judge(
			p, g->request, gate_name(g->gate, check, sizeof(check)),
			PE_REFUSE, rc);
		/* Taken: whatever it did to the session is unknown. */
		if (v != PV_REFUSED)
			probe_close(p);
	}
	mem_reg_raw(p);
}
