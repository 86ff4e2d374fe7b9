#!/usr/bin/env bash
# Side-by-side benchmark of vhostd and DPDK's vhost back-end (dpdk-testpmd
# net_vhost), one worker/forwarding core each (core 1), in the same run,
# with two front-ends on core 0:
#   gen:     our generator (vu-gen) in a loop: vhostd --reflect against
#            testpmd macswap; every frame verified.
#   testpmd: DPDK's own method, testpmd virtio-user as the front-end, in
#            three tests: txonly (back-end receives and drops), rxonly
#            (back-end transmits: vhostd --source, testpmd txonly) and loop
#            (mac fwd after "start tx_first 32"; vhostd --reflect, testpmd
#            macswap), split and packed rings (packed_vq 0/1), mrg_rxbuf
#            0/1, in_order 0/1.
# One table row per case: median front-end Mpps of RUNS runs for each
# back-end, the median of the per-pair vhostd/DPDK ratios, and vhostd's
# worker cycles/packet (median).  For testpmd a run is a window of SECONDS
# with both pairs up and the other one stopped (see tp_row).
#   mq:      2 queue pairs, the testpmd loop at 64 B with one forwarding
#            lcore in the front-end, the back-ends on 1 and then 2 worker
#            cores (MQ_CORES, default: the back-end core and the one before
#            it): Mpps and each back-end's scaling factor.
#   perf/bench.sh [--plot FILE.png] [--only gen|testpmd|mq] [--mem huge|nohuge]
#                 [BUILD_DIR] [RUNS] [SECONDS]
# VHOSTD_B=PATH puts that vhostd build where DPDK's back-end would be: an
# A/B of two builds under the same method (its cycles per packet in the
# dpdk columns).
set -u
export LC_ALL=C
PLOT='' ONLY='' MEM=huge
while [ $# -gt 0 ]; do
	case $1 in
	--plot) PLOT=$2; shift 2 ;;
	--only) ONLY=$2; shift 2 ;;
	--mem) MEM=$2; shift 2 ;;
	-h|--help) sed -n '2,20s/^# \{0,1\}//p' "$0"; exit 0 ;;
	-*) echo "unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
B=${1:-build} RUNS=${2:-3} SECS=${3:-5}
# Subsets for a quick look, e.g. TESTS=loop SIZES=64 IOS=0 perf/bench.sh ...
SIZES=${SIZES:-64 1518} TESTS=${TESTS:-txonly rxonly loop}
MRGS=${MRGS:-0 1} IOS=${IOS:-0 1} RINGS=${RINGS:-split packed}
VHOSTD=$B/control/vhostd VHOSTCTL=$B/control/vhostctl GEN=$B/perf/vu-gen
TESTPMD=$(command -v dpdk-testpmd) || { echo "no dpdk-testpmd"; exit 77; }
for x in "$VHOSTD" "$VHOSTCTL" "$GEN"; do
	[ -x "$x" ] || { echo "$x: not built"; exit 2; }
done
case $ONLY in ""|gen|testpmd|mq) ;; *) echo "--only gen|testpmd|mq"; exit 2 ;; esac
TP_METHOD=testpmd
[ -z "$PLOT" ] || command -v gnuplot >/dev/null ||
	{ echo "--plot needs gnuplot"; exit 2; }
W=$(mktemp -d /tmp/vhostd-bench.XXXXXX)
PFX=vhbench-$$
. "$(dirname "$0")/bench_lib.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

# Guest memory (both testpmds' and vu-gen's) in 2 MiB pages: 4 KiB pages
# put a TLB miss on most buffer accesses of both back-ends, and those vary
# with whatever else runs on the core; single-file-segments keeps
# virtio-user's memory table to one region.  256 MiB holds the pool.
case $MEM in
huge)
	free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
	if [ "${free:-0}" -lt 384 ]; then
		echo "--mem huge needs 384 free (3 testpmds up at once) 2 MiB hugepages ($free free):" \
			"echo 512 > /proc/sys/vm/nr_hugepages, or --mem nohuge"
		exit 2
	fi
	MEM_ARGS="-m 256 --single-file-segments" GEN_MEM=--hugepages ;;
nohuge) MEM_ARGS="--no-huge -m 1024" GEN_MEM= ;;
*) echo "--mem huge|nohuge"; exit 2 ;;
esac

