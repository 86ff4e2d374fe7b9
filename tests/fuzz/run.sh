#!/usr/bin/env bash
# Build the libFuzzer targets (clang, -Dfuzz=true) and run each for SECONDS
# (default 60): tests/fuzz/run.sh [SECONDS] [TARGET...]  (TARGET: vu-msg,
# vq-split, vq-packed, vnet, port-spec, conf, vu-state, listen-fds;
# default all).
# Each target starts from a copy of its seed corpus (corpus/TARGET) plus
# its regression inputs (regress/TARGET); what it finds new stays in the
# build directory, never in the tree.  Exits non-zero when any target
# reports a crash, a sanitizer error, a leak or a time-out; the input is
# kept in $FUZZ_BUILD/findings/TARGET/ (copy it to regress/TARGET/ once
# fixed).  FUZZ_BUILD: build directory (default build-fuzz).
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-60}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(vu-msg vq-split vq-packed vnet port-spec conf vu-state
	listen-fds)
build=${FUZZ_BUILD:-build-fuzz}

if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" -Dfuzz=true -Ddpdk=disabled \
		-Dinterop=disabled >/dev/null
fi
ninja -C "$build" $(printf 'tests/fuzz/fuzz-%s ' "${targets[@]}") >/dev/null

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
fail=0
for t in "${targets[@]}"; do
	work="$build/fuzz-corpus/$t" found="$build/findings/$t"
	mkdir -p "$work" "$found"
	cp -n tests/fuzz/corpus/"$t"/* "$work"/
	cp -n tests/fuzz/regress/"$t"/* "$work"/ 2>/dev/null || true
	dict=()
	[ -f tests/fuzz/"$t".dict ] && dict=(-dict=tests/fuzz/"$t".dict)
	log="$build/findings/$t.log"
	echo "== fuzz-$t: ${secs} s"
	if "$build"/tests/fuzz/fuzz-"$t" "${dict[@]}" -max_total_time="$secs" \
		-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$found"/ "$work" >"$log" 2>&1; then
		grep -E '^#[0-9]+.*DONE' "$log" | tail -1 || true
	else
		fail=1
		echo "fuzz-$t FAILED: $(grep -m1 -E 'ERROR|runtime error|left open|not inside' "$log" || tail -1 "$log")"
		echo "   log: $log; input: $(ls -t "$found"/ | head -1 | sed "s|^|$found/|")"
	fi
done
exit $fail
