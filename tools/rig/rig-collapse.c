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
#ifndef SYS_process_madvise
#define SYS_process_madvise	440
#endif

int main(int argc, char **argv)
{
	struct iovec iov;
	long pidfd, ret;

	if (argc != 4) {
		fprintf(stderr, "usage: rig-collapse PID HVA SIZE\n");
		return 2;
	}
	iov.iov_base = (void *)(uintptr_t)strtoull(argv[2], NULL, 0);
	iov.iov_len = strtoull(argv[3], NULL, 0);
	pidfd = syscall(SYS_pidfd_open, atoi(argv[1]), 0);
	if (pidfd < 0) {
		printf("RIG-FAIL rig-collapse: pidfd_open: %s\n", strerror(errno));
		return 1;
	}
	/*
	 * It goes on over the whole range and says the last error, if any:
	 * ranges it cannot collapse (EINVAL, EAGAIN) are expected.
	 */
	ret = syscall(SYS_process_madvise, pidfd, &iov, 1UL, MADV_COLLAPSE, 0U);
	printf("RIG-OUTER collapse %s+%s: %s\n", argv[2], argv[3],
	       ret < 0 ? strerror(errno) : "done");
	return ret < 0 && (errno == ENOSYS || errno == EPERM ||
			   errno == ESRCH) ? 1 : 0;
}
