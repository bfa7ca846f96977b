#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""tools/numahint-stat against a real QEMU.

- its parsers, on fixed /proc and `info ramblock` text;
- --replay on a small rig console log (data/numahint-stat-rig.log, the
  NUMAHINT-STAT snapshots tools/rig/rig-outer.sh prints): guest RAM per
  node over exactly the RAM block's mappings, rates that are the
  counters' differences over the outer VM's uptime, a snapshot cut short
  left out, --interval, the screen and --plot;
- a paused QEMU (no guest) whose guest RAM is a preallocated 64 MiB
  backend: numahint-stat finds the device by type with no id, takes
  QEMU's pid from the QMP socket, counts exactly the backend's 64 MiB
  (none of QEMU's other mappings), reports every counter of the device's
  list, and refuses to guess between two devices;
- a live guest booted with `-device virtio-numahint` (the short name)
  running an allocation churn with the driver loaded: the device's
  counters move, every rate is the counters' difference over its
  interval, the resident size agrees with QEMU's pagemap, and --plot
  writes a PNG.
"""

import gzip
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

from numahint import stat
from numahint.vm.hostmem import resident_bytes
from numahint.vm.paths import default_qemu
from numahint.vm.scenario import ScriptGuest

from numahint_stats import NAMES

REPO = Path(__file__).resolve().parents[2]

TOOL = REPO / "tools" / "numahint-stat"
RIG_LOG = Path(__file__).resolve().parent / "data" / "numahint-stat-rig.log"
QEMU = os.environ.get("NUMAHINT_QEMU", str(default_qemu()))
MIB = 1 << 20


def run_tool(*args, timeout=120):
    return subprocess.run([sys.executable, str(TOOL), *args],
                          capture_output=True, text=True, timeout=timeout,
                          check=False)


def json_reports(out):
    return [json.loads(line) for line in out.splitlines()]


class ParseTest(unittest.TestCase):
    RAMBLOCK = (
        "              Block Name    PSize              Offset"
        "               Used              Total                HVA  RO\r\n"
        "                      m0    4 KiB  0x0000000000000000 "
        "0x0000000008000000 0x0000000008000000 0x00007f381be00000  rw\r\n"
        "                 pc.bios    4 KiB  0x0000000010000000 "
        "0x0000000000040000 0x0000000000040000 0x00007f382a600000  ro\r\n"
        "                      h0    2 MiB  0x0000000008000000 "
        "0x0000000004000000 0x0000000004000000 0x00007f3000000000  rw\r\n")

    def test_ramblocks(self):
        self.assertEqual(stat.parse_ramblocks(self.RAMBLOCK), {
            "m0": (0x7f381be00000, 0x8000000),
            "pc.bios": (0x7f382a600000, 0x40000),
            "h0": (0x7f3000000000, 0x4000000)})

    def test_numa_maps_counts_only_guest_ram_per_node(self):
        maps = ("7f3000000000-7f3004000000 rw-s 00000000 00:0f 1 /h0\n"
                "7f381be00000-7f3823e00000 rw-p 00000000 00:00 0\n"
                "7f3823e00000-7f3823e01000 ---p 00000000 00:00 0\n"
                "7f382a600000-7f382a640000 rw-p 00000000 00:00 0\n")
        numa_maps = (
            "7f3000000000 default file=/h0 huge dirty=3 N0=1 N1=2 "
            "kernelpagesize_kB=2048\n"
            "7f381be00000 default anon=300 dirty=300 N0=100 N1=200 "
            "kernelpagesize_kB=4\n"
            "7f3823e00000 default\n"
            "7f382a600000 default anon=64 dirty=64 N0=64 "
            "kernelpagesize_kB=4\n")
        ranges = [(0x7f381be00000, 0x8000000), (0x7f3000000000, 0x4000000)]
        self.assertEqual(
            stat.node_bytes(numa_maps, stat.parse_maps(maps), ranges),
            {0: 100 * 4096 + 1 * 2 * MIB, 1: 200 * 4096 + 2 * 2 * MIB})

    def test_rates_are_differences_over_the_interval(self):
        before = {"report-bytes-discarded": 0, "touch-events": 10,
                  "report-rejected": 1, "touch-rejected": 2}
        after = {"report-bytes-discarded": 6 * MIB, "touch-events": 40,
                 "report-rejected": 4, "touch-rejected": 5}
        rates = stat.rates(before, after, 2.0)
        self.assertEqual(rates["discarded-mib"], 3.0)
        self.assertEqual(rates["events"], 15.0)
        self.assertEqual(rates["rejected"], 3.0)
        # A counter the device does not have is unknown, not zero.
        self.assertIsNone(rates["huge-split"])


class ReplayTest(unittest.TestCase):
    """The rig's outer VM has no Python: it prints raw snapshots on its
    console, which --replay reads through the live parsers and rates."""

    def test_json(self):
        out = run_tool("--replay", str(RIG_LOG), "--json")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("1 snapshot cut short, left out", out.stderr)
        reports = json_reports(out.stdout)
        # Four whole snapshots: the first is the rates' baseline.
        self.assertEqual(len(reports), 3, out.stdout)
        self.assertEqual([r["elapsed"] for r in reports], [2.5, 5.0, 7.5])
        self.assertEqual({(r["pid"], r["device"]) for r in reports},
                         {(160, "nh0")})
        # Both of the RAM block's mappings, the second 4 MiB on node 1.
        self.assertEqual([r["ram"]["nodes"] for r in reports], [
            {"0": 12288 * 4096, "1": 5120 * 4096},
            {"0": 20480 * 4096, "1": 3072 * 4096},
            {"0": 20480 * 4096, "1": 3072 * 4096}])
        self.assertEqual(reports[0]["vcpus"], [
            {"cpu": 0, "thread": 166, "host-cpu": 0, "node": 0},
            {"cpu": 1, "thread": 167, "host-cpu": 2, "node": 1}])
        self.assertEqual(reports[0]["on-vcpu-nodes"], 1.0)
        self.assertEqual(reports[0]["gauges"]["pages-pending"], 7)
        # Every rate is its counters' difference over the uptime between
        # two snapshots.
        self.assertEqual(reports[0]["rates"]["discarded-mib"], 2.0)
        self.assertEqual(reports[0]["rates"]["events"], 200.0)
        self.assertEqual(reports[1]["rates"]["pages-moved"], 800.0)
        self.assertEqual(reports[1]["rates"]["rejected"], 0.4)
        self.assertTrue(all(v == 0 for v in reports[2]["rates"].values()))
        self.assertEqual(set(reports[0]["stats"]), set(NAMES))
        # A log kept gzip'd replays the same.
        with tempfile.TemporaryDirectory() as tmp:
            packed = Path(tmp) / "rig.log.gz"
            packed.write_bytes(gzip.compress(RIG_LOG.read_bytes()))
            again = run_tool("--replay", str(packed), "--json")
        self.assertEqual(again.stdout, out.stdout, again.stderr)

    def test_interval_screen_and_plot(self):
        with tempfile.TemporaryDirectory() as tmp:
            png = Path(tmp) / "rig.png"
            out = run_tool("--replay", str(RIG_LOG), "--csv", "--plot",
                           str(png))
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertGreater(png.stat().st_size, 10000)
            self.assertTrue(png.read_bytes().startswith(b"\x89PNG"))
        out = run_tool("--replay", str(RIG_LOG), "--interval", "5")
        self.assertEqual(out.returncode, 0, out.stderr)
        # At least 5 s apart: the snapshots at 0 and 5 s of 0, 2.5, 5, 7.5.
        self.assertEqual(out.stdout.count("numahint-stat: QEMU pid 160, nh0, "
                                          "from numahint-stat-rig.log"), 1,
                         out.stdout)
        self.assertIn("rates over 5.0 s", out.stdout)
        self.assertRegex(out.stdout, r"resident \(MiB\) +80\.0 +12\.0 +92\.0")
        self.assertRegex(out.stdout, r"pages moved +600\.0 +3000")
        out = run_tool("--replay", str(RIG_LOG), "--csv", "--once")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(len(out.stdout.splitlines()), 2, out.stdout)

    def test_usage(self):
        self.assertEqual(run_tool().returncode, 2)
        self.assertEqual(run_tool("/tmp/qmp.sock", "--replay",
                                  str(RIG_LOG)).returncode, 2)
        with tempfile.NamedTemporaryFile("w", suffix=".log") as empty:
            empty.write("no snapshots here\n")
            empty.flush()
            out = run_tool("--replay", empty.name)
        self.assertEqual(out.returncode, 1)
        self.assertIn("no NUMAHINT-STAT snapshots", out.stderr)


class PausedQEMU:
    """A paused QEMU (qtest, no guest) with a QMP socket for the tool."""

    def __init__(self, *args):
        self._dir = tempfile.TemporaryDirectory(prefix="numahint-stat-")
        self.sock = os.path.join(self._dir.name, "qmp.sock")
        self.proc = subprocess.Popen(
            [QEMU, "-M", "q35", "-nodefaults", "-display", "none",
             "-accel", "qtest", "-S", *args,
             "-qmp", f"unix:{self.sock},server=on,wait=off"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not os.path.exists(self.sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError("QEMU did not start: " +
                                   self.proc.stderr.read())
            time.sleep(0.05)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stderr.close()
        self._dir.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


PREALLOC_RAM = ("-m", "64M", "-object",
                "memory-backend-ram,id=ram0,size=64M,prealloc=on",
                "-machine", "memory-backend=ram0")


class PausedQEMUTest(unittest.TestCase):
    def test_once_finds_the_device_pid_and_guest_ram(self):
        with PausedQEMU(*PREALLOC_RAM, "-device", "virtio-numahint") as qemu:
            out = run_tool(qemu.sock, "--once", "--interval", "0.2",
                           "--json")
            self.assertEqual(out.returncode, 0, out.stderr)
            reports = json_reports(out.stdout)
            self.assertEqual(len(reports), 1, out.stdout)
            report = reports[0]
            self.assertEqual(report["pid"], qemu.proc.pid)
            self.assertEqual(report["device"], "/machine/peripheral-anon/"
                             "device[0]/virtio-backend")
            # Exactly the preallocated backend: not the BIOS, ROMs and
            # ACPI tables QEMU also maps as RAM blocks, nor its heap.
            self.assertEqual(report["ram"]["resident"], 64 * MIB)
            self.assertEqual(sum(report["ram"]["nodes"].values()), 64 * MIB)
            self.assertEqual(set(report["stats"]), set(NAMES))
            self.assertEqual(set(report["rates"]),
                             {r.key for r in stat.RATES})
            self.assertTrue(all(v == 0 for v in report["rates"].values()),
                            report["rates"])
            self.assertEqual(len(report["vcpus"]), 1)

    def test_screen_and_csv(self):
        with PausedQEMU(*PREALLOC_RAM, "-device", "virtio-numahint,id=nh0",
                        "-device", "virtio-numahint,id=nh1") as qemu:
            out = run_tool(qemu.sock, "--count", "2", "--interval", "0.2",
                           "--device", "nh1")
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(out.stdout.count("numahint-stat: QEMU pid "
                                              f"{qemu.proc.pid}, /machine/"
                                              "peripheral/nh1/virtio-backend"),
                             2, out.stdout)
            self.assertRegex(out.stdout, r"resident \(MiB\) +64\.0")
            out = run_tool(qemu.sock, "--count", "3", "--interval", "0.2",
                           "--csv", "--device", "/machine/peripheral/nh0")
            self.assertEqual(out.returncode, 0, out.stderr)
            rows = [line.split(",") for line in out.stdout.splitlines()]
            self.assertEqual(len(rows), 4, out.stdout)
            header = rows[0]
            self.assertIn("discarded_mib_per_s", header)
            resident = header.index("resident_mib")
            self.assertTrue(all(float(r[resident]) == 64.0 for r in rows[1:]))

    def test_tcp_socket_needs_the_pid(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        address = f"127.0.0.1:{port}"
        with PausedQEMU(*PREALLOC_RAM, "-device", "virtio-numahint",
                        "-qmp", f"tcp:{address},server=on,wait=off") as qemu:
            out = run_tool(address, "--once", "--interval", "0.1")
            self.assertEqual(out.returncode, 1)
            self.assertIn("give QEMU's pid with --pid", out.stderr)
            out = run_tool(address, "--once", "--interval", "0.1", "--json",
                           "--pid", str(qemu.proc.pid))
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(json_reports(out.stdout)[0]["ram"]["resident"],
                             64 * MIB)

    def test_two_devices_need_a_choice(self):
        with PausedQEMU("-device", "virtio-numahint",
                        "-device", "virtio-numahint") as qemu:
            out = run_tool(qemu.sock, "--once", "--interval", "0.1")
            self.assertEqual(out.returncode, 1)
            self.assertIn("2 virtio-numahint devices in this VM", out.stderr)
            self.assertIn("choose one with --device", out.stderr)

    def test_no_device(self):
        with PausedQEMU("-device", "virtio-balloon") as qemu:
            out = run_tool(qemu.sock, "--once", "--interval", "0.1")
            self.assertEqual(out.returncode, 1)
            self.assertIn("no virtio-numahint devices in this VM", out.stderr)

    def test_qemu_going_away_still_plots(self):
        with tempfile.TemporaryDirectory() as tmp:
            png = Path(tmp) / "run.png"
            with PausedQEMU("-device", "virtio-numahint") as qemu:
                proc = subprocess.Popen(
                    [sys.executable, str(TOOL), qemu.sock, "--json",
                     "--interval", "0.2", "--plot", str(png)],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                # Two reports, then QEMU dies under it.
                seen = [proc.stdout.readline() for _ in range(2)]
                qemu.proc.kill()
                out, err = proc.communicate(timeout=60)
            self.assertEqual(proc.returncode, 1, err)
            self.assertRegex(err, r"numahint-stat: (QMP|cannot read QEMU)")
            self.assertEqual(len(json_reports("".join(seen))), 2, seen)
            self.assertTrue(png.read_bytes().startswith(b"\x89PNG"), err)


# The churn maps, writes and unmaps anonymous memory on every vCPU: its
# allocations are first-touch events, and what it frees (in transparent
# huge pages, -H, whole blocks) page reporting reports.
CHURN_SECONDS = 40
SCRIPT = (f"echo NUMAHINT-STAT-GO\n"
          f"exec /tests/numahint_churn -H -m 32 -n 0 -t {CHURN_SECONDS}\n")
REPORTS = 10
INTERVAL = 2.0


class LiveGuestTest(unittest.TestCase):
    def test_live_guest(self):
        tmp = tempfile.TemporaryDirectory(prefix="numahint-stat-")
        self.addCleanup(tmp.cleanup)
        sock = os.path.join(tmp.name, "stat.sock")
        png = Path(tmp.name) / "run.png"
        # The runner keeps its own QMP connection: the tool gets a second
        # monitor, as it would beside libvirt's.
        with ScriptGuest(SCRIPT, memory="512M", plug_device=False,
                         extra_args=("-device", "virtio-numahint,id=nh0",
                                     "-qmp",
                                     f"unix:{sock},server=on,wait=off"),
                         timeout=600) as run:
            self.assertIsNotNone(run.guest.wait_for_line("NUMAHINT-STAT-GO"),
                                 "the guest did not start the churn")
            out = run_tool(sock, "--json", "--count", str(REPORTS),
                           "--interval", str(INTERVAL), "--plot", str(png),
                           timeout=REPORTS * INTERVAL + 120)
            self.assertEqual(out.returncode, 0, out.stderr)
            reports = json_reports(out.stdout)
            # Once the churn is over and the guest idles: numa_maps and
            # QEMU's pagemap agree on the resident guest RAM.
            self.assertIsNotNone(run.guest.wait_for_line(r"# churn: "),
                                 "the churn did not finish")
            time.sleep(5)
            after = json_reports(run_tool(sock, "--once", "--json",
                                          "--interval", "0.5").stdout)[0]
            block = run.ram_block()
            pagemap = resident_bytes(run.guest.pid, block.host, block.used)
            pid = run.guest.pid
        self.assertEqual(len(reports), REPORTS, out.stdout)
        first, last = reports[0], reports[-1]
        self.assertEqual(first["device"], "/machine/peripheral/nh0/"
                         "virtio-backend")
        self.assertEqual(first["pid"], pid)
        # The churn moved the counters, and the rates show it.
        for counter, rate in (("touch-events", "events"),
                              ("report-bytes-discarded", "discarded-mib")):
            self.assertGreater(last["stats"][counter],
                               first["stats"][counter], counter)
            self.assertTrue(any(r["rates"][rate] > 0 for r in reports),
                            f"{rate}: {[r['rates'][rate] for r in reports]}")
        # Every rate is its counters' difference over its interval.
        for before, now in zip(reports, reports[1:]):
            self.assertAlmostEqual(now["interval"], INTERVAL, delta=1.0)
            for rate in stat.RATES:
                delta = (sum(now["stats"][c] for c in rate.counters)
                         - sum(before["stats"][c] for c in rate.counters))
                self.assertAlmostEqual(
                    now["rates"][rate.key] * now["interval"],
                    delta / rate.scale, delta=1e-3 * max(1, delta),
                    msg=rate.key)
        for report in reports:
            self.assertGreater(report["ram"]["resident"], 0)
            self.assertLessEqual(report["ram"]["resident"], 512 * MIB)
        self.assertAlmostEqual(after["ram"]["resident"], pagemap,
                               delta=0.02 * pagemap)
        self.assertGreater(png.stat().st_size, 10000)
        self.assertTrue(png.read_bytes().startswith(b"\x89PNG"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
