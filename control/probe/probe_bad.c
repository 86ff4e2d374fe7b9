/* SPDX-License-Identifier: MIT */
/* probe_bad.c: malformed requests (wrong sizes, reserved flags, too many
 * or missing fds, out of order, out of range): each must be refused, with
 * an error ack or by closing the connection, and the back-end must live. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "probe.h"
#include "../frontend/vu_front_req.h"


/* Send b on the current session and judge the answer (refusal wanted). */
void probe_send_bad(struct probe *p, const struct bad *b)
{
	struct vu_hdr h = {.request = b->req, .flags = b->flags,
			   .size = b->size};
	int fds[VU_FRONT_RAW_MAX_FDS], n = b->nfds;
	bool ack = vu_front_has_protocol(p->f, VU_PROTOCOL_F_REPLY_ACK);
	char txt[PROBE_TEXT];
	struct vu_msg m;

	if (ack)
		h.flags |= VU_FLAG_NEED_REPLY;
	for (int i = 0; i < n; i++) {
		fds[i] = b->memfd ? memfd_create("vu-probe", MFD_CLOEXEC)
				  : eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (b->memfd && fds[i] >= 0 && ftruncate(fds[i], 1 << 20) < 0) {
			/* an empty file: still a request to refuse */
		}
	}
	int rc = vu_front_raw_send(p->f, &h, b->payload, b->len, fds, n);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	if (rc == 0)
		rc = vu_front_raw_recv(p->f, &m, ack ? p->o.timeout_ms : 0,
				       NULL, NULL);
	if (rc == 1 && b->u64_reply && m.hdr.request == b->req &&
	    (m.hdr.flags & VU_FLAG_REPLY)) {
		snprintf(txt, sizeof(txt), "served: reply of %u bytes",
			 m.hdr.size);
		rc = 0;
	} else if (rc == 1 && m.hdr.request == b->req && m.hdr.size == 8 &&
		   (m.hdr.flags & VU_FLAG_REPLY)) {
		snprintf(txt, sizeof(txt), "ack %llu",
			 (unsigned long long)m.payload.u64);
		rc = m.payload.u64 ? -EIO : 0;
	} else if (rc == 1) {
		snprintf(txt, sizeof(txt), "reply: request %u flags 0x%x size "
			 "%u", m.hdr.request, m.hdr.flags, m.hdr.size);
		rc = 0; /* answered as if it were fine */
	} else if (rc == -ETIMEDOUT) {
		snprintf(txt, sizeof(txt), ack ? "no ack: taken or dropped "
			 "silently" : "taken (no REPLY_ACK to refuse with)");
		rc = 0;
	}
	probe_judge_txt(p, b->request, b->check, PE_REFUSE, rc,
			rc == -ECONNRESET || rc == -EPIPE ? NULL : txt);
	/* Whatever it did with the request, start the next one afresh. */
	probe_close(p);
}

/* Malformed requests on a session at level lvl. */
static void run(struct probe *p, enum probe_level lvl, const struct bad *b)
{
	if (p->dead || probe_need(p, lvl) < 0)
		return;
	probe_send_bad(p, b);
}

static void bad_frames(struct probe *p)
{
	uint64_t feat = p->want_features & p->features;
	uint64_t proto = p->want_protocol & p->protocol;
	static const struct vu_vring_state st = {.index = 0, .num = 256};

	run(p, PL_NEGOTIATED, &(struct bad){"SET_FEATURES", "4-byte payload",
		VU_REQ_SET_FEATURES, VU_VERSION, &feat, 4, 4, 0, false, false});
	run(p, PL_NEGOTIATED, &(struct bad){"GET_FEATURES",
		"8-byte payload (none allowed)", VU_REQ_GET_FEATURES,
		VU_VERSION, &feat, 8, 8, 0, true, false});
	run(p, PL_NEGOTIATED, &(struct bad){"SET_PROTOCOL_FEATURES",
		"reserved flag bit 6", VU_REQ_SET_PROTOCOL_FEATURES,
		VU_VERSION | 0x40, &proto, 8, 8, 0, false, false});
	run(p, PL_NEGOTIATED, &(struct bad){"SET_PROTOCOL_FEATURES",
		"reply flag from the front-end", VU_REQ_SET_PROTOCOL_FEATURES,
		VU_VERSION | VU_FLAG_REPLY, &proto, 8, 8, 0, false, false});
	run(p, PL_NEGOTIATED, &(struct bad){"SET_PROTOCOL_FEATURES",
		"version 2", VU_REQ_SET_PROTOCOL_FEATURES, 0x2, &proto, 8, 8,
		0, false, false});
	run(p, PL_NEGOTIATED, &(struct bad){"(id 0)", "request id 0", 0,
		VU_VERSION, NULL, 0, 0, 0, false, false});
	run(p, PL_NEGOTIATED, &(struct bad){"(id 99)", "unknown request id",
		99, VU_VERSION, NULL, 0, 0, 0, false, false});
	run(p, PL_NEGOTIATED, &(struct bad){"SET_FEATURES", "with an fd",
		VU_REQ_SET_FEATURES, VU_VERSION, &feat, 8, 8, 1, false, false});
	run(p, PL_MEMORY, &(struct bad){"SET_VRING_NUM", "with 9 fds",
		VU_REQ_SET_VRING_NUM, VU_VERSION, &st, 8, 8, 9, false, false});
}

