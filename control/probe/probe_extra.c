/* SPDX-License-Identifier: MIT */
/* probe_extra.c: memory slots filled up to the back-end's limit, and a
 * frame sent through a back-end that reflects. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "probe.h"
#include "../frontend/vu_drv.h"

#define SLOT_SIZE (64ULL << 10)
#define SLOT_GPA  (1ULL << 32) /* far above the table's regions */
#define FRAME_LEN 60u

/* Add regions until n are in use; returns how many were added, *rc the
 * first failure (0 if none). */
static uint32_t add_regions(struct probe *p, uint32_t first, uint32_t n,
			    uint32_t *slots, int *rc)
{
	struct vu_guestmem_opts mo = {.backing = VU_GUESTMEM_MEMFD};
	struct vu_guestmem *gm = vu_front_mem(p->f);
	uint32_t k;

	*rc = 0;
	for (k = 0; k < n; k++) {
		int s = vu_guestmem_add_region(gm, &mo, SLOT_GPA + (first + k) * SLOT_SIZE,
					       SLOT_SIZE);
		if (s < 0) {
			*rc = s;
			break;
		}
		slots[k] = (uint32_t)s;
		*rc = vu_front_add_mem_reg(p->f, (uint32_t)s);
		if (*rc < 0)
			break;
	}
	return k;
}

void probe_mem_slots(struct probe *p)
{
	static uint32_t slots[VU_GUESTMEM_MAX_REGIONS];
	struct vu_guestmem_opts mo = {.size = 1ULL << 20, .nregions = 1,
				      .backing = VU_GUESTMEM_MEMFD};
	char check[64];
	int rc;

	if (p->dead || !(p->protocol & BIT_ULL(
			VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS)) || !p->mem_slots)
		return;
	probe_close(p);
	if (probe_need(p, PL_NEGOTIATED) < 0)
		return;
	uint32_t sess = p->sessions;
	/* Region 0 by ADD_MEM_REG too, then fill up to the limit (what our
	 * guest memory can hold: slots beyond it are not tested). */
	uint64_t limit = p->mem_slots;
	if (limit > VU_GUESTMEM_MAX_REGIONS - 1)
		limit = VU_GUESTMEM_MAX_REGIONS - 1;
	rc = vu_front_mem_init(p->f, &mo);
	if (rc == 0)
		rc = vu_front_add_mem_reg(p->f, 0);
	uint32_t k = rc < 0 ? 0 : add_regions(p, 0, (uint32_t)limit - 1,
					      slots, &rc);
	snprintf(check, sizeof(check), "%u regions (limit %llu)", k + 1,
		 (unsigned long long)p->mem_slots);
	if (probe_judge(p, "ADD_MEM_REG", check, PE_SERVE, rc) != PV_OK ||
	    !p->f || p->sessions != sess)
		goto out;
	if (limit == p->mem_slots) {
		uint32_t extra;
		(void)add_regions(p, k, 1, &extra, &rc);
		probe_judge(p, "ADD_MEM_REG", "one beyond the limit", PE_REFUSE,
			    rc);
		if (!p->f || p->sessions != sess)
			goto out;
	}
	rc = 0;
	for (uint32_t i = 0; i < k && rc == 0; i++)
		rc = vu_front_rem_mem_reg(p->f, slots[i]);
	snprintf(check, sizeof(check), "%u regions, no fd", k);
	if (probe_judge(p, "REM_MEM_REG", check, PE_SERVE, rc) == PV_OK &&
	    p->f && p->sessions == sess)
		probe_judge(p, "ADD_MEM_REG", "a removed slot again", PE_SERVE,
			    vu_front_add_mem_reg(p->f, slots[0]));
out:
	probe_close(p);
}

struct reflect_ctx {
	const uint8_t *sent;
	bool seen, same;
};

static void on_frame(void *arg, const struct vu_drv_rx_pkt *pkt)
{
	struct reflect_ctx *c = arg;
	uint8_t buf[FRAME_LEN];

	if (pkt->len != FRAME_LEN)
		return;
	vu_drv_rx_copy(pkt, 0, buf, FRAME_LEN);
	c->seen = true;
	/* A reflector may swap the MACs: compare from the EtherType on. */
	c->same = memcmp(buf + 12, c->sent + 12, FRAME_LEN - 12) == 0;
}

void probe_reflect(struct probe *p)
{
	struct vu_drv_opts o = {.pair = 0};
	struct vu_drv *d = NULL;
	uint8_t frame[FRAME_LEN];
	struct reflect_ctx c = {.sent = frame};

	if (!p->o.reflect || p->dead)
		return;
	probe_close(p); /* fresh rings, started once */
	if (probe_need(p, PL_RINGS) < 0)
		return;
	memset(frame, 0xff, 6);
	memcpy(frame + 6, "\x02\x00\x00\x00\x00\x01\x88\xb5", 8);
	for (uint32_t i = 14; i < FRAME_LEN; i++)
		frame[i] = (uint8_t)i;
	int rc = vu_drv_create(&d, p->f, &o);
	const void *fr = frame;
	uint32_t len = FRAME_LEN;
	if (rc == 0)
		rc = vu_drv_tx_burst(d, &fr, &len, 1) == 1 ? 0 : -EIO;
	for (int ms = 0; rc == 0 && !c.seen && ms < p->o.timeout_ms; ms++) {
		struct timespec ts = {0, 1000000};
		vu_drv_rx_poll(d, 8, on_frame, &c);
		nanosleep(&ts, NULL);
	}
	vu_drv_destroy(d);
	if (rc < 0)
		probe_record(p, "(datapath)", "a 60-byte frame on ring 1",
			     "read back on ring 0", PV_WRONG,
			     "could not send: %s", strerror(-rc));
	else
		probe_record(p, "(datapath)", "a 60-byte frame on ring 1",
			     "read back on ring 0", c.seen && c.same ? PV_OK :
			     c.seen ? PV_WRONG : PV_HANG, "%s", c.same ?
			     "read back" : c.seen ? "came back changed" :
			     "nothing came back");
	probe_close(p); /* the rings now hold the driver's buffers */
}
