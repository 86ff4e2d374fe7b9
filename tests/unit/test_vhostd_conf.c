/* SPDX-License-Identifier: MIT */
/*
 * test_vhostd_conf.c: the --config file (control/daemon/vhostd_conf.c):
 * what is written reads back the same, what is saved replaces the file
 * whole, and every malformed file is refused with a reason; the bridge
 * options of a port spec (vhostd_opts.c: vhostd_port_parse); who may use
 * the control socket (vu_ctl.c: vu_ctl_allowed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control/daemon/vhostd_conf.h"
#include "control/daemon/vhostd_opts.h"
#include "control/daemon/vu_ctl.h"

static struct vhostd_conf a, b;
static char why[256];

static void sample(struct vhostd_conf *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->bridges[0].name, "br0");
	c->bridges[0].aging = 120;
	c->bridges[0].mac_limit = 64;
	strcpy(c->bridges[1].name, "br1");
	c->nbridges = 2;
	strcpy(c->ports[0].name, "vm1");
	strcpy(c->ports[0].spec, "vhost:/run/vhostd/vm1.sock,bridge=br0,vlan=10");
	strcpy(c->ports[1].name, "nic0");
	strcpy(c->ports[1].spec, "afxdp:eth1,queues=2,bridge=br0,trunk=10,20-30");
	strcpy(c->ports[2].name, "vm2");
	strcpy(c->ports[2].spec, "vhost:/run/vhostd/\"odd\\name\".sock");
	strcpy(c->ports[3].name, "l0");
	strcpy(c->ports[3].spec, "loop:");
	c->nports = 4;
	strcpy(c->links[0].a, "vm2");
	strcpy(c->links[0].b, "l0");
	c->nlinks = 1;
}

static void test_format_then_parse_gives_the_same_switch(void **state)
{
	(void)state;
	sample(&a);
	char *text = vhostd_conf_format(&a);
	assert_non_null(text);
	assert_int_equal(vhostd_conf_parse(text, &b, why, sizeof(why)), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	free(text);
}

static void test_empty_switch_round_trips(void **state)
{
	(void)state;
	memset(&a, 0, sizeof(a));
	char *text = vhostd_conf_format(&a);
	assert_int_equal(vhostd_conf_parse(text, &b, why, sizeof(why)), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	free(text);
	/* Members are optional: {} is an empty switch too. */
	assert_int_equal(vhostd_conf_parse("{}", &b, why, sizeof(why)), 0);
	assert_int_equal(b.nports + b.nbridges + b.nlinks, 0);
}

