// SPDX-License-Identifier: GPL-2.0
// vm-run: --append init_on_free=1
/*
 * With init_on_free=1 every freed page is cleared, and the page allocator
 * marks the freed block zero (page_reporting.init_on_free_zeroed, default
 * on):
 * - THP and 4K faults after dirty memory was freed count their clears as
 *   skipped (prezero_alloc_hit), read zeroes only, and verify_zeroed finds
 *   every marked page zero;
 * - zero_page has nothing left to clear: a flush after the same churn
 *   clears next to nothing;
 * - with init_on_free_zeroed=0 freed blocks are not marked: the same
 *   flush clears them again;
 * - page_reporting.zeroed_first never takes effect: every free block is
 *   zero, the order of the free lists cannot help (no log line).
 *
 * Needs init_on_free=1 on the kernel command line; skipped otherwise.
 */
#include "zero_page_common.h"

#define MARK "/sys/module/page_reporting/parameters/init_on_free_zeroed"
#define DIRTY (512 * MIB)

static char saved_mark[8];

static void restore(void)
{
	if (saved_mark[0])
		sysfs_write(MARK, saved_mark[0] == 'Y' ? "1" : "0", 1);
	zp_verify_restore();
}

/* Faults in len bytes with `advice`: clears skipped, or -1/-2 on error. */
static long long fault_in(size_t len, int advice)
{
	char *p = map_anon(len, 0, advice);

	return p ? populate_hits(p, len) : -1;
}

static void churn(void)
{
	char *p = map_anon(DIRTY, 0, MADV_HUGEPAGE);

	if (p) {
		memset(p, 0x6b, DIRTY);
		munmap(p, DIRTY);
	}
}

int main(void)
{
	long long vfailed, vchecked, thp, small;
	unsigned long z0;
	int ret;

	ksft_print_header();
	if (!booted_with("init_on_free=1"))
		ksft_exit_skip("boot with init_on_free=1\n");
	if (sysfs_read(MARK, saved_mark, sizeof(saved_mark)) <= 0)
		ksft_exit_fail_msg(MARK " does not exist\n");
	zp_verify_require(&vfailed, &vchecked);
	atexit(restore);
	ksft_set_plan(6);
	thp_write_string("enabled", "always");
	if (sysfs_write(ZP_VERIFY, "1", 1) || sysfs_write(MARK, "1", 1))
		ksft_exit_fail_msg("cannot set verify_zeroed, init_on_free_zeroed\n");

	churn();
	thp = fault_in(256 * MIB, MADV_HUGEPAGE);
	small = fault_in(64 * MIB, MADV_NOHUGEPAGE);
	ksft_test_result(thp >= (long long)(240 * MIB / PAGE_SZ),
			 "THP faults: zeroes, %lld of %lu clears skipped\n",
			 thp, 256 * MIB / PAGE_SZ);
	ksft_test_result(small >= (long long)(48 * MIB / PAGE_SZ),
			 "4K faults: zeroes, %lld of %lu clears skipped\n",
			 small, 64 * MIB / PAGE_SZ);
	ksft_test_result(vmstat_get("prezero_verify_failed") == vfailed &&
			 vmstat_get("prezero_verify_checked") > vchecked,
			 "verify_zeroed: every marked page was zero\n");

	/* zero_page finds nothing to clear. */
	if (!zp_present() && system("modprobe zero_page"))
		ksft_exit_fail_msg("cannot load zero_page\n");
	zp_save();
	zp_enable_flush_only();
	zp_write("flush", "1");
	churn();
	z0 = zp_read("zeroed_bytes");
	ret = zp_write("flush", "1");
	ksft_test_result(ret == 0 && zp_read("zeroed_bytes") - z0 <= DIRTY / 16,
			 "zero_page: a flush after freeing %lu MiB clears %lu KiB\n",
			 DIRTY / MIB, (zp_read("zeroed_bytes") - z0) >> 10);

	/* Marking off: the blocks freed now are not known to be zero. */
	sysfs_write(MARK, "0", 1);
	churn();
	z0 = zp_read("zeroed_bytes");
	ret = zp_write("flush", "1");
	ksft_test_result(ret == 0 && zp_read("zeroed_bytes") - z0 >= DIRTY / 2,
			 "init_on_free_zeroed=0: the flush clears %lu MiB again\n",
			 (zp_read("zeroed_bytes") - z0) >> 20);
	zp_write("enabled", "0");
	ret = klog_count(ZEROED_FIRST_ON);
	ksft_test_result(ret == 0, "zeroed_first: off under init_on_free (%d log lines)\n", ret);
	ksft_finished();
}
