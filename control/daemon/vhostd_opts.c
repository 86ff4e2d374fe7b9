/* SPDX-License-Identifier: MIT */
#include "vhostd_opts.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../datapath/vnet.h"
#include "../../numa/cores.h"
#include "../../pmd/port.h"
#include "../wire/vu_fdpass.h"
#include "../wire/vu_proto.h"
#include "vu_metrics.h"

#define DEFAULT_MTU 1500
#define ARG_MAX_LEN 512

/* Where refusals go: stderr, or vhostd_port_parse()'s caller's stream. */
static FILE *err_out;

static FILE *errf(void)
{
	return err_out ? err_out : stderr;
}

FILE *vhostd_opts_err(void)
{
	return errf();
}

static int bad(const char *fmt, const char *arg)
{
	fprintf(errf(), "vhostd: ");
	fprintf(errf(), fmt, arg);
	fprintf(errf(), " (see --help)\n");
	return -EINVAL;
}

/* Offloads: honoured on every path, passed through or done in software
 * (datapath/offload.h).  TSO depends on the checksum offload. */
#define TSO_HOST (BIT_ULL(VIRTIO_NET_F_HOST_TSO4) | BIT_ULL(VIRTIO_NET_F_HOST_TSO6))
#define TSO_GUEST (BIT_ULL(VIRTIO_NET_F_GUEST_TSO4) | \
		   BIT_ULL(VIRTIO_NET_F_GUEST_TSO6))
#define OFFLOADS_HOST (BIT_ULL(VIRTIO_NET_F_CSUM) | TSO_HOST)
#define OFFLOADS_GUEST (BIT_ULL(VIRTIO_NET_F_GUEST_CSUM) | TSO_GUEST)

uint64_t vhostd_default_features(void)
{
	return BIT_ULL(VIRTIO_F_VERSION_1) |
	       BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES) |
	       BIT_ULL(VIRTIO_NET_F_MQ) | BIT_ULL(VIRTIO_NET_F_MTU) |
	       BIT_ULL(VIRTIO_NET_F_MAC) | BIT_ULL(VIRTIO_NET_F_STATUS) |
	       BIT_ULL(VHOST_F_LOG_ALL) | BIT_ULL(VIRTIO_NET_F_MRG_RXBUF) |
	       BIT_ULL(VIRTIO_RING_F_EVENT_IDX) |
	       BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC) | OFFLOADS_HOST |
	       OFFLOADS_GUEST | BIT_ULL(VIRTIO_F_IN_ORDER) |
	       BIT_ULL(VIRTIO_F_RING_PACKED);
}

uint64_t vhostd_default_protocol_features(void)
{
	static const int bits[] = {
		VU_PROTOCOL_F_MQ, VU_PROTOCOL_F_LOG_SHMFD, VU_PROTOCOL_F_RARP,
		VU_PROTOCOL_F_REPLY_ACK, VU_PROTOCOL_F_MTU,
		VU_PROTOCOL_F_BACKEND_REQ, VU_PROTOCOL_F_CONFIG,
		VU_PROTOCOL_F_RESET_DEVICE, VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS,
		VU_PROTOCOL_F_STATUS,
	};
	uint64_t v = 0;

	for (size_t i = 0; i < ARRAY_SIZE(bits); i++)
		v |= BIT_ULL(bits[i]);
	return v;
}

