#!/usr/bin/env python3
"""Self-test of the numahint VM runner, numahint.vm (unittest).

    tools/run-tests --suite runner
    PYTHONPATH=tools python3 tools/vm/test_runner.py [-v]

The first classes need no QEMU and take a second.  BootTest boots the
Debian 6.1 kernel under TCG five times (pass + QMP, fail, panic, per-test
time limit, hang until the run's timeout), about 40 s in all; it is
skipped when the kernel or QEMU is not in the cache.
"""

import gzip
import json
import os
import socket
import stat
import tempfile
import threading
import time
import unittest
from pathlib import Path

from numahint import vm
from numahint.vm.console import ConsoleState, parse_console_line
from numahint.vm.cpio import CpioArchive
from numahint.vm.qemu import numa_args, size_mib
from numahint.vm.qmp import QMPClient, QMPError

KERNEL = "6.1.0-50-amd64"
KERNEL_DIR = vm.kernel_dir_for(KERNEL)
HAVE_KERNEL = (KERNEL_DIR / "boot").is_dir()
HAVE_QEMU = os.access(vm.default_qemu(), os.X_OK)


def write_script(directory: Path, name: str, body: str) -> Path:
    """An executable /bin/sh script `name` in `directory`."""
    path = directory / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


class CpioTest(unittest.TestCase):
    def test_reproducible_newc_layout(self):
        archives = []
        for order in ((1, 2), (2, 1)):
            archive = CpioArchive()
            for index in order:
                archive.add_file(f"a/b{index}", b"x" * index, 0o755)
            archive.add_symlink("bin/sh", "/bin/busybox")
            archive.add_char_device("dev/console", 5, 1)
            archives.append(archive.to_bytes())
        self.assertEqual(archives[0], archives[1])
        data = archives[0]
        self.assertTrue(data.startswith(b"070701"))
        self.assertIn(b"a/b2\0", data)
        self.assertTrue(data.rstrip(b"\0").endswith(b"TRAILER!!!"))
        self.assertEqual(len(data) % 4, 0)

    def test_rejects_conflicting_entries(self):
        archive = CpioArchive()
        archive.add_file("tests/x", b"1")
        with self.assertRaises(ValueError):
            archive.add_file("tests/x", b"2")
        with self.assertRaises(ValueError):
            archive.add_file("../escape", b"")


class QemuCommandTest(unittest.TestCase):
    def test_sizes(self):
        self.assertEqual(size_mib("1G"), 1024)
        self.assertEqual(size_mib("512M"), 512)
        self.assertEqual(size_mib("2048"), 2048)
        with self.assertRaises(ValueError):
            size_mib("lots")

    def test_numa_split(self):
        smp, args = numa_args(2, 4, "2G")
        self.assertEqual(smp, "4,sockets=2")
        self.assertIn("memory-backend-ram,id=numa-ram1,size=1024M", args)
        self.assertIn("node,nodeid=1,cpus=2-3,memdev=numa-ram1", args)
        with self.assertRaises(ValueError):
            numa_args(2, 3, "1G")


class QMPClientTest(unittest.TestCase):
    """The QMP client (on QEMU's qemu.qmp) against a fake QEMU: no wait
    outlives its deadline, and a QEMU that goes away is an error."""

    GREETING = {"QMP": {"version": {"qemu": {"micro": 0, "minor": 0,
                                             "major": 10}, "package": ""},
                        "capabilities": []}}

    def setUp(self):
        self._dir = tempfile.TemporaryDirectory(prefix="numahint-qmp-")
        self.path = os.path.join(self._dir.name, "qmp.sock")
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(self.path)
        self.server.listen(1)

    def tearDown(self):
        self.server.close()
        self._dir.cleanup()

    def serve(self, replies_then_close):
        """Greet, answer each command with the next reply, then close.
        (A client need not end a command with a newline: QEMU parses a
        stream of JSON values, and so does this.)"""
        def run():
            conn, _ = self.server.accept()
            decoder, text = json.JSONDecoder(), ""
            with conn:
                conn.sendall(json.dumps(self.GREETING).encode() + b"\n")
                for reply in replies_then_close:
                    while True:
                        try:
                            command, end = decoder.raw_decode(text.lstrip())
                            text = text.lstrip()[end:]
                            break
                        except json.JSONDecodeError:
                            chunk = conn.recv(4096)
                            if not chunk:
                                return
                            text += chunk.decode()
                    if "event" in reply:    # an event, then the reply
                        conn.sendall(json.dumps(reply).encode() + b"\n")
                        reply = {"return": {}}
                    reply = dict(reply, **({"id": command["id"]}
                                           if "id" in command else {}))
                    conn.sendall(json.dumps(reply).encode() + b"\n")
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def test_silent_qemu_times_out(self):
        """A QEMU that accepts the connection and never greets: the client
        gives up at its deadline (in a thread, so that a client that
        waits on shows as a failure, not a hung test run)."""
        raised = []

        def connect():
            try:
                QMPClient(self.path, time.monotonic() + 1.0)
            except QMPError as error:
                raised.append(error)
        thread = threading.Thread(target=connect, daemon=True)
        thread.start()
        thread.join(5)
        self.assertFalse(thread.is_alive(), "still waiting for a greeting "
                         "4 s past the deadline")
        self.assertEqual(len(raised), 1)

    def test_replies_events_and_closed_connection(self):
        thread = self.serve([
            {"return": {}},                                   # capabilities
            {"return": {"status": "running", "running": True}},
            {"error": {"class": "GenericError", "desc": "no such thing"}},
            {"event": "STOP", "data": {"reason": "test"},
             "timestamp": {"seconds": 1, "microseconds": 0}},
        ])
        qmp = QMPClient(self.path, time.monotonic() + 20)
        try:
            self.assertEqual(qmp.execute({"execute": "query-status"}),
                             {"return": {"status": "running",
                                         "running": True}})
            reply = qmp.execute({"execute": "qom-get"})
            self.assertEqual(reply["error"]["desc"], "no such thing")
            self.assertEqual(qmp.execute({"execute": "stop"}), {"return": {}})
            self.assertEqual(qmp.wait_event("STOP", time.monotonic() + 5,
                                            data={"reason": "test"}), 0)
            self.assertEqual([e["event"] for e in qmp.events], ["STOP"])
            thread.join(5)
            start = time.monotonic()
            with self.assertRaises(QMPError):
                qmp.wait_event("SHUTDOWN", start + 10)
            self.assertLess(time.monotonic() - start, 5)
            with self.assertRaises(QMPError):
                qmp.execute({"execute": "query-status"})
        finally:
            qmp.close()


