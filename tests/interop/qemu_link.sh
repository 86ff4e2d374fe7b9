#!/usr/bin/env bash
# Two real Linux guests (QEMU, TCG) on vhostd ports a and b, linked a=b:
# guest 1 (10.0.0.1) pings guest 2 (10.0.0.2), then guest 2 sends 4 MiB of
# random data over TCP to guest 1 and guest 1 sends 4 MiB back; the digests
# printed on both serial consoles must match.  Guest 1 takes no receive
# offloads (guest_csum/guest_tso off) and guest 2 takes them all, so guest
# 2's TSO frames reach guest 1 segmented and checksummed by vhostd, and
# guest 1's reach guest 2 as they are.  The guests boot Debian's kernel with
# a busybox initramfs built here from /boot, /lib/modules and /bin/busybox.
# Guest 2's virtio-net has packed=on (VIRTIO_F_RING_PACKED) and guest 1's
# split rings, so every frame crosses from one ring format to the other.
#   qemu_link.sh VHOSTD VHOSTCTL
set -u
VHOSTD=$1 VHOSTCTL=$2
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

QEMU=$(command -v qemu-system-x86_64) || skip "qemu-system-x86_64 not installed (Debian: qemu-system-x86)"
KERNEL=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
[ -n "$KERNEL" ] && [ -r "$KERNEL" ] || skip "no readable /boot/vmlinuz-* (Debian: linux-image-amd64)"
KVER=${KERNEL#/boot/vmlinuz-}
MODDIR=/lib/modules/$KVER
[ -r "$MODDIR/modules.dep" ] || skip "no $MODDIR/modules.dep for $KERNEL"
# Static: the initramfs has no libc.  busybox also packs the initramfs.
BUSYBOX=/bin/busybox
if ! readelf -l "$BUSYBOX" 2>/dev/null | grep -q LOAD ||
	readelf -l "$BUSYBOX" | grep -q INTERP; then
	skip "no static $BUSYBOX (Debian: busybox-static)"
fi
[ "$(nproc)" -ge 2 ] || skip "needs 2 CPUs (vhostd busy-polls core 1)"

VLOG=$WORK/vhostd.log

# mod_paths NAME...: the modules NAME and their dependencies need, paths
# relative to $MODDIR, dependencies first; built-in ones are left out.
declare -A MODDEP=() MODSEEN=()
while IFS= read -r line; do
	MODDEP[${line%%:*}]=${line#*:}
done <"$MODDIR/modules.dep"
mod_emit() {
	local p=$1 d
	[ -n "${MODSEEN[$p]:-}" ] && return
	MODSEEN[$p]=1
	for d in ${MODDEP[$p]}; do mod_emit "$d"; done
	echo "$p"
}
mod_paths() {
	local name p
	for name in "$@"; do
		grep -qE "/$name\.ko$" "$MODDIR/modules.builtin" 2>/dev/null && continue
		p=$(printf '%s\n' "${!MODDEP[@]}" | grep -E "/$name\.ko(\.(xz|gz|zst))?$")
		[ -n "$p" ] || skip "module $name not found in $MODDIR"
		mod_emit "$p"
	done
}

# Build the initramfs: busybox + symlinks, /init, the virtio-net modules
# (decompressed: busybox insmod does not read .ko.xz).
build_initrd() {
	local root=$WORK/root p ko a
	mkdir -p "$root"/{bin,dev,proc,sys,tmp,lib/modules}
	cp "$BUSYBOX" "$root/bin/busybox"
	for a in $("$BUSYBOX" --list); do
		[ "$a" = busybox ] || ln -s busybox "$root/bin/$a"
	done
	install -m 755 "$HERE/qemu_init.sh" "$root/init"
	: >"$root/modules.list"
	for p in $(mod_paths virtio_pci virtio_net); do
		ko=$(basename "$p")
		case $ko in
		*.xz) "$BUSYBOX" xzcat "$MODDIR/$p" >"$root/lib/modules/${ko%.xz}" ;;
		*.gz) "$BUSYBOX" zcat "$MODDIR/$p" >"$root/lib/modules/${ko%.gz}" ;;
		*.zst) zstd -qdc "$MODDIR/$p" >"$root/lib/modules/${ko%.zst}" ;;
		*) cp "$MODDIR/$p" "$root/lib/modules/$ko" ;;
		esac || fail "cannot unpack $p"
		echo "${ko%.ko*}.ko" >>"$root/modules.list"
	done
	(cd "$root" && find . | "$BUSYBOX" cpio -o -H newc | "$BUSYBOX" gzip -1) \
		>"$WORK/initrd.gz" 2>/dev/null ||
		fail "cannot build the initramfs"
}

