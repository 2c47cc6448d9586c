// SPDX-License-Identifier: GPL-2.0
// vm-run: --numa 2 --mem 2G
/*
 * Bad-input sweep over every writable sysfs file of zero_page and
 * hugetlb_prezero, with write(2) on a fresh file descriptor each time.
 *
 * Every file parses by one rule (Documentation/ABI): kstrtoul(buf, 10) -
 * decimal digits only (leading zeros are decimal, not octal: "010" is 10),
 * one optional leading '+', one optional trailing newline, no overflow, no
 * NUL byte anywhere - or a keyword of the file matched with sysfs_streq()
 * (one optional trailing newline), then a range check: enabled 0..1,
 * batch_size PAGE_SIZE..1 TiB, delay_millisecs 0..3600000, mini_order
 * 1..MAX_PAGE_ORDER, nontemporal 0..1 where the CPU has non-temporal
 * clears, else 0, flush only 1, zero_bytes 1 or more or "max",
 * background 0..1, /sys/kernel/mm/page_reporting/flush only 1 (it runs
 * zero_page's flush here); nodeN/hugepages/hugepages-<size>kB/
 * zeroable_hugepages (every node, every size) 1 or more, or the keyword
 * "max". A valid request to zeroable_hugepages zeroes up to that many free
 * huge pages of the node, so the value read back drops by min(N, value).
 *
 * Anything else must fail with EINVAL and leave the value read back
 * unchanged (zeroed_hugepages too for hugetlb). An empty write never
 * reaches the module (sysfs returns 0) and changes nothing. An accepted
 * input must return the full length and read back as the parsed value;
 * the value is then put back. 4096 bytes (a page) are passed whole to the
 * module, so a page of digits overflows while 4095 zeros and a 1 is 1.
 *
 * Every knob is restored at exit, and the huge page pools of every node.
 * Best run on two NUMA nodes, so that per-node files of more than one node
 * are swept.
 */
#include "zero_page_common.h"

#include <dirent.h>

#define REJ	(-1LL)		/* the parser refuses it */
#define U64MAX	(-2LL)		/* parses to 2^64 - 1 */
#define MAXKW	(-3LL)		/* the keyword "max": 2^64 - 1 where a file takes it */
#define HP_NODES "/sys/devices/system/node"
#define PR_FLUSH "/sys/kernel/mm/page_reporting/flush"

struct input {
	const char *what;	/* printable description */
	const char *buf;
	size_t len;
	long long val;		/* the parsed value, REJ, U64MAX or MAXKW */
};

#define IN(what, str, val) { what, str, sizeof(str) - 1, val }

static char page_digits[4096], page_zeros_one[4096], page_letters[4096];
static char page_spaces[4096];

