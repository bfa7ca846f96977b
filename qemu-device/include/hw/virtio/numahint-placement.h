/*
 * Virtio NUMA hint device: host NUMA placement of first-touch events
 *
 * The guest reports extents of guest-physical memory it has just handed
 * to a task, and the vCPU that allocated them.  This engine validates
 * each event, queues it, and later migrates the host pages behind the
 * queued extents to the host node local to that vCPU, where they sit
 * elsewhere.  It is plain C with no QEMU dependency so that it can be
 * tested on its own against a fake host NUMA system.
 *
 * Queue.  Queued extents are kept sorted by guest-physical address and
 * never overlap: a new event replaces the queued pages it overlaps (the
 * latest allocation of a page names its current user), and merges with
 * queued neighbours of the same node, so that the contiguous single-page
 * events of one vCPU become one extent.  An event lies inside one RAM
 * region, but an extent may span adjacent regions (two NUMA nodes'
 * memory backends usually are): it is taken host page by host page, each
 * through the mapping of its own region.  The queue holds at most the
 * number of extents its storage was given; an event that would need more
 * is dropped.  Adding an event costs a binary search and a move of the
 * queue's tail, O(capacity) in the worst case.
 *
 * Migration.  numahint_placement_run() takes extents from the head of the
 * queue, host page by host page, asks the kernel which node each host
 * page is on, and moves only the misplaced ones, with one query and at
 * most one move per NUMAHINT_PLACEMENT_BATCH host pages.  It stops when
 * its budget is spent and leaves the rest queued.  The kernel is reached
 * through NumahintPlacementOps; numahint_placement_linux_ops uses
 * move_pages(2), which takes arrays of pages and never changes mappings:
 * unlike mbind(MPOL_MF_MOVE), it cannot split VMAs, so the number of
 * mappings of the process stays the same however scattered the events.
 * Migration keeps the content; nothing is ever discarded or allocated
 * (a host page that is not present is left to be placed by first touch).
 *
 * Host pages larger than 4 KiB.  move_pages() moves a transparent huge
 * page or a hugetlb page whole, whichever 4 KiB of it is named, and the
 * engine never splits one.  A host page shared by several vCPUs is
 * therefore moved only on a majority: to the node whose queued events
 * cover more than half of its 4 KiB pages.  Without one it stays where
 * it is.  Compared with following the first or the latest event, this
 * never moves 2 MiB for one 4 KiB allocation (at most twice the memory
 * the events name is ever moved), cannot ping-pong a page between nodes
 * within one run, and still follows the guest when it hands most of a
 * huge page to one task.  The cost is that a huge page whose guest pages
 * are reported in small pieces spread over several runs, or shared
 * evenly, is not moved: the events are only a hint, and a wrong move of
 * a huge page is expensive.  The caller tells the engine the host page
 * size of each region: the hugetlb page size, the THP size where guest
 * RAM is anonymous memory that may be backed by THP, 4 KiB otherwise.
 *
 * Accounting, in 4 KiB pages: every page of an accepted event ends up in
 * exactly one of pages_superseded, pages_local, pages_migrated,
 * pages_absent, pages_contended, pages_failed_*, pages_flushed, or is
 * still pending.  Every event is counted once as accepted, bad_extent,
 * bad_cpu, unplaced or dropped.
 *
 * The engine allocates nothing: the caller provides the queue storage,
 * the RAM map and the vCPU map, and keeps them alive and unchanged while
 * the engine uses them.  It is not thread-safe; the caller serialises
 * all calls (in QEMU, under the BQL).
 *
 * Copyright (c) 2026 The numahint authors.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VIRTIO_NUMAHINT_PLACEMENT_H
#define HW_VIRTIO_NUMAHINT_PLACEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The unit of event addresses, event lengths and budgets: 4 KiB. */
#define NUMAHINT_PLACEMENT_PAGE_SHIFT   12
#define NUMAHINT_PLACEMENT_PAGE_SIZE    (1ULL << NUMAHINT_PLACEMENT_PAGE_SHIFT)

