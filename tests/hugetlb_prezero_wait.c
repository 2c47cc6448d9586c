// SPDX-License-Identifier: GPL-2.0
/*
 * A fault on a page that is being zeroed waits for the zeroer and gets zeroes,
 * rather than clearing the page under it. Writers zero every page of a small
 * dirty pool while the test faults the whole pool in as soon as every page has
 * been taken: the last faults find only pages being zeroed. When that happens,
 * alloc_waits grows (the timing is up to the scheduler: rounds are repeated
 * until it is seen).
 */
#include <pthread.h>

#include "hugetlb_prezero_common.h"

#define KB HP_2M_KB
#define NR 4UL
#define LEN (NR * KB * 1024)
#define ROUNDS 40

static void *writer(void *arg)
{
	hp_write(0, KB, "zeroable_hugepages", "1\n");
	return NULL;
}

int main(void)
{
	long long waits = -1, waits0;
	bool all_zero = true;
	int round;

	ksft_print_header();
	hp_require(1);
	ksft_set_plan(2);

	if (hp_bind_node(0))
		ksft_exit_fail_msg("set_mempolicy: %s\n", strerror(errno));
	if (hp_pool_on_node0(KB, NR) != NR)
		ksft_exit_skip("cannot allocate %lu huge pages\n", NR);

	waits0 = hp_stat("alloc_waits");
	for (round = 0; round < ROUNDS; round++) {
		pthread_t threads[NR];
		unsigned int i;
		char *p = hp_map(KB, NR);

		if (!p)
			ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
		memset(p, 0x5a, LEN);
		munmap(p, LEN);

		for (i = 0; i < NR; i++)
			pthread_create(&threads[i], NULL, writer, NULL);
		/* Every page taken by a writer: some may still be in progress. */
		while (hp_zeroable(0, KB) > 0)
			;
		p = hp_map(KB, NR);
		if (!p)
			ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
		hp_touch(p, KB, NR);
		if (hp_first_nonzero(p, LEN) >= 0)
			all_zero = false;
		munmap(p, LEN);
		for (i = 0; i < NR; i++)
			pthread_join(threads[i], NULL);

		waits = hp_stat("alloc_waits");
		if (waits > waits0)
			break;
	}

	ksft_test_result(all_zero && hp_counts_consistent(KB, 1),
			 "faults racing with zeroers get zeroes (%d rounds)\n",
			 round + (round < ROUNDS));
	if (waits > waits0)
		ksft_test_result_pass(
			"a fault waited for a page being zeroed (alloc_waits +%lld)\n",
			waits - waits0);
	else
		ksft_test_result_skip("no fault hit a page being zeroed in %d rounds\n",
				      ROUNDS);

	hp_unbind();
	ksft_finished();
}
