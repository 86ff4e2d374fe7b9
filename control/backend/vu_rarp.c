/* SPDX-License-Identifier: MIT */
/*
 * vu_rarp.c: the gratuitous RARP a migrated guest's port sends so that
 * switches learn its MAC on the new host (SEND_RARP, RFC 903 layout with
 * Ethernet hardware and IPv4 protocol addresses, as QEMU sends it).
 */
#include <string.h>

#include "vu_dev.h"

#define ETH_P_RARP 0x8035
#define RARP_OP_REQUEST_REVERSE 3
#define RARP_FRAME_LEN 60 /* minimum Ethernet frame without FCS */

uint32_t vu_rarp_build(const uint8_t mac[6], uint8_t *buf)
{
	memset(buf, 0, RARP_FRAME_LEN);
	memset(buf, 0xff, 6);          /* broadcast destination */
	memcpy(buf + 6, mac, 6);       /* source: the guest */
	put_be16(buf + 12, ETH_P_RARP);
	uint8_t *a = buf + 14;
	put_be16(a, 1);                /* hardware type: Ethernet */
	put_be16(a + 2, 0x0800);       /* protocol: IPv4 */
	a[4] = 6;
	a[5] = 4;
	put_be16(a + 6, RARP_OP_REQUEST_REVERSE);
	memcpy(a + 8, mac, 6);         /* sender hardware address */
	memcpy(a + 18, mac, 6);        /* target hardware address */
	return RARP_FRAME_LEN;         /* protocol addresses stay zero */
}
