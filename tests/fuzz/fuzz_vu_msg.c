/* SPDX-License-Identifier: MIT */
/*
 * fuzz_vu_msg.c: the vhost-user message decoder (control/wire/vu_msg.c) and the
 * whole request table (vu_table.c, vu_dev.c and every handler), driven by a
 * sequence of messages over a real unix socket pair into a real struct
 * vu_dev, with a datapath that builds the rings as the daemon does and
 * forwards one burst (--reflect) after every message.
 *
 * Input: one byte (1 or 2 queue pairs), then records:
 *   ctl   bits 0-3: fds to attach (0..15: more than VU_MAX_FDS too),
 *         bit 4: eventfds (0) or memfds (1) for requests without memory,
 *         bit 5: a u16 length and that many bytes follow the payload,
 *                written into the first memfd at its region's offset (the
 *                guest's rings and buffers),
 *         bit 6: the front-end reconnects first (new socket),
 *         bit 7: the front-end closes its socket after this record;
 *   hdr   12 bytes as sent (request, flags, size);
 *   body  min(size, VU_PAYLOAD_MAX) bytes (fewer when the input ends).
 * Memory requests (SET_MEM_TABLE, ADD_MEM_REG, SET_LOG_BASE) get memfds as
 * long as each region's offset + size asks (sparse files), as an honest
 * VMM would; the rest get eventfds or 4 KiB memfds.  After each record
 * the back-end reads whatever is complete and handles it; replies are read
 * and thrown away.  At the end: no fd of this input may still be open, and
 * LeakSanitizer checks the heap.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control/daemon/vhostd_opts.h"
#include "control/backend/vu_dev.h"
#include "control/wire/vu_msg.h"
#include "datapath/vnet.h"
#include "fuzz.h"

#define MAX_QP 2u
#define MAX_FILE (1ull << 40)     /* sparse: only touched pages count */
#define MAX_FD 1024

static struct {
	struct vu_dev dev;
	int sock[2];              /* 0: vhostd's end, 1: the front-end's */
	struct vu_rx rx;
	bool fd_before[MAX_FD];   /* open before the first input */
	bool mine[MAX_FD];        /* fds this input made or passed */
	/* The datapath: the device's vqs as control/daemon/vhostd_dp.c builds
	 * them, and one reflecting path per queue pair. */
	struct vq vq[2 * MAX_QP];
	bool live[2 * MAX_QP];
	struct vnet_path path;
} g;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Every refusal logs one line (its contract): not what we fuzz;
	 * FUZZ_LOG=1 keeps them (replaying a finding). */
	FILE *null = getenv("FUZZ_LOG") ? NULL : fopen("/dev/null", "w");
	if (null)
		stderr = null;
	/* fds open before any input (inherited ones too) are not ours. */
	for (int fd = 0; fd < MAX_FD; fd++)
		g.fd_before[fd] = fcntl(fd, F_GETFD) >= 0;
	return 0;
}

/* Every fd number the harness made or vhostd received (sanitizer and
 * libFuzzer internals open pipes of their own now and then). */
static void note_fd(int fd)
{
	if (fd >= 0 && fd < MAX_FD)
		g.mine[fd] = true;
}

static bool has(int bit)
{
	return g.dev.features & BIT_ULL(bit);
}

/* The datapath may touch [p, p + len): it must be guest memory. */
static void check_in_guest(const struct vu_dev *d, uint32_t i,
			   const char *part, const void *p, uint64_t len)
{
	const struct gmem *t = d->mem.table;
	const uint8_t *b = p;

	for (uint32_t k = 0; t && k < t->n; k++) {
		const struct gmem_region *r = &t->r[k];
		if (b >= r->hva && b < r->hva + r->size &&
		    len <= r->size - (uint64_t)(b - r->hva))
			return;
	}
	fprintf(stdout, "ring %u: %s (%llu bytes) is not inside guest "
		"memory for the layout in force\n", i, part,
		(unsigned long long)len);
	fflush(stdout);
	abort();
}

/* vhostd_dp.c's vq_build(): the ring as the negotiated layout has it,
 * after checking that every part of it, in that layout, is guest memory
 * (virtio 1.x 2.7 split: desc 16 * num, avail 6 + 2 * num, used
 * 6 + 8 * num; 2.8 packed: desc 16 * num, two 4-byte event areas). */
