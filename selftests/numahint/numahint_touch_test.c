// SPDX-License-Identifier: GPL-2.0
/*
 * First-touch events end to end: a child process touches 64 MiB of
 * anonymous memory, 4 KiB page by 4 KiB page (no THP), and exits.  Every
 * page it faulted in is a user movable allocation, so the driver must
 * record at least one event per page (or count it dropped), send the
 * pages to the device within a few touch_flush_ms, and the device must
 * accept them: the pages sent, and the pages in requests the device
 * accepted in full, must both grow by the child's 64 MiB at least, which
 * the rest of an idle guest does not allocate in the test's seconds (a
 * request going out is not enough: background allocations alone make
 * some).  The device must reject none.
 *
 * Where locality_probe is negotiated too, nothing more is checked: where
 * the host placed the pages is judged on the two-node rig, not here.
 *
 * Runs as root in a guest with the module loaded; skips when there is no
 * device or first_touch is not negotiated, and fails when it is but the
 * hook is not active (touch_active 0: the driver says why in the kernel
 * log).
 */
#define _GNU_SOURCE

#include "numahint_sysfs.h"
#include "kselftest_harness.h"

#define CHILD_BYTES	(64ULL << 20)
/* One allocation per 4 KiB page: the child asks for no huge pages. */
#define WANT_EVENTS	(CHILD_BYTES >> 12)
/* Pages, in the 4 KiB units of touch_pages. */
#define WANT_PAGES	(CHILD_BYTES >> 12)
/* Time for the events to reach the device, beyond touch_flush_ms. */
#define SEND_LIMIT_S	10.0
#define POLL_S		0.05

FIXTURE(touch) {
	/* The counters before this test. */
	unsigned long long at_start[NR_STATS];
};

FIXTURE_SETUP(touch)
{
	const char *why;
	int usable;

	if (numahint_find_device(&why))
		SKIP(return, "%s", why);
	usable = numahint_touch_usable(&why);
	if (!usable)
		SKIP(return, "%s", why);
	/* Negotiated but not hooked is a broken driver, not a skip. */
	ASSERT_EQ(1, usable)
		TH_LOG("%s", why);
	ASSERT_EQ(0, numahint_read_stats(self->at_start));
}

FIXTURE_TEARDOWN(touch)
{
}

/* The growth of counter @stat from @start to @now. */
static unsigned long long delta(const unsigned long long *now,
				const unsigned long long *start,
				enum numahint_stat stat)
{
	return now[stat] - start[stat];
}

/* 64 MiB touched by a process are recorded as >= 16384 allocations. */
TEST_F(touch, own_allocations_recorded)
{
	const unsigned long long *at = self->at_start;
	unsigned long long now[NR_STATS], events, dropped;

	/* A THP would be one event for 512 pages; count pages instead. */
	ASSERT_EQ(0, numahint_touch_in_child(CHILD_BYTES, true, 0));
	ASSERT_EQ(0, numahint_read_stats(now));
	events = delta(now, at, STAT_TOUCH_EVENTS);
	dropped = delta(now, at, STAT_TOUCH_DROPPED);
	/* Other tasks allocate too: a lower bound is all we can say. */
	ksft_print_msg("touch_events +%llu, touch_dropped +%llu, want >= %llu together\n",
		       events, dropped, WANT_EVENTS);
	EXPECT_GE(events + dropped, WANT_EVENTS);
	EXPECT_LT(0ULL, events);
}

/*
 * The pages the child touched went to the device, and in requests it
 * accepted in full, within touch_flush_ms + 10 s; the device rejected no
 * extent and answered every request well-formed.  Events dropped in a
 * full buffer (one per page here) are not sent; nor are the extents of a
 * drain that found every request buffer in flight, whose pages are not
 * counted: then half the child's pages must have gone through, which
 * background allocations cannot make up, and never less.
 */
TEST_F_TIMEOUT(touch, own_pages_sent_accepted_none_rejected, 60)
{
	unsigned long long now[NR_STATS], flush_ms, want, sent, accepted;
	const unsigned long long *at = self->at_start;
	double start, limit;

	ASSERT_EQ(0, numahint_read_attr("touch_flush_ms", &flush_ms));
	ASSERT_EQ(0, numahint_touch_in_child(CHILD_BYTES, true, 0));
	start = numahint_now();
	limit = flush_ms / 1000.0 + SEND_LIMIT_S;
	for (;;) {
		ASSERT_EQ(0, numahint_read_stats(now));
		want = WANT_PAGES / 2;
		if (!delta(now, at, STAT_TOUCH_UNSENT) &&
		    delta(now, at, STAT_TOUCH_DROPPED) < WANT_PAGES / 2)
			want = WANT_PAGES - delta(now, at, STAT_TOUCH_DROPPED);
		sent = delta(now, at, STAT_TOUCH_PAGES);
		accepted = delta(now, at, STAT_TOUCH_PAGES_ACCEPTED);
		if ((sent >= want && accepted >= want) ||
		    numahint_now() - start >= limit)
			break;
		numahint_sleep(POLL_S);
	}
	ksft_print_msg("after %.2f s: touch_requests +%llu, entries +%llu, pages +%llu\n",
		       numahint_now() - start,
		       delta(now, at, STAT_TOUCH_REQUESTS),
		       delta(now, at, STAT_TOUCH_ENTRIES), sent);
	ksft_print_msg("touch_pages_accepted +%llu (want %llu), dropped +%llu, unsent +%llu\n",
		       accepted, want, delta(now, at, STAT_TOUCH_DROPPED),
		       delta(now, at, STAT_TOUCH_UNSENT));
	ksft_print_msg("touch_rejected +%llu, touch_unsupported +%llu, resp_malformed +%llu\n",
		       delta(now, at, STAT_TOUCH_REJECTED),
		       delta(now, at, STAT_TOUCH_UNSUPPORTED),
		       delta(now, at, STAT_RESP_MALFORMED));
	EXPECT_GE(sent, want);
	EXPECT_GE(accepted, want);
	EXPECT_LT(0ULL, delta(now, at, STAT_TOUCH_REQUESTS));
	EXPECT_EQ(0ULL, delta(now, at, STAT_TOUCH_REJECTED));
	EXPECT_EQ(0ULL, delta(now, at, STAT_TOUCH_UNSUPPORTED));
	EXPECT_EQ(0ULL, delta(now, at, STAT_RESP_MALFORMED));
}

TEST_HARNESS_MAIN
