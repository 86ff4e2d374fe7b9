#!/usr/bin/env bash
# vhostd inside a QEMU TCG guest with two NUMA nodes (node 0: CPU 0 and
# 512 MiB, node 1: CPU 1 and 512 MiB): placement follows the front-end's
# memory.  The guest (qemu_numa_init.sh) runs, once with vu-gen bound to
# node 1 and once to node 0 (numactl --membind=N --cpunodebind=N),
#   vhostd --port a=vhost:SOCK --reflect a --cores 0,1 --print-placement
# and vu-gen sends frames through it.  For each run, vhostd must have logged
# "comp=numa 2 nodes" (node 0 with core 0, node 1 with core 1), printed a
# placement line for queue pair 0 of port a with core_node=N and
# mem_node=N (the worker on the node of the rings' memory), and vu-gen's
# frames must have come back intact; vhostd exits 0 on SIGTERM.  The guest
# boots Debian's kernel with a busybox initramfs built here holding vhostd,
# vu-gen and numactl with the shared libraries ldd lists (a sanitizer
# build's libasan/libubsan included), at their own paths.
#   qemu_numa.sh VHOSTD VU-GEN
set -u
VHOSTD=$1 GEN=$2
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

QEMU=$(command -v qemu-system-x86_64) || skip "qemu-system-x86_64 not installed (Debian: qemu-system-x86)"
KERNEL=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
[ -n "$KERNEL" ] && [ -r "$KERNEL" ] || skip "no readable /boot/vmlinuz-* (Debian: linux-image-amd64)"
# Static: the initramfs has no libc of its own.  busybox also packs it.
BUSYBOX=/bin/busybox
if ! readelf -l "$BUSYBOX" 2>/dev/null | grep -q LOAD ||
	readelf -l "$BUSYBOX" | grep -q INTERP; then
	skip "no static $BUSYBOX (Debian: busybox-static)"
fi
NUMACTL=$(command -v numactl) || skip "numactl not installed (Debian: numactl)"

# add_bin ROOT FILE: FILE as ROOT/bin/NAME, with every library ldd lists
# (and the dynamic loader) at its own path.
add_bin() {
	local root=$1 bin=$2 lib
	cp "$bin" "$root/bin/$(basename "$bin")" || fail "cannot copy $bin"
	for lib in $(ldd "$bin" | grep -oE '/[^ ]+'); do
		[ -e "$root$lib" ] && continue
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib" || fail "cannot copy $lib"
	done
}

build_initrd() {
	local root=$WORK/root a
	mkdir -p "$root"/{bin,dev,proc,sys,tmp}
	cp "$BUSYBOX" "$root/bin/busybox"
	for a in $("$BUSYBOX" --list); do
		[ "$a" = busybox ] || ln -s busybox "$root/bin/$a"
	done
	install -m 755 "$HERE/qemu_numa_init.sh" "$root/init"
	for a in "$VHOSTD" "$GEN" "$NUMACTL"; do add_bin "$root" "$a"; done
	(cd "$root" && find . | "$BUSYBOX" cpio -o -H newc | "$BUSYBOX" gzip -1) \
		>"$WORK/initrd.gz" 2>/dev/null ||
		fail "cannot build the initramfs"
}

# The sanitizer options the suite runs with (tests/run-all.sh), for the
# guest's kernel command line (':' written as ',').
san_arg() { [ -n "$2" ] && printf ' %s=%s' "$1" "$(echo "$2" | tr : ,)"; }

T0=$SECONDS
build_initrd
echo "initramfs: $(($(stat -c %s "$WORK/initrd.gz") / 1024)) KiB" \
	"($(du -sk "$WORK/root" | cut -f1) KiB unpacked), built in" \
	"$((SECONDS - T0)) s"

# Both vCPUs busy-poll once vhostd runs (two workers), so QEMU gets both
# host CPUs (MTTCG: one thread per vCPU).  -cpu max: on the default qemu64
# CPU vhostd dies of SIGILL (it links DPDK's libraries, built for SSE4.2
# and up).  -no-reboot: a panic ends QEMU.
CON=$WORK/console.log
T1=$SECONDS
"$QEMU" -accel tcg -cpu max -smp 2 -m 1G \
	-object memory-backend-ram,id=m0,size=512M \
	-object memory-backend-ram,id=m1,size=512M \
	-numa node,nodeid=0,cpus=0,memdev=m0 \
	-numa node,nodeid=1,cpus=1,memdev=m1 \
	-machine q35 -nodefaults -nographic -no-reboot -monitor none \
	-serial "file:$CON" \
	-kernel "$KERNEL" -initrd "$WORK/initrd.gz" \
	-append "console=ttyS0 quiet panic=-1 vt_nodes=1,0$(san_arg vt_asan "${ASAN_OPTIONS:-}")$(san_arg vt_ubsan "${UBSAN_OPTIONS:-}")" \
	</dev/null >"$WORK/qemu.log" 2>&1 &
QPID=$!
PIDS+=("$QPID")

# fail with the whole console (the guest's outputs are in it).
cfail() {
	echo "FAIL: $*"
	echo "--- guest console"
	tr -d '\r' <"$CON"
	echo "--- qemu"
	cat "$WORK/qemu.log"
	exit 1
}

