#!/usr/bin/env bash
# README's two commands, taken from README.md as written: no sudo in them,
# and their first step (deploy/install-deps.sh) runs as root and as a
# normal user without calling sudo when every package is installed (a
# fresh root box or container has no sudo at all).  The rest of each
# command is the build and the test suite themselves.
#
# Usage: readme_commands.sh SOURCE_DIR
set -u
SRC=$1
fails=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

# The commands: the ```sh blocks of the "Two commands" section.
mapfile -t CMDS < <(awk '/^## Two commands/ {s = 1; next} /^## / {s = 0}
	s && /^ *```sh/ {c = 1; next} s && /^ *```/ {c = 0} s && c {sub(/^ +/, ""); print}' \
	"$SRC/README.md")
[ ${#CMDS[@]} -eq 2 ] && ok "two commands in README.md" ||
	bad "${#CMDS[@]} commands found in README.md's 'Two commands'"
for c in "${CMDS[@]}"; do
	grep -qw sudo <<<"$c" && bad "uses sudo: $c" || ok "no sudo: $c"
	case $c in
	"bash deploy/install-deps.sh && "*) ;;
	*) bad "does not start with bash deploy/install-deps.sh: $c" ;;
	esac
done

# A sudo that fails loudly, first in PATH: install-deps must not call it.
FAKE=$(mktemp -d /tmp/vhostd-readme.XXXXXX) || exit 1
USER_TMP=""
cleanup() { rm -rf "$FAKE"; [ -n "$USER_TMP" ] && userdel "$USER_TMP" 2>/dev/null; }
trap cleanup EXIT
printf '#!/bin/sh\necho "sudo called: $*" >&2\nexit 99\n' >"$FAKE/sudo"
chmod 0755 "$FAKE" "$FAKE/sudo"
deps() { (cd "$SRC" && env PATH="$FAKE:$PATH" bash deploy/install-deps.sh 2>&1); }
if [ "$(id -u)" -eq 0 ]; then
	out=$(deps); rc=$?
	[ $rc -eq 0 ] && ! grep -q 'sudo called' <<<"$out" &&
		ok "as root: $out" || bad "install-deps.sh as root: exit $rc: $out"
	USER_TMP=vhr$$
	useradd -M -N -g nogroup -s /bin/false "$USER_TMP" ||
		{ bad "useradd"; USER_TMP=""; }
	[ -n "$USER_TMP" ] && out=$(cd "$SRC" && setpriv --reuid "$USER_TMP" \
		--regid nogroup --init-groups env PATH="$FAKE:$PATH" \
		bash deploy/install-deps.sh 2>&1); rc=$?
	[ -n "$USER_TMP" ] && { [ $rc -eq 0 ] && ! grep -q 'sudo called' <<<"$out" &&
		ok "as user $USER_TMP: $out" ||
		bad "install-deps.sh as a user: exit $rc: $out"; }
else
	out=$(deps); rc=$?
	[ $rc -eq 0 ] && ! grep -q 'sudo called' <<<"$out" &&
		ok "as $(id -un): $out" || bad "install-deps.sh as $(id -un): exit $rc: $out"
fi
[ $fails -eq 0 ] || { echo "FAIL: $fails case(s)"; exit 1; }
echo "PASS: README's commands need no sudo"
