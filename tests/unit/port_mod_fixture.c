/* SPDX-License-Identifier: MIT */
/*
 * port_mod_fixture.c: modules for test_port_mod.c, one per FIXTURE value:
 * 0 a good one holding type "fake", 1 no vhostd_port_module, 2 another
 * build's ABI string, 3 the right ABI with other struct sizes, 4 a type
 * without its functions.
 */
#include <errno.h>

#include "pmd/port_mod.h"

static int fake_open(const char *name, const char *args, struct port **out)
{
	(void)name; (void)args;
	*out = NULL;
	return -ENODEV;
}

static void fake_stats(const struct port *p, FILE *f)
{
	(void)p; (void)f;
}

static void fake_close(struct port *p)
{
	(void)p;
}

static const struct port_type fake = {
	.name = "fake", .usage = "fake:", .open = fake_open,
	.stats = fake_stats, .close = fake_close,
};

static const struct port_type hollow = {.name = "fake"};

#if FIXTURE == 1
const struct port_module some_other_symbol = {
#else
const struct port_module vhostd_port_module = {
#endif
#if FIXTURE == 2
	.abi = "vhostd-port-module-1 0.0.1",
#else
	.abi = PORT_MODULE_ABI,
#endif
#if FIXTURE == 3
	.port_size = sizeof(struct port) + 8,
#else
	.port_size = sizeof(struct port),
#endif
	.vq_size = sizeof(struct vq),
	.type = FIXTURE == 4 ? &hollow : &fake,
};
