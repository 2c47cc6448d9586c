// SPDX-License-Identifier: GPL-2.0
/*
 * The /sys/kernel/mm/zero_page interface: files and modes, defaults after a
 * fresh load, round trips, knob changes while enabled, flush, and the
 * statistics files. Bad input to every writable file is tested by
 * sysfs_badinput.
 */
#include "zero_page_common.h"

struct zp_file {
	const char *name;
	mode_t mode;
};

static const struct zp_file files[] = {
	{ "enabled", 0644 },	 { "batch_size", 0644 },   { "delay_millisecs", 0644 },
	{ "mini_order", 0644 },	 { "flush", 0200 },	   { "nontemporal", 0644 },
	{ "zeroed_pages", 0444 }, { "zeroed_bytes", 0444 }, { "batches", 0444 },
	{ "zero_time_ns", 0444 }, { "alloc_hits", 0444 }, { "zero_bytes", 0200 },
	{ "background", 0644 },
};

#define NR_FILES ARRAY_SIZE(files)

static const char *const stats[] = {
	"zeroed_pages", "zeroed_bytes", "batches", "zero_time_ns", "alloc_hits",
};

#define NR_STATS ARRAY_SIZE(stats)

static int max_order;

static bool round_trip(const char *name, const char *input, unsigned long expect)
{
	int ret = zp_write(name, input);
	unsigned long got;

	if (ret) {
		ksft_print_msg("%s: writing '%s' failed: %s\n", name, input, strerror(-ret));
		return false;
	}
	got = zp_read(name);
	if (got != expect) {
		ksft_print_msg("%s: wrote '%s', read %lu, expected %lu\n", name, input, got,
			       expect);
		return false;
	}
	return true;
}

static void test_files(void)
{
	char path[256];
	struct stat st;
	bool ok = true;
	size_t i;

	for (i = 0; i < NR_FILES; i++) {
		snprintf(path, sizeof(path), ZP_DIR "/%s", files[i].name);
		if (stat(path, &st)) {
			ksft_print_msg("%s: %s\n", path, strerror(errno));
			ok = false;
		} else if ((st.st_mode & 0777) != files[i].mode) {
			ksft_print_msg("%s: mode %o, expected %o\n", path, st.st_mode & 0777,
				       files[i].mode);
			ok = false;
		}
	}
	ksft_test_result(ok, "all files exist with the expected modes\n");
}

static void test_access(void)
{
	char path[256];
	bool ok = true;
	size_t i;
	int fd;

	/* Even root cannot open a file without store for writing, and vice versa. */
	for (i = 0; i < NR_STATS; i++) {
		snprintf(path, sizeof(path), ZP_DIR "/%s", stats[i]);
		fd = open(path, O_WRONLY);
		if (fd >= 0) {
			ksft_print_msg("%s opened for writing\n", path);
			close(fd);
			ok = false;
		}
	}
	fd = open(ZP_DIR "/flush", O_RDONLY);
	if (fd >= 0) {
		ksft_print_msg("flush opened for reading\n");
		close(fd);
		ok = false;
	}
	ksft_test_result(ok, "statistics are read-only, flush is write-only\n");
}

static void test_defaults(void)
{
	bool ok = true;
	size_t i;

	if (system("rmmod zero_page 2>/dev/null") != 0 ||
	    system("modprobe zero_page") != 0 || !zp_present()) {
		if (!zp_present() && system("modprobe zero_page") != 0)
			ksft_exit_fail_msg("cannot load zero_page again\n");
		ksft_test_result_skip("defaults after a fresh load (cannot reload)\n");
		return;
	}
	ok &= zp_read("enabled") == 0;
	ok &= zp_read("batch_size") == 64 * MIB;
	ok &= zp_read("delay_millisecs") == 1000;
	ok &= zp_read("mini_order") == 1;
#if defined(__x86_64__) || defined(__aarch64__)
	ok &= zp_read("nontemporal") == 1;
#endif
	for (i = 0; i < NR_STATS; i++)
		if (strcmp(stats[i], "alloc_hits"))
			ok &= zp_read(stats[i]) == 0;
	if (!ok)
		ksft_print_msg(
			"enabled %lu batch_size %lu delay %lu mini_order %lu nt %lu pages %lu\n",
			zp_read("enabled"), zp_read("batch_size"),
			zp_read("delay_millisecs"), zp_read("mini_order"),
			zp_read("nontemporal"), zp_read("zeroed_pages"));
	ksft_test_result(ok, "defaults after a fresh load\n");
}

