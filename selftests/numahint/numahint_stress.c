// SPDX-License-Identifier: GPL-2.0
/*
 * Memory stays intact while free page reports run: allocate, write a
 * pattern, verify and free memory over and over, pausing between cycles so
 * that page reporting (which waits 2 s for freed memory to accumulate)
 * reports and discards freed pages while they are being reused.  A page
 * the host discarded while the guest still used it reads back as zeroes,
 * or as old data, and shows up as a mismatch.
 *
 * Three kinds of memory take turns: anonymous 4 KiB pages, transparent
 * huge pages, and page cache (files in /tmp, a tmpfs, each also read back
 * through a second open after other memory has been churned).
 *
 *   numahint_stress [-b BYTES] [-c BYTES]
 *     -b  total to cycle through (default 2G); K, M and G suffixes
 *     -c  size of one cycle (default 192M)
 *
 * Without the driver loaded it still checks the memory, for comparison,
 * and skips the check that reports happened.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "numahint_sysfs.h"

#define NR_TESTS	2

#define DEFAULT_TOTAL	(2ULL << 30)
/* Leaves room for two tmpfs files of this size in a 1 GiB guest. */
#define DEFAULT_CHUNK	(192ULL << 20)
#define HPAGE_SIZE	(2ULL << 20)
/* Between cycles: less than the 2 s reporting delay, so they overlap. */
#define PAUSE_S		1.0
/* File I/O buffer. */
#define IO_BYTES	(1024U * 1024)
/* Mismatches printed in detail; the rest are only counted. */
#define MAX_SHOWN	10

/* Per process: instances may run side by side. */
#define FILE_FMT	"/tmp/numahint_stress.%d.%u"

enum mem_kind {
	/* Anonymous memory in 4 KiB pages (MADV_NOHUGEPAGE). */
	KIND_ANON,
	/* Anonymous memory in transparent huge pages (MADV_HUGEPAGE). */
	KIND_THP,
	/* Page cache: a file in /tmp, written then read back. */
	KIND_FILE,
	KIND_MAX
};

static const char * const kind_names[KIND_MAX] = {
	[KIND_ANON]	= "anon 4k",
	[KIND_THP]	= "thp",
	[KIND_FILE]	= "page cache",
};

static long page_size;
/* Words that did not read back as written, over the whole run. */
static unsigned long long mismatches;

/* The pattern word @index of the page at @page_addr, in cycle @seed. */
static uint64_t pattern(uint64_t page_addr, uint64_t seed, uint64_t index)
{
	uint64_t x = (page_addr ^ (seed << 32)) * 0x9e3779b97f4a7c15ULL;

	return (x ^ (x >> 29)) + index * 0xbf58476d1ce4e5b9ULL;
}

/* Fill @len bytes at @mem with the pattern of addresses @addr onwards. */
static void fill(uint64_t *mem, uint64_t addr, size_t len, uint64_t seed)
{
	size_t words = page_size / sizeof(*mem);
	size_t off, i;

	for (off = 0; off < len; off += page_size, mem += words)
		for (i = 0; i < words; i++)
			mem[i] = pattern(addr + off, seed, i);
}

/* Check @len bytes at @mem against fill(); count and show mismatches. */
static void verify(const uint64_t *mem, uint64_t addr, size_t len,
		   uint64_t seed, const char *what)
{
	size_t words = page_size / sizeof(*mem);
	size_t off, i;
	uint64_t want;

	for (off = 0; off < len; off += page_size, mem += words) {
		for (i = 0; i < words; i++) {
			want = pattern(addr + off, seed, i);
			if (mem[i] == want)
				continue;
			if (mismatches++ < MAX_SHOWN)
				ksft_print_msg("MISMATCH %s at %#llx+%zu: %#llx, want %#llx\n",
					       what,
					       (unsigned long long)(addr + off),
					       i * sizeof(*mem),
					       (unsigned long long)mem[i],
					       (unsigned long long)want);
		}
	}
}

static bool cycle_anon(size_t len, uint64_t seed, bool huge)
{
	size_t map_len = len + (huge ? HPAGE_SIZE : 0);
	char *map, *mem;

	map = mmap(NULL, map_len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED) {
		ksft_print_msg("mmap %zu MiB: %s\n", map_len >> 20,
			       strerror(errno));
		return false;
	}
	mem = map;
	if (huge)
		mem = (char *)(((uintptr_t)map + HPAGE_SIZE - 1) &
			       ~(uintptr_t)(HPAGE_SIZE - 1));
	if (madvise(mem, len, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE))
		ksft_print_msg("madvise: %s (going on)\n", strerror(errno));

	fill((uint64_t *)mem, (uintptr_t)mem, len, seed);
	verify((uint64_t *)mem, (uintptr_t)mem, len, seed,
	       huge ? "thp" : "anon");
	munmap(map, map_len);
	return true;
}

/* Write @len bytes of pattern to file @nr; file offsets are the addresses. */
static bool write_file(unsigned int nr, size_t len, uint64_t seed,
		       uint64_t *buf)
{
	char path[64];
	size_t off;
	int fd;

	snprintf(path, sizeof(path), FILE_FMT, (int)getpid(), nr);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		ksft_print_msg("open %s: %s\n", path, strerror(errno));
		return false;
	}
	for (off = 0; off < len; off += IO_BYTES) {
		size_t n = len - off < IO_BYTES ? len - off : IO_BYTES;

		fill(buf, off, n, seed);
		if (write(fd, buf, n) != (ssize_t)n) {
			ksft_print_msg("write %s: %s\n", path, strerror(errno));
			close(fd);
			return false;
		}
	}
	close(fd);
	return true;
}

