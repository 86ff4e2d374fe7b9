/* SPDX-License-Identifier: MIT */
/*
 * vhostd_api_show.c: the "show" verb (vhostd_api.h): the switch as it
 * stands, for people (vhostctl's tables) and scripts (--json).
 *
 *   {"ok":true,
 *    "bridges":[{"name","aging","mac_limit","origin","ports":[...]}],
 *    "ports":[{"name","type","origin","spec","state","wiring",
 *              "bridge"?,"vlan"?,"features","queue_pairs",
 *              "queues_live"}],
 *    "links":[["a","b"]]}
 *
 * vlan (a bridge member's): "vlan=N", "trunk=N,M-K" or "untagged".
 * state: a guest's "connected", "listening" or "connecting" (client mode),
 * or "detached" (a vhost-fd: port without a socket: set-port-fd);
 * a NIC port's "open".  features: what the front-end negotiated (hex).
 * queue_pairs: offered (a guest) or opened (a NIC); queues_live: pairs
 * whose TX ring the datapath polls now.
 */
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "vhostd_api.h"

int vhostd_api_show(struct vhostd_api *a, json_object *rep);

static const char *origin(enum sw_origin o)
{
	return o == SW_CMDLINE ? "cmdline" : o == SW_CONFIG ? "config" :
	       "runtime";
}

static void add_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

static void add_int(json_object *o, const char *k, int64_t v)
{
	json_object_object_add(o, k, json_object_new_int64(v));
}

static json_object *show_bridge(const struct sw *s, const struct sw_bridge *b)
{
	json_object *o = json_object_new_object();
	json_object *ports = json_object_new_array();

	add_str(o, "name", b->name);
	add_int(o, "aging", b->aging);
	add_int(o, "mac_limit", b->mac_limit);
	add_str(o, "origin", origin(b->origin));
	for (int i = 0; i < s->nslots; i++)
		if (s->ports[i].used && !strcmp(s->ports[i].opt.bridge, b->name))
			json_object_array_add(ports, json_object_new_string(
				s->ports[i].opt.name));
	json_object_object_add(o, "ports", ports);
	return o;
}

static void wiring(const struct sw *s, const struct port_opt *po, char *buf,
		   size_t n)
{
	if (po->peer >= 0)
		snprintf(buf, n, "link:%s", s->ports[po->peer].opt.name);
	else if (po->bridge[0])
		snprintf(buf, n, "bridge:%s", po->bridge);
	else if (po->reflect)
		snprintf(buf, n, "reflect");
	else if (po->source_len)
		snprintf(buf, n, "source:%u", po->source_len);
	else
		snprintf(buf, n, "none");
}

static json_object *show_port(const struct vhostd_api *a, int i)
{
	const struct sw_port *sp = &a->sw->ports[i];
	const struct port_opt *po = &sp->opt;
	const struct dp_port *dpp = &a->dp->ports[i];
	json_object *o = json_object_new_object();
	char buf[256];
	uint64_t features = 0;
	uint32_t pairs = 0, live = 0;
	const char *state = "stopped";

	add_str(o, "name", po->name);
	add_str(o, "type", po->kind == PORT_VHOST ? "vhost" : po->nic_type);
	add_str(o, "origin", origin(sp->origin));
	add_str(o, "spec", sp->spec);
	if (po->kind == PORT_VHOST && sp->vu_started) {
		state = sp->vu.cfd >= 0 ? "connected" :
			vu_port_detached(&sp->vu) ? "detached" :
			po->client ? "connecting" : "listening";
		features = sp->vu.dev.features;
		pairs = po->queues;
	} else if (sp->nic) {
		state = "open";
		pairs = sp->nic->nqueues;
	}
	for (uint32_t qp = 0; dpp->vq_live && qp < dp_npairs(dpp); qp++)
		live += dpp->vq_live[2 * qp + 1];
	add_str(o, "state", state);
	wiring(a->sw, po, buf, sizeof(buf));
	add_str(o, "wiring", buf);
	if (po->bridge[0])
		add_str(o, "bridge", po->bridge);
	if (po->bridge[0]) {
		br_vlan_format(&po->vlan, buf, sizeof(buf));
		add_str(o, "vlan", buf[0] ? buf : "untagged");
	}
	snprintf(buf, sizeof(buf), "0x%" PRIx64, features);
	add_str(o, "features", buf);
	add_int(o, "queue_pairs", pairs);
	add_int(o, "queues_live", live);
	return o;
}

int vhostd_api_show(struct vhostd_api *a, json_object *rep)
{
	const struct sw *s = a->sw;
	json_object *br = json_object_new_array();
	json_object *ports = json_object_new_array();
	json_object *links = json_object_new_array();

	for (int i = 0; i < SW_MAX_BRIDGES; i++)
		if (s->bridges[i].used)
			json_object_array_add(br, show_bridge(s, &s->bridges[i]));
	for (int i = 0; i < s->nslots; i++) {
		if (!s->ports[i].used)
			continue;
		json_object_array_add(ports, show_port(a, i));
		int peer = s->ports[i].opt.peer;
		if (peer > i) {
			json_object *l = json_object_new_array();
			json_object_array_add(l, json_object_new_string(
				s->ports[i].opt.name));
			json_object_array_add(l, json_object_new_string(
				s->ports[peer].opt.name));
			json_object_array_add(links, l);
		}
	}
	json_object_object_add(rep, "bridges", br);
	json_object_object_add(rep, "ports", ports);
	json_object_object_add(rep, "links", links);
	return 0;
}
