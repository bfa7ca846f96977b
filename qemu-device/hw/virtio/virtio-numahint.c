/*
 * Virtio NUMA hint device
 *
 * The guest reports free page ranges, which the device discards so that
 * the host places them again on next touch, and may ask which host node
 * backs a page (a debugging aid, off by default).
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
#include "hw/qdev-properties.h"
#include "hw/core/cpu.h"
#include "exec/address-spaces.h"
#include "exec/memory.h"
#include "exec/cpu-common.h"
#include "migration/misc.h"
#include "migration/vmstate.h"
#include "system/hostmem.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "trace.h"

#ifdef CONFIG_LINUX
#include <sys/syscall.h>
#endif

QEMU_BUILD_BUG_ON(sizeof(struct virtio_numahint_config) != 20);
QEMU_BUILD_BUG_ON(sizeof(struct virtio_numahint_req) != 8);
QEMU_BUILD_BUG_ON(sizeof(struct virtio_numahint_resp) != 8);
QEMU_BUILD_BUG_ON(sizeof(struct virtio_numahint_range) != 16);
QEMU_BUILD_BUG_ON(sizeof(struct virtio_numahint_touch) != 16);
QEMU_BUILD_BUG_ON(sizeof(struct virtio_numahint_probe) != 8);

/* What a request type needs: its queue, feature and entry layout. */
typedef struct VirtIONumahintReqType {
    /* Queue the request must arrive on. */
    int queue;
    /* Feature that must have been negotiated. */
    unsigned int feature;
    /* Size of one entry. */
    size_t entry_size;
    /* Whether the response carries one __le32 node per entry. */
    bool has_nodes;
} VirtIONumahintReqType;

static const VirtIONumahintReqType virtio_numahint_req_types[] = {
    [VIRTIO_NUMAHINT_REQ_FREE_REPORT] = {
        .queue = VIRTIO_NUMAHINT_VQ_REPORT,
        .feature = VIRTIO_NUMAHINT_F_FREE_REPORT,
        .entry_size = sizeof(struct virtio_numahint_range),
    },
    [VIRTIO_NUMAHINT_REQ_TOUCH] = {
        .queue = VIRTIO_NUMAHINT_VQ_TOUCH,
        .feature = VIRTIO_NUMAHINT_F_FIRST_TOUCH,
        .entry_size = sizeof(struct virtio_numahint_touch),
    },
    [VIRTIO_NUMAHINT_REQ_PROBE_PAGE] = {
        .queue = VIRTIO_NUMAHINT_VQ_PROBE,
        .feature = VIRTIO_NUMAHINT_F_LOCALITY_PROBE,
        .entry_size = sizeof(struct virtio_numahint_probe),
        .has_nodes = true,
    },
    [VIRTIO_NUMAHINT_REQ_PROBE_CPU] = {
        .queue = VIRTIO_NUMAHINT_VQ_PROBE,
        .feature = VIRTIO_NUMAHINT_F_LOCALITY_PROBE,
        .entry_size = sizeof(struct virtio_numahint_probe),
        .has_nodes = true,
    },
};

/* Most entries a request on @queue may carry, from the configuration. */
static uint32_t virtio_numahint_max_entries(VirtIONumahint *s, int queue)
{
    switch (queue) {
    case VIRTIO_NUMAHINT_VQ_REPORT:
        return s->max_report_ranges;
    case VIRTIO_NUMAHINT_VQ_TOUCH:
        return s->max_touch_events;
    default:
        return s->max_probe_entries;
    }
}

