/*
 * Virtio NUMA hint device: host NUMA placement of first-touch events
 *
 * See include/hw/virtio/numahint-placement.h for the design.
 *
 * Copyright (c) 2026 The numahint authors.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#ifdef CONFIG_LINUX
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/mempolicy.h>
#endif
#include "hw/virtio/numahint-placement.h"

void numahint_placement_init(NumahintPlacement *p,
                             const NumahintPlacementOps *ops, void *opaque,
                             NumahintPlacementExtent *queue,
                             unsigned int queue_capacity)
{
    memset(p, 0, sizeof(*p));
    p->ops = ops;
    p->opaque = opaque;
    p->queue = queue;
    p->queue_spare = queue + queue_capacity;
    p->queue_capacity = queue_capacity;
    p->inbox_capacity = NUMAHINT_PLACEMENT_INBOX(queue_capacity);
    p->inbox = queue + 2 * (size_t)queue_capacity;
    p->inbox_heap = p->inbox + p->inbox_capacity;
    p->inbox_sweep = p->inbox_heap + p->inbox_capacity;
    p->params.settle_ms = NUMAHINT_PLACEMENT_SETTLE_MS;
    p->params.check_ms = NUMAHINT_PLACEMENT_CHECK_MS;
    p->params.max_hold_ms = NUMAHINT_PLACEMENT_MAX_HOLD_MS;
    p->work.items = p->work_items;
    p->work.capacity = NUMAHINT_PLACEMENT_MAX_PARTS +
                       2 * NUMAHINT_PLACEMENT_BATCH;
}

void numahint_placement_set_params(NumahintPlacement *p,
                                   const NumahintPlacementParams *params)
{
    p->params = *params;
}

void numahint_placement_set_time(NumahintPlacement *p, uint64_t now_ms)
{
    p->now_ms = now_ms;
}

void numahint_placement_flush(NumahintPlacement *p)
{
    /* Pages in flight are accounted when their work is. */
    p->stats.pages_flushed += p->stats.pages_pending - p->pages_in_flight;
    p->stats.pages_pending = p->pages_in_flight;
    p->queue_len = 0;
    p->inbox_len = 0;
    p->inbox_pages = 0;
}

int numahint_placement_set_ram(NumahintPlacement *p,
                               const NumahintRamRegion *regions,
                               unsigned int nr_regions)
{
    unsigned int i;

    for (i = 0; i < nr_regions; i++) {
        const NumahintRamRegion *r = &regions[i];
        uint64_t mask = r->host_page_size - 1;

        if (r->host_page_size < NUMAHINT_PLACEMENT_PAGE_SIZE ||
            (r->host_page_size & mask) || !r->size ||
            ((r->gpa | r->size | (uintptr_t)r->hva) & mask) ||
            r->gpa + r->size < r->gpa) {
            return -EINVAL;
        }
        if (i && regions[i - 1].gpa + regions[i - 1].size > r->gpa) {
            return -EINVAL;
        }
    }
    numahint_placement_flush(p);
    p->regions = regions;
    p->nr_regions = nr_regions;
    numahint_placement_set_split_pages(p, p->split_pages, p->nr_split_pages);
    return 0;
}

void numahint_placement_set_split_pages(NumahintPlacement *p,
                                        NumahintSplitPage *pages,
                                        unsigned int nr)
{
    unsigned int i;

    for (i = 0; i < nr; i++) {
        pages[i].gpa = UINT64_MAX;
    }
    p->split_pages = pages;
    p->nr_split_pages = nr;
    p->split_cursor = 0;
    p->split_pages_used = 0;
}

bool numahint_placement_has_split_pages(const NumahintPlacement *p)
{
    return p->split_pages_used;
}

int numahint_placement_set_vcpus(NumahintPlacement *p,
                                 const NumahintVcpuNode *vcpus,
                                 unsigned int nr_vcpus)
{
    unsigned int i;

    for (i = 1; i < nr_vcpus; i++) {
        if (vcpus[i - 1].cpu_id >= vcpus[i].cpu_id) {
            return -EINVAL;
        }
    }
    p->vcpus = vcpus;
    p->nr_vcpus = nr_vcpus;
    return 0;
}

