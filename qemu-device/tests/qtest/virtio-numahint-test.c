/*
 * QTest testcase for virtio-numahint: a hostile guest
 *
 * Every test sends one kind of request on a virtio-numahint device and
 * checks the reaction the specification asks for: a valid free page
 * report discards exactly the reported range; an entry error (a range
 * that is not guest RAM, misaligned, empty or overflowing) is rejected
 * and counted, and nothing is discarded; an unsupported request is
 * answered as such; a protocol violation breaks the device
 * (DEVICE_NEEDS_RESET) until a reset brings it back.  In every case QEMU
 * keeps running.
 *
 * Copyright (c) 2026 The numahint authors.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest-single.h"
#include "qemu/bswap.h"
#include "qemu/module.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qnum.h"
#include "standard-headers/linux/virtio_config.h"
#include "standard-headers/linux/virtio_ring.h"
#include "standard-headers/linux/virtio_numahint.h"
#include "libqos/qgraph.h"
#include "libqos/virtio-numahint.h"

#define NUMAHINT_TIMEOUT_US     (30 * 1000 * 1000)
/* How long a broken device is given to (wrongly) answer a request. */
#define NUMAHINT_STOPPED_US     (50 * 1000)
#define PAGE                    VIRTIO_NUMAHINT_PAGE_SIZE
#define SZ_2M                   (2 * 1024 * 1024)
/* The test area: a 2 MiB-aligned range with guard memory on both sides. */
#define AREA_SIZE               (3 * SZ_2M)
#define PATTERN                 0xa5
#define PATTERN_FAR             0x5a
#define CHECK_CHUNK             (16 * 1024)

typedef struct NumahintStats {
    uint64_t requests;
    uint64_t protocol_errors;
    uint64_t unsupported;
    uint64_t report_requests;
    uint64_t report_ranges;
    uint64_t report_rejected;
    uint64_t report_bytes_discarded;
} NumahintStats;

typedef struct Numahint {
    QTestState *qts;
    QVirtioDevice *vdev;
    QGuestAllocator *alloc;
    QVirtQueue *vq[VIRTIO_NUMAHINT_NUM_VQS];
    uint32_t max_report_ranges;
    /* Size of guest RAM. */
    uint64_t ram_size;
    /* The test area, from the guest allocator. */
    uint64_t area;
    /* The 2 MiB-aligned range inside the test area. */
    uint64_t range;
} Numahint;

/* One descriptor of a hand-made request. */
typedef struct NumahintDesc {
    uint64_t addr;
    uint32_t len;
    bool write;
} NumahintDesc;

/* --- helpers --- */

static uint64_t stat_field(QDict *stats, const char *name)
{
    QNum *num = qobject_to(QNum, qdict_get(stats, name));
    uint64_t value;

    g_assert_nonnull(num);
    g_assert_true(qnum_get_try_uint(num, &value));
    return value;
}

/* The device's counters, from qom-get of its "stats" property. */
static void numahint_get_stats(Numahint *nh, NumahintStats *s)
{
    QDict *rsp, *stats;

    rsp = qtest_qmp(nh->qts, "{ 'execute': 'qom-get', 'arguments': "
                    "{ 'path': %s, 'property': 'stats' } }",
                    QVIRTIO_NUMAHINT_ID);
    g_assert_true(qdict_haskey(rsp, "return"));
    stats = qdict_get_qdict(rsp, "return");
    s->requests = stat_field(stats, "requests");
    s->protocol_errors = stat_field(stats, "protocol-errors");
    s->unsupported = stat_field(stats, "unsupported");
    s->report_requests = stat_field(stats, "report-requests");
    s->report_ranges = stat_field(stats, "report-ranges");
    s->report_rejected = stat_field(stats, "report-rejected");
    s->report_bytes_discarded = stat_field(stats, "report-bytes-discarded");
    qobject_unref(rsp);
}

/* QEMU is alive and the VM still runs. */
static void numahint_check_running(Numahint *nh)
{
    QDict *rsp, *ret;

    rsp = qtest_qmp(nh->qts, "{ 'execute': 'query-status' }");
    g_assert_true(qdict_haskey(rsp, "return"));
    ret = qdict_get_qdict(rsp, "return");
    g_assert_cmpstr(qdict_get_str(ret, "status"), ==, "running");
    g_assert_true(qdict_get_bool(ret, "running"));
    qobject_unref(rsp);
}

static uint64_t numahint_ram_size(Numahint *nh)
{
    QDict *rsp, *ret;
    uint64_t size;

    rsp = qtest_qmp(nh->qts, "{ 'execute': 'query-memory-size-summary' }");
    g_assert_true(qdict_haskey(rsp, "return"));
    ret = qdict_get_qdict(rsp, "return");
    size = stat_field(ret, "base-memory");
    qobject_unref(rsp);
    return size;
}

static void fill(Numahint *nh, uint64_t addr, uint64_t len, uint8_t byte)
{
    qtest_memset(nh->qts, addr, byte, len);
}

/*
 * Asserts that [addr, addr + len) holds @byte only.  Reads in chunks: the
 * time libqtest takes to receive one reply grows with its square.
 */
static void check_fill(Numahint *nh, uint64_t addr, uint64_t len, uint8_t byte)
{
    uint8_t buf[CHECK_CHUNK];
    uint64_t off, n, i;

    for (off = 0; off < len; off += n) {
        n = MIN(len - off, sizeof(buf));
        qtest_bufread(nh->qts, addr + off, buf, n);
        for (i = 0; i < n; i++) {
            if (buf[i] != byte) {
                g_test_message("guest memory at 0x%" PRIx64 " is 0x%02x, "
                               "expected 0x%02x", addr + off + i, buf[i],
                               byte);
                g_assert_cmphex(buf[i], ==, byte);
            }
        }
    }
}

/* Fills the whole test area, range included, with the pattern. */
static void fill_area(Numahint *nh)
{
    fill(nh, nh->area, AREA_SIZE, PATTERN);
}

/* The guard memory before and after the range keeps the pattern. */
static void check_guards(Numahint *nh)
{
    check_fill(nh, nh->area, nh->range - nh->area, PATTERN);
    check_fill(nh, nh->range + SZ_2M, nh->area + AREA_SIZE -
               (nh->range + SZ_2M), PATTERN);
}

/* Nothing in the test area was discarded. */
static void check_area_intact(Numahint *nh)
{
    check_fill(nh, nh->area, AREA_SIZE, PATTERN);
}

static bool numahint_status_has(Numahint *nh, uint8_t bit)
{
    return nh->vdev->bus->get_status(nh->vdev) & bit;
}

/* Negotiates the offered features among @features, sets up all queues. */
static void numahint_setup(Numahint *nh, uint64_t features)
{
    QVirtioDevice *vdev = nh->vdev;
    uint64_t offered = qvirtio_get_features(vdev);
    int i;

    g_assert_true(offered & (1ull << VIRTIO_F_VERSION_1));
    g_assert_true(offered & (1ull << VIRTIO_NUMAHINT_F_FREE_REPORT));
    g_assert_false(offered & (1ull << VIRTIO_NUMAHINT_F_LOCALITY_PROBE));
    qvirtio_set_features(vdev, offered & features &
                         ~(QVIRTIO_F_BAD_FEATURE |
                           (1ull << VIRTIO_RING_F_INDIRECT_DESC) |
                           (1ull << VIRTIO_RING_F_EVENT_IDX)));

    nh->max_report_ranges =
        qvirtio_config_readl(vdev, offsetof(struct virtio_numahint_config,
                                            max_report_ranges));
    g_assert_cmpuint(nh->max_report_ranges, >=, 1);

    for (i = 0; i < VIRTIO_NUMAHINT_NUM_VQS; i++) {
        nh->vq[i] = qvirtqueue_setup(vdev, nh->alloc, i);
    }
    qvirtio_set_driver_ok(vdev);
}

