// SPDX-License-Identifier: GPL-2.0
// vm-run: --migrate
/*
 * virtio_balloon.host_zeroes_pages=1 across a live migration (precopy).
 * The host discards the blocks the balloon reports, and the guest marks
 * them as zero. During a migration, a block that precopy has already
 * copied and that is reported afterwards is discarded on the source only:
 * the destination keeps the copy with the old contents. A guest that took
 * the block for zero would hand it out without clearing it once it runs
 * there.
 * - Before the migration, a reporting pass marks blocks: the opt-in works.
 * - The test fills most memory with a pattern, in THPs, and holds it while
 *   vm-run migrates the guest at a limited bandwidth, so that the first
 *   precopy pass takes about half a minute.
 * - When QEMU starts the migration it sends the balloon a free page hint
 *   command (a configuration interrupt): about halfway through that pass,
 *   the test frees half of its THPs, those whose buddy it still holds, so
 *   that they stay 2 MiB blocks that free page hinting does not take, and
 *   makes the balloon report them (the flush), while the guest still runs
 *   on the source.
 * - On the destination, it faults in nearly all memory, THPs, then 4K pages
 *   with the rest freed: every byte must read zero. A guest that kept the
 *   marks gets the pages that precopy copied before the source discarded
 *   them back with the pattern.
 * page_reporting.verify_zeroed is off, so that the test sees what user
 * space would see, and so is page_reporting.zeroed_first: with it, the
 * kernel's own zeroing allocations (page tables...) look for the blocks
 * marked zero first, and could take stale data before the test sees it.
 */
#include <poll.h>
#include <pthread.h>

#include "balloon_common.h"

/* The serial port whose output vm-run reads (the guest's /init writes there) */
#define VM_RUN_OUTPUT "/dev/ttyS1"

#define MIGRATE_MARKER "@@ZERO_PAGE_MIGRATE@@"
#define RESTORED_MARKER "@@ZERO_PAGE_RESTORED@@"
#define MIGRATE_TIMEOUT_S 600

/*
 * Asks the host for a live migration of the guest (vm-run --migrate), at
 * most max_mib_per_s MiB/s (0: QEMU's default): writes a line with the
 * marker that vm-run looks for to its output port, and waits until
 * vm-run, once the guest runs on the destination, writes RESTORED_MARKER
 * to the guest's /dev/ttyS2. The guest keeps running on the source
 * meanwhile: other threads and processes can work while the memory is
 * copied. Returns 0 on the destination, -ETIMEDOUT after
 * MIGRATE_TIMEOUT_S, or -errno.
 */
static inline int balloon_migrate(int max_mib_per_s)
{
	size_t rlen = strlen(RESTORED_MARKER), len = 0, i;
	char buf[512], line[64];
	struct termios t;
	double start;
	int fd, ret = -ETIMEDOUT;

	/* Open before asking, so that the line cannot come unheard. */
	fd = open(BALLOON_MONITOR, O_RDWR | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (!tcgetattr(fd, &t)) {
		cfmakeraw(&t);
		tcsetattr(fd, TCSANOW, &t);
	}
	tcflush(fd, TCIFLUSH);
	/*
	 * Straight to the port: the test's output may go through a pipe that
	 * holds it back (run-tests), and must not carry the marker to the
	 * destination. The newline ends a line written there in part.
	 */
	ksft_print_msg("asking for a live migration, at most %d MiB/s\n", max_mib_per_s);
	fflush(stdout);
	snprintf(line, sizeof(line), "\n%s %d\n", MIGRATE_MARKER, max_mib_per_s);
	ret = write_str(VM_RUN_OUTPUT, line);
	if (ret) {
		close(fd);
		return ret;
	}
	ret = -ETIMEDOUT;

	start = now_secs();
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long left_ms;
		ssize_t n;

		left_ms = (long)((MIGRATE_TIMEOUT_S - (now_secs() - start)) * 1000);
		if (left_ms <= 0)
			break;
		n = poll(&pfd, 1, left_ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			break;
		}
		if (!n)
			break;
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n ? -errno : -EIO;
			break;
		}
		/* The monitor's banner and prompts come too, maybe with NULs. */
		len += n;
		for (i = 0; i + rlen <= len; i++)
			if (!memcmp(buf + i, RESTORED_MARKER, rlen))
				break;
		if (i + rlen <= len) {
			ret = 0;
			break;
		}
		/* Keep a tail that may hold the start of the marker. */
		if (len >= rlen) {
			memmove(buf, buf + len - (rlen - 1), rlen - 1);
			len = rlen - 1;
		}
	}
	close(fd);
	return ret;
}