static void bad_rings(struct probe *p)
{
	uint32_t beyond = p->queue_num ? 2 * (uint32_t)p->queue_num : 256;
	struct vu_vring_state range = {.index = beyond, .num = 256};
	static const struct vu_vring_state odd = {.index = 0, .num = 3};
	static const struct vu_vring_state big = {.index = 0, .num = 65536};
	static const struct vu_vring_state zero = {.index = 0, .num = 0};
	static const uint64_t kick0 = 0; /* ring 0, fd flag clear */
	static const uint64_t kick_bits = 1ull << 9;
	static const struct vu_vring_addr out = {
		.index = 0, .desc_user_addr = 0x10, .used_user_addr = 0x2000,
		.avail_user_addr = 0x1000,
	};
	char check[64];

	snprintf(check, sizeof(check), "ring index %u (queue num %llu)",
		 beyond, (unsigned long long)p->queue_num);
	run(p, PL_MEMORY, &(struct bad){"SET_VRING_NUM", check,
		VU_REQ_SET_VRING_NUM, VU_VERSION, &range, 8, 8, 0, false, false});
	if (!(p->want_features & p->features & BIT_ULL(VIRTIO_F_RING_PACKED)))
		run(p, PL_MEMORY, &(struct bad){"SET_VRING_NUM",
			"split ring of 3 entries", VU_REQ_SET_VRING_NUM,
			VU_VERSION, &odd, 8, 8, 0, false, false});
	run(p, PL_MEMORY, &(struct bad){"SET_VRING_NUM", "65536 entries",
		VU_REQ_SET_VRING_NUM, VU_VERSION, &big, 8, 8, 0, false, false});
	run(p, PL_MEMORY, &(struct bad){"SET_VRING_NUM", "0 entries",
		VU_REQ_SET_VRING_NUM, VU_VERSION, &zero, 8, 8, 0, false, false});
	run(p, PL_MEMORY, &(struct bad){"SET_VRING_KICK",
		"no fd, no-fd flag clear", VU_REQ_SET_VRING_KICK, VU_VERSION,
		&kick0, 8, 8, 0, false, false});
	run(p, PL_MEMORY, &(struct bad){"SET_VRING_KICK",
		"reserved payload bit 9", VU_REQ_SET_VRING_KICK, VU_VERSION,
		&kick_bits, 8, 8, 1, false, false});
	/* The size first (QEMU's order): the ring's extent is known. */
	if (!p->dead && probe_need(p, PL_MEMORY) == 0 &&
	    vu_front_set_vring_num(p->f, 0, 256) == 0)
		probe_send_bad(p, &(struct bad){"SET_VRING_ADDR",
			"256 entries, outside guest memory",
			VU_REQ_SET_VRING_ADDR, VU_VERSION, &out, sizeof(out),
			sizeof(out), 0, false, false});
	/* Out of order: ring addresses before any memory table. */
	probe_close(p);
	run(p, PL_NEGOTIATED, &(struct bad){"SET_VRING_ADDR",
		"before any memory table", VU_REQ_SET_VRING_ADDR, VU_VERSION,
		&out, sizeof(out), sizeof(out), 0, false, false});
}

static void bad_memory(struct probe *p)
{
	struct vu_mem_table t = {.nregions = 9};
	struct vu_mem_table t2 = {.nregions = 2};
	struct vu_mem_table t0 = {.nregions = 1};
	uint32_t full = (uint32_t)sizeof(t);
	uint32_t two = 8 + 2 * (uint32_t)sizeof(struct vu_mem_region);

	for (int i = 0; i < 2; i++)
		t2.regions[i] = (struct vu_mem_region){
			.guest_phys_addr = (uint64_t)i << 20,
			.memory_size = 1 << 20, .userspace_addr = 0x7f0000000000,
		};
	run(p, PL_NEGOTIATED, &(struct bad){"SET_MEM_TABLE", "9 regions",
		VU_REQ_SET_MEM_TABLE, VU_VERSION, &t, full, full, 8, false, true});
	run(p, PL_NEGOTIATED, &(struct bad){"SET_MEM_TABLE",
		"2 regions, 1 fd", VU_REQ_SET_MEM_TABLE, VU_VERSION, &t2, two,
		two, 1, false, true});
	run(p, PL_NEGOTIATED, &(struct bad){"SET_MEM_TABLE",
		"a region of size 0", VU_REQ_SET_MEM_TABLE, VU_VERSION, &t0,
		8 + 32, 8 + 32, 1, false, true});
}

