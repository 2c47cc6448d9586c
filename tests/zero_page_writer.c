// SPDX-License-Identifier: GPL-2.0
// vm-run: --numa 2 --mem 2G
/*
 * Pre-zeroing in the writer's context (zero_bytes) and without background
 * clearing (background = 0):
 * - with background = 0, freed memory is not cleared by the worker;
 * - a write of N bytes to zero_bytes clears about N bytes (at most one
 *   block more) and returns; "max" clears what is left;
 * - the CPU time is the writer's: its cgroup's cpu.stat usage grows by at
 *   least the clearing time the module measured;
 * - only the writer's node is cleared: written from node 0, THP faults
 *   bound to node 0 skip their clears, those bound to node 1 do not;
 * - disabled, zero_bytes fails with EINVAL;
 * - writers of different nodes run in parallel, and one throttled to 1% of
 *   a CPU does not hold up the other (they used to serialize on one global
 *   mutex, held for the whole write).
 *
 * Needs two NUMA nodes and the cgroup v2 CPU controller; skipped otherwise.
 */
#define _GNU_SOURCE
#include <sched.h>

#include "zero_page_common.h"
#include "cgroup_util.h"

#define MPOL_BIND 2

/* Pins the caller to the CPUs of `node` (the first of its cpulist). */
static bool pin_to_node(int node)
{
	char path[128], buf[64];
	cpu_set_t set;

	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/cpulist", node);
	if (sysfs_read(path, buf, sizeof(buf)) <= 0)
		return false;
	CPU_ZERO(&set);
	CPU_SET(atoi(buf), &set);
	return sched_setaffinity(0, sizeof(set), &set) == 0;
}

/* Faults in len bytes of THP bound to `node`; returns the clears skipped. */
static long long thp_on_node(size_t len, int node)
{
	unsigned long mask = 1UL << node;
	char *p = map_anon(len, 0, MADV_HUGEPAGE);

	if (!p)
		return -1;
	if (syscall(SYS_mbind, p, len, MPOL_BIND, &mask, 8 * sizeof(mask), 0)) {
		munmap(p, len);
		return -1;
	}
	return populate_hits(p, len);
}

/*
 * Allocates and frees most free memory of `node`, so that blocks earlier
 * tests left zeroed there are consumed: only what zero_bytes clears later
 * counts.
 */
static void dirty_node(int node)
{
	char path[128], buf[4096], *f;
	unsigned long mask = 1UL << node;
	size_t len;
	char *p;

	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/meminfo", node);
	if (sysfs_read(path, buf, sizeof(buf)) <= 0)
		return;
	f = strstr(buf, "MemFree:");
	if (!f)
		return;
	len = strtoull(f + strlen("MemFree:"), NULL, 10) * 1024;
	if (len <= 48 * MIB)
		return;
	len = (len - 32 * MIB) & ~(THP_SZ - 1);
	p = map_anon(len, MAP_NORESERVE, MADV_HUGEPAGE);
	if (!p)
		return;
	if (!syscall(SYS_mbind, p, len, MPOL_BIND, &mask, 8 * sizeof(mask), 0))
		madvise(p, len, MADV_POPULATE_WRITE);
	munmap(p, len);
}

static long long cg_usage_usec(const char *name)
{
	char path[256], buf[512], *p;

	snprintf(path, sizeof(path), CG_ROOT "/%s/cpu.stat", name);
	if (sysfs_read(path, buf, sizeof(buf)) <= 0)
		return -1;
	p = strstr(buf, "usage_usec ");
	return p ? atoll(p + strlen("usage_usec ")) : -1;
}

/* Writes `what` to zero_bytes from `node`, in cgroup `cg`; exits 0 or 1. */
static pid_t zero_bytes_child(int node, const char *cg, const char *what)
{
	pid_t pid = fork();

	if (pid == 0) {
		if (!cg_enter(cg, 0) || !pin_to_node(node))
			_exit(2);
		_exit(zp_write("zero_bytes", what) ? 1 : 0);
	}
	return pid;
}

/*
 * A writer of node 0 limited to 1% of a CPU clears all of its node, which
 * takes it minutes; meanwhile a writer of node 1 asks for 32 MiB and gets
 * them at once.
 */
