#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The unit tests of the user-space tools written in Rust (tools/*/Cargo.toml:
# prezerod's idle shares, run-queue counting and command line), run on the
# host from the locked, fetched crates. Prints TAP, one result per unit
# test; a tool whose tests do not build or run is one failure. Run by
# "make check".

top=$(cd "$(dirname "$0")/../.." && pwd)
export PATH="$HOME/.cargo/bin:$PATH"
cache=${ZERO_PAGE_CACHE:-$HOME/.cache/zero_page}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

n=0
lines=()
for manifest in "$top"/tools/*/Cargo.toml; do
	[ -f "$manifest" ] || continue
	name=$(basename "$(dirname "$manifest")")
	cargo test --locked --offline --manifest-path "$manifest" \
		--target-dir "$cache/cargo-target" -- --test-threads=1 \
		> "$tmp/$name.out" 2>&1
	rc=$?
	results=$(sed -n 's/^test \(.*\) \.\.\. \(ok\|FAILED\|ignored\)$/\2 \1/p' "$tmp/$name.out")
	if [ -z "$results" ]; then
		n=$((n + 1))
		lines+=("not ok $n $name: cargo test ran no test (status $rc)")
		mapfile -t -O "${#lines[@]}" lines < <(tail -n 20 "$tmp/$name.out" | sed 's/^/# /')
		continue
	fi
	while read -r result test; do
		n=$((n + 1))
		case $result in
		ok) lines+=("ok $n $name: $test") ;;
		ignored) lines+=("ok $n $name: $test # SKIP ignored") ;;
		*) lines+=("not ok $n $name: $test") ;;
		esac
	done <<< "$results"
	if [ "$rc" != 0 ] && ! grep -q FAILED <<< "$results"; then
		n=$((n + 1))
		lines+=("not ok $n $name: cargo test exited with $rc")
	fi
	[ "$rc" = 0 ] || mapfile -t -O "${#lines[@]}" lines < <(grep -v '^test .* \.\.\. ok$' \
		"$tmp/$name.out" | tail -n 40 | sed 's/^/# /')
done
echo "TAP version 13"
echo "1..$n"
printf '%s\n' "${lines[@]}"
