/* SPDX-License-Identifier: MIT */
#include "vu_sock.h"
#include "vu_perm.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int fill_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

/* Is somebody listening on the socket file at path? */
static int path_in_use(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	int r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	int e = errno;
	close(fd);
	return r == 0 ? 1 : (e == ECONNREFUSED ? 0 : -e);
}

int vu_sock_listen(const char *path)
{
	return vu_sock_listen_perm(path, NULL);
}

int vu_sock_listen_perm(const char *path, const struct vu_sock_perm *perm)
{
	struct sockaddr_un sa;
	struct stat st;
	int err = fill_addr(&sa, path);

	if (err)
		return err;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		int used = path_in_use(&sa);
		if (used > 0)
			return -EADDRINUSE;
		unlink(path); /* stale socket of a dead process */
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	/* Between bind and listen a connect is refused: nobody gets in
	 * before the socket has its mode and group. */
	err = perm ? vu_perm_apply(path, perm) : 0;
	if (!err && listen(fd, 4) < 0)
		err = -errno;
	if (err) {
		unlink(path);
		close(fd);
		return err;
	}
	return fd;
}

int vu_sock_connect(const char *path)
{
	struct sockaddr_un sa;
	int err = fill_addr(&sa, path);

	if (err)
		return err;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A unix connect completes at once or fails; a full backlog
	 * (EAGAIN) is reported as a failure to retry later. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int vu_sock_accept(int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	return fd < 0 ? -errno : fd;
}
