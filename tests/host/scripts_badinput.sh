#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Bad options of the scripts refuse to run: scripts/bench --only with no
# list or an unknown part, --arch with no name or an unknown one
# (scripts/setup, build, vm-run, check, bench), --page-size with no size, an
# unknown one or 64k on x86-64 (build, vm-run, check), vm-run --migrate
# on arm64 (QEMU 7.2 aborts),
# scripts/check-selftests with an unknown option or a test that
# patches/selftests does not post. Each must exit 2 with a message on
# stderr and nothing on stdout, before it installs, builds or boots
# anything. Prints TAP. Run by "make check".

top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
lines=()

for cmd in "bench --only" "bench --only foo" "bench --only qemu,bar" "bench --arch" "bench --arch foo" \
	   "setup --arch" "setup --arch foo" "build --arch" "build --arch sparc" \
	   "vm-run --arch" "vm-run --arch foo" "check --arch" "check --arch foo" \
	   "build --page-size" "build --arch arm64 --page-size 16k" "build --page-size 64k" \
	   "vm-run --arch arm64 --page-size 8k" "vm-run --page-size 64k" \
	   "check --arch arm64 --page-size" "check --page-size 64k" \
	   "vm-run --arch arm64 --migrate -- true" \
	   "check-selftests --foo" "check-selftests harness_boot"; do
	# shellcheck disable=SC2086
	timeout 60 "$top/scripts/"$cmd > "$tmp/out" 2> "$tmp/err" < /dev/null
	rc=$?
	n=$((n + 1))
	if [ "$rc" = 2 ] && [ -s "$tmp/err" ] && [ ! -s "$tmp/out" ]; then
		lines+=("ok $n scripts/$cmd is refused with a message and exit 2")
	else
		lines+=("not ok $n scripts/$cmd is refused with a message and exit 2 (exit $rc)")
		mapfile -t -O "${#lines[@]}" lines < <(head -n 5 "$tmp/err" "$tmp/out" | sed 's/^/# /')
	fi
done
echo "TAP version 13"
echo "1..$n"
printf '%s\n' "${lines[@]}"
