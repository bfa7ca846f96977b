/*
 * Virtio NUMA hint device
 *
 * Copyright (c) 2026 The numahint authors.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QEMU_VIRTIO_NUMAHINT_H
#define QEMU_VIRTIO_NUMAHINT_H

#include "standard-headers/linux/virtio_numahint.h"
#include "hw/virtio/virtio.h"
#include "hw/virtio/numahint-placement.h"
#include "hw/virtio/numahint-topology.h"
#include "qemu/thread.h"
#include "system/runstate.h"
#include "exec/memory.h"
#include "qemu/timer.h"
#include "qom/object.h"

#define TYPE_VIRTIO_NUMAHINT "virtio-numahint-device"
OBJECT_DECLARE_SIMPLE_TYPE(VirtIONumahint, VIRTIO_NUMAHINT)

#define VIRTIO_NUMAHINT_FREE_REPORT_PROP        "free-page-reporting"
#define VIRTIO_NUMAHINT_FIRST_TOUCH_PROP        "first-touch"
#define VIRTIO_NUMAHINT_LOCALITY_PROBE_PROP     "locality-probe"
#define VIRTIO_NUMAHINT_VCPU_NODES_PROP         "vcpu-nodes"
#define VIRTIO_NUMAHINT_TOUCH_PAGES_PER_SEC_PROP "touch-pages-per-sec"
#define VIRTIO_NUMAHINT_TOUCH_QUEUE_PROP        "touch-queue-extents"
#define VIRTIO_NUMAHINT_TOUCH_COOLDOWN_MS_PROP  "touch-cooldown-ms"
#define VIRTIO_NUMAHINT_TOUCH_SPLIT_PROP        "touch-split-huge-pages"
#define VIRTIO_NUMAHINT_TOUCH_SPLIT_PAGES_PROP  "touch-split-pages"
#define VIRTIO_NUMAHINT_REPORT_ORDER_PROP       "report-order"
#define VIRTIO_NUMAHINT_MAX_REPORT_RANGES_PROP  "max-report-ranges"
#define VIRTIO_NUMAHINT_MAX_TOUCH_EVENTS_PROP   "max-touch-events"
#define VIRTIO_NUMAHINT_MAX_PROBE_ENTRIES_PROP  "max-probe-entries"
#define VIRTIO_NUMAHINT_TOUCH_FLUSH_MS_PROP     "touch-flush-ms"
#define VIRTIO_NUMAHINT_QUEUE_SIZE_PROP         "queue-size"
#define VIRTIO_NUMAHINT_STATS_PROP              "stats"
#define VIRTIO_NUMAHINT_UNCHECKED_CONFIG_PROP   "x-unchecked-config"
#define VIRTIO_NUMAHINT_DISABLE_DISCARD_PROP    "x-disable-ram-discard"
#define VIRTIO_NUMAHINT_FAIL_NEXT_REQUEST_PROP  "x-fail-next-request"

/*
 * The configuration's bounds are the protocol's (VIRTIO_NUMAHINT_*_MAX,
 * _MIN in standard-headers/linux/virtio_numahint.h); this one is QEMU's.
 */
#define VIRTIO_NUMAHINT_TOUCH_QUEUE_LIMIT       (1 << 20)
/*
 * The default placement budget, 1 GiB/s of 4 KiB pages, and the largest,
 * 4 TiB/s (no host moves pages that fast: no bound in practice).
 */
#define VIRTIO_NUMAHINT_TOUCH_PAGES_PER_SEC_DEFAULT (1ULL << 18)
#define VIRTIO_NUMAHINT_TOUCH_PAGES_PER_SEC_LIMIT   (1ULL << 30)
/* Split pages remembered, at most (512 bytes each, looked up linearly). */
#define VIRTIO_NUMAHINT_TOUCH_SPLIT_PAGES_LIMIT (1 << 14)
/* Placement runs every this many ms while events are queued. */
#define VIRTIO_NUMAHINT_PLACEMENT_PERIOD_MS     10
/* Without vcpu-nodes, vCPU thread affinities are re-read this often. */
#define VIRTIO_NUMAHINT_VCPU_REFRESH_MS         1000
/*
 * Entries one queue notification handles, in whole requests (a request
 * counts one more); the rest wait for a bottom half.
 */
#define VIRTIO_NUMAHINT_KICK_ENTRIES    256
/* Items of work one placement step may plan: 8 batches, and a split page. */
#define VIRTIO_NUMAHINT_PLACEMENT_WORK  (8 * NUMAHINT_PLACEMENT_BATCH + \
                                         NUMAHINT_PLACEMENT_MAX_PARTS)

