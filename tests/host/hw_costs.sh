#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tools/hw_costs (make hw-costs) on the host: it builds without warnings,
# refuses bad options with a message and exit status 2, and a short run
# (128 MiB, one run per figure) prints every table with numbers in it and
# finds every cleared byte zero (it exits 1 otherwise). Prints TAP. Run by
# "make check".

top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
lines=()

result() {	# result OK DESCRIPTION
	n=$((n + 1))
	if [ "$1" = 0 ]; then lines+=("ok $n hw_costs: $2"); else lines+=("not ok $n hw_costs: $2"); fi
}

gcc -O2 -Wall -Wextra -Werror "$top/tools/hw_costs.c" -o "$tmp/hw_costs" 2> "$tmp/cc.err"
result $? "builds with -Wall -Wextra -Werror"
if [ ! -x "$tmp/hw_costs" ]; then
	mapfile -t -O "${#lines[@]}" lines < <(sed 's/^/# /' "$tmp/cc.err")
else
	for args in "-s 3" "-s 129" "-s 12x" "-n 0" "-n 65" "-b $tmp/none" "extra" "-z"; do
		# shellcheck disable=SC2086
		"$tmp/hw_costs" $args > "$tmp/out" 2> "$tmp/err"
		rc=$?
		[ "$rc" = 2 ] && [ -s "$tmp/err" ] && [ ! -s "$tmp/out" ]
		result $? "'$args' is refused with a message and exit 2 (exit $rc)"
	done

	printf 'bench: thp-populate baseline=2s prezeroed=0.01s ratio=200 skipped=50%%\n' > "$tmp/bench.log"
	"$tmp/hw_costs" -s 128 -n 1 -b "$tmp/bench.log" > "$tmp/out" 2> "$tmp/err"
	result $? "a 128 MiB run succeeds, every cleared byte zero"
	ok=0
	for re in '^| rep stosb | .* GiB/s | .* GiB/s | .* GiB/s |$' \
		'^| movnti | .* us | .* us |$' \
		'^| THP (.*THP-mapped) | [0-9.]* s | [0-9.]* s' \
		'^| 4 KiB pages | [0-9.]* s | [0-9.]* s' \
		'^| thp-populate | 50% | [0-9.]* |$' \
		'^| 4k-populate | not in the log | |$' \
		'^| rep stosb | [0-9]* ms | [0-9]* ms | [-+][0-9]* ms |'; do
		grep -q -- "$re" "$tmp/out" || { ok=1; lines+=("# missing: $re"); }
	done
	result $ok "it prints the throughput, cache, fault-in, prediction and net-cost tables"
fi
echo "TAP version 13"
echo "1..$n"
printf '%s\n' "${lines[@]}"
