// SPDX-License-Identifier: GPL-2.0
/*
 * MADV_POPULATE_(WRITE|READ) and mlock() over PTE-mapped mTHP folios of
 * arm64's contiguous-PTE size (64 KiB with 4K pages, 2 MiB with 64K
 * pages; 64 KiB on x86-64), where GUP may step over the rest of a folio
 * at once ("mm: gup: step over a PTE-mapped large folio when no page is
 * returned") and must not: folios with zapped pages (first, middle, last),
 * ranges that start and end inside folios, write-protected entries
 * (soft-dirty tracking, an mprotect() round trip, after fork()), part of a
 * folio moved by mremap() to an address where it is no longer naturally
 * aligned, and VMAs that end inside a folio (munmap(), mprotect(), a pkey
 * that denies writes). Each page is checked through /proc/self/pagemap (present,
 * soft-dirty, exclusively mapped, pfn) and by its contents. Fully mapped
 * folios are the reference. Needs root (pfns) and mTHP of that size; does
 * not need zero_page. Page numbers are those of 16-page folios, scaled by
 * P() to the folio's pages.
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/wait.h>

#include "zero_page_common.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

#define MTHP_ENABLED "/sys/kernel/mm/transparent_hugepage/hugepages-%lukB/enabled"
#define MAX_SUB 128			/* 2 MiB of 16K pages */

static unsigned long folio_kb;		/* the folio size under test */
static int nr_sub;			/* base pages in a folio */
#define FOLIO_SZ (nr_sub * PAGE_SZ)
/* Page i of a 16-page folio, at the same place of an nr_sub-page one. */
#define P(i) ((i) * (nr_sub / 16))

/* Masks of /proc/kpageflags, as Linux 7.x's vm_util.h has them. */
#ifndef KPF_COMPOUND_HEAD
#define KPF_COMPOUND_HEAD BIT_ULL(15)
#define KPF_COMPOUND_TAIL BIT_ULL(16)
#endif

#define TAG 0x40		/* page i of a test area holds TAG + i */

static int pagemap_fd, kpageflags_fd = -1;

static uint64_t kpage_flags(uint64_t pfn)
{
	uint64_t flags;

	if (pread(kpageflags_fd, &flags, sizeof(flags), pfn * sizeof(flags)) !=
	    sizeof(flags))
		ksft_exit_fail_msg("/proc/kpageflags: %s\n", strerror(errno));
	return flags;
}

static char *page(char *p, int i)
{
	return p + i * PAGE_SZ;
}

static unsigned char tag(int i)
{
	return TAG + i;
}

/* The page's bytes all equal val. */
static bool filled(const char *p, unsigned char val)
{
	size_t i;

	for (i = 0; i < PAGE_SZ; i++)
		if ((unsigned char)p[i] != val)
			return false;
	return true;
}

/*
 * The nr_sub pages at p (folio aligned) are one folio: present,
 * consecutive pfns from an nr_sub-aligned one and, where /proc/kpageflags can
 * tell, a compound head followed by its tails.
 */
static bool is_folio(char *p)
{
	uint64_t pfn0 = PAGEMAP_PFN(pagemap_get_entry(pagemap_fd, p)), e, f;
	int i;

	if (!pfn0 || pfn0 % nr_sub)
		return false;
	for (i = 0; i < nr_sub; i++) {
		e = pagemap_get_entry(pagemap_fd, page(p, i));
		if (!(e & PM_PRESENT) || PAGEMAP_PFN(e) != pfn0 + i)
			return false;
		if (kpageflags_fd < 0)
			continue;
		f = kpage_flags(pfn0 + i);
		if (!(f & (i ? KPF_COMPOUND_TAIL : KPF_COMPOUND_HEAD)))
			return false;
	}
	return true;
}

/*
 * Maps nr aligned folios of private anonymous memory, written page by
 * page (page i holds tag(i)), each checked to be a folio; NULL
 * if that failed.
 */
