// SPDX-License-Identifier: GPL-2.0
/*
 * A memfd mapped at an address congruent to a base page only (not to the
 * PMD size), as QEMU's memory-backend-memfd maps guest RAM, with
 * shmem_enabled=always: MADV_POPULATE_WRITE allocates PMD-sized folios
 * and maps them with PTEs ("mm: shmem: allocate the file's large folio for
 * a misaligned mapping"), a few faults per folio instead of one per page
 * ("mm: map the part of a large folio that fits the VMA and the page
 * table"). Checks thp_file_alloc, the process's minor faults (GUP's
 * included), that everything reads zero, that the mapping and pread() /
 * pwrite() see the same data, and that unmapping half of it, truncating
 * inside a folio and extending again, repopulating and unmapping all of it
 * keep the data and RssShmem right (nothing stale, nothing leaked).
 * A window smaller than a folio into a new memfd gets no PMD-sized folio;
 * folios larger than the VMAs that map them again are mapped page by page.
 * Needs root (shmem_enabled) and THP; does not need zero_page.
 */
#define _GNU_SOURCE
#include <sys/resource.h>

#include "zero_page_common.h"

#define NR_THP 8
#define SEED 0x3d

static size_t size;

/* RssShmem of this process in bytes; exits with a failure if unreadable. */
static unsigned long rss_shmem(void)
{
	char line[256];
	unsigned long kb;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		ksft_exit_fail_msg("/proc/self/status: %s\n", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "RssShmem: %lu kB", &kb) == 1) {
			fclose(f);
			return kb << 10;
		}
	}
	fclose(f);
	ksft_exit_fail_msg("no RssShmem in /proc/self/status\n");
	return 0;
}

static long minflt(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		ksft_exit_fail_msg("getrusage: %s\n", strerror(errno));
	return ru.ru_minflt;
}

/*
 * Maps len bytes of fd at offset off, MAP_FIXED at addr; exits with a
 * failure if it cannot.
 */
static char *map_fixed(char *addr, size_t len, int fd, off_t off)
{
	char *p = mmap(addr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		       fd, off);

	if (p != addr)
		ksft_exit_fail_msg("mmap at %p: %s\n", addr, strerror(errno));
	return p;
}

static void populate(char *p, size_t len)
{
	if (madvise(p, len, MADV_POPULATE_WRITE))
		ksft_exit_fail_msg("MADV_POPULATE_WRITE: %s\n", strerror(errno));
}

/* The byte written at file offset off: never zero. */
static char pattern(size_t off)
{
	return (char)(((off / PAGE_SZ) * 7 + off % 251) % 255 + 1);
}

/* Whether [p, p + len), at file offset off, holds pattern(). */
static bool has_pattern(const char *p, size_t len, size_t off)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != pattern(off + i))
			return false;
	return true;
}

/* Whether pread() of [off, off + len) reads what the mapping p holds. */
static bool pread_agrees(int fd, const char *p, size_t off, size_t len)
{
	char *buf = malloc(len);
	bool ok;

	if (!buf)
		ksft_exit_fail_msg("malloc failed\n");
	ok = pread(fd, buf, len, off) == (ssize_t)len && !memcmp(buf, p + off, len);
	free(buf);
	return ok;
}

