/* SPDX-License-Identifier: MIT */
/*
 * vu_front.h: the front-end (VMM) side of vhost-user.
 *
 * Tests and perf/ use it to drive any vhost-user back-end (vhostd, DPDK's
 * net_vhost, ...) without a VM: connect or accept, negotiate features,
 * share "guest" memory (vu_guestmem.h), set up split or packed rings with
 * kick and call eventfds, stop them and start them again where they
 * stopped.  Plus a raw escape hatch that sends any bytes and fds for
 * hostile-input tests.
 *
 * Every call is synchronous and bounded by the I/O timeout given at
 * connect time (SO_RCVTIMEO/SO_SNDTIMEO): -ETIMEDOUT when the back-end does
 * not answer.  Functions return 0 (or a documented value >= 0) or a
 * negative errno; -EPROTO means the back-end broke the protocol (a reply
 * with the wrong id, flags or size).  When REPLY_ACK was negotiated, every
 * request without a reply body is sent with need_reply and its ack is
 * checked: a non-zero ack in 2..4095 comes back as that negative errno
 * (vhostd acks with an errno), any other non-zero ack (1 is what DPDK and
 * libvhost-user send) as -EIO.
 *
 * Every other request of the spec has its typed call in vu_front_req.h
 * (which maps each id 1..43 to its call); the back-end request channel is
 * vu_front_backend.h.  vu_front_why() says why the last failure failed.
 *
 * One struct vu_front per connection; not thread safe.
 */
#ifndef VHOSTD_VU_FRONT_H
#define VHOSTD_VU_FRONT_H

#include <stdbool.h>
#include <stdint.h>

#include "vu_guestmem.h"
#include "../wire/vu_proto.h"

struct vu_front;

/* The vring index space of SET_VRING_* (bits 0-7 of the u64 payload). */
#define VU_FRONT_MAX_VRINGS 256u

/* What a plain virtio-net front-end with split rings asks for. */
#define VU_FRONT_FEATURES_DEFAULT                                          \
	(BIT_ULL(VIRTIO_F_VERSION_1) | BIT_ULL(VIRTIO_NET_F_MRG_RXBUF) |   \
	 BIT_ULL(VIRTIO_NET_F_MQ) | BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES))
#define VU_FRONT_PROTOCOL_DEFAULT                                          \
	(BIT_ULL(VU_PROTOCOL_F_MQ) | BIT_ULL(VU_PROTOCOL_F_REPLY_ACK) |    \
	 BIT_ULL(VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS))

/* One ring as the front-end sees it (all pointers: our mapping).  Packed:
 * desc is the descriptor ring, avail the driver area, used the device
 * area (the addresses SET_VRING_ADDR carries in those fields). */
struct vu_front_vring {
	uint16_t num;              /* 0: never set up */
	void *desc;                /* 16 * num bytes, 16 aligned */
	void *avail;               /* 6 + 2 * num bytes, 2 aligned (packed:
				    * 4 bytes, 4 aligned) */
	void *used;                /* 6 + 8 * num bytes, 4 aligned (packed:
				    * 4 bytes) */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	int kick_fd;               /* we write, back-end reads */
	int call_fd;               /* back-end writes, we read */
	bool packed;               /* VIRTIO_F_RING_PACKED layout */
	bool enabled;
	bool started;              /* set up and not stopped since */
};

/* Connection ------------------------------------------------------- */

/*
 * Connect to a back-end listening on path, retrying every 10 ms for up to
 * connect_timeout_ms while the socket is missing or refuses (the back-end
 * may still be starting).  io_timeout_ms (> 0) bounds every later send and
 * receive.  On success *out is a new front-end that owns the socket.
 * Returns 0, -ENAMETOOLONG, -ETIMEDOUT (never connected), -ENOMEM, or the
 * errno of socket()/connect().
 */
int vu_front_connect(struct vu_front **out, const char *path,
		     int connect_timeout_ms, int io_timeout_ms);

/*
 * For back-ends in client mode: listen on path (a stale socket file there
 * is replaced, any other file is an error: -EEXIST), accept one back-end
 * within accept_timeout_ms (-ETIMEDOUT otherwise), then close the
 * listening socket and unlink path.  Same *out and io_timeout_ms as above.
 */
int vu_front_accept(struct vu_front **out, const char *path,
		    int accept_timeout_ms, int io_timeout_ms);