static void bad_values(struct probe *p)
{
	int bit = 63;

	while (bit > 0 && (p->features & BIT_ULL(bit)))
		bit--;
	uint64_t feat = (p->want_features & p->features) | BIT_ULL(bit);
	char check[64];
	snprintf(check, sizeof(check), "bit %d, not offered", bit);
	run(p, PL_NEGOTIATED, &(struct bad){"SET_FEATURES", check,
		VU_REQ_SET_FEATURES, VU_VERSION, &feat, 8, 8, 0, false, false});
	if (p->protocol & p->want_protocol & BIT_ULL(VU_PROTOCOL_F_MTU) &&
	    p->features & BIT_ULL(VIRTIO_NET_F_MTU)) {
		static const uint64_t mtu = 10;
		run(p, PL_NEGOTIATED, &(struct bad){"NET_SET_MTU", "MTU 10",
			VU_REQ_NET_SET_MTU, VU_VERSION, &mtu, 8, 8, 0, false, false});
	}
	if (p->protocol & BIT_ULL(VU_PROTOCOL_F_CONFIG) &&
	    !p->dead && probe_need(p, PL_NEGOTIATED) == 0) {
		static const uint8_t mac[6] = {0x02, 0, 0, 0, 0, 0x99};
		/* Spec: read-only fields only with the migration flag. */
		int rc = vu_front_set_config(p->f, 0, 6,
					     VU_CONFIG_FLAG_WRITABLE, mac);
		probe_judge(p, "SET_CONFIG", "the read-only MAC, flags 0",
			    PE_REFUSE, rc);
		probe_close(p);
	}
}

/* b on a fresh session whose ring 0 has a size (SET_VRING_NUM 256). */
static void run_sized(struct probe *p, const struct bad *b)
{
	probe_close(p);
	if (!p->dead && probe_need(p, PL_MEMORY) == 0 &&
	    vu_front_set_vring_num(p->f, 0, 256) == 0)
		probe_send_bad(p, b);
}

/* Values out of the range their field allows. */
static void bad_ranges(struct probe *p)
{
	static const struct vu_vring_state base = {.index = 0,
						   .num = 0x10000};
	static const struct vu_vring_state en = {.index = 0, .num = 2};
	static const uint64_t status = 0x100, mtu = 65536;
	uint64_t proto = p->protocol & p->want_protocol;

	if (!(p->want_features & p->features & BIT_ULL(VIRTIO_F_RING_PACKED)))
		run_sized(p, &(struct bad){"SET_VRING_BASE",
			"split ring, base 0x10000", VU_REQ_SET_VRING_BASE,
			VU_VERSION, &base, 8, 8, 0, false, false});
	run_sized(p, &(struct bad){"SET_VRING_ENABLE", "num 2",
		VU_REQ_SET_VRING_ENABLE, VU_VERSION, &en, 8, 8, 0, false,
		false});
	if (proto & BIT_ULL(VU_PROTOCOL_F_STATUS))
		run(p, PL_NEGOTIATED, &(struct bad){"SET_STATUS",
			"0x100 (not a byte)", VU_REQ_SET_STATUS, VU_VERSION,
			&status, 8, 8, 0, false, false});
	if (proto & BIT_ULL(VU_PROTOCOL_F_MTU) &&
	    p->features & BIT_ULL(VIRTIO_NET_F_MTU))
		run(p, PL_NEGOTIATED, &(struct bad){"NET_SET_MTU", "MTU 65536",
			VU_REQ_NET_SET_MTU, VU_VERSION, &mtu, 8, 8, 0, false,
			false});
}

/* ADD_MEM_REG over a region in place; REM_MEM_REG of one never added. */
static void bad_slots(struct probe *p)
{
	struct vu_mem_single over = {.region = {
		.guest_phys_addr = 0, .memory_size = 1 << 20,
		.userspace_addr = 1ULL << 40}};
	struct vu_mem_single none = {.region = {
		.guest_phys_addr = 1ULL << 40, .memory_size = 1 << 20,
		.userspace_addr = 1ULL << 41}};

	if (!(p->protocol & p->want_protocol &
	      BIT_ULL(VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS)))
		return;
	run(p, PL_MEMORY, &(struct bad){"ADD_MEM_REG",
		"over the table's region at 0", VU_REQ_ADD_MEM_REG, VU_VERSION,
		&over, sizeof(over), sizeof(over), 1, false, true});
	run(p, PL_MEMORY, &(struct bad){"REM_MEM_REG", "a region never added",
		VU_REQ_REM_MEM_REG, VU_VERSION, &none, sizeof(none),
		sizeof(none), 0, false, false});
}

void probe_malformed(struct probe *p)
{
	bad_frames(p);
	bad_rings(p);
	bad_memory(p);
	bad_values(p);
	bad_ranges(p);
	bad_slots(p);
}
