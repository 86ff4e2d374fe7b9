#!/bin/bash
# SPDX-License-Identifier: MIT
#
# gen_vs_dpdk_vhost.sh VU_GEN
#
# Traffic interop of the ring driver (control/frontend/vu_drv.h) and the generator
# (perf/vu-gen) against a back-end nobody here wrote: DPDK's net_vhost in
# dpdk-testpmd, forwarding in macswap mode, so every frame vu-gen sends
# comes back with its MACs swapped.  testpmd forwards on one CPU, vu-gen
# runs pinned on another, at a modest rate (below saturation):
#   plain  64 B frames, one descriptor each, 2060 B RX buffers
#   merge  1518 B frames as header + frame chains, ring 512, MRG_RXBUF
#          with 1024 B RX buffers (2 per frame), EVENT_IDX, every payload
#          byte checked
# Each case must see rx > 90 % of tx, no bad frame (vu-gen checks length,
# headers, magic, check, sequence and payload of every frame) and no ring
# broken.
#
# Exit 0 pass, 1 fail, 77 skip (no dpdk-testpmd, fewer than 2 CPUs).
# DPDK_TESTPMD overrides the binary.  Both processes run under timeout,
# testpmd is stopped by PID, the temp dir and DPDK's runtime dir go.
set -u

GEN=${1:?usage: $0 VU_GEN}
TESTPMD=${DPDK_TESTPMD:-${TESTPMD:-}}
. "$(dirname "$0")/lib.sh"
RATE=0.5          # Mpps, far below what testpmd forwards on one core
SECS=2

log() { echo "gen_vs_dpdk_vhost: $*"; }

need_testpmd
# Two CPUs we may run on: testpmd forwards on the second, vu-gen on the
# first.
mapfile -t CPUS < <(python3 -c 'import os; print(*sorted(os.sched_getaffinity(0)), sep="\n")' 2>/dev/null ||
	seq 0 $(($(nproc) - 1)))
if [ "${#CPUS[@]}" -lt 2 ]; then
	echo "SKIP: needs 2 CPUs, has ${#CPUS[@]}"
	exit 77
fi
GEN_CPU=${CPUS[0]}
FWD_CPU=${CPUS[1]}

SOCK=$WORK/vhost.sock
TLOG=$WORK/testpmd.log
TP_PID=""

stop_testpmd() {
	[ -n "$TP_PID" ] || return 0
	# SIGINT reaches testpmd through timeout, which forwards it; testpmd
	# then stops forwarding, prints its statistics and closes its ports.
	stop_pid "$TP_PID" INT 10
	TP_PID=""
}
trap 'exit 1' INT TERM

# Wait up to $1 tenths of a second for the testpmd log to match $2.
wait_log() {
	for _ in $(seq "$1"); do
		grep -q -- "$2" "$TLOG" 2>/dev/null && return 0
		alive "$TP_PID" || break
		sleep 0.1
	done
	grep -q -- "$2" "$TLOG" 2>/dev/null
}

# The value of key $2 in RESULT line $1.
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }

# run_case NAME VU_GEN_ARGS...
run_case() {
	local name=$1 out rc res tx rx bad broken
	shift
	log "case $name: vu-gen --core $GEN_CPU --rate-mpps $RATE $*"
	out=$(timeout --kill-after=5 60 "$GEN" --backend dpdk-net_vhost \
		--core "$GEN_CPU" --duration $SECS --rate-mpps $RATE "$@" \
		"$SOCK" 2>&1)
	rc=$?
	echo "$out"
	res=$(grep '^RESULT ' <<<"$out" | tail -n 1)
	if [ $rc -ne 0 ] || [ -z "$res" ]; then
		log "case $name FAILED: vu-gen exit $rc, no RESULT line"
		return 1
	fi
	tx=$(field "$res" tx)
	rx=$(field "$res" rx)
	bad=$(field "$res" bad)
	broken=$(field "$res" broken)
	if [ -z "$tx" ] || [ "$tx" -eq 0 ]; then
		log "case $name FAILED: nothing sent"
		return 1
	fi
	if [ $((rx * 10)) -le $((tx * 9)) ]; then
		log "case $name FAILED: $rx of $tx frames came back (<= 90 %)"
		return 1
	fi
	if [ "$bad" != 0 ] || [ "$broken" != 0 ]; then
		log "case $name FAILED: $bad bad frames, broken=$broken"
		return 1
	fi
	log "case $name: $rx of $tx frames back, 0 bad"
	return 0
}

log "testpmd forwarding on CPU $FWD_CPU, vu-gen on CPU $GEN_CPU"
# --lcores: main lcore 0 (mostly asleep) with vu-gen, forwarding lcore 1
# alone on its CPU.
timeout --signal=INT --kill-after=5 120 \
	stdbuf -oL -eL "$TESTPMD" --no-pci --no-huge -m 1024 \
	--lcores "0@$GEN_CPU,1@$FWD_CPU" --file-prefix="vhostd-gen-$$" \
	--vdev "net_vhost0,iface=$SOCK,queues=1" -- \
	--forward-mode=macswap --auto-start --stats-period 1 \
	</dev/null >"$TLOG" 2>&1 &
TP_PID=$!
PIDS+=("$TP_PID")
if ! wait_log 300 "binding succeeded" || ! wait_log 300 "Auto-start"; then
	log "testpmd did not come up; its log:"
	cat "$TLOG"
	exit 1
fi

fail=0
run_case plain --size 64 || fail=1
run_case merge --size 1518 --ring 512 --tx-chain --mrg-rxbuf --rx-buf 1024 \
	--event-idx --verify-full || fail=1
stop_testpmd
log "testpmd's own view:"
grep -E "virtio is now ready|negotiated Virtio features|Forward statistics|RX-packets|TX-packets" \
	"$TLOG" | tail -n 12
if grep -E "VHOST_CONFIG: .*(failed|error)" "$TLOG"; then
	log "testpmd logged vhost-user errors (above)"
	fail=1
fi
if [ $fail -ne 0 ]; then
	log "FAIL; last lines of the testpmd log:"
	grep -v "^\s*$" "$TLOG" | tail -n 40
	exit 1
fi
log "PASS"
exit 0
