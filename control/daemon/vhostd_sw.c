/* SPDX-License-Identifier: MIT */
#include "vhostd_sw.h"
#include "vhostd_fdstore.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../datapath/log.h"
#include "vhostd_bridge.h"

#define TAG "sw"

static int refuse(char *why, size_t n, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return err;
}

static const char *origin_name(enum sw_origin o)
{
	return o == SW_CMDLINE ? "the command line" :
	       o == SW_CONFIG ? "the config file" : "the control socket";
}

void sw_init(struct sw *s, const struct vhostd_opts *o, struct vu_loop *loop,
	     struct dp *dp, const char *config_path)
{
	/* All but the port slots, 400 KiB: zeroing those was 100 page faults
	 * per start, 1.2 ms of a restart on a virtualised host (add_port
	 * zeroes a slot when it first takes it). */
	memset(s, 0, offsetof(struct sw, ports));
	s->opts = o;
	s->loop = loop;
	s->dp = dp;
	s->config_path = config_path && *config_path ? config_path : NULL;
}

int sw_port_find(const struct sw *s, const char *name)
{
	for (int i = 0; i < s->nslots; i++)
		if (s->ports[i].used && !strcmp(s->ports[i].opt.name, name))
			return i;
	return -1;
}

int sw_bridge_find(const struct sw *s, const char *name)
{
	for (int i = 0; i < SW_MAX_BRIDGES; i++)
		if (s->bridges[i].used && !strcmp(s->bridges[i].name, name))
			return i;
	return -1;
}

/* Port i joins the bridge its spec names (vhostd_bridge.h). */
static int sw_bridge_attach(struct sw *s, int i)
{
	struct sw_port *sp = &s->ports[i];
	int err = dp_bridge_attach(s->dp, (uint32_t)i, sp->opt.bridge,
				   &sp->opt.vlan);

	sp->bridged = !err;
	return err;
}

static void sw_bridge_detach(struct sw *s, int i)
{
	if (s->ports[i].bridged)
		(void)dp_bridge_detach(s->dp, (uint32_t)i);
	s->ports[i].bridged = false;
}

/* r's port, parsed and checked against the switch, into p. */
static int port_check(const struct sw *s, const struct sw_req *r,
		      struct port_opt *p, char *why, size_t n)
{
	if (r->opt) {
		*p = *r->opt;
		p->peer = -1;           /* links are requests of their own */
	} else {
		char *msg = NULL;
		size_t len = 0;
		FILE *err = open_memstream(&msg, &len);
		if (!err)
			return refuse(why, n, -ENOMEM, "out of memory");
		int rc = vhostd_port_parse(p, r->name, r->spec ? r->spec : "",
					   err);
		fclose(err);
		if (rc) {
			/* "vhostd: ... (see --help)\n": the middle part. */
			char *m = msg && !strncmp(msg, "vhostd: ", 8) ? msg + 8 :
				  msg ? msg : "bad port spec";
			m[strcspn(m, "\n")] = '\0';
			char *tail = strstr(m, " (see --help)");
			if (tail)
				*tail = '\0';
			refuse(why, n, -EINVAL, "%s", m);
			free(msg);
			return -EINVAL;
		}
		free(msg);
	}
	int other = sw_port_find(s, p->name);
	if (other >= 0)
		return refuse(why, n, -EEXIST, "port '%s' exists already (from "
			      "%s)", p->name,
			      origin_name(s->ports[other].origin));
	for (int i = 0; p->kind == PORT_VHOST && !p->fd_port &&
	     i < s->nslots; i++) {
		const struct sw_port *q = &s->ports[i];
		if (q->used && q->opt.kind == PORT_VHOST && !q->opt.fd_port &&
		    !strcmp(q->opt.path, p->path))
			return refuse(why, n, -EADDRINUSE, "port '%s': socket "
				      "%s is port '%s''s", p->name, p->path,
				      q->opt.name);
	}
	/* The number in a vhost-fd: spec is the sender's: the socket is the
	 * one passed with the request, or none from the config file. */
	if (p->fd_port && r->origin == SW_CONFIG)
		p->fd = -1;
	else if (p->fd_port && r->origin == SW_RUNTIME && !r->fd)
		return refuse(why, n, -EBADF, "port '%s': a vhost-fd: port needs "
			      "its socket passed with the request", p->name);
	else if (p->fd_port && r->origin == SW_RUNTIME)
		p->fd = *r->fd;
	if (r->fd && !(p->fd_port && r->origin == SW_RUNTIME))
		return refuse(why, n, -EINVAL, "port '%s': a %s port takes no "
			      "fd", p->name, p->kind == PORT_VHOST ? "vhost" :
			      p->nic_type);
	if (p->bridge[0] && sw_bridge_find(s, p->bridge) < 0)
		return refuse(why, n, -ENOENT, "port '%s': no bridge '%s'",
			      p->name, p->bridge);
	/* DPDK's EAL is set up once, before the workers start, for the
	 * ports known then (pmd/port.h: port_set_env). */
	if (s->running && p->kind == PORT_NIC && !strcmp(p->nic_type, "dpdk"))
		return refuse(why, n, -EOPNOTSUPP, "port '%s': dpdk ports are "
			      "opened at start only (command line or --config)",
			      p->name);
	return 0;
}

