#!/bin/sh
# /init of the busybox initramfs qemu_link.sh boots in each guest.  The
# kernel command line picks the role: vt_ip=ADDR vt_peer=ADDR vt_role=rx|tx.
#   rx: ping the peer, receive one TCP stream and print its digest, then
#       send 4 MiB of its own back (port 5001).
#   tx: make 4 MiB of random data, print its digest, send it to the peer,
#       then receive the peer's stream and print its digest.
# Lines starting with "@@" are the markers the test script waits for.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp

mark() { echo "@@ $*"; }
bye() { mark "GUEST-DONE $*"; sync; poweroff -f; }

for w in $(cat /proc/cmdline); do
	case $w in
	vt_ip=*) IP=${w#*=} ;;
	vt_peer=*) PEER=${w#*=} ;;
	vt_role=*) ROLE=${w#*=} ;;
	esac
done

# Written at build time in load order (dependencies first).
for m in $(cat /modules.list); do
	insmod "/lib/modules/$m" || mark "INSMOD-FAIL $m"
done

# The NIC shows up asynchronously after the driver binds.
n=0
while [ ! -e /sys/class/net/eth0 ]; do
	n=$((n + 1))
	[ $n -gt 100 ] && { mark "NO-ETH0"; bye fail; }
	sleep 0.1
done
ip link set lo up
ip addr add "$IP/24" dev eth0
ip link set eth0 up
mark "UP $ROLE $IP mac $(cat /sys/class/net/eth0/address)" \
	"features $(cat /sys/class/net/eth0/device/features 2>/dev/null)"

PORT=5000

# send_data NAME PORT: 4 MiB of random data to the peer, digest printed
# first; the peer may not listen yet, so the connect is retried.
send_data() {
	dd if=/dev/urandom of=/tmp/tx bs=65536 count=64 2>/dev/null
	sum=$(md5sum </tmp/tx)
	mark "$1-DATA size $(wc -c </tmp/tx) md5 ${sum%% *}"
	n=0
	until timeout 120 nc "$PEER" "$2" </tmp/tx 2>/dev/null; do
		n=$((n + 1))
		[ $n -gt 180 ] && { mark "$1-FAIL"; bye fail; }
		sleep 1
	done
	mark "$1-SENT after $n retries"
}

# recv_data NAME PORT: receive one stream, print its digest.  stdin is a
# fifo opened read-write, so it never hits EOF: with </dev/null nc would
# half-close at once and the sender would stop early.
recv_data() {
	[ -p /tmp/hold ] || mkfifo /tmp/hold
	mark "LISTENING $2"
	timeout 120 nc -l -p "$2" <>/tmp/hold >/tmp/rx || mark "$1-NC-FAIL $?"
	sum=$(md5sum </tmp/rx)
	mark "$1-DATA size $(wc -c </tmp/rx) md5 ${sum%% *}"
}

case $ROLE in
rx)
	# The peer may still be booting: wait until it answers at all, then
	# require 3 of 3 replies.
	n=0
	until ping -c 1 -W 1 "$PEER" >/dev/null 2>&1; do
		n=$((n + 1))
		[ $n -gt 120 ] && { mark "PING-FAIL unreachable"; bye fail; }
	done
	# busybox ping exits 0 on any reply: check that none was lost.
	out=$(ping -c 3 -W 5 "$PEER")
	echo "$out"
	case $out in
	*"3 packets received"*) mark "PING-OK" ;;
	*) mark "PING-FAIL" ;;
	esac
	# Listen only after the ping: the sender is waiting for us.
	recv_data RX $PORT
	send_data BACK $((PORT + 1))
	bye ok
	;;
tx)
	send_data TX $PORT
	recv_data BACKRX $((PORT + 1))
	bye ok
	;;
*)
	mark "BAD-ROLE $ROLE"
	bye fail
	;;
esac
