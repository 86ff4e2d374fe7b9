#!/bin/sh
# /init of the busybox initramfs qemu_link.sh boots in each guest.  The
# kernel command line picks the role: vt_ip=ADDR vt_peer=ADDR vt_role=rx|tx
# [vt_pairs=N].
#   rx: ping the peer, receive one TCP stream and print its digest, then
#       send 4 MiB of its own back (port 5001).
#   tx: make 4 MiB of random data, print its digest, send it to the peer,
#       then receive the peer's stream and print its digest.
# With vt_pairs=N (N > 1) the guest asks for N queue pairs with
# "ethtool -L eth0 combined N" when the initramfs has ethtool (Linux uses
# min(pairs, CPUs) by default), prints how many TX queues eth0 has, and
# after the streams adds many short TCP connections, so that flows hash
# onto every pair: rx serves a file over HTTP (busybox httpd, started at
# boot) and waits for tx's "done" (port 5002); tx fetches it SPREAD times,
# checking each copy's digest, then sends "done".
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
	vt_pairs=*) PAIRS=${w#*=} ;;
	esac
done
PAIRS=${PAIRS:-1}
SPREAD=24

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
if [ "$PAIRS" -gt 1 ] && [ -x /bin/ethtool ]; then
	ethtool -L eth0 combined "$PAIRS" || mark "ETHTOOL-FAIL"
fi
ip link set lo up
ip addr add "$IP/24" dev eth0
ip link set eth0 up
mark "UP $ROLE $IP mac $(cat /sys/class/net/eth0/address)" \
	"features $(cat /sys/class/net/eth0/device/features 2>/dev/null)" \
	"txqueues $(ls -d /sys/class/net/eth0/queues/tx-* | wc -l)"
# The same file on both guests: what tx fetches must match its own copy.
if [ "$PAIRS" -gt 1 ]; then
	mkdir -p /tmp/www
	seq 1 3000 >/tmp/www/f
	WANT=$(md5sum </tmp/www/f)
	[ "$ROLE" = rx ] && httpd -p 80 -h /tmp/www
fi

PORT=5000

# send_data NAME PORT: 4 MiB of random data to the peer, digest printed
# first (send_file).
send_data() {
	dd if=/dev/urandom of=/tmp/tx bs=65536 count=64 2>/dev/null
	send_file "$1" "$2" /tmp/tx
}

# send_file NAME PORT FILE: FILE to the peer, digest printed first; the
# peer may not listen yet, so the connect is retried.
send_file() {
	sum=$(md5sum <"$3")
	mark "$1-DATA size $(wc -c <"$3") md5 ${sum%% *}"
	n=0
	until timeout 120 nc "$PEER" "$2" <"$3" 2>/dev/null; do
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

# spread: SPREAD connections to the peer's httpd, each a new socket with
# a flow hash of its own (each guest picks the TX queue from it); every copy
# must match /tmp/www/f.
spread() {
	n=0 ok=0
	while [ $n -lt $SPREAD ]; do
		n=$((n + 1))
		sum=$(timeout 30 wget -q -O - "http://$PEER/f" | md5sum)
		[ "$sum" = "$WANT" ] && ok=$((ok + 1))
	done
	mark "SPREAD $ok of $SPREAD copies intact"
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
	# httpd serves the peer until it says it is done.
	[ "$PAIRS" -gt 1 ] && recv_data DONE $((PORT + 2))
	bye ok
	;;
tx)
	send_data TX $PORT
	recv_data BACKRX $((PORT + 1))
	if [ "$PAIRS" -gt 1 ]; then
		spread
		echo "done" >/tmp/done
		send_file DONE $((PORT + 2)) /tmp/done
	fi
	bye ok
	;;
*)
	mark "BAD-ROLE $ROLE"
	bye fail
	;;
esac