static void fill_port_cfg(const struct sw *s, const struct port_opt *po,
			  struct vu_port_cfg *pc)
{
	memset(pc, 0, sizeof(*pc));
	pc->dev.name = po->name;
	pc->dev.max_queue_pairs = po->queues;
	pc->dev.features = s->opts->features;
	pc->dev.protocol_features = s->opts->protocol_features;
	memcpy(pc->dev.mac, po->mac, 6);
	pc->dev.mtu = po->mtu;
	pc->path = po->path;
	pc->client = po->client;
	pc->fd = po->fd;
	pc->fd_port = po->fd_port;
	pc->perm = &s->opts->sock_perm;
}

/* Undo what start_port() did so far, and free slot i. */
static void port_teardown(struct sw *s, int i)
{
	struct sw_port *sp = &s->ports[i];

	sw_bridge_detach(s, i);     /* its MACs forgotten, its bridge's
				     * paths republished without it */
	if (sp->attached)
		dp_detach(s->dp, (uint32_t)i);
	if (sp->vu_started)
		vu_port_stop(&sp->vu);
	if (sp->nic)
		port_close(sp->nic);
	memset(sp, 0, sizeof(*sp));
	sp->opt.peer = -1;
}

/* Slot i: a guest's socket on the loop, or a NIC port opened; then in the
 * datapath (before sw_run: with its recorded link). */
static int start_port(struct sw *s, int i, char *why, size_t n)
{
	struct sw_port *sp = &s->ports[i];
	const struct port_opt *po = &sp->opt;
	struct dp_wiring w = {s->running ? -1 : po->peer, po->reflect,
			      po->source_len};
	struct vu_port_cfg pc;
	int err = 0;

	if (po->kind == PORT_NIC && !sp->nic)
		err = port_open(po->name, po->nic_type, po->nic_args, &sp->nic);
	if (err)
		return refuse(why, n, err, "port '%s': cannot open %s port: %s",
			      po->name, po->nic_type, strerror(-err));
	if (po->kind == PORT_NIC) {
		err = dp_attach_port(s->dp, (uint32_t)i, sp->nic, &w);
		sp->attached = true;
		if (!err && s->running)
			err = dp_port_live(s->dp, (uint32_t)i);
	} else {
		struct vu_port_restore kept;
		fill_port_cfg(s, po, &pc);
		pc.restore = fdstore_take(po->name, &kept) ? &kept : NULL;
		err = vu_port_start(&sp->vu, s->loop, &pc);
		if (err)
			return refuse(why, n, err, "port '%s': cannot serve %s: "
				      "%s", po->name, po->path,
				      err == -EADDRINUSE ? "another process "
				      "serves it" : strerror(-err));
		sp->vu_started = true;
		/* Watched from before the attach: frames may move from the
		 * moment it publishes the device's paths. */
		if (fdstore_port_started(&sp->vu))
			sw_resumed_watch(s, i);
		err = dp_attach(s->dp, (uint32_t)i, &sp->vu.dev, &w);
		sp->attached = true;
		if (err)
			sp->rebuilt_ns = 0;
	}
	/* Before sw_run()'s dp_start(), nothing may be published (a NIC
	 * port's state may still move to its node): sw_run() attaches the
	 * recorded members once the datapath runs. */
	if (!err && po->bridge[0] && s->running)
		err = sw_bridge_attach(s, i);
	if (err)
		return refuse(why, n, err, "port '%s': %s", po->name,
			      strerror(-err));
	return 0;
}

