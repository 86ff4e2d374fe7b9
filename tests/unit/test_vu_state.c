/* SPDX-License-Identifier: MIT */
/*
 * test_vu_state.c: a device's state as bytes (vu_state.h): written and read
 * back, applied to a fresh device (memory mapped again, a split ring
 * resumed at the used index in guest memory), and every record a new
 * binary must refuse: empty, foreign, another version, torn, corrupt,
 * counts and flags out of range, a started packed ring (unless written at a
 * planned stop, when its base is exact, or its position was published in
 * the positions area).  A refused record leaves the device reset with
 * every fd closed.  The positions area (vu_state_pos.c): a packed ring
 * resumes where its slot says, a flush cut short is completed in guest
 * memory (only when its first descriptor was not written), and every
 * slot or header out of range is refused before anything is written.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "control/backend/vu_state.h"
#include "control/wire/vu_msg.h"
#include "test_util.h"

#define MEM_SIZE 0x100000u
#define UVA 0x7f1200000000ull

struct fx {
	struct vu_dev dev;       /* the old process's device */
	struct vu_dev fresh;     /* the new one's */
	int sv[2], memfd, statefd, kick;
	struct vu_state st;
	struct vu_state_fds fds;
};

static int req(struct fx *f, uint32_t request, const void *payload,
	       uint32_t size, int *fds, int nfds)
{
	struct vu_msg m;

	tu_msg(&m, request, VU_VERSION, payload, size);
	return vu_dev_handle_msg(&f->dev, f->sv[0], &m, fds, nfds);
}

static int req_u64(struct fx *f, uint32_t request, uint64_t v)
{
	return req(f, request, &v, sizeof(v), NULL, 0);
}

static void drain(struct fx *f)
{
	char buf[512];

	while (!tu_sock_empty(f->sv[1]))
		assert_true(read(f->sv[1], buf, sizeof(buf)) > 0);
}

static uint16_t *used_idx(struct vu_dev *d, uint64_t used_uva)
{
	uint8_t *u = gmem_uva_to_hva(d->mem.table, used_uva, 4);

	assert_non_null(u);
	return (uint16_t *)(u + 2);
}

/* Split ring 0 started at base 7 (used index 7), enabled, kick eventfd. */
static void old_device(struct fx *f)
{
	struct vu_mem_table t = {.nregions = 1};
	struct vu_vring_state s = {.index = 0, .num = 256};
	struct vu_vring_addr a = {.index = 0, .desc_user_addr = UVA,
				  .avail_user_addr = UVA + 0x4000,
				  .used_user_addr = UVA + 0x8000};
	int fd = dup(f->memfd), k = dup(f->kick);
	uint64_t features = TU_FEATURES & ~BIT_ULL(VIRTIO_F_RING_PACKED);

	assert_int_equal(req(f, VU_REQ_GET_FEATURES, NULL, 0, NULL, 0), 0);
	assert_int_equal(req_u64(f, VU_REQ_SET_FEATURES, features), 0);
	assert_int_equal(req_u64(f, VU_REQ_SET_PROTOCOL_FEATURES,
				 TU_PROTOCOL_FEATURES), 0);
	assert_int_equal(req(f, VU_REQ_SET_OWNER, NULL, 0, NULL, 0), 0);
	t.regions[0] = (struct vu_mem_region){.memory_size = MEM_SIZE,
					      .userspace_addr = UVA};
	assert_int_equal(req(f, VU_REQ_SET_MEM_TABLE, &t, 8 + 32, &fd, 1), 0);
	assert_int_equal(req(f, VU_REQ_SET_VRING_NUM, &s, sizeof(s), NULL, 0),
			 0);
	s.num = 7;
	assert_int_equal(req(f, VU_REQ_SET_VRING_BASE, &s, sizeof(s), NULL,
			     0), 0);
	assert_int_equal(req(f, VU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL,
			     0), 0);
	*used_idx(&f->dev, a.used_user_addr) = 7;
	uint64_t v = 0;
	assert_int_equal(req(f, VU_REQ_SET_VRING_KICK, &v, sizeof(v), &k, 1),
			 0);
	s.num = 1;
	assert_int_equal(req(f, VU_REQ_SET_VRING_ENABLE, &s, sizeof(s), NULL,
			     0), 0);
	drain(f);
	assert_true(vu_vring_ready(&f->dev, 0));
}

