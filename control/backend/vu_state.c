/* SPDX-License-Identifier: MIT */
#include "vu_state.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../datapath/log.h"
#include "../../datapath/vring.h"
#include "vu_ring.h"

#define TAG "state"

struct rec_hdr {
	char magic[8];
	uint32_t version, body_len;
	uint64_t seq;
	uint32_t crc, pad;
} __attribute__((packed));

#define SLOT_SIZE (sizeof(struct rec_hdr) + sizeof(struct vu_state))

#define PAGE 4096u

size_t vu_state_pos_offset(void)
{
	return (2 * SLOT_SIZE + PAGE - 1) / PAGE * PAGE;
}

size_t vu_state_file_size(void)
{
	return vu_state_pos_offset() +
	       (sizeof(struct vu_state_pos_area) + PAGE - 1) / PAGE * PAGE;
}

/* CRC-32C (Castagnoli, reflected polynomial 0x82f63b78), eight bytes a
 * step ("slicing by 8": table k gives the CRC of a byte followed by k zero
 * bytes).  A record is 40 KiB and a restart reads two and writes one
 * before the first frame goes back: bit by bit that was ~0.7 ms each. */
static uint32_t crc_tab[8][256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78u & -(c & 1));
		crc_tab[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_tab[t][i] = (crc_tab[t - 1][i] >> 8) ^
					crc_tab[0][crc_tab[t - 1][i] & 0xff];
}

