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
 * is dropped.
 *
 * Inbox.  Adding an event only appends it to an inbox, O(1).  Before a
 * run, and when the inbox is full, the inbox is merged into the queue at
 * once (numahint_placement_drain()): sorted, resolved among themselves
 * (a later event wins where two overlap) with a sweep, and laid over the
 * queue in one pass.  That costs O(queue + inbox log inbox) for a quarter
 * of the queue's capacity in events, so an event costs O(log capacity)
 * amortised, however scattered the events, where inserting each one into
 * the sorted queue would move its tail, O(capacity).  The inbox never
 * holds more events than the queue has room for (each one can add at most
 * two extents); when the queue is nearly full an event is inserted at
 * once, so that a full queue drops exactly the events it has no room for.
 * Within one drain, an extent takes the times of the event that won it.
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
 * page or a hugetlb page whole, whichever 4 KiB of it is named.  So the
 * engine decides per host page, from all the queued events that fall in
 * it, and keeps those events queued across passes until it can decide:
 *
 *  - a majority, one node's events covering more than half of the host
 *    page: the page moves whole to that node (the minority's pages are
 *    counted as contended);
 *  - no majority, but every event names one node, some of them no pass
 *    has looked at yet, and the page is on that node already: its
 *    pages are local, and nothing waits (a majority would not move it);
 *  - no majority, and no new event for the page for settle_ms (its users
 *    have stopped telling us about it), or its oldest event is
 *    max_hold_ms old: the page is contended, or half used by a task that
 *    allocated it long ago (the guest allocator hands out the free half
 *    of a host page whose other half another task still holds).  A
 *    transparent huge page is then split (NumahintPlacementOps.split),
 *    and from then on each of its 4 KiB parts follows its own events.  A
 *    hugetlb page cannot be split: it stays where it is.
 *
 * Waiting for a majority means a huge page that a task fills slowly,
 * over several passes, still moves whole, and a page is split only where
 * the events never agree.  Compared with following the first or the
 * latest event, a majority never moves 2 MiB for one 4 KiB allocation
 * (at most twice the memory the events name is ever moved), and cannot
 * ping-pong a page between nodes.  The engine remembers, per host page,
 * that it split it (NumahintRamRegion.page_state), so that a later
 * majority moves the 4 KiB parts its events name, not the first 4 KiB.
 * The caller tells the engine the host page size of each region, and
 * whether its huge pages can be split: transparent huge pages of
 * anonymous memory can, hugetlb pages cannot.
 *
 * khugepaged.  The host kernel may collapse a page the engine split into
 * a huge page again, on the node most of its parts are on, which takes
 * the other parts away from their users.  So the engine keeps, for each
 * page it split, the node each 4 KiB part belongs on (NumahintSplitPage:
 * the node of the part's latest event, or where the part was when the
 * page was split) and checks every check_ms one part per node; where a
 * part is off its node the page is split again and every part put back.
 * A part is always moved through a split (NumahintPlacementOps.split, a
 * no-op on a page that is split already), so a collapsed page never
 * moves whole for the event of one part.  Pages the guest frees and the
 * host discards are forgotten (numahint_placement_forget()): first touch
 * places them again.
 *
 * Cooldown.  A host page moves at most once per cooldown_ms: events for a
 * page that moved more recently stay queued until the cooldown has
 * passed, so that a guest naming two nodes in turn for the same memory
 * cannot keep a copy stream going at the budget.
 *
 * The admin's policy.  A region may restrict the host nodes its pages can
 * be moved to (the memory backend's bind policy): an event whose vCPU is
 * on another node is refused when it is added (events_bound).  Events for
 * a region whose pages must not move at all are refused too
 * (events_pinned).
 *
 * Accounting, in 4 KiB pages: every page of an accepted event ends up in
 * exactly one of pages_superseded, pages_local, pages_migrated,
 * pages_absent, pages_contended, pages_failed_*, pages_overflow,
 * pages_flushed, or is still pending.  Every event is counted once as
 * accepted, bad_extent, bad_cpu, unplaced, bound, pinned or dropped.
 *
 * Time is the caller's: numahint_placement_set_time() says what time it
 * is, in milliseconds of any monotonic clock, before events are added
 * and before each run.
 *
 * The engine allocates nothing: the caller provides the queue storage,
 * the RAM map (with its page state) and the vCPU map, and keeps them
 * alive and unchanged while the engine uses them.  It is not thread-safe:
 * the caller serialises all calls, except that
 * numahint_placement_execute() touches only its work (in QEMU, the
 * placement thread makes the system calls without the engine's lock).
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

/* Items of work a split huge page can need: its 4 KiB parts (2 MiB). */
#define NUMAHINT_PLACEMENT_MAX_PARTS    512

/*
 * Queries one plan may make itself (where a huge page is, to decide it):
 * a plan runs under the caller's lock, which the thread that adds events
 * also takes.
 */
#define NUMAHINT_PLACEMENT_PLAN_QUERIES 32

/*
 * Checks in a row of a split page that may put all its parts back when
 * one of them could not move (-EBUSY, -EAGAIN); then only its probes go
 * on, so that a part pinned for good costs no more than any other.
 */
#define NUMAHINT_PLACEMENT_BUSY_CHECKS  3

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
    /*
     * Host nodes its pages may be moved to, a bit per node (the memory
     * backend's bind policy); 0: any node.
     */
    uint64_t allowed_nodes;
    /* Its huge pages can be split (transparent huge pages). */
    bool splittable;
    /*
     * Its pages must not move: pinned for DMA (VFIO), or spread on
     * purpose (an interleave policy).
     */
    bool pinned;
    /*
     * One word per host page, zero at first, for the engine (when the
     * page last moved, whether the engine split it); NULL: no cooldown,
     * and a split page is not remembered.
     */
    uint32_t *page_state;
} NumahintRamRegion;

/* A part of a split host page whose node is not known. */
#define NUMAHINT_PLACEMENT_NO_NODE      0xff

/*
 * A host huge page the engine split, and the node each of its 4 KiB
 * parts belongs on.  The caller provides the storage for as many as it
 * wants remembered (numahint_placement_set_split_pages()).
 */
typedef struct NumahintSplitPage {
    /* Guest-physical address of the host page; UINT64_MAX: unused. */
    uint64_t gpa;
    /* When its parts were last checked (ms). */
    uint64_t checked_ms;
    /* A part was off its node: check and place every part next. */
    bool recheck;
    /* A probe of this check found a part moved (collapsed, counted). */
    bool collapsed;
    /* A part of this check could not be moved (busy, pinned). */
    bool busy;
    /* Checks in a row that found a busy part, up to BUSY_CHECKS. */
    uint8_t busy_checks;
    /* Node of each part, or NUMAHINT_PLACEMENT_NO_NODE. */
    uint8_t node[NUMAHINT_PLACEMENT_MAX_PARTS];
} NumahintSplitPage;

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
    /* In the inbox: the order events came in. */
    uint32_t seq;
    /* When its oldest and its newest event came (ms). */
    uint64_t first_ms;
    uint64_t last_ms;
    /* It has events that no plan has looked at yet. */
    bool fresh;
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
    /*
     * Split the transparent huge page of @size bytes at @page into 4 KiB
     * pages, keeping its content.  Returns 0 or a negative errno.
     */
    int (*split)(void *opaque, void *page, uint64_t size);
} NumahintPlacementOps;

