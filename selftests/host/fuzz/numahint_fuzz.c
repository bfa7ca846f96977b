// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target for the host side of numahint: the device's request
 * validation (qemu-device/hw/virtio/numahint-request.c) and its
 * first-touch placement engine (numahint-placement.c), the code the QEMU
 * device runs on every guest request, driven here by arbitrary bytes
 * against a fake NUMA host.
 *
 * An input is a small machine description followed by operations:
 *
 *   features (1 byte), the three entry limits (2 bytes each), 1 to 4 RAM
 *   regions (page size, gap, 1 to 512 host pages, node seed; optionally
 *   at the top of the address space), 0 to 8 vCPUs (id steps and nodes), the
 *   placement queue's capacity; then, until the input ends, operations:
 *   a request on one of the three queues (response buffer size, request
 *   length, request bytes), a placement run with a budget, a device
 *   reset, a vCPU map change, a RAM map update (valid or corrupted), or
 *   an injected host failure.
 *
 * Each request goes through numahint_request_check() and the entry
 * decoders exactly as virtio_numahint_handle_vq() calls them, with the
 * guest RAM lookup and the discard done by the fake host.  Request and
 * response buffers are allocated to their exact size, so an over-read or
 * over-write is an AddressSanitizer report.  On top of the sanitizers,
 * the target aborts (which libFuzzer reports as a crash) when:
 *
 *  - a verdict differs from the framing rules of the specification, or a
 *    request found valid has entries or a response that do not fit its
 *    buffers;
 *  - an entry accepted by a decoder is misaligned, empty or wraps, or one
 *    refused is none of those;
 *  - a discard span is not whole host pages inside the free range;
 *  - the engine accepts an event the device would have refused, or
 *    refuses one the device validated against the same maps;
 *  - move_pages() or a discard is asked to touch anything that is not a
 *    host page of guest RAM, or a move names no node of the machine;
 *  - the engine's counters do not add up, its queue is unsorted,
 *    overlapping, unmerged, over capacity or outside guest RAM, a run
 *    overruns its budget by a host page or more, or a map the engine
 *    should refuse is taken.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hw/virtio/numahint-placement.h"
#include "hw/virtio/numahint-request.h"
#include "virtio_numahint.h"

#include "numahint_fuzz.h"

#define PAGE		4096ULL
#define GIB		(1ULL << 30)
#define MAX_REGIONS	4
/* More host pages than a batch: a run can fill one. */
#define MAX_REGION_PAGES 512
#define MAX_VCPUS	8
#define NR_NODES	4
/* Where the fake machine pretends region i is mapped; never touched. */
#define FAKE_HVA	0x7f0000000000ULL
#define FAKE_HVA_STRIDE	(1ULL << 40)

/* The device's bounds on its configuration (virtio-numahint.h). */
static const uint32_t entry_limits[NUMAHINT_REQUEST_NUM_QUEUES] = {
	4096, 65536, 4096,
};

static const uint64_t page_sizes[] = { PAGE, 2ULL << 20, GIB };

/* Host failures that can be injected, per page. */
static const int host_errors[] = {
	0, -EBUSY, -EAGAIN, -ENOMEM, -EFAULT, -EACCES, -ENOENT,
};

struct fake_region {
	/* Node of each host page, -1 if not present. */
	int node[MAX_REGION_PAGES];
	/* Split into 4 KiB pages (the fake keeps one node for them all). */
	bool split[MAX_REGION_PAGES];
	/* The engine's page state for the region. */
	uint32_t page_state[MAX_REGION_PAGES];
	/* Status a query / a move answers for the page, if not 0. */
	int query_err[MAX_REGION_PAGES];
	int move_err[MAX_REGION_PAGES];
	unsigned int nr_pages;
};

struct fuzz_machine {
	/* The device. */
	NumahintRequestConfig cfg;
	bool broken;

	/* Guest RAM, as QEMU and the engine both see it. */
	NumahintRamRegion *ram;
	unsigned int nr_ram;
	struct fake_region host[MAX_REGIONS];
	uint64_t largest_page;

	/* vCPUs, as QEMU and the engine both see them. */
	NumahintVcpuNode *vcpus;
	unsigned int nr_vcpus;

	NumahintPlacement p;
	NumahintPlacementExtent *queue;
	/* Few, so that pages go unremembered too. */
	NumahintSplitPage split_pages[2];

