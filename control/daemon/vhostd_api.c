/* SPDX-License-Identifier: MIT */
#include "vhostd_api.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "../../datapath/log.h"
#include "vhostd_bridge.h"

#define TAG "api"

struct verb;
typedef int (*verb_fn)(struct vhostd_api *a, json_object *req,
		       json_object *rep, char *why, size_t n);

/* A verb and its arguments: "name:s" a string, "name:i" an integer, a
 * trailing '?' for optional. */
struct verb {
	const char *name;
	const char *args[4];
	const char *help;
	verb_fn fn;
};

static const char *str(json_object *req, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(req, key, &v) ?
	       json_object_get_string(v) : NULL;
}

static uint32_t u32(json_object *req, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(req, key, &v) ?
	       (uint32_t)json_object_get_int64(v) : 0;
}

static int do_apply(struct vhostd_api *a, const struct sw_req *r,
		    json_object *rep, char *why, size_t n)
{
	int err = sw_apply(a->sw, r, why, n);

	if (!err && why[0])     /* applied, with a warning (config) */
		json_object_object_add(rep, "warning",
				       json_object_new_string(why));
	return err;
}

static int v_add_bridge(struct vhostd_api *a, json_object *req,
			json_object *rep, char *why, size_t n)
{
	struct sw_req r = {.op = SW_ADD_BRIDGE, .origin = SW_RUNTIME,
			   .name = str(req, "name"),
			   .aging = u32(req, "aging"),
			   .mac_limit = u32(req, "mac_limit")};
	return do_apply(a, &r, rep, why, n);
}

static int v_del_bridge(struct vhostd_api *a, json_object *req,
			json_object *rep, char *why, size_t n)
{
	struct sw_req r = {.op = SW_DEL_BRIDGE, .origin = SW_RUNTIME,
			   .name = str(req, "name")};
	return do_apply(a, &r, rep, why, n);
}

static int v_add_port(struct vhostd_api *a, json_object *req,
		      json_object *rep, char *why, size_t n)
{
	struct sw_req r = {.op = SW_ADD_PORT, .origin = SW_RUNTIME,
			   .name = str(req, "name"), .spec = str(req, "spec"),
			   .fd = a->nfds ? &a->fds[0] : NULL};
	return do_apply(a, &r, rep, why, n);
}

static int v_del_port(struct vhostd_api *a, json_object *req,
		      json_object *rep, char *why, size_t n)
{
	struct sw_req r = {.op = SW_DEL_PORT, .origin = SW_RUNTIME,
			   .name = str(req, "name")};
	return do_apply(a, &r, rep, why, n);
}

static int v_link(struct vhostd_api *a, json_object *req, json_object *rep,
		  char *why, size_t n)
{
	struct sw_req r = {.op = SW_LINK, .origin = SW_RUNTIME,
			   .name = str(req, "a"), .peer = str(req, "b")};
	return do_apply(a, &r, rep, why, n);
}

static int v_unlink(struct vhostd_api *a, json_object *req, json_object *rep,
		    char *why, size_t n)
{
	struct sw_req r = {.op = SW_UNLINK, .origin = SW_RUNTIME,
			   .name = str(req, "name")};
	return do_apply(a, &r, rep, why, n);
}

static void fdb_entry(void *arg, const uint8_t mac[6], uint16_t vlan,
		      const char *port, uint32_t age)
{
	json_object *e = json_object_new_object();
	char m[18];

	snprintf(m, sizeof(m), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
		 mac[2], mac[3], mac[4], mac[5]);
	json_object_object_add(e, "mac", json_object_new_string(m));
	json_object_object_add(e, "vlan", json_object_new_int(vlan));
	json_object_object_add(e, "port", json_object_new_string(port));
	json_object_object_add(e, "age", json_object_new_int64(age));
	json_object_array_add(arg, e);
}

/* {"ok":true,"bridge":BR,"entries":[{"mac","vlan","port","age"}]}: vlan
 * 0 is the untagged domain, age in seconds since last seen. */
static int v_fdb(struct vhostd_api *a, json_object *req, json_object *rep,
		 char *why, size_t n)
{
	const char *br = str(req, "bridge");
	json_object *arr = json_object_new_array();

	if (dp_bridge_fdb(a->dp, br, fdb_entry, arr) < 0) {
		json_object_put(arr);
		return snprintf(why, n, "no bridge '%s'", br), -ENOENT;
	}
	json_object_object_add(rep, "bridge", json_object_new_string(br));
	json_object_object_add(rep, "entries", arr);
	return 0;
}