/* When to decide a host huge page without a majority, and the cooldown. */
typedef struct NumahintPlacementParams {
    /* No new event for the page for this long (ms). */
    uint32_t settle_ms;
    /* ... or its oldest queued event is this old (ms). */
    uint32_t max_hold_ms;
    /* A host page moves at most once in this long (ms); 0: no cooldown. */
    uint32_t cooldown_ms;
    /* Check the parts of each split page this often (ms); 0: never. */
    uint32_t check_ms;
} NumahintPlacementParams;

/*
 * The engine's counters: X(field, "name", "what it counts").  Each one
 * only ever grows, except pages_pending.  The name is the counter's name
 * in the device's QOM "stats" property; this list is the one place they
 * are written down, and the struct, the names and the migration stream
 * are generated from it.
 */
#define NUMAHINT_PLACEMENT_STATS(X) \
    X(events, "touch-engine-events", \
      "events offered to numahint_placement_add()") \
    X(events_accepted, "touch-accepted", \
      "events queued for placement") \
    X(events_bad_extent, "touch-bad-extent", \
      "events misaligned, empty, overflowing, or not inside one RAM " \
      "region") \
    X(events_bad_cpu, "touch-bad-cpu", \
      "events whose cpu_id is not in the vCPU map") \
    X(events_unplaced, "touch-unplaced", \
      "events whose vCPU has no host node: nothing to place them on") \
    X(events_bound, "touch-policy-bound", \
      "events whose vCPU's node the RAM's NUMA policy does not allow") \
    X(events_pinned, "touch-pinned", \
      "events for RAM whose pages must not move: pinned for DMA, or " \
      "interleaved by its policy") \
    X(events_dropped, "touch-queue-full", \
      "events not queued because the queue was full") \
    X(pages_accepted, "touch-pages-accepted", \
      "4 KiB pages of accepted events") \
    X(pages_pending, "touch-pages-pending", \
      "pages still queued") \
    X(pages_superseded, "touch-pages-superseded", \
      "pages replaced in the queue by a later event for the same page") \
    X(pages_local, "touch-pages-local", \
      "pages whose host page was already on the node") \
    X(pages_migrated, "touch-pages-migrated", \
      "pages whose host page was moved to the node") \
    X(pages_absent, "touch-pages-absent", \
      "pages whose host page is not present: first touch places it") \
    X(pages_contended, "touch-pages-contended", \
      "pages in a host huge page that went to another node's majority, " \
      "or that was left where it was") \
    X(pages_failed_busy, "touch-pages-failed-busy", \
      "pages whose host page the kernel could not move: busy (pinned)") \
    X(pages_failed_nomem, "touch-pages-failed-nomem", \
      "... no free memory on the node") \
    X(pages_failed_fault, "touch-pages-failed-fault", \
      "... the host address was not mapped") \
    X(pages_failed_other, "touch-pages-failed-other", \
      "... any other error (shared with another process, no syscall)") \
    X(pages_overflow, "touch-pages-overflow", \
      "pages held for a later pass with no room left in the queue") \
    X(pages_flushed, "touch-pages-flushed", \
      "pages still queued when the queue was emptied") \
    X(placed_10ms, "touch-placed-10ms", \
      "pages placed (found on their node, or moved there) at most 10 ms " \
      "after their oldest queued event came") \
    X(placed_50ms, "touch-placed-50ms", "... 10-50 ms after") \
    X(placed_100ms, "touch-placed-100ms", "... 50-100 ms after") \
    X(placed_150ms, "touch-placed-150ms", "... 100-150 ms after") \
    X(placed_200ms, "touch-placed-200ms", "... 150-200 ms after") \
    X(placed_500ms, "touch-placed-500ms", "... 200-500 ms after") \
    X(placed_1s, "touch-placed-1s", "... 500 ms-1 s after") \
    X(placed_5s, "touch-placed-5s", "... 1-5 s after") \
    X(placed_later, "touch-placed-later", "... more than 5 s after") \
    X(placed_max_ms, "touch-placed-max-ms", \
      "the longest of those delays, in ms: not a count") \
    X(huge_moved, "touch-huge-moved", \
      "host huge pages that went whole to the node of a majority (or " \
      "were on it)") \
    X(huge_split, "touch-huge-split", \
      "host huge pages split so that each 4 KiB part follows its user") \
    X(huge_left, "touch-huge-left", \
      "host huge pages without a majority left where they were: not " \
      "splittable (hugetlb) or the split failed") \
    X(huge_untracked, "touch-huge-untracked", \
      "host huge pages split with no room left to remember their parts' " \
      "nodes: khugepaged may collapse them unnoticed") \
    X(huge_collapsed, "touch-huge-collapsed", \
      "split host huge pages found with a part off its node (collapsed " \
      "again by khugepaged), split again and their parts put back") \
    X(parts_restored, "touch-parts-restored", \
      "4 KiB parts of split host huge pages moved back to their node") \
    X(cooling_holds, "touch-cooling-holds", \
      "passes that held a host page back because it moved less than " \
      "the cooldown ago") \
    X(bytes_migrated, "touch-bytes-migrated", \
      "bytes of host memory moved") \
    X(query_calls, "touch-query-calls", \
      "calls of NumahintPlacementOps.query_nodes") \
    X(move_calls, "touch-move-calls", \
      "calls of NumahintPlacementOps.move_pages") \
    X(split_calls, "touch-split-calls", \
      "calls of NumahintPlacementOps.split")

