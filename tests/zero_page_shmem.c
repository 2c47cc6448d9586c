// SPDX-License-Identifier: GPL-2.0
/*
 * shmem (memfd, tmpfs) takes pre-zeroed blocks without clearing them again,
 * in every path that allocates its folios, and never shows old data:
 * - faults (THP and 4 KiB), MADV_POPULATE_WRITE and fallocate() on a memfd
 *   read zeroes and raise prezero_alloc_hit for (nearly) every page after a
 *   flush; two threads populating halves of one memfd at once keep the hit
 *   share (what a VMM's prealloc threads do);
 * - fallocated folios stay zero through later partial writes and stay holes
 *   for SEEK_DATA/SEEK_HOLE until written, and a failed
 *   fallocate (ENOSPC on a small tmpfs) still gives back all it allocated;
 * - page cache pages that were written and then truncated or punched come
 *   back as zeroes, with and without a flush in between;
 * - with zero_page off and its zeroed blocks used up, the same faults raise
 *   the counter for (almost) no page;
 * - verify_zeroed found no pre-zeroed page that was not zero.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/statfs.h>

#include "zero_page_common.h"

#define TEST_SIZE (64 * MIB)
#define KEEP_FREE (64 * MIB)
#define TMPFS_DIR "/tmp/zero_page_shmem"

#ifndef FALLOC_FL_KEEP_SIZE
#define FALLOC_FL_KEEP_SIZE 0x01
#endif
#ifndef FALLOC_FL_PUNCH_HOLE
#define FALLOC_FL_PUNCH_HOLE 0x02
#endif

/* THP for memfds ("always") or base pages only ("never"). */
static void shmem_huge(bool huge)
{
	thp_write_string("shmem_enabled", huge ? "always" : "never");
}

enum how { FAULT, POPULATE, FALLOCATE };
static const char *const how_name[] = { "fault", "MADV_POPULATE_WRITE", "fallocate" };

/*
 * Allocates TEST_SIZE of a new memfd the way `how` says, checks that it
 * reads as zeroes and returns the prezero_alloc_hit delta of the allocation,
 * or -1 if a byte was not zero. THP use is stored in *thp (file THPs).
 */
static long long memfd_hits(enum how how, long long *thp)
{
	long long hits, thp0 = vmstat_get("thp_file_alloc");
	int fd = memfd_sized(TEST_SIZE, 0);
	char *p = map_shared(fd, TEST_SIZE);
	size_t i;

	hits = vmstat_get("prezero_alloc_hit");
	switch (how) {
	case FAULT:
		for (i = 0; i < TEST_SIZE; i += PAGE_SZ)
			p[i] = 0;
		break;
	case POPULATE:
		if (madvise(p, TEST_SIZE, MADV_POPULATE_WRITE))
			ksft_exit_fail_msg("MADV_POPULATE_WRITE: %s\n", strerror(errno));
		break;
	case FALLOCATE:
		if (fallocate(fd, 0, 0, TEST_SIZE))
			ksft_exit_fail_msg("fallocate: %s\n", strerror(errno));
		break;
	}
	hits = vmstat_get("prezero_alloc_hit") - hits;
	*thp = vmstat_get("thp_file_alloc") - thp0;
	if (first_nonzero(p, TEST_SIZE) != -1)
		hits = -1;
	munmap(p, TEST_SIZE);
	close(fd);
	return hits;
}

/* Every path, THP and base pages, after a flush: (nearly) all hits. */
static void test_paths(void)
{
	const long long pages = TEST_SIZE / PAGE_SZ;
	long long hits, thp;
	enum how how;
	int huge;

	for (huge = 1; huge >= 0; huge--) {
		shmem_huge(huge);
		for (how = FAULT; how <= FALLOCATE; how++) {
			zp_flush();
			hits = memfd_hits(how, &thp);
			ksft_print_msg("%s %s: %lld of %lld pages pre-zeroed, %lld THPs\n",
				       huge ? "THP" : "4K", how_name[how], hits, pages, thp);
			ksft_test_result(hits >= pages * 9 / 10 &&
					 (huge ? thp >= (long long)(TEST_SIZE / THP_SZ) / 2 :
					  thp == 0),
					 "memfd %s %s: zeroes, >= 90%% of the clears skipped\n",
					 huge ? "THP" : "4K", how_name[how]);
		}
	}
}

struct half {
	char *p;
	size_t len;
	int err;
};

static void *populate_half(void *arg)
{
	struct half *h = arg;

	h->err = madvise(h->p, h->len, MADV_POPULATE_WRITE) ? errno : 0;
	return NULL;
}

