/* SPDX-License-Identifier: MIT */
#include "topo.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <numa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../datapath/log.h"

#define TAG "numa"

/* libnuma reports through these weak hooks; route them into our log
 * instead of its own stderr lines. */
void numa_error(char *where)
{
	VLOG(VLOG_LVL_DEBUG, TAG, "libnuma: %s: %s", where, strerror(errno));
}

void numa_warn(int num, char *fmt, ...)
{
	VLOG(VLOG_LVL_DEBUG, TAG, "libnuma warning %d: %s", num, fmt);
}

int numa_cpulist_parse(const char *s, cpu_set_t *out)
{
	CPU_ZERO(out);
	while (*s && *s != '\n') {
		char *end;
		unsigned long lo = strtoul(s, &end, 10), hi = lo;
		if (end == s)
			return -EINVAL;
		s = end;
		if (*s == '-') {
			hi = strtoul(s + 1, &end, 10);
			if (end == s + 1)
				return -EINVAL;
			s = end;
		}
		if (hi < lo || hi >= CPU_SETSIZE)
			return -EINVAL;
		for (unsigned long c = lo; c <= hi; c++)
			CPU_SET(c, out);
		if (*s == ',')
			s++;
		else if (*s && *s != '\n')
			return -EINVAL;
	}
	return 0;
}

const char *numa_cpulist_fmt(const cpu_set_t *set, char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = '\0';
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, set))
			continue;
		int hi = c;
		while (hi + 1 < CPU_SETSIZE && CPU_ISSET(hi + 1, set))
			hi++;
		int n = hi > c ? snprintf(buf + at, len - at, "%s%d-%d",
					  at ? "," : "", c, hi)
			       : snprintf(buf + at, len - at, "%s%d",
					  at ? "," : "", c);
		if (n < 0 || (size_t)n >= len - at)
			break;
		at += (size_t)n;
		c = hi;
	}
	if (!at)
		snprintf(buf, len, "none");
	return buf;
}

/* The first line of root/rel (trailing newline cut) into buf. */
static int read_line(const char *root, const char *rel, char *buf, size_t len)
{
	char path[512];

	int n = snprintf(path, sizeof(path), "%s/%s", root, rel);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	bool ok = fgets(buf, (int)len, f) != NULL;
	fclose(f);
	if (!ok)
		return -EIO;
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int read_cpulist(const char *root, const char *rel, cpu_set_t *out)
{
	char buf[1024];
	int err = read_line(root, rel, buf, sizeof(buf));

	return err ? err : numa_cpulist_parse(buf, out);
}

static uint64_t read_u64(const char *root, const char *rel)
{
	char buf[64];

	return read_line(root, rel, buf, sizeof(buf)) ? 0 :
	       strtoull(buf, NULL, 10);
}

/* Hugepage pools of one node (dir: ".../nodeN/hugepages"). */
static void read_hugepages(const char *root, const char *dir,
			   struct numa_node *n)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", root, dir);
	DIR *d = opendir(path);
	if (!d)
		return;
	for (struct dirent *e; (e = readdir(d)) && n->nhp < NUMA_HP_SIZES;) {
		unsigned long long kb;
		char rel[512];
		if (sscanf(e->d_name, "hugepages-%llukB", &kb) != 1)
			continue;
		struct numa_hp *hp = &n->hp[n->nhp++];
		hp->size_kb = kb;
		snprintf(rel, sizeof(rel), "%s/%s/nr_hugepages", dir, e->d_name);
		hp->total = read_u64(root, rel);
		snprintf(rel, sizeof(rel), "%s/%s/free_hugepages", dir,
			 e->d_name);
		hp->free = read_u64(root, rel);
	}
	closedir(d);
}

static void add_node(struct numa_topo *t, uint32_t id, const cpu_set_t *cpus,
		     const char *root)
{
	char dir[64];
	struct numa_node *n = &t->node[id];

	n->present = true;
	CPU_AND(&n->cpus, cpus, &t->online);
	snprintf(dir, sizeof(dir), "devices/system/node/node%u/hugepages", id);
	read_hugepages(root, dir, n);
	if (id + 1 > t->nnodes)
		t->nnodes = id + 1;
}

/* Nodes and cores from a sysfs tree. */
static int load_sysfs_nodes(struct numa_topo *t, const char *root)
{
	for (uint32_t id = 0; id < NUMA_NODES_MAX; id++) {
		char rel[64];
		cpu_set_t cpus;
		snprintf(rel, sizeof(rel), "devices/system/node/node%u/cpulist",
			 id);
		int err = read_cpulist(root, rel, &cpus);
		if (err == -ENOENT)
			continue;
		if (err) {
			LOG_ERR(TAG, "%s/%s: unreadable (%s)", root, rel,
				strerror(-err));
			return err;
		}
		add_node(t, id, &cpus, root);
	}
	return 0;
}