/*
 * The device's counters: X(field, "name", "description"), field being the
 * member of VirtIONumahintStats and name its key in the "stats" QOM
 * property, which also holds the placement engine's counters
 * (NUMAHINT_PLACEMENT_STATS).  Each one only ever grows.  They migrate
 * with the device in this order: the list is the layout of the stream.
 */
#define VIRTIO_NUMAHINT_STATS(X) \
    X(requests, "requests", \
      "requests popped from any queue, well-formed or not") \
    X(protocol_errors, "protocol-errors", \
      "requests that broke the framing rules; each one broke the device") \
    X(unsupported, "unsupported", \
      "requests of an unknown type, on the wrong queue or not negotiated") \
    X(report_requests, "report-requests", \
      "free page reports received") \
    X(report_ranges, "report-ranges", \
      "free ranges received, valid or not") \
    X(report_rejected, "report-rejected", \
      "free ranges rejected: misaligned, empty, overflowing, not guest " \
      "RAM, read-only") \
    X(report_bytes_discarded, "report-bytes-discarded", \
      "bytes of guest RAM whose host backing was discarded") \
    X(report_skipped_disabled, "report-skipped-disabled", \
      "free ranges not discarded because discarding is disabled (VFIO)") \
    X(report_skipped_migration, "report-skipped-migration", \
      "free ranges not discarded during incoming postcopy or a snapshot") \
    X(report_skipped_unaligned, "report-skipped-unaligned", \
      "free ranges smaller than one host page of their RAM block") \
    X(report_discard_failed, "report-discard-failed", \
      "free ranges whose discard failed on the host") \
    X(probe_requests, "probe-requests", \
      "locality probe requests received") \
    X(probe_entries, "probe-entries", \
      "locality probe entries answered with a node") \
    X(probe_rejected, "probe-rejected", \
      "locality probe entries rejected: not guest RAM, unknown vCPU") \
    X(touch_requests, "touch-requests", \
      "first-touch requests received") \
    X(touch_events, "touch-events", \
      "first-touch events received, valid or not") \
    X(touch_rejected, "touch-rejected", \
      "first-touch events rejected: not guest RAM, unknown vCPU") \
    X(touch_dropped, "touch-dropped", \
      "valid first-touch events not queued: no node for the vCPU, queue " \
      "full, or turned down by the engine (a partial host page at the " \
      "edge of a RAM region, a vCPU not yet in the map)") \
    X(report_skipped_not_system_ram, "report-skipped-not-system-ram", \
      "free ranges not discarded: their memory backend is not guest " \
      "system RAM (nvdimm, virtio-pmem, ivshmem)") \
    X(report_skipped_private, "report-skipped-private", \
      "free ranges not discarded: a private mapping (share=off) of a " \
      "named file, which a discard would change for its other users") \
    X(report_skipped_failed, "report-skipped-failed", \
      "free ranges not discarded: a discard failed on their RAM block " \
      "before") \
    X(max_placement_lock_ns, "max-placement-lock-ns", \
      "longest time one placement step held the engine's lock, which the " \
      "main loop takes to queue events, in nanoseconds") \
    X(max_placement_step_ns, "max-placement-step-ns", \
      "longest placement step, system calls included, in nanoseconds: " \
      "run by the placement thread, without the main loop lock") \
    X(placement_ns, "placement-ns", \
      "time the placement thread spent in placement steps, system calls " \
      "included, in nanoseconds: with touch-pages-migrated, the rate it " \
      "places at while it works") \
    X(placement_cpu_ns, "placement-cpu-ns", \
      "CPU time of the placement thread's steps, in nanoseconds: the " \
      "host CPU placement costs; less than placement-ns when the thread " \
      "waited for a CPU or in the kernel") \
    X(max_kick_ns, "max-kick-ns", \
      "longest time one notification of a queue kept the device busy, " \
      "under the main loop lock, in nanoseconds")

typedef struct VirtIONumahintStats {
#define VIRTIO_NUMAHINT_STAT_MEMBER(field, name, description) uint64_t field;
    VIRTIO_NUMAHINT_STATS(VIRTIO_NUMAHINT_STAT_MEMBER)
#undef VIRTIO_NUMAHINT_STAT_MEMBER
} VirtIONumahintStats;

struct VirtIONumahint {
    VirtIODevice parent_obj;

    /* Free page reports. */
    VirtQueue *report_vq;
    /* First-touch events. */
    VirtQueue *touch_vq;
    /* Locality probe requests. */
    VirtQueue *probe_vq;

