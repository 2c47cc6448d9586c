// SPDX-License-Identifier: GPL-2.0
/*
 * zero_page under memory exhaustion: with the module enabled, a short delay
 * between free page notifications and a pass, and the kernel's
 * page_reporting.verify_zeroed check on, a child allocates anonymous memory
 * until the OOM killer kills it (no swap in the guest). Free pages are
 * pulled off the free lists by the reporting device while the allocator is
 * at its limit, so this shows that:
 *
 * - the OOM killer still works and picks the hog (SIGKILL), the system does
 *   not hang or panic (bounded by TIMEOUT_S);
 * - every page the hog got that was pre-zeroed really was zero (the hog
 *   checks what it faulted in, prezero_verify_failed does not move) and
 *   the check ran (prezero_verify_checked rises);
 * - zero_page still works afterwards: flush succeeds, enabled toggles, and
 *   freed memory gets zeroed again (prezero_pages rises).
 *
 * The OOM report includes a stack dump ("Call Trace:"), which the harness
 * takes for a kernel splat. The console log level is therefore lowered to 1
 * while the hog runs (and restored right after), and the test itself reads
 * the kernel log of that window from /dev/kmsg and fails on any real splat
 * (WARNING, BUG, Oops, lockdep, bad page, a verify_zeroed error) that the
 * console did not show.
 *
 * Every knob it changes (the module's, THP, verify_zeroed, the console log
 * level) is restored.
 */
#include "zero_page_common.h"

#include <time.h>

#define PRINTK "/proc/sys/kernel/printk"
#define TIMEOUT_S 120
#define CHUNK (32 * MIB)

/*
 * Shared with the hog, which dies without a chance to report: it updates
 * the counters before each call into libc or the kernel, so they are in
 * memory when it is killed.
 */
struct hog_state {
	unsigned long chunks;
	unsigned long stale;
	long first_stale;
};

static char saved_printk[64];

static void printk_restore(void)
{
	if (saved_printk[0])
		sysfs_write(PRINTK, saved_printk, strlen(saved_printk));
	saved_printk[0] = '\0';
}

static void verify_restore(void)
{
	if (getpid() != zp_owner)
		return;
	printk_restore();
	zp_verify_restore();
}

/* Kernel messages that are a bug, unlike the OOM report itself. */
static const char *const splats[] = {
	"WARNING:", "BUG:", "kernel BUG", "Oops", "general protection fault",
	"possible circular locking", "possible recursive locking",
	"inconsistent lock state", "DEBUG_LOCKS_WARN_ON", "INFO: lockdep",
	"Bad page", "bad page", "page dumped because", "pre-zeroed block not zero",
};

