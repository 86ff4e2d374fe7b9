/* SPDX-License-Identifier: MIT */
#include "vhostd_fdstore.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../datapath/log.h"
#include "../backend/vu_state.h"
#include "vhostd_listen_fds.h"
#include "vhostd_opts.h"
#include "vhostd_sd.h"

#define TAG "fdstore"
#define MAX_KEPT 8192          /* fds taken from LISTEN_FDS */

/* One fd of a port's device in the store, "PORT/f<id>". */
struct ent {
	uint32_t id;
	int fd;                /* our own copy */
	int devfd;             /* the device's fd it was last matched to */
	bool used;             /* referenced by the record being written */
};

struct fsp {
	struct vu_port *p;     /* NULL: not started yet */
	char name[VHOSTD_NAME_MAX];
	int statefd;           /* -1: none yet */
	uint64_t seq;
	uint32_t next_id;
	struct ent *ents;
	uint32_t nents, cap;
	struct vu_state_pos_area *area;  /* mapped from statefd, or NULL */
	bool area_ok;          /* its header checked at start */
	bool have_state;       /* st below was read back at start */
	bool listen_kept;      /* its listening socket came from the store */
	bool rebuilt;          /* its device came from the store: to publish */
};

static struct fsp ports[VHOSTD_MAX_PORTS];
static bool active, stopping;
static struct { int fd; char *name; } kept[MAX_KEPT];
static unsigned nkept;
static struct vu_state st;    /* the record being written or read */

/* The store ----------------------------------------------------------- */

static void store(const char *port, const char *what, int fd)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s/%s", port, what);
	int r = vhostd_sd_notify_fd(msg, fd);
	if (r <= 0 && r != -ENOENT)   /* -ENOENT: said once, when loading */
		LOG_WARN(TAG, "%s: cannot store fd %s: %s", port, what,
			 r ? strerror(-r) : "no NOTIFY_SOCKET");
}

static void unstore_name(const char *name)
{
	char msg[300];

	snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", name);
	int r = vhostd_sd_notify(msg);
	if (r < 0 && r != -ENOENT)
		LOG_WARN(TAG, "cannot remove fd %s from the store: %s", name,
			 strerror(-r));
}

static void unstore(const char *port, const char *what)
{
	char name[128];

	snprintf(name, sizeof(name), "%s/%s", port, what);
	unstore_name(name);
}

/* Same open file (not just the same inode: every eventfd shares one). */
static bool same_file(int a, int b)
{
	return syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, a, b) == 0;
}

static struct fsp *slot_of(const struct vu_port *p)
{
	for (unsigned i = 0; i < VHOSTD_MAX_PORTS; i++)
		if (ports[i].p == p)
			return &ports[i];
	return NULL;
}

static struct fsp *slot_named(const char *name, bool create)
{
	for (unsigned i = 0; i < VHOSTD_MAX_PORTS; i++)
		if (ports[i].name[0] && !strcmp(ports[i].name, name))
			return &ports[i];
	size_t len = strlen(name);   /* port names are shorter (opts) */
	if (len >= sizeof(ports[0].name))
		return NULL;
	for (unsigned i = 0; create && i < VHOSTD_MAX_PORTS; i++)
		if (!ports[i].name[0]) {
			memcpy(ports[i].name, name, len + 1);
			ports[i].statefd = -1;
			return &ports[i];
		}
	return NULL;
}

