/* SPDX-License-Identifier: MIT */
/* probe_steps.c: what the back-end says it supports, exercised:
 * negotiation, memory table, rings, stop and restart, dirty log. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "probe.h"
#include "../frontend/vu_front_req.h"

#define RING_NUM 256u
/* A fresh packed ring: positions 0, both wrap counters 1. */
#define PACKED_FRESH 0x80008000u

/* The session a step started with is still the current one (a check
 * that closed it was judged; what followed it on that session is moot). */
static bool same(const struct probe *p, uint32_t s)
{
	return p->f && p->sessions == s;
}

static bool has_pf(const struct probe *p, unsigned int bit)
{
	return p->f && vu_front_has_protocol(p->f, bit);
}

/* A row for a u64 query: served with a value, judged by ok(). */
static void query_row(struct probe *p, const char *req, int rc, uint64_t v,
		      bool ok, const char *want)
{
	if (rc < 0) {
		probe_judge(p, req, "query", PE_SERVE, rc);
		return;
	}
	probe_record(p, req, "query", want, ok ? PV_OK : PV_WRONG,
		     "0x%llx", (unsigned long long)v);
}

void probe_negotiation(struct probe *p)
{
	uint64_t v;
	int rc = vu_front_get_features(p->f, &v);

	query_row(p, "GET_FEATURES", rc, v, rc == 0, "u64");
	if (rc < 0)
		return;
	p->features = v;
	uint32_t s = p->sessions;
	probe_judge(p, "SET_OWNER", "session start", PE_SERVE,
		    vu_front_set_owner(p->f));
	if (!same(p, s))
		return;
	if (!(v & BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES)))
		goto features;
	rc = vu_front_get_protocol_features(p->f, &v);
	query_row(p, "GET_PROTOCOL_FEATURES", rc, v, rc == 0, "u64");
	if (rc < 0 || !same(p, s))
		return;
	p->protocol = v;
	probe_judge(p, "SET_PROTOCOL_FEATURES", "offered & wanted", PE_SERVE,
		    vu_front_set_protocol_features(p->f, v & p->want_protocol));
	if (!same(p, s))
		return;
	if (has_pf(p, VU_PROTOCOL_F_MQ)) {
		rc = vu_front_get_queue_num(p->f, &v);
		query_row(p, "GET_QUEUE_NUM", rc, v, v >= 1 && v <= 0x8000,
			  "1..32768");
		p->queue_num = rc == 0 ? v : 0;
	}
	if (has_pf(p, VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS)) {
		rc = vu_front_get_max_mem_slots(p->f, &v);
		query_row(p, "GET_MAX_MEM_SLOTS", rc, v, v >= 1, ">= 1");
		p->mem_slots = rc == 0 ? v : 0;
	}
features:
	if (!same(p, s))
		return;
	rc = vu_front_set_features(p->f, p->want_features & p->features);
	if (probe_judge(p, "SET_FEATURES", "offered & wanted", PE_SERVE, rc) ==
	    PV_OK && same(p, s))
		p->level = PL_NEGOTIATED;
}

void probe_memory(struct probe *p)
{
	struct vu_guestmem_opts mo = {
		.size = 32ULL << 20, .nregions = 2,
		.backing = VU_GUESTMEM_MEMFD,
	};

	if (probe_need(p, PL_NEGOTIATED) < 0)
		return;
	uint32_t s = p->sessions;
	int rc = vu_front_mem_init(p->f, &mo);
	if (rc == 0)
		rc = vu_front_set_mem_table(p->f);
	if (probe_judge(p, "SET_MEM_TABLE", "2 memfd regions, 32 MiB",
			PE_SERVE, rc) == PV_OK && same(p, s))
		p->level = PL_MEMORY;
	if (!same(p, s))
		return;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	probe_judge(p, "SET_LOG_FD", "an eventfd", PE_SERVE,
		    vu_front_set_log_fd(p->f, efd));
	close(efd);
}

/* The requests vu_front_vring_setup() sends, in its order. */
static const char *const ring_reqs[] = {
	"SET_VRING_NUM", "SET_VRING_BASE", "SET_VRING_ADDR", "SET_VRING_KICK",
	"SET_VRING_CALL", "SET_VRING_ENABLE",
};

/* One row per request of a ring set-up that returned rc: the one that
 * failed (named in the reason) is judged, those before it are ok. */
static void ring_rows(struct probe *p, const char *check, int rc)
{
	const char *why = rc < 0 && p->f ? vu_front_why(p->f) : "";
	size_t n = sizeof(ring_reqs) / sizeof(ring_reqs[0]);

	for (size_t i = 0; i < n; i++) {
		if (rc < 0 && strstr(why, ring_reqs[i])) {
			probe_judge(p, ring_reqs[i], check, PE_SERVE, rc);
			return;
		}
		if (rc == 0)
			probe_record(p, ring_reqs[i], check, "served", PV_OK,
				     "served");
	}
	if (rc < 0)
		probe_judge(p, "SET_VRING_NUM", check, PE_SERVE, rc);
}

