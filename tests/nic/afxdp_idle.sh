#!/usr/bin/env bash
# --idle wait with an AF_XDP port (the socket is the worker's wake-up):
# vhostd reflecting a veth whose far end is in a namespace made here
#   - idle, vhostd stays under 20% of a core over 2 s (it blocks);
#   - a frame sent from the namespace after a quiet spell comes back,
#     woken by the socket (well under the 1 s bound on a park), five times;
#   - the worker logs parks at stop, none of them ended by the bound.
# Skipped (77) when not root or the kernel has no AF_XDP.
set -u
VHOSTD=$1 XDPPROG=$2
. "$(dirname "$0")/../interop/lib.sh"
[ "$(id -u)" -eq 0 ] || skip "not root: AF_XDP and network namespaces need root"
"$XDPPROG" probe || skip "the kernel has no AF_XDP (CONFIG_XDP_SOCKETS)"
command -v python3 >/dev/null || skip "no python3 (the frame sender)"

NS=vhostd-idle-$$ NEAR=vxi$$ FAR=vxj$$
net_cleanup() {
	ip link del "$NEAR" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	cleanup
}
trap net_cleanup EXIT
ip netns add "$NS" || fail "cannot make namespace $NS"
ip link add "$NEAR" type veth peer name "$FAR" netns "$NS" ||
	fail "cannot make veth $NEAR"
ip link set "$NEAR" up
ip -n "$NS" link set "$FAR" up

"$VHOSTD" --port "n=afxdp:$NEAR" --reflect n --idle wait \
	--log-level info >"$WORK/vhostd.log" 2>&1 &
pid=$!
PIDS+=("$pid")
wait_for "$WORK/vhostd.log" "worker 0 polling" 10 || fail "vhostd did not start"
sleep 0.5

hz=$(getconf CLK_TCK)
ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
t0=$(ticks "$pid"); sleep 2; t1=$(ticks "$pid")
[ $(((t1 - t0) * 5)) -lt $((2 * hz)) ] ||
	fail "idle vhostd used $((t1 - t0)) ticks ($hz/s) in 2 s"
echo "ok: idle with an AF_XDP port: $((t1 - t0)) ticks in 2 s ($hz/s)"

# One frame out of FAR after each quiet spell; vhostd sends it back (MACs
# swapped): the time until FAR has it again.
ip netns exec "$NS" python3 - "$FAR" <<'PY' || fail "frames after idle"
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88b5))
s.bind((sys.argv[1], 0))
s.settimeout(3.0)
src = s.getsockname()[4]
for i in range(5):
    time.sleep(0.3)
    dst = bytes([0x02, 0, 0, 0, 0, i + 1])
    frame = dst + src + b'\x88\xb5' + bytes([i]) * 50
    t = time.monotonic()
    s.send(frame)
    while True:
        got = s.recv(2048)
        ms = (time.monotonic() - t) * 1000
        # vhostd's copy: the MACs swapped; our own send may show too.
        if got[:6] == src and got[6:12] == dst and got[14:64] == frame[14:64]:
            break
    if ms >= 500:
        sys.exit("frame %d back after %.0f ms: not woken by the socket" % (i, ms))
    print("ok: frame %d back after %.1f ms" % (i, ms))
PY

stop_pid "$pid" TERM 10
line=$(grep -o 'idle: [0-9].*' "$WORK/vhostd.log") || fail "no idle line in the log"
echo "ok: $line"
parks=$(sed 's/.* \([0-9]*\) parks.*/\1/' <<<"$line")
[ "$parks" -ge 5 ] || fail "the worker parked $parks times"
echo "PASS: --idle wait with an AF_XDP port: blocks when idle, woken by its socket"
