#!/usr/bin/env bash
# `meson install` into a DESTDIR: the tree it makes, the QEMU back-end
# descriptor (QEMU's docs/interop/vhost-user.json: description, type "net",
# binary = the installed vhostd), --print-capabilities per the same schema,
# the systemd units through `systemd-analyze verify`, and the examples.
#
# Usage: install_tree.sh BUILD_DIR
set -u
BUILD=$1
D=$(mktemp -d /tmp/vhostd-destdir.XXXXXX) || exit 1
trap 'rm -rf "$D"' EXIT
fails=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

meson install -C "$BUILD" --destdir "$D" --no-rebuild --quiet ||
	{ echo "FAIL: meson install --destdir"; exit 1; }
opt() {
	meson introspect "$BUILD" --buildoptions | python3 -c '
import json, sys
print({o["name"]: o["value"] for o in json.load(sys.stdin)}[sys.argv[1]])' "$1"
}
PREFIX=$(opt prefix) BINDIR=$(opt bindir) DATADIR=$(opt datadir)
UNITDIR=$(opt systemdunitdir)
[ -n "$UNITDIR" ] || UNITDIR=$PREFIX/lib/systemd/system
case $BINDIR in /*) ;; *) BINDIR=$PREFIX/$BINDIR ;; esac
case $DATADIR in /*) ;; *) DATADIR=$PREFIX/$DATADIR ;; esac
VHOSTD=$BINDIR/vhostd
DOC=$DATADIR/doc/vhostd

# The tree: each file with its mode (vu-probe is built with json-c only).
want=11
if [ -x "$BUILD/control/vu-probe" ]; then
	want=12
	[ "$(stat -c %a "$D$BINDIR/vu-probe" 2>/dev/null)" = 755 ] ||
		bad "vu-probe not installed 0755 in $BINDIR"
fi
# The modules (the AF_XDP port; the DPDK port, the --metrics server and
# libsystemd's, built with DPDK, libmicrohttpd and libsystemd only), where
# vhostd looks for them.
LIBDIR=$(opt libdir)
case $LIBDIR in /*) ;; *) LIBDIR=$PREFIX/$LIBDIR ;; esac
for m in vhostd-afxdp.so vhostd-dpdk.so vhostd-metrics.so vhostd-systemd.so; do
	[ -f "$BUILD/control/$m" ] || continue
	want=$((want + 1))
	[ "$(stat -c %a "$D$LIBDIR/vhostd/$m" 2>/dev/null)" = 755 ] ||
		bad "$m not installed 0755 in $LIBDIR/vhostd"
done
while read -r mode f; do
	p=$D$f
	if [ ! -f "$p" ]; then
		bad "not installed: $f"
	elif [ "$(stat -c %a "$p")" != "$mode" ]; then
		bad "$f has mode $(stat -c %a "$p"), wanted $mode"
	fi
done <<LIST
755 $BINDIR/vhostd
755 $BINDIR/vhostctl
644 $UNITDIR/vhostd@.service
644 $UNITDIR/vhostd-hugepages.service
644 $DATADIR/qemu/vhost-user/50-vhostd.json
755 $DATADIR/vhostd/hugepages.sh
644 $DOC/README.md
644 $DOC/deploy.md
644 $DOC/examples/main.env
644 $DOC/examples/vm1.xml
755 $DOC/examples/cloud-hypervisor-vm1.sh
LIST
n=$(find "$D" -type f | wc -l)
[ "$n" -eq "$want" ] && ok "$want files installed" ||
	bad "$n files installed, wanted $want: $(find "$D" -type f | sed "s|^$D||")"
grep -l '@[a-z]*dir@' "$D$UNITDIR"/* "$D$DATADIR"/qemu/vhost-user/* &&
	bad "an unsubstituted @...@ left in a unit or the descriptor"

# The descriptor QEMU and libvirt read.
python3 - "$D" "$DATADIR/qemu/vhost-user/50-vhostd.json" "$VHOSTD" <<'PY' &&
import json, os, sys
d, f, binary = sys.argv[1:]
j = json.load(open(d + f))
assert set(j) == {"description", "type", "binary"}, j
assert j["type"] == "net", j
assert isinstance(j["description"], str) and j["description"], j
assert j["binary"] == binary, (j["binary"], binary)
assert os.access(d + j["binary"], os.X_OK), j["binary"]
PY
	ok "50-vhostd.json: type net, binary $VHOSTD" || bad "50-vhostd.json"

# --print-capabilities: the schema's "net" branch has no member but type;
# "other options and arguments should be ignored" (vhost-user.rst).
for args in "" "--port bogus --no-such-option x"; do
	# shellcheck disable=SC2086
	out=$("$D$VHOSTD" --print-capabilities $args); rc=$?
	if [ $rc -eq 0 ] && python3 -c '
import json, sys
assert json.loads(sys.argv[1]) == {"type": "net"}' "$out"; then
		ok "--print-capabilities ${args:+(with $args) }-> $(echo $out)"
	else
		bad "--print-capabilities $args: exit $rc: $out"
	fi
done

# The units: ExecStart names the installed binary; systemd-analyze verify
# needs the executables to exist, so it checks copies pointing into the
# DESTDIR (every other line as installed).
grep -q "^ExecStart=$VHOSTD " "$D$UNITDIR/vhostd@.service" &&
	ok "vhostd@.service runs $VHOSTD" || bad "vhostd@.service ExecStart"
grep -q "^ExecStart=$DATADIR/vhostd/hugepages.sh " \
	"$D$UNITDIR/vhostd-hugepages.service" ||
	bad "vhostd-hugepages.service ExecStart"
U=$D/verify
mkdir -p "$U"
for f in "$D$UNITDIR"/*; do
	sed "s|=$PREFIX/|=$D$PREFIX/|" "$f" >"$U/$(basename "$f")"
done
verify() { (cd "$U" && SYSTEMD_LOG_COLOR=0 systemd-analyze verify "$@" 2>&1); }
out=$(verify ./vhostd@.service ./vhostd-hugepages.service); rc=$?
[ $rc -eq 0 ] && [ -z "$out" ] && ok "systemd-analyze verify: both units clean" ||
	bad "systemd-analyze verify: exit $rc: $out"
# The same check must see a broken unit (else it proves nothing).
sed -i 's/^Restart=always/Restart=sometimes/; s/^RestartSec=0/RestartSc=1/' \
	"$U/vhostd@.service"
out=$(verify ./vhostd@.service)
grep -q "Restart" <<<"$out" && ok "verify catches a broken unit: $(head -1 <<<"$out")" ||
	bad "verify did not report a broken unit: $out"
for k in Type=notify Restart=always RestartSec=0 Nice=-10 FileDescriptorStoreMax=512 \
	 RuntimeDirectory=vhostd/%i EnvironmentFile=/etc/vhostd/%i.env \
	 DefaultInstance=main; do
	grep -qx "$k" "$D$UNITDIR/vhostd@.service" || bad "vhostd@.service lacks $k"
done

# The examples parse.
xmllint --noout "$D$DOC/examples/vm1.xml" && ok "vm1.xml well-formed" ||
	bad "vm1.xml"
sh -n "$D$DOC/examples/cloud-hypervisor-vm1.sh" || bad "cloud-hypervisor-vm1.sh"
grep -q '^VHOSTD_ARGS=--port ' "$D$DOC/examples/main.env" || bad "main.env"

[ $fails -eq 0 ] || { echo "FAIL: $fails case(s)"; exit 1; }
echo "PASS: the installed tree"
