// SPDX-License-Identifier: GPL-2.0
/*
 * First-touch events end to end: a child process touches 64 MiB of
 * anonymous memory, 4 KiB page by 4 KiB page (no THP), and exits.  Every
 * page it faulted in is a user movable allocation, so the driver must
 * record at least one event per page (or count it dropped), send them to
 * the device within a few touch_flush_ms, and the device must accept
 * them: the pages in requests the device accepted in full must grow by
 * the child's 64 MiB at least, which the rest of an idle guest does not
 * allocate in the test's seconds, and the device must reject none.
 *
 * Where locality_probe is negotiated too, nothing more is checked: where
 * the host placed the pages is judged on the two-node rig, not here.
 *
 * Runs as root in a guest with the module loaded; skips when there is no
 * device or first_touch is not negotiated, and fails when it is but the
 * hook is not active.
 */
#define _GNU_SOURCE

#include "numahint_sysfs.h"

#define NR_TESTS	3

#define CHILD_BYTES	(64ULL << 20)
/* One allocation per 4 KiB page: the child asks for no huge pages. */
#define WANT_EVENTS	(CHILD_BYTES >> 12)
/* Pages, in the 4 KiB units of touch_pages. */
#define WANT_PAGES	(CHILD_BYTES >> 12)
/* Time for the events to reach the device, beyond touch_flush_ms. */
#define SEND_LIMIT_S	10.0
#define POLL_S		0.05

static unsigned long long at_start[NR_STATS];

/* @now[@stat] minus its value at start. */
static unsigned long long delta(const unsigned long long *now,
				enum numahint_stat stat)
{
	return now[stat] - at_start[stat];
}

static void test_touch_recorded(void)
{
	static const char name[] =
		"64 MiB touched by a process are recorded as >= 16384 allocations";
	unsigned long long now[NR_STATS], events, dropped;

	ksft_print_msg("[RUN] %s\n", __func__);
	/* A THP would be one event for 512 pages; count pages instead. */
	if (numahint_touch_in_child(CHILD_BYTES, true, 0)) {
		ksft_test_result_fail(name);
		return;
	}
	if (numahint_read_stats(now)) {
		ksft_test_result_fail(name);
		return;
	}
	events = delta(now, STAT_TOUCH_EVENTS);
	dropped = delta(now, STAT_TOUCH_DROPPED);
	/* Other tasks allocate too: a lower bound is all we can say. */
	ksft_print_msg("touch_events +%llu, touch_dropped +%llu, want >= %llu together\n",
		       events, dropped, WANT_EVENTS);
	ksft_test_result(events + dropped >= WANT_EVENTS && events > 0, name);
}

/*
 * The pages the child touched went to the device in requests it accepted
 * in full.  Events dropped in a full buffer (one per page here) are not
 * sent; nor are the extents of a drain that found every request buffer
 * in flight, whose pages are not counted: then half the child's pages
 * must have gone through, which background allocations cannot make up.
 */
static void test_touch_accepted(void)
{
	static const char name[] =
		"the child's pages reach the device and are accepted within touch_flush_ms + 10 s";
	unsigned long long now[NR_STATS], flush_ms, want, accepted = 0;
	double start = numahint_now(), limit;

	ksft_print_msg("[RUN] %s\n", __func__);
	if (numahint_read_attr("touch_flush_ms", &flush_ms)) {
		ksft_test_result_fail(name);
		return;
	}
	limit = flush_ms / 1000.0 + SEND_LIMIT_S;
	for (;;) {
		if (numahint_read_stats(now)) {
			ksft_test_result_fail(name);
			return;
		}
		want = WANT_PAGES - delta(now, STAT_TOUCH_DROPPED);
		if (delta(now, STAT_TOUCH_UNSENT))
			want = WANT_PAGES / 2;
		accepted = delta(now, STAT_TOUCH_PAGES_ACCEPTED);
		if (accepted >= want || numahint_now() - start >= limit)
			break;
		numahint_sleep(POLL_S);
	}
	ksft_print_msg("after %.2f s: touch_requests +%llu, entries +%llu, pages +%llu\n",
		       numahint_now() - start, delta(now, STAT_TOUCH_REQUESTS),
		       delta(now, STAT_TOUCH_ENTRIES),
		       delta(now, STAT_TOUCH_PAGES));
	ksft_print_msg("touch_pages_accepted +%llu (want %llu), dropped +%llu, unsent +%llu\n",
		       accepted, want, delta(now, STAT_TOUCH_DROPPED),
		       delta(now, STAT_TOUCH_UNSENT));
	ksft_test_result(accepted >= want, name);
}

static void test_nothing_rejected(void)
{
	static const char name[] =
		"the device rejected no extent and answered every request";
	unsigned long long now[NR_STATS];

	ksft_print_msg("[RUN] %s\n", __func__);
	if (numahint_read_stats(now)) {
		ksft_test_result_fail(name);
		return;
	}
	ksft_print_msg("touch_rejected %llu, touch_unsupported %llu, resp_malformed +%llu\n",
		       now[STAT_TOUCH_REJECTED], now[STAT_TOUCH_UNSUPPORTED],
		       delta(now, STAT_RESP_MALFORMED));
	ksft_test_result(!now[STAT_TOUCH_REJECTED] &&
			 !now[STAT_TOUCH_UNSUPPORTED] &&
			 !delta(now, STAT_RESP_MALFORMED), name);
}

int main(void)
{
	unsigned long long active;
	const char *why;

	ksft_print_header();
	if (numahint_find_device(&why))
		ksft_exit_skip("%s\n", why);
	if (!numahint_has_feature(VIRTIO_NUMAHINT_F_FIRST_TOUCH))
		ksft_exit_skip("first_touch not negotiated\n");
	if (numahint_read_attr("touch_active", &active))
		ksft_exit_fail_msg("cannot read touch_active\n");
	/* The driver says why in the kernel log. */
	if (active != 1)
		ksft_exit_fail_msg("first_touch negotiated, hook off: touch_active 0\n");

	ksft_set_plan(NR_TESTS);
	if (numahint_read_stats(at_start))
		ksft_exit_fail_msg("cannot read the counters\n");

	test_touch_recorded();
	test_touch_accepted();
	test_nothing_rejected();
	ksft_finished();
}
