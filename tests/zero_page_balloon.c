// SPDX-License-Identifier: GPL-2.0
// vm-run: --balloon
/*
 * zero_page and virtio-balloon share free page reporting, which accepts one
 * device at a time:
 * - while virtio_balloon holds it, enabled=1 fails with EBUSY, logs exactly
 *   one error line, and leaves enabled at 0;
 * - once virtio_balloon is removed, enabling (and flushing) works;
 * - once zero_page is unloaded, virtio_balloon registers again (its probe,
 *   which fails if page_reporting_register() fails, binds the device);
 * - while zero_page holds it, virtio_balloon's probe fails (EBUSY).
 */
#include <dirent.h>
#include <sys/klog.h>

#include "zero_page_common.h"

#define BALLOON_DRV "/sys/bus/virtio/drivers/virtio_balloon"
#define BUSY_MSG "used by another device"

/* Whether virtio_balloon is bound to a device (its probe succeeded). */
static bool balloon_bound(void)
{
	struct dirent *de;
	bool bound = false;
	DIR *d = opendir(BALLOON_DRV);

	if (!d)
		return false;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "virtio", 6))
			bound = true;
	closedir(d);
	return bound;
}

/* Whether the guest has a virtio device of the balloon type (ID 5). */
static bool balloon_device_present(void)
{
	char path[512], buf[32];
	struct dirent *de;
	bool found = false;
	DIR *d = opendir("/sys/bus/virtio/devices");

	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/bus/virtio/devices/%s/device", de->d_name);
		if (read_file(path, buf, sizeof(buf)) > 0 && strtoul(buf, NULL, 0) == 5)
			found = true;
	}
	closedir(d);
	return found;
}

static bool module_loaded(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/module/%s", name);
	return access(path, F_OK) == 0;
}

/* Number of kernel log lines containing `needle`. */
static int klog_count(const char *needle)
{
	int size = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0), len, n = 0;
	char *buf, *p;

	if (size <= 0)
		return -1;
	buf = malloc(size + 1);
	if (!buf)
		return -1;
	len = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, size);
	if (len < 0) {
		free(buf);
		return -1;
	}
	buf[len] = '\0';
	for (p = buf; (p = strstr(p, needle)); p++)
		n++;
	free(buf);
	return n;
}

static bool load_module(const char *name)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "modprobe %s", name);
	return system(cmd) == 0;
}

static bool unload_module(const char *name)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rmmod %s", name);
	return system(cmd) == 0;
}

int main(void)
{
	int ret, before, after;
	bool ok;

	ksft_print_header();
	zp_require();
	if (!balloon_device_present())
		ksft_exit_skip("no virtio-balloon device (run with vm-run --balloon)\n");
	if (!module_loaded("virtio_balloon") && !load_module("virtio_balloon"))
		ksft_exit_skip("virtio_balloon is not available\n");
	zp_save();
	ksft_set_plan(8);

	zp_write("enabled", "0");
	/* The balloon probed before (or while) zero_page was disabled. */
	if (!balloon_bound()) {
		unload_module("virtio_balloon");
		load_module("virtio_balloon");
	}
	ksft_test_result(balloon_bound(), "virtio_balloon owns free page reporting\n");

	before = klog_count(BUSY_MSG);
	ret = zp_write("enabled", "1");
	after = klog_count(BUSY_MSG);
	ksft_test_result(ret == -EBUSY && zp_read("enabled") == 0,
			 "enabled=1 is EBUSY while virtio_balloon reports (got %d)\n", ret);
	ksft_test_result(before >= 0 && after == before + 1,
			 "exactly one error line logged (%d -> %d)\n", before, after);

	ok = unload_module("virtio_balloon");
	ret = zp_write("enabled", "1");
	ok &= ret == 0 && zp_read("enabled") == 1;
	ksft_test_result(ok, "enabled=1 works once virtio_balloon is removed (%d)\n", ret);

	/* virtio_balloon left PG_reported on what it reported: free new blocks. */
	churn_memory(128 * MIB);
	ret = zp_write("flush", "1");
	ksft_test_result(ret == 0 && zp_read("zeroed_pages") > 0,
			 "flush zeroes pages (%d, %lu pages)\n", ret, zp_read("zeroed_pages"));

	/* Unloading zero_page (while enabled) gives reporting back. */
	ok = unload_module("zero_page") && !zp_present();
	ksft_test_result(ok, "rmmod zero_page while enabled\n");
	ok = load_module("virtio_balloon") && balloon_bound();
	ksft_test_result(ok, "virtio_balloon registers again after rmmod zero_page\n");

	/*
	 * Last, because it leaves the balloon device unusable until reboot:
	 * while zero_page owns reporting, the balloon's probe fails (EBUSY),
	 * and virtio does not reset a device after a failed probe, so later
	 * probes find its queues still enabled (ENOENT).
	 */
	unload_module("virtio_balloon");
	load_module("zero_page");
	ret = zp_write("enabled", "1");
	load_module("virtio_balloon");
	ksft_test_result(ret == 0 && !balloon_bound(),
			 "virtio_balloon cannot register while enabled\n");
	unload_module("virtio_balloon");
	ksft_finished();
}
