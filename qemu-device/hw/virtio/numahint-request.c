/*
 * Virtio NUMA hint device: framing and validation of guest requests
 *
 * See include/hw/virtio/numahint-request.h.
 *
 * Copyright (c) 2026 The numahint authors.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "standard-headers/linux/virtio_numahint.h"
#include "hw/virtio/numahint-request.h"

_Static_assert(NUMAHINT_REQUEST_NUM_QUEUES == VIRTIO_NUMAHINT_NUM_VQS,
               "one entry limit per queue");

/* What a request type needs: its queue, feature and entry layout. */
typedef struct NumahintRequestType {
    /* Queue the request must arrive on. */
    unsigned int queue;
    /* Feature that must have been negotiated. */
    unsigned int feature;
    /* Size of one entry. */
    size_t entry_size;
    /*
     * The protocol's bound on the entry count, which holds whatever the
     * configuration says (x-unchecked-config): the device allocates
     * memory in proportion to it.
     */
    uint32_t max_entries;
    /* Whether the response carries one __le32 node per entry. */
    bool has_nodes;
} NumahintRequestType;

static const NumahintRequestType numahint_request_types[] = {
    [VIRTIO_NUMAHINT_REQ_FREE_REPORT] = {
        .queue = VIRTIO_NUMAHINT_VQ_REPORT,
        .feature = VIRTIO_NUMAHINT_F_FREE_REPORT,
        .entry_size = sizeof(struct virtio_numahint_range),
        .max_entries = VIRTIO_NUMAHINT_MAX_REPORT_RANGES_MAX,
    },
    [VIRTIO_NUMAHINT_REQ_TOUCH] = {
        .queue = VIRTIO_NUMAHINT_VQ_TOUCH,
        .feature = VIRTIO_NUMAHINT_F_FIRST_TOUCH,
        .entry_size = sizeof(struct virtio_numahint_touch),
        .max_entries = VIRTIO_NUMAHINT_MAX_TOUCH_EVENTS_MAX,
    },
    [VIRTIO_NUMAHINT_REQ_PROBE_PAGE] = {
        .queue = VIRTIO_NUMAHINT_VQ_PROBE,
        .feature = VIRTIO_NUMAHINT_F_LOCALITY_PROBE,
        .entry_size = sizeof(struct virtio_numahint_probe),
        .max_entries = VIRTIO_NUMAHINT_MAX_PROBE_ENTRIES_MAX,
        .has_nodes = true,
    },
    [VIRTIO_NUMAHINT_REQ_PROBE_CPU] = {
        .queue = VIRTIO_NUMAHINT_VQ_PROBE,
        .feature = VIRTIO_NUMAHINT_F_LOCALITY_PROBE,
        .entry_size = sizeof(struct virtio_numahint_probe),
        .max_entries = VIRTIO_NUMAHINT_MAX_PROBE_ENTRIES_MAX,
        .has_nodes = true,
    },
};

#define NUMAHINT_REQUEST_NR_TYPES \
    (sizeof(numahint_request_types) / sizeof(numahint_request_types[0]))

#define NUMAHINT_REQUEST_PAGE_MASK ((uint64_t)VIRTIO_NUMAHINT_PAGE_SIZE - 1)

NumahintRequestVerdict numahint_request_check(const NumahintRequestConfig *cfg,
                                              unsigned int queue,
                                              const void *hdr,
                                              size_t out_size, size_t in_size,
                                              NumahintRequest *req)
{
    const NumahintRequestType *rt;
    struct virtio_numahint_req h;
    uint64_t size;

    memset(req, 0, sizeof(*req));
    if (out_size < sizeof(h)) {
        req->violation = "request header missing or short";
        return NUMAHINT_REQUEST_VIOLATION;
    }
    if (in_size < sizeof(struct virtio_numahint_resp)) {
        req->violation = "response buffer missing or short";
        return NUMAHINT_REQUEST_VIOLATION;
    }
    memcpy(&h, hdr, sizeof(h));
    req->type = le16_to_cpu(h.type);
    req->nr_entries = le32_to_cpu(h.nr_entries);
    req->resp_size = sizeof(struct virtio_numahint_resp);

    if (req->type >= NUMAHINT_REQUEST_NR_TYPES) {
        return NUMAHINT_REQUEST_UNSUPPORTED;
    }
    rt = &numahint_request_types[req->type];
    if (rt->queue != queue || !(cfg->features & (1ULL << rt->feature))) {
        return NUMAHINT_REQUEST_UNSUPPORTED;
    }

    if (!req->nr_entries || req->nr_entries > cfg->max_entries[queue] ||
        req->nr_entries > rt->max_entries) {
        req->violation = "entry count out of range";
        return NUMAHINT_REQUEST_VIOLATION;
    }
    /* In 64 bits: neither product can overflow, whatever size_t is. */
    size = (uint64_t)req->nr_entries * rt->entry_size;
    if (out_size - sizeof(h) != size) {
        req->violation = "request size does not match its entry count";
        return NUMAHINT_REQUEST_VIOLATION;
    }
    if (rt->has_nodes) {
        uint64_t resp_size = sizeof(struct virtio_numahint_resp) +
                             (uint64_t)req->nr_entries * sizeof(uint32_t);

        if (in_size < resp_size) {
            req->violation = "response buffer too short for the entries";
            return NUMAHINT_REQUEST_VIOLATION;
        }
        req->resp_size = resp_size;
    }
    req->entry_size = rt->entry_size;
    req->entries_size = size;
    return NUMAHINT_REQUEST_VALID;
}

bool numahint_request_range(const void *entry, uint64_t *addr, uint64_t *len)
{
    struct virtio_numahint_range r;

    memcpy(&r, entry, sizeof(r));
    *addr = le64_to_cpu(r.addr);
    *len = le64_to_cpu(r.len);
    return !((*addr | *len) & NUMAHINT_REQUEST_PAGE_MASK) && *len &&
           *addr + *len > *addr;
}

bool numahint_request_touch(const void *entry, uint64_t *addr,
                            uint32_t *nr_pages, uint32_t *cpu_id)
{
    struct virtio_numahint_touch t;
    uint64_t len;

    memcpy(&t, entry, sizeof(t));
    *addr = le64_to_cpu(t.addr);
    *nr_pages = le32_to_cpu(t.nr_pages);
    *cpu_id = le32_to_cpu(t.cpu_id);
    len = (uint64_t)*nr_pages << VIRTIO_NUMAHINT_PAGE_SHIFT;
    return !(*addr & NUMAHINT_REQUEST_PAGE_MASK) && len && *addr + len > *addr;
}

bool numahint_request_probe(uint16_t type, const void *entry, uint64_t *id)
{
    struct virtio_numahint_probe p;

    memcpy(&p, entry, sizeof(p));
    *id = le64_to_cpu(p.id);
    return type != VIRTIO_NUMAHINT_REQ_PROBE_PAGE ||
           !(*id & NUMAHINT_REQUEST_PAGE_MASK);
}

bool numahint_request_discard_span(uint64_t offset, uint64_t len,
                                   uint64_t page_size,
                                   uint64_t *start, uint64_t *end)
{
    uint64_t mask = page_size - 1;
    uint64_t first, last;

    if (offset > UINT64_MAX - mask || len > UINT64_MAX - offset) {
        return false;
    }
    first = (offset + mask) & ~mask;
    last = (offset + len) & ~mask;
    if (first >= last) {
        return false;
    }
    *start = first;
    *end = last;
    return true;
}