static struct input inputs[] = {
	IN("\"0x10\"",		"0x10", REJ),
	IN("\"0x1\"",		"0x1", REJ),
	IN("\"0X10\"",		"0X10", REJ),
	IN("\"0x\"",		"0x", REJ),
	IN("\"+1\"",		"+1", 1),
	IN("\"+0\"",		"+0", 0),
	IN("\"++1\"",		"++1", REJ),
	IN("\"+-1\"",		"+-1", REJ),
	IN("\"+\"",		"+", REJ),
	IN("\"-\"",		"-", REJ),
	IN("\"-0\"",		"-0", REJ),
	IN("\"-1\"",		"-1", REJ),
	IN("\" 1\"",		" 1", REJ),
	IN("\"\\t1\"",		"\t1", REJ),
	IN("\"\\v1\"",		"\v1", REJ),
	IN("\"\\n1\"",		"\n1", REJ),
	IN("\"1 \"",		"1 ", REJ),
	IN("\"1\\t\"",		"1\t", REJ),
	IN("\"1\\f\"",		"1\f", REJ),
	IN("\"1\\r\\n\"",	"1\r\n", REJ),
	IN("\"1\\n\\n\"",	"1\n\n", REJ),
	IN("\"1\\n1\"",		"1\n1", REJ),
	IN("\"1 1\"",		"1 1", REJ),
	IN("\"\\n\"",		"\n", REJ),
	IN("\" \"",		" ", REJ),
	IN("\"1a\"",		"1a", REJ),
	IN("\"a1\"",		"a1", REJ),
	IN("\"one\"",		"one", REJ),
	IN("\"1e3\"",		"1e3", REJ),
	IN("\"1.0\"",		"1.0", REJ),
	IN("\"1,0\"",		"1,0", REJ),
	IN("\"0b1\"",		"0b1", REJ),
	IN("\"0o1\"",		"0o1", REJ),
	IN("\"true\"",		"true", REJ),
	IN("\"y\"",		"y", REJ),
	IN("\"max\"",		"max", MAXKW),
	IN("\"max\\n\"",		"max\n", MAXKW),
	IN("\"max\\n\\n\"",	"max\n\n", REJ),
	IN("\"MAX\"",		"MAX", REJ),
	IN("\"max \"",		"max ", REJ),
	IN("\"maximum\"",	"maximum", REJ),
	IN("fullwidth 1",	"\xef\xbc\x91", REJ),
	IN("\"\\xbd\"",		"\xc2\xbd", REJ),
	IN("binary 01 02 ff",	"\x01\x02\xff", REJ),
	IN("\"\\0\"",		"\0", REJ),
	IN("\"1\\0\"",		"1\0", REJ),
	IN("\"\\01\"",		"\0001", REJ),
	IN("\"1\\0garbage\"",	"1\0garbage", REJ),
	IN("\"1\\n\\0\"",	"1\n\0", REJ),
	IN("\"18446744073709551616\"", "18446744073709551616", REJ),
	IN("\"99999999999999999999999999\"", "99999999999999999999999999", REJ),
	IN("\"18446744073709551615\"", "18446744073709551615", U64MAX),
	IN("\"4294967296\"",	"4294967296", 4294967296LL),
	IN("\"\" (empty)",	"", REJ),
	IN("\"0\"",		"0", 0),
	IN("\"00\"",		"00", 0),
	IN("\"0\\n\"",		"0\n", 0),
	IN("\"1\"",		"1", 1),
	IN("\"1\\n\"",		"1\n", 1),
	IN("\"01\"",		"01", 1),
	IN("\"010\"",		"010", 10),
	IN("\"2\"",		"2", 2),
	IN("\"10\"",		"10", 10),
	IN("\"11\"",		"11", 11),
	IN("\"4095\"",		"4095", 4095),
	IN("\"4096\"",		"4096", 4096),
	IN("\"+4096\"",		"+4096", 4096),
	IN("\"04096\\n\"",	"04096\n", 4096),
	IN("\"3600000\"",	"3600000", 3600000),
	IN("\"3600001\"",	"3600001", 3600001),
	IN("\"1099511627776\"",	"1099511627776", 1099511627776LL),
	IN("\"1099511627777\"",	"1099511627777", 1099511627777LL),
	{ "4096 digits",	page_digits, sizeof(page_digits), REJ },
	{ "4095 zeros and 1",	page_zeros_one, sizeof(page_zeros_one), 1 },
	{ "4096 letters",	page_letters, sizeof(page_letters), REJ },
	{ "4096 spaces",	page_spaces, sizeof(page_spaces), REJ },
};

#define NR_INPUTS ARRAY_SIZE(inputs)

/* write(2) on a fresh descriptor: the length written or -errno. */
static ssize_t raw_write(const char *path, const char *buf, size_t len)
{
	ssize_t ret;
	int fd, err;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	ret = write(fd, buf, len);
	err = errno;
	close(fd);
	return ret < 0 ? -err : ret;
}

static long long read_ll(const char *path)
{
	char buf[64];

	if (sysfs_read(path, buf, sizeof(buf)) <= 0)
		return -1;
	return strtoll(buf, NULL, 10);
}

static int write_ll(const char *path, long long val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", val);
	return sysfs_write(path, buf, strlen(buf));
}

/* out = a/b; a path that does not fit is a failure, never truncated. */
static void join(char *out, size_t size, const char *a, const char *b)
{
	if ((size_t)snprintf(out, size, "%s/%s", a, b) >= size)
		ksft_exit_fail_msg("path too long: %s/%s\n", a, b);
}

/* One file of zero_page: valid values are [min, max]. */
struct zp_file {
	const char *name;
	unsigned long long min, max;
	long long baseline;	/* value set before the sweep, -1 none (flush) */
	bool max_keyword;	/* takes "max" (zero_bytes) */
};

