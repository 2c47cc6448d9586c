// SPDX-License-Identifier: GPL-2.0
// vm-run: --mem 6G --append hugepagesz=1G --append hugepages=2
/*
 * No kernel path waits for a zeroer's CPU quota. A task in a cgroup limited
 * to 1% of a CPU (cpu.max "1000 100000") zeroes 1 GiB pages, which takes it
 * minutes; shrinking the pool meanwhile (which frees the page being zeroed)
 * completes within seconds, the zeroer's write ends with the page it lost
 * (once it gets the CPU time to return), nothing is reported hung, and the
 * zeroer can be killed at once. A fault that gets the page being zeroed
 * waits for the zeroer only briefly, then takes the page and clears it
 * itself: VM start is not bound by a throttled daemon's quota.
 *
 * Needs two 1 GiB pages on node 0 (boot with hugepagesz=1G hugepages=2,
 * 6 GiB of memory will do) and the cgroup v2 CPU controller; skipped
 * otherwise.
 */
#include <sys/wait.h>

#include "hugetlb_prezero_common.h"
#include "cgroup_util.h"

#define KB HP_1G_KB
#define HUNG_TIMEOUT "/proc/sys/kernel/hung_task_timeout_secs"

static bool kmsg_has(const char *what)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "dmesg | grep -q '%s'", what);
	return system(cmd) == 0;
}

static pid_t start_zeroer(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		if (!cg_enter("hp_throttled", 0))
			_exit(1);
		hp_zero(0, KB, 0);
		_exit(0);
	}
	return pid;
}

/* Waits until a 1 GiB page is being zeroed (fewer zeroable than free). */
static bool wait_zeroing(void)
{
	double start = now_secs();

	while (now_secs() - start < 20) {
		if (hp_zeroable(0, KB) < hp_free(0, KB) - hp_zeroed(0, KB))
			return true;
		usleep(1000);
	}
	return false;
}

int main(void)
{
	char saved_hung[32] = "";
	double t0, t_shrink, t_kill, t_fault;
	long long pages;
	pid_t zeroer, fault_child;
	int status, rc;
	FILE *f;

	ksft_print_header();
	hp_require_gigantic();
	if (!cg_create("hp_throttled", "cpu", "cpu.max", "1000 100000"))
		ksft_exit_skip("no cgroup v2 CPU controller with cpu.max\n");
	/* Fresh pages are not zeroed (another test may have zeroed the pool). */
	hp_set_pool(0, KB, 0);
	hp_set_pool(0, KB, 2);
	if (hp_free(0, KB) < 2 || hp_zeroable(0, KB) < 2)
		ksft_exit_skip("cannot get two zeroable 1 GiB pages on node0\n");
	ksft_set_plan(5);

	/* Report tasks blocked for 5 s (restored at exit). */
	f = fopen(HUNG_TIMEOUT, "r");
	if (f) {
		if (!fgets(saved_hung, sizeof(saved_hung), f))
			saved_hung[0] = '\0';
		fclose(f);
		write_str(HUNG_TIMEOUT, "5\n");
	}

	pages = hp_stat("zeroed_pages");
	zeroer = start_zeroer();
	if (!wait_zeroing())
		ksft_exit_fail_msg("the throttled zeroer did not start\n");

	/* Free both pages, the one being zeroed included. */
	t0 = now_secs();
	hp_write_num(0, KB, "nr_hugepages", 0);
	t_shrink = now_secs() - t0;
	ksft_test_result(hp_nr(0, KB) == 0 && t_shrink < 5,
			 "shrinking the pool under a throttled zeroer takes %.3f s\n",
			 t_shrink);

	/*
	 * The zeroer lost its page: once it may run again, its write ends
	 * without zeroing anything.
	 */
	cg_write(CG_ROOT "/hp_throttled/cpu.max", "max 100000");
	t0 = now_secs();
	rc = wait_child(zeroer, 10);
	ksft_print_msg("zeroed_pages %lld -> %lld, exit %d, pool %lld free %lld\n",
		       pages, hp_stat("zeroed_pages"), rc, hp_nr(0, KB), hp_free(0, KB));
	ksft_test_result(hp_stat("zeroed_pages") == pages && now_secs() - t0 < 10,
			 "the zeroer's write ends with the page it lost (%.3f s)\n",
			 now_secs() - t0);
	if (now_secs() - t0 >= 10) {
		kill(zeroer, SIGKILL);
		waitpid(zeroer, &status, 0);
	}

	/* A throttled zeroer in the middle of a 1 GiB page dies at once. */
	cg_write(CG_ROOT "/hp_throttled/cpu.max", "1000 100000");
	hp_set_pool(0, KB, 1);
	zeroer = start_zeroer();
	if (!wait_zeroing())
		ksft_exit_fail_msg("the throttled zeroer did not start again\n");
	t0 = now_secs();
	kill(zeroer, SIGKILL);
	waitpid(zeroer, &status, 0);
	t_kill = now_secs() - t0;
	ksft_test_result(t_kill < 5 && hp_zeroable(0, KB) == 1,
			 "SIGKILL ends a throttled zeroer in %.3f s, the page stays zeroable\n",
			 t_kill);

	/*
	 * A fault on the only free page while a throttled zeroer clears it
	 * (before: the fault waited for the zeroer's quota, minutes per 1 GiB).
	 */
	hp_set_pool(0, KB, 0);
	hp_set_pool(0, KB, 1);
	zeroer = start_zeroer();
	if (!wait_zeroing())
		ksft_exit_fail_msg("the throttled zeroer did not start a third time\n");
	t0 = now_secs();
	fault_child = fork();
	if (fault_child == 0) {
		char *p = hp_map(KB, 1);

		if (!p)
			_exit(2);
		memset(p, 0x5a, 4096);
		_exit(hp_first_nonzero(p + 4096, KB * 1024 - 4096) == -1 ? 0 : 1);
	}
	rc = wait_child(fault_child, 30);
	t_fault = now_secs() - t0;
	if (rc < 0) {
		/* Killing the zeroer lets the fault go on. */
		kill(zeroer, SIGKILL);
		rc = wait_child(fault_child, 60);
	}
	ksft_test_result(t_fault < 30 && rc == 0,
			 "a fault on the page a throttled zeroer clears takes %.3f s and reads zeroes (exit %d)\n",
			 t_fault, rc);
	kill(zeroer, SIGKILL);
	waitpid(zeroer, &status, 0);

	sleep(6);
	ksft_test_result(!kmsg_has("blocked for more than"),
			 "no task was reported hung\n");

	if (saved_hung[0])
		write_str(HUNG_TIMEOUT, saved_hung);
	ksft_finished();
}
