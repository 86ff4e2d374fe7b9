#!/usr/bin/env bash
# Guest to guest: two guests' traffic through a switch, vhostd against
# OVS-DPDK, in the same run with the same front-ends:
#
#   guest a (virtio-user 0) <--> back-end on core 1 <--> guest b (virtio-user 1)
#
# The two guests are one dpdk-testpmd (core 0) with two virtio-user ports in
# mac forwarding: "start tx_first 32" sends a burst from each port (source
# MAC its own, destination the other guest's), and from then on what
# either port receives goes out of the other one addressed to the other
# guest, so both directions stay busy and both MACs are learned.  Mpps is
# the sum of both ports' RX rate over a window of SECONDS.  Back-ends:
#   link    vhostd --link a=b
#   bridge  vhostd --bridge br0, both ports on it (learning bridge)
#   ovs     OVS-DPDK (Debian's ovs-vswitchd-dpdk), a private ovsdb and
#           ovs-vswitchd under the work dir, a netdev bridge with the NORMAL
#           action between two dpdkvhostuser ports, its PMD on core 1
# The three pairs (a back-end and its own guests' testpmd) are all up at
# once and take turns in windows: one runs, the others are stopped
# (SIGSTOP; their rings simply wait), the order rotating from round to
# round.  This host has slow and fast spells about 2x apart lasting
# seconds; windows this short put the back-ends of a round in the same
# spell.  One row per size: medians over the rounds, and the median of
# the per-round ratios to ovs and to link.  Cycles per packet:
# vhostd's worker busy cycles over packets; OVS's "avg processing cycles
# per packet" of dpif-netdev/pmd-stats-show over the same window.  fe%:
# how busy the guests' testpmd was (--record-core-cycles: its busy cycles
# over the window); near 100 the guests, not the back-end, set the rate.
#   perf/bench_g2g.sh [--mem huge|nohuge] [BUILD_DIR] [ROUNDS] [SECONDS]
# (default huge, build 9 1; SECONDS per window).  SIZES="64 1518" and
# BACKENDS="link bridge ovs" by default (a back-end this host or build
# lacks is left out with a note).  Guest memory: huge (default) is what a deployment gives its VMs
# (and what OVS-DPDK's vhost-user ports are documented for): the guests'
# testpmd on 2 MiB pages in one file (--single-file-segments, one region);
# nohuge puts it on 4 KiB pages, where every back-end spends much of its
# time in TLB misses on the guests' buffers.  Needs root and 640 free
# 2 MiB hugepages (256 for OVS, 128 for each pair's guests; 256 with
# nohuge).
# VHOSTD_ARGS="..." adds options to both vhostd back-ends (default: none,
# so --idle is vhostd's default, wait).  A/B of two builds: VHOSTD_B=PATH
# and BACKENDS="bridge bridge-b" (or link-b): the -b back-ends run
# VHOSTD_B, and the row ends with the median per-round ratio.
set -u
export LC_ALL=C
MEM=huge
while [ $# -gt 0 ]; do
	case $1 in
	-h|--help) sed -n '2,44s/^# \{0,1\}//p' "$0"; exit 0 ;;
	--mem) MEM=$2; shift 2 ;;
	-*) echo "unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
B=${1:-build} RUNS=${2:-9} SECS=${3:-1}
SIZES=${SIZES:-64 1518} BACKENDS=${BACKENDS:-link bridge ovs}
VHOSTD_ARGS=${VHOSTD_ARGS:-}   # more vhostd options, e.g. "--idle poll"
VHOSTD_B=${VHOSTD_B:-}         # A/B: the -b back-ends' vhostd
VHOSTD=$B/control/vhostd VHOSTCTL=$B/control/vhostctl
TESTPMD=$(command -v dpdk-testpmd) || { echo "no dpdk-testpmd"; exit 77; }
OVS_VSWITCHD=${OVS_VSWITCHD:-/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk}
for x in "$VHOSTD" "$VHOSTCTL"; do [ -x "$x" ] || { echo "$x: not built"; exit 2; }; done
[ "$(id -u)" -eq 0 ] || { echo "needs root"; exit 77; }
[ ! -e /tmp/bench.running ] ||
	{ echo "/tmp/bench.running exists: someone is measuring; not now"; exit 75; }
W=$(mktemp -d /tmp/vhostd-bench-g2g.XXXXXX)
PFX=vhbench-g2g-$$
case $MEM in
huge) MEM_ARGS="-m 256 --single-file-segments" need=640 ;;
nohuge) MEM_ARGS="--no-huge -m 1024" need=256 ;;
*) echo "--mem huge|nohuge"; exit 2 ;;
esac
free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
if [ "${free:-0}" -lt $need ]; then
	echo "--mem $MEM needs $need free 2 MiB hugepages ($free free):" \
		"echo 1024 > /proc/sys/vm/nr_hugepages"
	exit 2