static void numahint_init_features(Numahint *nh, void *obj,
                                   QGuestAllocator *alloc, uint64_t features)
{
    QVirtioNumahint *v_nh = obj;

    nh->qts = global_qtest;
    nh->vdev = v_nh->vdev;
    nh->alloc = alloc;
    nh->ram_size = numahint_ram_size(nh);
    numahint_setup(nh, features);

    /* The allocator has no alignment: take more and align inside. */
    nh->area = guest_alloc(alloc, AREA_SIZE);
    nh->range = ROUND_UP(nh->area + PAGE, SZ_2M);
    g_assert_cmpuint(nh->range + SZ_2M + PAGE, <=, nh->area + AREA_SIZE);
    fill_area(nh);
}

static void numahint_init(Numahint *nh, void *obj, QGuestAllocator *alloc)
{
    numahint_init_features(nh, obj, alloc, ~0ull);
}

static void numahint_cleanup_queues(Numahint *nh)
{
    int i;

    for (i = 0; i < VIRTIO_NUMAHINT_NUM_VQS; i++) {
        qvirtqueue_cleanup(nh->vdev->bus, nh->vq[i], nh->alloc);
        nh->vq[i] = NULL;
    }
}

/* Frees what numahint_init() set up: the virtqueues and the test area. */
static void numahint_cleanup(Numahint *nh)
{
    numahint_cleanup_queues(nh);
    guest_free(nh->alloc, nh->area);
}

/* Resets the device as a driver would after DEVICE_NEEDS_RESET. */
static void numahint_reset(Numahint *nh)
{
    numahint_cleanup_queues(nh);
    qvirtio_start_device(nh->vdev);
    g_assert_false(numahint_status_has(nh, VIRTIO_CONFIG_S_NEEDS_RESET));
    numahint_setup(nh, ~0ull);
}

/* Makes a chain of descriptors available on @queue; returns its head. */
static uint32_t numahint_add_chain(Numahint *nh, int queue,
                                   const NumahintDesc *desc, int nr_desc)
{
    uint32_t head = 0;
    int i;

    for (i = 0; i < nr_desc; i++) {
        uint32_t idx = qvirtqueue_add(nh->qts, nh->vq[queue], desc[i].addr,
                                      desc[i].len, desc[i].write,
                                      i + 1 < nr_desc);
        if (!i) {
            head = idx;
        }
    }
    qvirtqueue_kick(nh->qts, nh->vdev, nh->vq[queue], head);
    return head;
}

/* Writes a request header followed by @entries; returns its address. */
static uint64_t numahint_write_req(Numahint *nh, uint16_t type,
                                   uint32_t nr_entries, const void *entries,
                                   size_t entries_size)
{
    struct virtio_numahint_req hdr = {
        .type = cpu_to_le16(type),
        .nr_entries = cpu_to_le32(nr_entries),
    };
    uint64_t addr = guest_alloc(nh->alloc, sizeof(hdr) + entries_size);

    qtest_memwrite(nh->qts, addr, &hdr, sizeof(hdr));
    if (entries_size) {
        qtest_memwrite(nh->qts, addr + sizeof(hdr), entries, entries_size);
    }
    return addr;
}

/* A response buffer, filled with garbage the device must overwrite. */
static uint64_t numahint_alloc_resp(Numahint *nh, size_t size)
{
    uint64_t addr = guest_alloc(nh->alloc, size);

    qtest_memset(nh->qts, addr, 0xff, size);
    return addr;
}

/* Waits for the device to use @head; checks and returns the response. */
static void numahint_wait_resp(Numahint *nh, int queue, uint32_t head,
                               uint64_t resp_addr,
                               struct virtio_numahint_resp *resp)
{
    uint32_t len;

    qvirtio_wait_used_elem(nh->qts, nh->vdev, nh->vq[queue], head, &len,
                           NUMAHINT_TIMEOUT_US);
    g_assert_cmpuint(len, ==, sizeof(*resp));
    qtest_memread(nh->qts, resp_addr, resp, sizeof(*resp));
    resp->status = le16_to_cpu(resp->status);
    resp->padding = le16_to_cpu(resp->padding);
    resp->nr_done = le32_to_cpu(resp->nr_done);
    g_assert_cmpuint(resp->padding, ==, 0);
    g_assert_false(numahint_status_has(nh, VIRTIO_CONFIG_S_NEEDS_RESET));
}

/*
 * Sends a well-framed request: the header and @entries in one
 * device-readable descriptor, the response in one device-writable one.
 */
static void numahint_request(Numahint *nh, int queue, uint16_t type,
                             uint32_t nr_entries, const void *entries,
                             size_t entries_size,
                             struct virtio_numahint_resp *resp)
{
    uint64_t req = numahint_write_req(nh, type, nr_entries, entries,
                                      entries_size);
    uint64_t resp_addr = numahint_alloc_resp(nh, sizeof(*resp));
    NumahintDesc desc[] = {
        { req, sizeof(struct virtio_numahint_req) + entries_size, false },
        { resp_addr, sizeof(*resp), true },
    };
    uint32_t head = numahint_add_chain(nh, queue, desc, ARRAY_SIZE(desc));

    numahint_wait_resp(nh, queue, head, resp_addr, resp);
    guest_free(nh->alloc, req);
    guest_free(nh->alloc, resp_addr);
}

static void numahint_report(Numahint *nh, const struct virtio_numahint_range *r,
                            uint32_t nr, struct virtio_numahint_resp *resp)
{
    numahint_request(nh, VIRTIO_NUMAHINT_VQ_REPORT,
                     VIRTIO_NUMAHINT_REQ_FREE_REPORT, nr, r, nr * sizeof(*r),
                     resp);
}

static struct virtio_numahint_range mkrange(uint64_t addr, uint64_t len)
{
    struct virtio_numahint_range r = {
        .addr = cpu_to_le64(addr),
        .len = cpu_to_le64(len),
    };

    return r;
}

/*
 * Reports exactly the 2 MiB range of the test area and checks that it,
 * and only it, was discarded: it reads as zeroes (anonymous RAM), the
 * guard memory around it keeps its pattern.
 */
static void numahint_check_valid_report(Numahint *nh)
{
    struct virtio_numahint_range r = mkrange(nh->range, SZ_2M);
    struct virtio_numahint_resp resp;
    NumahintStats before, after;

    fill_area(nh);
    numahint_get_stats(nh, &before);
    numahint_report(nh, &r, 1, &resp);
    numahint_get_stats(nh, &after);

    g_assert_cmpuint(resp.status, ==, VIRTIO_NUMAHINT_RESP_OK);
    g_assert_cmpuint(resp.nr_done, ==, 1);
    g_assert_cmpuint(after.requests, ==, before.requests + 1);
    g_assert_cmpuint(after.report_requests, ==, before.report_requests + 1);
    g_assert_cmpuint(after.report_ranges, ==, before.report_ranges + 1);
    g_assert_cmpuint(after.report_rejected, ==, before.report_rejected);
    g_assert_cmpuint(after.protocol_errors, ==, before.protocol_errors);
    g_assert_cmpuint(after.report_bytes_discarded, ==,
                     before.report_bytes_discarded + SZ_2M);
    check_fill(nh, nh->range, SZ_2M, 0);
    check_guards(nh);
}

/* --- valid reports --- */

static void test_valid_report_discards_exactly_the_range(void *obj,
                                                         void *data,
                                                         QGuestAllocator *a)
{
    Numahint nh;

    numahint_init(&nh, obj, a);
    numahint_check_valid_report(&nh);
    numahint_check_running(&nh);
    /* The same queue goes on working, the range can be reported again. */
    numahint_check_valid_report(&nh);
    numahint_cleanup(&nh);
}