    /* VIRTIO_NUMAHINT_F_* offered to the guest. */
    uint64_t host_features;
    /* Configuration space values; only touch_flush_ms can change. */
    uint32_t report_order;
    uint32_t max_report_ranges;
    uint32_t max_touch_events;
    uint32_t max_probe_entries;
    uint32_t touch_flush_ms;
    /* Size of each virtqueue. */
    uint16_t queue_size;
    /* Test hook: expose out-of-range configuration values unchecked. */
    bool unchecked_config;
    /* Test hook: disable RAM discards for the whole VM, as VFIO does. */
    bool disable_discard;
    /* Test hook: break the device (virtio_error) on the next request. */
    bool fail_next_request;

    /*
     * Whether free ranges may be discarded (VirtIONumahintDiscard + 1),
     * by RAMBlock; emptied whenever the guest memory map changes.
     */
    GHashTable *discard_verdicts;
    MemoryListener discard_listener;
    /*
     * RAM blocks, by idstr, whose ranges are not discarded: each was said
     * once; one on which a discard failed is never tried again.
     */
    GHashTable *discard_refused;

    /* Host CPUs' nodes, THP size and the parsed vcpu-nodes. */
    NumahintTopology topology;

    /*
     * "vcpu-nodes": host node of vCPU i, colon-separated; "-" or no entry:
     * from the vCPU thread's affinity.
     */
    char *vcpu_nodes;
    /*
     * Most 4 KiB pages of host memory placement may examine a second; set
     * at run time too (qom-set), read by the placement thread under
     * placement_lock.
     */
    uint64_t touch_pages_per_sec;
    /* Most extents the placement queue holds. */
    uint32_t touch_queue_extents;
    /* A host page moves at most once in this many ms (0: no cooldown). */
    uint32_t touch_cooldown_ms;
    /* Split contended transparent huge pages (else leave them). */
    bool touch_split;
    /*
     * Split pages whose parts' nodes are remembered and checked (0: none,
     * khugepaged may collapse them unnoticed).
     */
    uint32_t touch_split_pages;
    /* Guest RAM was pinned (discards disabled) when the RAM map was built. */
    bool ram_map_pinned;

    /* First-touch placement; see numahint-placement.h. */
    NumahintPlacement placement;
    /* Its queue, RAM map and vCPU map. */
    NumahintPlacementExtent *placement_queue;
    /* Storage of the split pages the engine remembers. */
    NumahintSplitPage *split_pages;
    NumahintRamRegion *ram_regions;
    unsigned int nr_ram_regions;
    NumahintVcpuNode *vcpu_map;
    unsigned int nr_vcpu_map;
    /* Set when guest memory changes: the RAM map is rebuilt before use. */
    bool ram_map_stale;
    MemoryListener ram_listener;
    /* First-touch placement is on: its thread runs. */
    bool placement_enabled;
    /*
     * The placement thread runs the engine every
     * VIRTIO_NUMAHINT_PLACEMENT_PERIOD_MS while pages are queued, and
     * makes its system calls without the BQL or placement_lock.
     * placement_lock serialises the engine (s->placement, its maps and
     * work) between the thread and the main loop.
     */
    QemuThread placement_thread;
    QemuMutex placement_lock;
    /* Wakes the thread (events, stop, pause), and the main loop (idle). */
    QemuCond placement_cond;
    QemuCond placement_idle;
    /* Under placement_lock: stop the thread; no new step while paused. */
    bool placement_stop;
    bool placement_paused;
    /* Under placement_lock: a step is between plan and account. */
    bool placement_busy;
    /* The step's work, and its storage. */
    NumahintPlacementWork placement_work;
    /* A RAM map built while a step was busy, for the thread to take. */
    NumahintRamRegion *next_ram_regions;
    unsigned int next_nr_ram_regions;
    bool next_ram_ready;
    unsigned int next_ram_generation;
    /* Bumped by every change of the guest memory map (atomic). */
    unsigned int ram_generation;
    /* The generation of the RAM map the engine has. */
    unsigned int engine_ram_generation;
    /* Handles requests a notification left (VIRTIO_NUMAHINT_KICK_ENTRIES). */
    QEMUBH *kick_bh;
    /* Rebuilds the RAM map in the main loop after the memory map changed. */
    QEMUBH *ram_map_bh;
    VMChangeStateEntry *vm_state;
    /*
     * The placement budget, thousandths of a 4 KiB page: what steps may
     * examine, or (negative) what they examined beyond it and owe.
     */
    int64_t placement_credit;
    /* When the vCPU map was last rebuilt (QEMU_CLOCK_REALTIME, ms). */
    int64_t vcpu_map_time;

    VirtIONumahintStats stats;
};

#endif
