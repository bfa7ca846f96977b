# SPDX-License-Identifier: GPL-2.0
"""The virtio-numahint device's counters, as its QOM "stats" property
names them, for the host tests.

They are written down once, in the device's headers:
VIRTIO_NUMAHINT_STATS(X) in include/hw/virtio/virtio-numahint.h (the
device's own) and NUMAHINT_PLACEMENT_STATS(X) in
include/hw/virtio/numahint-placement.h (the placement engine's), each entry
X(field, "name", "description").  QEMU generates the struct, the "stats"
keys and the migration stream from them; this module reads the same lists.
"""

import re
from pathlib import Path

HEADERS = Path(__file__).resolve().parents[2] / "qemu-device" / "include" / \
    "hw" / "virtio"

_ENTRY = re.compile(r'X\(\s*(\w+)\s*,\s*"([^"]*)"\s*,\s*((?:"(?:[^"\\]|\\.)*"'
                    r'\s*)+)\)')


def _x_macro(header, macro):
    """The entries of the X-macro list `macro` in `header`, in order, as
    (field, name, description) tuples."""
    text = (HEADERS / header).read_text()
    start = re.search(rf"(?m)^#define {macro}\(X\)", text)
    if not start:
        raise LookupError(f"{macro}(X) is not defined in {header}")
    body = []
    for line in text[start.end():].splitlines():
        body.append(line.rstrip("\\"))
        if not line.endswith("\\"):
            break
    entries = [(field, name, "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', desc)))
               for field, name, desc in _ENTRY.findall(" ".join(body))]
    if not entries:
        raise LookupError(f"{macro}(X) in {header} has no entry")
    return entries


#: The device's own counters: (field, name, description), in stream order.
DEVICE = tuple(_x_macro("virtio-numahint.h", "VIRTIO_NUMAHINT_STATS"))

#: The placement engine's counters, likewise.
PLACEMENT = tuple(_x_macro("numahint-placement.h", "NUMAHINT_PLACEMENT_STATS"))

#: Every counter of the "stats" property, in the order QEMU lists them.
NAMES = tuple(name for _, name, _ in DEVICE + PLACEMENT)

#: The same, as a set.
STATS = frozenset(NAMES)

#: The pages of first-touch events the placement engine accepted each have
#: exactly one of these outcomes, the engine's pages_* counters but
#: pages_accepted itself: they add up to touch-pages-accepted.
PAGE_OUTCOMES = tuple(name for field, name, _ in PLACEMENT
                      if field.startswith("pages_") and
                      field != "pages_accepted")