/* --no-feature NAME: what each name switches off. */
static const struct {
	const char *name;
	uint64_t features, protocol;
} feature_names[] = {
	{"mq", BIT_ULL(VIRTIO_NET_F_MQ), BIT_ULL(VU_PROTOCOL_F_MQ)},
	{"mtu", BIT_ULL(VIRTIO_NET_F_MTU), BIT_ULL(VU_PROTOCOL_F_MTU)},
	{"mac", BIT_ULL(VIRTIO_NET_F_MAC), 0},
	{"mrg-rxbuf", BIT_ULL(VIRTIO_NET_F_MRG_RXBUF), 0},
	{"event-idx", BIT_ULL(VIRTIO_RING_F_EVENT_IDX), 0},
	{"indirect", BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC), 0},
	{"in-order", BIT_ULL(VIRTIO_F_IN_ORDER), 0},
	{"packed", BIT_ULL(VIRTIO_F_RING_PACKED), 0},
	{"status", BIT_ULL(VIRTIO_NET_F_STATUS), 0},
	{"csum", OFFLOADS_HOST, 0},
	{"guest-csum", OFFLOADS_GUEST, 0},
	{"tso", TSO_HOST | TSO_GUEST, 0},
	{"log", BIT_ULL(VHOST_F_LOG_ALL), BIT_ULL(VU_PROTOCOL_F_LOG_SHMFD)},
	{"protocol-features", BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES), ~0ULL},
	{"rarp", 0, BIT_ULL(VU_PROTOCOL_F_RARP)},
	{"reply-ack", 0, BIT_ULL(VU_PROTOCOL_F_REPLY_ACK)},
	{"backend-req", 0, BIT_ULL(VU_PROTOCOL_F_BACKEND_REQ)},
	{"config", 0, BIT_ULL(VU_PROTOCOL_F_CONFIG)},
	{"reset-device", 0, BIT_ULL(VU_PROTOCOL_F_RESET_DEVICE)},
	{"mem-slots", 0, BIT_ULL(VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS)},
	{"device-status", 0, BIT_ULL(VU_PROTOCOL_F_STATUS)},
};

static int no_feature(struct vhostd_opts *o, const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(feature_names); i++) {
		if (strcmp(name, feature_names[i].name) == 0) {
			o->features &= ~feature_names[i].features;
			o->protocol_features &= ~feature_names[i].protocol;
			return 0;
		}
	}
	return bad("unknown feature name '%s'", name);
}

static int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;

	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return (mac[0] & 1) ? -EINVAL : 0; /* multicast is no station MAC */
}

/* Locally administered MAC derived from the port name (FNV-1a), stable
 * across restarts so a guest keeps its address. */
static void default_mac(const char *name, uint8_t mac[6])
{
	uint64_t h = 1469598103934665603ULL;

	for (const char *c = name; *c; c++)
		h = (h ^ (uint8_t)*c) * 1099511628211ULL;
	mac[0] = 0x02;
	for (int i = 1; i < 6; i++)
		mac[i] = (uint8_t)(h >> (8 * i));
}

static int find_port(const struct vhostd_opts *o, const char *name)
{
	for (int i = 0; i < o->nports; i++)
		if (strcmp(o->ports[i].name, name) == 0)
			return i;
	return -1;
}

static int port_name_check(const char *name)
{
	if (!*name || strlen(name) >= VHOSTD_NAME_MAX ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		   "0123456789_-.") != strlen(name))
		return bad("port name '%s' must be 1-31 of [A-Za-z0-9_.-]", name);
	return 0;
}

static void port_defaults(struct port_opt *p, const char *name)
{
	memset(p, 0, sizeof(*p));
	strcpy(p->name, name);
	p->fd = -1;
	p->peer = -1;
	p->queues = VU_MAX_QUEUE_PAIRS;
	p->mtu = DEFAULT_MTU;
	default_mac(name, p->mac);
}

static struct port_opt *new_port(struct vhostd_opts *o, const char *name)
{
	if (o->nports >= VHOSTD_MAX_PORTS) {
		bad("too many ports (at most 64), at '%s'", name);
		return NULL;
	}
	if (port_name_check(name) < 0)
		return NULL;
	if (find_port(o, name) >= 0) {
		bad("port name '%s' given twice", name);
		return NULL;
	}
	struct port_opt *p = &o->ports[o->nports++];
	port_defaults(p, name);
	return p;
}

