#!/usr/bin/env bash
# Two guests with real network stacks, linked by vhostd: each guest is a
# vu-tap (tests/tools/vu_tap.c: a kernel tap device driven as a virtio-net
# front-end) in its own network namespace.  Per case: ping, then 8 MB over
# TCP each way at once, digests compared (tests/tools/tcp_xfer.py).
#
# Cases (guest 1 / guest 2 features):
#   plain     no offloads on either side
#   offloads  both take CSUM/TSO: 64 KiB TCP frames pass through whole
#   mixed     guest 1 offloads, guest 2 none: vhostd completes checksums
#             and segments TSO frames in software on the way to guest 2
#   mq        2 queue pairs each (tap IFF_MULTI_QUEUE), mergeable buffers,
#             offloads on guest 2 only
#
# Usage: tap_link.sh VHOSTD VU_TAP VHOSTCTL XFER [CASE...]
# Exit 0 pass, 1 fail, 77 skip (not root, no netns or tun).
set -u
VHOSTD=$1 VUTAP=$2 VHOSTCTL=$3 XFER=$4
shift 4
[ $# -gt 0 ] || set -- plain offloads mixed mq
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (namespaces, tap)"; exit 77; }
[ -c /dev/net/tun ] || { echo "SKIP: no /dev/net/tun"; exit 77; }
NS1=vhtl1-$$ NS2=vhtl2-$$
ip netns add "$NS1" 2>/dev/null || { echo "SKIP: cannot create netns"; exit 77; }
ip netns add "$NS2"
WORK=$(mktemp -d /tmp/vhostd-tap.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	ip netns del "$NS1" 2>/dev/null
	ip netns del "$NS2" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	for f in "$WORK"/*.log "$WORK"/*.out; do
		[ -f "$f" ] && { echo "--- $f"; tail -n 15 "$f"; }
	done
	timeout 5 "$VHOSTCTL" "$WORK/ctl" stats
	echo "FAIL: $*"
	exit 1
}
WK_CPU=$(($(nproc) - 1))

. "$(dirname "$0")/../tools/tap_lib.sh"

run_case() {
	local name=$1 o1 o2
	case $name in
	plain) o1="" o2="" ;;
	offloads) o1="--offloads" o2="--offloads" ;;
	mixed) o1="--offloads" o2="" ;;
	mq) o1="--queues 2 --mrg" o2="--queues 2 --mrg --offloads" ;;
	*) fail "unknown case $name" ;;
	esac
	local t0=$SECONDS
	"$VHOSTD" --port a=vhost:"$WORK/a.sock" --port b=vhost:"$WORK/b.sock" \
		--link a=b --cores "$WK_CPU" --control "$WORK/ctl" \
		>"$WORK/vhostd.log" 2>&1 &
	local vpid=$!
	PIDS+=($vpid)
	local end=$((SECONDS + 5))
	until [ -S "$WORK/b.sock" ] && [ -S "$WORK/ctl" ]; do
		[ $SECONDS -lt $end ] || fail "$name: vhostd did not start"
		sleep 0.1
	done
	# shellcheck disable=SC2086
	vutap_up "$NS1" t1 "$WORK/a.sock" 10.77.0.1/24 $o1
	# shellcheck disable=SC2086
	vutap_up "$NS2" t2 "$WORK/b.sock" 10.77.0.2/24 $o2
	ip netns exec "$NS1" busybox ping -c 3 -i 0.2 -W 5 -w 20 10.77.0.2 \
		>"$WORK/ping.out" 2>&1 || fail "$name: ping"
	local before=${#PIDS[@]}
	xfer "$NS1" "$NS2" 10.77.0.2 5001 8000000 ab
	xfer "$NS2" "$NS1" 10.77.0.1 5002 8000000 ba
	xfer_check "$name" "$before" ab ba
	"$VHOSTCTL" "$WORK/ctl" stats >"$WORK/stats.out"
	grep -q "broken=1" "$WORK/stats.out" && fail "$name: a queue broke"
	local segs
	segs=$(grep -o 'port=a ring=1 .* forwarded=[0-9]*' "$WORK/stats.out" |
	       grep -o 'forwarded=[0-9]*$')
	# Stop everything of this case (guests first: vhostd sees them go).
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	PIDS=()
	ip -n "$NS1" link del t1 2>/dev/null
	ip -n "$NS2" link del t2 2>/dev/null
	rm -f "$WORK"/*.sock "$WORK/ctl"
	echo "case $name: ping ok, 2 x 8 MB intact ($(cut -c1-22 "$WORK/ab.sent")...), guest 1 sent $segs, $((SECONDS - t0)) s"
}

for c in "$@"; do run_case "$c"; done
echo "PASS: tap guests linked by vhostd: ping and TCP both ways intact"
