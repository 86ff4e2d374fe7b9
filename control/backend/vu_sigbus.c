/* SPDX-License-Identifier: MIT */
#include "vu_sigbus.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The handler reads these from any thread: they must not need a lock. */
_Static_assert(ATOMIC_POINTER_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
	       "vu_sigbus needs lock-free atomics");

struct entry {
	_Atomic uintptr_t base;                 /* 0: free */
	_Atomic size_t len;
	struct vu_sigbus_owner *_Atomic owner;
};

static struct {
	struct entry *e;
	uint32_t cap;
	_Atomic uint32_t top;      /* entries [0, top) may be in use */
	_Atomic uint32_t busy;     /* handlers that may hold an entry */
	uint32_t used, hint;       /* control thread: in use, first free? */
	int efd;
	struct sigaction prev;     /* what was there before us */
	_Atomic bool installed;
} g = {.efd = -1};

/* The registered mapping holding addr, read once: the entry may be
 * cleared meanwhile (vu_sigbus_del then waits for us before munmap). */
static bool lookup(uintptr_t addr, uintptr_t *base, size_t *len,
		   struct vu_sigbus_owner **owner)
{
	uint32_t top = atomic_load(&g.top);

	for (uint32_t i = 0; i < top; i++) {
		*base = atomic_load(&g.e[i].base);
		*len = atomic_load(&g.e[i].len);
		*owner = atomic_load(&g.e[i].owner);
		if (*base && addr - *base < *len)
			return true;
	}
	return false;
}

/*
 * Anonymous zero pages over [base, base + len), same address.  Raw system
 * calls: no libc or sanitizer wrapper runs in the handler.  A hugetlbfs
 * mapping is a whole number of huge pages, so 4 KiB pages replace it
 * exactly.
 */
static bool zero_over(uintptr_t base, size_t len)
{
	long r = syscall(SYS_mmap, base, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED |
			 MAP_NORESERVE, -1, 0L);

	if (r != (long)base)
		return false;
	(void)syscall(SYS_madvise, base, len, MADV_DONTDUMP);
	return true;
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	int saved_errno = errno;
	/* A page that is not there (beyond the end of the file, a huge page
	 * that could not be had) or poisoned; not a sent signal. */
	bool fault = si->si_code == BUS_ADRERR || si->si_code == BUS_OBJERR ||
		     si->si_code == BUS_MCEERR_AR;
	uintptr_t addr = (uintptr_t)si->si_addr, base;
	struct vu_sigbus_owner *o;
	size_t len;

	(void)uc;
	atomic_fetch_add(&g.busy, 1);
	if (fault && lookup(addr, &base, &len, &o) && zero_over(base, len)) {
		uintptr_t none = 0;
		uint64_t one = 1;
		atomic_compare_exchange_strong(&o->lost_addr, &none, addr);
		(void)syscall(SYS_write, g.efd, &one, sizeof(one));
	} else {
		/* Not ours: as if we had never been here.  A fault happens
		 * again when we return; a sent signal is sent again. */
		sigaction(SIGBUS, &g.prev, NULL);
		if (!fault)
			raise(sig);
	}
	atomic_fetch_sub(&g.busy, 1);
	errno = saved_errno;
}

/* Make on_sigbus the SIGBUS action; what was there goes to g.prev. */
static int arm(void)
{
	struct sigaction sa = {.sa_sigaction = on_sigbus,
			       .sa_flags = SA_SIGINFO | SA_RESTART};
	struct sigaction now;

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &g.prev) < 0)
		return -errno;
	/* A sanitizer may keep its own handler and say nothing (ASan with
	 * allow_user_segv_handler=0): check that ours is the one. */
	if (sigaction(SIGBUS, NULL, &now) < 0 ||
	    !(now.sa_flags & SA_SIGINFO) || now.sa_sigaction != on_sigbus)
		return -EPERM;
	return 0;
}

int vu_sigbus_install(uint32_t capacity)
{
	struct sigaction now;

	if (atomic_load(&g.installed)) {
		bool ours = sigaction(SIGBUS, NULL, &now) == 0 &&
			    (now.sa_flags & SA_SIGINFO) &&
			    now.sa_sigaction == on_sigbus;
		return ours ? 0 : arm();
	}
	g.e = calloc(capacity ? capacity : 1, sizeof(g.e[0]));
	if (!g.e)
		return -ENOMEM;
	g.cap = capacity;
	g.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	int err = g.efd < 0 ? -errno : arm();
	if (err) {
		if (g.efd >= 0)
			close(g.efd);
		g.efd = -1;
		free(g.e);
		g.e = NULL;
		g.cap = 0;
		return err;
	}
	atomic_store(&g.installed, true);
	return 0;
}

int vu_sigbus_eventfd(void)
{
	return g.efd;
}

void vu_sigbus_drain(void)
{
	uint64_t v;

	if (g.efd >= 0)
		(void)!read(g.efd, &v, sizeof(v));
}

int vu_sigbus_add(void *base, size_t len, struct vu_sigbus_owner *owner)
{
	if (!atomic_load(&g.installed))
		return -ENOSYS;
	if (!base || !len || !owner)
		return -EINVAL;
	uint32_t top = atomic_load(&g.top), i = g.hint;

	while (i < top && atomic_load(&g.e[i].base))
		i++;
	if (i == g.cap)
		return -ENOSPC;
	/* base last: the handler trusts len and owner once base is set. */
	atomic_store(&g.e[i].len, len);
	atomic_store(&g.e[i].owner, owner);
	atomic_store(&g.e[i].base, (uintptr_t)base);
	if (i >= top)
		atomic_store(&g.top, i + 1);
	g.hint = i + 1;
	g.used++;
	return (int)i;
}

void vu_sigbus_del(int id)
{
	if (id < 0 || (uint32_t)id >= g.cap || !atomic_load(&g.e[id].base))
		return;
	atomic_store(&g.e[id].base, 0);
	/* A handler that found the entry before it was cleared may still be
	 * mapping over it: the caller unmaps only once it is done.  One that
	 * comes later does not find it.  (Both sides are seq_cst.) */
	while (atomic_load(&g.busy))
		sched_yield();
	uint32_t top = atomic_load(&g.top);
	while (top && !atomic_load(&g.e[top - 1].base))
		top--;
	atomic_store(&g.top, top);
	if ((uint32_t)id < g.hint)
		g.hint = (uint32_t)id;
	g.used--;
}

uintptr_t vu_sigbus_take(struct vu_sigbus_owner *owner)
{
	return atomic_exchange(&owner->lost_addr, 0);
}

uint32_t vu_sigbus_count(void)
{
	return g.used;
}