static int v_log_level(struct vhostd_api *a, json_object *req,
		       json_object *rep, char *why, size_t n)
{
	enum vlog_level lvl;
	const char *s = str(req, "level");

	(void)a; (void)rep;
	if (vlog_parse_level(s, &lvl) < 0)
		return snprintf(why, n, "log level '%.32s': use err, warn, info "
				"or debug", s), -EINVAL;
	vlog_set_level(lvl);
	LOG_INFO(TAG, "log level %s", s);
	return 0;
}

static int v_version(struct vhostd_api *a, json_object *req,
		     json_object *rep, char *why, size_t n)
{
	(void)a; (void)req; (void)why; (void)n;
	json_object_object_add(rep, "version",
			       json_object_new_string(VHOSTD_VERSION));
	return 0;
}

/* One "type k=v k=v" line as an object. */
static json_object *record(char *line)
{
	json_object *o = json_object_new_object();
	char *save = NULL, *tok = strtok_r(line, " ", &save);

	json_object_object_add(o, "type", json_object_new_string(tok));
	while ((tok = strtok_r(NULL, " ", &save))) {
		char *eq = strchr(tok, '=');
		if (!eq)
			continue;
		*eq++ = '\0';
		char *end;
		errno = 0;
		long long v = strtoll(eq, &end, 10);
		bool num = *eq && end != eq && !*end && !errno;
		json_object_object_add(o, tok, num ?
			json_object_new_int64(v) :
			json_object_new_string(eq));
	}
	return o;
}

/* The text a printer writes, as records. */
static int records(json_object *rep, void (*print)(const struct dp *, FILE *),
		   const struct dp *dp)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return -ENOMEM;
	print(dp, f);
	fclose(f);
	json_object *arr = json_object_new_array();
	char *save = NULL;
	for (char *l = strtok_r(text, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save))
		if (*l)
			json_object_array_add(arr, record(l));
	free(text);
	json_object_object_add(rep, "records", arr);
	return 0;
}

static int v_stats(struct vhostd_api *a, json_object *req, json_object *rep,
		   char *why, size_t n)
{
	(void)req; (void)why; (void)n;
	return records(rep, dp_stats_print, a->dp);
}

static int v_placement(struct vhostd_api *a, json_object *req,
		       json_object *rep, char *why, size_t n)
{
	(void)req; (void)why; (void)n;
	return records(rep, dp_placement_print, a->dp);
}

int vhostd_api_show(struct vhostd_api *a, json_object *rep);

static int v_show(struct vhostd_api *a, json_object *req, json_object *rep,
		  char *why, size_t n)
{
	(void)req; (void)why; (void)n;
	return vhostd_api_show(a, rep);
}

static int v_help(struct vhostd_api *a, json_object *req, json_object *rep,
		  char *why, size_t n);

static const struct verb verbs[] = {
	{"show", {NULL}, "bridges, ports (type, state, features, queues), "
	 "links", v_show},
	{"add-bridge", {"name:s", "aging:i?", "mac_limit:i?", NULL},
	 "create a bridge", v_add_bridge},
	{"del-bridge", {"name:s", NULL}, "delete a bridge without ports",
	 v_del_bridge},
	{"add-port", {"name:s", "spec:s", NULL}, "add a port: spec as after "
	 "NAME= in --port (vhost-fd:N: its socket passed with the request)",
	 v_add_port},
	{"set-port-fd", {"name:s", NULL}, "a vhost-fd: port's new socket, "
	 "passed with the request", vhostd_api_set_port_fd},
	{"del-port", {"name:s", NULL}, "remove a port (its front-end is "
	 "detached)", v_del_port},
	{"link", {"a:s", "b:s", NULL}, "cross-connect two ports", v_link},
	{"unlink", {"name:s", NULL}, "undo a port's link", v_unlink},
	{"fdb", {"bridge:s", NULL}, "a bridge's forwarding database", v_fdb},
	{"stats", {NULL}, "per-queue and per-worker counters", v_stats},
	{"placement", {NULL}, "per queue pair: worker core and NUMA nodes",
	 v_placement},
	{"log-level", {"level:s", NULL}, "err, warn, info or debug",
	 v_log_level},
	{"version", {NULL}, "vhostd's version", v_version},
	{"help", {NULL}, "the verbs and their arguments", v_help},
};

static int v_help(struct vhostd_api *a, json_object *req, json_object *rep,
		  char *why, size_t n)
{
	json_object *arr = json_object_new_array();

	(void)a; (void)req; (void)why; (void)n;
	for (size_t i = 0; i < ARRAY_SIZE(verbs); i++) {
		json_object *v = json_object_new_object();
		json_object *args = json_object_new_array();
		for (const char *const *x = verbs[i].args; *x; x++)
			json_object_array_add(args, json_object_new_string(*x));
		json_object_object_add(v, "cmd",
				       json_object_new_string(verbs[i].name));
		json_object_object_add(v, "args", args);
		json_object_object_add(v, "help",
				       json_object_new_string(verbs[i].help));
		json_object_array_add(arr, v);
	}
	json_object_object_add(rep, "verbs", arr);
	return 0;
}