/* Sweeps one zero_page file; returns the number of mismatches. */
static int sweep_zp(const struct zp_file *f, unsigned int *checked)
{
	char path[256];
	unsigned int i;
	int bad = 0;

	if (f->name[0] == '/')
		snprintf(path, sizeof(path), "%s", f->name);
	else
		snprintf(path, sizeof(path), ZP_DIR "/%s", f->name);
	if (f->baseline >= 0 && write_ll(path, f->baseline))
		ksft_exit_fail_msg("%s: cannot set %lld\n", f->name, f->baseline);

	for (i = 0; i < NR_INPUTS; i++) {
		const struct input *in = &inputs[i];
		bool kw = in->val == MAXKW && f->max_keyword;
		unsigned long long val = in->val == U64MAX || kw ? ~0ULL :
					 (unsigned long long)in->val;
		bool accept = in->val >= 0 || in->val == U64MAX || kw;

		/* Only zero_bytes takes a keyword. */
		accept = accept && val >= f->min && val <= f->max;
		long long before = f->baseline >= 0 ? read_ll(path) : -1;
		long long after;
		ssize_t ret;

		ret = raw_write(path, in->buf, in->len);
		after = f->baseline >= 0 ? read_ll(path) : -1;
		(*checked)++;
		if (!in->len) {
			if (ret != 0 || after != before) {
				ksft_print_msg("%s: %s: write %zd, value %lld -> %lld\n",
					       f->name, in->what, ret, before, after);
				bad++;
			}
			continue;
		}
		if (accept) {
			if (ret != (ssize_t)in->len ||
			    (f->baseline >= 0 && (unsigned long long)after != val)) {
				ksft_print_msg(
					"%s: %s: should be accepted as %llu: write %zd (%s), read %lld\n",
					f->name, in->what, val, ret,
					ret < 0 ? strerror(-ret) : "ok", after);
				bad++;
			}
			if (f->baseline >= 0)
				write_ll(path, before);
			continue;
		}
		if (ret != -EINVAL || after != before) {
			ksft_print_msg(
				"%s: %s: should fail with EINVAL: write %zd (%s), value %lld -> %lld\n",
				f->name, in->what, ret,
				ret < 0 ? strerror(-ret) : "accepted", before, after);
			bad++;
			if (f->baseline >= 0 && after != before)
				write_ll(path, before);
		}
	}
	return bad;
}

/* The per-node hstate directories, and their pool sizes to restore. */
#define MAX_HP_DIRS 16
static struct {
	char dir[256];
	unsigned long kb;
	long long nr;
} hp_dirs[MAX_HP_DIRS];
static int nr_hp_dirs;
static pid_t hp_owner;

static void hp_restore(void)
{
	char path[300];
	int i;

	if (getpid() != hp_owner)
		return;
	for (i = 0; i < nr_hp_dirs; i++) {
		join(path, sizeof(path), hp_dirs[i].dir, "nr_hugepages");
		write_ll(path, hp_dirs[i].nr);
	}
}

static void hp_find_dirs(void)
{
	struct dirent *n, *h;
	DIR *nodes, *sizes;
	char dir[256], path[256];

	nodes = opendir(HP_NODES);
	if (!nodes)
		return;
	while ((n = readdir(nodes))) {
		if (strncmp(n->d_name, "node", 4) || n->d_name[4] < '0' || n->d_name[4] > '9')
			continue;
		join(path, sizeof(path), HP_NODES, n->d_name);
		join(dir, sizeof(dir), path, "hugepages");
		sizes = opendir(dir);
		if (!sizes)
			continue;
		while ((h = readdir(sizes)) && nr_hp_dirs < MAX_HP_DIRS) {
			if (strncmp(h->d_name, "hugepages-", 10))
				continue;
			join(hp_dirs[nr_hp_dirs].dir, sizeof(hp_dirs[0].dir), dir, h->d_name);
			hp_dirs[nr_hp_dirs].kb = strtoul(h->d_name + 10, NULL, 10);
			join(path, sizeof(path), hp_dirs[nr_hp_dirs].dir, "nr_hugepages");
			hp_dirs[nr_hp_dirs].nr = read_ll(path);
			nr_hp_dirs++;
		}
		closedir(sizes);
	}
	closedir(nodes);
}

/* Gives a 2 MiB pool of a node `want` free pages that are not zeroed yet. */
static long long hp_refill(int d, long long want)
{
	char path[300];

	join(path, sizeof(path), hp_dirs[d].dir, "nr_hugepages");
	write_ll(path, 0);
	write_ll(path, want);
	join(path, sizeof(path), hp_dirs[d].dir, "zeroable_hugepages");
	return read_ll(path);
}