/* Host pages handed to the kernel in one query or move call, at most. */
#define NUMAHINT_PLACEMENT_BATCH        256

/* A range of guest RAM and where QEMU maps it. */
typedef struct NumahintRamRegion {
    /* Guest-physical address of the region. */
    uint64_t gpa;
    /* Size of the region in bytes. */
    uint64_t size;
    /* Host virtual address at which gpa is mapped. */
    void *hva;
    /*
     * Size of the host pages behind the region, a power of 2 of at least
     * 4 KiB; gpa, size and hva are multiples of it.
     */
    uint64_t host_page_size;
} NumahintRamRegion;

/* The host node local to one vCPU. */
typedef struct NumahintVcpuNode {
    /* Architectural CPU id, as in struct virtio_numahint_touch. */
    uint32_t cpu_id;
    /* Host NUMA node, or -1 if the vCPU is not bound to one node. */
    int node;
} NumahintVcpuNode;

/* A queued extent [start, end) of guest-physical memory. */
typedef struct NumahintPlacementExtent {
    uint64_t start;
    uint64_t end;
    /* Host node the extent's host pages should be on. */
    int node;
} NumahintPlacementExtent;

/*
 * Access to the kernel.  Both functions take the host virtual addresses
 * of @count host pages and fill @status with one value per page: a node
 * number, or a negative errno for that page, as move_pages(2) does.  They
 * return a negative errno if the call failed as a whole (@status is then
 * not looked at), or 0 or more otherwise.
 */
typedef struct NumahintPlacementOps {
    /* Where are the pages? -ENOENT in @status: not present. */
    int (*query_nodes)(void *opaque, void **pages, unsigned long count,
                       int *status);
    /* Move page i to @nodes[i]; @status is the node it is on afterwards. */
    int (*move_pages)(void *opaque, void **pages, unsigned long count,
                      const int *nodes, int *status);
} NumahintPlacementOps;

/* Counters; each one only ever grows, except pages_pending. */
typedef struct NumahintPlacementStats {
    /* Events offered to numahint_placement_add(). */
    uint64_t events;
    /* Events queued for placement. */
    uint64_t events_accepted;
    /* Misaligned, empty, overflowing, or not inside one RAM region. */
    uint64_t events_bad_extent;
    /* cpu_id is not in the vCPU map. */
    uint64_t events_bad_cpu;
    /* The vCPU has no host node: nothing to place the extent on. */
    uint64_t events_unplaced;
    /* Not queued because the queue was full. */
    uint64_t events_dropped;

    /* 4 KiB pages of accepted events. */
    uint64_t pages_accepted;
    /* Still queued. */
    uint64_t pages_pending;
    /* Replaced in the queue by a later event for the same page. */
    uint64_t pages_superseded;
    /* Their host page was already on the node. */
    uint64_t pages_local;
    /* Their host page was moved to the node. */
    uint64_t pages_migrated;
    /* Their host page is not present: first touch will place it. */
    uint64_t pages_absent;
    /* In a shared host page whose majority, if any, named another node. */
    uint64_t pages_contended;
    /* The kernel could not move their host page: it was busy (pinned). */
    uint64_t pages_failed_busy;
    /* ... there was no free memory on the node. */
    uint64_t pages_failed_nomem;
    /* ... the host address was not mapped. */
    uint64_t pages_failed_fault;
    /* ... any other error (shared with another process, no syscall). */
    uint64_t pages_failed_other;
    /* Still queued when the queue was emptied. */
    uint64_t pages_flushed;

    /* Bytes of host memory moved: whole host pages. */
    uint64_t bytes_migrated;
    /* Calls of NumahintPlacementOps.query_nodes and .move_pages. */
    uint64_t query_calls;
    uint64_t move_calls;
} NumahintPlacementStats;

/* What became of an event, for the response to the guest. */
typedef enum NumahintPlacementVerdict {
    /* Queued for placement. */
    NUMAHINT_PLACEMENT_ACCEPTED,
    /* An entry error: bad extent or unknown vCPU. */
    NUMAHINT_PLACEMENT_REJECTED,
    /* Valid but not queued: the vCPU has no node, or the queue is full. */
    NUMAHINT_PLACEMENT_DROPPED,
} NumahintPlacementVerdict;

