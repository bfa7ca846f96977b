// SPDX-License-Identifier: GPL-2.0
/*
 * First-touch events end to end: a child process touches 64 MiB of
 * anonymous memory, 4 KiB page by 4 KiB page (no THP), and exits.  Every
 * page it faulted in is a user movable allocation, so the driver must
 * record at least one event per page (or count it dropped), send them to
 * the device within a few touch_flush_ms, and the device must reject none.
 *
 * Where locality_probe is negotiated too, nothing more is checked: where
 * the host placed the pages is judged on the two-node rig, not here.
 *
 * Runs as root in a guest with the module loaded; skips when there is no
 * device, first_touch is not negotiated or the hook is not active.
 */
#define _GNU_SOURCE

#include "numahint_sysfs.h"

#define NR_TESTS	3

#define CHILD_BYTES	(64ULL << 20)
/* One allocation per 4 KiB page: the child asks for no huge pages. */
#define WANT_EVENTS	(CHILD_BYTES >> 12)
/* Time for the events to reach the device, beyond touch_flush_ms. */
#define SEND_LIMIT_S	10.0
#define POLL_S		0.05

/* The counters the test reads, by sysfs name. */
enum counter {
	EVENTS, DROPPED, REQUESTS, ENTRIES, UNSENT, REJECTED, UNSUPPORTED,
	MALFORMED, NR_COUNTERS
};

static const char * const counter_names[NR_COUNTERS] = {
	[EVENTS]	= "touch_events",
	[DROPPED]	= "touch_dropped",
	[REQUESTS]	= "touch_requests",
	[ENTRIES]	= "touch_entries",
	[UNSENT]	= "touch_unsent",
	[REJECTED]	= "touch_rejected",
	[UNSUPPORTED]	= "touch_unsupported",
	[MALFORMED]	= "resp_malformed",
};

static unsigned long long at_start[NR_COUNTERS];

static int read_counters(unsigned long long *val)
{
	int i;

	for (i = 0; i < NR_COUNTERS; i++)
		if (numahint_read_attr(counter_names[i], &val[i]))
			return -1;
	return 0;
}

static void test_touch_recorded(void)
{
	static const char name[] =
		"64 MiB touched by a process are recorded as >= 16384 allocations";
	unsigned long long now[NR_COUNTERS], events, dropped;

	ksft_print_msg("[RUN] %s\n", __func__);
	/* A THP would be one event for 512 pages; count pages instead. */
	if (numahint_touch_in_child(CHILD_BYTES, true, 0)) {
		ksft_test_result_fail(name);
		return;
	}
	if (read_counters(now)) {
		ksft_test_result_fail(name);
		return;
	}
	events = now[EVENTS] - at_start[EVENTS];
	dropped = now[DROPPED] - at_start[DROPPED];
	/* Other tasks allocate too: a lower bound is all we can say. */
	ksft_print_msg("touch_events +%llu, touch_dropped +%llu, want >= %llu together\n",
		       events, dropped, WANT_EVENTS);
	ksft_test_result(events + dropped >= WANT_EVENTS && events > 0, name);
}

static void test_touch_sent(void)
{
	static const char name[] =
		"the recorded events reach the device within touch_flush_ms + 10 s";
	unsigned long long now[NR_COUNTERS], flush_ms;
	double start = numahint_now(), limit;

	ksft_print_msg("[RUN] %s\n", __func__);
	if (numahint_read_attr("touch_flush_ms", &flush_ms)) {
		ksft_test_result_fail(name);
		return;
	}
	limit = flush_ms / 1000.0 + SEND_LIMIT_S;
	for (;;) {
		if (read_counters(now)) {
			ksft_test_result_fail(name);
			return;
		}
		/* All recorded extents are out once the buffers are drained. */
		if (now[ENTRIES] > at_start[ENTRIES] &&
		    now[REQUESTS] > at_start[REQUESTS] &&
		    numahint_now() - start >= 2.0 * flush_ms / 1000.0)
			break;
		if (numahint_now() - start >= limit)
			break;
		numahint_sleep(POLL_S);
	}
	/* Unsent extents (all request buffers in flight) are allowed. */
	ksft_print_msg("after %.2f s: touch_requests +%llu, touch_entries +%llu, unsent +%llu\n",
		       numahint_now() - start, now[REQUESTS] - at_start[REQUESTS],
		       now[ENTRIES] - at_start[ENTRIES],
		       now[UNSENT] - at_start[UNSENT]);
	ksft_test_result(now[ENTRIES] > at_start[ENTRIES] &&
			 now[REQUESTS] > at_start[REQUESTS], name);
}

static void test_nothing_rejected(void)
{
	static const char name[] =
		"the device rejected no extent and answered every request";
	unsigned long long now[NR_COUNTERS];

	ksft_print_msg("[RUN] %s\n", __func__);
	if (read_counters(now)) {
		ksft_test_result_fail(name);
		return;
	}
	ksft_print_msg("touch_rejected %llu, touch_unsupported %llu, resp_malformed +%llu\n",
		       now[REJECTED], now[UNSUPPORTED],
		       now[MALFORMED] - at_start[MALFORMED]);
	ksft_test_result(!now[REJECTED] && !now[UNSUPPORTED] &&
			 now[MALFORMED] == at_start[MALFORMED], name);
}

int main(void)
{
	unsigned long long active;
	const char *why;

	ksft_print_header();
	if (numahint_find_device(&why))
		ksft_exit_skip("%s\n", why);
	if (!numahint_has_feature("first_touch"))
		ksft_exit_skip("first_touch not negotiated\n");
	if (numahint_read_attr("touch_active", &active))
		ksft_exit_fail_msg("cannot read touch_active\n");
	if (active != 1)
		ksft_exit_skip("touch_active is 0: the mm_page_alloc hook is off\n");

	ksft_set_plan(NR_TESTS);
	if (read_counters(at_start))
		ksft_exit_fail_msg("cannot read the touch counters\n");

	test_touch_recorded();
	test_touch_sent();
	test_nothing_rejected();
	ksft_finished();
}
