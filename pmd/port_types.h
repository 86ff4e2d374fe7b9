/* SPDX-License-Identifier: MIT */
/* port_types.h: the port types (one file each in pmd/). */
#ifndef VHOSTD_PORT_TYPES_H
#define VHOSTD_PORT_TYPES_H

#include "port.h"

extern const struct port_type port_loop_type;     /* port_loop.c */
#ifdef VHOSTD_HAVE_AFXDP
extern const struct port_type port_afxdp_type;    /* port_afxdp.c */
#endif
#ifdef VHOSTD_HAVE_DPDK
extern const struct port_type port_dpdk_type;     /* port_dpdk.c */
#endif

#endif
