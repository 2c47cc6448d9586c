// SPDX-License-Identifier: GPL-2.0
/*
 * The other ways a VMM gets guest memory take pre-zeroed pages without
 * clearing them again, and never show old data:
 * - long-term pinning (pin_user_pages(FOLL_LONGTERM | FOLL_WRITE) through
 *   CONFIG_GUP_TEST's PIN_LONGTERM_TEST_START, as VFIO pins guest memory) of
 *   unpopulated anonymous THP, anonymous 4 KiB and memfd THP memory: the
 *   kernel reads zeroes through the pinned pages and prezero_alloc_hit
 *   rises for (nearly) every page;
 * - hugetlb memfds (MFD_HUGETLB) from a dirtied pool that hugetlb_prezero
 *   zeroed: faults, fallocate() and a long-term pin use the zeroed pages
 *   (alloc_hits) and read zeroes;
 * - surplus huge pages of a hugetlb memfd (empty pool, overcommit) come
 *   from pre-zeroed buddy blocks, for fallocate() as for faults;
 * - with the features off (zero_page disabled and its blocks used up, pool
 *   pages not zeroed), the same paths read zeroes and skip nothing (where
 *   the min watermark leaves less than 64 MiB free: 4K pages).
 */
#define _GNU_SOURCE
#include <sys/ioctl.h>
#include <sys/mount.h>

#include "zero_page_common.h"
#include "hugetlb_prezero_common.h"
#include "../../../mm/gup_test.h"

#define TEST_SIZE (64 * MIB)
#define KEEP_FREE (64 * MIB)
#define HP_PAGES 32
#define GUP_TEST "/sys/kernel/debug/gup_test"
#define OVERCOMMIT HP_GLOBAL_DIR "/hugepages-2048kB/nr_overcommit_hugepages"

#define HP_LEN (HP_PAGES * HP_2M_KB * 1024)

static int gup_fd = -1;
static char *readback;

static void restore_overcommit(void)
{
	write_str(OVERCOMMIT, "0");
}

/*
 * Pins the unpopulated [p, p + len) long-term for writing, reads it back
 * through the kernel's mappings of the pinned pages, unpins. Returns the
 * prezero_alloc_hit delta of the pin, -1 if it failed, -2 if a byte the
 * kernel read was not zero.
 */
static long long pin_hits(char *p, size_t len)
{
	struct pin_longterm_test args = {
		.addr = (uintptr_t)p, .size = len,
		.flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE,
	};
	uint64_t dst = (uintptr_t)readback;
	long long hits = vmstat_get("prezero_alloc_hit");

	if (ioctl(gup_fd, PIN_LONGTERM_TEST_START, &args)) {
		ksft_print_msg("PIN_LONGTERM_TEST_START: %s\n", strerror(errno));
		return -1;
	}
	hits = vmstat_get("prezero_alloc_hit") - hits;
	memset(readback, 0x77, len);
	if (ioctl(gup_fd, PIN_LONGTERM_TEST_READ, &dst) ||
	    first_nonzero(readback, len) != -1)
		hits = -2;
	ioctl(gup_fd, PIN_LONGTERM_TEST_STOP);
	return hits;
}

enum kind { ANON_THP, ANON_4K, MEMFD_THP };
static const char *const kind_name[] = { "anonymous THP", "anonymous 4K", "memfd THP" };

