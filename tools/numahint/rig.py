# SPDX-License-Identifier: GPL-2.0-or-later
"""The two-node rig's reusable parts: configurations, job names, the
progress display and image building.

tools/numahint-rig (the rig: its variants, targets and tables) and
experiments/rerun (numahint.experiments.rerun) build their outer and
inner images and show their runs with these.  A "variant" here is
anything with a name and the methods build_images() calls:
append(args) (the inner kernel parameters) and, optionally,
inner_qemu_args(args) (extra inner QEMU options).
"""

import io
import logging
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import vm
from .vm.guest import BASE_KERNEL_ARGS, RunResult
from .vm.kmod import KernelTree
from .vm.paths import REPO_ROOT
from .vm.pvh import pvh_kernel
from .vm.qemu import qemu_command
from .vm.scenario import build_module

RIG = REPO_ROOT / "tools" / "rig"
SELFTESTS = REPO_ROOT / "selftests" / "numahint"
LOG = logging.getLogger(__name__)

#: Where the outer initramfs puts everything (the guest runner's /tests).
OUTER_DIR = "/tests"
#: Firmware the inner QEMU opens for a q35 -kernel boot (PVH or bzImage),
#: found with strace: the BIOS, the vapic ROM, the PVH and linuxboot ROMs.
FIRMWARE = ("bios-256k.bin", "kvmvapic.bin", "pvh.bin", "linuxboot_dma.bin",
            "linuxboot.bin")
FIRMWARE_DIRS = ("/usr/share/seabios", "/usr/share/qemu")
#: The inner kernel boots ~50 times slower than under plain TCG: skip the
#: crypto self-tests, and print only warnings and worse (every console
#: byte costs the inner QEMU a write).
INNER_KERNEL_ARGS = "cryptomgr.notests loglevel=5"

#: The rig's static helpers that run in the outer VM (next to the inner
#: QEMU), from tools/rig's Makefile.
OUTER_PROGRAMS = ("rig-placement", "rig-hmp", "rig-collapse")


@dataclass(frozen=True)
class RigConfig:
    """One configuration of the inner guest.

    module: the inner guest loads the numahint driver.
    numahint, balloon: -device options of virtio-numahint-pci and
        virtio-balloon-pci ("" for defaults), None for no such device.
    default: run when no -c names configurations.
    autonuma: the host balances NUMA memory itself (numa_balancing=enable;
        experiments/rerun's autonuma configuration).
    """

    name: str
    title: str
    module: bool
    numahint: str | None = None
    balloon: str | None = None
    default: bool = True
    autonuma: bool = False


#: The configurations, in table order; a new one is one line.  The device
#: takes each vCPU's host node from its thread's CPU affinity, which
#: rig-outer.sh sets (add vcpu-nodes=0:1 to say it explicitly).
CONFIGS = (
    RigConfig("a", "device present, driver not loaded", False,
              numahint="id=nh0"),
    RigConfig("b", "virtio-balloon free page reporting", False,
              balloon="free-page-reporting=on"),
    RigConfig("c", "numahint: free page reports and first touch", True,
              numahint="id=nh0,first-touch=on"),
    RigConfig("d", "numahint: first touch, free reports off", True,
              numahint="id=nh0,free-page-reporting=off,first-touch=on"),
    RigConfig("c-free", "numahint: free page reports only", True,
              numahint="id=nh0,first-touch=off", default=False),
    # The engine before it checked split pages: khugepaged's collapses
    # stay (the collapse variant's "before").
    RigConfig("d-nocheck", "numahint: first touch, free reports off, "
              "split pages not checked", True,
              numahint="id=nh0,free-page-reporting=off,first-touch=on,"
              "touch-split-pages=0", default=False),
)


#: Console lines shown as progress (with -v: every line).
_INTERESTING = re.compile(
    r"RIG-(?!GPA )|numahint-init: (?:started|ERROR|loaded)|numahint: |"
    r"Kernel panic|NUMAHINT-GUEST|\bOops\b|\bBUG:|WARNING:|"
    r"virtio\d+: device=|stress cpu \d: (?:ok|not ok|# mismatches)")


class Progress(io.TextIOBase):
    """The runner's console echo: interesting lines with a timestamp."""

    #: With nothing shown for this long, say that the VMs still run.
    HEARTBEAT_S = 30.0

    def __init__(self, label: str, verbose: bool):
        self.label, self.verbose = label, verbose
        self.started = self.shown = time.monotonic()
        self.last_line = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._heartbeat, daemon=True)
        self._thread.start()

    def _show(self, line: str) -> None:
        self.shown = time.monotonic()
        print(f"[{self.shown - self.started:6.1f}s {self.label}] {line}",
              flush=True)

    def write(self, text: str) -> int:
        for line in text.splitlines():
            self.last_line = line
            if self.verbose or _INTERESTING.search(line):
                self._show(line)
        return len(text)

    def _heartbeat(self) -> None:
        while not self._stop.wait(5):
            if time.monotonic() - self.shown >= self.HEARTBEAT_S:
                self._show(f"... running; last console line: "
                           f"{self.last_line[:100]}")

    def close(self) -> None:
        self._stop.set()
        super().close()


def boot(outer: "vm.GuestConfig", label: str, verbose: bool, log: Path,
         take: Callable[[RunResult], None] | None = None) -> RunResult | None:
    """Boot the outer VM until its init reports, showing its progress
    (Progress) and writing its console to log; its result (None if it
    never came).  take, if given, gets the result even when the wait
    ends in an exception (a timeout, SIGINT): what came so far."""
    progress = Progress(label, verbose)
    guest = vm.Guest(outer, console=progress, log=log)
    try:
        with guest:
            guest.wait_for_report()
    finally:
        progress.close()
        if take is not None and guest.result is not None:
            take(guest.result)
    return guest.result