fi
# shellcheck source=perf/bench_lib.sh
. "$(dirname "$0")/bench_lib.sh"
MAC_A=02:00:00:00:00:0a MAC_B=02:00:00:00:00:0b
OVS_PIDS=()

ovs_down() {
	local p
	for p in "${OVS_PIDS[@]}"; do stop_pid "$p" TERM 5; done
	OVS_PIDS=()
	rm -rf "$W/ovs"
}
g2g_cleanup() { ovs_down; cleanup; }
trap g2g_cleanup EXIT
trap 'exit 130' INT TERM

# Which back-ends can run here.
have=()
for be in $BACKENDS; do
	case $be in
	link) have+=(link) ;;
	link-b|bridge-b)
		if [ -x "${VHOSTD_B:-}" ]; then have+=("$be")
		else note "$be: VHOSTD_B is not an executable; left out"; fi ;;
	bridge)
		if "$VHOSTD" --help 2>&1 | grep -q -- '--bridge'; then have+=(bridge)
		else note "bridge: this vhostd has no --bridge; left out"; fi ;;
	ovs)
		if [ -x "$OVS_VSWITCHD" ] && command -v ovsdb-server >/dev/null; then
			have+=(ovs)
		else note "ovs: $OVS_VSWITCHD or ovsdb-server missing; left out"; fi ;;
	*) echo "unknown back-end $be"; exit 2 ;;
	esac
done

# ---- back-ends: each makes $W/BE.sock.a and $W/BE.sock.b for its guests ----

be_vhostd() {   # be_vhostd link|bridge|link-b|bridge-b
	local be=$1 wiring=(--link a=b) bin=$VHOSTD
	local pa="a=vhost:$W/$1.sock.a" pb="b=vhost:$W/$1.sock.b"
	[ "${be%-b}" = "$be" ] || bin=$VHOSTD_B
	if [ "${be%-b}" = bridge ]; then
		wiring=(--bridge br0); pa+=",bridge=br0"; pb+=",bridge=br0"
	fi
	start_bg "$W/be.$be.log" "$bin" --port "$pa" --port "$pb" \
		"${wiring[@]}" --cores $BE_CORE --control "$W/ctl.$be" $VHOSTD_ARGS
	BE_PID[$be]=$BG_PID
	wait_for "$BG_PID" $START_WAIT log_has "$W/be.$be.log" "control socket"
}

ovs_vsctl() { ovs-vsctl --db="unix:$W/ovs/db.sock" --timeout=20 "$@"; }
# ovs-vswitchd's control socket: OVS_RUNDIR/PROGRAM.PID.ctl.
ovs_appctl() {
	ovs-appctl -t "$W/ovs/${OVS_VSWITCHD##*/}.$(cat "$W/ovs/vswitchd.pid").ctl" "$@"
}

be_ovs() {
	local d=$W/ovs
	mkdir -p "$d"
	export OVS_RUNDIR=$d OVS_LOGDIR=$d OVS_DBDIR=$d
	ovsdb-tool create "$d/conf.db" /usr/share/openvswitch/vswitch.ovsschema &&
		ovsdb-server "$d/conf.db" --no-chdir --unixctl="$d/ovsdb.ctl" --remote="punix:$d/db.sock" \
			--pidfile="$d/ovsdb.pid" --detach --log-file="$d/ovsdb.log" \
			2>/dev/null ||
		return 1
	OVS_PIDS+=("$(cat "$d/ovsdb.pid")")
	ovs_vsctl --no-wait init &&
		ovs_vsctl --no-wait set Open_vSwitch . other_config:dpdk-init=true \
			other_config:dpdk-socket-mem=256 other_config:dpdk-socket-limit=256 \
			other_config:dpdk-extra="--file-prefix=$PFX-ovs" \
			other_config:pmd-cpu-mask=$((1 << BE_CORE)) \
			other_config:dpdk-lcore-mask=$((1 << BE_CORE)) || return 1
	"$OVS_VSWITCHD" "unix:$d/db.sock" --pidfile="$d/vswitchd.pid" --detach --no-chdir \
		--log-file="$d/vswitchd.log" >/dev/null 2>&1 || return 1
	OVS_PIDS+=("$(cat "$d/vswitchd.pid")")
	BE_PID[ovs]=$(cat "$d/vswitchd.pid")
	ovs_vsctl add-br br0 -- set bridge br0 datapath_type=netdev &&
		ovs_vsctl add-port br0 a -- set Interface a type=dpdkvhostuser &&
		ovs_vsctl add-port br0 b -- set Interface b type=dpdkvhostuser ||
		return 1
	# The internal port stays down: floods are not copied to the host.
	ip link set br0 down 2>/dev/null
	wait_for "${BE_PID[ovs]}" $START_WAIT test -S "$d/a" &&
		wait_for "${BE_PID[ovs]}" $START_WAIT test -S "$d/b" &&
		ln -sf "$d/a" "$W/ovs.sock.a" && ln -sf "$d/b" "$W/ovs.sock.b"
}