static void test_round_trips(void)
{
	char buf[16];
	bool ok = true;
	int o;

	zp_write("enabled", "0");
	/* The smallest batch is a page: 4096 with 4K pages. */
	snprintf(buf, sizeof(buf), "%lu", PAGE_SZ);
	ok &= round_trip("batch_size", buf, PAGE_SZ);
	ok &= round_trip("batch_size", "1099511627776", 1UL << 40);
	snprintf(buf, sizeof(buf), "+%lu", 2 * PAGE_SZ);
	ok &= round_trip("batch_size", buf, 2 * PAGE_SZ);
	snprintf(buf, sizeof(buf), "%010lu\n", 16 * PAGE_SZ);
	ok &= round_trip("batch_size", buf, 16 * PAGE_SZ);
	ok &= round_trip("batch_size", "67108864\n", 64 * MIB);
	ok &= round_trip("delay_millisecs", "0", 0);
	ok &= round_trip("delay_millisecs", "3600000", 3600000);
	ok &= round_trip("delay_millisecs", "250\n", 250);
	ok &= round_trip("delay_millisecs", "1000", 1000);
	for (o = max_order; o >= 1; o--) {
		snprintf(buf, sizeof(buf), "%d\n", o);
		ok &= round_trip("mini_order", buf, o);
	}
	ok &= round_trip("nontemporal", "0", 0);
#if defined(__x86_64__) || defined(__aarch64__)
	ok &= round_trip("nontemporal", "1\n", 1);
#endif
	ok &= round_trip("enabled", "0\n", 0);
	ksft_test_result(ok, "round trips at the range limits\n");
}

static void test_flush_disabled(void)
{
	int ret;

	zp_write("enabled", "0");
	ret = zp_write("flush", "1");
	ksft_test_result(ret == -EINVAL, "flush while disabled is -EINVAL (got %d)\n", ret);
}

/* Returns false if enabling is impossible here (another reporting device). */
static bool test_enabled(void)
{
	unsigned long pages, bytes, batches, ns;
	bool ok = true;
	int ret;

	ret = zp_write("enabled", "1");
	if (ret == -EBUSY) {
		ksft_print_msg("another device owns free page reporting\n");
		return false;
	}
	ok &= ret == 0 && zp_read("enabled") == 1;
	ok &= zp_write("enabled", "1") == 0 && zp_read("enabled") == 1;
	ksft_test_result(ok, "enable (idempotent)\n");

	/* Knob changes while enabled: no reload, read back, flush still works. */
	pages = zp_read("zeroed_pages");
	ok = round_trip("mini_order", "9", 9) && round_trip("batch_size", "2097152", 2 * MIB) &&
	     round_trip("delay_millisecs", "0", 0);
	churn_memory(64 * MIB);
	ret = zp_write("flush", "1");
	ok &= ret == 0;
	ok &= round_trip("mini_order", "1", 1) && round_trip("batch_size", "67108864", 64 * MIB);
	churn_memory(64 * MIB);
	ret = zp_write("flush", "1\n");
	ok &= ret == 0;
	ok &= zp_read("enabled") == 1 && zp_read("zeroed_pages") >= pages;
	ksft_test_result(ok, "knob changes while enabled, flush\n");

	pages = zp_read("zeroed_pages");
	bytes = zp_read("zeroed_bytes");
	batches = zp_read("batches");
	ns = zp_read("zero_time_ns");
	ksft_print_msg("zeroed_pages %lu zeroed_bytes %lu batches %lu zero_time_ns %lu\n",
		       pages, bytes, batches, ns);
	ksft_test_result(pages > 0 && bytes >= pages * PAGE_SZ && batches > 0 && ns > 0,
			 "statistics count the flushed pages\n");

	ok = zp_write("enabled", "0\n") == 0 && zp_read("enabled") == 0;
	ok &= zp_write("enabled", "0") == 0 && zp_read("enabled") == 0;
	ksft_test_result(ok, "disable (idempotent)\n");
	return true;
}

static void test_alloc_hits(void)
{
	long long v1 = vmstat_get("prezero_alloc_hit"), v2;
	unsigned long hits;

	if (v1 < 0) {
		ksft_test_result_skip("alloc_hits matches /proc/vmstat (no prezero_alloc_hit)\n");
		return;
	}
	hits = zp_read("alloc_hits");
	v2 = vmstat_get("prezero_alloc_hit");
	ksft_test_result((unsigned long long)v1 <= hits && hits <= (unsigned long long)v2,
			 "alloc_hits matches /proc/vmstat (%lld <= %lu <= %lld)\n", v1, hits, v2);
}

int main(void)
{
	ksft_print_header();
	zp_require();
	zp_save();
	max_order = max_page_order();
	ksft_set_plan(12);

	test_files();
	test_access();
	test_defaults();
	test_round_trips();
	test_flush_disabled();
	if (!test_enabled()) {
		ksft_test_result_skip("enable (idempotent)\n");
		ksft_test_result_skip("knob changes while enabled, flush\n");
		ksft_test_result_skip("statistics count the flushed pages\n");
		ksft_test_result_skip("disable (idempotent)\n");
	}
	test_alloc_hits();
	/* Reading every file must work (the statistics are counters). */
	{
		size_t i;
		bool ok = true;
		char path[256], buf[64];

		for (i = 0; i < NR_FILES; i++) {
			if (!(files[i].mode & 0444))
				continue;
			snprintf(path, sizeof(path), ZP_DIR "/%s", files[i].name);
			ok &= sysfs_read(path, buf, sizeof(buf)) > 1 &&
			      buf[strlen(buf) - 1] == '\n';
		}
		ksft_test_result(ok, "every readable file shows one number and a newline\n");
	}
	ksft_test_result(!zp_present() || zp_write("flush", "1") == -EINVAL,
			 "flush is -EINVAL again once disabled\n");
	ksft_finished();
}
