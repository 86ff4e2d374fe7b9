/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for numa/: topology from injected sysfs trees (2 and 4 nodes,
 * a memory-only node, offline cores, no NUMA at all), --cores parsing and
 * its refusals, worker choice and balancing, queue pairs whose memory
 * moves between nodes, the node-local slab with and without hugepages,
 * and the node of real memory on this host.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "numa/cores.h"
#include "numa/mem.h"
#include "numa/place.h"
#include "numa/topo.h"

/* ---- fake sysfs trees ---- */

static char root[64];

static void put(const char *rel, const char *text)
{
	char path[512], dir[512];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	for (char *s = dir + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		mkdir(dir, 0755);
		*s = '/';
	}
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "%s\n", text);
	fclose(f);
}

static int rm_one(const char *p, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(p);
}

static int tree_new(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/vhostd-numa-XXXXXX");
	assert_non_null(mkdtemp(root));
	return 0;
}

static int tree_free(void **state)
{
	(void)state;
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static void hp(int node, const char *size, int total, int free_)
{
	char rel[256], v[32];

	snprintf(rel, sizeof(rel), "devices/system/node/node%d/hugepages/"
		 "hugepages-%s/nr_hugepages", node, size);
	snprintf(v, sizeof(v), "%d", total);
	put(rel, v);
	snprintf(rel, sizeof(rel), "devices/system/node/node%d/hugepages/"
		 "hugepages-%s/free_hugepages", node, size);
	snprintf(v, sizeof(v), "%d", free_);
	put(rel, v);
}

/* 2 nodes, 0-3 and 4-7, core 3 offline; node 0 has 8 of 16 2 MiB pages
 * free and 1 GiB pages, node 1 none free. */
static void two_nodes(struct numa_topo *t)
{
	put("devices/system/cpu/possible", "0-7");
	put("devices/system/cpu/online", "0-2,4-7");
	put("devices/system/node/node0/cpulist", "0-3");
	put("devices/system/node/node1/cpulist", "4-7");
	hp(0, "2048kB", 16, 8);
	hp(0, "1048576kB", 2, 1);
	hp(1, "2048kB", 16, 0);
	assert_int_equal(numa_topo_load(t, root), 0);
}

/* 4 nodes of 2 cores (0-1, 2-3, 4-5) and a memory-only node 3. */
static void four_nodes(struct numa_topo *t)
{
	put("devices/system/cpu/possible", "0-5");
	put("devices/system/cpu/online", "0-5");
	put("devices/system/node/node0/cpulist", "0-1");
	put("devices/system/node/node1/cpulist", "2-3");
	put("devices/system/node/node2/cpulist", "4-5");
	put("devices/system/node/node3/cpulist", "");
	hp(3, "2048kB", 4, 4);
	assert_int_equal(numa_topo_load(t, root), 0);
}

static cpu_set_t set_of(const char *list)
{
	cpu_set_t s;

	assert_int_equal(numa_cpulist_parse(list, &s), 0);
	return s;
}

/* ---- topology ---- */

static void test_cpulist(void **state)
{
	cpu_set_t s;
	char buf[64];

	(void)state;
	assert_int_equal(numa_cpulist_parse("0-3,8,10-11\n", &s), 0);
	assert_string_equal(numa_cpulist_fmt(&s, buf, sizeof(buf)),
			    "0-3,8,10-11");
	assert_int_equal(numa_cpulist_parse("", &s), 0);
	assert_string_equal(numa_cpulist_fmt(&s, buf, sizeof(buf)), "none");
	assert_int_equal(numa_cpulist_parse("3-1", &s), -EINVAL);
	assert_int_equal(numa_cpulist_parse("1,,2", &s), -EINVAL);
	assert_int_equal(numa_cpulist_parse("x", &s), -EINVAL);
	assert_int_equal(numa_cpulist_parse("99999", &s), -EINVAL);
}

static void test_topo_two_nodes(void **state)
{
	struct numa_topo t;
	char buf[64];

	(void)state;
	two_nodes(&t);
	assert_int_equal(numa_topo_nodes(&t), 2);
	assert_false(t.from_libnuma);
	/* Offline core 3 belongs to no node's online set. */
	assert_string_equal(numa_cpulist_fmt(&t.node[0].cpus, buf,
					     sizeof(buf)), "0-2");
	assert_string_equal(numa_cpulist_fmt(&t.node[1].cpus, buf,
					     sizeof(buf)), "4-7");
	assert_int_equal(numa_topo_cpu_node(&t, 2), 0);
	assert_int_equal(numa_topo_cpu_node(&t, 3), -1);
	assert_int_equal(numa_topo_cpu_node(&t, 7), 1);
	assert_int_equal(numa_topo_cpu_node(&t, 8), -1);
	assert_int_equal(numa_topo_cpu_node(&t, -1), -1);
	assert_int_equal(numa_topo_huge_free(&t, 0, 2048), 8);
	assert_int_equal(numa_topo_huge_free(&t, 0, 1048576), 1);
	assert_int_equal(numa_topo_huge_free(&t, 1, 2048), 0);
	assert_int_equal(numa_topo_huge_free(&t, 5, 2048), 0);
	numa_topo_log(&t);
}

static void test_topo_four_nodes(void **state)
{
	struct numa_topo t;

	(void)state;
	four_nodes(&t);
	assert_int_equal(numa_topo_nodes(&t), 4);
	assert_int_equal(t.nnodes, 4);
	assert_int_equal(CPU_COUNT(&t.node[3].cpus), 0);
	assert_int_equal(numa_topo_cpu_node(&t, 5), 2);
	assert_int_equal(numa_topo_huge_free(&t, 3, 2048), 4);
}

/* No node directories: one node 0 with every online core and the global
 * hugepage pools. */
static void test_topo_no_numa(void **state)
{
	struct numa_topo t;

	(void)state;
	put("devices/system/cpu/possible", "0-3");
	put("devices/system/cpu/online", "0-3");
	put("kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "10");
	put("kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "7");
	assert_int_equal(numa_topo_load(&t, root), 0);
	assert_int_equal(numa_topo_nodes(&t), 1);
	assert_int_equal(CPU_COUNT(&t.node[0].cpus), 4);
	assert_int_equal(numa_topo_huge_free(&t, 0, 2048), 7);
}

static void test_topo_unreadable(void **state)
{
	struct numa_topo t;

	(void)state;
	assert_int_equal(numa_topo_load(&t, root), -ENOENT);
	put("devices/system/cpu/possible", "0-1");
	put("devices/system/cpu/online", "zero");
	assert_int_equal(numa_topo_load(&t, root), -EINVAL);
}

/* This host, through libnuma: at least one node holding our cores. */
static void test_topo_host(void **state)
{
	struct numa_topo t;
	cpu_set_t mine;

	(void)state;
	assert_int_equal(numa_topo_load(&t, NULL), 0);
	assert_true(numa_topo_nodes(&t) >= 1);
	assert_int_equal(sched_getaffinity(0, sizeof(mine), &mine), 0);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &mine))
			assert_true(numa_topo_cpu_node(&t, c) >= 0);
}

/* ---- --cores ---- */

static const char *cores(const struct numa_topo *t, const char *allowed,
			 const char *spec, int *err)
{
	static char out[128], why[256];
	cpu_set_t a = set_of(allowed), s;

	*err = numa_cores_parse(t, &a, spec, &s, why, sizeof(why));
	return *err ? why : numa_cpulist_fmt(&s, out, sizeof(out));
}

static void expect_cores(const struct numa_topo *t, const char *spec,
			 const char *want)
{
	int err;
	const char *got = cores(t, "0-7", spec, &err);

	assert_int_equal(err, 0);
	assert_string_equal(got, want);
}

static void expect_refusal(const struct numa_topo *t, const char *allowed,
			   const char *spec, const char *why)
{
	int err;
	const char *got = cores(t, allowed, spec, &err);

	assert_int_equal(err, -EINVAL);
	if (!strstr(got, why))
		fail_msg("'%s': got '%s', want '%s'", spec, got, why);
}

static void test_cores_forms(void **state)
{
	struct numa_topo t;

	(void)state;
	two_nodes(&t);
	expect_cores(&t, "1", "1");
	expect_cores(&t, "4-6,1", "1,4-6");
	expect_cores(&t, "node1", "4-7");
	expect_cores(&t, "node0", "0-2");           /* 3 is offline */
	expect_cores(&t, "node1:2", "6-7");         /* highest first */
	expect_cores(&t, "7,node1:2", "5-7");       /* skips named ones */
	expect_cores(&t, "node0:1,node1:1", "2,7");
}

static void test_cores_refused(void **state)
{
	struct numa_topo t;

	(void)state;
	two_nodes(&t);
	expect_refusal(&t, "0-7", "9", "core 9 does not exist (this host's "
		       "cores: 0-7)");
	expect_refusal(&t, "0-7", "3", "core 3 is offline");
	expect_refusal(&t, "0-7", "2-4", "core 3 is offline");
	expect_refusal(&t, "0-1,4-7", "2", "core 2 is not one vhostd may run "
		       "on (allowed: 0-1,4-7)");
	expect_refusal(&t, "0-7", "node2", "node 2 does not exist (this "
		       "host's nodes: 0,1)");
	expect_refusal(&t, "0-7", "node1:5", "node 1 has 4 usable cores "
		       "left, 5 asked for");
	expect_refusal(&t, "0-7", "7,node1:4", "node 1 has 3 usable cores "
		       "left, 4 asked for");
	expect_refusal(&t, "0-3", "node1", "node 1 has no online core "
		       "vhostd may run on");
	expect_refusal(&t, "0-7", "node1:0", "is not nodeN or nodeN:COUNT");
	expect_refusal(&t, "0-7", "nodex", "is not nodeN or nodeN:COUNT");
	expect_refusal(&t, "0-7", "node1:", "is not nodeN or nodeN:COUNT");
	expect_refusal(&t, "0-7", "two", "is not a core, a range");
	expect_refusal(&t, "0-7", "3-1", "is not a core, a range");
	expect_refusal(&t, "0-7", "-1", "is not a core, a range");
	expect_refusal(&t, "0-7", "", "empty list");
	expect_refusal(&t, "0-7", ",", "empty list");
}

static void test_cores_memory_only_node(void **state)
{
	struct numa_topo t;

	(void)state;
	four_nodes(&t);
	expect_refusal(&t, "0-5", "node3", "node 3 has no online core");
	expect_refusal(&t, "0-5", "node4", "node 4 does not exist (this "
		       "host's nodes: 0,1,2,3)");
	int err;
	assert_string_equal(cores(&t, "0-5", "node2:1,node0:1", &err), "1,5");
}

/* ---- placement ---- */

static void test_place_balance(void **state)
{
	/* 2 nodes: workers 0 and 1 on node 0, worker 2 on node 1. */
	struct place_worker w[3] = {{0, 0}, {0, 0}, {1, 0}};
	bool remote;

	(void)state;
	uint32_t seq[4];
	for (int i = 0; i < 4; i++) {
		seq[i] = numa_place_pick(w, 3, 0, &remote);
		assert_false(remote);
		w[seq[i]].load++;
	}
	assert_int_equal(seq[0], 0);
	assert_int_equal(seq[1], 1);
	assert_int_equal(seq[2], 0);
	assert_int_equal(seq[3], 1);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(numa_place_pick(w, 3, 1, &remote), 2);
		assert_false(remote);
		w[2].load++;
	}
	/* Unknown node: the least-loaded of all, not a crossing. */
	w[0].load = 5;
	assert_int_equal(numa_place_pick(w, 3, -1, &remote), 1);
	assert_false(remote);
}

