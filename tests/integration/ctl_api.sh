#!/usr/bin/env bash
# The control socket as a hostile caller sees it (issue 16 part 2):
# garbage, wrong types, unknown verbs and members, huge lines, a caller
# with the wrong uid, many clients at once.  Each bad request gets
# {"ok":false,"error":...} naming what was wrong and changes nothing (the
# switch and the --config file stay byte for byte); vhostctl's exit code
# says whether it worked; vhostd keeps serving.  Then --config clashes
# and malformed files at start.
#
# Usage: ctl_api.sh VHOSTD VHOSTCTL
set -u
VHOSTD=$1 CTL=$2
CPU=$(python3 -c 'import os; print(max(os.sched_getaffinity(0)))')
WORK=$(mktemp -d /tmp/vhostd-api.XXXXXX) || exit 1
chmod 755 "$WORK"       # others may reach the socket: SO_PEERCRED decides
VPID=""
cleanup() { [ -n "$VPID" ] && kill "$VPID" 2>/dev/null; wait; rm -rf "$WORK"; }
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
die() { echo "FAIL: $*"; tail -n 20 "$WORK/vhostd.log"; exit 1; }

start_vhostd() {
	"$VHOSTD" --cores "$CPU" --control "$WORK/ctl" --config "$WORK/c.json" \
		"$@" >>"$WORK/vhostd.log" 2>&1 &
	VPID=$!
	for _ in $(seq 100); do [ -S "$WORK/ctl" ] && break; sleep 0.05; done
	[ -S "$WORK/ctl" ] || die "no control socket"
	chmod 666 "$WORK/ctl"
}
stop_vhostd() {
	kill -TERM "$VPID"; wait "$VPID"; local rc=$?; VPID=""
	[ $rc -eq 0 ] || fail "vhostd exit $rc"
}

