/*
 * Virtio NUMA hint device
 *
 * The guest reports free page ranges, which the device discards so that
 * the host places them again on next touch; with first-touch=on it
 * reports the pages each vCPU allocates, which the device moves to that
 * vCPU's host node (the placement engine, numahint-placement.c); and it
 * may ask which host node backs a page (a debugging aid, off by
 * default).
 *
 * Copyright (c) 2026 The numahint authors.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/iov.h"
#include "qemu/module.h"
#include "qemu/error-report.h"
#include "hw/virtio/virtio.h"
#include "hw/virtio/virtio-numahint.h"
#include "hw/virtio/numahint-request.h"
#include "hw/qdev-properties.h"
#include "hw/core/cpu.h"
#include "exec/address-spaces.h"
#include "exec/memory.h"
#include "exec/ramblock.h"
#include "exec/cpu-common.h"
#include "migration/misc.h"
#include "migration/vmstate.h"
#include "system/hostmem.h"
#include "system/system.h"
#include "hw/mem/pc-dimm.h"
#include "hw/mem/nvdimm.h"
#include "hw/virtio/virtio-mem.h"
#include "hw/hyperv/hv-balloon.h"
#include "qemu/main-loop.h"
#include "qemu/cutils.h"
#include "hw/boards.h"
#include "system/numa.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "trace.h"

QEMU_BUILD_BUG_ON(sizeof(struct virtio_numahint_config) != 20);
QEMU_BUILD_BUG_ON(sizeof(struct virtio_numahint_req) != 8);
QEMU_BUILD_BUG_ON(sizeof(struct virtio_numahint_resp) != 8);
QEMU_BUILD_BUG_ON(sizeof(struct virtio_numahint_range) != 16);
QEMU_BUILD_BUG_ON(sizeof(struct virtio_numahint_touch) != 16);
QEMU_BUILD_BUG_ON(sizeof(struct virtio_numahint_probe) != 8);

/*
 * Guest RAM is RAM of a memory backend: not ROM, not a RAM device such as
 * a VFIO BAR, not video memory.
 */
static bool virtio_numahint_is_guest_ram(MemoryRegion *mr)
{
    return memory_region_is_ram(mr) && !memory_region_is_ram_device(mr) &&
           !memory_region_is_rom(mr) && !memory_region_is_romd(mr) &&
           object_dynamic_cast(memory_region_owner(mr), TYPE_MEMORY_BACKEND) &&
           mr->ram_block;
}

/*
 * Resolve [addr, addr + len) to guest RAM: the whole range must lie in
 * one memory backend.  Returns the RAMBlock and sets @offset to the
 * offset of @addr in it, or returns NULL.
 */
static RAMBlock *virtio_numahint_find_ram(uint64_t addr, uint64_t len,
                                          ram_addr_t *offset)
{
    MemoryRegionSection section;
    MemoryRegion *mr;
    RAMBlock *rb = NULL;

    if (!len || addr + len < addr) {
        return NULL;
    }
    section = memory_region_find(get_system_memory(), addr, len);
    mr = section.mr;
    if (!mr) {
        return NULL;
    }
    /*
     * A read-only view of RAM, such as the write-protected shadow BIOS
     * (PAM), is not the guest's to give back.
     */
    if (int128_eq(section.size, int128_make64(len)) && !section.readonly &&
        virtio_numahint_is_guest_ram(mr)) {
        rb = mr->ram_block;
        *offset = section.offset_within_region;
    }
    memory_region_unref(mr);
    return rb;
}

/*
 * If the device may not discard right now, count the skipped range and
 * return why; NULL if it may.
 */
static const char *virtio_numahint_skip_discard(VirtIONumahint *s)
{
    if (ram_block_discard_is_disabled()) {
        s->stats.report_skipped_disabled++;
        return "discard disabled";
    }
    /* Postcopy and background snapshots cannot cope with discards. */
    if (migration_in_incoming_postcopy() || migration_in_bg_snapshot()) {
        s->stats.report_skipped_migration++;
        return "migration";
    }
    return NULL;
}

/* Whether the device may discard the free ranges of a RAM block. */
typedef enum VirtIONumahintDiscard {
    VIRTIO_NUMAHINT_DISCARD_OK,
    /* Not the guest's system RAM: nvdimm, virtio-pmem, ivshmem. */
    VIRTIO_NUMAHINT_DISCARD_NOT_SYSTEM_RAM,
    /* A private mapping of a named file: a discard would punch it. */
    VIRTIO_NUMAHINT_DISCARD_PRIVATE,
    /* A discard failed there before. */
    VIRTIO_NUMAHINT_DISCARD_FAILED,
} VirtIONumahintDiscard;

/* Whether a device uses @opaque, a memory backend, as guest system RAM. */
static int virtio_numahint_uses_as_system_ram(Object *obj, void *opaque)
{
    /* An NVDIMM is a pc-dimm, but its memory is the guest's storage. */
    if ((object_dynamic_cast(obj, TYPE_PC_DIMM) &&
         !object_dynamic_cast(obj, TYPE_NVDIMM)) ||
        object_dynamic_cast(obj, TYPE_VIRTIO_MEM) ||
        object_dynamic_cast(obj, TYPE_HV_BALLOON)) {
        return object_property_get_link(obj, "memdev", NULL) == opaque;
    }
    return 0;
}

/*
 * Guest system RAM is the machine's memory backend, a NUMA node's, or
 * that of a memory device that adds RAM (pc-dimm, virtio-mem,
 * hv-balloon).  Other backends hold what the guest stores rather than
 * what it allocates (nvdimm, virtio-pmem) or memory it shares with
 * others (ivshmem): a free page report never speaks for them.
 */
static bool virtio_numahint_is_system_ram(MemoryRegion *mr)
{
    MachineState *ms = MACHINE(qdev_get_machine());
    Object *backend = memory_region_owner(mr);
    int i;

    if (ms->memdev && OBJECT(ms->memdev) == backend) {
        return true;
    }
    for (i = 0; ms->numa_state && i < ms->numa_state->num_nodes; i++) {
        if (OBJECT(ms->numa_state->nodes[i].node_memdev) == backend) {
            return true;
        }
    }
    return object_child_foreach_recursive(OBJECT(ms),
                                          virtio_numahint_uses_as_system_ram,
                                          backend);
}

/*
 * Whether @rb maps, privately, a file that others may map too: one with a
 * name.  QEMU's own files, a memfd or a file it created in a mem-path
 * directory, have none once created, and punching them harms nobody
 * (it is how a private hugetlbfs mapping gives its huge pages back).
 */
static bool virtio_numahint_is_private_named_file(RAMBlock *rb)
{
    int fd = qemu_ram_get_fd(rb);
    struct stat st;

    if (fd < 0 || qemu_ram_is_shared(rb)) {
        return false;
    }
    return fstat(fd, &st) || st.st_nlink > 0;
}

/*
 * Whether the free ranges in @rb may be discarded, and if not
 * why; says why not once per block.  The answer is kept until the guest
 * memory map changes; a block on which a discard failed is not tried
 * again.
 */
static VirtIONumahintDiscard virtio_numahint_block_discard(VirtIONumahint *s,
                                                           RAMBlock *rb)
{
    const char *idstr = qemu_ram_get_idstr(rb);
    gpointer known = g_hash_table_lookup(s->discard_refused, idstr);
    VirtIONumahintDiscard verdict;

    if (known && GPOINTER_TO_INT(known) - 1 == VIRTIO_NUMAHINT_DISCARD_FAILED) {
        return VIRTIO_NUMAHINT_DISCARD_FAILED;
    }
    known = g_hash_table_lookup(s->discard_verdicts, rb);
    if (known) {
        return GPOINTER_TO_INT(known) - 1;
    }
    if (!virtio_numahint_is_system_ram(rb->mr)) {
        verdict = VIRTIO_NUMAHINT_DISCARD_NOT_SYSTEM_RAM;
    } else if (virtio_numahint_is_private_named_file(rb)) {
        /*
         * Discarding a file's pages punches a hole in the file
         * (ram_block_discard_range), even through a private mapping:
         * every other user of the file, a VM cloned from the same
         * template or a snapshot, would then read zeroes.
         */
        verdict = VIRTIO_NUMAHINT_DISCARD_PRIVATE;
    } else {
        verdict = VIRTIO_NUMAHINT_DISCARD_OK;
    }
    g_hash_table_insert(s->discard_verdicts, rb, GINT_TO_POINTER(verdict + 1));
    if (verdict != VIRTIO_NUMAHINT_DISCARD_OK &&
        g_hash_table_insert(s->discard_refused, g_strdup(idstr),
                            GINT_TO_POINTER(verdict + 1))) {
        if (verdict == VIRTIO_NUMAHINT_DISCARD_PRIVATE) {
            warn_report("virtio-numahint: RAM '%s' is a private file mapping "
                        "(share=off): free pages reported in it are not "
                        "discarded, since that would change the file", idstr);
        } else {
            warn_report("virtio-numahint: RAM '%s' is not guest system RAM: "
                        "free pages reported in it are not discarded", idstr);
        }
    }
    return verdict;
}

static void virtio_numahint_discard_map_changed(MemoryListener *listener)
{
    VirtIONumahint *s = container_of(listener, VirtIONumahint,
                                     discard_listener);

    g_hash_table_remove_all(s->discard_verdicts);
}

/* A part of a RAM block to discard. */
typedef struct VirtIONumahintDiscardSpan {
    RAMBlock *rb;
    /* [start, end) of @rb, at guest address @addr. */
    ram_addr_t start;
    ram_addr_t end;
    uint64_t addr;
} VirtIONumahintDiscardSpan;