static void test_place_no_worker_on_node(void **state)
{
	/* 4 nodes; workers on nodes 0 and 1 only. */
	struct place_worker w[2] = {{0, 3}, {1, 1}};
	bool remote;

	(void)state;
	assert_int_equal(numa_place_pick(w, 2, 3, &remote), 1);
	assert_true(remote);
	assert_int_equal(numa_place_pick(w, 2, 2, NULL), 1);
	/* Unknown core nodes count as no node. */
	struct place_worker u[2] = {{-1, 2}, {-1, 0}};
	assert_int_equal(numa_place_pick(u, 2, 0, &remote), 1);
	assert_true(remote);
	assert_int_equal(numa_place_node(1, 0), 1);
	assert_int_equal(numa_place_node(-1, 0), 0);
	assert_int_equal(numa_place_node(-1, -1), -1);
}

/*
 * A guest's memory moves from node 0 to node 1 (a new memory table): its
 * queue pair is unplaced as the device pauses and placed again on resume,
 * on node 1's worker, while the other guest's pair stays where it was.
 */
static void test_place_memory_moves(void **state)
{
	struct place_worker w[2] = {{0, 0}, {1, 0}};
	uint32_t a, b;

	(void)state;
	a = numa_place_pick(w, 2, 0, NULL);
	w[a].load++;
	b = numa_place_pick(w, 2, 0, NULL);
	w[b].load++;
	assert_int_equal(a, 0);
	assert_int_equal(b, 0);
	w[a].load--;                       /* pause: a is unplaced */
	a = numa_place_pick(w, 2, 1, NULL);  /* resume: memory on node 1 */
	w[a].load++;
	assert_int_equal(a, 1);
	assert_int_equal(b, 0);
}