/* What the daemon does: capture, name the fds, and resolve them again. */
static void capture(struct fx *f)
{
	vu_state_capture(&f->dev, &f->st);
	f->st.regions[0].fd = 1;
	f->st.rings[0].kick = 2;
}

static void resolve(struct fx *f)
{
	struct vu_state_fds *x = &f->fds;

	memset(x, 0xff, sizeof(*x));   /* every fd -1 */
	x->regions[0] = dup(f->memfd);
	x->kick[0] = dup(f->kick);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct vu_dev_cfg cfg = tu_dev_cfg();

	if (!f || vu_dev_init(&f->dev, &cfg) || vu_dev_init(&f->fresh, &cfg))
		return -1;
	tu_socketpair(f->sv);
	f->memfd = tu_memfd(MEM_SIZE);
	f->statefd = tu_memfd(vu_state_file_size());
	f->kick = eventfd(0, EFD_CLOEXEC);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	vu_dev_fini(&f->dev);
	vu_dev_fini(&f->fresh);
	tu_close_pair(f->sv);
	close(f->memfd);
	close(f->statefd);
	close(f->kick);
	free(f);
	return 0;
}

static void test_record_round_trip_and_newest_slot_wins(void **state)
{
	struct fx *f = *state;
	static struct vu_state back;
	uint64_t seq = 0;
	char why[256];

	old_device(f);
	capture(f);
	assert_int_equal(vu_state_put(f->statefd, &f->st, 4), 0);
	f->st.mtu = 1234;
	assert_int_equal(vu_state_put(f->statefd, &f->st, 5), 0);
	assert_int_equal(vu_state_get(f->statefd, &back, &seq, why,
				      sizeof(why)), 0);
	assert_int_equal(seq, 5);
	assert_memory_equal(&back, &f->st, sizeof(back));
}

static void test_torn_newest_slot_falls_back_to_the_other(void **state)
{
	struct fx *f = *state;
	static struct vu_state back;
	uint64_t seq = 0;
	char why[256];
	uint8_t junk = 0x5a;

	old_device(f);
	capture(f);
	assert_int_equal(vu_state_put(f->statefd, &f->st, 8), 0);
	assert_int_equal(vu_state_put(f->statefd, &f->st, 9), 0);
	/* Record 9 (slot 1: after slot 0's header and body) torn in its
	 * body: CRC fails. */
	off_t slot1 = (off_t)(32 + sizeof(struct vu_state));
	assert_int_equal(pwrite(f->statefd, &junk, 1, slot1 + 100), 1);
	assert_int_equal(vu_state_get(f->statefd, &back, &seq, why,
				      sizeof(why)), 0);
	assert_int_equal(seq, 8);
	assert_memory_equal(&back, &f->st, sizeof(back));
	/* Both torn: refused, with both slots' reasons. */
	assert_int_equal(pwrite(f->statefd, &junk, 1, 32 + 100), 1);
	assert_int_equal(vu_state_get(f->statefd, &back, &seq, why,
				      sizeof(why)), -EPROTO);
	assert_non_null(strstr(why, "slot 0: CRC mismatch"));
	assert_non_null(strstr(why, "slot 1: CRC mismatch"));
}

static int get_err(struct fx *f, char *why, size_t n)
{
	static struct vu_state back;
	uint64_t seq;

	return vu_state_get(f->statefd, &back, &seq, why, n);
}

