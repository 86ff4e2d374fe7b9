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
#            macswap), mrg_rxbuf 0/1, in_order 0/1.
# One table row per case: median front-end Mpps of RUNS runs for each
# back-end, the median of the per-run vhostd/DPDK ratios, and vhostd's
# worker cycles/packet (median).
#   perf/bench.sh [--plot FILE.png] [--only gen|testpmd] [--mem huge|nohuge]
#                 [BUILD_DIR] [RUNS] [SECONDS]
set -u
export LC_ALL=C
PLOT='' ONLY='' MEM=huge
while [ $# -gt 0 ]; do
	case $1 in
	--plot) PLOT=$2; shift 2 ;;
	--only) ONLY=$2; shift 2 ;;
	--mem) MEM=$2; shift 2 ;;
	-h|--help) sed -n '2,16s/^# \{0,1\}//p' "$0"; exit 0 ;;
	-*) echo "unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
B=${1:-build} RUNS=${2:-3} SECS=${3:-5}
# Subsets for a quick look, e.g. TESTS=loop SIZES=64 IOS=0 perf/bench.sh ...
SIZES=${SIZES:-64 1518} TESTS=${TESTS:-txonly rxonly loop}
MRGS=${MRGS:-0 1} IOS=${IOS:-0 1}
VHOSTD=$B/control/vhostd VHOSTCTL=$B/control/vhostctl GEN=$B/perf/vu-gen
TESTPMD=$(command -v dpdk-testpmd) || { echo "no dpdk-testpmd"; exit 77; }
for x in "$VHOSTD" "$VHOSTCTL" "$GEN"; do
	[ -x "$x" ] || { echo "$x: not built"; exit 2; }
done
case $ONLY in ""|gen|testpmd) ;; *) echo "--only gen|testpmd"; exit 2 ;; esac
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
	if [ "${free:-0}" -lt 256 ]; then
		echo "--mem huge needs 256 free 2 MiB hugepages ($free free):" \
			"echo 512 > /proc/sys/vm/nr_hugepages, or --mem nohuge"
		exit 2
	fi
	MEM_ARGS="-m 256 --single-file-segments" GEN_MEM=--hugepages ;;
nohuge) MEM_ARGS="--no-huge -m 1024" GEN_MEM= ;;
*) echo "--mem huge|nohuge"; exit 2 ;;
esac

HDR="%-8s %-7s %5s %3s %8s %10s %10s %7s %14s\n"
header() {
	printf "$HDR" method test size mrg in_order "vhostd Mpps" "dpdk Mpps" \
		ratio "vhostd cyc/pkt"
}

