/* SPDX-License-Identifier: MIT */
/* probe_session.c: vu-probe's sessions (connect or accept, negotiate,
 * memory, rings), and the judge that turns an outcome into a verdict. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "probe.h"
#include "../frontend/vu_front_req.h"

#define PROBE_MEM_SIZE (32ULL << 20)
#define PROBE_RING_NUM 256u
/* virtio 1.x 2.1: ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK. */
#define PROBE_DRIVER_OK 0x0fu

bool probe_pid_dead(const struct probe *p)
{
	return p->o.pid > 0 && kill(p->o.pid, 0) < 0 && errno == ESRCH;
}

void probe_close(struct probe *p)
{
	vu_front_close(p->f);
	p->f = NULL;
}

static int session_memory(struct probe *p)
{
	struct vu_guestmem_opts mo = {
		.size = PROBE_MEM_SIZE, .nregions = 2, .gpa_base = 0,
		.backing = VU_GUESTMEM_MEMFD,
	};
	int ret = vu_front_mem_init(p->f, &mo);

	return ret < 0 ? ret : vu_front_set_mem_table(p->f);
}

int probe_open(struct probe *p, enum probe_level level)
{
	int ret;

	probe_close(p);
	if (p->o.listen)
		ret = vu_front_accept(&p->f, p->o.path, p->o.connect_ms,
				      p->o.timeout_ms);
	else
		ret = vu_front_connect(&p->f, p->o.path, p->o.connect_ms,
				       p->o.timeout_ms);
	if (ret < 0) {
		p->f = NULL;
		return ret;
	}
	p->sessions++;
	uint64_t feat = p->want_features;
	if (p->packed)
		feat |= BIT_ULL(VIRTIO_F_RING_PACKED);
	ret = vu_front_negotiate(p->f, feat, p->want_protocol);
	if (ret == 0 && level >= PL_MEMORY)
		ret = session_memory(p);
	if (ret == 0 && level >= PL_RINGS)
		ret = vu_front_setup_queues(p->f, 1, PROBE_RING_NUM);
	/* As QEMU does: with STATUS the device is live at DRIVER_OK (DPDK
	 * waits for it before it touches the rings). */
	if (ret == 0 && level >= PL_RINGS &&
	    vu_front_has_protocol(p->f, VU_PROTOCOL_F_STATUS))
		ret = vu_front_set_status(p->f, PROBE_DRIVER_OK);
	if (ret < 0) {
		fprintf(stderr, "vu-probe: session %u: %s\n", p->sessions,
			vu_front_why(p->f));
		probe_close(p);
		return ret;
	}
	p->level = level;
	return 0;
}

int probe_need(struct probe *p, enum probe_level level)
{
	if (p->dead)
		return -ENOTCONN;
	if (p->f && p->level >= level)
		return 0;
	int ret = probe_open(p, level);
	if (ret < 0 && probe_pid_dead(p))
		p->dead = true;
	return ret;
}

const char *probe_verdict_name(enum probe_verdict v)
{
	static const char *const names[] = {
		[PV_OK] = "ok", [PV_REFUSED] = "refused as documented",
		[PV_WRONG] = "wrong answer", [PV_HANG] = "hang",
		[PV_DISCONNECT] = "disconnect", [PV_CRASH] = "crash",
	};
	return v <= PV_CRASH ? names[v] : "?";
}

bool probe_verdict_bad(enum probe_verdict v)
{
	return v != PV_OK && v != PV_REFUSED;
}

void probe_record(struct probe *p, const char *request, const char *check,
		  const char *expected, enum probe_verdict v,
		  const char *fmt, ...)
{
	va_list ap;

	if (p->nres == PROBE_MAX_RESULTS)
		return;
	struct probe_result *r = &p->res[p->nres++];
	snprintf(r->request, sizeof(r->request), "%s", request);
	snprintf(r->check, sizeof(r->check), "%s", check);
	snprintf(r->expected, sizeof(r->expected), "%s", expected);
	va_start(ap, fmt);
	vsnprintf(r->answered, sizeof(r->answered), fmt, ap);
	va_end(ap);
	r->verdict = v;
}

