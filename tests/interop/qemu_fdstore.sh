#!/usr/bin/env bash
# Two QEMU TCG guests linked through vhostd while vhostd is restarted
# under traffic, alternately by SIGTERM and kill -9, through the fd store
# (issue 20, part 2): fdstore_run plays systemd (NOTIFY_SOCKET with
# SCM_RIGHTS, the next vhostd started at once with LISTEN_FDS), so each
# new vhostd keeps QEMU's connections and rebuilds the devices from their
# stored state, at the niceness vhostd@.service gives it.  QEMU listens
# (-chardev socket,server=on; vhostd's ports are ",client") and would see
# any disconnect; the guests stream and ping as in qemu_restart.sh
# (qemu_restart_init.sh), plus a quiet ping every 2 ms so that frames wait
# in both directions at every moment.  Checked, on top of qemu_restart.sh's
# checks: every new vhostd logs both devices rebuilt from the store and
# both moving frames again, and no guest sees a carrier change after
# boot.  Prints, from vhostd's --log-time clock against the moment before
# each signal: the old process reaped, the new one's first line, both
# devices rebuilt, both moving frames again (the outage); and the ping
# outages.  With
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
# Logs, pid file and sockets in memory, as under systemd (journald's
# stream, /run): a file created on a disk's journal can stall a start by
# milliseconds that are the disk's, not vhostd's.
[ -d /dev/shm ] && [ -w /dev/shm ] && WORK_BASE=/dev/shm
. "$HERE/lib.sh"
. "$HERE/qemu_lib.sh"
qemu_need
qemu_initrd "$HERE/qemu_restart_init.sh"

# fdstore_run starts vhostd at the niceness vhostd@.service gives it.
SUP_NICE=$(sed -n 's/^Nice=//p' "$HERE/../../deploy/systemd/vhostd@.service.in")
export SUP_NICE
SECS=$((RESTARTS * 3 + 6))        # guest 2 streams this long (a restart
                                  # round takes 2.2-2.6 s: room to spare)
NVD=0                             # vhostd runs so far

# vhostd_sup: fdstore_run with vhostd under it; logs $WORK/vhostd.N.log,
# the running vhostd's PID in $WORK/vhostd.pid.
vhostd_sup() {
	"$FDSTORE_RUN" "$WORK/notify" "$WORK/vhostd.pid" "$WORK/vhostd" \
		"$VHOSTD" --port "a=vhost:$WORK/a.sock,client" \
		--port "b=vhost:$WORK/b.sock,client" --link a=b --cores 1 \
		--log-level info --log-time 2>"$WORK/fdstore_run.log" &
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
		-append "console=ttyS0 quiet panic=-1 vt_role=$2 vt_ip=$3 vt_peer=$4 vt_secs=$SECS vt_tick=0.002" \
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
# This script's own polling (grep, sleep) runs behind the supervisor and
# vhostd from here on: it measures the restarts, it must not slow them.
renice -n 10 -p $$ >/dev/null
gwait 2 "@@ STREAMING" || fail "guest 2 did not start streaming"
echo "guests up and streaming; $RESTARTS restarts of vhostd follow"

# ts_us LINE: the microsecond of a --log-time line (ts=...Z, UTC).
ts_us() {
	local t=${1#ts=}
	t=${t%% *}
	date -u -d "$t" +%s%6N
}
msec() { printf '%d.%d' $(($1 / 1000)) $(($1 % 1000 / 100)); }
# steal: the host's time taken from this VM's CPUs so far (/proc/stat,
# in USER_HZ ticks of 10 ms), read with builtins only.
steal() {
	local _c u n s i w q sq st _r
	read -r _c u n s i w q sq st _r </proc/stat
	echo $((st * 10))
}
mkfifo "$WORK/idle"
exec 9<>"$WORK/idle"              # never written: read -t on it waits
REBUILT=() STARTED=() GONE=() MOVING=() STEAL=()
for i in $(seq 1 "$RESTARTS"); do
	sleep "1.$((RANDOM % 10))"
	[ $((i % 2)) = 1 ] && sig=TERM || sig=KILL
	old=$(vpid)
	st0=$(steal)
	t0=${EPOCHREALTIME/./}
	kill -"$sig" "$old"
	# Nothing of this script runs while vhostd restarts: a grep or a
	# sleep started now would hold CPU 1 until the next tick (10 ms)
	# while the supervisor or the new vhostd waits (perf sched traces of
	# the slowest restarts).  read -t is a builtin: no process.
	read -r -t 0.15 -u 9 || true
	STEAL+=($(($(steal) - st0)))
	n=0
	log=$WORK/vhostd.$((i + 1)).log
	# Both devices rebuilt and both moving frames again (the guests
	# stream and ping the whole time: a device that stays silent for a
	# second is a failure).
	until [ "$(grep -c "frames moving again" "$log" 2>/dev/null)" = 2 ]; do
		n=$((n + 1))
		grep -qE "must reconnect|no frame in the first second" "$log" 2>/dev/null &&
			fail "restart $i: $(grep -m1 -E "must reconnect|no frame in the first second" "$log")"
		[ $n -gt 200 ] &&
			fail "restart $i: the new vhostd did not rebuild both devices, or no frame moved ($log)"
		sleep 0.05
	done
	[ "$(grep -c "device rebuilt from the stored state" "$log")" = 2 ] ||
		fail "restart $i: not both devices rebuilt ($log)"
	# From vhostd's own clock: the new process's first line, the line
	# saying the second device is rebuilt, and the later of the two
	# devices' first frames (the worker's time, which the line gives as
	# microseconds before it), each against the moment before the signal.
	tg=$(grep "ended" "$WORK/fdstore_run.log" | tail -n 1 | sed 's/.*at_us=//')
	t1=$(ts_us "$(head -n 1 "$log")")
	t2=$(ts_us "$(grep "device rebuilt from the stored state" "$log" | tail -n 1)")
	t3=0
	while read -r line; do        # the worker's time of the first frames
		lag=${line##*the first }
		t=$(($(ts_us "$line") - ${lag%% us*}))
		[ "$t" -gt "$t3" ] && t3=$t
	done < <(grep "frames moving again" "$log")
	GONE+=("$(msec $((tg - t0)))")
	STARTED+=("$(msec $((t1 - t0)))")
	REBUILT+=("$(msec $((t2 - t0)))")
	MOVING+=("$(msec $((t3 - t0)))")
	[ "$(grep -c "front-end connected" "$log")" = 2 ] ||
		fail "restart $i: a front-end connected again ($log)"
	gwait 2 "@@ " || true         # a cheap check for broken rings
done
echo "signal to the old vhostd reaped by the supervisor (ms): ${GONE[*]}"
echo "signal to the new vhostd's first log line (ms): ${STARTED[*]}"
echo "signal to both devices rebuilt (ms): ${REBUILT[*]}"
echo "signal to both devices moving frames again (ms): ${MOVING[*]}"
echo "CPU time the host took from this VM in the 150 ms after each signal (ms, both CPUs, 10 ms ticks): ${STEAL[*]}"
sorted=$(printf '%s\n' "${MOVING[@]}" | sort -n)
echo "signal to frames moving again: median $(sed -n "$(((RESTARTS + 1) / 2))p" <<<"$sorted") ms, max $(tail -n 1 <<<"$sorted") ms over $RESTARTS restarts"
grep -q "front-end disconnected" "$WORK"/vhostd.*.log &&
	fail "a front-end went away: $(grep -h -m1 "front-end disconnected" "$WORK"/vhostd.*.log)"
grep "ended" "$WORK/fdstore_run.log"

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
