#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Flooding: the guest floods both virtqueues; the host stays within budget.

Each test boots a Debian 6.1 guest with two vCPUs and runs
selftests/numahint/numahint_flood: one process per vCPU maps, touches and
unmaps memory in a tight loop (a first-touch event per 4 KiB page), another
allocates and frees 64 MiB over and over (free page reporting runs all the
time), and a probe measures how late a 10 ms sleep wakes up.  Guest RAM
is a memfd, so that its host pages are 4 KiB and every page placement
examines is one unit of touch-pages-per-sec: the pages examined are then
exactly touch-pages-local + -migrated + -absent + -failed-*, counted by
the device (with THP-backed RAM those are a lower bound of the budget
spent, as a huge page costs its 512 pages whatever the events cover).

The host measures, over the flood, from outside the guest:

  - pages examined per second from the device's counters (qom-get nh0
    stats), which must stay within touch-pages-per-sec: with the default
    (262144) and with 4096, which the flood exceeds, so that the bound is
    what limits placement;
  - the CPU time of QEMU's threads from /proc/PID/task/*/stat.  Placement
    runs from a timer in the main loop thread; under TCG the virtqueue
    handlers (validating and queueing events, discarding reported pages)
    run in the vCPU threads, as there is no ioeventfd, so their cost is
    the guest's own and shows in the probe's wake-up delays instead;
  - that every event is accounted for: in the guest, the driver's
    recorded + dropped events equal an ftrace histogram of the same
    allocations (numahint_flood checks it); the extents the guest sent
    equal the events the device received; and in the device, every page of
    an accepted event is in exactly one of the outcome counters, every
    event is accepted, dropped or rejected.
"""

import re
import time
import unittest
from pathlib import Path

from numahint.vm.scenario import ScriptGuest

from numahint_stats import PAGE_OUTCOMES

REPO = Path(__file__).resolve().parents[2]

SECONDS = 20
#: The probe's bound on the 99th percentile of its wake-up delay.
LATENCY_MS = 250
SMALL_BUDGET = 4096
#: With the small budget, a queue the flood fills: the device drops events.
SMALL_QUEUE = 16
DEFAULT_BUDGET = 262144
#: Placement runs every 10 ms, each run within budget / 100 pages.
PLACEMENT_PERIOD_S = 0.01
#: Guest RAM with 4 KiB host pages.
MEMFD_RAM = ("-object", "memory-backend-memfd,id=ram0,size=1G",
             "-machine", "memory-backend=ram0")

#: The pages placement examined, one unit of budget each in 4 KiB RAM.
EXAMINED = ("touch-pages-local", "touch-pages-migrated",
            "touch-pages-absent", "touch-pages-failed-busy",
            "touch-pages-failed-nomem", "touch-pages-failed-fault",
            "touch-pages-failed-other")

_FIELD = re.compile(r"(\w+)=([\d.]+)")


def diagnostic(text):
    print(f"# {text}", flush=True)


def flood_lines(console, label):
    """key=value fields of the guest's '# numahint-flood: LABEL' lines."""
    fields = {}
    for line in console.splitlines():
        if line.startswith(f"# numahint-flood: {label}"):
            fields.update((k, float(v)) for k, v in _FIELD.findall(line))
    return fields


def thread_cpu(pid):
    """CPU seconds (user + system) of each thread of `pid`, by name."""
    ticks = {}
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # The thread exited.
        name = text[text.index("(") + 1:text.rindex(")")]
        fields = text[text.rindex(")") + 2:].split()
        # utime and stime are fields 14 and 15 of stat(5).
        ticks[name] = ticks.get(name, 0) + int(fields[11]) + int(fields[12])
    hz = 100  # USER_HZ: the unit of /proc/PID/task/*/stat
    return {name: t / hz for name, t in ticks.items()}