/* Sweeps zeroable_hugepages of one node and size; returns the mismatches. */
static int sweep_hp(int d, unsigned int *checked)
{
	char zeroable[300], zeroed[300];
	bool small = hp_dirs[d].kb == 2048;
	unsigned int i;
	int bad = 0;

	join(zeroable, sizeof(zeroable), hp_dirs[d].dir, "zeroable_hugepages");
	join(zeroed, sizeof(zeroed), hp_dirs[d].dir, "zeroed_hugepages");
	if (small)
		hp_refill(d, 4);

	for (i = 0; i < NR_INPUTS; i++) {
		const struct input *in = &inputs[i];
		bool max = in->val == U64MAX || in->val == MAXKW;
		unsigned long long n = max ? ~0ULL : (unsigned long long)in->val;
		long long before = read_ll(zeroable), zbefore = read_ll(zeroed);
		long long after, zafter, expect;
		ssize_t ret;

		ret = raw_write(zeroable, in->buf, in->len);
		after = read_ll(zeroable);
		zafter = read_ll(zeroed);
		(*checked)++;
		if (!in->len) {
			if (ret != 0 || after != before || zafter != zbefore) {
				ksft_print_msg("%s: %s: write %zd, zeroable %lld -> %lld\n",
					       zeroable, in->what, ret, before, after);
				bad++;
			}
			continue;
		}
		if (in->val != REJ && n >= 1) {
			expect = n >= (unsigned long long)before ? 0 : before - (long long)n;
			if (ret != (ssize_t)in->len || after != expect) {
				ksft_print_msg(
					"%s: %s: should zero %llu: write %zd (%s), zeroable %lld -> %lld\n",
					zeroable, in->what, n, ret,
					ret < 0 ? strerror(-ret) : "ok", before, after);
				bad++;
			}
			if (small && after < 2)
				hp_refill(d, 4);
			continue;
		}
		if (ret != -EINVAL || after != before || zafter != zbefore) {
			ksft_print_msg(
				"%s: %s: should fail with EINVAL: write %zd (%s), zeroable %lld -> %lld, zeroed %lld -> %lld\n",
				zeroable, in->what, ret,
				ret < 0 ? strerror(-ret) : "accepted",
				before, after, zbefore, zafter);
			bad++;
		}
	}
	return bad;
}

int main(void)
{
	unsigned long nt_max, checked_total = 0;
	struct zp_file files[9];
	unsigned int checked, i;
	int bad, d, ret, max_order = max_page_order();
	bool have_hp;

	memset(page_digits, '1', sizeof(page_digits));
	memset(page_zeros_one, '0', sizeof(page_zeros_one));
	page_zeros_one[sizeof(page_zeros_one) - 1] = '1';
	memset(page_letters, 'a', sizeof(page_letters));
	memset(page_spaces, ' ', sizeof(page_spaces));

	ksft_print_header();
	zp_require();
	have_hp = !system("modprobe hugetlb_prezero 2>/dev/null");
	zp_save();
	hp_owner = getpid();
	hp_find_dirs();
	atexit(hp_restore);
	if (have_hp && (!nr_hp_dirs ||
			access(HP_NODES "/node0/hugepages/hugepages-2048kB/zeroable_hugepages",
			       F_OK)))
		have_hp = false;
	ksft_set_plan(10 + (have_hp ? nr_hp_dirs : 1));
	ksft_print_msg("%zu inputs per file, MAX_PAGE_ORDER %d, %d hstate directories\n",
		       NR_INPUTS, max_order, nr_hp_dirs);

	zp_defaults();
	ret = zp_write("enabled", "1");
	if (ret)
		ksft_exit_skip("cannot enable zero_page: %s\n", strerror(-ret));
	/* nontemporal accepts 1 only where the CPU has non-temporal clears. */
	nt_max = zp_read("nontemporal") == 1 || !zp_write("nontemporal", "1");

#define ZP_FILE(n, lo, hi, base) \
	((struct zp_file){ .name = (n), .min = (lo), .max = (hi), .baseline = (base) })
	files[0] = ZP_FILE("enabled", 0, 1, 1);
	files[1] = ZP_FILE("batch_size", PAGE_SZ, 1ULL << 40, 8192000);
	files[2] = ZP_FILE("delay_millisecs", 0, 3600000, 1234);
	files[3] = ZP_FILE("mini_order", 1, max_order, 3);
	files[4] = ZP_FILE("nontemporal", 0, nt_max, 0);
	files[5] = ZP_FILE("flush", 1, 1, -1);
	files[6] = ZP_FILE("zero_bytes", 1, ~0ULL, -1);
	files[6].max_keyword = true;
	files[7] = ZP_FILE("background", 0, 1, 0);
	/* The page reporting core's file follows the same rule. */
	files[8] = ZP_FILE(PR_FLUSH, 1, 1, -1);
	for (i = 0; i < ARRAY_SIZE(files); i++) {
		checked = 0;
		bad = sweep_zp(&files[i], &checked);
		checked_total += checked;
		ksft_test_result(!bad, "%s%s: %u inputs, %d wrong\n",
				 files[i].name[0] == '/' ? "" : "zero_page/", files[i].name,
				 checked, bad);
	}
	/* Leave the module's files for the hugetlb part, then the pools. */
	zp_write("enabled", "0");

	if (!have_hp) {
		ksft_test_result_skip("hugetlb_prezero is not available\n");
	} else {
		for (d = 0; d < nr_hp_dirs; d++) {
			checked = 0;
			bad = sweep_hp(d, &checked);
			checked_total += checked;
			ksft_test_result(!bad, "%s/zeroable_hugepages: %u inputs, %d wrong\n",
					 hp_dirs[d].dir + strlen(HP_NODES) + 1, checked, bad);
		}
	}
	ksft_test_result(checked_total >= 50, "%lu writes checked in all\n", checked_total);
	ksft_finished();
}
