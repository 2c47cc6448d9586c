/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the zero_page kselftests: loading the module, reading
 * and writing /sys/kernel/mm/zero_page, saving and restoring its knobs and the
 * THP settings (hugepage_settings.c), and memory hogs.
 */
#ifndef ZERO_PAGE_COMMON_H
#define ZERO_PAGE_COMMON_H

#include "lib/prezero_common.h"

#ifndef MADV_HUGEPAGE
#define MADV_HUGEPAGE 14
#endif
#ifndef MADV_NOHUGEPAGE
#define MADV_NOHUGEPAGE 15
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define ZP_DIR "/sys/kernel/mm/zero_page"
/* The base page and PMD-mapped THP sizes of the running kernel. */
#define PAGE_SZ ((unsigned long)psize())
#define THP_SZ pmd_size()
/* The anonymous THPs that the tests fault in: THP_SZ, or 2 MiB mTHP. */
#define ATHP_SZ anon_thp_size()

/*
 * The mTHP folio size of the tests: arm64's contiguous-PTE block, 64 KiB
 * with 4K pages, 2 MiB with 16K and 64K pages (64 KiB on x86-64 too).
 */
static inline unsigned long contpte_size(void)
{
	return PAGE_SZ >= 16384 ? 2 * MIB : 64 * 1024;
}

static inline bool zp_present(void)
{
	return access(ZP_DIR "/enabled", F_OK) == 0;
}

/* Loads the module if needed; skips the whole test if it does not exist. */
static inline void zp_require(void)
{
	if (getuid() != 0)
		ksft_exit_skip("must run as root\n");
	if (!zp_present() && system("modprobe zero_page 2>/dev/null") != 0)
		ksft_exit_skip("module zero_page is not available\n");
	if (!zp_present())
		ksft_exit_skip(ZP_DIR " does not exist\n");
}

static inline int zp_write(const char *name, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), ZP_DIR "/%s", name);
	return sysfs_write(path, val, strlen(val));
}

static inline int zp_write_ul(const char *name, unsigned long val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lu", val);
	return zp_write(name, buf);
}

/* Reads a decimal file of the module; exits with a failure if unreadable. */
static inline unsigned long zp_read(const char *name)
{
	char path[256], buf[64], *end;
	unsigned long val;

	snprintf(path, sizeof(path), ZP_DIR "/%s", name);
	if (sysfs_read(path, buf, sizeof(buf)) < 0)
		ksft_exit_fail_msg("cannot read %s: %s\n", path, strerror(errno));
	errno = 0;
	val = strtoul(buf, &end, 10);
	if (errno || end == buf || strcmp(end, "\n"))
		ksft_exit_fail_msg("%s: malformed content '%s'\n", path, buf);
	return val;
}

