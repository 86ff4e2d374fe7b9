/* SPDX-License-Identifier: MIT */
/* vu_front_mem.c: guest memory and the messages that share it. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "vu_front_priv.h"

int vu_front_mem_init(struct vu_front *f, const struct vu_guestmem_opts *o)
{
	if (f->mem_ready)
		return -EBUSY;
	int ret = vu_guestmem_init(&f->mem, o);
	if (ret == 0)
		f->mem_ready = true;
	return ret;
}

struct vu_guestmem *vu_front_mem(struct vu_front *f)
{
	return f->mem_ready ? &f->mem : NULL;
}

/*
 * Spec, SET_MEM_TABLE: after POSTCOPY_LISTEN the back-end replies with the
 * bases of its mappings (same layout, without need_reply) and we
 * acknowledge them with an empty SET_MEM_TABLE.
 */
static int front_mem_table_postcopy(struct vu_front *f,
				    const struct vu_mem_table *t,
				    uint32_t size, const int *fds, uint32_t n)
{
	struct vu_msg r;
	int ret = vu_front_xact_full(f, VU_REQ_SET_MEM_TABLE, 0, t, size, fds,
				     (int)n, &r, NULL, NULL);

	if (ret < 0)
		return ret;
	if (r.hdr.size != size || r.payload.mem.nregions != n)
		return vu_front_fail(f, -EPROTO, "postcopy SET_MEM_TABLE "
				     "answered %u bytes, %u regions; want %u, "
				     "%u", r.hdr.size, r.payload.mem.nregions,
				     size, n);
	return vu_front_xact(f, VU_REQ_SET_MEM_TABLE, NULL, 0, NULL, 0);
}

int vu_front_set_mem_table(struct vu_front *f)
{
	struct vu_mem_table t;
	int fds[VU_MEM_TABLE_MAX_REGIONS];
	uint32_t n = 0;

	if (!f->mem_ready)
		return -EINVAL;
	memset(&t, 0, sizeof(t));
	for (uint32_t i = 0; i < f->mem.nslots; i++) {
		const struct vu_guestmem_region *r;
		r = vu_guestmem_region(&f->mem, i);
		if (!r)
			continue;
		if (n == VU_MEM_TABLE_MAX_REGIONS)
			return -E2BIG;
		vu_guestmem_describe(&f->mem, i, &t.regions[n]);
		fds[n++] = r->fd;
	}
	t.nregions = n;
	/* Like QEMU: the header of the table plus the regions in use. */
	uint32_t size = (uint32_t)(offsetof(struct vu_mem_table, regions) +
				   n * sizeof(struct vu_mem_region));
	if (f->postcopy_listening)
		return front_mem_table_postcopy(f, &t, size, fds, n);
	return vu_front_xact(f, VU_REQ_SET_MEM_TABLE, &t, size, fds, (int)n);
}

static int front_mem_reg(struct vu_front *f, uint32_t req, uint32_t slot,
			 bool with_fd)
{
	struct vu_mem_single m = {.padding = 0};
	const struct vu_guestmem_region *r;

	if (!vu_front_has_protocol(f, VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS))
		return -EOPNOTSUPP;
	if (!f->mem_ready || !(r = vu_guestmem_region(&f->mem, slot)))
		return -ENOENT;
	vu_guestmem_describe(&f->mem, slot, &m.region);
	return vu_front_xact(f, req, &m, sizeof(m), with_fd ? &r->fd : NULL,
			     with_fd ? 1 : 0);
}

int vu_front_add_mem_reg(struct vu_front *f, uint32_t slot)
{
	return front_mem_reg(f, VU_REQ_ADD_MEM_REG, slot, true);
}

int vu_front_rem_mem_reg(struct vu_front *f, uint32_t slot)
{
	/* Spec: "No file descriptors SHOULD be passed". */
	return front_mem_reg(f, VU_REQ_REM_MEM_REG, slot, false);
}

int vu_front_set_log_base(struct vu_front *f, int fd, uint64_t size,
			  uint64_t offset)
{
	struct vu_log log = {.mmap_size = size, .mmap_offset = offset};
	struct vu_msg reply;
	int ret;

	if (!vu_front_has_protocol(f, VU_PROTOCOL_F_LOG_SHMFD))
		return vu_front_xact(f, VU_REQ_SET_LOG_BASE, &log, sizeof(log),
				     &fd, 1);
	/*
	 * With LOG_SHMFD the spec lists SET_LOG_BASE among the requests with
	 * a reply; DPDK sends it with an empty body (QEMU ignores the body),
	 * others a u64.  Take either; a non-zero u64 is a refusal.
	 */
	ret = vu_front_xact_msg(f, VU_REQ_SET_LOG_BASE, &log, sizeof(log),
				&fd, 1, &reply);
	if (ret < 0)
		return ret;
	if (reply.hdr.size == 0)
		return 0;
	if (reply.hdr.size != sizeof(uint64_t))
		return -EPROTO;
	return vu_front_ack_to_errno(reply.payload.u64);
}
