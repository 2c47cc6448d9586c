// SPDX-License-Identifier: GPL-2.0
/*
 * Where page_reporting.zeroed_first must not go: small zeroed blocks and
 * dirty free pageblocks, made on purpose (256 MiB of 4 KiB pages, the
 * pages of every other pair of page frames freed, everything free zeroed
 * by a flush, a THP filler taking all but 8 MiB of the free pageblocks,
 * then 16 MiB of THP dirtied and freed: free pageblocks are the smaller
 * part of the free memory):
 * - page cache writes (allocations that overwrite) take the small zeroed
 *   blocks rather than break up a dirty free pageblock while those are
 *   scarce: the free memory in blocks of order >= 9 shrinks by at most a
 *   quarter of what was written.
 *   Before the bound, an allocation that overwrites looked for a block not
 *   known to be zero at any order and split the dirty pageblocks (32 MiB
 *   written took 23 MiB out of them with plentiful pageblocks, which
 *   the bound now allows);
 * - compaction (/proc/sys/vm/compact_memory), with half of the small
 *   blocks dirtied again, overwrites pre-zeroed pages for at most half of
 *   the pages it migrates (printed: prezero_alloc_unused per migrated
 *   page). Measured 0 before and after the fast free scanner learned to
 *   pass over zeroed blocks: a full compaction does not use that scanner
 *   (direct compaction for an order > 0 does), so this guards the linear
 *   scanner only;
 * - after compaction every page of the holey mapping holds what was
 *   written, or reads zero where it was freed.
 */
#include "zero_page_common.h"

#define HOLEY (256 * MIB)
#define DIRTY_THP (16 * MIB)
#define CACHE (16 * MIB)

static int pagemap_fd = -1;

/* MiB of free memory in blocks of order >= 9. */
static double free_thp_mib(void)
{
	return free_share_from_order(anon_thp_order()) * meminfo_get("MemFree") / 100.0 / MIB;
}

/*
 * 256 MiB of 4 KiB pages, then the pages in frames 4k and 4k+1 freed:
 * free order-1 blocks between allocated ones, which cannot merge.
 */
static char *make_holes(void)
{
	char *p = map_anon(HOLEY, 0, MADV_NOHUGEPAGE);
	size_t off, freed = 0;

	if (!p || madvise(p, HOLEY, MADV_POPULATE_WRITE))
		ksft_exit_fail_msg("4 KiB fault-in failed\n");
	memset(p, 0x3c, HOLEY);
	for (off = 0; off < HOLEY; off += PAGE_SZ) {
		if ((pagemap_get_pfn(pagemap_fd, p + off) & 3) < 2) {
			madvise(p + off, PAGE_SZ, MADV_DONTNEED);
			freed += PAGE_SZ;
		}
	}
	ksft_print_msg("%zu MiB freed in holes of 4 KiB pages\n", freed / MIB);
	return p;
}

/* Every page of p is all 0x3c (kept) or all zero (freed). */
static bool pages_kept(const char *p, size_t len)
{
	size_t off, i;

	for (off = 0; off < len; off += PAGE_SZ) {
		unsigned char c = p[off];

		if (c != 0x3c && c != 0)
			return false;
		for (i = 1; i < PAGE_SZ; i++)
			if ((unsigned char)p[off + i] != c)
				return false;
	}
	return true;
}

/* Writes len bytes of page cache to a new tmpfs file; returns its fd. */
static int write_cache(size_t len)
{
	static char buf[1 << 20];
	int fd = open("/tmp/zeroed_bounds", O_RDWR | O_CREAT | O_TRUNC, 0600);
	size_t done;

	memset(buf, 0x77, sizeof(buf));
	if (fd < 0)
		ksft_exit_fail_msg("tmpfs: %s\n", strerror(errno));
	unlink("/tmp/zeroed_bounds");
	for (done = 0; done < len; done += sizeof(buf))
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			ksft_exit_fail_msg("tmpfs write: %s\n", strerror(errno));
	return fd;
}

