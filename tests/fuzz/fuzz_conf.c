/* SPDX-License-Identifier: MIT */
/*
 * fuzz_conf.c: the --config file parser (control/daemon/vhostd_conf.c).
 *
 * Input: the file's text.  The parse must succeed or fail with -EINVAL
 * and a reason; a successful parse must keep its promises (counts within
 * bounds, every string terminated and within its size, names not empty)
 * and what it gives, written back with vhostd_conf_format(), must parse to
 * the same switch (the file vhostd rewrites reads back as it was).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control/daemon/vhostd_conf.h"
#include "fuzz.h"

static struct vhostd_conf a, b;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void check_str(const char *s, size_t cap)
{
	if (!memchr(s, '\0', cap))
		abort();
}

static void check(const struct vhostd_conf *c)
{
	if (c->nbridges < 0 || c->nbridges > CONF_MAX_BRIDGES ||
	    c->nports < 0 || c->nports > VHOSTD_MAX_PORTS ||
	    c->nlinks < 0 || c->nlinks > VHOSTD_MAX_PORTS / 2)
		abort();
	for (int i = 0; i < c->nbridges; i++)
		check_str(c->bridges[i].name, sizeof(c->bridges[i].name));
	for (int i = 0; i < c->nports; i++) {
		check_str(c->ports[i].name, sizeof(c->ports[i].name));
		check_str(c->ports[i].spec, sizeof(c->ports[i].spec));
	}
	for (int i = 0; i < c->nlinks; i++) {
		check_str(c->links[i].a, sizeof(c->links[i].a));
		check_str(c->links[i].b, sizeof(c->links[i].b));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	char why[256];

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	why[0] = '\0';
	int rc = vhostd_conf_parse(text, &a, why, sizeof(why));
	free(text);
	if (rc != 0 && (rc != -EINVAL || !why[0]))
		abort();
	if (rc != 0)
		return 0;
	check(&a);
	char *out = vhostd_conf_format(&a);
	if (!out)
		return 0;
	if (vhostd_conf_parse(out, &b, why, sizeof(why)) != 0 ||
	    memcmp(&a, &b, sizeof(a)) != 0)
		abort();
	free(out);
	return 0;
}