/* Pins TEST_SIZE of fresh memory of the given kind; returns pin_hits(). */
static long long pin_kind(enum kind kind)
{
	long long hits;
	char *raw, *p;
	int fd;

	if (kind == MEMFD_THP) {
		thp_write_string("shmem_enabled", "always");
		fd = memfd_sized(TEST_SIZE, 0);
		p = map_shared(fd, TEST_SIZE);
		hits = pin_hits(p, TEST_SIZE);
		munmap(p, TEST_SIZE);
		close(fd);
		return hits;
	}
	raw = map_anon(TEST_SIZE + ATHP_SZ, 0, -1);
	if (!raw)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	p = (char *)(((uintptr_t)raw + ATHP_SZ - 1) & ~(ATHP_SZ - 1));
	madvise(p, TEST_SIZE, kind == ANON_THP ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	hits = pin_hits(p, TEST_SIZE);
	munmap(raw, TEST_SIZE + ATHP_SZ);
	return hits;
}

static void test_pin(void)
{
	const long long pages = TEST_SIZE / PAGE_SZ;
	enum kind kind;
	long long hits;

	for (kind = ANON_THP; kind <= MEMFD_THP; kind++) {
		zp_flush();
		hits = pin_kind(kind);
		ksft_print_msg("pin %s: %lld of %lld pages pre-zeroed\n",
			       kind_name[kind], hits, pages);
		ksft_test_result(hits >= pages * 9 / 10,
				 "long-term pin of %s: kernel reads zeroes, >= 90%% skipped\n",
				 kind_name[kind]);
	}
}

/* Fills the 2 MiB pool with stale data: a hugetlb memfd written and freed. */
static void dirty_pool(void)
{
	size_t len = HP_LEN;
	int fd = memfd_sized(len, hp_memfd_flags(HP_2M_KB));
	char *p = map_shared(fd, len);

	memset(p, 0xa5, len);
	munmap(p, len);
	close(fd);
}

enum hp_how { HP_FAULT, HP_FALLOCATE, HP_PIN };
static const char *const hp_how_name[] = { "fault", "fallocate", "long-term pin" };

/*
 * Allocates HP_PAGES huge pages of a hugetlb memfd the way `how` says and
 * checks that they read as zeroes. Returns false if a byte was not zero.
 */
static bool hugetlb_memfd(enum hp_how how)
{
	size_t len = HP_LEN;
	int fd = memfd_sized(len, hp_memfd_flags(HP_2M_KB));
	char *p = map_shared(fd, len);
	bool ok = true;

	switch (how) {
	case HP_FAULT:
		hp_touch(p, HP_2M_KB, HP_PAGES);
		break;
	case HP_FALLOCATE:
		if (fallocate(fd, 0, 0, len)) {
			ksft_print_msg("fallocate: %s\n", strerror(errno));
			ok = false;
		}
		break;
	case HP_PIN:
		ok = pin_hits(p, len) >= 0;
		break;
	}
	ok &= first_nonzero(p, len) == -1;
	munmap(p, len);
	close(fd);
	return ok;
}

static void test_hugetlb(void)
{
	long long hits, zeroed;
	enum hp_how how;
	bool ok;

	for (how = HP_FAULT; how <= HP_PIN; how++) {
		dirty_pool();
		ok = hp_zero(0, HP_2M_KB, 0) == 0;
		zeroed = hp_zeroed(0, HP_2M_KB);
		hits = hp_stat("alloc_hits");
		ok &= hugetlb_memfd(how);
		hits = hp_stat("alloc_hits") - hits;
		ksft_print_msg("hugetlb memfd %s: %lld of %d pool pages were zeroed, %lld used\n",
			       hp_how_name[how], zeroed, HP_PAGES, hits);
		ksft_test_result(ok && zeroed == HP_PAGES && hits == HP_PAGES,
				 "hugetlb memfd %s: zeroes, every pool page pre-zeroed\n",
				 hp_how_name[how]);
	}

	/* Not zeroed by hugetlb_prezero: cleared at allocation, no hit. */
	dirty_pool();
	hits = hp_stat("alloc_hits");
	ok = hugetlb_memfd(HP_FALLOCATE);
	hits = hp_stat("alloc_hits") - hits;
	ksft_test_result(ok && hits == 0,
			 "hugetlb memfd fallocate from a dirty pool: zeroes, no hit\n");
}

/* Surplus pages: the pool is empty, overcommit lets the memfd allocate. */
static void test_surplus(void)
{
	const long long pages = HP_LEN / PAGE_SZ;
	enum hp_how how;
	long long hits;
	bool ok;

	hp_set_pool(0, HP_2M_KB, 0);
	if (write_str(OVERCOMMIT, "64")) {
		ksft_test_result_skip("surplus: cannot set nr_overcommit_hugepages\n");
		ksft_test_result_skip("surplus: cannot set nr_overcommit_hugepages\n");
		return;
	}
	for (how = HP_FAULT; how <= HP_FALLOCATE; how++) {
		churn_memory(HP_LEN);
		zp_flush();
		hits = vmstat_get("prezero_alloc_hit");
		ok = hugetlb_memfd(how);
		hits = vmstat_get("prezero_alloc_hit") - hits;
		ksft_print_msg("surplus %s: %lld of %lld pages pre-zeroed\n",
			       hp_how_name[how], hits, pages);
		ksft_test_result(ok && hits >= pages * 9 / 10,
				 "surplus hugetlb memfd %s: zeroes, >= 90%% skipped\n",
				 hp_how_name[how]);
	}
	write_str(OVERCOMMIT, "0");
}

/*
 * zero_page off and its zeroed blocks used up: pins skip (almost) nothing.
 * The dirtying cannot reach what it leaves free above the min watermark,
 * where zero blocks of earlier flushes (and zero parts of merged blocks)
 * stay: with 64K pages 100 MiB, and this pin found 992-1025 of its 1024
 * pages zero there.
 */
static void test_off(void)
{
	size_t min_keep = min_keep_free();
	long long hits;

	if (min_keep > KEEP_FREE) {
		ksft_test_result_skip("zero_page off: %zu MiB must stay free, zero blocks stay\n",
				      min_keep >> 20);
		return;
	}
	zp_write("enabled", "0");
	/* Use up the zeroed blocks: what is allocated now is freed dirty. */
	dirty_free_memory(KEEP_FREE, 1);
	hits = pin_kind(ANON_THP);
	ksft_print_msg("zero_page off: pin of anonymous THP, %lld pages counted as pre-zeroed\n",
		       hits);
	ksft_test_result(hits >= 0 && hits <= (long long)(TEST_SIZE / PAGE_SZ) / 20,
			 "zero_page off: long-term pin reads zeroes, <= 5%% skipped\n");
}

int main(void)
{
	long long failed0, checked0;

	ksft_print_header();
	zp_require();
	hp_require(1);
	zp_verify_require(&failed0, &checked0);
	if (access(GUP_TEST, F_OK))
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	gup_fd = open(GUP_TEST, O_RDWR);
	if (gup_fd < 0)
		ksft_exit_skip(GUP_TEST ": %s (CONFIG_GUP_TEST)\n", strerror(errno));
	readback = malloc(TEST_SIZE);
	if (!readback)
		ksft_exit_fail_msg("malloc failed\n");
	ksft_set_plan(11);
	zp_save();
	atexit(restore_overcommit);
	if (sysfs_write(ZP_VERIFY, "1", 1))
		ksft_exit_fail_msg("cannot enable verify_zeroed\n");
	zp_enable_flush_only();
	if (hp_pool_on_node0(HP_2M_KB, HP_PAGES) != HP_PAGES)
		ksft_exit_skip("cannot allocate %d huge pages\n", HP_PAGES);
	if (!dirty_free_memory(KEEP_FREE, 0x5a))
		ksft_exit_fail_msg("cannot dirty free memory\n");

	test_pin();
	test_hugetlb();
	test_surplus();
	test_off();

	zp_verify_result(failed0, checked0);
	zp_verify_restore();
	ksft_finished();
}
