/* SPDX-License-Identifier: MIT */
/*
 * vu_sigbus.h: surviving a front-end that shrinks the file behind a mapping.
 *
 * vhostd maps the files a front-end sends (guest regions, the dirty log)
 * MAP_SHARED.  The front-end keeps its own fd and may truncate the file
 * afterwards; every later access to a page beyond the new end raises
 * SIGBUS in whichever thread makes it (a worker copying a frame, the
 * control thread reading a ring index), and by default that kills vhostd
 * and every guest's network with it.  The same happens when a hugetlbfs
 * page cannot be allocated on first touch.
 *
 * One process-wide SIGBUS handler (vu_sigbus_install, at daemon start)
 * consults a registry of the mappings that can fail this way.  On a fault
 * inside one it maps anonymous zero pages over that whole mapping
 * (MAP_FIXED: the mapping keeps its address and length, so whoever holds
 * pointers into it reads zeros and writes into private memory from then
 * on), records the faulting address in the mapping's owner, wakes the
 * control thread through an eventfd and returns: the faulting instruction
 * runs again, against the zeros.  The control thread then fails that
 * device (vu_port.h); no worker ever blocks or takes a lock for it.  A
 * fault anywhere else is a real bug: the handler puts back the action that
 * was there before (the default: a core dump; or a sanitizer's report)
 * and returns, so the same instruction faults again and the process dies
 * as it would have.
 *
 * The registry is a fixed array sized at install time; the control thread
 * alone adds and removes entries (publishing them with atomics), the
 * handler reads it lock-free from any thread.  vu_sigbus_del() returns
 * only once no handler can still be working on the entry, so the caller
 * may munmap() right after it, and must not before it (the address range
 * could be reused by another mapping that the handler would then cover
 * with zeros).
 */
#ifndef VHOSTD_VU_SIGBUS_H
#define VHOSTD_VU_SIGBUS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Whoever owns registered mappings (a device): the handler stores the
 * first faulting address here; 0 while nothing was lost. */
struct vu_sigbus_owner {
	_Atomic uintptr_t lost_addr;
};

/*
 * Install the handler, with room for capacity mappings at the same time.
 * Once installed, a later call only puts the handler back if something
 * replaced it (a test framework's handler; that one then becomes the
 * action a fault outside the registry gets) and ignores capacity.  0,
 * -ENOMEM, -EPERM (a sanitizer keeps its own handler), or the errno of
 * eventfd()/sigaction().
 */
int vu_sigbus_install(uint32_t capacity);

/* The eventfd the handler writes to (readable after a caught fault), or -1
 * before vu_sigbus_install().  Drain it with vu_sigbus_drain(). */
int vu_sigbus_eventfd(void);
void vu_sigbus_drain(void);

/*
 * Register [base, base + len) for owner (control thread).  Returns the
 * entry (>= 0) to give to vu_sigbus_del(), -ENOSYS when the handler is not
 * installed (the caller maps unguarded, as a library user without the
 * daemon does), or -ENOSPC when the registry is full.
 */
int vu_sigbus_add(void *base, size_t len, struct vu_sigbus_owner *owner);

/* Unregister entry id (>= 0; a negative id is ignored).  Call it before
 * munmap() of the mapping. */
void vu_sigbus_del(int id);

/* The faulting address recorded for owner since the last call (0: none);
 * clears it.  Control thread. */
uintptr_t vu_sigbus_take(struct vu_sigbus_owner *owner);

/* Mappings registered now (tests). */
uint32_t vu_sigbus_count(void);

#endif
