#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Live migration of a guest whose numahint driver is busy.

Each test boots a Debian 6.1 guest that runs numahint_stress over and
over (selftests/numahint/migration_stress.sh: allocate, write, verify and
free memory, so free page reports and first-touch events never stop),
starts a second QEMU with the same command line plus -incoming defer, and
migrates the running guest to it over a unix socket: by precopy, and by
postcopy (postcopy-ram on both sides, migrate, then migrate-start-postcopy).
After the switch-over the host changes touch_flush_ms on the destination
(a configuration change the guest sees) in two steps: +1, the guest frees
128 MiB it holds; +2, it has moved: it runs the stress program once more
and reports, on the destination's serial console.  Then:

  - the guest's memory verified intact: no stress run, the one that was
    running during the migration included, found a mismatch;
  - the device's counters survived: each counter the device migrates is,
    on the destination at the end, at least the source's last reading;
  - reports kept working: free page reports, discards and first-touch
    events (and their placement) grow on the destination after the
    switch-over;
  - report-skipped-migration: never counted in precopy; in postcopy the
    destination refuses to discard while incoming postcopy runs (a
    discarded page would be fetched again from the source), so it grows
    then, and stops once postcopy is over, when discards resume.  So that
    reports come in that window, the postcopy test takes the first step
    as soon as the destination is in incoming postcopy: the guest frees
    the 128 MiB then, and reports them about 2 s later.

Postcopy needs userfaultfd on the host; where QEMU cannot use it the
postcopy test skips with QEMU's reason.
"""

import dataclasses
import re
import tempfile
import time
import unittest
from pathlib import Path

from numahint.vm.guest import Guest
from numahint.vm.qmp import QMPError
from numahint.vm.scenario import GUEST_TESTS, ScriptGuest

from numahint_stats import PAGE_OUTCOMES, STATS

REPO = Path(__file__).resolve().parents[2]

MiB = 1 << 20
GUEST_SCRIPT = (GUEST_TESTS / "migration_stress.sh").read_text()
#: Source time before the migration: reports and events counted there.
SOURCE_SECONDS = 8
#: Migration settings.  Precopy: as fast as loopback goes, with a
#: downtime TCG can meet while the guest writes memory.  Postcopy: slowed
#: down, so that precopy cannot finish before postcopy starts, and so
#: that the guest runs (and reports) on the destination for a while
#: before all of its memory is there: at 24 MiB/s incoming postcopy
#: lasted 3-10 s, too short at times for the reports of the memory the
#: guest frees as it begins; at 8 MiB/s, 13 s or more (about 29 s here).
PRECOPY_PARAMETERS = {"max-bandwidth": 1 << 30, "downtime-limit": 1000}
POSTCOPY_PARAMETERS = {"max-bandwidth": 32 * MiB, "downtime-limit": 1000,
                       "max-postcopy-bandwidth": 8 * MiB}
#: Precopy time before postcopy starts.
PRECOPY_BEFORE_POSTCOPY_S = 1
MIGRATION_TIMEOUT_S = 150

#: The counters the device saves in its vmstate: VirtIONumahintStats and
#: the placement engine's (a subsection); all but touch-pages-pending,
#: which the destination counts as flushed (its queue stays behind).
MIGRATED = sorted(STATS - {"touch-pages-pending"})


def diagnostic(text):
    print(f"# {text}", flush=True)


def qmp(guest, name, **arguments):
    """One QMP command on a Guest, retried while QEMU is starting."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return guest.execute({"execute": name, "arguments": arguments})
        except QMPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def stats(guest):
    return qmp(guest, "qom-get", path="nh0", property="stats")["return"]


def migration_status(guest):
    return qmp(guest, "query-migrate")["return"]


