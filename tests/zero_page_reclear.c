// SPDX-License-Identifier: GPL-2.0
/*
 * Each freed byte is cleared about once. Once a flush has zeroed the free
 * memory, a second flush clears (almost) nothing; faulting in and freeing
 * one THP, or 1 MiB of 4 KiB pages, and flushing again clears at most 1.1
 * bytes per byte freed (zeroed_bytes over the size freed), although the
 * blocks split for the allocation are left behind and the freed blocks
 * merge with the zero blocks around them. The faults run on CPU 1, which
 * is taken offline and back before each flush, so that its per-CPU lists
 * give the freed pages back to the buddy allocator.
 */
#define _GNU_SOURCE
#include <sched.h>

#include "zero_page_common.h"

#define ROUNDS 8
#define CPU1_ONLINE "/sys/devices/system/cpu/cpu1/online"

static size_t chunk;

static bool run_on(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) == 0;
}

/* Empties the per-CPU free lists of CPU 1 into the buddy allocator. */
static bool drain_cpu1(void)
{
	return run_on(0) && !write_file(CPU1_ONLINE, "0", 1) &&
	       !write_file(CPU1_ONLINE, "1", 1);
}

/* Faults in chunk bytes (THPs or 4 KiB pages) on CPU 1, dirties, frees. */
static bool fault_free(bool thp)
{
	char *raw, *p;

	if (!run_on(1))
		return false;
	raw = map_anon(chunk + THP_SZ, 0, -1);
	if (!raw)
		return false;
	p = (char *)(((uintptr_t)raw + THP_SZ - 1) & ~(THP_SZ - 1));
	madvise(p, chunk, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	memset(p, 0x5a, chunk);
	munmap(raw, chunk + THP_SZ);
	return drain_cpu1();
}

/* Bytes cleared per byte freed over ROUNDS rounds of fault_free() + flush. */
static double reclear_ratio(bool thp, long long *thp_faults)
{
	unsigned long before = zp_read("zeroed_bytes");
	long long faults = vmstat_get("thp_fault_alloc");

	chunk = thp ? THP_SZ : MIB;
	for (int r = 0; r < ROUNDS; r++) {
		if (!fault_free(thp) || zp_write("flush", "1"))
			return -1;
	}
	*thp_faults = vmstat_get("thp_fault_alloc") - faults;
	return (double)(zp_read("zeroed_bytes") - before) / (ROUNDS * chunk);
}

int main(void)
{
	unsigned long before, again;
	long long thp_faults;
	double thp, small;
	int ret;

	ksft_print_header();
	zp_require();
	if (access(CPU1_ONLINE, W_OK))
		ksft_exit_skip("needs a second CPU that can go offline\n");
	zp_save();
	zp_defaults();
	thp_set("madvise");
	/* Only flushes clear: no pass in the background. */
	zp_write("delay_millisecs", "3600000");
	ret = zp_write("enabled", "1");
	if (ret)
		ksft_exit_skip("cannot enable zero_page: %s\n", strerror(-ret));
	ksft_set_plan(3);

	/* Start from zeroed free memory and empty per-CPU lists on CPU 1. */
	drain_cpu1();
	zp_write("flush", "1");
	zp_write("flush", "1");
	before = zp_read("zeroed_bytes");
	zp_write("flush", "1");
	again = zp_read("zeroed_bytes") - before;
	ksft_test_result(again <= 4 * MIB,
			 "a flush of zeroed free memory clears %lu KiB\n", again >> 10);

	thp = reclear_ratio(true, &thp_faults);
	ksft_test_result(thp >= 0 && thp <= 1.1 && thp_faults >= ROUNDS / 2,
			 "THPs: %.3f bytes cleared per byte freed (%lld THP faults)\n",
			 thp, thp_faults);
	small = reclear_ratio(false, &thp_faults);
	ksft_test_result(small >= 0 && small <= 1.1,
			 "4 KiB pages: %.3f bytes cleared per byte freed\n", small);
	ksft_finished();
}
