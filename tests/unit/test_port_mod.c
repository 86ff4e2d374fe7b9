/* SPDX-License-Identifier: MIT */
/*
 * test_port_mod.c: loading a port type from a module (pmd/port_mod.h).
 * A good module gives its type; a missing file, a shared object that is
 * no module, one from another build (ABI string or struct sizes), one
 * holding another type or a type without its functions are refused with
 * the reason, and nothing of them is used.  Argument: the fixture
 * modules' directory (port_mod_fixture.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pmd/port_mod.h"

static const char *dir;

static const struct port_type *load(int k, const char *type, char *why,
				    size_t n)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/port-mod-fixture-%d.so", dir, k);
	return port_mod_load(path, type, why, n);
}

static void test_good_module_gives_its_type(void **state)
{
	char why[512] = "";
	struct port *p = (struct port *)1;

	(void)state;
	const struct port_type *t = load(0, "fake", why, sizeof(why));
	assert_non_null(t);
	assert_string_equal(t->name, "fake");
	assert_int_equal(t->open("x", "", &p), -ENODEV);
	assert_null(p);
}

static void test_bad_modules_refused_with_reason(void **state)
{
	static const struct {
		int k;
		const char *type, *why;
	} cases[] = {
		{9, "fake", "cannot load"},                /* no such file */
		{1, "fake", "not a vhostd port module"},
		{2, "fake", "from another vhostd build"},
		{3, "fake", "from another vhostd build"},
		{4, "fake", "does not hold that port type"},
		{0, "dpdk", "does not hold that port type"},
	};
	char why[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why[0] = 0;
		assert_null(load(cases[i].k, cases[i].type, why, sizeof(why)));
		if (!strstr(why, cases[i].why))
			fail_msg("fixture %d: \"%s\" does not say \"%s\"",
				 cases[i].k, why, cases[i].why);
	}
}

/* The generic lookup (the --metrics module uses it): a symbol the file
 * does not have is named. */
static void test_missing_symbol_named(void **state)
{
	char path[4096], why[4096] = "";

	(void)state;
	snprintf(path, sizeof(path), "%s/port-mod-fixture-0.so", dir);
	assert_null(vhostd_mod_sym(path, "vhostd_metrics_module", why,
				   sizeof(why)));
	assert_non_null(strstr(why, "no vhostd_metrics_module in it"));
	assert_non_null(vhostd_mod_sym(path, "vhostd_port_module", why,
				       sizeof(why)));
}

/* A type whose module is not next to the executable nor installed: the
 * reason names where it was looked for, and stays for later calls. */
static void test_missing_module_says_where(void **state)
{
	char why[4096] = "";

	(void)state;
	assert_null(port_mod_find("nosuch", "vhostd-nosuch.so", why,
				  sizeof(why)));
	assert_non_null(strstr(why, VHOSTD_MODULE_DIR "/vhostd-nosuch.so"));
	why[0] = 0;
	assert_null(port_mod_find("nosuch", "vhostd-nosuch.so", why,
				  sizeof(why)));
	assert_non_null(strstr(why, "cannot load"));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_module_gives_its_type),
		cmocka_unit_test(test_bad_modules_refused_with_reason),
		cmocka_unit_test(test_missing_module_says_where),
		cmocka_unit_test(test_missing_symbol_named),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s FIXTURE_DIR\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
