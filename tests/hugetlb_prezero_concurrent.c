// SPDX-License-Identifier: GPL-2.0
// vm-run: --numa 2 --mem 2G
/*
 * Several writers in parallel, on one node and on both nodes at once, each
 * take different pages: every page is zeroed exactly once (zeroed_pages grows
 * by the pool size, not more) and the counts end exact.
 *
 * Needs two NUMA nodes (and memory for the pools: 2 GiB in all will do);
 * skipped otherwise.
 */
#include "hugetlb_prezero_common.h"

#define KB HP_2M_KB
#define WRITERS 4

/* Forks @n writers; writer i writes @req to node nodes[i % 2]. */
static bool run_writers(int n, const int *nodes, const char *req)
{
	pid_t pids[WRITERS * 2];
	bool ok = true;
	int i, status;

	for (i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			int ret = hp_write(nodes[i % 2], KB, "zeroable_hugepages", req);

			_exit(ret ? 1 : 0);
		}
	}
	for (i = 0; i < n; i++) {
		if (pids[i] < 0 || waitpid(pids[i], &status, 0) < 0 ||
		    !WIFEXITED(status) || WEXITSTATUS(status))
			ok = false;
	}
	return ok;
}

int main(void)
{
	const int node0[2] = { 0, 0 }, both[2] = { 0, 1 };
	long long pages;
	bool ok;

	ksft_print_header();
	hp_require(2);
	ksft_set_plan(3);

	hp_set_pool(0, KB, 0);
	hp_set_pool(1, KB, 0);
	if (hp_set_pool(0, KB, 96) != 96 || hp_set_pool(1, KB, 64) != 64)
		ksft_exit_skip("cannot allocate 96 + 64 huge pages\n");

	pages = hp_stat("zeroed_pages");
	ok = run_writers(WRITERS, node0, "10\n");
	ksft_test_result(ok && hp_zeroed(0, KB) == 40 && hp_zeroable(0, KB) == 56 &&
			 hp_stat("zeroed_pages") == pages + 40,
			 "%d writers of 10 zero 40 different pages\n", WRITERS);

	pages = hp_stat("zeroed_pages");
	ok = run_writers(WRITERS, node0, "max\n");
	ksft_test_result(ok && hp_zeroed(0, KB) == 96 && hp_zeroable(0, KB) == 0 &&
			 hp_stat("zeroed_pages") == pages + 56,
			 "%d writers of max zero each remaining page once\n", WRITERS);

	hp_set_pool(0, KB, 0);
	hp_set_pool(0, KB, 64);
	pages = hp_stat("zeroed_pages");
	ok = run_writers(WRITERS * 2, both, "max\n");
	ksft_test_result(ok && hp_zeroed(0, KB) == 64 && hp_zeroed(1, KB) == 64 &&
			 hp_stat("zeroed_pages") == pages + 128 &&
			 hp_counts_consistent(KB, 2),
			 "%d writers on two nodes zero both pools once\n", WRITERS * 2);

	ksft_finished();
}
