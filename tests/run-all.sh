#!/usr/bin/env bash
# The whole test suite, as CI runs it: unit, integration and interop tests,
# once in a normal build and once under AddressSanitizer +
# UndefinedBehaviorSanitizer, then each fuzz target briefly (clang).
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

# Hugepage-backed guest memory is part of what we test: reserve a few 2 MiB
# pages and mount hugetlbfs when we may (root) and nobody did.
hugepages() {
	[ "$(id -u)" -eq 0 ] || return 0
	local nr=/proc/sys/vm/nr_hugepages
	[ -w "$nr" ] && [ "$(cat "$nr")" -lt 64 ] && echo 64 >"$nr" || true
	mkdir -p /dev/hugepages
	mountpoint -q /dev/hugepages || mount -t hugetlbfs nodev /dev/hugepages || true
	echo "== hugepages: $(cat "$nr") reserved, $(grep HugePages_Free /proc/meminfo)"
}
hugepages

run() {
	local dir=$1; shift
	echo "== $dir: meson setup $*"
	meson setup --wipe "$dir" "$@" >/dev/null 2>&1 || meson setup "$dir" "$@"
	ninja -C "$dir"
	meson test -C "$dir" --print-errorlogs --num-processes 2
}

# The release build README tells operators to make (-O3 -DNDEBUG: other
# warnings than -O2 gives, all errors): it must build; its tests are the
# normal build's.
echo "== build-release: meson setup --buildtype=release (build only)"
meson setup --wipe build-release --buildtype=release >/dev/null 2>&1 ||
	meson setup build-release --buildtype=release
ninja -C build-release
run build-test
run build-asan -Db_sanitize=address,undefined -Db_lundef=false
# The libFuzzer targets (clang, tests/fuzz/README.md), 20 s each from
# their seed corpora: any crash, sanitizer report, leak or time-out fails.
echo "== build-fuzz: fuzz targets, 20 s each"
bash tests/fuzz/run.sh 20
echo "== all test suites passed (normal and ASan+UBSan builds, fuzz targets)"
