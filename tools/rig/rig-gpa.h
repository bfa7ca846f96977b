/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The rig's list of guest frames, as rig-touch and rig-run print it and
 * rig-placement reads it: "RIG-GPA NAME PFN+COUNT ..." lines (hex, sorted,
 * run-length encoded, 8 runs a line), then "RIG-GPA-END NAME ranges=R
 * pages=N".
 */
#ifndef RIG_GPA_H
#define RIG_GPA_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define RIG_PM_PRESENT (1ULL << 63)
#define RIG_PM_PFN_MASK ((1ULL << 55) - 1)
#define RIG_RANGES_PER_LINE 8

static inline int rig_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Print the frames in @sorted (ascending) as RIG-GPA lines. */
static inline void rig_print_ranges(const char *name, const uint64_t *sorted,
				    size_t n)
{
	size_t i = 0, ranges = 0;
	int on_line = 0;

	while (i < n) {
		size_t j = i + 1;

		while (j < n && sorted[j] == sorted[j - 1] + 1)
			j++;
		if (!on_line)
			printf("RIG-GPA %s", name);
		printf(" %llx+%zx", (unsigned long long)sorted[i], j - i);
		if (++on_line == RIG_RANGES_PER_LINE) {
			printf("\n");
			on_line = 0;
		}
		ranges++;
		i = j;
	}
	if (on_line)
		printf("\n");
	printf("RIG-GPA-END %s ranges=%zu pages=%zu\n", name, ranges, n);
}

#endif
