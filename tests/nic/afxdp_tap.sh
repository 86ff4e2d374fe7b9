#!/usr/bin/env bash
# A guest with a real network stack behind the AF_XDP port: vu-tap
# (tests/tools/vu_tap.c, a kernel tap driven as a virtio-net front-end) in
# namespace G, vhostd linking it to an AF_XDP port on veth end NEAR, the
# other end FAR in namespace W (the wire's far side):
#
#   G: tap t0 10.78.0.1 = vu-tap <-> vhostd <-> AF_XDP NEAR ==veth== FAR 10.78.0.2 :W
#
# Per case: ping both ways, then 4 MB over TCP each way at once, digests
# compared (tests/tools/tcp_xfer.py).  FAR keeps veth's TX checksum
# offload (the default), so W's stack sends partial checksums, which the
# port passes on as NEEDS_CSUM (see pmd/afxdp_csum.c).
#   plain     vu-tap without offloads: vhostd completes W's checksums
#   offloads  vu-tap --offloads: W's partial checksums go to the guest
#             marked, the guest's TSO frames are cut by vhostd for the wire
#   mq        queues=2 on a 2-queue veth, vu-tap --queues 2 --offloads
#   bridge    the guest and the AF_XDP port on a learning bridge (--bridge
#             br0, bridge=br0) instead of linked, vu-tap --offloads
#
# Usage: afxdp_tap.sh VHOSTD VU_TAP VHOSTCTL XFER XDP_PROG [CASE...]
# Exit 0 pass, 1 fail, 77 skip (not root, no AF_XDP or tun).
set -u
VHOSTD=$1 VUTAP=$2 VHOSTCTL=$3 XFER=$4 XDPPROG=$5
shift 5
[ $# -gt 0 ] || set -- plain offloads mq bridge
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (namespaces, tap, AF_XDP)"; exit 77; }
[ -c /dev/net/tun ] || { echo "SKIP: no /dev/net/tun"; exit 77; }
"$XDPPROG" probe || { echo "SKIP: the kernel has no AF_XDP"; exit 77; }
G=vhaxg-$$ W=vhaxw-$$ NEAR=vta$$ FAR=vtb$$
WORK=$(mktemp -d /tmp/vhostd-afxdp-tap.XXXXXX)
PIDS=()
stop_all() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	PIDS=()
}
cleanup() {
	stop_all
	ip link del "$NEAR" 2>/dev/null
	ip netns del "$G" 2>/dev/null
	ip netns del "$W" 2>/dev/null
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
ip netns add "$G" && ip netns add "$W" || fail "cannot create namespaces"
WK_CPU=$(($(nproc) - 1))

# wire QUEUES: a fresh veth pair, FAR addressed in W.
wire() {
	ip link del "$NEAR" 2>/dev/null
	ip link add "$NEAR" numrxqueues "$1" numtxqueues "$1" type veth \
		peer name "$FAR" numrxqueues "$1" numtxqueues "$1" netns "$W" ||
		fail "cannot make veth $NEAR"
	ip link set "$NEAR" up
	ip -n "$W" link set lo up
	ip -n "$W" addr add 10.78.0.2/24 dev "$FAR"
	ip -n "$W" link set "$FAR" up
}

. "$(dirname "$0")/../tools/tap_lib.sh"

run_case() {
	local name=$1 q=1 o="" t0=$SECONDS br="" wiring=(--link g=n)
	case $name in
	plain) ;;
	offloads) o="--offloads" ;;
	mq) q=2 o="--queues 2 --offloads" ;;
	bridge) o="--offloads" br=",bridge=br0" wiring=(--bridge br0) ;;
	*) fail "unknown case $name" ;;
	esac
	wire "$q"
	"$VHOSTD" --port "n=afxdp:$NEAR,queues=$q$br" \
		--port g=vhost:"$WORK/g.sock$br" \
		"${wiring[@]}" --cores "$WK_CPU" --control "$WORK/ctl" \
		>"$WORK/vhostd.log" 2>&1 &
	PIDS+=($!)
	local end=$((SECONDS + 10))
	until [ -S "$WORK/g.sock" ] && [ -S "$WORK/ctl" ]; do
		[ $SECONDS -lt $end ] || fail "$name: vhostd did not start"
		sleep 0.1
	done
	# shellcheck disable=SC2086
	vutap_up "$G" t0 "$WORK/g.sock" 10.78.0.1/24 $o
	ip netns exec "$G" busybox ping -c 3 -i 0.2 -W 5 -w 20 10.78.0.2 \
		>"$WORK/ping.out" 2>&1 || fail "$name: ping from the guest"
	ip netns exec "$W" busybox ping -c 3 -i 0.2 -W 5 -w 20 10.78.0.1 \
		>>"$WORK/ping.out" 2>&1 || fail "$name: ping to the guest"
	local before=${#PIDS[@]}
	xfer "$G" "$W" 10.78.0.2 5001 4000000 gw
	xfer "$W" "$G" 10.78.0.1 5002 4000000 wg
	xfer_check "$name" "$before" gw wg
	# Two TCP flows may hash onto one veth queue: 64 UDP flows from as
	# many source ports leave both queues unused with odds of 2^-63.
	[ "$name" != mq ] || ip netns exec "$W" python3 -c '
import socket
for i in range(64):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"vhostd", ("10.78.0.1", 9))
    s.close()'
	"$VHOSTCTL" "$WORK/ctl" stats >"$WORK/stats.out"
	grep -q "broken=1" "$WORK/stats.out" && fail "$name: a queue broke"
	[ "$name" != bridge ] ||
		grep -qE "^bridge name=br0 members=2 macs=2 " "$WORK/stats.out" ||
		fail "$name: the bridge did not learn both ends"
	local used=0
	for ((i = 0; i < q; i++)); do
		grep -qE "^portq port=n queue=$i .* rx_packets=[1-9]" \
			"$WORK/stats.out" && used=$((used + 1))
	done
	[ "$name" != mq ] || [ $used -eq 2 ] ||
		fail "$name: traffic on $used of 2 queues"
	local partial
	partial=$(grep -o ' rx_csum_partial=[0-9]*' "$WORK/stats.out" |
		  awk -F= '{ n += $2 } END { print n + 0 }')
	stop_all
	ip -n "$G" link del t0 2>/dev/null
	ip link show dev "$NEAR" | grep -q prog/xdp &&
		fail "$name: XDP program left on $NEAR"
	rm -f "$WORK"/*.sock "$WORK/ctl"
	echo "case $name: ping both ways, 2 x 4 MB over TCP intact, $q queue(s)," \
		"$partial frames from W with partial checksums, $((SECONDS - t0)) s"
}

for c in "$@"; do run_case "$c"; done
echo "PASS: a tap guest behind the AF_XDP port: ping and TCP both ways intact"
