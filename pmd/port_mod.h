/* SPDX-License-Identifier: MIT */
/*
 * port_mod.h: port types built as loadable modules.  DPDK's ethdev port
 * needs librte_* (and what they load and initialise: ~2.5 ms of every
 * vhostd start, most of it in their constructors); as a module
 * (vhostd-dpdk.so) only a vhostd with a dpdk: port pays for it.  A module
 * is looked for next to the running executable (the build tree), then in
 * VHOSTD_MODULE_DIR (installed); it resolves vhostd's own functions
 * (logging, vq, workers, numa) from the executable (linked with
 * --export-dynamic).
 */
#ifndef VHOSTD_PORT_MOD_H
#define VHOSTD_PORT_MOD_H

#include <stddef.h>

#include "port.h"

/* What a module exports as "vhostd_port_module".  abi and the sizes must
 * equal the loading binary's: a module from another build is refused
 * before anything in it is used. */
struct port_module {
	const char *abi;              /* PORT_MODULE_ABI */
	size_t port_size, vq_size;    /* sizeof(struct port), (struct vq) */
	const struct port_type *type;
};

#define PORT_MODULE_ABI "vhostd-port-module-1 " VHOSTD_VERSION

/* Where the module called file is: next to the running executable when
 * it is there, else in VHOSTD_MODULE_DIR.  (The --metrics server is a
 * module too: control/daemon/vu_metrics_mod.c.) */
void vhostd_mod_path(const char *file, char *path, size_t n);

/* dlopen path (every symbol bound now) and find sym in it: the symbol's
 * address, or NULL with the reason in why (nothing stays loaded). */
void *vhostd_mod_sym(const char *path, const char *sym, char *why,
		     size_t n);

/* The module file at path: its port type, or NULL with the reason in
 * why (no such file, not a module, another build, another type name).
 * A module that loaded stays loaded. */
const struct port_type *port_mod_load(const char *path, const char *type,
				      char *why, size_t n);

/* The type called name from its module file (found as above), loaded on
 * the first call; NULL with the reason in why (kept for later calls). */
const struct port_type *port_mod_find(const char *type, const char *file,
				      char *why, size_t n);

#endif
