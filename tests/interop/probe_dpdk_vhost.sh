#!/bin/bash
# SPDX-License-Identifier: MIT
#
# probe_dpdk_vhost.sh VU_PROBE
#
# vu-probe against DPDK's vhost-user back-end (net_vhost in dpdk-testpmd,
# macswap forwarding, so it reflects).  DPDK answers some requests in ways
# the spec does not allow (README.md, "vu-probe on three back-ends"): those
# "wrong answer" rows are printed, not failed.  What fails: no table, a
# hang, a disconnect or a crash verdict, the frame not coming back, or
# testpmd gone afterwards.
#
# Exit 0 pass, 1 fail, 77 skip (no dpdk-testpmd).  DPDK_TESTPMD overrides
# the binary.
set -u

PROBE=${1:?usage: $0 VU_PROBE}
TESTPMD=${DPDK_TESTPMD:-${TESTPMD:-}}
. "$(dirname "$0")/lib.sh"
need_testpmd

log() { echo "probe_dpdk_vhost: $*"; }
SOCK=$WORK/vhost.sock
TLOG=$WORK/testpmd.log
trap 'exit 1' INT TERM

# --stats-period keeps testpmd running without a terminal on stdin.
timeout --signal=INT --kill-after=5 300 \
	stdbuf -oL -eL "$TESTPMD" --no-pci --no-huge -m 1024 \
	--lcores 0@0,1@"$(($(nproc) > 1 ? 1 : 0))" \
	--file-prefix="vhostd-probe-$$" \
	--vdev "net_vhost0,iface=$SOCK,queues=1" -- \
	--forward-mode=macswap --auto-start --stats-period 60 \
	</dev/null >"$TLOG" 2>&1 &
TP_PID=$!
PIDS+=("$TP_PID")
wait_for "$TLOG" "binding succeeded" 30 || fail "testpmd did not come up"

# The pid of timeout, which exits when testpmd does: crash detection.
"$PROBE" --timeout 15000 --pid "$TP_PID" --reflect "$SOCK" >"$WORK/probe.out" \
	2>"$WORK/probe.err"
rc=$?
cat "$WORK/probe.out"
grep -q ' checks: ' "$WORK/probe.out" || fail "vu-probe printed no table (exit $rc)"
[ $rc -le 1 ] || fail "vu-probe exit $rc"
if grep -E '  (hang|disconnect|crash)$' "$WORK/probe.out"; then
	fail "a hang, disconnect or crash verdict"
fi
grep -q '^(datapath) .*  ok$' "$WORK/probe.out" ||
	fail "the frame did not come back"
alive "$TP_PID" || fail "testpmd died"
log "DPDK's wrong answers (reported, not failed):"
grep '  wrong answer$' "$WORK/probe.out"
log "passed"
exit 0
