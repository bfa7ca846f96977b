/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the three workload kernels share: option parsing, anonymous
 * mappings, the clock, the hash that makes their inputs, and the one
 * NH-RESULT line each prints at the end.  See README.md.
 */
#ifndef NH_COMMON_H
#define NH_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <omp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define NH_DEFAULT_MIB	256UL
#define NH_MAX_MIB	(16UL << 20)	/* 16 TiB */
#define NH_MAX_ITERS	1000000000UL
#define NH_MAX_THREADS	4096UL

struct nh_opts {
	const char *kernel;
	unsigned long mib;
	unsigned long iters;
	unsigned long threads;		/* 0: the OpenMP default */
	int quiet;
	int hugepage;
};

struct nh_times {
	double init_s;
	double compute_s;
	double iter_min_s;
	double iter_max_s;
};

static inline double nh_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* splitmix64's output function: a well-mixed 64-bit hash of @x. */
static inline uint64_t nh_mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* The bits of @d, for hashing. */
static inline uint64_t nh_bits(double d)
{
	uint64_t bits;

	memcpy(&bits, &d, sizeof(bits));
	return bits;
}

/* Map @r, uniform on 64 bits, onto [0, @n) without a division. */
static inline uint64_t nh_range(uint64_t r, uint64_t n)
{
	return (uint64_t)(((__uint128_t)r * n) >> 64);
}

static inline void nh_usage(FILE *f, const struct nh_opts *o,
			    unsigned long default_iters)
{
	fprintf(f,
		"usage: nh-%s [-m MIB] [-i ITERS] [-t THREADS] [-H] [-q]\n"
		"  -m MIB      working set in MiB (default %lu)\n"
		"  -i ITERS    iterations (default %lu)\n"
		"  -t THREADS  OpenMP threads (default: the OpenMP default)\n"
		"  -H          madvise(MADV_HUGEPAGE) the arrays\n"
		"  -q          print only the NH-RESULT line\n",
		o->kernel, NH_DEFAULT_MIB, default_iters);
}

/* A decimal number in [1, @max], digits only: no sign, no suffix. */
static inline int nh_parse_ulong(const char *s, unsigned long max,
				 unsigned long *val)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < 1 || v > max)
		return -1;
	*val = v;
	return 0;
}

/* Parses the common options; exits 2 on a bad one, 0 after -h. */
static inline void nh_parse_args(int argc, char **argv, struct nh_opts *o,
				 const char *kernel,
				 unsigned long default_iters)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->kernel = kernel;
	o->mib = NH_DEFAULT_MIB;
	o->iters = default_iters;

	while ((c = getopt(argc, argv, "m:i:t:Hqh")) != -1) {
		switch (c) {
		case 'm':
			if (nh_parse_ulong(optarg, NH_MAX_MIB, &o->mib)) {
				fprintf(stderr, "nh-%s: bad -m '%s' (1..%lu)\n",
					kernel, optarg, NH_MAX_MIB);
				exit(2);
			}
			break;
		case 'i':
			if (nh_parse_ulong(optarg, NH_MAX_ITERS, &o->iters)) {
				fprintf(stderr, "nh-%s: bad -i '%s' (1..%lu)\n",
					kernel, optarg, NH_MAX_ITERS);
				exit(2);
			}
			break;
		case 't':
			if (nh_parse_ulong(optarg, NH_MAX_THREADS,
					   &o->threads)) {
				fprintf(stderr, "nh-%s: bad -t '%s' (1..%lu)\n",
					kernel, optarg, NH_MAX_THREADS);
				exit(2);
			}
			break;
		case 'H':
			o->hugepage = 1;
			break;
		case 'q':
			o->quiet = 1;
			break;
		case 'h':
			nh_usage(stdout, o, default_iters);
			exit(0);
		default:
			nh_usage(stderr, o, default_iters);
			exit(2);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "nh-%s: unexpected argument '%s'\n", kernel,
			argv[optind]);
		nh_usage(stderr, o, default_iters);
		exit(2);
	}
	if (o->threads)
		omp_set_num_threads((int)o->threads);
}

