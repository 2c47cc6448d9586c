// SPDX-License-Identifier: GPL-2.0
// vm-run: --numa 2 --mem 2G
/*
 * Shrinking and growing the pool while large writes zero it is safe: pages
 * being zeroed are waited for or skipped, nr_hugepages ends where it was
 * asked to, and the counts stay exact (zeroable + zeroed == free on every
 * node once the writers are done). Demotion-free sizes only: 2 MiB pages.
 *
 * Needs two NUMA nodes (and memory for the pools: 2 GiB in all will do);
 * skipped otherwise.
 */
#include "hugetlb_prezero_common.h"

#define KB HP_2M_KB
#define WRITERS 3

static pid_t start_writer(int node)
{
	pid_t pid = fork();

	if (pid == 0) {
		/* Keep zeroing whatever shows up until killed. */
		for (;;)
			if (hp_zero(node, KB, 0))
				usleep(100);
	}
	return pid;
}

int main(void)
{
	static const long long sizes[] = { 300, 40, 250, 0, 200, 10, 120 };
	pid_t pids[WRITERS * 2];
	bool exact = true, sane = true;
	unsigned int i;
	int w, status;

	ksft_print_header();
	hp_require(2);
	ksft_set_plan(3);

	hp_set_pool(0, KB, 0);
	hp_set_pool(1, KB, 0);
	if (hp_set_pool(0, KB, 300) != 300 || hp_set_pool(1, KB, 100) != 100)
		ksft_exit_skip("cannot allocate 300 + 100 huge pages\n");

	for (w = 0; w < WRITERS * 2; w++)
		pids[w] = start_writer(w % 2);

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		long long got = hp_set_pool(0, KB, sizes[i]);
		long long f, z;

		/* Node 1 churns too. */
		hp_set_pool(1, KB, i % 2 ? 100 : 30);
		if (got != sizes[i]) {
			ksft_print_msg("node0 pool %lld, asked for %lld\n", got, sizes[i]);
			exact = false;
		}
		/* While writers run: nothing is counted twice. */
		f = hp_free(0, KB);
		z = hp_zeroable(0, KB);
		if (z < 0 || z > f || hp_zeroed(0, KB) > f)
			sane = false;
		usleep(20000);
	}

	for (w = 0; w < WRITERS * 2; w++) {
		kill(pids[w], SIGKILL);
		waitpid(pids[w], &status, 0);
	}

	ksft_test_result(exact, "nr_hugepages reaches every size asked for\n");
	ksft_test_result(sane, "zeroable and zeroed never exceed free\n");
	ksft_test_result(hp_nr(0, KB) == 120 && hp_free(0, KB) == 120 &&
			 hp_counts_consistent(KB, 2),
			 "counts are exact once the writers are gone\n");

	ksft_finished();
}