# fail_run LABEL WHY: the run is nan; say which and why, with log tails.
fail_run() {
	echo "  $1: FAILED: $2" >&2
	note "FAILED $1: $2"
	local f
	for f in "$W/fe.log" "$W/be.log" "$W/g.out"; do
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
	rm -f "$W/s.sock" "$W/ctl" "$W/g.out" "$W/fe.log" "$W/be.log"
	if ! be_"$be" "$W/s.sock" loop "$2"; then
		fail_run "$label" "back-end did not start"; be_stop; return
	fi
	[ "$be" != vhostd ] || timeout 5 "$VHOSTCTL" "$W/ctl" stats >"$W/st.1"
	t1=$EPOCHREALTIME; sched_threads "$BE_PID" >"$W/bew.1"
	timeout $((SECS + 30)) "$GEN" --backend "$be" --core $FE_CORE \
		--duration "$SECS" --size "$2" $mrg $GEN_MEM "$W/s.sock" \
		>"$W/g.out" 2>&1
	t2=$EPOCHREALTIME; sched_threads "$BE_PID" >"$W/bew.2"
	if [ "$be" = vhostd ]; then
		timeout 5 "$VHOSTCTL" "$W/ctl" stats >"$W/st.2"
		c=$(vh_cycles "$W/st.1" "$W/st.2")
		d=$(vh_drops "$W/st.1" "$W/st.2")
		[ -z "$d" ] || note "drops: $label: $d"
	fi
	res=$(grep -a '^RESULT' "$W/g.out")
	[ -n "$res" ] || { fail_run "$label" "vu-gen printed no RESULT"; be_stop; return; }
	be_stop
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

# tp_sample N BACKEND COLUMN: one end of the window, in $W/*.N: the
# front-end's count, how long each side waited for its core, and vhostd's
# counters.
tp_sample() {
	fe_count "$3" >"$W/fe.$1" || return 1
	echo "$EPOCHREALTIME" >"$W/ts.$1"   # the replies may lag: own clock
	sched_threads "$BE_PID" >"$W/bew.$1"
	sched_threads "$FE_PID" >"$W/few.$1"
	[ "$2" != vhostd ] || timeout 5 "$VHOSTCTL" "$W/ctl" stats >"$W/st.$1"
}

# tp_measure BACKEND TEST: with both sides up, traffic flowing, then the
# front-end counter (TX for txonly, else RX) over a SECS window; prints
# "mpps cycles/packet be_ran% be_waited% fe_ran% fe_waited%", or a reason
# and returns 1.
tp_measure() {
	local col=RX start=start t1 t2 pps c=nan d
	[ "$2" = txonly ] && col=TX
	[ "$2" = loop ] && start="start tx_first 32"
	fe_cmd "$start"
	fe_flowing $col || { echo "no traffic within ${START_WAIT}s"; return 1; }
	sleep $WARM
	tp_sample 1 "$1" $col || { echo "no stats reply"; return 1; }
	sleep "$SECS"
	tp_sample 2 "$1" $col || { echo "no stats reply"; return 1; }
	read -r _ _ pps <"$W/fe.2"; read -r t1 <"$W/ts.1"; read -r t2 <"$W/ts.2"
	[ -n "$pps" ] || { echo "no pps in the stats reply"; return 1; }
	if [ "$1" = vhostd ]; then
		c=$(vh_cycles "$W/st.1" "$W/st.2")
		# A source's or an unwired port's TX is dropped by design.
		d=$(vh_drops "$W/st.1" "$W/st.2" |
			sed 's/ drop_no_peer=[0-9]*//g; s/ring=[0-9]*;//g')
		[ -z "$d" ] || note "drops: $label: $d"
	fi
	echo "$(awk -v r="$pps" 'BEGIN {printf "%.3f", r / 1e6}') $c" \
		"$(core_share "$W/bew.1" "$W/bew.2" "$t1" "$t2")" \
		"$(core_share "$W/few.1" "$W/few.2" "$t1" "$t2")"
}

# tp_features BACKEND MRG IN_ORDER: note when the back-end negotiated
# MRG_RXBUF (bit 15) or IN_ORDER (bit 35) otherwise than the front-end
# asked; vhostd does not offer IN_ORDER, so for it that one is off.
tp_features() {
	local f io=$3 got
	f=$(be_features) || { note "features: $label: none in the log"; return; }
	[ "$1" = vhostd ] && io=0
	got="$((f >> 15 & 1))/$((f >> 35 & 1))"
	[ "$got" = "$2/$io" ] ||
		note "features: $label: mrg/in_order $got ($f), expected $2/$io"
}

# tp_run BACKEND TEST SIZE MRG IN_ORDER -> "mpps cycles/packet"
tp_run() {
	local label="testpmd $2 ${3}B mrg=$4 in_order=$5 $1 run $run" fwd=$2 r
	[ "$2" = loop ] && fwd=mac
	rm -f "$W/s.sock" "$W/ctl" "$W/fe.log" "$W/be.log"
	if ! be_"$1" "$W/s.sock" "$2" "$3"; then
		r="back-end did not start"
	elif ! fe_start "$W/s.sock" "$4" "$5" "$fwd" "$3"; then
		r="front-end did not start"
	elif r=$(tp_measure "$1" "$2"); then
		tp_features "$1" "$4" "$5"
		fe_stop; be_stop
		set -- $r
		echo "  $label: $1 Mpps (pollers ran/waited: back-end" \
			"$3/$4%, front-end $5/$6%)" >&2
		count_noise "$3" "$4" "$5" "$6"
		echo "$1 $2"; return
	fi
	fail_run "$label" "$r"
	fe_stop; be_stop
}

# ---- tables -------------------------------------------------------------

# row METHOD TEST SIZE MRG IN_ORDER RUNFN ARGS...: RUNS runs of each
# back-end, interleaved so that a noisy spell hits both; prints the table
# row and appends it to the plot data.  The run functions run in this
# shell (output to a file, not $(...)) so that the EXIT trap knows every PID.
row() {
	local m=$1 t=$2 s=$3 mg=$4 io=$5 fn=$6 run v c d r; shift 6
	: >"$W/v.txt"; : >"$W/d.txt"; : >"$W/c.txt"; : >"$W/q.txt"
	for run in $(seq "$RUNS"); do
		$fn vhostd "$@" >"$W/r"; read -r v c <"$W/r"
		echo "${v:-nan}" >>"$W/v.txt"; echo "${c:-nan}" >>"$W/c.txt"
		$fn dpdk "$@" >"$W/r"; read -r d _ <"$W/r"
		echo "${d:-nan}" >>"$W/d.txt"
		echo "$(ratio "${v:-nan}" "${d:-nan}")" | tr -d x >>"$W/q.txt"
	done
	v=$(median <"$W/v.txt") d=$(median <"$W/d.txt") c=$(median <"$W/c.txt")
	# The ratio is the median of each run's vhostd/DPDK pair, run back to
	# back: the host's slow and fast spells (2x apart here) then cancel
	# out, where a ratio of the two medians could pair a slow spell of one
	# back-end with a fast one of the other.
	r=$(median <"$W/q.txt")
	[ "$r" = nan ] || r=${r}x
	# vhostd does not offer IN_ORDER: with it the feature is negotiated off.
	[ "$io" = 1 ] && io="1*"
	printf "$HDR" "$m" "$t" "$s" "$mg" "$io" "$v" "$d" "$r" "$c"
	local lbl="$t mrg=$mg"
	[ "$m" = vu-gen ] && lbl="vu-gen $lbl"
	[ "$io" = - ] || lbl+=" io=${io%\*}"
	echo "\"$lbl\" $v $d" >>"$W/plot.$s.dat"
}

if [ "$ONLY" != testpmd ]; then
	echo "== gen: vu-gen front-end (core 0), rx Mpps; medians of $RUNS x ${SECS}s, mem $MEM"
	header
	for size in $SIZES; do
		for mrg in $MRGS; do
			row vu-gen loop "$size" "$mrg" - gen_run "$size" "$mrg"
		done
	done
	[ "$ONLY" = gen ] || echo
fi
if [ "$ONLY" != gen ]; then
	echo "== testpmd: virtio-user front-end (core 0), its TX Mpps for txonly, RX otherwise; medians of $RUNS x ${SECS}s, mem $MEM"
	header
	for test in $TESTS; do
		for size in $SIZES; do
			for mrg in $MRGS; do
				for io in $IOS; do
					row testpmd "$test" "$size" "$mrg" "$io" tp_run \
						"$test" "$size" "$mrg" "$io"
				done
			done
		done
	done
	echo "* in_order=1: negotiated with DPDK only (vhostd does not offer IN_ORDER yet)"
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
	set multiplot layout $(echo $SIZES | wc -w),1 title "vhostd vs DPDK's vhost back-end: Mpps, median of $RUNS x ${SECS}s; io: in_order, negotiated with DPDK only" noenhanced
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