typedef struct NumahintPlacementStats {
#define NUMAHINT_PLACEMENT_STAT_FIELD(field, name, what) uint64_t field;
    NUMAHINT_PLACEMENT_STATS(NUMAHINT_PLACEMENT_STAT_FIELD)
#undef NUMAHINT_PLACEMENT_STAT_FIELD
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

/* What became of one item of work. */
typedef enum NumahintPlacementOutcome {
    NUMAHINT_PLACEMENT_LOCAL,
    NUMAHINT_PLACEMENT_MIGRATED,
    NUMAHINT_PLACEMENT_ABSENT,
    /* status holds the negative errno. */
    NUMAHINT_PLACEMENT_FAILED,
} NumahintPlacementOutcome;

/* Why an item of work is there. */
typedef enum NumahintPlacementWhy {
    /* Queued events name it. */
    NUMAHINT_PLACEMENT_EVENT,
    /* A part of a split page, checked for a collapse. */
    NUMAHINT_PLACEMENT_PROBE,
    /* A part of a split page found collapsed, put back. */
    NUMAHINT_PLACEMENT_RESTORE,
} NumahintPlacementWhy;

/* One host page (or 4 KiB part of a split one) to place. */
typedef struct NumahintPlacementItem {
    /* Its host address, its size and the node it should be on. */
    void *page;
    uint64_t size;
    int node;
    /* 4 KiB pages of the events that it stands for. */
    uint32_t weight;
    /* When the oldest of those events came (ms). */
    uint64_t first_ms;
    NumahintPlacementWhy why;
    /* Where to note that the host page moved, or NULL. */
    uint32_t *state;
    /*
     * For a 4 KiB part of a split host page: that page and its size, to
     * split again before the part moves, and its record, if any.
     */
    void *whole;
    uint64_t whole_size;
    NumahintSplitPage *split;
    /* Filled by numahint_placement_execute(). */
    NumahintPlacementOutcome outcome;
    int status;
} NumahintPlacementItem;

/*
 * Work planned by numahint_placement_plan(): the system calls are made by
 * numahint_placement_execute(), which touches nothing else, so that a
 * caller can make them without the lock that serialises the engine.
 */
typedef struct NumahintPlacementWork {
    /* The caller's storage for items, and how many it holds. */
    NumahintPlacementItem *items;
    unsigned int capacity;
    unsigned int len;
    /* The clock of the plan, to note moves with. */
    uint64_t now_ms;
    /* NumahintPlacementOps calls made. */
    uint64_t query_calls;
    uint64_t move_calls;
    uint64_t split_calls;
    /* One batch for the ops: the pages, then the misplaced subset. */
    void *pages[NUMAHINT_PLACEMENT_BATCH];
    int nodes[NUMAHINT_PLACEMENT_BATCH];
    int status[NUMAHINT_PLACEMENT_BATCH];
    unsigned int index[NUMAHINT_PLACEMENT_BATCH];
} NumahintPlacementWork;

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
    /* As much again: a run copies the extents it keeps there, and swaps. */
    NumahintPlacementExtent *queue_spare;
    /*
     * Events not yet merged into the queue, in the order they came, and
     * the room to merge them: a heap and the sweep's output.
     */
    NumahintPlacementExtent *inbox;
    unsigned int inbox_len;
    unsigned int inbox_capacity;
    NumahintPlacementExtent *inbox_heap;
    NumahintPlacementExtent *inbox_sweep;
    /* 4 KiB pages of the inbox's events, overlaps counted twice. */
    uint64_t inbox_pages;

    NumahintPlacementParams params;
    /* The caller's clock, ms. */
    uint64_t now_ms;
    /* Queries numahint_placement_plan() has made itself this run. */
    unsigned int plan_queries;
    /* Pages taken off the queue into work not yet accounted. */
    uint64_t pages_in_flight;

    /* Split pages remembered, and the next to check. */
    NumahintSplitPage *split_pages;
    unsigned int nr_split_pages;
    unsigned int split_cursor;
    unsigned int split_pages_used;

    /* Work for numahint_placement_run(), a batch at a time. */
    NumahintPlacementWork work;
    NumahintPlacementItem work_items[NUMAHINT_PLACEMENT_MAX_PARTS +
                                     2 * NUMAHINT_PLACEMENT_BATCH];

    NumahintPlacementStats stats;
} NumahintPlacement;