#define PATTERN 0x5a
/* Left free while the pattern is held, and by the check at the end */
#define KEEP (160 * MIB)
#define LEAVE (96 * MIB)
/* Precopy bandwidth: the first pass copies about 1.8 GiB at that rate */
#define BANDWIDTH_MIB 64
/* The test frees its blocks at that share of the first pass */
#define FREE_AT 0.45

static void restore(void)
{
	zp_verify_restore();
	thp_restore_settings();
	balloon_load(false);
}

/* The memory the test fills and holds, in 2 MiB chunks. */
static char *held;
static size_t held_len;
static bool *to_free;		/* chunks freed on the source */
static size_t nr_chunks, nr_thp, nr_to_free;

/*
 * Fills all free memory but KEEP with the pattern and picks the THPs to
 * free during the migration: those at an even 2 MiB block, whose buddy
 * (the odd block next to it) the test holds too.
 */
static void fill(void)
{
	size_t len = (meminfo_get("MemFree") - KEEP) & ~(THP_SZ - 1), i, done;
	uint64_t *pfn;
	char *p;
	int pm;

	p = map_anon(len + THP_SZ, MAP_NORESERVE, -1);
	if (!p)
		ksft_exit_fail_msg("mmap %zu MiB: %s\n", len / MIB, strerror(errno));
	held = (char *)(((uintptr_t)p + THP_SZ - 1) & ~(THP_SZ - 1));
	held_len = len;
	madvise(held, len, MADV_HUGEPAGE);
	for (done = 0; done < len; done += 16 * MIB)
		memset(held + done, PATTERN, len - done < 16 * MIB ? len - done : 16 * MIB);

	nr_chunks = len / THP_SZ;
	pfn = calloc(nr_chunks, sizeof(*pfn));
	to_free = calloc(nr_chunks, sizeof(*to_free));
	pm = open("/proc/self/pagemap", O_RDONLY);
	if (!pfn || !to_free || pm < 0)
		ksft_exit_fail_msg("pagemap: %s\n", strerror(errno));
	for (i = 0; i < nr_chunks; i++) {
		char *c = held + i * THP_SZ;
		unsigned long first = pagemap_get_pfn(pm, c);

		/* A THP: 512 contiguous frames from a 2 MiB boundary. */
		if (first != -1UL && !(first % 512) &&
		    pagemap_get_pfn(pm, c + THP_SZ - PAGE_SZ) == first + 511) {
			pfn[i] = first;
			nr_thp++;
		}
	}
	close(pm);
	for (i = 0; i < nr_chunks; i++) {
		size_t j;

		if (!pfn[i] || (pfn[i] & 512))
			continue;
		for (j = 0; j < nr_chunks; j++)
			if (pfn[j] == pfn[i] + 512)
				break;
		if (j < nr_chunks) {
			to_free[i] = true;
			nr_to_free++;
		}
	}
	free(pfn);
}

/* What happens on the source while the guest waits for the migration. */
struct source {
	double asked, delay;		/* in: when the migration was asked */
	long long irq0;			/* in: balloon interrupts before */
	unsigned long free0;		/* in: MemFree before */
	volatile bool restored;		/* in: the guest runs on the destination */
	/* out: seconds after asked */
	double hint_at, woke_at, freed_at, flushed_at;
	long long irq, marked, checked, failed;
	unsigned long hinted;		/* MemFree taken by free page hinting */
	int flush_err, flushes;
	bool on_source;
};

