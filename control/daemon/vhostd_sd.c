/* SPDX-License-Identifier: MIT */
#include "vhostd_sd.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "../../datapath/log.h"
#include "../../pmd/port_mod.h"

#define TAG "systemd"

static char path[PATH_MAX];
static const struct vhostd_sd_module *mod;
static pthread_once_t loaded = PTHREAD_ONCE_INIT;

const struct vhostd_sd_module *vhostd_sd_open(const char *p, char *why,
					      size_t n)
{
	const struct vhostd_sd_module *m = vhostd_mod_sym(
		p, "vhostd_systemd_module", why, n);

	if (m && (!m->abi || strcmp(m->abi, VHOSTD_SD_MODULE_ABI) ||
		  !m->notify || !m->pid_notify_with_fds)) {
		/* Left mapped: nothing in it is ever called. */
		snprintf(why, n, "%s is from another vhostd build (this is "
			 "%s)", p, VHOSTD_SD_MODULE_ABI);
		return NULL;
	}
	return m;
}

void vhostd_sd_set_path(const char *p)
{
	snprintf(path, sizeof(path), "%s", p);
}

static void load(void)
{
#ifdef VHOSTD_HAVE_LIBSYSTEMD
	char why[PATH_MAX + 200];

	if (!path[0])
		vhostd_mod_path("vhostd-systemd.so", path, sizeof(path));
	mod = vhostd_sd_open(path, why, sizeof(why));
	if (!mod)
		LOG_ERR(TAG, "libsystemd: %s: the service manager is told "
			"nothing", why);
#endif
}

static const struct vhostd_sd_module *get(void)
{
	pthread_once(&loaded, load);
	return mod;
}

static int unavailable(void)
{
#ifdef VHOSTD_HAVE_LIBSYSTEMD
	return -ENOENT;
#else
	return -ENOSYS;
#endif
}

int vhostd_sd_notify(const char *state)
{
	const struct vhostd_sd_module *m = get();

	return m ? m->notify(0, state) : unavailable();
}

int vhostd_sd_notify_fd(const char *state, int fd)
{
	const struct vhostd_sd_module *m = get();

	return m ? m->pid_notify_with_fds(0, 0, state, &fd, 1) :
		   unavailable();
}
