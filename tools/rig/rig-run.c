// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * rig-run: one run of a workload in the rig's inner guest, measured.
 *
 *   rig-run [--name NAME] [--sample-after SEC] [--ready]
 *           [--exit-hold SEC] -- COMMAND [ARG...]
 *
 * Runs COMMAND under ptrace (PTRACE_O_TRACEEXIT), waits for it and prints
 *   RIG-RUN-RESULT name=NAME exit=E signal=S wall=SEC minflt=N majflt=N
 *                  utime=SEC stime=SEC samples=K
 * (guest page faults and CPU time of COMMAND and its children, from
 * wait4()).  With --sample-after SEC it samples COMMAND's working set,
 * the guest frames behind its private writable mappings (heap, data,
 * anonymous memory) read from /proc/PID/pagemap:
 *   - kind=periodic: at SEC, 2 SEC, 4 SEC, 8 SEC... of the run, while it
 *     runs (locality over the run's time, in a bounded number of samples);
 *   - kind=ready: with --ready, COMMAND says when its data is set up:
 *     rig-run runs it with NH_READY=stop in its environment, and COMMAND
 *     (one of the workloads of experiments/workloads) stops itself with
 *     SIGSTOP then; rig-run samples it and continues it;
 *   - kind=exit: when COMMAND's main thread exits (the ptrace exit stop,
 *     before the kernel takes its memory away), the whole working set it
 *     still holds; COMMAND stays stopped --exit-hold seconds (default 2)
 *     after the sample is printed, so that the host reads the placement
 *     of those pages before the guest frees (and a free page report may
 *     discard) them.
 * Each sample is printed as RIG-GPA NAME lines (rig-gpa.h), then
 *   RIG-RUN-SAMPLE name=NAME kind=K at=SEC pages=N faults=F
 * (F: COMMAND's page faults so far, all its threads, /proc/PID/stat), so
 * that the host can read their placement.  Pauses (ready, exit hold) are
 * left out of wall=.  Signals COMMAND gets are passed on to it, but for
 * stop signals, which would hang the run (SIGSTOP is --ready's).  A
 * process whose main thread is killed by another thread's exit (or by
 * SIGKILL) has no exit sample.
 * Runs as root (frame numbers in pagemap).  Exit status: COMMAND's, or 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rig-gpa.h"

#define PAGE 4096ULL
/* How often to look for the next periodic sample. */
#define POLL_NS (50 * 1000 * 1000)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* @pid's page faults so far (minflt + majflt of all its threads), or -1. */
static long faults(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long minflt, majflt;
	ssize_t got;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	got = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (got <= 0)
		return -1;
	buf[got] = 0;
	/* After "(comm)": state ppid pgrp session tty tpgid flags minflt
	 * cminflt majflt. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %lu %*u %lu",
			 &minflt, &majflt) != 2)
		return -1;
	return (long)(minflt + majflt);
}

static double tv_s(struct timeval tv)
{
	return tv.tv_sec + tv.tv_usec / 1e6;
}

/* The frames behind @pid's private writable mappings, sorted. */
static uint64_t *working_set(pid_t pid, size_t *count)
{
	char path[64], line[512];
	uint64_t *frames = NULL, *buf;
	size_t n = 0, cap = 0;
	FILE *maps;
	int pm;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	maps = fopen(path, "r");
	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	pm = open(path, O_RDONLY);
	if (!maps || pm < 0) {
		if (maps)
			fclose(maps);
		if (pm >= 0)
			close(pm);
		return NULL;
	}
	while (fgets(line, sizeof(line), maps)) {
		unsigned long long start, end, va;
		char perms[8];

		if (sscanf(line, "%llx-%llx %7s", &start, &end, perms) != 3 ||
		    perms[1] != 'w' || perms[3] != 'p' || strstr(line, "[v"))
			continue;
		for (va = start; va < end; va += 512 * PAGE) {
			size_t pages = (end - va) / PAGE, i, base;
			ssize_t got;

			if (pages > 512)
				pages = 512;
			if (n + pages > cap) {
				cap = 2 * (n + pages);
				buf = realloc(frames, cap * sizeof(*frames));
				if (!buf) {
					free(frames);
					fclose(maps);
					close(pm);
					return NULL;
				}
				frames = buf;
			}
			got = pread(pm, frames + n, pages * 8, va / PAGE * 8);
			if (got <= 0)
				break;
			/* Keep the present ones, packed from frames[n] on. */
			for (i = 0, base = n; i < (size_t)got / 8; i++) {
				uint64_t e = frames[base + i];

				if (e & RIG_PM_PRESENT)
					frames[n++] = e & RIG_PM_PFN_MASK;
			}
		}
	}
	fclose(maps);
	close(pm);
	if (frames)
		qsort(frames, n, sizeof(*frames), rig_cmp_u64);
	*count = n;
	return frames;
}

/* Print @pid's working set for the host, as RIG-GPA lines; 1 if done. */
static int sample(const char *name, pid_t pid, const char *kind, double at)
{
	long so_far = faults(pid);
	size_t n = SIZE_MAX;
	uint64_t *frames = working_set(pid, &n);

	/* Only a working set that could not be read leaves n alone. */
	if (n == SIZE_MAX)
		return 0;
	rig_print_ranges(name, frames, n);
	printf("RIG-RUN-SAMPLE name=%s kind=%s at=%.2f pages=%zu faults=%ld\n",
	       name, kind, at, n, so_far);
	free(frames);
	return 1;
}

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int main(int argc, char **argv)
{
	double sample_after = -1, exit_hold = 2, start, stopped, paused = 0;
	double next_sample;
	const char *name = "run";
	int status, i, ready = 0, ready_seen = 0, samples = 0, sig;
	int traced = 0;
	struct rusage ru;
	pid_t pid, got;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "--name") && i + 1 < argc)
			name = argv[++i];
		else if (!strcmp(argv[i], "--sample-after") && i + 1 < argc)
			sample_after = atof(argv[++i]);
		else if (!strcmp(argv[i], "--exit-hold") && i + 1 < argc)
			exit_hold = atof(argv[++i]);
		else if (!strcmp(argv[i], "--ready"))
			ready = 1;
		else
			break;
	}
	if (i + 1 >= argc || strcmp(argv[i], "--") ||
	    (ready && sample_after < 0) || exit_hold < 0) {
		fprintf(stderr, "usage: rig-run [--name NAME] "
			"[--sample-after SEC] [--ready] [--exit-hold SEC] "
			"-- COMMAND [ARG...]\n");
		return 2;
	}
	/* The first periodic sample; a zero interval would never end. */
	if (sample_after >= 0 && sample_after < 0.1)
		sample_after = 0.1;
	next_sample = sample_after;

	start = now();
	pid = fork();
	if (pid < 0) {
		perror("rig-run: fork");
		return 1;
	}
	if (!pid) {
		if (ready)
			setenv("NH_READY", "stop", 1);
		/* Stops with SIGTRAP after the exec, for the options below. */
		if (sample_after >= 0 && ptrace(PTRACE_TRACEME, 0, NULL, NULL)) {
			perror("rig-run: ptrace(PTRACE_TRACEME)");
			_exit(127);
		}
		execvp(argv[i + 1], argv + i + 1);
		fprintf(stderr, "rig-run: %s: %s\n", argv[i + 1],
			strerror(errno));
		_exit(127);
	}

	for (;;) {
		/* No periodic sample to take (none wanted, or after the
		 * exit sample): wait. */
		got = wait4(pid, &status, next_sample < 0 ? 0 : WNOHANG, &ru);
		if (got < 0 && errno != EINTR) {
			perror("rig-run: wait4");
			return 1;
		}
		if (got == pid && !WIFSTOPPED(status))
			break;
		if (got == pid &&
		    status >> 8 == (SIGTRAP | (PTRACE_EVENT_EXIT << 8))) {
			/* The main thread exits: its memory is still there. */
			stopped = now();
			samples += sample(name, pid, "exit",
					  stopped - paused - start);
			sleep_s(exit_hold);
			paused += now() - stopped;
			next_sample = -1;
			ptrace(PTRACE_CONT, pid, NULL, NULL);
			continue;
		}
		if (got == pid) {
			/* A signal for the workload (ptrace's signal stop). */
			sig = WSTOPSIG(status);
			if (sig == SIGTRAP && !traced) {
				/* The stop after exec: trace its exit. */
				traced = 1;
				if (ptrace(PTRACE_SETOPTIONS, pid, NULL,
					   PTRACE_O_TRACEEXIT |
					   PTRACE_O_EXITKILL)) {
					perror("rig-run: PTRACE_SETOPTIONS");
					kill(pid, SIGKILL);
				}
				sig = 0;
			} else if (sig == SIGSTOP && ready && !ready_seen) {
				/* Its working set is set up (nh_ready()). */
				stopped = now();
				samples += sample(name, pid, "ready",
						  stopped - paused - start);
				ready_seen = 1;
				paused += now() - stopped;
				sig = 0;
			} else if (sig == SIGSTOP || sig == SIGTSTP ||
				   sig == SIGTTIN || sig == SIGTTOU) {
				sig = 0;
			}
			ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig);
			continue;
		}
		if (next_sample < 0)
			continue;
		if (now() - paused - start >= next_sample) {
			samples += sample(name, pid, "periodic",
					  now() - paused - start);
			next_sample *= 2;
			continue;
		}
		sleep_s(POLL_NS / 1e9);
	}
	printf("RIG-RUN-RESULT name=%s exit=%d signal=%d wall=%.3f minflt=%ld majflt=%ld utime=%.3f stime=%.3f samples=%d\n",
	       name, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
	       WIFSIGNALED(status) ? WTERMSIG(status) : 0,
	       now() - start - paused,
	       ru.ru_minflt, ru.ru_majflt, tv_s(ru.ru_utime),
	       tv_s(ru.ru_stime), samples);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
