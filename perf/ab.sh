#!/usr/bin/env bash
# A/B two vhostd binaries on the same host state: runs alternate A, B, A, B
# (vhostd --reflect on core 1, vu-gen on core 0, guest memory on 2 MiB
# pages), each printing rx Mpps and vhostd's cycles/packet.  The host here
# switches between states about 2x apart, so compare the best and the
# median of each side, never single runs.
#   perf/ab.sh VHOSTD_A VHOSTD_B [PAIRS] [SIZE] [vu-gen options...]
set -u
A=$1 B=$2 N=${3:-5} SIZE=${4:-64}
shift $(($# < 4 ? $# : 4))
EXTRA=("$@")
GEN=$(dirname "$0")/../build/perf/vu-gen
[ -x "$GEN" ] || { echo "build vu-gen first (build/perf/vu-gen)"; exit 2; }
W=$(mktemp -d /tmp/vhostd-ab.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; wait; rm -rf "$W"' EXIT

run() {   # run BINARY -> "mpps cycles"
	"$1" --port v=vhost:"$W/v.sock" --reflect v --cores 1 2>"$W/v.log" &
	local pid=$!
	sleep 0.3
	"$GEN" --duration 2 --size "$SIZE" --hugepages --core 0 "${EXTRA[@]}" \
		"$W/v.sock" >"$W/g.out" 2>&1
	kill "$pid"; wait "$pid"
	echo "$(grep -o 'rx_mpps=[0-9.]*' "$W/g.out" | cut -d= -f2)" \
	     "$(grep -o '[0-9.]* cycles/packet' "$W/v.log" | cut -d' ' -f1)"
}

for _ in $(seq "$N"); do
	echo "A $(run "$A")"; echo "B $(run "$B")"
done | tee "$W/all"
for s in A B; do
	grep "^$s " "$W/all" | awk '{print $3}' | sort -g |
		awk -v s="$s" '{a[NR]=$1} END {printf "%s: best %s, median %s cycles/packet\n", s, a[1], a[int((NR+1)/2)]}'
done
