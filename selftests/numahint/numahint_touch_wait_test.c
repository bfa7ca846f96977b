// SPDX-License-Identifier: GPL-2.0
/*
 * How long first-touch events wait in the guest: the driver's touch_sent_*
 * histogram.  Its nine buckets count the pages of touch_pages again, by
 * an upper bound of the time each waited between its allocation and its
 * request going to the device, so they must add up to touch_pages, and
 * touch_sent_max_ms, the longest of those times, is in the last bucket
 * that holds a page; and a
 * short burst, which fills no buffer, goes out when its drain is due, so
 * within touch_flush_ms plus the drain's own delay: with the default
 * 100 ms, nothing of it may be counted beyond the 100-200 ms bucket (a
 * clock that is read at the wrong moment, or a buffer's time that is
 * never renewed, puts it there).
 *
 * Runs as root in a guest with the module loaded; skips when there is no
 * device or first_touch is not negotiated, and fails when it is but the
 * hook is not active.
 */
#define _GNU_SOURCE

#include "numahint_sysfs.h"
#include "kselftest_harness.h"

/* The histogram, in the order of the driver's list. */
#define FIRST_BUCKET	STAT_TOUCH_SENT_10MS
#define NR_BUCKETS	(STAT_TOUCH_SENT_LATER - STAT_TOUCH_SENT_10MS + 1)

/*
 * A short burst: 2 MiB in 4 KiB pages, one allocation each, in well under
 * touch_flush_ms and in fewer extents than fill a CPU's buffer.
 */
#define BURST_BYTES	(2ULL << 20)
#define BURST_PAGES	(BURST_BYTES >> 12)
/* Time for the burst to reach the device, beyond touch_flush_ms. */
#define SEND_LIMIT_S	10.0
/* How long to look for two equal readings of the counters. */
#define STABLE_LIMIT_S	10.0
#define POLL_S		0.02

FIXTURE(wait) {
	/* The counters before this test. */
	unsigned long long at_start[NR_STATS];
	/* touch_flush_ms in use. */
	unsigned long long flush_ms;
};

/*
 * The counters at a moment when no drain was between counting a request's
 * pages in touch_pages and in the histogram: two readings in a row that
 * agree on both.  Returns -1 if none came within STABLE_LIMIT_S.
 */
static int read_settled(unsigned long long *val)
{
	unsigned long long again[NR_STATS];
	double start = numahint_now();
	int i;

	if (numahint_read_stats(val))
		return -1;
	while (numahint_now() - start < STABLE_LIMIT_S) {
		numahint_sleep(POLL_S);
		if (numahint_read_stats(again))
			return -1;
		for (i = STAT_TOUCH_PAGES; i < FIRST_BUCKET + NR_BUCKETS; i++)
			if (again[i] != val[i])
				break;
		if (i == FIRST_BUCKET + NR_BUCKETS)
			return 0;
		memcpy(val, again, sizeof(again));
	}
	ksft_print_msg("the counters kept changing for %.0f s\n",
		       STABLE_LIMIT_S);
	return -1;
}

/*
 * The upper edge of bucket @i in ms, read from its name in the driver's
 * list (touch_sent_200ms, touch_sent_1s); 0 for touch_sent_later.
 */
static unsigned long long bucket_edge_ms(int i)
{
	const char *name = numahint_stat_name(FIRST_BUCKET + i) +
			   strlen("touch_sent_");
	unsigned long long val;
	char *unit;

	val = strtoull(name, &unit, 10);
	return strcmp(unit, "s") ? val : val * 1000;
}

/* The sum of the histogram's buckets in @val. */
static unsigned long long bucket_sum(const unsigned long long *val)
{
	unsigned long long sum = 0;
	int i;

	for (i = 0; i < NR_BUCKETS; i++)
		sum += val[FIRST_BUCKET + i];
	return sum;
}

/*
 * Touch BURST_BYTES in a child and wait until the pages it allocated went
 * to the device (less those dropped in a full buffer), at most
 * touch_flush_ms + SEND_LIMIT_S; then read the counters settled into
 * @now.  Returns 0, or -1 if the pages did not go out.
 */
static int burst_sent(const unsigned long long *at, unsigned long long flush_ms,
		      unsigned long long *now)
{
	double start, limit = flush_ms / 1000.0 + SEND_LIMIT_S;
	unsigned long long want;

	if (numahint_touch_in_child(BURST_BYTES, true, 0))
		return -1;
	start = numahint_now();
	for (;;) {
		if (numahint_read_stats(now))
			return -1;
		want = BURST_PAGES / 2;
		if (now[STAT_TOUCH_DROPPED] - at[STAT_TOUCH_DROPPED] <
		    BURST_PAGES / 2)
			want = BURST_PAGES - (now[STAT_TOUCH_DROPPED] -
					      at[STAT_TOUCH_DROPPED]);
		if (now[STAT_TOUCH_PAGES] - at[STAT_TOUCH_PAGES] >= want)
			break;
		if (numahint_now() - start >= limit) {
			ksft_print_msg("touch_pages +%llu after %.1f s, want %llu\n",
				       now[STAT_TOUCH_PAGES] -
				       at[STAT_TOUCH_PAGES], limit, want);
			return -1;
		}
		numahint_sleep(POLL_S);
	}
	return read_settled(now);
}

