#!/usr/bin/env bash
# deploy/manager/fdport.py, the manager example (issue 21), against vhostd:
# the "VMM" is a sleep holding its end of the socketpair.  While it runs
# the port is connected; once it exits, detached; run again with the same
# name, the example gives the port a new socket (set-port-fd).  Also a
# vhostctl add-port vhost-fd:N whose N is not open in vhostctl: refused
# by vhostctl itself, vhostd untouched.
#   fdport_example.sh VHOSTD VHOSTCTL FDPORT_PY
set -u
VHOSTD=$1 CTL=$2 EX=$3
WORK=$(mktemp -d /tmp/vhostd-fdex.XXXXXX) || exit 1
VPID=""
cleanup() { [ -n "$VPID" ] && kill "$VPID" 2>/dev/null; wait; rm -rf "$WORK"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -n 20 "$WORK/vhostd.log"; exit 1; }

# state NAME: the port's state in vhostctl --json show.
state() {
	"$CTL" --json "$WORK/ctl" show | python3 -c 'import json,sys
r=json.load(sys.stdin)
print(next((p["state"] for p in r["ports"] if p["name"]==sys.argv[1]), "none"))' "$1"
}
wait_state() {
	for _ in $(seq 100); do
		[ "$(state "$1")" = "$2" ] && return 0
		sleep 0.05
	done
	fail "port $1: state $(state "$1"), want $2"
}

"$VHOSTD" --control "$WORK/ctl" --bridge br0 --cores 1 >"$WORK/vhostd.log" 2>&1 &
VPID=$!
for _ in $(seq 100); do [ -S "$WORK/ctl" ] && break; sleep 0.05; done
[ -S "$WORK/ctl" ] || fail "no control socket"

python3 "$EX" "$WORK/ctl" vm1 br0 sleep 1 &
wait_state vm1 connected
wait $! || fail "the first run failed"
wait_state vm1 detached
python3 "$EX" "$WORK/ctl" vm1 br0 sleep 1 &
wait_state vm1 connected
grep -q "vm1: given a new socket" "$WORK/vhostd.log" ||
	fail "the second run did not use set-port-fd"
wait $! || fail "the second run failed"
wait_state vm1 detached

out=$("$CTL" "$WORK/ctl" add-port vm2 vhost-fd:77 2>&1) &&
	fail "vhostctl passed an fd it does not have"
echo "$out" | grep -q "fd 77 is not open in vhostctl" || fail "vhostctl: $out"
[ "$(state vm2)" = none ] || fail "vm2 was added"
kill -0 "$VPID" || fail "vhostd died"
echo "PASS: deploy/manager/fdport.py: connected, detached, set-port-fd, detached"
