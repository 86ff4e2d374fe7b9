#!/usr/bin/env bash
# Who may connect to the sockets vhostd creates (--socket-mode,
# --socket-group, --control-mode, --control-group), tried by real
# unprivileged users: a "qemu" user in the socket group runs a whole
# vu-gen session through vhostd, an "other" user is refused; the control
# socket is the owner's alone unless its group is given.  Bad values are
# refused with one line.  Needs root (useradd, groupadd); skipped (77)
# otherwise.
#
# Usage: socket_perm.sh VHOSTD VU_GEN VHOSTCTL
set -u
VHOSTD=$1 GEN=$2 VHOSTCTL=$3
CPU=$(python3 -c 'import os; print(max(os.sched_getaffinity(0)))')
fails=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

# expect_refused WANT ARGS...: exit 2, exactly one line, saying WANT.
expect_refused() {
	local want=$1; shift
	local out rc
	out=$(timeout 10 "$VHOSTD" --cores "$CPU" "$@" 2>&1); rc=$?
	if [ $rc -ne 2 ] || [ "$(printf '%s\n' "$out" | wc -l)" -ne 1 ] ||
	   ! grep -qF -e "$want" <<<"$out"; then
		bad "vhostd $* -> exit $rc, wanted one line with '$want': $out"
	else
		ok "$* -> $out"
	fi
}

S=/tmp/vhostd-perm-none.sock
expect_refused "--socket-group 'no-such-group-vhostd': no such group" \
	--port a=vhost:$S --socket-group no-such-group-vhostd
expect_refused "--socket-group '': not a group name or number" \
	--port a=vhost:$S --socket-group ''
expect_refused "--control-group 'no-such-group-vhostd': no such group" \
	--port a=vhost:$S --control $S.ctl --control-group no-such-group-vhostd
for m in 0800 rw-rw---- 1777 4660 66 06600 0x1b0 '' ' 660'; do
	expect_refused "--socket-mode '$m': not an octal mode" \
		--port a=vhost:$S --socket-mode "$m"
done
expect_refused "--control-mode '0999': not an octal mode" \
	--port a=vhost:$S --control $S.ctl --control-mode 0999
[ -e $S ] && bad "a refused command line left $S behind"

if [ "$(id -u)" -ne 0 ]; then
	[ $fails -eq 0 ] || exit 1
	echo "SKIP: the users part needs root (useradd)"
	exit 77
fi