/* max_report_ranges ranges, tiling the 2 MiB range: the limit is allowed. */
static void test_report_with_max_ranges_is_accepted(void *obj, void *data,
                                                    QGuestAllocator *a)
{
    g_autofree struct virtio_numahint_range *r = NULL;
    struct virtio_numahint_resp resp;
    NumahintStats before, after;
    uint64_t chunk;
    Numahint nh;
    uint32_t i;

    numahint_init(&nh, obj, a);
    chunk = ROUND_DOWN(SZ_2M / nh.max_report_ranges, PAGE);
    g_assert_cmpuint(chunk, >=, PAGE);
    r = g_new(struct virtio_numahint_range, nh.max_report_ranges);
    for (i = 0; i < nh.max_report_ranges; i++) {
        r[i] = mkrange(nh.range + i * chunk, chunk);
    }

    numahint_get_stats(&nh, &before);
    numahint_report(&nh, r, nh.max_report_ranges, &resp);
    numahint_get_stats(&nh, &after);

    g_assert_cmpuint(resp.status, ==, VIRTIO_NUMAHINT_RESP_OK);
    g_assert_cmpuint(resp.nr_done, ==, nh.max_report_ranges);
    g_assert_cmpuint(after.report_ranges, ==,
                     before.report_ranges + nh.max_report_ranges);
    g_assert_cmpuint(after.report_bytes_discarded, ==,
                     before.report_bytes_discarded +
                     chunk * nh.max_report_ranges);
    check_fill(&nh, nh.range, chunk * nh.max_report_ranges, 0);
    check_fill(&nh, nh.range + chunk * nh.max_report_ranges,
               nh.area + AREA_SIZE - (nh.range + chunk * nh.max_report_ranges),
               PATTERN);
    check_fill(&nh, nh.area, nh.range - nh.area, PATTERN);
    numahint_cleanup(&nh);
}

/*
 * Neighbouring ranges out of order, a bad range among them, one range
 * twice and one overlapping another: the device may discard neighbours in
 * one call, but it checks and counts each range as it comes, counts the
 * bytes of each range discarded (twice for the one reported twice), and
 * discards exactly their union.
 */
static void test_report_neighbours_count_one_by_one(void *obj, void *data,
                                                    QGuestAllocator *a)
{
    const uint64_t chunk = 16 * PAGE;
    struct virtio_numahint_range r[6];
    struct virtio_numahint_resp resp;
    NumahintStats before, after;
    Numahint nh;

    numahint_init(&nh, obj, a);
    r[0] = mkrange(nh.range + chunk, chunk);
    r[1] = mkrange(nh.range, chunk);
    r[2] = mkrange(nh.range + 2 * chunk + 1, chunk);
    r[3] = mkrange(nh.range + 2 * chunk, chunk);
    r[4] = mkrange(nh.range + 2 * chunk, chunk);
    r[5] = mkrange(nh.range + 2 * chunk + chunk / 2, chunk);
    fill_area(&nh);

    numahint_get_stats(&nh, &before);
    numahint_report(&nh, r, ARRAY_SIZE(r), &resp);
    numahint_get_stats(&nh, &after);

    g_assert_cmpuint(resp.status, ==, VIRTIO_NUMAHINT_RESP_REJECTED);
    g_assert_cmpuint(resp.nr_done, ==, 5);
    g_assert_cmpuint(after.report_ranges, ==, before.report_ranges + 6);
    g_assert_cmpuint(after.report_rejected, ==, before.report_rejected + 1);
    g_assert_cmpuint(after.protocol_errors, ==, before.protocol_errors);
    g_assert_cmpuint(after.report_bytes_discarded, ==,
                     before.report_bytes_discarded + 5 * chunk);
    check_fill(&nh, nh.range, 3 * chunk + chunk / 2, 0);
    check_fill(&nh, nh.range + 3 * chunk + chunk / 2,
               SZ_2M - (3 * chunk + chunk / 2), PATTERN);
    check_guards(&nh);
    numahint_check_running(&nh);
    numahint_cleanup(&nh);
}

/* Header, entry and response each split across descriptors. */
static void test_valid_report_split_across_descriptors(void *obj, void *data,
                                                       QGuestAllocator *a)
{
    struct virtio_numahint_range r;
    struct virtio_numahint_resp resp;
    NumahintStats before, after;
    uint64_t req, resp_addr;
    uint32_t head;
    Numahint nh;

    numahint_init(&nh, obj, a);
    r = mkrange(nh.range, SZ_2M);
    req = numahint_write_req(&nh, VIRTIO_NUMAHINT_REQ_FREE_REPORT, 1,
                             &r, sizeof(r));
    resp_addr = numahint_alloc_resp(&nh, sizeof(resp));

    numahint_get_stats(&nh, &before);
    head = numahint_add_chain(&nh, VIRTIO_NUMAHINT_VQ_REPORT,
                              (NumahintDesc[]) {
                                  { req, 2, false },
                                  { req + 2, 4, false },
                                  { req + 6, 10, false },
                                  { req + 16, 8, false },
                                  { resp_addr, 2, true },
                                  { resp_addr + 2, 6, true },
                              }, 6);
    numahint_wait_resp(&nh, VIRTIO_NUMAHINT_VQ_REPORT, head, resp_addr, &resp);
    numahint_get_stats(&nh, &after);

    g_assert_cmpuint(resp.status, ==, VIRTIO_NUMAHINT_RESP_OK);
    g_assert_cmpuint(resp.nr_done, ==, 1);
    g_assert_cmpuint(after.report_bytes_discarded, ==,
                     before.report_bytes_discarded + SZ_2M);
    check_fill(&nh, nh.range, SZ_2M, 0);
    check_guards(&nh);
    numahint_cleanup(&nh);
}

/* --- entry errors --- */

/* --- first-touch events --- */

/* One counter of the device's "stats" property. */
static uint64_t numahint_stat(Numahint *nh, const char *name)
{
    QDict *rsp;
    uint64_t value;

    rsp = qtest_qmp(nh->qts, "{ 'execute': 'qom-get', 'arguments': "
                    "{ 'path': %s, 'property': 'stats' } }",
                    QVIRTIO_NUMAHINT_ID);
    g_assert_true(qdict_haskey(rsp, "return"));
    value = stat_field(qdict_get_qdict(rsp, "return"), name);
    qobject_unref(rsp);
    return value;
}

static struct virtio_numahint_touch mktouch(uint64_t addr, uint32_t nr_pages,
                                            uint32_t cpu_id)
{
    struct virtio_numahint_touch t = {
        .addr = cpu_to_le64(addr),
        .nr_pages = cpu_to_le32(nr_pages),
        .cpu_id = cpu_to_le32(cpu_id),
    };

    return t;
}

static void numahint_touch(Numahint *nh, const struct virtio_numahint_touch *t,
                           uint32_t nr, struct virtio_numahint_resp *resp)
{
    numahint_request(nh, VIRTIO_NUMAHINT_VQ_TOUCH, VIRTIO_NUMAHINT_REQ_TOUCH,
                     nr, t, nr * sizeof(*t), resp);
}

/* Waits until the placement timer has worked through the queue. */
static void numahint_wait_placed(Numahint *nh)
{
    gint64 deadline = g_get_monotonic_time() + NUMAHINT_TIMEOUT_US;

    while (numahint_stat(nh, "touch-pages-pending")) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(10 * 1000);
    }
}

/*
 * vCPU 0 (APIC id 0) is on host node 0 (vcpu-nodes=0): an event for the
 * populated 2 MiB range is queued and placed.  This host may have one
 * node only, so the pages are found local or, untouched, absent; either
 * way every page is accounted for and the content is unchanged.
 */
static void test_touch_event_is_placed(void *obj, void *data,
                                       QGuestAllocator *a)
{
    uint32_t nr_pages = SZ_2M / PAGE;
    struct virtio_numahint_touch t = mktouch(0, nr_pages, 0);
    struct virtio_numahint_resp resp;
    uint64_t events, accepted, placed;
    Numahint nh;

    numahint_init(&nh, obj, a);
    t.addr = cpu_to_le64(nh.range);
    events = numahint_stat(&nh, "touch-events");
    accepted = numahint_stat(&nh, "touch-pages-accepted");
    numahint_touch(&nh, &t, 1, &resp);
    g_assert_cmpuint(resp.status, ==, VIRTIO_NUMAHINT_RESP_OK);
    g_assert_cmpuint(resp.nr_done, ==, 1);
    g_assert_cmpuint(numahint_stat(&nh, "touch-events"), ==, events + 1);
    g_assert_cmpuint(numahint_stat(&nh, "touch-pages-accepted"), ==,
                     accepted + nr_pages);

    numahint_wait_placed(&nh);
    placed = numahint_stat(&nh, "touch-pages-local") +
             numahint_stat(&nh, "touch-pages-migrated") +
             numahint_stat(&nh, "touch-pages-absent");
    g_assert_cmpuint(placed, >=, nr_pages);
    g_assert_cmpuint(numahint_stat(&nh, "touch-pages-failed-other") +
                     numahint_stat(&nh, "touch-pages-failed-fault"), ==, 0);
    check_area_intact(&nh);
    numahint_check_running(&nh);
    numahint_cleanup(&nh);
}