int main(void)
{
	long long unused0, migrated0, unused, migrated;
	char *holes, *thp, *filler;
	double before, after;
	size_t filler_len;
	int fd;

	ksft_print_header();
	zp_require();
	pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
	if (pagemap_fd < 0)
		ksft_exit_skip("/proc/self/pagemap: %s\n", strerror(errno));
	if (vmstat_get("pgmigrate_success") < 0)
		ksft_exit_skip("no pgmigrate_success in /proc/vmstat\n");
	/*
	 * With 64K pages a pageblock is 512 MiB, a quarter of the guest, and
	 * the anonymous THPs are 2 MiB mTHP, not pageblocks: free pageblocks
	 * cannot be made scarce without going under the min watermark (the
	 * filler met the OOM killer), and blocks of the THP order say nothing
	 * of them.
	 */
	if (ATHP_SZ != THP_SZ)
		ksft_exit_skip("THPs of %zu KiB are not pageblocks of %zu KiB\n",
			       (size_t)ATHP_SZ / 1024, (size_t)THP_SZ / 1024);
	ksft_set_plan(3);
	zp_save();
	zp_enable_flush_only();
	thp_write_string("enabled", "madvise");

	holes = make_holes();
	zp_flush();
	/*
	 * Free pageblocks scarce: a THP filler takes all but 8 MiB of them,
	 * so that with 16 MiB of dirty THP freed after it they stay well
	 * below half of the free memory, also once the page cache took its
	 * 16 MiB of small blocks.
	 */
	filler_len = ((size_t)free_thp_mib() * MIB - 8 * MIB) & ~(ATHP_SZ - 1);
	filler = map_anon(filler_len, MAP_NORESERVE, MADV_HUGEPAGE);
	if (!filler || madvise(filler, filler_len, MADV_POPULATE_WRITE))
		ksft_exit_fail_msg("THP filler failed\n");
	thp = map_anon(DIRTY_THP, 0, MADV_HUGEPAGE);
	if (!thp)
		ksft_exit_fail_msg("mmap failed\n");
	memset(thp, 0x5a, DIRTY_THP);
	munmap(thp, DIRTY_THP);

	before = free_thp_mib();
	ksft_print_msg(
		"before the page cache: %.0f MiB free, %.0f MiB of it in blocks >= PMD order\n",
		meminfo_get("MemFree") / (double)MIB, before);
	fd = write_cache(CACHE);
	after = free_thp_mib();
	ksft_test_result(before - after <= CACHE / MIB / 4.0,
			 "%lu MiB of page cache: free memory in blocks >= PMD order %.0f -> %.0f MiB\n",
			 CACHE / MIB, before, after);
	close(fd);
	munmap(filler, filler_len);

	/* Half of the holes dirty again, the other half zeroed, then compact. */
	munmap(holes, HOLEY);
	holes = make_holes();
	zp_flush();
	munmap(holes, HOLEY / 2);
	unused0 = vmstat_get("prezero_alloc_unused");
	migrated0 = vmstat_get("pgmigrate_success");
	if (sysfs_write("/proc/sys/vm/compact_memory", "1", 1))
		ksft_exit_fail_msg("compact_memory failed\n");
	unused = vmstat_get("prezero_alloc_unused") - unused0;
	migrated = vmstat_get("pgmigrate_success") - migrated0;
	ksft_print_msg(
		"compaction migrated %lld pages and overwrote %lld pre-zeroed ones (%.2f per page)\n",
		migrated, unused, migrated ? (double)unused / migrated : 0);
	ksft_test_result(migrated > 0 && unused * 2 <= migrated,
			 "compaction overwrites pre-zeroed pages for at most half of what it migrates\n");
	ksft_test_result(pages_kept(holes + HOLEY / 2, HOLEY / 2),
			 "after compaction every page holds what was written or reads zero\n");
	zp_write("enabled", "0");
	ksft_finished();
}