/*
 * Resolve [addr, addr + len) to guest RAM: the whole range must lie in
 * one RAM memory backend (not ROM, not a RAM device such as a VFIO BAR,
 * not video memory).  Returns the RAMBlock and sets @offset to the offset
 * of @addr in it, or returns NULL.
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
    if (int128_eq(section.size, int128_make64(len)) &&
        memory_region_is_ram(mr) && !memory_region_is_ram_device(mr) &&
        !memory_region_is_rom(mr) && !memory_region_is_romd(mr) &&
        object_dynamic_cast(memory_region_owner(mr), TYPE_MEMORY_BACKEND) &&
        mr->ram_block) {
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

/* Returns true if the range was valid, whether or not it was discarded. */
static bool virtio_numahint_report_range(VirtIONumahint *s,
                                         const struct virtio_numahint_range *r)
{
    uint64_t addr = le64_to_cpu(r->addr);
    uint64_t len = le64_to_cpu(r->len);
    ram_addr_t offset, start, end;
    const char *inhibitor;
    size_t pagesize;
    RAMBlock *rb;
    int ret;

    s->stats.report_ranges++;
    if (!QEMU_IS_ALIGNED(addr | len, VIRTIO_NUMAHINT_PAGE_SIZE)) {
        rb = NULL;
    } else {
        rb = virtio_numahint_find_ram(addr, len, &offset);
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

    /*
     * A RAM block backed by huge pages can only drop whole host pages:
     * discard the part of the range that covers complete ones.
     */
    pagesize = qemu_ram_pagesize(rb);
    start = ROUND_UP(offset, pagesize);
    end = ROUND_DOWN(offset + len, pagesize);
    if (start >= end) {
        s->stats.report_skipped_unaligned++;
        trace_virtio_numahint_discard_skipped(addr, len, "below host page");
        return true;
    }

    ret = ram_block_discard_range(rb, start, end - start);
    trace_virtio_numahint_discard(addr + (start - offset), end - start, ret);
    if (ret) {
        s->stats.report_discard_failed++;
    } else {
        s->stats.report_bytes_discarded += end - start;
    }
    return true;
}

#ifdef CONFIG_LINUX
/* Host node backing the page at @hva, or -1 if it is not populated. */
static int virtio_numahint_host_page_node(void *hva)
{
    int status = -1;

    if (syscall(SYS_move_pages, 0, 1UL, &hva, NULL, &status, 0) < 0) {
        return -1;
    }
    return status;
}

/* The host CPU a thread last ran on, from /proc, or -1. */
static int virtio_numahint_thread_last_cpu(int tid)
{
    g_autofree char *path = g_strdup_printf("/proc/self/task/%d/stat", tid);
    g_autofree char *contents = NULL;
    g_auto(GStrv) fields = NULL;
    const char *rest;
    int cpu = -1;

    if (!g_file_get_contents(path, &contents, NULL, NULL)) {
        return -1;
    }
    /* The command name may hold spaces: fields resume after its ')'. */
    rest = strrchr(contents, ')');
    if (!rest) {
        return -1;
    }
    fields = g_strsplit(rest + 2, " ", 0);
    /* "processor" is field 39 of stat(5); the split starts at field 3. */
    if (g_strv_length(fields) > 36) {
        cpu = atoi(fields[36]);
    }
    return cpu;
}

/*
 * Host node local to a vCPU: the node of the host CPUs its thread may
 * run on, or, if its affinity spans nodes, the node it last ran on.
 */
static int virtio_numahint_vcpu_node(VirtIONumahint *s, CPUState *cpu)
{
    cpu_set_t set;
    int node = -1;
    unsigned int i;
    int last;

    if (!cpu->thread_id) {
        return -1;
    }
    if (!sched_getaffinity(cpu->thread_id, sizeof(set), &set)) {
        for (i = 0; i < s->nr_host_cpus && i < CPU_SETSIZE; i++) {
            if (!CPU_ISSET(i, &set)) {
                continue;
            }
            if (node == -1) {
                node = s->host_cpu_node[i];
            } else if (node != s->host_cpu_node[i]) {
                node = -1;
                break;
            }
        }
        if (node >= 0) {
            return node;
        }
    }
    last = virtio_numahint_thread_last_cpu(cpu->thread_id);
    if (last < 0 || last >= s->nr_host_cpus) {
        return -1;
    }
    return s->host_cpu_node[last];
}

/* Map every host CPU to its node from sysfs; unknown CPUs stay at -1. */
static void virtio_numahint_read_host_topology(VirtIONumahint *s)
{
    long nr = sysconf(_SC_NPROCESSORS_CONF);
    unsigned int cpu;

    s->nr_host_cpus = nr > 0 ? nr : 0;
    s->host_cpu_node = g_new(int, s->nr_host_cpus);
    for (cpu = 0; cpu < s->nr_host_cpus; cpu++) {
        g_autofree char *path =
            g_strdup_printf("/sys/devices/system/cpu/cpu%u", cpu);
        GDir *dir = g_dir_open(path, 0, NULL);
        const char *name;

        s->host_cpu_node[cpu] = -1;
        if (!dir) {
            continue;
        }
        while ((name = g_dir_read_name(dir))) {
            if (g_str_has_prefix(name, "node") &&
                g_ascii_isdigit(name[4])) {
                s->host_cpu_node[cpu] = atoi(name + 4);
                break;
            }
        }
        g_dir_close(dir);
    }
}
#else
static int virtio_numahint_host_page_node(void *hva)
{
    return -1;
}

static int virtio_numahint_vcpu_node(VirtIONumahint *s, CPUState *cpu)
{
    return -1;
}

static void virtio_numahint_read_host_topology(VirtIONumahint *s)
{
    s->nr_host_cpus = 0;
    s->host_cpu_node = NULL;
}
#endif

/* Answers one probe entry; returns false if the entry is invalid. */
static bool virtio_numahint_probe_entry(VirtIONumahint *s, uint16_t type,
                                        const struct virtio_numahint_probe *p,
                                        uint32_t *node_le)
{
    uint64_t id = le64_to_cpu(p->id);
    int node;

    if (type == VIRTIO_NUMAHINT_REQ_PROBE_PAGE) {
        ram_addr_t offset;
        RAMBlock *rb = NULL;

        if (QEMU_IS_ALIGNED(id, VIRTIO_NUMAHINT_PAGE_SIZE)) {
            rb = virtio_numahint_find_ram(id, VIRTIO_NUMAHINT_PAGE_SIZE,
                                          &offset);
        }
        if (!rb) {
            trace_virtio_numahint_bad_range(id, VIRTIO_NUMAHINT_PAGE_SIZE);
            return false;
        }
        node = virtio_numahint_host_page_node(qemu_ram_get_host_addr(rb) +
                                              offset);
        trace_virtio_numahint_probe_page(id, node);
    } else {
        CPUState *cpu = id <= INT64_MAX ? cpu_by_arch_id(id) : NULL;

        if (!cpu) {
            trace_virtio_numahint_bad_cpu(id);
            return false;
        }
        node = virtio_numahint_vcpu_node(s, cpu);
        trace_virtio_numahint_probe_cpu(id, node);
    }
    *node_le = cpu_to_le32(node < 0 ? VIRTIO_NUMAHINT_NODE_NONE : node);
    return true;
}

/*
 * Pops and answers every request on @vq.  A request that breaks the
 * framing rules breaks the device (virtio_error), since the driver and
 * the device no longer agree on the protocol; an invalid entry is only
 * counted and skipped, with VIRTIO_NUMAHINT_RESP_REJECTED.
 */
static void virtio_numahint_handle_vq(VirtIODevice *vdev, VirtQueue *vq)
{
    VirtIONumahint *s = VIRTIO_NUMAHINT(vdev);
    int queue = virtio_get_queue_index(vq);
    VirtQueueElement *elem;

    for (;;) {
        const VirtIONumahintReqType *rt = NULL;
        struct virtio_numahint_resp resp = {};
        struct virtio_numahint_req req;
        g_autofree uint8_t *entries = NULL;
        g_autofree uint32_t *nodes = NULL;
        size_t out_size, in_size, resp_size;
        uint32_t nr, max, i, done = 0;
        uint16_t type, status;
        const char *violation = NULL;
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
            return;
        }
        s->stats.requests++;
        out_size = iov_size(elem->out_sg, elem->out_num);
        in_size = iov_size(elem->in_sg, elem->in_num);
        if (iov_to_buf(elem->out_sg, elem->out_num, 0, &req,
                       sizeof(req)) != sizeof(req)) {
            violation = "request header missing or short";
            goto violation;
        }
        if (in_size < sizeof(resp)) {
            violation = "response buffer missing or short";
            goto violation;
        }
        type = le16_to_cpu(req.type);
        nr = le32_to_cpu(req.nr_entries);
        trace_virtio_numahint_request(vdev, queue, type, nr);

        if (type < ARRAY_SIZE(virtio_numahint_req_types)) {
            rt = &virtio_numahint_req_types[type];
        }
        if (!rt || rt->queue != queue ||
            !virtio_vdev_has_feature(vdev, rt->feature)) {
            s->stats.unsupported++;
            status = VIRTIO_NUMAHINT_RESP_UNSUPPORTED;
            resp_size = sizeof(resp);
            goto respond;
        }

        max = virtio_numahint_max_entries(s, queue);
        if (!nr || nr > max) {
            violation = "entry count out of range";
            goto violation;
        }
        if (out_size != sizeof(req) + (size_t)nr * rt->entry_size) {
            violation = "request size does not match its entry count";
            goto violation;
        }
        resp_size = sizeof(resp) +
                    (rt->has_nodes ? (size_t)nr * sizeof(uint32_t) : 0);
        if (in_size < resp_size) {
            violation = "response buffer too short for the entries";
            goto violation;
        }

        entries = g_malloc((size_t)nr * rt->entry_size);
        iov_to_buf(elem->out_sg, elem->out_num, sizeof(req), entries,
                   (size_t)nr * rt->entry_size);

        switch (type) {
        case VIRTIO_NUMAHINT_REQ_FREE_REPORT:
            s->stats.report_requests++;
            for (i = 0; i < nr; i++) {
                const struct virtio_numahint_range *r =
                    (const struct virtio_numahint_range *)entries + i;

                done += virtio_numahint_report_range(s, r);
            }
            break;
        case VIRTIO_NUMAHINT_REQ_PROBE_PAGE:
        case VIRTIO_NUMAHINT_REQ_PROBE_CPU:
            s->stats.probe_requests++;
            nodes = g_new(uint32_t, nr);
            for (i = 0; i < nr; i++) {
                const struct virtio_numahint_probe *p =
                    (const struct virtio_numahint_probe *)entries + i;

                if (virtio_numahint_probe_entry(s, type, p, &nodes[i])) {
                    done++;
                } else {
                    nodes[i] = cpu_to_le32(VIRTIO_NUMAHINT_NODE_NONE);
                    s->stats.probe_rejected++;
                }
            }
            s->stats.probe_entries += done;
            iov_from_buf(elem->in_sg, elem->in_num, sizeof(resp), nodes,
                         (size_t)nr * sizeof(uint32_t));
            break;
        default:
            /* VIRTIO_NUMAHINT_F_FIRST_TOUCH is never offered. */
            g_assert_not_reached();
        }
        status = done == nr ? VIRTIO_NUMAHINT_RESP_OK :
                              VIRTIO_NUMAHINT_RESP_REJECTED;

respond:
        resp.status = cpu_to_le16(status);
        resp.nr_done = cpu_to_le32(done);
        iov_from_buf(elem->in_sg, elem->in_num, 0, &resp, sizeof(resp));
        trace_virtio_numahint_response(vdev, queue, status, done);
        virtqueue_push(vq, elem, resp_size);
        virtio_notify(vdev, vq);
        g_free(elem);
        continue;

violation:
        s->stats.protocol_errors++;
        virtio_error(vdev, "virtio-numahint: protocol violation on queue %d: "
                     "%s", queue, violation);
        virtqueue_detach_element(vq, elem, 0);
        g_free(elem);
        return;
    }
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
                                     VIRTIO_NUMAHINT_MAX_REPORT_RANGES_LIMIT,
                                     errp) &&
           virtio_numahint_check_u32(VIRTIO_NUMAHINT_MAX_TOUCH_EVENTS_PROP,
                                     s->max_touch_events, 1,
                                     VIRTIO_NUMAHINT_MAX_TOUCH_EVENTS_LIMIT,
                                     errp) &&
           virtio_numahint_check_u32(VIRTIO_NUMAHINT_MAX_PROBE_ENTRIES_PROP,
                                     s->max_probe_entries, 1,
                                     VIRTIO_NUMAHINT_MAX_PROBE_ENTRIES_LIMIT,
                                     errp) &&
           virtio_numahint_check_u32(VIRTIO_NUMAHINT_TOUCH_FLUSH_MS_PROP,
                                     s->touch_flush_ms,
                                     VIRTIO_NUMAHINT_TOUCH_FLUSH_MS_MIN,
                                     VIRTIO_NUMAHINT_TOUCH_FLUSH_MS_MAX, errp);
}