static void test_empty_foreign_version_corrupt_refused(void **state)
{
	struct fx *f = *state;
	char why[256];

	assert_int_equal(get_err(f, why, sizeof(why)), -ENODATA);
	old_device(f);
	capture(f);
	assert_int_equal(vu_state_put(f->statefd, &f->st, 2), 0);

	assert_int_equal(pwrite(f->statefd, "notstate", 8, 0), 8);
	assert_int_equal(get_err(f, why, sizeof(why)), -EPROTO);
	assert_non_null(strstr(why, "not a vhostd device state"));

	assert_int_equal(vu_state_put(f->statefd, &f->st, 2), 0);
	uint32_t v = VU_STATE_VERSION + 1;
	assert_int_equal(pwrite(f->statefd, &v, 4, 8), 4);
	assert_int_equal(get_err(f, why, sizeof(why)), -EPROTO);
	assert_non_null(strstr(why, "state version 2"));

	assert_int_equal(vu_state_put(f->statefd, &f->st, 2), 0);
	uint32_t len = 12;
	assert_int_equal(pwrite(f->statefd, &len, 4, 12), 4);
	assert_int_equal(get_err(f, why, sizeof(why)), -EPROTO);
	assert_non_null(strstr(why, "body of 12 bytes"));

	assert_int_equal(vu_state_put(f->statefd, &f->st, 2), 0);
	assert_int_equal(pwrite(f->statefd, "x", 1, 200), 1);
	assert_int_equal(get_err(f, why, sizeof(why)), -EPROTO);
	assert_non_null(strstr(why, "CRC mismatch"));

	assert_int_equal(vu_state_put(f->statefd, &f->st, 2), 0);
	assert_int_equal(ftruncate(f->statefd, 100), 0);
	assert_int_equal(get_err(f, why, sizeof(why)), -EPROTO);
	assert_non_null(strstr(why, "truncated"));
}

static void refused_because(struct fx *f, const char *what)
{
	char why[256] = "";

	assert_int_equal(vu_state_check(&f->st, f->fresh.nvrings, why,
					sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, what));
	/* Applied anyway: refused, nothing kept, no fd leaked. */
	int before = tu_count_fds();
	resolve(f);
	assert_int_equal(vu_state_apply(&f->fresh, &f->st, &f->fds, NULL, why,
					sizeof(why)), -EINVAL);
	assert_int_equal(tu_count_fds(), before);
	assert_int_equal(f->fresh.mem.n, 0);
	assert_false(f->fresh.owner);
	capture(f);
}

static void test_out_of_range_records_refused(void **state)
{
	struct fx *f = *state;

	old_device(f);
	capture(f);
	f->st.nvrings = 2;
	refused_because(f, "2 rings recorded");
	f->st.nregions = 100000;
	refused_because(f, "100000 memory regions");
	f->st.flags |= 0x80;
	refused_because(f, "unknown device flags");
	f->st.rings[1].flags = 0x40;
	refused_because(f, "ring 1: unknown flags");
	f->st.rings[0].num = 65536;
	refused_because(f, "ring 0: size 65536");
	f->st.rings[0].flags &= ~VU_SR_KICK_SET;
	refused_because(f, "started without");
	f->st.rings[0].base = 70000;
	refused_because(f, "split base 70000");
	f->st.regions[0].fd = 0;
	refused_because(f, "region 0 without its file");
	f->st.log_size = 4096;
	refused_because(f, "dirty log without its file");
	f->st.req.nfds = 9;
	refused_because(f, "request in flight");
}

static void test_apply_maps_again_and_resumes_at_used_index(void **state)
{
	struct fx *f = *state;
	char why[256];

	old_device(f);
	capture(f);
	/* The old process used 33 more buffers after its last record. */
	*used_idx(&f->dev, UVA + 0x8000) = 40;
	resolve(f);
	assert_int_equal(vu_state_apply(&f->fresh, &f->st, &f->fds, NULL, why,
					sizeof(why)), 0);
	assert_true(f->fresh.owner);
	assert_int_equal(f->fresh.features, f->dev.features);
	assert_int_equal(f->fresh.mem.n, 1);
	assert_true(vu_vring_ready(&f->fresh, 0));
	assert_false(vu_vring_ready(&f->fresh, 1));
	assert_true(f->fresh.vr[0].enabled);
	assert_int_equal(f->fresh.vr[0].base, 40);
	assert_true(tu_same_file(f->fresh.vr[0].kick_fd, f->kick));
	/* Same guest memory, mapped again. */
	*used_idx(&f->dev, UVA + 0x8000) = 41;
	assert_int_equal(*used_idx(&f->fresh, UVA + 0x8000), 41);
}

