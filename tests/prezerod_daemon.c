// SPDX-License-Identifier: GPL-2.0
// vm-run: --numa 2 --mem 2G
/*
 * tools/prezerod keeps free memory zeroed in its own context:
 * - the hugetlb pools of both nodes: what is there at start, what comes
 *   back to the pool after use and what a pool grows by;
 * - free buddy memory through zero_page's zero_bytes (with background = 0,
 *   so that only the daemon clears): zeroed_bytes rises after memory is
 *   dirtied and freed on both nodes;
 * - it backs off while every CPU runs a busy loop, and while one CPU of
 *   two does (node 0's: node 1's CPU is idle, but the daemon watches every
 *   CPU by default, and the busiest one counts, not the average): huge
 *   pages freed and memory dirtied meanwhile on both nodes stay uncleared
 *   (at most one write's worth per node), and it clears them once the
 *   loops stop;
 * - a single busy loop that starts while the daemon clears, free to move
 *   between CPUs, stops it within a few writes, not at the end of its
 *   measurement window; it clears again once the loop is gone;
 * - SIGTERM stops it within 2 s with status 0; during a write that would
 *   clear all free memory of a node, at once (the write is interrupted),
 *   and what --exclusive changed (background) is restored;
 * - bad options print a message and exit with status 2.
 * Skipped unless the daemon binary is found ($PREZEROD, ./, /bin or /root;
 * not /tests, where this test is); the buddy cases skip without zero_page's
 * zero_bytes.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <sched.h>

#include "hugetlb_prezero_common.h"
#include "zero_page_common.h"

#define KB HP_2M_KB
#define LOG "/tmp/prezerod-test.log"
/* The daemon's defaults: huge pages and bytes asked for per write. */
#define BATCH 8
#define CHUNK (16 * MIB)
#define MAX_CPUS 64

static const char *daemon_path;
static pid_t daemon_pid;
static pid_t hogs[MAX_CPUS];
static int nr_hogs;

static const char *find_daemon(void)
{
	static const char *const paths[] = {
		"./prezerod", "/bin/prezerod", "/root/prezerod",
	};
	const char *env = getenv("PREZEROD");
	unsigned int i;

	if (env && !access(env, X_OK))
		return env;
	for (i = 0; i < ARRAY_SIZE(paths); i++)
		if (!access(paths[i], X_OK))
			return paths[i];
	return NULL;
}

/* Whether @opt is among the NULL-terminated @list. */
static bool has_opt(const char *const *list, const char *opt)
{
	for (; *list; list++)
		if (!strcmp(*list, opt))
			return true;
	return false;
}

/*
 * Starts the daemon with the test's options and @extra, logging to LOG; an
 * option of @extra replaces the test's (the daemon takes each only once).
 */
static pid_t start_daemon(const char *const *extra)
{
	static const char *const defaults[][2] = {
		{ "--sizes", "2048" }, { "--idle-check-ms", "200" },
		{ "--buddy-retry-ms", "500" },
	};
	const char *argv[32] = { daemon_path, "-v" };
	unsigned int i, n = 2;
	pid_t pid;
	int fd;

	for (i = 0; i < ARRAY_SIZE(defaults); i++) {
		if (has_opt(extra, defaults[i][0]))
			continue;
		argv[n++] = defaults[i][0];
		argv[n++] = defaults[i][1];
	}
	while (*extra && n < ARRAY_SIZE(argv) - 1)
		argv[n++] = *extra++;
	pid = fork();
	if (pid == 0) {
		fd = open(LOG, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execv(daemon_path, (char *const *)argv);
		_exit(127);
	}
	return pid;
}

/* Sends SIGTERM; returns the seconds until the daemon exited, its status in *status. */
static double stop_daemon(pid_t pid, int *status)
{
	double t0 = now_secs();

	*status = -1;
	kill(pid, SIGTERM);
	while (waitpid(pid, status, WNOHANG) == 0) {
		if (now_secs() - t0 > 10) {
			kill(pid, SIGKILL);
			waitpid(pid, status, 0);
			return 99;
		}
		usleep(10000);
	}
	return now_secs() - t0;
}

/* @cpus busy loops, each on one of the first @cpus CPUs if @pinned. */
static void start_hogs(long cpus, bool pinned)
{
	cpu_set_t set;
	pid_t pid;

	for (nr_hogs = 0; nr_hogs < cpus && nr_hogs < MAX_CPUS; nr_hogs++) {
		pid = fork();
		if (pid == 0) {
			CPU_ZERO(&set);
			CPU_SET(nr_hogs, &set);
			if (pinned)
				sched_setaffinity(0, sizeof(set), &set);
			for (;;)
				__asm__ volatile("" ::: "memory");
		}
		hogs[nr_hogs] = pid;
	}
}

static void stop_hogs(void)
{
	int i;

	for (i = 0; i < nr_hogs; i++) {
		kill(hogs[i], SIGKILL);
		waitpid(hogs[i], NULL, 0);
	}
	nr_hogs = 0;
}

static void cleanup(void)
{
	stop_hogs();
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGKILL);
		waitpid(daemon_pid, NULL, 0);
		daemon_pid = 0;
	}
}

