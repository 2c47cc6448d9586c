// SPDX-License-Identifier: GPL-2.0
/*
 * Memory handed out from pre-zeroed free pages must read as zero.
 *
 * Each round fills most free memory with a non-zero pattern and frees it, so
 * that the free lists hold stale data, then has zero_page clear it (enable +
 * flush) and allocates through every user path that wants zeroed memory:
 * 4 KiB anonymous faults (MADV_NOHUGEPAGE), THP faults (MADV_HUGEPAGE, by
 * touching and by MADV_POPULATE_WRITE), MAP_POPULATE and mlock(). Every byte
 * must be zero. Kernel __GFP_ZERO allocations are covered through page
 * tables: a sparse read-only mapping makes the kernel allocate PTE tables
 * with __GFP_ZERO, and a stale (non-zero) table would show up in mincore()
 * as resident pages that were never touched.
 *
 * Rounds after the first run while a child process keeps toggling enabled,
 * changing mini_order, batch_size and delay_millisecs, and flushing, so that
 * the device is registered, re-tuned and unregistered under allocation load.
 *
 * prezero_alloc_hit (/proc/vmstat) must rise, otherwise the test proves
 * nothing about pre-zeroed pages.
 */
#include "zero_page_common.h"

#define ROUNDS 4
#define KEEP_FREE (160 * MIB)
#define PATTERN 0xa5

static long long hits_at_start;

/* Checks a mapping; returns true if every byte is zero. */
static bool check_zero(const char *what, const char *p, size_t len)
{
	long off = first_nonzero(p, len);

	if (off >= 0) {
		ksft_print_msg("%s: byte %ld of %zu is 0x%02x\n", what, off, len,
			       (unsigned char)p[off]);
		return false;
	}
	return true;
}

static bool alloc_4k_faults(size_t len)
{
	char *p = map_anon(len, 0, MADV_NOHUGEPAGE);
	bool ok;
	size_t i;

	if (!p)
		return false;
	/* Write one byte per page at a varying offset, then check the rest. */
	for (i = 0; i < len; i += PAGE_SZ)
		p[i + ((i / PAGE_SZ) % PAGE_SZ)] = 0;
	ok = check_zero("4k faults", p, len);
	munmap(p, len);
	return ok;
}

static bool alloc_thp_faults(size_t len)
{
	char *raw = map_anon(len + ATHP_SZ, 0, -1), *p;
	bool ok;
	size_t i;

	if (!raw)
		return false;
	p = (char *)(((unsigned long)raw + ATHP_SZ - 1) & ~(ATHP_SZ - 1));
	madvise(p, len, MADV_HUGEPAGE);
	for (i = 0; i < len; i += ATHP_SZ)
		p[i + 4096 + 8] = 0;
	ok = check_zero("thp faults", p, len);
	munmap(raw, len + ATHP_SZ);
	return ok;
}

static bool alloc_thp_populate(size_t len)
{
	char *raw = map_anon(len + ATHP_SZ, 0, -1), *p;
	bool ok;

	if (!raw)
		return false;
	p = (char *)(((unsigned long)raw + ATHP_SZ - 1) & ~(ATHP_SZ - 1));
	madvise(p, len, MADV_HUGEPAGE);
	if (madvise(p, len, MADV_POPULATE_WRITE))
		ksft_print_msg("MADV_POPULATE_WRITE: %s\n", strerror(errno));
	ok = check_zero("thp populate_write", p, len);
	munmap(raw, len + ATHP_SZ);
	return ok;
}

static bool alloc_map_populate(size_t len)
{
	char *p = map_anon(len, MAP_POPULATE, -1);
	bool ok;

	if (!p)
		return false;
	ok = check_zero("MAP_POPULATE", p, len);
	munmap(p, len);
	return ok;
}

static bool alloc_mlock(size_t len)
{
	char *p = map_anon(len, 0, MADV_NOHUGEPAGE);
	bool ok;

	if (!p)
		return false;
	if (mlock(p, len))
		ksft_print_msg("mlock: %s\n", strerror(errno));
	ok = check_zero("mlock", p, len);
	munlock(p, len);
	munmap(p, len);
	return ok;
}

/*
 * Page tables: touch one page per 2 MiB of a huge sparse read-only mapping
 * (each read fault maps the zero page and needs a new PTE table, allocated
 * with __GFP_ZERO), then mincore() the whole range: only the touched pages
 * may be resident; a PTE table with stale data would map random pages.
 */
