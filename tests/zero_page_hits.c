// SPDX-License-Identifier: GPL-2.0
/*
 * Pre-zeroed pages are used: after a flush, THP faults and 4 KiB anonymous
 * faults raise prezero_alloc_hit (/proc/vmstat) for a large share of the
 * pages they allocate, alloc_hits follows it, and prezero_pages counts what
 * the module zeroed.
 *
 * With the module disabled the counter must (nearly) stop. PG_zeroed stays on
 * free blocks after disabling (the promise is still true: nobody wrote to
 * them), so the test first drains them: it disables the module, allocates
 * almost all free memory (using up the zeroed blocks, which does raise the
 * counter) and frees it again (freed pages never carry the flag). A second
 * allocation of almost all free memory must then see at most a few percent
 * of hits: zeroed blocks that stayed in the small reserve the first one left.
 * Skipped where that reserve (64 MiB) would be under the min watermark
 * (64K pages: the OOM killer ended the test there once).
 */
#include "zero_page_common.h"

#define THP_TEST_SIZE (128 * MIB)
#define SMALL_TEST_SIZE (256 * MIB)
#define KEEP_FREE (64 * MIB)

/* Faults size bytes in; returns the prezero_alloc_hit delta in base pages. */
static long long fault_in(size_t size, bool thp)
{
	char *raw, *p;
	long long before, after;
	size_t i, step = thp ? ATHP_SZ : PAGE_SZ;

	raw = map_anon(size + ATHP_SZ, 0, -1);
	if (!raw)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	p = (char *)(((unsigned long)raw + ATHP_SZ - 1) & ~(ATHP_SZ - 1));
	madvise(p, size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	before = vmstat_get("prezero_alloc_hit");
	for (i = 0; i < size; i += step)
		p[i] = 1;
	after = vmstat_get("prezero_alloc_hit");
	munmap(raw, size + ATHP_SZ);
	return after - before;
}

/*
 * Allocates almost all free memory (THP where possible), then frees it.
 * Returns the prezero_alloc_hit delta and stores the pages allocated.
 */
static long long consume_free_memory(size_t *pages)
{
	size_t free_bytes = meminfo_get("MemFree");
	long long before, after;
	size_t len;
	char *p;

	*pages = 0;
	if (free_bytes <= KEEP_FREE + 16 * MIB)
		return 0;
	len = (free_bytes - KEEP_FREE) & ~(ATHP_SZ - 1);
	p = map_anon(len, MAP_NORESERVE, MADV_HUGEPAGE);
	if (!p)
		return 0;
	before = vmstat_get("prezero_alloc_hit");
	if (madvise(p, len, MADV_POPULATE_WRITE))
		memset(p, 1, len);
	after = vmstat_get("prezero_alloc_hit");
	munmap(p, len);
	*pages = len / PAGE_SZ;
	return after - before;
}

int main(void)
{
	long long hits, v0, v1, prezero0, prezero1;
	unsigned long pages0, pages1, ah0, ah1;
	size_t pages, min_keep;
	int ret;

	ksft_print_header();
	zp_require();
	zp_save();
	if (vmstat_get("prezero_alloc_hit") < 0)
		ksft_exit_skip("no prezero_alloc_hit in /proc/vmstat\n");
	ksft_set_plan(6);

	thp_write_string("enabled", "madvise");
	zp_defaults();
	ret = zp_write("enabled", "1");
	if (ret == -EBUSY)
		ksft_exit_skip("free page reporting is owned by another device\n");
	if (ret)
		ksft_exit_fail_msg("enable: %s\n", strerror(-ret));

	/* Enabled: flush, then THP faults. Free some blocks nobody reported yet. */
	churn_memory(256 * MIB);
	pages0 = zp_read("zeroed_pages");
	prezero0 = vmstat_get("prezero_pages");
	ret = zp_write("flush", "1");
	pages1 = zp_read("zeroed_pages");
	prezero1 = vmstat_get("prezero_pages");
	ksft_test_result(ret == 0 && pages1 > pages0, "flush zeroed %lu pages\n", pages1 - pages0);
	if (prezero0 >= 0) {
		long long d = prezero1 - prezero0, z = pages1 - pages0;

		/* Blocks may merge or be allocated in between: allow 10%. */
		ksft_test_result(d * 10 >= z * 9 && d * 10 <= z * 11,
				 "prezero_pages (+%lld) matches zeroed_pages (+%lld)\n", d, z);
	} else {
		ksft_test_result_skip("prezero_pages matches zeroed_pages (no counter)\n");
	}

	ah0 = zp_read("alloc_hits");
	v0 = vmstat_get("prezero_alloc_hit");
	/*
	 * Most THP faults take a zeroed block; some may fall back to small
	 * pages when memory is fragmented, or get a THP that was cached on a
	 * per-CPU list (never reported), so ask for a quarter.
	 */
	hits = fault_in(THP_TEST_SIZE, true);
	pages = THP_TEST_SIZE / PAGE_SZ;
	ksft_test_result(hits >= (long long)pages / 4,
			 "THP faults after flush hit pre-zeroed pages (%lld of %zu)\n",
			 hits, pages);

	/*
	 * Single free pages are never reported: 4 KiB faults first use up the
	 * order-0 free lists, then split zeroed blocks. Fault in enough.
	 */
	zp_write("flush", "1");
	hits = fault_in(SMALL_TEST_SIZE, false);
	pages = SMALL_TEST_SIZE / PAGE_SZ;
	ksft_test_result(hits >= (long long)pages / 4,
			 "4 KiB faults after flush hit pre-zeroed pages (%lld of %zu)\n",
			 hits, pages);
	v1 = vmstat_get("prezero_alloc_hit");
	ah1 = zp_read("alloc_hits");
	ksft_test_result(ah1 - ah0 >= (unsigned long)(v1 - v0) && ah1 >= (unsigned long)v1,
			 "alloc_hits follows prezero_alloc_hit (+%lu, vmstat +%lld)\n", ah1 - ah0,
			 v1 - v0);

	/* Disabled: drain the zeroed blocks left over, then allocate again. */
	min_keep = min_keep_free();
	if (min_keep > KEEP_FREE) {
		ksft_test_result_skip("disabled: %zu MiB must stay free, zero blocks stay\n",
				      min_keep >> 20);
		ksft_finished();
	}
	zp_write("enabled", "0");
	hits = consume_free_memory(&pages);
	ksft_print_msg("disabled, draining: %lld hits for %zu pages\n", hits, pages);
	hits = consume_free_memory(&pages);
	ksft_test_result(pages > 0 && hits * 20 <= (long long)pages,
			 "disabled: allocations (nearly) stop hitting (%lld of %zu)\n",
			 hits, pages);
	ksft_finished();
}
