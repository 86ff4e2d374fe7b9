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
# back-end, the ratio, and vhostd's worker cycles/packet (median).
#   perf/bench.sh [--plot FILE.png] [--only gen|testpmd] [--mem huge|nohuge]
#                 [BUILD_DIR] [RUNS] [SECONDS]
set -u
export LC_ALL=C
PLOT= ONLY= MEM=huge
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
# Subsets for a quick look, e.g. TESTS=loop SIZES=64 perf/bench.sh ...
SIZES=${SIZES:-64 1518} TESTS=${TESTS:-txonly rxonly loop}
VHOSTD=$B/control/vhostd VHOSTCTL=$B/control/vhostctl GEN=$B/perf/vu-gen
TESTPMD=$(command -v dpdk-testpmd) || { echo "no dpdk-testpmd"; exit 77; }
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

# ---- gen: vu-gen on core 0 against either back-end in a loop -----------

# gen_run BACKEND SIZE MRG -> "mpps cycles/packet"
gen_run() {
	local be=$1 label="gen loop ${2}B mrg=$3 $1 run $run" r c=nan mrg=
	[ "$3" = 1 ] && mrg=--mrg-rxbuf
	rm -f "$W/s.sock" "$W/ctl" "$W/g.out"
	if ! be_"$be" "$W/s.sock" loop "$2"; then
		fail_run "$label" "back-end did not start"; be_stop; return
	fi
	timeout $((SECS + 30)) "$GEN" --backend "$be" --core $FE_CORE \
		--duration "$SECS" --size "$2" $mrg $GEN_MEM "$W/s.sock" \
		>"$W/g.out" 2>&1
	r=$(grep -o 'rx_mpps=[^ ]*' "$W/g.out" | cut -d= -f2)
	[ "$be" = vhostd ] &&
		c=$(vh_worker | awk '$1 > 0 {printf "%.0f", $2 / $1}')
	be_stop
	[ -n "$r" ] || { fail_run "$label" "vu-gen printed no RESULT"; return; }
	echo "  $label: $r Mpps" >&2
	echo "$r ${c:-nan}"
}

# ---- testpmd: DPDK's virtio-user front-end against either back-end -----

# tp_measure BACKEND TEST: with both sides up, traffic flowing, then the
# front-end counter (TX for txonly, else RX) over a SECS window; prints
# "mpps cycles/packet" or a reason and returns 1.
tp_measure() {
	local col=RX start=start s1 s2 w1 w2 c=nan d
	[ "$2" = txonly ] && col=TX
	[ "$2" = loop ] && start="start tx_first 32"
	fe_cmd "$start"
	fe_flowing $col || { echo "no traffic within ${START_WAIT}s"; return 1; }
	sleep $WARM
	s1=$(fe_count $col) || { echo "no stats reply"; return 1; }
	[ "$1" = vhostd ] && { timeout 5 "$VHOSTCTL" "$W/ctl" stats >"$W/st1"; w1=$(vh_worker); }
	sleep "$SECS"
	s2=$(fe_count $col) || { echo "no stats reply"; return 1; }
	if [ "$1" = vhostd ]; then
		timeout 5 "$VHOSTCTL" "$W/ctl" stats >"$W/st2"; w2=$(vh_worker)
		c=$(awk -v a="$w1" -v b="$w2" 'BEGIN { split(a, x, " ")
			split(b, y, " "); n = y[1] - x[1]
			if (n > 0) printf "%.0f", (y[2] - x[2]) / n; else print "nan" }')
		# A source's or an unwired port's TX is dropped by design.
		d=$(vh_drops "$W/st1" "$W/st2" | sed 's/ drop_no_peer=[0-9]*//g; s/ring=[0-9]*;//g')
		[ -z "$d" ] || note "drops: $label: $d"
	fi
	echo "$(mpps "$s1" "$s2") $c"
}

# tp_run BACKEND TEST SIZE MRG IN_ORDER -> "mpps cycles/packet"
tp_run() {
	local label="testpmd $2 ${3}B mrg=$4 in_order=$5 $1 run $run" fwd=$2 r
	[ "$2" = loop ] && fwd=mac
	rm -f "$W/s.sock" "$W/ctl" "$W/fe.log" "$W/be.log"
	if ! be_"$1" "$W/s.sock" "$2" "$3"; then
		r="back-end did not start"
	elif ! fe_start "$W/s.sock" "$4" "$5" $fwd "$3"; then
		r="front-end did not start"
	elif r=$(tp_measure "$1" "$2"); then
		fe_stop; be_stop
		echo "  $label: ${r% *} Mpps" >&2
		echo "$r"; return
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
	: >"$W/v.txt"; : >"$W/d.txt"; : >"$W/c.txt"
	for run in $(seq "$RUNS"); do
		$fn vhostd "$@" >"$W/r"; read -r v c <"$W/r"
		echo "${v:-nan}" >>"$W/v.txt"; echo "${c:-nan}" >>"$W/c.txt"
		$fn dpdk "$@" >"$W/r"; read -r d _ <"$W/r"
		echo "${d:-nan}" >>"$W/d.txt"
	done
	v=$(median <"$W/v.txt") d=$(median <"$W/d.txt") c=$(median <"$W/c.txt")
	r=$(ratio "$v" "$d")
	# vhostd does not offer IN_ORDER: with it the feature is negotiated off.
	[ "$io" = 1 ] && io="1*"
	printf "$HDR" "$m" "$t" "$s" "$mg" "$io" "$v" "$d" "$r" "$c"
	echo "\"$m $t $mg/${io%\*}\" $v $d" >>"$W/plot.$s.dat"
}

if [ "$ONLY" != testpmd ]; then
	echo "== gen: vu-gen front-end (core 0), rx Mpps; medians of $RUNS x ${SECS}s, mem $MEM"
	header
	for size in $SIZES; do
		for mrg in 0 1; do
			row vu-gen loop $size $mrg - gen_run $size $mrg
		done
	done
	echo
fi
if [ "$ONLY" != gen ]; then
	echo "== testpmd: virtio-user front-end (core 0), its TX Mpps for txonly, RX otherwise; medians of $RUNS x ${SECS}s, mem $MEM"
	header
	for test in $TESTS; do
		for size in $SIZES; do
			for mrg in 0 1; do
				for io in 0 1; do
					row testpmd $test $size $mrg $io tp_run \
						$test $size $mrg $io
				done
			done
		done
	done
	echo "* in_order=1: negotiated with DPDK only (vhostd does not offer IN_ORDER yet)"
fi
[ -s "$W/notes" ] && { echo; cat "$W/notes"; }

# One image: a panel per frame size, a pair of bars (vhostd, dpdk) per case.
if [ -n "$PLOT" ]; then
	gnuplot -e "
	set terminal pngcairo size 1600,900 font ',9'; set output '$PLOT'
	set multiplot layout 2,1 title 'vhostd vs DPDK vhost back-end (Mpps, median of $RUNS x ${SECS}s; case: method test mrg/in\\_order)'
	set style data histogram; set style histogram cluster gap 1
	set style fill solid 0.8 border -1; set boxwidth 0.9
	set key top right; set grid ytics; set ylabel 'Mpps'; set yrange [0:*]
	set xtics rotate by -35 noenhanced
	do for [s in '64 1518'] {
		set title s.' B frames'
		plot '$W/plot.'.s.'.dat' using 2:xtic(1) title 'vhostd', \
			'' using 3 title 'dpdk'
	}
	unset multiplot" && echo "plot: $PLOT"
fi