uint32_t vu_state_crc32c(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint32_t c = ~0u;

	if (!crc_tab[0][1])          /* control thread only */
		crc_init();
	for (; len >= 8; len -= 8, b += 8) {
		uint32_t lo = c ^ ((uint32_t)b[0] | (uint32_t)b[1] << 8 |
				   (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
		c = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^
		    crc_tab[5][(lo >> 16) & 0xff] ^ crc_tab[4][lo >> 24] ^
		    crc_tab[3][b[4]] ^ crc_tab[2][b[5]] ^ crc_tab[1][b[6]] ^
		    crc_tab[0][b[7]];
	}
	while (len--)
		c = (c >> 8) ^ crc_tab[0][(c ^ *b++) & 0xff];
	return ~c;
}

static int fail(char *why, size_t n, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return err;
}

void vu_state_capture(const struct vu_dev *d, struct vu_state *st)
{
	memset(st, 0, sizeof(*st));
	st->features = d->features;
	st->protocol_features = d->protocol_features;
	st->flags = (d->features_set ? VU_SD_FEATURES_SET : 0) |
		    (d->owner ? VU_SD_OWNER : 0);
	st->status = d->status;
	memcpy(st->mac, d->mac, 6);
	st->mtu = d->mtu;
	st->link_status = d->link_status;
	st->nvrings = d->nvrings;
	st->nregions = d->mem.n;
	for (uint32_t i = 0; i < d->mem.n && i < VU_STATE_MAX_REGIONS; i++) {
		st->regions[i].reg = d->mem.maps[i].reg;
		st->regions[i].adds = d->mem.maps[i].adds;
	}
	if (d->log.base) {
		st->log_size = d->log.size;
		st->log_offset = d->log_file.offset;
	}
	for (uint32_t i = 0; i < d->nvrings && i < VU_STATE_MAX_RINGS; i++) {
		const struct vu_vring *vr = &d->vr[i];
		struct vu_state_ring *sr = &st->rings[i];

		sr->num = vr->num;
		sr->base = vr->base;
		sr->addr = vr->addr;
		sr->flags = (vr->addr_set ? VU_SR_ADDR_SET : 0) |
			    (vr->kick_set ? VU_SR_KICK_SET : 0) |
			    (vr->started ? VU_SR_STARTED : 0) |
			    (vr->stopped ? VU_SR_STOPPED : 0) |
			    (vr->enabled ? VU_SR_ENABLED : 0);
	}
}

int vu_state_put(int fd, const struct vu_state *st, uint64_t seq)
{
	struct rec_hdr h = {.version = VU_STATE_VERSION,
			    .body_len = sizeof(*st), .seq = seq};
	off_t at = (off_t)((seq & 1) * SLOT_SIZE);

	memcpy(h.magic, VU_STATE_MAGIC, 8);
	h.crc = vu_state_crc32c(st, sizeof(*st));
	/* Body first, header last: a torn write fails the CRC and the
	 * reader takes the other slot. */
	if (pwrite(fd, st, sizeof(*st), at + (off_t)sizeof(h)) !=
	    (ssize_t)sizeof(*st))
		return -errno ? -errno : -EIO;
	if (pwrite(fd, &h, sizeof(h), at) != (ssize_t)sizeof(h))
		return -errno ? -errno : -EIO;
	return 0;
}

/* Slot k's header: 1 if it names a record of this version (*h filled),
 * 0 if the slot is empty, -errno + why. */
static int get_hdr(int fd, unsigned k, struct rec_hdr *h, char *why,
		   size_t n)
{
	ssize_t r = pread(fd, h, sizeof(*h), (off_t)(k * SLOT_SIZE));

	if (r < 0)
		return fail(why, n, -errno, "slot %u: %s", k, strerror(errno));
	if (r < (ssize_t)sizeof(*h) || h->magic[0] == 0)
		return 0;
	if (memcmp(h->magic, VU_STATE_MAGIC, 8))
		return fail(why, n, -EPROTO, "slot %u: not a vhostd device "
			    "state (magic %.8s)", k, h->magic);
	if (h->version != VU_STATE_VERSION)
		return fail(why, n, -EPROTO, "slot %u: state version %u, this "
			    "vhostd reads version %u", k, h->version,
			    VU_STATE_VERSION);
	if (h->body_len != sizeof(struct vu_state))
		return fail(why, n, -EPROTO, "slot %u: body of %u bytes, "
			    "version %u has %zu", k, h->body_len,
			    VU_STATE_VERSION, sizeof(struct vu_state));
	return 1;
}

/* Slot k's body into st: 1 if it matches its header's CRC, else -errno +
 * why. */
static int get_body(int fd, unsigned k, const struct rec_hdr *h,
		    struct vu_state *st, char *why, size_t n)
{
	off_t at = (off_t)(k * SLOT_SIZE + sizeof(*h));
	ssize_t r = pread(fd, st, sizeof(*st), at);

	if (r != (ssize_t)sizeof(*st))
		return fail(why, n, -EPROTO, "slot %u: body truncated (%zd of "
			    "%zu bytes)", k, r, sizeof(*st));
	if (vu_state_crc32c(st, sizeof(*st)) != h->crc)
		return fail(why, n, -EPROTO, "slot %u: CRC mismatch (torn or "
			    "corrupt)", k);
	return 1;
}

/* The newer record by its header is read first, the other only if that
 * one's body fails its CRC: one 35 KiB read and check, not two, on the
 * path of every restart. */
int vu_state_get(int fd, struct vu_state *st, uint64_t *seq, char *why,
		 size_t n)
{
	struct rec_hdr h[2];
	char w[2][160] = {"", ""};
	int r[2];

	for (unsigned k = 0; k < 2; k++)
		r[k] = get_hdr(fd, k, &h[k], w[k], sizeof(w[k]));
	unsigned first = r[1] == 1 && (r[0] != 1 || h[1].seq > h[0].seq);
	for (unsigned i = 0; i < 2; i++) {
		unsigned k = i ? !first : first;
		if (r[k] != 1)
			continue;
		r[k] = get_body(fd, k, &h[k], st, w[k], sizeof(w[k]));
		if (r[k] == 1) {
			*seq = h[k].seq;
			return 0;
		}
	}
	if (r[0] == 0 && r[1] == 0)
		return fail(why, n, -ENODATA, "no state record");
	return fail(why, n, r[0] < 0 ? r[0] : r[1], "%s%s%s", w[0],
		    *w[0] && *w[1] ? "; " : "", w[1]);
}

static int check_ring(const struct vu_state_ring *r, uint32_t i, bool pk,
		      char *why, size_t n)
{
	if (r->flags & ~VU_SR_ALL)
		return fail(why, n, -EINVAL, "ring %u: unknown flags 0x%x", i,
			    r->flags);
	if (r->num > VU_VRING_MAX_SIZE)
		return fail(why, n, -EINVAL, "ring %u: size %u over %u", i,
			    r->num, VU_VRING_MAX_SIZE);
	if ((r->flags & VU_SR_STARTED) && (!r->num ||
	    !(r->flags & VU_SR_ADDR_SET) || !(r->flags & VU_SR_KICK_SET)))
		return fail(why, n, -EINVAL, "ring %u: started without size, "
			    "addresses or kick", i);
	if (!pk && r->base > 0xffff)
		return fail(why, n, -EINVAL, "ring %u: split base %u over "
			    "65535", i, r->base);
	return 0;
}

int vu_state_check(const struct vu_state *st, uint32_t nvrings, char *why,
		   size_t n)
{
	bool pk = st->features & BIT_ULL(VIRTIO_F_RING_PACKED);

	if (st->nvrings != nvrings)
		return fail(why, n, -EINVAL, "%u rings recorded, the port has "
			    "%u (its queues changed?)", st->nvrings, nvrings);
	if (st->nregions > VU_STATE_MAX_REGIONS)
		return fail(why, n, -EINVAL, "%u memory regions (at most %u)",
			    st->nregions, VU_STATE_MAX_REGIONS);
	if (st->flags & ~VU_SD_ALL)
		return fail(why, n, -EINVAL, "unknown device flags 0x%x",
			    st->flags);
	if (st->req.nfds > 8 || st->req.size > VU_PAYLOAD_MAX)
		return fail(why, n, -EINVAL, "request in flight: %u fds, %u "
			    "bytes", st->req.nfds, st->req.size);
	if (st->log_size && !st->log_file)
		return fail(why, n, -EINVAL, "dirty log without its file");
	for (uint32_t i = 0; i < st->nregions; i++)
		if (!st->regions[i].fd)
			return fail(why, n, -EINVAL, "region %u without its "
				    "file", i);
	for (uint32_t i = 0; i < nvrings; i++) {
		int err = check_ring(&st->rings[i], i, pk, why, n);
		if (err)
			return err;
	}
	return 0;
}

static void close_rest(struct vu_state_fds *f, const struct vu_state *st)
{
	int *one[] = {&f->log_file, &f->log_fd, &f->backend_fd};
	uint32_t nreg = st->nregions < VU_STATE_MAX_REGIONS ? st->nregions :
			VU_STATE_MAX_REGIONS;
	uint32_t nvr = st->nvrings < VU_STATE_MAX_RINGS ? st->nvrings :
		       VU_STATE_MAX_RINGS;

	for (uint32_t i = 0; i < nreg; i++)
		if (f->regions[i] >= 0)
			close(f->regions[i]);
	for (unsigned i = 0; i < 3; i++)
		if (*one[i] >= 0)
			close(*one[i]);
	for (uint32_t i = 0; i < nvr; i++) {
		int *r[] = {&f->kick[i], &f->call[i], &f->err[i]};
		for (unsigned k = 0; k < 3; k++)
			if (*r[k] >= 0)
				close(*r[k]);
	}
}

static int apply_mem(struct vu_dev *d, const struct vu_state *st,
		     struct vu_state_fds *f, char *why, size_t n)
{
	static struct vu_mem_region regs[VU_STATE_MAX_REGIONS];
	int err;

	for (uint32_t i = 0; i < st->nregions; i++)
		regs[i] = st->regions[i].reg;
	err = st->nregions ? vu_mem_set_table(&d->mem, regs, f->regions,
					      st->nregions) : 0;
	for (uint32_t i = 0; i < st->nregions; i++)
		f->regions[i] = -1;  /* consumed */
	if (err)
		return fail(why, n, err, "memory table: %s", strerror(-err));
	for (uint32_t i = 0; i < d->mem.n && i < st->nregions; i++)
		d->mem.maps[i].adds = st->regions[i].adds;
	if (!st->log_size)
		return 0;
	err = vu_mem_map_file(&d->mem, "dirty log", f->log_file,
			      st->log_offset, st->log_size, &d->log_file);
	if (err)
		return fail(why, n, err, "dirty log: %s", strerror(-err));
	d->log.base = d->log_file.hva;
	d->log.size = st->log_size;
	return 0;
}

static void apply_ring(struct vu_dev *d, const struct vu_state *st,
		       struct vu_state_fds *f, uint32_t i)
{
	const struct vu_state_ring *sr = &st->rings[i];
	struct vu_vring *vr = &d->vr[i];

	vr->num = sr->num;
	vr->addr = sr->addr;
	vr->base = sr->base;
	vr->addr_set = sr->flags & VU_SR_ADDR_SET;
	vr->kick_set = sr->flags & VU_SR_KICK_SET;
	vr->started = sr->flags & VU_SR_STARTED;
	vr->stopped = sr->flags & VU_SR_STOPPED;
	vr->enabled = sr->flags & VU_SR_ENABLED;
	vr->kick_fd = f->kick[i];
	vr->call_fd = f->call[i];
	vr->err_fd = f->err[i];
	f->kick[i] = f->call[i] = f->err[i] = -1;
}

/* After the rings were translated for the memory table. */
static int resume_ring(struct vu_dev *d, uint32_t i, char *why, size_t n)
{
	struct vu_vring *vr = &d->vr[i];

	if (!vr->started)
		return 0;
	if (!vu_vring_ready(d, i))
		return fail(why, n, -EINVAL, "ring %u does not fit the "
			    "memory table", i);
	if (d->features & BIT_ULL(VIRTIO_F_RING_PACKED))
		return 0;   /* the recorded base or its slot (apply) */
	/* Buffers are used in order: the used index is where the old
	 * process stopped, whatever it recorded before. */
	vr->base = __atomic_load_n(&((const struct vring_used *)vr->used)->idx,
				   __ATOMIC_ACQUIRE);
	return 0;
}

int vu_state_apply(struct vu_dev *d, const struct vu_state *st,
		   struct vu_state_fds *f, const struct vu_state_pos_area *pos,
		   char *why, size_t n)
{
	int err = vu_state_check(st, d->nvrings, why, n);

	if (!err) {
		d->features = st->features;
		d->features_set = st->flags & VU_SD_FEATURES_SET;
		d->protocol_features = st->protocol_features;
		d->owner = st->flags & VU_SD_OWNER;
		d->status = st->status;
		memcpy(d->mac, st->mac, 6);
		d->mtu = st->mtu;
		d->link_status = st->link_status;
		d->log_fd = f->log_fd;
		d->backend_fd = f->backend_fd;
		f->log_fd = f->backend_fd = -1;
		err = apply_mem(d, st, f, why, n);
	}
	for (uint32_t i = 0; !err && i < d->nvrings; i++)
		apply_ring(d, st, f, i);
	if (!err)
		vu_rings_retranslate(d);
	for (uint32_t i = 0; !err && i < d->nvrings; i++)
		err = resume_ring(d, i, why, n);
	/* A planned stop's record holds every packed position exactly;
	 * otherwise the datapath's slots do. */
	if (!err && (d->features & BIT_ULL(VIRTIO_F_RING_PACKED)) &&
	    !(st->flags & VU_SD_QUIESCED))
		err = vu_state_pos_take(d, pos, why, n);
	close_rest(f, st);
	if (err)
		vu_dev_reset_state(d, true);
	return err;
}