/*
 * What the ranges of one report request share.  The ranges come in the
 * order of the guest's free lists, mostly in a few stretches of guest RAM:
 * the stretch found for one range (one flat range of the memory map) and
 * its block's verdict are kept for the next, so that a range in the same
 * stretch needs neither memory_region_find() nor a hash lookup; the
 * ranges to discard are gathered, then sorted, so that neighbours go in
 * one ram_block_discard_range() call.  Nothing here outlives the request,
 * so no change of the memory map can make it stale.
 */
typedef struct VirtIONumahintReport {
    /* Guest RAM [ram_addr, ram_end) is @ram_rb from @ram_offset on. */
    RAMBlock *ram_rb;
    uint64_t ram_addr;
    uint64_t ram_end;
    ram_addr_t ram_offset;
    /* virtio_numahint_block_discard() of @verdict_rb, if set. */
    RAMBlock *verdict_rb;
    VirtIONumahintDiscard verdict;
    /* The ranges to discard, one per range, and then one per call. */
    VirtIONumahintDiscardSpan *spans;
    uint32_t nr_spans;
    /* ram_block_discard_range() calls made. */
    uint32_t nr_discards;
} VirtIONumahintReport;

/*
 * How far past a range a lookup looks for the stretch of guest RAM the
 * range lies in: memory_region_find() walks back over every flat range
 * in its window, so the window stays small next to the memory map.
 */
#define VIRTIO_NUMAHINT_RAM_WINDOW (1ULL << 30)

/*
 * virtio_numahint_find_ram() for the ranges of a report: the same check,
 * that [addr, addr + len) lies in one flat range of guest RAM, answered
 * from @report when the range lies in the stretch found last.
 */
static RAMBlock *virtio_numahint_report_find_ram(VirtIONumahintReport *report,
                                                 uint64_t addr, uint64_t len,
                                                 ram_addr_t *offset)
{
    MemoryRegionSection section;
    uint64_t window;
    RAMBlock *rb = NULL;

    if (report->ram_rb && addr >= report->ram_addr &&
        addr < report->ram_end && len <= report->ram_end - addr) {
        *offset = report->ram_offset + (addr - report->ram_addr);
        return report->ram_rb;
    }
    /* numahint_request_range() has checked that the range does not wrap. */
    window = MIN(MAX(len, VIRTIO_NUMAHINT_RAM_WINDOW), UINT64_MAX - addr);
    section = memory_region_find(get_system_memory(), addr, window);
    if (!section.mr) {
        return NULL;
    }
    /* The flat range that holds @addr must hold the whole range. */
    if (section.offset_within_address_space == addr &&
        int128_ge(section.size, int128_make64(len)) && !section.readonly &&
        virtio_numahint_is_guest_ram(section.mr)) {
        rb = section.mr->ram_block;
        *offset = section.offset_within_region;
        report->ram_rb = rb;
        report->ram_addr = addr;
        report->ram_end = addr + int128_get64(section.size);
        report->ram_offset = *offset;
    }
    memory_region_unref(section.mr);
    return rb;
}

/* virtio_numahint_block_discard(), asked once per block and request. */
static VirtIONumahintDiscard
virtio_numahint_report_verdict(VirtIONumahint *s, VirtIONumahintReport *report,
                               RAMBlock *rb)
{
    if (report->verdict_rb != rb) {
        report->verdict = virtio_numahint_block_discard(s, rb);
        report->verdict_rb = rb;
    }
    return report->verdict;
}

/*
 * Check one range and count it; if it is to be discarded, add it to
 * @report's spans.  Returns true if the range was valid, whether or not
 * it will be discarded.
 */
static bool virtio_numahint_report_range(VirtIONumahint *s,
                                         VirtIONumahintReport *report,
                                         const void *entry)
{
    VirtIONumahintDiscardSpan *span;
    uint64_t addr, len, start, end;
    ram_addr_t offset;
    const char *inhibitor;
    RAMBlock *rb = NULL;

    s->stats.report_ranges++;
    if (numahint_request_range(entry, &addr, &len)) {
        rb = virtio_numahint_report_find_ram(report, addr, len, &offset);
    }
    if (!rb) {
        s->stats.report_rejected++;
        trace_virtio_numahint_bad_range(addr, len);
        return false;
    }

    inhibitor = virtio_numahint_skip_discard(s);
    if (inhibitor) {
        trace_virtio_numahint_discard_skipped(addr, len, inhibitor);
        return true;
    }
    switch (virtio_numahint_report_verdict(s, report, rb)) {
    case VIRTIO_NUMAHINT_DISCARD_OK:
        break;
    case VIRTIO_NUMAHINT_DISCARD_NOT_SYSTEM_RAM:
        s->stats.report_skipped_not_system_ram++;
        trace_virtio_numahint_discard_skipped(addr, len, "not system RAM");
        return true;
    case VIRTIO_NUMAHINT_DISCARD_PRIVATE:
        s->stats.report_skipped_private++;
        trace_virtio_numahint_discard_skipped(addr, len, "private file");
        return true;
    case VIRTIO_NUMAHINT_DISCARD_FAILED:
        s->stats.report_skipped_failed++;
        trace_virtio_numahint_discard_skipped(addr, len, "failed before");
        return true;
    }

    /*
     * A RAM block backed by huge pages can only drop whole host pages:
     * discard the part of the range that covers complete ones.
     */
    if (!numahint_request_discard_span(offset, len, qemu_ram_pagesize(rb),
                                       &start, &end)) {
        s->stats.report_skipped_unaligned++;
        trace_virtio_numahint_discard_skipped(addr, len, "below host page");
        return true;
    }
    span = &report->spans[report->nr_spans++];
    span->rb = rb;
    span->start = start;
    span->end = end;
    span->addr = addr + (start - offset);
    return true;
}

static int virtio_numahint_cmp_span(const void *a, const void *b)
{
    const VirtIONumahintDiscardSpan *x = a, *y = b;

    if (x->rb != y->rb) {
        return (uintptr_t)x->rb < (uintptr_t)y->rb ? -1 : 1;
    }
    return x->start < y->start ? -1 : x->start > y->start;
}

/*
 * Discard [span->start, @end) of span->rb, @span and those merged with
 * it; count what it discarded.  Returns whether it did.
 */
static bool virtio_numahint_discard(VirtIONumahint *s,
                                    VirtIONumahintReport *report,
                                    const VirtIONumahintDiscardSpan *span,
                                    ram_addr_t end)
{
    int ret = ram_block_discard_range(span->rb, span->start,
                                      end - span->start);

    report->nr_discards++;
    trace_virtio_numahint_discard(span->addr, end - span->start, ret);
    if (ret) {
        return false;
    }
    s->stats.report_bytes_discarded += end - span->start;
    return true;
}

/*
 * ram_block_discard_range() has said why a discard failed.  What failed
 * once on a block fails again (mlock, a read-only or sealed file, no
 * hole punching): say it only once and stop trying there.
 */
static void virtio_numahint_discard_failed(VirtIONumahint *s,
                                           VirtIONumahintReport *report,
                                           RAMBlock *rb)
{
    s->stats.report_discard_failed++;
    g_hash_table_insert(s->discard_refused, g_strdup(qemu_ram_get_idstr(rb)),
                        GINT_TO_POINTER(VIRTIO_NUMAHINT_DISCARD_FAILED + 1));
    report->verdict_rb = rb;
    report->verdict = VIRTIO_NUMAHINT_DISCARD_FAILED;
}

/*
 * Discard @report's spans, in address order, spans that follow each other
 * in a block and in guest memory in one call; a span that overlaps
 * another (the guest may report a range twice) is discarded, and counted,
 * on its own.  If a merged call fails, its spans are tried one by one, as
 * they would have been unmerged: the first that fails is counted in
 * report-discard-failed and every span of that block after it in
 * report-skipped-failed.  Leaves in @report's spans those discarded,
 * merged, for numahint_placement_forget().
 */
static void virtio_numahint_report_discard(VirtIONumahint *s,
                                           VirtIONumahintReport *report)
{
    VirtIONumahintDiscardSpan *spans = report->spans;
    uint32_t i = 0, n, k, done = 0;

    qsort(spans, report->nr_spans, sizeof(*spans), virtio_numahint_cmp_span);
    while (i < report->nr_spans) {
        RAMBlock *rb = spans[i].rb;
        ram_addr_t end = spans[i].end;

        if (report->verdict_rb == rb &&
            report->verdict == VIRTIO_NUMAHINT_DISCARD_FAILED) {
            s->stats.report_skipped_failed++;
            trace_virtio_numahint_discard_skipped(spans[i].addr,
                                                  spans[i].end -
                                                  spans[i].start,
                                                  "failed before");
            i++;
            continue;
        }
        for (n = 1; i + n < report->nr_spans &&
             spans[i + n].rb == rb && spans[i + n].start == end &&
             spans[i + n].addr == spans[i].addr + (end - spans[i].start);
             n++) {
            end = spans[i + n].end;
        }
        if (virtio_numahint_discard(s, report, &spans[i], end)) {
            spans[done] = spans[i];
            spans[done++].end = end;
            i += n;
            continue;
        }
        if (n == 1) {
            virtio_numahint_discard_failed(s, report, rb);
            i++;
            continue;
        }
        /* One by one: those before the first that fails are discarded. */
        for (k = 0; k < n; k++) {
            if (!virtio_numahint_discard(s, report, &spans[i + k],
                                         spans[i + k].end)) {
                virtio_numahint_discard_failed(s, report, rb);
                break;
            }
            spans[done++] = spans[i + k];
        }
        /* The rest of the block is skipped by the loop, as failed before. */
        i += k + (k < n);
    }
    report->nr_spans = done;
}