/* Nodes and cores from libnuma (sysfs for the hugepages). */
static int load_libnuma_nodes(struct numa_topo *t)
{
	struct bitmask *bm = numa_allocate_cpumask();

	if (!bm)
		return -ENOMEM;
	int max = numa_max_node();
	for (int id = 0; id <= max && id < NUMA_NODES_MAX; id++) {
		if (!numa_bitmask_isbitset(numa_nodes_ptr, (unsigned)id))
			continue;
		cpu_set_t cpus;
		CPU_ZERO(&cpus);
		if (numa_node_to_cpus(id, bm) == 0)
			for (unsigned c = 0; c < bm->size && c < CPU_SETSIZE; c++)
				if (numa_bitmask_isbitset(bm, c))
					CPU_SET(c, &cpus);
		add_node(t, (uint32_t)id, &cpus, "/sys");
	}
	numa_free_cpumask(bm);
	t->from_libnuma = true;
	return 0;
}

int numa_topo_load(struct numa_topo *t, const char *sysfs_root)
{
	const char *root = sysfs_root ? sysfs_root : "/sys";
	int err;

	memset(t, 0, sizeof(*t));
	if ((err = read_cpulist(root, "devices/system/cpu/possible",
				&t->possible)) ||
	    (err = read_cpulist(root, "devices/system/cpu/online",
				&t->online))) {
		LOG_ERR(TAG, "%s/devices/system/cpu: cannot read the host's "
			"cores (%s)", root, strerror(-err));
		return err;
	}
	if (!sysfs_root && numa_available() >= 0)
		err = load_libnuma_nodes(t);
	else
		err = load_sysfs_nodes(t, root);
	if (err)
		return err;
	if (t->nnodes == 0) {
		/* No NUMA: one node with every core, the global pools. */
		add_node(t, 0, &t->online, root);
		read_hugepages(root, "kernel/mm/hugepages", &t->node[0]);
	}
	return 0;
}

const struct numa_topo *numa_topo_get(void)
{
	static struct numa_topo topo;
	static bool loaded;

	if (loaded)
		return &topo;
	loaded = true;
	const char *root = getenv("VHOSTD_NUMA_SYSFS");
	if (root && *root)
		LOG_INFO(TAG, "topology from %s (VHOSTD_NUMA_SYSFS)", root);
	if (numa_topo_load(&topo, root && *root ? root : NULL) == 0)
		return &topo;
	memset(&topo, 0, sizeof(topo));
	sched_getaffinity(0, sizeof(topo.online), &topo.online);
	topo.possible = topo.online;
	topo.node[0].present = true;
	topo.node[0].cpus = topo.online;
	topo.nnodes = 1;
	LOG_WARN(TAG, "topology unknown: one node assumed, holding every core "
		 "vhostd may run on");
	return &topo;
}

int numa_topo_cpu_node(const struct numa_topo *t, int cpu)
{
	if (cpu < 0 || cpu >= CPU_SETSIZE)
		return -1;
	for (uint32_t id = 0; id < t->nnodes; id++)
		if (t->node[id].present && CPU_ISSET(cpu, &t->node[id].cpus))
			return (int)id;
	return -1;
}

uint32_t numa_topo_nodes(const struct numa_topo *t)
{
	uint32_t n = 0;

	for (uint32_t id = 0; id < t->nnodes; id++)
		n += t->node[id].present;
	return n;
}

uint64_t numa_topo_huge_free(const struct numa_topo *t, int node,
			     uint64_t size_kb)
{
	if (node < 0 || node >= (int)t->nnodes || !t->node[node].present)
		return 0;
	for (uint32_t i = 0; i < t->node[node].nhp; i++)
		if (t->node[node].hp[i].size_kb == size_kb)
			return t->node[node].hp[i].free;
	return 0;
}

void numa_topo_log(const struct numa_topo *t)
{
	LOG_INFO(TAG, "%u node%s (%s)", numa_topo_nodes(t),
		 numa_topo_nodes(t) == 1 ? "" : "s",
		 t->from_libnuma ? "libnuma" : "sysfs");
	for (uint32_t id = 0; id < t->nnodes; id++) {
		const struct numa_node *n = &t->node[id];
		char cores[256], hp[256] = "";
		size_t at = 0;
		if (!n->present)
			continue;
		for (uint32_t i = 0; i < n->nhp && at < sizeof(hp); i++) {
			int k = snprintf(hp + at, sizeof(hp) - at,
					 ", %" PRIu64 " kB hugepages %" PRIu64
					 " free of %" PRIu64, n->hp[i].size_kb,
					 n->hp[i].free, n->hp[i].total);
			at += k > 0 ? (size_t)k : 0;
		}
		LOG_INFO(TAG, "node %u: cores %s%s", id,
			 numa_cpulist_fmt(&n->cpus, cores, sizeof(cores)),
			 n->nhp ? hp : ", no hugepages");
	}
}