static int add_ent(struct fsp *s, uint32_t id, int fd, int devfd)
{
	if (s->nents == s->cap) {
		uint32_t cap = s->cap ? 2 * s->cap : 32;
		struct ent *e = realloc(s->ents, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		s->ents = e;
		s->cap = cap;
	}
	s->ents[s->nents++] = (struct ent){id, fd, devfd, true};
	if (id > s->next_id)
		s->next_id = id;
	return 0;
}

static void ent_name(uint32_t id, char *buf, size_t n)
{
	snprintf(buf, n, "f%" PRIu32, id);
}

/* The id of the stored entry holding fd, storing it if none does; 0 for
 * no fd (or when it cannot be stored, with a log line). */
static uint32_t id_of_fd(struct fsp *s, int fd)
{
	char name[16];

	if (fd < 0)
		return 0;
	for (int pass = 0; pass < 2; pass++)
		for (uint32_t i = 0; i < s->nents; i++) {
			struct ent *e = &s->ents[i];
			if ((pass || e->devfd == fd) && same_file(e->fd, fd)) {
				e->devfd = fd;
				e->used = true;
				return e->id;
			}
		}
	int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (copy < 0 || add_ent(s, s->next_id + 1, copy, fd) < 0) {
		LOG_ERR(TAG, "%s: cannot keep fd %d: %s", s->name, fd,
			strerror(errno));
		if (copy >= 0)
			close(copy);
		return 0;
	}
	ent_name(s->next_id, name, sizeof(name));
	store(s->name, name, copy);
	return s->next_id;
}

/* A memory region's or the dirty log's file: vu_mem closed the device's
 * fd, the entry stored from the request that sent it is found by inode. */
static uint32_t id_of_file(struct fsp *s, dev_t dev, ino_t ino)
{
	struct stat sb;

	for (uint32_t i = 0; i < s->nents; i++)
		if (fstat(s->ents[i].fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
		    sb.st_dev == dev && sb.st_ino == ino) {
			s->ents[i].used = true;
			return s->ents[i].id;
		}
	LOG_ERR(TAG, "%s: a mapped file is in no stored fd: a restart will "
		"reconnect this device", s->name);
	return 0;
}

/* Capture the device into st with every fd named by its entry. */
static void capture(struct fsp *s)
{
	const struct vu_dev *d = &s->p->dev;

	vu_state_capture(d, &st);
	for (uint32_t i = 0; i < s->nents; i++)
		s->ents[i].used = false;
	st.conn = id_of_fd(s, s->p->cfd);
	for (uint32_t i = 0; i < st.nregions; i++)
		st.regions[i].fd = id_of_file(s, d->mem.maps[i].dev,
					      d->mem.maps[i].ino);
	if (d->log.base)
		st.log_file = id_of_file(s, d->log_file.dev, d->log_file.ino);
	st.log_fd = id_of_fd(s, d->log_fd);
	st.backend_fd = id_of_fd(s, d->backend_fd);
	for (uint32_t i = 0; i < d->nvrings; i++) {
		st.rings[i].kick = id_of_fd(s, d->vr[i].kick_fd);
		st.rings[i].call = id_of_fd(s, d->vr[i].call_fd);
		st.rings[i].err = id_of_fd(s, d->vr[i].err_fd);
	}
}

static void put(struct fsp *s)
{
	if (s->statefd < 0)
		return;
	int err = vu_state_put(s->statefd, &st, ++s->seq);
	if (err)
		LOG_ERR(TAG, "%s: cannot write the device state: %s", s->name,
			strerror(-err));
}

/* The positions area of s->statefd, mapped shared (the file grown to its
 * size first: a state memfd of an older vhostd has none) and populated:
 * a device's resume writes the slot of each of its up to 256 rings, and
 * faulting the 37 pages in one by one took 0.45 ms per device on a
 * virtualised host, on the path of a restart (one system call does it
 * in a third of that). */
static int map_area(struct fsp *s)
{
	struct stat sb;
	size_t size = vu_state_file_size();

	if (fstat(s->statefd, &sb) < 0)
		return -errno;
	if ((size_t)sb.st_size < size && ftruncate(s->statefd, (off_t)size) < 0)
		return -errno;
	void *m = mmap(NULL, size - vu_state_pos_offset(),
		       PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		       s->statefd, (off_t)vu_state_pos_offset());
	if (m == MAP_FAILED)
		return -errno;
	s->area = m;
	return 0;
}

static void unmap_area(struct fsp *s)
{
	if (s->p)
		s->p->dev.pos = NULL;
	if (s->area)
		munmap(s->area, vu_state_file_size() - vu_state_pos_offset());
	s->area = NULL;
}

/* After the record no longer names them: out of the store. */
static void drop_unused(struct fsp *s)
{
	char name[16];
	uint32_t k = 0;

	for (uint32_t i = 0; i < s->nents; i++) {
		struct ent *e = &s->ents[i];
		if (e->used) {
			s->ents[k++] = *e;
			continue;
		}
		ent_name(e->id, name, sizeof(name));
		unstore(s->name, name);
		close(e->fd);
	}
	s->nents = k;
}

/* The hooks (vu_port.h) ------------------------------------------------- */

/* Before: the state as it is, plus the request and its fds, so that a
 * process killed while handling it can handle it again. */
static void before(struct vu_port *p, const struct vu_msg *m, const int *fds,
		   int nfds)
{
	struct fsp *s = slot_of(p);

	if (!s)
		return;
	capture(s);
	st.req.request = m->hdr.request;
	st.req.flags = m->hdr.flags;
	st.req.size = m->hdr.size;
	memcpy(st.req.payload, &m->payload, m->hdr.size);
	st.req.nfds = (uint32_t)nfds;
	for (int i = 0; i < nfds && i < 8; i++)
		st.req.fds[i] = id_of_fd(s, fds[i]);
	put(s);
}

static void after(struct vu_port *p)
{
	struct fsp *s = slot_of(p);

	if (!s)
		return;
	capture(s);
	put(s);
	drop_unused(s);
}

static void forget_port(struct fsp *s)
{
	unmap_area(s);
	if (s->statefd >= 0) {
		unstore(s->name, "state");
		close(s->statefd);
	}
	if (s->p && s->p->lfd >= 0)
		unstore(s->name, "listen");
	free(s->ents);
	memset(s, 0, sizeof(*s));
}

static void gone(struct vu_port *p, bool port_stopping)
{
	struct fsp *s = slot_of(p);

	if (!s)
		return;
	if (stopping)           /* vhostd exits: the next one takes over */
		return;
	memset(&st, 0, sizeof(st));
	st.nvrings = p->dev.nvrings;
	put(s);                 /* no connection, nothing negotiated */
	for (uint32_t i = 0; i < s->nents; i++)
		s->ents[i].used = false;
	drop_unused(s);
	if (port_stopping)      /* the port is removed */
		forget_port(s);
}

static const struct vu_port_hooks hooks = {before, after, gone};

/* Start ------------------------------------------------------------------ */

int fdstore_init(void)
{
	char **names;
	int n = vhostd_listen_fds(&names);

	if (n < 0) {
		LOG_ERR(TAG, "LISTEN_FDS: %s", strerror(-n));
		return n;
	}
	for (int i = 0; i < n; i++) {
		if (nkept < MAX_KEPT) {
			kept[nkept].fd = VHOSTD_LISTEN_FDS_START + i;
			kept[nkept++].name = names[i];
		} else {
			close(VHOSTD_LISTEN_FDS_START + i);
			free(names[i]);
		}
	}
	free(names);
	if (n > 0)
		LOG_INFO(TAG, "%d fd(s) from the service manager's store", n);
	/* Stored only where the manager keeps a store: systemd 254 and
	 * later set FDSTORE from FileDescriptorStoreMax= (the unit sets it
	 * for older ones).  A bare NOTIFY_SOCKET keeps the old behaviour:
	 * sockets removed on SIGTERM. */
	const char *max = getenv("FDSTORE");
	active = getenv("NOTIFY_SOCKET") && max && atoi(max) > 0;
	if (active)
		vu_port_set_hooks(&hooks);
	return 0;
}

/* The kept fd called PORT/what, taken out of the list; -1: none. */
static int take(const char *port, const char *what)
{
	size_t pl = strlen(port);

	for (unsigned i = 0; i < nkept; i++) {
		const char *nm = kept[i].name;
		if (nm && !strncmp(nm, port, pl) && nm[pl] == '/' &&
		    !strcmp(nm + pl + 1, what)) {
			free(kept[i].name);
			kept[i].name = NULL;
			return kept[i].fd;
		}
	}
	return -1;
}

/* Every kept PORT/fN into the port's entries (the store holds them). */
static void take_ents(struct fsp *s)
{
	size_t pl = strlen(s->name);

	for (unsigned i = 0; i < nkept; i++) {
		const char *nm = kept[i].name;
		char *end;
		if (!nm || strncmp(nm, s->name, pl) || strncmp(nm + pl, "/f", 2))
			continue;
		unsigned long id = strtoul(nm + pl + 2, &end, 10);
		/* Ids stay far from wrapping (0 means "none"). */
		if (*end || !id || id > (1ul << 30) ||
		    add_ent(s, (uint32_t)id, kept[i].fd, -1) < 0)
			continue;
		free(kept[i].name);
		kept[i].name = NULL;
	}
}

/* A copy of the kept entry id for the device (-1 for id 0), noted as
 * the device's fd of that entry (the capture after the rebuild then finds
 * each fd at the first look, not by comparing it with every entry); a
 * missing one sets *err. */
static int copy_id(struct fsp *s, uint32_t id, int *err)
{
	if (!id)
		return -1;
	for (uint32_t i = 0; i < s->nents; i++)
		if (s->ents[i].id == id) {
			int fd = fcntl(s->ents[i].fd, F_DUPFD_CLOEXEC, 3);
			if (fd < 0)
				*err = -errno;
			else
				s->ents[i].devfd = fd;
			return fd;
		}
	*err = -ENOENT;
	return -1;
}

bool fdstore_take(const char *name, struct vu_port_restore *r)
{
	char why[256];
	struct fsp *s;

	r->lfd = take(name, "listen");
	r->cfd = -1;
	int sfd = take(name, "state");
	if (sfd < 0 && r->lfd < 0)
		return false;
	s = slot_named(name, true);
	if (!s) {
		if (sfd >= 0)
			close(sfd);
		return r->lfd >= 0;
	}
	s->statefd = sfd;
	s->listen_kept = r->lfd >= 0;
	if (sfd >= 0) {
		int err = vu_state_get(sfd, &st, &s->seq, why, sizeof(why));
		if (!err)
			err = vu_state_check(&st, st.nvrings, why,
					     sizeof(why));
		if (err && err != -ENODATA)
			LOG_ERR(TAG, "%s: the state kept by the previous vhostd "
				"is refused (%s); its front-end must reconnect",
				name, why);
		s->have_state = !err && st.conn;
		int aerr = map_area(s);
		if (!aerr)
			aerr = vu_state_pos_check(s->area, why, sizeof(why));
		else
			snprintf(why, sizeof(why), "%s", strerror(-aerr));
		s->area_ok = !aerr;
		if (aerr && aerr != -ENODATA && s->have_state)
			LOG_WARN(TAG, "%s: packed ring positions kept by the "
				 "previous vhostd refused (%s)", name, why);
	}
	take_ents(s);
	if (s->have_state) {
		int err = 0;
		r->cfd = copy_id(s, st.conn, &err);
	}
	if (s->have_state && r->cfd < 0) {
		LOG_ERR(TAG, "%s: the stored state names a connection that is "
			"not in the store; its front-end must reconnect", name);
		s->have_state = false;
	}
	return true;
}

/* Handle again the request the previous process was handling (its
 * effect was not recorded: st holds the state from before it). */
static int replay(struct fsp *s, char *why, size_t n)
{
	static struct vu_msg m;
	int fds[8], err = 0;

	memset(&m, 0, sizeof(m));
	m.hdr.request = st.req.request;
	m.hdr.flags = st.req.flags;
	m.hdr.size = st.req.size;
	memcpy(&m.payload, st.req.payload, st.req.size);
	for (uint32_t i = 0; i < st.req.nfds; i++)
		fds[i] = copy_id(s, st.req.fds[i], &err);
	if (err) {
		for (uint32_t i = 0; i < st.req.nfds; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		snprintf(why, n, "an fd of request %u is not in the store",
			 m.hdr.request);
		return err;
	}
	LOG_INFO(TAG, "%s: request %s (%u) was being handled when the "
		 "previous vhostd stopped: handled again", s->name,
		 vu_request_name(m.hdr.request), m.hdr.request);
	err = vu_dev_handle_msg(&s->p->dev, s->p->cfd, &m, fds,
				(int)st.req.nfds);
	if (err)
		snprintf(why, n, "request %u handled again: %s", m.hdr.request,
			 strerror(-err));
	return err;
}

static int rebuild(struct fsp *s, char *why, size_t n)
{
	static struct vu_state_fds fds;
	struct vu_dev *d = &s->p->dev;
	int err = 0;

	memset(&fds, 0xff, sizeof(fds));    /* every fd -1 */
	for (uint32_t i = 0; i < st.nregions; i++)
		fds.regions[i] = copy_id(s, st.regions[i].fd, &err);
	fds.log_file = copy_id(s, st.log_file, &err);
	fds.log_fd = copy_id(s, st.log_fd, &err);
	fds.backend_fd = copy_id(s, st.backend_fd, &err);
	for (uint32_t i = 0; i < st.nvrings && i < d->nvrings; i++) {
		fds.kick[i] = copy_id(s, st.rings[i].kick, &err);
		fds.call[i] = copy_id(s, st.rings[i].call, &err);
		fds.err[i] = copy_id(s, st.rings[i].err, &err);
	}
	if (err) {
		snprintf(why, n, "an fd the state names is not in the store");
		st.nregions = 0;        /* vu_state_apply closes the rest */
		st.nvrings = 0;
	}
	int aerr = vu_state_apply(d, &st, &fds, s->area_ok ? s->area : NULL,
				  err ? NULL : why, err ? 0 : n);
	if (err || aerr)
		return err ? err : aerr;
	LOG_INFO(TAG, "%s: device rebuilt from the stored state (%u memory "
		 "region(s), record %" PRIu64 "): no reconnect", s->name,
		 d->mem.n, s->seq);
	return st.req.request ? replay(s, why, n) : 0;
}

static int new_state_file(struct fsp *s)
{
	int fd = memfd_create("vhostd-state", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0 || ftruncate(fd, (off_t)vu_state_file_size()) < 0) {
		int err = -errno;
		LOG_ERR(TAG, "%s: cannot create the state memfd: %s", s->name,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return err;
	}
	s->statefd = fd;
	store(s->name, "state", fd);
	return 0;
}

/* The device publishes its packed rings' positions in the area (fresh
 * unless the rebuild took them: the workers go on from there). */
static void publish_positions(struct fsp *s, bool rebuilt)
{
	int err = s->area ? 0 : map_area(s);

	if (err) {
		LOG_ERR(TAG, "%s: cannot map the positions area: %s; after "
			"kill -9 its packed rings will reconnect", s->name,
			strerror(-err));
		return;
	}
	if (!rebuilt || !s->area_ok)
		vu_state_pos_init(s->area);
	s->area_ok = true;
	s->p->dev.pos = s->area->slot;
}

bool fdstore_port_started(struct vu_port *p)
{
	struct fsp *s = slot_named(p->dev.name, active);
	char why[256];

	if (!s)
		return false;
	s->p = p;
	bool rebuilt = false;
	if (s->have_state && p->cfd >= 0) {
		int err = rebuild(s, why, sizeof(why));
		if (err) {
			LOG_ERR(TAG, "%s: cannot rebuild the device from the "
				"stored state: %s; its front-end must "
				"reconnect", s->name, why);
			vu_port_drop(p, "dropped: its stored state was "
				     "refused");
		} else {
			s->rebuilt = rebuilt = true;
			if (active)
				after(p);
		}
	}
	s->have_state = false;
	if (!active || p->cfd < 0) {
		/* Nothing of a previous connection is used: out. */
		for (uint32_t i = 0; i < s->nents; i++)
			s->ents[i].used = false;
		drop_unused(s);
	}
	if (!active) {
		unmap_area(s);
		if (s->statefd >= 0)
			close(s->statefd);
		free(s->ents);
		memset(s, 0, sizeof(*s));
		return rebuilt;
	}
	if (s->statefd < 0 && new_state_file(s) < 0)
		return rebuilt;
	publish_positions(s, rebuilt);
	if (p->lfd >= 0 && !s->listen_kept)
		store(s->name, "listen", p->lfd);
	return rebuilt;
}

void fdstore_port_listener(struct vu_port *p)
{
	struct fsp *s = active ? slot_of(p) : NULL;

	if (!s)
		return;
	unstore(s->name, "listen");
	s->listen_kept = false;
	if (p->lfd >= 0) {
		store(s->name, "listen", p->lfd);
		s->listen_kept = true;
	}
}

/* One used-buffer notification per started ring of a rebuilt device:
 * the previous process may have died between a flush and its
 * notification (or before a flush it left to complete, vq_pos.h), and a
 * driver waiting for it would wait for good.  A spurious one costs the
 * guest a look.  Skipped for a call fd its front-end made blocking (a
 * full counter would hold the control thread; the datapath copes with
 * that one: vq.h CALL_BLOCKED). */
static void call_all(const struct vu_dev *d)
{
	for (uint32_t i = 0; i < d->nvrings; i++) {
		int fd = d->vr[i].call_fd;
		if (!d->vr[i].started || fd < 0 ||
		    !(fcntl(fd, F_GETFL) & O_NONBLOCK))
			continue;
		uint64_t one = 1;
		if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			LOG_WARN(TAG, "%s: ring %u: call eventfd: %s", d->name,
				 i, strerror(errno));
	}
}

void fdstore_running(void)
{
	/* Each rebuilt device's rings were built when it joined the
	 * datapath (dp_attach) and are polled since dp_start(). */
	for (unsigned i = 0; i < VHOSTD_MAX_PORTS; i++) {
		struct vu_dev *d = ports[i].p ? &ports[i].p->dev : NULL;
		if (!d || !ports[i].rebuilt)
			continue;
		ports[i].rebuilt = false;
		call_all(d);
	}
	for (unsigned i = 0; i < nkept; i++) {
		if (!kept[i].name)
			continue;
		LOG_INFO(TAG, "kept fd %s belongs to no port: removed",
			 kept[i].name);
		unstore_name(kept[i].name);
		close(kept[i].fd);
		free(kept[i].name);
		kept[i].name = NULL;
	}
	nkept = 0;
}

void fdstore_stopping(void)
{
	if (!active)
		return;
	stopping = true;
	for (unsigned i = 0; i < VHOSTD_MAX_PORTS; i++)
		if (ports[i].p)   /* its listening socket stays bound there */
			ports[i].p->created_socket = false;
}

bool fdstore_handing_over(void)
{
	return stopping;
}

void fdstore_last_records(void)
{
	if (!stopping)
		return;
	for (unsigned i = 0; i < VHOSTD_MAX_PORTS; i++) {
		struct fsp *s = &ports[i];
		struct vu_dev *d = s->p ? &s->p->dev : NULL;
		if (!d || s->p->cfd < 0 || !d->ops.pause)
			continue;
		/* Saves each ring's position in its base (the workers are
		 * halted: nothing moves any more). */
		d->ops.pause(d, d->ops.ctx);
		capture(s);
		st.flags |= VU_SD_QUIESCED;
		put(s);
	}
}
