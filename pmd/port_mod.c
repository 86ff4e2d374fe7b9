/* SPDX-License-Identifier: MIT */
#include "port_mod.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../datapath/vq.h"

void *vhostd_mod_sym(const char *path, const char *sym, char *why,
		     size_t n)
{
	/* RTLD_NOW: a symbol missing from this vhostd fails here, with
	 * its name, not at the first packet. */
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		snprintf(why, n, "cannot load %s: %s", path, dlerror());
		return NULL;
	}
	void *s = dlsym(h, sym);
	if (!s) {
		snprintf(why, n, "%s: no %s in it", path, sym);
		dlclose(h);
	}
	return s;
}

const struct port_type *port_mod_load(const char *path, const char *type,
				      char *why, size_t n)
{
	const struct port_module *m = vhostd_mod_sym(path,
						     "vhostd_port_module",
						     why, n);
	const char *bad = NULL;

	if (!m) {
		if (!strstr(why, "cannot load"))
			snprintf(why, n, "%s: it is not a vhostd port module",
				 path);
		return NULL;
	}
	if (!m->abi || strcmp(m->abi, PORT_MODULE_ABI) ||
	    m->port_size != sizeof(struct port) ||
	    m->vq_size != sizeof(struct vq))
		bad = "it is from another vhostd build";
	else if (!m->type || !m->type->name || strcmp(m->type->name, type) ||
		 !m->type->open || !m->type->stats || !m->type->close)
		bad = "it does not hold that port type";
	if (bad) {
		/* Left mapped: nothing in it is ever called. */
		snprintf(why, n, "%s: %s (this is %s)", path, bad,
			 PORT_MODULE_ABI);
		return NULL;
	}
	return m->type;
}

/* dir of the running executable + "/" + file, if that file exists. */
static bool next_to_exe(const char *file, char *path, size_t n)
{
	char exe[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (len <= 0)
		return false;
	exe[len] = 0;
	char *slash = strrchr(exe, '/');
	if (!slash)
		return false;
	*slash = 0;
	int w = snprintf(path, n, "%s/%s", exe, file);
	return w > 0 && (size_t)w < n && access(path, F_OK) == 0;
}

void vhostd_mod_path(const char *file, char *path, size_t n)
{
	if (!next_to_exe(file, path, n))
		snprintf(path, n, "%s/%s", VHOSTD_MODULE_DIR, file);
}

const struct port_type *port_mod_find(const char *type, const char *file,
				      char *why, size_t n)
{
	/* One module per type a build can have; control thread only. */
	static struct {
		const char *type;
		const struct port_type *t;
		char why[PATH_MAX + 200];
	} seen[4];
	static unsigned nseen;
	char path[PATH_MAX];

	for (unsigned i = 0; i < nseen; i++)
		if (!strcmp(seen[i].type, type)) {
			snprintf(why, n, "%s", seen[i].why);
			return seen[i].t;
		}
	vhostd_mod_path(file, path, sizeof(path));
	const struct port_type *t = port_mod_load(path, type, why, n);
	if (nseen < sizeof(seen) / sizeof(seen[0])) {
		seen[nseen].type = type;
		seen[nseen].t = t;
		snprintf(seen[nseen++].why, sizeof(seen[0].why), "%s",
			 t ? "" : why);
	}
	return t;
}
