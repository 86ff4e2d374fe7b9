# shellcheck shell=bash
# Helpers for perf/bench.sh: processes tracked by PID and stopped with a
# deadline, bounded waits, medians that skip failed runs, and dpdk-testpmd
# as an interactive front-end (virtio-user) driven through a fifo.
# Expects B, SECS, W, PFX, MEM_ARGS, TESTPMD, VHOSTD, VHOSTCTL set.

PIDS=()
# shellcheck disable=SC2034 # tunables, used by bench.sh too
FE_CORE=0 BE_CORE=1
# The multiqueue rows: queue pairs, and the back-ends' worker cores (vhostd
# --cores; DPDK's forwarding lcores, one per listed core).
QUEUES=1 BE_CORES=1
NB_MBUFS=8192    # 2 rings of 256 + 2 mempool caches of 250, many times over
WARM=${WARM:-0.2} # seconds of traffic before a measured window
START_WAIT=30    # seconds a process or the traffic may take to start
NOISY=10         # % of a window a side may wait for its core unremarked

cleanup() {
	local p
	for p in "${PIDS[@]}"; do stop_pid "$p" KILL 0; done
	# Only our own prefixes: other testpmds may be running on this host.
	rm -rf "$W" /var/run/dpdk/"$PFX"-* /dev/hugepages/"$PFX"-*
}

# start_bg LOG CMD...: run CMD in the background, output in LOG; sets BG_PID.
start_bg() {
	local log=$1; shift
	"$@" >"$log" 2>&1 </dev/null &
	BG_PID=$!
	PIDS+=("$BG_PID")
}