static int port_option(struct port_opt *p, char *kv)
{
	char *val = strchr(kv, '=');

	if (strcmp(kv, "client") == 0) {
		p->client = true;
		return 0;
	}
	if (!val)
		return bad("unknown port option '%s'", kv);
	*val++ = '\0';
	if (strcmp(kv, "queues") == 0 &&
	    parse_u32(val, 1, VU_MAX_QUEUE_PAIRS, &p->queues) == 0)
		return 0;
	if (strcmp(kv, "mac") == 0 && parse_mac(val, p->mac) == 0)
		return 0;
	uint32_t mtu;
	if (strcmp(kv, "mtu") == 0 && parse_u32(val, 68, 65535, &mtu) == 0) {
		p->mtu = (uint16_t)mtu;
		return 0;
	}
	fprintf(errf(), "vhostd: bad port option %s=%s (queues=1..%u, "
		"mac=XX:XX:XX:XX:XX:XX unicast, mtu=68..65535)\n", kv, val,
		VU_MAX_QUEUE_PAIRS);
	return -EINVAL;
}

/* TYPE:ARGS of a pmd/ type; its arguments are parsed when it opens. */
static int nic_spec(struct port_opt *p, const char *type, const char *args)
{
	char why[512];

	if (!port_type_find(type)) {
		fprintf(errf(), "vhostd: %s\n",
			port_type_missing(type, why, sizeof(why)));
		return -EINVAL;
	}
	if (strlen(args) >= sizeof(p->nic_args))
		return bad("port '%s': arguments longer than 255 bytes", p->name);
	p->kind = PORT_NIC;
	snprintf(p->nic_type, sizeof(p->nic_type), "%s", type);
	strcpy(p->nic_args, args);
	return 0;
}

/* vhost:PATH[,opt...] */
static int vhost_spec(struct port_opt *p, char *args)
{
	p->kind = PORT_VHOST;
	char *save = NULL, *tok = strtok_r(args, ",", &save);
	if (!tok || strlen(tok) >= sizeof(p->path))
		return bad("vhost port '%s' needs a socket path (< 108 bytes)",
			   p->name);
	strcpy(p->path, tok);
	while ((tok = strtok_r(NULL, ",", &save)))
		if (port_option(p, tok) < 0)
			return -EINVAL;
	return 0;
}

/* vhost-fd:N[,opt...]: served on a passed socket.  N is the fd's number
 * in the process that passes it (vhostd's own for --port at start); the
 * caller of vhostd_port_parse() checks or replaces it. */
static int vhost_fd_spec(struct port_opt *p, char *args)
{
	uint32_t fd;
	char *save = NULL, *tok = strtok_r(args, ",", &save);

	p->kind = PORT_VHOST;
	if (!tok || parse_u32(tok, 0, 1u << 30, &fd))
		return bad("vhost-fd port '%s' needs a file descriptor number",
			   p->name);
	p->fd = (int)fd;
	p->fd_port = true;
	snprintf(p->path, sizeof(p->path), "passed fd");
	while ((tok = strtok_r(NULL, ",", &save))) {
		if (!strcmp(tok, "client"))
			return bad("vhost-fd port '%s': 'client' does not apply "
				   "(the socket is connected or listening "
				   "already)", p->name);
		if (port_option(p, tok) < 0)
			return -EINVAL;
	}
	return 0;
}

int vhostd_port_fd_check(const struct port_opt *p)
{
	char why[160], msg[256];
	bool listening;

	if (!vu_fdpass_check_stream(p->fd, &listening, why, sizeof(why)))
		return 0;
	snprintf(msg, sizeof(msg), "port '%s': %d: %s", p->name, p->fd, why);
	return bad("%s", msg);
}

/* TYPE:ARGS into p (named already); cuts spec up. */
static int port_spec(struct port_opt *p, char *spec)
{
	char *colon = strchr(spec, ':');
	if (!colon)
		return bad("--port type and arguments missing for '%s'", p->name);
	*colon = '\0';
	/* bridge=, vlan=, trunk= are vhostd's, for every type. */
	if (opts_port_bridge(colon + 1, p->bridge, &p->vlan) < 0)
		return -EINVAL;
	if (!strcmp(spec, "vhost-fd"))
		return vhost_fd_spec(p, colon + 1);
	if (strcmp(spec, "vhost") != 0)
		return nic_spec(p, spec, colon + 1);
	return vhost_spec(p, colon + 1);
}