/* move_pages(2) on the calling process; opaque is unused. */
extern const NumahintPlacementOps numahint_placement_linux_ops;

/* Events the inbox of a queue of @capacity extents holds. */
#define NUMAHINT_PLACEMENT_INBOX(capacity)      ((capacity) / 4 + 1)
/* Extents of storage a queue of @capacity extents needs. */
#define NUMAHINT_PLACEMENT_STORAGE(capacity) \
    (2 * (size_t)(capacity) + 4 * (size_t)NUMAHINT_PLACEMENT_INBOX(capacity))

/*
 * Set up @p with an empty queue of at most @queue_capacity extents, no
 * RAM, no vCPUs and the default parameters.  @queue has room for
 * NUMAHINT_PLACEMENT_STORAGE(@queue_capacity) extents.
 */
void numahint_placement_init(NumahintPlacement *p,
                             const NumahintPlacementOps *ops, void *opaque,
                             NumahintPlacementExtent *queue,
                             unsigned int queue_capacity);

/*
 * Use @regions as the guest RAM map, empty the queue (its extents were
 * checked against the old map) and forget the split pages (the old map's
 * page state said which they were).  Returns -EINVAL, and changes
 * nothing, unless the regions are sorted, disjoint, not empty and
 * aligned to their host page size.
 */
