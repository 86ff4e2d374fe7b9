#!/bin/sh
# /init of the guests qemu_soak.sh boots.  Kernel command line:
# vt_role=sink|source|pinger vt_ip=ADDR vt_peer=ADDR.
#   sink:   answer pings; take 512 KiB chunks over TCP (port 5000), one
#           connection each, printing each chunk's size and digest.
#   source: make a 512 KiB chunk, print its digest, then send it again and
#           again while pinging the sink every 50 ms, until /tmp/stop
#           exists (never) or the machine is stopped: the test reads the
#           pings from the console (one line each).
#   pinger: ping the peer every 50 ms, each reply on the console.
# Lines starting with "@@" are markers the test script reads.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp

mark() { echo "@@ $*"; }
for w in $(cat /proc/cmdline); do
	case $w in
	vt_ip=*) IP=${w#*=} ;;
	vt_peer=*) PEER=${w#*=} ;;
	vt_role=*) ROLE=${w#*=} ;;
	esac
done
for m in $(cat /modules.list); do
	insmod "/lib/modules/$m" || mark "INSMOD-FAIL $m"
done
n=0
while [ ! -e /sys/class/net/eth0 ]; do
	n=$((n + 1))
	[ $n -gt 100 ] && { mark "NO-ETH0"; poweroff -f; }
	sleep 0.1
done
ip link set lo up
ip addr add "$IP/24" dev eth0
ip link set eth0 up
mark "UP $ROLE $IP"

case $ROLE in
sink)
	mkfifo /tmp/hold
	while :; do
		timeout 300 nc -l -p 5000 <>/tmp/hold >/tmp/c || mark "NC-FAIL $?"
		sum=$(md5sum </tmp/c)
		mark "CHUNK size $(wc -c </tmp/c) md5 ${sum%% *}"
	done
	;;
source)
	dd if=/dev/urandom of=/tmp/c bs=65536 count=8 2>/dev/null
	sum=$(md5sum </tmp/c)
	mark "SRC size $(wc -c </tmp/c) md5 ${sum%% *}"
	until ping -c 1 -W 1 "$PEER" >/dev/null 2>&1; do :; done
	ping -i 0.05 "$PEER" &
	mark "STREAMING"
	n=0
	while :; do
		until timeout 120 nc "$PEER" 5000 </tmp/c 2>/dev/null; do
			sleep 0.1
		done
		n=$((n + 1))
		mark "SENT $n"
	done
	;;
pinger)
	mark "PINGING"
	while :; do
		ping -i 0.05 "$PEER"
		sleep 0.1
	done
	;;
esac
mark "BAD-ROLE $ROLE"
poweroff -f