HDR="%-8s %-7s %5s %-6s %3s %8s %10s %10s %7s %14s %12s %9s\n"
header() {
	printf "$HDR" method test size ring mrg in_order "vhostd Mpps" \
		"dpdk Mpps" ratio "vhostd cyc/pkt" "dpdk cyc/pkt" "cyc ratio"
}

# fail_run LABEL WHY: the run is nan; say which and why, with log tails.
fail_run() {
	echo "  $1: FAILED: $2" >&2
	note "FAILED $1: $2"
	local f
	for f in "$W"/fe.*.log "$W"/be.*.log "$W/g.out"; do
		[ -s "$f" ] && tail -n 5 "$f" | tr -d '\033' | sed "s|^|    ${f##*/}: |" >>"$W/notes"
	done
	[ -S "$W/ctl" ] && timeout 5 "$VHOSTCTL" "$W/ctl" stats |
		sed 's/^/    vhostctl: /' >>"$W/notes"
	echo "nan nan"
}

# count_noise RAN WAITED...: count the run, and count it as noisy when a
# poller (front-end or back-end) waited for its core NOISY% of the window
# or more, or was stalled (neither ran nor waited) that long.
count_noise() {
	echo >>"$W/runs"
	while [ $# -gt 0 ]; do
		if [ "$2" -ge $NOISY ] || [ $(($1 + $2)) -le $((100 - NOISY)) ]; then
			echo >>"$W/noisy"; return
		fi
		shift 2
	done
}

# ---- gen: vu-gen on core 0 against either back-end in a loop -----------

# gen_run BACKEND SIZE MRG -> "mpps cycles/packet"; vu-gen's own window
# (it warms up and drains around it), cycles over the whole vu-gen run.
gen_run() {
	local be=$1 label="gen loop ${2}B mrg=$3 $1 run $run" mrg='' res r c=nan
	local t1 t2 bw gw d
	[ "$3" = 1 ] && mrg=--mrg-rxbuf
	rm -f "$W/s.sock" "$W/g.out" "$W/be.$be.log"
	if ! be_"$be" "$W/s.sock" loop "$2"; then
		fail_run "$label" "back-end did not start"; be_stop "$be"; return
	fi
	[ "$be" != vhostd ] || timeout 5 "$VHOSTCTL" "$W/ctl" stats >"$W/st.1"
	t1=$EPOCHREALTIME; sched_threads "${BE_PID[$be]}" >"$W/bew.1"
	timeout $((SECS + 30)) "$GEN" --backend "$be" --core $FE_CORE \
		--duration "$SECS" --size "$2" $mrg $GEN_MEM "$W/s.sock" \
		>"$W/g.out" 2>&1
	t2=$EPOCHREALTIME; sched_threads "${BE_PID[$be]}" >"$W/bew.2"
	if [ "$be" = vhostd ]; then
		timeout 5 "$VHOSTCTL" "$W/ctl" stats >"$W/st.2"
		c=$(vh_cycles "$W/st.1" "$W/st.2")
		d=$(vh_drops "$W/st.1" "$W/st.2")
		[ -z "$d" ] || note "drops: $label: $d"
	elif [ -s "$f.cy.2" ]; then
		c=$(dpdk_cycles "$f.cy.1" "$f.cy.2")
	fi
	res=$(grep -a '^RESULT' "$W/g.out")
	[ -n "$res" ] || { fail_run "$label" "vu-gen printed no RESULT"; be_stop "$be"; return; }
	be_stop "$be"
	r=$(kv rx_mpps <<<"$res")
	[ "$(kv loss <<<"$res")$(kv bad <<<"$res")$(kv broken <<<"$res")" = 000 ] ||
		note "gen: $label: loss=$(kv loss <<<"$res") bad=$(kv bad <<<"$res") broken=$(kv broken <<<"$res")"
	bw=$(core_share "$W/bew.1" "$W/bew.2" "$t1" "$t2")
	gw=$(awk -v w="$(kv wait_ms <<<"$res")" -v s="$(kv secs <<<"$res")" \
		'BEGIN { printf "%.0f", (s > 0 ? w / 10 / s : 0) }')
	echo "  $label: $r Mpps (pollers ran/waited: back-end ${bw/ //}%," \
		"vu-gen waited $gw%)" >&2
	count_noise $bw $((100 - gw)) "$gw"
	echo "$r $c"
}

# ---- testpmd: DPDK's virtio-user front-end against either back-end -----
# Both pairs (vhostd + its front-end, DPDK + its front-end) are up at once
# and take turns: one runs while the other is stopped (SIGSTOP), in
# windows of SECS seconds, vhostd and DPDK alternately.  The host here has
# slow and fast spells about 2x apart that last seconds; windows this short
# put both back-ends of a pair in the same spell.

# tp_sample SIDE N COLUMN: one end of the window, in $W/SIDE.*.N: the
# front-end's count, how long each side waited for its core, and vhostd's
# counters.
tp_sample() {
	local f=$W/$1
	fe_count "$1" "$3" >"$f.fe.$2" || return 1
	fe_cycles "$1" "$f.fc.$2" || return 1
	echo "$EPOCHREALTIME" >"$f.ts.$2"   # the replies may lag: own clock
	sched_threads "${BE_PID[$1]}" >"$f.bew.$2"
	sched_threads "${FE_PID[$1]}" >"$f.few.$2"
	if [ "$1" = vhostd ]; then
		timeout 5 "$VHOSTCTL" "$W/ctl" stats >"$f.st.$2"
	elif [ -n "${VHOSTD_B:-}" ]; then
		timeout 5 "$VHOSTCTL" "$W/ctl.b" stats >"$f.st.$2"
	elif [ -n "${BE_FD[dpdk]:-}" ]; then
		be_dpdk_cycles >"$f.cy.$2"
	fi
}

tp_col() { if [ "$1" = txonly ]; then echo TX; else echo RX; fi; }

# tp_up SIDE TEST SIZE MRG IN_ORDER PACKED: the pair up, traffic flowing,
# then paused; prints a reason and returns 1 when it cannot.
tp_up() {
	local fwd=$2 start=start
	[ "$2" = loop ] && fwd=mac start="start tx_first 32"
	rm -f "$W/$1.sock"
	be_"$1" "$W/$1.sock" "$2" "$3" ||
		{ echo "back-end did not start"; return 1; }
	fe_start "$1" "$W/$1.sock" "$4" "$5" "$fwd" "$3" "$6" ||
		{ echo "front-end did not start"; return 1; }
	fe_cmd "$1" "$start"
	fe_flowing "$1" "$(tp_col "$2")" ||
		{ echo "no traffic within ${START_WAIT}s"; return 1; }
	pair_pause "$1"
}

tp_down() { fe_stop "$1"; be_stop "$1"; }

# tp_window SIDE TEST: resume the pair, warm up, measure SECS, pause it;
# prints "mpps cycles/packet be_ran% be_waited% fe_ran% fe_waited%
# fe_cycles/packet fe_busy%", or a reason and returns 1.
tp_window() {
	local f=$W/$1 col t1 t2 pps c=nan d
	col=$(tp_col "$2")
	pair_resume "$1"
	sleep "$WARM"
	tp_sample "$1" 1 "$col" || { pair_pause "$1"; echo "no stats reply"; return 1; }
	sleep "$SECS"
	tp_sample "$1" 2 "$col" || { pair_pause "$1"; echo "no stats reply"; return 1; }
	pair_pause "$1"
	read -r _ _ pps <"$f.fe.2"; read -r t1 <"$f.ts.1"; read -r t2 <"$f.ts.2"
	[ -n "$pps" ] || { echo "no pps in the stats reply"; return 1; }
	if [ "$1" = vhostd ]; then
		c=$(vh_cycles "$f.st.1" "$f.st.2")
		# A source's or an unwired port's TX is dropped by design.
		d=$(vh_drops "$f.st.1" "$f.st.2" |
			sed 's/ drop_no_peer=[0-9]*//g; s/ring=[0-9]*;//g')
		[ -z "$d" ] || note "drops: $label: $d"
	elif [ -n "${VHOSTD_B:-}" ]; then
		c=$(vh_cycles "$f.st.1" "$f.st.2")
	elif [ -s "$f.cy.2" ]; then
		c=$(dpdk_cycles "$f.cy.1" "$f.cy.2")
	fi
	echo "$(awk -v r="$pps" 'BEGIN {printf "%.3f", r / 1e6}') $c" \
		"$(core_share "$f.bew.1" "$f.bew.2" "$t1" "$t2")" \
		"$(core_share "$f.few.1" "$f.few.2" "$t1" "$t2")" \
		"$(fe_load "$f.fc.1" "$f.fc.2" "$pps")"
}

# tp_features SIDE MRG IN_ORDER PACKED: note when the back-end negotiated
# MRG_RXBUF (bit 15), IN_ORDER (bit 35) or RING_PACKED (bit 34) otherwise
# than the front-end asked.
tp_features() {
	local f got
	f=$(be_features "$1") || { note "features: $label: none in the log"; return; }
	got="$((f >> 15 & 1))/$((f >> 35 & 1))/$((f >> 34 & 1))"
	[ "$got" = "$2/$3/$4" ] ||
		note "features: $label: mrg/in_order/packed $got ($f), expected $2/$3/$4"
}

# tp_run SIDE TEST SIZE MRG IN_ORDER PACKED -> "mpps cycles/packet" of one
# window (the pair is up and paused).
tp_run() {
	local label="testpmd $2 ${3}B packed=$6 mrg=$4 in_order=$5 $1 window $run" r
	if r=$(tp_window "$1" "$2"); then
		set -- $r
		echo "  $label: $1 Mpps (pollers ran/waited: back-end" \
			"$3/$4%, front-end $5/$6%; front-end $7 cycles/packet," \
			"busy $8%)" >&2
		count_noise "$3" "$4" "$5" "$6"
		echo "$1 $2"
	else
		fail_run "$label" "$r"
	fi
}

# tp_row TEST SIZE MRG IN_ORDER PACKED: both pairs up, RUNS windows each,
# down.
tp_row() {
	local side label r ok=1 ring=split
	[ "$5" = 1 ] && ring=packed
	for side in vhostd dpdk; do
		label="testpmd $1 ${2}B packed=$5 mrg=$3 in_order=$4 $side"
		# In this shell, not $(...): the PIDs and fifo fds must stay.
		if ! tp_up "$side" "$@" >"$W/r"; then
			fail_run "$label" "$(cat "$W/r")" >/dev/null; ok=0; break
		fi
		tp_features "$side" "$3" "$4" "$5"
	done
	if [ $ok = 1 ]; then
		row "$TP_METHOD" "$1" "$2" $ring "$3" "$4" tp_run "$@"
	else
		row "$TP_METHOD" "$1" "$2" $ring "$3" "$4" fail_window
	fi
	for side in vhostd dpdk; do tp_down "$side"; done
}
fail_window() { echo "nan nan"; }

# ---- tables -------------------------------------------------------------

# row METHOD TEST SIZE RING MRG IN_ORDER RUNFN ARGS...: RUNS runs of each
# back-end, interleaved so that a noisy spell hits both; prints the table
# row and appends it to the plot data.  The run functions run in this
# shell (output to a file, not $(...)) so that the EXIT trap knows every PID.
row() {
	local m=$1 t=$2 s=$3 rg=$4 mg=$5 io=$6 fn=$7 run v c d dc r rc; shift 7
	: >"$W/v.txt"; : >"$W/d.txt"; : >"$W/c.txt"; : >"$W/q.txt"
	: >"$W/dc.txt"; : >"$W/qc.txt"
	for run in $(seq "$RUNS"); do
		# Every other pair DPDK goes first: a spell that starts or ends
		# inside a pair favours each side equally often.
		if ((run % 2)); then
			$fn vhostd "$@" >"$W/r"; read -r v c <"$W/r"
			$fn dpdk "$@" >"$W/r"; read -r d dc <"$W/r"
		else
			$fn dpdk "$@" >"$W/r"; read -r d dc <"$W/r"
			$fn vhostd "$@" >"$W/r"; read -r v c <"$W/r"
		fi
		echo "${v:-nan}" >>"$W/v.txt"; echo "${c:-nan}" >>"$W/c.txt"
		echo "${d:-nan}" >>"$W/d.txt"; echo "${dc:-nan}" >>"$W/dc.txt"
		echo "$(ratio "${v:-nan}" "${d:-nan}")" | tr -d x >>"$W/q.txt"
		# Cycles: vhostd's over DPDK's, per pair, like the rate.
		echo "$(ratio "${c:-nan}" "${dc:-nan}")" | tr -d x >>"$W/qc.txt"
	done
	v=$(median <"$W/v.txt") d=$(median <"$W/d.txt") c=$(median <"$W/c.txt")
	dc=$(median <"$W/dc.txt") rc=$(median <"$W/qc.txt")
	[ "$rc" = nan ] || rc=${rc}x
	# The ratio is the median of each run's vhostd/DPDK pair, run back to
	# back: the host's slow and fast spells (2x apart here) then cancel
	# out, where a ratio of the two medians could pair a slow spell of one
	# back-end with a fast one of the other.
	r=$(median <"$W/q.txt")
	[ "$r" = nan ] || r=${r}x
	printf "$HDR" "$m" "$t" "$s" "$rg" "$mg" "$io" "$v" "$d" "$r" "$c" "$dc" "$rc"
	echo "$v $d" >"$W/last_row"
	local lbl="$t mrg=$mg"
	[ "$rg" = packed ] && lbl="$t packed mrg=$mg"
	case $m in vu-gen|mq*) lbl="$m $lbl" ;; esac
	[ "$io" = - ] || lbl+=" io=$io"
	echo "\"$lbl\" $v $d" >>"$W/plot.$s.dat"
}

