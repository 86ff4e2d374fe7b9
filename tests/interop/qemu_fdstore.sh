#!/usr/bin/env bash
# Two QEMU TCG guests linked through vhostd while vhostd is restarted
# under traffic, alternately by SIGTERM and kill -9, through the fd store
# (issue 20, part 2): fdstore_run plays systemd (NOTIFY_SOCKET with
# SCM_RIGHTS, the next vhostd started at once with LISTEN_FDS), so each
# new vhostd keeps QEMU's connections and rebuilds the devices from their
# stored state.  QEMU listens (-chardev socket,server=on; vhostd's ports
# are ",client") and would see any disconnect; the guests stream and ping
# as in qemu_restart.sh (qemu_restart_init.sh).  Checked, on top of
# qemu_restart.sh's checks: every new vhostd logs both devices rebuilt
# from the store, and no guest sees a carrier change after boot.  Prints
# the signal to both devices rebuilt, and the ping outages.  With
# "packed", both guests' devices have packed rings (packed=on; guest 1
# without mergeable buffers, guest 2 with): kill -9 restarts then resume
# from the positions vhostd's workers published (datapath/vq_pos.h).
#   qemu_fdstore.sh VHOSTD FDSTORE_RUN [RESTARTS [packed]]   (default 6,
#                                  or VHOSTD_RESTARTS in the environment)
set -u
VHOSTD=$1 FDSTORE_RUN=$2
RESTARTS=${VHOSTD_RESTARTS:-${3:-6}}
RINGS=
[ "${4:-}" = packed ] && RINGS=",packed=on"
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/qemu_lib.sh"
qemu_need
qemu_initrd "$HERE/qemu_restart_init.sh"

SECS=$((RESTARTS * 2 + 6))        # guest 2 streams this long
NVD=0                             # vhostd runs so far

# vhostd_sup: fdstore_run with vhostd under it; logs $WORK/vhostd.N.log,
# the running vhostd's PID in $WORK/vhostd.pid.
vhostd_sup() {
	"$FDSTORE_RUN" "$WORK/notify" "$WORK/vhostd.pid" "$WORK/vhostd" \
		"$VHOSTD" --port "a=vhost:$WORK/a.sock,client" \
		--port "b=vhost:$WORK/b.sock,client" --link a=b --cores 1 \
		--log-level info 2>"$WORK/fdstore_run.log" &
	SPID=$!
	PIDS+=("$SPID")
}
vpid() { cat "$WORK/vhostd.pid" 2>/dev/null; }

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
# A device that fell back to reconnecting (a front-end going away is
# checked after the restarts: QEMU exits when its guest is done).
VBAD='refused|broken|Sanitizer|runtime error|after a protocol error|must reconnect'
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

guest 1 sink 10.0.0.1 10.0.0.2 "$WORK/a.sock" ",mrg_rxbuf=off$RINGS"
guest 2 source 10.0.0.2 10.0.0.1 "$WORK/b.sock" "$RINGS"
for s in a b; do
	n=0
	until [ -S "$WORK/$s.sock" ]; do
		n=$((n + 1))
		[ $n -gt 100 ] && fail "QEMU did not listen on $s.sock"
		sleep 0.1
	done
done
vhostd_sup
gwait 2 "@@ STREAMING" || fail "guest 2 did not start streaming"
echo "guests up and streaming; $RESTARTS restarts of vhostd follow"

ms() { echo $(($(date +%s%N) / 1000000)); }
REBUILT=()
for i in $(seq 1 "$RESTARTS"); do
	sleep "1.$((RANDOM % 10))"
	[ $((i % 2)) = 1 ] && sig=TERM || sig=KILL
	old=$(vpid)
	t0=$(ms)
	kill -"$sig" "$old"
	n=0
	log=$WORK/vhostd.$((i + 1)).log
	until [ "$(grep -c "device rebuilt from the stored state" "$log" 2>/dev/null)" = 2 ]; do
		n=$((n + 1))
		grep -q "must reconnect" "$log" 2>/dev/null &&
			fail "restart $i: $(grep -m1 "must reconnect" "$log")"
		[ $n -gt 1000 ] &&
			fail "restart $i: the new vhostd did not rebuild both devices ($log)"
		sleep 0.01
	done
	REBUILT+=($(($(ms) - t0)))
	[ "$(grep -c "front-end connected" "$log")" = 2 ] ||
		fail "restart $i: a front-end connected again ($log)"
	gwait 2 "@@ " || true         # a cheap check for broken rings
done
echo "signal to both devices rebuilt (ms): ${REBUILT[*]}"
grep -q "front-end disconnected" "$WORK"/vhostd.*.log &&
	fail "a front-end went away: $(grep -h -m1 "front-end disconnected" "$WORK"/vhostd.*.log)"
grep "ended" "$WORK/fdstore_run.log" | tr '\n' ' '; echo

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
c1=$(marker "$WORK/g1.log" CARRIER) c2=$(marker "$WORK/g2.log" CARRIER)
echo "carrier changes seen by the guests: $c1, $c2"
# Boot: the link comes up once vhostd attaches (QEMU counts 2 changes
# then, qemu_restart.sh's figures: 2 + 2 per restart); none after that.
[ "$c1" -le 2 ] && [ "$c2" -le 2 ] ||
	fail "carrier changes after boot: $c1, $c2"
stop_pid "$SPID" TERM 5
echo "PASS${RINGS:+ (packed rings)}: $RESTARTS restarts of vhostd through the fd store (SIGTERM and" \
	"kill -9 alternately) under a TCP stream and pings between two QEMU" \
	"guests: no disconnect, no carrier change, no ring error, every chunk" \
	"intact"
