/* SPDX-License-Identifier: MIT */
/*
 * port.c: the port types this build has, and what they share (argument
 * parsing, the vq array).
 */
#include "port.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../datapath/log.h"
#include "../numa/mem.h"
#include "port_mod.h"
#include "port_types.h"

#define TAG "port"

static const struct port_type *const types[] = {
	&port_loop_type,
};

/* Types built as modules (port_mod.h), loaded when a port needs one. */
static const struct {
	const char *name, *file;
} modules[] = {
#ifdef VHOSTD_HAVE_AFXDP
	{"afxdp", "vhostd-afxdp.so"},
#endif
#ifdef VHOSTD_HAVE_DPDK
	{"dpdk", "vhostd-dpdk.so"},
#endif
	{NULL, NULL},
};
static char mod_why[PATH_MAX + 200];   /* why the last one did not load */

static const struct port_env *env;

void port_set_env(const struct port_env *e)
{
	env = e;
}

const struct port_env *port_get_env(void)
{
	return env;
}

const char *port_type_names(void)
{
	static char names[64];

	if (names[0])
		return names;
	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		if (i)
			strcat(names, ", ");
		strcat(names, types[i]->name);
	}
	for (size_t i = 0; modules[i].name; i++) {
		strcat(names, ", ");
		strcat(names, modules[i].name);
	}
	return names;
}

const struct port_type *port_type_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(types); i++)
		if (strcmp(types[i]->name, name) == 0)
			return types[i];
	for (size_t i = 0; modules[i].name; i++)
		if (strcmp(modules[i].name, name) == 0)
			return port_mod_find(modules[i].name, modules[i].file,
					     mod_why, sizeof(mod_why));
	return NULL;
}

const char *port_type_missing(const char *name, char *buf, size_t len)
{
	static const char *const all[] = {"loop", "afxdp", "dpdk"};

	for (size_t i = 0; modules[i].name; i++)
		if (strcmp(modules[i].name, name) == 0 && mod_why[0]) {
			snprintf(buf, len, "port type '%s': %s", name, mod_why);
			return buf;
		}
	for (size_t i = 0; i < ARRAY_SIZE(all); i++)
		if (strcmp(all[i], name) == 0) {
			snprintf(buf, len, "port type '%s' is not in this build "
				 "(this build has: vhost, %s)", name,
				 port_type_names());
			return buf;
		}
	snprintf(buf, len, "unknown port type '%s' (this build has: vhost, "
		 "%s)", name, port_type_names());
	return buf;
}

int port_open(const char *name, const char *type, const char *args,
	      struct port **out)
{
	const struct port_type *t = port_type_find(type);
	char why[512];

	*out = NULL;
	if (!t) {
		LOG_ERR(TAG, "%s: %s", name,
			port_type_missing(type, why, sizeof(why)));
		return -EINVAL;
	}
	int err = t->open(name, args, out);
	/* Its queues' state where its buffers are: on the NIC's node. */
	if (!err && (*out)->numa_node >= 0)
		(void)numa_mem_move((*out)->vqs, (*out)->vqs_len,
				    (*out)->numa_node);
	return err;
}

void port_stats(const struct port *p, FILE *f)
{
	fprintf(f, "port name=%s type=%s queue_pairs=%u numa_node=%d "
		"hugepages=%d\n", p->name, p->type->name, p->nqueues,
		p->numa_node, p->hugepages);
	p->type->stats(p, f);
}

void port_close(struct port *p)
{
	if (p)
		p->type->close(p);
}

int port_init_common(struct port *p, const struct port_type *t,
		     const char *name, uint32_t nqueues)
{
	size_t page = (size_t)getpagesize();
	size_t bytes = 2 * (size_t)nqueues * sizeof(p->vqs[0]);

	p->type = t;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->nqueues = nqueues;
	p->numa_node = -1;
	/* Pages of their own, so that port_open can move them to the
	 * NIC's node (zero-filled by the kernel). */
	p->vqs_len = (bytes + page - 1) & ~(page - 1);
	void *m = mmap(NULL, p->vqs_len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		p->vqs = NULL;
		return -ENOMEM;
	}
	p->vqs = m;
	return 0;
}

void port_fini_common(struct port *p)
{
	if (p->vqs)
		munmap(p->vqs, p->vqs_len);
	p->vqs = NULL;
}

int port_args(char *args, bool first_positional,
	      int (*fn)(const char *key, const char *value, void *arg),
	      void *arg)
{
	char *save = NULL;
	bool first = true;

	for (char *t = strtok_r(args, ",", &save); t;
	     t = strtok_r(NULL, ",", &save), first = false) {
		char *eq = strchr(t, '=');
		int err;
		if (first && first_positional) {
			err = fn(NULL, t, arg);
		} else if (eq) {
			*eq = '\0';
			err = fn(t, eq + 1, arg);
		} else {
			err = fn(t, NULL, arg);
		}
		if (err)
			return err;
	}
	return 0;
}

int port_parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}
