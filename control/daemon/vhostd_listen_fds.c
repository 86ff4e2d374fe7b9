/* SPDX-License-Identifier: MIT */
#include "vhostd_listen_fds.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A whole decimal number in [0, max]: digits only (no sign, no space). */
static int parse_count(const char *s, long max, long *out)
{
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static void free_names(char **names, long n)
{
	for (long i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

/* LISTEN_FDNAMES (NULL: unset) split at ':' into exactly n names. */
static int split_names(const char *s, long n, char ***out)
{
	long count = 1;

	for (const char *c = s; s && *c; c++)
		count += *c == ':';
	if (s && count != n)
		return -EINVAL;

	char **names = calloc((size_t)n, sizeof(*names));
	const char *p = s;

	for (long k = 0; names && k < n; k++) {
		size_t len = p ? strcspn(p, ":") : 0;
		names[k] = p ? strndup(p, len) : strdup("unknown");
		if (!names[k]) {
			free_names(names, k);
			return -ENOMEM;
		}
		p = p ? p + len + 1 : NULL;   /* past the ':' (not read after
					       * the last name) */
	}
	if (!names)
		return -ENOMEM;
	*out = names;
	return 0;
}

static int take(char ***names)
{
	const char *pid = getenv("LISTEN_PID");
	long v, n;

	if (!pid)
		return 0;
	if (parse_count(pid, INT_MAX, &v) < 0)
		return -EINVAL;
	if (v != getpid())
		return 0;           /* meant for another process */
	const char *fds = getenv("LISTEN_FDS");
	if (!fds)
		return 0;
	if (parse_count(fds, INT_MAX - VHOSTD_LISTEN_FDS_START, &n) < 0)
		return -EINVAL;
	/* Every one open (before anything is allocated for n of them). */
	for (long i = 0; i < n; i++)
		if (fcntl(VHOSTD_LISTEN_FDS_START + (int)i, F_SETFD,
			  FD_CLOEXEC) < 0)
			return -errno;
	if (n == 0)
		return 0;
	int err = split_names(getenv("LISTEN_FDNAMES"), n, names);
	return err ? err : (int)n;
}

int vhostd_listen_fds(char ***names)
{
	*names = NULL;

	int r = take(names);

	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return r;
}
