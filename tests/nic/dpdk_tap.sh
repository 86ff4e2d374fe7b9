#!/usr/bin/env bash
# A guest and a DPDK port linked by vhostd: the port is DPDK's net_tap, a
# kernel tap device whose network stack (namespace 1, where vhostd runs,
# so that net_tap's interface is there) is the "wire"; the guest is vu-tap
# (tests/tools/vu_tap.c) with its own tap in namespace 2.  Per case: ping,
# then 4 MB over TCP each way at once, digests compared
# (tests/tools/tcp_xfer.py), and the port's counters checked.
#
# Cases (guest features / dpdk port):
#   plain     no offloads; the port's receive checksums reach the guest
#             as nothing (it did not take GUEST_CSUM)
#   offloads  guest takes CSUM/TSO: its partial checksums go to the
#             device as mbuf offloads (tx_csum_hw), its 64 KiB frames are
#             cut in software (net_tap's TSO is not used: port_dpdk.c),
#             received frames reach it with DATA_VALID; plus 2 MB over
#             TCP/IPv6
#   mq        2 queue pairs each side (queues=2, vu-tap --queues 2 --mrg)
#
# Usage: dpdk_tap.sh VHOSTD VU_TAP VHOSTCTL XFER [CASE...]
# Exit 0 pass, 1 fail, 77 skip (no DPDK in this build, not root, no netns
# or tun).
set -u
VHOSTD=$1 VUTAP=$2 VHOSTCTL=$3 XFER=$4
shift 4
[ $# -gt 0 ] || set -- plain offloads mq
"$VHOSTD" --help | grep -q "this build: .*dpdk" ||
	{ echo "SKIP: vhostd built without DPDK"; exit 77; }
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (namespaces, tap)"; exit 77; }
[ -c /dev/net/tun ] || { echo "SKIP: no /dev/net/tun"; exit 77; }
NS1=vhdt1-$$ NS2=vhdt2-$$ DEV=dtp$$
ip netns add "$NS1" 2>/dev/null || { echo "SKIP: cannot create netns"; exit 77; }
ip netns add "$NS2"
WORK=$(mktemp -d /tmp/vhostd-dpdk-tap.XXXXXX)
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
	[ -S "$WORK/ctl" ] && timeout 5 "$VHOSTCTL" "$WORK/ctl" stats
	echo "FAIL: $*"
	exit 1
}
WK_CPU=$(($(nproc) - 1))

# counter KEY: its value on the port's queue lines, summed.
counter() {
	grep "^portq port=n " "$WORK/stats.out" | tr ' ' '\n' |
		awk -F= -v k="$1" '$1 == k { s += $2 } END { print s + 0 }'
}

. "$(dirname "$0")/../tools/tap_lib.sh"

start_vhostd() {
	local q=$1
	ip netns exec "$NS1" "$VHOSTD" \
		--port n=dpdk:net_tap0,iface=$DEV,queues=$q \
		--port g=vhost:"$WORK/g.sock" --link g=n --cores "$WK_CPU" \
		--control "$WORK/ctl" >"$WORK/vhostd.log" 2>&1 &
	VPID=$!
	PIDS+=($VPID)
	local end=$((SECONDS + 20))
	until [ -S "$WORK/g.sock" ] && [ -S "$WORK/ctl" ]; do
		kill -0 $VPID 2>/dev/null || fail "vhostd exited at start"
		[ $SECONDS -lt $end ] || fail "vhostd did not start"
		sleep 0.1
	done
	ip -n "$NS1" link set lo up
	ip -n "$NS1" addr add 10.79.0.1/24 dev "$DEV"
	ip -n "$NS1" addr add fd79::1/64 dev "$DEV" nodad
	ip -n "$NS1" link set "$DEV" up
}

start_guest() {
	vutap_up "$NS2" vt0 "$WORK/g.sock" 10.79.0.2/24 "$@"
	ip -n "$NS2" addr add fd79::2/64 dev vt0 nodad
}

# Stop the case: the guest, then vhostd, which must exit 0 and leave
# neither its tap nor its EAL directory behind.
stop_case() {
	local name=$1
	for p in "${PIDS[@]}"; do
		[ "$p" = "$VPID" ] || kill "$p" 2>/dev/null
	done
	kill -TERM "$VPID"
	wait "$VPID" || fail "$name: vhostd exited $?"
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	PIDS=()
	ip -n "$NS1" link show "$DEV" >/dev/null 2>&1 &&
		fail "$name: $DEV still there after vhostd exited"
	[ -e "/var/run/dpdk/vhostd-$VPID" ] &&
		fail "$name: /var/run/dpdk/vhostd-$VPID left behind"
	ip -n "$NS2" link del vt0 2>/dev/null
	rm -f "$WORK"/*.sock "$WORK/ctl"
}

check_counters() {
	local name=$1
	"$VHOSTCTL" "$WORK/ctl" stats >"$WORK/stats.out"
	grep -q "broken=1" "$WORK/stats.out" && fail "$name: a queue broke"
	grep -q "^ethdev port=n .* link=up" "$WORK/stats.out" ||
		fail "$name: the ethdev line does not say link=up"
	[ "$(counter tx_bad_offload)" -eq 0 ] ||
		fail "$name: frames refused for their offloads"
	[ "$(counter rx_csum_good)" -gt 0 ] ||
		fail "$name: no received frame had its checksum checked"
	case $name in
	offloads)
		[ "$(counter tx_csum_hw)" -gt 0 ] ||
			fail "$name: no checksum handed to the device" ;;
	mq)
		[ "$(grep -c "^portq port=n " "$WORK/stats.out")" -eq 2 ] ||
			fail "$name: not 2 queue lines" ;;
	esac
}

run_case() {
	local name=$1 q=1 g=()
	case $name in
	plain) ;;
	offloads) g=(--offloads) ;;
	mq) q=2 g=(--queues 2 --mrg --offloads) ;;
	*) fail "unknown case $name" ;;
	esac
	local t0=$SECONDS
	start_vhostd $q
	start_guest "${g[@]}"
	ip netns exec "$NS2" busybox ping -c 3 -i 0.2 -W 5 -w 20 10.79.0.1 \
		>"$WORK/ping.out" 2>&1 || fail "$name: ping"
	local before=${#PIDS[@]}
	xfer "$NS2" "$NS1" 10.79.0.1 5001 4000000 ab
	xfer "$NS1" "$NS2" 10.79.0.2 5002 4000000 ba
	[ "$name" = offloads ] && xfer "$NS2" "$NS1" fd79::1 5003 2000000 v6 ::
	if [ "$name" = offloads ]; then
		xfer_check "$name" "$before" ab ba v6
	else
		xfer_check "$name" "$before" ab ba
	fi
	check_counters "$name"
	[ -n "${DPDK_TAP_SHOW:-}" ] && grep -E "^(portq|ethdev|queue)" "$WORK/stats.out"
	local hw sw
	hw=$(counter tx_csum_hw) sw=$(counter rx_csum_good)
	stop_case "$name"
	echo "case $name: ping ok, 2 x 4 MB intact ($(cut -c1-22 "$WORK/ab.sent")...), tx_csum_hw=$hw rx_csum_good=$sw, $((SECONDS - t0)) s"
}

for c in "$@"; do run_case "$c"; done
echo "PASS: a guest and a net_tap port linked by vhostd: ping and TCP intact"