static void test_save_replaces_the_file_and_load_reads_it_back(void **state)
{
	char dir[] = "/tmp/vhostd-conf.XXXXXX", path[64], tmp[72];
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/c.json", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	/* No file yet: an empty switch, not an error (a first start). */
	assert_int_equal(vhostd_conf_load(path, &b, why, sizeof(why)), 0);
	assert_int_equal(b.nports, 0);
	sample(&a);
	assert_int_equal(vhostd_conf_save(path, &a), 0);
	assert_int_equal(vhostd_conf_load(path, &b, why, sizeof(why)), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	/* A second save replaces it; no temporary file is left behind. */
	a.nports = 1;
	assert_int_equal(vhostd_conf_save(path, &a), 0);
	assert_int_equal(vhostd_conf_load(path, &b, why, sizeof(why)), 0);
	assert_int_equal(b.nports, 1);
	assert_int_not_equal(stat(tmp, &st), 0);
	/* A directory that cannot be written: an error, the file stays. */
	char bad[80];
	snprintf(bad, sizeof(bad), "%s/no/such/dir/c.json", dir);
	assert_true(vhostd_conf_save(bad, &a) < 0);
	unlink(path);
	rmdir(dir);
}

static void test_load_refuses_what_is_not_a_config_file(void **state)
{
	char dir[] = "/tmp/vhostd-conf.XXXXXX";

	(void)state;
	assert_non_null(mkdtemp(dir));
	/* A directory is not a regular file. */
	assert_int_equal(vhostd_conf_load(dir, &b, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "not a regular file"));
	char path[64];
	snprintf(path, sizeof(path), "%s/nul.json", dir);
	int fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_int_equal(write(fd, "{}\0{}", 5), 5);
	close(fd);
	assert_int_equal(vhostd_conf_load(path, &b, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "NUL"));
	unlink(path);
	rmdir(dir);
}

/* text must be refused, saying want. */
static void refused(const char *text, const char *want)
{
	int rc = vhostd_conf_parse(text, &b, why, sizeof(why));
	if (rc != -EINVAL || !strstr(why, want))
		fail_msg("'%s': rc %d, '%s' (wanted '%s')", text, rc, why, want);
}

static void test_malformed_files_are_refused_with_the_reason(void **state)
{
	char big[8192];

	(void)state;
	refused("", "not JSON");
	refused("{\"ports\": [", "not JSON");
	refused("[]", "not a JSON object");
	refused("{\"port\": []}", "unknown member \"port\"");
	refused("{\"ports\": {}}", "\"ports\" is not an array");
	refused("{\"ports\": [1]}", "ports[0] is not an object");
	refused("{\"ports\": [{\"name\": \"a\"}]}", "\"spec\" missing");
	refused("{\"ports\": [{\"name\": 7, \"spec\": \"loop:\"}]}",
		"\"name\" is not a string");
	refused("{\"ports\": [{\"name\": \"a\", \"spec\": \"loop:\", \"x\": 1}]}",
		"unknown member \"x\"");
	refused("{\"ports\": [{\"name\": \"a\\u0000b\", \"spec\": \"loop:\"}]}",
		"contains a NUL");
	refused("{\"ports\": [{\"name\": \"0123456789012345678901234567890123\","
		" \"spec\": \"loop:\"}]}", "longer than 31 bytes");
	refused("{\"bridges\": [{\"name\": \"b\", \"aging\": -1}]}",
		"\"aging\" out of range");
	refused("{\"bridges\": [{\"name\": \"b\", \"aging\": \"300\"}]}",
		"\"aging\" is not an integer");
	refused("{\"bridges\": [{\"name\": \"b\", \"mac_limit\": 4294967296}]}",
		"out of range");
	refused("{\"links\": [[\"a\"]]}", "links[0] is not");
	refused("{\"links\": [[\"a\", 2]]}", "links[0][1] is not a port name");
	/* More entries than there are slots. */
	int n = snprintf(big, sizeof(big), "{\"bridges\": [");
	for (int i = 0; i <= CONF_MAX_BRIDGES; i++)
		n += snprintf(big + n, sizeof(big) - (size_t)n, "%s{\"name\":"
			      "\"b%d\"}", i ? "," : "", i);
	snprintf(big + n, sizeof(big) - (size_t)n, "]}");
	refused(big, "more than 16 entries");
}

static void test_bridge_options_of_a_port_spec(void **state)
{
	struct port_opt p;
	FILE *null = fopen("/dev/null", "w");

	(void)state;
	assert_int_equal(vhostd_port_parse(&p, "vm1",
		"vhost:/tmp/x.sock,bridge=br0,vlan=10,queues=2", null), 0);
	assert_string_equal(p.bridge, "br0");
	assert_false(p.vlan.trunk);
	assert_int_equal(p.vlan.vlan, 10);
	assert_int_equal(p.queues, 2);
	assert_string_equal(p.path, "/tmp/x.sock");
	/* A trunk list keeps its own commas; the type's options stay. */
	assert_int_equal(vhostd_port_parse(&p, "l0",
		"loop:bridge=br0,trunk=10,20-30,queues=2", null), 0);
	assert_true(p.vlan.trunk);
	assert_true(br_vlan_has(&p.vlan, 25) && !br_vlan_has(&p.vlan, 11));
	assert_string_equal(p.nic_args, "queues=2");
	/* Refused: vlan without bridge, vlan and trunk, a bad VLAN, a bad
	 * bridge name, a bad port name. */
	assert_int_equal(vhostd_port_parse(&p, "a", "loop:vlan=3", null),
			 -EINVAL);
	assert_int_equal(vhostd_port_parse(&p, "a",
		"loop:bridge=b,vlan=3,trunk=4", null), -EINVAL);
	assert_int_equal(vhostd_port_parse(&p, "a", "loop:bridge=b,vlan=4095",
					   null), -EINVAL);
	assert_int_equal(vhostd_port_parse(&p, "a", "loop:bridge=b/c", null),
			 -EINVAL);
	assert_int_equal(vhostd_port_parse(&p, "a b", "loop:", null), -EINVAL);
	assert_int_equal(vhostd_port_parse(&p, "a", "vhost", null), -EINVAL);
	fclose(null);
}

static void test_control_socket_callers(void **state)
{
	struct vu_ctl_cfg cfg = {0};
	uid_t me = geteuid();

	(void)state;
	assert_true(vu_ctl_allowed(&cfg, 0, 0));
	assert_true(vu_ctl_allowed(&cfg, me, 12345));
	if (me != 0)
		return;
	/* Root runs the tests: someone else is refused without a group,
	 * let in by the group when one is configured. */
	assert_false(vu_ctl_allowed(&cfg, 65534, 65534));
	cfg.group_set = true;
	cfg.gid = 4242;
	assert_false(vu_ctl_allowed(&cfg, 65534, 65534));
	assert_true(vu_ctl_allowed(&cfg, 65534, 4242));
}

/* vhostd_opts_parse clears only the port slots it takes: whatever was in
 * the others, the options read the same. */
static void test_options_parse_the_same_over_junk(void **state)
{
	static struct vhostd_opts clean, junk;
	char *argv[] = {"vhostd", "--port", "a=vhost:/tmp/a.sock,queues=2",
		"--port", "b=vhost:/tmp/b.sock,client", "--link", "a=b",
		"--log-time", NULL};
	const size_t tail = offsetof(struct vhostd_opts, nports);

	(void)state;
	memset(&junk, 0xa5, sizeof(junk));
	assert_int_equal(vhostd_opts_parse(&clean, 8, argv), 0);
	assert_int_equal(vhostd_opts_parse(&junk, 8, argv), 0);
	assert_int_equal(clean.nports, 2);
	assert_int_equal(junk.nports, 2);
	assert_memory_equal(clean.ports, junk.ports, 2 * sizeof(clean.ports[0]));
	assert_memory_equal((char *)&clean + tail, (char *)&junk + tail,
			    sizeof(clean) - tail);
	assert_int_equal(junk.ports[0].peer, 1);
	assert_int_equal(junk.ports[0].queues, 2);
	assert_true(junk.ports[1].client);
	assert_true(junk.log_time);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_then_parse_gives_the_same_switch),
		cmocka_unit_test(test_empty_switch_round_trips),
		cmocka_unit_test(
			test_save_replaces_the_file_and_load_reads_it_back),
		cmocka_unit_test(test_load_refuses_what_is_not_a_config_file),
		cmocka_unit_test(
			test_malformed_files_are_refused_with_the_reason),
		cmocka_unit_test(test_bridge_options_of_a_port_spec),
		cmocka_unit_test(test_control_socket_callers),
		cmocka_unit_test(test_options_parse_the_same_over_junk),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
