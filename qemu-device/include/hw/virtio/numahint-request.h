/*
 * Virtio NUMA hint device: framing and validation of guest requests
 *
 * Everything the device checks about a request before it looks at guest
 * memory or vCPUs: that the header is there, that its type belongs to the
 * queue it came on and to a negotiated feature, that its entry count is
 * within the configuration, that the request is exactly as long as its
 * entries and the response buffer long enough; then, entry by entry,
 * alignment, emptiness and overflow of addresses and lengths.  Whether an
 * entry lies in guest RAM or names a vCPU needs QEMU's memory map and
 * CPU list, and stays in virtio-numahint.c.
 *
 * Like numahint-placement.c this is plain C with no QEMU dependency, so
 * that the very code the device runs can be fuzzed on its own, on the
 * host (selftests/host/fuzz/).  Entries are read with memcpy(): they may
 * sit at any alignment in the caller's buffer.
 *
 * Copyright (c) 2026 The numahint authors.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VIRTIO_NUMAHINT_REQUEST_H
#define HW_VIRTIO_NUMAHINT_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The device's queues: VIRTIO_NUMAHINT_NUM_VQS. */
#define NUMAHINT_REQUEST_NUM_QUEUES     3

/* What the device lets a request do. */
typedef struct NumahintRequestConfig {
    /* Negotiated features: bit VIRTIO_NUMAHINT_F_* set if negotiated. */
    uint64_t features;
    /*
     * Most entries one request may carry, by queue index; at least 1.  The
     * protocol's bounds (VIRTIO_NUMAHINT_MAX_*_MAX) apply on top of these.
     */
    uint32_t max_entries[NUMAHINT_REQUEST_NUM_QUEUES];
} NumahintRequestConfig;

typedef enum NumahintRequestVerdict {
    /* Well framed, of a type the queue and the features allow. */
    NUMAHINT_REQUEST_VALID,
    /* Answer VIRTIO_NUMAHINT_RESP_UNSUPPORTED, with no entry looked at. */
    NUMAHINT_REQUEST_UNSUPPORTED,
    /* Breaks the framing rules: the device must mark itself broken. */
    NUMAHINT_REQUEST_VIOLATION,
} NumahintRequestVerdict;

/* A request, as numahint_request_check() found it. */
typedef struct NumahintRequest {
    /* VIRTIO_NUMAHINT_REQ_*, in host order; 0 if the header is short. */
    uint16_t type;
    /* Entries after the header, in host order; 0 if the header is short. */
    uint32_t nr_entries;
    /* VALID: bytes of one entry, and of all entries after the header. */
    size_t entry_size;
    size_t entries_size;
    /*
     * VALID and UNSUPPORTED: bytes the device writes into the response
     * buffer, the response and, for probes, one __le32 node per entry.
     */
    size_t resp_size;
    /* VIOLATION: which rule was broken, for the error message. */
    const char *violation;
} NumahintRequest;

/*
 * Check the framing of a request that arrived on queue @queue: @out_size
 * bytes readable by the device, starting with @hdr (a struct
 * virtio_numahint_req, looked at only if @out_size covers it), and
 * @in_size bytes writable by the device.  Fills @req.
 */
NumahintRequestVerdict numahint_request_check(const NumahintRequestConfig *cfg,
                                              unsigned int queue,
                                              const void *hdr,
                                              size_t out_size, size_t in_size,
                                              NumahintRequest *req);

/*
 * Read the free range (struct virtio_numahint_range) at @entry into @addr
 * and @len, in host order.  Returns true if both are multiples of
 * VIRTIO_NUMAHINT_PAGE_SIZE, @len is not 0 and the range does not wrap.
 */
bool numahint_request_range(const void *entry, uint64_t *addr, uint64_t *len);

/*
 * Read the first-touch event (struct virtio_numahint_touch) at @entry, in
 * host order.  Returns true if @addr is a multiple of
 * VIRTIO_NUMAHINT_PAGE_SIZE, @nr_pages is not 0 and the extent does not
 * wrap.
 */
bool numahint_request_touch(const void *entry, uint64_t *addr,
                            uint32_t *nr_pages, uint32_t *cpu_id);

/*
 * Read the probe entry (struct virtio_numahint_probe) of a request of
 * @type at @entry into @id, in host order.  Returns false for a
 * VIRTIO_NUMAHINT_REQ_PROBE_PAGE address that is not a multiple of
 * VIRTIO_NUMAHINT_PAGE_SIZE, true otherwise.
 */
bool numahint_request_probe(uint16_t type, const void *entry, uint64_t *id);

/*
 * The host pages a free range can give back: of [@offset, @offset + @len)
 * in a RAM block of @page_size pages (a power of 2), the whole pages it
 * covers, [@start, @end).  Returns false, with @start and @end unset, if
 * it covers none.
 */
bool numahint_request_discard_span(uint64_t offset, uint64_t len,
                                   uint64_t page_size,
                                   uint64_t *start, uint64_t *end);

#endif