/* ---- memory ---- */

static uint64_t host_huge_free(void)
{
	struct numa_topo t;

	if (numa_topo_load(&t, NULL))
		return 0;
	uint64_t n = 0;
	for (uint32_t id = 0; id < t.nnodes; id++)
		n += numa_topo_huge_free(&t, (int)id, 2048);
	return n;
}

static void test_slab_normal_pages(void **state)
{
	struct numa_topo t;
	struct numa_slab s;
	bool huge = true;

	(void)state;
	two_nodes(&t);
	for (uint32_t i = 0; i < t.node[0].nhp; i++)
		t.node[0].hp[i].free = 0;  /* hugepages exhausted */
	numa_slab_init(&s, 100 * 1024 + 3, &t);
	assert_int_equal(s.obj % 64, 0);
	uint8_t *o[40];
	for (int i = 0; i < 40; i++) {     /* more than one chunk */
		o[i] = numa_slab_alloc(&s, 0, &huge);
		assert_non_null(o[i]);
		assert_false(huge);
		assert_int_equal((uintptr_t)o[i] % 64, 0);
		for (size_t k = 0; k < s.obj; k += 4096)
			assert_int_equal(o[i][k], 0);
		memset(o[i], 0xab, s.obj);
	}
	/* Freed objects are reused, zeroed, for the same node only. */
	numa_slab_free(&s, o[7]);
	assert_ptr_equal(numa_slab_alloc(&s, 0, NULL), o[7]);
	assert_int_equal(o[7][5], 0);
	numa_slab_free(&s, o[8]);
	assert_ptr_not_equal(numa_slab_alloc(&s, NUMA_NODE_UNKNOWN, NULL),
			     o[8]);
	numa_slab_free(&s, NULL);
	numa_slab_fini(&s);
}