/*
 * Events outside guest RAM, misaligned, empty, absurdly long (16 TiB from
 * a RAM page), wrapping past the top of the address space or from an
 * unknown vCPU are entry errors: rejected, counted, nothing queued,
 * memory intact.
 */
static void test_touch_bad_events_are_rejected(void *obj, void *data,
                                               QGuestAllocator *a)
{
    struct virtio_numahint_resp resp;
    struct virtio_numahint_touch t[6];
    uint64_t rejected, accepted;
    Numahint nh;

    numahint_init(&nh, obj, a);
    t[0] = mktouch(nh.range + 1, 1, 0);
    t[1] = mktouch(nh.range, 0, 0);
    t[2] = mktouch(nh.ram_size + SZ_2M, 1, 0);
    t[3] = mktouch(nh.range, 1, 999);
    t[4] = mktouch(nh.range, UINT32_MAX, 0);
    t[5] = mktouch(UINT64_MAX - PAGE + 1, 2, 0);
    rejected = numahint_stat(&nh, "touch-rejected");
    accepted = numahint_stat(&nh, "touch-pages-accepted");
    numahint_touch(&nh, t, ARRAY_SIZE(t), &resp);
    g_assert_cmpuint(resp.status, ==, VIRTIO_NUMAHINT_RESP_REJECTED);
    g_assert_cmpuint(resp.nr_done, ==, 0);
    g_assert_cmpuint(numahint_stat(&nh, "touch-rejected"), ==,
                     rejected + ARRAY_SIZE(t));
    g_assert_cmpuint(numahint_stat(&nh, "touch-pages-accepted"), ==,
                     accepted);
    check_area_intact(&nh);
    numahint_check_running(&nh);
    numahint_cleanup(&nh);
}

typedef enum BadRangeKind {
    BAD_BEYOND_RAM_END,
    BAD_STRADDLING_RAM_END,
    BAD_ABOVE_4G,
    BAD_STRADDLING_LOW_RAM_INTO_VGA_HOLE,
    BAD_BIOS_ROM,
    BAD_ISA_BIOS_ROM,
    BAD_LAPIC_MMIO,
    BAD_IOAPIC_MMIO,
    BAD_OVERFLOW_AT_TOP,
    BAD_OVERFLOW_WRAPPING_INTO_RAM,
    BAD_UNALIGNED_ADDR,
    BAD_UNALIGNED_LEN,
    BAD_ZERO_LEN,
} BadRangeKind;

typedef struct BadRange {
    struct virtio_numahint_range range;
    /* RAM in or around the range that must keep PATTERN_FAR. */
    uint64_t ram_addr;
    uint64_t ram_len;
    /* ROM under the range whose content must not change. */
    uint64_t rom_addr;
    uint64_t rom_len;
} BadRange;

/*
 * Builds the bogus range of @kind.  Ranges in or next to the test area
 * rely on its pattern; others get their own RAM to watch.
 */
static void bad_range(Numahint *nh, BadRangeKind kind, BadRange *b)
{
    memset(b, 0, sizeof(*b));
    switch (kind) {
    case BAD_BEYOND_RAM_END:
        b->range = mkrange(nh->ram_size, SZ_2M);
        b->ram_addr = nh->ram_size - SZ_2M;
        b->ram_len = SZ_2M;
        break;
    case BAD_STRADDLING_RAM_END:
        /* Half RAM, half hole: a device clipping to RAM would discard. */
        b->range = mkrange(nh->ram_size - SZ_2M, 2 * SZ_2M);
        b->ram_addr = nh->ram_size - SZ_2M;
        b->ram_len = SZ_2M;
        break;
    case BAD_ABOVE_4G:
        g_assert_cmpuint(nh->ram_size, <, 0xb0000000);
        b->range = mkrange(0x100000000ull, SZ_2M);
        break;
    case BAD_STRADDLING_LOW_RAM_INTO_VGA_HOLE:
        /* Low RAM ends at 640 KiB; the legacy VGA window follows. */
        b->range = mkrange(0x9f000, 2 * PAGE);
        b->ram_addr = 0x9f000;
        b->ram_len = PAGE;
        break;
    case BAD_BIOS_ROM:
        /* The pc machine maps its 256 KiB BIOS ROM right below 4 GiB. */
        b->range = mkrange(0xfffc0000, 0x40000);
        b->rom_addr = 0xfffc0000;
        b->rom_len = 0x40000;
        break;
    case BAD_ISA_BIOS_ROM:
        /* ... and its last 128 KiB at 0xe0000 (PAM: reads from ROM). */
        b->range = mkrange(0xe0000, 0x20000);
        b->rom_addr = 0xe0000;
        b->rom_len = 0x20000;
        break;
    case BAD_LAPIC_MMIO:
        b->range = mkrange(0xfee00000, PAGE);
        break;
    case BAD_IOAPIC_MMIO:
        b->range = mkrange(0xfec00000, PAGE);
        break;
    case BAD_OVERFLOW_AT_TOP:
        b->range = mkrange(-(uint64_t)PAGE, 2 * PAGE);
        break;
    case BAD_OVERFLOW_WRAPPING_INTO_RAM:
        /* addr + len wraps to just below addr, both in RAM. */
        b->range = mkrange(nh->range, -(uint64_t)PAGE);
        break;
    case BAD_UNALIGNED_ADDR:
        b->range = mkrange(nh->range + PAGE / 2, SZ_2M);
        break;
    case BAD_UNALIGNED_LEN:
        b->range = mkrange(nh->range, SZ_2M - PAGE / 2);
        break;
    case BAD_ZERO_LEN:
        b->range = mkrange(nh->range, 0);
        break;
    default:
        g_assert_not_reached();
    }
}

static void test_bad_range_is_rejected(void *obj, void *data,
                                       QGuestAllocator *a)
{
    BadRangeKind kind = GPOINTER_TO_INT(data);
    g_autofree uint8_t *rom_before = NULL;
    g_autofree uint8_t *rom_after = NULL;
    struct virtio_numahint_resp resp;
    NumahintStats before, after;
    Numahint nh;
    BadRange b;

    numahint_init(&nh, obj, a);
    bad_range(&nh, kind, &b);
    g_test_message("range addr=0x%" PRIx64 " len=0x%" PRIx64,
                   le64_to_cpu(b.range.addr), le64_to_cpu(b.range.len));
    if (b.ram_len) {
        fill(&nh, b.ram_addr, b.ram_len, PATTERN_FAR);
    }
    if (b.rom_len) {
        rom_before = g_malloc(b.rom_len);
        rom_after = g_malloc(b.rom_len);
        qtest_bufread(nh.qts, b.rom_addr, rom_before, b.rom_len);
    }

    numahint_get_stats(&nh, &before);
    numahint_report(&nh, &b.range, 1, &resp);
    numahint_get_stats(&nh, &after);

    g_assert_cmpuint(resp.status, ==, VIRTIO_NUMAHINT_RESP_REJECTED);
    g_assert_cmpuint(resp.nr_done, ==, 0);
    g_assert_cmpuint(after.requests, ==, before.requests + 1);
    g_assert_cmpuint(after.report_requests, ==, before.report_requests + 1);
    g_assert_cmpuint(after.report_ranges, ==, before.report_ranges + 1);
    g_assert_cmpuint(after.report_rejected, ==, before.report_rejected + 1);
    g_assert_cmpuint(after.protocol_errors, ==, before.protocol_errors);
    g_assert_cmpuint(after.report_bytes_discarded, ==,
                     before.report_bytes_discarded);

    check_area_intact(&nh);
    if (b.ram_len) {
        check_fill(&nh, b.ram_addr, b.ram_len, PATTERN_FAR);
    }
    if (b.rom_len) {
        qtest_bufread(nh.qts, b.rom_addr, rom_after, b.rom_len);
        g_assert_true(memcmp(rom_before, rom_after, b.rom_len) == 0);
    }
    numahint_check_running(&nh);

    /* The queue goes on working. */
    numahint_check_valid_report(&nh);
    numahint_cleanup(&nh);
}

