/* SPDX-License-Identifier: MIT */
#include "vu_perm.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Directories created for sockets, in creation order (control thread). */
#define MAX_DIRS 64
static char *made_dirs[MAX_DIRS];
static int nmade;

int vu_perm_parse_mode(const char *s, mode_t *out)
{
	size_t n = strlen(s);
	char *end;

	if ((n != 3 && n != 4) || strspn(s, "01234567") != n)
		return -EINVAL;
	unsigned long v = strtoul(s, &end, 8);
	if (*end || v > 0777)
		return -EINVAL;
	*out = (mode_t)v;
	return 0;
}

int vu_perm_parse_group(const char *s, gid_t *out)
{
	char buf[4096];
	struct group gr, *res = NULL;
	size_t n = strlen(s);

	if (n == 0 || n > 256)
		return -EINVAL;
	if (strspn(s, "0123456789") == n) {
		char *end;
		unsigned long v = strtoul(s, &end, 10);
		if (*end || n > 10 || v >= (unsigned long)VU_PERM_GID_KEEP)
			return -EINVAL;
		*out = (gid_t)v;
		return 0;
	}
	int err = getgrnam_r(s, &gr, buf, sizeof(buf), &res);
	if (err)
		return -err;
	if (!res)
		return -ENOENT;
	*out = res->gr_gid;
	return 0;
}

mode_t vu_perm_dir_mode(mode_t sock_mode)
{
	mode_t m = 0700;

	if (sock_mode & 0070)
		m |= 0050;
	if (sock_mode & 0007)
		m |= 0005;
	return m;
}

static int make_dir(const char *dir, const struct vu_sock_perm *p)
{
	if (nmade >= MAX_DIRS)
		return -ENOSPC;
	if (mkdir(dir, 0700) < 0)
		return errno == EEXIST ? 0 : -errno;
	made_dirs[nmade] = strdup(dir);
	if (!made_dirs[nmade])
		return -ENOMEM;
	nmade++;
	/* mkdir's mode went through the umask: set it exactly. */
	if (p->gid != VU_PERM_GID_KEEP && chown(dir, (uid_t)-1, p->gid) < 0)
		return -errno;
	if (chmod(dir, vu_perm_dir_mode(p->mode)) < 0)
		return -errno;
	return 0;
}

int vu_perm_mkdirs(const char *path, const struct vu_sock_perm *p)
{
	char dir[4096];
	struct stat st;

	if (strlen(path) >= sizeof(dir))
		return -ENAMETOOLONG;
	strcpy(dir, path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;               /* in the working directory, or in / */
	*slash = '\0';
	if (stat(dir, &st) == 0)
		return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
	/* Each missing component from the top down. */
	for (char *c = dir + 1; ; c++) {
		if (*c != '/' && *c != '\0')
			continue;
		char save = *c;
		*c = '\0';
		int err = make_dir(dir, p);
		*c = save;
		if (err)
			return err;
		if (!save)
			return 0;
	}
}

int vu_perm_apply(const char *path, const struct vu_sock_perm *p)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	if (p->gid != VU_PERM_GID_KEEP &&
	    fchownat(AT_FDCWD, path, (uid_t)-1, p->gid,
		     AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (chmod(path, p->mode) < 0)
		return -errno;
	return 0;
}

void vu_perm_rmdirs(void)
{
	while (nmade > 0) {
		char *d = made_dirs[--nmade];
		rmdir(d);               /* fails, harmlessly, if not empty */
		free(d);
	}
}