if [ -z "$ONLY" ] || [ "$ONLY" = gen ]; then
	echo "== gen: vu-gen front-end (core 0), rx Mpps; medians of $RUNS x ${SECS}s, mem $MEM"
	header
	for size in $SIZES; do
		for mrg in $MRGS; do
			row vu-gen loop "$size" split "$mrg" - gen_run "$size" "$mrg"
		done
	done
	[ -n "$ONLY" ] || echo
fi
if [ -z "$ONLY" ] || [ "$ONLY" = testpmd ]; then
	echo "== testpmd: virtio-user front-end (core 0), its TX Mpps for txonly, RX otherwise; medians of $RUNS x ${SECS}s, mem $MEM"
	header
	for test in $TESTS; do
		for size in $SIZES; do
			for ring in $RINGS; do
				for mrg in $MRGS; do
					for io in $IOS; do
						tp_row "$test" "$size" "$mrg" \
							"$io" $([ $ring = packed ] && echo 1 || echo 0)
					done
				done
			done
		done
	done
fi
if [ -z "$ONLY" ] || [ "$ONLY" = mq ]; then
	[ "$ONLY" = mq ] || echo
	MQ_CORES=${MQ_CORES:-$((BE_CORE - 1)),$BE_CORE}
	echo "== mq: 2 queue pairs, testpmd virtio-user loop (mac fwd, one lcore on core $FE_CORE); back-end on core $BE_CORE (mq1core), then on cores $MQ_CORES (mq2core); medians of $RUNS x ${SECS}s"
	header
	QUEUES=2
	for BE_CORES in "$BE_CORE" "$MQ_CORES"; do
		TP_METHOD=mq$(echo "${BE_CORES//,/ }" | wc -w)core
		tp_row loop 64 0 0 0
		cp "$W/last_row" "$W/mq.$TP_METHOD"
	done
	read -r v1 d1 <"$W/mq.mq1core"; read -r v2 d2 <"$W/mq.mq2core"
	echo "scaling 1 -> 2 worker cores: vhostd $(ratio "$v2" "$v1"), dpdk $(ratio "$d2" "$d1")"
	QUEUES=1 BE_CORES=$BE_CORE TP_METHOD=testpmd