static char *folios_new(int nr)
{
	size_t len = nr * FOLIO_SZ;
	char *raw, *p;
	int i;

	raw = mmap(NULL, len + FOLIO_SZ, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	p = (char *)(((uintptr_t)raw + FOLIO_SZ - 1) & ~(FOLIO_SZ - 1));
	if (p > raw)
		munmap(raw, p - raw);
	munmap(p + len, raw + FOLIO_SZ - p);
	for (i = 0; i < nr * nr_sub; i++)
		memset(page(p, i), tag(i), PAGE_SZ);
	for (i = 0; i < nr; i++) {
		if (!is_folio(p + i * FOLIO_SZ)) {
			ksft_print_msg("no %lu KiB folio at %p\n", folio_kb, p + i * FOLIO_SZ);
			munmap(p, len);
			return NULL;
		}
	}
	return p;
}

static void zap(char *p, int i)
{
	if (madvise(page(p, i), PAGE_SZ, MADV_DONTNEED))
		ksft_exit_fail_msg("MADV_DONTNEED: %s\n", strerror(errno));
}

/* Zaps the @n pages of p listed in @list. */
static void zap_list(char *p, const int *list, unsigned int n)
{
	while (n--)
		zap(p, list[n]);
}

static bool in(int i, const int *set, int n)
{
	while (n--)
		if (set[n] == i)
			return true;
	return false;
}

/*
 * Pages [0, n) of p: present unless listed in absent; a present page
 * listed in zero reads zero, any other holds tag(i + shift).
 */
static bool pages_ok(const char *what, char *p, int n, const int *absent,
		     int nr_absent, const int *zero, int nr_zero, int shift)
{
	unsigned char val;
	bool present;
	int i;

	for (i = 0; i < n; i++) {
		present = pagemap_get_entry(pagemap_fd, page(p, i)) & PM_PRESENT;
		if (present == in(i, absent, nr_absent)) {
			ksft_print_msg("%s: page %d is %spresent\n", what, i,
				       present ? "" : "not ");
			return false;
		}
		if (!present)
			continue;
		val = in(i, zero, nr_zero) ? 0 : tag(i + shift);
		if (!filled(page(p, i), val)) {
			ksft_print_msg("%s: page %d does not hold 0x%02x\n", what,
				       i, val);
			return false;
		}
	}
	return true;
}

/* madvise() of pages [from, to) of p: 0, or the errno it failed with. */
static int populate_err(char *p, int from, int to, int advice)
{
	return madvise(page(p, from), (to - from) * PAGE_SZ, advice) ? errno : 0;
}

static const char *err_str(int err)
{
	return err ? strerror(err) : "no error";
}

static bool populate(char *p, int from, int to, int advice)
{
	if (madvise(page(p, from), (to - from) * PAGE_SZ, advice)) {
		ksft_print_msg("madvise of pages [%d, %d): %s\n", from, to,
			       strerror(errno));
		return false;
	}
	return true;
}

/* Fully mapped folios: still the same pages, present, with their data. */
static void test_reference(void)
{
	uint64_t pfn[2 * MAX_SUB];
	bool ok;
	int i;
	char *p = folios_new(2);

	ok = p;
	for (i = 0; ok && i < 2 * nr_sub; i++)
		pfn[i] = PAGEMAP_PFN(pagemap_get_entry(pagemap_fd, page(p, i)));
	ok = ok && populate(p, 0, 2 * nr_sub, MADV_POPULATE_WRITE) &&
	     populate(p, 0, 2 * nr_sub, MADV_POPULATE_READ) &&
	     pages_ok("reference", p, 2 * nr_sub, NULL, 0, NULL, 0, 0);
	for (i = 0; ok && i < 2 * nr_sub; i++)
		ok = PAGEMAP_PFN(pagemap_get_entry(pagemap_fd, page(p, i))) == pfn[i];
	ok = ok && is_folio(p) && is_folio(p + FOLIO_SZ);
	ksft_test_result(ok, "fully mapped folios: every page present, same folios and data\n");
	if (p)
		munmap(p, 2 * FOLIO_SZ);
}

/* One zapped page of a folio: populate gives it back, zeroed. */
static void test_zapped(int z, const char *name)
{
	char *p = folios_new(1);
	bool ok = p;

	if (ok) {
		zap(p, z);
		ok = pages_ok(name, p, nr_sub, &z, 1, NULL, 0, 0) &&
		     populate(p, 0, nr_sub, MADV_POPULATE_WRITE) &&
		     pages_ok(name, p, nr_sub, NULL, 0, &z, 1, 0);
		munmap(p, FOLIO_SZ);
	}
	ksft_test_result(ok, "%s subpage zapped: POPULATE_WRITE makes all %d present, it reads 0\n",
			 name, nr_sub);
}

/*
 * Two folios with zapped pages, populated from inside the first to inside
 * the second: the zapped pages in the range come back, those outside stay
 * unmapped.
 */
static void test_mid_range(void)
{
	const int zapped[] = { P(1), P(6), P(12), P(20), P(30) };
	const int outside[] = { P(1), P(30) };
	char *p = folios_new(2);
	bool ok = p;

	if (ok) {
		zap_list(p, zapped, ARRAY_SIZE(zapped));
		ok = populate(p, P(4), P(22), MADV_POPULATE_WRITE) &&
		     pages_ok("mid-range", p, 2 * nr_sub, outside,
			      ARRAY_SIZE(outside), zapped, ARRAY_SIZE(zapped), 0);
		munmap(p, 2 * FOLIO_SZ);
	}
	ksft_test_result(ok,
			 "range from page %d to %d of two folios: zapped pages in it present, outside it not\n",
			 P(4), P(22));
}

static void test_populate_read(void)
{
	char *p = folios_new(1);
	int z = P(9);
	bool ok = p;

	if (ok) {
		zap(p, z);
		ok = populate(p, 0, nr_sub, MADV_POPULATE_READ) &&
		     pages_ok("populate read", p, nr_sub, NULL, 0, &z, 1, 0);
		munmap(p, FOLIO_SZ);
	}
	ksft_test_result(ok, "POPULATE_READ over a folio with a zapped page: all present\n");
}

static void test_mlock(void)
{
	const int zapped[] = { 0, P(7), P(17), 2 * nr_sub - 1 };
	char *p = folios_new(2);
	bool ok = p;

	if (ok) {
		zap_list(p, zapped, ARRAY_SIZE(zapped));
		ok = !mlock(p, 2 * FOLIO_SZ);
		if (!ok)
			ksft_print_msg("mlock: %s\n", strerror(errno));
		ok = ok && pages_ok("mlock", p, 2 * nr_sub, NULL, 0, zapped,
				    ARRAY_SIZE(zapped), 0);
		munlock(p, 2 * FOLIO_SZ);
		munmap(p, 2 * FOLIO_SZ);
	}
	ksft_test_result(ok, "mlock of two folios with zapped pages: all present\n");
}

/* Soft-dirty pages [0, n) of p are exactly [from, to). */
static bool soft_dirty_is(const char *what, char *p, int n, int from, int to)
{
	bool dirty;
	int i;

	for (i = 0; i < n; i++) {
		dirty = pagemap_get_entry(pagemap_fd, page(p, i)) & PM_SOFT_DIRTY;
		if (dirty != (i >= from && i < to)) {
			ksft_print_msg("%s: page %d is %ssoft-dirty\n", what, i,
				       dirty ? "" : "not ");
			return false;
		}
	}
	return true;
}

/*
 * Clearing the soft-dirty bits write-protects every entry of two folios
 * (optionally after an mprotect() read-only and back inside the first,
 * which splits and merges the VMA there); page `from` is written, so its entry
 * alone is writable, then [from, to) is populated for writing. Each page
 * in the range must have taken its write fault (soft-dirty) in place (same
 * pfn, data kept), none outside.
 */
static void test_soft_dirty(int from, int to, bool mprot, const char *name)
{
	uint64_t pfn[2 * MAX_SUB];
	char *p;
	bool ok;
	int i;

	if (!softdirty_supported()) {
		ksft_test_result_skip("%s: no soft-dirty tracking on this kernel (e.g. arm64)\n",
				      name);
		return;
	}
	p = folios_new(2);
	ok = p;
	if (!ok)
		goto out;
	for (i = 0; i < 2 * nr_sub; i++)
		pfn[i] = PAGEMAP_PFN(pagemap_get_entry(pagemap_fd, page(p, i)));
	clear_softdirty();
	if (mprot && (mprotect(page(p, P(8)), P(4) * PAGE_SZ, PROT_READ) ||
		      mprotect(page(p, P(8)), P(4) * PAGE_SZ, PROT_READ | PROT_WRITE)))
		ksft_exit_fail_msg("mprotect: %s\n", strerror(errno));
	/*
	 * Linux 7.3 reports pages of the round trip soft-dirty (its VMA was
	 * split and merged back inside the folio): clear them once more.
	 */
	if (mprot)
		clear_softdirty();
	memset(page(p, from), tag(from), PAGE_SZ);
	ok = soft_dirty_is(name, p, 2 * nr_sub, from, from + 1) &&
	     populate(p, from, to, MADV_POPULATE_WRITE) &&
	     soft_dirty_is(name, p, 2 * nr_sub, from, to) &&
	     pages_ok(name, p, 2 * nr_sub, NULL, 0, NULL, 0, 0);
	for (i = 0; ok && i < 2 * nr_sub; i++) {
		if (PAGEMAP_PFN(pagemap_get_entry(pagemap_fd, page(p, i))) != pfn[i]) {
			ksft_print_msg("%s: page %d was copied\n", name, i);
			ok = false;
		}
	}
	munmap(p, 2 * FOLIO_SZ);
out:
	ksft_test_result(ok,
			 "%s: POPULATE_WRITE write-faults every write-protected page in place\n",
			 name);
}

static bool all_exclusive(char *p, int n)
{
	uint64_t e;
	int i;

	for (i = 0; i < n; i++) {
		e = pagemap_get_entry(pagemap_fd, page(p, i));
		if ((e & (PM_PRESENT | PM_MMAP_EXCLUSIVE)) != (PM_PRESENT | PM_MMAP_EXCLUSIVE)) {
			ksft_print_msg("fork: page %d present %d exclusive %d\n", i,
				       !!(e & PM_PRESENT), !!(e & PM_MMAP_EXCLUSIVE));
			return false;
		}
	}
	return true;
}

static void sync_read(int fd)
{
	char c;

	if (read(fd, &c, 1) != 1)
		ksft_exit_fail_msg("fork: pipe read: %s\n", strerror(errno));
}

static void sync_write(int fd)
{
	if (write(fd, "x", 1) != 1)
		ksft_exit_fail_msg("fork: pipe write: %s\n", strerror(errno));
}

/* The child's side of test_fork(): its exit status is 0 if it saw no change. */
static void fork_child(char *p, int in, int out)
{
	int i, bad = 0;

	sync_read(in);
	/* The parent wrote page 3 and populated all: not seen here. */
	for (i = 0; i < 2 * nr_sub; i++)
		bad |= !filled(page(p, i), tag(i));
	for (i = 0; i < 2 * nr_sub; i++)
		memset(page(p, i), 0xc1, PAGE_SZ);
	sync_write(out);
	sync_read(in);
	/* The parent wrote every page again. */
	for (i = 0; i < 2 * nr_sub; i++)
		bad |= !filled(page(p, i), 0xc1) << 1;
	_exit(bad);
}

/*
 * After fork() every entry is write-protected and every page shared. The
 * parent writes page 3 (a copy of that page), then populates both folios
 * for writing while the child still maps them: each page of the parent is
 * then its own, and neither side sees the other's writes afterwards.
 * (6.12 never reuses a shared large folio on a write fault, so no entry
 * of it becomes writable here: this guards against that changing.)
 */
static void test_fork(void)
{
	int to_child[2], to_parent[2], status, i;
	bool excl = false, ok = false;
	char *p = folios_new(2);
	pid_t pid;

	if (!p)
		goto out;
	if (pipe(to_child) || pipe(to_parent))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	pid = fork();
	if (pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (!pid)
		fork_child(p, to_child[0], to_parent[1]);
	memset(page(p, 3), 0x77, PAGE_SZ);
	excl = populate(p, 0, 2 * nr_sub, MADV_POPULATE_WRITE) &&
	       all_exclusive(p, 2 * nr_sub);
	sync_write(to_child[1]);
	sync_read(to_parent[0]);
	/* The child wrote every page: not seen here. */
	ok = true;
	for (i = 0; i < 2 * nr_sub; i++) {
		if (!filled(page(p, i), i == 3 ? 0x77 : tag(i))) {
			ksft_print_msg("fork: parent's page %d changed\n", i);
			ok = false;
		}
	}
	for (i = 0; i < 2 * nr_sub; i++)
		memset(page(p, i), 0x9d, PAGE_SZ);
	sync_write(to_child[1]);
	if (waitpid(pid, &status, 0) != pid)
		ksft_exit_fail_msg("waitpid: %s\n", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		ksft_print_msg("fork: child status 0x%x\n", status);
		ok = false;
	}
	close(to_child[0]);
	close(to_child[1]);
	close(to_parent[0]);
	close(to_parent[1]);
	munmap(p, 2 * FOLIO_SZ);
out:
	ksft_test_result(excl,
			 "fork, parent writes a subpage, POPULATE_WRITE: every page exclusive\n");
	ksft_test_result(ok, "fork: parent's and child's later writes not seen by the other\n");
}

/*
 * mremap() of the second half of a folio and the first half of the next
 * to a folio-aligned address: the first page there is page nr_sub / 2 of
 * its folio, the second half of the new range (zapped) belongs to another
 * folio. Populating the new range must fault in that second half.
 */
static void test_mremap(void)
{
	char *p = folios_new(2), *raw, *x, *q;
	int zeroed[MAX_SUB / 2], half = nr_sub / 2, i;
	bool ok = p;
	uint64_t pfn8;

	for (i = 0; i < half; i++)
		zeroed[i] = half + i;
	if (!ok)
		goto out;
	pfn8 = PAGEMAP_PFN(pagemap_get_entry(pagemap_fd, page(p, half)));
	raw = mmap(NULL, 3 * FOLIO_SZ, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		   -1, 0);
	if (raw == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	x = (char *)(((uintptr_t)raw + FOLIO_SZ - 1) & ~(FOLIO_SZ - 1));
	q = mremap(page(p, half), FOLIO_SZ, FOLIO_SZ, MREMAP_MAYMOVE | MREMAP_FIXED, x);
	if (q != x)
		ksft_exit_fail_msg("mremap: %s\n", strerror(errno));
	if (madvise(page(x, half), half * PAGE_SZ, MADV_DONTNEED))
		ksft_exit_fail_msg("MADV_DONTNEED: %s\n", strerror(errno));
	ok = PAGEMAP_PFN(pagemap_get_entry(pagemap_fd, x)) == pfn8 &&
	     pages_ok("mremap", x, nr_sub, zeroed, half, NULL, 0, half) &&
	     populate(x, 0, nr_sub, MADV_POPULATE_WRITE) &&
	     pages_ok("mremap", x, nr_sub, NULL, 0, zeroed, half, half);
	munmap(raw, 3 * FOLIO_SZ);
	munmap(p, 2 * FOLIO_SZ);
out:
	ksft_test_result(ok, "mremap to where a folio is not aligned: populate faults in all\n");
}

/*
 * munmap() of the second half of the second folio: the VMA ends inside
 * it. Populating to the VMA end brings every zapped page back; populating
 * past it fails with ENOMEM after doing the same.
 */
static void test_vma_end(void)
{
	const int zapped[] = { P(2), P(17), P(23) };
	int end = nr_sub + nr_sub / 2, err;
	char *p = folios_new(2);
	bool ok = p, past = p;

	if (!ok)
		goto out;
	munmap(page(p, end), (2 * nr_sub - end) * PAGE_SZ);
	zap_list(p, zapped, ARRAY_SIZE(zapped));
	ok = populate(p, 0, end, MADV_POPULATE_WRITE) &&
	     pages_ok("vma end", p, end, NULL, 0, zapped, ARRAY_SIZE(zapped), 0);
	zap_list(p, zapped, ARRAY_SIZE(zapped));
	err = populate_err(p, 0, 2 * nr_sub, MADV_POPULATE_WRITE);
	past = err == ENOMEM;
	if (!past)
		ksft_print_msg("populate past the VMA end: %s\n", err_str(err));
	past = past && pages_ok("past vma end", p, end, NULL, 0, zapped,
				ARRAY_SIZE(zapped), 0);
	munmap(p, end * PAGE_SZ);
out:
	ksft_test_result(ok, "VMA ending inside a folio: populate to its end, all present\n");
	ksft_test_result(past,
			 "populate past that VMA end: ENOMEM, every page before it present\n");
}

/*
 * mprotect(PROT_READ) of the second half of a folio (two VMAs): populating
 * it for writing fails with EINVAL once it reaches that half, after
 * faulting in the first; populating for reading faults in all.
 */
static void test_split_ro(void)
{
	const int absent[] = { P(10) };
	const int zapped[] = { P(3), P(10) };
	char *p = folios_new(1);
	int half = nr_sub / 2, err;
	bool ok = p, rd = p;

	if (!ok)
		goto out;
	zap(p, P(3));
	zap(p, P(10));
	if (mprotect(page(p, half), half * PAGE_SZ, PROT_READ))
		ksft_exit_fail_msg("mprotect: %s\n", strerror(errno));
	err = populate_err(p, 0, nr_sub, MADV_POPULATE_WRITE);
	ok = err == EINVAL;
	if (!ok)
		ksft_print_msg("POPULATE_WRITE into PROT_READ: %s\n", err_str(err));
	ok = ok && pages_ok("split ro", p, nr_sub, absent, 1, zapped, 2, 0);
	rd = populate(p, 0, nr_sub, MADV_POPULATE_READ) &&
	     pages_ok("split ro read", p, nr_sub, NULL, 0, zapped, 2, 0);
	munmap(p, FOLIO_SZ);
out:
	ksft_test_result(ok,
			 "second half of a folio read-only: POPULATE_WRITE stops there with EINVAL\n");
	ksft_test_result(rd, "second half of a folio read-only: POPULATE_READ makes all present\n");
}

/*
 * The second half of a folio in a VMA of its own, writable but with a
 * protection key that denies writes: its entries are present, writable
 * and follow the first half's, yet populating the folio for writing must
 * fail (EINVAL) where that VMA begins.
 */
static void test_pkey(void)
{
	char *p;
	int pkey, err;
	bool ok;

	pkey = pkey_alloc(0, 0);
	if (pkey < 0) {
		ksft_test_result_skip("pkey VMA inside a folio: no protection keys (%s)\n",
				      strerror(errno));
		return;
	}
	p = folios_new(1);
	ok = p;
	if (!ok)
		goto out;
	if (pkey_mprotect(page(p, nr_sub / 2), nr_sub / 2 * PAGE_SZ, PROT_READ | PROT_WRITE, pkey))
		ksft_exit_fail_msg("pkey_mprotect: %s\n", strerror(errno));
	ok = is_folio(p) && populate(p, 0, nr_sub / 2, MADV_POPULATE_WRITE);
	pkey_set(pkey, PKEY_DISABLE_WRITE);
	err = populate_err(p, 0, nr_sub, MADV_POPULATE_WRITE);
	pkey_set(pkey, 0);
	if (err != EINVAL) {
		ksft_print_msg("POPULATE_WRITE into a write-denied pkey: %s\n",
			       err_str(err));
		ok = false;
	}
	munmap(p, FOLIO_SZ);
out:
	pkey_free(pkey);
	ksft_test_result(ok,
			 "second half of a folio write-denied by a pkey: POPULATE_WRITE fails with EINVAL\n");
}

int main(void)
{
	char *p, mthp_enabled[128];

	ksft_print_header();
	if (getuid())
		ksft_exit_skip("must run as root\n");
	/* arm64's contiguous PTEs: 16 of 4 KiB, 32 of 64 KiB (128 of 16 KiB) */
	folio_kb = contpte_size() / 1024;
	nr_sub = folio_kb * 1024 / PAGE_SZ;
	snprintf(mthp_enabled, sizeof(mthp_enabled), MTHP_ENABLED, folio_kb);
	if (access(mthp_enabled, F_OK))
		ksft_exit_skip("no %lu KiB mTHP (%s)\n", folio_kb, mthp_enabled);
	thp_save_settings();
	atexit(thp_restore_settings);
	/* These folios only: no PMD-sized THP in the way. */
	if (write_str(mthp_enabled, "always"))
		ksft_exit_skip("cannot enable %lu KiB mTHP\n", folio_kb);
	thp_write_string("enabled", "never");
	pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
	if (pagemap_fd < 0)
		ksft_exit_skip("no /proc/self/pagemap\n");
	kpageflags_fd = open("/proc/kpageflags", O_RDONLY);
	if (kpageflags_fd < 0)
		ksft_print_msg("no /proc/kpageflags: folios checked by pfn only\n");
	p = folios_new(1);
	if (!p)
		ksft_exit_skip("anonymous faults do not get %lu KiB folios\n", folio_kb);
	munmap(p, FOLIO_SZ);

	ksft_set_plan(17);
	test_reference();
	test_zapped(0, "first");
	test_zapped(P(7), "middle");
	test_zapped(nr_sub - 1, "last");
	test_mid_range();
	test_populate_read();
	test_mlock();
	test_soft_dirty(0, 2 * nr_sub, false, "soft-dirty clean, first page written");
	test_soft_dirty(P(5), P(24), true, "soft-dirty clean, mprotect round trip, pages 5 to 24");
	test_fork();
	test_mremap();
	test_vma_end();
	test_split_ro();
	test_pkey();
	ksft_finished();
}