/*
 * Waits up to @secs for both nodes to have nothing zeroable and nothing
 * being zeroed: every free page is zeroed.
 */
static bool settles(double secs)
{
	double end = now_secs() + secs;

	while (now_secs() < end) {
		if (hp_zeroable(0, KB) == 0 && hp_zeroable(1, KB) == 0 &&
		    hp_zeroed(0, KB) == hp_free(0, KB) &&
		    hp_zeroed(1, KB) == hp_free(1, KB))
			return true;
		usleep(20000);
	}
	return false;
}

/* Faults in @nr huge pages on @node, dirties and frees them. */
static bool dirty_huge(int node, unsigned long nr)
{
	char *p;

	hp_bind_node(node);
	p = hp_map(KB, nr);
	if (p) {
		memset(p, 0x77, nr * KB * 1024);
		munmap(p, nr * KB * 1024);
	}
	hp_unbind();
	return p != NULL;
}

/* Dirties and frees @len bytes of base pages on each node. */
static void dirty_buddy(size_t len)
{
	int node;

	for (node = 0; node < 2; node++) {
		hp_bind_node(node);
		churn_memory(len);
		hp_unbind();
	}
}

/* Waits up to @secs for zeroed_bytes to rise by @bytes over @from; returns the rise. */
static unsigned long zeroed_rises(unsigned long from, unsigned long bytes, double secs)
{
	double end = now_secs() + secs;
	unsigned long now;

	do {
		now = zp_read("zeroed_bytes");
		if (now - from >= bytes)
			break;
		usleep(50000);
	} while (now_secs() < end);
	return now - from;
}

