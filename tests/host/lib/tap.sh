# SPDX-License-Identifier: GPL-2.0
#
# TAP helpers of the host-side checks in tests/host/ (sourced, not run:
# scripts/check runs only tests/host/*.sh). Collect the results first, so
# that the plan ("1..N") can come before them:
#
#   result OK DESCRIPTION [FILE...]   OK is 1 (ok), skip (ok # SKIP) or
#                                     anything else (not ok, with the first
#                                     lines of each FILE as comments)
#   tap_print                         the stream: version, plan, results

n=0
lines=()

result() {
	local ok=$1 desc=$2
	shift 2
	n=$((n + 1))
	if [ "$ok" = 1 ]; then
		lines+=("ok $n $desc")
	elif [ "$ok" = skip ]; then
		lines+=("ok $n $desc # SKIP")
	else
		lines+=("not ok $n $desc")
		[ $# = 0 ] ||
			mapfile -t -O "${#lines[@]}" lines < <(head -n 5 "$@" 2>/dev/null | sed 's/^/# /')
	fi
}

tap_print() {
	echo "TAP version 13"
	echo "1..$n"
	printf '%s\n' "${lines[@]}"
}
