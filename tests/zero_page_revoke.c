// SPDX-License-Identifier: GPL-2.0
// vm-run: --mem 4G --append hugepagesz=1G
/*
 * A zero_bytes writer clears the free blocks of a batch isolated from the
 * free lists (up to 16 MiB). Throttled by its cgroup's cpu.max, it may hold
 * that batch for seconds. alloc_contig_range() (1 GiB hugetlb pages here;
 * CMA, virtio-mem and memory offlining the same) used to wait for it, up to
 * a second per range, and then failed the range: a kernel path waiting on a
 * user task's CPU quota. It now takes such a batch back: the writer touches
 * its pages only a page at a time with preemption off, so an RCU grace
 * period after the batch is revoked its blocks are free again.
 *
 * - 1 GiB pages are allocated next to two writers limited to 1% of a CPU
 *   that clear all free memory, as fast (within 0.5 s) as without them, and
 *   every allocation succeeds;
 * - the writers made progress, and verify_zeroed finds every pre-zeroed page
 *   that was allocated zero (a batch that was taken back is not marked).
 *
 * Needs 1 GiB huge pages (boot with hugepagesz=1G; 4 GiB of memory will do)
 * and the cgroup v2 CPU controller; skipped otherwise.
 */
#include <sys/wait.h>

#include "zero_page_common.h"
#include "cgroup_util.h"

#define ROUNDS 6
#define WRITERS 2

/* Seconds to grow the pool to one 1 GiB page, -1 if that failed. */
static double alloc_gigantic(void)
{
	double t0 = now_secs(), secs;

	if (!gigantic_pool_set(1))
		return -1;
	secs = now_secs() - t0;
	return gigantic_pool_get() == 1 ? secs : -1;
}

/* A writer in cgroup @cg clearing all free memory again and again. */
static pid_t start_writer(const char *cg)
{
	pid_t pid = fork();

	if (pid == 0) {
		if (!cg_enter(cg, 0))
			_exit(2);
		for (;;)
			zp_write("zero_bytes", "max");
	}
	return pid;
}

int main(void)
{
	long long failed0, checked0;
	double base = 1e9, worst = 0, secs;
	unsigned long z0, z1;
	pid_t writers[WRITERS];
	int i, ok = 0;

	ksft_print_header();
	ksft_set_plan(3);
	zp_require();
	if (gigantic_pool_get() < 0)
		ksft_exit_skip("no 1 GiB hugetlb pages (" GIGANTIC_POOL ")\n");
	zp_verify_require(&failed0, &checked0);
	atexit(zp_verify_restore);
	zp_save();
	zp_enable_verified();
	zp_write("background", "0");
	if (!cg_create("zp_throttled", "cpu", "cpu.max", "1000 100000"))
		ksft_exit_skip("no cpu.max\n");

	/* Without writers. */
	dirty_free_memory(512 * MIB, 0x5a);
	for (i = 0; i < 3; i++) {
		secs = alloc_gigantic();
		if (secs >= 0 && secs < base)
			base = secs;
		gigantic_pool_set(0);
	}
	if (base > 1e8)
		ksft_exit_skip("cannot allocate a 1 GiB page even without writers\n");

	/* With throttled writers holding batches of dirty free memory. */
	dirty_free_memory(512 * MIB, 0xa5);
	z0 = zp_read("zeroed_bytes");
	for (i = 0; i < WRITERS; i++)
		writers[i] = start_writer("zp_throttled");
	for (i = 0; i < 500 && zp_read("zeroed_bytes") == z0; i++)
		usleep(10000);
	sleep(1);
	for (i = 0; i < ROUNDS; i++) {
		secs = alloc_gigantic();
		ksft_print_msg("round %d: 1 GiB page in %.3f s (%.3f s without writers)\n",
			       i, secs, base);
		if (secs >= 0)
			ok++;
		if (secs < 0 || secs > worst)
			worst = secs < 0 ? 1e9 : secs;
		gigantic_pool_set(0);
		usleep(300000);
	}
	z1 = zp_read("zeroed_bytes");
	/*
	 * Since Linux 7.x cpu.max throttles a task only on its way back to
	 * user space: a write of "max" runs to its end and leaves the group
	 * seconds of CPU time in debt, paid back at 1% of a CPU. A writer
	 * killed now would sit in that throttle for minutes before it could
	 * exit: lift the quota first.
	 */
	cg_write(CG_ROOT "/zp_throttled/cpu.max", "max 100000");
	for (i = 0; i < WRITERS; i++)
		kill(writers[i], SIGKILL);
	for (i = 0; i < WRITERS; i++)
		waitpid(writers[i], NULL, 0);

	ksft_test_result(ok == ROUNDS && worst < base + 0.5,
			 "%d of %d 1 GiB pages next to throttled writers, slowest %.3f s, %.3f s without\n",
			 ok, ROUNDS, worst > 1e8 ? -1 : worst, base);
	ksft_test_result(z1 > z0, "the throttled writers cleared %lu KiB meanwhile\n",
			 (z1 - z0) >> 10);

	/* What the writers marked is zero when it is allocated. */
	churn_memory(256 * MIB);
	zp_verify_result(failed0, checked0);
	ksft_finished();
}
