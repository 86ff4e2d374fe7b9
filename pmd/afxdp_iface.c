/* SPDX-License-Identifier: MIT */
/*
 * afxdp_iface.c: the interface an AF_XDP port sits on.
 *
 * Before any socket: the interface exists and is up, the queues asked for
 * are within its channels (the kernel binds a socket only to a queue below
 * real_num_rx_queues and real_num_tx_queues: /sys/class/net/IFACE/queues),
 * its NUMA node, and who else has XDP there.  A program attached without
 * libxdp's dispatcher (ip link set ... xdp obj) is someone else's: vhostd
 * refuses rather than replace it, except libxdp's own AF_XDP program,
 * which libxdp loads alone when it cannot use its dispatcher and shares
 * between sockets.  Programs in the dispatcher stay and run next to ours.
 * Removing the AF_XDP program is libxdp's: its program counts the sockets
 * using it, and the last xsk_socket__delete() (or failed create) detaches
 * it.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <xdp/libxdp.h>

#include "../datapath/log.h"
#include "afxdp.h"

#define TAG "afxdp"
#define XSK_PROG_NAME "xsk_def_prog"   /* libxdp's default AF_XDP program */
#define BPFFS "/sys/fs/bpf"

static void lib_log(const char *tag, const char *fmt, va_list ap)
{
	char line[512], *l = line;
	size_t n, t = strlen(tag);

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	if (strncmp(l, tag, t) == 0 && l[t] == ':' && l[t + 1] == ' ')
		l += t + 2;   /* the libraries' own prefix */
	LOG_DEBUG(tag, "%s", l);
}

static int libxdp_log(enum libxdp_print_level l, const char *fmt, va_list ap)
{
	(void)l;
	lib_log("libxdp", fmt, ap);
	return 0;
}

static int libbpf_log(enum libbpf_print_level l, const char *fmt, va_list ap)
{
	(void)l;
	lib_log("libbpf", fmt, ap);
	return 0;
}

void afxdp_libs_init(void)
{
	struct statfs st;

	libxdp_set_print(libxdp_log);
	libbpf_set_print(libbpf_log);
	/* libxdp's dispatcher (several XDP programs on one interface) pins
	 * its programs in a bpffs; without one it loads its program alone,
	 * in the way of every other XDP user.  Let it mount one. */
	if (!getenv("LIBXDP_BPFFS") &&
	    (statfs(BPFFS, &st) < 0 || st.f_type != BPF_FS_MAGIC)) {
		LOG_INFO(TAG, "no bpffs at " BPFFS ": libxdp mounts one for "
			 "its dispatcher");
		setenv("LIBXDP_BPFFS_AUTOMOUNT", "1", 0);
	}
}

/* Read one integer from a sysfs file (base 0: "0x1003" or "-1"). */
static int sysfs_long(const char *iface, const char *file, long *out)
{
	char path[128], buf[32];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/%s", iface, file);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	bool ok = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	if (!ok)
		return -EIO;
	*out = strtol(buf, NULL, 0);
	return 0;
}

/* Entries of /sys/class/net/IFACE/queues named PREFIX-N. */
static uint32_t count_queues(const char *iface, const char *prefix)
{
	char path[128];
	uint32_t n = 0;
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "/sys/class/net/%s/queues", iface);
	d = opendir(path);
	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
	closedir(d);
	return n;
}

/* A NIC has a device behind it; a veth, a bridge or a tap has none. */
static bool has_device(const char *iface)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/class/net/%s/device", iface);
	return access(path, F_OK) == 0;
}

static int check_link(const struct afxdp_args *a, struct afxdp_iface *ifc)
{
	long flags = 0, node = -1;

	ifc->ifindex = (int)if_nametoindex(a->iface);
	if (!ifc->ifindex) {
		LOG_ERR(TAG, "%s: no interface '%s'", a->name, a->iface);
		return -ENODEV;
	}
	if (sysfs_long(a->iface, "flags", &flags) == 0 && !(flags & IFF_UP)) {
		LOG_ERR(TAG, "%s: interface %s is down (ip link set dev %s up)",
			a->name, a->iface, a->iface);
		return -ENETDOWN;
	}
	uint32_t rx = count_queues(a->iface, "rx-");
	uint32_t tx = count_queues(a->iface, "tx-");
	ifc->channels = MIN(rx, tx);
	if ((uint64_t)a->start_queue + a->queues > ifc->channels) {
		LOG_ERR(TAG, "%s: queue %u is beyond %s's channels: it has %u "
			"(rx %u, tx %u; ethtool -l %s), queues %u..%u asked for",
			a->name, a->start_queue + a->queues - 1, a->iface,
			ifc->channels, rx, tx, a->iface, a->start_queue,
			a->start_queue + a->queues - 1);
		return -EINVAL;
	}
	ifc->virtual_dev = !has_device(a->iface);
	ifc->numa_node = -1;
	if (sysfs_long(a->iface, "device/numa_node", &node) == 0 && node >= 0)
		ifc->numa_node = (int)node;
	return 0;
}

static bool is_xsk_prog(const struct xdp_program *p)
{
	return p && strcmp(xdp_program__name(p), XSK_PROG_NAME) == 0;
}

/* Who has XDP on the interface: nobody, libxdp's dispatcher or libxdp's
 * AF_XDP program alone (fine: their attach mode is ours too), or another
 * program attached alone (refused). */
static int check_xdp(const struct afxdp_args *a, struct afxdp_iface *ifc)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifc->ifindex);
	long err = libxdp_get_error(mp);
	int ret = 0;

	ifc->xdp_flags = XDP_FLAGS_DRV_MODE;
	ifc->xdp_present = false;
	if (err == -ENOENT || (!err && !mp))
		return 0;
	if (err) {
		LOG_ERR(TAG, "%s: cannot query XDP on %s: %s", a->name,
			a->iface, strerror((int)-err));
		return (int)err;
	}
	ifc->xdp_present = true;
	struct xdp_program *p = xdp_multiprog__main_prog(mp);
	if (xdp_multiprog__is_legacy(mp) && !is_xsk_prog(p)) {
		LOG_ERR(TAG, "%s: %s already has XDP program '%s' (id %" PRIu32
			") attached without libxdp's dispatcher; vhostd will not "
			"replace it (remove it, or load it with xdp-loader)",
			a->name, a->iface, p ? xdp_program__name(p) : "?",
			p ? xdp_program__id(p) : 0);
		ret = -EBUSY;
	} else if (xdp_multiprog__attach_mode(mp) == XDP_MODE_SKB) {
		ifc->xdp_flags = XDP_FLAGS_SKB_MODE;
	}
	xdp_multiprog__close(mp);
	return ret;
}

int afxdp_iface_probe(const struct afxdp_args *a, struct afxdp_iface *ifc)
{
	int err = check_link(a, ifc);

	return err ? err : check_xdp(a, ifc);
}

bool afxdp_iface_dispatched(const struct afxdp_iface *ifc)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifc->ifindex);
	bool yes;

	if (libxdp_get_error(mp) || !mp)
		return false;
	yes = !xdp_multiprog__is_legacy(mp);
	xdp_multiprog__close(mp);
	return yes;
}
