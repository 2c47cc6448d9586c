// SPDX-License-Identifier: GPL-2.0
/*
 * Disabling zero_page never waits for a whole flush. With most free memory
 * dirty, a flush has seconds of clearing to do (clear_page() under TCG);
 * writing 0 to enabled meanwhile returns within a second, the flush returns
 * ENODEV (stopped by the unregistration), and enabled reads 0.
 */
#include <sys/wait.h>
#include <time.h>

#include "zero_page_common.h"

int main(void)
{
	double t0, t_disable;
	int pfd[2], ret, err = 1;
	pid_t pid;

	ksft_print_header();
	zp_require();
	zp_save();
	zp_enable_flush_only();
	zp_write("nontemporal", "0");
	ksft_set_plan(2);

	if (!dirty_free_memory(64 * MIB, 0x5a) || pipe(pfd))
		ksft_exit_fail_msg("cannot dirty free memory\n");
	pid = fork();
	if (pid == 0) {
		err = zp_write("flush", "1");
		_exit(write(pfd[1], &err, sizeof(err)) == sizeof(err) ? 0 : 1);
	}
	usleep(300000);
	if (waitpid(pid, NULL, WNOHANG) != 0)
		ksft_exit_fail_msg("the flush ended within 300 ms: not enough to clear\n");

	t0 = now_secs();
	ret = zp_write("enabled", "0");
	t_disable = now_secs() - t0;
	if (read(pfd[0], &err, sizeof(err)) != sizeof(err))
		err = 1;
	waitpid(pid, NULL, 0);

	ksft_test_result(!ret && t_disable < 1.0 && zp_read("enabled") == 0,
			 "enabled=0 during a flush returns in %.3f s\n", t_disable);
	ksft_test_result(err == -ENODEV,
			 "the flush was stopped by the unregistration (%s)\n",
			 err ? strerror(-err) : "completed");
	ksft_finished();
}
