/* SPDX-License-Identifier: MIT */
/*
 * vhostd_sd_mod.c: the module vhostd-systemd.so (vhostd_sd.h): libsystemd's
 * functions, for vhostd to find with dlsym.  Linked with libsystemd, so
 * loading it loads libsystemd and what libsystemd needs.
 */
#include <systemd/sd-daemon.h>

#include "vhostd_sd.h"

extern const struct vhostd_sd_module vhostd_systemd_module;

__attribute__((visibility("default")))
const struct vhostd_sd_module vhostd_systemd_module = {
	.abi = VHOSTD_SD_MODULE_ABI,
	.notify = sd_notify,
	.pid_notify_with_fds = sd_pid_notify_with_fds,
};