static int add_port(struct sw *s, const struct sw_req *r, char *why, size_t n)
{
	struct port_opt p;
	int err = port_check(s, r, &p, why, n), i;

	if (err)
		return err;
	for (i = 0; i < s->nslots && s->ports[i].used; i++)
		;
	if (i == VHOSTD_MAX_PORTS)
		return refuse(why, n, -ENOSPC, "port '%s': all %d port slots "
			      "are in use", p.name, VHOSTD_MAX_PORTS);
	struct sw_port *sp = &s->ports[i];
	if (i == s->nslots) {           /* first taken: see sw_init() */
		memset(sp, 0, sizeof(*sp));
		s->nslots++;
	}
	sp->used = true;
	sp->origin = r->origin;
	sp->opt = p;
	snprintf(sp->spec, sizeof(sp->spec), "%s", r->spec ? r->spec : "");
	if (!s->running) {
		if (r->fd)
			*r->fd = -1;    /* the slot's until sw_run() */
		return 0;
	}
	err = start_port(s, i, why, n);
	if (err) {
		sp->opt.fd = -1;        /* not taken: still the caller's */
		port_teardown(s, i);
	} else {
		if (r->fd)
			*r->fd = -1;
		LOG_INFO(TAG, "%s: added (%s)", p.name, sp->spec);
	}
	return err;
}

/* A vhost-fd: port's new socket: its front-end (if any) dropped, the
 * new one served. */
static int set_port_fd(struct sw *s, const struct sw_req *r, char *why,
		       size_t n)
{
	int i = sw_port_find(s, r->name);

	if (i < 0)
		return refuse(why, n, -ENOENT, "no port '%s'", r->name);
	struct sw_port *sp = &s->ports[i];
	if (!sp->opt.fd_port)
		return refuse(why, n, -EINVAL, "port '%s' is not a vhost-fd: "
			      "port", r->name);
	if (!r->fd)
		return refuse(why, n, -EBADF, "port '%s': set-port-fd needs a "
			      "socket passed with the request", r->name);
	if (!sp->vu_started)
		return refuse(why, n, -EAGAIN, "port '%s' is not started yet",
			      r->name);
	int err = vu_port_set_fd(&sp->vu, *r->fd);
	if (err)
		return refuse(why, n, err, "port '%s': cannot serve the new "
			      "socket: %s", r->name, strerror(-err));
	sp->opt.fd = *r->fd;
	*r->fd = -1;
	fdstore_port_listener(&sp->vu);
	LOG_INFO(TAG, "%s: given a new socket", r->name);
	return 0;
}

/* Unlink port i (recorded or live). */
static int unlink_port(struct sw *s, int i)
{
	struct sw_port *sp = &s->ports[i];
	int peer = sp->opt.peer, err = 0;

	if (peer < 0)
		return 0;
	if (s->running)
		err = dp_link(s->dp, (uint32_t)i, -1);
	s->ports[peer].opt.peer = -1;
	s->ports[peer].cli_link = false;
	sp->opt.peer = -1;
	sp->cli_link = false;
	return err;
}

static int del_port(struct sw *s, const struct sw_req *r, char *why, size_t n)
{
	int i = sw_port_find(s, r->name);

	if (i < 0)
		return refuse(why, n, -ENOENT, "no port '%s'", r->name);
	char name[VHOSTD_NAME_MAX];
	strcpy(name, r->name);      /* r->name may be the slot's own */
	int err = unlink_port(s, i);
	if (err)
		LOG_ERR(TAG, "%s: unlinking: %s", name, strerror(-err));
	port_teardown(s, i);
	if (s->running)
		LOG_INFO(TAG, "%s: removed", name);
	return 0;
}

static bool wired(const struct port_opt *p)
{
	return p->peer >= 0 || p->reflect || p->source_len || p->bridge[0];
}

static int link_ports(struct sw *s, const struct sw_req *r, char *why,
		      size_t n)
{
	int a = sw_port_find(s, r->name);
	int b = r->peer ? sw_port_find(s, r->peer) : -1;

	if (a < 0 || b < 0)
		return refuse(why, n, -ENOENT, "link: no port '%s'",
			      a < 0 ? r->name : r->peer ? r->peer : "");
	if (a == b)
		return refuse(why, n, -EINVAL, "link: '%s' to itself", r->name);
	for (int k = 0; k < 2; k++) {
		const struct port_opt *p = &s->ports[k ? b : a].opt;
		if (wired(p))
			return refuse(why, n, -EBUSY, "link: port '%s' is "
				      "already %s", p->name,
				      p->peer >= 0 ? "linked" :
				      p->bridge[0] ? "on a bridge" :
				      p->reflect ? "reflecting" : "a source");
	}
	if (s->running) {
		int err = dp_link(s->dp, (uint32_t)a, b);
		if (err)
			return refuse(why, n, err, "link: %s", strerror(-err));
	}
	s->ports[a].opt.peer = b;
	s->ports[b].opt.peer = a;
	s->ports[a].cli_link = s->ports[b].cli_link = r->origin == SW_CMDLINE;
	if (s->running)
		LOG_INFO(TAG, "%s: linked to %s", r->name, r->peer);
	return 0;
}

