/* SPDX-License-Identifier: MIT */
/*
 * vhostd_api_fd.c: the fds a control request carries (vhostd_api.h).
 *
 * Which requests carry one: add-port with a "vhost-fd:" spec and
 * set-port-fd, exactly one each; every other request none.  The count is
 * checked before the verb runs, then the type (an AF_UNIX stream socket,
 * connected or listening: vu_fdpass.h).  A refused request keeps no fd:
 * vu_ctl.c closes what the verb did not take.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "../wire/vu_fdpass.h"
#include "vhostd_api.h"

static bool fd_spec(json_object *req)
{
	json_object *v;

	return json_object_object_get_ex(req, "spec", &v) &&
	       json_object_is_type(v, json_type_string) &&
	       !strncmp(json_object_get_string(v), "vhost-fd:", 9);
}

int vhostd_api_fds_check(struct vhostd_api *a, const char *verb,
			 json_object *req, char *why, size_t n)
{
	bool set = !strcmp(verb, "set-port-fd");
	int want = set || (!strcmp(verb, "add-port") && fd_spec(req)) ? 1 : 0;
	char inner[160];
	bool listening;

	if (a->nfds != want)
		return snprintf(why, n, "%s: %d fd%s passed with the request, "
				"%s%s", verb, a->nfds, a->nfds == 1 ? "" : "s",
				want ? "it needs exactly 1 (SCM_RIGHTS): a "
				"unix stream socket" : "it takes none",
				want && !set ? " for a vhost-fd: port" : ""),
		       a->nfds ? -E2BIG : -EBADF;
	for (int i = 0; i < a->nfds; i++) {
		int err = vu_fdpass_check_stream(a->fds[i], &listening, inner,
						 sizeof(inner));
		if (err)
			return snprintf(why, n, "%s: the passed %s", verb,
					inner), err;
	}
	return 0;
}

int vhostd_api_set_port_fd(struct vhostd_api *a, json_object *req,
			   json_object *rep, char *why, size_t n)
{
	json_object *v;
	struct sw_req r = {.op = SW_SET_PORT_FD, .origin = SW_RUNTIME,
			   .fd = &a->fds[0]};

	(void)rep;
	if (json_object_object_get_ex(req, "name", &v))
		r.name = json_object_get_string(v);
	return sw_apply(a->sw, &r, why, n);
}