/* A node this host does not have: binding fails, the slab still serves
 * (normal pages wherever the kernel puts them). */
static void test_slab_missing_node(void **state)
{
	struct numa_topo t;
	struct numa_slab s;
	bool huge = true;

	(void)state;
	four_nodes(&t);                    /* node 3 "has" free hugepages */
	numa_slab_init(&s, 4096, &t);
	void *o = numa_slab_alloc(&s, 3, &huge);
	assert_non_null(o);
	assert_false(huge);
	numa_slab_fini(&s);
}

static void test_slab_hugepages(void **state)
{
	struct numa_topo t;
	struct numa_slab s;
	bool huge = false;

	(void)state;
	if (host_huge_free() < 2)
		skip();
	assert_int_equal(numa_topo_load(&t, NULL), 0);
	numa_slab_init(&s, 64 * 1024, &t);
	void *o = numa_slab_alloc(&s, 0, &huge);
	assert_non_null(o);
	assert_true(huge);
	assert_int_equal(numa_addr_node(o), 0);
	numa_slab_fini(&s);
}

/* numa_slab_prepare(): the chunk a helper thread maps for a node goes to
 * that node's first chunk, not another's; one left unused is unmapped. */
static void test_slab_prepared_chunk(void **state)
{
	struct numa_topo t;
	struct numa_slab s;
	bool huge = false;

	(void)state;
	if (host_huge_free() < 3)
		skip();
	assert_int_equal(numa_topo_load(&t, NULL), 0);
	numa_slab_init(&s, 64 * 1024, &t);
	numa_slab_prepare(&s, NUMA_NODE_UNKNOWN);    /* no node: nothing */
	assert_false(s.spare_running);
	numa_slab_prepare(&s, 0);
	assert_true(s.spare_running);
	void *other = numa_slab_alloc(&s, NUMA_NODE_UNKNOWN, NULL);
	assert_non_null(other);
	assert_false(s.spare_running);       /* joined, kept for node 0 */
	assert_non_null(s.spare);
	void *spare = s.spare;
	void *o = numa_slab_alloc(&s, 0, &huge);
	assert_ptr_equal(o, spare);          /* the first object of it */
	assert_true(huge);
	assert_null(s.spare);
	assert_int_equal(numa_addr_node(o), 0);
	numa_slab_fini(&s);

	numa_slab_init(&s, 64 * 1024, &t);   /* prepared, never used */
	numa_slab_prepare(&s, 0);
	numa_slab_prepare(&s, 0);            /* once */
	numa_slab_fini(&s);
	assert_null(s.spare);
	assert_false(s.spare_running);
}

