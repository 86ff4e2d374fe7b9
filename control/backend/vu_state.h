/* SPDX-License-Identifier: MIT */
/*
 * vu_state.h: a device's negotiated state as bytes, for a restart that the
 * front-end must not notice (the daemon keeps them in a memfd in systemd's
 * fd store, vhostd_fdstore.h).
 *
 * The bytes are read back by whatever binary starts next (an upgrade), so
 * the layout is fixed per version: a magic, a version, the body length and
 * a CRC-32C over the body.  Anything else (another magic or version, a
 * short or long body, a bad CRC, a count or flag out of range) is refused
 * with a reason, never half-applied.
 *
 * Fds are not in the bytes: each one the device holds is named by a
 * number (0 = none) that the daemon maps to the fd store entry holding it.
 *
 * A record sits in one of two slots of the memfd (vu_state_put()); the
 * reader takes the valid one with the higher sequence number, so a
 * process killed while writing one slot leaves the other intact.
 */
#ifndef VHOSTD_VU_STATE_H
#define VHOSTD_VU_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "../../datapath/vq_pos.h"
#include "vu_dev.h"

#define VU_STATE_MAGIC "vhdstate"
#define VU_STATE_VERSION 1u

/* At most this many regions are kept (more than any front-end sends:
 * QEMU's vhost-user limit is VU_MEM_MAX_SLOTS). */
#define VU_STATE_MAX_REGIONS VU_MEM_MAX_SLOTS
#define VU_STATE_MAX_RINGS (2u * VU_MAX_QUEUE_PAIRS)

/* struct vu_state_ring.flags and struct vu_state.flags */
#define VU_SR_ADDR_SET (1u << 0)
#define VU_SR_KICK_SET (1u << 1)
#define VU_SR_STARTED  (1u << 2)
#define VU_SR_STOPPED  (1u << 3)
#define VU_SR_ENABLED  (1u << 4)
#define VU_SR_ALL      0x1fu
#define VU_SD_FEATURES_SET (1u << 0)
#define VU_SD_OWNER        (1u << 1)
#define VU_SD_QUIESCED     (1u << 2)  /* written with the datapath paused
					* (a planned stop): every ring's
					* base is where its worker stopped */
#define VU_SD_ALL          0x7u

struct vu_state_ring {
	uint32_t num, flags, base;
	uint32_t kick, call, err;          /* fd ids, 0 = none */
	struct vu_vring_addr addr;
} __attribute__((packed));

struct vu_state_region {
	struct vu_mem_region reg;
	uint32_t fd;                       /* fd id of its file */
	uint32_t adds;                     /* ADD_MEM_REGs counted */
} __attribute__((packed));

/* The request being handled when the record was written (0 = none): a
 * new process answers it (vhostd_fdstore.c). */
struct vu_state_req {
	uint32_t request, flags, size;
	uint32_t fds[8];                   /* fd ids of its fds */
	uint32_t nfds;
	uint8_t payload[VU_PAYLOAD_MAX];
} __attribute__((packed));

struct vu_state {
	uint64_t features, protocol_features;
	uint32_t flags;
	uint8_t status, mac[6], pad;
	uint16_t mtu, link_status;
	uint32_t nvrings, nregions;
	uint64_t log_size, log_offset;
	uint32_t log_file, log_fd, backend_fd, conn; /* fd ids */
	struct vu_state_req req;
	struct vu_state_region regions[VU_STATE_MAX_REGIONS];
	struct vu_state_ring rings[VU_STATE_MAX_RINGS];
} __attribute__((packed));

/* Bytes of the memfd holding a device's records (two slots) and, from
 * vu_state_pos_offset() on, its positions area. */
size_t vu_state_file_size(void);

/*
 * The positions area: one slot per ring (datapath/vq_pos.h) where the
 * datapath publishes each packed ring's position as it moves, so that a
 * process killed with -9 leaves it for the next one (the records are
 * written around requests only).  Mapped shared by the daemon at this
 * page-aligned offset of the state memfd.
 */
#define VU_STATE_POS_MAGIC "vhdqpos"
#define VU_STATE_POS_VERSION 1u

struct vu_state_pos_area {
	char magic[8];
	uint32_t version, nslots;
	uint8_t pad[CACHE_LINE - 16];
	struct vq_pos slot[VU_STATE_MAX_RINGS];
};

size_t vu_state_pos_offset(void);

/* A fresh area: the header written, every slot VQ_POS_NONE. */
void vu_state_pos_init(struct vu_state_pos_area *a);

/* Is a's header this version's?  0, -ENODATA (never written) or -EPROTO
 * with the reason in why. */
int vu_state_pos_check(const struct vu_state_pos_area *a, char *why,
		       size_t n);

/*
 * Each ring of a packed device (vu_state_apply'ed, rings translated) takes
 * its base from its slot in a (a checked area, or NULL: none): a LIVE
 * slot's position, after completing the flush the old worker was in the
 * middle of (if the batch's first used descriptor is not written yet,
 * every used descriptor of the batch not yet written is, the first one
 * last); a STOPPED slot's base.  A slot that does not
 * match its ring (size, descriptor ring) or has no position is left alone
 * for a ring that is not started, and refused for a started one; any
 * value out of range is refused.  0, or -EOPNOTSUPP/-EINVAL + why.
 */
int vu_state_pos_take(struct vu_dev *dev, const struct vu_state_pos_area *a,
		      char *why, size_t n);

/* CRC-32C (Castagnoli) of len bytes, as a record's header holds it. */
uint32_t vu_state_crc32c(const void *p, size_t len);

/* The negotiated state of dev (fd ids left 0 for the caller to fill). */
void vu_state_capture(const struct vu_dev *dev, struct vu_state *st);

/* Write st as record number seq into its slot of the memfd fd (seq
 * alternates the slots).  0 or -errno. */
int vu_state_put(int fd, const struct vu_state *st, uint64_t seq);

/* Read the newest valid record of fd into st (and its number into *seq).
 * 0, or -EINVAL/-EPROTO/-ENODATA/-errno with the reason in why. */
int vu_state_get(int fd, struct vu_state *st, uint64_t *seq, char *why,
		 size_t n);

/* Check a decoded body against a device of nvrings rings: counts, flags,
 * sizes, fd ids present where the flags need them.  0 or -EINVAL + why. */
int vu_state_check(const struct vu_state *st, uint32_t nvrings, char *why,
		   size_t n);

/* The fds named by the ids of a record, resolved by the caller. */
struct vu_state_fds {
	int regions[VU_STATE_MAX_REGIONS];
	int log_file, log_fd, backend_fd;
	int kick[VU_STATE_MAX_RINGS], call[VU_STATE_MAX_RINGS],
	    err[VU_STATE_MAX_RINGS];
};

/*
 * Rebuild a fresh device (vu_dev_init'ed, nothing negotiated) from a
 * checked record without a word to the front-end: features, memory (mapped
 * again), dirty log, rings.  Each fd in fds is consumed.  A started split
 * ring resumes at the used index in guest memory (buffers are used in
 * order); a packed ring keeps no position in guest memory, so it resumes
 * at its recorded base in a record written with the datapath paused
 * (VU_SD_QUIESCED: a planned stop), else where its slot in pos says
 * (vu_state_pos_take; pos NULL: no area, a started packed ring is refused
 * with -EOPNOTSUPP).  On error the device is reset and why says what
 * failed.
 */
int vu_state_apply(struct vu_dev *dev, const struct vu_state *st,
		   struct vu_state_fds *fds,
		   const struct vu_state_pos_area *pos, char *why, size_t n);

#endif