	/* Whole-call failures of the fake host, if not 0. */
	int query_call_err;
	int move_call_err;

	/* Requests by verdict, entries done and bad, for the summary. */
	unsigned long verdicts[3];
	unsigned long entries_done, entries_bad;
};

/* --- reading the input --- */

struct input {
	const uint8_t *data;
	size_t size;
	size_t pos;
};

static size_t input_left(const struct input *in)
{
	return in->size - in->pos;
}

/* @bytes little-endian bytes of the input; zeroes past its end. */
static uint64_t take(struct input *in, unsigned int bytes)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < bytes && in->pos < in->size; i++)
		v |= (uint64_t)in->data[in->pos++] << (8 * i);
	return v;
}

/* --- failing --- */

static void __attribute__((noreturn, format(printf, 1, 2)))
fail(const char *fmt, ...)
{
	va_list ap;

	fputs("numahint_fuzz: invariant broken: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static uint64_t get_le(const uint8_t *p, unsigned int bytes)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* --- the fake host --- */

/* The region and host page behind @hva; aborts unless it is one. */
static struct fake_region *host_page(struct fuzz_machine *m, void *hva,
				     unsigned int *idx)
{
	uintptr_t addr = (uintptr_t)hva;

	for (unsigned int i = 0; i < m->nr_ram; i++) {
		const NumahintRamRegion *r = &m->ram[i];
		uintptr_t off = addr - (uintptr_t)r->hva;

		if (addr < (uintptr_t)r->hva || off >= r->size)
			continue;
		*idx = off / r->host_page_size;
		if (off % r->host_page_size &&
		    (!m->host[i].split[*idx] || off % PAGE))
			fail("host address %#" PRIxPTR " is inside host page %"
			     PRIuPTR " of region %u, not at its start", addr,
			     off / r->host_page_size, i);
		return &m->host[i];
	}
	fail("host address %#" PRIxPTR " is not guest RAM", addr);
}

static void check_call(unsigned long count, const char *what)
{
	if (!count || count > NUMAHINT_PLACEMENT_BATCH)
		fail("%s of %lu pages", what, count);
}

static int fake_query(void *opaque, void **pages, unsigned long count,
		      int *status)
{
	struct fuzz_machine *m = opaque;

	check_call(count, "query");
	for (unsigned long i = 0; i < count; i++) {
		unsigned int idx;
		struct fake_region *h = host_page(m, pages[i], &idx);

		if (h->query_err[idx])
			status[i] = h->query_err[idx];
		else
			status[i] = h->node[idx] < 0 ? -ENOENT : h->node[idx];
	}
	return m->query_call_err;
}

static int fake_move(void *opaque, void **pages, unsigned long count,
		     const int *nodes, int *status)
{
	struct fuzz_machine *m = opaque;
	int not_moved = 0;

	check_call(count, "move");
	for (unsigned long i = 0; i < count; i++) {
		unsigned int idx;
		struct fake_region *h = host_page(m, pages[i], &idx);

		if (nodes[i] < 0 || nodes[i] >= NR_NODES)
			fail("move to node %d, not a node of the host", nodes[i]);
		if (m->move_call_err)
			continue;
		if (h->move_err[idx]) {
			status[i] = h->move_err[idx];
		} else if (h->node[idx] < 0) {
			status[i] = -ENOENT;
		} else {
			h->node[idx] = nodes[i];
			status[i] = nodes[i];
			continue;
		}
		not_moved++;
	}
	return m->move_call_err ? m->move_call_err : not_moved;
}

static int fake_split(void *opaque, void *page, uint64_t size)
{
	struct fuzz_machine *m = opaque;
	unsigned int idx, i;
	struct fake_region *h = host_page(m, page, &idx);

	i = h - m->host;
	if (!m->ram[i].splittable || size != m->ram[i].host_page_size ||
	    ((uintptr_t)page - (uintptr_t)m->ram[i].hva) % size)
		fail("split of %#" PRIxPTR " size %#" PRIx64 " in region %u",
		     (uintptr_t)page, size, i);
	if (h->move_err[idx] == -EBUSY)
		return -EBUSY;
	h->split[idx] = true;
	return 0;
}

static const NumahintPlacementOps fake_ops = {
	.query_nodes = fake_query,
	.move_pages = fake_move,
	.split = fake_split,
};

/*
 * QEMU's lookup of [addr, addr + len) in guest RAM: the region that holds
 * all of it, or -1.
 */
static int find_ram(const struct fuzz_machine *m, uint64_t addr, uint64_t len,
		    uint64_t *offset)
{
	for (unsigned int i = 0; i < m->nr_ram; i++) {
		const NumahintRamRegion *r = &m->ram[i];

		if (addr >= r->gpa && addr - r->gpa < r->size &&
		    len <= r->size - (addr - r->gpa)) {
			*offset = addr - r->gpa;
			return i;
		}
	}
	return -1;
}

/*
 * Whether [start, end) is all guest RAM: held by one region or by a run
 * of adjacent ones.  A queued extent may span adjacent regions, as two
 * NUMA nodes' memory backends often are: the engine merges the events on
 * either side of the boundary and takes the extent host page by host
 * page, each through its own region.
 */
static bool ram_covers(const struct fuzz_machine *m, uint64_t start,
		       uint64_t end)
{
	while (start < end) {
		uint64_t off;
		int i = find_ram(m, start, PAGE, &off);

		if (i < 0)
			return false;
		start += m->ram[i].size - off;
	}
	return true;
}

/* ram_block_discard_range() on region @i: [start, end) of its offsets. */
static void fake_discard(struct fuzz_machine *m, int i, uint64_t start,
			 uint64_t end)
{
	const NumahintRamRegion *r = &m->ram[i];
	uint64_t ps = r->host_page_size;

	if (start >= end || end > r->size || start % ps || end % ps)
		fail("discard of [%#" PRIx64 ", %#" PRIx64 ") in region %d of %#"
		     PRIx64 " bytes, %#" PRIx64 " pages", start, end, i, r->size,
		     ps);
	for (uint64_t off = start; off < end; off += ps)
		m->host[i].node[off / ps] = -1;
}

static bool cpu_exists(const struct fuzz_machine *m, uint64_t id)
{
	for (unsigned int i = 0; i < m->nr_vcpus; i++)
		if (m->vcpus[i].cpu_id == id)
			return true;
	return false;
}

/* --- invariants of the engine --- */

static void check_engine(const struct fuzz_machine *m)
{
	char why[256];

	if (!numahint_placement_check(&m->p, why, sizeof(why)))
		fail("%s", why);
	/* What the engine cannot know, and its RAM lookup checked by ours. */
	for (unsigned int i = 0; i < m->p.queue_len; i++) {
		const NumahintPlacementExtent *e = &m->p.queue[i];

		if (e->node >= NR_NODES)
			fail("queue extent for node %d", e->node);
		if (!ram_covers(m, e->start, e->end))
			fail("queue extent [%#" PRIx64 ", %#" PRIx64 ") is not "
			     "guest RAM", e->start, e->end);
	}
}

static void run_placement(struct fuzz_machine *m, uint64_t budget)
{
	uint64_t pending = m->p.stats.pages_pending;
	uint64_t used = numahint_placement_run(&m->p, budget);

	/* The last host page may overrun the budget, by less than itself. */
	if (!budget ? used != 0 :
	    used > budget && used - budget >= m->largest_page / PAGE)
		fail("run with a budget of %" PRIu64 " pages examined %" PRIu64,
		     budget, used);
	/* A host page is examined for a majority of its pages: at most 2x. */
	if (used > 2 * pending)
		fail("run examined %" PRIu64 " pages for %" PRIu64 " pending",
		     used, pending);
	check_engine(m);
}

/* --- the device's request path --- */

/*
 * The framing rules, as the specification states them: what
 * numahint_request_check() must answer.
 */
static NumahintRequestVerdict spec_verdict(const struct fuzz_machine *m,
					   unsigned int queue,
					   const uint8_t *out, size_t out_size,
					   size_t in_size, size_t *resp_size)
{
	static const struct {
		unsigned int queue, feature, entry_size, node_bytes;
	} types[] = {
		{ VIRTIO_NUMAHINT_VQ_REPORT, VIRTIO_NUMAHINT_F_FREE_REPORT, 16, 0 },
		{ VIRTIO_NUMAHINT_VQ_TOUCH, VIRTIO_NUMAHINT_F_FIRST_TOUCH, 16, 0 },
		{ VIRTIO_NUMAHINT_VQ_PROBE, VIRTIO_NUMAHINT_F_LOCALITY_PROBE, 8, 4 },
		{ VIRTIO_NUMAHINT_VQ_PROBE, VIRTIO_NUMAHINT_F_LOCALITY_PROBE, 8, 4 },
	};
	uint64_t type, nr;

	*resp_size = 8;
	if (out_size < 8 || in_size < 8)
		return NUMAHINT_REQUEST_VIOLATION;
	type = get_le(out, 2);
	nr = get_le(out + 4, 4);
	if (type >= 4 || types[type].queue != queue ||
	    !((m->cfg.features >> types[type].feature) & 1))
		return NUMAHINT_REQUEST_UNSUPPORTED;
	if (nr < 1 || nr > m->cfg.max_entries[queue] ||
	    out_size != 8 + nr * types[type].entry_size ||
	    in_size < 8 + nr * types[type].node_bytes)
		return NUMAHINT_REQUEST_VIOLATION;
	*resp_size = 8 + nr * types[type].node_bytes;
	return NUMAHINT_REQUEST_VALID;
}

/* Whether [addr, addr + len) is page-aligned, not empty, and fits. */
static bool spec_extent(uint64_t addr, uint64_t len)
{
	uint64_t end;

	return !(addr % PAGE) && !(len % PAGE) && len &&
	       !__builtin_add_overflow(addr, len, &end);
}

static bool report_range(struct fuzz_machine *m, const uint8_t *entry)
{
	uint64_t addr, len, offset, start, end, ps;
	bool valid = numahint_request_range(entry, &addr, &len);
	int i;

	if (addr != get_le(entry, 8) || len != get_le(entry + 8, 8))
		fail("free range decoded as %#" PRIx64 "+%#" PRIx64, addr, len);
	if (valid != spec_extent(addr, len))
		fail("free range %#" PRIx64 "+%#" PRIx64 " %s", addr, len,
		     valid ? "accepted" : "refused");
	i = valid ? find_ram(m, addr, len, &offset) : -1;
	if (i < 0)
		return false;
	ps = m->ram[i].host_page_size;
	if (!numahint_request_discard_span(offset, len, ps, &start, &end)) {
		/* Then no whole host page lies in the range. */
		if ((offset + ps - 1) / ps * ps + ps <= offset + len)
			fail("free range %#" PRIx64 "+%#" PRIx64 " covers a whole "
			     "host page of %#" PRIx64 " bytes, none discarded",
			     offset, len, ps);
		return true;
	}
	if (start < offset || end > offset + len || start - offset >= ps ||
	    offset + len - end >= ps)
		fail("discard span [%#" PRIx64 ", %#" PRIx64 ") of free range %#"
		     PRIx64 "+%#" PRIx64 " with %#" PRIx64 " pages", start, end,
		     offset, len, ps);
	fake_discard(m, i, start, end);
	return true;
}

/* Returns false for an entry error; sets @queued as the device does. */
static bool touch_event(struct fuzz_machine *m, const uint8_t *entry,
			bool *queued)
{
	uint64_t addr, offset;
	uint32_t nr_pages, cpu_id;
	bool valid = numahint_request_touch(entry, &addr, &nr_pages, &cpu_id);
	NumahintPlacementVerdict verdict;

	if (addr != get_le(entry, 8) || nr_pages != get_le(entry + 8, 4) ||
	    cpu_id != get_le(entry + 12, 4))
		fail("touch event decoded as %#" PRIx64 "+%u cpu %u", addr,
		     nr_pages, cpu_id);
	if (valid != spec_extent(addr, (uint64_t)nr_pages * PAGE))
		fail("touch event %#" PRIx64 "+%u pages %s", addr, nr_pages,
		     valid ? "accepted" : "refused");
	valid = valid && find_ram(m, addr, (uint64_t)nr_pages * PAGE,
				  &offset) >= 0 && cpu_exists(m, cpu_id);

	/*
	 * The device hands the engine only what it validated; the engine must
	 * refuse the rest on its own, and take all it is given, since both
	 * see the same RAM and vCPUs.
	 */
	verdict = numahint_placement_add(&m->p, addr, nr_pages, cpu_id);
	if (!valid && verdict != NUMAHINT_PLACEMENT_REJECTED)
		fail("engine took event %#" PRIx64 "+%u cpu %u the device "
		     "refuses", addr, nr_pages, cpu_id);
	if (valid && verdict == NUMAHINT_PLACEMENT_REJECTED)
		fail("engine refused event %#" PRIx64 "+%u cpu %u the device "
		     "validated", addr, nr_pages, cpu_id);
	*queued = verdict == NUMAHINT_PLACEMENT_ACCEPTED;
	return valid;
}

static bool probe_entry(struct fuzz_machine *m, uint16_t type,
			const uint8_t *entry, uint32_t *node)
{
	uint64_t id, offset;
	bool valid = numahint_request_probe(type, entry, &id);
	int i;

	if (id != get_le(entry, 8))
		fail("probe entry decoded as %#" PRIx64, id);
	if (valid != (type == VIRTIO_NUMAHINT_REQ_PROBE_CPU || !(id % PAGE)))
		fail("probe entry %#" PRIx64 " of type %u %s", id, type,
		     valid ? "accepted" : "refused");
	if (!valid)
		return false;
	if (type == VIRTIO_NUMAHINT_REQ_PROBE_CPU) {
		for (unsigned int k = 0; k < m->nr_vcpus; k++)
			if (m->vcpus[k].cpu_id == id) {
				*node = m->vcpus[k].node;
				return true;
			}
		return false;
	}
	i = find_ram(m, id, PAGE, &offset);
	if (i < 0)
		return false;
	*node = m->host[i].node[offset / m->ram[i].host_page_size];
	return true;
}

/*
 * One request, as virtio_numahint_handle_vq() takes it: @out is the
 * device-readable part of the chain, @in_size bytes are writable.
 */
static void handle_request(struct fuzz_machine *m, unsigned int queue,
			   const uint8_t *out, size_t out_size, size_t in_size)
{
	struct virtio_numahint_req hdr = { 0 };
	NumahintRequestVerdict verdict, expected;
	uint32_t done = 0, bad = 0, *nodes;
	size_t resp_size;
	NumahintRequest req;
	uint8_t *in;

	/* A broken device takes nothing off its queues until reset. */
	if (m->broken)
		return;
	memcpy(&hdr, out, out_size < sizeof(hdr) ? out_size : sizeof(hdr));
	verdict = numahint_request_check(&m->cfg, queue, &hdr, out_size,
					 in_size, &req);
	expected = spec_verdict(m, queue, out, out_size, in_size, &resp_size);
	if (verdict != expected)
		fail("request of %zu bytes (%zu writable) on queue %u: verdict %d, "
		     "should be %d", out_size, in_size, queue, verdict, expected);
	m->verdicts[verdict]++;
	if (verdict == NUMAHINT_REQUEST_VIOLATION) {
		if (!req.violation)
			fail("protocol violation without a reason");
		m->broken = true;
		return;
	}
	if (req.resp_size != resp_size)
		fail("response of %zu bytes, should be %zu", req.resp_size,
		     resp_size);

	/* Exactly in_size bytes: writing past them is an ASan report. */
	in = malloc(in_size);
	if (!in)
		abort();
	nodes = (uint32_t *)(in + sizeof(struct virtio_numahint_resp));
	if (verdict == NUMAHINT_REQUEST_VALID) {
		const uint8_t *entries = out + sizeof(hdr);

		if (sizeof(hdr) + req.entries_size != out_size ||
		    req.entries_size != (size_t)req.nr_entries * req.entry_size)
			fail("%u entries of %zu bytes in %zu bytes of request",
			     req.nr_entries, req.entry_size, out_size);
		for (uint32_t i = 0; i < req.nr_entries; i++) {
			const uint8_t *entry = entries + i * req.entry_size;
			bool queued, ok;
			uint32_t node = VIRTIO_NUMAHINT_NODE_NONE;

			switch (req.type) {
			case VIRTIO_NUMAHINT_REQ_FREE_REPORT:
				ok = report_range(m, entry);
				done += ok;
				break;
			case VIRTIO_NUMAHINT_REQ_TOUCH:
				ok = touch_event(m, entry, &queued);
				done += queued;
				break;
			default:
				ok = probe_entry(m, req.type, entry, &node);
				done += ok;
				memcpy(&nodes[i], &node, sizeof(node));
				break;
			}
			bad += !ok;
			check_engine(m);
		}
	}
	m->entries_done += done;
	m->entries_bad += bad;
	memset(in, 0, sizeof(struct virtio_numahint_resp));
	if (done > req.nr_entries || done + bad > req.nr_entries)
		fail("%u done and %u bad of %u entries", done, bad,
		     req.nr_entries);
	free(in);
}

/* --- the machine --- */

static void set_up(struct fuzz_machine *m, struct input *in)
{
	uint64_t rel[MAX_REGIONS], cursor = 0, base = 0;
	unsigned int shift[MAX_REGIONS], pages[MAX_REGIONS];
	NumahintPlacementParams params = {
		.settle_ms = NUMAHINT_PLACEMENT_SETTLE_MS,
		.max_hold_ms = NUMAHINT_PLACEMENT_MAX_HOLD_MS,
	};
	uint8_t layout, b;
	unsigned int i;
	uint32_t id;

	memset(m, 0, sizeof(*m));
	m->cfg.features = take(in, 1) & 7;
	for (i = 0; i < NUMAHINT_REQUEST_NUM_QUEUES; i++)
		m->cfg.max_entries[i] = 1 + take(in, 2) % entry_limits[i];

	layout = take(in, 1);
	m->nr_ram = 1 + layout % MAX_REGIONS;
	for (i = 0; i < m->nr_ram; i++) {
		uint8_t b = take(in, 1);
		uint64_t ps;

		shift[i] = (b & 3) % 3;
		ps = page_sizes[shift[i]];
		cursor = (cursor + ps - 1) / ps * ps + (b >> 2 & 3) * ps;
		rel[i] = cursor;
		/* 1 to 8 host pages, or 64 to 512. */
		pages[i] = (1 + (b >> 4) % 8) << (b >> 7 ? 6 : 0);
		cursor += pages[i] * ps;
	}
	/* Bit 7: the whole map just below the top of the address space. */
	if (layout & 0x80)
		base = (UINT64_MAX - cursor) & ~(GIB - 1);
	m->ram = calloc(m->nr_ram, sizeof(*m->ram));
	if (!m->ram)
		abort();
	for (i = 0; i < m->nr_ram; i++) {
		uint8_t seed = take(in, 1);
		struct fake_region *h = &m->host[i];

		m->ram[i] = (NumahintRamRegion) {
			.gpa = base + rel[i],
			.size = pages[i] * page_sizes[shift[i]],
			.hva = (void *)(uintptr_t)(FAKE_HVA + i * FAKE_HVA_STRIDE),
			.host_page_size = page_sizes[shift[i]],
			/* Transparent huge pages, or hugetlb ones. */
			.splittable = shift[i] == 1 && (seed & 1),
			.allowed_nodes = seed & 0x80 ? 0x5 : 0,
			.page_state = h->page_state,
		};
		if (page_sizes[shift[i]] > m->largest_page)
			m->largest_page = page_sizes[shift[i]];
		h->nr_pages = pages[i];
		for (unsigned int k = 0; k < pages[i]; k++)
			h->node[k] = (int)((seed + k * 3) % (NR_NODES + 1)) - 1;
	}

	m->nr_vcpus = take(in, 1) % (MAX_VCPUS + 1);
	m->vcpus = calloc(m->nr_vcpus ? m->nr_vcpus : 1, sizeof(*m->vcpus));
	if (!m->vcpus)
		abort();
	id = take(in, 1);
	/* A first id above 127: ids at the top of the 32-bit range. */
	if (id & 0x80)
		id = UINT32_MAX - 3 * MAX_VCPUS - (id & 0x7f);
	for (i = 0; i < m->nr_vcpus; i++) {
		uint8_t b = take(in, 1);

		m->vcpus[i].cpu_id = id;
		m->vcpus[i].node = (int)((b & 0xf) % (NR_NODES + 1)) - 1;
		id += 1 + (b >> 4) % 3;
	}

	b = take(in, 1);
	m->p.queue_capacity = 1 + b % 64;
	m->queue = calloc(NUMAHINT_PLACEMENT_STORAGE(m->p.queue_capacity),
			  sizeof(*m->queue));
	if (!m->queue)
		abort();
	numahint_placement_init(&m->p, &fake_ops, m, m->queue,
				m->p.queue_capacity);
	/* The top bits: a cooldown of 0, 0.5, 1 or 1.5 s. */
	params.cooldown_ms = (b >> 6) * 500;
	numahint_placement_set_params(&m->p, &params);
	numahint_placement_set_split_pages(&m->p, m->split_pages, 2);
	if (numahint_placement_set_ram(&m->p, m->ram, m->nr_ram))
		fail("engine refused a valid RAM map of %u regions", m->nr_ram);
	if (numahint_placement_set_vcpus(&m->p, m->vcpus, m->nr_vcpus))
		fail("engine refused a valid vCPU map of %u vCPUs", m->nr_vcpus);
}

static void tear_down(struct fuzz_machine *m)
{
	free(m->ram);
	free(m->vcpus);
	free(m->queue);
}

/* A copy of the RAM map, broken in one of the ways the engine refuses. */
static void corrupt_ram(const struct fuzz_machine *m, NumahintRamRegion *bad,
			uint8_t how)
{
	unsigned int i = how % m->nr_ram;
	NumahintRamRegion *r = &bad[i];

	memcpy(bad, m->ram, m->nr_ram * sizeof(*bad));
	switch (how >> 4 & 7) {
	case 0:
		r->hva = (char *)r->hva + PAGE / 2;
		break;
	case 1:
		r->gpa += PAGE / 2;
		break;
	case 2:
		r->size = 0;
		break;
	case 3:
		r->host_page_size = 3 * PAGE;
		break;
	case 4:
		r->host_page_size = PAGE / 2;
		r->size = PAGE / 2;
		break;
	case 5:
		/* Ends past the top of the address space. */
		r->gpa = UINT64_MAX & ~(r->host_page_size - 1);
		break;
	case 6:
		if (i)
			r->gpa = bad[i - 1].gpa;
		else
			r->size += PAGE / 2;
		break;
	default:
		r->size += PAGE / 2;
		break;
	}
}

static void update_ram(struct fuzz_machine *m, uint8_t how)
{
	NumahintRamRegion bad[MAX_REGIONS];
	unsigned int len = m->p.queue_len;

	if (!(how & 8)) {
		/* The guest memory map changed: the queue starts again. */
		if (numahint_placement_set_ram(&m->p, m->ram, m->nr_ram) ||
		    m->p.queue_len)
			fail("RAM map update refused or kept the queue");
		return;
	}
	corrupt_ram(m, bad, how);
	if (numahint_placement_set_ram(&m->p, bad, m->nr_ram) != -EINVAL ||
	    m->p.queue_len != len || m->p.regions != m->ram)
		fail("engine took a RAM map it must refuse (corruption %u)",
		     how >> 4 & 7);
}

static void update_vcpus(struct fuzz_machine *m, uint8_t which, uint8_t how)
{
	NumahintVcpuNode bad[MAX_VCPUS];
	unsigned int i;

	if (!m->nr_vcpus)
		return;
	i = which % m->nr_vcpus;
	if (m->nr_vcpus > 1 && (how & 0x80)) {
		memcpy(bad, m->vcpus, m->nr_vcpus * sizeof(*bad));
		if (i + 1 < m->nr_vcpus)
			bad[i].cpu_id = bad[i + 1].cpu_id;
		else
			bad[i].cpu_id = bad[0].cpu_id;
		if (numahint_placement_set_vcpus(&m->p, bad, m->nr_vcpus) !=
		    -EINVAL || m->p.vcpus != m->vcpus)
			fail("engine took an unsorted vCPU map");
		return;
	}
	/* Ids stay (QEMU's CPUs do not change), nodes follow the threads. */
	m->vcpus[i].node = (int)((how & 0xf) % (NR_NODES + 1)) - 1;
	if (numahint_placement_set_vcpus(&m->p, m->vcpus, m->nr_vcpus))
		fail("engine refused a valid vCPU map");
}

static void inject_failure(struct fuzz_machine *m, uint8_t op,
			   struct input *in)
{
	unsigned int i = take(in, 1) % m->nr_ram;
	struct fake_region *h = &m->host[i];
	unsigned int page = take(in, 1) % h->nr_pages;
	uint8_t what = take(in, 1);
	int err = host_errors[what % (sizeof(host_errors) /
				      sizeof(host_errors[0]))];

	switch (op >> 3 & 3) {
	case 0:
		h->query_err[page] = err;
		break;
	case 1:
		h->move_err[page] = err;
		break;
	case 2:
		/* Populated on some node by the guest, or freed. */
		h->node[page] = (int)(what % (NR_NODES + 1)) - 1;
		break;
	default:
		if (what & 0x80)
			m->query_call_err = err;
		else
			m->move_call_err = err;
		break;
	}
}

/* What an input did, for NUMAHINT_FUZZ_VERBOSE=1 (seeds are written so). */
static void summarize(const struct fuzz_machine *m)
{
	const NumahintPlacementStats *s = &m->p.stats;

	fprintf(stderr, "requests: %lu valid, %lu unsupported, %lu violations; "
		"entries: %lu done, %lu bad\n", m->verdicts[0], m->verdicts[1],
		m->verdicts[2], m->entries_done, m->entries_bad);
	fprintf(stderr, "events: %" PRIu64 " accepted, %" PRIu64 " bad extent, %"
		PRIu64 " bad cpu, %" PRIu64 " unplaced, %" PRIu64 " dropped\n",
		s->events_accepted, s->events_bad_extent, s->events_bad_cpu,
		s->events_unplaced, s->events_dropped);
	fprintf(stderr, "pages: %" PRIu64 " local, %" PRIu64 " migrated, %"
		PRIu64 " absent, %" PRIu64 " contended, %" PRIu64 " superseded, %"
		PRIu64 " failed, %" PRIu64 " flushed; %" PRIu64 " query and %"
		PRIu64 " move calls\n", s->pages_local, s->pages_migrated,
		s->pages_absent, s->pages_contended, s->pages_superseded,
		s->pages_failed_busy + s->pages_failed_nomem +
		s->pages_failed_fault + s->pages_failed_other, s->pages_flushed,
		s->query_calls, s->move_calls);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { .data = data, .size = size };
	struct fuzz_machine m;
	uint64_t now = 0;

	set_up(&m, &in);
	check_engine(&m);
	while (input_left(&in)) {
		uint8_t op = take(&in, 1);

		switch (op & 7) {
		case 0:
		case 1:
		case 2: {
			size_t in_size = take(&in, 2);
			size_t out_size = take(&in, 2);
			uint8_t *out;

			if (out_size > input_left(&in))
				out_size = input_left(&in);
			/* Exactly out_size bytes: reading past is an ASan report. */
			out = malloc(out_size ? out_size : 1);
			if (!out)
				abort();
			memcpy(out, in.data + in.pos, out_size);
			in.pos += out_size;
			handle_request(&m, op & 7, out, out_size, in_size);
			free(out);
			break;
		}
		case 3:
			/* The top bits: time passes, up to 1.5 s. */
			now += (op >> 4) * 100;
			numahint_placement_set_time(&m.p, now);
			run_placement(&m, take(&in, 2) << (op & 8 ? 10 : 0));
			break;
		case 4:
			if (op & 8) {
				/* A discard, anywhere, of any size. */
				uint64_t gpa = take(&in, 8);

				numahint_placement_forget(&m.p, gpa, take(&in, 8));
				break;
			}
			/* Device reset: the queue empties, the device works again. */
			numahint_placement_flush(&m.p);
			m.broken = false;
			break;
		case 5: {
			uint8_t which = take(&in, 1);

			update_vcpus(&m, which, take(&in, 1));
			break;
		}
		case 6:
			update_ram(&m, op);
			break;
		default:
			inject_failure(&m, op, &in);
			break;
		}
		check_engine(&m);
	}
	/*
	 * Whatever is queued can be decided once no event has come for
	 * longer than the engine waits, and nothing is left behind.
	 */
	m.query_call_err = 0;
	m.move_call_err = 0;
	now += NUMAHINT_PLACEMENT_MAX_HOLD_MS + m.p.params.cooldown_ms;
	numahint_placement_set_time(&m.p, now);
	run_placement(&m, UINT64_MAX);
	if (m.p.stats.pages_pending)
		fail("%" PRIu64 " pages pending after a run without a limit",
		     m.p.stats.pages_pending);
	if (getenv("NUMAHINT_FUZZ_VERBOSE"))
		summarize(&m);
	tear_down(&m);
	return 0;
}
