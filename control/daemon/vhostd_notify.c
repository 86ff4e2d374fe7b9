/* SPDX-License-Identifier: MIT */
#include "vhostd_notify.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../datapath/log.h"

#ifdef VHOSTD_HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#define TAG "notify"

static void notify(const char *state)
{
	if (!getenv("NOTIFY_SOCKET"))
		return;
#ifdef VHOSTD_HAVE_LIBSYSTEMD
	int r = sd_notify(0, state);
	if (r < 0)
		LOG_WARN(TAG, "sd_notify %.*s: %s", (int)strcspn(state, "\n"),
			 state, strerror(-r));
#else
	/* A Type=notify unit would wait for READY=1 and time out: say why. */
	LOG_ERR(TAG, "NOTIFY_SOCKET is set but this vhostd was built without "
		"libsystemd: the service manager is not told %.*s",
		(int)strcspn(state, "\n"), state);
#endif
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
