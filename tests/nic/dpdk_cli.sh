#!/usr/bin/env bash
# dpdk ports on the command line.  Bad ones (arguments that do not parse,
# devices DPDK does not know or cannot probe, a device taken twice, more
# queues than the device has) must make vhostd exit non-zero with one
# message naming what was wrong, and leave nothing behind: no EAL runtime
# directory, no tap interface.  Without hugepages (run as another user)
# the EAL starts on ordinary memory.  In a build without DPDK, a dpdk port
# is refused as a type not in this build.
#
# Usage: dpdk_cli.sh VHOSTD
set -u
VHOSTD=$1
WORK=$(mktemp -d /tmp/vhostd-dpdk-cli.XXXXXX)
NS=vhdc-$$
RUN=
cleanup() {
	ip netns del "$NS" 2>/dev/null
	rm -rf "$WORK" ${RUN:+"$RUN"}
}
trap cleanup EXIT
CPU=$(($(nproc) - 1))
fails=0

# expect WANT-REGEX ARGS...: vhostd ARGS exits non-zero saying WANT-REGEX
# and leaves no /var/run/dpdk/vhostd-PID.  IN_NS=ns runs it there.
expect() {
	local want=$1; shift
	local run=()
	[ -n "${IN_NS:-}" ] && run=(ip netns exec "$IN_NS")
	# (ip netns exec execs vhostd: $! is vhostd's pid.)
	"${run[@]}" "$VHOSTD" --cores "$CPU" "$@" >"$WORK/out" 2>&1 &
	local pid=$!
	local t=0
	while kill -0 $pid 2>/dev/null && [ $t -lt 300 ]; do
		sleep 0.1
		t=$((t + 1))
	done
	kill $pid 2>/dev/null       # still running after 30 s: a failure
	wait $pid
	local rc=$?
	local left=""
	[ -e "/var/run/dpdk/vhostd-$pid" ] && left=/var/run/dpdk/vhostd-$pid
	if [ $rc -eq 0 ] || [ $rc -gt 128 ] ||
	   ! grep -qE -e "$want" "$WORK/out" || [ -n "$left" ]; then
		echo "FAIL: vhostd $* -> exit $rc, wanted /$want/${left:+, left $left}:"
		sed 's/^/    /' "$WORK/out"
		fails=$((fails + 1))
	else
		echo "ok: $* -> exit $rc: $(grep -E -e "$want" "$WORK/out" | head -1)"
	fi
}

if ! "$VHOSTD" --help | grep -q "this build: .*dpdk"; then
	expect "port type 'dpdk' is not in this build" --port x=dpdk:net_ring0
	[ $fails -eq 0 ] || exit 1
	echo "PASS: no DPDK in this build, and vhostd says so"
	exit 0
fi

expect "bad dpdk port arguments '': no device named" --port x=dpdk:
expect "bad dpdk port arguments ',queues=2': no device named" \
	--port x=dpdk:,queues=2
expect "queues '0' is not 1..128" --port x=dpdk:net_ring0,queues=0
expect "DPDK does not take device 'net_nosuch0': no bus knows it" \
	--port x=dpdk:net_nosuch0
expect "DPDK cannot probe 'net_pcap0,rx_pcap=$WORK/none.pcap,.*': its driver refused it" \
	--port x=dpdk:net_pcap0,rx_pcap="$WORK/none.pcap",tx_pcap=/dev/null
expect "DPDK cannot probe '0000:7f:1f.7': No such device" \
	--port x=dpdk:0000:7f:1f.7
expect "net_ring takes at most 16 queue pair\(s\), not 17" \
	--port x=dpdk:net_ring0,queues=17
expect "device net_ring0 is another port's already" \
	--port a=dpdk:net_ring0 --port b=dpdk:net_ring0

if [ "$(id -u)" -eq 0 ] && ip netns add "$NS" 2>/dev/null; then
	# The tap is made, then the queue count refused: it must go again.
	IN_NS=$NS expect "net_tap takes at most 16 queue pair\(s\), not 17" \
		--port x=dpdk:net_tap0,iface=dterr0,queues=17
	if ip -n "$NS" link show dterr0 >/dev/null 2>&1; then
		echo "FAIL: tap dterr0 left behind"
		fails=$((fails + 1))
	fi
	# No hugepages for another user: ordinary memory, and it runs.  Its
	# EAL directory goes under XDG_RUNTIME_DIR: ours, to check it is gone.
	RUN=$(mktemp -d /tmp/vhostd-dpdk-run.XXXXXX)
	chown 65534 "$RUN"
	XDG_RUNTIME_DIR=$RUN setpriv --reuid=65534 --regid=65534 \
		--clear-groups "$VHOSTD" --cores "$CPU" \
		--port r=dpdk:net_ring0 >"$WORK/nohuge" 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		grep -q "comp=main vhostd .* port(s)" "$WORK/nohuge" && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	kill -TERM $pid 2>/dev/null
	wait $pid
	rc=$?
	if [ $rc -ne 0 ] || ! grep -q -- "--no-huge" "$WORK/nohuge" ||
	   ! grep -q "net_ring0 (driver net_ring" "$WORK/nohuge" ||
	   [ -e "$RUN/dpdk/vhostd-$pid" ]; then
		echo "FAIL: vhostd without hugepages (as nobody) -> exit $rc:"
		sed 's/^/    /' "$WORK/nohuge"
		fails=$((fails + 1))
	else
		echo "ok: without hugepages (as nobody): --no-huge, ran, exit 0"
	fi
else
	echo "(not root: the net_tap and no-hugepage cases are skipped)"
fi
[ $fails -eq 0 ] || { echo "FAIL: $fails case(s)"; exit 1; }
echo "PASS: every bad dpdk port refused, nothing left behind"
