#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Load/unload stress: 50 times modprobe zero_page, tune it, enable it, flush
# (sometimes in the background, so that rmmod races with a running flush and
# with the reporting worker zeroing a batch), and rmmod it, while a background
# job keeps allocating and freeing memory. Afterwards the kernel log must be
# free of WARNING/BUG/bad page reports, the directory must be gone after the
# last rmmod, and a fresh load must come up with the defaults.

DIR=$(dirname "$0")
. "$DIR/../kselftest/ktap_helpers.sh"

ZP=/sys/kernel/mm/zero_page
ITER=${ZP_RELOAD_ITER:-50}
CHURN_DIR=/tmp/zero_page_churn

ktap_print_header

if [ "$(id -u)" != 0 ]; then
	ktap_skip_all "must run as root"
	exit "$KSFT_SKIP"
fi
was_loaded=0
saved=
if [ -d "$ZP" ]; then
	was_loaded=1
	# Restored at the end: batch_size delay_millisecs mini_order nontemporal enabled
	saved="$(cat $ZP/batch_size) $(cat $ZP/delay_millisecs) $(cat $ZP/mini_order)"
	saved="$saved $(cat $ZP/nontemporal) $(cat $ZP/enabled)"
fi
if [ "$was_loaded" = 0 ] && ! modprobe zero_page 2>/dev/null; then
	ktap_skip_all "module zero_page is not available"
	exit "$KSFT_SKIP"
fi
if ! rmmod zero_page 2>/dev/null; then
	ktap_skip_all "zero_page cannot be unloaded"
	exit "$KSFT_SKIP"
fi
if ! modprobe zero_page || ! echo 1 > "$ZP/enabled" 2>/dev/null; then
	[ -d "$ZP" ] || modprobe zero_page
	ktap_skip_all "cannot enable zero_page (free page reporting owned by another device?)"
	exit "$KSFT_SKIP"
fi
echo 0 > "$ZP/enabled"

ktap_set_plan 5

# Background memory churn: tmpfs files of 32..224 MiB written and removed,
# so that blocks of every order are freed and reporting keeps being
# requested.
churn() {
	mkdir -p "$CHURN_DIR"
	i=0
	while :; do
		i=$(( (i + 1) % 7 ))
		dd if=/dev/zero of="$CHURN_DIR/f" bs=1M count=$(( 32 + i * 32 )) 2>/dev/null
		rm -f "$CHURN_DIR/f"
	done
}

# Kernel log lines that tell of a splat, and the first lines of one.
SPLAT='WARNING:|BUG:|kernel BUG|Oops|[Bb]ad page|page dumped because|general protection'
SPLAT="$SPLAT|Call Trace:|possible circular locking|INFO: lockdep"
SPLAT_HEAD='WARNING:|BUG:|kernel BUG|Oops|[Bb]ad page|general protection'
SPLAT_HEAD="$SPLAT_HEAD|possible circular locking|INFO: lockdep"

dmesg_errors() {
	dmesg | grep -cE "$SPLAT"
}

errors_before=$(dmesg_errors)
churn &
churn_pid=$!

