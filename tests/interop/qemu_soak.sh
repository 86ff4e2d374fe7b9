#!/usr/bin/env bash
# Soak (issue 20, part 6): two QEMU TCG guests stream through one vhostd
# bridge for SECS seconds while a third guest is, in turn, live-migrated
# between two ports, disconnected and reconnected (vhostctl del-port and
# add-port of its port; QEMU reconnects), and reset (QMP system_reset: the
# guest reboots, its device is stopped and set up again), and a spare
# port is added and removed through vhostctl each round.
#   A: sink 10.0.0.1 on port a; B: source 10.0.0.2 on port b, streaming
#   512 KiB chunks to A and pinging it every 50 ms; C: pinger 10.0.0.3 on
#   port c1 or c2, pinging A every 50 ms (guests' /init: qemu_soak_init.sh).
# After every round vhostd's open fds, RssAnon and threads are sampled, and
# every counter of ports a and b and of the bridge (vhostctl stats) is
# compared with the round before.  Fails on:
#   - a counter going backwards, a queue marked broken, a guest ring error;
#   - fd or thread count above the first round's, RssAnon growing more than
#     SOAK_RSS_KB (default 4096 KiB) over the first round's;
#   - A and B: a run of lost pings longer than SOAK_GAP_MS (default 1000);
#     any chunk not intact;
#   - C: no ping answered within SOAK_BACK_S (default 60 s: a reset guest
#     boots again under TCG) after an action.
# Prints each round's action and C's outage, and the resource figures.
#   qemu_soak.sh VHOSTD VHOSTCTL [SECS]   (default 120, or SOAK_SECS)
# In the suite (interop-qemu-soak) it runs only with VHOSTD_SOAK=1 or
# SOAK_SECS set: four TCG guests for minutes on a shared 2-core host.
set -u
VHOSTD=$1 VHOSTCTL=$2
SECS=${SOAK_SECS:-${3:-120}}
RSS_KB=${SOAK_RSS_KB:-4096}
GAP_MS=${SOAK_GAP_MS:-1000}
BACK_S=${SOAK_BACK_S:-60}
HERE=$(cd "$(dirname "$0")" && pwd)
QMP="python3 $HERE/../tools/qmp.py"
. "$HERE/lib.sh"
. "$HERE/qemu_lib.sh"
[ -n "${VHOSTD_SOAK:-}${SOAK_SECS:-}${3:-}" ] ||
	skip "the soak runs with VHOSTD_SOAK=1 (2 minutes) or SOAK_SECS=N"
qemu_need
qemu_initrd "$HERE/qemu_soak_init.sh"
PORT=$((20000 + $$ % 20000))
CTL=$WORK/ctl.sock
ctl() { "$VHOSTCTL" "$CTL" "$@"; }

"$VHOSTD" --bridge br0 \
	--port "a=vhost:$WORK/a.sock,bridge=br0" \
	--port "b=vhost:$WORK/b.sock,bridge=br0" \
	--port "c1=vhost:$WORK/c1.sock,bridge=br0" \
	--port "c2=vhost:$WORK/c2.sock,bridge=br0" --cores 1 \
	--control "$CTL" --log-level info >"$WORK/vhostd.log" 2>&1 &
VPID=$!
PIDS+=("$VPID")
n=0
until [ -S "$CTL" ] && [ -S "$WORK/c2.sock" ]; do
	n=$((n + 1))
	[ $n -gt 100 ] && fail "vhostd did not open its sockets"
	sleep 0.1
done

# Guest RAM of 192 MiB and 8 KiB: a length that is not a multiple of 64
# pages keeps QEMU before 9.0 from losing guest CPU writes in a TCG
# migration (qemu_migrate.sh says more).
MEM_KIB=$((192 * 1024 + 8))
# guest NAME ROLE IP PEER SOCK MAC [QEMU ARGS...]; console $WORK/NAME.log,
# QMP $WORK/NAME.qmp, PID in GPID[NAME].
declare -A GPID
guest() {
	local name=$1 role=$2 ip=$3 peer=$4 sock=$5 mac=$6
	shift 6
	taskset -c 0 "$QEMU" -accel tcg -smp 1 -m "${MEM_KIB}k" \
		-object "memory-backend-memfd,id=mem,size=${MEM_KIB}K,share=on" \
		-machine q35,memory-backend=mem \
		-nodefaults -nographic -no-reboot -monitor none \
		-serial "file:$WORK/$name.log" \
		-qmp "unix:$WORK/$name.qmp,server=on,wait=off" \
		-chardev "socket,id=c0,path=$sock,reconnect=1" \
		-netdev "vhost-user,id=n0,chardev=c0" \
		-device "virtio-net-pci,netdev=n0,mac=$mac,vectors=0,romfile=" \
		-kernel "$KERNEL" -initrd "$WORK/initrd.gz" \
		-append "console=ttyS0 quiet panic=-1 vt_role=$role vt_ip=$ip vt_peer=$peer" \
		"$@" </dev/null >"$WORK/qemu-$name.log" 2>&1 &
	PIDS+=("$!")
	GPID[$name]=$!
}
# -no-reboot would make system_reset end C: C's QEMU reboots.
guest A sink 10.0.0.1 10.0.0.2 "$WORK/a.sock" 52:54:00:00:00:01
guest B source 10.0.0.2 10.0.0.1 "$WORK/b.sock" 52:54:00:00:00:02
MACC=52:54:00:00:00:03
cguest() {   # cguest NAME PORT [QEMU ARGS...]: C without -no-reboot
	local name=$1 port=$2
	shift 2
	guest "$name" pinger 10.0.0.3 10.0.0.1 "$WORK/$port.sock" $MACC \
		-action reboot=reset "$@"
}
CN=0; CUR=c1; CNAME=C0
cguest C0 c1

