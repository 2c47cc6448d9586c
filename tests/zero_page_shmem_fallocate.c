// SPDX-License-Identifier: GPL-2.0
/*
 * fallocate() on a memfd clears nothing in the syscall. Upstream, fallocated
 * folios stay !uptodate and their first access clears them; the series used
 * to allocate them with __GFP_ZERO instead, so that fallocate() cleared
 * every byte of dirty memory itself (memory nobody may ever touch, and a
 * second pass over it when it is accessed). Now the page allocator only
 * tells shmem which folios it found zero: those carry PG_shmem_zeroed
 * (PG_owner_2, KPF_OWNER_2 in /proc/kpageflags) and their first access
 * skips the clear; the others are cleared by their first access, as
 * upstream.
 *
 * - after free memory was dirtied, a 64 MiB fallocate (4 KiB and THP) marks
 *   only the pages the page allocator found zero (counted in
 *   prezero_alloc_hit; a few blocks that earlier tests left zeroed) and no
 *   other: it clears nothing; the range then reads zero;
 * - after a flush, the same fallocate marks (nearly) every page, counts
 *   each as a skipped clear, and reads zero.
 * Pages, not folios: /proc/kpageflags shows a folio's flags on every page.
 * - verify_zeroed found no pre-zeroed page that was not zero.
 *
 * The count of marked pages is of the whole system, and KPF_OWNER_2 is
 * also PG_anon_exclusive (and PG_mappedtodisk): other processes'
 * anonymous memory moves it by a few pages either way while fallocate
 * runs (it once went down by 3 under run_kselftest.sh).
 */
#define _GNU_SOURCE
#include "zero_page_common.h"

#define TEST_SIZE (64 * MIB)
/*
 * Fallocates TEST_SIZE of a new memfd; returns how many of its pages were
 * marked as cleared by the page allocator (the rise of the pages with
 * KPF_OWNER_2, give or take a few: see above), or LONG_MIN if
 * /proc/kpageflags cannot be read, and sets *hits to the rise of
 * prezero_alloc_hit and *zero to whether the range then reads zero.
 */
static long fallocate_marked(long long *hits, bool *zero, double *secs)
{
	long before = kpageflags_count(KPF_OWNER_2), after;
	long long hit0 = vmstat_get("prezero_alloc_hit");
	int fd = memfd_sized(TEST_SIZE, 0);
	double t0 = now_secs();
	char *p;

	if (fallocate(fd, 0, 0, TEST_SIZE))
		ksft_exit_fail_msg("fallocate: %s\n", strerror(errno));
	*secs = now_secs() - t0;
	after = kpageflags_count(KPF_OWNER_2);
	*hits = vmstat_get("prezero_alloc_hit") - hit0;
	p = map_shared(fd, TEST_SIZE);
	*zero = first_nonzero(p, TEST_SIZE) < 0;
	munmap(p, TEST_SIZE);
	close(fd);
	return before < 0 || after < 0 ? LONG_MIN : after - before;
}

static void run(bool huge)
{
	long pages = TEST_SIZE / PAGE_SZ;
	const char *what = huge ? "THP" : "4 KiB";
	long long hits;
	double secs;
	long marked;
	bool zero;

	thp_write_string("shmem_enabled", huge ? "always" : "never");

	/* Dirty free memory: nothing is known to be zero. */
	zp_write("enabled", "0");
	dirty_free_memory(64 * MIB, 0x3c);
	marked = fallocate_marked(&hits, &zero, &secs);
	ksft_print_msg(
		"%s, dirty memory: fallocate %.3f s, %ld of %ld pages marked cleared, %lld found zero\n",
		what, secs, marked, pages, hits);
	ksft_test_result(marked != LONG_MIN && marked <= hits + pages / 10 && zero,
			 "%s: fallocate of dirty memory clears nothing, reads zero\n", what);

	/* Pre-zeroed free memory: fallocate finds it zero. */
	zp_enable_flush_only();
	zp_flush();
	marked = fallocate_marked(&hits, &zero, &secs);
	ksft_print_msg(
		"%s, pre-zeroed memory: fallocate %.3f s, %ld of %ld pages marked, %lld found zero\n",
		what, secs, marked, pages, hits);
	ksft_test_result(marked >= pages * 9 / 10 && hits >= pages * 9 / 10 && zero,
			 "%s: fallocate of pre-zeroed memory skips every clear, reads zero\n",
			 what);
}

int main(void)
{
	long long failed0, checked0;

	ksft_print_header();
	ksft_set_plan(5);
	zp_require();
	if (kpageflags_count(KPF_OWNER_2) < 0)
		ksft_exit_skip("/proc/kpageflags not readable\n");
	zp_verify_require(&failed0, &checked0);
	atexit(zp_verify_restore);
	if (access(SHMEM_ENABLED, F_OK))
		ksft_exit_skip("no shmem THP setting\n");
	zp_save();
	if (sysfs_write(ZP_VERIFY, "1", 1))
		ksft_exit_fail_msg("cannot enable verify_zeroed\n");

	run(false);
	run(true);
	zp_verify_result(failed0, checked0);
	ksft_finished();
}