# The smallest batch_size is a page (4096 bytes with 4K pages).
page=$(sed -n 's/^KernelPageSize: *\([0-9]*\) kB$/\1/p' /proc/self/smaps | head -n 1)
page=$(( ${page:-4} * 1024 ))
ok=1
fail_msg=
n=0
while [ "$n" -lt "$ITER" ]; do
	n=$((n + 1))
	if ! modprobe zero_page; then
		ok=0; fail_msg="modprobe failed at iteration $n"; break
	fi
	# Vary the knobs: order 0..10, small batches, short delays.
	echo $(( 1 + n % 10 )) > "$ZP/mini_order" ||
		{ ok=0; fail_msg="mini_order $n"; break; }
	echo $(( page << (n % 14) )) > "$ZP/batch_size" ||
		{ ok=0; fail_msg="batch_size $n"; break; }
	echo $(( n % 3 )) > "$ZP/delay_millisecs" ||
		{ ok=0; fail_msg="delay $n"; break; }
	echo $(( n % 2 )) > "$ZP/nontemporal" 2>/dev/null
	if ! echo 1 > "$ZP/enabled"; then
		ok=0; fail_msg="enable failed at iteration $n"; break
	fi
	flush_pid=
	case $(( n % 3 )) in
	0)	# Synchronous flush, then unload.
		echo 1 > "$ZP/flush" || { ok=0; fail_msg="flush failed at iteration $n"; break; }
		;;
	1)	# Unload while a flush runs: rmmod must wait for it.
		( echo 1 > "$ZP/flush" ) 2>/dev/null &
		flush_pid=$!
		;;
	2)	# Unload while the worker zeroes (delay 0..2 ms): no flush.
		;;
	esac
	if ! rmmod zero_page; then
		ok=0; fail_msg="rmmod failed at iteration $n"; break
	fi
	# The background flush finished before rmmod could remove its file
	# (or never opened it); either way it is over now.
	[ -n "$flush_pid" ] && wait "$flush_pid" 2>/dev/null
	if [ -d "$ZP" ]; then
		ok=0; fail_msg="$ZP still exists after rmmod (iteration $n)"; break
	fi
done

kill "$churn_pid" 2>/dev/null
wait "$churn_pid" 2>/dev/null
rm -rf "$CHURN_DIR"

if [ "$ok" = 1 ]; then
	ktap_test_pass "$ITER load/enable/flush/unload cycles under memory churn"
else
	ktap_print_msg "$fail_msg"
	ktap_test_fail "$ITER load/enable/flush/unload cycles under memory churn"
fi

if [ -d "$ZP" ]; then
	ktap_test_fail "directory removed by rmmod"
else
	ktap_test_pass "directory removed by rmmod"
fi

modprobe zero_page
defaults="$(cat $ZP/enabled) $(cat $ZP/batch_size) $(cat $ZP/delay_millisecs)"
defaults="$defaults $(cat $ZP/mini_order) $(cat $ZP/zeroed_pages)"
if [ "$defaults" = "0 67108864 1000 1 0" ]; then
	ktap_test_pass "fresh load has the defaults"
else
	ktap_print_msg "got: $defaults"
	ktap_test_fail "fresh load has the defaults"
fi

# Free memory that is dirty, so that a flush has something to clear: memory
# that is zero already is not cleared again.
dirty_some() {
	dd if=/dev/zero bs=1M count=32 2>/dev/null | tr '\000' 'z' > /tmp/zp_dirty &&
		rm -f /tmp/zp_dirty
}

# After unload the reporting slot is free again: a new instance can take it.
if echo 1 > "$ZP/enabled" && dirty_some && echo 1 > "$ZP/flush" &&
   [ "$(cat $ZP/zeroed_pages)" -gt 0 ]; then
	ktap_test_pass "reporting usable again after the cycles"
else
	ktap_test_fail "reporting usable again after the cycles"
fi
echo 0 > "$ZP/enabled"
if [ "$was_loaded" = 1 ]; then
	set -- $saved
	echo "$1" > "$ZP/batch_size"
	echo "$2" > "$ZP/delay_millisecs"
	echo "$3" > "$ZP/mini_order"
	echo "$4" > "$ZP/nontemporal"
	echo "$5" > "$ZP/enabled"
else
	rmmod zero_page
fi

errors_after=$(dmesg_errors)
if [ "$errors_after" = "$errors_before" ]; then
	ktap_test_pass "no WARNING/BUG/bad page in the kernel log"
else
	dmesg | grep -E -B2 -A20 "$SPLAT_HEAD" | head -60 |
		while IFS= read -r line; do ktap_print_msg "$line"; done
	ktap_test_fail "no WARNING/BUG/bad page in the kernel log"
fi

ktap_finished