/* Stop ring idx and start it again where it stopped. */
static void stop_restart(struct probe *p, uint32_t idx, uint32_t want,
			 const char *tag)
{
	char check[64];
	uint32_t base = 0;

	snprintf(check, sizeof(check), "stop ring %u (%s)", idx, tag);
	uint32_t s = p->sessions;
	int rc = vu_front_vring_stop(p->f, idx, &base);
	if (rc < 0) {
		probe_judge(p, "GET_VRING_BASE", check, PE_SERVE, rc);
		return;
	}
	probe_record(p, "GET_VRING_BASE", check, "served", base == want ?
		     PV_OK : PV_WRONG, "base 0x%x%s", base,
		     base == want ? "" : " (want the fresh ring's base)");
	if (!same(p, s))
		return;
	snprintf(check, sizeof(check), "restart ring %u at 0x%x (%s)", idx,
		 base, tag);
	probe_judge(p, "SET_VRING_BASE", check, PE_SERVE,
		    vu_front_vring_restart(p->f, idx, base));
}

void probe_rings(struct probe *p)
{
	if (probe_need(p, PL_MEMORY) < 0)
		return;
	uint32_t s = p->sessions;
	int rc = vu_front_vring_setup(p->f, 0, RING_NUM);
	ring_rows(p, "split ring 0, 256 entries", rc);
	if (rc < 0 || !same(p, s))
		return;
	rc = vu_front_vring_setup(p->f, 1, RING_NUM);
	if (rc < 0) {
		ring_rows(p, "split ring 1, 256 entries", rc);
		return;
	}
	p->level = PL_RINGS;
	stop_restart(p, 0, 0, "split");
	if (!same(p, s))
		return;
	probe_judge(p, "SET_VRING_ENABLE", "disable ring 1", PE_SERVE,
		    vu_front_vring_enable(p->f, 1, false));
	if (same(p, s))
		probe_judge(p, "SET_VRING_ENABLE", "enable ring 1", PE_SERVE,
			    vu_front_vring_enable(p->f, 1, true));
	if (!same(p, s))
		return;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	probe_judge(p, "SET_VRING_ERR", "ring 0, an eventfd", PE_SERVE,
		    vu_front_set_vring_err(p->f, 0, efd));
	close(efd);
}

void probe_packed(struct probe *p)
{
	if (!(p->features & BIT_ULL(VIRTIO_F_RING_PACKED)) || p->dead)
		return;
	probe_close(p);
	p->packed = true;
	if (probe_need(p, PL_MEMORY) == 0) {
		uint32_t s = p->sessions;
		int rc = vu_front_setup_queues(p->f, 1, RING_NUM);
		ring_rows(p, "packed rings 0 and 1, 256 entries", rc);
		if (rc == 0 && same(p, s))
			stop_restart(p, 0, PACKED_FRESH, "packed");
	}
	probe_close(p);
	p->packed = false;
}

void probe_hugetlbfs(struct probe *p)
{
	struct vu_guestmem_opts mo = {
		.size = 32ULL << 20, .nregions = 1,
		.backing = VU_GUESTMEM_HUGETLBFS,
		.hugetlbfs_dir = p->o.hugetlbfs,
	};

	if (!p->o.hugetlbfs || p->dead)
		return;
	probe_close(p);
	if (probe_need(p, PL_NEGOTIATED) < 0)
		return;
	int rc = vu_front_mem_init(p->f, &mo);
	if (rc < 0) {
		probe_record(p, "SET_MEM_TABLE", "hugetlbfs", "served",
			     PV_WRONG, "not sent: no hugetlbfs memory in %s: "
			     "%s", p->o.hugetlbfs, strerror(-rc));
		return;
	}
	uint32_t s = p->sessions;
	rc = vu_front_set_mem_table(p->f);
	if (probe_judge(p, "SET_MEM_TABLE", "1 hugetlbfs region, 32 MiB",
			PE_SERVE, rc) == PV_OK && same(p, s)) {
		rc = vu_front_setup_queues(p->f, 1, RING_NUM);
		ring_rows(p, "split rings in hugetlbfs memory", rc);
	}
	probe_close(p);
}

