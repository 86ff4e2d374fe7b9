/* SPDX-License-Identifier: MIT */
/*
 * sd_mod_fixture.c: bad vhostd-systemd modules for test_vhostd_sd.c, one
 * per FIXTURE value: 0 another build's ABI string, 1 no
 * vhostd_systemd_module at all, 2 the right ABI without its functions.
 */
#include "control/daemon/vhostd_sd.h"

#if FIXTURE == 0
__attribute__((visibility("default")))
const struct vhostd_sd_module vhostd_systemd_module = {
	.abi = "vhostd-systemd-module-0 0.0.0",
};
#elif FIXTURE == 1
__attribute__((visibility("default")))
const int something_else = 1;
#else
__attribute__((visibility("default")))
const struct vhostd_sd_module vhostd_systemd_module = {
	.abi = VHOSTD_SD_MODULE_ABI,
};
#endif
