// SPDX-License-Identifier: GPL-2.0
/*
 * Free page reports end to end: a child process touches 256 MiB and exits,
 * and the driver must report that memory to the device within 60 s (page
 * reporting waits 2 s for freed memory to accumulate).  Prints how long
 * the reports took, in guest seconds.
 *
 * The device must reject no range of those reports and none may fail.
 *
 * Runs as root in a guest with the module loaded; skips when there is no
 * device, free_report is not negotiated or another driver has page
 * reporting.
 */
#define _GNU_SOURCE

#include "numahint_sysfs.h"
#include "kselftest_harness.h"

#define CHILD_BYTES	(256ULL << 20)
/*
 * Report at least this much of the child's memory.  Not all of it: 6.7+
 * kernels tune per-CPU free lists up to tens of MiB, and pages held there
 * are not in the buddy allocator, so page reporting cannot see them.  The
 * host-side test measures what actually leaves the host.
 */
#define WANT_BYTES	(CHILD_BYTES * 3 / 4)
/* Within this many seconds of its exit. */
#define REPORT_LIMIT_S	60.0
#define POLL_S		0.1

/* What the kernel uses: a boot parameter, or the first driver's order. */
#define PAGE_REPORTING_ORDER \
	"/sys/module/page_reporting/parameters/page_reporting_order"

/* Before we start, the counters stand still this long (2 s delay + work). */
#define QUIET_S		3.0
#define QUIET_LIMIT_S	30.0

/*
 * Wait until the driver has stopped reporting, so that reports of memory
 * freed before the test (the whole of RAM after boot) do not count.
 * Returns 0, or -1 if report_requests cannot be read.
 */
static int wait_reports_quiet(void)
{
	unsigned long long requests, last;
	double start = numahint_now(), quiet_since = start;

	if (numahint_read_attr("report_requests", &last))
		return -1;
	while (numahint_now() - quiet_since < QUIET_S) {
		if (numahint_now() - start > QUIET_LIMIT_S) {
			ksft_print_msg("reports still going after %.0f s, starting anyway\n",
				       QUIET_LIMIT_S);
			return 0;
		}
		numahint_sleep(POLL_S);
		if (numahint_read_attr("report_requests", &requests))
			return -1;
		if (requests != last) {
			last = requests;
			quiet_since = numahint_now();
		}
	}
	ksft_print_msg("reports quiet after %.1f s, %llu requests so far\n",
		       numahint_now() - start, last);
	return 0;
}

/* The order the driver registered, and the one the kernel uses. */
static void print_orders(void)
{
	unsigned long long used;
	char kernel[32];

	if (numahint_read_attr("report_order_used", &used))
		return;
	if (numahint_read_file(PAGE_REPORTING_ORDER, kernel, sizeof(kernel)))
		snprintf(kernel, sizeof(kernel), "unknown\n");
	ksft_print_msg("report_order_used %llu, kernel page_reporting_order %s",
		       used, kernel);
}

FIXTURE(report) {
};

FIXTURE_SETUP(report)
{
	const char *why;

	if (numahint_find_device(&why))
		SKIP(return, "%s", why);
	why = numahint_report_unusable();
	if (why)
		SKIP(return, "%s", why);
}

FIXTURE_TEARDOWN(report)
{
}

/*
 * 3/4 of 256 MiB freed by an exiting process are reported within 60 s;
 * the device rejected no range and no report failed meanwhile.
 */
TEST_F_TIMEOUT(report, freed_memory_reported, 150)
{
	unsigned long long bytes_at_start, bytes, grown = 0;
	unsigned long long rejected_at_start, errors_at_start;
	unsigned long long rejected, errors;
	double freed_at, took;

	ASSERT_EQ(0, wait_reports_quiet());
	ASSERT_EQ(0, numahint_read_attr("report_bytes", &bytes_at_start));
	ASSERT_EQ(0, numahint_read_attr("report_rejected", &rejected_at_start));
	ASSERT_EQ(0, numahint_read_attr("report_errors", &errors_at_start));

	ASSERT_EQ(0, numahint_touch_in_child(CHILD_BYTES, false, 1.0));
	freed_at = numahint_now();
	for (;;) {
		ASSERT_EQ(0, numahint_read_attr("report_bytes", &bytes));
		grown = bytes - bytes_at_start;
		took = numahint_now() - freed_at;
		if (grown >= WANT_BYTES || took >= REPORT_LIMIT_S)
			break;
		numahint_sleep(POLL_S);
	}
	ksft_print_msg("reported %llu KiB in %.1f s\n", grown >> 10, took);
	EXPECT_GE(grown, WANT_BYTES);

	ASSERT_EQ(0, numahint_read_attr("report_rejected", &rejected));
	ASSERT_EQ(0, numahint_read_attr("report_errors", &errors));
	ksft_print_msg("report_rejected +%llu, report_errors +%llu\n",
		       rejected - rejected_at_start, errors - errors_at_start);
	EXPECT_EQ(rejected_at_start, rejected);
	EXPECT_EQ(errors_at_start, errors);
}

int main(int argc, char **argv)
{
	const char *why;

	if (!numahint_find_device(&why)) {
		ksft_print_msg("testing %s\n", numahint_dir);
		print_orders();
	}
	return test_harness_run(argc, argv);
}