int vhostd_port_parse(struct port_opt *p, const char *name, const char *spec,
		      FILE *err)
{
	char buf[ARG_MAX_LEN];
	int r;

	err_out = err;
	if (strlen(spec) >= sizeof(buf))
		r = bad("port spec longer than 511 bytes: '%.60s...'", spec);
	else if ((r = port_name_check(name)) == 0) {
		port_defaults(p, name);
		strcpy(buf, spec);
		r = port_spec(p, buf);
	}
	err_out = NULL;
	return r;
}

/* NAME=TYPE:ARGS */
static int parse_port(struct vhostd_opts *o, char *spec)
{
	char *eq = strchr(spec, '=');
	if (!eq)
		return bad("--port '%s' is not NAME=TYPE:ARGS", spec);
	*eq = '\0';
	if (!strchr(eq + 1, ':'))
		return bad("--port type and arguments missing for '%s'", spec);
	struct port_opt *p = new_port(o, spec);
	if (!p)
		return -EINVAL;
	int err = port_spec(p, eq + 1);
	if (!err && p->fd_port)
		err = vhostd_port_fd_check(p);
	if (err)
		o->nports--;
	return err;
}

static bool port_wired(const struct port_opt *p)
{
	return p->peer >= 0 || p->reflect || p->source_len || p->bridge[0];
}

static int parse_link(struct vhostd_opts *o, char *spec)
{
	char *eq = strchr(spec, '=');
	if (!eq)
		return bad("--link '%s' is not A=B", spec);
	*eq = '\0';
	int a = find_port(o, spec), b = find_port(o, eq + 1);
	if (a < 0 || b < 0)
		return bad("--link names an unknown port: '%s'",
			   a < 0 ? spec : eq + 1);
	if (a == b)
		return bad("--link of '%s' to itself (use --reflect)", spec);
	if (port_wired(&o->ports[a]) || port_wired(&o->ports[b]))
		return bad("port '%s' is already linked, reflecting, a "
			   "source or on a bridge",
			   port_wired(&o->ports[a]) ? spec : eq + 1);
	o->ports[a].peer = b;
	o->ports[b].peer = a;
	return 0;
}

static int parse_reflect(struct vhostd_opts *o, const char *name)
{
	int a = find_port(o, name);

	if (a < 0)
		return bad("--reflect names an unknown port: '%s'", name);
	if (port_wired(&o->ports[a]))
		return bad("port '%s' is already linked, reflecting, a "
			   "source or on a bridge", name);
	o->ports[a].reflect = true;
	return 0;
}

/* NAME=SIZE: vhostd feeds NAME's receive queues with SIZE-byte frames. */
static int parse_source(struct vhostd_opts *o, char *spec)
{
	char *eq = strchr(spec, '=');
	uint32_t len;

	if (!eq)
		return bad("--source '%s' is not NAME=SIZE", spec);
	*eq = '\0';
	int a = find_port(o, spec);
	if (a < 0)
		return bad("--source names an unknown port: '%s'", spec);
	if (parse_u32(eq + 1, VNET_SOURCE_MIN, VNET_SOURCE_MAX, &len))
		return bad("--source size '%s' is not 60..9216 bytes", eq + 1);
	if (port_wired(&o->ports[a]))
		return bad("port '%s' is already linked, reflecting, a "
			   "source or on a bridge", spec);
	o->ports[a].source_len = len;
	return 0;
}

