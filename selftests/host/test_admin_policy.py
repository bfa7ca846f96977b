#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The admin's configuration wins over the guest's first-touch hints.

Each test boots a Debian 6.1 guest whose device says, with vcpu-nodes,
that both vCPUs sit on host node 1, and runs an allocation load
(numahint_churn) that sends first-touch events from both.  Guest RAM is
configured by the admin in a way that forbids moving it to node 1:

  - policy=bind,host-nodes=0 (libvirt <memnode mode='strict'>): move_pages
    would honour only cpuset.mems, so the device itself must refuse every
    event (touch-policy-bound) and queue none;
  - policy=interleave: the memory was spread on purpose; no event is
    placed (touch-pinned);
  - RAM pinned for DMA (x-disable-ram-discard=on disables discards as VFIO
    does): pinned pages cannot migrate, so no event is placed
    (touch-pinned), and QEMU says so exactly once.

A control run with plain RAM and the same vCPU nodes shows the same load
does get events queued for node 1: without the checks above, the bound
and pinned runs would queue them too.  This host may have one node only;
what is checked is that nothing was queued or tried, which holds on any
host.
"""

import unittest
from pathlib import Path

from numahint.vm.scenario import ScriptGuest

REPO = Path(__file__).resolve().parents[2]

#: Both vCPUs on host node 1, whatever their threads' affinity.
DEVICE = "vcpu-nodes=1:1"
SCRIPT = ("/tests/numahint_churn -c 4 -m 8 -k 4 -n 0\n"
          "echo policy-test: done\n")
#: Every move_pages() the engine could have made, or a page it queued.
TRIED = ("touch-accepted", "touch-pages-accepted", "touch-move-calls",
         "touch-query-calls", "touch-pages-migrated")


def diagnostic(text):
    print(f"# {text}", flush=True)


def ram(options=""):
    """Guest RAM from a memory backend with `options`."""
    return ("-object", "memory-backend-ram,id=ram0,size=1G" + options,
            "-machine", "memory-backend=ram0")


class AdminPolicyTest(unittest.TestCase):
    """Bound, interleaved and pinned RAM against hints for another node."""

    def churn(self, name, extra_args, device=DEVICE):
        with ScriptGuest(SCRIPT, device=device, extra_args=extra_args,
                         timeout=300) as run:
            self.assertIsNotNone(run.guest.wait_for_line(r"policy-test: done"),
                                 f"{name}: the load did not finish")
            stats = run.stats()
        stderr = run.guest.result.qemu_stderr
        diagnostic(f"{name}: touch-events {stats['touch-events']}, "
                   + ", ".join(f"{k} {stats[k]}" for k in
                               ("touch-accepted", "touch-policy-bound",
                                "touch-pinned", "touch-move-calls")))
        self.assertGreater(stats["touch-events"], 100,
                           f"{name}: the load sent too few events to prove "
                           "anything")
        return stats, stderr

    def assert_nothing_tried(self, name, stats):
        for counter in TRIED:
            self.assertEqual(stats[counter], 0, f"{name}: {counter}")

    def test_control(self):
        """Plain RAM: the same load gets events queued for node 1."""
        stats, _ = self.churn("control", ram())
        self.assertGreater(stats["touch-accepted"], 0)
        self.assertEqual(stats["touch-policy-bound"] + stats["touch-pinned"],
                         0)

    def test_bind(self):
        """policy=bind: every event names a node the policy forbids."""
        stats, _ = self.churn("bind", ram(",policy=bind,host-nodes=0"))
        self.assert_nothing_tried("bind", stats)
        self.assertGreater(stats["touch-policy-bound"], 100)

    def test_interleave(self):
        """policy=interleave: spread on purpose, nothing moves."""
        stats, _ = self.churn("interleave",
                              ram(",policy=interleave,host-nodes=0"))
        self.assert_nothing_tried("interleave", stats)
        self.assertGreater(stats["touch-pinned"], 100)

    def test_pinned(self):
        """Discards disabled as by VFIO: nothing moves, said once."""
        stats, stderr = self.churn("pinned", ram(),
                                   device=DEVICE + ",x-disable-ram-discard=on")
        self.assert_nothing_tried("pinned", stats)
        self.assertGreater(stats["touch-pinned"], 100)
        said = [line for line in stderr.splitlines() if "pinned" in line]
        diagnostic(f"pinned: QEMU's stderr: {said}")
        self.assertEqual(len(said), 1, stderr)


if __name__ == "__main__":
    unittest.main()
