// SPDX-License-Identifier: GPL-2.0
/*
 * Stale-data torture for zero_page: many allocations of mixed orders and
 * paths, each checked for zero where zero was promised, while a controller
 * toggles "enabled", changes the knobs at random, asks for immediate
 * passes and reloads the module.
 *
 *   zero_page_torture [-n PAGES] [-w WORKERS] [-s SEED]
 *
 * PAGES is the number of base pages to fault in across all workers
 * (default: $ZP_TORTURE_PAGES, else 200000; stress runs use 10^6 and
 * more). Paths:
 * 4K anonymous faults, THP faults (MADV_POPULATE_WRITE), mTHP where the
 * kernel offers it, MAP_POPULATE, mlock, shmem (page cache) faults, and
 * page tables (__GFP_ZERO kernel allocations) through sparse touches whose
 * untouched neighbours must read zero. Every freed page is left full of a
 * non-zero pattern so that the next user finds stale data if anything is
 * wrong. When the kernel offers page_reporting.verify_zeroed, it is switched
 * on for the run (and restored at the end): every pre-zeroed page is read
 * when it is allocated, prezero_verify_failed in /proc/vmstat must stay
 * unchanged and prezero_verify_checked must rise, proving that the check
 * ran.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest.h"
#include "zero_page_common.h"

#define ZP "/sys/kernel/mm/zero_page/"
#define SZ_2M (2UL << 20)
#define PAGE 4096UL

enum path { P_4K, P_THP, P_MTHP, P_POPULATE, P_MLOCK, P_SHMEM, P_PGTABLE, NR_PATHS };
static const char *const path_name[NR_PATHS] = {
	"4K fault", "THP fault", "mTHP fault", "MAP_POPULATE", "mlock",
	"shmem fault", "page table",
};

struct result {
	unsigned long pages[NR_PATHS];
	unsigned long stale[NR_PATHS];
};

static unsigned long rnd(unsigned long *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/* Count the non-zero bytes of [p, p + len) and leave a pattern behind. */
static unsigned long check_and_dirty(unsigned char *p, size_t len)
{
	const uint64_t *q = (const uint64_t *)p;
	unsigned long bad = 0;
	size_t i;

	for (i = 0; i < len / 8; i++)
		if (q[i])
			bad += 8;
	memset(p, 0x5a, len);
	return bad;
}

/* A 2 MiB-aligned region of len bytes inside a larger mapping. */
static unsigned char *map_aligned(size_t len, void **base, size_t *maplen)
{
	unsigned char *p;

	*maplen = len + SZ_2M;
	*base = map_anon(*maplen, 0, -1);
	if (!*base)
		return NULL;
	p = (unsigned char *)(((uintptr_t)*base + SZ_2M - 1) & ~(SZ_2M - 1));
	return p;
}

