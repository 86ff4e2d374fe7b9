#!/usr/bin/env bash
# Install what vhostd needs to build and test on Debian 12 (idempotent:
# nothing is downloaded when everything is already there).
#   build:  meson ninja-build pkg-config gcc libnuma-dev libbpf-dev
#           libxdp-dev libcmocka-dev libdpdk-dev libjson-c-dev (control API,
#           config file) libmicrohttpd-dev (--metrics) libsystemd-dev (sd_notify,
#           journald, the fd store)
#   tests:  dpdk (runtime) + dpdk-dev (dpdk-testpmd), iproute2, procps,
#           qemu-system-x86 + linux-image-amd64 + busybox-static (QEMU guests),
#           numactl (the two-node QEMU guest),
#           ethtool + util-linux (setpriv) (AF_XDP port on veth)
#           systemd (systemd-analyze verify), libxml2-utils (xmllint: the
#           libvirt example), python3-prometheus-client (the
#           metrics format's parser), openvswitch-switch-dpdk (OVS-DPDK peer)
#   fuzz:   clang + libclang-rt-14-dev (libFuzzer, tests/fuzz/run.sh)
#   perf:   gnuplot-nox (bench.sh --plot)
set -euo pipefail

PKGS=(meson ninja-build pkg-config gcc libc6-dev libnuma-dev libbpf-dev
      libxdp-dev libcmocka-dev libdpdk-dev dpdk dpdk-dev iproute2 procps
      coreutils qemu-system-x86 linux-image-amd64 busybox-static gnuplot-nox
      ethtool util-linux numactl clang libclang-rt-14-dev
      libjson-c-dev libmicrohttpd-dev libsystemd-dev systemd
      python3-prometheus-client openvswitch-switch-dpdk libxml2-utils)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#PKGS[@]} packages present"
	exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
