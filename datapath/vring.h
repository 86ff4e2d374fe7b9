/* SPDX-License-Identifier: MIT */
/*
 * vring.h: split (virtio 1.x 2.7) and packed (2.8) virtqueue layouts,
 * shared by the device side (datapath/vq_split.c, datapath/vq_packed.c) and
 * the driver side (the front-end library).
 * All fields are little endian; vhostd runs on little-endian hosts only
 * (x86_64, arm64), and VERSION_1 is little endian.
 */
#ifndef VHOSTD_VRING_H
#define VHOSTD_VRING_H

#include <stdint.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "vhostd reads and writes guest rings and headers in host order");

#define VRING_DESC_F_NEXT     1u
#define VRING_DESC_F_WRITE    2u
#define VRING_DESC_F_INDIRECT 4u

#define VRING_AVAIL_F_NO_INTERRUPT 1u  /* driver: do not call me */
#define VRING_USED_F_NO_NOTIFY     1u  /* device: do not kick me */

struct vring_desc {
	uint64_t addr;   /* guest-physical */
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];  /* size entries, then used_event (EVENT_IDX) */
};

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vring_used {
	uint16_t flags;
	uint16_t idx;
	struct vring_used_elem ring[]; /* size entries, then avail_event */
};

static inline uint16_t *vring_used_event(struct vring_avail *a, uint16_t size)
{
	return &a->ring[size];
}

static inline uint16_t *vring_avail_event(struct vring_used *u, uint16_t size)
{
	return (uint16_t *)(void *)&u->ring[size];
}

/* virtio 1.x 2.7.10: notify when new_idx passed event_idx since old_idx. */
static inline int vring_need_event(uint16_t event_idx, uint16_t new_idx,
				   uint16_t old_idx)
{
	return (uint16_t)(new_idx - event_idx - 1) <
	       (uint16_t)(new_idx - old_idx);
}

/* Packed virtqueue (virtio 1.x 2.8): one ring of 16-byte descriptors that
 * the driver makes available and the device overwrites with used ones. */
#define VRING_PACKED_DESC_F_AVAIL (1u << 7)
#define VRING_PACKED_DESC_F_USED  (1u << 15)

struct vring_packed_desc {
	uint64_t addr;   /* guest-physical; unused in a used descriptor */
	uint32_t len;    /* used: bytes written */
	uint16_t id;     /* buffer id, in the last descriptor of a chain */
	uint16_t flags;
};

/* 2.8.10 / 2.8.14: the driver area and the device area. */
struct vring_packed_event {
	uint16_t off_wrap;   /* bits 0-14 offset, bit 15 wrap counter */
	uint16_t flags;
};

#define VRING_PACKED_EVENT_ENABLE  0u
#define VRING_PACKED_EVENT_DISABLE 1u
#define VRING_PACKED_EVENT_DESC    2u   /* EVENT_IDX only */
#define VRING_PACKED_EVENT_MASK    3u
#define VRING_PACKED_WRAP_SHIFT    15

/* Virtio-net header (virtio 1.x 5.1.6), 12 bytes with VERSION_1. */
struct virtio_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;  /* MRG_RXBUF / VERSION_1 */
};

#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1u
#define VIRTIO_NET_HDR_F_DATA_VALID 2u
#define VIRTIO_NET_HDR_GSO_NONE  0u
#define VIRTIO_NET_HDR_GSO_TCPV4 1u
#define VIRTIO_NET_HDR_GSO_UDP   3u
#define VIRTIO_NET_HDR_GSO_TCPV6 4u
#define VIRTIO_NET_HDR_GSO_ECN   0x80u

#endif
