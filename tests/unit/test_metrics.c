/* SPDX-License-Identifier: MIT */
/* --metrics pieces without a server: the Prometheus text writer
 * (control/daemon/prom.h) and the ADDR:PORT parser (vu_metrics.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "control/daemon/prom.h"
#include "control/daemon/vu_metrics.h"

/* Run fn on a fresh writer, return what it wrote (caller frees). */
static char *page(void (*fn)(struct prom *pm))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	struct prom pm = {f, NULL};
	fn(&pm);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void counter_family(struct prom *pm)
{
	prom_family(pm, "x_total", PROM_COUNTER, "Things");
	prom_u64(pm, PROM_LABELS({"port", "a"}, {"queue", "0"}),
		 UINT64_MAX);
	prom_u64(pm, NULL, 0, 7);
}

static void test_family_has_help_type_and_samples_under_its_name(void **st)
{
	(void)st;
	char *s = page(counter_family);

	assert_string_equal(s, "# HELP x_total Things\n"
			    "# TYPE x_total counter\n"
			    "x_total{port=\"a\",queue=\"0\"} "
			    "18446744073709551615\n"
			    "x_total 7\n");
	free(s);
}

static void hostile_strings(struct prom *pm)
{
	prom_family(pm, "g", PROM_GAUGE, "back\\slash\nnewline \"quoted\"");
	prom_u64(pm, PROM_LABELS({"l", "a\"b\\c\nd}e"}), 1);
}

static void test_label_values_and_help_are_escaped(void **st)
{
	(void)st;
	char *s = page(hostile_strings);

	/* HELP escapes backslash and newline only; label values also the
	 * double quote: nothing can end the value or the line early. */
	assert_string_equal(s, "# HELP g back\\\\slash\\nnewline \"quoted\"\n"
			    "# TYPE g gauge\n"
			    "g{l=\"a\\\"b\\\\c\\nd}e\"} 1\n");
	free(s);
}

static void doubles(struct prom *pm)
{
	prom_family(pm, "d", PROM_GAUGE, "h");
	prom_double(pm, NULL, 0, 2543.25);
	prom_double(pm, NULL, 0, NAN);
	prom_double(pm, NULL, 0, INFINITY);
	prom_double(pm, NULL, 0, -INFINITY);
	prom_double(pm, NULL, 0, -1);
}

static void test_doubles_use_the_format_spellings(void **st)
{
	(void)st;
	char *s = page(doubles);

	assert_string_equal(s, "# HELP d h\n# TYPE d gauge\n"
			    "d 2543.25\nd NaN\nd +Inf\nd -Inf\nd -1\n");
	free(s);
}

static void test_addresses_accepted(void **st)
{
	(void)st;
	struct sockaddr_storage sa;
	socklen_t len;
	char why[160];
	char host[INET6_ADDRSTRLEN];

	assert_int_equal(vu_metrics_addr_parse("127.0.0.1:9100", &sa, &len,
					       why, sizeof(why)), 0);
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)&sa;
	assert_int_equal(sa.ss_family, AF_INET);
	assert_int_equal(len, sizeof(*s4));
	assert_int_equal(ntohs(s4->sin_port), 9100);
	inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
	assert_string_equal(host, "127.0.0.1");

	assert_int_equal(vu_metrics_addr_parse("[::1]:0", &sa, &len, why,
					       sizeof(why)), 0);
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&sa;
	assert_int_equal(sa.ss_family, AF_INET6);
	assert_int_equal(ntohs(s6->sin6_port), 0);
	assert_int_equal(vu_metrics_addr_parse("0.0.0.0:65535", &sa, &len,
					       why, sizeof(why)), 0);
	assert_int_equal(vu_metrics_addr_parse("[::]:1", &sa, &len, why,
					       sizeof(why)), 0);
}

static void test_bad_addresses_refused_with_a_reason(void **st)
{
	(void)st;
	static const char *const bad[] = {
		"", ":", "127.0.0.1", "127.0.0.1:", ":9100", "127.0.0.1:65536",
		"127.0.0.1:-1", "127.0.0.1:+1", "127.0.0.1: 1", "127.0.0.1:1 ",
		"127.0.0.1:0x10", "localhost:1", "::1:1", "[::1:1", "[::1]",
		"[]:1", "[::1]x:1", "x[::1]:1", "1.2.3.4.5:1", "256.0.0.1:1",
		"127.0.0.1:18446744073709551617", "[127.0.0.1]:1x",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:1",
	};
	struct sockaddr_storage sa;
	socklen_t len;
	char why[160];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		int r = vu_metrics_addr_parse(bad[i], &sa, &len, why,
					      sizeof(why));
		if (r != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		assert_non_null(strstr(why, "--metrics"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_family_has_help_type_and_samples_under_its_name),
		cmocka_unit_test(test_label_values_and_help_are_escaped),
		cmocka_unit_test(test_doubles_use_the_format_spellings),
		cmocka_unit_test(test_addresses_accepted),
		cmocka_unit_test(test_bad_addresses_refused_with_a_reason),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
