#!/usr/bin/env bash
# Where the guests' testpmd spends its cycles, under one back-end.
#   perf/fe_prof.sh BUILD_DIR link|bridge|dpdk [SECONDS] [FWD] [SIZE]
# Two guests (one dpdk-testpmd with two virtio-user ports, core 0, FWD
# forwarding, default mac, "start tx_first 32") through a back-end on
# core 1: vhostd --link, vhostd's bridge, or DPDK's net_vhost in io
# forwarding.  Prints the guests' Mpps and testpmd's own cycles per packet
# (--record-core-cycles), and `perf record` of the guests' forwarding
# lcore for SECONDS, by DSO and address (Debian's DPDK has no symbols:
# objdump -d the DSO at the address).  PERF_OFF=1: no perf.  Root, 2 MiB
# hugepages (256 free).  The same two-guest set-up as bench_g2g.sh, one
# back-end at a time: for profiles, not for figures to compare.
set -u
B=$1 BE=$2 SECS=${3:-4} FWD=${4:-mac} SIZE=${5:-64}
W=$(mktemp -d /tmp/fe_prof.XXXXXX)
MA=02:00:00:00:00:0a MB=02:00:00:00:00:0b
FE='' BEP=''
cleanup() {
	kill $FE $BEP 2>/dev/null; sleep 1; kill -9 $FE $BEP 2>/dev/null
	rm -rf /dev/hugepages/feprof-* "$W"
}
trap cleanup EXIT
case $BE in
link)	"$B/control/vhostd" --port a=vhost:$W/a.sock --port b=vhost:$W/b.sock \
		--link a=b --cores 1 --control $W/ctl >$W/be.log 2>&1 & BEP=$! ;;
bridge)	"$B/control/vhostd" --bridge br0 --port a=vhost:$W/a.sock,bridge=br0 \
		--port b=vhost:$W/b.sock,bridge=br0 --cores 1 --control $W/ctl \
		>$W/be.log 2>&1 & BEP=$! ;;
dpdk)	mkfifo $W/be.in; exec 8<>$W/be.in
	dpdk-testpmd --no-pci -m 256 --single-file-segments --file-prefix=feprof-be \
		--lcores 0@1,1@1 --vdev net_vhost0,iface=$W/a.sock \
		--vdev net_vhost1,iface=$W/b.sock -- --forward-mode=io \
		--nb-cores=1 <&8 >$W/be.log 2>&1 & BEP=$! ;;
*)	echo "back-end: link, bridge or dpdk" >&2; exit 2 ;;
esac
for i in $(seq 50); do [ -S $W/a.sock ] && [ -S $W/b.sock ] && break; sleep 0.1; done
mkfifo $W/fe.in; exec 7<>$W/fe.in
stdbuf -oL dpdk-testpmd --no-pci -m 256 --single-file-segments --file-prefix=feprof-fe \
	--lcores 0@0,1@0 --vdev net_virtio_user0,path=$W/a.sock,queues=1,mac=$MA \
	--vdev net_virtio_user1,path=$W/b.sock,queues=1,mac=$MB -- -i \
	--forward-mode=$FWD --eth-peer=0,$MB --eth-peer=1,$MA --nb-cores=1 \
	--record-core-cycles --txpkts=$SIZE <&7 >$W/fe.log 2>&1 & FE=$!
for i in $(seq 100); do grep -q 'testpmd> ' $W/fe.log && break; sleep 0.1; done
echo "start tx_first 32" >&7
sleep 2
# The forwarding lcore: the guests' testpmd thread rte-worker-1.
TID=$(ps -T -p $FE -o tid=,comm= | awk '$2 == "rte-worker-1" {print $1}' | tail -n 1)
echo "show port stats all" >&7; sleep 0.3
if [ -z "${PERF_OFF:-}" ]; then
	perf record -q -o $W/perf.data -t $TID -- sleep $SECS 2>/dev/null
else
	sleep $SECS
fi
echo "show port stats all" >&7; echo "show fwd stats all" >&7; sleep 0.5
grep -a 'Rx-pps' $W/fe.log | tail -n 2 | awk '{s+=$2} END {printf "guests: %.3f Mpps\n", s/1e6}'
grep -a 'CPU cycles/packet' $W/fe.log | tail -n 1 | sed 's/^ */guests: /'
[ -n "${PERF_OFF:-}" ] || perf report -i $W/perf.data --stdio --sort dso,sym 2>/dev/null |
	grep -E '^ +[0-9]' | head -n "${TOP:-12}"