static void one_round(enum path path, unsigned long *seed, struct result *res)
{
	size_t len, maplen, i;
	unsigned char *p;
	void *base;
	int fd;

	switch (path) {
	case P_4K:
		len = (1 + rnd(seed) % 64) * PAGE;
		p = (unsigned char *)map_anon(len, 0, -1);
		if (!p)
			return;
		madvise(p, len, MADV_NOHUGEPAGE);
		/* Read faults map the zero page, write faults allocate. */
		for (i = 0; i < len; i += PAGE)
			res->stale[path] +=
				__atomic_load_n(&p[i + rnd(seed) % PAGE], __ATOMIC_RELAXED) != 0;
		for (i = 0; i < len; i += PAGE)
			p[i] = 0;
		res->stale[path] += check_and_dirty(p, len);
		res->pages[path] += len / PAGE;
		munmap(p, len);
		break;
	case P_THP:
		len = (1 + rnd(seed) % 4) * SZ_2M;
		p = map_aligned(len, &base, &maplen);
		if (!p)
			return;
		madvise(p, len, MADV_HUGEPAGE);
		if (!madvise(p, len, MADV_POPULATE_WRITE)) {
			res->stale[path] += check_and_dirty(p, len);
			res->pages[path] += len / PAGE;
		}
		munmap(base, maplen);
		break;
	case P_MTHP:
		/* Smaller than a PMD: with contpte-sized mTHP enabled, such folios. */
		len = (1 + rnd(seed) % 24) * contpte_size();
		p = (unsigned char *)map_anon(len, 0, -1);
		if (!p)
			return;
		if (!madvise(p, len, MADV_POPULATE_WRITE)) {
			res->stale[path] += check_and_dirty(p, len);
			res->pages[path] += len / PAGE;
		}
		munmap(p, len);
		break;
	case P_POPULATE:
		len = (1 + rnd(seed) % 256) * PAGE;
		p = (unsigned char *)map_anon(len, MAP_POPULATE, -1);
		if (!p)
			return;
		res->stale[path] += check_and_dirty(p, len);
		res->pages[path] += len / PAGE;
		munmap(p, len);
		break;
	case P_MLOCK:
		len = (1 + rnd(seed) % 512) * PAGE;
		p = (unsigned char *)map_anon(len, 0, -1);
		if (!p)
			return;
		if (!mlock(p, len)) {
			res->stale[path] += check_and_dirty(p, len);
			res->pages[path] += len / PAGE;
		}
		munmap(p, len);
		break;
	case P_SHMEM:
		len = (1 + rnd(seed) % 128) * PAGE;
		fd = memfd_create("torture", 0);
		if (fd < 0)
			return;
		if (!ftruncate(fd, len)) {
			p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			if (p != MAP_FAILED) {
				for (i = 0; i < len; i += PAGE)
					p[i] = p[i];
				res->stale[path] += check_and_dirty(p, len);
				res->pages[path] += len / PAGE;
				munmap(p, len);
			}
		}
		close(fd);
		break;
	case P_PGTABLE:
		/*
		 * Touch one page per 2 MiB of a sparse region: every touch needs
		 * a new page table (__GFP_ZERO). A stale page table would show
		 * up as garbage in the untouched neighbours, which must read 0.
		 */
		len = 32 * SZ_2M;
		p = (unsigned char *)map_anon(len, MAP_NORESERVE, -1);
		if (!p)
			return;
		madvise(p, len, MADV_NOHUGEPAGE);
		for (i = 0; i < len; i += SZ_2M)
			p[i] = 1;
		for (i = 0; i < len; i += SZ_2M) {
			size_t off = PAGE * (1 + rnd(seed) % 511);

			if (p[i + off] || p[i] != 1)
				res->stale[path]++;
		}
		res->pages[path] += len / SZ_2M;
		munmap(p, len);
		break;
	default:
		break;
	}
}

static void worker(int id, unsigned long target, int out_fd, int have_mthp)
{
	unsigned long seed = 0x9e3779b97f4a7c15UL * (id + 1) + getpid();
	struct result res = {};
	unsigned long done = 0;
	int j;

	while (done < target) {
		enum path path = rnd(&seed) % NR_PATHS;

		if (path == P_MTHP && !have_mthp)
			path = P_THP;
		one_round(path, &seed, &res);
		for (done = 0, j = 0; j < NR_PATHS; j++)
			done += j == P_PGTABLE ? 0 : res.pages[j];
	}
	if (write(out_fd, &res, sizeof(res)) != sizeof(res))
		_exit(2);
	_exit(0);
}

/* Random knob changes, toggles, immediate passes and module reloads. */
static void controller(unsigned long seed)
{
	char buf[32];

	for (;;) {
		switch (rnd(&seed) % 8) {
		case 0:
			write_str(ZP "enabled", "0");
			break;
		case 1:
		case 2:
			write_str(ZP "enabled", "1");
			break;
		case 3:
			snprintf(buf, sizeof(buf), "%lu", 1 + rnd(&seed) % 10);
			write_str(ZP "mini_order", buf);
			break;
		case 4:
			snprintf(buf, sizeof(buf), "%lu", (1 + rnd(&seed) % 64) << 20);
			write_str(ZP "batch_size", buf);
			snprintf(buf, sizeof(buf), "%lu", rnd(&seed) % 50);
			write_str(ZP "delay_millisecs", buf);
			break;
		case 5:
		case 6:
			write_str(ZP "flush", "1");
			break;
		case 7:
			if (rnd(&seed) % 4 == 0) {
				if (system("rmmod zero_page 2>/dev/null; modprobe zero_page"))
					break;
				write_str(ZP "enabled", "1");
			}
			break;
		}
		usleep(rnd(&seed) % 20000);
	}
}

