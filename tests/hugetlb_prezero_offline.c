// SPDX-License-Identifier: GPL-2.0
// vm-run: --mem 4G --append hugepagesz=1G --append hugepages=1
/*
 * Soft offline of a free 1 GiB page while a writer zeroes it.
 *
 * Memory failure's soft offline, memory offlining and contiguous
 * allocations dissolve free huge pages with dissolve_free_hugetlb_folio().
 * It used to take the page from its zeroer while the page was still on the
 * free list and then look again: the zeroer, told to give up, claimed the
 * same free page at once, and a 1 GiB clear outlasts the grace period the
 * dissolver waits, so neither finished (the soft offline did not return in
 * 40 s, holding mf_mutex). Now the dissolver takes the page off the free
 * list first: the zeroer cannot claim it again, and nobody can allocate it
 * while the zeroer may still be writing to it.
 *
 * Checked with an unthrottled zeroer (the livelock) and with one limited to
 * 1% of a CPU (no wait for its quota). Should a soft offline hang, the test
 * kills the zeroer, which ends the loop, and reports the failure.
 *
 * Needs a 1 GiB page (boot with hugepagesz=1G hugepages=1, 4 GiB of memory
 * will do), CONFIG_MEMORY_FAILURE and the cgroup v2 CPU controller; skipped
 * otherwise.
 */
#include <sys/wait.h>

#include "hugetlb_prezero_common.h"
#include "cgroup_util.h"

#define KB HP_1G_KB
#define SOFT_OFFLINE "/sys/devices/system/memory/soft_offline_page"
#define UNPOISON "/sys/kernel/debug/hwpoison/unpoison-pfn"

/* The physical address of the free 1 GiB page: map it, look, unmap it. */
static unsigned long long free_page_phys(void)
{
	unsigned long pfn = -1UL;
	char *p = hp_map(KB, 1);
	int fd;

	if (!p)
		return 0;
	hp_touch(p, KB, 1);
	fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd >= 0) {
		pfn = pagemap_get_pfn(fd, p);
		close(fd);
	}
	munmap(p, KB * 1024);
	if (pfn == -1UL)
		return 0;
	return (unsigned long long)pfn * getpagesize();
}

static pid_t start_zeroer(const char *cgroup)
{
	pid_t pid = fork();

	if (pid == 0) {
		if (cgroup && !cg_enter(cgroup, 0))
			_exit(1);
		_exit(hp_zero(0, KB, 1) ? 1 : 0);
	}
	return pid;
}

/* Waits until the page is being zeroed. */
static bool wait_zeroing(void)
{
	double start = now_secs();

	while (now_secs() - start < 20) {
		if (hp_zeroable(0, KB) == 0 && hp_zeroed(0, KB) == 0 &&
		    hp_free(0, KB) == 1)
			return true;
		usleep(1000);
	}
	return false;
}

/*
 * Soft-offlines the free page at @phys while a zeroer (in @cgroup, or
 * unthrottled) clears it; returns whether it completed within 10 s.
 */
static void offline_while_zeroing(const char *what, const char *cgroup)
{
	unsigned long long phys;
	long long pages = hp_stat("zeroed_pages");
	pid_t zeroer, offliner;
	double t0, t_off;
	char buf[64];
	int rc, zrc;

	phys = hp_set_pool(0, KB, 1) == 1 ? free_page_phys() : 0;
	if (!phys) {
		ksft_test_result_skip("%s: no free 1 GiB page\n", what);
		ksft_test_result_skip("%s: the zeroer's write\n", what);
		return;
	}
	zeroer = start_zeroer(cgroup);
	if (!wait_zeroing()) {
		kill(zeroer, SIGKILL);
		waitpid(zeroer, NULL, 0);
		ksft_exit_fail_msg("%s: the zeroer did not start\n", what);
	}

	t0 = now_secs();
	offliner = fork();
	if (offliner == 0) {
		snprintf(buf, sizeof(buf), "0x%llx\n", phys);
		_exit(write_str(SOFT_OFFLINE, buf) ? 1 : 0);
	}
	rc = wait_child(offliner, 10);
	t_off = now_secs() - t0;
	if (rc < 0) {
		/* Livelocked: killing the zeroer ends it. */
		kill(zeroer, SIGKILL);
		rc = wait_child(offliner, 60);
		ksft_print_msg(
			"%s: soft offline still running after 10 s; %s once the zeroer was killed\n",
			what, rc < 0 ? "still running" : "done");
		if (rc < 0)
			ksft_exit_fail_msg("soft offline hangs\n");
		rc = -1;
	}
	ksft_test_result(rc == 0 && t_off < 10 && hp_nr(0, KB) == 0,
			 "%s: soft offline of the page being zeroed took %.3f s, pool %lld\n",
			 what, t_off, hp_nr(0, KB));

	/* The zeroer lost its page: its write ends, zeroing nothing. */
	if (cgroup)
		cg_write(CG_ROOT "/hp_offline/cpu.max", "max 100000");
	zrc = wait_child(zeroer, 20);
	if (zrc < 0) {
		kill(zeroer, SIGKILL);
		waitpid(zeroer, NULL, 0);
	}
	ksft_test_result(zrc == 0 && hp_stat("zeroed_pages") == pages &&
			 hp_zeroable(0, KB) == 0 && hp_zeroed(0, KB) == 0,
			 "%s: the zeroer's write ends without the page (exit %d, zeroed_pages %lld -> %lld)\n",
			 what, zrc, pages, hp_stat("zeroed_pages"));

	/* Give the poisoned base page back, where the kernel lets us. */
	snprintf(buf, sizeof(buf), "%llu\n", phys / getpagesize());
	write_str(UNPOISON, buf);
}

int main(void)
{
	ksft_print_header();
	hp_require_gigantic();
	if (access(SOFT_OFFLINE, W_OK))
		ksft_exit_skip("no %s (CONFIG_MEMORY_FAILURE)\n", SOFT_OFFLINE);
	if (!cg_create("hp_offline", "cpu", "cpu.max", "1000 100000"))
		ksft_exit_skip("no cgroup v2 CPU controller with cpu.max\n");
	system("modprobe hwpoison_inject 2>/dev/null; "
	       "mount -t debugfs none /sys/kernel/debug 2>/dev/null");
	/*
	 * A fresh page, not zeroed. Without a 1 GiB page to be had nothing
	 * below runs: skip rather than pass with every result skipped.
	 */
	hp_set_pool(0, KB, 0);
	if (hp_set_pool(0, KB, 1) != 1) {
		hp_set_pool(0, KB, 0);
		ksft_exit_skip("cannot get a 1 GiB page (boot with hugepagesz=1G hugepages=1)\n");
	}
	hp_set_pool(0, KB, 0);
	ksft_set_plan(4);

	offline_while_zeroing("unthrottled zeroer", NULL);
	hp_set_pool(0, KB, 0);
	offline_while_zeroing("zeroer at 1% of a CPU", "hp_offline");

	ksft_finished();
}