/*
 * One valid range and one invalid one, in either order: the device
 * rejects the request but acts on the valid range, and only on it.  The
 * invalid range straddles the end of RAM, so that a device clipping it
 * to RAM would discard its first half.
 */
static void numahint_check_mixed(void *obj, QGuestAllocator *a,
                                 bool valid_first)
{
    struct virtio_numahint_range r[2];
    struct virtio_numahint_resp resp;
    NumahintStats before, after;
    Numahint nh;
    BadRange b;

    numahint_init(&nh, obj, a);
    bad_range(&nh, BAD_STRADDLING_RAM_END, &b);
    fill(&nh, b.ram_addr, b.ram_len, PATTERN_FAR);
    r[!valid_first] = mkrange(nh.range, SZ_2M);
    r[valid_first] = b.range;

    numahint_get_stats(&nh, &before);
    numahint_report(&nh, r, 2, &resp);
    numahint_get_stats(&nh, &after);

    g_assert_cmpuint(resp.status, ==, VIRTIO_NUMAHINT_RESP_REJECTED);
    g_assert_cmpuint(resp.nr_done, ==, 1);
    g_assert_cmpuint(after.report_ranges, ==, before.report_ranges + 2);
    g_assert_cmpuint(after.report_rejected, ==, before.report_rejected + 1);
    g_assert_cmpuint(after.protocol_errors, ==, before.protocol_errors);
    g_assert_cmpuint(after.report_bytes_discarded, ==,
                     before.report_bytes_discarded + SZ_2M);
    check_fill(&nh, nh.range, SZ_2M, 0);
    check_guards(&nh);
    check_fill(&nh, b.ram_addr, b.ram_len, PATTERN_FAR);
    numahint_check_running(&nh);
    numahint_cleanup(&nh);
}

static void test_mixed_valid_first(void *obj, void *data,
                                   QGuestAllocator *a)
{
    numahint_check_mixed(obj, a, true);
}

static void test_mixed_invalid_first(void *obj, void *data,
                                     QGuestAllocator *a)
{
    numahint_check_mixed(obj, a, false);
}

/* --- unsupported requests --- */

typedef enum UnsupportedKind {
    UNSUPPORTED_UNKNOWN_TYPE,
    UNSUPPORTED_TYPE_0XFFFF,
    UNSUPPORTED_PROBE_PAGE_ON_REPORTQ,
    UNSUPPORTED_PROBE_PAGE_NOT_NEGOTIATED,
    UNSUPPORTED_TOUCH_NOT_NEGOTIATED,
    UNSUPPORTED_REPORT_ON_PROBEQ,
    UNSUPPORTED_REPORT_NOT_NEGOTIATED,
} UnsupportedKind;

static void test_unsupported_request(void *obj, void *data,
                                     QGuestAllocator *a)
{
    UnsupportedKind kind = GPOINTER_TO_INT(data);
    uint64_t features = ~0ull;
    struct virtio_numahint_range r;
    struct virtio_numahint_touch t;
    struct virtio_numahint_probe p;
    struct virtio_numahint_resp resp;
    NumahintStats before, after;
    int queue = VIRTIO_NUMAHINT_VQ_REPORT;
    uint16_t type = VIRTIO_NUMAHINT_REQ_FREE_REPORT;
    const void *entry = &r;
    size_t entry_size = sizeof(r);
    Numahint nh;

    if (kind == UNSUPPORTED_REPORT_NOT_NEGOTIATED) {
        features &= ~(1ull << VIRTIO_NUMAHINT_F_FREE_REPORT);
    }
    if (kind == UNSUPPORTED_TOUCH_NOT_NEGOTIATED) {
        features &= ~(1ull << VIRTIO_NUMAHINT_F_FIRST_TOUCH);
    }
    numahint_init_features(&nh, obj, a, features);
    r = mkrange(nh.range, SZ_2M);
    t.addr = cpu_to_le64(nh.range);
    t.nr_pages = cpu_to_le32(SZ_2M / PAGE);
    t.cpu_id = 0;
    p.id = cpu_to_le64(nh.range);

    switch (kind) {
    case UNSUPPORTED_UNKNOWN_TYPE:
        type = VIRTIO_NUMAHINT_REQ_PROBE_CPU + 1;
        break;
    case UNSUPPORTED_TYPE_0XFFFF:
        type = 0xffff;
        break;
    case UNSUPPORTED_PROBE_PAGE_ON_REPORTQ:
        type = VIRTIO_NUMAHINT_REQ_PROBE_PAGE;
        entry = &p;
        entry_size = sizeof(p);
        break;
    case UNSUPPORTED_PROBE_PAGE_NOT_NEGOTIATED:
        queue = VIRTIO_NUMAHINT_VQ_PROBE;
        type = VIRTIO_NUMAHINT_REQ_PROBE_PAGE;
        entry = &p;
        entry_size = sizeof(p);
        break;
    case UNSUPPORTED_TOUCH_NOT_NEGOTIATED:
        queue = VIRTIO_NUMAHINT_VQ_TOUCH;
        type = VIRTIO_NUMAHINT_REQ_TOUCH;
        entry = &t;
        entry_size = sizeof(t);
        break;
    case UNSUPPORTED_REPORT_ON_PROBEQ:
        queue = VIRTIO_NUMAHINT_VQ_PROBE;
        break;
    case UNSUPPORTED_REPORT_NOT_NEGOTIATED:
        break;
    default:
        g_assert_not_reached();
    }

    numahint_get_stats(&nh, &before);
    numahint_request(&nh, queue, type, 1, entry, entry_size, &resp);
    numahint_get_stats(&nh, &after);

    g_assert_cmpuint(resp.status, ==, VIRTIO_NUMAHINT_RESP_UNSUPPORTED);
    g_assert_cmpuint(resp.nr_done, ==, 0);
    g_assert_cmpuint(after.requests, ==, before.requests + 1);
    g_assert_cmpuint(after.unsupported, ==, before.unsupported + 1);
    g_assert_cmpuint(after.report_requests, ==, before.report_requests);
    g_assert_cmpuint(after.report_ranges, ==, before.report_ranges);
    g_assert_cmpuint(after.protocol_errors, ==, before.protocol_errors);
    g_assert_cmpuint(after.report_bytes_discarded, ==,
                     before.report_bytes_discarded);
    check_area_intact(&nh);
    numahint_check_running(&nh);

    if (kind != UNSUPPORTED_REPORT_NOT_NEGOTIATED) {
        numahint_check_valid_report(&nh);
    }
    numahint_cleanup(&nh);
}

/* --- protocol violations --- */

typedef enum ViolationKind {
    VIOLATION_NR_ENTRIES_ZERO,
    VIOLATION_NR_ENTRIES_ABOVE_MAX,
    VIOLATION_NR_ENTRIES_HUGE,
    VIOLATION_SIZE_LONGER_THAN_NR_ENTRIES,
    VIOLATION_SIZE_SHORTER_THAN_NR_ENTRIES,
    VIOLATION_HEADER_SHORT,
    VIOLATION_RESPONSE_MISSING,
    VIOLATION_RESPONSE_SHORT,
    VIOLATION_HEADER_DEVICE_WRITABLE,
    VIOLATION_ONLY_DEVICE_WRITABLE,
} ViolationKind;

/*
 * Builds and sends the request of @kind.  All the ranges it carries are
 * valid RAM in the test area, so a device that acted on any of them
 * would discard part of the area.
 */