static void test_addr_nodes(void **state)
{
	size_t len = 64 * 4096;
	int fd = memfd_create("numa-test", 0);
	uint32_t seen;
	char buf[32];

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)len), 0);
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	/* Nothing touched yet: nothing seen, nothing allocated by looking. */
	assert_int_equal(numa_range_nodes(p, len, 4096, 16, &seen), 0);
	assert_int_equal(seen, 0);
	memset(p, 1, len / 2);
	uint64_t mask = numa_range_nodes(p, len, 4096, 16, &seen);
	assert_int_equal(seen, 8);
	assert_int_equal(numa_mask_node(mask), 0);   /* one node here: 0 */
	assert_int_equal(numa_addr_node(p + 100), 0);
	assert_string_equal(numa_mask_fmt(mask, buf, sizeof(buf)), "0");
	assert_string_equal(numa_mask_fmt(0x5, buf, sizeof(buf)), "0,2");
	assert_string_equal(numa_mask_fmt(0, buf, sizeof(buf)), "-");
	assert_int_equal(numa_mask_node(0x6), NUMA_NODE_UNKNOWN);
	assert_int_equal(numa_mask_node(0), NUMA_NODE_UNKNOWN);
	munmap(p, len);
	close(fd);
}

#define TREE(f) cmocka_unit_test_setup_teardown(f, tree_new, tree_free)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpulist),
		TREE(test_topo_two_nodes),
		TREE(test_topo_four_nodes),
		TREE(test_topo_no_numa),
		TREE(test_topo_unreadable),
		cmocka_unit_test(test_topo_host),
		TREE(test_cores_forms),
		TREE(test_cores_refused),
		TREE(test_cores_memory_only_node),
		cmocka_unit_test(test_place_balance),
		cmocka_unit_test(test_place_no_worker_on_node),
		cmocka_unit_test(test_place_memory_moves),
		TREE(test_slab_normal_pages),
		TREE(test_slab_missing_node),
		cmocka_unit_test(test_slab_hugepages),
		cmocka_unit_test(test_slab_prepared_chunk),
		cmocka_unit_test(test_addr_nodes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
