#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host-side checks of scripts/results.sh, which turns the guest's TAP
# streams and vm-run's exit status into make check's totals: a test
# program that never reports how it ended (its guest or QEMU went away
# under it) and a failed live migration are failures, not nothing.
# Prints TAP; run by "make check". No guest.

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/host/lib/tap.sh"
. "$top/scripts/results.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Totals of count FILE as "pass fail skip".
totals() {
	pass=0 fail=0 skip=0
	count "$1"
	echo "$pass $fail $skip"
}

cat > "$tmp/done.tap" <<'TAP'
TAP version 13
1..2
# selftests: zero_page: a
# ok 1 first
# ok 2 # SKIP second
ok 1 selftests: zero_page: a
# selftests: zero_page: b
# not ok 1 third
not ok 2 selftests: zero_page: b # exit=1
TAP
got=$(totals "$tmp/done.tap")
result "$([ "$got" = "1 1 1" ] && echo 1)" \
	"finished programs: their own results count (1 1 1, got $got)"

# The stream of the arm64 migration whose QEMU aborted: the program's
# first results, then nothing.
head -n 4 "$tmp/done.tap" > "$tmp/cut.tap"
got=$(totals "$tmp/cut.tap")
result "$([ "$got" = "1 1 0" ] && echo 1)" \
	"a program cut off after its first results is one failure more (1 1 0, got $got)"

{ head -n 4 "$tmp/done.tap"; sed -n '7,$p' "$tmp/done.tap"; } > "$tmp/mid.tap"
got=$(totals "$tmp/mid.tap")
result "$([ "$got" = "1 2 0" ] && echo 1)" \
	"a program cut off before the next one starts is a failure (1 2 0, got $got)"

echo "vm-run: FAIL: migration: the monitor does not answer" > "$tmp/mig.err"
fail=0 failures=()
boot_status "boot 1" 1 "$tmp/mig.err"
result "$([ "$fail" = 1 ] && echo 1)" \
	"vm-run's status 1 after a failed migration is a failure ($fail: ${failures[*]})"

: > "$tmp/none.err"
fail=0 failures=()
boot_status "boot 1" 1 "$tmp/none.err"
result "$([ "$fail" = 0 ] && echo 1)" \
	"vm-run's status 1 of a failing command alone adds nothing to its TAP results ($fail)"

tap_print
