#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The name people type: `-device virtio-numahint`.

QEMU maps the short names of virtio devices (virtio-balloon, virtio-net)
to the transport of the machine through qdev_alias_table in
system/qdev-monitor.c; hooks.patch adds virtio-numahint to it.  On x86 the
transport is PCI, so the short name must make a virtio-numahint-pci, with
every property of the long name.  No guest is needed; the numahint-stat
test (test_numahint_stat.py) boots one with the short name.
"""

import os
import subprocess
import tempfile
import unittest

from qemu.machine import QEMUMachine

from numahint.vm.paths import default_qemu

QEMU = os.environ.get("NUMAHINT_QEMU", str(default_qemu()))
TIMEOUT = 30


def qmp_session(machine, device, *commands):
    """Start a paused QEMU on `machine` with `-device device` (QEMU's
    QEMUMachine), run the QMP `commands` (name, arguments), quit; return
    (its exit code, the replies to the commands in order, its output)."""
    with tempfile.TemporaryDirectory(prefix="numahint-alias-") as tmp:
        vm = QEMUMachine(QEMU, args=["-M", machine, "-nodefaults", "-accel",
                                     "qtest", "-S", "-device", device],
                         base_temp_dir=tmp, qmp_timer=TIMEOUT)
        vm.launch()
        try:
            replies = [vm.qmp(name, args_dict=args) for name, args in commands]
        finally:
            vm.shutdown(timeout=TIMEOUT)
        return vm.exitcode(), replies, vm.get_log()


class AliasTest(unittest.TestCase):
    def test_device_help_lists_the_alias(self):
        out = subprocess.run([QEMU, "-device", "help"], capture_output=True,
                             text=True, timeout=TIMEOUT, check=True).stdout
        self.assertIn('name "virtio-numahint-pci", bus PCI, '
                      'alias "virtio-numahint"', out)

    def test_short_name_makes_the_pci_device_on_q35(self):
        rc, replies, err = qmp_session(
            "q35", "virtio-numahint,id=nh0",
            ("qom-get", {"path": "/machine/peripheral/nh0",
                         "property": "type"}),
            ("qom-get", {"path": "/machine/peripheral/nh0/virtio-backend",
                         "property": "type"}),
            ("qom-get", {"path": "nh0", "property": "stats"}))
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(replies), 3, replies)
        self.assertEqual(replies[0], {"return": "virtio-numahint-pci"})
        self.assertEqual(replies[1], {"return": "virtio-numahint-device"})
        self.assertIn("report-requests", replies[2].get("return", {}),
                      replies[2])

    def test_short_name_takes_the_device_properties(self):
        rc, replies, err = qmp_session(
            "pc", "virtio-numahint,id=nh0,first-touch=off,touch-flush-ms=7",
            ("qom-get", {"path": "nh0", "property": "first-touch"}),
            ("qom-get", {"path": "nh0", "property": "touch-flush-ms"}))
        self.assertEqual(rc, 0, err)
        self.assertEqual(replies, [{"return": False}, {"return": 7}])

    def test_short_name_help_lists_the_properties(self):
        out = subprocess.run([QEMU, "-device", "virtio-numahint,help"],
                             capture_output=True, text=True, timeout=TIMEOUT,
                             check=True).stdout
        self.assertIn("virtio-numahint-pci options:", out)
        for prop in ("free-page-reporting", "first-touch", "vcpu-nodes"):
            self.assertRegex(out, rf"(?m)^  {prop}=", prop)


if __name__ == "__main__":
    unittest.main(verbosity=2)