/* CPU time of the calling thread, in ns, for the free path's trace. */
static int64_t virtio_numahint_thread_cpu_ns(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)) {
        return 0;
    }
    return ts.tv_sec * NANOSECONDS_PER_SECOND + ts.tv_nsec;
}

/* --- First-touch placement --- */

/*
 * Size of the host pages behind @rb: its huge page size, or for anonymous
 * RAM the transparent huge page size, since move_pages() moves a THP
 * whole and the engine must know to apply its majority rule to it.
 * *@splittable says whether those are transparent huge pages, which the
 * engine may split.
 */
static uint64_t virtio_numahint_host_page_size(VirtIONumahint *s, RAMBlock *rb,
                                               bool *splittable)
{
    size_t pagesize = qemu_ram_pagesize(rb);

    if (pagesize == qemu_real_host_page_size() && qemu_ram_get_fd(rb) < 0) {
        *splittable = s->touch_split && s->topology.thp_size > pagesize;
        return s->topology.thp_size;
    }
    *splittable = false;
    return pagesize;
}

/*
 * The admin's NUMA policy for the memory backend behind @mr: pages of a
 * bound or preferred backend may only move to its host nodes; those of an
 * interleaved backend were spread on purpose and do not move at all.
 */
static void virtio_numahint_backend_policy(MemoryRegion *mr,
                                           NumahintRamRegion *r)
{
    Object *owner = memory_region_owner(mr);
    HostMemoryBackend *backend;
    unsigned long node;

    r->allowed_nodes = 0;
    if (!owner || !object_dynamic_cast(owner, TYPE_MEMORY_BACKEND)) {
        return;
    }
    backend = MEMORY_BACKEND(owner);
    switch (backend->policy) {
    case HOST_MEM_POLICY_BIND:
    case HOST_MEM_POLICY_PREFERRED:
        for (node = find_first_bit(backend->host_nodes, MAX_NODES);
             node < MAX_NODES;
             node = find_next_bit(backend->host_nodes, MAX_NODES, node + 1)) {
            /* The engine's mask holds nodes 0-63: fewer is stricter. */
            if (node < 64) {
                r->allowed_nodes |= 1ULL << node;
            }
        }
        if (!r->allowed_nodes) {
            r->pinned = true;
        }
        break;
    case HOST_MEM_POLICY_INTERLEAVE:
        r->pinned = true;
        break;
    default:
        break;
    }
}

typedef struct VirtIONumahintRamMap {
    VirtIONumahint *s;
    GArray *regions;
    bool pinned;
} VirtIONumahintRamMap;

static bool virtio_numahint_add_ram_range(Int128 start, Int128 len,
                                          const MemoryRegion *cmr,
                                          hwaddr offset_in_region,
                                          void *opaque)
{
    VirtIONumahintRamMap *map = opaque;
    MemoryRegion *mr = (MemoryRegion *)cmr;
    uint64_t gpa = int128_get64(start), end = gpa + int128_get64(len);
    NumahintRamRegion r;
    uint64_t page;
    uint8_t *hva;

    if (!virtio_numahint_is_guest_ram(mr)) {
        return false;
    }
    hva = (uint8_t *)qemu_ram_get_host_addr(mr->ram_block) + offset_in_region;
    memset(&r, 0, sizeof(r));
    page = virtio_numahint_host_page_size(map->s, mr->ram_block,
                                          &r.splittable);
    /* Host and guest addresses must agree within a host page. */
    if ((gpa ^ (uintptr_t)hva) & (page - 1)) {
        page = qemu_real_host_page_size();
        r.splittable = false;
    }
    /* The engine places whole host pages: keep those the range covers. */
    r.gpa = ROUND_UP(gpa, page);
    r.size = r.gpa < ROUND_DOWN(end, page) ? ROUND_DOWN(end, page) - r.gpa : 0;
    r.hva = hva + (r.gpa - gpa);
    r.host_page_size = page;
    virtio_numahint_backend_policy(mr, &r);
    /* Pages pinned for DMA (VFIO) cannot migrate: every move would fail. */
    r.pinned |= map->pinned;
    if (r.size) {
        r.page_state = g_new0(uint32_t, r.size / page);
        g_array_append_val(map->regions, r);
    }
    return false;
}

static void virtio_numahint_free_regions(NumahintRamRegion *regions,
                                         unsigned int nr)
{
    unsigned int i;

    for (i = 0; i < nr; i++) {
        g_free(regions[i].page_state);
    }
    g_free(regions);
}

/*
 * Give the engine the RAM map built last (which empties its queue), and
 * free the one it had.  Under placement_lock, with no step busy.
 */
static void virtio_numahint_take_ram_map(VirtIONumahint *s)
{
    if (numahint_placement_set_ram(&s->placement, s->next_ram_regions,
                                   s->next_nr_ram_regions) < 0) {
        warn_report_once("virtio-numahint: guest RAM map unusable for "
                         "placement; first-touch events are dropped");
        numahint_placement_set_ram(&s->placement, NULL, 0);
    }
    virtio_numahint_free_regions(s->ram_regions, s->nr_ram_regions);
    s->ram_regions = s->next_ram_regions;
    s->nr_ram_regions = s->next_nr_ram_regions;
    s->engine_ram_generation = s->next_ram_generation;
    s->next_ram_regions = NULL;
    s->next_nr_ram_regions = 0;
    s->next_ram_ready = false;
}

/* Give the engine the RAM of the current guest memory map. */
static void virtio_numahint_update_ram_map(VirtIONumahint *s)
{
    /* Read before the map: a change while it is built makes it stale. */
    unsigned int generation = qatomic_load_acquire(&s->ram_generation);
    VirtIONumahintRamMap map = {
        .s = s,
        .regions = g_array_new(false, false, sizeof(NumahintRamRegion)),
        .pinned = ram_block_discard_is_disabled(),
    };
    unsigned int nr;
    NumahintRamRegion *regions;

    WITH_RCU_READ_LOCK_GUARD() {
        FlatView *fv = address_space_to_flatview(&address_space_memory);

        flatview_for_each_range(fv, virtio_numahint_add_ram_range, &map);
    }
    nr = map.regions->len;
    regions = (NumahintRamRegion *)g_array_free(map.regions, false);
    s->ram_map_pinned = map.pinned;
    if (map.pinned) {
        warn_report_once("virtio-numahint: guest RAM is pinned (VFIO): "
                         "first-touch events are counted, not placed");
    }
    trace_virtio_numahint_ram_map(nr);

    /*
     * Work in flight points into the old map's page state: while a step
     * is busy, leave the new map for the thread to take after it.
     */
    qemu_mutex_lock(&s->placement_lock);
    if (s->next_ram_ready) {
        virtio_numahint_free_regions(s->next_ram_regions,
                                     s->next_nr_ram_regions);
    }
    s->next_ram_regions = regions;
    s->next_nr_ram_regions = nr;
    s->next_ram_ready = true;
    s->next_ram_generation = generation;
    if (!s->placement_busy) {
        virtio_numahint_take_ram_map(s);
    }
    qemu_mutex_unlock(&s->placement_lock);
}

static int virtio_numahint_cmp_vcpu(const void *a, const void *b)
{
    const NumahintVcpuNode *x = a, *y = b;

    return x->cpu_id < y->cpu_id ? -1 : x->cpu_id > y->cpu_id;
}

/* Give the engine the host node of every vCPU, as it is now. */
static void virtio_numahint_update_vcpu_map(VirtIONumahint *s)
{
    NumahintVcpuNode *map;
    unsigned int n = 0;
    CPUState *cpu;

    CPU_FOREACH(cpu) {
        n++;
    }
    map = g_new(NumahintVcpuNode, n);
    n = 0;
    CPU_FOREACH(cpu) {
        map[n].cpu_id = CPU_GET_CLASS(cpu)->get_arch_id(cpu);
        map[n].node = numahint_topology_vcpu_node(&s->topology, cpu);
        n++;
    }
    qsort(map, n, sizeof(*map), virtio_numahint_cmp_vcpu);
    /* Only numahint_placement_add() reads it, in the main loop. */
    qemu_mutex_lock(&s->placement_lock);
    if (numahint_placement_set_vcpus(&s->placement, map, n) < 0) {
        qemu_mutex_unlock(&s->placement_lock);
        g_free(map);
        warn_report_once("virtio-numahint: duplicate vCPU ids; vCPU map "
                         "not updated");
        return;
    }
    qemu_mutex_unlock(&s->placement_lock);
    g_free(s->vcpu_map);
    s->vcpu_map = map;
    s->nr_vcpu_map = n;
    s->vcpu_map_time = qemu_clock_get_ms(QEMU_CLOCK_REALTIME);
}

/* The vCPU map, rebuilt once a second at most. */
static void virtio_numahint_refresh_vcpu_map(VirtIONumahint *s)
{
    if (!s->vcpu_map || qemu_clock_get_ms(QEMU_CLOCK_REALTIME) -
        s->vcpu_map_time >= VIRTIO_NUMAHINT_VCPU_REFRESH_MS) {
        virtio_numahint_update_vcpu_map(s);
    }
}

/* Rebuild the RAM map if the guest memory map changed since. */
static void virtio_numahint_ram_map_bh(void *opaque)
{
    VirtIONumahint *s = opaque;

    if (s->ram_map_stale) {
        s->ram_map_stale = false;
        virtio_numahint_update_ram_map(s);
    }
}