static void test_ring_outside_memory_or_packed_refused(void **state)
{
	struct fx *f = *state;
	struct vu_dev_cfg cfg = tu_dev_cfg();
	char why[256];
	int before = tu_count_fds();

	old_device(f);
	capture(f);
	f->st.regions[0].reg.memory_size = 0x1000;  /* ring no longer fits */
	resolve(f);
	assert_int_equal(vu_state_apply(&f->fresh, &f->st, &f->fds, NULL, why,
					sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "does not fit"));
	assert_int_equal(f->fresh.mem.n, 0);

	capture(f);
	f->st.features |= BIT_ULL(VIRTIO_F_RING_PACKED);
	resolve(f);
	assert_int_equal(vu_state_apply(&f->fresh, &f->st, &f->fds, NULL, why,
					sizeof(why)), -EOPNOTSUPP);
	assert_non_null(strstr(why, "packed"));
	assert_int_equal(f->fresh.vr[0].kick_fd, -1);

	/* Written at a planned stop: the recorded base is exact. */
	f->st.flags |= VU_SD_QUIESCED;
	f->st.rings[0].base = 0x80058005;   /* avail 5, used 5, both wraps */
	resolve(f);
	assert_int_equal(vu_state_apply(&f->fresh, &f->st, &f->fds, NULL, why,
					sizeof(why)), 0);
	assert_true(vu_vring_ready(&f->fresh, 0));
	assert_int_equal(f->fresh.vr[0].base, 0x80058005);
	vu_dev_fini(&f->fresh);
	assert_int_equal(vu_dev_init(&f->fresh, &cfg), 0);
	vu_dev_fini(&f->dev);
	assert_int_equal(vu_dev_init(&f->dev, &cfg), 0);
	assert_int_equal(tu_count_fds(), before);
}

/* ---- the positions area (vu_state_pos.c) ---------------------------- */

static struct vu_state_pos_area area;

/* The fresh device again, as a new process has it. */
static void fresh_again(struct fx *f)
{
	struct vu_dev_cfg cfg = tu_dev_cfg();

	vu_dev_fini(&f->fresh);
	assert_int_equal(vu_dev_init(&f->fresh, &cfg), 0);
}

/* The old device's ring 0 recorded as a started packed ring (256
 * descriptors at guest address 0), not at a planned stop, applied with a
 * (NULL: no area). */
static int apply_packed(struct fx *f, const struct vu_state_pos_area *a,
			char *why, size_t n)
{
	capture(f);
	f->st.features |= BIT_ULL(VIRTIO_F_RING_PACKED);
	resolve(f);
	return vu_state_apply(&f->fresh, &f->st, &f->fds, a, why, n);
}

static struct vring_packed_desc *pdesc(struct fx *f)
{
	struct vring_packed_desc *d = gmem_uva_to_hva(f->dev.mem.table, UVA,
						      256 * 16);

	assert_non_null(d);
	return d;
}

#define LAP1_AVAIL VRING_PACKED_DESC_F_AVAIL
#define LAP1_USED (VRING_PACKED_DESC_F_AVAIL | VRING_PACKED_DESC_F_USED)

/* A flush in progress from (250, wrap 1) of three used buffers: 4
 * descriptors (id 77, 1000 bytes), 1 (id 78, 500 bytes), 4 (id 79, 0
 * bytes, across the end of the ring): it ends at (3, wrap 0). */
static void slot_flushing(struct vq_pos *s)
{
	vq_pos_live(s, 256, 0, 250, true);
	s->batch[0] = (struct vq_packed_used){77, 4, 1000};
	s->batch[1] = (struct vq_packed_used){78, 1, 500};
	s->batch[2] = (struct vq_packed_used){79, 4, 0};
	s->pending = 3 | 3u << 16;
}

/* The three chains of that flush as the driver posted them. */
static void posted(struct vring_packed_desc *d)
{
	const uint16_t at[] = {250, 254, 255};

	for (int k = 0; k < 3; k++)
		d[at[k]] = (struct vring_packed_desc){.addr = 0x9000u + k,
			.len = 1526, .id = (uint16_t)(90 + k),
			.flags = LAP1_AVAIL | VRING_DESC_F_WRITE |
				 VRING_DESC_F_NEXT};
}

static void expect_desc(const struct vring_packed_desc *d, uint16_t id,
			uint32_t len, uint16_t flags)
{
	assert_int_equal(d->id, id);
	assert_int_equal(d->len, len);
	assert_int_equal(d->flags, flags);
}

