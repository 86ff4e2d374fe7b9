#!/usr/bin/env bash
# The AF_XDP port against DPDK's net_af_xdp, on the same veth in the same
# run:
#
#   vu-gen (core 0) -> back-end (core 1) -> AF_XDP on NEAR ==veth== FAR
#          ^                                                        |
#          +------- back-end <- AF_XDP on NEAR <-- XDP_TX, MACs swapped
#
# The back-end is either vhostd (--port n=afxdp:NEAR --port v=vhost:SOCK
# --link v=n) or dpdk-testpmd in io forwarding between
# --vdev net_vhost0,iface=SOCK and --vdev net_af_xdp0,iface=NEAR.  FAR sits
# in a network namespace made here, with xdp-prog's reflect program (native
# XDP, XDP_TX) sending every frame straight back.  vu-gen checks every
# frame and counts the round trips: Mpps is its RX rate over its window.
# Runs alternate (vhostd, DPDK, vhostd, ...; DPDK first in even pairs) so a
# noisy spell on this shared host hits both; one row per size with the
# medians and the median of the per-pair ratios.
#   perf/bench_afxdp.sh [BUILD_DIR] [RUNS] [SECONDS]    # build 3 5
# SIZES="64 1518" by default.  Needs root; refuses to run while
# /tmp/bench.running exists (someone else is measuring).
set -u
export LC_ALL=C
case ${1:-} in -h|--help) sed -n '2,22s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
B=${1:-build} RUNS=${2:-3} SECS=${3:-5}
SIZES=${SIZES:-64 1518}
VHOSTD=$B/control/vhostd VHOSTCTL=$B/control/vhostctl GEN=$B/perf/vu-gen
XDPPROG=$B/perf/xdp-prog
TESTPMD=$(command -v dpdk-testpmd) || { echo "no dpdk-testpmd"; exit 77; }
for x in "$VHOSTD" "$VHOSTCTL" "$GEN" "$XDPPROG"; do
	[ -x "$x" ] || { echo "$x: not built"; exit 2; }
done
[ "$(id -u)" -eq 0 ] || { echo "needs root (AF_XDP, namespaces)"; exit 77; }
[ ! -e /tmp/bench.running ] ||
	{ echo "/tmp/bench.running exists: someone is measuring; not now"; exit 75; }
W=$(mktemp -d /tmp/vhostd-bench-afxdp.XXXXXX)
PFX=vhbench-afxdp-$$
NS=vhostd-bench-$$ NEAR=vba$$ FAR=vbb$$
MEM_ARGS="--no-huge -m 1024"
. "$(dirname "$0")/bench_lib.sh"
net_cleanup() {
	cleanup
	ip link del "$NEAR" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
}
trap net_cleanup EXIT
trap 'exit 130' INT TERM

# The wire: NEAR here, FAR reflecting in NS; no IPv6 chatter (the
# reflector would send it to the guest).
ip netns add "$NS" &&
	ip link add "$NEAR" type veth peer name "$FAR" netns "$NS" &&
	sysctl -qw "net.ipv6.conf.$NEAR.disable_ipv6=1" &&
	ip netns exec "$NS" sysctl -qw "net.ipv6.conf.$FAR.disable_ipv6=1" &&
	ip link set "$NEAR" up && ip -n "$NS" link set "$FAR" up &&
	ip netns exec "$NS" "$XDPPROG" attach "$FAR" reflect ||
	{ echo "cannot set up the veth $NEAR/$FAR"; exit 1; }

