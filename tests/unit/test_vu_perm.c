/* SPDX-License-Identifier: MIT */
/*
 * test_vu_perm.c: socket modes and groups (control/wire/vu_perm.h): what
 * --socket-mode and --socket-group accept and refuse, the directory mode
 * derived from a socket mode, directories created and removed, and a
 * listening socket that has its mode before anyone can connect.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control/wire/vu_perm.h"
#include "control/wire/vu_sock.h"

static void test_mode_octal_accepted(void **state)
{
	mode_t m;

	(void)state;
	assert_int_equal(vu_perm_parse_mode("0660", &m), 0);
	assert_int_equal(m, 0660);
	assert_int_equal(vu_perm_parse_mode("600", &m), 0);
	assert_int_equal(m, 0600);
	assert_int_equal(vu_perm_parse_mode("0777", &m), 0);
	assert_int_equal(m, 0777);
	assert_int_equal(vu_perm_parse_mode("000", &m), 0);
	assert_int_equal(m, 0);
}

static void test_bad_mode_refused(void **state)
{
	static const char *const bad[] = {
		"", "6", "66", "rw-rw----", "0800", "0668", "1777", "4660",
		"07777", "00660", "-660", "+660", " 660", "660 ", "0x1b0",
		"u+rw", "0660x",
	};
	mode_t m = 0123;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (vu_perm_parse_mode(bad[i], &m) != -EINVAL)
			fail_msg("mode '%s' accepted", bad[i]);
		assert_int_equal(m, 0123);
	}
}

static void test_group_by_name_and_number(void **state)
{
	struct group *g = getgrgid(getgid());
	gid_t gid = 4711;

	(void)state;
	assert_non_null(g);
	assert_int_equal(vu_perm_parse_group(g->gr_name, &gid), 0);
	assert_int_equal(gid, getgid());
	assert_int_equal(vu_perm_parse_group("107", &gid), 0);
	assert_int_equal(gid, 107);
}

static void test_bad_group_refused(void **state)
{
	char longname[300];
	gid_t gid = 4711;

	(void)state;
	assert_int_equal(vu_perm_parse_group("no-such-group-vhostd", &gid),
			 -ENOENT);
	assert_int_equal(vu_perm_parse_group("", &gid), -EINVAL);
	assert_int_equal(vu_perm_parse_group("4294967295", &gid), -EINVAL);
	assert_int_equal(vu_perm_parse_group("99999999999", &gid), -EINVAL);
	memset(longname, 'g', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(vu_perm_parse_group(longname, &gid), -EINVAL);
	assert_int_equal(gid, 4711);
}

static void test_dir_mode_lets_socket_classes_through(void **state)
{
	(void)state;
	assert_int_equal(vu_perm_dir_mode(0600), 0700);
	assert_int_equal(vu_perm_dir_mode(0660), 0750);
	assert_int_equal(vu_perm_dir_mode(0620), 0750);
	assert_int_equal(vu_perm_dir_mode(0666), 0755);
	assert_int_equal(vu_perm_dir_mode(0606), 0705);
}

static char base[64];

static int setup_dir(void **state)
{
	(void)state;
	snprintf(base, sizeof(base), "/tmp/vhostd-perm.XXXXXX");
	return mkdtemp(base) ? 0 : -1;
}

static int teardown_dir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	return system(cmd) == 0 ? 0 : -1;
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	return st.st_mode & 07777;
}

static void test_missing_dirs_created_and_removed(void **state)
{
	struct vu_sock_perm p = {0660, getgid()};
	char sock[128], d1[96], d2[96];

	(void)state;
	snprintf(d1, sizeof(d1), "%s/a", base);
	snprintf(d2, sizeof(d2), "%s/a/b", base);
	snprintf(sock, sizeof(sock), "%s/a/b/s.sock", base);
	assert_int_equal(vu_perm_mkdirs(sock, &p), 0);
	assert_int_equal(mode_of(d1), 0750);
	assert_int_equal(mode_of(d2), 0750);
	int fd = vu_sock_listen_perm(sock, &p);
	assert_true(fd >= 0);
	assert_int_equal(mode_of(sock), 0660);
	/* A directory still holding a socket stays. */
	vu_perm_rmdirs();
	assert_int_equal(mode_of(d2), 0750);
	close(fd);
	unlink(sock);
	/* Empty now, but forgotten: vu_perm removes what it made, once. */
	vu_perm_rmdirs();
	assert_int_equal(access(d2, F_OK), 0);
	assert_int_equal(rmdir(d2), 0);
	assert_int_equal(vu_perm_mkdirs(sock, &p), 0);  /* d2 only */
	vu_perm_rmdirs();
	assert_int_equal(access(d2, F_OK), -1);
	assert_int_equal(access(d1, F_OK), 0);
}

