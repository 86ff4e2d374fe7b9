/* SPDX-License-Identifier: MIT */
/*
 * vhostd_opts_bridge.c: the command line's bridge parts:
 *   --bridge NAME[,aging=S][,mac-limit=N]
 *   --port NAME=SPEC,bridge=BR[,vlan=N|,trunk=N,M-K,...]
 * The bridge options of a port are taken out of SPEC before its type
 * parses the rest, whatever the type (vhost, loop, afxdp, dpdk).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vhostd_opts.h"

static int refuse(const char *what, const char *arg)
{
	fprintf(vhostd_opts_err(), "vhostd: %s '%s' (see --help)\n", what, arg);
	return -EINVAL;
}

static int u32_in(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static bool name_ok(const char *name)
{
	size_t n = strlen(name);

	return n && n < DP_BRIDGE_NAME_MAX &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		      "0123456789_-.") == n;
}

int opts_bridge_parse(struct vhostd_opts *o, char *spec)
{
	char *save = NULL, *name = strtok_r(spec, ",", &save), *tok;

	if (!name || !name_ok(name))
		return refuse("--bridge name must be 1-31 of [A-Za-z0-9_.-]:",
			      name ? name : "");
	for (int i = 0; i < o->nbridges; i++)
		if (strcmp(o->bridges[i].name, name) == 0)
			return refuse("--bridge given twice:", name);
	if (o->nbridges == DP_BRIDGES_MAX)
		return refuse("too many bridges (at most 16), at", name);
	struct bridge_opt *b = &o->bridges[o->nbridges];
	memset(b, 0, sizeof(*b));
	strcpy(b->name, name);
	while ((tok = strtok_r(NULL, ",", &save))) {
		if (strncmp(tok, "aging=", 6) == 0 &&
		    u32_in(tok + 6, 1, FDB_AGING_MAX, &b->cfg.aging) == 0)
			continue;
		if (strncmp(tok, "mac-limit=", 10) == 0 &&
		    u32_in(tok + 10, 1, 1u << 24, &b->cfg.mac_limit) == 0)
			continue;
		return refuse("--bridge option unknown or out of range "
			      "(aging=1..1000000 seconds, mac-limit=1..16777216):",
			      tok);
	}
	o->nbridges++;
	return 0;
}

/* A trunk list's continuation token: N or M-K. */
static bool vlan_token(const char *t)
{
	size_t d = strspn(t, "0123456789");

	if (d == 0)
		return false;
	if (t[d] == '-')
		return t[d + 1] && strspn(t + d + 1, "0123456789") ==
				   strlen(t + d + 1);
	return t[d] == '\0';
}

int opts_port_bridge(char *args, char *bridge, struct br_vlan *vlan)
{
	char out[512], trunk[512], *rest = args, *tok;
	bool have_vlan = false, have_trunk = false, in_trunk = false;
	bool kept = false;
	size_t at = 0, tat = 0;

	bridge[0] = '\0';
	memset(vlan, 0, sizeof(*vlan));
	out[0] = trunk[0] = '\0';
	if (strlen(args) >= sizeof(out))
		return refuse("port arguments longer than 511 bytes:", args);
	/* strsep, not strtok: an empty argument stays where it was, so the
	 * type's own parser sees (and refuses) exactly what was given. */
	while ((tok = strsep(&rest, ","))) {
		if (in_trunk && vlan_token(tok)) {
			tat += (size_t)snprintf(trunk + tat, sizeof(trunk) - tat,
						",%s", tok);
			continue;
		}
		in_trunk = false;
		if (strncmp(tok, "bridge=", 7) == 0) {
			if (bridge[0] || !name_ok(tok + 7))
				return refuse("port option bridge= given twice "
					      "or a bad bridge name:", tok);
			strcpy(bridge, tok + 7);
		} else if (strncmp(tok, "vlan=", 5) == 0) {
			if (have_vlan || br_vlan_parse_access(tok + 5, vlan))
				return refuse("port option vlan= given twice "
					      "or not 1..4094:", tok);
			have_vlan = true;
		} else if (strncmp(tok, "trunk=", 6) == 0) {
			if (have_trunk)
				return refuse("port option trunk= given twice:",
					      tok);
			have_trunk = in_trunk = true;
			tat = (size_t)snprintf(trunk, sizeof(trunk), "%s",
					       tok + 6);
		} else {
			at += (size_t)snprintf(out + at, sizeof(out) - at,
					       "%s%s", kept ? "," : "", tok);
			kept = true;
		}
	}
	if (have_trunk && br_vlan_parse_trunk(trunk, vlan))
		return refuse("port option trunk= wants VLANs 1..4094 as "
			      "N,M-K,...:", trunk);
	if (have_vlan && have_trunk)
		return refuse("a port is an access port (vlan=) or a trunk "
			      "(trunk=), not both:", bridge);
	if ((have_vlan || have_trunk) && !bridge[0])
		return refuse("vlan= and trunk= need bridge=BR:", out);
	strcpy(args, out);
	return 0;
}

int opts_bridges_check(const struct vhostd_opts *o)
{
	for (int i = 0; i < o->nports; i++) {
		const struct port_opt *p = &o->ports[i];
		if (!p->bridge[0])
			continue;
		int b = 0;
		while (b < o->nbridges && strcmp(o->bridges[b].name, p->bridge))
			b++;
		if (b == o->nbridges)
			return refuse("port names an unknown bridge (give it "
				      "with --bridge):", p->bridge);
	}
	return 0;
}
