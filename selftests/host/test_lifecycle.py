#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The driver's lifecycle under load: hotplug, module reload, suspend, restore.

Each test boots a guest with the driver and the programs of
selftests/numahint, runs numahint_churn on every vCPU (mapping, writing,
checking and unmapping memory all the time, so that the mm_page_alloc
probe fires and page reporting works throughout), and puts the driver
through one part of its life, checking it from inside the guest
(selftests/numahint/lifecycle.sh, module_reload.sh) and from QEMU:

  - hotplug: device_del and device_add of the device behind a
    pcie-root-port, repeated; every unplug must unbind the driver and
    remove its files (QEMU's DEVICE_DELETED event comes), every plug
    must bind a new device with the same features, whose reports and
    first-touch events both sides count; no kernel memory leaks over
    the cycles.  Once with ACPI PCI hotplug (q35's default) and once
    with native PCIe hotplug (pciehp);
  - module reload: rmmod and insmod 100 times; after each rmmod the
    module is gone and allocations go on, after each insmod page
    reporting and the hook are registered again; the kernel's own memory
    after the loop stays within a bound of before;
  - suspend: the guest suspends to RAM (ACPI S3, the driver's freeze and
    restore callbacks) and QEMU wakes it (system_wakeup);
  - restore: QEMU saves the running VM to a file (migrate to file:), a
    new QEMU loads it (-incoming) and the guest runs on;
  - hibernate: the guest hibernates to a swap disk, and resumes from it
    in a new QEMU whose device takes fewer entries per request: the
    driver must read the new limits on restore;
  - device reset: the device fails on a request (the x-fail-next-request
    test hook: virtio_error, DEVICE_NEEDS_RESET) and processes nothing
    more; the driver must reset it and set it up again, with one kernel
    message, no task stuck waiting for it, and unload afterwards.

After each step the driver must work (both sides count new reports and
first-touch events), churn must find all its data, and the guest's log
must be free of oopses and warnings.  NUMAHINT_KERNELS (default "6.1
6.12") names the guest kernels to run on; tests of the others skip.
NUMAHINT_CONSOLE=1 shows the guests' consoles.
"""

import os
import re
import sys
import tempfile
import time
import unittest
from pathlib import Path

from numahint.vm.scenario import ScriptGuest

REPO = Path(__file__).resolve().parents[2]

KERNELS = os.environ.get("NUMAHINT_KERNELS", "6.1 6.12").split()
#: NUMAHINT_CONSOLE=1 shows the guests' consoles on stderr.
CONSOLE = sys.stderr if os.environ.get("NUMAHINT_CONSOLE") else None
LIFECYCLE = "/tests/lifecycle.sh"
#: Hot unplug and plug cycles with ACPI hotplug, and with pciehp, which
#: waits 5 s after QEMU presses the attention button before it powers a
#: slot off.
ACPI_CYCLES = 10
PCIEHP_CYCLES = 1
RELOADS = 100
#: Most the kernel's own memory may grow over the reloads, in KiB: slab
#: caches grew by 108..268 KiB in our runs, whatever the number of cycles.
#: A leak of the per-CPU first-touch buffers (4120 bytes per vCPU and
#: load) would add 824 KiB; of the first-touch request pool, 6.4 MiB.
RELOAD_LEAK_KIB = 768
#: The same for the hotplug cycles, which also free the PCI device.
HOTPLUG_LEAK_KIB = 1024
#: What the restored VM's device is told, for the guest to see that it
#: runs in the new QEMU (any valid value other than the default 100).
RESTORED_FLUSH_MS = 250
#: hung_task_timeout_secs in the device reset test: a task stuck waiting
#: for the failed device shows on the console within the test.
HUNG_TASK_S = 10
#: The swap disk a guest hibernates to, and the limits of the device it
#: resumes with: fewer than the driver's own request sizes (32 ranges,
#: 256 events) and than the 2 probe entries lifecycle.sh's probe uses.
HIBERNATE_SWAP_BYTES = 1 << 30
HIBERNATE_LIMITS = "max-report-ranges=4,max-touch-events=8"
#: The device with every feature, so that every queue goes through it.
DEVICE_PROPS = {"locality-probe": True}
DEVICE = ",".join(f"{key}={'on' if value else 'off'}"
                  for key, value in DEVICE_PROPS.items())
ROOT_PORT = ("-device", "pcie-root-port,id=rp0,chassis=1,slot=1")
DEVICE_ON_PORT = ("-device", f"virtio-numahint-pci,id=nh0,bus=rp0,{DEVICE}")
FEATURES = {"VIRTIO_NUMAHINT_F_FREE_REPORT", "VIRTIO_NUMAHINT_F_FIRST_TOUCH",
            "VIRTIO_NUMAHINT_F_LOCALITY_PROBE"}


def diagnostic(text):
    print(f"# {text}", flush=True)


def show_diagnostics(name, console):
    """The guest tests' own "# " lines."""
    for line in console.splitlines():
        if line.startswith("# ") and not line.startswith("# numahint-test:"):
            diagnostic(f"{name}: {line[2:]}")


class LifecycleTest(unittest.TestCase):
    """Shared checks: the guest's TAP, its log, the device's counters."""

    def want_kernel(self, kernel):
        if kernel not in KERNELS:
            self.skipTest(f"kernel {kernel} not in NUMAHINT_KERNELS")

    def check_guest(self, name, run, result=None):
        """The guest reported, every guest test passed, and nothing went
        wrong (kernel errors on the console included); its diagnostics
        are shown."""
        result = result or run.guest.result
        console = result.console
        show_diagnostics(name, console)
        self.assertIsNotNone(result.tap, "the guest never reported:\n"
                             + console[-4000:])
        self.assertEqual(result.tap.failed, 0, console[-4000:])
        self.assertGreater(result.tap.passed, 0, console[-4000:])
        self.assertEqual(result.kernel_errors, [], console[-4000:])
        self.assertEqual([str(p) for p in result.problems], [])

    @staticmethod
    def device_problems(name, run, before=None):
        """What is wrong with the device: not every feature negotiated,
        not running, or no new reports and first-touch events counted
        (beyond `before`, its counters earlier), or a protocol error.
        Returns its counters and the list of problems."""
        stats = run.stats()
        status = run.qmp("x-query-virtio-status",
                         path="/machine/peripheral/nh0/virtio-backend")
        status = status["return"]
        features = {f.split(":")[0] for f in
                    status["guest-features"].get("dev-features", [])}
        statuses = {s.split(":")[0] for s in status["status"]["statuses"]}
        before = before or {}
        problems = []
        if not FEATURES <= features:
            problems.append(f"{name}: negotiated {sorted(features)}")
        if "VIRTIO_CONFIG_S_DRIVER_OK" not in statuses:
            problems.append(f"{name}: status {sorted(statuses)}")
        for counter in ("report-requests", "touch-requests",
                        "touch-pages-accepted"):
            if stats[counter] <= before.get(counter, 0):
                problems.append(f"{name}: {counter} {stats[counter]}, "
                                f"{before.get(counter, 0)} before")
        if stats["protocol-errors"]:
            problems.append(f"{name}: {stats['protocol-errors']} protocol "
                            "errors")
        return stats, problems

    def check_device(self, name, run, before=None):
        """device_problems(), as a test assertion; returns the counters."""
        stats, problems = self.device_problems(name, run, before)
        self.assertEqual(problems, [], stats)
        return stats


class HotplugTest(LifecycleTest):
    """device_del and device_add, repeated, while the guest allocates."""

    def hotplug(self, name, kernel, cycles, extra_args=()):
        self.want_kernel(kernel)
        script = (f"NUMAHINT_LEAK_KIB={HOTPLUG_LEAK_KIB} exec {LIFECYCLE} "
                  f"hotplug {cycles}\n")
        unplug_s, host, problems = [], [], []
        start = time.monotonic()
        with ScriptGuest(script, kernel=kernel, console=CONSOLE,
                         plug_device=False,
                         extra_args=ROOT_PORT + DEVICE_ON_PORT
                         + tuple(extra_args),
                         append=f"numahint.test_timeout={cycles * 60 + 120}",
                         timeout=cycles * 60 + 300) as run:
            for cycle in range(1, cycles + 1):
                line = run.guest.wait_for_line(
                    rf"numahint-lifecycle: unplug {cycle}\b")
                self.assertIsNotNone(line, f"cycle {cycle}: the guest never "
                                     "asked for the unplug")
                stats, found = self.device_problems(f"cycle {cycle}", run)
                host.append(stats)
                problems += found
                asked = time.monotonic()
                reply = run.qmp("device_del", id="nh0")
                self.assertNotIn("error", reply)
                event = run.wait_event("DEVICE_DELETED", 60, device="nh0")
                self.assertIsNotNone(event, f"cycle {cycle}: no "
                                     "DEVICE_DELETED in 60 s")
                unplug_s.append(time.monotonic() - asked)
                line = run.guest.wait_for_line(
                    rf"numahint-lifecycle: plug {cycle}\b")
                self.assertIsNotNone(line, f"cycle {cycle}: the guest never "
                                     "asked for the plug")
                reply = run.qmp("device_add", driver="virtio-numahint-pci",
                                id="nh0", bus="rp0", **DEVICE_PROPS)
                self.assertNotIn("error", reply)
            run.guest.wait_for_report()
            last, found = self.device_problems("after the last plug", run)
            problems += found
        self.check_guest(name, run)
        self.assertEqual(problems, [])
        diagnostic(f"{name}: {cycles} cycles in "
                   f"{time.monotonic() - start:.0f} s; device_del to "
                   f"DEVICE_DELETED {min(unplug_s):.2f}..{max(unplug_s):.2f} "
                   f"s; each device before its unplug: report-requests "
                   f"{min(s['report-requests'] for s in host)}.."
                   f"{max(s['report-requests'] for s in host)}, "
                   f"touch-requests {min(s['touch-requests'] for s in host)}"
                   f"..{max(s['touch-requests'] for s in host)}; the last: "
                   f"report-requests {last['report-requests']}, "
                   f"touch-requests {last['touch-requests']}")

    def test_acpi_hotplug_6_1(self):
        self.hotplug("ACPI hotplug 6.1", "6.1", ACPI_CYCLES)

    def test_acpi_hotplug_6_12(self):
        self.hotplug("ACPI hotplug 6.12", "6.12", ACPI_CYCLES // 2)

    def test_pciehp_6_1(self):
        self.hotplug("pciehp 6.1", "6.1", PCIEHP_CYCLES, (
            "-global", "ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off"))


class ModuleReloadTest(LifecycleTest):
    """rmmod and insmod 100 times while the guest allocates."""

    def reload(self, kernel):
        self.want_kernel(kernel)
        script = (f"exec /tests/module_reload.sh -n {RELOADS} -w "
                  f"-b {RELOAD_LEAK_KIB}\n")
        with ScriptGuest(script, kernel=kernel, console=CONSOLE, device=DEVICE,
                         append="numahint.test_timeout=900",
                         timeout=1000) as run:
            run.guest.wait_for_report()
            stats = self.check_device("after the reloads", run)
        self.check_guest(f"reload {kernel}", run)
        console = run.console
        self.assertIn(f"ok 1 - rmmod virtio_numahint succeeds with the "
                      f"devices bound, {RELOADS} time(s)", console)
        self.assertRegex(console, r"ok \d+ - kernel memory after "
                         rf"{RELOADS} cycles within {RELOAD_LEAK_KIB} KiB")
        loads = len(re.findall(r"virtio_numahint virtio\d+: free page "
                               r"reporting of order \d+ enabled", console))
        diagnostic(f"reload {kernel}: the kernel log says {loads} times that "
                   f"free page reporting was enabled; host: "
                   f"report-requests {stats['report-requests']}, "
                   f"touch-requests {stats['touch-requests']}")
        # The first load at boot, the warm-up cycle, then every reload.
        self.assertEqual(loads, RELOADS + 2)

    def test_reload_6_1(self):
        self.reload("6.1")

    def test_reload_6_12(self):
        self.reload("6.12")


class SuspendTest(LifecycleTest):
    """The guest suspends to RAM and wakes up; the VM is saved and restored."""

    def suspend(self, kernel):
        self.want_kernel(kernel)
        # S3 resume of a PVH-booted guest faults in the kernel's real-mode
        # trampoline and resets the machine: boot through the
        # decompressor, as firmware would.
        with ScriptGuest(f"exec {LIFECYCLE} suspend mem\n", kernel=kernel,
                         console=CONSOLE,
                         device=DEVICE, pvh=False, timeout=400,
                         extra_args=("-global", "ICH9-LPC.disable_s3=0"),
                         ) as run:
            event = run.wait_event("SUSPEND", 300)
            self.assertIsNotNone(event, "the guest never suspended")
            before = run.stats()
            state = run.qmp("query-status")["return"]["status"]
            self.assertEqual(state, "suspended")
            time.sleep(1)
            self.assertNotIn("error", run.qmp("system_wakeup"))
            self.assertIsNotNone(run.wait_event("WAKEUP", 60),
                                 "no WAKEUP event")
            run.guest.wait_for_report()
            after = self.check_device("after resume", run, before)
        self.check_guest(f"S3 {kernel}", run)
        diagnostic(f"S3 {kernel}: QEMU state '{state}' after SUSPEND; host "
                   f"report-requests {before['report-requests']} -> "
                   f"{after['report-requests']}, touch-requests "
                   f"{before['touch-requests']} -> {after['touch-requests']}")

    def test_s3_6_1(self):
        self.suspend("6.1")

    def test_s3_6_12(self):
        self.suspend("6.12")

    def restore(self, kernel):
        self.want_kernel(kernel)
        script = f"exec {LIFECYCLE} restore {RESTORED_FLUSH_MS}\n"
        with tempfile.TemporaryDirectory(prefix="numahint-save-") as tmp, \
                ScriptGuest(script, kernel=kernel, console=CONSOLE,
                            device=DEVICE, memory="512M",
                            timeout=400) as run:
            line = run.guest.wait_for_line(r"numahint-lifecycle: save\b")
            self.assertIsNotNone(line, "the guest never got ready")
            before = self.check_device("before the save", run)
            path = Path(tmp) / "vm.state"
            start = time.monotonic()
            self.assertNotIn("error", run.qmp("migrate", uri=f"file:{path}"))
            while True:
                status = run.qmp("query-migrate")["return"]
                if status.get("status") in ("completed", "failed",
                                            "cancelled"):
                    break
                self.assertLess(time.monotonic() - start, 120,
                                f"the save did not end: {status}")
                time.sleep(0.2)
            self.assertEqual(status["status"], "completed", status)
            saved_s = time.monotonic() - start
            size = path.stat().st_size
            saved = run.restore(f"file:{path}")
            start = time.monotonic()
            while run.qmp("query-status")["return"]["status"] != "running":
                self.assertLess(time.monotonic() - start, 120,
                                "the restored VM does not run")
                time.sleep(0.2)
            loaded_s = time.monotonic() - start
            self.assertNotIn("error", run.qmp(
                "qom-set", path="nh0", property="touch-flush-ms",
                value=RESTORED_FLUSH_MS))
            run.guest.wait_for_report()
            after = self.check_device("after the restore", run, before)
        show_diagnostics(f"restore {kernel} (saved)", saved.result.console)
        self.assertEqual(saved.result.kernel_errors, [])
        self.check_guest(f"restore {kernel}", run)
        diagnostic(f"restore {kernel}: saved {size >> 20} MiB in "
                   f"{saved_s:.1f} s (downtime {status.get('downtime')} ms), "
                   f"the new QEMU ran after {loaded_s:.1f} s; host "
                   f"report-requests {before['report-requests']} -> "
                   f"{after['report-requests']}, touch-requests "
                   f"{before['touch-requests']} -> {after['touch-requests']}")

    def test_restore_6_1(self):
        self.restore("6.1")

    def hibernate(self, kernel):
        """S4 to a swap disk, resumed in a new QEMU whose device takes
        fewer entries per request (issue 14, item 9): the driver's
        restore must read the new limits, or its first report or probe
        breaks the device."""
        self.want_kernel(kernel)
        with tempfile.TemporaryDirectory(prefix="numahint-s4-") as tmp:
            swap = Path(tmp) / "swap.img"
            with open(swap, "wb") as disk:
                disk.truncate(HIBERNATE_SWAP_BYTES)
            with ScriptGuest(f"exec {LIFECYCLE} hibernate vda\n",
                             kernel=kernel, console=CONSOLE, device=DEVICE,
                             memory="512M", timeout=600,
                             kernel_modules=("virtio_blk",),
                             extra_args=("-drive", f"file={swap},if=virtio,"
                                         "format=raw,cache=unsafe")) as run:
                line = run.guest.wait_for_line(
                    r"numahint-lifecycle: hibernate\b")
                self.assertIsNotNone(line, "the guest never got ready")
                before = self.check_device("before hibernation", run)
                start = time.monotonic()
                run.guest.wait_for_report()
                hibernated_s = time.monotonic() - start
                first = run.restart(f"{DEVICE},{HIBERNATE_LIMITS}")
                run.guest.wait_for_report()
                after = self.check_device("after resume", run)
        show_diagnostics(f"hibernate {kernel} (first boot)",
                         first.result.console)
        self.assertEqual(first.result.kernel_errors, [])
        self.check_guest(f"hibernate {kernel}", run)
        diagnostic(f"hibernate {kernel}: the first QEMU exited "
                   f"{hibernated_s:.1f} s after the guest asked; resumed "
                   f"with {HIBERNATE_LIMITS}; host report-requests "
                   f"{before['report-requests']} before, "
                   f"{after['report-requests']} in the new QEMU, "
                   f"protocol-errors {after['protocol-errors']}")

    def test_hibernate_6_1(self):
        self.hibernate("6.1")

    def test_hibernate_6_12(self):
        self.hibernate("6.12")


class DeviceResetTest(LifecycleTest):
    """The device fails under load and needs a reset (issue 14, item 8)."""

    def device_reset(self, kernel):
        self.want_kernel(kernel)
        with ScriptGuest(f"exec {LIFECYCLE} reset {HUNG_TASK_S}\n",
                         kernel=kernel, console=CONSOLE, device=DEVICE,
                         append="numahint.test_timeout=600",
                         timeout=700) as run:
            line = run.guest.wait_for_line(r"numahint-lifecycle: fail\b")
            self.assertIsNotNone(line, "the guest never got ready")
            before = self.check_device("before the failure", run)
            self.assertNotIn("error", run.qmp(
                "qom-set", path="/machine/peripheral/nh0/virtio-backend",
                property="x-fail-next-request", value=True))
            start = time.monotonic()
            while run.stats()["protocol-errors"] == 0:
                self.assertLess(time.monotonic() - start, 60,
                                "the device never failed")
                time.sleep(0.2)
            failed_s = time.monotonic() - start
            failed = run.stats()
            run.guest.wait_for_report()
            after = run.stats()
        self.check_guest(f"device reset {kernel}", run)
        console = run.console
        reset = re.findall(r"virtio_numahint virtio\d+: device failed "
                           r"\(DEVICE_NEEDS_RESET\) and was reset", console)
        diagnostic(f"device reset {kernel}: the device failed "
                   f"{failed_s:.1f} s after qom-set; host report-requests "
                   f"{before['report-requests']} -> "
                   f"{failed['report-requests']} at the failure -> "
                   f"{after['report-requests']}, touch-requests "
                   f"{before['touch-requests']} -> "
                   f"{failed['touch-requests']} -> "
                   f"{after['touch-requests']}; {len(reset)} reset "
                   "message(s)")
        self.assertEqual(len(reset), 1, console[-4000:])
        # The one failure the hook made, and the driver's requests after
        # it processed: reports and first-touch events flowed again.
        self.assertEqual(after["protocol-errors"], 1, after)
        for counter in ("report-requests", "touch-requests"):
            self.assertGreater(after[counter], failed[counter], after)

    def test_device_reset_6_1(self):
        self.device_reset("6.1")

    def test_device_reset_6_12(self):
        self.device_reset("6.12")


if __name__ == "__main__":
    unittest.main()