/* What happened, before it is held against the expectation. */
enum outcome { O_SERVED, O_NACK, O_WRONG, O_HANG, O_CLOSED, O_GONE };

/* The connection closed: a new one tells "refused by closing" from a
 * back-end that is gone. */
static enum outcome after_close(struct probe *p)
{
	probe_close(p);
	if (!probe_pid_dead(p) && probe_open(p, PL_NEGOTIATED) == 0)
		return O_CLOSED;
	p->dead = true;
	return O_GONE;
}

/* Is the session still answering, with the same features? */
static enum outcome sync_check(struct probe *p, char *txt, size_t len)
{
	uint64_t v;
	int ret = vu_front_get_features(p->f, &v);

	if (ret == -ECONNRESET || ret == -EPIPE) {
		snprintf(txt, len, "connection closed");
		return after_close(p);
	}
	if (ret == -ETIMEDOUT) {
		snprintf(txt, len, "no answer to the next GET_FEATURES");
		probe_close(p);
		return probe_pid_dead(p) ? O_GONE : O_HANG;
	}
	if (ret < 0 || v != p->features) {
		snprintf(txt, len, "next GET_FEATURES: %s",
			 ret < 0 ? vu_front_why(p->f) : "features changed");
		probe_close(p);
		return O_WRONG;
	}
	return O_SERVED;
}

static enum outcome classify(struct probe *p, int rc, const char *answer,
			     char *txt, size_t len)
{
	if (rc == -ETIMEDOUT) {
		snprintf(txt, len, "no answer in %d ms", p->o.timeout_ms);
		probe_close(p);
		return probe_pid_dead(p) ? O_GONE : O_HANG;
	}
	if (rc == -ECONNRESET || rc == -EPIPE) {
		snprintf(txt, len, "connection closed");
		return after_close(p);
	}
	enum outcome o = rc == 0 ? O_SERVED : rc == -EPROTO ? O_WRONG : O_NACK;
	if (answer)
		snprintf(txt, len, "%s", answer);
	else if (rc == 0)
		snprintf(txt, len, "served");
	else
		snprintf(txt, len, "%s", vu_front_why(p->f));
	char s[PROBE_TEXT];
	enum outcome so = sync_check(p, s, sizeof(s));
	if (so == O_SERVED)
		return o;
	/* Closed after a request it took without an ack: a refusal by
	 * closing, as vhostd does with a failure nobody asked about. */
	snprintf(txt, len, "%s", s);
	return so;
}

enum probe_verdict probe_judge(struct probe *p, const char *request,
			       const char *check, enum probe_expect e,
			       int rc)
{
	return probe_judge_txt(p, request, check, e, rc, NULL);
}

enum probe_verdict probe_judge_txt(struct probe *p, const char *request,
				   const char *check, enum probe_expect e,
				   int rc, const char *answer)
{
	static const enum probe_verdict serve[] = {
		[O_SERVED] = PV_OK, [O_NACK] = PV_WRONG, [O_WRONG] = PV_WRONG,
		[O_HANG] = PV_HANG, [O_CLOSED] = PV_DISCONNECT,
		[O_GONE] = PV_CRASH,
	};
	static const enum probe_verdict refuse[] = {
		[O_SERVED] = PV_WRONG, [O_NACK] = PV_REFUSED,
		[O_WRONG] = PV_WRONG, [O_HANG] = PV_HANG,
		[O_CLOSED] = PV_REFUSED, [O_GONE] = PV_CRASH,
	};
	char txt[PROBE_TEXT];
	enum outcome o;

	if (!p->f) {
		o = O_CLOSED;
		snprintf(txt, sizeof(txt), "no session");
	} else {
		o = classify(p, rc, answer, txt, sizeof(txt));
	}
	enum probe_verdict v = e == PE_SERVE ? serve[o] : refuse[o];
	if (e == PE_REFUSE && o == O_SERVED && !answer)
		snprintf(txt, sizeof(txt), "accepted");
	probe_record(p, request, check, e == PE_SERVE ? "served" : "refused",
		     v, "%s", txt);
	return v;
}
