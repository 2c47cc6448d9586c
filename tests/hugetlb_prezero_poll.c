// SPDX-License-Identifier: GPL-2.0
/*
 * poll/epoll on zeroable_hugepages: nothing to report while the pool is fully
 * zeroed and idle; a waiter wakes (EPOLLPRI) when huge pages come back to the
 * pool after use and when the pool grows, and the re-read count shows them.
 */
#include <sys/epoll.h>

#include "hugetlb_prezero_common.h"

#define KB HP_2M_KB
/* Late notifications of the pool's growth taken before the first test. */
#define DRAIN 3

/* Re-arms by reading from offset 0; returns the count. */
static long long rearm(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtoll(buf, NULL, 10);
}

static int wait_pri(int ep, int ms)
{
	struct epoll_event ev;
	int n = epoll_wait(ep, &ev, 1, ms);

	return n == 1 && (ev.events & EPOLLPRI) ? 1 : n < 0 ? -1 : 0;
}

int main(void)
{
	struct epoll_event ev = { .events = EPOLLPRI | EPOLLERR };
	char path[256];
	long long count;
	double t0, dt;
	int fd, ep, r;
	char *p;

	ksft_print_header();
	hp_require(1);
	ksft_set_plan(4);

	if (hp_bind_node(0))
		ksft_exit_fail_msg("set_mempolicy: %s\n", strerror(errno));
	for (int n = 1; n < hp_nr_nodes(); n++)
		hp_set_pool(n, KB, 0);
	hp_set_pool(0, KB, 0);
	if (hp_set_pool(0, KB, 8) != 8)
		ksft_exit_skip("cannot allocate 8 huge pages\n");
	hp_zero(0, KB, 0);

	hp_path(path, sizeof(path), 0, KB, "zeroable_hugepages");
	fd = open(path, O_RDONLY);
	ep = epoll_create1(0);
	if (fd < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
		ksft_exit_fail_msg("epoll setup: %s\n", strerror(errno));

	/*
	 * epoll reports a fresh file once: read it to arm. Growing the pool
	 * freed 8 unzeroed pages, and the notification of that comes from a
	 * delayed work that can run after the open (late under TCG, seen on
	 * arm64): take up to DRAIN such events, each followed by a quiet
	 * period, before asking for silence. A notification that keeps
	 * coming for nothing still fails the test.
	 */
	wait_pri(ep, 0);
	rearm(fd);
	for (int i = 0; i < DRAIN && wait_pri(ep, 300) == 1; i++)
		rearm(fd);
	count = rearm(fd);
	r = wait_pri(ep, 300);
	ksft_test_result(count == 0 && r == 0,
			 "no event while nothing is zeroable (count %lld, event %d)\n",
			 count, r);

	p = hp_map(KB, 3);
	if (!p)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	hp_touch(p, KB, 3);
	/* Using zeroed pages makes nothing zeroable. */
	r = wait_pri(ep, 200);
	rearm(fd);
	ksft_test_result(r == 0, "no event when zeroed pages are used\n");

	t0 = now_secs();
	munmap(p, 3 * KB * 1024);
	r = wait_pri(ep, 5000);
	dt = now_secs() - t0;
	ksft_test_result(r == 1 && rearm(fd) == 3,
			 "waiter wakes %.3f s after 3 pages come back\n", dt);

	hp_set_pool(0, KB, 12);
	r = wait_pri(ep, 5000);
	ksft_test_result(r == 1 && rearm(fd) == 7,
			 "waiter wakes when the pool grows\n");

	close(ep);
	close(fd);
	hp_unbind();
	ksft_finished();
}
