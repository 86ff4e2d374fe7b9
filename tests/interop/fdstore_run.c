/* SPDX-License-Identifier: MIT */
/*
 * fdstore_run: run a program the way systemd runs a service with an fd
 * store (fdstore_sup.h), for shell tests: start it, keep what it stores,
 * and whenever it dies (whoever killed it) start it again at once with
 * the stored fds.  The running child's pid is written to PIDFILE (a new
 * file each time, renamed into place).  SIGTERM to fdstore_run: SIGTERM
 * to the child, wait, exit 0.
 *
 *   fdstore_run NOTIFY_SOCKET_PATH PIDFILE LOGPREFIX PROGRAM [ARGS...]
 *
 * The child's stderr goes to LOGPREFIX.N.log, N = 1, 2, ...
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>

#include "../integration/fdstore_sup.h"

static struct sup sup;
static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static pid_t start(const char *pidfile, const char *logprefix, char **argv,
		   int n)
{
	char log[512], tmp[512];
	pid_t pid;

	snprintf(log, sizeof(log), "%s.%d.log", logprefix, n);
	pid = sup_spawn(&sup, argv[0], log, argv + 1);
	if (pid < 0)
		return pid;
	snprintf(tmp, sizeof(tmp), "%s.tmp", pidfile);
	FILE *f = fopen(tmp, "w");
	if (!f || fprintf(f, "%d\n", (int)pid) < 0 || fclose(f) ||
	    rename(tmp, pidfile))
		return -EIO;
	return pid;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: fdstore_run NOTIFY_SOCKET_PATH PIDFILE "
			"LOGPREFIX PROGRAM [ARGS...]\n");
		return 2;
	}
	if (sup_init(&sup, argv[1]) < 0) {
		perror("fdstore_run: notify socket");
		return 1;
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	int n = 1;
	pid_t pid = start(argv[2], argv[3], argv + 4, n);
	if (pid < 0)
		return 1;
	int pfd = sup_pidfd(pid);
	while (!stop) {
		struct pollfd p[2] = {{.fd = sup.sock, .events = POLLIN},
				      {.fd = pfd, .events = POLLIN}};
		int st;
		/* The pidfd says when the child ends (a kernel without
		 * pidfds: look every millisecond). */
		(void)poll(p, 2, pfd >= 0 ? -1 : 1);
		sup_drain(&sup);
		if (waitpid(pid, &st, WNOHANG) != pid)
			continue;
		if (pfd >= 0)
			close(pfd);
		sup_drain(&sup);   /* what it sent before it died */
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		fprintf(stderr, "fdstore_run: child %d ended (status 0x%x), "
			"%d fds stored: starting it again at_us=%lld\n",
			(int)pid, st, sup.n,
			(long long)now.tv_sec * 1000000 + now.tv_nsec / 1000);
		pid = start(argv[2], argv[3], argv + 4, ++n);
		if (pid < 0)
			return 1;
		pfd = sup_pidfd(pid);
	}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return 0;
}
