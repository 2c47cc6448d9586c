// SPDX-License-Identifier: GPL-2.0
/*
 * zero_page against compaction and alloc_contig_range(): with the module
 * enabled and the kernel's page_reporting.verify_zeroed check on, for
 * RUN_S seconds
 *
 * - one process asks for immediate passes (flush) in a loop, so free
 *   blocks are isolated, zeroed and marked all the time;
 * - one writes /proc/sys/vm/compact_memory and grows and shrinks the 2 MiB
 *   hugetlb pool (compaction and migration take free blocks with
 *   __isolate_free_page(), which must drop PG_zeroed since they write to
 *   them), and now and then asks for one 1 GiB page, which goes through
 *   alloc_contig_range() (skipped when there is not enough memory);
 * - one faults THP memory, checks that it reads zero and leaves a pattern
 *   behind when it frees it.
 *
 * No stale byte may be seen and prezero_verify_failed must not move; the
 * check must have run (prezero_verify_checked rises). Every knob it
 * changes is restored.
 */
#include "zero_page_common.h"

#include <time.h>

/* 2 MiB pages, whatever the default size (512 MiB with 64K pages) */
#define NR_HUGEPAGES "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"
#define RUN_S 20
#define THP_LEN (16 * MIB)

struct stats {
	unsigned long flushes, flush_errors;
	unsigned long compactions, pool_grown, pool_max, gigantic_tries, gigantic_ok;
	unsigned long thp_rounds, stale;
	long first_stale;
};

static char saved_nr[32], saved_gigantic[32];

static void restore(void)
{
	if (getpid() != zp_owner)
		return;
	if (saved_gigantic[0])
		sysfs_write(GIGANTIC_POOL, saved_gigantic, strlen(saved_gigantic));
	if (saved_nr[0])
		sysfs_write(NR_HUGEPAGES, saved_nr, strlen(saved_nr));
	zp_verify_restore();
}

static unsigned long read_ul(const char *path)
{
	char buf[32];

	if (sysfs_read(path, buf, sizeof(buf)) <= 0)
		return 0;
	return strtoul(buf, NULL, 10);
}

static int write_ul(const char *path, unsigned long val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lu", val);
	return sysfs_write(path, buf, strlen(buf));
}

static void flusher(double end, struct stats *s)
{
	while (now_secs() < end) {
		if (zp_write("flush", "1"))
			s->flush_errors++;
		s->flushes++;
		usleep(20000);
	}
}

static void compactor(double end, struct stats *s, bool gigantic)
{
	unsigned long seed = 12345, n;

	while (now_secs() < end) {
		if (!sysfs_write("/proc/sys/vm/compact_memory", "1", 1))
			s->compactions++;
		seed = seed * 6364136223846793005UL + 1442695040888963407UL;
		n = 8 + (seed >> 33) % 120;	/* 16 to 254 MiB */
		write_ul(NR_HUGEPAGES, n);
		n = read_ul(NR_HUGEPAGES);
		if (n) {
			s->pool_grown++;
			if (n > s->pool_max)
				s->pool_max = n;
		}
		write_ul(NR_HUGEPAGES, 0);
		if (gigantic && s->compactions % 8 == 1) {
			s->gigantic_tries++;
			write_ul(GIGANTIC_POOL, 1);
			if (read_ul(GIGANTIC_POOL) == 1)
				s->gigantic_ok++;
			write_ul(GIGANTIC_POOL, 0);
		}
		usleep(10000);
	}
}

static void thp_faulter(double end, struct stats *s)
{
	char *base, *p;
	long off;

	while (now_secs() < end) {
		base = map_anon(THP_LEN + ATHP_SZ, 0, -1);
		if (!base)
			continue;
		p = (char *)(((uintptr_t)base + ATHP_SZ - 1) & ~(ATHP_SZ - 1));
		madvise(p, THP_LEN, MADV_HUGEPAGE);
		if (!madvise(p, THP_LEN, MADV_POPULATE_WRITE)) {
			off = first_nonzero(p, THP_LEN);
			if (off >= 0) {
				if (!s->stale)
					s->first_stale = off;
				s->stale++;
			}
			s->thp_rounds++;
			memset(p, 0x6b, THP_LEN);
		}
		munmap(base, THP_LEN + ATHP_SZ);
	}
}