/* The number of threads a parallel region gets now. */
/*
 * The working set is set up: with NH_READY=stop in the environment (a
 * measuring parent such as the rig's rig-run sets it), stop until the
 * parent has looked at it and sends SIGCONT.  Without it, nothing.
 */
static inline void nh_ready(void)
{
	const char *how = getenv("NH_READY");

	if (how && !strcmp(how, "stop"))
		raise(SIGSTOP);
}

static inline int nh_team_size(void)
{
	int n = 1;

#pragma omp parallel
	{
#pragma omp single
		n = omp_get_num_threads();
	}
	return n;
}

/*
 * A private anonymous mapping of @bytes, untouched: its pages are placed
 * by whichever thread touches them first.  Exits 1 on failure.
 */
static inline void *nh_alloc(const struct nh_opts *o, size_t bytes,
			     const char *what)
{
	void *p;

	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "nh-%s: mmap %zu bytes for %s: %s\n",
			o->kernel, bytes, what, strerror(errno));
		exit(1);
	}
	if (o->hugepage && madvise(p, bytes, MADV_HUGEPAGE)) {
		fprintf(stderr, "nh-%s: madvise(MADV_HUGEPAGE) %s: %s\n",
			o->kernel, what, strerror(errno));
		exit(1);
	}
	return p;
}

static inline void nh_free(void *p, size_t bytes)
{
	munmap(p, bytes);
}

/*
 * The checksums: XOR over the elements of a hash of each with its index,
 * which does not depend on the order of the XORs, so neither on the number
 * of threads that compute it.
 */
static inline uint64_t nh_checksum_u64(const uint64_t *w, size_t n)
{
	uint64_t sum = 0;

#pragma omp parallel
	{
		uint64_t part = 0;

#pragma omp for schedule(static)
		for (size_t i = 0; i < n; i++)
			part ^= nh_mix64(w[i] ^ nh_mix64(i));
#pragma omp atomic
		sum ^= part;
	}
	return sum;
}

static inline uint64_t nh_checksum_f64(const double *a, size_t n)
{
	uint64_t sum = 0;

#pragma omp parallel
	{
		uint64_t part = 0;

#pragma omp for schedule(static)
		for (size_t i = 0; i < n; i++)
			part ^= nh_mix64(nh_bits(a[i]) ^ nh_mix64(i));
#pragma omp atomic
		sum ^= part;
	}
	return sum;
}

/* Records one iteration's time; prints it unless -q. */
static inline void nh_iter_done(const struct nh_opts *o, struct nh_times *t,
				unsigned long iter, double took)
{
	if (iter == 0 || took < t->iter_min_s)
		t->iter_min_s = took;
	if (iter == 0 || took > t->iter_max_s)
		t->iter_max_s = took;
	t->compute_s += took;
	if (!o->quiet)
		fprintf(stderr, "nh-%s: iteration %lu: %.6f s\n", o->kernel,
			iter, took);
}

static inline void nh_result(const struct nh_opts *o, int threads,
			     const struct nh_times *t, double rate,
			     const char *unit, uint64_t checksum)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		memset(&ru, 0, sizeof(ru));
	printf("NH-RESULT kernel=%s mib=%lu threads=%d iters=%lu thp=%d",
	       o->kernel, o->mib, threads, o->iters, o->hugepage);
	printf(" init_s=%.6f compute_s=%.6f iter_min_s=%.6f iter_max_s=%.6f",
	       t->init_s, t->compute_s, t->iter_min_s, t->iter_max_s);
	printf(" rate=%.4f unit=%s checksum=0x%016llx",
	       rate, unit, (unsigned long long)checksum);
	printf(" minflt=%ld majflt=%ld pid=%ld\n",
	       ru.ru_minflt, ru.ru_majflt, (long)getpid());
	fflush(stdout);
}

#endif /* NH_COMMON_H */
