// SPDX-License-Identifier: GPL-2.0
/*
 * Free page reports end to end: a child process touches 256 MiB and exits,
 * and the driver must report that memory to the device within 60 s (page
 * reporting waits 2 s for freed memory to accumulate).  Prints how long
 * the reports took, in guest seconds.
 *
 * Runs as root in a guest with the module loaded; skips when there is no
 * device, free_report is not negotiated or another driver has page
 * reporting.
 */
#define _GNU_SOURCE

#include "numahint_sysfs.h"

#define NR_TESTS	2

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

/* Counters at start, to tell what the test itself caused. */
static unsigned long long rejected_at_start, errors_at_start;

/*
 * Wait until the driver has stopped reporting, so that reports of memory
 * freed before the test (the whole of RAM after boot) do not count.
 */
static void wait_reports_quiet(void)
{
	unsigned long long requests, last;
	double start = numahint_now(), quiet_since = start;

	if (numahint_read_attr("report_requests", &last))
		ksft_exit_fail_msg("cannot read report_requests\n");
	while (numahint_now() - quiet_since < QUIET_S) {
		if (numahint_now() - start > QUIET_LIMIT_S) {
			ksft_print_msg("reports still going after %.0f s, starting anyway\n",
				       QUIET_LIMIT_S);
			return;
		}
		numahint_sleep(POLL_S);
		if (numahint_read_attr("report_requests", &requests))
			ksft_exit_fail_msg("cannot read report_requests\n");
		if (requests != last) {
			last = requests;
			quiet_since = numahint_now();
		}
	}
	ksft_print_msg("reports quiet after %.1f s, %llu requests so far\n",
		       numahint_now() - start, last);
}

static void test_report_freed_memory(void)
{
	static const char name[] =
		"3/4 of 256 MiB freed by an exiting process reported within 60 s";
	unsigned long long bytes_at_start, bytes, grown = 0;
	double freed_at, took;

	ksft_print_msg("[RUN] %s\n", __func__);
	wait_reports_quiet();
	if (numahint_read_attr("report_bytes", &bytes_at_start))
		ksft_exit_fail_msg("cannot read report_bytes\n");

	if (numahint_touch_in_child(CHILD_BYTES, false, 1.0)) {
		ksft_test_result_fail(name);
		return;
	}
	freed_at = numahint_now();

	for (;;) {
		if (numahint_read_attr("report_bytes", &bytes)) {
			ksft_test_result_fail(name);
			return;
		}
		grown = bytes - bytes_at_start;
		took = numahint_now() - freed_at;
		if (grown >= WANT_BYTES || took >= REPORT_LIMIT_S)
			break;
		numahint_sleep(POLL_S);
	}
	ksft_print_msg("reported %llu KiB in %.1f s\n", grown >> 10, took);
	ksft_test_result(grown >= WANT_BYTES, name);
}

static void test_no_rejects_or_errors(void)
{
	static const char name[] =
		"the device rejected no range and no report failed";
	unsigned long long rejected, errors;

	ksft_print_msg("[RUN] %s\n", __func__);
	if (numahint_read_attr("report_rejected", &rejected) ||
	    numahint_read_attr("report_errors", &errors)) {
		ksft_test_result_fail(name);
		return;
	}
	ksft_print_msg("report_rejected +%llu, report_errors +%llu\n",
		       rejected - rejected_at_start, errors - errors_at_start);
	ksft_test_result(rejected == rejected_at_start &&
			 errors == errors_at_start, name);
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

int main(void)
{
	const char *why;

	ksft_print_header();
	if (numahint_find_device(&why))
		ksft_exit_skip("%s\n", why);
	why = numahint_report_unusable();
	if (why)
		ksft_exit_skip("%s\n", why);
	ksft_set_plan(NR_TESTS);
	ksft_print_msg("testing %s\n", numahint_dir);
	print_orders();

	if (numahint_read_attr("report_rejected", &rejected_at_start) ||
	    numahint_read_attr("report_errors", &errors_at_start))
		ksft_exit_fail_msg("cannot read the driver's counters\n");

	test_report_freed_memory();
	test_no_rejects_or_errors();

	ksft_finished();
}
