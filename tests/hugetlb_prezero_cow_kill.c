// SPDX-License-Identifier: GPL-2.0
// vm-run: --mem 2G
/*
 * Killing a process must only hurt that process. The owner of a private
 * hugetlb mapping shares its page with a child after fork(); when the owner
 * writes, its copy-on-write fault needs a second page, and the only one
 * left is being zeroed by a task throttled to 0.1% of a CPU. The fault waits
 * for it only briefly (alloc_waits), then takes the page from the zeroer and
 * clears it itself: it must neither wait for the zeroer's quota nor fail. A
 * failed allocation of the owner would make hugetlb_wp() unmap the page from
 * the child (unmap_ref_private()), which then dies of SIGBUS; the owner is
 * killed at the end, and the child must still read its data. (A fatal
 * signal during the short wait takes the same path as the timeout.)
 */
#include <sys/wait.h>

#include "hugetlb_prezero_common.h"
#include "cgroup_util.h"

#define KB HP_2M_KB
#define LEN (2 * MIB)

static int wait_pipe[2], go_pipe[2], result_pipe[2];

/*
 * The child: waits until told to read its copy, checks it and reports 'y'
 * (intact) or 'n' (changed); it reports nothing if it dies reading it.
 */
static void child_reader(char *p)
{
	char c, ok = 'y';

	close(result_pipe[0]);
	if (write(wait_pipe[1], "r", 1) != 1 || read(go_pipe[0], &c, 1) != 1)
		_exit(3);
	for (size_t i = 0; i < LEN; i += 4096)
		if (p[i] != 0x5a)
			ok = 'n';
	_exit(write(result_pipe[1], &ok, 1) == 1 ? 0 : 4);
}

/* The owner: maps, writes, forks the reader, then writes again (COW). */
static void owner(int info_fd)
{
	char *p = hp_map(KB, 1);
	pid_t reader;
	char c;

	if (!p)
		_exit(4);
	memset(p, 0x5a, LEN);
	reader = fork();
	if (reader == 0)
		child_reader(p);
	if (read(wait_pipe[0], &c, 1) != 1)
		_exit(5);
	if (write(info_fd, &reader, sizeof(reader)) != sizeof(reader))
		_exit(6);
	/* Copy-on-write: needs the page that is being zeroed. */
	p[0] = 1;
	_exit(0);
}

int main(void)
{
	long long waits, waited;
	int info[2], status;
	char result;
	pid_t zeroer, own, reader = -1;
	double start, secs;
	bool ok;

	ksft_print_header();
	hp_require(1);
	if (!cg_create("hp_slow", "cpu", "cpu.max", "1000 1000000"))
		ksft_exit_skip("no cgroup v2 CPU controller with cpu.max\n");
	if (hp_pool_on_node0(KB, 2) != 2)
		ksft_exit_skip("cannot get two 2 MiB pages on node0\n");
	ksft_set_plan(2);
	hp_bind_node(0);

	/* Start the throttled zeroer on the one free page. */
	zeroer = fork();
	if (zeroer == 0) {
		if (!cg_enter("hp_slow", 0))
			_exit(1);
		hp_zero(0, KB, 1);
		_exit(0);
	}

	if (pipe(wait_pipe) || pipe(go_pipe) || pipe(result_pipe) || pipe(info))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	waits = hp_stat("alloc_waits");
	start = hp_now();
	/* Wait until one of the two free pages is being zeroed. */
	while (hp_zeroable(0, KB) == 2 && hp_now() - start < 10)
		usleep(1000);

	own = fork();
	if (own == 0)
		owner(info[1]);
	if (read(info[0], &reader, sizeof(reader)) != sizeof(reader))
		ksft_exit_fail_msg("owner did not start\n");

	/*
	 * The owner's fault takes the page being zeroed after a short wait and
	 * the owner exits; otherwise it is killed after 30 s.
	 */
	start = hp_now();
	while (waitpid(own, &status, WNOHANG) == 0 && hp_now() - start < 30)
		usleep(1000);
	secs = hp_now() - start;
	if (secs >= 30) {
		kill(own, SIGKILL);
		waitpid(own, &status, 0);
	}
	waited = hp_stat("alloc_waits") - waits;
	ksft_test_result(waited > 0 && secs < 30 && WIFEXITED(status) &&
			 WEXITSTATUS(status) == 0,
			 "the owner's COW fault took the page being zeroed in %.3f s (alloc_waits +%lld)\n",
			 secs, waited);

	/* The child (reparented to init) still has its page. */
	close(result_pipe[1]);
	if (write(go_pipe[1], "g", 1) != 1)
		ksft_exit_fail_msg("reader gone\n");
	if (read(result_pipe[0], &result, 1) != 1)
		result = 'd';
	ok = result == 'y';
	ksft_test_result(ok, "the child reads its data after the owner wrote and exited (%s)\n",
			 result == 'y' ? "intact" : result == 'n' ? "changed" : "it died");

	kill(zeroer, SIGKILL);
	waitpid(zeroer, NULL, 0);
	hp_unbind();
	ksft_finished();
}
