// SPDX-License-Identifier: GPL-2.0
/*
 * nh-spmv: the CG-like kernel.  A sparse n x n matrix in CSR form, 16
 * nonzeros a row at pseudo-random columns (a fixed hash of row and slot,
 * so the same matrix for the same -m), and -i steps of
 *
 *	y = A x;  d = y . y;  x = y / sqrt(d)
 *
 * a matrix-vector product, a dot product and a vector update, as in a CG
 * iteration (as a power iteration, so that x stays bounded).  The matrix,
 * 12 bytes a nonzero plus its row pointers, is some 90% of the working
 * set: each thread streams its own rows of it, which it touched first,
 * and gathers from all of x.  As in NPB CG, the random gathers from x,
 * though x is only 1/27 of the working set, can cost more time than
 * streaming the matrix.
 *
 *   nh-spmv [-m MIB] [-i ITERS] [-t THREADS] [-H] [-q]
 *
 * The rows go to the threads in blocks of SPMV_BLOCK, under the same
 * static schedule in the initialisation and in every step.  The dot
 * product is summed in row order within a block and over the blocks'
 * sums in block order, whatever the number of threads, so x, and the
 * checksum (x hashed with its indices, and d), depend on -m and -i alone.
 *
 * rate is GFLOP/s: 2 a nonzero, and 3 a row for the dot product and the
 * update.
 */
#include <math.h>

#include "nh-common.h"

#define SPMV_DEFAULT_ITERS	10UL
#define SPMV_NNZ_ROW		16
#define SPMV_BLOCK		1024
#define SPMV_SEED		0x6e756d6168696e74ULL	/* "numahint" */

struct spmv {
	size_t n;		/* rows and columns */
	size_t nblocks;
	uint64_t *rowptr;	/* n + 1 */
	uint32_t *col;		/* n * SPMV_NNZ_ROW */
	double *val;		/* n * SPMV_NNZ_ROW */
	double *x, *y;		/* n */
	double *part;		/* nblocks: each block's share of y . y */
};

static size_t spmv_block_end(const struct spmv *m, size_t blk)
{
	size_t end = (blk + 1) * SPMV_BLOCK;

	return end < m->n ? end : m->n;
}

static void spmv_init(struct spmv *m)
{
#pragma omp parallel for schedule(static)
	for (size_t blk = 0; blk < m->nblocks; blk++) {
		size_t end = spmv_block_end(m, blk);

		for (size_t i = blk * SPMV_BLOCK; i < end; i++) {
			size_t k = i * SPMV_NNZ_ROW;

			m->rowptr[i] = k;
			for (int j = 0; j < SPMV_NNZ_ROW; j++, k++) {
				uint64_t h = nh_mix64(SPMV_SEED ^ k);

				m->col[k] = (uint32_t)nh_range(h, m->n);
				/* 0.5 to 1, exactly representable */
				m->val[k] = 0.5 + (double)(h & 0xffff) / 131072;
			}
			m->x[i] = 1.0;
			m->y[i] = 0.0;
		}
		if (end == m->n)
			m->rowptr[m->n] = m->n * SPMV_NNZ_ROW;
		m->part[blk] = 0.0;
	}
}

/* One step; returns y . y before the update. */
static double spmv_step(struct spmv *m)
{
	const uint64_t *rowptr = m->rowptr;
	const uint32_t *col = m->col;
	const double *val = m->val, *x = m->x;
	double *y = m->y, dot = 0.0, scale;

#pragma omp parallel for schedule(static)
	for (size_t blk = 0; blk < m->nblocks; blk++) {
		size_t end = spmv_block_end(m, blk);
		double part = 0.0;

		for (size_t i = blk * SPMV_BLOCK; i < end; i++) {
			double sum = 0.0;

			for (uint64_t k = rowptr[i]; k < rowptr[i + 1]; k++)
				sum += val[k] * x[col[k]];
			y[i] = sum;
			part += sum * sum;
		}
		m->part[blk] = part;
	}

	for (size_t blk = 0; blk < m->nblocks; blk++)
		dot += m->part[blk];
	scale = 1.0 / sqrt(dot);

#pragma omp parallel for schedule(static)
	for (size_t blk = 0; blk < m->nblocks; blk++) {
		size_t end = spmv_block_end(m, blk);

		for (size_t i = blk * SPMV_BLOCK; i < end; i++)
			m->x[i] = y[i] * scale;
	}
	return dot;
}

int main(int argc, char **argv)
{
	const size_t row_bytes = SPMV_NNZ_ROW * (sizeof(uint32_t) +
		sizeof(double)) + sizeof(uint64_t) + 2 * sizeof(double);
	struct nh_times t = { 0 };
	uint64_t checksum;
	struct spmv m;
	struct nh_opts o;
	double t0, dot = 0.0;
	unsigned long it;
	int threads;
	size_t nnz;

	nh_parse_args(argc, argv, &o, "spmv", SPMV_DEFAULT_ITERS);
	m.n = (o.mib << 20) / row_bytes;
	if (m.n > UINT32_MAX) {
		fprintf(stderr, "nh-spmv: -m %lu: more rows than 32-bit columns can index\n",
			o.mib);
		return 2;
	}
	nnz = m.n * SPMV_NNZ_ROW;
	m.nblocks = (m.n + SPMV_BLOCK - 1) / SPMV_BLOCK;
	threads = nh_team_size();
	if (!o.quiet)
		fprintf(stderr,
			"nh-spmv: %zu rows, %zu nonzeros, %d threads, %lu iterations\n",
			m.n, nnz, threads, o.iters);

	m.rowptr = nh_alloc(&o, (m.n + 1) * sizeof(*m.rowptr), "rowptr");
	m.col = nh_alloc(&o, nnz * sizeof(*m.col), "col");
	m.val = nh_alloc(&o, nnz * sizeof(*m.val), "val");
	m.x = nh_alloc(&o, m.n * sizeof(*m.x), "x");
	m.y = nh_alloc(&o, m.n * sizeof(*m.y), "y");
	m.part = nh_alloc(&o, m.nblocks * sizeof(*m.part), "part");

	t0 = nh_now();
	spmv_init(&m);
	t.init_s = nh_now() - t0;
	nh_ready();

	for (it = 0; it < o.iters; it++) {
		t0 = nh_now();
		dot = spmv_step(&m);
		nh_iter_done(&o, &t, it, nh_now() - t0);
	}

	checksum = nh_checksum_f64(m.x, m.n) ^ nh_mix64(nh_bits(dot));

	nh_free(m.rowptr, (m.n + 1) * sizeof(*m.rowptr));
	nh_free(m.col, nnz * sizeof(*m.col));
	nh_free(m.val, nnz * sizeof(*m.val));
	nh_free(m.x, m.n * sizeof(*m.x));
	nh_free(m.y, m.n * sizeof(*m.y));
	nh_free(m.part, m.nblocks * sizeof(*m.part));

	nh_result(&o, threads, &t,
		  ((2.0 * nnz + 3.0 * m.n) * o.iters) / t.compute_s / 1e9,
		  "GFLOP/s", checksum);
	return 0;
}
