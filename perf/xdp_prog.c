/* SPDX-License-Identifier: MIT */
/*
 * xdp-prog: put a tiny XDP program on an interface, or take it off, for
 * tests and benchmarks of the AF_XDP port (no compiler needed: the
 * programs are a few instructions written out here).
 *
 *   xdp-prog attach IFACE pass|drop|reflect [skb]
 *   xdp-prog detach IFACE [skb]
 *   xdp-prog probe            exit 0 if the kernel has AF_XDP, else 77
 *
 * pass:    XDP_PASS (the tests' "someone else's program": it is attached
 *          alone, not through libxdp's dispatcher);
 * drop:    XDP_DROP, a sink that costs the kernel next to nothing;
 * reflect: MACs swapped and XDP_TX, the far end of a veth sending every
 *          frame straight back (the benchmark's wire loop).
 * Native (driver) mode unless "skb".  The program stays attached after
 * xdp-prog exits, until detach.  Exit 0, or 1 with one line on stderr.
 */
#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/if_link.h>

#define INSN(c, d, s, o, i) \
	((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), \
			   .off = (o), .imm = (i)})
#define MOV_K(d, i) INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define MOV_X(d, s) INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define ADD_K(d, i) INSN(BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, i)
#define LDX(sz, d, s, o) INSN(BPF_LDX | BPF_MEM | (sz), d, s, o, 0)
#define STX(sz, d, s, o) INSN(BPF_STX | BPF_MEM | (sz), d, s, o, 0)
#define JGT_X(d, s, o) INSN(BPF_JMP | BPF_JGT | BPF_X, d, s, o, 0)
#define EXIT INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

static const struct bpf_insn prog_pass[] = {MOV_K(0, XDP_PASS), EXIT};
static const struct bpf_insn prog_drop[] = {MOV_K(0, XDP_DROP), EXIT};

/* r2 = data, r3 = data_end; frames shorter than 12 bytes pass; else the
 * 6-byte destination and source MACs (as 4 + 2 bytes) trade places. */
static const struct bpf_insn prog_reflect[] = {
	LDX(BPF_W, 2, 1, 0),          /* xdp_md->data */
	LDX(BPF_W, 3, 1, 4),          /* xdp_md->data_end */
	MOV_X(4, 2),
	ADD_K(4, 12),
	JGT_X(4, 3, 10),              /* data + 12 > data_end: pass */
	LDX(BPF_W, 5, 2, 0),
	LDX(BPF_H, 6, 2, 4),
	LDX(BPF_W, 7, 2, 6),
	LDX(BPF_H, 8, 2, 10),
	STX(BPF_W, 2, 7, 0),
	STX(BPF_H, 2, 8, 4),
	STX(BPF_W, 2, 5, 6),
	STX(BPF_H, 2, 6, 10),
	MOV_K(0, XDP_TX),
	EXIT,
	MOV_K(0, XDP_PASS),
	EXIT,
};

static int attach(int ifindex, const char *what, __u32 flags)
{
	const struct bpf_insn *insns;
	size_t n;

	if (strcmp(what, "pass") == 0) {
		insns = prog_pass;
		n = sizeof(prog_pass) / sizeof(prog_pass[0]);
	} else if (strcmp(what, "drop") == 0) {
		insns = prog_drop;
		n = sizeof(prog_drop) / sizeof(prog_drop[0]);
	} else if (strcmp(what, "reflect") == 0) {
		insns = prog_reflect;
		n = sizeof(prog_reflect) / sizeof(prog_reflect[0]);
	} else {
		fprintf(stderr, "xdp-prog: no program '%s' (pass|drop|reflect)\n",
			what);
		return 1;
	}
	char log[4096] = "";
	LIBBPF_OPTS(bpf_prog_load_opts, o, .log_buf = log,
		    .log_size = sizeof(log), .log_level = 1);
	int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "vhostd_test", "GPL", insns,
			       n, &o);
	if (fd < 0) {
		fprintf(stderr, "xdp-prog: load: %s\n%s", strerror(-fd), log);
		return 1;
	}
	int err = bpf_xdp_attach(ifindex, fd, flags | XDP_FLAGS_UPDATE_IF_NOEXIST,
				 NULL);
	if (err) {
		fprintf(stderr, "xdp-prog: attach: %s\n", strerror(-err));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "probe") == 0) {
		int s = socket(AF_XDP, SOCK_RAW, 0);
		if (s < 0 && errno == EAFNOSUPPORT)
			return 77;
		if (s >= 0)
			close(s);
		return 0;
	}
	if (argc < 3 || (strcmp(argv[1], "attach") == 0 && argc < 4)) {
		fprintf(stderr, "usage: xdp-prog attach IFACE pass|drop|reflect "
			"[skb]\n       xdp-prog detach IFACE [skb]\n");
		return 2;
	}
	int ifindex = (int)if_nametoindex(argv[2]);
	if (!ifindex) {
		fprintf(stderr, "xdp-prog: no interface '%s'\n", argv[2]);
		return 1;
	}
	bool attaching = strcmp(argv[1], "attach") == 0;
	const char *mode = argv[attaching ? 4 : 3];
	__u32 flags = mode && strcmp(mode, "skb") == 0 ? XDP_FLAGS_SKB_MODE :
		      XDP_FLAGS_DRV_MODE;
	if (attaching)
		return attach(ifindex, argv[3], flags);
	int err = bpf_xdp_detach(ifindex, flags, NULL);
	if (err) {
		fprintf(stderr, "xdp-prog: detach: %s\n", strerror(-err));
		return 1;
	}
	return 0;
}
