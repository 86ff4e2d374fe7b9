/* SPDX-License-Identifier: MIT */
#include "vhostd_notify.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../datapath/log.h"
#include "vhostd_sd.h"

#define TAG "notify"

static void notify(const char *state)
{
	if (!getenv("NOTIFY_SOCKET"))
		return;

	int r = vhostd_sd_notify(state);

	/* A Type=notify unit would wait for READY=1 and time out: say why. */
	if (r == -ENOSYS)
		LOG_ERR(TAG, "NOTIFY_SOCKET is set but this vhostd was built "
			"without libsystemd: the service manager is not told "
			"%.*s", (int)strcspn(state, "\n"), state);
	else if (r < 0 && r != -ENOENT)   /* -ENOENT: said when loading */
		LOG_WARN(TAG, "sd_notify %.*s: %s", (int)strcspn(state, "\n"),
			 state, strerror(-r));
}

static bool ready_sent;

void vhostd_notify_ready(const char *status)
{
	char msg[256];

	ready_sent = true;
	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", status);
	notify(msg);
}

/* Only a service that said it was ready stops; one that failed to start
 * just exits (systemd reads its status). */
void vhostd_notify_stopping(void)
{
	if (ready_sent)
		notify("STOPPING=1\nSTATUS=stopping");
}