static void numahint_send_violation(Numahint *nh, ViolationKind kind)
{
    uint32_t nr_ranges = 1, nr_entries = 1, i;
    g_autofree struct virtio_numahint_range *r = NULL;
    size_t req_size, resp_size = sizeof(struct virtio_numahint_resp);
    uint64_t req, resp_addr;
    NumahintDesc desc[3];
    int nr_desc;

    switch (kind) {
    case VIOLATION_NR_ENTRIES_ZERO:
        nr_entries = 0;
        break;
    case VIOLATION_NR_ENTRIES_ABOVE_MAX:
        nr_ranges = nr_entries = nh->max_report_ranges + 1;
        break;
    case VIOLATION_NR_ENTRIES_HUGE:
        nr_entries = UINT32_MAX;
        break;
    case VIOLATION_SIZE_LONGER_THAN_NR_ENTRIES:
        nr_ranges = 2;
        break;
    case VIOLATION_SIZE_SHORTER_THAN_NR_ENTRIES:
        nr_entries = 2;
        break;
    default:
        break;
    }

    /* Page-sized ranges that tile the 2 MiB range. */
    g_assert_cmpuint(nr_ranges, <=, SZ_2M / PAGE);
    r = g_new(struct virtio_numahint_range, nr_ranges);
    for (i = 0; i < nr_ranges; i++) {
        r[i] = mkrange(nh->range + i * PAGE, PAGE);
    }
    req = numahint_write_req(nh, VIRTIO_NUMAHINT_REQ_FREE_REPORT, nr_entries,
                             r, nr_ranges * sizeof(*r));
    req_size = sizeof(struct virtio_numahint_req) + nr_ranges * sizeof(*r);
    resp_addr = numahint_alloc_resp(nh, resp_size);

    desc[0] = (NumahintDesc) { req, req_size, false };
    desc[1] = (NumahintDesc) { resp_addr, resp_size, true };
    nr_desc = 2;

    switch (kind) {
    case VIOLATION_HEADER_SHORT:
        desc[0].len = sizeof(struct virtio_numahint_req) / 2;
        break;
    case VIOLATION_RESPONSE_MISSING:
        nr_desc = 1;
        break;
    case VIOLATION_RESPONSE_SHORT:
        desc[1].len = resp_size / 2;
        break;
    case VIOLATION_HEADER_DEVICE_WRITABLE:
        /* The header in a device-writable descriptor before the entries. */
        desc[0] = (NumahintDesc) { req, sizeof(struct virtio_numahint_req),
                                   true };
        desc[1] = (NumahintDesc) { req + sizeof(struct virtio_numahint_req),
                                   sizeof(*r), false };
        desc[2] = (NumahintDesc) { resp_addr, resp_size, true };
        nr_desc = 3;
        break;
    case VIOLATION_ONLY_DEVICE_WRITABLE:
        desc[0].write = true;
        break;
    default:
        break;
    }
    numahint_add_chain(nh, VIRTIO_NUMAHINT_VQ_REPORT, desc, nr_desc);
}

static void numahint_wait_needs_reset(Numahint *nh)
{
    gint64 start = g_get_monotonic_time();

    while (!numahint_status_has(nh, VIRTIO_CONFIG_S_NEEDS_RESET)) {
        g_assert(g_get_monotonic_time() - start <= NUMAHINT_TIMEOUT_US);
        qtest_clock_step(nh->qts, 100);
    }
}

/* The device does not use any buffer on @queue for a while. */
static void numahint_check_no_used(Numahint *nh, int queue)
{
    gint64 start = g_get_monotonic_time();
    uint32_t idx;

    do {
        g_assert_false(qvirtqueue_get_buf(nh->qts, nh->vq[queue], &idx,
                                          NULL));
        qtest_clock_step(nh->qts, 100);
    } while (g_get_monotonic_time() - start <= NUMAHINT_STOPPED_US);
}

static void test_protocol_violation_needs_reset(void *obj, void *data,
                                                QGuestAllocator *a)
{
    ViolationKind kind = GPOINTER_TO_INT(data);
    struct virtio_numahint_range r;
    uint64_t req, resp_addr;
    NumahintStats before, after;
    Numahint nh;

    numahint_init(&nh, obj, a);
    numahint_get_stats(&nh, &before);
    numahint_send_violation(&nh, kind);
    numahint_wait_needs_reset(&nh);
    numahint_check_no_used(&nh, VIRTIO_NUMAHINT_VQ_REPORT);
    numahint_get_stats(&nh, &after);

    g_assert_cmpuint(after.protocol_errors, ==, before.protocol_errors + 1);
    g_assert_cmpuint(after.report_ranges, ==, before.report_ranges);
    g_assert_cmpuint(after.report_bytes_discarded, ==,
                     before.report_bytes_discarded);
    check_area_intact(&nh);
    numahint_check_running(&nh);

    /* Broken until reset: a valid report now is neither used nor acted on. */
    r = mkrange(nh.range, SZ_2M);
    req = numahint_write_req(&nh, VIRTIO_NUMAHINT_REQ_FREE_REPORT, 1,
                             &r, sizeof(r));
    resp_addr = numahint_alloc_resp(&nh, sizeof(struct virtio_numahint_resp));
    numahint_add_chain(&nh, VIRTIO_NUMAHINT_VQ_REPORT, (NumahintDesc[]) {
                           { req, sizeof(struct virtio_numahint_req) +
                                  sizeof(r), false },
                           { resp_addr, sizeof(struct virtio_numahint_resp),
                             true },
                       }, 2);
    numahint_check_no_used(&nh, VIRTIO_NUMAHINT_VQ_REPORT);
    numahint_get_stats(&nh, &after);
    g_assert_cmpuint(after.report_bytes_discarded, ==,
                     before.report_bytes_discarded);
    check_area_intact(&nh);

    /* A reset brings the device back. */
    numahint_reset(&nh);
    numahint_check_running(&nh);
    numahint_check_valid_report(&nh);
    numahint_cleanup(&nh);
}

/* --- host safety --- */

/* The host bridge's PAM register for 0xf0000-0xfffff (its high nibble). */
static unsigned int numahint_bios_pam_reg(Numahint *nh)
{
    uint32_t id;

    qtest_outl(nh->qts, 0xcf8, 0x80000000);
    id = qtest_inl(nh->qts, 0xcfc);
    g_assert_cmphex(id & 0xffff, ==, 0x8086);
    /* i440FX (PAM0 at 0x59) or Q35's MCH (PAM0 at 0x90). */
    return (id >> 16) == 0x1237 ? 0x59 : 0x90;
}

static void numahint_set_bios_pam(Numahint *nh, uint8_t attr)
{
    unsigned int reg = numahint_bios_pam_reg(nh);

    qtest_outl(nh->qts, 0xcf8, 0x80000000 | (reg & ~3));
    qtest_outb(nh->qts, 0xcfc + (reg & 3), attr << 4);
}

/*
 * The shadow BIOS: RAM at 0xf0000 the firmware copied itself to, then
 * write-protected (PAM read-enable only).  It is guest RAM behind a
 * read-only view, and a free report naming it is rejected, not discarded.
 */
static void test_read_only_shadow_bios_is_rejected(void *obj, void *data,
                                                   QGuestAllocator *a)
{
    struct virtio_numahint_range r = mkrange(0xf0000, PAGE);
    struct virtio_numahint_resp resp;
    NumahintStats before, after;
    Numahint nh;

    numahint_init(&nh, obj, a);
    numahint_set_bios_pam(&nh, 3);          /* RAM, read and write */
    fill(&nh, 0xf0000, PAGE, PATTERN);
    numahint_set_bios_pam(&nh, 1);          /* RAM, read only */
    check_fill(&nh, 0xf0000, PAGE, PATTERN);

    numahint_get_stats(&nh, &before);
    numahint_report(&nh, &r, 1, &resp);
    numahint_get_stats(&nh, &after);

    g_assert_cmpuint(resp.status, ==, VIRTIO_NUMAHINT_RESP_REJECTED);
    g_assert_cmpuint(resp.nr_done, ==, 0);
    g_assert_cmpuint(after.report_rejected, ==, before.report_rejected + 1);
    g_assert_cmpuint(after.report_bytes_discarded, ==,
                     before.report_bytes_discarded);
    check_fill(&nh, 0xf0000, PAGE, PATTERN);
    numahint_check_running(&nh);
    numahint_cleanup(&nh);
}

/*
 * Entries are guest-physical addresses the device does not translate:
 * it does not offer VIRTIO_F_ACCESS_PLATFORM, and refuses to be put
 * behind an IOMMU.
 */
