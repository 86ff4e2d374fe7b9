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
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
	unsigned ready;            /* READY=1 messages */
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
			else if (!strcmp(l, "READY=1"))
				s->ready++;
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

/* What sup_spawn's child needs, all prepared by the parent: the child
 * shares the parent's memory until it execs (CLONE_VM | CLONE_VFORK, as
 * posix_spawn(3) does), so it only makes system calls and writes nothing
 * but pid_at and nice_err. */
struct sup_child {
	const char *bin, *log;
	char **argv, **envp;
	char *pid_at;        /* LISTEN_PID's digits go here, or NULL */
	const int *hi;       /* the stored fds, at 3 + n and up */
	int n, nice, nice_err;
	bool set_nice;
	sigset_t mask;       /* the parent's, the child's again at exec */
};

static inline int sup_child_main(void *p)
{
	struct sup_child *c = p;
	struct sigaction dfl = {.sa_handler = SIG_DFL}, old;

	/* A handler is the parent's code on the parent's memory. */
	for (int sig = 1; sig < NSIG; sig++)
		if (sigaction(sig, NULL, &old) == 0 &&
		    old.sa_handler != SIG_IGN && old.sa_handler != SIG_DFL)
			(void)sigaction(sig, &dfl, NULL);
	if (c->set_nice && setpriority(PRIO_PROCESS, 0, c->nice) < 0)
		c->nice_err = errno;
	int fd = open(c->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd >= 0 && fd != 2) {
		(void)dup2(fd, 2);
		close(fd);
	}
	/* In place from 3 (the copies are above 3 + n: no overlap); dup2
	 * clears close-on-exec on the new fd only. */
	for (int i = 0; i < c->n; i++)
		if (dup2(c->hi[i], 3 + i) < 0)
			_exit(126);
	if (c->pid_at) {
		char t[24];
		int k = 0;
		for (long v = getpid(); k == 0 || v; v /= 10)
			t[k++] = (char)('0' + v % 10);
		while (k)
			*c->pid_at++ = t[--k];
		*c->pid_at = 0;
	}
	(void)sigprocmask(SIG_SETMASK, &c->mask, NULL);
	execve(c->bin, c->argv, c->envp);
	_exit(127);
}

/* The child's environment: ours without what the store sets, then the
 * store's entries (vars, NULL-terminated).  malloc'd, NULL if out of
 * memory. */
static inline char **sup_env(char *const *vars)
{
	static const char *const drop[] = {"NOTIFY_SOCKET=", "FDSTORE=",
		"LISTEN_PID=", "LISTEN_FDS=", "LISTEN_FDNAMES="};
	size_t n = 0, k = 0, nv = 0;

	while (environ[n])
		n++;
	while (vars[nv])
		nv++;
	char **env = malloc((n + nv + 1) * sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		bool keep = true;
		for (size_t d = 0; d < sizeof(drop) / sizeof(drop[0]); d++)
			keep &= strncmp(environ[i], drop[d], strlen(drop[d])) != 0;
		if (keep)
			env[k++] = environ[i];
	}
	for (size_t i = 0; i < nv; i++)
		env[k++] = vars[i];
	env[k] = NULL;
	return env;
}

/* Start bin with the stored fds from fd 3 (none: a first start); stderr
 * to logpath (appended).  The child's pid, or -errno.  Without fork(): a
 * fork copies this process's page tables and both sides then fault on
 * every page they write, about 2 ms on a virtualised host, on the path
 * of every restart the tests time (systemd 255 and later also start a
 * service through a vfork()-style clone). */
static inline pid_t sup_spawn(struct sup *s, const char *bin,
			      const char *logpath, char *const *args)
{
	static char names[SUP_MAX * 257], notify[128], pidvar[32], nvar[32];
	static char fdnames[sizeof(names) + 16];
	static char *stack;
	enum { STACK = 64 << 10 };
	char *argv[32];
	int n = 0, hi[SUP_MAX];

	argv[n++] = (char *)bin;
	while (args[n - 1] && n < 31) {
		argv[n] = args[n - 1];
		n++;
	}
	argv[n] = NULL;
	if (!stack) {
		stack = mmap(NULL, STACK, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (stack == MAP_FAILED) {
			stack = NULL;
			return -ENOMEM;
		}
	}
	names[0] = 0;
	for (int i = 0; i < s->n; i++) {
		hi[i] = fcntl(s->e[i].fd, F_DUPFD_CLOEXEC, 3 + s->n);
		strcat(names, i ? ":" : "");
		strcat(names, s->e[i].name);
	}
	snprintf(notify, sizeof(notify), "NOTIFY_SOCKET=%s", s->path);
	snprintf(nvar, sizeof(nvar), "LISTEN_FDS=%d", s->n);
	snprintf(fdnames, sizeof(fdnames), "LISTEN_FDNAMES=%s", names);
	strcpy(pidvar, "LISTEN_PID=");
	char *vars[6] = {notify, "FDSTORE=512"};  /* FileDescriptorStoreMax */
	if (s->n) {                               /* not on a first start */
		vars[2] = pidvar;
		vars[3] = nvar;
		vars[4] = fdnames;
	}
	char **env = sup_env(vars);
	const char *nice = getenv("SUP_NICE");
	struct sup_child c = {.bin = bin, .log = logpath, .argv = argv,
			      .envp = env, .hi = hi, .n = s->n,
			      .pid_at = s->n ? pidvar + strlen(pidvar) : NULL,
			      .set_nice = nice != NULL,
			      .nice = nice ? atoi(nice) : 0};
	sigset_t all;
	pid_t pid = -1;
	int err = ENOMEM;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &c.mask);
	if (env) {
		pid = clone(sup_child_main, stack + STACK,
			    CLONE_VM | CLONE_VFORK | SIGCHLD, &c);
		err = errno;
	}
	pthread_sigmask(SIG_SETMASK, &c.mask, NULL);
	for (int i = 0; i < s->n; i++)
		close(hi[i]);
	free(env);
	if (pid < 0)
		return -err;
	if (c.nice_err)
		fprintf(stderr, "supervisor: Nice=%s: %s\n", nice,
			strerror(c.nice_err));
	return pid;
}

#endif
