/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The driver's counters, one NUMAHINT_STAT(ID, name) each.  This is the
 * one list of them: the index NUMAHINT_STAT_<ID> of enum numahint_stat,
 * the sysfs file <name> (see docs/ABI/testing/sysfs-driver-virtio-numahint)
 * and its attribute are made from it.  No include guard: virtio_numahint.c
 * includes it once for each of those, with NUMAHINT_STAT defined to make
 * that one.
 */

/* Probe requests handed to the device. */
NUMAHINT_STAT(PROBE_REQUESTS, probe_requests)

/* Entries carried by those probe requests. */
NUMAHINT_STAT(PROBE_ENTRIES, probe_entries)

/* Responses with VIRTIO_NUMAHINT_RESP_OK. */
NUMAHINT_STAT(RESP_OK, resp_ok)

/* Responses with VIRTIO_NUMAHINT_RESP_REJECTED. */
NUMAHINT_STAT(RESP_REJECTED, resp_rejected)

/* Responses with VIRTIO_NUMAHINT_RESP_UNSUPPORTED. */
NUMAHINT_STAT(RESP_UNSUPPORTED, resp_unsupported)

/* Too short, unknown status or wrong nr_done. */
NUMAHINT_STAT(RESP_MALFORMED, resp_malformed)

/* Not waited for: timeout, signal, broken vq. */
NUMAHINT_STAT(REQ_ABANDONED, req_abandoned)

/* Configuration change notifications handled. */
NUMAHINT_STAT(CONFIG_CHANGES, config_changes)

/* Resets of a device that needed one. */
NUMAHINT_STAT(DEVICE_RESETS, device_resets)

/* Free page report requests handed over. */
NUMAHINT_STAT(REPORT_REQUESTS, report_requests)

/* Ranges carried by those requests. */
NUMAHINT_STAT(REPORT_RANGES, report_ranges)

/* Bytes in reports the device accepted in full. */
NUMAHINT_STAT(REPORT_BYTES, report_bytes)

/* Ranges the device rejected. */
NUMAHINT_STAT(REPORT_REJECTED, report_rejected)

/* Reports not sent, lost or answered unusably. */
NUMAHINT_STAT(REPORT_ERRORS, report_errors)

/* Allocations recorded; also counted per CPU. */
NUMAHINT_STAT(TOUCH_EVENTS, touch_events)

/* Lost to a full buffer; also counted per CPU. */
NUMAHINT_STAT(TOUCH_DROPPED, touch_dropped)

/* Extents drained but not sent. */
NUMAHINT_STAT(TOUCH_UNSENT, touch_unsent)

/* First-touch requests handed to the device. */
NUMAHINT_STAT(TOUCH_REQUESTS, touch_requests)

/* Extents carried by those requests. */
NUMAHINT_STAT(TOUCH_ENTRIES, touch_entries)

/* Pages in those extents, in 4 KiB units. */
NUMAHINT_STAT(TOUCH_PAGES, touch_pages)

/*
 * Those pages again, by how long at most they waited in the guest: from
 * the first event their CPU's buffer took after it was last empty until
 * the request went out, at most 10 ms, 10-50 ms, ... more than 5 s.  The
 * buckets of the device's touch-placed-* counters; in this order, one
 * after the other (virtnumahint_touch_count_waits() counts by index).
 */
NUMAHINT_STAT(TOUCH_SENT_10MS, touch_sent_10ms)
NUMAHINT_STAT(TOUCH_SENT_50MS, touch_sent_50ms)
NUMAHINT_STAT(TOUCH_SENT_100MS, touch_sent_100ms)
NUMAHINT_STAT(TOUCH_SENT_150MS, touch_sent_150ms)
NUMAHINT_STAT(TOUCH_SENT_200MS, touch_sent_200ms)
NUMAHINT_STAT(TOUCH_SENT_500MS, touch_sent_500ms)
NUMAHINT_STAT(TOUCH_SENT_1S, touch_sent_1s)
NUMAHINT_STAT(TOUCH_SENT_5S, touch_sent_5s)
NUMAHINT_STAT(TOUCH_SENT_LATER, touch_sent_later)
/* The longest of those waits, in ms: not a count. */
NUMAHINT_STAT(TOUCH_SENT_MAX_MS, touch_sent_max_ms)

/* Not accepted in answers with entry errors. */
NUMAHINT_STAT(TOUCH_REJECTED, touch_rejected)

/* Extents accepted for placement (nr_done). */
NUMAHINT_STAT(TOUCH_ACCEPTED, touch_accepted)

/* Pages in the requests whose extents the device accepted all. */
NUMAHINT_STAT(TOUCH_PAGES_ACCEPTED, touch_pages_accepted)

/* First-touch requests answered VIRTIO_NUMAHINT_RESP_UNSUPPORTED. */
NUMAHINT_STAT(TOUCH_UNSUPPORTED, touch_unsupported)
