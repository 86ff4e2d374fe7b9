#!/usr/bin/env bash
# Bad command lines: vhostd must refuse each with a non-zero exit and one
# message naming what was wrong, before it serves anything.
#
# Usage: cli_errors.sh VHOSTD
set -u
VHOSTD=$1
WORK=$(mktemp -d /tmp/vhostd-cli.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
CPU=$(($(nproc) - 1))
fails=0

# expect WANT-REGEX ARGS...: vhostd ARGS exits non-zero saying WANT-REGEX.
expect() {
	local want=$1; shift
	timeout 10 "$VHOSTD" --cores "$CPU" "$@" >"$WORK/out" 2>&1
	local rc=$?
	if [ $rc -eq 0 ] || [ $rc -eq 124 ] || ! grep -qE -e "$want" "$WORK/out"; then
		echo "FAIL: vhostd $* -> exit $rc, wanted /$want/:"
		sed 's/^/    /' "$WORK/out"
		fails=$((fails + 1))
	else
		echo "ok: $* -> exit $rc: $(grep -E -e "$want" "$WORK/out" | head -1)"
	fi
}

S=$WORK/s.sock
expect "unknown port type 'foo'" --port x=foo:bar
expect "is not NAME=TYPE:ARGS" --port x
expect "bad loop port argument 'queues=0'" --port x=loop:queues=0
expect "bad loop port argument 'queues=129'" --port x=loop:queues=129
expect "bad loop port argument 'bogus'" --port x=loop:bogus
expect "port name 'x' given twice" --port x=loop: --port x=vhost:"$S"
expect "link names an unknown port: 'y'" --port x=loop: --link x=y
expect "already linked" --port x=loop: --port v=vhost:"$S" --link v=x \
	--reflect x
# bridges: bad names and options, ports naming unknown bridges, VLAN
# modes without a bridge or both at once, a bridged port also linked.
expect "unknown bridge" --port x=loop:,bridge=nope
expect "--bridge name must be" --bridge 'b/r'
expect "--bridge given twice" --bridge br --bridge br
expect "--bridge option unknown or out of range.*aging=0" --bridge br,aging=0
expect "--bridge option unknown or out of range.*mac-limit=x" --bridge br,mac-limit=x
expect "--bridge option unknown or out of range.*bogus" --bridge br,bogus=1
expect "vlan= and trunk= need bridge" --port x=vhost:"$S",vlan=10
expect "vlan= given twice or not 1..4094" --bridge br --port x=loop:,bridge=br,vlan=4095
expect "trunk= wants VLANs" --bridge br --port x=loop:,bridge=br,trunk=10-5
expect "trunk= wants VLANs" --bridge br --port x=vhost:"$S",bridge=br,trunk=0
expect "access port .vlan=. or a trunk" --bridge br --port x=loop:,bridge=br,vlan=3,trunk=4
expect "bridge= given twice" --bridge br --port x=loop:,bridge=br,bridge=br
expect "on a bridge" --bridge br --port x=loop:,bridge=br --port v=vhost:"$S" --link v=x
[ $fails -eq 0 ] || { echo "FAIL: $fails case(s)"; exit 1; }
echo "PASS: every bad command line refused"