static bool vq_build(uint32_t i)
{
	struct vu_dev *d = &g.dev;
	const struct vu_vring *vr = &d->vr[i];

	if (!vu_vring_ready(d, i))
		return false;
	bool packed = has(VIRTIO_F_RING_PACKED);
	uint16_t at = (uint16_t)(packed ? (vr->base & 0x7fff) : vr->base);
	uint16_t used_at = (uint16_t)((vr->base >> 16) & 0x7fff);
	if (packed && (at >= vr->num || used_at >= vr->num))
		return false;
	uint64_t n = vr->num;
	check_in_guest(d, i, "descriptor ring", vr->desc, 16 * n);
	check_in_guest(d, i, packed ? "driver area" : "avail ring", vr->avail,
		       packed ? 4 : 6 + 2 * n);
	check_in_guest(d, i, packed ? "device area" : "used ring", vr->used,
		       packed ? 4 : 6 + 8 * n);
	struct vq_cfg c = {
		.index = i, .dev_name = d->name, .packed = packed,
		.desc = vr->desc, .avail = vr->avail, .used = vr->used,
		.size = (uint16_t)vr->num, .last_avail = at,
		.avail_wrap = (vr->base >> 15) & 1, .used_idx = used_at,
		.used_wrap = vr->base >> 31, .desc_gpa = vr->desc_gpa,
		.event_idx = has(VIRTIO_RING_F_EVENT_IDX),
		.indirect = has(VIRTIO_RING_F_INDIRECT_DESC),
		.mrg_rxbuf = has(VIRTIO_NET_F_MRG_RXBUF),
		.in_order = has(VIRTIO_F_IN_ORDER),
		.tx = i & 1, .mem = d->mem.table,
		.log = has(VHOST_F_LOG_ALL) && d->log.base ? &d->log : NULL,
		.used_gpa = vr->used_gpa,
		.log_used = vr->addr.flags & BIT_ULL(VHOST_VRING_F_LOG),
		.call_fd = vr->call_fd, .err_fd = vr->err_fd,
	};
	vq_init(&g.vq[i], &c);
	return true;
}

/* vhostd_dp.c's dp_pause(): save where each started ring stands. */
static void dp_pause(struct vu_dev *d, void *ctx)
{
	(void)ctx;
	for (uint32_t i = 0; i < d->nvrings; i++) {
		if (!g.live[i])
			continue;
		struct vq *vq = &g.vq[i];
		if (d->vr[i].started)
			d->vr[i].base = vq->packed ? vq_packed_base(vq) :
					vq->last_avail;
		if (vq->broken)
			d->vr[i].broken = true;
		g.live[i] = false;
	}
}

static void dp_resume(struct vu_dev *d, void *ctx)
{
	(void)ctx;
	for (uint32_t i = 0; i < d->nvrings; i++)
		g.live[i] = vq_build(i);
}

/* One burst per queue pair, the guest's TX back into its RX. */
static void dp_poll(void)
{
	struct vu_dev *d = &g.dev;
	uint32_t hl = vu_dev_vnet_hdr_len(d);

	for (uint32_t qp = 0; qp < d->nvrings / 2; qp++) {
		if (!g.live[2 * qp + 1] || !d->vr[2 * qp + 1].enabled)
			continue;
		struct vnet_path *p = &g.path;
		p->src = &g.vq[2 * qp + 1];
		p->dst = g.live[2 * qp] && d->vr[2 * qp].enabled ?
			 &g.vq[2 * qp] : NULL;
		p->dst_none = VNET_DROP_DST_DOWN;
		p->announce = NULL;
		p->source = NULL;
		p->src_hdr_len = p->dst_hdr_len = hl;
		p->snd = (struct ofl_caps){has(VIRTIO_NET_F_CSUM),
			has(VIRTIO_NET_F_HOST_TSO4),
			has(VIRTIO_NET_F_HOST_TSO6), false};
		p->rcv = (struct ofl_caps){has(VIRTIO_NET_F_GUEST_CSUM),
			has(VIRTIO_NET_F_GUEST_TSO4),
			has(VIRTIO_NET_F_GUEST_TSO6), false};
		p->reflect = true;
		/* As vhostd_dp.c: the guest's MTU with VIRTIO_NET_F_MTU and
		 * no GUEST_TSO, else any frame up to VNET_FRAME_MAX. */
		p->frame_max = has(VIRTIO_NET_F_MTU) && d->mtu &&
			       !has(VIRTIO_NET_F_GUEST_TSO4) &&
			       !has(VIRTIO_NET_F_GUEST_TSO6) ?
			       MIN(d->mtu + VNET_L2_MAX, VNET_FRAME_MAX) :
			       VNET_FRAME_MAX;
		(void)vnet_path_poll(p);
	}
}

