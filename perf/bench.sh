#!/usr/bin/env bash
# Side-by-side benchmark: the same generator (vu-gen, one core) against
# vhostd --reflect and against DPDK's back-end (testpmd net_vhost, macswap),
# one worker/forwarding core each, in the same run.  Prints one table row per
# test: median rx Mpps of RUNS runs for each back-end, the ratio, and
# vhostd's cycles/packet (median).
#   perf/bench.sh [BUILD_DIR] [RUNS] [SECONDS]
set -u
B=${1:-build} RUNS=${2:-3} SECS=${3:-5}
VHOSTD=$B/control/vhostd GEN=$B/perf/vu-gen
TESTPMD=$(command -v dpdk-testpmd) || { echo "no dpdk-testpmd"; exit 77; }
W=$(mktemp -d /tmp/vhostd-bench.XXXXXX)
GEN_CORE=0 FWD_CORE=1
trap 'kill $(jobs -p) 2>/dev/null; wait; rm -rf "$W" /var/run/dpdk/vhbench-*' EXIT

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { grep -o "$1=[^ ]*" | head -1 | cut -d= -f2; }

# run_vhostd SIZE MRG -> "mpps cycles"
run_vhostd() {
	"$VHOSTD" --port b0=vhost:"$W/v.sock" --reflect b0 --cores $FWD_CORE \
		2>"$W/v.log" & local pid=$!
	"$GEN" --backend vhostd --core $GEN_CORE --duration "$SECS" --size "$1" \
		$2 "$W/v.sock" >"$W/g.out" 2>&1
	kill -TERM $pid; wait $pid
	local cpp; cpp=$(grep -o '[0-9.]* cycles/packet' "$W/v.log" | cut -d' ' -f1)
	echo "$(field rx_mpps <"$W/g.out") ${cpp:-nan}"
}

run_dpdk() {
	timeout --signal=INT 120 "$TESTPMD" --no-pci --no-huge -m 1024 \
		--lcores 0@$GEN_CORE,1@$FWD_CORE --file-prefix=vhbench-$$ \
		--vdev net_vhost0,iface="$W/d.sock",queues=1 -- \
		--forward-mode=macswap --auto-start --stats-period 1 </dev/null >"$W/t.log" 2>&1 &
	local pid=$!
	for _ in $(seq 300); do grep -q "Auto-start" "$W/t.log" 2>/dev/null && [ -S "$W/d.sock" ] && break; sleep 0.1; done
	"$GEN" --backend dpdk --core $GEN_CORE --duration "$SECS" --size "$1" \
		$2 "$W/d.sock" >"$W/g.out" 2>&1
	kill -INT $pid; wait $pid
	echo "$(field rx_mpps <"$W/g.out")"
}

printf "%-22s %10s %10s %7s %14s\n" test "vhostd" "dpdk" ratio "vhostd cyc/pkt"
for size in 64 1518; do
	for mrg in "" "--mrg-rxbuf"; do
		: >"$W/v.txt"; : >"$W/d.txt"; : >"$W/c.txt"
		for _ in $(seq "$RUNS"); do
			set -- $(run_vhostd $size "$mrg")
			echo "$1" >>"$W/v.txt"; echo "$2" >>"$W/c.txt"
			run_dpdk $size "$mrg" >>"$W/d.txt"
		done
		v=$(median <"$W/v.txt") d=$(median <"$W/d.txt") c=$(median <"$W/c.txt")
		r=$(awk -v a="$v" -v b="$d" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
		printf "%-22s %10s %10s %7s %14s\n" \
			"split ${size}B mrg=$([ -n "$mrg" ] && echo on || echo off)" \
			"$v" "$d" "${r}x" "$c"
	done
done
