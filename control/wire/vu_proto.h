/* SPDX-License-Identifier: MIT */
/*
 * vu_proto.h: the vhost-user wire protocol (QEMU docs/interop/vhost-user.rst).
 *
 * Request ids, header flags, protocol feature bits and payload layouts,
 * shared by the back-end (vhostd) and the front-end library (vu_front).
 * All numbers are in host byte order, as the spec requires.
 */
#ifndef VHOSTD_VU_PROTO_H
#define VHOSTD_VU_PROTO_H

#include <stdint.h>

/* Front-end -> back-end requests: X(name, id). */
#define VU_REQUEST_IDS(X)                  \
	X(GET_FEATURES, 1)                 \
	X(SET_FEATURES, 2)                 \
	X(SET_OWNER, 3)                    \
	X(RESET_OWNER, 4)                  \
	X(SET_MEM_TABLE, 5)                \
	X(SET_LOG_BASE, 6)                 \
	X(SET_LOG_FD, 7)                   \
	X(SET_VRING_NUM, 8)                \
	X(SET_VRING_ADDR, 9)               \
	X(SET_VRING_BASE, 10)              \
	X(GET_VRING_BASE, 11)              \
	X(SET_VRING_KICK, 12)              \
	X(SET_VRING_CALL, 13)              \
	X(SET_VRING_ERR, 14)               \
	X(GET_PROTOCOL_FEATURES, 15)       \
	X(SET_PROTOCOL_FEATURES, 16)       \
	X(GET_QUEUE_NUM, 17)               \
	X(SET_VRING_ENABLE, 18)            \
	X(SEND_RARP, 19)                   \
	X(NET_SET_MTU, 20)                 \
	X(SET_BACKEND_REQ_FD, 21)          \
	X(IOTLB_MSG, 22)                   \
	X(SET_VRING_ENDIAN, 23)            \
	X(GET_CONFIG, 24)                  \
	X(SET_CONFIG, 25)                  \
	X(CREATE_CRYPTO_SESSION, 26)       \
	X(CLOSE_CRYPTO_SESSION, 27)        \
	X(POSTCOPY_ADVISE, 28)             \
	X(POSTCOPY_LISTEN, 29)             \
	X(POSTCOPY_END, 30)                \
	X(GET_INFLIGHT_FD, 31)             \
	X(SET_INFLIGHT_FD, 32)             \
	X(GPU_SET_SOCKET, 33)              \
	X(RESET_DEVICE, 34)                \
	X(VRING_KICK, 35)                  \
	X(GET_MAX_MEM_SLOTS, 36)           \
	X(ADD_MEM_REG, 37)                 \
	X(REM_MEM_REG, 38)                 \
	X(SET_STATUS, 39)                  \
	X(GET_STATUS, 40)                  \
	X(GET_SHARED_OBJECT, 41)           \
	X(SET_DEVICE_STATE_FD, 42)         \
	X(CHECK_DEVICE_STATE, 43)

enum vu_request {
	VU_REQ_NONE = 0,
#define VU_X_ENUM(name, id) VU_REQ_##name = id,
	VU_REQUEST_IDS(VU_X_ENUM)
#undef VU_X_ENUM
	VU_REQ_MAX
};

/* Back-end -> front-end requests (on the SET_BACKEND_REQ_FD channel):
 * X(name, id).  The spec defines 1..8; 4 and 5 need INBAND_NOTIFICATIONS,
 * 6..8 SHARED_OBJECT. */
#define VU_BACKEND_REQUEST_IDS(X)          \
	X(IOTLB_MSG, 1)                    \
	X(CONFIG_CHANGE_MSG, 2)            \
	X(VRING_HOST_NOTIFIER_MSG, 3)      \
	X(VRING_CALL, 4)                   \
	X(VRING_ERR, 5)                    \
	X(SHARED_OBJECT_ADD, 6)            \
	X(SHARED_OBJECT_REMOVE, 7)         \
	X(SHARED_OBJECT_LOOKUP, 8)

enum vu_backend_request {
	VU_BACKEND_NONE = 0,
#define VU_X_BENUM(name, id) VU_BACKEND_##name = id,
	VU_BACKEND_REQUEST_IDS(VU_X_BENUM)
#undef VU_X_BENUM
	VU_BACKEND_MAX
};

