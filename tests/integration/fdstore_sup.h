/* SPDX-License-Identifier: MIT */
/*
 * fdstore_sup.h: a service manager's file-descriptor store, as systemd
 * documents it (sd_notify(3), sd_pid_notify_with_fds(3), sd_listen_fds(3)),
 * for tests: a datagram socket at NOTIFY_SOCKET takes "FDSTORE=1" with
 * "FDNAME=" and the fds in SCM_RIGHTS (an fd for an open file the store
 * already holds is dropped, as systemd's same_fd() check does), and
 * "FDSTOREREMOVE=1" removes every fd of that name; the next process gets
 * them all from fd 3 with LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES.
 * FDSTORE is set as systemd 254 sets it (FileDescriptorStoreMax=512).
 * SUP_NICE in the environment is the unit's Nice=: the process starts at
 * that niceness, as systemd starts it.
 */
#ifndef VHOSTD_FDSTORE_SUP_H
#define VHOSTD_FDSTORE_SUP_H

#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#define SUP_MAX 1024

struct sup {
	int sock;
	char path[108];
	struct { char name[256]; int fd; } e[SUP_MAX];
	int n;
	unsigned stored, removed, deduped;
};

static inline int sup_init(struct sup *s, const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};

	memset(s, 0, sizeof(*s));
	if (strlen(path) >= sizeof(s->path))
		return -ENAMETOOLONG;
	memcpy(s->path, path, strlen(path) + 1);
	memcpy(a.sun_path, path, strlen(path) + 1);
	s->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
			 0);
	if (s->sock < 0 || bind(s->sock, (struct sockaddr *)&a, sizeof(a)))
		return -errno;
	return 0;
}

static inline bool sup_same(int a, int b)
{
	return syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, a, b) == 0;
}

static inline void sup_add(struct sup *s, const char *name, int fd)
{
	for (int i = 0; i < s->n; i++)
		if (sup_same(s->e[i].fd, fd)) {
			close(fd);
			s->deduped++;
			return;
		}
	if (s->n == SUP_MAX) {
		close(fd);
		return;
	}
	snprintf(s->e[s->n].name, sizeof(s->e[0].name), "%s", name);
	s->e[s->n++].fd = fd;
	s->stored++;
}

static inline void sup_remove(struct sup *s, const char *name)
{
	int k = 0;

	for (int i = 0; i < s->n; i++) {
		if (strcmp(s->e[i].name, name)) {
			s->e[k++] = s->e[i];
			continue;
		}
		close(s->e[i].fd);
		s->removed++;
	}
	s->n = k;
}

/* Take every queued message. */
static inline void sup_drain(struct sup *s)
{
	char buf[4096];
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * 64)];
	} c;

	for (;;) {
		struct iovec iov = {buf, sizeof(buf) - 1};
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1,
				   .msg_control = c.b,
				   .msg_controllen = sizeof(c.b)};
		ssize_t r = recvmsg(s->sock, &m, MSG_CMSG_CLOEXEC);
		if (r < 0)
			return;
		buf[r] = 0;
		int fds[64], nfds = 0;
		for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h;
		     h = CMSG_NXTHDR(&m, h))
			if (h->cmsg_level == SOL_SOCKET &&
			    h->cmsg_type == SCM_RIGHTS) {
				nfds = (int)((h->cmsg_len - CMSG_LEN(0)) /
					     sizeof(int));
				memcpy(fds, CMSG_DATA(h), nfds * sizeof(int));
			}
		char name[256] = "stored";
		bool store = false, remove = false;
		for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
			if (!strcmp(l, "FDSTORE=1"))
				store = true;
			else if (!strcmp(l, "FDSTOREREMOVE=1"))
				remove = true;
			else if (!strncmp(l, "FDNAME=", 7))
				snprintf(name, sizeof(name), "%s", l + 7);
		}
		for (int i = 0; i < nfds; i++) {
			if (store)
				sup_add(s, name, fds[i]);
			else
				close(fds[i]);
		}
		if (remove)
			sup_remove(s, name);
	}
}

/* An fd that polls readable when pid exits (pidfd_open(2)), or -1: a
 * service manager hears of its child's exit at once (SIGCHLD), so does a
 * test that polls this instead of waking every millisecond. */
static inline int sup_pidfd(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Start bin with the stored fds from fd 3 (none: a first start); stderr
 * to logpath (appended).  The child's pid, or -errno. */
static inline pid_t sup_spawn(struct sup *s, const char *bin,
			      const char *logpath, char *const *args)
{
	char *argv[32];
	int n = 0;

	argv[n++] = (char *)bin;
	while (args[n - 1] && n < 31) {
		argv[n] = args[n - 1];
		n++;
	}
	argv[n] = NULL;
	pid_t pid = fork();
	if (pid != 0)
		return pid < 0 ? -errno : pid;
	FILE *f = freopen(logpath, "a", stderr);
	(void)f;
	const char *nice = getenv("SUP_NICE");
	if (nice && setpriority(PRIO_PROCESS, 0, atoi(nice)) < 0)
		fprintf(stderr, "supervisor: Nice=%s: %s\n", nice,
			strerror(errno));
	/* Out of the way first, then in place from 3 (no overlap). */
	int hi[SUP_MAX];
	for (int i = 0; i < s->n; i++)
		hi[i] = fcntl(s->e[i].fd, F_DUPFD, 3 + s->n);
	static char names[SUP_MAX * 257];
	names[0] = 0;
	for (int i = 0; i < s->n; i++) {
		if (dup2(hi[i], 3 + i) < 0)
			_exit(126);
		close(hi[i]);
		strcat(names, i ? ":" : "");
		strcat(names, s->e[i].name);
	}
	char v[32];
	setenv("NOTIFY_SOCKET", s->path, 1);
	setenv("FDSTORE", "512", 1);   /* FileDescriptorStoreMax=512 */
	if (s->n) {
		snprintf(v, sizeof(v), "%d", (int)getpid());
		setenv("LISTEN_PID", v, 1);
		snprintf(v, sizeof(v), "%d", s->n);
		setenv("LISTEN_FDS", v, 1);
		setenv("LISTEN_FDNAMES", names, 1);
	}
	execv(bin, argv);
	_exit(127);
}

#endif