class ConsoleTest(unittest.TestCase):
    def parse(self, *lines: str) -> ConsoleState:
        state = ConsoleState()
        for line in lines:
            parse_console_line(state, line)
        return state

    def test_kernel_messages(self):
        state = self.parse(
            "[    3.1] WARNING: CPU: 0 PID: 1 at mm/x.c:1 f+0x1/0x2",
            "[    3.2] watchdog: BUG: soft lockup - CPU#0 stuck for 22s!",
            "[    3.3] Kernel panic - not syncing: sysrq triggered crash")
        self.assertEqual(state.panic, "Kernel panic - not syncing: sysrq triggered crash")
        self.assertEqual(len(state.kernel_errors), 2)

    def test_user_output_is_not_a_kernel_error(self):
        state = self.parse("WARNING: this is test output",
                           "# BUG: also test output")
        self.assertEqual(state.kernel_errors, [])
        self.assertIsNone(state.panic)

    def test_markers(self):
        state = self.parse("numahint: FAILED to load module: Invalid module format",
                           "not ok 3 - something",
                           "NUMAHINT-GUEST-DONE pass=2 fail=1 skip=4",
                           "NUMAHINT-GUEST-HOLD: waiting")
        self.assertEqual(state.module_status, "failed")
        self.assertEqual(state.module_error, "Invalid module format")
        self.assertEqual(state.test_failures, ["not ok 3 - something"])
        self.assertEqual(state.tap, vm.TapCounts(2, 1, 4))
        self.assertTrue(state.holding)


@unittest.skipUnless(HAVE_KERNEL, f"no kernel {KERNEL} in {KERNEL_DIR}")
class InitramfsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(self.enterContext(tempfile.TemporaryDirectory()))

    def members(self, path: Path) -> set[str]:
        """Names in a gzip'd newc archive (enough parsing for the test)."""
        data, names, offset = gzip.decompress(path.read_bytes()), set(), 0
        while True:
            header = data[offset:offset + 110]
            namesize, filesize = int(header[94:102], 16), int(header[54:62], 16)
            name = data[offset + 110:offset + 110 + namesize - 1].decode()
            if name == "TRAILER!!!":
                return names
            names.add(name)
            offset += (110 + namesize + 3) & ~3
            offset += (filesize + 3) & ~3

    def test_modules_tests_and_reproducibility(self):
        tests = self.tmp / "tests"
        tests.mkdir()
        write_script(tests, "b.sh", "echo 'ok 1'\n")
        write_script(tests, "a.sh", "echo 'ok 1'\n")
        (tests / "data.txt").write_text("support file\n")
        first = vm.build_initramfs(KERNEL_DIR, self.tmp / "1.gz", tests_dirs=(tests,))
        second = vm.build_initramfs(KERNEL_DIR, self.tmp / "2.gz", tests_dirs=(tests,))
        self.assertEqual((self.tmp / "1.gz").read_bytes(), (self.tmp / "2.gz").read_bytes())
        self.assertEqual(first.tests, ["a.sh", "b.sh"])
        self.assertEqual(first.kernel_modules[-2:], ["virtio_pci", "virtio_balloon"])
        self.assertLess(first.kernel_modules.index("virtio"),
                        first.kernel_modules.index("virtio_pci"))
        names = self.members(second.path)
        for name in ("init", "bin/busybox", "bin/sh", "sbin/insmod", "dev/console",
                     f"lib/modules/{KERNEL}/virtio_pci.ko",
                     f"lib/modules/{KERNEL}/load-order",
                     "tests/a.sh", "tests/data.txt", "tests/.numahint-tests"):
            self.assertIn(name, names)

    def test_kselftest_makefile(self):
        tests = self.tmp / "kselftest"
        tests.mkdir()
        (tests / "Makefile").write_text(
            "TEST_GEN_PROGS := gen.sh\nTEST_PROGS := run.sh\n"
            "TEST_FILES := helper.txt\n"
            "all: gen.sh\n"
            "gen.sh:\n\tprintf '#!/bin/sh\\necho ok 1\\n' > $@ && chmod +x $@\n")
        write_script(tests, "run.sh", "echo 'ok 1'\n")
        (tests / "helper.txt").write_text("x\n")
        info = vm.build_initramfs(KERNEL_DIR, self.tmp / "k.gz", tests_dirs=(tests,))
        self.assertEqual(info.tests, ["gen.sh", "run.sh"])
        self.assertIn("tests/helper.txt", self.members(info.path))

    def test_bash_script_warning(self):
        tests = self.tmp / "tests"
        tests.mkdir()
        (tests / "t.sh").write_text("#!/bin/bash\necho 'ok 1'\n")
        (tests / "t.sh").chmod(stat.S_IRWXU)
        info = vm.build_initramfs(KERNEL_DIR, self.tmp / "b.gz", tests_dirs=(tests,))
        self.assertEqual(len(info.warnings), 1)
        self.assertIn("/bin/bash", info.warnings[0])


