// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * rig-collapse PID HVA SIZE: collapse the 4 KiB-mapped ranges of another
 * process's memory into transparent huge pages, as khugepaged would, but
 * now: process_madvise(MADV_COLLAPSE) (Linux 6.1 and later).  The kernel
 * runs khugepaged's own collapse (collapse_huge_page()), on the node that
 * holds most of each range's pages, without waiting for khugepaged's scan.
 * The rig's collapse variant uses it on the inner QEMU's guest RAM, after
 * the engine split pages there, to check that the engine puts the parts
 * back.  Prints the result; exits 0 unless the call could not be made.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open	434
#endif
#define HUGE	(2UL << 20)

#ifndef SYS_process_madvise
#define SYS_process_madvise	440
#endif

int main(int argc, char **argv)
{
	unsigned long done = 0, failed[4] = { 0 };
	uintptr_t hva, end;
	long pidfd;

	if (argc != 4) {
		fprintf(stderr, "usage: rig-collapse PID HVA SIZE\n");
		return 2;
	}
	hva = strtoull(argv[2], NULL, 0);
	end = hva + strtoull(argv[3], NULL, 0);
	pidfd = syscall(SYS_pidfd_open, atoi(argv[1]), 0);
	if (pidfd < 0) {
		printf("RIG-FAIL rig-collapse: pidfd_open: %s\n", strerror(errno));
		return 1;
	}
	/*
	 * One call per 2 MiB, to count what became of each: a range with
	 * nothing mapped says EINVAL, one already huge succeeds.
	 */
	for (; hva < end; hva += HUGE) {
		struct iovec iov = { .iov_base = (void *)hva, .iov_len = HUGE };

		if (syscall(SYS_process_madvise, pidfd, &iov, 1UL, MADV_COLLAPSE,
			    0U) >= 0) {
			done++;
			continue;
		}
		switch (errno) {
		case EINVAL:
			failed[0]++;
			break;
		case EAGAIN:
			failed[1]++;
			break;
		case ENOMEM:
			failed[2]++;
			break;
		default:
			printf("RIG-FAIL rig-collapse at %#lx: %s\n",
			       (unsigned long)hva, strerror(errno));
			return 1;
		}
	}
	printf("RIG-OUTER collapse: %lu huge, %lu EINVAL (nothing to "
	       "collapse), %lu EAGAIN, %lu ENOMEM\n", done, failed[0],
	       failed[1], failed[2]);
	return 0;
}
