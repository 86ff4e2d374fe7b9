# shellcheck shell=bash
# Helpers for the tests whose guests are vu-tap instances (a kernel tap's
# stack as the guest) in network namespaces: start one, move data over TCP
# both ways and compare digests.  The caller defines WORK, PIDS (array),
# VUTAP, XFER (tests/tools/tcp_xfer.py) and fail().

# wait_file FILE REGEX SECONDS WHAT: until REGEX is in FILE, else fail.
wait_file() {
	local end=$((SECONDS + $3))
	until grep -qE "$2" "$1" 2>/dev/null; do
		[ $SECONDS -lt $end ] || fail "$4"
		sleep 0.1
	done
}

# vutap_up NS TAP SOCK ADDR/PREFIX [VU-TAP-OPTIONS...]: start vu-tap in NS
# on SOCK (log WORK/TAP.log), wait until its rings run, address TAP.
vutap_up() {
	local ns=$1 tap=$2 sock=$3 addr=$4; shift 4
	# The log of an earlier vu-tap on TAP says "ready" too: gone before
	# the next starts (its shell may truncate the file only after
	# wait_file first looks).
	rm -f "$WORK/$tap.log"
	ip netns exec "$ns" "$VUTAP" --socket "$sock" --tap "$tap" "$@" \
		>"$WORK/$tap.log" 2>&1 &
	PIDS+=($!)
	wait_file "$WORK/$tap.log" "vu-tap: ready" 10 "$tap: vu-tap not ready"
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "$addr" dev "$tap"
	ip -n "$ns" link set "$tap" up
}

# xfer FROM_NS TO_NS TO_ADDR PORT BYTES TAG [BIND]: a receiver in TO_NS
# and a sender in FROM_NS, in the background (PIDS); xfer_check waits.
xfer() {
	XFER_BIND=${7:-0.0.0.0} ip netns exec "$2" python3 "$XFER" recv "$4" \
		30 >"$WORK/$6.recv" 2>"$WORK/$6.out" &
	PIDS+=($!)
	ip netns exec "$1" python3 "$XFER" send "$3" "$4" "$5" 30 \
		>"$WORK/$6.sent" 2>>"$WORK/$6.out" &
	PIDS+=($!)
}

# xfer_check CASE FIRST TAG...: wait for the processes from PIDS index
# FIRST on, then each TAG's digests must match.
xfer_check() {
	local name=$1 first=$2 p t s r
	shift 2
	for p in "${PIDS[@]:$first}"; do
		wait "$p" || fail "$name: a transfer failed"
	done
	for t in "$@"; do
		s=$(cat "$WORK/$t.sent") r=$(cat "$WORK/$t.recv")
		[ -n "$s" ] && [ "$s" = "$r" ] ||
			fail "$name: $t: sent '$s', received '$r'"
	done
}
