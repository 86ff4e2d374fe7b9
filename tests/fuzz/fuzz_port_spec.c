/* SPDX-License-Identifier: MIT */
/*
 * fuzz_port_spec.c: vhostd's command line (control/daemon/vhostd_opts.c), the
 * --port NAME=TYPE:ARGS specs and every other option.
 *
 * Input: the arguments after "vhostd", one per line ('\n' separates them;
 * an empty line is an empty argument).  The parse must succeed or fail
 * with -EINVAL; a successful parse must describe a consistent set of
 * ports (names valid and distinct, links symmetric, strings terminated,
 * every number in its documented range; a bridged port on a bridge that
 * was given, with a VLAN mode in range, and wired no other way).  Parsing twice in a row must not
 * depend on what the previous parse left behind.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/daemon/vhostd_opts.h"
#include "control/wire/vu_proto.h"
#include "fuzz.h"

#define MAX_ARGS 128

static struct vhostd_opts opts;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Every refusal prints one line (its contract): not what we fuzz. */
	FILE *null = fopen("/dev/null", "w");
	if (null)
		stderr = null;
	return 0;
}

static void check_str(const char *s, size_t cap)
{
	if (!memchr(s, '\0', cap))
		abort();
}

static bool bridge_known(const struct vhostd_opts *o, const char *name)
{
	for (int i = 0; i < o->nbridges; i++)
		if (strcmp(o->bridges[i].name, name) == 0)
			return true;
	return false;
}

/* What a successful parse promises the daemon. */
static void check_opts(const struct vhostd_opts *o)
{
	if (o->nports < 0 || o->nports > VHOSTD_MAX_PORTS)
		abort();
	check_str(o->control_path, sizeof(o->control_path));
	for (int i = 0; i < o->nports; i++) {
		const struct port_opt *p = &o->ports[i];
		check_str(p->name, sizeof(p->name));
		check_str(p->path, sizeof(p->path));
		check_str(p->nic_type, sizeof(p->nic_type));
		check_str(p->nic_args, sizeof(p->nic_args));
		if (!p->name[0] || p->queues < 1 ||
		    p->queues > VU_MAX_QUEUE_PAIRS || p->mtu < 68 ||
		    (p->mac[0] & 1))
			abort();
		for (int j = 0; j < i; j++)
			if (strcmp(o->ports[j].name, p->name) == 0)
				abort();
		/* vhost-fd: and --fd: an open stream socket, never a client. */
		if (p->fd_port && (p->fd < 0 || p->client ||
				   p->kind != PORT_VHOST))
			abort();
		if (p->peer >= o->nports || p->peer == i ||
		    (p->peer >= 0 && o->ports[p->peer].peer != i))
			abort();
		if ((p->peer >= 0) + p->reflect + (p->source_len != 0) +
		    (p->bridge[0] != 0) > 1)
			abort();
		check_str(p->bridge, sizeof(p->bridge));
		/* With --config the bridge may come from the file. */
		if (p->bridge[0] && !o->config_path[0] &&
		    !bridge_known(o, p->bridge))
			abort();
		if (!p->bridge[0] && (p->vlan.trunk || p->vlan.vlan))
			abort();
		if (p->vlan.vlan > BR_VLAN_MAX ||
		    (p->vlan.trunk && (p->vlan.vlan ||
				       (p->vlan.allowed[0] & 1) ||
				       (p->vlan.allowed[63] >> 63))))
			abort();
	}
	if (o->nbridges < 0 || o->nbridges > DP_BRIDGES_MAX)
		abort();
	for (int i = 0; i < o->nbridges; i++) {
		const struct bridge_opt *b = &o->bridges[i];
		check_str(b->name, sizeof(b->name));
		if (!b->name[0] || b->cfg.aging > FDB_AGING_MAX)
			abort();
		for (int j = 0; j < i; j++)
			if (strcmp(o->bridges[j].name, b->name) == 0)
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	char *argv[MAX_ARGS + 2];
	int argc = 0;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	argv[argc++] = "vhostd";
	for (char *s = text; argc <= MAX_ARGS; ) {
		char *nl = strchr(s, '\n');
		argv[argc++] = s;
		if (!nl)
			break;
		*nl = '\0';
		s = nl + 1;
	}
	argv[argc] = NULL;
	int rc = vhostd_opts_parse(&opts, argc, argv);
	if (rc == 0)
		check_opts(&opts);
	else if (rc != -EINVAL)
		abort();
	free(text);
	return 0;
}