static void test_parallel_nodes(void)
{
	unsigned long z0 = zp_read("zeroed_bytes");
	double t0, secs;
	pid_t slow, fast;
	int i, rc;

	if (!cg_create("zp_slow", "cpu", "cpu.max", "1000 100000")) {
		ksft_test_result_skip("no cpu.max\n");
		return;
	}
	dirty_node(0);
	dirty_node(1);
	z0 = zp_read("zeroed_bytes");
	slow = zero_bytes_child(0, "zp_slow", "max");
	for (i = 0; i < 2000 && zp_read("zeroed_bytes") == z0; i++)
		usleep(10000);
	t0 = now_secs();
	fast = zero_bytes_child(1, "zp_writer", "33554432");
	rc = wait_child(fast, 30);
	secs = now_secs() - t0;
	if (rc < 0) {
		/* Held up: killing the throttled writer lets it go on. */
		kill(slow, SIGKILL);
		rc = wait_child(fast, 60);
	}
	kill(slow, SIGKILL);
	waitpid(slow, NULL, 0);
	ksft_test_result(rc == 0 && secs < 30,
			 "node 1's writer cleared 32 MiB in %.2f s next to a throttled node 0 writer (exit %d)\n",
			 secs, rc);
}

int main(void)
{
	unsigned long z0, z1, t0, t1;
	long long u0, u1, hits0, hits1;
	int ret;

	ksft_print_header();
	zp_require();
	if (access(ZP_DIR "/zero_bytes", W_OK))
		ksft_exit_fail_msg(ZP_DIR "/zero_bytes does not exist\n");
	if (access("/sys/devices/system/node/node1", F_OK))
		ksft_exit_skip("needs two NUMA nodes\n");
	zp_save();
	ksft_set_plan(8);
	thp_write_string("enabled", "always");

	zp_defaults();
	ret = zp_write("zero_bytes", "1048576");
	ksft_test_result(ret == -EINVAL, "disabled: zero_bytes is EINVAL (%d)\n", ret);

	/* No background clearing: a short delay would clear within seconds. */
	zp_write("delay_millisecs", "10");
	ksft_test_result(zp_write("background", "0") == 0 && zp_write("enabled", "1") == 0 &&
			 zp_read("background") == 0, "background 0, enabled\n");
	if (!pin_to_node(0))
		ksft_exit_fail_msg("cannot pin to node 0\n");
	dirty_free_memory(64 * MIB, 0x5a);
	z0 = zp_read("zeroed_bytes");
	sleep(3);
	z1 = zp_read("zeroed_bytes");
	ksft_test_result(z1 == z0, "background 0: nothing cleared in 3 s (%lu bytes)\n", z1 - z0);

	/* A budget, in a cgroup of our own. */
	if (!cg_create("zp_writer", "cpu", "cpu.weight", "100") || !cg_enter("zp_writer", 0))
		ksft_exit_skip("no cgroup v2 CPU controller\n");
	u0 = cg_usage_usec("zp_writer");
	t0 = zp_read("zero_time_ns");
	z0 = zp_read("zeroed_bytes");
	ret = zp_write("zero_bytes", "67108864");
	z1 = zp_read("zeroed_bytes");
	t1 = zp_read("zero_time_ns");
	u1 = cg_usage_usec("zp_writer");
	/* The last block may go beyond: at most a MAX_PAGE_ORDER block. */
	ksft_test_result(ret == 0 && z1 > z0 && z1 - z0 <= 64 * MIB + (PAGE_SZ << max_page_order()),
			 "zero_bytes 64 MiB cleared %lu KiB (%d)\n", (z1 - z0) >> 10, ret);
	ksft_test_result(u0 >= 0 && (u1 - u0) * 1000 >= (long long)(t1 - t0) * 9 / 10,
			 "the writer's cgroup paid: %lld us of CPU for %lu us of clearing\n",
			 u1 - u0, (t1 - t0) / 1000);

	/*
	 * The rest of node 0, then THP faults on each node. Node 1 may hold a
	 * few blocks earlier tests zeroed (among the 32 MiB dirty_node()
	 * leaves free): at most 2% of the faults may find one.
	 */
	dirty_node(1);
	ret = zp_write("zero_bytes", "max");
	hits0 = thp_on_node(128 * MIB, 0);
	hits1 = thp_on_node(128 * MIB, 1);
	ksft_test_result(ret == 0 && hits0 >= (long long)(96 * MIB / PAGE_SZ),
			 "node 0 was cleared: %lld clears skipped (%d)\n", hits0, ret);
	ksft_test_result(hits1 >= 0 && hits1 <= (long long)(128 * MIB / PAGE_SZ / 50),
			 "node 1 was not: %lld clears skipped\n", hits1);

	test_parallel_nodes();
	ksft_finished();
}