int main(void)
{
	unsigned long rss0, rss, pages;
	long long thp0, thp;
	char *res, *p, *w;
	size_t half, cut, i;
	long flt0, flt;
	bool ok;
	int fd;

	ksft_print_header();
	if (getuid() != 0)
		ksft_exit_skip("must run as root\n");
	if (access(SHMEM_ENABLED, F_OK))
		ksft_exit_skip(SHMEM_ENABLED " does not exist\n");
	if (THP_SZ > 32 * MIB)
		ksft_exit_skip("PMD size %lu MiB: too large for this test\n", THP_SZ / MIB);
	ksft_set_plan(10);

	thp_save_settings();
	atexit(thp_restore_settings);
	thp_write_string("shmem_enabled", "always");

	size = NR_THP * THP_SZ;
	pages = size / PAGE_SZ;
	half = size / 2;

	/* A reserved region; the mapping starts one page past a PMD boundary. */
	res = mmap(NULL, size + 2 * THP_SZ, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	w = (char *)((((unsigned long)res + THP_SZ - 1) & ~(THP_SZ - 1)) + PAGE_SZ);

	rss0 = rss_shmem();
	fd = memfd_sized(size, 0);
	p = map_fixed(w, size, fd, 0);
	thp0 = vmstat_get("thp_file_alloc");
	flt0 = minflt();
	populate(p, size);
	flt = minflt() - flt0;
	thp = vmstat_get("thp_file_alloc") - thp0;
	rss = rss_shmem() - rss0;

	ksft_print_msg(
		"%zu MiB at %p (PMD offset %lu KiB): %lld PMD-sized folios, %ld minor faults for %lu pages, RssShmem %lu KiB\n",
		size / MIB, p, ((unsigned long)p & (THP_SZ - 1)) >> 10, thp, flt, pages, rss >> 10);
	ksft_test_result(thp >= NR_THP,
			 "misaligned MADV_POPULATE_WRITE allocates PMD-sized folios\n");
	ksft_test_result(flt <= (long)pages / 16,
			 "misaligned MADV_POPULATE_WRITE takes few faults (%ld for %lu pages)\n",
			 flt, pages);
	ksft_test_result(rss == size && first_nonzero(p, size) == -1,
			 "populated: all mapped, all zero\n");

	/* Through the mapping, read back with pread(); and the other way. */
	for (i = 0; i < half; i++)
		p[i] = pattern(i);
	ok = pread_agrees(fd, p, 0, half);
	{
		char *buf = malloc(half);

		if (!buf)
			ksft_exit_fail_msg("malloc failed\n");
		for (i = 0; i < half; i++)
			buf[i] = pattern(half + i);
		ok &= pwrite(fd, buf, half, half) == (ssize_t)half;
		free(buf);
	}
	ok &= has_pattern(p, size, 0);
	ksft_test_result(ok, "mapping and pread()/pwrite() agree\n");

	/* Unmap the upper half: it leaves RssShmem, its data stays in the file. */
	if (munmap(p + half, half))
		ksft_exit_fail_msg("munmap: %s\n", strerror(errno));
	rss = rss_shmem() - rss0;
	ok = rss == half && has_pattern(p, half, 0);
	map_fixed(p + half, half, fd, half);
	flt0 = minflt();
	populate(p + half, half);
	flt = minflt() - flt0;
	rss = rss_shmem() - rss0;
	ksft_print_msg(
		"half unmapped and mapped again: %ld minor faults for %lu pages, RssShmem %lu KiB\n",
		flt, pages / 2, rss >> 10);
	ok &= rss == size && has_pattern(p, size, 0);
	ksft_test_result(ok, "upper half unmapped, mapped and populated again: data kept\n");

	/*
	 * Truncate inside a folio, three pages past the middle, and extend
	 * again: the rest reads zero once populated, nothing of it stale.
	 */
	cut = half + 3 * PAGE_SZ;
	if (ftruncate(fd, cut) || ftruncate(fd, size))
		ksft_exit_fail_msg("ftruncate: %s\n", strerror(errno));
	/*
	 * Nothing past the cut stays mapped; splitting the folio there
	 * unmaps the pages before the cut too, which fault again.
	 */
	rss = rss_shmem() - rss0;
	ok = rss <= cut;
	ksft_print_msg("truncated to %zu KiB and extended: RssShmem %lu KiB\n",
		       cut >> 10, rss >> 10);
	thp0 = vmstat_get("thp_file_alloc");
	populate(p, size);
	thp = vmstat_get("thp_file_alloc") - thp0;
	rss = rss_shmem() - rss0;
	ksft_print_msg("populated again: RssShmem %lu KiB, %lld PMD-sized folios for the rest\n",
		       rss >> 10, thp);
	ok &= rss == size && has_pattern(p, cut, 0) &&
	      first_nonzero(p + cut, size - cut) == -1 && pread_agrees(fd, p, 0, size);
	ksft_test_result(ok,
			 "truncated inside a folio and extended: old data kept, the rest zero\n");

	/* Everything unmapped: no RssShmem left. */
	if (munmap(p, size))
		ksft_exit_fail_msg("munmap: %s\n", strerror(errno));
	rss = rss_shmem();
	ksft_test_result(rss == rss0, "unmapped: RssShmem back to %lu KiB (%lu KiB)\n",
			 rss0 >> 10, rss >> 10);

	/* The file still holds the data, which a new misaligned mapping sees. */
	p = map_fixed(w, size, fd, 0);
	populate(p, size);
	ok = has_pattern(p, cut, 0) && first_nonzero(p + cut, size - cut) == -1;
	munmap(p, size);
	close(fd);
	ksft_test_result(ok && rss_shmem() == rss0,
			 "mapped again after close: data kept, nothing leaked\n");

	/*
	 * A window of half a PMD into the middle of a new memfd: no PMD-sized
	 * folio lies within it, so none is allocated, and it reads zero.
	 */
	fd = memfd_sized(size, 0);
	p = map_fixed(w, THP_SZ / 2, fd, 2 * THP_SZ + THP_SZ / 4);
	thp0 = vmstat_get("thp_file_alloc");
	populate(p, THP_SZ / 2);
	thp = vmstat_get("thp_file_alloc") - thp0;
	ok = first_nonzero(p, THP_SZ / 2) == -1 && rss_shmem() - rss0 == THP_SZ / 2;
	munmap(p, THP_SZ / 2);
	close(fd);
	ksft_test_result(ok && thp == 0,
			 "window smaller than a PMD: no PMD-sized folio (%lld), reads zero\n", thp);

	/*
	 * Large folios mapped again through one-page VMAs (MADV_HUGEPAGE on
	 * every other page splits the mapping): each fault maps its one page.
	 */
	fd = memfd_sized(size, 0);
	p = map_fixed(w, size, fd, 0);
	populate(p, size);
	for (i = 0; i < size; i++)
		p[i] = pattern(i);
	for (i = 0; i < size; i += 2 * PAGE_SZ)
		if (madvise(p + i, PAGE_SZ, MADV_HUGEPAGE))
			ksft_exit_fail_msg("MADV_HUGEPAGE: %s\n", strerror(errno));
	if (madvise(p, size, MADV_DONTNEED))
		ksft_exit_fail_msg("MADV_DONTNEED: %s\n", strerror(errno));
	ok = rss_shmem() == rss0;
	populate(p, size);
	ok &= rss_shmem() - rss0 == size && has_pattern(p, size, 0) &&
	      pread_agrees(fd, p, 0, size);
	munmap(p, size);
	close(fd);
	ksft_test_result(ok && rss_shmem() == rss0,
			 "large folios mapped again through one-page VMAs: data kept, nothing leaked\n");
	munmap(res, size + 2 * THP_SZ);
	ksft_finished();
}
