#!/usr/bin/env bash
# Hugepages for vhostd and its guests: reserve them per NUMA node, mount
# hugetlbfs, optionally make it all persistent.
#
#   deploy/hugepages.sh --status
#   deploy/hugepages.sh [--node N:COUNT[:SIZE]]... [--total COUNT[:SIZE]]
#                       [--mount] [--persist]
#
#   --node 0:1024        1024 pages of 2 MiB on node 0 (SIZE 2M or 1G)
#   --node 1:4:1G        four 1 GiB pages on node 1
#   --total 512          512 x 2 MiB, spread over the nodes by the kernel
#   --mount              hugetlbfs on /dev/hugepages (2 MiB) and, when 1 GiB
#                        pages are reserved, /dev/hugepages1G
#   --persist            also at boot: /etc/vhostd/hugepages.env for
#                        vhostd-hugepages.service (deploy/systemd), enabled
#   --status             per node and size: reserved, free, and the mounts
#
# Put the pages on the nodes where the guests' memory and vhostd's worker
# cores are (vhostd --print-placement shows both).  1 GiB pages are best
# reserved at boot (kernel command line: default_hugepagesz=1G
# hugepagesz=1G hugepages=N): later the memory may be too fragmented, and
# this script then says how many it got.
set -euo pipefail
SYS=/sys/devices/system/node
ENV_FILE=/etc/vhostd/hugepages.env
UNIT_DIR=/etc/systemd/system
SHARE=/usr/local/share/vhostd

die() { echo "hugepages.sh: $*" >&2; exit 1; }

kb_of() {
	case ${1:-2M} in
	2M|2m) echo 2048 ;;
	1G|1g) echo 1048576 ;;
	*) die "page size '$1': 2M or 1G" ;;
	esac
}

# reserve DIR COUNT: write nr_hugepages of one pool, report what came.
reserve() {
	local f=$1/nr_hugepages want=$2 got
	[ -w "$f" ] || die "$f: not writable (root? size not supported?)"
	echo "$want" >"$f"
	got=$(cat "$f")
	echo "$1: $got reserved (asked $want)"
	[ "$got" -ge "$want" ] ||
		echo "  warning: only $got: memory too fragmented; reserve at boot" >&2
}

status() {
	local n d
	for n in "$SYS"/node[0-9]*; do
		for d in "$n"/hugepages/hugepages-*; do
			[ -d "$d" ] || continue
			printf "%s %-22s reserved %6s free %6s\n" "${n##*/}" \
				"${d##*/}" "$(cat "$d/nr_hugepages")" \
				"$(cat "$d/free_hugepages")"
		done
	done
	grep -s hugetlbfs /proc/mounts || echo "no hugetlbfs mounted"
}

mount_fs() {   # mount_fs DIR PAGESIZE
	mkdir -p "$1"
	mountpoint -q "$1" || mount -t hugetlbfs -o "pagesize=$2" nodev "$1"
	echo "$1: hugetlbfs pagesize=$2"
}

ARGS=("$@") MOUNT=0 PERSIST=0 GIG=0 DID=0
[ $# -gt 0 ] || { sed -n '2,23s/^# \{0,1\}//p' "$0"; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--status) status; exit 0 ;;
	--node)
		[ $# -ge 2 ] || die "--node N:COUNT[:SIZE]"
		IFS=: read -r node count size <<<"$2"
		[[ $node =~ ^[0-9]+$ && $count =~ ^[0-9]+$ ]] ||
			die "--node '$2': N:COUNT[:SIZE]"
		[ -d "$SYS/node$node" ] ||
			die "no NUMA node $node (nodes: $(ls -d "$SYS"/node[0-9]* | sed 's|.*/node||' | tr '\n' ' '))"
		kb=$(kb_of "${size:-2M}")
		[ "$kb" = 1048576 ] && GIG=1
		reserve "$SYS/node$node/hugepages/hugepages-${kb}kB" "$count"
		DID=1
		shift 2 ;;
	--total)
		[ $# -ge 2 ] || die "--total COUNT[:SIZE]"
		IFS=: read -r count size <<<"$2"
		[[ $count =~ ^[0-9]+$ ]] || die "--total '$2': COUNT[:SIZE]"
		kb=$(kb_of "${size:-2M}")
		[ "$kb" = 1048576 ] && GIG=1
		reserve "/sys/kernel/mm/hugepages/hugepages-${kb}kB" "$count"
		DID=1
		shift 2 ;;
	--mount) MOUNT=1; shift ;;
	--persist) PERSIST=1; shift ;;
	-h|--help) sed -n '2,23s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) die "unknown argument '$1' (--help)" ;;
	esac
done
if [ $MOUNT = 1 ]; then
	mount_fs /dev/hugepages 2M
	[ $GIG = 0 ] || mount_fs /dev/hugepages1G 1G
fi
if [ $PERSIST = 1 ]; then
	[ $DID = 1 ] || die "--persist needs --node or --total"
	here=$(cd "$(dirname "$0")" && pwd)
	mkdir -p "$(dirname "$ENV_FILE")" "$SHARE"
	install -m 0755 "$here/hugepages.sh" "$SHARE/hugepages.sh"
	# The same reservation at boot, without --persist.
	printf 'HUGEPAGES_ARGS=%s\n' \
		"$(printf '%s ' "${ARGS[@]}" | sed 's/--persist //; s/ $//')" \
		>"$ENV_FILE"
	grep -q -- --mount "$ENV_FILE" || sed -i 's/$/ --mount/' "$ENV_FILE"
	# From a source tree the unit gets its paths here; installed (meson
	# install), the script finds its unit in place already.
	unit_in=$here/systemd/vhostd-hugepages.service.in
	[ ! -f "$unit_in" ] || sed "s|@pkgdatadir@|$SHARE|g" "$unit_in" \
		>"$UNIT_DIR/vhostd-hugepages.service"
	systemctl daemon-reload 2>/dev/null &&
		systemctl enable vhostd-hugepages.service 2>/dev/null ||
		echo "systemd not running: enable vhostd-hugepages.service by hand"
	echo "persistent: $ENV_FILE ($(cat "$ENV_FILE"))"
fi