@unittest.skipUnless(HAVE_KERNEL and HAVE_QEMU,
                     f"needs kernel {KERNEL} and {vm.default_qemu()}")
class BootTest(unittest.TestCase):
    """Real boots of the 6.1 guest under TCG."""

    def run_tests(self, body: str, timeout: float = 90, test_timeout: int | None = None,
                  **run_args) -> vm.RunResult:
        tmp = Path(self.enterContext(tempfile.TemporaryDirectory()))
        tests = tmp / "tests"
        tests.mkdir()
        write_script(tests, "test.sh", body)
        initrd = vm.build_initramfs(KERNEL_DIR, tmp / "initrd.gz",
                                    tests_dirs=(tests,)).path
        config = vm.GuestConfig(kernel_dir=KERNEL_DIR, initrd=initrd,
                                timeout=timeout, test_timeout=test_timeout,
                                accel="tcg")
        return vm.run_guest(config, console=None, **run_args)

    def describe(self, result: vm.RunResult) -> str:
        tail = "\n".join(result.console_lines[-15:])
        return f"problems: {result.problems}\nconsole tail:\n{tail}"

    def test_passing_test_and_qmp(self):
        result = self.run_tests("echo 'TAP version 13'; echo '1..1'; echo 'ok 1 trivial'\n",
                                qmp_after=({"execute": "query-status"},))
        self.assertTrue(result.ok, self.describe(result))
        self.assertEqual(result.tap, vm.TapCounts(1, 0, 0))
        self.assertEqual(result.accel.name, "tcg")
        self.assertEqual(result.qmp[0].reply["return"]["status"], "running")
        self.assertIsNotNone(result.returncode)

    def test_failing_test(self):
        result = self.run_tests("echo '1..2'; echo 'ok 1 a'; echo 'not ok 2 b'\n")
        self.assertFalse(result.ok)
        self.assertEqual(result.tap, vm.TapCounts(1, 1, 0))
        self.assertEqual([p.kind for p in result.problems], [vm.ProblemKind.TESTS_FAILED])
        self.assertIn("not ok 2 b", result.problems[0].message)

    def test_panic_is_reported_quickly(self):
        timeout = 90
        result = self.run_tests("echo c > /proc/sysrq-trigger\n", timeout=timeout)
        kinds = [p.kind for p in result.problems]
        self.assertIn(vm.ProblemKind.PANIC, kinds, self.describe(result))
        self.assertNotIn(vm.ProblemKind.TIMEOUT, kinds)
        self.assertIn("guest kernel panic: Kernel panic - not syncing",
                      str(result.problems[kinds.index(vm.ProblemKind.PANIC)]))
        self.assertLess(result.seconds, timeout / 2)

    def test_per_test_time_limit_stops_the_test_and_its_children(self):
        result = self.run_tests("sleep 100000 &\necho 'ok 1 started'\nsleep 100000\n",
                                test_timeout=2)
        self.assertEqual(result.tap, vm.TapCounts(1, 1, 0), self.describe(result))
        self.assertIn("killed at its time limit of 2s", result.problems[0].message)

    def test_hang_times_out_and_qemu_is_gone(self):
        start = time.monotonic()
        result = self.run_tests("echo hanging; sleep 100000\n", timeout=20)
        elapsed = time.monotonic() - start
        self.assertEqual([p.kind for p in result.problems], [vm.ProblemKind.TIMEOUT],
                         self.describe(result))
        self.assertIn("TIMEOUT after 20 s (last console line: hanging)",
                      result.problems[0].message)
        self.assertIsNotNone(result.returncode, "QEMU was not reaped")
        self.assertLess(elapsed, 20 + 15)


if __name__ == "__main__":
    unittest.main()