/* Print the histogram's growth from @at to @now, and the pages sent. */
static void print_buckets(const unsigned long long *at,
			  const unsigned long long *now)
{
	char line[256];
	int i, len = 0;

	for (i = 0; i < NR_BUCKETS; i++)
		len += snprintf(line + len, sizeof(line) - len, " %s +%llu",
				numahint_stat_name(FIRST_BUCKET + i) +
				strlen("touch_sent_"),
				now[FIRST_BUCKET + i] - at[FIRST_BUCKET + i]);
	ksft_print_msg("touch_pages +%llu, by wait:%s\n",
		       now[STAT_TOUCH_PAGES] - at[STAT_TOUCH_PAGES], line);
}

FIXTURE_SETUP(wait)
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
	ASSERT_EQ(0, numahint_read_attr("touch_flush_ms", &self->flush_ms));
	ASSERT_EQ(0, read_settled(self->at_start));
}

FIXTURE_TEARDOWN(wait)
{
}

/*
 * Every page sent is in one bucket: the buckets add up to touch_pages,
 * since the driver bound the device and over a burst of this test's own.
 */
TEST_F_TIMEOUT(wait, buckets_add_up_to_pages_sent, 60)
{
	const unsigned long long *at = self->at_start;
	unsigned long long now[NR_STATS];

	ksft_print_msg("since bind: touch_pages %llu, buckets' sum %llu\n",
		       at[STAT_TOUCH_PAGES], bucket_sum(at));
	EXPECT_EQ(at[STAT_TOUCH_PAGES], bucket_sum(at));

	ASSERT_EQ(0, burst_sent(at, self->flush_ms, now));
	print_buckets(at, now);
	EXPECT_EQ(now[STAT_TOUCH_PAGES], bucket_sum(now));
	EXPECT_EQ(now[STAT_TOUCH_PAGES] - at[STAT_TOUCH_PAGES],
		  bucket_sum(now) - bucket_sum(at));
	EXPECT_LE(BURST_PAGES / 2, bucket_sum(now) - bucket_sum(at));
}

/*
 * A short burst waits for its drain, due touch_flush_ms after the first
 * event of an empty buffer (sooner if one is due already), and no longer
 * but for the drain's own delay: allow as much again.  Every page sent
 * meanwhile, the burst's and any other task's, must be counted in a
 * bucket that starts below 2 x touch_flush_ms: with 100 ms, at most in
 * 100-200 ms.
 */
TEST_F_TIMEOUT(wait, burst_waits_no_longer_than_flush, 60)
{
	const unsigned long long *at = self->at_start;
	unsigned long long now[NR_STATS], late = 0;
	int i, first_late;

	/* The first bucket whose lower edge is 2 x touch_flush_ms or more. */
	for (first_late = 1; first_late < NR_BUCKETS; first_late++)
		if (bucket_edge_ms(first_late - 1) >= 2 * self->flush_ms)
			break;
	if (first_late == NR_BUCKETS)
		SKIP(return, "touch_flush_ms %llu: every bucket is allowed",
		     self->flush_ms);

	ASSERT_EQ(0, burst_sent(at, self->flush_ms, now));
	print_buckets(at, now);
	for (i = first_late; i < NR_BUCKETS; i++)
		late += now[FIRST_BUCKET + i] - at[FIRST_BUCKET + i];
	ksft_print_msg("touch_flush_ms %llu: pages counted from the %s bucket on: %llu\n",
		       self->flush_ms,
		       numahint_stat_name(FIRST_BUCKET + first_late), late);
	EXPECT_EQ(0ULL, late);
	EXPECT_LE(BURST_PAGES / 2, bucket_sum(now) - bucket_sum(at));
}

/*
 * touch_sent_max_ms is the longest wait counted: within the edges of the
 * last bucket that holds a page, since the driver bound the device.
 */
TEST_F_TIMEOUT(wait, max_is_in_the_last_bucket, 60)
{
	unsigned long long now[NR_STATS], max_ms, lower;
	int last;

	ASSERT_EQ(0, burst_sent(self->at_start, self->flush_ms, now));
	for (last = NR_BUCKETS - 1; last > 0; last--)
		if (now[FIRST_BUCKET + last])
			break;
	ASSERT_NE(0ULL, now[FIRST_BUCKET + last]);
	max_ms = now[STAT_TOUCH_SENT_MAX_MS];
	lower = last ? bucket_edge_ms(last - 1) : 0;
	ksft_print_msg("touch_sent_max_ms %llu, last bucket %s\n", max_ms,
		       numahint_stat_name(FIRST_BUCKET + last));
	if (last)
		EXPECT_LT(lower, max_ms);
	if (last < NR_BUCKETS - 1)
		EXPECT_GE(bucket_edge_ms(last), max_ms);
}

TEST_HARNESS_MAIN
