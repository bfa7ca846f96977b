#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Host-side tests of the virtio-numahint-pci device model.

These start the patched QEMU without a guest (-S, paused) and check what a
user sees: the device's properties, its refusal of bad values at realize
and at run time, and its counters and features over QMP.  No test needs a
guest kernel; the guest-visible behaviour is tested in selftests/numahint.
"""

import os
import re
import struct
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

from qemu.machine import QEMUMachine
from qemu.machine.machine import VMLaunchFailure
from qemu.qmp import QMPError

from numahint.vm.paths import default_qemu

from numahint_stats import DEVICE, NAMES, PLACEMENT, STATS

REPO = Path(__file__).resolve().parents[2]
QEMU = os.environ.get("NUMAHINT_QEMU", str(default_qemu()))
#: The protocol's bounds, VIRTIO_NUMAHINT_*_MAX and _MIN, by name.
LIMITS = {name: int(value) for name, value in re.findall(
    r"(?m)^#define VIRTIO_NUMAHINT_(\w+_M(?:AX|IN))\s+(\d+)$",
    (REPO / "protocol" / "virtio_numahint.h").read_text())}
RANGES_MAX = LIMITS["MAX_REPORT_RANGES_MAX"]
EVENTS_MAX = LIMITS["MAX_TOUCH_EVENTS_MAX"]
PROBE_MAX = LIMITS["MAX_PROBE_ENTRIES_MAX"]
ORDER_MAX = LIMITS["REPORT_ORDER_MAX"]
FLUSH_MIN = LIMITS["TOUCH_FLUSH_MS_MIN"]
FLUSH_MAX = LIMITS["TOUCH_FLUSH_MS_MAX"]
FLUSH_RANGE = f"must be between {FLUSH_MIN} and {FLUSH_MAX}"
BASE_ARGS = ["-M", "pc", "-nodefaults", "-display", "none", "-accel", "tcg",
             "-m", "256M"]
TIMEOUT = 30



def run_qemu(*args):
    """Start QEMU paused and quit it over QMP (QEMUMachine); return its exit
    code and output (a refused device: QEMU's, as it failed to start)."""
    with tempfile.TemporaryDirectory(prefix="numahint-host-") as tmp:
        machine = QEMUMachine(QEMU, args=[*BASE_ARGS, "-S", *args],
                              base_temp_dir=tmp, qmp_timer=TIMEOUT)
        try:
            machine.launch()
        except VMLaunchFailure as failure:
            return failure.exitcode, failure.output or ""
        machine.shutdown(timeout=TIMEOUT)
        return machine.exitcode(), machine.get_log() or ""


class PausedQEMU:
    """A paused QEMU with one virtio-numahint-pci (id nh0), launched,
    spoken to over QMP and shut down by QEMU's own QEMUMachine
    (python/qemu/machine in QEMU's source)."""

    def __init__(self, device_opts="", extra_args=()):
        self._dir = tempfile.TemporaryDirectory(prefix="numahint-host-")
        device = "virtio-numahint-pci,id=nh0" + (
            "," + device_opts if device_opts else "")
        self.machine = QEMUMachine(
            QEMU, args=[*BASE_ARGS, "-S", "-device", device, *extra_args],
            base_temp_dir=self._dir.name, qmp_timer=TIMEOUT)
        try:
            self.machine.launch()
        except BaseException:
            self._dir.cleanup()
            raise

    def cmd(self, name, **arguments):
        """QEMU's reply to one command: {"return": ...} or {"error": ...}."""
        return self.machine.qmp(name, **arguments)

    def exited(self, timeout):
        """Whether QEMU ends by itself within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while self.machine.is_running():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def close(self):
        """Stop QEMU (quit over QMP, unless it ended), collect its output."""
        try:
            if self.machine.is_running():
                self.machine.shutdown(timeout=TIMEOUT)
            else:
                self.machine.wait(TIMEOUT)  # only cleans up
        finally:
            self._dir.cleanup()

    @property
    def output(self):
        """QEMU's stdout and stderr, once it has been closed."""
        return self.machine.get_log() or ""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class DeviceHelpTest(unittest.TestCase):
    def test_help_lists_every_device_property(self):
        out = subprocess.run([QEMU, "-device", "virtio-numahint-pci,help"],
                             capture_output=True, text=True, timeout=TIMEOUT,
                             check=True).stdout
        for prop in ("free-page-reporting", "first-touch", "locality-probe",
                     "vcpu-nodes", "touch-pages-per-sec",
                     "touch-queue-extents", "report-order",
                     "max-report-ranges", "max-touch-events",
                     "max-probe-entries", "touch-flush-ms", "queue-size",
                     "stats"):
            self.assertRegex(out, rf"(?m)^  {prop}=", prop)


class RealizeValidationTest(unittest.TestCase):
    """Bad property values fail realize with an error naming the property."""

    def assert_refused(self, opts, message):
        rc, err = run_qemu("-device", "virtio-numahint-pci," + opts)
        self.assertNotEqual(rc, 0, f"QEMU accepted {opts}")
        self.assertIn(message, err)

    def test_zero_report_ranges(self):
        self.assert_refused("max-report-ranges=0",
                            "'max-report-ranges' must be between 1 and "
                            f"{RANGES_MAX}")

    def test_too_many_touch_events(self):
        self.assert_refused(f"max-touch-events={EVENTS_MAX + 1}",
                            "'max-touch-events' must be between 1 and "
                            f"{EVENTS_MAX}")

    def test_zero_probe_entries(self):
        self.assert_refused("max-probe-entries=0",
                            "'max-probe-entries' must be between 1 and "
                            f"{PROBE_MAX}")

    def test_report_order_too_large(self):
        self.assert_refused(f"report-order={ORDER_MAX + 1}",
                            f"'report-order' must be between 0 and {ORDER_MAX}")

    def test_flush_interval_out_of_range(self):
        self.assert_refused(f"touch-flush-ms={FLUSH_MAX + 1}",
                            f"'touch-flush-ms' {FLUSH_RANGE}")

    def test_queue_size_not_power_of_two(self):
        self.assert_refused("queue-size=100",
                            "'queue-size' must be a power of 2")

    def test_vcpu_nodes_not_a_node(self):
        self.assert_refused("vcpu-nodes=x",
                            "'vcpu-nodes': 'x' is neither a host node number")

    def test_vcpu_nodes_node_too_large(self):
        self.assert_refused("vcpu-nodes=128",
                            "'vcpu-nodes': '128' is neither a host node")

    def test_vcpu_nodes_more_than_vcpus(self):
        self.assert_refused("vcpu-nodes=0:1",
                            "'vcpu-nodes' names 2 vCPUs, the machine has at "
                            "most 1")

    def test_zero_touch_budget(self):
        self.assert_refused("first-touch=on,touch-pages-per-sec=0",
                            "'touch-pages-per-sec' must be at least 1")

    def test_touch_queue_too_large(self):
        self.assert_refused("touch-queue-extents=2000000",
                            "'touch-queue-extents' must be between 1 and")

    def test_first_touch_with_vcpu_nodes_realizes(self):
        rc, err = run_qemu("-smp", "2", "-device",
                           "virtio-numahint-pci,first-touch=on,vcpu-nodes=0:-")
        self.assertEqual(rc, 0, err)

    def test_defaults_realize(self):
        rc, err = run_qemu("-device", "virtio-numahint-pci")
        self.assertEqual(rc, 0, err)

    def test_iommu_platform_refused(self):
        self.assert_refused("iommu_platform=on",
                            "iommu_platform=on is not supported: requests "
                            "carry guest-physical addresses")

    def test_hotplug_with_bad_value_keeps_qemu_running(self):
        with PausedQEMU() as vm:
            reply = vm.cmd("device_add", driver="virtio-numahint-pci",
                           id="bad", **{"max-probe-entries": 0})
            self.assertIn("error", reply)
            self.assertIn("'max-probe-entries'", reply["error"]["desc"])
            self.assertIn("return", vm.cmd("query-status"))


class QMPTest(unittest.TestCase):
    def test_stats_are_readable_and_start_at_zero(self):
        with PausedQEMU() as vm:
            stats = vm.cmd("qom-get", path="nh0", property="stats")["return"]
            self.assertEqual(set(stats), STATS)
            self.assertTrue(all(v == 0 for v in stats.values()), stats)

    def test_flush_interval_can_change_at_run_time(self):
        with PausedQEMU("touch-flush-ms=250") as vm:
            get = {"path": "nh0", "property": "touch-flush-ms"}
            self.assertEqual(vm.cmd("qom-get", **get)["return"], 250)
            self.assertIn("return", vm.cmd("qom-set", value=1000, **get))
            self.assertEqual(vm.cmd("qom-get", **get)["return"], 1000)
            reply = vm.cmd("qom-set", value=0, **get)
            self.assertIn(FLUSH_RANGE,
                          reply["error"]["desc"])
            self.assertEqual(vm.cmd("qom-get", **get)["return"], 1000)

    def test_touch_budget_can_change_at_run_time(self):
        with PausedQEMU("first-touch=on,touch-pages-per-sec=4096") as vm:
            get = {"path": "nh0", "property": "touch-pages-per-sec"}
            self.assertEqual(vm.cmd("qom-get", **get)["return"], 4096)
            self.assertIn("return", vm.cmd("qom-set", value=1 << 30, **get))
            self.assertEqual(vm.cmd("qom-get", **get)["return"], 1 << 30)
            for bad in (0, (1 << 30) + 1):
                reply = vm.cmd("qom-set", value=bad, **get)
                self.assertIn("'touch-pages-per-sec' must be at least 1 and "
                              "at most 1073741824", reply["error"]["desc"])
            self.assertEqual(vm.cmd("qom-get", **get)["return"], 1 << 30)

    def test_features_follow_properties(self):
        with PausedQEMU("locality-probe=on,free-page-reporting=off,"
                        "first-touch=on") as vm:
            path = "/machine/peripheral/nh0/virtio-backend"
            status = vm.cmd("x-query-virtio-status", path=path)["return"]
            self.assertEqual(status["name"], "virtio-numahint")
            self.assertEqual(status["device-id"], 60)
            features = status["host-features"]["dev-features"]
            self.assertTrue(any(f.startswith("VIRTIO_NUMAHINT_F_LOCALITY_PROBE")
                                for f in features), features)
            self.assertTrue(any(f.startswith("VIRTIO_NUMAHINT_F_FIRST_TOUCH")
                                for f in features), features)
            self.assertFalse(any(f.startswith("VIRTIO_NUMAHINT_F_FREE_REPORT")
                                 for f in features), features)
            self.assertIn("VIRTIO_F_VERSION_1",
                          " ".join(status["host-features"]["transports"]))

    def test_device_is_modern_only(self):
        with PausedQEMU() as vm:
            devices = vm.cmd("query-pci")["return"][0]["devices"]
            ids = [(d["id"]["vendor"], d["id"]["device"]) for d in devices]
            self.assertIn((0x1af4, 0x1040 + 60), ids)


def documented_counters():
    """The counters the docs' "| Key | Counts |" tables describe."""
    names = set()
    for doc in ("install.md", "first-touch.md"):
        in_table = False
        for line in (REPO / "docs" / doc).read_text().splitlines():
            if re.match(r"\|\s*Key\s*\|\s*Counts\s*\|", line):
                in_table = True
            elif not line.startswith("|"):
                in_table = False
            elif in_table and not line.startswith("| ---"):
                names.update(re.findall(r"`([a-z0-9-]+)`",
                                        line.split("|")[1]))
    return names


def save_vm(vm, path):
    """Migrate a PausedQEMU to the file `path`."""
    reply = vm.cmd("migrate", uri=f"file:{path}")
    if "return" not in reply:
        raise RuntimeError(f"migrate failed: {reply}")
    deadline = time.monotonic() + TIMEOUT
    while vm.cmd("query-migrate")["return"].get("status") != "completed":
        if time.monotonic() > deadline:
            raise RuntimeError("migration to a file did not complete")
        time.sleep(0.05)


def free_report_offered(vm):
    path = "/machine/peripheral/nh0/virtio-backend"
    status = vm.cmd("x-query-virtio-status", path=path)["return"]
    return any(f.startswith("VIRTIO_NUMAHINT_F_FREE_REPORT")
               for f in status["host-features"]["dev-features"])


class HostSafetyTest(unittest.TestCase):
    """What the device refuses or turns off so as not to hurt the host."""

    def test_mem_lock_turns_free_page_reporting_off_with_one_warning(self):
        with PausedQEMU(extra_args=("-overcommit", "mem-lock=on")) as vm:
            offered = free_report_offered(vm)
        err = vm.output
        lines = [line for line in err.splitlines() if "numahint" in line]
        print(f"# mem-lock=on: QEMU said {lines}", flush=True)
        self.assertFalse(offered, "free page reporting offered with "
                         "locked memory")
        self.assertEqual(len(lines), 1, err)
        self.assertIn("free page reporting is off", lines[0])

    def test_migrated_flush_interval_is_checked(self):
        """A stream with touch-flush-ms out of range, as only a source with
        x-unchecked-config can make, is refused by a destination."""
        with tempfile.TemporaryDirectory(prefix="numahint-host-") as tmp:
            path = os.path.join(tmp, "vm.bin")
            with PausedQEMU("x-unchecked-config=on,touch-flush-ms=0") as src:
                save_vm(src, path)
            with PausedQEMU(extra_args=("-incoming", "defer")) as dst:
                try:
                    dst.cmd("migrate-incoming", uri=f"file:{path}")
                except (QMPError, OSError, EOFError):
                    pass        # QEMU may be gone before it answers.
                # A failed incoming migration ends QEMU (exit-on-error).
                if not dst.exited(TIMEOUT):
                    flush = dst.cmd("qom-get", path="nh0",
                                    property="touch-flush-ms")["return"]
                    self.fail(f"the destination loaded the stream and runs "
                              f"with touch-flush-ms={flush}")
        self.assertNotEqual(dst.machine.exitcode(), 0)
        self.assertIn(f"'touch-flush-ms' {FLUSH_RANGE}, not 0", dst.output)


class StatsListTest(unittest.TestCase):
    """The counters are written down once, as X-macro lists in the
    device's headers; QMP, the migration stream and the docs follow them."""

    def test_stats_are_the_header_lists(self):
        self.assertEqual(len(NAMES), len(STATS), "a name is listed twice")
        with PausedQEMU() as vm:
            stats = vm.cmd("qom-get", path="nh0", property="stats")["return"]
        self.assertEqual(len(stats), len(NAMES))
        self.assertEqual(set(stats), STATS)

    def test_docs_describe_every_counter(self):
        documented = documented_counters()
        self.assertEqual(
            documented, STATS,
            f"only in docs: {sorted(documented - STATS)}; not in docs: "
            f"{sorted(STATS - documented)}")

    def test_migration_stream_carries_every_counter(self):
        """Saves a paused VM and finds the counters in the stream: the
        device's, all zero, between touch-flush-ms and the engine's
        subsection; the engine's, all zero, filling that subsection up to
        the virtio core's first one.  A counter not migrated, or one
        migrated but not in "stats", changes either length."""
        with tempfile.TemporaryDirectory(prefix="numahint-host-") as tmp, \
                PausedQEMU("touch-flush-ms=777") as vm:
            path = os.path.join(tmp, "vm.bin")
            self.assertIn("return", vm.cmd("migrate", uri=f"file:{path}"))
            deadline = time.monotonic() + TIMEOUT
            while vm.cmd("query-migrate")["return"].get("status") != \
                    "completed":
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.05)
            stream = Path(path).read_bytes()
        name = b"virtio-numahint-device/placement"
        sub = stream.index(bytes([5, len(name)]) + name)
        device = sub - 8 * len(DEVICE)
        self.assertEqual(stream[device - 4:device], struct.pack(">I", 777),
                         "touch-flush-ms is not right before the device's "
                         f"{len(DEVICE)} counters")
        self.assertEqual(stream[device:sub], bytes(8 * len(DEVICE)))
        body = sub + 2 + len(name) + 4
        end = stream.index(b"\x05", body)
        self.assertEqual(stream[end + 2:end + 9], b"virtio/")
        self.assertEqual(end - body, 8 * len(PLACEMENT),
                         "the engine's subsection does not hold exactly its "
                         f"{len(PLACEMENT)} counters")


if __name__ == "__main__":
    unittest.main()