class Window:
    """Device counters and thread CPU times at two moments."""

    def __init__(self, run):
        self.run = run
        self.start = self._sample()
        self.end = None

    def _sample(self):
        stats = self.run.stats()
        return time.monotonic(), stats, thread_cpu(self.run.guest.pid)

    def close(self):
        self.end = self._sample()
        return self

    @property
    def seconds(self):
        return self.end[0] - self.start[0]

    def delta(self, *counters):
        return sum(self.end[1][c] - self.start[1][c] for c in counters)

    def rate(self, *counters):
        return self.delta(*counters) / self.seconds

    def cpu_share(self, thread):
        """Share of one core that `thread` used over the window."""
        return (self.end[2].get(thread, 0) -
                self.start[2].get(thread, 0)) / self.seconds


class FloodTest(unittest.TestCase):
    """The flood, with the default placement budget and a small one."""

    def flood(self, name, budget, device=""):
        script = (f"exec /tests/numahint_flood -t {SECONDS} -l {LATENCY_MS} "
                  "-s\n")
        device = f"touch-pages-per-sec={budget}" + device
        with ScriptGuest(script, device=device, extra_args=MEMFD_RAM,
                         timeout=300) as run:
            guest = run.guest
            # The probe's idle phase: the guest does nothing else.
            self.assertIsNotNone(guest.wait_for_line(r"^1\.\.\d+$"),
                                 "numahint_flood did not start")
            idle = Window(run)
            guest.wait_for_line(r"numahint-flood: probe idle")
            idle.close()
            self.assertIsNotNone(guest.wait_for_line(r"numahint-flood: start"),
                                 "the flood did not start")
            flood = Window(run)
            self.assertIsNotNone(guest.wait_for_line(r"numahint-flood: end"),
                                 "the flood did not end")
            flood.close()
            self.assertIsNotNone(
                guest.wait_for_line(r"numahint-flood: sample now"),
                "the guest did not stop for the host to sample")
            sampled = run.stats()
            flush_ms = run.qmp("qom-get", path="nh0",
                               property="touch-flush-ms")["return"]
            reply = run.qmp("qom-set", path="nh0", property="touch-flush-ms",
                            value=flush_ms + 1)
            self.assertNotIn("error", reply)
            tap = guest.wait_for_report()
        console = run.console
        self.assertIsNotNone(tap, "the guest never reported:\n" + console)

        guest_figures = flood_lines(console, "")
        for line in console.splitlines():
            if line.startswith("# ") and not re.match(
                    r"# (numahint-test|numahint-flood: (counters|sampled)"
                    r"|Totals)", line):
                diagnostic(f"{name}: guest: {line[2:]}")
        examined = flood.rate(*EXAMINED)
        main = "qemu-system-x86"
        vcpus = sorted(t for t in flood.end[2] if t.startswith("CPU "))
        diagnostic(f"{name}: {flood.seconds:.1f} s flood: device received "
                   f"{flood.rate('touch-events'):.0f} events/s "
                   f"({flood.rate('touch-pages-accepted'):.0f} pages/s "
                   f"accepted), dropped {flood.delta('touch-dropped')}, "
                   f"examined {examined:.0f} pages/s (budget {budget}), "
                   f"migrated {flood.rate('touch-pages-migrated'):.0f} "
                   f"pages/s, {flood.rate('touch-query-calls'):.0f} query "
                   f"calls/s, pending at the end "
                   f"{flood.end[1]['touch-pages-pending']}; free page "
                   f"reports {flood.delta('report-requests')}, "
                   f"{flood.delta('report-bytes-discarded') >> 20} MiB "
                   f"discarded")
        # The queue handlers hold the main loop lock while they drain a
        # queue that every vCPU keeps refilling: the longest of them.
        diagnostic(f"{name}: longest time one queue notification held the "
                   f"main loop lock: {sampled['max-kick-ns'] / 1e6:.2f} ms")
        diagnostic(f"{name}: main loop thread "
                   f"{100 * flood.cpu_share(main):.1f}% of a core during the "
                   "flood, "
                   f"{100 * idle.cpu_share(main):.1f}% idle; vCPU threads "
                   + ", ".join(f"{100 * flood.cpu_share(v):.0f}%"
                               for v in vcpus))
        return tap, console, flood, idle, sampled, guest_figures

    def check_accounting(self, console, sampled):
        """The guest's counters at rest against the device's, sampled then."""
        guest = flood_lines(console, "counters")
        diagnostic("device at rest: " + ", ".join(
            f"{k}={v}" for k, v in sampled.items() if v))
        self.assertTrue(guest, "no counters from the guest")
        # What the guest sent is what the device received.
        self.assertEqual(sampled["touch-events"], guest["touch_entries"])
        self.assertEqual(sampled["touch-requests"], guest["touch_requests"])
        self.assertEqual(sampled["touch-rejected"], guest["touch_rejected"])
        self.assertEqual(sampled["report-requests"], guest["report_requests"])
        self.assertEqual(sampled["report-ranges"], guest["report_ranges"])
        self.assertEqual(sampled["report-rejected"], guest["report_rejected"])
        self.assertEqual(sampled["requests"],
                         guest["touch_requests"] + guest["report_requests"])
        self.assertEqual(sampled["protocol-errors"], 0)
        # The device timed its queue handlers (max-kick-ns).
        self.assertGreater(sampled["max-kick-ns"], 0)
        # Every page of an accepted event has exactly one outcome.
        self.assertEqual(sampled["touch-pages-accepted"],
                         sum(sampled[c] for c in PAGE_OUTCOMES))
        # Every event is accepted, dropped or rejected.
        self.assertGreaterEqual(sampled["touch-dropped"],
                                sampled["touch-unplaced"])
        self.assertEqual(sampled["touch-accepted"], guest["touch_accepted"])
        self.assertEqual(sampled["touch-events"],
                         sampled["touch-accepted"] +
                         sampled["touch-dropped"] +
                         sampled["touch-rejected"])

    def check_budget(self, flood, budget):
        """Pages examined within touch-pages-per-sec: placement runs at
        most once a period, each run within a period's share of the
        budget, so a window of W seconds holds at most W / period + 1
        runs; one more for the edges of the window."""
        limit = budget * (flood.seconds + 2 * PLACEMENT_PERIOD_S)
        self.assertLessEqual(flood.delta(*EXAMINED), limit,
                             f"{flood.rate(*EXAMINED):.0f} pages/s examined, "
                             f"budget {budget}")

    def test_default_budget(self):
        tap, console, flood, idle, sampled, _ = self.flood(
            "default budget", DEFAULT_BUDGET)
        self.assertEqual(tap.failed, 0, console)
        self.check_accounting(console, sampled)
        self.check_budget(flood, DEFAULT_BUDGET)
        self.assertGreater(flood.delta("touch-events"), 0)
        self.assertGreater(flood.delta("report-requests"), 0)

    def test_small_budget(self):
        tap, console, flood, idle, sampled, _ = self.flood(
            "touch-pages-per-sec=4096", SMALL_BUDGET,
            f",touch-queue-extents={SMALL_QUEUE}")
        self.assertEqual(tap.failed, 0, console)
        self.check_accounting(console, sampled)
        self.check_budget(flood, SMALL_BUDGET)
        # The flood asks for more than the budget: the budget is what
        # limits placement, and the queue overflows.
        self.assertGreater(flood.rate("touch-pages-accepted"), SMALL_BUDGET)
        self.assertGreater(flood.delta("touch-dropped"), 0)
        self.assertGreaterEqual(flood.rate(*EXAMINED), SMALL_BUDGET / 4)
        # 40 pages a period cost the main loop little.
        self.assertLess(flood.cpu_share("qemu-system-x86"),
                        idle.cpu_share("qemu-system-x86") + 0.10)


if __name__ == "__main__":
    unittest.main()