static void test_packed_resumes_where_its_slot_says(void **state)
{
	struct fx *f = *state;
	char why[256] = "";

	old_device(f);
	vu_state_pos_init(&area);
	assert_int_equal(apply_packed(f, NULL, why, sizeof(why)), -EOPNOTSUPP);
	assert_non_null(strstr(why, "no positions were published"));
	assert_int_equal(apply_packed(f, &area, why, sizeof(why)),
			 -EOPNOTSUPP);
	assert_non_null(strstr(why, "no position published"));

	/* Live: the worker's used position, taken and used from there. */
	vq_pos_live(&area.slot[0], 256, 0, 5, true);
	assert_int_equal(apply_packed(f, &area, why, sizeof(why)), 0);
	assert_int_equal(f->fresh.vr[0].base, 0x80058005);
	assert_true(vu_vring_ready(&f->fresh, 0));
	fresh_again(f);

	/* Stopped: its base as it was when its worker let go of it. */
	vq_pos_stopped(&area.slot[0], 256, 0x00078007);
	assert_int_equal(apply_packed(f, &area, why, sizeof(why)), 0);
	assert_int_equal(f->fresh.vr[0].base, 0x00078007);
	fresh_again(f);

	/* A ring not started keeps its base whatever its slot says. */
	vu_state_pos_init(&area);
	vq_pos_live(&area.slot[1], 64, 0x5000, 3, false);
	vq_pos_live(&area.slot[0], 256, 0, 9, false);
	assert_int_equal(apply_packed(f, &area, why, sizeof(why)), 0);
	assert_int_equal(f->fresh.vr[0].base, 0x00090009);
	assert_int_equal(f->fresh.vr[1].base, 0);
}

static void test_packed_flush_cut_short_is_completed(void **state)
{
	struct fx *f = *state;
	struct vring_packed_desc *d;
	const uint16_t posted_flags = LAP1_AVAIL | VRING_DESC_F_WRITE |
				      VRING_DESC_F_NEXT;
	char why[256] = "";

	old_device(f);
	d = pdesc(f);
	vu_state_pos_init(&area);
	slot_flushing(&area.slot[0]);

	/* Killed before any used descriptor was written: all three are,
	 * the first (the one the driver looks at) last. */
	posted(d);
	assert_int_equal(apply_packed(f, &area, why, sizeof(why)), 0);
	assert_int_equal(f->fresh.vr[0].base, 0x00030003);
	expect_desc(&d[250], 77, 1000, LAP1_USED | VRING_DESC_F_WRITE);
	expect_desc(&d[254], 78, 500, LAP1_USED | VRING_DESC_F_WRITE);
	expect_desc(&d[255], 79, 0, LAP1_USED);
	assert_int_equal(d[250].addr, 0x9000);
	fresh_again(f);

	/* Killed in the middle: the second written (kept as it is), the
	 * third not. */
	posted(d);
	d[254] = (struct vring_packed_desc){.id = 12, .len = 7,
					    .flags = LAP1_USED};
	assert_int_equal(apply_packed(f, &area, why, sizeof(why)), 0);
	assert_int_equal(f->fresh.vr[0].base, 0x00030003);
	expect_desc(&d[250], 77, 1000, LAP1_USED | VRING_DESC_F_WRITE);
	expect_desc(&d[254], 12, 7, LAP1_USED);
	expect_desc(&d[255], 79, 0, LAP1_USED);
	fresh_again(f);

	/* Killed after the first: all written; nothing is touched, not
	 * even a slot that looks available (it cannot be: the driver may
	 * have posted there again). */
	posted(d);
	d[250] = (struct vring_packed_desc){.id = 5, .flags = LAP1_USED};
	assert_int_equal(apply_packed(f, &area, why, sizeof(why)), 0);
	assert_int_equal(f->fresh.vr[0].base, 0x00030003);
	expect_desc(&d[250], 5, 0, LAP1_USED);
	expect_desc(&d[254], 91, 1526, posted_flags);
	fresh_again(f);

	/* ... and the driver already made the first slot available again
	 * for lap 0 (AVAIL 0, USED 1): left alone. */
	posted(d);
	d[250] = (struct vring_packed_desc){.len = 64, .id = 55,
					    .flags = VRING_PACKED_DESC_F_USED};
	assert_int_equal(apply_packed(f, &area, why, sizeof(why)), 0);
	expect_desc(&d[250], 55, 64, VRING_PACKED_DESC_F_USED);
	expect_desc(&d[255], 92, 1526, posted_flags);
}

/* With IN_ORDER a transmit ring's flush writes one used descriptor for
 * its batch: the last buffer's id, len 0, where the batch begins; the
 * other slots stay as the driver posted them. */