static void test_existing_dir_left_alone(void **state)
{
	struct vu_sock_perm p = {0600, VU_PERM_GID_KEEP};
	char sock[128];

	(void)state;
	assert_int_equal(chmod(base, 0711), 0);
	snprintf(sock, sizeof(sock), "%s/s.sock", base);
	assert_int_equal(vu_perm_mkdirs(sock, &p), 0);
	assert_int_equal(mode_of(base), 0711);
	vu_perm_rmdirs();
	assert_int_equal(access(base, F_OK), 0);
}

static void test_file_in_the_way_refused(void **state)
{
	struct vu_sock_perm p = {0660, VU_PERM_GID_KEEP};
	char file[96], sock[128];

	(void)state;
	snprintf(file, sizeof(file), "%s/f", base);
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	snprintf(sock, sizeof(sock), "%s/f/s.sock", base);
	assert_int_equal(vu_perm_mkdirs(sock, &p), -ENOTDIR);
	snprintf(sock, sizeof(sock), "%s/f/x/s.sock", base);
	assert_int_equal(vu_perm_mkdirs(sock, &p), -ENOTDIR);
}

/* The mode is set between bind and listen: any mode, exactly. */
static void test_listen_sets_mode_exactly(void **state)
{
	static const mode_t modes[] = {0600, 0660, 0666, 0640, 0};
	char sock[128];

	(void)state;
	snprintf(sock, sizeof(sock), "%s/m.sock", base);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct vu_sock_perm p = {modes[i], getgid()};
		int fd = vu_sock_listen_perm(sock, &p);
		assert_true(fd >= 0);
		assert_int_equal(mode_of(sock), modes[i]);
		close(fd);
		unlink(sock);
	}
}

/* vu_perm_apply never follows a link to somebody else's file. */
static void test_apply_refuses_non_socket(void **state)
{
	struct vu_sock_perm p = {0666, VU_PERM_GID_KEEP};
	char file[96], link[96];

	(void)state;
	snprintf(file, sizeof(file), "%s/victim", base);
	snprintf(link, sizeof(link), "%s/link.sock", base);
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(chmod(file, 0600), 0);
	assert_int_equal(symlink(file, link), 0);
	assert_int_equal(vu_perm_apply(link, &p), -ENOTSOCK);
	assert_int_equal(vu_perm_apply(file, &p), -ENOTSOCK);
	assert_int_equal(mode_of(file), 0600);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mode_octal_accepted),
		cmocka_unit_test(test_bad_mode_refused),
		cmocka_unit_test(test_group_by_name_and_number),
		cmocka_unit_test(test_bad_group_refused),
		cmocka_unit_test(test_dir_mode_lets_socket_classes_through),
		cmocka_unit_test_setup_teardown(
			test_missing_dirs_created_and_removed, setup_dir,
			teardown_dir),
		cmocka_unit_test_setup_teardown(test_existing_dir_left_alone,
						setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_file_in_the_way_refused,
						setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_listen_sets_mode_exactly,
						setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_apply_refuses_non_socket,
						setup_dir, teardown_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
