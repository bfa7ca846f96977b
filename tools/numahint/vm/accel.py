"""Choose the accelerator: KVM where it really works, TCG otherwise."""

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .paths import TOOLS_VM_DIR, tools_build_dir

PROBE_SOURCE = TOOLS_VM_DIR / "kvm-probe.c"
#: The probe bounds itself with alarm(); this only guards against a probe
#: that cannot even get that far.
PROBE_TIMEOUT_S = 30
ACCELS = ("auto", "kvm", "tcg")


@dataclass(frozen=True)
class AccelChoice:
    """The accelerator to use ("kvm" or "tcg") and why."""

    name: str
    reason: str

    @property
    def qemu_args(self) -> list[str]:
        if self.name == "kvm":
            return ["-accel", "kvm", "-cpu", "host"]
        return ["-accel", "tcg"]


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of tools/vm/kvm-probe.c: ok, and its one-line verdict."""

    ok: bool
    message: str


def build_kvm_probe() -> Path:
    """Compile kvm-probe.c into the cache unless it is up to date."""
    binary = tools_build_dir() / "kvm-probe"
    if binary.exists() and binary.stat().st_mtime >= PROBE_SOURCE.stat().st_mtime:
        return binary
    compiler = shutil.which("cc")
    if compiler is None:
        raise OSError("no C compiler (cc) to build the KVM probe")
    binary.parent.mkdir(parents=True, exist_ok=True)
    partial = binary.with_name(f"kvm-probe.{os.getpid()}.tmp")
    build = subprocess.run(
        [compiler, "-O2", "-Wall", "-o", str(partial), str(PROBE_SOURCE)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if build.returncode != 0:
        partial.unlink(missing_ok=True)
        raise OSError(f"cannot compile {PROBE_SOURCE}:\n{build.stdout}")
    partial.replace(binary)
    return binary


def probe_kvm() -> ProbeResult:
    """Run the KVM probe; ok only if it ran a guest at hardware speed."""
    if not os.path.exists("/dev/kvm"):
        return ProbeResult(False, "/dev/kvm does not exist")
    try:
        binary = build_kvm_probe()
        probe = subprocess.run([str(binary)], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True,
                               timeout=PROBE_TIMEOUT_S)
    except OSError as error:
        return ProbeResult(False, str(error))
    except subprocess.TimeoutExpired:
        return ProbeResult(False, f"kvm-probe did not finish in {PROBE_TIMEOUT_S} s")
    message = probe.stdout.strip() or f"kvm-probe exited with status {probe.returncode}"
    return ProbeResult(probe.returncode == 0, message)


def choose_accel(requested: str) -> AccelChoice:
    """Resolve "auto", "kvm" or "tcg" to an accelerator, with the reason."""
    if requested not in ACCELS:
        raise ValueError(f"unknown accelerator {requested!r}; use one of {ACCELS}")
    if requested != "auto":
        return AccelChoice(requested, "requested")
    probe = probe_kvm()
    if probe.ok:
        return AccelChoice("kvm", probe.message)
    return AccelChoice("tcg", f"KVM unusable: {probe.message}")
