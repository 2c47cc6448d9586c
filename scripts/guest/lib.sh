# SPDX-License-Identifier: GPL-2.0
#
# Helpers shared by the guest-side scripts (bench, bench-balloon,
# bench-init-on-free, mm-selftests); installed as /lib/zero_page/lib.sh in
# the initramfs and sourced with ". /lib/zero_page/lib.sh".

# The median of the numbers on stdin, one per line (0 if there are none).
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print 0 }'; }

# vmstat NAME: the counter NAME of /proc/vmstat.
vmstat() { awk -v k="$1" '$1 == k { print $2 }' /proc/vmstat; }

# ratio BASELINE PREZEROED: how many times faster, two decimals.
ratio() { awk -v b="$1" -v p="$2" 'BEGIN { if (p > 0) printf "%.2f", b / p; else print "inf" }'; }

# share PART TOTAL: PART as a percentage of TOTAL.
share() { awk -v h="$1" -v t="$2" 'BEGIN { if (t > 0) printf "%.0f%%", 100 * h / t; else print "n/a" }'; }