# be_vhostd / be_dpdk SOCK: the back-end on BE_CORE, logs be.SIDE.log.
be_vhostd() {
	rm -f "$W/ctl"
	start_bg "$W/be.vhostd.log" "$VHOSTD" --port "n=afxdp:$NEAR" \
		--port "v=vhost:$1" --link v=n --cores $BE_CORE --control "$W/ctl"
	BE_PID[vhostd]=$BG_PID
	wait_for "$BG_PID" $START_WAIT log_has "$W/be.vhostd.log" "control socket"
}
be_dpdk() {
	start_bg "$W/be.dpdk.log" "$TESTPMD" --no-pci $MEM_ARGS \
		--file-prefix="$PFX-be" --lcores 0@$BE_CORE,1@$BE_CORE \
		--vdev "net_vhost0,iface=$1,queues=1" \
		--vdev "net_af_xdp0,iface=$NEAR,start_queue=0,queue_count=1" -- \
		--total-num-mbufs=$NB_MBUFS --forward-mode=io \
		--auto-start --stats-period 1
	BE_PID[dpdk]=$BG_PID
	wait_for "$BG_PID" $START_WAIT test -S "$1"
}
be_stop() {
	[ -n "${BE_PID[$1]:-}" ] || return 0
	stop_pid "${BE_PID[$1]}" INT 10
	unset "BE_PID[$1]"
	rm -rf /var/run/dpdk/"$PFX"-be
	# Whoever had it, nothing may stay on NEAR for the next run.
	ip link show dev "$NEAR" | grep -q prog/xdp &&
		{ note "XDP program left on $NEAR after $1"; "$XDPPROG" detach "$NEAR"; }
	return 0
}

# run SIDE SIZE -> Mpps (or nan)
run() {
	local be=$1 label="$2B $1 run $r" res rx
	rm -f "$W/s.sock" "$W/g.out"
	if ! be_"$be" "$W/s.sock"; then
		echo "  $label: back-end did not start" >&2
		note "FAILED $label: back-end did not start: $(tail -n 3 "$W/be.$be.log" | tr '\n' ' ')"
		be_stop "$be"; echo nan; return
	fi
	timeout $((SECS + 30)) "$GEN" --backend "$be" --core $FE_CORE \
		--duration "$SECS" --size "$2" "$W/s.sock" >"$W/g.out" 2>&1
	[ "$be" != vhostd ] || timeout 5 "$VHOSTCTL" "$W/ctl" stats >"$W/st.$be"
	be_stop "$be"
	res=$(grep -a '^RESULT' "$W/g.out")
	if [ -z "$res" ]; then
		echo "  $label: vu-gen printed no RESULT" >&2
		note "FAILED $label: $(tail -n 3 "$W/g.out" | tr '\n' ' ')"
		echo nan; return
	fi
	rx=$(kv rx_mpps <<<"$res")
	[ "$(kv bad <<<"$res")$(kv broken <<<"$res")" = 00 ] ||
		note "$label: bad=$(kv bad <<<"$res") broken=$(kv broken <<<"$res")"
	echo "  $label: $rx Mpps (loss $(kv loss <<<"$res"))" >&2
	echo "$rx"
}

printf "%-6s %12s %10s %7s %s\n" size "vhostd Mpps" "dpdk Mpps" ratio "pairs ahead"
for size in $SIZES; do
	: >"$W/v" >"$W/d" >"$W/ratio"
	ahead=0
	for ((r = 1; r <= RUNS; r++)); do
		if ((r % 2)); then v=$(run vhostd "$size"); d=$(run dpdk "$size")
		else d=$(run dpdk "$size"); v=$(run vhostd "$size"); fi
		echo "$v" >>"$W/v"; echo "$d" >>"$W/d"
		x=$(ratio "$v" "$d"); echo "${x%x}" >>"$W/ratio"
		awk -v a="$v" -v b="$d" 'BEGIN { exit !(a != "nan" && b != "nan" && a > b) }' &&
			ahead=$((ahead + 1))
	done
	printf "%-6s %12s %10s %7s %s\n" "${size}B" "$(median <"$W/v")" \
		"$(median <"$W/d")" "$(median <"$W/ratio")x" "$ahead/$RUNS"
done
[ ! -s "$W/notes" ] || { echo "notes:"; cat "$W/notes"; }