/* Two threads populate the two halves of one memfd at the same time. */
static void test_threads(void)
{
	static const size_t size = 2 * TEST_SIZE;
	struct half h[2];
	pthread_t t[2];
	long long hits;
	int fd, i;
	char *p;

	shmem_huge(true);
	zp_flush();
	fd = memfd_sized(size, 0);
	p = map_shared(fd, size);
	hits = vmstat_get("prezero_alloc_hit");
	for (i = 0; i < 2; i++) {
		h[i] = (struct half){ .p = p + i * size / 2, .len = size / 2 };
		if (pthread_create(&t[i], NULL, populate_half, &h[i]))
			ksft_exit_fail_msg("pthread_create failed\n");
	}
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	hits = vmstat_get("prezero_alloc_hit") - hits;
	ksft_print_msg("two threads: %lld of %zu pages pre-zeroed\n", hits, size / PAGE_SZ);
	ksft_test_result(!h[0].err && !h[1].err && first_nonzero(p, size) == -1 &&
			 hits >= (long long)(size / PAGE_SZ) * 9 / 10,
			 "memfd populated by two threads: zeroes, >= 90%% skipped\n");
	munmap(p, size);
	close(fd);
}

/*
 * A fallocated memfd written in the middle of pages: everything else stays
 * zero (fallocated folios are zeroes the first access or write trusts).
 */
static void test_falloc_partial_write(void)
{
	static const char data[] = "zero_page";
	bool ok = true;
	size_t off;
	int fd;
	char *p;

	shmem_huge(false);
	zp_flush();
	fd = memfd_sized(TEST_SIZE, 0);
	if (fallocate(fd, 0, 0, TEST_SIZE))
		ksft_exit_fail_msg("fallocate: %s\n", strerror(errno));
	for (off = 1000; off < TEST_SIZE; off += 64 * PAGE_SZ)
		if (pwrite(fd, data, sizeof(data), off) != sizeof(data))
			ok = false;
	p = map_shared(fd, TEST_SIZE);
	for (off = 1000; off < TEST_SIZE; off += 64 * PAGE_SZ) {
		ok &= !memcmp(p + off, data, sizeof(data));
		memset(p + off, 0, sizeof(data));
	}
	ok &= first_nonzero(p, TEST_SIZE) == -1;
	munmap(p, TEST_SIZE);
	close(fd);
	ksft_test_result(ok, "fallocated memfd written in places: the rest reads zero\n");
}

/*
 * fallocate() only reserves: a fallocated range nobody wrote to stays a
 * hole for lseek(SEEK_DATA/SEEK_HOLE), THP or not, so that cp --sparse,
 * tar -S, qemu-img and CRIU do not copy it. A byte written makes its page
 * (its folio) data.
 */
static void test_falloc_holes(void)
{
	off_t data, hole, data2;
	bool ok = true;
	int huge, fd;

	for (huge = 1; huge >= 0; huge--) {
		shmem_huge(huge);
		zp_flush();
		fd = memfd_sized(TEST_SIZE, 0);
		if (fallocate(fd, 0, 0, TEST_SIZE))
			ksft_exit_fail_msg("fallocate: %s\n", strerror(errno));
		errno = 0;
		data = lseek(fd, 0, SEEK_DATA);
		hole = lseek(fd, 0, SEEK_HOLE);
		if (pwrite(fd, "x", 1, TEST_SIZE / 2 + 100) != 1)
			ksft_exit_fail_msg("pwrite: %s\n", strerror(errno));
		data2 = lseek(fd, 0, SEEK_DATA);
		ksft_print_msg(
			"%s: fallocated %zu MiB: SEEK_DATA %lld, SEEK_HOLE %lld; one byte written at %zu: SEEK_DATA %lld\n",
			huge ? "THP" : "4K", TEST_SIZE / MIB, (long long)data,
			(long long)hole, TEST_SIZE / 2 + 100, (long long)data2);
		ok &= data == -1 && hole == 0;
		ok &= data2 >= 0 && data2 <= (off_t)(TEST_SIZE / 2 + 100) &&
		      data2 >= (off_t)(TEST_SIZE / 2 - THP_SZ);
		close(fd);
	}
	ksft_test_result(ok,
			 "fallocated, unwritten memfd ranges are holes for SEEK_DATA/SEEK_HOLE\n");
}

