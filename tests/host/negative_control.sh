#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host-side checks of scripts/vm-run itself: a failing guest command must
# make it fail with the command's status, and a passing one must pass.
# Prints TAP; run by "make check".

top=$(cd "$(dirname "$0")/../.." && pwd)
vmrun() { "$top/scripts/vm-run" --no-build --quiet "$@" >/dev/null 2>&1; }
echo "TAP version 13"
echo "1..3"
n=0
check() {
	n=$((n + 1))
	if [ "$1" = "$2" ]; then
		echo "ok $n $3"
	else
		echo "not ok $n $3 (expected status $2, got $1)"
	fi
}
vmrun $VM_RUN_FLAGS -- false; check $? 1 "a failing guest command makes vm-run fail"
vmrun $VM_RUN_FLAGS -- sh -c 'exit 42'; check $? 42 "vm-run returns the guest command's status"
vmrun $VM_RUN_FLAGS --timeout 3 -- sleep 60; check $? 124 "a hanging guest is turned into a timeout failure"