/* SET_LOG_BASE, then VHOST_F_LOG_ALL and a logged used ring, then off. */
static void dirty_log(struct probe *p)
{
	uint64_t size = 4096; /* one bit per 4 KiB page: 32 MiB needs 1 KiB */

	if (!has_pf(p, VU_PROTOCOL_F_LOG_SHMFD) ||
	    !(p->features & BIT_ULL(VHOST_F_LOG_ALL)))
		return;
	int fd = memfd_create("vu-probe-log", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
		if (fd >= 0)
			close(fd);
		return;
	}
	uint32_t s = p->sessions;
	int rc = vu_front_set_log_base(p->f, fd, size, 0);
	close(fd);
	if (probe_judge(p, "SET_LOG_BASE", "4 KiB memfd log", PE_SERVE, rc) !=
	    PV_OK || !same(p, s))
		return;
	uint64_t acked = vu_front_features_acked(p->f);
	if (probe_judge(p, "SET_FEATURES", "+ VHOST_F_LOG_ALL, rings started",
			PE_SERVE, vu_front_set_features(
				p->f, acked | BIT_ULL(VHOST_F_LOG_ALL))) !=
	    PV_OK || !same(p, s))
		return;
	const struct vu_front_vring *vr = vu_front_vring(p->f, 0);
	struct vu_vring_addr a = {
		.index = 0, .flags = 1u << VHOST_VRING_F_LOG,
		.desc_user_addr = (uint64_t)(uintptr_t)vr->desc,
		.used_user_addr = (uint64_t)(uintptr_t)vr->used,
		.avail_user_addr = (uint64_t)(uintptr_t)vr->avail,
		.log_guest_addr = vr->used_gpa,
	};
	probe_judge(p, "SET_VRING_ADDR", "ring 0 with VHOST_VRING_F_LOG",
		    PE_SERVE, vu_front_set_vring_addr(p->f, &a));
	if (same(p, s))
		probe_judge(p, "SET_FEATURES", "- VHOST_F_LOG_ALL", PE_SERVE,
			    vu_front_set_features(p->f, acked));
}

void probe_device(struct probe *p)
{
	uint8_t cfg[12];

	if (probe_need(p, PL_RINGS) < 0)
		return;
	uint32_t s = p->sessions;
	if (has_pf(p, VU_PROTOCOL_F_CONFIG))
		probe_judge(p, "GET_CONFIG", "12 bytes at 0 (mac, status, "
			    "pairs, mtu)", PE_SERVE,
			    vu_front_get_config(p->f, 0, sizeof(cfg), 0, cfg));
	if (has_pf(p, VU_PROTOCOL_F_STATUS)) {
		uint8_t st = 0;
		probe_judge(p, "SET_STATUS", "0x0f (driver ok)", PE_SERVE,
			    vu_front_set_status(p->f, 0x0f));
		if (!same(p, s))
			return;
		int rc = vu_front_get_status(p->f, &st);
		if (rc < 0)
			probe_judge(p, "GET_STATUS", "after SET_STATUS 0x0f",
				    PE_SERVE, rc);
		else
			probe_record(p, "GET_STATUS", "after SET_STATUS 0x0f",
				     "0x0f", st == 0x0f ? PV_OK : PV_WRONG,
				     "0x%02x", st);
	}
	if (!same(p, s))
		return;
	if (has_pf(p, VU_PROTOCOL_F_MTU) &&
	    (vu_front_features_acked(p->f) & BIT_ULL(VIRTIO_NET_F_MTU)))
		probe_judge(p, "NET_SET_MTU", "1500", PE_SERVE,
			    vu_front_net_set_mtu(p->f, 1500));
	if (same(p, s) && has_pf(p, VU_PROTOCOL_F_RARP)) {
		static const uint8_t mac[6] = {0x52, 0x54, 0, 0x12, 0x34, 0x56};
		probe_judge(p, "SEND_RARP", "52:54:00:12:34:56", PE_SERVE,
			    vu_front_send_rarp(p->f, mac));
	}
	if (same(p, s) && has_pf(p, VU_PROTOCOL_F_BACKEND_REQ))
		probe_judge(p, "SET_BACKEND_REQ_FD", "a socket pair",
			    PE_SERVE, vu_front_backend_open(p->f, NULL, NULL));
	if (same(p, s))
		dirty_log(p);
}

/* Requests that end the session's state: device reset, owner reset. */
void probe_reset(struct probe *p)
{
	if (probe_need(p, PL_RINGS) < 0)
		return;
	if (has_pf(p, VU_PROTOCOL_F_RESET_DEVICE)) {
		probe_judge(p, "RESET_DEVICE", "rings started", PE_SERVE,
			    vu_front_reset_device(p->f));
		probe_close(p);
		if (probe_need(p, PL_RINGS) < 0)
			return;
	}
	probe_judge(p, "RESET_OWNER", "deprecated; rings started", PE_SERVE,
		    vu_front_reset_owner(p->f));
	probe_close(p);
}