/* MAX_PAGE_ORDER, from the number of columns of /proc/buddyinfo. */
static inline int max_page_order(void)
{
	char line[512], *p;
	int cols = 0;
	FILE *f = fopen("/proc/buddyinfo", "r");

	if (!f || !fgets(line, sizeof(line), f)) {
		if (f)
			fclose(f);
		return 10;
	}
	fclose(f);
	p = strstr(line, "zone");
	if (!p)
		return 10;
	p += 4;
	while (*p == ' ')
		p++;
	while (*p && *p != ' ')	/* zone name */
		p++;
	for (;;) {
		while (*p == ' ')
			p++;
		if (*p < '0' || *p > '9')
			break;
		cols++;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return cols ? cols - 1 : 10;
}

/* The knobs, saved at start and restored at exit. */
static const char *const zp_knobs[] = {
	"batch_size", "delay_millisecs", "mini_order", "nontemporal", "background",
};

#define ZP_NR_KNOBS ARRAY_SIZE(zp_knobs)

static unsigned long zp_saved[ZP_NR_KNOBS];
static unsigned long zp_saved_enabled;
static bool zp_saved_valid;
static pid_t zp_owner;

static inline void zp_restore(void)
{
	unsigned int i;

	if (getpid() != zp_owner)
		return;
	if (zp_saved_valid && zp_present()) {
		zp_write("enabled", "0");
		for (i = 0; i < ZP_NR_KNOBS; i++)
			zp_write_ul(zp_knobs[i], zp_saved[i]);
		if (zp_saved_enabled)
			zp_write("enabled", "1");
	}
	thp_restore_settings();
}

/*
 * Saves the module's knobs and the THP settings, restored at exit; sets
 * the anonymous THP size up (anon_thp_setup()).
 */
static inline void zp_save(void)
{
	unsigned int i;

	zp_owner = getpid();
	for (i = 0; i < ZP_NR_KNOBS; i++)
		zp_saved[i] = zp_read(zp_knobs[i]);
	zp_saved_enabled = zp_read("enabled");
	zp_saved_valid = true;
	thp_save_settings();
	anon_thp_setup();
	atexit(zp_restore);
}

/* The knobs back to the module's defaults, disabled. */
static inline void zp_defaults(void)
{
	zp_write("enabled", "0");
	zp_write("batch_size", "67108864");
	zp_write("delay_millisecs", "1000");
	zp_write("mini_order", "1");
	zp_write("background", "1");
}

/* The page allocator's verification of pre-zeroed pages (verify_zeroed). */
#define ZP_VERIFY "/sys/module/page_reporting/parameters/verify_zeroed"
#define ZEROED_FIRST "/sys/module/page_reporting/parameters/zeroed_first"
/* The kernel's log line when page_reporting.zeroed_first takes effect. */
#define ZEROED_FIRST_ON "free pages known to be zero go to allocations that clear first"

/* verify_zeroed as the test found it, put back by zp_verify_restore(). */
static char zp_saved_verify[8];

/*
 * Skips the test unless the kernel offers verify_zeroed and its counters;
 * saves the setting and returns the counters as they are now.
 */
static inline void zp_verify_require(long long *failed, long long *checked)
{
	if (sysfs_read(ZP_VERIFY, zp_saved_verify, sizeof(zp_saved_verify)) <= 0)
		ksft_exit_skip(ZP_VERIFY " does not exist\n");
	*failed = vmstat_get("prezero_verify_failed");
	*checked = vmstat_get("prezero_verify_checked");
	if (*failed < 0 || *checked < 0)
		ksft_exit_skip("no prezero_verify_* counters in /proc/vmstat\n");
}

static inline void zp_verify_restore(void)
{
	if (zp_saved_verify[0])
		sysfs_write(ZP_VERIFY, zp_saved_verify[0] == 'Y' ? "1" : "0", 1);
}

/*
 * The least free memory a test can leave when it allocates all the rest:
 * 32 MiB above the min watermark (/proc/sys/vm/min_free_kbytes), 0 if that
 * cannot be read. dirty_free_memory() leaves at least that much; with 64K
 * pages (98 MiB watermark in a 2 GiB guest) it is more than some tests
 * keep, and zero blocks of earlier flushes stay in what they cannot reach.
 */
static inline size_t min_keep_free(void)
{
	long long min_free = read_num_file("/proc/sys/vm/min_free_kbytes");

	return min_free > 0 ? (size_t)min_free * 1024 + 32 * MIB : 0;
}

/* zeroed_first as the test found it, put back by zeroed_first_restore(). */
static char zp_saved_zeroed_first[8];

static inline void zeroed_first_restore(void)
{
	if (zp_saved_zeroed_first[0])
		sysfs_write(ZEROED_FIRST, zp_saved_zeroed_first[0] == 'Y' ? "1" : "0", 1);
}

/*
 * Sets page_reporting.zeroed_first, first saving it for
 * zeroed_first_restore() (run at exit); returns false if the kernel has no
 * such parameter.
 */
static inline bool zeroed_first_set(bool on)
{
	if (!zp_saved_zeroed_first[0]) {
		if (sysfs_read(ZEROED_FIRST, zp_saved_zeroed_first,
			       sizeof(zp_saved_zeroed_first)) <= 0)
			return false;
		atexit(zeroed_first_restore);
	}
	return !sysfs_write(ZEROED_FIRST, on ? "1" : "0", 1);
}

/*
 * One test result: since zp_verify_require() saw failed0 and checked0,
 * verify_zeroed checked pre-zeroed pages and found none that was not zero.
 */
static inline void zp_verify_result(long long failed0, long long checked0)
{
	long long failed = vmstat_get("prezero_verify_failed") - failed0;
	long long checked = vmstat_get("prezero_verify_checked") - checked0;

	ksft_print_msg("verify_zeroed: %lld pages checked, %lld not zero\n",
		       checked, failed);
	ksft_test_result(!failed && checked > 0,
			 "verify_zeroed checked pre-zeroed pages, none was dirty\n");
}

/*
 * Enables zero_page with the default knobs and no pass in the background
 * (the delay is an hour): only the test's flushes clear. Skips the test
 * when zero_page cannot be enabled.
 */
static inline void zp_enable_flush_only(void)
{
	int ret;

	zp_defaults();
	zp_write("delay_millisecs", "3600000");
	ret = zp_write("enabled", "1");
	if (ret)
		ksft_exit_skip("cannot enable zero_page: %s\n", strerror(-ret));
}

/*
 * Enables zero_page with the default knobs, a 10 ms delay and the
 * verification of pre-zeroed pages on; skips the test when zero_page
 * cannot be enabled.
 */
static inline void zp_enable_verified(void)
{
	int ret;

	zp_defaults();
	if (sysfs_write(ZP_VERIFY, "1", 1))
		ksft_exit_fail_msg("cannot enable verify_zeroed\n");
	zp_write("delay_millisecs", "10");
	ret = zp_write("enabled", "1");
	if (ret)
		ksft_exit_skip("cannot enable zero_page: %s\n", strerror(-ret));
}

/* Clears what is free now, so that the next allocations find zeroed blocks. */
static inline void zp_flush(void)
{
	if (zp_write("flush", "1"))
		ksft_exit_fail_msg("flush failed\n");
}

/* A memfd of size bytes (memfd_create() flags: MFD_HUGETLB or 0). */
static inline int memfd_sized(size_t size, unsigned int flags)
{
	int fd = syscall(__NR_memfd_create, "zero_page", flags);

	if (fd < 0 || ftruncate(fd, size))
		ksft_exit_fail_msg("memfd: %s\n", strerror(errno));
	return fd;
}

/* Maps size bytes of fd shared. */
static inline char *map_shared(int fd, size_t size)
{
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	return p;
}

/* The pool of 1 GiB hugetlb pages (boot with hugepagesz=1G). */
#define GIGANTIC_POOL "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages"

/* Pages in the 1 GiB pool, -1 if there is none. */
static inline long gigantic_pool_get(void)
{
	return read_num_file(GIGANTIC_POOL);
}

/* Asks for n pages in the 1 GiB pool; false if the write failed. */
static inline bool gigantic_pool_set(long n)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld\n", n);
	return sysfs_write(GIGANTIC_POOL, buf, strlen(buf)) == 0;
}