static void test_packed_in_order_tx_flush_cut_short_is_completed(void **state)
{
	struct fx *f = *state;
	struct vu_vring_state num = {.index = 1, .num = 256};
	struct vu_vring_addr a = {.index = 1, .desc_user_addr = UVA + 0x10000,
				  .avail_user_addr = UVA + 0x14000,
				  .used_user_addr = UVA + 0x18000};
	uint64_t v = 1;
	int k = dup(f->kick);
	char why[256] = "";

	old_device(f);
	assert_int_equal(req(f, VU_REQ_SET_VRING_NUM, &num, sizeof(num), NULL,
			     0), 0);
	assert_int_equal(req(f, VU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL,
			     0), 0);
	assert_int_equal(req(f, VU_REQ_SET_VRING_KICK, &v, sizeof(v), &k, 1),
			 0);
	drain(f);
	struct vring_packed_desc *d = gmem_uva_to_hva(f->dev.mem.table,
						      UVA + 0x10000, 4096);
	assert_non_null(d);
	for (int i = 250; i < 254; i++)
		d[i] = (struct vring_packed_desc){.len = 60,
			.id = (uint16_t)(30 + i), .flags = LAP1_AVAIL};
	vu_state_pos_init(&area);
	vq_pos_live(&area.slot[0], 256, 0, 0, true);
	vq_pos_live(&area.slot[1], 256, 0x10000, 250, true);
	area.slot[1].batch[0] = (struct vq_packed_used){40, 1, 0};
	area.slot[1].batch[1] = (struct vq_packed_used){41, 2, 0};
	area.slot[1].batch[2] = (struct vq_packed_used){42, 1, 0};
	area.slot[1].pending = (254 | 0x8000) | 3u << 16;
	capture(f);
	f->st.rings[1].kick = 3;
	f->st.features |= BIT_ULL(VIRTIO_F_RING_PACKED) |
			  BIT_ULL(VIRTIO_F_IN_ORDER);
	resolve(f);
	f->fds.kick[1] = dup(f->kick);
	assert_int_equal(vu_state_apply(&f->fresh, &f->st, &f->fds, &area,
					why, sizeof(why)), 0);
	assert_int_equal(f->fresh.vr[1].base, 0x80fe80fe);
	assert_int_equal(f->fresh.vr[0].base, 0x80008000);
	expect_desc(&d[250], 42, 0, LAP1_USED);
	expect_desc(&d[251], 281, 60, LAP1_AVAIL);
	expect_desc(&d[253], 283, 60, LAP1_AVAIL);
}

/* Applied with the area as it is: refused with what, the device reset,
 * no fd kept, and the flush slot 0 asks to complete not done. */
static void slot_refused(struct fx *f, int err, const char *what)
{
	struct vring_packed_desc *d = pdesc(f);
	char why[256] = "";
	int before = tu_count_fds();

	posted(d);
	assert_int_equal(apply_packed(f, &area, why, sizeof(why)), err);
	assert_non_null(strstr(why, what));
	assert_int_equal(tu_count_fds(), before);
	assert_int_equal(f->fresh.mem.n, 0);
	assert_false(f->fresh.owner);
	expect_desc(&d[250], 90, 1526, LAP1_AVAIL | VRING_DESC_F_WRITE |
		    VRING_DESC_F_NEXT);
	/* Valid again for the next case. */
	vu_state_pos_init(&area);
	slot_flushing(&area.slot[0]);
}

