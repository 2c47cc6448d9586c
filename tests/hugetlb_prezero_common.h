/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the hugetlb_prezero kselftests: loading the module, the
 * per-node hugepages-<size>kB files (zeroable_hugepages, zeroed_hugepages,
 * nr_hugepages, free_hugepages), saving and restoring the pool sizes, the
 * statistics in /sys/kernel/mm/hugetlb_prezero/, and hugetlb mappings bound
 * to a node.
 */
#ifndef HUGETLB_PREZERO_COMMON_H
#define HUGETLB_PREZERO_COMMON_H

#include "lib/prezero_common.h"

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#ifndef MPOL_BIND
#define MPOL_BIND 2
#endif

#define HP_NODE_DIR "/sys/devices/system/node"
#define HP_STAT_DIR "/sys/kernel/mm/hugetlb_prezero"
#define HP_GLOBAL_DIR "/sys/kernel/mm/hugepages"
#define HP_MAX_NODES 8
#define HP_MAX_SIZES 4

/* Page size of the default pool used by the tests, in kB. */
#define HP_2M_KB 2048UL
#define HP_1G_KB 1048576UL

static inline void hp_path(char *buf, size_t len, int node, unsigned long kb,
			   const char *file)
{
	snprintf(buf, len, HP_NODE_DIR "/node%d/hugepages/hugepages-%lukB/%s",
		 node, kb, file);
}

static inline long long hp_read(int node, unsigned long kb, const char *file)
{
	char path[256];

	hp_path(path, sizeof(path), node, kb, file);
	return read_num_file(path);
}

static inline int hp_write(int node, unsigned long kb, const char *file,
			   const char *s)
{
	char path[256];

	hp_path(path, sizeof(path), node, kb, file);
	return write_str(path, s);
}

static inline int hp_write_num(int node, unsigned long kb, const char *file,
			       unsigned long long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu\n", v);
	return hp_write(node, kb, file, buf);
}

static inline long long hp_zeroable(int node, unsigned long kb)
{
	return hp_read(node, kb, "zeroable_hugepages");
}

static inline long long hp_zeroed(int node, unsigned long kb)
{
	return hp_read(node, kb, "zeroed_hugepages");
}

static inline long long hp_free(int node, unsigned long kb)
{
	return hp_read(node, kb, "free_hugepages");
}

static inline long long hp_nr(int node, unsigned long kb)
{
	return hp_read(node, kb, "nr_hugepages");
}

/* Zeroes up to n pages ("max" if n is 0); returns 0 or -errno. */
static inline int hp_zero(int node, unsigned long kb, unsigned long long n)
{
	if (!n)
		return hp_write(node, kb, "zeroable_hugepages", "max\n");
	return hp_write_num(node, kb, "zeroable_hugepages", n);
}

static inline long long hp_stat(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), HP_STAT_DIR "/%s", name);
	return read_num_file(path);
}

static inline int hp_nr_nodes(void)
{
	char path[256];
	int n = 0;

	while (n < HP_MAX_NODES) {
		snprintf(path, sizeof(path), HP_NODE_DIR "/node%d", n);
		if (access(path, F_OK))
			break;
		n++;
	}
	return n;
}

static inline bool hp_size_present(unsigned long kb)
{
	char path[256];

	hp_path(path, sizeof(path), 0, kb, "zeroable_hugepages");
	return access(path, F_OK) == 0;
}

/* Pool sizes to restore at exit: global nr_hugepages per size. */
static unsigned long hp_saved_kb[HP_MAX_SIZES];
static long long hp_saved_nr[HP_MAX_SIZES];
static int hp_nr_saved;

static inline void hp_restore(void)
{
	char path[256];
	int i;

	for (i = 0; i < hp_nr_saved; i++) {
		snprintf(path, sizeof(path),
			 HP_GLOBAL_DIR "/hugepages-%lukB/nr_hugepages",
			 hp_saved_kb[i]);
		if (hp_saved_nr[i] >= 0) {
			char buf[32];

			snprintf(buf, sizeof(buf), "%lld\n", hp_saved_nr[i]);
			write_str(path, buf);
		}
	}
}

/* Saves the pool size of @kb pages, restored at exit (once per size). */
static inline void hp_save(unsigned long kb)
{
	char path[256];
	int i;

	for (i = 0; i < hp_nr_saved; i++)
		if (hp_saved_kb[i] == kb)
			return;
	if (hp_nr_saved == HP_MAX_SIZES)
		return;
	snprintf(path, sizeof(path), HP_GLOBAL_DIR "/hugepages-%lukB/nr_hugepages",
		 kb);
	hp_saved_kb[hp_nr_saved] = kb;
	hp_saved_nr[hp_nr_saved] = read_num_file(path);
	if (hp_nr_saved++ == 0)
		atexit(hp_restore);
}