static void *on_source(void *arg)
{
	struct source *s = arg;
	long long pages, checked, failed, irq;
	double start = 0;
	unsigned long mem;
	size_t i;

	/*
	 * QEMU asks for free page hints when precopy starts: an interrupt,
	 * and the driver takes the free 4 MiB blocks until the end. Without
	 * one, the delay counts from the request.
	 */
	while (now_secs() - s->asked < s->delay) {
		irq = balloon_interrupts();
		if (irq > s->irq0) {
			s->irq = irq;
			start = now_secs();
			s->hint_at = start - s->asked;
			break;
		}
		usleep(20000);
	}
	if (!start)
		start = s->asked;
	usleep(1000000);
	mem = meminfo_get("MemFree");
	s->hinted = mem < s->free0 ? s->free0 - mem : 0;
	while (now_secs() < start + s->delay)
		usleep(100000);
	s->woke_at = now_secs() - s->asked;
	ksft_print_msg("source: hint at %.1f s (%lu MiB hinted), freeing at %.1f s\n",
		       s->hint_at, s->hinted / MIB, s->woke_at);
	fflush(stdout);

	pages = vmstat_get("prezero_pages");
	checked = vmstat_get("prezero_host_checked");
	failed = vmstat_get("prezero_host_failed");
	for (i = 0; i < nr_chunks; i++)
		if (to_free[i])
			madvise(held + i * THP_SZ, THP_SZ, MADV_DONTNEED);
	s->freed_at = now_secs() - s->asked;
	/* Flushes, and whatever the background passes report meanwhile. */
	for (; s->flushes < 3 && !s->restored; s->flushes++) {
		s->flush_err = pr_flush();
		if (s->flush_err)
			break;
	}
	s->on_source = !s->restored;
	s->flushed_at = now_secs() - s->asked;
	s->marked = vmstat_get("prezero_pages") - pages;
	s->checked = vmstat_get("prezero_host_checked") - checked;
	s->failed = vmstat_get("prezero_host_failed") - failed;
	ksft_print_msg("source: freed at %.1f s, %d flushes done at %.1f s%s: %lld pages marked\n",
		       s->freed_at, s->flushes, s->flushed_at,
		       s->on_source ? "" : " (restored meanwhile)", s->marked);
	fflush(stdout);
	return NULL;
}

/*
 * Faults in len bytes (mmap advice), in 16 MiB steps until one fails;
 * adds the pages that are not zero to *stale, those with the pattern to
 * *pattern. Returns the bytes faulted in; the mapping stays.
 */
static size_t fault_in_check(size_t len, int advice, long *stale, long *pattern)
{
	char *p = map_anon(len, MAP_NORESERVE, advice);
	size_t done, off;

	if (!p)
		return 0;
	for (done = 0; done < len; done += 16 * MIB) {
		size_t n = len - done < 16 * MIB ? len - done : 16 * MIB;

		if (madvise(p + done, n, MADV_POPULATE_WRITE))
			break;
		for (off = done; off < done + n; off += PAGE_SZ) {
			long at = first_nonzero(p + off, PAGE_SZ);

			if (at < 0)
				continue;
			(*stale)++;
			if ((unsigned char)p[off + at] == PATTERN)
				(*pattern)++;
		}
	}
	return done < len ? done : len;
}

