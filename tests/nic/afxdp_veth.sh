#!/usr/bin/env bash
# The AF_XDP port on a veth pair whose far end is in a network namespace
# made here (names unique to this run, removed on exit):
#   - bad input at start-up: one clear error, exit code 1, nothing left
#     attached to the interface (no XDP program, or only the one that was
#     there before);
#   - two vhostds on different queues of one interface; the second fails
#     on a queue the first holds, the first keeps its program;
#   - frames both ways through a guest (test_afxdp), one queue and two.
# Skipped (77) when not root or the kernel has no AF_XDP.
set -u
VHOSTD=$1 VHOSTCTL=$2 TEST=$3 XDPPROG=$4
. "$(dirname "$0")/../interop/lib.sh"
[ "$(id -u)" -eq 0 ] || skip "not root: AF_XDP and network namespaces need root"
"$XDPPROG" probe || skip "the kernel has no AF_XDP (CONFIG_XDP_SOCKETS)"

NS=vhostd-afxdp-$$ NEAR=vxa$$ FAR=vxb$$
net_cleanup() {
	ip link del "$NEAR" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	cleanup
}
trap net_cleanup EXIT
ip netns add "$NS" || fail "cannot make namespace $NS"
ip link add "$NEAR" numrxqueues 2 numtxqueues 2 type veth peer name "$FAR" \
	numrxqueues 2 numtxqueues 2 netns "$NS" || fail "cannot make veth $NEAR"
ip link set "$NEAR" up
ip -n "$NS" link set "$FAR" up
ip -n "$NS" link set lo up
ip -n "$NS" addr add 10.77.0.2/24 dev "$FAR"
# The guest of test_afxdp is 10.77.0.1 (no ARP: it does not answer).
ip -n "$NS" neigh add 10.77.0.1 lladdr 52:54:00:00:00:01 dev "$FAR"

xdp_on_near() { ip link show dev "$NEAR" | grep -o 'prog/xdp id [0-9]*'; }
no_xdp_left() {
	local p
	p=$(xdp_on_near) && fail "$1: XDP program left on $NEAR: $p"
	return 0
}

# refused WHAT REGEX PORTARGS [PREFIX...]: vhostd with the afxdp port
# first must exit 1 at once with REGEX in its log.
refused() {
	local what=$1 re=$2 args=$3 log=$WORK/bad.log rc
	shift 3
	timeout 20 "$@" "$VHOSTD" --port "n=afxdp:$args" \
		--port "g=vhost:$WORK/bad.sock" --link g=n >"$log" 2>&1
	rc=$?
	[ $rc -eq 1 ] || fail "$what: exit code $rc, expected 1"
	grep -qE "comp=afxdp n: .*$re" "$log" || fail "$what: no '$re' in the log"
	[ "$(grep -c 'level=err comp=afxdp ' "$log")" -eq 1 ] ||
		fail "$what: not exactly one error line"
	echo "ok: $what: $(grep 'level=err comp=afxdp ' "$log" | cut -c1-150)"
}

refused "missing interface" "no interface 'vxnone$$'" "vxnone$$"
no_xdp_left "missing interface"
ip link set "$NEAR" down
refused "interface down" "is down" "$NEAR"
no_xdp_left "interface down"
ip link set "$NEAR" up
refused "queue beyond the channels" "queue 2 is beyond $NEAR's channels: it has 2" \
	"$NEAR,queues=3"
refused "start queue beyond the channels" "queue 2 is beyond" "$NEAR,start-queue=2"
no_xdp_left "queue out of range"
refused "no permission" "Operation not permitted" "$NEAR" \
	setpriv --reuid=65534 --regid=65534 --clear-groups
no_xdp_left "no permission"
refused "zero-copy on veth" "no AF_XDP zero-copy" "$NEAR,zerocopy"
no_xdp_left "zero-copy"
refused "copy and zerocopy" "zerocopy and copy exclude each other" \
	"$NEAR,copy,zerocopy"
refused "bad argument" "bad afxdp port argument 'frobnicate'" "$NEAR,frobnicate"
refused "bad queue count" "bad afxdp port argument 'queues=0'" "$NEAR,queues=0"
refused "no interface" "no interface given" ""
no_xdp_left "bad arguments"
"$XDPPROG" attach "$NEAR" pass || fail "cannot attach a test XDP program"
before=$(xdp_on_near)
refused "someone else's XDP program" \
	"already has XDP program 'vhostd_test' .* attached without libxdp's dispatcher" \
	"$NEAR"
[ "$(xdp_on_near)" = "$before" ] || fail "the other XDP program was touched"
"$XDPPROG" detach "$NEAR" || fail "cannot detach the test program"
no_xdp_left "someone else's program"

# Queue 1 held by a first vhostd; a second asking for queues 0 and 1
# fails on queue 1 and leaves queue 0's program (the first one's) alone.
"$VHOSTD" --port "a=afxdp:$NEAR,start-queue=1" --port "g=vhost:$WORK/a.sock" \
	--link g=a >"$WORK/first.log" 2>&1 &
first=$!
PIDS+=("$first")
wait_for "$WORK/first.log" "listening on" 10 || fail "first vhostd did not start"
refused "queue in use" "cannot open an AF_XDP socket on $NEAR queue 1: Device or resource busy" \
	"$NEAR,queues=2"
xdp_on_near >/dev/null || fail "the first vhostd's program went with the second's failure"
stop_pid "$first" TERM 10
wait "$first" 2>/dev/null
no_xdp_left "two vhostds"

# busy-poll: the socket options taken (or a refusal logged), and it runs.
"$VHOSTD" --port "n=afxdp:$NEAR,busy-poll" --port "g=vhost:$WORK/bp.sock" \
	--link g=n --control "$WORK/bp.ctl" >"$WORK/busypoll.log" 2>&1 &
bp=$!
PIDS+=("$bp")
wait_for "$WORK/busypoll.log" "control socket" 10 || fail "busy-poll: vhostd did not start"
grep -q "busy-poll$" "$WORK/busypoll.log" ||
	fail "busy-poll: $(grep -E 'afxdp' "$WORK/busypoll.log")"
"$VHOSTCTL" "$WORK/bp.ctl" stats | grep -q "busy_poll=1" || fail "busy-poll: not in stats"
stop_pid "$bp" TERM 10
no_xdp_left "busy-poll"
echo "ok: busy-poll: $(grep -o 'AF_XDP on .*' "$WORK/busypoll.log" | cut -c1-60)..., busy-poll"

# Frames both ways, on one queue and on two (FAR sends on as many: with
# one port queue, traffic on NEAR's other queue would pass it by).
for q in ${QUEUES:-1 2}; do
	ip netns exec "$NS" ethtool -L "$FAR" tx "$q" ||
		fail "cannot set $FAR to $q TX queue(s)"
	"$TEST" "$VHOSTD" "$VHOSTCTL" "$NS" "$NEAR" "$FAR" "$q" ||
		fail "test_afxdp with $q queue(s)"
	no_xdp_left "test_afxdp with $q queue(s)"
done
echo "PASS: AF_XDP port on veth: bad input refused cleanly, frames both ways"
