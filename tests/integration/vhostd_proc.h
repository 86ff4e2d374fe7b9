/* SPDX-License-Identifier: MIT */
/*
 * vhostd_proc.h: start and stop a real vhostd for integration tests.
 * The binary comes from argv[1] (meson passes the built one); its log goes
 * to a file the tests grep for the one line each refusal must produce.
 */
#ifndef VHOSTD_TEST_PROC_H
#define VHOSTD_TEST_PROC_H

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct vhostd_proc {
	pid_t pid;
	char log[256];
};

static inline void msleep(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* argv: NULL-terminated vhostd arguments (without argv[0]). */
static inline int vhostd_start(struct vhostd_proc *p, const char *bin,
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
	snprintf(p->log, sizeof(p->log), "%s", logpath);
	p->pid = fork();
	if (p->pid < 0)
		return -errno;
	if (p->pid == 0) {
		FILE *f = freopen(logpath, "w", stderr);
		(void)f;
		execv(bin, argv);
		_exit(127);
	}
	return 0;
}

static inline bool wait_path(const char *path, int ms)
{
	struct stat st;

	for (int i = 0; i < ms / 10; i++) {
		if (stat(path, &st) == 0)
			return true;
		msleep(10);
	}
	return false;
}

/* SIGTERM and wait; returns the exit status or -1. */
static inline int vhostd_stop(struct vhostd_proc *p)
{
	int st;

	if (p->pid <= 0)
		return -1;
	kill(p->pid, SIGTERM);
	if (waitpid(p->pid, &st, 0) < 0)
		return -1;
	p->pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static inline bool vhostd_alive(const struct vhostd_proc *p)
{
	return p->pid > 0 && waitpid(p->pid, NULL, WNOHANG) == 0;
}

static inline int count_fds(pid_t pid)
{
	char path[64];
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d));)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* True when the log holds a line containing every given fragment. */
static inline bool log_has(const char *logpath, const char *a, const char *b)
{
	char line[1024];
	bool found = false;
	FILE *f = fopen(logpath, "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, a) && (!b || strstr(line, b));
	fclose(f);
	return found;
}

#endif