/* "VHOST_USER_BACKEND_IOTLB_MSG" for a back-end request id, "UNKNOWN"
 * otherwise. */
const char *vu_backend_request_name(uint32_t req);

/* "VHOST_USER_GET_FEATURES" for a request id, "UNKNOWN" otherwise. */
const char *vu_request_name(uint32_t req);

/* Header flags. */
#define VU_VERSION           0x1u
#define VU_VERSION_MASK      0x3u
#define VU_FLAG_REPLY        (1u << 2)
#define VU_FLAG_NEED_REPLY   (1u << 3)
/* Bits a front-end may set in a request (version + need_reply). */
#define VU_FLAGS_REQ_VALID   (VU_VERSION_MASK | VU_FLAG_NEED_REPLY)

/* Protocol feature bits. vhostd never offers bits >= 20 (not stable). */
#define VU_PROTOCOL_F_MQ                    0
#define VU_PROTOCOL_F_LOG_SHMFD             1
#define VU_PROTOCOL_F_RARP                  2
#define VU_PROTOCOL_F_REPLY_ACK             3
#define VU_PROTOCOL_F_MTU                   4
#define VU_PROTOCOL_F_BACKEND_REQ           5
#define VU_PROTOCOL_F_CROSS_ENDIAN          6
#define VU_PROTOCOL_F_CRYPTO_SESSION        7
#define VU_PROTOCOL_F_PAGEFAULT             8
#define VU_PROTOCOL_F_CONFIG                9
#define VU_PROTOCOL_F_BACKEND_SEND_FD      10
#define VU_PROTOCOL_F_HOST_NOTIFIER        11
#define VU_PROTOCOL_F_INFLIGHT_SHMFD       12
#define VU_PROTOCOL_F_RESET_DEVICE         13
#define VU_PROTOCOL_F_INBAND_NOTIFICATIONS 14
#define VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS  15
#define VU_PROTOCOL_F_STATUS               16
#define VU_PROTOCOL_F_XEN_MMAP             17
#define VU_PROTOCOL_F_SHARED_OBJECT        18
#define VU_PROTOCOL_F_DEVICE_STATE         19

/* Virtio feature bit reused by vhost-user to gate protocol features. */
#define VHOST_USER_F_PROTOCOL_FEATURES 30
/* vhost feature: the back-end logs dirty pages (live migration). */
#define VHOST_F_LOG_ALL 26
/* SET_VRING_ADDR flags: log writes to the used ring. */
#define VHOST_VRING_F_LOG 0
/* Dirty log page size (spec: VHOST_LOG_PAGE). */
#define VHOST_LOG_PAGE 0x1000u

/* SET_VRING_KICK/CALL/ERR u64 payload: bits 0-7 index, bit 8 "no fd". */
#define VU_VRING_IDX_MASK   0xffu
#define VU_VRING_NOFD_MASK  (1u << 8)

/* Limits from the spec and from the front-ends in the field. */
#define VU_MEM_TABLE_MAX_REGIONS 8     /* SET_MEM_TABLE (baseline) */
#define VU_MAX_CONFIG_SIZE       256   /* VHOST_USER_MAX_CONFIG_SIZE */
#define VU_MAX_FDS               8     /* fds in one message */

/* Payloads ---------------------------------------------------------- */

struct vu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
} __attribute__((packed));

struct vu_vring_state {
	uint32_t index;
	uint32_t num;
} __attribute__((packed));

struct vu_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc_user_addr;
	uint64_t used_user_addr;
	uint64_t avail_user_addr;
	uint64_t log_guest_addr;
} __attribute__((packed));

struct vu_mem_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t mmap_offset;
} __attribute__((packed));

struct vu_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct vu_mem_region regions[VU_MEM_TABLE_MAX_REGIONS];
} __attribute__((packed));

struct vu_mem_single {
	uint64_t padding;
	struct vu_mem_region region;
} __attribute__((packed));

struct vu_log {
	uint64_t mmap_size;
	uint64_t mmap_offset;
} __attribute__((packed));