BADRING='(input|output)\.[0-9]+:'
VBAD='refused|broken|Sanitizer|runtime error'
check_logs() {
	grep -qaE "$BADRING" "$WORK"/[ABC]*.log 2>/dev/null &&
		fail "a guest's ring broke: $(grep -haE "$BADRING" "$WORK"/[ABC]*.log | head -n 1)"
	grep -qE "$VBAD" "$WORK/vhostd.log" &&
		fail "vhostd: $(grep -m1 -E "$VBAD" "$WORK/vhostd.log")"
	return 0
}
gwait() {   # gwait NAME REGEX SECONDS
	local end=$((SECONDS + $3))
	while [ $SECONDS -lt $end ]; do
		check_logs
		grep -qaE "$2" "$WORK/$1.log" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
replies() { grep -ac "bytes from" "$WORK/$1.log" 2>/dev/null; }
ms() { echo $(($(date +%s%N) / 1000000)); }
# c_back T0 MIN: ms from T0 until C's console holds more than MIN replies.
c_back() {
	local end=$((SECONDS + BACK_S))
	while [ $SECONDS -lt $end ]; do
		[ "$(replies "$CNAME")" -gt "$2" ] && { echo $(($(ms) - $1)); return 0; }
		check_logs
		sleep 0.02
	done
	fail "round $ROUND: C got no ping answered ${BACK_S} s after $ACTION"
}

gwait B "@@ STREAMING" 600 || fail "B did not start streaming"
gwait "$CNAME" "bytes from" 600 || fail "C's pings got no answer"
echo "guests up: B streams to A, C pings A; soak for $SECS s"

# sample: "fds anon_kb threads rss_kb" of vhostd.  The leak check is on
# RssAnon, vhostd's own memory (heap, stacks): VmRSS also counts the
# guests' pages vhostd has touched through its mappings of their memory,
# which grows as the guests' kernels spread their buffers over more pages.
sample() {
	echo "$(ls /proc/$VPID/fd | wc -l)" \
		"$(awk '/^RssAnon/ {print $2}' /proc/$VPID/status)" \
		"$(awk '/^Threads/ {print $2}' /proc/$VPID/status)" \
		"$(awk '/^VmRSS/ {print $2}' /proc/$VPID/status)"
}
# counters: "KEY VALUE" for every counter of ports a, b and the bridge.
counters() {
	ctl stats | awk '
	/^queue port=(a|b) / || /^bridge name=br0 / {
		id = $1 "/" $2 "/" $3
		for (i = 2; i <= NF; i++) {
			split($i, kv, "=")
			if (kv[2] ~ /^[0-9]+$/ && kv[1] !~ /^(ring|live|enabled|members|macs)$/)
				print id "/" kv[1], kv[2]
		}
	}' | sort
}

# mac_on MAC PORT: ms until the bridge has MAC on PORT (BACK_S at most).
mac_on() {
	local t0
	t0=$(ms)
	while [ $(($(ms) - t0)) -le $((BACK_S * 1000)) ]; do
		ctl fdb br0 | grep -i "$1" | grep -qw "$2" && { echo $(($(ms) - t0)); return 0; }
		sleep 0.01
	done
	return 1
}

migrate() {
	local to dst=C$((CN + 1)) q status
	[ "$CUR" = c1 ] && to=c2 || to=c1
	cguest "$dst" "$to" -incoming "tcp:127.0.0.1:$PORT"
	local n=0
	until [ -S "$WORK/$dst.qmp" ]; do
		n=$((n + 1)); [ $n -gt 300 ] && fail "no QMP socket for $dst"
		sleep 0.1
	done
	sleep 1   # QEMU connects to its port
	$QMP "$WORK/$CNAME.qmp" migrate "{\"uri\": \"tcp:127.0.0.1:$PORT\"}" >/dev/null ||
		fail "migrate refused"
	local end=$((SECONDS + 300))
	while [ $SECONDS -lt $end ]; do
		q=$($QMP "$WORK/$CNAME.qmp" query-migrate) || fail "query-migrate failed"
		status=$(echo "$q" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("status",""))')
		case $status in completed|failed|cancelled) break ;; esac
		sleep 0.05
	done
	[ "$status" = completed ] || fail "round $ROUND: migration $status: $q"
	T0=$(ms)
	DOWNTIME=$(echo "$q" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("downtime"))')
	# The destination runs (and QEMU announces the guest) only once it
	# loaded what the source sent: the MAC moves shortly after.
	MOVED=$(mac_on "$MACC" "$to") ||
		fail "round $ROUND: C's MAC not on $to $BACK_S s after the migration"
	$QMP "$WORK/$CNAME.qmp" quit >/dev/null 2>&1
	wait "${GPID[$CNAME]}" 2>/dev/null
	CN=$((CN + 1)); CUR=$to; CNAME=$dst
	MIN=0
}

