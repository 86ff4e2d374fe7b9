/* SPDX-License-Identifier: MIT */
/*
 * probe.h: vu-probe, a conformance probe for vhost-user-net back-ends,
 * built on the front-end library (control/frontend).
 *
 * A run is a list of checks.  Each check needs a session (a connection,
 * negotiated, perhaps with memory and rings), sends one request (typed,
 * or raw for malformed ones), says what it expected (served, or refused)
 * and records what came back with a verdict.  A session that the
 * back-end closed is replaced by a new one for the next check; whether
 * the back-end survived is learned from that reconnection (and from its
 * pid when --pid names it).
 */
#ifndef VHOSTD_PROBE_H
#define VHOSTD_PROBE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../frontend/vu_front.h"

enum probe_verdict {
	PV_OK,          /* served as the spec asks */
	PV_REFUSED,     /* refused (error ack, or connection closed) a
			 * request it must refuse, and lives on */
	PV_WRONG,       /* an answer the spec does not allow */
	PV_HANG,        /* no answer within the timeout */
	PV_DISCONNECT,  /* closed the connection on a valid request */
	PV_CRASH,       /* gone: no new connection, or its pid died */
};

/* "ok", "refused as documented", ... */
const char *probe_verdict_name(enum probe_verdict v);
/* A verdict that makes vu-probe exit non-zero. */
bool probe_verdict_bad(enum probe_verdict v);

#define PROBE_MAX_RESULTS 256
#define PROBE_TEXT 120

struct probe_result {
	char request[40];           /* "SET_VRING_ADDR" */
	char check[64];             /* what was sent */
	char expected[48];
	char answered[PROBE_TEXT];
	enum probe_verdict verdict;
};

struct probe_opts {
	const char *path;
	bool listen;                /* back-end in client mode: we accept */
	bool json;
	bool reflect;               /* the back-end sends frames back */
	pid_t pid;                  /* the back-end's pid, 0: unknown */
	const char *hugetlbfs;      /* also test hugetlbfs memory there */
	int timeout_ms;             /* per answer */
	int connect_ms;             /* per (re)connection */
};

/* How far a session is set up. */
enum probe_level {
	PL_NEGOTIATED,              /* SET_OWNER .. SET_FEATURES */
	PL_MEMORY,                  /* + SET_MEM_TABLE */
	PL_RINGS,                   /* + queue pair 0 started */
};

struct probe {
	struct probe_opts o;
	struct vu_front *f;         /* current session, or NULL */
	enum probe_level level;
	bool packed;                /* sessions negotiate RING_PACKED */
	bool dead;                  /* the back-end is gone */
	uint64_t features;          /* first GET_FEATURES answer */
	uint64_t protocol;          /* first GET_PROTOCOL_FEATURES answer */
	uint64_t want_features;     /* what sessions ack (& offered) */
	uint64_t want_protocol;
	uint64_t queue_num, mem_slots;
	uint32_t sessions;
	struct probe_result res[PROBE_MAX_RESULTS];
	uint32_t nres;
};

/* Session (probe_session.c) ---------------------------------------- */

/* Connect (or accept) and negotiate; then reach level.  0 or -errno
 * (the reason logged); on failure no session is left. */
int probe_open(struct probe *p, enum probe_level level);
/* Close the session (NULL-safe). */
void probe_close(struct probe *p);
/* A session at least at level: the current one, or a new one. */
int probe_need(struct probe *p, enum probe_level level);
/* Whether the back-end process is gone (pid known and dead). */
bool probe_pid_dead(const struct probe *p);

/* The expectation of a check. */
enum probe_expect { PE_SERVE, PE_REFUSE };

/*
 * Judge the outcome of a request that returned rc on the current session
 * (the library's 0 / -errno; vu_front_why() says why), record the row
 * and return its verdict.  After the request the session is checked with
 * GET_FEATURES (a request without an ack may have closed it); a closed
 * session is replaced (reconnection tells a refusal from a crash).
 */
enum probe_verdict probe_judge(struct probe *p, const char *request,
			       const char *check, enum probe_expect e,
			       int rc);

/* The same with the answer's text given (NULL: the library's reason). */
enum probe_verdict probe_judge_txt(struct probe *p, const char *request,
				   const char *check, enum probe_expect e,
				   int rc, const char *answer);

/* Record a row as given. */
void probe_record(struct probe *p, const char *request, const char *check,
		  const char *expected, enum probe_verdict v,
		  const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Checks (probe_steps.c, probe_refuse.c, probe_bad.c) ---------------- */

void probe_negotiation(struct probe *p);
void probe_memory(struct probe *p);
void probe_rings(struct probe *p);
void probe_device(struct probe *p);
void probe_reset(struct probe *p);
void probe_mem_slots(struct probe *p);
void probe_packed(struct probe *p);
void probe_hugetlbfs(struct probe *p);
void probe_reflect(struct probe *p);
void probe_not_negotiated(struct probe *p);
void probe_malformed(struct probe *p);

/* A raw request for probe_send_bad(). */
struct bad {
	const char *request;
	const char *check;
	uint32_t req, flags;      /* flags besides need_reply */
	const void *payload;
	uint32_t size;            /* what the header says */
	size_t len;               /* what is sent */
	int nfds;                 /* eventfds attached */
	bool u64_reply;           /* a valid request of this id gets a u64
				   * reply: one is "served", not an ack */
	bool memfd;               /* attach 1 MiB memfds, not eventfds */
};

/* Send b raw on the current session (with need_reply when REPLY_ACK was
 * acked), judge the answer against a refusal, close the session. */
void probe_send_bad(struct probe *p, const struct bad *b);

/* Output (probe_out.c) ------------------------------------------------ */

/* Offered features and protocol features by name, one line each. */
void probe_print_features(const struct probe *p);
void probe_print_table(const struct probe *p);
/* 0 or -ENOMEM. */
int probe_print_json(const struct probe *p);

#endif
