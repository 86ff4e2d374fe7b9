/* SPDX-License-Identifier: MIT */
#include "prom.h"

#include <inttypes.h>
#include <math.h>

/* HELP text: backslash and newline escaped (the format's rule for it). */
static void put_help(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* A label value: backslash, double quote and newline escaped. */
static void put_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

void prom_family(struct prom *pm, const char *name, enum prom_type type,
		 const char *help)
{
	pm->family = name;
	fprintf(pm->f, "# HELP %s ", name);
	put_help(pm->f, help);
	fprintf(pm->f, "\n# TYPE %s %s\n", name,
		type == PROM_COUNTER ? "counter" : "gauge");
}

static void put_name(struct prom *pm, const struct prom_label *l, size_t n)
{
	fputs(pm->family, pm->f);
	if (!n)
		return;
	fputc('{', pm->f);
	for (size_t i = 0; i < n; i++) {
		fprintf(pm->f, "%s%s=\"", i ? "," : "", l[i].name);
		put_value(pm->f, l[i].value);
		fputc('"', pm->f);
	}
	fputc('}', pm->f);
}

void prom_u64(struct prom *pm, const struct prom_label *l, size_t n,
	      uint64_t v)
{
	put_name(pm, l, n);
	fprintf(pm->f, " %" PRIu64 "\n", v);
}

void prom_double(struct prom *pm, const struct prom_label *l, size_t n,
		 double v)
{
	put_name(pm, l, n);
	/* The format's spellings of the values printf spells otherwise. */
	if (isnan(v))
		fputs(" NaN\n", pm->f);
	else if (isinf(v))
		fputs(v > 0 ? " +Inf\n" : " -Inf\n", pm->f);
	else
		fprintf(pm->f, " %.6g\n", v);
}
