# SPDX-License-Identifier: GPL-2.0
"""The virtio-numahint device's counters, as its QOM "stats" property
names them (docs/first-touch.md, docs/install.md), for the host tests."""

#: The pages of first-touch events the placement engine accepted each
#: have exactly one of these outcomes: they add up to touch-pages-accepted.
PAGE_OUTCOMES = ("touch-pages-pending", "touch-pages-superseded",
                 "touch-pages-local", "touch-pages-migrated",
                 "touch-pages-absent", "touch-pages-contended",
                 "touch-pages-failed-busy", "touch-pages-failed-nomem",
                 "touch-pages-failed-fault", "touch-pages-failed-other",
                 "touch-pages-flushed")

#: Every counter of the "stats" property.
STATS = frozenset((
    "requests", "protocol-errors", "unsupported", "report-requests",
    "report-ranges", "report-rejected", "report-bytes-discarded",
    "report-skipped-disabled", "report-skipped-migration",
    "report-skipped-unaligned", "report-discard-failed", "probe-requests",
    "probe-entries", "probe-rejected", "touch-requests", "touch-events",
    "touch-rejected", "touch-dropped", "touch-accepted", "touch-unplaced",
    "touch-queue-full", "touch-pages-accepted", "touch-bytes-migrated",
    "touch-query-calls", "touch-move-calls", *PAGE_OUTCOMES,
))
