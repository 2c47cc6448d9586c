/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the kselftests of zero_page and hugetlb_prezero
 * (prezero_common.c, linked into every test with the mm selftests'
 * vm_util.c and hugepage_settings.c, whose headers this one includes):
 * reading and writing sysfs and procfs files with errors returned,
 * /proc/vmstat, /proc/meminfo, /proc/buddyinfo, /proc/kpageflags and the
 * kernel log. The THP settings are saved and restored with
 * hugepage_settings.c (thp_save_settings(), thp_restore_settings(),
 * thp_write_string()), pagemap entries are read with vm_util.c
 * (pagemap_get_entry(), pagemap_get_pfn()).
 */
#ifndef PREZERO_COMMON_H
#define PREZERO_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest.h"
/* From tools/testing/selftests/mm: vm_util.h has no include guard. */
#include <vm_util.h>
#include <hugepage_settings.h>

#define MIB (1UL << 20)
#define THP_ENABLED "/sys/kernel/mm/transparent_hugepage/enabled"
#define SHMEM_ENABLED "/sys/kernel/mm/transparent_hugepage/shmem_enabled"

/* Bits of /proc/kpageflags (include/uapi/linux/kernel-page-flags.h). */
#define KPF_OWNER_2 34

/* Writes exactly len bytes; returns 0 or -errno. */
int sysfs_write(const char *path, const char *buf, size_t len);

/* Reads a file into buf (NUL-terminated); returns the length or -errno. */
ssize_t sysfs_read(const char *path, char *buf, size_t size);

/*
 * The PMD size (a PMD-mapped THP, hpage_pmd_size): 2 MiB with 4K pages,
 * 512 MiB with arm64's 64K pages. Without THP, what a PMD would map.
 */
unsigned long pmd_size(void);

/* The order of pmd_size() in base pages (9 with 4K pages, 13 with 64K). */
int pmd_order(void);

/*
 * The size of the anonymous THPs that the tests fault in: pmd_size(), or
 * where a PMD is too large for a test guest of a few GiB (512 MiB with
 * arm64's 64K pages) the 2 MiB mTHP (32 contiguous PTEs there), which
 * anon_thp_setup() makes the only THP size.
 */
unsigned long anon_thp_size(void);

/*
 * With a 2 MiB anon_thp_size(): that mTHP size follows the top-level
 * "enabled" (inherit), the PMD size is off, so that MADV_HUGEPAGE and
 * enabled=always faults get 2 MiB folios. Nothing to do otherwise. Call
 * after thp_save_settings(), which saves what this changes.
 */
void anon_thp_setup(void);

/* The order of anon_thp_size() in base pages. */
int anon_thp_order(void);

/*
 * Anonymous faults that got an anon_thp_size() folio since boot:
 * thp_fault_alloc of /proc/vmstat, or the mTHP size's anon_fault_alloc.
 */
long long anon_thp_faults(void);

/* CLOCK_MONOTONIC in seconds. */
double now_secs(void);

/*
 * Waits up to @secs for the child @pid: returns its exit status, 128 if a
 * signal killed it, or -1 if it still runs.
 */
int wait_child(pid_t pid, double secs);

/* Pins the calling task to @cpu. */
bool pin_cpu(int cpu);

/*
 * Starts a real-time task (SCHED_FIFO) on @cpu that spins for 100 ms and
 * sleeps for 0.2 ms until it is killed: a task pinned to that CPU is
 * preempted wherever the kernel may preempt it, and gets the CPU back in
 * those gaps and in the share that the scheduler's fair server keeps for
 * it (50 ms a second). Unlike a CPU quota (cpu.max throttles only on the
 * way back to user space since Linux 7.x), this starves a task in the
 * middle of a system call. Returns the task's pid once it runs, -1 if it
 * could not be started (no such CPU, no SCHED_FIFO). stop_cpu_hog() ends
 * it.
 */
pid_t start_cpu_hog(int cpu);

/* Kills and reaps the task of start_cpu_hog(), if @pid > 0. */
void stop_cpu_hog(pid_t pid);

/* Reads a number from a file; -1 on error. */
long long read_num_file(const char *path);

/* sysfs_write() of a string. */
int write_str(const char *path, const char *s);

/* A counter of /proc/vmstat, or -1 if it does not exist. */
long long vmstat_get(const char *name);

/* A /proc/meminfo field in bytes, or 0. */
unsigned long meminfo_get(const char *name);

/*
 * Share (percent) of the free memory of all zones that is in free blocks of
 * at least `order` (/proc/buddyinfo), -1 on error: what is left for THP
 * (order pmd_order()) after a workload.
 */
double free_share_from_order(int order);

/* Whether the kernel command line has @arg (e.g. "init_on_free=1"). */
bool booted_with(const char *arg);

/*
 * Pages in the system with every bit of @mask set in /proc/kpageflags, -1
 * on error. A folio's flags show on each of its pages.
 */
long kpageflags_count_all(uint64_t mask);

/* Pages in the system with bit @kpf in /proc/kpageflags, -1 on error. */
long kpageflags_count(int kpf);

/* The kernel log, NUL-terminated, to be freed; NULL on error. */
char *klog_read(void);

/* Number of times the kernel log holds `needle` (not empty), -1 on error. */
int klog_count(const char *needle);

/* Prints the kernel log lines containing `needle` as TAP comments. */
void klog_print(const char *needle);

#endif /* PREZERO_COMMON_H */