/* "1,3-5", "node0:2", ...: numa/cores.h. */
static int parse_cores(struct vhostd_opts *o, const char *list)
{
	cpu_set_t allowed;
	char why[512];

	if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0)
		return bad("cannot read the CPUs allowed to vhostd%s", "");
	if (numa_cores_parse(numa_topo_get(), &allowed, list, &o->cores, why,
			     sizeof(why)) < 0)
		return bad("--cores %s", why);
	o->ncores = CPU_COUNT(&o->cores);
	return 0;
}

/* Default: one worker core, the last one allowed (CPU 0 usually does the
 * host's housekeeping). */
static void default_cores(struct vhostd_opts *o)
{
	cpu_set_t allowed;

	CPU_ZERO(&o->cores);
	if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0)
		for (int c = CPU_SETSIZE - 1; c >= 0; c--)
			if (CPU_ISSET(c, &allowed)) {
				CPU_SET(c, &o->cores);
				break;
			}
	o->ncores = CPU_COUNT(&o->cores);
}

enum { OPT_PORT = 256, OPT_LINK, OPT_REFLECT, OPT_CORES, OPT_LOGLVL,
       OPT_CAPS, OPT_SOCKPATH, OPT_FD, OPT_NOFEAT, OPT_SOURCE, OPT_CONTROL,
       OPT_PLACEMENT, OPT_METRICS, OPT_SOCKMODE, OPT_SOCKGROUP,
       OPT_CTLMODE, OPT_CTLGROUP, OPT_CONFIG, OPT_BRIDGE, OPT_IDLE,
       OPT_LOGTIME };

