/* SPDX-License-Identifier: MIT */
/*
 * vq_guest_fns.h: the functions of the simulated guest (vq_guest.h), on
 * the test's state g.  Include after <cmocka.h> and after declaring g.
 */
#ifndef VHOSTD_TEST_VQ_GUEST_FNS_H
#define VHOSTD_TEST_VQ_GUEST_FNS_H

static void *hva(uint64_t gpa)
{
	if (gpa >= R0_GPA && gpa < R0_GPA + R_SIZE)
		return g.r0 + (gpa - R0_GPA);
	if (gpa >= R1_GPA && gpa < R1_END)
		return g.r1 + (gpa - R1_GPA);
	fail_msg("gpa 0x%llx is not test memory", (unsigned long long)gpa);
	return NULL;
}

static uint64_t buf(unsigned k)
{
	assert_true(k < NBUF);
	return BUF_GPA + (uint64_t)k * BUF_STRIDE;
}

static uint64_t itbl(unsigned k)
{
	return ITBL_GPA + (uint64_t)k * 0x1000;
}

/* Byte by byte, so that a write may straddle r0 and r1. */
static void guest_write(uint64_t gpa, const void *src, size_t len)
{
	const uint8_t *s = src;

	for (size_t i = 0; i < len; i++)
		*(uint8_t *)hva(gpa + i) = s[i];
}

/* Fresh memory (zeroed regions, guards set), the region table, eventfds
 * and an empty dirty log. */
static void vq_guest_mem_up(void)
{
	memset(g.host, GUARD_BYTE, HOST_LEN);
	memset(g.r0, 0, R_SIZE);
	memset(g.r1, 0, R_SIZE);
	for (unsigned k = 0; k < NBUF; k++)
		memset((uint8_t *)hva(buf(k)) + BUF_SIZE, BUF_GUARD_BYTE,
		       BUF_STRIDE - BUF_SIZE);
	g.mem = malloc(sizeof(*g.mem) + 5 * sizeof(g.mem->r[0]));
	assert_non_null(g.mem);
	g.mem->n = 5;
	g.mem->r[0] = (struct gmem_region){0, 0x1000, 0x6f00000000, g.edge};
	g.mem->r[1] = (struct gmem_region){R0_GPA, R_SIZE, 0x7000000000, g.r0};
	g.mem->r[2] = (struct gmem_region){R1_GPA, R_SIZE, 0x7100000000, g.r1};
	g.mem->r[3] = (struct gmem_region){BIG_GPA, BIG_SIZE, 0x7200000000,
					   g.big};
	g.mem->r[4] = (struct gmem_region){TOP_GPA, 0x1000, 0x7300000000,
					   g.edge + 0x1000};
	g.call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	g.err_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(g.call_fd >= 0 && g.err_fd >= 0);
	memset(g.logbits, 0, sizeof(g.logbits));
	g.log = (struct dirty_log){g.logbits, sizeof(g.logbits)};
}

static void assert_guards(void)
{
	for (size_t i = 0; i < GUARD; i++) {
		assert_int_equal(g.host[i], GUARD_BYTE);
		assert_int_equal(g.r0[R_SIZE + i], GUARD_BYTE);
		assert_int_equal(g.r1[R_SIZE + i], GUARD_BYTE);
	}
	for (unsigned k = 0; k < NBUF; k++) {
		const uint8_t *b = hva(buf(k));
		for (unsigned i = BUF_SIZE; i < BUF_STRIDE; i++)
			assert_int_equal(b[i], BUF_GUARD_BYTE);
	}
}

static void guest_down(void)
{
	assert_guards();
	close(g.call_fd);
	close(g.err_fd);
	free(g.mem);
	g.mem = NULL;
}

static void snap_take(void)
{
	memcpy(g.snap, g.host, HOST_LEN);
}

/* Nothing in the mapping (guards, rings, buffers) changed since snap. */
static void assert_unchanged(void)
{
	assert_memory_equal(g.snap, g.host, HOST_LEN);
}

/* Eventfd counter (0 when nothing was written), and reset. */
static uint64_t efd_take(int fd)
{
	uint64_t v = 0;
	ssize_t r = read(fd, &v, sizeof(v));

	if (r < 0) {
		assert_int_equal(errno, EAGAIN);
		return 0;
	}
	assert_int_equal(r, sizeof(v));
	return v;
}

/* errors[e] == 1 and every other counter 0 (e == VQ_ERR_MAX: all 0). */
static void assert_only_error(enum vq_error e)
{
	for (unsigned i = 0; i < VQ_ERR_MAX; i++)
		assert_int_equal(g.vq.stats.errors[i], i == (unsigned)e);
}

static void assert_healthy(void)
{
	assert_false(g.vq.broken);
	assert_only_error(VQ_ERR_MAX);
	assert_int_equal(efd_take(g.err_fd), 0);
}

static void assert_seg(const struct vq_seg *s, uint64_t gpa, uint32_t len)
{
	assert_int_equal(s->gpa, gpa);
	assert_int_equal(s->len, len);
	assert_ptr_equal(s->p, hva(gpa));
}

static int group_setup(void **st)
{
	(void)st;
	g.host = mmap(NULL, HOST_LEN, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	g.big = mmap(NULL, BIG_SIZE, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	g.edge = mmap(NULL, 0x2000, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		      -1, 0);
	g.snap = malloc(HOST_LEN);
	if (g.host == MAP_FAILED || g.big == MAP_FAILED ||
	    g.edge == MAP_FAILED || g.snap == NULL)
		return -1;
	g.r0 = g.host + GUARD;
	g.r1 = g.r0 + R_SIZE + GUARD;
	return 0;
}

static int group_teardown(void **st)
{
	(void)st;
	munmap(g.host, HOST_LEN);
	munmap(g.big, BIG_SIZE);
	munmap(g.edge, 0x2000);
	free(g.snap);
	return 0;
}

#endif
