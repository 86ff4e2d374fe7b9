/* SPDX-License-Identifier: MIT */
/*
 * vu_metrics_mod.c: the --metrics server (vu_metrics.h) from its module,
 * vhostd-metrics.so, loaded when --metrics is used (vu_metrics.c is the
 * module).  Without libmicrohttpd at configure time neither is built
 * (vu_metrics_addr.c refuses the option).
 */
#include "vu_metrics.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "../../datapath/log.h"
#include "../../pmd/port_mod.h"

#define TAG "metrics"

static const struct vu_metrics_module *mod;

bool vu_metrics_available(void)
{
	return true;
}

static int load(void)
{
	char path[PATH_MAX], why[PATH_MAX + 200];

	vhostd_mod_path("vhostd-metrics.so", path, sizeof(path));
	const struct vu_metrics_module *m = vhostd_mod_sym(
		path, "vhostd_metrics_module", why, sizeof(why));
	if (m && (!m->abi || strcmp(m->abi, VU_METRICS_MODULE_ABI) ||
		  !m->start || !m->stop)) {
		snprintf(why, sizeof(why), "%s is from another vhostd build "
			 "(this is %s)", path, VU_METRICS_MODULE_ABI);
		m = NULL;
	}
	if (!m) {
		LOG_ERR(TAG, "--metrics: %s", why);
		return -ENOENT;
	}
	mod = m;
	return 0;
}

int vu_metrics_start(struct vu_metrics **out, struct vu_loop *loop,
		     const struct sockaddr *sa, socklen_t len,
		     vu_metrics_page_fn page, void *arg)
{
	int err = mod ? 0 : load();

	return err ? err : mod->start(out, loop, sa, len, page, arg);
}

void vu_metrics_stop(struct vu_metrics *m)
{
	if (m && mod)
		mod->stop(m);
}