static void virtio_numahint_device_realize(DeviceState *dev, Error **errp)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(dev);
    VirtIONumahint *s = VIRTIO_NUMAHINT(dev);

    if (!s->unchecked_config && !virtio_numahint_check_config(s, errp)) {
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

    if (s->disable_discard && ram_block_discard_disable(true)) {
        error_setg(errp, "'%s': RAM discards are required by another device",
                   VIRTIO_NUMAHINT_DISABLE_DISCARD_PROP);
        return;
    }

    virtio_numahint_read_host_topology(s);
    virtio_init(vdev, VIRTIO_ID_NUMAHINT,
                sizeof(struct virtio_numahint_config));
    /* All queues exist whatever is negotiated: indices never shift. */
    s->report_vq = virtio_add_queue(vdev, s->queue_size,
                                    virtio_numahint_handle_vq);
    s->touch_vq = virtio_add_queue(vdev, s->queue_size,
                                   virtio_numahint_handle_vq);
    s->probe_vq = virtio_add_queue(vdev, s->queue_size,
                                   virtio_numahint_handle_vq);
}

static void virtio_numahint_device_unrealize(DeviceState *dev)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(dev);
    VirtIONumahint *s = VIRTIO_NUMAHINT(dev);

    virtio_delete_queue(s->probe_vq);
    virtio_delete_queue(s->touch_vq);
    virtio_delete_queue(s->report_vq);
    virtio_cleanup(vdev);
    g_free(s->host_cpu_node);
    s->host_cpu_node = NULL;
    if (s->disable_discard) {
        ram_block_discard_disable(false);
    }
}