/*
 * Bring the engine's maps up to date: the RAM map after the guest memory
 * map changed, the vCPU map (thread affinities can change at any time,
 * e.g. when a management tool pins vCPUs) once a second.
 */
static void virtio_numahint_refresh_maps(VirtIONumahint *s)
{
    /* A VFIO device plugged or unplugged pins or unpins all guest RAM. */
    if (ram_block_discard_is_disabled() != s->ram_map_pinned) {
        s->ram_map_stale = true;
    }
    virtio_numahint_ram_map_bh(s);
    virtio_numahint_refresh_vcpu_map(s);
}

static void virtio_numahint_ram_map_changed(MemoryListener *listener)
{
    VirtIONumahint *s = container_of(listener, VirtIONumahint, ram_listener);

    /*
     * Before any RAM block of the old map is freed (after an RCU grace
     * period): a step that sees the old generation inside its RCU read
     * section can use the old map's host addresses until it leaves it.
     */
    qatomic_inc(&s->ram_generation);
    s->ram_map_stale = true;
    qemu_bh_schedule(s->ram_map_bh);
}

/* Wake the placement thread: events were queued. */
static void virtio_numahint_kick_placement(VirtIONumahint *s)
{
    qemu_cond_signal(&s->placement_cond);
}

/*
 * One placement step, within touch-pages-per-sec: each period adds its
 * share to the budget, less what earlier steps examined beyond theirs; a
 * step with less than a page of it does nothing.  Called and returns with
 * placement_lock held, which it drops while it makes the system calls.
 */
static void virtio_numahint_placement_step(VirtIONumahint *s)
{
    uint64_t budget = numahint_placement_budget(
        &s->placement_credit, s->touch_pages_per_sec,
        VIRTIO_NUMAHINT_PLACEMENT_PERIOD_MS);
    NumahintPlacementParams params = {
        /* Two flushes of the guest without an event for the page. */
        .settle_ms = MAX(NUMAHINT_PLACEMENT_SETTLE_MS,
                         2 * qatomic_read(&s->touch_flush_ms)),
        .max_hold_ms = NUMAHINT_PLACEMENT_MAX_HOLD_MS,
        .cooldown_ms = s->touch_cooldown_ms,
        .check_ms = NUMAHINT_PLACEMENT_CHECK_MS,
    };
    int64_t start = get_clock(), locked = start, step, cpu;
    uint64_t examined = 0, lock_ns;

    if (!budget) {
        return;
    }
    cpu = virtio_numahint_thread_cpu_ns();
    numahint_placement_set_params(&s->placement, &params);
    numahint_placement_set_time(&s->placement,
                                qemu_clock_get_ms(QEMU_CLOCK_REALTIME));

    rcu_read_lock();
    /* A map the guest memory map has changed since is not used. */
    if (qatomic_load_acquire(&s->ram_generation) ==
        s->engine_ram_generation) {
        examined = numahint_placement_plan(&s->placement, budget,
                                           &s->placement_work);
    }
    numahint_placement_spend(&s->placement_credit, examined);
    if (s->placement_work.len) {
        s->placement_busy = true;
        lock_ns = get_clock() - locked;
        qemu_mutex_unlock(&s->placement_lock);

        numahint_placement_execute(&numahint_placement_linux_ops, NULL,
                                   &s->placement_work);

        qemu_mutex_lock(&s->placement_lock);
        locked = get_clock();
        numahint_placement_account(&s->placement, &s->placement_work);
        s->placement_busy = false;
        if (s->next_ram_ready) {
            virtio_numahint_take_ram_map(s);
        }
        qemu_cond_broadcast(&s->placement_idle);
        lock_ns = MAX(lock_ns, get_clock() - locked);
    } else {
        lock_ns = get_clock() - locked;
    }
    rcu_read_unlock();

    step = get_clock() - start;
    qatomic_set(&s->stats.placement_ns, s->stats.placement_ns + step);
    qatomic_set(&s->stats.placement_cpu_ns, s->stats.placement_cpu_ns +
                virtio_numahint_thread_cpu_ns() - cpu);
    /* Read by the main loop without the lock: whole words. */
    qatomic_set(&s->stats.max_placement_lock_ns,
                MAX(s->stats.max_placement_lock_ns, lock_ns));
    qatomic_set(&s->stats.max_placement_step_ns,
                MAX(s->stats.max_placement_step_ns, step));
    trace_virtio_numahint_placement_run(budget, examined,
                                        s->placement.stats.pages_pending);
}

/*
 * The placement thread: a step every VIRTIO_NUMAHINT_PLACEMENT_PERIOD_MS
 * while pages are queued (or earlier steps overran the budget), one every
 * NUMAHINT_PLACEMENT_CHECK_MS while only split pages are to be checked,
 * asleep otherwise, and none while the VM is stopped.
 */
static void *virtio_numahint_placement_thread(void *opaque)
{
    VirtIONumahint *s = opaque;
    int64_t last = 0;

    rcu_register_thread();
    qemu_mutex_lock(&s->placement_lock);
    while (!s->placement_stop) {
        int64_t now = qemu_clock_get_ms(QEMU_CLOCK_REALTIME), due;
        bool pending = s->placement.stats.pages_pending ||
                       s->placement_credit < 0;

        if (s->placement_paused ||
            (!pending && !numahint_placement_has_split_pages(&s->placement))) {
            qemu_cond_wait(&s->placement_cond, &s->placement_lock);
            continue;
        }
        due = last + (pending ? VIRTIO_NUMAHINT_PLACEMENT_PERIOD_MS :
                                NUMAHINT_PLACEMENT_CHECK_MS);
        if (now < due) {
            qemu_cond_timedwait(&s->placement_cond, &s->placement_lock,
                                due - now);
            continue;
        }
        last = now;
        virtio_numahint_placement_step(s);
    }
    qemu_mutex_unlock(&s->placement_lock);
    rcu_unregister_thread();
    return NULL;
}

/*
 * No placement while the VM is stopped (migration's last stage, savevm):
 * the counters then hold still, and a stopped guest's memory stays put.
 * Stopping waits for a step in progress to end.
 */
static void virtio_numahint_vm_state_change(void *opaque, bool running,
                                            RunState state)
{
    VirtIONumahint *s = opaque;

    qemu_mutex_lock(&s->placement_lock);
    s->placement_paused = !running;
    while (s->placement_paused && s->placement_busy) {
        qemu_cond_wait(&s->placement_idle, &s->placement_lock);
    }
    qemu_cond_signal(&s->placement_cond);
    qemu_mutex_unlock(&s->placement_lock);
}

/*
 * Takes one first-touch event.  Returns false for an entry error; sets
 * @queued when the event was queued for placement (a valid event may
 * still be dropped: its vCPU has no node, or the queue is full).
 */
static bool virtio_numahint_touch_event(VirtIONumahint *s, const void *entry,
                                        bool *queued)
{
    NumahintPlacementVerdict verdict;
    uint32_t nr_pages, cpu_id;
    ram_addr_t offset;
    uint64_t addr;

    s->stats.touch_events++;
    *queued = false;
    if (!numahint_request_touch(entry, &addr, &nr_pages, &cpu_id) ||
        !virtio_numahint_find_ram(addr, (uint64_t)nr_pages <<
                                  VIRTIO_NUMAHINT_PAGE_SHIFT, &offset) ||
        !cpu_by_arch_id(cpu_id)) {
        s->stats.touch_rejected++;
        trace_virtio_numahint_touch_event(addr, nr_pages, cpu_id, "rejected");
        return false;
    }
    /*
     * The engine only knows whole host pages of RAM and vCPUs that have a
     * node: it may turn down an event that is valid for the guest.
     */
    qemu_mutex_lock(&s->placement_lock);
    numahint_placement_set_time(&s->placement,
                                qemu_clock_get_ms(QEMU_CLOCK_REALTIME));
    verdict = numahint_placement_add(&s->placement, addr, nr_pages, cpu_id);
    qemu_mutex_unlock(&s->placement_lock);
    if (verdict != NUMAHINT_PLACEMENT_ACCEPTED) {
        s->stats.touch_dropped++;
        trace_virtio_numahint_touch_event(addr, nr_pages, cpu_id, "dropped");
        return true;
    }
    trace_virtio_numahint_touch_event(addr, nr_pages, cpu_id, "queued");
    *queued = true;
    return true;
}

/* Answers one probe entry; returns false if the entry is invalid. */
/*
 * The host node of @cpu: from the vCPU map placement keeps (rebuilt at
 * most once a second), so that a probe request does not read /proc for
 * each of its entries.
 */
static int virtio_numahint_cached_vcpu_node(VirtIONumahint *s, CPUState *cpu,
                                            uint64_t arch_id)
{
    NumahintVcpuNode key = { .cpu_id = arch_id };
    NumahintVcpuNode *found;

    if (!s->placement_enabled || arch_id > UINT32_MAX) {
        return numahint_topology_vcpu_node(&s->topology, cpu);
    }
    virtio_numahint_refresh_vcpu_map(s);
    found = bsearch(&key, s->vcpu_map, s->nr_vcpu_map, sizeof(key),
                    virtio_numahint_cmp_vcpu);
    return found ? found->node : numahint_topology_vcpu_node(&s->topology,
                                                            cpu);
}