be_up() {
	case $1 in
	link|bridge|link-b|bridge-b) be_vhostd "$1" ;;
	ovs) be_ovs ;;
	esac
}
be_down() {
	kill -CONT "${BE_PID[$1]:-}" 2>/dev/null
	if [ "$1" = ovs ]; then ovs_down
	elif [ -n "${BE_PID[$1]:-}" ]; then stop_pid "${BE_PID[$1]}" INT 10
	fi
	unset "BE_PID[$1]"
	rm -f "$W/$1.sock.a" "$W/$1.sock.b" "$W/ctl.$1"
}

# ---- each back-end's two guests: one testpmd, two virtio-user ports --------

guests_up() {   # guests_up BE SIZE
	local fd
	rm -f "$W/fe.$1.cmd"; mkfifo "$W/fe.$1.cmd"
	exec {fd}<>"$W/fe.$1.cmd"
	FE_FD[$1]=$fd
	stdbuf -oL "$TESTPMD" --no-pci $MEM_ARGS --file-prefix="$PFX-fe-$1" \
		--lcores 0@$FE_CORE,1@$FE_CORE \
		--vdev "net_virtio_user0,path=$W/$1.sock.a,queues=1,mac=$MAC_A" \
		--vdev "net_virtio_user1,path=$W/$1.sock.b,queues=1,mac=$MAC_B" \
		-- -i --total-num-mbufs=$((2 * NB_MBUFS)) --forward-mode=mac \
		--eth-peer=0,$MAC_B --eth-peer=1,$MAC_A --nb-cores=1 \
		--record-core-cycles --txpkts="$2" <"$W/fe.$1.cmd" >"$W/fe.$1.log" 2>&1 &
	FE_PID[$1]=$!
	PIDS+=("$!")
	wait_for "${FE_PID[$1]}" $START_WAIT log_has "$W/fe.$1.log" "testpmd> " ||
		return 1
	fe_cmd "$1" "start tx_first 32"
}

# fe_stop (bench_lib.sh) quits it, also when paused.

# rx_pps BE: both ports' "since last show" RX rate, summed.
rx_pps() {
	local n
	n=$(fe_replies "$1")
	fe_cmd "$1" "show port stats all"
	wait_for "${FE_PID[$1]}" 10 fe_replied "$1" $((n + 1)) || return 1
	grep -a 'Rx-pps:' "$W/fe.$1.log" | tail -n 2 | awk '{s += $2} END {print s}'
}

# be_cycles BE 1|2: the back-end's counters at a window's start or end.
be_cycles() {
	case $1 in
	link|bridge|link-b|bridge-b)
		timeout 5 "$VHOSTCTL" "$W/ctl.$1" stats >"$W/st.$1.$2" ;;
	ovs)
		if [ "$2" = 1 ]; then ovs_appctl \
				dpif-netdev/pmd-stats-clear >/dev/null
		else ovs_appctl \
				dpif-netdev/pmd-stats-show >"$W/st.ovs.2"
		fi ;;
	esac
}
cycles_of() {
	case $1 in
	link|bridge|link-b|bridge-b) vh_cycles "$W/st.$1.1" "$W/st.$1.2" ;;
	ovs) awk '/avg processing cycles per packet/ {
			gsub(/[()]/, "", $NF); c = $(NF - 1) }
		END { if (c != "") printf "%.0f", c; else print "nan" }' "$W/st.ovs.2" ;;
	esac
}

# pair_up BE SIZE: back-end and guests up, frames flowing, then paused.
pair_up() {
	local pps
	be_up "$1" && guests_up "$1" "$2" || return 1
	sleep 1
	rx_pps "$1" >/dev/null
	sleep 0.5
	pps=$(rx_pps "$1") && [ "${pps:-0}" -gt 0 ] 2>/dev/null || return 1
	pair_pause "$1"
}
pair_down() { fe_stop "$1"; be_down "$1"; }

