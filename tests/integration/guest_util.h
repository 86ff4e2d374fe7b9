/* SPDX-License-Identifier: MIT */
/*
 * guest_util.h: a test guest for integration tests (cmocka): a front-end
 * with one queue pair driven by vu_drv, frames sent with a chosen
 * virtio-net header, frames received into rxf[], and vhostd's counters
 * read through vhostctl; and the vhostd a test group runs against
 * (struct tdaemon).  Include after <cmocka.h>.
 */
#ifndef VHOSTD_TEST_GUEST_UTIL_H
#define VHOSTD_TEST_GUEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/frontend/vu_drv.h"
#include "control/frontend/vu_front.h"
#include "control/wire/vu_proto.h"
#include "vhostd_proc.h"

#define IO_MS 3000
#define MAX_RX 16

/* ---- a guest ------------------------------------------------------- */

struct guest {
	struct vu_front *f;
	struct vu_drv *d;
};

/* o: the driver's options (pair 0), NULL for the defaults. */
static inline void guest_up_opts(struct guest *g, const char *sock,
				 uint64_t features, uint64_t protocol,
				 const struct vu_drv_opts *drv)
{
	struct vu_guestmem_opts mo = {.size = 16u << 20, .nregions = 1,
				      .backing = VU_GUESTMEM_MEMFD};
	struct vu_drv_opts o = drv ? *drv : (struct vu_drv_opts){.pair = 0};

	assert_int_equal(vu_front_connect(&g->f, sock, IO_MS, IO_MS), 0);
	assert_int_equal(vu_front_negotiate(g->f, features, protocol), 0);
	assert_int_equal(vu_front_features_acked(g->f), features);
	assert_int_equal(vu_front_mem_init(g->f, &mo), 0);
	assert_int_equal(vu_front_set_mem_table(g->f), 0);
	assert_int_equal(vu_front_setup_queues(g->f, 1, 256), 0);
	assert_int_equal(vu_drv_create(&g->d, g->f, &o), 0);
}

static inline void guest_up_proto(struct guest *g, const char *sock,
				  uint64_t features, uint64_t protocol)
{
	guest_up_opts(g, sock, features, protocol, NULL);
}

static inline void guest_up(struct guest *g, const char *sock,
			    uint64_t features)
{
	guest_up_proto(g, sock, features, VU_FRONT_PROTOCOL_DEFAULT);
}

static inline void guest_down(struct guest *g)
{
	if (!g->f)
		return;
	vu_drv_destroy(g->d);
	vu_front_close(g->f);
	*g = (struct guest){0};
	msleep(20);   /* let vhostd reset the device before the next test */
}



static inline void send_frame(struct guest *g, const uint8_t *frame,
			      uint32_t len, const struct virtio_net_hdr *h)
{
	uint8_t *slot;

	for (int i = 0; i < IO_MS && vu_drv_tx_reserve(g->d, &slot, 1) == 0;
	     i++)
		msleep(1);
	memcpy(slot, frame, len);
	memcpy(vu_drv_tx_hdr(g->d, slot), h, sizeof(*h));
	assert_int_equal(vu_drv_tx_commit(g->d, &len, 1), 1);
}

struct rx_frame {
	struct virtio_net_hdr hdr;
	uint32_t len;
	uint8_t data[4096];
};

static struct rx_frame rxf[MAX_RX];
static unsigned nrx;
/* Called with each received frame after it was recorded (NULL: none). */
static void (*rx_hook)(const struct vu_drv_rx_pkt *pkt);

static inline void on_rx(void *arg, const struct vu_drv_rx_pkt *pkt)
{
	(void)arg;
	if (nrx == MAX_RX)
		return;
	if (rx_hook)
		rx_hook(pkt);
	rxf[nrx].hdr = pkt->hdr;
	rxf[nrx].len = (uint32_t)vu_drv_rx_copy(pkt, 0, rxf[nrx].data,
						 sizeof(rxf[nrx].data));
	nrx++;
}