int main(int argc, char **argv)
{
	unsigned long target = 200000, seed = 1;
	struct result total = {}, res;
	int workers = 2, opt, i, j, pipefd[2], status, have_mthp = 0, have_verify;
	unsigned long all = 0, stale = 0;
	long long failed0 = -1, checked0 = -1, failed = 0, checked = 0;
	char saved_verify[8] = "";
	char saved_mthp[128] = "", mthp[128], *sel = NULL, *end;
	pid_t ctl, pids[16];
	FILE *f;

	if (getenv("ZP_TORTURE_PAGES"))
		target = strtoul(getenv("ZP_TORTURE_PAGES"), NULL, 0);
	while ((opt = getopt(argc, argv, "n:w:s:")) != -1) {
		switch (opt) {
		case 'n':
			target = strtoul(optarg, NULL, 0);
			break;
		case 'w':
			workers = atoi(optarg);
			break;
		case 's':
			seed = strtoul(optarg, NULL, 0);
			break;
		default: return 2;
		}
	}
	if (workers < 1 || workers > 16)
		workers = 2;

	ksft_print_header();
	if (system("modprobe zero_page 2>/dev/null") || access(ZP "enabled", F_OK))
		ksft_exit_skip("module zero_page is not available\n");
	ksft_set_plan(NR_PATHS + 2);

	/* mTHP of contpte_size() if this kernel offers it; restored at the end. */
	snprintf(mthp, sizeof(mthp), "/sys/kernel/mm/transparent_hugepage/hugepages-%lukB/enabled",
		 contpte_size() / 1024);
	f = fopen(mthp, "r");
	if (f) {
		if (fgets(saved_mthp, sizeof(saved_mthp), f)) {
			sel = strchr(saved_mthp, '[');
			end = sel ? strchr(sel, ']') : NULL;
			if (end) {
				*end = '\0';
				sel++;
			}
		}
		if (sel && end)
			have_mthp = !write_str(mthp, "always");
		fclose(f);
	}
	/* The kernel's verify mode: Y/N, restored at the end. */
	i = open(ZP_VERIFY, O_RDONLY);
	if (i >= 0) {
		if (read(i, saved_verify, 1) != 1)
			saved_verify[0] = '\0';
		close(i);
	}
	failed0 = vmstat_get("prezero_verify_failed");
	checked0 = vmstat_get("prezero_verify_checked");
	have_verify = saved_verify[0] && failed0 >= 0 && checked0 >= 0 &&
		      !write_str(ZP_VERIFY, "1");
	write_str(ZP "enabled", "1");
	write_str(ZP "flush", "1");

	if (pipe(pipefd))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	ctl = fork();
	if (!ctl)
		controller(seed);
	for (i = 0; i < workers; i++) {
		pids[i] = fork();
		if (!pids[i])
			worker(i, target / workers, pipefd[1], have_mthp);
	}
	for (i = 0; i < workers; i++) {
		if (read(pipefd[0], &res, sizeof(res)) != sizeof(res))
			ksft_exit_fail_msg("a worker died\n");
		for (j = 0; j < NR_PATHS; j++) {
			total.pages[j] += res.pages[j];
			total.stale[j] += res.stale[j];
		}
	}
	for (i = 0; i < workers; i++)
		waitpid(pids[i], &status, 0);
	kill(ctl, SIGKILL);
	waitpid(ctl, &status, 0);

	/* Make sure the module is back and was usable after all the reloads. */
	if (system("modprobe zero_page"))
		ksft_print_msg("modprobe zero_page failed after the run\n");
	if (have_verify) {
		failed = vmstat_get("prezero_verify_failed") - failed0;
		checked = vmstat_get("prezero_verify_checked") - checked0;
	}

	for (j = 0; j < NR_PATHS; j++) {
		if (j == P_MTHP && !have_mthp) {
			ksft_test_result_skip("%s: no %lu KiB mTHP in this kernel\n", path_name[j],
					      contpte_size() / 1024);
			continue;
		}
		all += j == P_PGTABLE ? 0 : total.pages[j];
		stale += total.stale[j];
		ksft_test_result(total.pages[j] > 0 && total.stale[j] == 0,
				 "%s: %lu %s, %lu stale bytes\n", path_name[j], total.pages[j],
				 j == P_PGTABLE ? "page tables" : "pages", total.stale[j]);
	}
	ksft_print_msg("%lu pages faulted in all, %lu stale bytes\n", all, stale);
	ksft_test_result(all >= target && stale == 0, "all paths: zero stale bytes\n");
	if (have_verify)
		ksft_test_result(failed == 0 && checked > 0,
				 "verify_zeroed: %lld pre-zeroed pages checked, %lld not zero\n",
				 checked, failed);
	else
		ksft_test_result_skip("page_reporting.verify_zeroed not offered by the kernel\n");

	write_str(ZP "enabled", "0");
	if (have_verify)
		write_str(ZP_VERIFY, saved_verify[0] == 'Y' ? "1" : "0");
	if (have_mthp)
		write_str(mthp, sel);
	ksft_finished();
}