/* Maps len bytes of private anonymous memory. */
static inline char *map_anon(size_t len, int flags, int advice)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (advice >= 0)
		madvise(p, len, advice);
	return p;
}

/* Offset of the first non-zero byte of [p, p + len), or -1. */
static inline long first_nonzero(const char *p, size_t len)
{
	const uint64_t *w = (const uint64_t *)p;
	size_t i, j;

	for (i = 0; i < len / 8; i++) {
		if (w[i]) {
			for (j = i * 8; j < i * 8 + 8; j++)
				if (p[j])
					return j;
		}
	}
	return -1;
}

/*
 * Faults in the len bytes at p (MADV_POPULATE_WRITE), checks that they read
 * as zero and unmaps them. Returns the clears the kernel skipped meanwhile
 * (prezero_alloc_hit), -1 if the memory could not be had, -2 if a byte was
 * not zero.
 */
static inline long long populate_hits(char *p, size_t len)
{
	long long hits = vmstat_get("prezero_alloc_hit");

	if (madvise(p, len, MADV_POPULATE_WRITE)) {
		munmap(p, len);
		return -1;
	}
	hits = vmstat_get("prezero_alloc_hit") - hits;
	if (first_nonzero(p, len) != -1)
		hits = -2;
	munmap(p, len);
	return hits;
}

/*
 * Dirties most free memory with a non-zero pattern and frees it again, so
 * that the free lists are full of stale data. Leaves `keep` bytes free.
 * Returns the bytes dirtied with THP faults.
 */
static inline size_t dirty_free_memory(size_t keep, unsigned char pattern)
{
	size_t avail = meminfo_get("MemFree");
	double share = free_share_from_order(anon_thp_order());
	size_t min_keep = min_keep_free();
	size_t len, small = 0, done = 0;
	char *p, *q = NULL;

	/*
	 * Above the min watermark: 22 MiB in a 2 GiB guest with 4K pages, but
	 * 100 MiB with 64K pages (khugepaged asks for 5% of memory when a
	 * pageblock is 512 MiB), more than some callers keep.
	 */
	if (keep < min_keep)
		keep = min_keep;
	if (avail <= keep + 32 * MIB)
		return 0;
	/*
	 * First the free blocks too small for a THP, which may be zero or hold
	 * zero parts from earlier tests: 4 KiB faults take the smallest blocks
	 * first (and zeroed ones first among them).
	 */
	if (share >= 0)
		small = (size_t)(avail * (100 - share) / 100) & ~(PAGE_SZ - 1);
	if (small >= 4 * MIB && avail > keep + small + 32 * MIB) {
		q = map_anon(small, MAP_NORESERVE, MADV_NOHUGEPAGE);
		if (q)
			memset(q, pattern, small);
		avail = meminfo_get("MemFree");
	}
	len = avail > keep + 32 * MIB ? (avail - keep) & ~(ATHP_SZ - 1) : 0;
	p = len ? map_anon(len, MAP_NORESERVE, MADV_HUGEPAGE) : NULL;
	/*
	 * Populate chunk by chunk so that a failure still dirties something,
	 * and stop 32 MiB under `keep` (still above the min watermark) if
	 * memory went elsewhere meanwhile: with 64K pages the OOM killer
	 * ended zero_page_compaction here with 100 MiB free (the min
	 * watermark) where it keeps 256 MiB.
	 */
	for (done = 0; p && done < len; done += 16 * MIB) {
		size_t n = len - done < 16 * MIB ? len - done : 16 * MIB;

		if (meminfo_get("MemFree") + 32 * MIB < keep + n)
			break;
		memset(p + done, pattern, n);
	}
	if (q)
		munmap(q, small);
	if (!p)
		return 0;
	munmap(p, len);
	return done < len ? done : len;
}

/*
 * Allocates, dirties and frees len bytes, so that the free lists get blocks
 * that no reporting device has seen yet (blocks reported earlier, by this
 * module or by virtio-balloon, keep PG_reported while they stay free and are
 * skipped by later passes and flushes).
 */
static inline void churn_memory(size_t len)
{
	char *p = map_anon(len, MAP_NORESERVE, -1);

	if (!p)
		return;
	memset(p, 0x3c, len);
	munmap(p, len);
}

#endif /* ZERO_PAGE_COMMON_H */
