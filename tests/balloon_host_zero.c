// SPDX-License-Identifier: GPL-2.0
// vm-run: --balloon
/*
 * virtio_balloon.host_zeroes_pages: the host (QEMU) discards the memory of
 * the free pages the balloon reports and of the pages it inflates, so they
 * read back as zero, and the guest does not clear them again.
 * - Without the opt-in, a reporting pass marks nothing.
 * - With it (and page_reporting.verify_zeroed=1), 4K, THP and hugetlb
 *   surplus faults after a pass read zeroes only and skip their clears
 *   (prezero_alloc_hit), and the guest checked what it trusted
 *   (prezero_host_checked).
 * - Deflated pages come back known to be zero, checked.
 * - A host that breaks its promise (host_zero_test_dirty writes into a block
 *   after the host acknowledged it) is caught: one log line, the pages are
 *   counted in prezero_host_failed, nothing is marked any more, what was
 *   marked before is forgotten, nothing stale reaches user space.
 *
 * Needs a virtio-balloon device with free page reporting (QEMU: -device
 * virtio-balloon-pci,free-page-reporting=on); skipped without one. The
 * deflate case also needs the host to resize the balloon on request (see
 * balloon_common.h), the broken promise a kernel with CONFIG_DEBUG_VM
 * (host_zero_test_dirty); they skip otherwise.
 */
#include "balloon_common.h"

#define PATTERN 0xa5
#define KEEP (96 * MIB)
/* 2 MiB hugetlb pages, whatever the default size (512 MiB with 64K pages) */
#define HUGETLB_2M "/sys/kernel/mm/hugepages/hugepages-2048kB/"
#define OVERCOMMIT HUGETLB_2M "nr_overcommit_hugepages"
#define MAP_HUGE_2M (21 << MAP_HUGE_SHIFT)
#define TEST_DIRTY "/sys/module/virtio_balloon/parameters/host_zero_test_dirty"
#define TRUST_MSG "checking, then trusting it"
#define PR_ORDER "/sys/module/page_reporting/parameters/page_reporting_order"
/*
 * The driver reads every byte of what the host acknowledged first, and the
 * block that ends that budget in full: at most a MAX_PAGE_ORDER block,
 * 4 MiB with 4K pages, 512 MiB with 64K pages.
 */
#define CHECK_ALL (64 * MIB)
#define BROKEN_MSG "no longer trusted"

static long long saved_overcommit = -1;

static void restore(void)
{
	if (saved_overcommit >= 0) {
		char buf[32];

		snprintf(buf, sizeof(buf), "%lld", saved_overcommit);
		write_str(OVERCOMMIT, buf);
	}
	zp_verify_restore();
	thp_restore_settings();
	/* A driver that stopped trusting the host is reset by a reload. */
	balloon_load(false);
}

/*
 * Faults in len bytes of anonymous memory (mmap flags, madvise advice);
 * returns whether it could be had and read as zero.
 */
static bool fault_in(size_t len, int flags, int advice)
{
	char *p = map_anon(len, flags, advice);

	return p && populate_hits(p, len) >= 0;
}

struct deltas {
	long long pages, checked, failed, hit, verify_failed;
};

static struct deltas snap(void)
{
	return (struct deltas){
		vmstat_get("prezero_pages"), vmstat_get("prezero_host_checked"),
		vmstat_get("prezero_host_failed"), vmstat_get("prezero_alloc_hit"),
		vmstat_get("prezero_verify_failed"),
	};
}

static struct deltas since(struct deltas a)
{
	struct deltas b = snap();

	return (struct deltas){
		b.pages - a.pages, b.checked - a.checked, b.failed - a.failed,
		b.hit - a.hit, b.verify_failed - a.verify_failed,
	};
}

/* Size of the guest's RAM as QEMU counts it, in MiB (MemTotal rounded up). */
static unsigned long guest_ram_mib(void)
{
	unsigned long mib = meminfo_get("MemTotal") / MIB;

	return (mib + 511) / 512 * 512;
}