def run(command: list[str], **kwargs) -> str:
    out = subprocess.run(command, text=True, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, check=False, **kwargs)
    if out.returncode:
        raise SystemExit(f"numahint-rig: {' '.join(command)} failed:\n"
                         f"{out.stdout}")
    return out.stdout


def inner_argv(config: RigConfig, args, inner_kernel_args: str,
               outer_dir: str = OUTER_DIR,
               accel_args: tuple[str, ...] = ("-accel", "tcg"),
               extra_args: tuple[str, ...] = ()) -> list[str]:
    """The inner QEMU's command line, with paths where the host side finds
    the staged files (outer_dir: in the outer VM, or a real host's)."""
    initrd = "inner-initrd-mod.gz" if config.module else "inner-initrd.gz"
    return qemu_command(
        qemu=f"{outer_dir}/qemu-system-x86_64", accel_args=list(accel_args),
        kernel=Path(f"{outer_dir}/inner-vmlinux"),
        initrd=Path(f"{outer_dir}/{initrd}"), append=inner_kernel_args,
        smp=getattr(args, "inner_smp", 2), memory=args.inner_memory,
        numa_nodes=0, machine="q35",
        qmp_socket="/tmp/inner-qmp.sock", numahint_device=config.numahint,
        balloon_device=config.balloon,
        extra_args=["-L", outer_dir, *extra_args])


def job_name(config, variant) -> str:
    """A run's name in file names and the outer kernel's rig.config=."""
    return f"{config.name}-{variant.name}"


def build_images(args, jobs: list[tuple], work: Path,
                 inner_script: Path = RIG / "rig-inner.sh",
                 inner_files: tuple[Path, ...] = (),
                 host_accel: tuple[str, ...] | None = None,
                 outer_programs: tuple[str, ...] = OUTER_PROGRAMS) -> Path:
    """Build the inner initramfs images and the outer one for jobs, a
    list of (configuration, variant); return the outer initramfs.  The
    inner guest runs inner_script, with rig-touch and inner_files in
    /tests; the outer VM gets outer_programs from tools/rig.

    host_accel: the host side is a real host, not the outer VM: the inner
    QEMU runs with these accelerator options, and what the outer VM would
    find in /tests stays in a directory, returned instead of an outer
    initramfs (rig-outer.sh runs there with RIG_DIR pointing at it)."""
    t0 = time.monotonic()
    run(["make", "-s", "-C", str(RIG)])
    kernel_dir = vm.kernel_dir_for(args.kernel)
    stage = work / "outer-stage"
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)

    inner_stage = work / "inner-stage"
    inner_stage.mkdir(exist_ok=True)
    for path in (RIG / "rig-touch", *inner_files):
        shutil.copy2(path, inner_stage / path.name)
    if any(v.name == "stress" for _, v in jobs):
        run(["make", "-s", "-C", str(SELFTESTS), "numahint_stress"])
        shutil.copy2(SELFTESTS / "numahint_stress",
                     inner_stage / "numahint_stress")
    module = build_module(args.kernel) if any(c.module for c, _ in jobs) \
        else None
    for name, with_module in (("inner-initrd.gz", False),
                              ("inner-initrd-mod.gz", True)):
        if with_module and module is None:
            continue
        info = vm.build_initramfs(
            kernel_dir, stage / name, module=module if with_module else None,
            tests_dirs=(inner_stage,), init_script=inner_script)
        LOG.info("inner initramfs %s: %d bytes", name, info.size)
    shutil.copy2(pvh_kernel(KernelTree(kernel_dir)), stage / "inner-vmlinux")
    (stage / "inner-vmlinux").chmod(0o644)

    run(["strip", "-o", str(stage / "qemu-system-x86_64"), str(args.qemu)])
    for program in outer_programs:
        shutil.copy2(RIG / program, stage / program)
    for firmware in FIRMWARE:
        source = next((Path(d) / firmware for d in FIRMWARE_DIRS
                       if (Path(d) / firmware).is_file()), None)
        if source is None:
            raise SystemExit(f"numahint-rig: no {firmware} in "
                             f"{' or '.join(FIRMWARE_DIRS)}")
        shutil.copy(source, stage / firmware)
        (stage / firmware).chmod(0o644)

    for config, variant in jobs:
        inner_args = (f"{BASE_KERNEL_ARGS} "
                      f"numahint.test_timeout={args.timeout:.0f} "
                      f"{variant.append(args)} rig.hold={args.hold:g} "
                      f"{INNER_KERNEL_ARGS} {args.inner_append}").strip()
        extra = tuple(variant.inner_qemu_args(args)) \
            if hasattr(variant, "inner_qemu_args") else ()
        if host_accel is None:
            argv = inner_argv(config, args, inner_args, extra_args=extra)
        else:
            argv = inner_argv(config, args, inner_args, str(stage),
                              host_accel, extra)
        path = stage / f"rig-config-{job_name(config, variant)}.args"
        path.write_text("".join(f"{a}\n" for a in argv))
        path.chmod(0o644)

    if host_accel is not None:
        shutil.copy2(RIG / "rig-outer.sh", stage / "rig-outer.sh")
        print(f"numahint-rig: files staged in {time.monotonic() - t0:.1f} s "
              f"({stage})", flush=True)
        return stage
    outer = work / "outer-initrd.gz"
    info = vm.build_initramfs(kernel_dir, outer, tests_dirs=(stage,),
                              init_script=RIG / "rig-outer.sh")
    LOG.info("outer initramfs: %d bytes", info.size)
    print(f"numahint-rig: images built in {time.monotonic() - t0:.1f} s "
          f"(outer initramfs {info.size / 2**20:.1f} MiB)", flush=True)
    return outer