/*
 * Sets the pool of @node to exactly @nr pages of @kb; returns the resulting
 * size (may be smaller if memory is short).
 */
static inline long long hp_set_pool(int node, unsigned long kb, long long nr)
{
	hp_save(kb);
	hp_write_num(node, kb, "nr_hugepages", nr);
	return hp_nr(node, kb);
}

/*
 * Empties the pools of every node but node 0 and gives node 0 @nr pages;
 * returns how many it got.
 */
static inline long long hp_pool_on_node0(unsigned long kb, long long nr)
{
	for (int n = 1; n < hp_nr_nodes(); n++)
		hp_set_pool(n, kb, 0);
	hp_set_pool(0, kb, 0);
	return hp_set_pool(0, kb, nr);
}

#define GIB (1UL << 30)

/* Loads the module if needed; skips the whole test if it does not exist. */
static inline void hp_require(int min_nodes)
{
	if (getuid() != 0)
		ksft_exit_skip("must run as root\n");
	if (!hp_size_present(HP_2M_KB) &&
	    system("modprobe hugetlb_prezero 2>/dev/null") != 0)
		ksft_exit_skip("module hugetlb_prezero is not available\n");
	if (!hp_size_present(HP_2M_KB))
		ksft_exit_skip("no zeroable_hugepages for 2048kB pages on node0\n");
	if (access(HP_STAT_DIR "/zeroed_pages", F_OK))
		ksft_exit_skip(HP_STAT_DIR " does not exist\n");
	if (hp_nr_nodes() < min_nodes)
		ksft_exit_skip("needs %d NUMA nodes\n", min_nodes);
}

/* zeroable + zeroed == free on every node, once nobody is zeroing. */
static inline bool hp_counts_consistent(unsigned long kb, int nodes)
{
	int n;

	for (n = 0; n < nodes; n++) {
		long long f = hp_free(n, kb), z = hp_zeroable(n, kb);
		long long d = hp_zeroed(n, kb);

		if (f < 0 || z < 0 || d < 0 || z + d != f) {
			ksft_print_msg("node%d %lukB: free %lld != zeroable %lld + zeroed %lld\n",
				       n, kb, f, z, d);
			return false;
		}
	}
	return true;
}

/* Binds the calling thread's future allocations to @node. */
static inline int hp_bind_node(int node)
{
	unsigned long mask = 1UL << node;

	return syscall(SYS_set_mempolicy, MPOL_BIND, &mask, sizeof(mask) * 8);
}

static inline void hp_unbind(void)
{
	syscall(SYS_set_mempolicy, 0, NULL, 0);
}

static inline int hp_log2(unsigned long v)
{
	int l = 0;

	while (v > 1) {
		v >>= 1;
		l++;
	}
	return l;
}

/* An anonymous private hugetlb mapping of @nr pages of @kb; NULL on error. */
static inline char *hp_map(unsigned long kb, unsigned long nr)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB |
		    (hp_log2(kb * 1024) << MAP_HUGE_SHIFT);
	void *p = mmap(NULL, kb * 1024 * nr, PROT_READ | PROT_WRITE, flags, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004U
#endif

/*
 * memfd_create() flags of a hugetlb memfd of @kb pages, whatever the
 * default hugetlb page size (512 MiB with arm64's 64K pages).
 */
static inline unsigned int hp_memfd_flags(unsigned long kb)
{
	return MFD_HUGETLB | hp_log2(kb * 1024) << MAP_HUGE_SHIFT;
}

/* Faults every page in by writing one byte to it. */
static inline void hp_touch(char *p, unsigned long kb, unsigned long nr)
{
	unsigned long i;

	for (i = 0; i < nr; i++)
		p[i * kb * 1024] = 0;
}

/* Returns the offset of the first non-zero byte, or -1 if all are zero. */
static inline long long hp_first_nonzero(const char *p, size_t len)
{
	const uint64_t *q = (const uint64_t *)p;
	size_t i;

	for (i = 0; i < len / 8; i++)
		if (q[i])
			return (long long)i * 8;
	return -1;
}

/*
 * As hp_require(1), and skips the test unless 1 GiB pages exist; their pool
 * size is restored at exit.
 */
static inline void hp_require_gigantic(void)
{
	hp_require(1);
	/* No such directory where the CPU has no 1 GiB pages (x86 pdpe1gb). */
	if (!hp_size_present(HP_1G_KB))
		ksft_exit_skip(
			"no hugepages-1048576kB pool (a CPU with 1 GiB pages, booted with hugepagesz=1G)\n");
	hp_save(HP_1G_KB);
}

#endif /* HUGETLB_PREZERO_COMMON_H */
