/* SPDX-License-Identifier: MIT */
/*
 * vu_perm.h: who may connect to a unix socket vhostd creates.
 *
 * A socket file's mode and group decide which users may connect (connect(2)
 * needs write permission on it).  vhostd gives every socket it creates an
 * explicit mode and, when asked, a group, so that a VMM running as another
 * user (libvirt's qemu user, in group kvm) can reach it.  Directories on the
 * way to a socket that do not exist are created with the same group and a
 * mode that lets exactly the classes with access to the socket through.
 */
#ifndef VHOSTD_VU_PERM_H
#define VHOSTD_VU_PERM_H

#include <sys/types.h>

#define VU_PERM_GID_KEEP ((gid_t)-1)

struct vu_sock_perm {
	mode_t mode;   /* the socket file's mode, 0..0777 */
	gid_t gid;     /* its group; VU_PERM_GID_KEEP: vhostd's own */
};

/* "660", "0660": three or four octal digits, at most 0777 (set-id and
 * sticky bits mean nothing on a socket).  0 or -EINVAL. */
int vu_perm_parse_mode(const char *s, mode_t *out);

/* A group name from the group database, or a number.  0, -ENOENT (no such
 * group) or -EINVAL (empty, too long). */
int vu_perm_parse_group(const char *s, gid_t *out);

/* The directory mode for a socket mode: the owner rwx; group and others
 * r-x when the socket gives them anything, else nothing. */
mode_t vu_perm_dir_mode(mode_t sock_mode);

/* Create the missing directories above path (each with vu_perm_dir_mode
 * and the group), remembered for vu_perm_rmdirs().  0 or -errno. */
int vu_perm_mkdirs(const char *path, const struct vu_sock_perm *p);

/* Give the socket file at path its group and mode (never following a
 * symbolic link).  0 or -errno. */
int vu_perm_apply(const char *path, const struct vu_sock_perm *p);

/* Remove the directories vu_perm_mkdirs() created, deepest first, those
 * that are empty (a socket of another process keeps its directory). */
void vu_perm_rmdirs(void);

#endif