static int unlink_req(struct sw *s, const struct sw_req *r, char *why,
		      size_t n)
{
	int a = sw_port_find(s, r->name);

	if (a < 0)
		return refuse(why, n, -ENOENT, "unlink: no port '%s'", r->name);
	if (s->ports[a].opt.peer < 0)
		return refuse(why, n, -EINVAL, "unlink: port '%s' is not "
			      "linked", r->name);
	int err = unlink_port(s, a);
	if (err)
		return refuse(why, n, err, "unlink: %s", strerror(-err));
	if (s->running)
		LOG_INFO(TAG, "%s: unlinked", r->name);
	return 0;
}

static int add_bridge(struct sw *s, const struct sw_req *r, char *why,
		      size_t n)
{
	const char *name = r->name ? r->name : "";
	int i;

	if (!*name || strlen(name) >= VHOSTD_NAME_MAX ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		   "0123456789_-.") != strlen(name))
		return refuse(why, n, -EINVAL, "bridge name '%.40s' must be "
			      "1-31 of [A-Za-z0-9_.-]", name);
	if (sw_bridge_find(s, name) >= 0)
		return refuse(why, n, -EEXIST, "bridge '%s' exists already",
			      name);
	if (sw_port_find(s, name) >= 0)
		return refuse(why, n, -EEXIST, "'%s' is a port's name", name);
	if (r->aging > FDB_AGING_MAX)
		return refuse(why, n, -EINVAL, "bridge '%s': aging %u s is "
			      "over %u", name, r->aging, FDB_AGING_MAX);
	if (r->mac_limit > (1u << 24))     /* as --bridge mac-limit= */
		return refuse(why, n, -EINVAL, "bridge '%s': mac_limit %u is "
			      "over 16777216", name, r->mac_limit);
	for (i = 0; i < SW_MAX_BRIDGES && s->bridges[i].used; i++)
		;
	if (i == SW_MAX_BRIDGES)
		return refuse(why, n, -ENOSPC, "bridge '%s': at most %d "
			      "bridges", name, SW_MAX_BRIDGES);
	struct dp_bridge_cfg cfg = {r->aging, r->mac_limit, 0};
	int err = s->running ? dp_bridge_add(s->dp, name, &cfg) : 0;
	if (err)
		return refuse(why, n, err, "bridge '%s': %s", name,
			      strerror(-err));
	struct sw_bridge *b = &s->bridges[i];
	b->used = true;
	b->origin = r->origin;
	strcpy(b->name, name);
	b->aging = r->aging ? r->aging : FDB_AGING_DEFAULT;
	b->mac_limit = r->mac_limit ? r->mac_limit : FDB_MAC_LIMIT_DEFAULT;
	if (s->running)
		LOG_INFO(TAG, "bridge %s: added", name);
	return 0;
}

static int del_bridge(struct sw *s, const struct sw_req *r, char *why,
		      size_t n)
{
	int b = sw_bridge_find(s, r->name ? r->name : "");

	if (b < 0)
		return refuse(why, n, -ENOENT, "no bridge '%s'",
			      r->name ? r->name : "");
	for (int i = 0; i < s->nslots; i++)
		if (s->ports[i].used && !strcmp(s->ports[i].opt.bridge, r->name))
			return refuse(why, n, -EBUSY, "bridge '%s' has ports "
				      "(first: '%s'): delete them first",
				      r->name, s->ports[i].opt.name);
	int err = s->running ? dp_bridge_del(s->dp, r->name) : 0;
	if (err)
		return refuse(why, n, err, "bridge '%s': %s", r->name,
			      strerror(-err));
	memset(&s->bridges[b], 0, sizeof(s->bridges[b]));
	if (s->running)
		LOG_INFO(TAG, "bridge %s: removed", r->name);
	return 0;
}