static void connect_pair(void)
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       0, g.sock) < 0)
		abort();
	note_fd(g.sock[0]);
	note_fd(g.sock[1]);
	vu_rx_init(&g.rx);
}

static void close_pair(void)
{
	for (int i = 0; i < 2; i++)
		if (g.sock[i] >= 0)
			close(g.sock[i]);
	g.sock[0] = g.sock[1] = -1;
}

/* The front-end went away: what vu_port.c does on a closed connection. */
static void reconnect(void)
{
	vu_rx_close_fds(&g.rx);
	vu_dev_disconnect(&g.dev);
	close_pair();
	connect_pair();
}

static int memfd_of(uint64_t off, uint64_t size)
{
	int fd = memfd_create("fuzz-mem", MFD_CLOEXEC);

	if (fd < 0)
		abort();
	if (off + size >= off && off + size <= MAX_FILE)
		(void)!ftruncate(fd, (off_t)(off + size));
	return fd;
}

/* fd i of a message: the files a memory request's regions ask for. */
static int make_fd(const struct vu_hdr *h, const uint8_t *body, size_t blen,
		   int i, bool mem, uint64_t *fill_at)
{
	uint64_t v[4] = {0, 0, 0, 0};
	size_t at = 0;

	*fill_at = 0;
	switch (h->request) {
	case VU_REQ_SET_MEM_TABLE:
		at = 8 + 32 * (size_t)i;
		break;
	case VU_REQ_ADD_MEM_REG:
		at = i == 0 ? 8 : SIZE_MAX;
		break;
	case VU_REQ_SET_LOG_BASE:
		if (blen >= 16) {
			memcpy(v, body, 16);   /* mmap_size, mmap_offset */
			*fill_at = v[1];
			return memfd_of(v[1], v[0]);
		}
		return memfd_of(0, 4096);
	default:
		if (mem)
			return memfd_of(0, 4096);
		int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (fd < 0)
			abort();
		return fd;
	}
	if (at != SIZE_MAX && at + 32 <= blen)
		memcpy(v, body + at, 32);   /* gpa, size, uva, offset */
	*fill_at = v[3];
	return memfd_of(v[3], v[1]);
}

static void send_raw(const uint8_t *buf, size_t len, const int *fds, int n)
{
	char cbuf[CMSG_SPACE(16 * sizeof(int))];
	struct iovec iov = {(void *)buf, len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	if (n) {
		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE((size_t)n * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
		memcpy(CMSG_DATA(c), fds, (size_t)n * sizeof(int));
	}
	(void)!sendmsg(g.sock[1], &mh, MSG_NOSIGNAL);
}

/* Replies: read and dropped (vhostd sends no fds, but close any). */
static void drain_replies(void)
{
	uint8_t buf[4096];
	char cbuf[CMSG_SPACE(16 * sizeof(int))];

	for (;;) {
		struct iovec iov = {buf, sizeof(buf)};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
				    .msg_control = cbuf,
				    .msg_controllen = sizeof(cbuf)};
		if (g.sock[1] < 0 || recvmsg(g.sock[1], &mh, MSG_DONTWAIT) <= 0)
			return;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c;
		     c = CMSG_NXTHDR(&mh, c)) {
			int n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			for (int k = 0; k < n; k++)
				close(((int *)CMSG_DATA(c))[k]);
		}
	}
}