static bool virtio_numahint_probe_entry(VirtIONumahint *s, uint16_t type,
                                        const void *entry, uint32_t *node_le)
{
    uint64_t id;
    bool valid = numahint_request_probe(type, entry, &id);
    int node;

    if (type == VIRTIO_NUMAHINT_REQ_PROBE_PAGE) {
        ram_addr_t offset;
        RAMBlock *rb = NULL;

        if (valid) {
            rb = virtio_numahint_find_ram(id, VIRTIO_NUMAHINT_PAGE_SIZE,
                                          &offset);
        }
        if (!rb) {
            trace_virtio_numahint_bad_range(id, VIRTIO_NUMAHINT_PAGE_SIZE);
            return false;
        }
        node = numahint_topology_page_node(qemu_ram_get_host_addr(rb) +
                                           offset);
        trace_virtio_numahint_probe_page(id, node);
    } else {
        CPUState *cpu = id <= INT64_MAX ? cpu_by_arch_id(id) : NULL;

        if (!cpu) {
            trace_virtio_numahint_bad_cpu(id);
            return false;
        }
        node = virtio_numahint_cached_vcpu_node(s, cpu, id);
        trace_virtio_numahint_probe_cpu(id, node);
    }
    *node_le = cpu_to_le32(node < 0 ? VIRTIO_NUMAHINT_NODE_NONE : node);
    return true;
}

/*
 * The requests of each queue, checked by numahint_request_check(): each
 * handler takes the entries of one request, returns how many it did and
 * counts in *@bad those it rejected; the caller answers.
 */
typedef uint32_t (*VirtIONumahintQueueHandler)(VirtIONumahint *s,
                                               const NumahintRequest *req,
                                               const uint8_t *entries,
                                               VirtQueueElement *elem,
                                               uint32_t *bad);

static uint32_t virtio_numahint_handle_report(VirtIONumahint *s,
                                              const NumahintRequest *req,
                                              const uint8_t *entries,
                                              VirtQueueElement *elem,
                                              uint32_t *bad)
{
    /* The clock is read only for the trace (experiments/discard-bench). */
    bool timed = trace_event_get_state_backends(
        TRACE_VIRTIO_NUMAHINT_REPORT_DONE);
    int64_t cpu_ns = timed ? virtio_numahint_thread_cpu_ns() : 0;
    uint64_t discarded = s->stats.report_bytes_discarded;
    g_autofree VirtIONumahintDiscardSpan *spans =
        g_new(VirtIONumahintDiscardSpan, req->nr_entries);
    VirtIONumahintReport report = { .spans = spans };
    uint32_t i, done = 0;

    s->stats.report_requests++;
    for (i = 0; i < req->nr_entries; i++) {
        if (virtio_numahint_report_range(s, &report,
                                         entries + i * req->entry_size)) {
            done++;
        } else {
            ++*bad;
        }
    }
    virtio_numahint_report_discard(s, &report);
    if (s->placement_enabled && report.nr_spans) {
        /* First touch places these pages again: nothing to keep. */
        qemu_mutex_lock(&s->placement_lock);
        for (i = 0; i < report.nr_spans; i++) {
            numahint_placement_forget(&s->placement, spans[i].addr,
                                      spans[i].end - spans[i].start);
        }
        qemu_mutex_unlock(&s->placement_lock);
    }
    if (timed) {
        trace_virtio_numahint_report_done(req->nr_entries, report.nr_discards,
                                          s->stats.report_bytes_discarded -
                                          discarded,
                                          virtio_numahint_thread_cpu_ns() -
                                          cpu_ns);
    }
    return done;
}

static uint32_t virtio_numahint_handle_touch(VirtIONumahint *s,
                                             const NumahintRequest *req,
                                             const uint8_t *entries,
                                             VirtQueueElement *elem,
                                             uint32_t *bad)
{
    uint32_t i, done = 0;

    s->stats.touch_requests++;
    virtio_numahint_refresh_maps(s);
    for (i = 0; i < req->nr_entries; i++) {
        bool queued;

        if (!virtio_numahint_touch_event(s, entries + i * req->entry_size,
                                         &queued)) {
            ++*bad;
        }
        done += queued;
    }
    virtio_numahint_kick_placement(s);
    return done;
}

static uint32_t virtio_numahint_handle_probe(VirtIONumahint *s,
                                             const NumahintRequest *req,
                                             const uint8_t *entries,
                                             VirtQueueElement *elem,
                                             uint32_t *bad)
{
    g_autofree uint32_t *nodes = g_new(uint32_t, req->nr_entries);
    uint32_t i, done = 0;

    s->stats.probe_requests++;
    for (i = 0; i < req->nr_entries; i++) {
        if (virtio_numahint_probe_entry(s, req->type,
                                        entries + i * req->entry_size,
                                        &nodes[i])) {
            done++;
        } else {
            nodes[i] = cpu_to_le32(VIRTIO_NUMAHINT_NODE_NONE);
            s->stats.probe_rejected++;
            ++*bad;
        }
    }
    s->stats.probe_entries += done;
    iov_from_buf(elem->in_sg, elem->in_num, sizeof(struct virtio_numahint_resp),
                 nodes, (size_t)req->nr_entries * sizeof(uint32_t));
    return done;
}

static const VirtIONumahintQueueHandler
virtio_numahint_queue_handlers[VIRTIO_NUMAHINT_NUM_VQS] = {
    [VIRTIO_NUMAHINT_VQ_REPORT] = virtio_numahint_handle_report,
    [VIRTIO_NUMAHINT_VQ_TOUCH] = virtio_numahint_handle_touch,
    [VIRTIO_NUMAHINT_VQ_PROBE] = virtio_numahint_handle_probe,
};

/*
 * Pops and answers requests of @vq until they held @budget entries (a
 * request counts one more).  A request that
 * breaks the framing rules breaks the device (virtio_error), since the
 * driver and the device no longer agree on the protocol; an invalid entry
 * is only counted and skipped, with VIRTIO_NUMAHINT_RESP_REJECTED.
 * Returns true if the queue is empty (or the device broke), false if
 * requests may be left.
 */
static bool virtio_numahint_drain_vq(VirtIODevice *vdev, VirtQueue *vq,
                                     unsigned int budget)
{
    VirtIONumahint *s = VIRTIO_NUMAHINT(vdev);
    int queue = virtio_get_queue_index(vq);
    const NumahintRequestConfig cfg = {
        .features = vdev->guest_features,
        .max_entries = {
            [VIRTIO_NUMAHINT_VQ_REPORT] = s->max_report_ranges,
            [VIRTIO_NUMAHINT_VQ_TOUCH] = s->max_touch_events,
            [VIRTIO_NUMAHINT_VQ_PROBE] = s->max_probe_entries,
        },
    };
    VirtQueueElement *elem;
    unsigned int handled;

    for (handled = 0; handled < budget;) {
        struct virtio_numahint_resp resp = {};
        struct virtio_numahint_req hdr = {};
        g_autofree uint8_t *entries = NULL;
        NumahintRequestVerdict verdict;
        NumahintRequest req = {};
        uint32_t done = 0, bad = 0;
        uint16_t status;
        bool was_broken = vdev->broken;

        elem = virtqueue_pop(vq, sizeof(VirtQueueElement));
        if (!elem) {
            /*
             * The virtio core itself breaks the device on malformed
             * descriptor chains (wrong order, loops, bad addresses).
             */
            if (!was_broken && vdev->broken) {
                s->stats.protocol_errors++;
            }
            return true;
        }
        s->stats.requests++;
        if (s->fail_next_request) {
            /* Test hook: the device fails as if the request were invalid. */
            s->fail_next_request = false;
            req.violation = "x-fail-next-request test hook";
            goto violation;
        }
        iov_to_buf(elem->out_sg, elem->out_num, 0, &hdr, sizeof(hdr));
        verdict = numahint_request_check(&cfg, queue, &hdr,
                                         iov_size(elem->out_sg, elem->out_num),
                                         iov_size(elem->in_sg, elem->in_num),
                                         &req);
        if (verdict == NUMAHINT_REQUEST_VIOLATION) {
            goto violation;
        }
        trace_virtio_numahint_request(vdev, queue, req.type, req.nr_entries);
        if (verdict == NUMAHINT_REQUEST_UNSUPPORTED) {
            s->stats.unsupported++;
            status = VIRTIO_NUMAHINT_RESP_UNSUPPORTED;
            goto respond;
        }

        entries = g_malloc(req.entries_size);
        iov_to_buf(elem->out_sg, elem->out_num, sizeof(hdr), entries,
                   req.entries_size);

        done = virtio_numahint_queue_handlers[queue](s, &req, entries, elem,
                                                     &bad);
        status = bad ? VIRTIO_NUMAHINT_RESP_REJECTED : VIRTIO_NUMAHINT_RESP_OK;

respond:
        resp.status = cpu_to_le16(status);
        resp.nr_done = cpu_to_le32(done);
        iov_from_buf(elem->in_sg, elem->in_num, 0, &resp, sizeof(resp));
        trace_virtio_numahint_response(vdev, queue, status, done);
        virtqueue_push(vq, elem, req.resp_size);
        virtio_notify(vdev, vq);
        g_free(elem);
        handled += 1 + req.nr_entries;
        continue;

violation:
        s->stats.protocol_errors++;
        virtio_error(vdev, "virtio-numahint: protocol violation on queue %d: "
                     "%s", queue, req.violation);
        virtqueue_detach_element(vq, elem, 0);
        g_free(elem);
        return true;
    }
    return false;
}

/*
 * A queue was notified.  The handler runs under the main loop lock, in
 * the main loop or in the vCPU thread that notified (TCG, KVM without
 * ioeventfd), and drains the queue, which other vCPUs may keep filling:
 * max-kick-ns records the longest it held everything else up.
 */