# guest N ROLE IP PEER SOCK OPTS: one TCG guest on vhost-user socket SOCK, its
# serial console in $WORK/gN.log.  Pinned off vhostd's busy-polling core.
# vectors=0: Debian's QEMU 7.2 crashes with MSI-X under TCG.  romfile=: no
# iPXE option ROM to initialise, the kernel is loaded directly.
guest() {
	local n=$1 role=$2 ip=$3 peer=$4 sock=$5 offl=$6
	taskset -c 0 "$QEMU" -accel tcg -smp 1 -m 256 \
		-object memory-backend-memfd,id=mem,size=256M,share=on \
		-machine q35,memory-backend=mem \
		-nodefaults -nographic -no-reboot -monitor none \
		-serial "file:$WORK/g$n.log" \
		-chardev "socket,id=c0,path=$sock" \
		-netdev vhost-user,id=n0,chardev=c0 \
		-device "virtio-net-pci,netdev=n0,mac=52:54:00:00:00:0$n,vectors=0,romfile=$offl" \
		-kernel "$KERNEL" -initrd "$WORK/initrd.gz" \
		-append "console=ttyS0 quiet panic=-1 vt_role=$role vt_ip=$ip vt_peer=$peer" \
		</dev/null >"$WORK/qemu$n.log" 2>&1 &
	PIDS+=("$!")
}

# marker FILE NAME: the text after the first "@@ NAME " on a guest console.
# Not anchored: the firmware's terminal reset shares the line with the
# first marker when the kernel is quiet.
marker() { grep -a -m1 "@@ $2 " "$1" | tr -d '\r' | sed "s/.*@@ $2 //"; }

build_initrd

"$VHOSTD" --port "a=vhost:$WORK/a.sock" --port "b=vhost:$WORK/b.sock" \
	--link a=b --cores 1 --control "$WORK/ctl.sock" --log-level "${VHOSTD_LOG_LEVEL:-info}" >"$VLOG" 2>&1 &
VPID=$!
PIDS+=("$VPID")
wait_for "$VLOG" "a: listening on" 5 || fail "vhostd did not listen on a"
wait_for "$VLOG" "b: listening on" 5 || fail "vhostd did not listen on b"

T0=$SECONDS
NO_RX_OFFLOADS=,guest_csum=off,guest_tso4=off,guest_tso6=off,guest_ecn=off,guest_ufo=off
guest 1 rx 10.0.0.1 10.0.0.2 "$WORK/a.sock" "$NO_RX_OFFLOADS"
guest 2 tx 10.0.0.2 10.0.0.1 "$WORK/b.sock" ",packed=on"

# gwait N REGEX: wait for REGEX on guest N's console, all waits sharing one
# deadline well inside meson's timeout.  Stop waiting as soon as vhostd logs
# a refused request (it then drops the front-end), a broken queue or a
# sanitizer report.
DEADLINE=$((SECONDS + 200))
VBAD='refused|broken|Sanitizer|runtime error'
gwait() {
	wait_for_unless "$WORK/g$1.log" "$2" $((DEADLINE - SECONDS)) "$VLOG" "$VBAD"
	case $? in
	0) return 0 ;;
	2) fail "vhostd: $(grep -m1 -E "$VBAD" "$VLOG")" ;;
	*) return 1 ;;
	esac
}