/* What vu_port.c does when the socket is readable. */
static void backend_read(void)
{
	for (;;) {
		int r = vu_rx_read(&g.rx, g.sock[0]);
		if (r == 0)
			return;
		if (r < 0) {
			reconnect();
			return;
		}
		for (int k = 0; k < g.rx.nfds; k++)
			note_fd(g.rx.fds[k]);
		uint32_t req = g.rx.msg.hdr.request;
		uint64_t refusals = g.dev.refusals;
		uint8_t mac[6];
		memcpy(mac, g.dev.mac, 6);
		int err = vu_dev_handle_msg(&g.dev, g.sock[0], &g.rx.msg,
					    g.rx.fds, g.rx.nfds);
		/* A refused SET_CONFIG (connection kept: REPLY_ACK) changes
		 * nothing, the MAC it carries included.  (A closed
		 * connection resets the device to the configured MAC.) */
		if (req == VU_REQ_SET_CONFIG && err == 0 &&
		    g.dev.refusals != refusals &&
		    memcmp(mac, g.dev.mac, 6) != 0) {
			fprintf(stdout, "refused SET_CONFIG changed the MAC\n");
			fflush(stdout);
			abort();
		}
		vu_rx_init(&g.rx);
		drain_replies();
		if (err < 0) {
			reconnect();
			return;
		}
		dp_poll();
	}
}

static void one_record(struct fz *f)
{
	uint8_t ctl = fz_u8(f);
	uint8_t buf[sizeof(struct vu_hdr) + VU_PAYLOAD_MAX];
	struct vu_hdr h;
	int fds[16];
	uint64_t fill_at = 0;

	if (ctl & 0x40)
		reconnect();
	fz_bytes(f, &h, sizeof(h));
	size_t blen = MIN((size_t)h.size, MIN((size_t)VU_PAYLOAD_MAX, f->left));
	memcpy(buf, &h, sizeof(h));
	fz_bytes(f, buf + sizeof(h), blen);
	int n = ctl & 15;
	for (int i = 0; i < n; i++) {
		uint64_t at;
		fds[i] = make_fd(&h, buf + sizeof(h), blen, i, ctl & 0x10, &at);
		note_fd(fds[i]);
		if (i == 0)
			fill_at = at;
	}
	if (ctl & 0x20) {
		uint16_t len = fz_u16(f);
		len = (uint16_t)MIN((size_t)len, f->left);
		if (n > 0 && fill_at <= MAX_FILE)
			(void)!pwrite(fds[0], f->p, len, (off_t)fill_at);
		f->p += len;
		f->left -= len;
	}
	send_raw(buf, sizeof(h) + blen, fds, n);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	if (ctl & 0x80) {
		close(g.sock[1]);
		g.sock[1] = -1;
	}
	backend_read();
	if (g.sock[1] < 0)
		reconnect();
}

static void check_no_fd_left(void)
{
	for (int fd = 0; fd < MAX_FD; fd++)
		if (g.mine[fd] && !g.fd_before[fd] &&
		    fcntl(fd, F_GETFD) >= 0) {
			char l[64], t[256] = "";
			snprintf(l, sizeof(l), "/proc/self/fd/%d", fd);
			(void)!readlink(l, t, sizeof(t) - 1);
			fprintf(stdout, "fd %d (%s) left open\n", fd, t);
			fflush(stdout);
			abort();
		}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	struct vu_dev_cfg cfg = {
		.name = "fuzz0", .features = vhostd_default_features(),
		.protocol_features = vhostd_default_protocol_features(),
		.mac = {0x02, 0, 0, 0, 0, 1}, .mtu = 1500,
	};

	cfg.max_queue_pairs = fz_u8(&f) % MAX_QP + 1;
	memset(g.mine, 0, sizeof(g.mine));
	memset(g.live, 0, sizeof(g.live));
	if (vu_dev_init(&g.dev, &cfg) < 0)
		abort();
	g.dev.ops = (struct vu_dev_ops){dp_pause, dp_resume, NULL};
	connect_pair();
	for (int k = 0; f.left > 0 && k < 64; k++)
		one_record(&f);
	close(g.sock[1]);   /* EOF: a half message is dropped */
	g.sock[1] = -1;
	backend_read();
	vu_rx_close_fds(&g.rx);
	vu_dev_fini(&g.dev);
	close_pair();
	check_no_fd_left();
	return 0;
}
