/* SPDX-License-Identifier: MIT */
/*
 * vhostd_conf.h: the --config file, vhostd's switch written down.
 *
 *   {"bridges": [{"name": "br0", "aging": 300, "mac_limit": 1024}],
 *    "ports":   [{"name": "vm1", "spec": "vhost:/run/vhostd/vm1.sock,bridge=br0"}],
 *    "links":   [["vm2", "nic0"]]}
 *
 * spec is exactly what follows NAME= in --port.  aging and mac_limit are
 * optional (0: the bridge's default).  Read and written with json-c; a
 * file that does not parse, has a member of the wrong type, or an unknown
 * member, is refused with one line saying where.  This module only
 * converts: vhostd_sw.c decides whether the content makes sense (names
 * unique, ports known, specs valid).
 */
#ifndef VHOSTD_CONF_H
#define VHOSTD_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "vhostd_opts.h"

#define CONF_MAX_BRIDGES 16
#define CONF_SPEC_MAX 512

struct conf_bridge {
	char name[VHOSTD_NAME_MAX];
	uint32_t aging;       /* seconds, 0 = default */
	uint32_t mac_limit;   /* per port, 0 = default */
};

struct conf_port {
	char name[VHOSTD_NAME_MAX];
	char spec[CONF_SPEC_MAX];
};

struct conf_link {
	char a[VHOSTD_NAME_MAX], b[VHOSTD_NAME_MAX];
};

struct vhostd_conf {
	struct conf_bridge bridges[CONF_MAX_BRIDGES];
	int nbridges;
	struct conf_port ports[VHOSTD_MAX_PORTS];
	int nports;
	struct conf_link links[VHOSTD_MAX_PORTS / 2];
	int nlinks;
};

/* Parse text into c (emptied first).  0, or -EINVAL with why filled. */
int vhostd_conf_parse(const char *text, struct vhostd_conf *c, char *why,
		      size_t n);

/* c as JSON text (malloc'd, ends in a newline), or NULL (no memory). */
char *vhostd_conf_format(const struct vhostd_conf *c);

/* Read path into c.  A file that does not exist is an empty switch (a
 * first start).  0, or a negative errno with why filled. */
int vhostd_conf_load(const char *path, struct vhostd_conf *c, char *why,
		     size_t n);

/* Replace path by c atomically: PATH.tmp written and fsynced, renamed over
 * path, the directory fsynced.  A crash leaves the old file or the new
 * one, never a mix.  0 or a negative errno (the old file stays). */
int vhostd_conf_save(const char *path, const struct vhostd_conf *c);

#endif