int main(void)
{
	long long vfailed, vchecked, hits, pages0, marked, checked;
	long stale = 0, pattern = 0;
	struct source s = {};
	size_t got4k, gotthp;
	pthread_t thread;
	double took;
	int ret;

	ksft_print_header();
	balloon_host_zero_require(&vfailed, &vchecked);
	atexit(restore);
	ksft_set_plan(6);

	/* What user space sees: no check and clear of pre-zeroed pages. */
	write_str(ZP_VERIFY, "0");
	zeroed_first_set(false);
	thp_write_string("enabled", "always");
	ret = klog_count("checking, then trusting it");
	ksft_test_result(balloon_load(true) &&
			 klog_count("checking, then trusting it") == ret + 1,
			 "virtio_balloon host_zeroes_pages=1 says it checks\n");

	/* The opt-in works: a pass marks what the host discarded. */
	dirty_free_memory(KEEP, PATTERN);
	marked = vmstat_get("prezero_pages");
	checked = vmstat_get("prezero_host_checked");
	ret = pr_flush();
	marked = vmstat_get("prezero_pages") - marked;
	checked = vmstat_get("prezero_host_checked") - checked;
	ksft_test_result(!ret && marked >= (long long)(256 * MIB / PAGE_SZ) && checked > 0,
			 "before the migration a pass marks host-zeroed blocks (%lld pages, %lld checked)\n",
			 marked, checked);

	fill();
	ksft_print_msg("holding %zu MiB of 0x%x: %zu THPs in %zu chunks, %zu to free during the migration\n",
		       held_len / MIB, PATTERN, nr_thp, nr_chunks, nr_to_free);
	if (nr_to_free < 32)
		ksft_exit_fail_msg("too few THPs with their buddy held\n");

	/* About halfway through the first pass, which copies what is used. */
	s.delay = FREE_AT * (meminfo_get("MemTotal") - meminfo_get("MemFree")) /
		  (BANDWIDTH_MIB * MIB);
	s.irq0 = balloon_interrupts();
	s.free0 = meminfo_get("MemFree");
	s.asked = now_secs();
	if (pthread_create(&thread, NULL, on_source, &s))
		ksft_exit_fail_msg("pthread_create failed\n");
	ret = balloon_migrate(BANDWIDTH_MIB);
	took = now_secs() - s.asked;
	s.restored = true;
	pthread_join(thread, NULL);

	ksft_print_msg("balloon interrupts %lld before, %lld at %.1f s; MemFree %lu MiB before, %lu MiB less 1 s later\n",
		       s.irq0, s.irq, s.hint_at, s.free0 / MIB, s.hinted / MIB);
	ksft_test_result(s.irq > s.irq0 && s.hinted >= 16 * MIB,
			 "the guest saw a free page hint command when the migration started (after %.1f s, %lu MiB hinted)\n",
			 s.hint_at, s.hinted / MIB);
	ksft_print_msg("planned to free at %.1f s after the hint, woke at %.1f s, freed %zu MiB at %.1f s, %d flushes done at %.1f s\n",
		       s.delay, s.woke_at, nr_to_free * THP_SZ / MIB, s.freed_at, s.flushes,
		       s.flushed_at);
	ksft_print_msg("during precopy: %lld pages marked host-zeroed, %lld checked, %lld failed\n",
		       s.marked, s.checked, s.failed);
	ksft_test_result(s.on_source && !s.flush_err,
			 "%zu MiB freed and reported on the source while precopy ran\n",
			 nr_to_free * THP_SZ / MIB);
	ksft_test_result(ret == 0, "the guest runs on the destination after %.1f s (%s)\n",
			 took, ret ? strerror(-ret) : "ok");
	if (ret)
		ksft_exit_fail_msg("no migration: run with vm-run --migrate\n");

	/*
	 * Every page the guest hands out now: THPs first, which take the 2 MiB
	 * blocks, then, with the rest freed, 4K pages.
	 */
	hits = vmstat_get("prezero_alloc_hit");
	pages0 = vmstat_get("prezero_pages");
	gotthp = fault_in_check((meminfo_get("MemFree") - LEAVE) & ~(THP_SZ - 1),
				MADV_HUGEPAGE, &stale, &pattern);
	munmap(held, held_len);
	got4k = fault_in_check(256 * MIB, MADV_NOHUGEPAGE, &stale, &pattern);
	hits = vmstat_get("prezero_alloc_hit") - hits;
	ksft_print_msg("faulted in %zu MiB of THPs and %zu MiB of 4K pages: %lld clears skipped, %ld pages not zero (%ld with the pattern)\n",
		       gotthp / MIB, got4k / MIB, hits, stale, pattern);
	ksft_print_msg("prezero_pages +%lld, prezero_host_checked %lld, prezero_host_failed %lld, prezero_verify_failed %lld\n",
		       vmstat_get("prezero_pages") - pages0, vmstat_get("prezero_host_checked"),
		       vmstat_get("prezero_host_failed"), vmstat_get("prezero_verify_failed"));
	klog_print("virtio_balloon");
	ksft_test_result(got4k + gotthp >= 512 * MIB && stale == 0,
			 "after migration every page handed out reads zero (%ld stale pages in %zu MiB)\n",
			 stale, (got4k + gotthp) / MIB);
	ksft_finished();
}