/* One argument spec "name:t[?]" against req. */
static int check_arg(json_object *req, const char *spec, char *why, size_t n)
{
	const char *colon = strchr(spec, ':');
	int klen = (int)(colon - spec);
	bool opt = colon[2] == '?';
	enum json_type want = colon[1] == 's' ? json_type_string :
			      json_type_int;
	char key[32];
	json_object *v;

	snprintf(key, sizeof(key), "%.*s", klen, spec);
	if (!json_object_object_get_ex(req, key, &v))
		return opt ? 0 : (snprintf(why, n, "\"%s\" missing", key),
				  -EINVAL);
	if (!json_object_is_type(v, want))
		return snprintf(why, n, "\"%s\" must be %s", key,
				want == json_type_string ? "a string" :
				"an integer"), -EINVAL;
	if (want == json_type_string &&
	    strlen(json_object_get_string(v)) !=
	    (size_t)json_object_get_string_len(v))
		return snprintf(why, n, "\"%s\" contains a NUL", key), -EINVAL;
	if (want == json_type_int && (json_object_get_int64(v) < 0 ||
				      json_object_get_int64(v) > UINT32_MAX))
		return snprintf(why, n, "\"%s\" out of range", key), -EINVAL;
	return 0;
}

/* Every member of req is "cmd" or an argument of v; v's are there. */
static int check_args(const struct verb *v, json_object *req, char *why,
		      size_t n)
{
	json_object_object_foreach(req, k, val) {
		(void)val;
		bool known = !strcmp(k, "cmd");
		for (const char *const *x = v->args; *x && !known; x++)
			known = !strncmp(*x, k, strlen(k)) &&
				(*x)[strlen(k)] == ':';
		if (!known)
			return snprintf(why, n, "%s: unknown member \"%.40s\"",
					v->name, k), -EINVAL;
	}
	for (const char *const *x = v->args; *x; x++) {
		char inner[160];
		if (check_arg(req, *x, inner, sizeof(inner)))
			return snprintf(why, n, "%s: %s", v->name, inner),
			       -EINVAL;
	}
	return 0;
}

static int dispatch(struct vhostd_api *a, const char *line, json_object *rep,
		    char *why, size_t n)
{
	enum json_tokener_error jerr;
	json_object *req = json_tokener_parse_verbose(line, &jerr);
	json_object *cmd;
	int err = -EINVAL;

	if (!req)
		return snprintf(why, n, "not JSON: %s",
				json_tokener_error_desc(jerr)), -EINVAL;
	if (!json_object_is_type(req, json_type_object))
		snprintf(why, n, "the request is not a JSON object");
	else if (!json_object_object_get_ex(req, "cmd", &cmd) ||
		 !json_object_is_type(cmd, json_type_string))
		snprintf(why, n, "\"cmd\" (a string) missing");
	else {
		const char *name = json_object_get_string(cmd);
		const struct verb *v = NULL;
		for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
			if (!strcmp(verbs[i].name, name))
				v = &verbs[i];
		if (!v)
			snprintf(why, n, "unknown cmd \"%.40s\" (\"help\" lists "
				 "them)", name);
		else if (!(err = check_args(v, req, why, n)) &&
			 !(err = vhostd_api_fds_check(a, name, req, why, n)))
			err = v->fn(a, req, rep, why, n);
	}
	json_object_put(req);
	return err;
}

void vhostd_api_handle(const char *line, int *fds, int nfds, FILE *out,
		       void *arg)
{
	struct vhostd_api *a = arg;
	json_object *rep = json_object_new_object();
	char why[320] = "";

	json_object_object_add(rep, "ok", json_object_new_boolean(1));
	a->fds = fds;
	a->nfds = nfds;
	int err = dispatch(a, line, rep, why, sizeof(why));
	a->fds = NULL;
	a->nfds = 0;
	if (err) {
		json_object_put(rep);
		rep = json_object_new_object();
		json_object_object_add(rep, "ok", json_object_new_boolean(0));
		json_object_object_add(rep, "error", json_object_new_string(
			why[0] ? why : strerror(-err)));
		LOG_INFO(TAG, "request refused: %s", why[0] ? why :
			 strerror(-err));
	}
	fprintf(out, "%s\n", json_object_to_json_string_ext(rep,
		JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(rep);
}