/*
 * A front-end that outlives its back-end (QEMU with a listening chardev,
 * the back-end in client mode): vu_front_listen() makes the listening
 * socket (a stale socket file at path is replaced; the caller closes the
 * fd and unlinks path) and returns its fd or a negative errno;
 * vu_front_accept_on() waits up to timeout_ms for the first back-end on
 * lfd and makes a front-end of its connection (*out, as vu_front_connect).
 *
 * vu_front_reaccept(): the back-end went away (or is going); wait up to
 * timeout_ms for a new one on lfd and take its connection in place of the
 * old one, keeping the guest memory and every ring's memory as they are.
 * Negotiated sets are forgotten and every ring is marked stopped: the
 * caller negotiates, sends the memory table and starts each ring again
 * with vu_front_vring_restart() where the old back-end left it.  Returns
 * 0, -ETIMEDOUT or an errno.
 *
 * vu_front_split_used_idx(): the used index of split ring idx as the
 * guest memory holds it, i.e. where a back-end that used every buffer in
 * order resumes (QEMU's virtio_queue_restore_last_avail_idx() when the
 * back-end is gone: next avail = used idx).  Negative errno for a ring
 * never set up or packed.
 */
int vu_front_listen(const char *path);
int vu_front_accept_on(struct vu_front **out, int lfd, int timeout_ms,
		       int io_timeout_ms);
int vu_front_reaccept(struct vu_front *f, int lfd, int timeout_ms);
int vu_front_split_used_idx(const struct vu_front *f, uint32_t idx);

/*
 * A front-end on a connected socket the caller made (e.g. one end of a
 * socketpair whose other end the back-end was given as a passed fd).
 * Owns fd from then on (closed on failure too); io_timeout_ms as above.
 */
int vu_front_new(struct vu_front **out, int fd, int io_timeout_ms);

/*
 * Close the socket, every kick/call fd, and unmap the guest memory.
 * Accepts NULL.
 */
void vu_front_close(struct vu_front *f);

/* Why the last call that failed failed: the request, and the back-end's
 * answer or the local error ("" before any failure).  Owned by f. */
const char *vu_front_why(const struct vu_front *f);

/* The connected socket (for poll(); do not close it). */
int vu_front_sock(const struct vu_front *f);

/* Negotiation ------------------------------------------------------ */

/*
 * QEMU's order: SET_OWNER, GET_FEATURES, then if the back-end offers
 * VHOST_USER_F_PROTOCOL_FEATURES and it is in features:
 * GET_PROTOCOL_FEATURES and SET_PROTOCOL_FEATURES (protocol & offered),
 * GET_QUEUE_NUM if MQ was acked, GET_MAX_MEM_SLOTS if CONFIGURE_MEM_SLOTS
 * was acked; finally SET_FEATURES (features & offered).  Offered and acked
 * sets are kept (see the getters).  Returns 0 or the first error.
 */
int vu_front_negotiate(struct vu_front *f, uint64_t features,
		       uint64_t protocol_features);

/* The single steps, for tests that need another order.  Each records what
 * it learned or set in f (offered / acked sets, queue num, mem slots). */
int vu_front_set_owner(struct vu_front *f);
int vu_front_get_features(struct vu_front *f, uint64_t *offered);
int vu_front_set_features(struct vu_front *f, uint64_t features);
int vu_front_get_protocol_features(struct vu_front *f, uint64_t *offered);
int vu_front_set_protocol_features(struct vu_front *f, uint64_t features);
int vu_front_get_queue_num(struct vu_front *f, uint64_t *num);
int vu_front_get_max_mem_slots(struct vu_front *f, uint64_t *slots);

uint64_t vu_front_features_offered(const struct vu_front *f);
uint64_t vu_front_features_acked(const struct vu_front *f);
uint64_t vu_front_protocol_offered(const struct vu_front *f);
uint64_t vu_front_protocol_acked(const struct vu_front *f);
/* GET_QUEUE_NUM answer, 0 if never asked. */
uint64_t vu_front_queue_num(const struct vu_front *f);
/* GET_MAX_MEM_SLOTS answer, 0 if never asked. */
uint64_t vu_front_max_mem_slots(const struct vu_front *f);
/* True if protocol feature bit was acked. */
bool vu_front_has_protocol(const struct vu_front *f, unsigned int bit);

/* Memory ----------------------------------------------------------- */

/* Create the guest memory (vu_guestmem_init); once per front-end. */
int vu_front_mem_init(struct vu_front *f, const struct vu_guestmem_opts *o);

/* The guest memory, to allocate buffers or add regions; NULL before
 * vu_front_mem_init().  Owned by f. */
struct vu_guestmem *vu_front_mem(struct vu_front *f);

/* SET_MEM_TABLE with every region (at most 8: -E2BIG), one fd each. */
int vu_front_set_mem_table(struct vu_front *f);

/* ADD_MEM_REG / REM_MEM_REG of guest memory slot (needs
 * CONFIGURE_MEM_SLOTS acked: -EOPNOTSUPP).  REM_MEM_REG sends no fd. */
