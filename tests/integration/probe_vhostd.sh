#!/bin/bash
# SPDX-License-Identifier: MIT
#
# probe_vhostd.sh VHOSTD VU_PROBE
#
# vu-probe against vhostd, both socket roles: vhostd listening (vu-probe
# connects) and vhostd in client mode (vu-probe --listen).  Every verdict
# must be "ok" or "refused as documented" (vu-probe exits 0), the frame
# must come back (--reflect), vhostd must still run afterwards, and the
# --json output must parse and agree with the table.
#
# Exit 0 pass, 1 fail.
set -u

VHOSTD=${1:?usage: $0 VHOSTD VU_PROBE}
PROBE=${2:?usage: $0 VHOSTD VU_PROBE}
WORK=$(mktemp -d /tmp/vu-probe-test.XXXXXX)
VPID=""

log() { echo "probe_vhostd: $*"; }

cleanup() {
	[ -n "$VPID" ] && kill "$VPID" 2>/dev/null && wait "$VPID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

# run_case NAME VHOSTD_PORT_SUFFIX PROBE_ARGS...
run_case() {
	local name=$1 suffix=$2 rc
	shift 2
	"$VHOSTD" --port "vm0=vhost:$WORK/$name.sock$suffix" --reflect vm0 \
		--log-level warn 2>"$WORK/$name.vhostd.log" &
	VPID=$!
	"$PROBE" --timeout 5000 --pid "$VPID" --reflect "$@" "$WORK/$name.sock" \
		>"$WORK/$name.out" 2>"$WORK/$name.err"
	rc=$?
	cat "$WORK/$name.out"
	if [ $rc -ne 0 ]; then
		log "case $name FAILED: vu-probe exit $rc"
		grep -vE '  (ok|refused as documented)$' "$WORK/$name.out"
		cat "$WORK/$name.err"
		return 1
	fi
	if ! grep -q '^(datapath) .* read back .* ok$' "$WORK/$name.out"; then
		log "case $name FAILED: the frame did not come back"
		return 1
	fi
	if ! kill -0 "$VPID" 2>/dev/null; then
		log "case $name FAILED: vhostd died"
		return 1
	fi
	kill "$VPID"
	wait "$VPID"
	VPID=""
	log "case $name passed"
}

run_case server "" || exit 1
run_case client ",client" --listen || exit 1

# --json: valid JSON, one result per table row, every verdict good.
"$VHOSTD" --port "vm0=vhost:$WORK/json.sock" --reflect vm0 \
	--log-level warn 2>"$WORK/json.vhostd.log" &
VPID=$!
"$PROBE" --timeout 5000 --json --pid "$VPID" "$WORK/json.sock" >"$WORK/json.out" \
	2>"$WORK/json.err" || { log "--json run FAILED"; cat "$WORK/json.err"; exit 1; }
python3 - "$WORK/json.out" <<'PY' || { log "--json output FAILED"; exit 1; }
import json, sys
d = json.load(open(sys.argv[1]))
good = {"ok", "refused as documented"}
assert "VIRTIO_F_VERSION_1" in d["feature_names"], d["feature_names"]
assert "REPLY_ACK" in d["protocol_feature_names"]
assert d["mem_slots"] == 509 and d["queue_num"] == 128
assert len(d["results"]) > 60, len(d["results"])
bad = [r for r in d["results"] if r["verdict"] not in good]
assert not bad, bad
PY
log "--json passed"
exit 0
