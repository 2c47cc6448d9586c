// SPDX-License-Identifier: GPL-2.0
// vm-run: --append init_on_free=1
/*
 * hugetlb takes what the page allocator knows to be zero, with nothing but
 * the kernel (no module): under init_on_free=1 every freed block is marked
 * zero, so after dirty memory was freed
 * - a 2 MiB hugetlb page newly added to the pool (nr_hugepages) is not
 *   cleared by the fault that maps it: /proc/vmstat htlb_clear_skipped
 *   counts (nearly) every such fault, and the page reads zero;
 * - a pool page that was used and given back to the pool is cleared by its
 *   next fault (nothing skipped) and reads zero, not what its last user
 *   wrote.
 * Booted without init_on_free (and without init_on_alloc), the same program
 * checks that nothing is skipped and that everything still reads zero.
 * htlb_clear_skipped is added by the Linux 7.3 hugetlb series
 * ("mm/hugetlb: do not clear new folios the page allocator found zero");
 * without it the test is skipped.
 */
#define _GNU_SOURCE
#include "zero_page_common.h"
#include "hugetlb_prezero_common.h"

#define NR_PAGES 32UL	/* 64 MiB of 2 MiB pages */

/* Maps and faults in NR_PAGES pool pages; returns the skipped clears. */
static long long fault_in(bool *zero, unsigned char pattern)
{
	size_t len = NR_PAGES * HP_2M_KB * 1024;
	long long skipped = vmstat_get("htlb_clear_skipped");
	char *p = hp_map(HP_2M_KB, NR_PAGES);

	if (!p)
		ksft_exit_fail_msg("MAP_HUGETLB: %s\n", strerror(errno));
	hp_touch(p, HP_2M_KB, NR_PAGES);
	skipped = vmstat_get("htlb_clear_skipped") - skipped;
	*zero = hp_first_nonzero(p, len) < 0;
	/* Leave stale data behind for the next user of the pool pages. */
	memset(p, pattern, len);
	munmap(p, len);
	return skipped;
}

int main(void)
{
	long long skipped, hits, got;
	bool zeroing, zero;

	ksft_print_header();
	if (getuid() != 0)
		ksft_exit_skip("must run as root\n");
	if (vmstat_get("htlb_clear_skipped") < 0)
		ksft_exit_skip("no htlb_clear_skipped in /proc/vmstat\n");
	if (hp_nr(0, HP_2M_KB) < 0)
		ksft_exit_skip("no 2048kB hugetlb pool on node0\n");
	zeroing = booted_with("init_on_free=1");
	if (!zeroing && booted_with("init_on_alloc=1"))
		ksft_exit_skip("init_on_alloc=1 zeroes new pool pages too\n");
	if (!zeroing && access(ZP_DIR, F_OK) == 0)
		ksft_exit_skip("zero_page is loaded and may zero free memory\n");
	ksft_set_plan(2);

	/* New pool pages, taken from free memory that held stale data. */
	hp_pool_on_node0(HP_2M_KB, 0);
	dirty_free_memory(128 * MIB, 0x5a);
	hits = vmstat_get("prezero_alloc_hit");
	got = hp_pool_on_node0(HP_2M_KB, NR_PAGES);
	hits = hits >= 0 ? vmstat_get("prezero_alloc_hit") - hits : -1;
	if (got < (long long)NR_PAGES)
		ksft_exit_skip("pool has %lld of %lu pages\n", got, NR_PAGES);

	skipped = fault_in(&zero, 0xa5);
	ksft_print_msg(
		"new pool pages: %lld of %lu faults skipped the clear, %lld base pages counted as prezero_alloc_hit when the pool grew\n",
		skipped, NR_PAGES, hits);
	if (zeroing)
		ksft_test_result(skipped >= (long long)NR_PAGES * 9 / 10 && zero,
				 "new pool pages: clear skipped, read zero\n");
	else
		ksft_test_result(skipped == 0 && zero,
				 "new pool pages: nothing skipped, read zero\n");

	/* The same pool pages again: they hold what fault_in() wrote. */
	skipped = fault_in(&zero, 0xa5);
	ksft_print_msg("reused pool pages: %lld of %lu faults skipped the clear\n",
		       skipped, NR_PAGES);
	ksft_test_result(skipped == 0 && zero,
			 "reused pool pages: cleared, read zero\n");

	ksft_finished();
}
