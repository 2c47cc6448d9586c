// SPDX-License-Identifier: GPL-2.0
// vm-run: --numa 2 --mem 2G
/*
 * zeroable_hugepages per node: the counts match the pool, writing N zeroes
 * exactly N pages of that node only, "max" zeroes the rest, a request larger
 * than what is left zeroes what is left, and growing the pool adds zeroable
 * pages while shrinking it keeps the counts exact.
 *
 * Needs two NUMA nodes (and memory for the pools: 2 GiB in all will do);
 * skipped otherwise.
 */
#include "hugetlb_prezero_common.h"

#define KB HP_2M_KB

int main(void)
{
	long long z0, z1, d0, d1, pages;

	ksft_print_header();
	hp_require(2);
	ksft_set_plan(8);

	/* Fresh pools: nothing is zeroed yet. */
	hp_set_pool(0, KB, 0);
	hp_set_pool(1, KB, 0);
	if (hp_set_pool(0, KB, 16) != 16 || hp_set_pool(1, KB, 8) != 8)
		ksft_exit_skip("cannot allocate 16 + 8 huge pages\n");

	ksft_test_result(hp_zeroable(0, KB) == 16 && hp_zeroed(0, KB) == 0 &&
			 hp_zeroable(1, KB) == 8 && hp_zeroed(1, KB) == 0,
			 "fresh pages are zeroable on their node\n");

	pages = hp_stat("zeroed_pages");
	ksft_test_result(hp_zero(0, KB, 5) == 0 && hp_zeroable(0, KB) == 11 &&
			 hp_zeroed(0, KB) == 5 && hp_zeroable(1, KB) == 8 &&
			 hp_stat("zeroed_pages") == pages + 5,
			 "writing 5 zeroes 5 pages of that node only\n");

	ksft_test_result(hp_zero(1, KB, 0) == 0 && hp_zeroable(1, KB) == 0 &&
			 hp_zeroed(1, KB) == 8 && hp_zeroable(0, KB) == 11,
			 "max zeroes every zeroable page of the node\n");

	ksft_test_result(hp_zero(0, KB, 1000) == 0 && hp_zeroable(0, KB) == 0 &&
			 hp_zeroed(0, KB) == 16 &&
			 hp_stat("zeroed_pages") == pages + 24,
			 "a request beyond what is left zeroes what is left\n");

	ksft_test_result(hp_zero(0, KB, 3) == 0 && hp_zeroed(0, KB) == 16 &&
			 hp_stat("zeroed_pages") == pages + 24,
			 "a request with nothing left succeeds and zeroes nothing\n");

	hp_set_pool(0, KB, 20);
	ksft_test_result(hp_zeroable(0, KB) == 4 && hp_zeroed(0, KB) == 16 &&
			 hp_counts_consistent(KB, 2),
			 "new pool pages are zeroable, zeroed ones stay zeroed\n");

	/* Shrinking gives back pages that are not zeroed first. */
	hp_set_pool(0, KB, 10);
	z0 = hp_zeroable(0, KB);
	d0 = hp_zeroed(0, KB);
	ksft_test_result(z0 == 0 && d0 == 10 && hp_counts_consistent(KB, 2),
			 "shrinking keeps zeroed pages and exact counts (zeroable %lld zeroed %lld)\n",
			 z0, d0);

	hp_set_pool(1, KB, 2);
	z1 = hp_zeroable(1, KB);
	d1 = hp_zeroed(1, KB);
	ksft_test_result(z1 == 0 && d1 == 2 && hp_free(1, KB) == 2 &&
			 hp_counts_consistent(KB, 2),
			 "node1 shrinks to 2 zeroed pages\n");

	ksft_finished();
}
