// SPDX-License-Identifier: GPL-2.0
// vm-run: --mem 6G --append hugepagesz=1G --append hugepages=2
/*
 * 1 GiB pages, where the CPU has them (x86 pdpe1gb, arm64 with 4 KiB
 * pages): a dirty 1 GiB page is zeroable, gets zeroed and faults in as zero
 * without a clear; a fault on a 1 GiB page that is being zeroed waits for
 * it (alloc_waits) and reads zeroes; a signal stops a write of two 1 GiB
 * pages after the first.
 *
 * Needs two free 1 GiB pages on node 0: boot with hugepagesz=1G
 * hugepages=2 (and 6 GiB of memory); skipped otherwise.
 */
#include <pthread.h>

#include "hugetlb_prezero_common.h"

#define KB HP_1G_KB

/* Dirties @nr pages of the 1 GiB pool and gives them back. */
static bool dirty(unsigned long nr)
{
	char *p = hp_map(KB, nr);

	if (!p)
		return false;
	for (unsigned long i = 0; i < nr; i++)
		memset(p + i * GIB, 0x3c, GIB);
	munmap(p, nr * GIB);
	return true;
}

static void *writer(void *arg)
{
	hp_zero(0, KB, 1);
	return NULL;
}

static void on_signal(int sig)
{
}

int main(void)
{
	long long hits, waits, pages;
	pthread_t t[2];
	char *p;
	bool ok;

	ksft_print_header();
	hp_require_gigantic();
	if (hp_free(0, KB) < 2)
		hp_write_num(0, KB, "nr_hugepages", hp_nr(0, KB) + 2 - hp_free(0, KB));
	if (hp_free(0, KB) < 2)
		ksft_exit_skip(
			"cannot get two free 1 GiB pages on node0 (boot with hugepagesz=1G hugepages=2)\n");
	ksft_set_plan(4);
	hp_bind_node(0);

	hits = hp_stat("alloc_hits");
	ok = dirty(1) && hp_zeroable(0, KB) >= 1 && hp_zero(0, KB, 0) == 0 &&
	     hp_zeroable(0, KB) == 0;
	p = hp_map(KB, 1);
	ok = ok && p;
	if (p) {
		hp_touch(p, KB, 1);
		ok = ok && hp_first_nonzero(p, GIB) < 0;
		munmap(p, GIB);
	}
	ksft_test_result(ok && hp_stat("alloc_hits") > hits,
			 "a pre-zeroed 1 GiB page faults in as zero without a clear\n");

	/* Fault while the only free pages are being zeroed. */
	ok = dirty(2);
	waits = hp_stat("alloc_waits");
	pthread_create(&t[0], NULL, writer, NULL);
	pthread_create(&t[1], NULL, writer, NULL);
	while (hp_zeroable(0, KB) > 0)
		;
	p = hp_map(KB, 2);
	ok = ok && p;
	if (p) {
		hp_touch(p, KB, 2);
		ok = ok && hp_first_nonzero(p, 2 * GIB) < 0;
		munmap(p, 2 * GIB);
	}
	ksft_test_result(ok, "faults on 1 GiB pages being zeroed read zeroes\n");
	ksft_test_result(hp_stat("alloc_waits") > waits,
			 "and waited for the zeroer (alloc_waits +%lld)\n",
			 hp_stat("alloc_waits") - waits);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);

	/* A signal during the first of two pages: one is zeroed, success. */
	{
		struct sigaction sa = { .sa_handler = on_signal };
		int pfd[2], err = -1, status;
		pid_t pid;

		sigaction(SIGUSR1, &sa, NULL);
		ok = dirty(2) && !pipe(pfd);
		pages = hp_stat("zeroed_pages");
		pid = fork();
		if (pid == 0) {
			err = hp_zero(0, KB, 2);
			_exit(write(pfd[1], &err, sizeof(err)) == sizeof(err) ? 0 : 1);
		}
		while (hp_zeroable(0, KB) == 2)
			;
		kill(pid, SIGUSR1);
		if (read(pfd[0], &err, sizeof(err)) != sizeof(err))
			err = -EIO;
		waitpid(pid, &status, 0);
		ksft_test_result(ok && err == 0 && hp_stat("zeroed_pages") == pages + 1 &&
				 hp_zeroable(0, KB) == 1,
				 "a signal stops a write of two 1 GiB pages after the first\n");
	}

	hp_unbind();
	ksft_finished();
}
