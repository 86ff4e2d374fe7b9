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
#
# With PAIRS=2 both guests get two queue pairs (-netdev vhost-user,queues=2,
# -device virtio-net-pci,mq=on): Linux enables min(pairs, CPUs) of them, so
# each guest runs "ethtool -L eth0 combined 2" (the host's ethtool and its
# libraries are copied into the initramfs; without one the guests get
# -smp 2 instead, slower under TCG).  Both must then have 2 TX queues,
# vhostd's log must show rings 2 and 3 of both ports started and enabled,
# and its counters rings 0-3 of both ports live and enabled while the
# guests run.  After the streams guest 2 fetches a file from guest 1's
# httpd over many short TCP connections (each hashed onto a TX queue of its
# own; qemu_init.sh), every copy intact, and vhostd's counters must show
# traffic on both pairs of both ports (--link joins pair i to pair i).
#
# With WIRING=bridge the two ports are members of a learning bridge
# (--bridge br0, bridge=br0) instead of linked: the same checks, and the
# bridge must have learned both guests' MACs and sent most frames to one
# known port rather than flooding them.  WIRING=api builds the same bridge
# while vhostd runs: vhostd starts with no port (--control, --config) and
# vhostctl adds br0, a and b before the guests boot.  WIRING=fd: the same,
# but a and b are vhost-fd: ports on sockets passed through vhostctl
# (fd_guest.py does what a manager does): a's a connected socket (guest 1's
# QEMU listens, the manager connects and passes its end), b's a listening
# socket the manager made (guest 2's QEMU connects to it).  Once the
# guests have powered off, a is "detached" and b "listening".
#   qemu_link.sh VHOSTD VHOSTCTL [PAIRS [WIRING]]
#     (PAIRS 1, the default, or 2; WIRING link, the default, bridge, api
#     or fd)
set -u
VHOSTD=$1 VHOSTCTL=$2 PAIRS=${3:-1} WIRING=${4:-link}
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

# ETHTOOL: the host's, put into the initramfs with the libraries ldd lists
# (and the dynamic loader) at their own paths; empty when there is none
# (ETHTOOL= in the environment forces that).
if [ -z "${ETHTOOL+set}" ]; then
	ETHTOOL=""
	for e in "$(command -v ethtool)" /usr/sbin/ethtool /sbin/ethtool; do
		[ -n "$e" ] && [ -x "$e" ] && { ETHTOOL=$e; break; }
	done
fi
[ "$PAIRS" -gt 1 ] || ETHTOOL=""
SMP=1
[ "$PAIRS" -gt 1 ] && [ -z "$ETHTOOL" ] && SMP=$PAIRS
add_ethtool() {
	local root=$1 lib
	cp "$ETHTOOL" "$root/bin/ethtool" || fail "cannot copy $ETHTOOL"
	for lib in $(ldd "$ETHTOOL" | grep -oE '/[^ ]+'); do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib" || fail "cannot copy $lib"
	done
}

# Build the initramfs: busybox + symlinks, /init, the virtio-net modules
# (decompressed: busybox insmod does not read .ko.xz), ethtool if PAIRS > 1.
build_initrd() {
	local root=$WORK/root p ko a
	mkdir -p "$root"/{bin,dev,proc,sys,tmp,lib/modules}
	cp "$BUSYBOX" "$root/bin/busybox"
	for a in $("$BUSYBOX" --list); do
		[ "$a" = busybox ] || ln -s busybox "$root/bin/$a"
	done
	install -m 755 "$HERE/qemu_init.sh" "$root/init"
	[ -z "$ETHTOOL" ] || add_ethtool "$root"
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
	local n=$1 role=$2 ip=$3 peer=$4 sock=$5 offl=$6 mq="" mqdev=""
	local chardev="socket,id=c0,path=$sock" wrap=()
	[ "$PAIRS" -gt 1 ] && mq=",queues=$PAIRS" mqdev=",mq=on"
	if [ "$WIRING" = fd ] && [ "$n" = 1 ]; then
		chardev="socket,id=c0,path=$sock,server=on"
		wrap=(python3 "$HERE/fd_guest.py" "$VHOSTCTL" "$WORK/ctl.sock"
		      a "$MEMBER" connect "$sock" --)
	elif [ "$WIRING" = fd ]; then
		wrap=(python3 "$HERE/fd_guest.py" "$VHOSTCTL" "$WORK/ctl.sock"
		      b "$MEMBER" listen "$sock" --)
	fi
	"${wrap[@]}" taskset -c 0 "$QEMU" -accel tcg -smp "$SMP" -m 256 \
		-object memory-backend-memfd,id=mem,size=256M,share=on \
		-machine q35,memory-backend=mem \
		-nodefaults -nographic -no-reboot -monitor none \
		-serial "file:$WORK/g$n.log" \
		-chardev "$chardev" \
		-netdev "vhost-user,id=n0,chardev=c0$mq" \
		-device "virtio-net-pci,netdev=n0,mac=52:54:00:00:00:0$n,vectors=0$mqdev,romfile=$offl" \
		-kernel "$KERNEL" -initrd "$WORK/initrd.gz" \
		-append "console=ttyS0 quiet panic=-1 vt_role=$role vt_ip=$ip vt_peer=$peer vt_pairs=$PAIRS" \
		</dev/null >"$WORK/qemu$n.log" 2>&1 &
	PIDS+=("$!")
}