int main(void)
{
	long long vfailed, vchecked;
	struct deltas probe, d0, d;
	long long order, limit;
	unsigned long ram;
	char *held;
	bool zero;
	int ret, before;

	ksft_print_header();
	balloon_host_zero_require(&vfailed, &vchecked);
	saved_overcommit = read_num_file(OVERCOMMIT);
	atexit(restore);
	ksft_set_plan(16);

	/* No opt-in: the host may or may not zero, the guest trusts nothing. */
	ksft_test_result(balloon_load(false), "virtio_balloon without host zeroing\n");
	dirty_free_memory(KEEP, PATTERN);
	d0 = snap();
	ret = pr_flush();
	d = since(d0);
	ksft_test_result(ret == 0 && d.pages == 0 && d.checked == 0,
			 "without opt-in a pass marks nothing (%d, %lld pages, %lld checked)\n",
			 ret, d.pages, d.checked);
	thp_write_string("enabled", "always");
	/* 4K: freed THPs would stay dirty on the per-CPU lists. */
	d0 = snap();
	zero = fault_in(64 * MIB, 0, MADV_NOHUGEPAGE);
	d = since(d0);
	ksft_test_result(zero && d.hit == 0,
			 "without opt-in faults clear (zeroes %d, %lld hits)\n", zero, d.hit);

	/* Opt-in, with the allocator checking every pre-zeroed page. */
	if (sysfs_write(ZP_VERIFY, "1", 1))
		ksft_exit_fail_msg("cannot enable verify_zeroed\n");
	before = klog_count(TRUST_MSG);
	probe = snap();
	ksft_test_result(balloon_load(true) && klog_count(TRUST_MSG) == before + 1,
			 "virtio_balloon host_zeroes_pages=1 says it checks\n");
	dirty_free_memory(KEEP, PATTERN);
	d0 = snap();
	ret = pr_flush();
	d = since(d0);
	ksft_test_result(ret == 0 && d.pages >= (long long)(256 * MIB / PAGE_SZ) &&
			 d.checked > 0 && d.failed == 0,
			 "a pass marks host-zeroed blocks, checked (%d, %lld pages, %lld checked)\n",
			 ret, d.pages, d.checked);

	/*
	 * What the check reads, the host backs again where guest memory is
	 * shared: after the first CHECK_ALL, one page per reported block.
	 */
	d = since(probe);
	order = read_num_file(PR_ORDER);
	limit = CHECK_ALL / PAGE_SZ + (1L << max_page_order()) +
		(order >= 0 ? d.pages >> order : 0);
	ksft_test_result(order >= 0 && d.checked <= limit,
			 "since probe the check read %lld pages of %lld marked (at most %lld)\n",
			 d.checked, d.pages, limit);

	/*
	 * hugetlb first: the THPs that the THP faults free stay dirty on the
	 * per-CPU lists, where the next allocation of that order finds them.
	 */
	write_str(HUGETLB_2M "nr_hugepages", "0");
	write_str(OVERCOMMIT, "16");
	d0 = snap();
	zero = fault_in(16 * MIB, MAP_HUGETLB | MAP_HUGE_2M, -1);
	d = since(d0);
	ksft_test_result(zero && d.hit >= (long long)(2 * MIB / PAGE_SZ),
			 "hugetlb surplus faults: zeroes %d, %lld pages skipped\n", zero, d.hit);
	/* Free blocks below the reporting order come first, and are dirty. */
	d0 = snap();
	zero = fault_in(128 * MIB, 0, MADV_NOHUGEPAGE);
	d = since(d0);
	ksft_test_result(zero && d.hit > 0,
			 "4K faults: zeroes %d, %lld clears skipped\n", zero, d.hit);
	d0 = snap();
	zero = fault_in(128 * MIB, 0, MADV_HUGEPAGE);
	d = since(d0);
	ksft_test_result(zero && d.hit >= (long long)(64 * MIB / PAGE_SZ),
			 "THP faults: zeroes %d, %lld pages skipped\n", zero, d.hit);
	ksft_test_result(vmstat_get("prezero_verify_failed") == vfailed &&
			 vmstat_get("prezero_verify_checked") > vchecked,
			 "verify_zeroed: every pre-zeroed page was zero\n");

	/* Deflate: the host discarded the pages when they were inflated. */
	ram = guest_ram_mib();
	if (!balloon_resize(ram - 256, "balloon_inflate", 256 * MIB / PAGE_SZ)) {
		ksft_test_result_skip("the host did not inflate the balloon\n");
		ksft_test_result_skip("deflate\n");
	} else {
		ksft_test_result_pass("inflated by 256 MiB through the monitor\n");
		d0 = snap();
		ret = balloon_resize(ram, "balloon_deflate", 256 * MIB / PAGE_SZ);
		d = since(d0);
		ksft_test_result(ret && d.pages >= (long long)(256 * MIB / PAGE_SZ) &&
				 d.checked > 0 && d.failed == 0,
				 "deflated pages come back marked, checked (%lld pages, %lld checked)\n",
				 d.pages, d.checked);
	}

	/*
	 * The host breaks its promise for the next block it acknowledges, in
	 * the background pass or in the immediate one. A pass first marks the
	 * free memory; 128 MiB written and freed are what the host then fails
	 * to zero: the blocks marked before stay free meanwhile.
	 */
	if (access(TEST_DIRTY, W_OK)) {
		/* Only a kernel with CONFIG_DEBUG_VM can make the host lie. */
		for (int i = 0; i < 4; i++)
			ksft_test_result_skip(
				"a host that breaks its promise: no %s (CONFIG_DEBUG_VM)\n",
				TEST_DIRTY);
		ksft_finished();
	}
	pr_flush();
	held = map_anon(128 * MIB, 0, MADV_HUGEPAGE);
	if (!held)
		ksft_exit_fail_msg("cannot map 128 MiB\n");
	memset(held, PATTERN, 128 * MIB);
	before = klog_count(BROKEN_MSG);
	d0 = snap();
	if (write_str(TEST_DIRTY, "1"))
		ksft_exit_fail_msg("cannot write " TEST_DIRTY "\n");
	munmap(held, 128 * MIB);
	ret = pr_flush();
	d = since(d0);
	ksft_test_result(ret == 0 && d.failed > 0 && klog_count(BROKEN_MSG) == before + 1,
			 "a block the host did not zero is caught, one log line (%lld pages)\n",
			 d.failed);
	/*
	 * Blocks marked before the host was caught are not trusted either:
	 * once only samples are read, those may be just as wrong.
	 */
	d0 = snap();
	zero = fault_in(128 * MIB, 0, MADV_HUGEPAGE);
	d = since(d0);
	ksft_test_result(zero && d.hit == 0,
			 "no block marked before is trusted after (%lld clears skipped)\n",
			 d.hit);
	churn_memory(256 * MIB);
	d0 = snap();
	ret = pr_flush();
	d = since(d0);
	ksft_test_result(ret == 0 && d.pages == 0 && d.checked == 0,
			 "then nothing is marked or checked any more (%lld, %lld)\n",
			 d.pages, d.checked);
	d0 = snap();
	zero = fault_in(256 * MIB, 0, MADV_HUGEPAGE);
	d = since(d0);
	ksft_test_result(zero && d.verify_failed == 0,
			 "nothing stale reaches user space (zeroes %d, %lld not zero)\n",
			 zero, d.verify_failed);
	ksft_finished();
}