/* Counts the splats logged since kmsg_fd was opened, and prints them. */
static int count_splats(int kmsg_fd)
{
	char rec[2048];
	unsigned int i;
	ssize_t n;
	int found = 0;

	for (;;) {
		n = read(kmsg_fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* overwritten records */
		if (n <= 0)
			break;
		rec[n] = '\0';
		for (i = 0; i < ARRAY_SIZE(splats); i++) {
			if (strstr(rec, splats[i])) {
				ksft_print_msg("kernel: %s",
					       strchr(rec, ';') ? strchr(rec, ';') + 1 : rec);
				found++;
				break;
			}
		}
	}
	return found;
}

static void hog(struct hog_state *st)
{
	char *p;
	long off;

	/* Be the OOM killer's first choice. */
	sysfs_write("/proc/self/oom_score_adj", "1000", 4);
	for (;;) {
		p = map_anon(CHUNK, 0, MADV_HUGEPAGE);
		if (!p) {
			usleep(1000);
			continue;
		}
		/* Faults in zeroed pages (THP where possible), then checks them. */
		if (madvise(p, CHUNK, MADV_POPULATE_WRITE))
			memset(p, 0, 1);
		off = first_nonzero(p, CHUNK);
		if (off >= 0) {
			if (!st->stale)
				st->first_stale = off;
			st->stale++;
		}
		memset(p, 0xa5, CHUNK);
		st->chunks++;
	}
}

int main(void)
{
	long long failed0, checked0, pages0, failed, checked;
	struct hog_state *st;
	int status = 0, ret, kmsg_fd, nr_splats;
	double start;
	bool reaped = false;
	pid_t pid;
	char *p;

	ksft_print_header();
	zp_require();
	zp_verify_require(&failed0, &checked0);
	if (vmstat_get("prezero_pages") < 0)
		ksft_exit_skip("no prezero_pages counter in /proc/vmstat\n");

	zp_save();
	atexit(verify_restore);
	ksft_set_plan(9);

	/* Never the OOM killer's choice. */
	sysfs_write("/proc/self/oom_score_adj", "-1000", 5);
	thp_write_string("enabled", "madvise");
	zp_enable_verified();
	zp_write("flush", "1");

	st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (st == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	st->first_stale = -1;

	/* The kernel log from now on, and a quiet console for the OOM report. */
	kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (kmsg_fd < 0)
		ksft_exit_fail_msg("/dev/kmsg: %s\n", strerror(errno));
	lseek(kmsg_fd, 0, SEEK_END);
	if (sysfs_read(PRINTK, saved_printk, sizeof(saved_printk)) <= 0 ||
	    sysfs_write(PRINTK, "1", 1))
		ksft_exit_fail_msg("cannot lower the console log level\n");

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (!pid)
		hog(st);

	start = now_secs();
	while (now_secs() - start < TIMEOUT_S) {
		ret = waitpid(pid, &status, WNOHANG);
		if (ret == pid) {
			reaped = true;
			break;
		}
		usleep(100000);
	}
	if (!reaped) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		ksft_print_msg("the hog was not killed within %d s\n", TIMEOUT_S);
	}
	/* Let the console drain the OOM report before it is loud again. */
	sleep(2);
	printk_restore();
	ksft_print_msg("hog faulted in %lu MiB in %.1f s\n",
		       st->chunks * (CHUNK / MIB), now_secs() - start);
	ksft_test_result(reaped && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
			 "the OOM killer killed the hog with SIGKILL\n");
	ksft_test_result(st->chunks > 0 && st->stale == 0,
			 "hog: %lu chunks of %lu MiB, %lu not zero (first at %ld)\n",
			 st->chunks, CHUNK / MIB, st->stale, st->first_stale);

	/* The system still works: fork/exec and fresh zeroed memory. */
	p = map_anon(64 * MIB, 0, MADV_HUGEPAGE);
	ret = p && !madvise(p, 64 * MIB, MADV_POPULATE_WRITE) &&
	      first_nonzero(p, 64 * MIB) < 0;
	if (p)
		munmap(p, 64 * MIB);
	ksft_test_result(ret && system("true") == 0,
			 "system usable after the OOM kill\n");

	/* zero_page still works. */
	ksft_test_result(zp_write("flush", "1") == 0 && zp_read("enabled") == 1,
			 "flush after the OOM kill\n");
	ret = zp_write("enabled", "0") == 0 && zp_read("enabled") == 0 &&
	      zp_write("flush", "1") == -EINVAL &&
	      zp_write("enabled", "1") == 0 && zp_read("enabled") == 1;
	ksft_test_result(ret, "enabled toggles after the OOM kill\n");

	pages0 = vmstat_get("prezero_pages");
	churn_memory(256 * MIB);
	zp_write("flush", "1");
	ksft_test_result(vmstat_get("prezero_pages") > pages0,
			 "freed memory is zeroed again (prezero_pages +%lld)\n",
			 vmstat_get("prezero_pages") - pages0);

	nr_splats = count_splats(kmsg_fd);
	close(kmsg_fd);
	ksft_test_result(!nr_splats, "no kernel splat besides the OOM report: %d\n",
			 nr_splats);

	failed = vmstat_get("prezero_verify_failed") - failed0;
	checked = vmstat_get("prezero_verify_checked") - checked0;
	ksft_test_result(failed == 0, "prezero_verify_failed: +%lld\n", failed);
	ksft_test_result(checked > 0, "prezero_verify_checked: +%lld\n", checked);

	munmap(st, sizeof(*st));
	ksft_finished();
}
