#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The free page path end to end: guest frees, host memory drops, no data lost.

Each test boots a Debian 6.1 guest under the patched QEMU with the driver
and the guest programs of selftests/numahint, and measures the host side
itself: the resident size of the guest's RAM block, counted page by page
from QEMU's /proc/PID/pagemap (not from numahint's own counters), sampled
while the guest runs.

  - a guest program touches 256 MiB and exits: the host's resident guest
    RAM must drop by at least 90% of that, for anonymous RAM, memfd
    (share=on), a file on tmpfs, and hugetlbfs where the host has huge
    pages;
  - with discards disabled (x-disable-ram-discard=on, what VFIO does), the
    device discards nothing, counts the skipped ranges, and the guest
    keeps working;
  - the guest stress program verifies 2 GiB of allocate/write/verify/free
    cycles with reports at the lowest order, and again without the driver.
"""

import hashlib
import os
import re
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

from qemu.machine import QEMUMachine

from numahint.vm.hostmem import ResidentSampler
from numahint.vm.paths import default_qemu
from numahint.vm.scenario import ScriptGuest

REPO = Path(__file__).resolve().parents[2]

MiB = 1 << 20
QEMU = str(default_qemu())
TOUCHED = 256 * MiB
STRESS_BYTES = os.environ.get("NUMAHINT_STRESS_BYTES", str(2 << 30))


class HugePagesUnavailable(Exception):
    """The host cannot provide the huge pages a test needs."""


class HugePages:
    """A hugetlbfs mount with `size` bytes of free 2 MiB pages.

    Reserves the pages (as root) if the host has too few free, and gives
    them back afterwards, so the test leaves the host as it found it.
    """

    NR = Path("/proc/sys/vm/nr_hugepages")

    def __init__(self, size):
        self.pages = size // (2 * MiB)
        self._saved = None
        self._mount = None

    @staticmethod
    def _free():
        meminfo = Path("/proc/meminfo").read_text()
        return int(re.search(r"HugePages_Free:\s+(\d+)", meminfo).group(1))

    def __enter__(self):
        if self._free() < self.pages:
            if os.geteuid() != 0:
                raise HugePagesUnavailable("too few free huge pages, and "
                                           "not root to reserve more")
            self._saved = int(self.NR.read_text())
            self.NR.write_text(str(self._saved + self.pages - self._free()))
            if self._free() < self.pages:
                self.__exit__()
                raise HugePagesUnavailable("the host could not reserve "
                                           f"{self.pages} huge pages")
        self._mount = tempfile.mkdtemp(prefix="numahint-huge-")
        res = subprocess.run(["mount", "-t", "hugetlbfs", "none",
                              self._mount], capture_output=True, text=True,
                             check=False)
        if res.returncode:
            self.__exit__()
            raise HugePagesUnavailable(f"cannot mount hugetlbfs: "
                                       f"{res.stderr.strip()}")
        return self._mount

    def __exit__(self, *exc):
        if self._mount:
            subprocess.run(["umount", self._mount], check=False)
            os.rmdir(self._mount)
            self._mount = None
        if self._saved is not None:
            self.NR.write_text(str(self._saved))
            self._saved = None


def diagnostic(text):
    print(f"# {text}", flush=True)


class DiscardTest(unittest.TestCase):
    """A guest program touches 256 MiB and exits; host RSS must drop."""

    def drop_after_exit(self, name, memory_args=(), device=""):
        script = "exec /tests/numahint_report_test\n"
        with ScriptGuest(script, device=device, extra_args=memory_args) as run:
            block = run.ram_block()
            with ResidentSampler(run.guest.pid, block.host, block.used) as s:
                tap = run.guest.wait_for_report()
                stats = run.settled_stats()
                # One last sample once reports have stopped.
                time.sleep(0.5)
        console = run.console
        self.assertIsNotNone(tap, "the guest never reported:\n" + console)
        self.assertEqual(tap.failed, 0, console)
        took = re.search(r"# reported .* in ([\d.]+) s", console)
        # The lowest point after the peak: what the guest touches later
        # (its own page cache, the test's polling) is not the app's memory.
        dropped = s.peak - s.low_after_peak
        diagnostic(f"{name}: guest RAM resident peak {s.peak // MiB} MiB, "
                   f"lowest after it {s.low_after_peak // MiB} MiB, at the "
                   f"end {s.last // MiB} MiB, dropped "
                   f"{dropped // MiB} MiB = {100 * dropped / TOUCHED:.0f}% of "
                   f"the 256 MiB touched; guest seconds to report: "
                   f"{took.group(1) if took else '?'}; host discarded "
                   f"{stats['report-bytes-discarded'] // MiB} MiB")
        return dropped, stats

    def test_anonymous_ram(self):
        dropped, _ = self.drop_after_exit("anonymous RAM")
        self.assertGreaterEqual(dropped, 0.9 * TOUCHED)

    def test_memfd_shared(self):
        dropped, _ = self.drop_after_exit(
            "memfd share=on",
            ("-object", "memory-backend-memfd,id=ram0,size=1G,share=on",
             "-machine", "memory-backend=ram0"))
        self.assertGreaterEqual(dropped, 0.9 * TOUCHED)

    def test_file_on_tmpfs(self):
        with tempfile.TemporaryDirectory(dir="/dev/shm") as shm:
            dropped, _ = self.drop_after_exit(
                "file on tmpfs share=on",
                ("-object", f"memory-backend-file,id=ram0,size=1G,"
                 f"mem-path={shm}/guest-ram,share=on",
                 "-machine", "memory-backend=ram0"))
        self.assertGreaterEqual(dropped, 0.9 * TOUCHED)

    def test_private_unnamed_file(self):
        """share=off in a mem-path directory: QEMU's own unlinked file,
        which nobody else can map, is discarded like anonymous RAM."""
        with tempfile.TemporaryDirectory(dir="/dev/shm") as shm:
            dropped, stats = self.drop_after_exit(
                "file in a tmpfs directory share=off",
                ("-object", f"memory-backend-file,id=ram0,size=1G,"
                 f"mem-path={shm},share=off",
                 "-machine", "memory-backend=ram0"))
        self.assertEqual(stats["report-skipped-private"], 0)
        self.assertGreaterEqual(dropped, 0.9 * TOUCHED)

    def test_hugetlbfs(self):
        try:
            with HugePages(1 << 30) as mount:
                dropped, stats = self.drop_after_exit(
                    "hugetlbfs 2 MiB",
                    ("-object", f"memory-backend-file,id=ram0,size=1G,"
                     f"mem-path={mount},share=on",
                     "-machine", "memory-backend=ram0"))
        except HugePagesUnavailable as why:
            self.skipTest(str(why))
        self.assertGreaterEqual(dropped, 0.9 * TOUCHED)

    def test_discard_disabled_discards_nothing(self):
        dropped, stats = self.drop_after_exit(
            "x-disable-ram-discard=on", device="x-disable-ram-discard=on")
        self.assertEqual(stats["report-bytes-discarded"], 0)
        self.assertGreater(stats["report-skipped-disabled"], 0)
        self.assertLess(dropped, 0.1 * TOUCHED)


def discard_lines(stderr):
    """QEMU's stderr lines about discarding guest RAM."""
    return [line for line in stderr.splitlines()
            if "discard" in line.lower() or "numahint" in line]