/* Receive until n frames arrived (or IO_MS passed); returns how many. */
static inline unsigned recv_frames(struct guest *g, unsigned n)
{
	nrx = 0;
	for (int ms = 0; nrx < n && ms < IO_MS; ms++) {
		if (vu_drv_rx_poll(g->d, MAX_RX, on_rx, NULL) == 0)
			msleep(1);
	}
	msleep(20);   /* anything beyond n would show up now */
	vu_drv_rx_poll(g->d, MAX_RX, on_rx, NULL);
	return nrx;
}

/* ---- vhostd's counters --------------------------------------------- */

/* Counter key of port/ring's queue line in `vhostctl CTL stats`. */
static inline uint64_t stat_of(const char *vhostctl, const char *ctl,
			       const char *port, int ring, const char *key)
{
	char cmd[300], line[2048], want[64];
	uint64_t v = 0;

	snprintf(cmd, sizeof(cmd), "%s %s stats", vhostctl, ctl);
	snprintf(want, sizeof(want), "queue port=%s ring=%d ", port, ring);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		char *k = strstr(line, key);
		if (strncmp(line, want, strlen(want)) == 0 && k)
			v = strtoull(k + strlen(key) + 1, NULL, 10);
	}
	pclose(p);
	return v;
}


/* ---- the daemon of a test group ------------------------------------ */

#define TD_MAX_PORTS 8

struct tdaemon {
	const char *bin, *ctl_bin;      /* vhostd, vhostctl */
	char dir[64], ctl[128], log[128];
	char sock[TD_MAX_PORTS][128];   /* port i's socket: DIR/NAME.sock */
	const char *bridge;             /* non-NULL: every port on it */
	struct vhostd_proc proc;
};

/* argv[1] vhostd, argv[2] vhostctl (meson passes the built ones). */
static inline int tdaemon_args(struct tdaemon *t, int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s VHOSTD VHOSTCTL\n", argv[0]);
		return -1;
	}
	t->bin = argv[1];
	t->ctl_bin = argv[2];
	t->bridge = NULL;
	return 0;
}

/* Start vhostd in a fresh temp dir with a vhost port per name in ports
 * (NULL-terminated), the wiring options and a control socket; wait until
 * every socket is there. */
static inline int tdaemon_start(struct tdaemon *t, const char *const *ports,
				char *const *wiring)
{
	char spec[TD_MAX_PORTS][160];
	char *args[48];
	int n = 0, np = 0;

	snprintf(t->dir, sizeof(t->dir), "/tmp/vhostd-it.XXXXXX");
	if (!mkdtemp(t->dir))
		return -1;
	snprintf(t->ctl, sizeof(t->ctl), "%s/ctl.sock", t->dir);
	snprintf(t->log, sizeof(t->log), "%s/vhostd.log", t->dir);
	for (; ports[np] && np < TD_MAX_PORTS; np++) {
		snprintf(t->sock[np], sizeof(t->sock[np]), "%s/%s.sock", t->dir,
			 ports[np]);
		snprintf(spec[np], sizeof(spec[np]), "%s=vhost:%s%s%s",
			 ports[np], t->sock[np], t->bridge ? ",bridge=" : "",
			 t->bridge ? t->bridge : "");
		args[n++] = "--port";
		args[n++] = spec[np];
	}
	while (*wiring && n < 44)
		args[n++] = *wiring++;
	args[n++] = "--control";
	args[n++] = t->ctl;
	args[n] = NULL;
	if (vhostd_start(&t->proc, t->bin, t->log, args) < 0)
		return -1;
	for (int i = 0; i < np; i++)
		if (!wait_path(t->sock[i], 5000))
			return -1;
	return wait_path(t->ctl, 5000) ? 0 : -1;
}

/* SIGTERM; vhostd must exit 0.  The temp dir goes too. */
static inline int tdaemon_stop(struct tdaemon *t)
{
	char cmd[200];

	if (vhostd_stop(&t->proc) != 0) {
		fprintf(stderr, "vhostd did not exit 0; log %s\n", t->log);
		return -1;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Counter key of port/ring (vhostctl stats). */
static inline uint64_t tdaemon_stat(const struct tdaemon *t, const char *port,
				    int ring, const char *key)
{
	return stat_of(t->ctl_bin, t->ctl, port, ring, key);
}

#endif