# stop_pid PID SIGNAL SECONDS: signal (0: none, it is already told to
# quit), wait at most SECONDS, then SIGKILL; reaped and forgotten.
stop_pid() {
	local pid=$1 i keep=()
	kill -"$2" "$pid" 2>/dev/null
	for ((i = 0; i < $3 * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	for i in "${PIDS[@]}"; do [ "$i" = "$pid" ] || keep+=("$i"); done
	PIDS=("${keep[@]}")
}

# wait_for PID SECONDS TEST...: poll TEST every 0.1 s until it holds;
# fails after SECONDS, or at once when PID (the process that should make
# it hold) is gone.
wait_for() {
	local pid=$1 end=$((SECONDS + $2)); shift 2
	until "$@"; do
		kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $end ] || return 1
		sleep 0.1
	done
}

log_has() { grep -aq -- "$2" "$1" 2>/dev/null; }

# median: of the numbers on stdin, "nan" lines (failed runs) left out.
median() {
	grep -v nan | sort -g |
		awk '{a[NR]=$1} END {print NR ? a[int((NR+1)/2)] : "nan"}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {
	if (a == "nan" || b == "nan" || b + 0 <= 0) print "nan"
	else printf "%.2fx", a / b }'; }

kv() { grep -o " $1=[^ ]*" | head -n 1 | cut -d= -f2; }   # KEY=VALUE text

# note MSG: collected and printed after the tables (stdout is the table).
note() { echo "$*" >>"$W/notes"; }

# ---- dpdk-testpmd front-ends: virtio-user on FE_CORE, driven by fifos ---
# Each back-end has its own front-end (side: vhostd or dpdk); both pairs
# can be up at once, with one of them stopped (pair_pause).
declare -A FE_PID FE_FD BE_PID BE_FD

# fe_start SIDE SOCK MRG IN_ORDER FWD SIZE [PACKED]
fe_start() {
	local s=$1 log=$W/fe.$1.log fd
	rm -f "$W/fe.$s.cmd"; mkfifo "$W/fe.$s.cmd"
	exec {fd}<>"$W/fe.$s.cmd"   # read-write: never blocks, never EOF
	FE_FD[$s]=$fd
	stdbuf -oL "$TESTPMD" --no-pci $MEM_ARGS --file-prefix="$PFX-fe-$s" \
		--lcores 0@$FE_CORE,1@$FE_CORE \
		--vdev "net_virtio_user0,path=$2,queues=$QUEUES,packed_vq=${7:-0},mrg_rxbuf=$3,in_order=$4" \
		-- -i --total-num-mbufs=$NB_MBUFS --forward-mode="$5" \
		--rxq=$QUEUES --txq=$QUEUES --nb-cores=1 --record-core-cycles \
		--txpkts="$6" <"$W/fe.$s.cmd" >"$log" 2>&1 &
	FE_PID[$s]=$!
	PIDS+=("$!")
	wait_for "${FE_PID[$s]}" $START_WAIT log_has "$log" "testpmd> " &&
		! log_has "$log" "No probed ethernet devices"
}

fe_cmd() { echo "$2" >&"${FE_FD[$1]}"; }

# fe_cycles SIDE FILE: "CYCLES PACKETS MHZ" of a front-end testpmd started
# with --record-core-cycles so far (its forwarding lcore's busy cycles:
# polls that moved packets), into FILE.
fe_cycles() {
	local n
	n=$(grep -ac 'CPU cycles/packet=' "$W/fe.$1.log")
	fe_cmd "$1" "show fwd stats all"
	wait_for "${FE_PID[$1]}" 10 fe_cycles_replied "$1" "$n" || return 1
	grep -a 'CPU cycles/packet=' "$W/fe.$1.log" | tail -n 1 |
		sed -E 's/.*cycles=([0-9]+) \/ total [a-z]+ packets=([0-9]+)\) at ([0-9]+) MHz.*/\1 \2 \3/' \
		>"$2"
}
fe_cycles_replied() {
	[ "$(grep -ac 'CPU cycles/packet=' "$W/fe.$1.log")" -gt "$2" ]
}
# fe_load BEFORE AFTER PPS: "CYC BUSY%" between two fe_cycles: the
# front-end's cycles per packet and how much of its core it was busy
# (cycles x rate against the TSC).  A front-end busy near 100% sets the
# pair's rate: the back-end then waits for it, whatever its own cost.
fe_load() {
	awk -v pps="$3" 'FNR == 1 && NR == 1 { c = $1; p = $2; next }
		{ if ($2 > p) { cyc = ($1 - c) / ($2 - p)
			printf "%.0f %.0f", cyc, 100 * cyc * pps / ($3 * 1e6) }
		  else print "nan nan" }' "$1" "$2"
}
fe_replies() { grep -ac 'Tx-pps:' "$W/fe.$1.log"; }   # last line of a stats reply
fe_replied() { [ "$(fe_replies "$1")" -gt "$2" ]; }

fe_stop() {
	[ -n "${FE_PID[$1]:-}" ] || return 0
	kill -CONT "${FE_PID[$1]}" 2>/dev/null
	fe_cmd "$1" quit
	stop_pid "${FE_PID[$1]}" 0 10   # quits by itself, or is killed after 10 s
	exec {FE_FD[$1]}>&-
	unset "FE_PID[$1]"
	rm -rf /var/run/dpdk/"$PFX"-fe-"$1" /dev/hugepages/"$PFX"-fe-"$1"*
}

# fe_count SIDE COLUMN: "show port stats 0" and wait for the answer; prints
# "TIME PACKETS PPS" for COLUMN (RX or TX).  PPS is testpmd's "since last
# show" rate: the counter's delta over testpmd's own clock, both read at
# the same instant, so unlike TIME (when the command was sent) it carries
# no reply lag.
fe_count() {
	local n t
	n=$(fe_replies "$1")
	t=$EPOCHREALTIME
	fe_cmd "$1" "show port stats 0"
	wait_for "${FE_PID[$1]}" 10 fe_replied "$1" "$n" || return 1
	awk -v t="$t" -v c="$2" '$1 == c "-packets:" {p = $2}
		$1 == substr(c, 1, 1) tolower(substr(c, 2)) "-pps:" {r = $2}
		END {print t, p, r}' "$W/fe.$1.log"
}

# fe_flowing SIDE COLUMN: wait until the counter moves by more than a
# ring's worth in 0.5 s (the first 256 TX packets only fill the ring, even
# when the back-end never starts).
fe_flowing() {
	local end=$((SECONDS + START_WAIT)) t a b _
	read -r t a _ < <(fe_count "$1" "$2") && [ -n "$a" ] || return 1
	while [ $SECONDS -lt $end ]; do
		sleep 0.5
		read -r t b _ < <(fe_count "$1" "$2") && [ -n "$b" ] || return 1
		[ $((b - a)) -gt 1024 ] && return 0
		a=$b
	done
	return 1
}

# pair_pause SIDE / pair_resume SIDE: stop or continue a back-end and its
# front-end together (SIGSTOP: the rings simply wait), so the other pair
# has both cores to itself.
pair_pause() { kill -STOP ${FE_PID[$1]:-} ${BE_PID[$1]:-} 2>/dev/null; }
pair_resume() { kill -CONT ${BE_PID[$1]:-} ${FE_PID[$1]:-} 2>/dev/null; }

# ---- back-ends on BE_CORE, each in the role the front-end's test needs ----

# vh_wiring TEST SIZE: vhostd's role: no wiring for txonly (TX dropped as
# no_peer), a source for rxonly, reflecting for the loop.
vh_wiring() {
	case $1 in
	rxonly) echo "--source v=$2" ;;
	loop) echo "--reflect v" ;;
	esac
}