# window BE SIZE ROUND -> "mpps cycles fe_busy%" (nan when it failed): the
# pair resumed, WARM seconds, then SECS measured, then paused again.
window() {
	local label="$2B $1 window $3" pps c fe
	pair_resume "$1"
	sleep "$WARM"
	if ! rx_pps "$1" >/dev/null || ! be_cycles "$1" 1 || ! fe_cycles "$1" "$W/fc.$1.1"; then
		pair_pause "$1"; note "FAILED $label: no stats"; echo "nan nan nan"; return
	fi
	sleep "$SECS"
	pps=$(rx_pps "$1"); be_cycles "$1" 2; fe_cycles "$1" "$W/fc.$1.2"
	pair_pause "$1"
	c=$(cycles_of "$1")
	[ -n "$pps" ] && [ "$pps" -gt 0 ] 2>/dev/null ||
		{ note "FAILED $label: no traffic"; echo "nan nan nan"; return; }
	fe=$(fe_load "$W/fc.$1.1" "$W/fc.$1.2" "$pps")
	echo "  $label: $(awk -v p="$pps" 'BEGIN {printf "%.3f", p / 1e6}') Mpps, $c cycles/packet; guests' testpmd ${fe% *} cycles/packet, busy ${fe#* }%" >&2
	awk -v p="$pps" -v c="$c" -v f="${fe#* }" 'BEGIN {printf "%.3f %s %s\n", p / 1e6, c, f}'
}

printf "%-5s" size
for be in "${have[@]}"; do printf " %10s %8s %6s" "$be Mpps" "cyc/pkt" "fe%"; done
for be in "${have[@]}"; do
	[ "$be" = ovs ] || [ "${be%-b}" != "$be" ] || printf " %10s" "$be/ovs"
done
for be in "${have[@]}"; do
	[ "$be" = bridge ] && [[ " ${have[*]} " == *" link "* ]] && printf " %12s" "bridge/link"
done
echo
for size in $SIZES; do
	up=()
	for be in "${have[@]}"; do
		: >"$W/m.$be"; : >"$W/c.$be"; : >"$W/f.$be"
		if pair_up "$be" "$size"; then up+=("$be")
		else
			note "FAILED ${size}B $be: did not start: $(tail -n 3 "$W/be.$be.log" "$W/fe.$be.log" 2>/dev/null | tr '\n' ' ')"
			pair_down "$be"
		fi
	done
	rm -f "$W"/q.*
	: >"$W/q.bridge.ovs"; : >"$W/q.link.ovs"; : >"$W/q.bridge.link"
	for ((r = 1; r <= RUNS; r++)); do
		n=${#up[@]}
		for ((i = 0; i < n; i++)); do
			be=${up[$(((i + r) % n))]}
			read -r m c f < <(window "$be" "$size" "$r")
			echo "$m" >"$W/last.$be"; echo "$m" >>"$W/m.$be"; echo "$c" >>"$W/c.$be"
			echo "$f" >>"$W/f.$be"
		done
		# Ratios within a round: windows next to each other in time.
		for a in bridge link; do
			for b in ovs link "$a-b"; do
				[ "$a" != "$b" ] && [ -f "$W/last.$a" ] && [ -f "$W/last.$b" ] &&
					echo "$(ratio "$(cat "$W/last.$a")" "$(cat "$W/last.$b")")" | tr -d x >>"$W/q.$a.$b"
			done
		done
	done
	for be in "${up[@]}"; do pair_down "$be"; done
	printf "%-5s" "$size"
	for be in "${have[@]}"; do
		printf " %10s %8s %6s" "$(median <"$W/m.$be")" "$(median <"$W/c.$be")" "$(median <"$W/f.$be")"
	done
	for be in "${have[@]}"; do
		[ "$be" = ovs ] || [ "${be%-b}" != "$be" ] && continue
		q=$(median <"$W/q.$be.ovs"); [ "$q" = nan ] || q=${q}x
		printf " %10s" "$q"
	done
	if [[ " ${have[*]} " == *" bridge "* && " ${have[*]} " == *" link "* ]]; then
		q=$(median <"$W/q.bridge.link"); [ "$q" = nan ] || q=${q}x
		printf " %12s" "$q"
	fi
	for a in bridge link; do   # A/B: this build against VHOSTD_B's
		[ -s "$W/q.$a.$a-b" ] && printf " %s/%s-b %sx" "$a" "$a" "$(median <"$W/q.$a.$a-b")"
	done
	echo
	rm -f "$W"/last.*
done
[ ! -s "$W/notes" ] || { echo; cat "$W/notes"; }