/* Names of the counters in the "stats" property, in struct order. */
static const struct {
    const char *name;
    size_t offset;
} virtio_numahint_stat_fields[] = {
#define STAT(name, field) { name, offsetof(VirtIONumahintStats, field) }
    STAT("requests", requests),
    STAT("protocol-errors", protocol_errors),
    STAT("unsupported", unsupported),
    STAT("report-requests", report_requests),
    STAT("report-ranges", report_ranges),
    STAT("report-rejected", report_rejected),
    STAT("report-bytes-discarded", report_bytes_discarded),
    STAT("report-skipped-disabled", report_skipped_disabled),
    STAT("report-skipped-migration", report_skipped_migration),
    STAT("report-skipped-unaligned", report_skipped_unaligned),
    STAT("report-discard-failed", report_discard_failed),
    STAT("probe-requests", probe_requests),
    STAT("probe-entries", probe_entries),
    STAT("probe-rejected", probe_rejected),
#undef STAT
};

QEMU_BUILD_BUG_ON(ARRAY_SIZE(virtio_numahint_stat_fields) * sizeof(uint64_t) !=
                  sizeof(VirtIONumahintStats));

static void virtio_numahint_get_stats(Object *obj, Visitor *v,
                                      const char *name, void *opaque,
                                      Error **errp)
{
    VirtIONumahint *s = VIRTIO_NUMAHINT(obj);
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

static void virtio_numahint_instance_init(Object *obj)
{
    VirtIONumahint *s = VIRTIO_NUMAHINT(obj);

    s->touch_flush_ms = 100;
    object_property_add(obj, VIRTIO_NUMAHINT_STATS_PROP,
                        "VirtIONumahintStats", virtio_numahint_get_stats,
                        NULL, NULL, NULL);
    object_property_add(obj, VIRTIO_NUMAHINT_TOUCH_FLUSH_MS_PROP, "uint32",
                        virtio_numahint_get_touch_flush_ms,
                        virtio_numahint_set_touch_flush_ms, NULL, NULL);
}

static const VMStateDescription vmstate_virtio_numahint_stats = {
    .name = "virtio-numahint-stats",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64(requests, VirtIONumahintStats),
        VMSTATE_UINT64(protocol_errors, VirtIONumahintStats),
        VMSTATE_UINT64(unsupported, VirtIONumahintStats),
        VMSTATE_UINT64(report_requests, VirtIONumahintStats),
        VMSTATE_UINT64(report_ranges, VirtIONumahintStats),
        VMSTATE_UINT64(report_rejected, VirtIONumahintStats),
        VMSTATE_UINT64(report_bytes_discarded, VirtIONumahintStats),
        VMSTATE_UINT64(report_skipped_disabled, VirtIONumahintStats),
        VMSTATE_UINT64(report_skipped_migration, VirtIONumahintStats),
        VMSTATE_UINT64(report_skipped_unaligned, VirtIONumahintStats),
        VMSTATE_UINT64(report_discard_failed, VirtIONumahintStats),
        VMSTATE_UINT64(probe_requests, VirtIONumahintStats),
        VMSTATE_UINT64(probe_entries, VirtIONumahintStats),
        VMSTATE_UINT64(probe_rejected, VirtIONumahintStats),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_virtio_numahint_device = {
    .name = "virtio-numahint-device",
    .version_id = 1,
    .minimum_version_id = 1,
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
        VMSTATE_STRUCT(stats, VirtIONumahint, 1,
                       vmstate_virtio_numahint_stats, VirtIONumahintStats),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_virtio_numahint = {
    .name = "virtio-numahint",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_VIRTIO_DEVICE,
        VMSTATE_END_OF_LIST()
    },
};

static const Property virtio_numahint_properties[] = {
    DEFINE_PROP_BIT64(VIRTIO_NUMAHINT_FREE_REPORT_PROP, VirtIONumahint,
                      host_features, VIRTIO_NUMAHINT_F_FREE_REPORT, true),
    DEFINE_PROP_BIT64(VIRTIO_NUMAHINT_LOCALITY_PROBE_PROP, VirtIONumahint,
                      host_features, VIRTIO_NUMAHINT_F_LOCALITY_PROBE, false),
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
