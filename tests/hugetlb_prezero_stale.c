// SPDX-License-Identifier: GPL-2.0
/*
 * No stale data: fill hugetlb pages with a pattern, give them back to the
 * pool, then fault them in again, with and without pre-zeroing, fully and
 * partly pre-zeroed, through a fault and through fallocate() of a hugetlb
 * memfd (a hugetlbfs file of 2 MiB pages, whatever the default size):
 * every byte reads as zero. Faults on pre-zeroed pages are counted in
 * alloc_hits, and zeroed pages are used before the others.
 */
#define _GNU_SOURCE
#include "hugetlb_prezero_common.h"

#define KB HP_2M_KB
#define NR 8UL
#define LEN (NR * KB * 1024)

/* Dirties the whole pool of node 0 with a pattern, then frees it again. */
static bool dirty_pool(void)
{
	char *p = hp_map(KB, NR);

	if (!p)
		return false;
	memset(p, 0xa5, LEN);
	munmap(p, LEN);
	return hp_zeroable(0, KB) == (long long)NR;
}

/* Faults NR pages in; true if all read as zero. */
static bool fault_all_zero(void)
{
	char *p = hp_map(KB, NR);
	long long off;

	if (!p)
		return false;
	hp_touch(p, KB, NR);
	off = hp_first_nonzero(p, LEN);
	if (off >= 0)
		ksft_print_msg("non-zero byte 0x%02x at offset %lld\n",
			       (unsigned char)p[off], off);
	munmap(p, LEN);
	return off < 0;
}

/* Same through fallocate() of a hugetlb memfd. */
static bool fallocate_all_zero(void)
{
	long long off = 0;
	char *p;
	int fd;

	fd = syscall(__NR_memfd_create, "hugetlb_prezero_stale", hp_memfd_flags(KB));
	if (fd < 0)
		return false;
	if (fallocate(fd, 0, 0, LEN)) {
		close(fd);
		return false;
	}
	p = mmap(NULL, LEN, PROT_READ, MAP_SHARED, fd, 0);
	if (p != MAP_FAILED) {
		off = hp_first_nonzero(p, LEN);
		munmap(p, LEN);
	}
	close(fd);
	return p != MAP_FAILED && off < 0;
}

int main(void)
{
	long long hits;

	ksft_print_header();
	hp_require(1);
	ksft_set_plan(7);

	if (hp_bind_node(0))
		ksft_exit_fail_msg("set_mempolicy: %s\n", strerror(errno));
	/* Only node 0 has a pool, so every fault lands there. */
	if (hp_pool_on_node0(KB, NR) != NR)
		ksft_exit_skip("cannot allocate %lu huge pages\n", NR);

	ksft_test_result(dirty_pool() && fault_all_zero(),
			 "without pre-zeroing, freed pages fault in as zero\n");

	ksft_test_result(dirty_pool() && hp_zero(0, KB, 0) == 0 &&
			 hp_zeroed(0, KB) == (long long)NR,
			 "dirty pages are zeroable and get zeroed\n");

	hits = hp_stat("alloc_hits");
	ksft_test_result(fault_all_zero() &&
			 hp_stat("alloc_hits") == hits + (long long)NR,
			 "pre-zeroed pages fault in as zero without a clear (hits +%lld)\n",
			 hp_stat("alloc_hits") - hits);

	/* Half zeroed: the zeroed half is used first, the rest is cleared. */
	hits = hp_stat("alloc_hits");
	ksft_test_result(dirty_pool() && hp_zero(0, KB, NR / 2) == 0 &&
			 fault_all_zero() &&
			 hp_stat("alloc_hits") == hits + (long long)NR / 2,
			 "partly pre-zeroed pool faults in as zero\n");

	hits = hp_stat("alloc_hits");
	{
		char *p;
		bool ok = dirty_pool() && hp_zero(0, KB, 2) == 0;

		/* Two faults must take the two zeroed pages. */
		p = hp_map(KB, 2);
		ok = ok && p;
		if (p) {
			hp_touch(p, KB, 2);
			ok = ok && hp_first_nonzero(p, 2 * KB * 1024) < 0;
			munmap(p, 2 * KB * 1024);
		}
		ksft_test_result(ok && hp_stat("alloc_hits") == hits + 2,
				 "zeroed pages are allocated before the others\n");
	}

	ksft_test_result(dirty_pool() && fallocate_all_zero(),
			 "fallocate() without pre-zeroing gives zeroes\n");

	hits = hp_stat("alloc_hits");
	ksft_test_result(dirty_pool() && hp_zero(0, KB, 0) == 0 &&
			 fallocate_all_zero() &&
			 hp_stat("alloc_hits") == hits + (long long)NR,
			 "fallocate() of pre-zeroed pages gives zeroes without a clear\n");

	hp_unbind();
	ksft_finished();
}
