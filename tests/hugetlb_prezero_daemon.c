// SPDX-License-Identifier: GPL-2.0
// vm-run: --numa 2 --mem 2G
/*
 * tools/hugetlb-prezerod keeps the pools of both nodes zeroed: it zeroes what
 * is there at start, what comes back to the pool after use and what a pool
 * grows by, and exits 0 promptly on SIGTERM. Skipped unless the daemon binary
 * is found ($HUGETLB_PREZEROD, ./, /bin or /tests).
 */
#include "hugetlb_prezero_common.h"

#define KB HP_2M_KB

static const char *find_daemon(void)
{
	static const char *const paths[] = {
		"./hugetlb-prezerod", "/bin/hugetlb-prezerod",
		"/tests/hugetlb-prezerod", "/root/hugetlb-prezerod",
	};
	const char *env = getenv("HUGETLB_PREZEROD");
	unsigned int i;

	if (env && !access(env, X_OK))
		return env;
	for (i = 0; i < ARRAY_SIZE(paths); i++)
		if (!access(paths[i], X_OK))
			return paths[i];
	return NULL;
}

/*
 * Waits up to @secs for both nodes to have nothing zeroable and nothing
 * being zeroed: every free page is zeroed.
 */
static bool settles(double secs)
{
	double end = hp_now() + secs;

	while (hp_now() < end) {
		if (hp_zeroable(0, KB) == 0 && hp_zeroable(1, KB) == 0 &&
		    hp_zeroed(0, KB) == hp_free(0, KB) &&
		    hp_zeroed(1, KB) == hp_free(1, KB))
			return true;
		usleep(20000);
	}
	return false;
}

int main(void)
{
	const char *daemon = find_daemon();
	int status = 0;
	double t0, dt;
	pid_t pid, w;
	char *p;

	ksft_print_header();
	hp_require(2);
	if (!daemon)
		ksft_exit_skip("hugetlb-prezerod not found (copy it into the guest)\n");
	ksft_set_plan(5);

	hp_set_pool(0, KB, 0);
	hp_set_pool(1, KB, 0);
	if (hp_set_pool(0, KB, 32) != 32 || hp_set_pool(1, KB, 16) != 16)
		ksft_exit_skip("cannot allocate 32 + 16 huge pages\n");

	pid = fork();
	if (pid == 0) {
		execl(daemon, daemon, "--threads", "2", "--sizes", "2048", NULL);
		_exit(127);
	}

	ksft_test_result(settles(30) && hp_zeroed(0, KB) == 32 && hp_zeroed(1, KB) == 16,
			 "the daemon zeroes both pools\n");

	hp_bind_node(1);
	p = hp_map(KB, 8);
	if (p) {
		memset(p, 0x77, 8 * KB * 1024);
		munmap(p, 8 * KB * 1024);
	}
	hp_unbind();
	ksft_test_result(p && settles(30) && hp_zeroed(1, KB) == 16,
			 "pages coming back to the pool are zeroed again\n");

	hp_set_pool(0, KB, 48);
	ksft_test_result(settles(30) && hp_zeroed(0, KB) == 48,
			 "a growing pool gets zeroed\n");

	ksft_test_result(hp_counts_consistent(KB, 2),
			 "counts are exact\n");

	t0 = hp_now();
	kill(pid, SIGTERM);
	w = waitpid(pid, &status, 0);
	dt = hp_now() - t0;
	ksft_test_result(w == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
			 dt < 5.0,
			 "SIGTERM stops the daemon cleanly in %.3f s (status %d)\n", dt,
			 status);

	ksft_finished();
}