void sw_to_conf(const struct sw *s, struct vhostd_conf *c)
{
	memset(c, 0, sizeof(*c));
	for (int i = 0; i < SW_MAX_BRIDGES; i++) {
		const struct sw_bridge *b = &s->bridges[i];
		if (!b->used || b->origin == SW_CMDLINE)
			continue;
		struct conf_bridge *cb = &c->bridges[c->nbridges++];
		strcpy(cb->name, b->name);
		cb->aging = b->aging;
		cb->mac_limit = b->mac_limit;
	}
	for (int i = 0; i < s->nslots; i++) {
		const struct sw_port *p = &s->ports[i];
		if (!p->used)
			continue;
		if (p->origin != SW_CMDLINE) {
			struct conf_port *cp = &c->ports[c->nports++];
			strcpy(cp->name, p->opt.name);
			strcpy(cp->spec, p->spec);
		}
		int peer = p->opt.peer;
		if (peer > i && !p->cli_link) {
			struct conf_link *cl = &c->links[c->nlinks++];
			strcpy(cl->a, p->opt.name);
			strcpy(cl->b, s->ports[peer].opt.name);
		}
	}
}

static void save(struct sw *s, char *why, size_t n)
{
	struct vhostd_conf *c = malloc(sizeof(*c));
	int err = c ? 0 : -ENOMEM;

	if (c) {
		sw_to_conf(s, c);
		err = vhostd_conf_save(s->config_path, c);
		free(c);
	}
	if (err) {
		LOG_ERR(TAG, "config %s not saved: %s (the change stands)",
			s->config_path, strerror(-err));
		snprintf(why, n, "applied, but %s not saved: %s",
			 s->config_path, strerror(-err));
	}
}

int sw_apply(struct sw *s, const struct sw_req *r, char *why, size_t n)
{
	int err;

	why[0] = '\0';
	if (!r->name)
		return refuse(why, n, -EINVAL, "a name is missing");
	switch (r->op) {
	case SW_ADD_BRIDGE: err = add_bridge(s, r, why, n); break;
	case SW_DEL_BRIDGE: err = del_bridge(s, r, why, n); break;
	case SW_ADD_PORT: err = add_port(s, r, why, n); break;
	case SW_DEL_PORT: err = del_port(s, r, why, n); break;
	case SW_LINK: err = link_ports(s, r, why, n); break;
	case SW_UNLINK: err = unlink_req(s, r, why, n); break;
	case SW_SET_PORT_FD: err = set_port_fd(s, r, why, n); break;
	default: return refuse(why, n, -EINVAL, "unknown request");
	}
	if (!err && s->running && s->config_path)
		save(s, why, n);
	return err;
}

/* Bridges first (a port of either source may be on a bridge of the
 * other), then the command line's ports and links, then the file's. */
int sw_load(struct sw *s, const struct vhostd_conf *c, char *why, size_t n)
{
	const struct vhostd_opts *o = s->opts;
	char inner[256];
	int err = 0, ferr = 0;

	for (int i = 0; !err && i < o->nbridges; i++) {
		struct sw_req r = {.op = SW_ADD_BRIDGE, .origin = SW_CMDLINE,
				   .name = o->bridges[i].name,
				   .aging = o->bridges[i].cfg.aging,
				   .mac_limit = o->bridges[i].cfg.mac_limit};
		err = sw_apply(s, &r, why, n);
	}
	for (int i = 0; !err && !ferr && c && i < c->nbridges; i++) {
		struct sw_req r = {.op = SW_ADD_BRIDGE, .origin = SW_CONFIG,
				   .name = c->bridges[i].name,
				   .aging = c->bridges[i].aging,
				   .mac_limit = c->bridges[i].mac_limit};
		ferr = sw_apply(s, &r, inner, sizeof(inner));
	}
	for (int i = 0; !err && !ferr && i < o->nports; i++) {
		struct sw_req r = {.op = SW_ADD_PORT, .origin = SW_CMDLINE,
				   .name = o->ports[i].name, .opt = &o->ports[i]};
		err = sw_apply(s, &r, why, n);
	}
	for (int i = 0; !err && !ferr && i < o->nports; i++) {
		int peer = o->ports[i].peer;
		struct sw_req r = {.op = SW_LINK, .origin = SW_CMDLINE,
				   .name = o->ports[i].name};
		if (peer <= i)
			continue;
		r.peer = o->ports[peer].name;
		err = sw_apply(s, &r, why, n);
	}
	for (int i = 0; !err && !ferr && c && i < c->nports; i++) {
		struct sw_req r = {.op = SW_ADD_PORT, .origin = SW_CONFIG,
				   .name = c->ports[i].name,
				   .spec = c->ports[i].spec};
		ferr = sw_apply(s, &r, inner, sizeof(inner));
	}
	for (int i = 0; !err && !ferr && c && i < c->nlinks; i++) {
		struct sw_req r = {.op = SW_LINK, .origin = SW_CONFIG,
				   .name = c->links[i].a, .peer = c->links[i].b};
		ferr = sw_apply(s, &r, inner, sizeof(inner));
	}
	if (ferr)
		snprintf(why, n, "--config %s: %s", s->config_path, inner);
	return err ? err : ferr;
}