# One deadline for the guest, well inside meson's timeout.
wait_for "$CON" "@@ GUEST-DONE" 90 || cfail "the guest did not finish in time"
wait_exit "$QPID" 10 || cfail "QEMU did not exit after the guest powered off"
echo "guest: booted in $(grep -a -m1 "@@ BOOTED " "$CON" | tr -d '\r' |
	sed 's/.*@@ BOOTED \([0-9.]*\) s.*/\1/') s (guest clock), done" \
	"$((SECONDS - T1)) s after QEMU started"

# section NAME: the console lines between "@@ BEGIN NAME" and "@@ END NAME".
section() {
	tr -d '\r' <"$CON" | sed -n "/@@ BEGIN $1\$/,/@@ END $1\$/p" |
		sed '1d;$d'
}
# mark NAME: the text after the first "@@ NAME " on the console.  Not
# anchored: the firmware's terminal reset may share the first marker's line.
mark() { grep -a -m1 "@@ $1 " "$CON" | tr -d '\r' | sed "s/.*@@ $1 //"; }

section numactl | grep -q "^available: 2 nodes" ||
	cfail "the guest does not have 2 NUMA nodes"
echo "guest: $(section numactl | head -n 1)"

# The form of a placement line (--print-placement): these fields in this
# order, unknown nodes "-"; fields added after them (nic_huge=) are let be.
NODE_RE='([0-9]+|-)'
PL_RE="^placement port=[^ ]+ qp=[0-9]+ worker=[0-9]+ core=[0-9]+ core_node=$NODE_RE mem_node=$NODE_RE nic_node=$NODE_RE state_node=$NODE_RE state_huge=(yes|no) guest_huge=(yes|no)( [a-z_]+=[^ ]+)*\$"

for N in 1 0; do
	out=$(section "vhostd-out-$N") err=$(section "vhostd-err-$N")
	gen=$(section "gen-$N")
	[ -n "$(mark "VHOSTD-UP node=$N")" ] ||
		cfail "node $N: vhostd did not listen"
	echo "$err" | grep -qE "Sanitizer|runtime error" &&
		cfail "node $N: a sanitizer report from vhostd"
	echo "$gen" | grep -qE "Sanitizer|runtime error" &&
		cfail "node $N: a sanitizer report from vu-gen"
	echo "$err" | grep -q "broken" && cfail "node $N: vhostd saw a broken queue"
	rc=$(mark "VHOSTD-RC node=$N" | grep -oE "rc=[0-9]+")
	[ "$rc" = rc=0 ] || cfail "node $N: vhostd exit code ${rc#rc=} after SIGTERM"

	# vhostd sees the guest's topology.
	echo "$err" | grep -qE "comp=numa 2 nodes" ||
		cfail "node $N: vhostd did not log 'comp=numa 2 nodes'"
	for k in 0 1; do
		echo "$err" | grep -qE "comp=numa node $k: cores $k([ ,]|\$)" ||
			cfail "node $N: vhostd did not log node $k with core $k"
	done

	# The premise: numactl put vu-gen's guest memory (its memfd) on N,
	# all of it.
	maps=$(section "gen-numa-maps-$N")
	nodes=$(echo "$maps" | grep -oE " N[0-9]+=" | sort -u | tr -d ' =' | xargs)
	[ "$nodes" = "N$N" ] ||
		cfail "node $N: vu-gen's memory on nodes '$nodes', not N$N: $maps"

	# Every placement line has the documented form; the last one for
	# queue pair 0 of port a puts its worker and finds its rings on N.
	bad=$(echo "$out" | grep "^placement" | grep -vE "$PL_RE" | head -n 1)
	[ -z "$bad" ] || cfail "node $N: malformed placement line: '$bad'"
	pl=$(echo "$out" | grep -E "^placement port=a qp=0 " | tail -n 1)
	[ -n "$pl" ] || cfail "node $N: no placement line for port a qp 0"
	echo "$pl" | grep -qE " core_node=$N mem_node=$N " ||
		cfail "node $N: rings on node $N not placed there: '$pl'"

	# vu-gen moved traffic through vhostd and got it back intact.
	grc=$(mark "GEN-RC node=$N" | grep -oE "rc=[0-9]+")
	[ "$grc" = rc=0 ] || cfail "node $N: vu-gen exit code ${grc#rc=}"
	res=$(echo "$gen" | grep "^RESULT") || cfail "node $N: no RESULT from vu-gen"
	for want in loss=0 bad=0 broken=0; do
		echo "$res" | grep -qE " $want( |\$)" ||
			cfail "node $N: vu-gen: not $want: $res"
	done
	echo "$res" | grep -qE " rx=[1-9][0-9]* " ||
		cfail "node $N: no frame came back: $res"
	echo "node $N: $pl"
	echo "node $N: vu-gen $(echo "$res" | grep -oE 'tx=[0-9]+ rx=[0-9]+') loss=0 bad=0"
done
echo "PASS: vhostd in a 2-node guest placed queue pair 0 on the node of" \
	"the front-end's memory (node 1, then node 0); traffic came back" \
	"intact ($((SECONDS - T0)) s)"