# be_vhostd SOCK TEST SIZE: log be.vhostd.log, control socket $W/ctl.
be_vhostd() {
	rm -f "$W/ctl"
	# shellcheck disable=SC2046 # the wiring is words
	start_bg "$W/be.vhostd.log" "$VHOSTD" --port "v=vhost:$1,queues=$QUEUES" \
		$(vh_wiring "$2" "$3") --cores $BE_CORES --control "$W/ctl"
	BE_PID[vhostd]=$BG_PID
	wait_for "$BG_PID" $START_WAIT log_has "$W/be.vhostd.log" "control socket"
}

# be_dpdk SOCK TEST SIZE: testpmd net_vhost, the mirror role.
be_dpdk() {
	local fwd
	if [ -n "${VHOSTD_B:-}" ]; then   # A/B of two vhostd builds
		# shellcheck disable=SC2046
		rm -f "$W/ctl.b"
		start_bg "$W/be.dpdk.log" "$VHOSTD_B" --port "v=vhost:$1,queues=$QUEUES" \
			$(vh_wiring "$2" "$3") --cores $BE_CORES --control "$W/ctl.b"
		BE_PID[dpdk]=$BG_PID
		wait_for "$BG_PID" $START_WAIT log_has "$W/be.dpdk.log" "control socket"
		return
	fi
	case $2 in
	txonly) fwd=rxonly ;;
	rxonly) fwd=txonly ;;
	loop) fwd=macswap ;;
	esac
	# Interactive, driven by a fifo like the front-ends, so that each
	# window can read its forwarding cycles: --record-core-cycles counts
	# the forwarding lcores' busy cycles and packets ("show fwd stats
	# all": "total cycles=C / total <mode> packets=P").
	# Main lcore on BE_CORE, one forwarding lcore per BE_CORES entry.
	local lc=0@$BE_CORE n=0 c fd
	for c in ${BE_CORES//,/ }; do n=$((n + 1)); lc+=",$n@$c"; done
	rm -f "$W/be.dpdk.cmd"; mkfifo "$W/be.dpdk.cmd"
	exec {fd}<>"$W/be.dpdk.cmd"
	BE_FD[dpdk]=$fd
	stdbuf -oL "$TESTPMD" --no-pci $MEM_ARGS \
		--file-prefix="$PFX-be" --lcores "$lc" \
		--vdev "net_vhost0,iface=$1,queues=$QUEUES" -- -i \
		--rxq=$QUEUES --txq=$QUEUES --nb-cores=$n \
		--total-num-mbufs=$NB_MBUFS --forward-mode=$fwd --txpkts="$3" \
		--record-core-cycles <"$W/be.dpdk.cmd" >"$W/be.dpdk.log" 2>&1 &
	BE_PID[dpdk]=$!
	PIDS+=("$!")
	wait_for "${BE_PID[dpdk]}" $START_WAIT log_has "$W/be.dpdk.log" "testpmd> " &&
		wait_for "${BE_PID[dpdk]}" $START_WAIT test -S "$1" || return 1
	echo start >&"${BE_FD[dpdk]}"
}