int sw_open_nics(struct sw *s)
{
	s->env.cores = s->opts->cores;
	s->env.specs = s->nic_specs;
	s->env.nspecs = 0;
	for (int i = 0; i < s->nslots; i++) {
		const struct sw_port *p = &s->ports[i];
		if (p->used && p->opt.kind == PORT_NIC)
			s->nic_specs[s->env.nspecs++] = (struct port_spec){
				p->opt.name, p->opt.nic_type, p->opt.nic_args};
	}
	port_set_env(&s->env);
	for (int i = 0; i < s->nslots; i++) {
		struct sw_port *p = &s->ports[i];
		if (!p->used || p->opt.kind != PORT_NIC)
			continue;
		int err = port_open(p->opt.name, p->opt.nic_type,
				    p->opt.nic_args, &p->nic);
		if (err)
			return err;
	}
	return 0;
}

int sw_run(struct sw *s)
{
	char why[256];

	for (int b = 0; b < SW_MAX_BRIDGES; b++) {
		const struct sw_bridge *sb = &s->bridges[b];
		struct dp_bridge_cfg cfg = {sb->aging, sb->mac_limit, 0};
		int err = sb->used ? dp_bridge_add(s->dp, sb->name, &cfg) : 0;
		if (err) {
			LOG_ERR(TAG, "bridge %s: %s", sb->name, strerror(-err));
			return err;
		}
	}

	for (int i = 0; i < s->nslots; i++) {
		const struct port_opt *po = &s->ports[i].opt;
		if (!s->ports[i].used)
			continue;
		int err = start_port(s, i, why, sizeof(why));
		if (err) {
			LOG_ERR(TAG, "%s", why);
			return err;
		}
		if (po->peer > i)
			LOG_INFO(TAG, "%s: linked to %s", po->name,
				 s->ports[po->peer].opt.name);
		else if (po->reflect)
			LOG_INFO(TAG, "%s: reflecting", po->name);
		else if (po->source_len)
			LOG_INFO(TAG, "%s: source of %u-byte frames", po->name,
				 po->source_len);
	}
	int err = dp_start(s->dp);
	s->running = true;
	for (int i = 0; !err && i < s->nslots; i++)
		if (s->ports[i].used && s->ports[i].opt.bridge[0]) {
			err = sw_bridge_attach(s, i);
			if (err)
				LOG_ERR(TAG, "%s: cannot join bridge %s: %s",
					s->ports[i].opt.name,
					s->ports[i].opt.bridge, strerror(-err));
		}
	/* What the command line merged with the file: written back now, so
	 * the file is vhostd's own format from the first start on. */
	if (!err && s->config_path)
		save(s, why, sizeof(why));
	return err;
}

bool sw_has_nic(const struct sw *s)
{
	for (int i = 0; i < s->nslots; i++)
		if (s->ports[i].used && s->ports[i].opt.kind == PORT_NIC)
			return true;
	return false;
}

void sw_stop(struct sw *s)
{
	char why[128];

	s->config_path = NULL;     /* stopping is no change to the switch */
	sw_resumed_stop(s);
	for (int i = 0; i < s->nslots; i++)
		if (s->ports[i].used) {
			struct sw_req r = {.op = SW_DEL_PORT,
					   .origin = SW_RUNTIME,
					   .name = s->ports[i].opt.name};
			(void)sw_apply(s, &r, why, sizeof(why));
		}
}

void sw_check_memory(struct sw *s)
{
	for (int i = 0; i < s->nslots; i++)
		if (s->ports[i].used && s->ports[i].vu_started)
			vu_port_check_memory(&s->ports[i].vu);
}
