#!/bin/sh
# A cloud-hypervisor guest on two vhostd ports.  vhost-user needs the
# guest's memory shared (shared=on); num_queues counts both directions
# (4 = 2 queue pairs).
#   vhostd: --port ch1a=vhost:/run/vhostd/main/ch1a.sock
#           --port ch1b=vhost:/run/ch/ch1b.sock,client
set -e
mkdir -p /run/ch
exec cloud-hypervisor \
	--cpus boot=2 \
	--memory size=1G,shared=on \
	--kernel ./vmlinux \
	--disk path=./focal.raw \
	--cmdline "console=ttyS0 root=/dev/vda1 rw" \
	--net "vhost_user=true,socket=/run/vhostd/main/ch1a.sock,vhost_mode=client,num_queues=4,queue_size=256,mac=52:54:00:00:00:1a" \
	      "vhost_user=true,socket=/run/ch/ch1b.sock,vhost_mode=server,num_queues=2,queue_size=256,mac=52:54:00:00:00:1b"