# A TCG boot of the stock kernel takes ~10 s; the 2 guests share one core.
for n in 1 2; do
	gwait $n "@@ (UP |GUEST-DONE)" && grep -q "@@ UP " "$WORK/g$n.log" ||
		fail "guest $n: eth0 not up"
done
gwait 1 "@@ PING-(OK|FAIL)" || fail "guest 1: ping did not finish"
grep -q "@@ PING-OK" "$WORK/g1.log" || fail "guest 1 could not ping guest 2"
gwait 1 "@@ GUEST-DONE" || fail "guest 1: receive and send did not finish"
gwait 2 "@@ GUEST-DONE" || fail "guest 2: send and receive did not finish"
grep -q "@@ TX-SENT" "$WORK/g2.log" || fail "guest 2 could not send"
grep -q "@@ BACK-SENT" "$WORK/g1.log" || fail "guest 1 could not send back"

# same_data DIR SENDER-LOG SENT RECEIVER-LOG RECEIVED: "size N md5 H" equal.
same_data() {
	local tx rx
	tx=$(marker "$2" "$3") rx=$(marker "$4" "$5")
	[[ $tx =~ ^size\ 4194304\ md5\ [0-9a-f]{32}$ ]] ||
		fail "$1: the sender did not make 4 MiB of data: '$tx'"
	[ "$rx" = "$tx" ] || fail "$1: data differs: sent '$tx', received '$rx'"
}
same_data "guest 2 -> 1" "$WORK/g2.log" TX-DATA "$WORK/g1.log" RX-DATA
same_data "guest 1 -> 2" "$WORK/g1.log" BACK-DATA "$WORK/g2.log" BACKRX-DATA
echo "guests: ping ok, 4 MiB over TCP each way ok" \
	"($((SECONDS - T0)) s from QEMU start)"

# The offloads were in play: guest 2 sent TSO frames that vhostd cut into
# segments for guest 1 (more frames arrive than were sent); guest 1's went
# to guest 2 whole.
"$VHOSTCTL" "$WORK/ctl.sock" stats | tee "$WORK/stats.txt"
grep -E "^port" "$WORK/stats.txt"
st() { grep "^queue port=$1 ring=$2 " "$WORK/stats.txt" | grep -o " $3=[0-9]*" | cut -d= -f2; }
[ "$(st b 1 forwarded)" -gt "$(st b 1 packets)" ] ||
	fail "guest 2's frames were not segmented for guest 1 (TSO not used?)"
[ "$(st b 1 drop_bad_offload)" = 0 ] && [ "$(st a 1 drop_bad_offload)" = 0 ] ||
	fail "vhostd refused offload fields from a Linux guest"

# Port b (guest 2) on packed rings, port a (guest 1) on split ones.
# (from vhostd's log: the guests have powered off by now)
feat() { grep -oE "$1: features 0x[0-9a-f]+ negotiated" "$VLOG" | tail -n 1 | grep -oE "0x[0-9a-f]+"; }
fa=$(feat a) fb=$(feat b)
[ -n "$fa" ] && [ -n "$fb" ] || fail "no negotiated features in vhostd's log"
[ $((fb >> 34 & 1))$((fa >> 34 & 1)) = 10 ] ||
	fail "RING_PACKED: port b $fb (want bit 34), port a $fa (want none)"

grep -q "broken" "$VLOG" && fail "vhostd saw a broken queue"
kill -TERM "$VPID"
wait "$VPID"; rc=$?
[ $rc -eq 0 ] || fail "vhostd exit code $rc after SIGTERM"
echo "PASS: QEMU guests linked through vhostd: ping, 4 MiB TCP each way" \
	"(one way segmented by vhostd, one way TSO passed through), digests match;" \
	"guest 2 on packed rings, guest 1 on split rings"