int numahint_placement_set_ram(NumahintPlacement *p,
                               const NumahintRamRegion *regions,
                               unsigned int nr_regions);

/*
 * Remember up to @nr split host pages in @pages (which this initialises),
 * and check them every check_ms: see "khugepaged" above.  Without them
 * (the default) a split page is not checked.
 */
void numahint_placement_set_split_pages(NumahintPlacement *p,
                                        NumahintSplitPage *pages,
                                        unsigned int nr);

/* Whether split pages are remembered, hence checked from time to time. */
bool numahint_placement_has_split_pages(const NumahintPlacement *p);

/*
 * Guest RAM [@gpa, @gpa + @size) was discarded: its host pages are not
 * present, and first touch will place them.  Forget where their parts
 * belonged, and that the engine split the host pages the range covers.
 */
void numahint_placement_forget(NumahintPlacement *p, uint64_t gpa,
                               uint64_t size);

/*
 * Use @vcpus as the vCPU map.  Returns -EINVAL, and changes nothing,
 * unless it is sorted by cpu_id without duplicates.  Queued extents keep
 * the node they were queued for.
 */
int numahint_placement_set_vcpus(NumahintPlacement *p,
                                 const NumahintVcpuNode *vcpus,
                                 unsigned int nr_vcpus);

/* Defaults: settle 200 ms, hold at most 5 s, no cooldown, check 1 s. */
#define NUMAHINT_PLACEMENT_SETTLE_MS    200
#define NUMAHINT_PLACEMENT_MAX_HOLD_MS  5000
#define NUMAHINT_PLACEMENT_CHECK_MS     1000