static pid_t spawn(int role, double end, struct stats *s, bool gigantic)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (pid)
		return pid;
	switch (role) {
	case 0:
		flusher(end, s);
		break;
	case 1:
		compactor(end, s, gigantic);
		break;
	default:
		thp_faulter(end, s);
		break;
	}
	_exit(0);
}

int main(void)
{
	long long failed0, checked0, failed, checked;
	struct stats *s;
	bool gigantic;
	pid_t pids[3];
	int i, status, bad_exit = 0;
	double end;

	ksft_print_header();
	zp_require();
	zp_verify_require(&failed0, &checked0);
	if (sysfs_read(NR_HUGEPAGES, saved_nr, sizeof(saved_nr)) <= 0)
		ksft_exit_skip(NR_HUGEPAGES " does not exist\n");
	gigantic = sysfs_read(GIGANTIC_POOL, saved_gigantic, sizeof(saved_gigantic)) > 0;

	zp_save();
	atexit(restore);
	ksft_set_plan(7);

	thp_write_string("enabled", "madvise");
	zp_enable_verified();
	write_ul(NR_HUGEPAGES, 0);
	if (gigantic)
		write_ul(GIGANTIC_POOL, 0);
	dirty_free_memory(256 * MIB, 0x5a);
	zp_write("flush", "1");

	s = mmap(NULL, 3 * sizeof(*s), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	memset(s, 0, 3 * sizeof(*s));
	s[2].first_stale = -1;

	end = now_secs() + RUN_S;
	for (i = 0; i < 3; i++)
		pids[i] = spawn(i, end, &s[i], gigantic);
	for (i = 0; i < 3; i++) {
		waitpid(pids[i], &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			bad_exit++;
	}
	ksft_print_msg(
		"%lu flushes, %lu compactions, pool grown %lu times (max %lu pages), %lu THP rounds\n",
		s[0].flushes, s[1].compactions, s[1].pool_grown, s[1].pool_max,
		s[2].thp_rounds);

	ksft_test_result(!bad_exit, "all workers exited normally\n");
	ksft_test_result(s[0].flushes > 0 && s[0].flush_errors == 0,
			 "flush: %lu, %lu failed\n", s[0].flushes, s[0].flush_errors);
	ksft_test_result(s[1].compactions > 0 && s[1].pool_grown > 0,
			 "compaction and 2 MiB hugetlb pool growth ran\n");
	if (!gigantic)
		ksft_test_result_skip("no 1 GiB huge pages in this kernel\n");
	else if (!s[1].gigantic_ok)
		ksft_test_result_skip("1 GiB pool growth failed %lu times (not enough memory)\n",
				      s[1].gigantic_tries);
	else
		ksft_test_result_pass("1 GiB pool growth (alloc_contig_range): %lu of %lu\n",
				      s[1].gigantic_ok, s[1].gigantic_tries);
	ksft_test_result(s[2].thp_rounds > 0 && s[2].stale == 0,
			 "THP faults: %lu rounds of %lu MiB, %lu not zero (first at %ld)\n",
			 s[2].thp_rounds, THP_LEN / MIB, s[2].stale, s[2].first_stale);

	failed = vmstat_get("prezero_verify_failed") - failed0;
	checked = vmstat_get("prezero_verify_checked") - checked0;
	ksft_test_result(failed == 0, "prezero_verify_failed: +%lld\n", failed);
	ksft_test_result(checked > 0, "prezero_verify_checked: +%lld\n", checked);

	munmap(s, 3 * sizeof(*s));
	ksft_finished();
}