static void test_hostile_positions_refused(void **state)
{
	struct fx *f = *state;
	char why[256] = "";

	old_device(f);
	vu_state_pos_init(&area);
	slot_flushing(&area.slot[0]);

	area.slot[1].state = 0x12345678;      /* a ring not even started */
	slot_refused(f, -EINVAL, "ring 1: position slot in an unknown state");
	area.slot[0].done = 300 | 0x8000;
	slot_refused(f, -EINVAL, "outside the ring");
	area.slot[0].done = 0x18000;
	slot_refused(f, -EINVAL, "outside the ring");
	area.slot[0].pending = 256 | 3u << 16;
	slot_refused(f, -EINVAL, "outside the ring");
	area.slot[0].pending = 3;                   /* no entries */
	slot_refused(f, -EINVAL, "of 0 used buffers");
	area.slot[0].pending = 3 | 65u << 16;
	slot_refused(f, -EINVAL, "of 65 used buffers");
	area.slot[0].pending |= 0x100000000ull;     /* junk above */
	slot_refused(f, -EINVAL, "of 65539 used buffers");
	area.slot[0].pending |= 1ull << 63;
	slot_refused(f, -EINVAL, "of 140737488355331 used buffers");
	area.slot[0].batch[1].id = 256;
	slot_refused(f, -EINVAL, "entry 1 (id 256, 1 descriptors)");
	area.slot[0].batch[2].ndesc = 0;
	slot_refused(f, -EINVAL, "entry 2 (id 79, 0 descriptors)");
	area.slot[0].batch[0].ndesc = 255;          /* 259 in all */
	slot_refused(f, -EINVAL, "entry 2 (id 79, 4 descriptors)");
	area.slot[0].batch[0].ndesc = 3;            /* ends at 2 */
	slot_refused(f, -EINVAL, "ends at 0x2, not 0x3");
	area.slot[0].size = 128;
	slot_refused(f, -EINVAL, "for another ring");
	area.slot[0].desc_gpa = 0x1000;
	slot_refused(f, -EINVAL, "for another ring");
	vq_pos_stopped(&area.slot[0], 256, 0x01000005);
	slot_refused(f, -EINVAL, "published base 0x1000005 outside");
	vq_pos_stopped(&area.slot[0], 256, 0x00058100);
	slot_refused(f, -EINVAL, "outside the ring");
	area.slot[0].state = VQ_POS_NONE;
	slot_refused(f, -EOPNOTSUPP, "no position published");

	/* The header. */
	memset(&area, 0, sizeof(area));
	assert_int_equal(vu_state_pos_check(&area, why, sizeof(why)), -ENODATA);
	vu_state_pos_init(&area);
	assert_int_equal(vu_state_pos_check(&area, why, sizeof(why)), 0);
	memcpy(area.magic, "kkkkkkkk", 8);
	assert_int_equal(vu_state_pos_check(&area, why, sizeof(why)), -EPROTO);
	assert_non_null(strstr(why, "not vhostd's"));
	vu_state_pos_init(&area);
	area.version = 2;
	assert_int_equal(vu_state_pos_check(&area, why, sizeof(why)), -EPROTO);
	assert_non_null(strstr(why, "version 2"));
	vu_state_pos_init(&area);
	area.nslots = 3;
	assert_int_equal(vu_state_pos_check(&area, why, sizeof(why)), -EPROTO);
	assert_non_null(strstr(why, "3 slots"));
}

/* The CRC-32C as the spec defines it, one bit at a time. */
static uint32_t crc_bitwise(const uint8_t *b, size_t len)
{
	uint32_t c = ~0u;

	while (len--) {
		c ^= *b++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78u & -(c & 1));
	}
	return ~c;
}

/* Records written by an older binary (bit by bit) still read: the same
 * CRC for the check value, the empty string, and every length and
 * alignment around the 8-byte steps. */
static void test_crc32c_is_the_castagnoli_crc(void **state)
{
	static uint8_t buf[4096 + 16];
	uint32_t r = 12345;

	(void)state;
	assert_int_equal(vu_state_crc32c("123456789", 9), 0xe3069283u);
	assert_int_equal(vu_state_crc32c("", 0), 0);
	for (size_t i = 0; i < sizeof(buf); i++) {
		r = r * 1103515245u + 12345u;
		buf[i] = (uint8_t)(r >> 16);
	}
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len < 40; len++)
			assert_int_equal(vu_state_crc32c(buf + off, len),
					 crc_bitwise(buf + off, len));
	assert_int_equal(vu_state_crc32c(buf + 3, 4096),
			 crc_bitwise(buf + 3, 4096));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
		T(test_record_round_trip_and_newest_slot_wins),
		T(test_torn_newest_slot_falls_back_to_the_other),
		T(test_empty_foreign_version_corrupt_refused),
		T(test_out_of_range_records_refused),
		T(test_apply_maps_again_and_resumes_at_used_index),
		T(test_ring_outside_memory_or_packed_refused),
		T(test_packed_resumes_where_its_slot_says),
		T(test_packed_flush_cut_short_is_completed),
		T(test_packed_in_order_tx_flush_cut_short_is_completed),
		T(test_hostile_positions_refused),
		cmocka_unit_test(test_crc32c_is_the_castagnoli_crc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
