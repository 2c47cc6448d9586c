// SPDX-License-Identifier: GPL-2.0
// vm-run: --mem 3G
/*
 * Killing a process must only hurt that process. The owner of a private
 * hugetlb mapping shares its page with a child after fork(); when the owner
 * writes, its copy-on-write fault needs a second page, and the only one
 * left is being zeroed by a task that gets almost no CPU: a real-time task
 * on the zeroer's CPU (start_cpu_hog()) leaves it 0.2 ms every 100 ms and
 * the fair server's 50 ms a second. The fault waits for it only briefly
 * (alloc_waits), then takes the page from the zeroer and clears it itself:
 * it must neither wait until the zeroer gets the CPU nor fail. A
 * failed allocation of the owner would make hugetlb_wp() unmap the page from
 * the child (unmap_ref_private()), which then dies of SIGBUS; the owner is
 * killed at the end, and the child must still read its data. (A fatal
 * signal during the short wait takes the same path as the timeout.)
 *
 * The zeroer is preempted in its write() between two base pages, so it is
 * starved mid-page. (A CPU quota, cpu.max, no longer makes a slow zeroer
 * since Linux 7.x: a cgroup's tasks are throttled only on their way back to
 * user space.) A round only counts if the COW fault met the page while it
 * was being zeroed (alloc_waits grew); a round in which the zeroer finished
 * the page anyway is repeated, up to ROUNDS times.
 *
 * The pages are of the default hugetlb size: 2 MiB with 4K base pages. With
 * arm64's 64K pages that is 512 MiB: a 2 MiB page there is 32 base pages,
 * which the starved zeroer finished before the COW fault in every round.
 *
 * Needs two CPUs and two free huge pages on node 0 (3 GiB of memory will
 * do); skipped otherwise.
 */
#include <sys/wait.h>

#include "hugetlb_prezero_common.h"

#define ROUNDS 10

static unsigned long kb;	/* the default hugetlb page size */
#define KB kb
#define LEN (kb * 1024)

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

/* The zeroer, on the hog's CPU: asks for one page to be zeroed. */
static void zeroer(void)
{
	if (!pin_cpu(1))
		_exit(1);
	hp_zero(0, KB, 1);
	_exit(0);
}

enum round_result { ROUND_PASS, ROUND_FAIL, ROUND_AGAIN };

/*
 * One round: returns ROUND_AGAIN if the COW fault did not meet the page
 * while it was being zeroed. *child is 'y' if the child kept its data, 'n'
 * if it changed, 'd' if the child died.
 */
static enum round_result one_round(int round, char *child)
{
	long long waits, waited, zeroed;
	pid_t pid_hog, pid_zeroer, own, reader = -1;
	int info[2], rc;
	double start, secs, t_start;
	bool started, ok;

	if (hp_pool_on_node0(KB, 2) != 2)
		ksft_exit_skip("cannot get two %lu MiB pages on node0\n", kb / 1024);
	if (pipe(wait_pipe) || pipe(go_pipe) || pipe(result_pipe) || pipe(info))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	waits = hp_stat("alloc_waits");
	zeroed = hp_stat("zeroed_pages");

	/* Start the starved zeroer on one of the two free pages. */
	pid_hog = start_cpu_hog(1);
	if (pid_hog < 0)
		ksft_exit_skip("cannot run a SCHED_FIFO task on CPU 1\n");
	pid_zeroer = fork();
	if (pid_zeroer == 0)
		zeroer();
	start = now_secs();
	while (hp_zeroable(0, KB) == 2 && now_secs() - start < 10)
		usleep(1000);
	started = hp_zeroable(0, KB) < 2;
	t_start = now_secs() - start;

	own = fork();
	if (own == 0)
		owner(info[1]);
	if (read(info[0], &reader, sizeof(reader)) != sizeof(reader))
		ksft_exit_fail_msg("owner did not start\n");

	/*
	 * The owner's fault takes the page being zeroed after a short wait and
	 * the owner exits; otherwise it is killed after 30 s.
	 */
	start = now_secs();
	rc = wait_child(own, 30);
	secs = now_secs() - start;
	if (rc < 0) {
		kill(own, SIGKILL);
		waitpid(own, NULL, 0);
	}
	waited = hp_stat("alloc_waits") - waits;
	zeroed = hp_stat("zeroed_pages") - zeroed;

	/* The child (reparented to init) still has its page. */
	close(result_pipe[1]);
	if (write(go_pipe[1], "g", 1) != 1)
		ksft_exit_fail_msg("reader gone\n");
	if (read(result_pipe[0], child, 1) != 1)
		*child = 'd';
	kill(pid_zeroer, SIGKILL);
	waitpid(pid_zeroer, NULL, 0);
	stop_cpu_hog(pid_hog);
	/* The reader is init's child now: wait until its page is unmapped. */
	for (start = now_secs(); kill(reader, 0) == 0 && now_secs() - start < 10;)
		usleep(1000);
	close(wait_pipe[0]);
	close(wait_pipe[1]);
	close(go_pipe[0]);
	close(go_pipe[1]);
	close(result_pipe[0]);
	close(info[0]);
	close(info[1]);

	ok = rc == 0;
	/*
	 * The fault met the page being zeroed only if it waited: a zeroer
	 * preempted after it finished the page but before it counted it
	 * leaves zeroed_pages unchanged, and the fault then takes a zeroed
	 * page without waiting.
	 */
	if (ok && (!started || zeroed > 0 || waited == 0) && round < ROUNDS) {
		ksft_print_msg(
			"round %d: the zeroer %s before the COW fault (waited %.3f s for it, fault %.3f s); again\n",
			round, started ? "finished its page" : "had not started",
			t_start, secs);
		return ROUND_AGAIN;
	}
	ksft_test_result(ok && waited > 0,
			 "the owner's COW fault took the page being zeroed in %.3f s (alloc_waits +%lld, round %d)\n",
			 secs, waited, round);
	return ok && waited > 0 ? ROUND_PASS : ROUND_FAIL;
}

int main(void)
{
	char child = 'd';
	int round;

	ksft_print_header();
	kb = default_huge_page_size() / 1024;
	if (!kb)
		ksft_exit_skip("no default hugetlb page size in /proc/meminfo\n");
	hp_require(1);
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		ksft_exit_skip("needs two CPUs\n");
	ksft_set_plan(2);
	hp_bind_node(0);
	/* The owner, its child and this task stay off the zeroer's CPU. */
	if (!pin_cpu(0))
		ksft_exit_fail_msg("sched_setaffinity: %s\n", strerror(errno));
	for (round = 1; round <= ROUNDS; round++)
		if (one_round(round, &child) != ROUND_AGAIN)
			break;
	ksft_test_result(child == 'y',
			 "the child reads its data after the owner wrote and exited (%s)\n",
			 child == 'y' ? "intact" : child == 'n' ? "changed" : "it died");
	hp_unbind();
	ksft_finished();
}
