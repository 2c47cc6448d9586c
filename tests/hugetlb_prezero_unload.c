// SPDX-License-Identifier: GPL-2.0
/*
 * Unloading the module while writers are zeroing is safe and prompt: rmmod
 * stops the writers between two pages, waits for them and removes the files;
 * the pool keeps what was zeroed, and after a reload the counts are exact.
 */
#include "hugetlb_prezero_common.h"

#define KB HP_2M_KB
#define WRITERS 2

int main(void)
{
	pid_t pids[WRITERS];
	long long nr, zeroed;
	double t0, dt;
	int w, status, ret;
	bool writers_ok = true;

	ksft_print_header();
	hp_require(1);
	ksft_set_plan(4);

	nr = hp_pool_on_node0(KB, 400);
	if (nr < 100)
		ksft_exit_skip("cannot allocate 100 huge pages\n");

	for (w = 0; w < WRITERS; w++) {
		pids[w] = fork();
		if (pids[w] == 0) {
			ret = hp_zero(0, KB, 0);
			/* Success, or the file went away under a retry. */
			_exit(ret == 0 || ret == -ENOENT || ret == -ENODEV ? 0 : 1);
		}
	}
	while (hp_zeroed(0, KB) < 4)
		usleep(1000);

	t0 = now_secs();
	ret = system("rmmod hugetlb_prezero");
	dt = now_secs() - t0;
	for (w = 0; w < WRITERS; w++)
		if (waitpid(pids[w], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			writers_ok = false;
	ksft_test_result(ret == 0 && dt < 5.0,
			 "rmmod with writers in flight succeeds in %.3f s\n", dt);
	ksft_test_result(writers_ok && !hp_size_present(KB),
			 "writers returned, files are gone\n");

	ret = system("modprobe hugetlb_prezero");
	zeroed = hp_zeroed(0, KB);
	ksft_test_result(ret == 0 && zeroed >= 4 && zeroed < nr &&
			 hp_counts_consistent(KB, 1),
			 "after reload, %lld pages are still zeroed, counts exact\n", zeroed);
	ksft_test_result(hp_zero(0, KB, 0) == 0 && hp_zeroed(0, KB) == nr &&
			 hp_zeroable(0, KB) == 0,
			 "the reloaded module zeroes the rest\n");

	ksft_finished();
}