static const struct option long_opts[] = {
	{"port", required_argument, NULL, OPT_PORT},
	{"link", required_argument, NULL, OPT_LINK},
	{"reflect", required_argument, NULL, OPT_REFLECT},
	{"source", required_argument, NULL, OPT_SOURCE},
	{"control", required_argument, NULL, OPT_CONTROL},
	{"config", required_argument, NULL, OPT_CONFIG},
	{"cores", required_argument, NULL, OPT_CORES},
	{"print-placement", no_argument, NULL, OPT_PLACEMENT},
	{"metrics", required_argument, NULL, OPT_METRICS},
	{"bridge", required_argument, NULL, OPT_BRIDGE},
	{"idle", required_argument, NULL, OPT_IDLE},
	{"log-level", required_argument, NULL, OPT_LOGLVL},
	{"log-time", no_argument, NULL, OPT_LOGTIME},
	{"print-capabilities", no_argument, NULL, OPT_CAPS},
	{"socket-path", required_argument, NULL, OPT_SOCKPATH},
	{"fd", required_argument, NULL, OPT_FD},
	{"no-feature", required_argument, NULL, OPT_NOFEAT},
	{"socket-mode", required_argument, NULL, OPT_SOCKMODE},
	{"socket-group", required_argument, NULL, OPT_SOCKGROUP},
	{"control-mode", required_argument, NULL, OPT_CTLMODE},
	{"control-group", required_argument, NULL, OPT_CTLGROUP},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

/* Links and reflects name ports, so they are resolved after every port. */
/* Parsing cuts arguments up in place: it works on copies, so that argv
 * (what ps and pkill -f show) stays as it was given. */
struct deferred { int opt; char arg[ARG_MAX_LEN]; };

/* --fd=N: the same as --port vhost0=vhost-fd:N. */
static int parse_fd_port(struct vhostd_opts *o, const char *arg)
{
	uint32_t fd;

	if (parse_u32(arg, 0, 1u << 30, &fd))
		return bad("--fd '%s' is not a file descriptor number", arg);
	struct port_opt *p = new_port(o, "vhost0");
	if (!p)
		return -EINVAL;
	p->fd = (int)fd;
	p->fd_port = true;
	snprintf(p->path, sizeof(p->path), "fd:%u", fd);
	if (vhostd_port_fd_check(p)) {
		o->nports--;
		return -EINVAL;
	}
	return 0;
}

/* ADDR:PORT, checked now so that a bad one stops vhostd before it starts. */
static int parse_metrics(struct vhostd_opts *o, const char *arg)
{
	char why[160];

	if (!vu_metrics_available())
		return bad("--metrics: this build has no HTTP server "
			   "(libmicrohttpd was not found at configure time)%s",
			   "");
	if (vu_metrics_addr_parse(arg, &o->metrics_sa, &o->metrics_len, why,
				  sizeof(why)) < 0)
		return bad("%s", why);
	o->metrics = true;
	return 0;
}

/* --socket-mode/--socket-group, --control-mode/--control-group. */
static int parse_perm(struct vhostd_opts *o, int c, const char *arg)
{
	struct vu_sock_perm *p = c == OPT_SOCKMODE || c == OPT_SOCKGROUP ?
				 &o->sock_perm : &o->ctl_perm;
	const char *opt = c == OPT_SOCKMODE ? "--socket-mode" :
			  c == OPT_SOCKGROUP ? "--socket-group" :
			  c == OPT_CTLMODE ? "--control-mode" : "--control-group";
	int err;

	if (c == OPT_SOCKMODE || c == OPT_CTLMODE) {
		if (vu_perm_parse_mode(arg, &p->mode) < 0) {
			fprintf(stderr, "vhostd: %s '%s': not an octal mode "
				"0000..0777 (e.g. 0660)\n", opt, arg);
			return -EINVAL;
		}
		o->ctl_mode_set |= c == OPT_CTLMODE;
		return 0;
	}
	err = vu_perm_parse_group(arg, &p->gid);
	if (err) {
		fprintf(stderr, "vhostd: %s '%s': %s\n", opt, arg,
			err == -ENOENT ? "no such group" :
			err == -EINVAL ? "not a group name or number" :
			strerror(-err));
		return -EINVAL;
	}
	return 0;
}

static int parse_one(struct vhostd_opts *o, int c, char *arg,
		     struct deferred *later, int *nlater)
{
	enum vlog_level lvl;

	switch (c) {
	case OPT_PORT:
		return parse_port(o, arg);
	case OPT_LINK:
	case OPT_REFLECT:
	case OPT_SOURCE:
		later[*nlater].opt = c;
		strcpy(later[(*nlater)++].arg, arg);
		return 0;
	case OPT_CORES:
		return parse_cores(o, arg);
	case OPT_BRIDGE:
		return opts_bridge_parse(o, arg);
	case OPT_LOGLVL:
		if (vlog_parse_level(arg, &lvl) < 0)
			return bad("--log-level '%s': use err, warn, info or "
				   "debug", arg);
		o->log_level = lvl;
		return 0;
	case OPT_LOGTIME:
		o->log_time = true;
		return 0;
	case OPT_CAPS:
		o->print_capabilities = true;
		return 0;
	case OPT_PLACEMENT:
		o->print_placement = true;
		return 0;
	case OPT_SOCKPATH: {
		struct port_opt *p = new_port(o, "vhost0");
		if (!p || strlen(arg) >= sizeof(p->path))
			return bad("--socket-path '%s' unusable", arg);
		strcpy(p->path, arg);
		return 0;
	}
	case OPT_FD:
		return parse_fd_port(o, arg);
	case OPT_CONTROL:
		if (strlen(arg) >= sizeof(o->control_path) || !*arg)
			return bad("--control '%s': path empty or too long", arg);
		strcpy(o->control_path, arg);
		return 0;
	case OPT_CONFIG:
		if (strlen(arg) >= sizeof(o->config_path) || !*arg)
			return bad("--config '%s': path empty or too long", arg);
		strcpy(o->config_path, arg);
		return 0;
	case OPT_NOFEAT:
		return no_feature(o, arg);
	case OPT_METRICS:
		return parse_metrics(o, arg);
	case OPT_SOCKMODE:
	case OPT_SOCKGROUP:
	case OPT_CTLMODE:
	case OPT_CTLGROUP:
		return parse_perm(o, c, arg);
	case OPT_IDLE: {
		const char *why;
		if (wk_idle_parse(arg, &o->idle, &o->idle_us, &why) == 0)
			return 0;
		fprintf(stderr, "vhostd: --idle '%s': %s (see --help)\n",
			arg ? arg : "", why);
		return -EINVAL;
	}
	case 'h':
		o->help = true;
		return 0;
	case 'V':
		o->version = true;
		return 0;
	default:
		return -EINVAL; /* getopt printed why */
	}
}

int vhostd_opts_parse(struct vhostd_opts *o, int argc, char **argv)
{
	struct deferred later[2 * VHOSTD_MAX_PORTS];
	int nlater = 0, c, err;

	/* ports[] (60 KiB, 15 pages) is zeroed a slot at a time as ports are
	 * taken (port_defaults) and read only below nports: clearing it all
	 * would fault in every page on each start, on a restart's path. */
	_Static_assert(offsetof(struct vhostd_opts, ports) == 0,
		       "ports[] is first");
	memset((char *)o + offsetof(struct vhostd_opts, nports), 0,
	       sizeof(*o) - offsetof(struct vhostd_opts, nports));
	o->log_level = VLOG_LVL_INFO;
	o->idle = VHOSTD_IDLE_DEFAULT;
	o->features = vhostd_default_features();
	o->protocol_features = vhostd_default_protocol_features();
	default_cores(o);
	o->sock_perm = (struct vu_sock_perm){0660, VU_PERM_GID_KEEP};
	o->ctl_perm = (struct vu_sock_perm){0600, VU_PERM_GID_KEEP};
	optind = 1;
	while ((c = getopt_long(argc, argv, "hV", long_opts, NULL)) != -1) {
		if (nlater >= (int)ARRAY_SIZE(later))
			return bad("too many --link/--reflect/--source "
				   "options%s", "");
		char arg[ARG_MAX_LEN];
		if (optarg && strlen(optarg) >= sizeof(arg))
			return bad("argument longer than 511 bytes: '%.60s...'",
				   optarg);
		if (optarg)
			strcpy(arg, optarg);
		err = parse_one(o, c, optarg ? arg : NULL, later, &nlater);
		if (err)
			return err;
	}
	if (optind < argc)
		return bad("unexpected argument '%s'", argv[optind]);
	for (int i = 0; i < nlater; i++) {
		err = later[i].opt == OPT_LINK ? parse_link(o, later[i].arg) :
		      later[i].opt == OPT_SOURCE ?
		      parse_source(o, later[i].arg) :
		      parse_reflect(o, later[i].arg);
		if (err)
			return err;
	}
	/* With --config, a bridge may also come from the file (checked when
	 * the two merge: vhostd_sw.c). */
	if (!o->config_path[0] && opts_bridges_check(o) < 0)
		return -EINVAL;
	if (!(o->features & BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES)))
		o->protocol_features = 0;
	/* A control group without a mode means the group may use it. */
	if (o->ctl_perm.gid != VU_PERM_GID_KEEP && !o->ctl_mode_set)
		o->ctl_perm.mode = 0660;
	return 0;
}

