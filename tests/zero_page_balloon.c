// SPDX-License-Identifier: GPL-2.0
// vm-run: --balloon
/*
 * zero_page and virtio_balloon on one guest, in either load order, 20 times
 * each under memory churn. zero_page yields: while the balloon reports free
 * pages (to a host that zeroes them, host_zeroes_pages=1), zero_page stands
 * by, and it reports again once the balloon is removed.
 * - Loading virtio_balloon while zero_page is enabled binds the device; the
 *   balloon reports (prezero_pages rises by what it checks and marks after
 *   a pass), also the blocks zero_page reported before (PG_reported is
 *   forgotten at a switch),
 *   and zero_page's flush fails with EBUSY while it stands by.
 * - Enabling zero_page while the balloon reports works and stands by.
 * - Removing the balloon makes zero_page report again: its flush clears.
 * - /sys/kernel/mm/page_reporting/devices and the log say who reports.
 *
 * Needs a virtio-balloon device with free page reporting (QEMU: -device
 * virtio-balloon-pci,free-page-reporting=on); skipped without one.
 */
#include "balloon_common.h"

#define ROUNDS 20
#define CHURN (64 * MIB)

enum {
	A_BOUND, A_STANDBY, A_REPORTED, A_EBUSY, A_BACK,
	B_REPORTED, B_ENABLED, B_BACK, B_REBIND, NR_CHECKS
};

static const char *const what[NR_CHECKS] = {
	[A_BOUND] = "zero_page first: virtio_balloon binds",
	[A_STANDBY] = "zero_page first: zero_page stands by, the balloon reports",
	[A_REPORTED] = "zero_page first: the balloon reports what zero_page had reported",
	[A_EBUSY] = "zero_page first: zero_page's flush is EBUSY while it stands by",
	[A_BACK] = "zero_page first: rmmod virtio_balloon, zero_page reports again",
	[B_REPORTED] = "balloon first: the balloon reports",
	[B_ENABLED] = "balloon first: enabled=1 works and stands by",
	[B_BACK] = "balloon first: rmmod virtio_balloon, zero_page reports again",
	[B_REBIND] = "balloon first: virtio_balloon binds again after enabled=0",
};

static int passed[NR_CHECKS];

static void restore(void)
{
	zp_restore();
	balloon_load(false);
}

/* A flush of zero_page after churn that clears pages. */
static bool zp_flush_clears(void)
{
	unsigned long before = zp_read("zeroed_pages");

	churn_memory(CHURN);
	return zp_write("flush", "1") == 0 && zp_read("zeroed_pages") > before;
}

struct reported {
	long long marked, checked;
};

static struct reported reported_now(void)
{
	return (struct reported){ vmstat_get("prezero_pages"),
				  vmstat_get("prezero_host_checked") };
}

/*
 * Whether the balloon reported at least 128 MiB since `since` (in the pass
 * started at registration or in the immediate one run here): the host
 * zeroed them, the guest checked them and marked them zero. zero_page,
 * standing by, marks nothing meanwhile.
 */
static bool balloon_reported(struct reported since)
{
	struct reported now;

	if (pr_flush())
		return false;
	now = reported_now();
	return now.marked - since.marked >= (long long)(128 * MIB / PAGE_SZ) &&
	       now.checked > since.checked;
}

int main(void)
{
	int round, i, steps0, stands0, again0, steps, stands, again;
	struct reported checked;

	ksft_print_header();
	zp_require();
	balloon_require();
	zp_save();
	atexit(restore);
	ksft_set_plan(NR_CHECKS + 1);

	steps0 = klog_count("steps aside for virtio_balloon");
	stands0 = klog_count("zero_page stands by while virtio_balloon");
	again0 = klog_count("zero_page reports free pages again");

	for (round = 0; round < ROUNDS; round++) {
		/* zero_page first, then the balloon. */
		unload_module("virtio_balloon");
		zp_enable_flush_only();
		zp_flush_clears();
		checked = reported_now();
		balloon_load(true);
		passed[A_BOUND] += balloon_bound();
		passed[A_STANDBY] += pr_device_is("virtio_balloon", "reporting") &&
				     pr_device_is("zero_page", "standby");
		passed[A_REPORTED] += balloon_reported(checked);
		passed[A_EBUSY] += zp_write("flush", "1") == -EBUSY &&
				   zp_read("enabled") == 1;
		unload_module("virtio_balloon");
		passed[A_BACK] += pr_device_is("zero_page", "reporting") &&
				  zp_flush_clears();

		/* The balloon first, then zero_page. */
		zp_write("enabled", "0");
		checked = reported_now();
		balloon_load(true);
		passed[B_REPORTED] += balloon_bound() && balloon_reported(checked);
		passed[B_ENABLED] += zp_write("enabled", "1") == 0 &&
				     zp_read("enabled") == 1 &&
				     pr_device_is("zero_page", "standby");
		unload_module("virtio_balloon");
		passed[B_BACK] += pr_device_is("zero_page", "reporting") &&
				  zp_flush_clears();
		zp_write("enabled", "0");
		passed[B_REBIND] += balloon_load(true) &&
				    pr_device_is("virtio_balloon", "reporting");
	}

	for (i = 0; i < NR_CHECKS; i++)
		ksft_test_result(passed[i] == ROUNDS, "%s (%d/%d)\n", what[i],
				 passed[i], ROUNDS);
	steps = klog_count("steps aside for virtio_balloon") - steps0;
	stands = klog_count("zero_page stands by while virtio_balloon") - stands0;
	again = klog_count("zero_page reports free pages again") - again0;
	ksft_test_result(steps == ROUNDS && stands == ROUNDS && again == 2 * ROUNDS,
			 "one log line per switch\n");
	ksft_finished();
}
