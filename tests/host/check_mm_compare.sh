#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host-side checks of the off/on comparison of "make check-mm": it passes
# on identical results and fails on any difference, on a test failing in
# both runs that tests/mm/known-failures does not list, on a missing
# result and on a failed check of the features. Prints TAP; run by
# "make check".

top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A run of two tests: hugetlb-mmap (result $1) and cow (result $2, with a
# failing subtest "$4" if given), then the on run's checks of the features
# (result $3, "" for none); $5 "retried": the runner retried cow after
# that subtest failed.
tap() {
	local i=0 r
	echo "TAP version 13"
	for r in "$1:hugetlb-mmap" "$2:cow"; do
		i=$((i + 1))
		echo "# selftests: mm: ${r#*:}: ./${r#*:}"
		[ "${r#*:}" = cow ] && [ -n "${4:-}" ] && echo "# not ok 3 $4"
		[ "${r#*:}" = cow ] && [ "${5:-}" = retried ] &&
			echo "# cow: exit=1, attempt 2 (timing-dependent under TCG)"
		case "${r%%:*}" in
		pass) echo "ok $i ${r#*:} # time=1s" ;;
		skip) echo "ok $i ${r#*:} # SKIP time=1s" ;;
		fail) echo "not ok $i ${r#*:} # exit=1 time=1s" ;;
		missing) ;;
		esac
	done
	for r in $3; do
		i=$((i + 1))
		echo "$([ "$r" = fail ] && echo "not ")ok $i on: check $i"
	done
}
on_ok="pass pass pass pass pass"
cmp_runs() {
	"$top/scripts/check-mm" --compare "$tmp/off" "$tmp/on" hugetlb-mmap cow \
		> /dev/null 2>&1
}

echo "TAP version 13"
echo "1..8"
n=0
check() {
	n=$((n + 1))
	if [ "$1" = "$2" ]; then echo "ok $n $3"; else echo "not ok $n $3"; fi
}
tap pass skip "" > "$tmp/off"; tap pass skip "$on_ok" > "$tmp/on"
cmp_runs; check $? 0 "identical results pass"
tap pass skip "" > "$tmp/off"; tap fail skip "$on_ok" > "$tmp/on"
cmp_runs; check $? 1 "a test failing only with the features on fails"
tap pass skip "" > "$tmp/off"; tap pass pass "$on_ok" > "$tmp/on"
cmp_runs; check $? 1 "skip off, pass on is a difference too"
tap fail skip "" > "$tmp/off"; tap fail skip "$on_ok" > "$tmp/on"
cmp_runs; check $? 1 "a failure in both runs that is no known limit fails"
tap pass skip "" > "$tmp/off"; tap pass missing "$on_ok" > "$tmp/on"
cmp_runs; check $? 1 "a missing result fails"
tap pass skip "" > "$tmp/off"; tap pass skip "pass fail pass pass pass" > "$tmp/on"
cmp_runs; check $? 1 "a failed check of the features fails"
tap pass skip "" > "$tmp/off"; tap pass skip "$on_ok" "a subtest" > "$tmp/on"
cmp_runs; check $? 1 "a subtest failing only with the features on fails"
tap pass pass "" > "$tmp/off"; tap pass pass "$on_ok" "a subtest" retried > "$tmp/on"
cmp_runs; check $? 0 "a subtest that failed only in an attempt the runner retried does not count"