# marker FILE NAME: the text after the first "@@ NAME " on a guest console.
# Not anchored: the firmware's terminal reset shares the line with the
# first marker when the kernel is quiet.
marker() { grep -a -m1 "@@ $2 " "$1" | tr -d '\r' | sed "s/.*@@ $2 //"; }

build_initrd

case $WIRING in
link) WIRE=(--link a=b) MEMBER="" ;;
bridge|api|fd) WIRE=(--bridge br0) MEMBER=",bridge=br0" ;;
*) fail "WIRING must be link, bridge, api or fd, not '$WIRING'" ;;
esac
if [ "$WIRING" = api ] || [ "$WIRING" = fd ]; then
	"$VHOSTD" --config "$WORK/vhostd.json" --cores 1 --control "$WORK/ctl.sock" \
		--log-level "${VHOSTD_LOG_LEVEL:-info}" >"$VLOG" 2>&1 &
else
	"$VHOSTD" --port "a=vhost:$WORK/a.sock$MEMBER" \
		--port "b=vhost:$WORK/b.sock$MEMBER" "${WIRE[@]}" --cores 1 --control "$WORK/ctl.sock" --log-level "${VHOSTD_LOG_LEVEL:-info}" >"$VLOG" 2>&1 &
fi
VPID=$!
PIDS+=("$VPID")
if [ "$WIRING" = fd ]; then
	wait_for "$VLOG" "control socket" 5 || fail "vhostd has no control socket"
	"$VHOSTCTL" "$WORK/ctl.sock" add-bridge br0 ||
		fail "vhostctl could not add the bridge"
elif [ "$WIRING" = api ]; then
	wait_for "$VLOG" "control socket" 5 || fail "vhostd has no control socket"
	"$VHOSTCTL" "$WORK/ctl.sock" add-bridge br0 &&
	"$VHOSTCTL" "$WORK/ctl.sock" add-port a "vhost:$WORK/a.sock$MEMBER" &&
	"$VHOSTCTL" "$WORK/ctl.sock" add-port b "vhost:$WORK/b.sock$MEMBER" ||
		fail "vhostctl could not build the bridge"
fi
if [ "$WIRING" != fd ]; then
	wait_for "$VLOG" "a: listening on" 5 || fail "vhostd did not listen on a"
	wait_for "$VLOG" "b: listening on" 5 || fail "vhostd did not listen on b"
fi

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

# qstat FILE PORT RING KEY: KEY of PORT's RING in vhostctl stats FILE.
qstat() {
	grep "^queue port=$2 ring=$3 " "$1" | grep -oE " $4=[0-9]+" | cut -d= -f2
}

# Every pair in use: the guests have PAIRS TX queues, and vhostd (while
# the guests run: they are busy with the streams for a while) has every
# ring of both ports live and enabled.
if [ "$PAIRS" -gt 1 ]; then
	for n in 1 2; do
		grep -a "@@ UP " "$WORK/g$n.log" | grep -q "txqueues $PAIRS" ||
			fail "guest $n: not $PAIRS TX queues:" \
				"$(marker "$WORK/g$n.log" UP)"
	done
	"$VHOSTCTL" "$WORK/ctl.sock" stats >"$WORK/stats-up.txt" ||
		fail "vhostctl stats failed"
	for p in a b; do
		for r in $(seq 0 $((2 * PAIRS - 1))); do
			grep -q "^queue port=$p ring=$r .* live=1 enabled=1 " \
				"$WORK/stats-up.txt" ||
				fail "port $p ring $r not live and enabled" \
					"with both guests up"
		done
	done
	echo "guests up with $PAIRS queue pairs$([ -n "$ETHTOOL" ] &&
		echo " (ethtool -L)" || echo " (-smp $SMP)"), every ring live" \
		"and enabled"
fi
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

if [ "$PAIRS" -gt 1 ]; then
	gwait 2 "@@ SPREAD " || fail "guest 2: the HTTP fetches did not finish"
	marker "$WORK/g2.log" SPREAD | grep -qE "^([0-9]+) of \1 copies intact" ||
		fail "guest 2: $(marker "$WORK/g2.log" SPREAD)"
	gwait 1 "@@ DONE-DATA" || fail "guest 1: no done from guest 2"
	echo "guest 2: $(marker "$WORK/g2.log" SPREAD) over HTTP from guest 1"
fi

# The offloads were in play: guest 2 sent TSO frames that vhostd cut into
# segments for guest 1 (more frames arrive than were sent); guest 1's went
# to guest 2 whole.  Counted over every pair.
"$VHOSTCTL" "$WORK/ctl.sock" stats | tee "$WORK/stats.txt"
grep -E "^port" "$WORK/stats.txt"
# st PORT KEY: KEY summed over PORT's TX rings (1, 3, ...).
st() {
	local r v sum=0
	for r in $(seq 1 2 $((2 * PAIRS - 1))); do
		v=$(qstat "$WORK/stats.txt" "$1" "$r" "$2")
		sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}
