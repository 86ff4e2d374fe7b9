/* SPDX-License-Identifier: MIT */
/*
 * fuzz_listen_fds.c: the fds a service manager passes at start
 * (control/daemon/vhostd_listen_fds.c: LISTEN_PID, LISTEN_FDS,
 * LISTEN_FDNAMES).
 *
 * Input: the three values, separated by newlines (a missing one is unset;
 * a LISTEN_PID of "self" is this process's pid, so the rest is read).
 * Fds 3..10 are open.  The call must succeed with a count and that many
 * names, each free of ':', that joined with ':' give LISTEN_FDNAMES back
 * (or are all "unknown" without it), or fail with -EINVAL, -EBADF or
 * -ENOMEM and no names; the variables are gone afterwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/daemon/vhostd_listen_fds.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Open where nothing is (libFuzzer's own fds stay as they are). */
	for (int fd = 3; fd <= 10; fd++)
		if (fcntl(fd, F_GETFD) < 0) {
			int n = open("/dev/null", O_RDONLY);
			if (n < 0 || (n != fd && dup2(n, fd) != fd))
				return -1;
			if (n != fd)
				close(n);
		}
	return 0;
}

/* The next newline-terminated field of the input (NUL ends it too), or
 * NULL when the input is used up. */
static char *field(struct fz *f)
{
	if (!f->left)
		return NULL;
	size_t n = 0;
	while (n < f->left && f->p[n] != '\n' && f->p[n] != 0)
		n++;
	char *s = strndup((const char *)f->p, n);
	size_t used = n < f->left ? n + 1 : n;
	f->p += used;
	f->left -= used;
	if (!s)
		abort();
	return s;
}

/* NAME=value in buf, put into the environment as it is (setenv would
 * copy it, and glibc never frees what setenv copied). */
static void set(char *buf, size_t n, const char *name, const char *v)
{
	if (!v) {
		unsetenv(name);
		return;
	}
	snprintf(buf, n, "%s=%s", name, v);
	putenv(buf);
}

static void check(int r, char **names, const char *given)
{
	if (r <= 0) {
		if (names || (r && r != -EINVAL && r != -EBADF &&
			      r != -ENOMEM))
			abort();
		return;
	}
	size_t at = 0;
	for (int i = 0; i < r; i++) {
		size_t len = strlen(names[i]);
		if (strchr(names[i], ':'))
			abort();
		if (!given) {
			if (strcmp(names[i], "unknown"))
				abort();
			continue;
		}
		if (strncmp(given + at, names[i], len) ||
		    given[at + len] != (i + 1 < r ? ':' : 0))
			abort();
		at += len + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	char *pid = field(&f), *fds = field(&f), *nm = field(&f);
	static char pid_var[4200], fds_var[4200], nm_var[4200];
	char self[32], **names;

	if (pid && !strcmp(pid, "self")) {
		snprintf(self, sizeof(self), "%d", (int)getpid());
		set(pid_var, sizeof(pid_var), "LISTEN_PID", self);
	} else {
		set(pid_var, sizeof(pid_var), "LISTEN_PID", pid);
	}
	set(fds_var, sizeof(fds_var), "LISTEN_FDS", fds);
	set(nm_var, sizeof(nm_var), "LISTEN_FDNAMES", nm);
	int r = vhostd_listen_fds(&names);
	check(r, names, nm);
	if (getenv("LISTEN_PID") || getenv("LISTEN_FDS") ||
	    getenv("LISTEN_FDNAMES"))
		abort();
	for (int i = 0; i < r; i++)
		free(names[i]);
	free(names);
	free(pid);
	free(fds);
	free(nm);
	return 0;
}