# raw LINE: send LINE (python escapes allowed) as is, print the answer.
raw() {
	python3 - "$WORK/ctl" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
try:
    s.sendall(sys.argv[2].encode().decode('unicode_escape').encode('latin-1'))
    s.shutdown(socket.SHUT_WR)
except (BrokenPipeError, ConnectionResetError):
    pass
out = b""
while True:
    try:
        d = s.recv(65536)
    except ConnectionResetError:
        break
    if not d:
        break
    out += d
print(out.decode(errors="replace"), end="")
PY
}
# bad LINE WANT: refused, saying WANT.
bad() {
	local got err; got=$(raw "$1")
	err=$(echo "$got" | python3 -c 'import json, sys
r = json.loads(sys.stdin.readline())
assert r["ok"] is False and len(r) == 2
print(r["error"])' 2>/dev/null)
	if [ -n "$err" ] && echo "$err" | grep -qF -- "$2"; then
		echo "ok: $(echo "$1" | cut -c1-60) -> $got"
	else
		fail "$(echo "$1" | cut -c1-60): got '$got', wanted '$2'"
	fi
}

start_vhostd --port cli0=loop: --port cli1=loop:
"$CTL" "$WORK/ctl" add-bridge br0 >/dev/null || die "add-bridge"
"$CTL" "$WORK/ctl" add-port l0 loop:bridge=br0,vlan=5 || die "add-port"
before=$("$CTL" --json "$WORK/ctl" show)
conf_before=$(cat "$WORK/c.json")

bad 'garbage\n' 'not JSON'
bad '[1, 2]\n' 'not a JSON object'
bad '{"cmd": 5}\n' '"cmd" (a string) missing'
bad '{"name": "x"}\n' '"cmd" (a string) missing'
bad '{"cmd": "frobnicate"}\n' 'unknown cmd "frobnicate"'
bad '{"cmd": "add-port", "name": "x"}\n' 'add-port: "spec" missing'
bad '{"cmd": "add-port", "name": 7, "spec": "loop:"}\n' '"name" must be a string'
bad '{"cmd": "add-port", "name": "x", "spec": "loop:", "extra": 1}\n' 'unknown member "extra"'
bad '{"cmd": "add-port", "name": "x", "spec": "loop:", "name": null}\n' '"name" must be a string'
bad '{"cmd": "add-port", "name": "x\\u0000y", "spec": "loop:"}\n' 'contains a NUL'
bad '{"cmd": "add-port", "name": "x", "spec": "foo:bar"}\n' "unknown port type 'foo'"
bad '{"cmd": "add-port", "name": "x", "spec": "loop:bridge=nobr"}\n' "no bridge 'nobr'"
bad '{"cmd": "add-port", "name": "x", "spec": "vhost:"}\n' 'needs a socket path'
bad '{"cmd": "add-port", "name": "bad name", "spec": "loop:"}\n' 'must be 1-31 of'
bad '{"cmd": "add-port", "name": "cli0", "spec": "loop:"}\n' "port 'cli0' exists already (from the command line)"
bad '{"cmd": "add-bridge", "name": "b", "aging": "300"}\n' '"aging" must be an integer'
bad '{"cmd": "add-bridge", "name": "b", "aging": -5}\n' '"aging" out of range'
bad '{"cmd": "add-bridge", "name": "b", "aging": 99999999}\n' 'over 1000000'
bad '{"cmd": "add-bridge", "name": "br0"}\n' "bridge 'br0' exists already"
bad '{"cmd": "del-bridge", "name": "br0"}\n' "bridge 'br0' has ports"
bad '{"cmd": "del-bridge", "name": "nobr"}\n' "no bridge 'nobr'"
bad '{"cmd": "del-port", "name": "nope"}\n' "no port 'nope'"
bad '{"cmd": "link", "a": "cli0", "b": "nope"}\n' "link: no port 'nope'"
bad '{"cmd": "link", "a": "cli0", "b": "cli0"}\n' 'to itself'
bad '{"cmd": "link", "a": "cli0", "b": "l0"}\n' "port 'l0' is already on a bridge"
bad '{"cmd": "unlink", "name": "cli0"}\n' "port 'cli0' is not linked"
bad '{"cmd": "fdb", "bridge": "nobr"}\n' "no bridge 'nobr'"
bad '{"cmd": "log-level", "level": "loud"}\n' "log level 'loud'"
# A line longer than the socket takes: refused, the connection closed.
bad "$(python3 -c 'print("{\"cmd\":\"show\",\"x\":\"" + "A" * 100000)')" 'request longer than 4095 bytes'
bad "$(python3 -c 'print("{\"cmd\":\"show\",\"x\":\"" + "A" * 5000 + "\"}")')\n" 'request longer than 4095 bytes'

after=$("$CTL" --json "$WORK/ctl" show)
[ "$before" = "$after" ] || fail "a refused request changed the switch: $before -> $after"
[ "$conf_before" = "$(cat "$WORK/c.json")" ] || fail "a refused request rewrote the config"

# vhostctl: 0 done, 1 refused, 2 usage or unreachable.
"$CTL" "$WORK/ctl" show >/dev/null; [ $? -eq 0 ] || fail "show: exit not 0"
"$CTL" "$WORK/ctl" del-port nope 2>/dev/null; [ $? -eq 1 ] || fail "refused: exit not 1"
"$CTL" "$WORK/ctl" frobnicate 2>/dev/null; [ $? -eq 1 ] || fail "unknown verb: exit not 1"
"$CTL" "$WORK/ctl" add-port onlyname 2>/dev/null; [ $? -eq 2 ] || fail "usage: exit not 2"
"$CTL" "$WORK/nosock" show 2>/dev/null; [ $? -eq 2 ] || fail "unreachable: exit not 2"
"$CTL" --json "$WORK/ctl" del-port nope | grep -q '^{"ok":false' || fail "--json refused"
"$CTL" --json "$WORK/ctl" show | python3 -c 'import json,sys; json.load(sys.stdin)' ||
	fail "--json show is not JSON"
"$CTL" "$WORK/ctl" log-level debug || fail "log-level"
"$CTL" "$WORK/ctl" stats | grep -q '^worker id=0 ' || fail "stats records"

# Another user: refused by SO_PEERCRED, with its uid in the answer.
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" "$WORK/ctl" show 2>&1)
rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q "permission denied: uid 65534 gid 65534" ||
	fail "uid 65534: exit $rc: $out"
grep -q "control socket: refused pid [0-9]* uid 65534" "$WORK/vhostd.log" ||
	fail "the refusal was not logged"

# Many clients at once, none sending: at most 16 are held, the rest told
# busy; once they are gone vhostd answers again.
busy=$(python3 - "$WORK/ctl" <<'PY'
import socket, sys, time
socks = []
for _ in range(40):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    socks.append(s)
time.sleep(0.5)
busy = 0
for s in socks:
    s.setblocking(False)
    try:
        if b"busy" in s.recv(4096):
            busy += 1
    except BlockingIOError:
        pass
print(busy)
for s in socks:
    s.close()
PY
)
[ "$busy" -ge 24 ] || fail "40 idle clients: only $busy told busy"
sleep 0.2
"$CTL" "$WORK/ctl" show >/dev/null || fail "vhostd not answering after many clients"
stop_vhostd

# --control-group: members of the group may use the socket.
start_vhostd --control-group 65534
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" "$WORK/ctl" show 2>&1) ||
	fail "uid 65534 in --control-group refused: $out"
stop_vhostd

# --config: a port both on the command line and in the file is a clash;
# a malformed file stops vhostd at start with the reason.
"$VHOSTD" --cores "$CPU" --config "$WORK/c.json" --port l0=loop: >"$WORK/out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "port 'l0' exists already (from the command line)" "$WORK/out" ||
	fail "clash: exit $rc: $(cat "$WORK/out")"
echo '{"ports": [{"name": "x", "spec": 5}]}' >"$WORK/bad.json"
"$VHOSTD" --cores "$CPU" --config "$WORK/bad.json" >"$WORK/out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q 'ports\[0\]: "spec" is not a string' "$WORK/out" ||
	fail "bad config: exit $rc: $(cat "$WORK/out")"
echo '{"ports": [{"name": "x", "spec": "loop:bridge=nobr"}]}' >"$WORK/bad.json"
"$VHOSTD" --cores "$CPU" --config "$WORK/bad.json" >"$WORK/out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "no bridge 'nobr'" "$WORK/out" ||
	fail "config port on a missing bridge: exit $rc: $(cat "$WORK/out")"

[ $fails -eq 0 ] || { echo "FAIL: $fails case(s)"; exit 1; }
echo "PASS: every bad request refused, nothing changed, vhostd kept serving"
