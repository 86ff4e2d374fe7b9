/* SPDX-License-Identifier: MIT */
/*
 * vhostctl: one request to vhostd's control socket (--control PATH), the
 * answer printed for people (tables, key=value records) or, with --json,
 * as vhostd sent it (one JSON object, control/daemon/vhostd_api.h).
 *   vhostctl [--json] CTL show | stats | placement | version | help
 *   vhostctl [--json] CTL add-bridge BR [aging=S] [mac-limit=N]
 *   vhostctl [--json] CTL del-bridge BR | fdb BR
 *   vhostctl [--json] CTL add-port NAME SPEC | del-port NAME
 *   vhostctl [--json] CTL add-port NAME vhost-fd:N[,opts]  (sends fd N)
 *   vhostctl [--json] CTL set-port-fd NAME vhost-fd:N      (sends fd N)
 *   vhostctl [--json] CTL link A B | unlink A | log-level LEVEL
 * Exit status: 0 done, 1 vhostd refused the request (its reason on
 * stderr), 2 bad usage, vhostd unreachable or an answer that is not one.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define REPLY_MAX (64u << 20)

static int usage(void)
{
	fprintf(stderr,
		"usage: vhostctl [--json] CONTROL_SOCKET VERB [ARGS...]\n"
		"  show | stats | placement | version | help\n"
		"  add-bridge BR [aging=S] [mac-limit=N] | del-bridge BR | fdb BR\n"
		"  add-port NAME SPEC | del-port NAME\n"
		"  add-port NAME vhost-fd:N[,opts] | set-port-fd NAME vhost-fd:N\n"
		"    (vhostctl's own fd N is passed to vhostd)\n"
		"  link A B | unlink A | log-level err|warn|info|debug\n");
	return 2;
}

/* VERB's positional arguments, named as the request's members. */
static const struct {
	const char *verb;
	const char *args[3];
} verbs[] = {
	{"add-bridge", {"name"}}, {"del-bridge", {"name"}},
	{"add-port", {"name", "spec"}}, {"del-port", {"name"}},
	{"link", {"a", "b"}}, {"unlink", {"name"}}, {"fdb", {"bridge"}},
	{"log-level", {"level"}}, {"set-port-fd", {"name", "spec"}},
};

/* The fd a "vhost-fd:N[,...]" argument names: N, -1 if it names none,
 * -2 if N is not a number. */
static int fd_of(const char *spec)
{
	char *end;

	if (strncmp(spec, "vhost-fd:", 9))
		return -1;
	errno = 0;
	long v = strtol(spec + 9, &end, 10);
	if (errno || end == spec + 9 || (*end && *end != ',') || v < 0 ||
	    v > (1 << 30))
		return -2;
	return (int)v;
}

/* add-bridge's optional KEY=N arguments. */
static int bridge_opt(json_object *req, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char *end;

	if (!eq)
		return -EINVAL;
	errno = 0;
	long long v = strtoll(eq + 1, &end, 10);
	if (errno || end == eq + 1 || *end || v < 0)
		return -EINVAL;
	const char *key = !strncmp(arg, "aging=", 6) ? "aging" :
			  !strncmp(arg, "mac-limit=", 10) ? "mac_limit" : NULL;
	if (!key)
		return -EINVAL;
	json_object_object_add(req, key, json_object_new_int64(v));
	return 0;
}

static json_object *build(int argc, char **argv)
{
	json_object *req = json_object_new_object();
	int nargs = 0;

	json_object_object_add(req, "cmd", json_object_new_string(argv[0]));
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(verbs[i].verb, argv[0]))
			continue;
		for (; nargs < 3 && verbs[i].args[nargs]; nargs++) {
			if (nargs + 1 >= argc)
				goto bad;
			json_object_object_add(req, verbs[i].args[nargs],
				json_object_new_string(argv[nargs + 1]));
		}
	}
	for (int k = nargs + 1; k < argc; k++)
		if (strcmp(argv[0], "add-bridge") || bridge_opt(req, argv[k]))
			goto bad;
	return req;
