// SPDX-License-Identifier: GPL-2.0
/*
 * A device that starts reporting must be handed every free block, also the
 * ones the device before it reported: PG_reported (PG_uptodate on a free
 * block, KPF_UPTODATE with KPF_BUDDY in /proc/kpageflags) is cleared on
 * every free block when a device registers. zero_page reports (clears)
 * the free blocks of order >= 3, 4 KiB faults then split reported blocks,
 * and zero_page registers again (disabled and enabled, no pass of its own
 * for an hour):
 * - before the new registration, free blocks carry PG_reported;
 * - after it, no free block does. Before the fix the blocks split off
 *   below order 3 kept it (the walk starts at the lowest order reported),
 *   and a device that took over (the balloon) never got them;
 * - the faults read zeroes.
 */
#include "zero_page_common.h"

#define KPF_UPTODATE	3
#define KPF_BUDDY	10
#define FAULTS		(64 * MIB)

/* Free blocks (heads) that carry PG_reported; exits on error. */
static long reported_free_blocks(void)
{
	long n = kpageflags_count_all(1ULL << KPF_BUDDY | 1ULL << KPF_UPTODATE);

	if (n < 0)
		ksft_exit_fail_msg("/proc/kpageflags: %s\n", strerror(errno));
	return n;
}

int main(void)
{
	long before, after;
	char *p;

	ksft_print_header();
	zp_require();
	ksft_set_plan(3);
	zp_save();
	zp_enable_flush_only();
	if (zp_write("mini_order", "3"))
		ksft_exit_fail_msg("cannot set mini_order\n");
	zp_flush();

	p = map_anon(FAULTS, 0, MADV_NOHUGEPAGE);
	if (!p || madvise(p, FAULTS, MADV_POPULATE_WRITE))
		ksft_exit_fail_msg("fault-in failed\n");
	before = reported_free_blocks();
	ksft_test_result(before > 0, "after a flush and 4 KiB faults: %ld free blocks reported\n",
			 before);

	/* Register again: the same device takes over, as the balloon would. */
	if (zp_write("enabled", "0") || zp_write("enabled", "1"))
		ksft_exit_fail_msg("cannot register zero_page again\n");
	after = reported_free_blocks();
	ksft_test_result(after == 0, "after a new registration: %ld free blocks reported\n", after);
	ksft_test_result(first_nonzero(p, FAULTS) == -1, "the faults read zeroes\n");
	munmap(p, FAULTS);
	zp_write("enabled", "0");
	ksft_finished();
}
