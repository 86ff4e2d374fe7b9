/* SPDX-License-Identifier: MIT */
#include "cores.h"
#include "mem.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REFUSE(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)

static bool parse_uint(const char *s, const char *end, unsigned long max,
		       unsigned long *out)
{
	char *e;

	if (s == end || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoul(s, &e, 10);
	return errno == 0 && e == end && *out <= max;
}

/* Core c may be a worker, or why not. */
static int check_core(const struct numa_topo *t, const cpu_set_t *allowed,
		      unsigned long c, char *err, size_t errlen)
{
	char list[256];

	if (c >= CPU_SETSIZE || !CPU_ISSET(c, &t->possible))
		return REFUSE("core %lu does not exist (this host's cores: %s)",
			      c, numa_cpulist_fmt(&t->possible, list,
						  sizeof(list)));
	if (!CPU_ISSET(c, &t->online))
		return REFUSE("core %lu is offline (online: %s)", c,
			      numa_cpulist_fmt(&t->online, list, sizeof(list)));
	if (!CPU_ISSET(c, allowed))
		return REFUSE("core %lu is not one vhostd may run on (allowed: "
			      "%s)", c, numa_cpulist_fmt(allowed, list,
							 sizeof(list)));
	return 0;
}

/* The host's nodes as a list ("0,1"). */
static const char *node_list(const struct numa_topo *t, char *buf,
			     size_t len)
{
	uint64_t mask = 0;

	for (uint32_t id = 0; id < t->nnodes; id++)
		if (t->node[id].present)
			mask |= 1ull << id;
	return numa_mask_fmt(mask, buf, len);
}

/* "nodeN" or "nodeN:K" (tok points past "node"). */
static int add_node_cores(const struct numa_topo *t, const cpu_set_t *allowed,
			  const char *tok, cpu_set_t *out, char *err,
			  size_t errlen)
{
	const char *colon = strchr(tok, ':');
	const char *end = colon ? colon : tok + strlen(tok);
	unsigned long id, want = 0;
	char nodes[256], list[256];

	if (!parse_uint(tok, end, 1u << 20, &id) ||
	    (colon && (!parse_uint(colon + 1, colon + strlen(colon), 1u << 20,
				   &want) || want == 0)))
		return REFUSE("'node%s' is not nodeN or nodeN:COUNT (COUNT >= "
			      "1)", tok);
	if (id >= t->nnodes || !t->node[id].present)
		return REFUSE("node %lu does not exist (this host's nodes: %s)",
			      id, node_list(t, nodes, sizeof(nodes)));
	cpu_set_t usable;
	CPU_AND(&usable, &t->node[id].cpus, allowed);
	if (CPU_COUNT(&usable) == 0)
		return REFUSE("node %lu has no online core vhostd may run on "
			      "(its cores: %s)", id,
			      numa_cpulist_fmt(&t->node[id].cpus, list,
					       sizeof(list)));
	unsigned long got = 0;
	for (int c = CPU_SETSIZE - 1; c >= 0 && (!want || got < want); c--) {
		if (!CPU_ISSET(c, &usable) || CPU_ISSET(c, out))
			continue;
		CPU_SET(c, out);
		got++;
	}
	if (want && got < want)
		return REFUSE("node %lu has %lu usable core%s left, %lu asked "
			      "for (usable: %s)", id, got, got == 1 ? "" : "s",
			      want, numa_cpulist_fmt(&usable, list,
						     sizeof(list)));
	return 0;
}

/* "N" or "N-M". */
static int add_range(const struct numa_topo *t, const cpu_set_t *allowed,
		     const char *tok, cpu_set_t *out, char *err, size_t errlen)
{
	const char *dash = strchr(tok, '-');
	const char *end = tok + strlen(tok);
	unsigned long lo, hi;

	if (!parse_uint(tok, dash ? dash : end, CPU_SETSIZE * 16, &lo) ||
	    !parse_uint(dash ? dash + 1 : tok, end, CPU_SETSIZE * 16, &hi) ||
	    hi < lo)
		return REFUSE("'%s' is not a core, a range N-M or nodeN[:COUNT]",
			      tok);
	for (unsigned long c = lo; c <= hi; c++) {
		int e = check_core(t, allowed, c, err, errlen);
		if (e)
			return e;
		CPU_SET(c, out);
	}
	return 0;
}

int numa_cores_parse(const struct numa_topo *t, const cpu_set_t *allowed,
		     const char *spec, cpu_set_t *out, char *err,
		     size_t errlen)
{
	char buf[1024], *save = NULL;

	CPU_ZERO(out);
	if (strlen(spec) >= sizeof(buf))
		return REFUSE("list too long");
	strcpy(buf, spec);
	for (char *tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		int e = strncmp(tok, "node", 4) == 0 ?
			add_node_cores(t, allowed, tok + 4, out, err, errlen) :
			add_range(t, allowed, tok, out, err, errlen);
		if (e)
			return e;
	}
	if (CPU_COUNT(out) == 0)
		return REFUSE("empty list");
	return 0;
}