/* Runs the daemon with bad options: status 2 and a message on stderr. */
static void bad_option(const char *what, const char *a, const char *b)
{
	char msg[512] = "", *nl;
	int fds[2], status = -1;
	struct pollfd pfd;
	double end;
	ssize_t n;
	size_t len = 0;
	pid_t pid;

	if (pipe(fds))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], STDERR_FILENO);
		close(fds[0]);
		execl(daemon_path, daemon_path, a, b, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	pfd.fd = fds[0];
	pfd.events = POLLIN;
	end = now_secs() + 10;
	while (now_secs() < end && poll(&pfd, 1, 100) >= 0) {
		if (!(pfd.revents & (POLLIN | POLLHUP)))
			continue;
		n = read(fds[0], msg + len, sizeof(msg) - 1 - len);
		if (n <= 0)
			break;
		len += n;
		msg[len] = '\0';
	}
	close(fds[0]);
	if (waitpid(pid, &status, WNOHANG) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	nl = strchr(msg, '\n');
	if (nl)
		*nl = '\0';
	ksft_test_result(WIFEXITED(status) && WEXITSTATUS(status) == 2 &&
			 strstr(msg, "error"),
			 "bad option %s: status %d, '%s'\n", what,
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1, msg);
}

/*
 * While the first @cpus CPUs run a busy loop, huge pages freed and memory
 * dirtied on both nodes stay uncleared (at most one write per node), and
 * they get cleared once the loops stop. Four results, named after @what.
 */
static void busy_cpus(long cpus, const char *what, bool buddy)
{
	long long zeroable0, zeroable1;
	unsigned long z0, z1;
	bool hp_ok;

	start_hogs(cpus, true);
	sleep(2);
	z0 = buddy ? zp_read("zeroed_bytes") : 0;
	hp_ok = dirty_huge(0, 16) && dirty_huge(1, 16);
	if (buddy)
		dirty_buddy(128 * MIB);
	sleep(6);
	zeroable0 = hp_zeroable(0, KB);
	zeroable1 = hp_zeroable(1, KB);
	z1 = buddy ? zp_read("zeroed_bytes") : 0;
	stop_hogs();
	ksft_test_result(hp_ok && zeroable0 >= 16 - BATCH && zeroable1 >= 16 - BATCH,
			 "%s: huge pages stay zeroable (%lld and %lld of 16)\n",
			 what, zeroable0, zeroable1);
	if (buddy)
		ksft_test_result(z1 - z0 <= 2 * CHUNK + 4 * MIB,
				 "%s: zeroed_bytes +%lu KiB (at most a write per node)\n",
				 what, (z1 - z0) >> 10);
	else
		ksft_test_result_skip("%s: buddy memory stays (no zero_bytes)\n", what);
	ksft_test_result(settles(30) && hp_counts_consistent(KB, 2),
			 "%s, idle again: the huge pages get zeroed\n", what);
	if (buddy) {
		z1 = zeroed_rises(z0, 128 * MIB, 30);
		ksft_test_result(z1 >= 128 * MIB,
				 "%s, idle again: buddy memory gets cleared (+%lu MiB)\n",
				 what, z1 >> 20);
	} else {
		ksft_test_result_skip("%s, idle again: buddy memory gets cleared (no zero_bytes)\n",
				      what);
	}
}

/*
 * A single-threaded neighbour, free to move between CPUs, starts while the
 * daemon clears (at 32 MiB/s per node in writes of 4 MiB, with windows of
 * 3 s): the daemon stops within a few writes per node (it counts the tasks
 * running before every write) rather than at the end of its window (up to
 * 3 s later: the daemon that did so cleared 74 MiB here), and clears again
 * once the neighbour is gone.
 */
static void neighbour_starts(void)
{
	static const char *const opts[] = {
		"--no-hugetlb", "--idle-check-ms", "3000", "--buddy-chunk", "4M",
		"--buddy-rate", "32M", NULL,
	};
	unsigned long z0, z1, z2;
	int status;

	zp_write("background", "0");
	dirty_buddy(256 * MIB);
	z0 = zp_read("zeroed_bytes");
	daemon_pid = start_daemon(opts);
	/* Its first window ends, then it clears. */
	z1 = z0 + zeroed_rises(z0, 8 * MIB, 30);
	start_hogs(1, false);
	sleep(3);
	z2 = zp_read("zeroed_bytes") - z1;
	stop_hogs();
	/* Up to three writes per node: two checks to see it, one in flight. */
	z1 = zeroed_rises(z1 + z2, 64 * MIB, 30);
	stop_daemon(daemon_pid, &status);
	daemon_pid = 0;
	ksft_test_result(z2 <= 2 * 3 * 4 * MIB + 4 * MIB && z1 >= 64 * MIB,
			 "a neighbour starting while the daemon clears: +%lu MiB in its 3 s (at most 28), +%lu MiB once it is gone\n",
			 z2 >> 20, z1 >> 20);
}

static void dump_log(void)
{
	char line[512];
	FILE *f = fopen(LOG, "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		ksft_print_msg("daemon: %s", line);
	fclose(f);
}

int main(void)
{
	unsigned long z0, z1;
	bool buddy;
	int status;
	double dt;

	ksft_print_header();
	hp_require(2);
	daemon_path = find_daemon();
	if (!daemon_path)
		ksft_exit_skip("prezerod not found (copy it into the guest)\n");
	buddy = (zp_present() || system("modprobe zero_page 2>/dev/null") == 0) &&
		!access(ZP_DIR "/zero_bytes", W_OK) && !access(ZP_DIR "/background", W_OK);
	ksft_set_plan(29);
	unlink(LOG);

	if (buddy) {
		/*
		 * Only the daemon clears: no background work, and none for an
		 * hour when --exclusive puts background back to 1 (3.).
		 */
		zp_save();
		zp_defaults();
		if (zp_write("delay_millisecs", "3600000") || zp_write("background", "0") ||
		    zp_write("enabled", "1"))
			ksft_exit_fail_msg("cannot enable zero_page with background 0\n");
	} else {
		ksft_print_msg("no %s/zero_bytes: buddy cases skip\n", ZP_DIR);
	}

	hp_set_pool(0, KB, 0);
	hp_set_pool(1, KB, 0);
	if (hp_set_pool(0, KB, 32) != 32 || hp_set_pool(1, KB, 16) != 16)
		ksft_exit_skip("cannot allocate 32 + 16 huge pages\n");

	/*
	 * 1. Both kinds of memory are kept zeroed. At nice 0 rather than
	 * SCHED_IDLE, the daemon would get half of a busy CPU: only its own
	 * back-off keeps it from clearing under load (2.).
	 */
	atexit(cleanup);	/* before the knobs and pools are restored */
	daemon_pid = start_daemon((const char *const[]){ "--nice", "0", NULL });
	ksft_test_result(settles(30) && hp_zeroed(0, KB) == 32 && hp_zeroed(1, KB) == 16,
			 "the daemon zeroes both hugetlb pools\n");
	ksft_test_result(dirty_huge(1, 8) && settles(30) && hp_zeroed(1, KB) == 16,
			 "huge pages coming back to the pool are zeroed again\n");
	hp_set_pool(0, KB, 48);
	ksft_test_result(settles(30) && hp_zeroed(0, KB) == 48,
			 "a growing pool gets zeroed\n");
	ksft_test_result(hp_counts_consistent(KB, 2), "hugetlb counts are exact\n");
	if (buddy) {
		z0 = zp_read("zeroed_bytes");
		dirty_buddy(256 * MIB);
		z1 = zeroed_rises(z0, 256 * MIB, 30);
		ksft_test_result(z1 >= 256 * MIB,
				 "freed buddy memory is cleared: zeroed_bytes +%lu MiB\n",
				 z1 >> 20);
	} else {
		ksft_test_result_skip("freed buddy memory is cleared (no zero_bytes)\n");
	}

	/*
	 * 2. No clearing while every CPU is busy, nor while one CPU of two
	 * is (node 0's); clearing again after.
	 */
	busy_cpus(sysconf(_SC_NPROCESSORS_ONLN), "busy CPUs", buddy);
	if (sysconf(_SC_NPROCESSORS_ONLN) >= 2) {
		busy_cpus(1, "one busy CPU", buddy);
	} else {
		ksft_test_result_skip("one busy CPU: huge pages stay zeroable (1 CPU)\n");
		ksft_test_result_skip("one busy CPU: buddy memory stays (1 CPU)\n");
		ksft_test_result_skip("one busy CPU, idle again: huge pages (1 CPU)\n");
		ksft_test_result_skip("one busy CPU, idle again: buddy memory (1 CPU)\n");
	}

	/* 3. SIGTERM, also while clearing; --exclusive restores background. */
	dirty_huge(0, 16);
	usleep(100000);
	dt = stop_daemon(daemon_pid, &status);
	daemon_pid = 0;
	ksft_test_result(WIFEXITED(status) && WEXITSTATUS(status) == 0 && dt < 2.0,
			 "SIGTERM stops the daemon in %.3f s (status %#x)\n", dt, status);
	if (buddy) {
		static const char *const exclusive[] = {
			"--exclusive", "--max-busy", "100", "--buddy-chunk", "4G", NULL,
		};
		unsigned long bg, dirtied, zsig;

		/* One write per node for all of it: stop while it runs. */
		zp_write("background", "1");
		dirtied = dirty_free_memory(128 * MIB, 0x5c);
		z0 = zp_read("zeroed_bytes");
		daemon_pid = start_daemon(exclusive);
		for (dt = now_secs(); now_secs() - dt < 20; usleep(1000))
			if (!zp_read("background") && zp_read("zeroed_bytes") > z0)
				break;
		bg = zp_read("background");
		ksft_test_result(bg == 0, "--exclusive: background is 0 while the daemon runs\n");
		zsig = zp_read("zeroed_bytes") - z0;
		dt = stop_daemon(daemon_pid, &status);
		daemon_pid = 0;
		z1 = zp_read("zeroed_bytes") - z0;
		ksft_test_result(WIFEXITED(status) && WEXITSTATUS(status) == 0 && dt < 1.0 &&
				 zsig > 0 && z1 < dirtied / 2,
				 "SIGTERM during writes of 4 GiB: stopped in %.3f s (status %#x), %lu MiB cleared before, %lu of %lu MiB in all\n",
				 dt, status, zsig >> 20, z1 >> 20, dirtied >> 20);
		ksft_test_result(zp_read("background") == 1,
				 "--exclusive: background back to 1 on exit\n");
	} else {
		ksft_test_result_skip("--exclusive: background is 0 (no zero_bytes)\n");
		ksft_test_result_skip("SIGTERM during a write (no zero_bytes)\n");
		ksft_test_result_skip("--exclusive: background restored (no zero_bytes)\n");
	}

	/* 4. A neighbour that starts while the daemon clears. */
	if (buddy && sysconf(_SC_NPROCESSORS_ONLN) >= 2)
		neighbour_starts();
	else
		ksft_test_result_skip("a neighbour starting while the daemon clears (%s)\n",
				      buddy ? "1 CPU" : "no zero_bytes");

	/* 5. Bad options. */
	bad_option("unknown flag", "--bogus", NULL);
	bad_option("not a number", "--max-busy=abc", NULL);
	bad_option("percentage out of range", "--max-busy=101", NULL);
	bad_option("rate 0", "--buddy-rate=0", NULL);
	bad_option("bad size suffix", "--buddy-chunk=16X", NULL);
	bad_option("nonexistent node", "--nodes=7", NULL);
	bad_option("nice out of range", "--nice=20", NULL);
	bad_option("unknown idle scope", "--idle-scope=cpu", NULL);
	bad_option("running tasks out of range", "--max-running=-1", NULL);
	bad_option("no such huge page size", "--sizes=4", NULL);
	bad_option("nothing to do", "--no-hugetlb", "--no-buddy");

	if (ksft_get_fail_cnt())
		dump_log();
	ksft_finished();
}
