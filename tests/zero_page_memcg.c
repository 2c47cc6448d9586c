// SPDX-License-Identifier: GPL-2.0
// vm-run: --append init_on_alloc=1
/*
 * A THP that the page allocator cleared for init_on_alloc, but whose memory
 * cgroup charge then failed, goes back known to be zero: the next THP fault
 * on the same CPU gets it from the per-CPU list and skips the clear
 * (prezero_alloc_hit rises by a whole THP). In this boot (init_on_alloc=1,
 * zero_page disabled, no init_on_free) no other free block is known to be
 * zero, so a skipped clear can only be that folio's. (Without init_on_alloc
 * the fault clears its folio after the charge: a folio whose charge failed
 * was not cleared and goes back as it came, unless it was zero already.)
 *
 * Two things outside the path under test could hand that fault another
 * THP, and did in about one run in three: the watermark check
 * of an order-9 allocation counts only blocks on the free lists, not on the
 * per-CPU lists, so with no free pageblock left by the tests before, the
 * fault goes to the slow path and compaction; and the per-CPU list spills to
 * the free lists when the freed THP takes it over its high mark, or when
 * vmstat lowers the mark a second later. So the test compacts memory first
 * and fixes the per-CPU high mark (vm.percpu_pagelist_high_fraction) while
 * it runs.
 *
 * Needs init_on_alloc=1 on the kernel command line (and not init_on_free),
 * THP and the cgroup v2 memory controller; skipped otherwise.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <sys/wait.h>

#include "zero_page_common.h"
#include "cgroup_util.h"

/* Faults in one THP-aligned 2 MiB range with a single write. */
static char *fault_one(void)
{
	char *raw = map_anon(2 * THP_SZ, 0, -1), *p;

	if (!raw)
		return NULL;
	p = (char *)(((uintptr_t)raw + THP_SZ - 1) & ~(THP_SZ - 1));
	madvise(p, THP_SZ, MADV_HUGEPAGE);
	p[0] = 1;
	return p;
}

#define PCP_FRACTION "/proc/sys/vm/percpu_pagelist_high_fraction"

static char pcp_saved[32];

static void pcp_restore(void)
{
	sysfs_write(PCP_FRACTION, pcp_saved, strlen(pcp_saved));
}

int main(void)
{
	long long fallback, hits, thp;
	char thp_mode[64];
	cpu_set_t cpu0;
	int status;
	pid_t pid;
	char *p;

	ksft_print_header();
	if (getuid())
		ksft_exit_skip("must run as root\n");
	if (vmstat_get("prezero_alloc_hit") < 0)
		ksft_exit_skip("no prezero_alloc_hit in /proc/vmstat\n");
	if (!cg_create("zp_memcg", "memory", "memory.max", "1048576"))
		ksft_exit_skip("no cgroup v2 memory controller\n");
	if (zp_present() && zp_read("enabled"))
		ksft_exit_skip("zero_page is enabled\n");
	if (!booted_with("init_on_alloc=1"))
		ksft_exit_skip("boot with init_on_alloc=1\n");
	if (sysfs_read(THP_ENABLED, thp_mode, sizeof(thp_mode)) <= 0)
		ksft_exit_skip("no THP\n");
	if (sysfs_read(PCP_FRACTION, pcp_saved, sizeof(pcp_saved)) <= 0)
		ksft_exit_skip("no %s\n", PCP_FRACTION);
	thp_save_settings();
	atexit(thp_restore_settings);
	thp_write_string("enabled", "madvise");
	/* The smallest fraction: the highest mark, and no decay. */
	if (sysfs_write(PCP_FRACTION, "8", 1))
		ksft_exit_fail_msg("cannot write %s\n", PCP_FRACTION);
	atexit(pcp_restore);
	if (sysfs_write("/proc/sys/vm/compact_memory", "1", 1))
		ksft_exit_fail_msg("cannot compact memory\n");
	CPU_ZERO(&cpu0);
	CPU_SET(0, &cpu0);
	if (sched_setaffinity(0, sizeof(cpu0), &cpu0))
		ksft_exit_fail_msg("sched_setaffinity: %s\n", strerror(errno));
	ksft_set_plan(2);

	fallback = vmstat_get("thp_fault_fallback_charge");
	pid = fork();
	if (pid == 0) {
		/* 2 MiB do not fit in 1 MiB: the THP charge fails. */
		if (!cg_enter("zp_memcg", 0) || !fault_one())
			_exit(1);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	ksft_test_result(WIFEXITED(status) && !WEXITSTATUS(status) &&
			 vmstat_get("thp_fault_fallback_charge") > fallback,
			 "a THP fault in a 1 MiB memory cgroup failed its charge\n");

	hits = vmstat_get("prezero_alloc_hit");
	thp = vmstat_get("thp_fault_alloc");
	p = fault_one();
	hits = vmstat_get("prezero_alloc_hit") - hits;
	thp = vmstat_get("thp_fault_alloc") - thp;
	ksft_test_result(p && thp > 0 && first_nonzero(p + 1, THP_SZ - 1) < 0 &&
			 hits >= (long long)(THP_SZ / PAGE_SZ),
			 "the next THP fault reuses it without a clear (%lld THP faults, %lld pages skipped)\n",
			 thp, hits);
	ksft_finished();
}