static void test_iommu_platform_is_refused(void *obj, void *data,
                                           QGuestAllocator *a)
{
    QDict *rsp;
    Numahint nh;

    numahint_init(&nh, obj, a);
    g_assert_false(qvirtio_get_features(nh.vdev) &
                   (1ull << VIRTIO_F_ACCESS_PLATFORM));
    rsp = qtest_qmp(nh.qts, "{ 'execute': 'device_add', 'arguments': "
                    "{ 'driver': 'virtio-numahint-pci', 'id': 'nh-iommu', "
                    "'iommu_platform': true } }");
    g_assert_true(qdict_haskey(rsp, "error"));
    g_assert_nonnull(strstr(qdict_get_str(qdict_get_qdict(rsp, "error"),
                                          "desc"),
                            "iommu_platform=on is not supported"));
    qobject_unref(rsp);
    numahint_check_running(&nh);
    numahint_cleanup(&nh);
}

/*
 * With x-unchecked-config the device offers max_report_ranges = 2^32 - 1;
 * a request beyond the protocol's 4096 ranges still breaks the framing
 * rules, since the device allocates memory in proportion to it.
 */
static void test_unchecked_config_keeps_protocol_bound(void *obj, void *data,
                                                       QGuestAllocator *a)
{
    uint32_t nr = VIRTIO_NUMAHINT_MAX_REPORT_RANGES_MAX + 1;
    g_autofree struct virtio_numahint_range *r = NULL;
    uint64_t req, resp_addr;
    NumahintStats before, after;
    Numahint nh;
    uint32_t i;

    numahint_init(&nh, obj, a);
    g_assert_cmpuint(nh.max_report_ranges, ==, UINT32_MAX);
    r = g_new(struct virtio_numahint_range, nr);
    for (i = 0; i < nr; i++) {
        r[i] = mkrange(nh.range, PAGE);
    }
    numahint_get_stats(&nh, &before);
    req = numahint_write_req(&nh, VIRTIO_NUMAHINT_REQ_FREE_REPORT, nr, r,
                             nr * sizeof(*r));
    resp_addr = numahint_alloc_resp(&nh, sizeof(struct virtio_numahint_resp));
    numahint_add_chain(&nh, VIRTIO_NUMAHINT_VQ_REPORT, (NumahintDesc[]) {
                           { req, sizeof(struct virtio_numahint_req) +
                                  nr * sizeof(*r), false },
                           { resp_addr, sizeof(struct virtio_numahint_resp),
                             true },
                       }, 2);
    numahint_wait_needs_reset(&nh);
    numahint_get_stats(&nh, &after);
    g_assert_cmpuint(after.protocol_errors, ==, before.protocol_errors + 1);
    g_assert_cmpuint(after.report_ranges, ==, before.report_ranges);
    check_area_intact(&nh);
    numahint_check_running(&nh);
    guest_free(nh.alloc, req);
    guest_free(nh.alloc, resp_addr);
    numahint_cleanup(&nh);
}

/* The guest-physical address of memory device @id (query-memory-devices). */
static uint64_t numahint_memory_device_addr(Numahint *nh, const char *id)
{
    QDict *rsp;
    QListEntry *e;
    uint64_t addr = 0;

    rsp = qtest_qmp(nh->qts, "{ 'execute': 'query-memory-devices' }");
    g_assert_true(qdict_haskey(rsp, "return"));
    QLIST_FOREACH_ENTRY(qdict_get_qlist(rsp, "return"), e) {
        QDict *data = qdict_get_qdict(qobject_to(QDict, qlist_entry_obj(e)),
                                      "data");

        if (!g_strcmp0(qdict_get_try_str(data, "id"), id)) {
            addr = stat_field(data, "addr");
        }
    }
    qobject_unref(rsp);
    g_assert_cmpuint(addr, !=, 0);
    return addr;
}

/*
 * Free pages are given back only from guest system RAM: a pc-dimm's range
 * is discarded, an NVDIMM's (the guest's storage, whatever the guest
 * does with it) is kept and counted.
 */
static void test_only_system_ram_is_discarded(void *obj, void *data,
                                              QGuestAllocator *a)
{
    struct virtio_numahint_range r;
    struct virtio_numahint_resp resp;
    uint64_t dimm, nvdimm, skipped, discarded;
    Numahint nh;

    numahint_init(&nh, obj, a);
    dimm = numahint_memory_device_addr(&nh, "dimm0");
    nvdimm = numahint_memory_device_addr(&nh, "nv0");
    fill(&nh, dimm, SZ_2M, PATTERN);
    fill(&nh, nvdimm, SZ_2M, PATTERN);

    skipped = numahint_stat(&nh, "report-skipped-not-system-ram");
    discarded = numahint_stat(&nh, "report-bytes-discarded");
    r = mkrange(nvdimm, SZ_2M);
    numahint_report(&nh, &r, 1, &resp);
    g_assert_cmpuint(resp.status, ==, VIRTIO_NUMAHINT_RESP_OK);
    g_assert_cmpuint(resp.nr_done, ==, 1);
    g_assert_cmpuint(numahint_stat(&nh, "report-skipped-not-system-ram"), ==,
                     skipped + 1);
    g_assert_cmpuint(numahint_stat(&nh, "report-bytes-discarded"), ==,
                     discarded);
    check_fill(&nh, nvdimm, SZ_2M, PATTERN);

    r = mkrange(dimm, SZ_2M);
    numahint_report(&nh, &r, 1, &resp);
    g_assert_cmpuint(resp.status, ==, VIRTIO_NUMAHINT_RESP_OK);
    g_assert_cmpuint(numahint_stat(&nh, "report-bytes-discarded"), ==,
                     discarded + SZ_2M);
    check_fill(&nh, dimm, SZ_2M, 0);
    numahint_check_running(&nh);
    numahint_cleanup(&nh);
}

/*
 * A hostile guest fills the whole touch queue with requests of
 * max_touch_events events each, scattered so that none merge, and
 * notifies once (the driver sets the queue's size, up to 1024 whatever
 * queue-size says).  The device answers every request, a bounded number
 * per call under the main loop lock; max-kick-ns is the longest call.
 */
static void test_full_touch_queue_one_kick(void *obj, void *data,
                                           QGuestAllocator *a)
{
    g_autofree struct virtio_numahint_touch *t = NULL;
    uint64_t req, resp_addr, span, events, kick_ns;
    uint32_t nr, nr_req, i, head, len;
    QVirtQueue *vq;
    uint16_t idx;
    Numahint nh;

    numahint_init(&nh, obj, a);
    vq = nh.vq[VIRTIO_NUMAHINT_VQ_TOUCH];
    nr = qvirtio_config_readl(nh.vdev,
                              offsetof(struct virtio_numahint_config,
                                       max_touch_events));
    /* Every other page of guest RAM above 1 MiB. */
    span = (nh.ram_size - SZ_2M) / (2 * PAGE);
    t = g_new(struct virtio_numahint_touch, nr);
    for (i = 0; i < nr; i++) {
        t[i] = mktouch(SZ_2M / 2 + (i % span) * 2 * PAGE, 1, 0);
    }
    /* One request and one response buffer, named by every chain. */
    req = numahint_write_req(&nh, VIRTIO_NUMAHINT_REQ_TOUCH, nr, t,
                             nr * sizeof(*t));
    resp_addr = numahint_alloc_resp(&nh, sizeof(struct virtio_numahint_resp));
    nr_req = vq->size / 2;
    events = numahint_stat(&nh, "touch-events");

    idx = qtest_readw(nh.qts, vq->avail + 2);
    for (i = 0; i < nr_req; i++) {
        head = qvirtqueue_add(nh.qts, vq, req,
                              sizeof(struct virtio_numahint_req) +
                              nr * sizeof(*t), false, true);
        qvirtqueue_add(nh.qts, vq, resp_addr,
                       sizeof(struct virtio_numahint_resp), true, false);
        qtest_writew(nh.qts, vq->avail + 4 + 2 * ((idx + i) % vq->size),
                     head);
    }
    qtest_writew(nh.qts, vq->avail + 2, idx + nr_req);
    nh.vdev->bus->virtqueue_kick(nh.vdev, vq);

    for (i = 0; i < nr_req; i++) {
        uint32_t used;

        g_assert_true(qvirtqueue_get_buf(nh.qts, vq, &used, &len));
        g_assert_cmpuint(len, ==, sizeof(struct virtio_numahint_resp));
    }
    g_assert_cmpuint(numahint_stat(&nh, "touch-events"), ==,
                     events + (uint64_t)nr_req * nr);
    kick_ns = numahint_stat(&nh, "max-kick-ns");
    g_test_message("one notification: %u requests of %u events, the main "
                   "loop lock held for at most %.1f ms at a time "
                   "(max-kick-ns)", nr_req, nr, kick_ns / 1e6);
    g_assert_cmpuint(kick_ns, >, 0);
    numahint_check_running(&nh);
    guest_free(nh.alloc, req);
    guest_free(nh.alloc, resp_addr);
    numahint_cleanup(&nh);
}