/* Read file @nr back through a new open and verify it. */
static bool verify_file(unsigned int nr, size_t len, uint64_t seed,
			uint64_t *buf)
{
	char path[64];
	size_t off;
	int fd;

	snprintf(path, sizeof(path), FILE_FMT, (int)getpid(), nr);
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		ksft_print_msg("open %s: %s\n", path, strerror(errno));
		return false;
	}
	for (off = 0; off < len; off += IO_BYTES) {
		size_t n = len - off < IO_BYTES ? len - off : IO_BYTES;

		if (read(fd, buf, n) != (ssize_t)n) {
			ksft_print_msg("read %s: %s\n", path, strerror(errno));
			close(fd);
			return false;
		}
		verify(buf, off, n, seed, path);
	}
	close(fd);
	return true;
}

static void remove_file(unsigned int nr)
{
	char path[64];

	snprintf(path, sizeof(path), FILE_FMT, (int)getpid(), nr);
	unlink(path);
}

/* A file cycle and the one before it, still in the page cache. */
struct file_state {
	/* Number of the previous file, if have_prev. */
	unsigned int prev;
	size_t prev_len;
	uint64_t prev_seed;
	bool have_prev;
};

/*
 * Write file @nr and read it back; then read the previous file, written
 * a few cycles ago, through a second open, and drop it.
 */
static bool cycle_file(struct file_state *fs, unsigned int nr, size_t len,
		       uint64_t seed, uint64_t *buf)
{
	bool ok = write_file(nr, len, seed, buf) &&
		  verify_file(nr, len, seed, buf);

	if (fs->have_prev) {
		ok &= verify_file(fs->prev, fs->prev_len, fs->prev_seed, buf);
		remove_file(fs->prev);
	}
	fs->prev = nr;
	fs->prev_len = len;
	fs->prev_seed = seed;
	fs->have_prev = true;
	return ok;
}

static void print_usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-b BYTES] [-c BYTES]\n", prog);
	exit(KSFT_FAIL);
}

int main(int argc, char **argv)
{
	unsigned long long total = DEFAULT_TOTAL, chunk = DEFAULT_CHUNK;
	unsigned long long done = 0, req_start = 0, req_end = 0;
	unsigned long long bytes_start = 0, bytes_end = 0;
	unsigned long long per_kind[KIND_MAX] = { 0 };
	struct file_state fs = { 0 };
	const char *why = NULL;
	bool counted, ok = true;
	unsigned int cycle;
	double start;
	uint64_t *buf;
	char name[128];
	int opt;

	while ((opt = getopt(argc, argv, "b:c:")) != -1) {
		switch (opt) {
		case 'b':
			total = numahint_parse_size(optarg);
			break;
		case 'c':
			chunk = numahint_parse_size(optarg);
			break;
		default:
			print_usage(argv[0]);
		}
	}
	page_size = sysconf(_SC_PAGESIZE);
	if (!total || !chunk || chunk % page_size)
		print_usage(argv[0]);

	ksft_print_header();
	ksft_set_plan(NR_TESTS);

	/* Without the driver this is the comparison run. */
	if (!numahint_find_device(&why))
		why = numahint_report_unusable();
	counted = !why && !numahint_read_attr("report_requests", &req_start) &&
		  !numahint_read_attr("report_bytes", &bytes_start);
	ksft_print_msg("%llu MiB in cycles of %llu MiB; free page reports %s%s\n",
		       total >> 20, chunk >> 20, why ? "not counted: " : "counted",
		       why ? why : "");

	buf = malloc(IO_BYTES);
	if (!buf)
		ksft_exit_fail_msg("out of memory\n");

	start = numahint_now();
	for (cycle = 0; done < total; cycle++) {
		enum mem_kind kind = cycle % KIND_MAX;
		size_t len = total - done < chunk ? total - done : chunk;
		uint64_t seed = ((uint64_t)getpid() << 16) ^ cycle;

		len = (len + page_size - 1) / page_size * page_size;
		switch (kind) {
		case KIND_ANON:
			ok &= cycle_anon(len, seed, false);
			break;
		case KIND_THP:
			ok &= cycle_anon(len, seed, true);
			break;
		default:
			ok &= cycle_file(&fs, cycle, len, seed, buf);
			break;
		}
		done += len;
		per_kind[kind] += len;
		numahint_sleep(PAUSE_S);
	}
	if (fs.have_prev) {
		ok &= verify_file(fs.prev, fs.prev_len, fs.prev_seed, buf);
		remove_file(fs.prev);
	}
	free(buf);

	ksft_print_msg("%u cycles in %.1f s: %llu MiB %s, %llu MiB %s, %llu MiB %s\n",
		       cycle, numahint_now() - start,
		       per_kind[KIND_ANON] >> 20, kind_names[KIND_ANON],
		       per_kind[KIND_THP] >> 20, kind_names[KIND_THP],
		       per_kind[KIND_FILE] >> 20, kind_names[KIND_FILE]);
	ksft_print_msg("mismatches: %llu\n", mismatches);
	snprintf(name, sizeof(name),
		 "no mismatch in %llu MiB of allocate/write/verify/free cycles",
		 done >> 20);
	ksft_test_result(ok && !mismatches, "%s\n", name);

	if (!counted) {
		ksft_test_result_skip("free page reports happened during the run: %s\n",
				      why ? why : "cannot read counters");
		ksft_finished();
	}
	if (numahint_read_attr("report_requests", &req_end) ||
	    numahint_read_attr("report_bytes", &bytes_end)) {
		ksft_test_result_fail("free page reports happened during the run\n");
		ksft_finished();
	}
	ksft_print_msg("free page reports during the run: %llu requests, %llu MiB\n",
		       req_end - req_start, (bytes_end - bytes_start) >> 20);
	ksft_test_result(req_end > req_start,
			 "free page reports happened during the run\n");
	ksft_finished();
}
