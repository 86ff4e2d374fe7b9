#!/bin/sh
# /init of the guests qemu_restart.sh boots.  Kernel command line:
# vt_role=sink|source vt_ip=ADDR vt_peer=ADDR vt_secs=N [vt_tick=SECS].
#   sink:   answer pings; take 512 KiB chunks over TCP (port 5000), one
#           connection each, printing each chunk's size and digest, until
#           a chunk reading "done".
#   source: make a 512 KiB chunk, print its digest, then for vt_secs
#           seconds send it again and again while pinging the sink every
#           50 ms; print how many chunks went, the ping summary and each
#           run of lost pings (the outages), then send "done".  With
#           vt_tick, a second, quiet ping every SECS keeps frames
#           pending in both directions all the time (a back-end that comes
#           back finds work at once, whatever the stream is doing).
# Lines starting with "@@" are the markers the test script reads.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp

mark() { echo "@@ $*"; }
bye() {
	mark "CARRIER $(cat /sys/class/net/eth0/carrier_changes 2>/dev/null)"
	mark "GUEST-DONE $*"
	sync
	poweroff -f
}

for w in $(cat /proc/cmdline); do
	case $w in
	vt_ip=*) IP=${w#*=} ;;
	vt_peer=*) PEER=${w#*=} ;;
	vt_role=*) ROLE=${w#*=} ;;
	vt_secs=*) SECS=${w#*=} ;;
	vt_tick=*) TICK=${w#*=} ;;
	esac
done
for m in $(cat /modules.list); do
	insmod "/lib/modules/$m" || mark "INSMOD-FAIL $m"
done
n=0
while [ ! -e /sys/class/net/eth0 ]; do
	n=$((n + 1))
	[ $n -gt 100 ] && { mark "NO-ETH0"; bye fail; }
	sleep 0.1
done
ip link set lo up
ip addr add "$IP/24" dev eth0
ip link set eth0 up
mark "UP $ROLE $IP"

# send FILE: to the sink; refused while the sink's nc is between two
# connections, so retried.
send() {
	until timeout 120 nc "$PEER" 5000 <"$1" 2>/dev/null; do
		sleep 0.1
	done
}

case $ROLE in
sink)
	# stdin a fifo opened read-write: never EOF, so nc does not
	# half-close before the chunk is in.
	mkfifo /tmp/hold
	while :; do
		timeout 300 nc -l -p 5000 <>/tmp/hold >/tmp/c || mark "NC-FAIL $?"
		[ "$(cat /tmp/c)" = done ] && bye ok
		sum=$(md5sum </tmp/c)
		mark "CHUNK size $(wc -c </tmp/c) md5 ${sum%% *}"
	done
	;;
source)
	dd if=/dev/urandom of=/tmp/c bs=65536 count=8 2>/dev/null
	sum=$(md5sum </tmp/c)
	mark "SRC size $(wc -c </tmp/c) md5 ${sum%% *}"
	n=0
	until ping -c 1 -W 1 "$PEER" >/dev/null 2>&1; do
		n=$((n + 1))
		[ $n -gt 120 ] && { mark "PING-FAIL unreachable"; bye fail; }
	done
	ping -i 0.05 "$PEER" >/tmp/ping 2>&1 &
	pp=$!
	[ -n "${TICK:-}" ] && ping -q -i "$TICK" "$PEER" >/dev/null 2>&1 &
	mark "STREAMING"
	end=$(($(date +%s) + SECS))
	n=0
	while [ "$(date +%s)" -lt $end ]; do
		send /tmp/c
		n=$((n + 1))
	done
	mark "SENT $n"
	# Traffic after the last restart: the pings must get through again.
	sleep 2
	kill -INT $pp
	wait $pp
	mark "PING $(grep 'packets transmitted' /tmp/ping)"
	mark "GAPS $(sed -n 's/.*seq=\([0-9]*\).*/\1/p' /tmp/ping |
		awk 'NR > 1 && $1 > p + 1 { printf "%d ", $1 - p - 1 } { p = $1 }')"
	echo done >/tmp/done
	send /tmp/done
	bye ok
	;;
*)
	mark "BAD-ROLE $ROLE"
	bye fail
	;;
esac
