// SPDX-License-Identifier: GPL-2.0
/*
 * A signal stops a large write promptly, between two pages. The write
 * returns success if it zeroed at least one page (those stay zeroed), EINTR
 * if it zeroed none; interrupted_writes counts both. A blocked signal does
 * not stop a write. SIGKILL ends a writer just as promptly, with exact counts.
 */
#include <sys/time.h>

#include "hugetlb_prezero_common.h"

#define KB HP_2M_KB

static void on_signal(int sig)
{
}

struct result {
	int err;
	double t;
};

int main(void)
{
	struct sigaction sa = { .sa_handler = on_signal };	/* no SA_RESTART */
	struct result r = { 0, 0 };
	long long nr, zeroed, intr;
	double t_sig, t_end;
	int pfd[2], status;
	pid_t pid;

	ksft_print_header();
	hp_require(1);
	ksft_set_plan(6);

	nr = hp_pool_on_node0(KB, 400);
	if (nr < 100)
		ksft_exit_skip("cannot allocate 100 huge pages\n");
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);

	/* A write of max, interrupted after a few pages. */
	intr = hp_stat("interrupted_writes");
	if (pipe(pfd))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	pid = fork();
	if (pid == 0) {
		double t0 = now_secs();

		r.err = hp_zero(0, KB, 0);
		r.t = now_secs() - t0;
		_exit(write(pfd[1], &r, sizeof(r)) == sizeof(r) ? 0 : 2);
	}
	while (hp_zeroed(0, KB) < 3)
		usleep(1000);
	t_sig = now_secs();
	kill(pid, SIGUSR1);
	if (read(pfd[0], &r, sizeof(r)) != sizeof(r))
		r.err = -EIO;
	t_end = now_secs();
	waitpid(pid, &status, 0);
	zeroed = hp_zeroed(0, KB);
	ksft_test_result(r.err == 0 && zeroed >= 3 && zeroed < nr,
			 "interrupted write succeeds, keeps %lld of %lld pages zeroed\n",
			 zeroed, nr);
	ksft_test_result(t_end - t_sig < 1.0,
			 "it stops %.3f s after the signal\n", t_end - t_sig);
	ksft_test_result(hp_stat("interrupted_writes") > intr &&
			 hp_counts_consistent(KB, 1),
			 "interrupted_writes counts it, counts stay exact\n");

	/*
	 * Writes of one page under a storm of signals: each either zeroes
	 * exactly one page and succeeds, or zeroes none and fails with EINTR.
	 */
	{
		struct itimerval it = { { 0, 200 }, { 0, 200 } };
		int i, eintr = 0, bad = 0;

		hp_set_pool(0, KB, 0);
		hp_set_pool(0, KB, nr);
		setitimer(ITIMER_REAL, &it, NULL);
		for (i = 0; i < 200 && hp_zeroable(0, KB) > 0; i++) {
			long long before = hp_zeroed(0, KB);
			int ret = hp_zero(0, KB, 1);
			long long after = hp_zeroed(0, KB);

			if (ret == -EINTR)
				eintr++;
			if ((ret == 0 && after != before + 1) ||
			    (ret == -EINTR && after != before) ||
			    (ret && ret != -EINTR))
				bad++;
		}
		memset(&it, 0, sizeof(it));
		setitimer(ITIMER_REAL, &it, NULL);
		ksft_test_result(!bad,
				 "under signals, writes zero one page or fail with EINTR and zero none (%d EINTR)\n",
				 eintr);
	}

	/* A blocked signal does not interrupt. */
	{
		sigset_t set, old;
		long long before = hp_zeroed(0, KB);
		int ret;

		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		sigprocmask(SIG_BLOCK, &set, &old);
		raise(SIGUSR1);
		ret = hp_zero(0, KB, 2);
		ksft_test_result(ret == 0 && hp_zeroed(0, KB) == before + 2,
				 "a blocked signal does not stop a write\n");
		sigprocmask(SIG_SETMASK, &old, NULL);
	}

	/* SIGKILL in the middle of a large write. */
	hp_set_pool(0, KB, 0);
	hp_set_pool(0, KB, nr);
	pid = fork();
	if (pid == 0) {
		hp_zero(0, KB, 0);
		_exit(0);
	}
	while (hp_zeroed(0, KB) < 4)
		usleep(1000);
	t_sig = now_secs();
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	t_end = now_secs();
	ksft_test_result(WIFSIGNALED(status) && t_end - t_sig < 1.0 &&
			 hp_counts_consistent(KB, 1),
			 "SIGKILL ends a writer in %.3f s, counts stay exact\n",
			 t_end - t_sig);

	ksft_finished();
}