class TemplateFile:
    """A file of `size` bytes on tmpfs, each MiB filled with its own
    non-zero byte, that QEMU maps as guest RAM; .sha256() hashes it."""

    def __init__(self, size):
        self.size = size
        self._dir = tempfile.TemporaryDirectory(dir="/dev/shm",
                                                prefix="numahint-template-")
        self.path = Path(self._dir.name) / "template"
        with open(self.path, "wb") as f:
            for i in range(size // MiB):
                f.write(self.chunk(i))

    @staticmethod
    def chunk(i):
        return bytes([i % 255 + 1]) * MiB

    def sha256(self):
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    def backend(self, **opts):
        extra = "".join(f",{k}={v}" for k, v in opts.items())
        return ("-object", f"memory-backend-file,id=ram0,size={self.size},"
                f"mem-path={self.path}{extra}",
                "-machine", "memory-backend=ram0")

    def cleanup(self):
        self._dir.cleanup()


class HostSafetyTest(unittest.TestCase):
    """A guest reports all its free memory where the host must not, or
    cannot, discard it: nothing outside the guest is harmed, and QEMU's
    log says so at most once."""

    MEMORY = 512 * MiB

    def report(self, name, memory_args, device=""):
        """Boot a guest that frees 256 MiB after boot's own free memory;
        return the device's counters and QEMU's lines about discards."""
        script = "exec /tests/numahint_report_test\n"
        with ScriptGuest(script, device=device, memory="512M",
                         extra_args=memory_args) as run:
            run.guest.wait_for_report()
            stats = run.settled_stats()
        lines = discard_lines(run.guest.result.qemu_stderr)
        diagnostic(f"{name}: {stats['report-requests']} reports, "
                   f"{stats['report-ranges']} ranges, "
                   f"{stats['report-bytes-discarded'] // MiB} MiB discarded, "
                   f"skipped private {stats['report-skipped-private']}, "
                   f"failed {stats['report-discard-failed']}, skipped after "
                   f"a failure {stats['report-skipped-failed']}; "
                   f"{len(lines)} line(s) in QEMU's log: {lines[:3]}")
        return stats, lines

    def test_private_template_file_is_never_punched(self):
        template = TemplateFile(self.MEMORY)
        try:
            before = template.sha256()
            stats, lines = self.report("template file share=off",
                                       template.backend(share="off"))
            after = template.sha256()
            # Another VM started from the template reads the pattern.
            with tempfile.TemporaryDirectory() as tmp:
                dump = Path(tmp) / "ram"
                second = QEMUMachine(
                    os.environ.get("NUMAHINT_QEMU", QEMU),
                    args=["-M", "pc", "-m", "512M", "-nodefaults", "-S",
                          *template.backend(share="off")],
                    base_temp_dir=tmp, qmp_timer=60)
                with second:
                    second.launch()
                    second.cmd("pmemsave", val=MiB, size=self.MEMORY - MiB,
                               filename=str(dump))
                seen = dump.read_bytes()
        finally:
            template.cleanup()
        wrong = [i for i in range(1, self.MEMORY // MiB)
                 if seen[(i - 1) * MiB:i * MiB] != TemplateFile.chunk(i)]
        diagnostic(f"template sha256 {before[:16]} -> {after[:16]}; a second "
                   f"QEMU read {len(wrong)} MiB unlike the template")
        self.assertEqual(before, after, "the template file changed")
        self.assertEqual(wrong, [])
        self.assertGreater(stats["report-skipped-private"], 0)
        self.assertEqual(stats["report-bytes-discarded"], 0)
        self.assertEqual(len(lines), 1, lines)

    def test_mem_lock_logs_once(self):
        stats, lines = self.report("-overcommit mem-lock=on",
                                   ("-overcommit", "mem-lock=on"))
        self.assertEqual(stats["report-discard-failed"], 0)
        self.assertLessEqual(len(lines), 1, lines)

    def test_read_only_file_logs_once(self):
        template = TemplateFile(self.MEMORY)
        try:
            before = template.sha256()
            stats, lines = self.report(
                "file readonly=on,rom=off",
                template.backend(share="off", readonly="on", rom="off"))
            self.assertEqual(template.sha256(), before)
        finally:
            template.cleanup()
        self.assertGreater(stats["report-skipped-private"], 0)
        self.assertEqual(stats["report-discard-failed"], 0)
        self.assertLessEqual(len(lines), 1, lines)

    def test_failing_discards_log_once_then_stop(self):
        """share=on on ramfs: QEMU cannot punch holes there."""
        mount = tempfile.mkdtemp(prefix="numahint-ramfs-")
        res = subprocess.run(["mount", "-t", "ramfs", "none", mount],
                             capture_output=True, text=True, check=False)
        if res.returncode:
            os.rmdir(mount)
            self.skipTest(f"cannot mount ramfs: {res.stderr.strip()}")
        try:
            stats, lines = self.report(
                "file on ramfs share=on",
                ("-object", f"memory-backend-file,id=ram0,size=512M,"
                 f"mem-path={mount}/ram,share=on",
                 "-machine", "memory-backend=ram0"))
        finally:
            subprocess.run(["umount", mount], check=False)
            os.rmdir(mount)
        self.assertEqual(stats["report-discard-failed"], 1)
        self.assertGreater(stats["report-skipped-failed"], 0)
        self.assertEqual(len(lines), 1, lines)


class NoDataLostTest(unittest.TestCase):
    """2 GiB of allocate/write/verify/free cycles find no mismatch."""

    def stress(self, module, append=""):
        script = f"exec /tests/numahint_stress -b {STRESS_BYTES}\n"
        with ScriptGuest(script, module=module, memory="1G",
                      append=append, timeout=1200) as run:
            tap = run.guest.wait_for_report()
            stats = run.stats()
        console = run.console
        for line in console.splitlines():
            if line.startswith("#") and ("mismatch" in line or
                                         "report" in line):
                diagnostic(line.lstrip("# "))
        self.assertIsNotNone(tap, "the guest never reported:\n" + console)
        self.assertEqual(tap.failed, 0, console)
        return stats

    def test_with_reports_at_lowest_order(self):
        stats = self.stress(True, append="virtio_numahint.report_order=1")
        diagnostic(f"host: {stats['report-requests']} reports, "
                   f"{stats['report-bytes-discarded'] // MiB} MiB discarded")
        self.assertGreater(stats["report-bytes-discarded"], 0)

    def test_without_driver(self):
        stats = self.stress(False)
        self.assertEqual(stats["report-requests"], 0)


if __name__ == "__main__":
    unittest.main()