bad:
	json_object_put(req);
	return NULL;
}

/* The request's bytes, fd (>= 0) passed with the first of them. */
static ssize_t send_first(int sock, const char *buf, size_t len, int fd)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = {(void *)buf, len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	if (fd >= 0) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.b;
		mh.msg_controllen = sizeof(cm.b);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL);
}

/* Send line (with fd, if >= 0), read the reply up to end of file.  NULL:
 * unreachable. */
static char *exchange(const char *path, const char *line, int pass)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	strcpy(sa.sun_path, path);
	if (!buf || fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		goto fail;
	/* vhostd may answer and close before it reads (a caller it refuses):
	 * a failed send still leaves its answer to read. */
	size_t llen = strlen(line);
	char *req = malloc(llen + 2);
	if (!req)
		goto fail;
	memcpy(req, line, llen);
	req[llen] = '\n';
	for (size_t off = 0; off <= llen;) {
		ssize_t w = send_first(fd, req + off, llen + 1 - off,
				       off ? -1 : pass);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	free(req);
	for (;;) {
		if (len + 1 >= cap) {
			char *nb = cap < REPLY_MAX ? realloc(buf, cap * 2) : NULL;
			if (!nb)
				goto fail;
			buf = nb;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && len == 0)
			goto fail;
		if (n < 0)     /* reset after an answer: keep what came */
			break;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return buf;
fail:
	fprintf(stderr, "vhostctl: %s: %s\n", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

static const char *s_of(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return "-";
	return json_object_get_string(v);
}

/* {"type":"queue","port":"a",...} -> "queue port=a ...". */
static void print_records(json_object *arr)
{
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *r = json_object_array_get_idx(arr, i);
		fputs(s_of(r, "type"), stdout);
		json_object_object_foreach(r, k, v)
			if (strcmp(k, "type"))
				printf(" %s=%s", k, json_object_get_string(v));
		putchar('\n');
	}
}

static void print_show(json_object *rep)
{
	json_object *br, *ports;

	if (json_object_object_get_ex(rep, "bridges", &br) &&
	    json_object_array_length(br)) {
		printf("%-16s %-8s %-9s %s\n", "BRIDGE", "AGING", "MAC_LIMIT",
		       "PORTS");
		for (size_t i = 0; i < json_object_array_length(br); i++) {
			json_object *b = json_object_array_get_idx(br, i), *p;
			printf("%-16s %-8s %-9s ", s_of(b, "name"),
			       s_of(b, "aging"), s_of(b, "mac_limit"));
			json_object_object_get_ex(b, "ports", &p);
			for (size_t k = 0; p && k < json_object_array_length(p);
			     k++)
				printf("%s%s", k ? "," : "", json_object_get_string(
					json_object_array_get_idx(p, k)));
			printf("\n");
		}
		printf("\n");
	}
	printf("%-16s %-6s %-10s %-18s %-7s %-18s %-8s %s\n", "PORT", "TYPE",
	       "STATE", "WIRING", "QUEUES", "FEATURES", "ORIGIN", "SPEC");
	json_object_object_get_ex(rep, "ports", &ports);
	for (size_t i = 0; ports && i < json_object_array_length(ports); i++) {
		json_object *p = json_object_array_get_idx(ports, i);
		char q[24];
		snprintf(q, sizeof(q), "%s/%s", s_of(p, "queues_live"),
			 s_of(p, "queue_pairs"));
		printf("%-16s %-6s %-10s %-18s %-7s %-18s %-8s %s\n",
		       s_of(p, "name"), s_of(p, "type"), s_of(p, "state"),
		       s_of(p, "wiring"), q, s_of(p, "features"),
		       s_of(p, "origin"), s_of(p, "spec"));
	}
}

static void print_fdb(json_object *rep)
{
	json_object *e;

	printf("%-17s %-5s %-16s %s\n", "MAC", "VLAN", "PORT", "AGE");
	json_object_object_get_ex(rep, "entries", &e);
	for (size_t i = 0; e && i < json_object_array_length(e); i++) {
		json_object *x = json_object_array_get_idx(e, i);
		printf("%-17s %-5s %-16s %s\n", s_of(x, "mac"), s_of(x, "vlan"),
		       s_of(x, "port"), s_of(x, "age"));
	}
}

static void print_help(json_object *rep)
{
	json_object *v;

	json_object_object_get_ex(rep, "verbs", &v);
	for (size_t i = 0; v && i < json_object_array_length(v); i++) {
		json_object *x = json_object_array_get_idx(v, i);
		printf("  %-11s %s\n", s_of(x, "cmd"), s_of(x, "help"));
	}
}

/* For people: what the verb answered. */
static void print_human(const char *verb, json_object *rep)
{
	json_object *rec;

	if (json_object_object_get_ex(rep, "records", &rec))
		print_records(rec);
	else if (!strcmp(verb, "show"))
		print_show(rep);
	else if (!strcmp(verb, "fdb"))
		print_fdb(rep);
	else if (!strcmp(verb, "help"))
		print_help(rep);
	else if (!strcmp(verb, "version"))
		printf("vhostd %s\n", s_of(rep, "version"));
	if (json_object_object_get_ex(rep, "warning", &rec))
		fprintf(stderr, "vhostctl: warning: %s\n",
			json_object_get_string(rec));
}

int main(int argc, char **argv)
{
	bool json = argc > 1 && !strcmp(argv[1], "--json");
	int a = json ? 2 : 1;

	if (argc - a < 2)
		return usage();
	json_object *req = build(argc - a - 1, argv + a + 1);
	if (!req)
		return usage();
	/* A vhost-fd:N argument: fd N goes with the request; set-port-fd's
	 * request is the name alone. */
	const char *verb = argv[a + 1];
	int pass = -1;
	bool fd_verb = !strcmp(verb, "add-port") || !strcmp(verb, "set-port-fd");
	if (fd_verb && argc - a > 3)
		pass = fd_of(argv[a + 3]);
	if (pass == -2 || (!strcmp(verb, "set-port-fd") && pass < 0)) {
		fprintf(stderr, "vhostctl: '%s' is not vhost-fd:N with N a file "
			"descriptor number\n", argc - a > 3 ? argv[a + 3] : "");
		json_object_put(req);
		return 2;
	}
	if (pass >= 0 && fcntl(pass, F_GETFD) < 0) {
		fprintf(stderr, "vhostctl: fd %d is not open in vhostctl (the "
			"caller must pass it: e.g. bash's %d<>... or a "
			"manager's fork)\n", pass, pass);
		json_object_put(req);
		return 2;
	}
	if (!strcmp(verb, "set-port-fd"))
		json_object_object_del(req, "spec");
	char *reply = exchange(argv[a], json_object_to_json_string_ext(req,
		JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), pass);
	json_object_put(req);
	if (!reply)
		return 2;
	json_object *rep = json_tokener_parse(reply), *ok;
	int rc = 2;
	if (!rep || !json_object_is_type(rep, json_type_object) ||
	    !json_object_object_get_ex(rep, "ok", &ok)) {
		fprintf(stderr, "vhostctl: not an answer from vhostd: %.200s\n",
			reply);
	} else if (json) {
		fputs(reply, stdout);
		rc = json_object_get_boolean(ok) ? 0 : 1;
	} else if (!json_object_get_boolean(ok)) {
		fprintf(stderr, "vhostctl: %s\n", s_of(rep, "error"));
		rc = 1;
	} else {
		print_human(argv[a + 1], rep);
		rc = 0;
	}
	json_object_put(rep);
	free(reply);
	return rc;
}