void vhostd_usage(FILE *out)
{
	fprintf(out,
"Usage: vhostd [OPTIONS]\n"
"A vhost-user-net back-end: guests' virtio-net queues served by poll-mode\n"
"worker cores.\n\n"
"  --port NAME=vhost:PATH[,client][,queues=N][,mac=MAC][,mtu=N]\n"
"        a vhost-user port; listens on PATH, or with 'client' connects to\n"
"        a front-end listening there and reconnects when it goes away.\n"
"        queues caps the queue pairs offered (1..128, default 128).\n"
"        Any port may end in ,bridge=BR[,vlan=N|,trunk=N,M-K].\n"
"  --port NAME=vhost-fd:N[,queues=N][,mac=MAC][,mtu=N]\n"
"        a vhost-user port served on the inherited unix stream socket N:\n"
"        connected (no reconnect; 'detached' once the front-end closes\n"
"        it, until vhostctl set-port-fd) or listening (accepted on)\n"
"  --port NAME=TYPE:ARGS\n"
"        a NIC port of a pmd/ type (this build: %s):\n"
"          afxdp:IFACE[,queues=N][,start-queue=Q][,zerocopy|copy][,busy-poll]\n"
"          dpdk:DEVARGS[,queues=N]   (a PCI address or a vdev)\n"
"          loop:[queues=N][,offloads][,node=N]  (a wire looped back: tests)\n"
"        any port takes bridge=BR[,vlan=N|,trunk=N,M-K,...]: a member of\n"
"        bridge BR, an access port of VLAN N (tag pushed and popped at\n"
"        the bridge) or a trunk of the listed VLANs (frames tagged)\n"
"  --bridge NAME[,aging=S][,mac-limit=N]\n"
"                       a learning bridge: MACs forgotten after S seconds\n"
"                       unseen (default 300), at most N learned per port\n"
"                       (default 1024)\n"
"  --link A=B           cross-connect two ports (both directions)\n"
"  --reflect NAME       send every packet back out of NAME, MACs swapped\n"
"  --source NAME=SIZE   fill NAME's receive queues with SIZE-byte frames\n"
"                       (60..9216) as fast as the guest takes them, and\n"
"                       discard its TX: a benchmark/test traffic source\n"
"  --control PATH       control socket, the runtime API (vhostctl PATH\n"
"                       show|stats|add-port|del-port|link|...)\n"
"  --config FILE        bridges, ports and links: loaded at start, merged\n"
"                       with the command line, rewritten after each change\n"
"                       made through the control socket\n"
"  --metrics ADDR:PORT  serve GET /metrics (Prometheus text) on ADDR:PORT\n"
"                       (127.0.0.1:9100, [::1]:9100; port 0: any free)\n"
"  --socket-mode MODE   mode of every vhost-user socket vhostd listens on\n"
"                       (octal, default 0660; connecting needs write)\n"
"  --socket-group GROUP their group (name or number; default vhostd's),\n"
"                       e.g. kvm for a distribution's QEMU user; missing\n"
"                       directories above them are created with it\n"
"  --control-mode MODE  the control socket's mode (default 0600, 0660\n"
"                       with --control-group)\n"
"  --control-group GROUP the control socket's group: its members may\n"
"                       use it (root and vhostd's own user always may)\n"
"  --cores LIST         worker cores, e.g. 2,3 or 2-5; nodeN: every core\n"
"                       of NUMA node N; nodeN:K: K cores of node N, the\n"
"                       highest first (default: the last core vhostd may\n"
"                       run on)\n"
"  --print-placement    print on stdout, whenever it changes, where each\n"
"                       queue pair is polled and its memory lives\n"
"  --idle MODE          what an idle worker core does: poll (spin, 100%%\n"
"                       of its core), sleep=MAX_US (back off up to MAX_US,\n"
"                       1..10000, between passes that find nothing), or\n"
"                       wait (back off, then block until a guest kicks;\n"
"                       the default)\n"
"  --log-level LEVEL    err, warn, info (default) or debug\n"
"  --log-time           start each log line with ts=TIME (UTC, to the\n"
"                       microsecond); not on journald's stream, which\n"
"                       stamps entries itself\n"
"  --no-feature NAME    do not offer NAME: mq mtu mac mrg-rxbuf event-idx\n"
"                       indirect in-order packed status log csum\n"
"                       guest-csum tso protocol-features rarp reply-ack\n"
"                       backend-req config reset-device mem-slots\n"
"                       device-status\n"
"  --socket-path=PATH   same as --port vhost0=vhost:PATH\n"
"  --fd=N               same as --port vhost0=vhost-fd:N\n"
"  --print-capabilities print the back-end capabilities (JSON) and exit\n"
"  -h, --help           this text\n"
"  -V, --version        print the version and exit\n",
		port_type_names());
}
