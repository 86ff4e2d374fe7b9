#!/usr/bin/env bash
# Traffic through vhostd's own datapath (--reflect), checked frame by frame
# by vu-gen (headers, swapped MACs, sequence, payload), at a rate far below
# saturation so that any loss is a bug, not load.  Cases exercise the vnet
# path's branches: plain 64 B; 1518 B over 256 B mergeable buffers with
# event-idx, 2-descriptor TX and every payload byte compared; 64 B into
# 16 B mergeable buffers, so header and swapped MACs themselves span
# buffers; and the same through a loop port (pmd/port_loop.c).
set -u
VHOSTD=$1 GEN=$2 VHOSTCTL=${3:-}
mapfile -t CPUS < <(python3 -c 'import os; print(*sorted(os.sched_getaffinity(0)), sep="\n")' 2>/dev/null ||
	seq 0 $(($(nproc) - 1)))
WK_CPU=${CPUS[${#CPUS[@]} - 1]} GEN_CPU=${CPUS[0]}
WORK=$(mktemp -d /tmp/vhostd-gen-it.XXXXXX) || exit 1
VPID=""
cleanup() { [ -n "$VPID" ] && kill "$VPID" 2>/dev/null; wait; rm -rf "$WORK"; }
trap cleanup EXIT
# On failure also vhostd's counters: a drop (and its reason) or nothing.
fail() {
	echo "FAIL: $*"
	tail -n 20 "$WORK"/*.log "$WORK"/*.out 2>/dev/null
	[ -n "$VHOSTCTL" ] && timeout 5 "$VHOSTCTL" "$WORK/ctl" stats
	exit 1
}

"$VHOSTD" --port r0=vhost:"$WORK/r0.sock" --reflect r0 --cores "$WK_CPU" \
	--port l0=loop: --port p0=vhost:"$WORK/p0.sock" --link p0=l0 \
	--control "$WORK/ctl" >"$WORK/vhostd.log" 2>&1 &
VPID=$!

run_case() {
	local name=$1; shift
	timeout 60 "$GEN" --backend vhostd --core "$GEN_CPU" --duration 2 \
		--rate-mpps 0.3 "$@" "$WORK/${SOCK:-r0}.sock" \
		>"$WORK/$name.out" 2>&1 ||
		fail "case $name: vu-gen exit $?"
	local res; res=$(grep '^RESULT' "$WORK/$name.out") || fail "no RESULT"
	for want in loss=0 bad=0 broken=0; do
		echo "$res" | grep -qE " $want( |$)" || fail "case $name: not $want: $res"
	done
	echo "$res" | grep -q " rx=0 " && fail "case $name: nothing came back"
	echo "case $name: $(echo "$res" | grep -o 'tx=[0-9]* rx=[0-9]*') loss=0 bad=0"
}

run_case plain --size 64
run_case merge --size 1518 --mrg-rxbuf --rx-buf 256 --event-idx --tx-chain \
	--verify-full
run_case tiny --size 64 --mrg-rxbuf --rx-buf 16 --verify-full
# Through a NIC port (the loop test port: frames come back as sent).  It
# queues frames of its own, so the window bounds what is on the way.
SOCK=p0 run_case loop --size 64 --window 128
SOCK=p0 run_case loop-merge --size 1518 --mrg-rxbuf --rx-buf 256 --tx-chain \
	--verify-full --window 32
grep -q "broken" "$WORK/vhostd.log" && fail "vhostd marked a queue broken"
kill -TERM "$VPID"; wait "$VPID"; rc=$?; VPID=""
[ $rc -eq 0 ] || fail "vhostd exit $rc"
echo "PASS: vhostd datapath reflected every frame intact"