/* --- registration --- */

static const char *const bad_range_names[] = {
    [BAD_BEYOND_RAM_END] = "rejects-range-beyond-ram-end",
    [BAD_STRADDLING_RAM_END] = "rejects-range-straddling-ram-end",
    [BAD_ABOVE_4G] = "rejects-range-above-4g-without-ram",
    [BAD_STRADDLING_LOW_RAM_INTO_VGA_HOLE] =
        "rejects-range-straddling-low-ram-into-vga-hole",
    [BAD_BIOS_ROM] = "rejects-range-in-bios-rom",
    [BAD_ISA_BIOS_ROM] = "rejects-range-in-isa-bios-rom",
    [BAD_LAPIC_MMIO] = "rejects-range-in-lapic-mmio",
    [BAD_IOAPIC_MMIO] = "rejects-range-in-ioapic-mmio",
    [BAD_OVERFLOW_AT_TOP] = "rejects-range-overflowing-at-top",
    [BAD_OVERFLOW_WRAPPING_INTO_RAM] = "rejects-range-wrapping-into-ram",
    [BAD_UNALIGNED_ADDR] = "rejects-range-with-unaligned-addr",
    [BAD_UNALIGNED_LEN] = "rejects-range-with-unaligned-len",
    [BAD_ZERO_LEN] = "rejects-range-of-zero-len",
};

static const char *const unsupported_names[] = {
    [UNSUPPORTED_UNKNOWN_TYPE] = "unsupported-unknown-type",
    [UNSUPPORTED_TYPE_0XFFFF] = "unsupported-type-0xffff",
    [UNSUPPORTED_PROBE_PAGE_ON_REPORTQ] = "unsupported-probe-page-on-reportq",
    [UNSUPPORTED_PROBE_PAGE_NOT_NEGOTIATED] =
        "unsupported-probe-page-not-negotiated",
    [UNSUPPORTED_TOUCH_NOT_NEGOTIATED] = "unsupported-touch-not-negotiated",
    [UNSUPPORTED_REPORT_ON_PROBEQ] = "unsupported-report-on-probeq",
    [UNSUPPORTED_REPORT_NOT_NEGOTIATED] = "unsupported-report-not-negotiated",
};

static const char *const violation_names[] = {
    [VIOLATION_NR_ENTRIES_ZERO] = "violation-nr-entries-zero",
    [VIOLATION_NR_ENTRIES_ABOVE_MAX] = "violation-nr-entries-above-max",
    [VIOLATION_NR_ENTRIES_HUGE] = "violation-nr-entries-huge",
    [VIOLATION_SIZE_LONGER_THAN_NR_ENTRIES] =
        "violation-size-longer-than-nr-entries",
    [VIOLATION_SIZE_SHORTER_THAN_NR_ENTRIES] =
        "violation-size-shorter-than-nr-entries",
    [VIOLATION_HEADER_SHORT] = "violation-header-short",
    [VIOLATION_RESPONSE_MISSING] = "violation-response-missing",
    [VIOLATION_RESPONSE_SHORT] = "violation-response-short",
    [VIOLATION_HEADER_DEVICE_WRITABLE] = "violation-header-device-writable",
    [VIOLATION_ONLY_DEVICE_WRITABLE] = "violation-only-device-writable",
};

static void register_virtio_numahint_test(void)
{
    const char *arch = qtest_get_arch();
    bool pc = !strcmp(arch, "i386") || !strcmp(arch, "x86_64");
    QOSGraphTestOptions opts = { };
    int i;

    qos_add_test("valid-report-discards-exactly-the-range", "virtio-numahint",
                 test_valid_report_discards_exactly_the_range, NULL);
    qos_add_test("report-with-max-ranges-is-accepted", "virtio-numahint",
                 test_report_with_max_ranges_is_accepted, NULL);
    qos_add_test("report-neighbours-count-one-by-one", "virtio-numahint",
                 test_report_neighbours_count_one_by_one, NULL);
    qos_add_test("valid-report-split-across-descriptors", "virtio-numahint",
                 test_valid_report_split_across_descriptors, NULL);

    for (i = 0; i < ARRAY_SIZE(bad_range_names); i++) {
        /* RAM end, holes, ROM and MMIO are those of the pc machine. */
        if (!pc && i < BAD_OVERFLOW_AT_TOP) {
            continue;
        }
        opts.arg = GINT_TO_POINTER(i);
        qos_add_test(bad_range_names[i], "virtio-numahint",
                     test_bad_range_is_rejected, &opts);
    }
    if (pc) {
        qos_add_test("mixed-valid-then-invalid-discards-only-valid",
                     "virtio-numahint",
                     test_mixed_valid_first, NULL);
        qos_add_test("mixed-invalid-then-valid-discards-only-valid",
                     "virtio-numahint",
                     test_mixed_invalid_first, NULL);
    }
    for (i = 0; i < ARRAY_SIZE(unsupported_names); i++) {
        opts.arg = GINT_TO_POINTER(i);
        qos_add_test(unsupported_names[i], "virtio-numahint",
                     test_unsupported_request, &opts);
    }
    opts.arg = NULL;
    opts.edge.extra_device_opts = "first-touch=on,vcpu-nodes=0";
    qos_add_test("touch-event-is-placed", "virtio-numahint",
                 test_touch_event_is_placed, &opts);
    qos_add_test("touch-bad-events-are-rejected", "virtio-numahint",
                 test_touch_bad_events_are_rejected, &opts);
    opts.edge.extra_device_opts = NULL;

    opts.edge.after_cmd_line = "-m 256M,slots=2,maxmem=1G "
        "-machine nvdimm=on "
        "-object memory-backend-ram,id=dimm-mem,size=2M "
        "-device pc-dimm,memdev=dimm-mem,id=dimm0 "
        "-object memory-backend-ram,id=nv-mem,size=2M "
        "-device nvdimm,memdev=nv-mem,id=nv0";
    qos_add_test("only-system-ram-is-discarded", "virtio-numahint",
                 test_only_system_ram_is_discarded, &opts);
    opts.edge.after_cmd_line = NULL;
    opts.edge.extra_device_opts = "first-touch=on,vcpu-nodes=0";
    qos_add_test("full-touch-queue-in-one-notification", "virtio-numahint",
                 test_full_touch_queue_one_kick, &opts);
    opts.edge.extra_device_opts = NULL;
    qos_add_test("read-only-shadow-bios-is-rejected", "virtio-numahint",
                 test_read_only_shadow_bios_is_rejected, NULL);
    qos_add_test("iommu-platform-is-refused", "virtio-numahint",
                 test_iommu_platform_is_refused, NULL);
    opts.edge.extra_device_opts = "x-unchecked-config=on,"
                                  "max-report-ranges=4294967295";
    qos_add_test("unchecked-config-keeps-protocol-bound", "virtio-numahint",
                 test_unchecked_config_keeps_protocol_bound, &opts);
    opts.edge.extra_device_opts = NULL;

    for (i = 0; i < ARRAY_SIZE(violation_names); i++) {
        opts.arg = GINT_TO_POINTER(i);
        qos_add_test(violation_names[i], "virtio-numahint",
                     test_protocol_violation_needs_reset, &opts);
    }
}

libqos_init(register_virtio_numahint_test);
