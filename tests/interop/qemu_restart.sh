#!/usr/bin/env bash
# Two QEMU TCG guests linked through vhostd while vhostd is restarted
# under traffic, alternately by SIGTERM and kill -9 (issue 20, part 1).
# QEMU owns the sockets (-chardev socket,server=on; vhostd's ports are
# ",client"), so on each restart QEMU sees the connection close, takes
# each split ring's used index as where to resume
# (virtio_queue_restore_last_avail_idx) and sets everything up again when
# the new vhostd connects.  Guest 2 streams 512 KiB chunks over TCP to
# guest 1 and pings it every 50 ms the whole time (qemu_restart_init.sh).
# Guest 1 has mrg_rxbuf=off, guest 2 mergeable buffers; both split rings
# (QEMU cannot resume a packed ring after its back-end is gone: it keeps
# no packed position, virtio_queue_packed_restore_last_avail_idx is
# empty).  Checked:
#   - no guest kernel complains about its rings ("input.0:id N is not a
#     head!" and the other virtio_ring BAD_RING lines);
#   - every chunk arrives whole with the sender's digest, none missing;
#   - traffic comes back after every restart (the pings after the last
#     one, the final "done" chunk);
#   - vhostd exits 0 on SIGTERM and never marks a queue broken.
# Prints the reconnect time (signal to both ports connected again, from
# vhostd's logs), the ping outages (runs of lost 50 ms pings) and the
# carrier changes each guest saw (QEMU takes the link down while its
# back-end is away).
#   qemu_restart.sh VHOSTD VHOSTCTL [RESTARTS]   (default 6, or
#                                     VHOSTD_RESTARTS in the environment)
set -u
VHOSTD=$1 VHOSTCTL=$2
RESTARTS=${VHOSTD_RESTARTS:-${3:-6}}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/qemu_lib.sh"
qemu_need
qemu_initrd "$HERE/qemu_restart_init.sh"

SECS=$((RESTARTS * 2 + 6))        # guest 2 streams this long
NVD=0                             # vhostd runs so far

# vhostd_up: a new vhostd, log $WORK/vhostd.N.log, PID in VPID.
vhostd_up() {
	NVD=$((NVD + 1))
	VLOG=$WORK/vhostd.$NVD.log
	rm -f "$WORK/ctl.sock"          # a killed vhostd leaves it
	"$VHOSTD" --port "a=vhost:$WORK/a.sock,client" \
		--port "b=vhost:$WORK/b.sock,client" --link a=b --cores 1 \
		--control "$WORK/ctl.sock" --log-level info >"$VLOG" 2>&1 &
	VPID=$!
	PIDS+=("$VPID")
}

# guest N ROLE IP PEER SOCK DEVICE-OPTS: as in qemu_link.sh, but QEMU
# listens on SOCK.
guest() {
	taskset -c 0 "$QEMU" -accel tcg -smp 1 -m 256 \
		-object memory-backend-memfd,id=mem,size=256M,share=on \
		-machine q35,memory-backend=mem \
		-nodefaults -nographic -no-reboot -monitor none \
		-serial "file:$WORK/g$1.log" \
		-chardev "socket,id=c0,path=$5,server=on,wait=off" \
		-netdev "vhost-user,id=n0,chardev=c0" \
		-device "virtio-net-pci,netdev=n0,mac=52:54:00:00:00:0$1,vectors=0,romfile=$6" \
		-kernel "$KERNEL" -initrd "$WORK/initrd.gz" \
		-append "console=ttyS0 quiet panic=-1 vt_role=$2 vt_ip=$3 vt_peer=$4 vt_secs=$SECS" \
		</dev/null >"$WORK/qemu$1.log" 2>&1 &
	PIDS+=("$!")
}

