#!/bin/bash
# SPDX-License-Identifier: MIT
#
# front_vs_dpdk_vhost.sh FRONT_HANDSHAKE
#
# Interop test of the front-end library (control/frontend/vu_front.h) against a
# back-end nobody here wrote: DPDK's net_vhost PMD inside dpdk-testpmd.
# Two cases, each with a fresh testpmd:
#   server  testpmd listens, front_handshake connects, 1 memory region
#   client  testpmd connects (client=1), front_handshake --server accepts,
#           4 memory regions (non-zero mmap offsets)
# front_handshake negotiates, sends SET_MEM_TABLE, sets up every ring of
# 2 queue pairs and stops them with GET_VRING_BASE; then testpmd's log must
# show the device became ready and the port link went up.
#
# Exit 0 pass, 1 fail, 77 skip (no dpdk-testpmd).  DPDK_TESTPMD overrides
# the binary.  Everything lives in lib.sh's private temp dir, removed with
# DPDK's runtime dirs and every process it started.
set -u

FRONT=${1:?usage: $0 FRONT_HANDSHAKE}
TESTPMD=${DPDK_TESTPMD:-${TESTPMD:-}}
. "$(dirname "$0")/lib.sh"
need_testpmd
PAIRS=2
TP_PID=""

log() { echo "front_vs_dpdk_vhost: $*"; }

# Start testpmd for case $1 with vdev arguments $2; stdin is a fifo that
# fd 3 keeps open, so interactive testpmd waits for our "quit".
start_testpmd() {
	local name=$1 vdev=$2
	rm -f "$WORK/cmd"
	mkfifo "$WORK/cmd" || return 1
	# timeout bounds testpmd even if this script is killed.
	timeout --signal=TERM --kill-after=5 120 \
		stdbuf -oL -eL "$TESTPMD" --no-pci --no-huge -m 512 \
		--lcores 0@1,1@1 --file-prefix="vhostd-front-$name-$$" \
		--vdev "$vdev" -- -i --rxq=$PAIRS --txq=$PAIRS \
		--total-num-mbufs=4096 \
		<"$WORK/cmd" >"$WORK/testpmd-$name.log" 2>&1 &
	TP_PID=$!
	PIDS+=("$TP_PID")
	exec 3>"$WORK/cmd"
}

# Ask testpmd to quit, kill it if it does not within 5 s, reap it.
stop_testpmd() {
	[ -n "$TP_PID" ] || return 0
	# A subshell ignoring SIGPIPE: testpmd may already be gone.
	(trap '' PIPE; echo quit >&3) 2>/dev/null
	wait_exit "$TP_PID" 5 || stop_pid "$TP_PID" TERM 5
	exec 3>&-
	TP_PID=""
}
trap 'exit 1' INT TERM

# Wait up to $2 tenths of a second for file $1 to match pattern $3.
wait_log() {
	for _ in $(seq "$2"); do
		grep -q -- "$3" "$1" 2>/dev/null && return 0
		alive "$TP_PID" || break
		sleep 0.1
	done
	grep -q -- "$3" "$1" 2>/dev/null
}

check_log() {
	local f=$1 ok=0
	wait_log "$f" 50 "virtio is now ready for processing" ||
		{ log "testpmd never said 'virtio is now ready'"; ok=1; }
	wait_log "$f" 50 "Port 0: link state change event" ||
		{ log "testpmd saw no link state change"; ok=1; }
	if grep -E "VHOST_CONFIG: .*(failed|error)" "$f" | grep -v \
		"failed to connect"; then
		log "testpmd logged vhost-user errors (above)"
		ok=1
	fi
	return $ok
}

# run_case NAME VDEV_EXTRA FRONT_ARGS...
run_case() {
	local name=$1 extra=$2 sock="$WORK/$1.sock" rc
	shift 2
	local tlog="$WORK/testpmd-$name.log"
	log "case $name: testpmd ${extra:-server}, front_handshake $*"
	start_testpmd "$name" "net_vhost0,iface=$sock,queues=$PAIRS$extra" ||
		return 1
	if [ -z "$extra" ] && ! wait_log "$tlog" 200 "binding succeeded"; then
		log "testpmd did not create $sock"
		cat "$tlog"
		return 1
	fi
	"$FRONT" --timeout 10000 "$@" "$sock" $PAIRS
	rc=$?
	if [ $rc -eq 0 ]; then
		check_log "$tlog"
		rc=$?
	fi
	stop_testpmd
	if [ $rc -ne 0 ]; then
		log "case $name FAILED; testpmd log:"
		cat "$tlog"
		return 1
	fi
	log "case $name: testpmd log:"
	grep -E "virtio is now ready|Port 0: (link|queue) state|negotiated" \
		"$tlog"
	return 0
}

fail=0
run_case server "" --regions 1 || fail=1
run_case client ",client=1" --server --regions 4 || fail=1
[ $fail -eq 0 ] && log "PASS" || log "FAIL"
exit $fail
