# shellcheck shell=bash
# Booting Linux guests under QEMU (TCG) for interop tests: Debian's kernel
# from /boot with a busybox initramfs built at test time.  Source after
# lib.sh.  (qemu_link.sh still carries its own copy, with ethtool for its
# multiqueue case.)
#   qemu_need            skip unless QEMU, a kernel and a static busybox
#   qemu_initrd INIT     $WORK/initrd.gz: busybox, INIT as /init, the
#                        virtio-net modules (list in /modules.list)

qemu_need() {
	QEMU=$(command -v qemu-system-x86_64) ||
		skip "qemu-system-x86_64 not installed (Debian: qemu-system-x86)"
	KERNEL=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
	[ -n "$KERNEL" ] && [ -r "$KERNEL" ] ||
		skip "no readable /boot/vmlinuz-* (Debian: linux-image-amd64)"
	KVER=${KERNEL#/boot/vmlinuz-}
	MODDIR=/lib/modules/$KVER
	[ -r "$MODDIR/modules.dep" ] || skip "no $MODDIR/modules.dep for $KERNEL"
	# Static: the initramfs has no libc.  busybox also packs it.
	BUSYBOX=/bin/busybox
	if ! readelf -l "$BUSYBOX" 2>/dev/null | grep -q LOAD ||
		readelf -l "$BUSYBOX" | grep -q INTERP; then
		skip "no static $BUSYBOX (Debian: busybox-static)"
	fi
	[ "$(nproc)" -ge 2 ] || skip "needs 2 CPUs (vhostd busy-polls core 1)"
}

# qemu_mod_paths NAME...: the modules NAME and their dependencies need,
# paths relative to $MODDIR, dependencies first; built-in ones left out.
qemu_mod_paths() {
	local -A dep=() seen=()
	local line name p
	while IFS= read -r line; do
		dep[${line%%:*}]=${line#*:}
	done <"$MODDIR/modules.dep"
	emit() {
		local m=$1 d
		[ -n "${seen[$m]:-}" ] && return
		seen[$m]=1
		for d in ${dep[$m]}; do emit "$d"; done
		echo "$m"
	}
	for name in "$@"; do
		grep -qE "/$name\.ko$" "$MODDIR/modules.builtin" 2>/dev/null &&
			continue
		p=$(printf '%s\n' "${!dep[@]}" | grep -E "/$name\.ko(\.(xz|gz|zst))?$")
		[ -n "$p" ] || skip "module $name not found in $MODDIR"
		emit "$p"
	done
}

# qemu_initrd INIT: the modules decompressed (busybox insmod does not read
# .ko.xz), listed in load order in /modules.list.
qemu_initrd() {
	local root=$WORK/root p ko a
	mkdir -p "$root"/{bin,dev,proc,sys,tmp,lib/modules}
	cp "$BUSYBOX" "$root/bin/busybox"
	for a in $("$BUSYBOX" --list); do
		[ "$a" = busybox ] || ln -s busybox "$root/bin/$a"
	done
	install -m 755 "$1" "$root/init"
	: >"$root/modules.list"
	for p in $(qemu_mod_paths virtio_pci virtio_net); do
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

# chunk_counts LOG SRC: "got good", the chunks a receiving guest's console
# LOG reports and how many of them match the sender's checksum line SRC,
# from one snapshot of LOG: the guest may still be receiving, and a chunk
# landing between two reads of the live log counts in one and not the
# other.
chunk_counts() {
	local snap
	snap=$(grep -a "@@ CHUNK " "$1" | tr -d '\r')
	echo "$(grep -c "@@ CHUNK " <<<"$snap") $(grep -c "@@ CHUNK $2$" <<<"$snap")"
}