/* A fallocate that fails with ENOSPC on a small tmpfs gives all back. */
static void test_falloc_enospc(void)
{
	struct statfs before, after;
	char path[64];
	int fd, ret;

	mkdir(TMPFS_DIR, 0700);
	if (mount("tmpfs", TMPFS_DIR, "tmpfs", 0, "size=16m")) {
		ksft_test_result_skip("failed fallocate: mount tmpfs: %s\n", strerror(errno));
		return;
	}
	snprintf(path, sizeof(path), TMPFS_DIR "/f");
	fd = open(path, O_RDWR | O_CREAT, 0600);
	statfs(TMPFS_DIR, &before);
	ret = fd >= 0 ? fallocate(fd, 0, 0, 32 * MIB) : -1;
	statfs(TMPFS_DIR, &after);
	ksft_print_msg("fallocate of 32 MiB on a 16 MiB tmpfs: %s, free blocks %lu -> %lu\n",
		       ret ? strerror(errno) : "succeeded",
		       (unsigned long)before.f_bfree, (unsigned long)after.f_bfree);
	ksft_test_result(ret && errno == ENOSPC && after.f_bfree == before.f_bfree,
			 "failed fallocate gives back all it allocated\n");
	if (fd >= 0)
		close(fd);
	umount(TMPFS_DIR);
	rmdir(TMPFS_DIR);
}

/*
 * Page cache pages written through write(), then truncated (or punched
 * out), come back as zeroes when the same offsets are used again: with a
 * flush in between (the freed pages are cleared and reused as pre-zeroed)
 * and without.
 */
static void test_reuse(void)
{
	static const size_t size = 16 * MIB;
	char *buf = malloc(size), *p;
	bool ok = true;
	int fd, pass;

	if (!buf)
		ksft_exit_fail_msg("malloc failed\n");
	memset(buf, 0xa5, size);
	for (pass = 0; pass < 4; pass++) {
		bool punch = pass & 1, flushed = pass & 2;

		shmem_huge(pass & 1);
		fd = memfd_sized(0, 0);
		if (pwrite(fd, buf, size, 0) != (ssize_t)size)
			ksft_exit_fail_msg("pwrite: %s\n", strerror(errno));
		if (punch) {
			if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, size))
				ksft_exit_fail_msg("punch hole: %s\n", strerror(errno));
		} else if (ftruncate(fd, 0) || ftruncate(fd, size)) {
			ksft_exit_fail_msg("ftruncate: %s\n", strerror(errno));
		}
		if (flushed)
			zp_flush();
		if (pass & 1) {
			if (fallocate(fd, 0, 0, size))
				ksft_exit_fail_msg("fallocate: %s\n", strerror(errno));
		}
		p = map_shared(fd, size);
		ok &= first_nonzero(p, size) == -1;
		munmap(p, size);
		close(fd);
	}
	free(buf);
	ksft_test_result(ok, "written, truncated or punched, reallocated: reads zero\n");
}

/*
 * zero_page off, and the zeroed blocks it left used up: a memfd fault-in
 * skips (almost) no clear.
 */
static void test_off(void)
{
	long long hits, thp;
	cpu_set_t all, one;
	int cpu;

	zp_write("enabled", "0");
	/*
	 * Use up the zeroed blocks: what is allocated now is freed dirty. Once
	 * from every CPU, so that zeroed blocks on its per-CPU lists (THP sized
	 * ones too) are used up as well.
	 */
	sched_getaffinity(0, sizeof(all), &all);
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &all))
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		sched_setaffinity(0, sizeof(one), &one);
		dirty_free_memory(KEEP_FREE, 1);
	}
	sched_setaffinity(0, sizeof(all), &all);
	shmem_huge(true);
	hits = memfd_hits(FAULT, &thp);
	ksft_print_msg("zero_page off: %lld of %lu pages counted as pre-zeroed\n",
		       hits, TEST_SIZE / PAGE_SZ);
	ksft_test_result(hits >= 0 && hits <= (long long)(TEST_SIZE / PAGE_SZ) / 20,
			 "zero_page off: memfd faults clear (<= 5%% skipped)\n");
}

int main(void)
{
	long long failed0, checked0;

	ksft_print_header();
	zp_require();
	zp_verify_require(&failed0, &checked0);
	ksft_set_plan(13);
	if (access(SHMEM_ENABLED, F_OK))
		ksft_exit_skip(SHMEM_ENABLED " does not exist\n");
	zp_save();
	if (sysfs_write(ZP_VERIFY, "1", 1))
		ksft_exit_fail_msg("cannot enable verify_zeroed\n");
	zp_enable_flush_only();
	if (!dirty_free_memory(KEEP_FREE, 0x5a))
		ksft_exit_fail_msg("cannot dirty free memory\n");

	test_paths();
	test_threads();
	test_falloc_partial_write();
	test_falloc_holes();
	test_falloc_enospc();
	test_reuse();
	test_off();

	zp_verify_result(failed0, checked0);
	zp_verify_restore();
	ksft_finished();
}