static void virtio_numahint_handle_vq(VirtIODevice *vdev, VirtQueue *vq)
{
    VirtIONumahint *s = VIRTIO_NUMAHINT(vdev);
    int64_t start = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
    uint64_t ns;

    /* A guest that keeps the queue full gets the rest in a bottom half. */
    if (!virtio_numahint_drain_vq(vdev, vq, VIRTIO_NUMAHINT_KICK_ENTRIES)) {
        qemu_bh_schedule(s->kick_bh);
    }
    ns = qemu_clock_get_ns(QEMU_CLOCK_REALTIME) - start;
    s->stats.max_kick_ns = MAX(s->stats.max_kick_ns, ns);
}

/*
 * Requests a notification left: as many again from each queue, and again
 * later while any is left, so that the main loop runs in between.
 */
static void virtio_numahint_kick_bh(void *opaque)
{
    VirtIONumahint *s = opaque;
    VirtIODevice *vdev = VIRTIO_DEVICE(s);
    VirtQueue *vqs[] = { s->report_vq, s->touch_vq, s->probe_vq };
    int64_t start = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
    bool more = false;
    uint64_t ns;
    size_t i;

    for (i = 0; i < ARRAY_SIZE(vqs); i++) {
        if (virtio_queue_ready(vqs[i]) &&
            !virtio_numahint_drain_vq(vdev, vqs[i],
                                      VIRTIO_NUMAHINT_KICK_ENTRIES)) {
            more = true;
        }
    }
    if (more) {
        qemu_bh_schedule(s->kick_bh);
    }
    ns = qemu_clock_get_ns(QEMU_CLOCK_REALTIME) - start;
    s->stats.max_kick_ns = MAX(s->stats.max_kick_ns, ns);
}

static void virtio_numahint_get_config(VirtIODevice *vdev, uint8_t *config)
{
    VirtIONumahint *s = VIRTIO_NUMAHINT(vdev);
    struct virtio_numahint_config cfg = {
        .report_order = cpu_to_le32(s->report_order),
        .max_report_ranges = cpu_to_le32(s->max_report_ranges),
        .max_touch_events = cpu_to_le32(s->max_touch_events),
        .touch_flush_ms = cpu_to_le32(s->touch_flush_ms),
        .max_probe_entries = cpu_to_le32(s->max_probe_entries),
    };

    memcpy(config, &cfg, sizeof(cfg));
}

static uint64_t virtio_numahint_get_features(VirtIODevice *vdev,
                                             uint64_t features, Error **errp)
{
    VirtIONumahint *s = VIRTIO_NUMAHINT(vdev);

    return features | s->host_features;
}

static bool virtio_numahint_check_u32(const char *name, uint32_t value,
                                      uint32_t min, uint32_t max, Error **errp)
{
    if (value < min || value > max) {
        error_setg(errp, "'%s' must be between %" PRIu32 " and %" PRIu32
                   ", not %" PRIu32, name, min, max, value);
        return false;
    }
    return true;
}

static bool virtio_numahint_check_config(VirtIONumahint *s, Error **errp)
{
    return virtio_numahint_check_u32(VIRTIO_NUMAHINT_REPORT_ORDER_PROP,
                                     s->report_order, 0,
                                     VIRTIO_NUMAHINT_REPORT_ORDER_MAX, errp) &&
           virtio_numahint_check_u32(VIRTIO_NUMAHINT_MAX_REPORT_RANGES_PROP,
                                     s->max_report_ranges, 1,
                                     VIRTIO_NUMAHINT_MAX_REPORT_RANGES_MAX,
                                     errp) &&
           virtio_numahint_check_u32(VIRTIO_NUMAHINT_MAX_TOUCH_EVENTS_PROP,
                                     s->max_touch_events, 1,
                                     VIRTIO_NUMAHINT_MAX_TOUCH_EVENTS_MAX,
                                     errp) &&
           virtio_numahint_check_u32(VIRTIO_NUMAHINT_MAX_PROBE_ENTRIES_PROP,
                                     s->max_probe_entries, 1,
                                     VIRTIO_NUMAHINT_MAX_PROBE_ENTRIES_MAX,
                                     errp) &&
           virtio_numahint_check_u32(VIRTIO_NUMAHINT_TOUCH_FLUSH_MS_PROP,
                                     s->touch_flush_ms,
                                     VIRTIO_NUMAHINT_TOUCH_FLUSH_MS_MIN,
                                     VIRTIO_NUMAHINT_TOUCH_FLUSH_MS_MAX, errp);
}

/* Bounds of the first-touch properties, which the guest never sees. */
static bool virtio_numahint_check_touch(VirtIONumahint *s, Error **errp)
{
    return virtio_numahint_check_u32(VIRTIO_NUMAHINT_TOUCH_QUEUE_PROP,
                                     s->touch_queue_extents, 1,
                                     VIRTIO_NUMAHINT_TOUCH_QUEUE_LIMIT,
                                     errp) &&
           virtio_numahint_check_u32(VIRTIO_NUMAHINT_TOUCH_SPLIT_PAGES_PROP,
                                     s->touch_split_pages, 0,
                                     VIRTIO_NUMAHINT_TOUCH_SPLIT_PAGES_LIMIT,
                                     errp);
}

static void virtio_numahint_device_realize(DeviceState *dev, Error **errp)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(dev);
    VirtIONumahint *s = VIRTIO_NUMAHINT(dev);

    /*
     * Requests carry guest-physical addresses, which the device looks up
     * in guest memory directly: behind a vIOMMU they would let whoever
     * owns the device (a nested guest, a user space driver) name any of
     * the guest's RAM.  The device does not translate them, so it does
     * not offer VIRTIO_F_ACCESS_PLATFORM.
     */
    if (virtio_host_has_feature(vdev, VIRTIO_F_IOMMU_PLATFORM)) {
        error_setg(errp, "iommu_platform=on is not supported: requests carry "
                   "guest-physical addresses, not translated by an IOMMU");
        return;
    }
    if (!s->unchecked_config && !virtio_numahint_check_config(s, errp)) {
        return;
    }
    if (!virtio_numahint_check_touch(s, errp)) {
        return;
    }
    if (s->queue_size < 2 || s->queue_size > VIRTQUEUE_MAX_SIZE ||
        !is_power_of_2(s->queue_size)) {
        error_setg(errp, "'%s' must be a power of 2 between 2 and %d, not %"
                   PRIu16, VIRTIO_NUMAHINT_QUEUE_SIZE_PROP, VIRTQUEUE_MAX_SIZE,
                   s->queue_size);
        return;
    }

    /*
     * Without an explicit report-order, suggest reports no smaller than
     * the largest host page behind guest RAM: a hugetlbfs-backed guest
     * cannot give back less than one huge page.
     */
    if (!s->report_order) {
        s->report_order = ctz64(qemu_ram_pagesize_largest()) -
                          VIRTIO_NUMAHINT_PAGE_SHIFT;
    }

    /*
     * Locked memory cannot be discarded (madvise() fails on it): the guest
     * would report free pages for nothing, and every report would fail.
     */
    if (virtio_has_feature(s->host_features, VIRTIO_NUMAHINT_F_FREE_REPORT) &&
        should_mlock(mlock_state)) {
        warn_report("virtio-numahint: free page reporting is off: guest RAM "
                    "is locked (-overcommit mem-lock) and cannot be "
                    "discarded");
        virtio_clear_feature(&s->host_features, VIRTIO_NUMAHINT_F_FREE_REPORT);
    }

    if (s->disable_discard && ram_block_discard_disable(true)) {
        error_setg(errp, "'%s': RAM discards are required by another device",
                   VIRTIO_NUMAHINT_DISABLE_DISCARD_PROP);
        return;
    }

    if (!numahint_topology_parse_vcpu_nodes(
            &s->topology, VIRTIO_NUMAHINT_VCPU_NODES_PROP, s->vcpu_nodes,
            MACHINE(qdev_get_machine())->smp.max_cpus, errp)) {
        goto out_free_topology;
    }

    numahint_topology_read_host(&s->topology);
    if (virtio_has_feature(s->host_features, VIRTIO_NUMAHINT_F_FIRST_TOUCH)) {
        /* A second queue to copy into, and an inbox. */
        s->placement_queue = g_new(NumahintPlacementExtent,
                                   NUMAHINT_PLACEMENT_STORAGE(
                                       s->touch_queue_extents));
        numahint_placement_init(&s->placement,
                                &numahint_placement_linux_ops, NULL,
                                s->placement_queue, s->touch_queue_extents);
        s->placement_work.capacity = VIRTIO_NUMAHINT_PLACEMENT_WORK;
        s->placement_work.items = g_new(NumahintPlacementItem,
                                        s->placement_work.capacity);
        /* Where the parts of the pages it splits belong (512 B each). */
        s->split_pages = g_new(NumahintSplitPage, s->touch_split_pages);
        numahint_placement_set_split_pages(&s->placement, s->split_pages,
                                           s->touch_split_pages);
        qemu_mutex_init(&s->placement_lock);
        qemu_cond_init(&s->placement_cond);
        qemu_cond_init(&s->placement_idle);
        s->placement_paused = !runstate_is_running();
        s->ram_map_bh = qemu_bh_new_guarded(virtio_numahint_ram_map_bh, s,
                                            &DEVICE(s)->mem_reentrancy_guard);
        s->ram_map_stale = true;
        s->ram_listener = (MemoryListener) {
            .name = "virtio-numahint",
            .commit = virtio_numahint_ram_map_changed,
        };
        memory_listener_register(&s->ram_listener, &address_space_memory);
        s->vm_state = qemu_add_vm_change_state_handler(
            virtio_numahint_vm_state_change, s);
        s->placement_enabled = true;
        qemu_thread_create(&s->placement_thread, "numahint-place",
                           virtio_numahint_placement_thread, s,
                           QEMU_THREAD_JOINABLE);
    }

    s->discard_verdicts = g_hash_table_new(NULL, NULL);
    s->discard_refused = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                               NULL);
    s->discard_listener = (MemoryListener) {
        .name = "virtio-numahint-discard",
        .commit = virtio_numahint_discard_map_changed,
    };
    memory_listener_register(&s->discard_listener, &address_space_memory);

    s->kick_bh = qemu_bh_new_guarded(virtio_numahint_kick_bh, s,
                                     &DEVICE(s)->mem_reentrancy_guard);
    virtio_init(vdev, VIRTIO_ID_NUMAHINT,
                sizeof(struct virtio_numahint_config));
    /* All queues exist whatever is negotiated: indices never shift. */
    s->report_vq = virtio_add_queue(vdev, s->queue_size,
                                    virtio_numahint_handle_vq);
    s->touch_vq = virtio_add_queue(vdev, s->queue_size,
                                   virtio_numahint_handle_vq);
    s->probe_vq = virtio_add_queue(vdev, s->queue_size,
                                   virtio_numahint_handle_vq);
    return;