/* The engine.  Its fields are private to numahint-placement.c. */
typedef struct NumahintPlacement {
    const NumahintPlacementOps *ops;
    void *opaque;

    /* Sorted by gpa, not overlapping. */
    const NumahintRamRegion *regions;
    unsigned int nr_regions;
    /* Sorted by cpu_id, no duplicates. */
    const NumahintVcpuNode *vcpus;
    unsigned int nr_vcpus;

    /* Sorted by start, not overlapping, never empty extents. */
    NumahintPlacementExtent *queue;
    unsigned int queue_len;
    unsigned int queue_capacity;

    /* One batch of host pages for the ops, and where each one goes. */
    void *batch_pages[NUMAHINT_PLACEMENT_BATCH];
    int batch_nodes[NUMAHINT_PLACEMENT_BATCH];
    int batch_status[NUMAHINT_PLACEMENT_BATCH];
    /* 4 KiB pages of the events that agreed on batch_nodes[i]. */
    uint32_t batch_weight[NUMAHINT_PLACEMENT_BATCH];
    uint64_t batch_page_size[NUMAHINT_PLACEMENT_BATCH];
    /* The misplaced subset of the batch, as indices into it. */
    void *move_pages[NUMAHINT_PLACEMENT_BATCH];
    int move_nodes[NUMAHINT_PLACEMENT_BATCH];
    int move_status[NUMAHINT_PLACEMENT_BATCH];
    unsigned int move_index[NUMAHINT_PLACEMENT_BATCH];

    NumahintPlacementStats stats;
} NumahintPlacement;

/* move_pages(2) on the calling process; opaque is unused. */
extern const NumahintPlacementOps numahint_placement_linux_ops;

/*
 * Set up @p with an empty queue of at most @queue_capacity extents stored
 * in @queue, no RAM and no vCPUs.
 */
void numahint_placement_init(NumahintPlacement *p,
                             const NumahintPlacementOps *ops, void *opaque,
                             NumahintPlacementExtent *queue,
                             unsigned int queue_capacity);

/*
 * Use @regions as the guest RAM map, and empty the queue (its extents
 * were checked against the old map).  Returns -EINVAL, and changes
 * nothing, unless the regions are sorted, disjoint, not empty and
 * aligned to their host page size.
 */
int numahint_placement_set_ram(NumahintPlacement *p,
                               const NumahintRamRegion *regions,
                               unsigned int nr_regions);

/*
 * Use @vcpus as the vCPU map.  Returns -EINVAL, and changes nothing,
 * unless it is sorted by cpu_id without duplicates.  Queued extents keep
 * the node they were queued for.
 */
int numahint_placement_set_vcpus(NumahintPlacement *p,
                                 const NumahintVcpuNode *vcpus,
                                 unsigned int nr_vcpus);

/* Validate and queue one first-touch event (fields in host order). */
NumahintPlacementVerdict numahint_placement_add(NumahintPlacement *p,
                                                uint64_t addr,
                                                uint32_t nr_pages,
                                                uint32_t cpu_id);

/*
 * Place queued extents, examining at most about @budget 4 KiB pages of
 * host memory: a host page is taken whole, so the last one may overrun
 * the budget by less than its size.  Returns the pages examined, so that
 * the caller can carry the overrun into its next budget.
 */
uint64_t numahint_placement_run(NumahintPlacement *p, uint64_t budget);

/* Empty the queue without placing anything (device reset). */
void numahint_placement_flush(NumahintPlacement *p);

/*
 * Check the engine's invariants: the events and pages add up as
 * "Accounting" above says, and the queue is within its capacity, sorted,
 * disjoint, merged, 4 KiB aligned, all guest RAM and for a node.  Returns
 * true if they hold; otherwise writes what is broken, first, to @why
 * (@len bytes, NUL-terminated) and returns false.  O(queue length): for
 * tests and fuzzing.
 */
bool numahint_placement_check(const NumahintPlacement *p, char *why,
                              size_t len);

#endif