#define VU_CONFIG_HDR_SIZE 12u
#define VU_CONFIG_FLAG_WRITABLE  0u
#define VU_CONFIG_FLAG_MIGRATION 1u
struct vu_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t region[VU_MAX_CONFIG_SIZE];
} __attribute__((packed));

/* IOTLB_MSG (both directions): struct vhost_iotlb_msg. */
#define VU_IOTLB_MISS        1
#define VU_IOTLB_UPDATE      2
#define VU_IOTLB_INVALIDATE  3
#define VU_IOTLB_ACCESS_FAIL 4
#define VU_IOTLB_PERM_RO     1
#define VU_IOTLB_PERM_WO     2
#define VU_IOTLB_PERM_RW     3
struct vu_iotlb {
	uint64_t iova;
	uint64_t size;
	uint64_t uaddr;
	uint8_t perm;
	uint8_t type;
	uint8_t reserved[6]; /* the C struct's tail padding: 32 bytes on the
			      * wire, as QEMU and DPDK send it */
} __attribute__((packed));

/* BACKEND_VRING_HOST_NOTIFIER_MSG: u64 = index (bits 0-7), no-fd flag
 * (bit 8). */
struct vu_vring_area {
	uint64_t u64;
	uint64_t size;
	uint64_t offset;
} __attribute__((packed));

/* GET/SET_INFLIGHT_FD. */
struct vu_inflight {
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint16_t num_queues;
	uint16_t queue_size;
} __attribute__((packed));

/* GET_SHARED_OBJECT and BACKEND_SHARED_OBJECT_*: a 16-byte UUID. */
struct vu_shared {
	uint8_t uuid[16];
} __attribute__((packed));

/* SET_DEVICE_STATE_FD parameters; its u64 reply: bits 0-7 error, bit 8
 * no fd returned. */
#define VU_TRANSFER_SAVE 0u
#define VU_TRANSFER_LOAD 1u
#define VU_TRANSFER_PHASE_STOPPED 0u
struct vu_transfer_state {
	uint32_t direction;
	uint32_t phase;
} __attribute__((packed));

union vu_payload {
	uint64_t u64;
	struct vu_vring_state state;
	struct vu_vring_addr addr;
	struct vu_mem_table mem;
	struct vu_mem_single memreg;
	struct vu_log log;
	struct vu_config config;
	struct vu_iotlb iotlb;
	struct vu_vring_area area;
	struct vu_inflight inflight;
	struct vu_shared shared;
	struct vu_transfer_state transfer;
	uint8_t raw[4096];
};

/* Largest payload vhostd accepts; a bigger size field is a framing error. */
#define VU_PAYLOAD_MAX ((uint32_t)sizeof(union vu_payload))

struct vu_msg {
	struct vu_hdr hdr;
	union vu_payload payload;
} __attribute__((packed));

/* Virtio feature bits used by the control plane. */
#define VIRTIO_NET_F_CSUM        0
#define VIRTIO_NET_F_GUEST_CSUM  1
#define VIRTIO_NET_F_MTU         3
#define VIRTIO_NET_F_MAC         5
#define VIRTIO_NET_F_GUEST_TSO4  7
#define VIRTIO_NET_F_GUEST_TSO6  8
#define VIRTIO_NET_F_HOST_TSO4   11
#define VIRTIO_NET_F_HOST_TSO6   12
#define VIRTIO_NET_F_MRG_RXBUF   15
#define VIRTIO_NET_F_STATUS      16
#define VIRTIO_NET_F_CTRL_VQ     17
#define VIRTIO_NET_F_MQ          22
#define VIRTIO_F_NOTIFY_ON_EMPTY 24
#define VIRTIO_F_ANY_LAYOUT      27
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX  29
#define VIRTIO_F_VERSION_1       32
#define VIRTIO_F_IOMMU_PLATFORM  33
#define VIRTIO_F_RING_PACKED     34
#define VIRTIO_F_IN_ORDER        35

#define VIRTIO_NET_S_LINK_UP     1

/* virtio 1.x 2.7: queue size is at most 32768. */
#define VU_VRING_MAX_SIZE 32768u
/* virtio-net: at most 0x8000 queue pairs; vhostd serves up to 128. */
#define VU_MAX_QUEUE_PAIRS 128u

#define BIT_ULL(n) (1ULL << (n))

#endif
