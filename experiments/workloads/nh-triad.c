// SPDX-License-Identifier: GPL-2.0
/*
 * nh-triad: the STREAM triad, a[i] = b[i] + s * c[i], over three arrays
 * of doubles that together make the working set, repeated -i times.  The
 * streaming kernel of the set: each thread reads and writes only its own
 * static share of the arrays, which it also touched first, so with good
 * placement every access is local.
 *
 *   nh-triad [-m MIB] [-i ITERS] [-t THREADS] [-H] [-q]
 *
 * rate is GB/s counted as STREAM counts it, 24 bytes per element and
 * iteration (write allocation not counted).  checksum hashes every element
 * of a with its index; each element is computed by the same operations
 * whatever thread computes it, so it depends on -m alone.
 */
#include "nh-common.h"

#define TRIAD_DEFAULT_ITERS	100UL
#define TRIAD_SCALAR		3.0

static double *triad_array(const struct nh_opts *o, size_t n, int k,
			   const char *what)
{
	/*
	 * Array k starts k * 256 bytes into its own mapping, so that a[i],
	 * b[i] and c[i] do not share their offset in the page (4K aliasing).
	 */
	char *p = nh_alloc(o, n * sizeof(double) + 4096, what);

	return (double *)(p + k * 256);
}

static void triad_unmap(double *p, size_t n, int k)
{
	nh_free((char *)p - k * 256, n * sizeof(double) + 4096);
}

int main(int argc, char **argv)
{
	struct nh_times t = { 0 };
	uint64_t checksum;
	double *a, *b, *c, t0;
	struct nh_opts o;
	unsigned long it;
	int threads;
	size_t n;

	nh_parse_args(argc, argv, &o, "triad", TRIAD_DEFAULT_ITERS);
	n = (o.mib << 20) / (3 * sizeof(double));
	threads = nh_team_size();
	if (!o.quiet)
		fprintf(stderr,
			"nh-triad: 3 arrays of %zu doubles, %d threads, %lu iterations\n",
			n, threads, o.iters);

	a = triad_array(&o, n, 0, "a");
	b = triad_array(&o, n, 1, "b");
	c = triad_array(&o, n, 2, "c");

	t0 = nh_now();
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++) {
		a[i] = 0.0;
		b[i] = 1.0 + 0.5 * (double)(i & 1023);
		c[i] = 0.25 * (double)(i & 255);
	}
	t.init_s = nh_now() - t0;
	nh_ready();

	for (it = 0; it < o.iters; it++) {
		const double s = TRIAD_SCALAR;

		t0 = nh_now();
#pragma omp parallel for schedule(static)
		for (size_t i = 0; i < n; i++)
			a[i] = b[i] + s * c[i];
		nh_iter_done(&o, &t, it, nh_now() - t0);
	}

	checksum = nh_checksum_f64(a, n);

	triad_unmap(a, n, 0);
	triad_unmap(b, n, 1);
	triad_unmap(c, n, 2);

	nh_result(&o, threads, &t,
		  3.0 * sizeof(double) * n * o.iters / t.compute_s / 1e9,
		  "GB/s", checksum);
	return 0;
}
