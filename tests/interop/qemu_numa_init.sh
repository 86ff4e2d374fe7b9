#!/bin/sh
# /init of the busybox initramfs qemu_numa.sh boots: a guest with two NUMA
# nodes (CPU 0 and 512 MiB on node 0, CPU 1 and 512 MiB on node 1) that
# runs vhostd and vu-gen itself.  For each node N in vt_nodes (default
# "1 0"): vhostd reflecting port a with worker cores vt_cores (default
# 0,1, one per node) and --print-placement, then vu-gen bound to node N
# (numactl --membind=N --cpunodebind=N: its guest memory, a memfd, is
# allocated on N when vu-gen first touches it), then vhostd is stopped
# with SIGTERM.  vhostd's stdout and stderr and vu-gen's output are printed
# between "@@ BEGIN NAME" and "@@ END NAME" lines for the host to check.
# Lines starting with "@@" are the markers the host script reads.
# Kernel command line: vt_nodes=1,0 (the order of the runs), vt_cores=LIST,
# vt_duration=S and vt_rate=MPPS (vu-gen);
# vt_asan=OPTS and vt_ubsan=OPTS become ASAN_OPTIONS and UBSAN_OPTIONS
# (for a sanitizer build; ',' stands for ':').
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mkdir -p /dev/shm && mount -t tmpfs shm /dev/shm

mark() { echo "@@ $*"; }
bye() { mark "GUEST-DONE $*"; sync; poweroff -f; }
# section NAME FILE: FILE between markers.
section() {
	mark "BEGIN $1"
	cat "$2"
	mark "END $1"
}

NODES="1 0" CORES=0,1 DUR=2 RATE=0.02
for w in $(cat /proc/cmdline); do
	case $w in
	vt_nodes=*) NODES=$(echo "${w#*=}" | tr , ' ') ;;
	vt_cores=*) CORES=${w#*=} ;;
	vt_duration=*) DUR=${w#*=} ;;
	vt_rate=*) RATE=${w#*=} ;;
	vt_asan=*) ASAN_OPTIONS=$(echo "${w#*=}" | tr , :) ;;
	vt_ubsan=*) UBSAN_OPTIONS=$(echo "${w#*=}" | tr , :) ;;
	esac
done
[ -n "${ASAN_OPTIONS:-}" ] && export ASAN_OPTIONS
[ -n "${UBSAN_OPTIONS:-}" ] && export UBSAN_OPTIONS

mark "BOOTED $(cut -d' ' -f1 /proc/uptime) s, $(nproc) CPUs," \
	"ASAN_OPTIONS=${ASAN_OPTIONS:-} UBSAN_OPTIONS=${UBSAN_OPTIONS:-}"
numactl -H >/tmp/numa.txt 2>&1
section numactl /tmp/numa.txt

# gone PID: true once PID has exited (a zombie counts as gone).
gone() {
	[ ! -e "/proc/$1" ] || [ "$(cut -d' ' -f3 "/proc/$1/stat")" = Z ]
}
# wait_line FILE REGEX TENTHS PID: poll FILE for REGEX while PID runs.
wait_line() {
	n=0
	until grep -qE "$2" "$1" 2>/dev/null; do
		n=$((n + 1))
		[ $n -gt "$3" ] && return 1
		gone "$4" && return 1
		sleep 0.1
	done
}

for N in $NODES; do
	S=/tmp/a$N.sock
	vhostd --port "a=vhost:$S" --reflect a --cores "$CORES" \
		--print-placement --log-level info \
		>/tmp/vhostd$N.out 2>/tmp/vhostd$N.err &
	VPID=$!
	if wait_line /tmp/vhostd$N.err "a: listening on" 300 $VPID; then
		mark "VHOSTD-UP node=$N $(cut -d' ' -f1 /proc/uptime) s"
		# A low rate: vhostd's two workers busy-poll both CPUs, one
		# of them the CPU vu-gen shares; the window keeps what is
		# in flight small.  Generous timeouts: this is TCG.
		numactl --membind="$N" --cpunodebind="$N" \
			vu-gen --backend vhostd --duration "$DUR" \
			--rate-mpps "$RATE" --window 64 --warmup-ms 20000 \
			--drain-ms 3000 --timeout 30000 "$S" \
			>/tmp/gen$N.out 2>&1 &
		GPID=$!
		# Where the kernel put vu-gen's guest memory (its memfd
		# mapping in numa_maps, pages per node: "N1=768"), once
		# the rings run.
		until grep -q "ring 1 enabled" /tmp/vhostd$N.err || gone $GPID; do
			sleep 0.1
		done
		grep "memfd:vhostd-guest" /proc/$GPID/numa_maps >/tmp/maps$N 2>&1
		wait $GPID
		mark "GEN-RC node=$N rc=$? $(cut -d' ' -f1 /proc/uptime) s"
		section "gen-numa-maps-$N" /tmp/maps$N
	else
		mark "VHOSTD-NOT-UP node=$N"
	fi
	# SIGTERM, then SIGKILL if vhostd is still there after 30 s.
	kill -TERM $VPID
	n=0
	until gone $VPID; do
		n=$((n + 1))
		[ $n -gt 300 ] && { mark "VHOSTD-KILLED node=$N"; kill -KILL $VPID; }
		sleep 0.1
	done
	wait $VPID
	mark "VHOSTD-RC node=$N rc=$? $(cut -d' ' -f1 /proc/uptime) s"
	section "vhostd-out-$N" /tmp/vhostd$N.out
	section "vhostd-err-$N" /tmp/vhostd$N.err
	[ -f /tmp/gen$N.out ] && section "gen-$N" /tmp/gen$N.out
done
bye ok