out_free_topology:
    numahint_topology_free(&s->topology);
    if (s->disable_discard) {
        ram_block_discard_disable(false);
    }
}

static void virtio_numahint_device_unrealize(DeviceState *dev)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(dev);
    VirtIONumahint *s = VIRTIO_NUMAHINT(dev);

    qemu_bh_delete(s->kick_bh);
    virtio_delete_queue(s->probe_vq);
    virtio_delete_queue(s->touch_vq);
    virtio_delete_queue(s->report_vq);
    virtio_cleanup(vdev);
    memory_listener_unregister(&s->discard_listener);
    g_hash_table_destroy(s->discard_refused);
    g_hash_table_destroy(s->discard_verdicts);
    if (s->placement_enabled) {
        qemu_mutex_lock(&s->placement_lock);
        s->placement_stop = true;
        qemu_cond_signal(&s->placement_cond);
        qemu_mutex_unlock(&s->placement_lock);
        qemu_thread_join(&s->placement_thread);
        qemu_del_vm_change_state_handler(s->vm_state);
        memory_listener_unregister(&s->ram_listener);
        qemu_bh_delete(s->ram_map_bh);
        qemu_cond_destroy(&s->placement_idle);
        qemu_cond_destroy(&s->placement_cond);
        qemu_mutex_destroy(&s->placement_lock);
        g_free(s->placement_work.items);
        g_free(s->split_pages);
        g_free(s->placement_queue);
        virtio_numahint_free_regions(s->ram_regions, s->nr_ram_regions);
        virtio_numahint_free_regions(s->next_ram_regions,
                                     s->next_nr_ram_regions);
        g_free(s->vcpu_map);
        s->placement_enabled = false;
    }
    numahint_topology_free(&s->topology);
    if (s->disable_discard) {
        ram_block_discard_disable(false);
    }
}

static void virtio_numahint_reset(VirtIODevice *vdev)
{
    VirtIONumahint *s = VIRTIO_NUMAHINT(vdev);

    qemu_bh_cancel(s->kick_bh);
    /* Events from before the reset no longer describe the guest. */
    if (s->placement_enabled) {
        qemu_mutex_lock(&s->placement_lock);
        numahint_placement_flush(&s->placement);
        s->placement_credit = 0;
        qemu_mutex_unlock(&s->placement_lock);
    }
}

/* Keys of the device's counters in the "stats" property. */
static const struct {
    const char *name;
    size_t offset;
} virtio_numahint_stat_fields[] = {
#define VIRTIO_NUMAHINT_STAT_FIELD(field, name, description) \
    { name, offsetof(VirtIONumahintStats, field) },
    VIRTIO_NUMAHINT_STATS(VIRTIO_NUMAHINT_STAT_FIELD)
#undef VIRTIO_NUMAHINT_STAT_FIELD
};

/* The placement engine's, also in "stats". */
static const struct {
    const char *name;
    size_t offset;
} virtio_numahint_placement_fields[] = {
#define VIRTIO_NUMAHINT_PLACEMENT_FIELD(field, name, description) \
    { name, offsetof(NumahintPlacementStats, field) },
    NUMAHINT_PLACEMENT_STATS(VIRTIO_NUMAHINT_PLACEMENT_FIELD)
#undef VIRTIO_NUMAHINT_PLACEMENT_FIELD
};

static void virtio_numahint_get_stats(Object *obj, Visitor *v,
                                      const char *name, void *opaque,
                                      Error **errp)
{
    VirtIONumahint *s = VIRTIO_NUMAHINT(obj);
    NumahintPlacementStats placement;
    bool ok = false;
    size_t i;

    if (!visit_start_struct(v, name, NULL, 0, errp)) {
        return;
    }
    for (i = 0; i < ARRAY_SIZE(virtio_numahint_stat_fields); i++) {
        uint64_t *value = (uint64_t *)((uint8_t *)&s->stats +
                                       virtio_numahint_stat_fields[i].offset);

        if (!visit_type_uint64(v, virtio_numahint_stat_fields[i].name, value,
                               errp)) {
            goto out;
        }
    }
    /* The placement thread updates them under its lock. */
    if (s->placement_enabled) {
        qemu_mutex_lock(&s->placement_lock);
    }
    placement = s->placement.stats;
    if (s->placement_enabled) {
        qemu_mutex_unlock(&s->placement_lock);
    }
    for (i = 0; i < ARRAY_SIZE(virtio_numahint_placement_fields); i++) {
        size_t offset = virtio_numahint_placement_fields[i].offset;
        uint64_t *value = (uint64_t *)((uint8_t *)&placement + offset);

        if (!visit_type_uint64(v, virtio_numahint_placement_fields[i].name,
                               value, errp)) {
            goto out;
        }
    }
    ok = true;
out:
    if (ok) {
        visit_check_struct(v, errp);
    }
    visit_end_struct(v, NULL);
}

static void virtio_numahint_get_touch_flush_ms(Object *obj, Visitor *v,
                                               const char *name, void *opaque,
                                               Error **errp)
{
    VirtIONumahint *s = VIRTIO_NUMAHINT(obj);

    visit_type_uint32(v, name, &s->touch_flush_ms, errp);
}

/* touch_flush_ms is the one config field that can change at run time. */
static void virtio_numahint_set_touch_flush_ms(Object *obj, Visitor *v,
                                               const char *name, void *opaque,
                                               Error **errp)
{
    VirtIONumahint *s = VIRTIO_NUMAHINT(obj);
    VirtIODevice *vdev = VIRTIO_DEVICE(obj);
    uint32_t value;

    if (!visit_type_uint32(v, name, &value, errp)) {
        return;
    }
    if (!s->unchecked_config &&
        !virtio_numahint_check_u32(name, value,
                                   VIRTIO_NUMAHINT_TOUCH_FLUSH_MS_MIN,
                                   VIRTIO_NUMAHINT_TOUCH_FLUSH_MS_MAX, errp)) {
        return;
    }
    if (value == s->touch_flush_ms) {
        return;
    }
    s->touch_flush_ms = value;
    trace_virtio_numahint_set_touch_flush_ms(value);
    if (DEVICE(obj)->realized) {
        virtio_notify_config(vdev);
    }
}

static void virtio_numahint_get_touch_pages_per_sec(Object *obj, Visitor *v,
                                                    const char *name,
                                                    void *opaque, Error **errp)
{
    VirtIONumahint *s = VIRTIO_NUMAHINT(obj);
    uint64_t value = qatomic_read(&s->touch_pages_per_sec);

    visit_type_uint64(v, name, &value, errp);
}

/*
 * The placement budget, which the host's admin may change at run time
 * (qom-set): the next placement step uses it.  It is the host's setting,
 * not the guest's, so it does not migrate: the destination has its own.
 */
static void virtio_numahint_set_touch_pages_per_sec(Object *obj, Visitor *v,
                                                    const char *name,
                                                    void *opaque, Error **errp)
{
    VirtIONumahint *s = VIRTIO_NUMAHINT(obj);
    uint64_t value;

    if (!visit_type_uint64(v, name, &value, errp)) {
        return;
    }
    if (value < 1 || value > VIRTIO_NUMAHINT_TOUCH_PAGES_PER_SEC_LIMIT) {
        error_setg(errp, "'%s' must be at least 1 and at most %" PRIu64,
                   name, (uint64_t)VIRTIO_NUMAHINT_TOUCH_PAGES_PER_SEC_LIMIT);
        return;
    }
    if (!DEVICE(obj)->realized) {
        s->touch_pages_per_sec = value;
        return;
    }
    qemu_mutex_lock(&s->placement_lock);
    qatomic_set(&s->touch_pages_per_sec, value);
    s->placement_credit = 0;
    qemu_cond_signal(&s->placement_cond);
    qemu_mutex_unlock(&s->placement_lock);
    trace_virtio_numahint_set_touch_pages_per_sec(value);
}

/*
 * Test hook: set at run time (qom-set) to make the device fail on the
 * next request it pops, so that tests see the driver recover from
 * DEVICE_NEEDS_RESET.
 */
static bool virtio_numahint_get_fail_next_request(Object *obj, Error **errp)
{
    return VIRTIO_NUMAHINT(obj)->fail_next_request;
}

static void virtio_numahint_set_fail_next_request(Object *obj, bool value,
                                                  Error **errp)
{
    VIRTIO_NUMAHINT(obj)->fail_next_request = value;
}

