# shellcheck shell=bash
# Shared helpers for interop tests: a private work dir, processes tracked by
# PID and killed on exit, and waiting for a log line with a deadline.

TESTPMD=${TESTPMD:-$(command -v dpdk-testpmd || true)}
# WORK_BASE: where the work dir goes (default /tmp).
WORK=$(mktemp -d "${WORK_BASE:-/tmp}/vhostd-interop.XXXXXX")
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$WORK" /var/run/dpdk/vhostd-*-$$ 2>/dev/null
}
trap cleanup EXIT

skip() { echo "SKIP: $*"; exit 77; }
fail() {
	echo "FAIL: $*"
	for f in "$WORK"/*.log; do echo "--- $f"; tail -n 40 "$f"; done
	exit 1
}

need_testpmd() {
	[ -n "$TESTPMD" ] || skip "dpdk-testpmd not installed (Debian: dpdk-dev)"
}

# wait_for FILE REGEX SECONDS
wait_for() {
	local end=$((SECONDS + $3))
	while [ $SECONDS -lt "$end" ]; do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# wait_for_unless FILE REGEX SECONDS BADFILE BADREGEX: wait_for, but return 2
# as soon as BADREGEX shows up in BADFILE (no point waiting out the deadline).
wait_for_unless() {
	local end=$((SECONDS + $3))
	while [ $SECONDS -lt "$end" ]; do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		grep -qE "$5" "$4" 2>/dev/null && return 2
		sleep 0.1
	done
	return 1
}

# testpmd_virtio_user NAME DEVARGS: interactive testpmd with a virtio-user
# port (2 queue pairs) on CPU 1, commands read from $WORK/NAME.cmd (a fifo),
# output in NAME.log.
testpmd_virtio_user() {
	testpmd_start "$1" 0@1,1@1 "$2" --rxq=2 --txq=2
}

testpmd_cmd() { echo "$1" >&"$TP_FD"; }
testpmd_quit() { testpmd_cmd quit; exec {TP_FD}>&-; }

# testpmd_start NAME LCORES DEVARGS [TESTPMD-ARGS...]: like
# testpmd_virtio_user with the lcore map (e.g. 0@0,1@0) and testpmd's own
# arguments (after -i) given; its PID goes to TP_PID (and PIDS).
testpmd_start() {
	local name=$1 lcores=$2 devargs=$3
	shift 3
	mkfifo "$WORK/$name.cmd"
	stdbuf -oL "$TESTPMD" --no-pci --no-huge -m 512 --lcores "$lcores" \
		--file-prefix="vhostd-$name-$$" \
		--vdev "net_virtio_user0,$devargs" -- -i \
		--total-num-mbufs=4096 "$@" <"$WORK/$name.cmd" \
		>"$WORK/$name.log" 2>&1 &
	TP_PID=$!
	PIDS+=("$TP_PID")
	exec {TP_FD}>"$WORK/$name.cmd"
}

# alive PID: true while it runs (a zombie, not yet reaped, counts as gone).
alive() {
	local st
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

# wait_exit PID SECONDS: wait for a process of ours to exit (0) or give up.
wait_exit() {
	local end=$((SECONDS + $2))
	while alive "$1"; do
		[ $SECONDS -lt "$end" ] || return 1
		sleep 0.1
	done
	wait "$1" 2>/dev/null
	return 0
}

# stop_pid PID SIGNAL SECONDS: send SIGNAL, give it SECONDS to exit, then
# SIGKILL; reaped either way.
stop_pid() {
	kill -"$2" "$1" 2>/dev/null
	wait_exit "$1" "$3" && return 0
	echo "pid $1 ignored SIG$2 for $3 s: killed"
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
