#!/bin/bash
# bench_idle.sh: what --idle costs and gives, per mode (poll, sleep=MAX_US,
# wait): vhostd --reflect with one worker on core 1, the front-end on core 0.
#
#   perf/bench_idle.sh [BUILD_DIR] [RUNS] [MODES...]
#        defaults: build 3 "poll sleep=50 wait"
#
# Per mode, RUNS rounds, the modes alternating within each round (the host
# is shared and noisy: a noisy spell then hits every mode alike):
#   cpu   a guest attached and idle (vu-idle-lat holding it, its RX ring
#         full of buffers, nothing sent): vhostd's utime+stime from
#         /proc/PID/stat over 10 s, in % of one core;
#   lat   the first frame after 100 ms of quiet (vu-idle-lat, 50 frames):
#         p50, p90 and p99 in us (the worker's log line says how many parks
#         ended by their 1 s bound: a kick that did not wake it);
#   rate  vu-gen, 64 B frames, 2 s: RX Mpps, and the worker's busy cycles
#         per packet (its log line at stop).
# Prints one line per run and the medians per mode.
set -u
B=${1:-build}
RUNS=${2:-3}
shift 2 2>/dev/null
MODES=${*:-poll sleep=50 wait}
VHOSTD=$B/control/vhostd
W=$(mktemp -d /tmp/bench-idle.XXXXXX)
HZ=$(getconf CLK_TCK)
PID=

cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT

start_vhostd() {   # MODE
	rm -f "$W/v.sock"
	"$VHOSTD" --port "v=vhost:$W/v.sock" --reflect v --cores 1 \
		--idle "$1" 2>"$W/vhostd.log" &
	PID=$!
	for _ in $(seq 100); do [ -S "$W/v.sock" ] && return 0; sleep 0.05; done
	echo "vhostd did not start" >&2
	exit 1
}

stop_vhostd() { kill "$PID"; wait "$PID" 2>/dev/null; PID=; }

ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

median() { sort -g | awk '{ a[NR] = $1 } END { print NR ? a[int((NR + 1) / 2)] : "-" }'; }

for run in $(seq "$RUNS"); do
	for mode in $MODES; do
		start_vhostd "$mode"
		"$B/perf/vu-idle-lat" --count 1 --quiet-ms 12000 --core 0 \
			"$W/v.sock" >/dev/null &
		G=$!
		sleep 1
		t0=$(ticks "$PID"); sleep 10; t1=$(ticks "$PID")
		wait "$G"
		cpu=$(awk -v d=$((t1 - t0)) -v hz="$HZ" 'BEGIN { printf "%.2f", 100 * d / hz / 10 }')
		lat=$("$B/perf/vu-idle-lat" --count 50 --quiet-ms 100 --core 0 \
			--label "$mode" "$W/v.sock" | grep '^RESULT')
		p50=$(sed 's/.* p50_us=\([^ ]*\).*/\1/' <<<"$lat")
		p90=$(sed 's/.* p90_us=\([^ ]*\).*/\1/' <<<"$lat")
		p99=$(sed 's/.* p99_us=\([^ ]*\).*/\1/' <<<"$lat")
		rate=$("$B/perf/vu-gen" --core 0 --duration 2 --size 64 \
			--backend "$mode" "$W/v.sock" | grep '^RESULT' |
			sed 's/.* rx_mpps=\([^ ]*\).*/\1/')
		stop_vhostd
		parks=$(grep -o 'idle: [0-9].*' "$W/vhostd.log" | tr -d '\n')
		# The worker's busy cycles per packet over its life (vu-gen's
		# millions of frames outweigh the 50 of the latency runs).
		cpp=$(grep -o '[0-9.]* cycles/packet' "$W/vhostd.log" | cut -d' ' -f1)
		echo "run=$run mode=$mode idle_cpu_pct=$cpu lat_p50_us=$p50 lat_p90_us=$p90 lat_p99_us=$p99 rate_mpps=$rate cyc_per_pkt=$cpp ${parks:+($parks)}"
		echo "$mode $cpu $p50 $p90 $p99 $rate $cpp" >>"$W/rows"
	done
done
echo "medians of $RUNS runs (one vhostd worker on core 1, front-end on core 0):"
printf '%-10s %12s %12s %12s %12s %10s %12s\n' mode idle_cpu_% lat_p50_us lat_p90_us lat_p99_us rate_mpps cyc_per_pkt
for mode in $MODES; do
	col() { awk -v m="$mode" -v c="$1" '$1 == m { print $c }' "$W/rows" | median; }
	printf '%-10s %12s %12s %12s %12s %10s %12s\n' "$mode" "$(col 2)" "$(col 3)" "$(col 4)" "$(col 5)" "$(col 6)" "$(col 7)"
done