static void virtio_numahint_instance_init(Object *obj)
{
    VirtIONumahint *s = VIRTIO_NUMAHINT(obj);

    s->touch_flush_ms = 100;
    s->touch_pages_per_sec = VIRTIO_NUMAHINT_TOUCH_PAGES_PER_SEC_DEFAULT;
    object_property_add(obj, VIRTIO_NUMAHINT_STATS_PROP,
                        "VirtIONumahintStats", virtio_numahint_get_stats,
                        NULL, NULL, NULL);
    object_property_add(obj, VIRTIO_NUMAHINT_TOUCH_FLUSH_MS_PROP, "uint32",
                        virtio_numahint_get_touch_flush_ms,
                        virtio_numahint_set_touch_flush_ms, NULL, NULL);
    object_property_add(obj, VIRTIO_NUMAHINT_TOUCH_PAGES_PER_SEC_PROP,
                        "uint64", virtio_numahint_get_touch_pages_per_sec,
                        virtio_numahint_set_touch_pages_per_sec, NULL, NULL);
    object_property_add_bool(obj, VIRTIO_NUMAHINT_FAIL_NEXT_REQUEST_PROP,
                             virtio_numahint_get_fail_next_request,
                             virtio_numahint_set_fail_next_request);
}

/*
 * A struct of counters, all uint64_t and each in the list that generates
 * the struct, migrates as an array of them, in list order.
 */
#define VIRTIO_NUMAHINT_VMSTATE_COUNTERS(_field, _state, _type) {           \
    .name = stringify(_field),                                              \
    .info = &vmstate_info_uint64,                                           \
    .size = sizeof(uint64_t),                                               \
    .num = sizeof(_type) / sizeof(uint64_t),                                \
    .flags = VMS_ARRAY,                                                     \
    .offset = vmstate_offset_value(_state, _field, _type),                  \
}

QEMU_BUILD_BUG_ON(sizeof(VirtIONumahintStats) !=
                  ARRAY_SIZE(virtio_numahint_stat_fields) * sizeof(uint64_t));
QEMU_BUILD_BUG_ON(sizeof(NumahintPlacementStats) !=
                  ARRAY_SIZE(virtio_numahint_placement_fields) *
                  sizeof(uint64_t));

static bool virtio_numahint_placement_needed(void *opaque)
{
    VirtIONumahint *s = opaque;

    return s->placement_enabled;
}

/*
 * The queue of extents awaiting placement stays behind: what was pending
 * on the source is flushed, as by a reset, so that the counters still
 * account for every page.
 */
static int virtio_numahint_placement_post_load(void *opaque, int version_id)
{
    VirtIONumahint *s = opaque;

    s->placement.stats.pages_flushed += s->placement.stats.pages_pending;
    s->placement.stats.pages_pending = 0;
    return 0;
}

static const VMStateDescription vmstate_virtio_numahint_placement = {
    .name = "virtio-numahint-device/placement",
    .version_id = 3,
    .minimum_version_id = 3,
    .needed = virtio_numahint_placement_needed,
    .post_load = virtio_numahint_placement_post_load,
    .fields = (const VMStateField[]) {
        VIRTIO_NUMAHINT_VMSTATE_COUNTERS(placement.stats, VirtIONumahint,
                                         NumahintPlacementStats),
        VMSTATE_END_OF_LIST()
    },
};

/*
 * touch_flush_ms is the one configuration value that changes at run
 * time, hence migrates: the stream is checked as the property is.
 */
static int virtio_numahint_post_load(void *opaque, int version_id)
{
    VirtIONumahint *s = opaque;
    Error *err = NULL;

    if (!s->unchecked_config &&
        !virtio_numahint_check_u32(VIRTIO_NUMAHINT_TOUCH_FLUSH_MS_PROP,
                                   s->touch_flush_ms,
                                   VIRTIO_NUMAHINT_TOUCH_FLUSH_MS_MIN,
                                   VIRTIO_NUMAHINT_TOUCH_FLUSH_MS_MAX, &err)) {
        error_prepend(&err, "virtio-numahint: migration stream: ");
        error_report_err(err);
        return -EINVAL;
    }
    return 0;
}

/* Loaded with the version of vmstate_virtio_numahint: the two go together. */
static const VMStateDescription vmstate_virtio_numahint_device = {
    .name = "virtio-numahint-device",
    .version_id = 4,
    .minimum_version_id = 4,
    .post_load = virtio_numahint_post_load,
    .fields = (const VMStateField[]) {
        /* The fixed configuration must match on both sides. */
        VMSTATE_UINT32_EQUAL(report_order, VirtIONumahint,
                             "report-order differs on the destination"),
        VMSTATE_UINT32_EQUAL(max_report_ranges, VirtIONumahint,
                             "max-report-ranges differs on the destination"),
        VMSTATE_UINT32_EQUAL(max_touch_events, VirtIONumahint,
                             "max-touch-events differs on the destination"),
        VMSTATE_UINT32_EQUAL(max_probe_entries, VirtIONumahint,
                             "max-probe-entries differs on the destination"),
        VMSTATE_UINT32(touch_flush_ms, VirtIONumahint),
        VIRTIO_NUMAHINT_VMSTATE_COUNTERS(stats, VirtIONumahint,
                                         VirtIONumahintStats),
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription * const []) {
        &vmstate_virtio_numahint_placement,
        NULL
    },
};

/*
 * Version 4: the counters of the lists in the headers, which are the
 * layout of the stream (version 3 added placement-ns and
 * placement-cpu-ns, version 4 touch-placed-150ms and touch-placed-max-ms,
 * with the placement subsection's version 3); a counter added to either
 * list makes the next version.
 */
static const VMStateDescription vmstate_virtio_numahint = {
    .name = "virtio-numahint",
    .version_id = 4,
    .minimum_version_id = 4,
    .fields = (const VMStateField[]) {
        VMSTATE_VIRTIO_DEVICE,
        VMSTATE_END_OF_LIST()
    },
};

static const Property virtio_numahint_properties[] = {
    DEFINE_PROP_BIT64(VIRTIO_NUMAHINT_FREE_REPORT_PROP, VirtIONumahint,
                      host_features, VIRTIO_NUMAHINT_F_FREE_REPORT, true),
    DEFINE_PROP_BIT64(VIRTIO_NUMAHINT_FIRST_TOUCH_PROP, VirtIONumahint,
                      host_features, VIRTIO_NUMAHINT_F_FIRST_TOUCH, true),
    DEFINE_PROP_BIT64(VIRTIO_NUMAHINT_LOCALITY_PROBE_PROP, VirtIONumahint,
                      host_features, VIRTIO_NUMAHINT_F_LOCALITY_PROBE, false),
    DEFINE_PROP_STRING(VIRTIO_NUMAHINT_VCPU_NODES_PROP, VirtIONumahint,
                       vcpu_nodes),
    DEFINE_PROP_UINT32(VIRTIO_NUMAHINT_TOUCH_QUEUE_PROP, VirtIONumahint,
                       touch_queue_extents, 8192),
    DEFINE_PROP_UINT32(VIRTIO_NUMAHINT_TOUCH_COOLDOWN_MS_PROP, VirtIONumahint,
                       touch_cooldown_ms, 1000),
    DEFINE_PROP_BOOL(VIRTIO_NUMAHINT_TOUCH_SPLIT_PROP, VirtIONumahint,
                     touch_split, true),
    DEFINE_PROP_UINT32(VIRTIO_NUMAHINT_TOUCH_SPLIT_PAGES_PROP, VirtIONumahint,
                       touch_split_pages, 1024),
    DEFINE_PROP_UINT32(VIRTIO_NUMAHINT_REPORT_ORDER_PROP, VirtIONumahint,
                       report_order, 0),
    DEFINE_PROP_UINT32(VIRTIO_NUMAHINT_MAX_REPORT_RANGES_PROP, VirtIONumahint,
                       max_report_ranges, 32),
    DEFINE_PROP_UINT32(VIRTIO_NUMAHINT_MAX_TOUCH_EVENTS_PROP, VirtIONumahint,
                       max_touch_events, 256),
    DEFINE_PROP_UINT32(VIRTIO_NUMAHINT_MAX_PROBE_ENTRIES_PROP, VirtIONumahint,
                       max_probe_entries, 64),
    DEFINE_PROP_UINT16(VIRTIO_NUMAHINT_QUEUE_SIZE_PROP, VirtIONumahint,
                       queue_size, 128),
    DEFINE_PROP_BOOL(VIRTIO_NUMAHINT_UNCHECKED_CONFIG_PROP, VirtIONumahint,
                     unchecked_config, false),
    DEFINE_PROP_BOOL(VIRTIO_NUMAHINT_DISABLE_DISCARD_PROP, VirtIONumahint,
                     disable_discard, false),
};

static void virtio_numahint_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    VirtioDeviceClass *vdc = VIRTIO_DEVICE_CLASS(klass);

    device_class_set_props(dc, virtio_numahint_properties);
    dc->vmsd = &vmstate_virtio_numahint;
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
    vdc->realize = virtio_numahint_device_realize;
    vdc->unrealize = virtio_numahint_device_unrealize;
    vdc->get_config = virtio_numahint_get_config;
    vdc->get_features = virtio_numahint_get_features;
    vdc->reset = virtio_numahint_reset;
    vdc->vmsd = &vmstate_virtio_numahint_device;
}

static const TypeInfo virtio_numahint_info = {
    .name = TYPE_VIRTIO_NUMAHINT,
    .parent = TYPE_VIRTIO_DEVICE,
    .instance_size = sizeof(VirtIONumahint),
    .instance_init = virtio_numahint_instance_init,
    .class_init = virtio_numahint_class_init,
};

static void virtio_register_types(void)
{
    type_register_static(&virtio_numahint_info);
}

type_init(virtio_register_types)
