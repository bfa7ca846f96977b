#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The device through libvirt, as operators start VMs: `make libvirt-test`.

Two session libvirt daemons (libvirtd, qemu:///session) run by hand as an
unprivileged user, each with its own XDG directories, qemu.conf and host
UUID; no systemd is needed.  The domain is tools/libvirt/numahint-domain.xml,
the XML docs/install.md shows: a TCG domain (type='qemu') whose <emulator>
is the patched QEMU, booting the Debian 6.1 guest kernel with an initramfs
that holds the driver (tools/vm's builder) and runs
selftests/host/libvirt/guest.sh, the device added by <qemu:commandline>.

Checked, one TAP line each:
  - docs/install.md shows exactly the domain XML this test uses;
  - virsh define and virsh start;
  - the driver binds to the device (the console log) and the guest's free
    page reports reach QEMU;
  - virsh qemu-monitor-command reads the device's stats: every counter of
    the device's list, reports counted;
  - virsh save of the paused domain, virsh restore: every device counter
    equal, the engine's none lower, the queue counted as flushed; resumed,
    the guest goes on reporting;
  - virsh migrate --live to the second daemon: the same, on the destination.

Prints TAP; exits 0 when every test passed, 1 otherwise.  Needs root (for
runuser) and the user tools/libvirt-test creates; the work directory is
removed on success and kept, with both daemons' logs, on failure.
"""

import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from numahint.vm.initramfs import build_initramfs
from numahint.vm.paths import default_qemu, kernel_dir_for
from numahint.vm.scenario import build_module

from numahint_stats import DEVICE, NAMES, PAGE_OUTCOMES

REPO = Path(__file__).resolve().parents[2]

TEMPLATE = REPO / "tools" / "libvirt" / "numahint-domain.xml"
INSTALL_MD = REPO / "docs" / "install.md"
GUEST_SCRIPT = Path(__file__).resolve().parent / "libvirt" / "guest.sh"
USER = os.environ.get("NUMAHINT_LIBVIRT_USER", "numahint-virt")
QEMU = os.environ.get("NUMAHINT_QEMU", str(default_qemu()))
KERNEL = "6.1"
DOMAIN = "numahint-libvirt-test"
BOOT_TIMEOUT = 120
STATS = {"execute": "qom-get", "arguments": {"path": "nh0",
                                             "property": "stats"}}
#: The device's own counters; the placement engine's go on in its thread
#: while the VM is paused and its queue does not migrate.
DEVICE_NAMES = tuple(name for _, name, _ in DEVICE)
ENGINE_NAMES = tuple(n for n in NAMES if n not in DEVICE_NAMES)
BOUND = re.compile(r"numahint-libvirt: bound (virtio\d+) to virtio_numahint")
TICK = re.compile(r"numahint-libvirt: tick (\d+) report_requests=(\d+)")
KERNEL_ERRORS = re.compile(r"Call Trace:|BUG:|WARNING:|Kernel panic|"
                           r"numahint-libvirt: FAIL|hung_task")


class Failed(Exception):
    """A check failed: the message says what, the rest of it is skipped."""


class Tap:
    def __init__(self):
        self.count = 0
        self.failed = 0

    def ok(self, name):
        self.count += 1
        print(f"ok {self.count} - {name}", flush=True)

    def not_ok(self, name, why):
        self.count += 1
        self.failed += 1
        print(f"not ok {self.count} - {name}", flush=True)
        diag(why)

    def skip(self, name, why):
        self.count += 1
        print(f"ok {self.count} - {name} # SKIP {why}", flush=True)


def diag(text):
    for line in str(text).splitlines():
        print(f"# {line}", flush=True)


class Daemon:
    """A session libvirtd of USER, all its state under `root`."""

    def __init__(self, name, root, user, uuid):
        self.name = name
        self.root = root
        self.user = user
        self.env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(root),
            "XDG_CONFIG_HOME": str(root / "config"),
            "XDG_RUNTIME_DIR": str(root / "run"),
            "XDG_CACHE_HOME": str(root / "cache"),
            "XDG_DATA_HOME": str(root / "data"),
        }
        self.socket = root / "run" / "libvirt" / "libvirt-sock"
        self.uri = f"qemu:///session?socket={self.socket}"
        self.pidfile = root / "libvirtd.pid"
        self.log = root / "libvirtd.log"
        conf = root / "config" / "libvirt"
        conf.mkdir(parents=True)
        for sub in ("run", "cache", "data"):
            (root / sub).mkdir(mode=0o700)
        # stdio_handler "file": QEMU's stderr goes to the domain log
        # directly, no virtlogd.  No security driver: a session daemon
        # cannot relabel, and the QEMU runs as USER anyway.
        (conf / "qemu.conf").write_text('stdio_handler = "file"\n'
                                        'security_driver = "none"\n')
        # Two daemons on one host: libvirt refuses to migrate between
        # daemons with the same host UUID.
        (conf / "libvirtd.conf").write_text(
            f'host_uuid = "{uuid}"\n'
            f'log_outputs = "3:file:{self.log}"\n')
        chown_tree(root, user)

    def start(self):
        self.run_as(["libvirtd", "--daemon", "--pid-file", str(self.pidfile)],
                    timeout=30)
        deadline = time.monotonic() + 30
        while not self.socket.exists():
            if time.monotonic() > deadline:
                raise Failed(f"libvirtd {self.name}: no socket {self.socket} "
                             f"in 30 s")
            time.sleep(0.2)

    def stop(self):
        try:
            pid = int(self.pidfile.read_text())
        except (OSError, ValueError):
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)

    def run_as(self, argv, timeout=120, check=True):
        cmd = ["runuser", "-u", self.user, "--", "env", "-i",
               *(f"{k}={v}" for k, v in self.env.items()), *argv]
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=timeout, check=False)
        if check and proc.returncode:
            raise Failed(f"{' '.join(argv)}: exit {proc.returncode}\n"
                         f"{proc.stdout}{proc.stderr}")
        return proc

    def virsh(self, *args, timeout=120, check=True):
        shown = " ".join(a if " " not in a else f"'{a}'" for a in args)
        diag(f"{self.name}$ virsh {shown}")
        return self.run_as(["virsh", "-c", self.uri, *args],
                           timeout=timeout, check=check).stdout

    def stats(self):
        out = self.virsh("qemu-monitor-command", DOMAIN, json.dumps(STATS))
        reply = json.loads(out)
        if "return" not in reply:
            raise Failed(f"qom-get stats: {reply}")
        return reply["return"]

    def state(self):
        return self.virsh("domstate", DOMAIN, check=False).strip()


def chown_tree(root, user):
    entry = pwd.getpwnam(user)
    os.chown(root, entry.pw_uid, entry.pw_gid)
    for dirpath, dirnames, filenames in os.walk(root):
        os.chown(dirpath, entry.pw_uid, entry.pw_gid)
        for name in filenames:
            os.chown(Path(dirpath) / name, entry.pw_uid, entry.pw_gid)


def docs_xml():
    """The domain XML in docs/install.md's libvirt section."""
    text = INSTALL_MD.read_text()
    blocks = re.findall(r"```xml\n(.*?)```", text, re.S)
    found = [b for b in blocks if "@EMULATOR@" in b]
    return found[0] if len(found) == 1 else None


class Console:
    """The serial console file: QEMU appends, across restore and migration."""

    def __init__(self, path):
        self.path = path

    def text(self):
        try:
            return self.path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait(self, pattern, timeout, after=0):
        """The first match of `pattern` at or past offset `after`."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.text()
            match = re.compile(pattern).search(text, after)
            if match:
                return match
            if time.monotonic() > deadline:
                return None
            time.sleep(0.5)

    def last_tick(self):
        ticks = TICK.findall(self.text())
        return (int(ticks[-1][0]), int(ticks[-1][1])) if ticks else None


def compare(name, before, after):
    """Problems in `after`, the counters after a save/restore or migration
    of a paused domain whose counters were `before`."""
    problems = []
    if set(after) != set(NAMES):
        problems.append(f"{name}: keys differ from the device's list: "
                        f"{sorted(set(after) ^ set(NAMES))}")
    for key in DEVICE_NAMES:
        if after.get(key) != before.get(key):
            problems.append(f"{name}: {key} {before.get(key)} -> "
                            f"{after.get(key)}")
    for key in ENGINE_NAMES:
        if key != "touch-pages-pending" and \
                after.get(key, -1) < before.get(key, 0):
            problems.append(f"{name}: {key} went down: {before.get(key)} -> "
                            f"{after.get(key)}")
    if after.get("touch-pages-pending") != 0:
        problems.append(f"{name}: touch-pages-pending "
                        f"{after.get('touch-pages-pending')}, not 0: the "
                        "queue does not travel")
    outcomes = sum(after.get(k, 0) for k in PAGE_OUTCOMES)
    if outcomes != after.get("touch-pages-accepted"):
        problems.append(f"{name}: touch-pages-accepted "
                        f"{after.get('touch-pages-accepted')} != the sum of "
                        f"its outcomes {outcomes}")
    return problems


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LibvirtTest:
    def __init__(self, work):
        self.work = work
        self.tap = Tap()
        self.src = Daemon("src", work / "src", USER,
                          "6e756d61-6869-6e74-0000-000000000001")
        self.dst = Daemon("dst", work / "dst", USER,
                          "6e756d61-6869-6e74-0000-000000000002")
        self.console = Console(work / "console.log")

    def step(self, name, func):
        """Run one check; a failure makes the later ones skip."""
        if self.tap.failed:
            self.tap.skip(name, "an earlier test failed")
            return
        start = time.monotonic()
        try:
            func()
        except (Failed, subprocess.TimeoutExpired, OSError,
                json.JSONDecodeError) as err:
            self.tap.not_ok(name, err)
            return
        diag(f"{name}: {time.monotonic() - start:.1f} s")
        self.tap.ok(name)

    # The checks, in order.

    def docs_match(self):
        template = TEMPLATE.read_text()
        shown = docs_xml()
        if shown is None:
            raise Failed(f"{INSTALL_MD} has no (or more than one) xml block "
                         "with @EMULATOR@")
        if shown != template:
            raise Failed(f"{INSTALL_MD}'s domain XML differs from "
                         f"{TEMPLATE}")

    def prepare(self):
        module = build_module(KERNEL)
        kdir = kernel_dir_for(KERNEL)
        vmlinuz = sorted((kdir / "boot").glob("vmlinuz-*"))
        if not vmlinuz:
            raise Failed(f"no vmlinuz in {kdir}/boot: run tools/setup kernels")
        # The domain's files, where the unprivileged user can read them
        # whatever the cache's permissions, and QEMU copied: a rebuild of
        # the cache's QEMU in the middle cannot change the destination's.
        files = self.work / "files"
        files.mkdir()
        shutil.copy2(vmlinuz[-1], files / "vmlinuz")
        shutil.copy2(QEMU, files / "qemu-system-x86_64")
        build_initramfs(kdir, files / "initrd.gz", module=module,
                        init_script=GUEST_SCRIPT)
        xml = TEMPLATE.read_text()
        for key, value in (("NAME", DOMAIN),
                           ("KERNEL", files / "vmlinuz"),
                           ("INITRD", files / "initrd.gz"),
                           ("EMULATOR", files / "qemu-system-x86_64"),
                           ("CONSOLE", self.console.path)):
            xml = xml.replace(f"@{key}@", str(value))
        self.xml = files / "domain.xml"
        self.xml.write_text(xml)
        self.console.path.touch()
        chown_tree(files, USER)
        chown_tree(self.console.path, USER)
        self.src.start()
        self.dst.start()

    def define_and_start(self):
        self.src.virsh("define", str(self.xml))
        self.src.virsh("start", DOMAIN)
        state = self.src.state()
        if state != "running":
            raise Failed(f"domstate after start: {state}")

    def driver_binds(self):
        match = self.console.wait(BOUND.pattern + "|numahint-libvirt: FAIL"
                                  "|Kernel panic", BOOT_TIMEOUT)
        if match is None or not match.group(0).startswith(
                "numahint-libvirt: bound"):
            raise Failed("the driver did not bind:\n" + self.console.text())
        if self.console.wait(r"tick \d+ report_requests=[1-9]", 60) is None:
            raise Failed("the guest sent no free page report in 60 s:\n"
                         + self.console.text())
        for line in self.console.text().splitlines():
            if line.startswith(("numahint-libvirt: bound",
                                "numahint-libvirt: virtio")):
                diag(line)

    def monitor_stats(self):
        stats = self.src.stats()
        missing = set(NAMES) - set(stats)
        if missing:
            raise Failed(f"stats lacks {sorted(missing)}: {stats}")
        if stats["report-requests"] <= 0 or \
                stats["report-bytes-discarded"] <= 0:
            raise Failed(f"no report counted: {stats}")
        if stats["protocol-errors"]:
            raise Failed(f"protocol errors: {stats}")
        diag(f"report-requests {stats['report-requests']}, "
             f"report-bytes-discarded {stats['report-bytes-discarded']}, "
             f"touch-events {stats['touch-events']}")

    def goes_on(self, daemon, before, name):
        """After resume: the guest ticks and its reports reach QEMU."""
        offset = len(self.console.text())
        daemon.virsh("resume", DOMAIN)
        if self.console.wait(TICK.pattern, 30, after=offset) is None:
            raise Failed(f"{name}: the guest did not run on after resume:\n"
                         + self.console.text()[offset:])
        deadline = time.monotonic() + 30
        while daemon.stats()["report-requests"] <= before["report-requests"]:
            if time.monotonic() > deadline:
                raise Failed(f"{name}: no new report reached QEMU in 30 s")
            time.sleep(2)

    def save_restore(self):
        self.src.virsh("suspend", DOMAIN)
        before = self.src.stats()
        image = self.work / "src" / "saved.img"
        self.src.virsh("save", DOMAIN, str(image), timeout=300)
        state = self.src.state()
        if state != "shut off":
            raise Failed(f"domstate after save: {state}")
        diag(f"saved image: {image.stat().st_size >> 20} MiB")
        self.src.virsh("restore", str(image), timeout=300)
        state = self.src.state()
        if state != "paused":
            raise Failed(f"domstate after restore: {state} (saved paused)")
        after = self.src.stats()
        problems = compare("restore", before, after)
        if problems:
            raise Failed("\n".join(problems))
        diag(f"restored: report-requests {after['report-requests']}, "
             f"touch-pages-flushed {before['touch-pages-flushed']} -> "
             f"{after['touch-pages-flushed']}")
        self.goes_on(self.src, after, "restore")

    def migrate(self):
        self.src.virsh("suspend", DOMAIN)
        before = self.src.stats()
        self.src.virsh("migrate", "--live", DOMAIN, self.dst.uri,
                       f"tcp://127.0.0.1:{free_port()}", timeout=300)
        state = self.src.state()
        if state != "shut off":
            raise Failed(f"source domstate after migrate: {state}")
        state = self.dst.state()
        if state != "paused":
            raise Failed(f"destination domstate after migrate: {state} "
                         "(migrated paused)")
        after = self.dst.stats()
        problems = compare("migrate", before, after)
        if problems:
            raise Failed("\n".join(problems))
        diag(f"migrated: report-requests {after['report-requests']}")
        self.goes_on(self.dst, after, "migrate")

    def guest_clean(self):
        bad = [line for line in self.console.text().splitlines()
               if KERNEL_ERRORS.search(line)]
        if bad:
            raise Failed("the guest log has errors:\n" + "\n".join(bad))

    def run(self):
        self.step("docs/install.md shows the domain XML the test uses",
                  self.docs_match)
        self.step("two session libvirtd daemons run (no systemd)",
                  self.prepare)
        self.step("virsh define and virsh start boot the domain",
                  self.define_and_start)
        self.step("the driver binds and free page reports reach QEMU",
                  self.driver_binds)
        self.step("virsh qemu-monitor-command reads the device's stats",
                  self.monitor_stats)
        self.step("virsh save and restore keep the counters; the guest "
                  "goes on", self.save_restore)
        self.step("virsh migrate to a second local libvirtd keeps the "
                  "counters; the guest goes on", self.migrate)
        self.step("no error in the guest's console log", self.guest_clean)

    def cleanup(self):
        for daemon in (self.dst, self.src):
            if daemon.socket.exists():
                daemon.virsh("destroy", DOMAIN, check=False)
        if self.src.socket.exists():
            self.src.virsh("undefine", DOMAIN, check=False)
        for daemon in (self.dst, self.src):
            daemon.stop()


def main():
    print("TAP version 13")
    print("1..8", flush=True)
    if os.geteuid() != 0:
        for n in range(1, 9):
            print(f"ok {n} # SKIP needs root (runuser to {USER})")
        return 0
    try:
        pwd.getpwnam(USER)
    except KeyError:
        print(f"Bail out! no user {USER}: run tools/libvirt-test setup")
        return 1
    work = Path(tempfile.mkdtemp(prefix="nh-libvirt-"))
    os.chmod(work, 0o755)
    test = LibvirtTest(work)
    start = time.monotonic()
    try:
        test.run()
    finally:
        test.cleanup()
        if test.tap.failed:
            diag(f"kept {work}: console.log, src/ and dst/ (libvirtd.log, "
                 "cache/libvirt/qemu/log/)")
        else:
            shutil.rmtree(work, ignore_errors=True)
    diag(f"{test.tap.count} tests, {test.tap.failed} failed, "
         f"{time.monotonic() - start:.0f} s")
    return 1 if test.tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