static bool alloc_page_tables(size_t span)
{
	size_t pages = span / PAGE_SZ, i, bad = 0;
	unsigned long sum = 0;
	unsigned char *vec;
	char *p;

	p = mmap(NULL, span, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return false;
	madvise(p, span, MADV_NOHUGEPAGE);
	for (i = 0; i < span; i += THP_SZ)
		sum += p[i];
	if (sum)
		ksft_print_msg("page tables: the zero page is not zero\n");
	vec = malloc(pages);
	if (!vec || mincore(p, span, vec)) {
		ksft_print_msg("mincore: %s\n", strerror(errno));
		free(vec);
		munmap(p, span);
		return false;
	}
	for (i = 0; i < pages; i++)
		if ((vec[i] & 1) != ((i % (THP_SZ / PAGE_SZ)) == 0))
			bad++;
	if (bad)
		ksft_print_msg("page tables: %zu pages with unexpected residency\n", bad);
	free(vec);
	munmap(p, span);
	return bad == 0;
}

/* Keeps re-tuning, toggling and flushing the module until killed. */
static void __noreturn knob_churner(int max_order)
{
	unsigned int seed = getpid();
	const char *knob;
	int ret;

	/*
	 * thp_save_settings() of Linux 7.x exits on SIGTERM through its
	 * restore handler: this child must die of the signal and restore
	 * nothing.
	 */
	signal(SIGTERM, SIG_DFL);
	for (;;) {
		switch (rand_r(&seed) % 6) {
		case 0:
			knob = "enabled";
			ret = zp_write("enabled", rand_r(&seed) % 3 ? "1" : "0");
			break;
		case 1:
			knob = "mini_order";
			ret = zp_write_ul("mini_order", 1 + rand_r(&seed) % max_order);
			break;
		case 2:
			knob = "batch_size";
			ret = zp_write_ul("batch_size", PAGE_SZ << (rand_r(&seed) % 16));
			break;
		case 3:
			knob = "delay_millisecs";
			ret = zp_write_ul("delay_millisecs", rand_r(&seed) % 50);
			break;
		case 4:
			knob = "nontemporal";
			ret = zp_write("nontemporal", rand_r(&seed) % 2 ? "1" : "0");
			break;
		default:
			knob = "flush";
			ret = zp_write("flush", "1");
			/* Flushing is refused while disabled. */
			if (ret == -EINVAL && zp_read("enabled") == 0)
				ret = 0;
			break;
		}
		if (ret && ret != -EINVAL) {
			/* -EINVAL: nontemporal=1 on an architecture without it. */
			fprintf(stderr, "churner: write of %s failed: %s\n", knob, strerror(-ret));
			_exit(1);
		}
		usleep(rand_r(&seed) % 20000);
	}
}

static bool run_round(int round, size_t chunk)
{
	bool ok = true;
	size_t dirtied;
	int ret;

	dirtied = dirty_free_memory(KEEP_FREE, PATTERN + round);
	if (round == 0) {
		/* Deterministic first round: everything free is zeroed now. */
		zp_write("mini_order", "1");
		ret = zp_write("enabled", "1");
		if (!ret)
			ret = zp_write("flush", "1");
		if (ret)
			ksft_exit_fail_msg("enable + flush: %s\n", strerror(-ret));
	}
	ksft_print_msg("round %d: dirtied %zu MiB, zeroed_pages %lu\n", round, dirtied / MIB,
		       zp_read("zeroed_pages"));
	ok &= alloc_4k_faults(chunk);
	ok &= alloc_thp_faults(chunk);
	ok &= alloc_thp_populate(chunk);
	ok &= alloc_map_populate(chunk);
	ok &= alloc_mlock(chunk / 4);
	ok &= alloc_page_tables(8UL << 30);
	return ok;
}

int main(void)
{
	size_t chunk;
	pid_t child;
	int round, status, max_order;
	long long hits;
	bool ok;

	ksft_print_header();
	zp_require();
	zp_save();
	hits_at_start = vmstat_get("prezero_alloc_hit");
	if (hits_at_start < 0)
		ksft_exit_skip("no prezero_alloc_hit in /proc/vmstat\n");
	max_order = max_page_order();
	ksft_set_plan(ROUNDS + 2);

	thp_write_string("enabled", "madvise");
	zp_defaults();
	zp_write("delay_millisecs", "0");
	if (zp_write("enabled", "1") == -EBUSY)
		ksft_exit_skip("free page reporting is owned by another device\n");
	zp_write("enabled", "0");

	/* Each path allocates about a sixth of the memory that is free now. */
	chunk = (meminfo_get("MemFree") / 6) & ~(ATHP_SZ - 1);
	if (chunk > 256 * MIB)
		chunk = 256 * MIB;
	if (chunk < 8 * MIB)
		ksft_exit_skip("not enough free memory\n");

	ok = run_round(0, chunk);
	ksft_test_result(ok, "round 0: stable knobs, every byte zero\n");
	hits = vmstat_get("prezero_alloc_hit");
	ksft_test_result(hits > hits_at_start, "prezero_alloc_hit rose (%lld -> %lld)\n",
			 hits_at_start, hits);

	child = fork();
	if (child < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (child == 0)
		knob_churner(max_order);
	for (round = 1; round < ROUNDS; round++) {
		ok = run_round(round, chunk);
		ksft_test_result(ok, "round %d: knobs churning, every byte zero\n", round);
	}
	kill(child, SIGTERM);
	waitpid(child, &status, 0);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGTERM)
		ksft_print_msg("knob churner: %s %d\n",
			       WIFSIGNALED(status) ? "killed by signal" : "exit status",
			       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	ksft_test_result(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM,
			 "knob churner saw no unexpected error\n");
	ksft_print_msg("prezero_alloc_hit %lld -> %lld, zeroed_pages %lu\n", hits_at_start,
		       vmstat_get("prezero_alloc_hit"), zp_read("zeroed_pages"));
	ksft_finished();
}
