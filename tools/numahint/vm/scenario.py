"""A guest that runs one script with the numahint module and guest tests.

ScriptGuest builds an initramfs holding the driver (built for the kernel
with tools/build-module) and the programs of selftests/numahint, boots it
with -device virtio-numahint-pci,id=nh0 and runs the given shell script
as the guest's test session; the guest then holds, so that the host can
still read QEMU's state over QMP before the run ends.
"""

import dataclasses
import subprocess
import tempfile
import time
from pathlib import Path

from .guest import Guest, GuestConfig
from .initramfs import build_initramfs
from .paths import REPO_ROOT, kernel_dir_for
from .qmp import QMPError
from .hostmem import RAMBlock, query_ramblocks

GUEST_TESTS = REPO_ROOT / "selftests" / "numahint"


def build_module(kernel: str) -> Path:
    """The numahint module for a guest kernel (e.g. "6.1"), built if stale."""
    out = subprocess.run([str(REPO_ROOT / "tools" / "build-module"), kernel],
                         capture_output=True, text=True, check=False)
    if out.returncode:
        raise RuntimeError(f"module build failed:\n{out.stderr}")
    return Path(out.stdout.strip().splitlines()[-1])


class ScriptGuest:
    """Boots one guest running `script`, holding it afterwards for QMP.

    A context manager: entering starts QEMU, leaving stops it; the
    RunResult is then in .guest.result.

    plug_device=False leaves the device off the command line, for a test
    that gives it in extra_args (behind a pcie-root-port, say, which must
    come first) or adds it over QMP.  pvh=False boots the kernel through
    its own decompressor (see GuestConfig.pvh).  kernel_modules are more
    kernel modules for /init to load (virtio_blk, say), with their
    dependencies.  tests_dirs: what goes into the guest's /tests (see
    build_initramfs).  smp: the guest's vCPUs (GuestConfig.smp).
    """

    def __init__(self, script: str, kernel: str = "6.1", device: str = "",
                 memory: str = "1G", extra_args=(), append: str = "",
                 module: bool = True, timeout: float = 600, console=None,
                 plug_device: bool = True, pvh: bool = True,
                 kernel_modules=(), tests_dirs=(GUEST_TESTS,),
                 smp: int | str = 2):
        self._tmp = tempfile.TemporaryDirectory(prefix="numahint-script-")
        tmp = Path(self._tmp.name)
        init = tmp / "run.sh"
        init.write_text("#!/bin/sh\n" + script)
        init.chmod(0o755)
        info = build_initramfs(
            kernel_dir_for(kernel), tmp / "initrd.gz",
            module=build_module(kernel) if module else None,
            tests_dirs=tuple(tests_dirs), init_script=init,
            extra_kernel_modules=tuple(kernel_modules))
        self.config = GuestConfig(
            kernel_dir=kernel_dir_for(kernel), initrd=info.path,
            timeout=timeout, smp=smp, memory=memory, append=append,
            numahint_device=("id=nh0" + ("," + device if device else "")
                             if plug_device else None),
            require_module=module, hold=True, extra_args=tuple(extra_args),
            pvh=pvh)
        self._console = console
        self._events_seen = 0
        self.guest = Guest(self.config, console=console,
                           log=tmp / "console.log")

    def __enter__(self) -> "ScriptGuest":
        self.guest.start()
        return self

    def __exit__(self, *exc) -> None:
        self.guest.stop()
        self._tmp.cleanup()

    def qmp(self, name: str, **arguments) -> dict:
        """One QMP command, retried while QEMU is still starting."""
        deadline = time.monotonic() + 30
        while True:
            try:
                return self.guest.execute({"execute": name,
                                           "arguments": arguments})
            except QMPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def wait_event(self, name: str, timeout: float = 30.0,
                   **data) -> dict | None:
        """The next QMP event called `name` whose data hold `data`, waited
        for up to `timeout` seconds; None if none came.  Events are taken
        in order: those received before the last one returned here are
        not looked at again."""
        self.qmp("query-status")  # Connected once QEMU has started.
        index = self.guest.wait_for_event(name, timeout, self._events_seen,
                                          data)
        if index is None:
            return None
        self._events_seen = index + 1
        return self.guest.qmp_events[index]

    def restart(self, device: str) -> Guest:
        """Start a new QEMU, of the same configuration but for the
        numahint device's properties (`device`), once this one has
        exited: a guest that hibernated to a disk resumes from it.  The
        new one is .guest from now on; returns the old one."""
        old = self.guest
        old.stop()
        config = dataclasses.replace(
            self.config, numahint_device="id=nh0" + (
                "," + device if device else ""))
        self.guest = Guest(config, console=self._console,
                           log=Path(self._tmp.name) / "restarted.log")
        self._events_seen = 0
        self.guest.start()
        return old

    def restore(self, uri: str) -> Guest:
        """Stop this QEMU and start a new one, of the same configuration,
        that loads the VM saved to `uri` (a migration URI such as
        file:PATH, given to -incoming) and runs on from there.  The new
        one is .guest from now on; returns the stopped one."""
        saved = self.guest
        saved.stop()
        config = dataclasses.replace(
            self.config, extra_args=self.config.extra_args + ("-incoming",
                                                              uri))
        self.guest = Guest(config, console=self._console,
                           log=Path(self._tmp.name) / "restored.log")
        self._events_seen = 0
        self.guest.start()
        return saved

    def ram_block(self) -> RAMBlock:
        """Guest RAM: the biggest RAM block (the others are ROMs, tables)."""
        blocks = query_ramblocks(lambda c: self.qmp(c["execute"],
                                                    **c["arguments"]))
        return max(blocks, key=lambda b: b.used)

    def stats(self) -> dict:
        """The device's counters (qom-get nh0 stats)."""
        return self.qmp("qom-get", path="nh0", property="stats")["return"]

    def settled_stats(self, quiet: float = 5.0, timeout: float = 60.0) -> dict:
        """The device's counters once no report has arrived for `quiet`
        seconds (the guest may stop watching before its last report; page
        reporting waits 2 s after memory is freed before it reports)."""
        deadline = time.monotonic() + timeout
        stats = self.stats()
        since = time.monotonic()
        while time.monotonic() - since < quiet and \
                time.monotonic() < deadline:
            time.sleep(0.25)
            now = self.stats()
            if now["report-requests"] != stats["report-requests"]:
                since = time.monotonic()
            stats = now
        return stats

    @property
    def console(self) -> str:
        """The whole console, once the guest has been stopped."""
        return self.guest.result.console
