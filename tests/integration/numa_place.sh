#!/usr/bin/env bash
# NUMA placement end to end, on this host and on a 2-node host described by
# a sysfs tree (VHOSTD_NUMA_SYSFS): node 0 = core 0, node 1 = core 1, and a
# core 2 that exists but is offline.  This host's memory is all on node 0,
# so a vu-gen guest's rings are found there.
#   1. --cores refusals: unknown node, too many cores of a node, offline or
#      missing cores, COUNT 0.
#   2. 2 queue pairs, workers on both nodes: both pairs go to node 0's
#      worker; the tree has no free hugepage, so their state is on normal
#      pages and the log says so.
#   3. the only worker on node 1: the pair is polled across nodes, and the
#      log says so.
#   4. a guest linked to a NIC port (loop, claiming node 1): the log names
#      both nodes once, the copy stays on the guest's node 0.
#   5. this host (1 node), workers on cores 0 and 1: the 2 pairs are
#      balanced, one per worker; a hugepage guest shows guest_huge=yes.
# Every guest run must get its frames back; vhostctl placement shows the
# same table.
#   numa_place.sh VHOSTD VU_GEN VHOSTCTL
set -u
VHOSTD=$1 GEN=$2 CTL=$3
WORK=$(mktemp -d /tmp/vhostd-numa.XXXXXX)
VPID=
cleanup() {
	[ -n "$VPID" ] && kill "$VPID" 2>/dev/null && wait "$VPID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	for f in "$WORK"/*.out "$WORK"/*.err; do
		[ -s "$f" ] && { echo "--- $f"; tail -n 30 "$f"; }
	done
	exit 1
}
[ "$(nproc)" -ge 2 ] || { echo "SKIP: needs 2 CPUs"; exit 77; }

# The 2-node tree.
T=$WORK/sys
put() { mkdir -p "$(dirname "$T/$1")"; echo "$2" >"$T/$1"; }
put devices/system/cpu/possible 0-2
put devices/system/cpu/online 0-1
put devices/system/node/node0/cpulist 0
put devices/system/node/node1/cpulist 1
for n in 0 1; do
	put devices/system/node/node$n/hugepages/hugepages-2048kB/nr_hugepages 0
	put devices/system/node/node$n/hugepages/hugepages-2048kB/free_hugepages 0
done

# refuse WANT ARGS...: vhostd (2-node tree) exits 2 saying WANT.
refuse() {
	local want=$1; shift
	VHOSTD_NUMA_SYSFS=$T timeout 10 "$VHOSTD" --port a=vhost:"$WORK/x.sock" \
		"$@" >"$WORK/refuse.out" 2>&1
	local rc=$?
	[ $rc -eq 2 ] && grep -qF -- "$want" "$WORK/refuse.out" ||
		fail "vhostd $* -> exit $rc, wanted 2 and '$want'"
	echo "ok: $* -> $(tail -n 1 "$WORK/refuse.out")"
}
refuse "node 2 does not exist (this host's nodes: 0,1)" --cores node2
refuse "node 1 has 1 usable core left, 2 asked for" --cores node1:2
refuse "core 2 is offline (online: 0-1)" --cores 2
refuse "core 7 does not exist (this host's cores: 0-2)" --cores 7
refuse "is not nodeN or nodeN:COUNT" --cores node0:0
refuse "node 0 has 0 usable cores left, 1 asked for" --cores 0,node0:1

# start NAME ARGS...: vhostd on port a (socket $WORK/a.sock), control socket,
# --print-placement; stdout in NAME.out, log in NAME.err.
start() {
	local name=$1; shift
	rm -f "$WORK/a.sock" "$WORK/ctl"
	"$VHOSTD" --port a=vhost:"$WORK/a.sock" --control "$WORK/ctl" \
		--print-placement --log-level info "$@" \
		>"$WORK/$name.out" 2>"$WORK/$name.err" &
	VPID=$!
	for _ in $(seq 100); do
		[ -S "$WORK/a.sock" ] && [ -S "$WORK/ctl" ] && return 0
		sleep 0.05
	done
	fail "$name: vhostd did not come up"
}
stop() { kill "$VPID"; wait "$VPID"; VPID=; }
# guest NAME ARGS...: vu-gen on a, frames must come back; while it runs,
# vhostctl's placement table goes to NAME.ctl.
guest() {
	local name=$1; shift
	timeout 30 "$GEN" --duration 2 "$@" "$WORK/a.sock" >"$WORK/$name.gen" 2>&1 &
	local gpid=$!
	sleep 1
	"$CTL" "$WORK/ctl" placement >"$WORK/$name.ctl" || fail "$name: vhostctl"
	wait $gpid || fail "$name: vu-gen failed: $(tail -n 3 "$WORK/$name.gen")"
	grep -qE 'RESULT .* rx=[1-9]' "$WORK/$name.gen" ||
		fail "$name: no frames back: $(grep RESULT "$WORK/$name.gen")"
}
# has NAME REGEX: a line of NAME's placement output matches.
has() {
	grep -qE "$2" "$WORK/$1.out" || fail "$1: no placement line /$2/"
	echo "ok: $1: $(grep -E "$2" "$WORK/$1.out" | tail -n 1)"
}
log_has() {
	grep -qF -- "$2" "$WORK/$1.err" || fail "$1: log lacks '$2'"
	echo "ok: $1: log: $(grep -F -- "$2" "$WORK/$1.err" | head -n 1)"
}

export VHOSTD_NUMA_SYSFS=$T
start two --reflect a --cores node0,node1
guest two --queues 2
stop two
log_has two "comp=numa 2 nodes (sysfs)"
log_has two "no 2 MiB hugepage to be had on node 0"
for qp in 0 1; do
	has two "^placement port=a qp=$qp worker=0 core=0 core_node=0 mem_node=0 nic_node=- state_node=0 state_huge=no guest_huge=no "
done
grep -q "^placement port=a qp=0 .*core_node=0 mem_node=0" "$WORK/two.ctl" ||
	fail "two: vhostctl placement: $(cat "$WORK/two.ctl")"

start far --reflect a --cores node1
guest far
stop far
has far "^placement port=a qp=0 worker=0 core=1 core_node=1 mem_node=0 "
log_has far "a: queue pair 0: no worker core on node 0: polled from core 1 (node 1)"

start nic --port n=loop:node=1 --link a=n --cores 0,1
guest nic
stop nic
has nic "^placement port=n qp=0 worker=0 core=0 core_node=0 mem_node=0 nic_node=1 "
has nic "^placement port=a qp=0 worker=[01] core=[01] core_node=0 mem_node=0 nic_node=1 "
log_has nic "guest memory on node 0, NIC n on node 1: the copy stays on node 0"
[ "$(grep -c "guest memory on node" "$WORK/nic.err")" -eq 1 ] ||
	fail "nic: the node crossing was not logged exactly once"

unset VHOSTD_NUMA_SYSFS
start host --reflect a --cores 0,1
guest host --queues 2
has host "^placement port=a qp=0 worker=0 core=0 core_node=0 mem_node=0 "
has host "^placement port=a qp=1 worker=1 core=1 core_node=0 mem_node=0 "
free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
if [ "${free:-0}" -ge 8 ]; then
	guest hostp --hugepages
	has host "^placement port=a qp=0 .* state_huge=yes guest_huge=yes "
else
	echo "note: no free hugepages, hugepage guest not run"
fi
stop host
echo "PASS: placement follows the guest's memory node, refusals are clear"