marker() { grep -a -m1 "@@ $2 " "$1" | tr -d '\r' | sed "s/.*@@ $2 //"; }
BADRING='(input|output)\.[0-9]+:'
VBAD='refused|broken|Sanitizer|runtime error'
DEADLINE=$((SECONDS + 240 + SECS))
gwait() {
	local f
	local end=$DEADLINE
	while [ $SECONDS -lt "$end" ]; do
		grep -qaE "$BADRING" "$WORK"/g[12].log 2>/dev/null &&
			fail "a guest's ring broke: $(grep -haE "$BADRING" "$WORK"/g[12].log | head -n 1)"
		for f in "$WORK"/vhostd.*.log; do
			grep -qE "$VBAD" "$f" && fail "vhostd: $(grep -m1 -E "$VBAD" "$f")"
		done
		grep -qaE "$2" "$WORK/g$1.log" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

guest 1 sink 10.0.0.1 10.0.0.2 "$WORK/a.sock" ",mrg_rxbuf=off"
guest 2 source 10.0.0.2 10.0.0.1 "$WORK/b.sock" ""
for s in a b; do
	n=0
	until [ -S "$WORK/$s.sock" ]; do
		n=$((n + 1))
		[ $n -gt 100 ] && fail "QEMU did not listen on $s.sock"
		sleep 0.1
	done
done
vhostd_up
gwait 2 "@@ STREAMING" || fail "guest 2 did not start streaming"
echo "guests up and streaming; $RESTARTS restarts of vhostd follow"

ms() { echo $(($(date +%s%N) / 1000000)); }
RECONNECT=()
for i in $(seq 1 "$RESTARTS"); do
	sleep "1.$((RANDOM % 10))"
	[ $((i % 2)) = 1 ] && sig=TERM || sig=KILL
	t0=$(ms)
	kill -"$sig" "$VPID"
	n=0
	while alive "$VPID"; do
		n=$((n + 1))
		[ $n -gt 500 ] && fail "vhostd still running 5 s after SIG$sig"
		sleep 0.01
	done
	wait "$VPID" 2>/dev/null
	rc=$?
	[ $sig = KILL ] || [ $rc = 0 ] ||
		fail "vhostd exited $rc after SIGTERM (restart $i)"
	vhostd_up
	n=0
	until [ "$(grep -c "front-end connected" "$VLOG" 2>/dev/null)" = 2 ]; do
		n=$((n + 1))
		[ $n -gt 1000 ] &&
			fail "restart $i: the new vhostd did not connect to both guests"
		sleep 0.01
	done
	RECONNECT+=($(($(ms) - t0)))
	gwait 2 "@@ " || true         # a cheap check for broken rings
done
echo "reconnect (signal to both ports connected, ms): ${RECONNECT[*]}"

gwait 2 "@@ GUEST-DONE" || fail "guest 2 did not finish"
gwait 1 "@@ GUEST-DONE" || fail "guest 1 did not finish"
grep -qa "@@ GUEST-DONE ok" "$WORK/g2.log" || fail "guest 2: $(marker "$WORK/g2.log" GUEST-DONE)"
grep -qa "@@ GUEST-DONE ok" "$WORK/g1.log" || fail "guest 1: $(marker "$WORK/g1.log" GUEST-DONE)"
grep -qaE "$BADRING" "$WORK"/g[12].log &&
	fail "a guest's ring broke: $(grep -haE "$BADRING" "$WORK"/g[12].log | head -n 1)"

src=$(marker "$WORK/g2.log" SRC)
sent=$(marker "$WORK/g2.log" SENT)
read -r got good <<<"$(chunk_counts "$WORK/g1.log" "$src")"
[[ $src =~ ^size\ 524288\ md5\ [0-9a-f]{32}$ ]] || fail "guest 2 made no chunk: '$src'"
[ "$got" = "$sent" ] && [ "$good" = "$sent" ] ||
	fail "guest 2 sent $sent chunks, guest 1 got $got, $good of them intact"
for f in "$WORK"/vhostd.*.log; do
	grep -qE "$VBAD" "$f" && fail "vhostd: $(grep -m1 -E "$VBAD" "$f")"
done
echo "chunks: $sent sent, $good received intact"
echo "pings (every 50 ms): $(marker "$WORK/g2.log" PING)"
echo "ping outages (pings lost in a row): $(marker "$WORK/g2.log" GAPS)"
echo "carrier changes seen by the guests: $(marker "$WORK/g1.log" CARRIER)," \
	"$(marker "$WORK/g2.log" CARRIER)"
stop_pid "$VPID" TERM 5
echo "PASS: $RESTARTS restarts of vhostd (SIGTERM and kill -9 alternately)" \
	"under a TCP stream and pings between two QEMU guests: no ring error," \
	"every chunk intact, traffic back after each"
