#!/usr/bin/env bash
# A real front-end nobody here wrote: dpdk-testpmd's virtio-user (2 queue
# pairs) completes the vhost-user handshake with vhostd and reports the link
# up.  Mode "server": vhostd listens.  Mode "client": testpmd listens
# (server=1), vhostd connects, and must reconnect after testpmd restarts.
set -u
VHOSTD=$1 MODE=$2
. "$(dirname "$0")/lib.sh"
need_testpmd
SOCK=$WORK/vm0.sock
VLOG=$WORK/vhostd.log

start_vhostd() {
	"$VHOSTD" --port "vm0=vhost:$SOCK$1" --reflect vm0 >"$VLOG" 2>&1 &
	VPID=$!
	PIDS+=($VPID)
}

# One front-end session: link up, rings started, clean detach.
session() {
	local n=$1 devargs=$2
	testpmd_virtio_user "tp$n" "$devargs"
	wait_for "$WORK/tp$n.log" "testpmd>" 30 || fail "testpmd $n did not start"
	wait_for "$VLOG" "ring 3 started" 10 || fail "session $n: rings not started"
	testpmd_cmd "show port info 0"
	wait_for "$WORK/tp$n.log" "Link status: up" 10 || fail "session $n: link not up"
	testpmd_quit
	wait_for "$VLOG" "front-end disconnected" 20 || fail "session $n: no detach"
}

if [ "$MODE" = server ]; then
	start_vhostd ""
	wait_for "$VLOG" "listening on" 5 || fail "vhostd did not listen"
	session 1 "path=$SOCK,queues=2"
	session 2 "path=$SOCK,queues=2"   # the socket takes the next front-end
else
	start_vhostd ",client"             # nobody listens yet: back-off
	wait_for "$VLOG" "retrying with back-off" 5 || fail "no back-off"
	session 1 "path=$SOCK,queues=2,server=1"
	session 2 "path=$SOCK,queues=2,server=1"  # reconnect after restart
fi
grep -q "refused" "$VLOG" && fail "vhostd refused part of a valid handshake"
[ "$(grep -c 'front-end connected' "$VLOG")" -eq 2 ] || fail "expected 2 sessions"
kill -TERM "$VPID"
wait "$VPID"; rc=$?
[ $rc -eq 0 ] || fail "vhostd exit code $rc after SIGTERM"
if [ "$MODE" = server ] && [ -e "$SOCK" ]; then fail "socket not removed"; fi
echo "PASS: testpmd virtio-user ($MODE mode): 2 sessions, link up, clean exit"