void numahint_placement_set_params(NumahintPlacement *p,
                                   const NumahintPlacementParams *params);

/* The time now, in ms of the caller's monotonic clock. */
void numahint_placement_set_time(NumahintPlacement *p, uint64_t now_ms);

/* Validate and queue one first-touch event (fields in host order). */
NumahintPlacementVerdict numahint_placement_add(NumahintPlacement *p,
                                                uint64_t addr,
                                                uint32_t nr_pages,
                                                uint32_t cpu_id);

/*
 * A caller's budget of 4 KiB pages over time, in thousandths of a page, so
 * that any rate holds, down to a page a second with a step every 10 ms.
 * numahint_placement_budget() adds a step of @period_ms at @pages_per_sec
 * to *@credit, up to one step's share (or one page, where a step's share
 * is less), and returns the whole pages the step may examine (0: none
 * this step); numahint_placement_spend() takes what the step examined,
 * which may be more (a host huge page is taken whole): later steps owe it.
 */
uint64_t numahint_placement_budget(int64_t *credit, uint64_t pages_per_sec,
                                   unsigned int period_ms);
void numahint_placement_spend(int64_t *credit, uint64_t examined);

/*
 * Place queued extents, examining at most about @budget 4 KiB pages of
 * host memory: a host page is taken whole, so the last one may overrun
 * the budget by less than its size.  Host pages it cannot decide yet stay
 * queued.  Returns the pages examined, so that
 * the caller can carry the overrun into its next budget.
 */
uint64_t numahint_placement_run(NumahintPlacement *p, uint64_t budget);

/*
 * numahint_placement_run() in three steps, for a caller that makes the
 * system calls without holding the engine's lock:
 *
 * - plan (engine locked): decide host pages as a run does, within
 *   @budget and the room of @work (which must hold more than 512 items),
 *   take them off the queue into @work, and return the pages examined
 *   (it stops while @work has room for NUMAHINT_PLACEMENT_MAX_PARTS more
 *   items, so a capacity of 512 plus a multiple of the batch fills whole
 *   batches);
 * - execute (engine not locked): query and move the items of @work with
 *   @ops; touches nothing but @work, so events can be added meanwhile;
 * - account (engine locked): count the outcomes, note the moves, and
 *   empty @work.
 *
 * The pages of planned items stay in pages_pending until accounted.  A
 * flush or a new RAM map in between leaves them alone; the RAM map's page
 * state must stay allocated until they are accounted.
 */
uint64_t numahint_placement_plan(NumahintPlacement *p, uint64_t budget,
                                 NumahintPlacementWork *work);
void numahint_placement_execute(const NumahintPlacementOps *ops,
                                void *opaque, NumahintPlacementWork *work);
void numahint_placement_account(NumahintPlacement *p,
                                NumahintPlacementWork *work);

/*
 * Merge the events added since into the queue (see "Inbox" above).  A
 * run does it first; the queue's extents are only those merged.
 */
void numahint_placement_drain(NumahintPlacement *p);

/* Empty the queue without placing anything (device reset). */
void numahint_placement_flush(NumahintPlacement *p);

/*
 * Check the engine's invariants: the events and pages add up as
 * "Accounting" above says, and the queue is within its capacity, sorted,
 * disjoint, merged, 4 KiB aligned, all guest RAM, for a node, and its
 * times in order; the split pages remembered are splittable host pages
 * and as many as counted.  Returns true if they hold; otherwise writes
 * what is broken, first, to @why (@len bytes, NUL-terminated) and returns
 * false.  O(queue length + split pages): for tests and fuzzing.
 */
bool numahint_placement_check(const NumahintPlacement *p, char *why,
                              size_t len);

#endif
