#!/usr/bin/env bash
# Traffic from a front-end nobody here wrote: dpdk-testpmd's virtio-user
# (one or two queue pairs) against vhostd --reflect, every packet counted.
#
#   vhostd --port v=vhost:SOCK --reflect v --cores W --control CTL
#       (worker on CPU W)
#   dpdk-testpmd --lcores 0@T,1@T -i --vdev \
#       net_virtio_user0,path=SOCK,queues=Q,mrg_rxbuf=MRG,in_order=IO,
#       packed_vq=PACKED -- --rxq=Q --txq=Q --nb-cores=1
#       (both on CPU T; one forwarding core polls every queue)
#
# testpmd is driven interactively: "set fwd io", "start tx_first 8" (8
# bursts of 32 packets go out, then every packet that comes back is sent
# again), 3 s of that (up to 20 s while fewer than 100000 went around: the
# host may be busy), "stop"; then "set fwd rxonly", "start" (testpmd first
# flushes its RX queue), "stop": whatever was still in flight has been
# received.  "show port stats 0" must then say RX-packets ==
# TX-packets (every packet the virtio-user port put on its TX ring came
# back), more than 100000 of them, RX-errors, RX-missed and TX-errors 0.
# vhostd's worker count, logged at exit, must equal TX-packets as well: it
# took every packet off the TX ring, so RX == TX means it dropped none.
#
# Why 8 bursts: 256 packets, the size of virtio-user's RX ring.  A
# reflecting device holds nothing of its own: with more packets looping
# than the guest has RX buffers, vhostd takes a TX packet when the RX ring
# is full and drops it (vnet.h NO_RX_BUF), as a wire would.  With "start
# tx_first 32" testpmd happens to get only 256 of its 1024 onto its
# 256-entry TX ring (the other 768 are its own TX-dropped, never seen by
# vhostd), so RX == TX held there too; but with slower bursts ("set burst
# 4", "start tx_first 256") 896 or all 1024 went out and every packet
# beyond 256 was lost: 640 and 768, exactly vhostd's NO_RX_BUF count.
# With at most a ring's worth in flight, no drop is legitimate, whatever
# the timing.
#
# With in_order=1 vhostd must have negotiated VIRTIO_F_IN_ORDER (bit 35):
# testpmd then takes its in-order paths, which look up each used buffer by
# its ring position, not its id.
#
# With packed_vq=1 vhostd must have negotiated VIRTIO_F_RING_PACKED (bit
# 34): the rings are packed virtqueues (datapath/vq_packed.c).
#
# With queues=2 testpmd's tx_first puts its 8 bursts on each TX queue and
# io forwarding sends what RX queue i got out of TX queue i, while vhostd
# reflects queue pair i into queue pair i: each pair loops its own 256
# packets (one RX ring's worth, as above).  vhostd's log must show rings 0
# to 3 started, and its counters (vhostctl stats, read before testpmd
# quits) rings 0 to 3 live and enabled, every ring with more than
# MIN_PACKETS / 4 packets (both pairs carried traffic, not just one), and
# the TX rings' packets summing to testpmd's TX-packets.
#
# One session, with a fresh vhostd and testpmd, per MRG:IO[:PACKED[:QUEUES]].
#
# Usage: testpmd_reflect.sh VHOSTD VHOSTCTL [MRG:IO[:PACKED[:QUEUES]]...]
#        (MRG, IO, PACKED each 0 or 1, PACKED 0 when left out; QUEUES 1 or
#        2, 1 when left out;
#        default: 0:0 1:0 0:1 1:1 0:0:1 1:0:1 1:1:1 0:0:0:2 1:1:1:2)
# Exit 0 pass, 1 fail, 77 skip (no dpdk-testpmd).
set -u
VHOSTD=$1 VHOSTCTL=$2
shift 2
[ $# -gt 0 ] || set -- 0:0 1:0 0:1 1:1 0:0:1 1:0:1 0:1:1 1:1:1 0:0:0:2 1:1:1:2
. "$(dirname "$0")/lib.sh"
need_testpmd
# lib.sh's fail(), with the reason repeated after the logs: meson's error
# log keeps only the tail of the output.
fail() {
	echo "FAIL: $*"
	for f in "$WORK"/*.log; do echo "--- $f"; tail -n 40 "$f"; done
	echo "FAIL: $*"
	exit 1
}
IO_SECS=3 IO_MAX_SECS=20 MIN_PACKETS=100000

# vhostd's worker on the last CPU we may use, testpmd's lcores on the first
# (the same CPU when there is only one).
mapfile -t CPUS < <(python3 -c 'import os; print(*sorted(os.sched_getaffinity(0)), sep="\n")' 2>/dev/null ||
	seq 0 $(($(nproc) - 1)))
WK_CPU=${CPUS[${#CPUS[@]} - 1]} TP_CPU=${CPUS[0]}

# step CMD REGEX SECONDS: send CMD to testpmd and wait for one more line
# matching REGEX than the log had before, so an earlier step never counts.
step() {
	local n end
	n=$(($(grep -cE "$2" "$TLOG") + 1))
	testpmd_cmd "$1"
	end=$((SECONDS + $3))
	while [ "$(grep -cE "$2" "$TLOG")" -lt "$n" ]; do
		[ $SECONDS -lt "$end" ] || fail "testpmd: no '$2' after '$1'"
		kill -0 "$TP_PID" 2>/dev/null || fail "testpmd exited at '$1'"
		sleep 0.1
	done
}

# stat NAME: value of NAME in the last "show port stats 0" block.
stat() {
	tail -n +"$STATS_FROM" "$TLOG" | grep -oE "$1: +[0-9]+" | head -1 |
		grep -oE "[0-9]+$"
}

# qstat RING KEY: KEY of ring RING in $CTLOUT (vhostctl stats).
qstat() {
	grep "^queue port=v ring=$1 " "$CTLOUT" | grep -oE " $2=[0-9]+" |
		cut -d= -f2
}

# check_queues Q TXP: vhostd's log shows rings 0 .. 2Q-1 started and its
# counters show them live, enabled and each with more than MIN_PACKETS / 4
# packets, the TX rings' summing to TXP.
check_queues() {
	local q=$1 txp=$2 r v sum=0 per=""
	for r in $(seq 0 $((2 * q - 1))); do
		grep -qE "ring $r started" "$VLOG" ||
			fail "vhostd's log: ring $r not started"
		grep -q "^queue port=v ring=$r .* live=1 enabled=1 " "$CTLOUT" ||
			fail "ring $r not live and enabled:" \
				"$(grep "^queue port=v ring=$r " "$CTLOUT")"
		v=$(qstat "$r" packets)
		[ "${v:-0}" -gt $((MIN_PACKETS / 4)) ] ||
			fail "ring $r carried ${v:-0} packets, want more than" \
				"$((MIN_PACKETS / 4))"
		[ $((r & 1)) = 0 ] || sum=$((sum + v))
		per="$per, ring $r: $v"
	done
	[ "$sum" = "$txp" ] ||
		fail "vhostd's TX rings took $sum packets, testpmd sent $txp"
	echo "vhostd's rings (packets)${per#,}"
}

session() {
	local mrg io pk q
	IFS=: read -r mrg io pk q <<<"$1"
	pk=${pk:-0} q=${q:-1}
	local tag=mrg${mrg}io${io}pk${pk}q$q
	local sock=$WORK/$tag.sock
	local name="mrg_rxbuf=$mrg in_order=$io packed_vq=$pk queues=$q"
	VLOG=$WORK/vhostd-$tag.log TLOG=$WORK/testpmd-$tag.log
	CTL=$WORK/$tag.ctl CTLOUT=$WORK/$tag.stats

	"$VHOSTD" --port "v=vhost:$sock" --reflect v --cores "$WK_CPU" \
		--control "$CTL" --log-level info >"$VLOG" 2>&1 &
	VPID=$!
	PIDS+=("$VPID")
	wait_for "$VLOG" "listening on" 5 || fail "vhostd did not listen"
	testpmd_start "testpmd-$tag" "0@$TP_CPU,1@$TP_CPU" \
		"path=$sock,queues=$q,mrg_rxbuf=$mrg,in_order=$io,packed_vq=$pk" \
		--rxq="$q" --txq="$q" --nb-cores=1
	wait_for "$TLOG" "testpmd>" 30 || fail "testpmd did not start"
	wait_for "$VLOG" "ring $((2 * q - 1)) started" 10 ||
		fail "rings not started"

	step "set fwd io" "Set io packet forwarding mode" 10
	step "start tx_first 8" "io packet forwarding - ports=1" 10
	sleep "$IO_SECS"
	# On a loaded host (other busy-polling processes on these CPUs) the
	# loop can crawl: give it up to IO_MAX_SECS to pass MIN_PACKETS.
	local t=$IO_SECS
	while :; do
		STATS_FROM=$(($(wc -l <"$TLOG") + 1))
		step "show port stats 0" "Tx-pps:" 20
		[ "$(stat TX-packets)" -gt "$MIN_PACKETS" ] && break
		[ $t -lt $IO_MAX_SECS ] || break
		echo "$name: $(stat TX-packets) packets after $t s"
		sleep 1
		t=$((t + 1))
	done
	IO_STATS_FROM=$(($(wc -l <"$TLOG") + 1))
	step "stop" "^Done\." 20
	step "set fwd rxonly" "Set rxonly packet forwarding mode" 10
	step "start" "rxonly packet forwarding - ports=1" 10
	sleep 1
	step "stop" "^Done\." 20
	STATS_FROM=$(($(wc -l <"$TLOG") + 1))
	step "show port stats 0" "Tx-pps:" 10
	# Still attached: the rings are live.
	"$VHOSTCTL" "$CTL" stats >"$CTLOUT" || fail "vhostctl stats failed"
	testpmd_quit
	wait_exit "$TP_PID" 60 || fail "testpmd did not quit"
	# DPDK's runtime dir of this --file-prefix (see testpmd_start).
	rm -rf "/var/run/dpdk/vhostd-testpmd-$tag-$$" \
		"${XDG_RUNTIME_DIR:-/tmp}/dpdk/vhostd-testpmd-$tag-$$"
	wait_for "$VLOG" "front-end disconnected" 20 ||
		fail "testpmd did not detach"
	kill -TERM "$VPID"
	wait "$VPID"
	local rc=$?
	[ $rc -eq 0 ] || fail "vhostd exit code $rc after SIGTERM"

	local rxp txp rxe rxm txe wkp txd
	rxp=$(stat RX-packets) txp=$(stat TX-packets) rxe=$(stat RX-errors)
	rxm=$(stat RX-missed) txe=$(stat TX-errors)
	STATS_FROM=$IO_STATS_FROM txd=$(stat TX-dropped)
	wkp=$(grep -oE "worker 0 \(core [0-9]+\): [0-9]+ packets" "$VLOG" |
		grep -oE "[0-9]+ packets" | grep -oE "^[0-9]+")
	echo "$name: testpmd RX-packets=$rxp TX-packets=$txp" \
		"RX-errors=$rxe RX-missed=$rxm TX-errors=$txe;" \
		"vhostd took ${wkp:-?} off the TX ring; testpmd's own" \
		"TX-dropped ${txd:-?} (io phase)"
	if [ -z "$rxp" ] || [ -z "$txp" ]; then
		fail "no port statistics"
	fi
	if [ "$rxe" != 0 ] || [ "$rxm" != 0 ] || [ "$txe" != 0 ]; then
		fail "RX-errors $rxe, RX-missed $rxm, TX-errors $txe: want 0"
	fi
	if [ "$txp" -le "$MIN_PACKETS" ]; then
		echo "load: $(cat /proc/loadavg); busiest processes:"
		ps -eo pid,psr,pcpu,comm --sort=-pcpu | head -6
		fail "only $txp packets in $t s"
	fi
	[ "$wkp" = "$txp" ] || fail "vhostd took ${wkp:-?}, testpmd sent $txp"
	[ "$rxp" = "$txp" ] ||
		fail "RX-packets $rxp != TX-packets $txp: $((txp - rxp)) lost"
	grep -q "broken" "$VLOG" && fail "vhostd marked a queue broken"
	local feat
	feat=$(grep -oE 'features 0x[0-9a-f]+ negotiated' "$VLOG" | tail -n 1 |
		grep -oE '0x[0-9a-f]+')
	[ -n "$feat" ] || fail "no negotiated features in vhostd's log"
	# VIRTIO_NET_F_MQ (bit 22) with more than one queue pair.
	[ $((feat >> 15 & 1))$((feat >> 35 & 1))$((feat >> 34 & 1))$((feat >> 22 & 1)) = \
		"$mrg$io$pk$((q > 1))" ] ||
		fail "negotiated $feat: mrg_rxbuf/in_order/packed/mq not" \
			"$mrg/$io/$pk/$((q > 1))"
	check_queues "$q" "$txp"
	echo "PASS: $name: all $txp packets came back"
}

for m in "$@"; do
	session "$m"
done