class MigrationTest(unittest.TestCase):
    """Precopy and postcopy of a guest under memory stress."""

    def ok(self, reply, what):
        self.assertNotIn("error", reply, f"{what}: {reply.get('error')}")
        return reply.get("return")

    def wait_status(self, guest, done, timeout, during=None):
        """Poll query-migrate on `guest` until its status is in `done`;
        call `during(info)` on each poll before.  Returns the last info."""
        deadline = time.monotonic() + timeout
        while True:
            info = migration_status(guest)
            status = info.get("status")
            if status in done:
                return info
            self.assertNotIn(status, ("failed", "cancelled"),
                             f"migration {status}: {info.get('error-desc')}")
            self.assertLess(time.monotonic(), deadline,
                            f"migration still {status} after {timeout} s")
            if during is not None:
                during(info)
            time.sleep(0.25)

    #: What the guest does when touch-flush-ms goes up by this much
    #: (migration_stress.sh): free the 128 MiB it holds; end its stress
    #: loop after the run in progress, run once more and report.
    FREE, MOVED = 1, 2

    def tell_guest(self, guest, step):
        """Set touch-flush-ms to its default + step on `guest`: a
        configuration change the guest sees."""
        self.ok(qmp(guest, "qom-set", path="nh0", property="touch-flush-ms",
                    value=self.flush_ms + step), "qom-set")

    def migrate(self, name, postcopy):
        with ScriptGuest(GUEST_SCRIPT, timeout=400) as src, \
                tempfile.TemporaryDirectory(prefix="numahint-mig-") as tmp:
            self.assertIsNotNone(src.guest.wait_for_line(r"MiB in cycles of"),
                                 "the stress program did not start")
            time.sleep(SOURCE_SECONDS)
            self.flush_ms = self.ok(src.qmp("qom-get", path="nh0",
                                            property="touch-flush-ms"),
                                    "qom-get")
            before = src.stats()
            self.assertGreater(before["report-requests"], 0)
            self.assertGreater(before["touch-events"], 0)

            config = dataclasses.replace(
                src.config,
                extra_args=src.config.extra_args + ("-incoming", "defer"))
            dst = Guest(config, console=None, log=Path(tmp) / "dest.log")
            with dst:
                during = self.switch(name, src, dst, postcopy,
                                     f"unix:{tmp}/migrate.sock")
                at_completion = stats(dst)
                source_last = src.stats()
                # Tell the guest to free what it holds (in postcopy, it
                # was told while postcopy ran), and that it has moved.
                self.tell_guest(dst, self.FREE)
                self.tell_guest(dst, self.MOVED)
                tap = dst.wait_for_report()
                final = stats(dst)
        console = src.console + dst.result.console
        for line in console.splitlines():
            if re.match(r"# (mismatches|MISMATCH|migration-stress|free page "
                        r"reports during)", line):
                diagnostic(f"{name}: guest: {line[2:]}")
        self.assertIsNotNone(tap, "the guest never reported on the "
                             "destination:\n" + dst.result.console)
        self.assertEqual(tap.failed, 0, console)
        self.assertGreater(tap.passed, 0)
        self.assertIn("# migration-stress: touch_flush_ms is", console)
        self.assertIn("# migration-stress: touch_flush_ms changed: freed",
                      console)
        self.assertFalse(dst.result.kernel_errors, console)
        self.assertIsNone(re.search(r"^# MISMATCH", console, re.M), console)
        return before, during, at_completion, source_last, final

    def switch(self, name, src, dst, postcopy, uri):
        """Migrate from src to dst; return the destination's counters
        sampled while incoming postcopy ran (empty for precopy)."""
        caps = [{"capability": "postcopy-ram", "state": True}] \
            if postcopy else []
        if caps:
            reply = qmp(dst, "migrate-set-capabilities", capabilities=caps)
            if "error" in reply:
                self.skipTest("postcopy unavailable on this host: QEMU "
                              f"says: {reply['error']['desc']}")
            self.ok(src.qmp("migrate-set-capabilities", capabilities=caps),
                    "source capabilities")
        self.ok(src.qmp("migrate-set-parameters",
                        **(POSTCOPY_PARAMETERS if postcopy
                           else PRECOPY_PARAMETERS)), "parameters")
        self.ok(qmp(dst, "migrate-incoming", uri=uri), "migrate-incoming")
        started = time.monotonic()
        self.ok(src.qmp("migrate", uri=uri), "migrate")
        during = []
        if postcopy:
            time.sleep(PRECOPY_BEFORE_POSTCOPY_S)
            self.ok(src.qmp("migrate-start-postcopy"), "start-postcopy")
            window = []

            def sample(info):
                if info.get("status") != "postcopy-active":
                    return
                if not during:
                    # The guest frees the 128 MiB it holds: reports come
                    # while the destination is in incoming postcopy.
                    self.tell_guest(dst, self.FREE)
                    window.append(time.monotonic())
                during.append(stats(dst))
            self.wait_status(dst, ("completed",), MIGRATION_TIMEOUT_S,
                             during=sample)
            if window:
                diagnostic(f"{name}: the guest was told to free 128 MiB "
                           f"{time.monotonic() - window[0]:.1f} s before "
                           "incoming postcopy ended")
        info = self.wait_status(src.guest, ("completed",),
                                MIGRATION_TIMEOUT_S)
        self.wait_status(dst, ("completed",), MIGRATION_TIMEOUT_S)
        ram = info.get("ram", {})
        diagnostic(f"{name}: migrated in {time.monotonic() - started:.1f} s "
                   f"(QEMU: total {info.get('total-time')} ms, downtime "
                   f"{info.get('downtime')} ms), "
                   f"{ram.get('transferred', 0) // MiB} MiB sent, "
                   f"{ram.get('postcopy-requests', 0)} postcopy page "
                   f"requests, {len(during)} samples of the destination "
                   "during postcopy")
        return during

    def check_counters(self, name, source_last, final, at_completion):
        lost = {c: (source_last[c], final[c]) for c in MIGRATED
                if final[c] < source_last[c]}
        self.assertFalse(lost, f"counters lower on the destination than on "
                         f"the source (source, destination): {lost}")
        diagnostic(f"{name}: source's last reading -> destination at the "
                   "end: " + ", ".join(
                       f"{c} {source_last[c]} -> {final[c]}"
                       for c in ("requests", "report-requests",
                                 "report-bytes-discarded", "touch-requests",
                                 "touch-events", "touch-dropped",
                                 "report-skipped-migration")))
        diagnostic(f"{name}: placement counters: " + ", ".join(
            f"{c} {source_last[c]} -> {at_completion[c]} at the switch-over,"
            f" {final[c]} at the end" for c in ("touch-pages-accepted",
                                                "touch-pages-local",
                                                "touch-query-calls")))
        # Reports and events work on the destination.
        for counter in ("report-requests", "report-ranges", "touch-requests",
                        "touch-events"):
            self.assertGreater(final[counter], source_last[counter], counter)
        # Placement runs there: events accepted and pages examined.
        self.assertGreater(final["touch-pages-accepted"],
                           at_completion["touch-pages-accepted"])
        self.assertGreater(final["touch-query-calls"],
                           at_completion["touch-query-calls"])
        self.assertEqual(final["protocol-errors"], 0)
        self.assertEqual(final["report-discard-failed"], 0)
        # The destination still accounts for every page and event.
        self.assertEqual(final["touch-pages-accepted"],
                         sum(final[c] for c in PAGE_OUTCOMES))
        self.assertEqual(final["touch-events"],
                         final["touch-accepted"] + final["touch-dropped"]
                         + final["touch-rejected"])

    def test_precopy(self):
        name = "precopy"
        before, _, at_completion, source_last, final = self.migrate(
            name, postcopy=False)
        self.check_counters(name, source_last, final, at_completion)
        self.assertGreater(final["report-bytes-discarded"],
                           source_last["report-bytes-discarded"])
        # Precopy never stops the destination from discarding.
        self.assertEqual(final["report-skipped-migration"], 0)

    def test_postcopy(self):
        name = "postcopy"
        before, during, at_completion, source_last, final = self.migrate(
            name, postcopy=True)
        self.check_counters(name, source_last, final, at_completion)
        skipped = [s["report-skipped-migration"] for s in during]
        diagnostic(f"{name}: report-skipped-migration on the source "
                   f"{source_last['report-skipped-migration']}, on the "
                   f"destination during postcopy {skipped[:1]}..."
                   f"{skipped[-1:]}, at completion "
                   f"{at_completion['report-skipped-migration']}, at the end "
                   f"{final['report-skipped-migration']}; discarded at "
                   f"completion "
                   f"{at_completion['report-bytes-discarded'] // MiB} MiB, "
                   f"at the end {final['report-bytes-discarded'] // MiB} MiB")
        self.assertTrue(during, "the migration never was in postcopy")
        self.assertEqual(source_last["report-skipped-migration"], 0)
        # Ranges reported while the destination was in incoming postcopy
        # (the guest freed 128 MiB as it began) were all skipped, none
        # discarded.
        first, last = during[0], during[-1]
        ranges = last["report-ranges"] - first["report-ranges"]
        diagnostic(f"{name}: {ranges} range(s) reported between the first "
                   "and last sample in postcopy")
        self.assertGreater(ranges, 0, "no free page report came while the "
                           "destination was in incoming postcopy")
        self.assertEqual(last["report-bytes-discarded"],
                         first["report-bytes-discarded"])
        self.assertEqual(last["report-skipped-migration"]
                         - first["report-skipped-migration"], ranges)
        # After it, discards resumed and nothing more was skipped.
        self.assertEqual(final["report-skipped-migration"],
                         at_completion["report-skipped-migration"])
        self.assertGreater(final["report-bytes-discarded"],
                           at_completion["report-bytes-discarded"])


if __name__ == "__main__":
    unittest.main()
