/* SPDX-License-Identifier: MIT */
#include "vhostd_conf.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A config file is a few KiB; refuse what cannot be one. */
#define CONF_FILE_MAX (1u << 20)

static int fail(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A string member that fits in cap bytes (with its NUL). */
static int get_str(json_object *o, const char *key, char *dst, size_t cap,
		   const char *where, char *why, size_t n)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return fail(why, n, "%s: \"%s\" missing", where, key);
	if (!json_object_is_type(v, json_type_string))
		return fail(why, n, "%s: \"%s\" is not a string", where, key);
	const char *s = json_object_get_string(v);
	if ((size_t)json_object_get_string_len(v) != strlen(s))
		return fail(why, n, "%s: \"%s\" contains a NUL", where, key);
	if (strlen(s) >= cap)
		return fail(why, n, "%s: \"%s\" longer than %zu bytes", where,
			    key, cap - 1);
	strcpy(dst, s);
	return 0;
}

/* An optional non-negative integer member (0 when absent). */
static int get_u32(json_object *o, const char *key, uint32_t *dst,
		   const char *where, char *why, size_t n)
{
	json_object *v;

	*dst = 0;
	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return fail(why, n, "%s: \"%s\" is not an integer", where, key);
	int64_t x = json_object_get_int64(v);
	if (x < 0 || x > UINT32_MAX)
		return fail(why, n, "%s: \"%s\" out of range", where, key);
	*dst = (uint32_t)x;
	return 0;
}

/* Every member of o is one of keys. */
static int only_keys(json_object *o, const char *const *keys,
		     const char *where, char *why, size_t n)
{
	json_object_object_foreach(o, k, v) {
		(void)v;
		bool known = false;
		for (const char *const *x = keys; *x; x++)
			known |= strcmp(k, *x) == 0;
		if (!known)
			return fail(why, n, "%s: unknown member \"%s\"", where, k);
	}
	return 0;
}

/* Member key of root, an array of at most max entries (absent: empty). */
static int get_array(json_object *root, const char *key, size_t max,
		     json_object **arr, char *why, size_t n)
{
	*arr = NULL;
	if (!json_object_object_get_ex(root, key, arr))
		return 0;
	if (!json_object_is_type(*arr, json_type_array))
		return fail(why, n, "\"%s\" is not an array", key);
	if (json_object_array_length(*arr) > max)
		return fail(why, n, "\"%s\": more than %zu entries", key, max);
	return 0;
}

static int parse_bridges(json_object *arr, struct vhostd_conf *c, char *why,
			 size_t n)
{
	static const char *const keys[] = {"name", "aging", "mac_limit", NULL};
	char where[32];

	for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
		json_object *b = json_object_array_get_idx(arr, i);
		struct conf_bridge *cb = &c->bridges[c->nbridges];
		snprintf(where, sizeof(where), "bridges[%zu]", i);
		if (!json_object_is_type(b, json_type_object))
			return fail(why, n, "%s is not an object", where);
		int err = only_keys(b, keys, where, why, n);
		if (!err)
			err = get_str(b, "name", cb->name, sizeof(cb->name),
				      where, why, n);
		if (!err)
			err = get_u32(b, "aging", &cb->aging, where, why, n);
		if (!err)
			err = get_u32(b, "mac_limit", &cb->mac_limit, where,
				      why, n);
		if (err)
			return err;
		c->nbridges++;
	}
	return 0;
}

static int parse_ports(json_object *arr, struct vhostd_conf *c, char *why,
		       size_t n)
{
	static const char *const keys[] = {"name", "spec", NULL};
	char where[32];

	for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
		json_object *p = json_object_array_get_idx(arr, i);
		struct conf_port *cp = &c->ports[c->nports];
		snprintf(where, sizeof(where), "ports[%zu]", i);
		if (!json_object_is_type(p, json_type_object))
			return fail(why, n, "%s is not an object", where);
		int err = only_keys(p, keys, where, why, n);
		if (!err)
			err = get_str(p, "name", cp->name, sizeof(cp->name),
				      where, why, n);
		if (!err)
			err = get_str(p, "spec", cp->spec, sizeof(cp->spec),
				      where, why, n);
		if (err)
			return err;
		c->nports++;
	}
	return 0;
}

static int parse_links(json_object *arr, struct vhostd_conf *c, char *why,
		       size_t n)
{
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
		json_object *l = json_object_array_get_idx(arr, i);
		struct conf_link *cl = &c->links[c->nlinks];
		if (!json_object_is_type(l, json_type_array) ||
		    json_object_array_length(l) != 2)
			return fail(why, n, "links[%zu] is not [\"A\", \"B\"]", i);
		for (size_t k = 0; k < 2; k++) {
			json_object *s = json_object_array_get_idx(l, k);
			char *dst = k ? cl->b : cl->a;
			if (!json_object_is_type(s, json_type_string) ||
			    strlen(json_object_get_string(s)) >= VHOSTD_NAME_MAX)
				return fail(why, n, "links[%zu][%zu] is not a "
					    "port name", i, k);
			strcpy(dst, json_object_get_string(s));
		}
		c->nlinks++;
	}
	return 0;
}