/* The RAM region that holds @gpa, or NULL. */
static const NumahintRamRegion *
numahint_placement_find_region(const NumahintPlacement *p, uint64_t gpa)
{
    unsigned int lo = 0, hi = p->nr_regions;

    /* Find the first region that starts above gpa; the one before it. */
    while (lo < hi) {
        unsigned int mid = lo + (hi - lo) / 2;

        if (p->regions[mid].gpa <= gpa) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (!lo || gpa - p->regions[lo - 1].gpa >= p->regions[lo - 1].size) {
        return NULL;
    }
    return &p->regions[lo - 1];
}

static const NumahintVcpuNode *
numahint_placement_find_vcpu(const NumahintPlacement *p, uint32_t cpu_id)
{
    unsigned int lo = 0, hi = p->nr_vcpus;

    while (lo < hi) {
        unsigned int mid = lo + (hi - lo) / 2;

        if (p->vcpus[mid].cpu_id == cpu_id) {
            return &p->vcpus[mid];
        }
        if (p->vcpus[mid].cpu_id < cpu_id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

/* Index of the first queued extent whose end is at or above @gpa. */
static unsigned int numahint_placement_first_ending_at(
    const NumahintPlacement *p, uint64_t gpa)
{
    unsigned int lo = 0, hi = p->queue_len;

    while (lo < hi) {
        unsigned int mid = lo + (hi - lo) / 2;

        if (p->queue[mid].end < gpa) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* Bytes of @e inside [start, end). */
static uint64_t numahint_placement_overlap(const NumahintPlacementExtent *e,
                                          uint64_t start, uint64_t end)
{
    uint64_t lo = e->start > start ? e->start : start;
    uint64_t hi = e->end < end ? e->end : end;

    return hi > lo ? hi - lo : 0;
}

/* Widen @e's times to cover @first and @last. */
static void numahint_placement_span_times(NumahintPlacementExtent *e,
                                          uint64_t first, uint64_t last)
{
    if (first < e->first_ms) {
        e->first_ms = first;
    }
    if (last > e->last_ms) {
        e->last_ms = last;
    }
}

/*
 * Queue [start, end) for @node over whatever the queue holds there, and
 * merge it with the queued extents of the same node that it overlaps or
 * touches.  Returns false, leaving the queue as it was, if that needs
 * more room than the queue has.
 */
static bool numahint_placement_enqueue(NumahintPlacement *p, uint64_t start,
                                       uint64_t end, int node)
{
    NumahintPlacementExtent *q = p->queue;
    NumahintPlacementExtent pieces[3], right;
    NumahintPlacementExtent new = {
        .start = start, .end = end, .node = node,
        .first_ms = p->now_ms, .last_ms = p->now_ms, .fresh = true,
    };
    uint64_t len = end - start, replaced = 0;
    unsigned int first, last, nr = 0, k;
    bool split_right = false;

    /* q[first..last) overlap or touch [start, end). */
    first = numahint_placement_first_ending_at(p, start);
    for (last = first; last < p->queue_len && q[last].start <= end; last++) {
        uint64_t overlap = numahint_placement_overlap(&q[last], start, end);

        /* The pages it replaces have waited since their first event. */
        if (overlap && q[last].first_ms < new.first_ms) {
            new.first_ms = q[last].first_ms;
        }
        replaced += overlap;
    }

    /* What is left of them on either side, merged if of the same node. */
    if (first < last && q[first].start < start) {
        if (q[first].node == node) {
            new.start = q[first].start;
            numahint_placement_span_times(&new, q[first].first_ms,
                                          q[first].last_ms);
        } else {
            pieces[nr] = q[first];
            pieces[nr++].end = start;
        }
    }
    if (first < last && q[last - 1].end > end) {
        if (q[last - 1].node == node) {
            new.end = q[last - 1].end;
            numahint_placement_span_times(&new, q[last - 1].first_ms,
                                          q[last - 1].last_ms);
        } else {
            right = q[last - 1];
            right.start = end;
            split_right = true;
        }
    }
    pieces[nr++] = new;
    if (split_right) {
        pieces[nr++] = right;
    }

    if (p->queue_len - (last - first) + nr > p->queue_capacity) {
        return false;
    }
    memmove(&q[first + nr], &q[last], (p->queue_len - last) * sizeof(*q));
    for (k = 0; k < nr; k++) {
        q[first + k] = pieces[k];
    }
    p->queue_len = p->queue_len - (last - first) + nr;
    p->stats.pages_superseded += replaced >> NUMAHINT_PLACEMENT_PAGE_SHIFT;
    p->stats.pages_pending += (len - replaced) >>
                              NUMAHINT_PLACEMENT_PAGE_SHIFT;
    return true;
}

/* Order of the inbox's events by start, then as they came. */
static int numahint_placement_by_start(const void *a, const void *b)
{
    const NumahintPlacementExtent *x = a, *y = b;

    if (x->start != y->start) {
        return x->start < y->start ? -1 : 1;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The inbox heap: the latest event (highest seq) at the top. */
static void numahint_placement_heap_push(NumahintPlacementExtent *heap,
                                         unsigned int *len,
                                         const NumahintPlacementExtent *e)
{
    unsigned int i = (*len)++;

    while (i && heap[(i - 1) / 2].seq < e->seq) {
        heap[i] = heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    heap[i] = *e;
}

static void numahint_placement_heap_pop(NumahintPlacementExtent *heap,
                                        unsigned int *len)
{
    NumahintPlacementExtent last = heap[--*len];
    unsigned int i = 0, child;

    while ((child = 2 * i + 1) < *len) {
        if (child + 1 < *len && heap[child + 1].seq > heap[child].seq) {
            child++;
        }
        if (heap[child].seq <= last.seq) {
            break;
        }
        heap[i] = heap[child];
        i = child;
    }
    heap[i] = last;
}

/*
 * Whether [start, ...) of @e would merge with the last of @out's @len: they
 * touch, name one node, and are both new to a plan or both not.
 */
static bool numahint_placement_joins(const NumahintPlacementExtent *out,
                                     unsigned int len,
                                     const NumahintPlacementExtent *e,
                                     uint64_t start)
{
    return len && out[len - 1].end == start && out[len - 1].node == e->node &&
           out[len - 1].fresh == e->fresh;
}

/*
 * Append [start, end) of @e to @out (of *@len extents), merged with the
 * last one where they touch and agree.
 */
static void numahint_placement_append(NumahintPlacementExtent *out,
                                      unsigned int *len,
                                      const NumahintPlacementExtent *e,
                                      uint64_t start, uint64_t end)
{
    if (numahint_placement_joins(out, *len, e, start)) {
        out[*len - 1].end = end;
        numahint_placement_span_times(&out[*len - 1], e->first_ms,
                                      e->last_ms);
        return;
    }
    out[*len] = *e;
    out[*len].start = start;
    out[*len].end = end;
    ++*len;
}

/*
 * The inbox's events as disjoint extents, sorted, each address taken by
 * the latest event that names it: a sweep over the events by start, with
 * the events that cover the sweep's position in a heap.  Returns how many
 * extents it wrote to inbox_sweep (at most twice the events).
 */
static unsigned int numahint_placement_sweep(NumahintPlacement *p)
{
    NumahintPlacementExtent *ev = p->inbox, *heap = p->inbox_heap;
    unsigned int i = 0, nr_heap = 0, nr = 0;
    uint64_t pos = 0;

    qsort(ev, p->inbox_len, sizeof(*ev), numahint_placement_by_start);
    while (i < p->inbox_len || nr_heap) {
        uint64_t next;

        if (!nr_heap) {
            pos = ev[i].start;
        }
        while (i < p->inbox_len && ev[i].start <= pos) {
            numahint_placement_heap_push(heap, &nr_heap, &ev[i++]);
        }
        /* Events that ended; one that ended below the top surfaces later. */
        while (nr_heap && heap[0].end <= pos) {
            numahint_placement_heap_pop(heap, &nr_heap);
        }
        if (!nr_heap) {
            continue;
        }
        next = heap[0].end;
        if (i < p->inbox_len && ev[i].start < next) {
            next = ev[i].start;
        }
        numahint_placement_append(p->inbox_sweep, &nr, &heap[0], pos, next);
        pos = next;
    }
    return nr;
}

void numahint_placement_drain(NumahintPlacement *p)
{
    const NumahintPlacementExtent *in;
    NumahintPlacementExtent *q = p->queue, *out = p->queue_spare;
    unsigned int nr_in, i = 0, k, len = 0;
    uint64_t placed = 0, replaced = 0;

    if (!p->inbox_len) {
        return;
    }
    nr_in = numahint_placement_sweep(p);
    in = p->inbox_sweep;
    /* Lay the sweep's extents over the queue; q[i] is trimmed in place. */
    for (k = 0; k < nr_in; k++) {
        NumahintPlacementExtent e = in[k];

        placed += e.end - e.start;
        while (i < p->queue_len && q[i].end <= e.start) {
            numahint_placement_append(out, &len, &q[i], q[i].start, q[i].end);
            i++;
        }
        if (i < p->queue_len && q[i].start < e.start) {
            numahint_placement_append(out, &len, &q[i], q[i].start, e.start);
            q[i].start = e.start;
        }
        /* What it covers is replaced; its pages have waited since then. */
        while (i < p->queue_len && q[i].start < e.end) {
            uint64_t end = q[i].end < e.end ? q[i].end : e.end;

            replaced += end - q[i].start;
            if (q[i].first_ms < e.first_ms) {
                e.first_ms = q[i].first_ms;
            }
            if (q[i].end > e.end) {
                q[i].start = e.end;
                break;
            }
            i++;
        }
        numahint_placement_append(out, &len, &e, e.start, e.end);
    }
    for (; i < p->queue_len; i++) {
        numahint_placement_append(out, &len, &q[i], q[i].start, q[i].end);
    }
    p->queue_spare = p->queue;
    p->queue = out;
    p->queue_len = len;
    /* Pages named twice in the inbox, or queued already, are superseded. */
    replaced += (p->inbox_pages << NUMAHINT_PLACEMENT_PAGE_SHIFT) - placed;
    p->stats.pages_superseded += replaced >> NUMAHINT_PLACEMENT_PAGE_SHIFT;
    p->stats.pages_pending -= replaced >> NUMAHINT_PLACEMENT_PAGE_SHIFT;
    p->inbox_len = 0;
    p->inbox_pages = 0;
}

/*
 * Queue [start, end) for @node: into the inbox while the queue has room
 * for all it holds, at once otherwise.  Returns false if there is no room.
 */
static bool numahint_placement_inbox_add(NumahintPlacement *p, uint64_t start,
                                         uint64_t end, int node)
{
    uint64_t pages = (end - start) >> NUMAHINT_PLACEMENT_PAGE_SHIFT;

    if (p->inbox_len == p->inbox_capacity ||
        p->queue_len + 2 * (uint64_t)(p->inbox_len + 1) > p->queue_capacity) {
        numahint_placement_drain(p);
    }
    /*
     * Nearly full, so that the inbox would be drained every few events:
     * insert it at once (the inbox is empty, so it comes after all that
     * came before).  Whether it fits depends on what it merges with.
     */
    if (!p->inbox_len && p->queue_len + 2 + p->inbox_capacity / 2 >
                         p->queue_capacity) {
        return numahint_placement_enqueue(p, start, end, node);
    }
    p->inbox[p->inbox_len] = (NumahintPlacementExtent) {
        .start = start, .end = end, .node = node, .seq = p->inbox_len,
        .first_ms = p->now_ms, .last_ms = p->now_ms, .fresh = true,
    };
    p->inbox_len++;
    p->inbox_pages += pages;
    p->stats.pages_pending += pages;
    return true;
}

NumahintPlacementVerdict numahint_placement_add(NumahintPlacement *p,
                                                uint64_t addr,
                                                uint32_t nr_pages,
                                                uint32_t cpu_id)
{
    uint64_t len = (uint64_t)nr_pages << NUMAHINT_PLACEMENT_PAGE_SHIFT;
    const NumahintRamRegion *r;
    const NumahintVcpuNode *vcpu;

    p->stats.events++;
    if ((addr & (NUMAHINT_PLACEMENT_PAGE_SIZE - 1)) || !nr_pages ||
        addr > UINT64_MAX - len) {
        p->stats.events_bad_extent++;
        return NUMAHINT_PLACEMENT_REJECTED;
    }
    r = numahint_placement_find_region(p, addr);
    if (!r || len > r->size - (addr - r->gpa)) {
        p->stats.events_bad_extent++;
        return NUMAHINT_PLACEMENT_REJECTED;
    }
    vcpu = numahint_placement_find_vcpu(p, cpu_id);
    if (!vcpu) {
        p->stats.events_bad_cpu++;
        return NUMAHINT_PLACEMENT_REJECTED;
    }
    if (vcpu->node < 0) {
        p->stats.events_unplaced++;
        return NUMAHINT_PLACEMENT_DROPPED;
    }
    if (r->pinned) {
        p->stats.events_pinned++;
        return NUMAHINT_PLACEMENT_DROPPED;
    }
    if (r->allowed_nodes && (vcpu->node >= 64 ||
                             !(r->allowed_nodes & (1ULL << vcpu->node)))) {
        p->stats.events_bound++;
        return NUMAHINT_PLACEMENT_DROPPED;
    }
    if (!numahint_placement_inbox_add(p, addr, addr + len, vcpu->node)) {
        p->stats.events_dropped++;
        return NUMAHINT_PLACEMENT_DROPPED;
    }
    p->stats.events_accepted++;
    p->stats.pages_accepted += nr_pages;
    return NUMAHINT_PLACEMENT_ACCEPTED;
}

/* page_state: the engine split this huge page. */
#define NUMAHINT_PAGE_SPLIT     (1U << 31)
/* page_state: the page moved at the time in the low bits. */
#define NUMAHINT_PAGE_MOVED     (1U << 30)
#define NUMAHINT_PAGE_TIME_MASK (NUMAHINT_PAGE_MOVED - 1)

/* The page state word of the host page of @r at @gpa, or NULL. */
static uint32_t *numahint_placement_page_state(const NumahintRamRegion *r,
                                               uint64_t gpa)
{
    return r->page_state ?
           &r->page_state[(gpa - r->gpa) / r->host_page_size] : NULL;
}

/* 4 KiB parts of a host page of region @r. */
static unsigned int numahint_placement_parts(const NumahintRamRegion *r)
{
    return r->host_page_size >> NUMAHINT_PLACEMENT_PAGE_SHIFT;
}

/* The record of the split host page at @gpa, or NULL. */
static NumahintSplitPage *numahint_placement_find_split(NumahintPlacement *p,
                                                        uint64_t gpa)
{
    unsigned int i;

    for (i = 0; p->split_pages_used && i < p->nr_split_pages; i++) {
        if (p->split_pages[i].gpa == gpa) {
            return &p->split_pages[i];
        }
    }
    return NULL;
}

static void numahint_placement_drop_split(NumahintPlacement *p,
                                          NumahintSplitPage *sp)
{
    sp->gpa = UINT64_MAX;
    p->split_pages_used--;
}

/*
 * Remember the host page of @r at @gpa, which was just split, and where
 * each of its parts is: one query of them all.
 */
static void numahint_placement_record_split(NumahintPlacement *p,
                                            const NumahintRamRegion *r,
                                            uint64_t gpa)
{
    unsigned int parts = numahint_placement_parts(r), i, j, n;
    void *pages[NUMAHINT_PLACEMENT_BATCH];
    int status[NUMAHINT_PLACEMENT_BATCH];
    NumahintSplitPage *sp = numahint_placement_find_split(p, gpa);

    if (!sp) {
        if (p->split_pages_used == p->nr_split_pages ||
            parts > NUMAHINT_PLACEMENT_MAX_PARTS) {
            p->stats.huge_untracked++;
            return;
        }
        for (i = 0; p->split_pages[i].gpa != UINT64_MAX; i++) {
            continue;
        }
        sp = &p->split_pages[i];
        p->split_pages_used++;
    }
    sp->gpa = gpa;
    sp->checked_ms = p->now_ms;
    sp->recheck = false;
    sp->collapsed = false;
    sp->busy = false;
    sp->busy_checks = 0;
    memset(sp->node, NUMAHINT_PLACEMENT_NO_NODE, sizeof(sp->node));
    for (i = 0; i < parts; i += n) {
        int ret;

        n = parts - i < NUMAHINT_PLACEMENT_BATCH ?
            parts - i : NUMAHINT_PLACEMENT_BATCH;
        for (j = 0; j < n; j++) {
            pages[j] = (char *)r->hva + (gpa - r->gpa) +
                       (uint64_t)(i + j) * NUMAHINT_PLACEMENT_PAGE_SIZE;
        }
        p->stats.query_calls++;
        ret = p->ops->query_nodes(p->opaque, pages, n, status);
        for (j = 0; ret >= 0 && j < n; j++) {
            if (status[j] >= 0 && status[j] < NUMAHINT_PLACEMENT_NO_NODE) {
                sp->node[i + j] = status[j];
            }
        }
    }
}

void numahint_placement_forget(NumahintPlacement *p, uint64_t gpa,
                               uint64_t size)
{
    uint64_t end = gpa + size;
    unsigned int i;

    if (end < gpa) {
        end = UINT64_MAX;
    }
    /* The host pages the range covers whole are no longer split. */
    for (i = 0; i < p->nr_regions; i++) {
        const NumahintRamRegion *r = &p->regions[i];
        uint64_t mask = r->host_page_size - 1, first, last, hp;

        if (gpa > UINT64_MAX - mask) {
            continue;
        }
        first = gpa > r->gpa ? (gpa + mask) & ~mask : r->gpa;
        last = end < r->gpa + r->size ? end & ~mask : r->gpa + r->size;
        for (hp = first; r->page_state && hp < last; hp += mask + 1) {
            *numahint_placement_page_state(r, hp) &= ~NUMAHINT_PAGE_SPLIT;
        }
    }
    /* Their parts belong nowhere until the guest says so again. */
    for (i = 0; p->split_pages_used && i < p->nr_split_pages; i++) {
        NumahintSplitPage *sp = &p->split_pages[i];
        const NumahintRamRegion *r;
        uint64_t lo, hi, addr;
        bool known = false;
        unsigned int k;

        if (sp->gpa == UINT64_MAX || sp->gpa >= end) {
            continue;
        }
        r = numahint_placement_find_region(p, sp->gpa);
        if (!r || sp->gpa + r->host_page_size <= gpa) {
            continue;
        }
        lo = gpa > sp->gpa ? gpa : sp->gpa;
        hi = end < sp->gpa + r->host_page_size ?
             end : sp->gpa + r->host_page_size;
        for (addr = lo & ~(NUMAHINT_PLACEMENT_PAGE_SIZE - 1); addr < hi;
             addr += NUMAHINT_PLACEMENT_PAGE_SIZE) {
            sp->node[(addr - sp->gpa) >> NUMAHINT_PLACEMENT_PAGE_SHIFT] =
                NUMAHINT_PLACEMENT_NO_NODE;
        }
        for (k = 0; k < numahint_placement_parts(r) && !known; k++) {
            known = sp->node[k] != NUMAHINT_PLACEMENT_NO_NODE;
        }
        if (!known) {
            numahint_placement_drop_split(p, sp);
        }
    }
}

/*
 * Count @pages placed @delay_ms after their oldest event came: the
 * placed_* counters are a histogram of the delay, and placed_max_ms its
 * largest value.
 */
static void numahint_placement_count_placed(NumahintPlacementStats *s,
                                            uint64_t delay_ms, uint64_t pages)
{
    static const struct {
        uint64_t ms;
        size_t offset;
    } buckets[] = {
        { 10, offsetof(NumahintPlacementStats, placed_10ms) },
        { 50, offsetof(NumahintPlacementStats, placed_50ms) },
        { 100, offsetof(NumahintPlacementStats, placed_100ms) },
        { 150, offsetof(NumahintPlacementStats, placed_150ms) },
        { 200, offsetof(NumahintPlacementStats, placed_200ms) },
        { 500, offsetof(NumahintPlacementStats, placed_500ms) },
        { 1000, offsetof(NumahintPlacementStats, placed_1s) },
        { 5000, offsetof(NumahintPlacementStats, placed_5s) },
        { UINT64_MAX, offsetof(NumahintPlacementStats, placed_later) },
    };
    unsigned int i = 0;

    while (delay_ms > buckets[i].ms) {
        i++;
    }
    *(uint64_t *)((char *)s + buckets[i].offset) += pages;
    if (delay_ms > s->placed_max_ms) {
        s->placed_max_ms = delay_ms;
    }
}

/* Count @weight pages whose host page could not be placed: @status. */
static void numahint_placement_count_failure(NumahintPlacementStats *s,
                                             int status, uint64_t weight)
{
    switch (status) {
    case -EBUSY:
    case -EAGAIN:
        s->pages_failed_busy += weight;
        break;
    case -ENOMEM:
        s->pages_failed_nomem += weight;
        break;
    case -EFAULT:
        s->pages_failed_fault += weight;
        break;
    default:
        s->pages_failed_other += weight;
        break;
    }
}

/*
 * Query the @n items of @work from @first and move those that are not on
 * their node.  One query call and at most one move call.
 */
static void numahint_placement_execute_batch(const NumahintPlacementOps *ops,
                                             void *opaque,
                                             NumahintPlacementWork *work,
                                             unsigned int first,
                                             unsigned int n)
{
    NumahintPlacementItem *item = &work->items[first];
    unsigned int i, nr_move = 0;
    void *split = NULL;
    int ret, split_ret = 0;

    for (i = 0; i < n; i++) {
        work->pages[i] = item[i].page;
    }
    work->query_calls++;
    ret = ops->query_nodes(opaque, work->pages, n, work->status);
    for (i = 0; i < n; i++) {
        int status = ret < 0 ? ret : work->status[i];

        item[i].status = status;
        if (ret < 0) {
            item[i].outcome = NUMAHINT_PLACEMENT_FAILED;
        } else if (status == item[i].node) {
            item[i].outcome = NUMAHINT_PLACEMENT_LOCAL;
        } else if (status >= 0) {
            /*
             * A part of a split page: khugepaged may have collapsed the
             * page again since, and then the part would move it whole.
             */
            if (item[i].whole && item[i].whole != split && ops->split) {
                split = item[i].whole;
                work->split_calls++;
                split_ret = ops->split(opaque, split, item[i].whole_size);
            }
            if (item[i].whole && split_ret < 0) {
                item[i].status = split_ret;
                item[i].outcome = NUMAHINT_PLACEMENT_FAILED;
                continue;
            }
            work->pages[nr_move] = item[i].page;
            work->nodes[nr_move] = item[i].node;
            work->index[nr_move++] = i;
        } else if (status == -ENOENT || status == -EFAULT) {
            /*
             * No page of our own: not present, or the shared zero page
             * (-EFAULT; older kernels also say -EFAULT for a missing
             * page table).  First touch will place it.
             */
            item[i].outcome = NUMAHINT_PLACEMENT_ABSENT;
        } else {
            item[i].outcome = NUMAHINT_PLACEMENT_FAILED;
        }
    }
    if (!nr_move) {
        return;
    }

    work->move_calls++;
    ret = ops->move_pages(opaque, work->pages, nr_move, work->nodes,
                          work->status);
    for (i = 0; i < nr_move; i++) {
        NumahintPlacementItem *it = &item[work->index[i]];
        int status = ret < 0 ? ret : work->status[i];

        it->status = status;
        if (status == it->node) {
            it->outcome = NUMAHINT_PLACEMENT_MIGRATED;
        } else if (status == -ENOENT) {
            /* Freed by the guest's balloon or discarded meanwhile. */
            it->outcome = NUMAHINT_PLACEMENT_ABSENT;
        } else {
            /* A negative errno, or (never seen) another node. */
            it->outcome = NUMAHINT_PLACEMENT_FAILED;
        }
    }
}

void numahint_placement_execute(const NumahintPlacementOps *ops,
                                void *opaque, NumahintPlacementWork *work)
{
    unsigned int i, n;

    for (i = 0; i < work->len; i += n) {
        n = work->len - i < NUMAHINT_PLACEMENT_BATCH ?
            work->len - i : NUMAHINT_PLACEMENT_BATCH;
        numahint_placement_execute_batch(ops, opaque, work, i, n);
    }
}

void numahint_placement_account(NumahintPlacement *p,
                                NumahintPlacementWork *work)
{
    NumahintPlacementStats *s = &p->stats;
    unsigned int i;

    for (i = 0; i < work->len; i++) {
        const NumahintPlacementItem *it = &work->items[i];

        if (it->why == NUMAHINT_PLACEMENT_EVENT &&
            (it->outcome == NUMAHINT_PLACEMENT_LOCAL ||
             it->outcome == NUMAHINT_PLACEMENT_MIGRATED)) {
            numahint_placement_count_placed(s, work->now_ms - it->first_ms,
                                            it->weight);
        }
        switch (it->outcome) {
        case NUMAHINT_PLACEMENT_LOCAL:
            s->pages_local += it->weight;
            break;
        case NUMAHINT_PLACEMENT_MIGRATED:
            s->pages_migrated += it->weight;
            s->bytes_migrated += it->size;
            if (it->why != NUMAHINT_PLACEMENT_EVENT) {
                s->parts_restored++;
            }
            /*
             * Collapsed, or moved by someone else: put every part back,
             * at once.  Counted once a check, whatever else it found.
             */
            if (it->why == NUMAHINT_PLACEMENT_PROBE &&
                it->split->gpa != UINT64_MAX && !it->split->collapsed) {
                s->huge_collapsed++;
                it->split->collapsed = true;
                it->split->recheck = true;
                it->split->checked_ms = 0;
            }
            if (it->state) {
                *it->state = (*it->state & NUMAHINT_PAGE_SPLIT) |
                             NUMAHINT_PAGE_MOVED |
                             (work->now_ms & NUMAHINT_PAGE_TIME_MASK);
            }
            break;
        case NUMAHINT_PLACEMENT_ABSENT:
            s->pages_absent += it->weight;
            break;
        default:
            numahint_placement_count_failure(s, it->status, it->weight);
            /*
             * A part that could not be put back now may be off its node
             * while the part a probe looks at is on it: check them all
             * again, for a few checks in a row.
             */
            if (it->why != NUMAHINT_PLACEMENT_EVENT &&
                (it->status == -EBUSY || it->status == -EAGAIN) &&
                it->split->gpa != UINT64_MAX) {
                it->split->busy = true;
                if (it->split->busy_checks < NUMAHINT_PLACEMENT_BUSY_CHECKS) {
                    it->split->recheck = true;
                }
            }
            break;
        }
        s->pages_pending -= it->weight;
        p->pages_in_flight -= it->weight;
    }
    s->query_calls += work->query_calls;
    s->move_calls += work->move_calls;
    s->split_calls += work->split_calls;
    work->query_calls = 0;
    work->move_calls = 0;
    work->split_calls = 0;
    work->len = 0;
}

/* What a run does with one host page. */
typedef enum NumahintHostPageDecision {
    /* Keep its events queued for a later pass. */
    NUMAHINT_HOLD,
    /* The same, without looking at them: it moved too recently. */
    NUMAHINT_COOLING,
    /* Move it whole to the majority's node. */
    NUMAHINT_MOVE_WHOLE,
    /* Move each named 4 KiB part to the node of its own events. */
    NUMAHINT_MOVE_PARTS,
    /* Leave it where it is. */
    NUMAHINT_LEAVE,
    /* It is on the node its events name already. */
    NUMAHINT_LOCAL,
} NumahintHostPageDecision;

/* One host page of a run, and the queued events inside it. */
typedef struct NumahintHostPage {
    const NumahintRamRegion *region;
    uint64_t start;
    uint64_t end;
    uint32_t *state;
    /* q[first..last) overlap [start, end); count from @from on. */
    unsigned int first;
    unsigned int last;
    uint64_t from;
    /* 4 KiB pages named, and by the majority's node (if any). */
    uint64_t covered;
    uint64_t votes;
    int candidate;
    /* The oldest and the newest of its events. */
    uint64_t first_ms;
    uint64_t last_ms;
    /* Some of its events are new to a plan. */
    bool fresh;
} NumahintHostPage;

/* The part of queued extent @e in the host page, from hp->from on. */
static void numahint_placement_clip(const NumahintHostPage *hp,
                                    const NumahintPlacementExtent *e,
                                    uint64_t *start, uint64_t *end)
{
    uint64_t lo = hp->from > hp->start ? hp->from : hp->start;

    *start = e->start > lo ? e->start : lo;
    *end = e->end < hp->end ? e->end : hp->end;
}

/*
 * Gather the host page that holds @from, the first address of the queue
 * not yet taken, and the events of q[@first...] inside it.
 */
static void numahint_placement_gather(const NumahintPlacement *p,
                                      const NumahintPlacementExtent *q,
                                      unsigned int len, unsigned int first,
                                      uint64_t from, NumahintHostPage *hp)
{
    const NumahintRamRegion *r = numahint_placement_find_region(p, from);
    uint64_t lead = 0;
    unsigned int i;

    hp->region = r;
    hp->start = from & ~(r->host_page_size - 1);
    hp->end = hp->start + r->host_page_size;
    hp->state = numahint_placement_page_state(r, hp->start);
    hp->first = first;
    hp->from = from;
    hp->covered = 0;
    hp->votes = 0;
    hp->candidate = -1;
    hp->first_ms = UINT64_MAX;
    hp->last_ms = 0;
    hp->fresh = false;

    /*
     * Weighted Boyer-Moore vote: if a node covers more than half of the
     * host page, it is the candidate left at the end.
     */
    for (i = first; i < len && q[i].start < hp->end; i++) {
        uint64_t start, end, weight;

        numahint_placement_clip(hp, &q[i], &start, &end);
        weight = (end - start) >> NUMAHINT_PLACEMENT_PAGE_SHIFT;
        hp->covered += weight;
        if (q[i].node == hp->candidate) {
            lead += weight;
        } else if (weight <= lead) {
            lead -= weight;
        } else {
            hp->candidate = q[i].node;
            lead = weight - lead;
        }
        if (q[i].first_ms < hp->first_ms) {
            hp->first_ms = q[i].first_ms;
        }
        if (q[i].last_ms > hp->last_ms) {
            hp->last_ms = q[i].last_ms;
        }
        hp->fresh |= q[i].fresh;
    }
    hp->last = i;
    for (i = first; i < hp->last; i++) {
        uint64_t start, end;

        if (q[i].node == hp->candidate) {
            numahint_placement_clip(hp, &q[i], &start, &end);
            hp->votes += (end - start) >> NUMAHINT_PLACEMENT_PAGE_SHIFT;
        }
    }
}

/* Whether the host page of @word (NULL: none kept) moved too recently. */
static bool numahint_placement_cooling(const NumahintPlacement *p,
                                       const uint32_t *word)
{
    uint32_t state = word ? *word : 0;

    return p->params.cooldown_ms && (state & NUMAHINT_PAGE_MOVED) &&
           ((p->now_ms - state) & NUMAHINT_PAGE_TIME_MASK) <
           p->params.cooldown_ms;
}

/* The node the host page is on now, or a negative errno: one query. */
static int numahint_placement_node_of(NumahintPlacement *p,
                                      const NumahintHostPage *hp)
{
    void *page = (char *)hp->region->hva + (hp->start - hp->region->gpa);
    int status, ret;

    p->plan_queries++;
    p->stats.query_calls++;
    ret = p->ops->query_nodes(p->opaque, &page, 1, &status);
    return ret < 0 ? ret : status;
}

static NumahintHostPageDecision
numahint_placement_decide(NumahintPlacement *p, NumahintHostPage *hp)
{
    uint64_t half = hp->region->host_page_size >>
                    (NUMAHINT_PLACEMENT_PAGE_SHIFT + 1);
    bool split = hp->state && (*hp->state & NUMAHINT_PAGE_SPLIT);
    bool one_node = hp->votes == hp->covered;
    bool asked = false;

    if (numahint_placement_cooling(p, hp->state)) {
        p->stats.cooling_holds++;
        return NUMAHINT_COOLING;
    }
    if (split) {
        return NUMAHINT_MOVE_PARTS;
    }
    if (hp->votes > half) {
        return NUMAHINT_MOVE_WHOLE;
    }
    /*
     * All the events name one node and some are new: where the page is
     * on that node already, a majority would not move it, nor would the
     * settle time split it, so there is nothing to wait for.  One query
     * per host page each time new events come, not per pass held.
     */
    if (one_node && hp->fresh) {
        if (numahint_placement_node_of(p, hp) == hp->candidate) {
            return NUMAHINT_LOCAL;
        }
        asked = true;
    }
    if (p->now_ms - hp->last_ms < p->params.settle_ms &&
        p->now_ms - hp->first_ms < p->params.max_hold_ms) {
        return NUMAHINT_HOLD;
    }
    /*
     * No majority, and there will be none.  Where all the events name one
     * node, the page may be there already (moved whole by earlier
     * events): then nothing is contended and nothing is split.  Not asked
     * twice in one plan.
     */
    if (one_node && !asked &&
        numahint_placement_node_of(p, hp) == hp->candidate) {
        return NUMAHINT_LOCAL;
    }
    if (hp->region->splittable && p->ops->split) {
        int ret;

        p->stats.split_calls++;
        ret = p->ops->split(p->opaque, (char *)hp->region->hva +
                            (hp->start - hp->region->gpa),
                            hp->region->host_page_size);
        if (!ret) {
            p->stats.huge_split++;
            if (hp->state) {
                *hp->state |= NUMAHINT_PAGE_SPLIT;
            }
            numahint_placement_record_split(p, hp->region, hp->start);
            return NUMAHINT_MOVE_PARTS;
        }
    }
    p->stats.huge_left++;
    return NUMAHINT_LEAVE;
}

/* Add one host page to the work. */
static void numahint_placement_work_add(NumahintPlacement *p,
                                        NumahintPlacementWork *work,
                                        void *page, int node,
                                        uint64_t weight, uint64_t size,
                                        uint32_t *state)
{
    work->items[work->len++] = (NumahintPlacementItem) {
        .page = page, .size = size, .node = node, .weight = weight,
        .state = state,
    };
    p->pages_in_flight += weight;
}

/*
 * Add the 4 KiB part at @gpa of the split host page at @hp_gpa of @r to
 * the work, to be split again before it moves: khugepaged may have
 * collapsed the page since, or the split a moment ago may not have
 * happened (MADV_COLD does not say whether the kernel split).
 */
static void numahint_placement_work_add_part(NumahintPlacement *p,
                                             NumahintPlacementWork *work,
                                             const NumahintRamRegion *r,
                                             uint64_t hp_gpa, uint64_t gpa,
                                             int node, uint32_t weight,
                                             NumahintPlacementWhy why,
                                             uint32_t *state,
                                             NumahintSplitPage *sp)
{
    char *whole = (char *)r->hva + (hp_gpa - r->gpa);

    work->items[work->len++] = (NumahintPlacementItem) {
        .page = whole + (gpa - hp_gpa),
        .size = NUMAHINT_PLACEMENT_PAGE_SIZE,
        .node = node, .weight = weight, .why = why, .state = state,
        .whole = whole,
        .whole_size = r->host_page_size,
        .split = sp,
    };
    p->pages_in_flight += weight;
}

/*
 * Carry the host page's events out of the queue into the batch as @how
 * says.  Returns the 4 KiB pages of host memory it will examine.
 */
static uint64_t numahint_placement_take(NumahintPlacement *p,
                                        const NumahintPlacementExtent *q,
                                        const NumahintHostPage *hp,
                                        NumahintHostPageDecision how,
                                        NumahintPlacementWork *work)
{
    const NumahintRamRegion *r = hp->region;
    NumahintSplitPage *sp;
    uint64_t used = 0;
    unsigned int i;

    /* Pages in work stay pending until accounted. */
    switch (how) {
    case NUMAHINT_MOVE_WHOLE:
        if (r->host_page_size > NUMAHINT_PLACEMENT_PAGE_SIZE) {
            p->stats.huge_moved++;
        }
        p->stats.pages_pending -= hp->covered - hp->votes;
        p->stats.pages_contended += hp->covered - hp->votes;
        numahint_placement_work_add(p, work, (char *)r->hva +
                                    (hp->start - r->gpa), hp->candidate,
                                    hp->votes, r->host_page_size, hp->state);
        work->items[work->len - 1].first_ms = hp->first_ms;
        return r->host_page_size >> NUMAHINT_PLACEMENT_PAGE_SHIFT;
    case NUMAHINT_MOVE_PARTS:
        sp = numahint_placement_find_split(p, hp->start);
        for (i = hp->first; i < hp->last; i++) {
            uint64_t start, end, gpa;

            numahint_placement_clip(hp, &q[i], &start, &end);
            for (gpa = start; gpa < end; gpa += NUMAHINT_PLACEMENT_PAGE_SIZE) {
                /* The part belongs with its latest user from now on. */
                if (sp && q[i].node < NUMAHINT_PLACEMENT_NO_NODE) {
                    sp->node[(gpa - hp->start) >>
                             NUMAHINT_PLACEMENT_PAGE_SHIFT] = q[i].node;
                }
                numahint_placement_work_add_part(p, work, r, hp->start, gpa,
                                                 q[i].node, 1,
                                                 NUMAHINT_PLACEMENT_EVENT,
                                                 hp->state, sp);
                work->items[work->len - 1].first_ms = q[i].first_ms;
                used++;
            }
        }
        return used;
    case NUMAHINT_LOCAL:
        p->stats.pages_pending -= hp->covered;
        p->stats.pages_local += hp->covered;
        numahint_placement_count_placed(&p->stats, p->now_ms - hp->first_ms,
                                        hp->covered);
        return 0;
    default:
        p->stats.pages_pending -= hp->covered;
        p->stats.pages_contended += hp->covered;
        return 0;
    }
}

/*
 * Append [start, end) of @e to the kept queue @out, merged with the
 * extent before it where they touch and agree.  Returns false if there
 * is no room.
 */
static bool numahint_placement_keep(NumahintPlacement *p,
                                    NumahintPlacementExtent *out,
                                    unsigned int *len,
                                    const NumahintPlacementExtent *e,
                                    uint64_t start, uint64_t end)
{
    if (*len == p->queue_capacity &&
        !numahint_placement_joins(out, *len, e, start)) {
        return false;
    }
    numahint_placement_append(out, len, e, start, end);
    return true;
}

/*
 * Check split page @sp of region @r: one part per node it has parts on,
 * or every part after a check found one off its node.
 */
static uint64_t numahint_placement_check_split(NumahintPlacement *p,
                                               NumahintSplitPage *sp,
                                               const NumahintRamRegion *r,
                                               uint32_t *state,
                                               NumahintPlacementWork *work)
{
    uint64_t seen[(NUMAHINT_PLACEMENT_NO_NODE + 63) / 64] = { 0 };
    bool all = sp->recheck;
    unsigned int i;
    uint64_t used = 0;

    sp->recheck = false;
    sp->collapsed = false;
    sp->checked_ms = p->now_ms;
    /* A part busy in the last check too: it may stay so (pinned). */
    if (!sp->busy) {
        sp->busy_checks = 0;
    } else if (sp->busy_checks < NUMAHINT_PLACEMENT_BUSY_CHECKS) {
        sp->busy_checks++;
    }
    sp->busy = false;
    for (i = 0; i < numahint_placement_parts(r); i++) {
        uint8_t node = sp->node[i];

        if (node == NUMAHINT_PLACEMENT_NO_NODE) {
            continue;
        }
        if (!all) {
            if (seen[node / 64] & (1ULL << (node % 64))) {
                continue;
            }
            seen[node / 64] |= 1ULL << (node % 64);
        }
        /* A probe does not start the cooldown: putting parts back does. */
        numahint_placement_work_add_part(p, work, r, sp->gpa,
                                         sp->gpa + ((uint64_t)i <<
                                             NUMAHINT_PLACEMENT_PAGE_SHIFT),
                                         node, 0,
                                         all ? NUMAHINT_PLACEMENT_RESTORE :
                                               NUMAHINT_PLACEMENT_PROBE,
                                         all ? state : NULL, sp);
        used++;
    }
    return used;
}

/* Check the split pages that are due, within @budget.  Returns the pages. */
static uint64_t numahint_placement_check_splits(NumahintPlacement *p,
                                                uint64_t budget,
                                                NumahintPlacementWork *work)
{
    uint64_t used = 0;
    unsigned int n;

    for (n = 0; p->params.check_ms && n < p->nr_split_pages &&
         p->split_pages_used && used < budget &&
         work->len + NUMAHINT_PLACEMENT_MAX_PARTS < work->capacity; n++) {
        NumahintSplitPage *sp = &p->split_pages[p->split_cursor];
        const NumahintRamRegion *r;
        uint32_t *state;

        p->split_cursor = (p->split_cursor + 1) % p->nr_split_pages;
        if (sp->gpa == UINT64_MAX ||
            p->now_ms < sp->checked_ms + p->params.check_ms) {
            continue;
        }
        r = numahint_placement_find_region(p, sp->gpa);
        if (!r || !r->splittable || sp->gpa & (r->host_page_size - 1) ||
            numahint_placement_parts(r) > NUMAHINT_PLACEMENT_MAX_PARTS) {
            numahint_placement_drop_split(p, sp);
            continue;
        }
        state = numahint_placement_page_state(r, sp->gpa);
        if (numahint_placement_cooling(p, state)) {
            continue;
        }
        used += numahint_placement_check_split(p, sp, r, state, work);
    }
    return used;
}

uint64_t numahint_placement_plan(NumahintPlacement *p, uint64_t budget,
                                 NumahintPlacementWork *work)
{
    const NumahintPlacementExtent *q;
    NumahintPlacementExtent *out;
    unsigned int i = 0, kept = 0;
    uint64_t used = 0, from = 0;

    /*
     * Host pages in address order.  A page held back costs no budget
     * unless deciding it took a query (a 4 KiB page of budget each, and
     * at most NUMAHINT_PLACEMENT_PLAN_QUERIES a run), and the loop moves
     * past it, so a run is O(queue) whatever it decides.
     */
    numahint_placement_drain(p);
    p->plan_queries = 0;
    q = p->queue;
    out = p->queue_spare;
    work->now_ms = p->now_ms;
    /*
     * Split pages first: this run's events may move parts whose node they
     * name, and a check must see where the parts are before those moves.
     */
    used = numahint_placement_check_splits(p, budget, work);
    /* A split huge page may need an item per 4 KiB page. */
    while (i < p->queue_len && used < budget &&
           p->plan_queries < NUMAHINT_PLACEMENT_PLAN_QUERIES &&
           work->len + NUMAHINT_PLACEMENT_MAX_PARTS < work->capacity) {
        unsigned int queries = p->plan_queries;
        NumahintHostPage hp;
        NumahintHostPageDecision how;

        if (from < q[i].start) {
            from = q[i].start;
        }
        numahint_placement_gather(p, q, p->queue_len, i, from, &hp);
        how = numahint_placement_decide(p, &hp);
        used += p->plan_queries - queries;
        if (how == NUMAHINT_HOLD || how == NUMAHINT_COOLING) {
            unsigned int k;

            for (k = hp.first; k < hp.last; k++) {
                /* Looked at (not only cooling): new no more. */
                NumahintPlacementExtent seen = q[k];
                uint64_t start, end;

                seen.fresh = seen.fresh && how == NUMAHINT_COOLING;
                numahint_placement_clip(&hp, &q[k], &start, &end);
                if (!numahint_placement_keep(p, out, &kept, &seen, start,
                                             end)) {
                    uint64_t lost = (end - start) >>
                                    NUMAHINT_PLACEMENT_PAGE_SHIFT;

                    p->stats.pages_pending -= lost;
                    p->stats.pages_overflow += lost;
                }
            }
        } else {
            used += numahint_placement_take(p, q, &hp, how, work);
        }
        /* Past this host page; an extent that runs beyond it stays. */
        from = hp.end;
        i = hp.last;
        if (i > hp.first && q[i - 1].end > hp.end) {
            i--;
        }
    }
    /* What the budget left untouched stays queued, after what was kept. */
    for (; i < p->queue_len; i++) {
        uint64_t start = q[i].start > from ? q[i].start : from;

        if (!numahint_placement_keep(p, out, &kept, &q[i], start,
                                     q[i].end)) {
            uint64_t lost = (q[i].end - start) >> NUMAHINT_PLACEMENT_PAGE_SHIFT;

            p->stats.pages_pending -= lost;
            p->stats.pages_overflow += lost;
        }
    }
    p->queue_spare = p->queue;
    p->queue = out;
    p->queue_len = kept;
    return used;
}

uint64_t numahint_placement_budget(int64_t *credit, uint64_t pages_per_sec,
                                   unsigned int period_ms)
{
    int64_t share = (int64_t)pages_per_sec * period_ms;
    int64_t most = share > 1000 ? share : 1000;

    *credit = *credit < most - share ? *credit + share : most;
    return *credit >= 1000 ? *credit / 1000 : 0;
}

void numahint_placement_spend(int64_t *credit, uint64_t examined)
{
    *credit -= (int64_t)examined * 1000;
}

uint64_t numahint_placement_run(NumahintPlacement *p, uint64_t budget)
{
    uint64_t used = 0;

    do {
        used += numahint_placement_plan(p, budget - used, &p->work);
        numahint_placement_execute(p->ops, p->opaque, &p->work);
        if (!p->work.len) {
            break;
        }
        numahint_placement_account(p, &p->work);
    } while (used < budget);
    return used;
}

bool numahint_placement_check(const NumahintPlacement *p, char *why,
                              size_t len)
{
    const NumahintPlacementStats *s = &p->stats;
    uint64_t events = s->events_accepted + s->events_bad_extent +
                      s->events_bad_cpu + s->events_unplaced +
                      s->events_bound + s->events_pinned +
                      s->events_dropped;
    uint64_t pages = s->pages_pending + s->pages_superseded +
                     s->pages_local + s->pages_migrated + s->pages_absent +
                     s->pages_contended + s->pages_failed_busy +
                     s->pages_failed_nomem + s->pages_failed_fault +
                     s->pages_failed_other + s->pages_overflow +
                     s->pages_flushed;
    uint64_t queued = 0;
    unsigned int i, splits = 0;

    if (events != s->events) {
        snprintf(why, len, "%" PRIu64 " events, %" PRIu64 " outcomes",
                 s->events, events);
        return false;
    }
    if (s->placed_10ms + s->placed_50ms + s->placed_100ms +
        s->placed_150ms + s->placed_200ms + s->placed_500ms + s->placed_1s +
        s->placed_5s + s->placed_later != s->pages_local + s->pages_migrated) {
        snprintf(why, len, "the placement delays do not add up to the "
                 "pages local and migrated");
        return false;
    }
    if (pages != s->pages_accepted) {
        snprintf(why, len, "%" PRIu64 " pages accepted, %" PRIu64
                 " outcomes", s->pages_accepted, pages);
        return false;
    }
    if (p->queue_len > p->queue_capacity) {
        snprintf(why, len, "queue of %u extents over its capacity %u",
                 p->queue_len, p->queue_capacity);
        return false;
    }
    for (i = 0; i < p->queue_len; i++) {
        const NumahintPlacementExtent *e = &p->queue[i];
        uint64_t addr = e->start;

        if (e->start >= e->end ||
            ((e->start | e->end) & (NUMAHINT_PLACEMENT_PAGE_SIZE - 1)) ||
            (i && e[-1].end > e->start) ||
            (i && e[-1].end == e->start && e[-1].node == e->node &&
             e[-1].fresh == e->fresh) ||
            e->node < 0 || e->first_ms > e->last_ms) {
            snprintf(why, len, "queue extent %u [0x%" PRIx64 ", 0x%" PRIx64
                     ") node %d is empty, misaligned, overlaps, is unmerged, "
                     "has no node or its times out of order", i, e->start,
                     e->end, e->node);
            return false;
        }
        /* All guest RAM: in one region, or in a run of adjacent ones. */
        while (addr < e->end) {
            const NumahintRamRegion *r =
                numahint_placement_find_region(p, addr);

            if (!r) {
                snprintf(why, len, "queue extent %u [0x%" PRIx64 ", 0x%" PRIx64
                         ") is not guest RAM at 0x%" PRIx64, i, e->start,
                         e->end, addr);
                return false;
            }
            addr = r->gpa + r->size;
        }
        queued += (e->end - e->start) >> NUMAHINT_PLACEMENT_PAGE_SHIFT;
    }
    for (i = 0; i < p->nr_split_pages; i++) {
        const NumahintSplitPage *sp = &p->split_pages[i];
        const NumahintRamRegion *r;

        if (sp->gpa == UINT64_MAX) {
            continue;
        }
        r = numahint_placement_find_region(p, sp->gpa);
        if (!r || !r->splittable || sp->gpa & (r->host_page_size - 1)) {
            snprintf(why, len, "split page record %u at 0x%" PRIx64
                     " is not a splittable host page", i, sp->gpa);
            return false;
        }
        splits++;
    }
    if (splits != p->split_pages_used) {
        snprintf(why, len, "%u split page records, %u counted", splits,
                 p->split_pages_used);
        return false;
    }
    if (p->inbox_len > p->inbox_capacity ||
        p->queue_len + 2 * (uint64_t)p->inbox_len > p->queue_capacity) {
        snprintf(why, len, "inbox of %u events, %u allowed, queue of %u",
                 p->inbox_len, p->inbox_capacity, p->queue_len);
        return false;
    }
    if (queued + p->inbox_pages + p->pages_in_flight != s->pages_pending) {
        snprintf(why, len, "queue holds %" PRIu64 " pages, the inbox %"
                 PRIu64 " and %" PRIu64 " are in flight, %" PRIu64
                 " pending", queued, p->inbox_pages, p->pages_in_flight,
                 s->pages_pending);
        return false;
    }
    return true;
}

#ifdef CONFIG_LINUX
static int numahint_placement_sys_move_pages(void **pages, unsigned long count,
                                             const int *nodes, int *status)
{
    /*
     * A positive result counts the pages left where they were; @status
     * says why, page by page.
     */
    if (syscall(SYS_move_pages, 0, count, pages, nodes, status,
                MPOL_MF_MOVE) < 0) {
        return -errno;
    }
    return 0;
}
#else
static int numahint_placement_sys_move_pages(void **pages, unsigned long count,
                                             const int *nodes, int *status)
{
    return -ENOSYS;
}
#endif

static int numahint_placement_linux_query(void *opaque, void **pages,
                                          unsigned long count, int *status)
{
    return numahint_placement_sys_move_pages(pages, count, NULL, status);
}

static int numahint_placement_linux_move(void *opaque, void **pages,
                                         unsigned long count,
                                         const int *nodes, int *status)
{
    return numahint_placement_sys_move_pages(pages, count, nodes, status);
}

/*
 * The kernel splits a transparent huge page when MADV_COLD names part of
 * it (madvise_cold_or_pageout_pte_range(), Linux 5.4 and later; it leaves
 * a page mapped by another process alone).  The content stays; the one
 * 4 KiB page named moves to the inactive list, which is all MADV_COLD
 * does to it.  khugepaged may collapse the page again later, on the node
 * most of its parts are on.
 */
static int numahint_placement_linux_split(void *opaque, void *page,
                                          uint64_t size)
{
#if defined(CONFIG_LINUX) && defined(MADV_COLD)
    if (size <= NUMAHINT_PLACEMENT_PAGE_SIZE) {
        return -EINVAL;
    }
    if (madvise(page, NUMAHINT_PLACEMENT_PAGE_SIZE, MADV_COLD) < 0) {
        return -errno;
    }
    return 0;
#else
    return -ENOSYS;
#endif
}

const NumahintPlacementOps numahint_placement_linux_ops = {
    .query_nodes = numahint_placement_linux_query,
    .move_pages = numahint_placement_linux_move,
    .split = numahint_placement_linux_split,
};