ROUND=0
START=$SECONDS
BASE=
MAXGAP_C=0
: >"$WORK/counters.prev"
while [ $((SECONDS - START)) -lt "$SECS" ]; do
	ROUND=$((ROUND + 1))
	MIN=$(replies "$CNAME")
	DOWNTIME=-
	MOVED=-
	case $((ROUND % 3)) in
	1) ACTION="migrate $CUR->"; migrate; ACTION="$ACTION$CUR" ;;
	2) ACTION="del-port/add-port $CUR"
	   ctl del-port "$CUR" >/dev/null || fail "del-port $CUR failed"
	   sleep 0.5
	   T0=$(ms)
	   ctl add-port "$CUR" "vhost:$WORK/$CUR.sock,bridge=br0" >/dev/null ||
		fail "add-port $CUR failed" ;;
	0) ACTION="system_reset"
	   boots=$(grep -ac "@@ PINGING" "$WORK/$CNAME.log")
	   T0=$(ms)
	   $QMP "$WORK/$CNAME.qmp" system_reset >/dev/null ||
		fail "system_reset failed"
	   # Replies already on their way do not count: wait for the boot.
	   end=$((SECONDS + BACK_S))
	   until [ "$(grep -ac "@@ PINGING" "$WORK/$CNAME.log")" -gt "$boots" ]; do
		[ $SECONDS -lt $end ] || fail "round $ROUND: C did not boot again ${BACK_S} s after system_reset"
		check_logs
		sleep 0.05
	   done
	   MIN=$(replies "$CNAME") ;;
	esac
	ctl add-port "x$ROUND" "vhost:$WORK/x.sock,bridge=br0" >/dev/null ||
		fail "add-port x$ROUND failed"
	ctl del-port "x$ROUND" >/dev/null || fail "del-port x$ROUND failed"
	back=$(c_back "$T0" "$MIN")
	echo "round $ROUND ($((SECONDS - START)) s): $ACTION, downtime $DOWNTIME ms, MAC moved after $MOVED ms, C's pings back after $back ms"
	sleep 2
	check_logs
	counters >"$WORK/counters.now"
	join "$WORK/counters.prev" "$WORK/counters.now" |
		awk '$3 < $2 { print "counter " $1 " went back: " $2 " -> " $3; bad = 1 }
		     END { exit bad }' || fail "round $ROUND: a counter went backwards"
	mv "$WORK/counters.now" "$WORK/counters.prev"
	read -r fds rss thr vmrss <<<"$(sample)"
	[ -n "$BASE" ] || { BASE="$fds $rss $thr"; read -r fds0 rss0 thr0 <<<"$BASE"; }
	echo "  vhostd: fds $fds, anon $rss KiB (rss $vmrss), threads $thr"
	[ "$fds" -le "$fds0" ] || fail "round $ROUND: vhostd has $fds fds, $fds0 after round 1"
	[ "$thr" -le "$thr0" ] || fail "round $ROUND: vhostd has $thr threads, $thr0 after round 1"
	[ $((rss - rss0)) -le "$RSS_KB" ] || fail "round $ROUND: vhostd's RssAnon grew from $rss0 to $rss KiB"
done

# A and B: pings every 50 ms the whole time; the longest run lost.
gaps() {
	sed -n 's/.*seq=\([0-9]*\).*/\1/p' "$WORK/$1.log" | tr -d '\r' |
		awk 'NR > 1 && $1 > p + 1 && $1 - p - 1 > m { m = $1 - p - 1 } { p = $1 } END { print m + 0 }'
}
gb=$(gaps B)
nb=$(replies B)
echo "B's pings of A: $nb answered, longest run lost $gb ($((gb * 50)) ms)"
[ $((gb * 50)) -le "$GAP_MS" ] || fail "B went $((gb * 50)) ms without traffic"
src=$(grep -a -m1 "@@ SRC " "$WORK/B.log" | tr -d '\r' | sed 's/.*@@ SRC //')
read -r got good <<<"$(chunk_counts "$WORK/A.log" "$src")"
[ "$got" -ge 1 ] && [ "$good" = "$got" ] || fail "A got $got chunks, $good intact"
echo "chunks B->A: $good intact of $got ($((good / 2)) MiB)"
read -r fds rss thr vmrss <<<"$(sample)"
echo "vhostd after $ROUND rounds in $((SECONDS - START)) s: fds $fds0 -> $fds, anon $rss0 -> $rss KiB (rss $vmrss), threads $thr0 -> $thr"
stop_pid "$VPID" TERM 5
echo "PASS: soak of $((SECONDS - START)) s, $ROUND rounds (migrate, del/add-port, reset of C; a spare port added and removed each)"
