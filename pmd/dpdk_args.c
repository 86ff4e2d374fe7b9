/* SPDX-License-Identifier: MIT */
/* dpdk_args.c: a dpdk port's arguments, split (dpdk_args.h). */
#include "dpdk_args.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "port.h"

bool dpdk_is_pci(const char *id)
{
	unsigned dom, bus, dev, fn;
	char tail;

	if (sscanf(id, "%x:%x:%x.%x%c", &dom, &bus, &dev, &fn, &tail) == 4)
		return dom <= 0xffff && bus <= 0xff && dev <= 0x1f && fn <= 7;
	return sscanf(id, "%x:%x.%x%c", &bus, &dev, &fn, &tail) == 3 &&
	       bus <= 0xff && dev <= 0x1f && fn <= 7;
}

/* The last item of s (after its last ','), or s itself. */
static char *last_item(char *s)
{
	char *c = strrchr(s, ',');

	return c ? c + 1 : s;
}

/* Take vhostd's keys off the end of s.  0 or -EINVAL. */
static int take_own_keys(char *s, struct dpdk_args *a, char *err,
			 uint32_t len)
{
	bool have_queues = false;

	for (;;) {
		char *item = last_item(s);
		if (item == s || strncmp(item, "queues=", 7) != 0)
			return 0;
		if (have_queues) /* a second one from the end: the driver's */
			return 0;
		if (port_parse_u32(item + 7, 1, PORT_MAX_QUEUES,
				   &a->queues) < 0) {
			snprintf(err, len, "queues '%s' is not 1..%u",
				 item + 7, PORT_MAX_QUEUES);
			return -EINVAL;
		}
		have_queues = true;
		item[-1] = '\0';
	}
}

int dpdk_args_parse(const char *args, struct dpdk_args *a, char *err,
		    uint32_t len)
{
	memset(a, 0, sizeof(*a));
	a->queues = 1;
	if (!args || strlen(args) >= sizeof(a->devargs)) {
		snprintf(err, len, "arguments longer than %d bytes",
			 DPDK_DEVARGS_MAX - 1);
		return -EINVAL;
	}
	strcpy(a->devargs, args);
	int rc = take_own_keys(a->devargs, a, err, len);
	if (rc)
		return rc;
	size_t n = strcspn(a->devargs, ",");
	if (n == 0) {
		snprintf(err, len, "no device named (a PCI address or a vdev "
			 "such as net_tap0,iface=tap0)");
		return -EINVAL;
	}
	memcpy(a->device, a->devargs, n);
	a->device[n] = '\0';
	a->pci = dpdk_is_pci(a->device);
	return 0;
}
