// SPDX-License-Identifier: GPL-2.0
/*
 * nh-gups: the random-access kernel, in the manner of HPCC RandomAccess
 * (GUPS): a table of 64-bit words that makes the working set, and XOR
 * updates of words at pseudo-random indices, table[idx] ^= value.  Every
 * thread updates words all over the table, so with the table spread over
 * the threads' nodes (first touch, static schedule) most of the accesses
 * of a thread are remote on a multi-node machine even when placement is
 * right; what placement changes is how the table is spread over the
 * nodes: all of it on one node makes that node's memory the bottleneck.
 *
 *   nh-gups [-m MIB] [-i ITERS] [-t THREADS] [-H] [-q]
 *
 * An iteration is n / 4 updates, n the number of words: update j of
 * iteration k goes to word perm_k(j), where perm_k is a pseudo-random
 * permutation of the indices, fresh each iteration, and XORs in
 * hash(k * n / 4 + j).  (HPCC RandomAccess makes 4 n updates in all: 16
 * iterations.)  Update j, index and value, is a pure function of (k, j),
 * not of a per-thread random stream, so the set of updates does not
 * depend on the number of threads; and as an iteration updates no word
 * twice, no two threads ever update one word at the same time: no lost
 * updates (unlike HPCC, which tolerates some) and no atomics.  XOR
 * updates commute, so the final table, and checksum (the table hashed
 * with its indices), depend on -m and -i alone.
 *
 * rate is GUP/s, 10^9 updates a second.
 */
#include "nh-common.h"

#define GUPS_DEFAULT_ITERS	4UL	/* n updates */
#define GUPS_SEED		0x6e756d6168696e74ULL	/* "numahint" */

struct gups_perm {
	uint64_t mask;		/* 2^bits - 1, 2^bits >= n */
	unsigned int shift;
	uint64_t key1, key2;	/* per iteration */
};

/* A bijection of [0, mask]: XORs, odd multipliers, xorshifts, mod 2^bits. */
static inline uint64_t gups_mix(const struct gups_perm *p, uint64_t x)
{
	x ^= p->key1;
	x = (x * 0x9e3779b97f4a7c15ULL) & p->mask;
	x ^= x >> p->shift;
	x ^= p->key2;
	x = (x * 0xbf58476d1ce4e5b9ULL) & p->mask;
	x ^= x >> p->shift;
	return x;
}

/* A bijection of [0, n), by cycle walking the bijection of [0, mask]. */
static inline uint64_t gups_index(const struct gups_perm *p, uint64_t j,
				  uint64_t n)
{
	do
		j = gups_mix(p, j);
	while (j >= n);
	return j;
}

int main(int argc, char **argv)
{
	struct nh_times t = { 0 };
	struct gups_perm perm;
	uint64_t checksum, *table;
	unsigned int bits = 1;
	struct nh_opts o;
	unsigned long it;
	int threads;
	double t0;
	size_t n, u;

	nh_parse_args(argc, argv, &o, "gups", GUPS_DEFAULT_ITERS);
	n = (o.mib << 20) / sizeof(*table);
	u = n / 4;
	while (bits < 64 && (1ULL << bits) < n)
		bits++;
	perm.mask = bits < 64 ? (1ULL << bits) - 1 : ~0ULL;
	perm.shift = (bits + 1) / 2;
	threads = nh_team_size();
	if (!o.quiet)
		fprintf(stderr,
			"nh-gups: table of %zu words, %d threads, %lu iterations of %zu updates\n",
			n, threads, o.iters, u);

	table = nh_alloc(&o, n * sizeof(*table), "table");

	t0 = nh_now();
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++)
		table[i] = i;
	t.init_s = nh_now() - t0;
	nh_ready();

	for (it = 0; it < o.iters; it++) {
		const uint64_t base = (uint64_t)it * u;

		perm.key1 = nh_mix64(GUPS_SEED + 2 * it) & perm.mask;
		perm.key2 = nh_mix64(GUPS_SEED + 2 * it + 1) & perm.mask;
		t0 = nh_now();
#pragma omp parallel for schedule(static) firstprivate(perm)
		for (size_t j = 0; j < u; j++)
			table[gups_index(&perm, j, n)] ^= nh_mix64(base + j);
		nh_iter_done(&o, &t, it, nh_now() - t0);
	}

	checksum = nh_checksum_u64(table, n);

	nh_free(table, n * sizeof(*table));

	nh_result(&o, threads, &t, (double)u * o.iters / t.compute_s / 1e9,
		  "GUP/s", checksum);
	return 0;
}
