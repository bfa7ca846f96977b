/*
 * Virtio NUMA hint device: host NUMA placement of first-touch events
 *
 * See include/hw/virtio/numahint-placement.h for the design.
 *
 * Copyright (c) 2026 The numahint authors.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

/*
 * Inside QEMU, osdep.h comes first as everywhere else; the unit tests
 * build this file on its own, with -DNUMAHINT_PLACEMENT_STANDALONE.
 */
#ifndef NUMAHINT_PLACEMENT_STANDALONE
#include "qemu/osdep.h"
#endif
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#ifdef CONFIG_LINUX
#include <unistd.h>
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
    p->queue_capacity = queue_capacity;
}

void numahint_placement_flush(NumahintPlacement *p)
{
    p->stats.pages_flushed += p->stats.pages_pending;
    p->stats.pages_pending = 0;
    p->queue_len = 0;
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
    return 0;
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
    uint64_t len = end - start, replaced = 0;
    unsigned int first, last, nr = 0, k;
    bool split_right = false;

    /* q[first..last) overlap or touch [start, end). */
    first = numahint_placement_first_ending_at(p, start);
    for (last = first; last < p->queue_len && q[last].start <= end; last++) {
        replaced += numahint_placement_overlap(&q[last], start, end);
    }

    /* What is left of them on either side, merged if of the same node. */
    if (first < last && q[first].start < start) {
        if (q[first].node == node) {
            start = q[first].start;
        } else {
            pieces[nr++] = (NumahintPlacementExtent) {
                q[first].start, start, q[first].node
            };
        }
    }
    if (first < last && q[last - 1].end > end) {
        if (q[last - 1].node == node) {
            end = q[last - 1].end;
        } else {
            right = (NumahintPlacementExtent) {
                end, q[last - 1].end, q[last - 1].node
            };
            split_right = true;
        }
    }
    pieces[nr++] = (NumahintPlacementExtent) { start, end, node };
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
    if (!numahint_placement_enqueue(p, addr, addr + len, vcpu->node)) {
        p->stats.events_dropped++;
        return NUMAHINT_PLACEMENT_DROPPED;
    }
    p->stats.events_accepted++;
    p->stats.pages_accepted += nr_pages;
    return NUMAHINT_PLACEMENT_ACCEPTED;
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
 * Query the @n host pages of the batch and move those that are not on
 * their node.  One query call and at most one move call.
 */
static void numahint_placement_apply_batch(NumahintPlacement *p,
                                           unsigned int n)
{
    NumahintPlacementStats *s = &p->stats;
    unsigned int i, nr_move = 0;
    int ret;

    s->query_calls++;
    ret = p->ops->query_nodes(p->opaque, p->batch_pages, n, p->batch_status);
    for (i = 0; i < n; i++) {
        int status = ret < 0 ? ret : p->batch_status[i];

        if (ret < 0) {
            numahint_placement_count_failure(s, ret, p->batch_weight[i]);
        } else if (status == p->batch_nodes[i]) {
            s->pages_local += p->batch_weight[i];
        } else if (status >= 0) {
            p->move_pages[nr_move] = p->batch_pages[i];
            p->move_nodes[nr_move] = p->batch_nodes[i];
            p->move_index[nr_move++] = i;
        } else if (status == -ENOENT || status == -EFAULT) {
            /*
             * No page of our own: not present, or the shared zero page
             * (-EFAULT; older kernels also say -EFAULT for a missing
             * page table).  First touch will place it.
             */
            s->pages_absent += p->batch_weight[i];
        } else {
            numahint_placement_count_failure(s, status, p->batch_weight[i]);
        }
    }
    if (!nr_move) {
        return;
    }

    s->move_calls++;
    ret = p->ops->move_pages(p->opaque, p->move_pages, nr_move, p->move_nodes,
                             p->move_status);
    for (i = 0; i < nr_move; i++) {
        unsigned int slot = p->move_index[i];
        int status = ret < 0 ? ret : p->move_status[i];

        if (status == p->batch_nodes[slot]) {
            s->pages_migrated += p->batch_weight[slot];
            s->bytes_migrated += p->batch_page_size[slot];
        } else if (status == -ENOENT) {
            /* Freed by the guest's balloon or discarded meanwhile. */
            s->pages_absent += p->batch_weight[slot];
        } else {
            /* A negative errno, or (never seen) another node. */
            numahint_placement_count_failure(s, status,
                                             p->batch_weight[slot]);
        }
    }
}

/*
 * Take the host page that holds the first page of q[*head] off the
 * queue: advance *head past the extents inside it and trim the one that
 * runs beyond it.  If the events in it agree on a node by majority, put
 * the host page into batch slot @slot and return true.
 */
static bool numahint_placement_take_host_page(NumahintPlacement *p,
                                              unsigned int *head,
                                              unsigned int slot)
{
    NumahintPlacementExtent *q = p->queue;
    const NumahintRamRegion *r = numahint_placement_find_region(p,
                                                                q[*head].start);
    uint64_t start = q[*head].start & ~(r->host_page_size - 1);
    uint64_t end = start + r->host_page_size;
    uint64_t covered = 0, votes = 0, lead = 0;
    int candidate = -1;
    unsigned int i, last;

    /*
     * Weighted Boyer-Moore vote: if a node covers more than half of the
     * host page, it is the candidate left at the end.
     */
    for (last = *head; last < p->queue_len && q[last].start < end; last++) {
        uint64_t weight = numahint_placement_overlap(&q[last], start, end) >>
                          NUMAHINT_PLACEMENT_PAGE_SHIFT;

        covered += weight;
        if (q[last].node == candidate) {
            lead += weight;
        } else if (weight <= lead) {
            lead -= weight;
        } else {
            candidate = q[last].node;
            lead = weight - lead;
        }
    }
    for (i = *head; i < last; i++) {
        if (q[i].node == candidate) {
            votes += numahint_placement_overlap(&q[i], start, end) >>
                     NUMAHINT_PLACEMENT_PAGE_SHIFT;
        }
    }

    if (q[last - 1].end > end) {
        q[last - 1].start = end;
        last--;
    }
    *head = last;
    p->stats.pages_pending -= covered;

    if (votes <= r->host_page_size >> (NUMAHINT_PLACEMENT_PAGE_SHIFT + 1)) {
        p->stats.pages_contended += covered;
        return false;
    }
    p->stats.pages_contended += covered - votes;
    p->batch_pages[slot] = (char *)r->hva + (start - r->gpa);
    p->batch_nodes[slot] = candidate;
    p->batch_weight[slot] = votes;
    p->batch_page_size[slot] = r->host_page_size;
    return true;
}

uint64_t numahint_placement_run(NumahintPlacement *p, uint64_t budget)
{
    unsigned int head = 0, n = 0;
    uint64_t used = 0;

    /*
     * A host page without a majority costs no budget: it needs no system
     * call, and each one consumes a queued extent, or trims one that
     * covers less than half of it, so the loop still ends in O(queue).
     */
    while (head < p->queue_len && used < budget) {
        if (!numahint_placement_take_host_page(p, &head, n)) {
            continue;
        }
        used += p->batch_page_size[n] >> NUMAHINT_PLACEMENT_PAGE_SHIFT;
        if (++n == NUMAHINT_PLACEMENT_BATCH) {
            numahint_placement_apply_batch(p, n);
            n = 0;
        }
    }
    if (n) {
        numahint_placement_apply_batch(p, n);
    }

    memmove(p->queue, &p->queue[head],
            (p->queue_len - head) * sizeof(*p->queue));
    p->queue_len -= head;
    return used;
}

bool numahint_placement_check(const NumahintPlacement *p, char *why,
                              size_t len)
{
    const NumahintPlacementStats *s = &p->stats;
    uint64_t events = s->events_accepted + s->events_bad_extent +
                      s->events_bad_cpu + s->events_unplaced +
                      s->events_dropped;
    uint64_t pages = s->pages_pending + s->pages_superseded +
                     s->pages_local + s->pages_migrated + s->pages_absent +
                     s->pages_contended + s->pages_failed_busy +
                     s->pages_failed_nomem + s->pages_failed_fault +
                     s->pages_failed_other + s->pages_flushed;
    uint64_t queued = 0;
    unsigned int i;

    if (events != s->events) {
        snprintf(why, len, "%" PRIu64 " events, %" PRIu64 " outcomes",
                 s->events, events);
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
            (i && e[-1].end == e->start && e[-1].node == e->node) ||
            e->node < 0) {
            snprintf(why, len, "queue extent %u [0x%" PRIx64 ", 0x%" PRIx64
                     ") node %d is empty, misaligned, overlaps, is unmerged "
                     "or has no node", i, e->start, e->end, e->node);
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
    if (queued != s->pages_pending) {
        snprintf(why, len, "queue holds %" PRIu64 " pages, %" PRIu64
                 " pending", queued, s->pages_pending);
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

const NumahintPlacementOps numahint_placement_linux_ops = {
    .query_nodes = numahint_placement_linux_query,
    .move_pages = numahint_placement_linux_move,
};