int vu_front_add_mem_reg(struct vu_front *f, uint32_t slot);
int vu_front_rem_mem_reg(struct vu_front *f, uint32_t slot);

/*
 * SET_LOG_BASE with log fd (not taken over), size and offset; waits for the
 * u64 reply when LOG_SHMFD was acked (-EIO if it is non-zero).
 */
int vu_front_set_log_base(struct vu_front *f, int fd, uint64_t size,
			  uint64_t offset);

/* Rings ------------------------------------------------------------ */

/*
 * Set up ring idx with num entries, in the format negotiated: a split ring
 * (num a power of two <= 32768), or with VIRTIO_F_RING_PACKED acked a
 * packed one (num in 1..32768): allocate desc/avail/used in guest memory
 * (reused if idx was set up before with the same num and format; zeroed)
 * and fresh kick/call eventfds, then send SET_VRING_NUM, SET_VRING_BASE (0;
 * packed: positions 0 and both wrap counters 1, 0x80008000),
 * SET_VRING_ADDR (our addresses), SET_VRING_KICK, SET_VRING_CALL and, if
 * VHOST_USER_F_PROTOCOL_FEATURES was acked, SET_VRING_ENABLE 1.  Needs
 * vu_front_mem_init() first (-ENOMEM when the ring does not fit).
 * Returns 0 or the first error.
 */
int vu_front_vring_setup(struct vu_front *f, uint32_t idx, uint32_t num);

/*
 * Start ring idx again after vu_front_vring_stop(), where the caller says
 * it stopped: the ring's memory is left as it is (whatever the driver
 * posted while it was stopped is still there), fresh kick/call eventfds,
 * then the messages of vu_front_vring_setup() with SET_VRING_BASE base
 * (typically what GET_VRING_BASE returned).  -EINVAL if the ring was never
 * set up, -EBUSY if it is started.  Returns 0 or the first error.
 */
int vu_front_vring_restart(struct vu_front *f, uint32_t idx, uint32_t base);

/* Set up rings 0 .. 2 * pairs - 1 (rx, tx of each queue pair). */
int vu_front_setup_queues(struct vu_front *f, uint32_t pairs, uint32_t num);

/* SET_VRING_ENABLE idx (only legal with protocol features acked). */
int vu_front_vring_enable(struct vu_front *f, uint32_t idx, bool enable);

/*
 * GET_VRING_BASE: stop ring idx; *base (may be NULL) gets the next avail
 * index the back-end would have processed (packed: vhost-user's encoding,
 * avail position | avail wrap << 15 | used position << 16 | used wrap <<
 * 31).  -EPROTO if the reply names another ring.
 */
int vu_front_vring_stop(struct vu_front *f, uint32_t idx, uint32_t *base);

/*
 * SET_VRING_ERR: the back-end signals fd when ring idx breaks (fd stays
 * the caller's; the back-end gets its own copy).  fd < 0 sends the no-fd
 * flag (no error notifications).  Returns 0 or the first error.
 */
int vu_front_set_vring_err(struct vu_front *f, uint32_t idx, int fd);

/* Ring idx, or NULL if idx >= VU_FRONT_MAX_VRINGS. */
const struct vu_front_vring *vu_front_vring(const struct vu_front *f,
					    uint32_t idx);

/* Signal the kick eventfd of ring idx.  -EBADF if it has none. */
int vu_front_kick(struct vu_front *f, uint32_t idx);

/* Raw messages (hostile-input tests) ------------------------------- */

/* Most fds vu_front_raw_send() attaches (more than a back-end accepts). */
#define VU_FRONT_RAW_MAX_FDS 32

/*
 * Send hdr as given (request, flags and size unchecked: size may lie),
 * followed by exactly len payload bytes (payload may be NULL if len is 0),
 * with nfds fds attached to the first byte (the fds stay the caller's).
 * Returns 0, -EINVAL (nfds out of range, NULL payload with len > 0) or the
 * send errno (-EPIPE once the back-end has hung up).
 */
int vu_front_raw_send(struct vu_front *f, const struct vu_hdr *hdr,
		      const void *payload, size_t len, const int *fds,
		      int nfds);

/*
 * Wait up to timeout_ms (0: only what is already there) for one message
 * and store it in *msg; fds that came with it go to fds/nfds (capacity
 * VU_MAX_FDS, caller closes them) or are closed if fds is NULL.  Returns 1,
 * -ETIMEDOUT (nothing came), -ECONNRESET (back-end closed), -EPROTO.
 */
int vu_front_raw_recv(struct vu_front *f, struct vu_msg *msg, int timeout_ms,
		      int *fds, int *nfds);

#endif