# be_dpdk_cycles: "CYCLES PACKETS" of testpmd's forwarding lcores so far
# (waits for the reply to "show fwd stats all").
be_dpdk_cycles() {
	local log=$W/be.dpdk.log n
	n=$(grep -ac 'CPU cycles/packet=' "$log")
	echo "show fwd stats all" >&"${BE_FD[dpdk]}"
	wait_for "${BE_PID[dpdk]}" 10 be_dpdk_replied "$n" || return 1
	grep -a 'CPU cycles/packet=' "$log" | tail -n 1 |
		sed -E 's/.*total cycles=([0-9]+) \/ total [a-z]+ packets=([0-9]+).*/\1 \2/'
}
be_dpdk_replied() {
	[ "$(grep -ac 'CPU cycles/packet=' "$W/be.dpdk.log")" -gt "$1" ]
}

# dpdk_cycles BEFORE AFTER: cycles/packet between two be_dpdk_cycles.
dpdk_cycles() {
	awk 'FNR == 1 && NR == 1 { c = $1; p = $2; next }
		{ if ($2 > p) printf "%.0f", ($1 - c) / ($2 - p); else print "nan" }' \
		"$1" "$2"
}

# be_stop SIDE
be_stop() {
	[ -n "${BE_PID[$1]:-}" ] || return 0
	kill -CONT "${BE_PID[$1]}" 2>/dev/null
	[ -z "${BE_FD[$1]:-}" ] || echo quit >&"${BE_FD[$1]}"
	stop_pid "${BE_PID[$1]}" INT 10
	[ -z "${BE_FD[$1]:-}" ] || exec {BE_FD[$1]}>&-
	unset "BE_PID[$1]" "BE_FD[$1]"
	[ "$1" = vhostd ] ||
		rm -rf /var/run/dpdk/"$PFX"-be /dev/hugepages/"$PFX"-be*
}

# sched_threads PID: "tid run_ns wait_ns" per thread; wait is time spent
# runnable but not running (someone else had the core): the noise on this
# shared host, in numbers.
sched_threads() {
	local t
	for t in /proc/"$1"/task/*; do
		echo "${t##*/} $(cut -d' ' -f1,2 "$t/schedstat" 2>/dev/null)"
	done
}

# core_share BEFORE AFTER T1 T2: "ran% waited%" of the window [T1, T2] (s)
# for the busiest thread (the poller: most run + wait time).  A poller
# that neither ran nor waited all the time was blocked (page faults...).
core_share() {
	awk -v t="$3" -v u="$4" 'FNR == NR { r[$1] = $2; w[$1] = $3; next }
		($1 in r) && $2 + $3 - r[$1] - w[$1] > best {
			best = $2 + $3 - r[$1] - w[$1]
			dr = $2 - r[$1]; dw = $3 - w[$1] }
		END { printf "%.0f %.0f", dr / 1e7 / (u - t), dw / 1e7 / (u - t) }' \
		"$1" "$2"
}

# be_features SIDE: the virtio features the back-end negotiated (hex), from
# its log.
be_features() {
	grep -aoE 'features 0x[0-9a-f]+ negotiated|Virtio features: 0x[0-9a-f]+' \
		"$W/be.$1.log" | tail -n 1 | grep -oE '0x[0-9a-f]+'
}

# vh_cycles BEFORE AFTER: vhostd's worker cycles/packet between two
# "vhostctl stats" dumps (busy cycles: passes that moved packets).
vh_cycles() {
	awk '$1 == "worker" { for (i = 2; i <= NF; i++) {
			split($i, kv, "="); v[FILENAME, kv[1]] = kv[2] } }
		END { n = v[ARGV[2], "packets"] - v[ARGV[1], "packets"]
			c = v[ARGV[2], "busy_cycles"] - v[ARGV[1], "busy_cycles"]
			if (n > 0) printf "%.0f", c / n; else print "nan" }' "$1" "$2"
}

# vh_drops BEFORE AFTER: drop_* counters that grew between two
# "vhostctl stats" dumps, as "ring=N drop_x=D ..." (empty: none).
vh_drops() {
	awk 'FNR == NR { if ($1 == "queue") for (i = 2; i <= NF; i++)
			if ($i ~ /^drop_/) { split($i, kv, "="); b[$3, kv[1]] = kv[2] }
		next }
	$1 == "queue" { s = ""
		for (i = 2; i <= NF; i++) if ($i ~ /^drop_/) {
			split($i, kv, "="); d = kv[2] - b[$3, kv[1]]
			if (d > 0) s = s " " kv[1] "=" d }
		if (s != "") printf "%s%s;", $3, s }' "$1" "$2"
}