TAG=vhp$$
GRP=${TAG}g QEMU=${TAG}q OTHER=${TAG}o
WORK=$(mktemp -d /tmp/vhostd-perm.XXXXXX) || exit 1
chmod 0755 "$WORK"
VPID=""
cleanup() {
	[ -n "$VPID" ] && kill "$VPID" 2>/dev/null
	wait
	userdel "$QEMU" 2>/dev/null; userdel "$OTHER" 2>/dev/null
	groupdel "$GRP" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
groupadd "$GRP" && useradd -M -N -g nogroup -G "$GRP" -s /bin/false "$QEMU" &&
	useradd -M -N -g nogroup -s /bin/false "$OTHER" ||
	{ echo "FAIL: cannot create the test users"; exit 1; }
as() { local u=$1; shift; setpriv --reuid "$u" --regid nogroup --init-groups "$@"; }

start() {
	"$VHOSTD" --cores "$CPU" --port a=vhost:"$WORK/run/vms/a.sock" \
		--reflect a --control "$WORK/c/ctl" "$@" \
		>"$WORK/vhostd.log" 2>&1 &
	VPID=$!
	for _ in $(seq 100); do
		[ -S "$WORK/c/ctl" ] && return 0
		sleep 0.05
	done
	bad "vhostd did not start: $(cat "$WORK/vhostd.log")"
	return 1
}
stop() {
	kill -TERM "$VPID"; wait "$VPID"; local rc=$?; VPID=""
	[ $rc -eq 0 ] || bad "vhostd exit $rc: $(tail -3 "$WORK/vhostd.log")"
	for d in run c; do
		[ -e "$WORK/$d" ] && bad "vhostd left $WORK/$d behind: $(ls -R "$WORK/$d")"
	done
}
# A whole session as user U: handshake, guest memory, frames reflected.
gen_as() {
	as "$1" timeout 30 "$GEN" --duration 0.3 --rate-mpps 0.05 --warmup-ms 3000 \
		--timeout 3000 "$WORK/run/vms/a.sock" >"$WORK/gen-$1.out" 2>&1
}
statmode() { stat -c '%a %G' "$1"; }

# The unit's way: the socket group given, default mode 0660.
start --socket-group "$GRP" || exit 1
[ "$(statmode "$WORK/run/vms/a.sock")" = "660 $GRP" ] &&
	ok "socket 0660 group $GRP" ||
	bad "socket is $(statmode "$WORK/run/vms/a.sock"), wanted 660 $GRP"
for d in "$WORK/run" "$WORK/run/vms"; do
	[ "$(statmode "$d")" = "750 $GRP" ] && ok "directory $d 0750 $GRP" ||
		bad "directory $d is $(statmode "$d"), wanted 750 $GRP"
done
[ "$(statmode "$WORK/c/ctl")" = "600 root" ] && ok "control socket 0600" ||
	bad "control socket is $(statmode "$WORK/c/ctl"), wanted 600 root"
[ "$(statmode "$WORK/c")" = "700 root" ] && ok "its directory 0700" ||
	bad "control directory is $(statmode "$WORK/c"), wanted 700 root"
if gen_as "$QEMU" && grep -qE '^RESULT.* loss=0 ' "$WORK/gen-$QEMU.out" &&
   ! grep -qE '^RESULT.* rx=0 ' "$WORK/gen-$QEMU.out"; then
	ok "user $QEMU (group $GRP): $(grep -o 'tx=[0-9]* rx=[0-9]*' "$WORK/gen-$QEMU.out")"
else
	bad "user $QEMU could not run a session: $(tail -3 "$WORK/gen-$QEMU.out")"
fi
if gen_as "$OTHER"; then
	bad "user $OTHER (not in $GRP) connected"
elif grep -qi 'permission denied' "$WORK/gen-$OTHER.out"; then
	ok "user $OTHER refused: $(grep -i -m1 'permission denied' "$WORK/gen-$OTHER.out")"
else
	bad "user $OTHER failed for another reason: $(tail -2 "$WORK/gen-$OTHER.out")"
fi
as "$QEMU" "$VHOSTCTL" "$WORK/c/ctl" version >/dev/null 2>&1 &&
	bad "user $QEMU used the control socket (0600)" ||
	ok "control socket refused to $QEMU"
"$VHOSTCTL" "$WORK/c/ctl" version | grep -q vhostd ||
	bad "root cannot use the control socket"
stop

# Without a group the socket is the owner's group's: the qemu user is out;
# --control-group opens the control socket to that group (0660).
start --control-group "$GRP" || exit 1
gen_as "$QEMU" && bad "user $QEMU connected to a socket of group root"
[ "$(statmode "$WORK/c/ctl")" = "660 $GRP" ] &&
	ok "control socket 0660 $GRP with --control-group" ||
	bad "control socket is $(statmode "$WORK/c/ctl")"
as "$QEMU" "$VHOSTCTL" "$WORK/c/ctl" version | grep -q vhostd &&
	ok "user $QEMU uses the control socket through its group" ||
	bad "user $QEMU cannot use the control socket"
stop

# --socket-mode 0666: anyone; the directories let everyone through.
start --socket-mode 0666 || exit 1
[ "$(stat -c %a "$WORK/run/vms")" = 755 ] || bad "directory not 0755 for 0666"
gen_as "$OTHER" && ok "user $OTHER connects to a 0666 socket" ||
	bad "user $OTHER refused by a 0666 socket: $(tail -2 "$WORK/gen-$OTHER.out")"
stop

# vhostd as a user who is not in the group it is asked to give: one line,
# exit 1, nothing left behind.
mkdir -p "$WORK/u" && chown "$OTHER" "$WORK/u"
out=$(as "$OTHER" timeout 10 "$VHOSTD" --cores "$CPU" \
	--port a=vhost:"$WORK/u/a.sock" --socket-group "$GRP" 2>&1); rc=$?
if [ $rc -eq 1 ] && grep -q "cannot listen on $WORK/u/a.sock: cannot give the socket its group" <<<"$out" &&
   [ ! -e "$WORK/u/a.sock" ]; then
	ok "unprivileged vhostd, foreign group: $(grep -m1 'cannot listen' <<<"$out")"
else
	bad "unprivileged vhostd with a foreign group: exit $rc: $out"
fi

[ $fails -eq 0 ] || { echo "FAIL: $fails case(s)"; exit 1; }
echo "PASS: socket modes and groups"
