// SPDX-License-Identifier: GPL-2.0
// vm-run: --append init_on_free=1
/*
 * shmem takes what the page allocator knows to be zero, with nothing but
 * the kernel (no module): under init_on_free=1 every freed block is marked
 * zero, so after dirty memory was freed
 * - a 64 MiB memfd populated with MADV_POPULATE_WRITE counts (nearly) every
 *   page as a skipped clear (prezero_alloc_hit), with 4 KiB pages and THP;
 * - a 64 MiB fallocate() marks (nearly) every page PG_shmem_zeroed
 *   (KPF_OWNER_2) and counts it as a skipped clear, clearing nothing;
 * - all of it reads zero.
 *
 * Needs init_on_free=1 on the kernel command line; skipped otherwise.
 */
#define _GNU_SOURCE
#include "zero_page_common.h"

#define TEST_SIZE (64 * MIB)

/* Populates or fallocates TEST_SIZE of a new memfd; one result line. */
static void check(bool huge, bool fall)
{
	long long pages = TEST_SIZE / PAGE_SZ, hits;
	long marked = 0, before;
	int fd = memfd_sized(TEST_SIZE, 0);
	char *p = map_shared(fd, TEST_SIZE);
	bool zero;

	dirty_free_memory(64 * MIB, 0x6d);
	before = kpageflags_count(KPF_OWNER_2);
	hits = vmstat_get("prezero_alloc_hit");
	if (fall) {
		if (fallocate(fd, 0, 0, TEST_SIZE))
			ksft_exit_fail_msg("fallocate: %s\n", strerror(errno));
		marked = kpageflags_count(KPF_OWNER_2) - before;
	} else if (madvise(p, TEST_SIZE, MADV_POPULATE_WRITE)) {
		ksft_exit_fail_msg("MADV_POPULATE_WRITE: %s\n", strerror(errno));
	}
	hits = vmstat_get("prezero_alloc_hit") - hits;
	zero = first_nonzero(p, TEST_SIZE) < 0;
	munmap(p, TEST_SIZE);
	close(fd);

	ksft_print_msg("%s %s: %lld of %lld pages skipped their clear, %ld marked\n",
		       huge ? "THP" : "4 KiB", fall ? "fallocate" : "populate",
		       hits, pages, marked);
	ksft_test_result(hits >= pages * 9 / 10 && zero &&
			 (!fall || marked >= pages * 9 / 10),
			 "%s %s: every clear skipped, reads zero\n",
			 huge ? "THP" : "4 KiB", fall ? "fallocate" : "populate");
}

int main(void)
{
	int huge;

	ksft_print_header();
	if (vmstat_get("prezero_alloc_hit") < 0)
		ksft_exit_skip("no prezero_alloc_hit in /proc/vmstat\n");
	if (!booted_with("init_on_free=1"))
		ksft_exit_skip("needs init_on_free=1\n");
	if (kpageflags_count(KPF_OWNER_2) < 0)
		ksft_exit_skip("/proc/kpageflags not readable\n");
	if (access(SHMEM_ENABLED, F_OK))
		ksft_exit_skip("no shmem THP setting\n");
	thp_save_settings();
	atexit(thp_restore_settings);
	ksft_set_plan(4);

	for (huge = 0; huge <= 1; huge++) {
		thp_write_string("shmem_enabled", huge ? "always" : "never");
		check(huge, false);
		check(huge, true);
	}
	ksft_finished();
}
