/* SPDX-License-Identifier: MIT */
/*
 * prom.h: the Prometheus text exposition format (version 0.0.4), written
 * to a stdio stream.
 *
 * A family is a HELP line, a TYPE line, then its samples, all under one
 * name: a counter's name ends in "_total" (the sample name is the family
 * name, as the format and the official parsers expect).  Label values are
 * escaped (backslash, double quote, newline); names are the caller's
 * constants and are not checked.
 */
#ifndef VHOSTD_PROM_H
#define VHOSTD_PROM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum prom_type { PROM_COUNTER, PROM_GAUGE };

struct prom_label {
	const char *name, *value;
};

struct prom {
	FILE *f;
	const char *family;   /* the name samples are written under */
};

/* The Content-Type of a page in this format. */
#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Start family name (a static string: kept by reference until the next
 * family) with its HELP and TYPE lines. */
void prom_family(struct prom *pm, const char *name, enum prom_type type,
		 const char *help);

/* One sample of the current family, with n labels. */
void prom_u64(struct prom *pm, const struct prom_label *l, size_t n,
	      uint64_t v);
void prom_double(struct prom *pm, const struct prom_label *l, size_t n,
		 double v);

/* Labels as a compound literal and its count:
 * prom_u64(pm, PROM_LABELS({"port", "a"}, {"queue", "0"}), v). */
#define PROM_LABELS(...)                                                    \
	(const struct prom_label[]){__VA_ARGS__},                           \
	sizeof((const struct prom_label[]){__VA_ARGS__}) /                  \
		sizeof(struct prom_label)

#endif
