/* SPDX-License-Identifier: MIT */
/*
 * vhostctl: send one command to vhostd's control socket (--control PATH)
 * and print the reply.  Exit status: 0, 1 when the reply is an error, 2
 * when vhostd cannot be reached.
 *   vhostctl PATH stats
 *   vhostctl PATH placement
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char buf[4096];
	int fd, err = 0, first = 1;

	if (argc != 3 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: vhostctl CONTROL_SOCKET COMMAND\n"
			"commands: stats, placement, version, help\n");
		return 2;
	}
	strcpy(sa.sun_path, argv[1]);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "vhostctl: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	if (dprintf(fd, "%s\n", argv[2]) < 0) {
		fprintf(stderr, "vhostctl: send: %s\n", strerror(errno));
		return 2;
	}
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (first && n >= 6 && memcmp(buf, "error:", 6) == 0)
			err = 1;
		first = 0;
		fwrite(buf, 1, (size_t)n, stdout);
	}
	close(fd);
	return err;
}