fi
if [ -s "$W/noisy" ]; then
	note "noise: $(wc -l <"$W/noisy") of $(wc -l <"$W/runs") runs had a" \
		"poller waiting for its core or stalled for ${NOISY}% of the" \
		"window or more (per-run ran/waited shares on stderr)"
fi
[ -s "$W/notes" ] && { echo; cat "$W/notes"; }

# One image: a panel per frame size, a pair of bars (vhostd, dpdk) per case.
plot() {
	local s
	cat >"$W/plot.gp" <<-EOF
	set terminal pngcairo size 1600,1000 font ',9'
	set output '$PLOT'
	set multiplot layout $(echo $SIZES | wc -w),1 title "vhostd vs DPDK's vhost back-end: Mpps, median of $RUNS x ${SECS}s; io: in_order" noenhanced
	set style data histogram; set style histogram cluster gap 1
	set style fill solid 0.8 border -1; set boxwidth 0.9
	set key top right; set grid ytics; set ylabel 'Mpps'; set yrange [0:*]
	set xtics rotate by -35 noenhanced; set rmargin 12
	EOF
	for s in $SIZES; do
		[ -s "$W/plot.$s.dat" ] || continue
		cat >>"$W/plot.gp" <<-EOF
		set title '$s B frames'
		plot '$W/plot.$s.dat' using 2:xtic(1) title 'vhostd', '' using 3 title 'dpdk'
		EOF
	done
	echo "unset multiplot" >>"$W/plot.gp"
	gnuplot "$W/plot.gp" && echo "plot: $PLOT"
}
[ -z "$PLOT" ] || plot
# A failed run fails the script (after the tables, which show it as nan).
! grep -q '^FAILED' "$W/notes" 2>/dev/null