int vhostd_conf_parse(const char *text, struct vhostd_conf *c, char *why,
		      size_t n)
{
	static const char *const keys[] = {"bridges", "ports", "links", NULL};
	enum json_tokener_error jerr;
	json_object *root = json_tokener_parse_verbose(text, &jerr);
	json_object *br, *po, *li;
	int err;

	memset(c, 0, sizeof(*c));
	if (!root)
		return fail(why, n, "not JSON: %s", json_tokener_error_desc(jerr));
	if (!json_object_is_type(root, json_type_object))
		err = fail(why, n, "not a JSON object");
	else if (!(err = only_keys(root, keys, "top level", why, n)) &&
		 !(err = get_array(root, "bridges", CONF_MAX_BRIDGES, &br, why,
				   n)) &&
		 !(err = get_array(root, "ports", VHOSTD_MAX_PORTS, &po, why,
				   n)) &&
		 !(err = get_array(root, "links", VHOSTD_MAX_PORTS / 2, &li,
				   why, n)) &&
		 !(err = parse_bridges(br, c, why, n)) &&
		 !(err = parse_ports(po, c, why, n)))
		err = parse_links(li, c, why, n);
	json_object_put(root);
	return err;
}

static json_object *conf_json(const struct vhostd_conf *c)
{
	json_object *root = json_object_new_object();
	json_object *br = json_object_new_array();
	json_object *po = json_object_new_array();
	json_object *li = json_object_new_array();

	for (int i = 0; i < c->nbridges; i++) {
		json_object *b = json_object_new_object();
		json_object_object_add(b, "name",
				       json_object_new_string(c->bridges[i].name));
		if (c->bridges[i].aging)
			json_object_object_add(b, "aging",
				json_object_new_int64(c->bridges[i].aging));
		if (c->bridges[i].mac_limit)
			json_object_object_add(b, "mac_limit",
				json_object_new_int64(c->bridges[i].mac_limit));
		json_object_array_add(br, b);
	}
	for (int i = 0; i < c->nports; i++) {
		json_object *p = json_object_new_object();
		json_object_object_add(p, "name",
				       json_object_new_string(c->ports[i].name));
		json_object_object_add(p, "spec",
				       json_object_new_string(c->ports[i].spec));
		json_object_array_add(po, p);
	}
	for (int i = 0; i < c->nlinks; i++) {
		json_object *l = json_object_new_array();
		json_object_array_add(l, json_object_new_string(c->links[i].a));
		json_object_array_add(l, json_object_new_string(c->links[i].b));
		json_object_array_add(li, l);
	}
	json_object_object_add(root, "bridges", br);
	json_object_object_add(root, "ports", po);
	json_object_object_add(root, "links", li);
	return root;
}

char *vhostd_conf_format(const struct vhostd_conf *c)
{
	json_object *root = conf_json(c);
	const char *s = json_object_to_json_string_ext(root,
		JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
		JSON_C_TO_STRING_NOSLASHESCAPE);
	char *out = NULL;

	if (s && asprintf(&out, "%s\n", s) < 0)
		out = NULL;
	json_object_put(root);
	return out;
}

int vhostd_conf_load(const char *path, struct vhostd_conf *c, char *why,
		     size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	memset(c, 0, sizeof(*c));
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 || fstat(fd, &st) < 0) {
		int err = -errno;
		snprintf(why, n, "%s: %s", path, strerror(-err));
		if (fd >= 0)
			close(fd);
		return err;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > CONF_FILE_MAX) {
		close(fd);
		snprintf(why, n, "%s: not a regular file of at most %u bytes",
			 path, CONF_FILE_MAX);
		return -EINVAL;
	}
	char *text = calloc(1, (size_t)st.st_size + 1);
	ssize_t got = text ? read(fd, text, (size_t)st.st_size) : -1;
	int err = got == st.st_size ? 0 : got < 0 ? -errno : -EIO;
	close(fd);
	if (err) {
		snprintf(why, n, "%s: cannot read: %s", path, strerror(-err));
	} else if (memchr(text, '\0', (size_t)st.st_size)) {
		err = fail(why, n, "%s: contains a NUL byte", path);
	} else {
		char inner[200];
		err = vhostd_conf_parse(text, c, inner, sizeof(inner));
		if (err)
			snprintf(why, n, "%s: %s", path, inner);
	}
	free(text);
	return err;
}

static int write_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t w = write(fd, s, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		s += w;
		len -= (size_t)w;
	}
	return 0;
}

/* fsync the directory holding path: the rename itself is then durable. */
static int sync_dir(const char *path)
{
	char copy[sizeof(((struct vhostd_opts *)0)->config_path) + 1];

	snprintf(copy, sizeof(copy), "%s", path);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int err = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return err;
}

int vhostd_conf_save(const char *path, const struct vhostd_conf *c)
{
	char tmp[sizeof(((struct vhostd_opts *)0)->config_path) + 8];
	char *text = vhostd_conf_format(c);
	int err;

	if (!text)
		return -ENOMEM;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		free(text);
		return -ENAMETOOLONG;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		free(text);
		return err;
	}
	err = write_all(fd, text, strlen(text));
	if (!err && fsync(fd) < 0)
		err = -errno;
	if (close(fd) < 0 && !err)
		err = -errno;
	free(text);
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err) {
		unlink(tmp);
		return err;
	}
	return sync_dir(path);
}
