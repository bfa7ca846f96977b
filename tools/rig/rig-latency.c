// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * rig-latency: timer wakeup latency, as the inner guest sees it.
 *
 *   rig-latency SECONDS [NAME]
 *
 * Sleeps 1 ms (clock_nanosleep, CLOCK_MONOTONIC) over and over for
 * SECONDS seconds, as a real-time task (SCHED_FIFO 50, memory locked, so
 * that the guest's own scheduler adds nothing when it shares its CPU with
 * a busy task), and times how late each wakeup comes.  A wakeup needs the
 * guest's timer interrupt, which the virtual machine monitor delivers:
 * under QEMU, through code that takes the big QEMU lock, so its lateness
 * shows how long the main loop keeps that lock.  Prints one line:
 *   RIG-LATENCY name=NAME n=N p50_us=A p99_us=B max_us=C fifo=F
 * (F: 1 if it ran as a real-time task).
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#define SLEEP_NS 1000000L
#define MAX_SAMPLES (1 << 20)

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct sched_param param = { .sched_priority = 50 };
	struct timespec sleep = { 0, SLEEP_NS };
	double seconds, end, *late;
	const char *name;
	int fifo, n = 0;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: rig-latency SECONDS [NAME]\n");
		return 2;
	}
	seconds = atof(argv[1]);
	name = argc == 3 ? argv[2] : "-";
	late = calloc(MAX_SAMPLES, sizeof(*late));
	if (!late)
		return 1;
	fifo = !sched_setscheduler(0, SCHED_FIFO, &param);
	mlockall(MCL_CURRENT | MCL_FUTURE);
	end = now_us() + seconds * 1e6;
	while (n < MAX_SAMPLES) {
		double t = now_us();

		if (t >= end)
			break;
		clock_nanosleep(CLOCK_MONOTONIC, 0, &sleep, NULL);
		late[n++] = now_us() - t - SLEEP_NS / 1e3;
	}
	if (!n)
		return 1;
	qsort(late, n, sizeof(*late), cmp);
	printf("RIG-LATENCY name=%s n=%d p50_us=%.0f p99_us=%.0f max_us=%.0f "
	       "fifo=%d\n", name, n, late[n / 2], late[(n * 99L) / 100],
	       late[n - 1], fifo);
	return 0;
}
