/* SPDX-License-Identifier: MIT */
/*
 * vhostd_sd.h: telling the service manager (sd_notify(3),
 * sd_pid_notify_with_fds(3)) through libsystemd, loaded the first time
 * vhostd has something to tell.
 *
 * libsystemd brings five more shared objects (libgcrypt, liblzma, libzstd,
 * liblz4, libcap); mapping and relocating them cost about 2 ms of every
 * start on a host where a page fault costs 15 us.  A restart through the
 * fd store (vhostd_fdstore.h) is on the guests' clock, and it tells the
 * manager nothing until its devices forward again (READY=1); so they live
 * in a module, vhostd-systemd.so (vhostd_sd_mod.c, found as
 * pmd/port_mod.h says), loaded by the first call below.  The fds passed at
 * start are read without it (vhostd_listen_fds.h).  Without libsystemd at
 * configure time the module is not built and the calls fail with -ENOSYS.
 */
#ifndef VHOSTD_SD_H
#define VHOSTD_SD_H

#include <stddef.h>
#include <sys/types.h>

/* What the module exports as "vhostd_systemd_module": libsystemd's own
 * functions; the module is compiled against their declarations, so the
 * types are checked. */
struct vhostd_sd_module {
	const char *abi;                  /* VHOSTD_SD_MODULE_ABI */
	int (*notify)(int unset_environment, const char *state);
	int (*pid_notify_with_fds)(pid_t pid, int unset_environment,
				   const char *state, const int *fds,
				   unsigned n_fds);
};

#define VHOSTD_SD_MODULE_ABI "vhostd-systemd-module-1 " VHOSTD_VERSION

/* The module at path, checked; NULL with the reason in why. */
const struct vhostd_sd_module *vhostd_sd_open(const char *path, char *why,
					      size_t n);

/* Where the module is looked for (tests: the build tree's); before any
 * call below. */
void vhostd_sd_set_path(const char *path);

/* sd_notify(0, state); -ENOSYS, or -ENOENT when the module could not be
 * loaded (said once in the log). */
int vhostd_sd_notify(const char *state);

/* sd_pid_notify_with_fds(0, 0, state, &fd, 1), errors as above. */
int vhostd_sd_notify_fd(const char *state, int fd);

#endif
