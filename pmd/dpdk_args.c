/* SPDX-License-Identifier: MIT */
/* dpdk_args.c: a dpdk port's arguments, split (dpdk_args.h). */
#include "dpdk_args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "port.h"

/* n hex digits at *p, then the character end (0: the string's end);
 * moves *p past them.  The value, or -1. */
static long hex_field(const char **p, size_t min, size_t max, char end)
{
	size_t n = strspn(*p, "0123456789abcdefABCDEF");
	long v;

	if (n < min || n > max || (*p)[n] != end)
		return -1;
	v = strtol(*p, NULL, 16);
	*p += n + (end ? 1 : 0);
	return v;
}

bool dpdk_is_pci(const char *id)
{
	const char *p = id;
	long bus, dev, fn;

	/* Optional domain: four digits and ':' before BB:DD.F. */
	if (strspn(id, "0123456789abcdefABCDEF") == 4 && id[4] == ':')
		p = id + 5;
	bus = hex_field(&p, 1, 2, ':');
	dev = bus < 0 ? -1 : hex_field(&p, 1, 2, '.');
	fn = dev < 0 ? -1 : hex_field(&p, 1, 1, '\0');
	return bus >= 0 && dev >= 0 && dev <= 0x1f && fn >= 0 && fn <= 7;
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