[ "$(st b forwarded)" -gt "$(st b packets)" ] ||
	fail "guest 2's frames were not segmented for guest 1 (TSO not used?)"
[ "$(st b drop_bad_offload)" = 0 ] && [ "$(st a drop_bad_offload)" = 0 ] ||
	fail "vhostd refused offload fields from a Linux guest"

# The bridge learned both guests and sent most frames to the one port
# that has the destination (the ARP requests before that were flooded).
if [ "$WIRING" != link ]; then
	bline=$(grep "^bridge name=br0 " "$WORK/stats.txt") ||
		fail "no bridge line in vhostctl stats"
	bkey() { echo "$bline" | grep -oE " $1=[0-9]+" | cut -d= -f2; }
	[ "$(bkey macs)" = 2 ] && [ "$(bkey learned)" = 2 ] ||
		fail "bridge: want 2 MACs learned: $bline"
	[ "$(bkey forwarded)" -gt $((10 * $(bkey flooded))) ] ||
		fail "bridge: too much flooding: $bline"
	echo "bridge: $bline"
fi

# Both pairs carried traffic, on both ports, and the guests enabled them
# (QEMU sends SET_VRING_ENABLE for pair 1 when the guest asks for it).
if [ "$PAIRS" -gt 1 ]; then
	for p in a b; do
		for r in $(seq 0 $((2 * PAIRS - 1))); do
			grep -q "$p: ring $r started" "$VLOG" ||
				fail "vhostd's log: port $p ring $r not started"
			grep -q "$p: ring $r enabled" "$VLOG" ||
				fail "vhostd's log: port $p ring $r never enabled"
			v=$(qstat "$WORK/stats.txt" "$p" "$r" packets)
			[ "${v:-0}" -gt 0 ] ||
				fail "port $p ring $r carried no packets"
		done
	done
	echo "every ring of both ports started, enabled and carried packets"
fi

# Port b (guest 2) on packed rings, port a (guest 1) on split ones.
# (from vhostd's log: the guests have powered off by now)
feat() { grep -oE "$1: features 0x[0-9a-f]+ negotiated" "$VLOG" | tail -n 1 | grep -oE "0x[0-9a-f]+"; }
fa=$(feat a) fb=$(feat b)
[ -n "$fa" ] && [ -n "$fb" ] || fail "no negotiated features in vhostd's log"
[ $((fb >> 34 & 1))$((fa >> 34 & 1)) = 10 ] ||
	fail "RING_PACKED: port b $fb (want bit 34), port a $fa (want none)"
# VIRTIO_NET_F_MQ (bit 22) with more than one pair.
[ $((fa >> 22 & 1))$((fb >> 22 & 1)) = $((PAIRS > 1))$((PAIRS > 1)) ] ||
	fail "MQ: ports a $fa and b $fb, want bit 22 $((PAIRS > 1))"

# The guests powered off: QEMU closed its end; the ports stay, a (its
# connected socket gone) detached, b listening on its passed socket.
if [ "$WIRING" = fd ]; then
	for ps in a:detached b:listening; do
		p=${ps%:*} want=${ps#*:}
		for _ in $(seq 50); do
			"$VHOSTCTL" --json "$WORK/ctl.sock" show |
				grep -qE "\"name\":\"$p\",[^}]*\"state\":\"$want\"" &&
				break
			sleep 0.1
		done
		"$VHOSTCTL" --json "$WORK/ctl.sock" show |
			grep -qE "\"name\":\"$p\",[^}]*\"state\":\"$want\"" ||
			fail "port $p not $want after its QEMU exited"
	done
	grep -q "a: front-end connected on passed fd" "$VLOG" &&
		grep -q "b: accepting on a passed listening socket" "$VLOG" ||
		fail "vhostd's log: a not on a connected fd or b not on a listening one"
	echo "fd ports after their QEMU exited: a detached, b listening"
fi

grep -q "broken" "$VLOG" && fail "vhostd saw a broken queue"
kill -TERM "$VPID"
wait "$VPID"; rc=$?
[ $rc -eq 0 ] || fail "vhostd exit code $rc after SIGTERM"
echo "PASS: QEMU guests $(case $WIRING in link) echo "linked through" ;;
	bridge) echo "on a bridge in" ;; api) echo "on a bridge built at run time in" ;;
	fd) echo "on passed sockets (a connected, b listening) on a bridge in" ;; esac) vhostd: ping, 4 MiB TCP each way" \
	"(one way segmented by vhostd, one way TSO passed through), digests match;" \
	"guest 2 on packed rings, guest 1 on split rings;" \
	"$([ "$PAIRS" -gt 1 ] && echo "$PAIRS queue pairs, each carrying traffic" ||
		echo "one queue pair")"
