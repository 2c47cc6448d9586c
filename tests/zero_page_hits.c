// SPDX-License-Identifier: GPL-2.0
/*
 * Pre-zeroed pages are used: after a flush, THP faults and 4 KiB anonymous
 * faults raise prezero_alloc_hit (/proc/vmstat) for most of the pages they
 * allocate, alloc_hits follows it, and prezero_pages counts what the module
 * zeroed.
 *
 * With the module disabled the counter must (nearly) stop. PG_zeroed stays on
 * free blocks after disabling (the promise is still true: nobody wrote to
 * them), so the test first consumes them: it disables the module, allocates
 * almost all free memory (using up the zeroed blocks, which does raise the
 * counter) and frees it again (freed pages never carry the flag). Then it
 * faults in the same amount as in the enabled case and expects at most a few
 * percent of hits, from zeroed blocks that were left in the small reserve the
 * hog does not touch.
 */
#include "zero_page_common.h"

#define SIZE (128 * MIB)
#define NR_PAGES (SIZE / PAGE_SZ)
#define KEEP_FREE (128 * MIB)

/* Faults SIZE bytes in; returns the prezero_alloc_hit delta in base pages. */
static long long fault_in(bool thp)
{
	char *raw, *p;
	long long before, after;
	size_t i, step = thp ? THP_SZ : PAGE_SZ;

	raw = map_anon(SIZE + THP_SZ, 0, -1);
	if (!raw)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	p = (char *)(((unsigned long)raw + THP_SZ - 1) & ~(THP_SZ - 1));
	madvise(p, SIZE, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	before = vmstat_get("prezero_alloc_hit");
	for (i = 0; i < SIZE; i += step)
		p[i] = 1;
	after = vmstat_get("prezero_alloc_hit");
	munmap(raw, SIZE + THP_SZ);
	return after - before;
}

static unsigned long anon_huge_now(void)
{
	return meminfo_get("AnonHugePages");
}

/* Allocates almost all free memory with 4 KiB and THP faults, then frees it. */
static void consume_free_memory(void)
{
	size_t free_bytes = meminfo_get("MemFree");
	size_t len;
	char *p;

	if (free_bytes <= KEEP_FREE + 16 * MIB)
		return;
	len = (free_bytes - KEEP_FREE) & ~(THP_SZ - 1);
	p = map_anon(len, MAP_NORESERVE, MADV_HUGEPAGE);
	if (!p)
		return;
	if (madvise(p, len, MADV_POPULATE_WRITE))
		memset(p, 1, len);
	munmap(p, len);
}

int main(void)
{
	long long thp_hits, small_hits, hits_off, v0, v1, prezero0, prezero1;
	unsigned long pages0, pages1, ah0, ah1;
	int ret;

	ksft_print_header();
	zp_require();
	zp_save();
	if (vmstat_get("prezero_alloc_hit") < 0)
		ksft_exit_skip("no prezero_alloc_hit in /proc/vmstat\n");
	ksft_set_plan(6);

	thp_set("madvise");
	zp_defaults();
	ret = zp_write("enabled", "1");
	if (ret == -EBUSY)
		ksft_exit_skip("free page reporting is owned by another device\n");
	if (ret)
		ksft_exit_fail_msg("enable: %s\n", strerror(-ret));

	/* Enabled: flush, then THP faults. Free some blocks nobody reported yet. */
	churn_memory(256 * MIB);
	pages0 = zp_read("pages_zeroed");
	prezero0 = vmstat_get("prezero_pages");
	ret = zp_write("flush", "1");
	pages1 = zp_read("pages_zeroed");
	prezero1 = vmstat_get("prezero_pages");
	ksft_test_result(ret == 0 && pages1 > pages0, "flush zeroed %lu pages\n", pages1 - pages0);
	if (prezero0 >= 0) {
		long long d = prezero1 - prezero0, z = pages1 - pages0;

		/* Blocks may merge or be allocated in between: allow 10%. */
		ksft_test_result(d * 10 >= z * 9 && d * 10 <= z * 11,
				 "prezero_pages (+%lld) matches pages_zeroed (+%lld)\n", d, z);
	} else {
		ksft_test_result_skip("prezero_pages matches pages_zeroed (no counter)\n");
	}

	ah0 = zp_read("alloc_hits");
	v0 = vmstat_get("prezero_alloc_hit");
	thp_hits = fault_in(true);
	ksft_print_msg("THP faults: %lld hits for %lu pages (AnonHugePages now %lu kB)\n",
		       thp_hits, NR_PAGES, anon_huge_now() / 1024);
	ksft_test_result(thp_hits >= (long long)NR_PAGES / 2,
			 "THP faults after flush hit pre-zeroed pages (%lld of %lu)\n", thp_hits,
			 NR_PAGES);

	zp_write("flush", "1");
	small_hits = fault_in(false);
	ksft_test_result(small_hits >= (long long)NR_PAGES / 4,
			 "4 KiB faults after flush hit pre-zeroed pages (%lld of %lu)\n",
			 small_hits, NR_PAGES);
	v1 = vmstat_get("prezero_alloc_hit");
	ah1 = zp_read("alloc_hits");
	ksft_test_result(ah1 - ah0 >= (unsigned long)(v1 - v0) && ah1 >= (unsigned long)v1,
			 "alloc_hits follows prezero_alloc_hit (+%lu, vmstat +%lld)\n", ah1 - ah0,
			 v1 - v0);

	/* Disabled: use up the zeroed blocks left over, then fault in again. */
	zp_write("enabled", "0");
	consume_free_memory();
	hits_off = fault_in(true) + fault_in(false);
	ksft_print_msg("disabled: %lld hits for %lu pages\n", hits_off, 2 * NR_PAGES);
	ksft_test_result(hits_off * 20 <= (long long)(2 * NR_PAGES),
			 "disabled: faults (nearly) stop hitting (%lld of %lu)\n", hits_off,
			 2 * NR_PAGES);
	ksft_finished();
}
